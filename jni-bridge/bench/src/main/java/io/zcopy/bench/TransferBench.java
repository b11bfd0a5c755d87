package io.zcopy.bench;

import io.zcopy.ZeroCopy;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SocketChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Whole-file transfers (one benchmark op moves {@code size} bytes): zcopy's transferTo, the
 * JDK's transferTo (looping past its 0x7ffff000 per-call limit), and the JDK's
 * FileChannel.read + write loop with a 1 MiB direct buffer. Throughput = size / time per op.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class TransferBench {
    @Param({"1073741824"})
    public long size;

    @Param({"file", "socket"})
    public String target;

    FileChannel src;
    WritableByteChannel out;
    Path dst;
    final ByteBuffer buffer = ByteBuffer.allocateDirect(1 << 20);

    @Setup(Level.Trial)
    public void setup() throws IOException {
        src = FileChannel.open(BenchFiles.file("src", size));
        if (target.equals("file")) {
            dst = BenchFiles.dir().resolve("zcopy-bench-dst");
            out = FileChannel.open(dst, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        } else {
            out = BenchFiles.drainedSocket();
        }
    }

    @Setup(Level.Invocation)
    public void rewind() throws IOException {
        if (out instanceof FileChannel) {
            ((FileChannel) out).truncate(0).position(0);
        }
    }

    @TearDown(Level.Trial)
    public void teardown() throws IOException {
        BenchFiles.release(dst, src, out);
    }

    @Benchmark
    public long zcopyTransferTo() throws IOException {
        long done = 0;
        while (done < size) {
            done += ZeroCopy.transferTo(src, done, size - done, out);
        }
        return done;
    }

    @Benchmark
    public long jdkTransferTo() throws IOException {
        long done = 0;
        while (done < size) {
            done += src.transferTo(done, size - done, out);
        }
        return done;
    }

    @Benchmark
    public long jdkReadWrite1MiB() throws IOException {
        long done = 0;
        while (done < size) {
            buffer.clear();
            int n = src.read(buffer, done);
            buffer.flip();
            while (buffer.hasRemaining()) {
                out.write(buffer);
            }
            done += n;
        }
        return done;
    }

    /**
     * Small transfers: one op moves 4 KiB (up to 4 KiB to a non-blocking socket that is full)
     * to a loopback socket in blocking mode (zcopy's duplicate guard), to one in non-blocking
     * mode (the close-lock guard, as servers use it) and to a file (the close-lock guard).
     *
     * <p>{@code sigpipe}: "jvm" leaves SIGPIPE as the JVM has it (HotSpot catches it with a
     * handler that ignores it); "ignored" sets it to SIG_IGN first, as a server does (nginx too).
     * The core shields a transfer only from SIGPIPE's default action, so both make the transfer's
     * system call alone: the pair shows that the JVM's own handler costs nothing.
     */
    @State(Scope.Thread)
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public static class Small {
        @Param({"socket", "socket-nonblocking", "file"})
        public String target;

        @Param({"jvm", "ignored"})
        public String sigpipe;

        FileChannel src;
        WritableByteChannel out;
        Path dst;
        long position;
        long ops;
        final ByteBuffer buffer = ByteBuffer.allocateDirect(4096);

        @Setup(Level.Trial)
        public void setup() throws IOException {
            if (sigpipe.equals("ignored")) {
                BenchFiles.ignoreSigpipe();
            }
            src = FileChannel.open(BenchFiles.file("small", 64 << 20));
            if (target.equals("file")) {
                dst = BenchFiles.dir().resolve("zcopy-bench-small-dst");
                out = FileChannel.open(dst, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                        StandardOpenOption.TRUNCATE_EXISTING);
            } else {
                SocketChannel sc = BenchFiles.drainedSocket();
                sc.configureBlocking(!target.equals("socket-nonblocking"));
                out = sc;
            }
        }

        @TearDown(Level.Trial)
        public void teardown() throws IOException {
            BenchFiles.release(dst, src, out);
        }

        /** The next 4 KiB of the source; a file target starts over every 16 MiB (one lseek per 4096 ops). */
        private long next() throws IOException {
            position = (position + 4096) & ((64 << 20) - 1);
            if ((++ops & 4095) == 0 && out instanceof FileChannel) {
                ((FileChannel) out).position(0);
            }
            return position;
        }

        @Benchmark
        public long zcopyTransferTo4KiB() throws IOException {
            long p = next();
            long n;
            while ((n = ZeroCopy.transferTo(src, p, 4096, out)) == 0) {
                Thread.onSpinWait(); // a full non-blocking socket: the drain thread catches up
            }
            return n;
        }

        @Benchmark
        public long jdkTransferTo4KiB() throws IOException {
            long p = next();
            long n;
            while ((n = src.transferTo(p, 4096, out)) == 0) {
                Thread.onSpinWait();
            }
            return n;
        }

        @Benchmark
        public long jdkReadWrite4KiB() throws IOException {
            buffer.clear();
            src.read(buffer, next());
            buffer.flip();
            long n;
            while ((n = out.write(buffer)) == 0) {
                Thread.onSpinWait();
            }
            return n;
        }
    }
}
