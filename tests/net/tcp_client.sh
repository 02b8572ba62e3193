#!/usr/bin/env bash
# The stack as client of kernel servers: fetch a 30 MB file from python's
# http.server (SHA-256 compared), stream 200 MB to socat (the file socat
# writes has the SHA-256 the client computed), also with loss, duplication
# and reordering injected below TCP on the stack's side.
# usage: tcp_client.sh PAGENET_ZCSRV
ZCSRV=$1
source "$(dirname "$0")/lib.sh"
need_root
command -v socat >/dev/null || skip "socat is not installed"
tcp_topology

kernel_file_server 30000000

for inject in "" "rx_loss=0.01,rx_dup=0.01,rx_reorder=0.03,tx_loss=0.01,seed=3"; do
	log "fetch 30 MB from python http.server ${inject:+(injected: $inject)}"
	zc_start $tmp/f.json $tmp/f.err --mode fetch --connect $K_IP:8000 --path /f.bin \
		${inject:+--inject $inject}
	zc_wait $tmp/f.json $tmp/f.err
	got=$(json_final $tmp/f.json 'j["client"]["sha256"]')
	[ "$got" = "$want" ] || fail "fetched SHA-256 $got, want $want"
	expect $tmp/f.json 'j["client"]["bytes"] == 30000000' "fetched bytes" 'j["client"]'

	log "send 200 MB to socat ${inject:+(injected)}"
	ip netns exec $NS_K socat -u TCP-LISTEN:6000,reuseaddr OPEN:$tmp/recv.bin,creat,trunc &
	sp=$!; pids+=($sp)
	for _ in $(seq 50); do ip netns exec $NS_K ss -ltn | grep -q ':6000' && break; sleep 0.1; done
	zc_start $tmp/s.json $tmp/s.err --mode send --connect $K_IP:6000 --bytes 200000000 \
		${inject:+--inject $inject}
	zc_wait $tmp/s.json $tmp/s.err
	wait $sp || fail "socat failed"
	sent=$(json_final $tmp/s.json 'j["client"]["sha256"]')
	recv=$(sha256sum <$tmp/recv.bin | cut -d' ' -f1)
	[ "$sent" = "$recv" ] || fail "socat wrote SHA-256 $recv, the stack sent $sent"
	[ "$(stat -c %s $tmp/recv.bin)" = 200000000 ] || fail "socat got $(stat -c %s $tmp/recv.bin) bytes"
	if [ -n "$inject" ]; then
		expect $tmp/s.json 'j["tcp"]["retrans_segs"] > 0' "no retransmission under loss" 'j["tcp"]'
		expect $tmp/f.json 'j["tcp"]["ooo_segs"] > 0 and j["impair"]["rx_dup"] > 0' \
			"injection did not happen" 'j["impair"]'
	fi
done
log "PASS"
