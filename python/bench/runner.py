"""The Python runner of the showcase (``make demo``; tests/showcase/README.md has the protocol).

    python python/bench/runner.py --src FILE --size BYTES --target file:PATH|socket:HOST:PORT \\
                           --strategy NAME --rounds N
    python python/bench/runner.py --strategy list
    python python/bench/runner.py --fetch http://HOST:PORT/NAME

Moves the first BYTES of FILE to the target ROUNDS times with one strategy and prints one JSON
object per round: bytes, wall time, the thread's CPU time (``time.thread_time()``) and context
switches (``getrusage(RUSAGE_THREAD)``, voluntary + involuntary), the method that moved the
bytes, and the system calls the transfer made (zcopy reports them; the baseline loops count
their own; ``shutil.copyfile``'s are unknown: ``null``).

Strategies: the platform's ways, ``os.sendfile`` (a loop of ``os.sendfile``: the baseline),
``shutil.copyfile`` (file targets only) and ``read/write-1m`` (a ``readinto``/``write`` loop
through a 1 MiB buffer); ``zcopy:auto`` (``zcopy.transfer_all``: core picks the method) and
``zcopy:METHOD`` (one method forced: read/write, mmap+write, sendfile, splice, copy_file_range).

A file target is opened ``O_WRONLY|O_CREAT`` without ``O_TRUNC`` and overwritten in place from
offset 0 each round; before the first round it is given its full size with ``fallocate``
(``ftruncate`` where that is not supported), so that the rounds measure the transfer, not block
allocation. ``shutil.copyfile`` cannot do that: it opens the target with ``O_TRUNC`` and copies
whole files, so its rounds allocate the target's blocks again, and when BYTES is less than the
size of FILE it copies a BYTES-long prefix of FILE, made beside the target before round 0 (not
timed). A socket target is connected before each round and closed after it (neither is timed).

``--fetch`` downloads one file over HTTP/1.1 with a plain socket and receives the body into a
temporary file with ``zcopy.transfer_from`` (socket → file: splice), then prints
``{"bytes": N, "sha256": "...", "method": "splice"}``; it exits non-zero when the status is not
200 or the body does not match Content-Length.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import sys
import time
from typing import Callable

import zcopy

# ctypes, shutil, hashlib, tempfile and urllib are imported where needed: the demo times whole
# runs of this program (the reflink table), so start-up stays as short as a bare interpreter's.

#: The strategies, in the order ``--strategy list`` prints them.
STRATEGIES = (
    "os.sendfile",
    "shutil.copyfile",
    "read/write-1m",
    "zcopy:auto",
    "zcopy:read/write",
    "zcopy:mmap+write",
    "zcopy:sendfile",
    "zcopy:splice",
    "zcopy:copy_file_range",
)

BUFFER = 1 << 20
#: os.sendfile's count per call: the kernel's per-call maximum, as shutil and zcopy use it.
SENDFILE_MAX = 0x7FFFF000
#: The kernel path of shutil.copyfile on Linux: copy_file_range first from 3.14, sendfile before.
SHUTIL_METHOD = "copy_file_range" if sys.version_info >= (3, 14) else "sendfile"


class UsageError(Exception):
    """A bad command line: exit status 2."""


class Outcome:
    __slots__ = ("bytes", "method", "syscalls")

    def __init__(self, moved: int, method: str, syscalls: int | None) -> None:
        self.bytes = moved
        self.method = method
        self.syscalls = syscalls


class Target:
    __slots__ = ("kind", "path", "host", "port", "fd")

    def __init__(self, kind: str, path: str = "", host: str = "", port: int = 0) -> None:
        self.kind = kind  # "file" or "socket"
        self.path = path
        self.host = host
        self.port = port
        self.fd = -1  # the open file target


def parse_target(spec: str) -> Target:
    if spec.startswith("file:") and len(spec) > 5:
        return Target("file", path=spec[5:])
    if spec.startswith("socket:"):
        host, sep, port = spec[7:].rpartition(":")
        if sep and host and port.isdigit():
            return Target("socket", host=host.strip("[]"), port=int(port))
    raise UsageError(f"bad target {spec!r} (file:PATH or socket:HOST:PORT)")


def preallocate(fd: int, size: int) -> None:
    """Gives the file its full size before the first round: ``fallocate`` (real blocks, no
    emulation by writing), else ``ftruncate``."""
    if os.fstat(fd).st_size >= size or size == 0:
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    fallocate = libc.fallocate
    fallocate.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64)
    fallocate.restype = ctypes.c_int
    if fallocate(fd, 0, 0, size) != 0:
        os.ftruncate(fd, size)


# ---- the strategies: each moves `size` bytes of `src` (an open fd) to `out` (an fd) ----------


def run_os_sendfile(src: int, size: int, out: int) -> Outcome:
    moved = calls = 0
    while moved < size:
        n = os.sendfile(out, src, moved, min(size - moved, SENDFILE_MAX))
        calls += 1
        if n == 0:
            break
        moved += n
    return Outcome(moved, "sendfile", calls)


def run_read_write(src: int, size: int, out: int) -> Outcome:
    buf = bytearray(BUFFER)
    view = memoryview(buf)
    moved = calls = 0
    with open(src, "rb", buffering=0, closefd=False) as f:  # at offset 0 (measure() seeks)
        while moved < size:
            n = f.readinto(view[: min(BUFFER, size - moved)])
            calls += 1
            if not n:
                break
            done = 0
            while done < n:
                done += os.write(out, view[done:n])
                calls += 1
            moved += n
    return Outcome(moved, "read/write", calls)


def zcopy_strategy(method: str | None) -> Callable[[int, int, int], Outcome]:
    def run(src: int, size: int, out: int) -> Outcome:
        zcopy.transfer_all(src, 0, size, out, method=method)
        last = zcopy.last_transfer()
        return Outcome(last.bytes, last.method, last.syscalls)

    return run


def thread_usage() -> tuple[float, int]:
    """This thread's CPU seconds and context switches so far."""
    ru = resource.getrusage(resource.RUSAGE_THREAD)
    return time.thread_time(), ru.ru_nvcsw + ru.ru_nivcsw


