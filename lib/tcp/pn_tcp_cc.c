/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Congestion control and loss recovery: RTT samples and the RTO
 * (RFC 6298), the SACK scoreboard (RFC 2018, 6675), NewReno (RFC 5681,
 * 6582) on new and duplicate ACKs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pn_tcp_priv.h"

static void rtt_sample(struct pn_tcp_sock *s, uint32_t r_us)
{
	uint32_t min_rto = pn_tcp_of(s->st)->conf.min_rto_ms;
	uint64_t rto;

	if (r_us == 0)
		r_us = 1;
	if (s->srtt_us == 0) {
		s->srtt_us = r_us;
		s->rttvar_us = r_us / 2;
	} else {
		uint32_t d = s->srtt_us > r_us ? s->srtt_us - r_us : r_us - s->srtt_us;

		s->rttvar_us = (3 * s->rttvar_us + d) / 4;
		s->srtt_us = (7 * s->srtt_us + r_us) / 8;
	}
	rto = ((uint64_t)s->srtt_us + PN_MAX(1000u, 4u * s->rttvar_us) + 999) / 1000;
	s->rto_ms = (uint32_t)PN_MIN(PN_MAX(rto, (uint64_t)min_rto), (uint64_t)PN_TCP_MAX_RTO_MS);
}

/* The handshake's round trip (our SYN or SYN-ACK to its answer) is the
 * first sample, as Linux takes it, unless it was resent (Karn): a first
 * RTO of 1 s otherwise, until data is timed. */
void pn_tcp_handshake_rtt(struct pn_tcp_sock *s)
{
	if (s->rtt_timing && s->retries == 0)
		rtt_sample(s, (uint32_t)(pn_stack_now_us(s->st) - s->rtt_start_us));
	s->rtt_timing = false;
}

/* Merge the peer's SACK blocks. @return true when they cover new bytes. */
bool pn_tcp_sack_update(struct pn_tcp_sock *s, const struct pn_tcp_opts *o)
{
	bool grew = false;

	for (unsigned i = 0; i < o->nr_sack; i++) {
		uint32_t b = o->sack[i][0], e = o->sack[i][1];
		unsigned j, k;

		if (!pn_seq_lt(b, e) || !pn_seq_gt(e, s->snd_una) || pn_seq_gt(e, s->snd_max))
			continue; /* D-SACK, stale or bogus */
		if (pn_seq_lt(b, s->snd_una))
			b = s->snd_una;
		/* find the first range ending at or after b */
		for (j = 0; j < s->nr_sacked && pn_seq_lt(s->sacked[j][1], b); j++)
			;
		if (j < s->nr_sacked && pn_seq_le(s->sacked[j][0], b) && pn_seq_ge(s->sacked[j][1], e))
			continue; /* known already */
		grew = true;
		/* absorb every range the new one touches */
		for (k = j; k < s->nr_sacked && pn_seq_le(s->sacked[k][0], e); k++) {
			if (pn_seq_lt(s->sacked[k][0], b))
				b = s->sacked[k][0];
			if (pn_seq_gt(s->sacked[k][1], e))
				e = s->sacked[k][1];
		}
		if (k == j && s->nr_sacked == PN_DIM(s->sacked))
			continue; /* full: the highest ranges matter least */
		memmove(&s->sacked[j + 1], &s->sacked[k], (s->nr_sacked - k) * sizeof(s->sacked[0]));
		s->nr_sacked = (uint8_t)(s->nr_sacked - (k - j) + 1);
		s->sacked[j][0] = b;
		s->sacked[j][1] = e;
	}
	return grew;
}

/* Forget ranges the cumulative ACK passed. */
static void sack_trim(struct pn_tcp_sock *s)
{
	unsigned j = 0;

	while (j < s->nr_sacked && pn_seq_le(s->sacked[j][1], s->snd_una))
		j++;
	memmove(&s->sacked[0], &s->sacked[j], (s->nr_sacked - j) * sizeof(s->sacked[0]));
	s->nr_sacked = (uint8_t)(s->nr_sacked - j);
	if (s->nr_sacked && pn_seq_lt(s->sacked[0][0], s->snd_una))
		s->sacked[0][0] = s->snd_una;
}

