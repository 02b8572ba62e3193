/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The Internet checksum over payloads (RFC 1071), as fast as the memory
 * allows: 16-bit words summed into 32-bit lanes, which compilers vectorize
 * (SSE2 everywhere, AVX2 in the copy picked at load time where the CPU has
 * it), in blocks short enough that no lane can overflow. The inline
 * pn_csum_add in pn_csum.h keeps the short sums (headers) and calls this
 * for the rest. Measured on 1,460 bytes (pagenet-bench pool, csum_1460):
 * see docs/performance.md.
 */
#if defined(__GNUC__) && !defined(__clang__)
/* vectorize this file whatever the build's -O (clang does at -O2) */
#pragma GCC optimize("O3")
#endif

#include <string.h>

#include "pn_csum.h"

#define BLOCK_WORDS 32768u /* 32768 * 0xffff fits a 32-bit lane */

/* No copies under ThreadSanitizer: the load-time resolver that picks one
 * runs while relocations are processed, before TSan's runtime is up, and
 * its instrumented entry crashes the process. */
#if defined(__SANITIZE_THREAD__)
#define CSUM_CLONES 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CSUM_CLONES 0
#endif
#endif
#ifndef CSUM_CLONES
#define CSUM_CLONES 1
#endif

/* the copies: a separate function, as clang will not make a function
 * already declared (pn_csum.h) and used (pn_csum_add) into clones */
#if CSUM_CLONES
__attribute__((target_clones("avx2", "default")))
#endif
static uint64_t csum_long(uint64_t sum, const void *buf, size_t len)
{
	const uint8_t *p = (const uint8_t *)buf;

	while (len >= 2) {
		size_t n = len / 2 > BLOCK_WORDS ? BLOCK_WORDS : len / 2;
		uint32_t s = 0;

		for (size_t i = 0; i < n; i++) {
			uint16_t w;

			memcpy(&w, p + 2 * i, 2);
			s += w;
		}
		sum += s;
		p += 2 * n;
		len -= 2 * n;
	}
	if (len) { /* a last odd byte, as the first of a zero-padded word */
		uint8_t last[2] = { p[0], 0 };
		uint16_t w;

		memcpy(&w, last, 2);
		sum += w;
	}
	return sum;
}

uint64_t pn_csum_add_long(uint64_t sum, const void *buf, size_t len)
{
	return csum_long(sum, buf, len);
}
