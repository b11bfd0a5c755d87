"""zcopy.asyncio: asyncio's sendfile behaviour, as CPython documents and tests it
(Lib/test/test_asyncio/test_sendfile.py and the sendfile tests of test_unix_events.py are the
model), on every flavour: zcopy's EventLoop (``loop.sendfile``), uvloop's flavour
(``loop.sendfile``) and the stock asyncio loop through ``zcopy.asyncio.sendfile()``.

Every test checks the bytes the peer got, the file's position, and through
``zcopy.last_transfer()`` whether zcopy moved them or asyncio's fallback did.
"""

from __future__ import annotations

import asyncio
import errno
import io
import os
import socket
import ssl
import subprocess
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

from conftest import forget_last_transfer, pattern, uvloop_or_skip

import zcopy
import zcopy.asyncio

# Large enough that 4 KiB socket buffers make every native transfer wait several times
# (CPython's size: Linux >= 6.10 buffers up to 17 pages whatever SO_SNDBUF says).
DATA = pattern(1024 * 17 * 64 + 1)
BUF_SIZE = 4096
# What last_transfer() reads after forget_last_transfer(): a transfer of nothing (two checks).
NONE = zcopy.Transfer(0, "none", False, 2)
# The planner's route to a peer on this host (loopback) behind an event loop's non-blocking
# socket: sendfile, for large steps too (a copy from a mapping is for blocking sockets).
LOCAL_ROUTES = ("sendfile",)


# --- the flavours ---------------------------------------------------------------------------


@dataclass
class Flavour:
    name: str
    new_loop: Callable[[], asyncio.AbstractEventLoop]
    #: sendfile(loop, transport, file, offset, count, fallback=...) as the flavour's users call it
    sendfile: Callable[..., Coroutine[Any, Any, int]]
    #: asyncio's own transports refuse writes while a sendfile runs; others cannot
    guards_writes: bool


def loop_sendfile(loop: asyncio.AbstractEventLoop, *args: Any, **kwargs: Any) -> Any:
    return loop.sendfile(*args, **kwargs)


def any_loop_sendfile(loop: asyncio.AbstractEventLoop, *args: Any, **kwargs: Any) -> Any:
    return zcopy.asyncio.sendfile(*args, **kwargs)


FLAVOURS = {
    "EventLoop": Flavour("EventLoop", zcopy.asyncio.new_event_loop, loop_sendfile, True),
    "uvloop": Flavour(
        "uvloop", lambda: zcopy.asyncio.new_event_loop(base="uvloop"), loop_sendfile, False
    ),
    "stock-asyncio+sendfile()": Flavour(
        "stock-asyncio+sendfile()",
        lambda: asyncio.SelectorEventLoop(),
        any_loop_sendfile,
        False,
    ),
}
# The loops whose own loop.sock_sendfile is zcopy's.
SOCK_FLAVOURS = ["EventLoop", "uvloop"]


def make_loop(name: str) -> Iterator[asyncio.AbstractEventLoop]:
    if name == "uvloop":
        uvloop_or_skip()
    loop = FLAVOURS[name].new_loop()
    try:
        yield loop
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


@pytest.fixture(params=list(FLAVOURS))
def flavour(request: pytest.FixtureRequest) -> Flavour:
    return FLAVOURS[request.param]


@pytest.fixture
def loop(flavour: Flavour) -> Iterator[asyncio.AbstractEventLoop]:
    yield from make_loop(flavour.name)


@pytest.fixture(params=SOCK_FLAVOURS)
def sock_loop(request: pytest.FixtureRequest) -> Iterator[asyncio.AbstractEventLoop]:
    yield from make_loop(request.param)


