#!/usr/bin/env bash
# MTU 9000 and MTU 1280 end to end against the kernel, IPv4 and IPv6, in
# XDP's native and generic (skb) modes: the largest ping that fits the MTU
# (don't fragment) both families, a 100 MB POST (the kernel sends 9,000-byte
# frames, AF_XDP hands them over in several chunks) and a 100 MB GET
# (pagenet sends 8,948-byte segments, a descriptor per chunk), byte-exact,
# over both families, without timeouts. Then the refusal: an MTU the device
# does not carry is refused, naming the largest it does (so no MSS is ever
# offered for frames that cannot arrive).
# usage: tcp_jumbo.sh PAGENET_ZCSRV
ZCSRV=$1
source "$(dirname "$0")/lib.sh"
need_root
for t in curl sha256sum; do command -v $t >/dev/null || skip "$t is not installed"; done
tcp_topology

BYTES=100000000
head -c $BYTES /dev/urandom >$tmp/post.bin
up_sha=$(sha256sum <$tmp/post.bin | cut -d' ' -f1)
get_sha=$(python3 -c "import hashlib,sys; n=int(sys.argv[1]); l=b'pagenet zero-copy generated body\n'; print(hashlib.sha256((l*(n//len(l)+1))[:n]).hexdigest())" $BYTES)

set_mtu() {
	ip -n $NS_K link set k0 mtu $1
	ip -n $NS_S link set s0 mtu $1
}

# one MTU, one XDP mode
run() {
	local mtu=$1 xdp=$2 got
	set_mtu $mtu
	log "MTU $mtu, XDP $xdp"
	bg_start ZC_PID $NS_S ready $tmp/o.json $tmp/o.err "$ZCSRV" \
		--port af_xdp:iface=s0,xdp=$xdp --ip $S_IP/24 --ip6 $S_IP6/64 --mtu $mtu --json \
		--mode http --listen 8080
	ip netns exec $NS_K ping -q -c 3 -i 0.2 -W 2 -M do -s $((mtu - 28)) $S_IP >&2 ||
		fail "MTU $mtu: no reply to a $((mtu - 28))-byte ping"
	ip netns exec $NS_K ping -6 -q -c 3 -i 0.2 -W 2 -M do -s $((mtu - 48)) $S_IP6 >&2 ||
		fail "MTU $mtu: no reply to a $((mtu - 48))-byte ping -6"
	for host in $S_IP "[$S_IP6]"; do
		got=$(ip netns exec $NS_K curl -sS -g -m 60 --data-binary @$tmp/post.bin "http://$host:8080/post") ||
			fail "MTU $mtu $host: the POST did not finish"
		[ "$got" = "$up_sha" ] || fail "MTU $mtu $host: POST SHA-256 $got, want $up_sha"
		ip netns exec $NS_K curl -sS -g -m 60 -o $tmp/get.bin "http://$host:8080/$BYTES" ||
			fail "MTU $mtu $host: the GET did not finish"
		[ "$(sha256sum <$tmp/get.bin | cut -d' ' -f1)" = "$get_sha" ] ||
			fail "MTU $mtu $host: the GET's bytes are wrong"
	done
	zc_stop $tmp/o.json $tmp/o.err
	expect $tmp/o.json 'j["tcp"]["rto_expired"] <= 2 and j["tcp"]["bad_csum"] == 0' \
		"MTU $mtu: transfers that needed timeouts" 'j["tcp"]'
}

run 9000 native
run 9000 skb
run 1280 native

log "refused: the device's MTU is 1500, the stack asks for 9000"
set_mtu 1500
ip netns exec $NS_S "$ZCSRV" --port af_xdp:iface=s0 --ip $S_IP/24 --mtu 9000 --duration 1 \
	>$tmp/r.out 2>$tmp/r.err && fail "MTU 9000 on a 1500 device was taken"
grep -q "MTU 1500 is the largest it can take, not 9000" $tmp/r.err ||
	{ cat $tmp/r.err >&2; fail "the refusal does not say what the device carries"; }
log "PASS"
