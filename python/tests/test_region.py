"""zcopy.map() and MappedRegion: arguments, modes, the buffer protocol, indexing, force, load,
residency, advice, and the close rule."""

from __future__ import annotations

import ctypes
import errno
import gc
import hashlib
import mmap
import os
import pickle
import socket
from pathlib import Path

import numpy as np
import pytest

import zcopy
from conftest import maps_mention, pattern

PAGE = mmap.PAGESIZE


# --- map(): what it accepts ------------------------------------------------------------------


def test_map_accepts_path_str_bytes_pathlike_fileobj_and_fd(data_file):
    path = data_file(10000)
    want = pattern(10000)
    with open(path, "rb") as f:
        sources = [str(path), os.fsencode(path), Path(path), f, f.fileno()]
        for source in sources:
            with zcopy.map(source) as region:
                assert bytes(region) == want, source


def test_map_flushes_a_buffered_file_object_first(tmp_path):
    path = tmp_path / "f"
    with open(path, "w+b") as f:
        f.write(b"written but still in the buffer")
        with zcopy.map(f) as region:
            assert bytes(region) == b"written but still in the buffer"


def test_unaligned_position_and_explicit_size(data_file):
    path = data_file(3 * PAGE)
    with zcopy.map(path, position=PAGE + 1, size=100) as region:
        assert len(region) == 100
        assert region.position == PAGE + 1
        assert region.size == 100
        assert bytes(region) == pattern(3 * PAGE)[PAGE + 1 : PAGE + 101]


def test_default_size_runs_to_the_end(data_file):
    path = data_file(10000)
    with zcopy.map(path, position=9999) as region:
        assert bytes(region) == pattern(10000)[9999:]


def test_size_zero_is_an_empty_region(data_file, tmp_path):
    path = data_file(100)
    with zcopy.map(path, position=100, size=0) as region:
        assert len(region) == 0
        assert bytes(region) == b""
        assert region[:] == b""
        assert memoryview(region).nbytes == 0
        region.force()
        region.load()
        assert region.is_loaded()
        assert region.residency() == []
    empty = tmp_path / "empty"
    empty.touch()
    with zcopy.map(empty) as region:  # mmap.mmap refuses: "cannot mmap an empty file"
        assert len(region) == 0


def test_read_write_grows_the_file_and_read_only_does_not(data_file):
    path = data_file(100)
    with zcopy.map(path, zcopy.READ_WRITE, position=50, size=200) as region:
        assert len(region) == 200
    assert path.stat().st_size == 250
    with pytest.raises(ValueError, match="past the end"):
        zcopy.map(path, zcopy.READ_ONLY, position=0, size=251)
    with pytest.raises(ValueError, match="past the end"):
        zcopy.map(path, zcopy.READ_WRITE, position=0, size=300, grow=False)
    assert path.stat().st_size == 250


