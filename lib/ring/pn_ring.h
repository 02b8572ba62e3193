/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Bounded ring of pointers, multi-producer/multi-consumer by default, in the
 * style of rte_ring: producers reserve slots by moving prod.head with a CAS,
 * write them, then publish by moving prod.tail in reservation order;
 * consumers do the same on the cons side.
 *
 * Indices are 64-bit and never wrap in practice (2^63 operations), so free
 * and used counts are plain subtractions. The top bit of prod.head marks a
 * ring closed for enqueue (pn_ring_close()): the page pool closes its
 * recycle ring on destroy so that a late put can never strand a page in it.
 *
 * Naming: _bulk moves all n or none and returns n or 0; _burst moves what it
 * can and returns the count.
 *
 * Threading: with the default flags any number of threads may enqueue and
 * dequeue at once. PN_RING_F_SP_ENQ / PN_RING_F_SC_DEQ promise a single
 * producer / consumer and skip the CAS. Not lock-free: a producer preempted
 * between reserve and publish delays later producers' publication (as in
 * rte_ring), never correctness.
 */
#ifndef PN_RING_H
#define PN_RING_H

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>

#include "pn_common.h"

#define PN_RING_F_SP_ENQ 0x1u /**< single producer */
#define PN_RING_F_SC_DEQ 0x2u /**< single consumer */
#define PN_RING_F_ALL (PN_RING_F_SP_ENQ | PN_RING_F_SC_DEQ)

#define PN_RING_CLOSED (UINT64_C(1) << 63)

struct pn_ring_headtail {
	_Atomic uint64_t head;
	_Atomic uint64_t tail;
	uint32_t single; /* 1: single producer/consumer, no CAS */
};

/* Producer and consumer state on separate cache lines: they are written by
 * different threads and must not share a line. */
struct pn_ring {
	uint32_t size; /* power of two */
	uint32_t mask;
	uint32_t capacity;
	uint32_t flags;
	struct pn_ring_headtail prod __pn_cache_aligned;
	struct pn_ring_headtail cons __pn_cache_aligned;
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
 * Close the ring for enqueue: every enqueue that has not reserved its slots
 * yet fails from now on; reservations already made complete. Returns once
 * they have all been published, so afterwards a dequeue sees every pointer
 * that will ever be in the ring.
 */
void pn_ring_close(struct pn_ring *r);

/** @return true once pn_ring_close() was called. */
static inline bool pn_ring_closed(const struct pn_ring *r)
{
	return atomic_load_explicit(&((struct pn_ring *)r)->prod.head,
				    memory_order_relaxed) & PN_RING_CLOSED;
}

/* Reserve up to n slots on the producer side; returns how many. */
static __pn_always_inline uint32_t pn_ring_move_prod_head(struct pn_ring *r,
	uint32_t n, bool burst, uint64_t *old_head)
{
	uint64_t head, cons_tail;
	uint32_t free_entries;

	head = atomic_load_explicit(&r->prod.head, memory_order_relaxed);
	for (;;) {
		if (pn_unlikely(head & PN_RING_CLOSED))
			return 0;
		/* acquire: the consumer's reads of the slots it freed are done
		 * before we overwrite them */
		cons_tail = atomic_load_explicit(&r->cons.tail, memory_order_acquire);
		free_entries = (uint32_t)(r->capacity - (head - cons_tail));
		if (n > free_entries) {
			if (!burst || free_entries == 0)
				return 0;
			n = free_entries;
		}
		if (r->prod.single) {
			atomic_store_explicit(&r->prod.head, head + n,
					      memory_order_relaxed);
			break;
		}
		/* relaxed is enough: the slots are published by prod.tail */
		if (atomic_compare_exchange_weak_explicit(&r->prod.head, &head,
				head + n, memory_order_relaxed, memory_order_relaxed))
			break;
	}
	*old_head = head;
	return n;
}

static __pn_always_inline uint32_t pn_ring_move_cons_head(struct pn_ring *r,
	uint32_t n, bool burst, uint64_t *old_head)
{
	uint64_t head, prod_tail;
	uint32_t entries;

	head = atomic_load_explicit(&r->cons.head, memory_order_relaxed);
	for (;;) {
		/* acquire: pairs with the producer's release of prod.tail, so
		 * the slot contents are visible */
		prod_tail = atomic_load_explicit(&r->prod.tail, memory_order_acquire);
		entries = (uint32_t)(prod_tail - head);
		if (n > entries) {
			if (!burst || entries == 0)
				return 0;
			n = entries;
		}
		if (r->cons.single) {
			atomic_store_explicit(&r->cons.head, head + n,
					      memory_order_relaxed);
			break;
		}
		if (atomic_compare_exchange_weak_explicit(&r->cons.head, &head,
				head + n, memory_order_relaxed, memory_order_relaxed))
			break;
	}
	*old_head = head;
	return n;
}

/* Publish in reservation order: wait for earlier reservers to finish. */
static __pn_always_inline void pn_ring_update_tail(struct pn_ring_headtail *ht,
	uint64_t old, uint64_t new_val)
{
	/* acquire: the earlier reserver's slot accesses, released by its tail
	 * store, must be carried by ours; a plain store does not extend its
	 * release sequence */
	if (!ht->single) {
		unsigned spins = 0;

		while (atomic_load_explicit(&ht->tail, memory_order_acquire) != old) {
			/* the thread we wait for may be preempted: give it
			 * the core rather than spin out our time slice */
			if (++spins % 1024 == 0)
				sched_yield();
			else
				pn_cpu_relax();
		}
	}
	/* release: slot writes (producer) or slot reads (consumer) happen
	 * before the other side sees the new tail */
	atomic_store_explicit(&ht->tail, new_val, memory_order_release);
}

static __pn_always_inline uint32_t pn_ring_do_enqueue(struct pn_ring *r,
	void *const *objs, uint32_t n, bool burst)
{
	uint64_t head;

	n = pn_ring_move_prod_head(r, n, burst, &head);
	if (n == 0)
		return 0;
	for (uint32_t i = 0; i < n; i++)
		r->slots[(head + i) & r->mask] = objs[i];
	pn_ring_update_tail(&r->prod, head, head + n);
	return n;
}

static __pn_always_inline uint32_t pn_ring_do_dequeue(struct pn_ring *r,
	void **objs, uint32_t n, bool burst)
{
	uint64_t head;

	n = pn_ring_move_cons_head(r, n, burst, &head);
	if (n == 0)
		return 0;
	for (uint32_t i = 0; i < n; i++)
		objs[i] = r->slots[(head + i) & r->mask];
	pn_ring_update_tail(&r->cons, head, head + n);
	return n;
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

/** @return entries in the ring now (a snapshot when others are active). */
static inline uint32_t pn_ring_count(const struct pn_ring *r)
{
	struct pn_ring *rr = (struct pn_ring *)r;
	uint64_t cons = atomic_load_explicit(&rr->cons.tail, memory_order_relaxed);
	uint64_t prod = atomic_load_explicit(&rr->prod.tail, memory_order_relaxed);
	uint64_t n = prod - cons;

	/* the two loads are not one snapshot; clamp a transient overshoot */
	return n > r->capacity ? r->capacity : (uint32_t)n;
}

/** @return free slots now (a snapshot). */
static inline uint32_t pn_ring_free_count(const struct pn_ring *r)
{
	return r->capacity - pn_ring_count(r);
}

#endif /* PN_RING_H */
