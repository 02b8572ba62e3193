/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Two stacks wired back to back with the loop driver and polled by one
 * thread (A: 10.0.0.1, B: 10.0.0.2, optionally fd00::1 and fd00::2), for
 * the net and TCP suites. close_pair() asserts that every page came back
 * to both pools; pair_fini (the suites' .fini) does it for a test that did
 * not. Knobs are set before open_pair(): impairments per side, a fake clock
 * a poll round moves by 1 ms, dual stack, small tables.
 */
#ifndef PN_STACK_PAIR_H
#define PN_STACK_PAIR_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "pn_impair.h"
#include "pn_net.h"
#include "pn_tcp.h"
#include "pn_test.h"

#define IP_A 0x0a000001u /* 10.0.0.1 */
#define IP_B 0x0a000002u

struct side {
	struct pn_pool *pool;
	struct pn_port *port;
	struct pn_stack *st;
};

static struct side A, B;
static int pair_seq;
static uint32_t time_wait_ms = 50;
static uint32_t pool_pages = 4096;
static uint32_t zc_tokens;      /* 0: the default */
static uint32_t max_socks;      /* 0: the default */
static uint32_t syn_backlog;    /* 0: the default */
static uint32_t max_tw;         /* TIME-WAIT entries; 0: the default */
static bool split_rx_b;         /* frames to B arrive split in pieces */
static bool fake_time;          /* stacks on a clock a poll round moves 1 ms */
static bool dual_stack;         /* the sides get fd00::1 and fd00::2 as well */
static bool same_ip6;           /* both sides claim fd00::1 (a DAD conflict) */
static uint64_t fake_us = 1000000;
static const char *pair_cc;     /* congestion control of both sides (NULL: the default) */
static uint16_t pair_mtu;       /* both stacks' MTU (0: 1500) */

static inline uint64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_us;
}

static inline void side_open(struct side *s, const char *pair, uint32_t ip, const char *impair,
		      uint32_t flags)
{
	struct pn_pool_params pp = { .sz = sizeof(pp), .nr_pages = pool_pages, .flags = flags,
				     .numa_node = PN_NUMA_ANY, .name = "tcp-test" };
	struct pn_port_conf pc = { .sz = sizeof(pc), .nb_queues = 1, .ring_size = 4096 };
	struct pn_stack_conf sc = { .sz = sizeof(sc), .ip = ip, .prefix_len = 24, .mtu = pair_mtu };
	struct pn_tcp_conf tc = { .sz = sizeof(tc), .time_wait_ms = time_wait_ms, .min_rto_ms = 20,
				  .rcvbuf = 256 * 1024, .max_zc_tokens = zc_tokens,
				  .max_sockets = max_socks, .syn_backlog = syn_backlog,
				  .max_time_wait = max_tw, .cc = pair_cc };
	char args[64], err[128] = "";
	struct pn_impair imp;

	s->pool = pn_pool_create(&pp);
	cr_assert_not_null(s->pool);
	pc.pools[0] = s->pool;
	snprintf(args, sizeof(args), "pair=%s", pair);
	s->port = pn_port_open("loop", args, &pc);
	cr_assert_not_null(s->port);
	cr_assert_eq(pn_impair_parse(impair, &imp, err, sizeof(err)), 0, "%s", err);
	if (pn_impair_active(&imp)) {
		/* faults below the stack: an impair port over the loop port */
		s->port = pn_impair_wrap(s->port, &imp, NULL);
		cr_assert_not_null(s->port);
	}
	cr_assert_eq(pn_port_start(s->port), 0);
	sc.port = s->port;
	sc.pool = s->pool;
	if (fake_time)
		sc.clock_us = fake_clock;
	if (dual_stack) {
		cr_assert_eq(pn_addr_parse(ip == IP_A || same_ip6 ? "fd00::1" : "fd00::2", &sc.ip6,
					   NULL), 0);
		sc.prefix_len6 = 64;
	}
	s->st = pn_stack_create(&sc);
	cr_assert_not_null(s->st);
	cr_assert_eq(pn_tcp_configure(s->st, &tc), 0);
}

static inline void open_pair(const char *impair_a, const char *impair_b, uint32_t flags)
{
	char pair[32];

	snprintf(pair, sizeof(pair), "tcp%d", pair_seq++);
	side_open(&A, pair, IP_A, impair_a, flags);
	side_open(&B, pair, IP_B, impair_b, flags);
}

/* Stack and port of one side go (the pool stays for the caller). */
static inline void side_close(struct side *s)
{
	pn_stack_destroy(s->st);
	s->st = NULL;
	if (s->port) {
		pn_port_stop(s->port);
		pn_port_close(s->port);
		s->port = NULL;
	}
}

/* Both pools go, and must have every page back. */
static inline void destroy_pools(void)
{
	struct pn_pool *a = A.pool, *b = B.pool;

	A.pool = B.pool = NULL; /* a failed assertion below must not run twice */
	if (a)
		cr_assert_eq(pn_pool_destroy(a), 0, "A: pages left in flight");
	if (b)
		cr_assert_eq(pn_pool_destroy(b), 0, "B: pages left in flight");
}

