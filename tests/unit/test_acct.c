/* SPDX-License-Identifier: BSD-3-Clause */
/* Accounting groups: hierarchy, limits, events, stocks, the pool's charges. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <jansson.h>
#include <unistd.h>

#include "pn_acct.h"
#include "pn_log.h"
#include "pn_tel_client.h"
#include "pn_test.h"

/* Everything back: stocks drained, every group at 0. */
static void assert_all_zero(void)
{
	pn_acct_drain_all();
	cr_assert_eq(pn_acct_stocked(), 0, "stocks not empty");
	for (unsigned id = 0; id < PN_ACCT_MAX_GROUPS; id++) {
		struct pn_acct_group *g = pn_acct_by_id((uint16_t)id);

		if (g != NULL)
			cr_assert_eq(pn_acct_current(g), 0, "group %s at %lld",
				     pn_acct_name(g), (long long)pn_acct_current(g));
	}
}

Test(acct, hierarchy_limits_and_events)
{
	struct pn_acct_group *p = pn_acct_group_create(NULL, "parent");
	struct pn_acct_group *c = pn_acct_group_create(p, "child");
	struct pn_acct_events ev;
	char path[64];

	cr_assert_not_null(p);
	cr_assert_not_null(c);
	pn_acct_path(c, path, sizeof(path));
	cr_assert_str_eq(path, "/parent/child");
	cr_assert_eq(pn_acct_group_find(NULL, "parent/child"), c);
	cr_assert_eq(pn_acct_parent(c), p);

	/* the parent's max binds the child: 3 charges of a batch fit in 100 */
	cr_assert_eq(pn_acct_set_max(p, 100), 0);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(pn_acct_charge(c, PN_ACCT_BATCH, PN_ACCT_ZC), 0);
	cr_assert_eq(pn_acct_charge(c, PN_ACCT_BATCH, PN_ACCT_ZC), -ENOBUFS);
	pn_acct_events(p, &ev);
	cr_assert_eq(ev.max, 1, "the parent's max was hit once");
	cr_assert_eq(ev.fail, 0);
	pn_acct_events(c, &ev);
	cr_assert_eq(ev.max, 0, "the child's own max was not hit");
	cr_assert_eq(ev.fail, 1, "the child's charge was refused once");
	cr_assert_eq(pn_acct_current(c), 96);
	cr_assert_eq(pn_acct_current(p), 96, "charges propagate up");
	cr_assert_eq(pn_acct_current(pn_acct_root()), 96);

	/* a child max below the parent's binds first */
	pn_acct_set_max(p, PN_ACCT_UNLIMITED);
	pn_acct_set_max(c, 128);
	cr_assert_eq(pn_acct_charge(c, PN_ACCT_BATCH, PN_ACCT_ZC), 0);
	cr_assert_eq(pn_acct_charge(c, PN_ACCT_BATCH, PN_ACCT_ZC), -ENOBUFS);
	pn_acct_events(c, &ev);
	cr_assert_eq(ev.max, 1);
	cr_assert_eq(ev.fail, 2);
	cr_assert_eq(pn_acct_peak(c), 128);
	cr_assert_eq(pn_acct_peak(p), 128);

	/* lowering max below current refuses new charges; nothing is taken */
	pn_acct_set_max(c, 64);
	cr_assert_eq(pn_acct_charge(c, 1, PN_ACCT_QUEUED), -ENOBUFS);
	cr_assert_eq(pn_acct_current(c), 128);
	for (int i = 0; i < 4; i++)
		pn_acct_uncharge(c, PN_ACCT_BATCH, PN_ACCT_ZC);
	pn_acct_drain_all();
	cr_assert_eq(pn_acct_current(c), 0);
	cr_assert_eq(pn_acct_charge(c, 1, PN_ACCT_QUEUED), 0);
	pn_acct_uncharge(c, 1, PN_ACCT_QUEUED);

	cr_assert_eq(pn_acct_group_destroy(p), -EBUSY, "it has a child");
	cr_assert_eq(pn_acct_group_destroy(c), 0);
	cr_assert_eq(pn_acct_group_destroy(p), 0);
	cr_assert_eq(pn_acct_group_destroy(pn_acct_root()), -EINVAL);
	assert_all_zero();
}

