/*
 * zc_selector through the C API: readiness reported with tokens and flags in the level,
 * edge and one-shot modes, the argument errors, and wake-ups and close ending a waiting select.
 * (test_races.c runs the same calls from several threads at once.)
 */
#include "zc_test.h"

TEST(selector_reports_readiness_with_tokens_and_flags) {
    zc_selector *s = NULL;
    CHECK_OK(zc_selector_new(&s));
    CHECK(zc_selector_is_open(s));
    int epfd = -1;
    CHECK_OK(zc_selector_fd(s, &epfd));
    CHECK(epfd >= 0 && (fcntl(epfd, F_GETFD) & FD_CLOEXEC));
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) == 0);
    CHECK_OK(zc_selector_register(s, sv[0], 7, ZC_INTEREST_READABLE, ZC_MODE_LEVEL));
    zc_event ev[4];
    size_t n = 99;
    CHECK_OK(zc_selector_select(s, ev, 4, 0, &n));
    CHECK(n == 0);
    REQUIRE(write(sv[1], "x", 1) == 1);
    CHECK_OK(zc_selector_select(s, ev, 4, 1000, &n));
    CHECK(n == 1 && ev[0].token == 7 && (ev[0].flags & ZC_EVENT_READABLE));
    CHECK(!(ev[0].flags & ZC_EVENT_WRITABLE));
    /* Level-triggered: still reported while unread. Then switch to writable, edge. */
    CHECK_OK(zc_selector_select(s, ev, 4, 0, &n));
    CHECK(n == 1);
    CHECK_OK(zc_selector_modify(s, sv[0], 8, ZC_INTEREST_WRITABLE, ZC_MODE_EDGE));
    CHECK_OK(zc_selector_select(s, ev, 4, 1000, &n));
    CHECK(n == 1 && ev[0].token == 8 && (ev[0].flags & ZC_EVENT_WRITABLE));
    CHECK_OK(zc_selector_select(s, ev, 4, 0, &n));
    CHECK(n == 0); /* edge: no change, no event */
    /* One-shot: reported once, then disarmed until modified. */
    CHECK_OK(zc_selector_modify(s, sv[0], 9, ZC_INTEREST_READABLE, ZC_MODE_ONESHOT));
    CHECK_OK(zc_selector_select(s, ev, 4, 1000, &n));
    CHECK(n == 1 && ev[0].token == 9);
    CHECK_OK(zc_selector_select(s, ev, 4, 0, &n));
    CHECK(n == 0);
    /* The peer goes away: read-closed. */
    CHECK_OK(zc_selector_modify(s, sv[0], 10, ZC_INTEREST_READABLE, ZC_MODE_LEVEL));
    close(sv[1]);
    CHECK_OK(zc_selector_select(s, ev, 4, 1000, &n));
    CHECK(n == 1 && (ev[0].flags & ZC_EVENT_READ_CLOSED));
    CHECK_OK(zc_selector_deregister(s, sv[0]));
    CHECK_OK(zc_selector_select(s, ev, 4, 0, &n));
    CHECK(n == 0);
    /* Errors. */
    CHECK_RC(zc_selector_deregister(s, sv[0]), ZC_ERR_IO);
    CHECK(zc_last_errno() == ENOENT);
    CHECK_RC(zc_selector_register(s, sv[0], ZC_TOKEN_WAKER, ZC_INTEREST_READABLE, 0), ZC_ERR_INVALID_ARG);
    CHECK_RC(zc_selector_register(s, sv[0], 1, 0x80, 0), ZC_ERR_INVALID_ARG);
    CHECK_RC(zc_selector_register(s, sv[0], 1, ZC_INTEREST_READABLE, 0x80), ZC_ERR_INVALID_ARG);
    CHECK_RC(zc_selector_modify(s, sv[0], 1, ZC_INTEREST_READABLE, ZC_MODE_EXCLUSIVE), ZC_ERR_INVALID_ARG);
    CHECK_RC(zc_selector_modify(s, sv[0], 1, ZC_INTEREST_READABLE, 0), ZC_ERR_IO);
    CHECK_RC(zc_selector_register(s, ZC_CLOSED_FD, 1, ZC_INTEREST_READABLE, 0), ZC_ERR_CLOSED);
    struct zc_file file;
    REQUIRE(zc_file_create(&file, 10, O_RDONLY) >= 0);
    CHECK_RC(zc_selector_register(s, file.fd, 1, ZC_INTEREST_READABLE, 0), ZC_ERR_IO);
    CHECK(zc_last_errno() == EPERM);
    zc_file_remove(&file);
    CHECK_OK(zc_selector_register(s, sv[0], 11, ZC_INTEREST_READABLE, ZC_MODE_EXCLUSIVE));
    CHECK_RC(zc_selector_select(s, NULL, 4, 0, &n), ZC_ERR_NULL_PARAM);
    CHECK_RC(zc_selector_select(s, ev, 4, 0, NULL), ZC_ERR_NULL_PARAM);
    CHECK_RC(zc_selector_select(s, ev, 0, 0, &n), ZC_ERR_INVALID_ARG);
    CHECK_RC(zc_selector_fd(s, NULL), ZC_ERR_NULL_PARAM);
    CHECK_RC(zc_selector_new(NULL), ZC_ERR_NULL_PARAM);
    close(sv[0]);
    CHECK_OK(zc_selector_free(s));
}

static void *wake_later(void *arg) {
    usleep(50 * 1000);
    zc_result rc = zc_selector_wake((const zc_selector *)arg);
    return (void *)(uintptr_t)(rc == ZC_OK);
}

TEST(wake_and_close_end_a_waiting_select) {
    zc_selector *s = NULL;
    CHECK_OK(zc_selector_new(&s));
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, wake_later, s) == 0);
    zc_event ev[2];
    size_t n = 99;
    CHECK_OK(zc_selector_select(s, ev, 2, -1, &n)); /* no limit: only the wake ends it */
    CHECK(n == 0);
    void *ok = NULL;
    pthread_join(t, &ok);
    CHECK(ok != NULL);
    /* Wake-ups coalesce, and a wake before select makes the next select return at once. */
    CHECK_OK(zc_selector_wake(s));
    CHECK_OK(zc_selector_wake(s));
    CHECK_OK(zc_selector_select(s, ev, 2, 5000, &n));
    CHECK(n == 0);
    CHECK_OK(zc_selector_close(s));
    CHECK_OK(zc_selector_close(s));
    CHECK(!zc_selector_is_open(s));
    CHECK_RC(zc_selector_select(s, ev, 2, 0, &n), ZC_ERR_CLOSED);
    int sv[2];
    REQUIRE(zc_socket_pair(sv) == 0);
    CHECK_RC(zc_selector_register(s, sv[0], 1, ZC_INTEREST_READABLE, 0), ZC_ERR_CLOSED);
    zc_close_pair(sv);
    CHECK_OK(zc_selector_free(s));
    CHECK_RC(zc_selector_close(NULL), ZC_ERR_NULL_PARAM);
}

int main(void) {
    RUN(selector_reports_readiness_with_tokens_and_flags);
    RUN(wake_and_close_end_a_waiting_select);
    return zc_test_summary("test_selector");
}
