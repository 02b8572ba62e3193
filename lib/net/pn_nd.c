/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Neighbour discovery (RFC 4861) for the neighbour layer: solicitations to
 * a target's solicited-node group, advertisements answering those for our
 * address, and duplicate address detection for it (RFC 4862 5.4: one
 * solicitation from the unspecified address; no answer in a second and
 * the address is ours). Routers are not discovered: the gateway is
 * configured.
 */
#include <arpa/inet.h>
#include <string.h>

#include "pn_log.h"
#include "pn_net_priv.h"

#define DAD_WAIT_MS 1000 /* RetransTimer */

static void nd_checksum(struct pn_icmp6_hdr *h, uint32_t len, const struct pn_addr *src,
			const struct pn_addr *dst)
{
	h->csum = 0;
	h->csum = pn_csum_fold(pn_csum_add(pn_csum_pseudo6(src->b, dst->b, PN_IPPROTO_ICMPV6, len),
					   h, len));
}

void pn_nd_solicit(struct pn_stack *st, const struct pn_addr *target, bool dad)
{
	static const struct pn_addr unspecified;
	uint32_t len = sizeof(struct pn_nd_msg) + (dad ? 0 : 8);
	struct pn_addr group = pn_ip6_solicited_node(target);
	struct pn_pkt *pkt;
	struct pn_nd_msg *m = pn_stack_pkt_put(st, len, &pkt);
	const struct pn_addr *src = dad ? &unspecified : &st->ip6;

	if (m == NULL)
		return;
	memset(m, 0, len);
	m->h.type = PN_ND_NEIGHBOR_SOLICIT;
	memcpy(m->target, target->b, 16);
	if (!dad) { /* our link-layer address, so the answer needs no lookup */
		uint8_t *o = (uint8_t *)(m + 1);

		o[0] = PN_ND_OPT_SRC_LLADDR;
		o[1] = 1;
		memcpy(o + 2, st->mac, 6);
	}
	nd_checksum(&m->h, len, src, &group);
	st->stats.nd_tx_solicit++;
	pn_ip6_output_mcast(st, pkt, PN_IPPROTO_ICMPV6, src, &group);
}

static void nd_advertise(struct pn_stack *st, const struct pn_addr *to, const uint8_t *mac,
			 uint8_t flags)
{
	uint32_t len = sizeof(struct pn_nd_msg) + 8;
	struct pn_pkt *pkt;
	struct pn_nd_msg *m = pn_stack_pkt_put(st, len, &pkt);
	uint8_t *o;

	if (m == NULL)
		return;
	memset(m, 0, len);
	m->h.type = PN_ND_NEIGHBOR_ADVERT;
	m->h.data = htonl((uint32_t)flags << 24);
	memcpy(m->target, st->ip6.b, 16);
	o = (uint8_t *)(m + 1);
	o[0] = PN_ND_OPT_TGT_LLADDR;
	o[1] = 1;
	memcpy(o + 2, st->mac, 6);
	nd_checksum(&m->h, len, &st->ip6, to ? to : &pn_ip6_all_nodes);
	st->stats.nd_tx_advert++;
	if (to)
		pn_ip6_output_to_mac(st, pkt, PN_IPPROTO_ICMPV6, to, mac);
	else
		pn_ip6_output_mcast(st, pkt, PN_IPPROTO_ICMPV6, &st->ip6, &pn_ip6_all_nodes);
}

static void dad_conflict(struct pn_stack *st)
{
	char b[PN_ADDR_STRLEN];

	st->stats.nd_dad_conflicts++;
	if (st->ip6_tentative) {
		st->ip6_tentative = false;
		st->ip6_duplicate = true;
		pn_group_ip6_duplicate(st); /* no member may use it */
		pn_timer_cancel(&st->dad_timer);
		pn_log(PN_LOG_WARNING, "net", "IPv6 address %s is in use by another node: not used",
		       pn_addr_str(&st->ip6, b));
	}
}

void pn_nd_dad_start(struct pn_stack *st)
{
	st->ip6_tentative = true;
	st->ip6_duplicate = false;
	pn_nd_solicit(st, &st->ip6, true);
	pn_timer_arm(&st->wheel, &st->dad_timer, st->now_ms + DAD_WAIT_MS);
}

void pn_nd_dad_timer_fn(struct pn_timer *t)
{
	struct pn_stack *st = pn_container_of(t, struct pn_stack, dad_timer);

	if (st->ip6_tentative)
		st->ip6_tentative = false; /* nobody objected: the address is ours */
}

void pn_nd_input(struct pn_stack *st, struct pn_pkt *pkt, const struct pn_l3_info *l3)
{
	const struct pn_nd_msg *m;
	const uint8_t *o, *lladdr = NULL;
	struct pn_addr target;
	uint32_t len = pkt->pkt_len, olen;
	uint8_t want;

	/* RFC 4861 7.1: from this link only (hop limit 255), code 0, whole */
	if (l3->ttl != 255 || len < sizeof(*m) || pn_pkt_may_pull(pkt, len) != 0) {
		st->stats.nd_bad++;
		goto out;
	}
	m = (const struct pn_nd_msg *)pn_pkt_data(pkt);
	if (m->h.code != 0 || m->target[0] == 0xff) {
		st->stats.nd_bad++;
		goto out;
	}
	memcpy(target.b, m->target, 16);
	want = m->h.type == PN_ND_NEIGHBOR_SOLICIT ? PN_ND_OPT_SRC_LLADDR : PN_ND_OPT_TGT_LLADDR;
	for (o = (const uint8_t *)(m + 1), olen = len - (uint32_t)sizeof(*m); olen;) {
		if (olen < 8 || o[1] == 0 || o[1] * 8u > olen) {
			st->stats.nd_bad++; /* a length of 0 would loop (RFC 4861 4.6) */
			goto out;
		}
		if (o[0] == want && o[1] == 1)
			lladdr = o + 2;
		olen -= o[1] * 8u;
		o += o[1] * 8u;
	}
	if (m->h.type == PN_ND_NEIGHBOR_SOLICIT) {
		bool from_dad = pn_addr_is_zero(&l3->src);

		st->stats.nd_rx_solicit++;
		if (!pn_addr_eq(&target, &st->ip6))
			goto out;
		if (st->ip6_tentative) {
			if (from_dad)
				dad_conflict(st); /* another node tries our address too */
			goto out;
		}
		if (st->ip6_duplicate)
			goto out;
		if (from_dad) {
			if (lladdr == NULL) /* a DAD probe for an address we hold */
				nd_advertise(st, NULL, NULL, PN_ND_NA_OVERRIDE);
			goto out;
		}
		if (lladdr == NULL) {
			st->stats.nd_bad++; /* we would not know where to answer */
			goto out;
		}
		pn_neigh_learn(st, &l3->src, lladdr, true);
		nd_advertise(st, &l3->src, lladdr, PN_ND_NA_SOLICITED | PN_ND_NA_OVERRIDE);
	} else {
		st->stats.nd_rx_advert++;
		if (pn_addr_eq(&target, &st->ip6)) {
			dad_conflict(st);
			goto out;
		}
		if (lladdr)
			pn_neigh_learn_answer(st, &target, lladdr);
	}
out:
	pn_pkt_free(pkt);
}
