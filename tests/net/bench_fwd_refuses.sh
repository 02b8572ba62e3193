#!/usr/bin/env bash
# pagenet-bench-fwd refuses a result when a forwarder did not forward: here
# dpdk-testpmd is given a device argument its AF_XDP driver rejects, so it
# never starts; the bench must name the round, print no ratio, exit 1, and
# leave no namespace behind.
# usage: bench_fwd_refuses.sh PAGENET_FWD
FWD=$1
source "$(dirname "$0")/lib.sh"
need_root
command -v dpdk-testpmd >/dev/null || skip "dpdk-testpmd is not installed (dpdk package)"
bench="$(dirname "$0")/../../usertools/pagenet-bench-fwd"
# the bench builds and deletes its own namespaces; ours are not needed
trap cleanup EXIT INT TERM
tmp=$(mktemp -d)

log "testpmd that cannot start: no result, exit 1"
rc=0
TESTPMD_XDP_ARGS=",no_such_devarg=1" "$bench" --fwd "$FWD" --rounds 1 --warmup 0.5 \
	--window 1 >$tmp/out 2>$tmp/err || rc=$?
cat $tmp/out $tmp/err >&2
[ $rc -eq 1 ] || fail "exit status $rc, not 1"
grep -q "no result" $tmp/err || fail "the refusal was not said"
grep -q "round 1: testpmd delivered 0.000 Mpps" $tmp/err || fail "the round was not named"
! grep -q "ratio" $tmp/out || fail "a ratio was printed"
for ns in pnbA pnbF pnbB; do
	! ip netns list | grep -qw $ns || fail "namespace $ns left behind"
done
log "PASS"
