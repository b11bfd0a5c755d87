/*
 * The shared vectors (tests/vectors/map.json, transfer.json) through the C API: the same
 * table the core, Java and Python suites run, with outcomes mapped through the C column of
 * tests/vectors/README.md (ZC_ERR_* codes, zc_last_errno() for io:ERRNO).
 */
#include "json_lite.h"
#include "zc_test.h"

/* A descriptor made from a vector's description, and what must be cleaned up beside it. */
struct made {
    int fd;
    int keep_fd;        /* the other end of a pipe or socket pair, or -1 */
    int draining;       /* a drain thread reads the other end */
    struct zc_drain drain;
    char path[64];      /* a temporary file to unlink, or "" */
};

static int make(const struct json *desc, struct made *m) {
    memset(m, 0, sizeof *m);
    m->fd = -1;
    m->keep_fd = -1;
    const char *kind = json_str(json_get(desc, "kind"));
    if (!kind) return -1;
    if (strcmp(kind, "file") == 0) {
        const char *open_mode = json_str(json_get(desc, "open"));
        int flags = O_RDONLY;
        if (strcmp(open_mode, "w") == 0) flags = O_WRONLY;
        else if (strcmp(open_mode, "rw") == 0) flags = O_RDWR;
        else if (strcmp(open_mode, "append") == 0) flags = O_WRONLY | O_APPEND;
        m->fd = zc_temp_file(m->path, (uint64_t)json_int(json_get(desc, "size"), 0), flags);
        return m->fd < 0 ? -1 : 0;
    }
    if (strcmp(kind, "closed") == 0) {
        m->fd = ZC_CLOSED_FD;
        return 0;
    }
    if (strcmp(kind, "directory") == 0) m->fd = open("/", O_RDONLY | O_CLOEXEC);
    else if (strcmp(kind, "dev_zero") == 0) m->fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
    else if (strcmp(kind, "dev_null") == 0) m->fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    else if (strcmp(kind, "proc_file") == 0) m->fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    else if (strcmp(kind, "pipe_read") == 0 || strcmp(kind, "pipe_write") == 0) {
        int p[2];
        if (pipe2(p, O_CLOEXEC)) return -1;
        if (strcmp(kind, "pipe_read") == 0) {
            m->fd = p[0];
            if (json_int(json_get(desc, "writer_closed"), 0)) close(p[1]);
            else m->keep_fd = p[1];
        } else {
            m->fd = p[1];
            m->draining = 1;
            if (zc_drain_start(&m->drain, p[0], NULL, 0)) return -1;
        }
    } else if (strcmp(kind, "socket") == 0) {
        int sv[2];
        if (zc_socket_pair(sv)) return -1;
        m->fd = sv[0];
        m->draining = 1;
        if (zc_drain_start(&m->drain, sv[1], NULL, 0)) return -1;
    } else {
        fprintf(stderr, "  unknown descriptor kind %s\n", kind);
        return -1;
    }
    return m->fd < 0 ? -1 : 0;
}

static void unmake(struct made *m) {
    if (m->fd >= 0 && m->fd != ZC_CLOSED_FD) close(m->fd);
    if (m->keep_fd >= 0) close(m->keep_fd);
    if (m->draining) zc_drain_join(&m->drain);
    if (m->path[0]) unlink(m->path);
}

/* The language-neutral class of a failed call (README.md's table, C column). */
static void class_of(zc_result rc, char *out, size_t len) {
    const char *name = NULL;
    switch (rc) {
    case ZC_ERR_INVALID_ARG: name = "invalid_argument"; break;
    case ZC_ERR_CLOSED: name = "closed"; break;
    case ZC_ERR_NOT_READABLE: name = "not_readable"; break;
    case ZC_ERR_NOT_WRITABLE: name = "not_writable"; break;
    case ZC_ERR_PAST_EOF: name = "past_end_of_file"; break;
    case ZC_ERR_UNSUPPORTED: name = "unsupported"; break;
    case ZC_ERR_OUT_OF_RANGE: name = "out_of_range"; break;
    case ZC_ERR_TRUNCATED: name = "truncated"; break;
    case ZC_ERR_WOULD_BLOCK: name = "would_block"; break;
    default: break;
    }
    if (name) {
        snprintf(out, len, "%s", name);
        return;
    }
    if (rc != ZC_ERR_IO) {
        snprintf(out, len, "%s", zc_result_str(rc));
        return;
    }
    int e = zc_last_errno();
    const char *ename = e == ENODEV ? "ENODEV" : e == ESPIPE ? "ESPIPE" : e == EISDIR ? "EISDIR"
                      : e == EINVAL ? "EINVAL" : NULL;
    if (ename) snprintf(out, len, "io:%s", ename);
    else snprintf(out, len, "io:%d", e);
}