@pytest.fixture
def file(tmp_path: Path) -> Iterator[IO[bytes]]:
    path = tmp_path / "data.bin"
    path.write_bytes(DATA)
    with open(path, "rb") as f:
        yield f


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A self-signed certificate and its key for 127.0.0.1, in one PEM file."""
    pem = tmp_path_factory.mktemp("tls") / "keycert.pem"
    try:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", str(pem), "-out", str(pem)],
            check=True, capture_output=True,
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip(f"openssl cannot make a test certificate: {e}")
    return pem


# --- a server and a client transport, as CPython's tests set them up -------------------------


class Receiver(asyncio.Protocol):
    """The server's protocol: keeps what it receives, optionally closes after ``close_after``
    bytes, and checks the order of protocol callbacks."""

    def __init__(self, loop: asyncio.AbstractEventLoop, close_after: int = 0) -> None:
        self.transport: Any = None
        self.state = "INITIAL"
        self.data = bytearray()
        self.close_after = close_after
        self.connected = loop.create_future()
        self.done = loop.create_future()

    def connection_made(self, transport: Any) -> None:
        assert self.state == "INITIAL"
        self.state = "CONNECTED"
        self.transport = transport
        self.connected.set_result(None)

    def data_received(self, data: bytes) -> None:
        assert self.state == "CONNECTED"
        self.data.extend(data)
        if self.close_after and len(self.data) >= self.close_after:
            self.transport.close()

    def eof_received(self) -> None:
        assert self.state == "CONNECTED"
        self.state = "EOF"

    def connection_lost(self, exc: Exception | None) -> None:
        assert self.state in ("CONNECTED", "EOF")
        self.state = "CLOSED"
        self.done.set_result(None)

    @property
    def nbytes(self) -> int:
        return len(self.data)


class Sender(Receiver):
    """The client's protocol (what it receives is not used), with flow-control calls."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.paused = False

    def pause_writing(self) -> None:
        assert not self.paused
        self.paused = True

    def resume_writing(self) -> None:
        assert self.paused
        self.paused = False


@dataclass
class Connection:
    loop: asyncio.AbstractEventLoop
    server: asyncio.AbstractServer
    receiver: Receiver
    sender: Sender

    @property
    def transport(self) -> Any:
        return self.sender.transport

    def close(self) -> None:
        run = self.loop.run_until_complete
        self.receiver.transport.close()
        self.sender.transport.close()
        run(self.receiver.done)
        run(self.sender.done)
        self.server.close()
        run(self.server.wait_closed())


@pytest.fixture
def connect(
    loop: asyncio.AbstractEventLoop, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Connection]]:
    """Makes a loopback connection with 4 KiB socket buffers (CPython's
    ``prepare_sendfile``), TLS with ``certificate=``; closed at the end of the test."""
    made: list[Connection] = []

    def make(*, certificate: Path | None = None, close_after: int = 0) -> Connection:
        run = loop.run_until_complete
        server_ctx = client_ctx = None
        if certificate is not None:
            server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            server_ctx.load_cert_chain(certificate)
            client_ctx = ssl.create_default_context(cafile=certificate)
        receiver = Receiver(loop, close_after)
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUF_SIZE)
        server = run(loop.create_server(lambda: receiver, sock=listener, ssl=server_ctx))
        client = socket.create_connection(listener.getsockname())
        sender = Sender(loop)
        transport, _ = run(
            loop.create_connection(
                lambda: sender,
                sock=client,
                ssl=client_ctx,
                server_hostname="127.0.0.1" if certificate else None,
            )
        )
        client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, BUF_SIZE)
        transport.set_write_buffer_limits(high=BUF_SIZE)
        run(receiver.connected)
        made.append(Connection(loop, server, receiver, sender))
        return made[-1]

    yield make
    for c in made:
        c.close()


# --- loop.sendfile / zcopy.asyncio.sendfile ---------------------------------------------------


def test_sendfile(flavour: Flavour, loop: Any, connect: Any, file: IO[bytes]) -> None:
    c = connect()
    forget_last_transfer()
    ret = loop.run_until_complete(flavour.sendfile(loop, c.transport, file))
    assert zcopy.last_transfer().method in LOCAL_ROUTES
    assert zcopy.last_transfer().would_block is False
    c.transport.close()
    loop.run_until_complete(c.receiver.done)
    assert ret == len(DATA)
    assert c.receiver.data == DATA
    assert file.tell() == len(DATA)


def test_sendfile_partial(flavour: Flavour, loop: Any, connect: Any, file: IO[bytes]) -> None:
    c = connect()
    ret = loop.run_until_complete(flavour.sendfile(loop, c.transport, file, 1000, 100))
    assert zcopy.last_transfer()[:3] == (100, "sendfile", False)
    c.transport.close()
    loop.run_until_complete(c.receiver.done)
    assert (ret, bytes(c.receiver.data), file.tell()) == (100, DATA[1000:1100], 1100)


