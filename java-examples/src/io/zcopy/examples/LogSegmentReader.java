package io.zcopy.examples;

import io.zcopy.MappedRegion;
import io.zcopy.ZeroCopy;
import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileChannel.MapMode;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * A Kafka-style log segment: records in a {@code .log} file, a sparse offset index in an
 * {@code .index} file. A fetch maps the index ({@link ZeroCopy#map}), binary-searches it for the
 * requested offset, scans the few records up to it, and sends the log bytes to the consumer's
 * socket with {@link ZeroCopy#transferTo} (sendfile: the records never enter the JVM).
 *
 * <p>Record: {@code [offset:8][length:4][payload]}. Index entry, one per 4 KiB of log:
 * {@code [offset - baseOffset:4][position:4]}, big-endian.
 *
 * <pre>
 * java -cp zcopy.jar:target/classes io.zcopy.examples.LogSegmentReader DIR [RECORDS] [FETCHES]
 * </pre>
 */
public final class LogSegmentReader {
    static final int INDEX_INTERVAL = 4096;
    static final int HEADER = 12;

    /** Writes RECORDS records of 50..249 bytes and their index. */
    static void writeSegment(Path log, Path index, long records) throws IOException {
        try (DataOutputStream out = new DataOutputStream(new BufferedOutputStream(new FileOutputStream(log.toFile()), 1 << 16));
                DataOutputStream idx = new DataOutputStream(new BufferedOutputStream(new FileOutputStream(index.toFile())))) {
            long position = 0;
            long lastIndexed = -INDEX_INTERVAL;
            for (long offset = 0; offset < records; offset++) {
                int length = 50 + (int) (offset * 7919 % 200);
                if (position - lastIndexed >= INDEX_INTERVAL) {
                    idx.writeInt((int) offset);
                    idx.writeInt((int) position);
                    lastIndexed = position;
                }
                out.writeLong(offset);
                out.writeInt(length);
                for (int i = 0; i < length; i++) {
                    out.write((int) (offset + i));
                }
                position += HEADER + length;
            }
        }
    }

    /** The segment: its log channel and its mapped index. */
    static final class Segment implements AutoCloseable {
        final FileChannel log;
        final MappedRegion index;
        final long entries;

        Segment(Path logPath, Path indexPath) throws IOException {
            log = FileChannel.open(logPath);
            index = ZeroCopy.map(indexPath, MapMode.READ_ONLY, 0, Files.size(indexPath));
            entries = index.size() / 8;
        }

        /** The log position of the last indexed record at or before {@code offset}. */
        long lookup(long offset) {
            long lo = 0;
            long hi = entries - 1;
            long found = 0;
            while (lo <= hi) {
                long mid = (lo + hi) >>> 1;
                long entry = index.getLong(mid * 8);
                long rel = entry >>> 32;
                if (rel <= offset) {
                    found = entry & 0xffff_ffffL;
                    lo = mid + 1;
                } else {
                    hi = mid - 1;
                }
            }
            return found;
        }

        /** The exact position of record {@code offset}: index lookup, then a short scan of headers. */
        long positionOf(long offset) throws IOException {
            long pos = lookup(offset);
            ByteBuffer header = ByteBuffer.allocate(HEADER);
            while (true) {
                header.clear();
                if (log.read(header, pos) < HEADER) {
                    return -1;
                }
                long at = header.getLong(0);
                if (at >= offset) {
                    return pos;
                }
                pos += HEADER + header.getInt(8);
            }
        }

        /**
         * The log range a fetch of up to {@code maxBytes} from record {@code offset} sends:
         * {@code {start, length}} (the last record may be cut, as in Kafka).
         */
        long[] range(long offset, int maxBytes) throws IOException {
            long start = positionOf(offset);
            if (start < 0) {
                return new long[] {0, 0};
            }
            return new long[] {start, Math.min(log.size(), start + maxBytes) - start};
        }

        /** Sends {@code [start, start + length)} of the log to the consumer by sendfile. */
        void send(long start, long length, SocketChannel consumer) throws IOException {
            long done = 0;
            while (done < length) {
                done += ZeroCopy.transferTo(log, start + done, length - done, consumer);
            }
        }

        @Override
        public void close() throws IOException {
            index.close();
            log.close();
        }
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : System.getProperty("java.io.tmpdir"));
        long records = args.length > 1 ? Long.parseLong(args[1]) : 200_000;
        int fetches = args.length > 2 ? Integer.parseInt(args[2]) : 1000;
        Path log = dir.resolve("00000000000000000000.log");
        Path index = dir.resolve("00000000000000000000.index");
        writeSegment(log, index, records);
        System.out.printf("segment: %,d records, %,d bytes of log, %,d index entries%n", records, Files.size(log),
                Files.size(index) / 8);
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try (Segment segment = new Segment(log, index); ServerSocketChannel server = ServerSocketChannel.open()) {
            server.bind(new InetSocketAddress("127.0.0.1", 0));
            Future<long[]> consumer = pool.submit(() -> consume(server));
            long sent = 0;
            long t0 = System.nanoTime();
            try (SocketChannel out = SocketChannel.open(server.getLocalAddress())) {
                for (int i = 0; i < fetches; i++) {
                    long offset = (i * 104_729L) % records;
                    long[] range = segment.range(offset, 64 * 1024);
                    ByteBuffer frame = ByteBuffer.allocate(12).putLong(offset).putInt((int) range[1]).flip();
                    while (frame.hasRemaining()) {
                        out.write(frame);
                    }
                    segment.send(range[0], range[1], out);
                    sent += range[1];
                }
            }
            long[] seen = consumer.get();
            double secs = (System.nanoTime() - t0) / 1e9;
            System.out.printf("%,d fetches, %,d bytes sent by %s in %.3f s; consumer checked %,d records%n", fetches, sent,
                    ZeroCopy.lastMethod(), secs, seen[0]);
            if (seen[1] != 0) {
                throw new AssertionError(seen[1] + " fetches started at the wrong record");
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /** Reads frames {@code [offset:8][size:4][records]} and checks that each starts at its offset. */
    private static long[] consume(ServerSocketChannel server) throws IOException {
        long records = 0;
        long wrong = 0;
        try (SocketChannel in = server.accept()) {
            ByteBuffer frame = ByteBuffer.allocate(12);
            while (readFully(in, frame.clear())) {
                long offset = frame.getLong(0);
                int size = frame.getInt(8);
                ByteBuffer body = ByteBuffer.allocate(size);
                readFully(in, body);
                if (size >= HEADER && body.getLong(0) != offset) {
                    wrong++;
                }
                for (int p = 0; p + HEADER <= size && p + HEADER + body.getInt(p + 8) <= size;
                        p += HEADER + body.getInt(p + 8)) {
                    records++; // whole records only: the last one may be cut
                }
            }
        }
        return new long[] {records, wrong};
    }

    private static boolean readFully(SocketChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) {
                return false;
            }
        }
        return true;
    }
}
