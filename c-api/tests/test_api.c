/*
 * What every function of the C API shares: the version, the result codes and their names, the
 * panic boundary, the per-thread error detail, handles that are NULL, freed or of another type;
 * and file leases. Regions, transfers and the selector have their suites (test_region.c,
 * test_transfer.c, test_selector.c), as have the guard, the shared vectors, SIGPIPE, races and
 * the soak. Between them every exported function is called and every zc_result code produced.
 */
#include "zc_test.h"

#ifndef ZC_CARGO_VERSION
#error "build with -DZC_CARGO_VERSION='\"x.y.z\"' (the version in Cargo.toml)"
#endif

/* A test hook of the library the tests link against (built with the test-hooks feature): not in
 * zcopy.h, and not in the libzcopy users get. */
zc_result zc_debug_panic(void);

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
    /* The numbers are part of the ABI: they never change. Each code is named by its macro. */
#define CODE(name, number) {name, number, #name}
    const struct {
        zc_result code;
        unsigned number;
        const char *name;
    } codes[] = {
        CODE(ZC_OK, 0),
        CODE(ZC_ERR_INVALID_ARG, 1),
        CODE(ZC_ERR_CLOSED, 2),
        CODE(ZC_ERR_NOT_READABLE, 3),
        CODE(ZC_ERR_NOT_WRITABLE, 4),
        CODE(ZC_ERR_OUT_OF_RANGE, 5),
        CODE(ZC_ERR_PAST_EOF, 6),
        CODE(ZC_ERR_WOULD_BLOCK, 7),
        CODE(ZC_ERR_UNSUPPORTED, 8),
        CODE(ZC_ERR_TRUNCATED, 9),
        CODE(ZC_ERR_IO, 10),
        CODE(ZC_ERR_NULL_PARAM, 11),
        CODE(ZC_ERR_BAD_HANDLE, 12),
        CODE(ZC_ERR_INSUFFICIENT_SPACE, 13),
        CODE(ZC_ERR_PANIC, 14),
    };
#undef CODE
    FOR_EACH_CASE(i, codes) {
        CHECK(codes[i].code == codes[i].number);
        CHECK(strcmp(zc_result_str(codes[i].code), codes[i].name) == 0);
    }
    CHECK(strcmp(zc_result_str(12345), "ZC_ERR_UNKNOWN") == 0);
}

TEST(a_panic_becomes_ZC_ERR_PANIC_with_a_message) {
    CHECK_RC(zc_debug_panic(), ZC_ERR_PANIC);
    CHECK(strstr(zc_last_message(), "zc_debug_panic was called") != NULL);
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
    CHECK(strstr(zc_last_message(), "closed") != NULL);
}

/* ---- handles ------------------------------------------------------------------------------ */

TEST(null_dangling_and_foreign_handles_are_errors_not_crashes) {
    struct zc_mapped m;
    REQUIRE(zc_map_temp(&m, 4096, O_RDONLY, ZC_MAP_READ_ONLY, 0, 4096, 0) == 0);
    zc_region *r = m.region;
    CHECK_OK(zc_region_free(r));
    /* Use after free and double free. */
    CHECK_RC(zc_region_force(r), ZC_ERR_BAD_HANDLE);
    CHECK(zc_last_errno() == EBADF);
    CHECK(strstr(zc_last_message(), "freed") != NULL);
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
    zc_file_remove(&m.file);
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
    struct zc_file f;
    REQUIRE(zc_file_create(&f, 4096, O_RDONLY) >= 0);
    zc_lease *lease = NULL;
    zc_result rc = zc_lease_read(f.fd, &lease);
    if (rc == ZC_ERR_IO && zc_last_errno() != EAGAIN) {
        zc_file_remove(&f);
        SKIP("file leases are not available on this file system");
    }
    CHECK_OK(rc);
    if (rc != ZC_OK) return;
    bool breaking = true;
    CHECK_OK(zc_lease_is_breaking(lease, &breaking));
    CHECK(!breaking);
    struct truncator t = {f.path, 0};
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
    CHECK_RC(zc_lease_read(f.fd, NULL), ZC_ERR_NULL_PARAM);
    CHECK_RC(zc_lease_read(ZC_CLOSED_FD, &lease), ZC_ERR_CLOSED);
    CHECK(ZC_LEASE_BREAK_SIGNAL == SIGURG);
    zc_file_remove(&f);
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
    RUN(null_dangling_and_foreign_handles_are_errors_not_crashes);
    RUN(a_lease_holder_is_told_before_truncation);
    return zc_test_summary("test_api");
}
