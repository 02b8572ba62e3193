/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Receiving: the receive and out-of-order queues, listeners and the
 * handshake, and segment arrival (RFC 9293 3.10.7).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pn_tcp_priv.h"

/* ---- receive path */

static void rq_append(struct pn_tcp_sock *s, struct pn_pkt *pkt)
{
	pn_pkt_set_holder(pkt, PN_HOLDER(s->holder, PN_VIA_QUEUE));
	pkt->next = NULL;
	if (s->rq_tail)
		s->rq_tail->next = pkt;
	else
		s->rq_head = pkt;
	s->rq_tail = pkt;
	s->rq_bytes += pkt->len;
}

/* Move what the out-of-order queue holds at rcv_nxt into the receive queue. */
static void ooo_merge(struct pn_tcp_sock *s)
{
	struct pn_tcp *t = pn_tcp_of(s->st);
	struct pn_pkt *q;
	uint32_t end;

	while ((q = pn_tcp_ooo_take_first(s, &end)) != NULL) {
		while (q) {
			struct pn_pkt *n = q->next;
			uint32_t qe = q->pad + q->len;

			q->next = NULL;
			s->ooo_bytes -= q->len;
			if (pn_seq_le(qe, s->rcv_nxt)) {
				pn_pkt_free(q); /* the in-order data covered it */
			} else {
				/* queued packets are private (rcv_data), so this cannot fail */
				pn_pkt_adj(q, s->rcv_nxt - q->pad);
				q->pad = s->rcv_nxt;
				rq_append(s, q);
				s->rcv_nxt = qe;
			}
			q = n;
		}
		if (pn_seq_gt(end, s->rcv_nxt))
			s->rcv_nxt = end;
		t->stats.ooo_merged++;
	}
}

static void fin_received(struct pn_tcp_sock *s)
{
	s->rcv_nxt++;
	s->fin_rcvd = true;
	s->fin_pending = false;
	s->ack_now = true;
	switch (s->state) {
	case PN_TCP_ESTABLISHED:
		s->state = PN_TCP_CLOSE_WAIT;
		break;
	case PN_TCP_FIN_WAIT_1:
		if (s->fin_acked)
			pn_tcp_enter_time_wait(s);
		else
			s->state = PN_TCP_CLOSING;
		break;
	case PN_TCP_FIN_WAIT_2:
		pn_tcp_enter_time_wait(s);
		break;
	default:
		break;
	}
	pn_tcp_event(s, PN_TCP_EV_READABLE);
}

/* the sequence number below which the application has taken the bytes
 * and let them go (read by copy, or released by token) */
static inline uint32_t freed_seq(const struct pn_tcp_sock *s)
{
	return s->rcv_nxt - s->rq_bytes - s->zc_held;
}

/* Receive buffer autotuning (Linux's tcp_rcv_space_adjust, dynamic
 * right-sizing): once per receiver round trip, room for twice what the
 * application took and let go in it, more while that grows (the sender in
 * slow start), up to rcvbuf_max. A window of a few hundred KiB throttles a
 * sender that loses or reorders over a path of a few milliseconds; an
 * application that holds its pages gains nothing from it. */
static void rcv_space_adjust(struct pn_tcp_sock *s)
{
	struct pn_tcp *t = pn_tcp_of(s->st);
	uint64_t now = pn_stack_now_us(s->st);
	uint32_t rtt = s->rcv_rtt_us ? s->rcv_rtt_us : s->srtt_us, copied;

	if (now - s->rcvq_time_us < PN_MAX(rtt, 1000u))
		return;
	copied = freed_seq(s) - s->rcvq_seq;
	if (copied > s->rcvq_space) {
		uint64_t win = 2ull * copied + 16ull * s->mss;

		win += 2 * win * (copied - s->rcvq_space) / PN_MAX(s->rcvq_space, 1u);
		if (win > s->rcvbuf)
			s->rcvbuf = (uint32_t)PN_MIN(win, (uint64_t)t->conf.rcvbuf_max);
		s->rcvq_space = copied;
	}
	s->rcvq_seq = freed_seq(s);
	s->rcvq_time_us = now;
}

static void rcv_space_init(struct pn_tcp_sock *s)
{
	s->rcvq_seq = freed_seq(s);
	s->rcvq_space = PN_TCP_INIT_CWND_SEGS * (uint32_t)s->mss;
	s->rcvq_time_us = pn_stack_now_us(s->st);
}

