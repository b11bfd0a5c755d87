package io.zcopy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/** Shared helpers: files with a known pattern, socket pairs, and what the OS sees. */
final class TestSupport {
    private TestSupport() {}

    /**
     * Runs {@code mainClass} in a child JVM (this JVM's java and class path, native access
     * granted, plus {@code jvmOptions}), asserts it exits 0 within a minute and returns its
     * standard output, with its standard error merged in when {@code mergeErrors}, else passed
     * through to this test's.
     */
    static String childJvm(List<String> jvmOptions, String mainClass, List<String> args, boolean mergeErrors)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED"));
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), mainClass));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd);
        if (mergeErrors) {
            pb.redirectErrorStream(true);
        } else {
            pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        }
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    /** The shared vectors' pattern: byte i is (i * 7 + i / 251) % 256. */
    static byte[] pattern(int size) {
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) {
            b[i] = (byte) ((i * 7L + i / 251) % 256);
        }
        return b;
    }

    static Path file(Path dir, String name, int size) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, pattern(size));
        return p;
    }

    static FileChannel open(Path p, String how) throws IOException {
        switch (how) {
            case "r": return FileChannel.open(p, StandardOpenOption.READ);
            case "w": return FileChannel.open(p, StandardOpenOption.WRITE);
            case "rw": return FileChannel.open(p, StandardOpenOption.READ, StandardOpenOption.WRITE);
            case "append": return FileChannel.open(p, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
            default: throw new IllegalArgumentException(how);
        }
    }

    /** A connected TCP pair on loopback: [client, server side]. */
    static SocketChannel[] tcpPair() throws IOException {
        try (ServerSocketChannel server = ServerSocketChannel.open()) {
            server.bind(new InetSocketAddress("127.0.0.1", 0));
            SocketChannel client = SocketChannel.open(server.getLocalAddress());
            SocketChannel accepted = server.accept();
            return new SocketChannel[] {client, accepted};
        }
    }

    /** Reads everything from {@code ch} until end-of-stream, on another thread. */
    static Future<byte[]> drain(ExecutorService pool, ReadableByteChannel ch) {
        return pool.submit(() -> {
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            ByteBuffer buf = ByteBuffer.allocate(1 << 16);
            while (ch.read(buf) >= 0) {
                buf.flip();
                out.write(buf.array(), 0, buf.limit());
                buf.clear();
            }
            return out.toByteArray();
        });
    }

    /** Reads and discards everything from {@code ch} until end-of-stream; the count of bytes. */
    static Future<Long> discard(ExecutorService pool, SocketChannel ch) {
        return pool.submit(() -> {
            ByteBuffer buf = ByteBuffer.allocateDirect(1 << 16);
            long total = 0;
            for (int n; (n = ch.read(buf)) >= 0; buf.clear()) {
                total += n;
            }
            return total;
        });
    }

    /** Open descriptors of this process (entries of /proc/self/fd). */
    static long openFds() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }

    /** Mappings of this process (lines of /proc/self/maps). */
    static long mappings() throws IOException {
        try (Stream<String> s = Files.lines(Path.of("/proc/self/maps"))) {
            return s.count();
        }
    }

    /** Lines of /proc/self/maps that name {@code path}. */
    static long mappingsOf(Path path) throws IOException {
        String name = path.toAbsolutePath().toString();
        try (Stream<String> s = Files.lines(Path.of("/proc/self/maps"))) {
            return s.filter(l -> l.endsWith(name) || l.contains(name + " ")).count();
        }
    }

    /** Runs the GC until the cleaners have released the closed regions' address ranges. */
    static void collect() throws InterruptedException {
        for (int i = 0; i < 5; i++) {
            System.gc();
            Thread.sleep(20);
        }
    }

    static int javaFeature() {
        return Runtime.version().feature();
    }
}
