/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The impair port over a loop pair: what each impairment does to numbered
 * frames (lost, doubled, swapped, one bit flipped, held until the clock
 * passes), that the same seed does the same, that a full line pushes back,
 * and that every page comes back whatever is left inside at close.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "pn_impair.h"
#include "pn_pool.h"
#include "pn_port.h"
#include "pn_wire.h"

static struct pn_pool *pool;
static struct pn_port *a, *b; /* a: impair over loop side 0; b: loop side 1 */
static uint64_t fake_now;
static int pair_seq;

static uint64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

static void open_pair(const char *spec, bool start_b)
{
	struct pn_pool_params pp = { .sz = sizeof(pp), .nr_pages = 8192, .numa_node = PN_NUMA_ANY,
				     .name = "impair-test" };
	struct pn_port_conf pc = { .sz = sizeof(pc), .nb_queues = 1, .ring_size = 4096 };
	struct pn_impair imp;
	struct pn_port *lower;
	char args[32], err[128];

	pool = pn_pool_create(&pp);
	cr_assert_not_null(pool);
	pc.pools[0] = pool;
	snprintf(args, sizeof(args), "pair=imp%d", pair_seq++);
	lower = pn_port_open("loop", args, &pc);
	b = pn_port_open("loop", args, &pc);
	cr_assert(lower && b);
	cr_assert_eq(pn_impair_parse(spec, &imp, err, sizeof(err)), 0, "%s", err);
	imp.clock_us = fake_clock;
	a = pn_impair_wrap(lower, &imp, NULL);
	cr_assert_not_null(a);
	cr_assert_eq(pn_port_start(a), 0);
	if (start_b)
		cr_assert_eq(pn_port_start(b), 0);
	fake_now = 1000000;
}

static void close_pair(void)
{
	pn_port_close(a);
	pn_port_close(b);
	cr_assert_eq(pn_pool_destroy(pool), 0, "pages left in flight");
}

static struct pn_pkt *frame(uint32_t seq)
{
	struct pn_wire_udp4 spec = { .src_ip = 0x0a000001u, .dst_ip = 0x0a000002u,
				     .sport = 1, .dport = 2 };
	struct pn_pkt *p = pn_pkt_alloc(pool);
	size_t n;

	cr_assert_not_null(p);
	n = pn_wire_udp4_frame(pn_pkt_append(p, 60), 60, &spec, NULL, 60 - 42);
	cr_assert_eq(n, 60);
	memcpy(pn_pkt_data(p) + 42, &seq, 4);
	return p;
}

static uint32_t seq_of(struct pn_pkt *p)
{
	uint32_t s;

	memcpy(&s, pn_pkt_data(p) + 42, 4);
	return s;
}

/* bits in which @p p differs from frame @p seq */
static unsigned bits_off(struct pn_pkt *p, uint32_t seq)
{
	struct pn_pkt *ref = frame(seq);
	unsigned diff = 0;

	for (int j = 0; j < 60; j++)
		diff += (unsigned)__builtin_popcount(pn_pkt_data(p)[j] ^ pn_pkt_data(ref)[j]);
	pn_pkt_free(ref);
	return diff;
}

/* Send @p n numbered frames from @p from; receive on @p to into @p got. */
static unsigned pass(struct pn_port *from, struct pn_port *to, uint32_t n, uint32_t *got,
		     unsigned max)
{
	unsigned k = 0;

	for (uint32_t s = 0; s < n; s++) {
		struct pn_pkt *p = frame(s);

		cr_assert_eq(pn_port_tx_burst(from, 0, &p, 1), 1);
		if ((s & 31) != 31 && s + 1 != n)
			continue;
		/* until a quiet round, which also releases a frame held back */
		for (int quiet = 0; quiet < 2;) {
			struct pn_pkt *in[64];
			uint16_t m = pn_port_rx_burst(to, 0, in, 64);

			for (uint16_t i = 0; i < m; i++) {
				uint32_t seq = seq_of(in[i]);

				cr_assert_eq(in[i]->pkt_len, 60);
				cr_assert_eq(bits_off(in[i], seq), 0, "frame %u changed", seq);
				cr_assert_lt(k, max);
				got[k++] = seq;
				pn_pkt_free(in[i]);
			}
			quiet = m ? 0 : quiet + 1;
			pn_port_tx_burst(from, 0, NULL, 0); /* flushes what waits */
		}
	}
	return k;
}

