/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Page pool: frames of a region handed out and recycled without locks on the
 * common path (docs/design.md §3-4, after the kernel's page_pool).
 *
 * Each pool has one owner thread (the kernel's NAPI context, DPDK's lcore).
 * The owner allocates from a private array cache and its puts recycle straight
 * back into that cache (`_direct`, no atomic). Puts on any other thread go to
 * a multi-producer recycle ring the owner refills from in bulk; when both are
 * full the frame is released to the region. Frames whose NUMA node differs
 * from the pool's are released instead of recycled ("waive").
 *
 * Fragments (docs/design.md §2): pn_pool_alloc_frag() splits a page into buffers.
 * The pool's share of the page is one refcount; fragments are counted in
 * frag_count. When the pool starts a page it sets frag_count to the number
 * of fragments of that size the page holds (its bias) and counts what it
 * hands out in private, so cutting a fragment touches no atomic, and for
 * same-size fragments neither does finishing the page. Outside holders use
 * pn_frame_get/put only.
 *
 * Threading contract:
 *  - pn_pool_alloc*, pn_pool_alloc_frag, pn_pool_destroy: the owner thread
 *    (non-owner allocation works but bypasses the cache: ring, then region).
 *  - pn_pool_put*, pn_pool_frag_free, pn_frame_put: any thread.
 *  - statistics and info: any thread, summed on read.
 */
#ifndef PN_POOL_H
#define PN_POOL_H

#include <stdatomic.h>

#include "pn_acct.h"
#include "pn_mem.h"
#include "pn_ring.h"
#include "pn_thread.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The alloc cache holds 128 frames like the kernel's PP_ALLOC_CACHE_SIZE:
 * enough to absorb one NAPI-sized burst (64) of allocations plus one of
 * recycles without touching the ring, small enough (1 KiB of pointers) to
 * stay in L1 beside the descriptors it points to.
 */
#define PN_POOL_CACHE_MAX 128
#define PN_POOL_REFILL 64 /* frames moved per refill from ring or region */

#define PN_POOL_F_OWNER 0x1u     /**< owner_thread names the owner */
/**
 * Opt in to accounting (the TCP zero-copy accounting thread): pn_pool_charge() charges a page to the
 * consumer's group when it is handed over, the descriptor records the group,
 * and the POOL destructor uncharges it on the final put, on whichever thread
 * that happens. Pools without it stay unaccounted: pn_pool_charge() is a
 * no-op that succeeds (no flag day).
 */
#define PN_POOL_F_ACCOUNTED 0x2u
/**
 * Debug mode for stale puts: a page whose last reference goes is poisoned
 * and held frozen in a FIFO of PN_POOL_QUARANTINE pages before it can be
 * handed out again (AddressSanitizer's quarantine, for pages). A put or
 * fragment free by a holder that already let go then finds the page frozen
 * and, in a build with debug checks, stops right there naming the stale
 * caller instead of hurting the page's next holder; a write after the last
 * put is reported when the page leaves the FIFO. Slower: every recycle
 * takes the slow path. Without debug checks it only delays reuse.
 */
#define PN_POOL_F_QUARANTINE 0x4u
#define PN_POOL_F_ALL (PN_POOL_F_OWNER | PN_POOL_F_ACCOUNTED | PN_POOL_F_QUARANTINE)
#define PN_POOL_QUARANTINE 256
/** byte quarantined pages are filled with */
#define PN_POOL_POISON 0x6b
/** memdesc subtype bit of the frames of an accounted pool */
#define PN_POOL_SUBTYPE_ACCOUNTED 0x1u

#define PN_POOL_OWNER_NONE (-1)

/** Fragments are cut at this alignment so buffers start on a cache line. */
#define PN_POOL_FRAG_ALIGN 64

#define PN_MAX_POOLS 65536

/** Pool creation parameters. Set sz = sizeof(struct pn_pool_params). */
struct pn_pool_params {
	uint32_t sz;              /**< sizeof(struct pn_pool_params) */
	uint32_t flags;           /**< PN_POOL_F_* */
	struct pn_region *region; /**< draw frames here; NULL: a private region */
	uint32_t nr_pages;        /**< private region size in pages (default 1024) */
	int numa_node;            /**< PN_NUMA_ANY: the region's node */
	uint32_t order;           /**< pages of 2^order frames (default 0) */
	uint32_t cache_size;      /**< alloc cache entries, <= 128 (default 128) */
	uint32_t ring_size;       /**< recycle ring, power of two (default 1024) */
	uint32_t frag_size;       /**< packet buffer size (default 2048) */
	int owner_thread;         /**< with PN_POOL_F_OWNER: a pn_thread_id() */
	const char *name;         /**< copied */
};

/** Per-thread counters with the kernel's names; written by one thread. */
struct pn_pool_stats {
	/* alloc_fast and recycle_cached: the owner's, in pn_pool.alloc */
	_Atomic(uint64_t) alloc_slow;            /**< order-0 refills from the region */
	_Atomic(uint64_t) alloc_slow_high_order; /**< higher-order refills from the region */
	_Atomic(uint64_t) alloc_empty;           /**< ring empty when the cache was */
	_Atomic(uint64_t) alloc_refill;          /**< cache refilled from the ring */
	_Atomic(uint64_t) alloc_waive;           /**< frames released for NUMA mismatch */
	_Atomic(uint64_t) recycle_cache_full;    /**< owner put found the cache full */
	_Atomic(uint64_t) recycle_ring;          /**< put into the recycle ring */
	_Atomic(uint64_t) recycle_ring_full;     /**< ring full (or closed) */
	_Atomic(uint64_t) recycle_released_refcnt; /**< put released to the region */
} __pn_cache_aligned;

/** Counters summed over threads: what pn_pool_get_stats() returns. */
struct pn_pool_stats_sum {
	uint64_t alloc_fast, alloc_slow, alloc_slow_high_order, alloc_empty,
		alloc_refill, alloc_waive;
	uint64_t recycle_cached, recycle_cache_full, recycle_ring,
		recycle_ring_full, recycle_released_refcnt;
};

/** Where the pool's frames are, from the pool's point of view. */
struct pn_pool_info {
	const char *name;
	uint16_t id;
	int owner_thread;
	int numa_node;
	unsigned order;
	uint32_t cache_count;  /**< frames in the alloc cache */
	uint32_t ring_count;   /**< frames in the recycle ring */
	uint32_t quarantine_count; /**< frames in the quarantine FIFO */
	uint32_t frag_held;    /**< 1 while the pool cuts fragments from a page */
	int64_t held;          /**< frames taken from the region, not yet released */
	int64_t inflight;      /**< held - cache - ring - quarantine - frag page: out with users */
	bool dying;
};

/*
 * The pool object is visible so the fast paths can be inlined; its fields
 * are private: use the functions.
 */
struct pn_pool {
	/* read-mostly, read by every thread that puts */
	_Atomic(int) owner;
	_Atomic(int) nid;       /* the pool's node */
	_Atomic(int) check_nid; /* node frames are checked against, or ANY */
	uint16_t id;
	uint8_t order;
	uint8_t accounted;
	uint32_t frag_size;
	uint32_t page_bytes;
	struct pn_pool_stats *stats; /* [PN_THREAD_SLOTS] */
	struct pn_ring *ring;
	struct pn_region *region;
	struct pn_ring *quarantine; /* PN_POOL_F_QUARANTINE, else NULL */

	/* owner thread only */
	struct {
		_Atomic(uint32_t) count; /* atomic only so telemetry may read it */
		uint32_t size;
		/* what the fast recycle paths may fill: size, or 0 in
		 * quarantine mode (every page then goes through the FIFO), so
		 * one compare covers both */
		uint32_t recycle_size;
		/* the fast paths' counters, beside the cache they count: one
		 * add at a fixed offset instead of indexing the per-thread
		 * array (the other counters stay there) */
		_Atomic(uint64_t) alloc_fast;     /* served from the cache */
		_Atomic(uint64_t) recycle_cached; /* put straight into the cache */
		struct pn_frame *cache[PN_POOL_CACHE_MAX];
	} alloc __pn_cache_aligned;
	struct pn_frame *frag_page;
	/* offset and handed apart: the fast path writes both, the owner's
	 * frag free one of them, and a compiler that merged the first two
	 * stores into one would make the next cut's load wait for both */
	uint32_t frag_offset;
	uint32_t frag_bias;   /* frag_count the pool set: fragments budgeted */
	uint32_t frag_handed; /* fragments cut minus those the owner took back */
	uint32_t frag_last_size, frag_last_bias; /* page_bytes / size, cached */

	/* slow path, any thread: frames held from the region plus one for the
	 * pool itself; whoever takes it to zero frees the pool */
	_Atomic(int64_t) outstanding __pn_cache_aligned;
	bool own_region;
	char name[32];
};

extern _Atomic(struct pn_pool *) pn_pool_table[PN_MAX_POOLS];

/** @return the pool a POOL frame belongs to. */
static inline struct pn_pool *pn_frame_pool(const struct pn_frame *f)
{
	return atomic_load_explicit(&pn_pool_table[f->pool_id], memory_order_relaxed);
}

#define PN_POOL_STAT_ADD(p, tid, field, n)                                     \
	do {                                                                   \
		_Atomic(uint64_t) *c_ = &(p)->stats[(tid)].field;               \
		if (pn_likely((tid) != PN_THREAD_SHARED))                      \
			PN_SOLE_ADD(*c_, n);                                   \
		else                                                           \
			atomic_fetch_add_explicit(c_, (n), memory_order_relaxed); \
	} while (0)

static inline bool pn_pool_is_owner(const struct pn_pool *p, int tid)
{
	return atomic_load_explicit(&((struct pn_pool *)p)->owner,
				    memory_order_relaxed) == tid;
}

/*
 * The node a frame must be on to be recycled, or PN_NUMA_ANY when no check is
 * needed: a pool's frames all come from one region, so while the pool's node
 * is the region's the per-frame check is skipped (set in pn_pool_set_nid).
 */
static inline int pn_pool_nid(const struct pn_pool *p)
{
	return atomic_load_explicit(&((struct pn_pool *)p)->check_nid,
				    memory_order_relaxed);
}

/* Loops read pn_pool_nid() once and use this. */
static inline bool pn_frame_node_ok(const struct pn_frame *f, int nid)
{
	return nid == PN_NUMA_ANY || pn_frame_node(f) == nid;
}

static inline bool pn_pool_node_ok(const struct pn_pool *p,
				   const struct pn_frame *f)
{
	return pn_frame_node_ok(f, pn_pool_nid(p));
}

/*
 * Who holds a page while it sits in the owner's cache or the recycle ring.
 * Release builds: the pool, with refcount 1, as the kernel's page_pool does;
 * handing a page out and taking it back from its sole holder then write
 * nothing to its descriptor, and a page recycled across threads is only
 * read by the thread that puts it. Debug builds freeze it there (refcount
 * 0) instead, so a put or a get by a holder who already let go stops at the
 * frozen-page check. In the region's free lists and in the quarantine a
 * page is frozen in both. Either way the holder word of a pooled page is 0
 * ("not said"): the pool's held_by subtracts its own pages from there.
 */
#ifdef PN_DEBUG
#define PN_POOL_HOLDS_REF 0
#else
#define PN_POOL_HOLDS_REF 1
#endif

/* A frozen page becomes the pool's (the final put, the region, the quarantine). */
static inline void pn_pool_frame_adopt(struct pn_frame *f)
{
#if PN_POOL_HOLDS_REF
	atomic_store_explicit(&f->refcount, 1, memory_order_relaxed);
	__atomic_store_n(&f->holder, 0, __ATOMIC_RELAXED);
#else
	(void)f;
#endif
}

/* The pool's page leaves for the region or the quarantine: frozen. */
static inline void pn_pool_frame_freeze(struct pn_frame *f)
{
#if PN_POOL_HOLDS_REF
	atomic_store_explicit(&f->refcount, 0, memory_order_relaxed);
#else
	(void)f;
#endif
}

/* The pool's page goes to a holder with refcount 1 and no holder said. */
static inline void pn_pool_frame_hand_out(struct pn_frame *f)
{
#if PN_POOL_HOLDS_REF
	(void)f;
#else
	pn_frame_thaw(f);
#endif
}

/*
 * A holder puts page @p f back. @return true when that was the last
 * reference and the page is now the pool's (pooled as above). The sole
 * holder writes nothing but the holder word, and that only if one was said
 * (nobody can take a new reference without holding one: the kernel's
 * page_pool_unref_netmem, DPDK's rte_pktmbuf_prefree_seg).
 */
static inline bool pn_pool_frame_take_back(struct pn_frame *f)
{
#if PN_POOL_HOLDS_REF
	if (pn_likely(atomic_load_explicit(&f->refcount, memory_order_acquire) == 1)) {
		if (__atomic_load_n(&f->holder, __ATOMIC_RELAXED) != 0)
			__atomic_store_n(&f->holder, 0, __ATOMIC_RELAXED);
		return true;
	}
	if (!pn_frame_unref(f))
		return false;
	pn_pool_frame_adopt(f);
	return true;
#else
	return pn_frame_unref(f);
#endif
}

/**
 * Create a pool.
 * @return the pool, or NULL with errno EINVAL (bad size, order, cache or ring
 *         size, unknown flag), ENOMEM, or ENOSPC (pool table full).
 */
struct pn_pool *pn_pool_create(const struct pn_pool_params *params);

/**
 * Destroy a pool. Call it on the owner thread, or once the owner stopped
 * using the pool. Frames in the cache and ring go back to the region; frames
 * still in flight are released by their final put, and the pool's memory is
 * freed by whichever put is last.
 * @return 0 when the pool is gone, else the number of frames still in flight
 *         (the pool lists their holders with pn_pool_dump_inflight()).
 */
int64_t pn_pool_destroy(struct pn_pool *p);

/* slow paths, out of line */
struct pn_frame *pn_pool_alloc_slow(struct pn_pool *p, int tid);
void pn_pool_recycle_slow(struct pn_pool *p, struct pn_frame *f, int tid);

/* The owner takes the last of the @p n pages in its cache. */
static inline struct pn_frame *pn_pool_cache_take(struct pn_pool *p, uint32_t n)
{
	struct pn_frame *f = p->alloc.cache[--n];

	atomic_store_explicit(&p->alloc.count, n, memory_order_relaxed);
	PN_SOLE_ADD(p->alloc.alloc_fast, 1);
	pn_pool_frame_hand_out(f);
	return f;
}

/**
 * Allocate one page (fast path: pop the owner's cache).
 * @return a page with refcount 1, or NULL with errno ENOMEM when the pool and
 *         its region are exhausted (counted as alloc_empty).
 */
static inline struct pn_frame *pn_pool_alloc(struct pn_pool *p)
{
	int tid = pn_thread_id();
	uint32_t n = atomic_load_explicit(&p->alloc.count, memory_order_relaxed);

	if (pn_likely(pn_pool_is_owner(p, tid) && n != 0))
		return pn_pool_cache_take(p, n);
	return pn_pool_alloc_slow(p, tid);
}

int pn_pool_alloc_bulk_slow(struct pn_pool *p, struct pn_frame **frames,
			    unsigned n);

/**
 * Allocate exactly @p n pages or none.
 * @return 0, or -ENOMEM (nothing allocated, counted as alloc_empty).
 */
static inline int pn_pool_alloc_bulk(struct pn_pool *p, struct pn_frame **frames,
				     unsigned n)
{
	int tid = pn_thread_id();
	uint32_t have = atomic_load_explicit(&p->alloc.count, memory_order_relaxed);

	/* fast path: the whole bulk from the owner's cache */
	if (pn_likely(pn_pool_is_owner(p, tid) && have >= n)) {
		have -= n;
		/* release builds: nothing to write, the compiler copies pointers */
		for (unsigned i = 0; i < n; i++) {
			frames[i] = p->alloc.cache[have + i];
			pn_pool_frame_hand_out(frames[i]);
		}
		atomic_store_explicit(&p->alloc.count, have, memory_order_relaxed);
		PN_SOLE_ADD(p->alloc.alloc_fast, n);
		return 0;
	}
	return pn_pool_alloc_bulk_slow(p, frames, n);
}

/*
 * A page whose last reference went: give back its charge. The frame is the
 * pool's alone, so its tag is read and cleared without a race.
 */
static inline void pn_pool_uncharge(const struct pn_pool *p, struct pn_frame *f)
{
	uint16_t tag = __atomic_load_n(&f->acct_id, __ATOMIC_RELAXED);

	if (pn_unlikely(tag != 0)) {
		__atomic_store_n(&f->acct_id, 0, __ATOMIC_RELAXED);
		pn_acct_uncharge_tag(tag, 1u << p->order);
	}
}

/**
 * Charge page @p f (all 2^order frames of it) to @p g as it is handed to a
 * consumer; the POOL destructor uncharges it after the last put. A page is
 * charged once: to the first group that asks while it is out (as a memcg
 * page belongs to the first cgroup that touches it), so a page split into
 * fragments for several consumers is charged to the first. The charge
 * stays until the page's last reference goes, including the pool's own
 * share while it still cuts fragments from it.
 * @return 0 (charged, already charged, or the pool is not accounted), or
 *         -ENOBUFS when @p g or an ancestor is at its max: nothing is
 *         charged and the caller copies instead, or waits. -EINVAL for the
 *         root group (charge a group you created).
 */
static inline int pn_pool_charge(struct pn_frame *f, struct pn_acct_group *g,
				 enum pn_acct_kind kind)
{
	uint16_t none = 0, tag;
	uint32_t nr;
	int rc;

	if (!(pn_frame_subtype(f) & PN_POOL_SUBTYPE_ACCOUNTED) || g == NULL)
		return 0;
	if (pn_unlikely(g->id == 0))
		return -EINVAL;
	if (__atomic_load_n(&f->acct_id, __ATOMIC_RELAXED) != 0)
		return 0;
	nr = 1u << pn_frame_order(f);
	rc = pn_acct_charge(g, nr, kind);
	if (rc)
		return rc;
	tag = pn_acct_frame_tag(g, kind);
	/* the sole holder of a whole page stores its tag; holders of a
	 * fragmented or shared page may race, and one tag wins */
	if (pn_likely(atomic_load_explicit(&f->refcount, memory_order_relaxed) == 1 &&
		      atomic_load_explicit(&f->frag_count, memory_order_relaxed) == 0))
		__atomic_store_n(&f->acct_id, tag, __ATOMIC_RELAXED);
	else if (!__atomic_compare_exchange_n(&f->acct_id, &none, tag, false,
					      __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		pn_acct_uncharge(g, nr, kind);
	return 0;
}

/** @return the group page @p f is charged to, or NULL. */
static inline struct pn_acct_group *pn_frame_acct(const struct pn_frame *f)
{
	uint16_t tag = __atomic_load_n(&((struct pn_frame *)f)->acct_id, __ATOMIC_RELAXED);

	return tag ? pn_acct_by_id(tag & (PN_ACCT_MAX_GROUPS - 1)) : NULL;
}

/**
 * Recycle a pooled POOL frame (see PN_POOL_HOLDS_REF): into the owner's
 * cache when on the owner thread, else the ring, else the region.
 */
static inline void pn_pool_recycle(struct pn_pool *p, struct pn_frame *f)
{
	int tid = pn_thread_id();
	uint32_t n = atomic_load_explicit(&p->alloc.count, memory_order_relaxed);

	PN_DEBUG_ASSERT(pn_frag_track_idle(f),
			"page recycled while a fragment of it is still live");
	pn_pool_uncharge(p, f);
	/* fast path: owner thread, room in the cache, right node */
	if (pn_likely(pn_pool_is_owner(p, tid) & (n < p->alloc.recycle_size)) &&
	    pn_likely(pn_pool_node_ok(p, f))) {
		p->alloc.cache[n] = f;
		atomic_store_explicit(&p->alloc.count, n + 1, memory_order_relaxed);
		PN_SOLE_ADD(p->alloc.recycle_cached, 1);
		return;
	}
	pn_pool_recycle_slow(p, f, tid);
}

/**
 * Put a page of pool @p p: pn_frame_put() with the POOL destructor inlined
 * (the kernel's page_pool_put_full_page()). Any thread.
 */
static inline void pn_pool_put(struct pn_pool *p, struct pn_frame *f)
{
	PN_DEBUG_ASSERT(pn_frame_type(f) == PN_MT_POOL && pn_frame_pool(f) == p,
			"pn_pool_put on a frame of another owner");
	if (pn_pool_frame_take_back(f))
		pn_pool_recycle(p, f);
}

void pn_pool_put_bulk_slow(struct pn_pool *p, struct pn_frame *const *frames,
			   unsigned n, unsigned done);

/* Debug builds: a page pn_pool_put_bulk takes is this pool's, whole. */
static inline void pn_pool_bulk_put_check(const struct pn_pool *p, struct pn_frame *f)
{
	PN_DEBUG_ASSERT(pn_frame_valid(f) && pn_frame_pool(f) == p,
			"pn_pool_put_bulk on a frame that is not this pool's");
	PN_DEBUG_ASSERT(pn_frag_track_idle(f), "page put while a fragment of it is still live");
	(void)p;
	(void)f;
}

/* The owner's bulk put, sole holder: the page becomes the pool's. The
 * descriptor line is ours already (its refcount was just read). */
static inline void pn_pool_bulk_put_pooled(struct pn_frame *f)
{
#if PN_POOL_HOLDS_REF
	__atomic_store_n(&f->holder, 0, __ATOMIC_RELAXED);
#else
	atomic_store_explicit(&f->refcount, 0, memory_order_relaxed);
#endif
}

/** Put @p n pages of pool @p p. Any thread. */
static inline void pn_pool_put_bulk(struct pn_pool *p,
				    struct pn_frame *const *frames, unsigned n)
{
	int tid = pn_thread_id();
	uint32_t have = atomic_load_explicit(&p->alloc.count, memory_order_relaxed);
	unsigned i = 0;

	/* fast path: owner, room for all, sole references on the right node */
	if (pn_likely(pn_pool_is_owner(p, tid) && have + n <= p->alloc.recycle_size)) {
		int nid = pn_pool_nid(p);

		/* any node and no charges to give back (the pool's frames are
		 * never tagged): the checks are the pool's, made once per burst,
		 * and a page costs its refcount check and its freeze */
		if (nid == PN_NUMA_ANY && !p->accounted) {
			/* four at a time: one branch for four sole-holder checks */
			struct pn_frame **c = &p->alloc.cache[have];

			for (; i + 4 <= n; i += 4) {
				struct pn_frame *f0 = frames[i], *f1 = frames[i + 1];
				struct pn_frame *f2 = frames[i + 2], *f3 = frames[i + 3];

				if (((atomic_load_explicit(&f0->refcount, memory_order_acquire) ^ 1) |
				     (atomic_load_explicit(&f1->refcount, memory_order_acquire) ^ 1) |
				     (atomic_load_explicit(&f2->refcount, memory_order_acquire) ^ 1) |
				     (atomic_load_explicit(&f3->refcount, memory_order_acquire) ^ 1)) != 0)
					break;
#ifdef PN_DEBUG
				for (unsigned k = 0; k < 4; k++) {
					pn_pool_bulk_put_check(p, frames[i + k]);
					PN_DEBUG_ASSERT(__atomic_load_n(&frames[i + k]->acct_id,
									__ATOMIC_RELAXED) == 0,
							"a charged page in an unaccounted pool");
				}
#endif
				pn_pool_bulk_put_pooled(f0);
				pn_pool_bulk_put_pooled(f1);
				pn_pool_bulk_put_pooled(f2);
				pn_pool_bulk_put_pooled(f3);
				c[i] = f0;
				c[i + 1] = f1;
				c[i + 2] = f2;
				c[i + 3] = f3;
			}
			for (; i < n; i++) {
				struct pn_frame *f = frames[i];

				if (atomic_load_explicit(&f->refcount, memory_order_acquire) != 1)
					break;
				pn_pool_bulk_put_check(p, f);
				PN_DEBUG_ASSERT(__atomic_load_n(&f->acct_id, __ATOMIC_RELAXED) == 0,
						"a charged page in an unaccounted pool");
				pn_pool_bulk_put_pooled(f);
				p->alloc.cache[have + i] = f;
			}
		} else {
			for (; i < n; i++) {
				struct pn_frame *f = frames[i];

				if (atomic_load_explicit(&f->refcount, memory_order_acquire) != 1 ||
				    !pn_frame_node_ok(f, nid))
					break;
				pn_pool_bulk_put_check(p, f);
				pn_pool_bulk_put_pooled(f);
				pn_pool_uncharge(p, f);
				p->alloc.cache[have + i] = f;
			}
		}
		atomic_store_explicit(&p->alloc.count, have + i, memory_order_relaxed);
		PN_SOLE_ADD(p->alloc.recycle_cached, i);
		if (pn_likely(i == n))
			return;
	}
	pn_pool_put_bulk_slow(p, frames, n, i);
}

/* Hand out the fragment [off, off + size) of page @p f, the @p handed-th
 * the pool cut from it (owner only). */
static inline void *pn_pool_frag_take(struct pn_pool *p, struct pn_frame *f, uint32_t off,
				      uint32_t size, uint32_t handed, struct pn_frame **frame)
{
	p->frag_offset = off + size;
	p->frag_handed = handed;
	*frame = f;
#ifdef PN_DEBUG
	pn_frag_track_cut(f, off, size);
#endif
	return f->addr + off;
}

/* slow path of pn_pool_alloc_frag */
void *pn_pool_alloc_frag_slow(struct pn_pool *p, uint32_t size,
			      struct pn_frame **frame);

/**
 * Cut a fragment of @p size bytes (rounded up to 64) from the pool's current
 * page; owner thread only. The caller holds one frag_count share of
 * *@p frame and gives it back with pn_pool_frag_free().
 * @return the fragment's address, or NULL with errno EINVAL (size 0 or
 *         larger than a page) or ENOMEM.
 */
static inline void *pn_pool_alloc_frag(struct pn_pool *p, uint32_t size,
				       struct pn_frame **frame)
{
	uint32_t off = p->frag_offset;

	PN_DEBUG_ASSERT(pn_pool_is_owner(p, pn_thread_id()),
			"pn_pool_alloc_frag off the owner thread");
	/* fast path: a sane size, room on the page, no consumer charged the
	 * page (the slow path moves on from it), and either not the last
	 * budgeted fragment or one that fills the page (the budget cannot
	 * grow: the page then belongs to its fragments) */
	if (pn_likely(size - 1u < p->page_bytes)) {
		struct pn_frame *f = p->frag_page;
		uint32_t handed = p->frag_handed + 1;
		uint32_t end;

		size = PN_ALIGN_UP(size, (uint32_t)PN_POOL_FRAG_ALIGN);
		end = off + size;
		if (pn_likely(f != NULL && end <= p->page_bytes && handed < p->frag_bias &&
			      __atomic_load_n(&f->acct_id, __ATOMIC_RELAXED) == 0))
			return pn_pool_frag_take(p, f, off, size, handed, frame);
		if (f != NULL && end <= p->page_bytes && handed == p->frag_bias &&
		    p->page_bytes - end < (uint32_t)PN_POOL_FRAG_ALIGN &&
		    __atomic_load_n(&f->acct_id, __ATOMIC_RELAXED) == 0) {
			p->frag_page = NULL;
			return pn_pool_frag_take(p, f, off, size, handed, frame);
		}
		/* no page being cut: start the next one when the size is the
		 * last one asked (its budget known, at least two a page, so
		 * this cut is not the last budgeted) */
		if (f == NULL && size == p->frag_last_size && p->frag_last_bias >= 2) {
			uint32_t n = atomic_load_explicit(&p->alloc.count, memory_order_relaxed);
			int tid = pn_thread_id();

			if (pn_likely(n != 0 && pn_pool_is_owner(p, tid))) {
				f = pn_pool_cache_take(p, n);
				p->frag_page = f;
				p->frag_bias = p->frag_last_bias;
				atomic_store_explicit(&f->frag_count, p->frag_bias, memory_order_relaxed);
				return pn_pool_frag_take(p, f, 0, size, 1, frame);
			}
		}
	}
	return pn_pool_alloc_frag_slow(p, size, frame);
}

/* The owner took back the last fragment it had cut from its current page. */
void pn_pool_frag_page_idle(struct pn_pool *p);

/**
 * Give back the fragment share of @p f that @p buf (any address inside the
 * fragment) was handed out with, and say whether that freed the page: the
 * page, now the pool's, is returned (with its pool in *@p pool) for the
 * caller to recycle with pn_pool_recycle() or pn_pool_recycle_bulk(); NULL
 * when others still hold it, or the page was taken care of. Any thread. On
 * the owner thread a fragment
 * of the page the pool is still cutting from is taken back into the pool's
 * budget with no atomic at all; otherwise frag_count is decremented and the
 * last fragment drops the page reference (docs/design.md §2). The page is cut again
 * from its start only once every fragment share and every plain reference
 * is gone (the page_pool fragment thread). Debug builds check that @p buf names a live fragment
 * of @p f: a double or foreign free stops here.
 */
static inline struct pn_frame *pn_pool_frag_release(struct pn_frame *f, const void *buf,
							struct pn_pool **pool)
{
	struct pn_pool *p = pn_frame_pool(f);

#ifdef PN_DEBUG
	pn_frag_track_free(f, buf);
#else
	(void)buf;
#endif
	/* owner check first: frag_page is only read by its writer */
	if (pn_likely(p != NULL && pn_pool_is_owner(p, pn_thread_id()) &&
		      p->frag_page == f)) {
		if (--p->frag_handed != 0)
			return NULL;
		/* every share the owner cut came back to the owner (a share
		 * freed elsewhere would keep frag_handed above 0): cut the page
		 * again from its start if no plain reference sees it. A holder
		 * that took one on another thread handed its share to us
		 * through something that orders it (a ring, a lock), so the
		 * acquire load sees it. All on the descriptor line we hold. */
		if (pn_likely(atomic_load_explicit(&f->refcount, memory_order_acquire) == 1 &&
			      __atomic_load_n(&f->acct_id, __ATOMIC_RELAXED) == 0 &&
			      p->quarantine == NULL)) {
#ifdef PN_DEBUG
			PN_DEBUG_ASSERT(pn_frag_track_idle(f), "page recut under a live fragment");
#endif
			p->frag_offset = 0;
			return NULL;
		}
		pn_pool_frag_page_idle(p);
		return NULL;
	}
	/* a page the pool cuts no more: the last share drops the pool's
	 * reference, and the sole holder gives the page straight back */
	uint32_t left = pn_ref_sub(&f->frag_count, 1);

	PN_DEBUG_ASSERT(left < (UINT32_C(1) << 31), "frag_count underflow");
	if (left != 0)
		return NULL;
	if (pn_unlikely(p == NULL)) {
		pn_frame_put(f);
		return NULL;
	}
	*pool = p;
	return pn_pool_frame_take_back(f) ? f : NULL;
}

/**
 * Give back the fragment share of @p f that @p buf (any address inside the
 * fragment) was handed out with (see pn_pool_frag_release()). Any thread.
 */
static inline void pn_pool_frag_free(struct pn_frame *f, const void *buf)
{
	struct pn_pool *p;
	struct pn_frame *back = pn_pool_frag_release(f, buf, &p);

	if (back != NULL)
		pn_pool_recycle(p, back);
}

/**
 * Recycle @p n pages of pool @p p that pn_pool_frag_release() returned,
 * together: on a thread that is not the owner, one ring reservation for all
 * of them (pn_pkt_free_bulk() collects them so). Any thread.
 */
void pn_pool_recycle_bulk(struct pn_pool *p, struct pn_frame *const *frames, unsigned n);

/**
 * Tell the pool its NUMA node changed (the kernel's page_pool_nid_changed):
 * frames of other nodes are released from now on, counted as alloc_waive.
 */
void pn_pool_set_nid(struct pn_pool *p, int nid);

/** Hand ownership to another thread; only while neither uses the pool. */
void pn_pool_set_owner(struct pn_pool *p, int tid);

/** Sum the per-thread counters. */
void pn_pool_get_stats(const struct pn_pool *p, struct pn_pool_stats_sum *s);

/** @return recycled / (recycled + released), 1.0 when nothing was put yet. */
double pn_pool_recycle_rate(const struct pn_pool_stats_sum *s);

/** Recycle rate over the interval between two samples @p a and @p b. */
double pn_pool_recycle_rate_between(const struct pn_pool_stats_sum *a,
				    const struct pn_pool_stats_sum *b);

/** Fill @p info (a snapshot; counts move while other threads work). */
void pn_pool_info(const struct pn_pool *p, struct pn_pool_info *info);

/** @return frames out with users (see pn_pool_info::inflight). */
int64_t pn_pool_inflight(const struct pn_pool *p);

/**
 * List the frames of this pool still held, grouped by who holds them
 * ("socket ... holds 300 through zero-copy tokens; port ... rx queue 0
 * holds 12"), then the first few one by one. @return pages held.
 */
unsigned pn_pool_dump_inflight(const struct pn_pool *p, FILE *out);

/**
 * Who holds this pool's pages: up to @p max groups, largest first (see
 * pn_region_held_by()). @p total gets the pages held in all.
 */
unsigned pn_pool_held_by(const struct pn_pool *p, struct pn_held_group *groups,
			 unsigned max, uint32_t *total);

/** @return the pool with this id, or NULL. */
struct pn_pool *pn_pool_by_id(uint16_t id);

/**
 * Call @p fn on every pool under the pool table lock, so none is freed
 * meanwhile (for readers that do not own the pools, such as telemetry).
 * @p fn must not create or destroy pools. Stops at, and returns, the first
 * non-zero return.
 */
int pn_pool_foreach(int (*fn)(struct pn_pool *p, void *arg), void *arg);

/** Same for one pool. @return fn's return, or -ENOENT. */
int pn_pool_visit(uint16_t id, int (*fn)(struct pn_pool *p, void *arg), void *arg);

/** @return the pool's region. */
static inline struct pn_region *pn_pool_region(const struct pn_pool *p)
{
	return p->region;
}

/** @return bytes of one page of this pool (4 KiB << order). */
static inline uint32_t pn_pool_page_bytes(const struct pn_pool *p)
{
	return p->page_bytes;
}

#ifdef __cplusplus
}
#endif

#endif /* PN_POOL_H */
