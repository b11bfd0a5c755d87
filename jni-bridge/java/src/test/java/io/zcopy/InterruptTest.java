package io.zcopy;

import static io.zcopy.TestSupport.file;
import static io.zcopy.TestSupport.open;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.Channel;
import java.nio.channels.Channels;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.FileChannel;
import java.nio.channels.Pipe;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Interrupts and asynchronous closes during transfers, in many randomized rounds, on every path:
 * the Java loop (channels the JDK did not open on a descriptor) and the native one (pipes). The
 * rules are JDK 22+ {@code FileChannel}'s: an interrupt closes both channels and gives
 * {@link ClosedByInterruptException} with the interrupt status kept; a close by another thread
 * gives {@link AsynchronousCloseException}; a returned count never exceeds what reached the target.
 * Every round's seed is in the failure message.
 */
class InterruptTest {
    private static final int SIZE = 1 << 20;
    private static final int ROUNDS = Integer.getInteger("zcopy.interruptRounds", 60);

    @TempDir
    Path dir;

    /** What disturbs a round: an interrupt of the transferring thread, or a close of one side. */
    private enum Disturbance {
        INTERRUPT, CLOSE_SOURCE, CLOSE_TARGET
    }

    /**
     * One transfer under test, on its thread: between the file channel and the other side, which
     * is either readable (transferFrom's source) or writable (transferTo's target), never both.
     */
    private interface Transfer {
        long run(FileChannel file, Channel other) throws IOException;
    }

    /** A sink that counts what reaches it and takes a little time per write. */
    private static final class SlowSink extends OutputStream {
        final AtomicLong received = new AtomicLong();

        @Override
        public void write(int b) {
            received.incrementAndGet();
        }

        @Override
        public void write(byte[] b, int off, int len) {
            received.addAndGet(len);
            long until = System.nanoTime() + 20_000; // 20 µs per 8 KiB: a 1 MiB transfer takes ~3 ms
            while (System.nanoTime() < until) {
                Thread.onSpinWait();
            }
        }
    }

    /** A source stream that gives endless bytes, slowly. */
    private static final class SlowSource extends java.io.InputStream {
        @Override
        public int read() {
            return 7;
        }

        @Override
        public int read(byte[] b, int off, int len) {
            long until = System.nanoTime() + 20_000;
            while (System.nanoTime() < until) {
                Thread.onSpinWait();
            }
            java.util.Arrays.fill(b, off, off + len, (byte) 7);
            return len;
        }
    }

    /**
     * Runs one round: starts {@code transfer} on a new thread, disturbs it after {@code delayNanos},
     * and checks the outcome against the rules. Returns the outcome's name for the statistics.
     */
    private static String round(String tag, FileChannel file, Channel other, Transfer transfer, Disturbance d,
            long delayNanos, AtomicLong received) throws Exception {
        AtomicReference<Object> outcome = new AtomicReference<>();
        AtomicReference<Boolean> interruptedAfter = new AtomicReference<>();
        CountDownLatch started = new CountDownLatch(1);
        Thread t = new Thread(() -> {
            started.countDown();
            try {
                outcome.set(transfer.run(file, other));
            } catch (Throwable e) {
                outcome.set(e);
            }
            interruptedAfter.set(Thread.currentThread().isInterrupted());
        });
        t.start();
        started.await();
        long until = System.nanoTime() + delayNanos;
        while (System.nanoTime() < until) {
            Thread.onSpinWait();
        }
        switch (d) {
            case INTERRUPT:
                t.interrupt();
                break;
            case CLOSE_SOURCE:
                (other instanceof ReadableByteChannel ? other : file).close();
                break;
            default:
                (other instanceof WritableByteChannel ? other : file).close();
                break;
        }
        t.join(TimeUnit.SECONDS.toMillis(30));
        assertFalse(t.isAlive(), tag + ": the transfer ended");
        Object o = outcome.get();
        if (o instanceof ClosedByInterruptException) {
            assertEquals(Disturbance.INTERRUPT, d, tag + ": ClosedByInterruptException without an interrupt");
            assertTrue(interruptedAfter.get(), tag + ": the interrupt status is kept");
            assertFalse(file.isOpen(), tag + ": the interrupt closed the file channel");
            assertFalse(other.isOpen(), tag + ": the interrupt closed the other channel too");
            return "ClosedByInterruptException";
        }
        if (o instanceof AsynchronousCloseException) {
            assertTrue(d != Disturbance.INTERRUPT, tag + ": AsynchronousCloseException after an interrupt: " + o);
            return "AsynchronousCloseException";
        }
        if (o instanceof java.nio.channels.ClosedChannelException) {
            // Closed before the call's own checks ran: the JDK's answer for a closed channel.
            assertTrue(d != Disturbance.INTERRUPT, tag + ": ClosedChannelException after an interrupt: " + o);
            return "ClosedChannelException";
        }
        if (o instanceof Long) {
            long n = (Long) o;
            assertTrue(n >= 0 && n <= SIZE, tag + ": count " + n);
            if (received != null) {
                // Every counted byte reached the target. One write more may have too: a channel
                // from Channels.newChannel writes, then throws from end() when it was interrupted
                // or closed meanwhile, and the loop returns the count before that write (the
                // JDK's own transferTo does exactly the same: the control test shows it).
                long got = received.get();
                assertTrue(got >= n && got <= n + 8192, tag + ": returned " + n + ", the target got " + got);
            }
            return n == SIZE ? "completed" : "partial count";
        }
        fail(tag + ": unexpected outcome " + o, o instanceof Throwable ? (Throwable) o : null);
        return "";
    }

