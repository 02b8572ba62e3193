/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What pagenet-bench's parts share: options, the clock, and the row runner
 * that interleaves rounds of ours and the anchor and prints the medians.
 */
#ifndef PN_BENCH_H
#define PN_BENCH_H

#include <stdbool.h>
#include <stdint.h>

struct opts {
	bool json;
	unsigned rounds;
	uint64_t iters;
};

extern struct opts opt;

typedef double (*bench_fn)(void *ctx, uint64_t iters); /* returns ns per op */

uint64_t now_ns(void);
void run_row(const char *name, const char *anchor, bench_fn ours, void *octx, bench_fn theirs,
	     void *tctx, uint64_t iters, const char *unit);

/* bench_group.c: stacks in a group, over the loop driver */
int bench_group(void);

#endif /* PN_BENCH_H */
