package io.zcopy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.Channel;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileChannel.MapMode;
import java.nio.channels.NonReadableChannelException;
import java.nio.channels.NonWritableChannelException;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.SelectableChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The Linux kernel's zero-copy I/O with {@code FileChannel} semantics: mapped regions that can
 * be closed now and may exceed 2 GiB, and {@code transferTo}/{@code transferFrom} over
 * {@code copy_file_range}, {@code sendfile} and {@code splice}.
 *
 * <pre>{@code
 * try (FileChannel ch = FileChannel.open(path, READ, WRITE);
 *      MappedRegion region = ZeroCopy.map(ch, MapMode.READ_WRITE, 0, 8L << 30)) { // 8 GiB
 *     region.putLong(6L << 30, 42);
 *     region.force();
 * } // the file is released here, not at some garbage collection
 *
 * long n = ZeroCopy.transferTo(file, 0, file.size(), socketChannel);
 * System.out.println(n + " bytes by " + ZeroCopy.lastMethod()); // e.g. "... by sendfile"
 * }</pre>
 *
 * <p>Every method checks its arguments in the same order as the JDK method it mirrors and
 * throws the same exception types ({@link ClosedChannelException},
 * {@link NonReadableChannelException}, {@link NonWritableChannelException},
 * {@link IllegalArgumentException}, {@link IOException} with the operating system's message).
 * Where JDK 17 and JDK 21+ differ, zcopy follows JDK 21+ (see the README).
 */
public final class ZeroCopy {
    /** The version of this jar (and of the native library it carries). */
    public static final String VERSION = "0.1.0";

    /** One call moves at most this (128 TiB), so the native side can pack the count with the rest. */
    private static final long MAX_PER_CALL = (1L << 47) - 1;
    private static final int SYSCALLS_SHIFT = 47;
    /** The system-call count's field saturates here; {@link Transfer#syscalls()} then says unknown. */
    private static final int SYSCALLS_MAX = (1 << 10) - 1;
    private static final int METHOD_SHIFT = 57;
    private static final long WOULD_BLOCK = 1L << 61;
    private static final long HEADER_SHORT = 1L << 62;
    /** The buffer of the Java loops for channels without a descriptor (the JDK's size). */
    private static final int TRANSFER_SIZE = 8192;
    /** Linux's {@code ENOMEM}: no address space (or memory) for a mapping. */
    private static final int ENOMEM = 12;
    /** Closed regions whose address range waits for the GC, before map() asks for one. */
    private static final long HANDLE_PRESSURE = 16_384;

    /** This thread's last transfer, packed as the native side returns it. */
    private static final ThreadLocal<long[]> LAST = ThreadLocal.withInitial(() -> new long[1]);
    private static long handlesAtLastGc;

    private ZeroCopy() {}

    /**
     * The version of this jar, e.g. {@code "0.1.0"}: the release's one version number, which the
     * Python package ({@code zcopy.__version__}) and the C library ({@code zc_version()}) of the
     * same release report too. Loads nothing; {@link #nativeVersion()} asks the native library.
     *
     * @return {@link #VERSION}
     */
    public static String version() {
        return VERSION;
    }

    /**
     * Throws {@link NativeLibraryException} when the native library cannot be used here; returns
     * the library's version otherwise. Every other method checks this by itself.
     *
     * @return the native library's version, e.g. {@code "0.1.0"}
     */
    public static String nativeVersion() {
        Native.ensureLoaded();
        return Native.version();
    }

    // ------------------------------------------------------------------ map

    /**
     * Maps {@code size} bytes of the channel's file from {@code position}, with
     * {@link FileChannel#map}'s checks, check order and exceptions, except that {@code size} may
     * exceed {@link Integer#MAX_VALUE}.
     *
     * <ol>
     *   <li>{@code mode == null}: {@link NullPointerException} ("Mode is null");
     *   <li>channel closed: {@link ClosedChannelException};
     *   <li>{@code position < 0}, {@code size < 0}, {@code position + size} overflowing:
     *       {@link IllegalArgumentException};
     *   <li>an unknown mode: {@link UnsupportedOperationException};
     *   <li>a mode other than READ_ONLY on a channel not open for writing:
     *       {@link NonWritableChannelException} (PRIVATE too, as the JDK requires); a channel not
     *       open for reading: {@link NonReadableChannelException};
     *   <li>past the end of the file: a channel open for writing grows the file (any mode, as
     *       {@code FileChannel.map} does); otherwise {@link IOException}.
     * </ol>
     * {@code jdk.nio.mapmode.ExtendedMapMode.READ_ONLY_SYNC} and {@code READ_WRITE_SYNC} map
     * with {@code MAP_SYNC}, as the JDK does on x86-64 and AArch64: on a file of a DAX file
     * system (persistent memory) writes are durable once flushed from the CPU caches; on any
     * other file system the kernel refuses the mapping and this method throws
     * {@link IOException} ("Operation not supported"), as {@code FileChannel.map} does.
     * The mapping does not depend on the channel afterwards: closing the channel leaves it
     * usable. A channel that the JDK did not open on a file descriptor (a user-defined
     * {@code FileChannel}) gives {@link UnsupportedOperationException}.
     *
     * @param channel the file, open for reading (and writing, for READ_WRITE and PRIVATE)
     * @param mode {@link MapMode#READ_ONLY}, {@link MapMode#READ_WRITE} or {@link MapMode#PRIVATE}
     * @param position the file position of the region's first byte (any byte, no alignment rule)
     * @param size the region's length in bytes; 0 gives an empty region
     * @return the region; close it to release the file
     * @throws IOException when {@code mmap} or growing the file fails, or the file is too short
     *     for a read-only channel
     */
    public static MappedRegion map(FileChannel channel, MapMode mode, long position, long size) throws IOException {
        Native.ensureLoaded();
        checkMapArgs(mode, position, size);
        if (!channel.isOpen()) {
            throw new ClosedChannelException();
        }
        checkMapRange(position, size);
        int code = modeCode(mode);
        if (!JdkChannels.isFile(channel)) {
            throw new UnsupportedOperationException("ZeroCopy.map needs a FileChannel the JDK opened on a file, not a "
                    + channel.getClass().getName());
        }
        return mapChecked(channel, code, mode, position, size, true);
    }

    /**
     * Opens {@code path}, maps it like {@link #map(FileChannel, MapMode, long, long)} and closes
     * the descriptor again (the mapping does not need it). READ_WRITE opens the file for
     * reading and writing (so it grows to fit the region); READ_ONLY and PRIVATE open it for
     * reading only (a copy-on-write mapping never writes the file, so it needs no write
     * permission here, and cannot grow the file: past its end is an {@link IOException}).
     *
     * @param path an existing regular file
     * @param mode the mapping mode
     * @param position the file position of the region's first byte
     * @param size the region's length in bytes
     * @return the region
     * @throws IOException when the file cannot be opened or mapped
     */
    public static MappedRegion map(Path path, MapMode mode, long position, long size) throws IOException {
        Native.ensureLoaded();
        checkMapArgs(mode, position, size);
        checkMapRange(position, size);
        int code = modeCode(mode);
        FileChannel ch = code == 1 || code == 4
                ? FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)
                : FileChannel.open(path, StandardOpenOption.READ);
        try (ch) {
            return mapChecked(ch, code, mode, position, size, false);
        }
    }

    private static void checkMapArgs(MapMode mode, long position, long size) {
        if (mode == null) {
            throw new NullPointerException("Mode is null");
        }
    }

    private static void checkMapRange(long position, long size) {
        if (position < 0L) {
            throw new IllegalArgumentException("Negative position");
        }
        if (size < 0L) {
            throw new IllegalArgumentException("Negative size");
        }
        if (position + size < 0) {
            throw new IllegalArgumentException("Position + size overflow");
        }
    }

    /**
     * The native code of a mode. {@code jdk.nio.mapmode.ExtendedMapMode}'s SYNC modes are
     * recognised by name (only the JDK can make a {@code MapMode}, and naming them keeps this
     * class free of a dependency on the {@code jdk.nio.mapmode} module).
     */
    static int modeCode(MapMode mode) {
        if (mode == MapMode.READ_ONLY) {
            return 0;
        }
        if (mode == MapMode.READ_WRITE) {
            return 1;
        }
        if (mode == MapMode.PRIVATE) {
            return 2;
        }
        switch (mode.toString()) {
            case "READ_ONLY_SYNC":
                return 3;
            case "READ_WRITE_SYNC":
                return 4;
            default:
                throw new UnsupportedOperationException("unsupported map mode " + mode);
        }
    }

    /** Whether a mode's code maps read-only ({@code READ_ONLY}, {@code READ_ONLY_SYNC}). */
    static boolean readOnlyCode(int code) {
        return code == 0 || code == 3;
    }

    private static MappedRegion mapChecked(FileChannel ch, int code, MapMode mode, long position, long size,
            boolean privateNeedsWrite) throws IOException {
        relieveHandlePressure();
        long handle;
        try {
            handle = Native.regionMap(ch, code, position, size, privateNeedsWrite);
        } catch (ErrnoException e) {
            if (e.errno() != ENOMEM) {
                throw e;
            }
            // ENOMEM: closed regions may still hold address space until their buffers are
            // collected. Do what FileChannel.map does: ask for a GC, wait, retry once.
            System.gc();
            try {
                Thread.sleep(100);
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
            }
            handle = Native.regionMap(ch, code, position, size, privateNeedsWrite);
        }
        return new MappedRegion(handle, mode, readOnlyCode(code), position, size);
    }

    private static void relieveHandlePressure() {
        long live = Native.liveHandles();
        synchronized (ZeroCopy.class) {
            if (live > HANDLE_PRESSURE && live > 2 * handlesAtLastGc) {
                handlesAtLastGc = live;
                System.gc();
            } else if (live < handlesAtLastGc / 2) {
                handlesAtLastGc = live;
            }
        }
    }

    // ------------------------------------------------------------------ transfers

    /**
     * Transfers up to {@code count} bytes of {@code src} from {@code position} to
     * {@code target}, with {@link FileChannel#transferTo}'s semantics as of JDK 25:
     *
     * <ol>
     *   <li>{@code src} closed, then {@code target} closed: {@link ClosedChannelException};
     *   <li>{@code src} not open for reading: {@link NonReadableChannelException};
     *   <li>a file {@code target} not open for writing: {@link NonWritableChannelException};
     *   <li>{@code position < 0 || count < 0}: {@link IllegalArgumentException};
     *   <li>{@code position} at or past the end of the file: returns 0.
     * </ol>
     * {@code count} is clamped at the end of the file (unless the file reports size 0, such as
     * {@code /proc} files, which are read until they end). {@code src}'s position never moves; a
     * {@code target} with a position advances. A non-blocking {@code target} takes what fits
     * (possibly 0). Unlike the JDK, a blocking {@code target} receives all {@code count} bytes in
     * one call, even more than 0x7ffff000.
     *
     * <p>File, socket and pipe channels the JDK opened move by descriptor, in the kernel
     * ({@code copy_file_range}, {@code sendfile}, {@code splice}; {@link #lastMethod()} says
     * which); other channels through the channels' own methods, as the JDK does. A channel
     * closed by another thread during the call gives {@link AsynchronousCloseException}; the
     * call never writes to a descriptor number the close released.
     *
     * @param src the file to read
     * @param position where in {@code src} to start
     * @param count the most bytes to move
     * @param target where to write
     * @return the bytes moved, {@code >= 0}
     * @throws IOException with the operating system's message (a peer that reset the
     *     connection, a full disk, ...)
     */
    public static long transferTo(FileChannel src, long position, long count, WritableByteChannel target)
            throws IOException {
        return transferTo(src, position, count, target, null);
    }

    /**
     * {@link #transferTo(FileChannel, long, long, WritableByteChannel)} with one specific kernel
     * method and no fallback: for benchmarks, tests, and callers who must know that a given
     * path moved the bytes.
     *
     * @param src the file to read
     * @param position where in {@code src} to start
     * @param count the most bytes to move
     * @param target where to write
     * @param method the method to use: {@link TransferMethod#COPY_FILE_RANGE},
     *     {@link TransferMethod#SENDFILE}, {@link TransferMethod#SPLICE},
     *     {@link TransferMethod#MMAP_WRITE} or {@link TransferMethod#READ_WRITE}
     * @return the bytes moved
     * @throws UnsupportedOperationException when the method cannot serve these channels (for
     *     example {@code copy_file_range} to a socket, or a channel without a descriptor)
     * @throws IOException as the method without {@code method}
     */
    public static long transferTo(FileChannel src, long position, long count, WritableByteChannel target,
            TransferMethod method) throws IOException {
        Native.ensureLoaded();
        int code = method == null ? 0 : method.forcedCode();
        if (!src.isOpen()) {
            throw new ClosedChannelException();
        }
        if (!target.isOpen()) {
            throw new ClosedChannelException();
        }
        if (!JdkChannels.isFile(src)) {
            // A FileChannel the JDK did not open: its own transferTo defines the semantics.
            requireAuto(method);
            long n = src.transferTo(position, count, target);
            setLastLoop(n);
            return n;
        }
        try {
            if (JdkChannels.isWritableByDescriptor(target)) {
                beginNative();
                long packed = transferToNative(src, position, Math.min(count, MAX_PER_CALL), target, code);
                endNative();
                return unpack(packed);
            }
            requireAuto(method);
            return transferToChannel(src, position, count, target);
        } catch (IOException e) {
            throw transferFailed(e, src, target);
        }
    }

    /**
     * The native transfer with its descriptor guard (see {@link DescriptorGuard}): the close locks
     * for a regular file to a regular file or to a non-blocking channel (whose blocking mode is
     * held still by its {@code blockingLock()} for the call), duplicates otherwise.
     */
    private static long transferToNative(FileChannel src, long position, long count, WritableByteChannel target,
            int code) throws IOException {
        if (target instanceof SelectableChannel) {
            SelectableChannel sc = (SelectableChannel) target;
            if (!sc.isBlocking() && DescriptorGuard.lockable(src)) {
                synchronized (sc.blockingLock()) {
                    if (!sc.isBlocking()) {
                        return Native.transferTo(src, position, count, target, false, code, Native.GUARD_LOCK);
                    }
                }
            }
            return Native.transferTo(src, position, count, target, sc.isBlocking(), code, Native.GUARD_DUP);
        }
        int guard = DescriptorGuard.lockable(src) && DescriptorGuard.lockable((FileChannel) target)
                ? Native.GUARD_LOCK : Native.GUARD_DUP;
        return Native.transferTo(src, position, count, target, true, code, guard);
    }

    /**
     * Sends the remaining bytes of {@code header} and then transfers the body, as
     * {@link #transferTo(FileChannel, long, long, WritableByteChannel)}: on a socket the header
     * goes with {@code MSG_MORE}, so that a small header and the start of the body leave in one
     * TCP segment (what a web server wants for a response: nginx gets it from
     * {@code tcp_nopush}).
     *
     * <p>The header's position advances by the header bytes sent; body bytes move only once the
     * header is sent whole. A non-blocking {@code target} may take part of either: the call then
     * returns what it moved of the body (0 when the header is not yet sent whole) and
     * {@link #lastTransfer()}{@code .wouldBlock()} says the socket is full; call again with the
     * same header buffer and the body's position advanced by the return value, once the socket
     * is writable. On a target that is not a socket the header is written with
     * {@code target.write} first.
     *
     * @param src the file to read
     * @param position where in {@code src} the body starts
     * @param count the most body bytes to move (0: the header alone, sent without {@code MSG_MORE})
     * @param target where to write
     * @param header the bytes to send first, from its position to its limit (heap or direct)
     * @return the body bytes moved, {@code >= 0}
     * @throws IOException as {@link #transferTo(FileChannel, long, long, WritableByteChannel)}
     */
    public static long transferToWithHeader(FileChannel src, long position, long count, WritableByteChannel target,
            ByteBuffer header) throws IOException {
        Native.ensureLoaded();
        if (header == null) {
            throw new NullPointerException("header");
        }
        if (!src.isOpen()) {
            throw new ClosedChannelException();
        }
        if (!target.isOpen()) {
            throw new ClosedChannelException();
        }
        if (!JdkChannels.isFile(src) || !JdkChannels.isSocket(target)) {
            try {
                while (header.hasRemaining()) {
                    if (target.write(header) == 0) {
                        LAST.get()[0] = WOULD_BLOCK;
                        return 0;
                    }
                }
            } catch (IOException e) {
                throw JdkChannels.isFile(src) ? transferFailed(e, src, target) : e;
            }
            return transferTo(src, position, count, target);
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
        SelectableChannel sc = (SelectableChannel) target;
        long packed;
        try {
            beginNative();
            if (!sc.isBlocking() && DescriptorGuard.lockable(src)) {
                synchronized (sc.blockingLock()) {
                    packed = sc.isBlocking() ? -1 : Native.transferToWithHeader(src, position,
                            Math.min(count, MAX_PER_CALL), target, false, Native.GUARD_LOCK, array, offset, length);
                }
            } else {
                packed = -1;
            }
            if (packed < 0) {
                packed = Native.transferToWithHeader(src, position, Math.min(count, MAX_PER_CALL), target,
                        sc.isBlocking(), Native.GUARD_DUP, array, offset, length);
            }
            endNative();
        } catch (IOException e) {
            throw transferFailed(e, src, target);
        }
        if ((packed & HEADER_SHORT) != 0) {
            header.position(header.position() + (int) (packed & MAX_PER_CALL));
            LAST.get()[0] = packed & ~HEADER_SHORT & ~MAX_PER_CALL;
            return 0;
        }
        header.position(header.limit());
        return unpack(packed);
    }

    /** The JDK's path for targets without a descriptor (JDK 21+ {@code transferToArbitraryChannel}). */
    private static long transferToChannel(FileChannel src, long position, long count, WritableByteChannel target)
            throws IOException {
        if ((Native.accessMode(src) & 1) == 0) {
            throw new NonReadableChannelException();
        }
        if (position < 0 || count < 0) {
            throw new IllegalArgumentException();
        }
        long size = src.size();
        if (position > size) {
            setLastLoop(0);
            return 0;
        }
        if (size > 0) {
            count = Math.min(count, size - position);
        }
        ByteBuffer bb = ByteBuffer.allocate((int) Math.min(count, TRANSFER_SIZE));
        long tw = 0;
        long pos = position;
        try {
            while (tw < count) {
                bb.limit((int) Math.min(count - tw, TRANSFER_SIZE));
                int nr = src.read(bb, pos);
                if (nr <= 0) {
                    break;
                }
                bb.flip();
                int nw = target.write(bb);
                tw += nw;
                if (nw != nr) {
                    break;
                }
                pos += nw;
                bb.clear();
            }
        } catch (IOException x) {
            if (tw == 0) {
                throw x;
            }
        }
        setLastLoop(tw);
        return tw;
    }

    /**
     * Transfers up to {@code count} bytes from {@code src} into {@code target} at
     * {@code position}, with {@link FileChannel#transferFrom}'s semantics as of JDK 21+:
     *
     * <ol>
     *   <li>{@code target} closed, then {@code src} closed: {@link ClosedChannelException};
     *   <li>a file {@code src} not open for reading: {@link NonReadableChannelException};
     *   <li>{@code target} not open for writing: {@link NonWritableChannelException};
     *   <li>{@code position < 0 || count < 0}: {@link IllegalArgumentException}.
     * </ol>
     * {@code count} is the most to read from {@code src}, not clamped to {@code target}'s size;
     * a position past the end grows the file. A file {@code src} is read from its own position,
     * which advances; {@code target}'s position does not move. A non-blocking {@code src} gives
     * what it has (possibly 0); a source at its end gives 0.
     *
     * @param target the file to write
     * @param src where to read
     * @param position where in {@code target} to write
     * @param count the most bytes to move
     * @return the bytes moved, {@code >= 0}
     * @throws IOException with the operating system's message
     */
    public static long transferFrom(FileChannel target, ReadableByteChannel src, long position, long count)
            throws IOException {
        return transferFrom(target, src, position, count, null);
    }

    /**
     * {@link #transferFrom(FileChannel, ReadableByteChannel, long, long)} with one specific
     * kernel method and no fallback.
     *
     * @param target the file to write
     * @param src where to read
     * @param position where in {@code target} to write
     * @param count the most bytes to move
     * @param method the method to use
     * @return the bytes moved
     * @throws UnsupportedOperationException when the method cannot serve these channels
     * @throws IOException as the method without {@code method}
     */
    public static long transferFrom(FileChannel target, ReadableByteChannel src, long position, long count,
            TransferMethod method) throws IOException {
        Native.ensureLoaded();
        int code = method == null ? 0 : method.forcedCode();
        if (!target.isOpen()) {
            throw new ClosedChannelException();
        }
        if (!src.isOpen()) {
            throw new ClosedChannelException();
        }
        if (!JdkChannels.isFile(target)) {
            requireAuto(method);
            long n = target.transferFrom(src, position, count);
            setLastLoop(n);
            return n;
        }
        try {
            if (JdkChannels.isReadableByDescriptor(src)) {
                beginNative();
                long packed = transferFromNative(target, src, position, Math.min(count, MAX_PER_CALL), code);
                endNative();
                return unpack(packed);
            }
            requireAuto(method);
            return transferFromChannel(target, src, position, count);
        } catch (IOException e) {
            throw transferFailed(e, target, src);
        }
    }

    /** The native transfer with its descriptor guard, as {@link #transferToNative}. */
    private static long transferFromNative(FileChannel target, ReadableByteChannel src, long position, long count,
            int code) throws IOException {
        if (src instanceof SelectableChannel) {
            SelectableChannel sc = (SelectableChannel) src;
            if (!sc.isBlocking() && DescriptorGuard.lockable(target)) {
                synchronized (sc.blockingLock()) {
                    if (!sc.isBlocking()) {
                        return Native.transferFrom(target, src, position, count, false, code, Native.GUARD_LOCK);
                    }
                }
            }
            return Native.transferFrom(target, src, position, count, sc.isBlocking(), code, Native.GUARD_DUP);
        }
        int guard = DescriptorGuard.lockable(target) && DescriptorGuard.lockable((FileChannel) src)
                ? Native.GUARD_LOCK : Native.GUARD_DUP;
        return Native.transferFrom(target, src, position, count, true, code, guard);
    }

    /** The JDK's path for sources without a descriptor (JDK 21+ {@code transferFromArbitraryChannel}). */
    private static long transferFromChannel(FileChannel target, ReadableByteChannel src, long position, long count)
            throws IOException {
        if ((Native.accessMode(target) & 2) == 0) {
            throw new NonWritableChannelException();
        }
        if (position < 0 || count < 0) {
            throw new IllegalArgumentException();
        }
        ByteBuffer bb = ByteBuffer.allocate((int) Math.min(count, TRANSFER_SIZE));
        long tw = 0;
        long pos = position;
        try {
            while (tw < count) {
                bb.limit((int) Math.min(count - tw, TRANSFER_SIZE));
                int nr = src.read(bb);
                if (nr <= 0) {
                    break;
                }
                bb.flip();
                int nw = target.write(bb, pos);
                tw += nw;
                if (nw != nr) {
                    break;
                }
                pos += nw;
                bb.clear();
            }
        } catch (IOException x) {
            if (tw == 0) {
                throw x;
            }
        }
        setLastLoop(tw);
        return tw;
    }

    /**
     * The path that moved the bytes of this thread's last {@code transferTo}/{@code transferFrom}
     * ({@link TransferMethod#NONE} when it moved nothing).
     *
     * @return the method
     */
    public static TransferMethod lastMethod() {
        return lastTransfer().method();
    }

    /**
     * This thread's last {@code transferTo}/{@code transferFrom} in full: bytes, method, whether
     * the non-blocking side was full, system calls.
     *
     * @return the last transfer (all zero before the first)
     */
    public static Transfer lastTransfer() {
        long packed = LAST.get()[0];
        int code = (int) ((packed >>> METHOD_SHIFT) & 0xf);
        return new Transfer(packed & MAX_PER_CALL, TransferMethod.fromCode(code), (packed & WOULD_BLOCK) != 0,
                (int) ((packed >>> SYSCALLS_SHIFT) & SYSCALLS_MAX));
    }

    private static void setLastLoop(long bytes) {
        LAST.get()[0] = bytes > 0 ? bytes | ((long) TransferMethod.CHANNEL_LOOP_CODE << METHOD_SHIFT) : 0;
    }

    private static void requireAuto(TransferMethod method) {
        if (method != null) {
            throw new UnsupportedOperationException(method + " needs descriptor-backed channels on both sides");
        }
    }

    private static long unpack(long packed) {
        LAST.get()[0] = packed;
        return packed & MAX_PER_CALL;
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
     * A native call is not woken by Thread.interrupt() (it is not one of the JDK's blocking
     * operations); it notices the interrupt when it returns, and then behaves as above.
     */

    /** Before a native transfer: a thread already interrupted closes the channels at once. */
    private static void beginNative() throws ClosedByInterruptException {
        if (Thread.currentThread().isInterrupted()) {
            throw new ClosedByInterruptException();
        }
    }

    /** After a native transfer: an interrupt that arrived during it wins over its result. */
    private static void endNative() throws ClosedByInterruptException {
        beginNative();
    }

    /**
     * The exception a transfer between {@code a} and {@code b} ends with after {@code e}
     * (JDK 22+ {@code FileChannelImpl.transferFailed}): on an interrupt both channels are closed
     * and {@link ClosedByInterruptException} is returned; a channel closed during the call gives
     * {@link AsynchronousCloseException}; any other exception is returned as it is.
     */
    private static IOException transferFailed(IOException e, Channel a, Channel b) {
        ClosedByInterruptException cbie = null;
        if (e instanceof ClosedByInterruptException) {
            cbie = (ClosedByInterruptException) e;
        } else if ((e instanceof ClosedChannelException || !a.isOpen() || !b.isOpen())
                && Thread.currentThread().isInterrupted()) {
            cbie = new ClosedByInterruptException();
            cbie.addSuppressed(e);
        }
        if (cbie != null) {
            closeQuietly(a, cbie);
            closeQuietly(b, cbie);
            return cbie;
        }
        if (e instanceof AsynchronousCloseException) {
            return e;
        }
        if (e instanceof ClosedChannelException || !a.isOpen() || !b.isOpen()) {
            AsynchronousCloseException ace = new AsynchronousCloseException();
            ace.addSuppressed(e);
            return ace;
        }
        return e;
    }

    private static void closeQuietly(Channel ch, Exception into) {
        try {
            ch.close();
        } catch (IOException ioe) {
            into.addSuppressed(ioe);
        }
    }
}
