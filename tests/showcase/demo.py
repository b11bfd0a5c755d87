"""`make demo`: what each zero-copy path buys in C, Java and Python, measured live on this machine.

Generates its own data, runs every strategy of every language's runner (see README.md) file → file
and file → loopback socket, prints the classic comparison table, shows copy_file_range sharing
blocks on a reflink-capable XFS image (where the machine allows it), ends with a zcopy file
server serving several files to Python and Java clients at once, and writes JSON and a PNG chart.

    python tests/showcase/demo.py [--size 1G] [--rounds 3] [--out build/demo] [--langs c,java,python]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "http"))
import servers  # noqa: E402  (the HTTP servers' launcher, shared with the HTTP tests)

GIB = float(1 << 30)
JAVA = os.environ.get("JAVA", shutil.which("java") or "java")
JAVA_NEW = os.environ.get("JAVA_NEW", "")
VENV_PY = ROOT / ".venv" / "bin" / "python"
C_RUNNER = ROOT / "c-api" / "build" / "zc_runner"
# shutil.copyfile timed inside its own process, printing a JSON line like the runners'.
SHUTIL_COPY = (
    "import json, shutil, sys, time\n"
    "t = time.perf_counter(); shutil.copyfile(sys.argv[1], sys.argv[2])\n"
    "print(json.dumps({'wall_s': time.perf_counter() - t, 'method': 'sendfile'}))"
)
JAR = servers.JAR
BENCH_JAR = servers.BENCH_JAR
# The Python runner: a script beside the package, not a module of the wheel.
PY_RUNNER = ROOT / "python" / "bench" / "runner.py"


def log(msg: str) -> None:
    print(f"[demo {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def parse_size(s: str) -> int:
    m = re.fullmatch(r"(\d+)([KMG]?)", s.strip().upper())
    if not m:
        raise argparse.ArgumentTypeError(f"bad size {s!r}")
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2)]


@dataclass
class Runner:
    lang: str
    command: list[str]
    available: bool
    why_not: str = ""

    def strategies(self) -> list[str]:
        out = subprocess.run(self.command + ["--strategy", "list"], capture_output=True, text=True, check=True)
        return [s for s in out.stdout.split() if s]


def runners(langs: list[str]) -> list[Runner]:
    py = str(VENV_PY) if VENV_PY.exists() else sys.executable
    all_ = {
        "c": Runner("c", [str(C_RUNNER)], C_RUNNER.exists(), f"{C_RUNNER} not built (make c-build)"),
        "java": Runner("java", [JAVA, "--enable-native-access=ALL-UNNAMED", "-cp", str(BENCH_JAR), "io.zcopy.bench.Runner"],
                       BENCH_JAR.exists(), f"{BENCH_JAR} not built (make java-bench-build)"),
        "python": Runner("python", [py, str(PY_RUNNER)], VENV_PY.exists(), "the venv is missing (make py-build)"),
    }
    return [all_[lang] for lang in langs]


class Sink:
    """A loopback TCP receiver that drains every connection with 1 MiB reads, in this process,
    so the receiving side's cost stays out of the runner being measured."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.received: list[int] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._drain, args=(conn,), daemon=True).start()

    def _drain(self, conn: socket.socket) -> None:
        buf = bytearray(1 << 20)
        total = 0
        with conn:
            while True:
                n = conn.recv_into(buf)
                if not n:
                    break
                total += n
        self.received.append(total)