/* Payload and FIN of an acceptable segment; takes @p pkt (data = payload). */
static void rcv_data(struct pn_tcp_sock *s, struct pn_pkt *pkt, uint32_t seq, bool fin)
{
	struct pn_tcp *t = pn_tcp_of(s->st);
	uint32_t len = pkt->len, edge = pn_tcp_rcv_edge(s);

	if (s->state != PN_TCP_ESTABLISHED && s->state != PN_TCP_FIN_WAIT_1 &&
	    s->state != PN_TCP_FIN_WAIT_2) {
		pn_pkt_free(pkt);
		return;
	}
	/* what stays queued must be ours alone: trimming a shared packet's
	 * fragments later would change what the other holder sees */
	if (pn_unlikely(pkt->shinfo->nr_frags && pn_pkt_cloned(pkt)) && pn_pkt_unshare(pkt) != 0) {
		pn_pkt_free(pkt); /* nothing taken: the sender repeats it */
		return;
	}
	/* old bytes at the front */
	if (pn_seq_lt(seq, s->rcv_nxt)) {
		uint32_t old = s->rcv_nxt - seq;

		pn_tcp_dsack_note(s, seq, old >= len ? seq + len : s->rcv_nxt);
		if (old >= len) {
			if (len)
				t->stats.dup_data_segs++;
			len = 0;
		} else if (pn_pkt_adj(pkt, old) != 0) {
			pn_pkt_free(pkt); /* nothing taken: the sender repeats it */
			return;
		} else {
			len -= old;
		}
		seq = s->rcv_nxt;
		s->ack_now = true;
	}
	/* bytes beyond the window are not taken (and not acknowledged) */
	if (pn_seq_gt(seq + len, edge)) {
		uint32_t keep = pn_seq_gt(edge, seq) ? edge - seq : 0;

		if (pn_pkt_trim(pkt, keep) != 0) {
			pn_pkt_free(pkt);
			return;
		}
		len = keep;
		fin = false;
		t->stats.out_of_window++;
		s->ack_now = true;
	}
	if (fin) {
		s->fin_pending = true;
		s->fin_seq = seq + len;
	}
	if (len == 0) {
		pn_pkt_free(pkt);
	} else if (seq == s->rcv_nxt) {
		bool had_ooo = s->ooo_head != NULL;

		pkt->pad = seq;
		rq_append(s, pkt);
		s->rcv_nxt += len;
		s->rx_bytes += len;
		t->stats.rx_payload_bytes += len;
		if (had_ooo) {
			ooo_merge(s);
			s->ack_now = true; /* tell the sender the hole is filled */
		}
		s->segs_unacked++;
		rcv_space_adjust(s);
		pn_tcp_event(s, PN_TCP_EV_READABLE);
	} else {
		/* a hole before it: keep the packet (no copy), ACK at once */
		s->rx_bytes += len;
		t->stats.rx_payload_bytes += len;
		pn_tcp_ooo_insert(s, pkt, seq);
		pn_tcp_send_ack(s); /* RFC 5681 4.2: a duplicate ACK at once, with SACK */
	}
	if (s->fin_pending && s->fin_seq == s->rcv_nxt)
		fin_received(s);
	pn_tcp_want_work(s);
}

static void set_mss(struct pn_tcp_sock *s, const struct pn_tcp_opts *o)
{
	uint32_t mss = pn_tcp_mss_for(s->st, &s->rip);

	if (o->has_mss && o->mss < mss)
		mss = o->mss;
	if (mss < 88)
		mss = 88;
	s->peer_mss = (uint16_t)mss;
	s->mss = (uint16_t)(mss - (s->ts_ok ? 12 : 0));
	pn_tcp_cc_start(s);
}

static void negotiate(struct pn_tcp_sock *s, const struct pn_tcp_opts *o, bool we_offered_all)
{
	s->ts_ok = o->has_ts && we_offered_all;
	s->sack_ok = o->sackp && we_offered_all;
	s->ws_ok = o->has_ws && we_offered_all;
	if (s->ws_ok)
		s->snd_wscale = o->ws;
	else
		s->rcv_wscale = 0;
	if (s->ts_ok)
		s->ts_recent = o->tsval;
	set_mss(s, o);
}

uint8_t pn_tcp_wscale_for(uint32_t rcvbuf)
{
	uint8_t ws = 0;

	while (ws < 14 && (rcvbuf >> ws) > 0xffff)
		ws++;
	return ws;
}

/* ---- segment arrival (RFC 9293 3.10.7) */

/* A segment as it arrived; numbers in host order. th points into the
 * packet and is valid until its header is pulled off. */
/* Header checks; the header and its options end up in the linear part.
 * @return false: malformed (counted), drop it. */
