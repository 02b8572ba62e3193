/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TIME-WAIT entries (RFC 9293 3.6, 3.10.7.4): a connection closed on our
 * side first waits 2 MSL so that its old duplicates die out and the peer's
 * retransmitted FIN is answered. A socket nobody owns gives its place to a
 * small entry here, so a server that closes its connections keeps neither
 * sockets nor buffers for them: 100,000 in TIME-WAIT cost about 8 MB.
 *
 * Past pn_tcp_conf.max_time_wait entries the oldest goes early (Linux's
 * tcp_max_tw_buckets), counted in time_wait_recycled; a new incarnation's
 * SYN ends an entry at once (RFC 6191).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pn_tcp_priv.h"

static struct pn_tcp_tw **bucket(struct pn_tcp *t, const struct pn_addr *rip, uint16_t rport,
				 uint16_t lport)
{
	return &t->tw_hash[pn_tcp_tuple_hash(t, rip, rport, lport) & t->tw_mask];
}

struct pn_tcp_tw *pn_tcp_tw_lookup(struct pn_tcp *t, uint32_t hash, const struct pn_addr *rip,
				   uint16_t rport, uint16_t lport)
{
	if (t->nr_tw == 0)
		return NULL;
	for (struct pn_tcp_tw *tw = t->tw_hash[hash & t->tw_mask]; tw; tw = tw->hnext)
		if (tw->rport == rport && tw->lport == lport && pn_addr_eq(&tw->rip, rip))
			return tw;
	return NULL;
}

static void list_unlink(struct pn_tcp *t, struct pn_tcp_tw *tw)
{
	if (tw->older)
		tw->older->newer = tw->newer;
	else
		t->tw_oldest = tw->newer;
	if (tw->newer)
		tw->newer->older = tw->older;
	else
		t->tw_newest = tw->older;
}

static void tw_unlink(struct pn_tcp *t, struct pn_tcp_tw *tw)
{
	struct pn_tcp_tw **pp = bucket(t, &tw->rip, tw->rport, tw->lport);

	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == tw) {
			*pp = tw->hnext;
			break;
		}
	}
	list_unlink(t, tw);
}

static void tw_arm(struct pn_tcp *t)
{
	if (t->tw_oldest)
		pn_timer_arm(pn_stack_wheel(t->st), &t->tw_timer, t->tw_oldest->expires);
	else
		pn_timer_cancel(&t->tw_timer);
}

static void tw_free(struct pn_tcp *t, struct pn_tcp_tw *tw)
{
	tw_unlink(t, tw);
	t->nr_tw--;
	t->stats.time_wait--;
	free(tw);
}

/* Into the expiry list, from the newest end: entries come in expiry order
 * but for the rest of a socket's 2 MSL handed over by its closer. */
static void tw_insert_by_expiry(struct pn_tcp *t, struct pn_tcp_tw *tw)
{
	struct pn_tcp_tw *at = t->tw_newest;

	while (at && at->expires > tw->expires)
		at = at->older;
	tw->older = at;
	tw->newer = at ? at->newer : t->tw_oldest;
	if (tw->newer)
		tw->newer->older = tw;
	else
		t->tw_newest = tw;
	if (at)
		at->newer = tw;
	else
		t->tw_oldest = tw;
}

static void tw_expire_fn(struct pn_timer *tm)
{
	struct pn_tcp *t = pn_container_of(tm, struct pn_tcp, tw_timer);
	uint64_t now = pn_stack_now_ms(t->st);

	while (t->tw_oldest && t->tw_oldest->expires <= now)
		tw_free(t, t->tw_oldest);
	tw_arm(t);
}

/* Twice the buckets when the chains average two entries: O(n) once per
 * doubling, from the expiry list. */
static void tw_grow(struct pn_tcp *t)
{
	uint32_t n = (t->tw_mask + 1) * 2;
	struct pn_tcp_tw **h;

	if (t->nr_tw < 2 * (t->tw_mask + 1) || n > (1u << 22))
		return;
	h = calloc(n, sizeof(*h));
	if (h == NULL)
		return; /* longer chains, still correct */
	free(t->tw_hash);
	t->tw_hash = h;
	t->tw_mask = n - 1;
	for (struct pn_tcp_tw *tw = t->tw_oldest; tw; tw = tw->newer) {
		struct pn_tcp_tw **b = bucket(t, &tw->rip, tw->rport, tw->lport);

		tw->hnext = *b;
		*b = tw;
	}
}

