package io.zcopy;

/**
 * The path that moved the bytes of a transfer, as reported by {@link ZeroCopy#lastMethod()},
 * and the methods a caller may force with the {@code transferTo}/{@code transferFrom}
 * overloads that take one.
 */
public enum TransferMethod {
    /** Nothing moved (count 0, position at or past the end, an empty source). */
    NONE("none"),
    /** {@code copy_file_range(2)}: in-kernel file to file, block sharing on reflink file systems. */
    COPY_FILE_RANGE("copy_file_range"),
    /** {@code sendfile(2)}: in-kernel file to any descriptor. */
    SENDFILE("sendfile"),
    /** {@code splice(2)}, through a pipe where neither side is one. */
    SPLICE("splice"),
    /** The source mapped read-only and written with {@code write(2)}: one CPU copy. */
    MMAP_WRITE("mmap+write"),
    /** A {@code read(2)}/{@code write(2)} loop through a native buffer: two CPU copies. */
    READ_WRITE("read/write"),
    /**
     * A channel without a descriptor (a user-defined or wrapping channel) took part, so the
     * bytes moved through a heap buffer by the channels' own {@code read}/{@code write}, as the
     * JDK does for such channels. Cannot be forced.
     */
    CHANNEL_LOOP("channel loop");

    private final String label;

    TransferMethod(String label) {
        this.label = label;
    }

    /** Whether the bytes moved without a CPU copy through user space. */
    public boolean isZeroCopy() {
        return this == COPY_FILE_RANGE || this == SENDFILE || this == SPLICE;
    }

    /** The name benchmarks print: {@code copy_file_range}, {@code sendfile}, ... */
    @Override
    public String toString() {
        return label;
    }

    static TransferMethod fromCode(int code) {
        switch (code) {
            case 1: return COPY_FILE_RANGE;
            case 2: return SENDFILE;
            case 3: return SPLICE;
            case 4: return MMAP_WRITE;
            case 5: return READ_WRITE;
            default: return NONE;
        }
    }

    /** The code the native side takes for a forced method. */
    int code() {
        switch (this) {
            case COPY_FILE_RANGE: return 1;
            case SENDFILE: return 2;
            case SPLICE: return 3;
            case MMAP_WRITE: return 4;
            case READ_WRITE: return 5;
            default: throw new IllegalArgumentException(this + " cannot be forced");
        }
    }
}