def measure(args: argparse.Namespace) -> int:
    strategy: str = args.strategy
    if strategy not in STRATEGIES:
        raise UsageError(f"unknown strategy {strategy!r}: one of {', '.join(STRATEGIES)}")
    if args.src is None or args.size is None or args.target is None:
        raise UsageError("--src, --size and --target are needed (or --strategy list, or --fetch URL)")
    size: int = args.size
    target = parse_target(args.target)
    src = os.open(args.src, os.O_RDONLY | os.O_CLOEXEC)
    if os.fstat(src).st_size < size:
        raise UsageError(f"--size {size} is more than {args.src} holds ({os.fstat(src).st_size} bytes)")
    copy_src = args.src  # what shutil.copyfile copies: FILE itself, or a prefix of it
    made_prefix = False
    if strategy == "shutil.copyfile":
        if target.kind != "file":
            raise UsageError("shutil.copyfile copies files: it needs a file: target")
        if os.fstat(src).st_size != size:
            copy_src = target.path + ".prefix"
            with open(copy_src, "wb") as prefix:
                zcopy.transfer_all(src, 0, size, prefix)
            made_prefix = True
        import shutil
    elif target.kind == "file":
        target.fd = os.open(target.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        preallocate(target.fd, size)
    run: Callable[[int, int, int], Outcome] | None = {
        "os.sendfile": run_os_sendfile,
        "read/write-1m": run_read_write,
        "zcopy:auto": zcopy_strategy(None),
    }.get(strategy)
    if run is None and strategy.startswith("zcopy:"):
        run = zcopy_strategy(strategy[6:])
    try:
        for round_ in range(args.rounds):
            sock = None
            if target.kind == "socket":
                sock = socket.create_connection((target.host, target.port))
                out = sock.fileno()
            else:
                out = target.fd
                if out >= 0:
                    os.lseek(out, 0, os.SEEK_SET)
            os.lseek(src, 0, os.SEEK_SET)  # for the read/write loop, the one reading at its position
            cpu0, ctx0 = thread_usage()
            t0 = time.perf_counter()
            if run is None:  # shutil.copyfile (imported before the clock starts)
                shutil.copyfile(copy_src, target.path)
                outcome = Outcome(size, SHUTIL_METHOD, None)
            else:
                outcome = run(src, size, out)
            wall = time.perf_counter() - t0
            cpu1, ctx1 = thread_usage()
            if sock is not None:
                sock.close()
            row = {
                "lang": "python",
                "strategy": strategy,
                "target": target.kind,
                "round": round_,
                "bytes": outcome.bytes,
                "wall_s": round(wall, 6),
                "cpu_s": round(cpu1 - cpu0, 6),
                "ctx": ctx1 - ctx0,
                "method": outcome.method,
                "syscalls": outcome.syscalls,
            }
            print(json.dumps(row), flush=True)
    finally:
        os.close(src)
        if target.fd >= 0:
            os.close(target.fd)
        if made_prefix:
            os.unlink(copy_src)
    return 0


# ---- --fetch ---------------------------------------------------------------------------------


def read_head(sock: socket.socket) -> bytes:
    """Reads the response head (through the blank line) and nothing of the body, which stays in
    the socket for transfer_from: the bytes are peeked first and only the head is taken."""
    head = b""
    while True:
        data = sock.recv(65536, socket.MSG_PEEK)
        if not data:
            raise ConnectionError("the server closed the connection before the response head")
        end = (head + data).find(b"\r\n\r\n")
        if end >= 0:
            take = end + 4 - len(head)
            head += sock.recv(take, socket.MSG_WAITALL)
            return head
        if len(head) + len(data) > 65536:
            raise ConnectionError("response head larger than 64 KiB")
        head += sock.recv(len(data))


def fetch(url: str) -> int:
    import hashlib
    import tempfile
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise UsageError(f"--fetch needs an http:// URL, not {url!r}")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    with socket.create_connection((parts.hostname, parts.port or 80), timeout=120) as sock:
        sock.settimeout(None)  # blocking: transfer_from waits for the body in the kernel
        host = parts.netloc
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        head = read_head(sock).decode("latin-1")
        lines = head.split("\r\n")
        status = lines[0].split(" ", 2)
        if len(status) < 2 or status[1] != "200":
            print(f"runner: {url}: {lines[0]}", file=sys.stderr)
            return 1
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        if not headers.get("content-length", "").isdigit():
            print(f"runner: {url}: no Content-Length", file=sys.stderr)
            return 1
        length = int(headers["content-length"])
        method = "none"
        with tempfile.TemporaryFile() as body:
            received = 0
            while received < length:
                n = zcopy.transfer_from(body, sock, received, length - received)
                if n == 0:
                    break  # the server closed early
                received += n
                method = zcopy.last_method()
            if received != length:
                print(f"runner: {url}: received {received} of {length} bytes", file=sys.stderr)
                return 1
            sock.settimeout(5)  # "Connection: close": the server closes after the body
            try:
                extra = sock.recv(1)
            except (socket.timeout, ConnectionResetError):
                extra = b""
            if extra:
                print(f"runner: {url}: more than Content-Length ({length}) bytes", file=sys.stderr)
                return 1
            with zcopy.map(body, size=length) as region:  # hashed in place, without a copy
                digest = hashlib.sha256(region).hexdigest()
    print(json.dumps({"bytes": received, "sha256": digest, "method": method}), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python python/bench/runner.py", description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--src", help="the file to move")
    ap.add_argument("--size", type=int, help="bytes to move (from the start of --src)")
    ap.add_argument("--target", help="file:PATH or socket:HOST:PORT")
    ap.add_argument("--strategy", help="a strategy name, or 'list'")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--fetch", metavar="URL", help="download URL into a temporary file with transfer_from")
    args = ap.parse_args(argv)
    try:
        if args.fetch:
            return fetch(args.fetch)
        if args.strategy == "list":
            print("\n".join(STRATEGIES))
            return 0
        if args.strategy is None:
            raise UsageError("--strategy is needed (or --fetch URL)")
        if args.size is not None and args.size < 0 or args.rounds < 0:
            raise UsageError("--size and --rounds must not be negative")
        return measure(args)
    except UsageError as e:
        print(f"zcopy.runner: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"zcopy.runner: {args.strategy or 'fetch'}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
