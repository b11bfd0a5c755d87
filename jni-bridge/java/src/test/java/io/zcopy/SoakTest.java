package io.zcopy;

import static io.zcopy.TestSupport.file;
import static io.zcopy.TestSupport.open;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.channels.FileChannel;
import java.nio.channels.FileChannel.MapMode;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Leak soak (issue 6): map/close cycles and transfers must not grow the open descriptors, the
 * mappings or the resident memory. The normal run is short (20,000 / 10,000); {@code make
 * soak-java} runs the long one (1,000,000 / 100,000) with {@code -Dzcopy.soak=long}.
 */
class SoakTest {
    private static final boolean LONG = "long".equals(System.getProperty("zcopy.soak"));
    private static final int MAPS = LONG ? 1_000_000 : 20_000;
    private static final int TRANSFERS = LONG ? 100_000 : 10_000;

    @TempDir
    Path dir;

    private static long rssKiB() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }

    @Test
    void mapCloseCyclesLeakNothing() throws Exception {
        Path p = file(dir, "soak", 4096);
        try (FileChannel ch = open(p, "rw")) {
            // Warm up (class loading, JIT, the cleaner thread), then take the baseline.
            for (int i = 0; i < 2000; i++) {
                ZeroCopy.map(ch, MapMode.READ_WRITE, 0, 4096).close();
            }
            TestSupport.collect();
            long fds = TestSupport.openFds();
            long maps = TestSupport.mappings();
            long rss = rssKiB();
            long sum = 0;
            for (int i = 0; i < MAPS; i++) {
                try (MappedRegion r = ZeroCopy.map(ch, MapMode.READ_WRITE, 0, 4096)) {
                    if ((i & 7) == 0) {
                        sum += r.get(i & 4095); // some cycles make a buffer, whose cleaner unmaps later
                    }
                }
            }
            TestSupport.collect();
            long fdsAfter = TestSupport.openFds();
            long mapsAfter = TestSupport.mappings();
            long rssAfter = rssKiB();
            String report = MAPS + " map/close: fds " + fds + " -> " + fdsAfter + ", maps " + maps + " -> " + mapsAfter
                    + ", rss " + rss + " -> " + rssAfter + " KiB (sum " + sum + ")";
            System.out.println(report);
            assertTrue(fdsAfter <= fds + 2, report);
            assertTrue(mapsAfter <= maps + 16, report);
            assertTrue(rssAfter - rss < 64 * 1024, report);
            assertEquals(0, Native.liveHandles(), "every native handle was released");
        }
    }

    @Test
    void transfersLeakNothing() throws Exception {
        Path src = file(dir, "src", 4096);
        Path dst = dir.resolve("dst");
        ExecutorService pool = new TestPool();
        SocketChannel[] pair = TestSupport.tcpPair();
        try (FileChannel in = open(src, "r");
                FileChannel out = FileChannel.open(dst, java.nio.file.StandardOpenOption.CREATE,
                        java.nio.file.StandardOpenOption.WRITE);
                SocketChannel a = pair[0];
                SocketChannel b = pair[1]) {
            Future<Long> drained = TestSupport.discard(pool, b);
            for (int i = 0; i < 1000; i++) {
                ZeroCopy.transferTo(in, 0, 4096, a);
            }
            TestSupport.collect();
            long fds = TestSupport.openFds();
            long maps = TestSupport.mappings();
            long moved = 0;
            for (int i = 0; i < TRANSFERS; i++) {
                moved += ZeroCopy.transferTo(in, 0, 4096, a);
                moved += ZeroCopy.transferTo(in, 0, 4096, out, TransferMethod.COPY_FILE_RANGE);
                if (i % 1000 == 0) {
                    out.truncate(0);
                    out.position(0);
                }
            }
            long fdsAfter = TestSupport.openFds();
            long mapsAfter = TestSupport.mappings();
            String report = TRANSFERS + " x 2 transfers: fds " + fds + " -> " + fdsAfter + ", maps " + maps + " -> " + mapsAfter;
            System.out.println(report);
            assertEquals(2L * TRANSFERS * 4096, moved);
            assertTrue(fdsAfter <= fds + 2, report);
            assertTrue(mapsAfter <= maps + 16, report);
            a.shutdownOutput();
            assertEquals((1000L + TRANSFERS) * 4096, (long) drained.get());
        } finally {
            pool.shutdownNow();
        }
    }
}
