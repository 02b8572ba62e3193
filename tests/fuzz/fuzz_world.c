/* SPDX-License-Identifier: BSD-3-Clause */
/* The stack fuzzers' world: see fuzz_world.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_world.h"
#include "pn_port.h"

struct fw fw;

static bool built;
static unsigned generation;

static void fw_fail(const char *what)
{
	fprintf(stderr, "fuzz world: %s\n", what);
	abort();
}

static uint64_t fw_clock(void *arg)
{
	(void)arg;
	return fw.now_us;
}

static void client_cb(struct pn_tcp_sock *s, unsigned ev, void *arg)
{
	(void)s;
	(void)arg;
	if (ev & PN_TCP_EV_CLOSED)
		fw.a.closed = true;
}

static void server_cb(struct pn_tcp_sock *s, unsigned ev, void *arg)
{
	(void)s;
	(void)arg;
	if (ev & PN_TCP_EV_CLOSED)
		fw.b.closed = true;
}

static void listen_cb(struct pn_tcp_sock *l, unsigned ev, void *arg)
{
	struct pn_tcp_sock *s;

	(void)ev;
	(void)arg;
	while ((s = pn_tcp_accept(l)) != NULL) {
		if (fw.srv == NULL) {
			fw.srv = s;
			pn_tcp_set_cb(s, server_cb, NULL);
		} else {
			pn_tcp_abort(s); /* one connection per input */
		}
	}
}

static void side_open(struct fw_side *s, const char *pair, uint32_t ip)
{
	struct pn_pool_params pp = { .sz = sizeof(pp), .nr_pages = 512, .numa_node = PN_NUMA_ANY,
				     .flags = PN_POOL_F_ACCOUNTED, .name = "fuzz" };
	struct pn_port_conf pc = { .sz = sizeof(pc), .nb_queues = 1, .ring_size = 256 };
	struct pn_stack_conf sc = { .sz = sizeof(sc), .ip = ip, .prefix_len = 24,
				    .clock_us = fw_clock };
	struct pn_tcp_conf tc = { .sz = sizeof(tc), .rcvbuf = 64 * 1024, .sndbuf = 64 * 1024,
				  .max_sockets = 64, .time_wait_ms = 1000, .min_rto_ms = 20,
				  .max_zc_tokens = 256, .acct = fw.group };
	struct pn_port_info info;
	char args[64];

	memset(s, 0, sizeof(*s));
	s->pool = pn_pool_create(&pp);
	if (s->pool == NULL)
		fw_fail("pool");
	pc.pools[0] = s->pool;
	snprintf(args, sizeof(args), "pair=%s", pair);
	s->port = pn_port_open("loop", args, &pc);
	if (s->port == NULL || pn_port_start(s->port) != 0)
		fw_fail("port");
	pn_port_info_get(s->port, &info);
	memcpy(s->mac, info.mac, 6);
	sc.port = s->port;
	sc.pool = s->pool;
	/* dual stack: raw frames of the input reach IPv6, ICMPv6 and ND too */
	if (pn_addr_parse(ip == FW_IP_A ? "fd00::a" : "fd00::b", &sc.ip6, NULL) != 0)
		fw_fail("ip6");
	sc.prefix_len6 = 64;
	s->st = pn_stack_create(&sc);
	if (s->st == NULL || pn_tcp_configure(s->st, &tc) != 0)
		fw_fail("stack");
}

static void world_build(void)
{
	char pair[32];

	snprintf(pair, sizeof(pair), "fuzz%u", generation++);
	fw.now_us = 1000000;
	fw.group = pn_acct_group_mkpath("fuzz/conn");
	if (fw.group == NULL)
		fw_fail("group");
	pn_acct_set_max(fw.group, 96); /* tight: over it, the stack copies */
	side_open(&fw.a, pair, FW_IP_A);
	side_open(&fw.b, pair, FW_IP_B);
	fw.listener = pn_tcp_listen(fw.b.st, FW_PORT, 8, listen_cb, NULL);
	if (fw.listener == NULL)
		fw_fail("listen");
	built = true;
}

