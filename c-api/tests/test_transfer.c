/*
 * Transfers through the C API: zc_transfer_to / _from / _all with FileChannel semantics and
 * error order, forced methods, non-blocking targets, the system calls a transfer counts, header
 * and body, and the direct sendfile, splice and tee. The bytes are checked where they arrive.
 */
#include "zc_test.h"

/* Whether `got` holds the pattern bytes from `start` on. */
static int is_pattern(const uint8_t *got, uint64_t start, size_t len) {
    int same = 1;
    for (size_t i = 0; i < len; i++) same &= got[i] == zc_pattern_byte(start + i);
    return same;
}

/* The files most tests move bytes between: `src` with `size` pattern bytes, read-only, and an
 * empty read-write `dst` (none when NULL). Returns 0, or -1. */
static int make_files(struct zc_file *src, uint64_t size, struct zc_file *dst) {
    if (zc_file_create(src, size, O_RDONLY) < 0) return -1;
    return dst && zc_file_create(dst, 0, O_RDWR) < 0 ? -1 : 0;
}

static void remove_files(struct zc_file *src, struct zc_file *dst) {
    zc_file_remove(src);
    if (dst) zc_file_remove(dst);
}

TEST(transfer_to_a_file_and_a_socket_reports_the_method) {
    struct zc_file src, dst;
    REQUIRE(make_files(&src, 100000, &dst) == 0);
    zc_transfer t;
    CHECK_OK(zc_transfer_to(src.fd, 0, 100000, dst.fd, &t));
    CHECK(t.bytes == 100000 && !t.would_block);
    /* A large range between files on an ext4-like file system: splice (README, "Which path"). */
    CHECK(t.method == ZC_METHOD_SPLICE);
    CHECK(zc_transfer_method_is_zero_copy(t.method));
    CHECK(strcmp(zc_transfer_method_name(t.method), "splice") == 0);
    CHECK(lseek(src.fd, 0, SEEK_CUR) == 0); /* the source position did not move */
    uint8_t b = 0;
    CHECK(pread(dst.fd, &b, 1, 99999) == 1 && b == zc_pattern_byte(99999));
    /* Clamped at the end; a position at or past the end moves nothing. */
    CHECK_OK(zc_transfer_to(src.fd, 99900, INT64_MAX, dst.fd, &t));
    CHECK(t.bytes == 100);
    CHECK_OK(zc_transfer_to(src.fd, 100000, 10, dst.fd, &t));
    CHECK(t.bytes == 0 && t.method == ZC_METHOD_NONE);
    /* To a blocking AF_UNIX socket: a peer on this host, so the planner copies large transfers
     * once from a mapping; bytes verified on the other side. */
    int sv[2];
    REQUIRE(zc_socket_pair(sv) == 0);
    static uint8_t got[100000];
    struct zc_drain d;
    REQUIRE(zc_drain_start(&d, sv[1], got, sizeof got) == 0);
    CHECK_OK(zc_transfer_all(src.fd, 0, INT64_MAX, sv[0], &t));
    CHECK(t.bytes == 100000 && t.method == ZC_METHOD_MMAP_WRITE);
    close(sv[0]);
    CHECK(zc_drain_join(&d) == 100000);
    CHECK(is_pattern(got, 0, sizeof got));
    CHECK_RC(zc_transfer_to(src.fd, 0, 10, dst.fd, NULL), ZC_ERR_NULL_PARAM);
    CHECK_RC(zc_transfer_all(src.fd, -1, 10, dst.fd, &t), ZC_ERR_INVALID_ARG);
    CHECK_RC(zc_transfer_all(src.fd, 0, 10, -5, &t), ZC_ERR_CLOSED);
    CHECK_RC(zc_transfer_all(src.fd, 0, 10, dst.fd, NULL), ZC_ERR_NULL_PARAM);
    remove_files(&src, &dst);
}

