/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Memory regions, frames and their memdesc descriptors (docs/design.md §1 and
 * the memdesc threads it cites).
 *
 * A region is one contiguous virtual area cut into 4 KiB frames. Beside it
 * sits a dense array of 32-byte descriptors, one per frame, so that
 * address -> descriptor is `(addr - base) >> 12` once the region is known and
 * descriptor -> address is one load.
 *
 * Every descriptor starts with a memdesc word packed the way the memdesc threads pack
 * PageOffline:
 *
 *   bits  0-3   type      (PN_MT_*: MISC, FREE, POOL, APP, OFFLINE, USER0..)
 *   bits  4-10  subtype   (owner-defined; MISC pages say what they are here)
 *   bit   11    APP_MAP   (may be handed to the application)
 *   bits 12-17  order     (block is 2^order frames)
 *   bits 18-23  region    (index into the region table)
 *   bits 24-33  node      (NUMA node, 0x3ff = unknown)
 *   bits 34-63  flags     (PN_MD_F_*)
 *
 * Reference counting follows the kernel's frozen-page model: a frame on a
 * free list has refcount 0 ("frozen"); whoever hands it out sets refcount 1
 * with a plain store (a pool's cache and ring: see PN_POOL_HOLDS_REF in
 * pn_pool.h). pn_frame_get() on a frozen frame is a
 * bug caught by debug builds. The final pn_frame_put() calls the destructor
 * registered for the frame's type (the TCP zero-copy accounting thread's `__put_page()` dispatch); there
 * are only a few types, so the type indexes a 16-entry table.
 *
 * Threading: pn_frame_get/put and the frag helpers are safe from any thread
 * on frames the caller holds a reference to. Region creation and destruction
 * are control-path calls; pn_region_alloc/free take the region's lock (slow
 * path only).
 */
#ifndef PN_MEM_H
#define PN_MEM_H

#include <stdatomic.h>
#include <stdio.h>

#include "pn_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @name memdesc types (4 bits). */
/** @{ */
#define PN_MT_MISC 0u    /**< owned by the library, no destructor action */
#define PN_MT_FREE 1u    /**< in the region's free lists */
#define PN_MT_POOL 2u    /**< belongs to a page pool; recycled on final put */
#define PN_MT_APP 3u     /**< lent to the application; back to its refill queue */
#define PN_MT_OFFLINE 4u /**< frozen for good (e.g. poisoned), never handed out */
#define PN_MT_USER0 8u   /**< first type applications may register */
#define PN_MT_MAX 16u
/** @} */

#define PN_MD_TYPE_SHIFT 0
#define PN_MD_TYPE_MASK UINT64_C(0xf)
#define PN_MD_SUBTYPE_SHIFT 4
#define PN_MD_SUBTYPE_MASK UINT64_C(0x7f)
#define PN_MD_APP_MAP (UINT64_C(1) << 11)
#define PN_MD_ORDER_SHIFT 12
#define PN_MD_ORDER_MASK UINT64_C(0x3f)
#define PN_MD_REGION_SHIFT 18
#define PN_MD_REGION_MASK UINT64_C(0x3f)
#define PN_MD_NODE_SHIFT 24
#define PN_MD_NODE_MASK UINT64_C(0x3ff)
#define PN_MD_NODE_NONE 0x3ffu
/** Tail frame of a higher-order block; `next` holds the head's index. */
#define PN_MD_F_TAIL (UINT64_C(1) << 34)

#define PN_MAX_REGIONS 64
#define PN_MAX_ORDER 9 /* 2 MiB blocks, one huge page */

/** Any NUMA node / let the library pick the caller's node. */
#define PN_NUMA_ANY (-1)

/**
 * Per-frame descriptor. 32 bytes so two share a cache line; never more than
 * one line (static_assert in pn_region.c).
 */