@pytest.mark.parametrize(
    "offset, count, sent",
    [
        (len(DATA) - 10, None, 10),
        (len(DATA) - 10, 1000, 10),  # count past the end: up to the end
        (len(DATA), None, 0),
        (len(DATA) + 5, 7, 0),  # offset past the end: nothing, position untouched
    ],
)
def test_sendfile_offsets_at_and_past_the_end(
    flavour: Flavour, loop: Any, connect: Any, file: IO[bytes], offset: int, count: int | None,
    sent: int,
) -> None:
    c = connect()
    ret = loop.run_until_complete(flavour.sendfile(loop, c.transport, file, offset, count))
    c.transport.close()
    loop.run_until_complete(c.receiver.done)
    assert ret == sent
    assert c.receiver.data == DATA[offset : offset + sent]
    assert file.tell() == (offset + sent if sent else 0)


def test_sendfile_empty_file(
    flavour: Flavour, loop: Any, connect: Any, tmp_path: Path
) -> None:
    c = connect()
    (tmp_path / "empty").write_bytes(b"")
    with open(tmp_path / "empty", "rb") as empty:
        ret = loop.run_until_complete(flavour.sendfile(loop, c.transport, empty))
        assert (ret, empty.tell()) == (0, 0)


def test_sendfile_pre_and_post_data(
    flavour: Flavour, loop: Any, connect: Any, file: IO[bytes]
) -> None:
    c = connect()
    prefix, suffix = b"PREFIX__" * 1024, b"--SUFFIX" * 1024
    c.transport.write(prefix)
    ret = loop.run_until_complete(flavour.sendfile(loop, c.transport, file))
    assert zcopy.last_transfer().method in LOCAL_ROUTES
    c.transport.write(suffix)
    c.transport.close()
    loop.run_until_complete(c.receiver.done)
    assert ret == len(DATA)
    assert c.receiver.data == prefix + DATA + suffix
    assert file.tell() == len(DATA)


def test_held_bytes_go_ahead_of_the_body(
    flavour: Flavour, loop: Any, connect: Any, file: IO[bytes], monkeypatch: Any
) -> None:
    # A prefix far larger than the socket takes: the transport holds most of it when
    # sendfile starts. EventLoop sends what it holds in one call with the body (MSG_MORE);
    # the others let the transport drain it first.
    headers = []

    def with_header(src: Any, position: int, count: int, target: Any, header: bytes) -> Any:
        headers.append(len(header))
        return zcopy.transfer_with_header(src, position, count, target, header)

    monkeypatch.setattr(zcopy.asyncio, "transfer_with_header", with_header)
    c = connect()
    prefix = pattern(256 * 1024, start=7)
    c.transport.write(prefix)
    held = c.transport.get_write_buffer_size()
    assert held > 0
    ret = loop.run_until_complete(flavour.sendfile(loop, c.transport, file, 10, 50_000))
    if flavour.name == "EventLoop":
        assert headers[0] == held and len(headers) > 1  # the socket was full: sent in parts
    else:
        assert headers == []
    assert c.transport.get_write_buffer_size() == 0
    assert c.sender.paused is False  # flow control resumed the protocol
    c.transport.write(b"END")
    c.transport.close()
    loop.run_until_complete(c.receiver.done)
    assert ret == 50_000
    assert c.receiver.data == prefix + DATA[10:50_010] + b"END"
    assert file.tell() == 50_010


def test_sendfile_ssl_falls_back(
    flavour: Flavour, loop: Any, connect: Any, file: IO[bytes], certificate: Path
) -> None:
    c = connect(certificate=certificate)
    prefix, suffix = b"zxcvbnm" * 1024, b"0987654321" * 1024
    c.transport.write(prefix)
    forget_last_transfer()
    ret = loop.run_until_complete(flavour.sendfile(loop, c.transport, file))
    c.transport.write(suffix)
    c.transport.close()
    loop.run_until_complete(c.receiver.done)
    assert zcopy.last_transfer() == NONE  # read and written, not zcopy
    assert ret == len(DATA)
    assert c.receiver.data == prefix + DATA + suffix
    assert file.tell() == len(DATA)


