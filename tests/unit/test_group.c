/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Stack groups: the flow hash against the RSS specification's own
 * examples, configurations refused, and two groups of two stacks back to
 * back on a two-queue loop pair, where a queue delivers to the stack of the
 * same index whoever owns the flow: connections in both directions whose
 * bytes must arrive whole, segments handed over both ways, a neighbour
 * learned by one member used by another. One thread polls all four stacks
 * here; tests/stress runs each member on its own thread.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

#include "pn_group_side.h"
#include "pn_tcp.h"
#include "pn_wire.h"

static struct pn_addr addr(const char *s)
{
	struct pn_addr a;

	cr_assert_eq(pn_addr_parse(s, &a, NULL), 0, "%s", s);
	return a;
}

/* Microsoft's "Verifying the RSS Hash Calculation" tables, with ports */
Test(group, hash_matches_the_rss_specification)
{
	static const struct {
		const char *src, *dst;
		uint16_t sport, dport;
		uint32_t hash;
	} v[] = {
		{ "66.9.149.187", "161.142.100.80", 2794, 1766, 0x51ccc178 },
		{ "199.92.111.2", "65.69.140.83", 14230, 4739, 0xc626b0ea },
		{ "24.19.198.95", "12.22.207.184", 12898, 38024, 0x5c2b394a },
		{ "38.27.205.30", "209.142.163.6", 48228, 2217, 0xafc7327f },
		{ "153.39.163.191", "202.188.127.2", 44251, 1303, 0x10e828a2 },
		{ "3ffe:2501:200:1fff::7", "3ffe:2501:200:3::1", 2794, 1766, 0x40207d3d },
		{ "3ffe:501:8::260:97ff:fe40:efab", "ff02::1", 14230, 4739, 0xdde51bbf },
		{ "3ffe:1900:4545:3:200:f8ff:fe21:67cf", "fe80::200:f8ff:fe21:67cf", 44251, 38024,
		  0x02d1feef },
	};
	struct pn_stack_group *g = pn_stack_group_create(
		&(struct pn_stack_group_conf){ .sz = sizeof(struct pn_stack_group_conf), .nb_stacks = 4 });

	cr_assert_not_null(g);
	for (unsigned i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct pn_addr s = addr(v[i].src), d = addr(v[i].dst);
		uint32_t h = pn_stack_group_hash(g, &s, &d, v[i].sport, v[i].dport);

		cr_assert_eq(h, v[i].hash, "%s -> %s: %08x, the specification says %08x", v[i].src,
			     v[i].dst, h, v[i].hash);
		/* the default indirection table: entry i is queue i % 4 */
		cr_assert_eq(pn_stack_group_owner(g, &s, &d, v[i].sport, v[i].dport),
			     (v[i].hash & 127) % 4);
	}
	cr_assert_eq(pn_stack_group_destroy(g), 0);
}

Test(group, bad_configurations_refused)
{
	struct pn_stack_group_conf c = { .sz = sizeof(c), .nb_stacks = 2 };
	uint16_t reta[4] = { 0, 1, 0, 2 };
	struct pn_stack_group *g;

	cr_assert_null(pn_stack_group_create(NULL));
	c.nb_stacks = 0;
	cr_assert_null(pn_stack_group_create(&c));
	cr_assert_eq(errno, EINVAL);
	c.nb_stacks = PN_PORT_MAX_QUEUES + 1;
	cr_assert_null(pn_stack_group_create(&c));
	c.nb_stacks = 2;
	c.sz = 4;
	cr_assert_null(pn_stack_group_create(&c), "a conf too short for its version");
	c.sz = sizeof(c);
	c.reta = reta;
	c.reta_size = 4;
	cr_assert_null(pn_stack_group_create(&c), "an entry naming queue 2 of 2");
	reta[3] = 1;
	c.reta_size = 3;
	cr_assert_null(pn_stack_group_create(&c), "not a power of two");
	c.reta_size = 4;
	c.steer_ring = 1000;
	cr_assert_null(pn_stack_group_create(&c), "a ring not a power of two");
	c.steer_ring = 64;
	g = pn_stack_group_create(&c);
	cr_assert_not_null(g);
	cr_assert_eq(pn_stack_group_destroy(g), 0);
	cr_assert_eq(pn_stack_group_destroy(NULL), 0);
}

