/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What every pagenet program does the same way, so none of them differs
 * from the others where a user would notice:
 *
 *  - it stops cleanly (ports closed, XDP programs detached, every page
 *    back) on SIGINT, SIGTERM and SIGHUP, and when the reader of its
 *    standard output goes away (`pagenet-fwd --json | head -1`): SIGPIPE is
 *    ignored and a failed write asks for the same stop as Ctrl-C, instead
 *    of the process dying in the middle with its programs attached;
 *  - it reads numbers whole or refuses them: "abc", "12x", a negative
 *    count or a value past the type are errors that name the option, never
 *    0, a wrapped value or "run forever".
 *
 * Header-only: each program includes it once, in its main file.
 */
#ifndef PN_APP_H
#define PN_APP_H

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "pn_pool.h"

/* Set by the signals and by a closed stdout; the main loop polls it. */
static volatile sig_atomic_t pn_app_stop;

static inline void pn_app_on_signal(int sig)
{
	(void)sig;
	pn_app_stop = 1;
}

static inline void pn_app_catch_signals(void)
{
	struct sigaction sa = { .sa_handler = pn_app_on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Flush stdout: a reader that is gone (EPIPE) or any write error asks
 * for the stop. @return false when output can no longer be written. */
static inline bool pn_app_flush(void)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		pn_app_stop = 1;
		return false;
	}
	return true;
}

/* An unsigned integer in [min, max], the whole string (decimal, 0x hex),
 * no sign. @return 0, or -1 (nothing stored). */
static inline int pn_app_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s == '\0' || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* A finite number in [min, max], the whole string. @return 0 or -1. */
static inline int pn_app_parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/*
 * Pin the calling thread to the n-th CPU (modulo their number) of those
 * the process may run on, as DPDK pins an lcore. A polling thread that
 * moves between CPUs reorders what it sends: veth and loopback queue a
 * frame on the sending CPU's backlog. @return the CPU, or -1.
 */
static inline int pn_app_pin_nth(unsigned n)
{
	cpu_set_t avail, set;
	int cpu, k;

	if (sched_getaffinity(0, sizeof(avail), &avail) != 0 || CPU_COUNT(&avail) == 0)
		return -1;
	k = (int)(n % (unsigned)CPU_COUNT(&avail));
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &avail) && k-- == 0)
			break;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0 ? cpu : -1;
}

/*
 * The recycle rate between two samples, for the text views: @p fmt applied
 * to the rate in percent, or "-" when no page came back in between (there is
 * no rate to speak of). @p a NULL: since the start.
 */
static inline const char *pn_app_recycle_pct(char *buf, size_t len, const char *fmt,
					    const struct pn_pool_stats_sum *a,
					    const struct pn_pool_stats_sum *b)
{
	static const struct pn_pool_stats_sum none;

	if (a == NULL)
		a = &none;
	if (b->recycle_cached + b->recycle_ring + b->recycle_released_refcnt ==
	    a->recycle_cached + a->recycle_ring + a->recycle_released_refcnt)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, fmt, 100.0 * pn_pool_recycle_rate_between(a, b));
	return buf;
}

#endif /* PN_APP_H */