def test_sendfile_ssl_partial(
    flavour: Flavour, loop: Any, connect: Any, file: IO[bytes], certificate: Path
) -> None:
    c = connect(certificate=certificate)
    ret = loop.run_until_complete(flavour.sendfile(loop, c.transport, file, 1000, 100))
    c.transport.close()
    loop.run_until_complete(c.receiver.done)
    assert (ret, bytes(c.receiver.data), file.tell()) == (100, DATA[1000:1100], 1100)


def test_sendfile_ssl_without_fallback_is_refused(
    flavour: Flavour, loop: Any, connect: Any, file: IO[bytes], certificate: Path
) -> None:
    c = connect(certificate=certificate)
    with pytest.raises(RuntimeError, match="fallback is disabled"):
        loop.run_until_complete(flavour.sendfile(loop, c.transport, file, fallback=False))
    assert file.tell() == 0


def test_sendfile_not_a_regular_file_falls_back(
    flavour: Flavour, loop: Any, connect: Any
) -> None:
    # The pattern, not CPython's b"x" * n, shows blocks out of place: CPython 3.12+'s own
    # fallback sends later blocks' bytes in place of earlier ones when the socket fills.
    c = connect()
    source = io.BytesIO(DATA)
    forget_last_transfer()
    ret = loop.run_until_complete(flavour.sendfile(loop, c.transport, source, 5, 70_000))
    c.transport.close()
    loop.run_until_complete(c.receiver.done)
    assert zcopy.last_transfer() == NONE
    assert (ret, bytes(c.receiver.data), source.tell()) == (70_000, DATA[5:70_005], 70_005)


def test_sendfile_from_a_pipe_falls_back_as_asyncio_does(
    flavour: Flavour, loop: Any, connect: Any
) -> None:
    # zcopy refuses a pipe at the first transfer, so asyncio's fallback reads it; as there,
    # setting the position of what cannot seek fails once the bytes went.
    c = connect()
    r, w = os.pipe()
    os.write(w, DATA[:30_000])
    os.close(w)
    with open(r, "rb") as pipe:
        with pytest.raises(io.UnsupportedOperation):
            loop.run_until_complete(flavour.sendfile(loop, c.transport, pipe, 0, 30_000))
    c.transport.close()
    loop.run_until_complete(c.receiver.done)
    assert c.receiver.data == DATA[:30_000]


def test_sendfile_not_a_regular_file_without_fallback(
    flavour: Flavour, loop: Any, connect: Any
) -> None:
    c = connect()
    source = io.BytesIO(DATA)
    with pytest.raises(asyncio.SendfileNotAvailableError, match="not a regular file"):
        loop.run_until_complete(flavour.sendfile(loop, c.transport, source, fallback=False))
    c.transport.close()
    loop.run_until_complete(c.receiver.done)
    assert c.receiver.nbytes == 0
    assert source.tell() == 0


def test_sendfile_for_closing_transport(
    flavour: Flavour, loop: Any, connect: Any, file: IO[bytes]
) -> None:
    c = connect()
    c.transport.close()
    with pytest.raises(RuntimeError, match="is closing"):
        loop.run_until_complete(flavour.sendfile(loop, c.transport, file))
    loop.run_until_complete(c.receiver.done)
    assert c.receiver.nbytes == 0
    assert file.tell() == 0


def test_sendfile_not_supported_on_datagrams(
    flavour: Flavour, loop: Any, file: IO[bytes]
) -> None:
    transport, _ = loop.run_until_complete(
        loop.create_datagram_endpoint(asyncio.DatagramProtocol, family=socket.AF_INET)
    )
    try:
        with pytest.raises(RuntimeError, match="not supported"):
            loop.run_until_complete(flavour.sendfile(loop, transport, file))
        assert file.tell() == 0
    finally:
        transport.close()
        loop.run_until_complete(asyncio.sleep(0))


@pytest.mark.parametrize(
    "offset, count, error",
    [(-1, None, ValueError), (0, 0, ValueError), (0, -5, ValueError), ("0", None, TypeError),
     (0, 1.5, TypeError)],
)  # fmt: skip
def test_sendfile_argument_errors(
    flavour: Flavour, loop: Any, connect: Any, file: IO[bytes], offset: Any, count: Any,
    error: type,
) -> None:
    c = connect()
    with pytest.raises(error):
        loop.run_until_complete(flavour.sendfile(loop, c.transport, file, offset, count))
    assert file.tell() == 0


