/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One pagenet stack (S, 10.0.0.1, port 80) against a TCP peer the test
 * plays by hand (P, 10.0.0.2), as packetdrill scripts play Linux: every
 * segment S sends is read and decoded, and the test decides what comes
 * back (which segments "arrived", ACKs with SACK and D-SACK blocks, data)
 * and when, on a clock only the test moves. Loss, reordering and delay
 * are the test's choices, exactly.
 *
 * The loop driver wires S's port to P's; P answers S's ARP itself.
 */
#ifndef PN_TCP_PEER_H
#define PN_TCP_PEER_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

#include "pn_net.h"
#include "pn_tcp.h"
#include "pn_test.h"
#include "pn_wire.h"

#define TP_S_IP 0x0a000001u
#define TP_P_IP 0x0a000002u
#define TP_PORT 80
#define TP_PPORT 40000
#define TP_MAX_SEGS 4096

/* a segment S sent, decoded */
struct tp_seg {
	uint32_t seq, ack, len; /* len: payload */
	uint8_t flags;
	uint16_t win;
	bool has_ts;
	uint32_t tsval, tsecr;
	unsigned nr_sack;
	uint32_t sack[PN_TCP_MAX_SACK][2];
	uint64_t at_us; /* when the peer read it */
};

struct tp_opts {
	const char *cc;    /* NULL: the default */
	bool sack, ts;     /* the peer offers SACK, timestamps */
	uint16_t mss;      /* the peer's MSS option (default 1000) */
	uint32_t min_rto_ms; /* default 200 */
	uint32_t sndbuf;   /* S's send buffer (default 1 MiB) */
	uint32_t syn_backlog; /* S's SYN queue (0: the default) */
};

static struct {
	struct pn_pool *pool, *ppool;
	struct pn_port *port, *pport;
	struct pn_stack *st;
	struct pn_tcp_sock *l, *s; /* S's listener and connection */
	uint8_t smac[6], pmac[6];
	uint64_t now_us;
	uint32_t p_isn, s_isn;     /* initial sequence numbers */
	uint32_t p_nxt;            /* the peer's next sequence number */
	uint32_t s_una;            /* S's data the peer acknowledged */
	uint32_t p_tsval;
	uint32_t last_s_tsval;
	bool ts;
	struct tp_seg segs[TP_MAX_SEGS]; /* every segment S sent, in order */
	unsigned nr_segs;
	uint8_t rx[1 << 20];       /* data S sent to the peer, by offset (tests that read it) */
	uint64_t app_rcvd;         /* bytes S's application read */
	uint64_t app_bad;          /* of those, not the peer's pattern (seq + i) */
	unsigned events;
	uint16_t peer_port;        /* the peer's TCP port (0: TP_PPORT) */
} TP;

static inline uint64_t tp_clock(void *arg)
{
	(void)arg;
	return TP.now_us;
}

/* ---- the peer's frames */

static inline void tp_xmit(struct pn_pkt *pkt)
{
	cr_assert_eq(pn_port_tx_burst(TP.pport, 0, &pkt, 1), 1);
}

static inline void tp_arp_reply(const struct pn_arp_hdr *req)
{
	struct pn_pkt *pkt = pn_pkt_alloc(TP.ppool);
	uint8_t *p;
	struct pn_arp_hdr *a;

	cr_assert_not_null(pkt);
	p = pn_pkt_append(pkt, PN_ETH_HLEN + sizeof(*a));
	pn_wire_eth(p, req->sha, TP.pmac, PN_ETH_P_ARP);
	a = (struct pn_arp_hdr *)(p + PN_ETH_HLEN);
	*a = *req;
	a->op = htons(PN_ARP_OP_REPLY);
	memcpy(a->tha, req->sha, 6);
	a->tpa = req->spa;
	memcpy(a->sha, TP.pmac, 6);
	a->spa = htonl(TP_P_IP);
	tp_xmit(pkt);
}

/* Read what S sent: TCP segments appended to TP.segs, ARP answered.
 * @return segments read. */
