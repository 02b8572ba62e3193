/* SPDX-License-Identifier: BSD-3-Clause */
#include <criterion/criterion.h>
#include <numa.h>
#include <numaif.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <errno.h>

#include "pn_test.h"

static struct pn_region *make_region(size_t len)
{
	struct pn_region_params rp = { .len = len, .numa_node = PN_NUMA_ANY, .name = "t" };
	struct pn_region *r = pn_region_create(&rp);

	cr_assert_not_null(r, "pn_region_create: %s", strerror(errno));
	return r;
}

Test(mem, region_create_and_info)
{
	struct pn_region *r = make_region(64 * PN_FRAME_SIZE + 100);
	struct pn_region_info ri;

	pn_region_info(r, &ri);
	cr_assert_eq(ri.nr_frames, 65, "length rounds up to whole frames");
	cr_assert_eq(ri.nr_free, 65);
	cr_assert(ri.backing == PN_REGION_HUGETLB || ri.backing == PN_REGION_THP);
	cr_assert_eq((uintptr_t)ri.base % PN_FRAME_SIZE, 0);
	cr_assert_eq(pn_region_destroy(r), 0);
}

/* The region's pages really are on the node it reports. */
Test(mem, region_is_bound_to_its_numa_node)
{
	struct pn_region_params rp = { .len = 8 * PN_FRAME_SIZE, .numa_node = 0, .name = "n0" };
	struct pn_region *r;
	struct pn_region_info ri;

	if (numa_available() < 0)
		cr_skip_test("libnuma reports no NUMA support on this kernel");
	r = pn_region_create(&rp);
	cr_assert_not_null(r);
	pn_region_info(r, &ri);
	cr_assert_eq(ri.numa_node, 0);
	for (uint32_t i = 0; i < ri.nr_frames; i++) {
		void *page = (uint8_t *)ri.base + (size_t)i * PN_FRAME_SIZE;
		int status = -1;

		cr_assert_eq(numa_move_pages(0, 1, &page, NULL, &status, 0), 0);
		cr_assert_eq(status, 0, "frame %u is on node %d", i, status);
		cr_assert_eq(pn_frame_node(pn_region_addr_to_frame(r, page)), 0);
	}
	rp.numa_node = numa_max_node() + 1;
	cr_assert_null(pn_region_create(&rp), "a node that does not exist");
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(pn_region_destroy(r), 0);
}

Test(mem, region_rejects_bad_params)
{
	struct pn_region_params rp = { .len = 0 };

	cr_expect_null(pn_region_create(&rp));
	cr_expect_eq(errno, EINVAL);
	rp.len = PN_FRAME_SIZE;
	rp.flags = 0x100;
	cr_expect_null(pn_region_create(&rp));
	cr_expect_eq(errno, EINVAL);
	rp.flags = PN_REGION_F_HUGEPAGE | PN_REGION_F_NO_HUGEPAGE;
	cr_expect_null(pn_region_create(&rp));
	cr_expect_null(pn_region_register((void *)0x1001, PN_FRAME_SIZE, 0, "x"));
	cr_expect_eq(errno, EINVAL);
}

Test(mem, addr_to_frame_is_exact_for_every_offset)
{
	struct pn_region *r = make_region(16 * PN_FRAME_SIZE);
	struct pn_region_info ri;

	pn_region_info(r, &ri);
	for (uint32_t i = 0; i < ri.nr_frames; i++) {
		uint8_t *page = (uint8_t *)ri.base + (size_t)i * PN_FRAME_SIZE;
		size_t offs[] = { 0, 1, 2047, PN_FRAME_SIZE - 1 };

		for (unsigned k = 0; k < PN_DIM(offs); k++) {
			struct pn_frame *f = pn_region_addr_to_frame(r, page + offs[k]);

			cr_assert_not_null(f);
			cr_assert_eq(pn_frame_addr(f), page, "frame %u off %zu", i, offs[k]);
			cr_assert_eq(pn_addr_to_frame(page + offs[k]), f);
		}
	}
	cr_assert_null(pn_region_addr_to_frame(r, (uint8_t *)ri.base + ri.len));
	cr_assert_null(pn_region_addr_to_frame(r, (uint8_t *)ri.base - 1));
	cr_assert_eq(pn_frame_region(pn_region_addr_to_frame(r, ri.base)), r);
	cr_assert_eq(pn_region_destroy(r), 0);
}

