/*
 * http_server (built as zc-http-server): a minimal HTTP/1.1 static file server on zcopy, to
 * copy from.
 *
 *   zc-http-server --root DIR --port PORT [--threads N] [--addr 127.0.0.1]
 *                  [--cache 0..64] [--accept reuseport|shared] [--header more|send] [--nodelay on|off]
 *
 * Serves the regular files under DIR on ADDR:PORT (PORT 0: any free port). Prints
 * "listening on ADDR:PORT" once it accepts connections; stops cleanly (exit 0) on SIGINT or
 * SIGTERM.
 *
 * HTTP: GET and HEAD (no reply to HEAD has a body, errors included); Content-Length on every
 * response; keep-alive (the HTTP/1.1 default; "Connection: close" honoured; HTTP/1.0 only with
 * "Connection: keep-alive"); pipelined requests answered in order; lines ended by CRLF or by a
 * bare LF; one "Range: bytes=a-b" / "a-" / "-n" answered with 206 and Content-Range, an
 * unsatisfiable one with 416; 404 for anything that is not a regular file under DIR (directories
 * too), 400 for malformed requests (the connection is closed after it), among them any framing
 * but one plain Content-Length (RFC 9112 §6.3: two of them, a value that is not a decimal number
 * of at most 18 digits, Transfer-Encoding), 405 for other methods. No path escapes: ".."
 * segments (also percent-encoded), encoded slashes and NUL bytes are refused, and the file is
 * opened with openat2(RESOLVE_BENEATH), so a symbolic link may only lead to a file inside DIR
 * (an absolute link is followed with realpath and checked).
 *
 * Shape: one event loop per thread (default: one per online CPU), each with its own zcopy
 * selector and its own listening socket on the same port (SO_REUSEPORT: the kernel spreads new
 * connections over the loops, no lock, no thundering herd). Sockets are non-blocking and
 * registered once, edge-triggered, for reading and writing. A response is the header sent with
 * MSG_MORE and the body transferred right behind it by zc_transfer_to_with_header (so a small
 * response leaves as one TCP segment, what nginx gets from tcp_nopush), then zc_transfer_to
 * (sendfile) from the offset reached, whenever the socket has room again. Each loop keeps its
 * open files in a small cache, checked against stat() on every request. The tuning switches
 * change one of these choices each, to measure what it is worth (make bench-c-http prints each
 * variant against nginx). The defaults are the shape that scales when the server has its cores
 * to itself, and the one nginx uses (listen ... reuseport): a shared listener with EPOLLEXCLUSIVE
 * spreads connections unevenly between the loops. The request parsing is in http_request.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "http_request.h"
#include "zcopy.h"

#define IN_CAP 8192           /* the largest request head (request line and headers) */
#define OUT_CAP 512           /* response headers (and the short bodies of error responses) */
#define EVENTS 256            /* events taken per select */
#define FILE_CACHE 64         /* open files kept per loop */
#define IDLE_TIMEOUT_S 60     /* keep-alive connections idle this long are closed */
#define LINGER_TIMEOUT_S 5    /* how long a closing connection waits for the client to close */
#define LISTENER_TOKEN 0      /* connection i of a loop has token (generation << 32) | (i + 1) */

/* ---- files -------------------------------------------------------------------------------- */

/* An open file, shared by the cache and the responses that send from it (single-threaded:
 * each loop has its own). */
struct file {
    int fd;
    int refs;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    char path[]; /* relative to the root, normalised */
};

static void file_release(struct file *f) {
    if (f && --f->refs == 0) {
        close(f->fd);
        free(f);
    }
}