static inline unsigned tp_read(void)
{
	struct pn_pkt *pkts[64];
	unsigned got = 0;
	uint16_t n;

	while ((n = pn_port_rx_burst(TP.pport, 0, pkts, 64)) > 0) {
		for (uint16_t i = 0; i < n; i++) {
			uint8_t buf[2048];
			uint32_t len = pkts[i]->pkt_len;
			const struct pn_eth_hdr *eth = (const void *)buf;

			cr_assert_leq(len, sizeof(buf));
			cr_assert_eq(pn_pkt_copy_bits(pkts[i], 0, buf, len), 0);
			pn_pkt_free(pkts[i]);
			if (ntohs(eth->type) == PN_ETH_P_ARP) {
				const struct pn_arp_hdr *a = (const void *)(buf + PN_ETH_HLEN);

				if (ntohs(a->op) == PN_ARP_OP_REQUEST && ntohl(a->tpa) == TP_P_IP)
					tp_arp_reply(a);
				continue;
			}
			if (ntohs(eth->type) != PN_ETH_P_IPV4)
				continue;
			const struct pn_ipv4_hdr *ip = (const void *)(buf + PN_ETH_HLEN);
			unsigned ihl = (ip->ver_ihl & 15u) * 4;
			const struct pn_tcp_hdr *th = (const void *)((const uint8_t *)ip + ihl);
			unsigned doff = (th->doff >> 4) * 4u;
			struct pn_tcp_opts o;
			struct tp_seg *g;

			if (ip->proto != PN_IPPROTO_TCP)
				continue;
			cr_assert_lt(TP.nr_segs, TP_MAX_SEGS);
			g = &TP.segs[TP.nr_segs++];
			memset(g, 0, sizeof(*g));
			g->seq = ntohl(th->seq);
			g->ack = ntohl(th->ack);
			g->flags = th->flags;
			g->win = ntohs(th->win);
			g->len = ntohs(ip->tot_len) - ihl - doff;
			g->at_us = TP.now_us;
			cr_assert(pn_tcp_opts_parse((const uint8_t *)(th + 1), doff - 20, &o));
			g->has_ts = o.has_ts;
			g->tsval = o.tsval;
			g->tsecr = o.tsecr;
			if (o.has_ts)
				TP.last_s_tsval = o.tsval;
			g->nr_sack = o.nr_sack;
			memcpy(g->sack, o.sack, sizeof(g->sack));
			if (g->len && g->seq - TP.s_isn - 1 + g->len <= sizeof(TP.rx))
				memcpy(TP.rx + (g->seq - TP.s_isn - 1), (const uint8_t *)th + doff, g->len);
			got++;
		}
	}
	return got;
}

/* Send a segment from the peer: @p sacks pairs of SACK edges (the first
 * may be a D-SACK), @p len payload bytes of a fixed pattern. */
static inline void tp_send(uint32_t seq, uint32_t ack, uint8_t flags, const uint32_t *sacks,
			   unsigned nr_sack, uint32_t len, const uint8_t *opts, unsigned optlen)
{
	struct pn_pkt *pkt = pn_pkt_alloc(TP.ppool);
	uint8_t opt[40], *o = opt, *p;
	unsigned hlen;
	struct pn_tcp_hdr *th;

	cr_assert_not_null(pkt);
	if (optlen) {
		memcpy(o, opts, optlen);
		o += optlen;
	} else {
		if (TP.ts)
			o = pn_tcp_opt_ts(pn_tcp_opt_nops(o, 2), ++TP.p_tsval, TP.last_s_tsval);
		if (nr_sack)
			o = pn_tcp_opt_sack(pn_tcp_opt_nops(o, 2), sacks, nr_sack);
	}
	while ((o - opt) % 4)
		*o++ = PN_TCPOPT_NOP;
	hlen = 20 + (unsigned)(o - opt);
	p = pn_pkt_append(pkt, PN_ETH_HLEN + 20 + hlen + len);
	pn_wire_eth(p, TP.smac, TP.pmac, PN_ETH_P_IPV4);
	pn_wire_ipv4(p + PN_ETH_HLEN, TP_P_IP, TP_S_IP, PN_IPPROTO_TCP, 0, hlen + len);
	th = (struct pn_tcp_hdr *)(p + PN_ETH_HLEN + 20);
	th->csum = 0;
	th->urg = 0;
	th->sport = htons(TP.peer_port ? TP.peer_port : TP_PPORT);
	th->dport = htons(TP_PORT);
	th->seq = htonl(seq);
	th->ack = htonl(ack);
	th->doff = (uint8_t)((hlen / 4) << 4);
	th->flags = flags;
	th->win = htons(65535); /* scaled by 2^7: 8 MiB */
	memcpy(th + 1, opt, (size_t)(o - opt));
	for (uint32_t i = 0; i < len; i++)
		((uint8_t *)th)[hlen + i] = (uint8_t)(seq + i);
	pn_wire_l4_csum4(th, hlen + len, TP_P_IP, TP_S_IP, PN_IPPROTO_TCP);
	tp_xmit(pkt);
}

