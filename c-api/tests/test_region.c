/*
 * zc_region through the C API: mapping any byte range of a file, the FileChannel.map error
 * order, writes reaching the file, private copies, residency and advice as mincore sees them,
 * locking as VmLck sees it, close and truncation, shared anonymous memory. Results are checked
 * against what the OS sees (/proc/self/maps, the file's bytes), not only against return values.
 */
#include <sys/mman.h>

#include "zc_test.h"

/* That every page of `r` is resident, and how many pages residency reports. */
static void check_loaded(const zc_region *r, size_t want_pages) {
    bool loaded = false;
    CHECK_OK(zc_region_is_loaded(r, &loaded));
    CHECK(loaded);
    size_t pages = 99;
    CHECK_OK(zc_region_page_count(r, &pages));
    CHECK(pages == want_pages);
}

TEST(map_read_only_any_byte_range) {
    struct zc_file f;
    REQUIRE(zc_file_create(&f, 3 * 4096, O_RDONLY) >= 0);
    zc_region *r = (zc_region *)0x1; /* must stay untouched on failure, replaced on success */
    CHECK_OK(zc_region_map(f.fd, ZC_MAP_READ_ONLY, 4097, 100, 0, &r));
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
    close(f.fd);
    f.fd = -1;
    CHECK(p[50] == zc_pattern_byte(4097 + 50));
    CHECK(zc_maps_mention(f.path));
    CHECK_OK(zc_region_free(r));
    CHECK(!zc_maps_mention(f.path));
    zc_file_remove(&f);
}

TEST(map_to_end_and_empty_regions) {
    struct zc_file f;
    REQUIRE(zc_file_create(&f, 10000, O_RDONLY) >= 0);
    zc_region *r = NULL;
    CHECK_OK(zc_region_map_to_end(f.fd, ZC_MAP_READ_ONLY, 9999, 0, &r));
    CHECK(zc_region_len(r) == 1);
    CHECK(zc_region_data(r)[0] == zc_pattern_byte(9999));
    CHECK_OK(zc_region_free(r));
    zc_region *e = NULL;
    CHECK_OK(zc_region_map(f.fd, ZC_MAP_READ_ONLY, 10000, 0, 0, &e));
    CHECK(zc_region_len(e) == 0);
    CHECK(zc_region_data(e) != NULL);
    CHECK_OK(zc_region_force(e));
    check_loaded(e, 0); /* an empty region is loaded, and has no pages */
    CHECK_OK(zc_region_free(e));
    CHECK_RC(zc_region_map_to_end(f.fd, ZC_MAP_READ_ONLY, 10001, 0, &e), ZC_ERR_PAST_EOF);
    zc_file_remove(&f);
}

TEST(map_errors_follow_filechannel_order) {
    struct zc_file f;
    REQUIRE(zc_file_create(&f, 100, O_RDONLY) >= 0);
    int ro = f.fd;
    int wo = open(f.path, O_WRONLY | O_CLOEXEC);
    int rw = open(f.path, O_RDWR | O_CLOEXEC);
    int dir = open("/", O_RDONLY | O_CLOEXEC);
    REQUIRE(wo >= 0 && rw >= 0 && dir >= 0);
    /* Each row fails at its first wrong argument, in FileChannel.map's order. */
    const struct {
        int fd;
        zc_map_mode mode;
        int64_t position, size;
        uint32_t flags;
        zc_result want;
        int want_errno;
    } cases[] = {
        {ZC_CLOSED_FD, ZC_MAP_READ_ONLY, -1, 10, 0, ZC_ERR_CLOSED, EBADF},
        {-1, ZC_MAP_READ_ONLY, 0, 10, 0, ZC_ERR_CLOSED, EBADF},
        {ro, ZC_MAP_READ_ONLY, -1, 10, 0, ZC_ERR_INVALID_ARG, EINVAL},
        {ro, ZC_MAP_READ_ONLY, 0, -1, 0, ZC_ERR_INVALID_ARG, EINVAL},
        {rw, ZC_MAP_READ_WRITE, INT64_MAX, 1, 0, ZC_ERR_INVALID_ARG, EINVAL},
        {ro, 3, 0, 10, 0, ZC_ERR_INVALID_ARG, EINVAL},
        {ro, ZC_MAP_READ_ONLY, 0, 10, 0x100, ZC_ERR_INVALID_ARG, EINVAL},
        {ro, ZC_MAP_READ_ONLY, 0, 10, ZC_MAP_GROW_NEVER | ZC_MAP_GROW_IF_WRITABLE, ZC_ERR_INVALID_ARG, EINVAL},
        {ro, ZC_MAP_READ_WRITE, -1, 10, 0, ZC_ERR_INVALID_ARG, EINVAL},
        {ro, ZC_MAP_READ_WRITE, 0, 10, 0, ZC_ERR_NOT_WRITABLE, EBADF},
        {wo, ZC_MAP_READ_ONLY, 0, 10, 0, ZC_ERR_NOT_READABLE, EBADF},
        {ro, ZC_MAP_PRIVATE, 0, 10, ZC_MAP_PRIVATE_NEEDS_WRITE, ZC_ERR_NOT_WRITABLE, EBADF},
        {ro, ZC_MAP_READ_ONLY, 0, 101, 0, ZC_ERR_PAST_EOF, EINVAL},
        {rw, ZC_MAP_READ_WRITE, 0, 200, ZC_MAP_GROW_NEVER, ZC_ERR_PAST_EOF, EINVAL},
        {dir, ZC_MAP_READ_ONLY, 0, 10, 0, ZC_ERR_IO, ENODEV},
    };
    zc_region *r = NULL;
    FOR_EACH_CASE(i, cases) {
        CHECK_RC(zc_region_map(cases[i].fd, cases[i].mode, cases[i].position, cases[i].size, cases[i].flags, &r),
                 cases[i].want);
        CHECK(zc_last_errno() == cases[i].want_errno);
    }
    CHECK_RC(zc_region_map(ro, ZC_MAP_READ_ONLY, -1, 10, 0, &r), ZC_ERR_INVALID_ARG);
    CHECK(strstr(zc_last_message(), "negative") != NULL);
    CHECK_RC(zc_region_map(ro, ZC_MAP_READ_ONLY, 0, 10, 0, NULL), ZC_ERR_NULL_PARAM);
    CHECK_RC(zc_region_map_to_end(ro, ZC_MAP_READ_ONLY, 0, 0, NULL), ZC_ERR_NULL_PARAM);
    CHECK(r == NULL); /* never written by a failure */
    /* FileChannel.map's rule on request: a read-only mapping grows a writable file. */
    CHECK_OK(zc_region_map(rw, ZC_MAP_READ_ONLY, 50, 51, ZC_MAP_GROW_IF_WRITABLE, &r));
    struct stat st;
    fstat(rw, &st);
    CHECK(st.st_size == 101);
    CHECK_OK(zc_region_free(r));
    close(wo);
    close(rw);
    close(dir);
    zc_file_remove(&f);
}

