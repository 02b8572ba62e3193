#!/usr/bin/env bash
# pagenet's XDP program steers only what it owns: with proto=udp,dport=9000
# on a1, UDP to port 9000 is forwarded while ICMP and ARP for a1's own
# address still reach the kernel on that same interface.
# usage: steer.sh PAGENET_FWD
FWD=$1
source "$(dirname "$0")/lib.sh"
need_root
topology
ip -n $NS_F addr add 10.77.0.254/24 dev a1

fwd_start $tmp/o.json $tmp/o.err --json af_xdp:iface=a1,proto=udp,dport=9000 af_xdp:iface=b1
ip netns exec $NS_B python3 "$here/udp_check.py" recv --bind 10.77.0.2:9000 --count 500 \
	--timeout 20 >$tmp/recv 2>$tmp/recv.err &
rp=$!; pids+=("$rp")
for _ in $(seq 50); do grep -q ready $tmp/recv.err && break; sleep 0.1; done
log "ICMP to the interface's own address: answered by the kernel in F"
ip netns exec $NS_A ping -q -c 10 -i 0.05 -W 1 10.77.0.254 >&2 ||
	fail "traffic the program does not own did not reach the kernel"
log "UDP to port 9000: steered to pagenet and forwarded to B"
ip netns exec $NS_A python3 "$here/udp_check.py" send --to 10.77.0.2:9000 --count 500 --size 300
wait $rp || { cat $tmp/recv >&2; fail "steered UDP did not arrive"; }
fwd_stop $tmp/o.json $tmp/o.err
steered=$(json_final $tmp/o.json 'j["ports"][0]["stats"]["xdp_steered"]')
passed=$(json_final $tmp/o.json 'j["ports"][0]["stats"]["xdp_passed"]')
[ "$steered" -ge 500 ] || fail "steered $steered < 500"
[ "$passed" -ge 10 ] || fail "passed $passed < 10 (the echo requests)"
log "PASS: steered $steered, passed to the kernel $passed"
