#!/usr/bin/env bash
# Loss, duplication, reordering, corruption and delay injected below TCP on
# the server side (an impair port over the AF_XDP port): a 30 MB POST gets
# the right SHA-256 back and echo stays byte-exact; the counters show the
# damage was done and repaired.
# usage: tcp_impair.sh PAGENET_ZCSRV
ZCSRV=$1
source "$(dirname "$0")/lib.sh"
need_root
command -v curl >/dev/null || skip "curl is not installed"
tcp_topology

inject="rx_loss=0.02,rx_dup=0.02,rx_reorder=0.05,rx_corrupt=0.005,tx_loss=0.02,tx_delay_us=1000,seed=7"
zc_start $tmp/o.json $tmp/o.err --mode http --listen 8080 --inject $inject
head -c 30000000 /dev/urandom >$tmp/post.bin
want=$(sha256sum <$tmp/post.bin | cut -d' ' -f1)
log "POST 30 MB through $inject"
got=$(ip netns exec $NS_K curl -sS -m 300 --data-binary @$tmp/post.bin http://$S_IP:8080/post)
[ "$got" = "$want" ] || fail "SHA-256 $got, want $want"
log "GET 10 MB through the same"
ip netns exec $NS_K curl -sS -m 300 -o $tmp/get.bin http://$S_IP:8080/10000000
[ "$(stat -c %s $tmp/get.bin)" = 10000000 ] || fail "GET body is $(stat -c %s $tmp/get.bin) bytes"
zc_stop $tmp/o.json $tmp/o.err
expect $tmp/o.json 'j["impair"]["rx_lost"] > 0 and j["impair"]["rx_dup"] > 0 and j["impair"]["rx_reordered"] > 0 and j["impair"]["rx_corrupted"] > 0 and j["impair"]["tx_lost"] > 0 and j["impair"]["tx_delayed"] > 0' \
	"injection did not happen" 'j["impair"]'
expect $tmp/o.json 'j["tcp"]["ooo_segs"] > 0 and j["tcp"]["dup_data_segs"] > 0 and j["tcp"]["retrans_segs"] > 0' \
	"no repair seen" 'j["tcp"]'

log "echo 10 MB through the same"
zc_start $tmp/e.json $tmp/e.err --mode echo --listen 7 --inject $inject
ip netns exec $NS_K python3 "$here/tcp_check.py" echo --to $S_IP:7 --bytes 10000000 --timeout 300 >&2 ||
	fail "echo under injection"
zc_stop $tmp/e.json $tmp/e.err
log "PASS: $(json_final $tmp/o.json 'j["impair"]')"
