"""zcopy.asyncio: asyncio's sendfile through zcopy, on the standard event loop and on uvloop.

- ``EventLoop`` is asyncio's ``SelectorEventLoop`` on ``zcopy.EpollSelector`` whose
  ``loop.sock_sendfile`` and ``loop.sendfile`` move the bytes with zcopy transfers.
- ``await sendfile(transport, file, offset=0, count=None)`` does the same for a transport of
  any loop, uvloop's included; ``new_event_loop(base="uvloop")`` is uvloop's loop with that as
  its ``loop.sendfile`` (uvloop has none), so frameworks that call ``loop.sendfile`` (aiohttp's
  ``FileResponse``) get zero copy on uvloop unchanged.
- ``new_event_loop()``, ``run(main)`` and ``EventLoopPolicy`` install them:
  ``asyncio.run(main(), loop_factory=zcopy.asyncio.new_event_loop)`` on Python 3.12+.

asyncio's documented behaviour is kept: the return value (bytes of the file sent), the file
position afterwards (after the bytes sent, also on errors and cancellation), ``fallback=``,
``SendfileNotAvailableError`` when zero copy cannot start, TLS transports falling back to
reading and writing, the bytes written before and after arriving in order. After the await,
``zcopy.last_transfer()`` in the loop's thread reports the transfer's last kernel call.
"""

from __future__ import annotations

# The stdlib's asyncio: absolute imports never find this module, whose name it shares.
import asyncio as _asyncio
import errno
import functools
import io
import os
import socket
from collections.abc import Awaitable, Callable, Coroutine
from typing import IO, Any, TypeVar

from ._native import MAX_TRANSFER, last_transfer, transfer_to, transfer_with_header
from ._selector import EpollSelector

# Also ``UvloopEventLoop`` and ``EventLoopPolicy``, made when first used (``__getattr__``
# below), so that neither ``import *`` nor importing this module needs uvloop.
__all__ = ["EventLoop", "new_event_loop", "run", "sendfile"]

_T = TypeVar("_T")

#: The block size of the fallback for transports, as asyncio's ``_sendfile_fallback``.
_FALLBACK_BLOCK = 16384


def _file_descriptor(file: Any) -> int:
    """The descriptor of ``file``; ``SendfileNotAvailableError`` (asyncio's cue to fall back)
    for objects without one (``io.BytesIO``). Descriptors zcopy cannot send from (pipes,
    sockets, directories) fail the first transfer, which falls back too."""
    try:
        return file.fileno()  # type: ignore[no-any-return]
    except (AttributeError, io.UnsupportedOperation):
        raise _asyncio.SendfileNotAvailableError("not a regular file") from None


async def _send_file(
    fileno: int,
    offset: int,
    count: int | None,
    sock: Any,
    wait_writable: Callable[[], Awaitable[None]],
    header: bytes = b"",
) -> int:
    """The zero-copy send loop, shared by every entry point of this module.

    Sends ``count`` bytes (``None``: to the end) of the file ``fileno`` from ``offset`` on the
    non-blocking socket ``sock`` (a ``socket.socket`` tells zcopy that it cannot block without
    a system call; a descriptor or another object works too) with zcopy transfers, ``header``
    first in the same system call with ``MSG_MORE``, and awaits ``wait_writable()`` whenever
    the socket is full. Returns the bytes of the file sent.

    As asyncio's ``_sock_sendfile_native``: the file's position is left after the bytes sent
    (untouched when none went), also on errors and cancellation; a failure before any byte
    went is ``SendfileNotAvailableError``, the cue to fall back; ``ENOTCONN`` after some went
    is ``ConnectionError``.

    Each transfer stops at the end of the file as it is then, which ends the loop without an
    extra call to find it (so ``zcopy.last_transfer()`` keeps the last call that moved bytes).
    Nothing here releases the GIL for a small file but the final ``lseek``: the loop's thread
    does not wait for the executor's threads to hand the GIL back.
    """
    position = offset
    had_header = bool(header)
    try:
        while True:
            want = None if count is None else count - (position - offset)
            if header:
                header_sent, n = transfer_with_header(fileno, position, want, sock, header)
                header = header[header_sent:]
            else:
                n = transfer_to(fileno, position, want, sock)
            position += n
            # last_transfer()[2]: would_block, the socket is full (the header's part reports
            # nothing there, hence `header`).
            if header or (n != want and last_transfer()[2]):
                await wait_writable()
            elif n == want or n < MAX_TRANSFER:
                return position - offset  # count reached, or the end of the file
    except OSError as exc:
        if position == offset and not had_header:
            raise _asyncio.SendfileNotAvailableError(f"zcopy transfer failed: {exc}") from exc
        if exc.errno == errno.ENOTCONN and type(exc) is not ConnectionError:
            raise ConnectionError(errno.ENOTCONN, "socket is not connected") from exc
        raise
    finally:
        if position > offset:
            os.lseek(fileno, position, os.SEEK_SET)


