#!/usr/bin/env bash
# pagenet-zcsrv http on the stack, the kernel's TCP as client: ping, curl
# POSTs 100 MB and gets its SHA-256 back, GET bodies arrive whole, wrk keeps
# 64 connections busy for 30 s with no error, 1000 concurrent connections
# are accepted and served; at exit every page is back.
# usage: tcp_http.sh PAGENET_ZCSRV [WRK_SECONDS]
ZCSRV=$1
WRK_SECONDS=${2:-30}
source "$(dirname "$0")/lib.sh"
need_root
for t in curl wrk sha256sum; do command -v $t >/dev/null || skip "$t is not installed"; done
tcp_topology

zc_start $tmp/o.json $tmp/o.err --mode http --listen 8080
log "ping the stack"
ip netns exec $NS_K ping -q -c 5 -i 0.1 -W 1 $S_IP >&2 || fail "no echo reply from the stack"

log "curl POSTs 100 MB of random data"
head -c 100000000 /dev/urandom >$tmp/post.bin
want=$(sha256sum <$tmp/post.bin | cut -d' ' -f1)
got=$(ip netns exec $NS_K curl -sS -m 120 --data-binary @$tmp/post.bin http://$S_IP:8080/post)
[ "$got" = "$want" ] || fail "SHA-256 of the POST body: got '$got', want $want"
log "GET 10 MB: the generated body arrives whole"
ip netns exec $NS_K curl -sS -m 60 -o $tmp/get.bin http://$S_IP:8080/10000000
[ "$(stat -c %s $tmp/get.bin)" = 10000000 ] || fail "GET body is $(stat -c %s $tmp/get.bin) bytes"
python3 - $tmp/get.bin <<'PY' || fail "GET body is not the generated text"
import sys
d = open(sys.argv[1], 'rb').read()
line = b"pagenet zero-copy generated body\n"
sys.exit(d != (line * (len(d) // len(line) + 1))[:len(d)])
PY

log "wrk: 64 connections for $WRK_SECONDS s"
wrk_clean -t2 -c64 -d${WRK_SECONDS}s http://$S_IP:8080/1000
reqs=$(awk '/requests in/ {print $1}' $tmp/wrk)
[ "${reqs:-0}" -gt 1000 ] || fail "wrk completed only ${reqs:-0} requests"

log "1000 concurrent connections"
(ulimit -n 4096; ip netns exec $NS_K python3 "$here/tcp_check.py" many --to $S_IP:8080 --count 1000) >&2 ||
	fail "1000 concurrent connections were not all served"

zc_stop $tmp/o.json $tmp/o.err
expect $tmp/o.json 'j["tcp"]["copy_bytes"] == 0 and j["tcp"]["fallback_bytes"] == 0' \
	"bytes were copied on the zero-copy path" 'j["tcp"]'
expect $tmp/o.json 'j["tcp"]["zc_bytes"] > 100000000' "POST body not received by zero copy" 'j["tcp"]'
expect $tmp/o.json 'j["service"]["conns_accepted"] >= 1000 + 64' "connections" 'j["service"]'
expect $tmp/o.json 'j["service"]["bad_requests"] == 0' "bad requests" 'j["service"]'
log "PASS: $reqs wrk requests, $(json_final $tmp/o.json 'j["service"]["conns_accepted"]') connections, every page back"
