#!/usr/bin/env bash
# pagenet-zcsrv http against clients that hold slots for nothing: three
# pipelined requests behind a 3 MB response come back in order; 200 heads
# that never finish get 408 and are closed after --header-timeout; a
# keep-alive connection left idle is closed after --idle-timeout; at
# --max-conns a newcomer takes the place of the least recently active idle
# connection, as nginx reuses connections (30 idle against 20, then one
# with a request: that one answered at once, the last 19 idle still
# served, 11 closed and counted), and is refused (counted) when every connection is mid-request.
# Every page back.
# usage: tcp_http_limits.sh PAGENET_ZCSRV
ZCSRV=$1
source "$(dirname "$0")/lib.sh"
need_root
tcp_topology

zc_start $tmp/o.json $tmp/o.err --mode http --listen 8080 --header-timeout 1 --idle-timeout 2
ip netns exec $NS_K python3 "$here/tcp_check.py" pipeline --to $S_IP:8080 >&2 || fail "pipelining"
ip netns exec $NS_K python3 "$here/tcp_check.py" framing --to $S_IP:8080 --timeout 5 >&2 || fail "framing"
(ulimit -n 4096; ip netns exec $NS_K python3 "$here/tcp_check.py" slow --to $S_IP:8080 --count 200) >&2 ||
	fail "slow heads"
ip netns exec $NS_K python3 "$here/tcp_check.py" idle --to $S_IP:8080 --wait 2 >&2 || fail "idle"
zc_stop $tmp/o.json $tmp/o.err
expect $tmp/o.json 'j["service"]["pipelined"] >= 1 and j["service"]["header_timeouts"] == 200 and j["service"]["idle_timeouts"] >= 1' \
	"pipelining and timeouts not counted" 'j["service"]'

# bodies that stop and a response nobody reads fill every slot; they time
# out as a stalled head does
zc_start $tmp/t.json $tmp/t.err --mode http --listen 8080 --max-conns 6 --body-timeout 1 --send-timeout 1
ip netns exec $NS_K python3 "$here/tcp_check.py" stall --to $S_IP:8080 --count 5 --wait 3 --timeout 10 >&2 ||
	fail "stalled bodies and a non-reader"
zc_stop $tmp/t.json $tmp/t.err
expect $tmp/t.json 'j["service"]["body_timeouts"] == 5 and j["service"]["send_timeouts"] == 1' \
	"body and send timeouts not counted" 'j["service"]'

zc_start $tmp/m.json $tmp/m.err --mode http --listen 8080 --max-conns 20
read -r served waited < <(ip netns exec $NS_K python3 "$here/tcp_check.py" limit --to $S_IP:8080 --count 30)
[ "$served" = 19 ] || fail "--max-conns 20: $served of 30 idle connections served, want the last 19"
[ "$waited" != refused ] || fail "--max-conns 20: a request after 30 idle connections was refused"
python3 -c "import sys; sys.exit(float(sys.argv[1]) > 0.5)" "$waited" ||
	fail "--max-conns 20: a request after 30 idle connections waited $waited s"
read -r late < <(ip netns exec $NS_K python3 "$here/tcp_check.py" limit_busy --to $S_IP:8080 --count 20)
[ "$late" = refused ] || fail "--max-conns 20 all mid-request: the newcomer was $late"
zc_stop $tmp/m.json $tmp/m.err
expect $tmp/m.json 'j["service"]["conns_evicted"] == 11 and j["service"]["conns_refused"] == 1' \
	"evictions and refusals not counted" 'j["service"]'
log "PASS: pipelining, 200 slow heads timed out, idle closed, the idle made room ($waited s), the busy refused"