def test_regions_larger_than_2_gib(tmp_path):
    path = tmp_path / "sparse"
    size = 3 * 1024**3 + 17
    with open(path, "wb") as f:
        f.truncate(size)
        f.seek(size - 5)
        f.write(b"tail!")
    with zcopy.map(path) as region:
        assert len(region) == size
        assert region[-5:] == b"tail!"
        assert region[2**31 + 5] == 0
    with zcopy.map(path, position=2**31 + 1, size=10) as region:
        assert region.position == 2**31 + 1
        assert bytes(region) == b"\0" * 10


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"position": -1}, ValueError, "negative position"),
        ({"size": -1}, ValueError, "negative size"),
        ({"position": 2**63 - 1, "size": 1}, ValueError, "overflows"),
        ({"position": 101}, ValueError, "past the end"),
    ],
)
def test_map_refuses_bad_ranges(data_file, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        zcopy.map(data_file(100), **kwargs)


def test_map_errors_are_the_natural_exceptions(tmp_path, data_file, pipe):
    with pytest.raises(FileNotFoundError) as info:
        zcopy.map(tmp_path / "missing")
    assert info.value.filename == str(tmp_path / "missing")
    with pytest.raises(OSError) as info:
        zcopy.map(tmp_path)  # core: only regular files map
    assert info.value.errno == errno.ENODEV
    with pytest.raises(OSError) as info:
        zcopy.map(pipe[0], size=10)
    assert info.value.errno == errno.ENODEV
    path = data_file(100)
    with open(path, "rb") as f:
        with pytest.raises(OSError) as info:
            zcopy.map(f, zcopy.READ_WRITE)
        assert info.value.errno == errno.EBADF
    fd = os.open(path, os.O_RDONLY)
    os.close(fd)
    with pytest.raises(OSError) as info:
        zcopy.map(fd)
    assert info.value.errno == errno.EBADF
    with pytest.raises(TypeError):
        zcopy.map(3.5)
    with pytest.raises(TypeError):
        zcopy.map(path, "r")
    with pytest.raises(OverflowError):
        zcopy.map(path, position=2**64)
    closed = open(path, "rb")
    closed.close()
    with pytest.raises(ValueError):
        zcopy.map(closed)


# --- the buffer protocol ----------------------------------------------------------------------


def test_read_only_region_exports_a_read_only_buffer(data_file):
    with zcopy.map(data_file(1000)) as region:
        view = memoryview(region)
        assert view.readonly
        assert view.format == "B" and view.itemsize == 1 and view.shape == (1000,)
        assert view.contiguous
        assert view[5] == pattern(1000)[5]
        with pytest.raises(TypeError):
            view[0] = 1
        with pytest.raises(TypeError, match="not writable"):
            ctypes.c_char.from_buffer(region)
        a, b = socket.socketpair()
        with a, b:
            a.send(b"x")
            with pytest.raises(TypeError, match="read-write"):
                b.recv_into(region)  # asks for PyBUF_WRITABLE
        view.release()


@pytest.mark.parametrize("mode", [zcopy.READ_WRITE, zcopy.PRIVATE])
def test_writable_modes_export_writable_buffers(data_file, mode):
    path = data_file(1000)
    with zcopy.map(path, mode) as region:
        with memoryview(region) as view:
            assert not view.readonly
            view[0:4] = b"abcd"
        assert region[0:4] == b"abcd"
        region.force()
    assert (path.read_bytes()[:4] == b"abcd") == (mode == zcopy.READ_WRITE)


def test_consumers_work_without_copies(data_file, socket_pair):
    data = pattern(100000)
    with zcopy.map(data_file(100000)) as region:
        assert hashlib.sha256(region).digest() == hashlib.sha256(data).digest()
        array = np.frombuffer(region, dtype=np.uint8)
        assert not array.flags.writeable
        assert int(array.sum()) == sum(data)
        assert array.ctypes.data == region.address
        del array
        a, b = socket_pair
        a.sendall(memoryview(region)[:1000])
        assert b.recv(1000, socket.MSG_WAITALL) == data[:1000]
        with zcopy.map(data_file(100, "small.bin")) as small:
            assert a.send(small) == 100  # socket.send(region), no copy
            assert b.recv(100, socket.MSG_WAITALL) == pattern(100)
        assert region.exports == 0


def test_numpy_writes_through_a_read_write_region_reach_the_file(data_file):
    path = data_file(4096 * 4)
    with zcopy.map(path, zcopy.READ_WRITE) as region:
        array = np.frombuffer(region, dtype=np.uint32)
        assert array.flags.writeable
        array[:] = np.arange(array.size, dtype=np.uint32)
        region.force()
        del array
    on_disk = np.frombuffer(path.read_bytes(), dtype=np.uint32)
    assert (on_disk == np.arange(4096, dtype=np.uint32)).all()


def test_private_writes_never_reach_the_file(data_file):
    path = data_file(1000)
    with zcopy.map(path, zcopy.PRIVATE) as region:
        region[0:3] = b"xyz"
        np.frombuffer(region, dtype=np.uint8)[3] = 0xFF
        region.force()  # a no-op for private pages, as mmap.ACCESS_COPY's flush()
        assert region[0:4] == b"xyz\xff"
    assert path.read_bytes() == pattern(1000)


# --- indexing and slicing like mmap.mmap ------------------------------------------------------


def test_indexing_and_slicing_match_mmap(data_file):
    path = data_file(5000)
    with open(path, "rb") as f, zcopy.map(path) as region:
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        for index in [0, 1, 4999, -1, -5000]:
            assert region[index] == m[index]
        for s in [
            slice(None),
            slice(10, 20),
            slice(-10, None),
            slice(None, None, 7),
            slice(4000, 100, -3),
            slice(100, 10),
            slice(-100000, 100000),
            slice(1, 2, -1),
        ]:
            got = region[s]
            assert isinstance(got, bytes)
            assert got == m[s], s
        for bad in [5000, -5001, 2**70, -(2**70)]:
            with pytest.raises(IndexError):
                region[bad]
            with pytest.raises(IndexError):
                m[bad]
        with pytest.raises(TypeError):
            region["x"]
        with pytest.raises(TypeError):
            region[1.0]
        assert region[np.int64(3)] == m[3]
        m.close()


def test_item_and_slice_assignment(data_file):
    path = data_file(100)
    with zcopy.map(path, zcopy.READ_WRITE) as region:
        region[0] = 255
        region[-1] = 1
        region[10:13] = b"abc"
        region[20:23] = bytearray(b"def")
        region[30:36:2] = b"xyz"
        region[40:44] = memoryview(b"ghij")
        region[50:50] = b""
        with pytest.raises(IndexError, match="wrong size"):
            region[0:3] = b"ab"
        with pytest.raises(IndexError):
            region[100] = 1
        with pytest.raises(ValueError):
            region[0] = 256
        with pytest.raises(TypeError):
            region[0] = b"a"
        with pytest.raises(TypeError):
            region[0:1] = "a"
        with pytest.raises(TypeError):
            del region[0]
        region.force()
    data = path.read_bytes()
    assert data[0] == 255 and data[-1] == 1
    assert data[10:13] == b"abc" and data[20:23] == b"def" and data[40:44] == b"ghij"
    assert data[30:36:2] == b"xyz"


def test_writes_to_a_read_only_region_are_type_errors(data_file):
    with zcopy.map(data_file(100)) as region:
        with pytest.raises(TypeError, match="READ_ONLY"):
            region[0] = 1
        with pytest.raises(TypeError, match="READ_ONLY"):
            region[0:2] = b"ab"
        with pytest.raises(TypeError, match="READ_ONLY"):
            region.write_at(0, b"a")


def test_read_at_and_write_at(data_file):
    path = data_file(1000)
    with zcopy.map(path, zcopy.READ_WRITE) as region:
        assert region.read_at(10, 5) == pattern(1000)[10:15]
        assert region.read_at(990) == pattern(1000)[990:]
        assert region.read_at(1000, 0) == b""
        assert region.write_at(998, b"zz") == 2
        assert region.read_at(998) == b"zz"
        with pytest.raises(ValueError, match="outside the region"):
            region.read_at(999, 2)
        with pytest.raises(ValueError, match="outside the region"):
            region.read_at(2**62, 10**15)
        with pytest.raises(ValueError, match="outside the region"):
            region.write_at(999, b"ab")
        with pytest.raises(ValueError, match="negative"):
            region.read_at(-1, 1)


def test_big_copies_release_the_gil(data_file):
    # 4 MiB slices and writes go through the detach path; the result is the same.
    path = data_file(4 << 20)
    with zcopy.map(path, zcopy.PRIVATE) as region:
        assert region[:] == pattern(4 << 20)
        region[0 : 4 << 20] = bytes(4 << 20)
        assert region.read_at(0) == bytes(4 << 20)


# --- force, load, residency, advice, lock ----------------------------------------------------


def test_force_writes_ranges_back(data_file):
    path = data_file(3 * PAGE)
    with zcopy.map(path, zcopy.READ_WRITE, position=7) as region:
        region[PAGE] = 0
        assert region.force(PAGE, 1) is None  # any offset: aligned inside core
        region.force_async()
        assert region.force() is None
        with pytest.raises(ValueError):
            region.force(0, 10 * PAGE)
        with pytest.raises(ValueError):
            region.force(-1)
    assert path.read_bytes()[7 + PAGE] == 0


def test_load_makes_pages_resident(data_file):
    path = data_file(64 * PAGE)
    with zcopy.map(path) as region:
        region.load()
        assert region.is_loaded()
        residency = region.residency()
        assert len(residency) == 64 and all(residency)


def test_residency_counts_pages_of_an_unaligned_span(data_file):
    with zcopy.map(data_file(3 * PAGE), position=PAGE - 1, size=2) as region:
        assert len(region.residency()) == 2


def test_advise_checks_its_advice(data_file):
    with zcopy.map(data_file(16 * PAGE), zcopy.PRIVATE) as region:
        for advice in (
            zcopy.MADV_NORMAL,
            zcopy.MADV_RANDOM,
            zcopy.MADV_SEQUENTIAL,
            zcopy.MADV_WILLNEED,
            zcopy.MADV_DONTFORK,
            zcopy.MADV_DOFORK,
            zcopy.MADV_DONTDUMP,
            zcopy.MADV_DODUMP,
        ):
            assert region.advise(advice) is None
        region.advise(zcopy.MADV_WILLNEED, 5, 100)
        with pytest.raises(ValueError, match="destructive"):
            region.advise(zcopy.MADV_DONTNEED)
        with pytest.raises(ValueError, match="not a known"):
            region.advise(12345)
        with pytest.raises(ValueError):
            region.advise(zcopy.MADV_NORMAL, 0, 17 * PAGE)
        region[0:3] = b"abc"
        region.advise_unchecked(zcopy.MADV_DONTNEED)  # private changes are dropped
        assert region[0:3] == pattern(3)
        with pytest.raises(ValueError, match="not destructive"):
            region.advise_unchecked(zcopy.MADV_NORMAL)


def test_populate_advice_reports_errors_instead_of_signals(data_file):
    with zcopy.map(data_file(4 * PAGE)) as region:
        try:
            region.advise(zcopy.MADV_POPULATE_READ)
        except ValueError as e:  # kernels before 5.14 do not know the advice
            assert "refused" in str(e)
        with pytest.raises(OSError) as info:
            region.advise(zcopy.MADV_POPULATE_WRITE)
        assert info.value.errno == errno.EBADF  # NotWritable: a READ_ONLY region


def test_lock_and_unlock(data_file):
    with zcopy.map(data_file(PAGE)) as region:
        try:
            region.lock()
        except (PermissionError, MemoryError, OSError) as e:  # RLIMIT_MEMLOCK may be 0
            pytest.skip(f"mlock not permitted here: {e}")
        assert region.is_loaded()
        region.unlock()


# --- closing ----------------------------------------------------------------------------------


def test_close_is_idempotent_and_later_use_is_value_error(data_file):
    region = zcopy.map(data_file(100))
    assert not region.closed
    region.close()
    region.close()
    assert region.closed
    assert region.size == 100 and region.position == 0 and region.mode == zcopy.READ_ONLY
    for op in (
        lambda: region[0],
        lambda: region[0:1],
        lambda: len(region),
        lambda: memoryview(region),
        lambda: region.force(),
        lambda: region.load(),
        lambda: region.is_loaded(),
        lambda: region.residency(),
        lambda: region.advise(zcopy.MADV_NORMAL),
        lambda: region.read_at(0, 1),
        lambda: region.address,
        lambda: region.__enter__(),
    ):
        with pytest.raises(ValueError, match="closed"):
            op()
    assert "closed" in repr(region)


def test_close_while_views_are_alive_succeeds_and_views_read_zeros(data_file):
    path = data_file(3 * PAGE)
    region = zcopy.map(path, zcopy.READ_WRITE)
    view = memoryview(region)
    sub = view[PAGE:]
    array = np.frombuffer(region, dtype=np.uint8)
    assert region.exports == 2  # a slice of a memoryview shares its export
    with region:
        pass  # __exit__ closes, with three exports alive: no BufferError
    assert region.closed
    assert not maps_mention(path)  # the file is no longer mapped
    assert bytes(view[:10]) == bytes(10)
    assert bytes(sub[:10]) == bytes(10)
    assert int(array.sum()) == 0
    view[0] = 7  # goes nowhere, and does not crash
    array[1] = 9
    assert path.read_bytes() == pattern(3 * PAGE)
    del view, sub, array
    gc.collect()
    assert region.exports == 0


def test_views_keep_the_address_range_until_released(data_file):
    path = data_file(PAGE)
    region = zcopy.map(path)
    view = memoryview(region)
    address = region.address
    del region
    gc.collect()
    # The region object lives on through the view's reference; the memory is still mapped.
    assert view[0] == pattern(1)[0]
    obj = view.obj
    assert isinstance(obj, zcopy.MappedRegion) and obj.address == address
    del obj
    view.release()


def test_a_deleted_file_is_released_on_close(tmp_path):
    path = tmp_path / "deleted"
    path.write_bytes(b"x" * (1 << 20))
    region = zcopy.map(path)
    view = memoryview(region)
    os.unlink(path)
    with open("/proc/self/maps") as f:
        assert any("(deleted)" in line and "deleted" in line for line in f)
    region.close()
    with open("/proc/self/maps") as f:
        assert not any(str(path) in line for line in f)
    view.release()


# --- shared memory and the rest ---------------------------------------------------------------


def test_shared_memory_is_visible_through_its_descriptor():
    region, fd = zcopy.shared_memory("zcopy-test", 8192)
    try:
        assert region.mode == zcopy.READ_WRITE and len(region) == 8192
        region[0:5] = b"hello"
        with zcopy.map(fd, zcopy.READ_ONLY) as other:
            assert other[0:5] == b"hello"
        assert os.pread(fd, 5, 0) == b"hello"
        with pytest.raises(PermissionError):
            os.ftruncate(fd, 0)  # sealed against shrinking
    finally:
        region.close()
        os.close(fd)
    with pytest.raises(ValueError):
        zcopy.shared_memory("bad\0name", 10)
    with pytest.raises(ValueError):
        zcopy.shared_memory("x", -1)


def test_regions_do_not_pickle_and_have_a_useful_repr(data_file):
    with zcopy.map(data_file(10), position=3) as region:
        with pytest.raises(TypeError):
            pickle.dumps(region)
        assert repr(region) == "<zcopy.MappedRegion open mode=READ_ONLY position=3 size=7>"


def test_map_modes_are_an_enum():
    assert {zcopy.READ_ONLY, zcopy.READ_WRITE, zcopy.PRIVATE} == set(
        [zcopy.MapMode.READ_ONLY, zcopy.MapMode.READ_WRITE, zcopy.MapMode.PRIVATE]
    )
    assert zcopy.READ_ONLY == 0 and int(zcopy.PRIVATE) == 2
    assert zcopy.page_size() == PAGE
