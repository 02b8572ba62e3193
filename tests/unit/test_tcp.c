/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP on two stacks back to back (pn_stack_pair.h): transfers by copy and
 * by zero copy, over IPv4 and IPv6, with loss, duplication, reordering,
 * corruption and delay injected below the stacks; accounting fallback,
 * held pages closing the window, RFC 5961 checks, SYN floods and cookies,
 * keep-alive, TIME-WAIT recycling, checked zero-copy tokens. No root
 * needed.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "pn_stack_pair.h"

TestSuite(tcp, .fini = pair_fini);
TestSuite(tcp6, .fini = pair_fini);

/* ---- TCP */

#define XFER_MAGIC 0x9e3779b9u

static uint8_t pattern(uint64_t off) { return (uint8_t)((off * 31 + (off >> 9)) ^ 0x5a); }

struct conn {
	struct pn_tcp_sock *s;
	uint64_t sent, rcvd, target;
	bool eof, closed, connected, bad, zc, echo;
	bool nocheck; /* count bytes, do not compare them */
	int err;
	unsigned hold_max;   /* zero copy: keep up to this many tokens */
	uint64_t held[4096];
	const uint8_t *held_base[4096]; /* what each held token points at */
	uint32_t held_len[4096];
	uint64_t held_off[4096];        /* its offset in the stream */
	unsigned nr_held;
	bool hold_all;
	uint8_t copy[64 * 1024];
	uint8_t pending[64 * 1024]; /* echo: read but not yet sent */
	size_t pend_len;
};

static struct conn client, server;
static struct pn_tcp_sock *listener;

static void fill_send(struct conn *c)
{
	uint8_t buf[16384];

	while (c->sent < c->target) {
		size_t n = (size_t)PN_MIN((uint64_t)sizeof(buf), c->target - c->sent);
		ssize_t rc;

		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(c->sent + i);
		rc = pn_tcp_send(c->s, buf, n);
		if (rc == -EAGAIN)
			return;
		cr_assert_gt(rc, 0, "send: %zd", rc);
		c->sent += (uint64_t)rc;
	}
}

static void check_bytes(struct conn *c, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n && !c->nocheck; i++)
		if (p[i] != pattern(c->rcvd + i)) {
			c->bad = true;
			cr_assert_fail("byte %llu differs", (unsigned long long)(c->rcvd + i));
		}
	c->rcvd += n;
}

static void echo_flush(struct conn *c)
{
	while (c->pend_len) {
		ssize_t rc = pn_tcp_send(c->s, c->pending, c->pend_len);

		if (rc == -EAGAIN)
			return;
		cr_assert_gt(rc, 0);
		memmove(c->pending, c->pending + rc, c->pend_len - (size_t)rc);
		c->pend_len -= (size_t)rc;
	}
}

static void do_read(struct conn *c)
{
	for (;;) {
		if (c->echo && c->pend_len) /* back-pressure: send before reading */
			return;
		if (c->zc) {
			struct pn_zc_vec v[32];
			int n;

			if (c->hold_all && c->nr_held >= PN_DIM(c->held) - 32)
				return;
			n = pn_tcp_recv_zc(c->s, v, 32, c->copy, sizeof(c->copy));
			if (n == -EAGAIN || n == -ENOBUFS)
				return;
			if (n < 0 && c->closed)
				return;
			if (n == 0) {
				c->eof = true;
				return;
			}
			cr_assert_gt(n, 0, "recv_zc: %d", n);
			for (int i = 0; i < n; i++) {
				check_bytes(c, v[i].base, v[i].len);
				if (v[i].token == 0)
					continue;
				if (c->nr_held < c->hold_max || c->hold_all) {
					cr_assert_lt(c->nr_held, PN_DIM(c->held));
					c->held_base[c->nr_held] = v[i].base;
					c->held_len[c->nr_held] = v[i].len;
					c->held_off[c->nr_held] = c->rcvd - v[i].len;
					c->held[c->nr_held++] = v[i].token;
				} else {
					cr_assert_eq(pn_tcp_zc_release(B.st, v[i].token), 0);
				}
			}
			if (c->nr_held >= c->hold_max && !c->hold_all) {
				cr_assert_eq(pn_tcp_zc_release_bulk(B.st, c->held, c->nr_held), 0);
				c->nr_held = 0;
			}
		} else {
			uint8_t buf[8192];
			ssize_t n = pn_tcp_recv(c->s, buf, sizeof(buf));

			if (n == -EAGAIN || (n < 0 && c->closed))
				return;
			if (n == 0) {
				c->eof = true;
				return;
			}
			cr_assert_gt(n, 0, "recv: %zd", n);
			if (c->echo) {
				memcpy(c->pending, buf, (size_t)n);
				c->pend_len = (size_t)n;
				c->rcvd += (uint64_t)n;
				echo_flush(c);
			} else {
				check_bytes(c, buf, (size_t)n);
			}
		}
	}
}

static void conn_cb(struct pn_tcp_sock *s, unsigned ev, void *arg)
{
	struct conn *c = arg;

	(void)s;
	if (ev & PN_TCP_EV_CONNECTED)
		c->connected = true;
	if (ev & PN_TCP_EV_CLOSED) {
		c->closed = true;
		c->err = pn_tcp_error(s);
	}
	if (ev & PN_TCP_EV_WRITABLE) {
		if (c->echo)
			echo_flush(c);
		else
			fill_send(c);
	}
	if (ev & (PN_TCP_EV_READABLE | PN_TCP_EV_WRITABLE))
		do_read(c);
}

static void listen_cb(struct pn_tcp_sock *l, unsigned ev, void *arg)
{
	struct pn_tcp_sock *s;

	(void)arg;
	cr_assert(ev & PN_TCP_EV_ACCEPT);
	while ((s = pn_tcp_accept(l)) != NULL) {
		cr_assert_null(server.s, "one connection expected");
		server.s = s;
		pn_tcp_set_cb(s, conn_cb, &server);
	}
}

static void start_conn(uint64_t bytes, bool zc, bool echo)
{
	memset(&client, 0, sizeof(client));
	memset(&server, 0, sizeof(server));
	server.zc = zc;
	server.echo = echo;
	server.hold_max = 8;
	listener = pn_tcp_listen(B.st, 80, 16, listen_cb, NULL);
	cr_assert_not_null(listener);
	client.target = bytes;
	client.s = pn_tcp_connect(A.st, IP_B, 80, conn_cb, &client);
	cr_assert_not_null(client.s);
	PUMP_UNTIL(client.connected && server.s, 3000);
	cr_assert(client.connected && server.s != NULL, "handshake");
	fill_send(&client);
}

static void finish_conn(void)
{
	struct pn_tcp_stats ta, tb;

	pn_tcp_shutdown(client.s);
	PUMP_UNTIL(server.eof, 30000);
	cr_assert(server.eof, "server saw the end (rcvd %llu of %llu)",
		  (unsigned long long)server.rcvd, (unsigned long long)client.target);
	pn_tcp_zc_release_bulk(B.st, server.held, server.nr_held);
	server.nr_held = 0;
	pn_tcp_close(server.s);
	PUMP_UNTIL(client.eof || client.closed, 5000);
	pn_tcp_close(client.s);
	pn_tcp_close(listener);
	PUMP_UNTIL(0, 200); /* TIME_WAIT is 50 ms here */
	pn_tcp_stats_get(A.st, &ta);
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_eq(ta.sockets, 0, "client socket freed (TIME_WAIT over)");
	cr_assert_eq(tb.sockets, 0, "server and listener freed");
	cr_assert_eq(tb.zc_tokens_out, 0);
}

