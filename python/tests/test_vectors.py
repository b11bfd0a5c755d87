"""The shared vectors of tests/vectors/, run through the Python binding, asserting its error
table exactly as tests/vectors/README.md states it."""

from __future__ import annotations

import errno
import json
import os
import socket
import tempfile
import threading
from contextlib import ExitStack
from typing import Any

import pytest

import zcopy
from conftest import VECTORS, Drain, pattern

MODES = {"read_only": zcopy.READ_ONLY, "read_write": zcopy.READ_WRITE, "private": zcopy.PRIVATE}
OPEN = {
    "r": os.O_RDONLY,
    "w": os.O_WRONLY,
    "rw": os.O_RDWR,
    "append": os.O_WRONLY | os.O_APPEND,
}


#: A descriptor number that is not open (far above anything this suite opens).
CLOSED = 1_000_000


def load(name: str) -> list[dict[str, Any]]:
    return json.loads((VECTORS / name).read_text())["cases"]


class Made:
    def __init__(self, fd: int, path: str | None = None) -> None:
        self.fd = fd
        self.path = path


def make(desc: dict[str, Any], stack: ExitStack) -> Made:
    """A descriptor as the vector describes it; everything it needs is closed by ``stack``."""
    kind = desc["kind"]

    def own(fd: int) -> int:
        stack.callback(lambda: _close(fd))
        return fd

    if kind == "file":
        f = tempfile.NamedTemporaryFile(delete=False)
        f.write(pattern(desc["size"]))
        f.close()
        stack.callback(os.unlink, f.name)
        return Made(own(os.open(f.name, OPEN[desc["open"]])), f.name)
    if kind == "closed":
        return Made(CLOSED)
    if kind == "directory":
        return Made(own(os.open("/", os.O_RDONLY)))
    if kind in ("pipe_read", "pipe_write"):
        r, w = os.pipe()
        if kind == "pipe_read":
            own(r)
            if desc.get("writer_closed"):
                os.close(w)
            else:
                own(w)
            return Made(r)
        # Closed in reverse: the writer first (end of file), then the drain ends, then the reader.
        stack.callback(lambda: _close(r))
        drain = Drain(r)
        drain.start()
        stack.callback(drain.join, 10)
        return Made(own(w))
    if kind == "socket":
        a, b = socket.socketpair()
        drain = Drain(b)
        drain.start()
        stack.callback(b.close)
        stack.callback(drain.join, 10)
        stack.callback(a.close)
        return Made(a.fileno())
    if kind == "dev_zero":
        return Made(own(os.open("/dev/zero", os.O_RDONLY)))
    if kind == "dev_null":
        return Made(own(os.open("/dev/null", os.O_WRONLY)))
    if kind == "proc_file":
        return Made(own(os.open("/proc/self/status", os.O_RDONLY)))
    raise AssertionError(f"unknown kind {kind}")


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def check_error(name: str, want: str, exc: BaseException) -> None:
    """The one table of tests/vectors/README.md, Python column."""
    if want in ("invalid_argument", "past_end_of_file"):
        assert type(exc) is ValueError, (name, exc)
        return
    assert isinstance(exc, OSError), (name, exc)
    expected = {
        "closed": errno.EBADF,
        "not_readable": errno.EBADF,
        "not_writable": errno.EBADF,
        "unsupported": errno.EOPNOTSUPP,
    }.get(want)
    if expected is None:
        assert want.startswith("io:"), name
        expected = getattr(errno, want[3:])
    assert exc.errno == expected, (name, exc)
    # CPython picks the subclass for the errno, as for its own OSErrors.
    assert type(exc) is type(OSError(expected, "x")), (name, type(exc))


@pytest.mark.parametrize("case", load("map.json"), ids=lambda c: c["name"])
def test_map_vector(case):
    with ExitStack() as stack:
        made = make(case["fd"], stack)
        expect = case["expect"]
        try:
            region = zcopy.map(made.fd, MODES[case["mode"]], case["position"], case["size"])
        except (OSError, ValueError) as e:
            assert "error" in expect, (case["name"], e)
            check_error(case["name"], expect["error"], e)
            return
        with region:
            assert "error" not in expect, case["name"]
            assert len(region) == expect["len"]
            if "file_size_after" in expect:
                assert os.path.getsize(made.path) == expect["file_size_after"]


@pytest.mark.parametrize("case", load("transfer.json"), ids=lambda c: c["name"])
def test_transfer_vector(case):
    with ExitStack() as stack:
        file = make(case["file"], stack)
        other = make(case["other"], stack)
        args = (file.fd, other.fd) if case["op"] == "transfer_to" else (file.fd, other.fd)
        expect = case["expect"]
        try:
            if case["op"] == "transfer_to":
                moved = zcopy.transfer_to(
                    args[0], case["position"], case["count"], args[1], method=case.get("using")
                )
            else:
                moved = zcopy.transfer_from(
                    args[0], args[1], case["position"], case["count"], method=case.get("using")
                )
        except (OSError, ValueError) as e:
            assert "error" in expect, (case["name"], e)
            check_error(case["name"], expect["error"], e)
            return
        assert "error" not in expect, (case["name"], moved)
        method = zcopy.last_method()
        if "bytes" in expect:
            assert moved == expect["bytes"], case["name"]
        if "bytes_at_least" in expect:
            assert moved >= expect["bytes_at_least"], case["name"]
        if "method" in expect:
            assert method == expect["method"], case["name"]
        if expect.get("zero_copy"):
            assert method in ("copy_file_range", "sendfile", "splice"), case["name"]
        if "file_size_after" in expect:
            assert os.path.getsize(file.path) == expect["file_size_after"]


def test_every_vector_file_is_covered():
    assert len(load("map.json")) > 10 and len(load("transfer.json")) > 20
    assert threading.active_count() >= 1
