/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pn_log.h"
#include "pn_pool_priv.h"

_Atomic(struct pn_pool *) pn_pool_table[PN_MAX_POOLS];
static pthread_mutex_t pool_table_lock = PTHREAD_MUTEX_INITIALIZER;

_Static_assert(sizeof(struct pn_pool_stats) % PN_CACHE_LINE == 0,
	       "per-thread stat blocks must not share a line");
_Static_assert(offsetof(struct pn_pool, alloc) % PN_CACHE_LINE == 0 &&
	       offsetof(struct pn_pool, alloc) >= PN_CACHE_LINE,
	       "the owner's cache must not share a line with what other threads read");
_Static_assert(offsetof(struct pn_pool, outstanding) % PN_CACHE_LINE == 0,
	       "the slow-path counter has a line of its own");

/* the final put of a page froze it: it becomes the pool's again */
void pn_pool_frame_dtor(struct pn_frame *f)
{
	pn_pool_frame_adopt(f);
	pn_pool_recycle(pn_frame_pool(f), f);
}

__attribute__((constructor)) static void pool_register_dtor(void)
{
	pn_frame_dtors[PN_MT_POOL] = pn_pool_frame_dtor;
}

static int table_insert(struct pn_pool *p)
{
	pthread_mutex_lock(&pool_table_lock);
	for (unsigned i = 1; i < PN_MAX_POOLS; i++) { /* 0 = no pool */
		if (atomic_load_explicit(&pn_pool_table[i], memory_order_relaxed) == NULL) {
			p->id = (uint16_t)i;
			atomic_store_explicit(&pn_pool_table[i], p, memory_order_release);
			pthread_mutex_unlock(&pool_table_lock);
			return 0;
		}
	}
	pthread_mutex_unlock(&pool_table_lock);
	return -ENOSPC;
}

struct pn_pool *pn_pool_by_id(uint16_t id)
{
	return atomic_load_explicit(&pn_pool_table[id], memory_order_acquire);
}

/* A pool frees itself on its last put, on any thread, after taking itself
 * out of the table under this lock: readers under the lock never see a
 * freed pool. */
int pn_pool_foreach(int (*fn)(struct pn_pool *p, void *arg), void *arg)
{
	int rc = 0;

	pthread_mutex_lock(&pool_table_lock);
	for (unsigned id = 1; id < PN_MAX_POOLS && rc == 0; id++) {
		struct pn_pool *p = atomic_load_explicit(&pn_pool_table[id],
							 memory_order_relaxed);

		if (p != NULL)
			rc = fn(p, arg);
	}
	pthread_mutex_unlock(&pool_table_lock);
	return rc;
}

int pn_pool_visit(uint16_t id, int (*fn)(struct pn_pool *p, void *arg), void *arg)
{
	struct pn_pool *p;
	int rc;

	pthread_mutex_lock(&pool_table_lock);
	p = atomic_load_explicit(&pn_pool_table[id], memory_order_relaxed);
	rc = p ? fn(p, arg) : -ENOENT;
	pthread_mutex_unlock(&pool_table_lock);
	return rc;
}

static void pool_free(struct pn_pool *p)
{
	pthread_mutex_lock(&pool_table_lock);
	atomic_store_explicit(&pn_pool_table[p->id], NULL, memory_order_release);
	pthread_mutex_unlock(&pool_table_lock);
	pn_region_unpin(p->region);
	if (p->own_region)
		pn_region_destroy(p->region);
	pn_ring_free(p->ring);
	pn_ring_free(p->quarantine);
	free(p->stats);
	free(p);
}

/* Drop n of the pool's outstanding references; the last one frees it. */
static void pool_unref(struct pn_pool *p, int64_t n)
{
	/* acq_rel: every release happens-before the free of the pool */
	if (atomic_fetch_sub_explicit(&p->outstanding, n, memory_order_acq_rel) == n)
		pool_free(p);
}

/* Frames leave the pool for good; the last one out frees a dying pool. */
static void pool_release(struct pn_pool *p, struct pn_frame *const *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		pn_pool_frame_freeze(f[i]);
	pn_region_free(p->region, f, n);
	pool_unref(p, n);
}

