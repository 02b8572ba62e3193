/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "pn_csum.h"
#include "pn_pkt_priv.h"

void pn_pkt_shinfo_release(struct pn_pkt_shinfo *sh)
{
	for (unsigned i = 0; i < sh->nr_frags; i++)
		pkt_frag_release(&sh->frags[i]);
	sh->nr_frags = 0;
}

/* Pages pn_pkt_free_bulk() gives back on a thread that is not their
 * pool's owner, a pool at a time (the owner recycles each at once). */
struct page_batch {
	struct pn_pool *pool;
	int tid;
	unsigned n;
	struct pn_frame *f[64];
};

static void batch_flush(struct page_batch *b)
{
	if (b->n)
		pn_pool_recycle_bulk(b->pool, b->f, b->n);
	b->n = 0;
}

static inline void batch_shinfo_put(struct page_batch *b, struct pn_pkt_shinfo *sh)
{
	struct pn_pool *p;
	struct pn_frame *back;

	if (!pn_pkt_shinfo_unref(sh))
		return;
	back = pn_pool_frag_release(sh->frame, sh, &p);
	if (back == NULL)
		return;
	if (pn_pool_is_owner(p, b->tid)) {
		pn_pool_recycle(p, back);
		return;
	}
	if (p != b->pool || b->n == PN_DIM(b->f)) {
		batch_flush(b);
		b->pool = p;
	}
	b->f[b->n++] = back;
}