static bool file_matches(const struct file *f, const struct stat *st) {
    return f->dev == st->st_dev && f->ino == st->st_ino && f->size == st->st_size &&
           f->mtime.tv_sec == st->st_mtim.tv_sec && f->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* ---- connections -------------------------------------------------------------------------- */

struct conn {
    int sock;
    uint32_t generation;    /* in the token, so that an event for a closed slot is recognised */
    bool open;
    bool readable;          /* an edge said so and no read has drained the socket since */
    bool peer_closed;       /* the peer shut down its side: read until 0 */
    bool keep_alive;        /* after the current response */
    bool lingering;         /* response sent, our side shut down: reading until the peer closes */
    time_t last_active;
    /* The request bytes received and not yet handled, in[in_start, in_len) (pipelined requests
     * queue here). */
    char in[IN_CAP];
    size_t in_start, in_len;
    size_t discard;         /* bytes of a request body still to skip */
    /* The response being sent: head (out), then body from file[pos, end). */
    bool responding;
    char out[OUT_CAP];
    size_t out_len, out_sent;
    struct file *file;
    int64_t pos, end;
    int free_next;          /* free list */
};

struct loop {
    pthread_t thread;
    zc_selector *sel;
    int listener;
    int root;               /* O_PATH descriptor of the root directory */
    struct conn **conns;    /* conns[0, conns_used) are allocated */
    int conns_used, conns_cap;
    int free_head;          /* -1: none */
    int live;
    struct file *cache[FILE_CACHE];
    time_t now;             /* monotonic seconds, updated after each select */
    time_t last_sweep;
    char date[64];          /* "Date: ...\r\n" for the current second */
    time_t date_for;
    /* statistics, printed at exit */
    unsigned long long requests, body_bytes, connections;
};

static const char *root_real;   /* realpath of --root */
static size_t root_real_len;
static atomic_bool stopping;
static atomic_bool no_openat2; /* set once openat2 turned out unavailable */

/* Tuning switches, for measuring what each choice is worth (make bench-c-http). */
static int opt_cache = FILE_CACHE; /* files kept open per loop; 0: open, fstat, close per request */
static bool opt_shared_listener;   /* one listener in every loop's selector with EPOLLEXCLUSIVE */
static bool opt_no_more;           /* header with a plain send, not MSG_MORE before the body */
static bool opt_no_nodelay;        /* leave Nagle's algorithm on */

static void fail(const char *what, zc_result rc) {
    char msg[256];
    size_t n = 0;
    if (zc_last_error_message(msg, sizeof msg, &n) != ZC_OK) msg[0] = 0;
    fprintf(stderr, "zc-http-server: %s: %s (%s)\n", what, zc_result_str(rc), msg);
}

static time_t monotonic_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return ts.tv_sec;
}

/* ---- opening files safely ----------------------------------------------------------------- */

/* Opens `rel` (normalised, no ".." segments) under the root so that no symbolic link leads out
 * of it. Returns the descriptor, or -1 with errno set. */