struct pn_pool *pn_pool_create(const struct pn_pool_params *params)
{
	struct pn_pool_params pp = { 0 };
	struct pn_pool *p;
	int err = EINVAL;

	pn_pool_tel_init(); /* the pools' telemetry commands, from the first pool on */

	if (params == NULL || params->sz < offsetof(struct pn_pool_params, name) ||
	    params->sz > sizeof(pp))
		goto fail;
	memcpy(&pp, params, params->sz);
	if ((pp.flags & ~PN_POOL_F_ALL) || pp.order > PN_MAX_ORDER ||
	    pp.cache_size > PN_POOL_CACHE_MAX ||
	    (pp.ring_size != 0 && (!PN_IS_POW2(pp.ring_size) || pp.ring_size < 2)))
		goto fail;
	if (pp.cache_size == 0)
		pp.cache_size = PN_POOL_CACHE_MAX;
	if (pp.ring_size == 0)
		pp.ring_size = PN_POOL_DEFAULT_RING;
	if (pp.frag_size == 0)
		pp.frag_size = PN_POOL_DEFAULT_FRAG;
	if (pp.frag_size > (PN_FRAME_SIZE << pp.order))
		goto fail;
	if (pp.region == NULL && pp.nr_pages == 0)
		pp.nr_pages = PN_POOL_DEFAULT_PAGES;

	err = ENOMEM;
	p = aligned_alloc(PN_CACHE_LINE, sizeof(*p));
	if (p == NULL)
		goto fail;
	memset(p, 0, sizeof(*p));
	p->stats = aligned_alloc(PN_CACHE_LINE,
				 sizeof(struct pn_pool_stats) * PN_THREAD_SLOTS);
	if (p->stats == NULL)
		goto free_pool;
	memset(p->stats, 0, sizeof(struct pn_pool_stats) * PN_THREAD_SLOTS);
	p->ring = pn_ring_create(pp.ring_size, 0);
	if (p->ring == NULL)
		goto free_stats;
	if (pp.flags & PN_POOL_F_QUARANTINE) {
		p->quarantine = pn_ring_create(PN_POOL_QUARANTINE, 0);
		if (p->quarantine == NULL)
			goto free_ring;
	}
	if (pp.region == NULL) {
		struct pn_region_params rp = {
			.len = ((size_t)pp.nr_pages << pp.order) << PN_FRAME_SHIFT,
			.numa_node = pp.numa_node,
			.name = pp.name,
		};

		p->region = pn_region_create(&rp);
		if (p->region == NULL) {
			err = errno;
			goto free_ring;
		}
		p->own_region = true;
	} else {
		p->region = pp.region;
	}
	pn_region_pin(p->region);

	if (pp.numa_node == PN_NUMA_ANY) {
		struct pn_region_info ri;

		pn_region_info(p->region, &ri);
		pp.numa_node = ri.numa_node;
	}
	atomic_init(&p->nid, pp.numa_node);
	atomic_init(&p->check_nid, PN_NUMA_ANY);
	pn_pool_set_nid(p, pp.numa_node);
	atomic_init(&p->owner, (pp.flags & PN_POOL_F_OWNER) ? pp.owner_thread
							     : pn_thread_id());
	p->order = (uint8_t)pp.order;
	p->accounted = !!(pp.flags & PN_POOL_F_ACCOUNTED);
	p->frag_size = pp.frag_size;
	p->page_bytes = PN_FRAME_SIZE << pp.order;
	p->alloc.size = pp.cache_size;
	p->alloc.recycle_size = p->quarantine ? 0 : pp.cache_size;
	atomic_init(&p->outstanding, 1); /* the pool's own reference */
	snprintf(p->name, sizeof(p->name), "%s", pp.name ? pp.name : "pool");
	if (table_insert(p) < 0) {
		err = ENOSPC;
		goto unpin;
	}
	return p;

unpin:
	pn_region_unpin(p->region);
	if (p->own_region)
		pn_region_destroy(p->region);
free_ring:
	pn_ring_free(p->quarantine);
	pn_ring_free(p->ring);
free_stats:
	free(p->stats);
free_pool:
	free(p);
fail:
	errno = err;
	return NULL;
}

