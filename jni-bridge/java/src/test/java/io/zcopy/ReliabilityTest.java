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
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Truncated files, vanished peers, channels closed under running calls,
 * regions closed under readers. Every test ends with the JVM alive and zcopy still working.
 */
class ReliabilityTest {
    @TempDir
    Path dir;

    @RegisterExtension
    final TestPool pool = new TestPool();

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
     * A thread transfers into a target while another closes that target and opens new files,
     * which reuse the descriptor number. Whatever the guard (the close locks for a file or a
     * non-blocking socket, duplicates for a blocking socket), no byte ever lands in one of the new
     * files, and every writer sees the close as a ClosedChannelException.
     */
    @ParameterizedTest
    @ValueSource(strings = {"file", "socket-nonblocking", "socket-blocking", "socket-blocking-virtual"})
    void aClosedAndReusedTargetIsNeverWritten(String kind) throws Exception {
        Path src = file(dir, "src", 4096);
        List<Path> fresh = new ArrayList<>();
        AtomicLong closedDuring = new AtomicLong();
        int rounds = 100;
        try (FileChannel in = open(src, "r")) {
            for (int round = 0; round < rounds; round++) {
                java.nio.channels.WritableByteChannel out = raceTarget(kind, dir.resolve("t" + round)).channel();
                Future<?> writer = writer(kind, () -> writeUntilClosed(in, out, closedDuring));
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
        assertEquals(rounds, closedDuring.get(), "every writer saw the close");
    }

    /**
     * The writer of a close-and-reuse race, on a thread of the pool, or on a virtual thread for
     * a {@code -virtual} kind (skipped where there are none).
     */
    private Future<?> writer(String kind, java.util.concurrent.Callable<Void> write) {
        if (!kind.endsWith("-virtual")) {
            return pool.submit(write);
        }
        TestSupport.assumeVirtualThreads();
        java.util.concurrent.CompletableFuture<Void> done = new java.util.concurrent.CompletableFuture<>();
        TestSupport.startVirtual(() -> {
            try {
                done.complete(write.call());
            } catch (Exception e) {
                done.completeExceptionally(e);
            }
        });
        return done;
    }

    /** A target of the close-and-reuse races, and what its far end received (null for a file). */
    private record RaceTarget(java.nio.channels.WritableByteChannel channel, Future<byte[]> received) {}

    /** A new file, or a loopback socket in the given blocking mode whose peer reads everything. */
    private RaceTarget raceTarget(String kind, Path file) throws IOException {
        if (kind.equals("file")) {
            return new RaceTarget(FileChannel.open(file, java.nio.file.StandardOpenOption.CREATE,
                    java.nio.file.StandardOpenOption.WRITE), null);
        }
        SocketChannel[] pair = TestSupport.tcpPair();
        pair[0].configureBlocking(kind.startsWith("socket-blocking"));
        return new RaceTarget(pair[0], TestSupport.drain(pool, pair[1]));
    }

    /**
     * Transfers the 4 KiB source over and over, resuming after short counts so the target
     * receives whole copies one after another, until the close shows (bounded: a close never
     * seen fails the caller).
     */
    private static Void writeUntilClosed(FileChannel in, java.nio.channels.WritableByteChannel out,
            AtomicLong closedDuring) throws IOException {
        long at = 0;
        for (long end = System.nanoTime() + 5_000_000_000L; System.nanoTime() < end; ) {
            try {
                at = (at + ZeroCopy.transferTo(in, at, 4096 - at, out)) % 4096;
            } catch (ClosedChannelException e) { // AsynchronousCloseException included
                closedDuring.incrementAndGet();
                return null;
            }
        }
        return null;
    }

    /**
     * The source side: a thread transfers from a file while another closes it and opens other
     * files (with other bytes) that reuse its number. The target only ever receives the source's
     * own bytes, whatever the guard.
     */
    @ParameterizedTest
    @ValueSource(strings = {"file", "socket-nonblocking", "socket-blocking", "socket-blocking-virtual"})
    void aClosedAndReusedSourceIsNeverRead(String kind) throws Exception {
        byte[] own = pattern(4096);
        byte[] other = new byte[4096];
        java.util.Arrays.fill(other, (byte) 0xEE); // a block of it differs from the pattern's almost everywhere
        Path src = file(dir, "src", 4096);
        Path decoy = dir.resolve("decoy");
        Files.write(decoy, other);
        AtomicLong closedDuring = new AtomicLong();
        for (int round = 0; round < 100; round++) {
            FileChannel in = open(src, "r");
            Path sink = dir.resolve("sink" + round);
            RaceTarget target = raceTarget(kind, sink);
            java.nio.channels.WritableByteChannel out = target.channel();
            Future<?> writer = writer(kind, () -> writeUntilClosed(in, out, closedDuring));
            Thread.sleep(0, ThreadLocalRandom.current().nextInt(100_000));
            in.close();
            List<FileChannel> decoys = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                decoys.add(open(decoy, "r"));
            }
            writer.get(10, TimeUnit.SECONDS);
            out.close();
            for (FileChannel c : decoys) {
                c.close();
            }
            // Every 4 KiB block that arrived is the source's (a file target's position advances,
            // so it receives the blocks one after another, as a socket does).
            byte[] all = target.received() != null ? target.received().get(10, TimeUnit.SECONDS) : Files.readAllBytes(sink);
            for (int i = 0; i < all.length; i++) {
                assertEquals(own[i % 4096], all[i], kind + ": byte " + i + " of round " + round + " is not the source's");
            }
        }
        assertEquals(100, closedDuring.get(), "every writer saw the close");
    }

    /**
     * The close locks are never held around a system call that can block indefinitely: a
     * transfer into a FIFO opened as a FileChannel (a write that blocks while nobody reads)
     * takes the duplicate guard, so closing its source returns at once, and the transfer ends
     * with its progress once the reader reads.
     */
    @Test
    void closingTheSourceOfATransferBlockedOnAFifoDoesNotWait() throws Exception {
        Path fifo = dir.resolve("fifo");
        Process mk = new ProcessBuilder("mkfifo", fifo.toString()).start();
        assertEquals(0, mk.waitFor());
        Path p = file(dir, "big", 4 << 20);
        // O_RDWR: opening a FIFO read-write does not wait for a peer; writes block once the pipe
        // holds 64 KiB.
        try (FileChannel pipe = FileChannel.open(fifo, java.nio.file.StandardOpenOption.READ,
                java.nio.file.StandardOpenOption.WRITE)) {
            assertTrue(!DescriptorGuard.lockable(pipe), "a FIFO is not lockable");
            FileChannel src = open(p, "r");
            Future<Long> blocked = pool.submit(() -> ZeroCopy.transferTo(src, 0, 4 << 20, pipe));
            Thread.sleep(200);
            assertTrue(!blocked.isDone(), "the transfer waits for a reader");
            long t0 = System.nanoTime();
            src.close();
            long closeMillis = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(closeMillis < 1000, "close() waited " + closeMillis + " ms for a blocked transfer");
            // Read what the transfer writes, on another thread, until the transfer returns.
            AtomicLong drained = new AtomicLong();
            Future<?> reader = pool.submit((java.util.concurrent.Callable<Void>) () -> {
                ByteBuffer buf = ByteBuffer.allocate(1 << 16);
                while (true) {
                    buf.clear();
                    drained.addAndGet(pipe.read(buf)); // ends with AsynchronousCloseException
                }
            });
            // The core call running at the close goes on on its duplicates (the known limit of
            // the duplicate guard: a close does not wake it); the call then returns its bytes.
            long n = blocked.get(10, TimeUnit.SECONDS);
            pipe.close();
            assertThrows(java.util.concurrent.ExecutionException.class, () -> reader.get(10, TimeUnit.SECONDS));
            assertTrue(n > 0 && n >= drained.get(), "the transfer's progress: " + n + ", drained " + drained);
        }
    }

    /**
     * Two threads transferring between the same two files in opposite directions never deadlock:
     * the close locks are taken in descriptor order.
     */
    @Test
    void oppositeTransfersBetweenTwoFilesDoNotDeadlock() throws Exception {
        Path a = file(dir, "a", 1 << 16);
        Path b = file(dir, "b", 1 << 16);
        try (FileChannel ca = open(a, "rw"); FileChannel cb = open(b, "rw")) {
            long end = System.nanoTime() + 1_000_000_000L;
            Future<Long> ab = pool.submit(() -> {
                long n = 0;
                while (System.nanoTime() < end) {
                    n += ZeroCopy.transferTo(ca, 0, 4096, cb) + ZeroCopy.transferFrom(ca, cb, 4096, 4096);
                }
                return n;
            });
            Future<Long> ba = pool.submit(() -> {
                long n = 0;
                while (System.nanoTime() < end) {
                    n += ZeroCopy.transferTo(cb, 0, 4096, ca) + ZeroCopy.transferFrom(cb, ca, 4096, 4096);
                }
                return n;
            });
            assertTrue(ab.get(10, TimeUnit.SECONDS) > 0);
            assertTrue(ba.get(10, TimeUnit.SECONDS) > 0);
        }
    }

    /**
     * The JDK paths that take a channel's close lock while other threads block: a JDK Selector
     * blocked in select() on a non-blocking socket (its close is deferred to the selector), a
     * thread interrupted in a JDK read of a file channel (the interrupt closes the channel under
     * its close lock, from the interrupting thread), and our transfers on both channels under
     * their close locks meanwhile. Everything ends: no deadlock, the expected exceptions.
     */
    @Test
    void closeLocksWithJdkSelectorsAndInterruptsDoNotDeadlock() throws Exception {
        Path p = file(dir, "src", 1 << 20);
        for (int round = 0; round < 20; round++) {
            SocketChannel[] pair = TestSupport.tcpPair();
            Future<Long> far = TestSupport.discard(pool, pair[1]);
            SocketChannel out = pair[0];
            out.configureBlocking(false);
            java.nio.channels.Selector jdk = java.nio.channels.Selector.open();
            out.register(jdk, SelectionKey.OP_READ);
            Future<Integer> selecting = pool.submit(() -> jdk.select());
            FileChannel src = open(p, "r");
            AtomicBoolean stop = new AtomicBoolean();
            Future<Long> transfers = pool.submit(() -> {
                long n = 0;
                try {
                    while (!stop.get()) {
                        n += ZeroCopy.transferTo(src, n % (1 << 20), 4096, out);
                    }
                } catch (ClosedChannelException e) { // either channel closed under us
                    return n;
                }
                return n;
            });
            java.util.concurrent.CountDownLatch reading = new java.util.concurrent.CountDownLatch(1);
            Future<?> reader = pool.submit(() -> {
                ByteBuffer b = ByteBuffer.allocate(4096);
                try {
                    while (true) {
                        b.clear();
                        src.read(b, 0);
                        reading.countDown();
                    }
                } catch (ClosedChannelException e) { // ClosedByInterruptException, or closed by the interrupt
                    return null;
                }
            });
            assertTrue(reading.await(10, TimeUnit.SECONDS));
            reader.cancel(true); // interrupts the reading thread: the JDK closes src under its close lock
            for (long end = System.nanoTime() + 5_000_000_000L; src.isOpen() && System.nanoTime() < end; ) {
                Thread.sleep(1);
            }
            out.close(); // deferred by the JDK selector until it deselects the key
            stop.set(true);
            transfers.get(10, TimeUnit.SECONDS);
            jdk.wakeup();
            selecting.get(10, TimeUnit.SECONDS);
            jdk.close();
            assertTrue(!src.isOpen(), "the interrupt closed the file channel");
            far.get(10, TimeUnit.SECONDS);
        }
    }

    /**
     * What the guards cost, as counted system calls: a 4 KiB transfer to a non-blocking socket
     * under the close locks makes the core's calls only; the same to a blocking socket makes
     * three more (two duplicates and one close_range).
     */
    @Test
    void theCloseLockGuardAddsNoSystemCall() throws Exception {
        Path p = file(dir, "src", 1 << 20);
        SocketChannel[] pair = TestSupport.tcpPair();
        Future<Long> far = TestSupport.discard(pool, pair[1]);
        try (FileChannel src = open(p, "r"); SocketChannel out = pair[0]) {
            out.configureBlocking(false);
            ZeroCopy.transferTo(src, 0, 4096, out); // the first call probes the route
            ZeroCopy.transferTo(src, 4096, 4096, out);
            Transfer locked = ZeroCopy.lastTransfer();
            out.configureBlocking(true);
            ZeroCopy.transferTo(src, 8192, 4096, out);
            Transfer dup = ZeroCopy.lastTransfer();
            assertEquals(4096, locked.bytes());
            assertEquals(TransferMethod.SENDFILE, locked.method());
            assertEquals(4096, dup.bytes());
            assertEquals(locked.syscalls() + 3, dup.syscalls(), locked + " vs " + dup);
        }
        assertEquals(3 * 4096, far.get(10, TimeUnit.SECONDS));
    }

    /**
     * A {@code FileChannel} on a seekable device ({@code /dev/null}) never waits either: it takes
     * the close-lock guard, so a 4 KiB transfer to it makes one system call, the sendfile (the
     * access modes are the channels' own), not the duplicate guard's three more.
     */
    @Test
    void aSeekableDeviceTakesTheCloseLockGuard() throws Exception {
        Path p = file(dir, "src", 1 << 20);
        try (FileChannel src = open(p, "r");
                FileChannel sink = FileChannel.open(Path.of("/dev/null"), StandardOpenOption.WRITE)) {
            ZeroCopy.transferTo(src, 0, 4096, sink); // the first call probes the route
            assertEquals(4096, ZeroCopy.transferTo(src, 4096, 4096, sink));
            Transfer t = ZeroCopy.lastTransfer();
            assertEquals(TransferMethod.SENDFILE, t.method(), t.toString());
            assertEquals(1, t.syscalls(), t.toString());
        }
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
        Native.ensureLoaded();
        RuntimeException e = assertThrows(RuntimeException.class, () -> NativeTestHooks.panic("boom"));
        assertEquals("zcopy: native panic: boom", e.getMessage());
        Path p = file(dir, "after-panic", 10);
        try (MappedRegion r = ZeroCopy.map(p, MapMode.READ_ONLY, 0, 10)) {
            assertEquals(pattern(10)[9], r.get(9), "the library works after a panic");
        }
    }

    @Test
    void hostileHandlesAndArgumentsAreExceptions() {
        assertThrows(IllegalStateException.class, () -> Native.regionForce(0, 0, 1));
        for (int flags : new int[] {0, Native.BLOCKING, Native.GUARD_LOCK}) {
            for (boolean to : new boolean[] {true, false}) {
                assertThrows(IllegalArgumentException.class,
                        () -> Native.transfer(to, new Object(), new Object(), 0, 1, 0, flags, null, 0, 0));
                assertThrows(NullPointerException.class, () -> Native.transfer(to, null, null, 0, 1, 0, flags, null, 0, 0));
            }
            assertThrows(IndexOutOfBoundsException.class,
                    () -> Native.transfer(true, null, null, 0, 1, 0, flags, new byte[2], 1, 2));
        }
        assertThrows(IllegalArgumentException.class, () -> Native.neverWaits("not a channel"));
        assertThrows(IllegalArgumentException.class, () -> Native.transferLimit(true, "not a channel", true, 0, 1));
        assertThrows(UnsupportedOperationException.class, () -> Native.regionMap(null, 9, 0, 0, true));
    }
}
