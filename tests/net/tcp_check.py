#!/usr/bin/env python3
"""Kernel-side TCP peers for the stack tests (run inside the test's namespace).

  echo   --to IP:PORT --bytes N     send N random bytes, read them back, compare
  many   --to IP:PORT --count N     open N connections at once, then one GET each
  stream --to IP:PORT --bytes N     send N bytes as fast as possible, print seconds
  pipeline --to IP:PORT             two requests in one write, the first answered
                                    with more than a send buffer holds
  slow   --to IP:PORT --count N     N clients that never finish a request head:
                                    each must get 408 and be closed
  idle   --to IP:PORT --wait S      a kept-alive connection left idle S seconds
                                    must be closed by the server
  limit  --to IP:PORT --count N     N connections at once: print how many served
"""
import argparse
import asyncio
import errno
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


def read_until_closed(s):
    """Everything @s receives until the peer closes, resets or goes quiet
    for the socket's timeout."""
    data = b''
    try:
        while b := s.recv(4096):
            data += b
    except OSError:
        pass
    return data


def read_response(s, f):
    """One HTTP response from file @f: (status, body)."""
    head = b''
    while not head.endswith(b'\r\n\r\n'):
        c = f.read(1)
        if not c:
            raise EOFError('closed in a response head: %r' % head)
        head += c
    status = int(head.split(b' ', 2)[1])
    length = int([l.split(b':', 1)[1] for l in head.split(b'\r\n')
                  if l.lower().startswith(b'content-length:')][0])
    body = f.read(length)
    return status, body


def pipeline(a):
    s = socket.create_connection(addr(a.to), timeout=a.timeout)
    s.sendall(b'GET /3000000 HTTP/1.1\r\nHost: p\r\n\r\n'
              b'GET /10 HTTP/1.1\r\nHost: p\r\n\r\n'
              b'POST /h HTTP/1.1\r\nHost: p\r\nContent-Length: 3\r\n\r\nabc')
    f = s.makefile('rb')
    got = [read_response(s, f) for _ in range(3)]
    s.close()
    want = [(200, 3000000), (200, 10), (200, 65)]  # SHA-256 in hex and a newline
    if [(st, len(b)) for st, b in got] != want:
        sys.exit('pipeline: got %r' % [(st, len(b)) for st, b in got])
    print('pipeline: three requests in one write, three responses in order')


def framing(a):
    """RFC 9112 6: a GET's body is its own, never a second request; a
    Content-Length that is not digits, two that differ, one with
    Transfer-Encoding, or whitespace before a field's colon: 400"""
    def exchange(req, n=1):
        s = socket.create_connection(addr(a.to), timeout=a.timeout)
        s.sendall(req)
        f = s.makefile('rb')
        got = []
        for _ in range(n):
            try:
                got.append(read_response(s, f))
            except (OSError, ValueError):
                break
        # nothing more may come: a smuggled request would answer here
        s.settimeout(0.5)
        try:
            extra = s.recv(4096)
        except OSError:
            extra = b''
        s.close()
        return got, extra
    inner = b'GET /7 HTTP/1.1\r\nHost: p\r\n\r\n'
    got, extra = exchange(b'GET /5 HTTP/1.1\r\nHost: p\r\nContent-Length: %d\r\n\r\n%s'
                          b'GET /3 HTTP/1.1\r\nHost: p\r\n\r\n' % (len(inner), inner), 2)
    if [(st, len(b)) for st, b in got] != [(200, 5), (200, 3)] or extra:
        sys.exit(f'framing: a GET with a body: {[(st, len(b)) for st, b in got]}, then {extra[:60]!r}')
    s = socket.create_connection(addr(a.to), timeout=a.timeout)
    s.sendall(b'HEAD /5 HTTP/1.1\r\nHost: p\r\nContent-Length: %d\r\n\r\n%s' % (len(inner), inner))
    s.settimeout(1)
    data = read_until_closed(s)
    s.close()
    if data.count(b'HTTP/1.1 ') != 1:
        sys.exit(f'framing: a HEAD with a body: {data.count(b"HTTP/1.1 ")} responses: {data[:200]!r}')
    bad = {
        'not digits (1e1)': b'Content-Length: 1e1\r\n',
        'hex (0x10)': b'Content-Length: 0x10\r\n',
        'a fraction (1.9)': b'Content-Length: 1.9\r\n',
        'a suffix (1k)': b'Content-Length: 1k\r\n',
        'signed (+5)': b'Content-Length: +5\r\n',
        'two that differ': b'Content-Length: 5\r\nContent-Length: 6\r\n',
        'a list that differs': b'Content-Length: 5, 6\r\n',
        'with Transfer-Encoding': b'Transfer-Encoding: chunked\r\nContent-Length: 5\r\n',
        'space before the colon': b'Content-Length : 5\r\n',
        'a folded line': b'X-A: b\r\n c\r\nContent-Length: 5\r\n',
    }
    for what, fields in bad.items():
        got, extra = exchange(b'POST /h HTTP/1.1\r\nHost: p\r\n' + fields + b'\r\nhello'
                              b'GET /9 HTTP/1.1\r\nHost: p\r\n\r\n', 1)
        if [st for st, _ in got] != [400] or extra:
            sys.exit(f'framing: Content-Length {what}: {[st for st, _ in got]}, then {extra[:60]!r}')
    got, extra = exchange(b'POST /h HTTP/1.1\r\nHost: p\r\nContent-Length: 5, 5\r\n'
                          b'Content-Length: 5\r\n\r\nhello', 1)
    if [(st, len(b)) for st, b in got] != [(200, 65)] or extra:
        sys.exit(f'framing: equal Content-Lengths: {[(st, len(b)) for st, b in got]}')
    print(f'framing: bodies of GET and HEAD read and dropped; {len(bad)} ambiguous lengths refused')


