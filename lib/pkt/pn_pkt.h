/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Packet buffers: a head buffer cut from a pool page plus page fragments,
 * with headroom/tailroom, clone, expand-head, pull/push/trim and chaining
 * (docs/design.md §5). The model is the sk_buff's, laid out the way an rte_mbuf is:
 *
 *   buffer (pool fragment of frag_size bytes, 2 KiB by default):
 *   +--------+-----------+------------------+----------+-------------+------+
 *   | shinfo | pn_pkt    | shinfo frags[6]  | headroom | linear data | tail |
 *   | 16 B   | 48 B      | 96 B (+32 pad)   |          |             | room |
 *   +--------+-----------+------------------+----------+-------------+------+
 *   |<- one cache line ->|
 *
 * The buffer's reference count and the packet struct share the first cache
 * line, so allocating and freeing a packet without fragments touches one
 * line of the buffer and the page's descriptor, like an rte_mbuf.
 *
 * The shinfo describes the buffer's data: a reference count and the page
 * fragments that follow the linear data. A clone gets a buffer of its own
 * for its struct and shares the original's data and fragments by taking a
 * reference on the original's shinfo. Expanding the head moves a packet's
 * data to a new buffer and takes plain page references (pn_frame_get) on its
 * fragments, so the pages return to their pool only when every fragment
 * share and every plain reference is gone (the page_pool fragment thread).
 *
 * Reference rule: every pn_pkt holds one reference on the shinfo of its own
 * buffer and, when its data lives in another buffer, one on that buffer's
 * shinfo too.
 *
 * Threading: a packet belongs to one thread at a time; allocation, clone and
 * expand-head must run on the owner thread of the pool they allocate from.
 * Freeing is allowed on any thread.
 */
#ifndef PN_PKT_H
#define PN_PKT_H

#include <errno.h>

#include "pn_pool.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PN_PKT_MAX_FRAGS 6
#define PN_PKT_HEADROOM 128

/** How a fragment entry holds its page. */
enum pn_pkt_frag_kind {
	PN_PKT_FRAG_SHARE = 0, /**< one frag_count share (from pn_pool_alloc_frag) */
	PN_PKT_FRAG_REF = 1,   /**< one plain refcount (pn_frame_get) */
};

struct pn_pkt_frag {
	struct pn_frame *frame;
	uint32_t off; /**< offset in the frame's page */
	uint16_t len;
	uint16_t kind; /**< enum pn_pkt_frag_kind */
};

struct pn_pkt {
	uint8_t *data;                /**< first byte of the linear part */
	struct pn_pkt_shinfo *shinfo; /**< of the buffer holding our data */
	struct pn_pkt *next;          /**< next segment of a chained packet */
	uint32_t len;                 /**< linear + fragment bytes of this segment */
	uint32_t data_len;            /**< fragment bytes of this segment */
	uint32_t end;                 /**< size of the data room */
	uint32_t pkt_len;             /**< bytes of the whole chain (first segment) */
	uint16_t nb_segs;             /**< segments in the chain (first segment) */
	uint16_t flags;               /**< PN_PKT_F_* */
	uint32_t pad;
};

/** The L4 checksum was verified (by a NIC's offload, or by the member of a
 * stack group that handed the packet over): the protocol skips it. */
#define PN_PKT_F_L4_CSUM_GOOD 0x1u

/* Header at the start of every buffer; the buffer's pn_pkt sits inside it. */
struct pn_pkt_shinfo {
	_Atomic(uint32_t) refcnt;
	uint16_t nr_frags;
	uint16_t pad;
	struct pn_frame *frame; /**< page this buffer was cut from */
	struct pn_pkt pkt;      /**< the packet struct living in this buffer */
	struct pn_pkt_frag frags[PN_PKT_MAX_FRAGS];
	uint8_t pad2[32];
};

PN_STATIC_ASSERT(sizeof(struct pn_pkt) == 48, "pn_pkt fills the header's first line");
PN_STATIC_ASSERT(offsetof(struct pn_pkt_shinfo, frags) == PN_CACHE_LINE,
	       "refcount and packet struct share one cache line; fragments follow");
PN_STATIC_ASSERT(sizeof(struct pn_pkt_shinfo) % PN_CACHE_LINE == 0,
	       "data starts on a cache line");

#define PN_PKT_HDR_SIZE sizeof(struct pn_pkt_shinfo)

static inline struct pn_pkt_shinfo *pn_pkt_own_shinfo(const struct pn_pkt *pkt)
{
	return pn_container_of(pkt, struct pn_pkt_shinfo, pkt);
}