Test(acct, names_are_checked)
{
	struct pn_acct_group *a = pn_acct_group_create(NULL, "a");

	cr_assert_null(pn_acct_group_create(NULL, "a"));
	cr_assert_eq(errno, EEXIST);
	cr_assert_null(pn_acct_group_create(NULL, "x/y"));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(pn_acct_group_create(NULL, ""));
	cr_assert_null(pn_acct_group_create(NULL, ".."));
	cr_assert_eq(pn_acct_group_destroy(a), 0);
	a = pn_acct_group_create(NULL, "a");
	cr_assert_not_null(a, "a name is free again after destroy");
	cr_assert_eq(pn_acct_group_destroy(a), 0);
}

Test(acct, group_with_pages_cannot_go)
{
	struct pn_acct_group *g = pn_acct_group_create(NULL, "busy");

	cr_assert_eq(pn_acct_charge(g, 3, PN_ACCT_ZC), 0);
	cr_assert_eq(pn_acct_group_destroy(g), -EBUSY);
	pn_acct_uncharge(g, 3, PN_ACCT_ZC);
	/* the stock holds pre-charged pages: destroy drains them */
	cr_assert_gt(pn_acct_current(g), 0);
	cr_assert_eq(pn_acct_group_destroy(g), 0);
	assert_all_zero();
}

Test(acct, stock_serves_single_pages_and_stat_is_exact)
{
	struct pn_acct_group *g = pn_acct_group_create(NULL, "stock");
	struct pn_acct_stat st;

	cr_assert_eq(pn_acct_charge(g, 1, PN_ACCT_ZC), 0);
	cr_assert_eq(pn_acct_current(g), PN_ACCT_BATCH, "a batch is pre-charged");
	for (int i = 0; i < 9; i++)
		cr_assert_eq(pn_acct_charge(g, 1, i < 5 ? PN_ACCT_ZC : PN_ACCT_QUEUED), 0);
	cr_assert_eq(pn_acct_current(g), PN_ACCT_BATCH, "served from the stock");
	pn_acct_note_copied(g, 1500);
	pn_acct_stat(g, &st);
	cr_assert_eq(st.zc_pages, 6);
	cr_assert_eq(st.queued_pages, 4);
	cr_assert_eq(st.copied_bytes, 1500);
	pn_acct_drain_all();
	cr_assert_eq(pn_acct_current(g), 10, "exact once the stock is drained");
	pn_acct_stat(g, &st);
	cr_assert_eq(st.zc_pages, 6);
	for (int i = 0; i < 10; i++)
		pn_acct_uncharge(g, 1, i < 6 ? PN_ACCT_ZC : PN_ACCT_QUEUED);
	pn_acct_stat(g, &st);
	cr_assert_eq(st.zc_pages + st.queued_pages, 0);
	cr_assert_eq(pn_acct_group_destroy(g), 0);
	assert_all_zero();
}

Test(acct, isolation_sibling_keeps_charging)
{
	struct pn_acct_group *svc = pn_acct_group_create(NULL, "svc");
	struct pn_acct_group *greedy = pn_acct_group_create(svc, "greedy");
	struct pn_acct_group *polite = pn_acct_group_create(svc, "polite");
	int refused = 0;

	pn_acct_set_max(greedy, 64);
	for (int i = 0; i < 200; i++)
		refused += pn_acct_charge(greedy, 1, PN_ACCT_ZC) != 0;
	cr_assert_eq(refused, 200 - 64, "greedy stops at its max");
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(pn_acct_charge(polite, 1, PN_ACCT_ZC), 0, "sibling refused at %d", i);
	pn_acct_uncharge(greedy, 64, PN_ACCT_ZC);
	pn_acct_uncharge(polite, 1000, PN_ACCT_ZC);
	pn_acct_drain_all();
	cr_assert_eq(pn_acct_group_destroy(greedy), 0);
	cr_assert_eq(pn_acct_group_destroy(polite), 0);
	cr_assert_eq(pn_acct_group_destroy(svc), 0);
	assert_all_zero();
}

