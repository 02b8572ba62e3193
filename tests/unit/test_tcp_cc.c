/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Congestion control modules through their public interface (pn_tcp_cc.h):
 * CUBIC against RFC 9438's window function on a clock the test moves,
 * its Reno-friendly region, fast convergence and undo; NewReno's halving
 * and linear growth; the registry and a module of the application's own
 * carrying a transfer.
 */
#include <errno.h>
#include <math.h>

#include "pn_stack_pair.h"
#include "pn_tcp_cc.h"

TestSuite(tcp_cc, .fini = pair_fini, .timeout = 60);

#define MSS 1000u

static struct pn_tcp_cc cc_new(const char *name, uint32_t cwnd_segs, uint32_t rtt_us)
{
	struct pn_tcp_cc cc = { .mss = MSS, .srtt_us = rtt_us, .min_rtt_us = rtt_us,
				.now_us = 1000000, .cwnd = cwnd_segs * MSS,
				.ssthresh = UINT32_MAX / 2 };

	cc.ops = pn_tcp_cc_find(name);
	cr_assert_not_null(cc.ops, "%s not registered", name);
	if (cc.ops->init)
		cc.ops->init(&cc);
	return cc;
}

/* a loss at the current window, and the window after recovery */
static void cc_loss(struct pn_tcp_cc *cc)
{
	cc->ssthresh = cc->ops->ssthresh(cc);
	if (cc->ops->on_event)
		cc->ops->on_event(cc, PN_TCP_CC_EV_RECOVERY);
	cc->cwnd = cc->ssthresh;
	if (cc->ops->on_event)
		cc->ops->on_event(cc, PN_TCP_CC_EV_RECOVERED);
}

/* One round trip of a sender the window limits: an ACK per segment,
 * spread over the RTT. */
static void cc_round(struct pn_tcp_cc *cc, uint32_t rtt_us)
{
	uint32_t n = cc->cwnd / MSS;

	for (uint32_t i = 0; i < n; i++) {
		struct pn_tcp_cc_ack a = { .acked = MSS, .rtt_us = rtt_us,
					   .prior_in_flight = cc->cwnd };

		cc->now_us += rtt_us / n;
		cc->in_flight = cc->cwnd;
		cc->ops->cong_avoid(cc, &a);
	}
}

static double w_cubic(double t, double k, double w_max) { return 0.4 * pow(t - k, 3) + w_max; }

Test(tcp_cc, cubic_follows_rfc9438s_window_function)
{
	const uint32_t rtt = 100000; /* 100 ms: where the cubic curve, not Reno, decides */
	struct pn_tcp_cc cc = cc_new("cubic", 100, rtt);
	double k = cbrt(100 * (1 - 0.7) / 0.4), t = 0;
	uint64_t epoch;

	cc_loss(&cc);
	cr_assert_eq(cc.ssthresh, 70 * MSS, "beta_cubic is 0.7: ssthresh %u", cc.ssthresh);
	cr_assert_eq(cc.cwnd, 70 * MSS);
	epoch = cc.now_us;
	/* concave up to W_max at K, then convex beyond it */
	while (t < 2 * k) {
		double want, have;

		cc_round(&cc, rtt);
		t = (double)(cc.now_us - epoch) / 1e6;
		want = w_cubic(t, k, 100);
		have = (double)cc.cwnd / MSS;
		cr_assert(fabs(have - want) <= fmax(3.0, 0.05 * want),
			  "t %.2f s: cwnd %.1f segments, W_cubic %.1f", t, have, want);
	}
	/* the plateau: around K the window stays near W_max */
	cr_assert_gt((double)cc.cwnd / MSS, 100);
}

Test(tcp_cc, cubic_is_reno_friendly_on_short_round_trips)
{
	const uint32_t rtt = 1000; /* 1 ms: Reno would grow faster than the cubic curve */
	struct pn_tcp_cc cc = cc_new("cubic", 20, rtt);
	double alpha = 3 * (1 - 0.7) / (1 + 0.7), w_est = 14;

	cc_loss(&cc);
	for (int r = 0; r < 10; r++) {
		cc_round(&cc, rtt);
		w_est += alpha; /* RFC 9438 4.3, per round trip */
	}
	cr_assert(fabs((double)cc.cwnd / MSS - w_est) <= 1.5, "cwnd %.1f, W_est %.1f",
		  (double)cc.cwnd / MSS, w_est);
	/* the cubic curve alone would still be at 14 */
	cr_assert_gt(cc.cwnd, 16 * MSS);
}

