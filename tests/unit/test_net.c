/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The layers under TCP on two stacks back to back (pn_stack_pair.h):
 * checksums, ARP, ICMP, UDP, malformed frames, addresses no host has,
 * IPv4 reassembly and fragmented replies; IPv6 with duplicate address
 * detection, neighbour discovery, ICMPv6 and UDP. No root needed.
 */
#include "pn_stack_pair.h"

TestSuite(net, .fini = pair_fini);
TestSuite(net6, .fini = pair_fini);

/* ---- checksums */

Test(net, checksum_rfc1071_and_incremental)
{
	/* RFC 1071 §3 example: sum 0xddf2, checksum ~0xddf2 (byte order as stored) */
	const uint8_t ex[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	uint16_t c = pn_csum(ex, sizeof(ex));
	uint8_t buf[1501];

	cr_assert_eq(ntohs(c), (uint16_t)~0xddf2);
	srand(7);
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rand();
	for (unsigned round = 0; round < 1000; round++) {
		unsigned off = (unsigned)(rand() % 700) * 2;
		uint16_t old, new = (uint16_t)rand(), full;
		uint16_t cs;

		/* odd lengths pad with a zero byte */
		cs = pn_csum(buf, sizeof(buf));
		memcpy(&old, buf + off, 2);
		memcpy(buf + off, &new, 2);
		full = pn_csum(buf, sizeof(buf));
		cr_assert_eq(pn_csum_replace16(cs, old, new), full, "round %u", round);
	}
	/* a buffer with its checksum inserted sums to zero */
	memset(buf, 0, 4);
	c = pn_csum(buf, 100);
	memcpy(buf + 2, &c, 2);
	cr_assert_eq(pn_csum(buf, 100), 0);
}

Test(net, impair_spec_errors)
{
	struct pn_impair imp;
	char err[128];

	cr_assert_eq(pn_impair_parse("rx_loss=0.5,seed=3", &imp, err, sizeof(err)), 0);
	cr_assert_float_eq(imp.rx_loss, 0.5, 1e-9);
	cr_assert_eq(imp.seed, 3);
	cr_assert_eq(pn_impair_parse("rx_loss=2", &imp, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "rx_loss") != NULL, "%s", err);
	cr_assert_eq(pn_impair_parse("nosuch=0.1", &imp, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "nosuch") != NULL, "%s", err);
}

/* ---- ARP, ICMP, UDP */

static int udp_got;
static char udp_buf[64];

static void udp_cb(struct pn_stack *st, struct pn_pkt *pkt, const struct pn_addr *src,
		   uint16_t sport, uint16_t dport, void *arg)
{
	(void)st;
	(void)arg;
	cr_assert(pn_addr_is_v4(src) && pn_addr_v4_host(src) == IP_A);
	cr_assert_eq(sport, 5000);
	cr_assert_eq(dport, 7);
	memcpy(udp_buf, pn_pkt_data(pkt), PN_MIN(pkt->len, sizeof(udp_buf) - 1));
	udp_got++;
	pn_pkt_free(pkt);
}

Test(net, arp_icmp_udp)
{
	struct pn_net_stats sa, sb;

	open_pair(NULL, NULL, 0);
	cr_assert_eq(pn_icmp_echo(A.st, IP_B, 1, 1, "ping", 4), 0);
	PUMP_UNTIL(pn_icmp_echo_replies_seen(A.st) == 1, 2000);
	cr_assert_eq(pn_icmp_echo_replies_seen(A.st), 1);
	pn_stack_stats_get(A.st, &sa);
	pn_stack_stats_get(B.st, &sb);
	cr_assert_eq(sa.arp_tx_request, 1, "one request, the echo waited for it");
	cr_assert_eq(sb.arp_tx_reply, 1);
	cr_assert_eq(sb.icmp_echo_requests, 1);
	/* B learnt A from the request: no ARP of its own for the reply */
	cr_assert_eq(sb.arp_tx_request, 0);

	cr_assert_eq(pn_udp_bind(B.st, 7, udp_cb, NULL), 0);
	cr_assert_eq(pn_udp_bind(B.st, 7, udp_cb, NULL), -EADDRINUSE);
	cr_assert_eq(pn_udp_send(A.st, IP_B, 7, 5000, "hello", 5), 0);
	cr_assert_eq(pn_udp_send(A.st, IP_B, 8, 5000, "nobody", 6), 0);
	/* port 0 is what a free binding slot holds; a datagram to it reached a
	 * NULL callback (found by fuzz_stack) */
	cr_assert_eq(pn_udp_send(A.st, IP_B, 0, 5000, "zero", 4), 0);
	PUMP_UNTIL(udp_got == 1, 2000);
	cr_assert_str_eq(udp_buf, "hello");
	PUMP_UNTIL(0, 20);
	pn_stack_stats_get(B.st, &sb);
	cr_assert_eq(sb.udp_rx, 3);
	cr_assert_eq(sb.udp_no_port, 2);
	cr_assert_eq(pn_udp_send(A.st, IP_B, 7, 5000, udp_buf, 4000), -EMSGSIZE);
	close_pair();
}

Test(net, arp_gives_up)
{
	struct pn_net_stats sa;

	open_pair(NULL, NULL, 0);
	/* nobody answers for .9: three retries a second apart, then dropped */
	cr_assert_eq(pn_udp_send(A.st, 0x0a000009u, 7, 1, "x", 1), 0);
	PUMP_UNTIL(0, 4500);
	pn_stack_stats_get(A.st, &sa);
	cr_assert_eq(sa.arp_tx_request, 1 + 3);
	cr_assert_eq(sa.arp_unresolved_drops, 1);
	close_pair();
}

Test(net, malformed_frames_counted_and_dropped)
{
	struct pn_port_info ib;
	struct pn_net_stats sb;
	struct pn_tcp_stats tb;
	struct pn_pkt *pkt;
	struct pn_ipv4_hdr *ip;
	int64_t inflight;

	open_pair(NULL, NULL, 0);
	pn_port_info_get(B.port, &ib);
	inflight = pn_pool_inflight(A.pool);
	raw_send(raw_frame(ib.mac, 10)); /* runt */
	pkt = raw_frame(ib.mac, 14 + 40);
	ip = raw_ip(pkt, PN_IPPROTO_UDP, 20);
	ip->csum ^= 1; /* bad header checksum */
	raw_send(pkt);
	pkt = raw_frame(ib.mac, 14 + 40);
	ip = raw_ip(pkt, PN_IPPROTO_UDP, 20);
	ip->frag_off = htons(PN_IPV4_MF); /* more fragments */
	raw_ip_csum(ip);
	raw_send(pkt);
	pkt = raw_frame(ib.mac, 14 + 30);
	ip = raw_ip(pkt, PN_IPPROTO_UDP, 20);
	ip->tot_len = htons(400); /* longer than the frame */
	raw_ip_csum(ip);
	raw_send(pkt);
	pkt = raw_frame(ib.mac, 14 + 40);
	ip = raw_ip(pkt, PN_IPPROTO_TCP, 20); /* TCP with a wrong checksum */
	((struct pn_tcp_hdr *)(ip + 1))->doff = 5 << 4;
	((struct pn_tcp_hdr *)(ip + 1))->csum = 0x1234;
	raw_send(pkt);
	pkt = raw_frame(ib.mac, 14 + 30);
	raw_ip(pkt, PN_IPPROTO_TCP, 10); /* shorter than a TCP header */
	raw_send(pkt);
	pn_stack_stats_get(B.st, &sb);
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_eq(sb.rx_runts, 1);
	cr_assert_eq(sb.ip_bad_csum, 1);
	cr_assert_eq(sb.ip_fragments, 1);
	cr_assert_eq(sb.ip_bad_header, 1);
	cr_assert_eq(tb.bad_csum, 1);
	cr_assert_eq(tb.bad_segs, 1);
	cr_assert_eq(pn_pool_inflight(A.pool), inflight, "every bad frame was freed");
	close_pair();
}

/* Nothing is sent to, or answered to, an address no host can have: 0.0.0.0
 * also marked a free ARP slot, so a frame held for it was neither sent nor
 * ever freed (found by fuzz_stack). */
Test(net, non_host_addresses_refused_and_dropped)
{
	static const uint32_t bad[] = {
		0x00000000u, 0x00000001u, 0x7f000001u, 0xe0000001u, 0xf0000001u,
		0xffffffffu, 0x0a0000ffu, /* 10.0.0.255: this /24's broadcast */
	};
	struct pn_port_info ib;
	struct pn_net_stats sa, sb;
	struct pn_pkt *pkt;
	int64_t inflight;

	open_pair(NULL, NULL, 0);
	inflight = pn_pool_inflight(A.pool);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(pn_udp_send(A.st, bad[i], 7, 1, "x", 1), -EADDRNOTAVAIL, "%#x", bad[i]);
		cr_assert_eq(pn_icmp_echo(A.st, bad[i], 1, 1, "x", 1), -EADDRNOTAVAIL, "%#x", bad[i]);
		errno = 0;
		cr_assert_null(pn_tcp_connect(A.st, bad[i], 80, NULL, NULL), "%#x", bad[i]);
		cr_assert(errno == EADDRNOTAVAIL || errno == EINVAL);
	}
	PUMP_UNTIL(0, 20);
	pn_stack_stats_get(A.st, &sa);
	cr_assert_eq(sa.tx_bad_dst, 2 * sizeof(bad) / sizeof(bad[0]));
	cr_assert_eq(sa.arp_tx_request, 0, "no ARP for any of them");
	cr_assert_eq(pn_pool_inflight(A.pool), inflight, "every refused frame was freed");

	/* an echo request from such a source is dropped, not answered */
	pn_port_info_get(B.port, &ib);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pn_ipv4_hdr *ip;
		uint8_t *ic;

		pkt = raw_frame(ib.mac, 14 + 20 + 8);
		ip = raw_ip(pkt, PN_IPPROTO_ICMP, 8);
		ip->saddr = htonl(bad[i]);
		raw_ip_csum(ip);
		ic = (uint8_t *)(ip + 1);
		ic[0] = PN_ICMP_ECHO_REQUEST;
		{
			uint16_t c = pn_csum(ic, 8);

			memcpy(ic + 2, &c, 2);
		}
		raw_send(pkt);
	}
	PUMP_UNTIL(0, 20);
	pn_stack_stats_get(B.st, &sb);
	cr_assert_eq(sb.ip_bad_src, sizeof(bad) / sizeof(bad[0]));
	cr_assert_eq(sb.icmp_echo_requests, 0);
	cr_assert_eq(sb.tx_frames, 0, "nothing answered");
	cr_assert_eq(pn_pool_inflight(A.pool), inflight);
	close_pair();
}