def test_sendfile_text_file_is_refused(
    flavour: Flavour, loop: Any, connect: Any, tmp_path: Path
) -> None:
    c = connect()
    (tmp_path / "t.txt").write_text("text")
    with open(tmp_path / "t.txt") as text:
        with pytest.raises(ValueError, match="binary mode"):
            loop.run_until_complete(flavour.sendfile(loop, c.transport, text))


def test_sendfile_close_peer_after_receiving(
    flavour: Flavour, loop: Any, connect: Any, file: IO[bytes]
) -> None:
    c = connect(close_after=len(DATA))
    ret = loop.run_until_complete(flavour.sendfile(loop, c.transport, file))
    c.transport.close()
    loop.run_until_complete(c.receiver.done)
    assert ret == len(DATA)
    assert c.receiver.data == DATA
    assert file.tell() == len(DATA)


def test_sendfile_close_peer_in_the_middle_of_receiving(
    flavour: Flavour, loop: Any, connect: Any, file: IO[bytes]
) -> None:
    c = connect(close_after=1024)
    with pytest.raises(ConnectionError):
        loop.run_until_complete(flavour.sendfile(loop, c.transport, file))
    loop.run_until_complete(c.receiver.done)
    assert 1024 <= c.receiver.nbytes < len(DATA)
    assert 1024 <= file.tell() < len(DATA)
    assert c.receiver.data == DATA[: c.receiver.nbytes]
    loop.run_until_complete(c.sender.done)  # the sender's transport sees the reset
    assert c.transport.is_closing()


def test_sendfile_fallback_close_peer_in_the_middle_of_receiving(
    flavour: Flavour, loop: Any, connect: Any
) -> None:
    c = connect(close_after=1024)
    source = io.BytesIO(DATA)
    with pytest.raises(ConnectionError):
        loop.run_until_complete(flavour.sendfile(loop, c.transport, source))
    loop.run_until_complete(c.receiver.done)
    assert 1024 <= c.receiver.nbytes < len(DATA)
    assert 1024 <= source.tell() < len(DATA)


def test_cancelled_sendfile_leaves_the_position_after_the_bytes_sent(
    flavour: Flavour, loop: Any, connect: Any, file: IO[bytes]
) -> None:
    c = connect()

    async def cancel_midway() -> None:
        c.receiver.transport.pause_reading()  # the sender fills up and waits
        task = asyncio.ensure_future(flavour.sendfile(loop, c.transport, file))
        while file.tell() == 0 and zcopy.last_transfer().bytes == 0:
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.01)
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        c.receiver.transport.resume_reading()

    forget_last_transfer()
    loop.run_until_complete(cancel_midway())
    position = file.tell()
    assert 0 < position < len(DATA)
    assert c.transport.is_reading()
    c.transport.write(b"AFTER")  # the transport works on
    c.transport.close()
    loop.run_until_complete(c.receiver.done)
    assert c.receiver.data == DATA[:position] + b"AFTER"


def test_sendfile_prevents_bare_write(
    flavour: Flavour, loop: Any, connect: Any, file: IO[bytes]
) -> None:
    if not flavour.guards_writes:
        pytest.skip("only asyncio's own transports refuse writes during a sendfile")
    c = connect()

    async def write_meanwhile() -> int:
        task = asyncio.ensure_future(flavour.sendfile(loop, c.transport, file))
        await asyncio.sleep(0.001)
        assert not task.done()
        with pytest.raises(RuntimeError, match="sendfile is in progress"):
            c.transport.write(b"data")
        return await task

    assert loop.run_until_complete(write_meanwhile()) == len(DATA)


def test_sendfile_pauses_the_protocols_writing_meanwhile(
    flavour: Flavour, loop: Any, connect: Any, file: IO[bytes]
) -> None:
    if flavour.guards_writes:
        pytest.skip("asyncio's own transports refuse writes instead")
    c = connect()
    seen = []

    async def look_meanwhile() -> int:
        task = asyncio.ensure_future(flavour.sendfile(loop, c.transport, file))
        await asyncio.sleep(0.001)
        seen.append((c.sender.paused, c.transport.is_reading()))
        return await task

    assert loop.run_until_complete(look_meanwhile()) == len(DATA)
    assert seen == [(True, False)]
    assert (c.sender.paused, c.transport.is_reading()) == (False, True)


