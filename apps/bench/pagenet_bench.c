/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pagenet-bench: side-by-side micro-benchmarks of pagenet against its
 * anchors, measured in the same run (the machine is shared and noisy, so only
 * ratios are meaningful). Each row interleaves rounds of ours and the anchor
 * and reports the median of each.
 *
 *   pagenet-bench pool [--json] [--rounds N] [--iters N] [--quick]
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <errno.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ip.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "bench.h"
#include "pn_app.h"
#include "pn_csum.h"
#include "pn_pkt.h"
#include "pn_pool.h"

#define MAX_ROUNDS 31
#define DPDK_CACHE 256

struct opts opt = { .rounds = 9, .iters = 2000000, .procs = 5 };

/* Ctrl-C (pn_app_stop): finish the round in progress, skip the rest, clean up. */

bool bench_stopped(void)
{
	return pn_app_stop;
}

void bench_flush(void)
{
	pn_app_flush();
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void report(const char *name, const char *anchor, double ours,
		   double theirs, const char *unit)
{
	double ratio = ours / theirs;

	if (opt.json)
		printf("{\"name\":\"%s\",\"ours_ns\":%.3f,\"anchor\":\"%s\","
		       "\"anchor_ns\":%.3f,\"ratio\":%.3f,\"unit\":\"%s\"}\n",
		       name, ours, anchor, theirs, ratio, unit);
	else
		printf("%-28s ours %8.2f ns   %-34s %8.2f ns   ratio %.3f\n",
		       name, ours, anchor, theirs, ratio);
	pn_app_flush(); /* a reader that went away stops us as Ctrl-C does */
}

/* --only NAME[,NAME...]: run just those rows (callgrind counts one loop) */
static const char *only;

static bool row_wanted(const char *name)
{
	size_t len = strlen(name);

	for (const char *p = only; p != NULL && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (strncmp(p, name, len) == 0 && (p[len] == ',' || p[len] == '\0'))
			return true;
	return only == NULL;
}

void run_row(const char *name, const char *anchor, bench_fn ours, void *octx, bench_fn theirs,
	     void *tctx, uint64_t iters, const char *unit)
{
	double a[MAX_ROUNDS], b[MAX_ROUNDS];
	unsigned r;

	if (pn_app_stop || !row_wanted(name))
		return;
	/* warm both up once, then interleave so drift hits both alike */
	ours(octx, iters / 10 + 1);
	theirs(tctx, iters / 10 + 1);
	for (r = 0; r < opt.rounds && !pn_app_stop; r++) {
		a[r] = ours(octx, iters);
		b[r] = theirs(tctx, iters);
	}
	if (r > 0)
		report(name, anchor, bench_median(a, r), bench_median(b, r), unit);
}

/* keep the compiler from eliding work on a pointer */
#define SINK(p) __asm__ volatile("" : : "r"(p) : "memory")

/* ---- single alloc + put ---- */

static double ours_single(void *ctx, uint64_t n)
{
	struct pn_pool *p = ctx;
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < n; i++) {
		struct pn_frame *f = pn_pool_alloc(p);

		SINK(f);
		pn_pool_put(p, f);
	}
	return (double)(now_ns() - t0) / (double)n;
}

static double dpdk_single(void *ctx, uint64_t n)
{
	struct rte_mempool *mp = ctx;
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < n; i++) {
		void *o;

		if (rte_mempool_get(mp, &o) != 0)
			abort();
		SINK(o);
		rte_mempool_put(mp, o);
	}
	return (double)(now_ns() - t0) / (double)n;
}

/* ---- bulk of 32, per object ---- */

#define BULK 32

static double ours_bulk(void *ctx, uint64_t n)
{
	struct pn_pool *p = ctx;
	struct pn_frame *f[BULK];
	uint64_t loops = n / BULK, t0 = now_ns();

	for (uint64_t i = 0; i < loops; i++) {
		if (pn_pool_alloc_bulk(p, f, BULK) != 0)
			abort();
		SINK(f[0]);
		pn_pool_put_bulk(p, f, BULK);
	}
	return (double)(now_ns() - t0) / (double)(loops * BULK);
}

