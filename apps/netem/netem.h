/* SPDX-License-Identifier: BSD-3-Clause */
/* What pagenet-netem and its tc program share. */
#ifndef NETEM_H
#define NETEM_H

#include <linux/types.h>

#define NETEM_MAX_DEVS 16
#define NETEM_MARK 0x6e6d7431u /* "nmt1": let through, already handled */
#define NETEM_FRAME_MASK 16383u
#define NETEM_MAX_FRAME NETEM_FRAME_MASK /* a jumbo frame fits */
#define NETEM_RING_BYTES (64u << 20)

/* per device; probabilities scaled to 2^32 (0: never) */
struct netem_conf {
	__u32 loss, dup, reorder, corrupt;
	__u32 corrupt_min_len; /* frames shorter (pure ACKs) are never corrupted */
	__u32 pad;
	__u64 delay_ns; /* how long a reordered frame is held */
};

struct netem_stats {
	__u64 frames, bytes, lost, duplicated, delayed, corrupted;
	__u64 delay_ring_full, delay_too_big;
};

/* a frame held back, in the ring buffer */
struct netem_frame {
	__u64 due_ns; /* CLOCK_MONOTONIC */
	__u32 ifindex, len;
	__u8 data[NETEM_FRAME_MASK + 1];
};

#endif /* NETEM_H */