static uint32_t got[40000];

Test(impair, clean_passes_everything_in_order)
{
	unsigned k;

	open_pair("", true);
	k = pass(b, a, 5000, got, 40000);
	cr_assert_eq(k, 5000);
	for (unsigned i = 0; i < k; i++)
		cr_assert_eq(got[i], i);
	k = pass(a, b, 5000, got, 40000);
	cr_assert_eq(k, 5000);
	for (unsigned i = 0; i < k; i++)
		cr_assert_eq(got[i], i);
	close_pair();
}

Test(impair, loss_is_counted_and_keeps_order)
{
	struct pn_impair_stats st;
	unsigned k;

	open_pair("rx_loss=0.3,tx_loss=0.1,seed=9", true);
	k = pass(b, a, 10000, got, 40000);
	for (unsigned i = 1; i < k; i++)
		cr_assert_gt(got[i], got[i - 1]);
	pn_impair_stats_get(a, &st);
	cr_assert_eq(k + st.rx_lost, 10000);
	cr_assert(st.rx_lost > 2700 && st.rx_lost < 3300, "%llu lost", (unsigned long long)st.rx_lost);
	k = pass(a, b, 10000, got, 40000);
	pn_impair_stats_get(a, &st);
	cr_assert_eq(k + st.tx_lost, 10000);
	cr_assert(st.tx_lost > 850 && st.tx_lost < 1150);
	close_pair();
}

Test(impair, duplicates_follow_their_original)
{
	struct pn_impair_stats st;
	unsigned k, dups = 0;

	open_pair("rx_dup=0.2,seed=3", true);
	k = pass(b, a, 10000, got, 40000);
	pn_impair_stats_get(a, &st);
	cr_assert_eq(k, 10000 + st.rx_dup);
	for (unsigned i = 1; i < k; i++) {
		cr_assert_geq(got[i], got[i - 1]);
		dups += got[i] == got[i - 1];
	}
	cr_assert_eq(dups, st.rx_dup);
	cr_assert(dups > 1700 && dups < 2300);
	close_pair();
}

Test(impair, reordering_swaps_neighbours_and_loses_nothing)
{
	struct pn_impair_stats st;
	static uint8_t seen[10000];
	unsigned k, out_of_order = 0;

	memset(seen, 0, sizeof(seen));
	open_pair("rx_reorder=0.2,seed=5", true);
	k = pass(b, a, 10000, got, 40000);
	pn_impair_stats_get(a, &st);
	cr_assert_eq(k, 10000);
	for (unsigned i = 0; i < k; i++) {
		cr_assert_eq(seen[got[i]]++, 0, "frame %u twice", got[i]);
		if (i && got[i] < got[i - 1]) {
			out_of_order++;
			cr_assert_eq(got[i] + 1, got[i - 1], "only neighbours swap");
		}
	}
	/* a frame held back at the end of a burst leaves alone, in order */
	cr_assert_leq(out_of_order, st.rx_reordered);
	cr_assert_gt(out_of_order, st.rx_reordered / 2);
	cr_assert_gt(out_of_order, 1000);
	close_pair();
}

