package io.zcopy;

/**
 * The file behind a {@link MappedRegion} shrank under the mapping, so part of the region has
 * no file page behind it any more ({@link #errno()} is {@code EFAULT}). Thrown by zcopy's own
 * region methods ({@code load}, {@code force}, transfers through the mapped path); accesses
 * through a {@code ByteBuffer} are the JVM's and fail with {@link InternalError} instead (see the
 * README).
 */
public final class FileTruncatedException extends ErrnoException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message what noticed the truncation
     * @param errno the error number ({@code EFAULT})
     * @param operation the operation that noticed it
     */
    public FileTruncatedException(String message, int errno, String operation) {
        super(message, errno, operation);
    }
}
