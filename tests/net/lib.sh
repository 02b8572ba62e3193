# Shared by the network tests: namespaces, veth pairs, cleanup.
#
# Topology (names carry this test's pid so runs never collide; `topology N`
# gives every veth end N queues):
#
#   ns A (kernel)        ns F (pagenet-fwd)          ns B (kernel)
#   a0 10.77.0.1 <-veth-> a1 ==AF_XDP== b1 <-veth-> b0 10.77.0.2
#
# Everything is deleted on exit, whatever the exit path. Traffic only ever
# goes to addresses inside these namespaces.
set -euo pipefail

SKIP=77
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
id=$$
NS_A=pnA$id NS_F=pnF$id NS_B=pnB$id
pids=()

skip() {
	if [ "${CI:-}" = true ]; then
		echo "FAIL (CI must run this test): $*" >&2
		exit 1
	fi
	echo "SKIP: $*" >&2
	exit $SKIP
}

fail() { echo "FAIL: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }

need_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, XDP)"
	for t in ip ethtool ping python3; do
		command -v $t >/dev/null || skip "$t is not installed"
	done
}

cleanup() {
	local rc=$?
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	for n in $NS_A $NS_F $NS_B; do ip netns del $n 2>/dev/null || true; done
	[ -n "${tmp:-}" ] && rm -rf "$tmp"
	exit $rc
}

topology() {
	trap cleanup EXIT INT TERM
	tmp=$(mktemp -d)
	ip netns add $NS_A
	ip netns add $NS_F
	ip netns add $NS_B
	local q=${1:-1} # queues per veth end
	ip link add a0 netns $NS_A numtxqueues $q numrxqueues $q type veth \
		peer name a1 netns $NS_F numtxqueues $q numrxqueues $q
	ip link add b0 netns $NS_B numtxqueues $q numrxqueues $q type veth \
		peer name b1 netns $NS_F numtxqueues $q numrxqueues $q
	ip -n $NS_A addr add 10.77.0.1/24 dev a0
	ip -n $NS_B addr add 10.77.0.2/24 dev b0
	ip -n $NS_A link set a0 up
	ip -n $NS_B link set b0 up
	ip -n $NS_F link set a1 up
	ip -n $NS_F link set b1 up
	ip -n $NS_F link set lo up
	# veth would send partial checksums that nobody completes after AF_XDP
	ip netns exec $NS_A ethtool -K a0 tx off >/dev/null
	ip netns exec $NS_B ethtool -K b0 tx off >/dev/null
	MAC_A0=$(ip netns exec $NS_A cat /sys/class/net/a0/address)
	MAC_B0=$(ip netns exec $NS_B cat /sys/class/net/b0/address)
	# the forwarder is a wire: each side reaches the other's MAC directly
	ip -n $NS_A neigh add 10.77.0.2 lladdr "$MAC_B0" dev a0 nud permanent
	ip -n $NS_B neigh add 10.77.0.1 lladdr "$MAC_A0" dev b0 nud permanent
}

# bg_start PIDVAR NS MARKER OUT ERR CMD...: run CMD in namespace NS in the
# background, its pid in PIDVAR, and wait until MARKER shows on its stderr
bg_start() {
	local var=$1 ns=$2 marker=$3 out=$4 err=$5 p; shift 5
	ip netns exec "$ns" "$@" >"$out" 2>"$err" &
	p=$!
	pids+=("$p")
	printf -v "$var" %s "$p"
	for _ in $(seq 100); do
		grep -q "$marker" "$err" && return 0
		kill -0 "$p" 2>/dev/null || { cat "$err" >&2; fail "$(basename "$1") did not start"; }
		sleep 0.1
	done
	cat "$err" >&2
	fail "$(basename "$1") did not start in 10 s"
}

# fwd_start OUT ERR ARGS...: start pagenet-fwd in ns F, wait until it runs
fwd_start() {
	local out=$1 err=$2; shift 2
	bg_start FWD_PID $NS_F 'Ctrl-C stops' "$out" "$err" "$FWD" "$@"
}

# fwd_stop: Ctrl-C, then the exit status must be 0 (every page back)
fwd_stop() {
	local rc=0
	kill -INT "$FWD_PID"
	wait "$FWD_PID" || rc=$?
	[ $rc -eq 0 ] || { cat "$2" >&2; fail "pagenet-fwd exited with $rc"; }
	grep -q 'every page came back' "$2" || fail "no clean-exit report"
}

# json_final OUT EXPR: evaluate a python expression on the final JSON line (j)
json_final() {
	python3 - "$1" "$2" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')]
j = [l for l in lines if l.get('final')][-1]
steady = [l for l in lines if not l.get('final')]
print(eval(sys.argv[2]))
PY
}

