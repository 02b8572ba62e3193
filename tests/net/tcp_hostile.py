#!/usr/bin/python3
"""A hostile TCP peer, with scapy, against pagenet-zcsrv's echo service.

Runs in the kernel's namespace but speaks from an address the kernel does
not own (the kernel stays out of these connections: it neither answers
nor resets them); an ARP responder answers for that address. Each case
says what Linux's TCP does with the same segment and checks that pagenet
does as well. Exit 0 when every case holds.

usage: tcp_hostile.py IFACE MY_IP PEER_IP PORT
"""
import random
import socket
import struct
import subprocess
import sys
import threading
import time

from scapy.all import (ARP, IP, TCP, AsyncSniffer, Ether, Raw, conf, get_if_hwaddr,
                       sendp, srp1)

conf.verb = 0
iface, me, peer, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
mymac = get_if_hwaddr(iface)
failures = []


def case(name, kernel):
    print("== %s (Linux: %s)" % (name, kernel), flush=True)


def check(ok, what):
    print("   %s: %s" % ("ok" if ok else "FAILED", what), flush=True)
    if not ok:
        failures.append(what)


# ---- the wire: an ARP responder for our address, every TCP segment queued
got = []
cv = threading.Condition()


def on_packet(p):
    if ARP in p and p[ARP].op == 1 and p[ARP].pdst == me:
        sendp(Ether(dst=p[ARP].hwsrc, src=mymac) /
              ARP(op=2, hwsrc=mymac, psrc=me, hwdst=p[ARP].hwsrc, pdst=p[ARP].psrc),
              iface=iface)
    elif TCP in p and IP in p and p[IP].src == peer and p[IP].dst == me:
        with cv:
            got.append(p)
            cv.notify_all()


# no BPF filter: that would need tcpdump to compile it; on_packet sorts
sniffer = AsyncSniffer(iface=iface, prn=on_packet, store=False)
sniffer.start()
time.sleep(0.5)
reply = srp1(Ether(dst="ff:ff:ff:ff:ff:ff", src=mymac) /
             ARP(op=1, hwsrc=mymac, psrc=me, pdst=peer), iface=iface, timeout=3)
if reply is None:
    sys.exit("no ARP answer from %s" % peer)
peer_mac = reply[ARP].hwsrc


def wait_for(sport, pred, timeout=2.0):
    """The first queued segment to @sport that @pred accepts (taken)."""
    end = time.time() + timeout
    with cv:
        while True:
            for i, p in enumerate(got):
                if p[TCP].dport == sport and pred(p):
                    del got[i]
                    return p
            left = end - time.time()
            if left <= 0:
                return None
            cv.wait(left)


def drain(sport):
    with cv:
        got[:] = [p for p in got if p[TCP].dport != sport]


