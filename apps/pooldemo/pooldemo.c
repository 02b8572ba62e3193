/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pagenet-pooldemo: a packet-shaped workload on one page pool, with live
 * statistics. The owner thread builds packets (a head buffer plus a page
 * fragment), clones some of them the way a tap or a retransmit queue would,
 * and hands most to a worker thread that frees them there, so every recycle
 * path runs: the owner's cache, the cross-thread ring and, under pressure,
 * release to the region.
 *
 * Exits cleanly on Ctrl-C or after --duration, and checks that every page
 * came back to the pool (a leak is an error exit).
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pn_app.h"
#include "pn_pkt.h"
#include "pn_telemetry.h"

struct cfg {
	double duration; /* seconds, 0 = until Ctrl-C */
	bool json;
	uint32_t pages;
	unsigned clone_every;
	unsigned remote_percent;
};

static _Atomic bool worker_stop;

struct worker {
	struct pn_ring *q;
	_Atomic uint64_t freed;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct pn_pkt *batch[32];

	for (;;) {
		unsigned n = pn_ring_dequeue_burst(w->q, (void **)batch, 32);

		if (n == 0) {
			if (atomic_load(&worker_stop) && pn_ring_count(w->q) == 0)
				return NULL;
			sched_yield();
			continue;
		}
		for (unsigned i = 0; i < n; i++)
			pn_pkt_free(batch[i]);
		atomic_fetch_add_explicit(&w->freed, n, memory_order_relaxed);
	}
}

