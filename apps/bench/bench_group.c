/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pagenet-bench group: what a stack group costs and gives, measured in one
 * process with pagenet at both ends (no kernel, no namespace).
 *
 * Two groups of two stacks (A: clients 10.0.0.1, B: servers 10.0.0.2) on a
 * two-queue loop pair: queue q of A delivers to member q of B and back, as
 * a NIC's queue does, whoever owns the flow. Flows stream 1,448-byte
 * segments from A to B (copying recv at B).
 *
 *   tcp_segment_handed_over  flows whose segments land on the member that
 *                            does not own them, both ways (data at B, ACKs
 *                            at A), against flows that land on their owner;
 *                            one thread polls all four stacks
 *   tcp_two_threads          every flow, two threads (each polls member q
 *                            of both groups) against one thread polling
 *                            all four; 0.5 would be perfect scaling
 *
 * Rows report ns per segment received; the ratio is the claim.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "pn_app.h"
#include "pn_net.h"
#include "pn_pool.h"
#include "pn_port.h"
#include "pn_tcp.h"
#include "pn_thread.h"

#define GQ 2
#define GB_FLOWS_PER 8 /* per (A member, B owner) pair kept */
#define GB_MSS 1448
#define GB_IP_A 0x0a000001u
#define GB_IP_B 0x0a000002u

struct gb_side {
	struct pn_stack_group *g;
	struct pn_pool *pool[GQ];
	struct pn_port *port;
	struct pn_stack *st[GQ];
};

struct gb_flow {
	struct pn_tcp_sock *c, *s;
	unsigned aq, bq; /* A's member that sends, B's member that owns */
	uint64_t want, sent, rcvd;
};

struct gb {
	struct gb_side a, b;
	struct pn_tcp_sock *l[GQ];
	struct gb_flow flows[GQ * GQ * GB_FLOWS_PER];
	unsigned nflows;
	/* one run */
	struct gb_flow *run[GQ * GQ * GB_FLOWS_PER];
	unsigned nrun, threads;
	_Atomic(unsigned) done;
};

static uint8_t gb_buf[2][65536];

static int gb_side_open(struct gb_side *s, uint32_t ip)
{
	struct pn_port_conf pc = { .sz = sizeof(pc), .nb_queues = GQ, .ring_size = 4096 };

	s->g = pn_stack_group_create(&(struct pn_stack_group_conf){
		.sz = sizeof(struct pn_stack_group_conf), .nb_stacks = GQ });
	if (s->g == NULL)
		return -1;
	for (unsigned q = 0; q < GQ; q++) {
		s->pool[q] = pn_pool_create(&(struct pn_pool_params){
			.sz = sizeof(struct pn_pool_params), .nr_pages = 16384, .ring_size = 4096,
			.numa_node = PN_NUMA_ANY, .name = "bench-group" });
		if (s->pool[q] == NULL)
			return -1;
		pc.pools[q] = s->pool[q];
	}
	s->port = pn_port_open("loop", "pair=benchgroup", &pc);
	if (s->port == NULL || pn_port_start(s->port) != 0)
		return -1;
	for (unsigned q = 0; q < GQ; q++) {
		s->st[q] = pn_stack_create(&(struct pn_stack_conf){
			.sz = sizeof(struct pn_stack_conf), .port = s->port, .queue = (uint16_t)q,
			.pool = s->pool[q], .ip = ip, .prefix_len = 24, .group = s->g });
		if (s->st[q] == NULL ||
		    pn_tcp_configure(s->st[q], &(struct pn_tcp_conf){
			    .sz = sizeof(struct pn_tcp_conf), .rcvbuf = 1u << 20,
			    .sndbuf = 1u << 20 }) != 0)
			return -1;
	}
	return 0;
}

/* Both sides at once: each holds the other's packets (the loop driver hands
 * them over as they are), so every stack and port goes before any pool. */
static void gb_close(struct gb *g)
{
	struct gb_side *side[2] = { &g->a, &g->b };

	for (unsigned k = 0; k < 2; k++)
		for (unsigned q = 0; q < GQ; q++)
			pn_stack_destroy(side[k]->st[q]);
	for (unsigned k = 0; k < 2; k++)
		if (side[k]->port) {
			pn_port_stop(side[k]->port);
			pn_port_close(side[k]->port);
		}
	for (unsigned k = 0; k < 2; k++) {
		pn_stack_group_destroy(side[k]->g);
		for (unsigned q = 0; q < GQ; q++)
			if (side[k]->pool[q] && pn_pool_destroy(side[k]->pool[q]) != 0)
				fprintf(stderr, "pagenet-bench group: pages still out of a pool\n");
	}
}

