package io.zcopy;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The native methods of {@code libzcopy_jni.so}, and the loader that finds the library.
 *
 * <p>Where the library comes from, first match wins:
 * <ol>
 *   <li>{@code -Dzcopy.library.path=/path/to/libzcopy_jni.so}: exactly that file, on any platform;
 *   <li>a {@code libzcopy_jni.so} in a directory of {@code java.library.path}
 *       ({@code System.loadLibrary});
 *   <li>the copy inside this jar ({@code META-INF/native/linux-x86_64/libzcopy_jni.so}), extracted
 *       once per version and content hash to {@code zcopy/VERSION-HASH/libzcopy_jni.so} in a
 *       private directory: {@code -Dzcopy.tmpdir} when set, else {@code $XDG_CACHE_HOME} (default
 *       {@code ~/.cache}), and {@code java.io.tmpdir} (as {@code zcopy-USER}) when that fails.
 *       The directories are the user's own and closed to others (mode 0700); the file is written
 *       under a temporary name and renamed into place, so JVMs starting at once each load a
 *       whole file, and a file already there is used only when its content hash matches.
 * </ol>
 * Steps 2 and 3 run on Linux x86-64 only, the platform the jar carries a library for; anywhere
 * else the first zcopy call says so. A failure is remembered and thrown as one
 * {@link NativeLibraryException} from every entry point, with what was tried. On JDK 24+ loading
 * a library is a restricted operation: run with {@code --enable-native-access=ALL-UNNAMED} (see
 * the README).
 */
final class Native {
    static final String LIBRARY = "zcopy_jni";
    static final String PLATFORM = "linux-x86_64";
    static final String RESOURCE = "/META-INF/native/" + PLATFORM + "/libzcopy_jni.so";
    /** Must equal {@code ABI_VERSION} in the Rust crate. */
    static final int ABI_VERSION = 2;

    private static final Set<PosixFilePermission> PRIVATE_DIR = PosixFilePermissions.fromString("rwx------");
    private static final Set<PosixFilePermission> LIBRARY_FILE = PosixFilePermissions.fromString("r-x------");

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
        boolean loaded = false;
        String explicit = System.getProperty("zcopy.library.path");
        try {
            if (explicit != null) {
                tried.add("-Dzcopy.library.path=" + explicit);
                System.load(new File(explicit).getAbsolutePath());
                loaded = true;
            } else if (!supportedPlatform()) {
                return new NativeLibraryException("zcopy: this jar carries its native library for Linux on x86-64 ("
                        + PLATFORM + ") only, and this JVM runs on " + System.getProperty("os.name") + " "
                        + System.getProperty("os.arch") + "; on another platform, build libzcopy_jni.so there "
                        + "and pass -Dzcopy.library.path=/path/to/libzcopy_jni.so", null);
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

    private static boolean supportedPlatform() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        return os.equals("linux") && (arch.equals("amd64") || arch.equals("x86_64"));
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

    /** The private directories to extract into, in the order they are tried. */
    private static List<Path> extractionDirs() {
        List<Path> dirs = new ArrayList<>();
        String explicit = System.getProperty("zcopy.tmpdir");
        if (explicit != null) {
            dirs.add(Path.of(explicit).toAbsolutePath().resolve("zcopy"));
            return dirs;
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        if (xdg != null && Path.of(xdg).isAbsolute()) {
            dirs.add(Path.of(xdg, "zcopy"));
        } else {
            dirs.add(Path.of(System.getProperty("user.home"), ".cache", "zcopy"));
        }
        dirs.add(Path.of(System.getProperty("java.io.tmpdir"), "zcopy-" + System.getProperty("user.name")));
        return dirs;
    }

    private static void loadFromJar(List<String> tried) throws IOException {
        byte[] library;
        try (InputStream in = Native.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IOException("the jar has no " + RESOURCE);
            }
            library = in.readAllBytes();
        }
        byte[] hash = sha256(library);
        String name = ZeroCopy.VERSION + "-" + HexFormat.of().formatHex(hash, 0, 8);
        List<String> failures = new ArrayList<>();
        for (Path base : extractionDirs()) {
            Path file = base.resolve(name).resolve(System.mapLibraryName(LIBRARY));
            try {
                extract(library, hash, file);
                System.load(file.toString());
                tried.add("extracted to " + file);
                return;
            } catch (IOException | UnsatisfiedLinkError | SecurityException e) {
                // The next directory may do: a read-only home, a file system mounted noexec.
                failures.add(file + " (" + e + ")");
            }
        }
        tried.add("extracted to " + String.join(" and ", failures)
                + " (set -Dzcopy.tmpdir to a directory of an exec-mounted file system)");
        throw new IOException("no directory to extract the library to");
    }

    /** Makes {@code file} hold {@code library}, unless it does already; never a partial file. */
    private static void extract(byte[] library, byte[] hash, Path file) throws IOException {
        Path dir = file.getParent();
        privateDir(dir.getParent());
        privateDir(dir);
        if (Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)
                && Arrays.equals(hash, sha256(Files.readAllBytes(file)))) {
            return;
        }
        Path tmp = Files.createTempFile(dir, "libzcopy_jni-", ".tmp"); // mode 0600
        try {
            Files.write(tmp, library);
            Files.setPosixFilePermissions(tmp, LIBRARY_FILE);
            // rename(2): another JVM sees the old file or this one, never a part of it.
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Creates {@code dir} with mode 0700, or checks that the one there is a directory (not a
     * link) of this process's user that no other user can write to.
     */
    private static void privateDir(Path dir) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            try {
                Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PRIVATE_DIR));
                Files.setPosixFilePermissions(dir, PRIVATE_DIR);
            } catch (java.nio.file.FileAlreadyExistsException raced) {
                // Another JVM made it first: checked below like any existing directory.
            }
        }
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException(dir + " is not a directory");
        }
        Set<PosixFilePermission> mode = Files.getPosixFilePermissions(dir, LinkOption.NOFOLLOW_LINKS);
        if (mode.contains(PosixFilePermission.GROUP_WRITE) || mode.contains(PosixFilePermission.OTHERS_WRITE)) {
            throw new IOException(dir + " is writable by other users (" + PosixFilePermissions.toString(mode) + ")");
        }
        // /proc/self belongs to the process's effective user.
        Object self = Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        Object owner = Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS);
        if (!owner.equals(self)) {
            throw new IOException(dir + " belongs to uid " + owner + ", not to this process's uid " + self);
        }
    }

    private static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
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

    static native boolean neverWaits(Object channel) throws IOException;

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
