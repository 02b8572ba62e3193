#!/usr/bin/env python3
"""Kernel-side TCP peers for the stack tests (run inside the test's namespace).

  echo   --to IP:PORT --bytes N     send N random bytes, read them back, compare
  many   --to IP:PORT --count N     open N connections at once, then one GET each
  stream --to IP:PORT --bytes N     send N bytes as fast as possible, print seconds
"""
import argparse
import asyncio
import os
import socket
import sys
import threading
import time


def addr(s):
    host, port = s.rsplit(':', 1)
    return host, int(port)


def echo(a):
    data = os.urandom(a.bytes)
    s = socket.create_connection(addr(a.to), timeout=a.timeout)
    got = bytearray()
    err = []

    def reader():
        try:
            while len(got) < len(data):
                b = s.recv(1 << 20)
                if not b:
                    break
                got.extend(b)
        except Exception as e:  # reported below
            err.append(e)

    t = threading.Thread(target=reader)
    t.start()
    view = memoryview(data)
    for off in range(0, len(data), 65536):
        s.sendall(view[off:off + 65536])
    t.join(a.timeout)
    s.shutdown(socket.SHUT_WR)
    s.close()
    if err:
        sys.exit(f'echo: {err[0]}')
    if bytes(got) != data:
        first = next((i for i in range(min(len(got), len(data))) if got[i] != data[i]), None)
        sys.exit(f'echo: got {len(got)} of {len(data)} bytes back, first difference at {first}')
    print(f'echo: {len(data)} bytes back intact')


def many(a):
    host, port = addr(a.to)

    async def run():
        conns = await asyncio.wait_for(
            asyncio.gather(*[asyncio.open_connection(host, port) for _ in range(a.count)]),
            a.timeout)
        print(f'many: {len(conns)} connections open at once')

        async def req(rw):
            r, w = rw
            w.write(b'GET /100 HTTP/1.1\r\nHost: pagenet\r\n\r\n')
            await w.drain()
            head = await r.readuntil(b'\r\n\r\n')
            body = await r.readexactly(100)
            w.close()
            return head.startswith(b'HTTP/1.1 200') and len(body) == 100

        ok = await asyncio.wait_for(asyncio.gather(*[req(c) for c in conns]), a.timeout)
        return sum(ok)

    served = asyncio.run(run())
    if served != a.count:
        sys.exit(f'many: {served} of {a.count} served')
    print(f'many: {served} served')


def stream(a):
    buf = bytes(1 << 20)
    s = socket.create_connection(addr(a.to), timeout=a.timeout)
    t0 = time.monotonic()
    left = a.bytes
    while left:
        n = min(left, len(buf))
        s.sendall(memoryview(buf)[:n])
        left -= n
    s.shutdown(socket.SHUT_WR)
    s.recv(1)  # the server closes after the last byte
    s.close()
    print(f'{time.monotonic() - t0:.3f}')


def main():
    p = argparse.ArgumentParser()
    p.add_argument('cmd', choices=['echo', 'many', 'stream'])
    p.add_argument('--to', required=True)
    p.add_argument('--bytes', type=int, default=1 << 20)
    p.add_argument('--count', type=int, default=100)
    p.add_argument('--timeout', type=float, default=60)
    a = p.parse_args()
    {'echo': echo, 'many': many, 'stream': stream}[a.cmd](a)


if __name__ == '__main__':
    main()
