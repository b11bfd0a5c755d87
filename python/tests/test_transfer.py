"""Transfers between files, sockets and pipes, blocking and non-blocking; the direct system
calls; method reporting and forcing; errors."""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

import zcopy
from conftest import Drain, pattern

SIZE = 1 << 20


def test_file_to_file_splices_large_ranges_and_leaves_positions(data_file, tmp_path):
    # Between files on an ext4-like file system (the temporary directory): splice for a large
    # range, one copy_file_range for a small one (README, "Which path").
    src = data_file(SIZE)
    with open(src, "rb") as s, open(tmp_path / "out", "w+b") as t:
        s.seek(10)
        assert zcopy.transfer_to(s, 0, SIZE, t) == SIZE
        assert zcopy.last_method() == "splice"
        assert s.tell() == 10  # the source's position does not move
        assert t.tell() == SIZE  # the target's does
    assert (tmp_path / "out").read_bytes() == pattern(SIZE)


def test_count_is_clamped_and_end_of_file_gives_zero(data_file, tmp_path):
    src = data_file(1000)
    with open(src, "rb") as s, open(tmp_path / "out", "wb") as t:
        assert zcopy.transfer_to(s, 900, 2**63 - 1, t) == 100
        assert zcopy.transfer_to(s, 900, 2**80, t) == 100  # beyond int64: still "all"
        assert zcopy.transfer_to(s, 900, None, t) == 100
        assert zcopy.transfer_to(s, 1000, 10, t) == 0
        assert zcopy.last_method() == "none"
        assert zcopy.transfer_to(s, 2**63 - 1, 10, t) == 0
        assert zcopy.transfer_to(s, 0, 0, t) == 0


def test_file_to_a_unix_socket_by_mmap_write_and_sendfile(data_file, drained_pair):
    # An AF_UNIX peer (socketpair) behind a blocking socket: the planner copies large transfers
    # once from a mapping (the reader right behind finds the bytes in the cache) and sends small
    # ones with one sendfile. (A non-blocking one splices: test_transfer's full-socket case.)
    a, drain = drained_pair
    with open(data_file(SIZE), "rb") as s:
        assert zcopy.transfer_all(s, 0, None, a) == SIZE
        assert zcopy.last_method() == "mmap+write"
        assert zcopy.transfer_to(s, 0, 4096, a) == 4096
        assert zcopy.last_method() == "sendfile"
    a.shutdown(socket.SHUT_WR)
    drain.join(10)
    assert drain.data == pattern(SIZE) + pattern(4096)


def test_file_to_pipe_is_zero_copy(data_file, pipe):
    r, w = pipe
    drain = Drain(r)
    drain.start()
    with open(data_file(SIZE), "rb") as s:
        moved = 0
        while moved < SIZE:
            moved += zcopy.transfer_to(s, moved, SIZE - moved, w)
            assert zcopy.last_method() in ("splice", "sendfile")
    os.close(w)
    drain.join(10)
    assert drain.data == pattern(SIZE)


def test_forced_methods_move_the_same_bytes(data_file, tmp_path):
    src = data_file(100_000)
    for method in zcopy.METHODS:
        out = tmp_path / f"out-{method.replace('/', '_')}"
        with open(src, "rb") as s, open(out, "wb") as t:
            try:
                moved = zcopy.transfer_all(s, 0, None, t, method=method)
            except OSError as e:
                assert e.errno == errno.EOPNOTSUPP, (method, e)  # splice needs a pipe
                continue
            assert moved == 100_000
            assert zcopy.last_method() == method
        assert out.read_bytes() == pattern(100_000), method
    with open(src, "rb") as s, open(tmp_path / "x", "wb") as t:
        with pytest.raises(ValueError, match="unknown method"):
            zcopy.transfer_to(s, 0, 10, t, method="carrier-pigeon")


def test_forcing_an_impossible_method_is_unsupported(data_file, socket_pair):
    with open(data_file(100), "rb") as s:
        with pytest.raises(OSError) as info:
            zcopy.transfer_to(s, 0, 10, socket_pair[0], method="copy_file_range")
        assert info.value.errno == errno.EOPNOTSUPP


