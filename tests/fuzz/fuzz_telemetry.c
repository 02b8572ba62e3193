/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Harness (c2): telemetry requests. Each line of the input is a request, as
 * the socket splits them; every answer must be one line of valid JSON, an
 * object with the command or "error". Pools, a port and accounting groups
 * exist, so the commands have something to show; writes are not allowed
 * (the default), so /set/ must be refused.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "pn_acct.h"
#include "pn_port.h"
#include "pn_telemetry.h"

static void world(void)
{
	static bool done;
	struct pn_pool_params pp = { .sz = sizeof(pp), .nr_pages = 64, .numa_node = PN_NUMA_ANY,
				     .name = "fuzz" };
	struct pn_port_conf pc = { .sz = sizeof(pc), .nb_queues = 1, .ring_size = 64 };

	if (done)
		return;
	done = true;
	pc.pools[0] = pn_pool_create(&pp);
	pn_pool_alloc(pc.pools[0]); /* one page in flight: holders to name */
	pn_port_open("loop", "pair=tel", &pc);
	pn_acct_group_mkpath("svc/web");
	pn_acct_group_mkpath("svc/db");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *line, *save = NULL;

	if (text == NULL)
		return 0;
	world();
	memcpy(text, data, size);
	text[size] = '\0';
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *reply = pn_telemetry_handle(line);
		json_error_t err;
		json_t *j;

		if (reply == NULL || strchr(reply, '\n') != NULL)
			abort();
		j = json_loads(reply, 0, &err);
		if (j == NULL || !json_is_object(j) || json_object_size(j) != 1)
			abort();
		if (!strncmp(line, "/set/", 5) && json_object_get(j, "error") == NULL)
			abort(); /* writes are not allowed here */
		json_decref(j);
		free(reply);
	}
	free(text);
	return 0;
}
