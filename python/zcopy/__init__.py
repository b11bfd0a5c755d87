"""zcopy: the Linux kernel's zero-copy I/O for Python.

- ``zcopy.map(file, mode=zcopy.READ_ONLY, position=0, size=None)`` maps any byte range of a file
  (no alignment rule, more than 2 GiB, size 0) as a ``MappedRegion`` with the buffer protocol.
  ``close()`` always succeeds, even while memoryviews exist, and a file truncated under a mapping
  raises ``zcopy.TruncatedError`` instead of killing the interpreter with SIGBUS.
- ``zcopy.transfer_to`` / ``transfer_from`` / ``transfer_all`` move bytes between files,
  sockets and pipes in the kernel (copy_file_range, sendfile, splice), with the GIL released;
  ``zcopy.last_method()`` names the path that ran, ``zcopy.last_transfer()`` tells the whole
  outcome (bytes, method, would_block, system calls). ``sendfile``, ``splice`` and ``tee`` are
  the single system calls.
- ``zcopy.EpollSelector`` is a ``selectors.BaseSelector`` with a select() in Rust, edge-triggered
  and one-shot registrations and ``wakeup()``; asyncio runs on it.
- ``zcopy.asyncio`` gives asyncio's ``loop.sendfile`` zero copy, on the standard loop and on
  uvloop (``asyncio.run(main(), loop_factory=zcopy.asyncio.new_event_loop)``).

Linux only. Importing zcopy installs a SIGBUS handler that only acts on faults inside zcopy
regions and passes every other SIGBUS on to the handler that was there before.
"""

from __future__ import annotations

from typing import NamedTuple

from . import _native
from ._native import (
    EDGE_TRIGGERED,
    EXCLUSIVE,
    LEVEL_TRIGGERED,
    MADV_DODUMP,
    MADV_DOFORK,
    MADV_DONTDUMP,
    MADV_DONTFORK,
    MADV_DONTNEED,
    MADV_FREE,
    MADV_HUGEPAGE,
    MADV_NOHUGEPAGE,
    MADV_NORMAL,
    MADV_POPULATE_READ,
    MADV_POPULATE_WRITE,
    MADV_RANDOM,
    MADV_REMOVE,
    MADV_SEQUENTIAL,
    MADV_WILLNEED,
    MAX_TRANSFER,
    ONESHOT,
    PRIVATE,
    READ_ONLY,
    READ_WRITE,
    SPLICE_F_MORE,
    SPLICE_F_MOVE,
    SPLICE_F_NONBLOCK,
    MapMode,
    MappedRegion,
    TruncatedError,
    __version__,
    last_method,
    map,
    page_size,
    sendfile,
    shared_memory,
    splice,
    tee,
    transfer_all,
    transfer_from,
    transfer_to,
    transfer_with_header,
)
from ._selector import EpollSelector


class Transfer(NamedTuple):
    """The outcome of this thread's last transfer, as ``last_transfer()`` returns it."""

    #: Bytes moved.
    bytes: int
    #: The kernel path that moved them (``last_method()``; ``"none"`` when nothing moved).
    method: str
    #: The non-blocking side (the target of ``transfer_to``, the source of ``transfer_from``)
    #: could not take or give more without blocking.
    would_block: bool
    #: The system calls the transfer made, probes and fallbacks included.
    syscalls: int


def last_transfer() -> Transfer:
    """The outcome of this thread's last ``transfer_to``, ``transfer_from`` or ``transfer_all``
    (and of the body part of ``transfer_with_header``): ``Transfer(bytes, method, would_block,
    syscalls)``. A failed transfer leaves the previous outcome in place."""
    return Transfer(*_native.last_transfer())


def __getattr__(name: str) -> object:
    # ``zcopy.asyncio`` is imported when first used, so that ``import zcopy`` stays free of
    # asyncio's import time.
    if name == "asyncio":
        import importlib

        return importlib.import_module(".asyncio", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: The names ``last_method()`` returns and ``method=`` accepts (besides ``"none"``), in the order
#: of the core's method table (so a method the core adds appears here by itself).
METHODS: tuple[str, ...] = _native.METHODS

__all__ = [
    "EDGE_TRIGGERED",
    "EXCLUSIVE",
    "LEVEL_TRIGGERED",
    "MADV_DODUMP",
    "MADV_DOFORK",
    "MADV_DONTDUMP",
    "MADV_DONTFORK",
    "MADV_DONTNEED",
    "MADV_FREE",
    "MADV_HUGEPAGE",
    "MADV_NOHUGEPAGE",
    "MADV_NORMAL",
    "MADV_POPULATE_READ",
    "MADV_POPULATE_WRITE",
    "MADV_RANDOM",
    "MADV_REMOVE",
    "MADV_SEQUENTIAL",
    "MADV_WILLNEED",
    "MAX_TRANSFER",
    "METHODS",
    "ONESHOT",
    "PRIVATE",
    "READ_ONLY",
    "READ_WRITE",
    "SPLICE_F_MORE",
    "SPLICE_F_MOVE",
    "SPLICE_F_NONBLOCK",
    "EpollSelector",
    "MapMode",
    "MappedRegion",
    "Transfer",
    "TruncatedError",
    "__version__",
    "last_method",
    "last_transfer",
    "map",
    "page_size",
    "sendfile",
    "shared_memory",
    "splice",
    "tee",
    "transfer_all",
    "transfer_from",
    "transfer_to",
    "transfer_with_header",
]
