package io.zcopy;

import java.io.IOException;
import java.nio.channels.Channel;
import java.nio.channels.SelectableChannel;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Where zcopy's virtual threads wait for a descriptor, in the manner of the JDK's own poller: one
 * daemon platform thread on an epoll selector of its own. A waiting thread registers a
 * descriptor one-shot with a token of its own and parks; the poller unparks it when the event
 * fires. The thread then deregisters and tries its system call again, so a spurious or late
 * event costs one try, never a wrong result.
 *
 * <p>A channel closed by another thread while a thread waits on it makes no event (the wait
 * holds a duplicate of its descriptor, which keeps the file open), and the JDK's close wakes
 * only the JDK's own waiters. So the poller looks at the waiters' channels every
 * {@link #SWEEP_MILLIS} ms and unparks those whose channel closed: a close ends a wait within
 * that time. An interrupt unparks the thread at once.
 */
final class Poller {
    /** How often the poller looks for waiters whose channel was closed. */
    static final long SWEEP_MILLIS = 100;
    static final int READABLE = 1;
    static final int WRITABLE = 2;

    private final long handle;
    private final AtomicLong nextToken = new AtomicLong(1);
    private final Map<Long, Waiter> waiters = new ConcurrentHashMap<>();

    private Poller(long handle) {
        this.handle = handle;
    }

    /** The poller, started by the first wait (its selector lives as long as the JVM). */
    private static final class Instance {
        static final Poller POLLER = start();

        private static Poller start() {
            try {
                Poller p = new Poller(Native.selectorOpen(256));
                Thread t = new Thread(p::run, "zcopy-poller");
                t.setDaemon(true);
                t.start();
                return p;
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
    }

    /** A parked thread, and the channels whose close ends its wait. */
    private static final class Waiter {
        final Thread thread = Thread.currentThread();
        final Channel[] watched;
        volatile boolean ready;

        Waiter(Channel[] watched) {
            this.watched = watched;
        }

        boolean watchedOpen() {
            for (Channel c : watched) {
                if (!c.isOpen()) {
                    return false;
                }
            }
            return true;
        }
    }

    /**
     * Parks the calling thread until {@code channel} is ready for {@code interest}
     * ({@link #READABLE}, {@link #WRITABLE}), until one of {@code watched} (the call's channels)
     * is closed, or until the thread is interrupted. The caller looks at which.
     */
    static void await(SelectableChannel channel, int interest, Channel... watched) throws IOException {
        Instance.POLLER.park(channel, -1, interest, 0, watched);
    }

    /**
     * Parks the calling thread until {@code fd} is readable, the thread is interrupted, or
     * {@code deadline} ({@code System.nanoTime()}, 0: none) passes. The caller keeps {@code fd}
     * open meanwhile.
     */
    static void awaitReadable(int fd, long deadline) throws IOException {
        Instance.POLLER.park(null, fd, READABLE, deadline, new Channel[0]);
    }

    private void park(SelectableChannel channel, int fd, int interest, long deadline, Channel[] watched)
            throws IOException {
        long token = nextToken.getAndIncrement();
        Waiter w = new Waiter(watched);
        waiters.put(token, w);
        int armed;
        try {
            armed = Native.selectorArm(handle, channel, fd, interest, token);
        } catch (IOException | RuntimeException e) {
            waiters.remove(token);
            throw e;
        }
        try {
            while (!w.ready && !Thread.currentThread().isInterrupted() && w.watchedOpen()) {
                if (deadline == 0) {
                    LockSupport.park(this);
                } else {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        break;
                    }
                    LockSupport.parkNanos(this, left);
                }
            }
        } finally {
            waiters.remove(token);
            Native.selectorDisarm(handle, armed, channel != null);
        }
    }

    private void run() {
        long[] tokens = new long[256];
        int[] events = new int[256];
        long sweepAt = System.nanoTime();
        for (;;) {
            try {
                int n = Native.selectorSelect(handle, SWEEP_MILLIS, tokens, events) & ~Native.WOKEN;
                for (int i = 0; i < n; i++) {
                    Waiter w = waiters.get(tokens[i]);
                    if (w != null) {
                        w.ready = true;
                        LockSupport.unpark(w.thread);
                    }
                }
                if (System.nanoTime() - sweepAt >= SWEEP_MILLIS * 1_000_000) {
                    sweepAt = System.nanoTime();
                    for (Waiter w : waiters.values()) {
                        if (!w.watchedOpen()) {
                            LockSupport.unpark(w.thread);
                        }
                    }
                }
            } catch (IOException | RuntimeException e) {
                // epoll_wait does not fail on a valid descriptor; keep serving the waiters.
                LockSupport.parkNanos(SWEEP_MILLIS * 1_000_000);
            }
        }
    }
}