TEST(read_write_region_reaches_the_file_and_grows_it) {
    struct zc_mapped m;
    REQUIRE(zc_map_temp(&m, 100, O_RDWR, ZC_MAP_READ_WRITE, 50, 8192, ZC_MAP_POPULATE) == 0);
    zc_region *r = m.region;
    struct stat st;
    fstat(m.file.fd, &st);
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
    CHECK(pread(m.file.fd, back, 5, 50) == 5 && memcmp(back, "hello", 5) == 0);
    CHECK(pread(m.file.fd, back, 5, 8050) == 5 && memcmp(back, "world", 5) == 0);
    CHECK_RC(zc_region_force_range(r, 8000, 193), ZC_ERR_OUT_OF_RANGE);
    CHECK_RC(zc_region_force_range(r, UINT64_MAX, 2), ZC_ERR_OUT_OF_RANGE);
    CHECK_RC(zc_region_force_range_async(r, 8193, 0), ZC_ERR_OUT_OF_RANGE);
    CHECK_RC(zc_region_write(r, 8190, (const uint8_t *)"abc", 3), ZC_ERR_OUT_OF_RANGE);
    CHECK_RC(zc_region_write(r, 0, NULL, 3), ZC_ERR_NULL_PARAM);
    CHECK_OK(zc_region_write(r, 0, NULL, 0));
    CHECK_RC(zc_region_read(r, 0, NULL, 3), ZC_ERR_NULL_PARAM);
    CHECK_RC(zc_region_data_mut(r, NULL), ZC_ERR_NULL_PARAM);
    zc_unmap_temp(&m);
}

TEST(private_region_never_changes_the_file) {
    struct zc_mapped m;
    REQUIRE(zc_map_temp(&m, 4096, O_RDONLY, ZC_MAP_PRIVATE, 0, 4096, 0) == 0);
    zc_region *r = m.region;
    CHECK_OK(zc_region_write(r, 0, (const uint8_t *)"XYZ", 3));
    CHECK(zc_region_data(r)[0] == 'X');
    CHECK_OK(zc_region_force(r));
    uint8_t b = 0;
    CHECK(pread(m.file.fd, &b, 1, 0) == 1 && b == zc_pattern_byte(0));
    zc_map_mode mode = 0;
    CHECK_OK(zc_region_mode(r, &mode));
    CHECK(mode == ZC_MAP_PRIVATE);
    /* Destructive advice drops the private copy: the file's byte is back. */
    CHECK_OK(zc_region_advise_unchecked(r, MADV_DONTNEED, 0, 4096));
    CHECK(zc_region_data(r)[0] == zc_pattern_byte(0));
    CHECK_RC(zc_region_advise_unchecked(r, MADV_SEQUENTIAL, 0, 4096), ZC_ERR_INVALID_ARG);
    CHECK_RC(zc_region_advise_unchecked(r, MADV_DONTNEED, 4000, 100), ZC_ERR_OUT_OF_RANGE);
    zc_unmap_temp(&m);
}