Test(tcp_cc, cubic_fast_convergence_lowers_the_plateau)
{
	const uint32_t rtt = 300000; /* long: the Reno estimate stays below the plateau */
	struct pn_tcp_cc cc = cc_new("cubic", 100, rtt);
	double k, w_max = 80 * (1 + 0.7) / 2, t = 0;
	uint64_t epoch;

	cc_loss(&cc); /* W_max 100, cwnd 70 */
	while (cc.cwnd < 80 * MSS)
		cc_round(&cc, rtt);
	cc.cwnd = 80 * MSS;
	cc_loss(&cc); /* below the last W_max: W_max = 80 (1 + beta) / 2 = 68 */
	cr_assert_eq(cc.cwnd, 56 * MSS);
	k = cbrt((w_max - 56) / 0.4);
	epoch = cc.now_us;
	while (t < k) {
		cc_round(&cc, rtt);
		t = (double)(cc.now_us - epoch) / 1e6;
	}
	cr_assert(fabs((double)cc.cwnd / MSS - w_max) <= 3, "plateau at %.1f, want %.1f",
		  (double)cc.cwnd / MSS, w_max);
}

Test(tcp_cc, cubic_undo_gives_the_window_and_the_curve_back)
{
	struct pn_tcp_cc a = cc_new("cubic", 100, 100000), b;

	cc_loss(&a);
	for (int r = 0; r < 20; r++)
		cc_round(&a, 100000);
	b = a;
	/* a second congestion event that turns out spurious */
	b.ssthresh = b.ops->ssthresh(&b);
	b.cwnd = b.ssthresh;
	cr_assert_lt(b.cwnd, a.cwnd);
	b.cwnd = b.ops->undo_cwnd(&b, a.cwnd);
	b.ssthresh = a.ssthresh;
	cr_assert_eq(b.cwnd, a.cwnd);
	/* and both grow alike from here */
	for (int r = 0; r < 10; r++) {
		cc_round(&a, 100000);
		cc_round(&b, 100000);
	}
	cr_assert_eq(a.cwnd, b.cwnd, "%u vs %u", a.cwnd, b.cwnd);
}

Test(tcp_cc, newreno_halves_and_grows_a_segment_per_round_trip)
{
	struct pn_tcp_cc cc = cc_new("newreno", 40, 10000);

	cc_loss(&cc);
	cr_assert_eq(cc.cwnd, 20 * MSS);
	for (int r = 0; r < 5; r++)
		cc_round(&cc, 10000);
	cr_assert_eq(cc.cwnd, 25 * MSS, "cwnd %u", cc.cwnd);
	/* slow start below ssthresh: doubling */
	cc.ssthresh = UINT32_MAX / 2;
	cc.cwnd = 10 * MSS;
	cc_round(&cc, 10000);
	cr_assert_eq(cc.cwnd, 20 * MSS);
}

/* ---- the registry, and an algorithm of the application's own */

static unsigned fixed_acks, fixed_events;

static uint32_t fixed_ssthresh(struct pn_tcp_cc *cc) { return cc->cwnd; }

static void fixed_cong_avoid(struct pn_tcp_cc *cc, const struct pn_tcp_cc_ack *ack)
{
	(void)ack;
	cc->cwnd = 16 * cc->mss;
	fixed_acks++;
}

static void fixed_event(struct pn_tcp_cc *cc, enum pn_tcp_cc_event ev)
{
	(void)cc;
	(void)ev;
	fixed_events++;
}

static const struct pn_tcp_cc_ops fixed = {
	.name = "fixed16",
	.ssthresh = fixed_ssthresh,
	.cong_avoid = fixed_cong_avoid,
	.on_event = fixed_event,
};

Test(tcp_cc, registry_takes_an_algorithm_once_and_refuses_bad_ones)
{
	static const struct pn_tcp_cc_ops no_hooks = { .name = "nohooks" };
	static const struct pn_tcp_cc_ops long_name = { .name = "a-name-far-too-long",
							 .ssthresh = fixed_ssthresh,
							 .cong_avoid = fixed_cong_avoid };
	static const struct pn_tcp_cc_ops dup_name = { .name = "cubic", .ssthresh = fixed_ssthresh,
							.cong_avoid = fixed_cong_avoid };
	char names[128];
	int rc = pn_tcp_cc_register(&fixed);

	cr_assert(rc == 0 || rc == -EEXIST); /* another test of this process may have */
	cr_assert_eq(pn_tcp_cc_register(&fixed), -EEXIST);
	cr_assert_eq(pn_tcp_cc_register(&no_hooks), -EINVAL);
	cr_assert_eq(pn_tcp_cc_register(&long_name), -EINVAL);
	cr_assert_eq(pn_tcp_cc_register(&dup_name), -EEXIST);
	cr_assert_eq(pn_tcp_cc_register(NULL), -EINVAL);
	cr_assert_eq(pn_tcp_cc_find("fixed16"), &fixed);
	cr_assert_null(pn_tcp_cc_find("nohooks"));
	cr_assert_null(pn_tcp_cc_find(NULL));
	pn_tcp_cc_list(names, sizeof(names));
	cr_assert_str_eq(names, "cubic,newreno,fixed16");
	cr_assert_eq(pn_tcp_cc_list(names, 4), (int)strlen("cubic,newreno,fixed16"));
	cr_assert_str_eq(names, "cub", "truncated as snprintf would");
}