static double dpdk_bulk(void *ctx, uint64_t n)
{
	struct rte_mempool *mp = ctx;
	void *o[BULK];
	uint64_t loops = n / BULK, t0 = now_ns();

	for (uint64_t i = 0; i < loops; i++) {
		if (rte_mempool_get_bulk(mp, o, BULK) != 0)
			abort();
		SINK(o[0]);
		rte_mempool_put_bulk(mp, o, BULK);
	}
	return (double)(now_ns() - t0) / (double)(loops * BULK);
}

/* refcounted buffers in bursts: the fair anchor for pages that carry a
 * refcount, and for packets */
static double dpdk_mbuf_bulk(void *ctx, uint64_t n)
{
	struct rte_mempool *mp = ctx;
	struct rte_mbuf *m[BULK];
	uint64_t loops = n / BULK, t0 = now_ns();

	for (uint64_t i = 0; i < loops; i++) {
		if (rte_pktmbuf_alloc_bulk(mp, m, BULK) != 0)
			abort();
		SINK(m[0]);
		rte_pktmbuf_free_bulk(m, BULK);
	}
	return (double)(now_ns() - t0) / (double)(loops * BULK);
}

static double ours_pkt_bulk(void *ctx, uint64_t n)
{
	struct pn_pool *p = ctx;
	struct pn_pkt *k[BULK];
	uint64_t loops = n / BULK, t0 = now_ns();

	for (uint64_t i = 0; i < loops; i++) {
		for (unsigned j = 0; j < BULK; j++)
			if ((k[j] = pn_pkt_alloc(p)) == NULL)
				abort();
		SINK(k[0]);
		/* on the owner thread the inline single free is the faster of
		 * the two (pn_pkt_free_bulk batches for other threads) */
		for (unsigned j = 0; j < BULK; j++)
			pn_pkt_free(k[j]);
	}
	return (double)(now_ns() - t0) / (double)(loops * BULK);
}

/* ---- the Internet checksum of a full segment's payload ---- */

#define CSUM_LEN 1460
static uint8_t csum_buf[CSUM_LEN] __attribute__((aligned(64)));

/* csum_anchor.c, built twice; the library's checksum at the baseline */
uint16_t dpdk_csum_avx2(const void *buf, size_t len);
uint16_t dpdk_csum_base(const void *buf, size_t len);
uint64_t ours_csum_base_add_long(uint64_t sum, const void *buf, size_t len);

static double ours_csum(void *ctx, uint64_t n)
{
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < n; i++) {
		uint16_t c = pn_csum(csum_buf, CSUM_LEN);

		SINK((uintptr_t)c);
	}
	return (double)(now_ns() - t0) / (double)n;
}

static double ours_csum_base(void *ctx, uint64_t n)
{
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < n; i++) {
		uint16_t c = pn_csum_fold(ours_csum_base_add_long(0, csum_buf, CSUM_LEN));

		SINK((uintptr_t)c);
	}
	return (double)(now_ns() - t0) / (double)n;
}

/* one loop per anchor build, so each has its own instruction count */
#define DPDK_CSUM_LOOP(loop, fn)                                     \
	static double loop(void *ctx, uint64_t n)                    \
	{                                                            \
		uint64_t t0 = now_ns();                              \
		(void)ctx;                                           \
		for (uint64_t i = 0; i < n; i++) {                   \
			uint16_t c = fn(csum_buf, CSUM_LEN);         \
			SINK((uintptr_t)c);                          \
		}                                                    \
		return (double)(now_ns() - t0) / (double)n;          \
	}
DPDK_CSUM_LOOP(dpdk_csum_avx2_loop, dpdk_csum_avx2)
DPDK_CSUM_LOOP(dpdk_csum_base_loop, dpdk_csum_base)

