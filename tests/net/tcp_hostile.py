#!/usr/bin/python3
"""A hostile TCP peer, with scapy, against pagenet-zcsrv's echo service.

Runs in the kernel's namespace but speaks from an address the kernel does
not own (the kernel stays out of these connections: it neither answers
nor resets them); an ARP and neighbour-discovery responder answers for
that address. Each case says what Linux's TCP does with the same segment
and checks that pagenet does as well; with IPv6 addresses given, every
case runs over IPv4 and then over IPv6. Exit 0 when every case holds.

usage: tcp_hostile.py IFACE MY_IP PEER_IP PORT [MY_IP6 PEER_IP6]
"""
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time

from scapy.all import (ARP, ICMP, IP, TCP, AsyncSniffer, Ether, ICMPv6EchoReply,
                       ICMPv6EchoRequest, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr,
                       IPv6, IPv6ExtHdrFragment, Raw, conf, get_if_hwaddr, sendp, srp1)

conf.verb = 0
iface, me4, peer4, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
me6, peer6 = (sys.argv[5], sys.argv[6]) if len(sys.argv) > 6 else (None, None)
me, peer, V6 = me4, peer4, False  # the family the cases run over now
mymac = get_if_hwaddr(iface)
failures = []
fam = "IPv4"


def case(name, kernel):
    print("== [%s] %s (Linux: %s)" % (fam, name, kernel), flush=True)


def check(ok, what):
    print("   %s: %s" % ("ok" if ok else "FAILED", what), flush=True)
    if not ok:
        failures.append("[%s] %s" % (fam, what))


def l3(src=None, **kw):
    """An IPv4 or IPv6 header from us (or @src) to the peer."""
    if V6:
        return IPv6(src=src or me, dst=peer, **kw)
    return IP(src=src or me, dst=peer, **kw)


# ---- the wire: ARP and ND responders for our addresses, every TCP segment
# and echo reply to us queued
got = []
echo_replies = []
cv = threading.Condition()


def on_packet(p):
    if ARP in p and p[ARP].op == 1 and p[ARP].pdst == me4:
        sendp(Ether(dst=p[ARP].hwsrc, src=mymac) /
              ARP(op=2, hwsrc=mymac, psrc=me4, hwdst=p[ARP].hwsrc, pdst=p[ARP].psrc),
              iface=iface)
    elif me6 and ICMPv6ND_NS in p and p[ICMPv6ND_NS].tgt == me6:
        sendp(Ether(dst=p[Ether].src, src=mymac) / IPv6(src=me6, dst=p[IPv6].src) /
              ICMPv6ND_NA(tgt=me6, R=0, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=mymac),
              iface=iface)
    elif TCP in p and ((IP in p and p[IP].src == peer4 and p[IP].dst == me4) or
                       (IPv6 in p and p[IPv6].src == peer6 and p[IPv6].dst == me6)):
        with cv:
            got.append(p)
            cv.notify_all()
    elif (ICMP in p and p[ICMP].type == 0 and p[IP].dst == me4) or \
            (ICMPv6EchoReply in p and p[IPv6].dst == me6):
        with cv:
            echo_replies.append(p)
            cv.notify_all()


# no BPF filter: that would need tcpdump to compile it; on_packet sorts
sniffer = AsyncSniffer(iface=iface, prn=on_packet, store=False)
sniffer.start()
time.sleep(0.5)
reply = srp1(Ether(dst="ff:ff:ff:ff:ff:ff", src=mymac) /
             ARP(op=1, hwsrc=mymac, psrc=me4, pdst=peer4), iface=iface, timeout=3)
if reply is None:
    sys.exit("no ARP answer from %s" % peer4)
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
        if V6:
            pseudo = (socket.inet_pton(socket.AF_INET6, me) +
                      socket.inet_pton(socket.AF_INET6, peer) +
                      len(seg).to_bytes(4, "big") + b"\0\0\0\x06")
        else:
            pseudo = (socket.inet_aton(me) + socket.inet_aton(peer) + b"\0\x06" +
                      len(seg).to_bytes(2, "big"))
        seg = seg[:16] + csum(pseudo + seg).to_bytes(2, "big") + seg[18:]
        sendp(Ether(src=mymac, dst=peer_mac) / l3(**({"nh": 6} if V6 else {"proto": 6})) /
              Raw(seg), iface=iface)

    def send(self, flags, data=b"", seq=None, ack=None, options=None, chksum=None, window=65535):
        t = TCP(sport=self.sport, dport=port, flags=flags,
                seq=self.seq if seq is None else seq % 2**32,
                ack=self.ack if ack is None else ack % 2**32, window=window,
                options=options or [])
        if chksum is not None:
            t.chksum = chksum
        pkt = Ether(src=mymac, dst=peer_mac) / l3() / t
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


