/*
 * The C API, function by function: every exported function is called here (the guard, the
 * shared vectors, SIGPIPE, races and the soak have their own suites), and every zc_result code
 * is produced at least once. Results are checked against what the OS sees, not only against
 * return values.
 */
#include <sys/mman.h>
#include <sys/uio.h>

#include "zc_test.h"

#ifndef ZC_CARGO_VERSION
#error "build with -DZC_CARGO_VERSION='\"x.y.z\"' (the version in Cargo.toml)"
#endif

/* A test hook of the library the tests link against (built with the test-hooks feature): not in
 * zcopy.h, and not in the libzcopy users get. */
zc_result zc_debug_panic(void);

static char last_message[1024];

static const char *message(void) {
    size_t n = 0;
    if (zc_last_error_message(last_message, sizeof last_message, &n) != ZC_OK) return "";
    return last_message;
}

/* ---- version and errors ------------------------------------------------------------------- */

TEST(version_macros_match_cargo_toml_and_the_library) {
    char built[32];
    snprintf(built, sizeof built, "%d.%d.%d", ZC_VERSION_MAJOR, ZC_VERSION_MINOR, ZC_VERSION_PATCH);
    CHECK(strcmp(built, ZC_CARGO_VERSION) == 0);
    CHECK(strcmp(zc_version(), ZC_CARGO_VERSION) == 0);
    /* The combined number decodes back into its parts (each part shifted exactly once). */
    CHECK((ZC_VERSION_NUMBER >> 16) == ZC_VERSION_MAJOR);
    CHECK(((ZC_VERSION_NUMBER >> 8) & 0xff) == ZC_VERSION_MINOR);
    CHECK((ZC_VERSION_NUMBER & 0xff) == ZC_VERSION_PATCH);
    CHECK(zc_version_number() == ZC_VERSION_NUMBER);
#if ZC_VERSION_NUMBER < 0x000100
#error "ZC_VERSION_NUMBER is usable in #if"
#endif
}

TEST(result_codes_have_fixed_numbers_and_names) {
    /* The numbers are part of the ABI: they never change. */
    CHECK(ZC_OK == 0);
    CHECK(ZC_ERR_INVALID_ARG == 1);
    CHECK(ZC_ERR_CLOSED == 2);
    CHECK(ZC_ERR_NOT_READABLE == 3);
    CHECK(ZC_ERR_NOT_WRITABLE == 4);
    CHECK(ZC_ERR_OUT_OF_RANGE == 5);
    CHECK(ZC_ERR_PAST_EOF == 6);
    CHECK(ZC_ERR_WOULD_BLOCK == 7);
    CHECK(ZC_ERR_UNSUPPORTED == 8);
    CHECK(ZC_ERR_TRUNCATED == 9);
    CHECK(ZC_ERR_IO == 10);
    CHECK(ZC_ERR_NULL_PARAM == 11);
    CHECK(ZC_ERR_BAD_HANDLE == 12);
    CHECK(ZC_ERR_INSUFFICIENT_SPACE == 13);
    CHECK(ZC_ERR_PANIC == 14);
    CHECK(strcmp(zc_result_str(ZC_OK), "ZC_OK") == 0);
    CHECK(strcmp(zc_result_str(ZC_ERR_TRUNCATED), "ZC_ERR_TRUNCATED") == 0);
    CHECK(strcmp(zc_result_str(ZC_ERR_PANIC), "ZC_ERR_PANIC") == 0);
    CHECK(strcmp(zc_result_str(12345), "ZC_ERR_UNKNOWN") == 0);
}

TEST(a_panic_becomes_ZC_ERR_PANIC_with_a_message) {
    CHECK_RC(zc_debug_panic(), ZC_ERR_PANIC);
    CHECK(strstr(message(), "zc_debug_panic was called") != NULL);
    CHECK(zc_last_errno() == 0);
    /* The library is still usable after a caught panic. */
    zc_selector *s = NULL;
    CHECK_OK(zc_selector_new(&s));
    CHECK_OK(zc_selector_free(s));
}

TEST(last_error_message_sizes_and_truncates) {
    zc_region *r = NULL;
    CHECK_RC(zc_region_map(ZC_CLOSED_FD, ZC_MAP_READ_ONLY, 0, 10, 0, &r), ZC_ERR_CLOSED);
    CHECK(zc_last_errno() == EBADF);
    CHECK(errno == EBADF); /* also stored in errno by the failing call */
    size_t full = 0;
    CHECK_OK(zc_last_error_message(NULL, 0, &full));
    CHECK(full > 10);
    char buf[8];
    size_t n = 99;
    CHECK_OK(zc_last_error_message(buf, sizeof buf, &n));
    CHECK(n == sizeof buf - 1 && buf[n] == 0);
    char big[512];
    CHECK_OK(zc_last_error_message(big, sizeof big, &n));
    CHECK(n == full && strstr(big, "closed") != NULL);
    /* Its own argument errors. */
    CHECK_RC(zc_last_error_message(big, sizeof big, NULL), ZC_ERR_NULL_PARAM);
    CHECK_RC(zc_last_error_message(NULL, 5, &n), ZC_ERR_NULL_PARAM);
    CHECK_RC(zc_last_error_message(big, 0, &n), ZC_ERR_INSUFFICIENT_SPACE);
    CHECK(zc_last_errno() == ERANGE);
}

static void *thread_error(void *arg) {
    (void)arg;
    zc_region *r = NULL;
    zc_result rc = zc_region_map(0, 99, 0, 0, 0, &r); /* unknown mode */
    return (void *)(uintptr_t)(rc == ZC_ERR_INVALID_ARG && zc_last_errno() == EINVAL);
}

TEST(the_error_detail_is_per_thread) {
    zc_region *r = NULL;
    CHECK_RC(zc_region_map(ZC_CLOSED_FD, ZC_MAP_READ_ONLY, 0, 10, 0, &r), ZC_ERR_CLOSED);
    pthread_t t;
    void *ok = NULL;
    REQUIRE(pthread_create(&t, NULL, thread_error, NULL) == 0);
    pthread_join(t, &ok);
    CHECK(ok != NULL);
    CHECK(zc_last_errno() == EBADF); /* this thread's detail is untouched */
    CHECK(strstr(message(), "closed") != NULL);
}

/* ---- regions ------------------------------------------------------------------------------ */

