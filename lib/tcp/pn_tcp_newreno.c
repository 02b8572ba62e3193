/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NewReno's window (RFC 5681, 6582; the repair of losses is TCP's own,
 * pn_tcp_recovery.c): slow start by the bytes acknowledged up to two
 * segments an ACK (RFC 3465, L = 2), then one segment per window's worth
 * of acknowledged bytes; half the window on a loss.
 */
#include <string.h>

#include "pn_tcp_priv.h"

struct newreno {
	uint32_t acked; /* congestion avoidance: bytes toward the next segment */
};

_Static_assert(sizeof(struct newreno) <= PN_TCP_CC_PRIV_BYTES, "newreno state");

static uint32_t newreno_ssthresh(struct pn_tcp_cc *cc)
{
	return PN_MAX(cc->cwnd / 2, 2u * cc->mss);
}

static void newreno_cong_avoid(struct pn_tcp_cc *cc, const struct pn_tcp_cc_ack *ack)
{
	struct newreno nr;
	uint32_t acked = ack->acked;

	if (cc->cwnd < cc->ssthresh) {
		uint32_t grow = PN_MIN(acked, 2u * cc->mss);

		if (cc->cwnd + grow <= cc->ssthresh) {
			cc->cwnd += grow;
			return;
		}
		/* the rest of this ACK counts toward congestion avoidance */
		acked -= cc->ssthresh - cc->cwnd;
		cc->cwnd = cc->ssthresh;
	}
	memcpy(&nr, cc->priv, sizeof(nr)); /* the state is bytes to the API */
	nr.acked += acked;
	if (nr.acked >= cc->cwnd) {
		nr.acked -= cc->cwnd;
		cc->cwnd += cc->mss;
	}
	memcpy(cc->priv, &nr, sizeof(nr));
}

static void newreno_on_event(struct pn_tcp_cc *cc, enum pn_tcp_cc_event ev)
{
	if (ev == PN_TCP_CC_EV_RECOVERY || ev == PN_TCP_CC_EV_LOSS)
		memset(cc->priv, 0, sizeof(struct newreno));
}

const struct pn_tcp_cc_ops pn_tcp_newreno = {
	.name = "newreno",
	.ssthresh = newreno_ssthresh,
	.cong_avoid = newreno_cong_avoid,
	.on_event = newreno_on_event,
};
