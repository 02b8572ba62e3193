/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Every debug check stops the process at the misuse it names: one test per
 * PN_DEBUG_ASSERT, each expecting SIGABRT. Misuse is done through the public
 * API where a user can reach the check; internal invariants are broken by
 * hand (white box) so the check itself is shown to fire.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "pn_mem_priv.h"
#include "pn_test.h"

#ifdef PN_DEBUG

#define DEATH(name, ...) Test(debug, name, .signal = SIGABRT, ##__VA_ARGS__)

static struct pn_pool *pool(void)
{
	return test_pool(64, 0, 0);
}

/* ---- frames */

DEATH(put_on_a_frozen_frame_stale_or_doubled)
{
	struct pn_pool *p = pool();
	struct pn_frame *f = pn_pool_alloc(p);

	pn_pool_put(p, f);
	pn_frame_put(f);
}

DEATH(get_on_a_frozen_frame)
{
	struct pn_pool *p = pool();
	struct pn_frame *f = pn_pool_alloc(p);

	pn_pool_put(p, f);
	pn_frame_get(f);
}

DEATH(put_on_a_descriptor_copied_by_value)
{
	struct pn_pool *p = pool();
	struct pn_frame copy = *pn_pool_alloc(p);

	pn_pool_put(p, &copy);
}

DEATH(put_on_a_made_up_descriptor)
{
	struct pn_frame fake;

	memset(&fake, 0, sizeof(fake));
	fake.memdesc = PN_MT_POOL | ((uint64_t)63 << PN_MD_REGION_SHIFT);
	atomic_store(&fake.refcount, 1);
	pn_frame_put(&fake);
}

DEATH(get_on_a_made_up_descriptor)
{
	struct pn_pool *p = pool();
	struct pn_frame copy = *pn_pool_alloc(p);

	pn_frame_get(&copy);
}

DEATH(pool_put_of_another_pools_frame)
{
	struct pn_pool *a = pool(), *b = pool();

	pn_pool_put(b, pn_pool_alloc(a));
}

DEATH(put_bulk_of_another_pools_frame)
{
	struct pn_pool *a = pool(), *b = pool();
	struct pn_frame *f = pn_pool_alloc(a);

	pn_pool_put_bulk(b, &f, 1);
}

DEATH(thaw_of_a_frame_that_is_not_frozen)
{
	struct pn_pool *p = pool();

	pn_frame_thaw(pn_pool_alloc(p));
}

/* A frame straight from a small region of its own (frozen, type MISC). */
static struct pn_frame *region_frame(struct pn_region **rp)
{
	struct pn_region_params params = { .len = 16 * PN_FRAME_SIZE, .numa_node = PN_NUMA_ANY };
	struct pn_region *r = pn_region_create(&params);
	struct pn_frame *f;

	cr_assert_eq(pn_region_alloc(r, 0, 1, &f), 1);
	if (rp)
		*rp = r;
	return f;
}

DEATH(final_put_on_a_free_frame)
{
	struct pn_frame *f = region_frame(NULL);

	pn_frame_thaw(f);
	pn_frame_set_type(f, PN_MT_FREE, 0);
	pn_frame_put(f);
}

DEATH(final_put_on_an_offline_frame)
{
	struct pn_frame *f = region_frame(NULL);

	pn_frame_thaw(f);
	pn_frame_set_type(f, PN_MT_OFFLINE, 0);
	pn_frame_put(f);
}

DEATH(region_free_of_a_referenced_frame)
{
	struct pn_region *r;
	struct pn_frame *f = region_frame(&r);

	pn_frame_thaw(f);
	pn_region_free(r, &f, 1);
}

DEATH(region_free_twice)
{
	struct pn_region *r;
	struct pn_frame *f = region_frame(&r);

	pn_region_free(r, &f, 1);
	pn_region_free(r, &f, 1);
}

DEATH(app_refill_queue_overflow)
{
	struct pn_region_params rp = { .len = 2 * PN_FRAME_SIZE, .numa_node = PN_NUMA_ANY };
	struct pn_region *r = pn_region_create(&rp);
	struct pn_frame *f = pn_region_app_alloc(r);

	/* white box: the same frame released more often than the region
	 * has frames, which only a broken refcount can do */
	for (unsigned i = 0; i < 64; i++) {
		pn_frame_put(f);
		atomic_store(&f->refcount, 1);
	}
}

/* ---- fragments */

DEATH(fragment_freed_twice_on_the_owner)
{
	struct pn_pool *p = pool();
	struct pn_frame *f;
	uint8_t *a = pn_pool_alloc_frag(p, 512, &f);

	pn_pool_alloc_frag(p, 512, &f); /* another live fragment on the page */
	pn_pool_frag_free(f, a);
	pn_pool_frag_free(f, a);
}

