/*
 * http_request: the HTTP/1.1 request parsing of zc-http-server; see http_request.h.
 */
#include "http_request.h"

#include <string.h>
#include <strings.h>
#include <sys/types.h>

static bool starts_with(const char *s, size_t len, const char *prefix) {
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int http_target_to_path(const char *target, size_t len, char *rel, size_t cap) {
    if (len == 0 || target[0] != '/') return 400;
    /* The query and fragment do not name the file. */
    for (size_t i = 0; i < len; i++)
        if (target[i] == '?' || target[i] == '#') {
            len = i;
            break;
        }
    /* Each kept segment is copied to rel followed by '/'; seg is where the current one began. */
    size_t out = 0, seg = 0;
    bool directory = false; /* the target ends in "/" or "/." */
    for (size_t i = 1; i <= len; i++) {
        if (i == len || target[i] == '/') {
            size_t seg_len = out - seg;
            if (seg_len == 0 || (seg_len == 1 && rel[seg] == '.')) {
                out = seg; /* "" and "." name nothing */
                directory = i == len;
            } else if (seg_len == 2 && rel[seg] == '.' && rel[seg + 1] == '.') {
                return 404; /* never above the root, nor back into it */
            } else {
                if (out + 1 >= cap) return 404;
                rel[out++] = '/';
                seg = out;
            }
            continue;
        }
        char c = target[i];
        if (c == '%') {
            if (i + 2 >= len) return 400;
            int hi = hex_value(target[i + 1]), lo = hex_value(target[i + 2]);
            if (hi < 0 || lo < 0) return 400;
            c = (char)(hi * 16 + lo);
            i += 2;
            if (c == 0) return 400;   /* %00 */
            if (c == '/') return 404; /* an encoded slash does not separate segments: no such name */
        } else if ((unsigned char)c < 0x20 || c == 0x7f) {
            return 400;
        }
        if (out + 1 >= cap) return 404; /* longer than any path */
        rel[out++] = c;
    }
    if (out > 0) out--; /* the '/' after the last segment */
    rel[out] = 0;
    /* "/" and "NAME/" name directories, which are not served. */
    return out == 0 || directory ? 404 : 200;
}

static bool token_equals(const char *s, size_t len, const char *word) {
    size_t n = strlen(word);
    return len == n && strncasecmp(s, word, n) == 0;
}

/* Whether a comma-separated header value holds `word` (case-insensitive). */
static bool list_has(const char *v, size_t len, const char *word) {
    size_t i = 0;
    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
        size_t start = i;
        while (i < len && v[i] != ',') i++;
        size_t end = i;
        while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t')) end--;
        if (token_equals(v + start, end - start, word)) return true;
    }
    return false;
}

