/* SPDX-License-Identifier: BSD-3-Clause */
/* Accounting groups: page counters, the per-thread stock's slow paths, the tree. */
#include <errno.h>
#include <stdarg.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pn_acct.h"

void pn_acct_tel_init(void); /* pn_acct_tel.c */
#include "pn_log.h"

struct pn_acct_stock pn_acct_stocks[PN_THREAD_SLOTS];
/* false when the kernel has no membarrier: stocks are then never filled,
 * so the lock-free drain is never needed */
static bool stocks_enabled = true;

static pthread_mutex_t tree_lock = PTHREAD_MUTEX_INITIALIZER;
/* serialises drainers, so one stock is emptied by one thread at a time */
static pthread_mutex_t drain_lock = PTHREAD_MUTEX_INITIALIZER;
_Atomic(struct pn_acct_group *) pn_acct_groups[PN_ACCT_MAX_GROUPS];
static struct pn_acct_group root = {
	.max = PN_ACCT_UNLIMITED,
	.id = 0,
	.name = "",
};

/* page counter */

static void counter_uncharge(struct pn_acct_group *g, int64_t nr)
{
	for (struct pn_acct_group *c = g; c != NULL; c = c->parent)
		atomic_fetch_sub_explicit(&c->usage, nr, memory_order_relaxed);
}

static void peak_raise(struct pn_acct_group *c, int64_t v)
{
	int64_t p = atomic_load_explicit(&c->peak, memory_order_relaxed);

	while (v > p && !atomic_compare_exchange_weak_explicit(
			&c->peak, &p, v, memory_order_relaxed, memory_order_relaxed))
		;
}

/*
 * Charge @nr to @g and every ancestor, or to none. Each level is raised with
 * a compare-and-swap that never passes its max, so `current` never reads
 * above `max` (the kernel's page_counter adds first and takes back; a
 * reader could see the overshoot). @limited: the group whose max refused it.
 */
static bool counter_try_charge(struct pn_acct_group *g, int64_t nr,
			       struct pn_acct_group **limited)
{
	struct pn_acct_group *c;

	for (c = g; c != NULL; c = c->parent) {
		int64_t v = atomic_load_explicit(&c->usage, memory_order_relaxed);

		do {
			if (pn_unlikely(v + nr > atomic_load_explicit(&c->max, memory_order_relaxed))) {
				*limited = c;
				for (struct pn_acct_group *u = g; u != c; u = u->parent)
					atomic_fetch_sub_explicit(&u->usage, nr, memory_order_relaxed);
				return false;
			}
		} while (!atomic_compare_exchange_weak_explicit(&c->usage, &v, v + nr,
								memory_order_seq_cst,
								memory_order_relaxed));
		peak_raise(c, v + nr);
	}
	/* a pn_acct_set_max() that lowered a max between the load above and
	 * the exchange must not see this charge succeed after it returns:
	 * look again (either the new max is seen here, or the exchange came
	 * first in the order of seq_cst operations and the charge precedes
	 * the write) */
	for (c = g; c != NULL; c = c->parent) {
		if (pn_unlikely(atomic_load_explicit(&c->usage, memory_order_seq_cst) >
				atomic_load_explicit(&c->max, memory_order_seq_cst))) {
			*limited = c;
			counter_uncharge(g, nr);
			return false;
		}
	}
	return true;
}

/* Is any level from @g up above its max? Only after a max was lowered
 * below what the group holds; the stock then stays out of the way, since a
 * page uncharged into a stock stays in `current` and a charge served from
 * it would pass the max unchecked. */
static bool over_max(const struct pn_acct_group *g)
{
	for (; g != NULL; g = g->parent)
		if (atomic_load_explicit(&((struct pn_acct_group *)g)->usage, memory_order_seq_cst) >
		    atomic_load_explicit(&((struct pn_acct_group *)g)->max, memory_order_seq_cst))
			return true;
	return false;
}

/* stock: the owner's side, inside its in_use section */

