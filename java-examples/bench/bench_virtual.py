"""`make bench-java-virtual`: VirtualThreadFileServer (a virtual thread per connection, blocking
sockets) with zcopy bodies and with the JDK's FileChannel.transferTo, driven by wrk.

For a 4 KiB and a 1 MiB file: 64 and 1,000 connections, then 64 connections while 8 more clients
ask for a large file and read nothing (their sockets stay full). Each setting runs in --rounds
rounds, the two servers back to back (in turns: the first of a pair alternates), so that a change
in the machine's load hits both alike; the tables show medians, and the ratios are medians of the
rounds' ratios. Prints Markdown tables (requests/s, p99 latency, server CPU per request, the zcopy
server against the JDK one and against itself without the stalled clients) for
tests/benchmarks_md.py, writes the results as JSON, and prints progress on stderr. All traffic
stays on 127.0.0.1.

    JAVA=/path/to/jdk21+/bin/java python3 java-examples/bench/bench_virtual.py [--duration 8] [--rounds 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "http"))
import bench_http  # noqa: E402  (wrk's runner and parser, shared with make bench-http)
import servers  # noqa: E402

FILES = {"4k.bin": 4096, "1m.bin": 1 << 20}
BIG = "stall.bin"  # what the stalled clients ask for: more than their sockets and ours hold
CONNECTIONS = (64, 1000)
STALLED = 8
BODIES = ("zcopy", "jdk")


def spec(body: str) -> servers.ServerSpec:
    java = os.environ.get("JAVA", servers.JAVA)
    return servers.ServerSpec(f"vt-{body}", [java, "--enable-native-access=ALL-UNNAMED", "-cp",
                                             f"{servers.JAR}:{servers.EXAMPLES_JAR}",
                                             "io.zcopy.examples.VirtualThreadFileServer", "--body", body], body == "zcopy")


class Stalled:
    """Clients that ask for the large file and never read: their responses fill the sockets."""

    def __init__(self, port: int, n: int):
        self.socks = []
        for _ in range(n):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", port))
            s.sendall(f"GET /{BIG} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
            self.socks.append(s)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for s in self.socks:
            s.close()


def measure(run: servers.Running, f: str, connections: int, stalled: int, args) -> dict:
    settings = argparse.Namespace(threads=args.threads, connections=connections, duration=args.duration)
    if stalled:
        with Stalled(run.port, stalled):
            return bench_http.run_wrk(f"{run.base}/{f}", settings, [run.proc.pid])
    return bench_http.run_wrk(f"{run.base}/{f}", settings, [run.proc.pid])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default=str(ROOT / "target" / "bench" / "bench-java-virtual.json"))
    args = ap.parse_args()
    if not shutil.which("wrk"):
        print("wrk is not installed: run `make bench-java-virtual`, which installs it", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="zcopy-www-"))
    for name, size in FILES.items():
        (root / name).write_bytes(os.urandom(size))
    with open(root / BIG, "wb") as big:
        big.truncate(1 << 30)
    configs = [(f, c, 0) for f in FILES for c in CONNECTIONS] + [(f, CONNECTIONS[0], STALLED) for f in FILES]
    runs: dict[str, dict[str, list[dict]]] = {body: {} for body in BODIES}
    try:
        for i in range(args.rounds):
            for f, c, stalled in configs:
                key = f"{f}/{c}/{stalled}"
                for body in BODIES if i % 2 == 0 else BODIES[::-1]:
                    # A fresh server for each run: the JDK one does not recover from stalled
                    # clients until they go away, and no run should inherit another's state.
                    with servers.Running(spec(body), root) as run:
                        print(f"round {i + 1}: vt-{body}: {f}, {c} connections, {stalled} stalled ...", file=sys.stderr)
                        runs[body].setdefault(key, []).append(measure(run, f, c, stalled, args))
    finally:
        shutil.rmtree(root, ignore_errors=True)

    results = {body: {key: bench_http.median_of_rounds(v) for key, v in by_key.items()} for body, by_key in runs.items()}

    def ratio(body: str, key: str, other_body: str, other_key: str) -> str:
        return bench_http.round_ratio(runs[body][key], runs[other_body][other_key])

    print(f"wrk -t{args.threads} -d{args.duration}s (after a 2 s warm-up) on 127.0.0.1, {os.cpu_count()} cores shared "
          f"by wrk and the server; one virtual thread per connection on the JDK's default scheduler "
          f"(parallelism {os.cpu_count()}); medians of {args.rounds} rounds. \"+ {STALLED} stalled\": {STALLED} more clients ask for a 1 GiB file and read "
          f"nothing meanwhile. zcopy: bodies by ZeroCopy.transferTo; JDK: by FileChannel.transferTo in a loop.\n")
    for f in FILES:
        print(f"### {f}\n")
        print("| server | connections | requests/s | p99 ms | server CPU µs/request | × JDK server | × itself without stalled clients |")
        print("|---|---|--:|--:|--:|--:|--:|")
        for body in BODIES:
            for ff, c, stalled in configs:
                if ff != f:
                    continue
                key = f"{f}/{c}/{stalled}"
                r = results[body][key]
                flag = "" if not r["errors"] and not r["socket_errors"] else f" (errors: {r['errors']} {r['socket_errors']})"
                label = f"{c}" + (f" + {stalled} stalled" if stalled else "")
                print(f"| {'zcopy' if body == 'zcopy' else 'JDK transferTo'}{flag} | {label} | {r['rps']:.0f} | "
                      f"{r['p99'] * 1e3:.2f} | {r['cpu_us_per_request']:.1f} | "
                      f"{ratio(body, key, 'jdk', key) if body == 'zcopy' else '1.00×'} | "
                      f"{ratio(body, key, body, f'{f}/{c}/0') if stalled else '-'} |")
        print()
    print("Targets: with the stalled clients, the zcopy server keeps ≥ 0.8× of its own requests/s without them "
          "(the JDK server is the control); without them, the zcopy server ≥ 1.0× the JDK one.\n")
    for f in FILES:
        c = CONNECTIONS[0]
        stalled_key, own_key = f"{f}/{c}/{STALLED}", f"{f}/{c}/0"
        print(f"- {f}: stalled/unstalled zcopy {ratio('zcopy', stalled_key, 'zcopy', own_key)}, "
              f"JDK {ratio('jdk', stalled_key, 'jdk', own_key)}; zcopy/JDK "
              + ", ".join(f"{n} connections {ratio('zcopy', f'{f}/{n}/0', 'jdk', f'{f}/{n}/0')}" for n in CONNECTIONS))
    bench_http.write_json(args.json, {"settings": vars(args), "results": results, "rounds": runs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
