#!/usr/bin/env bash
# Serves a SIZE file (default 1G) to CLIENTS concurrent clients (default 4) with the example
# HTTP server, every byte verified by file_client against the file itself; then checks that a
# missing file is a 404 and that SIGTERM stops the server with status 0.
#
#   C_OUT=target/c-api ZC_HTTP_SERVER=c-api/build/zc-http-server bash c-api/examples/serve_demo.sh [SIZE] [CLIENTS]
set -euo pipefail
size=${1:-1G}
clients=${2:-4}
. "$(dirname "$0")/demo_server.sh"
trap stop_server EXIT

"$bin/mapped_rw" write "$dir/data.bin" "$size"
start_server 127.0.0.1
echo "serving $size to $clients concurrent clients on port $port"
"$bin/file_client" "$port" data.bin "$clients" "$dir/data.bin"
# A missing file is a 404, not a crash of the server.
"$bin/file_client" "$port" missing 1 "$dir/data.bin" > "$dir/404.out" 2>&1 && { echo "serve_demo: 404 not reported"; exit 1; }
grep -q "bad response 'HTTP/1.1 404 Not Found'" "$dir/404.out" || { cat "$dir/404.out"; exit 1; }
kill -0 "$server_pid" || { echo "serve_demo: the server died"; exit 1; }
kill -TERM "$server_pid"
status=0
wait "$server_pid" || status=$?
server_pid=
[ "$status" = 0 ] || { echo "serve_demo: the server exited with $status on SIGTERM"; exit 1; }
echo "serve_demo: 1 passed, 0 failed"