/** @return the start of the data room of the buffer holding the data. */
static inline uint8_t *pn_pkt_head(const struct pn_pkt *pkt)
{
	return (uint8_t *)pkt->shinfo + PN_PKT_HDR_SIZE;
}

/** @return the pool the packet's own buffer came from. */
static inline struct pn_pool *pn_pkt_pool(const struct pn_pkt *pkt)
{
	return pn_frame_pool(pn_pkt_own_shinfo(pkt)->frame);
}

/** @return the first byte of the packet's linear data. */
static inline uint8_t *pn_pkt_data(const struct pn_pkt *pkt) { return pkt->data; }

/** @return bytes in the linear part of this segment. */
static inline uint32_t pn_pkt_headlen(const struct pn_pkt *pkt)
{
	return pkt->len - pkt->data_len;
}

static inline uint32_t pn_pkt_headroom(const struct pn_pkt *pkt)
{
	return (uint32_t)(pkt->data - pn_pkt_head(pkt));
}

/** @return room after the linear data (0 once fragments follow it). */
static inline uint32_t pn_pkt_tailroom(const struct pn_pkt *pkt)
{
	if (pkt->shinfo->nr_frags)
		return 0;
	return pkt->end - pn_pkt_headroom(pkt) - pn_pkt_headlen(pkt);
}

/**
 * @return true when the data is shared with another packet (writes need
 * pn_pkt_unshare() first). Only the buffer holding the data counts: after
 * pn_pkt_expand_head() the data is private even though the packet's own
 * buffer may still be shared with a clone.
 */
static inline bool pn_pkt_cloned(const struct pn_pkt *pkt)
{
	/* acquire: a clone that let go of the data did so before we write it */
	return atomic_load_explicit(&pkt->shinfo->refcnt, memory_order_acquire) != 1;
}

/**
 * Say who holds the pages of @p pkt now (its buffers and fragments, every
 * segment): a port queue that received it, a socket that queued it.
 */
static inline void pn_pkt_set_holder(struct pn_pkt *pkt, uint32_t holder)
{
	for (; pkt != NULL; pkt = pkt->next) {
		struct pn_pkt_shinfo *sh = pkt->shinfo;

		pn_frame_set_holder(pn_pkt_own_shinfo(pkt)->frame, holder);
		if (pn_unlikely(sh != pn_pkt_own_shinfo(pkt)))
			pn_frame_set_holder(sh->frame, holder);
		for (unsigned i = 0; i < sh->nr_frags; i++)
			pn_frame_set_holder(sh->frags[i].frame, holder);
	}
}

/* Initialise a fresh buffer's header: one cache line of stores. */
static inline struct pn_pkt *pn_pkt_init(struct pn_pool *pool, void *buf,
					 struct pn_frame *frame)
{
	struct pn_pkt_shinfo *sh = (struct pn_pkt_shinfo *)buf;
	struct pn_pkt *pkt = &sh->pkt;
	uint32_t room = pool->frag_size - (uint32_t)PN_PKT_HDR_SIZE;

	atomic_store_explicit(&sh->refcnt, 1, memory_order_relaxed);
	sh->nr_frags = 0;
	sh->frame = frame;
	pkt->data = (uint8_t *)buf + PN_PKT_HDR_SIZE +
		    PN_MIN((uint32_t)PN_PKT_HEADROOM, room);
	pkt->shinfo = sh;
	pkt->next = NULL;
	pkt->len = 0;
	pkt->data_len = 0;
	pkt->end = room;
	pkt->pkt_len = 0;
	pkt->nb_segs = 1;
	pkt->flags = 0;
	return pkt;
}

/**
 * Allocate an empty packet with PN_PKT_HEADROOM bytes of headroom. Owner
 * thread of @p pool.
 * @return the packet, or NULL with errno ENOMEM (pool exhausted) or EINVAL
 *         (the pool's frag_size cannot hold a packet header).
 */
static inline struct pn_pkt *pn_pkt_alloc(struct pn_pool *pool)
{
	struct pn_frame *frame;
	void *buf;

	if (pn_unlikely(pool->frag_size <= PN_PKT_HDR_SIZE)) {
		errno = EINVAL;
		return NULL;
	}
	buf = pn_pool_alloc_frag(pool, pool->frag_size, &frame);
	if (pn_unlikely(buf == NULL))
		return NULL;
	return pn_pkt_init(pool, buf, frame);
}

/* Out of line: drop the fragments of a shinfo nobody references any more. */
void pn_pkt_shinfo_release(struct pn_pkt_shinfo *sh);

/* Drop one reference on a shinfo; the last one frees its fragments.
 * @return true when the buffer itself is to be given back now. The sole
 * holder skips the atomic, as for pages. */
