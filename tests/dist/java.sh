#!/usr/bin/env bash
# make dist-test-java: io.zcopy:zcopy from dist/maven, as a user's Maven project gets it.
#
#  - the repository layout: pom, jar, -sources.jar, -javadoc.jar, checksums; the jar's JNI
#    library stripped, exporting io.zcopy.Native's methods only (no test hook), needing
#    glibc <= 2.17;
#  - on JDK 17 and on the newest JDK: the Maven consumer java-examples built (by Maven on that
#    JDK) against dist/maven, and its examples run with the zcopy jar and the examples' jar as
#    the whole class path; README's Java example and DistCheck.java (versions, a transfer) with
#    the zcopy jar alone;
#  - the loader: one extraction per version and content hash, in a 0700 directory, with 8 JVMs
#    starting at once; the fall-back to java.io.tmpdir; -Dzcopy.library.path; an unsupported
#    platform's error.
#
# usage: DIST=... VERSION=... WORK=... ROOT=... JAVA17_HOME=... JAVA_NEW_HOME=... [INSTALLED_REPO=...] tests/dist/java.sh
# (INSTALLED_REPO: a local repository that make java-install wrote; its files must be dist's.)
set -euo pipefail
: "${DIST:?}" "${VERSION:?}" "${WORK:?}" "${ROOT:?}" "${JAVA17_HOME:?}"
here=$(cd "$(dirname "$0")" && pwd)
repo=$DIST/maven
dir=$repo/io/zcopy/zcopy/$VERSION
zjar=$dir/zcopy-$VERSION.jar
rm -rf "$WORK" && mkdir -p "$WORK"

echo "== dist/maven: io.zcopy:zcopy:$VERSION"
for f in zcopy-$VERSION.pom zcopy-$VERSION.jar zcopy-$VERSION-sources.jar zcopy-$VERSION-javadoc.jar; do
    test -f "$dir/$f" || { echo "missing $dir/$f" >&2; exit 1; }
    test -f "$dir/$f.sha1" || { echo "missing $dir/$f.sha1" >&2; exit 1; }
done
test -f "$repo/io/zcopy/zcopy/maven-metadata.xml"
jar_tool=("$JAVA17_HOME/bin/jar")
# (Listings go to files: grep -q closing a pipe early would fail the pipeline under pipefail.)
"${jar_tool[@]}" tf "$dir/zcopy-$VERSION-sources.jar" > "$WORK/sources.list"
"${jar_tool[@]}" tf "$dir/zcopy-$VERSION-javadoc.jar" > "$WORK/javadoc.list"
grep -qx 'io/zcopy/ZeroCopy.java' "$WORK/sources.list" || { echo "the sources jar has no ZeroCopy.java" >&2; exit 1; }
if grep -q '\.so$' "$WORK/sources.list"; then echo "the sources jar holds a library" >&2; exit 1; fi
grep -qx 'io/zcopy/ZeroCopy.html' "$WORK/javadoc.list" || { echo "the javadoc jar has no ZeroCopy.html" >&2; exit 1; }
# The library alone: io.zcopy's classes, its native library and Maven's metadata; no benchmark
# (io.zcopy.bench), test or example class.
"${jar_tool[@]}" tf "$zjar" > "$WORK/jar.list"
stray=$(grep -v -e '/$' -e '^io/zcopy/[A-Za-z0-9$]*\.class$' -e '^META-INF/' "$WORK/jar.list" || true)
[ -z "$stray" ] || { echo "the jar holds more than the library: $stray" >&2; exit 1; }
grep -qx 'io/zcopy/ZeroCopy.class' "$WORK/jar.list" || { echo "the jar has no io/zcopy/ZeroCopy.class" >&2; exit 1; }
(cd "$WORK" && "${jar_tool[@]}" xf "$dir/zcopy-$VERSION.jar" META-INF/native/linux-x86_64/libzcopy_jni.so)
mv "$WORK/META-INF/native/linux-x86_64/libzcopy_jni.so" "$WORK/libzcopy_jni.so" && rm -rf "$WORK/META-INF"
if grep -q -e '\.symtab' -e '\.debug_' <<< "$(readelf -S "$WORK/libzcopy_jni.so")"; then
    echo "the jar's libzcopy_jni.so is not stripped" >&2; exit 1
fi
other=$(nm -D --defined-only "$WORK/libzcopy_jni.so" | awk '{print $3}' | grep -v -e '^Java_io_zcopy_Native_' -e '^JNI_' || true)
[ -z "$other" ] || { echo "the jar's libzcopy_jni.so exports more than io.zcopy.Native's methods (test hooks?): $other" >&2; exit 1; }
newest=$(objdump -T "$WORK/libzcopy_jni.so" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1)
[ "$(printf '%s\n2.17\n' "$newest" | sort -V | tail -n 1)" = 2.17 ] || { echo "libzcopy_jni.so needs glibc $newest" >&2; exit 1; }
echo "jar $(stat -c %s "$zjar") bytes; its libzcopy_jni.so $(stat -c %s "$WORK/libzcopy_jni.so") bytes, stripped, io.zcopy.Native's methods only, glibc >= $newest"

