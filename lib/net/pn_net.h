/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * A small IPv4 host stack on one port queue (docs/design.md §7): Ethernet, ARP,
 * IPv4, ICMP echo and UDP here; TCP in lib/tcp on top.
 *
 * A stack is polled by one thread (its owner), which also owns the pool
 * the stack transmits from (normally the pool the port receives into, so
 * AF_XDP sends by descriptor). pn_stack_poll() receives a burst, runs each
 * frame up the layers, delivers socket events, runs the timers and flushes
 * what was queued for transmission. Nothing here takes a lock.
 *
 * Addresses and ports in this API are in host byte order.
 */
#ifndef PN_NET_H
#define PN_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pn_pkt.h"
#include "pn_port.h"
#include "pn_wire.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- addresses of either family */

/**
 * An IP address: IPv6 bytes in network order; an IPv4 address as an
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d, RFC 4291 2.5.5.2), so one type
 * and one comparison serve both families.
 */
struct pn_addr {
	uint8_t b[16];
};

#define PN_ADDR_STRLEN 46 /* INET6_ADDRSTRLEN */

static inline struct pn_addr pn_addr_v4(uint32_t host)
{
	struct pn_addr a = { { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
			       (uint8_t)(host >> 24), (uint8_t)(host >> 16), (uint8_t)(host >> 8),
			       (uint8_t)host } };
	return a;
}

static inline bool pn_addr_is_v4(const struct pn_addr *a)
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return __builtin_memcmp(a->b, prefix, 12) == 0;
}

/** The IPv4 address (host order) of an IPv4-mapped address. */
static inline uint32_t pn_addr_v4_host(const struct pn_addr *a)
{
	return (uint32_t)a->b[12] << 24 | (uint32_t)a->b[13] << 16 | (uint32_t)a->b[14] << 8 |
	       a->b[15];
}

static inline bool pn_addr_eq(const struct pn_addr *a, const struct pn_addr *b)
{
	return __builtin_memcmp(a->b, b->b, 16) == 0;
}

static inline bool pn_addr_is_zero(const struct pn_addr *a)
{
	static const uint8_t zero[16] = { 0 };

	return __builtin_memcmp(a->b, zero, 16) == 0;
}

/**
 * Parse "a.b.c.d", "2001:db8::1", either with "/len".
 * @return 0 or -EINVAL (a prefix when @p prefix_len is NULL, or one too long).
 */
int pn_addr_parse(const char *s, struct pn_addr *a, uint8_t *prefix_len);
/** Format @p a into @p buf (PN_ADDR_STRLEN bytes): dotted for IPv4. */
const char *pn_addr_str(const struct pn_addr *a, char *buf);

/* ---- the stack */

struct pn_stack;
struct pn_stack_group;
struct pn_acct_group;

/* ---- stacks on several queues of one port */

/**
 * A group of stacks, one per queue of a port, each polled by its own
 * thread, serving one set of addresses (docs/multicore.md). What the
 * group shares:
 *
 *  - the neighbours: an ARP reply or neighbour advertisement lands on
 *    whichever queue the peer's NIC or veth chose; the member that reads
 *    it publishes the address in a table every member reads without a
 *    lock, so a member waiting for that answer sends at its next poll;
 *  - the flows: each TCP flow belongs to one member, chosen by the
 *    Toeplitz hash NICs use for RSS (key and indirection table below) over
 *    the flow as it arrives. A member that receives a segment of a flow it
 *    has no connection for hands it to the owner over the owner's ring
 *    (counted as steer_out / steer_in); active opens pick a local port
 *    whose hash lands on their own queue (as mTCP does), so on a NIC
 *    whose RSS matches the group's, replies need no handing over at all;
 *  - the IPv6 address's fate: a duplicate found by any member's DAD.
 *
 * Listening is per member: listen on the same port on every stack.
 * Create the group first, then each member with pn_stack_conf.group set
 * (conf.queue is its place, < nb_stacks) on its own thread; destroy every
 * member, then the group, then the pools (packets still in a ring when
 * the group goes come from the members' pools).
 */
struct pn_stack_group_conf {
	uint32_t sz;           /**< sizeof(struct pn_stack_group_conf) */
	uint16_t nb_stacks;    /**< members, 1..PN_PORT_MAX_QUEUES: the port's queues */
	/** RSS key, 40 bytes (NULL: the key of Microsoft's RSS specification;
	 * a NIC's, often random, is what `ethtool -x DEV` shows) */
	const uint8_t *rss_key;
	/** indirection table: a hash's low bits pick an entry, the entry the
	 * queue (0 entries: 128 of them, entry i = i % nb_stacks, as drivers
	 * set by default). At most 512, a power of two. */
	uint16_t reta_size;
	const uint16_t *reta;
	uint32_t steer_ring;   /**< handover ring per member (default 4096) */
};

/** @return the group, or NULL with errno EINVAL or ENOMEM. */
struct pn_stack_group *pn_stack_group_create(const struct pn_stack_group_conf *conf);
/**
 * Destroy a group whose members are all destroyed (else -EBUSY). Packets
 * still in its rings are freed. @return 0 or -EBUSY.
 */