static inline void close_pair(void)
{
	side_close(&A);
	side_close(&B);
	destroy_pools();
}

static uint64_t split_rng = 1;

static inline uint32_t split_rand(uint32_t n)
{
	split_rng = split_rng * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(split_rng >> 33) % n;
}

/*
 * What a header-split or multi-buffer driver delivers: the frame's first
 * bytes (anywhere inside the headers) in the linear part, the rest in up to
 * four fragments of another pool, or sometimes as a chain of segments.
 */
static inline struct pn_pkt *split_frame(struct pn_pkt *in, struct pn_pool *frag_pool)
{
	uint8_t buf[2048];
	uint32_t len = in->pkt_len, head, pos;
	struct pn_pkt *out = pn_pkt_alloc(frag_pool), *tail = NULL;
	bool chain = split_rand(4) == 0;

	cr_assert_not_null(out);
	cr_assert_eq(pn_pkt_copy_bits(in, 0, buf, len), 0);
	pn_pkt_free(in);
	head = 1 + split_rand(PN_MIN(len, 90u));
	memcpy(pn_pkt_append(out, head), buf, head);
	for (pos = head; pos < len;) {
		uint32_t n = (len - pos) <= 64 || split_rand(3) == 0 ? len - pos
								 : 1 + split_rand(len - pos);

		if (chain) {
			struct pn_pkt *seg = pn_pkt_alloc(frag_pool);

			cr_assert_not_null(seg);
			memcpy(pn_pkt_append(seg, n), buf + pos, n);
			if (tail)
				tail->next = seg;
			else
				out->next = seg;
			tail = seg;
			out->nb_segs++;
			out->pkt_len += n;
		} else {
			struct pn_frame *f;
			uint8_t *b;

			if (out->shinfo->nr_frags == PN_PKT_MAX_FRAGS - 1)
				n = len - pos;
			b = pn_pool_alloc_frag(frag_pool, n + 1, &f);
			cr_assert_not_null(b);
			memcpy(b + 1, buf + pos, n); /* an odd offset in the page */
			cr_assert_eq(pn_pkt_add_frag(out, f, (uint32_t)(b + 1 - f->addr),
						     (uint16_t)n, PN_PKT_FRAG_SHARE), 0);
		}
		pos += n;
	}
	return out;
}

static inline void poll_both(void)
{
	if (fake_time)
		fake_us += 1000;
	pn_stack_poll(A.st);
	if (split_rx_b) {
		/* take B's frames off the wire ourselves and hand them in split */
		struct pn_pkt *pkts[64];
		uint16_t n = pn_port_rx_burst(B.port, 0, pkts, 64);

		for (uint16_t i = 0; i < n; i++)
			pn_stack_input(B.st, split_frame(pkts[i], B.pool));
	}
	pn_stack_poll(B.st);
}

/* Poll until @p done or @p ms pass. */
#define PUMP_UNTIL(cond, ms)                                                   \
	do {                                                                   \
		uint64_t t0_ = pn_stack_now_ms(A.st);                          \
		while (!(cond) && pn_stack_now_ms(A.st) - t0_ < (ms))          \
			poll_both();                                           \
	} while (0)


static inline struct pn_pkt *raw_frame(const uint8_t *dst_mac, uint32_t len)
{
	struct pn_pkt *pkt = pn_pkt_alloc(A.pool);
	struct pn_port_info ia;
	uint8_t *p;

	cr_assert_not_null(pkt);
	pn_port_info_get(A.port, &ia);
	p = pn_pkt_append(pkt, len);
	memset(p, 0, len);
	if (len >= PN_ETH_HLEN)
		pn_wire_eth(p, dst_mac, ia.mac, PN_ETH_P_IPV4);
	else
		memcpy(p, dst_mac, PN_MIN(len, 6u));
	return pkt;
}

static inline void raw_send(struct pn_pkt *pkt)
{
	cr_assert_eq(pn_port_tx_burst(A.port, 0, &pkt, 1), 1);
	pn_stack_poll(B.st);
}

static inline struct pn_ipv4_hdr *raw_ip(struct pn_pkt *pkt, uint8_t proto, uint16_t l4len)
{
	struct pn_ipv4_hdr *ip = (struct pn_ipv4_hdr *)(pn_pkt_data(pkt) + PN_ETH_HLEN);

	pn_wire_ipv4(ip, IP_A, IP_B, proto, 0, l4len);
	return ip;
}

/* after changing a raw header's fields */
static inline void raw_ip_csum(struct pn_ipv4_hdr *ip)
{
	ip->csum = 0;
	ip->csum = pn_csum(ip, 20);
}

static inline struct pn_addr addr6(const char *s)
{
	struct pn_addr a;

	cr_assert_eq(pn_addr_parse(s, &a, NULL), 0, "%s", s);
	return a;
}


/* Teardown for a test that returned (or failed) with the pair, or part
 * of it, still open: what is left goes, and every page must be back. */
static inline void pair_fini(void)
{
	if (A.st || B.st || A.port || B.port || A.pool || B.pool)
		close_pair();
}

#endif /* PN_STACK_PAIR_H */
