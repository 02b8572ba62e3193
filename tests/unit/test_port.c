/* SPDX-License-Identifier: BSD-3-Clause */
/* Port API and the loop driver; telemetry over its socket. No root needed. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pn_port.h"
#include "pn_tel_client.h"
#include "pn_test.h"

static struct pn_pool *pool;

static void setup(void)
{
	pool = test_pool(256, 0, 0);
}

static void teardown(void)
{
	test_assert_accounted(pool);
	test_pool_destroy_clean(pool);
}

TestSuite(port, .init = setup, .fini = teardown);

static struct pn_port *open_loop(const char *pair, uint16_t queues)
{
	struct pn_port_conf c = { .sz = sizeof(c), .nb_queues = queues };
	char args[64];

	for (unsigned q = 0; q < queues; q++)
		c.pools[q] = pool;
	snprintf(args, sizeof(args), "pair=%s", pair);
	return pn_port_open("loop", args, &c);
}

static struct pn_pkt *make(uint32_t len, uint8_t fill)
{
	struct pn_pkt *p = pn_pkt_alloc(pool);

	cr_assert_not_null(p);
	memset(pn_pkt_append(p, len), fill, len);
	return p;
}

Test(port, drivers_listed)
{
	const char *const *d = pn_port_drivers();
	bool loop = false;

	for (; *d; d++)
		loop |= strcmp(*d, "loop") == 0;
	cr_assert(loop);
}

Test(port, bad_open_is_a_clear_error)
{
	struct pn_port_conf c = { .sz = sizeof(c), .nb_queues = 1, .pools = { pool } };
	struct pn_port_conf nopool = { .sz = sizeof(c), .nb_queues = 2, .pools = { pool } };

	errno = 0;
	cr_assert_null(pn_port_open("nosuch", NULL, &c));
	cr_assert_eq(errno, ENOENT);
	cr_assert_null(pn_port_open("loop", NULL, &c), "pair is required");
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(pn_port_open("loop", "pair=x,bogus=1", &c), "unknown keys refused");
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(pn_port_open("loop", "pair", &c), "not key=value");
	cr_assert_null(pn_port_open("loop", "pair=x", &nopool), "every queue needs a pool");
	cr_assert_null(pn_port_open_str(":pair=x", &c));
	c.ring_size = 1000;
	cr_assert_null(pn_port_open("loop", "pair=x", &c), "ring size must be a power of two");
	/* nothing was left registered */
	for (uint16_t id = 0; id < PN_MAX_PORTS; id++)
		cr_assert_null(pn_port_by_id(id));
}

Test(port, loop_moves_packets_by_pointer_and_counts)
{
	struct pn_port *a = open_loop("t1", 1), *b = open_loop("t1", 1);
	struct pn_pkt *tx[8], *rx[16];
	struct pn_port_stats sa, sb;
	struct pn_port_link link;

	cr_assert_not_null(a);
	cr_assert_not_null(b);
	cr_assert_null(open_loop("t1", 1), "a pair has two sides");
	for (int i = 0; i < 8; i++)
		tx[i] = make(60 + i, (uint8_t)i);
	cr_assert_eq(pn_port_tx_burst(a, 0, tx, 8), 0, "peer not started: nothing taken");
	cr_assert_eq(pn_port_start(a), 0);
	cr_assert_eq(pn_port_start(b), 0);
	cr_assert_eq(pn_port_link_get(a, &link), 0);
	cr_assert(link.up);
	cr_assert_eq(pn_port_tx_burst(a, 0, tx, 8), 8);
	cr_assert_eq(pn_port_rx_burst(b, 0, rx, 16), 8);
	for (int i = 0; i < 8; i++) {
		cr_assert_eq(rx[i], tx[i], "same packet, no copy");
		cr_assert_eq(rx[i]->pkt_len, 60u + i);
		pn_pkt_free(rx[i]);
	}
	pn_port_stats_get(a, &sa);
	pn_port_stats_get(b, &sb);
	cr_assert_eq(sa.opackets, 8);
	cr_assert_eq(sa.obytes, 8 * 60 + 28);
	cr_assert_eq(sb.ipackets, 8);
	cr_assert_eq(sb.ibytes, sa.obytes);
	cr_assert_eq(sa.odrops, 8, "the burst refused before start counts");
	pn_port_close(a);
	pn_port_close(b);
}

