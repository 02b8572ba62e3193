/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>

#include "pn_common.h"

void pn_debug_fail(const char *what, const char *file, int line)
{
	fprintf(stderr, "pagenet: debug check failed at %s:%d: %s\n", file,
		line, what);
	abort();
}
