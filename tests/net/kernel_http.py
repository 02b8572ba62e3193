#!/usr/bin/env python3
"""The kernel's TCP serving what pagenet-zcsrv --mode http serves, for tests
and benchmarks that put both side by side on one veth:

  GET /N     N bytes of zcsrv's generated body (one line repeated), sent
             with sendfile(2) from a file in /dev/shm, as nginx would;
  POST ...   the body read and hashed; the answer is its SHA-256 in hex.

One thread per connection, keep-alive. Prints 'ready' on stderr once it
listens. usage: kernel_http.py ADDR PORT [MAX_BYTES [CONGESTION_CONTROL]]
(the congestion control by TCP_CONGESTION on the listener: its sockets
inherit it, whatever the namespace's default is)
"""
import hashlib
import os
import socket
import sys
import tempfile
import threading

LINE = b'pagenet zero-copy generated body\n'


def body_file(size):
    f = tempfile.NamedTemporaryFile(dir='/dev/shm' if os.path.isdir('/dev/shm') else None,
                                    prefix='pn-khttp-', delete=True)
    chunk = LINE * (1 << 16)
    left = size
    while left:
        n = min(left, len(chunk))
        f.write(chunk[:n])
        left -= n
    f.flush()
    return f


def serve(conn, body_fd, body_max):
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    pending = b''
    try:
        while True:
            while b'\r\n\r\n' not in pending:
                d = conn.recv(65536)
                if not d:
                    return
                pending += d
                if len(pending) > 65536:
                    return
            head, pending = pending.split(b'\r\n\r\n', 1)
            lines = head.decode('latin-1').split('\r\n')
            method, path = lines[0].split(' ')[:2]
            hdr = {}
            for l in lines[1:]:
                k, _, v = l.partition(':')
                hdr[k.strip().lower()] = v.strip()
            if method == 'POST':
                left = int(hdr.get('content-length', '0'))
                if hdr.get('expect', '').lower() == '100-continue':
                    conn.sendall(b'HTTP/1.1 100 Continue\r\n\r\n')
                h = hashlib.sha256()
                take = pending[:left]
                h.update(take)
                left -= len(take)
                pending = pending[len(take):]
                while left:
                    n = conn.recv_into(view[:min(left, len(buf))])
                    if n == 0:
                        return
                    h.update(view[:n])
                    left -= n
                out = h.hexdigest().encode() + b'\n'
                conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n' % len(out) + out)
            elif method == 'GET':
                try:
                    n = int(path.lstrip('/') or '0')
                except ValueError:
                    n = -1
                if n < 0 or n > body_max:
                    conn.sendall(b'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n')
                    continue
                conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n' % n)
                off = 0
                while off < n:
                    off += os.sendfile(conn.fileno(), body_fd, off, n - off)
            else:
                conn.sendall(b'HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n')
    except (ConnectionError, OSError, ValueError):
        pass
    finally:
        conn.close()


def main():
    addr, port = sys.argv[1], int(sys.argv[2])
    body_max = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000_000
    cc = sys.argv[4] if len(sys.argv) > 4 else None
    f = body_file(body_max)
    fam = socket.AF_INET6 if ':' in addr else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if cc:
        ls.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())
    ls.bind((addr, port))
    ls.listen(128)
    print('ready', file=sys.stderr, flush=True)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c, f.fileno(), body_max), daemon=True).start()


if __name__ == '__main__':
    main()
