/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sockets: the table and its hash (demultiplexing), allocation and
 * freeing, events for the application, initial sequence numbers, and the
 * state changes every part uses (TIME_WAIT, closed, reset).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "pn_tcp_priv.h"

/* ---- socket table and demultiplexing */

/* SipHash-2-4 (libsodium's crypto_shorthash) of a connection's addresses
 * and ports under @p key: what a remote peer cannot predict, so it can
 * neither aim many connections at one hash chain nor guess an ISN. */
static uint64_t tuple_hash(const uint8_t key[16], const struct pn_addr *lip,
			   const struct pn_addr *rip, uint16_t lport, uint16_t rport)
{
	uint8_t in[36], out[8];
	uint64_t h;

	memcpy(in, lip->b, 16);
	memcpy(in + 16, rip->b, 16);
	memcpy(in + 32, &lport, 2);
	memcpy(in + 34, &rport, 2);
	crypto_shorthash(out, in, sizeof(in), key);
	memcpy(&h, out, sizeof(h));
	return h;
}

/* The local address is one per family on a stack: the peer and the ports
 * tell connections apart (20 bytes through SipHash, not 36). */
uint32_t pn_tcp_tuple_hash(const struct pn_tcp *t, const struct pn_addr *rip, uint16_t rport,
			   uint16_t lport)
{
	uint8_t in[20], out[8];
	uint32_t h;

	memcpy(in, rip->b, 16);
	memcpy(in + 16, &lport, 2);
	memcpy(in + 18, &rport, 2);
	crypto_shorthash(out, in, sizeof(in), t->hash_key);
	memcpy(&h, out, sizeof(h));
	return h;
}

struct pn_tcp_sock *pn_tcp_lookup(struct pn_tcp *t, uint32_t hash, const struct pn_addr *rip, uint16_t rport,
				  uint16_t lport)
{
	struct pn_tcp_sock *s = t->hash[hash & t->hash_mask];

	for (; s; s = s->hnext)
		if (s->rport == rport && s->lport == lport && pn_addr_eq(&s->rip, rip))
			return s;
	return NULL;
}

struct pn_tcp_sock *pn_tcp_lookup_listener(struct pn_tcp *t, uint16_t lport)
{
	for (struct pn_tcp_sock *s = t->listeners; s; s = s->hnext)
		if (s->lport == lport)
			return s;
	return NULL;
}

void pn_tcp_hash_add(struct pn_tcp *t, struct pn_tcp_sock *s)
{
	uint32_t h = pn_tcp_tuple_hash(t, &s->rip, s->rport, s->lport) & t->hash_mask;

	s->hnext = t->hash[h];
	t->hash[h] = s;
	s->hashed = true;
}

void pn_tcp_hash_del(struct pn_tcp *t, struct pn_tcp_sock *s)
{
	struct pn_tcp_sock **pp;

	if (!s->hashed)
		return;
	pp = s->state == PN_TCP_LISTEN ? &t->listeners
				       : &t->hash[pn_tcp_tuple_hash(t, &s->rip, s->rport, s->lport) &
						 t->hash_mask];
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
	s->rtx.fn = pn_tcp_rtx_fn;
	s->delack.fn = pn_tcp_delack_fn;
	s->loss_tm.fn = pn_tcp_loss_timer_fn;
	s->keepalive.fn = pn_tcp_keepalive_fn;
}

static void leave_time_wait(struct pn_tcp_sock *s);

struct pn_tcp_sock *pn_tcp_sock_alloc(struct pn_stack *st)
{
	struct pn_tcp *t = pn_tcp_of(st);
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
	s->id = slot | t->gen[slot] << PN_TCP_SLOT_BITS;
	s->st = st;
	s->rcvbuf = t->conf.rcvbuf;
	s->sbuf_size = t->conf.sndbuf;
	s->rto_ms = PN_TCP_INIT_RTO_MS;
	s->mss = 536;
	timers_init(s);
	s->cc.ops = t->cc_ops;
	t->stats.sockets++;
	return s;
}

/* Charge this socket's zero-copy pages to @g from now on: the group is
 * pinned for as long as the socket may charge it. */
void pn_tcp_sock_set_acct(struct pn_tcp_sock *s, struct pn_acct_group *g)
{
	char a[PN_ADDR_STRLEN], b[PN_ADDR_STRLEN];

	pn_acct_unpin(&s->acct_pin);
	s->acct = NULL;
	if (g != NULL && pn_acct_pin(g, &s->acct_pin, "tcp socket %s:%u->%s:%u",
				     pn_addr_str(pn_stack_local_addr(s->st, &s->rip), a), s->lport,
				     pn_addr_str(&s->rip, b), s->rport) == 0)
		s->acct = g;
}

/* The socket's 4-tuple is known: name it for holder dumps, pin its group. */
void pn_tcp_sock_named(struct pn_tcp_sock *s, struct pn_acct_group *g)
{
	char a[PN_ADDR_STRLEN], b[PN_ADDR_STRLEN];

	if (s->state == PN_TCP_LISTEN)
		s->holder = pn_holder_register("tcp listener %s:%u",
					       pn_ip_str(pn_stack_ip(s->st), a), s->lport);
	else
		s->holder = pn_holder_register("socket %s:%u->%s:%u", pn_addr_str(&s->rip, b),
					       s->rport,
					       pn_addr_str(pn_stack_local_addr(s->st, &s->rip), a),
					       s->lport);
	pn_tcp_sock_set_acct(s, g);
}