/* the peer's ACK of S's data up to @p ack, with SACK blocks */
static inline void tp_ack(uint32_t ack, const uint32_t *sacks, unsigned nr_sack)
{
	tp_send(TP.p_nxt, ack, PN_TCP_F_ACK, sacks, nr_sack, 0, NULL, 0);
}

/* Move the clock by @p us and let S run (timers, input, output). */
static inline void tp_step(uint64_t us)
{
	TP.now_us += us;
	pn_stack_poll(TP.st);
	pn_stack_poll(TP.st);
	tp_read();
}

static inline void tp_sock_cb(struct pn_tcp_sock *s, unsigned ev, void *arg)
{
	uint8_t buf[65536];

	(void)arg;
	TP.events |= ev;
	if (ev & PN_TCP_EV_READABLE)
		for (ssize_t n; (n = pn_tcp_recv(s, buf, sizeof(buf))) > 0;) {
			for (ssize_t i = 0; i < n; i++)
				if (buf[i] != (uint8_t)(TP.p_isn + 1 + TP.app_rcvd + (uint64_t)i))
					TP.app_bad++;
			TP.app_rcvd += (uint64_t)n;
		}
}

static inline void tp_listen_cb(struct pn_tcp_sock *l, unsigned ev, void *arg)
{
	(void)arg;
	if (ev & PN_TCP_EV_ACCEPT)
		TP.s = pn_tcp_accept(l);
}

