package io.zcopy.examples;

import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * A parsed HTTP/1.1 request head, and the rules the example servers share for reading one: the
 * request line and headers ({@link #parse}), the target as a path under the served root
 * ({@link #targetToPath}), a single byte range ({@link #parseRange}), and where a head ends in
 * the received bytes ({@link #headEnd}).
 *
 * @param status 0: serve {@code path}; otherwise the error status to answer
 * @param head the method is HEAD, so the reply has no body, whatever its status
 * @param path the file to serve, relative to the root, decoded and checked
 * @param keep keep the connection after the response
 * @param http10 the request is HTTP/1.0 (its keep-alive needs a header in the response)
 * @param range the Range header's value, or null
 * @param contentLength the length of the request body that follows the head (skipped)
 */
record HttpRequest(int status, boolean head, String path, boolean keep, boolean http10, String range,
        long contentLength) {
    static HttpRequest error(int status, boolean head, boolean keep, boolean http10, long contentLength) {
        return new HttpRequest(status, head, "", keep, http10, null, contentLength);
    }

    /**
     * Parses a request head: its lines, without the LF that ends the last one and without the
     * empty line after it. A line ends in LF, with or without a CR before it (RFC 9112 §2.2 lets a
     * recipient take a bare LF for a line terminator, as nginx does); a CR anywhere else is
     * invalid (also §2.2: a reader that took it for a line break would see other header lines).
     */
    static HttpRequest parse(String head) {
        boolean isHead = head.startsWith("HEAD "); // whatever else is wrong with the request
        String[] lines = head.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].endsWith("\r")) {
                lines[i] = lines[i].substring(0, lines[i].length() - 1);
            }
            if (lines[i].indexOf('\r') >= 0) {
                return error(400, isHead, false, false, 0);
            }
        }
        String[] parts = lines[0].split(" ", -1);
        if (parts.length != 3 || parts[0].isEmpty() || parts[1].isEmpty()) {
            return error(400, isHead, false, false, 0);
        }
        String method = parts[0];
        String target = parts[1];
        String version = parts[2];
        boolean keep;
        boolean http10;
        if (version.equals("HTTP/1.1")) {
            keep = true;
            http10 = false;
        } else if (version.equals("HTTP/1.0")) {
            keep = false;
            http10 = true;
        } else if (version.length() == 8 && version.startsWith("HTTP/") && version.charAt(5) >= '2'
                && version.charAt(5) <= '9' && version.charAt(6) == '.') {
            return error(505, isHead, false, false, 0);
        } else {
            return error(400, isHead, false, false, 0);
        }
        String range = null;
        long length = 0;
        boolean haveLength = false;
        for (int i = 1; i < lines.length; i++) {
            String line = lines[i];
            int colon = line.indexOf(':');
            if (colon <= 0) {
                return error(400, isHead, false, http10, 0);
            }
            String name = line.substring(0, colon);
            if (name.indexOf(' ') >= 0 || name.indexOf('\t') >= 0) {
                return error(400, isHead, false, http10, 0);
            }
            String value = trimOws(line.substring(colon + 1));
            switch (name.toLowerCase(Locale.ROOT)) {
                case "connection" -> {
                    boolean close = false;
                    boolean keepAlive = false;
                    for (String token : value.split(",")) {
                        String t = token.trim().toLowerCase(Locale.ROOT);
                        close |= t.equals("close");
                        keepAlive |= t.equals("keep-alive");
                    }
                    if (close) {
                        keep = false;
                    } else if (keepAlive) {
                        keep = true;
                    }
                }
                case "range" -> range = value;
                case "content-length" -> {
                    // One plain decimal number, or where the body ends is unknowable: 400 and
                    // close (RFC 9112 §6.3), so no byte after the head is ever taken for a
                    // request. A second Content-Length line is refused even when it repeats the
                    // first, as nginx does (RFC 9110 §8.6 allows either): no client of a file
                    // server sends one.
                    if (haveLength || !digits(value)) {
                        return error(400, isHead, false, http10, 0);
                    }
                    haveLength = true;
                    length = Long.parseLong(value);
                }
                case "transfer-encoding" -> {
                    // A chunked body: not for a file server (and beside Content-Length, §6.3).
                    return error(400, isHead, false, http10, 0);
                }
                default -> { }
            }
        }
        if (!method.equals("GET") && !method.equals("HEAD")) {
            return error(405, isHead, keep, http10, length);
        }
        Object checked = targetToPath(target);
        if (checked instanceof Integer status) {
            return error(status, isHead, keep, http10, length);
        }
        return new HttpRequest(0, isHead, (String) checked, keep, http10, range, length);
    }

    private static String trimOws(String s) {
        int a = 0;
        int b = s.length();
        while (a < b && (s.charAt(a) == ' ' || s.charAt(a) == '\t')) {
            a++;
        }
        while (b > a && (s.charAt(b - 1) == ' ' || s.charAt(b - 1) == '\t')) {
            b--;
        }
        return s.substring(a, b);
    }

    /**
     * The relative path a request target names, or an error status (Integer): 400 malformed,
     * 404 no such file (escapes, encoded slashes, directories).
     */
    static Object targetToPath(String target) {
        if (!target.startsWith("/")) {
            return 400;
        }
        int cut = target.length();
        int q = target.indexOf('?');
        int h = target.indexOf('#');
        if (q >= 0) {
            cut = q;
        }
        if (h >= 0 && h < cut) {
            cut = h;
        }
        target = target.substring(0, cut);
        for (int i = 0; i < target.length(); i++) {
            char c = target.charAt(i);
            if (c < 0x21 || c == 0x7f) {
                return 400;
            }
        }
        String low = target.toLowerCase(Locale.ROOT);
        if (low.contains("%00")) {
            return 400;
        }
        if (low.contains("%2f") || low.contains("%5c") || target.indexOf('\\') >= 0) {
            return 404; // an encoded slash or a backslash separates nothing: no such name
        }
        String path = target;
        if (target.indexOf('%') >= 0) {
            byte[] out = new byte[target.length()];
            int n = 0;
            for (int i = 0; i < target.length(); i++) {
                char c = target.charAt(i);
                if (c == '%') {
                    if (i + 2 >= target.length() || hex(target.charAt(i + 1)) < 0 || hex(target.charAt(i + 2)) < 0) {
                        return 400;
                    }
                    out[n++] = (byte) (hex(target.charAt(i + 1)) * 16 + hex(target.charAt(i + 2)));
                    i += 2;
                } else if (c > 0x7f) {
                    return 400; // the request line is ASCII
                } else {
                    out[n++] = (byte) c;
                }
            }
            path = new String(out, 0, n, StandardCharsets.UTF_8);
            if (path.indexOf('\uFFFD') >= 0) {
                return 404; // not UTF-8: no name the server would have
            }
            for (int i = 0; i < path.length(); i++) {
                char c = path.charAt(i);
                if (c < 0x20 || c == 0x7f || c == '\\') {
                    return c == '\\' ? 404 : 400;
                }
            }
        }
        StringBuilder rel = new StringBuilder();
        for (String seg : path.split("/", -1)) {
            if (seg.equals("..")) {
                return 404; // never above the root, nor back into it
            }
            if (!seg.isEmpty() && !seg.equals(".")) {
                if (rel.length() > 0) {
                    rel.append('/');
                }
                rel.append(seg);
            }
        }
        if (rel.length() == 0 || path.endsWith("/") || path.endsWith("/.")) {
            return 404; // directories are not served
        }
        return rel.toString();
    }

    private static int hex(char c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return -1;
    }

    /**
     * {@code {first, last}} for a satisfiable single range, {@code {}} (empty) for an
     * unsatisfiable one, null for a value to ignore (not bytes=, several ranges, not a range).
     */
    static long[] parseRange(String value, long size) {
        if (value.length() < 6 || !value.substring(0, 6).equalsIgnoreCase("bytes=") || value.indexOf(',') >= 0) {
            return null;
        }
        String spec = trimOws(value.substring(6));
        int dash = spec.indexOf('-');
        if (dash < 0) {
            return null;
        }
        String a = spec.substring(0, dash);
        String b = spec.substring(dash + 1);
        if (a.isEmpty()) { // the last n bytes
            if (!digits(b)) {
                return null;
            }
            long n = Long.parseLong(b);
            if (n == 0 || size == 0) {
                return new long[0];
            }
            return new long[] {Math.max(0, size - n), size - 1};
        }
        if (!digits(a)) {
            return null;
        }
        long first = Long.parseLong(a);
        long last;
        if (!b.isEmpty()) {
            if (!digits(b)) {
                return null;
            }
            last = Long.parseLong(b);
            if (last < first) {
                return null;
            }
        } else {
            last = size - 1;
        }
        if (first >= size) {
            return new long[0];
        }
        return new long[] {first, Math.min(last, size - 1)};
    }

    /**
     * Whether {@code s} is a plain decimal number of at most 18 digits, which {@code Long.parseLong}
     * always takes (the longest number taken, as in the C and Python servers).
     */
    private static boolean digits(String s) {
        if (s.isEmpty() || s.length() > 18) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '9') {
                return false;
            }
        }
        return true;
    }

    /**
     * Where the request head in {@code a[from, to)} ends: the index of the LF that ends its last
     * line, which an empty line follows ({@code LF} or {@code CR LF}: a line ends in LF, with or
     * without a CR before it, see {@link #parse}); -1 while that empty line has not arrived.
     */
    static int headEnd(byte[] a, int from, int to) {
        for (int i = from; i + 1 < to; i++) {
            if (a[i] == '\n' && (a[i + 1] == '\n' || (a[i + 1] == '\r' && i + 2 < to && a[i + 2] == '\n'))) {
                return i;
            }
        }
        return -1;
    }

    /** Where the request after the head ending at {@code headEnd} (see {@link #headEnd}) starts. */
    static int afterHead(byte[] a, int headEnd) {
        return headEnd + (a[headEnd + 1] == '\n' ? 2 : 3);
    }

    /** Whether {@code a[from, to)} starts with the ASCII {@code prefix}. */
    static boolean startsWith(byte[] a, int from, int to, String prefix) {
        if (to - from < prefix.length()) {
            return false;
        }
        for (int i = 0; i < prefix.length(); i++) {
            if (a[from + i] != prefix.charAt(i)) {
                return false;
            }
        }
        return true;
    }
}