static void init_pool_frame(struct pn_pool *p, struct pn_frame *f)
{
	/* the subtype says "accounted" so a charge needs only the descriptor */
	pn_frame_set_type(f, PN_MT_POOL, p->accounted ? PN_POOL_SUBTYPE_ACCOUNTED : 0);
	f->pool_id = p->id;
	f->acct_id = 0;
	atomic_store_explicit(&f->frag_count, 0, memory_order_relaxed);
	__atomic_store_n(&f->holder, 0, __ATOMIC_RELAXED);
	pn_pool_frame_adopt(f);
}

/* Take up to n frames from the region; they count as held until released. */
static unsigned pool_take_from_region(struct pn_pool *p, int tid,
				      struct pn_frame **out, unsigned n)
{
	unsigned got = pn_region_alloc(p->region, p->order, n, out);

	if (got == 0)
		return 0;
	atomic_fetch_add_explicit(&p->outstanding, got, memory_order_relaxed);
	for (unsigned i = 0; i < got; i++)
		init_pool_frame(p, out[i]);
	if (p->order)
		PN_POOL_STAT_ADD(p, tid, alloc_slow_high_order, 1);
	else
		PN_POOL_STAT_ADD(p, tid, alloc_slow, 1);
	return got;
}

/* Move frames from the ring to the cache, releasing wrong-node ones.
 * Returns how many landed in the cache. Owner only. */
static unsigned pool_refill_from_ring(struct pn_pool *p, int tid)
{
	struct pn_frame *batch[PN_POOL_REFILL];
	struct pn_frame *waive[PN_POOL_REFILL];
	unsigned want = PN_MIN(PN_POOL_REFILL, p->alloc.size);
	unsigned got, kept = 0, nw = 0;
	uint32_t n = atomic_load_explicit(&p->alloc.count, memory_order_relaxed);

	int nid = pn_pool_nid(p);

	got = pn_ring_dequeue_burst(p->ring, (void **)batch, want);
	for (unsigned i = 0; i < got; i++) {
		if (pn_likely(pn_frame_node_ok(batch[i], nid)))
			p->alloc.cache[n + kept++] = batch[i];
		else
			waive[nw++] = batch[i];
	}
	atomic_store_explicit(&p->alloc.count, n + kept, memory_order_relaxed);
	if (nw) {
		PN_POOL_STAT_ADD(p, tid, alloc_waive, nw);
		pool_release(p, waive, nw);
	}
	if (got)
		PN_POOL_STAT_ADD(p, tid, alloc_refill, 1);
	return kept;
}

__pn_noinline struct pn_frame *pn_pool_alloc_slow(struct pn_pool *p, int tid)
{
	struct pn_frame *f;

	/* slow path */
	if (!pn_pool_is_owner(p, tid)) {
		/* no cache for non-owners: the ring is multi-consumer */
		if (pn_ring_dequeue(p->ring, (void **)&f) == 0) {
			PN_POOL_STAT_ADD(p, tid, alloc_refill, 1);
		} else {
			PN_POOL_STAT_ADD(p, tid, alloc_empty, 1);
			if (pool_take_from_region(p, tid, &f, 1) == 0) {
				errno = ENOMEM;
				return NULL;
			}
		}
		pn_pool_frame_hand_out(f);
		return f;
	}

	while (atomic_load_explicit(&p->alloc.count, memory_order_relaxed) == 0) {
		if (pool_refill_from_ring(p, tid) != 0)
			break;
		if (pn_ring_count(p->ring) == 0) {
			unsigned want = PN_MIN(PN_POOL_REFILL, p->alloc.size);
			unsigned got;

			PN_POOL_STAT_ADD(p, tid, alloc_empty, 1);
			/* high-order pages come one at a time, as in the kernel */
			got = pool_take_from_region(p, tid, p->alloc.cache,
						    p->order ? 1 : want);
			if (got == 0) {
				errno = ENOMEM;
				return NULL;
			}
			atomic_store_explicit(&p->alloc.count, got, memory_order_relaxed);
		}
	}
	uint32_t n = atomic_load_explicit(&p->alloc.count, memory_order_relaxed) - 1;

	f = p->alloc.cache[n];
	atomic_store_explicit(&p->alloc.count, n, memory_order_relaxed);
	pn_pool_frame_hand_out(f);
	return f;
}