TEST(transfer_errors_follow_filechannel_order) {
    struct zc_file in, out;
    REQUIRE(make_files(&in, 1000, &out) == 0);
    int ro = in.fd, wo = open(in.path, O_WRONLY | O_CLOEXEC), dir = open("/", O_RDONLY | O_CLOEXEC);
    REQUIRE(wo >= 0 && dir >= 0);
    /* transfer_to(src, position, count, target) and transfer_from(target, src, position, count):
     * each row fails at its first wrong argument, in the order FileChannel checks them. */
    const struct {
        bool from;
        int file, other;
        int64_t position, count;
        zc_result want;
        int want_errno;
    } cases[] = {
        {false, ZC_CLOSED_FD, out.fd, -1, 10, ZC_ERR_CLOSED, EBADF},
        {false, ro, ZC_CLOSED_FD, 0, 10, ZC_ERR_CLOSED, EBADF},
        {false, wo, out.fd, -1, 10, ZC_ERR_NOT_READABLE, EBADF},
        {false, ro, ro, 0, 10, ZC_ERR_NOT_WRITABLE, EBADF},
        {false, ro, out.fd, -1, 10, ZC_ERR_INVALID_ARG, EINVAL},
        {false, ro, out.fd, 0, INT64_MIN, ZC_ERR_INVALID_ARG, EINVAL},
        {false, dir, out.fd, 0, 10, ZC_ERR_IO, EISDIR},
        {true, ZC_CLOSED_FD, ro, 0, 10, ZC_ERR_CLOSED, EBADF},
        {true, out.fd, wo, 0, 10, ZC_ERR_NOT_READABLE, EBADF},
        {true, ro, ro, 0, 10, ZC_ERR_NOT_WRITABLE, EBADF},
        {true, out.fd, ro, -1, 10, ZC_ERR_INVALID_ARG, EINVAL},
    };
    zc_transfer t = {7, 7, true, 7};
    FOR_EACH_CASE(i, cases) {
        if (cases[i].from)
            CHECK_RC(zc_transfer_from(cases[i].file, cases[i].other, cases[i].position, cases[i].count, &t),
                     cases[i].want);
        else
            CHECK_RC(zc_transfer_to(cases[i].file, cases[i].position, cases[i].count, cases[i].other, &t),
                     cases[i].want);
        CHECK(zc_last_errno() == cases[i].want_errno);
    }
    CHECK(t.bytes == 7 && t.method == 7 && t.would_block && t.syscalls == 7); /* untouched by failures */
    CHECK_RC(zc_transfer_from(out.fd, ro, 0, 10, NULL), ZC_ERR_NULL_PARAM);
    close(wo);
    close(dir);
    remove_files(&in, &out);
}

TEST(transfer_from_a_socket_into_a_file_at_a_position) {
    struct zc_file dst;
    REQUIRE(zc_file_create(&dst, 10, O_RDWR) >= 0);
    int sv[2];
    REQUIRE(zc_socket_pair(sv) == 0);
    REQUIRE(write(sv[1], "0123456789", 10) == 10);
    close(sv[1]);
    zc_transfer t;
    CHECK_OK(zc_transfer_from(dst.fd, sv[0], 100, 1000, &t));
    CHECK(t.bytes == 10);
    CHECK(zc_transfer_method_is_zero_copy(t.method));
    struct stat st;
    fstat(dst.fd, &st);
    CHECK(st.st_size == 110);
    char back[11] = {0};
    CHECK(pread(dst.fd, back, 10, 100) == 10 && strcmp(back, "0123456789") == 0);
    CHECK(lseek(dst.fd, 0, SEEK_CUR) == 0);
    /* Forced read/write. */
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    REQUIRE(write(p[1], "abc", 3) == 3);
    close(p[1]);
    CHECK_OK(zc_transfer_from_using(ZC_METHOD_READ_WRITE, dst.fd, p[0], 0, 3, &t));
    CHECK(t.bytes == 3 && t.method == ZC_METHOD_READ_WRITE);
    CHECK_RC(zc_transfer_from_using(ZC_METHOD_NONE, dst.fd, p[0], 0, 3, &t), ZC_ERR_INVALID_ARG);
    CHECK_RC(zc_transfer_from_using(ZC_METHOD_SPLICE, dst.fd, p[0], 0, 3, NULL), ZC_ERR_NULL_PARAM);
    close(p[0]);
    close(sv[0]);
    zc_file_remove(&dst);
}

