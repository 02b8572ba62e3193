/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ARP (RFC 826): IPv4 resolution for the neighbour layer (pn_neigh.c).
 */
#include <arpa/inet.h>
#include <string.h>

#include "pn_net_priv.h"

static void arp_send(struct pn_stack *st, uint16_t op, const uint8_t *tha, uint32_t tpa,
		     const uint8_t *eth_dst)
{
	struct pn_pkt *pkt;
	struct pn_arp_hdr *a = pn_stack_pkt_put(st, sizeof(*a), &pkt);

	if (a == NULL)
		return;
	a->htype = htons(1);
	a->ptype = htons(PN_ETH_P_IPV4);
	a->hlen = 6;
	a->plen = 4;
	a->op = htons(op);
	memcpy(a->sha, st->mac, 6);
	a->spa = htonl(st->ip);
	memcpy(a->tha, tha, 6);
	a->tpa = htonl(tpa);
	if (op == PN_ARP_OP_REQUEST)
		st->stats.arp_tx_request++;
	else
		st->stats.arp_tx_reply++;
	pn_eth_output(st, pkt, eth_dst, PN_ETH_P_ARP);
}

void pn_arp_request(struct pn_stack *st, uint32_t ip)
{
	arp_send(st, PN_ARP_OP_REQUEST, (const uint8_t[6]){ 0 }, ip, pn_bcast_mac);
}

void pn_arp_input(struct pn_stack *st, struct pn_pkt *pkt)
{
	struct pn_arp_hdr *a;
	uint32_t spa, tpa;
	struct pn_addr sa;
	uint16_t op;

	if (pn_pkt_may_pull(pkt, sizeof(*a)) != 0) {
		st->stats.arp_bad++;
		goto out;
	}
	a = (struct pn_arp_hdr *)pn_pkt_data(pkt);
	if (a->htype != htons(1) ||
	    a->ptype != htons(PN_ETH_P_IPV4) || a->hlen != 6 || a->plen != 4) {
		st->stats.arp_bad++;
		goto out;
	}
	op = ntohs(a->op);
	spa = ntohl(a->spa);
	tpa = ntohl(a->tpa);
	if (op != PN_ARP_OP_REQUEST && op != PN_ARP_OP_REPLY) {
		st->stats.arp_bad++;
		goto out;
	}
	if (op == PN_ARP_OP_REQUEST)
		st->stats.arp_rx_request++;
	else
		st->stats.arp_rx_reply++;
	/* RFC 826: update an entry we have; add one only when addressed to us */
	sa = pn_addr_v4(spa);
	if (spa != 0)
		pn_neigh_learn(st, &sa, a->sha, tpa == st->ip);
	if (op == PN_ARP_OP_REQUEST && tpa == st->ip)
		arp_send(st, PN_ARP_OP_REPLY, a->sha, spa, a->sha);
out:
	pn_pkt_free(pkt);
}
