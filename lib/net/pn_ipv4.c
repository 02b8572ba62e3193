/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IPv4 (RFC 791): address parsing, which addresses a host may have, input
 * (header checks, then the L4 protocol registered for it) and output.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pn_net_priv.h"

int pn_ip_parse(const char *s, uint32_t *ip, uint8_t *prefix_len)
{
	char buf[32];
	const char *slash = strchr(s, '/');
	struct in_addr a;
	size_t n = slash ? (size_t)(slash - s) : strlen(s);

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = 0;
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -EINVAL;
	*ip = ntohl(a.s_addr);
	if (slash) {
		char *end;
		long len = strtol(slash + 1, &end, 10);

		if (*end || end == slash + 1 || len < 1 || len > 32 || prefix_len == NULL)
			return -EINVAL;
		*prefix_len = (uint8_t)len;
	}
	return 0;
}

int pn_addr_parse(const char *s, struct pn_addr *a, uint8_t *prefix_len)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	struct in6_addr a6;
	uint32_t v4;

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (strchr(buf, ':') == NULL)
		return pn_ip_parse(s, &v4, prefix_len) == 0 ? (*a = pn_addr_v4(v4), 0) : -EINVAL;
	if (inet_pton(AF_INET6, buf, &a6) != 1)
		return -EINVAL;
	memcpy(a->b, &a6, 16);
	if (slash) {
		char *end;
		long len = strtol(slash + 1, &end, 10);

		if (*end || end == slash + 1 || len < 1 || len > 128 || prefix_len == NULL)
			return -EINVAL;
		*prefix_len = (uint8_t)len;
	}
	return 0;
}

const char *pn_addr_str(const struct pn_addr *a, char *buf)
{
	if (pn_addr_is_v4(a))
		return pn_ip_str(pn_addr_v4_host(a), buf);
	if (inet_ntop(AF_INET6, a->b, buf, PN_ADDR_STRLEN) == NULL)
		snprintf(buf, PN_ADDR_STRLEN, "?");
	return buf;
}

const char *pn_ip_str(uint32_t ip, char *buf)
{
	snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
	return buf;
}

/* A host's own address: none of 0/8 ("this network", and 0.0.0.0 also
 * marks a free ARP slot, so a frame held for it was never sent nor freed:
 * found by fuzz_stack), 127/8, multicast and class E, the limited
 * broadcast, or this subnet's broadcast. */
bool pn_ip_is_host(const struct pn_stack *st, uint32_t a)
{
	uint8_t top = (uint8_t)(a >> 24);

	if (top == 0 || top == 127 || top >= 224)
		return false;
	return ~st->mask <= 1 || (a & ~st->mask) != ~st->mask || /* /31, /32: no broadcast */
	       (a & st->mask) != (st->ip & st->mask);
}

int pn_ip_output(struct pn_stack *st, struct pn_pkt *pkt, uint8_t proto, uint32_t dst_ip)
{
	struct pn_ipv4_hdr *ip = (struct pn_ipv4_hdr *)pn_pkt_push(pkt, sizeof(*ip));
	uint32_t next_hop = dst_ip;

	if (pn_unlikely(!pn_ip_is_host(st, dst_ip))) {
		st->stats.tx_bad_dst++;
		pn_pkt_free(pkt);
		return -EADDRNOTAVAIL;
	}
	if (pn_unlikely(ip == NULL || (pkt->pkt_len > st->mtu && proto == PN_IPPROTO_TCP) ||
			pkt->pkt_len > 65535)) {
		st->stats.tx_oversize++;
		pn_pkt_free(pkt);
		return -EMSGSIZE;
	}
	ip->ver_ihl = 0x45;
	ip->tos = 0;
	ip->tot_len = htons((uint16_t)pkt->pkt_len);
	ip->id = htons(st->ip_id++);
	ip->frag_off = htons(0x4000); /* DF */
	ip->ttl = 64;
	ip->proto = proto;
	ip->csum = 0;
	ip->saddr = htonl(st->ip);
	ip->daddr = htonl(dst_ip);
	ip->csum = pn_csum(ip, sizeof(*ip));
	if ((dst_ip & st->mask) != (st->ip & st->mask) && st->gateway)
		next_hop = st->gateway;
	if (pn_unlikely(pkt->pkt_len > st->mtu)) {
		/* an echo reply to a ping that came in pieces goes in pieces */
		ip->frag_off = 0;
		ip->csum = 0;
		ip->csum = pn_csum(ip, sizeof(*ip));
		return pn_ipv4_fragment_output(st, pkt, next_hop);
	}
	{
		struct pn_addr nh = pn_addr_v4(next_hop);

		pn_neigh_output(st, pkt, &nh);
	}
	return 0;
}