static bool seg_parse(struct pn_tcp *t, struct pn_pkt *pkt, const struct pn_l3_info *l3,
		      struct pn_tcp_seg *g)
{
	uint32_t len = pkt->len;
	const struct pn_tcp_hdr *th;

	/* the header (and options) may sit in fragments of a header-split or
	 * multi-buffer frame: pull them into the linear part */
	if (pn_unlikely(len < sizeof(*th) || pn_pkt_may_pull(pkt, sizeof(*th)) != 0)) {
		t->stats.bad_segs++;
		return false;
	}
	th = (const struct pn_tcp_hdr *)pn_pkt_data(pkt);
	g->hlen = (th->doff >> 4) * 4u;
	if (pn_unlikely(g->hlen < sizeof(*th) || g->hlen > len ||
			pn_pkt_may_pull(pkt, g->hlen) != 0)) {
		t->stats.bad_segs++;
		return false;
	}
	th = (const struct pn_tcp_hdr *)pn_pkt_data(pkt);
	if (!(pkt->flags & PN_PKT_F_L4_CSUM_GOOD) &&
	    pn_unlikely(pn_csum_fold(pn_pkt_csum_add(pkt, 0, len,
			pn_l3_pseudo(l3, (uint16_t)len))) != 0)) {
		/* the field holds just the pseudo-header sum: the sender left
		 * the checksum to an offload that never ran (a veth peer with
		 * TX checksum offload on, its frames taken by AF_XDP before any
		 * device finished them) */
		uint16_t partial = (uint16_t)(pn_csum_fold(pn_l3_pseudo(l3, (uint16_t)len)) ^ 0xffffu);

		t->stats.bad_csum++;
		if (partial == th->csum) {
			t->stats.bad_csum_partial++;
			t->stats.partial_csum_peer = l3->src;
		}
		return false;
	}
	if (!pn_tcp_opts_parse((const uint8_t *)(th + 1), g->hlen - (unsigned)sizeof(*th), &g->o)) {
		t->stats.bad_segs++;
		return false;
	}
	g->th = th;
	g->rip = l3->src;
	g->sport = ntohs(th->sport);
	g->dport = ntohs(th->dport);
	g->seq = ntohl(th->seq);
	g->ack = ntohl(th->ack);
	g->flags = th->flags;
	g->wnd = ntohs(th->win);
	g->plen = len - g->hlen;
	g->len = g->plen + ((g->flags & PN_TCP_F_SYN) ? 1 : 0) + ((g->flags & PN_TCP_F_FIN) ? 1 : 0);
	if (g->flags & PN_TCP_F_RST)
		t->stats.rst_in++;
	return true;
}

/* A connection a listener makes for segment @p g: in SYN-RECEIVED, in the
 * listener's SYN queue, with its callback, group, buffers and keep-alive
 * (inherited, as in Linux). NULL when the socket table is full (counted). */
static struct pn_tcp_sock *child_new(struct pn_tcp_sock *l, const struct pn_tcp_seg *g)
{
	struct pn_tcp_sock *c = pn_tcp_sock_alloc(l->st);

	if (c == NULL) {
		pn_tcp_of(l->st)->stats.syn_dropped_no_socket++;
		return NULL;
	}
	c->rip = g->rip;
	c->rport = g->sport;
	c->lport = l->lport;
	c->cb = l->cb;
	c->arg = l->arg;
	pn_tcp_sock_named(c, l->acct);
	c->rcvbuf = l->rcvbuf;
	c->sbuf_size = l->sbuf_size;
	c->ka_idle_ms = l->ka_idle_ms;
	c->ka_intvl_ms = l->ka_intvl_ms;
	c->ka_cnt = l->ka_cnt;
	c->parent = l;
	l->nr_syn++;
	c->state = PN_TCP_SYN_RCVD;
	return c;
}

/* 3.10.7.2, LISTEN: a SYN makes a child in SYN-RECEIVED and gets a SYN-ACK;
 * an ACK gets a RST; a RST is ignored. */