Test(mem, memdesc_fields_pack_independently)
{
	struct pn_frame f = { 0 };

	f.memdesc = ((uint64_t)3 << PN_MD_ORDER_SHIFT) |
		    ((uint64_t)5 << PN_MD_REGION_SHIFT) |
		    ((uint64_t)1 << PN_MD_NODE_SHIFT) | PN_MD_APP_MAP;
	pn_frame_set_type(&f, PN_MT_POOL, 0x55);
	cr_assert_eq(pn_frame_type(&f), PN_MT_POOL);
	cr_assert_eq(pn_frame_subtype(&f), 0x55);
	cr_assert_eq(pn_frame_order(&f), 3);
	cr_assert_eq(pn_frame_region_index(&f), 5);
	cr_assert_eq(pn_frame_node(&f), 1);
	cr_assert(f.memdesc & PN_MD_APP_MAP);
	pn_frame_set_type(&f, PN_MT_APP, 0);
	cr_assert_eq(pn_frame_type(&f), PN_MT_APP);
	cr_assert_eq(pn_frame_order(&f), 3, "set_type must not touch the order");
}

Test(mem, high_order_blocks_split_and_tails_map_to_head)
{
	struct pn_region *r = make_region(8 * PN_FRAME_SIZE);
	struct pn_frame *f[8];
	struct pn_region_info ri;

	cr_assert_eq(pn_region_alloc(r, 2, 1, f), 1);
	cr_assert_eq(pn_frame_order(f[0]), 2);
	for (unsigned t = 0; t < 4; t++)
		cr_assert_eq(pn_region_addr_to_frame(r, f[0]->addr + t * PN_FRAME_SIZE + 7),
			     f[0], "tail %u must resolve to its head", t);
	cr_assert_eq(pn_region_alloc(r, 0, 8, f + 1), 4, "four order-0 frames left");
	cr_assert_eq(pn_region_alloc(r, 0, 1, f + 5), 0, "exhausted");
	pn_region_info(r, &ri);
	cr_assert_eq(ri.nr_free, 0);
	cr_assert_eq(pn_region_destroy(r), -EBUSY, "frames are out");
	pn_region_free(r, f, 5);
	pn_region_info(r, &ri);
	cr_assert_eq(ri.nr_free, 8);
	cr_assert_eq(pn_region_destroy(r), 0);
}

Test(mem, freed_blocks_merge_with_their_buddies)
{
	struct pn_region *r = make_region(24 * PN_FRAME_SIZE); /* blocks of 16 + 8 */
	struct pn_frame *f[24], *big[2];
	struct pn_region_info ri;
	/* a scrambled free order, so merges happen out of address order */
	const unsigned order[24] = { 5, 17, 0, 23, 9, 12, 3, 20, 14, 1, 7, 18,
				     22, 10, 2, 15, 6, 21, 11, 4, 19, 8, 16, 13 };

	cr_assert_eq(pn_region_alloc(r, 0, 24, f), 24);
	cr_assert_eq(pn_region_alloc(r, 3, 1, big), 0, "all frames out");
	for (unsigned i = 0; i < 24; i++)
		pn_region_free(r, &f[order[i]], 1);
	pn_region_info(r, &ri);
	cr_assert_eq(ri.nr_free, 24);
	cr_assert_eq(pn_region_alloc(r, 4, 1, &big[0]), 1, "16 frames merged back");
	cr_assert_eq(pn_region_alloc(r, 3, 1, &big[1]), 1, "and the 8 beside them");
	cr_assert_eq(pn_frame_addr(big[0]), ri.base);
	pn_region_free(r, big, 2);
	cr_assert_eq(pn_region_destroy(r), 0);
}