def test_non_blocking_target_gives_short_counts_and_loses_nothing(data_file, socket_pair):
    a, b = socket_pair
    a.setblocking(False)
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    size = 8 << 20
    received = bytearray()
    with open(data_file(size), "rb") as s:
        position = 0
        zeros = 0
        while position < size:
            moved = zcopy.transfer_to(s, position, size - position, a)
            if moved == 0:
                zeros += 1
                received += b.recv(1 << 20)
                continue
            position += moved
            assert moved <= size
            while True:  # drain what is there without blocking
                try:
                    received += b.recv(1 << 20, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
        assert zeros > 0 or position == size
    a.shutdown(socket.SHUT_WR)
    while chunk := b.recv(1 << 20):
        received += chunk
    assert bytes(received) == pattern(size)


def test_small_transfers_to_non_blocking_sockets(data_file, socket_pair):
    # The path that keeps the GIL (see descriptor.rs): same results.
    a, b = socket_pair
    a.setblocking(False)
    with open(data_file(4096), "rb") as s:
        for _ in range(10):
            assert zcopy.transfer_to(s, 0, 4096, a) == 4096
            assert b.recv(4096, socket.MSG_WAITALL) == pattern(4096)
    os.set_blocking(a.fileno(), True)
    r, w = os.pipe()
    os.set_blocking(w, False)
    with open(data_file(4096), "rb") as s:
        assert zcopy.transfer_to(s, 0, 4096, w) == 4096
        assert os.read(r, 8192) == pattern(4096)
    os.close(r)
    os.close(w)


def test_transfer_all_waits_on_a_non_blocking_target(data_file, socket_pair):
    a, b = socket_pair
    a.setblocking(False)
    drain = Drain(b)
    drain.start()
    with open(data_file(4 << 20), "rb") as s:
        assert zcopy.transfer_all(s, 0, None, a) == 4 << 20
    a.shutdown(socket.SHUT_WR)
    drain.join(10)
    assert drain.data == pattern(4 << 20)


def test_transfer_from_socket_and_pipe_into_a_file(tmp_path, socket_pair, pipe):
    a, b = socket_pair
    payload = pattern(300_000)
    sender = threading.Thread(target=lambda: (a.sendall(payload), a.shutdown(socket.SHUT_WR)))
    sender.start()
    out = tmp_path / "out"
    with open(out, "w+b") as t:
        position = 0
        while True:
            moved = zcopy.transfer_from(t, b, 1000 + position, 1 << 20)
            if moved == 0:
                break
            position += moved
        assert t.tell() == 0  # the target's position does not move
    sender.join()
    assert out.read_bytes() == bytes(1000) + payload
    r, w = pipe
    os.write(w, b"from a pipe")
    os.close(w)
    with open(out, "r+b") as t:
        assert zcopy.transfer_from(t, r, 0, 100) == 11
        assert zcopy.last_method() == "splice"
    assert out.read_bytes()[:11] == b"from a pipe"


def test_transfer_from_a_file_advances_the_source(data_file, tmp_path):
    src = data_file(1000)
    with open(src, "rb") as s, open(tmp_path / "out", "w+b") as t:
        s.seek(100)
        assert zcopy.transfer_from(t, s, 0, 50) == 50
        assert s.tell() == 150
        assert zcopy.last_method() == "copy_file_range"
    assert (tmp_path / "out").read_bytes() == pattern(1000)[100:150]


def test_transfer_from_an_empty_non_blocking_source_gives_zero(tmp_path, socket_pair):
    a, b = socket_pair
    b.setblocking(False)
    with open(tmp_path / "out", "wb") as t:
        assert zcopy.transfer_from(t, b, 0, 100) == 0


def test_transfer_with_header(data_file, socket_pair):
    a, b = socket_pair
    with open(data_file(10_000), "rb") as s:
        assert zcopy.transfer_with_header(s, 0, 10_000, a, b"HEADER\r\n") == (8, 10_000)
    assert b.recv(10_008, socket.MSG_WAITALL) == b"HEADER\r\n" + pattern(10_000)
    with open(data_file(10), "rb") as s, pytest.raises(OSError) as info:
        zcopy.transfer_with_header(s, 0, 10, s, b"x")
    assert info.value.errno in (errno.ENOTSOCK, errno.EBADF)


def test_broken_pipe_is_broken_pipe_error(data_file, socket_pair):
    a, b = socket_pair
    b.close()
    with open(data_file(SIZE), "rb") as s:
        with pytest.raises((BrokenPipeError, ConnectionResetError)):
            zcopy.transfer_all(s, 0, None, a)


# --- the direct system calls ------------------------------------------------------------------


def test_sendfile_like_os_sendfile(data_file, socket_pair):
    a, b = socket_pair
    with open(data_file(1000), "rb") as s:
        assert zcopy.sendfile(a, s, 10, 20) == 20
        assert b.recv(100) == pattern(1000)[10:30]
        assert s.tell() == 0
        assert zcopy.sendfile(a.fileno(), s.fileno(), None, 30) == 30  # uses and moves the position
        assert s.tell() == 30
        assert b.recv(100) == pattern(30)
        assert zcopy.sendfile(a, s, 1000, 10) == 0
    a.setblocking(False)
    with open(data_file(SIZE), "rb") as s:
        with pytest.raises(BlockingIOError):
            while True:
                zcopy.sendfile(a, s, 0, SIZE)
    with pytest.raises(ValueError):
        zcopy.sendfile(a, 0, -1, 10)
    with pytest.raises(ValueError):
        zcopy.sendfile(a, 0, 0, -10)


def test_splice_and_tee(data_file, pipe, tmp_path):
    r, w = pipe
    with open(data_file(1000), "rb") as s:
        assert zcopy.splice(s, w, 100, offset_src=5) == 100
        assert s.tell() == 0
    r2, w2 = os.pipe()
    try:
        assert zcopy.tee(r, w2, 100) == 100  # copies without consuming
        assert os.read(r2, 200) == pattern(1000)[5:105]
        with open(tmp_path / "out", "wb") as t:
            assert zcopy.splice(r, t, 100, offset_dst=3, flags=zcopy.SPLICE_F_MOVE) == 100
        assert (tmp_path / "out").read_bytes() == bytes(3) + pattern(1000)[5:105]
        with pytest.raises(BlockingIOError):
            zcopy.splice(r, w2, 10, flags=zcopy.SPLICE_F_NONBLOCK)
        with pytest.raises(BlockingIOError):
            zcopy.tee(r, w2, 10, flags=zcopy.SPLICE_F_NONBLOCK)
        with pytest.raises(ValueError, match="unknown splice flags"):
            zcopy.splice(r, w2, 10, flags=0x1000)
        with open(tmp_path / "out", "rb") as s, open(tmp_path / "out2", "wb") as t:
            with pytest.raises(OSError) as info:
                zcopy.splice(s, t, 10, offset_src=0, offset_dst=0)
            assert info.value.errno == errno.EINVAL  # neither side is a pipe
    finally:
        os.close(r2)
        os.close(w2)


# --- errors ---------------------------------------------------------------------------------


def test_descriptor_errors(data_file, tmp_path):
    path = data_file(100)
    with open(path, "rb") as s, open(tmp_path / "out", "wb") as t:
        closed = os.open(path, os.O_RDONLY)
        os.close(closed)
        for args in [(closed, 0, 10, t), (s, 0, 10, closed), (s, 0, 10, -1), (-5, 0, 10, t)]:
            with pytest.raises(OSError) as info:
                zcopy.transfer_to(*args)
            assert info.value.errno == errno.EBADF
        with pytest.raises(OSError) as info:
            zcopy.transfer_to(s, 0, 10, s)  # the target is not writable
        assert info.value.errno == errno.EBADF
        with pytest.raises(ValueError, match="negative"):
            zcopy.transfer_to(s, -1, 10, t)
        with pytest.raises(ValueError, match="negative"):
            zcopy.transfer_to(s, 0, -(2**70), t)
        with pytest.raises(TypeError, match="fileno"):
            zcopy.transfer_to("not a file", 0, 10, t)

        class Broken:
            def fileno(self) -> int:
                raise AttributeError("raised inside fileno()")

        # An error of fileno() itself is the caller's to see, not a "no fileno" TypeError.
        with pytest.raises(AttributeError, match="inside fileno"):
            zcopy.transfer_to(Broken(), 0, 10, t)
        with pytest.raises(TypeError):
            zcopy.transfer_to(s, "0", 10, t)
    dir_fd = os.open(tmp_path, os.O_RDONLY)
    try:
        with open(tmp_path / "out", "wb") as t:
            with pytest.raises(IsADirectoryError):
                zcopy.transfer_to(dir_fd, 0, 10, t)
    finally:
        os.close(dir_fd)
    f = open(path, "rb")
    f.close()
    with pytest.raises(ValueError):  # a closed file object's fileno() says so
        zcopy.transfer_to(f, 0, 10, 1)


def test_the_gil_is_released_during_a_blocking_transfer(data_file, socket_pair):
    a, b = socket_pair
    ticks = 0
    done = threading.Event()

    def ticker():
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.001)

    t = threading.Thread(target=ticker)
    t.start()

    def slow_reader():
        time.sleep(0.3)
        while b.recv(1 << 20):
            pass

    r = threading.Thread(target=slow_reader)
    r.start()
    with open(data_file(4 << 20), "rb") as s:
        zcopy.transfer_all(s, 0, None, a)  # blocks until the reader starts
    a.close()
    done.set()
    t.join()
    r.join()
    assert ticks > 10  # the ticker ran while the transfer waited


