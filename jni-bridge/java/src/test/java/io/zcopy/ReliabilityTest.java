package io.zcopy;

import static io.zcopy.TestSupport.file;
import static io.zcopy.TestSupport.open;
import static io.zcopy.TestSupport.pattern;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileChannel.MapMode;
import java.nio.channels.Pipe;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 6 for Java: truncated files, vanished peers, channels closed under running calls,
 * regions closed under readers. Every test ends with the JVM alive and zcopy still working.
 */
class ReliabilityTest {
    @TempDir
    Path dir;

    private final ExecutorService pool = TestSupport.pool();

    @AfterEach
    void stop() {
        pool.shutdownNow();
    }

    // ------------------------------------------------------------------ truncated file

    /**
     * What a Java user sees when another process truncates a mapped file: zcopy's own methods
     * throw FileTruncatedException (load notices it; then force and isLoaded report it too);
     * buffer reads fail the JVM's way, with InternalError; nothing crashes.
     */
    @Test
    void aFileTruncatedUnderARegion() throws Exception {
        Path p = file(dir, "trunc", 1 << 20);
        MappedRegion r = ZeroCopy.map(p, MapMode.READ_ONLY, 0, 1 << 20);
        ByteBuffer view = r.buffer();
        assertEquals(pattern(10)[5], view.get(5));
        try (FileChannel ch = open(p, "rw")) {
            ch.truncate(4096);
        }
        FileTruncatedException e = assertThrows(FileTruncatedException.class, r::load);
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        assertThrows(FileTruncatedException.class, r::isLoaded, "once noticed, the region's own methods keep saying so");
        assertThrows(FileTruncatedException.class, r::force);
        assertEquals(pattern(10)[5], r.get(5), "pages still backed by the file read normally");

        AtomicReference<Throwable> seen = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try {
                view.get(1 << 19); // a page past the new end
            } catch (InternalError err) {
                seen.set(err);
            }
        });
        t.setUncaughtExceptionHandler((th, err) -> seen.set(err));
        t.start();
        t.join(10_000);
        if (TestSupport.javaFeature() >= 21) {
            assertNotNull(seen.get(), "JDK 21+ throws InternalError at the faulting access");
        }
        if (seen.get() != null) {
            assertTrue(seen.get() instanceof InternalError, seen.get().toString());
            assertTrue(String.valueOf(seen.get().getMessage()).contains("unsafe memory access"), seen.get().getMessage());
        }
        r.close();
        assertEquals(0, view.get(1 << 19), "after close the stale view reads zeros, truncated or not");
        assertEquals(42, ZeroCopy.map(p, MapMode.READ_WRITE, 0, 10).put(0, (byte) 42).get(0), "zcopy still works");
    }

    @Test
    void truncatingAfterCloseCannotHurt() throws Exception {
        Path p = file(dir, "after", 1 << 16);
        MappedRegion r = ZeroCopy.map(p, MapMode.READ_WRITE, 0, 1 << 16);
        ByteBuffer view = r.buffer();
        r.close();
        try (FileChannel ch = open(p, "rw")) {
            ch.truncate(0);
        }
        assertEquals(0, view.get((1 << 16) - 1));
        view.put(100, (byte) 1);
    }

    // ------------------------------------------------------------------ peers

    @Test
    void aPeerThatResetsMidTransferIsAnIOException() throws Exception {
        Path p = file(dir, "src", 16 << 20);
        byte[] before = Files.readAllBytes(p);
        SocketChannel[] pair = TestSupport.tcpPair();
        try (FileChannel src = open(p, "r"); SocketChannel a = pair[0]) {
            SocketChannel b = pair[1];
            b.setOption(StandardSocketOptions.SO_LINGER, 0);
            IOException failure = null;
            long pos = 0;
            AtomicBoolean reset = new AtomicBoolean();
            Future<?> closer = pool.submit(() -> {
                Thread.sleep(20);
                b.close(); // SO_LINGER 0: the kernel sends RST
                reset.set(true);
                return null;
            });
            try {
                for (int i = 0; i < 1000; i++) {
                    pos += ZeroCopy.transferTo(src, pos % (16 << 20), 1 << 20, a);
                    if (reset.get()) {
                        Thread.sleep(1);
                    }
                }
            } catch (IOException e) {
                failure = e;
            }
            closer.get();
            assertNotNull(failure, "the reset surfaced");
            assertTrue(!(failure instanceof ClosedChannelException), failure.toString());
            String msg = failure.getMessage();
            assertTrue(msg.contains("Connection reset") || msg.contains("Broken pipe"), msg);
        }
        assertArrayEquals(before, Files.readAllBytes(p), "the source file is untouched");
    }

    // ------------------------------------------------------------------ descriptors closed under calls

    /**
     * A thread transfers into a file while another closes that channel and opens new files,
     * which reuse the descriptor number. The guard (a duplicated descriptor, checked against the
     * channel) means no byte ever lands in one of the new files.
     */
    @Test
    void aClosedAndReusedDescriptorIsNeverWritten() throws Exception {
        Path src = file(dir, "src", 4096);
        List<Path> fresh = new ArrayList<>();
        AtomicLong closedDuring = new AtomicLong();
        try (FileChannel in = open(src, "r")) {
            for (int round = 0; round < 200; round++) {
                Path target = dir.resolve("t" + round);
                FileChannel out = FileChannel.open(target, java.nio.file.StandardOpenOption.CREATE,
                        java.nio.file.StandardOpenOption.WRITE);
                Future<?> writer = pool.submit(() -> {
                    for (int i = 0; i < 50; i++) {
                        try {
                            ZeroCopy.transferTo(in, 0, 4096, out);
                        } catch (ClosedChannelException e) { // AsynchronousCloseException included
                            closedDuring.incrementAndGet();
                            return null;
                        }
                    }
                    return null;
                });
                Thread.sleep(0, ThreadLocalRandom.current().nextInt(100_000));
                out.close();
                List<FileChannel> reopened = new ArrayList<>();
                for (int i = 0; i < 4; i++) {
                    Path f = dir.resolve("fresh-" + round + "-" + i);
                    fresh.add(f);
                    reopened.add(FileChannel.open(f, java.nio.file.StandardOpenOption.CREATE,
                            java.nio.file.StandardOpenOption.WRITE));
                }
                writer.get(10, TimeUnit.SECONDS);
                for (FileChannel c : reopened) {
                    c.close();
                }
            }
        }
        for (Path f : fresh) {
            assertEquals(0, Files.size(f), f + " received bytes meant for a closed channel");
        }
        assertTrue(closedDuring.get() > 0, "some transfers saw the close");
    }

    /**
     * A transfer blocked on a full pipe: closing the target channel and the pipe's reading end
     * ends it with AsynchronousCloseException (JDK 25's rule for a channel closed during a
     * transfer).
     */
    @Test
    void aChannelClosedDuringABlockedTransferIsAsynchronousCloseException() throws Exception {
        Path p = file(dir, "big", 8 << 20);
        Pipe pipe = Pipe.open();
        try (FileChannel src = open(p, "r")) {
            // Fill the pipe so the next transfer blocks before moving a byte.
            pipe.sink().configureBlocking(false);
            while (ZeroCopy.transferTo(src, 0, 1 << 20, pipe.sink()) > 0) {
                continue;
            }
            pipe.sink().configureBlocking(true);
            Future<Long> blocked = pool.submit(() -> ZeroCopy.transferTo(src, 0, 8 << 20, pipe.sink()));
            Thread.sleep(100);
            assertTrue(!blocked.isDone(), "the transfer waits for the reader");
            pipe.sink().close();
            pipe.source().close(); // the reader goes away: the kernel ends the blocked write
            java.util.concurrent.ExecutionException e =
                    assertThrows(java.util.concurrent.ExecutionException.class, () -> blocked.get(10, TimeUnit.SECONDS));
            assertTrue(e.getCause() instanceof AsynchronousCloseException, e.getCause().toString());
        }
    }

    @Test
    void selectWhileOtherThreadsRegisterCancelWakeAndClose() throws Exception {
        EpollSelector sel = EpollSelector.open();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Future<?> loop = pool.submit(() -> {
            try {
                while (!stop.get()) {
                    sel.select(5);
                    sel.selectedKeys().clear();
                }
            } catch (java.nio.channels.ClosedSelectorException done) {
                return null;
            } catch (Throwable t) {
                failure.set(t);
            }
            return null;
        });
        List<Future<?>> churn = new ArrayList<>();
        for (int w = 0; w < 3; w++) {
            churn.add(pool.submit(() -> {
                for (int i = 0; i < 300; i++) {
                    Pipe p = Pipe.open();
                    p.source().configureBlocking(false);
                    p.sink().configureBlocking(false);
                    try {
                        EpollSelector.Key k = sel.register(p.source(), SelectionKey.OP_READ, i);
                        sel.register(p.sink(), SelectionKey.OP_WRITE, i);
                        p.sink().write(ByteBuffer.wrap(new byte[] {1}));
                        sel.wakeup();
                        if (i % 2 == 0) {
                            k.cancel();
                        }
                    } catch (java.nio.channels.ClosedSelectorException late) {
                        // the selector closed under us: expected near the end
                    } finally {
                        p.source().close(); // closed without cancel: the selector must cope
                        p.sink().close();
                    }
                }
                return null;
            }));
        }
        for (Future<?> f : churn) {
            f.get(30, TimeUnit.SECONDS);
        }
        sel.close();
        stop.set(true);
        loop.get(10, TimeUnit.SECONDS);
        if (failure.get() != null) {
            throw new AssertionError("select failed", failure.get());
        }
        assertTrue(sel.trackedKeys().isEmpty());
    }

    // ------------------------------------------------------------------ regions closed under readers

    @Test
    void aRegionClosedWhileOtherThreadsReadIt() throws Exception {
        Path p = file(dir, "shared", 4 << 20);
        long[] total = new long[3];
        for (int round = 0; round < 20; round++) {
            MappedRegion r = ZeroCopy.map(p, MapMode.READ_ONLY, 0, 4 << 20);
            ByteBuffer view = r.buffer();
            AtomicBoolean stop = new AtomicBoolean();
            List<Future<long[]>> readers = new ArrayList<>();
            for (int t = 0; t < 3; t++) {
                final int kind = t;
                readers.add(pool.submit(() -> {
                    long ok = 0;
                    long zeros = 0;
                    long refused = 0;
                    byte[] bulk = new byte[4096];
                    for (long i = 0; !stop.get(); i = (i + 4093) % (4 << 20)) {
                        try {
                            long v;
                            if (kind == 0) {
                                v = r.get(i);
                            } else if (kind == 1) {
                                v = view.get((int) i);
                            } else {
                                r.get(i & ~4095L, bulk);
                                v = bulk[(int) (i & 4095)];
                            }
                            if (v == 0 && pattern((int) i + 1)[(int) i] != 0) {
                                zeros++;
                            } else {
                                ok++;
                            }
                        } catch (IllegalStateException closed) {
                            refused++;
                            if (kind != 1) {
                                break;
                            }
                        }
                    }
                    return new long[] {ok, zeros, refused};
                }));
            }
            Thread.sleep(5);
            pool.submit(() -> {
                try {
                    r.load();
                    r.force();
                } catch (IllegalStateException | IOException closed) {
                    // closed meanwhile: allowed
                }
                return null;
            });
            r.close();
            Thread.sleep(5);
            stop.set(true);
            for (Future<long[]> f : readers) {
                long[] counts = f.get(10, TimeUnit.SECONDS);
                for (int i = 0; i < 3; i++) {
                    total[i] += counts[i];
                }
            }
        }
        assertTrue(total[0] > 0, "reads before the close saw the file: " + java.util.Arrays.toString(total));
    }

    // ------------------------------------------------------------------ native panics

    @Test
    void aPanicInNativeCodeIsARuntimeException() throws IOException {
        RuntimeException e = assertThrows(RuntimeException.class, () -> Native.panicForTest("boom"));
        assertEquals("zcopy: native panic: boom", e.getMessage());
        Path p = file(dir, "after-panic", 10);
        try (MappedRegion r = ZeroCopy.map(p, MapMode.READ_ONLY, 0, 10)) {
            assertEquals(pattern(10)[9], r.get(9), "the library works after a panic");
        }
    }

    @Test
    void hostileHandlesAndArgumentsAreExceptions() {
        assertThrows(IllegalStateException.class, () -> Native.regionForce(0, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> Native.transferTo(new Object(), 0, 1, new Object(), true, 0));
        assertThrows(NullPointerException.class, () -> Native.transferTo(null, 0, 1, null, true, 0));
        assertThrows(IllegalArgumentException.class, () -> Native.accessMode("not a channel"));
        assertThrows(UnsupportedOperationException.class, () -> Native.regionMap(null, 9, 0, 0, true));
    }
}