def perf_ok() -> bool:
    if not shutil.which("perf"):
        return False
    r = subprocess.run(["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "--", "true"],
                       capture_output=True, text=True)
    return r.returncode == 0 and re.search(r"^\d+,", r.stderr, re.M) is not None


def perf_syscalls(cmd: list[str]) -> int | None:
    r = subprocess.run(["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "--"] + cmd,
                       capture_output=True, text=True)
    m = re.search(r"^(\d+),", r.stderr, re.M)
    return int(m.group(1)) if r.returncode == 0 and m else None


def run_rounds(runner: Runner, strategy: str, src: Path, size: int, target: str, rounds: int) -> list[dict]:
    cmd = runner.command + ["--src", str(src), "--size", str(size), "--target", target,
                            "--strategy", strategy, "--rounds", str(rounds)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{runner.lang} {strategy} {target}: {out.stderr.strip()[-1500:]}")
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    for r in rows:
        if r["bytes"] != size:
            raise RuntimeError(f"{runner.lang} {strategy}: moved {r['bytes']} of {size} bytes")
    return rows


def summarize(rows: list[dict]) -> dict:
    gib = rows[0]["bytes"] / GIB
    thr = [gib / r["wall_s"] for r in rows]
    return {
        "lang": rows[0]["lang"],
        "strategy": rows[0]["strategy"],
        "target": rows[0]["target"],
        "method": rows[0].get("method", "?"),
        "gibps_median": statistics.median(thr),
        "gibps_min": min(thr),
        "gibps_max": max(thr),
        "cpu_s_per_gib": statistics.median(r["cpu_s"] / gib for r in rows),
        "ctx_per_gib": statistics.median(r["ctx"] / gib for r in rows),
        "syscalls_per_gib_inproc": (statistics.median(r["syscalls"] / gib for r in rows)
                                    if all(r.get("syscalls") is not None for r in rows) else None),
    }


BASELINE = {"c": "read/write-64k", "java": "jdk:transferTo", "python": "os.sendfile"}


def fmt(v, spec: str) -> str:
    return "n/a" if v is None else format(v, spec)


def print_table(results: list[dict], target: str) -> None:
    title = "file → file" if target == "file" else "file → loopback TCP socket"
    print(f"\n## {title}\n")
    print("| language | strategy | method reported | GiB/s (median; min–max) | CPU s/GiB | syscalls/GiB "
          "| context switches/GiB | × platform baseline (throughput) | × baseline CPU |")
    print("|---|---|---|---|---|---|---|---|---|")
    for lang in ("c", "java", "python"):
        rows = [r for r in results if r["lang"] == lang and r["target"] == target]
        base = next((r for r in rows if r["strategy"] == BASELINE[lang]), None)
        for r in rows:
            # The runner's own count is exact (zcopy reports its calls; loops count theirs). perf's
            # whole-process count minus an empty run estimates the rest (marked ~): the JVM's
            # background threads make it rough for Java.
            if r.get("syscalls_per_gib_inproc") is not None:
                sc = fmt(r["syscalls_per_gib_inproc"], ".0f")
            elif r.get("syscalls_per_gib_perf") is not None:
                sc = "~" + fmt(r["syscalls_per_gib_perf"], ".0f")
            else:
                sc = "n/a"
            ratio = f"{r['gibps_median'] / base['gibps_median']:.2f}×" if base else "-"
            cratio = f"{r['cpu_s_per_gib'] / base['cpu_s_per_gib']:.2f}×" if base and base["cpu_s_per_gib"] else "-"
            mark = " (baseline)" if base is r else ""
            print(f"| {lang} | {r['strategy']}{mark} | {r['method']} | {r['gibps_median']:.2f} "
                  f"({r['gibps_min']:.2f}–{r['gibps_max']:.2f}) | {r['cpu_s_per_gib']:.3f} | {sc} | "
                  f"{r['ctx_per_gib']:.0f} | {ratio} | {cratio} |")
    if target == "socket":
        print("\nOn loopback the receiver copies every byte out of the socket anyway, so zero-copy sending saves "
              "the sender's copy (CPU/GiB) more than it raises throughput.")


def measure(args, src: Path, work: Path) -> list[dict]:
    results = []
    sink = Sink()
    counting = perf_ok() and not args.no_perf
    if not counting:
        log("perf cannot read raw_syscalls:sys_enter here: syscalls/GiB come from the runners' own counts")
    for runner in runners(args.langs):
        if not runner.available:
            log(f"{runner.lang}: SKIPPED: {runner.why_not}")
            continue
        strategies = runner.strategies()
        for target_kind in ("file", "socket"):
            for strategy in strategies:
                if target_kind == "socket" and ("copy_file_range" in strategy or "copyfile" in strategy):
                    continue  # file → file only
                target = (f"file:{work / 'copy.bin'}" if target_kind == "file"
                          else f"socket:127.0.0.1:{sink.port}")
                log(f"{runner.lang:6} {target_kind:6} {strategy}")
                rows = run_rounds(runner, strategy, src, args.size, target, args.rounds)
                s = summarize(rows)
                if counting and s["syscalls_per_gib_inproc"] is None:
                    cmd = runner.command + ["--src", str(src), "--target", target, "--strategy", strategy,
                                            "--rounds", "1"]
                    n_small = min(args.size, 256 << 20)
                    full = perf_syscalls(cmd + ["--size", str(n_small)])
                    empty = perf_syscalls(cmd + ["--size", "0"])
                    if full is not None and empty is not None:
                        s["syscalls_per_gib_perf"] = max(0, full - empty) * GIB / n_small
                results.append(s)
    return results


def reflink_section(args, work: Path) -> dict:
    """copy_file_range on a reflink-capable XFS image: blocks are shared, not copied."""
    print("\n## Reflink: file → file on XFS with reflink=1\n")
    why = None
    if os.geteuid() != 0:
        why = "not root (mounting a loop device needs it)"
    elif not shutil.which("mkfs.xfs"):
        why = "mkfs.xfs not installed (`apt-get install xfsprogs`; make demo installs it when it can)"
    elif not C_RUNNER.exists():
        why = "the C runner is not built"
    if why:
        print(f"SKIPPED: {why}")
        return {"skipped": why}
    img = work / "xfs.img"
    mnt = work / "xfs"
    mnt.mkdir(exist_ok=True)
    size = min(args.size, 400 << 20)
    with open(img, "wb") as f:
        # Sparse: room for the source and every real copy at once, plus the file system's own log.
        f.truncate((1 << 30) + 6 * size)
    mounted = False
    try:
        subprocess.run(["mkfs.xfs", "-q", "-f", "-m", "reflink=1", str(img)], check=True, capture_output=True)
        r = subprocess.run(["mount", "-o", "loop", str(img), str(mnt)], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"SKIPPED: cannot mount a loop device here: {r.stderr.strip()}")
            return {"skipped": r.stderr.strip()}
        mounted = True
        src = mnt / "src.bin"
        with open(src, "wb") as f:
            block = os.urandom(1 << 20)
            for _ in range(size >> 20):
                f.write(block)
        os.sync()
        rows = []

        def timed(label: str, cmd: list[str], dst: Path) -> None:
            """Runs one copy in its own process; the copy's own time comes from the JSON line it prints."""
            if dst.exists():
                dst.unlink()
            os.sync()
            t = time.perf_counter()
            r = subprocess.run(cmd, capture_output=True, text=True)
            wall = time.perf_counter() - t
            if r.returncode != 0:
                raise RuntimeError(f"{label} failed ({r.returncode}): {r.stderr.strip()[-2000:]}")
            last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else "{}"
            inside = json.loads(last)
            frag = subprocess.run(["filefrag", "-v", str(dst)], capture_output=True, text=True).stdout
            shared = "shared" in frag
            dst.unlink()  # real copies take room; the next one starts from the same free space
            rows.append({"who": label, "copy_ms": inside["wall_s"] * 1e3, "process_ms": wall * 1e3,
                         "method": inside.get("method"), "shared_extents": shared})

        py = str(VENV_PY) if VENV_PY.exists() else sys.executable
        c_cmd = [str(C_RUNNER), "--src", str(src), "--size", str(size), "--strategy", "zcopy:auto", "--rounds", "1",
                 "--target"]
        timed("zcopy transfer_to (C)", c_cmd + [f"file:{mnt / 'c.bin'}"], mnt / "c.bin")
        timed("zcopy.transfer_to (Python)", [py, str(PY_RUNNER), "--src", str(src), "--size", str(size),
                                            "--strategy", "zcopy:auto", "--rounds", "1", "--target",
                                            f"file:{mnt / 'p.bin'}"], mnt / "p.bin")
        timed("shutil.copyfile (CPython 3.11: sendfile)",
              [py, "-c", SHUTIL_COPY, str(src), str(mnt / "s.bin")], mnt / "s.bin")
        if BENCH_JAR.exists():
            java_cmd = ["--src", str(src), "--size", str(size), "--strategy", "jdk:transferTo", "--rounds", "1",
                        "--target"]
            timed("JDK 17 FileChannel.transferTo", [JAVA, "-cp", str(BENCH_JAR), "io.zcopy.bench.Runner"] + java_cmd
                  + [f"file:{mnt / 'j17.bin'}"], mnt / "j17.bin")
            if JAVA_NEW:
                timed(f"JDK {Path(JAVA_NEW).parents[1].name} FileChannel.transferTo",
                      [JAVA_NEW, "--enable-native-access=ALL-UNNAMED", "-cp", str(BENCH_JAR), "io.zcopy.bench.Runner"]
                      + java_cmd + [f"file:{mnt / 'jnew.bin'}"], mnt / "jnew.bin")
        print(f"{size >> 20} MiB file, written back before each copy; copy ms is the copy call alone, "
              "process ms includes start-up.\n")
        print("| copy by | method | copy ms | process ms | extents shared with the source (filefrag -v) |")
        print("|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['who']} | {r['method']} | {r['copy_ms']:.2f} | {r['process_ms']:.0f} | "
                  f"{'yes' if r['shared_extents'] else 'no'} |")
        return {"size": size, "rows": rows}
    finally:
        if mounted:
            subprocess.run(["umount", str(mnt)], capture_output=True)
        img.unlink(missing_ok=True)


def exchange_section(args, work: Path) -> dict:
    """A zcopy file server serving several files to Python and Java clients at once."""
    print("\n## A real exchange: zcopy file server → Python and Java clients over loopback\n")
    candidates = [args.server] + [n for n in ("java-zcopy", "c-zcopy", "python-zcopy") if n != args.server]
    spec = next((s for n in candidates for s in servers.specs() if s.name == n and s.available), None)
    if spec is None:
        why = "no zcopy HTTP server is built"
        print(f"SKIPPED: {why}")
        return {"skipped": why}
    site = work / "site"
    site.mkdir(exist_ok=True)
    files = {}
    for i, n in enumerate([4096, 1 << 20, 16 << 20, 64 << 20]):
        data = hashlib.sha256(str(i).encode()).digest() * (n // 32)
        (site / f"f{i}.bin").write_bytes(data)
        files[f"f{i}.bin"] = hashlib.sha256(data).hexdigest()
    py = str(VENV_PY) if VENV_PY.exists() else sys.executable
    results = []
    with servers.Running(spec, site) as run:
        procs = []
        for name in files:
            procs.append(("python", name, subprocess.Popen(
                [py, str(PY_RUNNER), "--fetch", f"{run.base}/{name}"], stdout=subprocess.PIPE, text=True)))
            if BENCH_JAR.exists():
                procs.append(("java", name, subprocess.Popen(
                    [JAVA, "--enable-native-access=ALL-UNNAMED", "-cp", str(BENCH_JAR), "io.zcopy.bench.Runner", "--fetch",
                     f"{run.base}/{name}"], stdout=subprocess.PIPE, text=True)))
        for lang, name, p in procs:
            out, _ = p.communicate(timeout=300)
            got = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
            ok = p.returncode == 0 and got.get("sha256") == files[name]
            results.append({"client": lang, "file": name, "bytes": got.get("bytes"), "ok": ok,
                            "method": got.get("method")})
    print(f"server: {spec.name} on loopback; {len(results)} downloads at once\n")
    print("| client | file | bytes | received with | sha256 matches |")
    print("|---|---|---|---|---|")
    for r in results:
        print(f"| {r['client']} | {r['file']} | {r['bytes']} | {r['method']} | {'yes' if r['ok'] else 'NO'} |")
    if not all(r["ok"] for r in results):
        raise RuntimeError("a client received wrong bytes")
    return {"server": spec.name, "downloads": results}


def chart(results: list[dict], path: Path) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib missing: no chart")
        return False
    fig, axes = plt.subplots(2, 2, figsize=(14, 9))
    for col, target in enumerate(("file", "socket")):
        rows = [r for r in results if r["target"] == target]
        labels = [f"{r['lang']} {r['strategy']}" for r in rows]
        colors = [{"c": "#4c72b0", "java": "#dd8452", "python": "#55a868"}[r["lang"]] for r in rows]
        ax = axes[0][col]
        ax.barh(labels, [r["gibps_median"] for r in rows], color=colors)
        ax.set_title(f"{'file → file' if target == 'file' else 'file → loopback socket'}: throughput (GiB/s)")
        ax.invert_yaxis()
        ax = axes[1][col]
        ax.barh(labels, [r["cpu_s_per_gib"] for r in rows], color=colors)
        ax.set_title("sender CPU seconds per GiB (lower is better)")
        ax.invert_yaxis()
        for a in (axes[0][col], axes[1][col]):
            a.tick_params(axis="y", labelsize=7)
    fig.suptitle("zcopy: zero-copy strategies per language (measured by make demo)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=parse_size, default=parse_size(os.environ.get("SIZE", "1G")))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "demo")
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    ap.add_argument("--langs", type=lambda s: s.split(","), default=["c", "java", "python"])
    ap.add_argument("--server", default="java-zcopy", help="which zcopy server the exchange uses")
    ap.add_argument("--no-perf", action="store_true", help="do not count system calls with perf")
    ap.add_argument("--skip", nargs="*", default=[], choices=["table", "reflink", "exchange"])
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="zcopy-demo-", dir=args.dir))
    report: dict = {"size": args.size, "rounds": args.rounds, "kernel": os.uname().release,
                    "cpus": os.cpu_count(), "dir": str(args.dir)}
    try:
        src = work / "data.bin"
        log(f"generating {args.size >> 20} MiB of data in {work} ...")
        with open(src, "wb") as f:
            block = hashlib.sha256(b"zcopy").digest() * (1 << 15)  # 1 MiB
            left = args.size
            while left:
                n = min(left, len(block))
                f.write(block[:n])
                left -= n
        with open(src, "rb") as f:  # into the page cache
            while f.read(1 << 24):
                pass
        print("# zcopy showcase\n")
        print(f"{args.size >> 20} MiB page-cached file in {args.dir}, {args.rounds} rounds per strategy, "
              f"kernel {os.uname().release}, {os.cpu_count()} CPUs. CPU = the sending thread's user+system time.")
        if "table" not in args.skip:
            results = measure(args, src, work)
            report["strategies"] = results
            print_table(results, "file")
            print_table(results, "socket")
            if chart(results, args.out / "demo.png"):
                print(f"\nchart: {args.out / 'demo.png'}")
        if "reflink" not in args.skip:
            report["reflink"] = reflink_section(args, work)
        if "exchange" not in args.skip:
            report["exchange"] = exchange_section(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    (args.out / "demo.json").write_text(json.dumps(report, indent=2))
    print(f"\nresults: {args.out / 'demo.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
