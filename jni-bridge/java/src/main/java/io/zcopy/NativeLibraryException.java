package io.zcopy;

/**
 * The native half of zcopy ({@code libzcopy_jni.so}) could not be loaded or does not match
 * this jar. Thrown, with the same explanation, by every zcopy entry point once loading failed:
 * one clear exception instead of an {@link UnsatisfiedLinkError} deep inside a call.
 *
 * <p>The message says where the library was looked for ({@code -Dzcopy.library.path}, the
 * {@code java.library.path}, the jar) and why each place failed.
 */
public final class NativeLibraryException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    NativeLibraryException(String message, Throwable cause) {
        super(message, cause);
    }
}
