/* SPDX-License-Identifier: BSD-3-Clause */
#include <criterion/criterion.h>
#include <pthread.h>

#include "pn_log.h"
#include "pn_test.h"

Test(pool, create_rejects_bad_params)
{
	struct pn_pool_params pp = { .sz = sizeof(pp), .nr_pages = 4 };

	pp.flags = 0x8000;
	cr_expect_null(pn_pool_create(&pp));
	cr_expect_eq(errno, EINVAL, "unknown flag bits are rejected");
	pp.flags = 0;
	pp.ring_size = 3;
	cr_expect_null(pn_pool_create(&pp));
	pp.ring_size = 0;
	pp.cache_size = PN_POOL_CACHE_MAX + 1;
	cr_expect_null(pn_pool_create(&pp));
	pp.cache_size = 0;
	pp.sz = 4;
	cr_expect_null(pn_pool_create(&pp), "a params struct too small to be ours");
	cr_expect_null(pn_pool_create(NULL));
}

Test(pool, alloc_put_fast_path_and_stats)
{
	struct pn_pool *p = test_pool(256, 0, 0);
	struct pn_pool_stats_sum s;
	struct pn_frame *f = pn_pool_alloc(p);

	cr_assert_not_null(f);
	cr_assert_eq(pn_frame_type(f), PN_MT_POOL);
	cr_assert_eq(pn_frame_refcount(f), 1);
	cr_assert_eq(pn_frame_pool(f), p);
	memset(pn_frame_addr(f), 0xab, PN_FRAME_SIZE);
	pn_pool_put(p, f);
	cr_assert_eq(pn_frame_refcount(f), PN_POOL_HOLDS_REF,
		     "the pool's own in the cache (frozen in debug builds)");
	for (int i = 0; i < 1000; i++)
		pn_pool_put(p, pn_pool_alloc(p));
	pn_pool_get_stats(p, &s);
	cr_assert_eq(s.alloc_slow, 1, "one bulk refill from the region");
	cr_assert_eq(s.alloc_empty, 1, "the ring was empty that time");
	cr_assert_eq(s.alloc_fast, 1000);
	cr_assert_eq(s.recycle_cached, 1001);
	cr_assert_eq(s.recycle_released_refcnt, 0);
	cr_assert_float_eq(pn_pool_recycle_rate(&s), 1.0, 1e-9);
	test_assert_accounted(p);
	cr_assert_eq(pn_pool_inflight(p), 0);
	test_pool_destroy_clean(p);
}

Test(pool, bulk_is_all_or_none)
{
	struct pn_pool *p = test_pool(16, 8, 0);
	struct pn_frame *f[32];

	cr_assert_eq(pn_pool_alloc_bulk(p, f, 32), -ENOMEM);
	cr_assert_eq(pn_pool_inflight(p), 0, "a failed bulk keeps nothing");
	test_assert_accounted(p);
	cr_assert_eq(pn_pool_alloc_bulk(p, f, 16), 0);
	for (unsigned i = 0; i < 16; i++)
		cr_assert_eq(pn_frame_refcount(f[i]), 1);
	cr_assert_eq(pn_pool_inflight(p), 16);
	pn_pool_put_bulk(p, f, 16);
	cr_assert_eq(pn_pool_inflight(p), 0);
	test_assert_accounted(p);
	test_pool_destroy_clean(p);
}

