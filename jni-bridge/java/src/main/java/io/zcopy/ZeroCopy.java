package io.zcopy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileChannel.MapMode;
import java.nio.channels.NonReadableChannelException;
import java.nio.channels.NonWritableChannelException;
import java.nio.channels.ReadableByteChannel;
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

    /** Linux's {@code ENOMEM}: no address space (or memory) for a mapping. */
    private static final int ENOMEM = 12;
    /** Closed regions whose address range waits for the GC, before map() asks for one. */
    private static final long HANDLE_PRESSURE = 16_384;

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
     *   <li>an unknown mode: {@link UnsupportedOperationException} (the JDK looks at the mode
     *       before the channel too);
     *   <li>channel closed: {@link ClosedChannelException};
     *   <li>{@code position < 0}, {@code size < 0}, {@code position + size} overflowing:
     *       {@link IllegalArgumentException};
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
        int code = modeCode(mode);
        FileChannel ch = code == 1 || code == 4
                ? FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)
                : FileChannel.open(path, StandardOpenOption.READ);
        try (ch) {
            return mapChecked(ch, code, mode, position, size, false);
        }
    }

    /**
     * The native code of a mode. {@code jdk.nio.mapmode.ExtendedMapMode}'s SYNC modes are
     * recognised by name (only the JDK can make a {@code MapMode}, and naming them keeps this
     * class free of a dependency on the {@code jdk.nio.mapmode} module). A mode the JDK does not
     * have (none exists in JDK 17 to 25) is refused here, before the channel is looked at.
     */
    static int modeCode(MapMode mode) {
        if (mode == null) {
            throw new NullPointerException("Mode is null");
        }
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
     * one call, even more than 0x7ffff000; on a virtual thread the call waits for it by parking
     * the thread, never in native code, so the carrier serves other virtual threads meanwhile.
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
        return Transfers.transfer(true, src, target, position, count, method);
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
        return Transfers.transferWithHeader(src, position, count, target, header);
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
        return Transfers.transfer(false, target, src, position, count, null);
    }

    /**
     * {@link #transferFrom(FileChannel, ReadableByteChannel, long, long)} (same arguments) with
     * one specific kernel method and no fallback, as
     * {@link #transferTo(FileChannel, long, long, WritableByteChannel, TransferMethod)} takes one:
     * {@link UnsupportedOperationException} when the method cannot serve these channels.
     *
     * @param method the method to use ({@link TransferMethod#COPY_FILE_RANGE} from a file,
     *     {@link TransferMethod#SPLICE} from a socket or pipe, ...)
     * @return the bytes moved
     * @throws IOException as without {@code method}
     */
    public static long transferFrom(FileChannel target, ReadableByteChannel src, long position, long count,
            TransferMethod method) throws IOException {
        return Transfers.transfer(false, target, src, position, count, method);
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
        return Transfers.last();
    }
}