def stall(a):
    """--count POSTs whose bodies stop arriving and one client that never
    reads its response hold every slot; after the body and send timeouts
    the POSTs have a 408 and are closed, the reader is reset, and a new
    client is served"""
    posts = []
    for _ in range(a.count):
        s = socket.create_connection(addr(a.to), timeout=a.timeout)
        s.sendall(b'POST /h HTTP/1.1\r\nHost: p\r\nContent-Length: 1000000\r\n\r\n0123456789')
        posts.append(s)
    r = socket.socket()
    r.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    r.settimeout(a.timeout)
    r.connect(addr(a.to))
    r.sendall(b'GET /1000000000 HTTP/1.1\r\nHost: p\r\n\r\n')
    time.sleep(a.wait)
    got408 = 0
    for s in posts:
        got408 += read_until_closed(s).startswith(b'HTTP/1.1 408')
        s.close()
    reset = False
    try:
        while r.recv(1 << 20):
            pass
    except ConnectionResetError:
        reset = True
    except OSError:
        pass
    r.close()
    s = socket.create_connection(addr(a.to), timeout=a.timeout)
    s.sendall(b'GET /5 HTTP/1.1\r\nHost: p\r\n\r\n')
    st, body = read_response(s, s.makefile('rb'))
    s.close()
    if got408 != a.count or not reset or st != 200 or len(body) != 5:
        sys.exit(f'stall: {got408} of {a.count} stalled bodies got 408, reader reset {reset}, '
                 f'then {st} with {len(body)} bytes')
    print(f'stall: {got408} stalled bodies got 408, the non-reader was reset, a new client served')


def slow(a):
    socks = []
    for _ in range(a.count):
        s = socket.create_connection(addr(a.to), timeout=a.timeout)
        s.sendall(b'GET / HTTP/1.1\r\nHost:')
        socks.append(s)
    ok = 0
    for s in socks:
        ok += read_until_closed(s).startswith(b'HTTP/1.1 408')
        s.close()
    if ok != a.count:
        sys.exit(f'slow: {ok} of {a.count} got 408 and a close')
    # and the server still serves
    s = socket.create_connection(addr(a.to), timeout=a.timeout)
    s.sendall(b'GET /5 HTTP/1.1\r\nHost: p\r\n\r\n')
    st, body = read_response(s, s.makefile('rb'))
    s.close()
    if st != 200 or len(body) != 5:
        sys.exit('slow: not served afterwards')
    print(f'slow: {ok} slow heads got 408 and were closed; a new client is served')


