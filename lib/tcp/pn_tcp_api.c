/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The application's side: listen, accept, connect, send, receive by copy
 * and by zero copy, shutdown, close, abort, and what can be read about a
 * socket or the stack.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pn_tcp_priv.h"

/* ---- application API */

struct pn_tcp_sock *pn_tcp_listen(struct pn_stack *st, uint16_t port, int backlog,
				  pn_tcp_cb cb, void *arg)
{
	struct pn_tcp *t = pn_tcp_ready(st);
	struct pn_tcp_sock *s;

	if (t == NULL)
		return NULL;
	if (port == 0 || backlog <= 0) {
		errno = EINVAL;
		return NULL;
	}
	if (pn_tcp_lookup_listener(t, port)) {
		errno = EADDRINUSE;
		return NULL;
	}
	s = pn_tcp_sock_alloc(st);
	if (s == NULL)
		return NULL;
	s->state = PN_TCP_LISTEN;
	s->lport = port;
	pn_tcp_sock_named(s, t->conf.acct);
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
	l->nr_acq--;
	/* what happened while it waited (data, FIN) is reported now */
	c->ev |= PN_TCP_EV_WRITABLE | (c->rq_head || c->fin_rcvd ? PN_TCP_EV_READABLE : 0);
	pn_tcp_event(c, 0);
	return c;
}

struct pn_tcp_sock *pn_tcp_connect(struct pn_stack *st, uint32_t ip, uint16_t port,
				   pn_tcp_cb cb, void *arg)
{
	struct pn_addr a = pn_addr_v4(ip);

	if (ip == 0) {
		errno = EINVAL;
		return NULL;
	}
	return pn_tcp_connect_addr(st, &a, port, cb, arg);
}

struct pn_tcp_sock *pn_tcp_connect_addr(struct pn_stack *st, const struct pn_addr *ip,
					uint16_t port, pn_tcp_cb cb, void *arg)
{
	struct pn_tcp *t = pn_tcp_ready(st);
	struct pn_tcp_sock *s;

	if (t == NULL)
		return NULL;
	if (ip == NULL || pn_addr_is_zero(ip) || port == 0) {
		errno = EINVAL;
		return NULL;
	}
	if (!pn_l3_is_host(st, ip) || (!pn_addr_is_v4(ip) && !pn_stack_ip6_ready(st))) {
		errno = EADDRNOTAVAIL;
		return NULL;
	}
	s = pn_tcp_sock_alloc(st);
	if (s == NULL)
		return NULL;
	s->rip = *ip;
	s->rport = port;
	for (unsigned tries = 0;; tries++) {
		uint32_t h;

		/* ephemeral range as Linux: 32768-60999 */
		if (tries == 28232) {
			pn_tcp_sock_free(s);
			errno = EADDRNOTAVAIL;
			return NULL;
		}
		if (++t->next_port > 60999 || t->next_port < 32768)
			t->next_port = 32768;
		h = pn_tcp_tuple_hash(t, ip, port, t->next_port);

		/* in a group, a port whose replies come (or are handed) to us */
		if (pn_stack_owns_flow(st, ip, port, t->next_port) &&
		    pn_tcp_lookup(t, h, ip, port, t->next_port) == NULL &&
		    pn_tcp_tw_lookup(t, h, ip, port, t->next_port) == NULL &&
		    pn_tcp_lookup_listener(t, t->next_port) == NULL)
			break;
	}
	s->lport = t->next_port;
	s->cb = cb;
	s->arg = arg;
	s->state = PN_TCP_SYN_SENT;
	pn_tcp_sock_named(s, t->conf.acct);
	s->rcv_wscale = pn_tcp_wscale_of(t, s->rcvbuf);
	s->iss = pn_tcp_pick_isn(s);
	s->snd_una = s->iss;
	s->snd_nxt = s->snd_max = s->iss + 1;
	pn_tcp_hash_add(t, s);
	t->stats.active_opens++;
	pn_tcp_send_segment(s, s->iss, PN_TCP_F_SYN, 0);
	s->rtt_timing = true; /* the handshake's round trip */
	s->rtt_start_us = pn_stack_now_us(st);
	pn_tcp_arm_rtx(s);
	return s;
}

void pn_tcp_set_cb(struct pn_tcp_sock *s, pn_tcp_cb cb, void *arg)
{
	s->cb = cb;
	s->arg = arg;
}

