/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Harness (a): frames into a stack with a live connection. The input is a
 * list of actions: frames made up around the connection's real numbers
 * (TCP segments with any flags, sequence and acknowledgment numbers near
 * and far, options, payload; IPv4 with odd headers; ARP, ICMP, UDP; raw
 * Ethernet; IPv6 with chains of extension headers and fragments), moves of the clock (timers, retransmission, TIME_WAIT), the
 * applications reading, writing, holding and closing, and frames handed in
 * pieces. After every input the connection is aborted and every page and
 * charge must be back (fuzz_world.c).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_bytes.h"
#include "fuzz_world.h"
#include "pn_impair.h"

static uint16_t ip_id;

/* An IPv4 packet from @src to @dst around @l4; @bad bits spoil fields. */
static size_t build_ip(uint8_t *out, uint32_t src, uint32_t dst, uint8_t proto,
		       const void *l4, size_t l4len, uint8_t bad)
{
	struct pn_ipv4_hdr *ip = (struct pn_ipv4_hdr *)out;

	ip->ver_ihl = (bad & 1) ? (uint8_t)(0x40 | (l4len & 15)) : 0x45;
	ip->tos = 0;
	ip->tot_len = htons((uint16_t)(sizeof(*ip) + l4len + ((bad & 2) ? 7 : 0)));
	ip->id = htons(ip_id++);
	ip->frag_off = (bad & 4) ? htons(0x2000 | (l4len & 0x1fff)) : htons(0x4000);
	ip->ttl = 64;
	ip->proto = proto;
	ip->csum = 0;
	ip->saddr = htonl(src);
	ip->daddr = (bad & 8) ? htonl(dst + 1) : htonl(dst);
	memcpy(ip + 1, l4, l4len);
	ip->csum = (bad & 16) ? 0x1234 : pn_csum(ip, sizeof(*ip));
	return sizeof(*ip) + l4len;
}

/* L4 checksum over the pseudo header, written at @csum_off. */
static void l4_csum(uint8_t *l4, size_t len, uint32_t src, uint32_t dst, uint8_t proto,
		    size_t csum_off, bool spoil)
{
	uint16_t c;

	memset(l4 + csum_off, 0, 2);
	c = pn_csum_fold(pn_csum_add(pn_csum_pseudo(htonl(src), htonl(dst), proto, (uint16_t)len),
				     l4, len));
	if (spoil)
		c ^= 0x0101;
	memcpy(l4 + csum_off, &c, 2);
}

static void inject(struct fw_side *to, uint16_t type, const uint8_t *l3, size_t len)
{
	struct pn_pkt *p = fw_frame(to, type, l3, len);

	if (p != NULL) {
		if (to->nwire < FW_WIRE_MAX)
			to->wire[to->nwire++] = p;
		else
			pn_pkt_free(p);
		fw_deliver_one(to);
	}
}

