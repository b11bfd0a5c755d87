"""Across real hosts: a transfer and the selector between two network namespaces joined
by a veth pair (two hosts with their own addresses), when the machine allows creating them.

The addresses live only inside the two namespaces this test creates (and deletes); nothing
leaves the machine.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

NS_A, NS_B = f"zcpy-a-{os.getpid()}", f"zcpy-b-{os.getpid()}"
ADDR_A, ADDR_B = "10.201.7.1", "10.201.7.2"
PORT = 47101


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@pytest.fixture
def two_hosts():
    if os.geteuid() != 0:
        pytest.skip("needs root to create network namespaces")
    if shutil.which("ip") is None:
        pytest.skip("needs iproute2 (`ip`) to create network namespaces")
    try:
        ip("netns", "add", NS_A)
    except subprocess.CalledProcessError as e:
        pytest.skip(f"cannot create network namespaces here: {e.stderr.decode().strip()}")
    try:
        ip("netns", "add", NS_B)
        ip("link", "add", "zcva", "netns", NS_A, "type", "veth", "peer", "name", "zcvb", "netns", NS_B)
        for ns, dev, addr in ((NS_A, "zcva", ADDR_A), (NS_B, "zcvb", ADDR_B)):
            ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            ip("-n", ns, "link", "set", dev, "up")
            ip("-n", ns, "link", "set", "lo", "up")
        yield
    finally:
        for ns in (NS_A, NS_B):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


SERVER = f"""
    import hashlib, selectors, socket, sys
    import zcopy
    listener = socket.create_server(("{ADDR_B}", {PORT}))
    print("listening", flush=True)
    sel = zcopy.EpollSelector()
    sel.register(listener, selectors.EVENT_READ)
    digest, total, done = hashlib.sha256(), 0, False
    while not done:
        events = sel.select(20)
        if not events:
            sys.exit("no event in 20 s")
        for key, _ in events:
            if key.fileobj is listener:
                conn, _ = listener.accept()
                conn.setblocking(False)
                sel.register(conn, selectors.EVENT_READ, mode=zcopy.EDGE_TRIGGERED)
                continue
            while True:  # edge-triggered: read until it would block
                try:
                    chunk = key.fileobj.recv(1 << 20)
                except BlockingIOError:
                    break
                if not chunk:
                    done = True
                    break
                digest.update(chunk)
                total += len(chunk)
    print(total, digest.hexdigest(), flush=True)
"""

CLIENT = f"""
    import socket, sys
    import zcopy
    with open(sys.argv[1], "rb") as src, socket.create_connection(("{ADDR_B}", {PORT}), timeout=20) as s:
        sent = zcopy.transfer_all(src, 0, None, s)
        print(sent, zcopy.last_method(), flush=True)
"""


def test_transfer_and_selector_between_two_hosts(two_hosts, tmp_path):
    payload = os.urandom(8 << 20)
    path = tmp_path / "payload"
    path.write_bytes(payload)
    server = subprocess.Popen(
        ["ip", "netns", "exec", NS_B, sys.executable, "-c", textwrap.dedent(SERVER)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd="/",
    )
    try:
        assert server.stdout is not None
        assert server.stdout.readline().strip() == "listening"
        client = subprocess.run(
            ["ip", "netns", "exec", NS_A, sys.executable, "-c", textwrap.dedent(CLIENT), str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd="/",
        )
        assert client.returncode == 0, client.stderr
        assert client.stdout.split() == [str(len(payload)), "sendfile"]
        out, err = server.communicate(timeout=60)
        assert server.returncode == 0, err
        assert out.split() == [str(len(payload)), hashlib.sha256(payload).hexdigest()]
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