Test(pool, exhaustion_fails_cleanly_and_counts_empty)
{
	struct pn_pool *p = test_pool(32, 0, 0);
	struct pn_frame *f[33];
	struct pn_pool_stats_sum s0, s1;

	for (unsigned i = 0; i < 32; i++) {
		f[i] = pn_pool_alloc(p);
		cr_assert_not_null(f[i]);
		memset(pn_frame_addr(f[i]), (int)i, PN_FRAME_SIZE);
	}
	pn_pool_get_stats(p, &s0);
	errno = 0;
	cr_assert_null(pn_pool_alloc(p));
	cr_assert_eq(errno, ENOMEM);
	pn_pool_get_stats(p, &s1);
	cr_assert_eq(s1.alloc_empty, s0.alloc_empty + 1);
	/* nothing corrupted: every page still holds what we wrote */
	for (unsigned i = 0; i < 32; i++) {
		uint8_t *b = pn_frame_addr(f[i]);

		cr_assert_eq(b[0], (uint8_t)i);
		cr_assert_eq(b[PN_FRAME_SIZE - 1], (uint8_t)i);
		cr_assert_eq(pn_frame_refcount(f[i]), 1);
	}
	pn_pool_put_bulk(p, f, 32);
	cr_assert_not_null(f[32] = pn_pool_alloc(p), "usable again after puts");
	pn_pool_put(p, f[32]);
	test_assert_accounted(p);
	test_pool_destroy_clean(p);
}

struct put_job {
	struct pn_pool *p;
	struct pn_frame **f;
	unsigned n;
};

static void *put_on_other_thread(void *arg)
{
	struct put_job *j = arg;

	for (unsigned i = 0; i < j->n; i++)
		pn_pool_put(j->p, j->f[i]);
	return NULL;
}

static void put_remote(struct pn_pool *p, struct pn_frame **f, unsigned n)
{
	struct put_job j = { p, f, n };
	pthread_t t;

	pthread_create(&t, NULL, put_on_other_thread, &j);
	pthread_join(t, NULL);
}

/* Take every frame out of the owner's cache, so the next alloc must refill. */
static unsigned drain_cache(struct pn_pool *p, struct pn_frame **out)
{
	struct pn_pool_info pi;
	unsigned n = 0;

	for (pn_pool_info(p, &pi); pi.cache_count > 0; pn_pool_info(p, &pi))
		out[n++] = pn_pool_alloc(p);
	return n;
}

Test(pool, remote_puts_go_through_the_ring_and_refill)
{
	struct pn_pool *p = test_pool(64, 0, 16);
	struct pn_frame *f[40];
	struct pn_pool_stats_sum s;
	struct pn_pool_info pi;

	for (unsigned i = 0; i < 40; i++)
		f[i] = pn_pool_alloc(p);
	put_remote(p, f, 40);
	pn_pool_get_stats(p, &s);
	cr_assert_eq(s.recycle_ring, 16);
	cr_assert_eq(s.recycle_ring_full, 24);
	cr_assert_eq(s.recycle_released_refcnt, 24, "ring full: released to the region");
	cr_assert_float_eq(pn_pool_recycle_rate(&s), 16.0 / 40.0, 1e-9);
	pn_pool_info(p, &pi);
	cr_assert_eq(pi.ring_count, 16);
	test_assert_accounted(p);

	/* drain the cache so the next alloc has to refill from the ring */
	struct pn_frame *c[PN_POOL_CACHE_MAX];
	unsigned nc = drain_cache(p, c);
	struct pn_frame *g = pn_pool_alloc(p);
	pn_pool_get_stats(p, &s);
	cr_assert_eq(s.alloc_refill, 1);
	pn_pool_put(p, g);
	pn_pool_put_bulk(p, c, nc);
	test_assert_accounted(p);
	test_pool_destroy_clean(p);
}

Test(pool, owner_cache_full_spills_to_ring)
{
	struct pn_pool *p = test_pool(64, 4, 8);
	struct pn_frame *f[12];
	struct pn_pool_stats_sum s;

	for (unsigned i = 0; i < 12; i++)
		f[i] = pn_pool_alloc(p);
	/* the first refill filled a cache of 4; puts spill over */
	pn_pool_put_bulk(p, f, 12);
	pn_pool_get_stats(p, &s);
	cr_assert_eq(s.recycle_cached, 4);
	cr_assert_eq(s.recycle_cache_full, 8);
	cr_assert_eq(s.recycle_ring, 8);
	test_assert_accounted(p);
	test_pool_destroy_clean(p);
}

