"""Checks that every file which spells out zcopy's version agrees with the workspace Cargo.toml.

The workspace's `[workspace.package] version` is the one version number of a release: cargo gives
it to the crates (zc_version(), zcopy.__version__, the native side of ZeroCopy.nativeVersion())
and maturin to the wheel. The files below cannot read it, so `make dist` refuses to build when one
of them says something else. Prints the version on success.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cargo_version() -> str:
    with open(ROOT / "Cargo.toml", "rb") as f:
        return tomllib.load(f)["workspace"]["package"]["version"]


def found(path: str, pattern: str, flags: int = 0) -> list[str]:
    text = (ROOT / path).read_text(encoding="utf-8")
    return re.findall(pattern, text, flags)


def main() -> int:
    version = cargo_version()
    major, minor, patch = version.split("-")[0].split(".")
    checks = [
        # (file, what, the values found, the value wanted)
        ("jni-bridge/pom.xml", "the project's <version>",
         found("jni-bridge/pom.xml", r"<artifactId>zcopy</artifactId>\s*<version>([^<]+)</version>"), version),
        ("jni-bridge/bench/pom.xml", "the io.zcopy:zcopy dependency",
         found("jni-bridge/bench/pom.xml", r"<artifactId>zcopy</artifactId>\s*<version>([^<]+)</version>"), version),
        ("java-examples/pom.xml", "the zcopy.version property",
         found("java-examples/pom.xml", r"<zcopy\.version>([^<]+)</zcopy\.version>"), version),
        ("jni-bridge/java/src/main/java/io/zcopy/ZeroCopy.java", "ZeroCopy.VERSION",
         found("jni-bridge/java/src/main/java/io/zcopy/ZeroCopy.java", r'String VERSION = "([^"]+)"'), version),
        ("c-api/include/zcopy.h", "ZC_VERSION_MAJOR", found("c-api/include/zcopy.h", r"#define ZC_VERSION_MAJOR (\d+)"), major),
        ("c-api/include/zcopy.h", "ZC_VERSION_MINOR", found("c-api/include/zcopy.h", r"#define ZC_VERSION_MINOR (\d+)"), minor),
        ("c-api/include/zcopy.h", "ZC_VERSION_PATCH", found("c-api/include/zcopy.h", r"#define ZC_VERSION_PATCH (\d+)"), patch),
    ]
    # README's install section names the artifacts of this release.
    readme = found("README.md", r"(?:zcopy-|libzcopy0_|libzcopy-dev_|io\.zcopy:zcopy:|<version>)(\d+\.\d+\.\d+)")
    checks.append(("README.md", "the artifacts' names", sorted(set(readme)), version))
    bad = 0
    for path, what, values, wanted in checks:
        if values != [wanted]:
            print(f"{path}: {what} is {values or 'missing'}, Cargo.toml says {wanted}", file=sys.stderr)
            bad += 1
    if bad:
        print(f"versions: {bad} place(s) disagree with the workspace Cargo.toml ({version})", file=sys.stderr)
        return 1
    print(f"versions: {version} in Cargo.toml and in the {len(checks)} places that spell it out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