/* Both sides must compute the same checksum before either is timed. */
static bool csum_rows_agree(void)
{
	/* DPDK's calls give the sum before the final complement */
	uint16_t ours = pn_csum(csum_buf, CSUM_LEN);
	uint16_t base = pn_csum_fold(ours_csum_base_add_long(0, csum_buf, CSUM_LEN));
	uint16_t dpdk = (uint16_t)~rte_raw_cksum(csum_buf, CSUM_LEN);
	uint16_t dpdk_base = (uint16_t)~dpdk_csum_base(csum_buf, CSUM_LEN);
	uint16_t dpdk_avx2 = __builtin_cpu_supports("avx2") ?
				     (uint16_t)~dpdk_csum_avx2(csum_buf, CSUM_LEN) : ours;

	if (ours == base && ours == dpdk && ours == dpdk_base && ours == dpdk_avx2)
		return true;
	fprintf(stderr, "pagenet-bench: the checksums disagree (%#x %#x %#x %#x %#x): rows not run\n",
		ours, base, dpdk, dpdk_base, dpdk_avx2);
	return false;
}

/* ---- fragment alloc + put (2 KiB, two per page) ---- */

static double ours_frag(void *ctx, uint64_t n)
{
	struct pn_pool *p = ctx;
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < n; i++) {
		struct pn_frame *f;
		void *b = pn_pool_alloc_frag(p, 2048, &f);

		SINK(b);
		pn_pool_frag_free(f, b);
	}
	return (double)(now_ns() - t0) / (double)n;
}

/* ---- packet alloc + free ---- */

static double ours_pkt(void *ctx, uint64_t n)
{
	struct pn_pool *p = ctx;
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < n; i++) {
		struct pn_pkt *k = pn_pkt_alloc(p);

		SINK(k);
		pn_pkt_free(k);
	}
	return (double)(now_ns() - t0) / (double)n;
}

static double dpdk_pkt(void *ctx, uint64_t n)
{
	struct rte_mempool *mp = ctx;
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < n; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(mp);

		SINK(m);
		rte_pktmbuf_free(m);
	}
	return (double)(now_ns() - t0) / (double)n;
}

/* ---- cross-thread recycle: allocate here, put on the other lcore ---- */

struct xthread {
	struct pn_ring *q;      /* same SPSC transport for both sides */
	struct pn_pool *pool;   /* ours, or NULL */
	struct rte_mempool *mp; /* anchor, or NULL */
	bool pkts;              /* packets (pn_pkt / rte_mbuf) instead of pages */
	volatile uint64_t todo;
	_Atomic uint64_t done;
	_Atomic int go;         /* 1 run, 2 quit */
};

static int xthread_worker(void *arg)
{
	struct xthread *x = arg;

	for (;;) {
		int g;

		while ((g = atomic_load_explicit(&x->go, memory_order_acquire)) == 0)
			pn_cpu_relax();
		if (g == 2)
			return 0;
		uint64_t got = 0, want = x->todo;

		while (got < want) {
			void *o[32];
			unsigned k = pn_ring_dequeue_burst(x->q, o, 32);

			if (x->pkts && x->pool)
				pn_pkt_free_bulk((struct pn_pkt **)o, k);
			else if (x->pkts)
				rte_pktmbuf_free_bulk((struct rte_mbuf **)o, k);
			else if (x->pool)
				pn_pool_put_bulk(x->pool, (struct pn_frame **)o, k);
			else
				rte_mempool_put_bulk(x->mp, o, k);
			got += k;
		}
		atomic_store_explicit(&x->go, 0, memory_order_relaxed);
		atomic_store_explicit(&x->done, got, memory_order_release);
	}
}

static double xthread_run(struct xthread *x, uint64_t n)
{
	uint64_t t0;

	atomic_store(&x->done, 0);
	x->todo = n;
	atomic_store_explicit(&x->go, 1, memory_order_release);
	t0 = now_ns();
	for (uint64_t i = 0; i < n;) {
		void *o[32];
		unsigned k = 0;

		for (; k < 32 && i + k < n; k++) {
			if (x->pkts && x->pool)
				o[k] = pn_pkt_alloc(x->pool);
			else if (x->pkts)
				o[k] = rte_pktmbuf_alloc(x->mp);
			else if (x->pool)
				o[k] = pn_pool_alloc(x->pool);
			else if (rte_mempool_get(x->mp, &o[k]) != 0)
				o[k] = NULL;
			if (o[k] == NULL)
				break; /* exhausted for now: send what we have */
		}
		unsigned sent = 0;

		while (sent < k)
			sent += pn_ring_enqueue_burst(x->q, o + sent, k - sent);
		i += k;
	}
	while (atomic_load_explicit(&x->done, memory_order_acquire) != n)
		pn_cpu_relax();
	return (double)(now_ns() - t0) / (double)n;
}

