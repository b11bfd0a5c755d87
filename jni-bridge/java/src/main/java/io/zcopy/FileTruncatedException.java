package io.zcopy;

import java.io.IOException;

/**
 * The file behind a {@link MappedRegion} shrank under the mapping, so part of the region has
 * no file page behind it any more. Thrown by zcopy's own region methods ({@code load},
 * {@code force}, transfers through the mapped path); accesses through a {@code ByteBuffer}
 * are the JVM's and fail with {@link InternalError} instead (see the README).
 */
public final class FileTruncatedException extends IOException {
    private static final long serialVersionUID = 1L;

    /** @param message what noticed the truncation */
    public FileTruncatedException(String message) {
        super(message);
    }
}