static inline bool pn_pkt_shinfo_unref(struct pn_pkt_shinfo *sh)
{
	PN_DEBUG_ASSERT(atomic_load_explicit(&sh->refcnt, memory_order_relaxed) != 0,
			"packet buffer freed twice");
	if (pn_ref_sub(&sh->refcnt, 1) != 0)
		return false;
	if (sh->nr_frags)
		pn_pkt_shinfo_release(sh);
	return true;
}

/* Drop one reference on a shinfo; the last one frees its fragments and the
 * buffer. */
static inline void pn_pkt_shinfo_put(struct pn_pkt_shinfo *sh)
{
	if (pn_pkt_shinfo_unref(sh))
		pn_pool_frag_free(sh->frame, sh);
}

/*
 * Debug checks: a packet freed after its buffer's page went into the
 * quarantine stops here, in the stale caller, before a pointer is followed
 * out of the poisoned page (its header's words read PN_POOL_POISON). A
 * buffer freed twice while its page lives stops at the refcount check.
 */
static inline void pn_pkt_assert_live(const struct pn_pkt_shinfo *own)
{
	PN_DEBUG_ASSERT(atomic_load_explicit(&own->refcnt, memory_order_relaxed) !=
				(uint32_t)PN_POOL_POISON * 0x01010101u,
			"packet freed after its buffer's page was given back (it is in quarantine)");
	(void)own;
}

/** Free one segment (not the rest of its chain). Any thread. */
static inline void pn_pkt_free_seg(struct pn_pkt *pkt)
{
	struct pn_pkt_shinfo *own = pn_pkt_own_shinfo(pkt);

	pn_pkt_assert_live(own);
	if (pn_unlikely(pkt->shinfo != own))
		pn_pkt_shinfo_put(pkt->shinfo);
	pn_pkt_shinfo_put(own);
}

/** Free a packet and every segment chained to it. Any thread. NULL is ok. */
static inline void pn_pkt_free(struct pn_pkt *pkt)
{
	while (pkt != NULL) {
		struct pn_pkt *next = pkt->next;

		pn_pkt_free_seg(pkt);
		pkt = next;
	}
}

/**
 * Free @p n packets (and every segment chained to each), as
 * rte_pktmbuf_free_bulk() does. Any thread. NULL entries are skipped. Pages
 * whose last fragment goes are given back to their pool together, so a
 * thread that is not the pool's owner reserves the recycle ring once per
 * burst instead of once per page.
 */
void pn_pkt_free_bulk(struct pn_pkt *const *pkts, unsigned n);

/**
 * Clone a packet (every segment): the clone shares data and fragments by
 * reference. Allocates from @p pkt's pool, on that pool's owner thread.
 * @return the clone, or NULL with errno ENOMEM.
 */
struct pn_pkt *pn_pkt_clone(struct pn_pkt *pkt);

/**
 * Give the first segment a private head with at least @p nhead bytes of
 * headroom and @p ntail of tailroom: the linear data is copied to a new
 * buffer, fragments are kept by plain page references (or moved, when nobody
 * else shares them). Like pskb_expand_head().
 * @return 0, -ENOMEM, or -EMSGSIZE when the result does not fit a buffer.
 */
int pn_pkt_expand_head(struct pn_pkt *pkt, uint32_t nhead, uint32_t ntail);

/** Make the first segment's data private (expand_head with no extra room). */
static inline int pn_pkt_unshare(struct pn_pkt *pkt)
{
	return pn_pkt_cloned(pkt) ? pn_pkt_expand_head(pkt, 0, 0) : 0;
}

/**
 * Remove @p n bytes from the front of the linear data.
 * @return the new data pointer, or NULL when the linear part is shorter.
 */
static inline uint8_t *pn_pkt_pull(struct pn_pkt *pkt, uint32_t n)
{
	if (pn_unlikely(n > pn_pkt_headlen(pkt)))
		return NULL;
	pkt->data += n;
	pkt->len -= n;
	pkt->pkt_len -= n;
	return pkt->data;
}

/**
 * Prepend @p n bytes into the headroom. The caller writes them, so a cloned
 * packet must be unshared first.
 * @return the new data pointer, or NULL when the headroom is too small.
 */
static inline uint8_t *pn_pkt_push(struct pn_pkt *pkt, uint32_t n)
{
	PN_DEBUG_ASSERT(!pn_pkt_cloned(pkt), "push on a shared packet");
	if (pn_unlikely(n > pn_pkt_headroom(pkt)))
		return NULL;
	pkt->data -= n;
	pkt->len += n;
	pkt->pkt_len += n;
	return pkt->data;
}

/**
 * Append @p n bytes of linear data (skb_put).
 * @return where to write them, or NULL when the tailroom is too small.
 */
