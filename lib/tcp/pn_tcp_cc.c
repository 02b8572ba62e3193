/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The congestion control registry (pn_tcp_cc.h) and the calls into a
 * socket's algorithm.
 *
 * Registration is rare and takes a mutex; finding an algorithm (a socket
 * being set up, pn_tcp_set_cc) reads the table without one: an entry is
 * written whole before the count that publishes it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "pn_tcp_priv.h"

static const struct pn_tcp_cc_ops *registry[PN_TCP_CC_MAX] = { &pn_tcp_cubic, &pn_tcp_newreno };
static _Atomic unsigned nr_registered = 2;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

const struct pn_tcp_cc_ops *pn_tcp_cc_find(const char *name)
{
	unsigned n = atomic_load_explicit(&nr_registered, memory_order_acquire);

	if (name == NULL)
		return NULL;
	for (unsigned i = 0; i < n; i++)
		if (strcmp(registry[i]->name, name) == 0)
			return registry[i];
	return NULL;
}

int pn_tcp_cc_register(const struct pn_tcp_cc_ops *ops)
{
	int rc = 0;

	if (ops == NULL || ops->name == NULL || ops->name[0] == '\0' ||
	    strlen(ops->name) >= PN_TCP_CC_NAME_MAX || ops->ssthresh == NULL || ops->cong_avoid == NULL)
		return -EINVAL;
	pthread_mutex_lock(&registry_lock);
	if (pn_tcp_cc_find(ops->name)) {
		rc = -EEXIST;
	} else {
		unsigned n = atomic_load_explicit(&nr_registered, memory_order_relaxed);

		if (n == PN_TCP_CC_MAX) {
			rc = -ENOSPC;
		} else {
			registry[n] = ops;
			atomic_store_explicit(&nr_registered, n + 1, memory_order_release);
		}
	}
	pthread_mutex_unlock(&registry_lock);
	return rc;
}

int pn_tcp_cc_list(char *buf, size_t len)
{
	unsigned n = atomic_load_explicit(&nr_registered, memory_order_acquire);
	size_t used = 0;

	if (len)
		buf[0] = '\0';
	for (unsigned i = 0; i < n; i++) {
		int k = snprintf(used < len ? buf + used : NULL, used < len ? len - used : 0, "%s%s",
				 i ? "," : "", registry[i]->name);

		used += (size_t)k;
	}
	return (int)used;
}

const struct pn_tcp_cc_ops *pn_tcp_cc_default(void) { return &pn_tcp_cubic; }

int pn_tcp_set_cc(struct pn_tcp_sock *s, const char *name)
{
	const struct pn_tcp_cc_ops *ops = pn_tcp_cc_find(name);

	if (ops == NULL)
		return -ENOENT;
	if (ops == s->cc.ops)
		return 0;
	s->cc.ops = ops;
	memset(s->cc.priv, 0, sizeof(s->cc.priv));
	if (s->state >= PN_TCP_ESTABLISHED && s->mss) {
		/* from the window it has: the new algorithm's init sees it */
		pn_tcp_cc_sync(s);
		if (ops->init)
			ops->init(&s->cc);
	}
	return 0;
}

const char *pn_tcp_get_cc(const struct pn_tcp_sock *s) { return s->cc.ops->name; }

/* ---- calling the socket's algorithm: inputs in, outputs checked */

void pn_tcp_cc_sync(struct pn_tcp_sock *s)
{
	s->cc.mss = s->mss;
	s->cc.srtt_us = s->srtt_us;
	s->cc.min_rtt_us = s->min_rtt_us;
	s->cc.in_flight = pn_tcp_in_flight(s);
	s->cc.now_us = pn_stack_now_us(s->st);
}

/* whatever an algorithm did, the window stays usable */
static void cc_clamp(struct pn_tcp_sock *s)
{
	if (s->cc.cwnd < s->mss)
		s->cc.cwnd = s->mss;
	if (s->cc.ssthresh < 2u * s->mss)
		s->cc.ssthresh = 2u * s->mss;
}

void pn_tcp_cc_event(struct pn_tcp_sock *s, enum pn_tcp_cc_event ev)
{
	if (s->cc.ops->on_event == NULL)
		return;
	pn_tcp_cc_sync(s);
	s->cc.ops->on_event(&s->cc, ev);
	cc_clamp(s);
}

void pn_tcp_cc_ssthresh(struct pn_tcp_sock *s)
{
	pn_tcp_cc_sync(s);
	s->cc.ssthresh = s->cc.ops->ssthresh(&s->cc);
	cc_clamp(s);
}

void pn_tcp_cc_on_ack(struct pn_tcp_sock *s, const struct pn_tcp_cc_ack *a, bool grow)
{
	pn_tcp_cc_sync(s);
	if (s->cc.ops->on_ack)
		s->cc.ops->on_ack(&s->cc, a);
	if (grow)
		s->cc.ops->cong_avoid(&s->cc, a);
	cc_clamp(s);
}

void pn_tcp_cc_undo(struct pn_tcp_sock *s)
{
	pn_tcp_cc_sync(s);
	if (s->cc.ops->undo_cwnd)
		s->cc.cwnd = s->cc.ops->undo_cwnd(&s->cc, s->prior_cwnd);
	else
		s->cc.cwnd = PN_MAX(s->cc.cwnd, s->prior_cwnd);
	if (s->prior_ssthresh > s->cc.ssthresh)
		s->cc.ssthresh = s->prior_ssthresh;
	cc_clamp(s);
}