static void stock_flush(struct pn_acct_stock *st)
{
	struct pn_acct_group *g = atomic_load_explicit(&st->cached, memory_order_relaxed);
	uint32_t nr = atomic_load_explicit(&st->nr, memory_order_relaxed);

	if (g == NULL)
		return;
	if (nr)
		counter_uncharge(g, nr);
	for (unsigned k = 0; k < PN_ACCT_KINDS; k++) {
		int64_t d = atomic_load_explicit(&st->kind_delta[k], memory_order_relaxed);

		if (d)
			atomic_fetch_add_explicit(&g->stat_pages[k], d, memory_order_relaxed);
		atomic_store_explicit(&st->kind_delta[k], 0, memory_order_relaxed);
	}
	atomic_store_explicit(&st->nr, 0, memory_order_relaxed);
	atomic_store_explicit(&st->cached, NULL, memory_order_relaxed);
}

/* Make @g the stock's group and add @nr pre-charged pages, trimming to a
 * batch. @return false, having done nothing, while @g or a group above it
 * is over its max: the caller uncharges @nr at the counters. */
static bool stock_add(struct pn_acct_stock *st, struct pn_acct_group *g, uint32_t nr)
{
	uint32_t have;

	if (over_max(g)) {
		/* and whatever it stocked for the group goes back too */
		if (atomic_load_explicit(&st->cached, memory_order_relaxed) == g)
			stock_flush(st);
		return false;
	}
	if (atomic_load_explicit(&st->cached, memory_order_relaxed) != g) {
		stock_flush(st);
		atomic_store_explicit(&st->cached, g, memory_order_relaxed);
	}
	have = atomic_load_explicit(&st->nr, memory_order_relaxed) + nr;
	if (have > 2 * PN_ACCT_BATCH) {
		counter_uncharge(g, have - PN_ACCT_BATCH);
		have = PN_ACCT_BATCH;
	}
	atomic_store_explicit(&st->nr, have, memory_order_relaxed);
	return true;
}

static unsigned drain_subtree(struct pn_acct_group *top, bool pages_only);

/*
 * One try at charging @nr: from a refill of this thread's stock (a batch,
 * or exactly @nr near a limit), else straight to the counters.
 * @return true when charged; @limited names the max that refused it.
 */
static bool charge_once(struct pn_acct_group *g, uint32_t nr, enum pn_acct_kind kind,
			struct pn_acct_group **limited)
{
	int tid = pn_thread_id();

	if (tid != PN_THREAD_SHARED && stocks_enabled) {
		struct pn_acct_stock *st = &pn_acct_stocks[tid];

		if (pn_acct_stock_enter(st)) {
			uint32_t batch = PN_MAX(nr, (uint32_t)PN_ACCT_BATCH);
			bool ok = counter_try_charge(g, batch, limited);

			/* near a limit: exactly what is asked, no stock */
			if (!ok && batch > nr) {
				batch = nr;
				ok = counter_try_charge(g, nr, limited);
			}
			if (ok) {
				if (batch > nr && !stock_add(st, g, batch - nr))
					counter_uncharge(g, batch - nr);
				/* the stat delta follows the stock's group */
				if (atomic_load_explicit(&st->cached, memory_order_relaxed) == g)
					PN_SOLE_ADD(st->kind_delta[kind], (int64_t)nr);
				else
					atomic_fetch_add_explicit(&g->stat_pages[kind], nr,
								  memory_order_relaxed);
			}
			pn_acct_stock_leave(st);
			return ok;
		}
		pn_acct_stock_leave(st);
	}
	/* no stock (a drainer holds it, or too many threads): go direct */
	if (!counter_try_charge(g, nr, limited))
		return false;
	atomic_fetch_add_explicit(&g->stat_pages[kind], nr, memory_order_relaxed);
	return true;
}

__pn_noinline int pn_acct_charge_slow(struct pn_acct_group *g, uint32_t nr,
				      enum pn_acct_kind kind)
{
	struct pn_acct_group *limited = NULL;

	if (charge_once(g, nr, kind, &limited))
		return 0;
	/* it hit a max: counted once, on the group whose max it was */
	atomic_fetch_add_explicit(&limited->ev_max, 1, memory_order_relaxed);
	/* pages pre-charged in stocks under that group may be what fills it,
	 * not pages anyone holds: give them back and try once more, as memcg
	 * drains its per-CPU stocks before it gives up */
	if (drain_subtree(limited, true) > 0 && charge_once(g, nr, kind, &limited))
		return 0;
	atomic_fetch_add_explicit(&g->ev_fail, 1, memory_order_relaxed);
	return -ENOBUFS;
}

