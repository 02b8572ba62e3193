/* SPDX-License-Identifier: BSD-3-Clause */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <pthread.h>

#include "pn_csum.h"
#include "pn_test.h"

static struct pn_pool *pool;

static void setup(void)
{
	pool = test_pool(64, 0, 0);
}

static void teardown(void)
{
	test_assert_accounted(pool);
	test_pool_destroy_clean(pool);
}

TestSuite(pkt, .init = setup, .fini = teardown);

Test(pkt, alloc_push_pull_append_trim)
{
	struct pn_pkt *p = pn_pkt_alloc(pool);
	uint32_t room;

	cr_assert_not_null(p);
	cr_assert_eq(pn_pkt_headroom(p), PN_PKT_HEADROOM);
	room = pn_pkt_tailroom(p);
	cr_assert_eq(room, 2048 - PN_PKT_HDR_SIZE - PN_PKT_HEADROOM);
	memcpy(pn_pkt_append(p, 100), "payload", 7);
	cr_assert_eq(p->len, 100);
	cr_assert_eq(pn_pkt_tailroom(p), room - 100);
	uint8_t *h = pn_pkt_push(p, 14);
	cr_assert_eq(h + 14, (uint8_t *)memchr(h, 'p', 100));
	cr_assert_eq(p->pkt_len, 114);
	cr_assert_null(pn_pkt_push(p, PN_PKT_HEADROOM), "headroom exhausted");
	cr_assert_null(pn_pkt_append(p, room), "tailroom exhausted");
	cr_assert_eq(pn_pkt_pull(p, 14), h + 14);
	cr_assert_null(pn_pkt_pull(p, 101));
	cr_assert_eq(pn_pkt_trim(p, 7), 0);
	cr_assert_eq(p->len, 7);
	cr_assert_eq(memcmp(pn_pkt_data(p), "payload", 7), 0);
	cr_assert_eq(pn_pkt_trim(p, 8), -EINVAL);
	pn_pkt_free(p);
}

Test(pkt, fragments_copy_and_trim)
{
	struct pn_pkt *p = pn_pkt_alloc(pool);
	struct pn_frame *f1, *f2;
	uint8_t *a = pn_pool_alloc_frag(pool, 1000, &f1);
	uint8_t *b = pn_pool_alloc_frag(pool, 1000, &f2);
	char out[64];

	memcpy(pn_pkt_append(p, 4), "head", 4);
	memset(a, 'a', 1000);
	memset(b, 'b', 1000);
	cr_assert_eq(pn_pkt_add_frag(p, f1, (uint32_t)(a - f1->addr), 1000, PN_PKT_FRAG_SHARE), 0);
	cr_assert_eq(pn_pkt_add_frag(p, f2, (uint32_t)(b - f2->addr), 1000, PN_PKT_FRAG_SHARE), 0);
	cr_assert_eq(p->len, 2004);
	cr_assert_eq(p->data_len, 2000);
	cr_assert_eq(pn_pkt_tailroom(p), 0);
	cr_assert_eq(pn_pkt_copy_bits(p, 2, out, 4), 0);
	cr_assert_eq(memcmp(out, "adaa", 4), 0);
	cr_assert_eq(pn_pkt_copy_bits(p, 1002, out, 4), 0);
	cr_assert_eq(memcmp(out, "aabb", 4), 0);
	cr_assert_eq(pn_pkt_copy_bits(p, 2000, out, 5), -EINVAL);
	cr_assert_eq(pn_pkt_trim(p, 500), 0);
	cr_assert_eq(p->shinfo->nr_frags, 1, "second fragment dropped");
	cr_assert_eq(p->data_len, 496);
	pn_pkt_free(p);
}