static void print_stats(const struct cfg *c, struct pn_pool *p, double t,
			uint64_t pkts, uint64_t dpkts, double dt, bool final)
{
	struct pn_pool_stats_sum s;
	struct pn_pool_info pi;

	pn_pool_get_stats(p, &s);
	pn_pool_info(p, &pi);
	if (c->json) {
		printf("{\"type\":\"%s\",\"t\":%.1f,\"packets\":%llu,\"pps\":%.0f,"
		       "\"recycle_rate\":%.6f,\"alloc\":{\"fast\":%llu,\"slow\":%llu,"
		       "\"slow_high_order\":%llu,\"empty\":%llu,\"refill\":%llu,\"waive\":%llu},"
		       "\"recycle\":{\"cached\":%llu,\"cache_full\":%llu,\"ring\":%llu,"
		       "\"ring_full\":%llu,\"released_refcnt\":%llu},"
		       "\"cache\":%u,\"ring\":%u,\"inflight\":%lld}\n",
		       final ? "final" : "progress", t, (unsigned long long)pkts,
		       dt > 0 ? (double)dpkts / dt : 0.0, pn_pool_recycle_rate(&s),
		       (unsigned long long)s.alloc_fast, (unsigned long long)s.alloc_slow,
		       (unsigned long long)s.alloc_slow_high_order,
		       (unsigned long long)s.alloc_empty, (unsigned long long)s.alloc_refill,
		       (unsigned long long)s.alloc_waive, (unsigned long long)s.recycle_cached,
		       (unsigned long long)s.recycle_cache_full,
		       (unsigned long long)s.recycle_ring, (unsigned long long)s.recycle_ring_full,
		       (unsigned long long)s.recycle_released_refcnt, pi.cache_count,
		       pi.ring_count, (long long)pi.inflight);
	} else {
		char rate[16];

		pn_app_recycle_pct(rate, sizeof(rate), "%.3f%%", NULL, &s);
		/* the rate is over the interval (the whole run on the final
		 * line); the counters are totals since the start */
		printf("%s%6.1fs  %10.2f Mpkt/s  | totals: recycle %s  fast %llu refill %llu slow %llu"
		       "  cached %llu ring %llu released %llu  cache %u ring %u inflight %lld\n",
		       final ? "final " : "", t, dt > 0 ? (double)dpkts / dt / 1e6 : 0.0,
		       rate, (unsigned long long)s.alloc_fast,
		       (unsigned long long)s.alloc_refill, (unsigned long long)s.alloc_slow,
		       (unsigned long long)s.recycle_cached, (unsigned long long)s.recycle_ring,
		       (unsigned long long)s.recycle_released_refcnt, pi.cache_count,
		       pi.ring_count, (long long)pi.inflight);
	}
	pn_app_flush(); /* a reader that went away stops us as Ctrl-C does */
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: pagenet-pooldemo [--duration S] [--json] [--pages N]\n"
		"                        [--clone-every N] [--remote-percent P]\n"
		"\n"
		"Builds packets (head buffer + page fragment) from one page pool, clones\n"
		"some, frees most on a second thread, and prints the pool's kernel-named\n"
		"counters and recycle rate every second. Ctrl-C stops it; the exit code\n"
		"is non-zero if any page did not come back to the pool.\n"
		"\n"
		"  --duration S        stop after S seconds (default: run until Ctrl-C)\n"
		"  --json              one JSON object per line instead of text\n"
		"  --pages N           pages in the pool's region (default 4096)\n"
		"  --clone-every N     clone every Nth packet (default 8, 0 = never)\n"
		"  --remote-percent P  share of packets freed on the worker (default 75)\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "duration", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "pages", required_argument, NULL, 'p' },
		{ "clone-every", required_argument, NULL, 'c' },
		{ "remote-percent", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cfg c = { .pages = 4096, .clone_every = 8, .remote_percent = 75 };
	struct pn_pool_params pp = { .sz = sizeof(pp), .numa_node = PN_NUMA_ANY,
				     .ring_size = 4096, .name = "pooldemo" };
	struct worker w = { 0 };
	struct pn_pool *pool;
	pthread_t wt;
	int opt;
	uint64_t v;

	while ((opt = getopt_long(argc, argv, "d:jp:c:r:h", lo, NULL)) != -1) {
		switch (opt) {
		case 'd':
			if (pn_app_parse_double(optarg, 0, 1e9, &c.duration))
				goto bad;
			break;
		case 'j': c.json = true; break;
		case 'p': /* 2^24 pages (64 GiB) at most: a region's own limit */
			if (pn_app_parse_u64(optarg, 64, 1u << 24, &v))
				goto bad;
			c.pages = (uint32_t)v;
			break;
		case 'c':
			if (pn_app_parse_u64(optarg, 0, 1u << 20, &v))
				goto bad;
			c.clone_every = (unsigned)v;
			break;
		case 'r':
			if (pn_app_parse_u64(optarg, 0, 100, &v))
				goto bad;
			c.remote_percent = (unsigned)v;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		continue;
bad:
		fprintf(stderr, "pagenet-pooldemo: bad value for --%s: '%s' (--pages 64..16777216, "
			"--remote-percent 0..100, --duration seconds)\n",
			opt == 'd' ? "duration" : opt == 'p' ? "pages" : opt == 'c' ? "clone-every"
										 : "remote-percent",
			optarg);
		return 2;
	}
	pp.nr_pages = c.pages;
	pool = pn_pool_create(&pp);
	if (pool == NULL) {
		perror("pagenet-pooldemo: pn_pool_create");
		return 1;
	}
	w.q = pn_ring_create(1024, PN_RING_F_SP_ENQ | PN_RING_F_SC_DEQ);
	if (w.q == NULL || pthread_create(&wt, NULL, worker_main, &w) != 0) {
		perror("pagenet-pooldemo: worker");
		return 1;
	}
	pn_app_catch_signals();
	/* pagenet-stat can watch the pool live; failing to serve is not fatal */
	pn_telemetry_start(&(struct pn_telemetry_params){
		.sz = sizeof(struct pn_telemetry_params), .app = "pagenet-pooldemo" });

	double t0 = pn_now_s(), last = t0;
	uint64_t pkts = 0, last_pkts = 0, empty = 0;
	uint32_t seq = 0;

	while (!pn_app_stop) {
		for (int burst = 0; burst < 64; burst++) {
			struct pn_pkt *k = pn_pkt_alloc(pool);
			struct pn_frame *f;
			uint8_t *payload;

			if (k == NULL) {
				empty++; /* pool exhausted: back off until the worker frees */
				sched_yield();
				break;
			}
			payload = pn_pool_alloc_frag(pool, 1024, &f);
			if (payload == NULL) {
				pn_pkt_free(k);
				empty++;
				sched_yield();
				break;
			}
			memcpy(pn_pkt_append(k, 4), &seq, 4);
			memset(payload, (int)(seq & 0xff), 64);
			pn_pkt_add_frag(k, f, (uint32_t)(payload - (uint8_t *)pn_frame_addr(f)),
					1024, PN_PKT_FRAG_SHARE);
			seq++;
			pkts++;
			if (c.clone_every && seq % c.clone_every == 0) {
				struct pn_pkt *cl = pn_pkt_clone(k);

				if (cl != NULL && pn_pkt_expand_head(cl, 256, 0) == 0)
					pn_pkt_free(k), k = cl;
				else
					pn_pkt_free(cl);
			}
			if (seq % 100 < c.remote_percent && pn_ring_enqueue(w.q, k) == 0)
				continue;
			pn_pkt_free(k);
		}
		double t = pn_now_s();

		if (t - last >= 1.0) {
			print_stats(&c, pool, t - t0, pkts, pkts - last_pkts, t - last, false);
			last = t;
			last_pkts = pkts;
		}
		if (c.duration > 0 && t - t0 >= c.duration)
			break;
	}
	atomic_store(&worker_stop, true);
	pthread_join(wt, NULL);
	pn_telemetry_stop();
	double t = pn_now_s();

	/* the final line's rate is over the whole run, not the last sliver */
	print_stats(&c, pool, t - t0, pkts, pkts, t - t0, true);
	pn_ring_free(w.q);
	if (pn_pool_destroy(pool) != 0) {
		fprintf(stderr, "pagenet-pooldemo: pages leaked (see the holders above)\n");
		return 1;
	}
	if (!c.json)
		printf("every page came back to the pool (%llu packets, %llu pushbacks from an exhausted pool)\n",
		       (unsigned long long)pkts, (unsigned long long)empty);
	return 0;
}
