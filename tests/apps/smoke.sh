#!/usr/bin/env bash
# Smoke runs of the apps: they start, print valid JSON, stop on time or on
# SIGINT, and report every page back (exit 0).
set -euo pipefail
app=$1; shift
out=$(mktemp)
pid=
# a failed check must not leave an app running in the background
cleanup() {
	local rc=$?
	rm -f "$out"
	if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
	exit $rc
}
trap cleanup EXIT

# APP ARGS...: a long-running app stops as on Ctrl-C on SIGTERM and SIGHUP,
# and when the reader of its output goes away (`| head`): exit 0 (every
# page back), no telemetry socket left behind
stops_cleanly() {
	local rt rc sig codes
	rt=$(mktemp -d)
	for sig in TERM HUP; do
		PAGENET_RUNTIME_DIR=$rt "$@" >/dev/null 2>"$out" &
		pid=$!
		sleep 0.7
		kill -$sig "$pid"
		rc=0; wait "$pid" || rc=$?
		pid=
		[ $rc -eq 0 ] || { echo "SIG$sig: exit $rc"; cat "$out"; exit 1; }
	done
	set +e
	PAGENET_RUNTIME_DIR=$rt timeout 20 "$@" 2>"$out" | head -c 1 >/dev/null
	codes=("${PIPESTATUS[@]}")
	set -e
	[ "${codes[0]}" -eq 0 ] || { echo "reader gone: exit ${codes[0]}"; cat "$out"; exit 1; }
	[ -z "$(ls -A "$rt")" ] || { echo "left behind: $(ls "$rt")"; exit 1; }
	rm -rf "$rt"
	echo "$(basename "$1"): SIGTERM, SIGHUP and a closed pipe end it cleanly"
}

# APP ARGS...: refused with exit 2 and a message naming the value
refused() {
	local rc=0
	"$@" >/dev/null 2>"$out" || rc=$?
	[ $rc -eq 2 ] && grep -q "bad value" "$out" || { echo "not refused ($rc): $*"; cat "$out"; exit 1; }
}

case "$app" in
*zcsrv)
	# no root needed: the loop driver, nobody on the other end
	grep -q -- --app-mem <<<"$("$app" --help)"
	stops_cleanly "$app" --port loop:pair=zs --ip 10.1.1.1/24 --json --stats-period 0.2
	refused "$app" --port loop:pair=z --ip 10.1.1.1/24 --duration abc
	refused "$app" --port loop:pair=z --ip 10.1.1.1/24 --queues 17
	refused "$app" --port loop:pair=z --ip 10.1.1.1/24 --queues 0
	# a stack per queue: both report, every page back at the end
	"$app" --port loop:pair=zq --ip 10.1.1.1/24 --queues 2 --duration 1 --json --no-telemetry \
		>"$out" 2>/dev/null
	python3 -c '
import json, sys
final = [json.loads(l) for l in open(sys.argv[1])][-1]
assert final["final"] and final["nb_queues"] == 2 and len(final["queues"]) == 2, final
print("zcsrv --queues 2: clean exit")
' "$out"
	refused "$app" --port loop:pair=z --ip 10.1.1.1/24 --stats-period -1
	refused "$app" --port loop:pair=z --ip 10.1.1.1/24 --read-size 10
	refused "$app" --port loop:pair=z --ip 10.1.1.1/24 --read-size 2M
	rc=0; "$app" --port loop:pair=z --ip 10.1.1.1/24 --mode nosuch 2>"$out" || rc=$?
	[ $rc -eq 2 ] && grep -q -- '--mode' "$out" || { cat "$out"; exit 1; }
	rc=0; "$app" --port loop:pair=z --ip 10.1.1.1/24 --inject rx_loss=7 2>"$out" || rc=$?
	[ $rc -eq 2 ] && grep -q 'rx_loss' "$out" || { cat "$out"; exit 1; }
	rc=0; "$app" --port loop:pair=z --ip 10.1.1.1/24 --mode fetch 2>"$out" || rc=$?
	[ $rc -eq 2 ] && grep -q -- '--connect' "$out" || { cat "$out"; exit 1; }
	"$app" --port loop:pair=z --ip 10.1.1.1/24 --mode http --acct smoke/zc:64 --app-mem \
		--pages 2048 --no-telemetry --json --stats-period 0.2 >"$out" 2>/dev/null &
	pid=$!
	sleep 1
	kill -INT "$pid"
	wait "$pid"
	pid=
	python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