# ---- the cases, over one family
def run_cases():
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
    # not at the old (seq, ack) pair itself: while the listener answers
    # with SYN cookies (the IPv4 flood just before the IPv6 round), an ACK
    # that moved both by the same amount (an echo's) checks as a cookie,
    # with Linux's cookies as with ours, and opens a new connection
    c.send("PA", b"ghost", seq=c.seq + 10)
    r = wait_for(c.sport, lambda p: p[TCP].flags & 0x04)
    check(r is not None, "a later segment gets a RST")

    case("3,000 spoofed SYNs, then a real client", "SYN cookies: the client gets in at once")
    flood = [Ether(src=mymac, dst=peer_mac) /
             l3(src=("fd79::%x" if V6 else "10.79.0.%d") % random.randint(100, 250)) /
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
        if V6:
            piece = l3() / IPv6ExtHdrFragment(id=i, m=1, offset=0, nh=58) / Raw(b"\x80" + b"\0" * 1447)
        else:
            piece = l3(id=i, flags="MF", frag=0, proto=1) / Raw(b"\x08" + b"\0" * 1479)
        sendp(Ether(src=mymac, dst=peer_mac) / piece, iface=iface)
    r = subprocess.run(["ping", "-6" if V6 else "-4", "-c", "1", "-W", "2", "-s", "3000", peer],
                       capture_output=True)
    check(r.returncode == 0, "ping -s 3000 answered")

    case("an echo request in overlapping pieces (RFC 5722)", "the datagram dropped, no reply")


    def echo_in_pieces(ident, overlap):
        """A 2,400-byte echo request to the peer in two pieces; the second
        starts 8 bytes early when @overlap. @return whether a reply came."""
        data = bytes(random.getrandbits(8) for _ in range(2392))
        if V6:
            whole = bytes(l3() / ICMPv6EchoRequest(id=ident, seq=1, data=data))[40:]
        else:
            whole = bytes(l3() / ICMP(type=8, id=ident, seq=1) / Raw(data))[20:]
        cut, start2 = 1448, 1448 - (8 if overlap else 0)
        with cv:
            echo_replies.clear()
        for off, chunk, more in ((0, whole[:cut], 1), (start2, whole[start2:], 0)):
            if V6:
                piece = l3() / IPv6ExtHdrFragment(id=ident, m=more, offset=off // 8, nh=58) / Raw(chunk)
            else:
                piece = l3(id=ident, flags="MF" if more else 0, frag=off // 8, proto=1) / Raw(chunk)
            sendp(Ether(src=mymac, dst=peer_mac) / piece, iface=iface)
        end = time.time() + 1.5
        with cv:
            while not echo_replies and time.time() < end:
                cv.wait(end - time.time())
            return bool(echo_replies)


    check(not echo_in_pieces(0x7001, True), "no reply to the overlapping pieces")
    check(echo_in_pieces(0x7002, False), "the same request in clean pieces is answered")

    case("a peer that shuts its window and goes quiet", "window probes, backing off")
    c = Conn()
    check(c.handshake(), "handshake")
    drain(c.sport)
    c.send("PA", b"z" * 100, window=0)  # echoed into a window of 0: probes
    c.seq += 100
    t0 = time.time()
    times = []
    while len(times) < 3 and time.time() - t0 < 10:
        p = wait_for(c.sport, lambda p: True, t0 + 10 - time.time())
        if p is None:
            break
        if Raw not in p and p[TCP].ack == c.seq and p[TCP].seq != (c.ack - 1) % 2**32:
            continue  # the ACK of our 100 bytes
        times.append(time.time() - t0)
    gaps = [b - a for a, b in zip(times, times[1:])]
    check(len(times) >= 3 and all(g2 > g1 * 1.5 for g1, g2 in zip(gaps, gaps[1:])),
          "probes at %s s, each gap about twice the one before" % ["%.2f" % t for t in times])
    c.close()


for fam, me, peer, V6 in (("IPv4", me4, peer4, False), ("IPv6", me6, peer6, True)):
    if me is None or os.environ.get("HOSTILE_ONLY", fam) != fam:
        continue
    run_cases()

sniffer.stop()
if failures:
    print("FAILED: " + "; ".join(failures))
    sys.exit(1)
print("every case holds")
