"""Prints the sizes of the artifacts in dist/ as a Markdown table, and fails when one is over its
target (issue 14: the JNI library and libzcopy.so at most 1.5 MB each, the wheel at most 1 MB).

    python3 packaging/sizes.py DIST VERSION C_STAGE

C_STAGE is the directory where packaging/libzcopy.sh staged the tarball (for the library files).
The "glibc" column is the newest GLIBC_ symbol version the library needs (objdump -T).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

MB = 1_000_000


def glibc(data: bytes) -> str:
    with tempfile.NamedTemporaryFile(suffix=".so") as f:
        f.write(data)
        f.flush()
        out = subprocess.run(["objdump", "-T", f.name], capture_output=True, text=True, check=True).stdout
    versions = {tuple(int(x) for x in v.split(".")) for v in re.findall(r"GLIBC_([0-9.]+)\b", out)}
    return "≥ " + ".".join(map(str, max(versions))) if versions else ""


def member(archive: Path, suffix: str) -> tuple[str, bytes]:
    with zipfile.ZipFile(archive) as z:
        (name,) = [n for n in z.namelist() if n.endswith(suffix)]
        return name, z.read(name)


def main() -> int:
    dist, version, stage = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    (wheel,) = dist.glob(f"zcopy-{version}-*.whl")
    maven = dist / "maven" / "io" / "zcopy" / "zcopy" / version
    jar = maven / f"zcopy-{version}.jar"
    lib_dir = stage / f"libzcopy-{version}-linux-x86_64" / "lib"
    ext_name, ext = member(wheel, ".abi3.so")
    jni_name, jni = member(jar, "libzcopy_jni.so")
    so = (lib_dir / f"libzcopy.so.{version}").read_bytes()

    rows = [
        # (artifact, file, size, target, glibc)
        ("Python wheel (abi3, CPython ≥ 3.11)", wheel.name, wheel.stat().st_size, 1.0, ""),
        ("… its extension module", ext_name, len(ext), None, glibc(ext)),
        ("Python sdist", f"zcopy-{version}.tar.gz", (dist / f"zcopy-{version}.tar.gz").stat().st_size, None, ""),
        ("Java jar (io.zcopy:zcopy)", f"maven/…/{jar.name}", jar.stat().st_size, None, ""),
        ("… its JNI library", jni_name, len(jni), 1.5, glibc(jni)),
        ("Java sources jar", f"maven/…/zcopy-{version}-sources.jar",
         (maven / f"zcopy-{version}-sources.jar").stat().st_size, None, ""),
        ("Java javadoc jar", f"maven/…/zcopy-{version}-javadoc.jar",
         (maven / f"zcopy-{version}-javadoc.jar").stat().st_size, None, ""),
        ("C tarball", f"libzcopy-{version}-linux-x86_64.tar.gz",
         (dist / f"libzcopy-{version}-linux-x86_64.tar.gz").stat().st_size, None, ""),
        ("… libzcopy.so", f"lib/libzcopy.so.{version}", len(so), 1.5, glibc(so)),
        ("… libzcopy.a", "lib/libzcopy.a", (lib_dir / "libzcopy.a").stat().st_size, None, ""),
    ]
    for deb in sorted(dist.glob("*.deb")):
        rows.append((f"Debian package {deb.name.split('_')[0]}", deb.name, deb.stat().st_size, None, ""))

    print("| artifact | file | size | target | needs glibc |")
    print("|---|---|---:|---:|---|")
    over = []
    for artifact, name, size, target, libc in rows:
        mark = ""
        if target is not None:
            mark = f"≤ {target} MB"
            if size > target * MB:
                over.append(f"{name}: {size / MB:.2f} MB, over its target of {target} MB")
                mark += " **over**"
        print(f"| {artifact} | `{name}` | {size / MB:.2f} MB ({size:,} bytes) | {mark} | {libc} |")
    for line in over:
        print(line, file=sys.stderr)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
