/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Concurrency suite: run as is and under ThreadSanitizer. Every test ends by
 * checking that each frame is accounted for and nothing is in flight.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "pn_test.h"

#ifndef PN_STRESS_OPS
#define PN_STRESS_OPS 10000000
#endif

struct xfer {
	struct pn_pool *pool;
	struct pn_ring *to_worker;
	_Atomic bool done;
	_Atomic uint64_t puts;
};

static void *remote_putter(void *arg)
{
	struct xfer *x = arg;
	struct pn_frame *batch[32];

	for (;;) {
		unsigned n = pn_ring_dequeue_burst(x->to_worker, (void **)batch, 32);

		if (n == 0) {
			if (atomic_load_explicit(&x->done, memory_order_acquire) &&
			    pn_ring_count(x->to_worker) == 0)
				break;
			sched_yield();
			continue;
		}
		for (unsigned i = 0; i < n; i++) {
			/* touch the page the way a consumer would */
			((volatile uint8_t *)pn_frame_addr(batch[i]))[0]++;
			if (i & 1)
				pn_frame_put(batch[i]);      /* generic destructor path */
			else
				pn_pool_put(x->pool, batch[i]);
		}
		atomic_fetch_add(&x->puts, n);
	}
	return NULL;
}

Test(stress, cross_thread_recycling_10M, .timeout = 900)
{
	struct pn_pool *p = test_pool(1024, 0, 256);
	struct pn_ring *q = pn_ring_create(512, PN_RING_F_SP_ENQ);
	struct xfer x = { .pool = p, .to_worker = q };
	uint64_t ops = 0, allocs = 0, local_puts = 0;
	struct pn_pool_stats_sum s;
	pthread_t w[2];

	cr_assert_not_null(q);
	for (int i = 0; i < 2; i++)
		pthread_create(&w[i], NULL, remote_putter, &x);
	while (ops < PN_STRESS_OPS) {
		struct pn_frame *f[16];

		if (pn_pool_alloc_bulk(p, f, 16) != 0) {
			sched_yield(); /* pool exhausted: the putters push back */
			continue;
		}
		allocs += 16;
		/* a quarter recycles on the owner, the rest crosses threads */
		pn_pool_put_bulk(p, f, 4);
		local_puts += 4;
		/* the other twelve go to the putters; wait for room, so that
		 * most puts really happen off the owner thread */
		unsigned sent = 0;

		for (int tries = 0; sent < 12 && tries < 64; tries++) {
			sent += pn_ring_enqueue_burst(q, (void **)(f + 4 + sent), 12 - sent);
			if (sent < 12)
				sched_yield();
		}
		for (unsigned i = 4 + sent; i < 16; i++) {
			pn_pool_put(p, f[i]);
			local_puts++;
		}
		ops += 32; /* 16 allocs + 16 puts */
	}
	atomic_store_explicit(&x.done, true, memory_order_release);
	for (int i = 0; i < 2; i++)
		pthread_join(w[i], NULL);

	cr_assert_eq(allocs, local_puts + x.puts, "every allocation was put once");
	pn_pool_get_stats(p, &s);
	cr_log_info("allocs %llu fast %llu refill %llu slow %llu cached %llu ring %llu ring_full %llu released %llu rate %.4f",
		    (unsigned long long)allocs, (unsigned long long)s.alloc_fast,
		    (unsigned long long)s.alloc_refill, (unsigned long long)s.alloc_slow,
		    (unsigned long long)s.recycle_cached, (unsigned long long)s.recycle_ring,
		    (unsigned long long)s.recycle_ring_full,
		    (unsigned long long)s.recycle_released_refcnt, pn_pool_recycle_rate(&s));
	cr_assert_eq(s.recycle_cached + s.recycle_ring + s.recycle_released_refcnt, allocs,
		     "each put recycled or released exactly once");
	cr_assert_gt(x.puts, allocs / 2, "most puts happened off the owner thread");
	cr_assert_gt(s.recycle_ring, 0, "remote puts reached the ring");
	test_assert_accounted(p);
	cr_assert_eq(pn_pool_inflight(p), 0);
	pn_ring_free(q);
	test_pool_destroy_clean(p);
}