# ---- TCP tests: the pagenet stack in ns S on s0, the kernel's TCP in ns K
#
#   ns K (kernel)              ns S (pagenet-zcsrv)
#   k0 10.79.0.1 <--veth--> s0 ==AF_XDP== stack 10.79.0.2
#
# s0 itself has no address: the XDP program steers 10.79.0.2 (and ARP for
# it) to the stack; the kernel in S sees nothing of it.
NS_K=$NS_A NS_S=$NS_F
K_IP=10.79.0.1 S_IP=10.79.0.2
K_IP6=fd79::1 S_IP6=fd79::2

tcp_topology() {
	trap cleanup EXIT INT TERM
	tmp=$(mktemp -d)
	ip netns add $NS_K
	ip netns add $NS_S
	local q=${1:-1} # queues per veth end (`tcp_topology 2`: the kernel spreads flows)
	ip link add k0 netns $NS_K numtxqueues $q numrxqueues $q type veth \
		peer name s0 netns $NS_S numtxqueues $q numrxqueues $q
	ip -n $NS_K addr add $K_IP/24 dev k0
	# IPv6 too (nodad: usable at once; the stack runs its own DAD)
	ip -n $NS_K addr add $K_IP6/64 dev k0 nodad
	ip -n $NS_K link set k0 up
	ip -n $NS_K link set lo up
	ip -n $NS_S link set s0 up
	ip -n $NS_S link set lo up
	# veth would send partial checksums that nobody completes after AF_XDP
	ip netns exec $NS_K ethtool -K k0 tx off >/dev/null
}

# kernel_file_server BYTES: python's http.server in ns K on $K_IP:8000
# serving $tmp/www/f.bin of BYTES random bytes; its SHA-256 in $want
kernel_file_server() {
	mkdir -p $tmp/www
	head -c "$1" /dev/urandom >$tmp/www/f.bin
	want=$(sha256sum <$tmp/www/f.bin | cut -d' ' -f1)
	(cd $tmp/www && exec ip netns exec $NS_K python3 -m http.server 8000 --bind $K_IP) >/dev/null 2>&1 &
	pids+=($!)
	for _ in $(seq 50); do
		ip netns exec $NS_K bash -c "echo >/dev/tcp/$K_IP/8000" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "python's http.server did not start"
}

# wrk_clean ARGS...: wrk from ns K into $tmp/wrk (shown on stderr); fails
# on a wrk error, a socket error or a response other than 2xx
wrk_clean() {
	ip netns exec $NS_K wrk "$@" >$tmp/wrk 2>&1 || { cat $tmp/wrk >&2; fail "wrk failed"; }
	cat $tmp/wrk >&2
	grep -q 'Socket errors' $tmp/wrk && fail "wrk saw socket errors"
	grep -q 'Non-2xx' $tmp/wrk && fail "wrk saw non-2xx responses"
	return 0
}

# serial_gets N URL: N connections from ns K one after another, each a GET
# of URL; every one must answer 200
serial_gets() {
	ip netns exec $NS_K bash -c "for i in \$(seq $1); do curl -sS -m 5 -o /dev/null -w '%{http_code}\n' '$2'; done" \
		>$tmp/codes 2>&1
	[ "$(grep -c '^200$' $tmp/codes)" = "$1" ] ||
		{ sort $tmp/codes | uniq -c >&2; fail "not every connection to $2 was served"; }
}

# zc_start OUT ERR ARGS...: run pagenet-zcsrv in ns S, wait until it serves
zc_start() {
	local out=$1 err=$2; shift 2
	bg_start ZC_PID $NS_S ready "$out" "$err" \
		"$ZCSRV" --port af_xdp:iface=s0 --ip $S_IP/24 --json "$@"
}

# zc_stop OUT ERR: Ctrl-C; exit 0 means every page came back and the
# group's charge is 0
zc_stop() {
	local rc=0
	kill -INT "$ZC_PID"
	wait "$ZC_PID" || rc=$?
	[ $rc -eq 0 ] || { tail -5 "$2" >&2; fail "pagenet-zcsrv exited with $rc"; }
}

# zc_wait OUT ERR: a client run ends by itself; exit 0 = transfer verified
zc_wait() {
	local rc=0
	wait "$ZC_PID" || rc=$?
	[ $rc -eq 0 ] || { tail -3 "$1" >&2; tail -5 "$2" >&2; fail "pagenet-zcsrv client exited with $rc"; }
}

# expect OUT EXPR MSG: a python expression on the final JSON line must hold
expect() {
	[ "$(json_final "$1" "bool($2)")" = True ] ||
		fail "$3 ($2; final: $(json_final "$1" "$4"))"
}