/* ---- two groups back to back */

#define NQ GS_NQ
#define IP_A 0x0a000001u
#define IP_B 0x0a000002u

static struct gs_side A, B;
static int seq;

/* @p members stacks on @p s (the first ones), each with TCP */
static void side_open(struct gs_side *s, const char *pair, uint32_t ip, unsigned members)
{
	gs_open(s, pair, 4096);
	for (unsigned q = 0; q < members; q++) {
		s->st[q] = pn_stack_create(&(struct pn_stack_conf){
			.sz = sizeof(struct pn_stack_conf), .port = s->port, .queue = (uint16_t)q,
			.pool = s->pool[q], .ip = ip, .prefix_len = 24, .group = s->g });
		cr_assert_not_null(s->st[q]);
		cr_assert_eq(pn_tcp_configure(s->st[q], &(struct pn_tcp_conf){
				     .sz = sizeof(struct pn_tcp_conf), .time_wait_ms = 20 }), 0);
	}
}

static void open_both(unsigned members_a)
{
	char pair[32];

	snprintf(pair, sizeof(pair), "group%d", seq++);
	side_open(&A, pair, IP_A, members_a);
	side_open(&B, pair, IP_B, NQ);
}

static void poll_all(void)
{
	for (unsigned q = 0; q < NQ; q++) {
		if (A.st[q])
			pn_stack_poll(A.st[q]);
		pn_stack_poll(B.st[q]);
	}
}

static void net_stats_sum(struct gs_side *s, struct pn_net_stats *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (unsigned q = 0; q < NQ; q++) {
		struct pn_net_stats n;

		if (s->st[q] == NULL)
			continue;
		pn_stack_stats_get(s->st[q], &n);
		sum->steer_out += n.steer_out;
		sum->steer_in += n.steer_in;
		sum->steer_drops += n.steer_drops;
		sum->neigh_from_group += n.neigh_from_group;
		sum->arp_tx_request += n.arp_tx_request;
	}
}

Test(group, joining_twice_or_outside_refused)
{
	struct pn_stack_conf c;

	open_both(NQ);
	c = (struct pn_stack_conf){ .sz = sizeof(c), .port = A.port, .queue = 1, .pool = A.pool[1],
				    .ip = IP_A, .group = A.g };
	cr_assert_null(pn_stack_create(&c), "the place is taken");
	cr_assert_eq(errno, EEXIST);
	/* a group of one on this two-queue port: queue 1 is outside it */
	{
		struct pn_stack_group *one = pn_stack_group_create(&(struct pn_stack_group_conf){
			.sz = sizeof(struct pn_stack_group_conf), .nb_stacks = 1 });

		cr_assert_not_null(one);
		c.group = one;
		cr_assert_null(pn_stack_create(&c), "a place outside the group");
		cr_assert_eq(errno, EINVAL);
		cr_assert_eq(pn_stack_group_destroy(one), 0, "nobody joined");
		cr_assert_eq(pn_stack_group_owner(NULL, NULL, NULL, 1, 2), 0);
	}
	cr_assert_eq(pn_stack_group_destroy(A.g), -EBUSY, "members still in it");
	gs_close(&A);
	gs_close(&B);
}

#define NCONN 24
#define CONN_BYTES (200 * 1000)

struct flow {
	struct pn_tcp_sock *c, *s;
	uint64_t sent, rcvd;
	bool bad;
};

static struct flow flows[NCONN];

/* every byte's value from its place in the stream and the flow */
static uint8_t pattern(unsigned f, uint64_t off)
{
	return (uint8_t)(off * 7 + f * 13 + (off >> 9));
}

static struct flow *flow_of_server(struct pn_tcp_sock *s)
{
	for (unsigned f = 0; f < NCONN; f++)
		if (flows[f].s == s)
			return &flows[f];
	return NULL;
}

