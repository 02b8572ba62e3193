/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Loss recovery: what an acknowledgment says about the segments in flight,
 * and what to do about the ones that went missing.
 *
 *  - RTT samples from the records of the segments an ACK delivers (Karn:
 *    never from a retransmitted one), the RTO of RFC 6298 with its
 *    configurable minimum.
 *  - The SACK scoreboard (RFC 2018, 6675) on the records; D-SACK (RFC
 *    2883) read to find retransmissions that were not needed.
 *  - RACK (RFC 8985): a segment is lost once one sent after it has been
 *    delivered and a reordering window has passed since. The window
 *    adapts: D-SACK widens it, sixteen quiet recoveries reset it. A lost
 *    retransmission is found the same way, without waiting for a timeout.
 *  - TLP (RFC 8985 7): when the tail of a flight is lost, a probe about two
 *    round trips later draws the SACK that starts fast recovery, instead of
 *    a timeout hundreds of milliseconds away.
 *  - Fast recovery paced by Proportional Rate Reduction (RFC 6937), the
 *    window at ssthresh when it ends.
 *  - Retransmission timeouts, with F-RTO (RFC 5682, the SACK version) and
 *    timestamps (RFC 3522) to tell a spurious one. A response shown to be
 *    spurious (F-RTO, timestamps, every retransmission D-SACKed) gives the
 *    window back.
 *  - Peers without SACK: three duplicate ACKs and NewReno's partial ACKs
 *    (RFC 6582) mark the losses.
 *
 * How large the window is belongs to the congestion control module
 * (pn_tcp_cc.h); this file says when it is asked.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pn_tcp_priv.h"

#define DUPTHRESH 3u
#define RACK_RECOVERY_THRESH 16 /* quiet recoveries before the window resets */
#define MIN_RTT_WINDOW_US (300ull * 1000000) /* as Linux's tcp_min_rtt_wlen */
#define TLP_MIN_US 2000u /* Linux's TCP_TIMEOUT_MIN: two ticks */

/* What one ACK delivered, gathered while its parts are read. */
struct ack_ctx {
	uint32_t prior_snd_una, prior_in_flight, prior_sacked, prior_fack;
	uint32_t newly_lost;
	uint64_t oldest_xmit_us; /* of the never-retransmitted records delivered */
	uint32_t tsecr;
	bool has_ts, have_rtt;
	bool una_advanced, dupack, dsack, dsack_tlp;
	bool orig_delivered; /* data never retransmitted was (S)ACKed */
};

/* ---- round-trip time and the RTO (RFC 6298) */

void pn_tcp_rtt_sample(struct pn_tcp_sock *s, uint32_t r_us)
{
	uint32_t min_rto = pn_tcp_of(s->st)->conf.min_rto_ms;
	uint64_t now = pn_stack_now_us(s->st), rto;

	if (r_us == 0)
		r_us = 1;
	if (s->min_rtt_us == 0 || r_us <= s->min_rtt_us || now - s->min_rtt_stamp_us > MIN_RTT_WINDOW_US) {
		s->min_rtt_us = r_us;
		s->min_rtt_stamp_us = now;
	}
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
		pn_tcp_rtt_sample(s, (uint32_t)(pn_stack_now_us(s->st) - s->rtt_start_us));
	s->rtt_timing = false;
}

/* ---- RACK (RFC 8985 6) */

/* Was (t1, seq1) sent after (t2, seq2)? Sequence breaks a tie of clocks. */
static inline bool sent_after(uint64_t t1, uint32_t seq1, uint64_t t2, uint32_t seq2)
{
	return t1 > t2 || (t1 == t2 && pn_seq_gt(seq1, seq2));
}

