/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Bounded ring of pointers, multi-producer/multi-consumer by default.
 *
 * Two algorithms behind one API:
 *  - single producer and single consumer (PN_RING_F_SP_ENQ | SC_DEQ): the
 *    rte_ring scheme, a head and a tail per side, no atomic read-modify-write.
 *  - any shared side: every slot carries a sequence number (Dmitry Vyukov's
 *    bounded MPMC queue). A producer claims positions with one CAS on
 *    prod.head, writes them and publishes each slot on its own; a consumer
 *    does the same on cons.head. Nobody waits for another thread to finish:
 *    a producer preempted between claim and publish delays only the
 *    consumers that reach its slot (they see the ring end there for now),
 *    never the other producers. rte_ring's in-order tail update turns into
 *    a convoy when more threads put than there are cores (DPDK's RTS/HTS
 *    modes exist for that); the pool's recycle ring is put to by any number
 *    of threads, so it must not.
 *
 * Positions are 64-bit and never wrap in practice (2^63 operations). The
 * top bit of prod.head marks a ring closed for enqueue (pn_ring_close()):
 * the page pool closes its recycle ring on destroy so that a late put can
 * never strand a page in it.
 *
 * Naming: _bulk moves all n or none and returns n or 0; _burst moves what it
 * can and returns the count.
 *
 * Threading: with the default flags any number of threads may enqueue and
 * dequeue at once. PN_RING_F_SP_ENQ / PN_RING_F_SC_DEQ promise a single
 * producer / consumer.
 */
#ifndef PN_RING_H
#define PN_RING_H

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>

#include "pn_common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PN_RING_F_SP_ENQ 0x1u /**< single producer */
#define PN_RING_F_SC_DEQ 0x2u /**< single consumer */
#define PN_RING_F_ALL (PN_RING_F_SP_ENQ | PN_RING_F_SC_DEQ)

#define PN_RING_CLOSED (UINT64_C(1) << 63)

struct pn_ring_headtail {
	_Atomic(uint64_t) head;
	_Atomic(uint64_t) tail; /* SPSC rings only */
};

/* A slot of a shared ring: seq == pos: free for the producer of position
 * pos; pos + 1: holds pos's pointer; pos + size: consumed, free for the
 * producer of pos + size. */
struct pn_ring_slot {
	_Atomic(uint64_t) seq;
	void *obj;
};

/* Producer and consumer state on separate cache lines: they are written by
 * different threads and must not share a line. */
struct pn_ring {
	uint32_t size; /* power of two */
	uint32_t mask;
	uint32_t capacity;
	uint32_t flags;
	bool spsc;
	struct pn_ring_headtail prod __pn_cache_aligned;
	struct pn_ring_headtail cons __pn_cache_aligned;
	/* SPSC: void *[size]; shared: struct pn_ring_slot[size] */
	void *slots[] __pn_cache_aligned;
};

/**
 * Create a ring holding up to @p count pointers.
 * @param count power of two, >= 2.
 * @param flags PN_RING_F_* bits.
 * @return the ring, or NULL with errno EINVAL (bad count or unknown flag) or
 *         ENOMEM.
 */
struct pn_ring *pn_ring_create(uint32_t count, uint32_t flags);

/** Free a ring. The caller drains it first if the pointers matter. */
void pn_ring_free(struct pn_ring *r);

/**
 * Close the ring for enqueue: every enqueue that has not claimed its slots
 * yet fails from now on; claims already made complete. Returns once they
 * have all been published, so afterwards a dequeue sees every pointer that
 * will ever be in the ring. A single-producer ring must be closed while its
 * producer is not enqueuing.
 */
void pn_ring_close(struct pn_ring *r);

/** @return true once pn_ring_close() was called. */
static inline bool pn_ring_closed(const struct pn_ring *r)
{
	return atomic_load_explicit(&((struct pn_ring *)r)->prod.head,
				    memory_order_relaxed) & PN_RING_CLOSED;
}

static inline struct pn_ring_slot *pn_ring_slot(struct pn_ring *r, uint64_t pos)
{
	return &((struct pn_ring_slot *)(void *)r->slots)[pos & r->mask];
}

