/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <pthread.h>

#include "pn_mem_priv.h"

/* APP destructor: the application released the last reference; queue the
 * frame on its region's refill queue (docs/design.md §3). The ring is sized for every
 * frame of the region, so the enqueue cannot fail. */
static void app_frame_dtor(struct pn_frame *f)
{
	struct pn_region *r = pn_frame_region(f);
	int rc = pn_ring_enqueue(r->refill, f);

	PN_DEBUG_ASSERT(rc == 0, "refill queue full");
	(void)rc;
}

/* A frame of a type nobody registered: safest is to return it to its region
 * rather than leak it. */
static void default_frame_dtor(struct pn_frame *f)
{
	pn_region_free(pn_frame_region(f), &f, 1);
}

pn_frame_dtor_t pn_frame_dtors[PN_MT_MAX] = {
	[PN_MT_APP] = app_frame_dtor,
};

static pthread_mutex_t dtor_lock = PTHREAD_MUTEX_INITIALIZER;

void pn_frame_release(struct pn_frame *f)
{
	pn_frame_dtor_t fn = pn_frame_dtors[pn_frame_type(f)];

	PN_DEBUG_ASSERT(pn_frame_type(f) != PN_MT_FREE, "final put on a free frame");
	PN_DEBUG_ASSERT(pn_frame_type(f) != PN_MT_OFFLINE, "final put on an offline frame");
	if (pn_likely(fn != NULL))
		fn(f);
	else
		default_frame_dtor(f);
}

int pn_frame_dtor_register(unsigned type, pn_frame_dtor_t fn)
{
	int rc = 0;

	if (type < PN_MT_USER0 || type >= PN_MT_MAX || fn == NULL)
		return -EINVAL;
	pthread_mutex_lock(&dtor_lock);
	if (pn_frame_dtors[type] != NULL)
		rc = -EEXIST;
	else
		pn_frame_dtors[type] = fn;
	pthread_mutex_unlock(&dtor_lock);
	return rc;
}

int pn_frame_dtor_unregister(unsigned type)
{
	if (type < PN_MT_USER0 || type >= PN_MT_MAX)
		return -EINVAL;
	pthread_mutex_lock(&dtor_lock);
	pn_frame_dtors[type] = NULL;
	pthread_mutex_unlock(&dtor_lock);
	return 0;
}
