/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * For the protocols above IP (TCP in lib/tcp; ICMP and UDP here), as
 * pn_port_driver.h is for drivers: how a protocol registers with a stack,
 * what IP tells it about a packet, and how it sends. Applications include
 * pn_net.h.
 *
 * A protocol registers once per stack (pn_stack_l4_register) with its
 * number and a private pointer. IP hands it each packet whose data starts
 * at the L4 header, with a struct pn_l3_info of values (not a pointer into
 * the packet: pulling the L4 header up may move the data). After each
 * received burst the stack calls every protocol's after_burst (to send
 * what the burst made due: ACKs, data, events), then runs the timers, then
 * flushes the transmit queue. fini runs when the stack is destroyed.
 */
#ifndef PN_NET_L4_H
#define PN_NET_L4_H

#include "pn_net.h"
#include "pn_timer.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What IP knows about a packet it hands up. */
struct pn_l3_info {
	struct pn_addr src, dst;
	uint8_t family;  /**< 4 or 6 */
	uint8_t proto;   /**< the L4 protocol (IPv6: the next header) */
	uint8_t ttl;     /**< TTL or hop limit */
	uint16_t l4_len; /**< L4 header and payload, as IP framed them */
};

/** The pseudo-header sum for an L4 checksum over @p len bytes. */
static inline uint64_t pn_l3_pseudo(const struct pn_l3_info *l3, uint16_t len)
{
	if (l3->family == 4)
		return pn_csum_pseudo(__builtin_bswap32(pn_addr_v4_host(&l3->src)),
				      __builtin_bswap32(pn_addr_v4_host(&l3->dst)), l3->proto, len);
	return pn_csum_pseudo6(l3->src.b, l3->dst.b, l3->proto, len);
}

struct pn_l4_proto {
	const char *name;
	uint8_t proto; /**< IP protocol number */
	/** Takes @p pkt in every case. */
	void (*input)(struct pn_stack *st, struct pn_pkt *pkt, const struct pn_l3_info *l3,
		      void *priv);
	void (*after_burst)(struct pn_stack *st, void *priv); /**< optional */
	void (*fini)(struct pn_stack *st, void *priv);        /**< optional */
};

#define PN_STACK_L4_MAX 8

/** @return 0, -EEXIST (the number is taken) or -ENOSPC. */
int pn_stack_l4_register(struct pn_stack *st, const struct pn_l4_proto *p, void *priv);
/** Forget protocol @p proto (fini is not called). @return 0 or -ENOENT. */
int pn_stack_l4_unregister(struct pn_stack *st, uint8_t proto);
/** @return the private pointer protocol @p proto registered with, or NULL. */
void *pn_stack_l4_priv(const struct pn_stack *st, uint8_t proto);

/* ---- sending */

/**
 * Send an L4 packet: @p pkt's data starts at the L4 header. Prepends the
 * IPv4 and Ethernet headers and queues it (or holds it until ARP answers).
 * Takes the packet in every case. @return 0 or -errno (packet freed):
 * -EADDRNOTAVAIL when @p dst_ip may not be a peer (pn_ip_is_host),
 * -EMSGSIZE over the MTU.
 */
int pn_ip_output(struct pn_stack *st, struct pn_pkt *pkt, uint8_t proto, uint32_t dst_ip);

/** true when @p a may be a peer: not 0/8, 127/8, multicast, class E or a broadcast */
bool pn_ip_is_host(const struct pn_stack *st, uint32_t a);

/* ---- either family, by the peer's address */

/** Our address of @p peer's family (all zero when we have none). */
const struct pn_addr *pn_stack_local_addr(const struct pn_stack *st, const struct pn_addr *peer);
/** true when @p a may be a peer of ours (pn_ip_is_host for IPv4; for IPv6
 * not unspecified, loopback, multicast, or a family we do not have). */
bool pn_l3_is_host(const struct pn_stack *st, const struct pn_addr *a);
/** The pseudo-header sum from us to @p dst for @p len bytes of @p proto. */
uint64_t pn_l3_pseudo_to(const struct pn_stack *st, const struct pn_addr *dst, uint8_t proto,
			 uint16_t len);
/** Send an L4 packet to @p dst over its family (as pn_ip_output). */
int pn_l3_output(struct pn_stack *st, struct pn_pkt *pkt, uint8_t proto, const struct pn_addr *dst);
/** Largest L4 segment to @p peer: a buffer less its family's headers. */
uint32_t pn_stack_l4_room_to(const struct pn_stack *st, const struct pn_addr *peer);

/**
 * A packet with @p len bytes of L4 data appended after room for the
 * headers below. @return where to write the data (*@p pkt set), or NULL
 * when the pool is empty (counted as tx_nomem) or @p len does not fit.
 */
void *pn_stack_pkt_put(struct pn_stack *st, uint32_t len, struct pn_pkt **pkt);

/** Largest L4 segment (header included) one packet buffer can carry. */
uint32_t pn_stack_l4_room(const struct pn_stack *st);

/** Largest L4 segment to @p peer the MTU allows (in several buffers when
 * it is more than one holds: pn_stack_pkt_put_frags). */
uint32_t pn_stack_l4_mtu_to(const struct pn_stack *st, const struct pn_addr *peer);

/**
 * A packet of @p hlen bytes of L4 header and @p len bytes of payload after
 * it, larger than one buffer if need be: the header and as much payload as
 * fits in the head, the rest in fragments of the stack's pool (a jumbo
 * frame's TCP segment). @p fill writes payload bytes [off, off + n) at
 * @p dst, once per piece, in order. @return the header (*@p pkt set), or
 * NULL when the pool is short (counted as tx_nomem) or the pieces are more
 * than a packet holds.
 */
void *pn_stack_pkt_put_frags(struct pn_stack *st, uint32_t hlen, uint32_t len,
			     void (*fill)(void *arg, uint32_t off, uint8_t *dst, uint32_t n),
			     void *arg, struct pn_pkt **pkt);

/* ---- several stacks on one port (pn_stack_group) */

/**
 * A segment of a flow this stack has no connection for: when another
 * member of the group owns the flow, hand @p pkt (data at the L4 header)
 * to it and return true (taken; it reaches the owner's protocol @p l3->proto
 * with its L4 checksum marked verified). false: ours to handle (alone,
 * or we own the flow), @p pkt untouched.
 */
bool pn_stack_steer(struct pn_stack *st, struct pn_pkt *pkt, const struct pn_l3_info *l3,
		    uint16_t sport, uint16_t dport);

/* ---- the stack's clock, timers and settings */

/** Microseconds on the stack's clock (as of the last poll or input). */
uint64_t pn_stack_now_us(const struct pn_stack *st);
/** The wheel the stack runs after each burst, in milliseconds of its clock. */
struct pn_timer_wheel *pn_stack_wheel(struct pn_stack *st);
uint16_t pn_stack_mtu(const struct pn_stack *st);

#ifdef __cplusplus
}
#endif

#endif /* PN_NET_L4_H */