void pn_tcp_rq_purge(struct pn_tcp_sock *s)
{
	pn_pkt_free(s->rq_head);
	s->rq_head = s->rq_tail = NULL;
	s->rq_bytes = 0;
	pn_tcp_ooo_purge(s);
}

void pn_tcp_sock_free(struct pn_tcp_sock *s)
{
	struct pn_tcp *t = pn_tcp_of(s->st);
	uint32_t slot = (uint32_t)s->id & PN_TCP_SLOT_MASK;

	leave_time_wait(s);
	s->state = PN_TCP_CLOSED;
	pn_timer_cancel(&s->rtx);
	pn_timer_cancel(&s->delack);
	pn_timer_cancel(&s->loss_tm);
	pn_timer_cancel(&s->keepalive);
	pn_tcp_hash_del(t, s);
	pn_tcp_rq_purge(s);
	free(s->sbuf);
	pn_tcp_txq_free(s);
	pn_acct_unpin(&s->acct_pin);
	pn_holder_unregister(s->holder);
	t->socks[slot] = NULL;
	/* tokens of this socket no longer find it, nor any later one's */
	if (++t->gen[slot] <= PN_TCP_GEN_MAX)
		t->free_slots[t->nr_free++] = slot;
	t->stats.sockets--;
	free(s);
}

void pn_tcp_free_later(struct pn_tcp_sock *s)
{
	struct pn_tcp *t = pn_tcp_of(s->st);

	if (s->free_listed)
		return;
	pn_timer_cancel(&s->rtx);
	pn_timer_cancel(&s->delack);
	pn_timer_cancel(&s->loss_tm);
	pn_timer_cancel(&s->keepalive);
	pn_tcp_hash_del(t, s);
	s->free_listed = true;
	s->free_next = t->free_head;
	t->free_head = s;
}

void pn_tcp_event(struct pn_tcp_sock *s, unsigned ev)
{
	struct pn_tcp *t = pn_tcp_of(s->st);

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
void pn_tcp_want_work(struct pn_tcp_sock *s)
{
	struct pn_tcp *t = pn_tcp_of(s->st);

	if (s->work_listed)
		return;
	s->work_listed = true;
	s->work_next = t->work_head;
	t->work_head = s;
}

/* ---- sequence numbers and options */

uint64_t pn_tcp_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

/* RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport, secretkey),
 * M a 4 us clock, F SipHash-2-4 under a per-stack random secret */
uint32_t pn_tcp_pick_isn(struct pn_tcp_sock *s)
{
	struct pn_tcp *t = pn_tcp_of(s->st);
	uint64_t f = tuple_hash(t->isn_key, pn_stack_local_addr(s->st, &s->rip), &s->rip, s->lport,
				s->rport);

	return (uint32_t)f + (uint32_t)(pn_stack_now_us(s->st) >> 2);
}

/* ---- state changes */

/*
 * Both FINs are acknowledged: 2 MSL of TIME-WAIT. A socket the application
 * still holds waits as it is (it may read the last bytes); one nobody
 * holds becomes a small entry at once (pn_tcp_tw.c) and the socket goes.
 */
void pn_tcp_enter_time_wait(struct pn_tcp_sock *s)
{
	struct pn_tcp *t = pn_tcp_of(s->st);
	uint64_t expires = pn_stack_now_ms(s->st) + t->conf.time_wait_ms;

	pn_timer_cancel(&s->delack);
	pn_timer_cancel(&s->loss_tm);
	pn_timer_cancel(&s->keepalive);
	if (s->orphan) {
		pn_tcp_tw_adopt(s, expires);
		return;
	}
	s->state = PN_TCP_TIME_WAIT;
	t->stats.time_wait++;
	pn_timer_arm(pn_stack_wheel(s->st), &s->rtx, expires);
}

static void leave_time_wait(struct pn_tcp_sock *s)
{
	if (s->state == PN_TCP_TIME_WAIT)
		pn_tcp_of(s->st)->stats.time_wait--;
}

static void child_gone(struct pn_tcp_sock *s)
{
	struct pn_tcp_sock *l = s->parent;

	if (l == NULL)
		return;
	if (s->in_aq)
		l->nr_acq--;
	else
		l->nr_syn--;
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
	s->parent = NULL;
	s->orphan = true; /* nobody accepted it */
}

/* The connection is over: to CLOSED, freed now if nobody owns it. */
void pn_tcp_sock_set_closed(struct pn_tcp_sock *s, int err)
{
	struct pn_tcp *t = pn_tcp_of(s->st);

	leave_time_wait(s);
	if (s->state >= PN_TCP_ESTABLISHED)
		t->stats.closed++;
	s->state = PN_TCP_CLOSED;
	if (err && !s->err)
		s->err = err;
	pn_timer_cancel(&s->rtx);
	pn_timer_cancel(&s->delack);
	pn_timer_cancel(&s->loss_tm);
	pn_timer_cancel(&s->keepalive);
	pn_tcp_hash_del(t, s);
	child_gone(s);
	if (s->orphan)
		pn_tcp_free_later(s);
	else
		pn_tcp_event(s, PN_TCP_EV_CLOSED | PN_TCP_EV_READABLE);
}

void pn_tcp_reset_conn(struct pn_tcp_sock *s, int err)
{
	pn_tcp_of(s->st)->stats.resets++;
	pn_tcp_rq_purge(s);
	pn_tcp_sock_set_closed(s, err);
}