__pn_noinline int pn_pool_alloc_bulk_slow(struct pn_pool *p,
					  struct pn_frame **frames, unsigned n)
{
	/* slow path: one at a time through pn_pool_alloc's refills */
	for (unsigned i = 0; i < n; i++) {
		frames[i] = pn_pool_alloc(p);
		if (frames[i] == NULL) {
			/* all or none: give back what we took */
			pn_pool_put_bulk(p, frames, i);
			errno = ENOMEM;
			return -ENOMEM;
		}
	}
	return 0;
}

/* Pooled frames put by a non-owner thread: into the ring in one go, what
 * does not fit released to the region. */
static void pool_recycle_batch_remote(struct pn_pool *p, struct pn_frame **f,
				      unsigned n, int tid)
{
	unsigned done;

	if (n == 0)
		return;
	/* count first: once the last frame is in the ring a dying pool may
	 * be drained and freed by another thread before we touch it again */
	PN_POOL_STAT_ADD(p, tid, recycle_ring, n);
	done = pn_ring_enqueue_burst(p->ring, (void **)f, n);
	if (done < n) {
		PN_POOL_STAT_ADD(p, tid, recycle_ring, (uint64_t)0 - (n - done));
		if (!pn_ring_closed(p->ring))
			PN_POOL_STAT_ADD(p, tid, recycle_ring_full, n - done);
		PN_POOL_STAT_ADD(p, tid, recycle_released_refcnt, n - done);
		pool_release(p, f + done, n - done);
	}
}

/* Pooled pages on a thread that is not the owner (n <= PN_POOL_REFILL):
 * charges given back, then the ring in one go; a page of another node, or
 * any page in quarantine mode, takes the slow path. */
static void recycle_bulk_remote(struct pn_pool *p, struct pn_frame *const *frames,
				unsigned n, int tid)
{
	struct pn_frame *batch[PN_POOL_REFILL];
	int nid = pn_pool_nid(p);
	unsigned nb = 0;

	for (unsigned i = 0; i < n; i++) {
		struct pn_frame *f = frames[i];

		PN_DEBUG_ASSERT(pn_frag_track_idle(f),
				"page recycled while a fragment of it is still live");
		pn_pool_uncharge(p, f);
		if (pn_unlikely(!pn_frame_node_ok(f, nid) || p->quarantine != NULL)) {
			pn_pool_recycle_slow(p, f, tid);
			continue;
		}
		batch[nb++] = f;
	}
	pool_recycle_batch_remote(p, batch, nb, tid);
}

__pn_noinline void pn_pool_put_bulk_slow(struct pn_pool *p,
					 struct pn_frame *const *frames,
					 unsigned n, unsigned i)
{
	int tid = pn_thread_id();

	/* slow path: frames[i..n) are still referenced by the caller */
	if (!pn_pool_is_owner(p, tid)) {
		/* another thread: one ring reservation for the whole batch, the
		 * way a DPDK lcore flushes its cache */
		struct pn_frame *batch[PN_POOL_REFILL];
		unsigned nb = 0;

		for (; i < n; i++) {
			if (!pn_pool_frame_take_back(frames[i]))
				continue;
			batch[nb++] = frames[i];
			if (nb == PN_DIM(batch)) {
				recycle_bulk_remote(p, batch, nb, tid);
				nb = 0;
			}
		}
		recycle_bulk_remote(p, batch, nb, tid);
		return;
	}
	for (; i < n; i++)
		pn_pool_put(p, frames[i]);
}

