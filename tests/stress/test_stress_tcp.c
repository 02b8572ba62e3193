/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Zero-copy tokens released by worker threads while the stack runs (the
 * ownership issue, finding 5): one thread polls two stacks wired back to
 * back and hands every token it receives to four workers, which check the
 * bytes it points at and release it, half of them naming the stack, half
 * not. At the end every counter is exact: no token out, every remote
 * release settled, nothing held by the socket, every page back.
 */
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "pn_net.h"
#include "pn_tcp.h"
#include "pn_test.h"

#ifndef PN_STRESS_OPS
#define PN_STRESS_OPS 10000000
#endif
#define ZC_TOKENS (PN_STRESS_OPS / 10)
#define ZC_WORKERS 4
#define ZC_ITEMS 4096

struct zc_item {
	uint64_t token;
	const uint8_t *base;
	uint32_t len;
	uint64_t off;
};

struct zc_world {
	struct pn_stack *st; /* the receiving stack */
	struct pn_ring *work, *free;
	_Atomic bool done;
	_Atomic uint64_t released, bad_bytes, failed;
};

static uint8_t zc_pattern(uint64_t off) { return (uint8_t)(off * 131 + (off >> 11)); }

static void *zc_worker(void *arg)
{
	struct zc_world *w = arg;
	struct zc_item *it;
	uint64_t n = 0;

	for (;;) {
		if (pn_ring_dequeue(w->work, (void **)&it) != 0) {
			if (atomic_load(&w->done) && pn_ring_count(w->work) == 0)
				break;
			/* idle: leave the core to the stack's thread (two cores) */
			nanosleep(&(struct timespec){ .tv_nsec = 20000 }, NULL);
			continue;
		}
		/* the bytes are the sender's until the token goes back */
		for (uint32_t k = 0; k < it->len; k++)
			if (it->base[k] != zc_pattern(it->off + k))
				atomic_fetch_add(&w->bad_bytes, 1);
		if (pn_tcp_zc_release((n++ & 1) ? w->st : NULL, it->token) != 0)
			atomic_fetch_add(&w->failed, 1);
		atomic_fetch_add(&w->released, 1);
		while (pn_ring_enqueue(w->free, it) != 0)
			sched_yield();
	}
	return NULL;
}

struct zc_side {
	struct pn_pool *pool;
	struct pn_port *port;
	struct pn_stack *st;
};

static void zc_side_open(struct zc_side *s, uint32_t ip)
{
	struct pn_pool_params pp = { .sz = sizeof(pp), .nr_pages = 8192, .numa_node = PN_NUMA_ANY,
				     .ring_size = 4096, .name = "zc-stress" };
	struct pn_port_conf pc = { .sz = sizeof(pc), .nb_queues = 1, .ring_size = 4096 };
	struct pn_stack_conf sc = { .sz = sizeof(sc), .ip = ip, .prefix_len = 24 };
	struct pn_tcp_conf tc = { .sz = sizeof(tc), .time_wait_ms = 10, .min_rto_ms = 20,
				  .rcvbuf = 1 << 20 };

	s->pool = pn_pool_create(&pp);
	cr_assert_not_null(s->pool);
	pc.pools[0] = s->pool;
	s->port = pn_port_open("loop", "pair=zcstress", &pc);
	cr_assert_not_null(s->port);
	cr_assert_eq(pn_port_start(s->port), 0);
	sc.port = s->port;
	sc.pool = s->pool;
	s->st = pn_stack_create(&sc);
	cr_assert_not_null(s->st);
	cr_assert_eq(pn_tcp_configure(s->st, &tc), 0);
}

static struct pn_tcp_sock *zc_accepted;

static void zc_listen_cb(struct pn_tcp_sock *l, unsigned ev, void *arg)
{
	struct pn_tcp_sock *s;

	(void)ev;
	(void)arg;
	while ((s = pn_tcp_accept(l)) != NULL)
		zc_accepted = s;
}

static void zc_nop_cb(struct pn_tcp_sock *s, unsigned ev, void *arg)
{
	(void)s;
	(void)ev;
	(void)arg;
}