/* 6.2 steps 2 and 3 for a record just delivered. */
static void rack_delivered(struct pn_tcp_sock *s, const struct pn_tcp_txseg *r, struct ack_ctx *a,
			   uint64_t now)
{
	uint32_t rtt = (uint32_t)(now - r->xmit_us);

	if (!(r->flags & PN_TXSEG_EVER_RETRANS)) {
		/* F-RTO's sign: sent before the timeout, never resent, and
		 * delivered now (Linux's FLAG_ORIG_SACK_ACKED) */
		if (pn_seq_le(r->end, s->high_seq))
			a->orig_delivered = true;
		if (!a->have_rtt || r->xmit_us < a->oldest_xmit_us)
			a->oldest_xmit_us = r->xmit_us;
		a->have_rtt = true;
		/* delivered below what an earlier ACK showed delivered,
		 * never resent: the network reordered it */
		if (pn_seq_lt(r->seq, a->prior_fack) && !s->reordering_seen) {
			s->reordering_seen = true;
			pn_tcp_of(s->st)->stats.reordering_seen++;
		}
	}
	if (pn_seq_gt(r->end, s->rack_fack))
		s->rack_fack = r->end;
	if (r->flags & PN_TXSEG_EVER_RETRANS) {
		/* which transmission arrived? Not this retransmission if the
		 * echoed timestamp is older, nor if it came back faster than
		 * any round trip could */
		if (a->has_ts && pn_seq_lt(a->tsecr, (uint32_t)(r->xmit_us / 1000)))
			return;
		if (rtt < s->min_rtt_us)
			return;
	}
	if (s->rack_valid && !sent_after(r->xmit_us, r->end, s->rack_xmit_us, s->rack_end))
		return;
	s->rack_rtt_us = rtt;
	s->rack_xmit_us = r->xmit_us;
	s->rack_end = r->end;
	s->rack_valid = true;
}

/* 6.2 step 4: the reordering window, widened a step per round trip that
 * brought D-SACK, back to one step after 16 recoveries without. */
static void rack_update_reo_wnd(struct pn_tcp_sock *s, const struct ack_ctx *a)
{
	if (s->rack_dsack_round_set && pn_seq_ge(s->snd_una, s->rack_dsack_round))
		s->rack_dsack_round_set = false;
	if (!s->rack_dsack_round_set && a->dsack) {
		s->rack_dsack_round = s->snd_nxt;
		s->rack_dsack_round_set = true;
		if (s->reo_wnd_mult < 255)
			s->reo_wnd_mult++;
		s->reo_wnd_persist = RACK_RECOVERY_THRESH;
	}
}

static uint32_t rack_reo_wnd(const struct pn_tcp_sock *s)
{
	if (!s->reordering_seen) {
		if (s->ca >= PN_TCP_CA_RECOVERY)
			return 0;
		if (s->sacked_bytes >= DUPTHRESH * s->mss)
			return 0;
	}
	return PN_MIN(s->min_rtt_us / 4 * s->reo_wnd_mult, s->srtt_us);
}

static void loss_timer_arm(struct pn_tcp_sock *s, uint8_t kind, uint64_t after_us)
{
	uint64_t at = (pn_stack_now_us(s->st) + after_us + 999) / 1000;

	s->loss_tm_kind = kind;
	pn_timer_arm(pn_stack_wheel(s->st), &s->loss_tm, at);
}

static void loss_timer_cancel(struct pn_tcp_sock *s)
{
	s->loss_tm_kind = PN_TCP_LT_NONE;
	pn_timer_cancel(&s->loss_tm);
}

/* 6.2 step 5: mark what RACK takes for lost; a record not yet due arms
 * the reordering timer. @return bytes newly taken for lost. */
static uint32_t rack_detect_loss(struct pn_tcp_sock *s, uint64_t now)
{
	struct pn_tcp *t = pn_tcp_of(s->st);
	uint32_t reo = rack_reo_wnd(s), lost = 0;
	uint64_t wait = 0;

	if (!s->rack_valid)
		return 0;
	for (uint32_t i = 0; i < s->txq_len; i++) {
		struct pn_tcp_txseg *r = pn_tcp_txq_at(s, i);
		uint64_t since, due;

		if (r->flags & PN_TXSEG_SACKED)
			continue;
		if ((r->flags & (PN_TXSEG_LOST | PN_TXSEG_RETRANS)) == PN_TXSEG_LOST)
			continue; /* taken for lost, not resent yet */
		if (!sent_after(s->rack_xmit_us, s->rack_end, r->xmit_us, r->end)) {
			/* sent after the delivered one: too early to say. Above
			 * every retransmission, records go out in sequence
			 * order, so none after this one can be due either */
			if (!(r->flags & PN_TXSEG_EVER_RETRANS) && pn_seq_ge(r->seq, s->rtx_high))
				break;
			continue;
		}
		since = now - r->xmit_us;
		due = (uint64_t)s->rack_rtt_us + reo;
		if (since >= due) {
			if (r->flags & PN_TXSEG_RETRANS)
				t->stats.lost_retrans++;
			pn_tcp_txq_mark_lost(s, r);
			lost += r->end - r->seq;
			t->stats.rack_lost++;
		} else if (due - since > wait) {
			wait = due - since;
		}
	}
	if (wait)
		loss_timer_arm(s, PN_TCP_LT_REO, wait);
	else if (s->loss_tm_kind == PN_TCP_LT_REO)
		loss_timer_cancel(s);
	return lost;
}

