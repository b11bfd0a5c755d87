package io.zcopy;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongConsumer;

/**
 * Keeps a native handle alive while calls use it, and frees it exactly once after it was
 * closed and the last call returned: the lock-free "acquire/release" a closed JDK 22 arena
 * uses, in one {@code int} (the sign bit says closed, the rest counts users; the owner counts
 * as one user until {@link #close()}).
 */
final class HandleGuard {
    private static final int CLOSED = 0x8000_0000;

    private final AtomicInteger state = new AtomicInteger(1);
    private final long handle;
    private final LongConsumer free;

    HandleGuard(long handle, LongConsumer free) {
        this.handle = handle;
        this.free = free;
    }

    /** The handle, for a call between a successful {@link #acquire()} and its {@link #release()}. */
    long handle() {
        return handle;
    }

    /** Counts one more user; false once closed. */
    boolean acquire() {
        for (;;) {
            int s = state.get();
            if ((s & CLOSED) != 0) {
                return false;
            }
            if (state.compareAndSet(s, s + 1)) {
                return true;
            }
        }
    }

    /** Ends one use; the last use after close frees the handle. */
    void release() {
        if (state.decrementAndGet() == CLOSED) {
            free.accept(handle);
        }
    }

    /**
     * Marks the handle closed (no new users). Returns true for the one caller that closed it,
     * which must call {@link #release()} once it has finished its own closing work.
     */
    boolean close() {
        for (;;) {
            int s = state.get();
            if ((s & CLOSED) != 0) {
                return false;
            }
            if (state.compareAndSet(s, s | CLOSED)) {
                return true;
            }
        }
    }

    boolean isClosed() {
        return (state.get() & CLOSED) != 0;
    }
}
