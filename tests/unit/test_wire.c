/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The wire layer: option parsing against hostile lists, emit-then-parse
 * round trips, and frames whose checksums a naive RFC 1071 sum accepts.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

#include "pn_wire.h"

/* the textbook sum, independent of pn_csum's word tricks */
static uint16_t naive_sum(const uint8_t *p, size_t len, uint32_t start)
{
	uint32_t s = start;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

Test(wire, options_round_trip)
{
	uint8_t buf[PN_TCP_MAX_OPTLEN], *o = buf;
	uint32_t blk[6] = { 1000, 2000, 0xfffffff0u, 16, 7, 9 };
	struct pn_tcp_opts opts;

	o = pn_tcp_opt_mss(o, 1460);
	o = pn_tcp_opt_sackp(o);
	o = pn_tcp_opt_ts(o, 0x01020304u, 0xa0b0c0d0u);
	o = pn_tcp_opt_ws(pn_tcp_opt_nops(o, 1), 7);
	cr_assert_eq(o - buf, 20, "a SYN's options are 20 bytes");
	cr_assert(pn_tcp_opts_parse(buf, (unsigned)(o - buf), &opts));
	cr_assert(opts.has_mss && opts.mss == 1460);
	cr_assert(opts.sackp);
	cr_assert(opts.has_ts && opts.tsval == 0x01020304u && opts.tsecr == 0xa0b0c0d0u);
	cr_assert(opts.has_ws && opts.ws == 7);
	/* the bytes Linux puts on the wire for the same values */
	cr_assert_eq(memcmp(buf, "\x02\x04\x05\xb4\x04\x02\x08\x0a\x01\x02\x03\x04"
			    "\xa0\xb0\xc0\xd0\x01\x03\x03\x07", 20), 0);

	o = pn_tcp_opt_sack(pn_tcp_opt_nops(buf, 2), blk, 3);
	cr_assert_eq(o - buf, 2 + 2 + 24);
	cr_assert(pn_tcp_opts_parse(buf, (unsigned)(o - buf), &opts));
	cr_assert_eq(opts.nr_sack, 3);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(opts.sack[i][0], blk[2 * i]);
		cr_assert_eq(opts.sack[i][1], blk[2 * i + 1]);
	}
}

Test(wire, hostile_option_lists)
{
	struct pn_tcp_opts o;

	/* a length of 0 or 1 would loop or step backwards: malformed */
	cr_assert_not(pn_tcp_opts_parse((const uint8_t *)"\x02\x00", 2, &o));
	cr_assert_not(pn_tcp_opts_parse((const uint8_t *)"\x08\x01", 2, &o));
	/* running past the header */
	cr_assert_not(pn_tcp_opts_parse((const uint8_t *)"\x02\x04\x05", 3, &o));
	cr_assert_not(pn_tcp_opts_parse((const uint8_t *)"\x01\x01\x08", 3, &o));
	/* known kinds with wrong lengths are ignored, not believed */
	cr_assert(pn_tcp_opts_parse((const uint8_t *)"\x02\x03\x05\x03\x04\x07\x00\x00", 8, &o));
	cr_assert_not(o.has_mss);
	cr_assert_not(o.has_ws);
	/* a window scale above 14 is taken as 14 (RFC 7323 2.3) */
	cr_assert(pn_tcp_opts_parse((const uint8_t *)"\x03\x03\xff", 3, &o));
	cr_assert_eq(o.ws, 14);
	/* SACK: a partial block is ignored, at most four are kept */
	{
		uint8_t b[40] = { 5, 38 };

		cr_assert(pn_tcp_opts_parse(b, 38, &o));
		cr_assert_eq(o.nr_sack, 4);
		b[1] = 13;
		cr_assert(pn_tcp_opts_parse(b, 13, &o));
		cr_assert_eq(o.nr_sack, 1);
	}
	/* unknown kinds are skipped; EOL ends the list */
	cr_assert(pn_tcp_opts_parse((const uint8_t *)"\x99\x04\xff\xff\x02\x04\x01\x00\x00\x02\x04",
				    11, &o));
	cr_assert(o.has_mss && o.mss == 256);
	cr_assert(pn_tcp_opts_parse(NULL, 0, &o));
}

Test(wire, udp4_frame_checksums_verify)
{
	static const uint8_t payload[] = "odd length payload";
	struct pn_wire_udp4 spec = {
		.dst_mac = { 2, 0, 0, 0, 0, 2 }, .src_mac = { 2, 0, 0, 0, 0, 1 },
		.src_ip = 0x0a000001u, .dst_ip = 0x0a000002u, .sport = 1234, .dport = 9000,
		.ip_id = 77,
	};
	uint8_t f[128];
	size_t n = pn_wire_udp4_frame(f, sizeof(f), &spec, payload, sizeof(payload) - 1);
	const struct pn_eth_hdr *eth = (const void *)f;
	const struct pn_ipv4_hdr *ip = (const void *)(f + PN_ETH_HLEN);
	const uint8_t *l4 = f + PN_ETH_HLEN + 20;
	size_t l4len = 8 + sizeof(payload) - 1;
	uint32_t pseudo = 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 17 + (uint32_t)l4len;

	cr_assert_eq(n, PN_ETH_HLEN + 20 + l4len);
	cr_assert_eq(ntohs(eth->type), PN_ETH_P_IPV4);
	cr_assert_eq(ip->ver_ihl, 0x45);
	cr_assert_eq(ntohs(ip->tot_len), 20 + l4len);
	cr_assert_eq(ntohs(ip->frag_off), PN_IPV4_DF);
	cr_assert_eq(ntohl(ip->saddr), spec.src_ip);
	cr_assert_eq(naive_sum((const uint8_t *)ip, 20, 0), 0xffff, "IPv4 header sum");
	cr_assert_eq(naive_sum(l4, l4len, pseudo), 0xffff, "UDP sum with the pseudo header");
	cr_assert_eq(memcmp(l4 + 8, payload, sizeof(payload) - 1), 0);

	/* no room, or more than a datagram holds: nothing written */
	cr_assert_eq(pn_wire_udp4_frame(f, n - 1, &spec, payload, sizeof(payload) - 1), 0);
	cr_assert_eq(pn_wire_udp4_frame(f, sizeof(f), &spec, NULL, 70000), 0);
	spec.no_csum = true;
	n = pn_wire_udp4_frame(f, sizeof(f), &spec, NULL, 10);
	cr_assert_eq(l4[6] | l4[7], 0);
	cr_assert_eq(l4[8] | l4[17], 0, "a NULL payload is zeros");
}

