/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Harness (c1): pagenet-fwd's INI config parser. Any text is read; a bad
 * one must be refused with a message naming the file and line, and nothing
 * may be read or written out of bounds. After a good one the options are
 * within their ranges.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fwd_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	char *text = malloc(size + 1);

	if (text == NULL)
		return 0;
	if (sink == NULL)
		sink = fopen("/dev/null", "w");
	memcpy(text, data, size);
	text[size] = '\0';
	fwd_config_defaults();
	if (fwd_load_config("fuzz.ini", text, sink) == 0) {
		if (cfg.queues < 1 || cfg.queues > PN_PORT_MAX_QUEUES || cfg.burst < 1 ||
		    cfg.burst > MAX_BURST || cfg.nb_ports > PN_MAX_PORTS ||
		    cfg.mode >= FWD_MODES || cfg.nb_cpus > PN_PORT_MAX_QUEUES)
			abort();
		for (unsigned p = 0; p < cfg.nb_ports; p++)
			if (strnlen(cfg.ports[p].spec, sizeof(cfg.ports[p].spec)) ==
			    sizeof(cfg.ports[p].spec))
				abort();
	}
	free(text);
	return 0;
}