/* ---- undoing a response that was not needed */

static void init_undo(struct pn_tcp_sock *s)
{
	s->undo_ok = true;
	s->undo_marker = s->snd_una;
	s->undo_retrans = 0;
	s->retrans_tsval = 0;
}

/* the slow-start threshold to go back to (Linux's tcp_current_ssthresh) */
static uint32_t current_ssthresh(const struct pn_tcp_sock *s)
{
	return PN_MAX(s->cc.ssthresh, s->cc.cwnd / 4 * 3);
}

/* The timestamp the peer echoes is older than our first retransmission:
 * the original transmission got there (RFC 3522). */
static bool packet_delayed(const struct pn_tcp_sock *s, const struct ack_ctx *a)
{
	return s->retrans_tsval && a->has_ts && a->tsecr && pn_seq_lt(a->tsecr, s->retrans_tsval);
}

static bool may_undo(const struct pn_tcp_sock *s, const struct ack_ctx *a)
{
	return s->undo_ok && (s->undo_retrans == 0 || packet_delayed(s, a));
}

static void undo(struct pn_tcp_sock *s, bool unmark_lost)
{
	if (unmark_lost)
		for (uint32_t i = 0; i < s->txq_len; i++)
			pn_tcp_txq_unmark_lost(s, pn_tcp_txq_at(s, i));
	pn_tcp_cc_undo(s);
	s->undo_ok = false;
}

static void ca_open(struct pn_tcp_sock *s)
{
	s->ca = s->sacked_bytes || s->lost_bytes ? PN_TCP_CA_DISORDER : PN_TCP_CA_OPEN;
}

/* every retransmission of the last response D-SACKed: give it back */
static bool try_undo_dsack(struct pn_tcp_sock *s)
{
	if (!s->undo_ok || s->undo_retrans || s->lost_bytes)
		return false;
	undo(s, false);
	pn_tcp_of(s->st)->stats.undo_recoveries++;
	if (s->ca == PN_TCP_CA_RECOVERY) {
		ca_open(s);
		pn_tcp_cc_event(s, PN_TCP_CC_EV_RECOVERED);
	}
	return true;
}

/* ---- fast recovery with PRR (RFC 6937) */

static void enter_recovery(struct pn_tcp_sock *s)
{
	struct pn_tcp *t = pn_tcp_of(s->st);

	init_undo(s);
	s->prior_cwnd = s->cc.cwnd;
	s->prior_ssthresh = current_ssthresh(s);
	pn_tcp_cc_ssthresh(s);
	pn_tcp_cc_event(s, PN_TCP_CC_EV_RECOVERY);
	s->ca = PN_TCP_CA_RECOVERY;
	s->high_seq = s->snd_nxt;
	s->prr_delivered = 0;
	s->prr_out = 0;
	s->tlp_out = false;
	t->stats.fast_retrans++;
}

/* cwnd for what this ACK delivered: proportional while more is in flight
 * than ssthresh, then slow start up to it (PRR-SSRB). Whole segments, as
 * Linux counts them. */
static void prr(struct pn_tcp_sock *s, uint32_t delivered, const struct ack_ctx *a)
{
	uint32_t in_flight = pn_tcp_in_flight(s), ssthresh = s->cc.ssthresh, mss = s->mss;
	int64_t sndcnt;

	s->prr_delivered += delivered;
	if (in_flight > ssthresh) {
		uint64_t d = (uint64_t)ssthresh * s->prr_delivered + s->prior_cwnd - 1;

		sndcnt = (int64_t)(d / PN_MAX(s->prior_cwnd, 1u)) - s->prr_out;
	} else {
		sndcnt = PN_MAX((int64_t)s->prr_delivered - s->prr_out, (int64_t)delivered);
		if (a->una_advanced && !a->newly_lost)
			sndcnt += mss;
		sndcnt = PN_MIN((int64_t)(ssthresh - in_flight), sndcnt);
	}
	if (sndcnt < 0)
		sndcnt = 0;
	sndcnt = (sndcnt + mss - 1) / mss * mss;
	if (s->prr_out == 0 && sndcnt < mss)
		sndcnt = mss; /* the fast retransmit goes at once */
	s->cc.cwnd = in_flight + (uint32_t)sndcnt;
}