int pn_stack_group_destroy(struct pn_stack_group *g);
/**
 * The Toeplitz hash of a flow as it arrives (source = the peer), over
 * the addresses and ports as NICs hash TCP (RSS over IPv4/IPv6 with
 * ports). Addresses of one family (@p src's is used); host-order ports.
 * 0 for a NULL group or address.
 */
uint32_t pn_stack_group_hash(const struct pn_stack_group *g, const struct pn_addr *src,
			     const struct pn_addr *dst, uint16_t sport, uint16_t dport);
/** The member that owns the flow pn_stack_group_hash() hashes. */
unsigned pn_stack_group_owner(const struct pn_stack_group *g, const struct pn_addr *src,
			      const struct pn_addr *dst, uint16_t sport, uint16_t dport);
/** true when a flow from @p peer:@p peer_port to our @p local_port is
 * this stack's to serve (alone: always): it arrives here on a NIC whose RSS
 * matches the group, or is handed here by the member it arrives at. */
bool pn_stack_owns_flow(const struct pn_stack *st, const struct pn_addr *peer,
			uint16_t peer_port, uint16_t local_port);

struct pn_stack_conf {
	uint32_t sz;              /**< sizeof(struct pn_stack_conf) */
	struct pn_port *port;
	uint16_t queue;
	struct pn_pool *pool;     /**< transmit buffers; owned by the polling thread */
	uint32_t ip;              /**< our address */
	uint8_t prefix_len;       /**< on-link prefix (default 24) */
	uint32_t gateway;         /**< 0: none (on-link only) */
	uint16_t mtu;             /**< default 1500 */
	uint16_t burst;           /**< receive burst (default 64) */
	/** IPv6: our address (all zero: no IPv6), its on-link prefix (default
	 * 64) and a gateway (all zero: on-link only). Duplicate address
	 * detection runs first (RFC 4862 5.4): the address is used about a
	 * second later, when no other node claimed it. */
	struct pn_addr ip6;
	uint8_t prefix_len6;
	struct pn_addr gateway6;
	/**
	 * The stack's clock in microseconds (NULL: CLOCK_MONOTONIC). Tests and
	 * fuzzers pass their own to move time at will: timers, retransmission
	 * and TIME_WAIT follow it. Must never go backwards.
	 */
	uint64_t (*clock_us)(void *arg);
	void *clock_arg;
	/** a member of this group (NULL: alone), at place @p queue */
	struct pn_stack_group *group;
};

struct pn_net_stats {
	uint64_t rx_frames, rx_bytes, rx_runts, rx_other_dst, rx_other_type;
	uint64_t rx_too_many_pieces; /**< chained frames of more than PN_PKT_MAX_FRAGS pieces */
	uint64_t rx_nomem; /**< frames dropped: no buffer to unshare them */
	uint64_t arp_rx_request, arp_rx_reply, arp_tx_request, arp_tx_reply;
	uint64_t arp_bad, arp_unresolved_drops, arp_table_full;
	uint64_t arp_evicted; /**< entries reused for another address: the table was full */
	uint64_t ip_rx, ip_bad_header, ip_bad_csum, ip_fragments, ip_not_ours, ip_bad_proto;
	uint64_t ip_bad_src; /**< dropped: a source no host can have (0/8, 127/8, multicast, broadcast) */
	/* reassembly, both families */
	uint64_t ip_reasm_ok;       /**< datagrams put together from pieces */
	uint64_t ip_reasm_timeout;  /**< incomplete after 30 s: pieces dropped */
	uint64_t ip_reasm_overlap;  /**< overlapping pieces: the datagram dropped */
	uint64_t ip_reasm_past_end; /**< a piece past the last one's end: the datagram dropped */
	uint64_t ip_reasm_dup;      /**< a piece received twice: the copy dropped */
	uint64_t ip_reasm_bad;      /**< a piece that cannot be (bad length, two ends) */
	uint64_t ip_reasm_too_big;  /**< more pieces than a packet can hold */
	uint64_t ip_reasm_evicted;  /**< given up for a newer one: 16 at once at most */
	uint64_t ip_frags_out;      /**< pieces sent: a reply longer than the MTU */
	uint64_t ip6_rx, ip6_bad_header;
	uint64_t ip6_ext_dropped;   /**< dropped at an extension header we must not skip: ESP,
				     *   AH, a routing header with segments left, an option
				     *   whose type says discard */
	uint64_t ip6_fragments;     /**< IPv6 pieces received (reassembled as IPv4's are) */
	uint64_t ip6_frags_out;     /**< IPv6 pieces sent: a reply longer than the MTU */
	uint64_t icmp6_echo_requests, icmp6_echo_replies, icmp6_bad, icmp6_other;
	uint64_t nd_rx_solicit, nd_rx_advert, nd_tx_solicit, nd_tx_advert, nd_bad;
	uint64_t nd_dad_conflicts;  /**< another node has our IPv6 address */
	uint64_t icmp_echo_requests, icmp_echo_replies, icmp_bad, icmp_other;
	uint64_t udp_rx, udp_bad, udp_no_port;
	uint64_t tx_frames, tx_bytes, tx_ring_full, tx_nomem, tx_oversize;
	uint64_t tx_bad_dst; /**< sends refused: the destination is not a unicast host */
	/* in a group (pn_stack_group) */
	uint64_t steer_out;        /**< segments handed to the member that owns their flow */
	uint64_t steer_in;         /**< segments other members handed to us */
	uint64_t steer_drops;      /**< could not be handed over: the owner's ring full,
				    *   the owner gone, or no headroom to carry them */
	uint64_t neigh_from_group; /**< neighbours another member learned, taken from the group */
};

