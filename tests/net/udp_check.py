#!/usr/bin/env python3
"""UDP sender and receiver that check datagrams arrive intact, once, in order.

send --to IP:PORT --count N --size S [--pps R]
recv --bind IP:PORT --count N --timeout S   prints a JSON verdict, exit 1 on a miss
Each payload is an 8-byte sequence number followed by bytes derived from it.
"""
import argparse, hashlib, json, socket, sys, time

def payload(seq, size):
    head = seq.to_bytes(8, 'big')
    body = hashlib.sha256(head).digest() * (size // 32 + 1)
    return head + body[:size - 8]

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('mode', choices=['send', 'recv'])
    ap.add_argument('--to'); ap.add_argument('--bind')
    ap.add_argument('--count', type=int, default=1000)
    ap.add_argument('--size', type=int, default=512)
    ap.add_argument('--pps', type=float, default=20000)
    ap.add_argument('--timeout', type=float, default=20)
    ap.add_argument('--any-payload', action='store_true',
                    help='count datagrams without checking them (generators)')
    a = ap.parse_args()
    if a.mode == 'send':
        host, port = a.to.rsplit(':', 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t0 = time.monotonic()
        for i in range(a.count):
            s.sendto(payload(i, a.size), (host, int(port)))
            if a.pps and i % 50 == 49:
                ahead = (i + 1) / a.pps - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)
        return 0
    host, port = a.bind.rsplit(':', 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:  # root may go past rmem_max, so a burst never overflows the socket
        s.setsockopt(socket.SOL_SOCKET, getattr(socket, 'SO_RCVBUFFORCE', 33), 8 << 20)
    except PermissionError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((host, int(port)))
    s.settimeout(0.5)
    got = bad = out_of_order = 0
    last = -1
    deadline = time.monotonic() + a.timeout
    print('ready', file=sys.stderr, flush=True)
    while got < a.count and time.monotonic() < deadline:
        try:
            data, _ = s.recvfrom(65536)
        except socket.timeout:
            continue
        got += 1
        if a.any_payload:
            continue
        seq = int.from_bytes(data[:8], 'big')
        if data != payload(seq, len(data)):
            bad += 1
        if seq <= last:
            out_of_order += 1
        last = seq
    ok = got == a.count and bad == 0 and out_of_order == 0
    print(json.dumps({'received': got, 'expected': a.count, 'corrupt': bad,
                      'out_of_order': out_of_order, 'ok': ok}))
    return 0 if ok else 1

sys.exit(main())
