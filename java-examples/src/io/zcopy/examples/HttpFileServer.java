package io.zcopy.examples;

import io.zcopy.EpollSelector;
import io.zcopy.ZeroCopy;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

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
 * <p>The pieces: {@link HttpLoop} (one event loop), {@link HttpRequest} (parsing),
 * {@link HttpResponses} (response heads), {@link FileCache} and {@link ServedFile} (open files).
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
 * changed or replaced file is never served stale. SIGPIPE is set to "ignore", as nginx does (the
 * JVM's own handler already makes it harmless).
 */
public final class HttpFileServer {
    private HttpFileServer() {}

    private static final String USAGE = "HttpFileServer --root DIR --port PORT [--threads N] [--addr 127.0.0.1]";

    public static void main(String[] args) throws Exception {
        Map<String, String> o = options(args, USAGE, "--root", "--port", "--threads", "--addr");
        int port = Integer.parseInt(o.getOrDefault("--port", "8080"));
        int threads = Math.max(1, Integer.parseInt(o.getOrDefault("--threads",
                String.valueOf(Runtime.getRuntime().availableProcessors()))));
        String addr = o.getOrDefault("--addr", "127.0.0.1");
        Path realRoot = root(o, USAGE);
        ignoreSigpipe();
        List<HttpLoop> loops = new ArrayList<>();
        int bound = port;
        for (int i = 0; i < threads; i++) {
            ServerSocketChannel listener = ServerSocketChannel.open();
            listener.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            listener.setOption(StandardSocketOptions.SO_REUSEPORT, true);
            listener.bind(new InetSocketAddress(addr, bound), 4096);
            listener.configureBlocking(false);
            bound = ((InetSocketAddress) listener.getLocalAddress()).getPort();
            loops.add(new HttpLoop(listener, realRoot));
        }
        List<Thread> running = new ArrayList<>();
        for (int i = 0; i < loops.size(); i++) {
            Thread t = new Thread(loops.get(i), "http-loop-" + i);
            running.add(t);
            t.start();
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            for (HttpLoop l : loops) {
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

    /**
     * The {@code --name value} options of a server's command line, of the {@code names} given;
     * anything else, or a name without a value, ends the program with {@code usage}.
     */
    static Map<String, String> options(String[] args, String usage, String... names) {
        Map<String, String> options = new HashMap<>();
        for (int i = 0; i < args.length; i += 2) {
            if (!Arrays.asList(names).contains(args[i]) || i + 1 >= args.length) {
                usage(usage, "unknown argument or missing value: " + args[i]);
            }
            options.put(args[i], args[i + 1]);
        }
        return options;
    }

    /** The {@code --root} option: an existing directory, its real path. */
    static Path root(Map<String, String> options, String usage) throws IOException {
        String root = options.get("--root");
        if (root == null || !Files.isDirectory(Path.of(root))) {
            usage(usage, "--root DIR is required: a directory");
        }
        return Path.of(root).toRealPath();
    }

    static void usage(String usage, String why) {
        System.err.println(usage.substring(0, usage.indexOf(' ')) + ": " + why);
        System.err.println("usage: " + usage);
        System.exit(2);
    }

    /**
     * SIGPIPE to "ignore", as nginx does. Not needed for safety: the JVM catches SIGPIPE with a
     * handler that ignores it, so a client that goes away is an IOException either way, and
     * zcopy's core blocks the signal around a transfer only when it has its default action. With
     * SIG_IGN the kernel drops the signal instead of running that handler. sun.misc.Signal is a
     * supported internal API (module jdk.unsupported), called by reflection so the example builds
     * warning-free; where it is missing, the JVM's handler stays, which is as safe.
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
}
