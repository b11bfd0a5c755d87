package io.zcopy;

import static io.zcopy.TestSupport.file;
import static io.zcopy.TestSupport.open;
import static io.zcopy.TestSupport.pattern;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.ReadOnlyBufferException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileChannel.MapMode;
import java.nio.channels.NonReadableChannelException;
import java.nio.channels.NonWritableChannelException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** ZeroCopy.map and every MappedRegion method, including a differential run against FileChannel.map. */
class MapTest {
    @TempDir
    Path dir;

    // ------------------------------------------------------------------ differential

    private interface Mapper {
        ByteBuffer map(FileChannel ch, MapMode mode, long position, long size) throws IOException;
    }

    private Outcome run(String name, int fileSize, String how, boolean closed, MapMode mode, long position, long size,
            Mapper mapper) throws IOException {
        Path p = file(dir, name, fileSize);
        try (FileChannel ch = open(p, how)) {
            if (closed) {
                ch.close();
            }
            ByteBuffer buf;
            try {
                buf = mapper.map(ch, mode, position, size);
            } catch (Exception e) {
                return Outcome.failed(e, Files.size(p));
            }
            byte[] bytes = new byte[buf.remaining()];
            buf.duplicate().get(bytes);
            return Outcome.returned(bytes, Files.size(p), buf.isReadOnly());
        }
    }

    @Test
    void mapMatchesTheJdkOnEveryCombination() throws IOException {
        // The SYNC modes: off a DAX file system both refuse the mapping itself (IOException), after
        // the same checks and the same file growth; an empty mapping needs no MAP_SYNC.
        MapMode[] modes = {MapMode.READ_ONLY, MapMode.READ_WRITE, MapMode.PRIVATE, null,
            jdk.nio.mapmode.ExtendedMapMode.READ_ONLY_SYNC, jdk.nio.mapmode.ExtendedMapMode.READ_WRITE_SYNC};
        String[] opens = {"r", "w", "rw", "append"};
        long[] positions = {0, 1, 4097, 100, 101, 10_000, -1, Long.MIN_VALUE, Long.MAX_VALUE};
        long[] sizes = {0, 1, 10, 100, 200, 9_000, -1, Long.MAX_VALUE - 1};
        List<MappedRegion> regions = new ArrayList<>();
        int cases = 0;
        for (MapMode mode : modes) {
            for (String how : opens) {
                for (boolean closed : new boolean[] {false, true}) {
                    for (long position : positions) {
                        for (long size : sizes) {
                            if (size > Integer.MAX_VALUE) {
                                continue; // the JDK refuses these first; zcopy maps them (tested below)
                            }
                            String tag = mode + "/" + how + "/" + (closed ? "closed" : "open") + "/" + position + "/" + size;
                            Outcome jdk = run("jdk", 10_000, how, closed, mode, position, size,
                                    (ch, m, pos, sz) -> ch.map(m, pos, sz));
                            Outcome zc = run("zc", 10_000, how, closed, mode, position, size, (ch, m, pos, sz) -> {
                                MappedRegion r = ZeroCopy.map(ch, m, pos, sz);
                                regions.add(r);
                                return r.buffer();
                            });
                            assertEquals(jdk, zc, tag);
                            cases++;
                        }
                    }
                }
            }
        }
        regions.forEach(MappedRegion::close);
        assertTrue(cases > 1000, "ran " + cases + " cases");
    }