/* Fragments and plain references dropped on other threads. */
struct frag_job {
	struct pn_ring *q;
	_Atomic bool done;
};

static void *frag_freer(void *arg)
{
	struct frag_job *j = arg;
	uint8_t *b;

	for (;;) {
		if (pn_ring_dequeue(j->q, (void **)&b) != 0) {
			if (atomic_load_explicit(&j->done, memory_order_acquire) &&
			    pn_ring_count(j->q) == 0)
				break;
			sched_yield();
			continue;
		}
		pn_pool_frag_free(pn_addr_to_frame(b), b);
	}
	return NULL;
}

Test(stress, fragments_and_refs_freed_across_threads, .timeout = 600)
{
	struct pn_pool *p = test_pool(256, 0, 256);
	struct frag_job j = { .q = pn_ring_create(1024, 0) };
	struct pn_pool_stats_sum s;
	pthread_t w[2];
	uint64_t n = PN_STRESS_OPS / 10;

	for (int i = 0; i < 2; i++)
		pthread_create(&w[i], NULL, frag_freer, &j);
	for (uint64_t i = 0; i < n; i++) {
		struct pn_frame *f;
		uint8_t *b = pn_pool_alloc_frag(p, 1024 + (uint32_t)(i % 3) * 512, &f);

		if (b == NULL) {
			sched_yield();
			continue;
		}
		b[0] = (uint8_t)i;
		if (i % 7 == 0) {
			/* an outside holder on this thread, dropped later */
			pn_frame_get(f);
			pn_frame_put(f);
		}
		if (i % 4 == 0 || pn_ring_enqueue(j.q, b) != 0)
			pn_pool_frag_free(f, b);
	}
	atomic_store_explicit(&j.done, true, memory_order_release);
	for (int i = 0; i < 2; i++)
		pthread_join(w[i], NULL);
	pn_pool_get_stats(p, &s);
	cr_log_info("frag pages recycled %llu released %llu",
		    (unsigned long long)(s.recycle_cached + s.recycle_ring),
		    (unsigned long long)s.recycle_released_refcnt);
	test_assert_accounted(p);
	cr_assert_eq(pn_pool_inflight(p), 0);
	pn_ring_free(j.q);
	test_pool_destroy_clean(p);
}

/* MPMC ring: two producers, two consumers, nothing lost or duplicated. */
struct ring_job {
	struct pn_ring *r;
	uintptr_t base;
	uint64_t n;
	_Atomic uint64_t *consumed;
	_Atomic uint64_t *sum;
	uint64_t total;
};

static void *ring_producer(void *arg)
{
	struct ring_job *j = arg;

	for (uint64_t i = 0; i < j->n;) {
		void *v[8];
		unsigned k = (unsigned)PN_MIN((uint64_t)8, j->n - i);

		for (unsigned m = 0; m < k; m++)
			v[m] = (void *)(j->base + i + m);
		unsigned sent = pn_ring_enqueue_burst(j->r, v, k);

		if (sent == 0)
			sched_yield();
		i += sent;
	}
	return NULL;
}

static void *ring_consumer(void *arg)
{
	struct ring_job *j = arg;

	while (atomic_load_explicit(j->consumed, memory_order_relaxed) < j->total) {
		void *v[8];
		unsigned got = pn_ring_dequeue_burst(j->r, v, 8);

		if (got == 0) {
			sched_yield();
			continue;
		}
		uint64_t sum = 0;

		for (unsigned m = 0; m < got; m++)
			sum += (uintptr_t)v[m];
		atomic_fetch_add(j->sum, sum);
		atomic_fetch_add(j->consumed, got);
	}
	return NULL;
}

