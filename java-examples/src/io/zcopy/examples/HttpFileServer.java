package io.zcopy.examples;

import io.zcopy.EpollSelector;
import io.zcopy.ZeroCopy;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * A minimal HTTP/1.1 static file server on zcopy: one event loop per core, each on its own
 * {@link EpollSelector} and its own listening socket; response headers and bodies sent by the
 * kernel with {@link ZeroCopy#transferToWithHeader} and {@link ZeroCopy#transferTo}
 * ({@code sendfile}).
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -cp zcopy.jar:zcopy-examples.jar \
 *      io.zcopy.examples.HttpFileServer --root DIR --port PORT [--threads N] [--addr 127.0.0.1]
 * </pre>
 *
 * <p>Serves the regular files under DIR on ADDR:PORT (PORT 0: any free port). Prints
 * {@code listening on ADDR:PORT} once it accepts connections; stops cleanly on SIGINT or
 * SIGTERM (a shutdown hook ends the loops; the JVM then exits with 128 + the signal's number).
 *
 * <p>HTTP: GET and HEAD (no reply to HEAD has a body, errors included); Content-Length on every
 * response; keep-alive (the HTTP/1.1 default; {@code Connection: close} honoured; HTTP/1.0 only
 * with {@code Connection: keep-alive}); pipelined requests answered in order; lines ended by CRLF
 * or by a bare LF; one {@code Range: bytes=a-b} / {@code a-} / {@code -n} answered with 206 and
 * Content-Range, an unsatisfiable one with 416 (a range that does not parse, has a number of
 * more than 18 digits, or several ranges, is ignored: 200, as RFC 9110 allows); 404 for anything
 * that is not a regular file under DIR (directories too), 400 for malformed requests (the
 * connection closes after it), among them any framing but one plain Content-Length (RFC 9112
 * §6.3: two of them, a value that is not a decimal number of at most 18 digits,
 * Transfer-Encoding), 405 for other methods, 505 for HTTP/2 and later. No path escapes: {@code ..}
 * segments (also percent-encoded), encoded slashes and backslashes, control characters and NUL
 * bytes are refused, and a symbolic link may only lead to a file inside DIR.
 *
 * <p>Shape (the same as the C and Python servers): {@code --threads} loops (default: one per
 * core), each with a listening socket on the same port ({@code SO_REUSEPORT}: the kernel spreads
 * new connections over them). Sockets are non-blocking and registered once, edge-triggered, for
 * reading and writing, so a loop never changes a registration: a short read means the socket is
 * drained, {@link ZeroCopy#lastTransfer()}{@code .wouldBlock()} that it is full, and the next
 * edge says when to go on. A response is its header sent with {@code MSG_MORE} and the body right
 * behind it (one TCP segment for a small file), then {@code sendfile} from the offset reached,
 * whenever the socket has room again. Per request the Java work is small: parsed request heads
 * are memoised, each loop keeps its open files with their response headers, and a cached file is
 * checked with one {@code stat} per request (device, inode, size, modification time), so a
 * changed or replaced file is never served stale. SIGPIPE is set to "ignore", as nginx does: the
 * JVM never dies of it anyway, and zcopy's core then does not block it around every transfer.
 */
public final class HttpFileServer {
    static final int HEAD_LIMIT = 16 * 1024; // the largest request head (request line and headers) taken
    static final long IDLE_MILLIS = 60_000; // keep-alive connections idle this long are closed
    static final long LINGER_MILLIS = 5_000; // how long a closing connection waits for the client to close
    static final int FILE_CACHE = 256; // open files kept per loop
    static final int PARSE_CACHE = 1024; // parsed request heads kept per loop
    static final int BUDGET = 32; // requests one connection may take in a row before the others get a turn

    private HttpFileServer() {}

    public static void main(String[] args) throws Exception {
        Path root = null;
        int port = 8080;
        int threads = Runtime.getRuntime().availableProcessors();
        String addr = "127.0.0.1";
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (i + 1 >= args.length) {
                usage("missing value for " + a);
            }
            switch (a) {
                case "--root" -> root = Path.of(args[++i]);
                case "--port" -> port = Integer.parseInt(args[++i]);
                case "--threads" -> threads = Math.max(1, Integer.parseInt(args[++i]));
                case "--addr" -> addr = args[++i];
                default -> usage("unknown argument " + a);
            }
        }
        if (root == null) {
            usage("--root is required");
        }
        Path realRoot = root.toRealPath();
        if (!Files.isDirectory(realRoot)) {
            usage(root + " is not a directory");
        }
        ignoreSigpipe();
        List<Loop> loops = new ArrayList<>();
        int bound = port;
        for (int i = 0; i < threads; i++) {
            ServerSocketChannel listener = ServerSocketChannel.open();
            listener.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            listener.setOption(StandardSocketOptions.SO_REUSEPORT, true);
            listener.bind(new InetSocketAddress(addr, bound), 4096);
            listener.configureBlocking(false);
            bound = ((InetSocketAddress) listener.getLocalAddress()).getPort();
            loops.add(new Loop(listener, realRoot));
        }
        List<Thread> running = new ArrayList<>();
        for (int i = 0; i < loops.size(); i++) {
            Thread t = new Thread(loops.get(i), "http-loop-" + i);
            running.add(t);
            t.start();
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            for (Loop l : loops) {
                l.stop();
            }
            for (Thread t : running) {
                try {
                    t.join(3000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }, "http-stop"));
        System.out.println("listening on " + addr + ":" + bound);
        System.out.flush();
        for (Thread t : running) {
            t.join();
        }
    }

    private static void usage(String why) {
        System.err.println("HttpFileServer: " + why);
        System.err.println("usage: HttpFileServer --root DIR --port PORT [--threads N] [--addr 127.0.0.1]");
        System.exit(2);
    }

    /**
     * SIGPIPE to "ignore", as nginx does. The JVM catches SIGPIPE with a handler that ignores it,
     * which zcopy's core cannot tell from a handler that would act on it, so it blocks the signal
     * around every transfer (two system calls); with SIG_IGN it does not. sun.misc.Signal is a
     * supported internal API (module jdk.unsupported), called by reflection so the example builds
     * warning-free; where it is missing, nothing changes but the cost.
     */
    static void ignoreSigpipe() {
        try {
            Class<?> signal = Class.forName("sun.misc.Signal");
            Class<?> handler = Class.forName("sun.misc.SignalHandler");
            Object pipe = signal.getConstructor(String.class).newInstance("PIPE");
            signal.getMethod("handle", signal, handler).invoke(null, pipe, handler.getField("SIG_IGN").get(null));
        } catch (ReflectiveOperationException | RuntimeException e) {
            System.err.println("HttpFileServer: SIGPIPE stays with the JVM's handler (" + e + ")");
        }
    }

    // ------------------------------------------------------------------ requests

    /**
     * A parsed request head. {@code status} 0: serve {@code path} (relative, decoded and checked);
     * otherwise the error to answer. {@code head}: the method is HEAD, so the reply has no body,
     * whatever its status.
     */
    record Parsed(int status, boolean head, String path, boolean keep, boolean http10, String range,
            long contentLength) {
        static Parsed error(int status, boolean head, boolean keep, boolean http10, long contentLength) {
            return new Parsed(status, head, "", keep, http10, null, contentLength);
        }
    }

    /**
     * Parses a request head: its lines, without the LF that ends the last one and without the
     * empty line after it. A line ends in LF, with or without a CR before it (RFC 9112 §2.2 lets a
     * recipient take a bare LF for a line terminator, as nginx does); a CR anywhere else is
     * invalid (also §2.2: a reader that took it for a line break would see other header lines).
     */
    static Parsed parseHead(String head) {
        boolean isHead = head.startsWith("HEAD "); // whatever else is wrong with the request
        String[] lines = head.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].endsWith("\r")) {
                lines[i] = lines[i].substring(0, lines[i].length() - 1);
            }
            if (lines[i].indexOf('\r') >= 0) {
                return Parsed.error(400, isHead, false, false, 0);
            }
        }
        String[] parts = lines[0].split(" ", -1);
        if (parts.length != 3 || parts[0].isEmpty() || parts[1].isEmpty()) {
            return Parsed.error(400, isHead, false, false, 0);
        }
        String method = parts[0];
        String target = parts[1];
        String version = parts[2];
        boolean keep;
        boolean http10;
        if (version.equals("HTTP/1.1")) {
            keep = true;
            http10 = false;
        } else if (version.equals("HTTP/1.0")) {
            keep = false;
            http10 = true;
        } else if (version.length() == 8 && version.startsWith("HTTP/") && version.charAt(5) >= '2'
                && version.charAt(5) <= '9' && version.charAt(6) == '.') {
            return Parsed.error(505, isHead, false, false, 0);
        } else {
            return Parsed.error(400, isHead, false, false, 0);
        }
        String range = null;
        long length = 0;
        boolean haveLength = false;
        for (int i = 1; i < lines.length; i++) {
            String line = lines[i];
            int colon = line.indexOf(':');
            if (colon <= 0) {
                return Parsed.error(400, isHead, false, http10, 0);
            }
            String name = line.substring(0, colon);
            if (name.indexOf(' ') >= 0 || name.indexOf('\t') >= 0) {
                return Parsed.error(400, isHead, false, http10, 0);
            }
            String value = trimOws(line.substring(colon + 1));
            switch (name.toLowerCase(Locale.ROOT)) {
                case "connection" -> {
                    boolean close = false;
                    boolean keepAlive = false;
                    for (String token : value.split(",")) {
                        String t = token.trim().toLowerCase(Locale.ROOT);
                        close |= t.equals("close");
                        keepAlive |= t.equals("keep-alive");
                    }
                    if (close) {
                        keep = false;
                    } else if (keepAlive) {
                        keep = true;
                    }
                }
                case "range" -> range = value;
                case "content-length" -> {
                    // One plain decimal number, or where the body ends is unknowable: 400 and
                    // close (RFC 9112 §6.3), so no byte after the head is ever taken for a
                    // request. A second Content-Length line is refused even when it repeats the
                    // first, as nginx does (RFC 9110 §8.6 allows either): no client of a file
                    // server sends one.
                    if (haveLength || !digits(value)) {
                        return Parsed.error(400, isHead, false, http10, 0);
                    }
                    haveLength = true;
                    length = Long.parseLong(value);
                }
                case "transfer-encoding" -> {
                    // A chunked body: not for a file server (and beside Content-Length, §6.3).
                    return Parsed.error(400, isHead, false, http10, 0);
                }
                default -> { }
            }
        }
        if (!method.equals("GET") && !method.equals("HEAD")) {
            return Parsed.error(405, isHead, keep, http10, length);
        }
        Object checked = targetToPath(target);
        if (checked instanceof Integer status) {
            return Parsed.error(status, isHead, keep, http10, length);
        }
        return new Parsed(0, isHead, (String) checked, keep, http10, range, length);
    }

    private static String trimOws(String s) {
        int a = 0;
        int b = s.length();
        while (a < b && (s.charAt(a) == ' ' || s.charAt(a) == '\t')) {
            a++;
        }
        while (b > a && (s.charAt(b - 1) == ' ' || s.charAt(b - 1) == '\t')) {
            b--;
        }
        return s.substring(a, b);
    }

    /**
     * The relative path a request target names, or an error status (Integer): 400 malformed,
     * 404 no such file (escapes, encoded slashes, directories).
     */
    static Object targetToPath(String target) {
        if (!target.startsWith("/")) {
            return 400;
        }
        int cut = target.length();
        int q = target.indexOf('?');
        int h = target.indexOf('#');
        if (q >= 0) {
            cut = q;
        }
        if (h >= 0 && h < cut) {
            cut = h;
        }
        target = target.substring(0, cut);
        for (int i = 0; i < target.length(); i++) {
            char c = target.charAt(i);
            if (c < 0x21 || c == 0x7f) {
                return 400;
            }
        }
        String low = target.toLowerCase(Locale.ROOT);
        if (low.contains("%00")) {
            return 400;
        }
        if (low.contains("%2f") || low.contains("%5c") || target.indexOf('\\') >= 0) {
            return 404; // an encoded slash or a backslash separates nothing: no such name
        }
        String path = target;
        if (target.indexOf('%') >= 0) {
            byte[] out = new byte[target.length()];
            int n = 0;
            for (int i = 0; i < target.length(); i++) {
                char c = target.charAt(i);
                if (c == '%') {
                    if (i + 2 >= target.length() || hex(target.charAt(i + 1)) < 0 || hex(target.charAt(i + 2)) < 0) {
                        return 400;
                    }
                    out[n++] = (byte) (hex(target.charAt(i + 1)) * 16 + hex(target.charAt(i + 2)));
                    i += 2;
                } else if (c > 0x7f) {
                    return 400; // the request line is ASCII
                } else {
                    out[n++] = (byte) c;
                }
            }
            path = new String(out, 0, n, StandardCharsets.UTF_8);
            if (path.indexOf('\uFFFD') >= 0) {
                return 404; // not UTF-8: no name the server would have
            }
            for (int i = 0; i < path.length(); i++) {
                char c = path.charAt(i);
                if (c < 0x20 || c == 0x7f || c == '\\') {
                    return c == '\\' ? 404 : 400;
                }
            }
        }
        StringBuilder rel = new StringBuilder();
        for (String seg : path.split("/", -1)) {
            if (seg.equals("..")) {
                return 404; // never above the root, nor back into it
            }
            if (!seg.isEmpty() && !seg.equals(".")) {
                if (rel.length() > 0) {
                    rel.append('/');
                }
                rel.append(seg);
            }
        }
        if (rel.length() == 0 || path.endsWith("/") || path.endsWith("/.")) {
            return 404; // directories are not served
        }
        return rel.toString();
    }

    private static int hex(char c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return -1;
    }

    /**
     * {@code {first, last}} for a satisfiable single range, {@code {}} (empty) for an
     * unsatisfiable one, null for a value to ignore (not bytes=, several ranges, not a range).
     */
    static long[] parseRange(String value, long size) {
        if (value.length() < 6 || !value.substring(0, 6).equalsIgnoreCase("bytes=") || value.indexOf(',') >= 0) {
            return null;
        }
        String spec = trimOws(value.substring(6));
        int dash = spec.indexOf('-');
        if (dash < 0) {
            return null;
        }
        String a = spec.substring(0, dash);
        String b = spec.substring(dash + 1);
        if (a.isEmpty()) { // the last n bytes
            if (!digits(b)) {
                return null;
            }
            long n = Long.parseLong(b);
            if (n == 0 || size == 0) {
                return new long[0];
            }
            return new long[] {Math.max(0, size - n), size - 1};
        }
        if (!digits(a)) {
            return null;
        }
        long first = Long.parseLong(a);
        long last;
        if (!b.isEmpty()) {
            if (!digits(b)) {
                return null;
            }
            last = Long.parseLong(b);
            if (last < first) {
                return null;
            }
        } else {
            last = size - 1;
        }
        if (first >= size) {
            return new long[0];
        }
        return new long[] {first, Math.min(last, size - 1)};
    }

    /**
     * Whether {@code s} is a plain decimal number of at most 18 digits, which {@code Long.parseLong}
     * always takes (the longest number taken, as in the C and Python servers).
     */
    private static boolean digits(String s) {
        if (s.isEmpty() || s.length() > 18) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '9') {
                return false;
            }
        }
        return true;
    }

    static String reason(int status) {
        return switch (status) {
            case 200 -> "OK";
            case 206 -> "Partial Content";
            case 400 -> "Bad Request";
            case 404 -> "Not Found";
            case 405 -> "Method Not Allowed";
            case 416 -> "Range Not Satisfiable";
            case 505 -> "HTTP Version Not Supported";
            default -> "Error";
        };
    }

    // ------------------------------------------------------------------ files

    /** An open file of a loop's cache, with what validates it and its 200 response headers. */
    static final class CachedFile {
        final FileChannel channel;
        final long size;
        final Object fileKey;
        final FileTime modified;
        /** Responses still sending from the channel; it closes when this is 0 and the file left the cache. */
        int users;
        boolean evicted;
        byte[] date;
        byte[] keep;
        byte[] close;
        byte[] keep10;

        CachedFile(FileChannel channel, BasicFileAttributes attrs) {
            this.channel = channel;
            this.size = attrs.size();
            this.fileKey = attrs.fileKey();
            this.modified = attrs.lastModifiedTime();
        }

        boolean matches(BasicFileAttributes attrs) {
            return attrs.isRegularFile() && attrs.size() == size && Objects.equals(attrs.fileKey(), fileKey)
                    && attrs.lastModifiedTime().equals(modified);
        }

        void release() {
            if (--users == 0 && evicted) {
                closeQuietly(channel);
            }
        }

        void evict() {
            evicted = true;
            if (users == 0) {
                closeQuietly(channel);
            }
        }
    }

    static void closeQuietly(java.io.Closeable c) {
        try {
            c.close();
        } catch (IOException e) {
            // closing after use: nothing left to report to anyone
        }
    }

    // ------------------------------------------------------------------ connections

    static final class Conn {
        final SocketChannel socket;
        EpollSelector.Key key;
        /** Request bytes received and not yet taken: in[start, end) (pipelined requests queue here). */
        final byte[] in = new byte[HEAD_LIMIT];
        final ByteBuffer inBuffer = ByteBuffer.wrap(in);
        int start;
        int end;
        /** An edge said so, and no short read has drained the socket since. */
        boolean readable;
        boolean writable = true;
        /** Header bytes of the current response still to send. */
        ByteBuffer out;
        /** The body's file while a body is being sent: file[pos, stop). */
        CachedFile file;
        long pos;
        long stop;
        /** Keep the connection after the current response. */
        boolean keep = true;
        /** Response sent, our side shut down: reading until the peer closes. */
        boolean closing;
        /** Bytes of a request body still to skip. */
        long discard;
        long last;
        boolean closed;

        Conn(SocketChannel socket, long now) {
            this.socket = socket;
            this.last = now;
        }
    }

    // ------------------------------------------------------------------ the loop

    /** One event loop: a listening socket and its connections. */
    static final class Loop implements Runnable {
        private final ServerSocketChannel listener;
        private final Path root;
        private final EpollSelector selector;
        private final Set<Conn> conns = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        private List<Conn> pending = new ArrayList<>();
        private final LinkedHashMap<String, CachedFile> files = new LinkedHashMap<>(64, 0.75f, true);
        private final HashMap<String, Parsed> parsed = new HashMap<>();
        private volatile boolean stopping;
        private long now = System.currentTimeMillis();
        private long dateSecond = -1;
        private byte[] date = new byte[0];

        Loop(ServerSocketChannel listener, Path root) throws IOException {
            this.listener = listener;
            this.root = root;
            this.selector = EpollSelector.open(1024);
            selector.register(listener, SelectionKey.OP_ACCEPT, null);
            updateDate();
        }

        void stop() {
            stopping = true;
            selector.wakeup();
        }

        @Override
        public void run() {
            long sweepAt = now + 1000;
            try {
                while (!stopping) {
                    if (pending.isEmpty()) {
                        selector.select(1000);
                    } else {
                        selector.selectNow();
                    }
                    now = System.currentTimeMillis();
                    if (!pending.isEmpty()) {
                        List<Conn> again = pending;
                        pending = new ArrayList<>();
                        for (Conn c : again) {
                            step(c);
                        }
                    }
                    Iterator<EpollSelector.Key> it = selector.selectedKeys().iterator();
                    while (it.hasNext()) {
                        EpollSelector.Key key = it.next();
                        it.remove();
                        Object att = key.attachment();
                        if (att == null) {
                            accept();
                            continue;
                        }
                        Conn c = (Conn) att;
                        int ready = key.readyOps();
                        if ((ready & SelectionKey.OP_READ) != 0) {
                            c.readable = true;
                        }
                        if ((ready & SelectionKey.OP_WRITE) != 0) {
                            c.writable = true;
                        }
                        step(c);
                    }
                    if (now >= sweepAt) {
                        sweepAt = now + 1000;
                        updateDate();
                        sweep();
                    }
                }
            } catch (IOException | RuntimeException e) {
                System.err.println("HttpFileServer: loop failed: " + e);
            } finally {
                for (Conn c : new ArrayList<>(conns)) {
                    close(c);
                }
                for (CachedFile f : files.values()) {
                    f.evict();
                }
                selector.close();
                closeQuietly(listener);
            }
        }

        /** Drives one connection, keeping a failure on it from reaching the others. */
        private void step(Conn c) {
            if (c.closed) {
                return;
            }
            c.last = now;
            try {
                drive(c);
            } catch (IOException e) {
                close(c); // the peer went away (EPIPE, ECONNRESET), or worse
            } catch (RuntimeException e) {
                System.err.println("HttpFileServer: " + e);
                close(c); // a bug must not take the other connections down
            }
        }

        private void accept() throws IOException {
            for (int i = 0; i < 64; i++) {
                SocketChannel s;
                try {
                    s = listener.accept();
                } catch (IOException e) {
                    return; // out of descriptors, or a connection reset in the backlog: try again later
                }
                if (s == null) {
                    return;
                }
                Conn c = new Conn(s, now);
                try {
                    s.configureBlocking(false);
                    s.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    c.key = selector.register(s, SelectionKey.OP_READ | SelectionKey.OP_WRITE, c,
                            EpollSelector.Trigger.EDGE);
                } catch (IOException e) {
                    closeQuietly(s); // reset before we got to it
                    continue;
                }
                conns.add(c);
                // The first request often comes with the connection: its edge is queued already.
            }
        }

        private void close(Conn c) {
            if (c.closed) {
                return;
            }
            c.closed = true;
            conns.remove(c);
            closeQuietly(c.socket);
            if (c.key != null) {
                c.key.cancel(); // the channel is closed: no system call, just the selector's books
            }
            if (c.file != null) {
                c.file.release();
                c.file = null;
            }
        }

        private void sweep() {
            for (Conn c : new ArrayList<>(conns)) {
                long idle = now - c.last;
                if (idle > IDLE_MILLIS || (c.closing && idle > LINGER_MILLIS)) {
                    close(c);
                }
            }
        }

        private void updateDate() {
            long second = now / 1000;
            if (second != dateSecond) {
                dateSecond = second;
                String d = DateTimeFormatter.RFC_1123_DATE_TIME.format(
                        ZonedDateTime.ofInstant(java.time.Instant.ofEpochSecond(second), ZoneOffset.UTC));
                date = ("Date: " + d + "\r\n").getBytes(StandardCharsets.US_ASCII);
            }
        }

        /**
         * Moves {@code c} on as far as its socket allows: sends, then takes the next request,
         * then reads. After BUDGET requests in a row it yields to the others (edge-triggered: no
         * new edge would come for bytes already here, so it goes on the pending list).
         */
        private void drive(Conn c) throws IOException {
            int budget = BUDGET;
            while (true) {
                if (c.out != null || c.file != null) {
                    if (!c.writable || !send(c)) {
                        return;
                    }
                    if (!c.keep) {
                        beginClose(c);
                        return;
                    }
                }
                if (c.closing) {
                    drain(c);
                    return;
                }
                if (c.end > c.start && takeRequest(c)) {
                    if (--budget == 0) {
                        pending.add(c);
                        return;
                    }
                    continue;
                }
                if (!c.readable) {
                    return;
                }
                if (c.start > 0) { // compact: the unread rest to the front
                    System.arraycopy(c.in, c.start, c.in, 0, c.end - c.start);
                    c.end -= c.start;
                    c.start = 0;
                }
                int space = c.in.length - c.end;
                c.inBuffer.limit(c.in.length).position(c.end);
                int n = c.socket.read(c.inBuffer);
                if (n < 0) {
                    close(c);
                    return;
                }
                if (n < space) {
                    c.readable = false; // a short read drained the socket: the next edge tells more
                }
                if (n == 0) {
                    return;
                }
                c.end += n;
            }
        }

        /** Sends what the socket takes of the current response; true when it is all sent. */
        private boolean send(Conn c) throws IOException {
            CachedFile f = c.file;
            if (c.out != null) {
                if (f != null) {
                    c.pos += ZeroCopy.transferToWithHeader(f.channel, c.pos, c.stop - c.pos, c.socket, c.out);
                } else {
                    c.socket.write(c.out);
                }
                if (c.out.hasRemaining()) {
                    c.writable = false;
                    return false;
                }
                c.out = null;
                if (f == null) {
                    return true;
                }
                if (c.pos >= c.stop) {
                    finishBody(c);
                    return true;
                }
                if (ZeroCopy.lastTransfer().wouldBlock()) { // the socket is full
                    c.writable = false;
                    return false;
                }
            }
            while (c.pos < c.stop) {
                long n = ZeroCopy.transferTo(f.channel, c.pos, c.stop - c.pos, c.socket);
                c.pos += n;
                if (c.pos >= c.stop) {
                    break;
                }
                if (ZeroCopy.lastTransfer().wouldBlock()) {
                    c.writable = false;
                    return false;
                }
                if (n == 0) {
                    // The end of the file before the promised length: it shrank under us.
                    throw new IOException("the file shrank while it was being sent");
                }
            }
            finishBody(c);
            return true;
        }

        private static void finishBody(Conn c) {
            c.file.release();
            c.file = null;
        }

        /**
         * After the last response: shut our side down and read until the client closes, so that
         * request bytes it sent meanwhile cannot turn our close into a reset that destroys the
         * response.
         */
        private void beginClose(Conn c) throws IOException {
            c.closing = true;
            c.start = c.end = 0;
            c.socket.shutdownOutput();
            drain(c);
        }

        private void drain(Conn c) throws IOException {
            while (c.readable) {
                c.inBuffer.clear();
                int n = c.socket.read(c.inBuffer);
                if (n < 0) {
                    close(c);
                    return;
                }
                if (n < c.in.length) {
                    c.readable = false;
                }
            }
        }

        /**
         * Takes one request from the front of the connection's buffer if its head is complete
         * and sets up the response; false when more bytes are needed.
         */
        private boolean takeRequest(Conn c) {
            if (c.discard > 0) { // the body of the previous request: skipped
                int n = (int) Math.min(c.discard, c.end - c.start);
                c.discard -= n;
                c.start += n;
                if (c.discard > 0 || c.start == c.end) {
                    return false;
                }
            }
            // Blank lines before a request are ignored (RFC 9112 §2.2).
            while (c.end > c.start && (c.in[c.start] == '\n'
                    || (c.end - c.start >= 2 && c.in[c.start] == '\r' && c.in[c.start + 1] == '\n'))) {
                c.start += c.in[c.start] == '\n' ? 1 : 2;
            }
            int headEnd = headEnd(c.in, c.start, c.end);
            if (headEnd < 0) {
                if (c.start == 0 && c.end == c.in.length) { // a head larger than we take
                    c.start = c.end = 0;
                    respondError(c, 400, false, startsWith(c.in, 0, c.in.length, "HEAD "), "");
                    return true;
                }
                return false;
            }
            String head = new String(c.in, c.start, headEnd - c.start, StandardCharsets.ISO_8859_1);
            c.start = headEnd + (c.in[headEnd + 1] == '\n' ? 2 : 3); // past the empty line
            Parsed p = parsed.get(head);
            if (p == null) {
                p = parseHead(head);
                if (parsed.size() >= PARSE_CACHE) {
                    parsed.clear();
                }
                parsed.put(head, p);
            }
            c.keep = p.keep();
            if (p.status() != 0) {
                if (p.status() == 400 || p.status() == 505) {
                    c.start = c.end = 0; // the stream cannot be trusted any further
                } else {
                    c.discard = p.contentLength();
                }
                respondError(c, p.status(), p.http10(), p.head(), p.status() == 405 ? "Allow: GET, HEAD\r\n" : "");
                return true;
            }
            c.discard = p.contentLength();
            CachedFile f = openFile(p.path());
            if (f == null) {
                respondError(c, 404, p.http10(), p.head(), "");
                return true;
            }
            long size = f.size;
            long first = 0;
            long stop = size;
            long[] r = p.range() == null ? null : parseRange(p.range(), size);
            if (r == null) {
                if (f.date != date) {
                    buildHeaders(f);
                }
                byte[] h = p.http10() && p.keep() ? f.keep10 : (p.keep() ? f.keep : f.close);
                c.out = ByteBuffer.wrap(h);
            } else if (r.length == 0) {
                respondError(c, 416, p.http10(), p.head(), "Content-Range: bytes */" + size + "\r\n");
                return true;
            } else {
                first = r[0];
                stop = r[1] + 1;
                c.out = ByteBuffer.wrap(header(206, stop - first, p.keep(), p.http10(),
                        "Content-Range: bytes " + first + "-" + r[1] + "/" + size + "\r\n"));
            }
            if (!p.head() && stop > first) {
                f.users++;
                c.file = f;
                c.pos = first;
                c.stop = stop;
            }
            return true;
        }

        /**
         * Where the request head in {@code a[from, to)} ends: the index of the LF that ends its last
         * line, which an empty line follows ({@code LF} or {@code CR LF}: a line ends in LF, with or
         * without a CR before it, see {@link #parseHead}); -1 while that empty line has not arrived.
         */
        private static int headEnd(byte[] a, int from, int to) {
            for (int i = from; i + 1 < to; i++) {
                if (a[i] == '\n' && (a[i + 1] == '\n' || (a[i + 1] == '\r' && i + 2 < to && a[i + 2] == '\n'))) {
                    return i;
                }
            }
            return -1;
        }

        private static boolean startsWith(byte[] a, int from, int to, String prefix) {
            if (to - from < prefix.length()) {
                return false;
            }
            for (int i = 0; i < prefix.length(); i++) {
                if (a[from + i] != prefix.charAt(i)) {
                    return false;
                }
            }
            return true;
        }

        private static String connectionHeader(boolean keep, boolean http10) {
            if (!keep) {
                return "Connection: close\r\n";
            }
            return http10 ? "Connection: keep-alive\r\n" : "";
        }

        private byte[] header(int status, long length, boolean keep, boolean http10, String extra) {
            String s = "HTTP/1.1 " + status + " " + reason(status) + "\r\nServer: zcopy\r\n"
                    + new String(date, StandardCharsets.US_ASCII)
                    + "Content-Type: application/octet-stream\r\nContent-Length: " + length + "\r\n" + extra
                    + "Accept-Ranges: bytes\r\n" + connectionHeader(keep, http10) + "\r\n";
            return s.getBytes(StandardCharsets.US_ASCII);
        }

        private void buildHeaders(CachedFile f) {
            f.date = date;
            f.keep = header(200, f.size, true, false, "");
            f.close = header(200, f.size, false, false, "");
            f.keep10 = header(200, f.size, true, true, "");
        }

        /**
         * An error reply with a short text body, or none to HEAD, whatever the status (RFC 9110
         * §9.3.2: a keep-alive client reads the next response right after the headers); its
         * Content-Length is that of the body a GET would get.
         */
        private void respondError(Conn c, int status, boolean http10, boolean head, String extra) {
            if (status == 400 || status == 505) {
                c.keep = false;
            }
            String body = status + " " + reason(status) + "\n";
            String s = "HTTP/1.1 " + status + " " + reason(status) + "\r\nServer: zcopy\r\n"
                    + new String(date, StandardCharsets.US_ASCII)
                    + "Content-Type: text/plain\r\nContent-Length: " + body.length() + "\r\n" + extra
                    + connectionHeader(c.keep, http10) + "\r\n" + (head ? "" : body);
            c.out = ByteBuffer.wrap(s.getBytes(StandardCharsets.US_ASCII));
            if (c.file != null) {
                c.file.release();
                c.file = null;
            }
        }

        /**
         * The cached open file at {@code rel} (checked against one stat), or the file opened now,
         * or null: missing, not a regular file, or outside the root.
         */
        private CachedFile openFile(String rel) {
            Path full;
            try {
                full = root.resolve(rel);
            } catch (java.nio.file.InvalidPathException e) {
                return null;
            }
            CachedFile f = files.get(rel);
            BasicFileAttributes attrs;
            try {
                attrs = Files.readAttributes(full, BasicFileAttributes.class);
            } catch (IOException e) {
                if (f != null) {
                    files.remove(rel).evict();
                }
                return null;
            }
            if (f != null) {
                if (f.matches(attrs)) {
                    return f;
                }
                files.remove(rel).evict(); // changed or replaced: open it again (a response may keep the old)
            }
            if (!attrs.isRegularFile()) {
                return null;
            }
            FileChannel ch = null;
            try {
                Path real = full.toRealPath();
                if (!real.startsWith(root)) {
                    return null; // a symbolic link out of the root
                }
                ch = FileChannel.open(real, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
                BasicFileAttributes opened = Files.readAttributes(real, BasicFileAttributes.class,
                        LinkOption.NOFOLLOW_LINKS);
                if (!opened.isRegularFile() || ch.size() != opened.size()) {
                    closeQuietly(ch);
                    return null;
                }
                f = new CachedFile(ch, opened);
            } catch (NoSuchFileException e) {
                return null;
            } catch (IOException | UncheckedIOException e) {
                if (ch != null) {
                    closeQuietly(ch);
                }
                return null;
            }
            if (files.size() >= FILE_CACHE) {
                Iterator<Map.Entry<String, CachedFile>> it = files.entrySet().iterator();
                it.next().getValue().evict();
                it.remove();
            }
            files.put(rel, f);
            return f;
        }
    }
}
