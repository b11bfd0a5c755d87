package io.zcopy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/** A FileChannel the JDK did not open: an in-memory file, for the paths that must not use descriptors. */
final class FakeFileChannel extends FileChannel {
    private byte[] data;
    private long position;

    FakeFileChannel() {
        this(new byte[0]);
    }

    FakeFileChannel(byte[] data) {
        this.data = data.clone();
    }

    byte[] data() {
        return data.clone();
    }

    @Override
    public int read(ByteBuffer dst) {
        return advance(read(dst, position));
    }

    @Override
    public int write(ByteBuffer src) {
        return advance(write(src, position));
    }

    /** Moves the position past {@code n} bytes read or written; returns {@code n}. */
    private int advance(int n) {
        position += Math.max(n, 0);
        return n;
    }

    @Override
    public long read(ByteBuffer[] dsts, int offset, int length) {
        throw new UnsupportedOperationException();
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) {
        throw new UnsupportedOperationException();
    }

    @Override
    public long position() {
        return position;
    }

    @Override
    public FileChannel position(long newPosition) {
        position = newPosition;
        return this;
    }

    @Override
    public long size() {
        return data.length;
    }

    @Override
    public FileChannel truncate(long size) {
        if (size < data.length) {
            data = java.util.Arrays.copyOf(data, (int) size);
        }
        return this;
    }

    @Override
    public void force(boolean metaData) {}

    @Override
    public long transferTo(long pos, long count, WritableByteChannel target) throws IOException {
        if (pos >= data.length) {
            return 0;
        }
        int n = (int) Math.min(count, data.length - pos);
        return target.write(ByteBuffer.wrap(data, (int) pos, n));
    }

    @Override
    public long transferFrom(ReadableByteChannel src, long pos, long count) throws IOException {
        ByteBuffer b = ByteBuffer.allocate((int) Math.min(count, 1 << 20));
        int n = src.read(b);
        if (n <= 0) {
            return 0;
        }
        b.flip();
        return write(b, pos);
    }

    @Override
    public int read(ByteBuffer dst, long pos) {
        if (pos >= data.length) {
            return -1;
        }
        int n = (int) Math.min(dst.remaining(), data.length - pos);
        dst.put(data, (int) pos, n);
        return n;
    }

    @Override
    public int write(ByteBuffer src, long pos) {
        int n = src.remaining();
        if (pos + n > data.length) {
            data = java.util.Arrays.copyOf(data, (int) (pos + n));
        }
        src.get(data, (int) pos, n);
        return n;
    }

    @Override
    public MappedByteBuffer map(MapMode mode, long pos, long size) {
        throw new UnsupportedOperationException();
    }

    @Override
    public FileLock lock(long pos, long size, boolean shared) {
        throw new UnsupportedOperationException();
    }

    @Override
    public FileLock tryLock(long pos, long size, boolean shared) {
        throw new UnsupportedOperationException();
    }

    @Override
    protected void implCloseChannel() {}
}