struct pn_frame {
	uint64_t memdesc;
	_Atomic(uint32_t) refcount;   /**< 0 = frozen */
	_Atomic(uint32_t) frag_count; /**< fragments outstanding (docs/design.md §2) */
	union {
		struct {
			uint16_t pool_id; /**< owner pool, index into the pool table */
			uint16_t acct_id; /**< accounting group charged, 0 = none */
		};
		/* while the frame heads a free block: back link of the
		 * region's free list (index + 1), as struct page unions its
		 * fields by state */
		uint32_t free_prev;
	};
	union {
		/** free-list link while free (frame index + 1, 0 = end); the
		 *  head's index in a tail frame of a higher-order block */
		uint32_t next;
		/** while handed out: who holds it now (PN_HOLDER(), 0 = not
		 *  said); written at every hand-over, read by the dumps */
		uint32_t holder;
	};
	uint8_t *addr;               /**< first byte of the frame */
};

/** @return the memdesc type of @p f. */
static inline unsigned pn_frame_type(const struct pn_frame *f)
{
	return (unsigned)(f->memdesc & PN_MD_TYPE_MASK);
}

static inline unsigned pn_frame_subtype(const struct pn_frame *f)
{
	return (unsigned)((f->memdesc >> PN_MD_SUBTYPE_SHIFT) & PN_MD_SUBTYPE_MASK);
}

static inline unsigned pn_frame_order(const struct pn_frame *f)
{
	return (unsigned)((f->memdesc >> PN_MD_ORDER_SHIFT) & PN_MD_ORDER_MASK);
}

/** @return the NUMA node the frame's memory is on, or PN_NUMA_ANY. */
static inline int pn_frame_node(const struct pn_frame *f)
{
	unsigned n = (unsigned)((f->memdesc >> PN_MD_NODE_SHIFT) & PN_MD_NODE_MASK);

	return n == PN_MD_NODE_NONE ? PN_NUMA_ANY : (int)n;
}

static inline unsigned pn_frame_region_index(const struct pn_frame *f)
{
	return (unsigned)((f->memdesc >> PN_MD_REGION_SHIFT) & PN_MD_REGION_MASK);
}

/** Replace type and subtype, keeping order, region, node and flags. */
static inline void pn_frame_set_type(struct pn_frame *f, unsigned type,
				     unsigned subtype)
{
	f->memdesc = (f->memdesc & ~(PN_MD_TYPE_MASK |
				     (PN_MD_SUBTYPE_MASK << PN_MD_SUBTYPE_SHIFT))) |
		     ((uint64_t)type & PN_MD_TYPE_MASK) |
		     (((uint64_t)subtype & PN_MD_SUBTYPE_MASK) << PN_MD_SUBTYPE_SHIFT);
}

/** @return the first byte of the frame (of the block for higher orders). */
static inline void *pn_frame_addr(const struct pn_frame *f)
{
	return f->addr;
}

/** @return the current refcount (0 = frozen). Racy by nature. */
static inline uint32_t pn_frame_refcount(const struct pn_frame *f)
{
	return atomic_load_explicit(&((struct pn_frame *)f)->refcount,
				    memory_order_relaxed);
}

/**
 * Thaw a frozen frame when handing it out: refcount 0 -> 1 with a plain
 * store, since nobody else can see a frozen frame (the memdesc threads).
 */
static inline void pn_frame_thaw(struct pn_frame *f)
{
	PN_DEBUG_ASSERT(pn_frame_refcount(f) == 0, "thaw of a frame that is not frozen");
	atomic_store_explicit(&f->refcount, 1, memory_order_relaxed);
	/* a new holder: nobody has said who yet */
	__atomic_store_n(&f->holder, 0, __ATOMIC_RELAXED);
}

/**
 * Debug check: is @p f a descriptor in its region's array (not a copy made
 * by value, not a made-up pointer)? Out of line; only debug builds call it
 * on every get and put.
 */
bool pn_frame_valid(const struct pn_frame *f);

/** Destructor run by the final put; indexed by memdesc type. */
typedef void (*pn_frame_dtor_t)(struct pn_frame *f);

extern pn_frame_dtor_t pn_frame_dtors[PN_MT_MAX];

/** Slow path of the final put: dispatch on the frame's type. */
void pn_frame_release(struct pn_frame *f);

/**
 * Take a plain reference on a frame the caller already holds a reference to
 * (a clone, an expanded head, an application keeping payload). Never
 * touches frag_count (docs/design.md §2).
 */