/*
 * Retransmit the next hole: the first unacknowledged, un-SACKed bytes at or
 * above high_rxt that lie below SACKed data (so are taken for lost). Without
 * SACK information, the segment at snd_una. @return true if one was sent.
 */
static bool retransmit_hole(struct pn_tcp_sock *s)
{
	struct pn_tcp *t = pn_tcp_of(s->st);
	uint32_t seq = pn_seq_gt(s->high_rxt, s->snd_una) ? s->high_rxt : s->snd_una;
	uint32_t end = s->snd_una + s->sbuf_len, len;

	/* resend only what was sent: past snd_max is new data, which only
	 * tcp_output sends (and counts in snd_max). Sending it here left the
	 * peer's ACK for it above snd_max, to be challenged as an ACK of data
	 * never sent (RFC 5961 5.2), for good when the window the peer
	 * announced in it never got through (found by fuzz_tcp_conn) */
	if (pn_seq_gt(end, s->snd_max))
		end = s->snd_max;

	if (s->nr_sacked) {
		uint32_t top = s->sacked[s->nr_sacked - 1][1];

		for (unsigned i = 0; i < s->nr_sacked; i++) {
			if (pn_seq_le(s->sacked[i][0], seq) && pn_seq_lt(seq, s->sacked[i][1]))
				seq = s->sacked[i][1];
			else if (pn_seq_gt(s->sacked[i][0], seq)) {
				end = PN_MIN(end - seq, s->sacked[i][0] - seq) + seq;
				break;
			}
		}
		if (!pn_seq_lt(seq, top))
			return false;
	} else if (seq != s->snd_una) {
		return false;
	}
	if (!pn_seq_lt(seq, end))
		return false;
	len = PN_MIN(end - seq, (uint32_t)s->mss);
	if (pn_tcp_send_segment(s, seq, PN_TCP_F_ACK, len) != 0)
		return false;
	s->high_rxt = seq + len;
	t->stats.retrans_segs++;
	s->retrans++;
	return true;
}

/* A new ACK: release acknowledged bytes, grow the congestion window. */
void pn_tcp_ack_advance(struct pn_tcp_sock *s, uint32_t ack)
{
	uint32_t acked = ack - s->snd_una;
	uint32_t data = PN_MIN(acked, s->sbuf_len);
	bool was_full = s->sbuf_size && s->sbuf_len == s->sbuf_size;

	if (s->rtt_timing && pn_seq_gt(ack, s->rtt_seq)) {
		s->rtt_timing = false;
		rtt_sample(s, (uint32_t)(pn_stack_now_us(s->st) - s->rtt_start_us));
	}
	if (data) {
		s->sbuf_head = (s->sbuf_head + data) % s->sbuf_cap;
		s->sbuf_len -= data;
		if (s->sbuf_len == 0) {
			/* all acknowledged: the memory goes back until the
			 * next send (an idle connection costs its socket only) */
			free(s->sbuf);
			s->sbuf = NULL;
			s->sbuf_cap = 0;
			s->sbuf_head = 0;
		}
	}
	if (acked > data && s->fin_queued)
		s->fin_acked = true;
	s->snd_una = ack;
	if (pn_seq_lt(s->snd_nxt, s->snd_una))
		s->snd_nxt = s->snd_una;
	sack_trim(s);
	s->backoff = 0;
	s->retries = 0;
	/* congestion control: NewReno */
	if (s->in_recovery) {
		if (pn_seq_ge(ack, s->recover)) {
			s->in_recovery = false;
			s->cwnd = PN_MIN(s->ssthresh, pn_tcp_flight(s) + s->mss);
		} else {
			/* partial ACK: the next hole is lost too */
			retransmit_hole(s);
			s->cwnd = s->cwnd > data ? s->cwnd - data + s->mss : s->mss;
		}
	} else {
		s->cc->cong_avoid(s, acked);
	}
	s->dupacks = 0;
	s->lt_extra = 0;
	if (s->snd_una == s->snd_max)
		pn_timer_cancel(&s->rtx);
	else
		pn_tcp_arm_rtx(s);
	if (data && (was_full || s->sbuf_size - s->sbuf_len >= s->sbuf_size / 4))
		pn_tcp_event(s, PN_TCP_EV_WRITABLE);
}