Test(tcp, handshake_options_and_copy_transfer)
{
	struct pn_tcp_info ic, is;

	open_pair(NULL, NULL, 0);
	start_conn(4u << 20, false, false);
	pn_tcp_info_get(client.s, &ic);
	pn_tcp_info_get(server.s, &is);
	cr_assert(ic.ts && ic.sack && ic.wscale, "options negotiated");
	cr_assert_eq(ic.mss, 1500 - 40 - 12, "MSS less the timestamp option");
	/* the handshake's round trip is the first RTT sample on both sides
	 * (else the first RTO is the initial 1 s) */
	cr_assert_lt(ic.rto_ms, 1000, "client RTO %u", ic.rto_ms);
	cr_assert_lt(is.rto_ms, 1000, "server RTO %u", is.rto_ms);
	cr_assert_eq(pn_tcp_state(server.s), PN_TCP_ESTABLISHED);
	pn_tcp_info_get(client.s, &ic);
	cr_assert_gt(ic.snd_buf_alloc, 0, "a send buffer while data waits");
	cr_assert_leq(ic.snd_buf_alloc, 256 * 1024);
	PUMP_UNTIL(server.rcvd == client.target, 20000);
	cr_assert_eq(server.rcvd, client.target);
	pn_tcp_info_get(server.s, &is);
	cr_assert_eq(is.copy_bytes, client.target);
	cr_assert_eq(is.zc_bytes, 0);
	PUMP_UNTIL(0, 100);
	pn_tcp_info_get(client.s, &ic);
	cr_assert_eq(ic.snd_queued, 0);
	cr_assert_eq(ic.snd_buf_alloc, 0, "idle: no send buffer held");
	cr_assert_eq(is.snd_buf_alloc, 0, "the server never sent: never had one");
	finish_conn();
	close_pair();
}

Test(tcp, zero_copy_transfer_no_copies)
{
	struct pn_tcp_stats tb;

	open_pair(NULL, NULL, 0);
	start_conn(8u << 20, true, false);
	PUMP_UNTIL(server.rcvd == client.target, 20000);
	cr_assert_eq(server.rcvd, client.target);
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_eq(tb.zc_bytes, client.target, "every byte by zero copy");
	cr_assert_eq(tb.copy_bytes + tb.fallback_bytes, 0, "no payload copied");
	finish_conn();
	close_pair();
}

/* Only A runs: B has gone away without a word (its stack no longer polls). */
#define PUMP_A_UNTIL(cond, ms)                                                 \
	do {                                                                   \
		uint64_t t0_ = pn_stack_now_ms(A.st);                          \
		while (!(cond) && pn_stack_now_ms(A.st) - t0_ < (ms)) {        \
			fake_us += 1000;                                       \
			pn_stack_poll(A.st);                                   \
		}                                                              \
	} while (0)

Test(tcp, keepalive_probes_a_live_peer_and_gives_up_on_a_gone_one)
{
	struct pn_tcp_stats ta;

	fake_time = true;
	open_pair(NULL, NULL, 0);
	start_conn(1000, false, false);
	PUMP_UNTIL(server.rcvd == client.target, 2000);
	cr_assert_eq(pn_tcp_set_keepalive(client.s, 1000, 200, 3), 0);
	cr_assert_eq(pn_tcp_set_keepalive(client.s, 1000, 200, 256), -EINVAL);
	/* idle and alive: probed every second, answered, still there */
	PUMP_UNTIL(0, 5500);
	pn_tcp_stats_get(A.st, &ta);
	cr_assert_geq(ta.keepalive_probes, 4, "%llu probes", (unsigned long long)ta.keepalive_probes);
	cr_assert_eq(pn_tcp_state(client.s), PN_TCP_ESTABLISHED);
	cr_assert_not(client.closed);
	/* B is gone: 1 s idle, 3 probes 200 ms apart, then ETIMEDOUT */
	PUMP_A_UNTIL(client.closed, 3000);
	cr_assert(client.closed, "given up");
	cr_assert_eq(client.err, ETIMEDOUT);
	pn_tcp_stats_get(A.st, &ta);
	cr_assert_eq(ta.timeouts, 1);
	pn_tcp_close(client.s);
	pn_tcp_close(server.s);
	pn_tcp_close(listener);
	PUMP_UNTIL(0, 500);
	close_pair();
}

Test(tcp, a_zero_window_peer_that_vanishes_is_given_up)
{
	struct pn_tcp_info ic;
	struct pn_tcp_stats ta;

	fake_time = true;
	open_pair(NULL, NULL, 0);
	start_conn(2u << 20, true, false);
	server.hold_all = true; /* the server's window closes and stays shut */
	PUMP_UNTIL(0, 2000);
	pn_tcp_info_get(client.s, &ic);
	cr_assert_eq(ic.snd_wnd, 0);
	/* the server answers the probes: the connection lives */
	PUMP_UNTIL(0, 60000);
	cr_assert_not(client.closed);
	pn_tcp_stats_get(A.st, &ta);
	cr_assert_gt(ta.window_probes, 2);
	/* then it vanishes: 15 unanswered probes (Linux's tcp_retries2), then
	 * ETIMEDOUT, not a probe a minute for ever */
	PUMP_A_UNTIL(client.closed, 30 * 60 * 1000);
	cr_assert(client.closed, "still probing");
	cr_assert_eq(client.err, ETIMEDOUT);
	pn_tcp_stats_get(A.st, &ta);
	cr_assert_eq(ta.timeouts, 1);
	pn_tcp_zc_release_bulk(B.st, server.held, server.nr_held);
	server.nr_held = 0;
	pn_tcp_close(client.s);
	pn_tcp_abort(server.s);
	pn_tcp_close(listener);
	PUMP_UNTIL(0, 500);
	close_pair();
}

/* @p n connections to B, each closed by the server first: B keeps each in
 * TIME-WAIT for time_wait_ms. */
static void server_closes_first(int n)
{
	for (int i = 0; i < n; i++) {
		memset(&client, 0, sizeof(client));
		memset(&server, 0, sizeof(server));
		client.target = 100;
		client.s = pn_tcp_connect(A.st, IP_B, 80, conn_cb, &client);
		cr_assert_not_null(client.s);
		PUMP_UNTIL(server.s != NULL, 2000);
		cr_assert_not_null(server.s, "connection %d was not accepted", i);
		fill_send(&client);
		PUMP_UNTIL(server.rcvd == 100, 2000);
		pn_tcp_close(server.s); /* the server closes first: its side waits */
		PUMP_UNTIL(client.eof || client.closed, 2000);
		pn_tcp_close(client.s);
		PUMP_UNTIL(0, 30);
		cr_assert_eq(server.rcvd, 100);
	}
}

/* A server that closes first keeps each connection in TIME-WAIT for a
 * minute: as small entries, not sockets, so a table of 8 sockets serves 30
 * connections back to back and holds none of them afterwards. */
Test(tcp, time_wait_keeps_no_socket)
{
	struct pn_tcp_stats tb;

	time_wait_ms = 60000;
	max_socks = 8;
	open_pair(NULL, NULL, 0);
	listener = pn_tcp_listen(B.st, 80, 4, listen_cb, NULL);
	cr_assert_not_null(listener);
	server_closes_first(30);
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_eq(tb.time_wait, 30);
	cr_assert_eq(tb.time_wait_recycled, 0);
	cr_assert_eq(tb.syn_dropped_no_socket, 0);
	cr_assert_eq(tb.sockets, 1, "only the listener is a socket: %llu",
		     (unsigned long long)tb.sockets);
	pn_tcp_close(listener);
	close_pair(); /* with 30 entries still waiting: freed with the stack */
}

