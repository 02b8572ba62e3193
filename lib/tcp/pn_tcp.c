/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP (RFC 9293) with options MSS, window scale, SACK-permitted and
 * timestamps (RFC 7323), delayed ACKs (RFC 1122), RTO (RFC 6298), NewReno
 * congestion control (RFC 5681, 6582), RFC 5961 checks, an out-of-order
 * queue that keeps the received packets, and receive zero copy.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "pn_tcp_priv.h"

static void tcp_output(struct pn_tcp_sock *s);
static void send_ack(struct pn_tcp_sock *s);
static void sock_set_closed(struct pn_tcp_sock *s, int err);
static void rtx_fn(struct pn_timer *t);
static void window_maybe_update(struct pn_tcp_sock *s);
static void delack_fn(struct pn_timer *t);

static inline struct pn_tcp *tcp_of(const struct pn_stack *st)
{
	return pn_stack_l4_priv(st, PN_IPPROTO_TCP);
}

static uint32_t ts_now(const struct pn_stack *st) { return (uint32_t)pn_stack_now_ms(st); }

/* ---- socket table and demultiplexing */

static unsigned hash_tuple(uint32_t rip, uint16_t rport, uint16_t lport)
{
	uint32_t h = rip * 2654435761u ^ ((uint32_t)rport << 16 | lport) * 2246822519u;

	return (h ^ (h >> 15)) & (PN_TCP_HASH - 1);
}

static struct pn_tcp_sock *lookup(struct pn_tcp *t, uint32_t rip, uint16_t rport,
				  uint16_t lport)
{
	struct pn_tcp_sock *s = t->hash[hash_tuple(rip, rport, lport)];

	for (; s; s = s->hnext)
		if (s->rip == rip && s->rport == rport && s->lport == lport)
			return s;
	return NULL;
}

static struct pn_tcp_sock *lookup_listener(struct pn_tcp *t, uint16_t lport)
{
	for (struct pn_tcp_sock *s = t->listeners; s; s = s->hnext)
		if (s->lport == lport)
			return s;
	return NULL;
}

static void hash_add(struct pn_tcp *t, struct pn_tcp_sock *s)
{
	unsigned h = hash_tuple(s->rip, s->rport, s->lport);

	s->hnext = t->hash[h];
	t->hash[h] = s;
	s->hashed = true;
}

static void hash_del(struct pn_tcp *t, struct pn_tcp_sock *s)
{
	struct pn_tcp_sock **pp;

	if (!s->hashed)
		return;
	pp = s->state == PN_TCP_LISTEN ? &t->listeners
				       : &t->hash[hash_tuple(s->rip, s->rport, s->lport)];
	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == s) {
			*pp = s->hnext;
			break;
		}
	}
	s->hashed = false;
}

static void timers_init(struct pn_tcp_sock *s)
{
	s->rtx.fn = rtx_fn;
	s->delack.fn = delack_fn;
}

static struct pn_tcp_sock *sock_alloc(struct pn_stack *st)
{
	struct pn_tcp *t = tcp_of(st);
	struct pn_tcp_sock *s;
	uint32_t slot;