TEST(forced_methods_run_or_say_unsupported) {
    struct zc_file src, out;
    REQUIRE(make_files(&src, 50000, &out) == 0);
    static const zc_transfer_method file_methods[] = {ZC_METHOD_COPY_FILE_RANGE, ZC_METHOD_SENDFILE,
                                                      ZC_METHOD_SPLICE, ZC_METHOD_MMAP_WRITE,
                                                      ZC_METHOD_READ_WRITE};
    FOR_EACH_CASE(i, file_methods) {
        zc_transfer t;
        CHECK_OK(zc_transfer_to_using(file_methods[i], src.fd, 0, 50000, out.fd, &t));
        CHECK(t.bytes == 50000 && t.method == file_methods[i]);
        CHECK_OK(zc_transfer_all_using(file_methods[i], src.fd, 0, INT64_MAX, out.fd, &t));
        CHECK(t.bytes == 50000 && t.method == file_methods[i]);
    }
    int sv[2];
    REQUIRE(zc_socket_pair(sv) == 0);
    zc_transfer t;
    CHECK_RC(zc_transfer_to_using(ZC_METHOD_COPY_FILE_RANGE, src.fd, 0, 100, sv[0], &t), ZC_ERR_UNSUPPORTED);
    CHECK(zc_last_errno() == EOPNOTSUPP);
    CHECK_RC(zc_transfer_to_using(99, src.fd, 0, 100, sv[0], &t), ZC_ERR_INVALID_ARG);
    CHECK_RC(zc_transfer_to_using(ZC_METHOD_SENDFILE, src.fd, 0, 100, sv[0], NULL), ZC_ERR_NULL_PARAM);
    CHECK_RC(zc_transfer_all_using(ZC_METHOD_NONE, src.fd, 0, 100, sv[0], &t), ZC_ERR_INVALID_ARG);
    zc_close_pair(sv);
    remove_files(&src, &out);
}

TEST(method_names_and_kinds) {
    const struct {
        zc_transfer_method method;
        const char *name;
        bool zero_copy;
    } methods[] = {
        {ZC_METHOD_NONE, "none", false},
        {ZC_METHOD_COPY_FILE_RANGE, "copy_file_range", true},
        {ZC_METHOD_SENDFILE, "sendfile", true},
        {ZC_METHOD_SPLICE, "splice", true},
        {ZC_METHOD_MMAP_WRITE, "mmap+write", false},
        {ZC_METHOD_READ_WRITE, "read/write", false},
        {1000, "unknown", false},
    };
    FOR_EACH_CASE(i, methods) {
        CHECK(strcmp(zc_transfer_method_name(methods[i].method), methods[i].name) == 0);
        CHECK(zc_transfer_method_is_zero_copy(methods[i].method) == methods[i].zero_copy);
    }
}

TEST(non_blocking_target_would_block_is_not_an_error) {
    struct zc_file src;
    REQUIRE(make_files(&src, 8 << 20, NULL) == 0);
    int sv[2];
    REQUIRE(zc_socket_pair(sv) == 0);
    zc_set_nonblocking(sv[0]);
    zc_transfer t;
    uint64_t total = 0;
    int rounds = 0;
    do {
        CHECK_OK(zc_transfer_to(src.fd, (int64_t)total, (8 << 20) - (int64_t)total, sv[0], &t));
        total += t.bytes;
    } while (!t.would_block && ++rounds < 1000);
    CHECK(t.would_block);
    CHECK(total < (8u << 20));
    /* Full: a transfer moves 0 bytes and says would_block; the direct call says so as an error. */
    CHECK_OK(zc_transfer_to(src.fd, (int64_t)total, 4096, sv[0], &t));
    CHECK(t.bytes == 0 && t.would_block);
    int64_t off = 0;
    size_t n = 99;
    CHECK_RC(zc_sendfile(sv[0], src.fd, &off, 4096, &n), ZC_ERR_WOULD_BLOCK);
    CHECK(zc_last_errno() == EAGAIN);
    CHECK(off == 0 && n == 99);
    zc_close_pair(sv);
    remove_files(&src, NULL);
}