void pn_pool_recycle_bulk(struct pn_pool *p, struct pn_frame *const *frames, unsigned n)
{
	int tid = pn_thread_id();

	if (pn_pool_is_owner(p, tid)) {
		for (unsigned i = 0; i < n; i++)
			pn_pool_recycle(p, frames[i]);
		return;
	}
	while (n) {
		unsigned k = PN_MIN(n, (unsigned)PN_POOL_REFILL);

		recycle_bulk_remote(p, frames, k, tid);
		frames += k;
		n -= k;
	}
}

/* A page leaves the quarantine: check nobody wrote to it meanwhile. */
static void quarantine_check(struct pn_pool *p, struct pn_frame *f)
{
	const uint64_t *w = (const uint64_t *)(const void *)f->addr;
	uint64_t poison;
	size_t words = (size_t)p->page_bytes / sizeof(*w);

	memset(&poison, PN_POOL_POISON, sizeof(poison));
	for (size_t i = 0; i < words; i++) {
		if (w[i] != poison) {
			pn_log(PN_LOG_ERR, "pool",
			       "pool %s: page %p was written at offset %zu after its last put",
			       p->name, (void *)f->addr, i * sizeof(*w));
			PN_DEBUG_ASSERT(false, "page written after its last put (see the log)");
			return;
		}
	}
}

/* Recycle a pooled page now: the owner's cache, the ring, or the region. */
static void recycle_now(struct pn_pool *p, struct pn_frame *f, int tid)
{
	uint32_t n = atomic_load_explicit(&p->alloc.count, memory_order_relaxed);

	if (pn_pool_is_owner(p, tid) && n < p->alloc.size && pn_pool_node_ok(p, f)) {
		p->alloc.cache[n] = f;
		atomic_store_explicit(&p->alloc.count, n + 1, memory_order_relaxed);
		PN_SOLE_ADD(p->alloc.recycle_cached, 1);
		return;
	}
	if (!pn_pool_node_ok(p, f)) {
		PN_POOL_STAT_ADD(p, tid, alloc_waive, 1);
	} else {
		if (pn_pool_is_owner(p, tid))
			PN_POOL_STAT_ADD(p, tid, recycle_cache_full, 1);
		/* count first: once f is in the ring a dying pool may be
		 * drained and freed by another thread before we touch it again */
		PN_POOL_STAT_ADD(p, tid, recycle_ring, 1);
		if (pn_ring_enqueue(p->ring, f) == 0)
			return;
		PN_POOL_STAT_ADD(p, tid, recycle_ring, (uint64_t)0 - 1);
		if (!pn_ring_closed(p->ring))
			PN_POOL_STAT_ADD(p, tid, recycle_ring_full, 1);
	}
	PN_POOL_STAT_ADD(p, tid, recycle_released_refcnt, 1);
	pool_release(p, &f, 1);
}

/*
 * PN_POOL_F_QUARANTINE: poison the page and queue it; the oldest page
 * leaves to be recycled when the FIFO is full. A page stays frozen all the
 * while, so a stale put trips the frozen-page check in the stale caller.
 */
static void quarantine_recycle(struct pn_pool *p, struct pn_frame *f, int tid)
{
	memset(f->addr, PN_POOL_POISON, p->page_bytes);
	pn_pool_frame_freeze(f);
	while (pn_ring_enqueue(p->quarantine, f) != 0) {
		struct pn_frame *old;

		if (pn_ring_closed(p->quarantine) ||
		    pn_ring_dequeue(p->quarantine, (void **)&old) != 0) {
			pn_pool_frame_adopt(f);
			recycle_now(p, f, tid); /* dying pool: released */
			return;
		}
		quarantine_check(p, old);
		pn_pool_frame_adopt(old);
		recycle_now(p, old, tid);
	}
}

__pn_noinline void pn_pool_recycle_slow(struct pn_pool *p, struct pn_frame *f,
					int tid)
{
	/* slow path */
	if (p->quarantine != NULL)
		quarantine_recycle(p, f, tid);
	else
		recycle_now(p, f, tid);
}

/*
 * Cut the next fragment from the current page. Before handing out the last
 * budgeted fragment, while frag_count is still >= 1 and the page therefore
 * alive, the budget grows if more fragments could follow (mixed sizes). Once
 * the budget is used up the page belongs to its fragments: the last one to
 * be freed puts it.
 */