Test(pool, numa_waive_releases_foreign_node_pages)
{
	struct pn_pool *p = test_pool(64, 0, 64);
	struct pn_pool_info pi;
	struct pn_pool_stats_sum s;
	struct pn_frame *f[8];
	int other;

	pn_pool_info(p, &pi);
	other = (pi.numa_node == PN_NUMA_ANY ? 0 : pi.numa_node) + 1;
	for (unsigned i = 0; i < 8; i++)
		f[i] = pn_pool_alloc(p);
	cr_assert_neq(pn_frame_node(f[0]), other);
	/* half go into the ring from another thread, before the move */
	put_remote(p, f + 4, 4);
	pn_pool_set_nid(p, other);
	/* owner puts: wrong node, released rather than cached */
	pn_pool_put_bulk(p, f, 4);
	pn_pool_get_stats(p, &s);
	cr_assert_eq(s.alloc_waive, 4);
	cr_assert_eq(s.recycle_cached, 0);
	cr_assert_eq(s.recycle_released_refcnt, 4);
	/* drain the cache; the refill then finds the ring's pages foreign */
	struct pn_frame *c[PN_POOL_CACHE_MAX];
	unsigned nc = drain_cache(p, c);
	struct pn_frame *g = pn_pool_alloc(p);
	cr_assert_not_null(g);
	pn_pool_get_stats(p, &s);
	cr_assert_eq(s.alloc_waive, 8, "ring pages of the old node waived on refill");
	pn_pool_info(p, &pi);
	cr_assert_eq(pi.ring_count, 0);
	pn_pool_set_nid(p, PN_NUMA_ANY);
	pn_pool_put(p, g);
	pn_pool_put_bulk(p, c, nc);
	test_assert_accounted(p);
	test_pool_destroy_clean(p);
}

Test(pool, fragments_share_a_page_and_return_it_once)
{
	struct pn_pool *p = test_pool(8, 0, 0);
	struct pn_frame *fa, *fb, *fc;
	uint8_t *a = pn_pool_alloc_frag(p, 2048, &fa);
	uint8_t *b = pn_pool_alloc_frag(p, 2000, &fb);
	struct pn_pool_stats_sum s;

	cr_assert_not_null(a);
	cr_assert_eq(fa, fb, "two 2 KiB fragments per 4 KiB page");
	cr_assert_eq(b, a + 2048);
	cr_assert_eq(pn_frame_refcount(fa), 1, "fragments do not touch the refcount");
	/* the next fragment needs a new page; the old one's bias is dropped */
	uint8_t *c = pn_pool_alloc_frag(p, 100, &fc);
	cr_assert_neq(fc, fa);
	cr_assert_eq(atomic_load(&fa->frag_count), 2);
	pn_frame_get(fa);                  /* an outside holder */
	pn_pool_frag_free(fa, a);
	pn_pool_frag_free(fb, b);
	pn_pool_get_stats(p, &s);
	cr_assert_eq(s.recycle_cached, 0, "the outside reference keeps the page");
	pn_frame_put(fa);
	pn_pool_get_stats(p, &s);
	cr_assert_eq(s.recycle_cached, 1, "back exactly once");
	pn_pool_frag_free(fc, c);
	cr_assert_null(pn_pool_alloc_frag(p, PN_FRAME_SIZE + 1, &fc));
	cr_assert_eq(errno, EINVAL);
	test_assert_accounted(p);
	test_pool_destroy_clean(p);
}

Test(pool, owner_frag_free_reuses_page_without_atomics)
{
	struct pn_pool *p = test_pool(8, 0, 0);
	struct pn_frame *f1, *f2;
	uint8_t *a = pn_pool_alloc_frag(p, 1024, &f1);

	pn_pool_frag_free(f1, a);
	uint8_t *b = pn_pool_alloc_frag(p, 1024, &f2);
	cr_assert_eq(a, b, "the page is cut again from its start");
	cr_assert_eq(atomic_load(&f1->frag_count), PN_FRAME_SIZE / 1024,
		     "owner frees only touched the pool's own budget");
	pn_pool_frag_free(f2, b);
	test_pool_destroy_clean(p);
}

