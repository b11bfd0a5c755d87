"""zcopy.EpollSelector: a selectors.BaseSelector over zcopy's epoll core.

The bookkeeping (keys, the mapping, the stdlib's error cases) is the stdlib's, written again
here; ``select()`` runs in Rust (``zcopy._native.Epoll.select``), which waits with the GIL
released and builds the ``(key, events)`` list without a Python-level loop.
"""

from __future__ import annotations

import selectors
import threading
from collections.abc import Mapping
from typing import Any, Iterator

from . import _native
from ._native import EDGE_TRIGGERED, EXCLUSIVE, LEVEL_TRIGGERED, ONESHOT

__all__ = ["EpollSelector"]

_EVENTS = selectors.EVENT_READ | selectors.EVENT_WRITE
_MODES = EDGE_TRIGGERED | ONESHOT | EXCLUSIVE

FileObj = Any  # an int descriptor, or an object with fileno()


def _fileobj_to_fd(fileobj: FileObj) -> int:
    """The descriptor number of ``fileobj``, with the stdlib's ``ValueError`` cases."""
    if isinstance(fileobj, int):
        fd = fileobj
    else:
        try:
            fd = int(fileobj.fileno())
        except (AttributeError, TypeError, ValueError):
            raise ValueError(f"Invalid file object: {fileobj!r}") from None
    if fd < 0:
        raise ValueError(f"Invalid file descriptor: {fd}")
    return fd


class _SelectorMapping(Mapping[FileObj, selectors.SelectorKey]):
    """The read-only view returned by ``get_map()``: file object or fd -> SelectorKey."""

    def __init__(self, selector: EpollSelector) -> None:
        self._selector = selector

    def __len__(self) -> int:
        return len(self._selector._fd_to_key)

    def get(self, fileobj: FileObj, default: Any = None) -> Any:
        fd = self._selector._fileobj_lookup(fileobj)
        return self._selector._fd_to_key.get(fd, default)

    def __getitem__(self, fileobj: FileObj) -> selectors.SelectorKey:
        fd = self._selector._fileobj_lookup(fileobj)
        key = self._selector._fd_to_key.get(fd)
        if key is None:
            raise KeyError(f"{fileobj!r} is not registered")
        return key

    def __iter__(self) -> Iterator[int]:
        return iter(self._selector._fd_to_key)


