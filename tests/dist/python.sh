#!/usr/bin/env bash
# make dist-test-python: the wheel in dist/ installed into a fresh virtualenv of each CPython
# version given (skipped, with the reason, where the machine has none), with no Rust toolchain on
# PATH; then README's Python example and the Python suite (python/tests) against the installed
# package. Then the sdist, built into a wheel by pip (with Rust this time) and imported.
#
# usage: DIST=... VERSION=... WORK=... PY_DIR=... tests/dist/python.sh 3.11 3.12 3.13
set -euo pipefail
: "${DIST:?}" "${VERSION:?}" "${WORK:?}" "${PY_DIR:?}"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
wheel=$(echo "$DIST"/zcopy-"$VERSION"-cp311-abi3-manylinux*.whl)
sdist=$DIST/zcopy-$VERSION.tar.gz
test -f "$wheel" && test -f "$sdist"
rm -rf "$WORK" && mkdir -p "$WORK"
PIP=(--disable-pip-version-check --quiet)

# PATH without a Rust toolchain: every directory with cargo, rustc or rustup in it is left out.
norust=""
IFS=: read -ra dirs <<< "$PATH"
for d in "${dirs[@]}"; do
    [ -n "$d" ] || continue
    if [ -e "$d/cargo" ] || [ -e "$d/rustc" ] || [ -e "$d/rustup" ]; then continue; fi
    norust=${norust:+$norust:}$d
done

# An interpreter of version $1 that runs (pyenv's shims exist for versions that are not active).
find_python() {
    local candidates=() c
    candidates+=("$(command -v "python$1" || true)" "/usr/bin/python$1" "/usr/local/bin/python$1")
    candidates+=($(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$1".*/bin/"python$1" 2>/dev/null | sort -rV))
    for c in "${candidates[@]}"; do
        [ -n "$c" ] && [ -x "$c" ] || continue
        # The interpreter itself, not a shim or a link to it.
        if out=$("$c" -c 'import sys; print("%d.%d" % sys.version_info[:2], sys.executable)' 2>/dev/null) \
                && [ "${out%% *}" = "$1" ]; then
            echo "${out#* }"; return 0
        fi
    done
    return 1
}

passed=() skipped=()
for v in "$@"; do
    if ! py=$(find_python "$v"); then
        echo "== CPython $v: SKIPPED: no python$v on this machine (PATH, /usr/bin, /usr/local/bin, pyenv)"
        skipped+=("$v (no interpreter)")
        continue
    fi
    echo "== CPython $v ($py): the wheel in a fresh virtualenv, no Rust toolchain on PATH"
    venv=$WORK/venv-$v
    "$py" -m venv "$venv"
    run=(env -u VIRTUAL_ENV -u PYTHONPATH -u CARGO_HOME -u RUSTUP_HOME PATH="$venv/bin:$norust" ZCOPY_EXPECT_VERSION="$VERSION")
    if "${run[@]}" bash -c 'command -v cargo || command -v rustc'; then
        echo "a Rust toolchain is still on PATH" >&2; exit 1
    fi
    # --only-binary: nothing is built, zcopy least of all; [test] brings the suite's dependencies.
    "${run[@]}" "$venv/bin/python" -m pip install "${PIP[@]}" --only-binary=:all: "$wheel[test]"
    (cd / && "${run[@]}" "$venv/bin/python" -c '
import os, sys, zcopy
assert zcopy.__version__ == os.environ["ZCOPY_EXPECT_VERSION"], zcopy.__version__
assert zcopy.__file__.startswith(sys.prefix), zcopy.__file__
print("zcopy", zcopy.__version__, "from", os.path.dirname(zcopy.__file__))')
    python3 "$here/readme_block.py" "$root/README.md" python > "$WORK/readme-$v.py"
    (cd "$WORK" && "${run[@]}" "$venv/bin/python" "readme-$v.py")
    # From python/ (its pyproject.toml configures pytest), with the venv's pytest script: sys.path
    # gets python/tests (for conftest.py) but never python/, so `import zcopy` is the installed one.
    (cd "$PY_DIR" && "${run[@]}" PYTHONPATH="$here" PYTHONDONTWRITEBYTECODE=1 \
        "$venv/bin/pytest" -q -p no:cacheprovider -p installed_zcopy)
    passed+=("$v")
done
if [ ${#passed[@]} -eq 0 ]; then
    echo "dist-test-python: no CPython of $* found, the wheel was not tested" >&2; exit 1
fi

echo "== the sdist: pip builds a wheel from it (maturin, cargo), which installs and imports"
first=$(find_python "${passed[0]}")
"$first" -m venv "$WORK/venv-sdist"
# The cargo target directory outlives this run, so a second run rebuilds little.
CARGO_TARGET_DIR=${SDIST_TARGET_DIR:-$root/target/sdist-build} \
    "$WORK/venv-sdist/bin/python" -m pip wheel "${PIP[@]}" --no-deps --no-binary=zcopy -w "$WORK/sdist-wheel" "$sdist"
"$WORK/venv-sdist/bin/python" -m pip install "${PIP[@]}" --no-deps "$WORK"/sdist-wheel/zcopy-"$VERSION"-*.whl
(cd / && "$WORK/venv-sdist/bin/python" -c "import zcopy; assert zcopy.__version__ == '$VERSION'; print('sdist: built and imported zcopy', zcopy.__version__)")

echo "dist-test-python: the wheel passed on CPython ${passed[*]}${skipped:+; skipped: ${skipped[*]}}; the sdist builds"
