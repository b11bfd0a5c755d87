#!/usr/bin/env bash
# The example server and client on two hosts: two network namespaces made here, joined by a veth
# pair, each with its own address. Needs root and iproute2; skipped, with the reason, where the
# machine does not allow creating namespaces. Only the namespaces' own addresses are used.
#
#   C_OUT=target/c-api ZC_HTTP_SERVER=c-api/build/zc-http-server bash c-api/examples/netns_demo.sh [SIZE] [CLIENTS]
set -euo pipefail
size=${1:-64M}
clients=${2:-4}
. "$(dirname "$0")/demo_server.sh"
skip() { echo "netns_demo: 0 passed, 0 failed, 1 skipped ($1)"; exit 0; }
id=$$
a=zc-c-a-$id b=zc-c-b-$id va=zcca$id vb=zccb$id
server_addr=10.213.7.2 client_addr=10.213.7.1
cleanup() {
    stop_server
    ip netns del "$a" 2>/dev/null || true
    ip netns del "$b" 2>/dev/null || true
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] || skip "not root: network namespaces need CAP_SYS_ADMIN"
command -v ip >/dev/null || skip "iproute2 (ip) is not installed"
ip netns add "$a" 2>/dev/null || skip "ip netns add is not permitted here"
ip netns add "$b"
ip link add "$va" type veth peer name "$vb" || skip "veth pairs are not available here"
ip link set "$va" netns "$a"
ip link set "$vb" netns "$b"
ip -n "$a" addr add "$client_addr/30" dev "$va"
ip -n "$b" addr add "$server_addr/30" dev "$vb"
for ns in "$a" "$b"; do ip -n "$ns" link set lo up; done
ip -n "$a" link set "$va" up
ip -n "$b" link set "$vb" up

"$bin/mapped_rw" write "$dir/data.bin" "$size" >/dev/null
start_server "$server_addr" ip netns exec "$b"
echo "serving $size from $server_addr (namespace $b) to $clients clients at $client_addr (namespace $a)"
ip netns exec "$a" "$bin/file_client" "$port" data.bin "$clients" "$dir/data.bin" "$server_addr"
echo "netns_demo: 1 passed, 0 failed"
