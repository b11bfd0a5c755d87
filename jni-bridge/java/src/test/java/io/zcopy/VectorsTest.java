package io.zcopy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.Closeable;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channel;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileChannel.MapMode;
import java.nio.channels.NonReadableChannelException;
import java.nio.channels.NonWritableChannelException;
import java.nio.channels.Pipe;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shared vectors of tests/vectors (the same table the Rust, C and Python suites run),
 * asserting the Java column of the error table in tests/vectors/README.md. Cases Java cannot
 * express are skipped with the reason, and counted.
 */
class VectorsTest {
    @TempDir
    Path dir;

    @RegisterExtension
    final TestPool pool = new TestPool();

    private final List<Closeable> keep = new ArrayList<>();

    @AfterEach
    void cleanup() throws IOException {
        for (Closeable c : keep) {
            c.close();
        }
    }

    /** The Java exception for each class of tests/vectors/README.md: the binding's one table. */
    private static final Map<String, Class<? extends Throwable>> TABLE = Map.of(
            "invalid_argument", IllegalArgumentException.class,
            "closed", ClosedChannelException.class,
            "not_readable", NonReadableChannelException.class,
            "not_writable", NonWritableChannelException.class,
            "past_end_of_file", IOException.class,
            "unsupported", UnsupportedOperationException.class);

    private static final Map<String, Integer> ERRNO = Map.of("ENODEV", 19, "ESPIPE", 29, "EISDIR", 21, "EINVAL", 22);

    private static JsonNode load(String name) throws IOException {
        Path p = Path.of(System.getProperty("zcopy.vectors.dir", "../tests/vectors")).resolve(name);
        return new ObjectMapper().readTree(p.toFile()).get("cases");
    }

    /** Why Java cannot express a descriptor kind on the given side, or null when it can. */
    private static String unexpressible(String kind, boolean mustBeFileChannel) {
        if (mustBeFileChannel && (kind.equals("pipe_read") || kind.equals("pipe_write") || kind.equals("socket"))) {
            return "Java has no FileChannel on a " + kind.replace('_', ' ') + " (the JDK opens FileChannels on paths only)";
        }
        return null;
    }

    private static final class Made {
        Channel channel;
        Path path;
    }