void *pn_tcp_arg(const struct pn_tcp_sock *s) { return s->arg; }

void pn_tcp_set_acct(struct pn_tcp_sock *s, struct pn_acct_group *g) { pn_tcp_sock_set_acct(s, g); }

int pn_tcp_set_keepalive(struct pn_tcp_sock *s, uint32_t idle_ms, uint32_t interval_ms,
			 uint32_t count)
{
	if (idle_ms > INT32_MAX || interval_ms > INT32_MAX || count > 255)
		return -EINVAL;
	s->ka_idle_ms = idle_ms;
	s->ka_intvl_ms = interval_ms ? interval_ms : 75000;
	s->ka_cnt = (uint8_t)(count ? count : 9);
	s->ka_probes = 0;
	if (idle_ms == 0)
		pn_timer_cancel(&s->keepalive);
	else if (s->state == PN_TCP_ESTABLISHED || s->state == PN_TCP_CLOSE_WAIT ||
		 s->state == PN_TCP_FIN_WAIT_2)
		pn_timer_arm(pn_stack_wheel(s->st), &s->keepalive,
			     pn_stack_now_ms(s->st) + idle_ms);
	return 0;
}

size_t pn_tcp_send_space(const struct pn_tcp_sock *s)
{
	return s->sbuf_size - s->sbuf_len;
}

#define SBUF_MIN 4096u

/* Room for @p need bytes: the buffer grows by doubling up to sbuf_size and
 * is laid out from its start again when it moves. @return 0 or -ENOMEM. */
static int sbuf_reserve(struct pn_tcp_sock *s, uint32_t need)
{
	uint32_t cap = s->sbuf_cap ? s->sbuf_cap : SBUF_MIN;
	uint8_t *nb;

	if (need <= s->sbuf_cap)
		return 0;
	while (cap < need)
		cap *= 2;
	if (cap > s->sbuf_size)
		cap = s->sbuf_size;
	nb = malloc(cap);
	if (nb == NULL)
		return -ENOMEM;
	if (s->sbuf_len) {
		uint32_t first = PN_MIN(s->sbuf_len, s->sbuf_cap - s->sbuf_head);

		memcpy(nb, s->sbuf + s->sbuf_head, first);
		memcpy(nb + first, s->sbuf, s->sbuf_len - first);
	}
	free(s->sbuf);
	s->sbuf = nb;
	s->sbuf_cap = cap;
	s->sbuf_head = 0;
	return 0;
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
	room = s->sbuf_size - s->sbuf_len;
	if (room == 0)
		return -EAGAIN;
	if (len == 0)
		return 0;
	n = (uint32_t)PN_MIN((size_t)room, len);
	/* memory as data comes, not per connection up front: an idle socket
	 * holds no send buffer at all (pn_tcp_ack_advance frees it) */
	if (sbuf_reserve(s, s->sbuf_len + n) != 0)
		return -ENOMEM;
	tail = (s->sbuf_head + s->sbuf_len) % s->sbuf_cap;
	first = PN_MIN(n, s->sbuf_cap - tail);
	memcpy(s->sbuf + tail, buf, first);
	memcpy(s->sbuf, (const uint8_t *)buf + first, n - first);
	s->sbuf_len += n;
	s->tx_bytes += n;
	pn_tcp_output(s);
	return n;
}

/* After the application took bytes: announce a window that grew a lot. */
void pn_tcp_window_maybe_update(struct pn_tcp_sock *s)
{
	uint32_t cur, space;

	if (s->state != PN_TCP_ESTABLISHED && s->state != PN_TCP_FIN_WAIT_1 &&
	    s->state != PN_TCP_FIN_WAIT_2)
		return;
	cur = pn_seq_gt(s->rcv_adv, s->rcv_nxt) ? s->rcv_adv - s->rcv_nxt : 0;
	space = pn_tcp_rcv_space(s);
	if (space >= 2 * cur && space - cur >= 2u * s->mss) {
		pn_tcp_of(s->st)->stats.window_updates++;
		pn_tcp_send_ack(s);
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
	struct pn_tcp *t = pn_tcp_of(s->st);
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
	pn_tcp_want_work(s);
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
	struct pn_tcp *t = pn_tcp_of(s->st);
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
		pn_tcp_want_work(s);
	}
	if (n == 0)
		return -ENOBUFS;
	return (int)n;
}