__pn_noinline void pn_acct_uncharge_slow(struct pn_acct_group *g, uint32_t nr,
					 enum pn_acct_kind kind)
{
	int tid = pn_thread_id();

	if (tid != PN_THREAD_SHARED && stocks_enabled) {
		struct pn_acct_stock *st = &pn_acct_stocks[tid];

		if (pn_acct_stock_enter(st)) {
			/* the stock follows the group this thread works for now */
			if (stock_add(st, g, nr)) {
				PN_SOLE_ADD(st->kind_delta[kind], -(int64_t)nr);
				pn_acct_stock_leave(st);
				return;
			}
		}
		pn_acct_stock_leave(st);
	}
	counter_uncharge(g, nr);
	atomic_fetch_sub_explicit(&g->stat_pages[kind], nr, memory_order_relaxed);
}

void pn_acct_note_copied(struct pn_acct_group *g, uint64_t bytes)
{
	atomic_fetch_add_explicit(&g->copied_bytes, bytes, memory_order_relaxed);
}

/* stock: the drainer's side */

/* Make every thread pass a full barrier (the owners' half of the fence). */
static void full_barrier_everywhere(void)
{
#ifndef PN_ACCT_SEQ_CST
	/* registered at start, so it cannot fail; were it to, stocks are off
	 * and nothing relies on it */
	(void)syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
#endif
}

static bool in_subtree(const struct pn_acct_group *g, const struct pn_acct_group *top)
{
	for (; g != NULL; g = g->parent)
		if (g == top)
			return true;
	return false;
}

/* Empty thread @t's stock if it holds a group under @top (any group when
 * NULL). @return the pre-charged pages it gave back. */
static uint32_t drain_one(unsigned t, struct pn_acct_group *top)
{
	struct pn_acct_stock *st = &pn_acct_stocks[t];
	struct pn_acct_group *g = atomic_load_explicit(&st->cached, memory_order_relaxed);
	uint32_t nr;

	if (g == NULL || (top != NULL && !in_subtree(g, top)))
		return 0;
	atomic_store_explicit(&st->drain_req, 1, memory_order_seq_cst);
	full_barrier_everywhere();
	/* pairs with the owner's release when it leaves */
	while (atomic_load_explicit(&st->in_use, memory_order_seq_cst))
		pn_cpu_relax();
	nr = atomic_load_explicit(&st->nr, memory_order_relaxed);
	stock_flush(st);
	atomic_store_explicit(&st->drain_req, 0, memory_order_release);
	return nr;
}

/* Drain every stock holding @top or a group below it (only those holding
 * pre-charged pages, with @pages_only). @return the pages given back. */
static unsigned drain_subtree(struct pn_acct_group *top, bool pages_only)
{
	unsigned pages = 0, stocked = 0;

	if (!stocks_enabled)
		return 0;
	/* a look first (plain loads): the drain itself costs a membarrier,
	 * and a group at its max is asked again and again */
	for (unsigned t = 0; t < PN_MAX_THREADS; t++) {
		struct pn_acct_stock *st = &pn_acct_stocks[t];
		struct pn_acct_group *g = atomic_load_explicit(&st->cached, memory_order_relaxed);

		if (g != NULL && (top == NULL || in_subtree(g, top)))
			stocked += atomic_load_explicit(&st->nr, memory_order_relaxed) +
				   !pages_only;
	}
	if (stocked == 0)
		return 0;
	pthread_mutex_lock(&drain_lock);
	for (unsigned t = 0; t < PN_MAX_THREADS; t++)
		pages += drain_one(t, top);
	pthread_mutex_unlock(&drain_lock);
	return pages;
}

/* Drain every stock that holds a group under @top once each thread has
 * left the section it is in: a thread inside one now may be about to make
 * such a group its stock's (it read the old max), so no stock is skipped
 * on a look taken before. One membarrier for all. */
static void drain_subtree_all(struct pn_acct_group *top)
{
	if (!stocks_enabled)
		return;
	pthread_mutex_lock(&drain_lock);
	for (unsigned t = 0; t < PN_MAX_THREADS; t++)
		atomic_store_explicit(&pn_acct_stocks[t].drain_req, 1, memory_order_seq_cst);
	full_barrier_everywhere();
	for (unsigned t = 0; t < PN_MAX_THREADS; t++) {
		struct pn_acct_stock *st = &pn_acct_stocks[t];
		struct pn_acct_group *g;

		while (atomic_load_explicit(&st->in_use, memory_order_seq_cst))
			pn_cpu_relax();
		g = atomic_load_explicit(&st->cached, memory_order_relaxed);
		if (g != NULL && in_subtree(g, top))
			stock_flush(st);
		atomic_store_explicit(&st->drain_req, 0, memory_order_release);
	}
	pthread_mutex_unlock(&drain_lock);
}