/* Past max_time_wait entries the oldest ends early, counted. */
Test(tcp, time_wait_beyond_its_limit_the_oldest_goes)
{
	struct pn_tcp_stats tb;

	time_wait_ms = 60000;
	max_tw = 10;
	open_pair(NULL, NULL, 0);
	listener = pn_tcp_listen(B.st, 80, 4, listen_cb, NULL);
	cr_assert_not_null(listener);
	server_closes_first(30);
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_eq(tb.time_wait, 10);
	cr_assert_eq(tb.time_wait_recycled, 20);
	pn_tcp_close(listener);
	close_pair();
}

/* A SYN (or a bare ACK) from @p src:@p sport to B's port 80, as a
 * flooder sends it: addresses nobody answers for. */
static void flood_tcp(uint32_t src, uint16_t sport, uint8_t flags, uint32_t seq, uint32_t ack)
{
	struct pn_port_info ib;
	struct pn_pkt *pkt;
	struct pn_ipv4_hdr *ip;
	uint8_t *l4;
	struct pn_tcp_hdr *th;

	pn_port_info_get(B.port, &ib);
	pkt = raw_frame(ib.mac, PN_ETH_HLEN + 20 + 24);
	ip = raw_ip(pkt, PN_IPPROTO_TCP, 24);
	ip->saddr = htonl(src);
	raw_ip_csum(ip);
	l4 = (uint8_t *)(ip + 1);
	th = (struct pn_tcp_hdr *)l4;
	th->sport = htons(sport);
	th->dport = htons(80);
	th->seq = htonl(seq);
	th->ack = htonl(ack);
	th->doff = 6 << 4;
	th->flags = flags;
	th->win = htons(65535);
	pn_tcp_opt_mss(l4 + 20, 1460);
	pn_wire_l4_csum4(l4, 24, src, IP_B, PN_IPPROTO_TCP);
	raw_send(pkt);
}

Test(tcp, syn_flood_keeps_nobody_out)
{
	struct pn_tcp_stats tb;
	struct pn_tcp_info is;

	syn_backlog = 16;
	open_pair(NULL, NULL, 0);
	listener = pn_tcp_listen(B.st, 80, 16, listen_cb, NULL);
	cr_assert_not_null(listener);
	/* 3,000 SYNs from 100 addresses on the wire that never answer */
	for (uint32_t i = 0; i < 3000; i++)
		flood_tcp(0x0a000064u + i % 100, (uint16_t)(1024 + i), PN_TCP_F_SYN, i * 7919u, 0);
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_eq(tb.passive_opens, 16, "the SYN queue holds 16 half-open connections");
	cr_assert_geq(tb.syncookies_sent, 3000 - 16);
	cr_assert_leq(tb.sockets, 1 + 16, "no state for the rest");
	/* forged ACKs guessing a cookie: refused, counted, answered by RST */
	for (uint32_t i = 0; i < 100; i++)
		flood_tcp(IP_A, (uint16_t)(40000 + i), PN_TCP_F_ACK, 12345 + i, 0xdeadbeefu + i * 977u);
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_eq(tb.syncookies_failed, 100);
	cr_assert_eq(tb.syncookies_ok, 0);
	cr_assert_leq(tb.sockets, 1 + 16);
	/* a real client gets in at once, through a cookie, with its options */
	memset(&client, 0, sizeof(client));
	memset(&server, 0, sizeof(server));
	client.target = 1u << 20;
	client.s = pn_tcp_connect(A.st, IP_B, 80, conn_cb, &client);
	cr_assert_not_null(client.s);
	PUMP_UNTIL(client.connected && server.s, 200);
	pn_tcp_stats_get(B.st, &tb);
	cr_assert(client.connected && server.s != NULL,
		  "a real client was kept out (connected %d, cookies sent %llu ok %llu failed %llu, "
		  "overflows %llu)", client.connected, (unsigned long long)tb.syncookies_sent,
		  (unsigned long long)tb.syncookies_ok, (unsigned long long)tb.syncookies_failed,
		  (unsigned long long)tb.listen_overflows);
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_eq(tb.syncookies_ok, 1);
	pn_tcp_info_get(server.s, &is);
	cr_assert(is.ts && is.sack && is.wscale, "options came back through the timestamp");
	fill_send(&client);
	PUMP_UNTIL(server.rcvd == client.target, 20000);
	cr_assert_eq(server.rcvd, client.target);
	/* the half-open ones give up after 5 SYN-ACK retries, about a minute */
	finish_conn();
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_eq(tb.syn_dropped_no_socket, 0);
	pn_stack_destroy(B.st); /* the half-open 16 go with the stack */
	B.st = NULL;
	pn_port_stop(B.port);
	pn_port_close(B.port);
	B.port = NULL;
	side_close(&A);
	destroy_pools();
}

/* TCP over IPv6, on a listener that takes both families */
Test(tcp6, transfer_over_ipv6_and_ipv4_on_one_listener)
{
	struct pn_addr b6 = addr6("fd00::2"), a6 = addr6("fd00::1");
	struct pn_tcp_info ic, is;
	struct pn_tcp_stats tb;

	dual_stack = true;
	open_pair(NULL, NULL, 0);
	PUMP_UNTIL(pn_stack_ip6_ready(A.st) && pn_stack_ip6_ready(B.st), 3000);
	memset(&client, 0, sizeof(client));
	memset(&server, 0, sizeof(server));
	server.zc = true;
	server.hold_max = 8;
	listener = pn_tcp_listen(B.st, 80, 16, listen_cb, NULL);
	cr_assert_not_null(listener);
	client.target = 2u << 20;
	client.s = pn_tcp_connect_addr(A.st, &b6, 80, conn_cb, &client);
	cr_assert_not_null(client.s);
	PUMP_UNTIL(client.connected && server.s, 3000);
	cr_assert(client.connected && server.s, "IPv6 handshake");
	fill_send(&client);
	pn_tcp_info_get(server.s, &is);
	pn_tcp_info_get(client.s, &ic);
	cr_assert(pn_addr_eq(&is.peer_addr, &a6), "the server sees A's IPv6 address");
	cr_assert_eq(is.peer_ip, 0);
	cr_assert_eq(ic.mss, 1500 - 60 - 12, "MSS for IPv6 less the timestamp option");
	PUMP_UNTIL(server.rcvd == client.target, 20000);
	cr_assert_eq(server.rcvd, client.target, "byte-exact over IPv6");
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_eq(tb.copy_bytes, 0, "by zero copy");
	finish_conn();
	/* the same listener, over IPv4 */
	start_conn(1u << 20, false, false);
	PUMP_UNTIL(server.rcvd == client.target, 20000);
	cr_assert_eq(server.rcvd, client.target);
	pn_tcp_info_get(server.s, &is);
	cr_assert_eq(is.peer_ip, IP_A);
	finish_conn();
	close_pair();
}

/* {copy, zero copy} x {clean, loss, reorder, corrupt + delay}, IPv4:
 * 1 MB byte-exact in each, every page and socket back at the end. */
struct xfer_case {
	bool zc;
	/* arrays, not pointers: Criterion may run each case in a new process
	 * image, where a pointer into this one means nothing */
	char impair_a[48], impair_b[48];
	char name[32];
};

