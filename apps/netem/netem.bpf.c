/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pagenet-netem's tc egress program: what netem would do to a kernel
 * veth on a kernel built without sch_netem (and without sch_fq or sch_etf,
 * whose departure times could hold a frame back). Each device has its own
 * settings (netem_conf, keyed by ifindex):
 *
 *  - loss: the frame is dropped;
 *  - corruption: one bit of the frame's last byte flips. At tc egress the
 *    checksum is already final when the sender's checksum offload is off
 *    (or the frame is forwarded), so the receiver's check is what sees it;
 *  - duplication: a clone goes out after the frame;
 *  - delay (reordering): the frame is copied to a ring buffer and dropped
 *    here; pagenet-netem sends it out again when its time comes, through a
 *    packet socket whose mark lets it past this program. Frames not
 *    delayed overtake it: that is the reordering.
 *
 * Random draws are compared against thresholds scaled to 2^32.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "netem.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NETEM_MAX_DEVS);
	__type(key, __u32);
	__type(value, struct netem_conf);
} netem_conf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, NETEM_MAX_DEVS);
	__type(key, __u32);
	__type(value, struct netem_stats);
} netem_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, NETEM_RING_BYTES);
} netem_delayq SEC(".maps");

static __always_inline int hit(__u32 threshold)
{
	return threshold && bpf_get_prandom_u32() < threshold;
}

SEC("tc")
int netem_egress(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex, len = skb->len;
	struct netem_conf *c;
	struct netem_stats *s;

	/* a frame this program let through already: a duplicate, or a
	 * delayed frame sent again */
	if (skb->mark == NETEM_MARK)
		return TC_ACT_OK;
	c = bpf_map_lookup_elem(&netem_conf, &ifindex);
	s = bpf_map_lookup_elem(&netem_stats, &ifindex);
	if (c == NULL || s == NULL)
		return TC_ACT_OK;
	s->frames++;
	s->bytes += len;
	if (hit(c->loss)) {
		s->lost++;
		return TC_ACT_SHOT;
	}
	if (len >= c->corrupt_min_len && len > 0 && hit(c->corrupt)) {
		__u8 b;

		if (bpf_skb_load_bytes(skb, len - 1, &b, 1) == 0) {
			b ^= 0x01;
			/* no checksum fix-up: the damage must be seen */
			if (bpf_skb_store_bytes(skb, len - 1, &b, 1, 0) == 0)
				s->corrupted++;
		}
	}
	if (hit(c->dup)) {
		skb->mark = NETEM_MARK; /* the clone passes this program */
		if (bpf_clone_redirect(skb, ifindex, 0) == 0)
			s->duplicated++;
		skb->mark = 0;
	}
	if (hit(c->reorder)) {
		struct netem_frame *f;

		if (len > NETEM_MAX_FRAME) {
			s->delay_too_big++;
			return TC_ACT_OK;
		}
		f = bpf_ringbuf_reserve(&netem_delayq, sizeof(*f), 0);
		if (f == NULL) {
			s->delay_ring_full++; /* sent at once: nothing is lost */
			return TC_ACT_OK;
		}
		f->ifindex = ifindex;
		f->len = len;
		f->due_ns = bpf_ktime_get_ns() + c->delay_ns;
		if (len == 0 || bpf_skb_load_bytes(skb, 0, f->data, len & NETEM_FRAME_MASK) != 0) {
			bpf_ringbuf_discard(f, 0);
			return TC_ACT_OK;
		}
		bpf_ringbuf_submit(f, 0);
		s->delayed++;
		return TC_ACT_SHOT;
	}
	return TC_ACT_OK;
}

char _license[] SEC("license") = "Dual BSD/GPL";
