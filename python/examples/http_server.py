"""A minimal HTTP/1.1 static file server on zcopy: an event loop per core on zcopy.EpollSelector,
bodies sent by the kernel with zcopy.transfer_with_header / zcopy.transfer_to (sendfile).

    python python/examples/http_server.py --root DIR --port PORT [--workers N] [--addr 127.0.0.1]

Serves the regular files under DIR on ADDR:PORT (PORT 0: any free port). Prints "listening on
ADDR:PORT" once it accepts connections; stops cleanly (exit 0) on SIGINT or SIGTERM.

HTTP: GET and HEAD (no reply to HEAD has a body, errors included); Content-Length on every
response; keep-alive (the HTTP/1.1 default; "Connection: close" honoured; HTTP/1.0 only with
"Connection: keep-alive"); pipelined requests answered in order; lines ended by CRLF or by a bare
LF; one "Range: bytes=a-b" / "a-" / "-n" answered with 206 and Content-Range, an unsatisfiable one
with 416 (a range that does not parse, has a number of more than 18 digits, or several ranges, is
ignored: 200, as RFC 9110 allows); 404 for anything that is not a regular file under DIR
(directories too), 400 for malformed requests (the connection is closed after it), among them any
framing but one plain Content-Length (RFC 9112 §6.3: two of them, a value that is not a decimal
number of at most 18 digits, Transfer-Encoding), 405 for other methods. No path escapes:
".." segments (also percent-encoded), encoded slashes and backslashes, control characters and NUL
bytes are refused, and a symbolic link may only lead to a file inside DIR (checked with realpath).

Shape (the same as the C server, zc-http-server): one process per CPU (--workers), each with its
own listening socket on the same port (SO_REUSEPORT: the kernel spreads new connections over
them) and its own event loop. Sockets are non-blocking and registered once, edge-triggered, for
reading and writing, so the loop never changes a registration: a short read means the socket is
drained and a full socket says so (zcopy.last_transfer().would_block); the next edge says when to
go on. A response is its header sent with MSG_MORE and the body right behind it
(zcopy.transfer_with_header: a small response leaves as one TCP segment), then zcopy.transfer_to
(sendfile) from the offset reached, whenever the socket has room again. Per request the Python
work is small: parsed request heads are memoised (a pure function of their bytes), each loop
keeps its open files with their response headers, and a cached file is checked with one stat()
per request (device, inode, size and mtime), so a changed or replaced file is never served stale.
"""

from __future__ import annotations

import argparse
import errno
import io
import os
import selectors
import signal
import socket
import stat
import sys
import time
from email.utils import formatdate
from typing import Literal
from urllib.parse import unquote

import zcopy

EVENT_READ, EVENT_WRITE = 1, 2
HEAD_LIMIT = 16 * 1024  # the largest request head (request line and headers) taken
NUMBER_DIGITS = 18  # the longest number taken, as in the C and Java servers: it fits in 63 bits
RECV_SIZE = 16 * 1024
IDLE_TIMEOUT = 60.0  # keep-alive connections idle this long are closed
LINGER_TIMEOUT = 5.0  # how long a closing connection waits for the client to close
FILE_CACHE = 256  # open files kept per worker
PARSE_CACHE = 1024  # parsed request heads kept per worker
BUDGET = 32  # requests one connection may take in a row before the others get a turn
CT_OCTET = b"Content-Type: application/octet-stream\r\n"

REASONS = {
    200: "OK",
    206: "Partial Content",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    416: "Range Not Satisfiable",
    503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}


# ---- requests --------------------------------------------------------------------------------

# A parsed request head: (status, is_head, path, keep_alive, http10, range, content_length).
# status 0: serve `path` (a relative path, percent-decoded and checked), otherwise an error.
# is_head: the method is HEAD, so the reply has no body, whatever its status.
Parsed = tuple[int, bool, str, bool, bool, "str | None", int]


