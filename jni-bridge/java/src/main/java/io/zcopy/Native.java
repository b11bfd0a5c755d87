package io.zcopy;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The native methods of {@code libzcopy_jni.so}, and the loader that finds the library.
 *
 * <p>Where the library comes from, first match wins:
 * <ol>
 *   <li>{@code -Dzcopy.library.path=/path/to/libzcopy_jni.so}: exactly that file;
 *   <li>a {@code libzcopy_jni.so} in a directory of {@code java.library.path}
 *       ({@code System.loadLibrary});
 *   <li>the copy inside this jar ({@code META-INF/native/linux-x86_64/libzcopy_jni.so}), extracted
 *       to a temporary file in {@code -Dzcopy.tmpdir} (default {@code java.io.tmpdir}), loaded,
 *       and deleted at once.
 * </ol>
 * A failure is remembered and thrown as one {@link NativeLibraryException} from every entry
 * point, with what was tried. On JDK 24+ loading a library is a restricted operation: run with
 * {@code --enable-native-access=ALL-UNNAMED} (see the README).
 */
final class Native {
    static final String LIBRARY = "zcopy_jni";
    static final String RESOURCE = "/META-INF/native/linux-x86_64/libzcopy_jni.so";
    /** Must equal {@code ABI_VERSION} in the Rust crate. */
    static final int ABI_VERSION = 2;

    private static final NativeLibraryException FAILURE = load();

    private Native() {}

    /** Throws the load failure, if any. Every public entry point calls this first. */
    static void ensureLoaded() {
        if (FAILURE != null) {
            throw new NativeLibraryException(FAILURE.getMessage(), FAILURE.getCause());
        }
    }

    /** Whether the library loaded (for diagnostics and tests). */
    static boolean isLoaded() {
        return FAILURE == null;
    }

    private static NativeLibraryException load() {
        List<String> tried = new ArrayList<>();
        Throwable cause = null;
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        if (!os.contains("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
            return new NativeLibraryException("zcopy: the native library exists for linux-x86_64 only; this is "
                    + os + "-" + arch, null);
        }
        boolean loaded = false;
        String explicit = System.getProperty("zcopy.library.path");
        try {
            if (explicit != null) {
                tried.add("-Dzcopy.library.path=" + explicit);
                System.load(new File(explicit).getAbsolutePath());
                loaded = true;
            } else if (onLibraryPath()) {
                tried.add("java.library.path (" + System.getProperty("java.library.path") + ")");
                System.loadLibrary(LIBRARY);
                loaded = true;
            } else {
                tried.add("jar resource " + RESOURCE);
                loadFromJar(tried);
                loaded = true;
            }
        } catch (Throwable t) {
            cause = t;
        }
        if (!loaded) {
            return new NativeLibraryException("zcopy: cannot load the native library lib" + LIBRARY
                    + ".so; tried " + String.join(", ", tried) + ": " + cause, cause);
        }
        int abi;
        try {
            abi = init();
        } catch (Throwable t) {
            return new NativeLibraryException("zcopy: the native library loaded from " + String.join(", ", tried)
                    + " is not usable (a stale or foreign libzcopy_jni.so?): " + t, t);
        }
        if (abi != ABI_VERSION) {
            return new NativeLibraryException("zcopy: the native library loaded from " + String.join(", ", tried)
                    + " has ABI " + abi + ", this jar needs ABI " + ABI_VERSION, null);
        }
        return null;
    }

    private static boolean onLibraryPath() {
        String path = System.getProperty("java.library.path", "");
        String file = System.mapLibraryName(LIBRARY);
        for (String dir : path.split(File.pathSeparator)) {
            if (!dir.isEmpty() && new File(dir, file).isFile()) {
                return true;
            }
        }
        return false;
    }

    private static void loadFromJar(List<String> tried) throws IOException {
        try (InputStream in = Native.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IOException("the jar has no " + RESOURCE);
            }
            Path dir = Path.of(System.getProperty("zcopy.tmpdir", System.getProperty("java.io.tmpdir")));
            Path tmp = Files.createTempFile(dir, "libzcopy_jni-", ".so");
            try {
                Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
                try {
                    System.load(tmp.toAbsolutePath().toString());
                } catch (UnsatisfiedLinkError e) {
                    tried.add("(extracted to " + tmp + "; if that file system is mounted noexec, set -Dzcopy.tmpdir)");
                    throw e;
                }
            } finally {
                // Linux keeps a loaded library mapped after its file is deleted.
                Files.deleteIfExists(tmp);
            }
        }
    }