static void *frag_cut(struct pn_pool *p, uint32_t size, struct pn_frame **frame)
{
	struct pn_frame *f = p->frag_page;
	uint32_t off = p->frag_offset;
	uint32_t left = p->page_bytes - off - size;

	if (p->frag_handed + 1 == p->frag_bias && left >= PN_POOL_FRAG_ALIGN) {
		uint32_t extra = left / PN_POOL_FRAG_ALIGN;

		atomic_fetch_add_explicit(&f->frag_count, extra, memory_order_relaxed);
		p->frag_bias += extra;
	}
	if (p->frag_handed + 1 == p->frag_bias)
		p->frag_page = NULL;
	return pn_pool_frag_take(p, f, off, size, p->frag_handed + 1, frame);
}

/*
 * May the pool cut page @p f again from its start? Only when nobody can see
 * any of its bytes: every fragment share back (frag_count down to the
 * @p unused budget the pool still holds) AND no plain reference besides the
 * pool's own (refcount 1), read in that order (docs/design.md §3, the page_pool fragment thread). A
 * holder takes a plain reference while it still holds a share or a
 * reference, and gives the share back with a release; so once the acquire
 * load sees every share back, the refcount read after it sees every plain
 * reference taken before. Never for a charged page (its fragments end the
 * charge) nor in quarantine mode (every page goes through the FIFO).
 */
static bool frag_page_unseen(const struct pn_pool *p, struct pn_frame *f, uint32_t unused)
{
	return p->quarantine == NULL &&
	       __atomic_load_n(&f->acct_id, __ATOMIC_RELAXED) == 0 &&
	       atomic_load_explicit(&f->frag_count, memory_order_acquire) == unused &&
	       atomic_load_explicit(&f->refcount, memory_order_acquire) == 1;
}

__pn_noinline void *pn_pool_alloc_frag_slow(struct pn_pool *p, uint32_t size,
					    struct pn_frame **frame)
{
	struct pn_frame *f = p->frag_page;

	/* slow path */
	if (size == 0 || size > p->page_bytes) {
		errno = EINVAL;
		return NULL;
	}
	size = PN_ALIGN_UP(size, (uint32_t)PN_POOL_FRAG_ALIGN);
	/* a consumer charged the page: hand out no more of it (they would ride
	 * on that charge), and let its fragments end it */
	bool charged = f != NULL && __atomic_load_n(&f->acct_id, __ATOMIC_RELAXED) != 0;

	if (f != NULL && !charged && p->frag_offset + size <= p->page_bytes)
		return frag_cut(p, size, frame);
	if (f != NULL) {
		uint32_t unused = p->frag_bias - p->frag_handed; /* > 0 here */

		p->frag_page = NULL;
		/* nobody can see the page any more: reuse it in place */
		if (frag_page_unseen(p, f, unused)) {
			PN_DEBUG_ASSERT(pn_frag_track_idle(f), "page recut under a live fragment");
			p->frag_page = f;
		} else {
			/* drop the unused budget; the last fragment puts the page */
			pn_frame_frag_sub(f, unused);
			f = NULL;
		}
	}
	if (f == NULL) {
		f = pn_pool_alloc(p);
		if (f == NULL)
			return NULL;
		p->frag_page = f;
	}
	/* a division takes tens of cycles; fragments mostly come in one size */
	if (pn_unlikely(size != p->frag_last_size)) {
		p->frag_last_size = size;
		p->frag_last_bias = p->page_bytes / size;
	}
	p->frag_bias = p->frag_last_bias;
	atomic_store_explicit(&f->frag_count, p->frag_bias, memory_order_relaxed);
	p->frag_offset = 0;
	p->frag_handed = 0;
	return frag_cut(p, size, frame);
}

/* Give up the page the pool cuts fragments from. Owner only. */
static void pool_drop_frag_page(struct pn_pool *p)
{
	struct pn_frame *f = p->frag_page;

	if (f == NULL)
		return;
	p->frag_page = NULL;
	pn_frame_frag_sub(f, p->frag_bias - p->frag_handed);
	p->frag_handed = 0;
	p->frag_offset = 0;
}

