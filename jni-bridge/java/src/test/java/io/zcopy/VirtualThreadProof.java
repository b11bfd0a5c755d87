package io.zcopy;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileChannel.MapMode;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordingFile;

/**
 * The programs {@link VirtualThreadTest} runs in child JVMs, where the virtual-thread scheduler's
 * parallelism can be set ({@code -Djdk.virtualThreadScheduler.parallelism}). Each prints one line
 * per result, {@code name=value}, for the test to check.
 *
 * <ul>
 *   <li>{@code writers zcopy|jdk DIR SECONDS}: 64 virtual threads each write a small header and
 *       then transfer an 8 MiB file to a blocking socket whose reader, also a virtual thread,
 *       starts 200 ms later; prints the bytes received within SECONDS and, for zcopy, the
 *       {@code jdk.VirtualThreadPinned} events JFR recorded during the transfers (and during a
 *       control that pins on purpose, to show the recording sees pinning when there is some);
 *   <li>{@code carriers DIR}: how often another virtual thread ran while one waited in
 *       {@link MappedRegion#force()}, {@link EpollSelector#select(long)} and their JDK
 *       equivalents.
 * </ul>
 */
final class VirtualThreadProof {
    private static final int WRITERS = 64;
    private static final int FILE_SIZE = 8 << 20;
    private static final byte[] HEADER = "HTTP/1.1 200 OK\r\nContent-Length: 8388608\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