def _set_done(future: _asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _Writability:
    """Awaits room in a socket's send buffer with ``loop.add_writer``.

    With a ``transport``, its reading is paused before the first wait (as asyncio's sendfile
    does: its protocol sees no data while the file goes; a transfer that never waits needs no
    pause) and resumed by ``close()``. Loops refuse ``add_writer`` on a descriptor one of their
    transports owns: ``EventLoop`` takes the transport out of its table meanwhile, as asyncio
    does; on other loops ``duplicate=True`` watches a duplicate, made at the first wait and
    closed by ``close()`` (epoll tells the two apart; both reach the same socket).
    """

    def __init__(
        self,
        loop: _asyncio.AbstractEventLoop,
        fd: int,
        transport: _asyncio.Transport | None = None,
        *,
        duplicate: bool = False,
    ) -> None:
        self._loop = loop
        self._fd = fd
        self._transport = transport
        self._duplicate = duplicate
        self._watched = -1
        self._resume_reading = False

    def start(self) -> None:
        """Pauses the transport's reading and makes the duplicate (once)."""
        if self._watched >= 0:
            return
        if self._transport is not None:
            self._resume_reading = self._transport.is_reading()
            self._transport.pause_reading()
        self._watched = os.dup(self._fd) if self._duplicate else self._fd

    async def wait(self) -> None:
        self.start()
        ready = self._loop.create_future()
        self._loop.add_writer(self._watched, _set_done, ready)
        try:
            await ready
        finally:
            self._loop.remove_writer(self._watched)

    def close(self) -> None:
        if self._duplicate and self._watched >= 0:
            os.close(self._watched)
        self._watched = -1
        if self._resume_reading:
            self._resume_reading = False
            self._transport.resume_reading()  # type: ignore[union-attr]


def _take_write_buffer(transport: Any) -> bytes:
    """The bytes a selector transport still holds, taken out of it (its writer unregistered)
    to go ahead of the body in one ``send`` with ``MSG_MORE``. Nothing is taken after
    ``write_eof()`` or a lost connection, where the transport's own flush must run."""
    buffer = transport._buffer  # bytearray in 3.11, a deque of buffers from 3.12
    if not buffer or transport._eof or transport._conn_lost:
        return b""
    held = bytes(buffer) if isinstance(buffer, bytearray) else b"".join(buffer)
    buffer.clear()
    transport._loop._remove_writer(transport._sock_fd)
    return held


class EventLoop(_asyncio.SelectorEventLoop):
    """asyncio's ``SelectorEventLoop`` on ``zcopy.EpollSelector``, whose ``sock_sendfile``
    and ``sendfile`` move the bytes with zcopy transfers (``sendfile(2)``, the GIL released
    for large pieces) on the non-blocking socket, waiting on the selector when it is full.

    Everything asyncio documents for the two methods holds; on top of it, bytes the transport
    still holds when ``sendfile`` starts leave in one system call with the start of the body
    (``MSG_MORE``) instead of being flushed on their own first, and the fallback for TLS
    transports and other files sends the right bytes on 3.12+ (see ``_write_blocks``).
    """

    def __init__(self, selector: Any = None) -> None:
        super().__init__(EpollSelector() if selector is None else selector)

    async def _sock_sendfile_native(
        self, sock: socket.socket, file: IO[bytes], offset: int, count: int | None
    ) -> int:
        fileno = _file_descriptor(file)
        wait = _Writability(self, sock.fileno()).wait
        return await _send_file(fileno, offset, count, sock, wait)

    async def _sendfile_native(
        self, transp: Any, file: IO[bytes], offset: int, count: int | None
    ) -> int:
        # asyncio's own (selector_events.py) sends through sock_sendfile once the transport is
        # empty; here the checks run first, so that the bytes it holds can be taken and sent
        # with the body.
        sock, fd = transp._sock, transp._sock_fd
        self._check_sendfile_params(sock, file, offset, count)
        fileno = _file_descriptor(file)
        header = _take_write_buffer(transp)
        writable = _Writability(self, fd, transp)
        del self._transports[fd]  # lets add_writer watch the transport's socket
        try:
            waiter = transp._make_empty_waiter()  # transp.write() now raises RuntimeError
            if header:
                transp._maybe_resume_protocol()
            if not waiter.done():
                writable.start()
                await waiter
            try:
                return await _send_file(fileno, offset, count, sock, writable.wait, header)
            except OSError as exc:
                if header:
                    # The held bytes may be lost: fail as the transport's own flush would.
                    transp._fatal_error(exc, "Fatal write error on socket transport")
                raise
        finally:
            writable.close()
            transp._reset_empty_waiter()
            self._transports[fd] = transp

    async def _sendfile_fallback(
        self, transp: Any, file: IO[bytes], offset: int, count: int | None
    ) -> int:
        return await _write_blocks(self, transp, file, offset, count)


async def _drain(transport: _asyncio.WriteTransport, writable: _Writability, limit: int) -> None:
    """Waits until ``transport`` holds at most ``limit`` bytes (it sends them as the socket
    takes them); ``ConnectionError`` once it is closing, as asyncio's fallback raises."""
    while True:
        if transport.is_closing():
            raise ConnectionError("Connection closed by peer")
        if transport.get_write_buffer_size() <= limit:
            return
        await writable.wait()


def _cork(sock: Any, on: bool) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, int(on))


