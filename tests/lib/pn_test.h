/* SPDX-License-Identifier: BSD-3-Clause */
/* Helpers shared by the test suites. */
#ifndef PN_TEST_H
#define PN_TEST_H

#ifdef PN_TSAN_SHIM
#include "cr_tsan_shim.h"
#else
#include <criterion/criterion.h>
#endif

#include "pn_pkt.h"
#include "pn_pool.h"

/* A pool with a private region of @pages pages, owned by the caller. */
static inline struct pn_pool *test_pool(uint32_t pages, uint32_t cache,
					uint32_t ring)
{
	struct pn_pool_params pp = {
		.sz = sizeof(pp),
		.nr_pages = pages,
		.numa_node = PN_NUMA_ANY,
		.cache_size = cache,
		.ring_size = ring,
		.name = "test",
	};
	struct pn_pool *p = pn_pool_create(&pp);

	cr_assert_not_null(p, "pn_pool_create failed");
	return p;
}

/* Every frame is somewhere: region free lists + cache + ring + frag page +
 * in flight = region size. */
static inline void test_assert_accounted(struct pn_pool *p)
{
	struct pn_pool_info pi;
	struct pn_region_info ri;

	pn_pool_info(p, &pi);
	pn_region_info(pn_pool_region(p), &ri);
	cr_assert_eq((int64_t)ri.nr_free + (((int64_t)pi.cache_count + pi.ring_count +
			      pi.quarantine_count + pi.frag_held + pi.inflight) << pi.order),
		     (int64_t)ri.nr_frames,
		     "frames unaccounted: free %u cache %u ring %u frag %u inflight %lld total %u",
		     ri.nr_free, pi.cache_count, pi.ring_count, pi.frag_held,
		     (long long)pi.inflight, ri.nr_frames);
}

/* Destroy a pool that must have nothing in flight, and check its region's
 * memory really went away (the pool's private region is destroyed too). */
static inline void test_pool_destroy_clean(struct pn_pool *p)
{
	cr_assert_eq(pn_pool_destroy(p), 0, "pages left in flight at teardown");
}

#endif /* PN_TEST_H */
