/*
 * A minimal test harness for the C suites: TEST(name) defines a test, CHECK* record failures
 * without stopping the run, RUN(name) runs one, and zc_test_summary() prints the closing line
 * "N passed, N failed" (with ", N skipped") and returns the exit status. FOR_EACH_CASE walks a
 * table of cases so that a failure names the row.
 *
 * Also the fixtures every suite needs: temporary files holding the shared pattern, regions
 * mapped over them, socket pairs, loopback TCP pairs, and readers that drain a descriptor on a
 * thread.
 */
#ifndef ZC_TEST_H
#define ZC_TEST_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "zcopy.h"

static int zc_test_failures_in_test;
static int zc_test_passed;
static int zc_test_failed;
static int zc_test_skipped;
static const char *zc_test_skip_reason;
static long zc_test_case = -1;

#define ZC_ARRAY_LEN(a) (sizeof(a) / sizeof *(a))

/* Runs the loop's body for every row of a table of cases (an array), with zc_test_case set to
 * the row's index while it runs, so that a failure names the row. */
#define FOR_EACH_CASE(i, table)                                                                \
    for (size_t i = 0; i < ZC_ARRAY_LEN(table) ? (zc_test_case = (long)i, 1) : (zc_test_case = -1, 0); i++)

/* Where a failure was found: the line, and the row of a table of cases when one is running. */
static inline void zc_test_where(const char *file, int line) {
    if (zc_test_case >= 0)
        fprintf(stderr, "  %s:%d (case %ld): ", file, line, zc_test_case);
    else
        fprintf(stderr, "  %s:%d: ", file, line);
}

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            zc_test_where(__FILE__, __LINE__);                                                 \
            fprintf(stderr, "CHECK failed: %s\n", #cond);                                      \
            zc_test_failures_in_test++;                                                        \
        }                                                                                      \
    } while (0)

/* Checks that an expression returns the expected zc_result, and prints the detail if not. */
#define CHECK_RC(expr, want)                                                                   \
    do {                                                                                       \
        zc_result zc_rc_ = (expr);                                                             \
        if (zc_rc_ != (zc_result)(want)) {                                                     \
            zc_test_where(__FILE__, __LINE__);                                                 \
            fprintf(stderr, "%s returned %s, want %s (errno %d: %s)\n", #expr,                   \
                    zc_result_str(zc_rc_), zc_result_str(want), zc_last_errno(),               \
                    zc_rc_ == ZC_OK ? "" : zc_last_message());                                 \
            zc_test_failures_in_test++;                                                        \
        }                                                                                      \
    } while (0)

#define CHECK_OK(expr) CHECK_RC(expr, ZC_OK)

/* Fails the test and returns from it when a fixture cannot be set up. */
#define REQUIRE(cond)                                                                          \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "  %s:%d: REQUIRE failed: %s (errno %d)\n", __FILE__, __LINE__,      \
                    #cond, errno);                                                             \
            zc_test_failures_in_test++;                                                        \
            return;                                                                            \
        }                                                                                      \
    } while (0)

/* Marks the running test as skipped, with the reason printed, and returns from it. */
#define SKIP(reason)                                                                           \
    do {                                                                                       \
        zc_test_skip_reason = (reason);                                                        \
        return;                                                                                \
    } while (0)

#define TEST(name) static void name(void)

