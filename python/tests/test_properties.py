"""Property tests (hypothesis) comparing a region with the file it maps after random
writes, forces and transfers."""

from __future__ import annotations

import os
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zcopy

SIZE = 3 * 4096 + 123

write = st.tuples(
    st.just("write"), st.integers(0, SIZE - 1), st.binary(min_size=1, max_size=5000)
)
poke = st.tuples(st.just("poke"), st.integers(-SIZE, SIZE - 1), st.integers(0, 255))
force = st.tuples(st.just("force"), st.integers(0, SIZE), st.integers(0, SIZE))
transfer_in = st.tuples(st.just("transfer_in"), st.integers(0, SIZE - 1), st.binary(min_size=1, max_size=3000))
transfer_out = st.tuples(st.just("transfer_out"), st.integers(0, SIZE), st.integers(0, 2 * SIZE))
file_write = st.tuples(st.just("file_write"), st.integers(0, SIZE - 1), st.binary(min_size=1, max_size=3000))
operations = st.lists(st.one_of(write, poke, force, transfer_in, transfer_out, file_write), max_size=25)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations, position=st.integers(0, 4096 + 7), private=st.booleans())
def test_a_region_and_its_file_agree(ops, position, private):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "f")
        initial = bytes(i % 251 for i in range(position + SIZE))
        with open(path, "wb") as f:
            f.write(initial)
        model_file = bytearray(initial)  # what the file holds
        mode = zcopy.PRIVATE if private else zcopy.READ_WRITE
        region = zcopy.map(path, mode, position, SIZE)
        model_region = bytearray(initial[position:])  # what the region shows
        fd = os.open(path, os.O_RDWR)
        try:
            for op in ops:
                kind = op[0]
                if kind == "write":
                    _, at, data = op
                    data = data[: SIZE - at]
                    region[at : at + len(data)] = data
                    model_region[at : at + len(data)] = data
                    if not private:
                        model_file[position + at : position + at + len(data)] = data
                elif kind == "poke":
                    _, at, value = op
                    region[at] = value
                    model_region[at] = value
                    if not private:
                        model_file[position + (at % SIZE)] = value
                elif kind == "force":
                    _, at, size = op
                    size = min(size, SIZE - at)
                    region.force(at, size)
                elif kind == "transfer_in":
                    # Bytes arrive in the file through the kernel (transfer_from a pipe).
                    _, at, data = op
                    data = data[: SIZE - at]
                    r, w = os.pipe()
                    os.write(w, data)
                    os.close(w)
                    assert zcopy.transfer_from(fd, r, position + at, len(data)) == len(data)
                    os.close(r)
                    model_file[position + at : position + at + len(data)] = data
                    if not private:  # a shared mapping sees the page cache
                        model_region[at : at + len(data)] = data
                elif kind == "transfer_out":
                    # The kernel reads what the region wrote (shared) straight from the file.
                    _, at, count = op
                    with tempfile.TemporaryFile() as out:
                        moved = zcopy.transfer_to(fd, position + at, count, out)
                        out.seek(0)
                        got = out.read()
                    want = bytes(model_file[position + at : position + at + count])
                    assert moved == len(want) and got == want
                elif kind == "file_write":
                    _, at, data = op
                    data = data[: SIZE - at]
                    os.pwrite(fd, data, position + at)
                    model_file[position + at : position + at + len(data)] = data
                    if not private:
                        model_region[at : at + len(data)] = data
                if not private:
                    assert bytes(region) == bytes(model_region)
            assert bytes(region) == bytes(model_region) or private
            region.force()
            with open(path, "rb") as f:
                assert f.read() == bytes(model_file)
            if not private:
                assert bytes(region) == bytes(model_file[position : position + SIZE])
        finally:
            os.close(fd)
            region.close()


@settings(max_examples=100, deadline=None)
@given(size=st.integers(0, 20000), position=st.integers(0, 20000), count=st.integers(-5, 30000))
def test_transfer_to_matches_slicing_the_file(size, position, count):
    data = bytes((i * 13) % 256 for i in range(size))
    with tempfile.TemporaryFile() as src, tempfile.TemporaryFile() as dst:
        src.write(data)
        src.flush()
        if count < 0:
            try:
                zcopy.transfer_to(src, position, count, dst)
            except ValueError:
                return
            raise AssertionError("negative count accepted")
        moved = zcopy.transfer_to(src, position, count, dst)
        want = data[position : position + count]
        assert moved == len(want)
        dst.seek(0)
        assert dst.read() == want


@settings(max_examples=100, deadline=None)
@given(size=st.integers(1, 20000), index=st.integers(-25000, 25000), s=st.slices(25000))
def test_indexing_matches_bytes(size, index, s):
    data = bytes((i * 31) % 256 for i in range(size))
    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        with zcopy.map(f.name) as region:
            assert region[s] == data[s]
            try:
                want = data[index]
            except IndexError:
                try:
                    region[index]
                except IndexError:
                    return
                raise AssertionError("index out of range accepted") from None
            assert region[index] == want