static inline uint8_t *pn_pkt_append(struct pn_pkt *pkt, uint32_t n)
{
	uint8_t *tail = pkt->data + pn_pkt_headlen(pkt);

	PN_DEBUG_ASSERT(!pn_pkt_cloned(pkt), "append on a shared packet");
	if (pn_unlikely(n > pn_pkt_tailroom(pkt)))
		return NULL;
	pkt->len += n;
	pkt->pkt_len += n;
	return tail;
}

/**
 * Cut the first segment down to @p len bytes, dropping fragments past it
 * (a shared packet is unshared first).
 * @return 0, -EINVAL when @p len exceeds the segment, or -ENOMEM.
 */
int pn_pkt_trim(struct pn_pkt *pkt, uint32_t len);

/**
 * Attach a page fragment after the linear data; the packet takes over the
 * caller's share or reference (@p kind says which).
 * @return 0, -ENOSPC when PN_PKT_MAX_FRAGS are attached, or -EBUSY when the
 *         packet is shared.
 */
int pn_pkt_add_frag(struct pn_pkt *pkt, struct pn_frame *frame, uint32_t off,
		    uint16_t len, enum pn_pkt_frag_kind kind);

/**
 * Remove @p n bytes from the front of the first segment, linear data first,
 * then whole or partial fragments (rte_pktmbuf_adj across the fragments of
 * a multi-buffer frame). Fragments emptied this way are given back. A
 * shared packet is unshared first.
 * @return 0, -EINVAL when the segment is shorter than @p n, or -ENOMEM.
 */
int pn_pkt_adj(struct pn_pkt *pkt, uint32_t n);

/**
 * Make sure the first @p n bytes of the first segment are in its linear
 * part (pskb_may_pull): bytes are moved from the front fragments into the
 * room after the linear data, so headers that a header-split or
 * multi-buffer driver left in a fragment can be read in place. A shared
 * packet is unshared first.
 * @return 0, -EINVAL when the segment holds fewer than @p n bytes,
 *         -EMSGSIZE when the buffer has no room for them, or -ENOMEM.
 */
static inline int pn_pkt_may_pull(struct pn_pkt *pkt, uint32_t n);

int pn_pkt_pull_tail_slow(struct pn_pkt *pkt, uint32_t n);

static inline int pn_pkt_may_pull(struct pn_pkt *pkt, uint32_t n)
{
	/* fast path: already linear */
	if (pn_likely(n <= pn_pkt_headlen(pkt)))
		return 0;
	return pn_pkt_pull_tail_slow(pkt, n);
}

/**
 * Fold a chained packet into its first segment: each later segment's data
 * (linear part and fragments) becomes fragments of the first, held by
 * plain page references (a linear part shared with a clone is copied
 * instead: its owner may write it later), and the later segments are
 * freed. Receive paths use it so that chained and multi-buffer frames read
 * alike. Owner thread of the first segment's pool.
 * @return 0, -ENOSPC when the pieces do not fit PN_PKT_MAX_FRAGS (the
 *         packet is left as it was), or -ENOMEM (the segments folded so far
 *         stay folded; the packet stays valid).
 */
int pn_pkt_flatten(struct pn_pkt *pkt);

/** One contiguous piece of a packet's data: the linear part or a fragment. */
struct pn_pkt_piece {
	uint8_t *base;
	uint32_t len;
	struct pn_frame *frame; /**< the page the piece lies in */
};

/**
 * The pieces of the first segment's data in order: the linear part (when
 * not empty) then each fragment. Fills up to @p max.
 * @return the number of pieces the segment has (may exceed @p max).
 */
unsigned pn_pkt_pieces(const struct pn_pkt *pkt, struct pn_pkt_piece *pieces, unsigned max);

/**
 * Add the Internet checksum (RFC 1071) of @p len bytes from @p off of the
 * first segment, across its linear part and fragments, to @p sum. Pieces
 * that start at an odd offset are folded and byte-swapped, so the result is
 * what one contiguous buffer would give.
 * @return the new running sum, or @p sum unchanged when out of range.
 */
uint64_t pn_pkt_csum_add(const struct pn_pkt *pkt, uint32_t off, uint32_t len, uint64_t sum);

/** Chain @p tail (and its segments) after the last segment of @p head. */
void pn_pkt_chain(struct pn_pkt *head, struct pn_pkt *tail);

/**
 * Copy @p len bytes starting at @p off of the packet (all segments, linear
 * data and fragments) to @p dst. @return 0 or -EINVAL when out of range.
 */
int pn_pkt_copy_bits(const struct pn_pkt *pkt, uint32_t off, void *dst,
		     uint32_t len);

#ifdef __cplusplus
}
#endif

#endif /* PN_PKT_H */