#define RUN(name)                                                                              \
    do {                                                                                       \
        zc_test_failures_in_test = 0;                                                          \
        zc_test_skip_reason = NULL;                                                            \
        zc_test_case = -1;                                                                     \
        name();                                                                                \
        if (zc_test_failures_in_test) {                                                        \
            zc_test_failed++;                                                                  \
            printf("FAIL %s\n", #name);                                                        \
        } else if (zc_test_skip_reason) {                                                      \
            zc_test_skipped++;                                                                 \
            printf("skip %s: %s\n", #name, zc_test_skip_reason);                               \
        } else {                                                                               \
            zc_test_passed++;                                                                  \
            printf("ok   %s\n", #name);                                                        \
        }                                                                                      \
        fflush(stdout);                                                                        \
    } while (0)

static inline int zc_test_summary(const char *suite) {
    if (zc_test_skipped)
        printf("%s: %d passed, %d failed, %d skipped\n", suite, zc_test_passed, zc_test_failed,
               zc_test_skipped);
    else
        printf("%s: %d passed, %d failed\n", suite, zc_test_passed, zc_test_failed);
    return zc_test_failed ? 1 : 0;
}

/* This thread's last error message ("" when there is none); valid until the next call. */
static inline const char *zc_last_message(void) {
    static _Thread_local char message[1024];
    size_t n = 0;
    if (zc_last_error_message(message, sizeof message, &n) != ZC_OK) return "";
    return message;
}

static inline int zc_test_under_valgrind(void) { return getenv("ZC_UNDER_VALGRIND") != NULL; }

/* ---- fixtures ---------------------------------------------------------------------------- */

/* Byte i of the shared pattern (tests/vectors/README.md). */
static inline uint8_t zc_pattern_byte(uint64_t i) { return (uint8_t)(i * 7 + i / 251); }

static inline void zc_pattern_fill(uint8_t *buf, uint64_t start, size_t len) {
    for (size_t k = 0; k < len; k++) buf[k] = zc_pattern_byte(start + k);
}

/* Creates a temporary file holding `size` pattern bytes; returns its path in `path` (at least 64
 * bytes) and a descriptor opened with `flags`, or -1. The file is left on disk: unlink it. */
static inline int zc_temp_file(char *path, uint64_t size, int flags) {
    const char *dir = getenv("TMPDIR");
    snprintf(path, 64, "%s/zc-test-XXXXXX", dir && strlen(dir) < 40 ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) return -1;
    uint8_t buf[65536];
    uint64_t done = 0;
    while (done < size) {
        size_t n = size - done < sizeof buf ? (size_t)(size - done) : sizeof buf;
        zc_pattern_fill(buf, done, n);
        if (write(fd, buf, n) != (ssize_t)n) {
            close(fd);
            return -1;
        }
        done += n;
    }
    close(fd);
    return open(path, flags | O_CLOEXEC);
}

/* A file descriptor number that is certainly not open. */
#define ZC_CLOSED_FD 999999

/* A temporary file of pattern bytes and its descriptor, removed again by zc_file_remove. */
struct zc_file {
    char path[64];
    int fd;
};

/* Creates the file with `size` pattern bytes, open with `flags`; returns the descriptor, or -1
 * (and no file). */
static inline int zc_file_create(struct zc_file *f, uint64_t size, int flags) {
    f->path[0] = 0;
    f->fd = zc_temp_file(f->path, size, flags);
    if (f->fd < 0 && f->path[0]) unlink(f->path);
    return f->fd;
}

/* Closes the descriptor (unless the test did, setting it to -1) and deletes the file. */
static inline void zc_file_remove(struct zc_file *f) {
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
    if (f->path[0]) unlink(f->path);
}

/* A region over a temporary file: where most region tests start. */
struct zc_mapped {
    struct zc_file file;
    zc_region *region;
};

/* Creates a file of `size` pattern bytes open with `open_flags` and maps `len` bytes of it at
 * `position` in `mode` with `map_flags`. Returns 0, or -1 (nothing left behind). */
static inline int zc_map_temp(struct zc_mapped *m, uint64_t size, int open_flags, zc_map_mode mode,
                              int64_t position, int64_t len, uint32_t map_flags) {
    m->region = NULL;
    if (zc_file_create(&m->file, size, open_flags) < 0) return -1;
    CHECK_OK(zc_region_map(m->file.fd, mode, position, len, map_flags, &m->region));
    if (!m->region) zc_file_remove(&m->file);
    return m->region ? 0 : -1;
}

/* Frees the region (which must still be live) and removes the file. */
static inline void zc_unmap_temp(struct zc_mapped *m) {
    CHECK_OK(zc_region_free(m->region));
    zc_file_remove(&m->file);
}

/* A connected AF_UNIX stream pair (close-on-exec), or -1. */
static inline int zc_socket_pair(int sv[2]) { return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv); }

static inline void zc_close_pair(const int fds[2]) {
    close(fds[0]);
    close(fds[1]);
}

/* A connected loopback TCP pair: fds[0] client, fds[1] server side. */
static inline int zc_tcp_pair(int fds[2]) {
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l < 0) return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1) ||
        getsockname(l, (struct sockaddr *)&a, &len)) {
        close(l);
        return -1;
    }
    fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fds[0] < 0 || connect(fds[0], (struct sockaddr *)&a, sizeof a)) {
        close(l);
        return -1;
    }
    fds[1] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    close(l);
    return fds[1] < 0 ? -1 : 0;
}

static inline void zc_set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

/* Reads a descriptor to EOF on a thread, keeping (up to `cap`) bytes and counting all. */
struct zc_drain {
    pthread_t thread;
    int fd;
    uint8_t *buf;
    size_t cap;
    uint64_t total;
};

static void *zc_drain_run(void *arg) {
    struct zc_drain *d = (struct zc_drain *)arg;
    uint8_t chunk[65536];
    for (;;) {
        ssize_t n = read(d->fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (d->buf && d->total < d->cap) {
            size_t keep = d->cap - d->total < (size_t)n ? (size_t)(d->cap - d->total) : (size_t)n;
            memcpy(d->buf + d->total, chunk, keep);
        }
        d->total += (uint64_t)n;
    }
    return NULL;
}

/* Starts draining `fd` (which the drain then owns and closes in zc_drain_join). */
static inline int zc_drain_start(struct zc_drain *d, int fd, uint8_t *buf, size_t cap) {
    d->fd = fd;
    d->buf = buf;
    d->cap = cap;
    d->total = 0;
    return pthread_create(&d->thread, NULL, zc_drain_run, d);
}

static inline uint64_t zc_drain_join(struct zc_drain *d) {
    pthread_join(d->thread, NULL);
    close(d->fd);
    return d->total;
}

/* The number of open descriptors (entries of /proc/self/fd, less the one reading it). */
static inline long zc_count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1;
}

/* The number of lines of a /proc file (mappings in /proc/self/maps). */
static inline long zc_count_lines(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long n = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        if (c == '\n') n++;
    fclose(f);
    return n;
}

/* A field of /proc/self/status in kB (VmRSS, VmLck, ...), or -1. */
static inline long zc_status_kb(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    size_t flen = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, flen) == 0 && line[flen] == ':') v = strtol(line + flen + 1, NULL, 10);
    fclose(f);
    return v;
}

/* Whether /proc/self/maps names `path`. */
static inline int zc_maps_mention(const char *path) {
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return 0;
    char line[1024];
    int found = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, path)) found = 1;
    fclose(f);
    return found;
}

#endif /* ZC_TEST_H */
