/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The out-of-order queue: the received packets above a hole, kept as they
 * arrived (no copy), in sequence order, with an index of their contiguous
 * ranges. An arrival finds its place by binary search of the ranges and
 * touches only the packets it overlaps; the SACK blocks are the ranges.
 * Under reordering a connection holds hundreds of packets in tens of
 * ranges: a walk of the packets per arrival and per SACK block (what this
 * replaced) made the receiver the bottleneck, its ACKs late by
 * milliseconds and the sender's clock with them. Linux keeps an rbtree of
 * the packets for the same reason.
 *
 * The D-SACK and SACK bookkeeping of RFC 2883 and RFC 2018 lives here too.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pn_tcp_priv.h"

#define OOO_FIRST_CAP 8

void pn_tcp_dsack_note(struct pn_tcp_sock *s, uint32_t b, uint32_t e)
{
	if (!s->sack_ok || !pn_seq_lt(b, e))
		return;
	s->dsack_pending = true;
	s->dsack_b = b;
	s->dsack_e = e;
	s->ack_now = true;
}

/* @p seq arrived out of order: its block leads the next SACK option. */
static void sack_recent_note(struct pn_tcp_sock *s, uint32_t seq)
{
	unsigned n = PN_MIN((unsigned)s->nr_sack_recent, PN_TCP_MAX_SACK - 1u);

	memmove(&s->sack_recent[1], &s->sack_recent[0], n * sizeof(s->sack_recent[0]));
	s->sack_recent[0] = seq;
	s->nr_sack_recent = (uint8_t)(n + 1);
}

/* The ranges are sorted and disjoint, so both their begins and their
 * ends ascend: count the ranges before @p seq by one key or the other.
 * By end (inclusive false): the index of the first range ending at or
 * after @p seq. By begin (inclusive true): how many begin at or before. */
