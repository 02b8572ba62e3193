/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Timers: retransmission (and the persist probe, TIME_WAIT and the
 * orphan FIN_WAIT_2 timeout, which share its slot), the delayed ACK and
 * keep-alive.
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
		if (++s->retries > (s->state == PN_TCP_SYN_SENT ? PN_TCP_SYN_RETRIES
								: PN_TCP_SYNACK_RETRIES)) {
			t->stats.timeouts++;
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
			/* a peer that shut its window and went away is given
			 * up after as many unanswered probes as retransmissions
			 * (Linux: tcp_retries2) */
			if (++s->probes > PN_TCP_MAX_RETRIES) {
				t->stats.timeouts++;
				pn_tcp_reset_conn(s, ETIMEDOUT);
				return;
			}
			t->stats.window_probes++;
			pn_tcp_send_segment(s, s->snd_una - 1, PN_TCP_F_ACK, 0);
			if (s->backoff < 10)
				s->backoff++;
			pn_tcp_arm_rtx(s);
		}
		return;
	}
	if (++s->retries > PN_TCP_MAX_RETRIES) {
		t->stats.timeouts++;
		pn_tcp_reset_conn(s, ETIMEDOUT);
		return;
	}
	/* RFC 5681 3.1 and 6298 5.5-5.7: a smaller window (the congestion
	 * control's ssthresh), back off, resend from the first unacknowledged
	 * byte; F-RTO then watches whether the timeout was spurious */
	t->stats.rto_expired++;
	if (s->backoff < 10)
		s->backoff++;
	pn_tcp_enter_loss(s);
	pn_tcp_output(s);
	pn_tcp_arm_rtx(s);
}

void pn_tcp_delack_fn(struct pn_timer *tm)
{
	struct pn_tcp_sock *s = pn_container_of(tm, struct pn_tcp_sock, delack);

	if (s->segs_unacked)
		pn_tcp_send_ack(s);
}

void pn_tcp_peer_alive(struct pn_tcp_sock *s)
{
	s->probes = 0;
	if (s->ka_idle_ms) {
		s->ka_probes = 0;
		pn_timer_arm(pn_stack_wheel(s->st), &s->keepalive,
			     pn_stack_now_ms(s->st) + s->ka_idle_ms);
	}
}

/* RFC 1122 4.2.3.6: after an idle time, a segment the peer must answer
 * (an old sequence number, no data); after ka_cnt unanswered, the peer is
 * gone. */
void pn_tcp_keepalive_fn(struct pn_timer *tm)
{
	struct pn_tcp_sock *s = pn_container_of(tm, struct pn_tcp_sock, keepalive);
	struct pn_tcp *t = pn_tcp_of(s->st);
	uint64_t now = pn_stack_now_ms(s->st);

	if (s->ka_idle_ms == 0)
		return;
	switch (s->state) {
	case PN_TCP_ESTABLISHED:
	case PN_TCP_CLOSE_WAIT:
	case PN_TCP_FIN_WAIT_2:
		break;
	default:
		return;
	}
	if (s->snd_max != s->snd_una || (s->snd_wnd == 0 && s->sbuf_len)) {
		/* the retransmission or persist timer is watching the peer */
		pn_timer_arm(pn_stack_wheel(s->st), &s->keepalive, now + s->ka_idle_ms);
		return;
	}
	if (s->ka_probes >= s->ka_cnt) {
		t->stats.timeouts++;
		pn_tcp_reset_conn(s, ETIMEDOUT);
		return;
	}
	s->ka_probes++;
	t->stats.keepalive_probes++;
	pn_tcp_send_segment(s, s->snd_una - 1, PN_TCP_F_ACK, 0);
	pn_timer_arm(pn_stack_wheel(s->st), &s->keepalive, now + s->ka_intvl_ms);
}
