package io.zcopy.examples;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The check of {@link VirtualThreadFileServer} under slow clients, with zcopy bodies and with
 * the JDK's (run by {@code make test-java} on the newest JDK; needs JDK 21+):
 *
 * <ul>
 *   <li>the basics: a whole file, a range, HEAD, 404;
 *   <li>slow clients: 8 clients read an 8 MiB body in 64 KiB steps 5 ms apart while 32 others
 *       fetch a 4 KiB file 50 times each on keep-alive connections: every byte right, both
 *       servers;
 *   <li>stalled clients: 8 clients ask for a 64 MiB body and read nothing while the 32 others
 *       fetch: the zcopy server answers them all within 10 s (each stalled client holds only its
 *       own virtual thread); the JDK server's outcome is printed, not checked (its
 *       {@code transferTo} returns 0 on a full socket, and the loop around it spins on the
 *       carrier).
 * </ul>
 *
 * <pre>
 * java -cp zcopy.jar:zcopy-examples.jar:test-classes io.zcopy.examples.VirtualServersCheck WORKDIR
 * </pre>
 */
public final class VirtualServersCheck {
    private static final int FAST_CLIENTS = 32;
    private static final int FAST_REQUESTS = 50;
    private static final int SLOW_CLIENTS = 8;

    private VirtualServersCheck() {}

    public static void main(String[] args) throws Exception {
        Path root = Files.createDirectories(Path.of(args[0]).resolve("www"));
        Random random = new Random(16);
        byte[] small = new byte[4096];
        byte[] body = new byte[8 << 20];
        random.nextBytes(small);
        random.nextBytes(body);
        Files.write(root.resolve("4k.bin"), small);
        Files.write(root.resolve("8m.bin"), body);
        Files.write(root.resolve("64m.bin"), new byte[64 << 20]);
        for (String kind : new String[] {"zcopy", "jdk"}) {
            Process server = start(root, kind);
            try {
                int port = port(server);
                basics(port, small, body);
                System.out.printf("%s: slow clients: %s%n", kind, underSlowClients(port, small, body));
                String stalled = underStalledClients(port, small);
                System.out.printf("%s: stalled clients: %s%n", kind, stalled);
                check(!kind.equals("zcopy") || stalled.startsWith("served"), kind + " server with stalled clients: " + stalled);
            } finally {
                server.destroyForcibly().waitFor();
            }
        }
        System.out.println("VirtualServersCheck: passed");
        System.exit(0); // the stalled JDK server's clients may still be blocked
    }

    private static void check(boolean ok, String what) {
        if (!ok) {
            System.err.println("VirtualServersCheck: FAILED: " + what);
            System.exit(1);
        }
    }