void pn_acct_drain_all(void)
{
	drain_subtree(NULL, false);
}

int64_t pn_acct_stocked(void)
{
	int64_t n = 0;

	for (unsigned t = 0; t < PN_MAX_THREADS; t++)
		n += atomic_load_explicit(&pn_acct_stocks[t].nr, memory_order_relaxed);
	return n;
}

/* A thread that leaves gives its stock back (its id may be reused). */
static void thread_gone(int id)
{
	pthread_mutex_lock(&drain_lock);
	drain_one((unsigned)id, NULL);
	pthread_mutex_unlock(&drain_lock);
}

__attribute__((constructor)) static void acct_init(void)
{
#ifndef PN_ACCT_SEQ_CST
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) != 0)
		stocks_enabled = false;
#endif
	atomic_store(&pn_acct_groups[0], &root);
	pn_thread_exit_hook(thread_gone);
}

/* groups and the tree */

struct pn_acct_group *pn_acct_root(void)
{
	return &root;
}

static struct pn_acct_group *child_named(struct pn_acct_group *parent,
					 const char *name, size_t len)
{
	for (struct pn_acct_group *c = parent->first_child; c; c = c->next_sibling)
		if (strlen(c->name) == len && memcmp(c->name, name, len) == 0)
			return c;
	return NULL;
}

static struct pn_acct_group *find_locked(struct pn_acct_group *g, const char *path)
{
	while (g != NULL && *path) {
		size_t len = strcspn(path, "/");

		if (len)
			g = child_named(g, path, len);
		path += len;
		path += *path == '/';
	}
	return g;
}

struct pn_acct_group *pn_acct_group_create(struct pn_acct_group *parent,
					   const char *name)
{
	struct pn_acct_group *g;
	size_t len = name ? strlen(name) : 0;
	int id = -1;

	pn_acct_tel_init(); /* the groups' telemetry commands, from the first group on */

	if (parent == NULL)
		parent = &root;
	if (len == 0 || len >= PN_ACCT_NAME_MAX || strchr(name, '/') || strchr(name, ',') ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		errno = EINVAL;
		return NULL;
	}
	g = aligned_alloc(PN_CACHE_LINE, PN_ALIGN_UP(sizeof(*g), PN_CACHE_LINE));
	if (g == NULL)
		return NULL;
	memset(g, 0, sizeof(*g));
	memcpy(g->name, name, len + 1);
	atomic_init(&g->max, PN_ACCT_UNLIMITED);
	g->parent = parent;

	pthread_mutex_lock(&tree_lock);
	if (child_named(parent, name, len) != NULL) {
		pthread_mutex_unlock(&tree_lock);
		free(g);
		errno = EEXIST;
		return NULL;
	}
	for (int i = 1; i < PN_ACCT_MAX_GROUPS; i++) {
		if (atomic_load_explicit(&pn_acct_groups[i], memory_order_relaxed) == NULL) {
			id = i;
			break;
		}
	}
	if (id < 0) {
		pthread_mutex_unlock(&tree_lock);
		free(g);
		errno = ENOSPC;
		return NULL;
	}
	g->id = (uint16_t)id;
	g->next_sibling = parent->first_child;
	parent->first_child = g;
	atomic_store_explicit(&pn_acct_groups[id], g, memory_order_release);
	pthread_mutex_unlock(&tree_lock);
	return g;
}