    @Test
    void sizeAboveIntegerMaxValueIsMappedWhereTheJdkRefuses() throws IOException {
        Path p = dir.resolve("big");
        long size = (3L << 30) + 12345; // a sparse 3 GiB file: no disk space used
        try (FileChannel ch = open(Files.createFile(p), "rw")) {
            assertThrows(IllegalArgumentException.class, () -> ch.map(MapMode.READ_WRITE, 0, size));
            try (MappedRegion r = ZeroCopy.map(ch, MapMode.READ_WRITE, 0, size)) {
                assertEquals(size, Files.size(p), "the file grew to the region");
                assertEquals(size, r.size());
                long[] at = {0, (1L << 30) - 3, (1L << 30) - 8, 1L << 30, (5L << 29) + 1, size - 8};
                for (long i : at) {
                    r.putLong(i, i * 31);
                    assertEquals(i * 31, r.getLong(i), "at " + i);
                }
                r.put(size - 1, (byte) 7);
                assertEquals(7, r.get(size - 1));
                byte[] across = new byte[64];
                Arrays.fill(across, (byte) 9);
                r.put((1L << 30) - 32, across);
                byte[] back = new byte[64];
                r.get((1L << 30) - 32, back);
                assertArrayEquals(across, back);
                ByteBuffer s = r.slice((1L << 30) - 32, 64);
                for (int i = 0; i < 64; i++) {
                    assertEquals(9, s.get(i));
                }
                assertThrows(UnsupportedOperationException.class, r::buffer);
                assertThrows(IndexOutOfBoundsException.class, () -> r.getLong(size - 7));
                assertThrows(IndexOutOfBoundsException.class, () -> r.get(size));
                r.force((5L << 29) - 100, 200);
            }
            ByteBuffer check = ByteBuffer.allocate(8);
            ch.read(check, (5L << 29) + 1);
            assertEquals(((5L << 29) + 1) * 31, check.flip().getLong(), "force wrote the long to the file");
        }
    }

    // ------------------------------------------------------------------ exceptions and order

    @Test
    void exceptionsComeInTheJdkOrder() throws IOException {
        Path p = file(dir, "f", 100);
        try (FileChannel ro = open(p, "r"); FileChannel wo = open(p, "w")) {
            NullPointerException npe = assertThrows(NullPointerException.class, () -> ZeroCopy.map(ro, null, -1, -1));
            assertEquals("Mode is null", npe.getMessage());
            // The JDK's order and classes; the messages are the core's, naming the argument.
            assertMessageNames("position", () -> ZeroCopy.map(ro, MapMode.READ_ONLY, -1, -1));
            assertMessageNames("size", () -> ZeroCopy.map(ro, MapMode.READ_ONLY, 0, -1));
            assertMessageNames("overflow", () -> ZeroCopy.map(ro, MapMode.READ_ONLY, Long.MAX_VALUE, 1));
            // MAP_SYNC off a DAX file system: the kernel refuses the mapping, the JDK says IOException.
            IOException sync = assertThrows(IOException.class,
                    () -> ZeroCopy.map(ro, jdk.nio.mapmode.ExtendedMapMode.READ_ONLY_SYNC, 0, 1));
            assertTrue(sync.getMessage().contains("not supported"), sync.getMessage());
            assertThrows(IOException.class, () -> ro.map(jdk.nio.mapmode.ExtendedMapMode.READ_ONLY_SYNC, 0, 1));
            assertThrows(NonWritableChannelException.class,
                    () -> ZeroCopy.map(ro, jdk.nio.mapmode.ExtendedMapMode.READ_WRITE_SYNC, 0, 1));
            assertThrows(NonWritableChannelException.class, () -> ZeroCopy.map(ro, MapMode.READ_WRITE, 0, 1));
            assertThrows(NonWritableChannelException.class, () -> ZeroCopy.map(ro, MapMode.PRIVATE, 0, 1));
            assertThrows(NonReadableChannelException.class, () -> ZeroCopy.map(wo, MapMode.READ_ONLY, 0, 1));
            assertThrows(NonReadableChannelException.class, () -> ZeroCopy.map(wo, MapMode.READ_WRITE, 0, 1));
            IOException past = assertThrows(IOException.class, () -> ZeroCopy.map(ro, MapMode.READ_ONLY, 0, 101));
            assertTrue(past.getMessage().contains("past the end"), past.getMessage());
            ro.close();
            assertThrows(ClosedChannelException.class, () -> ZeroCopy.map(ro, MapMode.READ_ONLY, -1, 1));
            assertThrows(NullPointerException.class, () -> ZeroCopy.map(ro, null, 0, 1));
        }
    }

