#!/usr/bin/env bash
# Two queues per interface, one socket and one pinned thread per queue, all
# four sockets on one shared UMEM: kernel UDP spread over both queues (many
# flows) crosses intact and counted, with no userspace copy.
# usage: multiqueue.sh PAGENET_FWD
FWD=$1
source "$(dirname "$0")/lib.sh"
need_root
topology 2
# the kernel picks a veth tx queue per flow: let both be used
fwd_start $tmp/o.json $tmp/o.err --json --queues 2 af_xdp:iface=a1 af_xdp:iface=b1
ip netns exec $NS_B python3 - >$tmp/recv 2>$tmp/recv.err <<'PY' &
import socket, sys, time
socks = []
for port in range(9000, 9016):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # root: past rmem_max, so a burst never overflows the socket
    s.setsockopt(socket.SOL_SOCKET, getattr(socket, 'SO_RCVBUFFORCE', 33), 4 << 20)
    s.bind(('10.77.0.2', port)); s.setblocking(False); socks.append(s)
print('ready', file=sys.stderr, flush=True)
got, deadline = 0, time.monotonic() + 20
while got < 3200 and time.monotonic() < deadline:
    for s in socks:
        try:
            while True:
                s.recv(2048); got += 1
        except BlockingIOError:
            pass
    time.sleep(0.01)
print(got)
PY
rp=$!; pids+=("$rp")
for _ in $(seq 50); do grep -q ready $tmp/recv.err && break; sleep 0.1; done
# 16 flows (source and destination ports) so both queues carry traffic
ip netns exec $NS_A python3 - <<'PY'
import socket, time
for sport in range(16):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('10.77.0.1', 20000 + sport))
    for i in range(200):
        s.sendto(b'x' * 200, ('10.77.0.2', 9000 + sport))
        if i % 50 == 49:
            time.sleep(0.005)
PY
wait $rp || true
got=$(cat $tmp/recv)
fwd_stop $tmp/o.json $tmp/o.err
[ "$got" -eq 3200 ] || { tail -n 1 $tmp/o.json >&2; fail "received $got of 3200 datagrams"; }
json_final $tmp/o.json 'j["ports"][0]["queues"]' | grep -qx 2 || fail "ports do not have 2 queues"
per_q=$(json_final $tmp/o.json 'min(q["ipackets"] for q in j["ports"][0]["queue_stats"])')
[ "$per_q" -gt 0 ] || fail "a queue of a1 received nothing: flows did not spread"
copies=$(json_final $tmp/o.json 'sum(p["stats"]["tx_copies"] for p in j["ports"])')
[ "$copies" -eq 0 ] || fail "$copies copies"
log "PASS: 3200 datagrams over 2 queues, 0 copies"