/* ---- IPv4 fragments */

static uint8_t big_l4[16000];

/* An ICMP echo request of @p len bytes (header included) in big_l4. */
static void big_echo(uint32_t len, uint16_t seq)
{
	struct pn_icmp_hdr *ic = (struct pn_icmp_hdr *)big_l4;

	for (uint32_t i = 0; i < len; i++)
		big_l4[i] = (uint8_t)(i * 7);
	ic->type = PN_ICMP_ECHO_REQUEST;
	ic->code = 0;
	ic->csum = 0;
	ic->id = htons(77);
	ic->seq = htons(seq);
	ic->csum = pn_csum(big_l4, len);
}

/* Bytes [off, off + n) of big_l4 as one piece of datagram @p id to B. */
static void send_piece(uint16_t id, uint32_t off, uint32_t n, bool more)
{
	struct pn_port_info ib;
	struct pn_pkt *pkt;
	struct pn_ipv4_hdr *ip;

	pn_port_info_get(B.port, &ib);
	pkt = raw_frame(ib.mac, PN_ETH_HLEN + 20 + n);
	ip = raw_ip(pkt, PN_IPPROTO_ICMP, (uint16_t)n);
	ip->id = htons(id);
	ip->frag_off = htons((uint16_t)((off / 8) | (more ? PN_IPV4_MF : 0)));
	raw_ip_csum(ip);
	memcpy(ip + 1, big_l4 + off, n);
	raw_send(pkt);
}

