/* SPDX-License-Identifier: BSD-3-Clause */
/* A telemetry client for the tests: start the server in a fresh directory,
 * connect, ask one line and read one line back. */
#ifndef PN_TEL_CLIENT_H
#define PN_TEL_CLIENT_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "pn_telemetry.h"
#include "pn_test.h"

/* @dir is a mkdtemp() template the caller removes after pn_telemetry_stop() */
static inline void tel_start(char *dir, const char *app, bool writes)
{
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(pn_telemetry_start(&(struct pn_telemetry_params){
		.sz = sizeof(struct pn_telemetry_params), .app = app, .dir = dir,
		.allow_writes = writes }), 0);
}

static inline int tel_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", pn_telemetry_path());
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static inline json_t *tel_line(FILE *f)
{
	char buf[65536];
	json_error_t err;
	json_t *j;

	cr_assert_not_null(fgets(buf, sizeof(buf), f));
	j = json_loads(buf, 0, &err);
	cr_assert_not_null(j, "bad JSON: %s", err.text);
	return j;
}

static inline json_t *tel_ask(FILE *f, const char *req)
{
	fprintf(f, "%s\n", req);
	fflush(f);
	return tel_line(f);
}

/* A connected client past its greeting line. */
static inline FILE *tel_client(void)
{
	FILE *f = fdopen(tel_connect(), "r+");

	cr_assert_not_null(f);
	json_decref(tel_line(f));
	return f;
}

#endif