    private void rounds(String name, Scenario scenario) throws Exception {
        long seed = Long.getLong("zcopy.interruptSeed", System.nanoTime());
        Random random = new Random(seed);
        Path p = file(dir, name.replace('/', '-').replace(' ', '-'), SIZE);
        java.util.Map<String, Integer> seen = new java.util.TreeMap<>();
        for (int i = 0; i < ROUNDS; i++) {
            Disturbance d = Disturbance.values()[random.nextInt(Disturbance.values().length)];
            long delay = (long) (random.nextDouble() * scenario.window());
            String tag = name + " round " + i + " (seed " + seed + ", " + d + " after " + delay / 1000 + " µs)";
            String o = scenario.round(tag, p, d, delay);
            seen.merge(d + " -> " + o, 1, Integer::sum);
        }
        System.out.println(name + ": " + seen);
        assertTrue(seen.keySet().stream().anyMatch(k -> k.startsWith("INTERRUPT -> ClosedByInterrupt")),
                "some interrupt hit a running transfer: " + seen);
    }

    private interface Scenario {
        long window();

        String round(String tag, Path p, Disturbance d, long delayNanos) throws Exception;
    }

    /** transferTo into a channel the JDK did not open on a descriptor: the Java loop. */
    @Test
    void transferToAnArbitraryChannel() throws Exception {
        rounds("transferTo/loop", new Scenario() {
            @Override
            public long window() {
                return 4_000_000;
            }

            @Override
            public String round(String tag, Path p, Disturbance d, long delay) throws Exception {
                SlowSink sink = new SlowSink();
                WritableByteChannel target = Channels.newChannel(sink);
                FileChannel src = open(p, "r");
                try {
                    return InterruptTest.round(tag, src, target, (f, o) -> ZeroCopy.transferTo(f, 0, SIZE,
                            (WritableByteChannel) o), d, delay, sink.received);
                } finally {
                    src.close();
                    target.close();
                }
            }
        });
    }

    /** transferFrom a channel the JDK did not open on a descriptor: the Java loop. */
    @Test
    void transferFromAnArbitraryChannel() throws Exception {
        rounds("transferFrom/loop", new Scenario() {
            @Override
            public long window() {
                return 4_000_000;
            }

            @Override
            public String round(String tag, Path p, Disturbance d, long delay) throws Exception {
                ReadableByteChannel source = Channels.newChannel(new SlowSource());
                FileChannel target = open(p, "rw");
                try {
                    return InterruptTest.round(tag, target, source, (f, o) -> ZeroCopy.transferFrom(f,
                            (ReadableByteChannel) o, 0, SIZE), d, delay, null);
                } finally {
                    source.close();
                    target.close();
                }
            }
        });
    }

    /** transferTo into a blocking pipe drained by a slow reader: the native path. */
    @Test
    void transferToABlockingPipe() throws Exception {
        rounds("transferTo/native", new Scenario() {
            @Override
            public long window() {
                return 6_000_000;
            }

            @Override
            public String round(String tag, Path p, Disturbance d, long delay) throws Exception {
                Pipe pipe = Pipe.open();
                AtomicLong received = new AtomicLong();
                Thread reader = new Thread(() -> {
                    ByteBuffer buf = ByteBuffer.allocate(8192);
                    try {
                        while (pipe.source().read(buf.clear()) >= 0) {
                            received.addAndGet(buf.position());
                            long until = System.nanoTime() + 20_000;
                            while (System.nanoTime() < until) {
                                Thread.onSpinWait();
                            }
                        }
                    } catch (IOException e) {
                        // the test closed the pipe: the count so far stands
                    }
                });
                reader.start();
                FileChannel src = open(p, "r");
                try {
                    String o = InterruptTest.round(tag, src, pipe.sink(), (f, s) -> ZeroCopy.transferTo(f, 0, SIZE,
                            (WritableByteChannel) s), d, delay, null);
                    pipe.sink().close();
                    reader.join(TimeUnit.SECONDS.toMillis(30));
                    assertFalse(reader.isAlive(), tag);
                    return o;
                } finally {
                    src.close();
                    pipe.sink().close();
                    pipe.source().close();
                }
            }
        });
    }

    /** The control on JDK 22+: the JDK's own transferTo to an arbitrary channel keeps the same rules. */
    @Test
    void theJdkKeepsTheSameRules() throws Exception {
        if (TestSupport.javaFeature() < 22) {
            System.out.println("theJdkKeepsTheSameRules: skipped: JDK " + TestSupport.javaFeature()
                    + " closes only the interrupted channel (JDK 22 changed that)");
            return;
        }
        rounds("jdk transferTo/loop", new Scenario() {
            @Override
            public long window() {
                return 4_000_000;
            }

            @Override
            public String round(String tag, Path p, Disturbance d, long delay) throws Exception {
                SlowSink sink = new SlowSink();
                WritableByteChannel target = Channels.newChannel(sink);
                FileChannel src = open(p, "r");
                try {
                    return InterruptTest.round(tag, src, target, (f, o) -> f.transferTo(0, SIZE, (WritableByteChannel) o),
                            d, delay, sink.received);
                } finally {
                    src.close();
                    target.close();
                }
            }
        });
    }
}
