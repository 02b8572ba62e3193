/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Stack groups under real concurrency: two groups of two stacks on a
 * two-queue loop pair, each stack on its own thread (four threads). The
 * clients open connections from both members and stream a pattern; the
 * servers echo it back; each client checks every byte that returns. About
 * half the segments arrive at a member that does not own their flow and
 * are handed over through the rings while the owner polls; neighbours are
 * published and read while others publish. Under ThreadSanitizer this is
 * the test of the rings, the seqlock table and the cross-thread frees.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "pn_group_side.h"
#include "pn_tcp.h"

#ifndef PN_STRESS_OPS
#define PN_STRESS_OPS 10000000
#endif
#define G_NQ GS_NQ
#define G_CONNS 8 /* per client member */
#define G_BYTES ((uint64_t)PN_STRESS_OPS / 40 + 20000)
#define G_TIMEOUT_MS 20000

struct g_member {
	struct gs_side *side;
	unsigned q;
	bool server;
	uint32_t ip;
	_Atomic(bool) *stop;
	_Atomic(unsigned) *clients_done;
	/* results, read after join */
	uint64_t bytes_back, bad_bytes;
	unsigned conns_ok, accepted;
	struct pn_net_stats ns;
	struct pn_tcp_stats ts;
	bool failed;
	char why[384];
};

static uint8_t g_pattern(unsigned conn, uint64_t off)
{
	return (uint8_t)(off * 29 + conn * 101 + (off >> 10));
}

struct g_conn {
	struct pn_tcp_sock *s;
	uint64_t sent, back;
	unsigned id;
};

static void g_fail(struct g_member *m, const char *why)
{
	if (!m->failed)
		snprintf(m->why, sizeof(m->why), "%s member %u: %.300s", m->server ? "server" : "client",
			 m->q, why);
	m->failed = true;
}

static void g_serve(struct g_member *m, struct pn_stack *st)
{
	struct pn_tcp_sock *l = pn_tcp_listen(st, 7, 64, NULL, NULL), *c[64];
	uint8_t buf[8192];
	unsigned n = 0;

	if (l == NULL) {
		g_fail(m, "listen");
		return;
	}
	while (!atomic_load(m->stop)) {
		struct pn_tcp_sock *s;

		pn_stack_poll(st);
		while ((s = pn_tcp_accept(l)) != NULL) {
			if (n == 64) {
				pn_tcp_abort(s);
				g_fail(m, "more connections than opened");
				continue;
			}
			c[n++] = s;
			m->accepted++;
		}
		for (unsigned i = 0; i < n; i++) {
			/* echo what fits: the rest waits in the receive queue */
			size_t room = pn_tcp_send_space(c[i]);
			ssize_t got;

			if (room == 0)
				continue;
			got = pn_tcp_recv(c[i], buf, PN_MIN(room, sizeof(buf)));
			if (got > 0 && pn_tcp_send(c[i], buf, (size_t)got) != got)
				g_fail(m, "echo send short");
			if (pn_tcp_eof(c[i]) && pn_tcp_state(c[i]) == PN_TCP_CLOSE_WAIT &&
			    pn_tcp_recv(c[i], buf, 1) == 0) {
				pn_tcp_close(c[i]); /* the client is done, and so are we */
				c[i--] = c[--n];
			}
		}
	}
	for (unsigned i = 0; i < n; i++)
		pn_tcp_close(c[i]);
	pn_tcp_close(l);
}

