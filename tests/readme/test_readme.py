"""Runs the examples of the top-level README.md as written: every fenced block preceded by a
`<!-- readme-run: LANG -->` marker is extracted and run (Python in this interpreter's venv, C
compiled against libzcopy, Java with the source launcher and the jar, Rust as a cargo example of
the core crate)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"<!-- readme-run: (\w+) -->\s*```\w*\n(.*?)```", re.S)


def blocks() -> list[tuple[str, str]]:
    return BLOCK.findall((ROOT / "README.md").read_text())


def test_every_language_has_a_runnable_example():
    assert sorted({lang for lang, _ in blocks()}) == ["c", "java", "python", "rust"]


@pytest.mark.parametrize("lang,code", blocks(), ids=[lang for lang, _ in blocks()])
def test_readme_example_runs(tmp_path, lang, code):
    if lang == "python":
        cmd = [sys.executable, "-c", code]
    elif lang == "c":
        lib = ROOT / "target" / "c-api" / "lib"
        if not (lib / "libzcopy.so").exists():
            pytest.skip("libzcopy not built (make c-build)")
        src = tmp_path / "example.c"
        src.write_text(code)
        exe = tmp_path / "example"
        subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-D_DEFAULT_SOURCE",
                        f"-I{ROOT / 'c-api' / 'include'}", str(src), f"-L{lib}", "-lzcopy",
                        f"-Wl,-rpath,{lib}", "-o", str(exe)], check=True)
        cmd = [str(exe)]
    elif lang == "java":
        jar = ROOT / "jni-bridge" / "target" / "zcopy.jar"
        if not jar.exists():
            pytest.skip("zcopy.jar not built (make java-build)")
        name = re.search(r"public class (\w+)", code).group(1)
        src = tmp_path / f"{name}.java"
        src.write_text(code)
        java = os.environ.get("JAVA", shutil.which("java") or "java")
        cmd = [java, "--enable-native-access=ALL-UNNAMED", "-cp", str(jar), str(src)]
    elif lang == "rust":
        examples = ROOT / "core" / "examples"
        examples.mkdir(exist_ok=True)
        target = examples / "readme.rs"
        target.write_text("// Written by tests/readme/test_readme.py from README.md; do not edit.\n" + code)
        try:
            cmd_build = ["cargo", "run", "--quiet", "-p", "zcopy", "--example", "readme"]
            r = subprocess.run(cmd_build, cwd=ROOT, capture_output=True, text=True, timeout=600)
        finally:
            target.unlink()
            if not any(examples.iterdir()):
                examples.rmdir()
        assert r.returncode == 0, r.stdout + r.stderr
        print(r.stdout)
        return
    else:
        pytest.fail(f"unknown language {lang}")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    print(r.stdout)


def test_the_readmes_benchmark_tables_are_generated_copies():
    """A README's copy of a BENCHMARKS.md section is what `tests/benchmarks_md.py --sync` writes
    from BENCHMARKS.md as it is: no figure in a README is edited by hand."""
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        import benchmarks_md
    finally:
        sys.path.pop(0)
    doc = (ROOT / "BENCHMARKS.md").read_text()
    stale = [str(p.relative_to(ROOT)) for p, text in benchmarks_md.render_copies(doc).items() if text != p.read_text()]
    assert not stale, f"run `python3 tests/benchmarks_md.py --sync`: {stale}"
    copies = sum(p.read_text().count("<!-- copy of BENCHMARKS.md:") for p in benchmarks_md.COPIES if p.exists())
    assert copies >= 2, "the asyncio and virtual-thread tables are shown beside their features"
