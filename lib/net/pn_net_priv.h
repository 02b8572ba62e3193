/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internals shared by lib/net and lib/tcp: the stack, the timer wheel and
 * the output helpers.
 */
#ifndef PN_NET_PRIV_H
#define PN_NET_PRIV_H

#include "pn_net.h"
#include "pn_timer.h"

/* ---- ARP cache */

#define PN_ARP_ENTRIES 64
#define PN_ARP_PENDING 8     /* frames held per unresolved address */
#define PN_ARP_RETRIES 3
#define PN_ARP_RETRY_MS 1000
#define PN_ARP_TTL_MS (300 * 1000)

struct pn_arp_entry {
	uint32_t ip; /* 0: free */
	uint8_t mac[6];
	bool resolved;
	uint8_t tries;
	uint64_t expires; /* resolved: when to forget; else: next retry */
	struct pn_pkt *pending; /* chained through pkt->next */
	unsigned nr_pending;
};

/* ---- protocol above IP (TCP) */

struct pn_l4_ops {
	void (*input)(struct pn_stack *st, struct pn_pkt *pkt, const struct pn_ipv4_hdr *ip);
	void (*after_burst)(struct pn_stack *st); /* ACKs, output, events */
	void (*fini)(struct pn_stack *st);
};

#define PN_UDP_BINDS 16
#define PN_STACK_TXQ 128

struct pn_udp_bind {
	uint16_t port; /* 0: free */
	pn_udp_recv_cb cb;
	void *arg;
};

struct pn_stack {
	struct pn_port *port;
	uint16_t queue;
	uint16_t burst;
	uint16_t mtu;
	struct pn_pool *pool;
	uint8_t mac[6];
	uint32_t ip, mask, gateway; /* host order */
	uint16_t ip_id;
	uint64_t now_ms;
	uint64_t now_us;
	uint64_t (*clock_us)(void *arg);
	void *clock_arg;
	struct pn_timer_wheel wheel;
	struct pn_timer arp_timer;

	unsigned txn;
	struct pn_pkt *txq[PN_STACK_TXQ];

	struct pn_arp_entry arp[PN_ARP_ENTRIES];
	struct pn_udp_bind udp[PN_UDP_BINDS];

	uint64_t echo_replies_seen;
	struct pn_net_stats stats;

	const struct pn_l4_ops *tcp_ops;
	void *tcp; /* struct pn_tcp */
};

/*
 * Send an L4 packet: @p pkt's data starts at the L4 header. Prepends the
 * IPv4 and Ethernet headers and queues it (or holds it until ARP answers).
 * Takes the packet in every case. @return 0 or -errno (packet freed).
 */
/* true when @a may be a peer: not 0/8, 127/8, multicast, class E or a broadcast */
bool pn_ip_is_host(const struct pn_stack *st, uint32_t a);
int pn_ip_output(struct pn_stack *st, struct pn_pkt *pkt, uint8_t proto, uint32_t dst_ip);

/* Allocate a packet with room for the headers below L4. */
static inline struct pn_pkt *pn_stack_pkt_alloc(struct pn_stack *st)
{
	struct pn_pkt *pkt = pn_pkt_alloc(st->pool);

	if (pn_unlikely(pkt == NULL))
		st->stats.tx_nomem++;
	return pkt;
}

/*
 * A packet with @p len bytes of L4 data appended after room for the
 * headers below. @return where to write the data (*@p pkt set), or NULL
 * when the pool is empty (counted) or @p len does not fit.
 */
static inline void *pn_stack_pkt_put(struct pn_stack *st, uint32_t len, struct pn_pkt **pkt)
{
	struct pn_pkt *p = pn_stack_pkt_alloc(st);
	void *data;

	if (pn_unlikely(p == NULL))
		return NULL;
	data = pn_pkt_append(p, len);
	if (pn_unlikely(data == NULL)) {
		pn_pkt_free(p);
		return NULL;
	}
	*pkt = p;
	return data;
}

/* Largest L4 segment (header included) one packet buffer can carry. */
static inline uint32_t pn_stack_l4_room(const struct pn_stack *st)
{
	uint32_t room = st->pool->frag_size - (uint32_t)PN_PKT_HDR_SIZE - PN_PKT_HEADROOM;
	uint32_t mtu = (uint32_t)st->mtu - (uint32_t)sizeof(struct pn_ipv4_hdr);

	return PN_MIN(room, mtu);
}

#endif /* PN_NET_PRIV_H */
