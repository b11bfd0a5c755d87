package io.zcopy;

import java.io.IOException;
import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel.MapMode;
import java.util.Objects;

/**
 * A mapped byte range of a file: {@code MappedByteBuffer} semantics, but closable now and not
 * limited to 2 GiB.
 *
 * <p><b>Closing.</b> {@link #close()} releases the file at once: the mapping no longer pins it
 * (a deleted file's space is freed), and truncating the file afterwards cannot hurt. Buffers
 * obtained from {@link #buffer()} or {@link #slice(long, int)} before the close stay valid: they
 * read zeros and their writes go nowhere, until they are garbage-collected, when their address
 * range is finally unmapped (immediately at close when no buffer was ever made). No use of a
 * stale buffer can crash the JVM.
 *
 * <p><b>Garbage collection.</b> A region that is never closed behaves like a JDK
 * {@code MappedByteBuffer}: every buffer it handed out ({@link #buffer()}, {@link #slice(long, int)}
 * and their {@code slice()}, {@code duplicate()} and read-only views) keeps the mapping alive for
 * as long as the buffer is reachable, even after the region object itself was dropped, so
 * {@code ByteBuffer b = ZeroCopy.map(ch, READ_WRITE, 0, n).buffer()} keeps reading and writing
 * the file. The mapping goes when the region and all its buffers are unreachable.
 *
 * <p>After {@code close()}, every method of the region except {@link #isOpen()},
 * {@link #size()}, {@link #position()}, {@link #mode()} and {@code close()} itself throws
 * {@link IllegalStateException}, as a closed JDK 22 {@code Arena}'s segments do: a closed
 * region is a programming error in the caller, not an I/O condition, and the region is not a
 * channel (its file may have been closed long ago), so {@code ClosedChannelException} would
 * mislead.
 *
 * <p><b>Access.</b> The long-indexed accessors ({@link #get(long)}, {@link #getLong(long)},
 * {@link #put(long, byte)}, {@link #putLong(long, long)} and the bulk forms) run in Java over
 * direct buffers of at most 1 GiB each, so the JVM, not native code, touches mapped memory.
 * Multi-byte values are big-endian, like a {@code ByteBuffer}'s default. A READ_ONLY region
 * throws {@link java.nio.ReadOnlyBufferException} on writes. Out-of-range indices throw
 * {@link IndexOutOfBoundsException}.
 *
 * <p><b>Threads.</b> All methods may be called from any thread, {@code close()} included; a
 * region closed while another thread reads it gives that thread zeros or
 * {@link IllegalStateException}, never a crash.
 *
 * <p><b>Truncated files.</b> If another process truncates the file while the region is open,
 * accesses to the lost pages through buffers or the accessors fail the way the JVM handles
 * every mapped-buffer fault, with {@link InternalError} ("a fault occurred in an unsafe memory
 * access operation"; on JDK 17 it may arrive asynchronously, "in a recent unsafe memory access
 * operation in compiled Java code"). The region's own native methods ({@link #load()},
 * {@link #force()}) report it as {@link FileTruncatedException}. Native code never touches the
 * pages, so the JVM itself never crashes.
 */
public final class MappedRegion implements AutoCloseable {
    /** Chunk span: index bits below this shift address within a chunk. */
    private static final int CHUNK_SHIFT = 30;
    private static final long CHUNK = 1L << CHUNK_SHIFT;
    private static final long CHUNK_MASK = CHUNK - 1;
    /** Each chunk reaches this far into the next one, so an 8-byte access never straddles two. */
    private static final int OVERLAP = 7;

    static final Cleaner CLEANER = Cleaner.create();

    private final HandleGuard guard;
    private final Closer closer;
    private final Cleaner.Cleanable cleanable;
    private final MapMode mode;
    private final long position;
    private final long size;
    private final boolean readOnly;
    /** Lazily made chunk buffers; a {@link Chunk}'s final field publishes its buffer safely. */
    private final Chunk[] chunks;
    /** Plain on purpose: memory safety does not depend on it (stale buffers read zeros). */
    private boolean closed;
    /**
     * The one chunk of a region of at most 1 GiB, once made (null again after close): the
     * accessors' fast path. Plain: a racing reader that sees null takes the slow path, which
     * reads the safely published {@link Chunk}; one that still sees the buffer after a close on
     * another thread reads zeros, which is memory-safe.
     */
    private ByteBuffer single;

    private static final class Chunk {
        final ByteBuffer buf;

        Chunk(ByteBuffer buf) {
            this.buf = buf;
        }
    }