static void side_close(struct fw_side *s)
{
	while (s->nwire)
		pn_pkt_free(s->wire[--s->nwire]);
	pn_stack_destroy(s->st);
	pn_port_stop(s->port);
	pn_port_close(s->port);
	if (pn_pool_destroy(s->pool) != 0)
		fw_fail("pages in flight when the world was taken down");
}

static void world_destroy(void)
{
	pn_tcp_close(fw.listener);
	fw_flush(4);
	side_close(&fw.a);
	side_close(&fw.b);
	pn_acct_drain_all();
	if (pn_acct_current(fw.group) != 0)
		fw_fail("pages still charged when the world was taken down");
	if (pn_acct_group_destroy(fw.group) != 0)
		fw_fail("the group could not go");
	built = false;
}

void fw_collect(void)
{
	struct fw_side *sides[2] = { &fw.a, &fw.b };

	for (int i = 0; i < 2; i++) {
		struct fw_side *s = sides[i];
		struct pn_pkt *pkts[32];
		uint16_t n;

		while ((n = pn_port_rx_burst(s->port, 0, pkts, 32)) != 0)
			for (uint16_t k = 0; k < n; k++) {
				if (s->nwire < FW_WIRE_MAX)
					s->wire[s->nwire++] = pkts[k];
				else
					pn_pkt_free(pkts[k]); /* a full wire drops */
			}
	}
}

/* A header-split / multi-buffer version of @in: its first bytes linear,
 * the rest in up to four fragments of @pool. */
static struct pn_pkt *split(struct pn_pkt *in, struct pn_pool *pool)
{
	uint8_t buf[2048];
	uint32_t len = in->pkt_len, head, pos;
	struct pn_pkt *out;

	if (len > sizeof(buf) || (out = pn_pkt_alloc(pool)) == NULL)
		return in;
	pn_pkt_copy_bits(in, 0, buf, len);
	fw.rng = fw.rng * 6364136223846793005ull + 1442695040888963407ull;
	head = 1 + (uint32_t)(fw.rng >> 33) % (len < 80 ? len : 80);
	memcpy(pn_pkt_append(out, head), buf, head);
	for (pos = head; pos < len;) {
		struct pn_frame *f;
		uint32_t n = len - pos;
		uint8_t *b;

		fw.rng = fw.rng * 6364136223846793005ull + 1442695040888963407ull;
		if (out->shinfo->nr_frags < 3 && n > 8)
			n = 1 + (uint32_t)(fw.rng >> 33) % n;
		b = pn_pool_alloc_frag(pool, n + 1, &f);
		if (b == NULL) {
			pn_pkt_free(out);
			return in;
		}
		memcpy(b + 1, buf + pos, n);
		pn_pkt_add_frag(out, f, (uint32_t)(b + 1 - f->addr), (uint16_t)n, PN_PKT_FRAG_SHARE);
		pos += n;
	}
	pn_pkt_free(in);
	return out;
}

void fw_deliver_one(struct fw_side *to)
{
	struct pn_pkt *p;

	if (to->nwire == 0)
		return;
	p = to->wire[0];
	memmove(to->wire, to->wire + 1, sizeof(to->wire[0]) * --to->nwire);
	if (fw.split)
		p = split(p, to->pool);
	if (getenv("FUZZ_TRACE")) {
		uint8_t h[80];
		uint32_t n = p->pkt_len < sizeof(h) ? p->pkt_len : sizeof(h);

		pn_pkt_copy_bits(p, 0, h, n);
		if (n >= 54 && h[12] == 8 && h[13] == 0 && h[23] == 6)
			fprintf(stderr, "  deliver to %s: seq %u ack %u flags %#x len %u cloned %d frags %u\n",
				to == &fw.a ? "A" : "B",
				(unsigned)(h[38] << 24 | h[39] << 16 | h[40] << 8 | h[41]),
				(unsigned)(h[42] << 24 | h[43] << 16 | h[44] << 8 | h[45]), h[47],
				p->pkt_len - 14 - 20 - (h[46] >> 4) * 4, pn_pkt_cloned(p),
				p->shinfo->nr_frags);
	}
	pn_stack_input(to->st, p);
}

