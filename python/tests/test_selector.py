"""zcopy.EpollSelector: the selectors.BaseSelector contract (checked side by side with the
stdlib's EpollSelector), the extensions (edge-triggered, one-shot, wakeup), and asyncio."""

from __future__ import annotations

import asyncio
import gc
import os
import selectors
import socket
import threading
import time

import pytest

import zcopy

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
SELECTORS = [zcopy.EpollSelector, selectors.EpollSelector]


@pytest.fixture(params=SELECTORS, ids=["zcopy", "stdlib"])
def sel(request):
    s = request.param()
    yield s
    s.close()


def test_is_a_base_selector():
    with zcopy.EpollSelector() as s:
        assert isinstance(s, selectors.BaseSelector)
        assert s.fileno() >= 0


def test_register_select_unregister(sel, socket_pair):
    a, b = socket_pair
    key = sel.register(a, READ | WRITE, "data")
    assert isinstance(key, selectors.SelectorKey)
    assert key == selectors.SelectorKey(a, a.fileno(), READ | WRITE, "data")
    assert sel.get_key(a) is key and sel.get_key(a.fileno()) is key
    assert sel.select(0) == [(key, WRITE)]
    b.send(b"x")
    assert sel.select(0) == [(key, READ | WRITE)]
    assert sel.unregister(a) is key
    assert sel.select(0) == []
    with pytest.raises(KeyError):
        sel.get_key(a)


def test_error_cases_match_the_stdlib(sel, socket_pair, tmp_path):
    a, b = socket_pair
    for events in (0, 4, -1, READ | 8):
        with pytest.raises(ValueError, match="Invalid events"):
            sel.register(a, events)
    with pytest.raises(ValueError):
        sel.register(-1, READ)
    with pytest.raises(ValueError):
        sel.register(object(), READ)
    sel.register(a, READ)
    with pytest.raises(KeyError, match="already registered"):
        sel.register(a, WRITE)
    with pytest.raises(KeyError):
        sel.register(a.fileno(), WRITE)
    with pytest.raises(KeyError):
        sel.unregister(b)
    with pytest.raises(KeyError):
        sel.modify(b, READ)
    with pytest.raises(KeyError):
        sel.get_key(b)
    with open(tmp_path / "f", "w") as f, pytest.raises(PermissionError):
        sel.register(f, READ)  # epoll does not watch regular files
    assert len(sel.get_map()) == 1  # the failed registration left nothing behind


def test_unregister_after_the_descriptor_was_closed(sel):
    a, b = socket.socketpair()
    key = sel.register(a, READ)
    a.close()
    b.close()
    assert sel.unregister(a) is key  # found by identity, no OSError
    assert len(sel.get_map()) == 0


def test_modify_changes_events_and_data(sel, socket_pair):
    a, b = socket_pair
    key = sel.register(a, READ, "one")
    same = sel.modify(a, READ, "one")
    assert same == key
    key2 = sel.modify(a, WRITE, "two")
    assert key2.events == WRITE and key2.data == "two"
    assert sel.get_key(a) is key2
    assert sel.select(0) == [(key2, WRITE)]
    key3 = sel.modify(a, WRITE, "three")
    assert sel.select(0) == [(key3, WRITE)]


def test_get_map_is_a_live_mapping(sel, socket_pair):
    a, b = socket_pair
    m = sel.get_map()
    assert len(m) == 0
    ka = sel.register(a, READ)
    kb = sel.register(b.fileno(), WRITE)
    assert len(m) == 2 and set(m) == {a.fileno(), b.fileno()}
    assert m[a] is ka and m[b.fileno()] is kb and m.get(a) is ka
    assert a in m and 12345 not in m
    assert m.get(12345) is None
    with pytest.raises(KeyError):
        m[12345]
    sel.unregister(a)
    assert len(m) == 1


