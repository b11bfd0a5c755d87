package io.zcopy;

import java.io.IOException;

/**
 * An operating-system error from zcopy's native code, with the {@code errno} and the operation
 * as fields, so callers branch on {@link #errno()} rather than on the message text (which starts
 * with the system's description, as the JDK's own {@code IOException}s do, e.g.
 * {@code "Broken pipe (transfer_to, errno 32)"}).
 */
public class ErrnoException extends IOException {
    private static final long serialVersionUID = 1L;

    private final int errno;
    private final String operation;

    /**
     * @param message the description
     * @param errno the system's error number ({@code EPIPE} is 32 on Linux), 0 when none
     * @param operation the zcopy operation that failed ({@code "transfer_to"}, {@code "map"}, ...)
     */
    public ErrnoException(String message, int errno, String operation) {
        super(message);
        this.errno = errno;
        this.operation = operation;
    }

    /** @return the system's error number ({@code errno}), 0 when the error has none */
    public int errno() {
        return errno;
    }

    /** @return the zcopy operation that failed */
    public String operation() {
        return operation;
    }
}
