package io.zcopy;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * Chooses how a native transfer protects the channels' descriptors from a concurrent close
 * (README "The descriptor guards"; the native half is {@code jni-bridge/src/channels.rs}):
 *
 * <ul>
 *   <li>{@link Native#GUARD_LOCK}: the native side holds each channel's close lock (the monitor
 *       {@code AbstractInterruptibleChannel.close()} runs under) around each system call, so a
 *       concurrent {@code close()} waits for it. No system call of its own. Only where no system
 *       call can block indefinitely, or {@code close()} would hang with it: seekable files
 *       (regular files, block devices, {@code /dev/null}),
 *       selectable channels in non-blocking mode (whose {@code blockingLock()} the caller holds
 *       meanwhile, so the mode cannot change), and blocking ones on a virtual thread once the JDK
 *       made their descriptor non-blocking for good (the native side checks that);
 *   <li>{@link Native#GUARD_DUP}: the native side works on duplicates of the descriptors (three
 *       system calls per transfer): blocking sockets and pipes, FIFOs and terminals opened as
 *       {@code FileChannel}s.
 * </ul>
 */
final class DescriptorGuard {
    /** Whether this JDK's channels have the close lock (8 to 25 do). */
    private static final boolean LOCKS = Native.isLoaded() && Native.closeLocksAvailable();

    /**
     * Which file channels never wait (are seekable), per thread (no locking on the hot path); the
     * kind of an open descriptor never changes, and the map forgets channels that were collected.
     */
    private static final ThreadLocal<Map<FileChannel, Boolean>> SEEKABLE = ThreadLocal.withInitial(WeakHashMap::new);

    private DescriptorGuard() {}

    /**
     * Whether the close-lock guard may cover this file channel: a seekable file, where no system
     * call blocks indefinitely (a FIFO or a terminal opened as a {@code FileChannel} could).
     * False when it cannot be told (a closed channel): the duplicate guard then reports it.
     */
    static boolean lockable(FileChannel ch) {
        if (!LOCKS) {
            return false;
        }
        Map<FileChannel, Boolean> known = SEEKABLE.get();
        Boolean seekable = known.get(ch);
        if (seekable == null) {
            try {
                seekable = Native.neverWaits(ch);
            } catch (IOException e) {
                return false;
            }
            known.put(ch, seekable);
        }
        return seekable;
    }
}