Test(pool, high_order_pages)
{
	struct pn_pool_params pp = {
		.sz = sizeof(pp), .nr_pages = 8, .order = 2, .numa_node = PN_NUMA_ANY,
	};
	struct pn_pool *p = pn_pool_create(&pp);
	struct pn_pool_stats_sum s;
	struct pn_frame *f;

	cr_assert_not_null(p);
	f = pn_pool_alloc(p);
	cr_assert_eq(pn_frame_order(f), 2);
	cr_assert_eq(pn_pool_page_bytes(p), 4 * PN_FRAME_SIZE);
	memset(pn_frame_addr(f), 1, pn_pool_page_bytes(p));
	cr_assert_eq(pn_addr_to_frame((uint8_t *)pn_frame_addr(f) + 3 * PN_FRAME_SIZE), f);
	pn_pool_get_stats(p, &s);
	cr_assert_eq(s.alloc_slow_high_order, 1);
	cr_assert_eq(s.alloc_slow, 0);
	pn_pool_put(p, f);
	test_assert_accounted(p);
	test_pool_destroy_clean(p);
}

static void *late_put(void *arg)
{
	struct put_job *j = arg;

	for (unsigned i = 0; i < j->n; i++)
		pn_frame_put(j->f[i]); /* generic put: the POOL destructor runs */
	return NULL;
}

Test(pool, destroy_with_pages_in_flight_then_late_puts)
{
	struct pn_region_params rp = { .len = 64 * PN_FRAME_SIZE, .numa_node = PN_NUMA_ANY };
	struct pn_region *r = pn_region_create(&rp);
	struct pn_pool_params pp = { .sz = sizeof(pp), .region = r, .numa_node = PN_NUMA_ANY };
	struct pn_pool *p = pn_pool_create(&pp);
	struct pn_region_info ri;
	struct pn_frame *f[10], *fr;
	struct put_job j;
	pthread_t t;

	cr_assert_not_null(p);
	for (unsigned i = 0; i < 10; i++)
		f[i] = pn_pool_alloc(p);
	uint8_t *frb = pn_pool_alloc_frag(p, 512, &fr); /* a fragment in flight too */
	pn_pool_put_bulk(p, f + 6, 4);     /* some back in the cache */
	cr_assert_eq(pn_region_destroy(r), -EBUSY, "the pool pins its region");

	cr_assert_eq(pn_pool_destroy(p), 7, "six pages and the fragment's page");
	pn_region_info(r, &ri);
	cr_assert_eq(ri.nr_free, ri.nr_frames - 7, "cache released at destroy");

	/* late puts, from another thread and from this one; ASan checks that
	 * nobody touches the pool after the last one freed it */
	j = (struct put_job){ NULL, f, 3 };
	pthread_create(&t, NULL, late_put, &j);
	pthread_join(t, NULL);
	pn_frame_put(f[3]);
	pn_frame_put(f[4]);
	pn_pool_frag_free(fr, frb);
	cr_assert_eq(pn_region_destroy(r), -EBUSY, "one page still held");
	pn_frame_put(f[5]);                /* the last one frees the pool */
	pn_region_info(r, &ri);
	cr_assert_eq(ri.nr_free, ri.nr_frames, "every frame back in the region");
	cr_assert_eq(pn_region_destroy(r), 0, "the pool is gone and unpinned it");
}

Test(pool, destroy_idle_pool_returns_zero)
{
	struct pn_pool *p = test_pool(16, 0, 0);
	struct pn_frame *f[4];

	pn_pool_alloc_bulk(p, f, 4);
	pn_pool_put_bulk(p, f, 4);
	cr_assert_eq(pn_pool_destroy(p), 0);
}

/*
 * Issue "ownership you can trust", finding 1 (the seed-001 class): every
 * fragment share of the pool's current page is back, but a plain reference
 * still sees its bytes. The owner must not cut the page again from its
 * start, on its fast path (shares freed on the owner) nor in the slow path
 * (a share freed on another thread, then a fragment that does not fit).
 */
