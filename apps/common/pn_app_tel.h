/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The programs print the same records telemetry serves (a pool, a port, a
 * group) inside their own JSON lines: they ask the library's telemetry
 * for them as any client would (pn_telemetry_handle) and parse the answer
 * with jansson, which the programs use and the library keeps to itself.
 */
#ifndef PN_APP_TEL_H
#define PN_APP_TEL_H

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pn_acct.h"
#include "pn_impair.h"
#include "pn_telemetry.h"

/* The value of one telemetry request ("/pool,3"), a new reference; an
 * empty object when there is none (the thing went away meanwhile). */
static inline json_t *pn_app_tel(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline json_t *pn_app_tel(const char *fmt, ...)
{
	char line[300], key[64];
	va_list ap;
	char *reply;
	json_t *all, *v = NULL;
	size_t klen;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	klen = strcspn(line, ",");
	snprintf(key, sizeof(key), "%.*s", (int)klen, line);
	reply = pn_telemetry_handle(line);
	all = reply ? json_loads(reply, 0, NULL) : NULL;
	free(reply);
	if (all != NULL)
		v = json_incref(json_object_get(all, key));
	json_decref(all);
	return v ? v : json_object();
}

/* A group's record (cgroup v2 names), as pagenet-stat shows it. */
static inline json_t *pn_app_tel_group(const struct pn_acct_group *g)
{
	char path[256];

	pn_acct_path(g, path, sizeof(path));
	return pn_app_tel("/acct/group,%s", path);
}

/* What an impair port did (pn_impair_stats), as the programs print it. */
static inline json_t *pn_app_tel_impair(const struct pn_impair_stats *is)
{
	return json_pack("{sI sI sI sI sI sI sI sI sI sI sI}",
			 "rx_lost", (json_int_t)is->rx_lost, "rx_dup", (json_int_t)is->rx_dup,
			 "rx_reordered", (json_int_t)is->rx_reordered,
			 "rx_delayed", (json_int_t)is->rx_delayed,
			 "rx_corrupted", (json_int_t)is->rx_corrupted,
			 "tx_lost", (json_int_t)is->tx_lost, "tx_dup", (json_int_t)is->tx_dup,
			 "tx_reordered", (json_int_t)is->tx_reordered,
			 "tx_delayed", (json_int_t)is->tx_delayed,
			 "tx_corrupted", (json_int_t)is->tx_corrupted,
			 "no_buffer", (json_int_t)is->no_buffer);
}

#endif /* PN_APP_TEL_H */