/* A TCP segment on the connection, toward @to, fields from the input. */
static void tcp_segment(struct fz *f, bool to_b)
{
	struct fw_side *to = to_b ? &fw.b : &fw.a;
	struct pn_tcp_sock *from = to_b ? fw.cli : fw.srv;
	struct pn_tcp_info in;
	uint8_t seg[60 + 1200], pkt[1500];
	struct pn_tcp_hdr *th = (struct pn_tcp_hdr *)seg;
	uint8_t flags = fz_u8(f), mode = fz_u8(f), optlen = (uint8_t)(fz_u8(f) % 41);
	uint16_t plen = (uint16_t)(fz_u16(f) % 1200);
	int32_t dseq = (int16_t)fz_u16(f), dack = (int16_t)fz_u16(f);
	size_t hlen, len;

	if (from == NULL)
		return;
	pn_tcp_info_get(from, &in);
	if (getenv("FUZZ_TRACE"))
		fprintf(stderr, "  tcp to %s flags %#x mode %#x optlen %u plen %u dseq %d dack %d "
			"snd_una %u snd_nxt %u sent %llu queued %u\n", to_b ? "B" : "A", flags, mode,
			optlen, plen, dseq, dack, in.snd_una, in.snd_nxt,
			(unsigned long long)in.bytes_sent, in.snd_queued);
	memset(th, 0, sizeof(*th));
	th->sport = htons(in.local_port);
	th->dport = htons(in.peer_port);
	/* near the live numbers, or anywhere */
	th->seq = htonl((mode & 1) ? fz_u32(f) : in.snd_nxt + (uint32_t)dseq);
	th->ack = htonl((mode & 2) ? fz_u32(f) : in.rcv_nxt + (uint32_t)dack);
	if (mode & 4) /* a port nobody uses */
		th->dport = htons(fz_u16(f));
	if (mode & (8 | 32)) /* a data offset or IP header of its own: */
		to->tainted = true; /* other bytes may become payload */
	hlen = sizeof(*th) + ((optlen + 3u) & ~3u);
	th->doff = (uint8_t)((mode & 8) ? fz_u8(f) : (hlen / 4) << 4);
	th->flags = flags;
	th->win = htons(fz_u16(f));
	fz_bytes(f, th + 1, hlen - sizeof(*th));
	/* the stream's own bytes at that place, so that the receiver may take
	 * them: TCP cannot tell a forged byte from a real one; the offset of
	 * snd_una is what was queued less what is still unacknowledged */
	{
		uint32_t seq = ntohl(th->seq);
		uint64_t off = (uint64_t)(in.bytes_sent - in.snd_queued) +
			       (uint64_t)(int64_t)(int32_t)(seq - in.snd_una);

		for (size_t i = 0; i < plen; i++)
			seg[hlen + i] = fw_pattern(to_b, off + i);
	}
	len = hlen + plen;
	l4_csum(seg, len, to_b ? FW_IP_A : FW_IP_B, to_b ? FW_IP_B : FW_IP_A, PN_IPPROTO_TCP,
		16, mode & 16);
	len = build_ip(pkt, to_b ? FW_IP_A : FW_IP_B, to_b ? FW_IP_B : FW_IP_A, PN_IPPROTO_TCP,
		       seg, len, (mode & 32) ? fz_u8(f) : 0);
	inject(to, PN_ETH_P_IPV4, pkt, len);
}

static void udp_or_icmp(struct fz *f)
{
	uint8_t l4[600], pkt[1500];
	uint8_t kind = fz_u8(f), bad = fz_u8(f);
	size_t len = 8 + fz_u8(f) * 2u;

	fz_bytes(f, l4, len);
	if (kind & 1) {
		struct pn_udp_hdr *uh = (struct pn_udp_hdr *)l4;

		uh->len = (bad & 64) ? uh->len : htons((uint16_t)len);
		l4_csum(l4, len, FW_IP_A, FW_IP_B, PN_IPPROTO_UDP, 6, bad & 128);
		len = build_ip(pkt, FW_IP_A, FW_IP_B, PN_IPPROTO_UDP, l4, len, bad & 31);
	} else {
		l4[0] = (kind & 2) ? 8 : l4[0]; /* mostly echo requests */
		l4[1] = 0;
		memset(l4 + 2, 0, 2);
		if (!(bad & 128)) {
			uint16_t c = pn_csum(l4, len);

			memcpy(l4 + 2, &c, 2);
		}
		len = build_ip(pkt, FW_IP_A, FW_IP_B, PN_IPPROTO_ICMP, l4, len, bad & 31);
	}
	inject(&fw.b, PN_ETH_P_IPV4, pkt, len);
}

static void arp(struct fz *f)
{
	struct pn_arp_hdr a;
	uint8_t bad = fz_u8(f);

	a.htype = htons((bad & 1) ? fz_u16(f) : 1);
	a.ptype = htons(PN_ETH_P_IPV4);
	a.hlen = 6;
	a.plen = (bad & 2) ? fz_u8(f) : 4;
	a.op = htons((uint16_t)(1 + (bad >> 2) % 3));
	fz_bytes(f, a.sha, 6);
	a.spa = htonl((bad & 8) ? fz_u32(f) : FW_IP_A);
	memset(a.tha, 0, 6);
	a.tpa = htonl((bad & 16) ? fz_u32(f) : FW_IP_B);
	/* a different MAC for A's address: the stack learns it, then must
	 * learn A's own again from A's next packets or time out */
	inject(&fw.b, PN_ETH_P_ARP, (const uint8_t *)&a, (bad & 32) ? fz_u8(f) % sizeof(a) : sizeof(a));
}

static void udp_echo_cb(struct pn_stack *st, struct pn_pkt *pkt, const struct pn_addr *src,
			uint16_t src_port, uint16_t dst_port, void *arg)
{
	(void)arg;
	pn_udp_send_addr(st, src, src_port, dst_port, pn_pkt_data(pkt),
		    pn_pkt_headlen(pkt) < 512 ? pn_pkt_headlen(pkt) : 512);
	pn_pkt_free(pkt);
}

