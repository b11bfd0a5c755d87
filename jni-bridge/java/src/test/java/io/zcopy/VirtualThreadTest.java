package io.zcopy;

import static io.zcopy.TestSupport.file;
import static io.zcopy.TestSupport.open;
import static io.zcopy.TestSupport.pattern;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.Channel;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.FileChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * zcopy on virtual threads (JDK 21+; skipped on 17 with the reason): transfers to and from
 * blocking channels, {@link EpollSelector#select} and {@link MappedRegion#force} never hold a
 * carrier while they wait, and keep every promise a blocking channel makes.
 */
class VirtualThreadTest {
    private static final int SIZE = 4 << 20;

    @TempDir
    Path dir;

    @RegisterExtension
    final TestPool pool = new TestPool();

    @BeforeEach
    void needsVirtualThreads() {
        TestSupport.assumeVirtualThreads();
    }

    /** Runs {@code call} on a new virtual thread; its result or exception, within 30 s. */
    private static <T> Object onVirtualThread(Callable<T> call, boolean[] interruptedAfter) throws Exception {
        AtomicReference<Object> outcome = new AtomicReference<>();
        Thread t = TestSupport.startVirtual(() -> {
            try {
                outcome.set(call.call());
            } catch (Exception e) {
                outcome.set(e);
            }
            interruptedAfter[0] = Thread.currentThread().isInterrupted();
        });
        t.join(TimeUnit.SECONDS.toMillis(30));
        assertFalse(t.isAlive(), "the call returned");
        return outcome.get();
    }

    /** The child JVM's {@code name=value} lines. */
    private static Map<String, String> results(String out) {
        Map<String, String> r = new HashMap<>();
        for (String line : out.split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0 && line.indexOf(' ') < 0) {
                r.put(line.substring(0, eq), line.substring(eq + 1).trim());
            }
        }
        return r;
    }

    private Map<String, String> proof(int parallelism, String... args) throws Exception {
        List<String> jvm = List.of("-Djdk.virtualThreadScheduler.parallelism=" + parallelism,
                "-Dzcopy.library.path=" + System.getProperty("zcopy.library.path"));
        String out = TestSupport.childJvm(jvm, VirtualThreadProof.class.getName(), List.of(args), true);
        System.out.println(out);
        return results(out);
    }

    // ------------------------------------------------------------------ the proof of issue 16

    /**
     * 64 virtual writers (a header, then an 8 MiB file) to blocking sockets whose readers start
     * 200 ms later, on 2 carriers: every byte arrives, and JFR records no pinned virtual thread
     * (a class initializer that parks, run first, shows that it would).
     */
    @Test
    void sixtyFourWritersAndLateReadersFinishOnTwoCarriers() throws Exception {
        Map<String, String> r = proof(2, "writers", "zcopy", dir.toString(), "30");
        assertEquals(r.get("expected"), r.get("received"), "every byte reached its reader");
        assertEquals("1", r.get("pinned.control"), "JFR sees a pinned virtual thread when there is one");
        assertEquals("0", r.get("pinned.zcopy"), "no virtual thread was pinned in zcopy");
        assertEquals("0", r.get("pinned.elsewhere"), "nor anywhere else");
    }

    /**
     * The control: the same writers with the JDK's own {@code transferTo} stall, each carrier
     * busy or blocked in {@code sendfile}, so the readers never run (5 s bound). Should a JDK
     * stop pinning there, this control no longer shows what the test above proves.
     */
    @Test
    void theJdksTransferToStallsTheSameWriters() throws Exception {
        Map<String, String> r = proof(2, "writers", "jdk", dir.toString(), "5");
        assertTrue(Long.parseLong(r.get("received")) < Long.parseLong(r.get("expected")),
                "the JDK's transferTo stalled: " + r);
    }

    /**
     * On one carrier, another virtual thread keeps running while one waits in
     * {@link MappedRegion#force()} (256 MiB of dirty pages) or {@link EpollSelector#select(long)},
     * as it does while the JDK's {@code MappedByteBuffer.force()} and {@code Selector.select}
     * wait.
     */
    @Test
    void forceAndSelectLeaveTheCarrierToOthers() throws Exception {
        Map<String, String> r = proof(1, "carriers", dir.toString());
        for (String call : new String[] {"zcopy.force", "jdk.force", "zcopy.select", "jdk.select"}) {
            double millis = Double.parseDouble(r.get(call + ".millis"));
            long ticks = Long.parseLong(r.get(call + ".ticks"));
            // A 1 ms sleeper wakes about once per millisecond; a held carrier lets it run never.
            assertTrue(millis < 5 || ticks >= millis / 10, call + ": " + ticks + " ticks in " + millis + " ms");
        }
    }

    // ------------------------------------------------------------------ blocking promises

    /**
     * A blocking socket or pipe whose reader starts 200 ms late: the header and every byte of
     * the body arrive (to a pipe the header goes by the channel's own write first).
     */
    @ParameterizedTest
    @ValueSource(strings = {"socket", "pipe"})
    void aLateReaderGetsEveryByteWithTheHeader(String kind) throws Exception {
        Path p = file(dir, "src", SIZE);
        byte[] head = "HTTP/1.1 200 OK\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
        java.nio.channels.Pipe pipe = java.nio.channels.Pipe.open();
        SocketChannel[] pair = kind.equals("socket") ? TestSupport.tcpPair() : null;
        java.nio.channels.WritableByteChannel out = pair != null ? pair[0] : pipe.sink();
        java.nio.channels.ReadableByteChannel in = pair != null ? pair[1] : pipe.source();
        try (FileChannel src = open(p, "r"); out; in) {
            Future<byte[]> got = pool.submit(() -> {
                Thread.sleep(200);
                return TestSupport.drain(pool, in).get();
            });
            ByteBuffer h = ByteBuffer.wrap(head);
            Object n = onVirtualThread(() -> ZeroCopy.transferToWithHeader(src, 0, SIZE, out, h), new boolean[1]);
            assertEquals((long) SIZE, n);
            assertFalse(h.hasRemaining());
            out.close();
            byte[] all = got.get(10, TimeUnit.SECONDS);
            assertArrayEquals(head, Arrays.copyOf(all, head.length));
            assertArrayEquals(pattern(SIZE), Arrays.copyOfRange(all, head.length, all.length));
        } finally {
            pipe.sink().close();
            pipe.source().close();
        }
    }

    /** transferFrom a blocking socket whose peer writes late and in parts: every byte, then 0 at its end. */
    @Test
    void transferFromALateWriter() throws Exception {
        Path tp = file(dir, "t", 0);
        SocketChannel[] pair = TestSupport.tcpPair();
        try (FileChannel dst = open(tp, "rw"); SocketChannel a = pair[0]; SocketChannel b = pair[1]) {
            pool.submit(() -> {
                byte[] all = pattern(SIZE);
                for (int at = 0; at < SIZE; at += SIZE / 4) {
                    Thread.sleep(50);
                    a.write(ByteBuffer.wrap(all, at, SIZE / 4));
                }
                a.shutdownOutput();
                return null;
            });
            Object n = onVirtualThread(() -> ZeroCopy.transferFrom(dst, b, 0, SIZE), new boolean[1]);
            assertEquals((long) SIZE, n);
            assertEquals(0L, onVirtualThread(() -> ZeroCopy.transferFrom(dst, b, SIZE, 10), new boolean[1]));
        }
        assertArrayEquals(pattern(SIZE), Files.readAllBytes(tp));
    }

    /** What disturbs a transfer parked on a socket nobody reads. */
    private enum Disturbance {
        INTERRUPT, CLOSE_SOURCE, CLOSE_TARGET
    }

    /**
     * A transfer parked on a full socket before it moved a byte: an interrupt gives
     * {@link ClosedByInterruptException} with both channels closed and the interrupt status
     * kept; a close of either channel by another thread gives {@link AsynchronousCloseException}
     * (one that had moved bytes would return their count, as on a platform thread). A parked
     * call never holds a close lock, so the close itself returns at once.
     */
    @Test
    void interruptsAndClosesEndAParkedTransfer() throws Exception {
        Path p = file(dir, "src", 64 << 20);
        for (Disturbance d : Disturbance.values()) {
            SocketChannel[] pair = TestSupport.tcpPair();
            FileChannel src = open(p, "r");
            try (SocketChannel a = pair[0]; SocketChannel b = pair[1]) {
                a.configureBlocking(false);
                while (ZeroCopy.transferTo(src, 0, 1 << 20, a) > 0) {
                    continue; // fill the socket: the call below moves nothing before it parks
                }
                a.configureBlocking(true);
                boolean[] interrupted = new boolean[1];
                AtomicReference<Thread> worker = new AtomicReference<>();
                Future<Object> outcome = pool.submit(() -> onVirtualThread(() -> {
                    worker.set(Thread.currentThread());
                    return ZeroCopy.transferTo(src, 0, 64 << 20, a);
                }, interrupted));
                Thread.sleep(300); // the socket fills up: the transfer parks
                assertFalse(outcome.isDone(), d + ": the transfer waits for the reader");
                long t0 = System.nanoTime();
                Channel closed = d == Disturbance.CLOSE_SOURCE ? src : a;
                if (d == Disturbance.INTERRUPT) {
                    worker.get().interrupt();
                } else {
                    closed.close();
                }
                assertTrue(System.nanoTime() - t0 < 1_000_000_000L, d + ": the disturbance returned at once");
                Object o = outcome.get(10, TimeUnit.SECONDS);
                if (d == Disturbance.INTERRUPT) {
                    assertTrue(o instanceof ClosedByInterruptException, d + ": " + o);
                    assertTrue(interrupted[0], "the interrupt status is kept");
                    assertFalse(src.isOpen() || a.isOpen(), "an interrupt closes both channels");
                } else {
                    assertTrue(o instanceof AsynchronousCloseException, d + ": " + o);
                }
            } finally {
                src.close();
            }
        }
    }

    /** A select on a virtual thread returns for a ready channel, a wakeup, a timeout and a close. */
    @Test
    void selectParksUntilReadyWokenTimedOutOrClosed() throws Exception {
        java.nio.channels.Pipe pipe = java.nio.channels.Pipe.open();
        pipe.source().configureBlocking(false);
        try (EpollSelector sel = EpollSelector.open(); java.nio.channels.Pipe.SinkChannel sink = pipe.sink();
                java.nio.channels.Pipe.SourceChannel source = pipe.source()) {
            sel.register(source, java.nio.channels.SelectionKey.OP_READ, null);
            pool.submit(() -> {
                Thread.sleep(100);
                return sink.write(ByteBuffer.wrap(new byte[1]));
            });
            assertEquals(1, onVirtualThread(() -> sel.select(10_000), new boolean[1]), "ready");
            sel.selectedKeys().clear();
            source.read(ByteBuffer.allocate(1));
            long t0 = System.nanoTime();
            assertEquals(0, onVirtualThread(() -> sel.select(200), new boolean[1]), "timed out");
            assertTrue(System.nanoTime() - t0 >= 190_000_000L, "waited the timeout");
            pool.submit(() -> {
                Thread.sleep(100);
                return sel.wakeup();
            });
            assertEquals(0, onVirtualThread(sel::select, new boolean[1]), "woken");
            pool.submit(() -> {
                Thread.sleep(100);
                sel.close();
                return null;
            });
            assertEquals(0, onVirtualThread(sel::select, new boolean[1]), "closed");
        }
    }

    /** File to file never waits for another party: the platform thread's path, as it is. */
    @Test
    void fileToFileIsTheUsualCall() throws Exception {
        Path p = file(dir, "src", 100_000);
        Path t = dir.resolve("t");
        try (FileChannel src = open(p, "r"); FileChannel dst = FileChannel.open(t, java.nio.file.StandardOpenOption.CREATE,
                java.nio.file.StandardOpenOption.WRITE)) {
            assertEquals(100_000L, onVirtualThread(() -> ZeroCopy.transferTo(src, 0, 1 << 20, dst), new boolean[1]));
        }
        assertArrayEquals(pattern(100_000), Files.readAllBytes(t));
    }
}