static struct pn_pool *accounted_pool(uint32_t pages)
{
	struct pn_pool_params pp = {
		.sz = sizeof(pp), .flags = PN_POOL_F_ACCOUNTED, .nr_pages = pages,
		.numa_node = PN_NUMA_ANY, .name = "acct",
	};
	struct pn_pool *p = pn_pool_create(&pp);

	cr_assert_not_null(p);
	return p;
}

Test(acct, accounted_and_unaccounted_pools_side_by_side)
{
	struct pn_pool *plain = test_pool(64, 0, 0), *acc = accounted_pool(64);
	struct pn_acct_group *g = pn_acct_group_create(NULL, "app");
	struct pn_frame *a[8], *b[8];

	for (int i = 0; i < 8; i++) {
		a[i] = pn_pool_alloc(plain);
		b[i] = pn_pool_alloc(acc);
		cr_assert_eq(pn_pool_charge(a[i], g, PN_ACCT_ZC), 0, "no flag day: succeeds");
		cr_assert_eq(pn_pool_charge(b[i], g, PN_ACCT_ZC), 0);
		cr_assert_null(pn_frame_acct(a[i]), "unaccounted pool: nothing recorded");
		cr_assert_eq(pn_frame_acct(b[i]), g, "the descriptor records the group");
	}
	cr_assert_eq(pn_pool_charge(b[0], g, PN_ACCT_ZC), 0, "a page is charged once");
	pn_acct_drain_all();
	cr_assert_eq(pn_acct_current(g), 8);
	cr_assert_eq(pn_pool_charge(b[0], pn_acct_root(), PN_ACCT_ZC), -EINVAL);
	for (int i = 0; i < 8; i++) {
		pn_pool_put(plain, a[i]);
		pn_frame_put(b[i]); /* through the POOL destructor */
	}
	pn_acct_drain_all();
	cr_assert_eq(pn_acct_current(g), 0, "the destructor uncharged every page");
	test_pool_destroy_clean(plain);
	test_pool_destroy_clean(acc);
	cr_assert_eq(pn_acct_group_destroy(g), 0);
	assert_all_zero();
}

Test(acct, refused_charge_loses_nothing)
{
	struct pn_pool *acc = accounted_pool(64);
	struct pn_acct_group *g = pn_acct_group_create(NULL, "small");
	struct pn_frame *f[6];
	struct pn_acct_events ev;
	int copied = 0;

	pn_acct_set_max(g, 4);
	for (int i = 0; i < 6; i++) {
		f[i] = pn_pool_alloc(acc);
		memset(pn_frame_addr(f[i]), i, 64);
		if (pn_pool_charge(f[i], g, PN_ACCT_ZC) == -ENOBUFS) {
			/* what a receiver does: copy the data out, free the page */
			uint8_t copy[64];

			memcpy(copy, pn_frame_addr(f[i]), sizeof(copy));
			cr_assert_eq(copy[63], i);
			pn_acct_note_copied(g, sizeof(copy));
			cr_assert_null(pn_frame_acct(f[i]));
			pn_pool_put(acc, f[i]);
			f[i] = NULL;
			copied++;
		}
	}
	cr_assert_eq(copied, 2);
	pn_acct_events(g, &ev);
	cr_assert_eq(ev.fail, 2);
	cr_assert_eq(ev.max, 2, "one max event per refused charge, not two");
	for (int i = 0; i < 6; i++)
		if (f[i])
			pn_pool_put(acc, f[i]);
	test_pool_destroy_clean(acc);
	pn_acct_drain_all();
	cr_assert_eq(pn_acct_current(g), 0);
	cr_assert_eq(pn_acct_group_destroy(g), 0);
	assert_all_zero();
}