Test(stress, ring_mpmc_loses_nothing, .timeout = 600)
{
	struct pn_ring *r = pn_ring_create(64, 0);
	_Atomic uint64_t consumed = 0, sum = 0;
	uint64_t n = PN_STRESS_OPS / 20;
	struct ring_job j[4];
	pthread_t t[4];
	uint64_t want = 0;

	for (int i = 0; i < 4; i++) {
		j[i] = (struct ring_job){ r, (uintptr_t)(i + 1) << 40, n, &consumed, &sum, 2 * n };
		pthread_create(&t[i], NULL, i < 2 ? ring_producer : ring_consumer, &j[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 2; i++)
		want += n * j[i].base + n * (n - 1) / 2;
	cr_assert_eq(consumed, 2 * n);
	cr_assert_eq(sum, want, "a value was lost or duplicated");
	pn_ring_free(r);
}

/* Destroy racing with puts on other threads, many times over. */
struct late_job {
	struct pn_frame **f;
	unsigned n;
	pthread_barrier_t *go;
};

static void *late_putter(void *arg)
{
	struct late_job *j = arg;

	pthread_barrier_wait(j->go);
	for (unsigned i = 0; i < j->n; i++)
		pn_frame_put(j->f[i]);
	return NULL;
}

Test(stress, destroy_races_late_puts, .timeout = 600)
{
	struct pn_region_params rp = { .len = 256 * PN_FRAME_SIZE, .numa_node = PN_NUMA_ANY };
	struct pn_region *r = pn_region_create(&rp);

	for (int iter = 0; iter < 300; iter++) {
		struct pn_pool_params pp = { .sz = sizeof(pp), .region = r,
					     .ring_size = 64, .numa_node = PN_NUMA_ANY };
		struct pn_pool *p = pn_pool_create(&pp);
		struct pn_frame *f[128];
		pthread_barrier_t go;
		struct late_job j[2];
		pthread_t t[2];

		cr_assert_not_null(p);
		cr_assert_eq(pn_pool_alloc_bulk(p, f, 128), 0);
		pthread_barrier_init(&go, NULL, 3);
		for (int i = 0; i < 2; i++) {
			j[i] = (struct late_job){ f + 64 * i, 64, &go };
			pthread_create(&t[i], NULL, late_putter, &j[i]);
		}
		pthread_barrier_wait(&go);
		pn_pool_destroy(p); /* races the putters; quiet when nothing is left */
		for (int i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&go);
		struct pn_region_info ri;

		pn_region_info(r, &ri);
		cr_assert_eq(ri.nr_free, ri.nr_frames, "iteration %d leaked", iter);
	}
	cr_assert_eq(pn_region_destroy(r), 0, "every pool freed itself");
}

/*
 * The page_pool fragment thread across threads: the original packet, its clone (head expanded)
 * and a plain page reference are dropped on three threads at once, many
 * times over. Every page must come back exactly once: the accounting
 * identity holds and nothing is in flight at the end.
 */
struct drop_job {
	struct pn_ring *q;
	int kind; /* 0: packets, 1: plain page references */
	_Atomic bool *done;
};

static void *dropper(void *arg)
{
	struct drop_job *j = arg;
	void *o;

	for (;;) {
		if (pn_ring_dequeue(j->q, &o) != 0) {
			if (atomic_load_explicit(j->done, memory_order_acquire) &&
			    pn_ring_count(j->q) == 0)
				return NULL;
			sched_yield();
			continue;
		}
		if (j->kind == 0)
			pn_pkt_free(o);
		else
			pn_frame_put(o);
	}
}

static void send_to(struct pn_ring *q, void *o)
{
	while (pn_ring_enqueue(q, o) != 0)
		sched_yield();
}

Test(stress, seed001_holders_drop_on_three_threads, .timeout = 600)
{
	/* the queues bound what is in flight: 256 rounds of about two pages */
	struct pn_pool *p = test_pool(4096, 0, 1024);
	_Atomic bool done = false;
	struct drop_job j[3];
	pthread_t t[3];
	unsigned n = (unsigned)(PN_STRESS_OPS / 200);

	for (int i = 0; i < 3; i++) {
		j[i] = (struct drop_job){ pn_ring_create(256, PN_RING_F_SP_ENQ | PN_RING_F_SC_DEQ),
					  i == 2, &done };
		pthread_create(&t[i], NULL, dropper, &j[i]);
	}
	for (unsigned i = 0; i < n; i++) {
		struct pn_pkt *orig = pn_pkt_alloc(p), *clone;
		struct pn_frame *pg;
		uint8_t *frag;

		cr_assert_not_null(orig);
		memcpy(pn_pkt_append(orig, 4), "HEAD", 4);
		frag = pn_pool_alloc_frag(p, 1024, &pg);
		cr_assert_not_null(frag);
		frag[0] = (uint8_t)i;
		pn_pkt_add_frag(orig, pg, (uint32_t)(frag - pg->addr), 1024, PN_PKT_FRAG_SHARE);
		clone = pn_pkt_clone(orig);
		cr_assert_not_null(clone);
		cr_assert_eq(pn_pkt_expand_head(clone, 256, 0), 0);
		pn_frame_get(pg);
		send_to(j[i % 2].q, orig);
		send_to(j[(i + 1) % 2].q, clone);
		send_to(j[2].q, pg);
	}
	atomic_store_explicit(&done, true, memory_order_release);
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		pn_ring_free(j[i].q);
	}
	test_assert_accounted(p);
	cr_assert_eq(pn_pool_inflight(p), 0, "a page leaked or came back twice");
	test_pool_destroy_clean(p);
}

/*
 * Ports: a loop pair with the sender on one thread and the receiver on
 * another, two queues each: every packet arrives once, intact, and every page
 * is back in the pool after close.
 */
#include "pn_port.h"

struct port_job {
	struct pn_port *port;
	struct pn_pool *pool; /* sender: allocates from it (its owner) */
	uint16_t q;
	uint64_t count;
	uint64_t got, bad;
};

static void *port_sender(void *arg)
{
	struct port_job *j = arg;
	struct pn_pkt *pkts[32];
	uint64_t seq = 0;

	pn_pool_set_owner(j->pool, pn_thread_id());
	while (seq < j->count) {
		uint16_t n = 0, sent;

		while (n < 32 && seq + n < j->count) {
			struct pn_pkt *p = pn_pkt_alloc(j->pool);
			uint64_t v = seq + n;

			if (p == NULL)
				break; /* pool empty: the receiver frees, try again */
			memcpy(pn_pkt_append(p, sizeof(v)), &v, sizeof(v));
			pkts[n++] = p;
		}
		sent = pn_port_tx_burst(j->port, j->q, pkts, n);
		for (uint16_t i = sent; i < n; i++)
			pn_pkt_free(pkts[i]);
		seq += sent;
	}
	return NULL;
}

static void *port_receiver(void *arg)
{
	struct port_job *j = arg;
	struct pn_pkt *pkts[32];

	while (j->got < j->count) {
		uint16_t n = pn_port_rx_burst(j->port, j->q, pkts, 32);

		for (uint16_t i = 0; i < n; i++) {
			uint64_t v;

			memcpy(&v, pn_pkt_data(pkts[i]), sizeof(v));
			j->bad += v != j->got;
			j->got++;
			pn_pkt_free(pkts[i]);
		}
	}
	return NULL;
}

Test(stress, loop_ports_across_threads, .timeout = 600)
{
	struct pn_pool *pools[2] = { test_pool(256, 0, 0), test_pool(256, 0, 0) };
	struct pn_port_conf c = { .sz = sizeof(c), .nb_queues = 2, .ring_size = 256,
				  .pools = { pools[0], pools[1] } };
	struct pn_port *a = pn_port_open("loop", "pair=stress", &c);
	struct pn_port *b = pn_port_open("loop", "pair=stress", &c);
	struct port_job j[4];
	pthread_t t[4];

	cr_assert_not_null(a);
	cr_assert_not_null(b);
	pn_port_start(a);
	pn_port_start(b);
	for (int i = 0; i < 4; i++) {
		j[i] = (struct port_job){ .port = i < 2 ? a : b, .pool = pools[i % 2],
					  .q = (uint16_t)(i % 2), .count = 200000 };
		pthread_create(&t[i], NULL, i < 2 ? port_sender : port_receiver, &j[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	for (int i = 2; i < 4; i++) {
		cr_assert_eq(j[i].got, 200000);
		cr_assert_eq(j[i].bad, 0, "packets arrive once and in order per queue");
	}
	pn_port_close(a);
	pn_port_close(b);
	for (int i = 0; i < 2; i++) {
		pn_pool_set_owner(pools[i], pn_thread_id());
		test_assert_accounted(pools[i]);
		test_pool_destroy_clean(pools[i]);
	}
}

/*
 * Accounting: two threads charge pages of their own accounted pools to two
 * sibling groups under a parent with a max; two other threads, which never
 * charge, do the final puts, so every uncharge runs through the POOL
 * destructor on a thread that did not charge. Afterwards every group is at 0
 * and every stock is empty.
 */
#include "pn_acct.h"

struct acct_job {
	struct pn_pool *pool;
	struct pn_acct_group *group;
	struct pn_ring *out;
	uint64_t count;
	uint64_t refused;
	_Atomic bool *done;
};

static void *acct_charger(void *arg)
{
	struct acct_job *j = arg;

	pn_pool_set_owner(j->pool, pn_thread_id());
	for (uint64_t i = 0; i < j->count; i++) {
		struct pn_frame *f;

		while ((f = pn_pool_alloc(j->pool)) == NULL)
			sched_yield(); /* the putters have them; wait */
		if (pn_pool_charge(f, j->group, (i & 1) ? PN_ACCT_ZC : PN_ACCT_QUEUED) != 0)
			j->refused++; /* over the max: still handed on, uncharged */
		while (pn_ring_enqueue(j->out, f) != 0)
			sched_yield();
	}
	return NULL;
}

static void *acct_putter(void *arg)
{
	struct acct_job *j = arg;
	void *objs[32];

	for (;;) {
		unsigned n = pn_ring_dequeue_burst(j->out, objs, 32);

		for (unsigned i = 0; i < n; i++)
			pn_frame_put(objs[i]);
		if (n == 0) {
			if (atomic_load(j->done) && pn_ring_count(j->out) == 0)
				break;
			sched_yield();
		}
	}
	return NULL;
}

/* Samples `current` while others charge: it must never read above max. */
struct max_watch {
	struct pn_acct_group *g;
	_Atomic bool *done;
	uint64_t samples, over;
};

static void *watch_max(void *arg)
{
	struct max_watch *w = arg;

	while (!atomic_load(w->done)) {
		w->over += pn_acct_current(w->g) > pn_acct_max(w->g);
		w->samples++;
	}
	return NULL;
}

Test(stress, accounting_charges_and_remote_uncharges, .timeout = 600)
{
	struct pn_acct_group *parent = pn_acct_group_create(NULL, "stress");
	struct pn_acct_group *kids[2] = { pn_acct_group_create(parent, "a"),
					  pn_acct_group_create(parent, "b") };
	_Atomic bool done = false;
	struct acct_job j[2];
	pthread_t t[4];
	uint64_t per = PN_STRESS_OPS / 20;

	cr_assert_not_null(kids[0]);
	cr_assert_not_null(kids[1]);
	/* tight enough that charges are refused now and then */
	pn_acct_set_max(parent, 1200);
	for (int i = 0; i < 2; i++) {
		struct pn_pool_params pp = {
			.sz = sizeof(pp), .flags = PN_POOL_F_ACCOUNTED, .nr_pages = 1024,
			.numa_node = PN_NUMA_ANY, .name = "acct-stress",
		};

		j[i] = (struct acct_job){ .pool = pn_pool_create(&pp), .group = kids[i],
					  .out = pn_ring_create(1024, 0), .count = per,
					  .done = &done };
		cr_assert_not_null(j[i].pool);
	}
	struct max_watch mw = { .g = parent, .done = &done };
	pthread_t wt;

	pthread_create(&wt, NULL, watch_max, &mw);
	for (int i = 0; i < 2; i++) {
		pthread_create(&t[i], NULL, acct_charger, &j[i]);
		pthread_create(&t[2 + i], NULL, acct_putter, &j[i]);
	}
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	atomic_store(&done, true);
	pthread_join(t[2], NULL);
	pthread_join(t[3], NULL);
	pthread_join(wt, NULL);
	cr_assert_eq(mw.over, 0, "current read above max %llu times in %llu samples",
		     (unsigned long long)mw.over, (unsigned long long)mw.samples);

	pn_acct_drain_all();
	cr_assert_eq(pn_acct_stocked(), 0, "stocks drained");
	cr_assert_eq(pn_acct_current(kids[0]), 0);
	cr_assert_eq(pn_acct_current(kids[1]), 0);
	cr_assert_eq(pn_acct_current(parent), 0);
	cr_assert_eq(pn_acct_current(pn_acct_root()), 0);
	cr_assert(pn_acct_peak(parent) <= 1200, "the max held: peak %lld",
		  (long long)pn_acct_peak(parent));
	cr_log_info("acct stress: %llu charges, %llu refused at the max, peak %lld",
		    (unsigned long long)(2 * per),
		    (unsigned long long)(j[0].refused + j[1].refused),
		    (long long)pn_acct_peak(parent));
	for (int i = 0; i < 2; i++) {
		struct pn_acct_stat st;

		pn_acct_stat(kids[i], &st);
		cr_assert_eq(st.zc_pages + st.queued_pages + st.other_pages, 0);
		pn_pool_set_owner(j[i].pool, pn_thread_id());
		test_assert_accounted(j[i].pool);
		test_pool_destroy_clean(j[i].pool);
		pn_ring_free(j[i].out);
		cr_assert_eq(pn_acct_group_destroy(kids[i]), 0);
	}
	cr_assert_eq(pn_acct_group_destroy(parent), 0);
}

/*
 * memory.max lowered while four threads charge and uncharge single pages:
 * once pn_acct_set_max() has returned, no charge may succeed while the
 * pages really held plus the new one pass the max. The pages held are
 * counted in one atomic (a charge counts after it succeeds, an uncharge
 * before it begins: at every instant a lower bound; per-thread counts
 * summed at different instants are not). The per-thread stocks held pages
 * uncharged a moment before and served charges from them unchecked.
 */
#define LOWER_THREADS 4
#define LOWER_MAX 20

struct lowerer {
	struct pn_acct_group *g;
	_Atomic int64_t held[LOWER_THREADS]; /* each thread's own, for the report */
	_Atomic int64_t total;
	_Atomic bool lowered, stop;
	_Atomic uint64_t after, violations, worst;
};

struct lower_arg {
	struct lowerer *l;
	unsigned me;
};

static void *lower_worker(void *arg)
{
	struct lower_arg *a = arg;
	struct lowerer *l = a->l;
	uint64_t x = 0x9e3779b97f4a7c15ull * (a->me + 1);
	int64_t mine = 0;

	while (!atomic_load(&l->stop)) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		if (mine > 0 && (x % 100 < 45 || mine >= 64)) {
			atomic_fetch_sub(&l->total, 1); /* before it is given back */
			atomic_store(&l->held[a->me], --mine);
			pn_acct_uncharge(l->g, 1, PN_ACCT_ZC);
			continue;
		}
		bool lowered = atomic_load(&l->lowered);

		if (pn_acct_charge(l->g, 1, PN_ACCT_ZC) != 0)
			continue;
		atomic_store(&l->held[a->me], ++mine);
		int64_t sum = atomic_fetch_add(&l->total, 1) + 1;

		if (lowered) {
			atomic_fetch_add(&l->after, 1);
			if (sum > LOWER_MAX) {
				atomic_fetch_add(&l->violations, 1);
				if ((uint64_t)sum > atomic_load(&l->worst))
					atomic_store(&l->worst, (uint64_t)sum);
			}
		}
	}
	while (mine > 0) {
		atomic_fetch_sub(&l->total, 1);
		atomic_store(&l->held[a->me], --mine);
		pn_acct_uncharge(l->g, 1, PN_ACCT_ZC);
	}
	return NULL;
}

Test(stress, accounting_max_lowered_under_load_binds_at_once, .timeout = 120)
{
	static struct lowerer l;
	struct lower_arg args[LOWER_THREADS];
	pthread_t t[LOWER_THREADS];
	int64_t held = 0;

	memset(&l, 0, sizeof(l));
	l.g = pn_acct_group_create(NULL, "lowered-under-load");
	cr_assert_not_null(l.g);
	for (unsigned i = 0; i < LOWER_THREADS; i++) {
		args[i] = (struct lower_arg){ .l = &l, .me = i };
		pthread_create(&t[i], NULL, lower_worker, &args[i]);
	}
	usleep(100 * 1000); /* unlimited: the stocks fill */
	cr_assert_eq(pn_acct_set_max(l.g, LOWER_MAX), 0);
	atomic_store(&l.lowered, true);
	usleep(500 * 1000);
	/* what the threads hold now, with charges still going on */
	for (unsigned i = 0; i < LOWER_THREADS; i++)
		held += atomic_load(&l.held[i]);
	atomic_store(&l.stop, true);
	for (unsigned i = 0; i < LOWER_THREADS; i++)
		pthread_join(t[i], NULL);
	cr_log_info("max lowered under load: %llu charges after, %llu over the max (worst %llu held)",
		    (unsigned long long)atomic_load(&l.after),
		    (unsigned long long)atomic_load(&l.violations),
		    (unsigned long long)atomic_load(&l.worst));
	cr_assert_gt(atomic_load(&l.after), 0, "no charge succeeded after the max was lowered");
	cr_assert_eq(atomic_load(&l.violations), 0,
		     "%llu charges succeeded with more than %d pages held (worst %llu)",
		     (unsigned long long)atomic_load(&l.violations), LOWER_MAX,
		     (unsigned long long)atomic_load(&l.worst));
	cr_assert_leq(held, LOWER_MAX, "%lld pages held 0.5 s after the max was lowered",
		      (long long)held);
	pn_acct_drain_all();
	cr_assert_eq(pn_acct_current(l.g), 0);
	cr_assert_eq(pn_acct_group_destroy(l.g), 0);
}

/* Readers that do not own groups (telemetry) walk them while another thread
 * creates and destroys groups: nothing is read after it is freed. */
static _Atomic bool churn_done;

static int read_group(struct pn_acct_group *g, void *arg)
{
	struct pn_acct_events ev;
	struct pn_acct_stat st;
	char path[128];

	pn_acct_path(g, path, sizeof(path));
	pn_acct_events(g, &ev);
	pn_acct_stat(g, &st);
	*(uint64_t *)arg += (uint64_t)pn_acct_current(g) + ev.max + (uint64_t)strlen(path);
	return 0;
}

static void *group_reader(void *arg)
{
	uint64_t sink = 0;

	while (!atomic_load(&churn_done)) {
		pn_acct_foreach(read_group, &sink);
		sched_yield(); /* let the churning thread at the tree lock */
	}
	*(uint64_t *)arg = sink;
	return NULL;
}

Test(stress, groups_destroyed_while_read, .timeout = 300)
{
	pthread_t t;
	uint64_t sink = 0;

	atomic_store(&churn_done, false);
	pthread_create(&t, NULL, group_reader, &sink);
	for (int i = 0; i < 3000; i++) {
		struct pn_acct_group *p = pn_acct_group_create(NULL, "churn");
		struct pn_acct_group *c = pn_acct_group_create(p, "child");

		cr_assert_not_null(p);
		cr_assert_not_null(c);
		cr_assert_eq(pn_acct_charge(c, 1, PN_ACCT_ZC), 0);
		pn_acct_uncharge(c, 1, PN_ACCT_ZC);
		cr_assert_eq(pn_acct_group_destroy(c), 0);
		cr_assert_eq(pn_acct_group_destroy(p), 0);
	}
	atomic_store(&churn_done, true);
	pthread_join(t, NULL);
	pn_acct_drain_all();
	cr_assert_eq(pn_acct_current(pn_acct_root()), 0);
}

/* The same for pools and ports: telemetry-style readers walk them while
 * another thread creates, opens, closes and destroys them. */
static int read_pool(struct pn_pool *p, void *arg)
{
	struct pn_pool_stats_sum s;
	struct pn_pool_info info;

	pn_pool_info(p, &info);
	pn_pool_get_stats(p, &s);
	*(uint64_t *)arg += s.alloc_fast + (uint64_t)strlen(info.name);
	return 0;
}

static int read_port(struct pn_port *port, void *arg)
{
	struct pn_port_stats st;
	struct pn_port_info info;

	pn_port_info_get(port, &info);
	pn_port_stats_get(port, &st);
	*(uint64_t *)arg += st.ipackets + (uint64_t)strlen(info.name);
	return 0;
}

static void *object_reader(void *arg)
{
	uint64_t sink = 0;

	while (!atomic_load(&churn_done)) {
		pn_pool_foreach(read_pool, &sink);
		pn_port_foreach(read_port, &sink);
		sched_yield();
	}
	*(uint64_t *)arg = sink;
	return NULL;
}

Test(stress, pools_and_ports_closed_while_read, .timeout = 300)
{
	pthread_t t;
	uint64_t sink = 0;

	atomic_store(&churn_done, false);
	pthread_create(&t, NULL, object_reader, &sink);
	for (int i = 0; i < 100; i++) {
		struct pn_pool *p = test_pool(16, 0, 0);
		struct pn_port_conf c = { .sz = sizeof(c), .nb_queues = 1, .pools = { p } };
		struct pn_port *a = pn_port_open("loop", "pair=churn", &c);
		struct pn_port *b = pn_port_open("loop", "pair=churn", &c);
		struct pn_pkt *pkt = pn_pkt_alloc(p);

		cr_assert_not_null(a);
		cr_assert_not_null(b);
		pn_port_start(a);
		pn_port_start(b);
		cr_assert_eq(pn_port_tx_burst(a, 0, &pkt, 1), 1);
		pn_port_close(a);
		pn_port_close(b);
		test_pool_destroy_clean(p);
	}
	atomic_store(&churn_done, true);
	pthread_join(t, NULL);
}

/* The holder registry from four threads at once: ids register and go
 * while a fifth thread describes them; no id is ever held by two
 * registrations at once (each thread marks what it holds). */
static _Atomic uint8_t holder_owner[PN_HOLDER_MAX];
static _Atomic bool holders_done;

static void *holder_churn(void *arg)
{
	uint8_t me = (uint8_t)(uintptr_t)arg;
	uint32_t held[64] = { 0 };

	for (int i = 0; i < 200000; i++) {
		unsigned k = (unsigned)i % 64;

		if (held[k]) {
			uint8_t was = atomic_exchange(&holder_owner[held[k]], 0);

			cr_assert_eq(was, me, "id %u held by thread %u, not %u", held[k], was, me);
			pn_holder_unregister(held[k]);
			held[k] = 0;
		}
		held[k] = pn_holder_register("thread %u slot %u", me, k);
		if (held[k]) {
			uint8_t was = atomic_exchange(&holder_owner[held[k]], me);

			cr_assert_eq(was, 0, "id %u handed to thread %u while thread %u held it",
				     held[k], me, was);
		}
	}
	for (unsigned k = 0; k < 64; k++)
		if (held[k]) {
			atomic_store(&holder_owner[held[k]], 0);
			pn_holder_unregister(held[k]);
		}
	return NULL;
}

static void *holder_reader(void *arg)
{
	char buf[160];

	(void)arg;
	while (!atomic_load(&holders_done))
		for (uint32_t id = 1; id < 512; id++)
			pn_holder_describe(PN_HOLDER(id, PN_VIA_QUEUE), buf, sizeof(buf));
	return NULL;
}

Test(stress, holder_registry_from_four_threads, .timeout = 600)
{
	pthread_t t[5];

	for (uintptr_t i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, holder_churn, (void *)(i + 1));
	pthread_create(&t[4], NULL, holder_reader, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	atomic_store(&holders_done, true);
	pthread_join(t[4], NULL);
}