static unsigned ranges_before(const struct pn_tcp_sock *s, uint32_t seq, bool by_begin)
{
	unsigned lo = 0, hi = s->ooo_nr;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		bool before = by_begin ? pn_seq_le(s->ooo_rg[mid].b, seq)
				       : pn_seq_lt(s->ooo_rg[mid].e, seq);

		if (before)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static unsigned first_touching(const struct pn_tcp_sock *s, uint32_t seq)
{
	return ranges_before(s, seq, false);
}

static unsigned begun_by(const struct pn_tcp_sock *s, uint32_t seq)
{
	return ranges_before(s, seq, true);
}

int pn_tcp_ooo_find(const struct pn_tcp_sock *s, uint32_t seq)
{
	unsigned i = first_touching(s, seq);

	if (i < s->ooo_nr && pn_seq_le(s->ooo_rg[i].b, seq) && pn_seq_lt(seq, s->ooo_rg[i].e))
		return (int)i;
	return -1;
}

/* Room for one more range: the index grows by doubling up to its limit
 * (only connections that see reordering or loss have one at all). */
static bool range_room(struct pn_tcp_sock *s)
{
	unsigned cap;
	struct pn_tcp_ooo_range *rg;

	if (s->ooo_nr < s->ooo_cap)
		return true;
	if (s->ooo_cap >= PN_TCP_OOO_MAX_RANGES)
		return false;
	cap = s->ooo_cap ? s->ooo_cap * 2u : OOO_FIRST_CAP;
	rg = realloc(s->ooo_rg, cap * sizeof(*rg));
	if (rg == NULL)
		return false;
	s->ooo_rg = rg;
	s->ooo_cap = (uint16_t)cap;
	return true;
}

static void link_ends(struct pn_tcp_sock *s)
{
	s->ooo_head = s->ooo_nr ? s->ooo_rg[0].first : NULL;
	s->ooo_tail = s->ooo_nr ? s->ooo_rg[s->ooo_nr - 1].last : NULL;
}

void pn_tcp_ooo_insert(struct pn_tcp_sock *s, struct pn_pkt *pkt, uint32_t seq)
{
	struct pn_tcp *t = pn_tcp_of(s->st);
	struct pn_tcp_ooo_range *rg = s->ooo_rg, merged;
	uint32_t end = seq + pkt->len;
	unsigned i, k, cov_lo, cov_hi;
	bool left, right;
	struct pn_pkt *prev, *next;

	t->stats.ooo_segs++;
	sack_recent_note(s, seq);
	/* ranges i..k touch it (overlap or abut); none when i > k */
	i = first_touching(s, seq);
	k = begun_by(s, end);
	if (i + 1 > k) {
		/* a range of its own, between i - 1 and i */
		if (!range_room(s)) {
			t->stats.ooo_dropped++; /* not acknowledged: the peer resends it */
			pn_pkt_free(pkt);
			return;
		}
		rg = s->ooo_rg;
		prev = i ? rg[i - 1].last : NULL;
		pkt->next = prev ? prev->next : s->ooo_head;
		if (prev)
			prev->next = pkt;
		memmove(&rg[i + 1], &rg[i], (s->ooo_nr - i) * sizeof(*rg));
		rg[i] = (struct pn_tcp_ooo_range){ seq, end, pkt, pkt };
		s->ooo_nr++;
		goto linked;
	}
	k--; /* the last range touching it */
	/* its front inside (or at the end of) range i: that much is old */
	left = pn_seq_le(rg[i].b, seq);
	if (left && pn_seq_le(end, rg[i].e)) {
		t->stats.dup_data_segs++;
		pn_tcp_dsack_note(s, seq, end);
		pn_pkt_free(pkt);
		return;
	}
	if (left && pn_seq_lt(seq, rg[i].e)) {
		pn_tcp_dsack_note(s, seq, rg[i].e);
		if (pn_pkt_adj(pkt, rg[i].e - seq) != 0) {
			pn_pkt_free(pkt); /* not acknowledged: the sender repeats it */
			return;
		}
		seq = rg[i].e;
	}
	/* its tail inside (or at the start of) range k */
	right = pn_seq_le(end, rg[k].e);
	if (right && pn_seq_lt(rg[k].b, end)) {
		pn_tcp_dsack_note(s, rg[k].b, end);
		if (pn_pkt_trim(pkt, rg[k].b - seq) != 0) {
			pn_pkt_free(pkt);
			return;
		}
		end = rg[k].b;
	}
	/* the ranges between, all inside it, go: it carries their bytes */
	cov_lo = left ? i + 1 : i;
	cov_hi = right ? k : k + 1; /* exclusive */
	prev = left ? rg[i].last : (i ? rg[i - 1].last : NULL);
	next = right ? rg[k].first : (cov_hi < s->ooo_nr ? rg[cov_hi].first : NULL);
	if (cov_lo < cov_hi) {
		struct pn_pkt *q = rg[cov_lo].first, *stop = rg[cov_hi - 1].last->next;

		pn_tcp_dsack_note(s, rg[cov_hi - 1].b, rg[cov_hi - 1].e);
		while (q != stop) {
			struct pn_pkt *n = q->next;

			s->ooo_bytes -= q->len;
			q->next = NULL;
			pn_pkt_free(q);
			q = n;
		}
	}
	if (prev)
		prev->next = pkt;
	pkt->next = next;
	merged.b = left ? rg[i].b : seq;
	merged.e = right ? rg[k].e : end;
	merged.first = left ? rg[i].first : pkt;
	merged.last = right ? rg[k].last : pkt;
	/* ranges i..k become one */
	rg[i] = merged;
	memmove(&rg[i + 1], &rg[k + 1], (s->ooo_nr - k - 1) * sizeof(*rg));
	s->ooo_nr = (uint16_t)(s->ooo_nr - (k - i));
linked:
	pkt->pad = seq;
	s->ooo_bytes += pkt->len;
	pn_pkt_set_holder(pkt, PN_HOLDER(s->holder, PN_VIA_QUEUE));
	link_ends(s);
}

struct pn_pkt *pn_tcp_ooo_take_first(struct pn_tcp_sock *s, uint32_t *end)
{
	struct pn_tcp_ooo_range r;

	if (s->ooo_nr == 0 || pn_seq_gt(s->ooo_rg[0].b, s->rcv_nxt))
		return NULL;
	r = s->ooo_rg[0];
	r.last->next = NULL;
	memmove(&s->ooo_rg[0], &s->ooo_rg[1], (s->ooo_nr - 1u) * sizeof(r));
	s->ooo_nr--;
	link_ends(s);
	*end = r.e;
	return r.first;
}

void pn_tcp_ooo_purge(struct pn_tcp_sock *s)
{
	pn_pkt_free(s->ooo_head);
	s->ooo_head = s->ooo_tail = NULL;
	s->ooo_bytes = 0;
	s->ooo_nr = 0;
	free(s->ooo_rg);
	s->ooo_rg = NULL;
	s->ooo_cap = 0;
}
