/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The library's one way to say something: a log call with a level and the
 * component it comes from, handed to a handler the application may set
 * (DPDK's rte_log, libbpf's print callback). Without a handler, messages at
 * or above the threshold go to stderr, one line each.
 *
 * Threading: pn_log() is safe from any thread; the handler may be called
 * from several threads at once. Set the handler before starting threads.
 */
#ifndef PN_LOG_H
#define PN_LOG_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Levels, numbered as syslog's. */
enum pn_log_level {
	PN_LOG_ERR = 3,
	PN_LOG_WARNING = 4,
	PN_LOG_NOTICE = 5,
	PN_LOG_INFO = 6,
	PN_LOG_DEBUG = 7,
};

/**
 * A log handler: @p msg is one formatted line without the trailing newline.
 * It must not call back into pagenet.
 */
typedef void (*pn_log_fn)(enum pn_log_level level, const char *component,
			  const char *msg, void *arg);

/** Route messages to @p fn (NULL: back to stderr). */
void pn_log_set_handler(pn_log_fn fn, void *arg);

/** Pass on messages up to @p level (default PN_LOG_NOTICE). */
void pn_log_set_level(enum pn_log_level level);

/** @return the current threshold. */
enum pn_log_level pn_log_get_level(void);

/** Log one line. Cheap when @p level is above the threshold. */
void pn_log(enum pn_log_level level, const char *component, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/** Same with a va_list. */
void pn_vlog(enum pn_log_level level, const char *component, const char *fmt,
	     va_list ap) __attribute__((format(printf, 3, 0)));

#ifdef __cplusplus
}
#endif

#endif /* PN_LOG_H */