static void round_both(void)
{
	fw_collect();
	pn_stack_poll(fw.a.st);
	fw_collect();
	pn_stack_poll(fw.b.st);
	fw_collect();
}

void fw_flush(unsigned rounds)
{
	for (unsigned r = 0; r < rounds; r++) {
		bool any = fw.a.nwire || fw.b.nwire;

		while (fw.a.nwire)
			fw_deliver_one(&fw.a);
		while (fw.b.nwire)
			fw_deliver_one(&fw.b);
		round_both();
		if (!any && !fw.a.nwire && !fw.b.nwire)
			break;
	}
}

void fw_tick(uint64_t ms)
{
	fw.now_us += ms * 1000;
	round_both();
}

void fw_send(bool from_a, size_t n)
{
	struct pn_tcp_sock *s = from_a ? fw.cli : fw.srv;
	uint64_t *sent = from_a ? &fw.sent_a : &fw.sent_b;
	uint8_t buf[8192];
	ssize_t rc;

	if (s == NULL)
		return;
	if (n > sizeof(buf))
		n = sizeof(buf);
	for (size_t i = 0; i < n; i++)
		buf[i] = fw_pattern(from_a, *sent + i);
	rc = pn_tcp_send(s, buf, n);
	if (rc > 0)
		*sent += (uint64_t)rc;
}

static void check_bytes(struct fw_side *side, const uint8_t *p, size_t n)
{
	bool from_a = side == &fw.b;

	for (size_t i = 0; i < n && !side->tainted; i++)
		if (p[i] != fw_pattern(from_a, side->rcvd + i)) {
			fprintf(stderr, "fuzz world: byte %llu of the stream to %s is wrong\n",
				(unsigned long long)(side->rcvd + i), from_a ? "B" : "A");
			abort();
		}
	side->rcvd += n;
}

void fw_read(struct fw_side *side, bool zc, bool hold)
{
	struct pn_tcp_sock *s = side == &fw.a ? fw.cli : fw.srv;
	static uint8_t copy[65536];

	for (int guard = 0; s != NULL && guard < 64; guard++) {
		if (zc) {
			struct pn_zc_vec v[16];
			int n = pn_tcp_recv_zc(s, v, 16, copy, sizeof(copy));

			if (n <= 0) {
				side->eof |= n == 0;
				return;
			}
			for (int i = 0; i < n; i++) {
				check_bytes(side, v[i].base, v[i].len);
				if (v[i].token == 0)
					continue;
				if (hold && side->nheld < FW_HELD_MAX)
					side->held[side->nheld++] = v[i].token;
				else if (pn_tcp_zc_release(side->st, v[i].token) != 0)
					fw_fail("a good token was refused");
			}
		} else {
			ssize_t n = pn_tcp_recv(s, copy, sizeof(copy));

			if (n <= 0) {
				side->eof |= n == 0;
				return;
			}
			check_bytes(side, copy, (size_t)n);
		}
	}
}

void fw_release(struct fw_side *side)
{
	if (pn_tcp_zc_release_bulk(side->st, side->held, side->nheld) != 0)
		fw_fail("a held token was refused");
	side->nheld = 0;
}

struct pn_pkt *fw_frame(struct fw_side *to, uint16_t ethertype, const void *l3, size_t len)
{
	struct fw_side *from = to == &fw.a ? &fw.b : &fw.a;
	struct pn_pkt *p = pn_pkt_alloc(from->pool);
	struct pn_eth_hdr *eth;

