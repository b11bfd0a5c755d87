"""Checks that a wheel holds the `zcopy` package and its metadata, and nothing else (no tests,
benchmarks, runners or examples: those live in python/tests, python/bench, python/examples)."""

from __future__ import annotations

import sys
import zipfile

ALLOWED_TOP = {"zcopy"}


def main() -> int:
    (path,) = sys.argv[1:]
    names = zipfile.ZipFile(path).namelist()
    stray = [n for n in names if n.split("/", 1)[0] not in ALLOWED_TOP and ".dist-info/" not in n]
    stray += [n for n in names if any(part in ("tests", "bench", "examples") for part in n.split("/")[:-1])]
    if stray:
        print(f"{path}: files outside the zcopy package: {', '.join(sorted(stray))}", file=sys.stderr)
        return 1
    package = sorted(n for n in names if n.startswith("zcopy/"))
    print(f"wheel contents: {', '.join(package)} and the .dist-info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