final = rows[-1]
assert final["final"] and len(rows) >= 3, rows
assert final["acct"]["memory.max"] == 64, final["acct"]
assert final["tcp"]["sockets"] == 0 and final["tcp"]["zc_tokens_out"] == 0, final["tcp"]
print("zcsrv: %d stat lines, clean exit" % len(rows))
' "$out"
	;;
*pooldemo)
	stops_cleanly "$app" --json
	refused "$app" --pages 4294967360
	refused "$app" --pages 12x
	refused "$app" --duration abc
	refused "$app" --remote-percent 101
	"$app" --duration 1.5 --json >"$out"
	python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
final = rows[-1]
assert final["type"] == "final", final
assert final["inflight"] == 0, final
assert final["packets"] > 0, final
assert 0.0 <= final["recycle_rate"] <= 1.0
print("pooldemo: %d packets, recycle rate %.4f" % (final["packets"], final["recycle_rate"]))
' "$out"
	# Ctrl-C: must exit 0 with every page back
	"$app" --json >"$out" &
	pid=$!
	sleep 1
	kill -INT "$pid"
	wait "$pid"
	tail -n 1 "$out" | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["type"]=="final" and r["inflight"]==0, r'
	grep -q -- --duration <<<"$("$app" --help)"
	;;
*bench)
	grep -q -- --json <<<"$("$app" --help)"
	refused "$app" pool --rounds 0
	refused "$app" pool --iters abc
	refused "$app" pool --procs 0
	"$app" pool --quick --json >"$out"
	python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
names = {r["name"] for r in rows}
need = {"alloc_put_single", "alloc_put_bulk32", "frag_alloc_put_2k", "pkt_alloc_free"}
assert need <= names, names
for r in rows:
    for k in ("name", "ours_ns", "anchor", "anchor_ns", "ratio", "ratio_min", "ratio_max",
              "procs", "per_process"):
        assert k in r, (k, r)
    assert r["ours_ns"] > 0 and r["anchor_ns"] > 0
    # each fresh process its own ratio; the row gives their median and spread
    assert r["procs"] == 2 == len(r["per_process"]), r
    ratios = sorted(p["ratio"] for p in r["per_process"])
    for p in r["per_process"]:
        assert abs(p["ratio"] - p["ours_ns"] / p["anchor_ns"]) < 0.01 * p["ratio"] + 0.002, p
    assert abs(r["ratio_min"] - ratios[0]) < 0.002 and abs(r["ratio_max"] - ratios[-1]) < 0.002, r
    assert r["ratio_min"] - 0.002 <= r["ratio"] <= r["ratio_max"] + 0.002, r
print("bench: %d rows" % len(rows))
' "$out"
	"$app" acct --quick --json >"$out"
	python3 -c '
import json, sys
rows = {r["name"]: r for r in map(json.loads, open(sys.argv[1]))}
assert {"acct_alloc_charge_put"} <= set(rows), rows
assert all(r["ours_ns"] > 0 and r["anchor_ns"] > 0 for r in rows.values())
' "$out"
	# Ctrl-C mid-run: exits 0 after cleaning up
	"$app" pool --rounds 31 --iters 5000000 >"$out" &
	pid=$!
	sleep 2
	kill -INT "$pid"
	wait "$pid"
	grep -q "interrupted" "$out"
	;;
esac

case "$app" in
*fwd)
	top=$(cd "$(dirname "$0")/../.." && pwd)
	grep -q -- --mode <<<"$("$app" --help)"
	stops_cleanly "$app" --mode txonly --json --stats-period 0.2 loop:pair=st loop:pair=st
	# loop ports from a config file, JSON lines, stop on time, pages back
	"$app" -c "$top/config/fwd-loop.ini" --json --duration 1.5 --stats-period 0.5 \
		--no-telemetry >"$out"
	python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
final = rows[-1]
assert final["final"] and len(rows) >= 3, rows
assert final["ports"][1]["stats"]["ipackets"] > 1000, final
print("fwd: %d packets over the loop pair" % final["ports"][1]["stats"]["ipackets"])
' "$out"
	# fault injection under forwarding: an impair port over each loop port
	"$app" --mode txonly --impair rx_loss=0.1,rx_dup=0.05,rx_reorder=0.05,seed=3 --json \
		--duration 1 --no-telemetry loop:pair=i loop:pair=i >"$out"
	python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
