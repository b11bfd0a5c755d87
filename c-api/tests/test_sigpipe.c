/*
 * A C host keeps SIGPIPE's default action (terminate). Transfers to a peer that has gone must
 * come back as ZC_ERR_IO with EPIPE (or ECONNRESET), never kill the process, and leave the
 * source file untouched. Each scenario runs in a child process, so a SIGPIPE death is observed
 * as such instead of ending the suite.
 */
#include <sys/wait.h>

#include "zc_test.h"

/* The file every scenario sends from. */
static struct zc_file src;
#define SRC_SIZE (1 << 20)

/* Runs `scenario` in a child with default SIGPIPE; it returns 0 when every check held. */
static void in_child(int (*scenario)(void)) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        pthread_sigmask(SIG_SETMASK, &none, NULL);
        _exit(scenario());
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "  the child died of signal %d (%s)\n", WTERMSIG(status), strsignal(WTERMSIG(status)));
        zc_test_failures_in_test++;
    } else {
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
}

static int expect_pipe_error(const char *what, zc_result rc) {
    int e = zc_last_errno();
    if (rc == ZC_ERR_IO && (e == EPIPE || e == ECONNRESET)) return 0;
    fprintf(stderr, "  %s: %s, errno %d (want ZC_ERR_IO with EPIPE/ECONNRESET)\n", what, zc_result_str(rc), e);
    return 1;
}

/* A socket pair whose peer is already closed. */
static int dead_socket(void) {
    int sv[2];
    if (zc_socket_pair(sv)) return -1;
    close(sv[1]);
    return sv[0];
}

static int transfer_to_a_closed_unix_peer(void) {
    int s = dead_socket();
    zc_transfer t;
    int bad = expect_pipe_error("zc_transfer_to", zc_transfer_to(src.fd, 0, SRC_SIZE, s, &t));
    bad |= expect_pipe_error("zc_transfer_all", zc_transfer_all(src.fd, 0, SRC_SIZE, s, &t));
    static const zc_transfer_method methods[] = {ZC_METHOD_SENDFILE, ZC_METHOD_SPLICE, ZC_METHOD_MMAP_WRITE,
                                                 ZC_METHOD_READ_WRITE};
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++)
        bad |= expect_pipe_error(zc_transfer_method_name(methods[i]),
                                 zc_transfer_to_using(methods[i], src.fd, 0, SRC_SIZE, s, &t));
    size_t sent = 0;
    bad |= expect_pipe_error("zc_transfer_to_with_header",
                             zc_transfer_to_with_header(src.fd, 0, SRC_SIZE, s, (const uint8_t *)"hdr", 3, &sent, &t));
    size_t n;
    int64_t off = 0;
    bad |= expect_pipe_error("zc_sendfile", zc_sendfile(s, src.fd, &off, 4096, &n));
    close(s);
    return bad;
}

static int transfer_to_a_pipe_without_reader(void) {
    int p[2];
    if (pipe2(p, O_CLOEXEC)) return 1;
    close(p[0]);
    zc_transfer t;
    int bad = expect_pipe_error("zc_transfer_to(pipe)", zc_transfer_to(src.fd, 0, SRC_SIZE, p[1], &t));
    size_t n;
    int64_t off = 0;
    bad |= expect_pipe_error("zc_splice", zc_splice(src.fd, &off, p[1], NULL, 4096, 0, &n));
    close(p[1]);
    return bad;
}

/* A TCP peer that resets the connection while the transfer is under way. */
static int transfer_to_a_tcp_peer_that_resets(void) {
    int tcp[2];
    if (zc_tcp_pair(tcp)) return 1;
    struct linger lg = {1, 0}; /* close() sends RST */
    setsockopt(tcp[0], SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(tcp[0]);
    zc_result rc = ZC_OK;
    zc_transfer t;
    /* The first writes may still be accepted before the RST arrives. */
    for (int i = 0; i < 1000 && rc == ZC_OK; i++) {
        rc = zc_transfer_to(src.fd, 0, SRC_SIZE, tcp[1], &t);
        if (rc == ZC_OK) usleep(1000);
    }
    int bad = expect_pipe_error("zc_transfer_to(tcp reset)", rc);
    close(tcp[1]);
    return bad;
}

/* A SIGPIPE the host already had pending (blocked) before the call is not consumed by zcopy. */
static int a_pending_sigpipe_of_the_host_survives(void) {
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);
    raise(SIGPIPE);
    int s = dead_socket();
    zc_transfer t;
    int bad = expect_pipe_error("zc_transfer_to", zc_transfer_to(src.fd, 0, SRC_SIZE, s, &t));
    sigset_t pending;
    sigpending(&pending);
    if (!sigismember(&pending, SIGPIPE)) {
        fprintf(stderr, "  the host's own pending SIGPIPE was consumed\n");
        bad = 1;
    }
    struct timespec zero = {0, 0};
    sigtimedwait(&pipe_set, NULL, &zero);
    close(s);
    return bad;
}

TEST(closed_unix_peer_gives_EPIPE_for_every_method) { in_child(transfer_to_a_closed_unix_peer); }
TEST(pipe_without_reader_gives_EPIPE) { in_child(transfer_to_a_pipe_without_reader); }
TEST(tcp_reset_gives_an_error_not_a_signal) { in_child(transfer_to_a_tcp_peer_that_resets); }
TEST(a_pending_sigpipe_of_the_host_is_left_alone) { in_child(a_pending_sigpipe_of_the_host_survives); }

TEST(the_source_file_is_untouched) {
    uint8_t buf[65536];
    int same = 1;
    struct stat st;
    REQUIRE(fstat(src.fd, &st) == 0);
    CHECK(st.st_size == SRC_SIZE);
    for (off_t off = 0; off < SRC_SIZE; off += (off_t)sizeof buf) {
        REQUIRE(pread(src.fd, buf, sizeof buf, off) == (ssize_t)sizeof buf);
        for (size_t i = 0; i < sizeof buf; i++) same &= buf[i] == zc_pattern_byte((uint64_t)off + i);
    }
    CHECK(same);
    CHECK(lseek(src.fd, 0, SEEK_CUR) == 0);
}

int main(void) {
    if (zc_file_create(&src, SRC_SIZE, O_RDONLY) < 0) {
        perror("temp file");
        return 1;
    }
    RUN(closed_unix_peer_gives_EPIPE_for_every_method);
    RUN(pipe_without_reader_gives_EPIPE);
    RUN(tcp_reset_gives_an_error_not_a_signal);
    RUN(a_pending_sigpipe_of_the_host_is_left_alone);
    RUN(the_source_file_is_untouched);
    zc_file_remove(&src);
    return zc_test_summary("test_sigpipe");
}
