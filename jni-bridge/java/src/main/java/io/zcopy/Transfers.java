package io.zcopy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.Channel;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.DatagramChannel;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.SelectableChannel;
import java.nio.channels.WritableByteChannel;
import java.util.Objects;

/**
 * The paths behind {@link ZeroCopy}'s transfers, for both directions: a transfer to
 * ({@code to}: the file is read, the other channel written) or from (the other channel read,
 * the file written).
 *
 * <ul>
 *   <li>A file channel the JDK did not open: its own {@code transferTo}/{@code transferFrom}.
 *   <li>A descriptor-backed other channel: one native call, under the descriptor guard chosen
 *       by {@link Call#guarded()}.
 *   <li>Any other channel: the JDK's loop through a heap buffer, after the core checked the
 *       file side ({@link Native#transferLimit}).
 * </ul>
 * Interrupts and asynchronous closes end every path the same way (see {@link #transferFailed}).
 */
final class Transfers {
    /** The packed result's layout, as the native side packs it. */
    private static final long BYTES_MASK = (1L << 47) - 1;
    private static final int SYSCALLS_SHIFT = 47;
    /** The system-call count's field saturates here; {@link Transfer#syscalls()} then says unknown. */
    private static final int SYSCALLS_MAX = (1 << 10) - 1;
    private static final int METHOD_SHIFT = 57;
    private static final long METHOD_BITS = 0xfL << METHOD_SHIFT;
    private static final long WOULD_BLOCK = 1L << 61;
    private static final long HEADER_SHORT = 1L << 62;
    /** The buffer of the Java loop for channels without a descriptor (the JDK's size). */
    private static final int TRANSFER_SIZE = 8192;
    /** An empty buffer: a read or write of nothing (its position and limit never change). */
    private static final ByteBuffer NOTHING = ByteBuffer.allocateDirect(0);

    /** This thread's last transfer, packed as the native side returns it. */
    private static final ThreadLocal<long[]> LAST = ThreadLocal.withInitial(() -> new long[1]);

    private Transfers() {}

    /**
     * Moves up to {@code count} bytes between {@code file} at {@code position} and {@code other}:
     * {@code FileChannel.transferTo}'s semantics when {@code to}, {@code transferFrom}'s otherwise.
     */
    static long transfer(boolean to, FileChannel file, Channel other, long position, long count, TransferMethod method)
            throws IOException {
        Native.ensureLoaded();
        int code = method == null ? 0 : method.forcedCode();
        if (!JdkChannels.isFile(file)) {
            // A FileChannel the JDK did not open: its own method defines the semantics.
            requireAuto(method);
            return loopMoved(to ? file.transferTo(position, count, (WritableByteChannel) other)
                    : file.transferFrom((ReadableByteChannel) other, position, count));
        }
        try {
            if (to ? JdkChannels.isWritableByDescriptor(other) : JdkChannels.isReadableByDescriptor(other)) {
                return unpack(new Call(to, file, other, position, count, code, null, 0, 0).interruptible());
            }
            return channelLoop(to, file, other, position, count, method);
        } catch (IOException e) {
            throw transferFailed(e, file, other);
        }
    }

    /** {@link ZeroCopy#transferToWithHeader}: the header with {@code MSG_MORE}, then the body. */
    static long transferWithHeader(FileChannel src, long position, long count, WritableByteChannel target,
            ByteBuffer header) throws IOException {
        Native.ensureLoaded();
        Objects.requireNonNull(header, "header");
        if (!JdkChannels.isFile(src) || !JdkChannels.isSocket(target)) {
            return headerThenBody(src, position, count, target, header);
        }
        byte[] array;
        int offset;
        int length = header.remaining();
        if (header.hasArray()) {
            array = header.array();
            offset = header.arrayOffset() + header.position();
        } else {
            // Native code never reads a direct buffer's memory (it may be a mapping of a file
            // that another process truncates): the JVM copies it, where a fault is an exception.
            array = new byte[length];
            header.duplicate().get(array);
            offset = 0;
        }
        long packed;
        try {
            packed = new Call(true, src, target, position, count, 0, array, offset, length).interruptible();
        } catch (IOException e) {
            throw transferFailed(e, src, target);
        }
        if ((packed & HEADER_SHORT) != 0) {
            header.position(header.position() + (int) (packed & BYTES_MASK));
            LAST.get()[0] = packed & ~HEADER_SHORT & ~BYTES_MASK;
            return 0;
        }
        header.position(header.limit());
        return unpack(packed);
    }