Test(impair, corruption_flips_one_bit_of_the_original_only)
{
	struct pn_impair_stats st;
	unsigned bad = 0, dups = 0;

	open_pair("rx_corrupt=0.1,rx_dup=0.5,seed=21", true);
	for (uint32_t s = 0; s < 4000; s++) {
		struct pn_pkt *p = frame(s), *in[4];
		uint16_t m;

		cr_assert_eq(pn_port_tx_burst(b, 0, &p, 1), 1);
		m = pn_port_rx_burst(a, 0, in, 4);
		cr_assert(m == 1 || m == 2);
		/* the original first, then its copy, which stays intact */
		bad += bits_off(in[0], s);
		cr_assert_leq(bits_off(in[0], s), 1);
		if (m == 2) {
			cr_assert_eq(bits_off(in[1], s), 0, "the duplicate of %u changed", s);
			dups++;
		}
		for (uint16_t i = 0; i < m; i++)
			pn_pkt_free(in[i]);
	}
	pn_impair_stats_get(a, &st);
	cr_assert_eq(dups, st.rx_dup);
	cr_assert_eq(bad, st.rx_corrupted, "one bit in each corrupted frame");
	cr_assert(bad > 300 && bad < 500, "%u", bad);
	close_pair();
}

Test(impair, delay_holds_frames_until_the_clock_passes)
{
	struct pn_pkt *p[8], *in[8];
	struct pn_impair_stats st;

	open_pair("rx_delay_us=5000,tx_delay_us=3000", true);
	for (uint32_t s = 0; s < 4; s++)
		p[s] = frame(s);
	cr_assert_eq(pn_port_tx_burst(b, 0, p, 4), 4);
	cr_assert_eq(pn_port_rx_burst(a, 0, in, 8), 0, "pulled in, not due");
	fake_now += 4999;
	cr_assert_eq(pn_port_rx_burst(a, 0, in, 8), 0);
	fake_now += 1;
	cr_assert_eq(pn_port_rx_burst(a, 0, in, 8), 4);
	for (uint32_t s = 0; s < 4; s++) {
		cr_assert_eq(seq_of(in[s]), s);
		pn_pkt_free(in[s]);
	}
	/* sending: handed in now, on the wire 3 ms later */
	p[0] = frame(7);
	cr_assert_eq(pn_port_tx_burst(a, 0, p, 1), 1);
	cr_assert_eq(pn_port_rx_burst(b, 0, in, 8), 0);
	pn_impair_stats_get(a, &st);
	cr_assert_eq(st.tx_waiting, 1);
	fake_now += 3000;
	pn_port_rx_burst(a, 0, in, 8); /* any burst on the queue sends what is due */
	cr_assert_eq(pn_port_rx_burst(b, 0, in, 8), 1);
	cr_assert_eq(seq_of(in[0]), 7);
	pn_pkt_free(in[0]);
	pn_impair_stats_get(a, &st);
	cr_assert_eq(st.rx_delayed, 4);
	cr_assert_eq(st.tx_delayed, 1);
	cr_assert_eq(st.tx_waiting, 0);
	/* frames still in the line at close come back to the pool */
	p[0] = frame(8);
	p[1] = frame(9);
	cr_assert_eq(pn_port_tx_burst(b, 0, p, 2), 2);
	pn_port_rx_burst(a, 0, in, 8);
	p[0] = frame(10);
	cr_assert_eq(pn_port_tx_burst(a, 0, p, 1), 1);
	close_pair();
}

Test(impair, the_same_seed_does_the_same)
{
	static uint32_t first[20000];
	unsigned k1, k2;

	open_pair("rx_loss=0.1,rx_dup=0.1,rx_reorder=0.1,seed=77", true);
	k1 = pass(b, a, 5000, first, 20000);
	close_pair();
	open_pair("rx_loss=0.1,rx_dup=0.1,rx_reorder=0.1,seed=77", true);
	k2 = pass(b, a, 5000, got, 40000);
	close_pair();
	cr_assert_eq(k1, k2);
	cr_assert_eq(memcmp(first, got, k1 * sizeof(got[0])), 0);
	open_pair("rx_loss=0.1,rx_dup=0.1,rx_reorder=0.1,seed=78", true);
	k2 = pass(b, a, 5000, got, 40000);
	close_pair();
	cr_assert(k1 != k2 || memcmp(first, got, k1 * sizeof(got[0])) != 0);
}