TEST(map_read_only_any_byte_range) {
    char path[64];
    int fd = zc_temp_file(path, 3 * 4096, O_RDONLY);
    REQUIRE(fd >= 0);
    zc_region *r = (zc_region *)0x1; /* must stay untouched on failure, replaced on success */
    CHECK_OK(zc_region_map(fd, ZC_MAP_READ_ONLY, 4097, 100, 0, &r));
    CHECK(zc_region_len(r) == 100);
    const uint8_t *p = zc_region_data(r);
    REQUIRE(p != NULL);
    for (int i = 0; i < 100; i++) CHECK(p[i] == zc_pattern_byte(4097 + (uint64_t)i));
    uint64_t pos = 0;
    CHECK_OK(zc_region_position(r, &pos));
    CHECK(pos == 4097);
    zc_map_mode mode = 99;
    CHECK_OK(zc_region_mode(r, &mode));
    CHECK(mode == ZC_MAP_READ_ONLY);
    CHECK(zc_region_is_open(r));
    CHECK(!zc_region_is_truncated(r));
    CHECK_OK(zc_region_check(r));
    uint8_t buf[10];
    CHECK_OK(zc_region_read(r, 90, buf, sizeof buf));
    CHECK(buf[0] == zc_pattern_byte(4097 + 90));
    /* The descriptor may be closed at once: the region does not need it. */
    close(fd);
    CHECK(p[50] == zc_pattern_byte(4097 + 50));
    CHECK(zc_maps_mention(path));
    CHECK_OK(zc_region_free(r));
    CHECK(!zc_maps_mention(path));
    unlink(path);
}

TEST(map_to_end_and_empty_regions) {
    char path[64];
    int fd = zc_temp_file(path, 10000, O_RDONLY);
    REQUIRE(fd >= 0);
    zc_region *r = NULL;
    CHECK_OK(zc_region_map_to_end(fd, ZC_MAP_READ_ONLY, 9999, 0, &r));
    CHECK(zc_region_len(r) == 1);
    CHECK(zc_region_data(r)[0] == zc_pattern_byte(9999));
    CHECK_OK(zc_region_free(r));
    zc_region *e = NULL;
    CHECK_OK(zc_region_map(fd, ZC_MAP_READ_ONLY, 10000, 0, 0, &e));
    CHECK(zc_region_len(e) == 0);
    CHECK(zc_region_data(e) != NULL);
    CHECK_OK(zc_region_force(e));
    bool loaded = false;
    CHECK_OK(zc_region_is_loaded(e, &loaded));
    CHECK(loaded);
    size_t pages = 99;
    CHECK_OK(zc_region_page_count(e, &pages));
    CHECK(pages == 0);
    CHECK_OK(zc_region_free(e));
    CHECK_RC(zc_region_map_to_end(fd, ZC_MAP_READ_ONLY, 10001, 0, &e), ZC_ERR_PAST_EOF);
    close(fd);
    unlink(path);
}

TEST(map_errors_follow_filechannel_order) {
    char path[64];
    int ro = zc_temp_file(path, 100, O_RDONLY);
    REQUIRE(ro >= 0);
    int wo = open(path, O_WRONLY | O_CLOEXEC);
    int rw = open(path, O_RDWR | O_CLOEXEC);
    REQUIRE(wo >= 0 && rw >= 0);
    zc_region *r = NULL;
    CHECK_RC(zc_region_map(ZC_CLOSED_FD, ZC_MAP_READ_ONLY, -1, 10, 0, &r), ZC_ERR_CLOSED);
    CHECK_RC(zc_region_map(-1, ZC_MAP_READ_ONLY, 0, 10, 0, &r), ZC_ERR_CLOSED);
    CHECK_RC(zc_region_map(ro, ZC_MAP_READ_ONLY, -1, 10, 0, &r), ZC_ERR_INVALID_ARG);
    CHECK(zc_last_errno() == EINVAL);
    CHECK(strstr(message(), "negative") != NULL);
    CHECK_RC(zc_region_map(ro, ZC_MAP_READ_ONLY, 0, -1, 0, &r), ZC_ERR_INVALID_ARG);
    CHECK_RC(zc_region_map(rw, ZC_MAP_READ_WRITE, INT64_MAX, 1, 0, &r), ZC_ERR_INVALID_ARG);
    CHECK_RC(zc_region_map(ro, 3, 0, 10, 0, &r), ZC_ERR_INVALID_ARG);
    CHECK_RC(zc_region_map(ro, ZC_MAP_READ_ONLY, 0, 10, 0x100, &r), ZC_ERR_INVALID_ARG);
    CHECK_RC(zc_region_map(ro, ZC_MAP_READ_ONLY, 0, 10, ZC_MAP_GROW_NEVER | ZC_MAP_GROW_IF_WRITABLE, &r),
             ZC_ERR_INVALID_ARG);
    CHECK_RC(zc_region_map(ro, ZC_MAP_READ_WRITE, -1, 10, 0, &r), ZC_ERR_INVALID_ARG);
    CHECK_RC(zc_region_map(ro, ZC_MAP_READ_WRITE, 0, 10, 0, &r), ZC_ERR_NOT_WRITABLE);
    CHECK_RC(zc_region_map(wo, ZC_MAP_READ_ONLY, 0, 10, 0, &r), ZC_ERR_NOT_READABLE);
    CHECK_RC(zc_region_map(ro, ZC_MAP_PRIVATE, 0, 10, ZC_MAP_PRIVATE_NEEDS_WRITE, &r), ZC_ERR_NOT_WRITABLE);
    CHECK_RC(zc_region_map(ro, ZC_MAP_READ_ONLY, 0, 101, 0, &r), ZC_ERR_PAST_EOF);
    CHECK_RC(zc_region_map(rw, ZC_MAP_READ_WRITE, 0, 200, ZC_MAP_GROW_NEVER, &r), ZC_ERR_PAST_EOF);
    int dir = open("/", O_RDONLY | O_CLOEXEC);
    CHECK_RC(zc_region_map(dir, ZC_MAP_READ_ONLY, 0, 10, 0, &r), ZC_ERR_IO);
    CHECK(zc_last_errno() == ENODEV);
    close(dir);
    CHECK_RC(zc_region_map(ro, ZC_MAP_READ_ONLY, 0, 10, 0, NULL), ZC_ERR_NULL_PARAM);
    CHECK_RC(zc_region_map_to_end(ro, ZC_MAP_READ_ONLY, 0, 0, NULL), ZC_ERR_NULL_PARAM);
    CHECK(r == NULL); /* never written by a failure */
    /* FileChannel.map's rule on request: a read-only mapping grows a writable file. */
    CHECK_OK(zc_region_map(rw, ZC_MAP_READ_ONLY, 50, 51, ZC_MAP_GROW_IF_WRITABLE, &r));
    struct stat st;
    fstat(rw, &st);
    CHECK(st.st_size == 101);
    CHECK_OK(zc_region_free(r));
    close(ro);
    close(wo);
    close(rw);
    unlink(path);
}

