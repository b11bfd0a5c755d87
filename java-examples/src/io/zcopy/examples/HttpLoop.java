package io.zcopy.examples;

import io.zcopy.EpollSelector;
import io.zcopy.ZeroCopy;
import java.io.IOException;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * One event loop of {@link HttpFileServer}: a listening socket and its connections, on its own
 * {@link EpollSelector}. Sockets are non-blocking and registered once, edge-triggered, for reading
 * and writing, so the loop never changes a registration: a short read means the socket is
 * drained, {@link ZeroCopy#lastTransfer()}{@code .wouldBlock()} that it is full, and the next edge
 * says when to go on.
 */
final class HttpLoop implements Runnable {
    static final int HEAD_LIMIT = 16 * 1024; // the largest request head (request line and headers) taken
    static final long IDLE_MILLIS = 60_000; // keep-alive connections idle this long are closed
    static final long LINGER_MILLIS = 5_000; // how long a closing connection waits for the client to close
    static final int FILE_CACHE = 256; // open files kept per loop
    static final int PARSE_CACHE = 1024; // parsed request heads kept per loop
    static final int BUDGET = 32; // requests one connection may take in a row before the others get a turn

    /** A connection and where its request and response stand. */
    private static final class Conn {
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
        ServedFile file;
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

    private final ServerSocketChannel listener;
    private final EpollSelector selector;
    private final Set<Conn> conns = Collections.newSetFromMap(new IdentityHashMap<>());
    private List<Conn> pending = new ArrayList<>();
    private final FileCache files;
    private final HashMap<String, HttpRequest> parsed = new HashMap<>();
    private volatile boolean stopping;
    private long now = System.currentTimeMillis();
    private long dateSecond = -1;
    private byte[] date = new byte[0];

    HttpLoop(ServerSocketChannel listener, Path root) throws IOException {
        this.listener = listener;
        this.files = new FileCache(root, FILE_CACHE);
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
            files.clear();
            selector.close();
            ServedFile.closeQuietly(listener);
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
                ServedFile.closeQuietly(s); // reset before we got to it
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
        ServedFile.closeQuietly(c.socket);
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
            date = HttpResponses.date(second);
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
        ServedFile f = c.file;
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
        int headEnd = HttpRequest.headEnd(c.in, c.start, c.end);
        if (headEnd < 0) {
            if (c.start == 0 && c.end == c.in.length) { // a head larger than we take
                c.start = c.end = 0;
                respondError(c, 400, false, HttpRequest.startsWith(c.in, 0, c.in.length, "HEAD "), "");
                return true;
            }
            return false;
        }
        String head = new String(c.in, c.start, headEnd - c.start, StandardCharsets.ISO_8859_1);
        c.start = HttpRequest.afterHead(c.in, headEnd);
        HttpRequest p = parsed.get(head);
        if (p == null) {
            p = HttpRequest.parse(head);
            if (parsed.size() >= PARSE_CACHE) {
                parsed.clear();
            }
            parsed.put(head, p);
        }
        c.keep = p.keep();
        if (p.status() != 0) {
            if (HttpResponses.closes(p.status())) {
                c.start = c.end = 0; // the stream cannot be trusted any further
            } else {
                c.discard = p.contentLength();
            }
            respondError(c, p.status(), p.http10(), p.head(), HttpResponses.errorExtra(p.status()));
            return true;
        }
        c.discard = p.contentLength();
        ServedFile f = files.open(p.path());
        if (f == null) {
            respondError(c, 404, p.http10(), p.head(), "");
            return true;
        }
        long size = f.size;
        long first = 0;
        long stop = size;
        long[] r = p.range() == null ? null : HttpRequest.parseRange(p.range(), size);
        if (r == null) {
            c.out = ByteBuffer.wrap(f.header(p.keep(), p.http10(), date));
        } else if (r.length == 0) {
            respondError(c, 416, p.http10(), p.head(), "Content-Range: bytes */" + size + "\r\n");
            return true;
        } else {
            first = r[0];
            stop = r[1] + 1;
            c.out = ByteBuffer.wrap(HttpResponses.header(206, stop - first, p.keep(), p.http10(),
                    "Content-Range: bytes " + first + "-" + r[1] + "/" + size + "\r\n", date));
        }
        if (!p.head() && stop > first) {
            f.use();
            c.file = f;
            c.pos = first;
            c.stop = stop;
        }
        return true;
    }

    /** Sets up an error reply (see {@link HttpResponses#error}) in place of any response in progress. */
    private void respondError(Conn c, int status, boolean http10, boolean head, String extra) {
        if (HttpResponses.closes(status)) {
            c.keep = false;
        }
        c.out = ByteBuffer.wrap(HttpResponses.error(status, c.keep, http10, head, extra, date));
        if (c.file != null) {
            c.file.release();
            c.file = null;
        }
    }
}
