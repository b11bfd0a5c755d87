/*
 * The opt-in SIGBUS truncation guard from C: a file truncated under a zcopy region is read and
 * written through the raw pointer without killing the process, and the next call on the region
 * returns ZC_ERR_TRUNCATED. A fault outside zcopy regions still reaches the handler the program
 * installed before (or, with none, kills the process as it would have).
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include "zc_test.h"

static volatile sig_atomic_t own_handler_calls;
static void *volatile own_handler_addr;

/* The program's own SIGBUS handler: it records the fault and maps a zero page over the faulting
 * page so the access can complete (async-signal-safe: mmap only). */
static void own_sigbus(int sig, siginfo_t *info, void *ctx) {
    (void)sig;
    (void)ctx;
    own_handler_calls++;
    own_handler_addr = info->si_addr;
    uintptr_t page = (uintptr_t)info->si_addr & ~(uintptr_t)4095;
    mmap((void *)page, 4096, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/* Without a previous handler, a fault outside zcopy regions ends the process with SIGBUS, as it
 * would have without zcopy. Runs in a child before the parent installs anything. */
TEST(outside_faults_keep_the_default_action) {
    fflush(stdout);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        signal(SIGBUS, SIG_DFL);
        if (zc_guard_install() != ZC_OK) _exit(2);
        struct zc_file f;
        zc_file_create(&f, 2 * 4096, O_RDWR);
        unlink(f.path);
        volatile uint8_t *p = (volatile uint8_t *)mmap(NULL, 2 * 4096, PROT_READ, MAP_SHARED, f.fd, 0);
        if (ftruncate(f.fd, 0)) _exit(3);
        uint8_t b = p[4096]; /* must die here */
        _exit(b == 0 ? 4 : 5);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS);
}

TEST(a_truncated_region_reads_zeros_and_reports_truncated) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = own_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    REQUIRE(sigaction(SIGBUS, &sa, NULL) == 0); /* the program's handler comes first */
    CHECK(!zc_guard_is_installed());
    CHECK_OK(zc_guard_install());
    CHECK_OK(zc_guard_install()); /* idempotent */
    CHECK(zc_guard_is_installed());

    struct zc_mapped m;
    REQUIRE(zc_map_temp(&m, 4 * 4096, O_RDWR, ZC_MAP_READ_ONLY, 0, 4 * 4096, 0) == 0);
    int fd = m.file.fd;
    zc_region *r = m.region;
    const volatile uint8_t *p = zc_region_data(r);
    REQUIRE(p != NULL);
    CHECK(p[2 * 4096 + 5] == zc_pattern_byte(2 * 4096 + 5));
    REQUIRE(ftruncate(fd, 4096) == 0);
    /* Without the guard this read would kill the process. */
    CHECK(p[2 * 4096 + 5] == 0);
    CHECK(p[3 * 4096] == 0);
    CHECK(own_handler_calls == 0); /* zcopy's faults never reach the program's handler */
    CHECK(zc_region_is_truncated(r));
    CHECK_RC(zc_region_check(r), ZC_ERR_TRUNCATED);
    uint8_t b;
    CHECK_RC(zc_region_read(r, 0, &b, 1), ZC_ERR_TRUNCATED);
    CHECK_RC(zc_region_force(r), ZC_ERR_TRUNCATED);
    CHECK(zc_last_errno() == EFAULT);
    CHECK(p[100] == zc_pattern_byte(100)); /* the page before the new end still shows the file */
    CHECK_OK(zc_region_free(r));

    /* Writes past the new end of a read-write region go nowhere, without a crash. */
    REQUIRE(ftruncate(fd, 3 * 4096) == 0);
    CHECK_OK(zc_region_map(fd, ZC_MAP_READ_WRITE, 0, 3 * 4096, 0, &m.region));
    uint8_t *w = NULL;
    CHECK_OK(zc_region_data_mut(m.region, &w));
    REQUIRE(ftruncate(fd, 0) == 0);
    ((volatile uint8_t *)w)[4096] = 1;
    CHECK(zc_region_is_truncated(m.region));
    struct stat st;
    fstat(fd, &st);
    CHECK(st.st_size == 0);
    zc_unmap_temp(&m);
}

TEST(a_fault_outside_zcopy_goes_to_the_earlier_handler) {
    struct zc_file f;
    REQUIRE(zc_file_create(&f, 2 * 4096, O_RDWR) >= 0);
    volatile uint8_t *p = (volatile uint8_t *)mmap(NULL, 2 * 4096, PROT_READ, MAP_SHARED, f.fd, 0);
    REQUIRE(p != MAP_FAILED);
    REQUIRE(ftruncate(f.fd, 0) == 0);
    int before = own_handler_calls;
    uint8_t b = p[4096 + 7];
    CHECK(b == 0);
    CHECK(own_handler_calls == before + 1);
    CHECK(own_handler_addr == (void *)(p + 4096 + 7));
    munmap((void *)p, 2 * 4096);
    zc_file_remove(&f);
}

TEST(regions_mapped_before_install_are_covered_too) {
    /* The guard is installed by now; this checks a region that existed before a second install
     * call and one made after, both absorbing their faults. */
    struct zc_mapped a;
    REQUIRE(zc_map_temp(&a, 2 * 4096, O_RDWR, ZC_MAP_PRIVATE, 0, 2 * 4096, 0) == 0);
    CHECK_OK(zc_guard_install());
    zc_region *b = NULL;
    CHECK_OK(zc_region_map(a.file.fd, ZC_MAP_READ_ONLY, 4096, 4096, 0, &b));
    REQUIRE(ftruncate(a.file.fd, 0) == 0);
    CHECK(((const volatile uint8_t *)zc_region_data(a.region))[4096] == 0);
    CHECK(((const volatile uint8_t *)zc_region_data(b))[0] == 0);
    CHECK_RC(zc_region_check(a.region), ZC_ERR_TRUNCATED);
    CHECK_RC(zc_region_check(b), ZC_ERR_TRUNCATED);
    CHECK_OK(zc_region_free(b));
    zc_unmap_temp(&a);
}

int main(void) {
    RUN(outside_faults_keep_the_default_action);
    RUN(a_truncated_region_reads_zeros_and_reports_truncated);
    RUN(a_fault_outside_zcopy_goes_to_the_earlier_handler);
    RUN(regions_mapped_before_install_are_covered_too);
    return zc_test_summary("test_guard");
}
