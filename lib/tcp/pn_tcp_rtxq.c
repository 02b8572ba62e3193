/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The retransmission queue: a record per segment sent and not yet
 * acknowledged, in sequence order, in a ring allocated with the send
 * buffer and freed with it. A record knows when it last left and whether
 * the peer holds it (SACK), it is taken for lost, or a retransmission of it
 * is in flight; three byte counts over the records give RFC 6675's pipe
 * without walking them (as Linux's sacked_out, lost_out, retrans_out).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pn_tcp_priv.h"

/* Records for a full send buffer of full segments, and some for runts
 * (a segment cut short by the peer's window or by a FIN). */
static uint32_t txq_cap_for(const struct pn_tcp_sock *s)
{
	uint32_t want = s->sbuf_size / PN_MAX(s->mss, (uint16_t)64) + 16, cap = 16;

	while (cap < want)
		cap *= 2;
	return cap;
}

bool pn_tcp_txq_room(struct pn_tcp_sock *s)
{
	uint32_t cap = txq_cap_for(s);
	struct pn_tcp_txseg *q;

	if (s->txq && s->txq_len <= s->txq_mask)
		return true;
	if (s->txq && cap <= s->txq_mask + 1)
		return false; /* full, and as large as the send buffer wants */
	/* first use, or the send buffer grew: a larger ring, in order */
	q = malloc(cap * sizeof(*q));
	if (q == NULL)
		return false;
	for (uint32_t i = 0; i < s->txq_len; i++)
		q[i] = *pn_tcp_txq_at(s, i);
	free(s->txq);
	s->txq = q;
	s->txq_mask = cap - 1;
	s->txq_head = 0;
	return s->txq_len < cap;
}

void pn_tcp_txq_free(struct pn_tcp_sock *s)
{
	free(s->txq);
	s->txq = NULL;
	s->txq_len = s->txq_head = s->txq_mask = 0;
	s->sacked_bytes = s->lost_bytes = s->retrans_bytes = 0;
	s->reno_sacked = 0;
}

void pn_tcp_txq_sent(struct pn_tcp_sock *s, uint32_t seq, uint32_t end, bool fin, uint64_t now_us)
{
	struct pn_tcp_txseg *r = &s->txq[(s->txq_head + s->txq_len) & s->txq_mask];

	r->seq = seq;
	r->end = end;
	r->xmit_us = now_us;
	r->flags = fin ? PN_TXSEG_FIN : 0;
	s->txq_len++;
}

/* the index of the first record ending after @p seq (txq_len: none) */
uint32_t pn_tcp_txq_lower(const struct pn_tcp_sock *s, uint32_t seq)
{
	uint32_t lo = 0, hi = s->txq_len;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (pn_seq_le(pn_tcp_txq_at(s, mid)->end, seq))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static inline uint32_t seg_len(const struct pn_tcp_txseg *r) { return r->end - r->seq; }

void pn_tcp_txq_mark_lost(struct pn_tcp_sock *s, struct pn_tcp_txseg *r)
{
	if (r->flags & PN_TXSEG_SACKED)
		return;
	if (r->flags & PN_TXSEG_RETRANS) { /* the retransmission is lost too */
		r->flags &= (uint8_t)~PN_TXSEG_RETRANS;
		s->retrans_bytes -= seg_len(r);
	}
	if (!(r->flags & PN_TXSEG_LOST)) {
		r->flags |= PN_TXSEG_LOST;
		s->lost_bytes += seg_len(r);
	}
}

void pn_tcp_txq_unmark_lost(struct pn_tcp_sock *s, struct pn_tcp_txseg *r)
{
	if (r->flags & PN_TXSEG_LOST) {
		r->flags &= (uint8_t)~PN_TXSEG_LOST;
		s->lost_bytes -= seg_len(r);
	}
}

void pn_tcp_txq_sacked(struct pn_tcp_sock *s, struct pn_tcp_txseg *r)
{
	pn_tcp_txq_unmark_lost(s, r);
	if (r->flags & PN_TXSEG_RETRANS) {
		r->flags &= (uint8_t)~PN_TXSEG_RETRANS;
		s->retrans_bytes -= seg_len(r);
	}
	r->flags |= PN_TXSEG_SACKED;
	s->sacked_bytes += seg_len(r);
}

void pn_tcp_txq_retransmitted(struct pn_tcp_sock *s, struct pn_tcp_txseg *r, uint64_t now_us)
{
	if (!(r->flags & PN_TXSEG_RETRANS))
		s->retrans_bytes += seg_len(r);
	r->flags |= PN_TXSEG_RETRANS | PN_TXSEG_EVER_RETRANS;
	r->xmit_us = now_us;
	if (pn_seq_gt(r->end, s->rtx_high))
		s->rtx_high = r->end;
}

/* @p n acknowledged bytes of a record marked @p flags leave the counts
 * the marks put them in. */
static void uncount(struct pn_tcp_sock *s, uint8_t flags, uint32_t n)
{
	if (flags & PN_TXSEG_SACKED)
		s->sacked_bytes -= n;
	if (flags & PN_TXSEG_LOST)
		s->lost_bytes -= n;
	if (flags & PN_TXSEG_RETRANS)
		s->retrans_bytes -= n;
}

/* The head record goes (cumulatively acknowledged): its bytes leave
 * every count they were in. */
void pn_tcp_txq_drop_head(struct pn_tcp_sock *s)
{
	struct pn_tcp_txseg *r = pn_tcp_txq_at(s, 0);

	uncount(s, r->flags, seg_len(r));
	s->txq_head = (s->txq_head + 1) & s->txq_mask;
	s->txq_len--;
}

/* The head record is acknowledged up to @p ack, which falls inside it. */
void pn_tcp_txq_trim_head(struct pn_tcp_sock *s, uint32_t ack)
{
	struct pn_tcp_txseg *r = pn_tcp_txq_at(s, 0);

	uncount(s, r->flags, ack - r->seq);
	r->seq = ack;
}