def idle(a):
    s = socket.create_connection(addr(a.to), timeout=a.wait + 10)
    s.sendall(b'GET /5 HTTP/1.1\r\nHost: p\r\n\r\n')
    f = s.makefile('rb')
    read_response(s, f)
    t0 = time.monotonic()
    rest = f.read(1)
    waited = time.monotonic() - t0
    s.close()
    if rest != b'' or waited < a.wait * 0.8:
        sys.exit(f'idle: closed after {waited:.1f} s (want about {a.wait})')
    print(f'idle: closed by the server after {waited:.1f} s')


def get_ok(s):
    try:
        s.sendall(b'GET /5 HTTP/1.1\r\nHost: p\r\n\r\n')
        st, body = read_response(s, s.makefile('rb'))
        return st == 200
    except (OSError, EOFError, IndexError):
        return False


def limit(a):
    """--count connections that send nothing, one after another, then one
    more with a request: prints how many of the first are served and the
    seconds the last one waited for its response"""
    socks, served = [], 0
    for _ in range(a.count):
        try:  # a refused one may be reset before connect() returns
            socks.append(socket.create_connection(addr(a.to), timeout=a.timeout))
        except OSError:
            pass
        time.sleep(0.002)
    time.sleep(0.5)
    t0 = time.monotonic()
    late = socket.create_connection(addr(a.to), timeout=a.timeout)
    late_ok = get_ok(late)
    waited = time.monotonic() - t0
    late.close()
    for s in socks:
        served += get_ok(s)
        s.close()
    print(served, f'{waited:.3f}' if late_ok else 'refused')


def limit_busy(a):
    """--count connections each in the middle of a request head, then one
    more: prints whether the newcomer was served (it should be refused: no
    connection is idle to make room)"""
    socks = []
    for _ in range(a.count):
        s = socket.create_connection(addr(a.to), timeout=a.timeout)
        s.sendall(b'GET /5 HTTP/1.1\r\nHost:')
        socks.append(s)
    time.sleep(0.5)
    try:
        late = socket.create_connection(addr(a.to), timeout=5)
        print('served' if get_ok(late) else 'refused')
    except OSError:
        print('refused')
    for s in socks:
        s.close()


def burst(a):
    """--count connections at once (non-blocking connects from --src),
    each sending a request once up; prints 'open N failed M' when every
    connect has an outcome, then holds them --wait seconds"""
    import resource
    import selectors
    resource.setrlimit(resource.RLIMIT_NOFILE, (a.count + 64, a.count + 64))
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(a.count):
        s = socket.socket()
        s.setsockopt(socket.SOL_IP, 24, 1)  # IP_BIND_ADDRESS_NO_PORT
        s.bind((a.src, 0))
        s.setblocking(False)
        try:
            s.connect(addr(a.to))
        except BlockingIOError:
            pass
        sel.register(s, selectors.EVENT_WRITE)
        socks.append(s)
    ok = failed = 0
    why = {}
    deadline = time.monotonic() + a.timeout
    while ok + failed < a.count and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            sel.unregister(s)
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err == 0:
                ok += 1
                try:
                    s.send(b'GET /10 HTTP/1.1\r\nHost: p\r\n\r\n')
                except OSError:
                    pass
            else:
                failed += 1
                name = errno.errorcode.get(err, str(err))
                why[name] = why.get(name, 0) + 1
    # still connecting at the deadline: neither
    print(f'open {ok} failed {failed} pending {a.count - ok - failed} why {why}', flush=True)
    time.sleep(a.wait)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('cmd', choices=['echo', 'many', 'stream', 'pipeline', 'framing', 'stall', 'slow',
                                   'idle', 'limit', 'limit_busy', 'burst'])
    p.add_argument('--src', help='burst: the local address')
    p.add_argument('--wait', type=float, default=2)
    p.add_argument('--to', required=True)
    p.add_argument('--bytes', type=int, default=1 << 20)
    p.add_argument('--count', type=int, default=100)
    p.add_argument('--timeout', type=float, default=60)
    a = p.parse_args()
    {'echo': echo, 'many': many, 'stream': stream, 'pipeline': pipeline, 'framing': framing, 'stall': stall,
     'slow': slow,
     'idle': idle, 'limit': limit, 'limit_busy': limit_busy, 'burst': burst}[a.cmd](a)


if __name__ == '__main__':
    main()
