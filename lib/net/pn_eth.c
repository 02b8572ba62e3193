/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ethernet: frames in, by destination and type; frames out, to the
 * transmit queue.
 */
#include <arpa/inet.h>
#include <string.h>

#include "pn_net_priv.h"

const uint8_t pn_bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

void pn_eth_input(struct pn_stack *st, struct pn_pkt *pkt)
{
	struct pn_eth_hdr *eth;
	uint16_t type;

	st->stats.rx_frames++;
	st->stats.rx_bytes += pkt->pkt_len;
	/* a chained frame reads like a multi-buffer one from here on */
	if (pn_unlikely(pkt->next != NULL) && pn_pkt_flatten(pkt) != 0) {
		st->stats.rx_too_many_pieces++;
		pn_pkt_free(pkt);
		return;
	}
	if (pn_unlikely(pn_pkt_may_pull(pkt, PN_ETH_HLEN) != 0)) {
		st->stats.rx_runts++;
		pn_pkt_free(pkt);
		return;
	}
	eth = (struct pn_eth_hdr *)pn_pkt_data(pkt);
	/* ours, broadcast, or an IPv6 group (33:33:...; IPv6 input sorts out
	 * which groups are ours) */
	if (pn_unlikely(memcmp(eth->dst, st->mac, 6) != 0 && memcmp(eth->dst, pn_bcast_mac, 6) != 0 &&
			!(st->ip6_on && eth->dst[0] == 0x33 && eth->dst[1] == 0x33))) {
		st->stats.rx_other_dst++;
		pn_pkt_free(pkt);
		return;
	}
	type = ntohs(eth->type);
	pn_pkt_pull(pkt, PN_ETH_HLEN);
	if (pn_likely(type == PN_ETH_P_IPV4))
		pn_ipv4_input(st, pkt);
	else if (type == PN_ETH_P_ARP)
		pn_arp_input(st, pkt);
	else if (type == PN_ETH_P_IPV6)
		pn_ipv6_input(st, pkt);
	else {
		st->stats.rx_other_type++;
		pn_pkt_free(pkt);
	}
}

void pn_eth_output(struct pn_stack *st, struct pn_pkt *pkt, const uint8_t *dst,
		       uint16_t type)
{
	struct pn_eth_hdr *eth = (struct pn_eth_hdr *)pn_pkt_push(pkt, PN_ETH_HLEN);

	if (pn_unlikely(eth == NULL)) {
		pn_pkt_free(pkt);
		return;
	}
	memcpy(eth->dst, dst, 6);
	memcpy(eth->src, st->mac, 6);
	eth->type = htons(type);
	pn_stack_tx_queue(st, pkt);
}

