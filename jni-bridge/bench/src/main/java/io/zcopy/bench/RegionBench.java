package io.zcopy.bench;

import io.zcopy.MappedRegion;
import io.zcopy.ZeroCopy;
import java.io.IOException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileChannel.MapMode;
import java.util.concurrent.TimeUnit;
import java.util.function.IntToLongFunction;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/** Reading a mapped file, and mapping + unmapping a small one: MappedRegion against the JDK. */
public class RegionBench {
    /** Sequential 8-byte reads of a 64 MiB file (pages resident); one op reads it all. */
    @State(Scope.Thread)
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public static class Read {
        static final int SIZE = 64 << 20;
        FileChannel ch;
        MappedRegion region;
        ByteBuffer regionBuffer;
        MappedByteBuffer jdk;

        @Setup(Level.Trial)
        public void setup() throws IOException {
            ch = FileChannel.open(BenchFiles.file("read", SIZE));
            region = ZeroCopy.map(ch, MapMode.READ_ONLY, 0, SIZE).load();
            regionBuffer = region.buffer();
            jdk = ch.map(MapMode.READ_ONLY, 0, SIZE).load();
        }

        @TearDown(Level.Trial)
        public void teardown() throws IOException {
            region.close();
            ch.close();
        }

        /** The long-indexed accessor, in the same int-counted loop as the JDK rows. */
        @Benchmark
        public long zcopyRegionGetLong() {
            MappedRegion r = region;
            return sum(i -> r.getLong(i));
        }

        /** The long-indexed accessor in a long-counted loop, as code over a region above 2 GiB runs. */
        @Benchmark
        public long zcopyRegionGetLongLongLoop() {
            long sum = 0;
            MappedRegion r = region;
            for (long i = 0; i < SIZE; i += 8) {
                sum += r.getLong(i);
            }
            return sum;
        }

        @Benchmark
        public long zcopyBufferGetLong() {
            ByteBuffer b = regionBuffer;
            return sum(b::getLong);
        }

        @Benchmark
        public long jdkMappedByteBufferGetLong() {
            MappedByteBuffer b = jdk;
            return sum(b::getLong);
        }

        /**
         * The sum of the longs at every 8th index, in an int-counted loop. Each benchmark runs in
         * its own fork, so the JIT sees one reader here and inlines it as it would the loop
         * written out in place.
         */
        private static long sum(IntToLongFunction longAt) {
            long sum = 0;
            for (int i = 0; i < SIZE; i += 8) {
                sum += longAt.applyAsLong(i);
            }
            return sum;
        }
    }

    /** Map a 4 KiB region, read one byte, release it. */
    @State(Scope.Thread)
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public static class MapClose {
        FileChannel ch;

        @Setup(Level.Trial)
        public void setup() throws IOException {
            ch = FileChannel.open(BenchFiles.file("map", 4096));
        }

        @TearDown(Level.Trial)
        public void teardown() throws IOException {
            ch.close();
        }

        @Benchmark
        public byte zcopyMapClose() throws IOException {
            try (MappedRegion r = ZeroCopy.map(ch, MapMode.READ_ONLY, 0, 4096)) {
                return r.get(100);
            }
        }

        /** The JDK cannot unmap: the mapping goes when the GC collects the buffer. */
        @Benchmark
        public byte jdkMapUnmappedByGc() throws IOException {
            return ch.map(MapMode.READ_ONLY, 0, 4096).get(100);
        }
    }

    /** JDK 22+: FileChannel.map(mode, offset, size, Arena) with a confined arena closed at once. */
    @State(Scope.Thread)
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public static class ArenaMapClose {
        FileChannel ch;
        MethodHandle ofConfined;
        MethodHandle map;
        MethodHandle close;
        MethodHandle get;
        Object layout;

        @Setup(Level.Trial)
        public void setup() throws Throwable {
            ch = FileChannel.open(BenchFiles.file("map", 4096));
            MethodHandles.Lookup l = MethodHandles.publicLookup();
            Class<?> arena = Class.forName("java.lang.foreign.Arena");
            Class<?> segment = Class.forName("java.lang.foreign.MemorySegment");
            Class<?> ofByte = Class.forName("java.lang.foreign.ValueLayout$OfByte");
            ofConfined = l.findStatic(arena, "ofConfined", MethodType.methodType(arena));
            map = l.findVirtual(FileChannel.class, "map",
                    MethodType.methodType(segment, MapMode.class, long.class, long.class, arena));
            close = l.findVirtual(arena, "close", MethodType.methodType(void.class));
            get = l.findVirtual(segment, "get", MethodType.methodType(byte.class, ofByte, long.class));
            layout = Class.forName("java.lang.foreign.ValueLayout").getField("JAVA_BYTE").get(null);
        }

        @TearDown(Level.Trial)
        public void teardown() throws IOException {
            ch.close();
        }

        @Benchmark
        public byte jdkArenaMapClose() throws Throwable {
            Object a = ofConfined.invoke();
            try {
                Object seg = map.invoke(ch, MapMode.READ_ONLY, 0L, 4096L, a);
                return (byte) get.invoke(seg, layout, 100L);
            } finally {
                close.invoke(a);
            }
        }
    }
}
