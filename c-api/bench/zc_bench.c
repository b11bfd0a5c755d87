/*
 * zc_bench: what the C API costs, measured against the raw system calls in the same run.
 *
 *   zc_bench [--calls-only] [--size 1G] [--calls 200000] [--rounds 5] [--dir DIR]
 *
 * 1. Per-call cost of 4 KiB transfers from a page-cached file to a loopback TCP socket (and to
 *    /dev/null, where no receiver thread adds noise): zc_transfer_to next to a raw sendfile(2)
 *    loop, plus zc_sendfile and the cost of guarding against descriptor reuse by dup'ing the
 *    target first. Strategies alternate in blocks of 10,000 calls; medians of wall-clock and
 *    sending-thread CPU time per call, and their ratios to the raw loop.
 * 2. Throughput of SIZE bytes file -> file and file -> loopback socket for every method
 *    (zc_transfer_all_using), next to a plain 64 KiB read/write loop.
 *
 * Like a server, the benchmark ignores SIGPIPE: zcopy then skips the SIGPIPE shield it puts
 * around calls in programs that keep SIGPIPE's default action (two pthread_sigmask calls).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "zcopy.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

static void check(zc_result rc, const char *what) {
    if (rc != ZC_OK) {
        char msg[256];
        size_t n;
        if (zc_last_error_message(msg, sizeof msg, &n) != ZC_OK) msg[0] = 0;
        fprintf(stderr, "%s: %s: %s\n", what, zc_result_str(rc), msg);
        exit(1);
    }
}

/* ---- fixtures ----------------------------------------------------------------------------- */

static int tcp_pair(int fds[2]) {
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1) ||
        getsockname(l, (struct sockaddr *)&a, &len))
        die("listen");
    fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fds[0] < 0 || connect(fds[0], (struct sockaddr *)&a, sizeof a)) die("connect");
    fds[1] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    if (fds[1] < 0) die("accept");
    close(l);
    return 0;
}

struct drain {
    pthread_t thread;
    int fd;
    unsigned long long total;
};

static void *drain_run(void *arg) {
    struct drain *d = (struct drain *)arg;
    static __thread char buf[1 << 20];
    for (;;) {
        ssize_t n = read(d->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        d->total += (unsigned long long)n;
    }
    return NULL;
}

/* A connected loopback socket whose far end is drained by a thread: returns the near end. */
static int drained_socket(struct drain *d) {
    int fds[2];
    tcp_pair(fds);
    d->fd = fds[0];
    d->total = 0;
    if (pthread_create(&d->thread, NULL, drain_run, d)) die("pthread_create");
    return fds[1];
}

static void drain_stop(struct drain *d, int near) {
    close(near);
    pthread_join(d->thread, NULL);
    close(d->fd);
}

static int make_file(const char *dir, const char *name, long long size, char *path) {
    snprintf(path, 4096, "%s/%s", dir, name);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) die(path);
    static char buf[1 << 20];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (char)(i * 7 + i / 251);
    for (long long done = 0; done < size;) {
        size_t n = size - done < (long long)sizeof buf ? (size_t)(size - done) : sizeof buf;
        if (write(fd, buf, n) != (ssize_t)n) die("write");
        done += (long long)n;
    }
    return fd;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ---- 1. per-call cost --------------------------------------------------------------------- */

enum strategy { RAW_SENDFILE, ZC_TRANSFER_TO, ZC_SENDFILE, DUP_ZC_TRANSFER_TO, STRATEGIES };
static const char *strategy_names[STRATEGIES] = {
    "raw sendfile(2) loop",
    "zc_transfer_to",
    "zc_sendfile",
    "dup + zc_transfer_to + close",
};

#define CALL_SIZE 4096

static double thread_cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs `calls` 4 KiB transfers with one strategy; stores wall-clock and sending-thread CPU
 * nanoseconds per call. */
static void run_calls(enum strategy s, int src, long long file_size, int sock, long calls, double *wall_ns,
                      double *cpu_ns) {
    long long slots = file_size / CALL_SIZE;
    double start = now(), cpu = thread_cpu();
    for (long i = 0; i < calls; i++) {
        long long pos = (i % slots) * CALL_SIZE;
        switch (s) {
        case RAW_SENDFILE: {
            off_t off = (off_t)pos;
            if (sendfile(sock, src, &off, CALL_SIZE) != CALL_SIZE) die("sendfile");
            break;
        }
        case ZC_TRANSFER_TO: {
            zc_transfer t;
            check(zc_transfer_to(src, pos, CALL_SIZE, sock, &t), "zc_transfer_to");
            if (t.bytes != CALL_SIZE) die("short zc_transfer_to");
            break;
        }
        case ZC_SENDFILE: {
            int64_t off = pos;
            size_t n = 0;
            check(zc_sendfile(sock, src, &off, CALL_SIZE, &n), "zc_sendfile");
            if (n != CALL_SIZE) die("short zc_sendfile");
            break;
        }
        case DUP_ZC_TRANSFER_TO: {
            int d = dup(sock);
            zc_transfer t;
            check(zc_transfer_to(src, pos, CALL_SIZE, d, &t), "zc_transfer_to");
            close(d);
            break;
        }
        default:
            break;
        }
    }
    *wall_ns = (now() - start) * 1e9 / (double)calls;
    *cpu_ns = (thread_cpu() - cpu) * 1e9 / (double)calls;
}

#define BLOCK 10000
#define MAX_BLOCKS 512

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return v[n / 2];
}

