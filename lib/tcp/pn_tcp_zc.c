/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Zero-copy receive tokens: checked handles for what pn_tcp_recv_zc hands
 * out, releasable from any thread, valid past their socket and stack.
 *
 *   token = generation (32) | table (8) | slot (24)
 *
 * A stack issues tokens from a table of entries, each holding a packet (or
 * one page reference) and the socket and byte count it stands for. An
 * entry's generation is odd while its token is out and even while it is
 * free; a release claims the entry with one compare-and-swap from the
 * token's generation to the next, so a stale, doubled, foreign or made-up
 * token fails the swap (or the bounds check before it), is counted, and
 * touches nothing.
 *
 * A release on the stack's own thread does the socket's bookkeeping at
 * once. A release on any other thread frees the payload there (its pages
 * recycle through the pool's cross-thread ring) and pushes the slot on the
 * table's return list, a lock-free stack that the stack's thread takes
 * whole once per poll round (exchange) and settles: the socket's held
 * bytes go down, its window reopens in that round, the slot is reused.
 *
 * Tables are never freed: a destroyed stack's table keeps its generations
 * and goes to the next stack that asks for one of its size once every
 * token of it came back, so a token from a dead stack can never match a
 * live entry.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pn_log.h"
#include "pn_tcp_priv.h"

#define ZC_TABLES 256u
#define ZC_SLOT_BITS 24
#define ZC_MAX_SIZE (1u << ZC_SLOT_BITS)
#define ZC_FRAME_TAG ((uintptr_t)1) /* low bit of obj: a page reference */

struct zc_entry {
	_Atomic uint32_t gen; /* odd: handed out */
	uint32_t len;
	uint32_t next; /* free list / return list: slot + 1, 0 = end */
	uint32_t pad;
	uintptr_t obj; /* struct pn_pkt *, or struct pn_frame * | ZC_FRAME_TAG */
	uint64_t sock_id; /* unique for the stack's life: never another socket's */
};
_Static_assert(sizeof(struct zc_entry) == 32, "two entries per cache line");

struct pn_zc_table {
	/* read by every releaser, written when a stack takes or leaves it */
	struct zc_entry *e;
	uint32_t size;
	uint32_t idx;
	_Atomic(struct pn_stack *) stack; /* NULL: no live stack */
	_Atomic int owner;                /* the stack's thread */
	bool in_use;                      /* under zc_lock */

	/* the stack's thread only */
	uint32_t free_head __pn_cache_aligned;
	uint64_t issued, returned;

	/* written by releasers on other threads */
	_Atomic uint32_t ret_head __pn_cache_aligned;
	_Atomic uint64_t bad;
};

static _Atomic(struct pn_zc_table *) zc_tables[ZC_TABLES];
static pthread_mutex_t zc_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t zc_bad_unknown; /* tokens naming no table at all */

static inline uint64_t token_make(const struct pn_zc_table *t, uint32_t slot, uint32_t gen)
{
	return (uint64_t)gen << 32 | (uint64_t)t->idx << ZC_SLOT_BITS | slot;
}

/* Put every returned slot back on the free list; @fn settles each one. */
static unsigned take_returns(struct pn_zc_table *t,
			     void (*fn)(struct pn_stack *st, uint64_t sock_id, uint32_t len),
			     struct pn_stack *st)
{
	/* acquire: pairs with the releasers' release CAS, so their writes to
	 * the entries (next) are visible */
	uint32_t head = atomic_exchange_explicit(&t->ret_head, 0, memory_order_acquire);
	unsigned n = 0;

	while (head) {
		uint32_t slot = head - 1;
		struct zc_entry *e = &t->e[slot];

		head = e->next;
		if (fn)
			fn(st, e->sock_id, e->len);
		e->next = t->free_head;
		t->free_head = slot + 1;
		n++;
	}
	t->returned += n;
	return n;
}

struct pn_zc_table *pn_zc_table_get(struct pn_stack *st, uint32_t size)
{
	struct pn_zc_table *t = NULL;
	unsigned free_idx = ZC_TABLES;

	if (size == 0 || size > ZC_MAX_SIZE) {
		errno = EINVAL;
		return NULL;
	}
	pthread_mutex_lock(&zc_lock);
	for (unsigned i = 0; i < ZC_TABLES; i++) {
		struct pn_zc_table *c = atomic_load_explicit(&zc_tables[i], memory_order_relaxed);

		if (c == NULL) {
			if (free_idx == ZC_TABLES)
				free_idx = i;
			continue;
		}
		if (c->in_use || c->size != size)
			continue;
		/* a dead stack's table: reusable once all its tokens came back */
		take_returns(c, NULL, NULL);
		if (c->issued == c->returned) {
			t = c;
			break;
		}
	}
	if (t == NULL && free_idx < ZC_TABLES) {
		t = aligned_alloc(PN_CACHE_LINE, sizeof(*t));
		if (t != NULL) {
			memset(t, 0, sizeof(*t));
			t->e = calloc(size, sizeof(*t->e));
			if (t->e == NULL) {
				free(t);
				t = NULL;
			}
		}
		if (t != NULL) {
			t->size = size;
			t->idx = free_idx;
			for (uint32_t s = 0; s < size; s++)
				t->e[s].next = s + 2 < size + 1 ? s + 2 : 0;
			t->free_head = 1;
			atomic_store_explicit(&zc_tables[free_idx], t, memory_order_release);
		} else {
			errno = ENOMEM;
		}
	} else if (t == NULL) {
		errno = ENOSPC;
	}
	if (t != NULL) {
		t->in_use = true;
		t->issued = t->returned = 0;
		atomic_store_explicit(&t->owner, pn_thread_id(), memory_order_relaxed);
		atomic_store_explicit(&t->stack, st, memory_order_release);
	}
	pthread_mutex_unlock(&zc_lock);
	return t;
}

void pn_zc_table_put(struct pn_zc_table *t)
{
	if (t == NULL)
		return;
	take_returns(t, NULL, NULL);
	pthread_mutex_lock(&zc_lock);
	atomic_store_explicit(&t->stack, NULL, memory_order_release);
	atomic_store_explicit(&t->owner, -1, memory_order_relaxed);
	t->in_use = false;
	pthread_mutex_unlock(&zc_lock);
}

uint64_t pn_zc_issue(struct pn_zc_table *t, void *obj, bool is_frame, uint64_t sock_id,
		     uint32_t len)
{
	uint32_t slot, gen;
	struct zc_entry *e;

	if (pn_unlikely(t->free_head == 0))
		return 0; /* every token is out */
	slot = t->free_head - 1;
	e = &t->e[slot];
	t->free_head = e->next;
	e->obj = (uintptr_t)obj | (is_frame ? ZC_FRAME_TAG : 0);
	e->sock_id = sock_id;
	e->len = len;
	gen = atomic_load_explicit(&e->gen, memory_order_relaxed) + 1;
	/* release: the fields above are visible to whoever claims the token */
	atomic_store_explicit(&e->gen, gen, memory_order_release);
	t->issued++;
	return token_make(t, slot, gen);
}

unsigned pn_zc_settle(struct pn_zc_table *t, struct pn_stack *st)
{
	/* a plain look first: the line is written only by releasers */
	if (atomic_load_explicit(&t->ret_head, memory_order_relaxed) == 0)
		return 0;
	return take_returns(t, pn_tcp_zc_returned, st);
}

uint64_t pn_zc_outstanding(const struct pn_zc_table *t)
{
	return t->issued - t->returned;
}

uint64_t pn_zc_bad(const struct pn_zc_table *t)
{
	return atomic_load_explicit(&((struct pn_zc_table *)t)->bad, memory_order_relaxed);
}

uint64_t pn_tcp_zc_bad_tokens(void)
{
	uint64_t n = atomic_load_explicit(&zc_bad_unknown, memory_order_relaxed);

	for (unsigned i = 0; i < ZC_TABLES; i++) {
		struct pn_zc_table *t = atomic_load_explicit(&zc_tables[i], memory_order_acquire);

		if (t)
			n += pn_zc_bad(t);
	}
	return n;
}

static void payload_free(uintptr_t obj)
{
	if (obj & ZC_FRAME_TAG)
		pn_frame_put((struct pn_frame *)(obj & ~ZC_FRAME_TAG));
	else
		pn_pkt_free((struct pn_pkt *)obj);
}

/* Claim the entry @token names. @return it, or NULL (counted) when the
 * token is not a live one of this table, or @st names another live stack. */
static struct zc_entry *claim(struct pn_stack *st, uint64_t token, struct pn_zc_table **tp)
{
	uint32_t idx = (uint32_t)(token >> ZC_SLOT_BITS) & (ZC_TABLES - 1);
	uint32_t slot = (uint32_t)token & (ZC_MAX_SIZE - 1);
	uint32_t gen = (uint32_t)(token >> 32);
	struct pn_zc_table *t = atomic_load_explicit(&zc_tables[idx], memory_order_acquire);
	struct pn_stack *owner;
	struct zc_entry *e;

	if (t == NULL || slot >= t->size || !(gen & 1)) {
		atomic_fetch_add_explicit(t ? &t->bad : &zc_bad_unknown, 1, memory_order_relaxed);
		return NULL;
	}
	/* a live stack other than the token's is a mix-up; once the token's
	 * stack is gone any stack pointer (even a stale one) will do: it is
	 * compared, never followed */
	owner = atomic_load_explicit(&t->stack, memory_order_acquire);
	e = &t->e[slot];
	if ((st != NULL && owner != NULL && owner != st) ||
	    !atomic_compare_exchange_strong_explicit(&e->gen, &gen, gen + 1,
						     memory_order_acq_rel, memory_order_relaxed)) {
		atomic_fetch_add_explicit(&t->bad, 1, memory_order_relaxed);
		return NULL;
	}
	*tp = t;
	return e;
}

/* Hand claimed slots back: settled here on the stack's own thread, else
 * pushed on the return list for the stack's thread (one CAS per chain). */
static void give_back(struct pn_zc_table *t, uint32_t first, uint32_t last, unsigned n)
{
	struct pn_stack *st = atomic_load_explicit(&t->stack, memory_order_acquire);
	uint32_t old;

	if (st != NULL && atomic_load_explicit(&t->owner, memory_order_relaxed) == pn_thread_id()) {
		/* the stack's thread, the stack alive: no one else touches the
		 * free list or the socket now */
		for (uint32_t s = first; s; ) {
			struct zc_entry *e = &t->e[s - 1];
			uint32_t next = e->next;

			pn_tcp_zc_returned(st, e->sock_id, e->len);
			e->next = t->free_head;
			t->free_head = s;
			s = s == last ? 0 : next;
		}
		t->returned += n;
		return;
	}
	old = atomic_load_explicit(&t->ret_head, memory_order_relaxed);
	do {
		t->e[last - 1].next = old;
		/* release: the entries' links are visible to the taker */
	} while (!atomic_compare_exchange_weak_explicit(&t->ret_head, &old, first,
							memory_order_release,
							memory_order_relaxed));
}

int pn_tcp_zc_release(struct pn_stack *st, uint64_t token)
{
	struct pn_zc_table *t;
	struct zc_entry *e;

	if (token == 0)
		return 0; /* bytes that were copied: nothing is held */
	e = claim(st, token, &t);
	if (e == NULL)
		return -EINVAL;
	payload_free(e->obj);
	give_back(t, (uint32_t)(e - t->e) + 1, (uint32_t)(e - t->e) + 1, 1);
	return 0;
}

int pn_tcp_zc_release_bulk(struct pn_stack *st, const uint64_t *tokens, unsigned n)
{
	struct pn_zc_table *cur = NULL;
	uint32_t first = 0, last = 0;
	unsigned chained = 0;
	int rc = 0;

	for (unsigned i = 0; i < n; i++) {
		struct pn_zc_table *t;
		struct zc_entry *e;
		uint32_t slot1;

		if (tokens[i] == 0)
			continue;
		e = claim(st, tokens[i], &t);
		if (e == NULL) {
			rc = -EINVAL;
			continue;
		}
		payload_free(e->obj);
		slot1 = (uint32_t)(e - t->e) + 1;
		if (t != cur && chained) {
			give_back(cur, first, last, chained);
			chained = 0;
		}
		cur = t;
		/* chain through next: first -> ... -> last */
		if (chained++ == 0)
			first = slot1;
		else
			t->e[last - 1].next = slot1;
		last = slot1;
	}
	if (chained)
		give_back(cur, first, last, chained);
	return rc;
}