Test(net, fragmented_ping_reassembled_and_answered_in_pieces)
{
	struct pn_net_stats sa, sb;
	int64_t in_a;

	open_pair(NULL, NULL, 0);
	/* B learns A's address first (an ordinary ping) */
	cr_assert_eq(pn_icmp_echo(A.st, IP_B, 1, 1, "x", 1), 0);
	PUMP_UNTIL(pn_icmp_echo_replies_seen(A.st) == 1, 2000);
	in_a = pn_pool_inflight(A.pool);
	/* 4,008 bytes of ICMP in three pieces, the last first */
	big_echo(4008, 2);
	send_piece(1000, 2960, 1048, false);
	send_piece(1000, 0, 1480, true);
	send_piece(1000, 1480, 1480, true);
	PUMP_UNTIL(pn_icmp_echo_replies_seen(A.st) == 2, 2000);
	cr_assert_eq(pn_icmp_echo_replies_seen(A.st), 2, "the reply came back whole");
	pn_stack_stats_get(A.st, &sa);
	pn_stack_stats_get(B.st, &sb);
	cr_assert_eq(sb.ip_reasm_ok, 1);
	cr_assert_eq(sb.ip_frags_out, 3, "B answered in three pieces");
	cr_assert_eq(sa.ip_reasm_ok, 1, "A put B's reply together");

	/* a duplicate piece is dropped alone; the datagram completes */
	big_echo(3000, 3);
	send_piece(1001, 0, 1480, true);
	send_piece(1001, 0, 1480, true);
	send_piece(1001, 1480, 1520, false);
	PUMP_UNTIL(pn_icmp_echo_replies_seen(A.st) == 3, 2000);
	cr_assert_eq(pn_icmp_echo_replies_seen(A.st), 3);
	/* overlapping pieces drop the datagram: no reply */
	big_echo(3000, 4);
	send_piece(1002, 0, 1480, true);
	send_piece(1002, 1472, 1528, false);
	/* more pieces than a packet holds */
	big_echo(8 * 400, 5);
	for (uint32_t k = 0; k < 8; k++)
		send_piece(1003, k * 400, 400, k < 7);
	/* a piece of odd length that is not the last; one past 64 KiB */
	send_piece(1004, 0, 99, true);
	send_piece(1005, 65528, 100, false);
	PUMP_UNTIL(0, 50);
	pn_stack_stats_get(B.st, &sb);
	cr_assert_eq(sb.ip_reasm_dup, 1);
	cr_assert_eq(sb.ip_reasm_overlap, 1);
	cr_assert_eq(sb.ip_reasm_too_big, 1);
	cr_assert_eq(sb.ip_reasm_bad, 2);
	cr_assert_eq(pn_icmp_echo_replies_seen(A.st), 3, "nothing answered for the bad ones");
	/* 40 incomplete datagrams: 16 kept at once, the rest push out the
	 * oldest; what is left goes after 30 s */
	big_echo(3000, 6);
	for (uint16_t id = 2000; id < 2040; id++)
		send_piece(id, 0, 1480, true);
	pn_stack_stats_get(B.st, &sb);
	cr_assert_eq(sb.ip_reasm_evicted, 40 - 16 + 0);
	PUMP_UNTIL(0, 200);
	close_pair(); /* held pieces go back with the stack */
	(void)in_a;
}