static int open_beneath(int root, const char *rel) {
    if (!atomic_load_explicit(&no_openat2, memory_order_relaxed)) {
        struct open_how how;
        memset(&how, 0, sizeof how);
        /* O_NONBLOCK: opening a FIFO someone put under the root must not block the loop. */
        how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        int fd = (int)syscall(SYS_openat2, root, rel, &how, sizeof how);
        if (fd >= 0) return fd;
        if (errno == ENOSYS || errno == EPERM) {
            /* an old kernel or a seccomp filter: realpath from now on */
            atomic_store_explicit(&no_openat2, true, memory_order_relaxed);
        } else if (errno != EXDEV && errno != ELOOP) {
            return -1; /* ENOENT, EACCES, ...: the answer */
        }
        /* EXDEV/ELOOP: an absolute symbolic link, or one leading out: realpath decides. */
    }
    char joined[PATH_MAX], real[PATH_MAX];
    if ((size_t)snprintf(joined, sizeof joined, "%s/%s", root_real, rel) >= sizeof joined) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (!realpath(joined, real)) return -1;
    if (strncmp(real, root_real, root_real_len) != 0 || real[root_real_len] != '/') {
        errno = EACCES; /* outside the root */
        return -1;
    }
    /* The real path holds no links; O_NOFOLLOW refuses one swapped in for the last part since. */
    return open(real, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
}

static unsigned path_hash(const char *s) {
    unsigned h = 2166136261u; /* FNV-1a */
    while (*s) h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

/* The open regular file at `rel`, from the cache when stat() says it is still the same file.
 * The caller owns one reference. NULL with errno set when there is none. */
static struct file *file_get(struct loop *lp, const char *rel) {
    unsigned slot = opt_cache ? path_hash(rel) % (unsigned)opt_cache : 0;
    struct file *cached = lp->cache[slot];
    struct stat st;
    if (cached && strcmp(cached->path, rel) == 0) {
        if (fstatat(lp->root, rel, &st, 0) == 0 && file_matches(cached, &st)) {
            cached->refs++;
            return cached;
        }
        lp->cache[slot] = NULL; /* changed or gone: open it again */
        file_release(cached);
    }
    int fd = open_beneath(lp->root, rel);
    if (fd < 0) return NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        errno = EISDIR;
        return NULL;
    }
    size_t len = strlen(rel);
    struct file *f = malloc(sizeof *f + len + 1);
    if (!f) {
        close(fd);
        errno = ENOMEM;
        return NULL;
    }
    f->fd = fd;
    f->refs = 1; /* the caller's */
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->size = st.st_size;
    f->mtime = st.st_mtim;
    memcpy(f->path, rel, len + 1);
    if (opt_cache) {
        file_release(lp->cache[slot]);
        lp->cache[slot] = f;
        f->refs++; /* the cache's */
    }
    return f;
}

/* ---- responses ------------------------------------------------------------------------- */

static const char *date_header(struct loop *lp) {
    time_t t = time(NULL);
    if (t != lp->date_for) {
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(lp->date, sizeof lp->date, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        lp->date_for = t;
    }
    return lp->date;
}

/* The Connection header a response needs, if any. */
static const char *connection_header(const struct conn *c, bool http10) {
    if (!c->keep_alive) return "Connection: close\r\n";
    return http10 ? "Connection: keep-alive\r\n" : "";
}

/* Sets up an error response with a short text body; `extra` holds further header lines. A reply
 * to HEAD has no body, whatever its status (RFC 9110 §9.3.2): a keep-alive client reads the next
 * response right after the headers. Its Content-Length is that of the body a GET would get. */
static void respond_error(struct loop *lp, struct conn *c, int status, bool http10, bool head, const char *extra) {
    if (status == 400 || status == 505) c->keep_alive = false; /* the stream cannot be trusted */
    const char *why = http_reason(status);
    char body[64];
    int body_len = snprintf(body, sizeof body, "%d %s\n", status, why);
    c->out_len = (size_t)snprintf(c->out, sizeof c->out,
                                  "HTTP/1.1 %d %s\r\nServer: zcopy\r\n%sContent-Type: text/plain\r\n"
                                  "Content-Length: %d\r\n%s%s\r\n%s",
                                  status, why, date_header(lp), body_len, extra, connection_header(c, http10),
                                  head ? "" : body);
    c->out_sent = 0;
    c->file = NULL;
    c->pos = c->end = 0;
    c->responding = true;
}

/* Parses one request from the front of c->in if its head is complete, and sets up the response.
 * Returns true when a request was taken, false when more bytes are needed. */
static bool take_request(struct loop *lp, struct conn *c) {
    if (c->discard) { /* the body of the previous request: skipped */
        size_t n = c->discard < c->in_len - c->in_start ? c->discard : c->in_len - c->in_start;
        c->in_start += n;
        c->discard -= n;
        if (c->discard) return false;
    }
    c->in_start += http_blank_lines(c->in + c->in_start, c->in_len - c->in_start);
    const char *head = c->in + c->in_start;
    bool is_head = http_is_head(head, c->in_len - c->in_start);
    size_t head_len = http_head_length(head, c->in_len - c->in_start);
    if (!head_len) {
        if (c->in_start == 0 && c->in_len == IN_CAP) { /* a head larger than we take */
            c->in_start = c->in_len = 0;
            respond_error(lp, c, 400, false, is_head, "");
            return true;
        }
        return false;
    }
    lp->requests++;
    struct http_request req;
    http_parse_head(head, head_len, &req);
    c->keep_alive = req.keep_alive;
    /* The head is taken (its bytes stay in place until the next read); a body the request
     * announced is skipped. */
    c->in_start += head_len;
    if (req.status) {
        respond_error(lp, c, req.status, req.http10, is_head, "");
        return true;
    }
    c->discard = (size_t)req.content_length;
    if (!is_head && !(req.method_len == 3 && memcmp(req.method, "GET", 3) == 0)) {
        respond_error(lp, c, 405, req.http10, false, "Allow: GET, HEAD\r\n");
        return true;
    }
    char rel[PATH_MAX];
    int status = http_target_to_path(req.target, req.target_len, rel, sizeof rel);
    struct file *f = status == 200 ? file_get(lp, rel) : NULL;
    if (!f) {
        /* Out of descriptors or memory is the server's trouble, not a missing file. */
        if (status == 200) status = errno == EMFILE || errno == ENFILE || errno == ENOMEM ? 503 : 404;
        respond_error(lp, c, status, req.http10, is_head, "");
        return true;
    }
    int64_t size = f->size, first = 0, last = size - 1;
    enum http_range rr = req.range ? http_parse_range(req.range, req.range_len, size, &first, &last)
                                   : HTTP_RANGE_NONE;
    if (rr == HTTP_RANGE_UNSATISFIABLE) {
        file_release(f);
        char unsatisfied[64]; /* the size the client may ask within */
        snprintf(unsatisfied, sizeof unsatisfied, "Content-Range: bytes */%lld\r\n", (long long)size);
        respond_error(lp, c, 416, req.http10, is_head, unsatisfied);
        return true;
    }
    int64_t len = rr == HTTP_RANGE_OK ? last - first + 1 : size;
    char crange[96] = "";
    if (rr == HTTP_RANGE_OK)
        snprintf(crange, sizeof crange, "Content-Range: bytes %lld-%lld/%lld\r\n", (long long)first,
                 (long long)last, (long long)size);
    c->out_len = (size_t)snprintf(c->out, sizeof c->out,
                                  "HTTP/1.1 %s\r\nServer: zcopy\r\n%sContent-Type: application/octet-stream\r\n"
                                  "Content-Length: %lld\r\n%sAccept-Ranges: bytes\r\n%s\r\n",
                                  rr == HTTP_RANGE_OK ? "206 Partial Content" : "200 OK", date_header(lp),
                                  (long long)len, crange, connection_header(c, req.http10));
    c->out_sent = 0;
    c->responding = true;
    if (is_head || len == 0) {
        file_release(f);
        c->file = NULL;
        c->pos = c->end = 0;
    } else {
        c->file = f;
        c->pos = first;
        c->end = first + len;
    }
    return true;
}

/* ---- sending ------------------------------------------------------------------------------ */

enum progress { DONE, BLOCKED, BROKEN };

static bool peer_gone(void) {
    int e = zc_last_errno();
    return e == EPIPE || e == ECONNRESET || e == ENOTCONN;
}

/* Sends as much of the response as the socket takes. */
static enum progress send_response(struct loop *lp, struct conn *c) {
    while (c->out_sent < c->out_len) {
        if (c->file && !opt_no_more) {
            /* Header with MSG_MORE, then the body right behind it: one segment for small files. */
            size_t sent = 0;
            zc_transfer body;
            zc_result rc = zc_transfer_to_with_header(c->file->fd, c->pos, c->end - c->pos, c->sock,
                                                      (const uint8_t *)c->out + c->out_sent,
                                                      c->out_len - c->out_sent, &sent, &body);
            if (rc != ZC_OK) {
                if (!peer_gone()) fail("send", rc);
                return BROKEN;
            }
            c->out_sent += sent;
            c->pos += (int64_t)body.bytes;
            lp->body_bytes += body.bytes;
            if (body.would_block) return BLOCKED;
            if (body.bytes == 0 && c->pos < c->end) return BROKEN; /* the file shrank */
        } else {
            ssize_t n = send(c->sock, c->out + c->out_sent, c->out_len - c->out_sent, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR) continue;
                return errno == EAGAIN ? BLOCKED : BROKEN;
            }
            c->out_sent += (size_t)n;
        }
    }
    while (c->file && c->pos < c->end) {
        zc_transfer t;
        zc_result rc = zc_transfer_to(c->file->fd, c->pos, c->end - c->pos, c->sock, &t);
        if (rc != ZC_OK) {
            if (!peer_gone()) fail("transfer", rc);
            return BROKEN;
        }
        c->pos += (int64_t)t.bytes;
        lp->body_bytes += t.bytes;
        if (t.would_block) return BLOCKED;
        if (t.bytes == 0) return BROKEN; /* the file shrank under the response */
    }
    return DONE;
}

/* ---- the event loop ----------------------------------------------------------------------- */

static void conn_close(struct loop *lp, int idx) {
    struct conn *c = lp->conns[idx];
    /* No deregister: closing the only descriptor of the socket removes it from epoll. */
    close(c->sock);
    file_release(c->file);
    c->file = NULL;
    c->open = false;
    c->generation++;
    c->free_next = lp->free_head;
    lp->free_head = idx;
    lp->live--;
}

/* Ends a connection after its last response: shuts down our side (the client sees the end of
 * the response), then reads and drops what the client still sends until it closes, so that
 * closing with unread bytes does not reset the connection and destroy the response in flight
 * (nginx's lingering close). The idle sweep ends a client that never closes. */
static void conn_linger(struct loop *lp, int idx) {
    struct conn *c = lp->conns[idx];
    if (!c->lingering) {
        c->lingering = true;
        c->readable = true;
        if (shutdown(c->sock, SHUT_WR) != 0) {
            conn_close(lp, idx);
            return;
        }
    }
    char sink[4096];
    for (;;) {
        ssize_t n = recv(c->sock, sink, sizeof sink, 0);
        if (n > 0) continue;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return; /* the next edge continues */
        conn_close(lp, idx);
        return;
    }
}

/* Serves a connection as far as it goes without blocking: responses in order, reading more
 * requests when the current one is answered. */
static void conn_drive(struct loop *lp, int idx) {
    struct conn *c = lp->conns[idx];
    c->last_active = lp->now;
    if (c->lingering) {
        conn_linger(lp, idx);
        return;
    }
    for (;;) {
        if (c->responding) {
            enum progress p = send_response(lp, c);
            if (p == BLOCKED) return; /* the next writable edge continues */
            if (p == BROKEN) {
                conn_close(lp, idx);
                return;
            }
            c->responding = false;
            file_release(c->file);
            c->file = NULL;
            if (!c->keep_alive) {
                conn_linger(lp, idx);
                return;
            }
            continue;
        }
        if (take_request(lp, c)) continue;
        if (!c->readable) return;
        if (c->in_start == c->in_len) {
            c->in_start = c->in_len = 0;
        } else if (c->in_start > 0) { /* a partial request: move it to the front */
            memmove(c->in, c->in + c->in_start, c->in_len - c->in_start);
            c->in_len -= c->in_start;
            c->in_start = 0;
        }
        size_t room = IN_CAP - c->in_len;
        ssize_t n = recv(c->sock, c->in + c->in_len, room, 0);
        if (n > 0) {
            c->in_len += (size_t)n;
            /* A short read emptied the socket: any later byte raises a new edge. Unless the peer
             * shut down, whose end of file still has to be read. */
            if ((size_t)n < room && !c->peer_closed) c->readable = false;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) {
            c->readable = false;
            return;
        }
        conn_close(lp, idx); /* end of file between requests, or an error */
        return;
    }
}

/* A free connection slot: a closed one, or a new one (allocated on first use). -1 when out of
 * memory. */
static int conn_slot(struct loop *lp) {
    if (lp->free_head >= 0) {
        int idx = lp->free_head;
        lp->free_head = lp->conns[idx]->free_next;
        return idx;
    }
    if (lp->conns_used == lp->conns_cap) {
        if (lp->conns_cap >= INT32_MAX / 2) return -1;
        int cap = lp->conns_cap ? lp->conns_cap * 2 : 64;
        struct conn **grown = realloc(lp->conns, (size_t)cap * sizeof *grown);
        if (!grown) return -1;
        lp->conns = grown;
        lp->conns_cap = cap;
    }
    struct conn *c = calloc(1, sizeof *c);
    if (!c) return -1;
    lp->conns[lp->conns_used] = c;
    return lp->conns_used++;
}

static void accept_all(struct loop *lp) {
    for (;;) {
        int s = accept4(lp->listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (s < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            return; /* EAGAIN: none left; EMFILE and friends: the next event tries again */
        }
        int one = 1;
        if (!opt_no_nodelay) setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        int idx = conn_slot(lp);
        if (idx < 0) {
            close(s); /* out of memory: shed the connection */
            continue;
        }
        struct conn *c = lp->conns[idx];
        c->sock = s;
        c->open = true;
        c->readable = false;
        c->peer_closed = false;
        c->responding = false;
        c->lingering = false;
        c->in_start = c->in_len = c->discard = 0;
        c->file = NULL;
        c->last_active = lp->now;
        lp->live++;
        lp->connections++;
        uint64_t token = ((uint64_t)c->generation << 32) | (uint64_t)(idx + 1);
        /* Registered once, for both directions, edge-triggered: no epoll_ctl per request. */
        zc_result rc = zc_selector_register(lp->sel, s, token, ZC_INTEREST_READABLE | ZC_INTEREST_WRITABLE,
                                            ZC_MODE_EDGE);
        if (rc != ZC_OK) {
            fail("register", rc);
            conn_close(lp, idx);
        }
    }
}

/* Closes keep-alive connections idle for IDLE_TIMEOUT_S, lingering ones after LINGER_TIMEOUT_S. */
static void sweep_idle(struct loop *lp) {
    for (int i = 0; i < lp->conns_used; i++) {
        struct conn *c = lp->conns[i];
        if (c->open && lp->now - c->last_active > (c->lingering ? LINGER_TIMEOUT_S : IDLE_TIMEOUT_S))
            conn_close(lp, i);
    }
}

static void *loop_run(void *arg) {
    struct loop *lp = arg;
    zc_event events[EVENTS];
    while (!atomic_load_explicit(&stopping, memory_order_relaxed)) {
        size_t n = 0;
        zc_result rc = zc_selector_select(lp->sel, events, EVENTS, 1000, &n);
        if (rc != ZC_OK) {
            fail("select", rc);
            break;
        }
        lp->now = monotonic_seconds();
        for (size_t i = 0; i < n; i++) {
            const zc_event *ev = &events[i];
            if (ev->token == LISTENER_TOKEN) {
                accept_all(lp);
                continue;
            }
            int idx = (int)(ev->token & 0xffffffffu) - 1;
            if (idx < 0 || idx >= lp->conns_used) continue;
            struct conn *c = lp->conns[idx];
            if (!c->open || c->generation != (uint32_t)(ev->token >> 32)) continue; /* closed since */
            if (ev->flags & ZC_EVENT_ERROR) {
                conn_close(lp, idx);
                continue;
            }
            if (ev->flags & (ZC_EVENT_READABLE | ZC_EVENT_READ_CLOSED)) c->readable = true;
            if (ev->flags & ZC_EVENT_READ_CLOSED) c->peer_closed = true;
            conn_drive(lp, idx);
        }
        if (lp->now != lp->last_sweep) {
            lp->last_sweep = lp->now;
            sweep_idle(lp);
        }
    }
    for (int i = 0; i < lp->conns_used; i++)
        if (lp->conns[i]->open) conn_close(lp, i);
    return NULL;
}

/* ---- start-up and shut-down --------------------------------------------------------------- */

static int listen_on(const char *addr, int port) {
    int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (l < 0) return -1;
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    /* One listener per loop on the same port: the kernel balances new connections over them. */
    if (!opt_shared_listener) setsockopt(l, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, addr, &a.sin_addr) != 1) {
        fprintf(stderr, "zc-http-server: not an IPv4 address: %s\n", addr);
        exit(2);
    }
    if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 4096)) {
        close(l);
        return -1;
    }
    return l;
}