/**
 * Create a stack on @p conf->port queue @p conf->queue. The port must be
 * started by the caller. The calling thread becomes the owner.
 * @return the stack, or NULL with errno set (EINVAL for a bad conf).
 */
struct pn_stack *pn_stack_create(const struct pn_stack_conf *conf);

/**
 * Destroy: TCP sockets are aborted (RST sent where connected), held
 * packets freed. Zero-copy tokens the application still holds stay valid
 * as page references; release them with pn_tcp_zc_release(NULL, token).
 */
void pn_stack_destroy(struct pn_stack *st);

/**
 * One round of work: receive one burst and process it, deliver socket
 * events, run expired timers, flush transmissions.
 * @return frames received (0: idle round).
 */
unsigned pn_stack_poll(struct pn_stack *st);

/**
 * Run one frame up the stack as if the port had just received it (for
 * tests, fuzzers, or frames that came some other way). Takes @p pkt in every
 * case. Replies are queued; pn_stack_poll() (or pn_stack_flush()) sends
 * them, and the next poll round delivers socket events. Owner thread.
 */
void pn_stack_input(struct pn_stack *st, struct pn_pkt *pkt);

/** Flush queued transmissions now (pn_stack_poll does it each round). */
void pn_stack_flush(struct pn_stack *st);

void pn_stack_stats_get(const struct pn_stack *st, struct pn_net_stats *s);
uint32_t pn_stack_ip(const struct pn_stack *st);
struct pn_pool *pn_stack_pool(const struct pn_stack *st);
/** @return the stack's clock in milliseconds (advanced by each poll). */
uint64_t pn_stack_now_ms(const struct pn_stack *st);

/* ---- UDP */

/** Called with a received datagram; @p pkt's data is the payload. The
 * callee owns @p pkt and frees it with pn_pkt_free. */
typedef void (*pn_udp_recv_cb)(struct pn_stack *st, struct pn_pkt *pkt,
			       const struct pn_addr *src, uint16_t src_port, uint16_t dst_port,
			       void *arg);

/** @return 0, -EADDRINUSE or -ENOSPC (16 bindings per stack). */
int pn_udp_bind(struct pn_stack *st, uint16_t port, pn_udp_recv_cb cb, void *arg);
int pn_udp_unbind(struct pn_stack *st, uint16_t port);
/** Send a datagram (copied). @return 0, -EMSGSIZE, -ENOMEM, or
 * -EADDRNOTAVAIL when @p dst_ip is not a unicast host address (0/8,
 * 127/8, multicast, limited or subnet broadcast). */
int pn_udp_send(struct pn_stack *st, uint32_t dst_ip, uint16_t dst_port,
		uint16_t src_port, const void *data, size_t len);
/** The same to an address of either family. */
int pn_udp_send_addr(struct pn_stack *st, const struct pn_addr *dst, uint16_t dst_port,
		     uint16_t src_port, const void *data, size_t len);

/** Send one ICMP echo request (for tests and tools). @return 0 or -errno
 * (-EADDRNOTAVAIL as for pn_udp_send). */
int pn_icmp_echo(struct pn_stack *st, uint32_t dst_ip, uint16_t id, uint16_t seq,
		 const void *data, size_t len);
/** Send one ICMPv6 echo request. @return 0 or -errno (-EADDRNOTAVAIL
 * while our IPv6 address is tentative or duplicate, or to a group). */
int pn_icmp6_echo(struct pn_stack *st, const struct pn_addr *dst, uint16_t id, uint16_t seq,
		  const void *data, size_t len);
/** true when our IPv6 address passed duplicate address detection. */
bool pn_stack_ip6_ready(const struct pn_stack *st);
/** Replies to our echo requests (both families) seen so far. */
uint64_t pn_icmp_echo_replies_seen(const struct pn_stack *st);

/** Parse "a.b.c.d" or "a.b.c.d/len". @return 0 or -EINVAL. */
int pn_ip_parse(const char *s, uint32_t *ip, uint8_t *prefix_len);
/** Format an address (host order) into @p buf (16 bytes). */
const char *pn_ip_str(uint32_t ip, char *buf);

#ifdef __cplusplus
}
#endif

#endif /* PN_NET_H */