static void gb_poll(struct gb *g, unsigned q)
{
	pn_stack_poll(g->a.st[q]);
	pn_stack_poll(g->b.st[q]);
}

static void gb_own(struct gb *g, unsigned q, int tid)
{
	if (g->a.pool[q])
		pn_pool_set_owner(g->a.pool[q], tid);
	if (g->b.pool[q])
		pn_pool_set_owner(g->b.pool[q], tid);
}

/* Send and receive for the flows whose ends live on member @p q. */
static void gb_work(struct gb *g, unsigned q, uint8_t *buf)
{
	for (unsigned i = 0; i < g->nrun; i++) {
		struct gb_flow *f = g->run[i];
		ssize_t n;

		if (g->threads == 1 || f->aq == q) {
			if (f->sent < f->want) {
				n = pn_tcp_send(f->c, buf, (size_t)PN_MIN(f->want - f->sent,
									 (uint64_t)sizeof(gb_buf[0])));
				if (n > 0)
					f->sent += (uint64_t)n;
			}
		}
		if (g->threads == 1 || f->bq == q) {
			bool was = f->rcvd >= f->want;

			while ((n = pn_tcp_recv(f->s, buf, sizeof(gb_buf[0]))) > 0)
				f->rcvd += (uint64_t)n;
			if (!was && f->rcvd >= f->want)
				atomic_fetch_add(&g->done, 1);
		}
	}
}

struct gb_thread {
	struct gb *g;
	unsigned q;
};

static void *gb_thread_main(void *arg)
{
	struct gb_thread *t = arg;

	pn_app_pin_nth(t->q);
	gb_own(t->g, t->q, pn_thread_id());
	while (atomic_load_explicit(&t->g->done, memory_order_relaxed) < t->g->nrun && !bench_stopped()) {
		gb_poll(t->g, t->q);
		gb_work(t->g, t->q, gb_buf[t->q]);
	}
	return NULL;
}

/* ns per segment received over the flows in g->run */
static double gb_measure(struct gb *g, unsigned threads, uint64_t segs)
{
	uint64_t per = segs * GB_MSS / g->nrun, t0;
	pthread_t th[GQ];
	struct gb_thread arg[GQ];

	for (unsigned i = 0; i < g->nrun; i++) {
		g->run[i]->want = g->run[i]->sent + per;
		g->run[i]->rcvd = g->run[i]->sent; /* every earlier byte arrived */
	}
	atomic_store(&g->done, 0);
	g->threads = threads;
	t0 = now_ns();
	if (threads == 1) {
		for (unsigned q = 0; q < GQ; q++)
			gb_own(g, q, pn_thread_id());
		while (atomic_load(&g->done) < g->nrun && !bench_stopped()) {
			for (unsigned q = 0; q < GQ; q++)
				gb_poll(g, q);
			gb_work(g, 0, gb_buf[0]);
		}
	} else {
		for (unsigned q = 0; q < GQ; q++) {
			arg[q] = (struct gb_thread){ g, q };
			pthread_create(&th[q], NULL, gb_thread_main, &arg[q]);
		}
		for (unsigned q = 0; q < GQ; q++)
			pthread_join(th[q], NULL);
		for (unsigned q = 0; q < GQ; q++)
			gb_own(g, q, pn_thread_id());
	}
	return (double)(now_ns() - t0) / (double)(per * g->nrun / GB_MSS);
}

static void gb_select(struct gb *g, int kind)
{
	g->nrun = 0;
	for (unsigned i = 0; i < g->nflows; i++) {
		struct gb_flow *f = &g->flows[i];

		/* the one-thread rows use flows sent from member 0 only */
		if (kind == 2 || (f->aq == 0 && (kind == 1) == (f->bq != f->aq)))
			g->run[g->nrun++] = f;
	}
}

static struct gb *gb_ctx;
static uint64_t gb_segs;

static double gb_handed(void *ctx, uint64_t n)
{
	(void)ctx;
	gb_select(gb_ctx, 1);
	return gb_measure(gb_ctx, 1, n);
}

static double gb_direct(void *ctx, uint64_t n)
{
	(void)ctx;
	gb_select(gb_ctx, 0);
	return gb_measure(gb_ctx, 1, n);
}