TEST(transfers_count_their_system_calls) {
    struct zc_file src, dst;
    REQUIRE(make_files(&src, 4 << 20, &dst) == 0);
    /* Where SIGPIPE keeps its default action, the core blocks it around the call and restores
     * the mask afterwards: two pthread_sigmask calls on top of the transfer's own. */
    struct sigaction sa;
    REQUIRE(sigaction(SIGPIPE, NULL, &sa) == 0);
    uint64_t shield = sa.sa_handler == SIG_IGN ? 0 : 2;
    zc_transfer t;
    CHECK_OK(zc_transfer_to(src.fd, 0, 4096, dst.fd, &t)); /* the first call probes and leaves a hint */
    CHECK(t.syscalls >= 1 + shield);
    CHECK_OK(zc_transfer_to(src.fd, 0, 4096, dst.fd, &t));
    CHECK(t.bytes == 4096 && t.syscalls == 1 + shield); /* the steady state: one copy_file_range */
    /* Nothing to move: the checks alone (an F_GETFL per descriptor), no SIGPIPE shield. */
    CHECK_OK(zc_transfer_to(src.fd, 0, 0, dst.fd, &t));
    CHECK(t.bytes == 0 && t.syscalls == 2);
    /* A 64 KiB read/write loop: a pread and a write per 64 KiB, plus the probes. */
    CHECK_OK(zc_transfer_all_using(ZC_METHOD_READ_WRITE, src.fd, 0, 4 << 20, dst.fd, &t));
    CHECK(t.bytes == 4u << 20 && t.syscalls >= 128 && t.syscalls < 128 + 16 + 64 * shield);
    CHECK_OK(zc_transfer_all_using(ZC_METHOD_SENDFILE, src.fd, 0, 4 << 20, dst.fd, &t));
    CHECK(t.bytes == 4u << 20 && t.syscalls >= 1 && t.syscalls < 16);
    /* With a header and a body of at most 16 KiB: one pread and one sendmsg of both (MSG_NOSIGNAL:
     * no SIGPIPE shield), reported as read/write. */
    int sv[2];
    REQUIRE(zc_socket_pair(sv) == 0);
    size_t sent = 0;
    CHECK_OK(zc_transfer_to_with_header(src.fd, 0, 100, sv[0], (const uint8_t *)"hdr", 3, &sent, &t));
    CHECK(sent == 3 && t.bytes == 100 && t.syscalls >= 1);
    CHECK_OK(zc_transfer_to_with_header(src.fd, 0, 100, sv[0], (const uint8_t *)"hdr", 3, &sent, &t));
    CHECK(sent == 3 && t.bytes == 100 && t.syscalls == 2 && t.method == ZC_METHOD_READ_WRITE);
    zc_close_pair(sv);
    remove_files(&src, &dst);
}

TEST(header_and_body_arrive_in_order) {
    struct zc_file src;
    REQUIRE(make_files(&src, 300000, NULL) == 0);
    int tcp[2];
    REQUIRE(zc_tcp_pair(tcp) == 0);
    static uint8_t got[400000];
    struct zc_drain d;
    REQUIRE(zc_drain_start(&d, tcp[0], got, sizeof got) == 0);
    const char *header = "HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n";
    size_t hlen = strlen(header), sent = 0;
    zc_transfer body;
    CHECK_OK(zc_transfer_to_with_header(src.fd, 0, 300000, tcp[1], (const uint8_t *)header, hlen, &sent, &body));
    CHECK(sent == hlen);
    uint64_t done = body.bytes;
    while (done < 300000) {
        zc_transfer t;
        zc_result rc = zc_transfer_to(src.fd, (int64_t)done, 300000 - (int64_t)done, tcp[1], &t);
        CHECK_OK(rc);
        if (rc != ZC_OK || t.bytes == 0) break;
        done += t.bytes;
    }
    shutdown(tcp[1], SHUT_WR);
    CHECK(zc_drain_join(&d) == hlen + 300000);
    CHECK(memcmp(got, header, hlen) == 0);
    CHECK(is_pattern(got + hlen, 0, 300000));
    /* A header alone (count 0), and the argument errors. */
    int sv[2];
    REQUIRE(zc_socket_pair(sv) == 0);
    CHECK_OK(zc_transfer_to_with_header(src.fd, 0, 0, sv[0], (const uint8_t *)"hi", 2, &sent, &body));
    CHECK(sent == 2 && body.bytes == 0);
    char hi[3] = {0};
    CHECK(read(sv[1], hi, 2) == 2 && strcmp(hi, "hi") == 0);
    const uint8_t *x = (const uint8_t *)"x";
    CHECK_RC(zc_transfer_to_with_header(src.fd, 0, 10, sv[0], NULL, 5, &sent, &body), ZC_ERR_NULL_PARAM);
    CHECK_RC(zc_transfer_to_with_header(src.fd, 0, 10, sv[0], x, 1, NULL, &body), ZC_ERR_NULL_PARAM);
    CHECK_RC(zc_transfer_to_with_header(src.fd, -1, 10, sv[0], x, 1, &sent, &body), ZC_ERR_INVALID_ARG);
    struct zc_file notsock;
    REQUIRE(zc_file_create(&notsock, 0, O_RDWR) >= 0);
    CHECK_RC(zc_transfer_to_with_header(src.fd, 0, 10, notsock.fd, x, 1, &sent, &body), ZC_ERR_IO);
    CHECK(zc_last_errno() == ENOTSOCK);
    zc_file_remove(&notsock);
    zc_close_pair(sv);
    close(tcp[1]);
    remove_files(&src, NULL);
}