static void listen_input(struct pn_tcp_sock *l, const struct pn_tcp_seg *g)
{
	struct pn_stack *st = l->st;
	struct pn_tcp *t = pn_tcp_of(st);
	struct pn_tcp_sock *c;

	if (g->flags & PN_TCP_F_RST)
		return;
	if (g->flags & PN_TCP_F_ACK) {
		pn_tcp_send_rst_reply(st, &g->rip, g->th, g->len);
		return;
	}
	if (!(g->flags & PN_TCP_F_SYN))
		return;
	if (l->nr_acq >= l->backlog) {
		/* the application is not accepting: as Linux, drop the SYN
		 * (the client resends it) rather than make more to queue */
		t->stats.listen_overflows++;
		return;
	}
	if ((uint32_t)l->nr_syn >= t->conf.syn_backlog) {
		/* the SYN queue is full (a flood, or a slow network): answer
		 * with a cookie and keep nothing */
		struct pn_tcp_cookie_tuple ck = { *pn_stack_local_addr(st, &g->rip), g->rip, l->lport,
						   g->sport, g->seq };
		uint16_t mss;
		uint32_t isn;

		if (t->conf.no_syncookies) {
			t->stats.listen_overflows++;
			return;
		}
		isn = pn_tcp_cookie_make(t, &ck, pn_stack_now_ms(st),
					 g->o.has_mss ? g->o.mss : 536, &mss);
		pn_tcp_send_cookie_synack(l, &g->rip, g->sport, isn, g->seq + 1, mss, g->o.sackp,
					  g->o.has_ts,
					  pn_tcp_cookie_tsval(pn_tcp_ts_now(st), g->o.sackp, g->o.has_ws,
							      g->o.ws),
					  g->o.tsval, g->o.has_ws);
		t->stats.syncookies_sent++;
		l->cookie_sent_ms = pn_stack_now_ms(st);
		return;
	}
	c = child_new(l, g);
	if (c == NULL)
		return;
	c->irs = g->seq;
	c->rcv_nxt = c->irs + 1;
	c->rcv_wscale = pn_tcp_wscale_of(t, c->rcvbuf);
	negotiate(c, &g->o, true);
	c->snd_wnd = g->wnd; /* never scaled in a SYN */
	c->iss = pn_tcp_pick_isn(c);
	c->snd_una = c->iss;
	c->snd_nxt = c->snd_max = c->iss + 1;
	c->snd_wl1 = c->irs;
	c->snd_wl2 = c->iss;
	pn_tcp_hash_add(t, c);
	t->stats.passive_opens++;
	pn_tcp_send_segment(c, c->iss, PN_TCP_F_SYN | PN_TCP_F_ACK, 0);
	c->rtt_timing = true; /* the handshake's round trip */
	c->rtt_start_us = pn_stack_now_us(st);
	pn_tcp_arm_rtx(c);
}

/* Does ACK @p g carry a cookie listener @p l sent lately? Counts a forged
 * one. @return its MSS, or 0. */
static uint16_t cookie_valid(struct pn_tcp_sock *l, const struct pn_tcp_seg *g)
{
	struct pn_stack *st = l->st;
	struct pn_tcp *t = pn_tcp_of(st);
	struct pn_tcp_cookie_tuple ck = { *pn_stack_local_addr(st, &g->rip), g->rip, l->lport,
					   g->sport, g->seq - 1 };
	uint16_t mss;

	if (t->conf.no_syncookies ||
	    (g->flags & (PN_TCP_F_SYN | PN_TCP_F_RST | PN_TCP_F_ACK)) != PN_TCP_F_ACK)
		return 0;
	/* no cookie out lately: no ACK can carry one (and a stray ACK is not
	 * run through the check at all) */
	if (l->cookie_sent_ms == 0 || pn_stack_now_ms(st) - l->cookie_sent_ms > PN_TCP_COOKIE_VALID_MS)
		return 0;
	if (!pn_tcp_cookie_check(t, &ck, g->ack - 1, pn_stack_now_ms(st), &mss)) {
		t->stats.syncookies_failed++;
		return 0;
	}
	return mss;
}

/* An ACK for a listener: the third step of a handshake answered by a SYN
 * cookie, which cookie_valid() found good with MSS @p mss. @return the new
 * connection, in SYN-RECEIVED with what the cookie and the timestamp
 * carried, or NULL (no room: counted). */
