/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The pools' telemetry commands, registered when the first pool is made:
 * /pools and /pool,ID (occupancy, the kernel-named counters, recycle rate,
 * who holds the pages in flight).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "pn_pool_priv.h"
#include "pn_telemetry.h"

static void stats_add(struct pn_tel_data *d, const struct pn_pool_stats_sum *s)
{
	pn_tel_add_uint(d, "alloc_fast", s->alloc_fast);
	pn_tel_add_uint(d, "alloc_slow", s->alloc_slow);
	pn_tel_add_uint(d, "alloc_slow_high_order", s->alloc_slow_high_order);
	pn_tel_add_uint(d, "alloc_empty", s->alloc_empty);
	pn_tel_add_uint(d, "alloc_refill", s->alloc_refill);
	pn_tel_add_uint(d, "alloc_waive", s->alloc_waive);
	pn_tel_add_uint(d, "recycle_cached", s->recycle_cached);
	pn_tel_add_uint(d, "recycle_cache_full", s->recycle_cache_full);
	pn_tel_add_uint(d, "recycle_ring", s->recycle_ring);
	pn_tel_add_uint(d, "recycle_ring_full", s->recycle_ring_full);
	pn_tel_add_uint(d, "recycle_released_refcnt", s->recycle_released_refcnt);
}

/* Who holds the pool's pages in flight, grouped: [{"holder", "pages"}]. */
static void holders_add(struct pn_tel_data *arr, struct pn_pool *p, int64_t inflight)
{
	struct pn_held_group g[8];
	char who[PN_HOLDER_LABEL_MAX + 48];
	uint32_t total = 0, named = 0;
	unsigned n;

	if (arr == NULL || inflight <= 0)
		return;
	n = pn_pool_held_by(p, g, PN_DIM(g), &total);
	for (unsigned i = 0; i < n; i++) {
		struct pn_tel_data *h = pn_tel_add_dict(arr, NULL);

		if (h == NULL)
			return;
		pn_tel_add_string(h, "holder", pn_holder_describe(g[i].holder, who, sizeof(who)));
		pn_tel_add_uint(h, "pages", g[i].pages);
		named += g[i].pages;
	}
	if (named < total) {
		struct pn_tel_data *h = pn_tel_add_dict(arr, NULL);

		if (h != NULL) {
			pn_tel_add_string(h, "holder", "others");
			pn_tel_add_uint(h, "pages", total - named);
		}
	}
}

/* Readers go through foreach/visit: a pool freed by another thread is out
 * of its table before it goes, and never read after. */
static int pool_add(struct pn_pool *p, void *arg)
{
	struct pn_tel_data *d = arg;
	struct pn_pool_stats_sum s;
	struct pn_pool_info info;

	if (d == NULL)
		return -ENOMEM;
	pn_pool_info(p, &info);
	pn_pool_get_stats(p, &s);
	pn_tel_add_uint(d, "id", info.id);
	pn_tel_add_string(d, "name", info.name);
	pn_tel_add_int(d, "owner_thread", info.owner_thread);
	pn_tel_add_int(d, "numa_node", info.numa_node);
	pn_tel_add_int(d, "order", info.order);
	pn_tel_add_uint(d, "cache_count", info.cache_count);
	pn_tel_add_uint(d, "ring_count", info.ring_count);
	pn_tel_add_uint(d, "held", info.held);
	pn_tel_add_uint(d, "quarantine_count", info.quarantine_count);
	pn_tel_add_int(d, "inflight", info.inflight);
	pn_tel_add_bool(d, "dying", info.dying);
	stats_add(pn_tel_add_dict(d, "stats"), &s);
	pn_tel_add_double(d, "recycle_rate", pn_pool_recycle_rate(&s));
	holders_add(pn_tel_add_array(d, "holders"), p, info.inflight);
	return 0;
}

static int pool_append(struct pn_pool *p, void *arg)
{
	return pool_add(p, pn_tel_add_dict(arg, NULL));
}

static int cmd_pools(const char *cmd, const char *params, struct pn_tel_data *d)
{
	(void)cmd, (void)params;
	pn_tel_start_array(d);
	pn_pool_foreach(pool_append, d);
	return 0;
}

static int cmd_pool(const char *cmd, const char *params, struct pn_tel_data *d)
{
	char *end;
	unsigned long id;

	(void)cmd;
	id = params && *params ? strtoul(params, &end, 10) : PN_MAX_POOLS;
	if (id >= PN_MAX_POOLS || *end != '\0') {
		pn_tel_error(d, "want /pool,ID");
		return -EINVAL;
	}
	pn_tel_start_dict(d);
	if (pn_pool_visit((uint16_t)id, pool_add, d) != 0) {
		pn_tel_error(d, "no such pool");
		return -ENOENT;
	}
	return 0;
}

static void register_once(void)
{
	pn_telemetry_register("/pools", cmd_pools,
			      "every page pool: occupancy, kernel-named counters, recycle rate");
	pn_telemetry_register("/pool", cmd_pool, "one pool: /pool,ID");
}

void pn_pool_tel_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, register_once);
}
