package io.zcopy.examples;

import io.zcopy.MappedRegion;
import io.zcopy.ZeroCopy;
import java.io.BufferedOutputStream;
import java.io.FileOutputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileChannel.MapMode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * Writes the same {@code LINES} log lines (default 1,000,000) twice: into a mapped region
 * through its {@code ByteBuffer} (64 MiB steps, each closed as soon as it is full, the file
 * trimmed at the end) and through a
 * {@code BufferedOutputStream} over a {@code FileOutputStream}; checks that both files are equal
 * and prints the times.
 *
 * <pre>
 * java -cp zcopy.jar:target/classes io.zcopy.examples.MappedWriteVsStream [DIR] [LINES]
 * </pre>
 */
public final class MappedWriteVsStream {
    private static final long STEP = 64L << 20;

    static byte[] line(long i) {
        return ("2024-01-01T00:00:00Z INFO request " + i + " served in " + (i % 997) + " us\n")
                .getBytes(StandardCharsets.US_ASCII);
    }

    static long mapped(Path file, long lines) throws Exception {
        long written = 0;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            MappedRegion region = ZeroCopy.map(ch, MapMode.READ_WRITE, 0, STEP); // grows the file
            ByteBuffer buf = region.buffer();
            try {
                for (long i = 0; i < lines; i++) {
                    byte[] l = line(i);
                    if (buf.remaining() < l.length) {
                        region.close(); // the file's pages are released now, not at some GC
                        region = ZeroCopy.map(ch, MapMode.READ_WRITE, written, STEP);
                        buf = region.buffer();
                    }
                    buf.put(l);
                    written += l.length;
                }
                // No force(): like the stream, the data is in the page cache; call region.force() (and
                // FileChannel.force for the stream) when the lines must survive a crash.
            } finally {
                region.close();
            }
            ch.truncate(written); // drop the unused tail of the last step
        }
        return written;
    }

    static long streamed(Path file, long lines) throws Exception {
        long written = 0;
        try (OutputStream out = new BufferedOutputStream(new FileOutputStream(file.toFile()), 1 << 16)) {
            for (long i = 0; i < lines; i++) {
                byte[] l = line(i);
                out.write(l);
                written += l.length;
            }
        }
        return written;
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : System.getProperty("java.io.tmpdir"));
        long lines = args.length > 1 ? Long.parseLong(args[1]) : 1_000_000;
        Path a = dir.resolve("mapped.log");
        Path b = dir.resolve("streamed.log");
        // One untimed round each warms the JIT, then the timed rounds.
        mapped(a, Math.min(lines, 100_000));
        streamed(b, Math.min(lines, 100_000));
        long t0 = System.nanoTime();
        long n1 = mapped(a, lines);
        long t1 = System.nanoTime();
        long n2 = streamed(b, lines);
        long t2 = System.nanoTime();
        if (n1 != n2 || Files.size(a) != Files.size(b) || Files.mismatch(a, b) != -1) {
            throw new AssertionError("the two files differ");
        }
        double mappedMs = (t1 - t0) / 1e6;
        double streamMs = (t2 - t1) / 1e6;
        System.out.printf("%,d lines, %,d bytes each%n", lines, n1);
        System.out.printf("%-40s %10.1f ms%n", "MappedRegion (zcopy)", mappedMs);
        System.out.printf("%-40s %10.1f ms%n", "BufferedOutputStream(FileOutputStream)", streamMs);
        System.out.printf("mapped / stream time: %.2f (identical files: %s)%n", mappedMs / streamMs,
                Arrays.equals(Files.readAllBytes(a), Files.readAllBytes(b)));
        Files.delete(a);
        Files.delete(b);
    }
}