static int bound_port(int l) {
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    return getsockname(l, (struct sockaddr *)&a, &len) == 0 ? ntohs(a.sin_port) : -1;
}

static void usage(const char *argv0) {
    fprintf(stderr,
            "usage: %s --root DIR --port PORT [--threads N] [--addr IPV4]\n"
            "       tuning: [--cache 0..%d] [--accept reuseport|shared] [--header more|send] [--nodelay on|off]\n",
            argv0, FILE_CACHE);
    exit(2);
}

int main(int argc, char **argv) {
    const char *root = NULL, *addr = "127.0.0.1";
    long port = -1, threads = sysconf(_SC_NPROCESSORS_ONLN);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) usage(argv[0]);
        char *endp = NULL;
        if (strcmp(a, "--root") == 0) {
            root = argv[++i];
        } else if (strcmp(a, "--addr") == 0) {
            addr = argv[++i];
        } else if (strcmp(a, "--port") == 0) {
            port = strtol(argv[++i], &endp, 10);
            if (*endp || port < 0 || port > 65535) usage(argv[0]);
        } else if (strcmp(a, "--threads") == 0) {
            threads = strtol(argv[++i], &endp, 10);
            if (*endp || threads < 1 || threads > 1024) usage(argv[0]);
        } else if (strcmp(a, "--cache") == 0) {
            long n = strtol(argv[++i], &endp, 10);
            if (*endp || n < 0 || n > FILE_CACHE) usage(argv[0]);
            opt_cache = (int)n;
        } else if (strcmp(a, "--accept") == 0) {
            const char *v = argv[++i];
            if (strcmp(v, "shared") == 0) opt_shared_listener = true;
            else if (strcmp(v, "reuseport") != 0) usage(argv[0]);
        } else if (strcmp(a, "--header") == 0) {
            const char *v = argv[++i];
            if (strcmp(v, "send") == 0) opt_no_more = true;
            else if (strcmp(v, "more") != 0) usage(argv[0]);
        } else if (strcmp(a, "--nodelay") == 0) {
            const char *v = argv[++i];
            if (strcmp(v, "off") == 0) opt_no_nodelay = true;
            else if (strcmp(v, "on") != 0) usage(argv[0]);
        } else {
            usage(argv[0]);
        }
    }
    if (!root || port < 0) usage(argv[0]);
    if (threads < 1) threads = 1;
    char *real = realpath(root, NULL);
    struct stat st;
    if (!real || stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "zc-http-server: %s is not a directory\n", root);
        return 2;
    }
    root_real = real;
    root_real_len = strlen(real);
    if (root_real_len == 1) root_real_len = 0; /* "/": every real path starts with it */

    /* A server ignores SIGPIPE (zcopy reports EPIPE either way, and skips its SIGPIPE shield
     * when the signal is ignored). SIGINT and SIGTERM are blocked in every thread and taken
     * by sigwait in this one. */
    signal(SIGPIPE, SIG_IGN);
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

    struct loop *loops = calloc((size_t)threads, sizeof *loops);
    if (!loops) return 1;
    for (long i = 0; i < threads; i++) {
        struct loop *lp = &loops[i];
        lp->free_head = -1;
        lp->root = open(real, O_PATH | O_DIRECTORY | O_CLOEXEC);
        lp->listener = i > 0 && opt_shared_listener ? loops[0].listener : listen_on(addr, (int)port);
        if (lp->root < 0 || lp->listener < 0) {
            fprintf(stderr, "zc-http-server: listen on %s:%ld: %s\n", addr, port, strerror(errno));
            return 1;
        }
        if (port == 0) port = bound_port(lp->listener); /* the others join the port the first got */
        zc_result rc = zc_selector_new(&lp->sel);
        /* Shared: every loop watches the one listener, and EPOLLEXCLUSIVE wakes one of them. */
        if (rc == ZC_OK)
            rc = zc_selector_register(lp->sel, lp->listener, LISTENER_TOKEN, ZC_INTEREST_READABLE,
                                      opt_shared_listener ? ZC_MODE_EXCLUSIVE : ZC_MODE_LEVEL);
        if (rc != ZC_OK) {
            fail("selector", rc);
            return 1;
        }
        lp->now = lp->last_sweep = monotonic_seconds();
    }
    for (long i = 0; i < threads; i++) {
        if (pthread_create(&loops[i].thread, NULL, loop_run, &loops[i]) != 0) {
            fprintf(stderr, "zc-http-server: cannot start thread %ld\n", i);
            return 1;
        }
    }
    printf("listening on %s:%ld\n", addr, port);
    fflush(stdout);

    int sig = 0;
    while (sigwait(&stop_signals, &sig) != 0) {
    }
    atomic_store(&stopping, true);
    unsigned long long requests = 0, bytes = 0, connections = 0;
    char per_loop[256] = "";
    size_t used = 0;
    for (long i = 0; i < threads; i++) (void)zc_selector_wake(loops[i].sel);
    for (long i = 0; i < threads; i++) {
        struct loop *lp = &loops[i];
        pthread_join(lp->thread, NULL);
        requests += lp->requests;
        bytes += lp->body_bytes;
        connections += lp->connections;
        if (used < sizeof per_loop)
            used += (size_t)snprintf(per_loop + used, sizeof per_loop - used, "%s%llu", i ? "+" : "", lp->requests);
        if (i == 0 || !opt_shared_listener) close(lp->listener);
        (void)zc_selector_free(lp->sel);
        for (int f = 0; f < FILE_CACHE; f++) file_release(lp->cache[f]);
        for (int c = 0; c < lp->conns_used; c++) free(lp->conns[c]);
        free(lp->conns);
        close(lp->root);
    }
    free(loops);
    fprintf(stderr,
            "zc-http-server: stopped by signal %d after %llu connections, %llu requests (per loop: %s), "
            "%llu body bytes\n",
            sig, connections, requests, per_loop, bytes);
    free(real);
    return 0;
}
