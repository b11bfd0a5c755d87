"""Cross-language tests: the same mapped file, memfd region and HTTP exchange seen from C, Java and
Python, and copy_file_range sharing blocks on a reflink file system.

The C side is tests/cross/map_tool.c (built by `make test-cross` against libzcopy), the Java side
tests/cross/MapTool.java (run with the source launcher against the jar), the Python side the
`zcopy` package in this process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import zcopy

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "http"))
import servers  # noqa: E402

MAP_TOOL = ROOT / "target" / "cross" / "map_tool"
JAVA = os.environ.get("JAVA", shutil.which("java") or "java")
JAVA_TOOL = ROOT / "tests" / "cross" / "MapTool.java"
JAR = servers.JAR
BENCH_JAR = servers.BENCH_JAR
# The Python runner: a script beside the package, not a module of the wheel.
PY_RUNNER = Path(__file__).resolve().parents[2] / "python" / "bench" / "runner.py"


def pattern(n: int, seed: int) -> bytes:
    return bytes((i * 7 + i // 251 + seed) & 0xFF for i in range(n))


def fnv(data: bytes) -> str:
    h = 1469598103934665603
    for b in data:
        h ^= b
        h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def run_json(cmd: list[str], env: dict | None = None) -> dict:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})
    lines = [line for line in r.stdout.splitlines() if line.startswith("{")]
    assert r.returncode == 0 and lines, f"{cmd}: rc={r.returncode} out={r.stdout!r} err={r.stderr[-2000:]!r}"
    return json.loads(lines[-1])


def c_tool(*args: str) -> list[str]:
    if not MAP_TOOL.exists():
        pytest.skip(f"{MAP_TOOL} not built (make test-cross builds it)")
    return [str(MAP_TOOL), *args]


def java_tool(*args: str) -> list[str]:
    if not JAR.exists():
        pytest.skip(f"{JAR} not built (make java-build)")
    return [JAVA, "--enable-native-access=ALL-UNNAMED", "-cp", str(JAR), str(JAVA_TOOL), *args]


# Writers and readers of a mapped range, per language.
def write_with(lang: str, path: Path, pos: int, length: int, seed: int) -> str:
    if lang == "python":
        with open(path, "a+b") as f:
            with zcopy.map(f, zcopy.READ_WRITE, pos, length) as region:
                memoryview(region)[:] = pattern(length, seed)
                region.force()
        return fnv(pattern(length, seed))
    cmd = (c_tool if lang == "c" else java_tool)("write", str(path), str(pos), str(length), str(seed))
    return run_json(cmd)["fnv"]


def read_with(lang: str, path: Path, pos: int, length: int) -> str:
    if lang == "python":
        with zcopy.map(str(path), zcopy.READ_ONLY, pos, length) as region:
            with memoryview(region) as view:
                return fnv(bytes(view))
    cmd = (c_tool if lang == "c" else java_tool)("read", str(path), str(pos), str(length))
    return run_json(cmd)["fnv"]


LANGS = ["c", "java", "python"]


@pytest.mark.parametrize("writer", LANGS)
@pytest.mark.parametrize("reader", LANGS)
def test_a_mapped_file_written_in_one_language_reads_the_same_in_another(tmp_path, writer, reader):
    path = tmp_path / "shared.bin"
    path.write_bytes(b"\xff" * 1000)  # the writer's READ_WRITE mapping grows the file past this
    pos, length = 4097, 300_000
    written = write_with(writer, path, pos, length, seed=len(writer) * 11 + len(reader))
    assert read_with(reader, path, pos, length) == written
    assert path.stat().st_size == pos + length
    assert path.read_bytes()[:1000] == b"\xff" * 1000, "bytes before the range are untouched"


def test_python_memfd_region_shared_with_c_and_java_children(tmp_path):
    length, seed = 1 << 20, 9
    for child in ("c", "java"):
        region, fd = zcopy.shared_memory(f"cross-{child}", length)
        with region:
            memoryview(region)[: length // 2] = pattern(length // 2, seed)
            if child == "c":
                cmd = c_tool("shm-child", str(fd), str(length), str(seed))
            else:
                cmd = java_tool("shm-child", f"/proc/self/fd/{fd}", str(length), str(seed))
            r = subprocess.run(cmd, capture_output=True, text=True, pass_fds=(fd,), timeout=120)
            assert r.returncode == 0, r.stderr[-2000:]
            with memoryview(region) as view:
                assert bytes(view[length // 2:]) == pattern(length - length // 2, seed + 1), child
        os.close(fd)


def test_c_memfd_region_shared_with_a_python_child():
    length, seed = 1 << 20, 4
    child = (f"import os, sys, zcopy; fd = int(os.environ['ZC_SHM_FD']); n = {length}; s = {seed}\n"
             "pat = lambda n, s: bytes((i * 7 + i // 251 + s) & 255 for i in range(n))\n"
             "with zcopy.map(fd, zcopy.READ_WRITE, 0, n) as r:\n"
             "    v = memoryview(r)\n"
             "    assert bytes(v[: n // 2]) == pat(n // 2, s)\n"
             "    v[n // 2:] = pat(n - n // 2, s + 1)\n"
             "    v.release()\n")
    out = run_json(c_tool("shm-parent", str(length), str(seed), sys.executable, "-c", child))
    assert out["ok"]


@pytest.fixture(scope="module")
def site():
    d = Path(tempfile.mkdtemp(prefix="zcopy-cross-site-"))
    files = {}
    for i, n in enumerate([5000, 3 << 20, 17 << 20]):
        data = os.urandom(n)
        (d / f"f{i}.bin").write_bytes(data)
        files[f"f{i}.bin"] = data
    yield d, files
    shutil.rmtree(d, ignore_errors=True)


def fetch_python(url: str) -> dict:
    return run_json([sys.executable, str(PY_RUNNER), "--fetch", url])


def fetch_java(url: str) -> dict:
    if not BENCH_JAR.exists():
        pytest.skip(f"{BENCH_JAR} not built (make java-bench-build)")
    return run_json([JAVA, "--enable-native-access=ALL-UNNAMED", "-cp", str(BENCH_JAR), "io.zcopy.bench.Runner", "--fetch",
                     url])


def fetch_c(url: str, expected: Path) -> dict:
    """The C example client (c-api/examples/file_client.c) checks the bytes against the file itself."""
    import hashlib

    client = ROOT / "target" / "c-api" / "examples" / "file_client"
    if not client.exists():
        pytest.skip(f"{client} not built (make c-examples)")
    host_port, _, name = url.removeprefix("http://").partition("/")
    host, _, port = host_port.partition(":")
    r = subprocess.run([str(client), port, name, "1", str(expected), host], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    data = expected.read_bytes()
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


FETCHERS = {"python": fetch_python, "java": fetch_java, "c": None}
SERVERS = {"c": "c-zcopy", "java": "java-zcopy", "python": "python-zcopy"}


@pytest.mark.parametrize("server_lang", ["c", "java", "python"])
def test_a_server_in_one_language_serves_clients_in_the_others(site, server_lang):
    import concurrent.futures
    import hashlib

    root, files = site
    spec = next(s for s in servers.specs() if s.name == SERVERS[server_lang])
    if not spec.available:
        pytest.skip(spec.why_not)
    clients = [lang for lang in FETCHERS if lang != server_lang]
    with servers.Running(spec, root) as run:
        jobs = [(lang, name) for lang in clients for name in files]
        def fetch(job):
            lang, name = job
            url = f"{run.base}/{name}"
            return job, (fetch_c(url, root / name) if lang == "c" else FETCHERS[lang](url))

        with concurrent.futures.ThreadPoolExecutor(len(jobs)) as pool:
            results = list(pool.map(fetch, jobs))
    for (lang, name), got in results:
        assert got["bytes"] == len(files[name]), (lang, name)
        assert got["sha256"] == hashlib.sha256(files[name]).hexdigest(), (lang, name)


@pytest.fixture(scope="module")
def xfs():
    """A small XFS image with reflink=1 on a loop device, or a skip saying why it cannot be made."""
    if os.geteuid() != 0:
        pytest.skip("not root: mounting a loop device needs it")
    if not shutil.which("mkfs.xfs"):
        pytest.skip("mkfs.xfs is not installed (make test-cross installs xfsprogs where apt-get works)")
    work = Path(tempfile.mkdtemp(prefix="zcopy-xfs-"))
    img, mnt = work / "xfs.img", work / "mnt"
    mnt.mkdir()
    with open(img, "wb") as f:
        f.truncate(512 << 20)
    subprocess.run(["mkfs.xfs", "-q", "-f", "-m", "reflink=1", str(img)], check=True, capture_output=True)
    r = subprocess.run(["mount", "-o", "loop", str(img), str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        pytest.skip(f"cannot mount a loop device here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def shared_extents(path: Path) -> bool:
    out = subprocess.run(["filefrag", "-v", str(path)], capture_output=True, text=True, check=True).stdout
    return "shared" in out


def test_reflink_copy_file_range_shares_extents(xfs):
    src = xfs / "src.bin"
    src.write_bytes(os.urandom(32 << 20))
    os.sync()
    # Python binding
    dst = xfs / "py.bin"
    with open(src, "rb") as s, open(dst, "wb") as d:
        n = zcopy.transfer_all(s, 0, 32 << 20, d)
        assert n == 32 << 20
        assert zcopy.last_method() == "copy_file_range"
    assert dst.read_bytes() == src.read_bytes()
    assert shared_extents(dst), "copy_file_range should have shared blocks on XFS reflink=1"
    # C runner
    cdst = xfs / "c.bin"
    out = run_json(c_tool_runner("--src", str(src), "--size", str(32 << 20), "--target", f"file:{cdst}",
                                 "--strategy", "zcopy:auto", "--rounds", "1"))
    assert out["method"] == "copy_file_range"
    assert shared_extents(cdst)


def c_tool_runner(*args: str) -> list[str]:
    runner = ROOT / "c-api" / "build" / "zc_runner"
    if not runner.exists():
        pytest.skip(f"{runner} not built (make c-build)")
    return [str(runner), *args]


def test_the_method_table_agrees_across_languages():
    """One table of transfer methods (the core's): C's zc_transfer_method_name, Java's
    TransferMethod and Python's METHODS name the same methods in the same order."""
    c = subprocess.run(c_tool("methods"), capture_output=True, text=True, check=True).stdout.split()
    java = subprocess.run(java_tool("methods"), capture_output=True, text=True, check=True).stdout.split()
    assert c[0] == java[0] == "none"
    assert c == java
    assert tuple(c[1:]) == zcopy.METHODS
