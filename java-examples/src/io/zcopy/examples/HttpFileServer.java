package io.zcopy.examples;

import io.zcopy.EpollSelector;
import io.zcopy.ZeroCopy;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

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
 * changed or replaced file is never served stale. SIGPIPE is set to "ignore", as nginx does: the
 * JVM never dies of it anyway, and zcopy's core then does not block it around every transfer.
 */
public final class HttpFileServer {
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
}
