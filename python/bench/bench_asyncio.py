"""`make bench-asyncio`: aiohttp's ``add_static`` serving a 4 KiB and a 1 MiB file on four
event loops (asyncio's default, uvloop, ``zcopy.asyncio.EventLoop`` and uvloop + zcopy),
each driven by wrk with the same settings on 127.0.0.1, in one run.

Prints Markdown: requests/s, p99 latency and server CPU per request for each loop and size
(medians of the rounds), and the ratios against their targets. Each server is one
process (aiohttp's usual shape); its CPU is read from /proc (every thread, aiohttp's executor
threads included).

    python python/bench/bench_asyncio.py [--duration 8] [--connections 64] [--threads 2]
                                         [--rounds 5]
    python python/bench/bench_asyncio.py --serve LOOP --root DIR    # one server (run by the above)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

FILES = {"4k.bin": 4096, "1m.bin": 1 << 20}
LABELS = {"4k.bin": "4 KiB", "1m.bin": "1 MiB"}
# name: what sends the files there. In pairs (baseline, zcopy), as TARGETS compares them.
LOOPS = {
    "asyncio": "asyncio's default loop: CPython's loop.sendfile (os.sendfile)",
    "zcopy": "zcopy.asyncio.EventLoop: loop.sendfile through zcopy",
    "uvloop": "uvloop: no loop.sendfile, so aiohttp reads the file in its executor and writes",
    "uvloop+zcopy": "zcopy.asyncio.new_event_loop(base=\"uvloop\"): loop.sendfile through zcopy",
}
# (ours, baseline, {file: target ratio of requests/s})
TARGETS = [
    ("uvloop+zcopy", "uvloop", {"4k.bin": 1.0, "1m.bin": 1.5}),
    ("zcopy", "asyncio", {"4k.bin": 1.0, "1m.bin": 1.0}),
]


# --- the server ---------------------------------------------------------------------------


def new_loop(name: str) -> asyncio.AbstractEventLoop:
    if name == "asyncio":
        return asyncio.new_event_loop()
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    import zcopy.asyncio

    return zcopy.asyncio.new_event_loop(base="uvloop" if name == "uvloop+zcopy" else None)


def serve(name: str, root: Path) -> None:
    """Serves ``root`` on a free port of 127.0.0.1, prints ``port N``, stops on SIGTERM and
    prints how this thread's last zcopy transfer went."""
    from aiohttp import web

    import zcopy

    loop = new_loop(name)
    asyncio.set_event_loop(loop)
    app = web.Application()
    app.router.add_static("/", root)
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"port {port}", flush=True)
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    loop.run_forever()
    loop.run_until_complete(runner.cleanup())
    loop.close()
    print(f"last transfer {zcopy.last_transfer().method}", flush=True)