Test(pkt, clone_shares_data_and_survives_original)
{
	struct pn_pkt *p = pn_pkt_alloc(pool);
	struct pn_pkt *c;

	memcpy(pn_pkt_append(p, 5), "hello", 5);
	c = pn_pkt_clone(p);
	cr_assert_not_null(c);
	cr_assert_eq(pn_pkt_data(c), pn_pkt_data(p), "no copy");
	cr_assert(pn_pkt_cloned(p));
	cr_assert(pn_pkt_cloned(c));
	pn_pkt_free(p);
	cr_assert_eq(memcmp(pn_pkt_data(c), "hello", 5), 0, "data outlives the original");
	cr_assert_eq(pn_pkt_unshare(c), 0);
	cr_assert(!pn_pkt_cloned(c) || c->shinfo != pn_pkt_own_shinfo(c));
	cr_assert_eq(memcmp(pn_pkt_data(c), "hello", 5), 0);
	pn_pkt_free(c);
}

Test(pkt, expand_head_of_private_packet_moves_fragments)
{
	struct pn_pkt *p = pn_pkt_alloc(pool);
	struct pn_frame *f;
	uint8_t *a = pn_pool_alloc_frag(pool, 512, &f);

	memcpy(pn_pkt_append(p, 3), "abc", 3);
	pn_pkt_add_frag(p, f, (uint32_t)(a - f->addr), 512, PN_PKT_FRAG_SHARE);
	cr_assert_eq(pn_pkt_expand_head(p, 600, 0), 0);
	cr_assert_geq(pn_pkt_headroom(p), 600);
	cr_assert_eq(memcmp(pn_pkt_data(p), "abc", 3), 0);
	cr_assert_eq(p->shinfo->frags[0].kind, PN_PKT_FRAG_SHARE, "moved, not re-referenced");
	cr_assert_eq(pn_frame_refcount(f), 1);
	cr_assert_eq(pn_pkt_expand_head(p, 4000, 0), -EMSGSIZE);
	pn_pkt_free(p);
}

Test(pkt, chain_and_free_whole_chain)
{
	struct pn_pkt *a = pn_pkt_alloc(pool), *b = pn_pkt_alloc(pool), *c = pn_pkt_alloc(pool);
	char out[9];

	memcpy(pn_pkt_append(a, 3), "one", 3);
	memcpy(pn_pkt_append(b, 3), "two", 3);
	memcpy(pn_pkt_append(c, 3), "six", 3);
	pn_pkt_chain(b, c);
	pn_pkt_chain(a, b);
	cr_assert_eq(a->nb_segs, 3);
	cr_assert_eq(a->pkt_len, 9);
	cr_assert_eq(pn_pkt_copy_bits(a, 0, out, 9), 0);
	cr_assert_eq(memcmp(out, "onetwosix", 9), 0);
	struct pn_pkt *cl = pn_pkt_clone(a);
	cr_assert_eq(pn_pkt_copy_bits(cl, 0, out, 9), 0);
	cr_assert_eq(memcmp(out, "onetwosix", 9), 0);
	pn_pkt_free(a);
	pn_pkt_free(cl);
}

/*
 * The page_pool fragment thread: a packet with fragments of a pool page is cloned; the clone's
 * head is expanded (plain references on the fragment pages) while the
 * original is freed and another holder keeps a plain reference. Whatever
 * order the three owners let go in, the fragment page returns to its pool
 * exactly once and only after the last of them.
 */
struct order {
	int step[3]; /* 0 = free original, 1 = free clone, 2 = put holder's ref */
};

ParameterizedTestParameters(pkt, seed001_clone_expand_head_every_order)
{
	static struct order orders[] = {
		{ { 0, 1, 2 } }, { { 0, 2, 1 } }, { { 1, 0, 2 } },
		{ { 1, 2, 0 } }, { { 2, 0, 1 } }, { { 2, 1, 0 } },
	};

	return cr_make_param_array(struct order, orders, PN_DIM(orders));
}

static unsigned cache_occurrences(struct pn_pool *p, struct pn_frame *f)
{
	unsigned n = 0, cnt = atomic_load(&p->alloc.count);

	for (unsigned i = 0; i < cnt; i++)
		n += p->alloc.cache[i] == f;
	return n;
}

