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

static unsigned sack_blocks(const struct pn_tcp_sock *s, uint32_t *blk, unsigned max)
{
	uint32_t rs[8][2];
	unsigned nr = 0, out = 0, first = 0;

	for (struct pn_pkt *p = s->ooo_head; p && nr < PN_DIM(rs); p = p->next) {
		uint32_t b = p->pad, e = p->pad + p->len;

		if (nr && rs[nr - 1][1] == b) {
			rs[nr - 1][1] = e;
		} else {
			rs[nr][0] = b;
			rs[nr][1] = e;
			nr++;
		}
		if (pn_seq_le(b, s->ooo_last_seq) && pn_seq_lt(s->ooo_last_seq, e))
			first = nr - 1;
	}
	/* RFC 2018: the block with the most recent segment first */
	if (nr) {
		blk[0] = rs[first][0];
		blk[1] = rs[first][1];
		out = 1;
	}
	for (unsigned i = 0; i < nr && out < max; i++) {
		if (i == first)
			continue;
		blk[2 * out] = rs[i][0];
		blk[2 * out + 1] = rs[i][1];
		out++;
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

/*
 * Build and send one segment: @p len payload bytes from the send buffer
 * at sequence @p seq. @return 0 or -ENOMEM.
 */
int pn_tcp_send_segment(struct pn_tcp_sock *s, uint32_t seq, uint8_t flags, uint32_t len)
{
	struct pn_stack *st = s->st;
	struct pn_tcp *t = pn_tcp_of(st);
	struct pn_pkt *pkt;
	uint8_t opt[PN_TCP_MAX_OPTLEN], *o = opt;
	struct pn_tcp_hdr *th;
	unsigned optlen, hlen;
	uint16_t csum;

	if (flags & PN_TCP_F_SYN) {
		/* 20 bytes, each option aligned as Linux lays them out */
		o = pn_tcp_opt_mss(o, pn_tcp_mss_for(st, &s->rip));
		if (s->state == PN_TCP_SYN_SENT || s->sack_ok)
			o = pn_tcp_opt_sackp(o);
		else
			o = pn_tcp_opt_nops(o, 2);
		if (s->state == PN_TCP_SYN_SENT || s->ts_ok)
			o = pn_tcp_opt_ts(o, pn_tcp_ts_now(st), s->ts_recent);
		if (s->state == PN_TCP_SYN_SENT || s->ws_ok)
			o = pn_tcp_opt_ws(pn_tcp_opt_nops(o, 1), s->rcv_wscale);
	} else {
		if (s->ts_ok)
			o = pn_tcp_opt_ts(pn_tcp_opt_nops(o, 2), pn_tcp_ts_now(st), s->ts_recent);
		/* SACK blocks only in the option room the payload leaves */
		int room = (int)pn_stack_l4_room_to(st, &s->rip) - (int)(sizeof(struct pn_tcp_hdr) + len) -
			   (int)(o - opt) - 4;
		int fit = room >= 8 ? PN_MIN(room / 8, s->ts_ok ? 3 : 4) : 0;

		if (s->sack_ok && s->ooo_head && (flags & PN_TCP_F_ACK) && fit > 0) {
			uint32_t blk[8];
			unsigned n = sack_blocks(s, blk, (unsigned)fit);

			o = pn_tcp_opt_sack(pn_tcp_opt_nops(o, 2), blk, n);
		}
	}
	optlen = (unsigned)(o - opt);
	hlen = (unsigned)sizeof(*th) + optlen;
	th = pn_stack_pkt_put(st, hlen + len, &pkt);
	if (th == NULL)
		return -ENOMEM;
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
	if (len)
		sbuf_copy(s, seq - s->snd_una, (uint8_t *)th + hlen, len);
	csum = pn_csum_fold(pn_csum_add(pn_l3_pseudo_to(st, &s->rip, PN_IPPROTO_TCP,
							(uint16_t)(hlen + len)),
					th, hlen + len));
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
	o = pn_tcp_opt_mss(o, pn_tcp_mss_for(st, rip));
	o = sack ? pn_tcp_opt_sackp(o) : pn_tcp_opt_nops(o, 2);
	if (ts)
		o = pn_tcp_opt_ts(o, tsval, tsecr);
	if (ws)
		o = pn_tcp_opt_ws(pn_tcp_opt_nops(o, 1), pn_tcp_wscale_for(l->rcvbuf ? l->rcvbuf : t->conf.rcvbuf));
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

/* Resending after an RTO: step over what the peer SACKed. */
static void resend_skip_sacked(struct pn_tcp_sock *s)
{
	for (unsigned i = 0; i < s->nr_sacked; i++) {
		if (pn_seq_le(s->sacked[i][0], s->snd_nxt) && pn_seq_lt(s->snd_nxt, s->sacked[i][1]))
			s->snd_nxt = pn_seq_lt(s->sacked[i][1], s->snd_max) ? s->sacked[i][1] : s->snd_max;
	}
}

/* Bytes from snd_nxt to the next SACKed range. */
static uint32_t resend_room(const struct pn_tcp_sock *s)
{
	for (unsigned i = 0; i < s->nr_sacked; i++)
		if (pn_seq_gt(s->sacked[i][0], s->snd_nxt))
			return s->sacked[i][0] - s->snd_nxt;
	return UINT32_MAX;
}

/* Send what the windows allow (data, then FIN). */
void pn_tcp_output(struct pn_tcp_sock *s)
{
	struct pn_tcp *t = pn_tcp_of(s->st);

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
	for (;;) {
		uint32_t off, wnd;

		if (s->nr_sacked && pn_seq_lt(s->snd_nxt, s->snd_max))
			resend_skip_sacked(s);
		off = s->snd_nxt - s->snd_una;
		wnd = PN_MIN(s->snd_wnd, s->cwnd + s->lt_extra);
		uint32_t infl = pn_tcp_flight(s);
		uint32_t can = wnd > infl ? wnd - infl : 0;
		uint32_t avail = off < s->sbuf_len ? s->sbuf_len - off : 0;
		bool fin_due = s->fin_queued && !s->fin_acked && off <= s->sbuf_len;
		uint32_t len = PN_MIN(PN_MIN(avail, (uint32_t)s->mss), can);
		uint8_t flags = PN_TCP_F_ACK;

		if (s->nr_sacked && pn_seq_lt(s->snd_nxt, s->snd_max))
			len = PN_MIN(len, resend_room(s));

		if (avail == 0 && !fin_due)
			break;
		if (avail > 0 && len == 0) {
			/* the peer's window is closed: probe it later */
			if (s->snd_wnd == 0 && infl == 0 && !pn_timer_armed(&s->rtx))
				pn_tcp_arm_rtx(s);
			break;
		}
		/* sender silly window avoidance: no runt while data is in flight */
		if (len < avail && len < s->mss && infl > 0)
			break;
		if (len == avail && fin_due)
			flags |= PN_TCP_F_FIN;
		if (len == avail)
			flags |= PN_TCP_F_PSH;
		if (len == 0 && !(flags & PN_TCP_F_FIN))
			break;
		if (pn_tcp_send_segment(s, s->snd_nxt, flags, len) != 0)
			break; /* out of buffers: the RTO or next ACK retries */
		if (pn_seq_lt(s->snd_nxt, s->snd_max)) {
			t->stats.retrans_segs++;
			s->retrans++;
		} else if (!s->rtt_timing && len) {
			s->rtt_timing = true;
			s->rtt_seq = s->snd_nxt;
			s->rtt_start_us = pn_stack_now_us(s->st);
		}
		s->snd_nxt += len + ((flags & PN_TCP_F_FIN) ? 1 : 0);
		if (pn_seq_gt(s->snd_nxt, s->snd_max))
			s->snd_max = s->snd_nxt;
		if (!pn_timer_armed(&s->rtx))
			pn_tcp_arm_rtx(s);
		if (flags & PN_TCP_F_FIN)
			break;
	}
}