    /**
     * Releases the region's own handle: from {@link #close()}, which first releases the file
     * (the anonymous remap), or from the Cleaner once the region object is unreachable, which
     * only lets go of the handle. Collection must never cut a reachable buffer off its file: a
     * {@code ByteBuffer} kept after its region was dropped is the natural port of
     * {@code ch.map(...)}, and each buffer root holds a handle of its own, so the mapping stays
     * until the last buffer is collected too, as a JDK {@code MappedByteBuffer}'s does.
     */
    private static final class Closer implements Runnable {
        private final HandleGuard guard;
        /** Set by {@link MappedRegion#close()} just before it runs this on its own thread. */
        private boolean releaseFile;

        Closer(HandleGuard guard) {
            this.guard = guard;
        }

        @Override
        public void run() {
            if (guard.close()) {
                try {
                    if (releaseFile) {
                        Native.regionClose(guard.handle());
                    }
                } finally {
                    guard.release();
                }
            }
        }
    }

    /** Releases a buffer root's handle when the buffer is collected. */
    private static final class ReleaseHandle implements Runnable {
        private final long handle;

        ReleaseHandle(long handle) {
            this.handle = handle;
        }

        @Override
        public void run() {
            Native.regionRelease(handle);
        }
    }

    MappedRegion(long handle, MapMode mode, boolean readOnly, long position, long size) {
        this.guard = new HandleGuard(handle, Native::regionRelease);
        this.closer = new Closer(guard);
        this.cleanable = CLEANER.register(this, closer);
        this.mode = mode;
        this.position = position;
        this.size = size;
        this.readOnly = readOnly;
        this.chunks = new Chunk[(int) ((size + CHUNK - 1) >>> CHUNK_SHIFT)];
    }

    // ------------------------------------------------------------------ facts

    /** @return the region's length in bytes */
    public long size() {
        return size;
    }

    /** @return the file position of the region's first byte */
    public long position() {
        return position;
    }

    /** @return the mapping mode */
    public MapMode mode() {
        return mode;
    }

    /** @return whether {@link #close()} has not been called */
    public boolean isOpen() {
        return !guard.isClosed();
    }

    // ------------------------------------------------------------------ buffers

    /**
     * The whole region as a new {@code ByteBuffer} (position 0, limit and capacity
     * {@link #size()}, big-endian; read-only for READ_ONLY). Every call returns a new buffer over
     * the same memory.
     *
     * @return the buffer
     * @throws UnsupportedOperationException when the region is larger than
     *     {@link Integer#MAX_VALUE} bytes: use {@link #slice(long, int)} or the long-indexed
     *     accessors
     */
    public ByteBuffer buffer() {
        checkOpen();
        if (size > Integer.MAX_VALUE) {
            throw new UnsupportedOperationException("a region of " + size
                    + " bytes does not fit in one ByteBuffer; use slice(offset, length) or the long-indexed accessors");
        }
        return slice(0, (int) size);
    }

    /**
     * A new {@code ByteBuffer} over {@code [offset, offset + length)} of the region.
     *
     * @param offset the first byte, from the region's start
     * @param length the buffer's capacity
     * @return the buffer (read-only for READ_ONLY)
     * @throws IndexOutOfBoundsException when the range is not inside the region
     */
    public ByteBuffer slice(long offset, int length) {
        checkOpen();
        Objects.checkFromIndexSize(offset, length, size);
        if (length == 0) {
            ByteBuffer empty = ByteBuffer.allocateDirect(0);
            return readOnly ? empty.asReadOnlyBuffer() : empty;
        }
        int index = (int) (offset >>> CHUNK_SHIFT);
        int within = (int) (offset & CHUNK_MASK);
        ByteBuffer chunk = chunk(index);
        if ((long) within + length <= chunk.capacity()) {
            return chunk.slice(within, length);
        }
        return root(offset, length);
    }

    private ByteBuffer chunk(int index) {
        Chunk c = chunks[index];
        if (c == null) {
            long start = (long) index << CHUNK_SHIFT;
            int len = (int) Math.min(size - start, CHUNK + OVERLAP);
            c = new Chunk(root(start, len));
            chunks[index] = c;
            if (chunks.length == 1 && !closed) {
                single = c.buf;
            }
        }
        return c.buf;
    }

