/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What pagenet-bench's parts share: options, the clock, and the row runner
 * that interleaves rounds of ours and the anchor and prints the medians.
 */
#ifndef PN_BENCH_H
#define PN_BENCH_H

#include <stdbool.h>
#include <stdint.h>

#define MAX_PROCS 31

struct opts {
	bool json;
	unsigned rounds;
	uint64_t iters;
	unsigned procs; /* fresh processes per row (bench_procs.c) */
};

extern struct opts opt;

typedef double (*bench_fn)(void *ctx, uint64_t iters); /* returns ns per op */

uint64_t now_ns(void);
/* pn_app.h's stop flag is per translation unit: the other parts ask
 * pagenet_bench.c's, whose handlers main() installs */
bool bench_stopped(void);
/* flush stdout; a reader that went away stops the run as Ctrl-C does */
void bench_flush(void);
void run_row(const char *name, const char *anchor, bench_fn ours, void *octx, bench_fn theirs,
	     void *tctx, uint64_t iters, const char *unit);

/* bench_procs.c: the median of @n values (not changed) */
double bench_median(const double *v, unsigned n);
/* Run this command line again in opt.procs fresh processes and report each
 * row's median across them, with the spread. @return the exit status. */
int bench_in_processes(int argc, char **argv, unsigned procs);

/* bench_group.c: stacks in a group, over the loop driver */
int bench_group(void);

#endif /* PN_BENCH_H */