ParameterizedTestParameters(tcp, transfer_matrix)
{
	static struct xfer_case cases[] = {
		{ false, "", "", "copy, clean" },
		{ true, "", "", "zero copy, clean" },
		{ false, "tx_loss=0.03,seed=2", "rx_loss=0.03,seed=3", "copy, 3% loss both ways" },
		{ true, "tx_loss=0.03,seed=4", "rx_loss=0.03,seed=5", "zero copy, 3% loss both ways" },
		{ false, "tx_reorder=0.1,seed=6", "rx_reorder=0.1,rx_dup=0.02,seed=7", "copy, reorder" },
		{ true, "tx_reorder=0.1,seed=8", "rx_reorder=0.1,rx_dup=0.02,seed=9", "zero copy, reorder" },
		{ false, "tx_delay_us=3000,seed=10", "rx_corrupt=0.02,seed=11", "copy, delay + corrupt" },
		{ true, "tx_delay_us=3000,seed=12", "rx_corrupt=0.02,seed=13", "zero copy, delay + corrupt" },
	};

	return cr_make_param_array(struct xfer_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct xfer_case *c, tcp, transfer_matrix)
{
	struct pn_tcp_stats tb;

	open_pair(c->impair_a, c->impair_b, 0);
	start_conn(1u << 20, c->zc, false);
	PUMP_UNTIL(server.rcvd == client.target, 30000);
	cr_assert_eq(server.rcvd, client.target, "%s: %llu of %llu", c->name,
		     (unsigned long long)server.rcvd, (unsigned long long)client.target);
	pn_tcp_stats_get(B.st, &tb);
	if (c->zc)
		cr_assert_eq(tb.copy_bytes, 0, "%s: nothing copied", c->name);
	else
		cr_assert_eq(tb.zc_bytes, 0, "%s: nothing by zero copy", c->name);
	finish_conn();
	close_pair(); /* every page back in both pools */
}

Test(tcp, echo_both_ways)
{
	open_pair(NULL, NULL, 0);
	start_conn(2u << 20, false, true);
	/* the client reads the echo back and checks it */
	PUMP_UNTIL(client.rcvd == client.target, 20000);
	cr_assert_eq(client.rcvd, client.target, "echoed %llu", (unsigned long long)client.rcvd);
	finish_conn();
	close_pair();
}

/* both congestion controls repair what the impair driver does */
static void impaired_echo(const char *cc)
{
	struct pn_tcp_stats ta, tb;
	struct pn_impair_stats ia, ib;

	/* both directions lose, B also duplicates, reorders and corrupts what
	 * it gets; A delays what it sends by 2 ms */
	pair_cc = cc;
	open_pair("tx_loss=0.02,rx_reorder=0.03,tx_delay_us=2000,seed=11",
		  "rx_loss=0.02,rx_dup=0.02,rx_reorder=0.05,rx_corrupt=0.01,tx_loss=0.01,seed=5", 0);
	start_conn(4u << 20, false, true);
	PUMP_UNTIL(client.rcvd == client.target, 60000);
	cr_assert_eq(client.rcvd, client.target, "echoed %llu", (unsigned long long)client.rcvd);
	pn_tcp_stats_get(A.st, &ta);
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_eq(pn_impair_stats_get(A.port, &ia), 0);
	cr_assert_eq(pn_impair_stats_get(B.port, &ib), 0);
	cr_assert_gt(ib.rx_lost + ia.tx_lost, 0);
	cr_assert_gt(ib.rx_dup, 0);
	cr_assert_gt(ib.rx_reordered + ia.rx_reordered, 0);
	cr_assert_gt(ib.rx_corrupted, 0);
	cr_assert_gt(ia.tx_delayed, 0);
	cr_assert_gt(ta.retrans_segs, 0, "the client repaired losses");
	cr_assert_gt(tb.ooo_segs, 0, "the server queued out-of-order segments");
	cr_assert_gt(tb.dup_data_segs, 0, "duplicates were recognised");
	{
		struct pn_tcp_info i;

		pn_tcp_info_get(client.s, &i);
		cr_assert_str_eq(i.cc, cc);
		cr_assert_str_eq(pn_tcp_get_cc(server.s), cc);
	}
	finish_conn();
	close_pair();
	pair_cc = NULL;
}

Test(tcp, loss_duplication_reordering_byte_exact_cubic) { impaired_echo("cubic"); }

Test(tcp, loss_duplication_reordering_byte_exact_newreno) { impaired_echo("newreno"); }


/* MTU 9000: segments of 8,948 bytes in several buffers each, both ways,
 * some lost and duplicated on the way */
Test(tcp, jumbo_frames_byte_exact)
{
	struct pn_tcp_info ic;

	pair_mtu = 9000;
	open_pair("tx_loss=0.01,seed=9", "rx_dup=0.01,tx_loss=0.01,seed=4", 0);
	start_conn(16u << 20, false, true);
	pn_tcp_info_get(client.s, &ic);
	cr_assert_eq(ic.mss, 9000 - 40 - 12, "mss %u", ic.mss);
	PUMP_UNTIL(client.rcvd == client.target, 60000);
	cr_assert_eq(client.rcvd, client.target, "echoed %llu", (unsigned long long)client.rcvd);
	finish_conn();
	close_pair();
	pair_mtu = 0;
}

Test(tcp, buffers_grow_with_the_transfer)
{
	struct pn_tcp_info ic, is;

	open_pair(NULL, NULL, 0);
	start_conn(64u << 20, false, false);
	pn_tcp_info_get(server.s, &is);
	pn_tcp_info_get(client.s, &ic);
	cr_assert_eq(is.rcvbuf, 256 * 1024);
	cr_assert_eq(ic.sndbuf, 256 * 1024);
	PUMP_UNTIL(server.rcvd == client.target, 60000);
	cr_assert_eq(server.rcvd, client.target);
	pn_tcp_info_get(server.s, &is);
	pn_tcp_info_get(client.s, &ic);
	cr_assert_gt(is.rcvbuf, 256 * 1024, "the reader's buffer stayed at %u", is.rcvbuf);
	cr_assert_leq(is.rcvbuf, 4u << 20, "past rcvbuf_max");
	cr_assert_gt(ic.sndbuf, 256 * 1024, "the writer's buffer stayed at %u", ic.sndbuf);
	cr_assert_leq(ic.sndbuf, 4u << 20, "past sndbuf_max");
	finish_conn();
	close_pair();
}

Test(tcp, group_max_falls_back_to_copy)
{
	struct pn_acct_group *g = pn_acct_group_create(pn_acct_root(), "zc-small");
	struct pn_acct_events ev;
	struct pn_acct_stat ast;
	struct pn_tcp_stats tb;

	cr_assert_not_null(g);
	cr_assert_eq(pn_acct_set_max(g, 8), 0);
	open_pair(NULL, NULL, PN_POOL_F_ACCOUNTED);
	start_conn(4u << 20, true, false);
	pn_tcp_set_acct(server.s, g);
	server.hold_max = 64; /* holds more pages than the group may have */
	PUMP_UNTIL(server.rcvd == client.target, 20000);
	cr_assert_eq(server.rcvd, client.target);
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_gt(tb.fallback_bytes, 0, "some bytes were copied");
	cr_assert_gt(tb.zc_bytes, 0, "some by zero copy");
	cr_assert_eq(tb.zc_bytes + tb.fallback_bytes, client.target);
	cr_assert_gt(tb.zc_charge_refused, 0);
	pn_acct_events(g, &ev);
	cr_assert_gt(ev.max, 0, "the group's max was hit");
	pn_acct_stat(g, &ast);
	cr_assert_eq(ast.copied_bytes, tb.fallback_bytes);
	finish_conn();
	close_pair();
	pn_acct_drain_all();
	cr_assert_eq(pn_acct_current(g), 0, "every page uncharged");
	cr_assert_leq(pn_acct_peak(g), 8);
	cr_assert_eq(pn_acct_group_destroy(g), 0);
}

Test(tcp, held_pages_close_the_window)
{
	struct pn_tcp_info ic, is;
	struct pn_tcp_stats tb;

	open_pair(NULL, NULL, 0);
	start_conn(2u << 20, true, false);
	server.hold_all = true;
	/* the server holds every page it reads: 256 KiB of receive buffer */
	PUMP_UNTIL(0, 1500);
	pn_tcp_info_get(server.s, &is);
	pn_tcp_info_get(client.s, &ic);
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_lt(server.rcvd, client.target, "the transfer is held up");
	cr_assert_eq(ic.snd_wnd, 0, "the sender sees a closed window");
	cr_assert_gt(tb.zero_window_adv, 0);
	cr_assert_geq(is.zc_held + is.rcv_queued, 200 * 1024, "held + queued fill the buffer");
	cr_assert_eq(ic.bytes_sent - is.bytes_received, (uint64_t)ic.snd_queued,
		     "nothing was dropped: every byte not received waits at the sender");
	/* let go: the window opens and the rest flows */
	server.hold_all = false;
	server.hold_max = 8;
	pn_tcp_zc_release_bulk(B.st, server.held, server.nr_held);
	server.nr_held = 0;
	do_read(&server);
	PUMP_UNTIL(server.rcvd == client.target, 20000);
	cr_assert_eq(server.rcvd, client.target);
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_gt(tb.window_updates, 0, "release announced the window");
	finish_conn();
	close_pair();
}

Test(tcp, refused_connection)
{
	open_pair(NULL, NULL, 0);
	memset(&client, 0, sizeof(client));
	client.s = pn_tcp_connect(A.st, IP_B, 81, conn_cb, &client);
	cr_assert_not_null(client.s);
	PUMP_UNTIL(client.closed, 2000);
	cr_assert(client.closed);
	cr_assert_eq(client.err, ECONNREFUSED);
	pn_tcp_close(client.s);
	PUMP_UNTIL(0, 10);
	close_pair();
}

/* Raw TCP segment from A to B's connection. */
static void raw_tcp(uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags)
{
	struct pn_port_info ib;
	struct pn_pkt *pkt;
	struct pn_ipv4_hdr *ip;
	struct pn_tcp_hdr *th;

	pn_port_info_get(B.port, &ib);
	pkt = raw_frame(ib.mac, 14 + 20 + 20);
	ip = raw_ip(pkt, PN_IPPROTO_TCP, 20);
	th = (struct pn_tcp_hdr *)(ip + 1);
	th->sport = htons(sport);
	th->dport = htons(dport);
	th->seq = htonl(seq);
	th->ack = htonl(ack);
	th->doff = 5 << 4;
	th->flags = flags;
	th->win = htons(1000);
	th->csum = 0;
	th->csum = pn_csum_fold(pn_csum_add(pn_csum_pseudo(ip->saddr, ip->daddr, PN_IPPROTO_TCP, 20),
					    th, 20));
	raw_send(pkt);
}

Test(tcp, rfc5961_rst_and_syn_in_window)
{
	struct pn_tcp_info is;
	struct pn_tcp_stats tb;

	open_pair(NULL, NULL, 0);
	start_conn(1000, false, false);
	PUMP_UNTIL(server.rcvd == 1000, 2000);
	PUMP_UNTIL(0, 100);
	pn_tcp_info_get(server.s, &is);
	/* RST inside the window but not at rcv_nxt: challenged, not obeyed */
	raw_tcp(is.peer_port, 80, is.rcv_nxt + 100, 0, 0x04);
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_eq(tb.rfc5961_rst_dropped, 1);
	cr_assert_eq(tb.challenge_acks, 1);
	cr_assert_eq(pn_tcp_state(server.s), PN_TCP_ESTABLISHED);
	/* SYN on the established connection: challenged */
	raw_tcp(is.peer_port, 80, is.rcv_nxt, 0, 0x02);
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_eq(tb.challenge_acks, 2);
	cr_assert_eq(pn_tcp_state(server.s), PN_TCP_ESTABLISHED);
	/* ACK for data never sent: challenged and ignored */
	raw_tcp(is.peer_port, 80, is.rcv_nxt, is.snd_nxt + 100000, 0x10);
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_eq(tb.challenge_acks, 3);
	/* RST exactly at rcv_nxt: the connection is reset */
	raw_tcp(is.peer_port, 80, is.rcv_nxt, 0, 0x04);
	cr_assert_eq(pn_tcp_state(server.s), PN_TCP_CLOSED);
	PUMP_UNTIL(server.closed, 100);
	cr_assert(server.closed);
	cr_assert_eq(server.err, ECONNRESET);
	pn_tcp_close(server.s);
	pn_tcp_abort(client.s);
	pn_tcp_close(listener);
	PUMP_UNTIL(0, 20);
	close_pair();
}

#define MANY 200
static struct pn_tcp_sock *many_srv[MANY];
static unsigned many_accepted;

static void many_listen_cb(struct pn_tcp_sock *l, unsigned ev, void *arg)
{
	struct pn_tcp_sock *s;

	(void)ev;
	(void)arg;
	while ((s = pn_tcp_accept(l)) != NULL)
		many_srv[many_accepted++] = s;
}

static unsigned many_connected;

static void many_cb(struct pn_tcp_sock *s, unsigned ev, void *arg)
{
	(void)s;
	(void)arg;
	if (ev & PN_TCP_EV_CONNECTED)
		many_connected++;
}

Test(tcp, many_connections_and_backlog)
{
	struct pn_tcp_sock *cl[MANY];
	struct pn_tcp_sock *l;
	struct pn_tcp_stats ta, tb;

	open_pair(NULL, NULL, 0);
	l = pn_tcp_listen(B.st, 8080, MANY, many_listen_cb, NULL);
	cr_assert_not_null(l);
	cr_assert_null(pn_tcp_listen(B.st, 8080, 1, many_listen_cb, NULL));
	cr_assert_eq(errno, EADDRINUSE);
	for (unsigned i = 0; i < MANY; i++) {
		cl[i] = pn_tcp_connect(A.st, IP_B, 8080, many_cb, NULL);
		cr_assert_not_null(cl[i]);
	}
	PUMP_UNTIL(many_accepted == MANY && many_connected == MANY, 5000);
	cr_assert_eq(many_accepted, MANY);
	cr_assert_eq(many_connected, MANY);
	for (unsigned i = 0; i < MANY; i++) {
		pn_tcp_close(cl[i]);
		pn_tcp_close(many_srv[i]);
	}
	pn_tcp_close(l);
	PUMP_UNTIL(0, 300);
	pn_tcp_stats_get(A.st, &ta);
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_eq(ta.sockets + tb.sockets, 0, "all closed and freed");
	cr_assert_eq(tb.passive_opens, MANY);
	close_pair();
}

Test(tcp, tokens_outlive_socket_and_stack)
{
	open_pair(NULL, NULL, 0);
	start_conn(200000, true, false);
	server.hold_all = true;
	PUMP_UNTIL(server.rcvd == client.target, 5000);
	cr_assert_eq(server.rcvd, client.target);
	cr_assert_gt(server.nr_held, 100);
	/* the application still holds pages when everything else goes */
	pn_tcp_abort(server.s);
	pn_tcp_abort(client.s);
	pn_tcp_close(listener);
	side_close(&A);
	side_close(&B);
	cr_assert_gt(pn_pool_inflight(A.pool), 0, "the held pages are still out");
	{
		/* the payload is still there to read: the held tokens are the
		 * stream's last bytes, in order */
		uint64_t off = server.rcvd;

		for (unsigned i = 0; i < server.nr_held; i++)
			off -= server.held_len[i];
		for (unsigned i = 0; i < server.nr_held; i++)
			for (uint32_t k = 0; k < server.held_len[i]; k++, off++)
				cr_assert_eq(server.held_base[i][k], pattern(off), "byte %llu",
					     (unsigned long long)off);
	}
	cr_assert_eq(pn_tcp_zc_release_bulk(NULL, server.held, server.nr_held), 0);
	/* released again: every one of them is now stale, and touches nothing */
	cr_assert_eq(pn_tcp_zc_release(NULL, server.held[0]), -EINVAL);
	server.nr_held = 0;
	destroy_pools(); /* every page back */
}

Test(tcp, syn_reopens_a_time_wait_connection)
{
	struct pn_tcp_info is;
	struct pn_tcp_stats tb;

	time_wait_ms = 60000; /* as deployed: it must not end by itself here */
	open_pair(NULL, NULL, 0);
	time_wait_ms = 50;
	start_conn(1000, false, false);
	PUMP_UNTIL(server.rcvd == 1000, 2000);
	pn_tcp_info_get(server.s, &is);
	/* the server closes first: it ends in TIME_WAIT */
	pn_tcp_shutdown(server.s);
	PUMP_UNTIL(client.eof, 2000);
	pn_tcp_close(client.s);
	PUMP_UNTIL(pn_tcp_state(server.s) == PN_TCP_TIME_WAIT, 2000);
	cr_assert_eq(pn_tcp_state(server.s), PN_TCP_TIME_WAIT);
	pn_tcp_close(server.s);
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_eq(tb.time_wait, 1);
	/* a SYN for the same four-tuple, above the old sequence space */
	raw_tcp(is.peer_port, 80, is.rcv_nxt + 100000, 0, 0x02);
	PUMP_UNTIL(0, 10);
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_eq(tb.time_wait, 0, "TIME_WAIT ended");
	cr_assert_eq(tb.passive_opens, 2, "the listener answered the new SYN");
	pn_tcp_close(listener);
	PUMP_UNTIL(0, 100);
	close_pair();
}

Test(tcp, exhausted_pool_pushes_back)
{
	struct pn_net_stats sa;

	/* 64 pages = 128 packet buffers on each side, fewer than one
	 * receive buffer of segments (256 KiB) */
	pool_pages = 64;
	open_pair(NULL, NULL, 0);
	pool_pages = 4096;
	start_conn(1u << 20, true, false);
	server.hold_all = true;
	PUMP_UNTIL(0, 500);
	pn_stack_stats_get(A.st, &sa);
	cr_assert_gt(sa.tx_nomem, 0, "the sender ran out of buffers");
	cr_assert_lt(server.rcvd, client.target);
	/* the application lets go: buffers come back, the transfer resumes */
	server.hold_all = false;
	server.hold_max = 8;
	pn_tcp_zc_release_bulk(B.st, server.held, server.nr_held);
	server.nr_held = 0;
	do_read(&server);
	PUMP_UNTIL(server.rcvd == client.target, 30000);
	cr_assert_eq(server.rcvd, client.target);
	finish_conn();
	close_pair();
}

/* Random TCP segments with valid checksums, odd options and flags, to the
 * listener and to a live connection: counted or answered, nothing crashes
 * (ASan runs this too), no page lost, and the connection still carries
 * data afterwards unless a segment legitimately reset it. */
Test(tcp, random_segments_do_no_harm)
{
	struct pn_port_info ib;
	struct pn_tcp_info is;
	int64_t inflight;

	open_pair(NULL, NULL, 0);
	start_conn(100000, false, false);
	PUMP_UNTIL(server.rcvd == 100000, 2000);
	PUMP_UNTIL(0, 60);
	pn_tcp_info_get(server.s, &is);
	pn_port_info_get(B.port, &ib);
	/* fixed in CI; PN_TCP_FUZZ_SEED explores others */
	srand(getenv("PN_TCP_FUZZ_SEED") ? (unsigned)atoi(getenv("PN_TCP_FUZZ_SEED")) : 42);
	inflight = pn_pool_inflight(A.pool);
	/* an in-window segment with a valid checksum is data as far as TCP
	 * can tell: the old connection's bytes are counted, not compared */
	server.nocheck = true;
	for (unsigned i = 0; i < 5000; i++) {
		uint32_t optlen = (uint32_t)(rand() % 11) * 4, plen = (uint32_t)(rand() % 64);
		uint32_t l4 = 20 + optlen + plen;
		struct pn_pkt *pkt = raw_frame(ib.mac, 14 + 20 + l4);
		struct pn_ipv4_hdr *ip = raw_ip(pkt, PN_IPPROTO_TCP, (uint16_t)l4);
		struct pn_tcp_hdr *th = (struct pn_tcp_hdr *)(ip + 1);
		uint8_t *o = (uint8_t *)(th + 1);

		for (uint32_t k = 0; k < optlen + plen; k++)
			o[k] = (uint8_t)rand();
		/* options are mostly well-formed kinds with random lengths */
		for (uint32_t k = 0; k + 1 < optlen; k += 4) {
			static const uint8_t kinds[] = { 0, 1, 2, 3, 4, 5, 8, 30 };

			o[k] = kinds[rand() % 8];
		}
		/* half to the live connection, half to the listener or nowhere */
		th->sport = htons(rand() % 2 ? is.peer_port : (uint16_t)rand());
		th->dport = htons(rand() % 4 ? 80 : (uint16_t)rand());
		th->seq = htonl(rand() % 2 ? is.rcv_nxt + (uint32_t)(rand() % 70000) - 1000 : (uint32_t)rand());
		th->ack = htonl(rand() % 2 ? is.snd_nxt + (uint32_t)(rand() % 3000) - 1500 : (uint32_t)rand());
		/* no RST exactly at rcv_nxt: that one would (rightly) reset */
		th->flags = (uint8_t)(rand() & 0x1b);
		th->doff = (uint8_t)(((rand() % 8 ? (20 + optlen) / 4 : (uint32_t)rand() % 16)) << 4);
		th->win = (uint16_t)rand();
		th->csum = 0;
		th->csum = pn_csum_fold(pn_csum_add(pn_csum_pseudo(ip->saddr, ip->daddr, PN_IPPROTO_TCP,
								     (uint16_t)l4), th, l4));
		raw_send(pkt);
		pn_stack_poll(A.st);
	}
	PUMP_UNTIL(0, 200);
	{
		struct pn_tcp_stats tb;

		pn_tcp_stats_get(B.st, &tb);
		cr_assert_gt(tb.bad_segs, 0, "bad data offsets counted");
		cr_assert_gt(tb.rst_out, 0, "segments for no connection answered by RST");
		cr_assert_gt(tb.challenge_acks + tb.dup_data_segs + tb.out_of_window, 0);
		cr_assert_gt(tb.passive_opens, 1, "random SYNs reached the listener");
	}
	pn_tcp_abort(client.s);
	pn_tcp_abort(server.s);
	/* random SYNs left half-open children: a new listener starts clean */
	pn_tcp_close(listener);
	PUMP_UNTIL(0, 100);
	cr_assert_eq(pn_pool_inflight(A.pool), inflight, "every random frame freed");
	/* the stack still serves: a new connection carries 100 KB exactly */
	memset(&client, 0, sizeof(client));
	memset(&server, 0, sizeof(server));
	server.hold_max = 8;
	client.target = 100000;
	listener = pn_tcp_listen(B.st, 80, 16, listen_cb, NULL);
	cr_assert_not_null(listener);
	client.s = pn_tcp_connect(A.st, IP_B, 80, conn_cb, &client);
	cr_assert_not_null(client.s);
	PUMP_UNTIL(client.connected && server.s, 3000);
	cr_assert(client.connected && server.s != NULL);
	fill_send(&client);
	PUMP_UNTIL(server.rcvd == client.target, 5000);
	cr_assert_eq(server.rcvd, client.target);
	finish_conn();

	close_pair();
}

/* ---- zero-copy tokens are checked handles (ownership issue, finding 4) */

static void assert_held_intact(unsigned i)
{
	for (uint32_t k = 0; k < server.held_len[i]; k++)
		cr_assert_eq(server.held_base[i][k], pattern(server.held_off[i] + k),
			     "held token %u: byte %u changed", i, k);
}

Test(tcp, zc_tokens_stale_doubled_foreign_made_up)
{
	struct pn_tcp_stats tb;
	struct pn_zc_vec v[4];
	uint64_t t0, t1, t2, victim = 0;
	unsigned vi = 0;

	open_pair(NULL, NULL, 0);
	start_conn(64 * 1024, true, false);
	server.hold_all = true;
	PUMP_UNTIL(server.rcvd == client.target, 5000);
	cr_assert_gt(server.nr_held, 8);
	t0 = server.held[0];
	t1 = server.held[1];
	t2 = server.held[2];

	cr_assert_eq(pn_tcp_recv_zc(server.s, v, 0, NULL, 0), -EINVAL, "max 0");
	cr_assert_eq(pn_tcp_recv_zc(server.s, NULL, 4, NULL, 0), -EINVAL, "no vector");

	cr_assert_eq(pn_tcp_zc_release(B.st, t0), 0);
	cr_assert_eq(pn_tcp_zc_release(B.st, t0), -EINVAL, "doubled");
	cr_assert_eq(pn_tcp_zc_release(NULL, t0), -EINVAL, "doubled, no stack named");
	cr_assert_eq(pn_tcp_zc_release(A.st, t1), -EINVAL, "foreign: A is alive and not its stack");
	/* made up: even generation, a generation not yet issued, a slot past
	 * the table, a table nobody made, noise */
	cr_assert_eq(pn_tcp_zc_release(NULL, t2 ^ (UINT64_C(1) << 32)), -EINVAL);
	cr_assert_eq(pn_tcp_zc_release(NULL, t2 + (UINT64_C(2) << 32)), -EINVAL);
	cr_assert_eq(pn_tcp_zc_release(NULL, t2 | 0xffffffu), -EINVAL);
	cr_assert_eq(pn_tcp_zc_release(NULL, (t2 & ~(UINT64_C(0xff) << 24)) | (UINT64_C(250) << 24)),
		     -EINVAL);
	cr_assert_eq(pn_tcp_zc_release(NULL, 1), -EINVAL);
	cr_assert_eq(pn_tcp_zc_release(NULL, UINT64_C(0xdeadbeefdeadbeef)), -EINVAL);
	cr_assert_eq(pn_tcp_zc_release(NULL, 0), 0, "0 is copied bytes: nothing to do");
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_geq(tb.zc_bad_tokens, 6, "counted on the stack they named");
	cr_assert_geq(pn_tcp_zc_bad_tokens(), 9, "and process-wide");
	for (unsigned i = 1; i < server.nr_held; i++)
		assert_held_intact(i);

	/* the slot of t0 goes to a new token: releasing t0 again must not free
	 * the new holder's packet */
	client.target += 32 * 1024;
	fill_send(&client);
	PUMP_UNTIL(server.rcvd == client.target, 5000);
	for (unsigned i = 0; i < server.nr_held; i++)
		if ((uint32_t)server.held[i] == (uint32_t)t0 && server.held[i] != t0) {
			victim = server.held[i];
			vi = i;
		}
	cr_assert_neq(victim, 0, "the freed slot was reused");
	cr_assert_eq(pn_tcp_zc_release(NULL, t0), -EINVAL, "stale after reuse");
	PUMP_UNTIL(0, 20);
	assert_held_intact(vi);
	/* the good ones all go back; t0 was released already */
	server.held[0] = 0;
	cr_assert_eq(pn_tcp_zc_release_bulk(B.st, server.held, server.nr_held), 0);
	server.nr_held = 0;
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_eq(tb.zc_tokens_out, 0);
	finish_conn();
	close_pair();
}

Test(tcp, zc_tokens_run_out_then_copy)
{
	struct pn_tcp_stats tb;

	zc_tokens = 16;
	open_pair(NULL, NULL, 0);
	zc_tokens = 0;
	start_conn(128 * 1024, true, false);
	server.hold_all = true;
	PUMP_UNTIL(server.rcvd == client.target, 5000);
	cr_assert_eq(server.rcvd, client.target, "every byte arrived, tokens or not");
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_eq(tb.zc_tokens_out, 16);
	cr_assert_eq(server.nr_held, 16);
	cr_assert_gt(tb.zc_tokens_exhausted, 0);
	cr_assert_gt(tb.fallback_bytes, 0, "the rest was copied");
	finish_conn();
	close_pair();
}

/* Finding 8: frames whose headers and payload arrive in pieces. */
Test(tcp, header_split_and_multi_buffer_frames_byte_exact)
{
	struct pn_net_stats sb;
	struct pn_tcp_stats tb;

	split_rng = 99;
	split_rx_b = true;
	open_pair(NULL, NULL, 0);
	start_conn(2u << 20, getenv("SPLIT_COPY") == NULL, false);
	PUMP_UNTIL(server.rcvd == client.target, 20000);
	cr_assert_eq(server.rcvd, client.target, "received %llu", (unsigned long long)server.rcvd);
	/* ping and UDP across pieces too */
	cr_assert_eq(pn_icmp_echo(A.st, IP_B, 1, 1, "split ping", 10), 0);
	PUMP_UNTIL(pn_icmp_echo_replies_seen(A.st) == 1, 2000);
	cr_assert_eq(pn_icmp_echo_replies_seen(A.st), 1);
	pn_stack_stats_get(B.st, &sb);
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_eq(sb.ip_bad_header + sb.rx_runts + tb.bad_segs + tb.bad_csum, 0,
		     "nothing dropped as malformed");
	cr_assert_eq(tb.zc_bytes, client.target, "payload by zero copy, piece by piece");
	finish_conn();
	split_rx_b = false;
	close_pair();
}

/* Finding 3 seen from the stack: every ping arrives twice, the second a clone. */
Test(tcp, duplicated_pings_are_answered)
{
	open_pair(NULL, "rx_dup=1.0,seed=3", 0);
	for (uint16_t i = 1; i <= 5; i++)
		cr_assert_eq(pn_icmp_echo(A.st, IP_B, 7, i, "dup", 3), 0);
	PUMP_UNTIL(pn_icmp_echo_replies_seen(A.st) >= 10, 2000);
	cr_assert_eq(pn_icmp_echo_replies_seen(A.st), 10, "each request and its clone answered");
	close_pair();
}

/* Who holds the pages: the socket, through its tokens; and its group stays. */
Test(tcp, holders_named_and_group_pinned)
{
	struct pn_acct_group *g = pn_acct_group_create(pn_acct_root(), "pinned");
	struct pn_held_group hg[8];
	uint32_t total = 0;
	char who[160];
	unsigned n;
	bool found = false;

	cr_assert_not_null(g);
	open_pair(NULL, NULL, PN_POOL_F_ACCOUNTED);
	start_conn(256 * 1024, true, false);
	pn_tcp_set_acct(server.s, g);
	server.hold_all = true;
	PUMP_UNTIL(server.rcvd == client.target, 5000);
	cr_assert_eq(pn_acct_pins(g), 1, "the socket pins its group");
	/* the loop driver hands frames over by pointer: what B received lives
	 * in A's pool */
	n = pn_pool_held_by(A.pool, hg, PN_DIM(hg), &total);
	for (unsigned i = 0; i < n; i++) {
		pn_holder_describe(hg[i].holder, who, sizeof(who));
		if (strstr(who, "socket 10.0.0.1:") && strstr(who, "zero-copy tokens")) {
			found = true;
			cr_assert_geq(hg[i].pages, server.nr_held / 2, "%s holds %u", who, hg[i].pages);
		}
	}
	cr_assert(found, "the socket is named as the holder");
	cr_assert_geq(total, server.nr_held / 2);
	cr_assert_eq(pn_tcp_zc_release_bulk(NULL, server.held, server.nr_held), 0);
	server.nr_held = 0;
	finish_conn();
	cr_assert_eq(pn_acct_pins(g), 0, "closed sockets let go of it");
	close_pair();
	pn_acct_drain_all();
	cr_assert_eq(pn_acct_group_destroy(g), 0);
}

/*
 * Found by fuzz_tcp_conn: a client took the right edge of the window its SYN
 * offered from rcv_nxt 0; for about half of the server's ISNs that edge
 * then lay up to 2^31 ahead, and the client accepted anything up to there.
 * Sixteen connections: every client window is its receive buffer at most.
 */
static void listen_all_cb(struct pn_tcp_sock *l, unsigned ev, void *arg)
{
	struct pn_tcp_sock *s;

	(void)ev;
	(void)arg;
	while ((s = pn_tcp_accept(l)) != NULL)
		pn_tcp_close(s); /* the server side closes at once; the client stays */
}

Test(tcp, client_window_edge_is_set_from_the_peers_isn)
{
	struct pn_tcp_sock *cl[16];
	struct pn_tcp_info in;

	open_pair(NULL, NULL, 0);
	/* ARP first: it holds only 8 frames while it resolves */
	cr_assert_eq(pn_icmp_echo(A.st, IP_B, 1, 1, "arp", 3), 0);
	PUMP_UNTIL(pn_icmp_echo_replies_seen(A.st) == 1, 1000);
	listener = pn_tcp_listen(B.st, 81, 32, listen_all_cb, NULL);
	for (unsigned i = 0; i < PN_DIM(cl); i++)
		cl[i] = pn_tcp_connect(A.st, IP_B, 81, NULL, NULL);
	PUMP_UNTIL(0, 100);
	for (unsigned i = 0; i < PN_DIM(cl); i++) {
		pn_tcp_info_get(cl[i], &in);
		cr_assert(in.state == PN_TCP_ESTABLISHED || in.state == PN_TCP_CLOSE_WAIT, "%s", pn_tcp_state_name(in.state));
		cr_assert_leq(in.rcv_wnd, 256 * 1024, "connection %u: window %u", i, in.rcv_wnd);
		pn_tcp_abort(cl[i]);
	}
	pn_tcp_close(listener);
	PUMP_UNTIL(0, 100);
	close_pair();
}

/* What a TIME-WAIT entry answers (RFC 9293 3.10.7.4, RFC 1337, RFC 6191),
 * one segment at a time, and that it ends after 2 MSL by itself. */
Test(tcp, time_wait_entry_answers_fin_ignores_rst_and_ends)
{
	struct pn_tcp_info is;
	struct pn_tcp_stats tb;
	uint64_t out;

	time_wait_ms = 60000; /* as deployed, on a clock a round moves 1 ms */
	fake_time = true;
	open_pair(NULL, NULL, 0);
	start_conn(1000, false, false);
	PUMP_UNTIL(server.rcvd == 1000, 2000);
	pn_tcp_info_get(server.s, &is);
	pn_tcp_close(server.s); /* an orphan: straight to an entry */
	PUMP_UNTIL(client.eof, 2000);
	pn_tcp_close(client.s);
	PUMP_UNTIL(0, 50);
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_eq(tb.time_wait, 1);
	cr_assert_eq(tb.sockets, 1, "the listener only");

	/* the peer's FIN again (our ACK lost): acknowledged */
	out = tb.segs_out;
	raw_tcp(is.peer_port, 80, is.rcv_nxt, is.snd_nxt + 1, 0x11);
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_eq(tb.segs_out, out + 1, "the FIN was answered");
	/* an RST does not end TIME-WAIT (RFC 1337) */
	raw_tcp(is.peer_port, 80, is.rcv_nxt + 1, 0, 0x04);
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_eq(tb.time_wait, 1);
	cr_assert_eq(tb.segs_out, out + 1, "nothing answers an RST");
	/* a bare ACK: nothing */
	raw_tcp(is.peer_port, 80, is.rcv_nxt + 1, is.snd_nxt + 1, 0x10);
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_eq(tb.segs_out, out + 1);
	/* an old SYN (below what we had): an ACK, the entry stays */
	raw_tcp(is.peer_port, 80, is.rcv_nxt - 500, 0, 0x02);
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_eq(tb.segs_out, out + 2);
	cr_assert_eq(tb.time_wait, 1);
	cr_assert_eq(tb.passive_opens, 1, "no new connection from an old SYN");
	/* another four-tuple finds nothing there: reset as CLOSED */
	raw_tcp(is.peer_port + 1, 80, 5, 5, 0x10);
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_eq(tb.time_wait, 1);
	cr_assert_geq(tb.rst_out, 1);
	/* and 2 MSL end it */
	PUMP_UNTIL(0, 59000);
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_eq(tb.time_wait, 1, "not before its time");
	PUMP_UNTIL(0, 1100);
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_eq(tb.time_wait, 0);
	pn_tcp_close(listener);
	close_pair();
}

/* A segment whose checksum field holds only the pseudo-header sum (what a
 * sender with TX checksum offload leaves for its device) is counted apart,
 * with its sender; one with any other wrong checksum is not. */
Test(tcp, unfinished_offload_checksum_is_named)
{
	struct pn_port_info ib;
	struct pn_tcp_stats tb;

	open_pair(NULL, NULL, 0);
	listener = pn_tcp_listen(B.st, 80, 4, listen_cb, NULL);
	cr_assert_not_null(listener);
	pn_port_info_get(B.port, &ib);
	for (int i = 0; i < 2; i++) {
		struct pn_pkt *pkt = raw_frame(ib.mac, 14 + 20 + 20);
		struct pn_ipv4_hdr *ip = raw_ip(pkt, PN_IPPROTO_TCP, 20);
		struct pn_tcp_hdr *th = (struct pn_tcp_hdr *)(ip + 1);
		uint16_t partial = (uint16_t)(pn_csum_fold(pn_csum_pseudo(ip->saddr, ip->daddr,
									  PN_IPPROTO_TCP, 20)) ^ 0xffffu);

		th->sport = htons(4000);
		th->dport = htons(80);
		th->seq = htonl(1);
		th->doff = 5 << 4;
		th->flags = 0x02;
		th->win = htons(1000);
		th->csum = i == 0 ? partial : (uint16_t)(partial ^ 0x0100);
		raw_send(pkt);
	}
	pn_tcp_stats_get(B.st, &tb);
	cr_assert_eq(tb.bad_csum, 2);
	cr_assert_eq(tb.bad_csum_partial, 1);
	cr_assert(pn_addr_eq(&tb.partial_csum_peer, &(struct pn_addr){ 0 }) == false);
	cr_assert_eq(pn_addr_v4_host(&tb.partial_csum_peer), IP_A);
	cr_assert_eq(tb.passive_opens, 0);
	pn_tcp_close(listener);
	close_pair();
}
