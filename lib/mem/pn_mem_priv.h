/* SPDX-License-Identifier: BSD-3-Clause */
/* Internal to lib/mem: the region object. */
#ifndef PN_MEM_PRIV_H
#define PN_MEM_PRIV_H

#include <pthread.h>

#include "pn_mem.h"
#include "pn_ring.h"

struct pn_region {
	/* read by address lookups on any thread; immutable after create */
	uint8_t *base;
	size_t len;
	struct pn_frame *frames;
	uint32_t nr_frames;
	unsigned index;
	int numa_node;
	enum pn_region_backing backing;
	size_t map_len; /* bytes mmap()ed, for munmap; 0 for APP */
	void *map_base;
	char name[32];

	/* APP destructor target: frames the application released */
	struct pn_ring *refill;

	/* slow path, under lock */
	pthread_mutex_t lock;
	uint32_t free_head[PN_MAX_ORDER + 1]; /* index + 1, 0 = empty */
	/* per frame: order + 1 while it heads a free block, else 0. Private to
	 * the region and read only under its lock: a merge looks at its buddy,
	 * which may be a frame in use whose descriptor its owner is writing */
	uint8_t *free_order;
	uint32_t nr_free;                     /* frames, all orders */
	_Atomic uint32_t pins;
#ifdef PN_DEBUG
	/* fragment identity: per frame, a "covered" and a "starts here" word,
	 * one bit per 64-byte slot (pn_frag_track_*) */
	_Atomic uint64_t *frag_bits;
#endif
};

/* Build the static frame descriptors for [base, base + len). */
int pn_region_init_frames(struct pn_region *r);

#endif /* PN_MEM_PRIV_H */