TEST(read_write_region_reaches_the_file_and_grows_it) {
    char path[64];
    int fd = zc_temp_file(path, 100, O_RDWR);
    REQUIRE(fd >= 0);
    zc_region *r = NULL;
    CHECK_OK(zc_region_map(fd, ZC_MAP_READ_WRITE, 50, 8192, ZC_MAP_POPULATE, &r));
    struct stat st;
    fstat(fd, &st);
    CHECK(st.st_size == 50 + 8192);
    uint8_t *w = NULL;
    CHECK_OK(zc_region_data_mut(r, &w));
    memcpy(w, "hello", 5);
    CHECK_OK(zc_region_write(r, 8000, (const uint8_t *)"world", 5));
    CHECK_OK(zc_region_force(r));
    CHECK_OK(zc_region_force_range(r, 8000, 5));
    CHECK_OK(zc_region_force_async(r));
    CHECK_OK(zc_region_force_range_async(r, 0, 5));
    char back[6] = {0};
    CHECK(pread(fd, back, 5, 50) == 5 && memcmp(back, "hello", 5) == 0);
    CHECK(pread(fd, back, 5, 8050) == 5 && memcmp(back, "world", 5) == 0);
    CHECK_RC(zc_region_force_range(r, 8000, 193), ZC_ERR_OUT_OF_RANGE);
    CHECK_RC(zc_region_force_range(r, UINT64_MAX, 2), ZC_ERR_OUT_OF_RANGE);
    CHECK_RC(zc_region_force_range_async(r, 8193, 0), ZC_ERR_OUT_OF_RANGE);
    CHECK_RC(zc_region_write(r, 8190, (const uint8_t *)"abc", 3), ZC_ERR_OUT_OF_RANGE);
    CHECK_RC(zc_region_write(r, 0, NULL, 3), ZC_ERR_NULL_PARAM);
    CHECK_OK(zc_region_write(r, 0, NULL, 0));
    CHECK_RC(zc_region_read(r, 0, NULL, 3), ZC_ERR_NULL_PARAM);
    CHECK_RC(zc_region_data_mut(r, NULL), ZC_ERR_NULL_PARAM);
    CHECK_OK(zc_region_free(r));
    close(fd);
    unlink(path);
}

TEST(private_region_never_changes_the_file) {
    char path[64];
    int fd = zc_temp_file(path, 4096, O_RDONLY);
    REQUIRE(fd >= 0);
    zc_region *r = NULL;
    CHECK_OK(zc_region_map(fd, ZC_MAP_PRIVATE, 0, 4096, 0, &r));
    CHECK_OK(zc_region_write(r, 0, (const uint8_t *)"XYZ", 3));
    CHECK(zc_region_data(r)[0] == 'X');
    CHECK_OK(zc_region_force(r));
    uint8_t b = 0;
    CHECK(pread(fd, &b, 1, 0) == 1 && b == zc_pattern_byte(0));
    zc_map_mode mode = 0;
    CHECK_OK(zc_region_mode(r, &mode));
    CHECK(mode == ZC_MAP_PRIVATE);
    /* Destructive advice drops the private copy: the file's byte is back. */
    CHECK_OK(zc_region_advise_unchecked(r, MADV_DONTNEED, 0, 4096));
    CHECK(zc_region_data(r)[0] == zc_pattern_byte(0));
    CHECK_RC(zc_region_advise_unchecked(r, MADV_SEQUENTIAL, 0, 4096), ZC_ERR_INVALID_ARG);
    CHECK_RC(zc_region_advise_unchecked(r, MADV_DONTNEED, 4000, 100), ZC_ERR_OUT_OF_RANGE);
    CHECK_OK(zc_region_free(r));
    close(fd);
    unlink(path);
}

TEST(read_only_region_refuses_writes) {
    char path[64];
    int fd = zc_temp_file(path, 4096, O_RDONLY);
    REQUIRE(fd >= 0);
    zc_region *r = NULL;
    CHECK_OK(zc_region_map(fd, ZC_MAP_READ_ONLY, 0, 4096, 0, &r));
    uint8_t *w = (uint8_t *)0x1;
    CHECK_RC(zc_region_data_mut(r, &w), ZC_ERR_NOT_WRITABLE);
    CHECK(w == (uint8_t *)0x1);
    CHECK_RC(zc_region_write(r, 0, (const uint8_t *)"x", 1), ZC_ERR_NOT_WRITABLE);
    CHECK_RC(zc_region_advise(r, MADV_POPULATE_WRITE), ZC_ERR_NOT_WRITABLE);
    CHECK_OK(zc_region_free(r));
    close(fd);
    unlink(path);
}

TEST(load_residency_and_advice_are_what_mincore_sees) {
    char path[64];
    int fd = zc_temp_file(path, 5 * 4096, O_RDONLY);
    REQUIRE(fd >= 0);
    zc_region *r = NULL;
    CHECK_OK(zc_region_map(fd, ZC_MAP_READ_ONLY, 100, 4 * 4096, ZC_MAP_HUGE_PAGES, &r));
    CHECK_OK(zc_region_advise(r, MADV_SEQUENTIAL));
    CHECK_OK(zc_region_advise_range(r, MADV_WILLNEED, 0, 4096));
    CHECK_RC(zc_region_advise(r, MADV_DONTNEED), ZC_ERR_INVALID_ARG); /* destructive: unchecked only */
    CHECK(strstr(message(), "destructive") != NULL);
    CHECK_RC(zc_region_advise(r, 12345), ZC_ERR_INVALID_ARG);
    CHECK_RC(zc_region_advise_range(r, MADV_NORMAL, 4 * 4096, 1), ZC_ERR_OUT_OF_RANGE);
    CHECK_OK(zc_region_load(r));
    bool loaded = false;
    CHECK_OK(zc_region_is_loaded(r, &loaded));
    CHECK(loaded);
    size_t pages = 0;
    CHECK_OK(zc_region_page_count(r, &pages));
    CHECK(pages == 5); /* 100 + 16384 bytes from a page boundary span 5 pages */
    uint8_t res[8];
    size_t n = 0;
    CHECK_OK(zc_region_residency(r, res, sizeof res, &n));
    CHECK(n == 5);
    for (size_t i = 0; i < n; i++) CHECK(res[i] == 1);
    /* The same answer straight from mincore. */
    unsigned char vec[5];
    uintptr_t base = (uintptr_t)zc_region_data(r) & ~(uintptr_t)(zc_page_size() - 1);
    CHECK(mincore((void *)base, 5 * zc_page_size(), vec) == 0);
    for (int i = 0; i < 5; i++) CHECK((vec[i] & 1) == 1);
    n = 77;
    CHECK_RC(zc_region_residency(r, res, 4, &n), ZC_ERR_INSUFFICIENT_SPACE);
    CHECK(n == 77);
    CHECK(zc_last_errno() == ERANGE);
    CHECK_RC(zc_region_residency(r, res, sizeof res, NULL), ZC_ERR_NULL_PARAM);
    CHECK_RC(zc_region_is_loaded(r, NULL), ZC_ERR_NULL_PARAM);
    CHECK_RC(zc_region_page_count(r, NULL), ZC_ERR_NULL_PARAM);
    CHECK_OK(zc_region_prefault(r, 0, 4096));
    CHECK_RC(zc_region_prefault(r, 4096, 4 * 4096), ZC_ERR_OUT_OF_RANGE);
    CHECK(zc_page_size() == (size_t)sysconf(_SC_PAGESIZE));
    CHECK_OK(zc_region_free(r));
    close(fd);
    unlink(path);
}