/* ---- single producer, single consumer: head and tail */

static __pn_always_inline uint32_t pn_ring_spsc_enqueue(struct pn_ring *r,
	void *const *objs, uint32_t n, bool burst)
{
	uint64_t head = atomic_load_explicit(&r->prod.head, memory_order_relaxed);
	/* acquire: the consumer's reads of the slots it freed are done
	 * before we overwrite them */
	uint64_t cons_tail = atomic_load_explicit(&r->cons.tail, memory_order_acquire);
	uint32_t free_entries;

	if (pn_unlikely(head & PN_RING_CLOSED))
		return 0;
	free_entries = (uint32_t)(r->capacity - (head - cons_tail));
	if (n > free_entries) {
		if (!burst || free_entries == 0)
			return 0;
		n = free_entries;
	}
	for (uint32_t i = 0; i < n; i++)
		r->slots[(head + i) & r->mask] = objs[i];
	/* relaxed: only this thread moves head (pn_ring_close waits for it) */
	atomic_store_explicit(&r->prod.head, head + n, memory_order_relaxed);
	/* release: the slot writes are visible to a consumer that sees it */
	atomic_store_explicit(&r->prod.tail, head + n, memory_order_release);
	return n;
}

static __pn_always_inline uint32_t pn_ring_spsc_dequeue(struct pn_ring *r,
	void **objs, uint32_t n, bool burst)
{
	uint64_t head = atomic_load_explicit(&r->cons.head, memory_order_relaxed);
	/* acquire: pairs with the producer's release of prod.tail */
	uint64_t prod_tail = atomic_load_explicit(&r->prod.tail, memory_order_acquire);
	uint32_t entries = (uint32_t)(prod_tail - head);

	if (n > entries) {
		if (!burst || entries == 0)
			return 0;
		n = entries;
	}
	for (uint32_t i = 0; i < n; i++)
		objs[i] = r->slots[(head + i) & r->mask];
	atomic_store_explicit(&r->cons.head, head + n, memory_order_relaxed);
	/* release: our slot reads are done before the producer reuses them */
	atomic_store_explicit(&r->cons.tail, head + n, memory_order_release);
	return n;
}

/* ---- shared sides: a sequence number per slot */

static __pn_always_inline uint32_t pn_ring_shared_enqueue(struct pn_ring *r,
	void *const *objs, uint32_t n, bool burst)
{
	uint64_t pos = atomic_load_explicit(&r->prod.head, memory_order_relaxed);
	uint32_t k;

	for (;;) {
		if (pn_unlikely(pos & PN_RING_CLOSED))
			return 0;
		/* how many slots from pos are free for this round? acquire:
		 * the consumer's read of a slot is done before we reuse it */
		for (k = 0; k < n; k++)
			if (atomic_load_explicit(&pn_ring_slot(r, pos + k)->seq,
						 memory_order_acquire) != pos + k)
				break;
		if (k < n && (!burst || k == 0)) {
			uint64_t now = atomic_load_explicit(&r->prod.head, memory_order_relaxed);

			if (now == pos)
				return 0; /* full (or a consumer is still reading) */
			pos = now;    /* others moved on: look again */
			continue;
		}
		/* relaxed: the slots are published one by one below */
		if (atomic_compare_exchange_weak_explicit(&r->prod.head, &pos, pos + k,
							  memory_order_relaxed,
							  memory_order_relaxed))
			break;
	}
	for (uint32_t i = 0; i < k; i++) {
		struct pn_ring_slot *sl = pn_ring_slot(r, pos + i);

		sl->obj = objs[i];
		/* release: the pointer is visible to whoever sees the seq */
		atomic_store_explicit(&sl->seq, pos + i + 1, memory_order_release);
	}
	return k;
}

