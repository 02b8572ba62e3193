/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ICMPv6 (RFC 4443): echo requests answered in their own buffer, echo
 * requests sent, neighbour discovery handed to pn_nd.c, the rest counted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "pn_net_priv.h"

static void icmp6_input(struct pn_stack *st, struct pn_pkt *pkt, const struct pn_l3_info *l3,
			void *priv)
{
	struct pn_icmp6_hdr *ic;
	uint32_t len = pkt->pkt_len;

	(void)priv;
	if (pn_pkt_may_pull(pkt, sizeof(*ic)) != 0 ||
	    pn_csum_fold(pn_pkt_csum_add(pkt, 0, len, pn_l3_pseudo(l3, (uint16_t)len))) != 0) {
		st->stats.icmp6_bad++;
		goto drop;
	}
	ic = (struct pn_icmp6_hdr *)pn_pkt_data(pkt);
	switch (ic->type) {
	case PN_ND_NEIGHBOR_SOLICIT:
	case PN_ND_NEIGHBOR_ADVERT:
		pn_nd_input(st, pkt, l3);
		return;
	case PN_ICMP6_ECHO_REPLY:
		st->stats.icmp6_echo_replies++;
		st->echo_replies_seen++;
		goto drop;
	case PN_ICMP6_ECHO_REQUEST:
		break;
	default:
		st->stats.icmp6_other++;
		goto drop;
	}
	/* an echo to a group (all-nodes) is not answered here */
	if (ic->code != 0 || !pn_addr_eq(&l3->dst, &st->ip6)) {
		st->stats.icmp6_other++;
		goto drop;
	}
	st->stats.icmp6_echo_requests++;
	if (pn_pkt_unshare(pkt) != 0) {
		st->stats.tx_nomem++;
		goto drop;
	}
	/* type 128 -> 129; the pseudo header's sum is the same both ways */
	ic = (struct pn_icmp6_hdr *)pn_pkt_data(pkt);
	ic->csum = pn_csum_replace16(ic->csum, htons(PN_ICMP6_ECHO_REQUEST << 8),
				     htons(PN_ICMP6_ECHO_REPLY << 8));
	ic->type = PN_ICMP6_ECHO_REPLY;
	pn_ip6_output(st, pkt, PN_IPPROTO_ICMPV6, &l3->src);
	return;
drop:
	pn_pkt_free(pkt);
}

int pn_icmp6_echo(struct pn_stack *st, const struct pn_addr *dst, uint16_t id, uint16_t seq,
		  const void *data, size_t len)
{
	struct pn_pkt *pkt;
	struct pn_icmp6_hdr *ic;

	if (pn_addr_is_v4(dst))
		return -EAFNOSUPPORT;
	if (len + sizeof(*ic) > pn_stack_l4_room_to(st, dst))
		return -EMSGSIZE;
	ic = pn_stack_pkt_put(st, (uint32_t)(sizeof(*ic) + len), &pkt);
	if (ic == NULL)
		return -ENOMEM;
	ic->type = PN_ICMP6_ECHO_REQUEST;
	ic->code = 0;
	ic->data = htonl((uint32_t)id << 16 | seq);
	memcpy(ic + 1, data, len);
	ic->csum = 0;
	ic->csum = pn_csum_fold(pn_csum_add(pn_l3_pseudo_to(st, dst, PN_IPPROTO_ICMPV6,
							    (uint16_t)(sizeof(*ic) + len)),
					    ic, sizeof(*ic) + len));
	return pn_ip6_output(st, pkt, PN_IPPROTO_ICMPV6, dst);
}

const struct pn_l4_proto pn_icmp6_proto = {
	.name = "icmp6",
	.proto = PN_IPPROTO_ICMPV6,
	.input = icmp6_input,
};
