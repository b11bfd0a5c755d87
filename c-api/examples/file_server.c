/*
 * file_server: a zero-copy file server in one file, to copy from.
 *
 *   file_server [-a ADDR] [-p PORT] [-r ROOT] [-n MAX_CONNECTIONS]
 *
 * Serves the files under ROOT (default: the current directory) on ADDR:PORT (default
 * 127.0.0.1:0, any free port; the chosen one is printed as "listening on ADDR:PORT"). One request per
 * connection, in a deliberately HTTP-shaped protocol:
 *
 *   request:   GET /NAME\n            (up to 1 KiB)
 *   response:  ZC/1 200 SIZE\n  then SIZE bytes of the file
 *              ZC/1 404 0\n     when NAME does not name a regular file under ROOT
 *              ZC/1 400 0\n     for anything else
 *
 * The shape is the reactor pattern: non-blocking sockets, one zcopy selector, and one small state
 * machine per connection (READ_REQUEST -> SEND_RESPONSE -> done). The response goes out with
 * zc_transfer_to_with_header (the header with MSG_MORE, so header and first body bytes share a
 * TCP segment), then zc_transfer_to from the file's position, sendfile under the hood, until the
 * socket would block; the selector says when to continue. Many clients are served at once by one
 * thread. Speaking HTTP/1.1 instead means replacing parse_request() and the header format.
 *
 * Stop it with SIGINT/SIGTERM, or let it exit after MAX_CONNECTIONS connections.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zcopy.h"

#define MAX_CONNS 4096
#define LISTENER_TOKEN 0 /* connection i has token i + 1 */

enum state { FREE, READ_REQUEST, SEND_RESPONSE };

struct conn {
    enum state state;
    int sock;
    char request[1024];
    size_t request_len;
    char header[64];
    size_t header_len, header_sent;
    int file;             /* the file being sent, or -1 */
    int64_t position;     /* next byte of the file to send */
    int64_t end;          /* the file's size */
};

static struct conn conns[MAX_CONNS];
static volatile sig_atomic_t stopping;
static long served_bytes, connections_done;

static void on_signal(int sig) {
    (void)sig;
    stopping = 1;
}

static void fail(const char *what, zc_result rc) {
    char msg[256];
    size_t n = 0;
    if (zc_last_error_message(msg, sizeof msg, &n) != ZC_OK) msg[0] = 0;
    fprintf(stderr, "file_server: %s: %s (%s)\n", what, zc_result_str(rc), msg);
}

static void close_conn(zc_selector *sel, struct conn *c) {
    /* Deregister before close: epoll watches the open file description, not the number. */
    (void)zc_selector_deregister(sel, c->sock);
    close(c->sock);
    if (c->file >= 0) close(c->file);
    c->state = FREE;
    connections_done++;
}

/* Turns "GET /NAME\n" into an open file and the response header. */
static void parse_request(const char *root, struct conn *c) {
    int status = 400;
    int64_t size = 0;
    c->file = -1;
    char *line_end = memchr(c->request, '\n', c->request_len);
    if (line_end && c->request_len > 5 && memcmp(c->request, "GET /", 5) == 0) {
        *line_end = 0;
        const char *name = c->request + 5;
        status = 404;
        if (*name && !strstr(name, "..")) {
            char path[2048];
            snprintf(path, sizeof path, "%s/%s", root, name);
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            struct stat st;
            if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
                c->file = fd;
                size = st.st_size;
                status = 200;
            } else if (fd >= 0) {
                close(fd);
            }
        }
    }
    c->header_len = (size_t)snprintf(c->header, sizeof c->header, "ZC/1 %d %lld\n", status, (long long)size);
    c->header_sent = 0;
    c->position = 0;
    c->end = size;
}

/* Reads what has arrived; returns 1 when the request line is complete. */
static int read_request(struct conn *c) {
    for (;;) {
        ssize_t n = read(c->sock, c->request + c->request_len, sizeof c->request - c->request_len - 1);
        if (n > 0) {
            c->request_len += (size_t)n;
            if (memchr(c->request, '\n', c->request_len) || c->request_len == sizeof c->request - 1) return 1;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return 0;
        return -1; /* EOF before a request, or an error */
    }
}

/* Sends as much of the response as the socket takes. 1: done, 0: would block, -1: failed. */
static int send_response(struct conn *c) {
    while (c->header_sent < c->header_len) {
        /* Without a file (an error status) the body count is 0 and no source is read: the
         * socket stands in as a valid descriptor. */
        size_t sent = 0;
        zc_transfer body;
        zc_result rc = zc_transfer_to_with_header(c->file >= 0 ? c->file : c->sock, c->position,
                                                  c->file >= 0 ? c->end - c->position : 0, c->sock,
                                                  (const uint8_t *)c->header + c->header_sent,
                                                  c->header_len - c->header_sent, &sent, &body);
        if (rc != ZC_OK) {
            fail("send header", rc);
            return -1;
        }
        c->header_sent += sent;
        c->position += (int64_t)body.bytes;
        served_bytes += (long)body.bytes;
        if (body.would_block) return 0;
    }
    while (c->file >= 0 && c->position < c->end) {
        zc_transfer t;
        zc_result rc = zc_transfer_to(c->file, c->position, c->end - c->position, c->sock, &t);
        if (rc != ZC_OK) {
            /* A client that went away (EPIPE/ECONNRESET) is an error for this connection only. */
            if (zc_last_errno() != EPIPE && zc_last_errno() != ECONNRESET) fail("transfer", rc);
            return -1;
        }
        c->position += (int64_t)t.bytes;
        served_bytes += (long)t.bytes;
        if (t.would_block) return 0;
        if (t.bytes == 0) return -1; /* the file shrank under us */
    }
    return 1;
}

static int listen_on(const char *addr, int port) {
    int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    socklen_t len = sizeof a;
    if (inet_pton(AF_INET, addr, &a.sin_addr) != 1) {
        fprintf(stderr, "file_server: not an IPv4 address: %s\n", addr);
        exit(2);
    }
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1024) ||
        getsockname(l, (struct sockaddr *)&a, &len)) {
        perror("file_server: listen");
        exit(1);
    }
    printf("listening on %s:%d\n", addr, ntohs(a.sin_port));
    fflush(stdout);
    return l;
}