def test_a_small_transfer_to_a_full_blocking_pipe_lets_other_threads_run(data_file, tmp_path):
    # Small transfers keep the GIL only where they cannot wait (non-blocking descriptors, regular
    # files, /dev/null and friends). A blocking pipe can wait for a Python thread to read it, so
    # the call must release the GIL; run in a child so that a regression hangs only the child.
    src = data_file(4096)
    code = f"""
import fcntl, os, threading, time, zcopy
r, w = os.pipe()
os.set_blocking(w, False)
try:
    while True:
        os.write(w, bytes(65536))
except BlockingIOError:
    pass
os.set_blocking(w, True)
drained = []
def reader():
    time.sleep(0.2)
    while True:
        chunk = os.read(r, 1 << 20)
        drained.append(len(chunk))
        if sum(drained) >= 4096 and len(chunk) < (1 << 20):
            break
threading.Thread(target=reader, daemon=True).start()
with open({str(src)!r}, "rb") as s:
    print(zcopy.transfer_to(s, 0, 4096, w))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "4096"


def test_small_transfers_to_files_and_dev_null(data_file, tmp_path):
    # The GIL-keeping path for targets that never wait: same results as any other.
    path = data_file(SIZE)
    with open(path, "rb") as s, open(tmp_path / "out", "wb") as t:
        null = os.open("/dev/null", os.O_WRONLY)
        try:
            assert zcopy.transfer_to(s, 10, 4096, null) == 4096
            assert zcopy.last_transfer().method == "sendfile"
        finally:
            os.close(null)
        assert zcopy.transfer_to(s, 10, 4096, t) == 4096
        assert zcopy.transfer_to(s, SIZE - 5, 4096, t.fileno()) == 5  # clamped at the end
    with open(path, "rb") as f:
        f.seek(10)
        expected = f.read(4096)
        f.seek(SIZE - 5)
        expected += f.read()
    assert (tmp_path / "out").read_bytes() == expected


def test_last_transfer_reports_bytes_method_and_system_calls(data_file, tmp_path, socket_pair):
    with open(data_file(SIZE), "rb") as s, open(tmp_path / "out", "wb") as t:
        assert zcopy.transfer_to(s, 0, SIZE, t) == SIZE
        last = zcopy.last_transfer()
        assert isinstance(last, zcopy.Transfer)
        assert (last.bytes, last.method, last.would_block) == (SIZE, "splice", False)
        assert last.syscalls >= 1
        assert last == (SIZE, "splice", False, last.syscalls)  # a named tuple
        assert zcopy.transfer_all(s, 0, None, t, method="read/write") == SIZE
        last = zcopy.last_transfer()
        # A 64 KiB buffer: at least one read and one write per 64 KiB.
        assert last.method == "read/write" and last.syscalls >= 2 * SIZE // (64 << 10)
        with pytest.raises(ValueError):
            zcopy.transfer_to(s, -1, 10, t)
        assert zcopy.last_transfer() == last  # a failed call leaves the previous outcome
    # A full non-blocking socket: a short count, and would_block says why (an event loop's
    # AF_UNIX socket: page references through the thread's pipe).
    a, _ = socket_pair
    a.setblocking(False)
    with open(data_file(8 << 20, "big.bin"), "rb") as s:
        moved = zcopy.transfer_to(s, 0, 8 << 20, a)
        last = zcopy.last_transfer()
        assert last.bytes == moved < 8 << 20 and last.would_block and last.method == "splice"


def test_hints_follow_the_callers_descriptor_not_a_duplicates_number(data_file, tmp_path, drained_pair):
    # Large and blocking transfers work on duplicated descriptors, whose numbers are reused for
    # every kind of target. Core keeps its method hint under the caller's number (hint_key), so a
    # socket transfer leaves no socket route behind for the file that gets the next duplicate.
    a, drain = drained_pair
    with open(data_file(SIZE), "rb") as s:
        assert zcopy.transfer_all(s, 0, None, a) == SIZE
        assert zcopy.last_method() == "mmap+write"
        for i in range(3):
            with open(tmp_path / f"copy{i}", "wb") as t:
                # Small (core checks the file kind of large transfers itself) and blocking, so
                # on duplicates.
                assert zcopy.transfer_to(s, 0, 4096, t) == 4096
                assert zcopy.last_method() == "copy_file_range", i
                assert zcopy.transfer_all(s, 0, SIZE, a) == SIZE
                assert zcopy.last_method() == "mmap+write"
    a.shutdown(socket.SHUT_WR)
    drain.join(10)
    assert len(drain.data) == 4 * SIZE
    assert (tmp_path / "copy2").read_bytes() == pattern(4096)
