package io.zcopy.examples;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;

/**
 * The response heads of the example servers: a file's ({@link #header}), and an error's with its
 * short text body ({@link #error}). Every head carries {@code Content-Length}, a {@code Date} line
 * (made once a second: {@link #date}) and the connection's fate.
 */
final class HttpResponses {
    private HttpResponses() {}

    static String reason(int status) {
        return switch (status) {
            case 200 -> "OK";
            case 206 -> "Partial Content";
            case 400 -> "Bad Request";
            case 404 -> "Not Found";
            case 405 -> "Method Not Allowed";
            case 416 -> "Range Not Satisfiable";
            case 505 -> "HTTP Version Not Supported";
            default -> "Error";
        };
    }

    /** The {@code Date} header line for the second {@code epochSecond}. */
    static byte[] date(long epochSecond) {
        String d = DateTimeFormatter.RFC_1123_DATE_TIME.format(
                ZonedDateTime.ofInstant(Instant.ofEpochSecond(epochSecond), ZoneOffset.UTC));
        return ("Date: " + d + "\r\n").getBytes(StandardCharsets.US_ASCII);
    }

    private static String connectionHeader(boolean keep, boolean http10) {
        if (!keep) {
            return "Connection: close\r\n";
        }
        return http10 ? "Connection: keep-alive\r\n" : "";
    }

    /** The head of a response whose body is {@code length} bytes of a file; {@code extra}: more header lines. */
    static byte[] header(int status, long length, boolean keep, boolean http10, String extra, byte[] date) {
        String s = "HTTP/1.1 " + status + " " + reason(status) + "\r\nServer: zcopy\r\n"
                + new String(date, StandardCharsets.US_ASCII)
                + "Content-Type: application/octet-stream\r\nContent-Length: " + length + "\r\n" + extra
                + "Accept-Ranges: bytes\r\n" + connectionHeader(keep, http10) + "\r\n";
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * An error reply with a short text body, or none to HEAD, whatever the status (RFC 9110
     * §9.3.2: a keep-alive client reads the next response right after the headers); its
     * Content-Length is that of the body a GET would get.
     */
    static byte[] error(int status, boolean keep, boolean http10, boolean head, String extra, byte[] date) {
        String body = status + " " + reason(status) + "\n";
        String s = "HTTP/1.1 " + status + " " + reason(status) + "\r\nServer: zcopy\r\n"
                + new String(date, StandardCharsets.US_ASCII)
                + "Content-Type: text/plain\r\nContent-Length: " + body.length() + "\r\n" + extra
                + connectionHeader(keep, http10) + "\r\n" + (head ? "" : body);
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    /** Whether an error status ends the connection: the rest of the stream cannot be trusted. */
    static boolean closes(int status) {
        return status == 400 || status == 505;
    }

    /** The extra header lines of an error reply to {@code request} (405: the methods allowed). */
    static String errorExtra(int status) {
        return status == 405 ? "Allow: GET, HEAD\r\n" : "";
    }
}
