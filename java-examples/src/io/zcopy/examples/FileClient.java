package io.zcopy.examples;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The client of {@link FileServer}: {@code CLIENTS} concurrent connections each fetch
 * {@code NAME} and check the length the server announced; prints the throughput.
 *
 * <pre>
 * java -cp target/classes io.zcopy.examples.FileClient PORT NAME [CLIENTS] [ROUNDS]
 * </pre>
 */
public final class FileClient {
    static long fetch(int port, String name) throws IOException {
        try (SocketChannel ch = SocketChannel.open(new InetSocketAddress("127.0.0.1", port))) {
            ch.write(ByteBuffer.wrap(("GET " + name + "\n").getBytes(StandardCharsets.US_ASCII)));
            ByteBuffer buf = ByteBuffer.allocate(1 << 16);
            StringBuilder header = new StringBuilder();
            long expected = -1;
            long got = 0;
            while (ch.read(buf) >= 0) {
                buf.flip();
                if (expected < 0) {
                    while (buf.hasRemaining()) {
                        char c = (char) buf.get();
                        if (c == '\n') {
                            String h = header.toString();
                            if (!h.startsWith("OK ")) {
                                throw new IOException("server said: " + h);
                            }
                            expected = Long.parseLong(h.substring(3));
                            break;
                        }
                        header.append(c);
                    }
                }
                got += buf.remaining();
                buf.clear();
            }
            if (got != expected) {
                throw new IOException("expected " + expected + " bytes, got " + got);
            }
            return got;
        }
    }

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        String name = args[1];
        int clients = args.length > 2 ? Integer.parseInt(args[2]) : 8;
        int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 1;
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        long start = System.nanoTime();
        List<Future<Long>> results = new ArrayList<>();
        for (int i = 0; i < clients * rounds; i++) {
            results.add(pool.submit(() -> fetch(port, name)));
        }
        long total = 0;
        for (Future<Long> f : results) {
            total += f.get();
        }
        pool.shutdown();
        double secs = (System.nanoTime() - start) / 1e9;
        System.out.printf("%d fetches of %s: %d bytes in %.3f s (%.1f MiB/s)%n", results.size(), name, total, secs,
                total / secs / (1 << 20));
    }
}
