#!/usr/bin/env bash
# Accounting on the receive path.
#  1. A group max smaller than the transfer: a 50 MB POST to a server that
#     holds its pages for 2 s completes with the right SHA-256, the fallback
#     counters and the group's events show the copies, and the group's
#     current is 0 at exit (pagenet-zcsrv exits 1 otherwise).
#  2. An application that holds its pages: the window closes (zero windows
#     advertised), the kernel sender waits, nothing is dropped, and the
#     transfer completes once the pages are released.
# usage: tcp_acct.sh PAGENET_ZCSRV
ZCSRV=$1
source "$(dirname "$0")/lib.sh"
need_root
for t in curl socat; do command -v $t >/dev/null || skip "$t is not installed"; done
tcp_topology

log "group svc/zc with max 32 pages, pages held for 2 s"
zc_start $tmp/o.json $tmp/o.err --mode http --listen 8080 --acct svc/zc:32 --hold-ms 2000
head -c 50000000 /dev/urandom >$tmp/post.bin
want=$(sha256sum <$tmp/post.bin | cut -d' ' -f1)
got=$(ip netns exec $NS_K curl -sS -m 120 --data-binary @$tmp/post.bin http://$S_IP:8080/post)
[ "$got" = "$want" ] || fail "SHA-256 $got, want $want"
zc_stop $tmp/o.json $tmp/o.err
expect $tmp/o.json 'j["tcp"]["fallback_bytes"] > 0 and j["tcp"]["zc_bytes"] > 0' \
	"both paths taken" 'j["tcp"]'
expect $tmp/o.json 'j["acct"]["memory.events"]["max"] > 0' "max events" 'j["acct"]'
expect $tmp/o.json 'j["acct"]["memory.stat"]["copied_bytes"] == j["tcp"]["fallback_bytes"]' \
	"copied_bytes stat" 'j["acct"]'
expect $tmp/o.json 'j["acct"]["memory.peak"] <= 32' "peak over max" 'j["acct"]'

log "pages held for 3 s: the window closes, the sender waits"
zc_start $tmp/h.json $tmp/h.err --mode discard --listen 5001 --hold-ms 3000
t0=$(date +%s.%N)
head -c 20000000 /dev/zero | ip netns exec $NS_K socat -u - TCP:$S_IP:5001 || fail "socat"
t1=$(date +%s.%N)
sleep 0.3
zc_stop $tmp/h.json $tmp/h.err
expect $tmp/h.json 'j["service"]["bytes_in"] == 20000000' "byte count" 'j["service"]'
expect $tmp/h.json 'j["tcp"]["zero_window_adv"] > 0 and j["tcp"]["window_updates"] > 0' \
	"window did not close and reopen" 'j["tcp"]'
expect $tmp/h.json 'j["tcp"]["zc_tokens_out"] == 0' "tokens left" 'j["tcp"]'
python3 -c "import sys; sys.exit(not ($t1 - $t0 >= 2.5))" ||
	fail "the sender finished in $(python3 -c "print($t1 - $t0)") s: it did not wait"
log "PASS"