static struct pn_tcp_sock *cookie_child(struct pn_tcp_sock *l, const struct pn_tcp_seg *g,
					uint16_t mss)
{
	struct pn_tcp *t = pn_tcp_of(l->st);
	struct pn_tcp_opts mo = { .has_mss = true, .mss = mss };
	struct pn_tcp_sock *c;
	bool sack = false, has_ws = false;
	uint8_t ws = 0;

	if (l->nr_acq >= l->backlog) {
		t->stats.listen_overflows++;
		return NULL;
	}
	c = child_new(l, g);
	if (c == NULL)
		return NULL;
	t->stats.syncookies_ok++;
	c->irs = g->seq - 1;
	c->rcv_nxt = g->seq;
	c->iss = g->ack - 1;
	c->snd_una = c->iss;
	c->snd_nxt = c->snd_max = g->ack;
	c->snd_wl1 = c->irs;
	c->snd_wl2 = c->iss;
	/* without timestamps the SYN's options are lost: no window scale, no
	 * SACK (as Linux) */
	if (g->o.has_ts)
		pn_tcp_cookie_ts_opts(g->o.tsecr, &sack, &has_ws, &ws);
	c->ts_ok = g->o.has_ts;
	c->ts_recent = g->o.tsval;
	c->sack_ok = sack;
	c->ws_ok = has_ws;
	c->snd_wscale = has_ws ? ws : 0;
	c->rcv_wscale = has_ws ? pn_tcp_wscale_of(t, c->rcvbuf) : 0;
	set_mss(c, &mo);
	c->rcv_adv = c->rcv_nxt + PN_MIN(c->rcvbuf, 65535u); /* what the SYN-ACK offered */
	pn_tcp_hash_add(t, c);
	t->stats.passive_opens++;
	return c;
}

/* 3.10.7.3, SYN-SENT. */
static void syn_sent_input(struct pn_tcp_sock *s, const struct pn_tcp_seg *g)
{
	struct pn_tcp *t = pn_tcp_of(s->st);

	/* first, the ACK bit: it must acknowledge our SYN and nothing more */
	if ((g->flags & PN_TCP_F_ACK) && (pn_seq_le(g->ack, s->iss) || pn_seq_gt(g->ack, s->snd_max))) {
		pn_tcp_send_rst_reply(s->st, &s->rip, g->th, g->len);
		return;
	}
	/* second, RST: with an acceptable ACK the connection is refused */
	if (g->flags & PN_TCP_F_RST) {
		if (g->flags & PN_TCP_F_ACK)
			pn_tcp_reset_conn(s, ECONNREFUSED);
		return;
	}
	/* fourth, SYN (third, security, is not implemented) */
	if (!(g->flags & PN_TCP_F_SYN))
		return;
	s->irs = g->seq;
	s->rcv_nxt = g->seq + 1;
	/* the right edge our SYN offered, now that it has an origin: left as it
	 * was (set from rcv_nxt 0), it lay up to 2^31 ahead for about half of
	 * the peer's ISNs, and every segment that far ahead was accepted
	 * (found by fuzz_tcp_conn) */
	s->rcv_adv = s->rcv_nxt + PN_MIN(pn_tcp_rcv_space(s), 65535u);
	negotiate(s, &g->o, true);
	s->snd_wnd = g->wnd;
	s->snd_wl1 = g->seq;
	s->snd_wl2 = g->ack;
	s->max_snd_wnd = s->snd_wnd;
	if (g->flags & PN_TCP_F_ACK) {
		pn_tcp_handshake_rtt(s);
		s->snd_una = g->ack;
		s->rack_fack = s->rtx_high = s->round_end = s->snd_una;
		rcv_space_init(s);
		s->state = PN_TCP_ESTABLISHED;
		s->backoff = 0;
		s->retries = 0;
		pn_timer_cancel(&s->rtx);
		t->stats.established++;
		pn_tcp_peer_alive(s);
		pn_tcp_send_ack(s);
		pn_tcp_event(s, PN_TCP_EV_CONNECTED | PN_TCP_EV_WRITABLE);
		pn_tcp_output(s);
	} else { /* simultaneous open: SYN-RECEIVED, and our SYN again with an ACK */
		s->state = PN_TCP_SYN_RCVD;
		pn_tcp_send_segment(s, s->iss, PN_TCP_F_SYN | PN_TCP_F_ACK, 0);
	}
}

/* 3.10.7.4, first check: does the segment overlap the receive window?
 * (the four cases of the table there, with a window of RCV.NXT to the
 * edge we advertised or have room for) */
static bool seq_acceptable(const struct pn_tcp_sock *s, const struct pn_tcp_seg *g)
{
	uint32_t edge = pn_tcp_rcv_edge(s);
	uint32_t wnd = edge - s->rcv_nxt;
	uint32_t last = g->seq + g->len - 1;

	if (wnd == 0)
		return g->len == 0 && g->seq == s->rcv_nxt;
	if (g->len == 0)
		return pn_seq_ge(g->seq, s->rcv_nxt) && pn_seq_lt(g->seq, edge);
	return (pn_seq_ge(g->seq, s->rcv_nxt) && pn_seq_lt(g->seq, edge)) ||
	       (pn_seq_ge(last, s->rcv_nxt) && pn_seq_lt(last, edge));
}

/* 3.10.7.4, fifth check, SYN-RECEIVED: our SYN acknowledged, the connection
 * is established and, if a listener made it, waits to be accepted. */