static void *free_frag_remote(void *arg)
{
	uint8_t *b = arg;

	pn_pool_frag_free(pn_addr_to_frame(b), b);
	return NULL;
}

Test(pool, no_recut_while_a_plain_reference_sees_the_page_owner_path)
{
	struct pn_pool *p = test_pool(8, 0, 0);
	struct pn_frame *f, *f2;
	uint8_t *a = pn_pool_alloc_frag(p, 1024, &f), *b;

	memset(a, 'A', 1024);
	pn_frame_get(f);              /* the holder keeps the bytes alive */
	pn_pool_frag_free(f, a);      /* ...and gives its share back, on the owner */
	b = pn_pool_alloc_frag(p, 1024, &f2);
	memset(b, 'B', 1024);
	for (unsigned i = 0; i < 1024; i++)
		cr_assert_eq(a[i], 'A', "byte %u the holder still sees was overwritten", i);
	cr_assert(b >= a + 1024 || f2 != f, "the next fragment lands after the held bytes");
	pn_frame_put(f);
	pn_pool_frag_free(f2, b);
	test_assert_accounted(p);
	test_pool_destroy_clean(p);
}

Test(pool, no_recut_while_a_plain_reference_sees_the_page_slow_path)
{
	struct pn_pool *p = test_pool(8, 0, 0);
	struct pn_frame *f, *f2;
	uint8_t *a = pn_pool_alloc_frag(p, 1024, &f), *b;
	pthread_t t;

	memset(a, 'A', 1024);
	pn_frame_get(f);
	pthread_create(&t, NULL, free_frag_remote, a); /* frag_count drops */
	pthread_join(t, NULL);
	b = pn_pool_alloc_frag(p, 4096, &f2);  /* does not fit: slow path */
	memset(b, 'B', 4096);
	cr_assert_neq(f2, f, "a page a holder sees is not cut again");
	for (unsigned i = 0; i < 1024; i++)
		cr_assert_eq(a[i], 'A', "byte %u the holder still sees was overwritten", i);
	pn_frame_put(f);             /* the holder's put returns the page */
	pn_pool_frag_free(f2, b);
	test_assert_accounted(p);
	test_pool_destroy_clean(p);
}

Test(pool, page_is_recut_once_nobody_sees_it)
{
	struct pn_pool *p = test_pool(8, 0, 0);
	struct pn_frame *f, *f2;
	uint8_t *a = pn_pool_alloc_frag(p, 1024, &f), *b;

	pn_pool_frag_free(f, a);
	b = pn_pool_alloc_frag(p, 1024, &f2);
	cr_assert_eq(b, a, "no holder left: the page is cut again from its start");
	pn_pool_frag_free(f2, b);
	test_pool_destroy_clean(p);
}

/* Finding 7: sizes the header promises to refuse. */
Test(pool, alloc_frag_refuses_zero_and_wrapping_sizes)
{
	struct pn_pool *p = test_pool(8, 0, 0);
	struct pn_frame *f = NULL;

	errno = 0;
	cr_assert_null(pn_pool_alloc_frag(p, 0, &f));
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_null(pn_pool_alloc_frag(p, 0xFFFFFFF0u, &f), "size + 63 wraps");
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(pn_pool_alloc_frag(p, UINT32_MAX, &f));
	cr_assert_null(pn_pool_alloc_frag(p, PN_FRAME_SIZE + 1, &f));
	/* a good size still works after the refusals, and nothing was taken */
	uint8_t *b = pn_pool_alloc_frag(p, PN_FRAME_SIZE, &f);
	cr_assert_not_null(b);
	pn_pool_frag_free(f, b);
	test_assert_accounted(p);
	test_pool_destroy_clean(p);
}

