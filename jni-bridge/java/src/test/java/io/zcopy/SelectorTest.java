package io.zcopy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.CancelledKeyException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.IllegalBlockingModeException;
import java.nio.channels.Pipe;
import java.nio.channels.SelectionKey;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** EpollSelector: every method, level/edge/one-shot, and the Selector semantics it mirrors. */
class SelectorTest {
    @RegisterExtension
    final TestPool pool = new TestPool();

    private static Pipe pipe() throws IOException {
        Pipe p = Pipe.open();
        p.source().configureBlocking(false);
        p.sink().configureBlocking(false);
        return p;
    }

    @Test
    void levelTriggeredReportsUntilDrained() throws IOException {
        Pipe p = pipe();
        try (EpollSelector sel = EpollSelector.open(); Pipe.SourceChannel src = p.source(); Pipe.SinkChannel sink = p.sink()) {
            Object att = new Object();
            EpollSelector.Key key = sel.register(src, SelectionKey.OP_READ, att);
            assertSame(src, key.channel());
            assertSame(sel, key.selector());
            assertSame(att, key.attachment());
            assertEquals(SelectionKey.OP_READ, key.interestOps());
            assertEquals(EpollSelector.Trigger.LEVEL, key.trigger());
            assertEquals(0, sel.selectNow());
            sink.write(ByteBuffer.wrap(new byte[] {1, 2}));
            assertEquals(1, sel.select(1000));
            assertTrue(sel.selectedKeys().contains(key));
            assertTrue(key.isReadable());
            assertFalse(key.isWritable());
            assertEquals(SelectionKey.OP_READ, key.readyOps());
            assertEquals(0, sel.selectNow(), "already selected with the same ready set: not counted again");
            sel.selectedKeys().clear();
            assertEquals(1, sel.selectNow(), "level-triggered: still readable");
            sel.selectedKeys().clear();
            src.read(ByteBuffer.allocate(10));
            assertEquals(0, sel.selectNow());
            assertThrows(UnsupportedOperationException.class, () -> sel.selectedKeys().add(key));
            assertEquals(1, sel.keys().size());
        }
    }

    /**
     * Edge-triggered and one-shot registrations report a readable pipe once; then a new edge
     * (more data) or re-arming the interest reports it again.
     */
    @ParameterizedTest
    @EnumSource(value = EpollSelector.Trigger.class, names = {"EDGE", "ONESHOT"})
    void edgeAndOneShotReportOnce(EpollSelector.Trigger trigger) throws IOException {
        Pipe p = pipe();
        try (EpollSelector sel = EpollSelector.open(); Pipe.SourceChannel src = p.source(); Pipe.SinkChannel sink = p.sink()) {
            EpollSelector.Key key = sel.register(src, SelectionKey.OP_READ, null, trigger);
            assertEquals(trigger, key.trigger());
            sink.write(ByteBuffer.wrap(new byte[] {1}));
            assertEquals(1, sel.selectNow());
            sel.selectedKeys().clear();
            assertEquals(0, sel.selectNow(), "reported once");
            if (trigger == EpollSelector.Trigger.EDGE) {
                sink.write(ByteBuffer.wrap(new byte[] {2})); // new data is a new edge
            } else {
                key.interestOps(SelectionKey.OP_READ); // re-armed
            }
            assertEquals(1, sel.selectNow(), "reported again");
        }
    }

    @Test
    void interestOpsAndCancel() throws IOException {
        Pipe p = pipe();
        try (EpollSelector sel = EpollSelector.open(); Pipe.SourceChannel src = p.source(); Pipe.SinkChannel sink = p.sink()) {
            EpollSelector.Key w = sel.register(sink, SelectionKey.OP_WRITE, "w");
            assertEquals(1, sel.selectNow());
            assertTrue(w.isWritable());
            w.interestOps(0);
            sel.selectedKeys().clear();
            assertEquals(0, sel.selectNow(), "interest 0: not reported");
            w.interestOps(SelectionKey.OP_WRITE);
            assertEquals(1, sel.selectNow());
            assertThrows(IllegalArgumentException.class, () -> w.interestOps(SelectionKey.OP_READ));
            assertEquals("w", w.attach("x"));
            assertEquals("x", w.attachment());
            EpollSelector.Key again = sel.register(sink, SelectionKey.OP_WRITE, "y");
            assertSame(w, again, "registering again updates the same key");
            assertEquals("y", w.attachment());
            w.cancel();
            w.cancel();
            assertFalse(w.isValid());
            assertThrows(CancelledKeyException.class, w::interestOps);
            assertThrows(CancelledKeyException.class, () -> w.interestOps(SelectionKey.OP_WRITE));
            assertThrows(CancelledKeyException.class, w::readyOps);
            sel.selectNow();
            assertFalse(sel.selectedKeys().contains(w), "a cancelled key leaves the selected set at the next selection");
            EpollSelector.Key fresh = sel.register(sink, SelectionKey.OP_WRITE, null);
            assertTrue(fresh.isValid());
            assertEquals(1, sel.selectNow());
        }
    }

