package io.zcopy;

/**
 * The path that moved the bytes of a transfer, as reported by {@link ZeroCopy#lastMethod()},
 * and the methods a caller may force with the {@code transferTo}/{@code transferFrom}
 * overloads that take one.
 */
public enum TransferMethod {
    /** Nothing moved (count 0, position at or past the end, an empty source). */
    NONE(0, "none"),
    /** {@code copy_file_range(2)}: in-kernel file to file, block sharing on reflink file systems. */
    COPY_FILE_RANGE(1, "copy_file_range"),
    /** {@code sendfile(2)}: in-kernel file to any descriptor. */
    SENDFILE(2, "sendfile"),
    /** {@code splice(2)}, through a pipe where neither side is one. */
    SPLICE(3, "splice"),
    /** The source mapped read-only and written with {@code write(2)}: one CPU copy. */
    MMAP_WRITE(4, "mmap+write"),
    /** A {@code read(2)}/{@code write(2)} loop through a native buffer: two CPU copies. */
    READ_WRITE(5, "read/write"),
    /**
     * A channel without a descriptor (a user-defined or wrapping channel) took part, so the
     * bytes moved through a heap buffer by the channels' own {@code read}/{@code write}, as the
     * JDK does for such channels. Cannot be forced. Java only: its code is outside the native
     * method table.
     */
    CHANNEL_LOOP(TransferMethod.CHANNEL_LOOP_CODE, "channel loop");

    /**
     * The code of {@link #CHANNEL_LOOP}: the largest of the 4-bit method field, which the native
     * table never uses.
     */
    static final int CHANNEL_LOOP_CODE = 15;

    private final int code;
    private final String label;

    /**
     * The codes and names are the native method table's (the core's {@code TransferMethod}); a
     * test checks every constant against the library's own table.
     */
    TransferMethod(int code, String label) {
        this.code = code;
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
        for (TransferMethod m : values()) {
            if (m.code == code) {
                return m;
            }
        }
        return NONE;
    }

    /** The method's code in the native table. */
    int code() {
        return code;
    }

    /** The code the native side takes for a forced method. */
    int forcedCode() {
        if (this == NONE || this == CHANNEL_LOOP) {
            throw new IllegalArgumentException(this + " cannot be forced");
        }
        return code;
    }
}