def test_close_makes_the_selector_unusable(sel, socket_pair):
    a, _ = socket_pair
    sel.register(a, READ)
    sel.close()
    assert sel.get_map() is None
    with pytest.raises(RuntimeError):
        sel.get_key(a)
    with pytest.raises(KeyError):
        sel.unregister(a)
    with pytest.raises((ValueError, OSError)):
        sel.select(0)
    sel.close()  # idempotent


def test_context_manager_closes(socket_pair):
    with zcopy.EpollSelector() as s:
        s.register(socket_pair[0], READ)
    assert s.get_map() is None


def test_timeouts(sel):
    r, w = os.pipe()
    try:
        sel.register(r, READ)
        for timeout, low, high in [(0, 0, 0.05), (-1, 0, 0.05), (0.05, 0.045, 0.5), (0.0004, 0.0003, 0.2)]:
            start = time.monotonic()
            assert sel.select(timeout) == []
            elapsed = time.monotonic() - start
            assert low <= elapsed <= high, (timeout, elapsed)
        os.write(w, b"x")
        assert [ev for _, ev in sel.select(None)] == [READ]
    finally:
        sel.unregister(r)
        os.close(r)
        os.close(w)


def test_hang_up_is_reported_as_read_and_write(sel):
    a, b = socket.socketpair()
    key = sel.register(a, READ | WRITE)
    b.close()
    ((got, events),) = sel.select(0)
    assert got is key and events == READ | WRITE
    key = sel.modify(a, READ)
    assert sel.select(0) == [(key, READ)]  # masked with the key's events
    sel.unregister(a)
    a.close()


def test_many_ready_descriptors(sel):
    pairs = [socket.socketpair() for _ in range(100)]
    try:
        keys = {sel.register(a, READ).fd for a, _ in pairs}
        for _, b in pairs[::2]:
            b.send(b"x")
        ready = sel.select(0)
        assert len(ready) == 50
        assert {k.fd for k, _ in ready} == {a.fileno() for a, _ in pairs[::2]}
        assert keys >= {k.fd for k, _ in ready}
    finally:
        for a, b in pairs:
            a.close()
            b.close()


# --- extensions ---------------------------------------------------------------------------


def test_edge_triggered_reports_changes_only(socket_pair):
    a, b = socket_pair
    with zcopy.EpollSelector() as s:
        key = s.register(a, READ, mode=zcopy.EDGE_TRIGGERED)
        assert s.get_mode(a) == zcopy.EDGE_TRIGGERED
        b.send(b"x")
        assert s.select(0) == [(key, READ)]
        assert s.select(0) == []  # still readable, but nothing changed
        b.send(b"y")
        assert s.select(0) == [(key, READ)]


def test_one_shot_reports_once_until_rearmed(socket_pair):
    a, b = socket_pair
    with zcopy.EpollSelector() as s:
        key = s.register(a, READ, "d", mode=zcopy.ONESHOT)
        b.send(b"x")
        assert s.select(0) == [(key, READ)]
        assert s.select(0) == []
        key = s.rearm(a)
        assert s.select(0) == [(key, READ)]
        s.modify(a, READ, "d")  # modify re-arms too
        assert s.select(0) == [(s.get_key(a), READ)]
        s.modify(a, READ, "d", mode=zcopy.LEVEL_TRIGGERED)
        assert s.get_mode(a) == zcopy.LEVEL_TRIGGERED
        assert len(s.select(0)) == 1 and len(s.select(0)) == 1
        with pytest.raises(ValueError, match="Invalid mode"):
            s.modify(a, READ, mode=64)


def test_exclusive_registration(socket_pair):
    a, b = socket_pair
    with zcopy.EpollSelector() as s:
        key = s.register(a, READ, mode=zcopy.EXCLUSIVE)
        b.send(b"x")
        assert s.select(0) == [(key, READ)]
        key = s.modify(a, READ | WRITE)  # registers again: epoll cannot modify EXCLUSIVE
        assert s.get_mode(a) == zcopy.EXCLUSIVE
        assert s.select(0) == [(key, READ | WRITE)]
        key = s.modify(a, READ, mode=zcopy.LEVEL_TRIGGERED)
        assert s.get_mode(a) == zcopy.LEVEL_TRIGGERED
        assert s.select(0) == [(key, READ)]


