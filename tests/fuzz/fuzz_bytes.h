/* SPDX-License-Identifier: BSD-3-Clause */
/* Reading a fuzzer's input as a stream of small decisions. */
#ifndef FUZZ_BYTES_H
#define FUZZ_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct fz {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t fz_u8(struct fz *f)
{
	if (f->n == 0)
		return 0;
	f->n--;
	return *f->p++;
}

static inline uint16_t fz_u16(struct fz *f)
{
	return (uint16_t)(fz_u8(f) << 8 | fz_u8(f));
}

static inline uint32_t fz_u32(struct fz *f)
{
	return (uint32_t)fz_u16(f) << 16 | fz_u16(f);
}

/* Up to @max bytes into @dst (zeros when the input runs out). @return n. */
static inline size_t fz_bytes(struct fz *f, void *dst, size_t n)
{
	size_t k = n < f->n ? n : f->n;

	memcpy(dst, f->p, k);
	memset((uint8_t *)dst + k, 0, n - k);
	f->p += k;
	f->n -= k;
	return n;
}

#endif /* FUZZ_BYTES_H */