static void recovery_end(struct pn_tcp_sock *s, const struct ack_ctx *a)
{
	struct pn_tcp *t = pn_tcp_of(s->st);

	if (s->reo_wnd_persist && --s->reo_wnd_persist == 0)
		s->reo_wnd_mult = 1;
	if (may_undo(s, a)) {
		undo(s, false);
		t->stats.undo_recoveries++;
	} else if (s->cc.ssthresh < UINT32_MAX / 2) {
		s->cc.cwnd = PN_MAX(s->cc.ssthresh, (uint32_t)s->mss);
	}
	ca_open(s);
	pn_tcp_cc_event(s, PN_TCP_CC_EV_RECOVERED);
}

/* ---- retransmission timeouts, F-RTO */

void pn_tcp_enter_loss(struct pn_tcp_sock *s)
{
	bool new_recovery = s->ca < PN_TCP_CA_RECOVERY;

	if (s->ca <= PN_TCP_CA_DISORDER || !pn_seq_lt(s->snd_una, s->high_seq) ||
	    (s->ca == PN_TCP_CA_LOSS && s->retries <= 1)) {
		s->prior_cwnd = s->cc.cwnd;
		s->prior_ssthresh = current_ssthresh(s);
		pn_tcp_cc_ssthresh(s);
		pn_tcp_cc_event(s, PN_TCP_CC_EV_LOSS);
		init_undo(s);
	}
	/* everything not SACKed is taken for lost (RFC 6675 5.1 keeps the
	 * scoreboard; reneging peers are rare) and resent from one segment */
	for (uint32_t i = 0; i < s->txq_len; i++)
		pn_tcp_txq_mark_lost(s, pn_tcp_txq_at(s, i));
	s->ca = PN_TCP_CA_LOSS;
	s->high_seq = s->snd_nxt;
	s->cc.cwnd = pn_tcp_in_flight(s) + s->mss;
	s->frto = new_recovery || s->retries > 1;
	s->frto_new = false;
	s->tlp_out = false;
	s->dupacks = 0;
	s->reno_sacked = 0;
	s->rtt_timing = false;
	loss_timer_cancel(s);
}

/* An ACK after a timeout (Linux's tcp_process_loss): F-RTO's steps, then
 * the end of the repair. */
static void process_loss(struct pn_tcp_sock *s, struct ack_ctx *a)
{
	struct pn_tcp *t = pn_tcp_of(s->st);
	bool recovered = !pn_seq_lt(s->snd_una, s->high_seq);

	if (a->una_advanced && may_undo(s, a)) {
		undo(s, true); /* timestamps: the original had arrived */
		t->stats.spurious_rto++;
		s->frto = s->frto_new = false;
		ca_open(s);
		pn_tcp_cc_event(s, PN_TCP_CC_EV_RECOVERED);
		return;
	}
	if (s->frto) {
		/* 3.b: data never resent was (S)ACKed: not all was lost, the
		 * timeout was spurious */
		if (a->orig_delivered) {
			undo(s, true);
			t->stats.spurious_rto++;
			s->frto = s->frto_new = false;
			ca_open(s);
			pn_tcp_cc_event(s, PN_TCP_CC_EV_RECOVERED);
			return;
		}
		if (pn_seq_gt(s->snd_nxt, s->high_seq)) {
			/* 3.a: new data went out (2.b); a SACK or duplicate
			 * ACK for it says the loss was real */
			if (a->dupack || s->sacked_bytes > a->prior_sacked) {
				s->frto = false;
				s->frto_new = false;
			}
		} else if (a->una_advanced && !recovered) {
			/* 2.b: send new data rather than resending, if there
			 * is any the peer's window takes */
			uint32_t off = s->snd_nxt - s->snd_una;

			s->high_seq = s->snd_nxt;
			if (s->sbuf_len > off && pn_seq_gt(s->snd_una + s->snd_wnd, s->snd_nxt)) {
				s->frto_new = true;
				return;
			}
			s->frto = false;
		}
	}
	if (recovered) {
		s->frto = s->frto_new = false;
		if (may_undo(s, a)) {
			undo(s, true);
			t->stats.spurious_rto++;
		}
		ca_open(s);
		pn_tcp_cc_event(s, PN_TCP_CC_EV_RECOVERED);
	}
}