Test(port, full_ring_pushes_back_and_close_returns_everything)
{
	struct pn_port_conf c = { .sz = sizeof(c), .nb_queues = 2, .ring_size = 64,
				  .pools = { pool, pool } };
	struct pn_port *a = pn_port_open("loop", "pair=t2", &c);
	struct pn_port *b = pn_port_open("loop", "pair=t2", &c);
	struct pn_pkt *tx[100];
	struct pn_port_stats s;
	uint16_t sent;

	cr_assert_not_null(a);
	cr_assert_not_null(b);
	pn_port_start(a);
	pn_port_start(b);
	for (int i = 0; i < 100; i++)
		tx[i] = make(64, 1);
	sent = pn_port_tx_burst(a, 1, tx, 100);
	cr_assert_lt(sent, 100, "a 64-entry ring cannot take 100");
	cr_assert_geq(sent, 63);
	for (int i = sent; i < 100; i++)
		pn_pkt_free(tx[i]); /* the caller keeps what was not taken */
	pn_port_stats_get(a, &s);
	cr_assert_eq(s.odrops, 100u - sent);
	cr_assert_gt(pn_pool_inflight(pool), 0);
	/* nobody received: closing the receiving side frees what it queued */
	pn_port_close(b);
	pn_port_close(a);
	cr_assert_eq(pn_pool_inflight(pool), 0);
}

Test(port, info_and_queue_stats)
{
	struct pn_port *a = open_loop("t3", 1), *b = open_loop("t3", 1);
	struct pn_pkt *p = make(100, 7);
	struct pn_port_info info;
	struct pn_port_stats qs;

	pn_port_start(a);
	pn_port_start(b);
	pn_port_info_get(a, &info);
	cr_assert_str_eq(info.driver, "loop");
	cr_assert_eq(info.nb_queues, 1);
	cr_assert(info.started);
	cr_assert_eq(info.mac[0] & 0x03, 0x02, "locally administered unicast");
	cr_assert_eq(pn_port_by_id(pn_port_id(a)), a);
	cr_assert_eq(pn_port_tx_burst(b, 0, &p, 1), 1);
	pn_port_queue_stats_get(b, 0, &qs);
	cr_assert_eq(qs.opackets, 1);
	pn_port_stop(a); /* stopping drains what was queued to it */
	cr_assert_eq(pn_pool_inflight(pool), 0);
	pn_port_close(a);
	pn_port_close(b);
}

/* telemetry: talk to our own socket */

static int tel_double(const char *cmd, const char *params, struct pn_tel_data *d)
{
	(void)cmd;
	if (params == NULL) {
		pn_tel_error(d, "want a number");
		return -EINVAL;
	}
	return pn_tel_add_int(d, NULL, 2 * atoi(params));
}

/* every kind of value, nested, and what the builder refuses */
static int tel_shapes(const char *cmd, const char *params, struct pn_tel_data *d)
{
	struct pn_tel_data *arr, *obj;

	(void)cmd, (void)params;
	cr_assert_eq(pn_tel_add_int(d, "named", 1), -EINVAL, "a name before the object is started");
	cr_assert_eq(pn_tel_start_dict(d), 0);
	cr_assert_eq(pn_tel_start_array(d), -EINVAL, "started twice");
	cr_assert_eq(pn_tel_add_int(d, NULL, 1), -EINVAL, "an object's value needs a name");
	pn_tel_add_int(d, "i", -5);
	pn_tel_add_uint(d, "u", UINT64_MAX); /* clipped to JSON's range */
	pn_tel_add_double(d, "f", 0.5);
	pn_tel_add_bool(d, "b", true);
	pn_tel_add_string(d, "s", "x\"y");
	cr_assert_eq(pn_tel_add_json(d, "bad", "{nope"), -EINVAL);
	pn_tel_add_json(d, "j", "[1, {\"k\": null}]");
	arr = pn_tel_add_array(d, "a");
	cr_assert_not_null(arr);
	cr_assert_eq(pn_tel_add_int(arr, "x", 1), -EINVAL, "an array's value has no name");
	pn_tel_add_int(arr, NULL, 1);
	obj = pn_tel_add_dict(arr, NULL);
	cr_assert_not_null(obj);
	pn_tel_add_string(obj, "deep", "yes");
	return 0;
}

