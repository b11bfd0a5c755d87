"""The Python platform baseline for `make bench-http`: a static-file HTTP/1.1 server on plain
asyncio (``loop.sock_recv`` / ``loop.sock_sendall`` for the head, ``loop.sock_sendfile`` for the
body), one event loop per core (worker processes sharing the port with SO_REUSEPORT), with the
same HTTP rules as the zcopy servers.

    python tests/http/baselines/asyncio_sendfile_server.py --root DIR --port 0 [--workers N]

Prints "listening on 127.0.0.1:PORT" and stops on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys
import urllib.parse


def resolve(root: str, target: str) -> str | None:
    """The file under ``root`` that ``target`` names, or None (missing, escaping, not a file)."""
    target = target.split("?", 1)[0]
    low = target.lower()
    if not target.startswith("/") or "%2f" in low or "%00" in low:
        return None
    path = urllib.parse.unquote(target)
    if any(seg == ".." for seg in path.split("/")):
        return None
    full = os.path.realpath(os.path.join(root, path.lstrip("/")))
    if full != root and not full.startswith(root + os.sep):
        return None
    return full if os.path.isfile(full) else None


def parse_range(value: str, size: int) -> tuple[int, int] | None:
    if not value.startswith("bytes=") or "," in value:
        return None
    a, sep, b = value[6:].strip().partition("-")
    if not sep:
        return None
    try:
        if not a.strip():
            suffix = int(b)
            if suffix <= 0:
                return None
            start, last = max(0, size - suffix), size - 1
        else:
            start = int(a)
            last = size - 1 if not b.strip() else min(int(b), size - 1)
    except ValueError:
        return None
    if start < 0 or start >= size or last < start:
        return None
    return start, last


def error(code: int, reason: str, keep: bool) -> bytes:
    body = f"{code} {reason}\n".encode()
    conn = b"" if keep else b"Connection: close\r\n"
    return (f"HTTP/1.1 {code} {reason}\r\nContent-Length: {len(body)}\r\nContent-Type: text/plain\r\n".encode()
            + conn + b"\r\n" + body)


async def serve_client(loop: asyncio.AbstractEventLoop, sock: socket.socket, root: str) -> None:
    buf = b""
    try:
        while True:
            while b"\r\n\r\n" not in buf:
                if len(buf) > 16384:
                    await loop.sock_sendall(sock, error(400, "Bad Request", False))
                    return
                chunk = await loop.sock_recv(sock, 16384)
                if not chunk:
                    return
                buf += chunk
            head, buf = buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ")
            if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                await loop.sock_sendall(sock, error(400, "Bad Request", False))
                return
            method, target, version = parts
            keep = version == "HTTP/1.1"
            rng = None
            bad = False
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if not sep or not name.strip():
                    bad = True
                    break
                name, value = name.strip().lower(), value.strip()
                if name == "connection":
                    keep = False if value.lower() == "close" else (True if value.lower() == "keep-alive" else keep)
                elif name == "range":
                    rng = value
            if bad:
                await loop.sock_sendall(sock, error(400, "Bad Request", False))
                return
            if method not in ("GET", "HEAD"):
                await loop.sock_sendall(sock, error(405, "Method Not Allowed", keep))
            else:
                path = resolve(root, target)
                if path is None:
                    await loop.sock_sendall(sock, error(404, "Not Found", keep))
                else:
                    with open(path, "rb") as f:
                        size = os.fstat(f.fileno()).st_size
                        start, last, status = 0, size - 1, 200
                        if rng is not None:
                            r = parse_range(rng, size)
                            if r is None:
                                await loop.sock_sendall(sock, error(416, "Range Not Satisfiable", keep))
                                if not keep:
                                    return
                                continue
                            (start, last), status = r, 206
                        length = 0 if size == 0 else last - start + 1
                        hdr = [f"HTTP/1.1 {status} {'Partial Content' if status == 206 else 'OK'}",
                               f"Content-Length: {length}"]
                        if status == 206:
                            hdr.append(f"Content-Range: bytes {start}-{last}/{size}")
                        hdr += ["Content-Type: application/octet-stream", "Accept-Ranges: bytes"]
                        if not keep:
                            hdr.append("Connection: close")
                        await loop.sock_sendall(sock, ("\r\n".join(hdr) + "\r\n\r\n").encode())
                        if method == "GET" and length:
                            await loop.sock_sendfile(sock, f, start, length)
            if not keep:
                return
    except (ConnectionError, OSError):
        pass
    finally:
        sock.close()


STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


async def worker_main(listener: socket.socket, root: str) -> None:
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    # Blocked since main() began: a signal that came before the handlers above waited, pending,
    # and stops this worker now.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    tasks: set[asyncio.Task] = set()

    async def accept_loop() -> None:
        while True:
            sock, _ = await loop.sock_accept(listener)
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            t = loop.create_task(serve_client(loop, sock, root))
            tasks.add(t)
            t.add_done_callback(tasks.discard)

    acceptor = loop.create_task(accept_loop())
    await stop
    for sig in STOP_SIGNALS:
        loop.remove_signal_handler(sig)
        signal.signal(sig, signal.SIG_IGN)  # stopping already; a repeated signal changes nothing
    acceptor.cancel()
    for t in list(tasks):
        t.cancel()


def listen(port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("127.0.0.1", port))
    s.listen(1024)
    s.setblocking(False)
    return s


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--root", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    root = os.path.realpath(args.root)
    # The stop signals stay blocked until each worker's loop handles them, so one that arrives
    # early (right after "listening", or in a child between fork and its loop) is not lost and
    # does not kill the parent before it stops its children.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    first = listen(args.port)
    port = first.getsockname()[1]
    children = []
    for _ in range(args.workers - 1):
        pid = os.fork()
        if pid == 0:
            first.close()
            asyncio.run(worker_main(listen(port), root))
            os._exit(0)
        children.append(pid)

    print(f"listening on 127.0.0.1:{port}", flush=True)
    # The parent is a worker too; when its loop stops (SIGINT/SIGTERM), it stops the others once.
    asyncio.run(worker_main(first, root))
    for pid in children:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