static void g_client(struct g_member *m, struct pn_stack *st)
{
	struct g_conn c[G_CONNS];
	uint8_t buf[8192];
	unsigned done = 0;
	uint64_t t0 = pn_stack_now_ms(st);

	memset(c, 0, sizeof(c));
	for (unsigned i = 0; i < G_CONNS; i++) {
		c[i].id = m->q * G_CONNS + i;
		c[i].s = pn_tcp_connect(st, m->ip, 7, NULL, NULL);
		if (c[i].s == NULL) {
			g_fail(m, "connect");
			return;
		}
		for (unsigned r = 0; r < 20; r++) /* an unresolved neighbour holds 8 frames */
			pn_stack_poll(st);
	}
	while (done < G_CONNS && pn_stack_now_ms(st) - t0 < G_TIMEOUT_MS) {
		pn_stack_poll(st);
		for (unsigned i = 0; i < G_CONNS; i++) {
			struct g_conn *k = &c[i];
			ssize_t got;

			if (k->s == NULL)
				continue;
			if (pn_tcp_state(k->s) == PN_TCP_CLOSED) {
				g_fail(m, "a connection closed early");
				pn_tcp_close(k->s);
				k->s = NULL;
				done++;
				continue;
			}
			if (pn_tcp_state(k->s) != PN_TCP_ESTABLISHED)
				continue;
			if (k->sent < G_BYTES) {
				size_t want = (size_t)PN_MIN(sizeof(buf), G_BYTES - k->sent);
				ssize_t put;

				for (size_t b = 0; b < want; b++)
					buf[b] = g_pattern(k->id, k->sent + b);
				put = pn_tcp_send(k->s, buf, want);
				if (put > 0)
					k->sent += (uint64_t)put;
			}
			while ((got = pn_tcp_recv(k->s, buf, sizeof(buf))) > 0) {
				for (ssize_t b = 0; b < got; b++)
					if (buf[b] != g_pattern(k->id, k->back + (uint64_t)b))
						m->bad_bytes++;
				k->back += (uint64_t)got;
				m->bytes_back += (uint64_t)got;
			}
			if (k->back == G_BYTES) {
				m->conns_ok++;
				pn_tcp_close(k->s);
				k->s = NULL;
				done++;
			}
		}
	}
	if (done < G_CONNS) {
		char why[384] = "timed out";

		for (unsigned i = 0; i < G_CONNS; i++)
			if (c[i].s) {
				struct pn_tcp_info ti;

				pn_tcp_info_get(c[i].s, &ti);
				snprintf(why, sizeof(why), "timed out: conn %u port %u %s sent %llu back %llu"
					 " snd_queued %u una %u nxt %u rcv_nxt %u rcv_queued %u ooo %u"
					 " snd_wnd %u rto %u retrans %llu",
					 i, ti.local_port, pn_tcp_state_name(pn_tcp_state(c[i].s)),
					 (unsigned long long)c[i].sent, (unsigned long long)c[i].back,
					 ti.snd_queued, ti.snd_una, ti.snd_nxt, ti.rcv_nxt, ti.rcv_queued,
					 ti.ooo_queued, ti.snd_wnd, ti.rto_ms,
					 (unsigned long long)ti.retransmits);
				break;
			}
		g_fail(m, why);
	}
	for (unsigned i = 0; i < G_CONNS; i++)
		if (c[i].s)
			pn_tcp_abort(c[i].s);
	atomic_fetch_add(m->clients_done, 1);
}

static void *g_thread(void *arg)
{
	struct g_member *m = arg;
	struct pn_stack *st;

	pn_pool_set_owner(m->side->pool[m->q], pn_thread_id());
	st = pn_stack_create(&(struct pn_stack_conf){
		.sz = sizeof(struct pn_stack_conf), .port = m->side->port, .queue = (uint16_t)m->q,
		.pool = m->side->pool[m->q], .ip = m->server ? 0x0a000002u : 0x0a000001u,
		.prefix_len = 24, .group = m->side->g });
	if (st == NULL || pn_tcp_configure(st, &(struct pn_tcp_conf){
				  .sz = sizeof(struct pn_tcp_conf), .time_wait_ms = 10,
				  .min_rto_ms = 20 }) != 0) {
		g_fail(m, "stack");
		atomic_fetch_add(m->clients_done, m->server ? 0 : 1);
		pn_stack_destroy(st);
		return NULL;
	}
	if (m->server)
		g_serve(m, st);
	else
		g_client(m, st);
	/* a member polls until the group is done: its queue may still carry
	 * another member's segments (a client that left early stranded the
	 * SYN-ACKs of a slower one, which arrived on its queue) */
	while (!m->server && atomic_load(m->clients_done) < G_NQ)
		pn_stack_poll(st);
	/* closes finish while the peers still poll */
	for (unsigned r = 0; r < 2000; r++) {
		pn_stack_poll(st);
		if (r % 64 == 0)
			sched_yield();
	}
	pn_stack_stats_get(st, &m->ns);
	pn_tcp_stats_get(st, &m->ts);
	pn_stack_destroy(st);
	return NULL;
}

