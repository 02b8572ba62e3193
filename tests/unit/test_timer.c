/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The timer wheel: firing times to the tick, cancelling and re-arming from
 * callbacks, timers longer than a lap, pauses longer than a lap.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "pn_common.h"
#include "pn_timer.h"

struct probe {
	struct pn_timer t;
	uint64_t fired_at[8];
	unsigned fired;
	uint64_t rearm_every; /* >0: re-arm itself this far ahead */
	struct pn_timer *cancel; /* cancelled from the callback */
};

static struct pn_timer_wheel wheel;

static void probe_fn(struct pn_timer *t)
{
	struct probe *p = pn_container_of(t, struct probe, t);

	cr_assert_lt(p->fired, 8u);
	p->fired_at[p->fired++] = wheel.now;
	if (p->cancel)
		pn_timer_cancel(p->cancel);
	if (p->rearm_every)
		pn_timer_arm(&wheel, t, wheel.now + p->rearm_every);
}

static void run_to(uint64_t end)
{
	for (uint64_t now = wheel.now + 1; now <= end; now++)
		pn_timer_run(&wheel, now);
}

Test(timer, fires_on_its_tick_once)
{
	struct probe a = { 0 }, b = { 0 };

	pn_timer_wheel_init(&wheel, 1000);
	pn_timer_init(&a.t, probe_fn);
	pn_timer_init(&b.t, probe_fn);
	pn_timer_arm(&wheel, &a.t, 1005);
	pn_timer_arm(&wheel, &b.t, 900); /* in the past: the next tick */
	cr_assert(pn_timer_armed(&a.t));
	run_to(1100);
	cr_assert_eq(a.fired, 1);
	cr_assert_eq(a.fired_at[0], 1005);
	cr_assert_eq(b.fired, 1);
	cr_assert_eq(b.fired_at[0], 1001);
	cr_assert_not(pn_timer_armed(&a.t));
}

Test(timer, longer_than_a_lap_fires_on_time)
{
	struct probe a = { 0 };

	pn_timer_wheel_init(&wheel, 0);
	pn_timer_init(&a.t, probe_fn);
	pn_timer_arm(&wheel, &a.t, 5 * PN_TW_SLOTS + 17);
	run_to(5 * PN_TW_SLOTS + 16);
	cr_assert_eq(a.fired, 0);
	run_to(5 * PN_TW_SLOTS + 17);
	cr_assert_eq(a.fired, 1);
}

Test(timer, a_long_pause_fires_everything_due_once)
{
	struct probe p[4] = { 0 };

	pn_timer_wheel_init(&wheel, 0);
	for (int i = 0; i < 4; i++) {
		pn_timer_init(&p[i].t, probe_fn);
		pn_timer_arm(&wheel, &p[i].t, 10 + (uint64_t)i * 3000);
	}
	pn_timer_run(&wheel, 7000); /* one call, almost seven laps late */
	cr_assert_eq(p[0].fired, 1);
	cr_assert_eq(p[1].fired, 1);
	cr_assert_eq(p[2].fired, 1);
	cr_assert_eq(p[3].fired, 0);
	cr_assert(pn_timer_armed(&p[3].t));
	run_to(9010);
	cr_assert_eq(p[3].fired, 1);
}

Test(timer, cancel_and_rearm_from_callbacks)
{
	struct probe a = { 0 }, b = { 0 }, c = { 0 };

	pn_timer_wheel_init(&wheel, 0);
	pn_timer_init(&a.t, probe_fn);
	pn_timer_init(&b.t, probe_fn);
	pn_timer_init(&c.t, probe_fn);
	/* same slot: whichever runs first cancels the other, which must not
	 * then run from the detached list */
	a.cancel = &b.t;
	b.cancel = &a.t;
	pn_timer_arm(&wheel, &a.t, 50);
	pn_timer_arm(&wheel, &b.t, 50);
	c.rearm_every = 7;
	pn_timer_arm(&wheel, &c.t, 3);
	run_to(30);
	cr_assert_eq(a.fired + b.fired, 0);
	cr_assert_eq(c.fired, 4); /* 3, 10, 17, 24 */
	cr_assert_eq(c.fired_at[3], 24);
	pn_timer_cancel(&c.t);
	run_to(60);
	cr_assert_eq(a.fired + b.fired, 1);
	cr_assert_not(pn_timer_armed(&a.t));
	cr_assert_not(pn_timer_armed(&b.t));
	cr_assert_eq(c.fired, 4);
	pn_timer_cancel(&c.t);
	pn_timer_cancel(&c.t); /* twice is harmless */
	cr_assert_not(pn_timer_armed(&c.t));
}

Test(timer, random_arms_and_cancels_match_a_model)
{
	enum { N = 256 };
	static struct probe p[N];
	uint64_t due[N];
	uint64_t seed = 0x9e3779b97f4a7c15ull;

	memset(p, 0, sizeof(p));
	pn_timer_wheel_init(&wheel, 0);
	for (int i = 0; i < N; i++) {
		pn_timer_init(&p[i].t, probe_fn);
		due[i] = 0;
	}
	for (uint64_t now = 1; now < 20000; now++) {
		for (int k = 0; k < 3; k++) {
			unsigned i;

			seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
			i = (unsigned)(seed % N);
			if (p[i].fired >= 7)
				continue;
			if (seed & 0x100) {
				due[i] = now + (seed >> 20) % 4000;
				pn_timer_arm(&wheel, &p[i].t, due[i]);
			} else {
				pn_timer_cancel(&p[i].t);
				due[i] = 0;
			}
		}
		pn_timer_run(&wheel, now);
		for (int i = 0; i < N; i++) {
			if (due[i] && due[i] <= now) {
				cr_assert_eq(p[i].fired_at[p[i].fired - 1], PN_MAX(due[i], now),
					     "timer %d due %llu", i, (unsigned long long)due[i]);
				due[i] = 0;
			}
			cr_assert_eq(pn_timer_armed(&p[i].t), due[i] != 0);
		}
	}
}
