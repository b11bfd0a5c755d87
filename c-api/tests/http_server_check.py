"""Edge cases of zc-http-server's HTTP handling, with raw sockets: what curl and wrk never send.

    python3 c-api/tests/http_server_check.py SERVER_BINARY

Starts the server on a scratch root, sends malformed, split, pipelined and hostile requests,
checks every status line and body, then stops it with SIGTERM and requires exit status 0 and a
clean stderr (so that an AddressSanitizer build fails this check on any memory error). The
behaviour that all HTTP servers of the project share is tested by tests/http/test_http.py;
this file covers the C server's own parser and connection handling.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sys
import tempfile
import threading
from pathlib import Path

from check_tally import Tally

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "http"))
import servers  # noqa: E402  (how every HTTP server of the project is started, stopped and talked to)

TALLY = Tally("http_server_check")
check = TALLY.check


class Reply:
    def __init__(self, raw: bytes):
        self.raw = raw
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.1 (\d{3}) ", lines[0]) if lines else None
        self.status = int(m.group(1)) if m else 0
        self.headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()


def split_replies(raw: bytes) -> list[Reply]:
    """The responses (to GET requests) on one connection, delimited by their Content-Length."""
    out = []
    while raw:
        head_end = raw.find(b"\r\n\r\n")
        if head_end < 0:
            break
        r = Reply(raw[:head_end + 4])
        r.body = raw[head_end + 4:head_end + 4 + int(r.headers.get("content-length", "0"))]
        out.append(r)
        raw = raw[head_end + 4 + len(r.body):]
    return out


class Server(servers.Running):
    """zc-http-server on a scratch root, and the two ways this check talks to it."""

    def __init__(self, binary: str, root: Path):
        super().__init__(servers.ServerSpec("zc-http-server", [binary], True), root)

    def exchange(self, data: bytes | list[bytes], pause: float = 0.0) -> bytes:
        """Sends data (pieces with a pause between), reads until the server closes or goes quiet."""
        return servers.exchange(self.addr, data, pause=pause, quiet=1.0, timeout=5.0)

    def get(self, target: str, *headers: str, method: str = "GET", version: str = "HTTP/1.1") -> Reply:
        head = f"{method} {target} {version}\r\nHost: x\r\n" + "".join(h + "\r\n" for h in headers)
        return Reply(self.exchange((head + "Connection: close\r\n\r\n").encode("latin-1")))


def main() -> int:
    binary = sys.argv[1]
    base = Path(tempfile.mkdtemp(prefix="zc-http-check-"))
    root = base / "root"
    (root / "sub").mkdir(parents=True)
    data = os.urandom(4096)
    (root / "4k.bin").write_bytes(data)
    (root / "empty").write_bytes(b"")
    (root / "sub" / "a.txt").write_bytes(b"inside\n")
    (base / "secret").write_bytes(b"outside the root\n")
    os.symlink(base / "secret", root / "abs-out")
    os.symlink("../secret", root / "rel-out")
    os.symlink(root / "sub" / "a.txt", root / "abs-in")
    os.symlink("sub/a.txt", root / "rel-in")
    os.symlink("sub", root / "dir-link")
    os.symlink("/", root / "root-link")
    os.mkfifo(root / "fifo")
    srv = Server(binary, root)
    try:
        # Whole files, HEAD, ranges.
        r = srv.get("/4k.bin")
        check(r.status == 200 and r.body == data, "GET a file")
        check(r.headers.get("content-length") == "4096", "Content-Length")
        r = srv.get("/4k.bin", method="HEAD")
        check(r.status == 200 and r.body == b"" and r.headers.get("content-length") == "4096", "HEAD")
        for spec, first, last in [("bytes=0-0", 0, 0), ("bytes=-10", 4086, 4095), ("bytes=4000-", 4000, 4095),
                                  ("bytes=10-99999", 10, 4095), ("bytes=-5000", 0, 4095), ("BYTES = 1-2", None, None)]:
            r = srv.get("/4k.bin", f"Range: {spec}")
            if first is None:
                check(r.status == 200 and r.body == data, f"{spec}: not a range we take: the whole file")
            else:
                check(r.status == 206 and r.body == data[first:last + 1]
                      and r.headers.get("content-range") == f"bytes {first}-{last}/4096", f"Range {spec}")
        for spec in ["bytes=5-2", "bytes=1-2,4-5", "items=0-1", "bytes=99999999999999999999-", "bytes=a-b", "bytes=-"]:
            r = srv.get("/4k.bin", f"Range: {spec}")
            check(r.status == 200 and r.body == data, f"Range {spec} is ignored")
        for path, spec in [("/4k.bin", "bytes=4096-"), ("/4k.bin", "bytes=-0"), ("/empty", "bytes=0-"),
                           ("/empty", "bytes=-1")]:
            r = srv.get(path, f"Range: {spec}")
            size = 4096 if path == "/4k.bin" else 0
            check(r.status == 416 and r.headers.get("content-range") == f"bytes */{size}", f"{path} {spec} is 416")
        r = srv.get("/empty")
        check(r.status == 200 and r.body == b"" and r.headers.get("content-length") == "0", "an empty file")

        # Targets.
        for target, want in [("/sub/a.txt", 200), ("/sub//a.txt", 200), ("/./sub/./a.txt", 200), ("/%73ub/a.txt", 200),
                             ("/sub/a.txt?q=%zz#f", 200), ("/rel-in", 200), ("/abs-in", 200), ("/dir-link/a.txt", 200),
                             ("/", 404), ("/sub", 404), ("/sub/", 404), ("/sub/a.txt/", 404), ("/sub/a.txt/.", 404),
                             ("/dir-link", 404), ("/fifo", 404), ("/missing", 404), ("/" + "a" * 5000, 404),
                             ("/" + "a/" * 2100 + "x", 404),
                             ("/abs-out", 404), ("/rel-out", 404), ("/root-link/etc/passwd", 404),
                             ("/../secret", 404), ("/sub/../../secret", 404), ("/%2e%2e/secret", 404),
                             ("/sub/%2E%2E/%2e%2e/secret", 404), ("/sub%2fa.txt", 404), ("/sub%2Fa.txt", 404),
                             ("/%", 400), ("/%4", 400), ("/%4g", 400), ("/a%00b", 400), ("/a\x01b", 400),
                             ("sub/a.txt", 400), ("*", 400), ("http://x/sub/a.txt", 400)]:
            r = srv.get(target)
            check(r.status == want and b"outside the root" not in r.raw, f"target {target[:40]!r}: {r.status}, want {want}")

        # Methods and versions.
        r = srv.get("/4k.bin", method="POST")
        check(r.status == 405 and r.headers.get("allow") == "GET, HEAD", "POST is 405 with Allow")
        check(srv.get("/4k.bin", method="get").status == 405, "methods are case-sensitive")
        r = Reply(srv.exchange(b"GET /sub/a.txt HTTP/1.0\r\n\r\n"))
        check(r.status == 200 and r.headers.get("connection") == "close" and r.body == b"inside\n", "HTTP/1.0 closes")
        raw = srv.exchange(b"GET /sub/a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                           b"GET /sub/a.txt HTTP/1.1\r\nConnection: close\r\n\r\n")
        rs = split_replies(raw)
        check(len(rs) == 2 and rs[0].headers.get("connection") == "keep-alive", "HTTP/1.0 keep-alive on request")
        check(Reply(srv.exchange(b"GET / HTTP/2.0\r\n\r\n")).status == 505, "HTTP/2.0 over this syntax is 505")
        for bad in [b"GET /4k.bin HTTP/1.1x\r\n\r\n", b"GET /4k.bin HTTP/1.1\r\nNoColon\r\n\r\n",
                    b"GET /4k.bin HTTP/1.1\r\nName : v\r\n\r\n", b"GET /4k.bin HTTP/1.1\r\n: v\r\n\r\n",
                    b"GET  /4k.bin HTTP/1.1\r\n\r\n", b"GET /4k.bin  HTTP/1.1\r\n\r\n", b"GET /4k.bin\r\n\r\n",
                    b" GET /4k.bin HTTP/1.1\r\n\r\n", b"GET /4k.bin HTTP/1.1\r\nContent-Length: x\r\n\r\n",
                    b"GET /4k.bin HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", b"\x00\xff\r\n\r\n",
                    b"GET /4k.bin HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
                    b"GET /4k.bin HTTP/1.1\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n",
                    b"GET /4k.bin HTTP/1.1\r\nX: a\rb\r\n\r\n", b"GET /4k.bin HTTP/1.1\r\r\n\r\n", b"\r\r\n\r\n"]:
            r = Reply(srv.exchange(bad))
            check(r.status == 400 and r.headers.get("connection") == "close", f"{bad[:40]!r} is 400 and closes")

        # HEAD replies have no body, errors included; Content-Length says what a GET would get.
        for target, header, want in [("/missing", "X: y", 404), ("/4k.bin", "Range: bytes=4096-", 416),
                                     ("/4k.bin", "Bad Name: y", 400)]:
            r = srv.get(target, header, method="HEAD")
            check(r.status == want and r.body == b"" and int(r.headers.get("content-length", "0")) > 0,
                  f"HEAD {target} ({header}) is {want} without a body: {r.raw[-40:]!r}")

        # Lines ended by a bare LF, or by both kinds, sent a byte at a time (the head's end at every
        # boundary of a read).
        for req in [b"\n\r\nGET /sub/a.txt HTTP/1.1\nHost: x\r\nConnection: close\n\r\n",
                    b"\r\nGET /sub/a.txt HTTP/1.1\r\nHost: x\nConnection: close\r\n\n"]:
            r = Reply(srv.exchange([req[i:i + 1] for i in range(len(req))], pause=0.001))
            check(r.status == 200 and r.body == b"inside\n", f"{req[:30]!r}... in 1-byte pieces")

        # A request head larger than the server takes: 400, delivered (lingering close, no reset).
        big = b"GET /4k.bin HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n"
        r = Reply(srv.exchange(big))
        check(r.status == 400, "an oversized head is 400")
        r = Reply(srv.exchange(b"GARBAGE\r\n\r\n" + b"junk" * 50000))
        check(r.status == 400, "400 arrives although the client keeps sending")

        # Pipelining: many requests in one packet, answered in order; a body announced by
        # Content-Length is skipped.
        reqs = []
        for i in range(60):
            if i % 3 == 0:
                reqs.append(b"GET /4k.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            elif i % 3 == 1:
                reqs.append(b"HEAD /sub/a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            else:
                reqs.append(b"GET /sub/a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        reqs.append(b"GET /sub/a.txt HTTP/1.1\r\nConnection: close\r\n\r\n")
        raw = srv.exchange(b"".join(reqs))
        # HEAD replies have no body: parse knowing which ones were HEAD.
        got, pos = [], 0
        for i in range(61):
            end = raw.find(b"\r\n\r\n", pos)
            if end < 0:
                break
            r = Reply(raw[pos:end + 4])
            n = 0 if i % 3 == 1 and i < 60 else int(r.headers.get("content-length", "0"))
            r.body = raw[end + 4:end + 4 + n]
            pos = end + 4 + n
            got.append(r)
        want = [data if i % 3 == 0 else b"" if i % 3 == 1 else b"inside\n" for i in range(60)] + [b"inside\n"]
        check(len(got) == 61 and all(r.status == 200 for r in got) and [r.body for r in got] == want and pos == len(raw),
              f"61 pipelined requests answered in order ({len(got)} replies)")

        # A request in pieces; blank lines before a request.
        req = b"\r\n\r\nGET /sub/a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        r = Reply(srv.exchange([req[i:i + 3] for i in range(0, len(req), 3)], pause=0.002))
        check(r.status == 200 and r.body == b"inside\n", "a request in 3-byte pieces")

        # Clients that vanish mid-head or mid-body, and many at once.
        for i in range(20):
            s = socket.create_connection(srv.addr)
            s.sendall(b"GET /4k.bin HTTP/1.1\r\nHo" if i % 2 else b"GET /4k.bin HTTP/1.1\r\n\r\n" * 50)
            s.close()
        errors: list[str] = []

        def client(i: int) -> None:
            try:
                with socket.create_connection(srv.addr, timeout=10) as s:
                    for _ in range(5):
                        s.sendall(b"GET /4k.bin HTTP/1.1\r\nHost: x\r\n\r\n")
                        buf = b""
                        while len(buf) < 4096 or b"\r\n\r\n" not in buf or len(buf.partition(b"\r\n\r\n")[2]) < 4096:
                            c = s.recv(1 << 16)
                            if not c:
                                raise RuntimeError("closed early")
                            buf += c
                        if buf.partition(b"\r\n\r\n")[2] != data:
                            raise RuntimeError("wrong body")
            except Exception as e:  # noqa: BLE001  (collected and reported)
                errors.append(f"client {i}: {e}")

        threads = [threading.Thread(target=client, args=(i,)) for i in range(200)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check(not errors, f"200 concurrent keep-alive clients, 5 requests each: {errors[:3]}")
        check(srv.get("/4k.bin").body == data, "still serving")
    finally:
        try:
            rc = srv.stop()
        except RuntimeError as e:  # it did not stop within 10 s of SIGTERM, and was killed
            rc = str(e)
        err = srv.proc.stderr.read().decode(errors="replace")
        check(rc == 0, f"SIGTERM: exit status {rc}")
        check("ERROR" not in err and "runtime error" not in err, f"clean stderr: {err[-3000:]}")
        shutil.rmtree(base, ignore_errors=True)
    return TALLY.summary()


if __name__ == "__main__":
    sys.exit(main())
