/*
 * zc_runner: the C runner of the showcase (tests/showcase/README.md has the protocol).
 *
 *   zc_runner --src FILE --size BYTES --target file:PATH|socket:HOST:PORT --strategy NAME --rounds N
 *   zc_runner --strategy list
 *
 * Moves the first BYTES of FILE to the target ROUNDS times with one strategy and prints one JSON
 * object per round: bytes, wall time, the thread's CPU time (getrusage(RUSAGE_THREAD) user +
 * system) and context switches (voluntary + involuntary), the method that moved the bytes and
 * the system calls the transfer made (zcopy reports them; the baseline loop counts its own).
 *
 * Strategies: "read/write-64k" (a plain pread/write loop through a 64 KiB buffer: the C
 * baseline), "zcopy:auto" (zc_transfer_all: the core picks the method), and "zcopy:METHOD"
 * (zc_transfer_all_using, one method forced: read/write, mmap+write, sendfile, splice,
 * copy_file_range).
 *
 * A file target is opened O_WRONLY|O_CREAT without O_TRUNC and overwritten in place from offset 0
 * each round; before the first round it is given its full size with fallocate (ftruncate where
 * that is not supported), so that the rounds measure the transfer, not block allocation. A
 * socket target is connected before each round and closed after it (neither is timed). Like a
 * server, the runner ignores SIGPIPE.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "zcopy.h"

#define BUF_SIZE (64 * 1024)

struct strategy {
    const char *name;
    bool zcopy;
    bool forced;
    zc_transfer_method method;
};

static const struct strategy STRATEGIES[] = {
    {"read/write-64k", false, false, ZC_METHOD_READ_WRITE},
    {"zcopy:auto", true, false, ZC_METHOD_NONE},
    {"zcopy:read/write", true, true, ZC_METHOD_READ_WRITE},
    {"zcopy:mmap+write", true, true, ZC_METHOD_MMAP_WRITE},
    {"zcopy:sendfile", true, true, ZC_METHOD_SENDFILE},
    {"zcopy:splice", true, true, ZC_METHOD_SPLICE},
    {"zcopy:copy_file_range", true, true, ZC_METHOD_COPY_FILE_RANGE},
};
#define N_STRATEGIES (sizeof STRATEGIES / sizeof *STRATEGIES)

static void die(const char *fmt, const char *arg) {
    fprintf(stderr, "zc_runner: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    exit(1);
}

static void die_zc(const char *what, zc_result rc) {
    char msg[512];
    size_t n = 0;
    if (zc_last_error_message(msg, sizeof msg, &n) != ZC_OK) msg[0] = 0;
    fprintf(stderr, "zc_runner: %s: %s (errno %d): %s\n", what, zc_result_str(rc), zc_last_errno(), msg);
    exit(1);
}

static void usage(void) {
    fprintf(stderr, "usage: zc_runner --src FILE --size BYTES --target file:PATH|socket:HOST:PORT "
                    "--strategy NAME --rounds N\n       zc_runner --strategy list\n");
    exit(2);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct usage {
    double cpu_s;
    long ctx;
};

static struct usage thread_usage(void) {
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    struct usage u;
    u.cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
              (double)ru.ru_stime.tv_usec / 1e6;
    u.ctx = ru.ru_nvcsw + ru.ru_nivcsw;
    return u;
}

/* The baseline: pread from the file, write to the target, 64 KiB at a time. Counts its system
 * calls (every pread and write, short writes included). Returns the bytes moved. */
static uint64_t read_write_loop(int src, int target, uint64_t size, uint64_t *syscalls) {
    static char buf[BUF_SIZE];
    uint64_t done = 0, calls = 0;
    while (done < size) {
        size_t want = size - done < BUF_SIZE ? (size_t)(size - done) : BUF_SIZE;
        ssize_t n = pread(src, buf, want, (off_t)done);
        calls++;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die("pread: %s", strerror(errno));
        if (n == 0) break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(target, buf + off, (size_t)(n - off));
            calls++;
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) die("write: %s", strerror(errno));
            off += w;
        }
        done += (uint64_t)n;
    }
    *syscalls = calls;
    return done;
}

static int connect_to(const char *host, const char *port) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) die("cannot resolve the target: %s", gai_strerror(gai));
    int s = -1;
    for (struct addrinfo *a = res; a && s < 0; a = a->ai_next) {
        s = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (s >= 0 && connect(s, a->ai_addr, a->ai_addrlen) != 0) {
            close(s);
            s = -1;
        }
    }
    freeaddrinfo(res);
    if (s < 0) die("connect: %s", strerror(errno));
    return s;
}

