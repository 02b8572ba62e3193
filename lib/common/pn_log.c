/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "pn_log.h"

struct log_sink {
	pn_log_fn fn;
	void *arg;
};

/* read on every call, written rarely: one pointer swap, so a handler and
 * its argument always change together */
static _Atomic(struct log_sink *) sink;
static struct log_sink sinks[2];
static _Atomic unsigned sink_turn;
static _Atomic int threshold = PN_LOG_NOTICE;

void pn_log_set_handler(pn_log_fn fn, void *arg)
{
	struct log_sink *s;

	if (fn == NULL) {
		atomic_store_explicit(&sink, NULL, memory_order_release);
		return;
	}
	s = &sinks[atomic_fetch_add(&sink_turn, 1) & 1];
	s->fn = fn;
	s->arg = arg;
	atomic_store_explicit(&sink, s, memory_order_release);
}

void pn_log_set_level(enum pn_log_level level)
{
	atomic_store_explicit(&threshold, (int)level, memory_order_relaxed);
}

enum pn_log_level pn_log_get_level(void)
{
	return (enum pn_log_level)atomic_load_explicit(&threshold, memory_order_relaxed);
}

void pn_vlog(enum pn_log_level level, const char *component, const char *fmt, va_list ap)
{
	struct log_sink *s;
	char line[512];

	if ((int)level > atomic_load_explicit(&threshold, memory_order_relaxed))
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	/* one line per message: a trailing newline (libbpf's) is the sink's */
	for (size_t n = strlen(line); n > 0 && line[n - 1] == '\n'; n--)
		line[n - 1] = '\0';
	s = atomic_load_explicit(&sink, memory_order_acquire);
	if (s != NULL)
		s->fn(level, component, line, s->arg);
	else
		fprintf(stderr, "pagenet: %s: %s\n", component, line);
}

void pn_log(enum pn_log_level level, const char *component, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pn_vlog(level, component, fmt, ap);
	va_end(ap);
}
