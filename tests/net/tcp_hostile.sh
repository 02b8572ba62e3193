#!/usr/bin/env bash
# A hostile peer (scapy, tcp_hostile.py) against pagenet-zcsrv's echo:
# out-of-window data, bad checksums, option lists that lie, RFC 5961 RSTs
# and SYNs, overlapping segments with different bytes, an exact RST, a
# 3,000-SYN flood followed by a real client, and a fragment flood followed
# by a fragmented ping. Each case names what Linux does; pagenet must do
# as well. The counters must show every case was seen and counted.
# usage: tcp_hostile.sh PAGENET_ZCSRV
ZCSRV=$1
source "$(dirname "$0")/lib.sh"
need_root
/usr/bin/python3 -c 'import scapy.all' 2>/dev/null || skip "python3-scapy is not installed"
tcp_topology

zc_start $tmp/h.json $tmp/h.err --mode echo --listen 7
ip netns exec $NS_K /usr/bin/python3 "$here/tcp_hostile.py" k0 10.79.0.9 $S_IP 7 >&2 ||
	fail "a hostile case did not hold"
zc_stop $tmp/h.json $tmp/h.err
expect $tmp/h.json 'j["tcp"]["challenge_acks"] >= 2 and j["tcp"]["rfc5961_rst_dropped"] >= 1' \
	"RFC 5961 cases not counted" 'j["tcp"]'
expect $tmp/h.json 'j["tcp"]["bad_csum"] >= 1 and j["tcp"]["bad_segs"] >= 3' \
	"malformed segments not counted" 'j["tcp"]'
expect $tmp/h.json 'j["tcp"]["syncookies_sent"] > 0 and j["tcp"]["syncookies_ok"] >= 1' \
	"the flood met no cookies" 'j["tcp"]'
expect $tmp/h.json 'j["net"]["ip_reasm_evicted"] > 0 and j["net"]["ip_reasm_ok"] >= 1 and j["net"]["ip_frags_out"] >= 2' \
	"reassembly not bounded or not done" 'j["net"]'
log "PASS: $(json_final $tmp/h.json '{k: j["tcp"][k] for k in ("challenge_acks", "bad_segs", "syncookies_sent", "syncookies_ok")}')"
