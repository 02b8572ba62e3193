/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pn_ring.h"

_Static_assert(offsetof(struct pn_ring, cons) - offsetof(struct pn_ring, prod) >=
	       PN_CACHE_LINE, "producer and consumer must not share a line");

struct pn_ring *pn_ring_create(uint32_t count, uint32_t flags)
{
	struct pn_ring *r;
	size_t bytes;

	if (!PN_IS_POW2(count) || count < 2 || count > (1u << 30) ||
	    (flags & ~PN_RING_F_ALL)) {
		errno = EINVAL;
		return NULL;
	}
	bytes = PN_ALIGN_UP(sizeof(*r) + (size_t)count * sizeof(void *),
			    (size_t)PN_CACHE_LINE);
	r = aligned_alloc(PN_CACHE_LINE, bytes);
	if (r == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	memset(r, 0, sizeof(*r));
	r->size = count;
	r->mask = count - 1;
	r->capacity = count;
	r->flags = flags;
	r->prod.single = !!(flags & PN_RING_F_SP_ENQ);
	r->cons.single = !!(flags & PN_RING_F_SC_DEQ);
	return r;
}

void pn_ring_free(struct pn_ring *r)
{
	free(r);
}

void pn_ring_close(struct pn_ring *r)
{
	uint64_t head = atomic_fetch_or_explicit(&r->prod.head, PN_RING_CLOSED,
						 memory_order_acq_rel);

	head &= ~PN_RING_CLOSED;
	/* acquire: the slot writes of the last reservations are visible */
	while (atomic_load_explicit(&r->prod.tail, memory_order_acquire) != head)
		pn_cpu_relax();
}