static bool syn_rcvd_ack(struct pn_tcp_sock *s, const struct pn_tcp_seg *g)
{
	struct pn_tcp *t = pn_tcp_of(s->st);
	struct pn_tcp_sock *l = s->parent;

	if (!pn_seq_gt(g->ack, s->snd_una) || pn_seq_gt(g->ack, s->snd_max)) {
		pn_tcp_send_rst_reply(s->st, &g->rip, g->th, g->len);
		return false;
	}
	if (l && l->nr_acq >= l->backlog) {
		/* no room to wait for accept(): stay half-open, the peer's
		 * next segment tries again (Linux does the same) */
		t->stats.listen_overflows++;
		return false;
	}
	pn_tcp_handshake_rtt(s);
	s->state = PN_TCP_ESTABLISHED;
	s->snd_una = g->ack;
	/* marks in sequence space start where the data does: a zero would
	 * lie half the space away for half the connections */
	s->rack_fack = s->rtx_high = s->round_end = s->snd_una;
	rcv_space_init(s);
	s->backoff = 0;
	s->retries = 0;
	pn_timer_cancel(&s->rtx);
	s->snd_wnd = (uint32_t)g->wnd << s->snd_wscale;
	s->max_snd_wnd = s->snd_wnd;
	s->snd_wl1 = g->seq;
	s->snd_wl2 = g->ack;
	t->stats.established++;
	pn_tcp_peer_alive(s);
	if (l) {
		l->nr_syn--;
		l->nr_acq++;
		s->in_aq = true;
		s->aq_next = NULL;
		if (l->aq_tail)
			l->aq_tail->aq_next = s;
		else
			l->aq_head = s;
		l->aq_tail = s;
		pn_tcp_event(l, PN_TCP_EV_ACCEPT);
	} else {
		pn_tcp_event(s, PN_TCP_EV_CONNECTED | PN_TCP_EV_WRITABLE);
	}
	return true;
}

/* 3.10.7.4, fifth check, ESTABLISHED and the states after it: advance
 * SND.UNA, count duplicates, update the send window.
 * @return false when the ACK is challenged and the segment dropped. */
static bool established_ack(struct pn_tcp_sock *s, const struct pn_tcp_seg *g)
{
	uint32_t wnd = (uint32_t)g->wnd << s->snd_wscale;

	/* RFC 5961 5.2: ACK of something we never sent, or too old */
	if (pn_seq_gt(g->ack, s->snd_max) ||
	    pn_seq_lt(g->ack, s->snd_una - PN_MAX(s->max_snd_wnd, 65535u))) {
		pn_tcp_challenge_ack(s);
		return false;
	}
	/* RFC 5681 2: a duplicate ACK carries no data, no FIN, the same window */
	pn_tcp_ack_rcvd(s, g, g->plen == 0 && !(g->flags & PN_TCP_F_FIN) && wnd == s->snd_wnd);
	/* the window: only from a segment newer than the last one that set it
	 * (SND.WL1/WL2) */
	if (pn_seq_lt(s->snd_wl1, g->seq) || (s->snd_wl1 == g->seq && pn_seq_le(s->snd_wl2, g->ack))) {
		uint32_t old = s->snd_wnd;

		s->snd_wnd = wnd;
		s->snd_wl1 = g->seq;
		s->snd_wl2 = g->ack;
		if (s->snd_wnd > s->max_snd_wnd)
			s->max_snd_wnd = s->snd_wnd;
		if (old == 0 && s->snd_wnd > 0) {
			/* the persist timer stops; a retransmission timer
			 * for bytes still in flight must not (cancelling it
			 * stalled a connection for good: fuzz_tcp_conn) */
			s->backoff = 0;
			if (s->snd_una == s->snd_max)
				pn_timer_cancel(&s->rtx);
			else
				pn_tcp_arm_rtx(s);
		}
	}
	return true;
}

/* 3.10.7.4: every state after the handshake began, one check after the
 * other. Takes @p pkt. */