static void *free_twice(void *arg)
{
	uint8_t *a = arg;
	struct pn_frame *f = pn_addr_to_frame(a);

	pn_pool_frag_free(f, a);
	pn_pool_frag_free(f, a);
	return NULL;
}

DEATH(fragment_freed_twice_on_another_thread)
{
	struct pn_pool *p = pool();
	struct pn_frame *f;
	uint8_t *a = pn_pool_alloc_frag(p, 512, &f);
	pthread_t t;

	pn_pool_alloc_frag(p, 512, &f);
	pthread_create(&t, NULL, free_twice, a);
	pthread_join(t, NULL);
}

static void *free_once(void *arg)
{
	uint8_t *a = arg;

	pn_pool_frag_free(pn_addr_to_frame(a), a);
	return NULL;
}

DEATH(fragment_freed_twice_by_racing_threads, .timeout = 60)
{
	struct pn_pool *p = pool();

	/* two threads free the same fragment at once, again and again: one
	 * of the two checks (not live / claimed by the other) must stop it */
	for (;;) {
		struct pn_frame *f;
		uint8_t *a = pn_pool_alloc_frag(p, 512, &f);
		pthread_t t[2];

		pn_pool_alloc_frag(p, 512, &f); /* keep the page alive */
		for (int i = 0; i < 2; i++)
			pthread_create(&t[i], NULL, free_once, a);
		for (int i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
	}
}

DEATH(fragment_never_handed_out)
{
	struct pn_pool *p = pool();
	struct pn_frame *f;
	uint8_t *a = pn_pool_alloc_frag(p, 512, &f);

	pn_pool_frag_free(f, a + 1024); /* the uncut rest of the page */
}

DEATH(fragment_free_with_an_address_outside_its_page)
{
	struct pn_pool *p = pool();
	struct pn_frame *f, *g;
	uint8_t *a = pn_pool_alloc_frag(p, 4096, &f);
	uint8_t *b = pn_pool_alloc_frag(p, 4096, &g);

	(void)a;
	pn_pool_frag_free(f, b);
}

DEATH(fragment_free_of_a_whole_page)
{
	struct pn_pool *p = pool();
	struct pn_frame *f = pn_pool_alloc(p);

	pn_pool_frag_free(f, f->addr);
}

DEATH(frag_count_underflow)
{
	struct pn_pool *p = pool();

	/* the share-less helper on a page that has no fragments */
	pn_frame_frag_sub(pn_pool_alloc(p), 1);
}

DEATH(page_put_while_a_fragment_is_live)
{
	struct pn_pool *p = pool();
	struct pn_frame *f, *g;

	pn_pool_alloc_frag(p, 4096, &f);   /* the page is all the fragment's */
	pn_pool_alloc_frag(p, 64, &g);     /* the pool moves on */
	pn_frame_put(f);                   /* drops the pool's own reference */
}

DEATH(put_bulk_while_a_fragment_is_live)
{
	struct pn_pool *p = pool();
	struct pn_frame *f, *g;

	pn_pool_alloc_frag(p, 4096, &f);
	pn_pool_alloc_frag(p, 64, &g);
	pn_pool_put_bulk(p, &f, 1);
}

DEATH(fragment_cut_from_a_made_up_frame)
{
	struct pn_frame fake;

	memset(&fake, 0, sizeof(fake));
	pn_frag_track_cut(&fake, 0, 64);
}

DEATH(fragment_free_of_a_made_up_frame)
{
	struct pn_frame fake;

	memset(&fake, 0, sizeof(fake));
	pn_frag_track_free(&fake, NULL);
}

DEATH(fragment_cut_over_a_live_fragment)
{
	struct pn_pool *p = pool();
	struct pn_frame *f;
	uint8_t *a = pn_pool_alloc_frag(p, 512, &f);

	pn_frag_track_cut(f, (uint32_t)(a - f->addr), 64); /* white box */
}

DEATH(page_recut_under_a_live_fragment_slow_path)
{
	struct pn_pool *p = pool();
	struct pn_frame *f, *g;
	uint8_t *a = pn_pool_alloc_frag(p, 512, &f);
	pthread_t t;

	pn_frag_track_cut(f, 2048, 64); /* white box, as below */
	pthread_create(&t, NULL, free_once, a); /* frag_count says: all back */
	pthread_join(t, NULL);
	pn_pool_alloc_frag(p, 4096, &g);        /* does not fit: the slow path */
}

DEATH(page_recut_under_a_live_fragment)
{
	struct pn_pool *p = pool();
	struct pn_frame *f;
	uint8_t *a = pn_pool_alloc_frag(p, 512, &f);

	/* white box: a fragment the pool's own count does not know about */
	pn_frag_track_cut(f, 2048, 64);
	pn_pool_frag_free(f, a); /* the owner's count says the page is idle */
}

static void *alloc_frag_here(void *arg)
{
	struct pn_frame *f;

	return pn_pool_alloc_frag(arg, 64, &f);
}

DEATH(alloc_frag_off_the_owner_thread)
{
	struct pn_pool *p = pool();
	pthread_t t;

	pthread_create(&t, NULL, alloc_frag_here, p);
	pthread_join(t, NULL);
}

/* ---- quarantine: stale holders named where they act */

static struct pn_pool *quarantine_pool(void)
{
	struct pn_pool_params pp = {
		.sz = sizeof(pp), .nr_pages = 512, .numa_node = PN_NUMA_ANY,
		.flags = PN_POOL_F_QUARANTINE,
	};
	struct pn_pool *p = pn_pool_create(&pp);

	cr_assert_not_null(p);
	return p;
}

DEATH(quarantine_stale_put_stops_in_the_stale_caller)
{
	struct pn_pool *p = quarantine_pool();
	struct pn_frame *f = pn_pool_alloc(p);
	struct pn_frame *stale = f;

	pn_pool_put(p, f);
	/* without the quarantine the page would already be someone else's */
	(void)pn_pool_alloc(p);
	pn_pool_put(p, stale);
}

DEATH(quarantine_stale_fragment_free_stops_in_the_stale_caller)
{
	struct pn_pool *p = quarantine_pool();
	struct pn_frame *f, *g;
	uint8_t *a = pn_pool_alloc_frag(p, 4096, &f);

	pn_pool_frag_free(f, a);
	(void)pn_pool_alloc_frag(p, 4096, &g);
	pn_pool_frag_free(f, a);
}

/* Two packets share a 4 KiB page (2 KiB buffers): once both are freed the
 * page sits poisoned in the quarantine. */
static struct pn_pkt *stale_packet(struct pn_pool *p, bool chained)
{
	struct pn_pkt *a = pn_pkt_alloc(p), *b = pn_pkt_alloc(p);
	struct pn_pool_info pi;

	cr_assert_not_null(a);
	cr_assert_not_null(b);
	cr_assert_eq(pn_pkt_own_shinfo(a)->frame, pn_pkt_own_shinfo(b)->frame);
	pn_pkt_append(a, 100);
	if (chained)
		pn_pkt_chain(a, b);
	else
		pn_pkt_free(b);
	pn_pkt_free(a);
	pn_pool_info(p, &pi);
	cr_assert_eq(pi.quarantine_count, 1, "the page waits in the quarantine");
	(void)pn_pkt_alloc(p); /* without the quarantine a's buffer would be this */
	return a;
}

DEATH(quarantine_stale_packet_free_stops_in_the_stale_caller)
{
	struct pn_pkt *stale = stale_packet(quarantine_pool(), false);

	pn_pkt_free(stale);
}

DEATH(quarantine_stale_chain_free_stops_in_the_stale_caller)
{
	struct pn_pkt *stale = stale_packet(quarantine_pool(), true);

	pn_pkt_free(stale);
}

DEATH(quarantine_stale_bulk_free_stops_in_the_stale_caller)
{
	struct pn_pkt *stale[2] = { NULL, stale_packet(quarantine_pool(), false) };

	pn_pkt_free_bulk(stale, 2);
}

DEATH(quarantine_write_after_put_is_reported)
{
	struct pn_pool *p = quarantine_pool();
	struct pn_frame *f = pn_pool_alloc(p);

	pn_pool_put(p, f);
	f->addr[10] = 1; /* a holder that let go writes anyway */
	for (unsigned i = 0; i <= PN_POOL_QUARANTINE; i++)
		pn_pool_put(p, pn_pool_alloc(p)); /* push f out of the FIFO */
}

/* ---- packets */

DEATH(packet_freed_twice)
{
	struct pn_pool *p = pool();
	struct pn_pkt *a = pn_pkt_alloc(p), *b = pn_pkt_alloc(p);

	(void)b;
	pn_pkt_free(a);
	pn_pkt_free(a);
}

DEATH(push_on_a_shared_packet)
{
	struct pn_pool *p = pool();
	struct pn_pkt *a = pn_pkt_alloc(p);

	(void)pn_pkt_clone(a);
	pn_pkt_push(a, 4);
}

DEATH(append_on_a_shared_packet)
{
	struct pn_pool *p = pool();
	struct pn_pkt *a = pn_pkt_alloc(p);

	(void)pn_pkt_clone(a);
	pn_pkt_append(a, 4);
}

#else

Test(debug, checks_compiled_out)
{
	cr_skip_test("built without -Ddebug_checks=true: there are no debug checks to test");
}

#endif
