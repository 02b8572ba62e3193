/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP (RFC 9293) on a pagenet stack: the per-stack state, what runs after
 * each received burst, configuration, teardown. Options MSS, window scale,
 * SACK-permitted and timestamps (RFC 7323), delayed ACKs (RFC 1122), RTO
 * (RFC 6298), NewReno (RFC 5681, 6582), RFC 5961 checks, an out-of-order
 * queue that keeps the received packets, receive zero copy (pn_tcp_zc.c).
 * The other files: sockets, input, output, timers, congestion control,
 * the application API.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "pn_tcp_priv.h"

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
		pn_tcp_output(s);
		if (s->wnd_check) {
			s->wnd_check = false;
			pn_tcp_window_maybe_update(s);
		}
		if (s->ack_now || s->segs_unacked >= 2)
			pn_tcp_send_ack(s);
		else if (s->segs_unacked && !pn_timer_armed(&s->delack))
			pn_timer_arm(pn_stack_wheel(st), &s->delack, pn_stack_now_ms(st) + t->conf.delack_ms);
	}
	/* ACKs and data leave before the application runs: its callbacks
	 * (hashing a request body, say) must not hold back the ACKs the
	 * peer's clock runs on */
	pn_stack_flush(st);
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
			pn_tcp_sock_free(s);
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
			pn_tcp_send_segment(s, s->snd_nxt, PN_TCP_F_RST | PN_TCP_F_ACK, 0);
		pn_tcp_sock_free(s);
	}
	pn_tcp_tw_fini(t);
	/* tokens still out stay valid: their table waits for them */
	pn_zc_table_put(t->zc);
	pn_acct_unpin(&t->conf_pin);
	free(t->socks);
	free(t->gen);
	free(t->free_slots);
	free(t->hash);
	free(t);
	pn_stack_l4_unregister(st, PN_IPPROTO_TCP);
}

static const struct pn_l4_proto tcp_proto = {
	.name = "tcp",
	.proto = PN_IPPROTO_TCP,
	.input = pn_tcp_input,
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
		.max_zc_tokens = 65536, .syn_backlog = 256, .max_time_wait = 262144,
	};

	if (pn_tcp_of(st) != NULL)
		return -EBUSY;
	if (conf) {
		if (conf->sz < sizeof(*conf) || conf->max_sockets > PN_TCP_MAX_SOCKETS)
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
		if (conf->syn_backlog)
			c.syn_backlog = conf->syn_backlog;
		if (conf->max_time_wait)
			c.max_time_wait = conf->max_time_wait == PN_TCP_NO_TIME_WAIT ? 0
										 : conf->max_time_wait;
		c.no_syncookies = conf->no_syncookies;
		c.acct = conf->acct;
		c.cc = conf->cc;
		c.rcvbuf_max = conf->rcvbuf_max;
		c.sndbuf_max = conf->sndbuf_max;
	}
	if (c.rcvbuf_max == 0)
		c.rcvbuf_max = 4u << 20;
	if (c.sndbuf_max == 0)
		c.sndbuf_max = 4u << 20;
	c.rcvbuf_max = PN_MAX(c.rcvbuf_max, c.rcvbuf);
	c.sndbuf_max = PN_MAX(c.sndbuf_max, c.sndbuf);
	if (c.cc && pn_tcp_cc_find(c.cc) == NULL)
		return -ENOENT;
	if (c.rcvbuf < 4096 || c.sndbuf < 4096 || c.rcvbuf_max > (1u << 30) ||
	    c.sndbuf_max > (1u << 30) ||
	    !PN_IS_POW2(c.max_zc_tokens) || c.max_zc_tokens > (1u << 24))
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	t->conf = c;
	t->st = st;
	t->cc_ops = c.cc ? pn_tcp_cc_find(c.cc) : pn_tcp_cc_default();
	t->conf.cc = t->cc_ops->name; /* not the caller's string, which may go */
	/* a bucket per socket at most: chains stay short at any table size */
	t->hash_mask = 255;
	while (t->hash_mask < c.max_sockets - 1 && t->hash_mask < PN_TCP_SLOT_MASK)
		t->hash_mask = t->hash_mask * 2 + 1;
	t->hash = calloc(t->hash_mask + 1u, sizeof(*t->hash));
	t->socks = calloc(c.max_sockets, sizeof(*t->socks));
	t->gen = calloc(c.max_sockets, sizeof(*t->gen));
	t->free_slots = calloc(c.max_sockets, sizeof(*t->free_slots));
	if (t->socks == NULL || t->gen == NULL || t->free_slots == NULL || t->hash == NULL ||
	    pn_tcp_tw_init(t) != 0) {
		err = ENOMEM;
		goto fail;
	}
	for (uint32_t i = 0; i < c.max_sockets; i++) {
		t->free_slots[i] = c.max_sockets - 1 - i;
		t->gen[i] = 1; /* an id is never 0 */
	}
	t->nr_free = c.max_sockets;
	t->zc = pn_zc_table_get(st, c.max_zc_tokens);
	if (t->zc == NULL) {
		err = errno;
		goto fail;
	}
	if (c.acct != NULL &&
	    pn_acct_pin(c.acct, &t->conf_pin, "tcp stack %s default group",
			pn_ip_str(pn_stack_ip(st), (char[16]){ 0 })) != 0)
		t->conf.acct = NULL;
	/* both secrets from the kernel's CSPRNG, as randombytes_buf would */
	if (getrandom(t->isn_key, sizeof(t->isn_key), 0) != sizeof(t->isn_key) ||
	    getrandom(t->hash_key, sizeof(t->hash_key), 0) != sizeof(t->hash_key)) {
		err = errno ? errno : EIO;
		goto fail;
	}
	{
		uint64_t r;

		memcpy(&r, t->isn_key, sizeof(r));
		t->next_port = (uint16_t)(32768 + pn_tcp_mix64(r) % 28000);
	}
	err = -pn_stack_l4_register(st, &tcp_proto, t);
	if (err)
		goto fail;
	return 0;
fail:
	pn_acct_unpin(&t->conf_pin);
	if (t->zc)
		pn_zc_table_put(t->zc);
	pn_tcp_tw_fini(t);
	free(t->hash);
	free(t->socks);
	free(t->gen);
	free(t->free_slots);
	free(t);
	return -err;
}

/* TCP with default settings unless pn_tcp_configure came first.
 * @return the stack's TCP, or NULL with errno set. */
struct pn_tcp *pn_tcp_ready(struct pn_stack *st)
{
	int rc = pn_tcp_of(st) ? 0 : pn_tcp_configure(st, NULL);

	if (rc) {
		errno = -rc;
		return NULL;
	}
	return pn_tcp_of(st);
}
