/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Holder registry: small ids for whoever pages are handed to, so a
 * descriptor can say who holds it in 16 bits and a dump can name them.
 *
 * Every accepted TCP connection registers one on its stack's poll thread,
 * so registering takes no lock and costs the same however many are in
 * use: ids never used are handed out first, from a counter; an id given
 * back waits in a FIFO ring (lib/ring) behind all others, so it is reused
 * as late as possible and a page marked with it keeps naming its old
 * holder meanwhile. A full registry answers ENOSPC at once. (It used to
 * search all 65,535 under a global mutex: 0.8 ms a connection once full,
 * a third of a server's CPU in a 100,000-connection burst.)
 *
 * Labels are written and read word by word through atomics, under a
 * sequence count per entry, so a dump may read one while a poll thread
 * writes it: a label caught mid-write is read again.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pn_mem.h"
#include "pn_ring.h"

#define CHUNK 1024u /* entries allocated together, never freed */
#define LABEL_WORDS ((PN_HOLDER_LABEL_MAX + 7) / 8)

struct holder {
	_Atomic uint32_t seq; /* odd while its label is being written */
	_Atomic bool live;
	_Atomic uint64_t label[LABEL_WORDS];
};

static struct holder *_Atomic chunks[PN_HOLDER_MAX / CHUNK];
static _Atomic uint32_t never_used = 1; /* the next id not handed out yet */
static struct pn_ring *released;         /* ids given back, oldest first */
static pthread_once_t released_once = PTHREAD_ONCE_INIT;

static void released_init(void)
{
	released = pn_ring_create(PN_HOLDER_MAX, 0);
}

static struct holder *entry(uint32_t id, bool make)
{
	struct holder *_Atomic *c = &chunks[id / CHUNK];
	struct holder *h = atomic_load_explicit(c, memory_order_acquire), *fresh;

	if (h == NULL && make) {
		fresh = calloc(CHUNK, sizeof(*fresh));
		if (fresh == NULL)
			return NULL;
		if (atomic_compare_exchange_strong_explicit(c, &h, fresh, memory_order_acq_rel,
							    memory_order_acquire))
			h = fresh;
		else
			free(fresh); /* another thread's chunk won */
	}
	return h ? &h[id % CHUNK] : NULL;
}

static uint32_t take_id(void)
{
	uint32_t id = atomic_load_explicit(&never_used, memory_order_relaxed);
	void *obj;

	while (id < PN_HOLDER_MAX) {
		if (atomic_compare_exchange_weak_explicit(&never_used, &id, id + 1,
							  memory_order_relaxed, memory_order_relaxed))
			return id;
	}
	pthread_once(&released_once, released_init);
	if (released != NULL && pn_ring_dequeue(released, &obj) == 0)
		return (uint32_t)(uintptr_t)obj;
	return 0;
}

static void label_store(struct holder *h, const char *text)
{
	char buf[LABEL_WORDS * 8] = { 0 };
	uint64_t w;

	snprintf(buf, sizeof(buf), "%s", text);
	atomic_fetch_add_explicit(&h->seq, 1, memory_order_acq_rel);
	for (unsigned i = 0; i < LABEL_WORDS; i++) {
		memcpy(&w, buf + 8 * i, 8);
		atomic_store_explicit(&h->label[i], w, memory_order_release);
	}
	atomic_fetch_add_explicit(&h->seq, 1, memory_order_acq_rel);
}

/* @return whether a whole label was read (not one caught mid-write) */
static bool label_load(struct holder *h, char *out, bool *live)
{
	for (int tries = 0; tries < 100; tries++) {
		uint32_t s1 = atomic_load_explicit(&h->seq, memory_order_acquire);

		if (s1 & 1)
			continue;
		for (unsigned i = 0; i < LABEL_WORDS; i++) {
			uint64_t w = atomic_load_explicit(&h->label[i], memory_order_acquire);

			memcpy(out + 8 * i, &w, 8);
		}
		*live = atomic_load_explicit(&h->live, memory_order_acquire);
		if (atomic_load_explicit(&h->seq, memory_order_acquire) == s1) {
			out[LABEL_WORDS * 8 - 1] = '\0';
			return true;
		}
	}
	return false;
}

uint32_t pn_holder_register(const char *fmt, ...)
{
	char label[PN_HOLDER_LABEL_MAX];
	struct holder *h;
	va_list ap;
	uint32_t id;

	if (fmt == NULL) {
		errno = EINVAL;
		return 0;
	}
	id = take_id();
	if (id == 0) {
		errno = ENOSPC;
		return 0;
	}
	h = entry(id, true);
	if (h == NULL) {
		pn_holder_unregister(id); /* ...cannot be marked live: back it goes */
		errno = ENOMEM;
		return 0;
	}
	va_start(ap, fmt);
	vsnprintf(label, sizeof(label), fmt, ap);
	va_end(ap);
	label_store(h, label);
	atomic_store_explicit(&h->live, true, memory_order_release);
	return id;
}

void pn_holder_unregister(uint32_t id)
{
	struct holder *h;

	if (id == 0 || id >= PN_HOLDER_MAX)
		return;
	h = entry(id, false);
	/* an id given back twice would be handed out twice: only the first
	 * unregistering of a live id returns it */
	if (h != NULL && !atomic_exchange_explicit(&h->live, false, memory_order_acq_rel))
		return;
	pthread_once(&released_once, released_init);
	if (released != NULL)
		pn_ring_enqueue(released, (void *)(uintptr_t)id); /* room for every id */
}

const char *pn_holder_via_name(unsigned via)
{
	static const char *const names[PN_VIA_MAX] = {
		[PN_VIA_NONE] = "references",
		[PN_VIA_FILL] = "the fill ring",
		[PN_VIA_RX] = "received packets",
		[PN_VIA_TX] = "the tx ring",
		[PN_VIA_QUEUE] = "queued segments",
		[PN_VIA_ZC] = "zero-copy tokens",
		[PN_VIA_APP] = "its own label",
	};

	return via < PN_VIA_MAX ? names[via] : "?";
}

const char *pn_holder_describe(uint32_t holder, char *buf, size_t len)
{
	uint32_t id = PN_HOLDER_ID(holder);
	char label[LABEL_WORDS * 8];
	struct holder *h;
	bool live = false;

	if (id == 0) {
		snprintf(buf, len, "an unnamed holder");
		return buf;
	}
	h = entry(id, false);
	if (h == NULL || !label_load(h, label, &live) || label[0] == '\0')
		snprintf(buf, len, "holder %u", id);
	else if (PN_HOLDER_VIA(holder) == PN_VIA_APP || PN_HOLDER_VIA(holder) == PN_VIA_NONE)
		snprintf(buf, len, "%s%s", label, live ? "" : " (gone)");
	else
		snprintf(buf, len, "%s%s through %s", label, live ? "" : " (gone)",
			 pn_holder_via_name(PN_HOLDER_VIA(holder)));
	return buf;
}
