/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Accounting groups in the style of cgroup v2's memory controller (DESIGN
 * §7, the TCP zero-copy accounting thread): pages handed to consumers are charged to a group, groups
 * form a hierarchy, and a charge must fit under the max of the group and of
 * every ancestor. Per group: current, max, peak, events (max: a charge hit a
 * limit; fail: a charge was refused) and stat (pages held by zero-copy
 * receivers, pages queued, bytes delivered by copy instead).
 *
 * Counters are page counters after the kernel's page_counter: each group's
 * usage is an atomic charged hierarchically with a parent pointer. The common
 * charge and uncharge touch none of them: each thread keeps a stock of pages
 * pre-charged to one group (memcg's per-CPU stock) and serves charges and
 * uncharges from it; only a refill or a trim (every PN_ACCT_BATCH pages)
 * touches the shared counters. Stocks are drained when their thread exits,
 * when a group is destroyed, and by pn_acct_drain_all(), so `current` is
 * exact whenever nothing is stocked. Pages in stocks count in `current`, as
 * memcg's do in memory.current.
 *
 * Whoever keeps a group to charge it later (a TCP socket, a stack's
 * default, a forwarder) pins it with pn_acct_pin(); a pinned group cannot be
 * destroyed (-EBUSY, and the log names the holders), so a holder's pointer
 * never dangles.
 *
 * Threading: charge/uncharge/note from any thread, lock-free. Create,
 * destroy, pin, unpin, set_max, read from any thread. A group must not be
 * charged by anyone who has not pinned it or holds pages charged to it.
 */
#ifndef PN_ACCT_H
#define PN_ACCT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pn_thread.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PN_ACCT_MAX_GROUPS 4096      /**< ids 1..4095; 0 = not charged */
#define PN_ACCT_ID_BITS 12
#define PN_ACCT_UNLIMITED INT64_MAX
#define PN_ACCT_BATCH 32             /**< pages a stock pre-charges */
#define PN_ACCT_NAME_MAX 32

/** Why a page is held: the stat breakdown. */
enum pn_acct_kind {
	PN_ACCT_ZC = 0,     /**< handed to a zero-copy receiver */
	PN_ACCT_QUEUED = 1, /**< queued (out-of-order queue, socket buffers) */
	PN_ACCT_OTHER = 2,
	PN_ACCT_KINDS
};

/*
 * The group and the per-thread stock are visible so the fast paths inline;
 * their fields are private: use the functions.
 */
struct pn_acct_group {
	/* page counter (after the kernel's page_counter): charged and
	 * uncharged by stock refills and trims, from any thread */
	_Atomic(int64_t) usage __pn_cache_aligned;
	_Atomic(int64_t) peak;
	_Atomic(int64_t) max;
	/* read-mostly, off the usage line */
	struct pn_acct_group *parent __pn_cache_aligned;
	uint16_t id;
	char name[PN_ACCT_NAME_MAX];
	/* events and stat, slow path */
	_Atomic(uint64_t) ev_max;
	_Atomic(uint64_t) ev_fail;
	_Atomic(int64_t) stat_pages[PN_ACCT_KINDS];
	_Atomic(uint64_t) copied_bytes;
	/* tree and pins, under the tree lock */
	struct pn_acct_group *first_child, *next_sibling;
	struct pn_acct_pin *pins;
	unsigned nr_pins;
};

/**
 * A holder's claim on a group: storage the holder provides (embedded in its
 * own struct), with a label that says who it is when destroy refuses.
 */
struct pn_acct_pin {
	struct pn_acct_group *group; /**< NULL while not pinned */
	struct pn_acct_pin *next, *prev;
	char who[64];
};

/*
 * A thread's stock: pages pre-charged to one group, plus the by-kind stat
 * changes not yet folded into it. Only its thread changes it, inside an
 * in_use section; a drainer on another thread raises drain_req, makes every
 * thread pass a full barrier (membarrier), waits for in_use to fall, and
 * empties it. The owner's side is then two plain stores and no fence: the
 * asymmetric fence of liburcu's membarrier flavour. Without membarrier
 * stocks stay empty and every charge goes to the counters.
 */
struct pn_acct_stock {
	_Atomic(struct pn_acct_group *) cached;
	_Atomic(uint32_t) nr;
	_Atomic(uint32_t) in_use;
	_Atomic(uint32_t) drain_req;
	_Atomic(int64_t) kind_delta[PN_ACCT_KINDS];
} __pn_cache_aligned;

extern struct pn_acct_stock pn_acct_stocks[PN_THREAD_SLOTS];

#if defined(__SANITIZE_THREAD__)
#define PN_ACCT_SEQ_CST 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PN_ACCT_SEQ_CST 1
#endif
#endif

/** cgroup v2 names: memory.events */
struct pn_acct_events {
	uint64_t max;  /**< a charge would have gone over a max (this group's) */
	uint64_t fail; /**< a charge to this group was refused */
};

/** memory.stat: current pages by kind and bytes copied instead */
struct pn_acct_stat {
	int64_t zc_pages;
	int64_t queued_pages;
	int64_t other_pages;
	uint64_t copied_bytes;
};

/** @return the root group (no max unless set; cannot be destroyed). */
struct pn_acct_group *pn_acct_root(void);

/**
 * Create a group under @p parent (NULL: the root).
 * @return the group, or NULL with errno EINVAL (bad name), EEXIST (a sibling
 *         has that name), ENOSPC (no ids left) or ENOMEM.
 */
struct pn_acct_group *pn_acct_group_create(struct pn_acct_group *parent,
					   const char *name);

/**
 * Destroy an empty group: stocks holding it are drained first.
 * @return 0, -EBUSY when it has children, pages charged or pins (the log
 *         says which, naming the pin holders), or -EINVAL for the root.
 */
int pn_acct_group_destroy(struct pn_acct_group *g);

/**
 * Pin @p g for a holder that will charge it: until pn_acct_unpin(), @p g
 * cannot be destroyed. @p pin is the holder's storage; @p fmt labels it
 * ("tcp socket 10.0.0.1:40022->10.0.0.2:8080").
 * @return 0, or -EINVAL (NULL group or pin, or @p pin already pinned).
 */
int pn_acct_pin(struct pn_acct_group *g, struct pn_acct_pin *pin, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/** Let go of a pin (a no-op for one that is not pinned). */
void pn_acct_unpin(struct pn_acct_pin *pin);

/** @return the number of pins on @p g. */
unsigned pn_acct_pins(const struct pn_acct_group *g);

/**
 * Call @p fn on the root and every group, under the tree lock, so no group
 * is destroyed meanwhile (for readers that do not own the groups, such as
 * telemetry). @p fn must not create or destroy groups. Stops at the first
 * non-zero return, which it returns.
 */
int pn_acct_foreach(int (*fn)(struct pn_acct_group *g, void *arg), void *arg);

/**
 * Call @p fn on the group at @p path ("a/b", from the root) under the tree
 * lock. @return fn's return, or -ENOENT when there is no such group.
 */
int pn_acct_visit(const char *path, int (*fn)(struct pn_acct_group *g, void *arg),
		  void *arg);

/** @return the group under @p parent named @p name ("a/b/c" paths too), or NULL. */
struct pn_acct_group *pn_acct_group_find(struct pn_acct_group *parent, const char *path);

/**
 * Find or create every group along @p path ("a/b/c", from the root), as
 * mkdir -p does. @return the last group, or NULL with errno (EINVAL for an
 * empty path or "/", else what pn_acct_group_create said).
 */
struct pn_acct_group *pn_acct_group_mkpath(const char *path);

/**
 * Charge @p nr pages to @p g (and its ancestors).
 * @return 0, or -ENOBUFS when it does not fit under a max: nothing is
 *         charged, events.fail counts it and the caller copies or waits.
 */
static inline int pn_acct_charge(struct pn_acct_group *g, uint32_t nr,
				 enum pn_acct_kind kind);

/** Uncharge @p nr pages charged with @p kind. Any thread. */
static inline void pn_acct_uncharge(struct pn_acct_group *g, uint32_t nr,
				    enum pn_acct_kind kind);

/** Count bytes delivered by copy instead of zero copy (stat copied_bytes). */
void pn_acct_note_copied(struct pn_acct_group *g, uint64_t bytes);

/**
 * Set memory.max in pages (PN_ACCT_UNLIMITED: none). Lowering it below
 * current refuses new charges until enough are uncharged; nothing is taken
 * away (there is no reclaim). @return 0 or -EINVAL.
 */
int pn_acct_set_max(struct pn_acct_group *g, int64_t max);

int64_t pn_acct_current(const struct pn_acct_group *g);
int64_t pn_acct_max(const struct pn_acct_group *g);
int64_t pn_acct_peak(const struct pn_acct_group *g);
void pn_acct_events(const struct pn_acct_group *g, struct pn_acct_events *ev);
void pn_acct_stat(const struct pn_acct_group *g, struct pn_acct_stat *st);
const char *pn_acct_name(const struct pn_acct_group *g);
/** "/a/b" from the root ("/" for the root). */
void pn_acct_path(const struct pn_acct_group *g, char *buf, size_t len);
struct pn_acct_group *pn_acct_parent(const struct pn_acct_group *g);
uint16_t pn_acct_id(const struct pn_acct_group *g);
/** @return the live group with this id, or NULL. */
struct pn_acct_group *pn_acct_by_id(uint16_t id);

/** Drain every thread's stock (tests, telemetry, teardown). */
void pn_acct_drain_all(void);
/** @return pages stocked by all threads (0 after pn_acct_drain_all). */
int64_t pn_acct_stocked(void);

/*
 * Descriptor encoding for pools: a frame's 16-bit acct_id holds the group id
 * and the kind it was charged with.
 */
static inline uint16_t pn_acct_frame_tag(const struct pn_acct_group *g,
					  enum pn_acct_kind kind)
{
	return (uint16_t)(g->id | ((unsigned)kind << PN_ACCT_ID_BITS));
}

/* slow paths, out of line */
int pn_acct_charge_slow(struct pn_acct_group *g, uint32_t nr, enum pn_acct_kind kind);
void pn_acct_uncharge_slow(struct pn_acct_group *g, uint32_t nr, enum pn_acct_kind kind);

/* Enter the calling thread's stock section. @return false if a drainer
 * wants the stock: leave at once and take the slow path. */
static inline bool pn_acct_stock_enter(struct pn_acct_stock *st)
{
#ifdef PN_ACCT_SEQ_CST
	/* ThreadSanitizer does not model membarrier: a seq_cst exchange and
	 * load on each side instead (Dekker) */
	atomic_exchange_explicit(&st->in_use, 1, memory_order_seq_cst);
	return atomic_load_explicit(&st->drain_req, memory_order_seq_cst) == 0;
#else
	atomic_store_explicit(&st->in_use, 1, memory_order_relaxed);
	/* the store above must be visible before drain_req is read: the
	 * drainer's membarrier orders it, so only the compiler must not
	 * reorder here */
	atomic_signal_fence(memory_order_seq_cst);
	/* acquire: a drainer's emptying of the stock happens-before its
	 * release of drain_req */
	return atomic_load_explicit(&st->drain_req, memory_order_acquire) == 0;
#endif
}

static inline void pn_acct_stock_leave(struct pn_acct_stock *st)
{
	/* release: our stock writes are complete for a drainer that sees 0 */
	atomic_store_explicit(&st->in_use, 0, memory_order_release);
}

static inline int pn_acct_charge(struct pn_acct_group *g, uint32_t nr,
				 enum pn_acct_kind kind)
{
	int tid = pn_thread_id();

	/* fast path: served from this thread's stock, no shared line touched */
	if (pn_likely(tid != PN_THREAD_SHARED)) {
		struct pn_acct_stock *st = &pn_acct_stocks[tid];

		if (pn_likely(pn_acct_stock_enter(st)) &&
		    atomic_load_explicit(&st->cached, memory_order_relaxed) == g) {
			uint32_t have = atomic_load_explicit(&st->nr, memory_order_relaxed);

			if (pn_likely(have >= nr)) {
				atomic_store_explicit(&st->nr, have - nr, memory_order_relaxed);
				PN_SOLE_ADD(st->kind_delta[kind], (int64_t)nr);
				pn_acct_stock_leave(st);
				return 0;
			}
		}
		pn_acct_stock_leave(st);
	}
	return pn_acct_charge_slow(g, nr, kind);
}

static inline void pn_acct_uncharge(struct pn_acct_group *g, uint32_t nr,
				    enum pn_acct_kind kind)
{
	int tid = pn_thread_id();

	/* fast path: back into this thread's stock while it stays small */
	if (pn_likely(tid != PN_THREAD_SHARED)) {
		struct pn_acct_stock *st = &pn_acct_stocks[tid];

		if (pn_likely(pn_acct_stock_enter(st)) &&
		    atomic_load_explicit(&st->cached, memory_order_relaxed) == g) {
			uint32_t have = atomic_load_explicit(&st->nr, memory_order_relaxed);

			if (pn_likely(have + nr <= 2 * PN_ACCT_BATCH)) {
				atomic_store_explicit(&st->nr, have + nr, memory_order_relaxed);
				PN_SOLE_ADD(st->kind_delta[kind], -(int64_t)nr);
				pn_acct_stock_leave(st);
				return;
			}
		}
		pn_acct_stock_leave(st);
	}
	pn_acct_uncharge_slow(g, nr, kind);
}

extern _Atomic(struct pn_acct_group *) pn_acct_groups[PN_ACCT_MAX_GROUPS];

/** Uncharge what a frame's acct_id tag says (the POOL destructor). */
static inline void pn_acct_uncharge_tag(uint16_t tag, uint32_t nr)
{
	struct pn_acct_group *g = atomic_load_explicit(
		&pn_acct_groups[tag & (PN_ACCT_MAX_GROUPS - 1)], memory_order_acquire);
	unsigned kind = tag >> PN_ACCT_ID_BITS;

	if (pn_likely(g != NULL && kind < PN_ACCT_KINDS))
		pn_acct_uncharge(g, nr, (enum pn_acct_kind)kind);
}

#ifdef __cplusplus
}
#endif

#endif /* PN_ACCT_H */
