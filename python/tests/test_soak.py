"""Leaks: many map/close cycles and transfers with no growth in open descriptors,
mappings (/proc/self/maps) or resident memory.

The test suite runs a short version; `make soak-python` runs 1,000,000 cycles and 100,000
transfers (ZCOPY_SOAK_CYCLES / ZCOPY_SOAK_TRANSFERS).
"""

from __future__ import annotations

import gc
import os
import socket

import zcopy
from conftest import mappings, open_fds, rss_bytes

CYCLES = int(os.environ.get("ZCOPY_SOAK_CYCLES", "20000"))
TRANSFERS = int(os.environ.get("ZCOPY_SOAK_TRANSFERS", "10000"))
RSS_TOLERANCE = 16 << 20


def snapshot() -> tuple[int, int, int]:
    gc.collect()
    return open_fds(), mappings(), rss_bytes()


def check(before: tuple[int, int, int], after: tuple[int, int, int]) -> None:
    assert after[0] <= before[0], f"descriptors grew: {before[0]} -> {after[0]}"
    assert after[1] <= before[1] + 2, f"mappings grew: {before[1]} -> {after[1]}"
    assert after[2] <= before[2] + RSS_TOLERANCE, f"RSS grew: {before[2]} -> {after[2]}"


def test_map_close_cycles_leak_nothing(data_file):
    path = data_file(3 * 4096 + 5)
    fd = os.open(path, os.O_RDWR)
    modes = (zcopy.READ_ONLY, zcopy.READ_WRITE, zcopy.PRIVATE)

    def cycle(i: int) -> None:
        region = zcopy.map(fd if i % 2 else path, modes[i % 3], i % 4096, 8192)
        if i % 7 == 0:
            view = memoryview(region)
            view[0]
            region.close()  # close with a live export, then release it
            view.release()
        elif i % 5 == 0:
            with region:
                region[100]
        else:
            region.close()

    try:
        for i in range(1000):  # warm-up: allocator pools, guard table chunks, caches
            cycle(i)
        before = snapshot()
        for i in range(CYCLES):
            cycle(i)
        check(before, snapshot())
    finally:
        os.close(fd)


def test_transfers_leak_nothing(data_file):
    path = data_file(4096)
    null = os.open("/dev/null", os.O_WRONLY)
    a, b = socket.socketpair()
    a.setblocking(False)
    c, d = socket.socketpair()  # blocking

    def transfer(i: int, s) -> None:
        if i % 3 == 0:
            assert zcopy.transfer_to(s, 0, 4096, c) == 4096  # may wait: duplicates, GIL released
            assert len(d.recv(8192)) == 4096
        elif i % 3 == 1:
            assert zcopy.transfer_to(s, 0, 4096, a) == 4096  # non-blocking: GIL kept
            assert len(b.recv(8192)) == 4096
        else:
            assert zcopy.transfer_to(s, 0, 4096, null) == 4096  # never waits: GIL kept

    try:
        with open(path, "rb") as s:
            for i in range(1000):
                transfer(i, s)
            before = snapshot()
            for i in range(TRANSFERS):
                transfer(i, s)
            check(before, snapshot())
    finally:
        os.close(null)
        for sock in (a, b, c, d):
            sock.close()


def test_selectors_leak_nothing():
    pairs = [socket.socketpair() for _ in range(10)]

    def cycle() -> None:
        with zcopy.EpollSelector() as sel:
            for a, _ in pairs:
                sel.register(a, 3)
            assert len(sel.select(0)) == 10

    try:
        for _ in range(200):
            cycle()
        before = snapshot()
        for _ in range(max(CYCLES // 20, 1000)):
            cycle()
        check(before, snapshot())
    finally:
        for a, b in pairs:
            a.close()
            b.close()
