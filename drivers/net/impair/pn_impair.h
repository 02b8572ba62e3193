/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * impair: a port that wraps another port and loses, duplicates, reorders,
 * delays and corrupts what passes through it, deterministically for a
 * seed. It sits below whatever uses the port (a forwarder, the TCP stack)
 * as the kernel's netem qdisc sits below a socket, so recovery is tested
 * without touching the code under test.
 *
 *   struct pn_impair imp;
 *   pn_impair_parse("rx_loss=0.02,rx_reorder=0.05,seed=7", &imp, err, sizeof(err));
 *   struct pn_port *p = pn_impair_wrap(real, &imp, NULL);
 *   ... use p as the port; pn_port_close(p) also closes real.
 *
 * or from a port string: "impair:lower=ID,rx_loss=0.02,seed=7", where ID is
 * the id of an open port (pn_port_id).
 *
 * Each queue keeps its own state and random stream, used only by the
 * thread that polls the queue (as any port queue). Received frames are
 * judged as the lower port delivers them; sent frames as they are handed
 * in. A sent frame the lower port refuses waits in a small backlog sent
 * first next time; when the backlog is full, tx_burst takes fewer (the
 * caller keeps the rest). Delayed and held frames wait in the queue and
 * go out from the queue's next rx_burst or tx_burst; closing the port
 * frees them.
 */
#ifndef PN_IMPAIR_H
#define PN_IMPAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pn_port.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Probabilities in [0, 1] per frame; delays in microseconds. */
struct pn_impair {
	double rx_loss, rx_dup, rx_reorder, rx_corrupt;
	double tx_loss, tx_dup, tx_reorder, tx_corrupt;
	uint32_t rx_delay_us, tx_delay_us;
	uint64_t seed; /**< 0 is taken as 1 */
	/** Clock for delays (NULL: CLOCK_MONOTONIC); tests pass their own. */
	uint64_t (*clock_us)(void *arg);
	void *clock_arg;
};

/**
 * Parse "rx_loss=0.01,rx_dup=0.01,rx_reorder=0.02,rx_corrupt=0.001,
 * tx_loss=...,rx_delay_us=2000,seed=7" (every field of struct pn_impair
 * but the clock). Unset fields are 0, seed 1.
 * @return 0, or -EINVAL with a message naming the bad item in @p err.
 */
int pn_impair_parse(const char *spec, struct pn_impair *imp, char *err, size_t errlen);

/** @return true when @p imp would change any frame. */
bool pn_impair_active(const struct pn_impair *imp);

/**
 * Wrap @p lower (open, stopped or started) in an impair port with the same
 * queues, pools and MAC. The new port owns @p lower: starting, stopping
 * and closing it does the same to @p lower. @p name NULL: "impair:LOWER".
 * @return the port (stopped), or NULL with errno (EINVAL: bad settings).
 */
struct pn_port *pn_impair_wrap(struct pn_port *lower, const struct pn_impair *imp,
			       const char *name);

/** What was done to the frames, summed over queues. */
struct pn_impair_stats {
	uint64_t rx_lost, rx_dup, rx_reordered, rx_delayed, rx_corrupted;
	uint64_t tx_lost, tx_dup, tx_reordered, tx_delayed, tx_corrupted;
	uint64_t no_buffer;   /**< duplicates or corruptions skipped: no buffer to copy into */
	uint64_t tx_waiting;  /**< sent frames held, delayed or refused by the lower port, now */
};

/** @return 0, or -EINVAL when @p port is not an impair port. */
int pn_impair_stats_get(const struct pn_port *port, struct pn_impair_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* PN_IMPAIR_H */