def decimal(s: str) -> int | None:
    """The value of a plain decimal number of at most NUMBER_DIGITS digits, else None (so int()
    never sees a number of thousands of digits, which it refuses)."""
    return int(s) if 0 < len(s) <= NUMBER_DIGITS and s.isascii() and s.isdigit() else None


def target_to_path(target: str) -> tuple[int, str]:
    """The relative path a request target names, or an error status (400 malformed, 404 no such
    file: escapes, encoded slashes, directories)."""
    if not target.startswith("/"):
        return 400, ""
    for cut in ("?", "#"):
        i = target.find(cut)
        if i >= 0:
            target = target[:i]
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in target):
        return 400, ""
    low = target.lower()
    if "%00" in low:
        return 400, ""
    if "%2f" in low or "%5c" in low or "\\" in target:
        return 404, ""  # an encoded slash or a backslash separates nothing: no such name
    if "%" in target:
        for i in range(len(target)):
            if target[i] == "%" and not _is_hex(target[i + 1 : i + 3]):
                return 400, ""
    path = unquote(target, errors="surrogateescape")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in path):
        return 400, ""
    parts = []
    for seg in path.split("/"):
        if seg == "..":
            return 404, ""  # never above the root, nor back into it
        if seg and seg != ".":
            parts.append(seg)
    if not parts or path.endswith("/") or path.endswith("/."):
        return 404, ""  # directories are not served
    return 0, "/".join(parts)


def _is_hex(s: str) -> bool:
    return len(s) == 2 and all(ch in "0123456789abcdefABCDEF" for ch in s)


def parse_head(head: bytes) -> Parsed:
    """Parses a request head: its lines, without the LF that ends the last one and without the
    empty line after it. A line ends in LF, with or without a CR before it (RFC 9112 §2.2 lets a
    recipient take a bare LF for a line terminator, as nginx does); a CR anywhere else is invalid
    (also §2.2: a reader that took it for a line break would see other header lines)."""
    lines = [line[:-1] if line.endswith("\r") else line for line in head.decode("latin-1").split("\n")]
    is_head = lines[0].startswith("HEAD ")  # whatever else is wrong with the request
    if any("\r" in line for line in lines):
        return 400, is_head, "", False, False, None, 0
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        return 400, is_head, "", False, False, None, 0
    method, target, version = parts
    if version == "HTTP/1.1":
        keep, http10 = True, False
    elif version == "HTTP/1.0":
        keep, http10 = False, True
    elif len(version) == 8 and version.startswith("HTTP/") and version[5] in "23456789" and version[6] == ".":
        return 505, is_head, "", False, False, None, 0
    else:
        return 400, is_head, "", False, False, None, 0
    rng = None
    content_length: int | None = None
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or " " in name or "\t" in name:
            return 400, is_head, "", False, http10, None, 0
        name = name.lower()
        value = value.strip(" \t")
        if name == "connection":
            tokens = {t.strip().lower() for t in value.split(",")}
            if "close" in tokens:
                keep = False
            elif "keep-alive" in tokens:
                keep = True
        elif name == "range":
            rng = value
        elif name == "content-length":
            # One plain decimal number, or where the body ends is unknowable: 400 and close
            # (RFC 9112 §6.3), so no byte after the head is ever taken for a request. A second
            # Content-Length line is refused even when it repeats the first, as nginx does
            # (RFC 9110 §8.6 allows either): no client of a file server sends one.
            if content_length is not None or (content_length := decimal(value)) is None:
                return 400, is_head, "", False, http10, None, 0
        elif name == "transfer-encoding":
            # A chunked body: not for a file server (and beside Content-Length, §6.3).
            return 400, is_head, "", False, http10, None, 0
    length = content_length or 0
    if method not in ("GET", "HEAD"):
        return 405, is_head, "", keep, http10, None, length
    status, path = target_to_path(target)
    if status:
        return status, is_head, "", keep, http10, None, length
    return 0, is_head, path, keep, http10, rng, length