Test(acct, packets_fragments_and_put_bulk_uncharge)
{
	struct pn_pool *acc = accounted_pool(64);
	struct pn_acct_group *g = pn_acct_group_create(NULL, "pkts");
	struct pn_pkt *p[10];
	struct pn_frame *bulk[16];

	for (int i = 0; i < 10; i++) {
		p[i] = pn_pkt_alloc(acc);
		cr_assert_not_null(p[i]);
		cr_assert_eq(pn_pool_charge(pn_pkt_own_shinfo(p[i])->frame, g, PN_ACCT_QUEUED), 0);
	}
	for (int i = 0; i < 10; i++)
		pn_pkt_free(p[i]);
	cr_assert_eq(pn_pool_alloc_bulk(acc, bulk, 16), 0);
	for (int i = 0; i < 16; i++)
		cr_assert_eq(pn_pool_charge(bulk[i], g, PN_ACCT_ZC), 0);
	pn_pool_put_bulk(acc, bulk, 16);
	/* the pool's current fragment page may stay charged until the pool
	 * moves past it: destroying the pool drops it */
	test_pool_destroy_clean(acc);
	pn_acct_drain_all();
	cr_assert_eq(pn_acct_current(g), 0);
	cr_assert_eq(pn_acct_group_destroy(g), 0);
	assert_all_zero();
}

/* telemetry: the cgroup v2 files and the gated max */

static FILE *tel_open(bool writes, char *dir)
{
	tel_start(dir, "acct", writes);
	return tel_client();
}

Test(acct, telemetry_serves_group_files_and_gates_max)
{
	struct pn_acct_group *g = pn_acct_group_create(NULL, "web");
	struct pn_acct_group *c = pn_acct_group_create(g, "conn");
	char dir1[] = "/tmp/pn-acct-XXXXXX", dir2[] = "/tmp/pn-acct-XXXXXX";
	FILE *f = tel_open(false, dir1);
	json_t *j, *v;

	pn_acct_charge(c, PN_ACCT_BATCH, PN_ACCT_ZC);
	j = tel_ask(f, "/acct/group,web/conn");
	v = json_object_get(j, "/acct/group");
	cr_assert_str_eq(json_string_value(json_object_get(v, "path")), "/web/conn");
	cr_assert_eq(json_integer_value(json_object_get(v, "memory.current")), PN_ACCT_BATCH);
	cr_assert_str_eq(json_string_value(json_object_get(v, "memory.max")), "max");
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(v, "memory.stat"),
							"zc_pages")), PN_ACCT_BATCH);
	json_decref(j);
	j = tel_ask(f, "/acct/groups");
	cr_assert_eq(json_array_size(json_object_get(j, "/acct/groups")), 3, "root, web, conn");
	json_decref(j);
	j = tel_ask(f, "/set/acct/max,web,10");
	cr_assert_not_null(json_object_get(j, "error"), "writes are not allowed");
	json_decref(j);
	cr_assert_eq(pn_acct_max(g), PN_ACCT_UNLIMITED);
	fclose(f);
	pn_telemetry_stop();
	rmdir(dir1);

	f = tel_open(true, dir2);
	j = tel_ask(f, "/set/acct/max,web,10");
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "/set/acct/max"),
							"memory.max")), 10);
	json_decref(j);
	cr_assert_eq(pn_acct_max(g), 10);
	cr_assert_eq(pn_acct_charge(c, 1, PN_ACCT_ZC), -ENOBUFS, "over the new max");
	j = tel_ask(f, "/set/acct/max,web,max");
	json_decref(j);
	cr_assert_eq(pn_acct_max(g), PN_ACCT_UNLIMITED);
	fclose(f);
	pn_telemetry_stop();
	rmdir(dir2);
	pn_acct_uncharge(c, PN_ACCT_BATCH, PN_ACCT_ZC);
	cr_assert_eq(pn_acct_group_destroy(c), 0);
	cr_assert_eq(pn_acct_group_destroy(g), 0);
	assert_all_zero();
}