    @Test
    void registrationRules() throws IOException {
        Pipe p = Pipe.open();
        try (EpollSelector sel = EpollSelector.open(); Pipe.SourceChannel src = p.source(); Pipe.SinkChannel sink = p.sink()) {
            assertThrows(IllegalBlockingModeException.class, () -> sel.register(src, SelectionKey.OP_READ, null));
            src.configureBlocking(false);
            assertThrows(IllegalArgumentException.class, () -> sel.register(src, SelectionKey.OP_WRITE, null));
            assertThrows(NullPointerException.class, () -> sel.register(src, SelectionKey.OP_READ, null, null));
            sink.close();
            assertThrows(ClosedChannelException.class, () -> sel.register(sink, SelectionKey.OP_WRITE, null));
            assertThrows(IllegalArgumentException.class, () -> sel.select(-1));
            assertThrows(IllegalArgumentException.class, () -> EpollSelector.open(0));
        }
    }

    @Test
    void acceptConnectReadWriteOnSockets() throws Exception {
        try (EpollSelector sel = EpollSelector.open(); ServerSocketChannel server = ServerSocketChannel.open()) {
            server.bind(new InetSocketAddress("127.0.0.1", 0)).configureBlocking(false);
            EpollSelector.Key acceptKey = sel.register(server, SelectionKey.OP_ACCEPT, null);
            SocketChannel client = SocketChannel.open();
            client.configureBlocking(false);
            client.connect(server.getLocalAddress());
            EpollSelector.Key connectKey = sel.register(client, SelectionKey.OP_CONNECT, null);
            boolean accepted = false;
            boolean connected = false;
            for (int i = 0; i < 50 && !(accepted && connected); i++) {
                sel.select(100);
                for (EpollSelector.Key k : sel.selectedKeys()) {
                    if (k == acceptKey && k.isAcceptable()) {
                        accepted = true;
                    }
                    if (k == connectKey && k.isConnectable()) {
                        connected = client.finishConnect();
                    }
                }
                sel.selectedKeys().clear();
            }
            assertTrue(accepted && connected);
            SocketChannel peer = server.accept();
            peer.configureBlocking(false);
            EpollSelector.Key readKey = sel.register(peer, SelectionKey.OP_READ, null);
            client.write(ByteBuffer.wrap(new byte[] {42}));
            assertEquals(1, sel.select(1000));
            assertTrue(readKey.isReadable());
            client.close();
            sel.selectedKeys().clear();
            peer.read(ByteBuffer.allocate(8));
            assertTrue(sel.select(1000) >= 1, "the peer's close makes the channel readable (end of stream)");
            assertTrue(readKey.isReadable());
            assertEquals(-1, peer.read(ByteBuffer.allocate(8)));
            peer.close();
            sel.selectedKeys().clear();
            sel.selectNow();
            assertFalse(readKey.isValid(), "closing a channel cancels its key");
        }
    }

    @Test
    void wakeupAndCloseInterruptASelect() throws Exception {
        EpollSelector sel = EpollSelector.open();
        Future<Integer> waiting = pool.submit(() -> sel.select(0));
        Thread.sleep(50);
        sel.wakeup();
        assertEquals(0, waiting.get(5, TimeUnit.SECONDS));
        sel.wakeup();
        assertEquals(0, sel.select(10_000), "a wakeup before select makes it return at once");
        Future<Integer> second = pool.submit(() -> sel.select());
        Thread.sleep(50);
        sel.close();
        assertEquals(0, second.get(5, TimeUnit.SECONDS), "close ends a running select");
        assertFalse(sel.isOpen());
        sel.close();
        assertThrows(ClosedSelectorException.class, sel::selectNow);
        assertThrows(ClosedSelectorException.class, sel::selectedKeys);
        assertThrows(ClosedSelectorException.class, sel::keys);
        Pipe p = pipe();
        assertThrows(ClosedSelectorException.class, () -> sel.register(p.source(), SelectionKey.OP_READ, null));
        sel.wakeup(); // harmless on a closed selector
        p.source().close();
        p.sink().close();
    }

    @Test
    void keysOfAClosedSelectorAreInvalid() throws IOException {
        Pipe p = pipe();
        EpollSelector sel = EpollSelector.open();
        EpollSelector.Key k = sel.register(p.source(), SelectionKey.OP_READ, null);
        sel.close();
        assertFalse(k.isValid());
        assertTrue(p.source().isOpen(), "closing the selector leaves channels open");
        p.source().close();
        p.sink().close();
    }

    @Test
    void capacityLimitsEventsPerSelection() throws IOException {
        try (EpollSelector sel = EpollSelector.open(2)) {
            Pipe[] pipes = new Pipe[5];
            for (int i = 0; i < pipes.length; i++) {
                pipes[i] = pipe();
                sel.register(pipes[i].sink(), SelectionKey.OP_WRITE, i);
            }
            assertEquals(2, sel.selectNow());
            int total = 2;
            for (int i = 0; i < 5 && total < 5; i++) {
                total += sel.selectNow();
            }
            assertEquals(5, total, "the rest come with the next selections");
            for (Pipe p : pipes) {
                p.sink().close();
                p.source().close();
            }
        }
    }
}