def parse_range(value: str, size: int) -> tuple[int, int] | None | Literal[False]:
    """`(first, last)` for a satisfiable single range, False for an unsatisfiable one, None for a
    value to ignore (not bytes=, several ranges, or not a range at all)."""
    if value[:6].lower() != "bytes=" or "," in value:
        return None
    a, dash, b = value[6:].strip(" \t").partition("-")
    if not dash:
        return None
    if not a:  # the last n bytes
        n = decimal(b)
        if n is None:
            return None
        if n == 0 or size == 0:
            return False
        return max(0, size - n), size - 1
    first = decimal(a)
    if first is None:
        return None
    if b:
        last = decimal(b)
        if last is None or last < first:
            return None
    else:
        last = size - 1
    if first >= size:
        return False
    return first, min(last, size - 1)


# ---- files -----------------------------------------------------------------------------------


class File:
    """An open file of the cache, with its validity key and its 200 response headers."""

    __slots__ = ("fileobj", "fd", "size", "key", "date", "h_keep", "h_close", "h_keep10")

    def __init__(self, fileobj: io.FileIO, st: os.stat_result) -> None:
        self.fileobj = fileobj  # keeps the descriptor open while a response sends from it
        self.fd = fileobj.fileno()
        self.size = st.st_size
        self.key = (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns)
        self.date = b""
        self.h_keep = self.h_close = self.h_keep10 = b""


# ---- connections -----------------------------------------------------------------------------


class Conn:
    __slots__ = (
        "sock", "recv", "key", "buf", "readable", "writable", "out", "file", "pos", "end", "keep",
        "closing", "discard", "last",
    )

    def __init__(self, sock: socket.socket, now: float) -> None:
        self.sock = sock
        self.recv = sock.recv
        self.key: selectors.SelectorKey | None = None
        self.buf = b""  # request bytes received and not yet taken (pipelined requests queue here)
        self.readable = False  # an edge said so, and no short read has drained the socket since
        self.writable = True
        self.out = b""  # header bytes of the current response still to send
        self.file: File | None = None  # the body's file while a body is being sent
        self.pos = 0  # the body: file[pos, end)
        self.end = 0
        self.keep = True  # keep the connection after the current response
        self.closing = False  # response sent, our side shut down: reading until the peer closes
        self.discard = 0  # bytes of a request body still to skip
        self.last = now