# --- the driver ---------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the process ``pid`` (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def parse_wrk(out: str) -> dict[str, float]:
    res = {}
    m = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    res["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in", out)
    res["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"^\s+99(?:\.000)?%\s+([0-9.]+)(us|ms|s)", out, re.M)
    res["p99"] = float(m.group(1)) * UNITS[m.group(2)] if m else float("nan")
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["errors"] = int(m.group(1)) if m else 0
    return res


class Server:
    def __init__(self, name: str, root: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", name, "--root", str(root)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("port "):
            self.proc.kill()
            raise RuntimeError(f"the {name} server did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"
        self.last_method = "?"

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=30)
        m = re.search(r"last transfer (\S+)", out)
        self.last_method = m.group(1) if m else "?"


def wrk(url: str, args: argparse.Namespace, duration: float, pid: int) -> dict[str, float]:
    cpu0 = cpu_seconds(pid)
    out = subprocess.run(
        ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{duration:g}s",
         "--latency", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    res = parse_wrk(out)
    cpu = cpu_seconds(pid) - cpu0
    res["cpu_us"] = cpu / res["requests"] * 1e6 if res["requests"] else float("nan")
    return res


def versions() -> str:
    import aiohttp
    import uvloop

    return (
        f"Python {sys.version.split()[0]}, aiohttp {aiohttp.__version__}, "
        f"uvloop {uvloop.__version__}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=8)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5, help="rounds (medians are reported)")
    ap.add_argument("--serve", choices=list(LOOPS), help=argparse.SUPPRESS)
    ap.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, args.root)
        return 0

    runs: dict[str, dict[str, list[dict[str, float]]]] = {
        name: {f: [] for f in FILES} for name in LOOPS
    }
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="zcopy-bench-asyncio-") as tmp:
        root = Path(tmp)
        for f, size in FILES.items():
            (root / f).write_bytes(os.urandom(size))
        # All four servers run at once (an idle one costs nothing), so that the runs compared
        # follow each other closely: the machine's load drifts less between them.
        servers = {name: Server(name, root) for name in LOOPS}
        try:
            for name, server in servers.items():
                for f in FILES:
                    wrk(f"{server.url}/{f}", args, 1, server.proc.pid)  # warm-up
            for r in range(args.rounds):
                for f in FILES:
                    # Each pair compared runs back to back, baseline first in one round and
                    # zcopy first in the next, so that a drifting load favours neither.
                    for name in list(LOOPS) if r % 2 == 0 else list(reversed(LOOPS)):
                        server = servers[name]
                        res = wrk(f"{server.url}/{f}", args, args.duration, server.proc.pid)
                        runs[name][f].append(res)
                        print(
                            f"round {r + 1}: {name} {LABELS[f]}: {res['rps']:,.0f} requests/s, "
                            f"{res['cpu_us']:.0f} µs CPU/request",
                            file=sys.stderr, flush=True,
                        )  # fmt: skip
        finally:
            for server in servers.values():
                server.stop()

    def median(name: str, f: str, key: str) -> float:
        return statistics.median(run[key] for run in runs[name][f])

    rounds = f"median of {args.rounds} rounds" if args.rounds > 1 else "one round"
    print(
        f"aiohttp `add_static`, one server process per loop, `wrk -t{args.threads} "
        f"-c{args.connections} -d{args.duration:g}s --latency` on 127.0.0.1, {rounds} (the "
        f"pairs compared run back to back, in turns); wrk and the servers share "
        f"{os.cpu_count()} cores (load average {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after). {versions()}.\n"
    )
    print("| loop | file | requests/s | p99 | server CPU µs/request | sent by |")
    print("|---|---|---|---|---|---|")
    for name in LOOPS:
        for f in FILES:
            sent_by = (
                f"zcopy ({servers[name].last_method})" if "zcopy" in name else
                "os.sendfile" if name == "asyncio" else "read + write"
            )  # fmt: skip
            errors = sum(run["errors"] for run in runs[name][f])
            print(
                f"| {name} | {LABELS[f]} | {median(name, f, 'rps'):,.0f}"
                f"{f' ({errors:.0f} non-2xx)' if errors else ''} "
                f"| {median(name, f, 'p99') * 1e3:.1f} ms | {median(name, f, 'cpu_us'):.0f} "
                f"| {sent_by} |"
            )
    print("\nLoops: " + "; ".join(f"**{k}**: {v}" for k, v in LOOPS.items()) + ".\n")
    print(
        "Ratios of requests/s: the median of the rounds' ratios (each from runs one after "
        "the other), with the lowest and highest.\n"
    )
    print("| ratio | " + " | ".join(LABELS[f] for f in FILES) + " |")
    print("|---|" + "---|" * len(FILES))
    for ours, base, targets in TARGETS:
        cells = []
        for f in FILES:
            ratios = [o["rps"] / b["rps"] for o, b in zip(runs[ours][f], runs[base][f])]
            ratio = statistics.median(ratios)
            verdict = "met" if ratio >= targets[f] else "missed"
            cells.append(
                f"**{ratio:.2f}×** ({min(ratios):.2f}–{max(ratios):.2f}; target ≥ "
                f"{targets[f]:g}×: {verdict})"
            )
        print(f"| {ours} / {base} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