Test(mem, mixed_order_churn_ends_whole_again)
{
	struct pn_region *r = make_region(64 * PN_FRAME_SIZE);
	struct pn_frame *held[64];
	unsigned nh = 0;
	uint32_t seed = 12345;
	struct pn_region_info ri;

	pn_region_info(r, &ri);
	for (unsigned step = 0; step < 20000; step++) {
		seed = seed * 1103515245u + 12345u;
		if ((seed >> 16) % 3 != 0 && nh < 64) {
			unsigned k = (seed >> 8) % 4;

			if (pn_region_alloc(r, k, 1, &held[nh]) == 1) {
				cr_assert_eq(pn_frame_order(held[nh]), k);
				size_t idx = (size_t)((uint8_t *)held[nh]->addr -
						      (uint8_t *)ri.base) >> 12;

				cr_assert_eq(idx % (1u << k), 0, "block not aligned to its order");
				nh++;
			}
		} else if (nh > 0) {
			unsigned i = (seed >> 4) % nh;

			pn_region_free(r, &held[i], 1);
			held[i] = held[--nh];
		}
	}
	pn_region_free(r, held, nh);
	pn_region_info(r, &ri);
	cr_assert_eq(ri.nr_free, 64);
	struct pn_frame *all;
	cr_assert_eq(pn_region_alloc(r, 6, 1, &all), 1, "the region is one block again");
	pn_region_free(r, &all, 1);
	cr_assert_eq(pn_region_destroy(r), 0);
}

Test(mem, app_region_and_app_destructor_refill)
{
	size_t len = 8 * PN_FRAME_SIZE;
	void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct pn_region *r;
	struct pn_region_info ri;
	struct pn_frame *f, *back[2];

	cr_assert_neq(mem, MAP_FAILED);
	r = pn_region_register(mem, len, PN_NUMA_ANY, "app");
	cr_assert_not_null(r);
	pn_region_info(r, &ri);
	cr_assert_eq(ri.backing, PN_REGION_APP);
	cr_assert_eq(ri.base, mem);

	f = pn_region_app_alloc(r);
	cr_assert_not_null(f);
	cr_assert_eq(pn_frame_type(f), PN_MT_APP);
	cr_assert(f->memdesc & PN_MD_APP_MAP);
	pn_frame_get(f);             /* a second holder */
	pn_frame_put(f);
	cr_assert_eq(pn_region_app_refill(r, back, 2), 0, "still held");
	pn_frame_put(f);             /* final put: APP destructor */
	cr_assert_eq(pn_frame_refcount(f), 0, "frozen in the refill queue");
	cr_assert_eq(pn_region_app_refill(r, back, 2), 1);
	cr_assert_eq(back[0], f);
	cr_assert_eq(pn_frame_refcount(f), 1, "handed out again");
	pn_frame_set_type(f, PN_MT_MISC, 0);
	atomic_store(&f->refcount, 0);
	pn_region_free(r, &f, 1);
	cr_assert_eq(pn_region_destroy(r), 0);
	/* the application's memory is still its own */
	((volatile char *)mem)[0] = 1;
	munmap(mem, len);
}

static int user_dtor_calls;
static struct pn_frame *user_dtor_last;

static void user_dtor(struct pn_frame *f)
{
	user_dtor_calls++;
	user_dtor_last = f;
}

