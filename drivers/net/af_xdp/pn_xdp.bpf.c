/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pagenet's XDP program: frames the stack owns go to the AF_XDP socket of
 * their receive queue, everything else to the kernel (XDP_PASS). What is
 * owned is set by the driver in pn_steer (see pn_xdp_steer.h).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "pn_xdp_steer.h"

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, PN_XDP_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} pn_xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pn_xdp_steer);
} pn_steer SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PN_XDP_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} pn_xdp_stats SEC(".maps");

/* ARP for Ethernet/IPv4 (linux/if_arp.h drags in libc headers) */
struct arphdr {
	__be16 ar_hrd;
	__be16 ar_pro;
	__u8 ar_hln;
	__u8 ar_pln;
	__be16 ar_op;
};

struct arp_ipv4 {
	__u8 sha[ETH_ALEN];
	__be32 spa;
	__u8 tha[ETH_ALEN];
	__be32 tpa;
} __attribute__((packed));

struct l4_ports {
	__be16 source;
	__be16 dest;
};

static __always_inline int count(__u32 what, int action)
{
	__u64 *c = bpf_map_lookup_elem(&pn_xdp_stats, &what);

	if (c)
		*c += 1;
	return action;
}

static __always_inline int mac_eq(const __u8 *a, const __u8 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] &&
	       a[3] == b[3] && a[4] == b[4] && a[5] == b[5];
}

static __always_inline int mac_bcast(const __u8 *a)
{
	return (a[0] & a[1] & a[2] & a[3] & a[4] & a[5]) == 0xff;
}

/* 33:33:...: an IPv6 multicast frame (RFC 2464 7) */
static __always_inline int mac_mcast6(const __u8 *a)
{
	return a[0] == 0x33 && a[1] == 0x33;
}

static __always_inline int ip6_eq(const __u8 *a, const __u8 *b)
{
	int same = 1;

#pragma unroll
	for (int i = 0; i < 16; i++)
		same &= a[i] == b[i];
	return same;
}

/* ff02::1:ffXX:XXXX, the solicited-node group of @a (RFC 4291 2.7.1) */
static __always_inline int ip6_solicited(const __u8 *d, const __u8 *a)
{
	return d[0] == 0xff && d[1] == 0x02 && d[2] == 0 && d[3] == 0 && d[4] == 0 &&
	       d[5] == 0 && d[6] == 0 && d[7] == 0 && d[8] == 0 && d[9] == 0 && d[10] == 0 &&
	       d[11] == 1 && d[12] == 0xff && d[13] == a[13] && d[14] == a[14] && d[15] == a[15];
}

/* The same rules for the L4 part of either family. */
static __always_inline int l4_owned(const struct pn_xdp_steer *s, __u8 proto, void *l4p,
				    void *end)
{
	struct l4_ports *l4 = l4p;

	if ((s->flags & PN_STEER_PROTO) && proto != s->proto)
		return 0;
	if (s->flags & PN_STEER_PORT) {
		if (proto != IPPROTO_UDP && proto != IPPROTO_TCP)
			return 0;
		if ((void *)(l4 + 1) > end)
			return 0;
		if (l4->dest != s->port)
			return 0;
	}
	return 1;
}

static __always_inline int owned6(const struct pn_xdp_steer *s, struct ipv6hdr *ip6, void *end)
{
	if ((void *)(ip6 + 1) > end)
		return 0;
	if (ip6_eq(ip6->daddr.in6_u.u6_addr8, s->ip6))
		return l4_owned(s, ip6->nexthdr, ip6 + 1, end) ||
		       ip6->nexthdr == IPPROTO_ICMPV6; /* echo, ND to us */
	/* neighbour discovery for our address */
	return ip6->nexthdr == IPPROTO_ICMPV6 &&
	       ip6_solicited(ip6->daddr.in6_u.u6_addr8, s->ip6);
}

/* 1: the frame is ours, 0: the kernel's */
static __always_inline int owned(struct xdp_md *ctx, const struct pn_xdp_steer *s)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	int need_ip = s->flags & (PN_STEER_IP | PN_STEER_IP6 | PN_STEER_PROTO | PN_STEER_PORT);
	int mac_ok = 1;
	struct iphdr *ip;

	if (s->flags & PN_STEER_ALL)
		return 1;
	if ((void *)(eth + 1) > end)
		return 0;
	if (s->flags & PN_STEER_MAC) {
		mac_ok = mac_eq(eth->h_dest, s->mac);
		if (!mac_ok && !mac_bcast(eth->h_dest) &&
		    !((s->flags & PN_STEER_IP6) && mac_mcast6(eth->h_dest)))
			return 0;
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		if (!(s->flags & PN_STEER_IP6))
			return !need_ip && mac_ok;
		return owned6(s, (void *)(eth + 1), end);
	}

	if (eth->h_proto == bpf_htons(ETH_P_ARP)) {
		struct arphdr *arp = (void *)(eth + 1);
		struct arp_ipv4 *a = (void *)(arp + 1);

		if (!(s->flags & PN_STEER_IP))
			return mac_ok && !need_ip;
		if ((void *)(a + 1) > end || arp->ar_pro != bpf_htons(ETH_P_IP))
			return 0;
		return a->tpa == s->ip;
	}
	if (!mac_ok) /* broadcast that is not ARP for us */
		return 0;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return !need_ip;
	if ((s->flags & PN_STEER_IP6) && !(s->flags & PN_STEER_IP))
		return 0; /* an IPv6 address alone claims no IPv4 traffic */

	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end)
		return 0;
	if ((s->flags & PN_STEER_IP) && ip->daddr != s->ip)
		return 0;
	if ((s->flags & PN_STEER_PROTO) && ip->protocol != s->proto)
		return 0;
	if (s->flags & PN_STEER_PORT) {
		struct l4_ports *l4;
		__u32 ihl = ip->ihl * 4;

		if (ip->protocol != IPPROTO_UDP && ip->protocol != IPPROTO_TCP)
			return 0;
		/* later fragments carry no ports: the kernel reassembles */
		if (ip->frag_off & bpf_htons(0x1fff))
			return 0;
		if (ihl < sizeof(*ip) || ihl > 60)
			return 0;
		l4 = (void *)ip + ihl;
		if ((void *)(l4 + 1) > end)
			return 0;
		if (l4->dest != s->port)
			return 0;
	}
	return 1;
}

SEC("xdp")
int pagenet_xdp(struct xdp_md *ctx)
{
	__u32 key = 0;
	struct pn_xdp_steer *s = bpf_map_lookup_elem(&pn_steer, &key);

	if (!s || !owned(ctx, s))
		return count(PN_XDP_STAT_PASSED, XDP_PASS);
	/* a queue without a socket falls back to the kernel */
	return count(PN_XDP_STAT_STEERED,
		     bpf_redirect_map(&pn_xsks, ctx->rx_queue_index, XDP_PASS));
}

char _license[] SEC("license") = "Dual BSD/GPL";