	if (p == NULL)
		return NULL;
	if (len > 1500)
		len = 1500;
	eth = (struct pn_eth_hdr *)pn_pkt_append(p, (uint32_t)(sizeof(*eth) + len));
	if (eth == NULL) {
		pn_pkt_free(p);
		return NULL;
	}
	memcpy(eth->dst, to->mac, 6);
	memcpy(eth->src, from->mac, 6);
	eth->type = __builtin_bswap16(ethertype);
	memcpy(eth + 1, l3, len);
	return p;
}

static uint64_t frags_received(void)
{
	struct pn_net_stats a, b;

	pn_stack_stats_get(fw.a.st, &a);
	pn_stack_stats_get(fw.b.st, &b);
	return a.ip_fragments + b.ip_fragments + a.ip6_fragments + b.ip6_fragments;
}

bool fw_begin(void)
{
	static int fresh = -1;

	if (fresh < 0)
		fresh = getenv("FW_FRESH") != NULL;
	/* now and then from scratch, with the full checks; every input with
	 * FW_FRESH=1 (slower, but a crash then reproduces from its input) */
	if (built && (fresh || fw.inputs % 4096 == 4095))
		world_destroy();
	if (!built)
		world_build();
	fw.inputs++;
	fw.frags_seen = frags_received();
	fw.a.rcvd = fw.b.rcvd = 0;
	fw.a.eof = fw.b.eof = fw.a.closed = fw.b.closed = false;
	fw.a.tainted = fw.b.tainted = false;
	fw.sent_a = fw.sent_b = 0;
	fw.split = false;
	fw.srv = NULL;
	fw.cli = pn_tcp_connect(fw.a.st, FW_IP_B, FW_PORT, client_cb, NULL);
	if (fw.cli == NULL)
		fw_fail("connect");
	for (int i = 0; i < 8 && fw.srv == NULL; i++) {
		fw_flush(8);
		fw_tick(1);
	}
	return fw.srv != NULL && pn_tcp_state(fw.cli) == PN_TCP_ESTABLISHED;
}

void fw_end(void)
{
	struct pn_tcp_stats ta, tb;

	fw_release(&fw.a);
	fw_release(&fw.b);
	fw.split = false;
	if (fw.cli)
		pn_tcp_abort(fw.cli);
	if (fw.srv)
		pn_tcp_abort(fw.srv);
	fw.cli = fw.srv = NULL;
	/* half-open connections forged SYNs left behind go with the listener */
	pn_tcp_close(fw.listener);
	/* whatever is still on the wires goes, and the timers run out (the
	 * longest: pieces of a datagram wait 30 s for the rest) */
	for (int i = 0; i < 4; i++) {
		fw_flush(16);
		fw_tick(1100);
	}
	for (int i = 0; i < 4 && frags_received() != fw.frags_seen; i++) {
		fw_flush(16);
		fw_tick(8000);
	}
	pn_tcp_stats_get(fw.a.st, &ta);
	pn_tcp_stats_get(fw.b.st, &tb);
	if (ta.sockets != 0 || tb.sockets != 0) {
		fprintf(stderr, "fuzz world: A has %llu sockets, B %llu\n",
			(unsigned long long)ta.sockets, (unsigned long long)tb.sockets);
		fw_fail("sockets left after the connection was aborted");
	}
	if (ta.zc_tokens_out + tb.zc_tokens_out != 0)
		fw_fail("tokens left out");
	if (pn_pool_inflight(fw.a.pool) != 0 || pn_pool_inflight(fw.b.pool) != 0) {
		pn_pool_dump_inflight(fw.a.pool, stderr);
		pn_pool_dump_inflight(fw.b.pool, stderr);
		fw_fail("pages in flight after the input");
	}
	/* what is left is pre-charged in this thread's stock, not held */
	if (pn_acct_current(fw.group) != pn_acct_stocked())
		fw_fail("pages still charged after the input");
	fw.listener = pn_tcp_listen(fw.b.st, FW_PORT, 8, listen_cb, NULL);
	if (fw.listener == NULL)
		fw_fail("listen");
}