Test(tcp_cc, a_stack_default_and_a_socket_choice)
{
	struct pn_tcp_sock *l, *c;
	struct side *sides[] = { &A, &B };

	(void)sides;
	pn_tcp_cc_register(&fixed);
	pair_cc = "nosuch";
	{
		/* an unknown name is refused when TCP is configured */
		struct pn_pool *p = test_pool(256, 0, 0);
		struct pn_port_conf pc = { .sz = sizeof(pc), .nb_queues = 1, .pools = { p } };
		struct pn_port *port = pn_port_open("loop", "pair=ccbad", &pc);
		struct pn_stack_conf sc = { .sz = sizeof(sc), .port = port, .pool = p, .ip = IP_A };
		struct pn_stack *st;

		cr_assert_not_null(port);
		st = pn_stack_create(&sc);
		cr_assert_not_null(st);
		cr_assert_eq(pn_tcp_configure(st, &(struct pn_tcp_conf){ .sz = sizeof(struct pn_tcp_conf),
									  .cc = "nosuch" }),
			     -ENOENT);
		pn_stack_destroy(st);
		pn_port_close(port);
		cr_assert_eq(pn_pool_destroy(p), 0);
	}
	pair_cc = "newreno";
	open_pair(NULL, NULL, 0);
	l = pn_tcp_listen(B.st, 80, 4, NULL, NULL);
	c = pn_tcp_connect(A.st, IP_B, 80, NULL, NULL);
	cr_assert(l && c);
	cr_assert_str_eq(pn_tcp_get_cc(c), "newreno");
	cr_assert_eq(pn_tcp_set_cc(c, "nosuch"), -ENOENT);
	cr_assert_str_eq(pn_tcp_get_cc(c), "newreno");
	cr_assert_eq(pn_tcp_set_cc(c, "fixed16"), 0);
	cr_assert_str_eq(pn_tcp_get_cc(c), "fixed16");
	pn_tcp_abort(c);
	pn_tcp_close(l);
	PUMP_UNTIL(0, 20);
	close_pair();
	pair_cc = NULL;
}

Test(tcp_cc, an_applications_own_algorithm_carries_a_transfer)
{
	static uint8_t buf[1 << 16];
	struct pn_tcp_sock *l, *c, *s = NULL;
	struct pn_tcp_info i;
	uint64_t sent = 0, rcvd = 0;

	pn_tcp_cc_register(&fixed);
	fixed_acks = 0;
	pair_cc = "fixed16";
	open_pair("tx_loss=0.01,seed=3", NULL, 0);
	l = pn_tcp_listen(B.st, 80, 4, NULL, NULL);
	c = pn_tcp_connect(A.st, IP_B, 80, NULL, NULL);
	cr_assert(l && c);
	PUMP_UNTIL((s = pn_tcp_accept(l)) != NULL, 2000);
	cr_assert_not_null(s);
	PUMP_UNTIL(pn_tcp_state(c) == PN_TCP_ESTABLISHED, 2000);
	while (rcvd < (4u << 20)) {
		ssize_t n;

		if (sent < (4u << 20) && (n = pn_tcp_send(c, buf, sizeof(buf))) > 0)
			sent += (uint64_t)n;
		poll_both();
		while ((n = pn_tcp_recv(s, buf, sizeof(buf))) > 0)
			rcvd += (uint64_t)n;
		cr_assert(n == -EAGAIN || n > 0, "recv %zd", n);
	}
	pn_tcp_info_get(c, &i);
	cr_assert_str_eq(i.cc, "fixed16");
	cr_assert_gt(fixed_acks, 100);
	cr_assert_leq(i.cwnd, 16 * i.mss, "TCP kept the algorithm's window (%u)", i.cwnd);
	pn_tcp_abort(c);
	pn_tcp_abort(s);
	pn_tcp_close(l);
	PUMP_UNTIL(0, 20);
	close_pair();
	pair_cc = NULL;
}
