/*
 * file_client: fetches one file over HTTP/1.1 (from zc-http-server, or any web server) with
 * several concurrent connections and checks every byte against the local copy, which it maps
 * with zcopy (no copy of the expected bytes).
 *
 *   file_client PORT NAME CLIENTS EXPECTED_FILE [HOST]
 *
 * HOST is an IPv4 address (default 127.0.0.1). Prints one line per client and a total; exits 0
 * only when every client received the whole file, byte for byte.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "zcopy.h"

static int port;
static const char *host = "127.0.0.1";
static const char *name;
static const uint8_t *expected;
static size_t expected_len;

struct client {
    pthread_t thread;
    int id;
    uint64_t received;
    int verified;
    double seconds;
    char error[128];
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *fetch(void *arg) {
    struct client *c = (struct client *)arg;
    double start = now();
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, host, &a.sin_addr);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a)) {
        snprintf(c->error, sizeof c->error, "connect: %s", strerror(errno));
        return NULL;
    }
    char request[512];
    int len = snprintf(request, sizeof request, "GET /%s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n",
                       name, host, port);
    if (write(s, request, (size_t)len) != len) {
        snprintf(c->error, sizeof c->error, "write: %s", strerror(errno));
        close(s);
        return NULL;
    }
    /* The response head, byte by byte (it is short), up to the blank line; then the body in
     * large reads. */
    char head[2048];
    size_t h = 0;
    while (h < sizeof head - 1 && read(s, head + h, 1) == 1) {
        h++;
        if (h >= 4 && memcmp(head + h - 4, "\r\n\r\n", 4) == 0) break;
    }
    head[h] = 0;
    int status = 0;
    long long size = -1;
    const char *cl = strcasestr(head, "\r\ncontent-length:");
    if (sscanf(head, "HTTP/1.%*d %d", &status) != 1 || !cl || sscanf(cl + 17, "%lld", &size) != 1 ||
        status != 200 || size != (long long)expected_len) {
        char *eol = strstr(head, "\r\n");
        if (eol) *eol = 0;
        snprintf(c->error, sizeof c->error, "bad response '%.60s' (Content-Length %lld)", head, size);
        close(s);
        return NULL;
    }
    enum { BUF = 1 << 18 };
    uint8_t *buf = malloc(BUF);
    int same = buf != NULL;
    while (buf) {
        ssize_t n = read(s, buf, BUF);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (c->received + (uint64_t)n > expected_len ||
            memcmp(buf, expected + c->received, (size_t)n) != 0)
            same = 0;
        c->received += (uint64_t)n;
    }
    free(buf);
    close(s);
    c->seconds = now() - start;
    c->verified = same && c->received == expected_len;
    if (!c->verified) snprintf(c->error, sizeof c->error, "bytes differ or missing");
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: %s PORT NAME CLIENTS EXPECTED_FILE [HOST]\n", argv[0]);
        return 2;
    }
    if (argc == 6) host = argv[5];
    port = atoi(argv[1]);
    name = argv[2];
    int clients = atoi(argv[3]);
    int fd = open(argv[4], O_RDONLY | O_CLOEXEC);
    zc_region *region = NULL;
    zc_result rc = fd < 0 ? ZC_ERR_CLOSED : zc_region_map_to_end(fd, ZC_MAP_READ_ONLY, 0, 0, &region);
    if (rc != ZC_OK) {
        fprintf(stderr, "file_client: cannot map %s: %s\n", argv[4], zc_result_str(rc));
        return 1;
    }
    close(fd); /* the region does not need the descriptor */
    expected = zc_region_data(region);
    expected_len = zc_region_len(region);
    if (zc_region_advise(region, 2 /* MADV_SEQUENTIAL */) != ZC_OK) fprintf(stderr, "file_client: advise failed\n");

    struct client *cs = calloc((size_t)clients, sizeof *cs);
    double start = now();
    for (int i = 0; i < clients; i++) {
        cs[i].id = i;
        pthread_create(&cs[i].thread, NULL, fetch, &cs[i]);
    }
    int ok = 1;
    uint64_t total = 0;
    for (int i = 0; i < clients; i++) {
        pthread_join(cs[i].thread, NULL);
        total += cs[i].received;
        if (cs[i].verified)
            printf("client %d: %llu bytes in %.2f s, verified\n", i, (unsigned long long)cs[i].received,
                   cs[i].seconds);
        else
            printf("client %d: FAILED after %llu bytes: %s\n", i, (unsigned long long)cs[i].received, cs[i].error);
        ok &= cs[i].verified;
    }
    double secs = now() - start;
    printf("%d clients, %llu bytes in %.2f s (%.0f MiB/s), %s\n", clients, (unsigned long long)total, secs,
           (double)total / secs / (1 << 20), ok ? "all bytes verified" : "VERIFICATION FAILED");
    free(cs);
    (void)zc_region_free(region);
    return ok ? 0 : 1;
}
