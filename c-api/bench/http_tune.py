"""`make bench-c-http`: what each of zc-http-server's choices is worth, against nginx, with wrk.

Runs nginx (the configuration of tests/http/bench_http.py with sendfile on: open_file_cache,
tcp_nopush, tcp_nodelay, reuseport, one worker per core) and zc-http-server in its default shape and with one choice
changed at a time, each driven by wrk with the same settings for the 4 KiB and the 1 MiB file.
Prints requests/s (× nginx), server CPU per request and system calls per request (counted by
`perf stat -e raw_syscalls:sys_enter` on the server's processes, where perf can read it).

    python c-api/bench/http_tune.py [--duration 5] [--repeat 3] [--connections 64] [--threads 2] [--only default cache-off]

With --repeat N, nginx and every variant run N times in turn (so that a change in the machine's
load hits all of them alike) and the tables show medians.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "http"))
import bench_http  # noqa: E402  (bench-http's harness: nginx configuration, wrk runner and parser)
import servers  # noqa: E402

# Name, extra arguments, what it changes from the default.
VARIANTS = [
    ("default", [], "one loop per core, SO_REUSEPORT listeners, file cache, header with MSG_MORE, TCP_NODELAY"),
    ("threads-1", ["--threads", "1"], "one event loop for both cores"),
    ("accept-shared", ["--accept", "shared"], "one listener in every loop with EPOLLEXCLUSIVE"),
    ("cache-off", ["--cache", "0"], "openat2 + fstat + close per request, as nginx without open_file_cache"),
    ("header-send", ["--header", "send"], "header with a plain send, then the body: two segments"),
    ("nodelay-off", ["--nodelay", "off"], "Nagle's algorithm left on"),
]


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


class SyscallCount:
    """`perf stat -e raw_syscalls:sys_enter` on the processes `pids` while the block runs; the
    number of system calls in `count` afterwards (None when perf printed none)."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.count: int | None = None

    def __enter__(self) -> "SyscallCount":
        self.perf = subprocess.Popen(["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "-p",
                                      ",".join(map(str, self.pids))], stderr=subprocess.PIPE, text=True)
        return self

    def __exit__(self, *exc) -> None:
        self.perf.send_signal(signal.SIGINT)
        _, err = self.perf.communicate()
        m = re.search(r"^(\d+),", err, re.M)
        self.count = int(m.group(1)) if m else None


def measure(url: str, args, pids: list[int]) -> dict:
    """bench_http's wrk run against url; with perf, the server's system calls per request too."""
    counter = SyscallCount(pids) if args.perf else None
    res = bench_http.run_wrk(url, args, pids, during=counter)
    res["syscalls"] = None
    if counter and counter.count is not None and res["requests"]:
        res["syscalls"] = counter.count / res["requests"]
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    bench_http.add_wrk_arguments(ap, duration=5)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--only", nargs="*", help="variant names (default: all)")
    ap.add_argument("--no-perf", dest="perf", action="store_false", help="do not count system calls")
    args = ap.parse_args()
    if args.perf:
        r = subprocess.run(["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "--", "true"],
                           capture_output=True, text=True)
        args.perf = r.returncode == 0 and re.search(r"^\d+,", r.stderr, re.M) is not None
    server = ROOT / "c-api" / "build" / "zc-http-server"
    if not server.exists():
        print(f"{server} is missing: make c-build", file=sys.stderr)
        return 2
    spec = servers.ServerSpec("c-zcopy", [str(server)], True)
    site = Path(tempfile.mkdtemp(prefix="zcopy-tune-"))
    os.chmod(site, 0o755)
    for name, size in bench_http.FILES.items():
        (site / name).write_bytes(os.urandom(size))
    runs: dict[tuple[str, str], list[dict]] = {}
    names = ["nginx"] + [n for n, _, _ in VARIANTS if not args.only or n in args.only]
    try:
        for rep in range(args.repeat):
            with bench_http.Nginx(site, os.cpu_count() or 1) as ng:
                print(f"[{rep + 1}/{args.repeat}] nginx ...", file=sys.stderr)
                pids = children(ng.proc.pid) or [ng.proc.pid]
                for f in bench_http.FILES:
                    runs.setdefault(("nginx", f), []).append(measure(f"{ng.base}/{f}", args, pids))
            for name, extra, _ in VARIANTS:
                if name not in names:
                    continue
                print(f"[{rep + 1}/{args.repeat}] zc-http-server {name} ...", file=sys.stderr)
                with servers.Running(spec, site, extra=extra) as run:
                    for f in bench_http.FILES:
                        runs.setdefault((name, f), []).append(measure(f"{run.base}/{f}", args, [run.proc.pid]))
    finally:
        shutil.rmtree(site, ignore_errors=True)

    def med(rs: list[dict], key: str):
        vals = [r[key] for r in rs if r.get(key) is not None]
        return statistics.median(vals) if vals else None

    print(f"\n# zc-http-server variants against nginx: wrk -t{args.threads} -c{args.connections} -d{args.duration}s "
          f"on 127.0.0.1, {os.cpu_count()} cores shared by wrk and the server"
          + (f"; medians of {args.repeat} runs each, taken in turn" if args.repeat > 1 else "") + "\n")
    what = {name: desc for name, _, desc in VARIANTS}
    what["nginx"] = "nginx-light, the configuration of tests/http/bench_http.py"
    for f in bench_http.FILES:
        base = med(runs[("nginx", f)], "rps")
        print(f"## {f}\n")
        print("| server | requests/s | × nginx | p99 ms | server CPU µs/request | syscalls/request | what changes |")
        print("|---|---:|---:|---:|---:|---:|---|")
        for name in names:
            rs = runs[(name, f)]
            rps, sc = med(rs, "rps"), med(rs, "syscalls")
            errors = sum(r["errors"] for r in rs)
            sock = "; ".join(r["socket_errors"] for r in rs if r["socket_errors"])
            err = "" if not errors and not sock else f" (errors: {errors} {sock})"
            print(f"| {name}{err} | {rps:.0f} | {rps / base:.2f} | {med(rs, 'p99') * 1e3:.2f} | "
                  f"{med(rs, 'cpu_us_per_request'):.1f} | {'n/a' if sc is None else f'{sc:.1f}'} | {what[name]} |")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