    /**
     * A header for a target that is not a socket (or from a source the JDK did not open): written
     * with {@code target.write}, then the body by {@link #transfer}. Both channels are checked
     * for closed first, as the transfer would check them, since the header moves before it runs.
     */
    private static long headerThenBody(FileChannel src, long position, long count, WritableByteChannel target,
            ByteBuffer header) throws IOException {
        if (!src.isOpen() || !target.isOpen()) {
            throw new ClosedChannelException();
        }
        try {
            while (header.hasRemaining()) {
                if (target.write(header) == 0) {
                    LAST.get()[0] = WOULD_BLOCK;
                    return 0;
                }
            }
        } catch (IOException e) {
            throw JdkChannels.isFile(src) ? transferFailed(afterTheChecks(e), src, target) : e;
        }
        return transfer(true, src, target, position, count, null);
    }

    /** One native transfer's arguments (the range and header advance on a virtual thread). */
    private static final class Call {
        final boolean to;
        final FileChannel file;
        final Channel other;
        long position;
        long count;
        final int method;
        byte[] header;
        int headerOffset;
        int headerLength;

        Call(boolean to, FileChannel file, Channel other, long position, long count, int method, byte[] header,
                int headerOffset, int headerLength) {
            this.to = to;
            this.file = file;
            this.other = other;
            this.position = position;
            this.count = count;
            this.method = method;
            this.header = header;
            this.headerOffset = headerOffset;
            this.headerLength = headerLength;
        }

        long run(int flags) throws IOException {
            return Native.transfer(to, file, other, position, count, method, flags, header, headerOffset,
                    headerLength);
        }

        /**
         * The call under its descriptor guard (see {@link DescriptorGuard}): the close locks for a
         * file that can seek with another such file or with a non-blocking channel (whose blocking mode is
         * held still by its {@code blockingLock()} for the call), duplicates otherwise.
         */
        long guarded() throws IOException {
            if (!(other instanceof SelectableChannel)) {
                boolean lockable = DescriptorGuard.lockable(file) && DescriptorGuard.lockable((FileChannel) other);
                return run(Native.BLOCKING | (lockable ? Native.GUARD_LOCK : 0));
            }
            SelectableChannel sc = (SelectableChannel) other;
            if (!sc.isBlocking() && DescriptorGuard.lockable(file)) {
                synchronized (sc.blockingLock()) {
                    if (!sc.isBlocking()) {
                        return run(Native.GUARD_LOCK);
                    }
                }
            }
            if (sc.isBlocking() && !(sc instanceof DatagramChannel) && VirtualThreads.current()) {
                return parking(sc);
            }
            return run(sc.isBlocking() ? Native.BLOCKING : 0);
        }

