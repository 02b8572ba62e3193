/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * A hashed timer wheel with 1 ms ticks and 1024 slots, for one thread.
 *
 * Arming, cancelling and re-arming are O(1) and allocate nothing: the
 * timer is embedded in its owner (a socket, a neighbour table) and linked
 * into a slot. A timer further away than one lap (1.023 s) waits in the
 * last slot of the lap and is re-armed when that slot runs, so long
 * timeouts cost one visit per second. pn_timer_run() visits every tick up
 * to @p now, or each slot once after a pause longer than a lap.
 *
 * Not thread-safe: a wheel belongs to the thread that polls it (the
 * stack's owner).
 */
#ifndef PN_TIMER_H
#define PN_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PN_TW_SLOTS 1024u

struct pn_timer {
	struct pn_timer *next, **pprev; /* pprev == NULL: not armed */
	uint64_t expires;               /* ms */
	void (*fn)(struct pn_timer *t);
};

struct pn_timer_wheel {
	struct pn_timer *slot[PN_TW_SLOTS];
	uint64_t now; /* last tick run */
};

/** A zeroed timer calling @p fn when it expires. */
static inline void pn_timer_init(struct pn_timer *t, void (*fn)(struct pn_timer *t))
{
	t->next = NULL;
	t->pprev = NULL;
	t->expires = 0;
	t->fn = fn;
}

static inline bool pn_timer_armed(const struct pn_timer *t) { return t->pprev != NULL; }

static inline void pn_timer_cancel(struct pn_timer *t)
{
	if (t->pprev == NULL)
		return;
	*t->pprev = t->next;
	if (t->next)
		t->next->pprev = t->pprev;
	t->next = NULL;
	t->pprev = NULL;
}

/** (Re)arm @p t to fire at @p expires (ms on the wheel's clock); a time
 * already past fires on the next tick. */
static inline void pn_timer_arm(struct pn_timer_wheel *w, struct pn_timer *t,
				uint64_t expires)
{
	uint64_t at = expires;
	struct pn_timer **head;

	pn_timer_cancel(t);
	t->expires = expires;
	if (at <= w->now)
		at = w->now + 1;
	if (at - w->now >= PN_TW_SLOTS)
		at = w->now + PN_TW_SLOTS - 1; /* re-armed when that slot runs */
	head = &w->slot[at & (PN_TW_SLOTS - 1)];
	t->next = *head;
	if (*head)
		(*head)->pprev = &t->next;
	*head = t;
	t->pprev = head;
}

/** Start the wheel's clock at @p now (ms); every slot empty. */
void pn_timer_wheel_init(struct pn_timer_wheel *w, uint64_t now);

/** Run every timer due by @p now (ms, never going backwards). A callback
 * may arm or cancel any timer, itself included. */
void pn_timer_run(struct pn_timer_wheel *w, uint64_t now);

#ifdef __cplusplus
}
#endif

#endif /* PN_TIMER_H */