static double gb_two(void *ctx, uint64_t n)
{
	(void)ctx;
	gb_select(gb_ctx, 2);
	return gb_measure(gb_ctx, GQ, n);
}

static double gb_one(void *ctx, uint64_t n)
{
	(void)ctx;
	gb_select(gb_ctx, 2);
	return gb_measure(gb_ctx, 1, n);
}

/* Connections from each A member until every (A member, B owner) pair has
 * GB_FLOWS_PER of them; the rest are closed. */
static int gb_connect(struct gb *g)
{
	struct pn_addr a = pn_addr_v4(GB_IP_A), b = pn_addr_v4(GB_IP_B);
	unsigned have[GQ][GQ] = { { 0 } };

	for (unsigned q = 0; q < GQ; q++) {
		g->l[q] = pn_tcp_listen(g->b.st[q], 5001, 256, NULL, NULL);
		if (g->l[q] == NULL)
			return -1;
	}
	for (unsigned tries = 0; g->nflows < PN_DIM(g->flows) && tries < 1000; tries++) {
		unsigned aq = tries % GQ, bq;
		struct pn_tcp_sock *c = pn_tcp_connect(g->a.st[aq], GB_IP_B, 5001, NULL, NULL);
		struct pn_tcp_info i;

		if (c == NULL)
			return -1;
		pn_tcp_info_get(c, &i);
		bq = pn_stack_group_owner(g->b.g, &a, &b, i.local_port, 5001);
		if (have[aq][bq] == GB_FLOWS_PER) {
			pn_tcp_abort(c);
			continue;
		}
		have[aq][bq]++;
		g->flows[g->nflows++] = (struct gb_flow){ .c = c, .aq = aq, .bq = bq };
		for (unsigned r = 0; r < 8; r++) /* a neighbour holds 8 frames */
			for (unsigned q = 0; q < GQ; q++)
				gb_poll(g, q);
	}
	/* accepted: match each server socket to its client by port */
	for (unsigned r = 0; r < 100000; r++) {
		unsigned matched = 0;

		for (unsigned q = 0; q < GQ; q++) {
			struct pn_tcp_sock *s;

			gb_poll(g, q);
			while ((s = pn_tcp_accept(g->l[q])) != NULL) {
				struct pn_tcp_info si, ci;
				bool mine = false;

				pn_tcp_info_get(s, &si);
				for (unsigned k = 0; k < g->nflows && !mine; k++) {
					pn_tcp_info_get(g->flows[k].c, &ci);
					if (ci.local_port == si.peer_port && g->flows[k].s == NULL) {
						g->flows[k].s = s;
						mine = true;
					}
				}
				if (!mine)
					pn_tcp_abort(s); /* one we aborted on our side */
			}
		}
		for (unsigned k = 0; k < g->nflows; k++)
			matched += g->flows[k].s != NULL;
		if (matched == g->nflows)
			return 0;
	}
	return -1;
}

int bench_group(void)
{
	struct gb *g = calloc(1, sizeof(*g));
	int rc = 1;

	if (g == NULL)
		return 1;
	gb_ctx = g;
	/* --iters counts pool operations elsewhere: here a tenth of it in segments */
	gb_segs = opt.iters / 10 < 2000 ? 2000 : opt.iters / 10;
	if (gb_side_open(&g->a, GB_IP_A) != 0 || gb_side_open(&g->b, GB_IP_B) != 0 ||
	    gb_connect(g) != 0) {
		fprintf(stderr, "pagenet-bench group: setup failed\n");
		goto out;
	}
	run_row("tcp_segment_handed_over", "delivered to its owner", gb_handed, NULL, gb_direct,
		NULL, gb_segs, "segment");
	run_row("tcp_two_threads", "one thread", gb_two, NULL, gb_one, NULL, gb_segs, "segment");
	rc = 0;
out:
	for (unsigned k = 0; k < g->nflows; k++) {
		pn_tcp_abort(g->flows[k].c);
		if (g->flows[k].s)
			pn_tcp_abort(g->flows[k].s);
	}
	for (unsigned q = 0; q < GQ; q++)
		if (g->l[q])
			pn_tcp_close(g->l[q]);
	for (unsigned q = 0; q < GQ; q++)
		gb_own(g, q, pn_thread_id());
	for (unsigned r = 0; r < 100 && g->b.st[GQ - 1]; r++) /* the resets go out */
		for (unsigned q = 0; q < GQ; q++)
			gb_poll(g, q);
	gb_close(g);
	free(g);
	return rc;
}