async def _sendfile_zero_copy(
    loop: _asyncio.AbstractEventLoop, transport: Any, sock: Any, file: IO[bytes], offset: int,
    count: int | None,
) -> int:
    """``sendfile`` on a transport of any loop: drain it, pause its protocol's writing, send
    through its socket, resume."""
    fileno = _file_descriptor(file)
    sock_fd = sock.fileno()
    writable = _Writability(loop, sock_fd, transport, duplicate=True)
    # Bytes the transport holds leave ahead of the body; a TCP cork joins them to it.
    corked = transport.get_write_buffer_size() > 0 and sock.family in (
        socket.AF_INET,
        socket.AF_INET6,
    )
    if corked:
        _cork(sock, True)
    try:
        await _drain(transport, writable, 0)
        protocol = transport.get_protocol()
        protocol.pause_writing()
        try:
            return await _send_file(fileno, offset, count, sock, writable.wait)
        finally:
            protocol.resume_writing()
    finally:
        writable.close()
        if corked and sock.fileno() >= 0:
            _cork(sock, False)


async def _write_blocks(
    loop: _asyncio.AbstractEventLoop, transport: Any, file: IO[bytes], offset: int,
    count: int | None,
) -> int:
    """asyncio's fallback (``BaseEventLoop._sendfile_fallback``) for a transport of any loop:
    16 KiB blocks read in the default executor and written to the transport, waiting while it
    holds more than its high-water mark; the file's position is left after the bytes sent.

    Each block is a new ``bytes``: CPython 3.12+'s own fallback reads every block into one
    buffer, of which its transports keep views when the socket is full, so the peer gets
    later blocks' bytes in place of earlier ones.
    """
    writable = _Writability(loop, transport.get_extra_info("socket").fileno(), transport,
                            duplicate=True)  # fmt: skip
    writable.start()
    if offset:
        file.seek(offset)
    total = 0
    try:
        while count is None or total < count:
            block = min(_FALLBACK_BLOCK, count - total) if count else _FALLBACK_BLOCK
            data = await loop.run_in_executor(None, file.read, block)
            if not data:
                break
            await _drain(transport, writable, transport.get_write_buffer_limits()[1])
            transport.write(data)
            total += len(data)
        return total
    finally:
        writable.close()
        if total and hasattr(file, "seek"):
            file.seek(offset + total)