def test_first_transfer_failing_falls_back(
    flavour: Flavour, loop: Any, connect: Any, file: IO[bytes], monkeypatch: Any
) -> None:
    def failing(*args: Any) -> int:
        raise OSError(errno.EIO, "transfer_to: Input/output error")

    monkeypatch.setattr(zcopy.asyncio, "transfer_to", failing)
    c = connect()
    ret = loop.run_until_complete(flavour.sendfile(loop, c.transport, file, 0, 70_000))
    c.transport.close()
    loop.run_until_complete(c.receiver.done)
    assert (ret, bytes(c.receiver.data), file.tell()) == (70_000, DATA[:70_000], 70_000)

    with pytest.raises(asyncio.SendfileNotAvailableError) as info:
        loop.run_until_complete(
            flavour.sendfile(loop, connect().transport, file, 0, 10, fallback=False)
        )
    assert isinstance(info.value.__cause__, OSError)
    assert file.tell() == 70_000  # nothing sent: the position is left alone


@pytest.mark.parametrize(
    "error, raised",
    [(OSError(errno.EIO, "EIO"), OSError), (OSError(errno.ENOTCONN, "x"), ConnectionError)],
)
def test_a_later_transfer_failing_raises(
    flavour: Flavour, loop: Any, connect: Any, file: IO[bytes], monkeypatch: Any,
    error: OSError, raised: type,
) -> None:
    sent = []

    def fails_second(src: Any, position: int, count: int | None, target: Any) -> int:
        if sent:
            raise error
        sent.append(zcopy.transfer_to(src, position, count, target))
        assert zcopy.last_transfer().would_block  # the socket is full: a second call follows
        return sent[0]

    monkeypatch.setattr(zcopy.asyncio, "transfer_to", fails_second)
    c = connect()
    with pytest.raises(raised) as info:
        loop.run_until_complete(flavour.sendfile(loop, c.transport, file))
    assert info.value.errno == error.errno
    assert file.tell() == sent[0] > 0


# --- loop.sock_sendfile ------------------------------------------------------------------------


@pytest.fixture
def sock_connect(sock_loop: Any) -> Iterator[Callable[[], tuple[socket.socket, Receiver]]]:
    """A non-blocking client socket connected to a server (CPython's
    ``prepare_socksendfile``), 4 KiB buffers."""
    made: list[tuple[socket.socket, Receiver, asyncio.AbstractServer]] = []

    def make() -> tuple[socket.socket, Receiver]:
        run = sock_loop.run_until_complete
        receiver = Receiver(sock_loop)
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUF_SIZE)
        server = run(sock_loop.create_server(lambda: receiver, sock=listener))
        sock = socket.socket()
        sock.setblocking(False)
        run(sock_loop.sock_connect(sock, listener.getsockname()))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, BUF_SIZE)
        run(receiver.connected)
        made.append((sock, receiver, server))
        return sock, receiver

    yield make
    for sock, receiver, server in made:
        sock.close()
        sock_loop.run_until_complete(receiver.done)
        server.close()
        sock_loop.run_until_complete(server.wait_closed())


def close_and_receive(loop: Any, sock: socket.socket, receiver: Receiver) -> bytes:
    sock.close()
    loop.run_until_complete(receiver.done)
    return bytes(receiver.data)


def test_sock_sendfile(sock_loop: Any, sock_connect: Any, file: IO[bytes]) -> None:
    sock, receiver = sock_connect()
    forget_last_transfer()
    ret = sock_loop.run_until_complete(sock_loop.sock_sendfile(sock, file))
    assert zcopy.last_transfer().method in LOCAL_ROUTES
    assert close_and_receive(sock_loop, sock, receiver) == DATA
    assert (ret, file.tell()) == (len(DATA), len(DATA))


def test_sock_sendfile_with_offset_and_count(
    sock_loop: Any, sock_connect: Any, file: IO[bytes]
) -> None:
    sock, receiver = sock_connect()
    ret = sock_loop.run_until_complete(sock_loop.sock_sendfile(sock, file, 1000, 2000))
    assert close_and_receive(sock_loop, sock, receiver) == DATA[1000:3000]
    assert (ret, file.tell()) == (2000, 3000)