void pn_tcp_dup_ack(struct pn_tcp_sock *s)
{
	struct pn_tcp *t = pn_tcp_of(s->st);

	t->stats.dup_acks_in++;
	if (s->in_recovery) {
		s->cwnd += s->mss; /* inflation: one segment left the network */
		retransmit_hole(s); /* with SACK, each dupack may repair one more */
		return;
	}
	uint32_t segs = (pn_tcp_flight(s) + s->mss - 1) / s->mss;
	uint32_t unsent = s->sbuf_len > pn_tcp_flight(s) ? s->sbuf_len - pn_tcp_flight(s) : 0;
	unsigned thresh = 3;

	/* RFC 5827 early retransmit: too little in flight for three
	 * duplicates, and nothing new to send that would make them */
	if (s->sack_ok && segs < 4 && (unsent == 0 || s->snd_wnd <= pn_tcp_flight(s)))
		thresh = segs > 1 ? segs - 1 : 1;
	if (++s->dupacks < thresh) {
		/* RFC 3042 limited transmit: one new segment per early dupack
		 * keeps the ACK clock going */
		s->lt_extra = s->dupacks * s->mss;
		pn_tcp_output(s);
		return;
	}
	if (pn_seq_lt(s->snd_una, s->recover)) {
		/* still resending after an RTO: a hole the SACKs show is lost
		 * again is repaired now rather than by the next timeout */
		if (s->nr_sacked)
			retransmit_hole(s);
		return;
	}
	if (s->dupacks != thresh)
		return;
	s->lt_extra = 0;
	/* RFC 6582: fast retransmit unless this loss is part of the last recovery */
	t->stats.fast_retrans++;
	s->ssthresh = s->cc->ssthresh(s);
	s->recover = s->snd_max;
	s->in_recovery = true;
	s->rtt_timing = false;
	s->high_rxt = s->snd_una;
	retransmit_hole(s);
	s->cwnd = s->ssthresh + 3u * s->mss;
}

/* ---- NewReno (RFC 5681, 6582) */

static void newreno_init(struct pn_tcp_sock *s)
{
	s->cwnd = PN_TCP_INIT_CWND_SEGS * s->mss; /* RFC 6928 */
	s->ssthresh = UINT32_MAX / 2;
}

/* RFC 5681 eq. 4: half of what is in flight, at least two segments */
static uint32_t newreno_ssthresh(struct pn_tcp_sock *s)
{
	return PN_MAX(pn_tcp_flight(s) / 2, 2u * s->mss);
}

static void newreno_cong_avoid(struct pn_tcp_sock *s, uint32_t acked)
{
	if (s->cwnd < s->ssthresh) /* slow start, ABC with L = 2 (RFC 3465) */
		s->cwnd += PN_MIN(acked, 2u * s->mss);
	else /* about one segment per window's worth of ACKs */
		s->cwnd += PN_MAX(1u, (uint32_t)((uint64_t)s->mss * PN_MIN(acked, s->mss) / s->cwnd));
}

const struct pn_tcp_cc_ops pn_tcp_newreno = {
	.name = "newreno",
	.init = newreno_init,
	.ssthresh = newreno_ssthresh,
	.cong_avoid = newreno_cong_avoid,
};