/* Pieces [32,40) and [0,8), then the last [16,24): the byte count reaches
 * the end with [8,16) missing and a piece past the end. An off-path sender
 * who guesses an IP ID could finish a victim's datagram this way: the
 * datagram is dropped, counted, and a whole one with the same ID after it
 * is put together from its own bytes. */
Test(net, reassembly_completes_on_coverage_not_on_a_byte_count)
{
	struct pn_net_stats sb;

	open_pair(NULL, NULL, 0);
	cr_assert_eq(pn_icmp_echo(A.st, IP_B, 1, 1, "x", 1), 0); /* B learns A */
	PUMP_UNTIL(pn_icmp_echo_replies_seen(A.st) == 1, 2000);
	big_echo(40, 2);
	send_piece(3000, 32, 8, true);
	send_piece(3000, 0, 8, true);
	send_piece(3000, 16, 8, false);
	PUMP_UNTIL(0, 50);
	pn_stack_stats_get(B.st, &sb);
	cr_assert_eq(sb.ip_reasm_ok, 0, "put together with a hole");
	cr_assert_eq(sb.ip_reasm_past_end, 1);
	/* the last piece first, then one past it */
	send_piece(3001, 16, 8, false);
	send_piece(3001, 24, 8, true);
	/* a hole in the middle and every other piece: never complete */
	send_piece(3002, 0, 8, true);
	send_piece(3002, 16, 24, false);
	PUMP_UNTIL(0, 50);
	pn_stack_stats_get(B.st, &sb);
	cr_assert_eq(sb.ip_reasm_ok, 0);
	cr_assert_eq(sb.ip_reasm_past_end, 2);
	/* the same ID again, whole, in any order: answered */
	send_piece(3000, 16, 24, false);
	send_piece(3000, 8, 8, true);
	send_piece(3000, 0, 8, true);
	PUMP_UNTIL(pn_icmp_echo_replies_seen(A.st) == 2, 2000);
	cr_assert_eq(pn_icmp_echo_replies_seen(A.st), 2, "the whole datagram was not answered");
	pn_stack_stats_get(B.st, &sb);
	cr_assert_eq(sb.ip_reasm_ok, 1);
	close_pair();
}

