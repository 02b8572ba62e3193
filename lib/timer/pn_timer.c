/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "pn_timer.h"

void pn_timer_wheel_init(struct pn_timer_wheel *w, uint64_t now)
{
	memset(w->slot, 0, sizeof(w->slot));
	w->now = now;
}

void pn_timer_run(struct pn_timer_wheel *w, uint64_t now)
{
	uint64_t t = w->now;
	unsigned laps = 0;

	/* after a long pause, visit each slot once rather than every tick */
	while (t < now && laps++ < PN_TW_SLOTS) {
		struct pn_timer *list, *tm;

		t++;
		w->now = t;
		list = w->slot[t & (PN_TW_SLOTS - 1)];
		w->slot[t & (PN_TW_SLOTS - 1)] = NULL;
		/* the list is detached: a callback cancelling a timer still on
		 * it unlinks through pprev, which must point into this list */
		if (list)
			list->pprev = &list;
		while ((tm = list) != NULL) {
			list = tm->next;
			if (list)
				list->pprev = &list;
			tm->next = NULL;
			tm->pprev = NULL;
			if (tm->expires <= now)
				tm->fn(tm); /* may re-arm itself or others */
			else
				pn_timer_arm(w, tm, tm->expires);
		}
	}
	w->now = now;
}
