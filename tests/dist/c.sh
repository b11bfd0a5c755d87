#!/usr/bin/env bash
# make dist-test-c: the C artifacts in dist/ installed in clean places and used.
#
#  - libzcopy0 and libzcopy-dev: their metadata; apt-get's simulation of `apt-get install ./…deb`;
#    both unpacked (dpkg -x) in a scratch root, where README's C example is compiled with
#    `pkg-config --cflags --libs zcopy` (shared, then static) and run; `readelf -d` shows the SONAME
#    libzcopy.so.0, `nm -D` only zc_* functions, objdump glibc <= 2.17, no symbol table left;
#  - the tarball, unpacked anywhere: the same with its relocatable zcopy.pc;
#  - zc_version() and the header equal the release's version.
# With ZC_DIST_APT_INSTALL=1 (root), the .debs are also installed for real with apt-get, used
# from /usr, and removed again.
#
# usage: DIST=... VERSION=... WORK=... ROOT=... tests/dist/c.sh
set -euo pipefail
: "${DIST:?}" "${VERSION:?}" "${WORK:?}" "${ROOT:?}"
here=$(cd "$(dirname "$0")" && pwd)
major=${VERSION%%.*}
multiarch=x86_64-linux-gnu
runtime=$DIST/libzcopy${major}_${VERSION}-1_amd64.deb
dev=$DIST/libzcopy-dev_${VERSION}-1_amd64.deb
tarball=$DIST/libzcopy-$VERSION-linux-x86_64.tar.gz
rm -rf "$WORK" && mkdir -p "$WORK"
python3 "$here/readme_block.py" "$ROOT/README.md" c > "$WORK/example.c"
CFLAGS=(-std=c11 -Wall -Wextra -Werror -D_DEFAULT_SOURCE)

# The shared library in LIBDIR is the one a C library should be.
check_library() { # LIBDIR
    local so=$1/libzcopy.so.$VERSION
    grep -q "Library soname: \[libzcopy.so.$major\]" <<< "$(readelf -d "$so")" \
        || { echo "$so: SONAME is not libzcopy.so.$major" >&2; exit 1; }
    [ "$(readlink "$1/libzcopy.so.$major")" = "libzcopy.so.$VERSION" ]
    [ "$(readlink -f "$1/libzcopy.so")" = "$(readlink -f "$so")" ]
    local other
    other=$(nm -D --defined-only "$so" | awk '{print $3}' | grep -v '^zc_' || true)
    [ -z "$other" ] || { echo "$so exports symbols other than zc_*: $other" >&2; exit 1; }
    ! grep -qw zc_debug_panic <<< "$(nm -D --defined-only "$so")" || { echo "$so exports the test hook" >&2; exit 1; }
    if grep -q -e '\.symtab' -e '\.debug_' <<< "$(readelf -S "$so")"; then echo "$so is not stripped" >&2; exit 1; fi
    local newest
    newest=$(objdump -T "$so" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1)
    [ "$(printf '%s\n2.17\n' "$newest" | sort -V | tail -n 1)" = 2.17 ] || { echo "$so needs glibc $newest" >&2; exit 1; }
    echo "$so: SONAME libzcopy.so.$major, $(nm -D --defined-only "$so" | grep -c ' T zc_') zc_* functions exported and nothing else, stripped, glibc >= $newest"
}

# README's example and version.c, built with pkg-config's flags (PKG_CONFIG_* set by the caller)
# in OUT, linked against the shared library, then the static one; run with LIBDIR for the loader.
build_and_run() { # OUT LIBDIR
    local out=$1 libdir=$2 flags
    mkdir -p "$out"
    flags=$(pkg-config --cflags --libs zcopy)
    echo "pkg-config --cflags --libs zcopy: $flags"
    cc "${CFLAGS[@]}" -o "$out/example" "$WORK/example.c" $flags
    cc "${CFLAGS[@]}" -o "$out/version" "$here/version.c" $flags
    grep -q "Shared library: \[libzcopy.so.$major\]" <<< "$(readelf -d "$out/example")"
    [ "$(LD_LIBRARY_PATH=$libdir ldd "$out/example" | awk '$1 == "libzcopy.so.'"$major"'" {print $3}')" = "$libdir/libzcopy.so.$major" ]
    (cd "$out" && LD_LIBRARY_PATH=$libdir ./example)
    LD_LIBRARY_PATH=$libdir "$out/version" "$VERSION"
    # Static: libzcopy.a, and what pkg-config --static says it needs.
    flags=$(pkg-config --cflags --libs --static zcopy | sed 's/-lzcopy\b/-l:libzcopy.a/')
    cc "${CFLAGS[@]}" -o "$out/example-static" "$WORK/example.c" $flags
    ! grep -q libzcopy <<< "$(readelf -d "$out/example-static")" || { echo "example-static needs libzcopy.so" >&2; exit 1; }
    (cd "$out" && ./example-static)
}

