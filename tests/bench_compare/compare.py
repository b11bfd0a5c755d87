"""`make bench-compare BASE=<rev>`: the per-call cost of each binding, this checkout against a
base revision built beside it, in one run.

    python3 tests/bench_compare/compare.py --base DIR [--rounds 3] [--calls 100000]

DIR is a checkout of the base revision on which `make c-build py-build java-build` ran. For each
binding the same program measures both builds, alternating base and head round by round, and
each figure is a ratio to the platform's own call in the same process (the raw `sendfile(2)`
loop, `os.sendfile`, the JDK's `transferTo`), so machine noise that hits a round hits both
builds alike. Prints Markdown: the median ratio per build and the change.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
JAVA17 = Path("/usr/lib/jvm/java-17-openjdk-amd64/bin/java")


def c_bench(checkout: Path, work: Path, calls: int) -> dict[str, float]:
    """zc_bench --calls-only built against `checkout`'s static library: ratio to raw sendfile."""
    exe = work / f"zc_bench-{checkout.name}"
    if not exe.exists():
        subprocess.run(
            ["cc", "-O2", "-D_GNU_SOURCE", f"-I{checkout}/c-api/include", "-o", str(exe),
             str(checkout / "c-api" / "bench" / "zc_bench.c"), str(checkout / "target" / "c-api" / "lib" / "libzcopy.a"),
             "-lgcc_s", "-lutil", "-lrt", "-lpthread", "-lm", "-ldl", "-lc"],
            check=True,
        )
    out = subprocess.run([str(exe), "--calls-only", "--calls", str(calls), "--dir", str(work)],
                         capture_output=True, text=True, check=True).stdout
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("zc_"):
            rows[f"C {cells[0]}"] = float(cells[2])
    return rows


def python_bench(checkout: Path, calls: int) -> dict[str, float]:
    """The Python per-call table (zcopy against os.sendfile) with `checkout`'s installed wheel."""
    py = checkout / ".venv" / "bin" / "python"
    script = checkout / "python" / "bench" / "bench.py"
    cmd = [str(py), str(script)] if script.exists() else [str(py), "-m", "zcopy.bench"]
    out = subprocess.run(cmd + ["--only", "calls", "--rounds", "3", "--calls", str(calls)], capture_output=True,
                         text=True, check=True, cwd="/").stdout
    rows = {}
    for line in out.splitlines():
        m = re.match(r"(4 KiB .*?)\s{2,}\d+ ns\s+\d+ ns\s+([\d.]+)x", line.strip())
        if m:
            rows[f"Python {m.group(1)}"] = float(m.group(2))
    return rows


def java_bench(checkout: Path, calls: int) -> dict[str, float]:
    """PerCall.java on JDK 17 with `checkout`'s jar: ZeroCopy.transferTo against the JDK's."""
    jar = checkout / "jni-bridge" / "target" / "zcopy.jar"
    out = subprocess.run([str(JAVA17), "--enable-native-access=ALL-UNNAMED", "-cp", str(jar),
                          str(HERE / "PerCall.java"), str(calls)], capture_output=True, text=True, check=True).stdout
    rows = {}
    for line in out.splitlines():
        name, ratio = line.rsplit(" ", 1)
        rows[f"Java {name}"] = float(ratio)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, type=Path, help="a built checkout of the base revision")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--calls", type=int, default=100_000)
    args = ap.parse_args()
    builds = {"base": args.base.resolve(), "head": ROOT}
    samples: dict[str, dict[str, list[float]]] = {"base": {}, "head": {}}
    with tempfile.TemporaryDirectory(prefix="zcopy-compare-") as tmp:
        work = Path(tmp)
        for _ in range(args.rounds):
            for name, checkout in builds.items():
                for bench in (lambda c: c_bench(c, work, args.calls), lambda c: python_bench(c, args.calls // 2),
                              lambda c: java_bench(c, args.calls)):
                    for row, ratio in bench(checkout).items():
                        samples[name].setdefault(row, []).append(ratio)
    base_rev = subprocess.run(["git", "-C", str(args.base), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
    head_rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
    print(f"Per-call cost of 4 KiB transfers as a ratio to the platform's own call in the same process "
          f"(lower is better), median of {args.rounds} alternating rounds; base {base_rev}, head {head_rev}.\n")
    print("| measurement | base × platform | head × platform | head ÷ base |")
    print("|---|---|---|---|")
    for row in samples["head"]:
        if row not in samples["base"]:
            continue
        b, h = statistics.median(samples["base"][row]), statistics.median(samples["head"][row])
        print(f"| {row} | {b:.2f}× | {h:.2f}× | {h / b:.2f} |")
    only_head = [r for r in samples["head"] if r not in samples["base"]]
    if only_head:
        print("\nMeasured for head only (new rows): "
              + ", ".join(f"{r} {statistics.median(samples['head'][r]):.2f}×" for r in only_head) + ".")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
