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
            pause(); // a 1 MiB transfer takes ~3 ms
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
            pause();
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

    /** One round of a scenario: sets the channels up, runs {@link #round} on them, cleans up. */
    private interface Scenario {
        String round(String tag, Path p, Disturbance d, long delayNanos) throws Exception;
    }

    /**
     * Runs {@link #ROUNDS} rounds of {@code scenario}, each disturbed at a random time within
     * {@code windowNanos}, and every fourth at once: a loop that moved some bytes returns their
     * count (the JDK's rule), so only a disturbance before the first write shows its exception,
     * and with the code compiled that window is a few microseconds wide.
     */
    private void rounds(String name, long windowNanos, Scenario scenario) throws Exception {
        long seed = Long.getLong("zcopy.interruptSeed", System.nanoTime());
        Random random = new Random(seed);
        Path p = file(dir, name.replace('/', '-').replace(' ', '-'), SIZE);
        java.util.Map<String, Integer> seen = new java.util.TreeMap<>();
        for (int i = 0; i < ROUNDS; i++) {
            Disturbance d = Disturbance.values()[random.nextInt(Disturbance.values().length)];
            long delay = i % 4 == 0 ? 0 : (long) (random.nextDouble() * windowNanos);
            String tag = name + " round " + i + " (seed " + seed + ", " + d + " after " + delay / 1000 + " µs)";
            String o = scenario.round(tag, p, d, delay);
            seen.merge(d + " -> " + o, 1, Integer::sum);
        }
        System.out.println(name + ": " + seen);
        assertTrue(seen.keySet().stream().anyMatch(k -> k.startsWith("INTERRUPT -> ClosedByInterrupt")),
                "some interrupt hit a running transfer: " + seen);
    }

    /** Spins for about 20 µs: what a slow peer takes per 8 KiB. */
    private static void pause() {
        long until = System.nanoTime() + 20_000;
        while (System.nanoTime() < until) {
            Thread.onSpinWait();
        }
    }

    /** Rounds of {@code transfer} into a slow channel the JDK did not open on a descriptor. */
    private static Scenario toAnArbitraryChannel(Transfer transfer) {
        return (tag, p, d, delay) -> {
            SlowSink sink = new SlowSink();
            try (FileChannel src = open(p, "r"); WritableByteChannel target = Channels.newChannel(sink)) {
                return round(tag, src, target, transfer, d, delay, sink.received);
            }
        };
    }

    /** transferTo into a channel the JDK did not open on a descriptor: the Java loop. */
    @Test
    void transferToAnArbitraryChannel() throws Exception {
        rounds("transferTo/loop", 4_000_000,
                toAnArbitraryChannel((f, o) -> ZeroCopy.transferTo(f, 0, SIZE, (WritableByteChannel) o)));
    }

    /** transferFrom a channel the JDK did not open on a descriptor: the Java loop. */
    @Test
    void transferFromAnArbitraryChannel() throws Exception {
        rounds("transferFrom/loop", 4_000_000, (tag, p, d, delay) -> {
            try (ReadableByteChannel source = Channels.newChannel(new SlowSource()); FileChannel target = open(p, "rw")) {
                return round(tag, target, source, (f, o) -> ZeroCopy.transferFrom(f, (ReadableByteChannel) o, 0, SIZE),
                        d, delay, null);
            }
        });
    }

    /** transferTo into a blocking pipe drained by a slow reader: the native path. */
    @Test
    void transferToABlockingPipe() throws Exception {
        rounds("transferTo/native", 6_000_000, (tag, p, d, delay) -> {
            Pipe pipe = Pipe.open();
            Thread reader = new Thread(() -> {
                ByteBuffer buf = ByteBuffer.allocate(8192);
                try {
                    while (pipe.source().read(buf.clear()) >= 0) {
                        pause();
                    }
                } catch (IOException e) {
                    // the test closed the pipe: the count so far stands
                }
            });
            reader.start();
            try (FileChannel src = open(p, "r"); Pipe.SinkChannel sink = pipe.sink(); Pipe.SourceChannel source = pipe.source()) {
                String o = round(tag, src, sink, (f, s) -> ZeroCopy.transferTo(f, 0, SIZE, (WritableByteChannel) s), d,
                        delay, null);
                sink.close();
                reader.join(TimeUnit.SECONDS.toMillis(30));
                assertFalse(reader.isAlive(), tag);
                return o;
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
        rounds("jdk transferTo/loop", 4_000_000,
                toAnArbitraryChannel((f, o) -> f.transferTo(0, SIZE, (WritableByteChannel) o)));
    }
}
