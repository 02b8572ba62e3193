#!/usr/bin/env bash
# Smoke runs of the apps: they start, print valid JSON, stop on time or on
# SIGINT, and report every page back (exit 0).
set -euo pipefail
app=$1; shift
out=$(mktemp)
trap 'rm -f "$out"' EXIT

case "$app" in
*pooldemo)
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
	"$app" --help | grep -q -- --duration
	;;
*bench)
	"$app" --help | grep -q -- --json
	"$app" pool --quick --json >"$out"
	python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
names = {r["name"] for r in rows}
need = {"alloc_put_single", "alloc_put_bulk32", "frag_alloc_put_2k", "pkt_alloc_free"}
assert need <= names, names
for r in rows:
    for k in ("name", "ours_ns", "anchor", "anchor_ns", "ratio"):
        assert k in r, (k, r)
    assert r["ours_ns"] > 0 and r["anchor_ns"] > 0
    assert abs(r["ratio"] - r["ours_ns"] / r["anchor_ns"]) < 0.01
print("bench: %d rows" % len(rows))
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