class EpollSelector(selectors.BaseSelector):
    """An epoll selector with the whole ``selectors.BaseSelector`` contract, a faster
    ``select()``, edge-triggered and one-shot registrations, and ``wakeup()``.

    Drop-in for ``selectors.EpollSelector`` and for asyncio::

        loop = asyncio.SelectorEventLoop(zcopy.EpollSelector())
        asyncio.run(main(), loop_factory=lambda: asyncio.SelectorEventLoop(zcopy.EpollSelector()))

    ``register(..., mode=zcopy.EDGE_TRIGGERED)`` reports changes of readiness only (read or
    write until ``BlockingIOError`` before selecting again); ``mode=zcopy.ONESHOT`` reports a
    descriptor once, until ``modify()`` or ``rearm()`` arms it again; ``mode=zcopy.EXCLUSIVE``
    wakes only one of several selectors watching one descriptor.

    Unlike the stdlib's, it is thread-safe: ``register``, ``unregister``, ``modify`` and
    ``close`` may be called from any thread, also while another thread waits in ``select()``.
    """

    def __init__(self) -> None:
        self._fd_to_key: dict[int, selectors.SelectorKey] = {}
        self._modes: dict[int, int] = {}
        self._map: _SelectorMapping | None = _SelectorMapping(self)
        self._epoll = _native.Epoll(self._fd_to_key)
        # Registration changes are atomic (the mapping and epoll's set always agree) for threads
        # that register and unregister while another selects; select() takes no lock.
        self._changing = threading.Lock()
        if type(self).select is EpollSelector.select:
            # The hot path: calls go straight to Rust, with no Python frame in between.
            self.select = self._epoll.select  # type: ignore[method-assign]

    def _fileobj_lookup(self, fileobj: FileObj) -> int:
        """The fd of ``fileobj``; a registered object whose ``fileno()`` now fails (closed)
        is still found by identity, as in the stdlib."""
        try:
            return _fileobj_to_fd(fileobj)
        except ValueError:
            for key in self._fd_to_key.values():
                if key.fileobj is fileobj:
                    return key.fd
            raise

    def register(
        self, fileobj: FileObj, events: int, data: Any = None, *, mode: int = LEVEL_TRIGGERED
    ) -> selectors.SelectorKey:
        """Watches ``fileobj`` for ``events`` (``EVENT_READ | EVENT_WRITE``).

        ``ValueError`` for invalid events, modes or file objects; ``KeyError`` if already
        registered; ``OSError`` from epoll (``PermissionError`` for a regular file, ``EBADF``
        for a closed descriptor).
        """
        if (not events) or (events & ~_EVENTS):
            raise ValueError(f"Invalid events: {events!r}")
        if mode & ~_MODES:
            raise ValueError(f"Invalid mode: {mode!r}")
        key = selectors.SelectorKey(fileobj, self._fileobj_lookup(fileobj), events, data)
        with self._changing:
            if key.fd in self._fd_to_key:
                raise KeyError(f"{fileobj!r} (FD {key.fd}) is already registered")
            self._epoll.register(key.fd, events, mode)
            self._fd_to_key[key.fd] = key
            if mode:
                self._modes[key.fd] = mode
        return key

    def unregister(self, fileobj: FileObj) -> selectors.SelectorKey:
        """Stops watching ``fileobj`` and returns its key. ``KeyError`` if not registered; a
        descriptor closed meanwhile is not an error."""
        with self._changing:
            try:
                key = self._fd_to_key.pop(self._fileobj_lookup(fileobj))
            except KeyError:
                raise KeyError(f"{fileobj!r} is not registered") from None
            self._modes.pop(key.fd, None)
            self._epoll.unregister(key.fd)
        return key

    def modify(
        self, fileobj: FileObj, events: int, data: Any = None, *, mode: int | None = None
    ) -> selectors.SelectorKey:
        """Changes the events, data or mode of a registration (``mode=None`` keeps it), and
        re-arms a one-shot registration. ``KeyError`` if not registered."""
        with self._changing:
            try:
                key = self._fd_to_key[self._fileobj_lookup(fileobj)]
            except KeyError:
                raise KeyError(f"{fileobj!r} is not registered") from None
            if (not events) or (events & ~_EVENTS):
                raise ValueError(f"Invalid events: {events!r}")
            old_mode = self._modes.get(key.fd, LEVEL_TRIGGERED)
            new_mode = old_mode if mode is None else mode
            if new_mode & ~_MODES:
                raise ValueError(f"Invalid mode: {mode!r}")
            if events != key.events or new_mode != old_mode or new_mode & ONESHOT:
                try:
                    if (old_mode | new_mode) & EXCLUSIVE:
                        # epoll_ctl refuses EPOLL_CTL_MOD on (or to) an exclusive registration:
                        # register again instead.
                        self._epoll.unregister(key.fd)
                        self._epoll.register(key.fd, events, new_mode)
                    else:
                        self._epoll.modify(key.fd, events, new_mode)
                except BaseException:
                    # As the stdlib: a registration that epoll refuses to change is dropped.
                    self._fd_to_key.pop(key.fd, None)
                    self._modes.pop(key.fd, None)
                    raise
                if new_mode:
                    self._modes[key.fd] = new_mode
                else:
                    self._modes.pop(key.fd, None)
            if events != key.events or data != key.data:
                key = key._replace(events=events, data=data)
                self._fd_to_key[key.fd] = key
            return key

    def rearm(self, fileobj: FileObj) -> selectors.SelectorKey:
        """Arms a one-shot registration again with its current events and data."""
        key = self.get_key(fileobj)
        return self.modify(fileobj, key.events, key.data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        """Waits until some registered file objects are ready, or ``timeout`` seconds pass.

        ``None`` blocks; ``<= 0`` polls. Returns ``[(key, events), ...]`` (``[]`` after a
        timeout or ``wakeup()``). ``ValueError`` once closed.
        """
        return self._epoll.select(timeout)

    def wakeup(self) -> None:
        """Makes a running ``select()`` (or the next one) return ``[]`` at once; callable from
        any thread."""
        self._epoll.wakeup()

    def close(self) -> None:
        """Closes the selector: a ``select()`` running in another thread returns, later calls
        raise ``ValueError``, and ``get_map()`` returns ``None``."""
        with self._changing:  # a registration change finishes first; later ones see it closed
            self._epoll.close()
            self._fd_to_key.clear()
            self._modes.clear()
            self._map = None

    def get_key(self, fileobj: FileObj) -> selectors.SelectorKey:
        """The key of ``fileobj``; ``KeyError`` if not registered, ``RuntimeError`` once
        closed."""
        mapping = self._map
        if mapping is None:
            raise RuntimeError("Selector is closed")
        return mapping[fileobj]

    def get_map(self) -> Mapping[FileObj, selectors.SelectorKey] | None:  # type: ignore[override]
        """The registrations (file object or fd -> key); ``None`` once closed, as the stdlib's
        selectors return (typeshed's BaseSelector omits the ``None``)."""
        return self._map

    def get_mode(self, fileobj: FileObj) -> int:
        """The mode of a registration (``LEVEL_TRIGGERED``, or ``EDGE_TRIGGERED``/``ONESHOT``/
        ``EXCLUSIVE`` bits)."""
        return self._modes.get(self.get_key(fileobj).fd, LEVEL_TRIGGERED)

    def fileno(self) -> int:
        """The epoll descriptor."""
        return self._epoll.fileno()
