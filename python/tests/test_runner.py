"""The showcase runner (``python/bench/runner.py``, tests/showcase/README.md): its protocol, the
bytes each strategy moves to files and sockets, and the --fetch client."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import pattern

# The runner is a script beside the package (benchmark drivers do not ship in the wheel).
RUNNER = Path(__file__).resolve().parents[1] / "bench" / "runner.py"
_SPEC = importlib.util.spec_from_file_location("showcase_runner", RUNNER)
assert _SPEC is not None and _SPEC.loader is not None
_RUNNER_MODULE = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_RUNNER_MODULE)
STRATEGIES = _RUNNER_MODULE.STRATEGIES

SIZE = (3 << 20) + 12345  # not a multiple of any buffer or page


def runner(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    # From "/": python/ on sys.path would import the source tree instead of the installed wheel.
    return subprocess.run([sys.executable, str(RUNNER), *args], capture_output=True, text=True,
                          timeout=timeout, cwd="/")


def rows(result: subprocess.CompletedProcess[str]) -> list[dict]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture
def src(tmp_path: Path) -> Path:
    path = tmp_path / "src.bin"
    path.write_bytes(pattern(SIZE + 1000))  # longer than what is moved
    return path


class Sink:
    """A loopback server that keeps what each connection sent."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.received: list[bytes] = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                self.received.append(b"".join(iter(lambda: conn.recv(1 << 20), b"")))

    def close(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() (close alone does not)
        self.listener.close()


def test_strategy_list():
    result = runner("--strategy", "list")
    assert result.stdout.split() == list(STRATEGIES)
    assert {"os.sendfile", "shutil.copyfile", "read/write-1m", "zcopy:auto", "zcopy:splice"} <= set(STRATEGIES)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_to_a_file(strategy, src, tmp_path):
    target = tmp_path / "copy.bin"
    got = rows(runner("--src", str(src), "--size", str(SIZE), "--target", f"file:{target}", "--strategy", strategy,
                      "--rounds", "2"))
    assert [r["round"] for r in got] == [0, 1]
    for r in got:
        assert (r["lang"], r["strategy"], r["target"], r["bytes"]) == ("python", strategy, "file", SIZE)
        assert r["wall_s"] > 0 and r["cpu_s"] >= 0 and r["ctx"] >= 0
        expected = {"os.sendfile": "sendfile", "read/write-1m": "read/write", "zcopy:auto": "splice"}
        method = expected.get(strategy, strategy.removeprefix("zcopy:"))
        if strategy != "shutil.copyfile":
            assert r["method"] == method
            assert isinstance(r["syscalls"], int) and r["syscalls"] >= 1
        else:
            assert r["syscalls"] is None and r["method"] in ("sendfile", "copy_file_range")
    assert target.read_bytes() == pattern(SIZE)
    assert not (tmp_path / "copy.bin.prefix").exists()  # shutil.copyfile's prefix is gone


def test_loops_count_their_own_system_calls(src, tmp_path):
    target = f"file:{tmp_path / 'copy.bin'}"
    [r] = rows(runner("--src", str(src), "--size", str(SIZE), "--target", target, "--strategy", "read/write-1m"))
    chunks = -(-SIZE // (1 << 20))
    assert r["syscalls"] == 2 * chunks  # one readinto and one write per MiB
    [r] = rows(runner("--src", str(src), "--size", str(SIZE), "--target", target, "--strategy", "os.sendfile"))
    assert r["syscalls"] == 1


def test_a_file_target_is_overwritten_in_place(src, tmp_path):
    target = tmp_path / "copy.bin"
    target.write_bytes(b"\xff" * (SIZE + 5000))  # longer: the tail stays, nothing truncates it
    before = target.stat().st_ino
    rows(runner("--src", str(src), "--size", str(SIZE), "--target", f"file:{target}", "--strategy", "zcopy:auto"))
    assert target.stat().st_ino == before
    assert target.read_bytes() == pattern(SIZE) + b"\xff" * 5000


@pytest.mark.parametrize("strategy", [s for s in STRATEGIES if s not in ("shutil.copyfile", "zcopy:copy_file_range")])
def test_socket_strategies(strategy, src):
    sink = Sink()
    try:
        got = rows(runner("--src", str(src), "--size", str(SIZE), "--target", f"socket:127.0.0.1:{sink.port}",
                          "--strategy", strategy, "--rounds", "2"))
        deadline = time.monotonic() + 10
        while len(sink.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        sink.close()
    assert [(r["target"], r["bytes"]) for r in got] == [("socket", SIZE)] * 2
    if strategy == "zcopy:auto":
        assert got[0]["method"] == "mmap+write"  # the sink is a peer on this host (loopback)
    assert sink.received == [pattern(SIZE)] * 2  # a connection per round


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_size_zero(strategy, src, tmp_path):
    [r] = rows(runner("--src", str(src), "--size", "0", "--target", f"file:{tmp_path / 'c'}", "--strategy", strategy))
    assert r["bytes"] == 0


@pytest.mark.parametrize(
    "args,status",
    [(["--strategy", "nope"], 2), (["--strategy", "zcopy:auto"], 2),
     (["--size", str(1 << 40), "--strategy", "zcopy:auto"], 2),
     (["--size", "10", "--strategy", "zcopy:auto", "--target", "tcp:x"], 2),
     (["--size", "10", "--strategy", "shutil.copyfile", "--target", "socket:127.0.0.1:9"], 2)],
)
def test_bad_command_lines(args, status, src):
    if "--size" in args:
        args = ["--src", str(src)] + args
        if "--target" not in args:
            args += ["--target", "file:/dev/null"]
    result = runner(*args)
    assert result.returncode == status and result.stdout == "", result
    assert "runner:" in result.stderr


def test_a_forced_method_that_cannot_serve_fails(src):
    sink = Sink()
    try:
        result = runner("--src", str(src), "--size", "100", "--target", f"socket:127.0.0.1:{sink.port}",
                        "--strategy", "zcopy:copy_file_range")
    finally:
        sink.close()
    assert result.returncode == 1 and "Errno 95" in result.stderr


class OneShotHttp:
    """Answers one GET with a fixed response, then closes."""

    def __init__(self, response: bytes) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/file"
        self.response = response
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(4096)
            assert request.startswith(b"GET /file HTTP/1.1\r\n")
            conn.sendall(self.response)
        self.listener.close()


@pytest.mark.parametrize("size", [0, 100, 5 << 20])
def test_fetch_receives_the_body_with_splice(size):
    body = pattern(size)
    server = OneShotHttp(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + body)
    result = runner("--fetch", server.url)
    [got] = rows(result)
    assert got == {"bytes": size, "sha256": hashlib.sha256(body).hexdigest(),
                   "method": "splice" if size else "none"}


@pytest.mark.parametrize(
    "response",
    [b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 99,  # fewer bytes, then close
     b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 101,  # more
     b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
     b"HTTP/1.1 200 OK\r\n\r\nno length"],
    ids=["short", "long", "404", "no-length"],
)
def test_fetch_fails_on_any_mismatch(response):
    server = OneShotHttp(response)
    result = runner("--fetch", server.url)
    assert result.returncode == 1 and result.stdout == "", result
