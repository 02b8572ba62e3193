/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Small definitions every pagenet component shares: branch hints, cache-line
 * alignment, debug assertions and wrap-safe serial arithmetic.
 *
 * Threading: everything here is stateless and safe from any thread.
 */
#ifndef PN_COMMON_H
#define PN_COMMON_H

#include "pn_config.h" /* first: PN_DEBUG as the library was built */

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PN_CACHE_LINE 64
#define __pn_cache_aligned __attribute__((aligned(PN_CACHE_LINE)))
#define __pn_noinline __attribute__((noinline))
#define __pn_always_inline inline __attribute__((always_inline))
#define __pn_unused __attribute__((unused))

#define pn_likely(x) __builtin_expect(!!(x), 1)
#define pn_unlikely(x) __builtin_expect(!!(x), 0)

/** Spin-wait hint for the few places that wait on another thread. */
static inline void pn_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

/** Monotonic clock in seconds (for stats periods and durations). Out of
 * line: clock_gettime is POSIX, and this header compiles in strict C11. */
double pn_now_s(void);

/* C11's _Static_assert, C++'s static_assert: the public headers are read by both */
#ifdef __cplusplus
#define PN_STATIC_ASSERT static_assert
#else
#define PN_STATIC_ASSERT _Static_assert
#endif

#define PN_DIM(a) (sizeof(a) / sizeof((a)[0]))
#define PN_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PN_MAX(a, b) ((a) > (b) ? (a) : (b))
#define PN_ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define PN_IS_POW2(x) ((x) != 0 && (((x) & ((x) - 1)) == 0))

#define pn_container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

/** Frames are always 4 KiB, whatever backs the region (docs/design.md §1). */
#define PN_FRAME_SHIFT 12
#define PN_FRAME_SIZE (1u << PN_FRAME_SHIFT)

/**
 * Report a violated invariant and abort. Only reachable from PN_DEBUG_ASSERT,
 * i.e. in builds configured with -Ddebug_checks=true: a release build of the
 * library never aborts.
 */
__attribute__((noreturn, cold)) void pn_debug_fail(const char *what,
						     const char *file, int line);

#ifdef PN_DEBUG
#define PN_DEBUG_ASSERT(cond, what)                                  \
	do {                                                         \
		if (pn_unlikely(!(cond)))                            \
			pn_debug_fail((what), __FILE__, __LINE__);   \
	} while (0)
#else
#define PN_DEBUG_ASSERT(cond, what) ((void)0)
#endif

/**
 * Drop @p nr references from a counter the caller holds them on, and return
 * what is left. When the counter equals @p nr the caller holds every
 * reference, nobody else can change it, and the atomic read-modify-write is
 * skipped (rte_pktmbuf_prefree_seg, page_pool_unref_page). Used for page
 * refcounts, page frag_counts and packet buffer counts alike.
 */
static inline uint32_t pn_ref_sub(_Atomic(uint32_t) *cnt, uint32_t nr)
{
	/* acquire: the other holders' accesses, released by their fetch_sub,
	 * happen-before whatever the last one does next */
	if (atomic_load_explicit(cnt, memory_order_acquire) == nr) {
		/* release: whoever reads the 0 next (the pool owner deciding to
		 * cut a page again, a packet asking whether it is still shared)
		 * must see our accesses done; a plain store on x86 */
		atomic_store_explicit(cnt, 0, memory_order_release);
		return 0;
	}
	return atomic_fetch_sub_explicit(cnt, nr, memory_order_acq_rel) - nr;
}

/*
 * Add to a counter that only the calling thread writes (per-thread and
 * per-queue statistics, a thread's stock): a relaxed load and store, no
 * read-modify-write; readers on other threads use relaxed loads.
 */
#define PN_SOLE_ADD(counter, n)                                                \
	atomic_store_explicit(&(counter),                                      \
		atomic_load_explicit(&(counter), memory_order_relaxed) + (n),   \
		memory_order_relaxed)

/*
 * Wrap-safe serial arithmetic (RFC 1982 style) for 32-bit counters that are
 * allowed to wrap: in-flight counters and TCP sequence numbers. Kept here so
 * every user compares the same way.
 */
static inline bool pn_seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline bool pn_seq_le(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static inline bool pn_seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static inline bool pn_seq_ge(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }
static inline int32_t pn_seq_diff(uint32_t a, uint32_t b) { return (int32_t)(a - b); }

#ifdef __cplusplus
}
#endif

#endif /* PN_COMMON_H */