static bool parse_u63(const char *s, size_t len, int64_t *out) {
    if (len == 0 || len > 18) return false; /* 18 digits always fit in int64_t */
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

enum http_range http_parse_range(const char *v, size_t len, int64_t size, int64_t *first, int64_t *last) {
    if (len < 6 || strncasecmp(v, "bytes=", 6) != 0) return HTTP_RANGE_NONE;
    v += 6;
    len -= 6;
    while (len && (*v == ' ' || *v == '\t')) v++, len--;
    while (len && (v[len - 1] == ' ' || v[len - 1] == '\t')) len--;
    const char *dash = memchr(v, '-', len);
    if (!dash || memchr(v, ',', len)) return HTTP_RANGE_NONE;
    size_t alen = (size_t)(dash - v), blen = len - alen - 1;
    int64_t a, b;
    if (alen == 0) { /* the last n bytes */
        if (!parse_u63(dash + 1, blen, &b)) return HTTP_RANGE_NONE;
        if (b == 0 || size == 0) return HTTP_RANGE_UNSATISFIABLE;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return HTTP_RANGE_OK;
    }
    if (!parse_u63(v, alen, &a)) return HTTP_RANGE_NONE;
    if (blen == 0) {
        b = INT64_MAX;
    } else if (!parse_u63(dash + 1, blen, &b) || b < a) {
        return HTTP_RANGE_NONE;
    }
    if (a >= size) return HTTP_RANGE_UNSATISFIABLE;
    *first = a;
    *last = b >= size ? size - 1 : b;
    return HTTP_RANGE_OK;
}

const char *http_reason(int status) {
    switch (status) {
    case 200: return "OK";
    case 206: return "Partial Content";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 416: return "Range Not Satisfiable";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
    }
}

size_t http_head_length(const char *buf, size_t len) {
    const char *end = buf + len;
    for (const char *lf = memchr(buf, '\n', len); lf; lf = memchr(lf + 1, '\n', (size_t)(end - lf - 1))) {
        if (end - lf > 1 && lf[1] == '\n') return (size_t)(lf - buf) + 2;
        if (end - lf > 2 && lf[1] == '\r' && lf[2] == '\n') return (size_t)(lf - buf) + 3;
    }
    return 0;
}

/* The line at `line` of a complete head (its LF comes before `stop`): sets *next to the line
 * after it and returns its length without the terminator, or -1 when it holds a bare CR. */
static ssize_t head_line(const char *line, const char *stop, const char **next) {
    const char *lf = memchr(line, '\n', (size_t)(stop - line));
    *next = lf + 1;
    size_t len = (size_t)(lf - line);
    if (len && line[len - 1] == '\r') len--;
    return memchr(line, '\r', len) ? -1 : (ssize_t)len;
}

size_t http_blank_lines(const char *buf, size_t len) {
    size_t n = 0;
    for (;;) {
        if (len - n >= 1 && buf[n] == '\n') n += 1;
        else if (len - n >= 2 && buf[n] == '\r' && buf[n + 1] == '\n') n += 2;
        else return n;
    }
}

bool http_is_head(const char *buf, size_t len) { return starts_with(buf, len, "HEAD "); }

/* The request line, METHOD SP TARGET SP HTTP/1.x, ending at `line_end`. */
static void parse_request_line(const char *head, const char *line_end, struct http_request *req) {
    const char *sp1 = memchr(head, ' ', (size_t)(line_end - head));
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1)) : NULL;
    if (!sp1 || !sp2 || sp1 == head || sp2 == sp1 + 1 || memchr(sp2 + 1, ' ', (size_t)(line_end - sp2 - 1))) {
        req->status = 400;
        return;
    }
    req->method = head;
    req->method_len = (size_t)(sp1 - head);
    req->target = sp1 + 1;
    req->target_len = (size_t)(sp2 - sp1 - 1);
    const char *version = sp2 + 1;
    bool v8 = line_end - version == 8 && memcmp(version, "HTTP/", 5) == 0 && version[6] == '.';
    if (v8 && version[5] == '1' && version[7] == '0') {
        req->http10 = true;
        req->keep_alive = false; /* unless the client asks for it */
    } else if (v8 && version[5] >= '2' && version[5] <= '9') {
        req->status = 505; /* HTTP/2 and later do not use this syntax */
    } else if (!(v8 && version[5] == '1' && version[7] == '1')) {
        req->status = 400;
    }
}

void http_parse_head(const char *head, size_t len, struct http_request *req) {
    memset(req, 0, sizeof *req);
    req->keep_alive = true; /* the HTTP/1.1 default */
    const char *stop = head + len, *next;
    ssize_t line_len = head_line(head, stop, &next);
    parse_request_line(head, head + (line_len < 0 ? 0 : line_len), req);
    /* Headers, up to the empty line: Connection, Range, Content-Length, Transfer-Encoding matter. */
    bool have_length = false;
    for (const char *line = next; req->status != 400; line = next) {
        ssize_t n = head_line(line, stop, &next);
        if (n == 0) break; /* the empty line */
        if (n < 0) {
            req->status = 400;
            break;
        }
        const char *colon = memchr(line, ':', (size_t)n);
        if (!colon || colon == line) {
            req->status = 400;
            break;
        }
        for (const char *p = line; p < colon; p++)
            if (*p == ' ' || *p == '\t' || (unsigned char)*p < 0x21) req->status = 400; /* no space before ':' */
        const char *v = colon + 1;
        size_t vlen = (size_t)(line + n - v);
        while (vlen && (*v == ' ' || *v == '\t')) v++, vlen--;
        while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t')) vlen--;
        size_t nlen = (size_t)(colon - line);
        if (token_equals(line, nlen, "connection")) {
            if (list_has(v, vlen, "close")) req->keep_alive = false;
            else if (list_has(v, vlen, "keep-alive")) req->keep_alive = true;
        } else if (token_equals(line, nlen, "range")) {
            req->range = v;
            req->range_len = vlen;
        } else if (token_equals(line, nlen, "content-length")) {
            /* One plain decimal number, or where the body ends is unknowable: 400 and close
             * (RFC 9112 §6.3), so no byte after the head is ever taken for a request. A second
             * Content-Length line is refused even when it repeats the first, as nginx does
             * (RFC 9110 §8.6 allows either): no client of a file server sends one. */
            if (have_length || !parse_u63(v, vlen, &req->content_length)) req->status = 400;
            have_length = true;
        } else if (token_equals(line, nlen, "transfer-encoding")) {
            req->status = 400; /* a chunked request body: not for a static file server (with Content-Length: §6.3) */
        }
    }
}
