#!/usr/bin/env bash
# Bulk data into the stack: socat streams 1 GB into discard and the count
# matches, echo returns exactly what was sent, and with the application's
# own memory as the packet region the payload is read where the kernel
# wrote it: zero bytes copied by the stack.
# usage: tcp_stream.sh PAGENET_ZCSRV [BYTES]
ZCSRV=$1
BYTES=${2:-1000000000}
source "$(dirname "$0")/lib.sh"
need_root
command -v socat >/dev/null || skip "socat is not installed"
tcp_topology

# socat streams into discard: reads of the default size, then of one
# segment (zero copy) and of 1 MiB (copy)
stream_into_discard() {
	zc_start $tmp/o.json $tmp/o.err --mode discard --listen 5001 "$@"
	head -c $BYTES /dev/zero | ip netns exec $NS_K socat -u - TCP:$S_IP:5001 ||
		fail "socat could not stream ($*)"
	for _ in $(seq 100); do
		[ "$(json_final $tmp/o.json 'j["service"]["conns_done"]' 2>/dev/null || echo 0)" -ge 1 ] && break
		sleep 0.1
	done
	zc_stop $tmp/o.json $tmp/o.err
	expect $tmp/o.json "j['service']['bytes_in'] == $BYTES" "byte count ($*)" 'j["service"]'
	expect $tmp/o.json 'j["tcp"]["zc_tokens_out"] == 0' "tokens left ($*)" 'j["tcp"]'
}

log "socat streams $BYTES bytes into discard"
stream_into_discard
expect $tmp/o.json "j['tcp']['zc_bytes'] == $BYTES and j['tcp']['copy_bytes'] == 0" \
	"zero-copy path" 'j["tcp"]'

log "application reads of one segment (zero copy) and of 1 MiB (copy)"
stream_into_discard --read-size 1K
stream_into_discard --copy --read-size 1M

log "echo returns exactly what was sent (zero copy, then copying recv)"
for variant in "" "--copy"; do
	zc_start $tmp/e.json $tmp/e.err --mode echo --listen 7 $variant
	ip netns exec $NS_K python3 "$here/tcp_check.py" echo --to $S_IP:7 --bytes 20000000 >&2 ||
		fail "echo ${variant:-zero copy}"
	zc_stop $tmp/e.json $tmp/e.err
done

log "application memory as the packet region (the AF_XDP UMEM)"
zc_start $tmp/a.json $tmp/a.err --mode discard --listen 5001 --app-mem --pages 16384
head -c 200000000 /dev/zero | ip netns exec $NS_K socat -u - TCP:$S_IP:5001 || fail "socat"
sleep 0.5
zc_stop $tmp/a.json $tmp/a.err
expect $tmp/a.json 'j["service"]["bytes_in"] == 200000000' "byte count" 'j["service"]'
expect $tmp/a.json 'j["service"]["app_mem_bytes"] == 200000000' \
	"payload outside the application's memory" 'j["service"]'
expect $tmp/a.json 'j["tcp"]["copy_bytes"] + j["tcp"]["fallback_bytes"] == 0' \
	"the stack copied payload" 'j["tcp"]'
log "PASS"
