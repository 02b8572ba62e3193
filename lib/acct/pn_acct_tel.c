/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The accounting groups' telemetry commands, registered when the first
 * group is made, with cgroup v2's file names: /acct/groups,
 * /acct/group,PATH and /set/acct/max,PATH,PAGES|max.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pn_acct.h"
#include "pn_telemetry.h"

void pn_acct_tel_init(void);

/* Group records are built under the accounting tree lock (foreach and
 * visit): a group cannot be destroyed while we read it. */
static int group_add(struct pn_acct_group *g, void *arg)
{
	struct pn_tel_data *d = arg, *x;
	struct pn_acct_events ev;
	struct pn_acct_stat st;
	char path[256];
	int64_t max = pn_acct_max(g);

	if (d == NULL)
		return -ENOMEM;
	pn_acct_path(g, path, sizeof(path));
	pn_acct_events(g, &ev);
	pn_acct_stat(g, &st);
	pn_tel_add_string(d, "path", path);
	pn_tel_add_int(d, "id", pn_acct_id(g));
	pn_tel_add_int(d, "memory.current", pn_acct_current(g));
	if (max == PN_ACCT_UNLIMITED)
		pn_tel_add_string(d, "memory.max", "max");
	else
		pn_tel_add_int(d, "memory.max", max);
	pn_tel_add_int(d, "memory.peak", pn_acct_peak(g));
	if ((x = pn_tel_add_dict(d, "memory.events")) != NULL) {
		pn_tel_add_uint(x, "max", ev.max);
		pn_tel_add_uint(x, "fail", ev.fail);
	}
	if ((x = pn_tel_add_dict(d, "memory.stat")) != NULL) {
		pn_tel_add_int(x, "zc_pages", st.zc_pages);
		pn_tel_add_int(x, "queued_pages", st.queued_pages);
		pn_tel_add_int(x, "other_pages", st.other_pages);
		pn_tel_add_uint(x, "copied_bytes", st.copied_bytes);
	}
	return 0;
}

static int group_append(struct pn_acct_group *g, void *arg)
{
	return group_add(g, pn_tel_add_dict(arg, NULL));
}

static int cmd_groups(const char *cmd, const char *params, struct pn_tel_data *d)
{
	(void)cmd, (void)params;
	pn_tel_start_array(d);
	pn_acct_foreach(group_append, d);
	return 0;
}

static int cmd_group(const char *cmd, const char *params, struct pn_tel_data *d)
{
	(void)cmd;
	pn_tel_start_dict(d);
	if (params == NULL || pn_acct_visit(params, group_add, d) != 0) {
		pn_tel_error(d, "want /acct/group,PATH with an existing group (e.g. /acct/group,svc/a)");
		return -ENOENT;
	}
	return 0;
}

struct set_max {
	int64_t max;
	struct pn_tel_data *out;
};

static int group_set_max(struct pn_acct_group *g, void *arg)
{
	struct set_max *sm = arg;

	if (g == pn_acct_root())
		return -EINVAL;
	pn_acct_set_max(g, sm->max);
	return group_add(g, sm->out);
}

/* /set/acct/max,PATH,PAGES|max */
static int cmd_set_max(const char *cmd, const char *params, struct pn_tel_data *d)
{
	char path[256];
	const char *comma = params ? strrchr(params, ',') : NULL;
	struct set_max sm = { .out = d };
	char *end;

	(void)cmd;
	if (comma == NULL || (size_t)(comma - params) >= sizeof(path)) {
		pn_tel_error(d, "want /set/acct/max,PATH,PAGES (or max)");
		return -EINVAL;
	}
	memcpy(path, params, (size_t)(comma - params));
	path[comma - params] = '\0';
	if (strcmp(comma + 1, "max") == 0) {
		sm.max = PN_ACCT_UNLIMITED;
	} else {
		sm.max = strtoll(comma + 1, &end, 10);
		if (*end != '\0' || end == comma + 1 || sm.max < 0) {
			pn_tel_error(d, "the max is a page count or \"max\"");
			return -EINVAL;
		}
	}
	pn_tel_start_dict(d);
	if (pn_acct_visit(path, group_set_max, &sm) != 0) {
		pn_tel_error(d, "no such group (the root has no max)");
		return -ENOENT;
	}
	return 0;
}

static void register_once(void)
{
	pn_telemetry_register("/acct/groups", cmd_groups,
			      "every accounting group: memory.current, .max, .peak, .events, .stat");
	pn_telemetry_register("/acct/group", cmd_group, "one group: /acct/group,PATH");
	pn_telemetry_register("/set/acct/max", cmd_set_max,
			      "set a group's max: /set/acct/max,PATH,PAGES or ,max (if the process allows writes)");
}

void pn_acct_tel_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, register_once);
}