Test(acct, pool_moves_past_a_charged_fragment_page)
{
	struct pn_pool *acc = accounted_pool(64);
	struct pn_acct_group *g = pn_acct_group_create(NULL, "frags");
	struct pn_frame *f1, *f2, *f3;
	void *b1 = pn_pool_alloc_frag(acc, 1024, &f1);
	void *b2, *b3;

	cr_assert_not_null(b1);
	cr_assert_eq(pn_pool_charge(f1, g, PN_ACCT_ZC), 0);
	/* the rest of a charged page is not handed to anyone else */
	b2 = pn_pool_alloc_frag(acc, 1024, &f2);
	cr_assert_neq(f2, f1, "no more fragments from a charged page");
	pn_pool_frag_free(f1, b1);
	/* the consumer's fragment was the last use of that page: uncharged */
	pn_acct_drain_all();
	cr_assert_eq(pn_acct_current(g), 0);
	b3 = pn_pool_alloc_frag(acc, 1024, &f3);
	cr_assert_not_null(b3);
	cr_assert_null(pn_frame_acct(f3));
	pn_pool_frag_free(f2, b2);
	pn_pool_frag_free(f3, b3);
	test_pool_destroy_clean(acc);
	cr_assert_eq(pn_acct_group_destroy(g), 0);
	assert_all_zero();
}

/* ---- ownership issue, finding 6 */

struct charger {
	struct pn_acct_group *g;
	_Atomic bool stop, stocked;
	_Atomic uint64_t ok;
};

/* Charges one page and keeps it: the thread's stock holds the rest of
 * its batch, pre-charged. */
static void *charge_one_and_wait(void *arg)
{
	struct charger *c = arg;

	cr_assert_eq(pn_acct_charge(c->g, 1, PN_ACCT_ZC), 0);
	atomic_store(&c->stocked, true);
	while (!atomic_load(&c->stop))
		sched_yield();
	pn_acct_uncharge(c->g, 1, PN_ACCT_ZC);
	return NULL;
}

Test(acct, lowering_max_drains_stocks_and_binds_at_once)
{
	struct pn_acct_group *g = pn_acct_group_create(NULL, "lowered");
	struct charger c = { .g = g };
	unsigned ok = 0;
	pthread_t t;

	pthread_create(&t, NULL, charge_one_and_wait, &c);
	while (!atomic_load(&c.stocked))
		sched_yield();
	cr_assert_eq(pn_acct_charge(g, 1, PN_ACCT_ZC), 0); /* this thread stocks too */
	cr_assert_geq(pn_acct_current(g), 2 * PN_ACCT_BATCH, "both stocks pre-charged");
	cr_assert_eq(pn_acct_set_max(g, 4), 0);
	cr_assert_eq(pn_acct_current(g), 2, "the stocks gave their pages back");
	for (unsigned i = 0; i < 100; i++)
		ok += pn_acct_charge(g, 1, PN_ACCT_ZC) == 0;
	cr_assert_eq(ok, 2, "charges stop at the new max (got %u)", ok);
	cr_assert_leq(pn_acct_current(g), 4);
	pn_acct_uncharge(g, 1 + ok, PN_ACCT_ZC);
	atomic_store(&c.stop, true);
	pthread_join(t, NULL);
	pn_acct_drain_all();
	cr_assert_eq(pn_acct_current(g), 0);
	cr_assert_eq(pn_acct_group_destroy(g), 0);
	assert_all_zero();
}

