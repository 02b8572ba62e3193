/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IPv6 (RFC 8200): input (header checks; our address, its solicited-node
 * group and all-nodes; extension headers followed; then the L4 protocol
 * registered for the last next header) and output (on-link prefix or
 * gateway, through the neighbour layer; in pieces when longer than the
 * MTU).
 *
 * Extension headers, as RFC 8200 4 asks of a host: hop-by-hop options
 * only first, their options and destination options skipped when their
 * type allows it; a routing header with no segments left is skipped, one
 * with segments left dropped (we route nothing, and RFC 5095 retired type
 * 0); fragments reassembled (pn_ip_frag.c), an atomic fragment (RFC 6946)
 * taken as it is; ESP and AH dropped. At most 8 headers, every drop
 * counted.
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

/* @p pkt (data at the L4 header) is longer than the MTU allows: sent in
 * pieces, each with a fragment header (RFC 8200 4.5); the rare path (an
 * echo reply to a large ping), so the pieces are copies. Takes @p pkt. */
static int fragment_output(struct pn_stack *st, struct pn_pkt *pkt, uint8_t proto,
			   const struct pn_addr *dst, const struct pn_addr *nh)
{
	uint32_t total = pkt->pkt_len, id = htonl(st->ip6_frag_id++);
	uint32_t step = ((uint32_t)st->mtu - PN_IPV6_HLEN - sizeof(struct pn_ipv6_frag_hdr)) & ~7u;
	int rc = 0;

	for (uint32_t off = 0; off < total; off += step) {
		uint32_t n = PN_MIN(step, total - off);
		struct pn_ipv6_frag_hdr *fh;
		struct pn_pkt *f;

		fh = pn_stack_pkt_put(st, (uint32_t)sizeof(*fh) + n, &f);
		if (fh == NULL) {
			rc = -ENOMEM;
			break;
		}
		fh->next = proto;
		fh->reserved = 0;
		fh->frag_off = htons((uint16_t)(off | (off + n < total ? 1u : 0u)));
		fh->id = id;
		pn_pkt_copy_bits(pkt, off, fh + 1, n);
		if (push_hdr(f, PN_IPV6_NH_FRAGMENT, 64, &st->ip6, dst) == NULL) {
			pn_pkt_free(f);
			rc = -ENOMEM;
			break;
		}
		st->stats.ip6_frags_out++;
		pn_neigh_output(st, f, nh);
	}
	pn_pkt_free(pkt);
	return rc;
}

int pn_ip6_output(struct pn_stack *st, struct pn_pkt *pkt, uint8_t proto, const struct pn_addr *dst)
{
	const struct pn_addr *nh = dst;

	if (pn_unlikely(!st->ip6_on || st->ip6_tentative || !pn_l3_is_host(st, dst))) {
		st->stats.tx_bad_dst++;
		pn_pkt_free(pkt);
		return -EADDRNOTAVAIL;
	}
	if (!on_link(st, dst) && !pn_addr_is_zero(&st->gateway6))
		nh = &st->gateway6;
	if (pn_unlikely(pkt->pkt_len + PN_IPV6_HLEN > st->mtu)) {
		if (pkt->pkt_len <= 65535 - sizeof(struct pn_ipv6_frag_hdr))
			return fragment_output(st, pkt, proto, dst, nh);
		st->stats.tx_oversize++;
		pn_pkt_free(pkt);
		return -EMSGSIZE;
	}
	if (pn_unlikely(push_hdr(pkt, proto, 64, &st->ip6, dst) == NULL)) {
		st->stats.tx_oversize++;
		pn_pkt_free(pkt);
		return -EMSGSIZE;
	}
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

/* The options of a hop-by-hop or destination options header (RFC 8200
 * 4.2), @p len bytes at @p p: Pad1, PadN and every option whose type's top
 * two bits say skip are skipped. @return 0: go on; 1: an option says
 * discard; -1: malformed. */
static int options_check(const uint8_t *p, uint32_t len)
{
	for (uint32_t i = 2; i < len;) {
		uint8_t type = p[i];

		if (type == 0) { /* Pad1 */
			i++;
			continue;
		}
		if (i + 2 > len || i + 2u + p[i + 1] > len)
			return -1;
		if (type >> 6)
			return 1; /* not one we know, and not to be skipped */
		i += 2u + p[i + 1];
	}
	return 0;
}

/* Step over the extension headers in front of the L4 header (data at the
 * first of them, l3->proto its type), reassembling fragments. @return the
 * packet at the L4 header, l3->proto its protocol; or NULL: kept for
 * reassembly, or dropped and counted. */
static struct pn_pkt *ext_headers(struct pn_stack *st, struct pn_pkt *pkt, struct pn_l3_info *l3)
{
	for (unsigned n = 0;; n++) {
		const uint8_t *p;
		uint32_t len;
		int rc;

		switch (l3->proto) {
		case PN_IPV6_NH_HOPOPTS:
		case PN_IPV6_NH_DSTOPTS:
		case PN_IPV6_NH_ROUTING:
			if (n >= 8 || (l3->proto == PN_IPV6_NH_HOPOPTS && n != 0) ||
			    pn_pkt_may_pull(pkt, 2) != 0)
				goto bad;
			len = (((const uint8_t *)pn_pkt_data(pkt))[1] + 1u) * 8u;
			if (pn_pkt_may_pull(pkt, len) != 0)
				goto bad;
			p = pn_pkt_data(pkt);
			rc = l3->proto == PN_IPV6_NH_ROUTING ? (p[3] != 0) : options_check(p, len);
			if (rc < 0)
				goto bad;
			if (rc > 0)
				goto ext_drop;
			l3->proto = p[0];
			pn_pkt_pull(pkt, len);
			break;
		case PN_IPV6_NH_FRAGMENT: {
			const struct pn_ipv6_frag_hdr *fh;

			if (n >= 8 || pn_pkt_may_pull(pkt, sizeof(*fh)) != 0)
				goto bad;
			fh = (const struct pn_ipv6_frag_hdr *)pn_pkt_data(pkt);
			if ((ntohs(fh->frag_off) & ~6u) == 0) { /* atomic: whole already */
				l3->proto = fh->next;
				pn_pkt_pull(pkt, sizeof(*fh));
				break;
			}
			pkt = pn_ipv6_reasm(st, pkt, l3);
			if (pkt == NULL)
				return NULL;
			break; /* the whole datagram: on from the first piece's next header */
		}
		case PN_IPV6_NH_ESP:
		case PN_IPV6_NH_AH:
		case PN_IPV6_NH_NONE:
			goto ext_drop;
		default:
			return pkt;
		}
	}
bad:
	st->stats.ip6_bad_header++;
	pn_pkt_free(pkt);
	return NULL;
ext_drop:
	st->stats.ip6_ext_dropped++;
	pn_pkt_free(pkt);
	return NULL;
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
	if (pn_pkt_trim(pkt, PN_IPV6_HLEN + plen) != 0) {
		st->stats.rx_nomem++;
		goto drop;
	}
	pn_pkt_pull(pkt, PN_IPV6_HLEN);
	pkt = ext_headers(st, pkt, &l3);
	if (pkt == NULL)
		return;
	if (st->ip6_tentative && l3.proto != PN_IPPROTO_ICMPV6) {
		st->stats.ip_not_ours++; /* RFC 4862 5.4: nothing but ND yet */
		goto drop;
	}
	l3.l4_len = (uint16_t)pkt->pkt_len;
	if (pn_likely(pn_stack_l4_deliver(st, pkt, &l3)))
		return;
	st->stats.ip_bad_proto++;
drop:
	pn_pkt_free(pkt);
}
