/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdlib.h>
#include <time.h>

#include "pn_common.h"
#include "pn_log.h"

void pn_debug_fail(const char *what, const char *file, int line)
{
	pn_log(PN_LOG_ERR, "debug", "check failed at %s:%d: %s", file, line, what);
	abort();
}

double pn_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