Test(group, connections_both_ways_every_byte_to_its_owner)
{
	struct pn_tcp_sock *l[NQ];
	struct pn_net_stats na, nb;
	unsigned accepted = 0;

	open_both(NQ);
	for (unsigned q = 0; q < NQ; q++) {
		l[q] = pn_tcp_listen(B.st[q], 8080, 64, NULL, NULL);
		cr_assert_not_null(l[q], "a listener on every member");
	}
	memset(flows, 0, sizeof(flows));
	for (unsigned f = 0; f < NCONN; f++) {
		struct pn_tcp_info i;
		struct pn_addr peer = pn_addr_v4(IP_B), us = pn_addr_v4(IP_A);

		flows[f].c = pn_tcp_connect(A.st[f % NQ], IP_B, 8080, NULL, NULL);
		cr_assert_not_null(flows[f].c);
		pn_tcp_info_get(flows[f].c, &i);
		/* the port makes the flow's replies ours by the hash */
		cr_assert(pn_stack_owns_flow(A.st[f % NQ], &peer, 8080, i.local_port));
		cr_assert_eq(pn_stack_group_owner(A.g, &peer, &us, 8080, i.local_port), f % NQ);
		/* a handful of polls each: an unresolved neighbour holds only
		 * 8 frames, and a dropped SYN waits a second for its RTO */
		for (unsigned r = 0; r < 4; r++)
			poll_all();
	}
	for (unsigned round = 0; round < 20000 && accepted < NCONN; round++) {
		poll_all();
		for (unsigned q = 0; q < NQ; q++) {
			struct pn_tcp_sock *s;

			while ((s = pn_tcp_accept(l[q])) != NULL) {
				struct pn_tcp_info i;
				unsigned f;

				pn_tcp_info_get(s, &i);
				for (f = 0; f < NCONN; f++) {
					struct pn_tcp_info ci;

					pn_tcp_info_get(flows[f].c, &ci);
					if (ci.local_port == i.peer_port)
						break;
				}
				cr_assert_lt(f, NCONN, "an accepted connection nobody opened");
				cr_assert_null(flows[f].s, "accepted twice");
				flows[f].s = s;
				accepted++;
			}
		}
	}
	net_stats_sum(&A, &na);
	net_stats_sum(&B, &nb);
	cr_assert_eq(accepted, NCONN, "accepted %u; A steered %llu/%llu drops %llu, B %llu/%llu drops %llu",
		     accepted, (unsigned long long)na.steer_out, (unsigned long long)na.steer_in,
		     (unsigned long long)na.steer_drops, (unsigned long long)nb.steer_out,
		     (unsigned long long)nb.steer_in, (unsigned long long)nb.steer_drops);
	for (unsigned f = 0; f < NCONN; f++)
		cr_assert_eq(pn_tcp_state(flows[f].c), PN_TCP_ESTABLISHED, "flow %u", f);
	/* each flow: bytes one way, checked at the other end, with a member
	 * on each side that never owns it receiving some of its segments */
	for (unsigned round = 0; round < 200000; round++) {
		bool done = true;

		for (unsigned f = 0; f < NCONN; f++) {
			struct flow *w = &flows[f];
			uint8_t buf[4096];
			ssize_t n;

			if (w->sent < CONN_BYTES) {
				size_t want = (size_t)PN_MIN(sizeof(buf), CONN_BYTES - w->sent);

				for (size_t k = 0; k < want; k++)
					buf[k] = pattern(f, w->sent + k);
				n = pn_tcp_send(w->c, buf, want);
				if (n > 0)
					w->sent += (uint64_t)n;
			}
			while ((n = pn_tcp_recv(w->s, buf, sizeof(buf))) > 0) {
				for (ssize_t k = 0; k < n; k++)
					if (buf[k] != pattern(f, w->rcvd + (uint64_t)k))
						w->bad = true;
				w->rcvd += (uint64_t)n;
			}
			done &= w->rcvd == CONN_BYTES;
		}
		if (done)
			break;
		poll_all();
	}
	for (unsigned f = 0; f < NCONN; f++) {
		cr_assert_eq(flows[f].rcvd, CONN_BYTES, "flow %u: %llu bytes", f,
			     (unsigned long long)flows[f].rcvd);
		cr_assert_not(flows[f].bad, "flow %u: bytes out of place", f);
		cr_assert_not_null(flow_of_server(flows[f].s));
	}
	net_stats_sum(&A, &na);
	net_stats_sum(&B, &nb);
	/* queue q of A delivers to member q of B: about half of B's flows
	 * arrive at the wrong member, and their replies at the wrong member of A */
	cr_assert_gt(nb.steer_out, 0, "B handed segments over");
	cr_assert_gt(na.steer_out, 0, "A handed replies to the member that opened");
	cr_assert_eq(na.steer_drops + nb.steer_drops, 0);
	cr_assert_gt(nb.neigh_from_group, 0, "a member answered with a neighbour another learned");
	for (unsigned f = 0; f < NCONN; f++) {
		pn_tcp_close(flows[f].c);
		pn_tcp_close(flows[f].s);
	}
	for (unsigned q = 0; q < NQ; q++)
		pn_tcp_close(l[q]);
	for (unsigned round = 0; round < 3000; round++)
		poll_all();
	net_stats_sum(&A, &na);
	net_stats_sum(&B, &nb);
	cr_assert_eq(na.steer_in, na.steer_out, "every segment handed over was taken");
	cr_assert_eq(nb.steer_in, nb.steer_out);
	for (unsigned q = 0; q < NQ; q++) {
		struct pn_tcp_stats t;

		pn_tcp_stats_get(A.st[q], &t);
		cr_assert_eq(t.sockets, 0, "A member %u: sockets left", q);
		pn_tcp_stats_get(B.st[q], &t);
		cr_assert_eq(t.sockets, 0, "B member %u: sockets left", q);
	}
	gs_close(&A);
	gs_close(&B);
}

