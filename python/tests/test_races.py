"""Races: transfers while other threads close the descriptors, a region closed while
other threads read it, select() while other threads register, unregister, wake and close, and
many threads splicing at once through core's per-thread pipes."""

from __future__ import annotations

import os
import random
import selectors
import socket
import threading
import time

import numpy as np

import zcopy
from conftest import Drain, pattern


def test_transfers_while_other_threads_close_and_reuse_descriptors(tmp_path, data_file):
    src = data_file(1 << 20)
    stop = time.monotonic() + 1.5
    errors: list[BaseException] = []
    strays: list[str] = []

    def worker(n: int) -> None:
        rng = random.Random(n)
        try:
            with open(src, "rb") as s:
                i = 0
                while time.monotonic() < stop:
                    i += 1
                    target = open(tmp_path / f"t{n}-{i}", "wb")
                    closer = threading.Timer(rng.random() * 0.002, target.close)
                    closer.start()
                    try:
                        zcopy.transfer_to(s, 0, 1 << 20, target)
                    except ValueError:
                        pass  # closed before the call took it: fileno() says so
                    closer.join()
                    # A new file that may get the same descriptor number: nothing may land in it.
                    bystander_path = tmp_path / f"b{n}-{i}"
                    with open(bystander_path, "wb") as bystander:
                        bystander.flush()
                    if bystander_path.stat().st_size:
                        strays.append(str(bystander_path))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert not strays


def test_a_closed_number_reused_during_the_call_is_never_written(tmp_path, data_file):
    # A blocking transfer works on duplicates: closing the caller's number and opening a new
    # file under it while the transfer waits sends nothing into the new file.
    src = data_file(4 << 20)
    a, b = socket.socketpair()
    number = a.fileno()
    result: list[object] = []

    def transfer():
        with open(src, "rb") as s:
            try:
                result.append(zcopy.transfer_all(s, 0, None, number))
            except OSError as e:
                result.append(e)

    t = threading.Thread(target=transfer)
    t.start()
    time.sleep(0.1)  # the transfer is blocked: nobody reads b yet
    a.close()  # the caller's number is closed ...
    reuse = os.open(tmp_path / "reuse", os.O_WRONLY | os.O_CREAT)  # ... and reused
    drain = Drain(b)
    drain.start()
    t.join(20)
    os.close(reuse)
    assert (tmp_path / "reuse").stat().st_size == 0
    drain.join(20)
    b.close()
    assert result and result[0] == 4 << 20, result
    assert drain.data == pattern(4 << 20)
    assert reuse == number or reuse != number  # (the number may or may not have been reused)


def test_region_closed_while_other_threads_read_it(data_file):
    for _ in range(20):
        region = zcopy.map(data_file(1 << 20), zcopy.READ_WRITE)
        view = memoryview(region)
        array = np.frombuffer(region, dtype=np.uint8)
        outcomes: list[str] = []

        def reader(kind: str) -> None:
            for _ in range(200):
                try:
                    if kind == "index":
                        region[random.randrange(1 << 20)]
                    elif kind == "slice":
                        region[0:65536]
                    elif kind == "view":
                        bytes(view[0:65536])
                    else:
                        int(array[::4096].sum())
                        array[5] = 1
                except ValueError:
                    outcomes.append("closed")
                    return
            outcomes.append("done")

        threads = [threading.Thread(target=reader, args=(k,)) for k in ("index", "slice", "view", "array")]
        for t in threads:
            t.start()
        region.close()
        for t in threads:
            t.join()
        assert len(outcomes) == 4
        assert bytes(view[:8]) == bytes(8)  # stale views read zeros
        view.release()
        del array


def test_select_while_others_register_unregister_wake_and_close():
    sel = zcopy.EpollSelector()
    pairs = [socket.socketpair() for _ in range(50)]
    stop = threading.Event()
    errors: list[BaseException] = []

    def churn(seed: int) -> None:
        rng = random.Random(seed)
        while not stop.is_set():
            a, b = rng.choice(pairs)
            try:
                sel.register(a, selectors.EVENT_READ | selectors.EVENT_WRITE)
            except KeyError:
                pass
            except ValueError:
                return  # closed
            try:
                b.send(b"x", socket.MSG_DONTWAIT)
            except BlockingIOError:
                pass
            try:
                sel.unregister(rng.choice(pairs)[0])
            except KeyError:
                pass
            sel.wakeup()

    def selector_loop() -> None:
        try:
            while not stop.is_set():
                for key, events in sel.select(0.01):
                    assert isinstance(key, selectors.SelectorKey) and events
        except ValueError:
            pass  # closed under us
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    workers = [threading.Thread(target=churn, args=(n,)) for n in range(3)]
    loops = [threading.Thread(target=selector_loop) for _ in range(2)]
    for t in workers + loops:
        t.start()
    time.sleep(0.5)
    sel.close()
    time.sleep(0.05)
    stop.set()
    for t in workers + loops:
        t.join(10)
    assert not errors, errors
    for a, b in pairs:
        a.close()
        b.close()


def test_many_threads_splicing_at_once(data_file):
    src = data_file(2 << 20)
    results: dict[int, bytes] = {}

    def worker(n: int) -> None:
        a, b = socket.socketpair()
        drain = Drain(b)
        drain.start()
        with open(src, "rb") as s:
            moved = zcopy.transfer_all(s, n * 1000, None, a, method="splice")
            assert zcopy.last_method() == "splice"
        a.close()
        drain.join(20)
        b.close()
        results[n] = drain.data
        assert moved == (2 << 20) - n * 1000

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for n, data in results.items():
        assert data == pattern((2 << 20) - n * 1000, n * 1000), n
    assert len(results) == 8