    /** A new root buffer with its own handle, released when the buffer is collected. */
    private ByteBuffer root(long offset, int length) {
        if (!guard.acquire()) {
            throw closedException();
        }
        try {
            long view = Native.regionRetain(guard.handle());
            ByteBuffer buf;
            try {
                buf = Native.regionBuffer(guard.handle(), offset, length);
            } catch (RuntimeException | Error e) {
                Native.regionRelease(view);
                throw e;
            }
            CLEANER.register(buf, new ReleaseHandle(view));
            // Derived buffers (slices, duplicates, read-only views) keep this root reachable.
            return readOnly ? buf.asReadOnlyBuffer() : buf;
        } finally {
            guard.release();
            Reference.reachabilityFence(this);
        }
    }

    // ------------------------------------------------------------------ accessors

    /** The chunk buffer holding {@code [index, index + width)}, after the checks. */
    private ByteBuffer slowBuffer(long index, int width) {
        checkOpen();
        Objects.checkFromIndexSize(index, width, size);
        return chunk((int) (index >>> CHUNK_SHIFT));
    }

    /**
     * The buffer to access {@code [index, index + width)} through, at {@code index & CHUNK_MASK}.
     * The fast path, for regions of at most 1 GiB once their buffer exists: {@code single} spans
     * exactly the region, so the buffer's own bounds check is the region's (it throws
     * {@link IndexOutOfBoundsException}); an index past the first chunk takes the slow path and
     * its check. {@code close()} clears {@code single}, so a closed region takes the slow path and
     * its {@link IllegalStateException}. Kept this small so the JIT compiles an accessor like a
     * {@code MappedByteBuffer} access.
     */
    private ByteBuffer at(long index, int width) {
        ByteBuffer b = single;
        return b != null && (index >>> CHUNK_SHIFT) == 0 ? b : slowBuffer(index, width);
    }

    /**
     * @param index the byte's offset in the region
     * @return the byte
     */
    public byte get(long index) {
        return at(index, 1).get((int) (index & CHUNK_MASK));
    }

    /**
     * @param index the first byte's offset in the region
     * @return the big-endian long at {@code index}
     */
    public long getLong(long index) {
        return at(index, 8).getLong((int) (index & CHUNK_MASK));
    }

    /**
     * @param index the byte's offset in the region
     * @param value the byte to store
     * @return this region
     */
    public MappedRegion put(long index, byte value) {
        at(index, 1).put((int) (index & CHUNK_MASK), value);
        return this;
    }

    /**
     * @param index the first byte's offset in the region
     * @param value the long to store, big-endian
     * @return this region
     */
    public MappedRegion putLong(long index, long value) {
        at(index, 8).putLong((int) (index & CHUNK_MASK), value);
        return this;
    }

    /**
     * Copies {@code length} bytes from {@code index} of the region into {@code dst} at
     * {@code offset}.
     *
     * @param index where to read in the region
     * @param dst the destination array
     * @param offset where to write in {@code dst}
     * @param length how many bytes
     * @return this region
     */
    public MappedRegion get(long index, byte[] dst, int offset, int length) {
        return bulk(index, dst, offset, length, false);
    }

    /**
     * Fills {@code dst} from {@code index} of the region.
     *
     * @param index where to read in the region
     * @param dst the destination array
     * @return this region
     */
    public MappedRegion get(long index, byte[] dst) {
        return get(index, dst, 0, dst.length);
    }

    /**
     * Copies {@code length} bytes of {@code src} from {@code offset} into the region at
     * {@code index}.
     *
     * @param index where to write in the region
     * @param src the source array
     * @param offset where to read in {@code src}
     * @param length how many bytes
     * @return this region
     */
    public MappedRegion put(long index, byte[] src, int offset, int length) {
        return bulk(index, src, offset, length, true);
    }

    /**
     * Copies all of {@code src} into the region at {@code index}.
     *
     * @param index where to write in the region
     * @param src the source array
     * @return this region
     */
    public MappedRegion put(long index, byte[] src) {
        return put(index, src, 0, src.length);
    }

    /** A bulk copy between the region and {@code array}, chunk by chunk ({@code put}: into the region). */
    private MappedRegion bulk(long index, byte[] array, int offset, int length, boolean put) {
        checkOpen();
        Objects.checkFromIndexSize(offset, length, array.length);
        Objects.checkFromIndexSize(index, length, size);
        while (length > 0) {
            int within = (int) (index & CHUNK_MASK);
            int n = (int) Math.min(length, CHUNK - within);
            ByteBuffer chunk = chunk((int) (index >>> CHUNK_SHIFT));
            if (put) {
                chunk.put(within, array, offset, n);
            } else {
                chunk.get(within, array, offset, n);
            }
            index += n;
            offset += n;
            length -= n;
        }
        return this;
    }

