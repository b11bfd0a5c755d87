"""zc_runner keeps the showcase's runner protocol (tests/showcase/README.md) and moves the right bytes.

    python3 c-api/tests/runner_check.py RUNNER

Runs every strategy of `--strategy list` to a file (compared with the source after each run,
also after a run overwrote a longer file in place) and to a loopback socket (the received bytes
hashed), two rounds each, and checks each JSON line: the fields, the byte count, the method
reported (the forced one; splice, copy_file_range or sendfile for zcopy:auto), and `--size 0`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from check_tally import Tally

FIELDS = {"lang", "strategy", "target", "round", "bytes", "wall_s", "cpu_s", "ctx", "method", "syscalls"}
TALLY = Tally("runner_check")
check = TALLY.check


class Sink:
    """Accepts connections and hashes what each one sends until it closes."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.digests: list[tuple[int, str]] = []
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        while True:
            conn, _ = self.listener.accept()
            threading.Thread(target=self.drain, args=(conn,), daemon=True).start()

    def drain(self, conn: socket.socket) -> None:
        h, n = hashlib.sha256(), 0
        with conn:
            while chunk := conn.recv(1 << 20):
                h.update(chunk)
                n += len(chunk)
        with self.lock:
            self.digests.append((n, h.hexdigest()))


def run(runner: str, *args: str) -> tuple[int, list[dict], str]:
    p = subprocess.run([runner, *args], capture_output=True, text=True, timeout=120)
    rows = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    return p.returncode, rows, p.stderr


def main() -> int:
    runner = sys.argv[1]
    work = Path(tempfile.mkdtemp(prefix="zc-runner-check-"))
    size = (8 << 20) + 12345
    src = work / "src.bin"
    data = os.urandom(size)
    src.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    sink = Sink()
    strategies = subprocess.run([runner, "--strategy", "list"], capture_output=True, text=True,
                                check=True).stdout.split()
    check(strategies[:2] == ["read/write-64k", "zcopy:auto"] and len(strategies) == 7, f"strategies: {strategies}")
    for strategy in strategies:
        for kind in ("file", "socket"):
            if kind == "socket" and strategy == "zcopy:copy_file_range":
                rc, _, err = run(runner, "--src", str(src), "--size", str(size), "--target",
                                 f"socket:127.0.0.1:{sink.port}", "--strategy", strategy, "--rounds", "1")
                check(rc == 1 and "ZC_ERR_UNSUPPORTED" in err, f"{strategy} to a socket says unsupported: {err}")
                continue
            dst = work / f"dst-{strategy.replace('/', '_').replace(':', '_')}.bin"
            if kind == "file":
                dst.write_bytes(b"\xff" * (size + 5000))  # longer: overwritten in place, not truncated
                target = f"file:{dst}"
            else:
                target = f"socket:127.0.0.1:{sink.port}"
                sink.digests.clear()
            rc, rows, err = run(runner, "--src", str(src), "--size", str(size), "--target", target,
                                "--strategy", strategy, "--rounds", "2")
            what = f"{strategy} → {kind}"
            check(rc == 0 and len(rows) == 2, f"{what}: exit {rc}, {len(rows)} rows, {err.strip()[-300:]}")
            for i, r in enumerate(rows):
                check(set(r) == FIELDS, f"{what}: fields {sorted(r)}")
                check(r["lang"] == "c" and r["strategy"] == strategy and r["target"] == kind and r["round"] == i,
                      f"{what}: identity {r}")
                check(r["bytes"] == size and r["wall_s"] > 0 and r["cpu_s"] >= 0 and r["ctx"] >= 0
                      and r["syscalls"] >= 1, f"{what}: numbers {r}")
                if strategy == "zcopy:auto":
                    # The planner's rules: splice between files on ext4 (copy_file_range on
                    # reflink file systems, sendfile on tmpfs), a copy from a mapping
                    # to a peer on this host (the sink is on loopback).
                    want = {"splice", "copy_file_range", "sendfile"} if kind == "file" else {"mmap+write"}
                elif strategy == "read/write-64k":
                    want = {"read/write"}
                    check(r["syscalls"] >= 2 * (size // 65536), f"{what}: the loop counts its calls {r}")
                else:
                    want = {strategy.split(":", 1)[1]}
                check(r["method"] in want, f"{what}: method {r['method']}, want {want}")
            if kind == "file":
                got = dst.read_bytes()
                check(got[:size] == data and got[size:] == b"\xff" * 5000, f"{what}: the copy differs")
            else:
                for _ in range(100):
                    with sink.lock:
                        if len(sink.digests) == 2:
                            break
                    threading.Event().wait(0.05)
                check(sink.digests == [(size, digest)] * 2, f"{what}: received {sink.digests}")
    for kind, target in (("file", f"file:{work / 'zero.bin'}"), ("socket", f"socket:127.0.0.1:{sink.port}")):
        rc, rows, err = run(runner, "--src", str(src), "--size", "0", "--target", target, "--strategy", "zcopy:auto",
                            "--rounds", "1")
        check(rc == 0 and len(rows) == 1 and rows[0]["bytes"] == 0, f"--size 0 to a {kind}: {rows} {err}")
    rc, _, err = run(runner, "--src", str(src), "--size", "1", "--target", "nowhere", "--strategy", "zcopy:auto",
                     "--rounds", "1")
    check(rc != 0 and "bad target" in err, "a bad target is refused")
    shutil.rmtree(work, ignore_errors=True)
    return TALLY.summary()


if __name__ == "__main__":
    sys.exit(main())
