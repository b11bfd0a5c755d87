#!/usr/bin/env bash
# Serves a SIZE file (default 1G) to CLIENTS concurrent clients (default 4) with the example
# file_server, every byte verified by file_client against the file itself.
#
#   C_OUT=target/c-api bash c-api/examples/serve_demo.sh [SIZE] [CLIENTS]
set -euo pipefail
size=${1:-1G}
clients=${2:-4}
bin=${C_OUT:?set C_OUT to the build directory (target/c-api)}/examples
dir=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT

"$bin/mapped_rw" write "$dir/data.bin" "$size"
"$bin/file_server" -r "$dir" -p 0 > "$dir/server.out" &
server_pid=$!
for _ in $(seq 100); do
    grep -q listening "$dir/server.out" 2>/dev/null && break
    sleep 0.05
done
port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$dir/server.out")
[ -n "$port" ] || { echo "serve_demo: the server did not start"; exit 1; }
echo "serving $size to $clients concurrent clients on port $port"
"$bin/file_client" "$port" data.bin "$clients" "$dir/data.bin"
# A missing file is a 404, not a crash of the server.
"$bin/file_client" "$port" missing 1 "$dir/data.bin" > "$dir/404.out" 2>&1 && { echo "serve_demo: 404 not reported"; exit 1; }
grep -q "bad response header 'ZC/1 404 0'" "$dir/404.out" || { cat "$dir/404.out"; exit 1; }
kill -0 "$server_pid" || { echo "serve_demo: the server died"; exit 1; }
echo "serve_demo: 1 passed, 0 failed"