Test(acct, sibling_stocks_are_drained_before_a_refusal)
{
	struct pn_acct_group *p = pn_acct_group_create(NULL, "budget");
	struct pn_acct_group *a = pn_acct_group_create(p, "a");
	struct pn_acct_group *b = pn_acct_group_create(p, "b");
	struct charger c = { .g = a };
	struct pn_acct_events ev;
	pthread_t t;

	pn_acct_set_max(p, 40);
	pthread_create(&t, NULL, charge_one_and_wait, &c);
	while (!atomic_load(&c.stocked))
		sched_yield();
	cr_assert_geq(pn_acct_current(p), PN_ACCT_BATCH, "a's stock holds the parent's budget");
	/* consumers hold one page; 39 more fit under the parent */
	cr_assert_eq(pn_acct_charge(b, 39, PN_ACCT_ZC), 0, "drained, then charged");
	pn_acct_events(p, &ev);
	cr_assert_eq(ev.max, 1, "it did hit the max once");
	cr_assert_eq(pn_acct_charge(b, 1, PN_ACCT_ZC), -ENOBUFS, "now the budget is really used");
	pn_acct_uncharge(b, 39, PN_ACCT_ZC);
	atomic_store(&c.stop, true);
	pthread_join(t, NULL);
	pn_acct_drain_all();
	cr_assert_eq(pn_acct_group_destroy(a), 0);
	cr_assert_eq(pn_acct_group_destroy(b), 0);
	cr_assert_eq(pn_acct_group_destroy(p), 0);
	assert_all_zero();
}

Test(acct, charged_fragment_page_ends_its_charge_with_the_last_fragment)
{
	struct pn_pool *acc = accounted_pool(64);
	struct pn_acct_group *g = pn_acct_group_create(NULL, "fragpage");
	struct pn_frame *f;
	uint8_t *b = pn_pool_alloc_frag(acc, 512, &f);

	cr_assert_eq(pn_pool_charge(f, g, PN_ACCT_ZC), 0);
	pn_pool_frag_free(f, b); /* on the owner: the pool's current page */
	pn_acct_drain_all();
	cr_assert_eq(pn_acct_current(g), 0, "uncharged without waiting for the next fragment");
	cr_assert_eq(pn_acct_group_destroy(g), 0);
	test_pool_destroy_clean(acc);
	assert_all_zero();
}

static char last_log[512];

static void keep_log(enum pn_log_level level, const char *component, const char *msg, void *arg)
{
	(void)level;
	(void)arg;
	snprintf(last_log, sizeof(last_log), "%s: %s", component, msg);
}

Test(acct, pins_keep_a_group_and_destroy_names_them)
{
	struct pn_acct_group *g = pn_acct_group_create(NULL, "held");
	struct pn_acct_pin p1 = { 0 }, p2 = { 0 };

	cr_assert_eq(pn_acct_pin(g, &p1, "service %s", "web"), 0);
	cr_assert_eq(pn_acct_pin(g, &p1, "again"), -EINVAL, "a pin pins once");
	cr_assert_eq(pn_acct_pin(NULL, &p2, "x"), -EINVAL);
	cr_assert_eq(pn_acct_pin(g, &p2, NULL), 0);
	cr_assert_eq(pn_acct_pins(g), 2);
	pn_log_set_handler(keep_log, NULL);
	cr_assert_eq(pn_acct_group_destroy(g), -EBUSY);
	pn_log_set_handler(NULL, NULL);
	cr_assert(strstr(last_log, "pinned by 2 holders") && strstr(last_log, "service web"),
		  "the refusal names the holders: %s", last_log);
	pn_acct_unpin(&p1);
	pn_acct_unpin(&p1); /* twice is harmless */
	cr_assert_eq(pn_acct_group_destroy(g), -EBUSY);
	pn_acct_unpin(&p2);
	cr_assert_eq(pn_acct_group_destroy(g), 0);
}