TEST(read_only_region_refuses_writes) {
    struct zc_mapped m;
    REQUIRE(zc_map_temp(&m, 4096, O_RDONLY, ZC_MAP_READ_ONLY, 0, 4096, 0) == 0);
    uint8_t *w = (uint8_t *)0x1;
    CHECK_RC(zc_region_data_mut(m.region, &w), ZC_ERR_NOT_WRITABLE);
    CHECK(w == (uint8_t *)0x1);
    CHECK_RC(zc_region_write(m.region, 0, (const uint8_t *)"x", 1), ZC_ERR_NOT_WRITABLE);
    CHECK_RC(zc_region_advise(m.region, MADV_POPULATE_WRITE), ZC_ERR_NOT_WRITABLE);
    zc_unmap_temp(&m);
}

TEST(load_residency_and_advice_are_what_mincore_sees) {
    struct zc_mapped m;
    REQUIRE(zc_map_temp(&m, 5 * 4096, O_RDONLY, ZC_MAP_READ_ONLY, 100, 4 * 4096, ZC_MAP_HUGE_PAGES) == 0);
    zc_region *r = m.region;
    CHECK_OK(zc_region_advise(r, MADV_SEQUENTIAL));
    CHECK_OK(zc_region_advise_range(r, MADV_WILLNEED, 0, 4096));
    CHECK_RC(zc_region_advise(r, MADV_DONTNEED), ZC_ERR_INVALID_ARG); /* destructive: unchecked only */
    CHECK(strstr(zc_last_message(), "destructive") != NULL);
    CHECK_RC(zc_region_advise(r, 12345), ZC_ERR_INVALID_ARG);
    CHECK_RC(zc_region_advise_range(r, MADV_NORMAL, 4 * 4096, 1), ZC_ERR_OUT_OF_RANGE);
    CHECK_OK(zc_region_load(r));
    check_loaded(r, 5); /* 100 + 16384 bytes from a page boundary span 5 pages */
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
    zc_unmap_temp(&m);
}

TEST(lock_and_unlock_show_in_VmLck) {
#ifdef __SANITIZE_ADDRESS__
    SKIP("AddressSanitizer intercepts mlock/munlock and makes them no-ops");
#endif
    struct zc_mapped m;
    REQUIRE(zc_map_temp(&m, 8 * 4096, O_RDONLY, ZC_MAP_READ_ONLY, 0, 8 * 4096, 0) == 0);
    long before = zc_status_kb("VmLck");
    zc_result rc = zc_region_lock(m.region);
    if (rc == ZC_ERR_IO && (zc_last_errno() == ENOMEM || zc_last_errno() == EPERM)) {
        zc_unmap_temp(&m);
        SKIP("mlock refused by RLIMIT_MEMLOCK here");
    }
    CHECK_OK(rc);
    CHECK(zc_status_kb("VmLck") >= before + 32);
    CHECK_OK(zc_region_unlock(m.region));
    CHECK(zc_status_kb("VmLck") == before);
    zc_unmap_temp(&m);
}

TEST(close_keeps_views_valid_and_releases_the_file) {
    struct zc_mapped m;
    REQUIRE(zc_map_temp(&m, 2 * 4096, O_RDWR, ZC_MAP_READ_WRITE, 0, 2 * 4096, 0) == 0);
    zc_region *r = m.region;
    uint8_t *view = NULL;
    CHECK_OK(zc_region_data_mut(r, &view));
    CHECK(view[1] == zc_pattern_byte(1));
    zc_file_remove(&m.file);
    CHECK(zc_maps_mention(m.file.path));
    CHECK_OK(zc_region_close(r));
    CHECK_OK(zc_region_close(r));          /* idempotent */
    CHECK(!zc_maps_mention(m.file.path)); /* the deleted file's pages are gone now */
    CHECK(view[1] == 0);                   /* the stale view reads zeros ... */
    view[2] = 42;                          /* ... and writes go nowhere, without a crash */
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
    struct zc_mapped m;
    REQUIRE(zc_map_temp(&m, 4 * 4096, O_RDWR, ZC_MAP_READ_ONLY, 0, 4 * 4096, 0) == 0);
    zc_region *r = m.region;
    REQUIRE(ftruncate(m.file.fd, 4096) == 0);
    zc_result rc = zc_region_prefault(r, 0, 4 * 4096);
    if (rc == ZC_ERR_UNSUPPORTED) {
        zc_unmap_temp(&m);
        SKIP("MADV_POPULATE_READ needs Linux 5.14");
    }
    CHECK_RC(rc, ZC_ERR_TRUNCATED);
    CHECK(zc_last_errno() == EFAULT);
    CHECK(zc_region_is_truncated(r));
    CHECK_RC(zc_region_check(r), ZC_ERR_TRUNCATED);
    CHECK_RC(zc_region_load(r), ZC_ERR_TRUNCATED);
    zc_unmap_temp(&m);
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

int main(void) {
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
    return zc_test_summary("test_region");
}