async def sendfile(
    transport: _asyncio.WriteTransport,
    file: IO[bytes],
    offset: int = 0,
    count: int | None = None,
    *,
    fallback: bool = True,
) -> int:
    """Sends ``file`` on ``transport`` with zcopy, whatever loop runs it: asyncio's
    ``loop.sendfile(transport, file, offset, count, fallback=fallback)`` for any loop,
    uvloop's included.

    The transport is drained first (bytes it holds leave ahead of the file, joined to it by
    a TCP cork), its reading is paused and its protocol's writing too (``pause_writing()``,
    the usual flow control: aiohttp's and asyncio's streams wait in ``drain()``), the file
    goes through its socket in zcopy transfers, waiting with ``loop.add_writer`` when the
    socket is full, and the transport resumes. Do not write to the transport meanwhile:
    only asyncio's own transports refuse writes during a sendfile.

    Returns the bytes of the file sent and leaves the file's position after them. TLS
    transports, and files that are not regular, take asyncio's fallback (read and write)
    unless ``fallback=False``, which raises ``RuntimeError`` or
    ``SendfileNotAvailableError`` as asyncio does. On ``zcopy.asyncio.EventLoop`` this is
    ``loop.sendfile``.
    """
    loop = _asyncio.get_running_loop()
    if isinstance(loop, EventLoop):
        return await loop.sendfile(transport, file, offset, count, fallback=fallback)
    if transport.is_closing():
        raise RuntimeError("Transport is closing")
    sock = transport.get_extra_info("socket")
    if sock is None or sock.type != socket.SOCK_STREAM:
        raise RuntimeError(f"sendfile is not supported for transport {transport!r}")
    check = _asyncio.BaseEventLoop._check_sendfile_params
    check(loop, sock, file, offset, count)  # type: ignore[arg-type]
    if transport.get_extra_info("ssl_object") is None:
        try:
            return await _sendfile_zero_copy(loop, transport, sock, file, offset, count)
        except _asyncio.SendfileNotAvailableError:
            if not fallback:
                raise
    elif not fallback:
        # asyncio raises RuntimeError here; SendfileNotAvailableError is one, and the one
        # newer asyncio raises (python/cpython#152099).
        raise _asyncio.SendfileNotAvailableError(
            f"fallback is disabled and native sendfile is not supported for transport "
            f"{transport!r}"
        )
    return await _write_blocks(loop, transport, file, offset, count)


