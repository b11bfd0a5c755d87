import io.zcopy.ZeroCopy;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Random;

/**
 * make dist-test runs this with the source launcher and the released jar as the whole class path.
 *
 * <pre>
 *   java -cp zcopy-VERSION.jar DistCheck.java VERSION             the jar and its library say VERSION and move bytes
 *   java -cp zcopy-VERSION.jar DistCheck.java --fails-with TEXT   the first zcopy call throws, saying TEXT
 * </pre>
 */
public class DistCheck {
    public static void main(String[] args) throws Exception {
        if (args[0].equals("--fails-with")) {
            try {
                ZeroCopy.nativeVersion();
            } catch (RuntimeException e) {
                System.out.println(e.getClass().getName() + ": " + e.getMessage());
                if (e.getMessage().contains(args[1])) {
                    return;
                }
            }
            System.err.println("expected the first zcopy call to fail with \"" + args[1] + "\"");
            System.exit(1);
        }
        String version = ZeroCopy.version();
        String nativeVersion = ZeroCopy.nativeVersion();
        if (!version.equals(args[0]) || !nativeVersion.equals(args[0])) {
            System.err.println("ZeroCopy.version() " + version + ", nativeVersion() " + nativeVersion
                    + ", expected " + args[0]);
            System.exit(1);
        }
        byte[] data = new byte[1 << 20];
        new Random(14).nextBytes(data);
        Path src = Files.createTempFile("zcopy-dist", ".src");
        Path dst = Files.createTempFile("zcopy-dist", ".dst");
        try {
            Files.write(src, data);
            long n;
            try (FileChannel in = FileChannel.open(src); FileChannel out = FileChannel.open(dst, StandardOpenOption.WRITE)) {
                n = ZeroCopy.transferTo(in, 0, data.length, out);
            }
            if (n != data.length || !Arrays.equals(data, Files.readAllBytes(dst))) {
                System.err.println("transferTo moved " + n + " bytes, or not the right ones");
                System.exit(1);
            }
            System.out.println("zcopy " + version + " (native " + nativeVersion + ") on Java " + Runtime.version()
                    + ": " + n + " bytes by " + ZeroCopy.lastMethod());
        } finally {
            Files.delete(src);
            Files.delete(dst);
        }
    }
}