/* ---- tail loss probes (RFC 8985 7) */

void pn_tcp_schedule_probe(struct pn_tcp_sock *s)
{
	struct pn_tcp *t = pn_tcp_of(s->st);
	uint64_t pto, now_ms = pn_stack_now_ms(s->st);

	if (s->ca != PN_TCP_CA_OPEN || !s->sack_ok || s->txq_len == 0 || s->tlp_out ||
	    s->state < PN_TCP_ESTABLISHED)
		return;
	if (pn_timer_armed(&s->loss_tm) && s->loss_tm_kind == PN_TCP_LT_REO)
		return;
	if (s->srtt_us) {
		pto = 2ull * s->srtt_us + TLP_MIN_US;
		/* a single segment may wait for the peer's delayed ACK */
		if (s->snd_nxt - s->snd_una <= s->mss)
			pto += (uint64_t)t->conf.min_rto_ms * 1000;
	} else {
		pto = 1000000;
	}
	/* never after the RTO */
	if (pn_timer_armed(&s->rtx) && s->rtx.expires > now_ms &&
	    (s->rtx.expires - now_ms) * 1000 < pto)
		pto = (s->rtx.expires - now_ms) * 1000;
	loss_timer_arm(s, PN_TCP_LT_TLP, pto);
}

static void probe_fire(struct pn_tcp_sock *s)
{
	struct pn_tcp *t = pn_tcp_of(s->st);

	if (s->ca != PN_TCP_CA_OPEN || s->txq_len == 0 || s->tlp_out)
		return;
	if (pn_tcp_output_probe(s)) {
		s->tlp_retrans = false; /* new data probes */
	} else {
		/* nothing new to send: the last segment again */
		struct pn_tcp_txseg *r = NULL;

		for (uint32_t i = s->txq_len; i-- > 0;) {
			if (!(pn_tcp_txq_at(s, i)->flags & PN_TXSEG_SACKED)) {
				r = pn_tcp_txq_at(s, i);
				break;
			}
		}
		if (r == NULL || pn_tcp_retransmit(s, r) != 0)
			return;
		s->tlp_retrans = true;
	}
	s->tlp_out = true;
	s->tlp_end = s->snd_nxt;
	t->stats.tlp_probes++;
	pn_tcp_arm_rtx(s);
}

/* What the ACK says of an outstanding probe (Linux's tcp_process_tlp_ack). */
static void probe_acked(struct pn_tcp_sock *s, const struct pn_tcp_seg *g, const struct ack_ctx *a)
{
	if (!s->tlp_out || pn_seq_lt(g->ack, s->tlp_end))
		return;
	if (!s->tlp_retrans || a->dsack_tlp) {
		s->tlp_out = false; /* new data, or the probe was a duplicate */
	} else if (pn_seq_gt(g->ack, s->tlp_end)) {
		/* the probe repaired a loss: the window shrinks, as for
		 * any loss, without the rest of a recovery */
		pn_tcp_cc_ssthresh(s);
		s->cc.cwnd = PN_MIN(s->cc.cwnd, PN_MAX(s->cc.ssthresh, (uint32_t)s->mss));
		s->tlp_out = false;
		pn_tcp_of(s->st)->stats.tlp_recoveries++;
	} else if (!a->una_advanced && s->sacked_bytes == a->prior_sacked) {
		s->tlp_out = false; /* a pure duplicate ACK: both arrived */
	}
}

