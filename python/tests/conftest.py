"""Shared fixtures and helpers for the zcopy test suite."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Callable, Iterator

import pytest

import zcopy

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors"


_PERIOD = 256 * 251  # (i * 7 + i // 251) % 256 repeats every 256 * 251 bytes
_CYCLE = bytes((i * 7 + i // 251) % 256 for i in range(_PERIOD))


def pattern(size: int, start: int = 0) -> bytes:
    """The shared vectors' byte pattern ``(i * 7 + i // 251) % 256`` for ``i`` in
    ``[start, start + size)``."""
    first = start % _PERIOD
    reps = (first + size) // _PERIOD + 1
    return (_CYCLE * reps)[first : first + size]


@pytest.fixture
def data_file(tmp_path: Path) -> Callable[[int], Path]:
    """Makes a file holding ``size`` bytes of the pattern."""

    def make(size: int, name: str = "data.bin") -> Path:
        path = tmp_path / name
        path.write_bytes(pattern(size))
        return path

    return make


@pytest.fixture
def socket_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    try:
        yield a, b
    finally:
        a.close()
        b.close()


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    r, w = os.pipe()
    try:
        yield r, w
    finally:
        for fd in (r, w):
            try:
                os.close(fd)
            except OSError:
                pass


class Drain(threading.Thread):
    """Reads a socket or pipe until end of file, keeping what it read."""

    def __init__(self, fd: int | socket.socket) -> None:
        super().__init__(daemon=True)
        self.fd = fd
        self.chunks: list[bytes] = []

    def run(self) -> None:
        while True:
            if isinstance(self.fd, socket.socket):
                chunk = self.fd.recv(1 << 16)
            else:
                chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                return
            self.chunks.append(chunk)

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)


def run_child(code: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Runs ``code`` in a fresh interpreter (for crashes that must not reach the test run)."""
    return subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd="/",
    )


@pytest.fixture
def drained_pair(socket_pair):
    """A connected socket pair whose second end a Drain thread reads: (writable end, drain)."""
    a, b = socket_pair
    drain = Drain(b)
    drain.start()
    return a, drain


def forget_last_transfer() -> None:
    """Makes ``zcopy.last_transfer()`` in this thread read nothing moved (``0, "none"``) until
    zcopy moves something: a transfer of nothing, whose only system calls are the two checks."""
    with open(__file__, "rb") as src, open(os.devnull, "wb") as sink:
        zcopy.transfer_to(src, 0, 0, sink)
    assert zcopy.last_transfer() == zcopy.Transfer(0, "none", False, 2)


def uvloop_or_skip() -> None:
    pytest.importorskip("uvloop", reason="uvloop is not installed (pip install uvloop)")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def mappings() -> int:
    with open("/proc/self/maps") as f:
        return sum(1 for _ in f)


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def maps_mention(path: os.PathLike[str] | str) -> bool:
    with open("/proc/self/maps") as f:
        return any(str(path) in line for line in f)


__all__ = [
    "Drain",
    "VECTORS",
    "forget_last_transfer",
    "maps_mention",
    "mappings",
    "open_fds",
    "pattern",
    "rss_bytes",
    "run_child",
    "uvloop_or_skip",
    "zcopy",
]