ParameterizedTest(struct order *o, pkt, seed001_clone_expand_head_every_order)
{
	struct pn_pkt *orig, *clone;
	struct pn_frame *pg, *pg2;
	struct pn_pool_stats_sum s0, s;
	uint8_t *f1, *f2;

	/* two fragments of one pool page in the original packet */
	orig = pn_pkt_alloc(pool);
	memcpy(pn_pkt_append(orig, 4), "HEAD", 4);
	f1 = pn_pool_alloc_frag(pool, 1024, &pg);
	f2 = pn_pool_alloc_frag(pool, 1024, &pg2);
	cr_assert_eq(pg, pg2);
	memset(f1, 'x', 1024);
	memset(f2, 'y', 1024);
	pn_pkt_add_frag(orig, pg, (uint32_t)(f1 - pg->addr), 1024, PN_PKT_FRAG_SHARE);
	pn_pkt_add_frag(orig, pg, (uint32_t)(f2 - pg->addr), 1024, PN_PKT_FRAG_SHARE);

	clone = pn_pkt_clone(orig);
	cr_assert_not_null(clone);
	cr_assert_eq(pn_pkt_expand_head(clone, 256, 0), 0);
	cr_assert_eq(pn_frame_refcount(pg), 3, "pool's share + clone's two plain refs");
	pn_frame_get(pg); /* another holder */

	/* the pool stops cutting from the page: only the packets hold it now */
	{
		struct pn_frame *tmp;
		uint8_t *t = pn_pool_alloc_frag(pool, 4096, &tmp);

		cr_assert_neq(tmp, pg);
		pn_pool_frag_free(tmp, t);
	}
	pn_pool_get_stats(pool, &s0);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(cache_occurrences(pool, pg), 0, "recycled early at step %d", i);
		switch (o->step[i]) {
		case 0:
			pn_pkt_free(orig);
			break;
		case 1: {
			char out[8];

			cr_assert_eq(pn_pkt_copy_bits(clone, 0, out, 8), 0);
			cr_assert_eq(memcmp(out, "HEADxxxx", 8), 0, "clone still reads its data");
			pn_pkt_free(clone);
			break;
		}
		case 2:
			pn_frame_put(pg);
			break;
		}
	}
	pn_pool_get_stats(pool, &s);
	cr_assert_eq(cache_occurrences(pool, pg), 1, "page back in its pool exactly once");
	cr_assert_eq(pn_frame_refcount(pg), PN_POOL_HOLDS_REF, "pooled");
	cr_assert_eq(atomic_load(&pg->frag_count), 0);
	cr_assert_eq(pn_pool_inflight(pool), 0, "no leak");
	cr_assert_eq(s.recycle_released_refcnt, s0.recycle_released_refcnt);
}

/*
 * Finding 1 as a user meets it: payload fragments from an RX pool, heads
 * from this suite's pool; clone, expand the clone's head, free the original
 * on the owner thread. The next RX fragment must not land on the bytes the
 * clone still reads.
 */
Test(pkt, clone_expand_head_keeps_rx_bytes_from_the_next_fragment)
{
	struct pn_pool *rx = test_pool(16, 0, 0);
	struct pn_frame *pg, *pg2;
	uint8_t *pay = pn_pool_alloc_frag(rx, 1024, &pg), *next;
	struct pn_pkt *orig = pn_pkt_alloc(pool), *clone;
	uint8_t out[1024];

	memset(pay, 'A', 1024);
	memcpy(pn_pkt_append(orig, 3), "HDR", 3);
	cr_assert_eq(pn_pkt_add_frag(orig, pg, (uint32_t)(pay - pg->addr), 1024,
				     PN_PKT_FRAG_SHARE), 0);
	clone = pn_pkt_clone(orig);
	cr_assert_eq(pn_pkt_expand_head(clone, 0, 0), 0);
	pn_pkt_free(orig);         /* the share goes back on the owner */
	next = pn_pool_alloc_frag(rx, 1024, &pg2);
	memset(next, 'B', 1024);
	cr_assert_eq(pn_pkt_copy_bits(clone, 3, out, 1024), 0);
	for (unsigned i = 0; i < 1024; i++)
		cr_assert_eq(out[i], 'A', "clone's byte %u overwritten by the next fragment", i);
	pn_pkt_free(clone);
	pn_pool_frag_free(pg2, next);
	test_assert_accounted(rx);
	test_pool_destroy_clean(rx);
}