/* `to_socket`: a loopback TCP socket drained by a thread (the measure); otherwise
 * /dev/null, where no receiver shares the machine and the library's own overhead stands out. */
static void per_call(const char *dir, long calls, int to_socket) {
    char path[4096];
    long long size = 1ll << 20; /* 256 pages, cached, as the core's benchmark */
    int src = make_file(dir, "zc-bench-calls.bin", size, path);
    struct drain d;
    int sock = to_socket ? drained_socket(&d) : open("/dev/null", O_WRONLY | O_CLOEXEC);
    static double wall[STRATEGIES][MAX_BLOCKS], cpu[STRATEGIES][MAX_BLOCKS];
    int blocks = (int)(calls / BLOCK);
    if (blocks < 3) blocks = 3;
    if (blocks > MAX_BLOCKS) blocks = MAX_BLOCKS;
    double w, c;
    /* Warm-up: page cache, the core's per-descriptor method hint, the socket buffers. */
    for (int s = 0; s < STRATEGIES; s++) run_calls((enum strategy)s, src, size, sock, BLOCK, &w, &c);
    /* Strategies alternate block by block, in a rotating order, so that the machine's noise
     * falls on all of them alike. */
    for (int b = 0; b < blocks; b++)
        for (int k = 0; k < STRATEGIES; k++) {
            int s = (b + k) % STRATEGIES;
            run_calls((enum strategy)s, src, size, sock, BLOCK, &wall[s][b], &cpu[s][b]);
        }
    if (to_socket) drain_stop(&d, sock);
    else close(sock);
    close(src);
    unlink(path);

    printf("\n4 KiB transfers, page-cached file -> %s (%d blocks of %d calls per strategy, "
           "alternating; medians)\n",
           to_socket ? "loopback TCP socket" : "/dev/null", blocks, BLOCK);
    printf("| strategy | wall ns/call | x raw sendfile | sender CPU ns/call | x raw sendfile |\n"
           "|---|---:|---:|---:|---:|\n");
    double raw_wall = 0, raw_cpu = 0;
    for (int s = 0; s < STRATEGIES; s++) {
        double mw = median(wall[s], blocks), mc = median(cpu[s], blocks);
        if (s == RAW_SENDFILE) {
            raw_wall = mw;
            raw_cpu = mc;
        }
        printf("| %s | %.0f | %.3f | %.0f | %.3f |\n", strategy_names[s], mw, mw / raw_wall, mc, mc / raw_cpu);
    }
}

/* ---- 2. throughput ------------------------------------------------------------------------ */

#define BASELINE 0 /* the plain read/write loop */
static const zc_transfer_method methods[] = {0, ZC_METHOD_COPY_FILE_RANGE, ZC_METHOD_SENDFILE, ZC_METHOD_SPLICE,
                                             ZC_METHOD_MMAP_WRITE, ZC_METHOD_READ_WRITE};
#define METHODS (sizeof methods / sizeof *methods)

