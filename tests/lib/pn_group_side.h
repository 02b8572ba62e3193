/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One side of two stack groups back to back on a two-queue loop pair: the
 * group, a pool per queue and the port. The stacks are the test's to make,
 * each on the thread that will poll it; gs_close() destroys those still
 * there, then the port and the group, and asserts every page is back.
 */
#ifndef PN_GROUP_SIDE_H
#define PN_GROUP_SIDE_H

#include <stdio.h>

#include "pn_net.h"
#include "pn_pool.h"
#include "pn_port.h"
#include "pn_test.h"

#define GS_NQ 2

struct gs_side {
	struct pn_stack_group *g;
	struct pn_pool *pool[GS_NQ];
	struct pn_port *port;
	struct pn_stack *st[GS_NQ];
};

static inline void gs_open(struct gs_side *s, const char *pair, uint32_t pages)
{
	struct pn_port_conf pc = { .sz = sizeof(pc), .nb_queues = GS_NQ, .ring_size = 4096 };
	char args[64];

	s->g = pn_stack_group_create(&(struct pn_stack_group_conf){
		.sz = sizeof(struct pn_stack_group_conf), .nb_stacks = GS_NQ });
	cr_assert_not_null(s->g);
	for (unsigned q = 0; q < GS_NQ; q++) {
		s->pool[q] = pn_pool_create(&(struct pn_pool_params){
			.sz = sizeof(struct pn_pool_params), .nr_pages = pages, .ring_size = 4096,
			.numa_node = PN_NUMA_ANY, .name = "group-test" });
		cr_assert_not_null(s->pool[q]);
		pc.pools[q] = s->pool[q];
	}
	snprintf(args, sizeof(args), "pair=%s", pair);
	s->port = pn_port_open("loop", args, &pc);
	cr_assert_not_null(s->port);
	cr_assert_eq(pn_port_start(s->port), 0);
}

static inline void gs_close(struct gs_side *s)
{
	for (unsigned q = 0; q < GS_NQ; q++) {
		pn_stack_destroy(s->st[q]);
		s->st[q] = NULL;
	}
	pn_port_stop(s->port);
	pn_port_close(s->port);
	cr_assert_eq(pn_stack_group_destroy(s->g), 0);
	for (unsigned q = 0; q < GS_NQ; q++)
		cr_assert_eq(pn_pool_destroy(s->pool[q]), 0, "pool %u: pages in flight", q);
}

#endif /* PN_GROUP_SIDE_H */