def test_wakeup_from_another_thread():
    with zcopy.EpollSelector() as s:
        threading.Timer(0.1, s.wakeup).start()
        start = time.monotonic()
        assert s.select(10) == []
        assert time.monotonic() - start < 5
        s.wakeup()
        assert s.select(None) == []  # a wakeup before select makes it return at once


def test_close_from_another_thread_ends_a_running_select():
    s = zcopy.EpollSelector()
    threading.Timer(0.1, s.close).start()
    start = time.monotonic()
    assert s.select(None) == []
    assert time.monotonic() - start < 5
    with pytest.raises(ValueError):
        s.select(0)


def test_select_on_the_main_thread_still_runs_signal_handlers():
    import signal

    hits = []
    old = signal.signal(signal.SIGUSR1, lambda *a: hits.append(1))
    try:
        with zcopy.EpollSelector() as s:
            threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGUSR1)).start()
            start = time.monotonic()
            assert s.select(0.5) == []
            assert hits == [1]
            assert time.monotonic() - start >= 0.45  # the handler ran; the wait went on

            def raising(*a):
                raise KeyboardInterrupt

            signal.signal(signal.SIGUSR1, raising)
            threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGUSR1)).start()
            with pytest.raises(KeyboardInterrupt):
                s.select(None)
    finally:
        signal.signal(signal.SIGUSR1, old)


def test_selector_is_collected_with_its_descriptor():
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(50):
        s = zcopy.EpollSelector()
        s.close()
        del s
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) <= before


def test_subclasses_can_override_select(socket_pair):
    class Counting(zcopy.EpollSelector):
        calls = 0

        def select(self, timeout=None):
            Counting.calls += 1
            return super().select(timeout)

    with Counting() as s:
        s.register(socket_pair[0], WRITE)
        assert len(s.select(0)) == 1
        assert Counting.calls == 1


# --- asyncio --------------------------------------------------------------------------------


def run_on_zcopy(main):
    with asyncio.Runner(loop_factory=lambda: asyncio.SelectorEventLoop(zcopy.EpollSelector())) as runner:
        return runner.run(main())


def test_asyncio_echo_server_and_client():
    async def handle(reader, writer):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def main():
        loop = asyncio.get_running_loop()
        assert isinstance(loop._selector, zcopy.EpollSelector)
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]

        async def client(n):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            payload = os.urandom(200_000) + str(n).encode()
            writer.write(payload)
            await writer.drain()
            writer.write_eof()
            echoed = await reader.read()
            writer.close()
            await writer.wait_closed()
            return echoed == payload

        results = await asyncio.wait_for(asyncio.gather(*(client(n) for n in range(20))), 30)
        server.close()
        await server.wait_closed()
        return results

    assert run_on_zcopy(main) == [True] * 20


def test_asyncio_timers_threads_and_sendfile(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(os.urandom(1 << 20))

    async def main():
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.sleep(0.05)
        assert loop.time() - start >= 0.04
        assert await loop.run_in_executor(None, lambda: 42) == 42  # wakes the loop via its self-pipe
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        with open(path, "rb") as f:
            send = asyncio.ensure_future(loop.sock_sendfile(a, f))
            got = bytearray()
            while len(got) < 1 << 20:
                got += await loop.sock_recv(b, 1 << 16)
            assert await send == 1 << 20
        a.close()
        b.close()
        return bytes(got)

    assert run_on_zcopy(main) == path.read_bytes()


def test_concurrent_selects_keep_their_own_timeouts():
    with zcopy.EpollSelector() as s:
        waiter = threading.Thread(target=s.select, args=(None,))
        waiter.start()
        time.sleep(0.05)  # the other thread now waits without a limit
        start = time.monotonic()
        assert s.select(0) == []
        assert s.select(0.1) == []
        assert time.monotonic() - start < 2
        s.wakeup()
        waiter.join(5)
        assert not waiter.is_alive()
