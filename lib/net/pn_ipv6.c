/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IPv6 (RFC 8200): input (header checks; our address, its solicited-node
 * group and all-nodes; then the L4 protocol registered for the next
 * header) and output (on-link prefix or gateway, through the neighbour
 * layer). Extension headers are not followed: such packets are counted and
 * dropped, as are fragments (no IPv6 reassembly yet).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "pn_net_priv.h"

const struct pn_addr pn_ip6_all_nodes = { { 0xff, 0x02, [15] = 1 } };

bool pn_ip6_is_ours(const struct pn_stack *st, const struct pn_addr *a)
{
	return st->ip6_on && pn_addr_eq(a, &st->ip6);
}

static bool on_link(const struct pn_stack *st, const struct pn_addr *a)
{
	unsigned bits = st->prefix6;

	for (unsigned i = 0; bits; i++) {
		uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));

		if ((a->b[i] ^ st->ip6.b[i]) & mask)
			return false;
		bits = bits >= 8 ? bits - 8 : 0;
	}
	return true;
}

static struct pn_ipv6_hdr *push_hdr(struct pn_pkt *pkt, uint8_t proto, uint8_t hop,
				    const struct pn_addr *src, const struct pn_addr *dst)
{
	uint32_t len = pkt->pkt_len;
	struct pn_ipv6_hdr *h = (struct pn_ipv6_hdr *)pn_pkt_push(pkt, PN_IPV6_HLEN);

	if (h == NULL)
		return NULL;
	h->ver_tc_flow = htonl(6u << 28);
	h->payload_len = htons((uint16_t)len);
	h->next = proto;
	h->hop_limit = hop;
	memcpy(h->saddr, src->b, 16);
	memcpy(h->daddr, dst->b, 16);
	return h;
}

int pn_ip6_output(struct pn_stack *st, struct pn_pkt *pkt, uint8_t proto, const struct pn_addr *dst)
{
	const struct pn_addr *nh = dst;

	if (pn_unlikely(!st->ip6_on || st->ip6_tentative || !pn_l3_is_host(st, dst))) {
		st->stats.tx_bad_dst++;
		pn_pkt_free(pkt);
		return -EADDRNOTAVAIL;
	}
	if (pn_unlikely(pkt->pkt_len + PN_IPV6_HLEN > st->mtu || pkt->pkt_len > 65535 ||
			push_hdr(pkt, proto, 64, &st->ip6, dst) == NULL)) {
		st->stats.tx_oversize++;
		pn_pkt_free(pkt);
		return -EMSGSIZE;
	}
	if (!on_link(st, dst) && !pn_addr_is_zero(&st->gateway6))
		nh = &st->gateway6;
	pn_neigh_output(st, pkt, nh);
	return 0;
}

void pn_ip6_output_mcast(struct pn_stack *st, struct pn_pkt *pkt, uint8_t proto,
			 const struct pn_addr *src, const struct pn_addr *group)
{
	uint8_t mac[6] = { 0x33, 0x33, group->b[12], group->b[13], group->b[14], group->b[15] };

	if (push_hdr(pkt, proto, 255, src, group) == NULL) {
		pn_pkt_free(pkt);
		return;
	}
	pn_eth_output(st, pkt, mac, PN_ETH_P_IPV6);
}

/* Unicast to a neighbour whose MAC we know, hop limit 255 (ND replies). */
void pn_ip6_output_to_mac(struct pn_stack *st, struct pn_pkt *pkt, uint8_t proto,
			  const struct pn_addr *dst, const uint8_t mac[6])
{
	if (push_hdr(pkt, proto, 255, &st->ip6, dst) == NULL) {
		pn_pkt_free(pkt);
		return;
	}
	pn_eth_output(st, pkt, mac, PN_ETH_P_IPV6);
}

void pn_ipv6_input(struct pn_stack *st, struct pn_pkt *pkt)
{
	const struct pn_ipv6_hdr *h;
	struct pn_l3_info l3;
	struct pn_addr sn;
	uint32_t plen;

	st->stats.ip6_rx++;
	if (!st->ip6_on || pn_pkt_may_pull(pkt, PN_IPV6_HLEN) != 0) {
		st->stats.ip6_bad_header++;
		goto drop;
	}
	h = (const struct pn_ipv6_hdr *)pn_pkt_data(pkt);
	plen = ntohs(h->payload_len);
	if ((ntohl(h->ver_tc_flow) >> 28) != 6 || plen + PN_IPV6_HLEN > pkt->pkt_len) {
		st->stats.ip6_bad_header++;
		goto drop;
	}
	memcpy(l3.src.b, h->saddr, 16);
	memcpy(l3.dst.b, h->daddr, 16);
	l3.family = 6;
	l3.proto = h->next;
	l3.ttl = h->hop_limit;
	l3.l4_len = (uint16_t)plen;
	sn = pn_ip6_solicited_node(&st->ip6);
	/* ours: the address (not while it is tentative, but for ND), its
	 * solicited-node group, all-nodes */
	if (!(pn_addr_eq(&l3.dst, &st->ip6) || pn_addr_eq(&l3.dst, &sn) ||
	      pn_addr_eq(&l3.dst, &pn_ip6_all_nodes))) {
		st->stats.ip_not_ours++;
		goto drop;
	}
	if (l3.src.b[0] == 0xff) { /* no packet comes from a group */
		st->stats.ip_bad_src++;
		goto drop;
	}
	switch (l3.proto) {
	case 0: case 43: case 44: case 50: case 51: case 60:
		/* hop-by-hop, routing, fragment, ESP, AH, destination options */
		st->stats.ip6_ext_dropped++;
		goto drop;
	}
	if (st->ip6_tentative && l3.proto != PN_IPPROTO_ICMPV6) {
		st->stats.ip_not_ours++; /* RFC 4862 5.4: nothing but ND yet */
		goto drop;
	}
	if (pn_pkt_trim(pkt, PN_IPV6_HLEN + plen) != 0) {
		st->stats.rx_nomem++;
		goto drop;
	}
	pn_pkt_pull(pkt, PN_IPV6_HLEN);
	if (pn_likely(pn_stack_l4_deliver(st, pkt, &l3)))
		return;
	st->stats.ip_bad_proto++;
drop:
	pn_pkt_free(pkt);
}
