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
	bool spsc = (flags & PN_RING_F_ALL) == PN_RING_F_ALL;

	bytes = PN_ALIGN_UP(sizeof(*r) + (size_t)count * (spsc ? sizeof(void *)
								 : sizeof(struct pn_ring_slot)),
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
	r->spsc = spsc;
	if (!spsc)
		for (uint32_t i = 0; i < count; i++)
			atomic_init(&pn_ring_slot(r, i)->seq, i);
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
	if (r->spsc)
		return; /* closed while its one producer is idle (see the header) */
	/* every position below head was claimed; one whose slot still reads
	 * as free for it is being written now: wait for its publication
	 * (acquire: then its pointer is visible to our dequeues) */
	for (uint64_t pos = head > r->size ? head - r->size : 0; pos < head; pos++)
		while (atomic_load_explicit(&pn_ring_slot(r, pos)->seq, memory_order_acquire) == pos)
			pn_cpu_relax();
}
