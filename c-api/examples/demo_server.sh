#!/usr/bin/env bash
# Sourced by serve_demo.sh and netns_demo.sh: the example programs, a scratch directory ($dir)
# for the data and the server's output, and zc-http-server started in the background
# (start_server) and stopped again (stop_server; each demo's cleanup calls it).
bin=${C_OUT:?set C_OUT to the build directory (target/c-api)}/examples
server=${ZC_HTTP_SERVER:?set ZC_HTTP_SERVER to zc-http-server (c-api/build/zc-http-server)}
demo=$(basename "$0" .sh)
dir=$(mktemp -d)
server_pid=

# start_server ADDR [PREFIX...]: serves $dir on ADDR, any free port, run behind PREFIX (such as
# `ip netns exec NS`) when given; sets server_pid, and port once the server listens.
start_server() {
    local addr=$1
    shift
    "$@" "$server" --addr "$addr" --port 0 --root "$dir" > "$dir/server.out" &
    server_pid=$!
    for _ in $(seq 100); do
        grep -q listening "$dir/server.out" 2>/dev/null && break
        sleep 0.05
    done
    port=$(sed -n 's/^listening on [0-9.]*:\([0-9]*\)$/\1/p' "$dir/server.out")
    [ -n "$port" ] || { echo "$demo: the server did not start"; exit 1; }
}

# Stops the server if it runs, and removes $dir.
stop_server() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$dir"
}