    private static void assertMessageNames(String argument, org.junit.jupiter.api.function.Executable call) {
        String message = assertThrows(IllegalArgumentException.class, call).getMessage();
        assertTrue(message.contains(argument), message);
    }

    @Test
    void aChannelTheJdkDidNotOpenIsRefused() throws IOException {
        try (FileChannel fake = new FakeFileChannel()) {
            assertThrows(UnsupportedOperationException.class, () -> ZeroCopy.map(fake, MapMode.READ_ONLY, 0, 1));
        }
    }

    @Test
    void mapByPath() throws IOException {
        Path p = file(dir, "p", 10_000);
        try (MappedRegion r = ZeroCopy.map(p, MapMode.READ_ONLY, 4097, 100)) {
            byte[] b = new byte[100];
            r.get(0, b);
            assertArrayEquals(Arrays.copyOfRange(pattern(10_000), 4097, 4197), b);
            assertThrows(ReadOnlyBufferException.class, () -> r.put(0, (byte) 1));
        }
        try (MappedRegion r = ZeroCopy.map(p, MapMode.READ_WRITE, 9_990, 20)) {
            assertEquals(10_010, Files.size(p), "READ_WRITE grows the file");
            r.put(19, (byte) 42);
        }
        assertEquals(42, Files.readAllBytes(p)[10_009]);
        try (MappedRegion r = ZeroCopy.map(p, MapMode.PRIVATE, 0, 10)) {
            r.put(0, (byte) 99);
            assertEquals(99, r.get(0));
        }
        assertEquals(pattern(1)[0], Files.readAllBytes(p)[0], "PRIVATE never writes the file");
        assertThrows(IOException.class, () -> ZeroCopy.map(p, MapMode.PRIVATE, 0, 20_000), "read-only descriptor cannot grow");
        assertThrows(NoSuchFileException.class, () -> ZeroCopy.map(dir.resolve("missing"), MapMode.READ_ONLY, 0, 1));
        assertThrows(NullPointerException.class, () -> ZeroCopy.map(p, null, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> ZeroCopy.map(p, MapMode.READ_ONLY, -1, 1));
    }

    // ------------------------------------------------------------------ region methods

    @Test
    void accessorsReadAndWriteTheFile() throws IOException {
        Path p = file(dir, "acc", 8192);
        try (FileChannel ch = open(p, "rw"); MappedRegion r = ZeroCopy.map(ch, MapMode.READ_WRITE, 100, 1000)) {
            assertEquals(100, r.position());
            assertEquals(1000, r.size());
            assertEquals(MapMode.READ_WRITE, r.mode());
            assertTrue(r.isOpen());
            assertEquals(pattern(8192)[100], r.get(0));
            MappedByteBuffer jdk = ch.map(MapMode.READ_ONLY, 100, 1000);
            assertEquals(jdk.getLong(8), r.getLong(8));
            r.putLong(16, 0x0102030405060708L).put(24, (byte) -1);
            r.put(32, new byte[] {1, 2, 3}, 1, 2);
            byte[] two = new byte[4];
            r.get(31, two, 1, 3);
            assertArrayEquals(new byte[] {0, pattern(8192)[131], 2, 3}, two);
            r.force();
            r.force(16, 8);
            ByteBuffer f = ByteBuffer.allocate(9);
            ch.read(f, 116);
            f.flip();
            assertEquals(0x0102030405060708L, f.getLong());
            assertEquals(-1, f.get());
            assertThrows(IndexOutOfBoundsException.class, () -> r.get(-1));
            assertThrows(IndexOutOfBoundsException.class, () -> r.get(1000));
            assertThrows(IndexOutOfBoundsException.class, () -> r.getLong(993));
            assertThrows(IndexOutOfBoundsException.class, () -> r.putLong(-1, 1));
            assertThrows(IndexOutOfBoundsException.class, () -> r.get(999, new byte[2]));
            assertThrows(IndexOutOfBoundsException.class, () -> r.put(0, new byte[2], 1, 2));
            assertThrows(IndexOutOfBoundsException.class, () -> r.slice(990, 11));
            assertThrows(IndexOutOfBoundsException.class, () -> r.slice(-1, 1));
            assertThrows(IndexOutOfBoundsException.class, () -> r.force(0, 1001));
            assertThrows(IndexOutOfBoundsException.class, () -> r.force(-1, 1));
            ByteBuffer s = r.slice(16, 8);
            assertEquals(8, s.capacity());
            assertEquals(0x0102030405060708L, s.getLong(0));
            ByteBuffer whole = r.buffer();
            assertEquals(0, whole.position());
            assertEquals(1000, whole.limit());
            assertEquals(1000, whole.capacity());
            assertFalse(whole.isReadOnly());
            assertTrue(whole.isDirect());
        }
    }

    @Test
    void readOnlyRegionsRefuseWrites() throws IOException {
        Path p = file(dir, "ro", 100);
        try (FileChannel ch = open(p, "rw"); MappedRegion r = ZeroCopy.map(ch, MapMode.READ_ONLY, 0, 100)) {
            assertTrue(r.buffer().isReadOnly());
            assertThrows(ReadOnlyBufferException.class, () -> r.put(0, (byte) 1));
            assertThrows(ReadOnlyBufferException.class, () -> r.putLong(0, 1));
            assertThrows(ReadOnlyBufferException.class, () -> r.put(0, new byte[1]));
            assertThrows(ReadOnlyBufferException.class, () -> r.buffer().put((byte) 1));
            assertTrue(r.slice(1, 2).isReadOnly());
        }
    }

    @Test
    void emptyRegion() throws IOException {
        Path p = file(dir, "e", 100);
        try (FileChannel ch = open(p, "rw"); MappedRegion r = ZeroCopy.map(ch, MapMode.READ_WRITE, 200, 0)) {
            assertEquals(200, Files.size(p), "the grow step runs for size 0 too, as in the JDK");
            assertEquals(0, r.size());
            assertEquals(0, r.buffer().capacity());
            assertTrue(r.isLoaded());
            r.force();
            r.load();
            assertThrows(IndexOutOfBoundsException.class, () -> r.get(0));
        }
    }

    @Test
    void loadMakesPagesResident() throws IOException {
        Path p = file(dir, "load", 1 << 20);
        try (MappedRegion r = ZeroCopy.map(p, MapMode.READ_ONLY, 0, 1 << 20)) {
            assertTrue(r.load().isLoaded(), "mincore sees every page after load()");
            r.advise(MappedRegion.Advice.SEQUENTIAL, 0, 1 << 20);
            r.advise(MappedRegion.Advice.RANDOM, 4096, 4096);
            assertThrows(IndexOutOfBoundsException.class, () -> r.advise(MappedRegion.Advice.NORMAL, 0, (1 << 20) + 1));
            assertThrows(NullPointerException.class, () -> r.advise(null, 0, 1));
        }
    }

    @Test
    void privateWritesStayPrivate() throws IOException {
        Path p = file(dir, "priv", 100);
        try (FileChannel ch = open(p, "rw"); MappedRegion r = ZeroCopy.map(ch, MapMode.PRIVATE, 0, 100)) {
            r.put(5, (byte) 55);
            r.force();
            assertEquals(55, r.get(5));
        }
        assertEquals(pattern(100)[5], Files.readAllBytes(p)[5]);
    }

    @Test
    void theMappingOutlivesItsChannel() throws IOException {
        Path p = file(dir, "outlive", 100);
        MappedRegion r;
        try (FileChannel ch = open(p, "r")) {
            r = ZeroCopy.map(ch, MapMode.READ_ONLY, 0, 100);
        }
        try (r) {
            assertEquals(pattern(100)[99], r.get(99));
        }
    }

    // ------------------------------------------------------------------ close

    @Test
    void closeReleasesTheFileAtOnce() throws Exception {
        Path p = file(dir, "release", 1 << 16);
        MappedRegion r = ZeroCopy.map(p, MapMode.READ_ONLY, 0, 1 << 16);
        assertEquals(pattern(10)[3], r.get(3));
        assertTrue(TestSupport.mappingsOf(p) > 0, "mapped");
        r.close();
        r.close(); // idempotent
        assertEquals(0, TestSupport.mappingsOf(p), "/proc/self/maps no longer names the file");
        assertFalse(r.isOpen());
    }

    @Test
    void aBufferUsedAfterCloseReadsZerosAndNeverCrashes() throws Exception {
        Path p = file(dir, "stale", 1 << 16);
        ByteBuffer stale;
        ByteBuffer staleSlice;
        try (FileChannel ch = open(p, "rw"); MappedRegion r = ZeroCopy.map(ch, MapMode.READ_WRITE, 0, 1 << 16)) {
            stale = r.buffer();
            staleSlice = r.slice(4096, 100);
            assertEquals(pattern(4100)[4099], staleSlice.get(3));
        }
        assertEquals(0, stale.get(1), "stale reads see zeros");
        stale.put(2, (byte) 5); // goes nowhere
        assertEquals(0, staleSlice.get(3));
        assertEquals(pattern(10)[2], Files.readAllBytes(p)[2], "the stale write did not reach the file");
        Files.delete(p);
        assertEquals(0, TestSupport.mappingsOf(p), "a deleted file is not pinned");
    }

    @Test
    void everyMethodThrowsIllegalStateExceptionAfterClose() throws IOException {
        Path p = file(dir, "closed", 100);
        MappedRegion r = ZeroCopy.map(p, MapMode.READ_WRITE, 0, 100);
        r.close();
        assertThrows(IllegalStateException.class, r::buffer);
        assertThrows(IllegalStateException.class, () -> r.slice(0, 1));
        assertThrows(IllegalStateException.class, () -> r.get(0));
        assertThrows(IllegalStateException.class, () -> r.getLong(0));
        assertThrows(IllegalStateException.class, () -> r.put(0, (byte) 1));
        assertThrows(IllegalStateException.class, () -> r.putLong(0, 1));
        assertThrows(IllegalStateException.class, () -> r.get(0, new byte[1]));
        assertThrows(IllegalStateException.class, () -> r.put(0, new byte[1]));
        assertThrows(IllegalStateException.class, r::force);
        assertThrows(IllegalStateException.class, () -> r.force(0, 1));
        assertThrows(IllegalStateException.class, r::load);
        assertThrows(IllegalStateException.class, r::isLoaded);
        assertThrows(IllegalStateException.class, () -> r.advise(MappedRegion.Advice.NORMAL, 0, 1));
        assertEquals(100, r.size());
        assertEquals(0, r.position());
        assertEquals(MapMode.READ_WRITE, r.mode());
        assertFalse(r.isOpen());
        assertTrue(r.toString().contains("closed"));
    }

    @Test
    void closedRegionsAreUnmappedOnceTheirBuffersAreCollected() throws Exception {
        Path p = file(dir, "gc", 4096);
        TestSupport.collect();
        long before = TestSupport.mappings();
        for (int i = 0; i < 200; i++) {
            MappedRegion r = ZeroCopy.map(p, MapMode.READ_ONLY, 0, 4096);
            r.buffer().get(0);
            r.close();
        }
        TestSupport.collect();
        long after = TestSupport.mappings();
        assertTrue(after - before < 20, "mappings before " + before + ", after " + after);
    }

    /** The buffers of one region that the caller drops at once (only the buffers are returned). */
    private static ByteBuffer[] buffersOfADroppedRegion(FileChannel ch, int size,
            List<java.lang.ref.WeakReference<MappedRegion>> regions) throws IOException {
        MappedRegion r = ZeroCopy.map(ch, MapMode.READ_WRITE, 0, size);
        regions.add(new java.lang.ref.WeakReference<>(r));
        ByteBuffer whole = r.buffer();
        ByteBuffer slice = r.slice(4096, 4096);
        // Views made by the JDK from zcopy's buffers: their attachments are the roots.
        return new ByteBuffer[] {whole, slice, whole.duplicate(), whole.slice(8192, 100), slice.asReadOnlyBuffer()};
    }

    /**
     * The natural port of {@code ByteBuffer b = ch.map(READ_WRITE, 0, n)}: the region is dropped,
     * its buffers kept. Collections (with allocation pressure) must not cut the buffers off the
     * file: they read what the file holds and their writes reach it, as a JDK
     * {@code MappedByteBuffer}'s do.
     */
    @Test
    void keptBuffersKeepTheirMappingAfterTheRegionIsCollected() throws Exception {
        int size = 4 * 4096;
        Path p = file(dir, "kept", size);
        byte[] expect = pattern(size);
        List<java.lang.ref.WeakReference<MappedRegion>> regions = new ArrayList<>();
        ByteBuffer[] bufs;
        try (FileChannel ch = open(p, "rw")) {
            bufs = buffersOfADroppedRegion(ch, size, regions);
        }
        bufs[0].put(0, (byte) 0x5a); // written before any collection
        for (int round = 0; round < 20 && regions.get(0).get() != null; round++) {
            List<byte[]> pressure = new ArrayList<>();
            for (int i = 0; i < 64; i++) {
                pressure.add(new byte[1 << 20]);
            }
            pressure.clear();
            TestSupport.collect();
        }
        assertEquals(null, regions.get(0).get(), "the region object was collected");
        TestSupport.collect(); // let the cleaners run
        assertEquals((byte) 0x5a, bufs[0].get(0), "a write made before the collection is still read back");
        assertEquals(expect[5], bufs[0].get(5));
        assertEquals(expect[4096 + 7], bufs[1].get(7), "slice(...)");
        assertEquals(expect[9], bufs[2].get(9), "duplicate()");
        assertEquals(expect[8192 + 3], bufs[3].get(3), "slice() of buffer()");
        assertEquals(expect[4096 + 11], bufs[4].get(11), "read-only view");
        bufs[0].put(1, (byte) 0x6b); // written after the collection
        bufs[1].put(2, (byte) 0x7c);
        bufs[3].put(4, (byte) 0x1d);
        byte[] file = Files.readAllBytes(p);
        assertEquals((byte) 0x5a, file[0], "the write before the collection reached the file");
        assertEquals((byte) 0x6b, file[1], "the write after the collection reached the file");
        assertEquals((byte) 0x7c, file[4096 + 2]);
        assertEquals((byte) 0x1d, file[8192 + 4]);
        assertTrue(TestSupport.mappingsOf(p) > 0, "the mapping lives while its buffers do");
        java.lang.ref.Reference.reachabilityFence(bufs);
    }

    /** Maps, makes buffers and reads through them; nothing of it stays reachable. */
    private static void readOnce(Path p, int size) throws IOException {
        try (FileChannel ch = open(p, "rw")) {
            ByteBuffer[] bufs = buffersOfADroppedRegion(ch, size, new ArrayList<>());
            assertEquals(pattern(size)[1], bufs[0].get(1));
        }
    }

    /** Once the buffers are unreachable too, the mapping goes (nothing leaks). */
    @Test
    void aDroppedRegionIsUnmappedWhenItsLastBufferIsCollected() throws Exception {
        int size = 4 * 4096;
        Path p = file(dir, "dropped", size);
        readOnce(p, size);
        for (int round = 0; round < 50 && TestSupport.mappingsOf(p) > 0; round++) {
            TestSupport.collect();
        }
        assertEquals(0, TestSupport.mappingsOf(p), "/proc/self/maps no longer names the file");
    }
}
