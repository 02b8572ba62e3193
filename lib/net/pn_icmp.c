/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ICMP (RFC 792): echo requests answered in their own buffer, echo
 * requests sent, everything else counted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "pn_net_priv.h"

static void icmp_input(struct pn_stack *st, struct pn_pkt *pkt, const struct pn_l3_info *l3,
		       void *priv)
{
	struct pn_icmp_hdr *ic;
	uint32_t len = pkt->len;
	uint32_t src = pn_addr_v4_host(&l3->src);

	(void)priv;

	if (pn_pkt_may_pull(pkt, sizeof(*ic)) != 0 ||
	    pn_csum_fold(pn_pkt_csum_add(pkt, 0, len, 0)) != 0) {
		st->stats.icmp_bad++;
		pn_pkt_free(pkt);
		return;
	}
	ic = (struct pn_icmp_hdr *)pn_pkt_data(pkt);
	if (ic->type == 0) {
		st->stats.icmp_echo_replies++;
		st->echo_replies_seen++;
		pn_pkt_free(pkt);
		return;
	}
	if (ic->type != 8 || ic->code != 0) {
		st->stats.icmp_other++;
		pn_pkt_free(pkt);
		return;
	}
	st->stats.icmp_echo_requests++;
	/* answer in the same buffer: type 8 -> 0 is a checksum update */
	if (pn_pkt_unshare(pkt) != 0) {
		st->stats.tx_nomem++;
		pn_pkt_free(pkt);
		return;
	}
	ic = (struct pn_icmp_hdr *)pn_pkt_data(pkt);
	ic->csum = pn_csum_replace16(ic->csum, htons(0x0800), htons(0x0000));
	ic->type = 0;
	pn_ip_output(st, pkt, PN_IPPROTO_ICMP, src);
}

int pn_icmp_echo(struct pn_stack *st, uint32_t dst_ip, uint16_t id, uint16_t seq,
		 const void *data, size_t len)
{
	struct pn_pkt *pkt;
	struct pn_icmp_hdr *ic;

	if (len + sizeof(*ic) > pn_stack_l4_room(st))
		return -EMSGSIZE;
	ic = pn_stack_pkt_put(st, (uint32_t)(sizeof(*ic) + len), &pkt);
	if (ic == NULL)
		return -ENOMEM;
	ic->type = 8;
	ic->code = 0;
	ic->csum = 0;
	ic->id = htons(id);
	ic->seq = htons(seq);
	memcpy(ic + 1, data, len);
	ic->csum = pn_csum(ic, sizeof(*ic) + len);
	return pn_ip_output(st, pkt, PN_IPPROTO_ICMP, dst_ip);
}

uint64_t pn_icmp_echo_replies_seen(const struct pn_stack *st)
{
	return st->echo_replies_seen;
}

const struct pn_l4_proto pn_icmp_proto = {
	.name = "icmp",
	.proto = PN_IPPROTO_ICMP,
	.input = icmp_input,
};