TEST(lock_and_unlock_show_in_VmLck) {
#ifdef __SANITIZE_ADDRESS__
    SKIP("AddressSanitizer intercepts mlock/munlock and makes them no-ops");
#endif
    char path[64];
    int fd = zc_temp_file(path, 8 * 4096, O_RDONLY);
    REQUIRE(fd >= 0);
    zc_region *r = NULL;
    CHECK_OK(zc_region_map(fd, ZC_MAP_READ_ONLY, 0, 8 * 4096, 0, &r));
    long before = zc_status_kb("VmLck");
    zc_result rc = zc_region_lock(r);
    if (rc == ZC_ERR_IO && (zc_last_errno() == ENOMEM || zc_last_errno() == EPERM)) {
        CHECK_OK(zc_region_free(r));
        close(fd);
        unlink(path);
        SKIP("mlock refused by RLIMIT_MEMLOCK here");
    }
    CHECK_OK(rc);
    CHECK(zc_status_kb("VmLck") >= before + 32);
    CHECK_OK(zc_region_unlock(r));
    CHECK(zc_status_kb("VmLck") == before);
    CHECK_OK(zc_region_free(r));
    close(fd);
    unlink(path);
}

TEST(close_keeps_views_valid_and_releases_the_file) {
    char path[64];
    int fd = zc_temp_file(path, 2 * 4096, O_RDWR);
    REQUIRE(fd >= 0);
    zc_region *r = NULL;
    CHECK_OK(zc_region_map(fd, ZC_MAP_READ_WRITE, 0, 2 * 4096, 0, &r));
    uint8_t *view = NULL;
    CHECK_OK(zc_region_data_mut(r, &view));
    CHECK(view[1] == zc_pattern_byte(1));
    close(fd);
    unlink(path);
    CHECK(zc_maps_mention(path));
    CHECK_OK(zc_region_close(r));
    CHECK_OK(zc_region_close(r)); /* idempotent */
    CHECK(!zc_maps_mention(path)); /* the deleted file's pages are gone now */
    CHECK(view[1] == 0);           /* the stale view reads zeros ... */
    view[2] = 42;                  /* ... and writes go nowhere, without a crash */
    CHECK(!zc_region_is_open(r));
    CHECK_RC(zc_region_check(r), ZC_ERR_CLOSED);
    CHECK_RC(zc_region_force(r), ZC_ERR_CLOSED);
    CHECK_RC(zc_region_load(r), ZC_ERR_CLOSED);
    CHECK_RC(zc_region_lock(r), ZC_ERR_CLOSED);
    CHECK_RC(zc_region_unlock(r), ZC_ERR_CLOSED);
    uint8_t b;
    CHECK_RC(zc_region_read(r, 0, &b, 1), ZC_ERR_CLOSED);
    CHECK_RC(zc_region_data_mut(r, &view), ZC_ERR_CLOSED);
    CHECK_OK(zc_region_free(r));
}

TEST(prefault_reports_a_truncated_file_without_a_signal) {
    char path[64];
    int fd = zc_temp_file(path, 4 * 4096, O_RDWR);
    REQUIRE(fd >= 0);
    zc_region *r = NULL;
    CHECK_OK(zc_region_map(fd, ZC_MAP_READ_ONLY, 0, 4 * 4096, 0, &r));
    REQUIRE(ftruncate(fd, 4096) == 0);
    zc_result rc = zc_region_prefault(r, 0, 4 * 4096);
    if (rc == ZC_ERR_UNSUPPORTED) {
        CHECK_OK(zc_region_free(r));
        close(fd);
        unlink(path);
        SKIP("MADV_POPULATE_READ needs Linux 5.14");
    }
    CHECK_RC(rc, ZC_ERR_TRUNCATED);
    CHECK(zc_last_errno() == EFAULT);
    CHECK(zc_region_is_truncated(r));
    CHECK_RC(zc_region_check(r), ZC_ERR_TRUNCATED);
    CHECK_RC(zc_region_load(r), ZC_ERR_TRUNCATED);
    CHECK_OK(zc_region_free(r));
    close(fd);
    unlink(path);
}

TEST(shared_anonymous_region_is_visible_through_its_memfd) {
    zc_region *r = NULL;
    int memfd = -1;
    CHECK_OK(zc_region_shared_anonymous("zc-test", 8192, ZC_HUGE_PAGES_OFF, &r, &memfd));
    REQUIRE(memfd >= 0);
    CHECK(zc_region_len(r) == 8192);
    CHECK_OK(zc_region_write(r, 100, (const uint8_t *)"shared", 6));
    char back[7] = {0};
    CHECK(pread(memfd, back, 6, 100) == 6 && strcmp(back, "shared") == 0);
    /* Sealed against shrinking: no one can truncate it under the mapping. */
    CHECK(ftruncate(memfd, 0) == -1 && errno == EPERM);
    CHECK(fcntl(memfd, F_GETFD) & FD_CLOEXEC);
    CHECK(zc_maps_mention("memfd:zc-test"));
    /* A second mapping of the same memory through the descriptor. */
    zc_region *again = NULL;
    CHECK_OK(zc_region_map(memfd, ZC_MAP_READ_ONLY, 100, 6, 0, &again));
    CHECK(memcmp(zc_region_data(again), "shared", 6) == 0);
    CHECK_OK(zc_region_free(again));
    CHECK_OK(zc_region_free(r));
    close(memfd);
    zc_region *t = NULL;
    int tfd = -1;
    CHECK_OK(zc_region_shared_anonymous("zc-thp", 1 << 21, ZC_HUGE_PAGES_TRANSPARENT, &t, &tfd));
    CHECK_OK(zc_region_free(t));
    close(tfd);
    CHECK_RC(zc_region_shared_anonymous("x", -1, ZC_HUGE_PAGES_OFF, &r, &memfd), ZC_ERR_INVALID_ARG);
    CHECK_RC(zc_region_shared_anonymous("x", 10, 7, &r, &memfd), ZC_ERR_INVALID_ARG);
    CHECK_RC(zc_region_shared_anonymous(NULL, 10, 0, &r, &memfd), ZC_ERR_NULL_PARAM);
    CHECK_RC(zc_region_shared_anonymous("x", 10, 0, NULL, &memfd), ZC_ERR_NULL_PARAM);
    CHECK_RC(zc_region_shared_anonymous("x", 10, 0, &r, NULL), ZC_ERR_NULL_PARAM);
}

