/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * UDP (RFC 768): up to 16 bound ports, each with a callback that owns
 * the datagram; sending copies into one packet.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "pn_net_priv.h"

static void udp_input(struct pn_stack *st, struct pn_pkt *pkt, const struct pn_l3_info *l3,
		      void *priv)
{
	struct pn_udp_hdr *uh;
	uint32_t len = pkt->len;
	uint16_t ulen, dport;

	(void)priv;

	if (pn_pkt_may_pull(pkt, sizeof(*uh)) != 0 ||
	    (ulen = ntohs(((struct pn_udp_hdr *)pn_pkt_data(pkt))->len)) < sizeof(*uh) ||
	    ulen > len) {
		st->stats.udp_bad++;
		pn_pkt_free(pkt);
		return;
	}
	uh = (struct pn_udp_hdr *)pn_pkt_data(pkt);
	if ((uh->csum != 0 || l3->family == 6) &&
	    pn_csum_fold(pn_pkt_csum_add(pkt, 0, ulen,
			 pn_l3_pseudo(l3, ulen))) != 0) {
		st->stats.udp_bad++;
		pn_pkt_free(pkt);
		return;
	}
	st->stats.udp_rx++;
	dport = ntohs(uh->dport);
	/* port 0 is what a free binding slot says: never a destination (a
	 * datagram to it reached a NULL callback; found by fuzz_stack) */
	for (unsigned i = 0; dport != 0 && i < PN_UDP_BINDS; i++) {
		if (st->udp[i].port == dport) {
			uint16_t sport = ntohs(uh->sport);

			pn_pkt_trim(pkt, ulen);
			pn_pkt_pull(pkt, sizeof(*uh));
			st->udp[i].cb(st, pkt, &l3->src, sport, dport, st->udp[i].arg);
			return;
		}
	}
	st->stats.udp_no_port++;
	pn_pkt_free(pkt);
}

int pn_udp_bind(struct pn_stack *st, uint16_t port, pn_udp_recv_cb cb, void *arg)
{
	int free_slot = -1;

	if (port == 0 || cb == NULL)
		return -EINVAL;
	for (unsigned i = 0; i < PN_UDP_BINDS; i++) {
		if (st->udp[i].port == port)
			return -EADDRINUSE;
		if (st->udp[i].port == 0 && free_slot < 0)
			free_slot = (int)i;
	}
	if (free_slot < 0)
		return -ENOSPC;
	st->udp[free_slot] = (struct pn_udp_bind){ port, cb, arg };
	return 0;
}

int pn_udp_unbind(struct pn_stack *st, uint16_t port)
{
	for (unsigned i = 0; i < PN_UDP_BINDS; i++) {
		if (st->udp[i].port == port) {
			st->udp[i].port = 0;
			return 0;
		}
	}
	return -ENOENT;
}

int pn_udp_send(struct pn_stack *st, uint32_t dst_ip, uint16_t dst_port,
		uint16_t src_port, const void *data, size_t len)
{
	struct pn_addr dst = pn_addr_v4(dst_ip);

	return pn_udp_send_addr(st, &dst, dst_port, src_port, data, len);
}

int pn_udp_send_addr(struct pn_stack *st, const struct pn_addr *dst, uint16_t dst_port,
		     uint16_t src_port, const void *data, size_t len)
{
	struct pn_pkt *pkt;
	struct pn_udp_hdr *uh;
	uint16_t ulen;
	uint16_t csum;

	if (len + sizeof(*uh) > pn_stack_l4_room_to(st, dst))
		return -EMSGSIZE;
	ulen = (uint16_t)(len + sizeof(*uh));
	uh = pn_stack_pkt_put(st, ulen, &pkt);
	if (uh == NULL)
		return -ENOMEM;
	uh->sport = htons(src_port);
	uh->dport = htons(dst_port);
	uh->len = htons(ulen);
	uh->csum = 0;
	memcpy(uh + 1, data, len);
	csum = pn_csum_fold(pn_csum_add(pn_l3_pseudo_to(st, dst, PN_IPPROTO_UDP, ulen), uh, ulen));
	uh->csum = csum ? csum : 0xffff; /* IPv6 requires a sum (RFC 8200 8.1) */
	return pn_l3_output(st, pkt, PN_IPPROTO_UDP, dst);
}

const struct pn_l4_proto pn_udp_proto = {
	.name = "udp",
	.proto = PN_IPPROTO_UDP,
	.input = udp_input,
};
