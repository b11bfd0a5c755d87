"""`make bench-http`: nginx, the three zcopy servers and the platform baselines, each driven by
wrk with the same settings, for a 4 KiB and a 1 MiB file, in --rounds rounds (every server once a
round, in turns: the order reverses each round, so that a change in the machine's load hits all
alike). The tables show each figure's median over the rounds, and each ratio is the median of the
rounds' ratios.

nginx is configured as someone tuning it for static files would: an open-file cache
(`open_file_cache`, since the zcopy servers keep their open files too; nginx trusts a cached
entry for 60 s, where they check it with one stat() per request), `tcp_nopush`, `tcp_nodelay`,
no access log, unlimited keep-alive. It runs twice, with `sendfile on` and with `sendfile off`
(read and writev: on loopback either can win); for each file the better of the two is the
anchor that every ratio is taken against, and both rows are printed.

Prints its tables as Markdown on stdout (requests/s, throughput, latency percentiles, server CPU
per request, ratio to the anchor), for tests/benchmarks_md.py to put into BENCHMARKS.md, and
writes the results as JSON; progress goes to stderr. All traffic stays on 127.0.0.1.

    python tests/http/bench_http.py [--duration 8] [--rounds 3] [--connections 64] [--threads 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import servers

FILES = {"4k.bin": 4096, "1m.bin": 1 << 20}

NGINX_CONF = """
worker_processes {workers};
user root;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile {sendfile};
    open_file_cache max=1000 inactive=60s;
    open_file_cache_valid 60s;
    open_file_cache_errors on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 65;
    default_type application/octet-stream;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port} reuseport;
        root {root};
    }}
}}
"""


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The nginx runs: result name -> the value of its sendfile directive.
NGINX_RUNS = {"nginx-sendfile-on": "on", "nginx-sendfile-off": "off"}


class Nginx:
    def __init__(self, root: Path, workers: int, sendfile: str = "on"):
        self.tmp = Path(tempfile.mkdtemp(prefix="zcopy-nginx-"))
        self.port = free_port()
        conf = self.tmp / "nginx.conf"
        conf.write_text(NGINX_CONF.format(workers=workers, tmp=self.tmp, port=self.port, root=root, sendfile=sendfile))
        self.proc = subprocess.Popen([shutil.which("nginx") or "/usr/sbin/nginx", "-c", str(conf), "-p", str(self.tmp)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        import socket
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("nginx did not start: " + self.proc.stderr.read().decode())
        self.base = f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGQUIT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
        shutil.rmtree(self.tmp, ignore_errors=True)


UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def parse_wrk(out: str) -> dict:
    def dur(s: str) -> float:
        m = re.match(r"([0-9.]+)(us|ms|s)", s)
        return float(m.group(1)) * UNITS[m.group(2)] if m else float("nan")

    res = {}
    m = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    res["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in ([0-9.]+)(s|m)", out)
    res["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Transfer/sec:\s+([0-9.]+)([KMG]?B)", out)
    if m:
        scale = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}[m.group(2)]
        res["bytes_per_s"] = float(m.group(1)) * scale
    for p in ("50", "90", "99"):
        m = re.search(rf"^\s+{p}(?:\.000)?%\s+(\S+)", out, re.M)
        res[f"p{p}"] = dur(m.group(1)) if m else float("nan")
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["errors"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", out)
    res["socket_errors"] = m.group(1).strip() if m else ""
    return res


def add_wrk_arguments(ap: argparse.ArgumentParser, duration: int) -> None:
    """The wrk settings that run_wrk reads from its `args`."""
    ap.add_argument("--duration", type=int, default=duration, help="seconds of each measured run")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)


def median_of_rounds(samples: list[dict]) -> dict:
    """One setting's figures over several rounds of it (run_wrk's results): each figure's median,
    the errors added up."""
    numbers = [k for k, v in samples[0].items() if isinstance(v, (int, float)) and k != "errors"]
    out: dict = {k: statistics.median(r[k] for r in samples) for k in numbers}
    out["errors"] = sum(r.get("errors", 0) for r in samples)
    out["socket_errors"] = "; ".join(r["socket_errors"] for r in samples if r.get("socket_errors"))
    return out


def round_ratio(a: list[dict], b: list[dict]) -> str:
    """The median of the rounds' ratios of requests/s (round i of `a` against round i of `b`)."""
    rs = [x["rps"] / y["rps"] for x, y in zip(a, b) if y["rps"]]
    return f"{statistics.median(rs):.2f}×" if rs else "n/a"