/* Finding 7: the quarantine debug mode keeps freed pages frozen a while. */
Test(pool, quarantine_delays_reuse_and_keeps_pages_frozen)
{
	struct pn_pool_params pp = {
		.sz = sizeof(pp), .nr_pages = PN_POOL_QUARANTINE + 64,
		.numa_node = PN_NUMA_ANY, .flags = PN_POOL_F_QUARANTINE,
	};
	struct pn_pool *p = pn_pool_create(&pp);
	struct pn_frame *f, *g;

	cr_assert_not_null(p);
	f = pn_pool_alloc(p);
	memset(f->addr, 1, PN_FRAME_SIZE);
	pn_pool_put(p, f);
	cr_assert_eq(pn_frame_refcount(f), 0, "frozen while quarantined");
	cr_assert_eq(f->addr[100], PN_POOL_POISON, "poisoned");
	for (unsigned i = 0; i < PN_POOL_QUARANTINE / 2; i++) {
		g = pn_pool_alloc(p);
		cr_assert_neq(g, f, "a quarantined page is not handed out");
		pn_pool_put(p, g);
	}
	struct pn_pool_info pi;

	pn_pool_info(p, &pi);
	cr_assert_gt(pi.quarantine_count, 0);
	test_assert_accounted(p);
	test_pool_destroy_clean(p);
}

/* The destroy report says who holds what is still out, grouped. */
static char destroy_log[1024];

static void keep_destroy_log(enum pn_log_level level, const char *component, const char *msg,
			     void *arg)
{
	(void)level;
	(void)arg;
	snprintf(destroy_log, sizeof(destroy_log), "%s: %s", component, msg);
}

Test(pool, destroy_report_names_the_holders)
{
	struct pn_pool *p = test_pool(16, 0, 0);
	uint32_t cache = pn_holder_register("reassembly cache %d", 7);
	struct pn_frame *f[3] = { pn_pool_alloc(p), pn_pool_alloc(p), pn_pool_alloc(p) };
	char dump[4096];
	FILE *out = fmemopen(dump, sizeof(dump), "w");

	pn_frame_set_holder(f[0], PN_HOLDER(cache, PN_VIA_APP));
	pn_frame_set_holder(f[1], PN_HOLDER(cache, PN_VIA_APP));
	cr_assert_eq(pn_pool_dump_inflight(p, out), 3);
	fclose(out);
	cr_assert(strstr(dump, "3 pages in flight: reassembly cache 7 holds 2; an unnamed holder holds 1"),
		  "%s", dump);
	pn_log_set_handler(keep_destroy_log, NULL);
	cr_assert_eq(pn_pool_destroy(p), 3);
	pn_log_set_handler(NULL, NULL);
	cr_assert(strstr(destroy_log, "3 pages in flight") &&
		  strstr(destroy_log, "reassembly cache 7 holds 2"), "%s", destroy_log);
	pn_holder_unregister(cache);
	for (int i = 0; i < 3; i++)
		pn_frame_put(f[i]); /* the last one frees the pool */
}

/*
 * Release builds keep the pool's own pages referenced (PN_POOL_HOLDS_REF):
 * a page that went back through the cache, the ring or a final put comes
 * out with no holder said, and held_by counts only the pages out, whoever
 * held them last.
 */