    private Made make(JsonNode d, String tag) throws IOException {
        Made m = new Made();
        String kind = d.get("kind").asText();
        switch (kind) {
            case "file": {
                m.path = TestSupport.file(dir, tag, d.get("size").asInt());
                m.channel = TestSupport.open(m.path, d.get("open").asText());
                break;
            }
            case "closed": {
                FileChannel ch = TestSupport.open(TestSupport.file(dir, tag, 10), "rw");
                ch.close();
                m.channel = ch;
                break;
            }
            case "directory": m.channel = FileChannel.open(Path.of("/"), StandardOpenOption.READ); break;
            case "dev_zero": m.channel = FileChannel.open(Path.of("/dev/zero"), StandardOpenOption.READ); break;
            case "dev_null": m.channel = FileChannel.open(Path.of("/dev/null"), StandardOpenOption.WRITE); break;
            case "proc_file": m.channel = FileChannel.open(Path.of("/proc/self/status"), StandardOpenOption.READ); break;
            case "pipe_read": {
                Pipe p = Pipe.open();
                if (d.has("writer_closed") && d.get("writer_closed").asBoolean()) {
                    p.sink().close();
                } else {
                    keep.add(p.sink());
                }
                m.channel = p.source();
                break;
            }
            case "pipe_write": {
                Pipe p = Pipe.open();
                Pipe.SourceChannel source = p.source();
                keep.add(source);
                pool.submit(() -> {
                    ByteBuffer b = ByteBuffer.allocate(1 << 16);
                    while (source.read(b) >= 0) {
                        b.clear();
                    }
                    return null;
                });
                m.channel = p.sink();
                break;
            }
            case "socket": {
                Path sock = dir.resolve(tag + ".sock");
                try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
                    server.bind(UnixDomainSocketAddress.of(sock));
                    SocketChannel a = SocketChannel.open(UnixDomainSocketAddress.of(sock));
                    SocketChannel b = server.accept();
                    keep.add(b);
                    TestSupport.drain(pool, b);
                    m.channel = a;
                }
                break;
            }
            default: throw new IllegalArgumentException(kind);
        }
        keep.add(m.channel);
        return m;
    }

    private static MapMode mode(String s) {
        switch (s) {
            case "read_only": return MapMode.READ_ONLY;
            case "read_write": return MapMode.READ_WRITE;
            default: return MapMode.PRIVATE;
        }
    }

    /** A vector's call. */
    private interface Call<T> {
        T run() throws Exception;
    }

    /**
     * Runs a vector's call against its expectation: an expected error is checked (and null
     * returned); otherwise the call must succeed, and its result is returned for the caller's
     * checks.
     */
    private static <T> T expect(String name, JsonNode expect, Call<T> call) {
        T result = null;
        Throwable got = null;
        try {
            result = call.run();
        } catch (Exception e) {
            got = e;
        }
        if (!expect.has("error")) {
            if (got != null) {
                fail(name + ": unexpected " + got, got);
            }
            return result;
        }
        String want = expect.get("error").asText();
        if (got == null) {
            fail(name + ": expected " + want + ", got success");
        }
        if (want.startsWith("io:")) {
            // An operating-system error: an IOException carrying the errno as a field.
            assertTrue(got instanceof ErrnoException, name + ": " + got);
            int errno = ERRNO.get(want.substring(3));
            assertEquals(errno, ((ErrnoException) got).errno(), name + ": " + got.getMessage());
            return null;
        }
        Class<? extends Throwable> cls = TABLE.get(want);
        if (cls == IOException.class) {
            assertSame(cls, got.getClass(), name + ": " + got);
        } else {
            assertTrue(cls.isInstance(got), name + ": expected " + cls.getName() + ", got " + got);
        }
        return null;
    }

    @Test
    void mapVectors() throws IOException {
        int ran = 0;
        int skipped = 0;
        for (JsonNode c : load("map.json")) {
            String name = c.get("name").asText();
            String why = unexpressible(c.get("fd").get("kind").asText(), true);
            if (why != null) {
                skipped++;
                System.out.println("map vector skipped: " + name + ": " + why);
                continue;
            }
            JsonNode expect = c.has("java_expect") ? c.get("java_expect") : c.get("expect");
            Made m = make(c.get("fd"), "m" + ran);
            FileChannel ch = (FileChannel) m.channel;
            long position = c.get("position").asLong();
            long size;
            if (c.get("size").isNull()) {
                // "to the end of the file": Java's map takes a size; past the end this is a size-0
                // mapping past the end, which the JDK (and zcopy) refuse on a read-only channel.
                size = Math.max(0, Files.size(m.path) - position);
            } else {
                size = c.get("size").asLong();
            }
            MappedRegion region = expect(name, expect, () -> ZeroCopy.map(ch, mode(c.get("mode").asText()), position, size));
            if (region != null) {
                try (MappedRegion r = region) {
                    assertEquals(expect.get("len").asLong(), r.size(), name);
                    if (expect.has("file_size_after")) {
                        assertEquals(expect.get("file_size_after").asLong(), Files.size(m.path), name);
                    }
                }
            }
            ran++;
        }
        assertTrue(ran >= 19, "ran " + ran + ", skipped " + skipped);
    }

    @Test
    void transferVectors() throws IOException {
        int ran = 0;
        int skipped = 0;
        for (JsonNode c : load("transfer.json")) {
            String name = c.get("op").asText() + ": " + c.get("name").asText();
            String fileKind = c.get("file").get("kind").asText();
            String why = unexpressible(fileKind, true);
            if (why != null) {
                skipped++;
                System.out.println("transfer vector skipped: " + name + ": " + why);
                continue;
            }
            Made file = make(c.get("file"), "f" + ran);
            Made other = make(c.get("other"), "o" + ran);
            TransferMethod using = c.has("using") ? method(c.get("using").asText()) : null;
            long position = c.get("position").asLong();
            long count = c.get("count").asLong();
            JsonNode expect = c.has("java_expect") ? c.get("java_expect") : c.get("expect");
            boolean to = c.get("op").asText().equals("transfer_to");
            Long n = expect(name, expect, () -> to
                    ? ZeroCopy.transferTo((FileChannel) file.channel, position, count, (WritableByteChannel) other.channel, using)
                    : ZeroCopy.transferFrom((FileChannel) file.channel, (ReadableByteChannel) other.channel, position, count, using));
            if (n != null) {
                if (expect.has("bytes")) {
                    assertEquals(expect.get("bytes").asLong(), n, name);
                }
                if (expect.has("bytes_at_least")) {
                    assertTrue(n >= expect.get("bytes_at_least").asLong(), name + ": " + n);
                }
                if (expect.has("method")) {
                    assertEquals(expect.get("method").asText(), ZeroCopy.lastMethod().toString(), name);
                }
                if (expect.has("zero_copy")) {
                    assertEquals(expect.get("zero_copy").asBoolean(), ZeroCopy.lastMethod().isZeroCopy(), name);
                }
                if (expect.has("file_size_after")) {
                    assertEquals(expect.get("file_size_after").asLong(), Files.size(file.path), name);
                }
            }
            ran++;
        }
        assertTrue(ran >= 30, "ran " + ran + ", skipped " + skipped);
    }

    private static TransferMethod method(String name) {
        for (TransferMethod m : TransferMethod.values()) {
            if (m.toString().equals(name)) {
                return m;
            }
        }
        throw new IllegalArgumentException(name);
    }
}
