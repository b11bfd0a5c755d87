#!/usr/bin/env bash
# The C library's artifacts, from the libraries of the dist cargo profile (glibc 2.17, stripped):
#
#   DIST/libzcopy-VERSION-linux-x86_64.tar.gz   include/, lib/ (libzcopy.so.VERSION with the
#                                               libzcopy.so.0 and libzcopy.so links, libzcopy.a,
#                                               pkgconfig/zcopy.pc, relocatable), README.md
#   DIST/libzcopy0_VERSION-1_amd64.deb          the shared library (SONAME libzcopy.so.0)
#   DIST/libzcopy-dev_VERSION-1_amd64.deb       header, libzcopy.so link, libzcopy.a, zcopy.pc
#
# usage: packaging/libzcopy.sh VERSION NATIVE_DIR DIST WORK
set -euo pipefail

version=$1 native=$2 dist=$3 work=$4
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
major=${version%%.*}
soname=libzcopy.so.$major
multiarch=x86_64-linux-gnu
debversion=$version-1
glibc=${DIST_GLIBC:-2.17}
# What a program linked statically against libzcopy.a needs besides it (as c-api/c-api.mk says).
static_libs="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"
# Reproducible archives: the time of the last commit, where there is one.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)}

rm -rf "$work" && mkdir -p "$work" "$dist"
rm -f "$dist"/libzcopy-*.tar.gz "$dist"/libzcopy*.deb

# readelf and nm agree with what the tarball promises, before anything is packed.
if ! grep -q "Library soname: \[$soname\]" <<< "$(readelf -d "$native/libzcopy.so")"; then
    echo "libzcopy.so's SONAME is not $soname:" >&2; readelf -d "$native/libzcopy.so" | grep -i soname >&2; exit 1
fi
if nm -D --defined-only "$native/libzcopy.so" | awk '{print $3}' | grep -v '^zc_'; then
    echo "libzcopy.so exports the symbols above, which are not zc_*" >&2; exit 1
fi
if grep -qw 'zc_debug_panic' <<< "$(nm -D --defined-only "$native/libzcopy.so")"; then
    echo "libzcopy.so exports the test hook zc_debug_panic" >&2; exit 1
fi

# lib/: the library under its full version, the SONAME link, the link the linker uses (-lzcopy).
stage_lib() { # DIR
    install -d "$1"
    install -m 0644 "$native/libzcopy.so" "$1/libzcopy.so.$version"
    ln -s "libzcopy.so.$version" "$1/$soname"
}
pc_file() { # PREFIX LIBDIR OUT
    sed -e "s|@PREFIX@|$1|g" -e "s|@LIBDIR@|$2|g" -e "s|@VERSION@|$version|g" \
        -e "s|@STATIC_LIBS@|$static_libs|g" "$root/c-api/zcopy.pc.in" > "$3"
}

# --- the tarball -------------------------------------------------------------------------------
name=libzcopy-$version-linux-x86_64
tree=$work/$name
stage_lib "$tree/lib"
ln -s "libzcopy.so.$version" "$tree/lib/libzcopy.so"
install -m 0644 "$native/libzcopy.a" "$tree/lib/libzcopy.a"
strip --strip-debug "$tree/lib/libzcopy.a"
install -d "$tree/include" "$tree/lib/pkgconfig"
install -m 0644 "$root/c-api/include/zcopy.h" "$tree/include/zcopy.h"
# ${pcfiledir}: pkg-config finds the files wherever the tarball was unpacked.
pc_file '${pcfiledir}/../..' '${prefix}/lib' "$tree/lib/pkgconfig/zcopy.pc"
sed -e "s|@VERSION@|$version|g" "$here/libzcopy-README.md.in" > "$tree/README.md"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
    -C "$work" -cf - "$name" | gzip -9n > "$dist/$name.tar.gz"

# --- the Debian packages -----------------------------------------------------------------------
copyright() { # PACKAGE
    install -d "$deb/usr/share/doc/$1"
    cat > "$deb/usr/share/doc/$1/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: zcopy
Files: *
License: MIT or Apache-2.0
 zcopy is dual-licensed under the MIT license and the Apache License 2.0; use it under either.
EOF
}
control() { # PACKAGE SECTION DEPENDS DESCRIPTION...
    local package=$1 section=$2 depends=$3; shift 3
    install -d "$deb/DEBIAN"
    (cd "$deb" && find usr -type f -exec md5sum {} + | sort -k 2 > DEBIAN/md5sums)
    cat > "$deb/DEBIAN/control" <<EOF
Package: $package
Source: zcopy
Version: $debversion
Architecture: amd64
Multi-Arch: same
Maintainer: zcopy developers <zcopy@example.invalid>
Installed-Size: $(du -sk --exclude=DEBIAN "$deb" | cut -f1)
Depends: $depends
Section: $section
Priority: optional
Homepage: https://example.invalid/zcopy
Description: $*
EOF
}

deb=$work/deb/libzcopy$major
stage_lib "$deb/usr/lib/$multiarch"
copyright "libzcopy$major"
control "libzcopy$major" libs "libc6 (>= $glibc)" \
    "Linux zero-copy I/O for C: mapped regions, sendfile/splice/copy_file_range, epoll
 libzcopy gives C programs the Linux kernel's zero-copy paths: mapped regions of any byte range
 of a file (closable at once, safe against truncation), transfers over copy_file_range,
 sendfile and splice that report which kernel path ran, and an epoll selector.
 .
 This package holds the shared library."
echo "libzcopy $major libzcopy$major (>= $version)" > "$deb/DEBIAN/shlibs"
echo "activate-noawait ldconfig" > "$deb/DEBIAN/triggers"
dpkg-deb --root-owner-group -Zxz --build "$deb" "$dist/libzcopy${major}_${debversion}_amd64.deb" >/dev/null

deb=$work/deb/libzcopy-dev
install -d "$deb/usr/include" "$deb/usr/lib/$multiarch/pkgconfig"
install -m 0644 "$root/c-api/include/zcopy.h" "$deb/usr/include/zcopy.h"
ln -s "libzcopy.so.$version" "$deb/usr/lib/$multiarch/libzcopy.so"
install -m 0644 "$tree/lib/libzcopy.a" "$deb/usr/lib/$multiarch/libzcopy.a"
pc_file /usr "\${prefix}/lib/$multiarch" "$deb/usr/lib/$multiarch/pkgconfig/zcopy.pc"
copyright libzcopy-dev
control libzcopy-dev libdevel "libzcopy$major (= $debversion)" \
    "Linux zero-copy I/O for C: development files
 libzcopy gives C programs the Linux kernel's zero-copy paths: mapped regions of any byte range
 of a file (closable at once, safe against truncation), transfers over copy_file_range,
 sendfile and splice that report which kernel path ran, and an epoll selector.
 .
 This package holds the header zcopy.h, the static library and the pkg-config file zcopy.pc."
dpkg-deb --root-owner-group -Zxz --build "$deb" "$dist/libzcopy-dev_${debversion}_amd64.deb" >/dev/null

echo "libzcopy: $name.tar.gz, libzcopy${major}_${debversion}_amd64.deb, libzcopy-dev_${debversion}_amd64.deb"