        /**
         * A blocking channel on a virtual thread: never waits in native code, which would hold the
         * carrier. First the JDK's own way into non-blocking mode for a virtual thread: its
         * blocking read or write, here of nothing, makes the descriptor non-blocking for good
         * ({@code forcedNonBlocking}; its channels keep blocking semantics on top, and so does
         * this). Then native calls that move what can move ({@link Native#NO_WAIT}), under the
         * close locks (no system call can wait now), and between them the thread parks on the
         * {@link Poller} until the channel is ready. Returns when the blocking call would: all
         * moved, or the source ended. An error after some bytes moved returns them, a close
         * while parked gives {@link AsynchronousCloseException} (or the bytes moved), an
         * interrupt {@link ClosedByInterruptException} ({@link #transferFailed} closes both
         * channels). Datagram channels keep the blocking path: an empty write would send an
         * empty datagram.
         */
        private long parking(SelectableChannel sc) throws IOException {
            if (to) {
                ((WritableByteChannel) sc).write(NOTHING);
            } else {
                ((ReadableByteChannel) sc).read(NOTHING);
            }
            int flags = Native.BLOCKING | Native.NO_WAIT | (DescriptorGuard.lockable(file) ? Native.GUARD_LOCK : 0);
            long moved = 0;
            long syscalls = 0;
            long method = 0;
            for (;;) {
                long packed;
                try {
                    packed = run(flags);
                } catch (IOException e) {
                    if (moved == 0) {
                        throw e;
                    }
                    break; // the JDK's rule: the bytes moved; the error shows again on the next call
                }
                syscalls += (packed >>> SYSCALLS_SHIFT) & SYSCALLS_MAX;
                if ((packed & METHOD_BITS) != 0) {
                    method = packed & METHOD_BITS;
                }
                long n = packed & BYTES_MASK;
                if ((packed & HEADER_SHORT) != 0) {
                    headerOffset += (int) n;
                    headerLength -= (int) n;
                } else {
                    header = null; // sent whole: the rest is body
                    headerLength = 0;
                    moved += n;
                    position += n;
                    count -= n;
                }
                if ((packed & WOULD_BLOCK) == 0) {
                    break;
                }
                try {
                    Poller.await(sc, to ? Poller.WRITABLE : Poller.READABLE, file, other);
                } catch (ClosedChannelException e) {
                    // Closed since the call above: answered below as a close while parked.
                }
                checkInterrupt();
                if (!file.isOpen() || !other.isOpen()) {
                    if (moved == 0) {
                        throw new AsynchronousCloseException();
                    }
                    break;
                }
            }
            return moved | Math.min(syscalls, SYSCALLS_MAX) << SYSCALLS_SHIFT | method;
        }

        /**
         * {@link #guarded()} between two interrupt checks: a native call is not woken by
         * {@code Thread.interrupt()} (it is not one of the JDK's blocking operations), so an
         * interrupt pending when it starts, or arriving while it runs, is noticed here.
         */
        long interruptible() throws IOException {
            checkInterrupt();
            long packed = guarded();
            checkInterrupt();
            return packed;
        }
    }

    /**
     * The JDK's path for a channel without a descriptor (JDK 21+ {@code transferToArbitraryChannel}
     * and {@code transferFromArbitraryChannel}): a heap buffer, read then written, stopping at the
     * end of the source or at the first short write; an exception after some bytes moved returns
     * the count instead. The core checks the file side first, in the JDK's order, and gives the
     * count clamped at the end of the file.
     */
    private static long channelLoop(boolean to, FileChannel file, Channel other, long position, long count,
            TransferMethod method) throws IOException {
        long limit = Native.transferLimit(to, file, other.isOpen(), position, count);
        requireAuto(method);
        ByteBuffer bb = ByteBuffer.allocate((int) Math.min(limit, TRANSFER_SIZE));
        long moved = 0;
        try {
            while (moved < limit) {
                bb.limit((int) Math.min(limit - moved, TRANSFER_SIZE));
                long at = position + moved;
                int nr = to ? file.read(bb, at) : ((ReadableByteChannel) other).read(bb);
                if (nr <= 0) {
                    break;
                }
                bb.flip();
                int nw = to ? ((WritableByteChannel) other).write(bb) : file.write(bb, at);
                moved += nw;
                if (nw != nr) {
                    break;
                }
                bb.clear();
            }
        } catch (IOException x) {
            if (moved == 0) {
                throw afterTheChecks(x);
            }
        }
        return loopMoved(moved);
    }

