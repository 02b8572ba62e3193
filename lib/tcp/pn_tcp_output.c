/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sending: the receive window we advertise, segments built from the
 * send buffer with their options, ACKs (delayed, challenge), RSTs, the
 * retransmission timer's arming, and the output loop that sends what the
 * windows allow.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pn_tcp_priv.h"

/* ---- receive window */

uint32_t pn_tcp_rcv_space(const struct pn_tcp_sock *s)
{
	uint32_t used = s->rq_bytes + s->ooo_bytes + s->zc_held;

	return used >= s->rcvbuf ? 0 : s->rcvbuf - used;
}

/* Right edge we may accept up to: what we advertised or what we have. */
uint32_t pn_tcp_rcv_edge(const struct pn_tcp_sock *s)
{
	uint32_t a = s->rcv_nxt + pn_tcp_rcv_space(s);

	return pn_seq_gt(s->rcv_adv, a) ? s->rcv_adv : a;
}

/* Window field for an outgoing segment (never shrinks the right edge,
 * receiver-side silly window avoidance). */
static uint16_t select_window(struct pn_tcp_sock *s)
{
	uint32_t space = pn_tcp_rcv_space(s), cur = 0, wnd, field;

	if (pn_seq_gt(s->rcv_adv, s->rcv_nxt))
		cur = s->rcv_adv - s->rcv_nxt;
	if (space <= cur)
		wnd = cur;
	else if (space - cur < s->mss && space < s->rcvbuf / 2)
		wnd = cur; /* do not announce a sliver */
	else
		wnd = space;
	field = (wnd + (1u << s->rcv_wscale) - 1) >> s->rcv_wscale;
	if (field > 0xffff)
		field = 0xffff;
	if (pn_seq_gt(s->rcv_nxt + (field << s->rcv_wscale), s->rcv_adv))
		s->rcv_adv = s->rcv_nxt + (field << s->rcv_wscale);
	if (field == 0)
		pn_tcp_of(s->st)->stats.zero_window_adv++;
	return (uint16_t)field;
}

/* ---- segment output */

/*
 * The options of a SYN or SYN-ACK, each word-aligned as Linux lays them
 * out: MSS; SACK-permitted with the timestamps (or NOPs); window scale
 * after a NOP. Without timestamps the SACK option still takes a whole
 * word: an unpadded one made the header 2 bytes short and cut the
 * window scale option in half (a peer without timestamps, as Windows by
 * default, could not parse our SYN-ACK). @return the byte after them.
 */
static uint8_t *pn_tcp_opt_syn(uint8_t *o, uint16_t mss, bool sack, bool ts, uint32_t tsval,
			       uint32_t tsecr, bool ws, uint8_t wscale)
{
	o = pn_tcp_opt_mss(o, mss);
	if (ts)
		o = pn_tcp_opt_ts(sack ? pn_tcp_opt_sackp(o) : pn_tcp_opt_nops(o, 2), tsval, tsecr);
	else if (sack)
		o = pn_tcp_opt_sackp(pn_tcp_opt_nops(o, 2));
	if (ws)
		o = pn_tcp_opt_ws(pn_tcp_opt_nops(o, 1), wscale);
	return o;
}

/*
 * SACK blocks for an ACK (RFC 2018 4, RFC 2883): a pending D-SACK first,
 * then the block holding the most recent arrival, then the blocks of the
 * arrivals before it, most recent first; any room left goes to the
 * highest other blocks. @return blocks written to @p blk (pairs).
 */
static bool blk_has(const uint32_t *blk, unsigned n, uint32_t b)
{
	for (unsigned i = 0; i < n; i++)
		if (blk[2 * i] == b)
			return true;
	return false;
}

/*
 * SACK blocks for an ACK (RFC 2018 4, RFC 2883): a pending D-SACK first,
 * then the range holding the most recent arrival, then the ranges of the
 * arrivals before it, most recent first; room left goes to the highest
 * other ranges. @return blocks written to @p blk (pairs).
 */
