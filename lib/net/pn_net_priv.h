/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/net's own: the stack and the functions its layers call one another
 * by. Protocols in other folders see pn_net_l4.h only.
 */
#ifndef PN_NET_PRIV_H
#define PN_NET_PRIV_H

#include "pn_net_l4.h"

/* ---- neighbours (pn_neigh.c): ARP and ND share the table */

#define PN_NEIGH_ENTRIES 64
#define PN_NEIGH_PENDING 8     /* frames held per unresolved address */
#define PN_NEIGH_RETRIES 3
#define PN_NEIGH_RETRY_MS 1000
#define PN_NEIGH_TTL_MS (300 * 1000)

struct pn_neigh {
	bool used;
	bool resolved;
	uint8_t tries;
	uint8_t mac[6];
	struct pn_addr addr;
	uint64_t expires; /* resolved: when to forget; else: next retry */
	struct pn_pkt *pending; /* chained through pkt->next */
	unsigned nr_pending;
};

/* ---- IPv4 reassembly (pn_ipv4_frag.c) */

#define PN_REASM_SLOTS 16
#define PN_REASM_MAX_PIECES (PN_PKT_MAX_FRAGS + 1)
#define PN_REASM_TIMEOUT_MS 30000

struct pn_reasm {
	bool used, have_first;
	uint8_t family;             /* 4 or 6 */
	uint8_t proto;              /* IPv4: part of the key; IPv6: the first piece's next header */
	uint8_t ttl;                /* of the first piece */
	uint32_t id;                /* as on the wire (16 bits in IPv4) */
	struct pn_addr src, dst;
	uint64_t expires_ms;
	uint32_t total, have;       /* total: known once the last piece came */
	unsigned nr;
	struct pn_pkt *frag[PN_REASM_MAX_PIECES]; /* payload only, by offset */
	uint16_t off[PN_REASM_MAX_PIECES], len[PN_REASM_MAX_PIECES];
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
	struct pn_addr ip4m;        /* ip, IPv4-mapped */
	struct pn_addr ip6, gateway6;
	uint8_t prefix6;
	bool ip6_on;                /* configured (in use once DAD passed) */
	bool ip6_tentative;         /* DAD running: not ours to use yet */
	bool ip6_duplicate;         /* DAD found another node using it */
	uint16_t ip_id;
	uint64_t now_ms;
	uint64_t now_us;
	uint64_t (*clock_us)(void *arg);
	void *clock_arg;
	struct pn_timer_wheel wheel;
	struct pn_timer neigh_timer;
	struct pn_timer dad_timer;   /* IPv6 duplicate address detection */
	uint8_t dad_probes;

	unsigned txn;
	struct pn_pkt *txq[PN_STACK_TXQ];

	struct pn_neigh neigh[PN_NEIGH_ENTRIES];
	struct pn_reasm reasm[PN_REASM_SLOTS]; /* both families */
	uint32_t ip6_frag_id; /* identification of the next IPv6 datagram we cut */
	struct pn_timer reasm_timer;
	struct pn_udp_bind udp[PN_UDP_BINDS];

	uint64_t echo_replies_seen;
	struct pn_net_stats stats;

	/* in a group: our place, segments waiting to be handed to each
	 * member (flushed with the transmit queue), the group's neighbour
	 * generation we last looked at */
	struct pn_stack_group *group;
	struct pn_pkt **steer_buf; /* PN_STEER_BURST per member */
	uint16_t *steer_n;
	unsigned steer_pending;
	uint64_t neigh_gen_seen;

	struct {
		const struct pn_l4_proto *ops;
		void *priv;
	} l4[PN_STACK_L4_MAX];
	unsigned nr_l4;
	uint8_t l4_at[256]; /* by protocol number: index in l4 + 1, 0 none */
};

/* ---- stack groups (pn_stack_group.c) */

#define PN_STEER_BURST 32

int pn_group_join(struct pn_stack *st, struct pn_stack_group *g);
void pn_group_leave(struct pn_stack *st);
/* Hand what waits in steer_buf to the owners' rings. */
void pn_group_steer_flush(struct pn_stack *st);
/* Take segments handed to us and run them into their protocol. */
unsigned pn_group_steer_input(struct pn_stack *st);
/* Publish a neighbour for the other members. */
void pn_group_neigh_publish(struct pn_stack *st, const struct pn_addr *a, const uint8_t mac[6]);
/* A neighbour some member published. @return true, @p mac filled. */
bool pn_group_neigh_lookup(const struct pn_stack *st, const struct pn_addr *a, uint8_t mac[6]);
/* Changed since we last looked: answers for our unresolved entries. */
void pn_group_neigh_sync(struct pn_stack *st);
void pn_group_ip6_duplicate(struct pn_stack *st);
bool pn_group_ip6_is_duplicate(const struct pn_stack *st);
uint64_t pn_group_neigh_gen(const struct pn_stack_group *g);