TEST(null_dangling_and_foreign_handles_are_errors_not_crashes) {
    char path[64];
    int fd = zc_temp_file(path, 4096, O_RDONLY);
    REQUIRE(fd >= 0);
    zc_region *r = NULL;
    CHECK_OK(zc_region_map(fd, ZC_MAP_READ_ONLY, 0, 4096, 0, &r));
    CHECK_OK(zc_region_free(r));
    /* Use after free and double free. */
    CHECK_RC(zc_region_force(r), ZC_ERR_BAD_HANDLE);
    CHECK(zc_last_errno() == EBADF);
    CHECK(strstr(message(), "freed") != NULL);
    CHECK_RC(zc_region_free(r), ZC_ERR_BAD_HANDLE);
    CHECK(zc_region_data(r) == NULL);
    CHECK(zc_region_len(r) == 0);
    CHECK(!zc_region_is_open(r));
    CHECK(!zc_region_is_truncated(r));
    /* NULL. */
    CHECK_RC(zc_region_force(NULL), ZC_ERR_NULL_PARAM);
    CHECK_RC(zc_region_close(NULL), ZC_ERR_NULL_PARAM);
    CHECK_OK(zc_region_free(NULL));
    CHECK(zc_region_data(NULL) == NULL);
    /* A pointer zcopy never returned, and a handle of another type. */
    int local = 0;
    CHECK_RC(zc_region_check((const zc_region *)&local), ZC_ERR_BAD_HANDLE);
    zc_selector *s = NULL;
    CHECK_OK(zc_selector_new(&s));
    CHECK_RC(zc_region_force((const zc_region *)s), ZC_ERR_BAD_HANDLE);
    CHECK_RC(zc_selector_wake((const zc_selector *)r), ZC_ERR_BAD_HANDLE);
    CHECK_OK(zc_selector_free(s));
    CHECK_RC(zc_selector_free(s), ZC_ERR_BAD_HANDLE);
    CHECK(!zc_selector_is_open(s));
    CHECK_OK(zc_selector_free(NULL));
    CHECK_OK(zc_lease_free(NULL));
    CHECK_RC(zc_lease_release(NULL), ZC_ERR_NULL_PARAM);
    close(fd);
    unlink(path);
}

/* ---- transfers ---------------------------------------------------------------------------- */

TEST(transfer_to_a_file_and_a_socket_reports_the_method) {
    char src_path[64], dst_path[64];
    int src = zc_temp_file(src_path, 100000, O_RDONLY);
    int dst = zc_temp_file(dst_path, 0, O_RDWR);
    REQUIRE(src >= 0 && dst >= 0);
    zc_transfer t;
    CHECK_OK(zc_transfer_to(src, 0, 100000, dst, &t));
    CHECK(t.bytes == 100000 && !t.would_block);
    CHECK(t.method == ZC_METHOD_COPY_FILE_RANGE);
    CHECK(zc_transfer_method_is_zero_copy(t.method));
    CHECK(strcmp(zc_transfer_method_name(t.method), "copy_file_range") == 0);
    CHECK(lseek(src, 0, SEEK_CUR) == 0); /* the source position did not move */
    uint8_t b = 0;
    CHECK(pread(dst, &b, 1, 99999) == 1 && b == zc_pattern_byte(99999));
    /* Clamped at the end; a position at or past the end moves nothing. */
    CHECK_OK(zc_transfer_to(src, 99900, INT64_MAX, dst, &t));
    CHECK(t.bytes == 100);
    CHECK_OK(zc_transfer_to(src, 100000, 10, dst, &t));
    CHECK(t.bytes == 0 && t.method == ZC_METHOD_NONE);
    /* To an AF_UNIX socket: the planner splices large transfers through its pipe; bytes verified
     * on the other side. */
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    static uint8_t got[100000];
    struct zc_drain d;
    REQUIRE(zc_drain_start(&d, sv[1], got, sizeof got) == 0);
    CHECK_OK(zc_transfer_all(src, 0, INT64_MAX, sv[0], &t));
    CHECK(t.bytes == 100000 && t.method == ZC_METHOD_SPLICE);
    close(sv[0]);
    CHECK(zc_drain_join(&d) == 100000);
    int same = 1;
    for (int i = 0; i < 100000; i++) same &= got[i] == zc_pattern_byte((uint64_t)i);
    CHECK(same);
    CHECK_RC(zc_transfer_to(src, 0, 10, dst, NULL), ZC_ERR_NULL_PARAM);
    CHECK_RC(zc_transfer_all(src, -1, 10, dst, &t), ZC_ERR_INVALID_ARG);
    CHECK_RC(zc_transfer_all(src, 0, 10, -5, &t), ZC_ERR_CLOSED);
    CHECK_RC(zc_transfer_all(src, 0, 10, dst, NULL), ZC_ERR_NULL_PARAM);
    close(src);
    close(dst);
    unlink(src_path);
    unlink(dst_path);
}

TEST(transfer_errors_follow_filechannel_order) {
    char path[64], out_path[64];
    int ro = zc_temp_file(path, 1000, O_RDONLY);
    int wo = open(path, O_WRONLY | O_CLOEXEC);
    int out = zc_temp_file(out_path, 0, O_RDWR);
    REQUIRE(ro >= 0 && wo >= 0 && out >= 0);
    zc_transfer t = {7, 7, true, 7};
    CHECK_RC(zc_transfer_to(ZC_CLOSED_FD, -1, 10, out, &t), ZC_ERR_CLOSED);
    CHECK_RC(zc_transfer_to(ro, 0, 10, ZC_CLOSED_FD, &t), ZC_ERR_CLOSED);
    CHECK_RC(zc_transfer_to(wo, -1, 10, out, &t), ZC_ERR_NOT_READABLE);
    CHECK_RC(zc_transfer_to(ro, 0, 10, ro, &t), ZC_ERR_NOT_WRITABLE);
    CHECK_RC(zc_transfer_to(ro, -1, 10, out, &t), ZC_ERR_INVALID_ARG);
    CHECK_RC(zc_transfer_to(ro, 0, INT64_MIN, out, &t), ZC_ERR_INVALID_ARG);
    CHECK(t.bytes == 7 && t.method == 7 && t.would_block && t.syscalls == 7); /* untouched by failures */
    int dir = open("/", O_RDONLY | O_CLOEXEC);
    CHECK_RC(zc_transfer_to(dir, 0, 10, out, &t), ZC_ERR_IO);
    CHECK(zc_last_errno() == EISDIR);
    close(dir);
    CHECK_RC(zc_transfer_from(ZC_CLOSED_FD, ro, 0, 10, &t), ZC_ERR_CLOSED);
    CHECK_RC(zc_transfer_from(out, wo, 0, 10, &t), ZC_ERR_NOT_READABLE);
    CHECK_RC(zc_transfer_from(ro, ro, 0, 10, &t), ZC_ERR_NOT_WRITABLE);
    CHECK_RC(zc_transfer_from(out, ro, -1, 10, &t), ZC_ERR_INVALID_ARG);
    CHECK_RC(zc_transfer_from(out, ro, 0, 10, NULL), ZC_ERR_NULL_PARAM);
    close(ro);
    close(wo);
    close(out);
    unlink(path);
    unlink(out_path);
}

