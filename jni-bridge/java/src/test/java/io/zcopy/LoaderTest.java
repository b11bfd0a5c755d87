package io.zcopy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How the library is found, and the one clear exception when it cannot be. Runs child JVMs. */
class LoaderTest {
    @TempDir
    Path dir;

    /** A child JVM that calls ZeroCopy twice and prints what happened. */
    public static final class Probe {
        public static void main(String[] args) {
            for (int i = 0; i < 2; i++) {
                try {
                    System.out.println("ok " + ZeroCopy.nativeVersion());
                } catch (Throwable t) {
                    System.out.println(t.getClass().getName() + ": " + t.getMessage());
                }
            }
        }
    }

    private static String run(String... props) throws IOException, InterruptedException {
        return TestSupport.childJvm(List.of(props), Probe.class.getName(), List.of(), true);
    }

    @Test
    void loadsFromTheJarResourceByDefault() throws Exception {
        String out = run();
        assertTrue(out.contains("ok " + ZeroCopy.VERSION + "\nok " + ZeroCopy.VERSION), out);
    }

    @Test
    void loadsFromJavaLibraryPath() throws Exception {
        Path lib = dir.resolve("libzcopy_jni.so");
        try (var in = Native.class.getResourceAsStream(Native.RESOURCE)) {
            Files.copy(in, lib);
        }
        assertTrue(run("-Djava.library.path=" + dir).contains("ok " + ZeroCopy.VERSION));
    }

    @Test
    void aMissingLibraryIsOneClearException() throws Exception {
        String out = run("-Dzcopy.library.path=" + dir.resolve("nope.so"));
        String[] lines = out.trim().split("\n");
        String last2 = lines[lines.length - 2] + "\n" + lines[lines.length - 1];
        assertEquals(2, last2.split("io.zcopy.NativeLibraryException: zcopy: cannot load the native library", -1).length - 1, out);
        assertTrue(out.contains("nope.so"), out);
    }

    @Test
    void aForeignLibraryIsOneClearException() throws Exception {
        File foreign = null;
        for (String candidate : new String[] {"/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/x86_64-linux-gnu/libz.so.1",
                "/lib/x86_64-linux-gnu/libm.so.6"}) {
            if (new File(candidate).isFile()) {
                foreign = new File(candidate);
                break;
            }
        }
        org.junit.jupiter.api.Assumptions.assumeTrue(foreign != null,
                "no system shared library (libz, libm) found to stand in for a foreign libzcopy_jni.so");
        String out = run("-Dzcopy.library.path=" + foreign);
        assertTrue(out.contains("io.zcopy.NativeLibraryException: zcopy: the native library loaded from"), out);
        assertTrue(out.contains("not usable"), out);
    }
}
