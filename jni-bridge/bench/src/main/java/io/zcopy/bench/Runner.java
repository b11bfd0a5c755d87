package io.zcopy.bench;

import io.zcopy.MappedRegion;
import io.zcopy.TransferMethod;
import io.zcopy.ZeroCopy;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SocketChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The Java runner of the showcase ({@code make demo}, tests/showcase/README.md): moves
 * {@code --size} bytes of {@code --src} to a file or a loopback socket with one strategy and prints
 * one JSON line per round; or, with {@code --fetch URL}, downloads an HTTP body with
 * {@link ZeroCopy#transferFrom} and prints its size, SHA-256 and the kernel path.
 *
 * <pre>
 * java -cp zcopy-bench.jar io.zcopy.bench.Runner --src FILE --size BYTES --target file:PATH|socket:HOST:PORT
 *      --strategy NAME --rounds N
 * java -cp zcopy-bench.jar io.zcopy.bench.Runner --strategy list
 * java -cp zcopy-bench.jar io.zcopy.bench.Runner --fetch http://127.0.0.1:8080/file
 * </pre>
 */
public final class Runner {
    /** The strategies, in the order {@code --strategy list} prints them. */
    static final List<String> STRATEGIES = List.of("jdk:transferTo", "jdk:read-write-1m", "zcopy:auto",
            "zcopy:read/write", "zcopy:mmap+write", "zcopy:sendfile", "zcopy:splice", "zcopy:copy_file_range");

    private Runner() {}

    private interface Strategy {
        /** Moves {@code size} bytes; returns the kernel path that moved them. */
        String run(FileChannel src, long size, WritableByteChannel out) throws IOException;
    }

    /**
     * The system calls the last zcopy strategy run made, as {@code ZeroCopy.lastTransfer()}
     * counts them (the guards' and the core's calls); -1 for the JDK's strategies, which do not
     * say, and when a call made more than the 255 it can count (the showcase then estimates them
     * with perf).
     */
    private static long syscalls = -1;

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (!args[i].startsWith("--")) {
                usage("unexpected argument " + args[i]);
            }
            opt.put(args[i].substring(2), args[i + 1]);
        }
        if (opt.containsKey("fetch")) {
            System.exit(fetch(opt.get("fetch")));
        }
        String strategy = opt.get("strategy");
        if ("list".equals(strategy)) {
            STRATEGIES.forEach(System.out::println);
            return;
        }
        if (strategy == null || !STRATEGIES.contains(strategy)) {
            usage("unknown strategy " + strategy + ": one of " + String.join(", ", STRATEGIES));
        }
        if (!opt.containsKey("src") || !opt.containsKey("size") || !opt.containsKey("target")) {
            usage("--src, --size and --target are needed (or --strategy list, or --fetch URL)");
        }
        long size = Long.parseLong(opt.get("size"));
        int rounds = Integer.parseInt(opt.getOrDefault("rounds", "1"));
        String target = opt.get("target");
        Strategy run = strategy(strategy, target.startsWith("file:"));
        ZeroCopy.nativeVersion(); // load the native library before any clock starts
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        try (FileChannel src = FileChannel.open(Path.of(opt.get("src")))) {
            if (src.size() < size) {
                usage("--size " + size + " is more than " + opt.get("src") + " holds (" + src.size() + " bytes)");
            }
            for (int round = 0; round < rounds; round++) {
                try (WritableByteChannel out = open(target)) {
                    long cpu0 = mx.getCurrentThreadCpuTime();
                    long ctx0 = contextSwitches();
                    long t0 = System.nanoTime();
                    syscalls = -1;
                    String method = run.run(src, size, out);
                    long t1 = System.nanoTime();
                    long cpu1 = mx.getCurrentThreadCpuTime();
                    long ctx1 = contextSwitches();
                    System.out.printf(Locale.ROOT,
                            "{\"lang\": \"java\", \"strategy\": \"%s\", \"target\": \"%s\", \"round\": %d, \"bytes\": %d, "
                                    + "\"wall_s\": %.6f, \"cpu_s\": %.6f, \"ctx\": %d, \"method\": \"%s\", \"syscalls\": %s}%n",
                            strategy, target.startsWith("file:") ? "file" : "socket", round, size, (t1 - t0) / 1e9,
                            (cpu1 - cpu0) / 1e9, ctx1 - ctx0, method, syscalls < 0 ? "null" : Long.toString(syscalls));
                }
            }
        }
    }

    private static Strategy strategy(String name, boolean fileTarget) {
        switch (name) {
            case "jdk:transferTo":
                return (src, size, out) -> {
                    for (long done = 0; done < size; ) {
                        done += src.transferTo(done, size - done, out);
                    }
                    // The JDK's own path: copy_file_range file to file since JDK 20, sendfile otherwise.
                    return fileTarget && Runtime.version().feature() >= 20 ? "copy_file_range" : "sendfile";
                };
            case "jdk:read-write-1m":
                return (src, size, out) -> {
                    ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
                    for (long done = 0; done < size; ) {
                        buf.clear().limit((int) Math.min(buf.capacity(), size - done));
                        int n = src.read(buf, done);
                        if (n <= 0) {
                            break;
                        }
                        buf.flip();
                        while (buf.hasRemaining()) {
                            out.write(buf);
                        }
                        done += n;
                    }
                    return "read/write";
                };
            default: {
                TransferMethod forced = null;
                for (TransferMethod m : TransferMethod.values()) {
                    if (name.equals("zcopy:" + m)) {
                        forced = m;
                    }
                }
                TransferMethod method = forced;
                return (src, size, out) -> {
                    String used = "none";
                    long calls = 0;
                    for (long done = 0; done < size; ) {
                        long n = method == null ? ZeroCopy.transferTo(src, done, size - done, out)
                                : ZeroCopy.transferTo(src, done, size - done, out, method);
                        int made = ZeroCopy.lastTransfer().syscalls();
                        // The count saturates at 1,023 per call (Transfer.syscalls): then it is
                        // not known exactly.
                        calls = made >= 1023 || calls < 0 ? -1 : calls + made;
                        if (n == 0) {
                            break;
                        }
                        done += n;
                        used = ZeroCopy.lastMethod().toString();
                    }
                    syscalls = calls;
                    return used;
                };
            }
        }
    }

    private static WritableByteChannel open(String target) throws IOException {
        if (target.startsWith("file:")) {
            return FileChannel.open(Path.of(target.substring(5)), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        }
        if (target.startsWith("socket:")) {
            String hostPort = target.substring(7);
            int colon = hostPort.lastIndexOf(':');
            return SocketChannel.open(
                    new InetSocketAddress(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1))));
        }
        usage("--target must be file:PATH or socket:HOST:PORT, not " + target);
        return null;
    }

    /** Voluntary + involuntary context switches of this thread (/proc/thread-self/status). */
    private static long contextSwitches() {
        try {
            long total = 0;
            for (String line : Files.readAllLines(Path.of("/proc/thread-self/status"))) {
                if (line.startsWith("voluntary_ctxt_switches") || line.startsWith("nonvoluntary_ctxt_switches")) {
                    total += Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
            return total;
        } catch (IOException e) {
            return -1;
        }
    }

    /** Downloads {@code url}'s body into a temporary file with transferFrom; prints bytes, SHA-256, method. */
    static int fetch(String url) throws Exception {
        URI uri = URI.create(url);
        if (!"http".equals(uri.getScheme()) || uri.getHost() == null) {
            usage("--fetch needs an http:// URL, not " + url);
        }
        String path = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
        if (uri.getRawQuery() != null) {
            path += "?" + uri.getRawQuery();
        }
        int port = uri.getPort() < 0 ? 80 : uri.getPort();
        Path tmp = Files.createTempFile("zcopy-fetch", ".body");
        try (SocketChannel sock = SocketChannel.open(new InetSocketAddress(uri.getHost(), port));
                FileChannel body = FileChannel.open(tmp, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            String request = "GET " + path + " HTTP/1.1\r\nHost: " + uri.getRawAuthority() + "\r\nConnection: close\r\n\r\n";
            ByteBuffer req = ByteBuffer.wrap(request.getBytes(StandardCharsets.ISO_8859_1));
            while (req.hasRemaining()) {
                sock.write(req);
            }
            String[] lines = readHead(sock).split("\r\n");
            String[] status = lines[0].split(" ", 3);
            if (status.length < 2 || !status[1].equals("200")) {
                System.err.println("io.zcopy.bench.Runner: " + url + ": " + lines[0]);
                return 1;
            }
            long length = -1;
            for (String line : lines) {
                int colon = line.indexOf(':');
                if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase("content-length")) {
                    length = Long.parseLong(line.substring(colon + 1).trim());
                }
            }
            if (length < 0) {
                System.err.println("io.zcopy.bench.Runner: " + url + ": no Content-Length");
                return 1;
            }
            long received = 0;
            String method = "none";
            while (received < length) {
                long n = ZeroCopy.transferFrom(body, sock, received, length - received);
                if (n == 0) {
                    break; // the server closed early
                }
                received += n;
                method = ZeroCopy.lastMethod().toString();
            }
            if (received != length) {
                System.err.println("io.zcopy.bench.Runner: " + url + ": received " + received + " of " + length + " bytes");
                return 1;
            }
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            if (length > 0) {
                try (MappedRegion region = ZeroCopy.map(body, FileChannel.MapMode.READ_ONLY, 0, length)) {
                    for (long off = 0; off < length; ) {
                        int n = (int) Math.min(1 << 30, length - off);
                        sha.update(region.slice(off, n)); // hashed in place, without a copy
                        off += n;
                    }
                }
            }
            StringBuilder hex = new StringBuilder();
            for (byte b : sha.digest()) {
                hex.append(String.format("%02x", b));
            }
            System.out.printf("{\"bytes\": %d, \"sha256\": \"%s\", \"method\": \"%s\"}%n", received, hex, method);
            return 0;
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Reads the response head byte by byte, so that no body byte is consumed. */
    private static String readHead(SocketChannel sock) throws IOException {
        StringBuilder head = new StringBuilder();
        ByteBuffer one = ByteBuffer.allocate(1);
        while (!head.toString().endsWith("\r\n\r\n")) {
            one.clear();
            if (sock.read(one) < 0) {
                throw new IOException("the server closed before the end of the response head");
            }
            head.append((char) (one.get(0) & 0xff));
            if (head.length() > 65536) {
                throw new IOException("response head too long");
            }
        }
        return head.toString();
    }

    private static void usage(String message) {
        System.err.println("io.zcopy.bench.Runner: " + message);
        System.exit(2);
    }
}