    private VirtualThreadProof() {}

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[args[0].equals("writers") ? 2 : 1]);
        if (args[0].equals("writers")) {
            writers(args[1].equals("zcopy"), dir, Long.parseLong(args[3]));
        } else {
            carriers(dir);
        }
        System.out.flush();
        // Threads the JDK's transferTo left pinned cannot be joined: end here.
        Runtime.getRuntime().halt(0);
    }

    // ------------------------------------------------------------------ writers and late readers

    private static void writers(boolean zcopy, Path dir, long seconds) throws Exception {
        Path file = TestSupport.file(dir, "body", FILE_SIZE);
        Recording jfr = null;
        if (zcopy) {
            // First uses initialise classes (zcopy's, and the JDK's own poller), and a virtual
            // thread that waits for another thread's class initialisation is pinned meanwhile on
            // every JDK so far: one round first, then the recording of the steady state.
            lateReaders(file, true, 2, 60);
            jdkPollerWarmUp();
            jfr = new Recording();
            jfr.enable("jdk.VirtualThreadPinned").withThreshold(Duration.ZERO).withStackTrace();
            jfr.start();
            pinOnPurpose();
        }
        long t0 = System.nanoTime();
        long received = lateReaders(file, zcopy, WRITERS, seconds);
        System.out.printf("received=%d%nexpected=%d%nseconds=%.2f%n", received,
                (long) WRITERS * (HEADER.length + FILE_SIZE), (System.nanoTime() - t0) / 1e9);
        if (jfr != null) {
            jfr.stop();
            Path out = dir.resolve("pinned.jfr");
            jfr.dump(out);
            long control = 0;
            long zcopyFrames = 0;
            long others = 0;
            for (RecordedEvent e : RecordingFile.readAllEvents(out)) {
                String where = e.getStackTrace() == null ? "" : e.getStackTrace().getFrames().toString();
                if (where.contains("PinsOnPurpose")) {
                    control++;
                } else if (inZcopy(e)) {
                    zcopyFrames++;
                    System.out.println("pinned in zcopy: " + e);
                } else {
                    others++;
                    System.out.println("pinned elsewhere: " + e);
                }
            }
            System.out.println("pinned.control=" + control);
            System.out.println("pinned.zcopy=" + zcopyFrames);
            System.out.println("pinned.elsewhere=" + others);
        }
    }

    /** Whether a pinned thread's stack runs through the library (not only through this test's own code). */
    private static boolean inZcopy(RecordedEvent e) {
        if (e.getStackTrace() == null) {
            return false;
        }
        for (RecordedFrame f : e.getStackTrace().getFrames()) {
            String type = f.getMethod().getType().getName();
            if (type.startsWith("io.zcopy.") && !type.startsWith(VirtualThreadProof.class.getName())) {
                return true;
            }
        }
        return false;
    }

    /** Parks inside a class initializer, which pins a virtual thread on every JDK so far. */
    private static final class PinsOnPurpose {
        static {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
        }

        static void touch() {}
    }

    /** A virtual thread that parks in a JDK socket read, so the JDK's own poller is initialised. */
    private static void jdkPollerWarmUp() throws Exception {
        SocketChannel[] pair = TestSupport.tcpPair();
        try (SocketChannel a = pair[0]; SocketChannel b = pair[1]) {
            Thread reader = TestSupport.startVirtual(() -> {
                try {
                    b.read(ByteBuffer.allocate(1));
                } catch (IOException e) {
                    System.out.println("warm-up failed: " + e);
                }
            });
            Thread.sleep(50);
            a.write(ByteBuffer.wrap(new byte[1]));
            reader.join();
        }
    }

    private static void pinOnPurpose() throws InterruptedException {
        TestSupport.startVirtual(PinsOnPurpose::touch).join();
    }

    /** {@code writers} writers and their late readers; the bytes the readers got within {@code seconds}. */
    private static long lateReaders(Path file, boolean zcopy, int writers, long seconds) throws Exception {
        AtomicLong received = new AtomicLong();
        List<Thread> threads = new ArrayList<>();
        try (ServerSocketChannel server = ServerSocketChannel.open()) {
            server.bind(new InetSocketAddress("127.0.0.1", 0), writers);
            for (int i = 0; i < writers; i++) {
                SocketChannel reader = SocketChannel.open(server.getLocalAddress());
                SocketChannel writer = server.accept();
                threads.add(TestSupport.startVirtual(() -> write(file, writer, zcopy)));
                threads.add(TestSupport.startVirtual(() -> read(reader, received)));
            }
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        for (Thread t : threads) {
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (left <= 0) {
                break;
            }
            t.join(left);
        }
        return received.get();
    }

    private static void write(Path file, SocketChannel socket, boolean zcopy) {
        try (FileChannel src = FileChannel.open(file); socket) {
            socket.write(ByteBuffer.wrap(HEADER));
            for (long p = 0; p < FILE_SIZE; ) {
                p += zcopy ? ZeroCopy.transferTo(src, p, FILE_SIZE - p, socket) : src.transferTo(p, FILE_SIZE - p, socket);
            }
        } catch (IOException e) {
            System.out.println("writer failed: " + e);
        }
    }

    private static void read(SocketChannel socket, AtomicLong received) {
        try (socket) {
            Thread.sleep(200);
            ByteBuffer buf = ByteBuffer.allocate(1 << 16);
            for (int n; (n = socket.read(buf.clear())) >= 0; ) {
                received.addAndGet(n);
            }
        } catch (IOException | InterruptedException e) {
            System.out.println("reader failed: " + e);
        }
    }

    // ------------------------------------------------------------------ carriers held by waits

    /** A call that waits. */
    private interface Wait {
        void run() throws Exception;
    }

    /**
     * Runs {@code wait} on a virtual thread while another one sleeps 1 ms at a time; prints how
     * long the wait took and how many of those sleeps ended meanwhile (none when the wait held
     * the only carrier).
     */
    private static void measure(String name, Wait wait) throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong ticks = new AtomicLong();
        long[] window = new long[2];
        Thread waiter = TestSupport.startVirtual(() -> {
            try {
                Thread.sleep(20); // the ticker is running by now
                window[0] = System.nanoTime();
                wait.run();
                window[1] = System.nanoTime();
            } catch (Exception e) {
                System.out.println(name + " failed: " + e);
            }
        });
        Thread ticker = TestSupport.startVirtual(() -> {
            while (!stop.get()) {
                LockSupport.parkNanos(1_000_000);
                if (window[0] != 0 && window[1] == 0) {
                    ticks.incrementAndGet();
                }
            }
        });
        waiter.join();
        stop.set(true);
        ticker.join();
        System.out.printf("%s.millis=%.1f%n%s.ticks=%d%n", name, (window[1] - window[0]) / 1e6, name, ticks.get());
    }

    private static void carriers(Path dir) throws Exception {
        Path p = dir.resolve("dirty");
        int size = 256 << 20;
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE); MappedRegion region = ZeroCopy.map(ch, MapMode.READ_WRITE, 0, size)) {
            MappedByteBuffer jdk = ch.map(MapMode.READ_WRITE, 0, size);
            for (long i = 0; i < size; i += 4096) {
                region.put(i, (byte) i);
            }
            measure("zcopy.force", region::force);
            for (int i = 0; i < size; i += 4096) {
                jdk.put(i, (byte) (i + 1));
            }
            measure("jdk.force", jdk::force);
            try (EpollSelector sel = EpollSelector.open(); Selector js = Selector.open()) {
                measure("zcopy.select", () -> sel.select(300));
                measure("jdk.select", () -> js.select(300));
            }
        }
        Files.delete(p);
    }
}