Test(net, incomplete_datagrams_time_out_with_every_page_back)
{
	struct pn_net_stats sb;
	int64_t in_a;

	fake_time = true;
	open_pair(NULL, NULL, 0);
	in_a = pn_pool_inflight(A.pool);
	big_echo(3000, 1);
	send_piece(7, 0, 1480, true);
	send_piece(8, 1480, 1520, false);
	cr_assert_gt(pn_pool_inflight(A.pool), in_a, "B holds the pieces");
	PUMP_UNTIL(0, 29000);
	pn_stack_stats_get(B.st, &sb);
	cr_assert_eq(sb.ip_reasm_timeout, 0);
	PUMP_UNTIL(0, 2000);
	pn_stack_stats_get(B.st, &sb);
	cr_assert_eq(sb.ip_reasm_timeout, 2);
	cr_assert_eq(pn_pool_inflight(A.pool), in_a, "every piece freed");
	close_pair();
}

/* ---- IPv6 */

Test(net6, dad_then_ping_and_neighbour_discovery)
{
	struct pn_addr b6 = addr6("fd00::2");
	struct pn_net_stats sa, sb;

	dual_stack = true;
	fake_time = true;
	open_pair(NULL, NULL, 0);
	cr_assert_not(pn_stack_ip6_ready(A.st), "tentative until DAD is over");
	cr_assert_eq(pn_icmp6_echo(A.st, &b6, 1, 1, "x", 1), -EADDRNOTAVAIL);
	PUMP_UNTIL(pn_stack_ip6_ready(A.st) && pn_stack_ip6_ready(B.st), 3000);
	cr_assert(pn_stack_ip6_ready(A.st) && pn_stack_ip6_ready(B.st));
	cr_assert_eq(pn_icmp6_echo(A.st, &b6, 1, 2, "ping6", 5), 0);
	PUMP_UNTIL(pn_icmp_echo_replies_seen(A.st) == 1, 2000);
	cr_assert_eq(pn_icmp_echo_replies_seen(A.st), 1);
	pn_stack_stats_get(A.st, &sa);
	pn_stack_stats_get(B.st, &sb);
	cr_assert_eq(sa.nd_tx_solicit, 2, "one DAD probe, one solicitation for B");
	cr_assert_eq(sb.nd_tx_advert, 1, "B answered it");
	cr_assert_eq(sb.icmp6_echo_requests, 1);
	cr_assert_eq(sb.arp_tx_request, 0, "B learnt A from the solicitation");
	cr_assert_eq(sa.nd_dad_conflicts + sb.nd_dad_conflicts, 0);
	/* groups, loopback, the unspecified address are no peers */
	cr_assert_eq(pn_icmp6_echo(A.st, &(struct pn_addr){ { 0xff, 0x02, [15] = 1 } }, 1, 3, "x", 1),
		     -EADDRNOTAVAIL);
	cr_assert_eq(pn_icmp6_echo(A.st, &(struct pn_addr){ { [15] = 1 } }, 1, 3, "x", 1),
		     -EADDRNOTAVAIL);
	close_pair();
}

