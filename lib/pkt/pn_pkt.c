/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "pn_pkt_priv.h"

void pn_pkt_shinfo_release(struct pn_pkt_shinfo *sh)
{
	for (unsigned i = 0; i < sh->nr_frags; i++)
		pkt_frag_release(&sh->frags[i]);
	sh->nr_frags = 0;
}

static struct pn_pkt *clone_seg(struct pn_pkt *pkt)
{
	struct pn_pkt *c = pn_pkt_alloc(pn_pkt_pool(pkt));

	if (c == NULL)
		return NULL;
	/* the clone's own shinfo keeps refcnt 1 for its struct; the data's
	 * shinfo gains one for the clone's data reference */
	*c = *pkt;
	c->next = NULL;
	/* relaxed: the caller's reference keeps the shinfo alive */
	atomic_fetch_add_explicit(&pkt->shinfo->refcnt, 1, memory_order_relaxed);
	return c;
}

struct pn_pkt *pn_pkt_clone(struct pn_pkt *pkt)
{
	struct pn_pkt *first = NULL, *last = NULL;

	for (struct pn_pkt *seg = pkt; seg != NULL; seg = seg->next) {
		struct pn_pkt *c = clone_seg(seg);

		if (c == NULL) {
			pn_pkt_free(first);
			return NULL;
		}
		if (last)
			last->next = c;
		else
			first = c;
		last = c;
	}
	return first;
}

int pn_pkt_expand_head(struct pn_pkt *pkt, uint32_t nhead, uint32_t ntail)
{
	struct pn_pkt_shinfo *old = pkt->shinfo;
	struct pn_pkt_shinfo *own = pn_pkt_own_shinfo(pkt);
	struct pn_pkt_shinfo *sh;
	struct pn_pool *pool = pn_pkt_pool(pkt);
	struct pn_frame *frame;
	uint32_t headlen = pn_pkt_headlen(pkt);
	uint32_t room = pool->frag_size - (uint32_t)PN_PKT_HDR_SIZE;
	uint32_t headroom = PN_MAX(nhead, pn_pkt_headroom(pkt));
	uint8_t *buf, *head;

	if ((uint64_t)headroom + headlen + ntail > room)
		return -EMSGSIZE;
	buf = pn_pool_alloc_frag(pool, pool->frag_size, &frame);
	if (buf == NULL)
		return -ENOMEM;
	/* the new buffer's struct area stays unused: its shinfo refcnt of 1
	 * is this packet's data reference */
	sh = (struct pn_pkt_shinfo *)buf;
	atomic_store_explicit(&sh->refcnt, 1, memory_order_relaxed);
	sh->frame = frame;
	sh->nr_frags = old->nr_frags;
	head = buf + PN_PKT_HDR_SIZE;
	memcpy(head + headroom, pkt->data, headlen);

	if (old == own && atomic_load_explicit(&old->refcnt, memory_order_acquire) == 1) {
		/* nobody shares the fragments: move them */
		memcpy(sh->frags, old->frags, sizeof(old->frags[0]) * old->nr_frags);
		old->nr_frags = 0;
	} else {
		/* shared: keep the pages by plain reference; the old shinfo's
		 * own shares go when its last user frees it (seed 001) */
		for (unsigned i = 0; i < old->nr_frags; i++) {
			sh->frags[i] = old->frags[i];
			sh->frags[i].kind = PN_PKT_FRAG_REF;
			pn_frame_get(old->frags[i].frame);
		}
	}
	pkt->shinfo = sh;
	pkt->data = head + headroom;
	pkt->end = room;
	/* our own buffer stays referenced by our struct; a foreign one is
	 * dropped */
	if (old != own)
		pn_pkt_shinfo_put(old);
	return 0;
}

int pn_pkt_trim(struct pn_pkt *pkt, uint32_t len)
{
	uint32_t headlen = pn_pkt_headlen(pkt);
	struct pn_pkt_shinfo *sh;
	uint32_t pos;
	unsigned keep = 0;

	if (len > pkt->len)
		return -EINVAL;
	if (len == pkt->len)
		return 0;
	if (pkt->shinfo->nr_frags && pn_pkt_cloned(pkt)) {
		int rc = pn_pkt_expand_head(pkt, 0, 0);

		if (rc < 0)
			return rc;
	}
	sh = pkt->shinfo;
	pkt->pkt_len -= pkt->len - len;
	if (len <= headlen) {
		/* everything after the linear part goes */
		for (unsigned i = 0; i < sh->nr_frags; i++)
			pkt_frag_release(&sh->frags[i]);
		sh->nr_frags = 0;
		pkt->len = len;
		pkt->data_len = 0;
		return 0;
	}
	pos = headlen;
	for (unsigned i = 0; i < sh->nr_frags; i++) {
		struct pn_pkt_frag *fr = &sh->frags[i];

		if (pos >= len) {
			pkt_frag_release(fr);
			continue;
		}
		if (pos + fr->len > len)
			fr->len = (uint16_t)(len - pos);
		pos += fr->len;
		keep = i + 1;
	}
	sh->nr_frags = (uint16_t)keep;
	pkt->data_len = len - headlen;
	pkt->len = len;
	return 0;
}

int pn_pkt_add_frag(struct pn_pkt *pkt, struct pn_frame *frame, uint32_t off,
		    uint16_t len, enum pn_pkt_frag_kind kind)
{
	struct pn_pkt_shinfo *sh = pkt->shinfo;

	if (pn_pkt_cloned(pkt))
		return -EBUSY;
	if (sh->nr_frags >= PN_PKT_MAX_FRAGS)
		return -ENOSPC;
	sh->frags[sh->nr_frags++] = (struct pn_pkt_frag){
		.frame = frame, .off = off, .len = len, .kind = (uint16_t)kind,
	};
	pkt->len += len;
	pkt->data_len += len;
	pkt->pkt_len += len;
	return 0;
}

void pn_pkt_chain(struct pn_pkt *head, struct pn_pkt *tail)
{
	struct pn_pkt *last = head;

	while (last->next != NULL)
		last = last->next;
	last->next = tail;
	head->nb_segs = (uint16_t)(head->nb_segs + tail->nb_segs);
	head->pkt_len += tail->pkt_len;
}

int pn_pkt_copy_bits(const struct pn_pkt *pkt, uint32_t off, void *dst,
		     uint32_t len)
{
	uint8_t *out = dst;

	for (const struct pn_pkt *seg = pkt; seg != NULL && len; seg = seg->next) {
		uint32_t headlen = pn_pkt_headlen(seg);

		if (off < headlen) {
			uint32_t n = PN_MIN(len, headlen - off);

			memcpy(out, seg->data + off, n);
			out += n;
			len -= n;
			off = 0;
		} else {
			off -= headlen;
		}
		for (unsigned i = 0; i < seg->shinfo->nr_frags && len; i++) {
			const struct pn_pkt_frag *fr = &seg->shinfo->frags[i];

			if (off < fr->len) {
				uint32_t n = PN_MIN(len, fr->len - off);

				memcpy(out, fr->frame->addr + fr->off + off, n);
				out += n;
				len -= n;
				off = 0;
			} else {
				off -= fr->len;
			}
		}
	}
	return len ? -EINVAL : 0;
}