static void synchronized_input(struct pn_tcp_sock *s, struct pn_pkt *pkt, const struct pn_tcp_seg *g)
{
	struct pn_stack *st = s->st;
	struct pn_tcp *t = pn_tcp_of(st);

	/* our SYN-ACK was lost: the peer's SYN again */
	if (s->state == PN_TCP_SYN_RCVD && (g->flags & PN_TCP_F_SYN) &&
	    !(g->flags & PN_TCP_F_ACK) && g->seq == s->irs) {
		pn_tcp_send_segment(s, s->iss, PN_TCP_F_SYN | PN_TCP_F_ACK, 0);
		goto drop;
	}
	/* first, the sequence number: outside the window, an ACK (unless RST)
	 * and nothing else; a retransmitted FIN in TIME-WAIT restarts 2 MSL */
	if (!seq_acceptable(s, g)) {
		if (!(g->flags & PN_TCP_F_RST)) {
			if (g->len)
				t->stats.dup_data_segs++;
			/* all of it old: the peer resent what we had (RFC 2883) */
			if (g->plen && pn_seq_le(g->seq + g->plen, s->rcv_nxt) &&
			    s->state >= PN_TCP_ESTABLISHED)
				pn_tcp_dsack_note(s, g->seq, g->seq + g->plen);
			if (s->state == PN_TCP_TIME_WAIT && (g->flags & PN_TCP_F_FIN))
				pn_timer_arm(pn_stack_wheel(st), &s->rtx,
					     pn_stack_now_ms(st) + t->conf.time_wait_ms);
			pn_tcp_send_ack(s);
		}
		goto drop;
	}
	/* second, RST (RFC 5961 3.2): only an exact match resets; others are
	 * challenged */
	if (g->flags & PN_TCP_F_RST) {
		if (g->seq == s->rcv_nxt) {
			pn_tcp_reset_conn(s, s->state == PN_TCP_CLOSE_WAIT ? EPIPE : ECONNRESET);
		} else {
			t->stats.rfc5961_rst_dropped++;
			pn_tcp_challenge_ack(s);
		}
		goto drop;
	}
	/* third, security and compartment: not implemented (nor by Linux).
	 * fourth, SYN (RFC 5961 4.2): on a synchronized connection, challenged */
	if (g->flags & PN_TCP_F_SYN) {
		pn_tcp_challenge_ack(s);
		goto drop;
	}
	/* fifth, ACK: a segment without one is dropped */
	if (!(g->flags & PN_TCP_F_ACK))
		goto drop;
	pn_tcp_peer_alive(s);
	if (g->o.has_ts && s->ts_ok && pn_seq_le(g->seq, s->rcv_nxt))
		s->ts_recent = g->o.tsval; /* RFC 7323 4.3 */
	if (g->o.has_ts && s->ts_ok && g->o.tsecr && g->plen) {
		/* the receiver's round trip: our timestamp echoed on data (ms) */
		uint32_t d = (pn_tcp_ts_now(st) - g->o.tsecr) * 1000u;

		if (d < 60000000u) {
			d = PN_MAX(d, 1000u);
			s->rcv_rtt_us = s->rcv_rtt_us == 0 || d < s->rcv_rtt_us
						? d
						: (7 * s->rcv_rtt_us + d) / 8;
		}
	}
	switch (s->state) {
	case PN_TCP_SYN_RCVD:
		if (!syn_rcvd_ack(s, g))
			goto drop;
		break;
	case PN_TCP_ESTABLISHED:
	case PN_TCP_CLOSE_WAIT:
	case PN_TCP_FIN_WAIT_2:
		if (!established_ack(s, g))
			goto drop;
		break;
	case PN_TCP_FIN_WAIT_1:
		/* and if our FIN is now acknowledged, FIN-WAIT-2 */
		if (!established_ack(s, g))
			goto drop;
		if (s->fin_acked) {
			s->state = PN_TCP_FIN_WAIT_2;
			if (s->orphan) /* nobody will read: do not wait forever */
				pn_timer_arm(pn_stack_wheel(st), &s->rtx,
					     pn_stack_now_ms(st) + PN_TCP_FIN_TIMEOUT_MS);
		}
		break;
	case PN_TCP_CLOSING:
		/* our FIN acknowledged: TIME-WAIT, where a FIN is answered */
		if (!established_ack(s, g))
			goto drop;
		if (!s->fin_acked)
			break;
		pn_tcp_enter_time_wait(s);
		if (g->flags & PN_TCP_F_FIN)
			pn_tcp_send_ack(s);
		goto drop;
	case PN_TCP_LAST_ACK:
		/* the only thing to wait for is the ACK of our FIN */
		if (!established_ack(s, g))
			goto drop;
		if (s->fin_acked) {
			pn_tcp_sock_set_closed(s, 0);
			goto drop;
		}
		break;
	case PN_TCP_TIME_WAIT:
		/* only a retransmission of the peer's FIN can come: ACK it and
		 * restart the 2 MSL timeout */
		if (!established_ack(s, g))
			goto drop;
		if (g->flags & PN_TCP_F_FIN) {
			pn_tcp_send_ack(s);
			pn_timer_arm(pn_stack_wheel(st), &s->rtx,
				     pn_stack_now_ms(st) + t->conf.time_wait_ms);
		}
		goto drop;
	default:
		goto drop;
	}
	/* sixth, URG: not supported (RFC 6093 advises against its use).
	 * seventh and eighth, the text and FIN: queued in order, out of order
	 * kept; a FIN past what we have waits for the bytes before it */
	if (g->plen || (g->flags & PN_TCP_F_FIN)) {
		bool fin = g->flags & PN_TCP_F_FIN;
		uint32_t seq = g->seq;

		pn_pkt_pull(pkt, g->hlen);
		rcv_data(s, pkt, seq, fin);
		return;
	}
	pn_tcp_want_work(s); /* the ACK may have opened the window */
drop:
	pn_pkt_free(pkt);
}

