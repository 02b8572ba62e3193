#!/usr/bin/env bash
# A hostile peer (scapy, tcp_hostile.py) against pagenet-zcsrv's echo,
# over IPv4 and IPv6: out-of-window data, bad checksums, option lists that
# lie, RFC 5961 RSTs and SYNs, overlapping segments with different bytes,
# an exact RST, a 3,000-SYN flood followed by a real client, a fragment
# flood followed by a fragmented ping, overlapping fragments, a peer that
# shuts its window and goes quiet. Each case names what Linux does;
# pagenet must do as well. The counters must show every case was seen and
# counted. Then TIME-WAIT churn: 20,000 connections (ab, HTTP/1.0, the
# server closes) back to back through a socket table of 264, all served,
# thousands left in TIME-WAIT and none of them holding a socket.
# usage: tcp_hostile.sh PAGENET_ZCSRV
ZCSRV=$1
source "$(dirname "$0")/lib.sh"
need_root
/usr/bin/python3 -c 'import scapy.all' 2>/dev/null || skip "python3-scapy is not installed"
tcp_topology

zc_start $tmp/h.json $tmp/h.err --mode echo --listen 7 --ip6 $S_IP6/64
ip netns exec $NS_K /usr/bin/python3 "$here/tcp_hostile.py" k0 10.79.0.9 $S_IP 7 fd79::9 $S_IP6 >&2 ||
	fail "a hostile case did not hold"
zc_stop $tmp/h.json $tmp/h.err
expect $tmp/h.json 'j["tcp"]["challenge_acks"] >= 2 and j["tcp"]["rfc5961_rst_dropped"] >= 1' \
	"RFC 5961 cases not counted" 'j["tcp"]'
expect $tmp/h.json 'j["tcp"]["bad_csum"] >= 1 and j["tcp"]["bad_segs"] >= 3' \
	"malformed segments not counted" 'j["tcp"]'
expect $tmp/h.json 'j["tcp"]["syncookies_sent"] > 0 and j["tcp"]["syncookies_ok"] >= 1' \
	"the flood met no cookies" 'j["tcp"]'
expect $tmp/h.json 'j["net"]["ip_reasm_evicted"] > 0 and j["net"]["ip_reasm_ok"] >= 4 and j["net"]["ip_frags_out"] >= 2 and j["net"]["ip6_frags_out"] >= 2 and j["net"]["ip_reasm_overlap"] >= 2' \
	"reassembly not bounded or not done" 'j["net"]'
expect $tmp/h.json 'j["tcp"]["window_probes"] >= 6' "no window probes" 'j["tcp"]'

log "TIME-WAIT churn: 20,000 connections the server closes first"
command -v ab >/dev/null || skip "ab (apache2-utils) is not installed"
# a socket table of 264 (--max-conns 100): TIME-WAIT entries must not hold it
zc_start $tmp/t.json $tmp/t.err --mode http --listen 8080 --max-conns 100
ip netns exec $NS_K ab -q -n 20000 -c 8 http://$S_IP:8080/100 >$tmp/ab 2>&1 ||
	{ cat $tmp/ab >&2; fail "ab failed"; }
grep -q '^Complete requests: *20000' $tmp/ab && grep -q '^Failed requests: *0' $tmp/ab ||
	{ cat $tmp/ab >&2; fail "not every request served"; }
zc_stop $tmp/t.json $tmp/t.err
# ab closes some itself first (those leave no TIME-WAIT here)
expect $tmp/t.json 'j["tcp"]["established"] >= 20000 and j["tcp"]["time_wait"] >= 1000 and j["tcp"]["time_wait_recycled"] == 0 and j["tcp"]["syn_dropped_no_socket"] == 0 and j["tcp"]["sockets"] <= 10' \
	"TIME-WAIT kept sockets or refused connections" 'j["tcp"]'
log "PASS: $(json_final $tmp/h.json '{k: j["tcp"][k] for k in ("challenge_acks", "bad_segs", "syncookies_sent", "syncookies_ok")}')"