    private static Process start(Path root, String body) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        return new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                VirtualThreadFileServer.class.getName(), "--root", root.toString(), "--port", "0", "--body", body)
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    }

    private static int port(Process server) throws IOException {
        StringBuilder line = new StringBuilder();
        InputStream out = server.getInputStream();
        for (int c; (c = out.read()) >= 0 && c != '\n'; ) {
            line.append((char) c);
        }
        check(line.toString().startsWith("listening on "), "the server's first line: " + line);
        String text = line.toString();
        return Integer.parseInt(text.substring(text.lastIndexOf(":") + 1).trim());
    }

    /** An HTTP/1.1 connection of a test client. */
    private static final class Client implements AutoCloseable {
        final Socket socket;
        final InputStream in;
        final OutputStream out;

        Client(int port) throws IOException {
            socket = new Socket("127.0.0.1", port);
            in = socket.getInputStream();
            out = socket.getOutputStream();
        }

        void ask(String method, String path, String extra) throws IOException {
            out.write((method + " " + path + " HTTP/1.1\r\nHost: check\r\n" + extra + "\r\n").getBytes(StandardCharsets.US_ASCII));
        }

        /** The status line and headers of the next response. */
        String head() throws IOException {
            ByteArrayOutputStream head = new ByteArrayOutputStream();
            while (true) {
                int c = in.read();
                check(c >= 0, "a response head, got the end of the stream after " + head);
                head.write(c);
                byte[] h = head.toByteArray();
                if (h.length >= 4 && h[h.length - 4] == '\r' && h[h.length - 3] == '\n' && h[h.length - 2] == '\r'
                        && h[h.length - 1] == '\n') {
                    return new String(h, StandardCharsets.US_ASCII);
                }
            }
        }

        /** The body announced by {@code head}, read {@code step} bytes at a time, {@code pauseMillis} apart. */
        byte[] body(String head, int step, long pauseMillis) throws IOException, InterruptedException {
            int at = head.indexOf("Content-Length: ") + 16;
            int length = Integer.parseInt(head.substring(at, head.indexOf('\r', at)));
            byte[] b = new byte[length];
            for (int got = 0; got < length; ) {
                int n = in.read(b, got, Math.min(step, length - got));
                check(n > 0, "a body of " + length + " bytes, the stream ended at " + got);
                got += n;
                if (pauseMillis > 0) {
                    Thread.sleep(pauseMillis);
                }
            }
            return b;
        }

        byte[] get(String path) throws IOException, InterruptedException {
            ask("GET", path, "");
            return body(head(), 1 << 16, 0);
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    private static void basics(int port, byte[] small, byte[] body) throws Exception {
        try (Client c = new Client(port)) {
            check(Arrays.equals(body, c.get("/8m.bin")), "GET /8m.bin");
            c.ask("GET", "/4k.bin", "Range: bytes=100-199\r\n");
            String h = c.head();
            check(h.startsWith("HTTP/1.1 206") && Arrays.equals(Arrays.copyOfRange(small, 100, 200), c.body(h, 4096, 0)), "a range");
            c.ask("HEAD", "/8m.bin", "");
            check(c.head().contains("Content-Length: " + body.length), "HEAD");
            c.ask("GET", "/nothing", "");
            check(c.head().startsWith("HTTP/1.1 404"), "404");
        }
    }

    /** {@link #FAST_CLIENTS} keep-alive clients fetching the 4 KiB file; every byte checked. */
    private static List<Future<?>> fastClients(ExecutorService pool, int port, byte[] small) {
        List<Future<?>> fast = new ArrayList<>();
        for (int i = 0; i < FAST_CLIENTS; i++) {
            fast.add(pool.submit(() -> {
                try (Client c = new Client(port)) {
                    for (int r = 0; r < FAST_REQUESTS; r++) {
                        check(Arrays.equals(small, c.get("/4k.bin")), "GET /4k.bin");
                    }
                }
                return null;
            }));
        }
        return fast;
    }

    private static String underSlowClients(int port, byte[] small, byte[] body) throws Exception {
        ExecutorService pool = Executors.newCachedThreadPool();
        try {
            long t0 = System.nanoTime();
            List<Future<?>> slow = new ArrayList<>();
            for (int i = 0; i < SLOW_CLIENTS; i++) {
                slow.add(pool.submit(() -> {
                    try (Client c = new Client(port)) {
                        c.ask("GET", "/8m.bin", "");
                        check(Arrays.equals(body, c.body(c.head(), 1 << 16, 5)), "a slow client's body");
                    }
                    return null;
                }));
            }
            for (Future<?> f : fastClients(pool, port, small)) {
                f.get(60, TimeUnit.SECONDS);
            }
            long fast = System.nanoTime() - t0;
            for (Future<?> f : slow) {
                f.get(60, TimeUnit.SECONDS);
            }
            return String.format("%d fast requests in %.2f s, %d slow 8 MiB bodies in %.2f s, every byte right",
                    FAST_CLIENTS * FAST_REQUESTS, fast / 1e9, SLOW_CLIENTS, (System.nanoTime() - t0) / 1e9);
        } finally {
            pool.shutdownNow();
        }
    }

    private static String underStalledClients(int port, byte[] small) throws Exception {
        List<Client> stalled = new ArrayList<>();
        ExecutorService pool = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r);
            t.setDaemon(true);
            return t;
        });
        try {
            for (int i = 0; i < SLOW_CLIENTS; i++) {
                Client c = new Client(port);
                c.socket.setReceiveBufferSize(4096);
                c.ask("GET", "/64m.bin", "");
                stalled.add(c);
            }
            Thread.sleep(300); // their responses fill the sockets
            long t0 = System.nanoTime();
            try {
                for (Future<?> f : fastClients(pool, port, small)) {
                    f.get(Math.max(1, 10_000_000_000L - (System.nanoTime() - t0)), TimeUnit.NANOSECONDS);
                }
            } catch (TimeoutException e) {
                return "stalled: the other clients were not answered within 10 s";
            }
            return String.format("served %d requests in %.2f s beside %d clients that read nothing",
                    FAST_CLIENTS * FAST_REQUESTS, (System.nanoTime() - t0) / 1e9, SLOW_CLIENTS);
        } finally {
            pool.shutdownNow();
            for (Client c : stalled) {
                c.close();
            }
        }
    }
}