Test(net6, duplicate_address_is_not_used)
{
	struct pn_net_stats sa, sb;

	dual_stack = true;
	same_ip6 = true;
	fake_time = true;
	open_pair(NULL, NULL, 0);
	PUMP_UNTIL(0, 3000);
	pn_stack_stats_get(A.st, &sa);
	pn_stack_stats_get(B.st, &sb);
	cr_assert_gt(sa.nd_dad_conflicts + sb.nd_dad_conflicts, 0);
	cr_assert_not(pn_stack_ip6_ready(A.st) && pn_stack_ip6_ready(B.st),
		      "both kept an address only one may have");
	close_pair();
}

static int udp6_got;

static void udp6_cb(struct pn_stack *st, struct pn_pkt *pkt, const struct pn_addr *src,
		    uint16_t sport, uint16_t dport, void *arg)
{
	struct pn_addr a6 = addr6("fd00::1");

	(void)st;
	(void)arg;
	cr_assert(pn_addr_eq(src, &a6));
	cr_assert_eq(sport, 5000);
	cr_assert_eq(dport, 9);
	cr_assert_eq(pn_pkt_headlen(pkt), 6);
	cr_assert_eq(memcmp(pn_pkt_data(pkt), "hello6", 6), 0);
	udp6_got++;
	pn_pkt_free(pkt);
}

Test(net6, udp_over_ipv6)
{
	struct pn_addr b6 = addr6("fd00::2");

	dual_stack = true;
	fake_time = true;
	open_pair(NULL, NULL, 0);
	PUMP_UNTIL(pn_stack_ip6_ready(A.st) && pn_stack_ip6_ready(B.st), 3000);
	cr_assert_eq(pn_udp_bind(B.st, 9, udp6_cb, NULL), 0);
	cr_assert_eq(pn_udp_send_addr(A.st, &b6, 9, 5000, "hello6", 6), 0);
	PUMP_UNTIL(udp6_got == 1, 1000);
	cr_assert_eq(udp6_got, 1);
	close_pair();
}


/* ---- IPv6 extension headers and fragments */

/* An ICMPv6 echo request of @p len bytes (header included) in big_l4,
 * A (fd00::1) to B (fd00::2). */
static void big_echo6(uint32_t len, uint16_t seq)
{
	struct pn_addr a6 = addr6("fd00::1"), b6 = addr6("fd00::2");
	struct pn_icmp_hdr *ic = (struct pn_icmp_hdr *)big_l4;

	for (uint32_t i = 0; i < len; i++)
		big_l4[i] = (uint8_t)(i * 13);
	ic->type = PN_ICMP6_ECHO_REQUEST;
	ic->code = 0;
	ic->csum = 0;
	ic->id = htons(66);
	ic->seq = htons(seq);
	ic->csum = pn_csum_fold(pn_csum_add(pn_csum_pseudo6(a6.b, b6.b, PN_IPPROTO_ICMPV6, len),
					    big_l4, len));
}

/* An IPv6 packet from A to B: @p ext (its first header of type @p next),
 * then bytes [off, off + n) of big_l4. */
