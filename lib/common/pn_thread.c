/* SPDX-License-Identifier: BSD-3-Clause */
#include <pthread.h>
#include <stdatomic.h>

#include "pn_thread.h"

__thread int pn_thread_id_tls __attribute__((tls_model("initial-exec"))) = -1;

/* One bit per id; 1 = in use. Registration is rare, a CAS loop is enough. */
static _Atomic uint64_t id_map[PN_MAX_THREADS / 64];
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

#define PN_THREAD_HOOKS 8
static void (*exit_hooks[PN_THREAD_HOOKS])(int id);
static _Atomic unsigned nb_exit_hooks;

int pn_thread_exit_hook(void (*fn)(int id))
{
	unsigned n = atomic_load(&nb_exit_hooks);

	/* registered from constructors, before any thread exits */
	if (n == PN_THREAD_HOOKS)
		return -1;
	exit_hooks[n] = fn;
	atomic_store(&nb_exit_hooks, n + 1);
	return 0;
}

static void thread_exit(void *arg)
{
	int id = (int)(intptr_t)arg - 1;

	/* per-thread state keyed by the id (stocks) goes back before the id */
	for (unsigned i = 0; i < atomic_load(&nb_exit_hooks); i++)
		exit_hooks[i](id);

	if (id >= 0 && id < PN_MAX_THREADS)
		atomic_fetch_and_explicit(&id_map[id / 64],
					  ~(UINT64_C(1) << (id % 64)),
					  memory_order_release);
}

static void make_exit_key(void)
{
	pthread_key_create(&exit_key, thread_exit);
}

int pn_thread_register(void)
{
	pthread_once(&exit_key_once, make_exit_key);

	for (unsigned w = 0; w < PN_DIM(id_map); w++) {
		uint64_t cur = atomic_load_explicit(&id_map[w], memory_order_relaxed);

		while (~cur != 0) {
			unsigned bit = (unsigned)__builtin_ctzll(~cur);
			uint64_t want = cur | (UINT64_C(1) << bit);

			/* acquire: pairs with the release in thread_exit, so
			 * the previous holder's stat writes happen-before ours */
			if (atomic_compare_exchange_weak_explicit(
				    &id_map[w], &cur, want, memory_order_acquire,
				    memory_order_relaxed)) {
				int id = (int)(w * 64 + bit);

				pn_thread_id_tls = id;
				/* value is id + 1: the key destructor only runs
				 * for non-NULL values */
				pthread_setspecific(exit_key, (void *)(intptr_t)(id + 1));
				return id;
			}
		}
	}
	pn_thread_id_tls = PN_THREAD_SHARED;
	return PN_THREAD_SHARED;
}

unsigned pn_thread_count(void)
{
	unsigned n = 0;

	for (unsigned w = 0; w < PN_DIM(id_map); w++)
		n += (unsigned)__builtin_popcountll(
			atomic_load_explicit(&id_map[w], memory_order_relaxed));
	return n;
}
