"""The example HTTP/1.1 file server (python/examples/http_server.py), with raw sockets: the
protocol corners that tests/http/test_http.py (curl, shared by every server) does not reach."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from conftest import ROOT, pattern

SERVER = ROOT / "python" / "examples" / "http_server.py"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    (root / "a.bin").write_bytes(pattern(100_000))
    (root / "small.txt").write_bytes(b"hello\n")
    (root / "dir").mkdir()
    return root


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[tuple[str, int]]:
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "--root", str(site), "--port", "0", "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    m = re.search(r"listening on ([0-9.]+):(\d+)", line)
    assert m, (line, proc.stderr.read() if proc.stderr else "")
    try:
        yield m.group(1), int(m.group(2))
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
        assert proc.returncode == 0
        assert err == ""  # no worker reported an error


def exchange(server: tuple[str, int], data: bytes, timeout: float = 5) -> bytes:
    """Sends `data` and reads until the server closes (or `timeout` passes quietly)."""
    with socket.create_connection(server, timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        try:
            while chunk := s.recv(1 << 16):
                chunks.append(chunk)
        except socket.timeout:
            pass
        return b"".join(chunks)


def responses(reply: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Splits a stream of responses (each with Content-Length) into (status, headers, body)."""
    out = []
    while reply:
        head, sep, rest = reply.partition(b"\r\n\r\n")
        assert sep, reply[:200]
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        n = int(headers["content-length"])  # (no HEAD responses go through here)
        out.append((status, headers, rest[:n]))
        reply = rest[n:]
    return out


def test_http10_closes_unless_keep_alive(server):
    reply = exchange(server, b"GET /small.txt HTTP/1.0\r\n\r\n")
    [(status, headers, body)] = responses(reply)
    assert (status, body, headers["connection"]) == (200, b"hello\n", "close")
    with socket.create_connection(server, timeout=5) as s:
        for _ in range(2):  # the same connection twice
            s.sendall(b"GET /small.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            reply = b""
            while not reply.endswith(b"\r\n\r\nhello\n"):
                chunk = s.recv(4096)
                assert chunk, reply
                reply += chunk
            assert reply.startswith(b"HTTP/1.1 200") and b"Connection: keep-alive\r\n" in reply


def test_other_methods_get_405_with_allow_and_their_body_is_skipped(server):
    req = b"POST /small.txt HTTP/1.1\r\nContent-Length: 5\r\n\r\nXXXXX"
    req += b"HEAD /small.txt HTTP/1.1\r\n\r\n"
    req += b"GET /small.txt HTTP/1.1\r\nConnection: close\r\n\r\n"
    reply = exchange(server, req)
    first, second = reply.split(b"\r\n\r\n", 1)[0], reply.split(b"405 Method Not Allowed\n", 1)[1]
    assert first.startswith(b"HTTP/1.1 405") and b"Allow: GET, HEAD" in first
    # HEAD: the headers of the GET, no body; then the GET.
    head, _, rest = second.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"Content-Length: 6" in head
    assert rest.startswith(b"HTTP/1.1 200") and rest.endswith(b"\r\n\r\nhello\n")


@pytest.mark.parametrize(
    "request_bytes,status",
    [
        (b"GET /small.txt HTTP/2.0\r\n\r\n", 505),
        (b"GET /small.txt HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"GET /small.txt HTTP/1.1\r\nBad Name: x\r\n\r\n", 400),
        (b"GET /small.txt HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        (b"GET small.txt HTTP/1.1\r\n\r\n", 400),
        (b"GET /sm%zzall.txt HTTP/1.1\r\n\r\n", 400),
        (b"GET /" + b"x" * 20000 + b" HTTP/1.1\r\n\r\n", 400),
    ],
)
def test_malformed_requests_close_the_connection(server, request_bytes, status):
    reply = exchange(server, request_bytes + b"GET /small.txt HTTP/1.1\r\n\r\n")
    [(got, headers, _)] = responses(reply)  # nothing after the error: the stream is not trusted
    assert got == status and headers["connection"] == "close"


@pytest.mark.parametrize(
    "target,status",
    [("/dir", 404), ("/dir/", 404), ("/", 404), ("/./small.txt", 200), ("/small.txt?x=1#y", 200),
     ("/%73mall.txt", 200), ("/dir/..%2fsmall.txt", 404), ("/dir/%2e%2e/small.txt", 404)],
)
def test_targets(server, target, status):
    reply = exchange(server, f"GET {target} HTTP/1.1\r\nConnection: close\r\n\r\n".encode())
    assert responses(reply)[0][0] == status


@pytest.mark.parametrize(
    "value,status,content_range",
    [("bytes=0-9", 206, "bytes 0-9/100000"), ("bytes=99990-", 206, "bytes 99990-99999/100000"),
     ("bytes=-0", 416, "bytes */100000"), ("bytes=100000-", 416, "bytes */100000"),
     ("bytes=0-1,5-6", 200, None), ("items=0-1", 200, None), ("bytes=9-1", 200, None)],
)
def test_ranges(server, value, status, content_range):
    reply = exchange(server, f"GET /a.bin HTTP/1.1\r\nRange: {value}\r\nConnection: close\r\n\r\n".encode())
    [(got, headers, body)] = responses(reply)
    assert got == status and headers.get("content-range") == content_range
    if status == 206:
        first, last = map(int, content_range.split()[1].split("/")[0].split("-"))
        assert body == pattern(100_000)[first : last + 1]
    elif status == 200:
        assert body == pattern(100_000)


def test_many_pipelined_requests_are_answered_in_order(server):
    # More than one connection's budget in a row: the rest must follow without a new request.
    names = [b"/a.bin" if i % 3 == 0 else b"/small.txt" for i in range(100)]
    req = b"".join(b"GET " + n + b" HTTP/1.1\r\n\r\n" for n in names)
    req += b"GET /small.txt HTTP/1.1\r\nConnection: close\r\n\r\n"
    got = responses(exchange(server, req, timeout=20))
    assert len(got) == 101
    for name, (status, _, body) in zip(names, got):
        assert status == 200 and body == (pattern(100_000) if name == b"/a.bin" else b"hello\n")


def test_a_changed_file_is_not_served_stale(server, site):
    path = site / "changing.txt"
    path.write_bytes(b"one")
    assert exchange(server, b"GET /changing.txt HTTP/1.1\r\nConnection: close\r\n\r\n").endswith(b"one")
    time.sleep(0.01)
    tmp = site / "changing.tmp"
    tmp.write_bytes(b"two!")
    os.replace(tmp, path)  # a new inode under the same name
    assert exchange(server, b"GET /changing.txt HTTP/1.1\r\nConnection: close\r\n\r\n").endswith(b"two!")
    path.unlink()
    assert exchange(server, b"GET /changing.txt HTTP/1.1\r\nConnection: close\r\n\r\n").startswith(b"HTTP/1.1 404")



def test_a_stop_signal_at_once_stops_every_worker(site):
    # SIGTERM as soon as the server listens: the parent passes it on to a worker that may not
    # have run yet, and the worker must still get it (the stop signals are blocked across fork).
    for _ in range(20):
        with subprocess.Popen(
            [sys.executable, str(SERVER), "--root", str(site), "--port", "0", "--workers", "2"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        ) as proc:
            assert proc.stdout is not None
            assert "listening on" in proc.stdout.readline().decode()
            proc.send_signal(signal.SIGTERM)
            try:
                assert proc.wait(5) == 0
            finally:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