/* Moves the whole file; returns seconds, or -1 when the method cannot serve the pair. */
static double move_all(zc_transfer_method m, int src, long long size, int dst) {
    double start = now();
    if (m == BASELINE) {
        static char buf[1 << 16];
        for (long long off = 0; off < size;) {
            ssize_t n = pread(src, buf, sizeof buf, (off_t)off);
            if (n <= 0) die("pread");
            for (ssize_t w = 0; w < n;) {
                ssize_t k = write(dst, buf + w, (size_t)(n - w));
                if (k <= 0) die("write");
                w += k;
            }
            off += n;
        }
    } else {
        zc_transfer t;
        zc_result rc = zc_transfer_all_using(m, src, 0, size, dst, &t);
        if (rc == ZC_ERR_UNSUPPORTED) return -1;
        check(rc, "zc_transfer_all_using");
        if ((long long)t.bytes != size) die("short transfer");
    }
    return now() - start;
}

static void throughput(const char *dir, long long size, int rounds) {
    char src_path[4096], dst_path[4096];
    int src = make_file(dir, "zc-bench-src.bin", size, src_path);
    int dst = make_file(dir, "zc-bench-dst.bin", 0, dst_path);
    double secs[2][METHODS][64];
    /* Warm the page cache once. */
    move_all(BASELINE, src, size, dst);
    for (int r = 0; r < rounds; r++) {
        for (size_t m = 0; m < METHODS; m++) {
            if (ftruncate(dst, 0) || lseek(dst, 0, SEEK_SET)) die("truncate");
            secs[0][m][r] = move_all(methods[m], src, size, dst);
            struct drain d;
            int sock = drained_socket(&d);
            secs[1][m][r] = move_all(methods[m], src, size, sock);
            drain_stop(&d, sock);
        }
    }
    close(src);
    close(dst);
    unlink(src_path);
    unlink(dst_path);
    static const char *targets[2] = {"file -> file", "file -> loopback TCP socket"};
    for (int k = 0; k < 2; k++) {
        printf("\n%s, %lld MiB page-cached (%d rounds; MiB/s min / median / max)\n", targets[k], size >> 20, rounds);
        printf("| method | min | median | max | vs read/write loop |\n|---|---:|---:|---:|---:|\n");
        double base = 0;
        for (size_t m = 0; m < METHODS; m++) {
            const char *name = m == BASELINE ? "plain read/write loop (64 KiB, C)" : zc_transfer_method_name(methods[m]);
            if (secs[k][m][0] < 0) {
                printf("| %s | unsupported | | | |\n", name);
                continue;
            }
            qsort(secs[k][m], (size_t)rounds, sizeof(double), cmp_double);
            double mib = (double)size / (1 << 20);
            double med = mib / secs[k][m][rounds / 2];
            if (m == BASELINE) base = med;
            printf("| %s%s | %.0f | %.0f | %.0f | %.2f |\n", m == BASELINE ? "" : "zc_transfer_all_using ", name,
                   mib / secs[k][m][rounds - 1], med, mib / secs[k][m][0], med / base);
        }
    }
}

static long long parse_size(const char *s) {
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    switch (end ? *end : 0) {
    case 'G': case 'g': return v << 30;
    case 'M': case 'm': return v << 20;
    case 'K': case 'k': return v << 10;
    default: return v;
    }
}

int main(int argc, char **argv) {
    long long size = 1ll << 30;
    long calls = 200000;
    int rounds = 5, calls_only = 0;
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    for (int i = 1; i < argc && strcmp(argv[i], "--calls-only") == 0; i++) calls_only = 1;
    for (int i = calls_only + 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--size") == 0) size = parse_size(argv[i + 1]);
        else if (strcmp(argv[i], "--calls") == 0) calls = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--rounds") == 0) rounds = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--dir") == 0) dir = argv[i + 1];
    }
    if (rounds < 1) rounds = 1;
    if (rounds > 64) rounds = 64;
    signal(SIGPIPE, SIG_IGN); /* as a server does; see the comment at the top */
    printf("zc_bench: libzcopy %s, size %lld MiB, %ld calls, %d rounds, dir %s\n", zc_version(), size >> 20, calls,
           rounds, dir);
    per_call(dir, calls, 1);
    per_call(dir, calls, 0);
    if (!calls_only) throughput(dir, size, rounds);
    return 0;
}
