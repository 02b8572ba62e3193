/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK's rte_raw_cksum, compiled apart at the ISA the row compares:
 * rte_raw_cksum is inline in rte_ip.h, so it runs at whatever the including
 * file is built with, and the bench's own file gets Debian DPDK's
 * -march=corei7 (SSE4.2, no AVX). meson.build builds this file twice, with
 * -mavx2 (the ISA of the library's AVX2 checksum) and at the x86-64
 * baseline, each at -O3 (the level the library's checksum file uses).
 */
#include <stddef.h>
#include <stdint.h>

#include <rte_ip.h>

uint16_t CSUM_ANCHOR_NAME(const void *buf, size_t len);

uint16_t CSUM_ANCHOR_NAME(const void *buf, size_t len)
{
	return rte_raw_cksum(buf, len);
}
