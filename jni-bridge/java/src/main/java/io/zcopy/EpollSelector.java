package io.zcopy;

import java.io.Closeable;
import java.io.IOException;
import java.lang.ref.Reference;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.IllegalBlockingModeException;
import java.nio.channels.SelectableChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An epoll selector for the JDK's selectable channels, with the {@link java.nio.channels.Selector}
 * API shape and what that API cannot express: edge-triggered and one-shot registrations.
 *
 * <pre>{@code
 * try (EpollSelector selector = EpollSelector.open()) {
 *     server.configureBlocking(false);
 *     selector.register(server, SelectionKey.OP_ACCEPT, null);
 *     while (running) {
 *         selector.select(1000);
 *         for (Iterator<EpollSelector.Key> it = selector.selectedKeys().iterator(); it.hasNext(); ) {
 *             EpollSelector.Key key = it.next();
 *             it.remove();
 *             if (key.isAcceptable()) { ... }
 *             if (key.isWritable()) { ZeroCopy.transferTo(file, pos, left, (SocketChannel) key.channel()); ... }
 *         }
 *     }
 * }
 * }</pre>
 *
 * <p>Semantics follow {@code Selector}: registration needs a non-blocking channel
 * ({@link IllegalBlockingModeException}) and operations in {@link SelectableChannel#validOps()}
 * ({@link IllegalArgumentException}); registering a channel again updates its key; a key's
 * ready set accumulates while it stays in the selected-key set; {@code select} returns the
 * number of keys whose ready set was updated; {@code select(0)} waits without limit; an error
 * or hang-up makes every interested operation ready, so that the next read or write reports
 * it. Closing a channel cancels its key (noticed at the next selection, as in the JDK).
 *
 * <p>Threads: {@code select} runs on one thread at a time; {@code register}, the key methods,
 * {@link #wakeup()} and {@link #close()} may be called from any thread while it waits (the
 * kernel applies registrations at once, so unlike the JDK no wakeup is needed for a new
 * registration to count). {@link #selectedKeys()} is not thread-safe, as in the JDK.
 */
public final class EpollSelector implements Closeable {
    /** How a registration reports readiness. */
    public enum Trigger {
        /** Reported as long as the channel is ready (the default, as {@code Selector}). */
        LEVEL(0),
        /** Reported when readiness changes ({@code EPOLLET}): read or write until nothing is left. */
        EDGE(1),
        /** Reported once, then disarmed until {@link Key#interestOps(int)} re-arms it ({@code EPOLLONESHOT}). */
        ONESHOT(2),
        /** Edge-triggered and one-shot. */
        EDGE_ONESHOT(3);

        final int bits;

        Trigger(int bits) {
            this.bits = bits;
        }
    }

    private static final int EPOLLIN = 0x001;
    private static final int EPOLLPRI = 0x002;
    private static final int EPOLLOUT = 0x004;
    private static final int EPOLLERR = 0x008;
    private static final int EPOLLHUP = 0x010;
    private static final int EPOLLRDHUP = 0x2000;
    private static final int CTL_ADD = 0;
    private static final int CTL_MOD = 1;
    private static final int CTL_DEL = 2;

    private final HandleGuard guard;
    private final AtomicLong nextToken = new AtomicLong(1);
    private final Map<Long, Key> byToken = new ConcurrentHashMap<>();
    private final Map<SelectableChannel, Key> byChannel = new ConcurrentHashMap<>();
    private final ConcurrentLinkedQueue<Key> cancelled = new ConcurrentLinkedQueue<>();
    private final Set<Key> selected = new HashSet<>();
    private final Set<Key> selectedView = new UngrowableSet<>(selected);
    private final long[] tokens;
    private final int[] events;
    private final Object selectLock = new Object();
    private int sweepAt = 64;

    private EpollSelector(long handle, int capacity) {
        this.guard = new HandleGuard(handle, Native::selectorFree);
        this.tokens = new long[capacity];
        this.events = new int[capacity];
    }

    /**
     * Opens a selector that reports up to 1024 ready channels per selection.
     *
     * @return the selector
     * @throws IOException when {@code epoll_create1} or {@code eventfd} fails
     */
    public static EpollSelector open() throws IOException {
        return open(1024);
    }

    /**
     * Opens a selector that reports up to {@code capacity} ready channels per selection (the
     * rest are reported by the next selection).
     *
     * @param capacity events per selection, at least 1
     * @return the selector
     * @throws IOException when {@code epoll_create1} or {@code eventfd} fails
     */
    public static EpollSelector open(int capacity) throws IOException {
        Native.ensureLoaded();
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be at least 1");
        }
        return new EpollSelector(Native.selectorOpen(capacity), capacity);
    }

    /**
     * Registers {@code channel} level-triggered, as {@code channel.register(selector, ops, att)}.
     *
     * @param channel a non-blocking JDK channel (socket, server socket, pipe end, datagram)
     * @param ops interest set ({@link SelectionKey#OP_READ} etc.)
     * @param attachment any object, or null
     * @return the channel's key
     * @throws ClosedChannelException when the channel is closed
     * @throws IOException when {@code epoll_ctl} fails
     */
    public Key register(SelectableChannel channel, int ops, Object attachment) throws IOException {
        return register(channel, ops, attachment, Trigger.LEVEL);
    }

    /**
     * Registers {@code channel} with the given trigger. A channel registered before gets its
     * interest set, attachment and trigger updated and keeps its key.
     *
     * @param channel a non-blocking JDK channel
     * @param ops interest set
     * @param attachment any object, or null
     * @param trigger level, edge, one-shot or both
     * @return the channel's key
     * @throws ClosedSelectorException when this selector is closed
     * @throws ClosedChannelException when the channel is closed
     * @throws IllegalBlockingModeException when the channel is in blocking mode
     * @throws IllegalArgumentException when {@code ops} has operations the channel does not support
     * @throws IOException when {@code epoll_ctl} fails
     */
    public Key register(SelectableChannel channel, int ops, Object attachment, Trigger trigger) throws IOException {
        if (trigger == null) {
            throw new NullPointerException("trigger");
        }
        ensureOpen();
        if (!channel.isOpen()) {
            throw new ClosedChannelException();
        }
        if ((ops & ~channel.validOps()) != 0) {
            throw new IllegalArgumentException("invalid interest set " + ops + " for " + channel);
        }
        if (channel.isBlocking()) {
            throw new IllegalBlockingModeException();
        }
        if (!JdkChannels.isSelectable(channel)) {
            throw new IllegalArgumentException("EpollSelector watches the JDK's own channels, not a "
                    + channel.getClass().getName());
        }
        synchronized (byChannel) {
            Key key = byChannel.get(channel);
            if (key != null && key.isValid()) {
                key.attach(attachment);
                key.update(ops, trigger);
                return key;
            }
            sweepIfDue();
            key = new Key(this, channel, nextToken.getAndIncrement(), attachment);
            key.update(ops, trigger);
            byToken.put(key.token, key);
            byChannel.put(channel, key);
            return key;
        }
    }

    /** Drops keys whose channels were closed without a cancel (amortised over registrations). */
    private void sweepIfDue() {
        if (byChannel.size() < sweepAt) {
            return;
        }
        for (Key k : new ArrayList<>(byChannel.values())) {
            if (!k.channel.isOpen()) {
                k.cancel();
            }
        }
        sweepAt = Math.max(64, 2 * byChannel.size());
    }

    /**
     * Waits until at least one channel is ready, {@link #wakeup()} is called, or
     * {@code timeoutMillis} passes; 0 waits without limit, as {@code Selector.select(long)}.
     *
     * @param timeoutMillis the longest wait in milliseconds; 0 for no limit
     * @return the number of keys whose ready set was updated
     * @throws IllegalArgumentException when {@code timeoutMillis} is negative
     * @throws ClosedSelectorException when the selector is closed
     * @throws IOException when {@code epoll_wait} fails
     */
    public int select(long timeoutMillis) throws IOException {
        if (timeoutMillis < 0) {
            throw new IllegalArgumentException("Negative timeout");
        }
        return doSelect(timeoutMillis == 0 ? -1 : timeoutMillis);
    }

    /**
     * Waits without limit until a channel is ready or {@link #wakeup()} is called.
     *
     * @return the number of keys whose ready set was updated
     * @throws IOException when {@code epoll_wait} fails
     */
    public int select() throws IOException {
        return doSelect(-1);
    }

    /**
     * Selects without waiting.
     *
     * @return the number of keys whose ready set was updated
     * @throws IOException when {@code epoll_wait} fails
     */
    public int selectNow() throws IOException {
        return doSelect(0);
    }

    private int doSelect(long timeout) throws IOException {
        synchronized (selectLock) {
            ensureOpen();
            dropCancelled();
            if (!guard.acquire()) {
                throw new ClosedSelectorException();
            }
            int n;
            try {
                n = Native.selectorSelect(guard.handle(), timeout, tokens, events);
            } finally {
                guard.release();
                Reference.reachabilityFence(this);
            }
            if (!isOpen()) {
                return 0;
            }
            int updated = 0;
            for (int i = 0; i < n; i++) {
                Key key = byToken.get(tokens[i]);
                if (key == null || !key.isValid()) {
                    continue;
                }
                if (!key.channel.isOpen()) {
                    key.cancel();
                    continue;
                }
                int ready = key.translate(events[i]);
                if (ready == 0) {
                    continue;
                }
                if (selected.contains(key)) {
                    if ((key.readyOps | ready) != key.readyOps) {
                        key.readyOps |= ready;
                        updated++;
                    }
                } else {
                    key.readyOps = ready;
                    selected.add(key);
                    updated++;
                }
            }
            dropCancelled();
            return updated;
        }
    }

    private void dropCancelled() {
        for (Key k; (k = cancelled.poll()) != null; ) {
            selected.remove(k);
        }
    }

    /**
     * The keys selected so far: remove a key once it is handled (adding is not supported).
     * Not thread-safe, as in the JDK.
     *
     * @return the selected-key set
     */
    public Set<Key> selectedKeys() {
        ensureOpen();
        return selectedView;
    }

    /**
     * The valid keys of channels that are still open.
     *
     * @return a snapshot of the registered keys
     */
    public Set<Key> keys() {
        ensureOpen();
        Set<Key> out = new HashSet<>();
        for (Key k : byToken.values()) {
            if (k.isValid() && k.channel.isOpen()) {
                out.add(k);
            }
        }
        return Collections.unmodifiableSet(out);
    }

    /**
     * Makes the running (or the next) selection return at once. Any thread; wake-ups coalesce.
     *
     * @return this selector
     */
    public EpollSelector wakeup() {
        if (guard.acquire()) {
            try {
                Native.selectorWake(guard.handle());
            } catch (IOException e) {
                // eventfd writes only fail when the counter is full, which already means "awake".
            } finally {
                guard.release();
                Reference.reachabilityFence(this);
            }
        }
        return this;
    }

    /** @return whether {@link #close()} has not been called */
    public boolean isOpen() {
        return !guard.isClosed();
    }

    /**
     * Closes the selector: a running selection returns, every key becomes invalid, the epoll
     * descriptor is released once no call uses it. Channels stay open. Idempotent.
     */
    @Override
    public void close() {
        if (!guard.close()) {
            return;
        }
        try {
            Native.selectorClose(guard.handle());
        } finally {
            guard.release();
        }
        for (Key k : byToken.values()) {
            k.valid = false;
        }
        byToken.clear();
        byChannel.clear();
    }

    private void ensureOpen() {
        if (guard.isClosed()) {
            throw new ClosedSelectorException();
        }
    }

    /** epoll_ctl on the native side, unless the selector is closed (then the key is moot). */
    private void ctl(Key key, int op, int interest, int mode) throws IOException {
        if (!guard.acquire()) {
            throw new ClosedSelectorException();
        }
        try {
            Native.selectorCtl(guard.handle(), key.channel, op, key.token, interest, mode);
        } finally {
            guard.release();
            Reference.reachabilityFence(this);
        }
    }

    /**
     * A channel's registration with an {@link EpollSelector}: the {@link SelectionKey} API.
     */
    public static final class Key {
        private final EpollSelector selector;
        private final SelectableChannel channel;
        final long token;
        private volatile Object attachment;
        private volatile boolean valid = true;
        private volatile int interestOps = -1;
        private volatile Trigger trigger;
        /** Whether the channel is in the epoll set (it is not while interest is 0). */
        private boolean armed;
        int readyOps;

        /** A key not yet in the epoll set: {@link #update} adds it with its interest and trigger. */
        Key(EpollSelector selector, SelectableChannel channel, long token, Object attachment) {
            this.selector = selector;
            this.channel = channel;
            this.token = token;
            this.attachment = attachment;
        }

        /** @return false once cancelled, or its selector or channel closed */
        public boolean isValid() {
            return valid && selector.isOpen() && channel.isOpen();
        }

        /** @return the channel */
        public SelectableChannel channel() {
            return channel;
        }

        /** @return the selector */
        public EpollSelector selector() {
            return selector;
        }

        /**
         * Cancels the registration: the channel leaves the epoll set now, the key leaves the
         * selected-key set at the next selection. Idempotent.
         */
        public void cancel() {
            synchronized (this) {
                if (!valid) {
                    return;
                }
                valid = false;
                if (armed && channel.isOpen() && selector.isOpen()) {
                    try {
                        selector.ctl(this, CTL_DEL, 0, 0);
                    } catch (IOException | ClosedSelectorException e) {
                        // The channel or selector closed meanwhile: the kernel dropped it already.
                    }
                }
                armed = false;
            }
            selector.byToken.remove(token);
            selector.byChannel.remove(channel, this);
            selector.cancelled.add(this);
        }

        /** @return the interest set */
        public int interestOps() {
            ensureValid();
            return interestOps;
        }

        /**
         * Sets the interest set (and re-arms a one-shot registration).
         *
         * @param ops the new interest set
         * @return this key
         * @throws IllegalArgumentException when the channel does not support an operation
         * @throws java.nio.channels.CancelledKeyException when the key is no longer valid
         */
        public Key interestOps(int ops) {
            ensureValid();
            if ((ops & ~channel.validOps()) != 0) {
                throw new IllegalArgumentException("invalid interest set " + ops);
            }
            try {
                update(ops, trigger);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            return this;
        }

        /** @return the trigger of the registration */
        public Trigger trigger() {
            return trigger;
        }

        synchronized void update(int ops, Trigger newTrigger) throws IOException {
            if (!valid) {
                throw new java.nio.channels.CancelledKeyException();
            }
            int interest = interestBits(ops);
            if (interest == 0) {
                // As the JDK: no interest means out of the epoll set, so hang-ups do not spin.
                if (armed) {
                    selector.ctl(this, CTL_DEL, 0, 0);
                    armed = false;
                }
            } else if (armed) {
                selector.ctl(this, CTL_MOD, interest, newTrigger.bits);
            } else {
                selector.ctl(this, CTL_ADD, interest, newTrigger.bits);
                armed = true;
            }
            interestOps = ops;
            trigger = newTrigger;
        }

        private static int interestBits(int ops) {
            int bits = 0;
            if ((ops & (SelectionKey.OP_READ | SelectionKey.OP_ACCEPT)) != 0) {
                bits |= 1;
            }
            if ((ops & (SelectionKey.OP_WRITE | SelectionKey.OP_CONNECT)) != 0) {
                bits |= 2;
            }
            return bits;
        }

        /** epoll event bits → ready operations, as the JDK's channels translate poll events. */
        int translate(int ev) {
            int ops = interestOps;
            if ((ev & (EPOLLERR | EPOLLHUP)) != 0) {
                return ops;
            }
            int ready = 0;
            if ((ev & (EPOLLIN | EPOLLRDHUP | EPOLLPRI)) != 0) {
                ready |= ops & (SelectionKey.OP_READ | SelectionKey.OP_ACCEPT);
            }
            if ((ev & EPOLLOUT) != 0) {
                if ((ops & SelectionKey.OP_CONNECT) != 0 && channel instanceof SocketChannel
                        && ((SocketChannel) channel).isConnectionPending()) {
                    ready |= SelectionKey.OP_CONNECT;
                }
                ready |= ops & SelectionKey.OP_WRITE;
            }
            return ready;
        }

        /** @return the operations found ready by the last selection that updated this key */
        public int readyOps() {
            ensureValid();
            return readyOps;
        }

        /** @return whether the channel is ready for reading */
        public boolean isReadable() {
            return (readyOps() & SelectionKey.OP_READ) != 0;
        }

        /** @return whether the channel is ready for writing */
        public boolean isWritable() {
            return (readyOps() & SelectionKey.OP_WRITE) != 0;
        }

        /** @return whether a server channel has a connection to accept */
        public boolean isAcceptable() {
            return (readyOps() & SelectionKey.OP_ACCEPT) != 0;
        }

        /** @return whether a connecting channel can finish connecting */
        public boolean isConnectable() {
            return (readyOps() & SelectionKey.OP_CONNECT) != 0;
        }

        /**
         * @param ob the new attachment, or null
         * @return the previous attachment
         */
        public Object attach(Object ob) {
            Object old = attachment;
            attachment = ob;
            return old;
        }

        /** @return the attachment */
        public Object attachment() {
            return attachment;
        }

        private void ensureValid() {
            if (!isValid()) {
                throw new java.nio.channels.CancelledKeyException();
            }
        }

        @Override
        public String toString() {
            return "EpollSelector.Key[" + channel + ", interest=" + interestOps + ", " + trigger
                    + (valid ? "" : ", cancelled") + "]";
        }
    }

    /** A set view that allows removal but not addition, like the JDK's selected-key set. */
    private static final class UngrowableSet<E> extends java.util.AbstractSet<E> {
        private final Set<E> set;

        UngrowableSet(Set<E> set) {
            this.set = set;
        }

        @Override
        public java.util.Iterator<E> iterator() {
            return set.iterator();
        }

        @Override
        public int size() {
            return set.size();
        }

        @Override
        public boolean contains(Object o) {
            return set.contains(o);
        }

        @Override
        public boolean remove(Object o) {
            return set.remove(o);
        }

        @Override
        public void clear() {
            set.clear();
        }

        @Override
        public boolean add(E e) {
            throw new UnsupportedOperationException("keys are added by select");
        }
    }

    /** For tests: the keys the selector still tracks (valid or awaiting a sweep). */
    List<Key> trackedKeys() {
        return new ArrayList<>(byToken.values());
    }
}