void pn_tcp_loss_timer_fn(struct pn_timer *tm)
{
	struct pn_tcp_sock *s = pn_container_of(tm, struct pn_tcp_sock, loss_tm);
	uint8_t kind = s->loss_tm_kind;

	s->loss_tm_kind = PN_TCP_LT_NONE;
	if (s->txq_len == 0 || s->state < PN_TCP_ESTABLISHED)
		return;
	if (kind == PN_TCP_LT_TLP) {
		probe_fire(s);
		return;
	}
	if (kind != PN_TCP_LT_REO || !s->sack_ok)
		return;
	/* RACK's reordering window passed (Linux's tcp_rack_reo_timeout) */
	if (rack_detect_loss(s, pn_stack_now_us(s->st)) == 0)
		return;
	if (s->ca < PN_TCP_CA_RECOVERY) {
		struct ack_ctx a = { .newly_lost = 1 };

		enter_recovery(s);
		prr(s, 0, &a);
	}
	pn_tcp_output(s);
}

/* ---- an ACK */

/* D-SACK (RFC 2883 4): the first block below the cumulative ACK, or inside
 * the second. A retransmission the peer already had is one fewer to hold
 * the last response in place. */
static bool dsack_read(struct pn_tcp_sock *s, const struct pn_tcp_seg *g, struct ack_ctx *a)
{
	const struct pn_tcp_opts *o = &g->o;
	uint32_t b = o->sack[0][0], e = o->sack[0][1];

	if (!pn_seq_lt(b, e))
		return false;
	if (!pn_seq_lt(b, g->ack) &&
	    !(o->nr_sack > 1 && pn_seq_ge(b, o->sack[1][0]) && pn_seq_le(e, o->sack[1][1])))
		return false;
	pn_tcp_of(s->st)->stats.dsack_in++;
	a->dsack = true;
	if (s->tlp_out && s->tlp_retrans && e == s->tlp_end)
		a->dsack_tlp = true;
	if (!pn_seq_gt(e, a->prior_snd_una)) {
		/* below what was acknowledged before: the records are gone */
		if (s->undo_ok && s->undo_retrans && pn_seq_gt(e, s->undo_marker))
			s->undo_retrans--;
		return true;
	}
	for (uint32_t i = pn_tcp_txq_lower(s, b); i < s->txq_len; i++) {
		struct pn_tcp_txseg *r = pn_tcp_txq_at(s, i);

		if (!pn_seq_lt(r->seq, e))
			break;
		if ((r->flags & PN_TXSEG_EVER_RETRANS) && s->undo_ok && s->undo_retrans)
			s->undo_retrans--;
	}
	return true;
}

/* Mark the records a SACK block covers whole. */
static void sack_tag(struct pn_tcp_sock *s, uint32_t b, uint32_t e, struct ack_ctx *a, uint64_t now)
{
	for (uint32_t i = pn_tcp_txq_lower(s, b); i < s->txq_len; i++) {
		struct pn_tcp_txseg *r = pn_tcp_txq_at(s, i);

		if (pn_seq_gt(r->end, e))
			break;
		if (pn_seq_lt(r->seq, b) || (r->flags & PN_TXSEG_SACKED))
			continue;
		pn_tcp_txq_sacked(s, r);
		rack_delivered(s, r, a, now);
	}
}

static void sack_input(struct pn_tcp_sock *s, const struct pn_tcp_seg *g, struct ack_ctx *a, uint64_t now)
{
	const struct pn_tcp_opts *o = &g->o;
	unsigned first = dsack_read(s, g, a) ? 1 : 0;

	for (unsigned i = first; i < o->nr_sack; i++) {
		uint32_t b = o->sack[i][0], e = o->sack[i][1];

		/* bogus or stale: empty, all below snd_una, or past what was sent */
		if (!pn_seq_lt(b, e) || !pn_seq_gt(e, s->snd_una) || pn_seq_gt(e, s->snd_nxt) ||
		    e - b > s->snd_nxt - s->snd_una)
			continue;
		if (pn_seq_lt(b, s->snd_una))
			b = s->snd_una;
		sack_tag(s, b, e, a, now);
	}
}

/* The cumulative acknowledgment moved to @p ack: the send buffer and the
 * records below it go. */