Test(stress, zc_tokens_released_by_four_workers, .timeout = 1200)
{
	static struct zc_item items[ZC_ITEMS];
	struct zc_side a, b;
	struct zc_world w = { 0 };
	struct pn_tcp_sock *cl, *l;
	struct pn_tcp_stats tb;
	struct pn_tcp_info info;
	pthread_t t[ZC_WORKERS];
	uint64_t sent = 0, rcvd = 0, issued = 0;
	uint8_t chunk[64];

	zc_side_open(&a, 0x0a000001u);
	zc_side_open(&b, 0x0a000002u);
	w.st = b.st;
	w.work = pn_ring_create(ZC_ITEMS, 0);
	w.free = pn_ring_create(ZC_ITEMS, 0);
	for (unsigned i = 0; i < ZC_ITEMS; i++)
		pn_ring_enqueue(w.free, &items[i]);
	l = pn_tcp_listen(b.st, 9, 4, zc_listen_cb, NULL);
	cl = pn_tcp_connect(a.st, 0x0a000002u, 9, zc_nop_cb, NULL);
	cr_assert_not_null(l);
	cr_assert_not_null(cl);
	while (zc_accepted == NULL) {
		pn_stack_poll(a.st);
		pn_stack_poll(b.st);
	}
	for (int i = 0; i < ZC_WORKERS; i++)
		pthread_create(&t[i], NULL, zc_worker, &w);

	while (issued < ZC_TOKENS) {
		struct pn_zc_vec v[16];
		int n;

		/* small writes, each only once the last is on the wire: small
		 * segments (a token each), never coalesced; up to 16 a round */
		for (int k = 0; k < 16; k++) {
			struct pn_tcp_info ci;

			pn_tcp_info_get(cl, &ci);
			if (ci.snd_queued != ci.snd_nxt - ci.snd_una ||
			    pn_tcp_send_space(cl) < sizeof(chunk))
				break;
			for (unsigned j = 0; j < sizeof(chunk); j++)
				chunk[j] = zc_pattern(sent + j);
			cr_assert_eq(pn_tcp_send(cl, chunk, sizeof(chunk)), (ssize_t)sizeof(chunk));
			sent += sizeof(chunk);
		}
		pn_stack_poll(a.st);
		pn_stack_poll(b.st);
		while (pn_ring_count(w.free) >= 16 &&
		       (n = pn_tcp_recv_zc(zc_accepted, v, 16, NULL, 0)) > 0) {
			for (int i = 0; i < n; i++) {
				struct zc_item *it = NULL;

				cr_assert_neq(v[i].token, 0, "every byte by zero copy");
				/* the count includes slots a worker claimed and is
				 * still filling: wait for it to publish */
				while (pn_ring_dequeue(w.free, (void **)&it) != 0)
					sched_yield();
				*it = (struct zc_item){ v[i].token, v[i].base, v[i].len, rcvd };
				rcvd += v[i].len;
				issued++;
				while (pn_ring_enqueue(w.work, it) != 0)
					sched_yield();
			}
		}
	}
	atomic_store(&w.done, true);
	for (int i = 0; i < ZC_WORKERS; i++)
		pthread_join(t[i], NULL);
	/* one round settles what the workers gave back */
	pn_stack_poll(b.st);
	pn_tcp_stats_get(b.st, &tb);
	pn_tcp_info_get(zc_accepted, &info);
	cr_log_info("zc stress: %llu tokens, %llu bytes, %llu released on worker threads",
		    (unsigned long long)issued, (unsigned long long)rcvd,
		    (unsigned long long)tb.zc_released_remote);
	cr_assert_eq(atomic_load(&w.bad_bytes), 0, "bytes changed while a token held them");
	cr_assert_eq(atomic_load(&w.failed), 0, "a good token was refused");
	cr_assert_eq(atomic_load(&w.released), issued);
	cr_assert_eq(tb.zc_tokens_out, 0, "no token out");
	cr_assert_eq(tb.zc_released_remote, issued, "every remote release settled");
	cr_assert_eq(tb.zc_bad_tokens, 0);
	cr_assert_eq(info.zc_held, 0, "the socket holds nothing");
	cr_assert_eq(tb.zc_bytes, rcvd);

	pn_tcp_abort(cl);
	pn_tcp_abort(zc_accepted);
	pn_tcp_close(l);
	pn_stack_poll(a.st);
	pn_stack_poll(b.st);
	pn_stack_destroy(a.st);
	pn_stack_destroy(b.st);
	pn_port_stop(a.port);
	pn_port_stop(b.port);
	pn_port_close(a.port);
	pn_port_close(b.port);
	pn_ring_free(w.work);
	pn_ring_free(w.free);
	cr_assert_eq(pn_pool_destroy(a.pool), 0, "a: every page back");
	cr_assert_eq(pn_pool_destroy(b.pool), 0, "b: every page back");
}