class Conn:
    def __init__(self):
        self.sport = random.randint(20000, 60000)
        self.seq = random.randint(0, 2**32 - 1)
        self.ack = 0
        self.echoed = b""

    def send_raw_options(self, data, options):
        """A PSH+ACK whose option bytes are @options as given (lengths
        that lie), the checksum right."""
        opts = options + b"\0" * ((4 - len(options) % 4) % 4)
        hdr = struct.pack("!HHIIBBHHH", self.sport, port, self.seq, self.ack,
                          ((20 + len(opts)) // 4) << 4, 0x18, 65535, 0, 0) + opts
        seg = hdr + data
        pseudo = (socket.inet_aton(me) + socket.inet_aton(peer) + b"\0\x06" +
                  len(seg).to_bytes(2, "big"))
        seg = seg[:16] + csum(pseudo + seg).to_bytes(2, "big") + seg[18:]
        sendp(Ether(src=mymac, dst=peer_mac) / IP(src=me, dst=peer, proto=6) / Raw(seg),
              iface=iface)

    def send(self, flags, data=b"", seq=None, ack=None, options=None, chksum=None, window=65535):
        t = TCP(sport=self.sport, dport=port, flags=flags,
                seq=self.seq if seq is None else seq % 2**32,
                ack=self.ack if ack is None else ack % 2**32, window=window,
                options=options or [])
        if chksum is not None:
            t.chksum = chksum
        pkt = Ether(src=mymac, dst=peer_mac) / IP(src=me, dst=peer) / t
        if data:
            pkt = pkt / Raw(data)
        sendp(pkt, iface=iface)

    def handshake(self):
        self.send("S", options=[("MSS", 1460)])
        sa = wait_for(self.sport, lambda p: p[TCP].flags & 0x12 == 0x12)
        if sa is None:
            return False
        self.seq += 1
        self.ack = sa[TCP].seq + 1
        self.send("A")
        return True

    def echo(self, data, timeout=2.0):
        """Send @data; collect the echo; ACK it. @return the bytes echoed."""
        self.send("PA", data)
        self.seq += len(data)
        return self.collect(len(data), timeout)

    def collect(self, n, timeout=2.0):
        out = b""
        end = time.time() + timeout
        while len(out) < n and time.time() < end:
            p = wait_for(self.sport, lambda p: Raw in p and p[TCP].seq == self.ack,
                         end - time.time())
            if p is None:
                break
            out += bytes(p[Raw].load)
            self.ack += len(p[Raw].load)
            self.send("A")
        return out

    def close(self):
        self.send("RA")


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(int.from_bytes(b[i:i + 2], "big") for i in range(0, len(b), 2))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def pure_ack(c):
    return lambda p: p[TCP].flags & 0x10 and Raw not in p and not p[TCP].flags & 0x07


# ---- the cases
c = Conn()
case("an echo over a handshake scapy makes", "echoes")
check(c.handshake(), "handshake")
check(c.echo(b"hello") == b"hello", "echo")

case("data far outside the window", "a duplicate ACK, the bytes dropped")
drain(c.sport)
c.send("PA", b"junk", seq=c.seq + 10_000_000)
a = wait_for(c.sport, pure_ack(c))
check(a is not None and a[TCP].ack == c.seq, "ACK of what was received so far")
check(c.echo(b"after") == b"after", "the stream goes on")

case("a bad checksum", "dropped silently")
c.send("PA", b"corrupt", chksum=0x1234)
check(wait_for(c.sport, lambda p: Raw in p, 0.5) is None, "nothing echoed")
check(c.echo(b"clean") == b"clean", "the next segment is taken")

case("option lists that lie (length 0, 1, past the header)", "the segment dropped")
for opts in (b"\x02\x00", b"\x08\x01", b"\x02\x28\x05\xb4"):
    c.send_raw_options(b"liar", opts)
check(wait_for(c.sport, lambda p: Raw in p, 0.5) is None, "nothing echoed")
check(c.echo(b"still") == b"still", "the connection lives")

case("RST in the window but not at RCV.NXT (RFC 5961 3.2)", "a challenge ACK, no reset")
drain(c.sport)
c.send("R", seq=c.seq + 100)
a = wait_for(c.sport, pure_ack(c))
check(a is not None and a[TCP].ack == c.seq, "challenge ACK")
check(c.echo(b"alive") == b"alive", "not reset")

case("SYN on an established connection (RFC 5961 4.2)", "a challenge ACK, no reset")
drain(c.sport)
c.send("S", seq=c.seq + 5)
a = wait_for(c.sport, pure_ack(c))
check(a is not None and a[TCP].ack == c.seq, "challenge ACK")
check(c.echo(b"alive2") == b"alive2", "not reset")

case("overlapping segments with different bytes", "one consistent stream, echoed once")
c.send("PA", b"XXXX", seq=c.seq + 4)
c.send("PA", b"AAAAAAAA", seq=c.seq)
c.seq += 8
out = c.collect(8)
check(len(out) == 8 and out[:4] == b"AAAA" and all(ch in b"AX" for ch in out),
      "8 bytes, each from one of the two: %r" % out)

case("RST at RCV.NXT", "the connection is reset")
c.send("R")
time.sleep(0.3)
drain(c.sport)
c.send("PA", b"ghost")
r = wait_for(c.sport, lambda p: p[TCP].flags & 0x04)
check(r is not None, "a later segment gets a RST")

case("3,000 spoofed SYNs, then a real client", "SYN cookies: the client gets in at once")
flood = [Ether(src=mymac, dst=peer_mac) /
         IP(src="10.79.0.%d" % random.randint(100, 250), dst=peer) /
         TCP(sport=random.randint(1024, 65535), dport=port, flags="S",
             seq=random.randint(0, 2**32 - 1), options=[("MSS", 1460)])
         for _ in range(3000)]
t_flood = time.time()
sendp(flood, iface=iface)
print("   the flood took %.3f s to send" % (time.time() - t_flood), flush=True)
t0 = time.time()
try:
    with socket.create_connection((peer, port), timeout=3) as s:
        t1 = time.time()
        s.sendall(b"real")
        ok = s.recv(4) == b"real"
        t2 = time.time()
    # at once: a retransmission (1 s) would mean a lost SYN or a reply the
    # kernel dropped (a cookie timestamp ahead of our clock did that: PAWS)
    check(ok and t1 - t0 < 0.5 and t2 - t1 < 0.5,
          "the kernel's client connected in %.3f s and had its echo %.3f s later"
          % (t1 - t0, t2 - t1))
except OSError as e:
    check(False, "the kernel's client: %s" % e)

case("500 first fragments that never complete, then a fragmented ping",
     "bounded reassembly; the ping answered")
for i in range(500):
    sendp(Ether(src=mymac, dst=peer_mac) /
          IP(src=me, dst=peer, id=i, flags="MF", frag=0, proto=1) / Raw(b"\x08" + b"\0" * 1479),
          iface=iface)
r = subprocess.run(["ping", "-c", "1", "-W", "2", "-s", "3000", peer], capture_output=True)
check(r.returncode == 0, "ping -s 3000 answered")

sniffer.stop()
if failures:
    print("FAILED: " + "; ".join(failures))
    sys.exit(1)
print("every case holds")
