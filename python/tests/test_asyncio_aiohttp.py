"""aiohttp's static files (``add_static``, served by ``FileResponse``, which calls
``loop.sendfile``) on zcopy's loops: byte-exact, ranges included, and moved by zcopy."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import forget_last_transfer, pattern, uvloop_or_skip

import zcopy
import zcopy.asyncio

aiohttp = pytest.importorskip("aiohttp", reason="aiohttp is not installed (pip install aiohttp)")
from aiohttp import web  # noqa: E402

SIZES = {"empty": 0, "4k.bin": 4096, "1m.bin": 1 << 20, "odd.bin": (1 << 20) + 4097}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("static")
    for i, (name, size) in enumerate(SIZES.items()):
        (root / name).write_bytes(pattern(size, start=i))
    return root


@pytest.fixture(params=["EventLoop", "uvloop"])
def loop(request: pytest.FixtureRequest) -> Iterator[asyncio.AbstractEventLoop]:
    if request.param == "uvloop":
        uvloop_or_skip()
    loop = zcopy.asyncio.new_event_loop(base=None if request.param == "EventLoop" else "uvloop")
    try:
        yield loop
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


async def serve_static(site: Path) -> tuple[web.AppRunner, int]:
    """Serves ``site`` under ``/static`` with ``add_static`` on a free port; returns the runner
    (``await runner.cleanup()`` stops it) and the port."""
    app = web.Application()
    app.router.add_static("/static", site)
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    return runner, tcp._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


async def serve_and_fetch(site: Path, requests: list[tuple[str, dict[str, str]]]) -> list[Any]:
    """Serves ``site`` and makes ``requests`` (path, headers) in order on one keep-alive
    connection; returns ``(status, headers, body, zcopy.last_transfer())``."""
    runner, port = await serve_static(site)
    results = []
    try:
        async with aiohttp.ClientSession() as session:
            for path, headers in requests:
                forget_last_transfer()
                async with session.get(f"http://127.0.0.1:{port}{path}", headers=headers) as r:
                    body = await r.read()
                    results.append((r.status, r.headers, body, zcopy.last_transfer()))
    finally:
        await runner.cleanup()
    return results


@pytest.mark.parametrize("name", list(SIZES))
def test_static_files_byte_exact(loop: Any, site: Path, name: str) -> None:
    [(status, headers, body, transfer)] = loop.run_until_complete(
        serve_and_fetch(site, [(f"/static/{name}", {})])
    )
    assert status == 200
    assert int(headers["Content-Length"]) == SIZES[name]
    assert body == (site / name).read_bytes()
    if SIZES[name]:
        # The server (this thread) sent with zcopy: the planner's route to a loopback peer
        # behind a non-blocking socket.
        assert transfer.method == "sendfile"
    else:
        assert transfer.method == "none"  # aiohttp sends no body


def test_static_ranges_and_keep_alive(loop: Any, site: Path) -> None:
    data = (site / "odd.bin").read_bytes()
    requests = [
        ("/static/odd.bin", {"Range": "bytes=100-4999"}),
        ("/static/odd.bin", {"Range": "bytes=-10"}),
        ("/static/odd.bin", {"Range": f"bytes={len(data) - 3}-"}),
        ("/static/4k.bin", {}),
        ("/static/odd.bin", {}),
    ]
    results = loop.run_until_complete(serve_and_fetch(site, requests))
    assert [r[0] for r in results] == [206, 206, 206, 200, 200]
    assert results[0][2] == data[100:5000]
    assert results[1][2] == data[-10:]
    assert results[2][2] == data[-3:]
    assert results[3][2] == (site / "4k.bin").read_bytes()
    assert results[4][2] == data
    assert all(r[3].method == "sendfile" for r in results)


def test_many_concurrent_requests(loop: Any, site: Path) -> None:
    async def main() -> list[tuple[str, bytes]]:
        runner, port = await serve_static(site)
        try:
            async with aiohttp.ClientSession() as session:

                async def get(name: str) -> bytes:
                    async with session.get(f"http://127.0.0.1:{port}/static/{name}") as r:
                        return await r.read()

                names = ["1m.bin", "4k.bin", "odd.bin"] * 8
                return list(zip(names, await asyncio.gather(*(get(n) for n in names))))
        finally:
            await runner.cleanup()

    for name, body in loop.run_until_complete(main()):
        assert body == (site / name).read_bytes()
