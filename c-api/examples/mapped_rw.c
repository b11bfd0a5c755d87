/*
 * mapped_rw: write and read a file through zcopy regions.
 *
 *   mapped_rw write FILE SIZE   create (or grow) FILE to SIZE bytes through a read-write region,
 *                               fill it with a pattern, and force it to disk
 *   mapped_rw read FILE         map FILE read-only, fault it in, and check every byte
 *   mapped_rw version           print the library version
 *
 * SIZE takes K, M and G suffixes. Byte i of the pattern is (i * 7 + i / 251) mod 256. The
 * reader installs the truncation guard, so a file truncated by someone else while it reads
 * is reported (ZC_ERR_TRUNCATED) instead of killing it with SIGBUS.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "zcopy.h"

static int failed(const char *what, zc_result rc) {
    char msg[256];
    size_t n = 0;
    if (zc_last_error_message(msg, sizeof msg, &n) != ZC_OK) msg[0] = 0;
    fprintf(stderr, "mapped_rw: %s: %s: %s\n", what, zc_result_str(rc), msg);
    return 1;
}

static int64_t parse_size(const char *s) {
    char *end = NULL;
    int64_t v = strtoll(s, &end, 10);
    switch (end ? *end : 0) {
    case 'G': case 'g': return v << 30;
    case 'M': case 'm': return v << 20;
    case 'K': case 'k': return v << 10;
    default: return v;
    }
}

static int write_file(const char *path, int64_t size) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        perror(path);
        return 1;
    }
    zc_region *r = NULL;
    /* A read-write mapping past the end grows the file, as FileChannel.map does. */
    zc_result rc = zc_region_map(fd, ZC_MAP_READ_WRITE, 0, size, 0, &r);
    close(fd);
    if (rc != ZC_OK) return failed("map", rc);
    uint8_t *p = NULL;
    if ((rc = zc_region_data_mut(r, &p)) != ZC_OK) return failed("data", rc);
    size_t len = zc_region_len(r);
    for (size_t i = 0; i < len; i++) p[i] = (uint8_t)(i * 7 + i / 251);
    if ((rc = zc_region_force(r)) != ZC_OK) return failed("force", rc);
    printf("wrote %zu bytes to %s through a mapping, forced\n", len, path);
    return zc_region_free(r) == ZC_OK ? 0 : 1;
}

static int read_file(const char *path) {
    zc_result rc = zc_guard_install();
    if (rc != ZC_OK) return failed("guard", rc);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        perror(path);
        return 1;
    }
    zc_region *r = NULL;
    rc = zc_region_map_to_end(fd, ZC_MAP_READ_ONLY, 0, 0, &r);
    close(fd);
    if (rc != ZC_OK) return failed("map", rc);
    if ((rc = zc_region_advise(r, MADV_SEQUENTIAL)) != ZC_OK) return failed("advise", rc);
    if ((rc = zc_region_load(r)) != ZC_OK) return failed("load", rc);
    bool loaded = false;
    if ((rc = zc_region_is_loaded(r, &loaded)) != ZC_OK) return failed("is_loaded", rc);
    const uint8_t *p = zc_region_data(r);
    size_t len = zc_region_len(r), bad = 0;
    for (size_t i = 0; i < len; i++) bad += p[i] != (uint8_t)(i * 7 + i / 251);
    /* Reads through the pointer cannot report errors themselves: ask the region afterwards. */
    if ((rc = zc_region_check(r)) != ZC_OK) return failed("the bytes read are not the file's", rc);
    printf("read %zu bytes of %s through a mapping (resident after load: %s), %zu differ from the pattern\n",
           len, path, loaded ? "yes" : "no", bad);
    if ((rc = zc_region_free(r)) != ZC_OK) return failed("free", rc);
    return bad ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "version") == 0) {
        printf("libzcopy %s (header %d.%d.%d)\n", zc_version(), ZC_VERSION_MAJOR, ZC_VERSION_MINOR,
               ZC_VERSION_PATCH);
        return zc_version_number() == ZC_VERSION_NUMBER ? 0 : 1;
    }
    if (argc == 4 && strcmp(argv[1], "write") == 0) return write_file(argv[2], parse_size(argv[3]));
    if (argc == 3 && strcmp(argv[1], "read") == 0) return read_file(argv[2]);
    fprintf(stderr, "usage: %s write FILE SIZE | read FILE | version\n", argv[0]);
    return 2;
}