Test(pool, recycled_pages_come_back_unnamed_and_held_by_counts_only_pages_out)
{
	struct pn_pool *p = test_pool(256, 0, 64);
	uint32_t sock = pn_holder_register("socket %d", 3);
	struct pn_frame *f[24], *again[24];
	struct pn_held_group g[4];
	uint32_t total = 0;
	unsigned n;

	for (unsigned i = 0; i < 24; i++) {
		f[i] = pn_pool_alloc(p);
		pn_frame_set_holder(f[i], PN_HOLDER(sock, PN_VIA_QUEUE));
	}
	pn_frame_get(f[23]); /* a second holder: its final put is a plain one */
	pn_pool_put_bulk(p, f, 8);          /* owner: into the cache */
	put_remote(p, f + 8, 8);            /* another thread: into the ring */
	for (unsigned i = 16; i < 24; i++)  /* one by one, the last via the destructor */
		pn_pool_put(p, f[i]);
	n = pn_pool_held_by(p, g, PN_DIM(g), &total);
	cr_assert_eq(total, 1, "only the page with a second holder is out (%u)", total);
	cr_assert_eq(n, 1);
	cr_assert_eq(g[0].holder, PN_HOLDER(sock, PN_VIA_QUEUE));
	pn_frame_put(f[23]);
	n = pn_pool_held_by(p, g, PN_DIM(g), &total);
	cr_assert_eq(total, 0, "%u pages counted out with none out", total);
	cr_assert_eq(n, 0);

	/* out again, from the cache and (once it is empty) from the ring */
	struct pn_frame *c[PN_POOL_CACHE_MAX];
	unsigned nc = drain_cache(p, c);

	for (unsigned i = 0; i < 24; i++) {
		again[i] = pn_pool_alloc(p);
		cr_assert_not_null(again[i]);
		cr_assert_eq(pn_frame_refcount(again[i]), 1);
		cr_assert_eq(pn_frame_holder(again[i]), 0, "page %u kept its last holder", i);
	}
	for (unsigned i = 0; i < nc; i++) {
		cr_assert_eq(pn_frame_refcount(c[i]), 1);
		cr_assert_eq(pn_frame_holder(c[i]), 0);
	}
	n = pn_pool_held_by(p, g, PN_DIM(g), &total);
	cr_assert_eq(total, 24 + nc);
	pn_pool_put_bulk(p, again, 24);
	pn_pool_put_bulk(p, c, nc);
	test_assert_accounted(p);
	pn_holder_unregister(sock);
	test_pool_destroy_clean(p);
}

/*
 * The next page for fragments of the size asked last starts inline (from
 * the owner's cache, its budget known): every page is cut at 0 and 2048,
 * carries frag_count 2, and comes back once both halves are freed; a new
 * size takes the slow path and its own budget.
 */
Test(pool, fragment_pages_started_inline_are_budgeted_and_return)
{
	struct pn_pool *p = test_pool(64, 0, 0);
	struct pn_frame *f[16];
	uint8_t *b[16];
	struct pn_pool_stats_sum s0, s;

	for (unsigned i = 0; i < 16; i++) {
		b[i] = pn_pool_alloc_frag(p, 2048, &f[i]);
		cr_assert_not_null(b[i]);
		cr_assert_eq(b[i], pn_frame_addr(f[i]) + (i % 2) * 2048, "fragment %u", i);
		if (i % 2) {
			cr_assert_eq(f[i], f[i - 1]);
			cr_assert_eq(atomic_load(&f[i]->frag_count), 2, "page of fragment %u", i);
		} else if (i) {
			cr_assert_neq(f[i], f[i - 2], "a new page for fragment %u", i);
		}
		memset(b[i], (int)i, 2048);
	}
	for (unsigned i = 0; i < 16; i++)
		for (unsigned k = 0; k < 2048; k += 511)
			cr_assert_eq(b[i][k], (uint8_t)i, "fragment %u overwritten", i);
	pn_pool_get_stats(p, &s0);
	for (unsigned i = 0; i < 16; i++)
		pn_pool_frag_free(f[i], b[i] + 100);
	pn_pool_get_stats(p, &s);
	cr_assert_eq(s.recycle_cached - s0.recycle_cached, 8, "eight pages back, once each");
	/* another size: its own budget (three 1280-byte fragments a page) */
	struct pn_frame *g[3];
	uint8_t *c[3];

	for (unsigned i = 0; i < 3; i++)
		cr_assert_not_null(c[i] = pn_pool_alloc_frag(p, 1280, &g[i]));
	cr_assert(g[0] == g[1] && g[1] == g[2]);
	cr_assert_eq(c[2], pn_frame_addr(g[0]) + 2560);
	for (unsigned i = 0; i < 3; i++)
		pn_pool_frag_free(g[i], c[i]);
	test_assert_accounted(p);
	test_pool_destroy_clean(p);
}
