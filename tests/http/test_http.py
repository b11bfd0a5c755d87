"""The HTTP file servers (C, Java and Python on zcopy, and the platform baselines) checked with
real clients: curl downloads whole files and ranges, several at once; bad requests, missing files
and path escapes are refused; a client that vanishes mid-body disturbs nobody; SIGINT/SIGTERM
stop the server cleanly. Raw sockets send what curl never does: HEAD of errors, ambiguous
request framing (RFC 9112 §6.3), numbers too long for any file, lines ended by a bare LF.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

import servers

CURL = shutil.which("curl")
pytestmark = pytest.mark.skipif(CURL is None, reason="curl is not installed (make test-http installs it)")

SPECS = servers.specs()


def pattern(n: int, seed: int = 0) -> bytes:
    block = hashlib.sha256(str(seed).encode()).digest() * 2048  # 64 KiB of varied bytes
    return (block * (n // len(block) + 1))[:n]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("site")
    root = base / "root"
    (root / "sub").mkdir(parents=True)
    (root / "4k.bin").write_bytes(pattern(4096, 1))
    (root / "1m.bin").write_bytes(pattern(1 << 20, 2))
    (root / "big.bin").write_bytes(pattern(48 << 20, 3))
    (root / "empty.bin").write_bytes(b"")
    (root / "sub" / "inner.txt").write_bytes(b"inside\n")
    (base / "secret.txt").write_bytes(b"outside the root\n")
    os.symlink(base / "secret.txt", root / "escape-link")
    os.symlink(root / "sub" / "inner.txt", root / "inner-link")
    return root


@pytest.fixture(params=SPECS, ids=[s.name for s in SPECS])
def server(request, site):
    spec: servers.ServerSpec = request.param
    if not spec.available:
        pytest.skip(spec.why_not)
    with servers.Running(spec, site) as running:
        yield running


def curl(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([CURL, "-sS", *args], capture_output=True, timeout=timeout)


def get(server, path: str, *extra: str) -> tuple[int, bytes]:
    r = curl("--path-as-is", "-w", "\n%{http_code}", *extra, server.base + path)
    body, _, code = r.stdout.rpartition(b"\n")
    return int(code), body


@pytest.mark.parametrize("name", ["4k.bin", "1m.bin", "big.bin", "empty.bin", "sub/inner.txt", "inner-link"])
def test_whole_files(server, site, name):
    code, body = get(server, "/" + name)
    assert code == 200
    assert body == (site / name).read_bytes()


def test_head_sends_headers_only(server, site):
    r = curl("-I", server.base + "/1m.bin")
    head = r.stdout.decode().lower()
    assert head.startswith("http/1.1 200")
    assert f"content-length: {1 << 20}" in head


@pytest.mark.parametrize("spec,start,end", [("bytes=0-0", 0, 0), ("bytes=100-4095", 100, 4095),
                                            ("bytes=4000-", 4000, 4095), ("bytes=-10", 4086, 4095),
                                            ("bytes=10-99999", 10, 4095)])
def test_single_ranges(server, site, spec, start, end):
    r = curl("-D", "-", "-H", f"Range: {spec}", server.base + "/4k.bin")
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    text = head.decode().lower()
    assert text.startswith("http/1.1 206"), text
    assert f"content-range: bytes {start}-{end}/4096" in text
    assert body == (site / "4k.bin").read_bytes()[start:end + 1]


def test_range_in_a_big_file(server, site):
    data = (site / "big.bin").read_bytes()
    code, body = get(server, "/big.bin", "-H", "Range: bytes=12345678-23456789")
    assert code == 206
    assert body == data[12345678:23456790]


def test_unsatisfiable_range(server):
    code, _ = get(server, "/4k.bin", "-H", "Range: bytes=5000-6000")
    assert code == 416


def test_missing_file_is_404(server):
    assert get(server, "/no-such-file")[0] == 404
    assert get(server, "/sub")[0] == 404  # a directory is not a file to serve


@pytest.mark.parametrize("path", ["/../secret.txt", "/sub/../../secret.txt", "/%2e%2e/secret.txt",
                                  "/sub%2f..%2f..%2fsecret.txt", "/sub%2Finner.txt", "/escape-link",
                                  "/..%5csecret.txt", "/%00"])
def test_no_escape_from_the_root(server, path):
    code, body = get(server, path)
    assert code in (400, 403, 404), (path, code)
    assert b"outside the root" not in body


@pytest.mark.parametrize("request_bytes", [b"GARBAGE\r\n\r\n", b"GET /4k.bin\r\n\r\n",
                                           b"GET /4k.bin HTTP/1.1\r\nNoColonHere\r\n\r\n"])
def test_bad_requests_get_400(server, request_bytes):
    reply = servers.exchange(server.addr, request_bytes, quiet=10)
    assert reply.startswith(b"HTTP/1.1 400"), reply[:100]


def test_keep_alive_reuses_the_connection(server, site):
    r = curl("-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null", "-w", "%{num_connects} ",
             server.base + "/4k.bin", server.base + "/1m.bin", server.base + "/4k.bin")
    assert r.stdout.decode().split() == ["1", "0", "0"], r.stdout


def test_pipelined_requests_on_one_connection(server, site):
    req = b"GET /sub/inner.txt HTTP/1.1\r\nHost: x\r\n\r\n" * 3
    req += b"GET /sub/inner.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    reply = servers.exchange(server.addr, req, quiet=10)
    assert reply.count(b"HTTP/1.1 200") == 4
    assert reply.count(b"inside\n") == 4


def test_many_clients_at_once(server, site):
    expect = (site / "1m.bin").read_bytes()
    big = (site / "big.bin").read_bytes()

    def one(i):
        name = "big.bin" if i % 4 == 0 else "1m.bin"
        code, body = get(server, "/" + name)
        return code, body == (big if name == "big.bin" else expect)

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(32)))
    assert all(code == 200 and ok for code, ok in results), results


def test_a_client_vanishing_mid_body_disturbs_nobody(server, site):
    big = (site / "big.bin").read_bytes()
    # Several clients ask for the big file and hang up after a few bytes (some with a reset).
    for i in range(8):
        s = socket.create_connection((server.host, server.port))
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        s.recv(1000)
        if i % 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
    code, body = get(server, "/big.bin")
    assert code == 200 and body == big
    assert server.proc.poll() is None, "the server died"


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signals_stop_the_server_cleanly(site, spec, sig):
    if not spec.available:
        pytest.skip(spec.why_not)
    run = servers.Running(spec, site)
    try:
        assert get(run, "/4k.bin")[0] == 200
        t = time.monotonic()
        rc = run.stop(sig, timeout=10)
    finally:
        if run.proc.poll() is None:
            run.proc.kill()
    # The JVM reports a signal-initiated shutdown (hooks run) as 128 + signal.
    allowed = {0, 128 + sig} if spec.name.startswith("java") else {0}
    assert rc in allowed, (spec.name, rc)
    assert time.monotonic() - t < 10


# ---- request edge cases, with raw sockets (the zcopy servers; the baselines are skipped where
# they do not implement the rule, since they only stand in for their platform in bench-http) ----


def zcopy_only(server, why: str) -> None:
    if not server.spec.zcopy:
        pytest.skip(f"{server.spec.name} is a bench-http baseline: {why}")


def take_response(raw: bytes, head: bool = False) -> tuple[int, dict[str, str], bytes, bytes]:
    """The first response of `raw` as (status, headers, body, the bytes after it); the body is
    Content-Length bytes, none after a HEAD request."""
    head_bytes, sep, rest = raw.partition(b"\r\n\r\n")
    assert sep, f"no complete response head in {raw[:200]!r}"
    lines = head_bytes.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1.1 "), lines[0]
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    n = 0 if head else int(headers.get("content-length", "0"))
    return int(lines[0].split(" ")[1]), headers, rest[:n], rest[n:]


@pytest.mark.parametrize("target,extra,status", [
    ("/no-such-file", "", 404),
    ("/sub", "", 404),
    ("/sub/../../secret.txt", "", 404),
    ("/4k.bin", "Range: bytes=5000-\r\n", 416),
    ("/empty.bin", "Range: bytes=0-\r\n", 416),
], ids=["missing", "directory", "escape", "range-past-the-end", "range-of-empty"])
def test_head_of_an_error_has_no_body(server, target, extra, status):
    """No HEAD reply has a body, errors included (RFC 9110 §9.3.2): a keep-alive client reads
    the next response right after the headers."""
    zcopy_only(server, "its error replies always carry their text body")
    then = b"GET /sub/inner.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    reply = servers.exchange(server.addr, f"HEAD {target} HTTP/1.1\r\nHost: x\r\n{extra}\r\n".encode() + then)
    got, headers, _, rest = take_response(reply, head=True)
    assert got == status
    assert "content-length" in headers
    got, _, body, rest = take_response(rest)
    assert (got, body, rest) == (200, b"inside\n", b"")


@pytest.mark.parametrize("request_bytes,status", [
    (b"HEAD /4k.bin HTTP/1.1\r\nNoColonHere\r\n\r\n", 400),
    (b"HEAD /4k.bin HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400),
    (b"HEAD /4k.bin HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n", 400),
    (b"HEAD /4k.bin HTTP/2.0\r\n\r\n", 505),
], ids=["no-colon", "bad-length", "oversized-head", "http2"])
def test_head_of_a_refused_request_has_no_body(server, request_bytes, status):
    """The error that ends a connection has no body after a HEAD request either."""
    zcopy_only(server, "its error replies always carry their text body")
    reply = servers.exchange(server.addr, request_bytes)
    got, headers, _, rest = take_response(reply, head=True)
    assert (got, headers.get("connection"), rest) == (status, "close", b"")


SMUGGLED = b"GET /sub/inner.txt HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.mark.parametrize("framing", [
    f"Content-Length: {len(SMUGGLED)}\r\nContent-Length: 0",
    f"Content-Length: 0\r\nContent-Length: {len(SMUGGLED)}",
    f"Content-Length: {len(SMUGGLED)}\r\nContent-Length: {len(SMUGGLED)}",
    f"Content-Length: {len(SMUGGLED)}, {len(SMUGGLED)}",
    "Content-Length: 0\r\nTransfer-Encoding: chunked",
    "Transfer-Encoding: chunked\r\nContent-Length: 0",
    "Content-Length: +0",
    "Content-Length: -0",
    "Content-Length: 0x0",
    "Content-Length: 0.0",
    "Content-Length: 0 0",
    "Content-Length: 1_0",
    "Content-Length:",
    "Content-Length: " + "9" * 19,
    "Content-Length: " + "9" * 5000,
], ids=["different-0-last", "different-0-first", "same-twice", "same-as-a-list", "with-te-after",
        "with-te-before", "plus", "minus", "hex", "fraction", "two-numbers", "underscore", "empty",
        "19-digits", "5000-digits"])
def test_ambiguous_framing_is_refused_and_closes(server, framing):
    """RFC 9112 §6.3: a Content-Length that is not one plain decimal number, or one beside
    Transfer-Encoding, makes the framing unknowable: 400, and the connection closes, so the
    bytes behind the head (here a second request) are never answered. A second Content-Length
    line is refused even when it repeats the first (as nginx does; RFC 9110 §8.6 would allow
    taking it as one): a file server needs no request body, and no client sends two."""
    zcopy_only(server, "it ignores Content-Length and Transfer-Encoding")
    reply = servers.exchange(server.addr, f"GET /4k.bin HTTP/1.1\r\nHost: x\r\n{framing}\r\n\r\n".encode() + SMUGGLED)
    got, headers, body, rest = take_response(reply)
    assert (got, headers.get("connection")) == (400, "close"), reply[:300]
    assert rest == b"", "the bytes after the head were answered as a request"


def test_one_content_length_frames_the_body(server):
    """The body one plain Content-Length announces is skipped, and the next request answered."""
    zcopy_only(server, "it ignores Content-Length")
    reply = servers.exchange(server.addr, b"GET /sub/inner.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                             + SMUGGLED[:-2] + b"Connection: close\r\n\r\n")
    first, _, body1, rest = take_response(reply)
    second, _, body2, rest = take_response(rest)
    assert (first, body1, second, body2, rest) == (200, b"inside\n", 200, b"inside\n", b"")


@pytest.mark.parametrize("spec", [
    "bytes=" + "9" * 19 + "-",
    "bytes=" + "9" * 5000 + "-",
    "bytes=0-" + "9" * 5000,
    "bytes=-" + "9" * 5000,
], ids=["first-19-digits", "first-5000-digits", "last-5000-digits", "suffix-5000-digits"])
def test_a_range_number_longer_than_any_file_size_is_ignored(server, site, spec):
    """A range number of more than 18 digits (more than any file holds, and past what some
    number parsers take) makes the range one the server ignores (RFC 9110 §14.2 allows it):
    200 and the whole file, from every server alike."""
    zcopy_only(server, "its range parser answers 416 for what it cannot parse")
    request = f"GET /4k.bin HTTP/1.1\r\nHost: x\r\nRange: {spec}\r\nConnection: close\r\n\r\n"
    reply = servers.exchange(server.addr, request.encode())
    got, _, body, rest = take_response(reply)
    assert (got, body == (site / "4k.bin").read_bytes(), rest) == (200, True, b"")


def bare_lf_requests(eols: list[bytes]) -> bytes:
    """Three pipelined requests (a range GET, a HEAD, a GET that closes) whose lines end in
    eols, in turn."""
    lines = [b"GET /4k.bin HTTP/1.1", b"Host: x", b"Range: bytes=0-9", b"",
             b"HEAD /sub/inner.txt HTTP/1.1", b"Host: x", b"",
             b"GET /sub/inner.txt HTTP/1.1", b"Host: x", b"Connection: close", b""]
    return b"".join(line + eols[i % len(eols)] for i, line in enumerate(lines))


@pytest.mark.parametrize("eols", [[b"\n"], [b"\r\n", b"\n"], [b"\n", b"\r\n"], [b"\n", b"\n", b"\r\n"]],
                         ids=["lf", "crlf-lf", "lf-crlf", "lf-lf-crlf"])
def test_bare_lf_ends_a_line(server, site, eols):
    """RFC 9112 §2.2 lets a recipient take a bare LF as a line terminator, as nginx does: such
    requests, and ones that mix LF and CRLF, are answered as if every line ended in CRLF."""
    zcopy_only(server, "its parser splits the head at CRLF CRLF only")
    reply = servers.exchange(server.addr, b"\n\r\n" + bare_lf_requests(eols))  # blank lines first: ignored
    first, headers, body, rest = take_response(reply)
    assert (first, headers.get("content-range"), body) == (206, "bytes 0-9/4096", (site / "4k.bin").read_bytes()[:10])
    second, headers, _, rest = take_response(rest, head=True)
    assert (second, headers.get("content-length")) == (200, "7")
    third, headers, body, rest = take_response(rest)
    assert (third, headers.get("connection"), body, rest) == (200, "close", b"inside\n", b"")


@pytest.mark.parametrize("request_bytes", [
    b"GET /4k.bin HTTP/1.1\r\nHost: x\rConnection: close\r\n\r\n",
    b"GET /4k.bin HTTP/1.1\r\nX: a\rb\r\n\r\n",
    b"GET /4k.bin HTTP/1.1\r\nX: a\r\r\n\r\n",
], ids=["between-headers", "in-a-value", "before-crlf"])
def test_a_bare_cr_is_refused(server, request_bytes):
    """A CR that does not end a line is invalid (RFC 9112 §2.2): a reader that took it as a line
    break would see other headers than the server. 400, and the connection closes."""
    zcopy_only(server, "its parser does not look inside header values")
    got, headers, _, _ = take_response(servers.exchange(server.addr, request_bytes))
    assert (got, headers.get("connection")) == (400, "close")
