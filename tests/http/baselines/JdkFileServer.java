// The platform baseline for `make bench-http`: a static-file HTTP/1.1 server built only from the
// JDK (java.nio Selector + FileChannel.transferTo), structured like the zcopy Java server so
// that the comparison measures the I/O layer, not the HTTP code. Run with the source launcher:
//
//   java tests/http/baselines/JdkFileServer.java --root DIR --port 0 [--threads N]
//
// It prints "listening on 127.0.0.1:PORT" and stops on SIGINT/SIGTERM.

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.net.URLDecoder;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Iterator;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicBoolean;

public final class JdkFileServer {
    static final AtomicBoolean running = new AtomicBoolean(true);

    public static void main(String[] args) throws Exception {
        Path root = Path.of(".");
        int port = 0;
        int threads = Runtime.getRuntime().availableProcessors();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--root" -> root = Path.of(args[++i]);
                case "--port" -> port = Integer.parseInt(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        Path realRoot = root.toRealPath();
        ServerSocketChannel server = ServerSocketChannel.open();
        server.setOption(StandardSocketOptions.SO_REUSEADDR, true);
        server.bind(new InetSocketAddress("127.0.0.1", port), 1024);
        server.configureBlocking(false);
        Thread[] loops = new Thread[threads];
        Selector[] selectors = new Selector[threads];
        for (int i = 0; i < threads; i++) {
            Selector sel = Selector.open();
            selectors[i] = sel;
            server.register(sel, SelectionKey.OP_ACCEPT);
            loops[i] = new Thread(() -> loop(sel, server, realRoot), "loop-" + i);
            loops[i].start();
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            running.set(false);
            for (Selector s : selectors) s.wakeup();
            for (Thread t : loops) {
                try { t.join(2000); } catch (InterruptedException ignored) { }
            }
        }));
        InetSocketAddress bound = (InetSocketAddress) server.getLocalAddress();
        System.out.println("listening on 127.0.0.1:" + bound.getPort());
        System.out.flush();
        for (Thread t : loops) t.join();
    }

    static void loop(Selector sel, ServerSocketChannel server, Path root) {
        try {
            while (running.get()) {
                sel.select(500);
                Iterator<SelectionKey> it = sel.selectedKeys().iterator();
                while (it.hasNext()) {
                    SelectionKey key = it.next();
                    it.remove();
                    if (!key.isValid()) continue;
                    if (key.isAcceptable()) {
                        SocketChannel ch = server.accept();
                        if (ch == null) continue; // another loop took it
                        ch.configureBlocking(false);
                        ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
                        ch.register(sel, SelectionKey.OP_READ, new Conn(ch, root));
                    } else {
                        Conn c = (Conn) key.attachment();
                        try {
                            c.step(key);
                        } catch (IOException e) {
                            c.close(key);
                        }
                    }
                }
            }
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    static final class Conn {
        final SocketChannel ch;
        final Path root;
        final ByteBuffer in = ByteBuffer.allocate(16 * 1024);
        ByteBuffer header;
        FileChannel body;
        long bodyPos, bodyEnd;
        boolean keepAlive;

        Conn(SocketChannel ch, Path root) { this.ch = ch; this.root = root; }

        void close(SelectionKey key) {
            key.cancel();
            try { ch.close(); } catch (IOException ignored) { }
            closeBody();
        }

        void closeBody() {
            if (body != null) {
                try { body.close(); } catch (IOException ignored) { }
                body = null;
            }
        }

        void step(SelectionKey key) throws IOException {
            if (header == null) {
                int n = ch.read(in);
                if (n < 0) { close(key); return; }
                if (!parse()) {
                    if (!in.hasRemaining()) { respondError(400, "Bad Request"); } else return;
                }
            }
            // Write the header, then the body with transferTo; stop when the socket is full.
            while (header != null) {
                if (header.hasRemaining()) {
                    ch.write(header);
                    if (header.hasRemaining()) { key.interestOps(SelectionKey.OP_WRITE); return; }
                }
                while (body != null && bodyPos < bodyEnd) {
                    long n = body.transferTo(bodyPos, bodyEnd - bodyPos, ch);
                    if (n == 0) { key.interestOps(SelectionKey.OP_WRITE); return; }
                    bodyPos += n;
                }
                closeBody();
                header = null;
                if (!keepAlive) { close(key); return; }
                if (!parse()) { key.interestOps(SelectionKey.OP_READ); return; }
            }
        }

        /** Parses one request from `in` if it holds a whole head; sets up the response. */
        boolean parse() throws IOException {
            int end = headEnd();
            if (end < 0) return false;
            String head = new String(in.array(), 0, end, StandardCharsets.ISO_8859_1);
            int consumed = end + 4;
            System.arraycopy(in.array(), consumed, in.array(), 0, in.position() - consumed);
            in.position(in.position() - consumed);
            String[] lines = head.split("\r\n");
            String[] req = lines[0].split(" ");
            if (req.length != 3 || !req[2].startsWith("HTTP/1.")) { respondError(400, "Bad Request"); return true; }
            keepAlive = req[2].equals("HTTP/1.1");
            String range = null;
            for (int i = 1; i < lines.length; i++) {
                int c = lines[i].indexOf(':');
                if (c <= 0) { respondError(400, "Bad Request"); return true; }
                String name = lines[i].substring(0, c).trim().toLowerCase(Locale.ROOT);
                String value = lines[i].substring(c + 1).trim();
                if (name.equals("connection")) {
                    if (value.equalsIgnoreCase("close")) keepAlive = false;
                    else if (value.equalsIgnoreCase("keep-alive")) keepAlive = true;
                } else if (name.equals("range")) {
                    range = value;
                }
            }
            boolean head_ = req[0].equals("HEAD");
            if (!head_ && !req[0].equals("GET")) { respondError(405, "Method Not Allowed"); return true; }
            Path file = resolve(req[1]);
            if (file == null) { respondError(404, "Not Found"); return true; }
            FileChannel fc = FileChannel.open(file, StandardOpenOption.READ);
            long size = fc.size();
            long start = 0, last = size - 1;
            int status = 200;
            if (range != null) {
                long[] r = parseRange(range, size);
                if (r == null) { fc.close(); respondError(416, "Range Not Satisfiable"); return true; }
                start = r[0]; last = r[1]; status = 206;
            }
            long len = size == 0 ? 0 : last - start + 1;
            StringBuilder sb = new StringBuilder();
            sb.append("HTTP/1.1 ").append(status).append(status == 206 ? " Partial Content" : " OK").append("\r\n");
            sb.append("Content-Length: ").append(len).append("\r\n");
            if (status == 206) sb.append("Content-Range: bytes ").append(start).append('-').append(last).append('/').append(size).append("\r\n");
            sb.append("Content-Type: application/octet-stream\r\nAccept-Ranges: bytes\r\n");
            if (!keepAlive) sb.append("Connection: close\r\n");
            sb.append("\r\n");
            header = ByteBuffer.wrap(sb.toString().getBytes(StandardCharsets.ISO_8859_1));
            if (head_ || len == 0) { fc.close(); } else { body = fc; bodyPos = start; bodyEnd = start + len; }
            return true;
        }

        int headEnd() {
            byte[] a = in.array();
            for (int i = 0; i + 3 < in.position(); i++) {
                if (a[i] == '\r' && a[i + 1] == '\n' && a[i + 2] == '\r' && a[i + 3] == '\n') return i;
            }
            return -1;
        }

        void respondError(int code, String reason) {
            String body = code + " " + reason + "\n";
            String resp = "HTTP/1.1 " + code + " " + reason + "\r\nContent-Length: " + body.length()
                    + "\r\nContent-Type: text/plain\r\n" + (keepAlive ? "" : "Connection: close\r\n") + "\r\n" + body;
            header = ByteBuffer.wrap(resp.getBytes(StandardCharsets.ISO_8859_1));
            if (code == 400) { keepAlive = false; in.clear(); }
        }

        /** The file under root named by the request target, or null (missing, escaping, not a regular file). */
        Path resolve(String target) {
            int q = target.indexOf('?');
            if (q >= 0) target = target.substring(0, q);
            if (!target.startsWith("/") || target.toLowerCase(Locale.ROOT).contains("%2f") || target.contains("%00")) return null;
            String decoded;
            try { decoded = URLDecoder.decode(target.replace("+", "%2B"), StandardCharsets.UTF_8); }
            catch (IllegalArgumentException e) { return null; }
            for (String seg : decoded.split("/")) if (seg.equals("..")) return null;
            try {
                Path p = root.resolve(decoded.substring(1)).normalize();
                if (!p.startsWith(root)) return null;
                Path real = p.toRealPath();
                if (!real.startsWith(root) || !Files.isRegularFile(real, LinkOption.NOFOLLOW_LINKS)) return null;
                return real;
            } catch (IOException | java.nio.file.InvalidPathException e) {
                return null;
            }
        }

        static long[] parseRange(String value, long size) {
            if (!value.startsWith("bytes=") || value.indexOf(',') >= 0) return null;
            String spec = value.substring(6).trim();
            int dash = spec.indexOf('-');
            if (dash < 0) return null;
            try {
                String a = spec.substring(0, dash).trim(), b = spec.substring(dash + 1).trim();
                long start, last;
                if (a.isEmpty()) {
                    long suffix = Long.parseLong(b);
                    if (suffix <= 0) return null;
                    start = Math.max(0, size - suffix);
                    last = size - 1;
                } else {
                    start = Long.parseLong(a);
                    last = b.isEmpty() ? size - 1 : Math.min(Long.parseLong(b), size - 1);
                }
                if (start < 0 || start >= size || last < start) return null;
                return new long[] {start, last};
            } catch (NumberFormatException e) {
                return null;
            }
        }
    }
}
