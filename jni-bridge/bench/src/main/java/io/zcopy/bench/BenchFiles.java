package io.zcopy.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channel;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/** Files and loopback sockets shared by the benchmarks. */
final class BenchFiles {
    private BenchFiles() {}

    static Path dir() throws IOException {
        Path d = Path.of(System.getProperty("zcopy.bench.dir", System.getProperty("java.io.tmpdir")));
        return Files.createDirectories(d);
    }

    /** A file of {@code size} random bytes (written in 8 MiB blocks), created once per name and size. */
    static Path file(String name, long size) throws IOException {
        Path p = dir().resolve("zcopy-bench-" + name + "-" + size);
        if (Files.exists(p) && Files.size(p) == size) {
            return p;
        }
        byte[] block = new byte[8 << 20];
        ThreadLocalRandom.current().nextBytes(block);
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            for (long done = 0; done < size; ) {
                int n = (int) Math.min(block.length, size - done);
                done += ch.write(ByteBuffer.wrap(block, 0, n), done);
            }
        }
        return p;
    }

    /** Closes a benchmark's channels and deletes its target file ({@code target} null: none). */
    static void release(Path target, Channel... channels) throws IOException {
        for (Channel c : channels) {
            c.close();
        }
        if (target != null) {
            Files.deleteIfExists(target);
        }
    }

    /** A loopback TCP connection whose far end is drained (and discarded) by a daemon thread. */
    static SocketChannel drainedSocket() throws IOException {
        ServerSocketChannel server = ServerSocketChannel.open();
        server.bind(new InetSocketAddress("127.0.0.1", 0));
        SocketChannel client = SocketChannel.open(server.getLocalAddress());
        SocketChannel far = server.accept();
        server.close();
        Thread t = new Thread(() -> {
            ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
            try {
                while (far.read(buf) >= 0) {
                    buf.clear();
                }
            } catch (IOException ignored) {
                // the benchmark closed the connection
            }
        }, "drain");
        t.setDaemon(true);
        t.start();
        return client;
    }

    /**
     * Sets SIGPIPE to SIG_IGN (through sun.misc.Signal, by reflection: a supported but internal
     * API). Each JMH fork runs one parameter set, so this affects only its own fork.
     */
    static void ignoreSigpipe() {
        try {
            Class<?> signal = Class.forName("sun.misc.Signal");
            Class<?> handler = Class.forName("sun.misc.SignalHandler");
            Object pipe = signal.getConstructor(String.class).newInstance("PIPE");
            Object ign = handler.getField("SIG_IGN").get(null);
            signal.getMethod("handle", signal, handler).invoke(null, pipe, ign);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot ignore SIGPIPE here", e);
        }
    }
}
