/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The neighbour layer, one table for both families: an IP address to its
 * MAC, frames held while an address is resolved, retries and ageing on the
 * stack's timer wheel. Resolution is the family's: ARP (pn_arp.c) for
 * IPv4, neighbour solicitation (pn_nd.c) for IPv6.
 */
#include <arpa/inet.h>
#include <string.h>

#include "pn_net_priv.h"

struct pn_neigh *pn_neigh_find(struct pn_stack *st, const struct pn_addr *a)
{
	for (unsigned i = 0; i < PN_NEIGH_ENTRIES; i++)
		if (st->neigh[i].used && pn_addr_eq(&st->neigh[i].addr, a))
			return &st->neigh[i];
	return NULL;
}

void pn_neigh_drop_pending(struct pn_stack *st, struct pn_neigh *e)
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
 * A slot for @p a: a free one, else an unresolved one (oldest retry
 * first), else the resolved one that expires first. Unresolved entries
 * must be evictable: a flood from addresses nobody answers for would
 * otherwise fill the table and leave no room to learn real neighbours
 * (found by the SYN flood test; Linux's neighbour GC drops incomplete
 * entries first too).
 */
static struct pn_neigh *neigh_slot(struct pn_stack *st, const struct pn_addr *a)
{
	struct pn_neigh *victim = NULL;

	for (unsigned i = 0; i < PN_NEIGH_ENTRIES; i++) {
		struct pn_neigh *e = &st->neigh[i];

		if (!e->used) {
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
	if (victim->used)
		st->stats.arp_evicted++;
	pn_neigh_drop_pending(st, victim);
	memset(victim, 0, sizeof(*victim));
	victim->used = true;
	victim->addr = *a;
	return victim;
}

static uint16_t neigh_ethertype(const struct pn_neigh *e)
{
	return pn_addr_is_v4(&e->addr) ? PN_ETH_P_IPV4 : PN_ETH_P_IPV6;
}

static void solicit(struct pn_stack *st, const struct pn_neigh *e)
{
	if (pn_addr_is_v4(&e->addr))
		pn_arp_request(st, pn_addr_v4_host(&e->addr));
	else
		pn_nd_solicit(st, &e->addr, false);
}

static void neigh_resolved(struct pn_stack *st, struct pn_neigh *e, const uint8_t mac[6])
{
	memcpy(e->mac, mac, 6);
	e->resolved = true;
	e->expires = st->now_ms + PN_NEIGH_TTL_MS;
	while (e->pending) {
		struct pn_pkt *p = e->pending;

		e->pending = p->next;
		p->next = NULL;
		pn_eth_output(st, p, e->mac, neigh_ethertype(e));
	}
	e->nr_pending = 0;
}

void pn_neigh_learn(struct pn_stack *st, const struct pn_addr *a, const uint8_t mac[6],
		    bool create)
{
	struct pn_neigh *e = pn_neigh_find(st, a);

	if (e == NULL && create)
		e = neigh_slot(st, a);
	if (e == NULL)
		return;
	/* what we take for ourselves, the other members of a group may need:
	 * the answer to their question can land on our queue */
	if (st->group)
		pn_group_neigh_publish(st, a, mac);
	neigh_resolved(st, e, mac);
}

void pn_neigh_learn_answer(struct pn_stack *st, const struct pn_addr *a, const uint8_t mac[6])
{
	struct pn_neigh *e = pn_neigh_find(st, a);

	if (st->group)
		pn_group_neigh_publish(st, a, mac);
	if (e)
		neigh_resolved(st, e, mac);
}

/* An entry of ours another member of the group has the answer for. */
static bool neigh_from_group(struct pn_stack *st, struct pn_neigh *e)
{
	uint8_t mac[6];

	if (!pn_group_neigh_lookup(st, &e->addr, mac))
		return false;
	st->stats.neigh_from_group++;
	neigh_resolved(st, e, mac);
	return true;
}

void pn_group_neigh_sync(struct pn_stack *st)
{
	uint64_t gen = pn_group_neigh_gen(st->group);

	if (pn_likely(gen == st->neigh_gen_seen))
		return;
	st->neigh_gen_seen = gen;
	for (unsigned i = 0; i < PN_NEIGH_ENTRIES; i++)
		if (st->neigh[i].used && !st->neigh[i].resolved)
			neigh_from_group(st, &st->neigh[i]);
}

void pn_neigh_timer_fn(struct pn_timer *t)
{
	struct pn_stack *st = pn_container_of(t, struct pn_stack, neigh_timer);
	bool again = false;

	for (unsigned i = 0; i < PN_NEIGH_ENTRIES; i++) {
		struct pn_neigh *e = &st->neigh[i];

		if (!e->used || e->expires > st->now_ms) {
			again |= e->used && !e->resolved;
			continue;
		}
		if (e->resolved) {
			memset(e, 0, sizeof(*e)); /* aged out: asked again when used */
		} else if (st->group && neigh_from_group(st, e)) {
			continue;
		} else if (e->tries >= PN_NEIGH_RETRIES) {
			pn_neigh_drop_pending(st, e);
			memset(e, 0, sizeof(*e));
		} else {
			e->tries++;
			e->expires = st->now_ms + PN_NEIGH_RETRY_MS;
			solicit(st, e);
			again = true;
		}
	}
	if (again)
		pn_timer_arm(&st->wheel, &st->neigh_timer, st->now_ms + PN_NEIGH_RETRY_MS);
	else
		pn_timer_arm(&st->wheel, &st->neigh_timer, st->now_ms + PN_NEIGH_TTL_MS / 4);
}

void pn_neigh_output(struct pn_stack *st, struct pn_pkt *pkt, const struct pn_addr *next_hop)
{
	struct pn_neigh *e = pn_neigh_find(st, next_hop);

	if (pn_likely(e && e->resolved)) {
		pn_eth_output(st, pkt, e->mac, neigh_ethertype(e));
		return;
	}
	if (e == NULL) {
		e = neigh_slot(st, next_hop);
		if (e == NULL) {
			st->stats.arp_unresolved_drops++;
			pn_pkt_free(pkt);
			return;
		}
		if (st->group && neigh_from_group(st, e)) {
			pn_eth_output(st, pkt, e->mac, neigh_ethertype(e));
			return;
		}
		e->expires = st->now_ms + PN_NEIGH_RETRY_MS;
		solicit(st, e);
		pn_timer_arm(&st->wheel, &st->neigh_timer, st->now_ms + PN_NEIGH_RETRY_MS);
	}
	if (e->nr_pending >= PN_NEIGH_PENDING) {
		st->stats.arp_unresolved_drops++;
		pn_pkt_free(pkt);
		return;
	}
	pkt->next = e->pending; /* order among held frames does not matter to TCP */
	e->pending = pkt;
	e->nr_pending++;
}

void pn_neigh_flush(struct pn_stack *st)
{
	for (unsigned i = 0; i < PN_NEIGH_ENTRIES; i++)
		pn_neigh_drop_pending(st, &st->neigh[i]);
	pn_timer_cancel(&st->neigh_timer);
}
