/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared by the XDP program and the driver: what the program steers to the
 * AF_XDP sockets. Everything it does not match goes on to the kernel.
 */
#ifndef PN_XDP_STEER_H
#define PN_XDP_STEER_H

#include <linux/types.h>

#define PN_STEER_ALL   0x1u /* every frame (a forwarder owns the interface) */
#define PN_STEER_MAC   0x2u /* destination MAC == mac */
#define PN_STEER_IP    0x4u /* IPv4 destination == ip (and ARP for ip) */
#define PN_STEER_PROTO 0x8u /* IPv4 protocol == proto */
#define PN_STEER_PORT  0x10u /* UDP/TCP destination port == port */
#define PN_STEER_IP6   0x20u /* IPv6 destination == ip6, or its solicited-node
			      * group (neighbour discovery for ip6) */

struct pn_xdp_steer {
	__u32 flags;
	__u32 owner_pid; /* process whose sockets the map holds, for stale cleanup */
	__u8 mac[6];
	__u8 proto;
	__u8 pad;
	__be32 ip;
	__be16 port;
	__u16 pad2;
	__u8 ip6[16];
};

/* Per-CPU counters, indexed by these. */
enum { PN_XDP_STAT_STEERED, PN_XDP_STAT_PASSED, PN_XDP_STAT_MAX };

#define PN_XDP_PROG_NAME "pagenet_xdp"
#define PN_XDP_MAX_QUEUES 64

#endif /* PN_XDP_STEER_H */
