/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CUBIC (RFC 9438), the default congestion control, as on Linux.
 *
 * After a congestion event the window follows W_cubic(t) = C (t - K)^3 +
 * W_max: concave up to the window where the loss happened (W_max), then
 * convex beyond it, independent of the round-trip time. Where Reno would
 * have grown faster (short RTTs, small windows) the Reno-friendly estimate
 * W_est takes over. Fast convergence lowers W_max when losses come before
 * it was reached again; a spurious congestion event restores the state
 * from before it (4.9). Windows in segments, time in seconds, as the RFC
 * writes them; the module keeps the fraction of a segment growth has not
 * yet added.
 */
#include <math.h>
#include <string.h>

#include "pn_tcp_priv.h"

#define CUBIC_C 0.4    /* segments / s^3 */
#define CUBIC_BETA 0.7 /* the window after a loss, as a share of the one before */

struct cubic {
	double w_max;      /* the window at the last congestion event, segments (0: none yet) */
	double k;          /* seconds from the epoch to the plateau at w_max */
	double origin;     /* the plateau W_cubic aims at this epoch */
	double w_est;      /* the Reno-friendly estimate */
	double acc;        /* growth not yet a whole segment */
	uint64_t epoch_us; /* start of the epoch; 0: the next ACK in avoidance starts one */
	/* before the last event, for an undo */
	double prior_w_max, prior_k, prior_origin, prior_w_est;
	uint64_t prior_epoch_us;
};

_Static_assert(sizeof(struct cubic) <= PN_TCP_CC_PRIV_BYTES, "cubic state");

/* the state is bytes to the API: copied in and out, never type-punned */
static inline struct cubic cubic_load(const struct pn_tcp_cc *cc)
{
	struct cubic c;

	memcpy(&c, cc->priv, sizeof(c));
	return c;
}

static inline void cubic_store(struct pn_tcp_cc *cc, const struct cubic *c)
{
	memcpy(cc->priv, c, sizeof(*c));
}

/* 4.6, 4.7: the multiplicative decrease, and fast convergence */
static uint32_t cubic_ssthresh(struct pn_tcp_cc *cc)
{
	struct cubic c = cubic_load(cc);
	double cwnd = (double)cc->cwnd / cc->mss;

	c.prior_w_max = c.w_max;
	c.prior_k = c.k;
	c.prior_origin = c.origin;
	c.prior_w_est = c.w_est;
	c.prior_epoch_us = c.epoch_us;
	if (c.w_max > 0 && cwnd < c.w_max)
		c.w_max = cwnd * (1 + CUBIC_BETA) / 2; /* release bandwidth to newer flows */
	else
		c.w_max = cwnd;
	c.epoch_us = 0;
	cubic_store(cc, &c);
	return PN_MAX((uint32_t)(cwnd * CUBIC_BETA) * cc->mss, 2u * cc->mss);
}

static void epoch_start(struct cubic *c, double cwnd, uint64_t now)
{
	c->epoch_us = now ? now : 1;
	c->acc = 0;
	c->w_est = cwnd;
	if (c->w_max <= cwnd) { /* above the last loss already: convex from here */
		c->k = 0;
		c->origin = cwnd;
	} else {
		c->k = cbrt((c->w_max - cwnd) / CUBIC_C);
		c->origin = c->w_max;
	}
}

static inline double w_cubic(const struct cubic *c, double t)
{
	double d = t - c->k;

	return CUBIC_C * d * d * d + c->origin;
}

static void cubic_cong_avoid(struct pn_tcp_cc *cc, const struct pn_tcp_cc_ack *ack)
{
	struct cubic cs = cubic_load(cc), *c = &cs;
	uint32_t acked = ack->acked;
	double cwnd, segs, t, target, grow, rtt;

	if (cc->cwnd < cc->ssthresh) { /* slow start, by what was acknowledged */
		if (cc->cwnd + acked <= cc->ssthresh) {
			cc->cwnd += acked;
			return;
		}
		acked -= cc->ssthresh - cc->cwnd;
		cc->cwnd = cc->ssthresh;
	}
	cwnd = (double)cc->cwnd / cc->mss;
	segs = (double)acked / cc->mss;
	if (c->epoch_us == 0)
		epoch_start(c, cwnd, cc->now_us);
	rtt = (double)(cc->srtt_us ? cc->srtt_us : cc->min_rtt_us) / 1e6;
	t = (double)(cc->now_us - c->epoch_us) / 1e6;
	/* 4.4, 4.5: aim at where the curve will be a round trip from now,
	 * no more than half a window ahead */
	target = w_cubic(c, t + rtt);
	if (target < cwnd)
		target = cwnd;
	else if (target > 1.5 * cwnd)
		target = 1.5 * cwnd;
	grow = (target - cwnd) / cwnd * segs;
	/* 4.3: what Reno would have; alpha 1 once past the last loss */
	c->w_est += (c->w_est >= c->w_max ? 1.0 : 3 * (1 - CUBIC_BETA) / (1 + CUBIC_BETA)) * segs / cwnd;
	if (w_cubic(c, t) < c->w_est && c->w_est - cwnd > grow)
		grow = c->w_est - cwnd;
	c->acc += grow;
	if (c->acc >= 1) {
		double whole = floor(c->acc);

		c->acc -= whole;
		cc->cwnd += (uint32_t)whole * cc->mss;
	}
	cubic_store(cc, c);
}

static void cubic_on_event(struct pn_tcp_cc *cc, enum pn_tcp_cc_event ev)
{
	/* a new epoch begins at the first ACK of congestion avoidance: after
	 * a repair, and after an idle period (the curve does not run on while
	 * nothing is sent) */
	if (ev == PN_TCP_CC_EV_RECOVERED || ev == PN_TCP_CC_EV_IDLE_RESTART || ev == PN_TCP_CC_EV_LOSS) {
		struct cubic c = cubic_load(cc);

		c.epoch_us = 0;
		cubic_store(cc, &c);
	}
}

/* 4.9: a spurious congestion event takes nothing */
static uint32_t cubic_undo_cwnd(struct pn_tcp_cc *cc, uint32_t prior_cwnd)
{
	struct cubic c = cubic_load(cc);

	c.w_max = c.prior_w_max;
	c.k = c.prior_k;
	c.origin = c.prior_origin;
	c.w_est = c.prior_w_est;
	c.epoch_us = c.prior_epoch_us;
	cubic_store(cc, &c);
	return PN_MAX(cc->cwnd, prior_cwnd);
}

const struct pn_tcp_cc_ops pn_tcp_cubic = {
	.name = "cubic",
	.ssthresh = cubic_ssthresh,
	.cong_avoid = cubic_cong_avoid,
	.on_event = cubic_on_event,
	.undo_cwnd = cubic_undo_cwnd,
};
