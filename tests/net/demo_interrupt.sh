#!/usr/bin/env bash
# Ctrl-C during `usertools/pagenet-dev demo` ends the whole demo: interrupted
# while pagenet-fwd forwards iperf3, and again in the HTTP part, it exits
# 130, leaves no namespace, no iperf3 and nothing attached, and does not
# carry on to the next step.
# usage: demo_interrupt.sh BUILD_DIR (the demo runs that build's programs)
BUILD=$1
source "$(dirname "$0")/lib.sh"
need_root
for t in iperf3 curl wrk; do command -v $t >/dev/null || skip "$t is not installed"; done
top=$(cd "$here/../.." && pwd)
ip netns list | grep -q '^pn-demo-' && skip "a demo is running (namespaces pn-demo-*)"
tmp=$(mktemp -d)
demo_pid=
stop_demo() {
	[ -n "$demo_pid" ] && kill -9 -- -"$demo_pid" 2>/dev/null || true
	for n in pn-demo-a pn-demo-f pn-demo-b; do ip netns del $n 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap stop_demo EXIT

for at in 4 11; do
	log "Ctrl-C ${at} s into the demo"
	# job control on: the demo runs in a process group of its own (a
	# terminal's Ctrl-C goes to a whole group) and, unlike a plain
	# background job of a script, does not start with SIGINT ignored
	set -m
	env PAGENET_DEMO_BUILD="$BUILD" DEMO_DURATION=6 "$top/usertools/pagenet-dev" demo \
		>$tmp/out 2>&1 &
	demo_pid=$!
	set +m
	sleep $at
	grep -q 'topology' $tmp/out || { cat $tmp/out >&2; fail "the demo did not get going"; }
	kill -INT -- -"$demo_pid"
	rc=0; wait "$demo_pid" || rc=$?
	demo_pid=
	[ $rc -eq 130 ] || { tail -20 $tmp/out >&2; fail "exit $rc, not 130"; }
	grep -q 'demo done' $tmp/out && { tail -20 $tmp/out >&2; fail "the demo carried on"; }
	left=$(ip netns list | grep '^pn-demo-' || true)
	[ -z "$left" ] || fail "namespaces left: $left"
	pgrep -x iperf3 >/dev/null && fail "iperf3 left running: $(pgrep -a -x iperf3)"
	pgrep -f 'iface=pn-[ab]1' >/dev/null && fail "a pagenet program of the demo left running"
	grep -q 'interrupted' $tmp/out || fail "no word that it was interrupted"
done
log "PASS: interrupted twice, cleaned up twice, exit 130"