static void ack_advance(struct pn_tcp_sock *s, uint32_t ack, struct ack_ctx *a, uint64_t now)
{
	uint32_t acked = ack - s->snd_una;
	uint32_t data = PN_MIN(acked, s->sbuf_len);
	bool was_full = s->sbuf_size && s->sbuf_len == s->sbuf_size;

	while (s->txq_len) {
		struct pn_tcp_txseg *r = pn_tcp_txq_at(s, 0);

		if (pn_seq_gt(r->end, ack)) {
			if (pn_seq_lt(r->seq, ack))
				pn_tcp_txq_trim_head(s, ack); /* partly acknowledged */
			break;
		}
		if (!(r->flags & PN_TXSEG_SACKED))
			rack_delivered(s, r, a, now);
		pn_tcp_txq_drop_head(s);
	}
	if (data) {
		s->sbuf_head = (s->sbuf_head + data) % s->sbuf_cap;
		s->sbuf_len -= data;
	}
	if (acked > data && s->fin_queued)
		s->fin_acked = true;
	s->snd_una = ack;
	if (pn_seq_lt(s->rtx_high, ack))
		s->rtx_high = ack; /* never more than the window behind */
	if (s->sbuf_len == 0 && s->txq_len == 0) {
		/* all acknowledged: the memory goes back until the next send
		 * (an idle connection costs its socket only) */
		free(s->sbuf);
		s->sbuf = NULL;
		s->sbuf_cap = 0;
		s->sbuf_head = 0;
		pn_tcp_txq_free(s);
	}
	if (s->reno_sacked)
		s->reno_sacked = s->reno_sacked > acked ? s->reno_sacked - acked : 0;
	s->backoff = 0;
	s->retries = 0;
	a->una_advanced = true;
	if (s->snd_una == s->snd_nxt)
		pn_timer_cancel(&s->rtx);
	else
		pn_tcp_arm_rtx(s); /* RFC 6298 5.3 */
	/* send buffer autotuning (Linux's tcp_sndbuf_expand): the
	 * application filled the buffer while the window was open: twice the
	 * congestion window, up to sndbuf_max */
	if (was_full && pn_tcp_in_flight(s) < s->cc.cwnd) {
		uint32_t want = (uint32_t)PN_MIN(2ull * s->cc.cwnd,
						 (uint64_t)pn_tcp_of(s->st)->conf.sndbuf_max);

		if (want > s->sbuf_size)
			s->sbuf_size = want;
	}
	if (data && (was_full || s->sbuf_size - s->sbuf_len >= s->sbuf_size / 4))
		pn_tcp_event(s, PN_TCP_EV_WRITABLE);
}

/* A peer without SACK: duplicate ACKs and partial ACKs mark the head. */
static uint32_t reno_detect_loss(struct pn_tcp_sock *s, struct ack_ctx *a)
{
	struct pn_tcp_txseg *head = s->txq_len ? pn_tcp_txq_at(s, 0) : NULL;
	uint32_t out = s->snd_nxt - s->snd_una;

	if (a->una_advanced)
		s->dupacks = 0;
	if (a->dupack) {
		s->dupacks++;
		/* each duplicate says a segment left the network */
		if (s->reno_sacked + s->mss < out)
			s->reno_sacked += s->mss;
	}
	if (head == NULL || (head->flags & (PN_TXSEG_LOST | PN_TXSEG_RETRANS)))
		return 0;
	if ((s->ca <= PN_TCP_CA_DISORDER && s->dupacks >= DUPTHRESH) ||
	    (s->ca == PN_TCP_CA_RECOVERY && a->una_advanced)) {
		pn_tcp_txq_mark_lost(s, head);
		return head->end - head->seq;
	}
	return 0;
}