/* S and P up, and a connection from P to S established. */
static inline void tp_open(const struct tp_opts *opts)
{
	struct tp_opts o = opts ? *opts : (struct tp_opts){ .sack = true };
	struct pn_port_conf pc = { .sz = sizeof(pc), .nb_queues = 1, .ring_size = 4096 };
	struct pn_stack_conf sc = { .sz = sizeof(sc), .ip = TP_S_IP, .prefix_len = 24,
				    .clock_us = tp_clock };
	struct pn_tcp_conf tc = { .sz = sizeof(tc), .cc = o.cc,
				  .min_rto_ms = o.min_rto_ms ? o.min_rto_ms : 200,
				  .sndbuf = o.sndbuf ? o.sndbuf : 1 << 20, .rcvbuf = 256 * 1024,
				  .syn_backlog = o.syn_backlog };
	struct pn_port_info pi;
	uint8_t syn[20], *so = syn;
	static int seq;
	char args[32];

	memset(&TP, 0, sizeof(TP));
	TP.now_us = 1000000;
	TP.ts = o.ts;
	TP.pool = test_pool(8192, 0, 0);
	TP.ppool = test_pool(8192, 0, 0);
	snprintf(args, sizeof(args), "pair=tp%d", seq++);
	pc.pools[0] = TP.pool;
	TP.port = pn_port_open("loop", args, &pc);
	pc.pools[0] = TP.ppool;
	TP.pport = pn_port_open("loop", args, &pc);
	cr_assert(TP.port && TP.pport);
	cr_assert_eq(pn_port_start(TP.port), 0);
	cr_assert_eq(pn_port_start(TP.pport), 0);
	pn_port_info_get(TP.port, &pi);
	memcpy(TP.smac, pi.mac, 6);
	pn_port_info_get(TP.pport, &pi);
	memcpy(TP.pmac, pi.mac, 6);
	sc.port = TP.port;
	sc.pool = TP.pool;
	TP.st = pn_stack_create(&sc);
	cr_assert_not_null(TP.st);
	cr_assert_eq(pn_tcp_configure(TP.st, &tc), 0);
	TP.l = pn_tcp_listen(TP.st, TP_PORT, 16, tp_listen_cb, NULL);
	cr_assert_not_null(TP.l);

	/* the handshake, the peer's SYN with its options */
	so = pn_tcp_opt_mss(so, o.mss ? o.mss : 1000);
	so = o.sack ? pn_tcp_opt_sackp(so) : pn_tcp_opt_nops(so, 2);
	if (o.ts)
		so = pn_tcp_opt_ts(so, ++TP.p_tsval, 0);
	so = pn_tcp_opt_ws(pn_tcp_opt_nops(so, 1), 7);
	TP.p_isn = 1000;
	tp_send(TP.p_isn, 0, PN_TCP_F_SYN, NULL, 0, 0, syn, (unsigned)(so - syn));
	TP.p_nxt = TP.p_isn + 1;
	tp_step(100);
	tp_step(100); /* ARP, then the SYN-ACK */
	cr_assert_geq(TP.nr_segs, 1);
	cr_assert_eq(TP.segs[TP.nr_segs - 1].flags, PN_TCP_F_SYN | PN_TCP_F_ACK);
	TP.s_isn = TP.segs[TP.nr_segs - 1].seq;
	TP.s_una = TP.s_isn + 1;
	tp_ack(TP.s_una, NULL, 0);
	tp_step(1000);
	cr_assert_not_null(TP.s, "no connection accepted");
	pn_tcp_set_cb(TP.s, tp_sock_cb, NULL);
	TP.nr_segs = 0;
}

static inline void tp_close(void)
{
	pn_stack_destroy(TP.st);
	pn_port_stop(TP.port);
	pn_port_close(TP.port);
	pn_port_stop(TP.pport);
	pn_port_close(TP.pport);
	cr_assert_eq(pn_pool_destroy(TP.pool), 0, "S: pages left in flight");
	cr_assert_eq(pn_pool_destroy(TP.ppool), 0, "P: pages left in flight");
}

/* S's application writes @p len bytes (a pattern by offset) in one call. */
static inline void tp_write(uint32_t len)
{
	static uint8_t buf[1 << 20];
	static uint64_t off;
	ssize_t k;

	cr_assert_leq(len, sizeof(buf));
	for (uint32_t i = 0; i < len; i++)
		buf[i] = (uint8_t)((off + i) * 7);
	k = pn_tcp_send(TP.s, buf, len);
	cr_assert_eq(k, (ssize_t)len, "send buffer full");
	off += len;
	tp_step(0);
}

/* data segments S sent with sequence number @p seq (transmissions) */
static inline unsigned tp_sent_count(uint32_t seq)
{
	unsigned n = 0;

	for (unsigned i = 0; i < TP.nr_segs; i++)
		if (TP.segs[i].seq == seq && TP.segs[i].len)
			n++;
	return n;
}

/* the sequence number of S's k-th segment of @p mss bytes */
static inline uint32_t tp_seq(unsigned k, uint32_t mss) { return TP.s_isn + 1 + k * mss; }

static inline struct pn_tcp_stats tp_stats(void)
{
	struct pn_tcp_stats st;

	pn_tcp_stats_get(TP.st, &st);
	return st;
}

static inline struct pn_tcp_info tp_info(void)
{
	struct pn_tcp_info i;

	pn_tcp_info_get(TP.s, &i);
	return i;
}

#endif /* PN_TCP_PEER_H */