TEST(transfer_from_a_socket_into_a_file_at_a_position) {
    char path[64];
    int dst = zc_temp_file(path, 10, O_RDWR);
    REQUIRE(dst >= 0);
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    REQUIRE(write(sv[1], "0123456789", 10) == 10);
    close(sv[1]);
    zc_transfer t;
    CHECK_OK(zc_transfer_from(dst, sv[0], 100, 1000, &t));
    CHECK(t.bytes == 10);
    CHECK(zc_transfer_method_is_zero_copy(t.method));
    struct stat st;
    fstat(dst, &st);
    CHECK(st.st_size == 110);
    char back[11] = {0};
    CHECK(pread(dst, back, 10, 100) == 10 && strcmp(back, "0123456789") == 0);
    CHECK(lseek(dst, 0, SEEK_CUR) == 0);
    /* Forced read/write. */
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    REQUIRE(write(p[1], "abc", 3) == 3);
    close(p[1]);
    CHECK_OK(zc_transfer_from_using(ZC_METHOD_READ_WRITE, dst, p[0], 0, 3, &t));
    CHECK(t.bytes == 3 && t.method == ZC_METHOD_READ_WRITE);
    CHECK_RC(zc_transfer_from_using(ZC_METHOD_NONE, dst, p[0], 0, 3, &t), ZC_ERR_INVALID_ARG);
    CHECK_RC(zc_transfer_from_using(ZC_METHOD_SPLICE, dst, p[0], 0, 3, NULL), ZC_ERR_NULL_PARAM);
    close(p[0]);
    close(sv[0]);
    close(dst);
    unlink(path);
}

TEST(forced_methods_run_or_say_unsupported) {
    char path[64], out_path[64];
    int src = zc_temp_file(path, 50000, O_RDONLY);
    int out = zc_temp_file(out_path, 0, O_RDWR);
    REQUIRE(src >= 0 && out >= 0);
    static const zc_transfer_method file_methods[] = {ZC_METHOD_COPY_FILE_RANGE, ZC_METHOD_SENDFILE,
                                                      ZC_METHOD_SPLICE, ZC_METHOD_MMAP_WRITE,
                                                      ZC_METHOD_READ_WRITE};
    for (size_t i = 0; i < sizeof file_methods / sizeof *file_methods; i++) {
        zc_transfer t;
        CHECK_OK(zc_transfer_to_using(file_methods[i], src, 0, 50000, out, &t));
        CHECK(t.bytes == 50000 && t.method == file_methods[i]);
        CHECK_OK(zc_transfer_all_using(file_methods[i], src, 0, INT64_MAX, out, &t));
        CHECK(t.bytes == 50000 && t.method == file_methods[i]);
    }
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    zc_transfer t;
    CHECK_RC(zc_transfer_to_using(ZC_METHOD_COPY_FILE_RANGE, src, 0, 100, sv[0], &t), ZC_ERR_UNSUPPORTED);
    CHECK(zc_last_errno() == EOPNOTSUPP);
    CHECK_RC(zc_transfer_to_using(99, src, 0, 100, sv[0], &t), ZC_ERR_INVALID_ARG);
    CHECK_RC(zc_transfer_to_using(ZC_METHOD_SENDFILE, src, 0, 100, sv[0], NULL), ZC_ERR_NULL_PARAM);
    CHECK_RC(zc_transfer_all_using(ZC_METHOD_NONE, src, 0, 100, sv[0], &t), ZC_ERR_INVALID_ARG);
    CHECK(strcmp(zc_transfer_method_name(ZC_METHOD_MMAP_WRITE), "mmap+write") == 0);
    CHECK(strcmp(zc_transfer_method_name(ZC_METHOD_READ_WRITE), "read/write") == 0);
    CHECK(strcmp(zc_transfer_method_name(ZC_METHOD_NONE), "none") == 0);
    CHECK(strcmp(zc_transfer_method_name(1000), "unknown") == 0);
    CHECK(!zc_transfer_method_is_zero_copy(ZC_METHOD_READ_WRITE));
    CHECK(zc_transfer_method_is_zero_copy(ZC_METHOD_SPLICE));
    close(sv[0]);
    close(sv[1]);
    close(src);
    close(out);
    unlink(path);
    unlink(out_path);
}

TEST(non_blocking_target_would_block_is_not_an_error) {
    char path[64];
    int src = zc_temp_file(path, 8 << 20, O_RDONLY);
    REQUIRE(src >= 0);
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    zc_set_nonblocking(sv[0]);
    zc_transfer t;
    uint64_t total = 0;
    int rounds = 0;
    do {
        CHECK_OK(zc_transfer_to(src, (int64_t)total, (8 << 20) - (int64_t)total, sv[0], &t));
        total += t.bytes;
    } while (!t.would_block && ++rounds < 1000);
    CHECK(t.would_block);
    CHECK(total < (8u << 20));
    /* Full: a transfer moves 0 bytes and says would_block; the direct call says so as an error. */
    CHECK_OK(zc_transfer_to(src, (int64_t)total, 4096, sv[0], &t));
    CHECK(t.bytes == 0 && t.would_block);
    int64_t off = 0;
    size_t n = 99;
    CHECK_RC(zc_sendfile(sv[0], src, &off, 4096, &n), ZC_ERR_WOULD_BLOCK);
    CHECK(zc_last_errno() == EAGAIN);
    CHECK(off == 0 && n == 99);
    close(sv[0]);
    close(sv[1]);
    close(src);
    unlink(path);
}