final = rows[-1]
p = final["ports"][1]
imp, got = p["impair"], p["stats"]["ipackets"]
assert p["driver"] == "impair", p
lost = imp["rx_lost"] / (imp["rx_lost"] + got - imp["rx_dup"])
assert 0.08 < lost < 0.12 and imp["rx_dup"] > 0 and imp["rx_reordered"] > 0, (lost, imp)
print("fwd --impair: %.3f lost, %d duplicated, %d reordered" % (lost, imp["rx_dup"], imp["rx_reordered"]))
' "$out"
	bad=$(mktemp)
	printf '[port 0]\ndriver = loop\nargs = pair=b\nimpair = rx_loss=1.5\n' >"$bad"
	rc=0; "$app" -c "$bad" 2>"$out" || rc=$?
	rm -f "$bad"
	[ "$rc" -eq 2 ] && grep -q ":4:" "$out" && grep -q "rx_loss=1.5" "$out" || { cat "$out"; exit 1; }
	rc=0; "$app" --impair tx_dup=x loop:pair=b 2>"$out" || rc=$?
	[ "$rc" -ne 0 ] && grep -q "tx_dup" "$out" || { cat "$out"; exit 1; }
	# the generator over IPv6 (frames checked in test_wire); families must match
	"$app" --mode txonly --src-ip fd00::1 --dst-ip fd00::2 --pkt-size 128 --json --duration 0.5 \
		--no-telemetry loop:pair=v6 loop:pair=v6 >"$out"
	python3 -c '
import json, sys
final = [json.loads(l) for l in open(sys.argv[1])][-1]
assert final["ports"][1]["stats"]["ipackets"] > 1000, final["ports"][1]["stats"]
' "$out"
	rc=0; "$app" --mode txonly --src-ip fd00::1 --dst-ip 10.0.0.2 loop:pair=v6 2>"$out" || rc=$?
	[ "$rc" -ne 0 ] && grep -q "one family" "$out" || { cat "$out"; exit 1; }
	# --pipeline: refused where it cannot work, runs and stops cleanly where it can
	rc=0; "$app" --pipeline --mode txonly loop:pair=p loop:pair=p 2>"$out" || rc=$?
	[ "$rc" -ne 0 ] && grep -q "pipeline" "$out" || { cat "$out"; exit 1; }
	rc=0; "$app" --pipeline --impair rx_loss=0.1 loop:pair=p loop:pair=p 2>"$out" || rc=$?
	[ "$rc" -ne 0 ] && grep -q "impair" "$out" || { cat "$out"; exit 1; }
	"$app" --pipeline --duration 0.5 --no-telemetry loop:pair=pl loop:pair=pl >/dev/null 2>"$out" ||
		{ cat "$out"; exit 1; }
	# every mode runs; Ctrl-C exits 0 with every page back
	for m in io mac macswap rxonly txonly; do
		"$app" --mode $m --duration 0.3 --no-telemetry loop:pair=m loop:pair=m >/dev/null
	done
	# pagenet-stat reads it live through telemetry, as JSON and as a plot
	export PAGENET_RUNTIME_DIR=$(mktemp -d)
	"$app" --mode txonly --rate 100000 loop:pair=s loop:pair=s >/dev/null 2>"$out" &
	pid=$!
	sleep 0.5
	"$top/usertools/pagenet-stat" --pid "$pid" --json --count 2 --interval 0.3 \
		--plot "$PAGENET_RUNTIME_DIR/plot.svg" >"$out.stat"
	python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 2, rows
