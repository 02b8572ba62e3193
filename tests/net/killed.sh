#!/usr/bin/env bash
# A pagenet-fwd killed with SIGKILL leaves its XDP program on the interfaces;
# the next start removes it (its process is gone) and forwards, and a clean
# exit leaves no program behind. Neither does one whose output reader goes
# away (`--json | head -1`), nor SIGTERM or SIGHUP.
# usage: killed.sh PAGENET_FWD
FWD=$1
source "$(dirname "$0")/lib.sh"
need_root
topology

fwd_start $tmp/1.out $tmp/1.err af_xdp:iface=a1 af_xdp:iface=b1
kill -9 "$FWD_PID"
wait "$FWD_PID" 2>/dev/null || true
grep -q 'prog/xdp' <<<"$(ip -n $NS_F link show a1)" || fail "expected the killed process's program to remain"
log "killed; program left on a1. Starting again"
fwd_start $tmp/2.out $tmp/2.err af_xdp:iface=a1 af_xdp:iface=b1
grep -q 'removing the XDP program left by process' $tmp/2.err || fail "stale program not reported"
ip netns exec $NS_A ping -q -c 5 -i 0.1 -W 1 10.77.0.2 >&2 || fail "no forwarding after restart"
log "a second instance on the same interfaces is refused while the first runs"
rc=0; ip netns exec $NS_F timeout 10 "$FWD" --duration 1 af_xdp:iface=a1 >$tmp/3.out 2>$tmp/3.err || rc=$?
[ $rc -ne 0 ] && grep -q 'in use by pagenet process' $tmp/3.err || { cat $tmp/3.err >&2; fail "second instance not refused"; }
! grep -qi 'root\|bpffs\|libbpf\|libxdp' $tmp/3.err || { cat $tmp/3.err >&2; fail "a wrong hint or library noise"; }
fwd_stop $tmp/2.out $tmp/2.err
if grep -q 'prog/xdp' <<<"$(ip -n $NS_F link show)"; then fail "XDP program left after a clean exit"; fi
log "--json | head -1: the reader goes, pagenet-fwd cleans up and exits 0"
set +e
ip netns exec $NS_F timeout 30 "$FWD" --json --stats-period 0.2 af_xdp:iface=a1 af_xdp:iface=b1 \
	2>$tmp/4.err | head -1 >$tmp/4.out
codes=("${PIPESTATUS[@]}")
set -e
[ "${codes[0]}" -eq 0 ] || { cat $tmp/4.err >&2; fail "pagenet-fwd exited ${codes[0]} when its reader went away"; }
python3 -c 'import json,sys; json.loads(open(sys.argv[1]).read())' $tmp/4.out || fail "no JSON line first"
if grep -q 'prog/xdp' <<<"$(ip -n $NS_F link show)"; then fail "XDP program left after the reader went away"; fi
for sig in TERM HUP; do
	fwd_start $tmp/5.out $tmp/5.err af_xdp:iface=a1 af_xdp:iface=b1
	kill -$sig "$FWD_PID"
	rc=0; wait "$FWD_PID" || rc=$?
	[ $rc -eq 0 ] || fail "SIG$sig: exit $rc"
	if grep -q 'prog/xdp' <<<"$(ip -n $NS_F link show)"; then fail "XDP program left after SIG$sig"; fi
done
log "PASS"