Test(mem, destructor_dispatch_per_type)
{
	/* the pool refills 64 pages at a time: leave some for the APP frame */
	struct pn_pool *p = test_pool(128, 0, 0);
	struct pn_region *r = pn_pool_region(p);
	struct pn_frame *pf, *af, *uf;
	struct pn_pool_stats_sum s;
	const unsigned type = PN_MT_USER0 + 1;

	cr_assert_eq(pn_frame_dtor_register(PN_MT_POOL, user_dtor), -EINVAL,
		     "library types cannot be taken over");
	cr_assert_eq(pn_frame_dtor_register(PN_MT_MAX, user_dtor), -EINVAL);
	cr_assert_eq(pn_frame_dtor_register(type, user_dtor), 0);
	cr_assert_eq(pn_frame_dtor_register(type, user_dtor), -EEXIST);

	/* POOL: final generic put recycles into the owner's cache */
	pf = pn_pool_alloc(p);
	pn_frame_get(pf);
	pn_frame_put(pf);
	pn_pool_get_stats(p, &s);
	cr_assert_eq(s.recycle_cached, 0, "not the final put");
	pn_frame_put(pf);
	pn_pool_get_stats(p, &s);
	cr_assert_eq(s.recycle_cached, 1, "POOL destructor recycles");

	/* APP: back to the region's refill queue */
	af = pn_region_app_alloc(r);
	cr_assert_not_null(af);
	pn_frame_put(af);
	struct pn_frame *back;
	cr_assert_eq(pn_region_app_refill(r, &back, 1), 1);
	cr_assert_eq(back, af);

	/* a test-registered type */
	uf = af;
	pn_frame_set_type(uf, type, 0);
	user_dtor_calls = 0;
	pn_frame_put(uf);
	cr_assert_eq(user_dtor_calls, 1);
	cr_assert_eq(user_dtor_last, uf);
	cr_assert_eq(pn_frame_dtor_unregister(type), 0);

	pn_frame_set_type(uf, PN_MT_MISC, 0);
	pn_region_free(r, &uf, 1);
	test_pool_destroy_clean(p);
}

#ifdef PN_DEBUG
Test(mem, get_on_frozen_frame_is_caught, .signal = SIGABRT)
{
	struct pn_pool *p = test_pool(4, 0, 0);
	struct pn_frame *f = pn_pool_alloc(p);

	pn_pool_put(p, f);  /* frozen in the cache now */
	pn_frame_get(f);    /* bug: must abort in a debug build */
}

Test(mem, put_on_frozen_frame_is_caught, .signal = SIGABRT)
{
	struct pn_pool *p = test_pool(4, 0, 0);
	struct pn_frame *f = pn_pool_alloc(p);

	pn_pool_put(p, f);
	pn_frame_put(f);    /* double put */
}
#else
Test(mem, get_on_frozen_frame_is_caught)
{
	cr_skip_test("built without -Ddebug_checks=true; the debug builds run this");
}
#endif

/* The registry full: ENOSPC at once (not a search of every id), an id
 * given back is found again, twice over (the old search skipped its own
 * cursor), a doubled unregister does not hand one id out twice, and ids
 * come back oldest first. */
Test(mem, holder_registry_full_then_reused)
{
	static uint32_t ids[PN_HOLDER_MAX];
	char buf[128];
	uint32_t n = 0, id, again;
	struct timespec t0, t1;

	while ((id = pn_holder_register("h%u", n)) != 0)
		ids[n++] = id;
	cr_assert_eq(errno, ENOSPC);
	cr_assert_geq(n, PN_HOLDER_MAX - 64, "only %u ids", n); /* others of this process hold some */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(pn_holder_register("full"), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_assert_lt((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec), 50e6,
		     "a full registry searched: 1,000 refusals took over 50 ms");
	/* give one back: found; give it back again, twice: found once */
	pn_holder_unregister(ids[100]);
	again = pn_holder_register("again");
	cr_assert_eq(again, ids[100]);
	cr_assert_str_eq(pn_holder_describe(PN_HOLDER(again, PN_VIA_APP), buf, sizeof(buf)), "again");
	pn_holder_unregister(again);
	pn_holder_unregister(again);
	cr_assert_str_eq(pn_holder_describe(PN_HOLDER(again, PN_VIA_QUEUE), buf, sizeof(buf)),
			 "again (gone) through queued segments");
	cr_assert_eq(pn_holder_register("x"), again);
	cr_assert_eq(pn_holder_register("y"), 0, "a doubled unregister handed an id out twice");
	/* oldest first */
	pn_holder_unregister(ids[7]);
	pn_holder_unregister(ids[3]);
	cr_assert_eq(pn_holder_register("a"), ids[7]);
	cr_assert_eq(pn_holder_register("b"), ids[3]);
	pn_holder_unregister(0);
	pn_holder_unregister(PN_HOLDER_MAX + 5);
	cr_assert_str_eq(pn_holder_describe(PN_HOLDER(ids[3], PN_VIA_APP), buf, sizeof(buf)), "b");
}
