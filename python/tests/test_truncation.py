"""A file truncated under a live mapping never kills the interpreter.

Each case runs in a child interpreter (a failure would be a SIGBUS death, which must not take
the test run with it) and asserts that the child exits normally. The control case shows that
the same access through ``mmap.mmap`` does kill the interpreter, so these tests fail without
zcopy's guard.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

from conftest import run_child

PRELUDE = """
    import os, sys, tempfile
    import zcopy
    path = tempfile.mktemp()
    with open(path, "wb") as f:
        f.write(b"\\x01" * 8192)
    def shrink():
        os.truncate(path, 0)
"""


def child(body: str) -> str:
    result = run_child(textwrap.dedent(PRELUDE) + textwrap.dedent(body))
    assert result.returncode == 0, (result.returncode, result.stderr)
    return result.stdout


def test_control_mmap_dies_with_sigbus():
    result = run_child(
        """
        import mmap, os, tempfile
        path = tempfile.mktemp()
        with open(path, "wb") as f:
            f.write(b"\\x01" * 8192)
        f = open(path, "rb")
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        os.truncate(path, 0)
        print(m[4096])
        """
    )
    assert result.returncode == -signal.SIGBUS, result


def test_region_methods_raise_truncated_error():
    out = child(
        """
        region = zcopy.map(path)
        shrink()
        try:
            region[4096]
        except zcopy.TruncatedError as e:
            assert isinstance(e, OSError) and e.errno == 14, e
            assert "truncated" in str(e)
            print("indexing:", type(e).__name__)
        assert region.truncated
        for name, op in [
            ("slice", lambda: region[0:10]),
            ("read_at", lambda: region.read_at(0, 1)),
            ("force", region.force),
            ("load", region.load),
            ("buffer", lambda: memoryview(region)),
        ]:
            try:
                op()
                print(name, "did not raise")
            except zcopy.TruncatedError:
                print(name, "raised")
        assert len(region) == 8192
        region.close()
        print("closed", region.closed)
        """
    )
    assert "indexing: TruncatedError" in out
    for name in ("slice", "read_at", "force", "load", "buffer"):
        assert f"{name} raised" in out
    assert "closed True" in out


def test_load_reports_truncation_without_touching_pages():
    out = child(
        """
        region = zcopy.map(path)
        shrink()
        try:
            region.load()
        except zcopy.TruncatedError:
            print("load raised")
        """
    )
    assert "load raised" in out


def test_memoryview_reads_zeros_and_the_region_reports_it():
    out = child(
        """
        region = zcopy.map(path)
        view = memoryview(region)
        assert view[0] == 1
        shrink()
        print("read", bytes(view[4096:4100]), sum(view))
        try:
            region[0]
        except zcopy.TruncatedError as e:
            print("next operation:", e)
        """
    )
    assert "read b'\\x00\\x00\\x00\\x00' 0" in out
    assert "next operation:" in out and "truncated" in out


def test_numpy_arrays_over_a_truncated_file():
    out = child(
        """
        import numpy as np
        region = zcopy.map(path, zcopy.READ_WRITE)
        array = np.frombuffer(region, dtype=np.uint8)
        shrink()
        print("sum", int(array.sum()))
        array[100] = 5  # a write into the vanished page goes nowhere
        print("after write", int(array[100]) in (0, 5))
        try:
            region.force()
        except OSError as e:
            print("force:", type(e).__name__)
        """
    )
    assert "sum 0" in out
    assert "after write True" in out
    assert "force: TruncatedError" in out


def test_partial_truncation_keeps_the_surviving_pages():
    out = child(
        """
        region = zcopy.map(path)
        view = memoryview(region)
        os.truncate(path, 4096)
        print("first page", view[0], "second page", view[4096])
        print("truncated", region.truncated)
        """
    )
    assert "first page 1 second page 0" in out
    assert "truncated True" in out


def test_truncation_after_close_is_harmless():
    out = child(
        """
        region = zcopy.map(path)
        view = memoryview(region)
        region.close()
        shrink()
        print("stale view", bytes(view[4096:4098]))
        """
    )
    assert "stale view b'\\x00\\x00'" in out


def test_sigbus_outside_zcopy_regions_still_goes_to_the_previous_handler():
    # With zcopy imported, a fault in a plain mmap.mmap is not zcopy's: the process dies
    # exactly as it would without zcopy (faulthandler, enabled first, reports it).
    result = run_child(
        """
        import mmap, os, tempfile
        import zcopy
        path = tempfile.mktemp()
        with open(path, "wb") as f:
            f.write(b"\\x01" * 8192)
        region = zcopy.map(path, size=10)
        f = open(path, "rb")
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        os.truncate(path, 0)
        print(m[4096])
        """
    )
    assert result.returncode == -signal.SIGBUS
    assert "Bus error" in result.stderr


@pytest.mark.parametrize("threads", [4])
def test_threads_reading_while_the_file_shrinks(threads):
    out = child(
        f"""
        import threading
        region = zcopy.map(path)
        view = memoryview(region)
        stop = threading.Event()
        def reader():
            while not stop.is_set():
                sum(view[::512])
        workers = [threading.Thread(target=reader) for _ in range({threads})]
        for w in workers: w.start()
        shrink()
        import time; time.sleep(0.2)
        stop.set()
        for w in workers: w.join()
        print("survived", region.truncated)
        """
    )
    assert "survived True" in out


def test_guard_survives_faulthandler_enabled_after_import():
    # faulthandler.enable() replaces the SIGBUS handler (the child runs with -X faulthandler,
    # where enable() alone changes nothing: disable() first); the next map() puts the guard back.
    out = child(
        """
        import faulthandler, signal
        faulthandler.disable()
        faulthandler.enable()
        region = zcopy.map(path)
        shrink()
        try:
            region[5000]
        except zcopy.TruncatedError:
            print("raised")
        """
    )
    assert "raised" in out


@pytest.mark.parametrize("x_faulthandler", [False, True], ids=["plain", "X-faulthandler"])
def test_foreign_sigbus_after_faulthandler_reenabled_still_ends_the_process(x_faulthandler):
    # faulthandler, enabled after zcopy, saves the guard as its previous handler and re-raises
    # into it after its traceback. A guard that chained back to faulthandler would bounce the
    # signal between the two forever; the process must die instead.
    code = textwrap.dedent(
        """
        import faulthandler, mmap, os, tempfile
        import zcopy
        faulthandler.disable()
        faulthandler.enable()
        path = tempfile.mktemp()
        with open(path, "wb") as f:
            f.write(b"\\x01" * 8192)
        region = zcopy.map(path, size=10)  # puts the guard back in front of faulthandler
        f = open(path, "rb")
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        os.truncate(path, 0)
        print(m[4096])
        """
    )
    args = [sys.executable] + (["-X", "faulthandler"] if x_faulthandler else []) + ["-c", code]
    try:
        result = subprocess.run(args, capture_output=True, text=True, timeout=30, cwd="/")
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the child looped instead of dying: {str(e.stderr)[:300]}")
    assert result.returncode == -signal.SIGBUS, (result.returncode, result.stderr[-500:])
    assert result.stderr.count("Fatal Python error") <= 1, result.stderr[:500]
