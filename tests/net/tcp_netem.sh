#!/usr/bin/env bash
# TCP on a wire that loses, reorders, duplicates and corrupts, impaired in
# the kernel (pagenet-netem's tc program on both ports of a bridge between
# the peers), not in pagenet: for each condition, over IPv4 and IPv6, a
# POST and a GET of 20 MB against pagenet-zcsrv and against the kernel's
# TCP on the same veth in the same run, every transfer's SHA-256 checked.
# pagenet must take no longer than three times the kernel (CUBIC both)
# plus two seconds: a regression to timeout-driven recovery (50 s where
# the kernel takes 1) fails it, a noisy machine does not. The counters
# must show the impairment was done and what repaired it.
#
#   ns K (curl) k0 -- rk [bridge in ns R, netem on rk, rs] rs -- s0 ns S
#   s0: pagenet-zcsrv 10.79.0.2 / fd79::2 (AF_XDP), the kernel 10.79.0.3 / fd79::3
#
# usage: tcp_netem.sh PAGENET_ZCSRV   (pagenet-netem is found beside it)
ZCSRV=$1
NETEM=$(dirname "$ZCSRV")/../netem/pagenet-netem
source "$(dirname "$0")/lib.sh"
need_root
command -v curl >/dev/null || skip "curl is not installed"
[ -x "$NETEM" ] || skip "pagenet-netem was not built (libbpf, clang)"
BYTES=${NETEM_BYTES:-20000000}

trap cleanup EXIT INT TERM
tmp=$(mktemp -d)
NS_R=pnR$id
cleanup_r() { ip netns del $NS_R 2>/dev/null || true; }
trap 'rc=$?; cleanup_r; cleanup; exit $rc' EXIT INT TERM
ip netns add $NS_K
ip netns add $NS_R
ip netns add $NS_S
ip link add k0 netns $NS_K type veth peer name rk netns $NS_R
ip link add s0 netns $NS_S type veth peer name rs netns $NS_R
ip -n $NS_R link add br0 type bridge
ip -n $NS_R link set rk master br0
ip -n $NS_R link set rs master br0
for d in rk rs br0; do ip -n $NS_R link set $d up; done
ip -n $NS_K addr add $K_IP/24 dev k0
ip -n $NS_K addr add $K_IP6/64 dev k0 nodad
ip -n $NS_S addr add 10.79.0.3/24 dev s0
ip -n $NS_S addr add fd79::3/64 dev s0 nodad
for n in $NS_K $NS_S; do ip -n $n link set lo up; done
ip -n $NS_K link set k0 up
ip -n $NS_S link set s0 up
# complete checksums from every sender (corruption must be seen), GRO for
# the kernel's receivers
ip netns exec $NS_K ethtool -K k0 tx off gro on >/dev/null
ip netns exec $NS_S ethtool -K s0 tx off gro on >/dev/null

for a in 10.79.0.3 fd79::3; do
	bg_start KH $NS_S ready $tmp/kh.out $tmp/kh-$a.err python3 "$here/kernel_http.py" $a 8080 $BYTES cubic
done
zc_start $tmp/zc.json $tmp/zc.err --mode http --listen 8080 --ip6 $S_IP6/64 --cc cubic

head -c $BYTES /dev/urandom >$tmp/up.bin
up_sha=$(sha256sum <$tmp/up.bin | cut -d' ' -f1)
get_sha=$(python3 -c "import hashlib,sys; n=int(sys.argv[1]); l=b'pagenet zero-copy generated body\n'; print(hashlib.sha256((l*(n//len(l)+1))[:n]).hexdigest())" $BYTES)

# xfer KIND URL: seconds on stdout; fails on wrong bytes or no finish
xfer() {
	local kind=$1 url=$2 out t
	if [ $kind = POST ]; then
		out=$(ip netns exec $NS_K curl -sS -m 120 -g --data-binary @$tmp/up.bin -w ' %{time_total}' "$url/post") ||
			fail "POST $url did not finish: $out"
		t=$(echo "${out% *}" | tr -d '\n')
		[ "$t" = "$up_sha" ] || fail "POST $url: SHA-256 $t, want $up_sha"
	else
		out=$(ip netns exec $NS_K curl -sS -m 120 -g -o $tmp/get.bin -w '%{time_total}' "$url/$BYTES") ||
			fail "GET $url did not finish"
		[ "$(sha256sum <$tmp/get.bin | cut -d' ' -f1)" = "$get_sha" ] || fail "GET $url: wrong bytes"
	fi
	echo "${out##* }"
}

run_condition() {
	local name=$1 spec=$2 fam host_k host_p kind tk tp
	bg_start NM $NS_R ready $tmp/nm.json $tmp/nm.err "$NETEM" --interval 0 --json rk:$spec rs:$spec
	for fam in 4 6; do
		if [ $fam = 4 ]; then host_k=10.79.0.3 host_p=$S_IP; else host_k='[fd79::3]' host_p="[$S_IP6]"; fi
		for kind in POST GET; do
			tk=$(xfer $kind http://$host_k:8080)
			tp=$(xfer $kind http://$host_p:8080)
			log "$name IPv$fam $kind: kernel $tk s, pagenet $tp s"
			python3 -c "import sys; k, p = map(float, sys.argv[1:]); sys.exit(0 if p <= 3 * k + 2 else 1)" $tk $tp ||
				fail "$name IPv$fam $kind: pagenet $tp s against the kernel's $tk s"
		done
	done
	kill -INT $NM
	wait $NM || fail "pagenet-netem exited with an error"
	# the impairment happened both ways
	python3 - "$tmp/nm.json" "$name" <<'PY' || fail "$name: pagenet-netem did not impair"
import json, sys
j = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')][-1]['devs']
key = {'loss': 'lost', 'reorder': 'delayed', 'dup': 'duplicated', 'corrupt': 'corrupted'}[sys.argv[2]]
ok = all(j[d][key] > 0 for d in ('rk', 'rs'))
print(sys.argv[2], {d: j[d][key] for d in ('rk', 'rs')}, file=sys.stderr)
sys.exit(0 if ok else 1)
PY
}

run_condition loss loss=2%
run_condition reorder reorder=25%,delay=10
run_condition dup dup=2%
run_condition corrupt corrupt=0.5%
zc_stop $tmp/zc.json $tmp/zc.err
# what repaired it: loss found from ACKs (RACK), not only by timeouts;
# D-SACK both ways; a probe for a lost tail at least once
expect $tmp/zc.json 'j["tcp"]["rack_lost"] > 0 and j["tcp"]["fast_retrans"] > 0' \
	"no loss found from ACKs" 'j["tcp"]'
expect $tmp/zc.json 'j["tcp"]["dsack_out"] > 0 and j["tcp"]["dsack_in"] > 0' \
	"no D-SACK" 'j["tcp"]'
expect $tmp/zc.json 'j["tcp"]["rto_expired"] < j["tcp"]["fast_retrans"]' \
	"timeouts outnumber fast recoveries" 'j["tcp"]'
expect $tmp/zc.json 'j["tcp"]["bad_csum"] > 0' "corruption was not caught" 'j["tcp"]'
log "PASS: $(json_final $tmp/zc.json '{k: j["tcp"][k] for k in ("fast_retrans", "rto_expired", "rack_lost", "tlp_probes", "tlp_recoveries", "dsack_in", "dsack_out", "undo_recoveries", "spurious_rto", "ooo_segs")}')"