void pn_tcp_tw_adopt(struct pn_tcp_sock *s, uint64_t expires)
{
	struct pn_tcp *t = pn_tcp_of(s->st);
	struct pn_tcp_tw *tw = NULL, **b;
	uint32_t wnd;

	if (t->nr_tw >= t->conf.max_time_wait && t->tw_oldest) {
		tw_free(t, t->tw_oldest);
		t->stats.time_wait_recycled++;
	}
	if (t->conf.max_time_wait)
		tw = malloc(sizeof(*tw));
	if (tw == NULL) {
		/* no room: the connection ends now, as at the limit */
		t->stats.time_wait_recycled++;
		pn_tcp_sock_set_closed(s, 0);
		return;
	}
	/* the ACK of the peer's FIN is due now: the socket will not send it */
	if (s->ack_now || s->segs_unacked)
		pn_tcp_send_ack(s);
	tw->expires = expires;
	tw->rip = s->rip;
	tw->rport = s->rport;
	tw->lport = s->lport;
	tw->snd_nxt = s->snd_max;
	tw->rcv_nxt = s->rcv_nxt;
	tw->ts_recent = s->ts_recent;
	tw->ts_ok = s->ts_ok;
	wnd = pn_seq_gt(s->rcv_adv, s->rcv_nxt) ? s->rcv_adv - s->rcv_nxt : 0;
	wnd >>= s->rcv_wscale;
	tw->win = (uint16_t)PN_MIN(wnd, 0xffffu);
	/* the socket first, so that the hash never holds both */
	pn_tcp_sock_set_closed(s, 0);
	tw_grow(t);
	b = bucket(t, &tw->rip, tw->rport, tw->lport);
	tw->hnext = *b;
	*b = tw;
	tw_insert_by_expiry(t, tw);
	t->nr_tw++;
	t->stats.time_wait++;
	if (tw->older == NULL)
		tw_arm(t);
}

static void tw_ack(struct pn_tcp *t, const struct pn_tcp_tw *tw)
{
	pn_tcp_send_bare(t->st, &tw->rip, tw->lport, tw->rport, tw->snd_nxt, tw->rcv_nxt,
			 PN_TCP_F_ACK, tw->win, tw->ts_ok, tw->ts_recent);
}

/*
 * RFC 9293 3.10.7.4 for TIME-WAIT, with the choices Linux makes in
 * tcp_timewait_state_process:
 *  - an RST is ignored (RFC 1337: an old RST must not end TIME-WAIT early;
 *    Linux with tcp_rfc1337=1);
 *  - a SYN above rcv_nxt, or with a newer timestamp, is a new incarnation
 *    (RFC 6191): the entry goes and a listener may take it;
 *  - the peer's FIN again (our ACK was lost): ACK, and 2 MSL restart;
 *  - anything else with data, a FIN or a SYN, or an older timestamp
 *    (PAWS, RFC 7323 5.3): an ACK tells the peer where we are;
 *  - a bare ACK: nothing.
 */
bool pn_tcp_tw_input(struct pn_tcp *t, struct pn_tcp_tw *tw, const struct pn_tcp_seg *g)
{
	bool ts_newer = tw->ts_ok && g->o.has_ts && (int32_t)(g->o.tsval - tw->ts_recent) > 0;

	if (g->flags & PN_TCP_F_RST)
		return true;
	if ((g->flags & (PN_TCP_F_SYN | PN_TCP_F_ACK)) == PN_TCP_F_SYN &&
	    (pn_seq_gt(g->seq, tw->rcv_nxt) || ts_newer)) {
		tw_free(t, tw);
		tw_arm(t);
		return false;
	}
	if (tw->ts_ok && g->o.has_ts && (int32_t)(g->o.tsval - tw->ts_recent) < 0) {
		t->stats.out_of_window++;
		tw_ack(t, tw);
		return true;
	}
	if ((g->flags & PN_TCP_F_FIN) && g->seq + g->len == tw->rcv_nxt) {
		if (g->o.has_ts && tw->ts_ok)
			tw->ts_recent = g->o.tsval;
		tw_ack(t, tw);
		list_unlink(t, tw);
		tw->expires = pn_stack_now_ms(t->st) + t->conf.time_wait_ms;
		tw_insert_by_expiry(t, tw);
		tw_arm(t);
		return true;
	}
	if (g->plen || (g->flags & (PN_TCP_F_FIN | PN_TCP_F_SYN))) {
		if (g->plen)
			t->stats.dup_data_segs++;
		tw_ack(t, tw);
	}
	return true;
}

int pn_tcp_tw_init(struct pn_tcp *t)
{
	t->tw_hash = calloc(PN_TCP_TW_HASH_MIN, sizeof(*t->tw_hash));
	if (t->tw_hash == NULL)
		return -ENOMEM;
	t->tw_mask = PN_TCP_TW_HASH_MIN - 1;
	pn_timer_init(&t->tw_timer, tw_expire_fn);
	return 0;
}

void pn_tcp_tw_fini(struct pn_tcp *t)
{
	pn_timer_cancel(&t->tw_timer);
	while (t->tw_oldest)
		tw_free(t, t->tw_oldest);
	free(t->tw_hash);
	t->tw_hash = NULL;
}