/* Finding 3: after unshare / expand_head the data is private. */
Test(pkt, unshare_and_expand_head_make_the_packet_private)
{
	struct pn_pkt *a = pn_pkt_alloc(pool), *c;
	struct pn_frame *pg;
	uint8_t *fr = pn_pool_alloc_frag(pool, 256, &pg);

	memcpy(pn_pkt_append(a, 4), "ping", 4);
	c = pn_pkt_clone(a);
	cr_assert(pn_pkt_cloned(a) && pn_pkt_cloned(c));
	cr_assert_eq(pn_pkt_unshare(c), 0);
	cr_assert(!pn_pkt_cloned(c), "unshare makes it private");
	cr_assert(!pn_pkt_cloned(a), "the original is the data's only user again");
	cr_assert_not_null(pn_pkt_push(c, 14), "push works (debug builds used to abort)");
	cr_assert_eq(pn_pkt_add_frag(c, pg, (uint32_t)(fr - pg->addr), 256, PN_PKT_FRAG_SHARE), 0,
		     "add_frag no longer answers -EBUSY for good");
	pn_pkt_free(a);
	pn_pkt_free(c); /* with the fragment it took */

	/* expand_head of a packet whose own buffer a clone still shares */
	a = pn_pkt_alloc(pool);
	memcpy(pn_pkt_append(a, 4), "pong", 4);
	c = pn_pkt_clone(a);
	cr_assert_eq(pn_pkt_expand_head(a, 64, 0), 0);
	cr_assert(!pn_pkt_cloned(a));
	cr_assert_not_null(pn_pkt_push(a, 8));
	pn_pkt_free(a);
	pn_pkt_free(c);
}

/* A packet whose bytes are data[0..len) split as: linear cut[0], then one
 * fragment per further cut (each a fragment of this suite's pool). */
static struct pn_pkt *split_packet(const uint8_t *data, const uint32_t *cuts, unsigned ncuts)
{
	struct pn_pkt *p = pn_pkt_alloc(pool);
	uint32_t pos = 0;

	cr_assert_not_null(p);
	memcpy(pn_pkt_append(p, cuts[0]), data, cuts[0]);
	pos = cuts[0];
	for (unsigned i = 1; i < ncuts; i++) {
		struct pn_frame *f;
		/* an odd start inside the fragment, so offsets are not aligned */
		uint8_t *b = pn_pool_alloc_frag(pool, cuts[i] + 64, &f);

		cr_assert_not_null(b);
		memcpy(b + 3, data + pos, cuts[i]);
		cr_assert_eq(pn_pkt_add_frag(p, f, (uint32_t)(b + 3 - f->addr), (uint16_t)cuts[i],
					     PN_PKT_FRAG_SHARE), 0);
		pos += cuts[i];
	}
	return p;
}