    // ------------------------------------------------------------------ kernel operations

    /**
     * Writes the whole region back to the file and waits ({@code msync(MS_SYNC)}). A no-op for an
     * empty region; "may have no effect" for READ_ONLY and PRIVATE, as the JDK says.
     *
     * @throws FileTruncatedException when the file shrank under the region
     * @throws IOException when {@code msync} fails
     */
    public void force() throws IOException {
        force(0, size);
    }

    /**
     * Writes {@code [offset, offset + length)} back to the file and waits. The range is widened
     * to whole pages, so neighbouring bytes may be written too.
     *
     * @param offset the first byte, from the region's start
     * @param length how many bytes
     * @throws IndexOutOfBoundsException when the range is not inside the region
     * @throws IOException when {@code msync} fails
     */
    public void force(long offset, long length) throws IOException {
        checkOpen();
        Objects.checkFromIndexSize(offset, length, size);
        acquire();
        try {
            Native.regionForce(guard.handle(), offset, length);
        } finally {
            release();
        }
    }

    /**
     * Faults every page of the region in ({@code MADV_POPULATE_READ} on Linux 5.14+), so later
     * reads do not wait for the disk. Unlike {@code MappedByteBuffer.load()}, a truncated file
     * is an exception here, not a fault.
     *
     * @return this region
     * @throws FileTruncatedException when part of the region has no file page behind it
     * @throws IOException when {@code madvise} fails
     */
    public MappedRegion load() throws IOException {
        checkOpen();
        acquire();
        try {
            Native.regionLoad(guard.handle());
        } finally {
            release();
        }
        return this;
    }

    /**
     * Whether every page of the region is resident in memory ({@code mincore}); a hint, as in
     * the JDK. True for an empty region.
     *
     * @return whether all pages are resident
     * @throws IOException when {@code mincore} fails
     */
    public boolean isLoaded() throws IOException {
        checkOpen();
        acquire();
        try {
            return Native.regionIsLoaded(guard.handle());
        } finally {
            release();
        }
    }

    /**
     * Gives the kernel advice about {@code [offset, offset + length)} ({@code madvise}), which
     * the JDK does not offer. Only advice that cannot discard data is accepted.
     *
     * @param advice what to tell the kernel
     * @param offset the first byte, from the region's start
     * @param length how many bytes
     * @return this region
     * @throws IOException when the kernel refuses the advice
     */
    public MappedRegion advise(Advice advice, long offset, long length) throws IOException {
        Objects.requireNonNull(advice, "advice");
        checkOpen();
        Objects.checkFromIndexSize(offset, length, size);
        acquire();
        try {
            Native.regionAdvise(guard.handle(), advice.raw, offset, length);
        } finally {
            release();
        }
        return this;
    }

    /**
     * Releases the file now (see the class documentation). Idempotent; safe from any thread and
     * while other threads use the region or its buffers.
     */
    @Override
    public void close() {
        single = null;
        closed = true;
        closer.releaseFile = true;
        cleanable.clean();
    }

    @Override
    public String toString() {
        return "MappedRegion[" + mode + ", position=" + position + ", size=" + size + (isOpen() ? "" : ", closed") + "]";
    }

    private void checkOpen() {
        if (closed) {
            throw closedException();
        }
    }

    private void acquire() {
        if (!guard.acquire()) {
            throw closedException();
        }
    }

    private void release() {
        guard.release();
        Reference.reachabilityFence(this);
    }

    private static IllegalStateException closedException() {
        return new IllegalStateException("the region is closed");
    }

    /** Advice for {@link #advise(Advice, long, long)}: the non-destructive {@code MADV_*} values. */
    public enum Advice {
        /** No special treatment ({@code MADV_NORMAL}). */
        NORMAL(0),
        /** Expect random access: read ahead less ({@code MADV_RANDOM}). */
        RANDOM(1),
        /** Expect sequential access: read ahead more ({@code MADV_SEQUENTIAL}). */
        SEQUENTIAL(2),
        /** Expect access soon: start reading now ({@code MADV_WILLNEED}). */
        WILL_NEED(3),
        /** Use transparent huge pages ({@code MADV_HUGEPAGE}). */
        HUGE_PAGE(14),
        /** Leave out of core dumps ({@code MADV_DONTDUMP}). */
        DONT_DUMP(16);

        final int raw;

        Advice(int raw) {
            this.raw = raw;
        }
    }
}