static void send6(uint8_t next, const void *ext, uint32_t ext_len, uint32_t off, uint32_t n)
{
	struct pn_addr a6 = addr6("fd00::1"), b6 = addr6("fd00::2");
	struct pn_port_info ib;
	struct pn_ipv6_hdr *h;
	struct pn_pkt *pkt;
	uint8_t *p;

	pn_port_info_get(B.port, &ib);
	pkt = raw_frame(ib.mac, PN_ETH_HLEN + PN_IPV6_HLEN + ext_len + n);
	p = pn_pkt_data(pkt);
	p[12] = 0x86;
	p[13] = 0xdd;
	h = (struct pn_ipv6_hdr *)(p + PN_ETH_HLEN);
	h->ver_tc_flow = htonl(6u << 28);
	h->payload_len = htons((uint16_t)(ext_len + n));
	h->next = next;
	h->hop_limit = 64;
	memcpy(h->saddr, a6.b, 16);
	memcpy(h->daddr, b6.b, 16);
	if (ext_len)
		memcpy(h + 1, ext, ext_len);
	memcpy((uint8_t *)(h + 1) + ext_len, big_l4 + off, n);
	raw_send(pkt);
}

/* One piece of echo datagram @p id: a fragment header, then big_l4's bytes. */
static void send6_piece(uint32_t id, uint32_t off, uint32_t n, bool more)
{
	struct pn_ipv6_frag_hdr fh = { .next = PN_IPPROTO_ICMPV6,
				       .frag_off = htons((uint16_t)(off | (more ? 1 : 0))),
				       .id = htonl(id) };

	send6(PN_IPV6_NH_FRAGMENT, &fh, sizeof(fh), off, n);
}

Test(net6, fragmented_ping6_reassembled_and_answered_in_pieces)
{
	struct pn_addr b6 = addr6("fd00::2");
	struct pn_net_stats sa, sb;

	dual_stack = true;
	fake_time = true;
	open_pair(NULL, NULL, 0);
	PUMP_UNTIL(pn_stack_ip6_ready(A.st) && pn_stack_ip6_ready(B.st), 3000);
	cr_assert_eq(pn_icmp6_echo(A.st, &b6, 1, 1, "x", 1), 0); /* B learns A */
	PUMP_UNTIL(pn_icmp_echo_replies_seen(A.st) == 1, 2000);
	/* 4,008 bytes in three pieces, the last first; the reply comes in
	 * pieces that A puts together */
	big_echo6(4008, 2);
	send6_piece(0x1000, 2896, 4008 - 2896, false);
	send6_piece(0x1000, 0, 1448, true);
	send6_piece(0x1000, 1448, 1448, true);
	PUMP_UNTIL(pn_icmp_echo_replies_seen(A.st) == 2, 2000);
	cr_assert_eq(pn_icmp_echo_replies_seen(A.st), 2, "the reply came back whole");
	pn_stack_stats_get(A.st, &sa);
	pn_stack_stats_get(B.st, &sb);
	cr_assert_eq(sb.ip6_fragments, 3);
	cr_assert_eq(sb.ip_reasm_ok, 1);
	cr_assert_eq(sb.ip6_frags_out, 3, "B answered in three pieces");
	cr_assert_eq(sa.ip_reasm_ok, 1, "A put B's reply together");
	/* overlapping pieces (RFC 5722): the datagram goes, nothing answered */
	send6_piece(0x1001, 0, 1448, true);
	send6_piece(0x1001, 1440, 1448, true);
	/* an atomic fragment (RFC 6946) is whole already */
	big_echo6(100, 3);
	send6_piece(0x1002, 0, 100, false);
	PUMP_UNTIL(pn_icmp_echo_replies_seen(A.st) == 3, 2000);
	cr_assert_eq(pn_icmp_echo_replies_seen(A.st), 3);
	pn_stack_stats_get(B.st, &sb);
	cr_assert_eq(sb.ip_reasm_overlap, 1);
	/* what is left of an unfinished datagram goes after 30 s */
	send6_piece(0x1003, 0, 1448, true);
	PUMP_UNTIL(0, 31000);
	pn_stack_stats_get(B.st, &sb);
	cr_assert_eq(sb.ip_reasm_timeout, 1);
	close_pair(); /* every page back */
}