Test(pkt, checksum_across_fragments_equals_contiguous)
{
	uint8_t data[3000];
	uint64_t seed = 12345;

	for (unsigned i = 0; i < sizeof(data); i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		data[i] = (uint8_t)(seed >> 56);
	}
	for (unsigned trial = 0; trial < 200; trial++) {
		uint32_t cuts[PN_PKT_MAX_FRAGS + 1], total = 0;
		unsigned nc = 1 + trial % (PN_PKT_MAX_FRAGS + 1);

		for (unsigned i = 0; i < nc; i++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			cuts[i] = 1 + (uint32_t)(seed >> 33) % 400; /* odd and even */
			total += cuts[i];
		}
		struct pn_pkt *p = split_packet(data, cuts, nc);
		uint32_t off = trial % 7, len = total - off - trial % 5;
		uint16_t want = pn_csum_fold(pn_csum_add(0, data + off, len));
		uint16_t got = pn_csum_fold(pn_pkt_csum_add(p, off, len, 0));

		cr_assert_eq(got, want, "trial %u: %u pieces, off %u len %u", trial, nc, off, len);
		pn_pkt_free(p);
	}
}

Test(pkt, may_pull_and_adj_move_across_fragments)
{
	uint8_t data[600], out[600];
	uint32_t cuts[] = { 5, 7, 300, 288 };
	struct pn_pkt *p, *c;

	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 1);
	p = split_packet(data, cuts, 4);
	cr_assert_eq(pn_pkt_headlen(p), 5);
	cr_assert_eq(pn_pkt_may_pull(p, 40), 0, "headers across two fragments");
	cr_assert_eq(pn_pkt_headlen(p), 40);
	cr_assert_eq(memcmp(pn_pkt_data(p), data, 40), 0);
	cr_assert_eq(p->len, 600);
	cr_assert_eq(p->shinfo->nr_frags, 2, "the emptied fragment was given back");
	cr_assert_eq(pn_pkt_may_pull(p, 601), -EINVAL);
	/* a clone keeps seeing the old layout while the original moves on */
	c = pn_pkt_clone(p);
	cr_assert_eq(pn_pkt_adj(p, 100), 0, "past the linear part into a fragment");
	cr_assert_eq(p->len, 500);
	cr_assert_eq(pn_pkt_copy_bits(p, 0, out, 500), 0);
	cr_assert_eq(memcmp(out, data + 100, 500), 0);
	cr_assert_eq(pn_pkt_copy_bits(c, 0, out, 600), 0);
	cr_assert_eq(memcmp(out, data, 600), 0, "the clone's bytes are untouched");
	cr_assert_eq(pn_pkt_adj(p, 500), 0);
	cr_assert_eq(p->len, 0);
	cr_assert_eq(p->shinfo->nr_frags, 0);
	cr_assert_eq(pn_pkt_adj(p, 1), -EINVAL);
	pn_pkt_free(p);
	pn_pkt_free(c);
}

/*
 * Found by the model test (shrunk from 555,489 operations to 8): flattening
 * a chain whose later segment is a clone turned the clone's linear data
 * into a plain page reference; the buffer's owner, no longer "cloned", then
 * pushed a header into bytes the flattened packet still showed.
 */
Test(pkt, flatten_of_a_cloned_segment_keeps_its_bytes)
{
	struct pn_pkt *p1 = pn_pkt_alloc(pool), *c1, *p2 = pn_pkt_alloc(pool), *c2;
	uint8_t want[300], out[300];

	for (unsigned i = 0; i < sizeof(want); i++)
		want[i] = (uint8_t)(i * 13 + 5);
	memcpy(pn_pkt_append(p2, 100), want, 100);
	memcpy(pn_pkt_append(p1, 200), want + 100, 200);
	c1 = pn_pkt_clone(p1);
	cr_assert_eq(pn_pkt_adj(p1, 50), 0); /* p1 moves on; its headroom grows */
	c2 = pn_pkt_clone(p2);
	pn_pkt_chain(c2, c1);
	cr_assert_eq(pn_pkt_flatten(c2), 0);
	cr_assert_null(c2->next);
	cr_assert_eq(pn_pkt_unshare(p1), 0);
	memset(pn_pkt_push(p1, 50), 0xee, 50); /* into the bytes c1 had */
	cr_assert_eq(pn_pkt_copy_bits(c2, 0, out, 300), 0);
	cr_assert_eq(memcmp(out, want, 300), 0, "the flattened packet's bytes changed");
	pn_pkt_free(p1);
	pn_pkt_free(p2);
	pn_pkt_free(c2);
}