def write_json(path: str, data: dict) -> None:
    """Writes a benchmark's results as JSON to `path` (its folder made if need be), and says so on
    stderr."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(data, indent=2))
    print(f"\nresults written to {path}", file=sys.stderr)


def run_wrk(url: str, args, pids: list[int], during: AbstractContextManager | None = None) -> dict:
    """wrk against `url` (args.threads, args.connections, args.duration) after a 2 s warm-up, and
    the server's CPU per request: that of the processes `pids` and their children. `during` is
    entered around the measured run alone (c-api/bench/http_tune.py counts system calls so)."""
    subprocess.run(["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", "2s", url],
                   capture_output=True, check=True)  # warm-up: JIT, page cache, connection setup
    cpu0 = sum(servers.cpu_seconds(p) for p in pids)
    with during or nullcontext():
        out = subprocess.run(["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d",
                              f"{args.duration}s", "--latency", url], capture_output=True, text=True, check=True).stdout
    cpu = sum(servers.cpu_seconds(p) for p in pids) - cpu0
    res = parse_wrk(out)
    res["cpu_us_per_request"] = cpu / res["requests"] * 1e6 if res["requests"] else float("nan")
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    add_wrk_arguments(ap, duration=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--json", default=str(servers.ROOT / "build" / "bench-http.json"))
    ap.add_argument("--only", nargs="*",
                    help="server names to run (default: all available; nginx: both nginx runs)")
    args = ap.parse_args()
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            print(f"{tool} is not installed: run `make bench-http`, which installs it", file=sys.stderr)
            return 2
    root = Path(tempfile.mkdtemp(prefix="zcopy-www-"))
    os.chmod(root, 0o755)
    for name, size in FILES.items():
        (root / name).write_bytes(os.urandom(size))
    order = list(NGINX_RUNS) + [s.name for s in servers.specs()]

    def start(name: str) -> AbstractContextManager:
        """The server `name`, started (a fresh one each round); its `.base` and `.proc`."""
        if name in NGINX_RUNS:
            return Nginx(root, args.workers, NGINX_RUNS[name])
        return servers.Running(next(s for s in servers.specs() if s.name == name), root)

    wanted = [n for n in NGINX_RUNS if not args.only or "nginx" in args.only or n in args.only]
    for spec in servers.specs():
        if args.only and spec.name not in args.only:
            continue
        if spec.available:
            wanted.append(spec.name)
        else:
            print(f"{spec.name}: SKIPPED: {spec.why_not}", file=sys.stderr)
    runs: dict[str, dict[str, list[dict]]] = {name: {f: [] for f in FILES} for name in wanted}
    try:
        for i in range(args.rounds):
            for name in wanted if i % 2 == 0 else wanted[::-1]:
                with start(name) as server:
                    print(f"round {i + 1}: {name} on {server.base} ...", file=sys.stderr)
                    for f in FILES:
                        runs[name][f].append(run_wrk(f"{server.base}/{f}", args, [server.proc.pid]))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    results = {name: {f: median_of_rounds(v) for f, v in by_file.items()} for name, by_file in runs.items()}

    # The anchor of each file: the nginx run with more requests/s (medians).
    anchor: dict[str, str] = {}
    for f in FILES:
        nginx = [n for n in NGINX_RUNS if n in results]
        if nginx:
            anchor[f] = max(nginx, key=lambda n: results[n][f]["rps"])

    def label(name: str, f: str) -> str:
        if name not in NGINX_RUNS:
            return name
        text = f"nginx, sendfile {NGINX_RUNS[name]}"
        return f"**{text}** (anchor)" if anchor.get(f) == name else text

    print(f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s (after a 2 s warm-up) on 127.0.0.1, "
          f"{os.cpu_count()} cores shared by wrk and the server, medians of {args.rounds} rounds (ratios: the "
          f"median of the rounds' ratios); {args.workers} worker processes or loops per "
          f"server. nginx runs with `open_file_cache` and with `sendfile` on and off; for each file the better "
          f"of the two is the anchor (in bold) that the last column compares with.\n")
    for f in FILES:
        base = results[anchor[f]][f] if f in anchor else None
        print(f"### {f}\n")
        print("| server | requests/s | MiB/s | p50 ms | p90 ms | p99 ms | server CPU µs/request | × anchor requests/s |")
        print("|---|--:|--:|--:|--:|--:|--:|--:|")
        for name in order:
            r = results.get(name, {}).get(f)
            if not r:
                continue
            ratio = round_ratio(runs[name][f], runs[anchor[f]][f]) if base else "-"
            flag = "" if not r["errors"] and not r["socket_errors"] else f" (errors: {r['errors']} {r['socket_errors']})"
            print(f"| {label(name, f)}{flag} | {r['rps']:.0f} | {r.get('bytes_per_s', 0) / (1 << 20):.1f} | "
                  f"{r['p50'] * 1e3:.2f} | {r['p90'] * 1e3:.2f} | {r['p99'] * 1e3:.2f} | "
                  f"{r['cpu_us_per_request']:.1f} | {ratio} |")
        print()

    def ratio(a: str, b: str, f: str) -> str:
        return round_ratio(runs[a][f], runs[b][f]) if a in runs and b in runs else "n/a"

    print("Targets (requests/s): C within 10% of nginx (the anchor); Java ≥ 1.2× the JDK-only server; "
          "Python ≥ 1.5× asyncio sock_sendfile.\n")
    for f in FILES:
        print(f"- {f}: c-zcopy/nginx {ratio('c-zcopy', anchor.get(f, ''), f)}, "
              f"java-zcopy/java-jdk {ratio('java-zcopy', 'java-jdk', f)}, "
              f"python-zcopy/python-asyncio {ratio('python-zcopy', 'python-asyncio', f)}")
    write_json(args.json, {"settings": vars(args), "anchor": anchor, "results": results, "rounds": runs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