/*
 * Member 1 asks for a neighbour; the answer comes in on member 0's queue.
 * Member 1 sends what it held at its next poll, without asking again.
 */
Test(group, a_neighbour_answer_on_another_queue_serves_the_asker)
{
	struct pn_pkt *p, *got[8];
	struct pn_net_stats n1;
	uint8_t mac_a[6] = { 0x02, 0, 0, 0, 0, 0xaa };
	struct pn_arp_hdr *arp;
	struct pn_eth_hdr *eth;
	struct pn_port_info bi;
	uint16_t n;

	open_both(0); /* A: the port, no stacks: the test plays A by hand */
	cr_assert_eq(pn_icmp_echo(B.st[1], IP_A, 1, 1, "hi", 2), 0);
	pn_stack_poll(B.st[1]);
	n = pn_port_rx_burst(A.port, 1, got, 8);
	cr_assert_eq(n, 1, "member 1's ARP request");
	pn_pkt_free(got[0]);
	/* the reply, as if A's NIC had put it on queue 0 */
	pn_port_info_get(B.port, &bi);
	p = pn_pkt_alloc(A.pool[0]);
	eth = (struct pn_eth_hdr *)pn_pkt_append(p, sizeof(*eth) + sizeof(*arp));
	memcpy(eth->dst, bi.mac, 6);
	memcpy(eth->src, mac_a, 6);
	eth->type = htons(PN_ETH_P_ARP);
	arp = (struct pn_arp_hdr *)(eth + 1);
	*arp = (struct pn_arp_hdr){ .htype = htons(1), .ptype = htons(PN_ETH_P_IPV4), .hlen = 6,
				    .plen = 4, .op = htons(PN_ARP_OP_REPLY), .spa = htonl(IP_A),
				    .tpa = htonl(IP_B) };
	memcpy(arp->sha, mac_a, 6);
	memcpy(arp->tha, bi.mac, 6);
	pn_stack_input(B.st[0], p);
	pn_stack_poll(B.st[0]);
	pn_stack_poll(B.st[1]);
	n = pn_port_rx_burst(A.port, 1, got, 8);
	cr_assert_eq(n, 1, "the echo request member 1 held");
	eth = (struct pn_eth_hdr *)pn_pkt_data(got[0]);
	cr_assert_eq(memcmp(eth->dst, mac_a, 6), 0, "sent to the MAC member 0 learned");
	cr_assert_eq(eth->type, htons(PN_ETH_P_IPV4));
	pn_pkt_free(got[0]);
	pn_stack_stats_get(B.st[1], &n1);
	cr_assert_eq(n1.neigh_from_group, 1);
	cr_assert_eq(n1.arp_tx_request, 1, "asked once");
	gs_close(&A);
	gs_close(&B);
}

/* A SYN from A (10.0.0.1:sport) to B's port 80, as A's NIC would frame it. */
static struct pn_pkt *syn_to_b(uint16_t sport, const uint8_t b_mac[6])
{
	static const uint8_t mac_a[6] = { 0x02, 0, 0, 0, 0, 0xaa };
	struct pn_pkt *p = pn_pkt_alloc(A.pool[0]);
	uint8_t *d;
	struct pn_tcp_hdr *th;

