/*
 * Soak: MAPS map/use/close/free cycles and TRANSFERS transfers (file -> socket, file -> file,
 * file -> socket with a header, forced splice) must not grow the process: open descriptors,
 * mappings (/proc/self/maps lines) and resident memory (VmRSS) are compared before and after,
 * with a small tolerance for RSS only.
 *
 *   test_soak MAPS TRANSFERS      (make test: 20000 10000; make soak-c: 1000000 100000)
 */
#include "zc_test.h"

#define RSS_TOLERANCE_KB 4096

struct usage {
    long fds, maps, rss_kb;
};

static struct usage usage_now(void) {
    struct usage u = {zc_count_fds(), zc_count_lines("/proc/self/maps"), zc_status_kb("VmRSS")};
    if (getenv("ZC_SOAK_VERBOSE"))
        printf("  RssAnon %ld kB, RssFile %ld kB, RssShmem %ld kB\n", zc_status_kb("RssAnon"), zc_status_kb("RssFile"),
               zc_status_kb("RssShmem"));
    return u;
}

static long maps_count, transfers_count;
static struct zc_file file, out;

/* One map/close cycle, rotating through the modes, sizes and positions. */
static int map_cycle(long i) {
    static const zc_map_mode modes[] = {ZC_MAP_READ_ONLY, ZC_MAP_PRIVATE, ZC_MAP_READ_WRITE};
    zc_map_mode mode = modes[i % 3];
    int64_t position = (i * 4099) % 60000;
    int64_t size = 1 + (i * 7919) % 4000;
    zc_region *r = NULL;
    if (zc_region_map(file.fd, mode, position, size, 0, &r) != ZC_OK) return 0;
    const uint8_t *p = zc_region_data(r);
    int ok = p && p[size - 1] == zc_pattern_byte((uint64_t)(position + size - 1));
    if (i % 2 == 0) ok &= zc_region_close(r) == ZC_OK; /* half closed first, half freed outright */
    ok &= zc_region_free(r) == ZC_OK;
    if (i % 1000 == 999) {
        int memfd = -1;
        ok &= zc_region_shared_anonymous("zc-soak", 8192, ZC_HUGE_PAGES_OFF, &r, &memfd) == ZC_OK;
        ok &= zc_region_free(r) == ZC_OK;
        close(memfd);
    }
    return ok;
}

struct sink {
    int fd;
    struct zc_drain drain;
};

static int transfers(long count, int sock, int tcp) {
    int ok = 1;
    for (long i = 0; i < count && ok; i++) {
        zc_transfer t;
        int64_t pos = (i * 4096) % 60000;
        switch (i % 4) {
        case 0:
            ok = zc_transfer_to(file.fd, pos, 4096, sock, &t) == ZC_OK && t.bytes > 0;
            break;
        case 1:
            ok = zc_transfer_to(file.fd, pos, 4096, out.fd, &t) == ZC_OK && t.bytes > 0;
            break;
        case 2: {
            size_t sent = 0;
            ok = zc_transfer_to_with_header(file.fd, pos, 1024, tcp, (const uint8_t *)"hdr\n", 4, &sent, &t) ==
                     ZC_OK &&
                 sent == 4;
            break;
        }
        default:
            ok = zc_transfer_to_using(ZC_METHOD_SPLICE, file.fd, pos, 4096, sock, &t) == ZC_OK && t.bytes > 0;
        }
    }
    return ok;
}

TEST(no_growth_after_map_close_cycles_and_transfers) {
    int sv[2], tcp[2];
    REQUIRE(zc_socket_pair(sv) == 0);
    REQUIRE(zc_tcp_pair(tcp) == 0);
    struct zc_drain d1, d2;
    REQUIRE(zc_drain_start(&d1, sv[1], NULL, 0) == 0);
    REQUIRE(zc_drain_start(&d2, tcp[0], NULL, 0) == 0);
    /* Warm-up: per-thread pipes, handle tables, the allocator's arenas. */
    for (long i = 0; i < 2000; i++) REQUIRE(map_cycle(i));
    REQUIRE(transfers(400, sv[0], tcp[1]));
    REQUIRE(ftruncate(out.fd, 0) == 0);
    struct usage before = usage_now();
    long bad = 0;
    for (long i = 0; i < maps_count; i++) bad += !map_cycle(i);
    CHECK(bad == 0);
    for (long done = 0; done < transfers_count; done += 1000) {
        long n = transfers_count - done < 1000 ? transfers_count - done : 1000;
        CHECK(transfers(n, sv[0], tcp[1]));
        REQUIRE(ftruncate(out.fd, 0) == 0);
    }
    struct usage after = usage_now();
    printf("  %ld map/close cycles, %ld transfers: fds %ld -> %ld, maps %ld -> %ld, VmRSS %ld -> %ld kB\n",
           maps_count, transfers_count, before.fds, after.fds, before.maps, after.maps, before.rss_kb,
           after.rss_kb);
    CHECK(after.fds == before.fds);
    CHECK(after.maps <= before.maps + 2); /* the allocator may split or merge an arena's mapping */
    if (zc_test_under_valgrind() || getenv("ZC_SANITIZED"))
        printf("  (RSS not compared: valgrind and ASan keep freed memory in quarantine)\n");
    else
        CHECK(after.rss_kb <= before.rss_kb + RSS_TOLERANCE_KB);
    close(sv[0]);
    close(tcp[1]);
    zc_drain_join(&d1);
    zc_drain_join(&d2);
}

int main(int argc, char **argv) {
    maps_count = argc > 1 ? atol(argv[1]) : 20000;
    transfers_count = argc > 2 ? atol(argv[2]) : 10000;
    if (zc_file_create(&file, 65536, O_RDWR) < 0 || zc_file_create(&out, 0, O_RDWR) < 0) {
        perror("temp file");
        return 1;
    }
    RUN(no_growth_after_map_close_cycles_and_transfers);
    zc_file_remove(&file);
    zc_file_remove(&out);
    return zc_test_summary("test_soak");
}
