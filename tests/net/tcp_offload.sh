#!/usr/bin/env bash
# A kernel peer with TX checksum offload on (veth's default) cannot reach a
# pagenet TCP service over AF_XDP: its segments leave with only the
# pseudo-header sum in the checksum field, for a device to finish that
# never sees them. The stack counts such segments apart (bad_csum_partial,
# with the peer's address) and pagenet-zcsrv's live stats say what to do;
# with the offload off the same client connects.
# usage: tcp_offload.sh PAGENET_ZCSRV
ZCSRV=$1
source "$(dirname "$0")/lib.sh"
need_root
command -v curl >/dev/null || skip "curl is not installed"
tcp_topology
ip netns exec $NS_K ethtool -K k0 tx on >/dev/null

log "the peer's TX checksum offload on: no connection, and the live stats say why"
bg_start ZC_PID $NS_S ready $tmp/o.txt $tmp/o.err "$ZCSRV" --port af_xdp:iface=s0 --ip $S_IP/24 \
	--mode http --listen 8080 --stats-period 0.3 --no-telemetry
ip netns exec $NS_K ping -q -c 2 -i 0.2 -W 1 $S_IP >/dev/null || fail "no ping (ICMP has no offload)"
if ip netns exec $NS_K curl -sS -m 2 -o /dev/null http://$S_IP:8080/10 2>/dev/null; then
	fail "connected although every segment's checksum is unfinished"
fi
sleep 0.7
kill -INT "$ZC_PID"
wait "$ZC_PID" || fail "pagenet-zcsrv exited $?"
grep -q "TCP segments from $K_IP carry an unfinished checksum.*ethtool -K .* tx off" $tmp/o.txt ||
	{ tail -5 $tmp/o.txt >&2; fail "the live stats did not name the cause"; }

log "offload off: the same client connects"
ip netns exec $NS_K ethtool -K k0 tx off >/dev/null
zc_start $tmp/j.json $tmp/j.err --mode http --listen 8080 --no-telemetry
[ "$(ip netns exec $NS_K curl -sS -m 5 http://$S_IP:8080/10)" = "pagenet ze" ] ||
	fail "no response with the offload off"
zc_stop $tmp/j.json $tmp/j.err
expect $tmp/j.json 'j["tcp"]["bad_csum_partial"] == 0' "partial checksums counted" 'j["tcp"]'
log "PASS: offload on named in the live stats, off connects"
