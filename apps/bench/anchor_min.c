/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The anchors as a DPDK user would write them, compiled apart from
 * pagenet-bench: one loop per row, nothing else in it. Run under callgrind
 * by usertools/pagenet-bench-insns, which checks that pagenet-bench's own
 * anchor loops cost within 10 % of these (an anchor slowed by the bench's
 * harness would flatter pagenet).
 *
 *   pagenet-bench-anchors ITERS
 */
#include <stdio.h>
#include <stdlib.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#define BULK 32
#define SINK(p) __asm__ volatile("" : : "r"(p) : "memory")

/* noinline: callgrind gives each loop its own inclusive cost */
#define LOOP __attribute__((noinline)) static void

LOOP min_single(struct rte_mempool *mp, unsigned long n)
{
	for (unsigned long i = 0; i < n; i++) {
		void *o;

		if (rte_mempool_get_bulk(mp, &o, 1) != 0)
			abort();
		SINK(o);
		rte_mempool_put_bulk(mp, &o, 1);
	}
}

LOOP min_bulk(struct rte_mempool *mp, unsigned long n)
{
	void *o[BULK];

	for (unsigned long i = 0; i < n / BULK; i++) {
		if (rte_mempool_get_bulk(mp, o, BULK) != 0)
			abort();
		SINK(o[0]);
		rte_mempool_put_bulk(mp, o, BULK);
	}
}

LOOP min_pkt(struct rte_mempool *mp, unsigned long n)
{
	for (unsigned long i = 0; i < n; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(mp);

		if (m == NULL)
			abort();
		SINK(m);
		rte_pktmbuf_free(m);
	}
}

LOOP min_mbuf_bulk(struct rte_mempool *mp, unsigned long n)
{
	struct rte_mbuf *m[BULK];

	for (unsigned long i = 0; i < n / BULK; i++) {
		if (rte_pktmbuf_alloc_bulk(mp, m, BULK) != 0)
			abort();
		SINK(m[0]);
		rte_pktmbuf_free_bulk(m, BULK);
	}
}

int main(int argc, char **argv)
{
	char *eal_argv[] = {
		argv[0], "--no-huge", "--no-pci", "--no-shconf", "--no-telemetry",
		"-m", "512", "-l", "0", "--log-level=lib.eal:error", NULL,
	};
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 0) : 100000;
	struct rte_mempool *mp, *pktmp;

	if (argc > 2 || n < BULK) {
		fprintf(stderr, "usage: pagenet-bench-anchors [ITERS >= %d]\n", BULK);
		return 2;
	}
	if (rte_eal_init((int)(sizeof(eal_argv) / sizeof(eal_argv[0])) - 1, eal_argv) < 0) {
		fprintf(stderr, "pagenet-bench-anchors: rte_eal_init: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	/* the pools pagenet-bench builds: 8191 objects, cache 256 */
	mp = rte_mempool_create("min_mp", 8191, 4096, 256, 0, NULL, NULL, NULL, NULL,
				SOCKET_ID_ANY, 0);
	pktmp = rte_pktmbuf_pool_create("min_pkt", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					SOCKET_ID_ANY);
	if (mp == NULL || pktmp == NULL) {
		fprintf(stderr, "pagenet-bench-anchors: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	min_single(mp, n);
	min_bulk(mp, n);
	min_pkt(pktmp, n);
	min_mbuf_bulk(pktmp, n);
	rte_mempool_free(mp);
	rte_mempool_free(pktmp);
	rte_eal_cleanup();
	return 0;
}