echo "== the .debs: metadata"
dpkg-deb -f "$runtime" Package Version Architecture Depends | tee "$WORK/runtime.fields"
dpkg-deb -f "$dev" Package Version Depends | tee "$WORK/dev.fields"
grep -qx "Package: libzcopy$major" "$WORK/runtime.fields"
grep -qx "Depends: libzcopy$major (= $VERSION-1)" "$WORK/dev.fields"
dpkg-deb -c "$runtime" | awk '{print $6, $7, $8}'
dpkg-deb -c "$dev" | awk '{print $6, $7, $8}'

echo "== the .debs: apt-get install ./…deb, simulated"
if apt-get install -s "$runtime" "$dev" > "$WORK/apt.out" 2>&1; then
    grep -E "^(Inst|Conf) libzcopy" "$WORK/apt.out"
    grep -q "^Inst libzcopy$major " "$WORK/apt.out" && grep -q "^Inst libzcopy-dev " "$WORK/apt.out"
else
    cat "$WORK/apt.out"
    echo "apt-get cannot install the .debs (above)" >&2; exit 1
fi

echo "== the .debs unpacked in a scratch root"
sysroot=$WORK/root
dpkg -x "$runtime" "$sysroot"
dpkg -x "$dev" "$sysroot"
libdir=$sysroot/usr/lib/$multiarch
check_library "$libdir"
# /usr/include and the multiarch libdir are "system" directories, which pkg-config leaves out.
PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1 \
PKG_CONFIG_SYSROOT_DIR=$sysroot PKG_CONFIG_LIBDIR=$libdir/pkgconfig PKG_CONFIG_PATH= \
    build_and_run "$WORK/deb-build" "$libdir"

echo "== the tarball unpacked in a scratch directory"
mkdir -p "$WORK/tar"
tar -xzf "$tarball" -C "$WORK/tar"
tree=$WORK/tar/libzcopy-$VERSION-linux-x86_64
for f in include/zcopy.h lib/libzcopy.a lib/pkgconfig/zcopy.pc README.md; do test -f "$tree/$f"; done
check_library "$tree/lib"
PKG_CONFIG_LIBDIR=$tree/lib/pkgconfig PKG_CONFIG_PATH= build_and_run "$WORK/tar-build" "$tree/lib"

if [ "${ZC_DIST_APT_INSTALL:-}" = 1 ]; then
    echo "== ZC_DIST_APT_INSTALL=1: apt-get install ./…deb for real, used from /usr, removed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$runtime" "$dev"
    trap 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -q libzcopy-dev "libzcopy$major" >/dev/null' EXIT
    mkdir -p "$WORK/apt-build"
    cc "${CFLAGS[@]}" -o "$WORK/apt-build/example" "$WORK/example.c" $(pkg-config --cflags --libs zcopy)
    cc "${CFLAGS[@]}" -o "$WORK/apt-build/version" "$here/version.c" $(pkg-config --cflags --libs zcopy)
    ldd "$WORK/apt-build/example" | grep -E "libzcopy.so.$major => (/usr)?/lib/$multiarch/libzcopy.so.$major"
    (cd "$WORK/apt-build" && ./example && ./version "$VERSION")
fi
echo "dist-test-c: the .debs (unpacked, apt-get simulated$([ "${ZC_DIST_APT_INSTALL:-}" = 1 ] && echo ' and installed')) and the tarball give a working libzcopy $VERSION"