TEST(transfers_count_their_system_calls) {
    char path[64], out_path[64];
    int src = zc_temp_file(path, 4 << 20, O_RDONLY);
    int dst = zc_temp_file(out_path, 0, O_RDWR);
    REQUIRE(src >= 0 && dst >= 0);
    /* Where SIGPIPE keeps its default action, the core blocks it around the call and restores
     * the mask afterwards: two pthread_sigmask calls on top of the transfer's own. */
    struct sigaction sa;
    REQUIRE(sigaction(SIGPIPE, NULL, &sa) == 0);
    uint64_t shield = sa.sa_handler == SIG_IGN ? 0 : 2;
    zc_transfer t;
    CHECK_OK(zc_transfer_to(src, 0, 4096, dst, &t)); /* the first call probes and leaves a hint */
    CHECK(t.syscalls >= 1 + shield);
    CHECK_OK(zc_transfer_to(src, 0, 4096, dst, &t));
    CHECK(t.bytes == 4096 && t.syscalls == 1 + shield); /* the steady state: one copy_file_range */
    /* Nothing to move: the checks alone (an F_GETFL per descriptor), no SIGPIPE shield. */
    CHECK_OK(zc_transfer_to(src, 0, 0, dst, &t));
    CHECK(t.bytes == 0 && t.syscalls == 2);
    /* A 64 KiB read/write loop: a pread and a write per 64 KiB, plus the probes. */
    CHECK_OK(zc_transfer_all_using(ZC_METHOD_READ_WRITE, src, 0, 4 << 20, dst, &t));
    CHECK(t.bytes == 4u << 20 && t.syscalls >= 128 && t.syscalls < 128 + 16 + 64 * shield);
    CHECK_OK(zc_transfer_all_using(ZC_METHOD_SENDFILE, src, 0, 4 << 20, dst, &t));
    CHECK(t.bytes == 4u << 20 && t.syscalls >= 1 && t.syscalls < 16);
    /* With a header: the header's send and the body's calls. */
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    size_t sent = 0;
    CHECK_OK(zc_transfer_to_with_header(src, 0, 100, sv[0], (const uint8_t *)"hdr", 3, &sent, &t));
    CHECK(sent == 3 && t.bytes == 100 && t.syscalls >= 1);
    CHECK_OK(zc_transfer_to_with_header(src, 0, 100, sv[0], (const uint8_t *)"hdr", 3, &sent, &t));
    CHECK(sent == 3 && t.bytes == 100 && t.syscalls == 2 + shield);
    close(sv[0]);
    close(sv[1]);
    close(src);
    close(dst);
    unlink(path);
    unlink(out_path);
}

TEST(header_and_body_arrive_in_order) {
    char path[64];
    int src = zc_temp_file(path, 300000, O_RDONLY);
    REQUIRE(src >= 0);
    int tcp[2];
    REQUIRE(zc_tcp_pair(tcp) == 0);
    static uint8_t got[400000];
    struct zc_drain d;
    REQUIRE(zc_drain_start(&d, tcp[0], got, sizeof got) == 0);
    const char *header = "HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n";
    size_t hlen = strlen(header), sent = 0;
    zc_transfer body;
    uint64_t done = 0;
    CHECK_OK(zc_transfer_to_with_header(src, 0, 300000, tcp[1], (const uint8_t *)header, hlen, &sent, &body));
    CHECK(sent == hlen);
    done = body.bytes;
    while (done < 300000) {
        zc_transfer t;
        zc_result rc = zc_transfer_to(src, (int64_t)done, 300000 - (int64_t)done, tcp[1], &t);
        CHECK_OK(rc);
        if (rc != ZC_OK || t.bytes == 0) break;
        done += t.bytes;
    }
    shutdown(tcp[1], SHUT_WR);
    CHECK(zc_drain_join(&d) == hlen + 300000);
    CHECK(memcmp(got, header, hlen) == 0);
    int same = 1;
    for (uint64_t i = 0; i < 300000; i++) same &= got[hlen + i] == zc_pattern_byte(i);
    CHECK(same);
    /* A header alone (count 0), and the argument errors. */
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    CHECK_OK(zc_transfer_to_with_header(src, 0, 0, sv[0], (const uint8_t *)"hi", 2, &sent, &body));
    CHECK(sent == 2 && body.bytes == 0);
    char hi[3] = {0};
    CHECK(read(sv[1], hi, 2) == 2 && strcmp(hi, "hi") == 0);
    CHECK_RC(zc_transfer_to_with_header(src, 0, 10, sv[0], NULL, 5, &sent, &body), ZC_ERR_NULL_PARAM);
    CHECK_RC(zc_transfer_to_with_header(src, 0, 10, sv[0], (const uint8_t *)"x", 1, NULL, &body),
             ZC_ERR_NULL_PARAM);
    CHECK_RC(zc_transfer_to_with_header(src, -1, 10, sv[0], (const uint8_t *)"x", 1, &sent, &body),
             ZC_ERR_INVALID_ARG);
    char fpath[64];
    int notsock = zc_temp_file(fpath, 0, O_RDWR);
    CHECK_RC(zc_transfer_to_with_header(src, 0, 10, notsock, (const uint8_t *)"x", 1, &sent, &body), ZC_ERR_IO);
    CHECK(zc_last_errno() == ENOTSOCK);
    close(notsock);
    unlink(fpath);
    close(sv[0]);
    close(sv[1]);
    close(tcp[1]);
    close(src);
    unlink(path);
}

TEST(sendfile_splice_and_tee_are_the_system_calls) {
    char path[64];
    int src = zc_temp_file(path, 10000, O_RDONLY);
    REQUIRE(src >= 0);
    int p[2], q[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0 && pipe2(q, O_CLOEXEC) == 0);
    /* sendfile with an offset: the offset advances, the file position does not. */
    int64_t off = 100;
    size_t n = 0;
    CHECK_OK(zc_sendfile(p[1], src, &off, 50, &n));
    CHECK(n == 50 && off == 150 && lseek(src, 0, SEEK_CUR) == 0);
    /* Without: the file position advances. */
    CHECK_OK(zc_sendfile(p[1], src, NULL, 10, &n));
    CHECK(n == 10 && lseek(src, 0, SEEK_CUR) == 10);
    /* tee duplicates the pipe's 60 bytes into q without consuming them. */
    CHECK_OK(zc_tee(p[0], q[1], 1000, ZC_SPLICE_F_NONBLOCK, &n));
    CHECK(n == 60);
    uint8_t a[60], b[60];
    CHECK(read(p[0], a, 60) == 60 && read(q[0], b, 60) == 60 && memcmp(a, b, 60) == 0);
    CHECK(a[0] == zc_pattern_byte(100) && a[50] == zc_pattern_byte(0));
    /* splice file -> pipe at an offset, pipe -> file. */
    off = 5000;
    CHECK_OK(zc_splice(src, &off, p[1], NULL, 100, ZC_SPLICE_F_MOVE | ZC_SPLICE_F_MORE, &n));
    CHECK(n == 100 && off == 5100);
    char out_path[64];
    int out = zc_temp_file(out_path, 0, O_RDWR);
    int64_t out_off = 7;
    CHECK_OK(zc_splice(p[0], NULL, out, &out_off, 100, 0, &n));
    CHECK(n == 100 && out_off == 107);
    uint8_t c = 0;
    CHECK(pread(out, &c, 1, 7) == 1 && c == zc_pattern_byte(5000));
    /* Errors: unknown flags, negative offsets, no pipe, NULL counts, closed descriptors. */
    CHECK_RC(zc_splice(src, NULL, p[1], NULL, 10, 0x100, &n), ZC_ERR_INVALID_ARG);
    off = -1;
    CHECK_RC(zc_splice(src, &off, p[1], NULL, 10, 0, &n), ZC_ERR_INVALID_ARG);
    CHECK_RC(zc_sendfile(p[1], src, &off, 10, &n), ZC_ERR_INVALID_ARG);
    CHECK(off == -1);
    CHECK_RC(zc_splice(src, NULL, out, NULL, 10, 0, &n), ZC_ERR_IO);
    CHECK(zc_last_errno() == EINVAL);
    CHECK_RC(zc_splice(src, NULL, p[1], NULL, 10, 0, NULL), ZC_ERR_NULL_PARAM);
    CHECK_RC(zc_sendfile(p[1], src, NULL, 10, NULL), ZC_ERR_NULL_PARAM);
    CHECK_RC(zc_tee(p[0], q[1], 10, 0, NULL), ZC_ERR_NULL_PARAM);
    CHECK_RC(zc_tee(p[0], q[1], 10, 0x40, &n), ZC_ERR_INVALID_ARG);
    CHECK_RC(zc_tee(ZC_CLOSED_FD, q[1], 10, 0, &n), ZC_ERR_CLOSED);
    CHECK_RC(zc_sendfile(-1, src, NULL, 10, &n), ZC_ERR_CLOSED);
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
    close(out);
    close(src);
    unlink(path);
    unlink(out_path);
}

