#!/usr/bin/env bash
# pagenet-zcsrv http against clients that hold slots for nothing: three
# pipelined requests behind a 3 MB response come back in order; 200 heads
# that never finish get 408 and are closed after --header-timeout; a
# keep-alive connection left idle is closed after --idle-timeout; beyond
# --max-conns connections are refused and counted. Every page back.
# usage: tcp_http_limits.sh PAGENET_ZCSRV
ZCSRV=$1
source "$(dirname "$0")/lib.sh"
need_root
tcp_topology

zc_start $tmp/o.json $tmp/o.err --mode http --listen 8080 --header-timeout 1 --idle-timeout 2
ip netns exec $NS_K python3 "$here/tcp_check.py" pipeline --to $S_IP:8080 >&2 || fail "pipelining"
(ulimit -n 4096; ip netns exec $NS_K python3 "$here/tcp_check.py" slow --to $S_IP:8080 --count 200) >&2 ||
	fail "slow heads"
ip netns exec $NS_K python3 "$here/tcp_check.py" idle --to $S_IP:8080 --wait 2 >&2 || fail "idle"
zc_stop $tmp/o.json $tmp/o.err
expect $tmp/o.json 'j["service"]["pipelined"] >= 1 and j["service"]["header_timeouts"] == 200 and j["service"]["idle_timeouts"] >= 1' \
	"pipelining and timeouts not counted" 'j["service"]'

zc_start $tmp/m.json $tmp/m.err --mode http --listen 8080 --max-conns 20
served=$(ip netns exec $NS_K python3 "$here/tcp_check.py" limit --to $S_IP:8080 --count 30)
[ "$served" = 20 ] || fail "--max-conns 20: $served of 30 served"
zc_stop $tmp/m.json $tmp/m.err
expect $tmp/m.json 'j["service"]["conns_refused"] == 10' "refusals not counted" 'j["service"]'
log "PASS: pipelining, 200 slow heads timed out, idle closed, 20 of 30 served with 10 refused"