void pn_pkt_free_bulk(struct pn_pkt *const *pkts, unsigned n)
{
	struct page_batch b = { .pool = NULL, .tid = pn_thread_id(), .n = 0 };

	for (unsigned i = 0; i < n; i++) {
		for (struct pn_pkt *pkt = pkts[i], *next; pkt != NULL; pkt = next) {
			struct pn_pkt_shinfo *own = pn_pkt_own_shinfo(pkt);

			pn_pkt_assert_live(own);
			next = pkt->next;
			if (pn_unlikely(pkt->shinfo != own))
				batch_shinfo_put(&b, pkt->shinfo);
			batch_shinfo_put(&b, own);
		}
	}
	batch_flush(&b);
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
		 * own shares go when its last user frees it (the page_pool fragment thread) */
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
		/* everything after the linear part goes; no fragments, no write:
		 * the shinfo may be shared with a clone (then it has none) */
		if (sh->nr_frags) {
			for (unsigned i = 0; i < sh->nr_frags; i++)
				pkt_frag_release(&sh->frags[i]);
			sh->nr_frags = 0;
		}
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

/* Drop fragment i of @sh (already emptied) and close the gap. */
static void frag_remove(struct pn_pkt_shinfo *sh, unsigned i)
{
	pkt_frag_release(&sh->frags[i]);
	memmove(&sh->frags[i], &sh->frags[i + 1],
		sizeof(sh->frags[0]) * (sh->nr_frags - i - 1u));
	sh->nr_frags--;
}

/* The fragments are about to change: they must be this packet's alone. */
static int frags_private(struct pn_pkt *pkt)
{
	return pn_pkt_cloned(pkt) ? pn_pkt_expand_head(pkt, 0, 0) : 0;
}

int pn_pkt_adj(struct pn_pkt *pkt, uint32_t n)
{
	uint32_t k = PN_MIN(n, pn_pkt_headlen(pkt));
	struct pn_pkt_shinfo *sh;
	int rc;

	if (n > pkt->len)
		return -EINVAL;
	if (n > k && (rc = frags_private(pkt)) != 0)
		return rc;
	pkt->data += k;
	pkt->len -= n;
	pkt->pkt_len -= n;
	n -= k;
	pkt->data_len -= n;
	sh = pkt->shinfo;
	while (n > 0) {
		struct pn_pkt_frag *fr = &sh->frags[0];

		if (n >= fr->len) {
			n -= fr->len;
			frag_remove(sh, 0);
		} else {
			fr->off += n;
			fr->len = (uint16_t)(fr->len - n);
			n = 0;
		}
	}
	return 0;
}

int pn_pkt_pull_tail_slow(struct pn_pkt *pkt, uint32_t n)
{
	uint32_t headlen = pn_pkt_headlen(pkt), need, room;
	struct pn_pkt_shinfo *sh;
	uint8_t *tail;
	int rc;

	/* slow path: headers spill into the fragments */
	if (n > pkt->len)
		return -EINVAL;
	if ((rc = frags_private(pkt)) != 0)
		return rc;
	need = n - headlen;
	room = pkt->end - pn_pkt_headroom(pkt) - headlen;
	if (need > room)
		return -EMSGSIZE;
	sh = pkt->shinfo;
	tail = pkt->data + headlen;
	pkt->data_len -= need;
	while (need > 0) {
		struct pn_pkt_frag *fr = &sh->frags[0];
		uint32_t m = PN_MIN(need, (uint32_t)fr->len);

		memcpy(tail, fr->frame->addr + fr->off, m);
		tail += m;
		need -= m;
		if (m == fr->len) {
			frag_remove(sh, 0);
		} else {
			fr->off += m;
			fr->len = (uint16_t)(fr->len - m);
		}
	}
	return 0;
}

unsigned pn_pkt_pieces(const struct pn_pkt *pkt, struct pn_pkt_piece *pieces, unsigned max)
{
	const struct pn_pkt_shinfo *sh = pkt->shinfo;
	uint32_t headlen = pn_pkt_headlen(pkt);
	unsigned n = 0;

	if (headlen) {
		if (n < max)
			pieces[n] = (struct pn_pkt_piece){ pkt->data, headlen, sh->frame };
		n++;
	}
	for (unsigned i = 0; i < sh->nr_frags; i++, n++) {
		const struct pn_pkt_frag *fr = &sh->frags[i];

		if (n < max)
			pieces[n] = (struct pn_pkt_piece){ fr->frame->addr + fr->off, fr->len, fr->frame };
	}
	return n;
}

/* Fold a running sum to 16 bits, not complemented. */
static uint16_t csum_fold16(uint64_t sum)
{
	return (uint16_t)~pn_csum_fold(sum);
}

uint64_t pn_pkt_csum_add(const struct pn_pkt *pkt, uint32_t off, uint32_t len, uint64_t sum)
{
	struct pn_pkt_piece pc[PN_PKT_MAX_FRAGS + 1];
	unsigned n = pn_pkt_pieces(pkt, pc, PN_DIM(pc));
	uint32_t pos = 0; /* bytes summed so far: their parity decides the swap */

	if ((uint64_t)off + len > pkt->len)
		return sum;
	for (unsigned i = 0; i < n && len; i++) {
		uint32_t m;
		uint64_t s;

		if (off >= pc[i].len) {
			off -= pc[i].len;
			continue;
		}
		m = PN_MIN(len, pc[i].len - off);
		s = pn_csum_add(0, pc[i].base + off, m);
		if (pos & 1) {
			uint16_t f = csum_fold16(s);

			s = (uint16_t)((f << 8) | (f >> 8));
		}
		sum += s;
		pos += m;
		len -= m;
		off = 0;
	}
	return sum;
}

int pn_pkt_flatten(struct pn_pkt *pkt)
{
	struct pn_pkt_piece pc[PN_PKT_MAX_FRAGS + 1];
	unsigned need = pkt->shinfo->nr_frags;
	struct pn_pkt *seg, *next;
	int rc;

	if (pkt->next == NULL)
		return 0;
	for (seg = pkt->next; seg != NULL; seg = seg->next)
		need += pn_pkt_pieces(seg, pc, 0);
	if (need > PN_PKT_MAX_FRAGS)
		return -ENOSPC;
	if ((rc = frags_private(pkt)) != 0)
		return rc;
	for (seg = pkt->next; seg != NULL; seg = next) {
		unsigned n = pn_pkt_pieces(seg, pc, PN_DIM(pc));
		uint32_t headlen = pn_pkt_headlen(seg);

		next = seg->next;
		for (unsigned i = 0; i < n; i++) {
			struct pn_pkt_shinfo *sh = pkt->shinfo;
			struct pn_pkt_frag fr = {
				.frame = pc[i].frame,
				.off = (uint32_t)(pc[i].base - pc[i].frame->addr),
				.len = (uint16_t)pc[i].len,
				.kind = PN_PKT_FRAG_REF,
			};

			if (i == 0 && headlen && pn_pkt_cloned(seg)) {
				/* a linear part others share: its owner may write it
				 * once they let go, which a page reference would not
				 * stop, so it is copied (fragments are never written) */
				struct pn_frame *f;
				uint8_t *b = pn_pool_alloc_frag(pn_pkt_pool(pkt), headlen, &f);

				if (b == NULL)
					return -ENOMEM;
				memcpy(b, pc[i].base, headlen);
				fr = (struct pn_pkt_frag){ .frame = f, .off = (uint32_t)(b - f->addr),
							   .len = (uint16_t)headlen,
							   .kind = PN_PKT_FRAG_SHARE };
			} else {
				pn_frame_get(pc[i].frame);
			}
			sh->frags[sh->nr_frags++] = fr;
			pkt->len += pc[i].len;
			pkt->data_len += pc[i].len;
		}
		pkt->next = next; /* the segment is taken: a failure later leaves a valid chain */
		pkt->nb_segs--;
		pn_pkt_free_seg(seg);
	}
	pkt->nb_segs = 1;
	pkt->pkt_len = pkt->len;
	return 0;
}
