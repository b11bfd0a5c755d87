import io.zcopy.ZeroCopy;
import java.nio.channels.FileChannel;
import java.nio.channels.SocketChannel;
import java.nio.channels.ServerSocketChannel;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;

/**
 * The per-call cost of 4 KiB transfers, ZeroCopy.transferTo against the JDK's own transferTo on
 * the same channels, best of seven blocks each: one line per target, "name ratio".
 *
 * <pre>java -cp zcopy.jar PerCall.java [calls]</pre>
 */
public class PerCall {
    interface Op {
        long run() throws Exception;
    }

    static double nsPerCall(Op op, int calls) throws Exception {
        double best = Double.MAX_VALUE;
        for (int block = 0; block < 7; block++) {
            long t0 = System.nanoTime();
            for (int i = 0; i < calls; i++) {
                op.run();
            }
            best = Math.min(best, (System.nanoTime() - t0) / (double) calls);
        }
        return best;
    }

    static void compare(String name, Op jdk, Op zcopy, int calls) throws Exception {
        nsPerCall(jdk, calls / 5); // warm both up
        nsPerCall(zcopy, calls / 5);
        double j = nsPerCall(jdk, calls);
        double z = nsPerCall(zcopy, calls);
        System.out.printf("ZeroCopy.transferTo 4 KiB %s %.3f%n", name, z / j);
    }

    public static void main(String[] args) throws Exception {
        int calls = args.length > 0 ? Integer.parseInt(args[0]) : 100_000;
        Path src = Files.createTempFile("zcopy-percall", ".src");
        Path dst = Files.createTempFile("zcopy-percall", ".dst");
        Files.write(src, new byte[4096]);
        try (FileChannel s = FileChannel.open(src, READ);
                FileChannel d = FileChannel.open(dst, WRITE);
                FileChannel nul = FileChannel.open(Path.of("/dev/null"), WRITE);
                ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
                SocketChannel out = SocketChannel.open(server.getLocalAddress());
                SocketChannel in = server.accept()) {
            // A file that restarts every 16 MiB, so the target does not grow without end.
            compare("-> file", () -> { if (d.position() > (16 << 20)) d.position(0); return s.transferTo(0, 4096, d); },
                    () -> { if (d.position() > (16 << 20)) d.position(0); return ZeroCopy.transferTo(s, 0, 4096, d); },
                    calls);
            compare("-> /dev/null", () -> s.transferTo(0, 4096, nul), () -> ZeroCopy.transferTo(s, 0, 4096, nul), calls);
            Thread reader = new Thread(() -> {
                ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
                try {
                    while (in.read(buf.clear()) >= 0) {
                        continue;
                    }
                } catch (Exception e) {
                    // the socket closed at the end
                }
            });
            reader.setDaemon(true);
            reader.start();
            compare("-> blocking socket", () -> s.transferTo(0, 4096, out), () -> ZeroCopy.transferTo(s, 0, 4096, out),
                    calls / 4);
        } finally {
            Files.deleteIfExists(src);
            Files.deleteIfExists(dst);
        }
    }
}
