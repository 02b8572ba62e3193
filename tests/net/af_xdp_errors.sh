#!/usr/bin/env bash
# What a first-time user gets told when AF_XDP cannot work as set up: one
# clear line each, without libbpf's own account unless --verbose asks for
# it: another XDP program holds the interface; the link is down; the kernel
# has the very address pagenet is to answer for.
# usage: af_xdp_errors.sh PAGENET_ZCSRV PAGENET_FWD
ZCSRV=$1 FWD=$2
source "$(dirname "$0")/lib.sh"
need_root
prog=/usr/lib/x86_64-linux-gnu/bpf/xdpfilt_alw_all.o
[ -f $prog ] || prog=$(find /usr/lib -name xdpfilt_alw_all.o 2>/dev/null | head -1)
[ -n "$prog" ] && [ -f "$prog" ] || skip "xdpfilt_alw_all.o (libxdp's xdp-filter objects) not found"
tcp_topology

log "a foreign XDP program on the interface: named in one line, exit non-zero"
ip netns exec $NS_S ip link set dev s0 xdpgeneric obj "$prog" sec xdp ||
	skip "iproute2 cannot load an XDP object here"
rc=0; ip netns exec $NS_S "$FWD" --duration 1 --no-telemetry af_xdp:iface=s0 >/dev/null 2>$tmp/f.err || rc=$?
[ $rc -ne 0 ] || fail "started over a foreign XDP program"
grep -q "s0 already runs the XDP program 'xdpfilt_alw_all', which is not pagenet's" $tmp/f.err ||
	{ cat $tmp/f.err >&2; fail "the foreign program was not named"; }
! grep -qi 'libbpf\|libxdp\|root\|bpffs' $tmp/f.err ||
	{ cat $tmp/f.err >&2; fail "library noise or a wrong hint without --verbose"; }
[ "$(grep -c . $tmp/f.err)" -le 2 ] || { cat $tmp/f.err >&2; fail "more than two lines"; }
rc=0; ip netns exec $NS_S "$FWD" -v --duration 1 --no-telemetry af_xdp:iface=s0 >/dev/null 2>$tmp/v.err || rc=$?
grep -q 'libxdp: ' $tmp/v.err || { cat $tmp/v.err >&2; fail "--verbose shows no libxdp detail"; }
ip netns exec $NS_S ip link set dev s0 xdpgeneric off

log "the link is down: a warning"
ip -n $NS_S link set s0 down
ip netns exec $NS_S "$FWD" --duration 0.5 --no-telemetry af_xdp:iface=s0 >/dev/null 2>$tmp/d.err ||
	{ cat $tmp/d.err >&2; fail "pagenet-fwd failed on a down link"; }
grep -q 's0 is down: nothing arrives until it is up' $tmp/d.err || { cat $tmp/d.err >&2; fail "no warning"; }
ip -n $NS_S link set s0 up

log "the kernel has the address pagenet-zcsrv is given: a warning"
ip -n $NS_S addr add $S_IP/24 dev s0
rc=0; ip netns exec $NS_S "$ZCSRV" --port af_xdp:iface=s0 --ip $S_IP/24 --duration 0.5 \
	--no-telemetry >/dev/null 2>$tmp/a.err || rc=$?
grep -q "s0: the kernel has $S_IP on this interface too" $tmp/a.err ||
	{ cat $tmp/a.err >&2; fail "no warning about the shared address"; }
ip -n $NS_S addr flush dev s0
log "PASS: a foreign program, a down link, a shared address: one line each"