void pn_ipv4_input(struct pn_stack *st, struct pn_pkt *pkt)
{
	const struct pn_ipv4_hdr *iph;
	struct pn_ipv4_hdr *ip;
	struct pn_l3_info l3;
	uint32_t len = pkt->len, hlen, tot;

	st->stats.ip_rx++;
	/* the header may be split across the fragments of a header-split or
	 * multi-buffer frame: pull it into the linear part first */
	if (pn_pkt_may_pull(pkt, sizeof(*ip)) != 0) {
		st->stats.ip_bad_header++;
		goto drop;
	}
	ip = (struct pn_ipv4_hdr *)pn_pkt_data(pkt);
	if ((ip->ver_ihl >> 4) != 4 || (hlen = (ip->ver_ihl & 15u) * 4u) < sizeof(*ip) ||
	    hlen > len || (tot = ntohs(ip->tot_len)) < hlen || tot > len ||
	    pn_pkt_may_pull(pkt, hlen) != 0) {
		st->stats.ip_bad_header++;
		goto drop;
	}
	ip = (struct pn_ipv4_hdr *)pn_pkt_data(pkt);
	if (pn_csum(ip, hlen) != 0) {
		st->stats.ip_bad_csum++;
		goto drop;
	}
	if (ntohl(ip->daddr) != st->ip) {
		st->stats.ip_not_ours++;
		goto drop;
	}
	/* nothing may be answered to such a source (RFC 1122 3.2.1.3) */
	if (!pn_ip_is_host(st, ntohl(ip->saddr))) {
		st->stats.ip_bad_src++;
		goto drop;
	}
	/* Ethernet padding goes; trimming may unshare, so find the header again */
	if (pn_pkt_trim(pkt, tot) != 0) {
		st->stats.rx_nomem++;
		goto drop;
	}
	if (ntohs(((const struct pn_ipv4_hdr *)pn_pkt_data(pkt))->frag_off) &
	    (PN_IPV4_MF | PN_IPV4_OFFMASK)) {
		pkt = pn_ipv4_reasm(st, pkt, hlen, &l3);
		if (pkt == NULL)
			return; /* kept for later, or dropped and counted */
		if (pn_likely(pn_stack_l4_deliver(st, pkt, &l3)))
			return;
		st->stats.ip_bad_proto++;
		goto drop;
	}
	/* L4 gets what it needs of the header as values: pulling its own
	 * header up may move the packet's data to another buffer */
	iph = (const struct pn_ipv4_hdr *)pn_pkt_data(pkt);
	l3.src = pn_addr_v4(ntohl(iph->saddr));
	l3.dst = pn_addr_v4(ntohl(iph->daddr));
	l3.family = 4;
	l3.proto = iph->proto;
	l3.ttl = iph->ttl;
	l3.l4_len = (uint16_t)(tot - hlen);
	pn_pkt_pull(pkt, hlen);
	if (pn_likely(pn_stack_l4_deliver(st, pkt, &l3)))
		return;
	st->stats.ip_bad_proto++;
drop:
	pn_pkt_free(pkt);
}