void pn_tcp_zc_returned(struct pn_stack *st, uint64_t sock_id, uint32_t len)
{
	struct pn_tcp *t = pn_tcp_of(st);
	uint32_t slot = (uint32_t)sock_id & PN_TCP_SLOT_MASK;
	struct pn_tcp_sock *s;

	if (t == NULL || slot >= t->conf.max_sockets)
		return;
	s = t->socks[slot];
	if (s != NULL && s->id == sock_id) {
		s->zc_held -= len;
		s->wnd_check = true; /* announced at the end of the round */
		pn_tcp_want_work(s);
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
	pn_tcp_output(s);
	return 0;
}

void pn_tcp_abort(struct pn_tcp_sock *s)
{
	struct pn_tcp *t = pn_tcp_of(s->st);

	if (s->state == PN_TCP_LISTEN) {
		pn_tcp_close(s);
		return;
	}
	s->orphan = true;
	if (s->state >= PN_TCP_SYN_RCVD && s->state != PN_TCP_TIME_WAIT &&
	    s->state != PN_TCP_CLOSED)
		pn_tcp_send_segment(s, s->snd_nxt, PN_TCP_F_RST | PN_TCP_F_ACK, 0);
	t->stats.resets++;
	pn_tcp_rq_purge(s);
	pn_tcp_sock_set_closed(s, ECONNABORTED);
}

void pn_tcp_close(struct pn_tcp_sock *s)
{
	struct pn_tcp *t = pn_tcp_of(s->st);

	if (s->orphan)
		return;
	if (s->state == PN_TCP_LISTEN) {
		/* children that were never accepted are reset */
		for (uint32_t i = 0; i < t->conf.max_sockets; i++) {
			struct pn_tcp_sock *c = t->socks[i];

			if (c && c->parent == s)
				pn_tcp_abort(c);
		}
		pn_tcp_hash_del(t, s);
		t->stats.listeners--;
		s->orphan = true;
		s->state = PN_TCP_CLOSED;
		pn_tcp_free_later(s);
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
		pn_tcp_sock_set_closed(s, 0);
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
	case PN_TCP_TIME_WAIT: /* the rest of its 2 MSL as a small entry */
		pn_tcp_tw_adopt(s, s->rtx.expires);
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
	i->peer_ip = pn_addr_is_v4(&s->rip) ? pn_addr_v4_host(&s->rip) : 0;
	i->peer_addr = s->rip;
	i->peer_port = s->rport;
	i->local_port = s->lport;
	i->mss = s->mss;
	i->snd_wnd = s->snd_wnd;
	i->cwnd = s->cc.cwnd;
	i->ssthresh = s->cc.ssthresh;
	i->rcv_wnd = pn_seq_gt(s->rcv_adv, s->rcv_nxt) ? s->rcv_adv - s->rcv_nxt : 0;
	i->srtt_us = s->srtt_us;
	i->rto_ms = pn_tcp_rto_now(s);
	i->rcv_queued = s->rq_bytes;
	i->ooo_queued = s->ooo_bytes;
	i->zc_held = s->zc_held;
	i->snd_queued = s->sbuf_len;
	i->snd_buf_alloc = s->sbuf_cap;
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
	snprintf(i->cc, sizeof(i->cc), "%s", s->cc.ops->name);
	i->ca_state = s->ca;
	i->min_rtt_us = s->min_rtt_us;
	i->in_flight = s->txq ? pn_tcp_in_flight(s) : 0;
	i->sacked = s->sacked_bytes;
	i->lost = s->lost_bytes;
	i->retrans_out = s->retrans_bytes;
	i->reo_wnd_mult = s->reo_wnd_mult;
	i->rcvbuf = s->rcvbuf;
	i->sndbuf = s->sbuf_size;
	i->reordering_seen = s->reordering_seen;
}

void pn_tcp_stats_get(const struct pn_stack *st, struct pn_tcp_stats *s)
{
	const struct pn_tcp *t = pn_tcp_of(st);

	if (t) {
		*s = t->stats;
		s->zc_tokens_out = pn_zc_outstanding(t->zc);
		s->zc_bad_tokens = pn_zc_bad(t->zc);
	} else {
		memset(s, 0, sizeof(*s));
	}
}