@functools.cache
def _uvloop_event_loop_class() -> type[_asyncio.AbstractEventLoop]:
    try:
        import uvloop
    except ImportError as exc:
        raise ImportError(
            "zcopy.asyncio's uvloop flavour needs uvloop, which is not installed: "
            "pip install uvloop"
        ) from exc

    class UvloopEventLoop(uvloop.Loop):  # type: ignore[misc, name-defined]
        """uvloop's loop, with asyncio's ``sendfile`` and ``sock_sendfile`` (which uvloop
        lacks) through zcopy: ``loop.sendfile`` is ``zcopy.asyncio.sendfile``."""

        async def sendfile(
            self,
            transport: _asyncio.WriteTransport,
            file: IO[bytes],
            offset: int = 0,
            count: int | None = None,
            *,
            fallback: bool = True,
        ) -> int:
            return await sendfile(transport, file, offset, count, fallback=fallback)

        async def sock_sendfile(
            self,
            sock: socket.socket,
            file: IO[bytes],
            offset: int = 0,
            count: int | None = None,
            *,
            fallback: bool = True,
        ) -> int:
            # asyncio's BaseEventLoop.sock_sendfile, with zcopy as the native part; its
            # checks and fallback only use what every loop has.
            base = _asyncio.BaseEventLoop
            if self.get_debug() and sock.gettimeout() != 0:
                raise ValueError("the socket must be non-blocking")
            _asyncio.base_events._check_ssl_socket(sock)  # type: ignore[attr-defined]
            base._check_sendfile_params(self, sock, file, offset, count)  # type: ignore[arg-type]
            try:
                fileno = _file_descriptor(file)
                wait = _Writability(self, sock.fileno()).wait
                return await _send_file(fileno, offset, count, sock, wait)
            except _asyncio.SendfileNotAvailableError:
                if not fallback:
                    raise
            fallback_ = base._sock_sendfile_fallback
            return await fallback_(self, sock, file, offset, count)  # type: ignore[arg-type]

    UvloopEventLoop.__module__ = __name__
    UvloopEventLoop.__qualname__ = "UvloopEventLoop"
    return UvloopEventLoop


def new_event_loop(base: str | None = None) -> _asyncio.AbstractEventLoop:
    """A new event loop with zcopy's sendfile: ``EventLoop`` (asyncio's selector loop on
    ``zcopy.EpollSelector``), or with ``base="uvloop"`` uvloop's loop (``ImportError`` naming
    ``pip install uvloop`` when uvloop is missing). Fits ``asyncio.run(...,
    loop_factory=...)`` and ``asyncio.Runner(loop_factory=...)``."""
    if base is None:
        return EventLoop()
    if base == "uvloop":
        return _uvloop_event_loop_class()()
    raise ValueError(f"base must be None or 'uvloop', not {base!r}")


def run(
    main: Coroutine[Any, Any, _T], *, debug: bool | None = None, base: str | None = None
) -> _T:
    """``asyncio.run(main, debug=debug)`` on ``new_event_loop(base)`` (Python 3.11+; from
    3.12 ``asyncio.run(main, loop_factory=zcopy.asyncio.new_event_loop)`` is the same)."""
    if _asyncio._get_running_loop() is not None:
        raise RuntimeError("zcopy.asyncio.run() cannot be called from a running event loop")
    factory = functools.partial(new_event_loop, base)
    with _asyncio.Runner(debug=debug, loop_factory=factory) as runner:
        return runner.run(main)


@functools.cache
def _policy_class() -> type:
    # Made when first asked for: asyncio deprecates its policies in 3.14 (removal in 3.16),
    # and naming DefaultEventLoopPolicy there warns.
    class EventLoopPolicy(_asyncio.DefaultEventLoopPolicy):  # type: ignore[misc, name-defined]
        """asyncio's default policy, whose new loops are ``new_event_loop(base)``, for
        programs that set one: ``asyncio.set_event_loop_policy(EventLoopPolicy())``.
        Deprecated with asyncio's policies from Python 3.14: use ``loop_factory=``."""

        def __init__(self, base: str | None = None) -> None:
            super().__init__()
            self._base = base

        def new_event_loop(self) -> _asyncio.AbstractEventLoop:
            return new_event_loop(self._base)

    EventLoopPolicy.__module__ = __name__
    EventLoopPolicy.__qualname__ = "EventLoopPolicy"
    return EventLoopPolicy


def __getattr__(name: str) -> Any:
    # UvloopEventLoop needs uvloop; EventLoopPolicy is made when first used (see above).
    if name == "UvloopEventLoop":
        return _uvloop_event_loop_class()
    if name == "EventLoopPolicy":
        return _policy_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