int pn_acct_group_destroy(struct pn_acct_group *g)
{
	struct pn_acct_group **pp;
	char path[256], why[320];
	int64_t cur;

	if (g == NULL || g == &root)
		return -EINVAL;
	/* stocks may hold pre-charged pages of it: give them back first */
	drain_subtree(g, false);
	pthread_mutex_lock(&tree_lock);
	cur = atomic_load_explicit(&g->usage, memory_order_relaxed);
	if (g->first_child != NULL || cur != 0 || g->nr_pins != 0) {
		size_t used = 0;

		if (g->first_child)
			used = (size_t)snprintf(why, sizeof(why), "it has child groups");
		else if (cur)
			used = (size_t)snprintf(why, sizeof(why), "%lld pages are still charged to it",
						(long long)cur);
		else
			used = (size_t)snprintf(why, sizeof(why), "pinned by %u holder%s:", g->nr_pins,
						g->nr_pins == 1 ? "" : "s");
		if (!g->first_child && !cur) {
			unsigned shown = 0;

			for (struct pn_acct_pin *p = g->pins; p && used < sizeof(why); p = p->next) {
				if (shown++ == 4) {
					snprintf(why + used, sizeof(why) - used, " ...");
					break;
				}
				used += (size_t)snprintf(why + used, sizeof(why) - used, "%s %s",
							 shown > 1 ? ";" : "", p->who);
			}
		}
		pn_acct_path(g, path, sizeof(path));
		pthread_mutex_unlock(&tree_lock);
		pn_log(PN_LOG_WARNING, "acct", "cannot destroy %s: %s", path, why);
		return -EBUSY;
	}
	for (pp = &g->parent->first_child; *pp != g; pp = &(*pp)->next_sibling)
		;
	*pp = g->next_sibling;
	atomic_store_explicit(&pn_acct_groups[g->id], NULL, memory_order_release);
	/* freed under the lock: pn_acct_foreach/visit readers hold it */
	free(g);
	pthread_mutex_unlock(&tree_lock);
	return 0;
}

int pn_acct_pin(struct pn_acct_group *g, struct pn_acct_pin *pin, const char *fmt, ...)
{
	va_list ap;

	if (g == NULL || pin == NULL || pin->group != NULL)
		return -EINVAL;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(pin->who, sizeof(pin->who), fmt, ap);
		va_end(ap);
	} else {
		snprintf(pin->who, sizeof(pin->who), "an unnamed holder");
	}
	pthread_mutex_lock(&tree_lock);
	pin->group = g;
	pin->prev = NULL;
	pin->next = g->pins;
	if (g->pins)
		g->pins->prev = pin;
	g->pins = pin;
	g->nr_pins++;
	pthread_mutex_unlock(&tree_lock);
	return 0;
}

void pn_acct_unpin(struct pn_acct_pin *pin)
{
	struct pn_acct_group *g;

	if (pin == NULL || pin->group == NULL)
		return;
	pthread_mutex_lock(&tree_lock);
	g = pin->group;
	if (pin->prev)
		pin->prev->next = pin->next;
	else
		g->pins = pin->next;
	if (pin->next)
		pin->next->prev = pin->prev;
	g->nr_pins--;
	pin->group = NULL;
	pin->next = pin->prev = NULL;
	pthread_mutex_unlock(&tree_lock);
}

unsigned pn_acct_pins(const struct pn_acct_group *g)
{
	unsigned n;

	pthread_mutex_lock(&tree_lock);
	n = g->nr_pins;
	pthread_mutex_unlock(&tree_lock);
	return n;
}

int pn_acct_foreach(int (*fn)(struct pn_acct_group *g, void *arg), void *arg)
{
	int rc = 0;

	pthread_mutex_lock(&tree_lock);
	for (unsigned id = 0; id < PN_ACCT_MAX_GROUPS && rc == 0; id++) {
		struct pn_acct_group *g = atomic_load_explicit(&pn_acct_groups[id],
							       memory_order_acquire);

		if (g != NULL)
			rc = fn(g, arg);
	}
	pthread_mutex_unlock(&tree_lock);
	return rc;
}

int pn_acct_visit(const char *path, int (*fn)(struct pn_acct_group *g, void *arg),
		  void *arg)
{
	struct pn_acct_group *g;
	int rc;

	pthread_mutex_lock(&tree_lock);
	g = find_locked(&root, path);
	rc = g ? fn(g, arg) : -ENOENT;
	pthread_mutex_unlock(&tree_lock);
	return rc;
}

struct pn_acct_group *pn_acct_group_find(struct pn_acct_group *parent, const char *path)
{
	struct pn_acct_group *g;

	pthread_mutex_lock(&tree_lock);
	g = find_locked(parent ? parent : &root, path);
	pthread_mutex_unlock(&tree_lock);
	return g;
}