struct bulk_job {
	struct pn_pkt **p;
	unsigned n;
};

static void *free_bulk_elsewhere(void *arg)
{
	struct bulk_job *j = arg;

	pn_pkt_free_bulk(j->p, j->n);
	return NULL;
}

static void fill_pattern(struct pn_pkt *p, unsigned seed, uint32_t len)
{
	uint8_t *d = pn_pkt_append(p, len);

	for (uint32_t k = 0; k < len; k++)
		d[k] = (uint8_t)(seed * 31 + k);
}

static bool pattern_ok(struct pn_pkt *p, unsigned seed, uint32_t len)
{
	uint8_t buf[1200];

	if (p->len < len || pn_pkt_copy_bits(p, 0, buf, len) != 0)
		return false;
	for (uint32_t k = 0; k < len; k++)
		if (buf[k] != (uint8_t)(seed * 31 + k))
			return false;
	return true;
}

/*
 * pn_pkt_free_bulk on the owner and on another thread: packets with
 * fragments, chains and clones; the clones keep their bytes while the
 * originals go, every page comes back exactly once (the other thread's
 * through the recycle ring) and none is released to the region.
 */
Test(pkt, free_bulk_on_owner_and_other_thread_returns_every_page_once)
{
	struct pn_pool *bp = test_pool(512, 0, 1024);
	struct pn_pkt *p[96], *c[96];
	unsigned nc = 0;
	struct pn_pool_stats_sum s0, s;

	for (unsigned i = 0; i < 96; i++) {
		struct pn_frame *f;
		uint8_t *fr;

		cr_assert_not_null(p[i] = pn_pkt_alloc(bp));
		fill_pattern(p[i], i, 100 + i * 7);
		if (i % 3 == 0) { /* a fragment of its own */
			cr_assert_not_null(fr = pn_pool_alloc_frag(bp, 512, &f));
			memset(fr, 0x5a, 512);
			cr_assert_eq(pn_pkt_add_frag(p[i], f, (uint32_t)(fr - f->addr), 512,
						     PN_PKT_FRAG_SHARE), 0);
		}
	}
	for (unsigned i = 0; i + 1 < 96; i += 8) { /* a few chains */
		pn_pkt_chain(p[i], p[i + 1]);
		p[i + 1] = NULL;
	}
	for (unsigned i = 2; i < 96; i += 5)
		if (p[i] != NULL)
			cr_assert_not_null(c[nc++] = pn_pkt_clone(p[i]));
	pn_pool_get_stats(bp, &s0);

	struct bulk_job j = { p, 48 };
	pthread_t t;

	pthread_create(&t, NULL, free_bulk_elsewhere, &j);
	pthread_join(t, NULL);
	pn_pkt_free_bulk(p + 48, 48);
	/* each clone still reads the bytes of the packet it was cloned from */
	for (unsigned k = 0, i = 2; i < 96; i += 5) {
		if ((i % 8) == 1)
			continue; /* was chained away, not cloned */
		cr_assert(pattern_ok(c[k], i, 100 + i * 7), "clone of packet %u changed", i);
		k++;
	}
	j = (struct bulk_job){ c, nc };
	pthread_create(&t, NULL, free_bulk_elsewhere, &j);
	pthread_join(t, NULL);
	pn_pool_get_stats(bp, &s);
	cr_assert_gt(s.recycle_ring, s0.recycle_ring, "the other thread's pages came through the ring");
	cr_assert_eq(s.recycle_released_refcnt, s0.recycle_released_refcnt, "none released");
	pn_pkt_free_bulk(NULL, 0);
	test_assert_accounted(bp);
	test_pool_destroy_clean(bp);
}