static unsigned sack_blocks(struct pn_tcp_sock *s, uint32_t *blk, unsigned max)
{
	unsigned out = 0, first;

	if (s->dsack_pending && max) {
		blk[0] = s->dsack_b;
		blk[1] = s->dsack_e;
		out = 1;
		s->dsack_pending = false;
		pn_tcp_of(s->st)->stats.dsack_out++;
	}
	first = out;
	for (unsigned k = 0; k < s->nr_sack_recent && out < max; k++) {
		int i = pn_tcp_ooo_find(s, s->sack_recent[k]);

		if (i >= 0 && !blk_has(blk + 2 * first, out - first, s->ooo_rg[i].b)) {
			blk[2 * out] = s->ooo_rg[i].b;
			blk[2 * out + 1] = s->ooo_rg[i].e;
			out++;
		}
	}
	for (unsigned i = s->ooo_nr; i-- > 0 && out < max;) {
		if (!blk_has(blk + 2 * first, out - first, s->ooo_rg[i].b)) {
			blk[2 * out] = s->ooo_rg[i].b;
			blk[2 * out + 1] = s->ooo_rg[i].e;
			out++;
		}
	}
	return out;
}

/* Copy @p len bytes at offset @p off of the send buffer. */
static void sbuf_copy(const struct pn_tcp_sock *s, uint32_t off, uint8_t *dst, uint32_t len)
{
	uint32_t pos = (s->sbuf_head + off) % s->sbuf_cap;
	uint32_t first = PN_MIN(len, s->sbuf_cap - pos);

	memcpy(dst, s->sbuf + pos, first);
	if (first < len)
		memcpy(dst + first, s->sbuf, len - first);
}

struct sbuf_fill {
	const struct pn_tcp_sock *s;
	uint32_t off; /* of the segment's first byte in the send buffer */
};

static void sbuf_fill_fn(void *arg, uint32_t off, uint8_t *dst, uint32_t n)
{
	const struct sbuf_fill *f = arg;

	sbuf_copy(f->s, f->off + off, dst, n);
}

/*
 * Build and send one segment: @p len payload bytes from the send buffer
 * at sequence @p seq. @return 0 or -ENOMEM.
 */