static void accept_all(zc_selector *sel, int listener) {
    for (;;) {
        int s = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (s < 0) return; /* EAGAIN: no more pending; other errors: try again on the next event */
        int slot = -1;
        for (int i = 0; i < MAX_CONNS && slot < 0; i++)
            if (conns[i].state == FREE) slot = i;
        if (slot < 0) {
            close(s); /* full: shed the connection */
            continue;
        }
        struct conn *c = &conns[slot];
        memset(c, 0, sizeof *c);
        c->sock = s;
        c->file = -1;
        c->state = READ_REQUEST;
        zc_result rc = zc_selector_register(sel, s, (uint64_t)slot + 1, ZC_INTEREST_READABLE, ZC_MODE_EDGE);
        if (rc != ZC_OK) {
            fail("register", rc);
            close(s);
            c->state = FREE;
        }
    }
}

static void on_event(zc_selector *sel, const char *root, struct conn *c, const zc_event *ev) {
    if (c->state == READ_REQUEST) {
        int r = read_request(c);
        if (r < 0) {
            close_conn(sel, c);
            return;
        }
        if (r == 0) return;
        parse_request(root, c);
        c->state = SEND_RESPONSE;
        /* Edge-triggered writable: reported now (the socket has room) and whenever it drains. */
        zc_result rc = zc_selector_modify(sel, c->sock, ev->token, ZC_INTEREST_WRITABLE, ZC_MODE_EDGE);
        if (rc != ZC_OK) {
            fail("modify", rc);
            close_conn(sel, c);
        }
        return;
    }
    if (c->state == SEND_RESPONSE) {
        if (ev->flags & ZC_EVENT_WRITE_CLOSED) {
            close_conn(sel, c);
            return;
        }
        int r = send_response(c);
        if (r != 0) close_conn(sel, c);
    }
}

int main(int argc, char **argv) {
    int port = 0;
    long max_connections = -1;
    const char *root = ".", *addr = "127.0.0.1";
    int opt;
    while ((opt = getopt(argc, argv, "a:p:r:n:")) != -1) {
        if (opt == 'a') addr = optarg;
        else if (opt == 'p') port = atoi(optarg);
        else if (opt == 'r') root = optarg;
        else if (opt == 'n') max_connections = atol(optarg);
        else {
            fprintf(stderr, "usage: %s [-a ADDR] [-p PORT] [-r ROOT] [-n MAX_CONNECTIONS]\n", argv[0]);
            return 2;
        }
    }
    /* A server ignores SIGPIPE; zcopy would report EPIPE either way. */
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    zc_selector *sel = NULL;
    zc_result rc = zc_selector_new(&sel);
    if (rc != ZC_OK) {
        fail("selector", rc);
        return 1;
    }
    int listener = listen_on(addr, port);
    rc = zc_selector_register(sel, listener, LISTENER_TOKEN, ZC_INTEREST_READABLE, ZC_MODE_LEVEL);
    if (rc != ZC_OK) {
        fail("register listener", rc);
        return 1;
    }
    zc_event events[256];
    while (!stopping && (max_connections < 0 || connections_done < max_connections)) {
        size_t n = 0;
        /* A timeout so that a signal's flag is seen even without traffic (select retries EINTR). */
        rc = zc_selector_select(sel, events, 256, 200, &n);
        if (rc != ZC_OK) {
            fail("select", rc);
            break;
        }
        for (size_t i = 0; i < n; i++) {
            if (events[i].token == LISTENER_TOKEN) accept_all(sel, listener);
            else on_event(sel, root, &conns[events[i].token - 1], &events[i]);
        }
    }
    for (int i = 0; i < MAX_CONNS; i++)
        if (conns[i].state != FREE) close_conn(sel, &conns[i]);
    close(listener);
    (void)zc_selector_free(sel);
    fprintf(stderr, "file_server: %ld connections, %ld body bytes sent\n", connections_done, served_bytes);
    return 0;
}
