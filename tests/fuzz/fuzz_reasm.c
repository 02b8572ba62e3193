/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Harness: IPv4 and IPv6 reassembly against a model of the bytes. The input
 * is a list of pieces of UDP datagrams (8 of them: four identifications in
 * each family) at any offset and length, first, middle or last, carrying
 * the datagram's own bytes or forged ones, in any order, repeated,
 * overlapping, past the end. The model keeps, per datagram, which bytes
 * arrived (a bitmap, not a count) and what they were, with the rules the
 * stack documents: an exact duplicate is dropped alone; an overlap, a
 * piece past the end, two different ends or an eighth piece drops the
 * datagram; it is whole when every byte from 0 to the end arrived.
 *
 * After every piece the stack's count of reassembled datagrams must equal
 * the model's, and every datagram the UDP socket receives must be byte for
 * byte the one the model put together (so a datagram completed with a
 * hole, or from pieces at the wrong offsets, is caught even when its
 * checksum happens to hold). Each input ends with every page back
 * (fuzz_world.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_bytes.h"
#include "fuzz_world.h"

#define RZ_PORT 7777
#define RZ_SPAN 1024 /* pieces lie in [0, RZ_SPAN) */
#define RZ_MAX_PIECES 7 /* what one reassembled packet holds */
#define RZ_KEYS 8

struct rz_piece {
	uint16_t off, len;
};

struct rz_dgram {
	/* the datagram a sender meant: a UDP header and a pattern */
	uint16_t total;
	uint8_t seed;
	uint8_t meant[RZ_SPAN];
	/* what the stack holds of it, as the model sees it */
	uint16_t end;     /* 0: no last piece yet */
	bool have_first;
	unsigned nr;
	struct rz_piece piece[RZ_MAX_PIECES];
	uint8_t got_bit[RZ_SPAN / 8];
	uint8_t got[RZ_SPAN];
};

static struct rz_dgram dg[RZ_KEYS];
static uint64_t model_ok;
static bool trace; /* FUZZ_TRACE=1: print each piece */
/* what the socket should receive next, and what it did */
static uint8_t expect[RZ_SPAN];
static size_t expect_len;
static bool expecting, received;

static struct pn_addr a6, b6; /* fd00::a (A) and fd00::b (B) */

static void fail(const char *what, unsigned key)
{
	fprintf(stderr, "fuzz_reasm: datagram %u (IPv%u, id %u): %s\n", key,
		key < 4 ? 4 : 6, key % 4, what);
	abort();
}

static void udp_cb(struct pn_stack *st, struct pn_pkt *pkt, const struct pn_addr *src,
		   uint16_t sport, uint16_t dport, void *arg)
{
	uint8_t buf[RZ_SPAN];
	uint32_t len = pkt->pkt_len;

	(void)st, (void)src, (void)sport, (void)dport, (void)arg;
	if (!expecting || received || len != expect_len - 8 ||
	    pn_pkt_copy_bits(pkt, 0, buf, len) != 0 || memcmp(buf, expect + 8, len) != 0)
		fail("the socket received bytes the model did not put together", 0);
	received = true;
	pn_pkt_free(pkt);
}

static bool bit(const struct rz_dgram *d, unsigned i)
{
	return d->got_bit[i / 8] & (1u << (i % 8));
}

/* The datagram a sender meant for @key, @total bytes (UDP header first). */
static void dgram_new(unsigned key, uint16_t total, uint8_t seed)
{
	struct rz_dgram *d = &dg[key];
	struct pn_udp_hdr *uh = (struct pn_udp_hdr *)d->meant;
	uint16_t c;

	memset(d, 0, sizeof(*d));
	d->total = total;
	d->seed = seed;
	for (unsigned i = 0; i < RZ_SPAN; i++)
		d->meant[i] = (uint8_t)(seed * 13u + i * 7u + key);
	uh->sport = htons(4000);
	uh->dport = htons(RZ_PORT);
	uh->len = htons(total);
	uh->csum = 0;
	if (key < 4)
		c = pn_csum_fold(pn_csum_add(pn_csum_pseudo(htonl(FW_IP_A), htonl(FW_IP_B),
							    PN_IPPROTO_UDP, total),
					     d->meant, total));
	else
		c = pn_csum_fold(pn_csum_add(pn_csum_pseudo6(a6.b, b6.b,
							     PN_IPPROTO_UDP, total),
					     d->meant, total));
	uh->csum = c ? c : 0xffff;
}

/* The stack lets go of what it held of @d. */
static void model_drop(struct rz_dgram *d)
{
	d->end = 0;
	d->have_first = false;
	d->nr = 0;
	memset(d->got_bit, 0, sizeof(d->got_bit));
}

/*
 * Would UDP take the datagram @b of @len bytes put together for @key? Its
 * own length may be shorter than what IP carried (the rest is ignored, as
 * Linux does). @return the UDP length it takes, or 0.
 */
static size_t udp_takes(unsigned key, const uint8_t *b, size_t len)
{
	const struct pn_udp_hdr *uh = (const struct pn_udp_hdr *)b;
	size_t ulen = len >= 8 ? ntohs(uh->len) : 0;
	uint64_t sum;

	if (ulen < 8 || ulen > len || ntohs(uh->dport) != RZ_PORT)
		return 0;
	if (key < 4) {
		if (uh->csum == 0)
			return ulen;
		sum = pn_csum_pseudo(htonl(FW_IP_A), htonl(FW_IP_B), PN_IPPROTO_UDP,
				     (uint16_t)ulen);
	} else {
		if (uh->csum == 0)
			return 0;
		sum = pn_csum_pseudo6(a6.b, b6.b, PN_IPPROTO_UDP, (uint16_t)ulen);
	}
	return pn_csum_fold(pn_csum_add(sum, b, ulen)) == 0 ? ulen : 0;
}

/* The model takes a piece; true when it completes the datagram. */
static bool model_add(struct rz_dgram *d, uint16_t off, uint16_t len, bool more,
		      const uint8_t *bytes)
{
	unsigned end = (unsigned)off + len;

	if (!more) {
		if (d->end && d->end != end)
			return model_drop(d), false;
		d->end = (uint16_t)end;
		for (unsigned i = 0; i < d->nr; i++)
			if (d->piece[i].off + d->piece[i].len > end)
				return model_drop(d), false;
	}
	for (unsigned i = 0; i < d->nr; i++)
		if (d->piece[i].off == off && d->piece[i].len == len)
			return false; /* the copy goes, the rest stays */
	if (d->end && end > d->end)
		return model_drop(d), false;
	for (unsigned i = off; i < end; i++)
		if (bit(d, i))
			return model_drop(d), false;
	if (d->nr == RZ_MAX_PIECES)
		return model_drop(d), false;
	d->piece[d->nr++] = (struct rz_piece){ off, len };
	for (unsigned i = off; i < end; i++) {
		d->got_bit[i / 8] |= (uint8_t)(1u << (i % 8));
		d->got[i] = bytes[i - off];
	}
	d->have_first |= off == 0;
	if (!d->end || !d->have_first)
		return false;
	for (unsigned i = 0; i < d->end; i++)
		if (!bit(d, i))
			return false;
	return true;
}

/* The piece on the wire to B. */
static void send_piece(unsigned key, uint16_t off, uint16_t len, bool more,
		       const uint8_t *bytes)
{
	uint8_t frame[PN_IPV6_HLEN + sizeof(struct pn_ipv6_frag_hdr) + RZ_SPAN];
	struct pn_pkt *p;
	size_t n;

	if (key < 4) {
		struct pn_ipv4_hdr *ip = (struct pn_ipv4_hdr *)frame;

		memset(ip, 0, sizeof(*ip));
		ip->ver_ihl = 0x45;
		ip->tot_len = htons((uint16_t)(sizeof(*ip) + len));
		ip->id = htons((uint16_t)(0x5100 + key));
		ip->frag_off = htons((uint16_t)((more ? PN_IPV4_MF : 0) | (off / 8)));
		ip->ttl = 64;
		ip->proto = PN_IPPROTO_UDP;
		ip->saddr = htonl(FW_IP_A);
		ip->daddr = htonl(FW_IP_B);
		ip->csum = pn_csum(ip, sizeof(*ip));
		memcpy(ip + 1, bytes, len);
		n = sizeof(*ip) + len;
		p = fw_frame(&fw.b, PN_ETH_P_IPV4, frame, n);
	} else {
		struct pn_ipv6_hdr *h = (struct pn_ipv6_hdr *)frame;
		struct pn_ipv6_frag_hdr *fh = (struct pn_ipv6_frag_hdr *)(h + 1);

		memset(h, 0, sizeof(*h));
		h->ver_tc_flow = htonl(6u << 28);
		h->payload_len = htons((uint16_t)(sizeof(*fh) + len));
		h->next = PN_IPV6_NH_FRAGMENT;
		h->hop_limit = 64;
		memcpy(h->saddr, a6.b, 16);
		memcpy(h->daddr, b6.b, 16);
		fh->next = PN_IPPROTO_UDP;
		fh->reserved = 0;
		fh->frag_off = htons((uint16_t)(off | (more ? 1 : 0)));
		fh->id = htonl(0x5100 + key);
		memcpy(fh + 1, bytes, len);
		n = sizeof(*h) + sizeof(*fh) + len;
		p = fw_frame(&fw.b, PN_ETH_P_IPV6, frame, n);
	}
	if (p == NULL)
		abort();
	if (fw.b.nwire < FW_WIRE_MAX)
		fw.b.wire[fw.b.nwire++] = p;
	else
		pn_pkt_free(p);
	fw_deliver_one(&fw.b);
}

static void one_piece(struct fz *f)
{
	uint8_t what = fz_u8(f), forged = fz_u8(f);
	unsigned key = what % RZ_KEYS;
	struct rz_dgram *d = &dg[key];
	bool more = what & 8;
	uint16_t off = (uint16_t)((fz_u8(f) % (RZ_SPAN / 8)) * 8);
	uint16_t len = (uint16_t)(1 + fz_u16(f) % (RZ_SPAN - off));
	uint8_t bytes[RZ_SPAN];
	struct pn_net_stats ns;
	bool whole;

	if (what & 16) { /* cut where the datagram is cut: the pieces meet */
		if (off >= d->total)
			off = (uint16_t)(d->total & ~7u);
		len = (uint16_t)PN_MIN(len, d->total - off);
		more = off + len < d->total;
	}
	if (more)
		len &= (uint16_t)~7u;
	if (len == 0)
		return;
	memcpy(bytes, d->meant + off, len);
	if (forged & 1) /* an off-path sender's bytes */
		for (unsigned i = 0; i < len; i++)
			bytes[i] ^= (uint8_t)(forged | 1);
	if (trace)
		fprintf(stderr, "key %u [%u,%u)%s%s total %u\n", key, off, off + len,
			more ? " MF" : "", forged & 1 ? " forged" : "", d->total);
	if (off == 0 && !more) {
		/* not a piece: a whole datagram (IPv6: an atomic fragment, RFC
		 * 6946), taken as it is; what waits for the same id stays */
		whole = false;
		memcpy(expect, bytes, len);
		expect_len = udp_takes(key, expect, len);
		expecting = expect_len != 0;
	} else {
		whole = model_add(d, off, len, more, bytes);
	}
	if (whole) {
		model_ok++;
		memcpy(expect, d->got, d->end);
		expect_len = udp_takes(key, expect, d->end);
		expecting = expect_len != 0;
		model_drop(d);
	}
	received = false;
	send_piece(key, off, len, more, bytes);
	fw_flush(2);
	pn_stack_stats_get(fw.b.st, &ns);
	if (ns.ip_reasm_ok != model_ok) {
		fprintf(stderr, "stack %llu reassembled, model %llu\n",
			(unsigned long long)ns.ip_reasm_ok, (unsigned long long)model_ok);
		fail(whole ? "the model completed it, the stack did not"
			   : "the stack completed it, the model did not", key);
	}
	if (trace)
		fprintf(stderr, "  udp_rx %llu bad %llu no_port %llu ok %llu expecting %d received %d\n",
			(unsigned long long)ns.udp_rx, (unsigned long long)ns.udp_bad,
			(unsigned long long)ns.udp_no_port, (unsigned long long)ns.ip_reasm_ok,
			expecting, received);
	if (expecting && !received)
		fail("put together right, with a right checksum, but never received", key);
	expecting = false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool parsed;
	struct fz f = { data, size };

	if (fw_begin()) {
		struct pn_net_stats ns;

		int rc = pn_udp_bind(fw.b.st, RZ_PORT, udp_cb, NULL);

		/* bound already, unless the world was just built again */
		if (rc != 0 && rc != -EADDRINUSE)
			abort();
		if (!parsed) {
			trace = getenv("FUZZ_TRACE") != NULL;
			if (pn_addr_parse("fd00::a", &a6, NULL) != 0 ||
			    pn_addr_parse("fd00::b", &b6, NULL) != 0)
				abort();
			parsed = true;
		}
		/* a world just built still checks its IPv6 address (DAD) */
		for (int i = 0; i < 20 && !pn_stack_ip6_ready(fw.b.st); i++)
			fw_tick(500);
		if (!pn_stack_ip6_ready(fw.b.st))
			abort();
		pn_stack_stats_get(fw.b.st, &ns);
		model_ok = ns.ip_reasm_ok;
		for (unsigned k = 0; k < RZ_KEYS; k++)
			dgram_new(k, (uint16_t)(8 + fz_u16(&f) % (RZ_SPAN - 8)), fz_u8(&f));
		for (unsigned steps = 0; f.n > 0 && steps < 96; steps++)
			one_piece(&f);
	}
	fw_end();
	return 0;
}