static inline void pn_frame_get(struct pn_frame *f)
{
	PN_DEBUG_ASSERT(pn_frame_valid(f), "get on something that is not a frame descriptor");
	PN_DEBUG_ASSERT(pn_frame_refcount(f) != 0, "get on a frozen frame");
	/* relaxed: the caller's own reference keeps the frame alive */
	atomic_fetch_add_explicit(&f->refcount, 1, memory_order_relaxed);
}

/**
 * Drop one reference without running the destructor.
 * @return true when it was the last one: the frame is frozen now and the
 *         caller must dispose of it.
 */
static inline bool pn_frame_unref(struct pn_frame *f)
{
	PN_DEBUG_ASSERT(pn_frame_valid(f), "put on something that is not a frame descriptor "
			"(a copy made by value, or a made-up pointer)");
	PN_DEBUG_ASSERT(pn_frame_refcount(f) != 0,
			"put on a frozen frame (the caller no longer holds a reference: "
			"a stale or doubled put)");
	return pn_ref_sub(&f->refcount, 1) == 0;
}

/**
 * Drop a reference. The holder of the only reference skips the atomic
 * read-modify-write (nobody can take a new reference without holding one),
 * as rte_pktmbuf_prefree_seg does; the final put calls the type's
 * destructor.
 */
static inline void pn_frame_put(struct pn_frame *f)
{
	if (pn_frame_unref(f))
		pn_frame_release(f);
}

/**
 * Drop @p nr fragment shares. The one that takes frag_count to zero drops the
 * pool's page reference through pn_frame_put(). When frag_count equals @p nr
 * we hold every outstanding share, nobody else can change it, and the atomic
 * is skipped (docs/design.md §2, page_pool_unref_page()).
 * @return the frag_count left (0 means the page reference was dropped).
 */
static inline uint32_t pn_frame_frag_sub(struct pn_frame *f, uint32_t nr)
{
	uint32_t left = pn_ref_sub(&f->frag_count, nr);

	PN_DEBUG_ASSERT(left < (UINT32_C(1) << 31), "frag_count underflow");
	if (left == 0)
		pn_frame_put(f);
	return left;
}

/* ---- holders: who a page was handed to ---- */

/*
 * How a holder holds a page: the `via` half of a holder word. A holder word
 * is PN_HOLDER(id, via): a registered holder id (16 bits) and how it holds
 * the page (8 bits), stored in the descriptor at every hand-over so a dump
 * can say "socket X holds 300 pages through zero-copy tokens".
 */
enum pn_holder_via {
	PN_VIA_NONE = 0,  /**< not said */
	PN_VIA_FILL = 1,  /**< given to the device to receive into */
	PN_VIA_RX = 2,    /**< received, handed out by an rx burst */
	PN_VIA_TX = 3,    /**< given to the device to send */
	PN_VIA_QUEUE = 4, /**< queued in a socket */
	PN_VIA_ZC = 5,    /**< held by the application through zero-copy tokens */
	PN_VIA_APP = 6,   /**< an application-defined holder */
	PN_VIA_MAX
};

#define PN_HOLDER_MAX 65536u /**< ids 1..65535; 0 = nobody said */
#define PN_HOLDER(id, via) ((uint32_t)(id) | ((uint32_t)(via) << 16))
#define PN_HOLDER_ID(h) ((h) & 0xffffu)
#define PN_HOLDER_VIA(h) (((h) >> 16) & 0xffu)
#define PN_HOLDER_LABEL_MAX 80

/**
 * Register a holder (a port queue, a socket, an application's own label).
 * Ids never used go first, then those given back, oldest first, so an id
 * is reused as late as possible after it is unregistered. Any thread; no
 * lock, and the same cost however many are registered.
 * @return the id (1..65535), or 0 when all are in use (errno ENOSPC) or
 *         @p fmt is NULL (EINVAL). 0 is a valid holder word: "not said".
 */