int pn_tcp_send_segment(struct pn_tcp_sock *s, uint32_t seq, uint8_t flags, uint32_t len)
{
	struct pn_stack *st = s->st;
	struct pn_tcp *t = pn_tcp_of(st);
	struct pn_pkt *pkt;
	/* 40 bytes are used at most (fit below); the rest is room GCC wants
	 * before it believes that of the SACK writer's loop */
	uint8_t opt[PN_TCP_MAX_OPTLEN + 24], *o = opt;
	struct pn_tcp_hdr *th;
	unsigned optlen, hlen;
	uint16_t csum;

	if (flags & PN_TCP_F_SYN) {
		bool syn = s->state == PN_TCP_SYN_SENT;

		o = pn_tcp_opt_syn(o, pn_tcp_mss_for(st, &s->rip), syn || s->sack_ok,
				   syn || s->ts_ok, pn_tcp_ts_now(st), s->ts_recent,
				   syn || s->ws_ok, s->rcv_wscale);
	} else {
		if (s->ts_ok)
			o = pn_tcp_opt_ts(pn_tcp_opt_nops(o, 2), pn_tcp_ts_now(st), s->ts_recent);
		/* SACK blocks only in the option room the payload leaves */
		int room = (int)pn_stack_l4_mtu_to(st, &s->rip) - (int)(sizeof(struct pn_tcp_hdr) + len) -
			   (int)(o - opt) - 4;
		/* and in the 40 option bytes: 2 NOPs and the option's 2 */
		int fit = room >= 8 ? PN_MIN(room / 8, (PN_TCP_MAX_OPTLEN - (int)(o - opt) - 4) / 8) : 0;

		if (s->sack_ok && (s->ooo_head || s->dsack_pending) && (flags & PN_TCP_F_ACK) &&
		    fit > 0) {
			uint32_t blk[2 * PN_TCP_MAX_SACK];
			unsigned n = sack_blocks(s, blk, (unsigned)fit);

			if (n && n <= (unsigned)fit)
				o = pn_tcp_opt_sack(pn_tcp_opt_nops(o, 2), blk, n);
		}
	}
	optlen = (unsigned)(o - opt);
	hlen = (unsigned)sizeof(*th) + optlen;
	if (pn_likely(hlen + len <= pn_stack_l4_room(st))) {
		th = pn_stack_pkt_put(st, hlen + len, &pkt);
		if (th == NULL)
			return -ENOMEM;
		if (len)
			sbuf_copy(s, seq - s->snd_una, (uint8_t *)th + hlen, len);
	} else {
		/* more than a buffer (jumbo frames): payload in fragments */
		struct sbuf_fill f = { s, seq - s->snd_una };

		th = pn_stack_pkt_put_frags(st, hlen, len, sbuf_fill_fn, &f, &pkt);
		if (th == NULL)
			return -ENOMEM;
	}
	th->sport = htons(s->lport);
	th->dport = htons(s->rport);
	th->seq = htonl(seq);
	th->ack = (flags & PN_TCP_F_ACK) ? htonl(s->rcv_nxt) : 0;
	th->doff = (uint8_t)((hlen / 4) << 4);
	th->flags = flags;
	th->win = htons((flags & PN_TCP_F_SYN) ? (uint16_t)PN_MIN(pn_tcp_rcv_space(s), 65535u) : select_window(s));
	/* a SYN-ACK's window counts from rcv_nxt; a bare SYN's from nothing we
	 * know yet (syn_sent_input sets the edge when the peer's ISN comes) */
	if ((flags & (PN_TCP_F_SYN | PN_TCP_F_ACK)) == (PN_TCP_F_SYN | PN_TCP_F_ACK))
		s->rcv_adv = s->rcv_nxt + PN_MIN(pn_tcp_rcv_space(s), 65535u);
	th->csum = 0;
	th->urg = 0;
	memcpy(th + 1, opt, optlen);
	if (pn_likely(pkt->shinfo->nr_frags == 0))
		csum = pn_csum_fold(pn_csum_add(pn_l3_pseudo_to(st, &s->rip, PN_IPPROTO_TCP,
								(uint16_t)(hlen + len)),
						th, hlen + len));
	else
		csum = pn_csum_fold(pn_pkt_csum_add(pkt, 0, hlen + len,
						    pn_l3_pseudo_to(st, &s->rip, PN_IPPROTO_TCP,
								    (uint16_t)(hlen + len))));
	th->csum = csum;
	t->stats.segs_out++;
	t->stats.tx_payload_bytes += len;
	if (flags & PN_TCP_F_RST)
		t->stats.rst_out++;
	if (flags & PN_TCP_F_ACK) {
		s->segs_unacked = 0;
		s->ack_now = false;
		pn_timer_cancel(&s->delack);
	}
	pn_l3_output(st, pkt, PN_IPPROTO_TCP, &s->rip);
	return 0;
}

/* A SYN-ACK for which no socket exists: its sequence number is a SYN
 * cookie, and window scale and SACK ride in the timestamp (pn_tcp_cookie.c). */
void pn_tcp_send_cookie_synack(struct pn_tcp_sock *l, const struct pn_addr *rip, uint16_t rport,
			       uint32_t isn, uint32_t ack, uint16_t mss, bool sack, bool ts,
			       uint32_t tsval, uint32_t tsecr, bool ws)
{
	struct pn_stack *st = l->st;
	struct pn_tcp *t = pn_tcp_of(st);
	uint8_t opt[PN_TCP_MAX_OPTLEN], *o = opt;
	struct pn_tcp_hdr *th;
	struct pn_pkt *pkt;
	unsigned hlen;

	(void)mss; /* our own MSS goes in the SYN-ACK; the peer's is in the cookie */
	o = pn_tcp_opt_syn(o, pn_tcp_mss_for(st, rip), sack, ts, tsval, tsecr, ws,
			   pn_tcp_wscale_of(t, l->rcvbuf ? l->rcvbuf : t->conf.rcvbuf));
	hlen = (unsigned)(sizeof(*th) + (size_t)(o - opt));
	th = pn_stack_pkt_put(st, hlen, &pkt);
	if (th == NULL)
		return;
	memset(th, 0, sizeof(*th));
	th->sport = htons(l->lport);
	th->dport = htons(rport);
	th->seq = htonl(isn);
	th->ack = htonl(ack);
	th->doff = (uint8_t)((hlen / 4) << 4);
	th->flags = PN_TCP_F_SYN | PN_TCP_F_ACK;
	th->win = htons((uint16_t)PN_MIN(l->rcvbuf ? l->rcvbuf : t->conf.rcvbuf, 65535u));
	memcpy(th + 1, opt, (size_t)(o - opt));
	th->csum = pn_csum_fold(pn_csum_add(pn_l3_pseudo_to(st, rip, PN_IPPROTO_TCP, (uint16_t)hlen),
					    th, hlen));
	t->stats.segs_out++;
	pn_l3_output(st, pkt, PN_IPPROTO_TCP, rip);
}

