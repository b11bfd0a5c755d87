/*
 * Races through the C API: a select running while other threads register, deregister, wake,
 * close and free the selector; many threads transferring at once through the per-thread splice
 * pipes; a region closed or freed while other threads use it. Each must end in ZC_OK or a
 * documented error code, never in a crash, a hang or wrong bytes.
 */
#include "zc_test.h"

static int stop_flag;
static int stopped(void) { return __atomic_load_n(&stop_flag, __ATOMIC_ACQUIRE); }
static void set_stop(int v) { __atomic_store_n(&stop_flag, v, __ATOMIC_RELEASE); }

/* ---- selector ----------------------------------------------------------------------------- */

struct select_loop {
    zc_selector *sel;
    long selects;
    int bad; /* a result that is not ZC_OK / ZC_ERR_CLOSED / ZC_ERR_BAD_HANDLE */
};

static void *selecting(void *arg) {
    struct select_loop *l = (struct select_loop *)arg;
    zc_event ev[16];
    for (;;) {
        size_t n = 0;
        zc_result rc = zc_selector_select(l->sel, ev, 16, 100, &n);
        l->selects++;
        if (rc == ZC_ERR_CLOSED || rc == ZC_ERR_BAD_HANDLE) break;
        if (rc != ZC_OK) {
            l->bad++;
            break;
        }
    }
    return NULL;
}

static void *churning_registrations(void *arg) {
    zc_selector *sel = (zc_selector *)arg;
    long rounds = 0;
    while (!stopped()) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv)) break;
        zc_result rc = zc_selector_register(sel, sv[0], (uint64_t)rounds, ZC_INTEREST_READABLE | ZC_INTEREST_WRITABLE,
                                            ZC_MODE_EDGE);
        if (rc == ZC_OK) {
            if (write(sv[1], "x", 1) != 1) break;
            rc = zc_selector_modify(sel, sv[0], (uint64_t)rounds, ZC_INTEREST_READABLE, ZC_MODE_ONESHOT);
            if (rc == ZC_OK) rc = zc_selector_deregister(sel, sv[0]);
        }
        close(sv[0]);
        close(sv[1]);
        if (rc != ZC_OK && rc != ZC_ERR_CLOSED && rc != ZC_ERR_BAD_HANDLE) return (void *)1;
        rounds++;
    }
    return NULL;
}

static void *waking(void *arg) {
    zc_selector *sel = (zc_selector *)arg;
    while (!stopped()) {
        zc_result rc = zc_selector_wake(sel);
        if (rc != ZC_OK && rc != ZC_ERR_BAD_HANDLE) return (void *)1;
        usleep(100);
    }
    return NULL;
}

TEST(select_while_others_register_wake_close_and_free) {
    for (int round = 0; round < 2; round++) {
        zc_selector *sel = NULL;
        CHECK_OK(zc_selector_new(&sel));
        set_stop(0);
        struct select_loop loops[2] = {{sel, 0, 0}, {sel, 0, 0}};
        pthread_t sel_threads[2], churn[2], waker;
        for (int i = 0; i < 2; i++) REQUIRE(pthread_create(&sel_threads[i], NULL, selecting, &loops[i]) == 0);
        for (int i = 0; i < 2; i++) REQUIRE(pthread_create(&churn[i], NULL, churning_registrations, sel) == 0);
        REQUIRE(pthread_create(&waker, NULL, waking, sel) == 0);
        usleep(200 * 1000);
        /* Round 0 closes first, then frees; round 1 frees outright while selects are running. */
        if (round == 0) CHECK_OK(zc_selector_close(sel));
        CHECK_OK(zc_selector_free(sel));
        for (int i = 0; i < 2; i++) pthread_join(sel_threads[i], NULL);
        set_stop(1);
        void *churn_bad = NULL, *wake_bad = NULL;
        for (int i = 0; i < 2; i++) {
            pthread_join(churn[i], &churn_bad);
            CHECK(churn_bad == NULL);
        }
        pthread_join(waker, &wake_bad);
        CHECK(wake_bad == NULL);
        for (int i = 0; i < 2; i++) {
            CHECK(loops[i].bad == 0);
            CHECK(loops[i].selects > 1); /* woken, not stuck */
        }
        CHECK_RC(zc_selector_wake(sel), ZC_ERR_BAD_HANDLE);
    }
}

/* ---- transfers ---------------------------------------------------------------------------- */

#define XFER_SIZE (4 << 20)
static struct zc_file xfer_src; /* the file every transferring thread sends */

struct transferring {
    zc_transfer_method method;
    int ok;
};