Test(net6, extension_headers_skipped_or_dropped_as_rfc_8200_says)
{
	struct pn_addr b6 = addr6("fd00::2");
	struct pn_net_stats sb;
	/* hop-by-hop: PadN of 4 (and 2 bytes of header) then dest options
	 * with a Pad1, a router alert (skip) and a PadN */
	uint8_t hbh_dst[16] = { PN_IPV6_NH_DSTOPTS, 0, 1, 4, 0, 0, 0, 0,
				PN_IPPROTO_ICMPV6, 0, 0, 5, 2, 0, 0, 0 };
	uint8_t dst_discard[8] = { PN_IPPROTO_ICMPV6, 0, 0x80, 2, 0, 0, 1, 0 };
	uint8_t dst_bad_len[8] = { PN_IPPROTO_ICMPV6, 0, 1, 9, 0, 0, 0, 0 };
	uint8_t rt_done[8] = { PN_IPPROTO_ICMPV6, 0, 4, 0, 0, 0, 0, 0 };
	uint8_t rt_left[24] = { PN_IPPROTO_ICMPV6, 2, 4, 1 };
	uint8_t hbh_late[16] = { PN_IPV6_NH_HOPOPTS, 0, 1, 4, 0, 0, 0, 0,
				 PN_IPPROTO_ICMPV6, 0, 1, 4, 0, 0, 0, 0 };
	uint8_t esp[8] = { 0 };
	unsigned seen;

	dual_stack = true;
	fake_time = true;
	open_pair(NULL, NULL, 0);
	PUMP_UNTIL(pn_stack_ip6_ready(A.st) && pn_stack_ip6_ready(B.st), 3000);
	cr_assert_eq(pn_icmp6_echo(A.st, &b6, 1, 1, "x", 1), 0);
	PUMP_UNTIL(pn_icmp_echo_replies_seen(A.st) == 1, 2000);
	/* skipped: answered */
	big_echo6(64, 2);
	send6(PN_IPV6_NH_HOPOPTS, hbh_dst, sizeof(hbh_dst), 0, 64);
	big_echo6(64, 3);
	send6(PN_IPV6_NH_ROUTING, rt_done, sizeof(rt_done), 0, 64);
	PUMP_UNTIL(pn_icmp_echo_replies_seen(A.st) == 3, 2000);
	cr_assert_eq(pn_icmp_echo_replies_seen(A.st), 3, "both answered");
	/* dropped, each counted */
	seen = pn_icmp_echo_replies_seen(A.st);
	send6(PN_IPV6_NH_DSTOPTS, dst_discard, sizeof(dst_discard), 0, 64);
	send6(PN_IPV6_NH_ROUTING, rt_left, sizeof(rt_left), 0, 64);
	send6(PN_IPV6_NH_ESP, esp, sizeof(esp), 0, 64);
	send6(PN_IPV6_NH_NONE, NULL, 0, 0, 8);
	pn_stack_stats_get(B.st, &sb);
	cr_assert_eq(sb.ip6_ext_dropped, 4);
	send6(PN_IPV6_NH_DSTOPTS, dst_bad_len, sizeof(dst_bad_len), 0, 64);
	send6(PN_IPV6_NH_HOPOPTS, hbh_late, sizeof(hbh_late), 0, 64);
	send6(PN_IPV6_NH_DSTOPTS, dst_bad_len, 3, 0, 0); /* cut short */
	PUMP_UNTIL(0, 50);
	pn_stack_stats_get(B.st, &sb);
	cr_assert_eq(sb.ip6_bad_header, 3, "malformed: %llu",
		     (unsigned long long)sb.ip6_bad_header);
	cr_assert_eq(pn_icmp_echo_replies_seen(A.st), seen, "none of them answered");
	close_pair();
}