/*
 * An IPv6 packet from A to B: a chain of up to four extension headers
 * (hop-by-hop, destination options with fuzzed option bytes, routing with
 * segments left from the input, fragment with fuzzed offset, M flag and
 * identification), then an ICMPv6 echo or a UDP datagram whose checksum
 * is right, so the walk, the reassembly and the delivery behind it are all
 * reached. The datagram's bytes follow from a seed and its length, so
 * pieces cut at different offsets of the same (seed, length) fit together;
 * identifications come from a small set so pieces meet.
 */
static void ipv6_packet(struct fz *f)
{
	static const uint8_t kinds[] = { PN_IPV6_NH_HOPOPTS, PN_IPV6_NH_DSTOPTS,
					 PN_IPV6_NH_ROUTING, PN_IPV6_NH_FRAGMENT };
	uint8_t pkt[1400], *p = pkt + PN_IPV6_HLEN, *nh;
	uint8_t l4[600];
	struct pn_addr a6, b6;
	struct pn_ipv6_hdr *h = (struct pn_ipv6_hdr *)pkt;
	uint8_t nr = fz_u8(f) % 5, mode = fz_u8(f), seed = fz_u8(f);
	uint16_t l4len = (uint16_t)(8 + fz_u16(f) % (sizeof(l4) - 8)), off = 0, n;
	uint16_t c;

	if (pn_addr_parse("fd00::a", &a6, NULL) != 0 || pn_addr_parse("fd00::b", &b6, NULL) != 0)
		abort();
	memset(h, 0, sizeof(*h));
	h->ver_tc_flow = htonl(6u << 28);
	h->hop_limit = 64;
	memcpy(h->saddr, a6.b, 16);
	memcpy(h->daddr, b6.b, 16);
	nh = &h->next;
	for (unsigned i = 0; i < nr; i++) {
		uint8_t kind = kinds[fz_u8(f) % 4], len8 = fz_u8(f) % 3;

		*nh = kind;
		if (kind == PN_IPV6_NH_FRAGMENT) {
			struct pn_ipv6_frag_hdr *fh = (struct pn_ipv6_frag_hdr *)p;

			fh->reserved = 0;
			off = (uint16_t)((fz_u16(f) % 75) * 8);
			fh->frag_off = htons((uint16_t)(off | (fz_u8(f) & 1)));
			fh->id = htonl(fz_u8(f) % 4);
			nh = &fh->next;
			p += sizeof(*fh);
			continue;
		}
		memset(p, 0, (len8 + 1u) * 8u);
		p[1] = len8;
		if (kind == PN_IPV6_NH_ROUTING) {
			p[2] = 4;
			p[3] = fz_u8(f) % 3 == 0; /* segments left now and then */
		} else {
			fz_bytes(f, p + 2, (len8 + 1u) * 8u - 2);
		}
		nh = p;
		p += (len8 + 1u) * 8u;
	}
	for (unsigned i = 0; i < l4len; i++)
		l4[i] = (uint8_t)(seed * 31u + i * 7u);
	if (mode & 1) {
		*nh = PN_IPPROTO_UDP;
		((struct pn_udp_hdr *)l4)->len = htons(l4len);
		((struct pn_udp_hdr *)l4)->csum = 0;
		c = pn_csum_fold(pn_csum_add(pn_csum_pseudo6(a6.b, b6.b, PN_IPPROTO_UDP, l4len),
					     l4, l4len));
		((struct pn_udp_hdr *)l4)->csum = c ? c : 0xffff;
	} else {
		*nh = PN_IPPROTO_ICMPV6;
		l4[0] = PN_ICMP6_ECHO_REQUEST;
		l4[1] = 0;
		memset(l4 + 2, 0, 2);
		c = pn_csum_fold(pn_csum_add(pn_csum_pseudo6(a6.b, b6.b, PN_IPPROTO_ICMPV6, l4len),
					     l4, l4len));
		memcpy(l4 + 2, &c, 2);
	}
	/* the whole, or (mode 2) the piece at the last fragment header's offset */
	if (off >= l4len)
		off = 0;
	n = (uint16_t)(l4len - off);
	if ((mode & 2) && n > 8) {
		uint16_t cut = (uint16_t)(8u * (1u + fz_u8(f) % 75u));

		n = PN_MIN(n, cut);
	}
	if (!(mode & 2)) {
		off = 0;
		n = l4len;
	}
	memcpy(p, l4 + off, n);
	p += n;
	h->payload_len = htons((uint16_t)(p - pkt - PN_IPV6_HLEN));
	inject(&fw.b, PN_ETH_P_IPV6, pkt, (size_t)(p - pkt));
}

