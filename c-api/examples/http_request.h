/*
 * http_request: the HTTP/1.1 request parsing of zc-http-server (http_server.c), apart from the
 * sockets and files: what a request head says, whether a target names a file under the root, and
 * which byte range is asked for. Pure functions on buffers, no zcopy and no I/O, so that they can
 * be read, and copied, on their own.
 *
 * A request head is lines ended by LF, with or without a CR before it: RFC 9112 §2.2 lets a
 * recipient take a bare LF for a line terminator (nginx does), so a request written with LFs, or
 * with both, is read as if every line ended in CRLF. A CR anywhere else in a line is invalid
 * (also §2.2): a reader that took it for a line break would see other header lines.
 */
#ifndef ZC_HTTP_REQUEST_H
#define ZC_HTTP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the server needs of one request head. The spans point into the head. */
struct http_request {
    int status;             /* 0, or the error status to answer with: 400, 505 */
    bool http10;            /* HTTP/1.0 */
    bool keep_alive;        /* the connection stays open after the response */
    const char *method;     /* the method, method_len bytes (valid when status is 0) */
    size_t method_len;
    const char *target;     /* the request target, target_len bytes (valid when status is 0) */
    size_t target_len;
    const char *range;      /* the Range header's value, range_len bytes, or NULL */
    size_t range_len;
    int64_t content_length; /* the bytes of body that follow the head, to be skipped */
};

/* The bytes of blank lines (CRLF or LF) at the front of `buf`, which a server ignores before a
 * request (RFC 9112 §2.2). */
size_t http_blank_lines(const char *buf, size_t len);

/* The length of the request head at the front of `buf`, up to and including the empty line that
 * ends it; 0 while that line has not arrived. */
size_t http_head_length(const char *buf, size_t len);

/* Whether the request at the front of `buf` is a HEAD request, which decides whether a reply
 * has a body whatever else is wrong with the request. */
bool http_is_head(const char *buf, size_t len);

/* Parses a complete head (`len` from http_head_length): the request line and the headers that
 * matter to a file server (Connection, Range, Content-Length, Transfer-Encoding). Any framing but
 * one plain Content-Length is a 400 (RFC 9112 §6.3), so that no byte after the head is ever taken
 * for a request. */
void http_parse_head(const char *head, size_t len, struct http_request *req);

/* Turns the request target into a normalised path relative to the root, in `rel` (`cap` bytes).
 * Returns 200 when it names something to look up, 404 when it cannot name a file under the root
 * ("..", encoded slashes, the root itself, a directory), 400 when it is malformed. */
int http_target_to_path(const char *target, size_t len, char *rel, size_t cap);

enum http_range { HTTP_RANGE_NONE, HTTP_RANGE_OK, HTTP_RANGE_UNSATISFIABLE };

/* One "bytes=a-b" / "a-" / "-n" range of a file of `size` bytes, as [*first, *last]. Anything
 * else (several ranges, other units, bad syntax) is ignored, as RFC 9110 allows: the whole file
 * is sent. */
enum http_range http_parse_range(const char *v, size_t len, int64_t size, int64_t *first, int64_t *last);

/* The reason phrase of a status code. */
const char *http_reason(int status);

#endif /* ZC_HTTP_REQUEST_H */