if [ -n "${INSTALLED_REPO:-}" ]; then
    echo "== make java-install: the same files in the local repository $INSTALLED_REPO"
    for f in zcopy-$VERSION.pom zcopy-$VERSION.jar zcopy-$VERSION-sources.jar zcopy-$VERSION-javadoc.jar; do
        cmp "$dir/$f" "$INSTALLED_REPO/io/zcopy/zcopy/$VERSION/$f"
    done
fi

python3 "$here/readme_block.py" "$ROOT/README.md" java > "$WORK/ReadmeExample.java"
jdks=("$JAVA17_HOME")
if [ -n "${JAVA_NEW_HOME:-}" ] && [ -x "$JAVA_NEW_HOME/bin/java" ]; then
    jdks+=("$JAVA_NEW_HOME")
else
    echo "== the newest JDK: SKIPPED: JAVA_NEW_HOME is not set to a JDK (no /usr/lib/jvm/temurin-2*-jdk-amd64)"
fi
passed=()
for jdk in "${jdks[@]}"; do
    label=$("$jdk/bin/java" -version 2>&1 | sed -n 1p)
    java=("$jdk/bin/java" --enable-native-access=ALL-UNNAMED)
    tag=$(basename "$jdk")
    echo "== $label ($jdk): the Maven consumer (java-examples) built and run"
    make --no-print-directory -C "$ROOT/java-examples" JAVA_HOME="$jdk" ZCOPY_VERSION="$VERSION" \
        ZCOPY_REPO="$repo" M2="$WORK/m2" BUILD_DIR="$WORK/examples-$tag" smoke
    cp_line=$(make --no-print-directory -s -C "$ROOT/java-examples" ZCOPY_VERSION="$VERSION" \
        M2="$WORK/m2" BUILD_DIR="$WORK/examples-$tag" print-classpath)
    [ "$cp_line" = "$WORK/m2/io/zcopy/zcopy/$VERSION/zcopy-$VERSION.jar:$WORK/examples-$tag/zcopy-examples.jar" ] \
        || { echo "the examples ran with the class path $cp_line" >&2; exit 1; }

    echo "== $label: the jar alone: DistCheck.java and README's Java example, in a fresh cache"
    cache=$WORK/cache-$tag
    XDG_CACHE_HOME=$cache "${java[@]}" -cp "$zjar" "$here/DistCheck.java" "$VERSION"
    (cd "$WORK" && XDG_CACHE_HOME=$cache "${java[@]}" -cp "$zjar" ReadmeExample.java)

    echo "== $label: 8 JVMs starting at once extract the library once, privately"
    cache=$WORK/cache-many-$tag
    pids=()
    for i in 1 2 3 4 5 6 7 8; do
        XDG_CACHE_HOME=$cache "${java[@]}" -cp "$zjar" "$here/DistCheck.java" "$VERSION" > "$WORK/many-$i.out" 2>&1 &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || { cat "$WORK"/many-*.out; exit 1; }; done
    files=$(find "$cache" -type f)
    [ "$(echo "$files" | wc -l)" = 1 ] || { echo "expected one extracted file, found: $files" >&2; exit 1; }
    case $files in "$cache/zcopy/$VERSION-"*/libzcopy_jni.so) ;; *) echo "unexpected path $files" >&2; exit 1;; esac
    cmp "$files" "$WORK/libzcopy_jni.so"
    for d in "$cache/zcopy" "$(dirname "$files")"; do
        [ "$(stat -c %a "$d")" = 700 ] || { echo "$d has mode $(stat -c %a "$d"), not 700" >&2; exit 1; }
    done
    echo "one file, $files, in 0700 directories"

    echo "== $label: no usable cache directory: the library goes to java.io.tmpdir"
    mkdir -p "$WORK/tmp-$tag"
    XDG_CACHE_HOME=/proc/zcopy-cannot-be-here "${java[@]}" -Djava.io.tmpdir="$WORK/tmp-$tag" -cp "$zjar" \
        "$here/DistCheck.java" "$VERSION"
    ls "$WORK/tmp-$tag/zcopy-$(id -un)/$VERSION-"*/libzcopy_jni.so

    echo "== $label: -Dzcopy.library.path, and the errors"
    "${java[@]}" -Dzcopy.library.path="$WORK/libzcopy_jni.so" -cp "$zjar" "$here/DistCheck.java" "$VERSION"
    "${java[@]}" -Dzcopy.library.path="$WORK/none.so" -cp "$zjar" "$here/DistCheck.java" \
        --fails-with "cannot load the native library libzcopy_jni.so; tried -Dzcopy.library.path=$WORK/none.so"
    "${java[@]}" -Dos.arch=aarch64 -cp "$zjar" "$here/DistCheck.java" \
        --fails-with "for Linux on x86-64 (linux-x86_64) only, and this JVM runs on Linux aarch64"
    passed+=("$label")
done
echo "dist-test-java: passed on ${#passed[@]} JDK(s): $(printf '%s; ' "${passed[@]}")"