/* ---- selector ----------------------------------------------------------------------------- */

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
    char path[64];
    int file = zc_temp_file(path, 10, O_RDONLY);
    CHECK_RC(zc_selector_register(s, file, 1, ZC_INTEREST_READABLE, 0), ZC_ERR_IO);
    CHECK(zc_last_errno() == EPERM);
    close(file);
    unlink(path);
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
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    CHECK_RC(zc_selector_register(s, sv[0], 1, ZC_INTEREST_READABLE, 0), ZC_ERR_CLOSED);
    close(sv[0]);
    close(sv[1]);
    CHECK_OK(zc_selector_free(s));
    CHECK_RC(zc_selector_close(NULL), ZC_ERR_NULL_PARAM);
}

/* ---- leases ------------------------------------------------------------------------------- */

struct truncator {
    const char *path;
    int done;
};

static void *truncate_file(void *arg) {
    struct truncator *t = (struct truncator *)arg;
    int fd = open(t->path, O_WRONLY | O_TRUNC | O_CLOEXEC); /* waits for the lease holder */
    if (fd >= 0) close(fd);
    __atomic_store_n(&t->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

TEST(a_lease_holder_is_told_before_truncation) {
    char path[64];
    int fd = zc_temp_file(path, 4096, O_RDONLY);
    REQUIRE(fd >= 0);
    zc_lease *lease = NULL;
    zc_result rc = zc_lease_read(fd, &lease);
    if (rc == ZC_ERR_IO && zc_last_errno() != EAGAIN) {
        close(fd);
        unlink(path);
        SKIP("file leases are not available on this file system");
    }
    CHECK_OK(rc);
    if (rc != ZC_OK) return;
    bool breaking = true;
    CHECK_OK(zc_lease_is_breaking(lease, &breaking));
    CHECK(!breaking);
    struct truncator t = {path, 0};
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, truncate_file, &t) == 0);
    for (int i = 0; i < 500 && !breaking; i++) {
        usleep(10 * 1000);
        CHECK_OK(zc_lease_is_breaking(lease, &breaking));
    }
    CHECK(breaking);
    CHECK(!__atomic_load_n(&t.done, __ATOMIC_SEQ_CST)); /* held back until released */
    CHECK_OK(zc_lease_release(lease));
    CHECK_OK(zc_lease_release(lease)); /* idempotent */
    pthread_join(th, NULL);
    CHECK(t.done);
    CHECK_OK(zc_lease_is_breaking(lease, &breaking));
    CHECK(!breaking);
    CHECK_RC(zc_lease_is_breaking(lease, NULL), ZC_ERR_NULL_PARAM);
    CHECK_OK(zc_lease_free(lease));
    CHECK_RC(zc_lease_free(lease), ZC_ERR_BAD_HANDLE);
    CHECK_RC(zc_lease_read(fd, NULL), ZC_ERR_NULL_PARAM);
    CHECK_RC(zc_lease_read(ZC_CLOSED_FD, &lease), ZC_ERR_CLOSED);
    CHECK(ZC_LEASE_BREAK_SIGNAL == SIGURG);
    close(fd);
    unlink(path);
}

TEST(guard_is_opt_in) {
    /* Nothing installs the guard behind a C program's back (test_guard.c covers installing). */
    CHECK(!zc_guard_is_installed());
}

int main(void) {
    RUN(guard_is_opt_in);
    RUN(version_macros_match_cargo_toml_and_the_library);
    RUN(result_codes_have_fixed_numbers_and_names);
    RUN(a_panic_becomes_ZC_ERR_PANIC_with_a_message);
    RUN(last_error_message_sizes_and_truncates);
    RUN(the_error_detail_is_per_thread);
    RUN(map_read_only_any_byte_range);
    RUN(map_to_end_and_empty_regions);
    RUN(map_errors_follow_filechannel_order);
    RUN(read_write_region_reaches_the_file_and_grows_it);
    RUN(private_region_never_changes_the_file);
    RUN(read_only_region_refuses_writes);
    RUN(load_residency_and_advice_are_what_mincore_sees);
    RUN(lock_and_unlock_show_in_VmLck);
    RUN(close_keeps_views_valid_and_releases_the_file);
    RUN(prefault_reports_a_truncated_file_without_a_signal);
    RUN(shared_anonymous_region_is_visible_through_its_memfd);
    RUN(null_dangling_and_foreign_handles_are_errors_not_crashes);
    RUN(transfer_to_a_file_and_a_socket_reports_the_method);
    RUN(transfer_errors_follow_filechannel_order);
    RUN(transfer_from_a_socket_into_a_file_at_a_position);
    RUN(forced_methods_run_or_say_unsupported);
    RUN(non_blocking_target_would_block_is_not_an_error);
    RUN(transfers_count_their_system_calls);
    RUN(header_and_body_arrive_in_order);
    RUN(sendfile_splice_and_tee_are_the_system_calls);
    RUN(selector_reports_readiness_with_tokens_and_flags);
    RUN(wake_and_close_end_a_waiting_select);
    RUN(a_lease_holder_is_told_before_truncation);
    return zc_test_summary("test_api");
}