__pn_noinline void pn_pool_frag_page_idle(struct pn_pool *p)
{
	struct pn_frame *f = p->frag_page;

	/* slow path: every share the owner cut came back to the owner. A
	 * charged page is given up now so its charge ends with the last
	 * reference; an unseen one is cut again from its start; one that a
	 * plain reference still sees is cut onward (its bytes stay put). */
	if (__atomic_load_n(&f->acct_id, __ATOMIC_RELAXED) != 0 || p->quarantine != NULL) {
		pool_drop_frag_page(p);
		return;
	}
	if (frag_page_unseen(p, f, p->frag_bias)) {
		PN_DEBUG_ASSERT(pn_frag_track_idle(f), "page recut under a live fragment");
		p->frag_offset = 0;
	}
}

void pn_pool_set_nid(struct pn_pool *p, int nid)
{
	struct pn_region_info ri;

	pn_region_info(p->region, &ri);
	atomic_store_explicit(&p->nid, nid, memory_order_relaxed);
	atomic_store_explicit(&p->check_nid,
			      nid == PN_NUMA_ANY || nid == ri.numa_node ? PN_NUMA_ANY : nid,
			      memory_order_relaxed);
}

void pn_pool_set_owner(struct pn_pool *p, int tid)
{
	atomic_store_explicit(&p->owner, tid, memory_order_release);
}

void pn_pool_get_stats(const struct pn_pool *p, struct pn_pool_stats_sum *s)
{
	memset(s, 0, sizeof(*s));
	s->alloc_fast = atomic_load_explicit(&p->alloc.alloc_fast, memory_order_relaxed);
	s->recycle_cached = atomic_load_explicit(&p->alloc.recycle_cached, memory_order_relaxed);
	for (unsigned t = 0; t < PN_THREAD_SLOTS; t++) {
		struct pn_pool_stats *st = &p->stats[t];

#define SUM(f) s->f += atomic_load_explicit(&st->f, memory_order_relaxed)
		SUM(alloc_slow);
		SUM(alloc_slow_high_order);
		SUM(alloc_empty);
		SUM(alloc_refill);
		SUM(alloc_waive);
		SUM(recycle_cache_full);
		SUM(recycle_ring);
		SUM(recycle_ring_full);
		SUM(recycle_released_refcnt);
#undef SUM
	}
}

double pn_pool_recycle_rate(const struct pn_pool_stats_sum *s)
{
	uint64_t recycled = s->recycle_cached + s->recycle_ring;
	uint64_t total = recycled + s->recycle_released_refcnt;

	return total ? (double)recycled / (double)total : 1.0;
}

double pn_pool_recycle_rate_between(const struct pn_pool_stats_sum *a,
				    const struct pn_pool_stats_sum *b)
{
	struct pn_pool_stats_sum d = {
		.recycle_cached = b->recycle_cached - a->recycle_cached,
		.recycle_ring = b->recycle_ring - a->recycle_ring,
		.recycle_released_refcnt = b->recycle_released_refcnt - a->recycle_released_refcnt,
	};

	return pn_pool_recycle_rate(&d);
}

void pn_pool_info(const struct pn_pool *p, struct pn_pool_info *info)
{
	struct pn_pool *pp = (struct pn_pool *)p;

	info->name = p->name;
	info->id = p->id;
	info->owner_thread = atomic_load_explicit(&pp->owner, memory_order_relaxed);
	info->numa_node = atomic_load_explicit(&pp->nid, memory_order_relaxed);
	info->order = p->order;
	info->cache_count = atomic_load_explicit(&pp->alloc.count, memory_order_relaxed);
	info->ring_count = pn_ring_count(p->ring);
	info->quarantine_count = p->quarantine ? pn_ring_count(p->quarantine) : 0;
	info->dying = pn_ring_closed(p->ring);
	/* frag_page is owner state: only look at it on the owner thread */
	info->frag_held = pn_pool_is_owner(p, pn_thread_id()) && p->frag_page != NULL;
	info->held = atomic_load_explicit(&pp->outstanding, memory_order_relaxed) -
		     (info->dying ? 0 : 1);
	info->inflight = info->held - info->cache_count - info->ring_count -
			 info->quarantine_count - info->frag_held;
	/* the counts are read one after another while others move frames */
	if (info->inflight < 0)
		info->inflight = 0;
}