    // ---- library ----
    static native int init();

    static native String version();

    /** The native method table: the name of each method code, "unknown" where no method has it. */
    static native String[] methodNames();

    // ---- regions ----
    static native long regionMap(Object fileChannel, int mode, long position, long size, boolean privateNeedsWrite)
            throws IOException;

    static native long regionRetain(long handle);

    static native void regionRelease(long handle);

    static native long liveHandles();

    static native ByteBuffer regionBuffer(long handle, long offset, int length);

    static native void regionClose(long handle);

    static native void regionForce(long handle, long offset, long length) throws IOException;

    static native void regionLoad(long handle) throws IOException;

    static native boolean regionIsLoaded(long handle) throws IOException;

    static native void regionAdvise(long handle, int advice, long offset, long length) throws IOException;

    // ---- transfers ----
    /** {@link #transfer}'s flags: the other channel is blocking, so the call moves everything. */
    static final int BLOCKING = 1;
    /** {@link #transfer}'s flags: the caller vouches that no system call can block indefinitely (see DescriptorGuard). */
    static final int GUARD_LOCK = 2;
    /** {@link #transfer}'s flags, with {@link #BLOCKING}: move what can move without waiting (a virtual thread waits in Java). */
    static final int NO_WAIT = 4;

    /**
     * A transfer to ({@code to}) or from {@code other}, a descriptor-backed JDK channel; {@code method}
     * 0 lets the core choose; a non-null {@code header} is sent first. Returns the packed result
     * ({@link Transfers}).
     */
    static native long transfer(boolean to, Object file, Object other, long position, long count, int method,
            int flags, byte[] header, int headerOffset, int headerLength) throws IOException;

    /**
     * The core's checks of a transfer between {@code file} and a channel without a descriptor,
     * moving nothing: the most bytes the transfer may move.
     */
    static native long transferLimit(boolean to, Object file, boolean otherOpen, long position, long count)
            throws IOException;

    static native boolean isRegularFile(Object channel) throws IOException;

    static native boolean closeLocksAvailable();

    // ---- selector ----
    static native long selectorOpen(int capacity) throws IOException;

    static native void selectorFree(long handle);

    static native void selectorClose(long handle);

    static native void selectorWake(long handle) throws IOException;

    static native void selectorCtl(long handle, Object channel, int op, long token, int interest, int mode)
            throws IOException;

    /** {@link #selectorSelect}'s result: the count of events, with this bit when a poll (0) consumed a wake-up. */
    static final int WOKEN = 1 << 30;

    static native int selectorSelect(long handle, long timeoutMillis, long[] tokens, int[] events) throws IOException;

    /** The selector's epoll descriptor (readable while events are ready or a wake-up is pending). */
    static native int selectorDescriptor(long handle);

    /**
     * A one-shot registration for the {@link Poller}: of a duplicate of {@code channel}'s descriptor
     * (which the caller then owns), or of {@code fd} when {@code channel} is null. Returns the
     * descriptor registered.
     */
    static native int selectorArm(long handle, Object channel, int fd, int interest, long token) throws IOException;

    /** Ends a registration of {@link #selectorArm}, closing {@code fd} when {@code close}. */
    static native void selectorDisarm(long handle, int fd, boolean close) throws IOException;
}
