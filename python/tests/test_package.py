"""The installed package: layout (stubs, py.typed, abi3 extension), docstrings everywhere,
the error table, and the guard installed at import."""

from __future__ import annotations

import errno
import importlib.metadata
import inspect
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import zcopy
from zcopy import _native

PACKAGE = Path(zcopy.__file__).parent


def test_stubs_and_py_typed_ship_with_the_abi3_extension():
    assert (PACKAGE / "py.typed").exists()
    assert (PACKAGE / "_native.pyi").exists()
    assert Path(_native.__file__).name == "_native.abi3.so"
    assert importlib.metadata.version("zcopy") == zcopy.__version__


def test_every_public_name_has_a_docstring():
    missing = []
    for name in zcopy.__all__:
        obj = getattr(zcopy, name)
        if callable(obj) and not (obj.__doc__ or "").strip():
            missing.append(name)
    for cls in (zcopy.MappedRegion, zcopy.EpollSelector):
        for name, member in inspect.getmembers(cls):
            if name.startswith("_") or not callable(member) and not isinstance(member, property):
                continue
            if not (getattr(member, "__doc__", "") or "").strip():
                missing.append(f"{cls.__name__}.{name}")
    assert not missing, missing


def test_the_stub_names_what_the_module_has():
    stub = (PACKAGE / "_native.pyi").read_text()
    for name in dir(_native):
        if not name.startswith("_"):
            assert name in stub, name


def test_the_guard_is_installed_at_import():
    code = """
        import sys
        if sys.argv[1] == "1":
            import zcopy
        caught = next(l for l in open("/proc/self/status") if l.startswith("SigCgt:"))
        print(int(caught.split()[1], 16) >> (SIGBUS - 1) & 1)
    """.replace("SIGBUS", str(int(signal.SIGBUS)))
    for imported in ("0", "1"):
        result = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code), imported],
            capture_output=True,
            text=True,
            cwd="/",
        )
        assert result.stdout.strip() == imported, result


def test_error_table():
    # core ErrorKind -> Python, as python/README.md and tests/vectors/README.md state it.
    with pytest.raises(ValueError):  # InvalidArgument
        zcopy.map("/dev/null", position=-1)
    with pytest.raises(OSError) as info:  # Closed (descriptor)
        zcopy.transfer_to(1_000_000, 0, 1, 1)
    assert info.value.errno == errno.EBADF and type(info.value) is OSError
    with pytest.raises(BlockingIOError):  # WouldBlock, on the direct calls
        r, w = os.pipe()
        r2, w2 = os.pipe()
        try:
            zcopy.splice(r, w2, 1, flags=zcopy.SPLICE_F_NONBLOCK)
        finally:
            for fd in (r, w, r2, w2):
                os.close(fd)
    assert issubclass(zcopy.TruncatedError, OSError)
    e = zcopy.TruncatedError(errno.EFAULT, "truncated")
    assert e.errno == errno.EFAULT
    with pytest.raises(FileNotFoundError):  # Io: CPython picks the subclass
        zcopy.map("/nonexistent/zcopy")


def test_the_benchmark_runs():
    bench = Path(__file__).resolve().parents[1] / "bench" / "bench.py"
    result = subprocess.run(
        [sys.executable, str(bench), "--size", "1M", "--rounds", "1", "--calls", "200"],
        capture_output=True,
        text=True,
        cwd="/",
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    for title in ("Bulk transfer", "Per-call cost", "Sequential reads", "Selector"):
        assert title in result.stdout
    assert "x faster" in result.stdout


def test_the_wheel_holds_the_package_only():
    """Benchmark drivers and the showcase runner live beside the package, not in it."""
    import importlib.util

    for name in ("zcopy.bench", "zcopy.runner", "zcopy.tests"):
        assert importlib.util.find_spec(name) is None, name
    assert zcopy.METHODS == ("copy_file_range", "sendfile", "splice", "mmap+write", "read/write")