int pn_acct_set_max(struct pn_acct_group *g, int64_t max)
{
	if (g == NULL || max < 0)
		return -EINVAL;
	atomic_store_explicit(&g->max, max, memory_order_seq_cst);
	/* as a write to memory.max drains memcg's stocks: pages pre-charged
	 * under the group go back, so from now on every charge meets the new
	 * max at the counters; and while the group holds more than its max,
	 * no stock takes it again (stock_add), so a charge cannot be served
	 * from pages uncharged a moment before */
	drain_subtree_all(g);
	return 0;
}

int64_t pn_acct_current(const struct pn_acct_group *g)
{
	return atomic_load_explicit(&((struct pn_acct_group *)g)->usage, memory_order_relaxed);
}

int64_t pn_acct_max(const struct pn_acct_group *g)
{
	return atomic_load_explicit(&((struct pn_acct_group *)g)->max, memory_order_relaxed);
}

int64_t pn_acct_peak(const struct pn_acct_group *g)
{
	return atomic_load_explicit(&((struct pn_acct_group *)g)->peak, memory_order_relaxed);
}

void pn_acct_events(const struct pn_acct_group *g, struct pn_acct_events *ev)
{
	struct pn_acct_group *gg = (struct pn_acct_group *)g;

	ev->max = atomic_load_explicit(&gg->ev_max, memory_order_relaxed);
	ev->fail = atomic_load_explicit(&gg->ev_fail, memory_order_relaxed);
}

/* The group's own counts plus what stocks hold for it (a snapshot). */
void pn_acct_stat(const struct pn_acct_group *g, struct pn_acct_stat *st)
{
	struct pn_acct_group *gg = (struct pn_acct_group *)g;
	int64_t pages[PN_ACCT_KINDS];

	for (unsigned k = 0; k < PN_ACCT_KINDS; k++)
		pages[k] = atomic_load_explicit(&gg->stat_pages[k], memory_order_relaxed);
	for (unsigned t = 0; t < PN_MAX_THREADS; t++) {
		struct pn_acct_stock *s = &pn_acct_stocks[t];

		if (atomic_load_explicit(&s->cached, memory_order_relaxed) != g)
			continue;
		for (unsigned k = 0; k < PN_ACCT_KINDS; k++)
			pages[k] += atomic_load_explicit(&s->kind_delta[k], memory_order_relaxed);
	}
	st->zc_pages = pages[PN_ACCT_ZC];
	st->queued_pages = pages[PN_ACCT_QUEUED];
	st->other_pages = pages[PN_ACCT_OTHER];
	st->copied_bytes = atomic_load_explicit(&gg->copied_bytes, memory_order_relaxed);
}

const char *pn_acct_name(const struct pn_acct_group *g)
{
	return g->name;
}

void pn_acct_path(const struct pn_acct_group *g, char *buf, size_t len)
{
	const struct pn_acct_group *chain[64];
	unsigned n = 0;
	size_t used = 0;

	for (; g != NULL && g != &root && n < PN_DIM(chain); g = g->parent)
		chain[n++] = g;
	if (len)
		buf[0] = '\0';
	if (n == 0) {
		snprintf(buf, len, "/");
		return;
	}
	while (n-- > 0 && used < len)
		used += (size_t)snprintf(buf + used, len - used, "/%s", chain[n]->name);
}

struct pn_acct_group *pn_acct_parent(const struct pn_acct_group *g)
{
	return g->parent;
}

uint16_t pn_acct_id(const struct pn_acct_group *g)
{
	return g->id;
}

struct pn_acct_group *pn_acct_by_id(uint16_t id)
{
	if (id >= PN_ACCT_MAX_GROUPS)
		return NULL;
	return atomic_load_explicit(&pn_acct_groups[id], memory_order_acquire);
}

struct pn_acct_group *pn_acct_group_mkpath(const char *path)
{
	char buf[256], *save = NULL;
	struct pn_acct_group *g = pn_acct_root();

	if (path == NULL || strlen(path) >= sizeof(buf)) {
		errno = EINVAL;
		return NULL;
	}
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *t = strtok_r(buf, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		struct pn_acct_group *c = pn_acct_group_find(g, t);

		if (c == NULL)
			c = pn_acct_group_create(g, t);
		if (c == NULL)
			return NULL;
		g = c;
	}
	if (g == pn_acct_root()) {
		errno = EINVAL;
		return NULL;
	}
	return g;
}
