package io.zcopy;

/**
 * Natives that exist only in the library the tests load ({@code -Dzcopy.library.path}, built by
 * cargo with the {@code test-hooks} feature): the library inside {@code zcopy.jar} has none of
 * them, and this class is not in the jar.
 */
final class NativeTestHooks {
    private NativeTestHooks() {}

    /** Panics in Rust with {@code message}, to show that the panic reaches Java as an exception. */
    static native void panic(String message);
}