void pn_tcp_send_bare(struct pn_stack *st, const struct pn_addr *rip, uint16_t lport,
		      uint16_t rport, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win,
		      bool ts, uint32_t tsecr)
{
	uint8_t opt[12], *o = opt;
	struct pn_tcp_hdr *th;
	struct pn_pkt *pkt;
	unsigned hlen;

	if (ts)
		o = pn_tcp_opt_ts(pn_tcp_opt_nops(o, 2), pn_tcp_ts_now(st), tsecr);
	hlen = (unsigned)(sizeof(*th) + (size_t)(o - opt));
	th = pn_stack_pkt_put(st, hlen, &pkt);
	if (th == NULL)
		return;
	memset(th, 0, sizeof(*th));
	th->sport = htons(lport);
	th->dport = htons(rport);
	th->seq = htonl(seq);
	th->ack = htonl(ack);
	th->doff = (uint8_t)((hlen / 4) << 4);
	th->flags = flags;
	th->win = htons(win);
	memcpy(th + 1, opt, (size_t)(o - opt));
	th->csum = pn_csum_fold(pn_csum_add(pn_l3_pseudo_to(st, rip, PN_IPPROTO_TCP, (uint16_t)hlen),
					    th, hlen));
	pn_tcp_of(st)->stats.segs_out++;
	pn_l3_output(st, pkt, PN_IPPROTO_TCP, rip);
}

/* RST for a segment that has no connection (RFC 9293 3.10.7.1). */
void pn_tcp_send_rst_reply(struct pn_stack *st, const struct pn_addr *rip, const struct pn_tcp_hdr *th,
			   uint32_t seg_len)
{
	struct pn_pkt *pkt;
	struct pn_tcp_hdr *r;

	if (th->flags & PN_TCP_F_RST)
		return;
	r = pn_stack_pkt_put(st, sizeof(*r), &pkt);
	if (r == NULL)
		return;
	memset(r, 0, sizeof(*r));
	r->sport = th->dport;
	r->dport = th->sport;
	if (th->flags & PN_TCP_F_ACK) {
		r->seq = th->ack;
		r->flags = PN_TCP_F_RST;
	} else {
		r->ack = htonl(ntohl(th->seq) + seg_len);
		r->flags = PN_TCP_F_RST | PN_TCP_F_ACK;
	}
	r->doff = 5 << 4;
	r->csum = pn_csum_fold(pn_csum_add(pn_l3_pseudo_to(st, rip, PN_IPPROTO_TCP, sizeof(*r)),
					   r, sizeof(*r)));
	pn_tcp_of(st)->stats.rst_out++;
	pn_tcp_of(st)->stats.segs_out++;
	pn_l3_output(st, pkt, PN_IPPROTO_TCP, rip);
}

/*
 * A pure ACK carries the highest sequence number sent, not snd_nxt: after a
 * timeout snd_nxt goes back to resend, and an ACK numbered there is below
 * the peer's rcv_nxt, which the peer (RFC 9293 3.10.7.4; Linux likewise)
 * answers with an ACK and drops, ACK field and all. With loss both ways two
 * stacks could then each ignore the other's ACKs for good (found by
 * fuzz_tcp_conn). Linux numbers its ACKs with its never-rewound snd_nxt,
 * our snd_max.
 */