TEST(sendfile_splice_and_tee_are_the_system_calls) {
    struct zc_file src, out;
    REQUIRE(make_files(&src, 10000, &out) == 0);
    int p[2], q[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0 && pipe2(q, O_CLOEXEC) == 0);
    /* sendfile with an offset: the offset advances, the file position does not. */
    int64_t off = 100;
    size_t n = 0;
    CHECK_OK(zc_sendfile(p[1], src.fd, &off, 50, &n));
    CHECK(n == 50 && off == 150 && lseek(src.fd, 0, SEEK_CUR) == 0);
    /* Without: the file position advances. */
    CHECK_OK(zc_sendfile(p[1], src.fd, NULL, 10, &n));
    CHECK(n == 10 && lseek(src.fd, 0, SEEK_CUR) == 10);
    /* tee duplicates the pipe's 60 bytes into q without consuming them. */
    CHECK_OK(zc_tee(p[0], q[1], 1000, ZC_SPLICE_F_NONBLOCK, &n));
    CHECK(n == 60);
    uint8_t a[60], b[60];
    CHECK(read(p[0], a, 60) == 60 && read(q[0], b, 60) == 60 && memcmp(a, b, 60) == 0);
    CHECK(a[0] == zc_pattern_byte(100) && a[50] == zc_pattern_byte(0));
    /* splice file -> pipe at an offset, pipe -> file. */
    off = 5000;
    CHECK_OK(zc_splice(src.fd, &off, p[1], NULL, 100, ZC_SPLICE_F_MOVE | ZC_SPLICE_F_MORE, &n));
    CHECK(n == 100 && off == 5100);
    int64_t out_off = 7;
    CHECK_OK(zc_splice(p[0], NULL, out.fd, &out_off, 100, 0, &n));
    CHECK(n == 100 && out_off == 107);
    uint8_t c = 0;
    CHECK(pread(out.fd, &c, 1, 7) == 1 && c == zc_pattern_byte(5000));
    /* Errors: unknown flags, negative offsets, no pipe, NULL counts, closed descriptors. */
    CHECK_RC(zc_splice(src.fd, NULL, p[1], NULL, 10, 0x100, &n), ZC_ERR_INVALID_ARG);
    off = -1;
    CHECK_RC(zc_splice(src.fd, &off, p[1], NULL, 10, 0, &n), ZC_ERR_INVALID_ARG);
    CHECK_RC(zc_sendfile(p[1], src.fd, &off, 10, &n), ZC_ERR_INVALID_ARG);
    CHECK(off == -1);
    CHECK_RC(zc_splice(src.fd, NULL, out.fd, NULL, 10, 0, &n), ZC_ERR_IO);
    CHECK(zc_last_errno() == EINVAL);
    CHECK_RC(zc_splice(src.fd, NULL, p[1], NULL, 10, 0, NULL), ZC_ERR_NULL_PARAM);
    CHECK_RC(zc_sendfile(p[1], src.fd, NULL, 10, NULL), ZC_ERR_NULL_PARAM);
    CHECK_RC(zc_tee(p[0], q[1], 10, 0, NULL), ZC_ERR_NULL_PARAM);
    CHECK_RC(zc_tee(p[0], q[1], 10, 0x40, &n), ZC_ERR_INVALID_ARG);
    CHECK_RC(zc_tee(ZC_CLOSED_FD, q[1], 10, 0, &n), ZC_ERR_CLOSED);
    CHECK_RC(zc_sendfile(-1, src.fd, NULL, 10, &n), ZC_ERR_CLOSED);
    zc_close_pair(p);
    zc_close_pair(q);
    remove_files(&src, &out);
}

int main(void) {
    RUN(transfer_to_a_file_and_a_socket_reports_the_method);
    RUN(transfer_errors_follow_filechannel_order);
    RUN(transfer_from_a_socket_into_a_file_at_a_position);
    RUN(forced_methods_run_or_say_unsupported);
    RUN(method_names_and_kinds);
    RUN(non_blocking_target_would_block_is_not_an_error);
    RUN(transfers_count_their_system_calls);
    RUN(header_and_body_arrive_in_order);
    RUN(sendfile_splice_and_tee_are_the_system_calls);
    return zc_test_summary("test_transfer");
}