void pn_tcp_ack_rcvd(struct pn_tcp_sock *s, const struct pn_tcp_seg *g, bool dup)
{
	struct pn_tcp *t = pn_tcp_of(s->st);
	uint64_t now = pn_stack_now_us(s->st);
	struct ack_ctx a = {
		.prior_snd_una = s->snd_una,
		.prior_in_flight = pn_tcp_in_flight(s),
		.prior_sacked = s->sacked_bytes,
		.prior_fack = s->rack_fack,
		.has_ts = g->o.has_ts && s->ts_ok,
		.tsecr = g->o.tsecr,
	};
	struct pn_tcp_cc_ack ca = { .prior_in_flight = a.prior_in_flight };
	uint32_t delivered;
	bool grow;

	if (pn_seq_lt(a.prior_fack, s->snd_una)) /* all below snd_una is delivered */
		a.prior_fack = s->rack_fack = s->snd_una;

	if (s->sack_ok && g->o.nr_sack)
		sack_input(s, g, &a, now);
	if (pn_seq_gt(g->ack, s->snd_una)) {
		ack_advance(s, g->ack, &a, now);
	} else if (dup && g->ack == s->snd_una && s->snd_una != s->snd_nxt) {
		a.dupack = true;
		t->stats.dup_acks_in++;
	}
	ca.acked = s->snd_una - a.prior_snd_una;
	ca.sacked = s->sacked_bytes > a.prior_sacked ? s->sacked_bytes - a.prior_sacked : 0;
	/* RFC 6937's DeliveredData: what snd_una moved plus what the SACKed
	 * bytes grew (they shrink when acknowledged, already counted) */
	delivered = (uint32_t)PN_MAX((int64_t)ca.acked + s->sacked_bytes - a.prior_sacked, 0);
	if (a.have_rtt) {
		ca.rtt_us = (uint32_t)PN_MAX(now - a.oldest_xmit_us, 1u);
		pn_tcp_rtt_sample(s, ca.rtt_us);
	}
	probe_acked(s, g, &a);
	if (a.dsack)
		rack_update_reo_wnd(s, &a);
	if (s->sack_ok)
		a.newly_lost = rack_detect_loss(s, now);
	else
		a.newly_lost = reno_detect_loss(s, &a);

	grow = false;
	switch (s->ca) {
	case PN_TCP_CA_LOSS:
		process_loss(s, &a);
		grow = true; /* slow start repairs a timeout */
		break;
	case PN_TCP_CA_RECOVERY:
		if (a.dsack && try_undo_dsack(s))
			break;
		if (!pn_seq_lt(s->snd_una, s->high_seq))
			recovery_end(s, &a);
		else
			prr(s, delivered, &a);
		break;
	default:
		if (a.dsack)
			try_undo_dsack(s);
		if (s->lost_bytes) {
			enter_recovery(s);
			prr(s, delivered, &a);
		} else {
			ca_open(s);
			grow = true;
		}
		break;
	}
	if (ca.acked || ca.sacked) {
		/* grow only a window that limited the sender (Linux's
		 * tcp_is_cwnd_limited: in slow start, up to twice what was
		 * in flight) */
		grow = grow && ca.acked &&
		       (s->cwnd_limited ||
			(s->cc.cwnd < s->cc.ssthresh && s->cc.cwnd < 2 * s->round_max_flight));
		pn_tcp_cc_on_ack(s, &ca, grow);
	}
	if (s->txq_len == 0)
		loss_timer_cancel(s);
	else if (!(pn_timer_armed(&s->loss_tm) && s->loss_tm_kind == PN_TCP_LT_REO))
		pn_tcp_schedule_probe(s);
}

/* ---- bookkeeping the output path asks for */

void pn_tcp_on_retransmit(struct pn_tcp_sock *s, uint32_t len)
{
	if (s->undo_ok) {
		s->undo_retrans++;
		if (s->retrans_tsval == 0)
			s->retrans_tsval = pn_tcp_ts_now(s->st) ? pn_tcp_ts_now(s->st) : 1;
	}
	if (s->ca == PN_TCP_CA_RECOVERY)
		s->prr_out += len;
}

void pn_tcp_cwnd_restart(struct pn_tcp_sock *s, uint64_t now_us)
{
	uint64_t idle = now_us - s->last_send_us, rto_us = (uint64_t)PN_MAX(s->rto_ms, 1u) * 1000;
	uint32_t restart = PN_MIN(PN_TCP_INIT_CWND_SEGS * (uint32_t)s->mss, s->cc.cwnd);
	uint64_t halvings = idle / rto_us;

	pn_tcp_cc_event(s, PN_TCP_CC_EV_IDLE_RESTART);
	s->cc.ssthresh = current_ssthresh(s);
	s->cc.cwnd = PN_MAX(halvings >= 32 ? 0 : s->cc.cwnd >> halvings, restart);
}

void pn_tcp_cc_start(struct pn_tcp_sock *s)
{
	memset(s->cc.priv, 0, sizeof(s->cc.priv));
	s->cc.cwnd = PN_TCP_INIT_CWND_SEGS * s->mss; /* RFC 6928 */
	s->cc.ssthresh = UINT32_MAX / 2;
	s->reo_wnd_mult = 1;
	pn_tcp_cc_sync(s);
	if (s->cc.ops->init)
		s->cc.ops->init(&s->cc);
}
