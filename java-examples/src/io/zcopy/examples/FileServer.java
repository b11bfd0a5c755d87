package io.zcopy.examples;

import io.zcopy.EpollSelector;
import io.zcopy.ZeroCopy;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;

/**
 * A non-blocking file server: one thread, an {@link EpollSelector} event loop, and
 * {@link ZeroCopy#transferTo} (sendfile) for the bodies.
 *
 * <p>Protocol (one request per connection): the client sends {@code GET <name>\n}; the server
 * answers {@code OK <length>\n} and the file's bytes, or {@code ERR <reason>\n}, then closes.
 * Each connection is a small state machine (read the request, write the header, send the
 * body), so it grows into HTTP/1.1 by changing how a request is parsed and a header written.
 *
 * <pre>
 * java -cp zcopy.jar:target/classes io.zcopy.examples.FileServer ROOT [PORT] [--port-file F] [--max-connections N]
 * </pre>
 */
public final class FileServer {
    /** Where a connection is in its exchange. */
    enum State { READ_REQUEST, WRITE_HEADER, SEND_BODY, DONE }

    /** One client: its request buffer, the response header, and how much of the body is sent. */
    static final class Connection {
        final SocketChannel socket;
        final ByteBuffer request = ByteBuffer.allocate(1024);
        State state = State.READ_REQUEST;
        ByteBuffer header;
        FileChannel body;
        long position;
        long remaining;

        Connection(SocketChannel socket) {
            this.socket = socket;
        }

        /** Reads until a whole request line is in; then prepares the response. */
        void onReadable(Path root) throws IOException {
            int n = socket.read(request);
            if (n < 0) {
                state = State.DONE;
                return;
            }
            int end = indexOf(request, (byte) '\n');
            if (end < 0) {
                if (!request.hasRemaining()) {
                    respondError("request too long");
                }
                return;
            }
            String line = new String(request.array(), 0, end, StandardCharsets.US_ASCII).trim();
            if (!line.startsWith("GET ")) {
                respondError("bad request");
                return;
            }
            Path file = root.resolve(line.substring(4)).normalize();
            if (!file.startsWith(root) || !Files.isRegularFile(file)) {
                respondError("not found");
                return;
            }
            body = FileChannel.open(file);
            position = 0;
            remaining = body.size();
            header = ascii("OK " + remaining + "\n");
            state = State.WRITE_HEADER;
        }

        /** Writes what the socket takes: the header, then the body by sendfile. */
        void onWritable() throws IOException {
            if (state == State.WRITE_HEADER) {
                socket.write(header);
                if (header.hasRemaining()) {
                    return;
                }
                state = body == null ? State.DONE : State.SEND_BODY;
            }
            if (state == State.SEND_BODY) {
                while (remaining > 0) {
                    long n = ZeroCopy.transferTo(body, position, remaining, socket);
                    if (n == 0) {
                        return; // the socket buffer is full: wait for the next OP_WRITE
                    }
                    position += n;
                    remaining -= n;
                }
                state = State.DONE;
            }
        }

        private void respondError(String reason) {
            header = ascii("ERR " + reason + "\n");
            state = State.WRITE_HEADER;
        }

        /** The interest the state needs. */
        int interest() {
            return state == State.READ_REQUEST ? SelectionKey.OP_READ : SelectionKey.OP_WRITE;
        }

        void close() {
            try {
                if (body != null) {
                    body.close();
                }
                socket.close();
            } catch (IOException ignored) {
                // closing a socket whose peer is gone: nothing left to do
            }
        }

        private static int indexOf(ByteBuffer b, byte c) {
            for (int i = 0; i < b.position(); i++) {
                if (b.get(i) == c) {
                    return i;
                }
            }
            return -1;
        }

        private static ByteBuffer ascii(String s) {
            return ByteBuffer.wrap(s.getBytes(StandardCharsets.US_ASCII));
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: FileServer ROOT [PORT] [--port-file F] [--max-connections N]");
            System.exit(2);
        }
        Path root = Path.of(args[0]).toAbsolutePath().normalize();
        int port = 8080;
        Path portFile = null;
        long maxConnections = Long.MAX_VALUE;
        for (int i = 1; i < args.length; i++) {
            switch (args[i]) {
                case "--port-file": portFile = Path.of(args[++i]); break;
                case "--max-connections": maxConnections = Long.parseLong(args[++i]); break;
                default: port = Integer.parseInt(args[i]);
            }
        }
        try (EpollSelector selector = EpollSelector.open(); ServerSocketChannel server = ServerSocketChannel.open()) {
            server.bind(new InetSocketAddress("127.0.0.1", port), 1024).configureBlocking(false);
            selector.register(server, SelectionKey.OP_ACCEPT, null);
            int bound = ((InetSocketAddress) server.getLocalAddress()).getPort();
            System.out.println("serving " + root + " on 127.0.0.1:" + bound);
            if (portFile != null) {
                Files.writeString(portFile, Integer.toString(bound));
            }
            long accepted = 0;
            long finished = 0;
            while (finished < maxConnections) {
                selector.select(1000);
                for (Iterator<EpollSelector.Key> it = selector.selectedKeys().iterator(); it.hasNext(); ) {
                    EpollSelector.Key key = it.next();
                    it.remove();
                    if (key.isAcceptable()) {
                        SocketChannel socket;
                        while (accepted < maxConnections && (socket = server.accept()) != null) {
                            accepted++;
                            socket.configureBlocking(false);
                            selector.register(socket, SelectionKey.OP_READ, new Connection(socket));
                        }
                        continue;
                    }
                    Connection c = (Connection) key.attachment();
                    try {
                        if (key.isReadable() && c.state == State.READ_REQUEST) {
                            c.onReadable(root);
                        }
                        if (c.state == State.WRITE_HEADER || c.state == State.SEND_BODY) {
                            c.onWritable();
                        }
                    } catch (IOException e) {
                        c.state = State.DONE; // the peer went away mid-response
                    }
                    if (c.state == State.DONE) {
                        key.cancel();
                        c.close();
                        finished++;
                    } else {
                        key.interestOps(c.interest());
                    }
                }
            }
            System.out.println("served " + finished + " connections");
        }
    }
}
