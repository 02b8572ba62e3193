/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Holder registry: small ids for whoever pages are handed to, so a
 * descriptor can say who holds it in 16 bits and a dump can name them.
 * Control path only (register at queue/socket set-up, read by dumps); the
 * data path just stores an id it was given.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pn_mem.h"

#define CHUNK 1024u /* entries allocated together, never freed */

struct holder {
	bool live;
	char label[PN_HOLDER_LABEL_MAX];
};

static struct holder *chunks[PN_HOLDER_MAX / CHUNK];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t cursor; /* the last id handed out: the next search starts after it */

static struct holder *entry(uint32_t id, bool make)
{
	struct holder **c = &chunks[id / CHUNK];

	if (*c == NULL && make)
		*c = calloc(CHUNK, sizeof(**c));
	return *c ? &(*c)[id % CHUNK] : NULL;
}

uint32_t pn_holder_register(const char *fmt, ...)
{
	va_list ap;
	uint32_t id = 0;

	if (fmt == NULL) {
		errno = EINVAL;
		return 0;
	}
	pthread_mutex_lock(&lock);
	for (uint32_t n = 1; n < PN_HOLDER_MAX; n++) {
		uint32_t cand = (cursor + n) % PN_HOLDER_MAX;
		struct holder *h;

		if (cand == 0)
			continue;
		h = entry(cand, true);
		if (h == NULL)
			break; /* out of memory */
		if (!h->live) {
			h->live = true;
			va_start(ap, fmt);
			vsnprintf(h->label, sizeof(h->label), fmt, ap);
			va_end(ap);
			cursor = id = cand;
			break;
		}
	}
	pthread_mutex_unlock(&lock);
	if (id == 0)
		errno = ENOSPC;
	return id;
}

void pn_holder_unregister(uint32_t id)
{
	struct holder *h;

	if (id == 0 || id >= PN_HOLDER_MAX)
		return;
	pthread_mutex_lock(&lock);
	h = entry(id, false);
	if (h != NULL)
		h->live = false;
	pthread_mutex_unlock(&lock);
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
	struct holder *h;

	if (id == 0) {
		snprintf(buf, len, "an unnamed holder");
		return buf;
	}
	pthread_mutex_lock(&lock);
	h = entry(id, false);
	if (h == NULL || h->label[0] == '\0')
		snprintf(buf, len, "holder %u", id);
	else if (PN_HOLDER_VIA(holder) == PN_VIA_APP || PN_HOLDER_VIA(holder) == PN_VIA_NONE)
		snprintf(buf, len, "%s%s", h->label, h->live ? "" : " (gone)");
	else
		snprintf(buf, len, "%s%s through %s", h->label, h->live ? "" : " (gone)",
			 pn_holder_via_name(PN_HOLDER_VIA(holder)));
	pthread_mutex_unlock(&lock);
	return buf;
}
