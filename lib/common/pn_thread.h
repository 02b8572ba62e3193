/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Small dense thread ids, the pagenet counterpart of rte_lcore_id().
 *
 * Every thread that touches a pool gets an id in [0, PN_MAX_THREADS) the
 * first time it asks; the id is returned when the thread exits and may be
 * reused by a later thread. Ids index per-thread statistics blocks, so a
 * counter is written by one thread only and summed on read (docs/design.md §4).
 *
 * When more than PN_MAX_THREADS threads are alive, the extra ones share the
 * id PN_THREAD_SHARED, whose statistics are updated with atomic adds.
 *
 * Threading: pn_thread_id() is safe from any thread and lock-free after the
 * first call on that thread.
 */
#ifndef PN_THREAD_H
#define PN_THREAD_H

#include "pn_common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PN_MAX_THREADS 128
/** Id shared by threads beyond PN_MAX_THREADS; its stats slot is atomic. */
#define PN_THREAD_SHARED PN_MAX_THREADS
/** Number of per-thread slots a statistics array needs. */
#define PN_THREAD_SLOTS (PN_MAX_THREADS + 1)

extern __thread int pn_thread_id_tls __attribute__((tls_model("initial-exec")));

/** Slow path of pn_thread_id(): assign an id to the calling thread. */
int pn_thread_register(void);

/** @return the calling thread's id, assigning one on first use. */
static inline int pn_thread_id(void)
{
	int id = pn_thread_id_tls;

	if (pn_unlikely(id < 0))
		id = pn_thread_register();
	return id;
}

/**
 * Call @p fn(id) on every thread that had an id when it exits, before the id
 * is reused (for per-thread state such as accounting stocks). Register from a
 * constructor. @return 0, or -1 when the hook table is full.
 */
int pn_thread_exit_hook(void (*fn)(int id));

/** @return how many ids are assigned now (for tests and telemetry). */
unsigned pn_thread_count(void);

#ifdef __cplusplus
}
#endif

#endif /* PN_THREAD_H */