last = rows[-1]
assert last["pools"][0]["recycle_rate_total"] > 0.99, last
assert sum(p["rx_pps"] for p in last["ports"]) > 10000, last
' "$out.stat"
	grep -q '<svg' "$PAGENET_RUNTIME_DIR/plot.svg"
	reply=$("$top/usertools/pagenet-stat" --pid "$pid" --cmd /fwd)
	grep -q '"txonly"' <<<"$reply"
	# what a user gets wrong: a clear message and a non-zero exit, no traceback
	for bad in "--cmd /bogus" "--plot /nonexistent/dir/x.svg" "--plot x.gif" \
		"--interval -1" "--count 0" "--interval abc"; do
		rc=0; "$top/usertools/pagenet-stat" --pid "$pid" $bad >/dev/null 2>"$out.stat" || rc=$?
		[ $rc -ne 0 ] && ! grep -q Traceback "$out.stat" && grep -q 'pagenet-stat' "$out.stat" ||
			{ echo "pagenet-stat $bad: exit $rc"; cat "$out.stat"; exit 1; }
	done
	# --plot writes the format its name asks for
	"$top/usertools/pagenet-stat" --pid "$pid" --count 2 --interval 0.2 \
		--plot "$PAGENET_RUNTIME_DIR/plot.png" >/dev/null 2>&1
	[ "$(head -c 4 "$PAGENET_RUNTIME_DIR/plot.png" | od -An -c | tr -d ' ')" = '211PNG' ] ||
		{ echo "--plot x.png is not a PNG"; exit 1; }
	kill -INT "$pid"
	wait "$pid"
	grep -q "every page came back" "$out"
	# accounting: received pages charged to a group, shown live, 0 at the end
	"$app" --mode txonly --rate 100000 --acct svc/fwd:100 --json --stats-period 0.3 \
		loop:pair=g loop:pair=g >"$out" 2>/dev/null &
	pid=$!
	sleep 0.5
	"$top/usertools/pagenet-stat" --pid "$pid" --json --count 1 --interval 0.3 >"$out.stat"
	kill -INT "$pid"
	wait "$pid"
	python3 -c '
import json, sys
stat = json.loads(open(sys.argv[1]).read())
g = {x["path"]: x for x in stat["groups"]}
assert g["/svc/fwd"]["memory.max"] == 100, g
assert g["/svc/fwd"]["memory.current"] <= 100, g
rows = [json.loads(l) for l in open(sys.argv[2])]
final = rows[-1]
assert final["final"] and final["acct"]["path"] == "/svc/fwd", final
# the pool may still cut fragments from one charged page: at most 1 here;
# pagenet-fwd exits 1 if anything is still charged after the pools are gone
assert final["acct"]["memory.current"] <= 1, final["acct"]
assert final["acct"]["memory.peak"] > 0, final["acct"]
print("fwd --acct: peak %d pages" % final["acct"]["memory.peak"])
' "$out.stat" "$out"
	rm -rf "$PAGENET_RUNTIME_DIR" "$out.stat"
	# a bad config names its line and exits 2
	bad=$(mktemp)
	printf '[fwd]\nmode = io\nburst = 99999\n' >"$bad"
	rc=0; "$app" -c "$bad" loop:pair=b 2>"$out" || rc=$?
	rm -f "$bad"
	[ "$rc" -eq 2 ] && grep -q ":3:" "$out" || { cat "$out"; exit 1; }
	# a line inih itself refuses is named too, with nothing "above" to see
	bad=$(mktemp)
	printf '[fwd]
mode io
' >"$bad"
	rc=0; "$app" -c "$bad" loop:pair=b 2>"$out" || rc=$?
	rm -f "$bad"
	[ "$rc" -eq 2 ] && grep -q ":2: not an INI line" "$out" || { cat "$out"; exit 1; }
	# an empty [port 0] would vanish and [port 1] become port 0: named
	bad=$(mktemp)
	printf '[fwd]\nmode = io\n\n[port 0]\n\n[port 1]\ndriver = loop\nargs = pair=e\n' >"$bad"
	rc=0; "$app" -c "$bad" --duration 0.1 2>"$out" || rc=$?
	rm -f "$bad"
	[ "$rc" -eq 2 ] && grep -q ":4: \[port 0\] is empty" "$out" || { cat "$out"; exit 1; }
	# one port where they forward in pairs: named, for io and txonly
	for mode in io txonly; do
		bad=$(mktemp)
		printf '[fwd]\nmode = %s\n[port 0]\ndriver = loop\nargs = pair=s\n' $mode >"$bad"
		rc=0; "$app" -c "$bad" --duration 0.1 2>"$out" || rc=$?
		rm -f "$bad"
		[ "$rc" -eq 2 ] && grep -q ":3: port 0 has no partner" "$out" || { cat "$out"; exit 1; }
	done
	rc=0; "$app" nosuchdriver:x=1 2>"$out" || rc=$?
	[ "$rc" -ne 0 ] && grep -q "no port driver" "$out"
	;;
esac