	if (t->nr_free == 0) {
		errno = EMFILE;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	slot = t->free_slots[--t->nr_free];
	t->socks[slot] = s;
	s->id = slot | (uint32_t)t->gen[slot] << 16;
	s->st = st;
	s->rcvbuf = t->conf.rcvbuf;
	s->sbuf_size = t->conf.sndbuf;
	s->rto_ms = PN_TCP_INIT_RTO_MS;
	s->mss = 536;
	timers_init(s);
	t->stats.sockets++;
	return s;
}

/* Charge this socket's zero-copy pages to @g from now on: the group is
 * pinned for as long as the socket may charge it. */
static void sock_set_acct(struct pn_tcp_sock *s, struct pn_acct_group *g)
{
	char a[16], b[16];

	pn_acct_unpin(&s->acct_pin);
	s->acct = NULL;
	if (g != NULL && pn_acct_pin(g, &s->acct_pin, "tcp socket %s:%u->%s:%u",
				     pn_ip_str(pn_stack_ip(s->st), a), s->lport,
				     pn_ip_str(s->rip, b), s->rport) == 0)
		s->acct = g;
}

/* The socket's 4-tuple is known: name it for holder dumps, pin its group. */
static void sock_named(struct pn_tcp_sock *s, struct pn_acct_group *g)
{
	char a[16], b[16];

	if (s->state == PN_TCP_LISTEN)
		s->holder = pn_holder_register("tcp listener %s:%u",
					       pn_ip_str(pn_stack_ip(s->st), a), s->lport);
	else
		s->holder = pn_holder_register("socket %s:%u->%s:%u", pn_ip_str(s->rip, b),
					       s->rport, pn_ip_str(pn_stack_ip(s->st), a), s->lport);
	sock_set_acct(s, g);
}

static void rq_purge(struct pn_tcp_sock *s)
{
	pn_pkt_free(s->rq_head);
	pn_pkt_free(s->ooo_head);
	s->rq_head = s->rq_tail = s->ooo_head = NULL;
	s->rq_bytes = s->ooo_bytes = 0;
}

static void sock_free(struct pn_tcp_sock *s)
{
	struct pn_tcp *t = tcp_of(s->st);
	uint32_t slot = s->id & 0xffff;

	pn_timer_cancel(&s->rtx);
	pn_timer_cancel(&s->delack);
	hash_del(t, s);
	rq_purge(s);
	free(s->sbuf);
	pn_acct_unpin(&s->acct_pin);
	pn_holder_unregister(s->holder);
	t->socks[slot] = NULL;
	t->gen[slot]++; /* tokens of this socket no longer find it */
	t->free_slots[t->nr_free++] = slot;
	t->stats.sockets--;
	free(s);
}

static void free_later(struct pn_tcp_sock *s)
{
	struct pn_tcp *t = tcp_of(s->st);

	if (s->free_listed)
		return;
	pn_timer_cancel(&s->rtx);
	pn_timer_cancel(&s->delack);
	hash_del(t, s);
	s->free_listed = true;
	s->free_next = t->free_head;
	t->free_head = s;
}

static void event(struct pn_tcp_sock *s, unsigned ev)
{
	struct pn_tcp *t = tcp_of(s->st);

	s->ev |= ev;
	if (s->ev_listed || s->orphan || s->in_aq)
		return;
	s->ev_listed = true;
	s->ev_next = NULL;
	if (t->ev_tail)
		t->ev_tail->ev_next = s;
	else
		t->ev_head = s;
	t->ev_tail = s;
}

/* Remember the socket for the end of the burst: ACKs and output. */
static void want_work(struct pn_tcp_sock *s)
{
	struct pn_tcp *t = tcp_of(s->st);

	if (s->work_listed)
		return;
	s->work_listed = true;
	s->work_next = t->work_head;
	t->work_head = s;
}

/* ---- sequence numbers and options */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

/* RFC 6528: a keyed hash of the connection plus a 4 us clock */
static uint32_t pick_isn(struct pn_tcp_sock *s)
{
	struct pn_tcp *t = tcp_of(s->st);
	uint64_t h = mix64(t->isn_key ^ ((uint64_t)s->rip << 32 | (uint32_t)s->rport << 16 | s->lport));

	return (uint32_t)h + (uint32_t)(pn_stack_now_us(s->st) >> 2);
}

/* ---- receive window */

static uint32_t rcv_space(const struct pn_tcp_sock *s)
{
	uint32_t used = s->rq_bytes + s->ooo_bytes + s->zc_held;

	return used >= s->rcvbuf ? 0 : s->rcvbuf - used;
}

/* Right edge we may accept up to: what we advertised or what we have. */
static uint32_t rcv_edge(const struct pn_tcp_sock *s)
{
	uint32_t a = s->rcv_nxt + rcv_space(s);

	return pn_seq_gt(s->rcv_adv, a) ? s->rcv_adv : a;
}

/* Window field for an outgoing segment (never shrinks the right edge,
 * receiver-side silly window avoidance). */
static uint16_t select_window(struct pn_tcp_sock *s)
{
	uint32_t space = rcv_space(s), cur = 0, wnd, field;

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
		tcp_of(s->st)->stats.zero_window_adv++;
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
	uint32_t pos = (s->sbuf_head + off) % s->sbuf_size;
	uint32_t first = PN_MIN(len, s->sbuf_size - pos);

	memcpy(dst, s->sbuf + pos, first);
	if (first < len)
		memcpy(dst + first, s->sbuf, len - first);
}

/*
 * Build and send one segment: @p len payload bytes from the send buffer
 * at sequence @p seq. @return 0 or -ENOMEM.
 */
static int send_segment(struct pn_tcp_sock *s, uint32_t seq, uint8_t flags, uint32_t len)
{
	struct pn_stack *st = s->st;
	struct pn_tcp *t = tcp_of(st);
	struct pn_pkt *pkt;
	uint8_t opt[PN_TCP_MAX_OPTLEN], *o = opt;
	struct pn_tcp_hdr *th;
	unsigned optlen, hlen;
	uint16_t csum;

	if (flags & PN_TCP_F_SYN) {
		/* 20 bytes, each option aligned as Linux lays them out */
		o = pn_tcp_opt_mss(o, (uint16_t)(pn_stack_mtu(st) - 40));
		if (s->state == PN_TCP_SYN_SENT || s->sack_ok)
			o = pn_tcp_opt_sackp(o);
		else
			o = pn_tcp_opt_nops(o, 2);
		if (s->state == PN_TCP_SYN_SENT || s->ts_ok)
			o = pn_tcp_opt_ts(o, ts_now(st), s->ts_recent);
		if (s->state == PN_TCP_SYN_SENT || s->ws_ok)
			o = pn_tcp_opt_ws(pn_tcp_opt_nops(o, 1), s->rcv_wscale);
	} else {
		if (s->ts_ok)
			o = pn_tcp_opt_ts(pn_tcp_opt_nops(o, 2), ts_now(st), s->ts_recent);
		/* SACK blocks only in the option room the payload leaves */
		int room = (int)pn_stack_l4_room(st) - (int)(sizeof(struct pn_tcp_hdr) + len) -
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
	th->win = htons((flags & PN_TCP_F_SYN) ? (uint16_t)PN_MIN(rcv_space(s), 65535u) : select_window(s));
	/* a SYN-ACK's window counts from rcv_nxt; a bare SYN's from nothing we
	 * know yet (syn_sent_input sets the edge when the peer's ISN comes) */
	if ((flags & (PN_TCP_F_SYN | PN_TCP_F_ACK)) == (PN_TCP_F_SYN | PN_TCP_F_ACK))
		s->rcv_adv = s->rcv_nxt + PN_MIN(rcv_space(s), 65535u);
	th->csum = 0;
	th->urg = 0;
	memcpy(th + 1, opt, optlen);
	if (len)
		sbuf_copy(s, seq - s->snd_una, (uint8_t *)th + hlen, len);
	csum = pn_csum_fold(pn_csum_add(pn_csum_pseudo(htonl(pn_stack_ip(st)), htonl(s->rip), PN_IPPROTO_TCP,
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
	pn_ip_output(st, pkt, PN_IPPROTO_TCP, s->rip);
	return 0;
}

/* RST for a segment that has no connection (RFC 9293 3.10.7.1). */
static void send_rst_reply(struct pn_stack *st, uint32_t rip, const struct pn_tcp_hdr *th,
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
	r->csum = pn_csum_fold(pn_csum_add(pn_csum_pseudo(htonl(pn_stack_ip(st)), htonl(rip),
							  PN_IPPROTO_TCP, sizeof(*r)),
					   r, sizeof(*r)));
	tcp_of(st)->stats.rst_out++;
	tcp_of(st)->stats.segs_out++;
	pn_ip_output(st, pkt, PN_IPPROTO_TCP, rip);
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
static void send_ack(struct pn_tcp_sock *s)
{
	send_segment(s, s->snd_max, PN_TCP_F_ACK, 0);
}

/* RFC 5961 §7: challenge ACKs are rate limited stack-wide. */
static void challenge_ack(struct pn_tcp_sock *s)
{
	struct pn_tcp *t = tcp_of(s->st);
	uint64_t sec = pn_stack_now_ms(s->st) / 1000;

	if (sec != t->challenge_sec) {
		t->challenge_sec = sec;
		t->challenge_count = 0;
	}
	if (t->challenge_count++ >= PN_TCP_CHALLENGE_ACKS_PER_SEC)
		return;
	t->stats.challenge_acks++;
	send_ack(s);
}

static uint32_t rto_now(const struct pn_tcp_sock *s)
{
	uint64_t r = (uint64_t)s->rto_ms << s->backoff;

	return (uint32_t)PN_MIN(r, (uint64_t)PN_TCP_MAX_RTO_MS);
}

static void arm_rtx(struct pn_tcp_sock *s)
{
	pn_timer_arm(pn_stack_wheel(s->st), &s->rtx, pn_stack_now_ms(s->st) + rto_now(s));
}

static uint32_t flight(const struct pn_tcp_sock *s) { return s->snd_nxt - s->snd_una; }

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
static void tcp_output(struct pn_tcp_sock *s)
{
	struct pn_tcp *t = tcp_of(s->st);

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
		uint32_t infl = flight(s);
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
				arm_rtx(s);
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
		if (send_segment(s, s->snd_nxt, flags, len) != 0)
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
			arm_rtx(s);
		if (flags & PN_TCP_F_FIN)
			break;
	}
}

/* ---- state changes */

static void enter_time_wait(struct pn_tcp_sock *s)
{
	s->state = PN_TCP_TIME_WAIT;
	tcp_of(s->st)->stats.time_wait++;
	pn_timer_cancel(&s->delack);
	pn_timer_arm(pn_stack_wheel(s->st), &s->rtx, pn_stack_now_ms(s->st) + tcp_of(s->st)->conf.time_wait_ms);
}

static void leave_time_wait(struct pn_tcp_sock *s)
{
	if (s->state == PN_TCP_TIME_WAIT)
		tcp_of(s->st)->stats.time_wait--;
}

static void child_gone(struct pn_tcp_sock *s)
{
	struct pn_tcp_sock *l = s->parent;

	if (l == NULL)
		return;
	if (s->in_aq) {
		struct pn_tcp_sock **pp = &l->aq_head, *prev = NULL;

		for (; *pp; prev = *pp, pp = &(*pp)->aq_next) {
			if (*pp == s) {
				*pp = s->aq_next;
				if (l->aq_tail == s)
					l->aq_tail = prev;
				break;
			}
		}
		s->in_aq = false;
	}
	l->nr_children--;
	s->parent = NULL;
	s->orphan = true; /* nobody accepted it */
}

/* The connection is over: to CLOSED, freed now if nobody owns it. */
static void sock_set_closed(struct pn_tcp_sock *s, int err)
{
	struct pn_tcp *t = tcp_of(s->st);

	leave_time_wait(s);
	if (s->state >= PN_TCP_ESTABLISHED)
		t->stats.closed++;
	s->state = PN_TCP_CLOSED;
	if (err && !s->err)
		s->err = err;
	pn_timer_cancel(&s->rtx);
	pn_timer_cancel(&s->delack);
	hash_del(t, s);
	child_gone(s);
	if (s->orphan)
		free_later(s);
	else
		event(s, PN_TCP_EV_CLOSED | PN_TCP_EV_READABLE);
}

static void reset_conn(struct pn_tcp_sock *s, int err)
{
	tcp_of(s->st)->stats.resets++;
	rq_purge(s);
	sock_set_closed(s, err);
}

/* ---- timers */

static void rtx_fn(struct pn_timer *tm)
{
	struct pn_tcp_sock *s = pn_container_of(tm, struct pn_tcp_sock, rtx);
	struct pn_tcp *t = tcp_of(s->st);

	switch (s->state) {
	case PN_TCP_TIME_WAIT:
		sock_set_closed(s, 0);
		return;
	case PN_TCP_FIN_WAIT_2: /* orphaned, the peer never closed */
		if (s->orphan)
			sock_set_closed(s, ETIMEDOUT);
		return;
	case PN_TCP_SYN_SENT:
	case PN_TCP_SYN_RCVD:
		if (++s->retries > PN_TCP_SYN_RETRIES) {
			reset_conn(s, ETIMEDOUT);
			return;
		}
		s->backoff++;
		t->stats.retrans_segs++;
		send_segment(s, s->iss, s->state == PN_TCP_SYN_SENT ? PN_TCP_F_SYN : PN_TCP_F_SYN | PN_TCP_F_ACK, 0);
		arm_rtx(s);
		return;
	case PN_TCP_CLOSED:
	case PN_TCP_LISTEN:
		return;
	default:
		break;
	}
	if (s->snd_max == s->snd_una) {
		/* nothing in flight: a window probe when the peer's window is
		 * shut and we have data (an old sequence number makes the
		 * receiver answer with its current window) */
		if (s->snd_wnd == 0 && s->sbuf_len > 0) {
			t->stats.window_probes++;
			send_segment(s, s->snd_una - 1, PN_TCP_F_ACK, 0);
			if (s->backoff < 10)
				s->backoff++;
			arm_rtx(s);
		}
		return;
	}
	if (++s->retries > PN_TCP_MAX_RETRIES) {
		reset_conn(s, ETIMEDOUT);
		return;
	}
	/* RFC 5681 3.1 and 6298 5.5-5.7: halve, restart from one segment,
	 * back off, go back to the first unacknowledged byte */
	t->stats.rto_expired++;
	s->ssthresh = PN_MAX(flight(s) / 2, 2u * s->mss);
	s->cwnd = s->mss;
	s->in_recovery = false;
	s->dupacks = 0;
	s->rtt_timing = false;
	if (s->backoff < 10)
		s->backoff++;
	s->recover = s->snd_max;
	s->high_rxt = s->snd_una;
	/* the scoreboard is kept (RFC 6675 5.1 allows it; reneging receivers
	 * are rare): the resend below skips what the peer holds */
	s->snd_nxt = s->snd_una;
	tcp_output(s);
	arm_rtx(s);
}

static void delack_fn(struct pn_timer *tm)
{
	struct pn_tcp_sock *s = pn_container_of(tm, struct pn_tcp_sock, delack);

	if (s->segs_unacked)
		send_ack(s);
}

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

static void ooo_insert(struct pn_tcp_sock *s, struct pn_pkt *pkt, uint32_t seq)
{
	struct pn_tcp *t = tcp_of(s->st);
	struct pn_pkt **pp = &s->ooo_head;
	uint32_t end = seq + pkt->len;

	t->stats.ooo_segs++;
	s->ooo_last_seq = seq;
	while (*pp) {
		struct pn_pkt *q = *pp;
		uint32_t qs = q->pad, qe = q->pad + q->len;

		if (pn_seq_le(qe, seq)) {
			pp = &q->next;
			continue;
		}
		if (pn_seq_ge(seq, qs) && pn_seq_le(end, qe)) { /* all old */
			t->stats.dup_data_segs++;
			pn_pkt_free(pkt);
			return;
		}
		if (pn_seq_lt(qs, seq)) { /* q covers our front */
			if (pn_pkt_adj(pkt, qe - seq) != 0) {
				pn_pkt_free(pkt); /* not acknowledged: the sender repeats it */
				return;
			}
			seq = qe;
			pp = &q->next;
			continue;
		}
		if (pn_seq_le(qe, end)) { /* we cover q */
			*pp = q->next;
			s->ooo_bytes -= q->len;
			q->next = NULL;
			pn_pkt_free(q);
			continue;
		}
		if (pn_seq_lt(qs, end) && pn_pkt_trim(pkt, qs - seq) != 0) { /* q covers our tail */
			pn_pkt_free(pkt); /* not acknowledged: the sender repeats it */
			return;
		}
		break;
	}
	pkt->pad = seq;
	pkt->next = *pp;
	*pp = pkt;
	s->ooo_bytes += pkt->len;
	pn_pkt_set_holder(pkt, PN_HOLDER(s->holder, PN_VIA_QUEUE));
}

/* Move what the out-of-order queue holds at rcv_nxt into the receive queue. */
static void ooo_merge(struct pn_tcp_sock *s)
{
	struct pn_tcp *t = tcp_of(s->st);

	while (s->ooo_head && pn_seq_le(s->ooo_head->pad, s->rcv_nxt)) {
		struct pn_pkt *q = s->ooo_head;
		uint32_t qe = q->pad + q->len;

		s->ooo_head = q->next;
		s->ooo_bytes -= q->len;
		if (pn_seq_le(qe, s->rcv_nxt)) {
			q->next = NULL;
			pn_pkt_free(q);
			continue;
		}
		/* queued packets are private (rcv_data), so this cannot fail */
		pn_pkt_adj(q, s->rcv_nxt - q->pad);
		q->pad = s->rcv_nxt;
		rq_append(s, q);
		s->rcv_nxt = qe;
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
			enter_time_wait(s);
		else
			s->state = PN_TCP_CLOSING;
		break;
	case PN_TCP_FIN_WAIT_2:
		enter_time_wait(s);
		break;
	default:
		break;
	}
	event(s, PN_TCP_EV_READABLE);
}

/* Payload and FIN of an acceptable segment; takes @p pkt (data = payload). */
static void rcv_data(struct pn_tcp_sock *s, struct pn_pkt *pkt, uint32_t seq, bool fin)
{
	struct pn_tcp *t = tcp_of(s->st);
	uint32_t len = pkt->len, edge = rcv_edge(s);

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
		event(s, PN_TCP_EV_READABLE);
	} else {
		/* a hole before it: keep the packet (no copy), ACK at once */
		s->rx_bytes += len;
		t->stats.rx_payload_bytes += len;
		ooo_insert(s, pkt, seq);
		send_ack(s); /* RFC 5681 4.2: a duplicate ACK at once, with SACK */
	}
	if (s->fin_pending && s->fin_seq == s->rcv_nxt)
		fin_received(s);
	want_work(s);
}

static void rtt_sample(struct pn_tcp_sock *s, uint32_t r_us)
{
	uint32_t min_rto = tcp_of(s->st)->conf.min_rto_ms;
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

/* Merge the peer's SACK blocks. @return true when they cover new bytes. */
static bool sack_update(struct pn_tcp_sock *s, const struct pn_tcp_opts *o)
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
	struct pn_tcp *t = tcp_of(s->st);
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
	if (send_segment(s, seq, PN_TCP_F_ACK, len) != 0)
		return false;
	s->high_rxt = seq + len;
	t->stats.retrans_segs++;
	s->retrans++;
	return true;
}

/* A new ACK: release acknowledged bytes, grow the congestion window. */
static void ack_advance(struct pn_tcp_sock *s, uint32_t ack)
{
	uint32_t acked = ack - s->snd_una;
	uint32_t data = PN_MIN(acked, s->sbuf_len);
	bool was_full = s->sbuf_size && s->sbuf_len == s->sbuf_size;

	if (s->rtt_timing && pn_seq_gt(ack, s->rtt_seq)) {
		s->rtt_timing = false;
		rtt_sample(s, (uint32_t)(pn_stack_now_us(s->st) - s->rtt_start_us));
	}
	if (data) {
		s->sbuf_head = (s->sbuf_head + data) % s->sbuf_size;
		s->sbuf_len -= data;
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
			s->cwnd = PN_MIN(s->ssthresh, flight(s) + s->mss);
		} else {
			/* partial ACK: the next hole is lost too */
			retransmit_hole(s);
			s->cwnd = s->cwnd > data ? s->cwnd - data + s->mss : s->mss;
		}
	} else if (s->cwnd < s->ssthresh) {
		s->cwnd += PN_MIN(acked, 2u * s->mss);
	} else {
		s->cwnd += PN_MAX(1u, (uint32_t)((uint64_t)s->mss * PN_MIN(acked, s->mss) / s->cwnd));
	}
	s->dupacks = 0;
	s->lt_extra = 0;
	if (s->snd_una == s->snd_max)
		pn_timer_cancel(&s->rtx);
	else
		arm_rtx(s);
	if (data && (was_full || s->sbuf_size - s->sbuf_len >= s->sbuf_size / 4))
		event(s, PN_TCP_EV_WRITABLE);
}

static void dup_ack(struct pn_tcp_sock *s)
{
	struct pn_tcp *t = tcp_of(s->st);

	t->stats.dup_acks_in++;
	if (s->in_recovery) {
		s->cwnd += s->mss; /* inflation: one segment left the network */
		retransmit_hole(s); /* with SACK, each dupack may repair one more */
		return;
	}
	uint32_t segs = (flight(s) + s->mss - 1) / s->mss;
	uint32_t unsent = s->sbuf_len > flight(s) ? s->sbuf_len - flight(s) : 0;
	unsigned thresh = 3;

	/* RFC 5827 early retransmit: too little in flight for three
	 * duplicates, and nothing new to send that would make them */
	if (s->sack_ok && segs < 4 && (unsent == 0 || s->snd_wnd <= flight(s)))
		thresh = segs > 1 ? segs - 1 : 1;
	if (++s->dupacks < thresh) {
		/* RFC 3042 limited transmit: one new segment per early dupack
		 * keeps the ACK clock going */
		s->lt_extra = s->dupacks * s->mss;
		tcp_output(s);
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
	s->ssthresh = PN_MAX(flight(s) / 2, 2u * s->mss);
	s->recover = s->snd_max;
	s->in_recovery = true;
	s->rtt_timing = false;
	s->high_rxt = s->snd_una;
	retransmit_hole(s);
	s->cwnd = s->ssthresh + 3u * s->mss;
}

static void set_mss(struct pn_tcp_sock *s, const struct pn_tcp_opts *o)
{
	uint32_t mss = (uint32_t)pn_stack_mtu(s->st) - 40;

	if (o->has_mss && o->mss < mss)
		mss = o->mss;
	if (mss < 88)
		mss = 88;
	s->peer_mss = (uint16_t)mss;
	s->mss = (uint16_t)(mss - (s->ts_ok ? 12 : 0));
	s->cwnd = PN_TCP_INIT_CWND_SEGS * s->mss;
	s->ssthresh = UINT32_MAX / 2;
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

static uint8_t wscale_for(uint32_t rcvbuf)
{
	uint8_t ws = 0;

	while (ws < 14 && (rcvbuf >> ws) > 0xffff)
		ws++;
	return ws;
}

static void listen_input(struct pn_tcp_sock *l, struct pn_pkt *pkt, uint32_t rip,
			 const struct pn_tcp_hdr *th, const struct pn_tcp_opts *o, uint32_t seg_len)
{
	struct pn_stack *st = l->st;
	struct pn_tcp *t = tcp_of(st);
	struct pn_tcp_sock *c;

	if (th->flags & PN_TCP_F_RST)
		goto out;
	if (th->flags & PN_TCP_F_ACK) {
		send_rst_reply(st, rip, th, seg_len);
		goto out;
	}
	if (!(th->flags & PN_TCP_F_SYN))
		goto out;
	if (l->nr_children >= l->backlog) {
		t->stats.listen_overflows++;
		goto out;
	}
	c = sock_alloc(st);
	if (c == NULL) {
		t->stats.syn_dropped_no_socket++;
		goto out;
	}
	c->rip = rip;
	c->rport = ntohs(th->sport);
	c->lport = l->lport;
	c->cb = l->cb;
	c->arg = l->arg;
	sock_named(c, l->acct);
	c->rcvbuf = l->rcvbuf;
	c->sbuf_size = l->sbuf_size;
	c->parent = l;
	l->nr_children++;
	c->state = PN_TCP_SYN_RCVD;
	c->irs = ntohl(th->seq);
	c->rcv_nxt = c->irs + 1;
	c->rcv_wscale = wscale_for(c->rcvbuf);
	negotiate(c, o, true);
	c->snd_wnd = ntohs(th->win); /* never scaled in a SYN */
	c->iss = pick_isn(c);
	c->snd_una = c->iss;
	c->snd_nxt = c->snd_max = c->iss + 1;
	c->recover = c->iss;
	c->snd_wl1 = c->irs;
	c->snd_wl2 = c->iss;
	hash_add(t, c);
	t->stats.passive_opens++;
	send_segment(c, c->iss, PN_TCP_F_SYN | PN_TCP_F_ACK, 0);
	arm_rtx(c);
out:
	pn_pkt_free(pkt);
}

static void syn_sent_input(struct pn_tcp_sock *s, struct pn_pkt *pkt, const struct pn_tcp_hdr *th,
			   const struct pn_tcp_opts *o, uint32_t seg_len)
{
	uint32_t seq = ntohl(th->seq), ack = ntohl(th->ack);
	struct pn_tcp *t = tcp_of(s->st);

	if ((th->flags & PN_TCP_F_ACK) && (pn_seq_le(ack, s->iss) || pn_seq_gt(ack, s->snd_max))) {
		send_rst_reply(s->st, s->rip, th, seg_len);
		goto out;
	}
	if (th->flags & PN_TCP_F_RST) {
		if (th->flags & PN_TCP_F_ACK)
			reset_conn(s, ECONNREFUSED);
		goto out;
	}
	if (!(th->flags & PN_TCP_F_SYN))
		goto out;
	s->irs = seq;
	s->rcv_nxt = seq + 1;
	/* the right edge our SYN offered, now that it has an origin: left as it
	 * was (set from rcv_nxt 0), it lay up to 2^31 ahead for about half of
	 * the peer's ISNs, and every segment that far ahead was accepted
	 * (found by fuzz_tcp_conn) */
	s->rcv_adv = s->rcv_nxt + PN_MIN(rcv_space(s), 65535u);
	negotiate(s, o, true);
	s->snd_wnd = ntohs(th->win);
	s->snd_wl1 = seq;
	s->snd_wl2 = ack;
	s->max_snd_wnd = s->snd_wnd;
	if (th->flags & PN_TCP_F_ACK) {
		s->snd_una = ack;
		s->state = PN_TCP_ESTABLISHED;
		s->backoff = 0;
		s->retries = 0;
		pn_timer_cancel(&s->rtx);
		t->stats.established++;
		send_ack(s);
		event(s, PN_TCP_EV_CONNECTED | PN_TCP_EV_WRITABLE);
		tcp_output(s);
	} else { /* simultaneous open */
		s->state = PN_TCP_SYN_RCVD;
		send_segment(s, s->iss, PN_TCP_F_SYN | PN_TCP_F_ACK, 0);
	}
out:
	pn_pkt_free(pkt);
}

static void tcp_input(struct pn_stack *st, struct pn_pkt *pkt, const struct pn_l3_info *l3,
		      void *priv)
{
	struct pn_tcp *t = priv;
	struct pn_tcp_hdr *th;
	uint32_t len = pkt->len, hlen, seq, ack, seg_len, plen;
	/* copies: the header may move if pulling it up unshares the packet */
	uint32_t rip = l3->src;
	struct pn_tcp_opts o;
	struct pn_tcp_sock *s;
	bool acceptable;

	t->stats.segs_in++;
	/* the header (and options) may sit in fragments of a header-split or
	 * multi-buffer frame: pull them into the linear part */
	if (pn_unlikely(len < sizeof(*th) || pn_pkt_may_pull(pkt, sizeof(*th)) != 0)) {
		t->stats.bad_segs++;
		goto drop;
	}
	th = (struct pn_tcp_hdr *)pn_pkt_data(pkt);
	hlen = (th->doff >> 4) * 4u;
	if (pn_unlikely(hlen < sizeof(*th) || hlen > len || pn_pkt_may_pull(pkt, hlen) != 0)) {
		t->stats.bad_segs++;
		goto drop;
	}
	th = (struct pn_tcp_hdr *)pn_pkt_data(pkt);
	if (pn_unlikely(pn_csum_fold(pn_pkt_csum_add(pkt, 0, len,
			pn_l3_pseudo(l3, (uint16_t)len))) != 0)) {
		t->stats.bad_csum++;
		goto drop;
	}
	if (!pn_tcp_opts_parse((const uint8_t *)(th + 1), hlen - (unsigned)sizeof(*th), &o)) {
		t->stats.bad_segs++;
		goto drop;
	}
	if (th->flags & PN_TCP_F_RST)
		t->stats.rst_in++;
	seq = ntohl(th->seq);
	ack = ntohl(th->ack);
	plen = len - hlen;
	seg_len = plen + ((th->flags & PN_TCP_F_SYN) ? 1 : 0) + ((th->flags & PN_TCP_F_FIN) ? 1 : 0);

	s = lookup(t, rip, ntohs(th->sport), ntohs(th->dport));
	if (s && s->state == PN_TCP_TIME_WAIT && (th->flags & (PN_TCP_F_SYN | PN_TCP_F_ACK | PN_TCP_F_RST)) == PN_TCP_F_SYN &&
	    pn_seq_gt(seq, s->rcv_nxt)) {
		/* a new incarnation of the connection (RFC 1122 4.2.2.13, as
		 * Linux): end TIME_WAIT and let the listener take the SYN */
		sock_set_closed(s, 0);
		s = NULL;
	}
	if (s == NULL) {
		struct pn_tcp_sock *l = lookup_listener(t, ntohs(th->dport));

		if (l) {
			listen_input(l, pkt, rip, th, &o, seg_len);
			return;
		}
		send_rst_reply(st, rip, th, seg_len);
		goto drop;
	}
	if (s->state == PN_TCP_SYN_SENT) {
		syn_sent_input(s, pkt, th, &o, seg_len);
		return;
	}

	if (s->state == PN_TCP_SYN_RCVD && (th->flags & PN_TCP_F_SYN) && !(th->flags & PN_TCP_F_ACK) &&
	    seq == s->irs) {
		send_segment(s, s->iss, PN_TCP_F_SYN | PN_TCP_F_ACK, 0); /* our SYN-ACK was lost */
		goto drop;
	}
	/* RFC 9293 3.10.7.4: is the segment in the receive window? */
	{
		uint32_t edge = rcv_edge(s);
		uint32_t wnd = edge - s->rcv_nxt;

		if (wnd == 0)
			acceptable = seg_len == 0 && seq == s->rcv_nxt;
		else if (seg_len == 0)
			acceptable = pn_seq_ge(seq, s->rcv_nxt) && pn_seq_lt(seq, edge);
		else
			acceptable = (pn_seq_ge(seq, s->rcv_nxt) && pn_seq_lt(seq, edge)) ||
				     (pn_seq_ge(seq + seg_len - 1, s->rcv_nxt) &&
				      pn_seq_lt(seq + seg_len - 1, edge));
		/* a retransmitted SYN-ACK or FIN we already took gets an ACK */
	}
	if (!acceptable) {
		if (!(th->flags & PN_TCP_F_RST)) {
			if (seg_len)
				t->stats.dup_data_segs++;
			if (s->state == PN_TCP_TIME_WAIT && (th->flags & PN_TCP_F_FIN))
				pn_timer_arm(pn_stack_wheel(st), &s->rtx, pn_stack_now_ms(st) + t->conf.time_wait_ms);
			send_ack(s);
		}
		goto drop;
	}
	if (th->flags & PN_TCP_F_RST) {
		/* RFC 5961 3.2: only an exact match resets; others are challenged */
		if (seq == s->rcv_nxt) {
			reset_conn(s, s->state == PN_TCP_CLOSE_WAIT ? EPIPE : ECONNRESET);
		} else {
			t->stats.rfc5961_rst_dropped++;
			challenge_ack(s);
		}
		goto drop;
	}
	if (th->flags & PN_TCP_F_SYN) {
		/* RFC 5961 4.2: a SYN on a synchronized connection is challenged */
		challenge_ack(s);
		goto drop;
	}
	if (!(th->flags & PN_TCP_F_ACK))
		goto drop;
	if (o.has_ts && s->ts_ok && pn_seq_le(seq, s->rcv_nxt))
		s->ts_recent = o.tsval;

	if (s->state == PN_TCP_SYN_RCVD) {
		struct pn_tcp_sock *l = s->parent;

		if (!pn_seq_gt(ack, s->snd_una) || pn_seq_gt(ack, s->snd_max)) {
			send_rst_reply(st, rip, th, seg_len);
			goto drop;
		}
		s->state = PN_TCP_ESTABLISHED;
		s->snd_una = ack;
		s->backoff = 0;
		s->retries = 0;
		pn_timer_cancel(&s->rtx);
		s->snd_wnd = (uint32_t)ntohs(th->win) << s->snd_wscale;
		s->max_snd_wnd = s->snd_wnd;
		s->snd_wl1 = seq;
		s->snd_wl2 = ack;
		t->stats.established++;
		if (l) {
			s->in_aq = true;
			s->aq_next = NULL;
			if (l->aq_tail)
				l->aq_tail->aq_next = s;
			else
				l->aq_head = s;
			l->aq_tail = s;
			event(l, PN_TCP_EV_ACCEPT);
		} else {
			event(s, PN_TCP_EV_CONNECTED | PN_TCP_EV_WRITABLE);
		}
	} else {
		/* RFC 5961 5.2: ACK of something we never sent, or too old */
		if (pn_seq_gt(ack, s->snd_max) ||
		    pn_seq_lt(ack, s->snd_una - PN_MAX(s->max_snd_wnd, 65535u))) {
			challenge_ack(s);
			goto drop;
		}
		bool sack_news = s->sack_ok && o.nr_sack && sack_update(s, &o);

		if (pn_seq_gt(ack, s->snd_una)) {
			ack_advance(s, ack);
		} else if (ack == s->snd_una && s->snd_max != s->snd_una &&
			   (sack_news || (plen == 0 && !(th->flags & PN_TCP_F_FIN) &&
					  ((uint32_t)ntohs(th->win) << s->snd_wscale) == s->snd_wnd))) {
			dup_ack(s);
		}
		/* window update (RFC 9293 3.10.7.4, SND.WL1/WL2 rule) */
		if (pn_seq_lt(s->snd_wl1, seq) ||
		    (s->snd_wl1 == seq && pn_seq_le(s->snd_wl2, ack))) {
			uint32_t old = s->snd_wnd;

			s->snd_wnd = (uint32_t)ntohs(th->win) << s->snd_wscale;
			s->snd_wl1 = seq;
			s->snd_wl2 = ack;
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
					arm_rtx(s);
			}
		}
		if (s->fin_acked) {
			switch (s->state) {
			case PN_TCP_FIN_WAIT_1:
				s->state = PN_TCP_FIN_WAIT_2;
				if (s->orphan)
					pn_timer_arm(pn_stack_wheel(st), &s->rtx, pn_stack_now_ms(st) + PN_TCP_FIN_TIMEOUT_MS);
				break;
			case PN_TCP_CLOSING:
				enter_time_wait(s);
				break;
			case PN_TCP_LAST_ACK:
				sock_set_closed(s, 0);
				goto drop;
			default:
				break;
			}
		}
	}
	if (s->state == PN_TCP_TIME_WAIT) {
		if (th->flags & PN_TCP_F_FIN) {
			send_ack(s);
			pn_timer_arm(pn_stack_wheel(st), &s->rtx, pn_stack_now_ms(st) + t->conf.time_wait_ms);
		}
		goto drop;
	}
	if (plen || (th->flags & PN_TCP_F_FIN)) {
		pn_pkt_pull(pkt, hlen);
		rcv_data(s, pkt, seq, th->flags & PN_TCP_F_FIN);
		return;
	}
	want_work(s); /* the ACK may have opened the window */
drop:
	pn_pkt_free(pkt);
}

/* End of a receive burst: output, ACKs, then the application's callbacks. */
static void tcp_after_burst(struct pn_stack *st, void *priv)
{
	struct pn_tcp *t = priv;

	/* tokens other threads released since the last round: their bytes
	 * go back to the sockets' windows in this round */
	t->stats.zc_released_remote += pn_zc_settle(t->zc, st);

	while (t->work_head) {
		struct pn_tcp_sock *s = t->work_head;

		t->work_head = s->work_next;
		s->work_listed = false;
		if (s->free_listed || s->state == PN_TCP_CLOSED)
			continue;
		tcp_output(s);
		if (s->wnd_check) {
			s->wnd_check = false;
			window_maybe_update(s);
		}
		if (s->ack_now || s->segs_unacked >= 2)
			send_ack(s);
		else if (s->segs_unacked && !pn_timer_armed(&s->delack))
			pn_timer_arm(pn_stack_wheel(st), &s->delack, pn_stack_now_ms(st) + t->conf.delack_ms);
	}
	while (t->ev_head) {
		struct pn_tcp_sock *s = t->ev_head;
		unsigned ev;

		t->ev_head = s->ev_next;
		if (t->ev_head == NULL)
			t->ev_tail = NULL;
		s->ev_listed = false;
		ev = s->ev;
		s->ev = 0;
		if (!s->orphan && !s->in_aq && s->cb && !s->free_listed)
			s->cb(s, ev, s->arg);
	}
	{
		struct pn_tcp_sock *list = t->free_head;

		t->free_head = NULL;
		while (list) {
			struct pn_tcp_sock *s = list;

			list = s->free_next;
			if (s->ev_listed || s->work_listed) { /* still listed: next round */
				s->free_next = t->free_head;
				t->free_head = s;
				continue;
			}
			sock_free(s);
		}
	}
}

static void tcp_fini(struct pn_stack *st, void *priv)
{
	struct pn_tcp *t = priv;

	if (t == NULL)
		return;
	for (uint32_t i = 0; i < t->conf.max_sockets; i++) {
		struct pn_tcp_sock *s = t->socks[i];

		if (s == NULL)
			continue;
		if (s->state >= PN_TCP_SYN_RCVD && s->state != PN_TCP_TIME_WAIT)
			send_segment(s, s->snd_nxt, PN_TCP_F_RST | PN_TCP_F_ACK, 0);
		sock_free(s);
	}
	/* tokens still out stay valid: their table waits for them */
	pn_zc_table_put(t->zc);
	pn_acct_unpin(&t->conf_pin);
	free(t->socks);
	free(t->gen);
	free(t->free_slots);
	free(t);
	pn_stack_l4_unregister(st, PN_IPPROTO_TCP);
}

static const struct pn_l4_proto tcp_proto = {
	.name = "tcp",
	.proto = PN_IPPROTO_TCP,
	.input = tcp_input,
	.after_burst = tcp_after_burst,
	.fini = tcp_fini,
};

int pn_tcp_configure(struct pn_stack *st, const struct pn_tcp_conf *conf)
{
	struct pn_tcp *t;
	int err;
	struct pn_tcp_conf c = {
		.sz = sizeof(c), .rcvbuf = 512 * 1024, .sndbuf = 256 * 1024,
		.max_sockets = 4096, .time_wait_ms = 60000, .delack_ms = 40, .min_rto_ms = 200,
		.max_zc_tokens = 65536,
	};

	if (tcp_of(st) != NULL)
		return -EBUSY;
	if (conf) {
		if (conf->sz < sizeof(*conf) || conf->max_sockets > 65535)
			return -EINVAL;
		if (conf->rcvbuf)
			c.rcvbuf = conf->rcvbuf;
		if (conf->sndbuf)
			c.sndbuf = conf->sndbuf;
		if (conf->max_sockets)
			c.max_sockets = conf->max_sockets;
		if (conf->time_wait_ms)
			c.time_wait_ms = conf->time_wait_ms;
		if (conf->delack_ms)
			c.delack_ms = conf->delack_ms;
		if (conf->min_rto_ms)
			c.min_rto_ms = conf->min_rto_ms;
		if (conf->max_zc_tokens)
			c.max_zc_tokens = conf->max_zc_tokens;
		c.acct = conf->acct;
	}
	if (c.rcvbuf < 4096 || c.sndbuf < 4096 || c.rcvbuf > (1u << 30) ||
	    !PN_IS_POW2(c.max_zc_tokens) || c.max_zc_tokens > (1u << 24))
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	t->conf = c;
	t->socks = calloc(c.max_sockets, sizeof(*t->socks));
	t->gen = calloc(c.max_sockets, sizeof(*t->gen));
	t->free_slots = calloc(c.max_sockets, sizeof(*t->free_slots));
	if (t->socks == NULL || t->gen == NULL || t->free_slots == NULL) {
		free(t->socks);
		free(t->gen);
		free(t->free_slots);
		free(t);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < c.max_sockets; i++) {
		t->free_slots[i] = c.max_sockets - 1 - i;
		t->gen[i] = 1; /* an id is never 0 */
	}
	t->nr_free = c.max_sockets;
	t->zc = pn_zc_table_get(st, c.max_zc_tokens);
	if (t->zc == NULL) {
		err = errno;

		free(t->socks);
		free(t->gen);
		free(t->free_slots);
		free(t);
		return -err;
	}
	if (c.acct != NULL &&
	    pn_acct_pin(c.acct, &t->conf_pin, "tcp stack %s default group",
			pn_ip_str(pn_stack_ip(st), (char[16]){ 0 })) != 0)
		t->conf.acct = NULL;
	if (getrandom(&t->isn_key, sizeof(t->isn_key), 0) != sizeof(t->isn_key))
		t->isn_key = mix64(pn_stack_now_us(st));
	t->next_port = (uint16_t)(32768 + mix64(t->isn_key) % 28000);
	err = -pn_stack_l4_register(st, &tcp_proto, t);
	if (err) {
		pn_acct_unpin(&t->conf_pin);
		pn_zc_table_put(t->zc);
		free(t->socks);
		free(t->gen);
		free(t->free_slots);
		free(t);
		return -err;
	}
	return 0;
}

/* TCP with default settings unless pn_tcp_configure came first.
 * @return the stack's TCP, or NULL with errno set. */
static struct pn_tcp *tcp_ready(struct pn_stack *st)
{
	int rc = tcp_of(st) ? 0 : pn_tcp_configure(st, NULL);

	if (rc) {
		errno = -rc;
		return NULL;
	}
	return tcp_of(st);
}

/* ---- application API */

struct pn_tcp_sock *pn_tcp_listen(struct pn_stack *st, uint16_t port, int backlog,
				  pn_tcp_cb cb, void *arg)
{
	struct pn_tcp *t = tcp_ready(st);
	struct pn_tcp_sock *s;

	if (t == NULL)
		return NULL;
	if (port == 0 || backlog <= 0) {
		errno = EINVAL;
		return NULL;
	}
	if (lookup_listener(t, port)) {
		errno = EADDRINUSE;
		return NULL;
	}
	s = sock_alloc(st);
	if (s == NULL)
		return NULL;
	s->state = PN_TCP_LISTEN;
	s->lport = port;
	sock_named(s, t->conf.acct);
	s->backlog = backlog;
	s->cb = cb;
	s->arg = arg;
	s->hnext = t->listeners;
	t->listeners = s;
	s->hashed = true;
	t->stats.listeners++;
	return s;
}

struct pn_tcp_sock *pn_tcp_accept(struct pn_tcp_sock *l)
{
	struct pn_tcp_sock *c;

	if (l->state != PN_TCP_LISTEN || l->aq_head == NULL) {
		errno = l->state == PN_TCP_LISTEN ? EAGAIN : EINVAL;
		return NULL;
	}
	c = l->aq_head;
	l->aq_head = c->aq_next;
	if (l->aq_head == NULL)
		l->aq_tail = NULL;
	c->aq_next = NULL;
	c->in_aq = false;
	c->parent = NULL;
	l->nr_children--;
	/* what happened while it waited (data, FIN) is reported now */
	c->ev |= PN_TCP_EV_WRITABLE | (c->rq_head || c->fin_rcvd ? PN_TCP_EV_READABLE : 0);
	event(c, 0);
	return c;
}

struct pn_tcp_sock *pn_tcp_connect(struct pn_stack *st, uint32_t ip, uint16_t port,
				   pn_tcp_cb cb, void *arg)
{
	struct pn_tcp *t = tcp_ready(st);
	struct pn_tcp_sock *s;

	if (t == NULL)
		return NULL;
	if (ip == 0 || port == 0) {
		errno = EINVAL;
		return NULL;
	}
	if (!pn_ip_is_host(st, ip)) {
		errno = EADDRNOTAVAIL;
		return NULL;
	}
	s = sock_alloc(st);
	if (s == NULL)
		return NULL;
	s->rip = ip;
	s->rport = port;
	for (unsigned tries = 0;; tries++) {
		/* ephemeral range as Linux: 32768-60999 */
		if (tries == 28232) {
			sock_free(s);
			errno = EADDRNOTAVAIL;
			return NULL;
		}
		if (++t->next_port > 60999 || t->next_port < 32768)
			t->next_port = 32768;
		if (lookup(t, ip, port, t->next_port) == NULL && lookup_listener(t, t->next_port) == NULL)
			break;
	}
	s->lport = t->next_port;
	s->cb = cb;
	s->arg = arg;
	s->state = PN_TCP_SYN_SENT;
	sock_named(s, t->conf.acct);
	s->rcv_wscale = wscale_for(s->rcvbuf);
	s->iss = pick_isn(s);
	s->snd_una = s->iss;
	s->snd_nxt = s->snd_max = s->iss + 1;
	s->recover = s->iss;
	hash_add(t, s);
	t->stats.active_opens++;
	send_segment(s, s->iss, PN_TCP_F_SYN, 0);
	arm_rtx(s);
	return s;
}

void pn_tcp_set_cb(struct pn_tcp_sock *s, pn_tcp_cb cb, void *arg)
{
	s->cb = cb;
	s->arg = arg;
}

void *pn_tcp_arg(const struct pn_tcp_sock *s) { return s->arg; }

void pn_tcp_set_acct(struct pn_tcp_sock *s, struct pn_acct_group *g) { sock_set_acct(s, g); }

size_t pn_tcp_send_space(const struct pn_tcp_sock *s)
{
	return s->sbuf_size - s->sbuf_len;
}

ssize_t pn_tcp_send(struct pn_tcp_sock *s, const void *buf, size_t len)
{
	uint32_t room, n, tail, first;

	if (s->err)
		return -s->err;
	if (s->shut_wr || s->orphan)
		return -EPIPE;
	if (s->state != PN_TCP_ESTABLISHED && s->state != PN_TCP_CLOSE_WAIT &&
	    s->state != PN_TCP_SYN_SENT && s->state != PN_TCP_SYN_RCVD)
		return -ENOTCONN;
	if (s->sbuf == NULL) {
		s->sbuf = malloc(s->sbuf_size);
		if (s->sbuf == NULL)
			return -ENOMEM;
	}
	room = s->sbuf_size - s->sbuf_len;
	if (room == 0)
		return -EAGAIN;
	n = (uint32_t)PN_MIN((size_t)room, len);
	tail = (s->sbuf_head + s->sbuf_len) % s->sbuf_size;
	first = PN_MIN(n, s->sbuf_size - tail);
	memcpy(s->sbuf + tail, buf, first);
	memcpy(s->sbuf, (const uint8_t *)buf + first, n - first);
	s->sbuf_len += n;
	s->tx_bytes += n;
	tcp_output(s);
	return n;
}

/* After the application took bytes: announce a window that grew a lot. */
static void window_maybe_update(struct pn_tcp_sock *s)
{
	uint32_t cur, space;

	if (s->state != PN_TCP_ESTABLISHED && s->state != PN_TCP_FIN_WAIT_1 &&
	    s->state != PN_TCP_FIN_WAIT_2)
		return;
	cur = pn_seq_gt(s->rcv_adv, s->rcv_nxt) ? s->rcv_adv - s->rcv_nxt : 0;
	space = rcv_space(s);
	if (space >= 2 * cur && space - cur >= 2u * s->mss) {
		tcp_of(s->st)->stats.window_updates++;
		send_ack(s);
	}
}

static int recv_check(struct pn_tcp_sock *s)
{
	if (s->rq_head)
		return 1;
	if (s->fin_rcvd)
		return 0;
	if (s->err)
		return -s->err;
	if (s->state == PN_TCP_LISTEN || s->state == PN_TCP_CLOSED)
		return -ENOTCONN;
	return -EAGAIN;
}

/* Take the head packet off the receive queue and free it. */
static void rq_unlink_free(struct pn_tcp_sock *s, struct pn_pkt *p)
{
	s->rq_head = p->next;
	if (s->rq_head == NULL)
		s->rq_tail = NULL;
	p->next = NULL;
	pn_pkt_free(p);
}

ssize_t pn_tcp_recv(struct pn_tcp_sock *s, void *buf, size_t len)
{
	struct pn_tcp *t = tcp_of(s->st);
	uint8_t *dst = buf;
	size_t done = 0;
	int rc = recv_check(s);

	if (rc <= 0)
		return rc;
	while (s->rq_head && done < len) {
		struct pn_pkt *p = s->rq_head;
		uint32_t n = (uint32_t)PN_MIN((size_t)p->len, len - done);

		pn_pkt_copy_bits(p, 0, dst + done, n);
		done += n;
		s->rq_bytes -= n;
		if (n == p->len)
			rq_unlink_free(s, p);
		else
			pn_pkt_adj(p, n); /* queued packets are private: cannot fail */
	}
	s->copy_bytes += done;
	t->stats.copy_bytes += done;
	s->wnd_check = true; /* one window update per round, not per read */
	want_work(s);
	return (ssize_t)done;
}

/*
 * Hand out one piece of the packet at the head of the receive queue: a
 * token for the whole packet when it is its only piece (no atomic), else a
 * token for a page reference to that piece, the rest of the packet staying
 * queued. Over the group's max, or with every token out, the piece is
 * copied into the caller's fallback buffer instead.
 * @return 1 when @p v was filled, 0 when the piece cannot go now.
 */
static int zc_piece(struct pn_tcp_sock *s, struct pn_pkt *p, const struct pn_pkt_piece *pc,
		    bool whole, struct pn_zc_vec *v, uint8_t *cb, size_t copy_len, size_t *used,
		    bool *refused)
{
	struct pn_tcp *t = tcp_of(s->st);
	int charge = pn_pool_charge(pc->frame, s->acct, PN_ACCT_ZC);
	uint64_t token = 0;

	if (charge == 0) {
		if (!whole)
			pn_frame_get(pc->frame);
		token = pn_zc_issue(t->zc, whole ? (void *)p : (void *)pc->frame, !whole, s->id,
				    pc->len);
		if (pn_unlikely(token == 0)) {
			if (!whole)
				pn_frame_put(pc->frame);
			t->stats.zc_tokens_exhausted++;
		}
	} else if (!*refused) {
		t->stats.zc_charge_refused++;
		*refused = true;
	}
	if (pn_likely(token != 0)) {
		pn_frame_set_holder(pc->frame, PN_HOLDER(s->holder, PN_VIA_ZC));
		v->base = pc->base;
		v->len = pc->len;
		v->token = token;
		s->zc_held += pc->len;
		s->zc_bytes += pc->len;
		t->stats.zc_bytes += pc->len;
		return 1;
	}
	/* copy, and let the page go once the packet is done with */
	if (cb == NULL || copy_len - *used < pc->len)
		return 0;
	memcpy(cb + *used, pc->base, pc->len);
	v->base = cb + *used;
	v->len = pc->len;
	v->token = 0;
	*used += pc->len;
	s->fallback_bytes += pc->len;
	t->stats.fallback_bytes += pc->len;
	if (charge != 0)
		pn_acct_note_copied(s->acct, pc->len);
	return 1;
}

int pn_tcp_recv_zc(struct pn_tcp_sock *s, struct pn_zc_vec *vec, unsigned max,
		   void *copy_buf, size_t copy_len)
{
	size_t used = 0;
	unsigned n = 0;
	bool refused = false;
	int rc;

	if (vec == NULL || max == 0)
		return -EINVAL;
	rc = recv_check(s);
	if (rc <= 0)
		return rc;
	while (s->rq_head && n < max) {
		struct pn_pkt *p = s->rq_head;
		struct pn_pkt_piece pc[PN_PKT_MAX_FRAGS + 1];
		unsigned np = pn_pkt_pieces(p, pc, PN_DIM(pc));

		if (np == 1) {
			/* the common case: one piece, the packet is the token */
			if (!zc_piece(s, p, &pc[0], true, &vec[n], copy_buf, copy_len, &used,
				      &refused))
				break;
			s->rq_bytes -= p->len;
			s->rq_head = p->next;
			if (s->rq_head == NULL)
				s->rq_tail = NULL;
			p->next = NULL;
			if (vec[n].token == 0)
				pn_pkt_free(p);
			n++;
			continue;
		}
		/* several pieces: a page reference per piece, taken off the
		 * front of the packet as it goes */
		for (unsigned i = 0; i < np && n < max; i++) {
			uint32_t plen = pc[i].len;

			if (!zc_piece(s, p, &pc[i], false, &vec[n], copy_buf, copy_len, &used,
				      &refused))
				goto out;
			n++;
			s->rq_bytes -= plen;
			if (plen == p->len) {
				rq_unlink_free(s, p);
				break;
			}
			pn_pkt_adj(p, plen); /* queued packets are private: cannot fail */
		}
	}
out:
	if (used) {
		s->wnd_check = true;
		want_work(s);
	}
	if (n == 0)
		return -ENOBUFS;
	return (int)n;
}

void pn_tcp_zc_returned(struct pn_stack *st, uint32_t sock_id, uint32_t len)
{
	struct pn_tcp *t = tcp_of(st);
	uint32_t slot = sock_id & 0xffff;
	struct pn_tcp_sock *s;

	if (t == NULL || slot >= t->conf.max_sockets)
		return;
	s = t->socks[slot];
	if (s != NULL && s->id == sock_id) {
		s->zc_held -= len;
		s->wnd_check = true; /* announced at the end of the round */
		want_work(s);
	}
}

int pn_tcp_shutdown(struct pn_tcp_sock *s)
{
	switch (s->state) {
	case PN_TCP_ESTABLISHED:
		s->state = PN_TCP_FIN_WAIT_1;
		break;
	case PN_TCP_CLOSE_WAIT:
		s->state = PN_TCP_LAST_ACK;
		break;
	case PN_TCP_SYN_RCVD:
	case PN_TCP_SYN_SENT:
		return -ENOTCONN;
	default:
		return s->shut_wr ? 0 : -ENOTCONN;
	}
	s->shut_wr = true;
	s->fin_queued = true;
	tcp_output(s);
	return 0;
}

void pn_tcp_abort(struct pn_tcp_sock *s)
{
	struct pn_tcp *t = tcp_of(s->st);

	if (s->state == PN_TCP_LISTEN) {
		pn_tcp_close(s);
		return;
	}
	s->orphan = true;
	if (s->state >= PN_TCP_SYN_RCVD && s->state != PN_TCP_TIME_WAIT &&
	    s->state != PN_TCP_CLOSED)
		send_segment(s, s->snd_nxt, PN_TCP_F_RST | PN_TCP_F_ACK, 0);
	t->stats.resets++;
	rq_purge(s);
	sock_set_closed(s, ECONNABORTED);
}

void pn_tcp_close(struct pn_tcp_sock *s)
{
	struct pn_tcp *t = tcp_of(s->st);

	if (s->orphan)
		return;
	if (s->state == PN_TCP_LISTEN) {
		/* children that were never accepted are reset */
		for (uint32_t i = 0; i < t->conf.max_sockets; i++) {
			struct pn_tcp_sock *c = t->socks[i];

			if (c && c->parent == s)
				pn_tcp_abort(c);
		}
		hash_del(t, s);
		t->stats.listeners--;
		s->orphan = true;
		s->state = PN_TCP_CLOSED;
		free_later(s);
		return;
	}
	if (s->rq_bytes || s->ooo_bytes) { /* unread data: RFC 2525 2.17 */
		pn_tcp_abort(s);
		return;
	}
	s->orphan = true;
	switch (s->state) {
	case PN_TCP_SYN_SENT:
	case PN_TCP_CLOSED:
		sock_set_closed(s, 0);
		return;
	case PN_TCP_SYN_RCVD:
	case PN_TCP_ESTABLISHED:
	case PN_TCP_CLOSE_WAIT:
		pn_tcp_shutdown(s);
		if (s->state == PN_TCP_SYN_RCVD) /* no FIN before the handshake ends */
			pn_tcp_abort(s);
		return;
	case PN_TCP_FIN_WAIT_2:
		pn_timer_arm(pn_stack_wheel(s->st), &s->rtx, pn_stack_now_ms(s->st) + PN_TCP_FIN_TIMEOUT_MS);
		return;
	default:
		return; /* FIN already on its way; the state machine ends it */
	}
}

enum pn_tcp_state pn_tcp_state(const struct pn_tcp_sock *s) { return s->state; }

const char *pn_tcp_state_name(enum pn_tcp_state st)
{
	static const char *const names[] = {
		"CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1",
		"FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT",
	};

	return (unsigned)st < PN_DIM(names) ? names[st] : "?";
}

int pn_tcp_error(const struct pn_tcp_sock *s) { return s->err; }

bool pn_tcp_eof(const struct pn_tcp_sock *s) { return s->fin_rcvd && s->rq_head == NULL; }

void pn_tcp_info_get(const struct pn_tcp_sock *s, struct pn_tcp_info *i)
{
	memset(i, 0, sizeof(*i));
	i->state = s->state;
	i->peer_ip = s->rip;
	i->peer_port = s->rport;
	i->local_port = s->lport;
	i->mss = s->mss;
	i->snd_wnd = s->snd_wnd;
	i->cwnd = s->cwnd;
	i->ssthresh = s->ssthresh;
	i->rcv_wnd = pn_seq_gt(s->rcv_adv, s->rcv_nxt) ? s->rcv_adv - s->rcv_nxt : 0;
	i->srtt_us = s->srtt_us;
	i->rto_ms = rto_now(s);
	i->rcv_queued = s->rq_bytes;
	i->ooo_queued = s->ooo_bytes;
	i->zc_held = s->zc_held;
	i->snd_queued = s->sbuf_len;
	i->snd_una = s->snd_una;
	i->snd_nxt = s->snd_nxt;
	i->rcv_nxt = s->rcv_nxt;
	i->ts = s->ts_ok;
	i->sack = s->sack_ok;
	i->wscale = s->ws_ok;
	i->bytes_received = s->rx_bytes;
	i->bytes_sent = s->tx_bytes;
	i->retransmits = s->retrans;
	i->zc_bytes = s->zc_bytes;
	i->copy_bytes = s->copy_bytes;
	i->fallback_bytes = s->fallback_bytes;
}

void pn_tcp_stats_get(const struct pn_stack *st, struct pn_tcp_stats *s)
{
	const struct pn_tcp *t = tcp_of(st);

	if (t) {
		*s = t->stats;
		s->zc_tokens_out = pn_zc_outstanding(t->zc);
		s->zc_bad_tokens = pn_zc_bad(t->zc);
	} else {
		memset(s, 0, sizeof(*s));
	}
}