int64_t pn_pool_inflight(const struct pn_pool *p)
{
	struct pn_pool_info info;

	pn_pool_info(p, &info);
	return info.inflight;
}

/* Pages the pool holds itself with a reference (PN_POOL_HOLDS_REF): a
 * snapshot, as the owner may be moving them. */
static uint32_t pool_own_referenced(const struct pn_pool *p)
{
	struct pn_pool *pp = (struct pn_pool *)p;

	if (!PN_POOL_HOLDS_REF)
		return 0;
	return atomic_load_explicit(&pp->alloc.count, memory_order_relaxed) +
	       pn_ring_count(p->ring);
}

unsigned pn_pool_dump_inflight(const struct pn_pool *p, FILE *out)
{
	return pn_region_dump_held_except(p->region, p->id, pool_own_referenced(p), out);
}

unsigned pn_pool_held_by(const struct pn_pool *p, struct pn_held_group *groups,
			 unsigned max, uint32_t *total)
{
	return pn_region_held_by_except(p->region, p->id, pool_own_referenced(p), groups, max,
					total);
}

/* "312 pages in flight: socket ... holds 300 through zero-copy tokens; ..." */
static void log_holders(const struct pn_pool *p, int64_t left)
{
	struct pn_held_group g[8];
	char line[512], who[PN_HOLDER_LABEL_MAX + 48];
	uint32_t total = 0, named = 0;
	unsigned n = pn_pool_held_by(p, g, PN_DIM(g), &total);
	size_t used;

	used = (size_t)snprintf(line, sizeof(line),
				"pool %s destroyed with %lld pages in flight; freed when the last "
				"one is put", p->name, (long long)left);
	for (unsigned i = 0; i < n && used < sizeof(line); i++) {
		used += (size_t)snprintf(line + used, sizeof(line) - used, "%s %s holds %u",
					 i ? ";" : ":", pn_holder_describe(g[i].holder, who, sizeof(who)),
					 g[i].pages);
		named += g[i].pages;
	}
	if (named < total && used < sizeof(line))
		snprintf(line + used, sizeof(line) - used, "; others hold %u", total - named);
	pn_log(PN_LOG_WARNING, "pool", "%s", line);
}

int64_t pn_pool_destroy(struct pn_pool *p)
{
	struct pn_frame *batch[PN_POOL_REFILL];
	unsigned n;
	int64_t left;

	if (p == NULL)
		return 0;
	/* the fragment page's unused share goes first, while we own the cache */
	pool_drop_frag_page(p);
	/* from now on no thread recycles directly, and the closed ring makes
	 * every late put release its frame to the region */
	atomic_store_explicit(&p->owner, PN_POOL_OWNER_NONE, memory_order_release);
	pn_ring_close(p->ring);

	if (p->quarantine)
		pn_ring_close(p->quarantine);

	/* the pool's own reference keeps it alive through these releases */
	n = atomic_load_explicit(&p->alloc.count, memory_order_relaxed);
	atomic_store_explicit(&p->alloc.count, 0, memory_order_relaxed);
	pool_release(p, p->alloc.cache, n);
	while ((n = pn_ring_dequeue_burst(p->ring, (void **)batch, PN_DIM(batch))) != 0)
		pool_release(p, batch, n);
	while (p->quarantine &&
	       (n = pn_ring_dequeue_burst(p->quarantine, (void **)batch, PN_DIM(batch))) != 0) {
		for (unsigned i = 0; i < n; i++)
			quarantine_check(p, batch[i]);
		pool_release(p, batch, n);
	}

	left = atomic_load_explicit(&p->outstanding, memory_order_acquire) - 1;
	if (left > 0)
		log_holders(p, left);
	/* drop the pool's own reference; the last holder frees the pool */
	pool_unref(p, 1);
	return left > 0 ? left : 0;
}