void pn_tcp_send_ack(struct pn_tcp_sock *s)
{
	pn_tcp_send_segment(s, s->snd_max, PN_TCP_F_ACK, 0);
}

/* RFC 5961 §7: challenge ACKs are rate limited stack-wide. */
void pn_tcp_challenge_ack(struct pn_tcp_sock *s)
{
	struct pn_tcp *t = pn_tcp_of(s->st);
	uint64_t sec = pn_stack_now_ms(s->st) / 1000;

	if (sec != t->challenge_sec) {
		t->challenge_sec = sec;
		t->challenge_count = 0;
	}
	if (t->challenge_count++ >= PN_TCP_CHALLENGE_ACKS_PER_SEC)
		return;
	t->stats.challenge_acks++;
	pn_tcp_send_ack(s);
}

uint32_t pn_tcp_rto_now(const struct pn_tcp_sock *s)
{
	uint64_t r = (uint64_t)s->rto_ms << s->backoff;

	return (uint32_t)PN_MIN(r, (uint64_t)PN_TCP_MAX_RTO_MS);
}

void pn_tcp_arm_rtx(struct pn_tcp_sock *s)
{
	pn_timer_arm(pn_stack_wheel(s->st), &s->rtx, pn_stack_now_ms(s->st) + pn_tcp_rto_now(s));
}

/* Count a round trip's use of the window (Linux's tcp_cwnd_validate):
 * the window may grow only while it is what holds the sender back. */
static void cwnd_validate(struct pn_tcp_sock *s, bool cwnd_limited)
{
	uint32_t in_flight = pn_tcp_in_flight(s);

	if (!pn_seq_lt(s->snd_una, s->round_end) || cwnd_limited ||
	    (!s->cwnd_limited && in_flight > s->round_max_flight)) {
		s->cwnd_limited = cwnd_limited;
		s->round_max_flight = in_flight;
		s->round_end = s->snd_nxt;
	}
}

int pn_tcp_retransmit(struct pn_tcp_sock *s, struct pn_tcp_txseg *r)
{
	struct pn_tcp *t = pn_tcp_of(s->st);
	bool fin = r->flags & PN_TXSEG_FIN;
	uint32_t len = r->end - r->seq - (fin ? 1 : 0);
	int rc;

	rc = pn_tcp_send_segment(s, r->seq, (uint8_t)(PN_TCP_F_ACK | (fin ? PN_TCP_F_FIN : 0) |
						    (len ? PN_TCP_F_PSH : 0)),
				 len);
	if (rc != 0)
		return rc;
	pn_tcp_txq_retransmitted(s, r, pn_stack_now_us(s->st));
	pn_tcp_on_retransmit(s, r->end - r->seq);
	t->stats.retrans_segs++;
	s->retrans++;
	if (!pn_timer_armed(&s->rtx))
		pn_tcp_arm_rtx(s);
	return 0;
}

/* Resend what is taken for lost, lowest first, as the window allows
 * (RFC 6675's NextSeg rule 1). @return false when the window stopped it. */
static bool retransmit_lost(struct pn_tcp_sock *s)
{
	for (uint32_t i = 0; i < s->txq_len && s->lost_bytes; i++) {
		struct pn_tcp_txseg *r = pn_tcp_txq_at(s, i);

		if ((r->flags & (PN_TXSEG_SACKED | PN_TXSEG_LOST | PN_TXSEG_RETRANS)) != PN_TXSEG_LOST)
			continue;
		if (pn_tcp_in_flight(s) + (r->end - r->seq) > s->cc.cwnd)
			return false;
		if (pn_tcp_retransmit(s, r) != 0)
			return true; /* out of buffers: the next ACK or the RTO retries */
	}
	return true;
}

/*
 * New data and the FIN, as the windows allow: at most @p max segments;
 * @p probe: a tail loss probe, which the congestion window does not hold
 * back. @return segments sent; *cwnd_limited: the congestion window
 * stopped it.
 */