void pn_tcp_input(struct pn_stack *st, struct pn_pkt *pkt, const struct pn_l3_info *l3,
		  void *priv)
{
	struct pn_tcp *t = priv;
	struct pn_tcp_sock *s;
	struct pn_tcp_seg g;
	uint32_t hash;

	t->stats.segs_in++;
	if (!seg_parse(t, pkt, l3, &g))
		goto drop;
	hash = pn_tcp_tuple_hash(t, &g.rip, g.sport, g.dport);
	s = pn_tcp_lookup(t, hash, &g.rip, g.sport, g.dport);
	if (s && s->state == PN_TCP_TIME_WAIT &&
	    (g.flags & (PN_TCP_F_SYN | PN_TCP_F_ACK | PN_TCP_F_RST)) == PN_TCP_F_SYN &&
	    pn_seq_gt(g.seq, s->rcv_nxt)) {
		/* a new incarnation of the connection (RFC 1122 4.2.2.13, as
		 * Linux): end TIME-WAIT and let the listener take the SYN */
		pn_tcp_sock_set_closed(s, 0);
		s = NULL;
	}
	if (s == NULL) {
		struct pn_tcp_tw *tw = pn_tcp_tw_lookup(t, hash, &g.rip, g.sport, g.dport);

		if (tw && pn_tcp_tw_input(t, tw, &g))
			goto drop;
	}
	if (s == NULL && pn_stack_steer(st, pkt, l3, g.sport, g.dport)) {
		/* another stack of the group owns the flow: counted there */
		t->stats.segs_in--;
		return;
	}
	if (s == NULL) {
		struct pn_tcp_sock *l = pn_tcp_lookup_listener(t, g.dport);
		uint16_t mss = l ? cookie_valid(l, &g) : 0;

		if (mss && (s = cookie_child(l, &g, mss)) != NULL) {
			synchronized_input(s, pkt, &g); /* may carry data already */
			return;
		}
		if (l)
			listen_input(l, &g);
		else /* 3.10.7.1, CLOSED: a RST for anything but a RST */
			pn_tcp_send_rst_reply(st, &g.rip, g.th, g.len);
		goto drop;
	}
	if (s->state == PN_TCP_SYN_RCVD && s->parent &&
	    (g.flags & (PN_TCP_F_SYN | PN_TCP_F_RST | PN_TCP_F_ACK)) == PN_TCP_F_ACK &&
	    g.ack != s->iss + 1 && g.seq == s->irs + 1) {
		/* a copy of the peer's SYN came while the queue was full and
		 * got a cookie, a later one this connection: the peer took the
		 * cookie. As Linux, the cookie decides; a RST here would end
		 * the peer's connection and leave this one half-open */
		struct pn_tcp_sock *l = s->parent;
		uint16_t mss = cookie_valid(l, &g);

		if (mss) {
			pn_tcp_sock_set_closed(s, 0);
			s = cookie_child(l, &g, mss);
			if (s == NULL)
				goto drop;
			t->stats.syncookies_over_syn_queue++;
			synchronized_input(s, pkt, &g);
			return;
		}
	}
	switch (s->state) {
	case PN_TCP_SYN_SENT:
		syn_sent_input(s, &g);
		goto drop;
	case PN_TCP_SYN_RCVD:
	case PN_TCP_ESTABLISHED:
	case PN_TCP_FIN_WAIT_1:
	case PN_TCP_FIN_WAIT_2:
	case PN_TCP_CLOSE_WAIT:
	case PN_TCP_CLOSING:
	case PN_TCP_LAST_ACK:
	case PN_TCP_TIME_WAIT:
		synchronized_input(s, pkt, &g);
		return;
	case PN_TCP_CLOSED:
	case PN_TCP_LISTEN: /* listeners are not in the connection hash */
		break;
	}
drop:
	pn_pkt_free(pkt);
}