	cr_assert_not_null(p);
	d = pn_pkt_append(p, PN_ETH_HLEN + 20 + 20);
	cr_assert_not_null(d);
	th = (struct pn_tcp_hdr *)(d + PN_ETH_HLEN + 20);
	pn_wire_eth(d, b_mac, mac_a, PN_ETH_P_IPV4);
	pn_wire_ipv4(d + PN_ETH_HLEN, IP_A, IP_B, PN_IPPROTO_TCP, 1, 20);
	memset(th, 0, sizeof(*th));
	th->sport = htons(sport);
	th->dport = htons(80);
	th->seq = htonl(1000);
	th->doff = 5 << 4;
	th->flags = PN_TCP_F_SYN;
	th->win = htons(65535);
	pn_wire_l4_csum4(th, 20, IP_A, IP_B, PN_IPPROTO_TCP);
	return p;
}

/*
 * Segments for a member that left are dropped and counted, not lost track
 * of; a member that takes the place again starts clean and serves its
 * flows; what waits in a member's ring when it leaves is freed, every page
 * back in its pool.
 */
Test(group, a_member_that_leaves_and_one_that_takes_its_place)
{
	struct pn_addr a = pn_addr_v4(IP_A), b = pn_addr_v4(IP_B);
	struct pn_net_stats n0;
	struct pn_tcp_stats t1;
	struct pn_port_info bi;
	struct pn_pkt *got[16];
	uint16_t sport = 40000;
	unsigned n = 0;

	open_both(0);
	pn_port_info_get(B.port, &bi);
	while (pn_stack_group_owner(B.g, &a, &b, sport, 80) != 1)
		sport++; /* a flow member 1 owns */
	cr_assert_not_null(pn_tcp_listen(B.st[1], 80, 8, NULL, NULL));
	pn_stack_destroy(B.st[1]);
	B.st[1] = NULL;
	/* member 0 receives it and has nobody to hand it to */
	pn_stack_input(B.st[0], syn_to_b(sport, bi.mac));
	pn_stack_poll(B.st[0]);
	pn_stack_stats_get(B.st[0], &n0);
	cr_assert_eq(n0.steer_drops, 1, "dropped and counted");
	cr_assert_eq(n0.steer_out, 0);
	/* a new member 1: the place is free again; it listens and the same
	 * SYN, handed over, gets its SYN-ACK */
	B.st[1] = pn_stack_create(&(struct pn_stack_conf){
		.sz = sizeof(struct pn_stack_conf), .port = B.port, .queue = 1, .pool = B.pool[1],
		.ip = IP_B, .prefix_len = 24, .group = B.g });
	cr_assert_not_null(B.st[1]);
	cr_assert_eq(pn_tcp_configure(B.st[1], &(struct pn_tcp_conf){
			     .sz = sizeof(struct pn_tcp_conf) }), 0);
	cr_assert_not_null(pn_tcp_listen(B.st[1], 80, 8, NULL, NULL));
	pn_stack_input(B.st[0], syn_to_b(sport, bi.mac));
	pn_stack_poll(B.st[0]);
	pn_stack_poll(B.st[1]);
	pn_tcp_stats_get(B.st[1], &t1);
	cr_assert_eq(t1.segs_in, 1, "the handed SYN reached the new member");
	for (unsigned r = 0; r < 4; r++) {
		pn_stack_poll(B.st[0]);
		pn_stack_poll(B.st[1]);
		for (unsigned q = 0; q < NQ; q++) {
			uint16_t k = pn_port_rx_burst(A.port, (uint16_t)q, got, 16);

			/* member 1 asks for A's MAC on its own queue (the
			 * SYN-ACK waits for the answer nobody plays here) */
			n += q == 1 ? k : 0;
			for (uint16_t i = 0; i < k; i++)
				pn_pkt_free(got[i]);
		}
	}
	cr_assert_gt(n, 0, "member 1 answered on its own queue");
	/* one more handed over, left in member 1's ring */
	pn_stack_input(B.st[0], syn_to_b(sport, bi.mac));
	pn_stack_flush(B.st[0]);
	/* B first: member 1 frees what waits in its ring as it leaves, and
	 * those are A's pages */
	gs_close(&B);
	gs_close(&A);
}