int main(int argc, char **argv) {
    const char *src_path = NULL, *target = NULL, *strategy_name = NULL;
    long long size = -1;
    long rounds = 1;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) usage();
        const char *opt = argv[i], *val = argv[++i];
        char *end = NULL;
        if (strcmp(opt, "--src") == 0) {
            src_path = val;
        } else if (strcmp(opt, "--size") == 0) {
            size = strtoll(val, &end, 10);
            if (*end || size < 0) usage();
        } else if (strcmp(opt, "--target") == 0) {
            target = val;
        } else if (strcmp(opt, "--strategy") == 0) {
            strategy_name = val;
        } else if (strcmp(opt, "--rounds") == 0) {
            rounds = strtol(val, &end, 10);
            if (*end || rounds < 1) usage();
        } else {
            usage();
        }
    }
    if (strategy_name && strcmp(strategy_name, "list") == 0) {
        for (size_t i = 0; i < N_STRATEGIES; i++) puts(STRATEGIES[i].name);
        return 0;
    }
    const struct strategy *st = NULL;
    for (size_t i = 0; strategy_name && i < N_STRATEGIES; i++)
        if (strcmp(strategy_name, STRATEGIES[i].name) == 0) st = &STRATEGIES[i];
    if (!strategy_name || !src_path || !target || size < 0) usage();
    if (!st) die("unknown strategy %s (see --strategy list)", strategy_name);

    signal(SIGPIPE, SIG_IGN); /* as a server would: a vanished peer is EPIPE, not death */
    int src = open(src_path, O_RDONLY | O_CLOEXEC);
    if (src < 0) die("cannot open the source: %s", strerror(errno));

    bool to_socket;
    int file_target = -1;
    char host[256], port[32];
    if (strncmp(target, "file:", 5) == 0) {
        to_socket = false;
        file_target = open(target + 5, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (file_target < 0) die("cannot open the target: %s", strerror(errno));
        struct stat sb;
        if (fstat(file_target, &sb) != 0) die("fstat: %s", strerror(errno));
        if (sb.st_size < size) { /* full size before the first round */
            /* fallocate, not posix_fallocate: no emulation by writing a byte per block. */
            if (fallocate(file_target, 0, 0, (off_t)size) != 0 && ftruncate(file_target, (off_t)size) != 0)
                die("cannot size the target: %s", strerror(errno));
        }
    } else if (strncmp(target, "socket:", 7) == 0) {
        to_socket = true;
        const char *hp = target + 7, *colon = strrchr(hp, ':');
        if (!colon || (size_t)(colon - hp) >= sizeof host || strlen(colon + 1) >= sizeof port)
            die("bad socket target %s (socket:HOST:PORT)", target);
        memcpy(host, hp, (size_t)(colon - hp));
        host[colon - hp] = 0;
        strcpy(port, colon + 1);
    } else {
        die("bad target %s (file:PATH or socket:HOST:PORT)", target);
    }

    for (long round = 0; round < rounds; round++) {
        int out = to_socket ? connect_to(host, port) : file_target;
        if (!to_socket && lseek(out, 0, SEEK_SET) != 0) die("lseek: %s", strerror(errno));
        uint64_t bytes = 0, syscalls = 0;
        const char *method;
        struct usage u0 = thread_usage();
        double t0 = now_s();
        if (!st->zcopy) {
            bytes = read_write_loop(src, out, (uint64_t)size, &syscalls);
            method = "read/write";
        } else {
            zc_transfer t;
            zc_result rc = st->forced ? zc_transfer_all_using(st->method, src, 0, size, out, &t)
                                      : zc_transfer_all(src, 0, size, out, &t);
            if (rc != ZC_OK) die_zc(st->name, rc);
            bytes = t.bytes;
            syscalls = t.syscalls;
            method = zc_transfer_method_name(t.method);
        }
        double wall = now_s() - t0;
        struct usage u1 = thread_usage();
        if (to_socket) close(out);
        printf("{\"lang\": \"c\", \"strategy\": \"%s\", \"target\": \"%s\", \"round\": %ld, \"bytes\": %llu, "
               "\"wall_s\": %.6f, \"cpu_s\": %.6f, \"ctx\": %ld, \"method\": \"%s\", \"syscalls\": %llu}\n",
               st->name, to_socket ? "socket" : "file", round, (unsigned long long)bytes, wall, u1.cpu_s - u0.cpu_s,
               u1.ctx - u0.ctx, method, (unsigned long long)syscalls);
        fflush(stdout);
    }
    if (file_target >= 0) close(file_target);
    close(src);
    return 0;
}