/* The rest of the API a service calls, with the input's words: address and
 * impairment parsers, UDP bindings, echo requests, every getter. */
static void api_surface(struct fz *f)
{
	char text[48], err[128], ip[16];
	struct pn_impair imp;
	struct pn_net_stats ns;
	struct pn_tcp_stats ts;
	struct pn_tcp_info ti;
	uint32_t addr;
	uint8_t plen, what = fz_u8(f);
	uint16_t port = fz_u16(f);

	fz_bytes(f, text, sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	(void)pn_ip_parse(text, &addr, &plen);
	(void)pn_ip_parse(text, &addr, NULL);
	if (pn_impair_parse(text, &imp, err, sizeof(err)) == 0 && imp.rx_loss > 1)
		abort();
	pn_ip_str(fz_u32(f), ip);
	switch (what % 4) {
	case 0: {
		bool bound = pn_udp_bind(fw.b.st, port, udp_echo_cb, NULL) == 0;

		pn_udp_send(fw.a.st, FW_IP_B, port, 4000, text, what % sizeof(text));
		fw_flush(2);
		if (bound && pn_udp_unbind(fw.b.st, port) != 0)
			abort();
		break;
	}
	case 1:
		pn_icmp_echo(fw.a.st, (what & 4) ? FW_IP_B : fz_u32(f), port, what, text,
			     what % sizeof(text));
		break;
	case 2:
		pn_stack_stats_get(fw.b.st, &ns);
		pn_tcp_stats_get(fw.b.st, &ts);
		if (fw.cli)
			pn_tcp_info_get(fw.cli, &ti);
		if (fw.srv)
			pn_tcp_info_get(fw.srv, &ti);
		(void)pn_tcp_state_name((enum pn_tcp_state)(what % 16));
		break;
	case 3:
		if (fw.srv && (what & 8))
			pn_tcp_set_acct(fw.srv, (what & 16) ? NULL : fw.group);
		break;
	}
	fw_flush(2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	static int trace = -1;

	if (trace < 0)
		trace = getenv("FUZZ_TRACE") != NULL;
	if (fw_begin()) {
		for (unsigned steps = 0; f.n > 0 && steps < 64; steps++) {
			uint8_t op = fz_u8(&f);

			if (trace)
				fprintf(stderr, "op %u (%u) wire a %u b %u\n", op % 14, op, fw.a.nwire,
					fw.b.nwire);
			switch (op % 14) {
			case 0: {
				uint8_t raw[256 * 6];
				size_t len = fz_u8(&f) * 6u;

				fz_bytes(&f, raw, len);
				inject(&fw.b, fz_u16(&f), raw, len);
				break;
			}
			case 1:
			case 2:
				tcp_segment(&f, true);
				break;
			case 3:
				tcp_segment(&f, false);
				break;
			case 4:
				udp_or_icmp(&f);
				break;
			case 5:
				arp(&f);
				break;
			case 6:
				fw_tick(fz_u16(&f) % 5000);
				break;
			case 7:
				fw_send(true, fz_u16(&f) % 8192);
				fw_flush(4);
				break;
			case 8:
				fw_send(false, fz_u16(&f) % 8192);
				fw_flush(4);
				break;
			case 9:
				fw_read(&fw.b, op & 16, op & 32);
				break;
			case 10:
				fw_read(&fw.a, op & 16, op & 32);
				break;
			case 11:
				fw_release(op & 16 ? &fw.a : &fw.b);
				break;
			case 12:
				if (op & 16) {
					struct pn_tcp_sock *s = op & 32 ? fw.cli : fw.srv;

					if (s != NULL)
						pn_tcp_shutdown(s);
				} else
					fw.split = !fw.split;
				break;
			case 13:
				/* the two largest values: the rest of the API (added
				 * later; smaller ones keep their old meaning, so past
				 * inputs still do what they did) */
				if (op >= 224)
					api_surface(&f);
				else if (op == 223)
					ipv6_packet(&f);
				else
					fw_flush(1 + op % 8);
				break;
			}
		}
		fw_flush(8);
	}
	fw_end();
	return 0;
}
