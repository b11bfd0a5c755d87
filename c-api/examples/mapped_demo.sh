#!/usr/bin/env bash
# The mapped-file writer and reader end to end: write 16 MiB through a mapping, read it back.
#
#   C_OUT=target/c-api bash c-api/examples/mapped_demo.sh
set -euo pipefail
bin=${C_OUT:?set C_OUT to the build directory (target/c-api)}/examples
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$bin/mapped_rw" version
"$bin/mapped_rw" write "$dir/data.bin" 16M
[ "$(stat -c %s "$dir/data.bin")" = $((16 << 20)) ]
"$bin/mapped_rw" read "$dir/data.bin"
echo "mapped_demo: 1 passed, 0 failed"