static zc_transfer_method method_of(const char *name) {
    if (!name) return ZC_METHOD_NONE;
    if (strcmp(name, "copy_file_range") == 0) return ZC_METHOD_COPY_FILE_RANGE;
    if (strcmp(name, "sendfile") == 0) return ZC_METHOD_SENDFILE;
    if (strcmp(name, "splice") == 0) return ZC_METHOD_SPLICE;
    if (strcmp(name, "mmap+write") == 0) return ZC_METHOD_MMAP_WRITE;
    if (strcmp(name, "read/write") == 0) return ZC_METHOD_READ_WRITE;
    return 1000; /* refused by the library: the case fails loudly */
}

/* Checks an expected error; returns 1 when the case expected one. */
static int check_error(const char *name, const struct json *expect, zc_result rc) {
    const char *want = json_str(json_get(expect, "error"));
    char got[64];
    if (want) {
        class_of(rc, got, sizeof got);
        if (rc == ZC_OK || strcmp(got, want) != 0) {
            fprintf(stderr, "  %s: expected %s, got %s\n", name, want, rc == ZC_OK ? "success" : got);
            zc_test_failures_in_test++;
        }
        return 1;
    }
    if (rc != ZC_OK) {
        char msg[256];
        size_t n;
        if (zc_last_error_message(msg, sizeof msg, &n) != ZC_OK) msg[0] = 0;
        fprintf(stderr, "  %s: unexpected %s: %s\n", name, zc_result_str(rc), msg);
        zc_test_failures_in_test++;
        return 1;
    }
    return 0;
}

static int64_t file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

static void run_map_case(const struct json *c) {
    const char *name = json_str(json_get(c, "name"));
    struct made m;
    if (make(json_get(c, "fd"), &m)) {
        fprintf(stderr, "  %s: cannot make the descriptor\n", name);
        zc_test_failures_in_test++;
        unmake(&m);
        return;
    }
    const char *mode_name = json_str(json_get(c, "mode"));
    zc_map_mode mode = strcmp(mode_name, "read_only") == 0    ? ZC_MAP_READ_ONLY
                       : strcmp(mode_name, "read_write") == 0 ? ZC_MAP_READ_WRITE
                       : strcmp(mode_name, "private") == 0    ? ZC_MAP_PRIVATE
                                                              : 99;
    int64_t position = json_int(json_get(c, "position"), 0);
    const struct json *size = json_get(c, "size");
    zc_region *r = NULL;
    zc_result rc = json_is(size, JSON_NULL) ? zc_region_map_to_end(m.fd, mode, position, 0, &r)
                                            : zc_region_map(m.fd, mode, position, json_int(size, 0), 0, &r);
    const struct json *expect = json_get(c, "expect");
    if (!check_error(name, expect, rc)) {
        int64_t len = json_int(json_get(expect, "len"), -1);
        if ((int64_t)zc_region_len(r) != len) {
            fprintf(stderr, "  %s: len %zu, want %lld\n", name, zc_region_len(r), (long long)len);
            zc_test_failures_in_test++;
        }
        int64_t after = json_int(json_get(expect, "file_size_after"), -1);
        if (after >= 0 && file_size(m.path) != after) {
            fprintf(stderr, "  %s: file size %lld, want %lld\n", name, (long long)file_size(m.path),
                    (long long)after);
            zc_test_failures_in_test++;
        }
    }
    if (r && zc_region_free(r) != ZC_OK) zc_test_failures_in_test++;
    unmake(&m);
}

