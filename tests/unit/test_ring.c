/* SPDX-License-Identifier: BSD-3-Clause */
#include <criterion/criterion.h>
#include <pthread.h>

#include "pn_ring.h"

Test(ring, create_rejects_bad_params)
{
	cr_expect_null(pn_ring_create(3, 0));
	cr_expect_eq(errno, EINVAL);
	cr_expect_null(pn_ring_create(0, 0));
	cr_expect_null(pn_ring_create(8, 0x80));
	cr_expect_eq(errno, EINVAL);
}

Test(ring, bulk_is_all_or_none_burst_is_partial)
{
	struct pn_ring *r = pn_ring_create(8, 0);
	void *in[10], *out[10];

	for (uintptr_t i = 0; i < 10; i++)
		in[i] = (void *)(i + 1);
	cr_assert_eq(pn_ring_enqueue_bulk(r, in, 10), 0, "bulk over capacity must fail whole");
	cr_assert_eq(pn_ring_count(r), 0);
	cr_assert_eq(pn_ring_enqueue_burst(r, in, 10), 8);
	cr_assert_eq(pn_ring_free_count(r), 0);
	cr_assert_eq(pn_ring_enqueue(r, in[9]), -ENOBUFS);
	cr_assert_eq(pn_ring_dequeue_bulk(r, out, 9), 0);
	cr_assert_eq(pn_ring_dequeue_burst(r, out, 10), 8);
	for (unsigned i = 0; i < 8; i++)
		cr_assert_eq(out[i], in[i], "FIFO order broken at %u", i);
	cr_assert_eq(pn_ring_dequeue(r, out), -ENOENT);
	pn_ring_free(r);
}

Test(ring, wraps_many_times)
{
	struct pn_ring *r = pn_ring_create(4, PN_RING_F_SP_ENQ | PN_RING_F_SC_DEQ);
	uintptr_t next_in = 1, next_out = 1;

	for (unsigned round = 0; round < 1000; round++) {
		void *buf[3];

		for (unsigned i = 0; i < 3; i++)
			buf[i] = (void *)next_in++;
		cr_assert_eq(pn_ring_enqueue_bulk(r, buf, 3), 3);
		cr_assert_eq(pn_ring_dequeue_bulk(r, buf, 3), 3);
		for (unsigned i = 0; i < 3; i++)
			cr_assert_eq((uintptr_t)buf[i], next_out++);
	}
	pn_ring_free(r);
}

Test(ring, close_refuses_enqueue_keeps_contents)
{
	struct pn_ring *r = pn_ring_create(8, 0);
	void *x = (void *)0x1234, *y;

	cr_assert_eq(pn_ring_enqueue(r, x), 0);
	cr_assert(!pn_ring_closed(r));
	pn_ring_close(r);
	cr_assert(pn_ring_closed(r));
	cr_assert_eq(pn_ring_enqueue(r, x), -ENOBUFS);
	cr_assert_eq(pn_ring_dequeue(r, &y), 0);
	cr_assert_eq(y, x);
	cr_assert_eq(pn_ring_count(r), 0);
	pn_ring_free(r);
}

/*
 * A producer that claimed a slot and stalls (preempted) does not hold the
 * others up: they enqueue past it; consumers see the ring end at its slot
 * until it publishes.
 */
Test(ring, a_stalled_producer_blocks_nobody)
{
	struct pn_ring *r = pn_ring_create(8, 0);
	void *out[8];
	uint64_t pos = atomic_load(&r->prod.head);

	/* white box: claim position pos without publishing it */
	cr_assert(atomic_compare_exchange_strong(&r->prod.head, &pos, pos + 1));
	for (uintptr_t i = 1; i <= 3; i++)
		cr_assert_eq(pn_ring_enqueue(r, (void *)i), 0, "producer %zu went past", (size_t)i);
	cr_assert_eq(pn_ring_dequeue_burst(r, out, 8), 0, "the stalled slot comes first");
	/* the stalled producer publishes */
	pn_ring_slot(r, pos)->obj = (void *)0x99;
	atomic_store(&pn_ring_slot(r, pos)->seq, pos + 1);
	cr_assert_eq(pn_ring_dequeue_burst(r, out, 8), 4);
	cr_assert_eq((uintptr_t)out[0], 0x99);
	cr_assert_eq((uintptr_t)out[3], 3);
	pn_ring_free(r);
}
