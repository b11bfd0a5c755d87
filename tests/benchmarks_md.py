"""Writes one section of BENCHMARKS.md from a benchmark's printed output.

Every benchmark target (`make bench-core`, `bench-c`, `bench-python`, `bench-java`, `bench-http`,
`demo`, ...) prints its tables as Markdown; the Makefile keeps a copy of that output and calls

    python3 tests/benchmarks_md.py SECTION "make bench-x ARGS" OUTPUT_FILE [--title TITLE]

which replaces the section SECTION of BENCHMARKS.md (or appends it) with the output, headed by
the command, the date and the machine it ran on. Sections keep the order in which they first
appeared; the other sections are left as they are. So BENCHMARKS.md is generated, section by
section, and every figure in it names the command that produced it.

A README that shows a section's tables beside the feature they measure holds a generated copy
between `<!-- copy of BENCHMARKS.md: SECTION -->` and `<!-- end copy: SECTION -->`; each update
of SECTION rewrites those copies too (`--sync` rewrites every copy from BENCHMARKS.md as it is).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "BENCHMARKS.md"
# The documents that may hold generated copies of sections.
COPIES = [ROOT / "README.md", ROOT / "python" / "README.md", ROOT / "jni-bridge" / "README.md",
          ROOT / "c-api" / "README.md", ROOT / "java-examples" / "README.md"]

PREAMBLE = """# zcopy benchmarks

Generated: each section below is written by the command named in it (`tests/benchmarks_md.py`
replaces one section at a time), with the date and the machine it ran on. Nothing here is edited
by hand. Read ratios measured in the same run, not absolute figures: the machines are shared and
noisy, and single runs vary by 10-30 %.
"""


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f", {int(line.split()[1]) // (1024 * 1024)} GiB"
                break
    except (OSError, ValueError):
        pass
    return f"{cpu}, {os.cpu_count()} cores{mem}, Linux {platform.release()}"


def demote_headings(body: str, levels: int = 2) -> str:
    """A benchmark's own headings sit under the section's `##`: `#` becomes `###`."""
    out = []
    fenced = False
    for line in body.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and re.match(r"#{1,4} ", line):
            line = "#" * levels + line
        out.append(line)
    return "\n".join(out)


def section_text(name: str, title: str, command: str, body: str) -> str:
    date = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"<!-- section: {name} -->\n"
        f"## {title}\n\n"
        f"`{command}` — {date} — {machine()}\n\n"
        f"{demote_headings(body.strip())}\n"
        f"<!-- end: {name} -->\n"
    )


def replace_section(doc: str, name: str, text: str) -> str:
    pattern = re.compile(
        rf"<!-- section: {re.escape(name)} -->\n.*?<!-- end: {re.escape(name)} -->\n", re.S
    )
    if pattern.search(doc):
        return pattern.sub(lambda _m: text, doc, count=1)
    if not doc.endswith("\n"):
        doc += "\n"
    return doc + "\n" + text


def section_of(doc: str, name: str) -> str | None:
    m = re.search(rf"<!-- section: {re.escape(name)} -->\n(.*?)<!-- end: {re.escape(name)} -->\n", doc, re.S)
    return m.group(1) if m else None


def copy_text(section: str) -> str:
    """A section as a README holds it: without its `##` title, headings one level lower, and a
    pointer back to BENCHMARKS.md."""
    lines = section.splitlines()
    if lines and lines[0].startswith("## "):
        lines = lines[1:]
    body = demote_headings("\n".join(lines).strip(), levels=1)
    return f"{body}\n\n(Generated from [BENCHMARKS.md](BENCHMARKS.md), where the tables are kept.)\n"


def render_copies(doc: str, names: set[str] | None = None) -> dict[Path, str]:
    """The README files as they are with the generated copies of `names` (all when None)
    rewritten from `doc`."""
    out = {}
    marker = re.compile(r"(<!-- copy of BENCHMARKS\.md: ([\w-]+) -->\n).*?(<!-- end copy: \2 -->\n)", re.S)
    for path in COPIES:
        if not path.exists():
            continue

        def fill(m: re.Match[str], path: Path = path) -> str:
            name = m.group(2)
            section = section_of(doc, name)
            if section is None or (names is not None and name not in names):
                return m.group(0)
            rel = os.path.relpath(DOC, path.parent)
            body = copy_text(section).replace("(BENCHMARKS.md)", f"({rel})")
            return m.group(1) + body + m.group(3)

        out[path] = marker.sub(fill, path.read_text())
    return out


def sync_copies(doc: str, names: set[str] | None = None) -> list[Path]:
    """Rewrites the generated copies of `names` (all when None) in the README files."""
    changed = []
    for path, text in render_copies(doc, names).items():
        if text != path.read_text():
            path.write_text(text)
            changed.append(path)
    return changed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sync", action="store_true", help="only rewrite the READMEs' copies from BENCHMARKS.md")
    ap.add_argument("section", nargs="?", help="section key, e.g. bench-core")
    ap.add_argument("command", nargs="?", help="the command that produced the output")
    ap.add_argument("output", nargs="?", help="file with the benchmark's Markdown output")
    ap.add_argument("--title", help="the section's heading (default: the command)")
    ap.add_argument("--doc", default=str(DOC), help="the document to update")
    ap.add_argument("--pre", action="store_true", help="the output is plain text: keep it as a text block")
    args = ap.parse_args()
    if args.sync:
        for path in sync_copies(DOC.read_text()):
            print(f"{path.relative_to(ROOT)}: copies rewritten from BENCHMARKS.md")
        return
    if not (args.section and args.command and args.output):
        ap.error("SECTION, COMMAND and OUTPUT are required (or --sync)")
    body = Path(args.output).read_text()
    if args.pre:
        body = "```text\n" + body.rstrip() + "\n```"
    doc_path = Path(args.doc)
    doc = doc_path.read_text() if doc_path.exists() else PREAMBLE
    text = section_text(args.section, args.title or args.command, args.command, body)
    doc = replace_section(doc, args.section, text)
    doc_path.write_text(doc)
    print(f"BENCHMARKS.md: section {args.section} updated from {args.output}")
    if doc_path.resolve() == DOC.resolve():
        for path in sync_copies(doc, {args.section}):
            print(f"{path.relative_to(ROOT)}: its copy of {args.section} rewritten")


if __name__ == "__main__":
    main()