Test(stress, stack_group_four_threads_echo_every_byte, .timeout = 600)
{
	struct gs_side A = { 0 }, B = { 0 };
	struct g_member mem[2 * G_NQ];
	pthread_t t[2 * G_NQ];
	_Atomic(bool) stop = false;
	_Atomic(unsigned) clients_done = 0;
	uint64_t steer_out = 0, steer_in = 0, drops = 0, from_group = 0;
	unsigned ok = 0, accepted = 0;

	gs_open(&A, "gstress", 8192);
	gs_open(&B, "gstress", 8192);
	for (unsigned i = 0; i < 2 * G_NQ; i++) {
		mem[i] = (struct g_member){ .side = i < G_NQ ? &A : &B, .q = i % G_NQ,
					    .server = i >= G_NQ, .ip = 0x0a000002u, .stop = &stop,
					    .clients_done = &clients_done };
		cr_assert_eq(pthread_create(&t[i], NULL, g_thread, &mem[i]), 0);
	}
	while (atomic_load(&clients_done) < G_NQ)
		sched_yield();
	/* the servers go on a little, for the clients' FINs */
	for (unsigned i = 0; i < G_NQ; i++)
		pthread_join(t[i], NULL);
	atomic_store(&stop, true);
	for (unsigned i = G_NQ; i < 2 * G_NQ; i++)
		pthread_join(t[i], NULL);
	for (unsigned i = 0; i < 2 * G_NQ; i++) {
		if (mem[i].failed) /* what every member saw, for the report */
			for (unsigned k = 0; k < 2 * G_NQ; k++)
				fprintf(stderr, "%s %u: rx %llu tx %llu steer out %llu in %llu drops %llu "
					"arp req/rep in %llu/%llu out %llu/%llu unresolved drops %llu "
					"from group %llu; tcp in %llu out %llu rst in %llu out %llu "
					"retrans %llu no socket %llu\n",
					mem[k].server ? "server" : "client", mem[k].q,
					(unsigned long long)mem[k].ns.rx_frames,
					(unsigned long long)mem[k].ns.tx_frames,
					(unsigned long long)mem[k].ns.steer_out,
					(unsigned long long)mem[k].ns.steer_in,
					(unsigned long long)mem[k].ns.steer_drops,
					(unsigned long long)mem[k].ns.arp_rx_request,
					(unsigned long long)mem[k].ns.arp_rx_reply,
					(unsigned long long)mem[k].ns.arp_tx_request,
					(unsigned long long)mem[k].ns.arp_tx_reply,
					(unsigned long long)mem[k].ns.arp_unresolved_drops,
					(unsigned long long)mem[k].ns.neigh_from_group,
					(unsigned long long)mem[k].ts.segs_in,
					(unsigned long long)mem[k].ts.segs_out,
					(unsigned long long)mem[k].ts.rst_in,
					(unsigned long long)mem[k].ts.rst_out,
					(unsigned long long)mem[k].ts.retrans_segs,
					(unsigned long long)mem[k].ts.syn_dropped_no_socket);
		cr_assert(!mem[i].failed, "%s", mem[i].why);
		cr_assert_eq(mem[i].bad_bytes, 0, "member %u: bytes out of place", i);
		ok += mem[i].conns_ok;
		accepted += mem[i].accepted;
		steer_out += mem[i].ns.steer_out;
		steer_in += mem[i].ns.steer_in;
		drops += mem[i].ns.steer_drops;
		from_group += mem[i].ns.neigh_from_group;
	}
	cr_assert_eq(ok, G_NQ * G_CONNS, "every connection echoed whole");
	cr_assert_eq(accepted, G_NQ * G_CONNS);
	cr_assert_gt(steer_out, 0, "segments were handed over");
	cr_assert_leq(steer_in, steer_out, "taken, or freed with a ring when its member left");
	cr_log_info("stack group: %u connections x %llu bytes echoed, %llu segments handed "
		    "over, %llu dropped, %llu neighbours from the group",
		    ok, (unsigned long long)G_BYTES, (unsigned long long)steer_out,
		    (unsigned long long)drops, (unsigned long long)from_group);
	gs_close(&A);
	gs_close(&B);
}
