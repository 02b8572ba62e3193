/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The neighbour layer for IPv4: ARP (RFC 826) with a small table, frames
 * held while an address is resolved, retries and ageing on the stack's
 * timer wheel.
 */
#include <arpa/inet.h>
#include <string.h>

#include "pn_net_priv.h"

static struct pn_arp_entry *arp_find(struct pn_stack *st, uint32_t ip)
{
	for (unsigned i = 0; i < PN_ARP_ENTRIES; i++)
		if (st->arp[i].ip == ip)
			return &st->arp[i];
	return NULL;
}

void pn_arp_drop_pending(struct pn_stack *st, struct pn_arp_entry *e)
{
	while (e->pending) {
		struct pn_pkt *p = e->pending;

		e->pending = p->next;
		p->next = NULL;
		pn_pkt_free(p);
		st->stats.arp_unresolved_drops++;
	}
	e->nr_pending = 0;
}

/*
 * A slot for @p ip: a free one, else an unresolved one (oldest retry
 * first), else the resolved one that expires first. Unresolved entries
 * must be evictable: a flood from addresses nobody answers for would
 * otherwise fill the table and leave no room to learn real neighbours
 * (found by the SYN flood test; Linux's neighbour GC drops incomplete
 * entries first too).
 */
static struct pn_arp_entry *arp_slot(struct pn_stack *st, uint32_t ip)
{
	struct pn_arp_entry *victim = NULL;

	for (unsigned i = 0; i < PN_ARP_ENTRIES; i++) {
		struct pn_arp_entry *e = &st->arp[i];

		if (e->ip == 0) {
			victim = e;
			break;
		}
		if (victim == NULL || (!e->resolved && victim->resolved) ||
		    (e->resolved == victim->resolved && e->expires < victim->expires))
			victim = e;
	}
	if (victim == NULL) {
		st->stats.arp_table_full++;
		return NULL;
	}
	if (victim->ip != 0)
		st->stats.arp_evicted++;
	pn_arp_drop_pending(st, victim);
	memset(victim, 0, sizeof(*victim));
	victim->ip = ip;
	return victim;
}

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
	if (op == 1)
		st->stats.arp_tx_request++;
	else
		st->stats.arp_tx_reply++;
	pn_eth_output(st, pkt, eth_dst, PN_ETH_P_ARP);
}

static void arp_flush_pending(struct pn_stack *st, struct pn_arp_entry *e)
{
	while (e->pending) {
		struct pn_pkt *p = e->pending;

		e->pending = p->next;
		p->next = NULL;
		pn_eth_output(st, p, e->mac, PN_ETH_P_IPV4);
	}
	e->nr_pending = 0;
}

void pn_arp_timer_fn(struct pn_timer *t)
{
	struct pn_stack *st = pn_container_of(t, struct pn_stack, arp_timer);
	bool again = false;

	for (unsigned i = 0; i < PN_ARP_ENTRIES; i++) {
		struct pn_arp_entry *e = &st->arp[i];

		if (e->ip == 0 || e->expires > st->now_ms) {
			again |= e->ip != 0 && !e->resolved;
			continue;
		}
		if (e->resolved) {
			memset(e, 0, sizeof(*e)); /* aged out: asked again when used */
		} else if (e->tries >= PN_ARP_RETRIES) {
			pn_arp_drop_pending(st, e);
			memset(e, 0, sizeof(*e));
		} else {
			e->tries++;
			e->expires = st->now_ms + PN_ARP_RETRY_MS;
			arp_send(st, 1, (const uint8_t[6]){ 0 }, e->ip, pn_bcast_mac);
			again = true;
		}
	}
	if (again)
		pn_timer_arm(&st->wheel, &st->arp_timer, st->now_ms + PN_ARP_RETRY_MS);
	else
		pn_timer_arm(&st->wheel, &st->arp_timer, st->now_ms + PN_ARP_TTL_MS / 4);
}

void pn_arp_input(struct pn_stack *st, struct pn_pkt *pkt)
{
	struct pn_arp_hdr *a;
	uint32_t spa, tpa;
	struct pn_arp_entry *e;
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
	if (op != 1 && op != 2) {
		st->stats.arp_bad++;
		goto out;
	}
	if (op == 1)
		st->stats.arp_rx_request++;
	else
		st->stats.arp_rx_reply++;
	/* RFC 826: update an entry we have; add one only when addressed to us */
	e = spa ? arp_find(st, spa) : NULL;
	if (e == NULL && tpa == st->ip && spa != 0)
		e = arp_slot(st, spa);
	if (e) {
		memcpy(e->mac, a->sha, 6);
		e->resolved = true;
		e->expires = st->now_ms + PN_ARP_TTL_MS;
		arp_flush_pending(st, e);
	}
	if (op == 1 && tpa == st->ip)
		arp_send(st, 2, a->sha, spa, a->sha);
out:
	pn_pkt_free(pkt);
}

/* Send to @p next_hop, resolving it first when needed. */
void pn_neigh_output(struct pn_stack *st, struct pn_pkt *pkt, uint32_t next_hop)
{
	struct pn_arp_entry *e = arp_find(st, next_hop);

	if (pn_likely(e && e->resolved)) {
		pn_eth_output(st, pkt, e->mac, PN_ETH_P_IPV4);
		return;
	}
	if (e == NULL) {
		e = arp_slot(st, next_hop);
		if (e == NULL) {
			st->stats.arp_unresolved_drops++;
			pn_pkt_free(pkt);
			return;
		}
		e->expires = st->now_ms + PN_ARP_RETRY_MS;
		arp_send(st, 1, (const uint8_t[6]){ 0 }, next_hop, pn_bcast_mac);
		pn_timer_arm(&st->wheel, &st->arp_timer, st->now_ms + PN_ARP_RETRY_MS);
	}
	if (e->nr_pending >= PN_ARP_PENDING) {
		st->stats.arp_unresolved_drops++;
		pn_pkt_free(pkt);
		return;
	}
	pkt->next = e->pending; /* order among held frames does not matter to TCP */
	e->pending = pkt;
	e->nr_pending++;
}