class Worker:
    """One event loop: a listening socket and its connections."""

    def __init__(self, listener: socket.socket, root: str) -> None:
        self.listener = listener
        self.root = root
        self.root_prefix = root.rstrip("/") + "/"
        self.sel = zcopy.EpollSelector()
        self.sel.register(listener, EVENT_READ, None)
        self.conns: set[Conn] = set()
        self.pending: list[Conn] = []  # connections that used up their budget with work left
        self.files: dict[str, File] = {}
        self.parsed: dict[bytes, Parsed] = {}
        self.errors: dict[tuple[int, bool, bool], bytes] = {}
        self.stopping = False
        self.now = time.monotonic()
        self.date_at = 0
        self.date = b""
        self.update_date()

    def stop(self) -> None:
        """From a signal handler: ends the loop (select() returns at once)."""
        self.stopping = True
        self.sel.wakeup()

    def update_date(self) -> None:
        t = int(time.time())
        if t != self.date_at:
            self.date_at = t
            self.date = f"Date: {formatdate(t, usegmt=True)}\r\n".encode()

    # -- the loop --

    def run(self) -> None:
        select = self.sel.select
        drive = self.drive
        monotonic = time.monotonic
        sweep_at = self.now + 1.0
        while not self.stopping:
            ready = select(0 if self.pending else 1.0)
            now = self.now = monotonic()
            if self.pending:
                again, self.pending = self.pending, []
                ready = [(c.key, 0) for c in again if c.key is not None] + ready
            for key, ev in ready:
                c = key.data
                if c is None:
                    self.accept()
                    continue
                if c.key is None:
                    continue  # closed earlier in this round
                c.last = now
                if ev & EVENT_READ:
                    c.readable = True
                if ev & EVENT_WRITE:
                    c.writable = True
                try:
                    drive(c)
                except OSError:
                    self.close(c)  # the peer went away (EPIPE, ECONNRESET), or worse
                except Exception as e:  # a bug must not take the other connections down
                    print(f"http_server: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
                    self.close(c)
            if now >= sweep_at:
                sweep_at = now + 1.0
                self.update_date()
                self.sweep(now)
        for c in list(self.conns):
            self.close(c)
        self.sel.close()
        self.listener.close()

    def accept(self) -> None:
        for _ in range(64):
            try:
                sock, _ = self.listener.accept()
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    return  # out of descriptors: the connection waits in the backlog
                if e.errno in (errno.ECONNABORTED, errno.EPROTO, errno.EPERM):
                    continue
                raise
            c = Conn(sock, self.now)
            try:
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                c.key = self.sel.register(sock, EVENT_READ | EVENT_WRITE, c, mode=zcopy.EDGE_TRIGGERED)
            except OSError:  # reset before we got to it
                sock.close()
                continue
            self.conns.add(c)
            # The first request often arrives with the connection: the edge is already queued.

    def close(self, c: Conn) -> None:
        if c not in self.conns:
            return
        self.conns.discard(c)
        c.key = None
        try:
            self.sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()
        c.file = None

    def sweep(self, now: float) -> None:
        for c in list(self.conns):
            idle = now - c.last
            if idle > IDLE_TIMEOUT or (c.closing and idle > LINGER_TIMEOUT):
                self.close(c)

    # -- one connection --

    def drive(self, c: Conn) -> None:
        """Moves `c` on as far as its socket allows: sends, then takes the next request, then
        reads. After BUDGET requests in a row it yields to the others (edge-triggered: no new
        edge would come for bytes already here, so it goes on the pending list)."""
        budget = BUDGET
        while True:
            if c.out or c.file is not None:
                if not c.writable or not self.send(c):
                    return
                if not c.keep:
                    self.begin_close(c)
                    return
            if c.closing:
                self.drain(c)
                return
            if c.buf and self.take_request(c):
                budget -= 1
                if budget == 0:
                    self.pending.append(c)
                    return
                continue
            data = self.receive(c)
            if not data:
                return
            if len(data) < RECV_SIZE:
                c.readable = False  # a short read drained the socket: the next edge tells more
            c.buf = c.buf + data if c.buf else data

    def send(self, c: Conn) -> bool:
        """Sends what the socket takes of the current response; True when it is all sent."""
        f = c.file
        if c.out:
            if f is not None:
                h, b = zcopy.transfer_with_header(f.fd, c.pos, c.end - c.pos, c.sock, c.out)
                c.pos += b
            else:
                try:
                    h = c.sock.send(c.out)
                except BlockingIOError:
                    h = 0
            if h < len(c.out):
                c.out = c.out[h:]
                c.writable = False
                return False
            c.out = b""
            if f is None:
                return True
            if c.pos >= c.end:
                c.file = None
                return True
            if zcopy.last_transfer().would_block:  # the socket is full
                c.writable = False
                return False
        assert f is not None
        while c.pos < c.end:
            n = zcopy.transfer_to(f.fd, c.pos, c.end - c.pos, c.sock)
            c.pos += n
            if c.pos >= c.end:
                break
            if zcopy.last_transfer().would_block:
                c.writable = False
                return False
            if n == 0:
                # The end of the file before the promised length: it shrank under us.
                raise OSError(errno.EIO, "the file shrank while it was being sent")
        c.file = None
        return True

    def begin_close(self, c: Conn) -> None:
        """After the last response: shut down our side and read until the client closes, so that
        unread request bytes cannot turn our close into a reset that destroys the response."""
        c.closing = True
        c.buf = b""
        try:
            c.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self.close(c)
            return
        self.drain(c)

    def drain(self, c: Conn) -> None:
        while self.receive(c):
            pass

    def receive(self, c: Conn) -> bytes:
        """The next bytes from a readable connection; b"" when it is drained (it stops being
        readable until the next edge) or closed by the peer (it is closed here too)."""
        if not c.readable:
            return b""
        try:
            data = c.recv(RECV_SIZE)
        except BlockingIOError:
            c.readable = False
            return b""
        if not data:
            self.close(c)
        return data

    def take_request(self, c: Conn) -> bool:
        """Takes one request from the front of `c.buf` if its head is complete and sets up the
        response; False when more bytes are needed."""
        buf = c.buf
        if c.discard:  # the body of the previous request: skipped
            n = min(c.discard, len(buf))
            c.discard -= n
            buf = c.buf = buf[n:]
            if c.discard or not buf:
                return False
        while buf.startswith((b"\n", b"\r\n")):  # blank lines before a request are ignored (RFC 9112 §2.2)
            buf = c.buf = buf[1:] if buf[0] == 10 else buf[2:]
        # The head ends at its first empty line; a line ends in LF, with or without CR (parse_head).
        end = buf.find(b"\n\r\n", 0, HEAD_LIMIT)
        lf_lf = buf.find(b"\n\n", 0, HEAD_LIMIT if end < 0 else end + 1)
        if lf_lf >= 0:
            end, after = lf_lf, lf_lf + 2
        elif end >= 0:
            after = end + 3
        else:
            if len(buf) >= HEAD_LIMIT:  # a head larger than we take
                c.buf = b""
                self.respond_error(c, 400, False, buf.startswith(b"HEAD "))
                return True
            return False
        head = buf[:end]
        c.buf = buf[after:]
        parsed = self.parsed.get(head)
        if parsed is None:
            parsed = parse_head(head)
            if len(self.parsed) >= PARSE_CACHE:
                self.parsed.clear()
            self.parsed[head] = parsed
        status, is_head, path, keep, http10, rng, length = parsed
        c.keep = keep
        if status:
            if status in (400, 505):
                c.buf = b""  # the stream cannot be trusted any further
            else:
                c.discard = length
            self.respond_error(c, status, http10, is_head)
            return True
        c.discard = length
        f = self.open_file(path)
        if f is None:
            self.respond_error(c, 404, http10, is_head)
            return True
        size = f.size
        if rng is None or (r := parse_range(rng, size)) is None:
            if f.date is not self.date:
                self.build_headers(f)
            c.out = f.h_keep10 if (http10 and keep) else (f.h_keep if keep else f.h_close)
            first, end_ = 0, size
        elif r is False:
            self.respond_error(c, 416, http10, is_head, f"Content-Range: bytes */{size}\r\n")
            return True
        else:
            first, last = r
            end_ = last + 1
            c.out = self.header(206, end_ - first, keep, http10, f"Content-Range: bytes {first}-{last}/{size}\r\n")
        if is_head or end_ == first:
            c.file = None
        else:
            c.file, c.pos, c.end = f, first, end_
        return True

    def connection_header(self, keep: bool, http10: bool) -> str:
        if not keep:
            return "Connection: close\r\n"
        return "Connection: keep-alive\r\n" if http10 else ""

    def header(self, status: int, length: int, keep: bool, http10: bool, extra: str = "") -> bytes:
        return (
            f"HTTP/1.1 {status} {REASONS[status]}\r\nServer: zcopy\r\n".encode()
            + self.date
            + CT_OCTET
            + f"Content-Length: {length}\r\n{extra}Accept-Ranges: bytes\r\n"
            f"{self.connection_header(keep, http10)}\r\n".encode()
        )

    def build_headers(self, f: File) -> None:
        f.date = self.date
        f.h_keep = self.header(200, f.size, True, False)
        f.h_close = self.header(200, f.size, False, False)
        f.h_keep10 = self.header(200, f.size, True, True)

    def respond_error(self, c: Conn, status: int, http10: bool, is_head: bool, extra: str = "") -> None:
        """An error reply with a short text body, or none to HEAD, whatever the status (RFC 9110
        §9.3.2: a keep-alive client reads the next response right after the headers); its
        Content-Length is that of the body a GET would get."""
        if status in (400, 505):
            c.keep = False
        why = REASONS[status]
        body = f"{status} {why}\n".encode()
        allow = "Allow: GET, HEAD\r\n" if status == 405 else ""
        c.out = (
            f"HTTP/1.1 {status} {why}\r\nServer: zcopy\r\n".encode()
            + self.date
            + f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n{allow}{extra}"
            f"{self.connection_header(c.keep, http10)}\r\n".encode()
            + (b"" if is_head else body)
        )
        c.file = None

    def open_file(self, rel: str) -> File | None:
        """The cached open file at `rel` (checked against one stat()), or the file opened now, or
        None: missing, not a regular file, or outside the root."""
        full = self.root_prefix + rel
        f = self.files.get(rel)
        try:
            st = os.stat(full)
        except (OSError, ValueError):
            if f is not None:
                del self.files[rel]
            return None
        if f is not None:
            if f.key == (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns):
                return f
            del self.files[rel]  # changed or replaced: open it again (a response may keep the old)
        if not stat.S_ISREG(st.st_mode):
            return None
        real = os.path.realpath(full)
        if not real.startswith(self.root_prefix):
            return None  # a symbolic link out of the root
        try:
            # O_NONBLOCK: a FIFO put in the file's place since the stat() cannot block the open.
            fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError:
            return None
        fileobj = os.fdopen(fd, "rb", buffering=0)
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            fileobj.close()
            return None
        f = File(fileobj, st)
        if len(self.files) >= FILE_CACHE:
            del self.files[next(iter(self.files))]
        self.files[rel] = f
        return f


# ---- processes -------------------------------------------------------------------------------


def listen(addr: str, port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind((addr, port))
    s.listen(4096)
    s.setblocking(False)
    return s


def serve(listener: socket.socket, root: str, child: bool, stopped: list[int]) -> None:
    worker = Worker(listener, root)

    def on_signal(signum: int, frame: object) -> None:
        worker.stop()

    signal.signal(signal.SIGTERM, on_signal)
    # A terminal's ^C reaches the whole process group; the parent stops the children itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN if child else on_signal)
    if stopped:  # a signal came before the handlers above were in place
        worker.stopping = True
    worker.run()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--root", required=True, help="the folder to serve")
    ap.add_argument("--port", type=int, default=8080, help="0: any free port")
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="event loops (processes)")
    args = ap.parse_args(argv)
    root = os.path.realpath(args.root)
    if not os.path.isdir(root):
        print(f"http_server: {args.root} is not a directory", file=sys.stderr)
        return 2
    first = listen(args.addr, args.port)
    port = first.getsockname()[1]
    # Until a loop runs, a signal is remembered (in each process) and stops it at once. The stop
    # signals are blocked across each fork: CPython's after-fork step in the child drops a signal
    # caught before it ran (one the parent sent at once, say), and that child would never stop.
    # Blocked, such a signal stays pending and reaches the handler when unblocked after the fork.
    stopped: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopped.append(signum))
    signal.signal(signal.SIGINT, lambda signum, frame: stopped.append(signum))
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    children = []
    for _ in range(max(1, args.workers) - 1):
        signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
        pid = os.fork()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, stop_signals)
        if pid == 0:
            code = 0
            try:
                first.close()
                serve(listen(args.addr, port), root, True, stopped)
            except BaseException as e:  # never return into the parent's code
                print(f"http_server worker: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
                code = 1
            finally:
                os._exit(code)
        children.append(pid)
    print(f"listening on {args.addr}:{port}", flush=True)
    serve(first, root, False, stopped)  # the parent is a worker too, until a signal stops it
    for pid in children:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for pid in children:
        os.waitpid(pid, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