def test_sock_sendfile_zero_size(sock_loop: Any, sock_connect: Any, tmp_path: Path) -> None:
    sock, receiver = sock_connect()
    with open(tmp_path / "empty", "w+b") as empty:
        assert sock_loop.run_until_complete(sock_loop.sock_sendfile(sock, empty)) == 0
        assert empty.tell() == 0
    assert close_and_receive(sock_loop, sock, receiver) == b""


def test_sock_sendfile_mix_with_regular_send(
    sock_loop: Any, sock_connect: Any, file: IO[bytes]
) -> None:
    buf = b"mix_regular_send" * (4 * 1024)
    sock, receiver = sock_connect()
    sock_loop.run_until_complete(sock_loop.sock_sendall(sock, buf))
    ret = sock_loop.run_until_complete(sock_loop.sock_sendfile(sock, file))
    sock_loop.run_until_complete(sock_loop.sock_sendall(sock, buf))
    assert close_and_receive(sock_loop, sock, receiver) == buf + DATA + buf
    assert (ret, file.tell()) == (len(DATA), len(DATA))


@pytest.mark.parametrize(
    "make_source", [lambda: io.BytesIO(DATA), object], ids=["BytesIO", "object"]
)
def test_sock_sendfile_not_a_regular_file(
    sock_loop: Any, sock_connect: Any, make_source: Callable[[], Any]
) -> None:
    sock, receiver = sock_connect()
    source = make_source()
    with pytest.raises(asyncio.SendfileNotAvailableError, match="not a regular file"):
        sock_loop.run_until_complete(sock_loop.sock_sendfile(sock, source, fallback=False))
    if isinstance(source, io.BytesIO):
        ret = sock_loop.run_until_complete(sock_loop.sock_sendfile(sock, source, 0, 5000))
        assert close_and_receive(sock_loop, sock, receiver) == DATA[:5000]
        assert (ret, source.tell()) == (5000, 5000)


def test_sock_sendfile_cancelled(sock_loop: Any, sock_connect: Any, file: IO[bytes]) -> None:
    sock, receiver = sock_connect()

    async def cancel_midway() -> None:
        receiver.transport.pause_reading()
        task = asyncio.ensure_future(sock_loop.sock_sendfile(sock, file))
        while file.tell() == 0 and zcopy.last_transfer().bytes == 0:
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        receiver.transport.resume_reading()
        await sock_loop.sock_sendall(sock, b"AFTER")  # no writer left behind

    forget_last_transfer()
    sock_loop.run_until_complete(cancel_midway())
    position = file.tell()
    assert 0 < position < len(DATA)
    assert close_and_receive(sock_loop, sock, receiver) == DATA[:position] + b"AFTER"


def test_sock_sendfile_refuses_a_blocking_socket_in_debug_mode(
    sock_loop: Any, file: IO[bytes]
) -> None:
    sock_loop.set_debug(True)
    with socket.socket() as sock:
        with pytest.raises(ValueError, match="non-blocking"):
            sock_loop.run_until_complete(sock_loop.sock_sendfile(sock, file))


def test_sock_sendfile_refuses_datagram_sockets(sock_loop: Any, file: IO[bytes]) -> None:
    with socket.socket(type=socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        with pytest.raises(ValueError, match="SOCK_STREAM"):
            sock_loop.run_until_complete(sock_loop.sock_sendfile(sock, file))


def test_sendfile_function_on_eventloop_is_loop_sendfile(
    file: IO[bytes], monkeypatch: Any
) -> None:
    seen = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        sendfile = loop.sendfile

        async def spy(*args: Any, **kwargs: Any) -> int:
            seen.append(args)
            return await sendfile(*args, **kwargs)

        monkeypatch.setattr(loop, "sendfile", spy)
        receiver = Receiver(loop)
        server = await loop.create_server(lambda: receiver, "127.0.0.1", 0)
        transport, _ = await loop.create_connection(
            asyncio.Protocol, *server.sockets[0].getsockname()
        )
        assert await zcopy.asyncio.sendfile(transport, file, 0, 10) == 10
        transport.close()
        await receiver.done
        assert receiver.data == DATA[:10]
        server.close()
        await server.wait_closed()

    zcopy.asyncio.run(main())
    assert len(seen) == 1
