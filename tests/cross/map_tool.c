/*
 * The C side of the cross-language tests (tests/cross/test_cross.py), written only from
 * c-api/include/zcopy.h. Every command prints one JSON line.
 *
 *   map_tool write PATH POS LEN SEED    map READ_WRITE (growing the file), write the pattern, force
 *   map_tool read PATH POS LEN          map READ_ONLY, print the FNV-1a of the bytes
 *   map_tool shm-child FD LEN SEED      map an inherited memfd: check the first half is the
 *                                       pattern of SEED, write the pattern of SEED+1 into the second
 *   map_tool shm-parent LEN SEED CMD... make a memfd region, write the first half, run CMD with the
 *                                       memfd inherited (its number in $ZC_SHM_FD), check the
 *                                       second half
 *
 * The pattern: byte i of a range is (i * 7 + i / 251 + seed) mod 256, i counted from the range's
 * start.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zcopy.h"

static uint8_t pattern(uint64_t i, uint64_t seed) { return (uint8_t)(i * 7 + i / 251 + seed); }

static uint64_t fnv(const uint8_t *p, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static int fail(const char *what, zc_result r) {
    char msg[256];
    size_t n = 0;
    if (zc_last_error_message(msg, sizeof msg, &n) != ZC_OK) msg[0] = 0;
    printf("{\"ok\": false, \"what\": \"%s\", \"result\": \"%s\", \"errno\": %d}\n", what, zc_result_str(r),
           zc_last_errno());
    fprintf(stderr, "map_tool: %s: %s: %s\n", what, zc_result_str(r), msg);
    return 1;
}

static int write_cmd(const char *path, int64_t pos, int64_t len, uint64_t seed) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return perror("open"), 1;
    struct zc_region *r = NULL;
    zc_result res = zc_region_map(fd, ZC_MAP_READ_WRITE, pos, len, 0, &r);
    close(fd); /* the mapping does not need the descriptor */
    if (res != ZC_OK) return fail("map", res);
    uint8_t *buf = malloc((size_t)len);
    for (int64_t i = 0; i < len; i++) buf[i] = pattern((uint64_t)i, seed);
    if ((res = zc_region_write(r, 0, buf, (size_t)len)) != ZC_OK) return fail("write", res);
    if ((res = zc_region_force(r)) != ZC_OK) return fail("force", res);
    printf("{\"ok\": true, \"fnv\": \"%016" PRIx64 "\"}\n", fnv(buf, (size_t)len));
    free(buf);
    return zc_region_free(r) == ZC_OK ? 0 : 1;
}

static int read_cmd(const char *path, int64_t pos, int64_t len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return perror("open"), 1;
    struct zc_region *r = NULL;
    zc_result res = zc_region_map(fd, ZC_MAP_READ_ONLY, pos, len, 0, &r);
    close(fd);
    if (res != ZC_OK) return fail("map", res);
    printf("{\"ok\": true, \"fnv\": \"%016" PRIx64 "\"}\n", fnv(zc_region_data(r), zc_region_len(r)));
    return zc_region_free(r) == ZC_OK ? 0 : 1;
}

static int check_and_fill(struct zc_region *r, size_t len, uint64_t seed, int first_half_check) {
    size_t half = len / 2;
    const uint8_t *p = zc_region_data(r);
    if (first_half_check) {
        for (size_t i = 0; i < half; i++)
            if (p[i] != pattern(i, seed)) return fprintf(stderr, "byte %zu differs\n", i), 1;
        uint8_t *fill = malloc(len - half);
        for (size_t i = 0; i < len - half; i++) fill[i] = pattern(i, seed + 1);
        zc_result res = zc_region_write(r, half, fill, len - half);
        free(fill);
        return res == ZC_OK ? 0 : fail("write", res);
    }
    for (size_t i = 0; i < len - half; i++)
        if (p[half + i] != pattern(i, seed + 1)) return fprintf(stderr, "reply byte %zu differs\n", i), 1;
    return 0;
}

static int shm_child(int fd, int64_t len, uint64_t seed) {
    struct zc_region *r = NULL;
    zc_result res = zc_region_map(fd, ZC_MAP_READ_WRITE, 0, len, 0, &r);
    if (res != ZC_OK) return fail("map", res);
    int rc = check_and_fill(r, (size_t)len, seed, 1);
    if (rc == 0) printf("{\"ok\": true}\n");
    zc_region_free(r);
    return rc;
}

static int shm_parent(int64_t len, uint64_t seed, char **cmd) {
    struct zc_region *r = NULL;
    int fd = -1;
    zc_result res = zc_region_shared_anonymous("zcopy-cross", len, ZC_HUGE_PAGES_OFF, &r, &fd);
    if (res != ZC_OK) return fail("shared_anonymous", res);
    size_t half = (size_t)len / 2;
    uint8_t *buf = malloc(half);
    for (size_t i = 0; i < half; i++) buf[i] = pattern(i, seed);
    if ((res = zc_region_write(r, 0, buf, half)) != ZC_OK) return fail("write", res);
    free(buf);
    /* Hand the memfd to the child: clear close-on-exec on a copy. */
    int child_fd = dup(fd);
    char num[16];
    snprintf(num, sizeof num, "%d", child_fd);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("ZC_SHM_FD", num, 1);
        execvp(cmd[0], cmd);
        _exit(127);
    }
    close(child_fd);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        printf("{\"ok\": false, \"what\": \"child\", \"status\": %d}\n", status);
        return 1;
    }
    int rc = check_and_fill(r, (size_t)len, seed, 0);
    if (rc == 0) printf("{\"ok\": true}\n");
    close(fd);
    zc_region_free(r);
    return rc;
}

/* The method table as the C API names it: one name per code, until the first unknown one. */
static int methods_cmd(void) {
    for (zc_transfer_method m = 0; strcmp(zc_transfer_method_name(m), "unknown") != 0; m++)
        printf("%s\n", zc_transfer_method_name(m));
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "methods")) return methods_cmd();
    if (argc >= 6 && !strcmp(argv[1], "write"))
        return write_cmd(argv[2], strtoll(argv[3], NULL, 10), strtoll(argv[4], NULL, 10), strtoull(argv[5], NULL, 10));
    if (argc >= 5 && !strcmp(argv[1], "read"))
        return read_cmd(argv[2], strtoll(argv[3], NULL, 10), strtoll(argv[4], NULL, 10));
    if (argc >= 5 && !strcmp(argv[1], "shm-child"))
        return shm_child(atoi(argv[2]), strtoll(argv[3], NULL, 10), strtoull(argv[4], NULL, 10));
    if (argc >= 5 && !strcmp(argv[1], "shm-parent"))
        return shm_parent(strtoll(argv[2], NULL, 10), strtoull(argv[3], NULL, 10), argv + 4);
    fprintf(stderr, "usage: see the comment at the top of map_tool.c\n");
    return 2;
}
