"""zcopy.asyncio's loops and how programs install them: ``zcopy.asyncio.run`` and
``new_event_loop`` (asyncio's and uvloop's flavours), ``asyncio.run(loop_factory=)``, the event
loop policy, and the lazy import that keeps ``import zcopy`` free of asyncio."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest

from conftest import run_child, uvloop_or_skip

import zcopy
import zcopy.asyncio


async def loop_type() -> type:
    return type(asyncio.get_running_loop())


def test_new_event_loop_and_run() -> None:
    assert zcopy.asyncio.run(loop_type()) is zcopy.asyncio.EventLoop
    loop = zcopy.asyncio.new_event_loop()
    try:
        assert isinstance(loop, asyncio.SelectorEventLoop)
        assert isinstance(loop._selector, zcopy.EpollSelector)  # type: ignore[attr-defined]
    finally:
        loop.close()
    with pytest.raises(ValueError, match="uvloop"):
        zcopy.asyncio.new_event_loop(base="tokio")


def test_uvloop_flavour() -> None:
    uvloop_or_skip()
    import uvloop

    assert zcopy.asyncio.run(loop_type(), base="uvloop") is zcopy.asyncio.UvloopEventLoop
    assert issubclass(zcopy.asyncio.UvloopEventLoop, uvloop.Loop)


def test_uvloop_missing_is_a_clear_error(monkeypatch: Any) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop raises ImportError
    zcopy.asyncio._uvloop_event_loop_class.cache_clear()
    try:
        with pytest.raises(ImportError, match="pip install uvloop"):
            zcopy.asyncio.new_event_loop(base="uvloop")
    finally:
        zcopy.asyncio._uvloop_event_loop_class.cache_clear()


@pytest.mark.skipif(sys.version_info < (3, 12), reason="asyncio.run(loop_factory=) is 3.12+")
def test_asyncio_run_with_loop_factory() -> None:
    got = asyncio.run(loop_type(), loop_factory=zcopy.asyncio.new_event_loop)  # type: ignore[call-arg]
    assert got is zcopy.asyncio.EventLoop


def test_policy() -> None:
    old = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(zcopy.asyncio.EventLoopPolicy())
    try:
        assert asyncio.run(loop_type()) is zcopy.asyncio.EventLoop
    finally:
        asyncio.set_event_loop_policy(old)


def test_zcopy_asyncio_is_imported_when_first_used_and_keeps_the_stdlib_apart() -> None:
    result = run_child(
        """
        import sys, zcopy
        assert "asyncio" not in sys.modules and "zcopy.asyncio" not in sys.modules
        loop = zcopy.asyncio.new_event_loop()   # imported here, by zcopy.__getattr__
        loop.close()
        import asyncio
        assert zcopy.asyncio._asyncio is asyncio and asyncio.__name__ == "asyncio"
        assert "uvloop" not in sys.modules      # the uvloop flavour is made when asked for
        """
    )
    assert result.returncode == 0, result.stderr