/* one worker serves both sides; each run says which allocator it drives */
struct xside {
	struct xthread *x;
	struct pn_pool *pool;
	struct rte_mempool *mp;
	bool pkts;
};

static double xside_run(void *ctx, uint64_t n)
{
	struct xside *s = ctx;

	s->x->pool = s->pool;
	s->x->mp = s->mp;
	s->x->pkts = s->pkts;
	return xthread_run(s->x, n);
}

static struct pn_pool *make_pool(uint32_t pages, uint32_t frag)
{
	struct pn_pool_params pp = {
		.sz = sizeof(pp), .nr_pages = pages, .numa_node = PN_NUMA_ANY,
		.frag_size = frag, .ring_size = 4096, .name = "bench",
	};
	struct pn_pool *p = pn_pool_create(&pp);

	if (p == NULL) {
		perror("pn_pool_create");
		exit(1);
	}
	return p;
}

static int bench_pool(void)
{
	struct pn_pool *p = make_pool(8192, 2048);
	struct rte_mempool *mp, *pktmp;
	unsigned worker = rte_get_next_lcore(rte_lcore_id(), 1, 0);

	mp = rte_mempool_create("bench_mp", 8191, PN_FRAME_SIZE, DPDK_CACHE, 0,
				NULL, NULL, NULL, NULL, SOCKET_ID_ANY, 0);
	pktmp = rte_pktmbuf_pool_create("bench_pkt", 8191, DPDK_CACHE, 0,
					RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (mp == NULL || pktmp == NULL) {
		fprintf(stderr, "rte_mempool_create: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	if (!opt.json)
		printf("pagenet-bench pool: %u rounds x %llu ops, median ns per object\n",
		       opt.rounds, (unsigned long long)opt.iters);
	if (getenv("PN_BENCH_LAYOUT") != NULL) {
		/* where this process's hot data landed: for finding layout effects */
		struct pn_frame *f = pn_pool_alloc(p);
		int here;

		fprintf(stderr, "layout pool %p stats %p cache %p frame %p tls %p stack %p "
			"code %p mp %p mpcache %p lcore_tls %p mpops %p\n",
			(void *)p, (void *)p->stats, (void *)p->alloc.cache, (void *)f,
			(void *)&pn_thread_id_tls, (void *)&here, (void *)ours_single, (void *)mp,
			(void *)rte_mempool_default_cache(mp, rte_lcore_id()),
			(void *)&RTE_PER_LCORE(_lcore_id), (void *)&rte_mempool_ops_table);
		pn_pool_put(p, f);
	}

	run_row("alloc_put_single", "rte_mempool_get+put (cache 256)",
		ours_single, p, dpdk_single, mp, opt.iters, "ns/op");
	run_row("alloc_put_bulk32", "rte_mempool_get_bulk+put_bulk 32",
		ours_bulk, p, dpdk_bulk, mp, opt.iters, "ns/obj");
	/* pages against mbufs whose headers are reset and checked: what a
	 * page burst saves over an mbuf burst, not a like-for-like anchor */
	run_row("alloc_put_bulk32_mbuf", "mbuf bursts 32 (not like for like)",
		ours_bulk, p, dpdk_mbuf_bulk, pktmp, opt.iters, "ns/obj");
	run_row("frag_alloc_put_2k", "rte_mempool_get+put (cache 256)",
		ours_frag, p, dpdk_single, mp, opt.iters, "ns/op");
	run_row("pkt_alloc_free", "rte_pktmbuf_alloc+free",
		ours_pkt, p, dpdk_pkt, pktmp, opt.iters, "ns/op");
	run_row("pkt_alloc_free_bulk32", "rte_pktmbuf_alloc_bulk+free_bulk 32",
		ours_pkt_bulk, p, dpdk_mbuf_bulk, pktmp, opt.iters, "ns/obj");
	for (unsigned i = 0; i < CSUM_LEN; i++)
		csum_buf[i] = (uint8_t)(i * 151 + 7);
	if (csum_rows_agree()) {
		/* our AVX2 copy (picked at load time) against DPDK's loop built
		 * with -mavx2; both at the x86-64 baseline */
		if (__builtin_cpu_supports("avx2"))
			run_row("csum_1460", "rte_raw_cksum -mavx2 -O3, 1460 bytes", ours_csum, NULL,
				dpdk_csum_avx2_loop, NULL, opt.iters / 20, "ns/op");
		else if (!opt.json)
			printf("csum_1460: skipped, this CPU has no AVX2\n");
		run_row("csum_1460_baseline", "rte_raw_cksum x86-64 -O3, 1460 bytes",
			ours_csum_base, NULL, dpdk_csum_base_loop, NULL, opt.iters / 20, "ns/op");
	}

	if (worker < RTE_MAX_LCORE && (row_wanted("cross_thread_recycle") || row_wanted("cross_thread_pkt"))) {
		struct xthread x = {
			.q = pn_ring_create(1024, PN_RING_F_SP_ENQ | PN_RING_F_SC_DEQ),
		};
		struct xside ours = { &x, p, NULL, false }, theirs = { &x, NULL, mp, false };
		struct xside ours_pkt = { &x, p, NULL, true }, theirs_pkt = { &x, NULL, pktmp, true };

		rte_eal_remote_launch(xthread_worker, &x, worker);
		run_row("cross_thread_recycle", "rte_mempool get on lcore A, put on B",
			xside_run, &ours, xside_run, &theirs, opt.iters / 2, "ns/obj");
		/* refcounted buffers on both sides: the free touches the buffer */
		run_row("cross_thread_pkt", "rte_pktmbuf_alloc on A, free on B",
			xside_run, &ours_pkt, xside_run, &theirs_pkt, opt.iters / 2, "ns/obj");
		atomic_store_explicit(&x.go, 2, memory_order_release);
		rte_eal_wait_lcore(worker);
		pn_ring_free(x.q);
	} else if (!opt.json) {
		printf("cross_thread_recycle: skipped, needs a second lcore\n");
	}

	{
		struct pn_pool_stats_sum s;

		pn_pool_get_stats(p, &s);
		if (!opt.json)
			printf("pagenet pool: recycle rate %.4f (cached %llu ring %llu released %llu)\n",
			       pn_pool_recycle_rate(&s), (unsigned long long)s.recycle_cached,
			       (unsigned long long)s.recycle_ring,
			       (unsigned long long)s.recycle_released_refcnt);
	}
	if (pn_pool_destroy(p) != 0) {
		fprintf(stderr, "pagenet-bench: pages leaked\n");
		return 1;
	}
	rte_mempool_free(mp);
	rte_mempool_free(pktmp);
	return 0;
}

/* ---- accounting ---- */

struct acct_ctx {
	struct pn_pool *pool;
	struct pn_acct_group *group;
};

/* alloc, charge to the consumer's group, final put (the destructor uncharges) */
static double ours_acct_page(void *ctx, uint64_t n)
{
	struct acct_ctx *a = ctx;
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < n; i++) {
		struct pn_frame *f = pn_pool_alloc(a->pool);

		if (pn_unlikely(pn_pool_charge(f, a->group, PN_ACCT_ZC) != 0))
			abort(); /* unlimited group: cannot happen */
		pn_pool_put(a->pool, f);
	}
	return (double)(now_ns() - t0) / (double)n;
}

static int bench_acct(void)
{
	struct pn_pool_params pp = {
		.sz = sizeof(pp), .flags = PN_POOL_F_ACCOUNTED, .nr_pages = 8192,
		.numa_node = PN_NUMA_ANY, .name = "bench-acct",
	};
	struct pn_pool *plain = make_pool(8192, 2048), *acc = pn_pool_create(&pp);
	struct pn_acct_group *svc = pn_acct_group_create(NULL, "bench");
	struct pn_acct_group *g = pn_acct_group_create(svc, "consumer");
	struct acct_ctx a = { acc, g };
	int rc = 0;

	if (acc == NULL || g == NULL) {
		perror("pagenet-bench acct");
		return 1;
	}
	if (!opt.json)
		printf("pagenet-bench acct: %u rounds x %llu ops, median ns per op\n",
		       opt.rounds, (unsigned long long)opt.iters);
	run_row("acct_alloc_charge_put", "same pool without accounting: alloc+put",
		ours_acct_page, &a, ours_single, plain, opt.iters, "ns/op");
	pn_acct_drain_all();
	if (pn_acct_current(g) != 0) {
		fprintf(stderr, "pagenet-bench: group not back to 0 (%lld)\n",
			(long long)pn_acct_current(g));
		rc = 1;
	}
	if (pn_pool_destroy(plain) != 0 || pn_pool_destroy(acc) != 0) {
		fprintf(stderr, "pagenet-bench: pages leaked\n");
		rc = 1;
	}
	pn_acct_drain_all();
	pn_acct_group_destroy(g);
	pn_acct_group_destroy(svc);
	return rc;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: pagenet-bench pool|acct|group [--json] [--rounds N] [--iters N] [--quick]\n"
		"       pagenet-bench tcp [--json] [--rounds N] [--bytes N]   (root)\n"
		"       pagenet-bench http [--json] [--rounds N] [--seconds N]   (root)\n"
		"\n"
		"tcp: a kernel client streams to pagenet-zcsrv with recv_zc, with the\n"
		"copying recv, and to a kernel TCP server, over veth at MTU 1500\n"
		"(usertools/pagenet-bench-tcp --help), over IPv4 and IPv6.\n"
		"http: wrk (keep-alive) and ab (a connection per request) against\n"
		"pagenet-zcsrv over IPv4 and IPv6, and a real client right after a\n"
		"SYN flood (usertools/pagenet-bench-http --help).\n"
		"pool: pagenet's page pool and DPDK 22.11's rte_mempool / rte_pktmbuf\n"
		"side by side in one process (EAL: --no-huge --no-pci, two lcores).\n"
		"acct: an accounted pool against the same pool unaccounted: what the\n"
		"accounting costs over the pool.\n"
		"group: two stack groups of two queues back to back over the loop\n"
		"driver, TCP both ends: a segment handed to the queue owning its flow\n"
		"against one delivered there, and two threads against one (--iters:\n"
		"segments per round).\n"
		"Each row prints the median ns per object and the ours/anchor ratio.\n"
		"\n"
		"  --json       one JSON object per row: name, ours_ns, anchor,\n"
		"               anchor_ns, ratio, unit\n"
		"  --rounds N   interleaved rounds per row, median taken (default 9)\n"
		"  --procs N    fresh processes per row (default 5): where a process's\n"
		"               memory lands moves the fast paths for its whole life,\n"
		"               so each row is the median across processes, with the\n"
		"               min-max of their ratios; JSON adds ratio_min, ratio_max\n"
		"               and per_process\n"
		"  --iters N    operations per round (default 2000000)\n"
		"  --quick      3 rounds of 200000 in 2 processes (a smoke run)\n"
		"  --only ROWS  run only these rows (comma-separated names), e.g. for\n"
		"               valgrind --tool=callgrind instruction counts\n"
		"\n"
		"PN_BENCH_LAYOUT=1 (pool): print where each process's hot data landed.\n");
}

/*
 * An installed pagenet-bench finds its scripts and pagenet-zcsrv where
 * `meson install` put them beside it (bin/, libexec/pagenet/); run from the
 * build tree it uses the tree's (@p fallback).
 */
static char *beside_me(const char *rel, char *fallback)
{
	static char paths[2][PATH_MAX];
	static unsigned next;
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash, *out = paths[next++ % 2];

	if (n <= 0)
		return fallback;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash == NULL)
		return fallback;
	*slash = '\0';
	if (snprintf(out, PATH_MAX, "%s/%s", self, rel) >= PATH_MAX || access(out, X_OK) != 0)
		return fallback;
	/* the build tree has apps/bench/../libexec nowhere and zcsrv elsewhere */
	return out;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "iters", required_argument, NULL, 'i' },
		{ "quick", no_argument, NULL, 'q' },
		{ "only", required_argument, NULL, 'o' },
		{ "procs", required_argument, NULL, 'p' },
		{ "child", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *eal_argv[] = {
		argv[0], "--no-huge", "--no-pci", "--no-shconf", "--no-telemetry",
		"-m", "512", "-l", "0-1", "--log-level=lib.eal:error", NULL,
	};
	const char *cmd;
	uint64_t v;
	bool is_child = false, procs_given = false;
	int c, rc;

	if (argc < 2 || argv[1][0] == '-') {
		usage(argc > 1 && !strcmp(argv[1], "--help") ? stdout : stderr);
		return argc > 1 && !strcmp(argv[1], "--help") ? 0 : 2;
	}
	cmd = argv[1];
	if (strcmp(cmd, "tcp") == 0 || strcmp(cmd, "http") == 0) {
		/* namespaces, the kernel's TCP and pagenet-zcsrv: a script runs it */
		char **av = calloc((size_t)argc + 3, sizeof(*av));

		if (av == NULL)
			return 1;
		av[0] = beside_me(strcmp(cmd, "tcp") == 0 ? "../libexec/pagenet/pagenet-bench-tcp"
							   : "../libexec/pagenet/pagenet-bench-http",
				  strcmp(cmd, "tcp") == 0 ? PN_BENCH_TCP_SCRIPT : PN_BENCH_HTTP_SCRIPT);
		av[1] = "--zcsrv";
		av[2] = beside_me("pagenet-zcsrv", PN_ZCSRV_PATH);
		for (int i = 2; i < argc; i++)
			av[i + 1] = argv[i];
		execv(av[0], av);
		fprintf(stderr, "pagenet-bench: cannot run %s: %s\n", av[0], strerror(errno));
		return 1;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "jr:i:qo:h", lo, NULL)) != -1) {
		switch (c) {
		case 'j': opt.json = true; break;
		case 'r':
			if (pn_app_parse_u64(optarg, 1, MAX_ROUNDS, &v))
				goto bad;
			opt.rounds = (unsigned)v;
			break;
		case 'i':
			if (pn_app_parse_u64(optarg, 64, UINT64_C(1) << 40, &v))
				goto bad;
			opt.iters = v;
			break;
		case 'q':
			opt.rounds = 3;
			opt.iters = 200000;
			opt.procs = procs_given ? opt.procs : 2;
			break;
		case 'o': only = optarg; break;
		case 'p':
			if (pn_app_parse_u64(optarg, 1, MAX_PROCS, &v))
				goto bad;
			opt.procs = (unsigned)v;
			procs_given = true;
			break;
		case 'c': is_child = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		continue;
bad:
		fprintf(stderr, "pagenet-bench: bad value for -%c: '%s' (--rounds 1..%d, --iters >= 64, "
			"--procs 1..%d)\n", c, optarg, MAX_ROUNDS, MAX_PROCS);
		return 2;
	}
	if (opt.rounds == 0 || opt.rounds > MAX_ROUNDS || opt.iters < 64) {
		fprintf(stderr, "pagenet-bench: --rounds must be 1..%d and --iters >= 64\n",
			MAX_ROUNDS);
		return 2;
	}
	if (strcmp(cmd, "group") != 0 && strcmp(cmd, "pool") != 0 && strcmp(cmd, "acct") != 0) {
		fprintf(stderr, "pagenet-bench: unknown benchmark '%s'\n", cmd);
		usage(stderr);
		return 2;
	}
	if (is_child) {
		opt.json = true; /* rows for the parent to read */
	} else if (opt.procs > 1) {
		pn_app_catch_signals();
		return bench_in_processes(argc, argv, opt.procs);
	}
	if (strcmp(cmd, "group") == 0) {
		pn_app_catch_signals();
		return bench_group();
	}
	if (strcmp(cmd, "acct") == 0) {
		/* no DPDK anchor in this one: no EAL (and it runs under valgrind) */
		pn_app_catch_signals();
		return bench_acct();
	}
	if (rte_eal_init((int)PN_DIM(eal_argv) - 1, eal_argv) < 0) {
		fprintf(stderr, "pagenet-bench: rte_eal_init failed: %s\n",
			rte_strerror(rte_errno));
		return 1;
	}
	pn_app_catch_signals();
	rc = strcmp(cmd, "acct") == 0 ? bench_acct() : bench_pool();
	rte_eal_cleanup();
	if (pn_app_stop && rc == 0 && !opt.json)
		printf("interrupted: remaining rows skipped, every page back in its pool\n");
	return rc;
}