static __pn_always_inline uint32_t pn_ring_shared_dequeue(struct pn_ring *r,
	void **objs, uint32_t n, bool burst)
{
	uint64_t pos = atomic_load_explicit(&r->cons.head, memory_order_relaxed);
	uint32_t k;

	for (;;) {
		/* acquire: pairs with the producer's release of the seq */
		for (k = 0; k < n; k++)
			if (atomic_load_explicit(&pn_ring_slot(r, pos + k)->seq,
						 memory_order_acquire) != pos + k + 1)
				break;
		if (k < n && (!burst || k == 0)) {
			uint64_t now = atomic_load_explicit(&r->cons.head, memory_order_relaxed);

			if (now == pos)
				return 0; /* empty (or a producer is still writing) */
			pos = now;
			continue;
		}
		if (atomic_compare_exchange_weak_explicit(&r->cons.head, &pos, pos + k,
							  memory_order_relaxed,
							  memory_order_relaxed))
			break;
	}
	for (uint32_t i = 0; i < k; i++) {
		struct pn_ring_slot *sl = pn_ring_slot(r, pos + i);

		objs[i] = sl->obj;
		/* release: our read is done before a producer reuses the slot */
		atomic_store_explicit(&sl->seq, pos + i + r->size, memory_order_release);
	}
	return k;
}

static __pn_always_inline uint32_t pn_ring_do_enqueue(struct pn_ring *r,
	void *const *objs, uint32_t n, bool burst)
{
	return r->spsc ? pn_ring_spsc_enqueue(r, objs, n, burst)
		       : pn_ring_shared_enqueue(r, objs, n, burst);
}

static __pn_always_inline uint32_t pn_ring_do_dequeue(struct pn_ring *r,
	void **objs, uint32_t n, bool burst)
{
	return r->spsc ? pn_ring_spsc_dequeue(r, objs, n, burst)
		       : pn_ring_shared_dequeue(r, objs, n, burst);
}

/** Enqueue all @p n pointers or none. @return n or 0. */
static inline uint32_t pn_ring_enqueue_bulk(struct pn_ring *r,
	void *const *objs, uint32_t n)
{
	return pn_ring_do_enqueue(r, objs, n, false);
}

/** Enqueue as many of @p n pointers as fit. @return how many. */
static inline uint32_t pn_ring_enqueue_burst(struct pn_ring *r,
	void *const *objs, uint32_t n)
{
	return pn_ring_do_enqueue(r, objs, n, true);
}

/** Enqueue one pointer. @return 0, or -ENOBUFS when full or closed. */
static inline int pn_ring_enqueue(struct pn_ring *r, void *obj)
{
	return pn_ring_do_enqueue(r, &obj, 1, false) ? 0 : -ENOBUFS;
}

/** Dequeue exactly @p n pointers or none. @return n or 0. */
static inline uint32_t pn_ring_dequeue_bulk(struct pn_ring *r, void **objs,
	uint32_t n)
{
	return pn_ring_do_dequeue(r, objs, n, false);
}

/** Dequeue up to @p n pointers. @return how many. */
static inline uint32_t pn_ring_dequeue_burst(struct pn_ring *r, void **objs,
	uint32_t n)
{
	return pn_ring_do_dequeue(r, objs, n, true);
}

/** Dequeue one pointer. @return 0, or -ENOENT when empty. */
static inline int pn_ring_dequeue(struct pn_ring *r, void **obj)
{
	return pn_ring_do_dequeue(r, obj, 1, false) ? 0 : -ENOENT;
}

/**
 * @return entries in the ring now (a snapshot when others are active; on a
 * shared ring it counts claims that are still being written or read).
 */
static inline uint32_t pn_ring_count(const struct pn_ring *r)
{
	struct pn_ring *rr = (struct pn_ring *)r;
	uint64_t cons = atomic_load_explicit(&rr->cons.head, memory_order_relaxed);
	uint64_t prod = atomic_load_explicit(&rr->prod.head, memory_order_relaxed) &
			~PN_RING_CLOSED;
	uint64_t n = prod - cons;

	/* the two loads are not one snapshot; clamp a transient overshoot
	 * (or undershoot: a consumer ahead of the producer we read first) */
	return (int64_t)n < 0 ? 0 : n > r->capacity ? r->capacity : (uint32_t)n;
}

/** @return free slots now (a snapshot). */
static inline uint32_t pn_ring_free_count(const struct pn_ring *r)
{
	return r->capacity - pn_ring_count(r);
}

#ifdef __cplusplus
}
#endif

#endif /* PN_RING_H */