static void *transfer_thread(void *arg) {
    struct transferring *t = (struct transferring *)arg;
    int sv[2];
    if (zc_socket_pair(sv)) return NULL;
    uint8_t *got = (uint8_t *)malloc(XFER_SIZE);
    struct zc_drain d;
    if (!got || zc_drain_start(&d, sv[1], got, XFER_SIZE)) return NULL;
    int ok = 1;
    for (int rep = 0; rep < 3 && ok; rep++) {
        uint64_t done = 0;
        while (done < XFER_SIZE && ok) {
            zc_transfer x;
            zc_result rc = zc_transfer_to_using(t->method, xfer_src.fd, (int64_t)done, XFER_SIZE - (int64_t)done,
                                                sv[0], &x);
            ok = rc == ZC_OK && x.method == t->method && x.bytes > 0;
            done += x.bytes;
        }
    }
    close(sv[0]);
    uint64_t total = zc_drain_join(&d);
    ok &= total == 3ull * XFER_SIZE;
    /* The drain kept the first copy: every byte in place, nothing from another thread. */
    for (uint64_t i = 0; i < XFER_SIZE && ok; i++) ok &= got[i] == zc_pattern_byte(i);
    free(got);
    t->ok = ok;
    return NULL;
}

TEST(many_threads_transfer_at_once_through_their_own_pipes) {
    enum { THREADS = 6 };
    REQUIRE(zc_file_create(&xfer_src, XFER_SIZE, O_RDONLY) >= 0);
    struct transferring ts[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        ts[i].method = i % 2 ? ZC_METHOD_SPLICE : ZC_METHOD_SENDFILE;
        ts[i].ok = 0;
        REQUIRE(pthread_create(&th[i], NULL, transfer_thread, &ts[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        CHECK(ts[i].ok);
    }
    zc_file_remove(&xfer_src);
}

/* ---- regions ------------------------------------------------------------------------------ */

struct region_user {
    zc_region *region;
    const volatile uint8_t *view;
    size_t len;
    long reads;
    int bad;
};

/* Reads through the raw view (allowed until zc_region_free) and through zc_region_read. */
static void *reading(void *arg) {
    struct region_user *u = (struct region_user *)arg;
    uint8_t buf[256];
    while (!stopped()) {
        size_t i = (size_t)(u->reads * 4099) % u->len;
        uint8_t b = u->view[i];
        if (b != 0 && b != zc_pattern_byte(i)) u->bad++; /* file bytes, or stale zeros after close */
        zc_result rc = zc_region_read(u->region, i / 2, buf, sizeof buf);
        if (rc != ZC_OK && rc != ZC_ERR_CLOSED) u->bad++;
        u->reads++;
    }
    return NULL;
}

TEST(a_region_closed_while_others_read_gives_data_or_zeros) {
    struct zc_mapped m;
    REQUIRE(zc_map_temp(&m, 1 << 20, O_RDONLY, ZC_MAP_READ_ONLY, 0, 1 << 20, 0) == 0);
    zc_region *r = m.region;
    struct region_user users[3];
    pthread_t th[3];
    set_stop(0);
    for (int i = 0; i < 3; i++) {
        users[i] = (struct region_user){r, zc_region_data(r), zc_region_len(r), 0, 0};
        REQUIRE(pthread_create(&th[i], NULL, reading, &users[i]) == 0);
    }
    usleep(50 * 1000);
    CHECK_OK(zc_region_close(r));
    usleep(50 * 1000);
    set_stop(1);
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        CHECK(users[i].bad == 0);
        CHECK(users[i].reads > 0);
    }
    CHECK(users[0].view[12345] == 0);
    zc_unmap_temp(&m);
}

static void *calling(void *arg) {
    zc_region *r = (zc_region *)arg;
    for (;;) {
        bool loaded;
        zc_result rc = zc_region_is_loaded(r, &loaded);
        if (rc == ZC_OK) rc = zc_region_force(r);
        if (rc == ZC_OK) rc = zc_region_advise(r, 0 /* MADV_NORMAL */);
        if (rc == ZC_ERR_BAD_HANDLE) return NULL;
        if (rc != ZC_OK) return (void *)1;
    }
}

TEST(a_region_freed_while_others_call_it_gives_bad_handle) {
    struct zc_file f;
    REQUIRE(zc_file_create(&f, 1 << 20, O_RDWR) >= 0);
    for (int round = 0; round < 20; round++) {
        zc_region *r = NULL;
        CHECK_OK(zc_region_map(f.fd, ZC_MAP_READ_WRITE, 0, 1 << 20, 0, &r));
        pthread_t th[3];
        for (int i = 0; i < 3; i++) REQUIRE(pthread_create(&th[i], NULL, calling, r) == 0);
        usleep(2000);
        CHECK_OK(zc_region_free(r));
        for (int i = 0; i < 3; i++) {
            void *bad = NULL;
            pthread_join(th[i], &bad);
            CHECK(bad == NULL);
        }
    }
    CHECK(!zc_maps_mention(f.path)); /* the last call in flight released the mapping */
    zc_file_remove(&f);
}

int main(void) {
    RUN(select_while_others_register_wake_close_and_free);
    RUN(many_threads_transfer_at_once_through_their_own_pipes);
    RUN(a_region_closed_while_others_read_gives_data_or_zeros);
    RUN(a_region_freed_while_others_call_it_gives_bad_handle);
    return zc_test_summary("test_races");
}