Test(wire, tcp_checksum_verifies)
{
	uint8_t seg[20 + 5] = { 0 };
	struct pn_tcp_hdr *th = (struct pn_tcp_hdr *)seg;
	uint32_t pseudo = 0xc0a8 + 0x0101 + 0xc0a8 + 0x0102 + 6 + sizeof(seg);

	th->sport = htons(80);
	th->dport = htons(40000);
	th->doff = 5 << 4;
	th->flags = PN_TCP_F_ACK | PN_TCP_F_PSH;
	memcpy(seg + 20, "hello", 5);
	pn_wire_l4_csum4(seg, sizeof(seg), 0xc0a80101u, 0xc0a80102u, PN_IPPROTO_TCP);
	cr_assert_eq(naive_sum(seg, sizeof(seg), pseudo), 0xffff);
}

Test(wire, udp6_frame_checksum_verifies)
{
	struct pn_wire_udp6 spec = {
		.dst_mac = { 2, 0, 0, 0, 0, 2 }, .src_mac = { 2, 0, 0, 0, 0, 1 },
		.sport = 1234, .dport = 9000,
	};
	uint8_t f[128], pseudo[40];
	const uint8_t *l4 = f + PN_ETH_HLEN + 40;
	size_t n, l4len = 8 + 11;
	uint32_t sum = 0;

	inet_pton(AF_INET6, "fd00::1", spec.src_ip);
	inet_pton(AF_INET6, "fd00::2", spec.dst_ip);
	n = pn_wire_udp6_frame(f, sizeof(f), &spec, "odd payload", 11);
	cr_assert_eq(n, PN_ETH_HLEN + 40 + l4len);
	cr_assert_eq(f[12], 0x86);
	cr_assert_eq(f[13], 0xdd);
	cr_assert_eq(f[PN_ETH_HLEN] >> 4, 6);
	/* the textbook sum over the RFC 8200 8.1 pseudo header and the datagram */
	memcpy(pseudo, spec.src_ip, 16);
	memcpy(pseudo + 16, spec.dst_ip, 16);
	memset(pseudo + 32, 0, 8);
	pseudo[35] = (uint8_t)l4len;
	pseudo[39] = PN_IPPROTO_UDP;
	sum = naive_sum(pseudo, sizeof(pseudo), 0);
	cr_assert_eq(naive_sum(l4, l4len, sum), 0xffff);
	cr_assert_neq(l4[6] | l4[7], 0, "IPv6 UDP always carries a checksum");
	cr_assert_eq(pn_wire_udp6_frame(f, n - 1, &spec, NULL, 11), 0);
}

/* pn_csum_add, inline below PN_CSUM_LONG and vectorized above it, against
 * the textbook sum: every length to 3,000 bytes at every alignment of the
 * buffer in memory, a running sum carried in, and a long buffer (two
 * blocks of the vector loop) of all 0xff bytes, where every lane is full. */
Test(wire, checksum_matches_the_textbook_at_every_length_and_alignment)
{
	static uint8_t buf[3000 + 8], ones[200000];
	uint32_t seed = 12345;

	for (size_t i = 0; i < sizeof(buf); i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (uint8_t)(seed >> 16);
	}
	for (size_t len = 0; len <= 3000; len += (len < 600 ? 1 : 37)) {
		for (unsigned al = 0; al < 8; al++) {
			const uint8_t *p = buf + al;
			uint16_t want = (uint16_t)~naive_sum(p, len, 0);
			uint16_t got = pn_csum(p, len);
			uint16_t got_be = (uint16_t)(got >> 8 | got << 8); /* as stored, read big-endian */
			uint64_t carried = pn_csum_add(0x12345678u, p, len);

			cr_assert_eq(got_be, want, "length %zu at +%u: %04x, want %04x", len, al,
				     got_be, want);
			cr_assert_eq(pn_csum_fold(carried), pn_csum_fold(pn_csum_add(pn_csum_add(0x12345678u, p, 0), p, len)));
		}
	}
	/* 100,000 words of 0xffff: the one's complement sum is 0xffff, the
	 * checksum 0 (too long for naive_sum's 32-bit accumulator) */
	memset(ones, 0xff, sizeof(ones));
	cr_assert_eq(pn_csum(ones, sizeof(ones)), 0);
	cr_assert_eq(pn_csum(ones, sizeof(ones) - 1), pn_csum(ones + 1, sizeof(ones) - 1),
		     "odd lengths, a last byte as a padded word");
}