Test(impair, a_full_line_pushes_back_and_loses_nothing)
{
	struct pn_pkt *p[64], *in[64];
	struct pn_impair_stats st;
	unsigned taken = 0, offered = 0, rcvd = 0;

	/* b is not started: the loop refuses everything a sends */
	open_pair("", false);
	for (int round = 0; round < 40; round++) {
		uint16_t n;

		for (int i = 0; i < 64; i++)
			p[i] = frame(offered + (uint32_t)i);
		n = pn_port_tx_burst(a, 0, p, 64);
		taken += n;
		for (int i = n; i < 64; i++)
			pn_pkt_free(p[i]);
		offered += 64;
		offered -= 64 - n; /* numbers not taken are offered again */
	}
	pn_impair_stats_get(a, &st);
	cr_assert_lt(taken, 40 * 64, "a full line must refuse");
	cr_assert_eq(st.tx_waiting, taken);
	cr_assert_eq(pn_port_start(b), 0);
	for (int round = 0; round < 100 && rcvd < taken; round++) {
		uint16_t m;

		pn_port_tx_burst(a, 0, NULL, 0);
		while ((m = pn_port_rx_burst(b, 0, in, 64)) != 0)
			for (uint16_t i = 0; i < m; i++) {
				cr_assert_eq(seq_of(in[i]), rcvd, "in order, none lost");
				rcvd++;
				pn_pkt_free(in[i]);
			}
	}
	cr_assert_eq(rcvd, taken);
	close_pair();
}

Test(impair, bad_settings_and_misuse)
{
	struct pn_impair imp;
	struct pn_impair_stats st;
	struct pn_port_conf pc = { .sz = sizeof(pc), .nb_queues = 1 };
	char err[128], args[64];

	cr_assert_eq(pn_impair_parse("rx_loss=0.5,seed=3,tx_delay_us=10", &imp, err, sizeof(err)), 0);
	cr_assert_float_eq(imp.rx_loss, 0.5, 1e-9);
	cr_assert_eq(imp.seed, 3);
	cr_assert_eq(imp.tx_delay_us, 10);
	cr_assert(pn_impair_active(&imp));
	cr_assert_eq(pn_impair_parse("", &imp, err, sizeof(err)), 0);
	cr_assert_not(pn_impair_active(&imp));
	cr_assert_eq(imp.seed, 1);
	static const char *const bad[] = {
		"rx_loss=2", "rx_loss=-0.1", "rx_loss=nan", "rx_loss=", "rx_loss", "nosuch=0.1",
		"rx_delay_us=-1", "rx_delay_us=0.5", "rx_delay_us=99999999999", "seed=x",
		"rx_loss=0.1,,=3",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		cr_assert_eq(pn_impair_parse(bad[i], &imp, err, sizeof(err)), -EINVAL, "%s", bad[i]);
		cr_assert_neq(err[0], 0, "no message for %s", bad[i]);
	}

	open_pair("", true);
	errno = 0;
	cr_assert_null(pn_impair_wrap(NULL, &imp, NULL));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(pn_impair_wrap(a, &imp, NULL), "an impair port over an impair port");
	cr_assert_eq(pn_impair_stats_get(b, &st), -EINVAL, "b is a loop port");
	/* the port a wraps is taken */
	pc.pools[0] = pool;
	{
		struct pn_port_info ia;

		pn_port_info_get(a, &ia);
		cr_assert_str_eq(ia.driver, "impair");
	}
	snprintf(args, sizeof(args), "lower=%u", pn_port_id(b));
	{
		struct pn_port *w = pn_port_open("impair", "lower=31", &pc);

		cr_assert_null(w, "no port 31");
		w = pn_port_open("impair", "lower=x", &pc);
		cr_assert_null(w);
		w = pn_port_open("impair", "rx_loss=0.1", &pc);
		cr_assert_null(w, "no lower");
		/* the string form, over b */
		snprintf(args, sizeof(args), "lower=%u,rx_loss=0.25,seed=4", pn_port_id(b));
		w = pn_port_open("impair", args, &pc);
		cr_assert_not_null(w);
		cr_assert_null(pn_port_open("impair", args, &pc), "b is wrapped already");
		b = w; /* closing w closes b */
	}
	close_pair();
}
