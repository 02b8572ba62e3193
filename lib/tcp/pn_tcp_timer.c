/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Timers: retransmission (and the persist probe, TIME_WAIT and the
 * orphan FIN_WAIT_2 timeout, which share its slot) and the delayed ACK.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pn_tcp_priv.h"

/* ---- timers */

void pn_tcp_rtx_fn(struct pn_timer *tm)
{
	struct pn_tcp_sock *s = pn_container_of(tm, struct pn_tcp_sock, rtx);
	struct pn_tcp *t = pn_tcp_of(s->st);

	switch (s->state) {
	case PN_TCP_TIME_WAIT:
		pn_tcp_sock_set_closed(s, 0);
		return;
	case PN_TCP_FIN_WAIT_2: /* orphaned, the peer never closed */
		if (s->orphan)
			pn_tcp_sock_set_closed(s, ETIMEDOUT);
		return;
	case PN_TCP_SYN_SENT:
	case PN_TCP_SYN_RCVD:
		if (++s->retries > PN_TCP_SYN_RETRIES) {
			pn_tcp_reset_conn(s, ETIMEDOUT);
			return;
		}
		s->backoff++;
		t->stats.retrans_segs++;
		pn_tcp_send_segment(s, s->iss, s->state == PN_TCP_SYN_SENT ? PN_TCP_F_SYN : PN_TCP_F_SYN | PN_TCP_F_ACK, 0);
		pn_tcp_arm_rtx(s);
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
			pn_tcp_send_segment(s, s->snd_una - 1, PN_TCP_F_ACK, 0);
			if (s->backoff < 10)
				s->backoff++;
			pn_tcp_arm_rtx(s);
		}
		return;
	}
	if (++s->retries > PN_TCP_MAX_RETRIES) {
		pn_tcp_reset_conn(s, ETIMEDOUT);
		return;
	}
	/* RFC 5681 3.1 and 6298 5.5-5.7: halve, restart from one segment,
	 * back off, go back to the first unacknowledged byte */
	t->stats.rto_expired++;
	s->ssthresh = s->cc->ssthresh(s);
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
	pn_tcp_output(s);
	pn_tcp_arm_rtx(s);
}

void pn_tcp_delack_fn(struct pn_timer *tm)
{
	struct pn_tcp_sock *s = pn_container_of(tm, struct pn_tcp_sock, delack);

	if (s->segs_unacked)
		pn_tcp_send_ack(s);
}
