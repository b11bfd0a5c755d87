// The Java side of the cross-language tests (tests/cross/test_cross.py), the twin of map_tool.c,
// written only against the io.zcopy API. Run with the source launcher and the zcopy jar:
//
//   java --enable-native-access=ALL-UNNAMED -cp jni-bridge/target/zcopy.jar tests/cross/MapTool.java CMD ...
//
//   write PATH POS LEN SEED     map READ_WRITE (growing the file), write the pattern, force
//   read PATH POS LEN           map READ_ONLY, print the FNV-1a of the bytes
//   shm-child PATH LEN SEED     map a memfd by its /proc/self/fd/N path: check the first half is the
//                               pattern of SEED, write the pattern of SEED+1 into the second half
//
// Every command prints one JSON line: {"ok": true, ...} or {"ok": false, "what": ..., "error": ...}
// (exit status 1). The pattern: byte i of a range is (i * 7 + i / 251 + seed) mod 256, i counted
// from the range's start. The FNV is FNV-1a 64 (with map_tool.c's offset basis) as 16 hex digits.

import io.zcopy.MappedRegion;
import io.zcopy.TransferMethod;
import io.zcopy.ZeroCopy;
import java.nio.channels.FileChannel.MapMode;
import java.nio.file.Path;

public final class MapTool {
    private static final int CHUNK = 1 << 20;
    /** The offset basis map_tool.c and test_cross.py use (decimal, as written there). */
    private static final long FNV_OFFSET = 1469598103934665603L;
    private static final long FNV_PRIME = 0x100000001b3L;

    private MapTool() {}

    public static void main(String[] args) {
        String what = args.length > 0 ? args[0] : "";
        try {
            if (what.equals("methods")) {
                // The method table as the Java API names it, in code order (the kernel paths only).
                for (TransferMethod m : TransferMethod.values()) {
                    if (m != TransferMethod.CHANNEL_LOOP) {
                        System.out.println(m);
                    }
                }
            } else if (args.length >= 5 && what.equals("write")) {
                System.out.println(write(Path.of(args[1]), Long.parseLong(args[2]), Long.parseLong(args[3]),
                        Long.parseLong(args[4])));
            } else if (args.length >= 4 && what.equals("read")) {
                System.out.println(read(Path.of(args[1]), Long.parseLong(args[2]), Long.parseLong(args[3])));
            } else if (args.length >= 4 && what.equals("shm-child")) {
                System.out.println(shmChild(Path.of(args[1]), Long.parseLong(args[2]), Long.parseLong(args[3])));
            } else {
                System.err.println("usage: see the comment at the top of MapTool.java");
                System.exit(2);
            }
        } catch (Exception | AssertionError e) {
            System.out.println("{\"ok\": false, \"what\": \"" + what + "\", \"error\": \"" + json(e.toString()) + "\"}");
            System.err.println("MapTool: " + what + ": " + e);
            System.exit(1);
        }
    }

    /** Byte {@code i} of the pattern of {@code seed}. */
    static byte pattern(long i, long seed) {
        return (byte) (i * 7 + i / 251 + seed);
    }

    /** Fills the first {@code n} bytes of {@code buf} with the pattern bytes {@code from .. from + n}. */
    static void fill(byte[] buf, int n, long from, long seed) {
        for (int k = 0; k < n; k++) {
            buf[k] = pattern(from + k, seed);
        }
    }

    static long fnv(long h, byte[] buf, int n) {
        for (int k = 0; k < n; k++) {
            h ^= buf[k] & 0xff;
            h *= FNV_PRIME;
        }
        return h;
    }

    static String write(Path path, long pos, long len, long seed) throws Exception {
        long h = FNV_OFFSET;
        // READ_WRITE opens the file for reading and writing, so the mapping grows it to pos + len.
        try (MappedRegion region = ZeroCopy.map(path, MapMode.READ_WRITE, pos, len)) {
            byte[] buf = new byte[(int) Math.min(CHUNK, Math.max(len, 1))];
            for (long done = 0; done < len; ) {
                int n = (int) Math.min(buf.length, len - done);
                fill(buf, n, done, seed);
                region.put(done, buf, 0, n);
                h = fnv(h, buf, n);
                done += n;
            }
            region.force();
        }
        return "{\"ok\": true, \"fnv\": \"" + String.format("%016x", h) + "\"}";
    }

    static String read(Path path, long pos, long len) throws Exception {
        long h = FNV_OFFSET;
        try (MappedRegion region = ZeroCopy.map(path, MapMode.READ_ONLY, pos, len)) {
            byte[] buf = new byte[(int) Math.min(CHUNK, Math.max(len, 1))];
            for (long done = 0; done < len; ) {
                int n = (int) Math.min(buf.length, len - done);
                region.get(done, buf, 0, n);
                h = fnv(h, buf, n);
                done += n;
            }
        }
        return "{\"ok\": true, \"fnv\": \"" + String.format("%016x", h) + "\"}";
    }

    static String shmChild(Path path, long len, long seed) throws Exception {
        long half = len / 2;
        try (MappedRegion region = ZeroCopy.map(path, MapMode.READ_WRITE, 0, len)) {
            byte[] buf = new byte[(int) Math.min(CHUNK, Math.max(len, 1))];
            for (long done = 0; done < half; ) {
                int n = (int) Math.min(buf.length, half - done);
                region.get(done, buf, 0, n);
                for (int k = 0; k < n; k++) {
                    if (buf[k] != pattern(done + k, seed)) {
                        throw new AssertionError("byte " + (done + k) + " differs: " + (buf[k] & 0xff));
                    }
                }
                done += n;
            }
            for (long done = 0; done < len - half; ) {
                int n = (int) Math.min(buf.length, len - half - done);
                fill(buf, n, done, seed + 1);
                region.put(half + done, buf, 0, n);
                done += n;
            }
            region.force();
        }
        return "{\"ok\": true}";
    }

    private static String json(String s) {
        StringBuilder b = new StringBuilder();
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }
}