uint32_t pn_holder_register(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/**
 * Unregister @p id. Pages still marked with it keep naming it, with
 * " (gone)" appended, until the id is reused. 0 and unknown ids are ignored.
 */
void pn_holder_unregister(uint32_t id);

/**
 * Write "<label> through <via>" for holder word @p holder into @p buf.
 * @return @p buf.
 */
const char *pn_holder_describe(uint32_t holder, char *buf, size_t len);

/** Name of a `via` value ("zero-copy tokens", "rx queue", ...). */
const char *pn_holder_via_name(unsigned via);

/** Say who holds @p f now (a plain store: any holder of a reference may). */
static inline void pn_frame_set_holder(struct pn_frame *f, uint32_t holder)
{
	__atomic_store_n(&f->holder, holder, __ATOMIC_RELAXED);
}

static inline uint32_t pn_frame_holder(const struct pn_frame *f)
{
	return __atomic_load_n(&f->holder, __ATOMIC_RELAXED);
}

/* ---- debug: the identity of fragment shares ---- */

#ifdef PN_DEBUG
/*
 * Debug builds record every fragment cut from a page in a per-frame bitmap
 * (one bit per 64-byte slot for "covered", one for "starts here"), so a free
 * of a fragment that is not live -- freed twice, never handed out, or of
 * another page -- stops at that free, naming it.
 */
void pn_frag_track_cut(struct pn_frame *f, uint32_t off, uint32_t len);
void pn_frag_track_free(struct pn_frame *f, const void *addr);
/** @return true when no fragment of @p f is live. */
bool pn_frag_track_idle(const struct pn_frame *f);
#endif

/* ---- regions ---- */

struct pn_region;

/** Require hugepages; fail with ENOMEM rather than fall back to THP. */
#define PN_REGION_F_HUGEPAGE 0x1u
/** Do not try hugepages (anonymous memory advised for THP). */
#define PN_REGION_F_NO_HUGEPAGE 0x2u
#define PN_REGION_F_ALL (PN_REGION_F_HUGEPAGE | PN_REGION_F_NO_HUGEPAGE)

/** How a region's memory is backed. */
enum pn_region_backing {
	PN_REGION_HUGETLB, /**< MAP_HUGETLB 2 MiB pages */
	PN_REGION_THP,     /**< anonymous, MADV_HUGEPAGE */
	PN_REGION_APP,     /**< provided by the application */
};

/** Region creation parameters; zero-initialise, then set what you need. */
struct pn_region_params {
	size_t len;       /**< bytes; rounded up to whole frames */
	int numa_node;    /**< PN_NUMA_ANY: the calling thread's node */
	uint32_t flags;   /**< PN_REGION_F_* */
	const char *name; /**< for telemetry; copied */
};

/** Read-only facts about a region. */
struct pn_region_info {
	const char *name;
	void *base;
	size_t len;
	/** descriptor of the frame at base + (i << PN_FRAME_SHIFT) is frames[i]
	 *  (for drivers that map device addresses to frames in their loops) */
	struct pn_frame *frames;
	uint32_t nr_frames;
	uint32_t nr_free; /**< frames in the region's free lists */
	int numa_node;
	enum pn_region_backing backing;
	unsigned index;
};

/**
 * Create a region of library-owned memory: hugepage-backed when hugepages can
 * be had (for regions of at least 2 MiB, or always with PN_REGION_F_HUGEPAGE),
 * else anonymous memory advised for THP; bound to @p p->numa_node
 * with libnuma when NUMA is available. The memory is pre-faulted.
 * @return the region, or NULL with errno EINVAL (bad params, unknown flag),
 *         ENOMEM, or ENOSPC (region table full).
 */
struct pn_region *pn_region_create(const struct pn_region_params *p);

/**
 * Register memory the application provides (for example the area a service
 * wants received payload to land in). @p addr must be 4 KiB aligned and @p len
 * a multiple of 4 KiB. The application keeps ownership of the memory and
 * must keep it mapped until pn_region_destroy() succeeds.
 * @param numa_node node of the memory, or PN_NUMA_ANY to ask the kernel.
 * @return the region, or NULL with errno EINVAL, ENOMEM or ENOSPC.
 */
struct pn_region *pn_region_register(void *addr, size_t len, int numa_node,
				     const char *name);

/**
 * Destroy a region. Library-owned memory is unmapped; application memory is
 * left alone.
 * @return 0, or -EBUSY while frames are out of the free lists or a pool uses
 *         the region.
 */
int pn_region_destroy(struct pn_region *r);

/** Fill @p info. */
void pn_region_info(const struct pn_region *r, struct pn_region_info *info);

/**
 * Address -> descriptor in O(1) for any address inside the region's frames;
 * an address in a tail frame of a higher-order block gives the block's head.
 * @return the descriptor, or NULL when @p addr is outside the region.
 */
struct pn_frame *pn_region_addr_to_frame(const struct pn_region *r,
					 const void *addr);

/** Same, searching the region table (a few regions at most). */
struct pn_frame *pn_addr_to_frame(const void *addr);

/** @return the region a frame belongs to. */
struct pn_region *pn_frame_region(const struct pn_frame *f);

/** @return region by table index, or NULL. */
struct pn_region *pn_region_by_index(unsigned index);

/**
 * Slow path: take up to @p n blocks of 2^@p order frames from the region's
 * free lists. The blocks come back frozen with type PN_MT_MISC; the caller
 * sets the type and thaws them.
 * @return how many blocks were taken (0 when the region is exhausted).
 */
unsigned pn_region_alloc(struct pn_region *r, unsigned order, unsigned n,
			 struct pn_frame **out);

/** Slow path: return blocks to the region's free lists. */
void pn_region_free(struct pn_region *r, struct pn_frame *const *f, unsigned n);

/** Pools and other users pin a region so that it cannot be destroyed. */
void pn_region_pin(struct pn_region *r);
void pn_region_unpin(struct pn_region *r);

/**
 * Lend a block of the region to the application: type PN_MT_APP, refcount 1.
 * Its final put runs the APP destructor, which queues the block on the
 * region's refill queue, where pn_region_app_refill() finds it again.
 * @return the block or NULL (errno ENOMEM when the region is exhausted).
 */
struct pn_frame *pn_region_app_alloc(struct pn_region *r);

/**
 * Take back up to @p n frames the APP destructor queued for refill; they are
 * handed out again (refcount 1, type APP). @return how many.
 */
unsigned pn_region_app_refill(struct pn_region *r, struct pn_frame **out,
			      unsigned n);

/**
 * Register the destructor for a memdesc type >= PN_MT_USER0.
 * @return 0, -EINVAL (type out of range or reserved, fn NULL) or -EEXIST.
 */
int pn_frame_dtor_register(unsigned type, pn_frame_dtor_t fn);

/** Remove a destructor registered with pn_frame_dtor_register(). */
int pn_frame_dtor_unregister(unsigned type);

/** Pages held by one holder, for pn_region_held_by(). */
struct pn_held_group {
	uint32_t holder; /**< holder word (PN_HOLDER) */
	uint32_t pages;
};

/**
 * Group the frames of the region that are out of the free lists and not
 * frozen by who holds them. Fills up to @p max groups, largest first.
 * @param pool_id only frames of this pool, or -1 for all.
 * @param[out] total pages held in all (may be NULL).
 * @return groups filled.
 */
unsigned pn_region_held_by(const struct pn_region *r, int pool_id,
			   struct pn_held_group *groups, unsigned max, uint32_t *total);

/**
 * Print the frames of the region that are out of the free lists and not
 * frozen, grouped by holder ("socket ... holds 300 through zero-copy
 * tokens"), then the first few one by one: type, owner pool, accounting
 * group, refcount, frag_count, holder. This is how a stalled pool shutdown
 * says who holds its pages.
 * @param pool_id only frames of this pool, or -1 for all.
 * @return how many frames are held.
 */
unsigned pn_region_dump_held(const struct pn_region *r, int pool_id, FILE *out);

/**
 * pn_region_held_by() for an owner that itself holds @p unnamed_own of the
 * frames with no holder said (a pool's cache and ring in release builds,
 * where the pool keeps a reference on them): those are not counted.
 */
unsigned pn_region_held_by_except(const struct pn_region *r, int pool_id, uint32_t unnamed_own,
				  struct pn_held_group *groups, unsigned max, uint32_t *total);

/** pn_region_dump_held() with pn_region_held_by_except()'s @p unnamed_own. */
unsigned pn_region_dump_held_except(const struct pn_region *r, int pool_id,
				    uint32_t unnamed_own, FILE *out);

#ifdef __cplusplus
}
#endif

#endif /* PN_MEM_H */
