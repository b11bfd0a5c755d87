package io.zcopy.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The showcase runner in a child JVM: its protocol, its strategies, --fetch. */
class RunnerTest {
    @TempDir
    Path dir;

    /** Runs the runner in a child JVM (this JVM's java and class path) and returns its output. */
    private static String run(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), Runner.class.getName()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    /** The shared vectors' pattern: byte i is (i * 7 + i / 251) % 256. */
    private static byte[] pattern(int size) {
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) {
            b[i] = (byte) ((i * 7L + i / 251) % 256);
        }
        return b;
    }

    @Test
    void strategiesMoveTheBytesAndReportJson() throws Exception {
        Path src = Files.write(dir.resolve("src"), pattern(3_000_000));
        String list = run("--strategy", "list");
        assertTrue(list.contains("jdk:transferTo") && list.contains("zcopy:copy_file_range"), list);
        for (String strategy : new String[] {"jdk:transferTo", "jdk:read-write-1m", "zcopy:auto", "zcopy:splice"}) {
            Path dst = dir.resolve("dst-" + strategy.replace(':', '-').replace('/', '-'));
            String out = run("--src", src.toString(), "--size", "2000000", "--target", "file:" + dst, "--strategy",
                    strategy, "--rounds", "2");
            String[] lines = out.trim().split("\n");
            assertEquals(2, lines.length, out);
            assertTrue(lines[1].startsWith("{\"lang\": \"java\", \"strategy\": \"" + strategy + "\", \"target\": \"file\", "
                    + "\"round\": 1, \"bytes\": 2000000, "), lines[1]);
            assertArrayEquals(java.util.Arrays.copyOf(Files.readAllBytes(src), 2_000_000), Files.readAllBytes(dst), strategy);
            // zcopy counts its system calls exactly (as the C and Python runners do); the JDK does not say.
            if (strategy.startsWith("jdk:")) {
                assertTrue(lines[1].endsWith("\"syscalls\": null}"), lines[1]);
            } else {
                assertTrue(lines[1].matches(".*\"syscalls\": [1-9][0-9]*}"), lines[1]);
            }
        }
    }

    @Test
    void fetchDownloadsWithTransferFromAndHashesInPlace() throws Exception {
        byte[] body = pattern(1_500_000);
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/f.bin", ex -> {
            ex.sendResponseHeaders(200, body.length);
            try (OutputStream os = ex.getResponseBody()) {
                os.write(body);
            }
        });
        server.start();
        try {
            String out = run("--fetch", "http://127.0.0.1:" + server.getAddress().getPort() + "/f.bin").trim();
            String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body));
            assertEquals("{\"bytes\": 1500000, \"sha256\": \"" + sha + "\", \"method\": \"splice\"}", out);
        } finally {
            server.stop(0);
        }
    }
}