static void run_transfer_case(const struct json *c) {
    const char *name = json_str(json_get(c, "name"));
    struct made file, other;
    int bad = make(json_get(c, "file"), &file);
    bad |= make(json_get(c, "other"), &other);
    if (bad) {
        fprintf(stderr, "  %s: cannot make the descriptors\n", name);
        zc_test_failures_in_test++;
        unmake(&file);
        unmake(&other);
        return;
    }
    int64_t pos = json_int(json_get(c, "position"), 0), count = json_int(json_get(c, "count"), 0);
    const char *using = json_str(json_get(c, "using"));
    const char *op = json_str(json_get(c, "op"));
    zc_transfer t;
    zc_result rc;
    if (strcmp(op, "transfer_to") == 0)
        rc = using ? zc_transfer_to_using(method_of(using), file.fd, pos, count, other.fd, &t)
                   : zc_transfer_to(file.fd, pos, count, other.fd, &t);
    else
        rc = using ? zc_transfer_from_using(method_of(using), file.fd, other.fd, pos, count, &t)
                   : zc_transfer_from(file.fd, other.fd, pos, count, &t);
    const struct json *expect = json_get(c, "expect");
    if (!check_error(name, expect, rc)) {
        int64_t bytes = json_int(json_get(expect, "bytes"), -1);
        int64_t at_least = json_int(json_get(expect, "bytes_at_least"), -1);
        const char *method = json_str(json_get(expect, "method"));
        int64_t after = json_int(json_get(expect, "file_size_after"), -1);
        if (bytes >= 0 && (int64_t)t.bytes != bytes) {
            fprintf(stderr, "  %s: %llu bytes, want %lld\n", name, (unsigned long long)t.bytes, (long long)bytes);
            zc_test_failures_in_test++;
        }
        if (at_least >= 0 && (int64_t)t.bytes < at_least) {
            fprintf(stderr, "  %s: %llu bytes, want at least %lld\n", name, (unsigned long long)t.bytes,
                    (long long)at_least);
            zc_test_failures_in_test++;
        }
        if (method && t.method != method_of(method)) {
            fprintf(stderr, "  %s: method %s, want %s\n", name, zc_transfer_method_name(t.method), method);
            zc_test_failures_in_test++;
        }
        if (json_int(json_get(expect, "zero_copy"), 0) && !zc_transfer_method_is_zero_copy(t.method)) {
            fprintf(stderr, "  %s: method %s is not zero-copy\n", name, zc_transfer_method_name(t.method));
            zc_test_failures_in_test++;
        }
        if (after >= 0 && file_size(file.path) != after) {
            fprintf(stderr, "  %s: file size %lld, want %lld\n", name, (long long)file_size(file.path),
                    (long long)after);
            zc_test_failures_in_test++;
        }
    }
    unmake(&file);
    unmake(&other);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = (char *)malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s) s[n] = 0;
    fclose(f);
    return s;
}

static int run_file(const char *file, void (*run)(const struct json *)) {
    char path[4096];
    const char *root = getenv("ZC_ROOT");
    snprintf(path, sizeof path, "%s/tests/vectors/%s", root ? root : ".", file);
    char *text = slurp(path);
    if (!text) {
        printf("FAIL %s: cannot read %s (set ZC_ROOT to the checkout)\n", file, path);
        zc_test_failed++;
        return 0;
    }
    const char *err = NULL;
    struct json *doc = json_parse(text, &err);
    free(text);
    const struct json *cases = json_get(doc, "cases");
    if (!doc || !json_is(cases, JSON_ARRAY) || json_len(cases) == 0) {
        printf("FAIL %s: not a vector file (%s)\n", file, err ? err : "no cases");
        zc_test_failed++;
        json_free(doc);
        return 0;
    }
    for (const struct json *c = cases->child; c; c = c->next) {
        zc_test_failures_in_test = 0;
        run(c);
        const char *name = json_str(json_get(c, "name"));
        if (zc_test_failures_in_test) {
            zc_test_failed++;
            printf("FAIL %s: %s\n", file, name);
        } else {
            zc_test_passed++;
            printf("ok   %s: %s\n", file, name);
        }
    }
    size_t n = json_len(cases);
    json_free(doc);
    return (int)n;
}

/* The parser itself, on the inputs the vectors rely on and on what it must refuse. */
TEST(json_lite_reads_the_subset_and_refuses_the_rest) {
    const char *err = NULL;
    struct json *v = json_parse("{\"a\": [1, -9223372036854775808, null, true, \"x\\\"y\"]}", &err);
    REQUIRE(v != NULL);
    const struct json *a = json_get(v, "a");
    CHECK(json_len(a) == 5);
    CHECK(json_int(json_at(a, 1), 0) == INT64_MIN);
    CHECK(json_is(json_at(a, 2), JSON_NULL));
    CHECK(json_int(json_at(a, 3), 0) == 1);
    CHECK(strcmp(json_str(json_at(a, 4)), "x\"y") == 0);
    json_free(v);
    CHECK(json_parse("{\"a\": 1.5}", &err) == NULL && err != NULL);
    CHECK(json_parse("[1, 2", &err) == NULL);
    CHECK(json_parse("\"\\u0041\"", &err) == NULL);
    CHECK(json_parse("{} x", &err) == NULL);
}

int main(void) {
    RUN(json_lite_reads_the_subset_and_refuses_the_rest);
    int maps = run_file("map.json", run_map_case);
    int transfers = run_file("transfer.json", run_transfer_case);
    printf("vectors: %d map cases, %d transfer cases\n", maps, transfers);
    return zc_test_summary("test_vectors");
}