Test(port, telemetry_serves_pools_ports_and_registered_commands)
{
	char dir[] = "/tmp/pn-tel-XXXXXX";
	struct pn_port *a = open_loop("t4", 1), *b = open_loop("t4", 1);
	struct stat st;
	json_t *j, *v;
	FILE *f;

	cr_assert_eq(pn_telemetry_register("/test/double", tel_double, "2x"), 0);
	cr_assert_eq(pn_telemetry_register("/test/shapes", tel_shapes, "values"), 0);
	cr_assert_eq(pn_telemetry_register("/test/double", tel_double, "2x"), -EEXIST);
	tel_start(dir, "unit", false);
	cr_assert_eq(stat(pn_telemetry_path(), &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "owner-only socket");
	f = fdopen(tel_connect(), "r+");

	j = tel_line(f); /* greeting */
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "/info"), "app")), "unit");
	json_decref(j);

	j = tel_ask(f, "/pools");
	v = json_object_get(j, "/pools");
	cr_assert(json_is_array(v));
	cr_assert_geq(json_array_size(v), 1);
	cr_assert_not_null(json_object_get(json_array_get(v, 0), "recycle_rate"));
	cr_assert_not_null(json_object_get(json_object_get(json_array_get(v, 0), "stats"),
					   "recycle_cached"));
	json_decref(j);

	j = tel_ask(f, "/ports");
	v = json_object_get(j, "/ports");
	cr_assert_eq(json_array_size(v), 2);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(v, 0), "driver")), "loop");
	json_decref(j);

	{ /* the builder, through the socket-less path: same answer a client gets */
		char *r = pn_telemetry_handle("/test/shapes");
		json_t *all, *x;

		cr_assert_not_null(r);
		all = json_loads(r, 0, NULL);
		x = json_object_get(all, "/test/shapes");
		cr_assert_not_null(x, "%s", r);
		cr_assert_eq(json_integer_value(json_object_get(x, "i")), -5);
		cr_assert_eq(json_integer_value(json_object_get(x, "u")), INT64_MAX);
		cr_assert(json_is_true(json_object_get(x, "b")));
		cr_assert_str_eq(json_string_value(json_object_get(x, "s")), "x\"y");
		cr_assert(json_is_null(json_object_get(json_array_get(json_object_get(x, "j"), 1), "k")));
		cr_assert_str_eq(json_string_value(json_object_get(json_array_get(
					 json_object_get(x, "a"), 1), "deep")), "yes");
		cr_assert_null(json_object_get(x, "bad"));
		json_decref(all);
		free(r);
	}
	j = tel_ask(f, "/test/double,21");
	cr_assert_eq(json_integer_value(json_object_get(j, "/test/double")), 42);
	json_decref(j);
	j = tel_ask(f, "/test/double");
	cr_assert_str_eq(json_string_value(json_object_get(j, "error")), "want a number");
	json_decref(j);
	j = tel_ask(f, "/nosuch");
	cr_assert_not_null(json_object_get(j, "error"));
	json_decref(j);
	j = tel_ask(f, "/port,99");
	cr_assert_not_null(json_object_get(j, "error"));
	json_decref(j);

	/* who holds the pages: a received packet the application keeps, and
	 * a page under an application's own label */
	{
		struct pn_pkt *p = pn_pkt_alloc(pool), *got = NULL;
		struct pn_frame *page = pn_pool_alloc(pool);
		uint32_t mine = pn_holder_register("reassembly cache");
		char req[32];
		bool port_seen = false, label_seen = false;

		pn_frame_set_holder(page, PN_HOLDER(mine, PN_VIA_APP));
		pn_pkt_append(p, 60);
		cr_assert_eq(pn_port_start(a), 0);
		cr_assert_eq(pn_port_start(b), 0);
		cr_assert_eq(pn_port_tx_burst(a, 0, &p, 1), 1);
		cr_assert_eq(pn_port_rx_burst(b, 0, &got, 1), 1);
		struct pn_pool_info pi;

		pn_pool_info(pool, &pi);
		snprintf(req, sizeof(req), "/pool,%u", pi.id);
		j = tel_ask(f, req);
		v = json_object_get(json_object_get(j, "/pool"), "holders");
		cr_assert(json_is_array(v), "%s", json_dumps(j, 0));
		for (size_t i = 0; i < json_array_size(v); i++) {
			const char *who = json_string_value(json_object_get(json_array_get(v, i), "holder"));

			port_seen |= strstr(who, "queue 0 through received packets") != NULL;
			label_seen |= strcmp(who, "reassembly cache") == 0;
		}
		cr_assert(port_seen && label_seen, "%s", json_dumps(v, 0));
		json_decref(j);
		pn_pkt_free(got);
		pn_pool_put(pool, page);
		pn_holder_unregister(mine);
	}

	fclose(f);
	pn_telemetry_stop();
	cr_assert_neq(access(dir, F_OK), -1);
	cr_assert_eq(rmdir(dir), 0, "the socket was removed");
	pn_port_close(a);
	pn_port_close(b);
}