static unsigned send_new(struct pn_tcp_sock *s, unsigned max, bool probe, bool *cwnd_limited)
{
	uint64_t now = pn_stack_now_us(s->st);
	unsigned sent = 0;

	while (sent < max) {
		uint32_t off = s->snd_nxt - s->snd_una;
		uint32_t in_flight = pn_tcp_in_flight(s);
		uint32_t wnd_room = pn_seq_gt(s->snd_una + s->snd_wnd, s->snd_nxt)
					    ? s->snd_una + s->snd_wnd - s->snd_nxt
					    : 0;
		uint32_t avail = off < s->sbuf_len ? s->sbuf_len - off : 0;
		bool fin_due = s->fin_queued && !s->fin_acked && off <= s->sbuf_len;
		uint32_t len = PN_MIN(PN_MIN(avail, (uint32_t)s->mss), wnd_room);
		uint8_t flags = PN_TCP_F_ACK;

		if (avail == 0 && !fin_due)
			break;
		if (avail > 0 && len == 0) {
			/* the peer's window is closed: probe it later */
			if (s->snd_wnd == 0 && s->snd_nxt == s->snd_una && !pn_timer_armed(&s->rtx))
				pn_tcp_arm_rtx(s);
			break;
		}
		/* sender silly window avoidance: no runt while data is in flight */
		if (len < avail && len < s->mss && s->snd_nxt != s->snd_una)
			break;
		if (!probe && in_flight + PN_MAX(len, 1u) > s->cc.cwnd) {
			*cwnd_limited = true;
			break;
		}
		if (!pn_tcp_txq_room(s)) {
			*cwnd_limited = true; /* a record per segment: as full as cwnd */
			break;
		}
		if (len == avail && fin_due)
			flags |= PN_TCP_F_FIN;
		if (len == avail && len)
			flags |= PN_TCP_F_PSH;
		if (len == 0 && !(flags & PN_TCP_F_FIN))
			break;
		if (s->snd_nxt == s->snd_una && s->last_send_us && s->ca == PN_TCP_CA_OPEN &&
		    now - s->last_send_us > (uint64_t)s->rto_ms * 1000)
			pn_tcp_cwnd_restart(s, now); /* idle longer than an RTO */
		if (pn_tcp_send_segment(s, s->snd_nxt, flags, len) != 0)
			break; /* out of buffers: the RTO or next ACK retries */
		pn_tcp_txq_sent(s, s->snd_nxt, s->snd_nxt + len + ((flags & PN_TCP_F_FIN) ? 1 : 0),
				flags & PN_TCP_F_FIN, now);
		s->snd_nxt += len + ((flags & PN_TCP_F_FIN) ? 1 : 0);
		s->snd_max = s->snd_nxt;
		s->last_send_us = now;
		if (s->ca == PN_TCP_CA_RECOVERY)
			s->prr_out += len;
		if (!pn_timer_armed(&s->rtx))
			pn_tcp_arm_rtx(s);
		sent++;
		if (flags & PN_TCP_F_FIN)
			break;
	}
	return sent;
}

/* Send what the windows allow: repairs first, then new data, then FIN. */
void pn_tcp_output(struct pn_tcp_sock *s)
{
	bool cwnd_limited = false;

	switch (s->state) {
	case PN_TCP_ESTABLISHED:
	case PN_TCP_CLOSE_WAIT:
	case PN_TCP_FIN_WAIT_1:
	case PN_TCP_CLOSING:
	case PN_TCP_LAST_ACK:
		break;
	default:
		return;
	}
	if (s->lost_bytes && !s->frto_new)
		cwnd_limited = !retransmit_lost(s);
	if (!cwnd_limited && send_new(s, UINT32_MAX, false, &cwnd_limited))
		pn_tcp_schedule_probe(s);
	cwnd_validate(s, cwnd_limited);
}

bool pn_tcp_output_probe(struct pn_tcp_sock *s)
{
	bool cwnd_limited = false;

	return send_new(s, 1, true, &cwnd_limited) == 1;
}