    private static void requireAuto(TransferMethod method) {
        if (method != null) {
            throw new UnsupportedOperationException(method + " needs descriptor-backed channels on both sides");
        }
    }

    // ------------------------------------------------------------------ the last transfer

    /** This thread's last transfer. */
    static Transfer last() {
        long packed = LAST.get()[0];
        int code = (int) ((packed >>> METHOD_SHIFT) & 0xf);
        return new Transfer(packed & BYTES_MASK, TransferMethod.fromCode(code), (packed & WOULD_BLOCK) != 0,
                (int) ((packed >>> SYSCALLS_SHIFT) & SYSCALLS_MAX));
    }

    /** Records bytes moved by a Java loop; returns them. */
    private static long loopMoved(long bytes) {
        LAST.get()[0] = bytes > 0 ? bytes | ((long) TransferMethod.CHANNEL_LOOP_CODE << METHOD_SHIFT) : 0;
        return bytes;
    }

    /** Records a native result; returns its bytes. */
    private static long unpack(long packed) {
        LAST.get()[0] = packed;
        return packed & BYTES_MASK;
    }

    // ------------------------------------------------------------------ interrupts and closes

    /*
     * What JDK 22+ FileChannel.transferTo/transferFrom do when the calling thread is interrupted
     * or a channel is closed by another thread during the call, on every path (native and Java
     * loop):
     * - an interrupt (pending when the call starts, or arriving while it runs) closes BOTH
     *   channels and throws ClosedByInterruptException, with the interrupt status kept; the JDK
     *   closes the file channel from its interrupt handler and the other one in transferFailed;
     * - a channel closed by another thread gives AsynchronousCloseException;
     * - an exception after some bytes moved in a Java loop returns the count instead (the loops'
     *   own rule), exactly as the JDK's transferToArbitraryChannel does.
     */

    private static void checkInterrupt() throws ClosedByInterruptException {
        if (Thread.currentThread().isInterrupted()) {
            throw new ClosedByInterruptException();
        }
    }

    /**
     * The exception a transfer between {@code a} and {@code b} ends with after {@code e}
     * (JDK 22+ {@code FileChannelImpl.transferFailed}): on an interrupt both channels are closed
     * and {@link ClosedByInterruptException} is returned; a channel closed during the call gives
     * {@link AsynchronousCloseException}; any other exception is returned as it is.
     */
    private static IOException transferFailed(IOException e, Channel a, Channel b) {
        boolean closed = e instanceof ClosedChannelException || !a.isOpen() || !b.isOpen();
        if (e instanceof ClosedByInterruptException || (closed && Thread.currentThread().isInterrupted())) {
            ClosedByInterruptException cbie = e instanceof ClosedByInterruptException
                    ? (ClosedByInterruptException) e : suppressing(new ClosedByInterruptException(), e);
            closeQuietly(a, cbie);
            closeQuietly(b, cbie);
            return cbie;
        }
        // A ClosedChannelException is the checks' answer for a channel closed before the call
        // (every path reports a close during it as AsynchronousCloseException); another error
        // with a channel closed meanwhile is the close's doing.
        if (e instanceof ClosedChannelException || !closed) {
            return e;
        }
        return suppressing(new AsynchronousCloseException(), e);
    }

    /**
     * An exception from a channel's own method once the checks passed: a plain
     * {@link ClosedChannelException} there means the channel was closed during the transfer.
     */
    private static IOException afterTheChecks(IOException e) {
        return e.getClass() == ClosedChannelException.class ? suppressing(new AsynchronousCloseException(), e) : e;
    }

    private static <T extends Exception> T suppressing(T outer, Exception inner) {
        outer.addSuppressed(inner);
        return outer;
    }

    private static void closeQuietly(Channel ch, Exception into) {
        try {
            ch.close();
        } catch (IOException ioe) {
            into.addSuppressed(ioe);
        }
    }
}
