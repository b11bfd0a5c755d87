package io.zcopy.examples;

import io.zcopy.ZeroCopy;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * An HTTP/1.1 static file server with a virtual thread per connection (JDK 21+), written the way
 * such servers are: blocking {@code SocketChannel}s, the thread reads a request, writes the
 * response head, then sends the body with one call, and waits in each of them.
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -cp zcopy.jar:zcopy-examples.jar \
 *      io.zcopy.examples.VirtualThreadFileServer --root DIR --port PORT [--body zcopy|jdk] [--addr 127.0.0.1]
 * </pre>
 *
 * <p>{@code --body zcopy} (the default) sends bodies with {@link ZeroCopy#transferTo}: on a
 * virtual thread it never waits in native code, it parks the thread until the socket has room,
 * so a client that stops reading holds only its own thread. {@code --body jdk} sends them with
 * {@code FileChannel.transferTo}, looping until the range is sent, as a JDK-only server must:
 * the JDK's {@code sendfile} on a socket it made non-blocking for virtual threads returns 0 when
 * the socket is full, and the loop then spins on its carrier, so a few clients that stop reading
 * hold every carrier and the whole server stalls (the comparison {@code make bench-java-virtual}
 * measures).
 *
 * <p>The HTTP rules are {@link HttpFileServer}'s ({@link HttpRequest}, {@link Reply}): GET and
 * HEAD, keep-alive, pipelining, one byte range, no path escapes. Each connection keeps up to 16
 * files open ({@link FileCache}), checked with one {@code stat} per request; an idle keep-alive
 * connection closes after 60 s.
 */
public final class VirtualThreadFileServer {
    private static final int FILES_PER_CONNECTION = 16;
    private static final int IDLE_MILLIS = 60_000;
    private static final int LINGER_MILLIS = 5_000;

    private final Path root;
    private final boolean zcopy;

    private VirtualThreadFileServer(Path root, boolean zcopy) {
        this.root = root;
        this.zcopy = zcopy;
    }

    private static final String USAGE = "VirtualThreadFileServer --root DIR --port PORT [--body zcopy|jdk] [--addr 127.0.0.1]";

    public static void main(String[] args) throws Exception {
        Map<String, String> o = HttpFileServer.options(args, USAGE, "--root", "--port", "--body", "--addr");
        String body = o.getOrDefault("--body", "zcopy");
        if (!body.equals("zcopy") && !body.equals("jdk")) {
            HttpFileServer.usage(USAGE, "--body is zcopy or jdk");
        }
        Path root = HttpFileServer.root(o, USAGE);
        String addr = o.getOrDefault("--addr", "127.0.0.1");
        int port = Integer.parseInt(o.getOrDefault("--port", "8080"));
        ServerSocketChannel listener = ServerSocketChannel.open();
        listener.setOption(StandardSocketOptions.SO_REUSEADDR, true);
        listener.bind(new InetSocketAddress(addr, port), 4096);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> ServedFile.closeQuietly(listener), "http-stop"));
        HttpFileServer.ignoreSigpipe();
        System.out.println("listening on " + addr + ":" + ((InetSocketAddress) listener.getLocalAddress()).getPort());
        System.out.flush();
        new VirtualThreadFileServer(root, body.equals("zcopy")).serve(listener);
    }

    /**
     * Accepts connections until the listener closes, each served by a new virtual thread. The
     * library compiles for Java 17, where there are none: the executor is found at run time.
     */
    private void serve(ServerSocketChannel listener) throws Exception {
        ExecutorService threads;
        try {
            threads = (ExecutorService) Executors.class.getMethod("newVirtualThreadPerTaskExecutor").invoke(null);
        } catch (NoSuchMethodException e) {
            throw new UnsupportedOperationException("virtual threads need JDK 21 or later", e);
        }
        while (true) {
            SocketChannel s;
            try {
                s = listener.accept();
            } catch (IOException e) {
                if (!listener.isOpen()) {
                    return; // stopped
                }
                continue; // out of descriptors, or a connection reset in the backlog
            }
            threads.execute(() -> connection(s));
        }
    }

    /** One connection, on its own virtual thread: requests answered in order until it ends. */
    private void connection(SocketChannel socket) {
        FileCache files = new FileCache(root, FILES_PER_CONNECTION);
        try (socket) {
            socket.setOption(StandardSocketOptions.TCP_NODELAY, true);
            socket.socket().setSoTimeout(IDLE_MILLIS);
            Requests in = new Requests(socket.socket().getInputStream());
            for (HttpRequest r; (r = in.next()) != null; ) {
                Reply reply = Reply.to(r, files, HttpResponses.currentDate());
                send(socket, reply);
                if (!reply.keep()) {
                    linger(socket);
                    return;
                }
                in.skip(r.contentLength());
            }
        } catch (SocketTimeoutException e) {
            // idle too long: the connection closes
        } catch (IOException | RuntimeException e) {
            // the peer went away (EPIPE, ECONNRESET), or worse: this connection ends, the rest go on
        } finally {
            files.clear();
        }
    }

    /** The head, written by this thread, then the body: blocking calls that return when all is sent. */
    private void send(SocketChannel socket, Reply reply) throws IOException {
        ByteBuffer head = ByteBuffer.wrap(reply.head());
        while (head.hasRemaining()) {
            socket.write(head);
        }
        ServedFile f = reply.file();
        if (f == null) {
            return;
        }
        f.use();
        try {
            for (long pos = reply.first(); pos < reply.stop(); ) {
                long n = zcopy ? ZeroCopy.transferTo(f.channel, pos, reply.stop() - pos, socket)
                        : f.channel.transferTo(pos, reply.stop() - pos, socket);
                if (n == 0 && zcopy) {
                    // A blocking target takes all: 0 is the end of the file, before the promised length.
                    throw new IOException("the file shrank while it was being sent");
                }
                pos += n;
            }
        } finally {
            f.release();
        }
    }

    /**
     * After the last response: shut our side down and read until the client closes (at most
     * LINGER_MILLIS), so that request bytes it sent meanwhile cannot turn the close into a reset
     * that destroys the response.
     */
    private static void linger(SocketChannel socket) throws IOException {
        socket.shutdownOutput();
        socket.socket().setSoTimeout(LINGER_MILLIS);
        InputStream rest = socket.socket().getInputStream();
        byte[] sink = new byte[4096];
        while (rest.read(sink) >= 0) {
            continue;
        }
    }

    /** The request heads of one connection, read as they come (pipelined ones included). */
    private static final class Requests {
        private final InputStream in;
        private final byte[] buf = new byte[HttpLoop.HEAD_LIMIT];
        private int start;
        private int end;

        Requests(InputStream in) {
            this.in = in;
        }

        /** The next request, or null at the end of the stream. A head larger than taken is a 400. */
        HttpRequest next() throws IOException {
            while (true) {
                // Blank lines before a request are ignored (RFC 9112 §2.2).
                while (end > start && (buf[start] == '\n' || (end - start >= 2 && buf[start] == '\r' && buf[start + 1] == '\n'))) {
                    start += buf[start] == '\n' ? 1 : 2;
                }
                int headEnd = HttpRequest.headEnd(buf, start, end);
                if (headEnd >= 0) {
                    String head = new String(buf, start, headEnd - start, StandardCharsets.ISO_8859_1);
                    start = HttpRequest.afterHead(buf, headEnd);
                    return HttpRequest.parse(head);
                }
                if (start == 0 && end == buf.length) {
                    return HttpRequest.error(400, HttpRequest.startsWith(buf, 0, end, "HEAD "), false, false, 0);
                }
                if (!fill()) {
                    return null;
                }
            }
        }

        /** Skips {@code n} bytes of a request body. */
        void skip(long n) throws IOException {
            while (n > 0) {
                if (start == end && !fill()) {
                    return;
                }
                int k = (int) Math.min(n, end - start);
                start += k;
                n -= k;
            }
        }

        /** Reads more (blocking, parking a virtual thread); false at the end of the stream. */
        private boolean fill() throws IOException {
            if (start > 0) { // compact: the unread rest to the front
                System.arraycopy(buf, start, buf, 0, end - start);
                end -= start;
                start = 0;
            }
            int n = in.read(buf, end, buf.length - end);
            if (n < 0) {
                return false;
            }
            end += n;
            return true;
        }
    }
}