extern const uint8_t pn_bcast_mac[6];
extern const struct pn_l4_proto pn_icmp_proto, pn_udp_proto;

/* the layers, bottom up */
void pn_stack_tx_queue(struct pn_stack *st, struct pn_pkt *pkt);
void pn_eth_input(struct pn_stack *st, struct pn_pkt *pkt);
void pn_eth_output(struct pn_stack *st, struct pn_pkt *pkt, const uint8_t *dst, uint16_t type);
void pn_arp_input(struct pn_stack *st, struct pn_pkt *pkt);
void pn_arp_request(struct pn_stack *st, uint32_t ip);
struct pn_neigh *pn_neigh_find(struct pn_stack *st, const struct pn_addr *a);
/* A neighbour's MAC: an entry we have is updated, one made when @p create. */
void pn_neigh_learn(struct pn_stack *st, const struct pn_addr *a, const uint8_t mac[6],
		    bool create);
/* An answer to a question someone asked (a neighbour advertisement): an
 * entry we have is updated; in a group, the others learn it too. */
void pn_neigh_learn_answer(struct pn_stack *st, const struct pn_addr *a, const uint8_t mac[6]);
void pn_neigh_drop_pending(struct pn_stack *st, struct pn_neigh *e);
void pn_neigh_timer_fn(struct pn_timer *t);
void pn_neigh_flush(struct pn_stack *st);
/* Send to @p next_hop (either family), resolving it first when needed. */
void pn_neigh_output(struct pn_stack *st, struct pn_pkt *pkt, const struct pn_addr *next_hop);
/* IPv6 (pn_ipv6.c, pn_nd.c, pn_icmp6.c) */
extern const struct pn_addr pn_ip6_all_nodes; /* ff02::1 */
/* ff02::1:ffXX:XXXX, the solicited-node group of @a (RFC 4291 2.7.1) */
static inline struct pn_addr pn_ip6_solicited_node(const struct pn_addr *a)
{
	struct pn_addr g = { { 0xff, 0x02, [11] = 1, [12] = 0xff, [13] = a->b[13],
			       [14] = a->b[14], [15] = a->b[15] } };

	return g;
}
void pn_ipv6_input(struct pn_stack *st, struct pn_pkt *pkt);
int pn_ip6_output(struct pn_stack *st, struct pn_pkt *pkt, uint8_t proto,
		  const struct pn_addr *dst);
/* Send an IPv6 packet to a multicast group (ND): Ethernet 33:33:... */
void pn_ip6_output_mcast(struct pn_stack *st, struct pn_pkt *pkt, uint8_t proto,
			 const struct pn_addr *src, const struct pn_addr *group);
void pn_ip6_output_to_mac(struct pn_stack *st, struct pn_pkt *pkt, uint8_t proto,
			  const struct pn_addr *dst, const uint8_t mac[6]);
void pn_nd_solicit(struct pn_stack *st, const struct pn_addr *target, bool dad);
void pn_nd_input(struct pn_stack *st, struct pn_pkt *pkt, const struct pn_l3_info *l3);
void pn_nd_dad_start(struct pn_stack *st);
void pn_nd_dad_timer_fn(struct pn_timer *t);
bool pn_ip6_is_ours(const struct pn_stack *st, const struct pn_addr *a);
extern const struct pn_l4_proto pn_icmp6_proto;
void pn_ipv4_input(struct pn_stack *st, struct pn_pkt *pkt);
/* A piece of a datagram (data at its IPv4 header of @p hlen bytes): kept.
 * @return the whole datagram when this piece completes it (data at the L4
 * header; *@p l3 filled for it), else NULL. Takes @p pkt. */
struct pn_pkt *pn_ipv4_reasm(struct pn_stack *st, struct pn_pkt *pkt, uint32_t hlen,
			     struct pn_l3_info *l3);
/* The same for IPv6: data at the fragment header, @p l3 from the headers
 * before it; on completion data at what follows the fragment header and
 * l3->proto the first piece's next header. */
struct pn_pkt *pn_ipv6_reasm(struct pn_stack *st, struct pn_pkt *pkt, struct pn_l3_info *l3);
void pn_reasm_timer_fn(struct pn_timer *t);
void pn_reasm_flush(struct pn_stack *st);
/* Send @p pkt (data at a filled IPv4 header, longer than the MTU) in
 * pieces to @p next_hop; takes @p pkt. @return 0 or -ENOMEM. */
int pn_ipv4_fragment_output(struct pn_stack *st, struct pn_pkt *pkt, uint32_t next_hop);
/* To the protocol registered for l3->proto. @return false: none (pkt kept). */
bool pn_stack_l4_deliver(struct pn_stack *st, struct pn_pkt *pkt, const struct pn_l3_info *l3);

#endif /* PN_NET_PRIV_H */
