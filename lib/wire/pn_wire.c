/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <string.h>

#include "pn_wire.h"

bool pn_tcp_opts_parse(const uint8_t *p, unsigned len, struct pn_tcp_opts *o)
{
	memset(o, 0, sizeof(*o));
	while (len > 0) {
		unsigned kind = p[0], olen;

		if (kind == PN_TCPOPT_EOL)
			break;
		if (kind == PN_TCPOPT_NOP) {
			p++;
			len--;
			continue;
		}
		if (len < 2 || (olen = p[1]) < 2 || olen > len)
			return false;
		switch (kind) {
		case PN_TCPOPT_MSS:
			if (olen == 4) {
				o->mss = (uint16_t)(p[2] << 8 | p[3]);
				o->has_mss = true;
			}
			break;
		case PN_TCPOPT_WS:
			if (olen == 3) {
				o->ws = p[2] < 14 ? p[2] : 14;
				o->has_ws = true;
			}
			break;
		case PN_TCPOPT_SACKP:
			o->sackp = olen == 2;
			break;
		case PN_TCPOPT_SACK:
			for (unsigned b = 0; b + 8 <= olen - 2u && o->nr_sack < PN_TCP_MAX_SACK; b += 8) {
				uint32_t v[2];

				memcpy(v, p + 2 + b, 8);
				o->sack[o->nr_sack][0] = ntohl(v[0]);
				o->sack[o->nr_sack][1] = ntohl(v[1]);
				o->nr_sack++;
			}
			break;
		case PN_TCPOPT_TS:
			if (olen == 10) {
				uint32_t v[2];

				memcpy(v, p + 2, 8);
				o->tsval = ntohl(v[0]);
				o->tsecr = ntohl(v[1]);
				o->has_ts = true;
			}
			break;
		}
		p += olen;
		len -= olen;
	}
	return true;
}

size_t pn_wire_eth(void *buf, const uint8_t dst[PN_ETH_ALEN], const uint8_t src[PN_ETH_ALEN],
		   uint16_t type)
{
	struct pn_eth_hdr *eth = buf;

	memcpy(eth->dst, dst, PN_ETH_ALEN);
	memcpy(eth->src, src, PN_ETH_ALEN);
	eth->type = htons(type);
	return PN_ETH_HLEN;
}

size_t pn_wire_ipv4(void *buf, uint32_t src, uint32_t dst, uint8_t proto, uint16_t id,
		    size_t payload_len)
{
	struct pn_ipv4_hdr *ip = buf;

	ip->ver_ihl = 0x45;
	ip->tos = 0;
	ip->tot_len = htons((uint16_t)(sizeof(*ip) + payload_len));
	ip->id = htons(id);
	ip->frag_off = htons(PN_IPV4_DF);
	ip->ttl = 64;
	ip->proto = proto;
	ip->csum = 0;
	ip->saddr = htonl(src);
	ip->daddr = htonl(dst);
	ip->csum = pn_csum(ip, sizeof(*ip));
	return sizeof(*ip);
}

void pn_wire_l4_csum4(void *l4, size_t len, uint32_t src, uint32_t dst, uint8_t proto)
{
	size_t off = proto == PN_IPPROTO_UDP ? 6 : 16;
	uint8_t *p = l4;
	uint16_t c;

	memset(p + off, 0, 2);
	c = pn_csum_fold(pn_csum_add(pn_csum_pseudo(htonl(src), htonl(dst), proto, (uint16_t)len),
				     p, len));
	if (c == 0 && proto == PN_IPPROTO_UDP)
		c = 0xffff;
	memcpy(p + off, &c, 2);
}

/* A UDP header (checksum 0) and @p len bytes of payload (NULL: zeros) at @p at. */
static struct pn_udp_hdr *udp_fill(void *at, uint16_t sport, uint16_t dport, const void *payload,
				   size_t len)
{
	struct pn_udp_hdr *uh = at;

	uh->sport = htons(sport);
	uh->dport = htons(dport);
	uh->len = htons((uint16_t)(sizeof(*uh) + len));
	uh->csum = 0;
	if (payload)
		memcpy(uh + 1, payload, len);
	else
		memset(uh + 1, 0, len);
	return uh;
}

size_t pn_wire_udp6_frame(void *buf, size_t room, const struct pn_wire_udp6 *spec,
			  const void *payload, size_t len)
{
	size_t l4len = sizeof(struct pn_udp_hdr) + len;
	size_t total = PN_ETH_HLEN + PN_IPV6_HLEN + l4len;
	uint8_t *f = buf;
	struct pn_ipv6_hdr *ip;
	struct pn_udp_hdr *uh;
	uint16_t c;

	if (total > room || l4len > 65535)
		return 0;
	f += pn_wire_eth(f, spec->dst_mac, spec->src_mac, PN_ETH_P_IPV6);
	ip = (struct pn_ipv6_hdr *)f;
	ip->ver_tc_flow = htonl(6u << 28);
	ip->payload_len = htons((uint16_t)l4len);
	ip->next = PN_IPPROTO_UDP;
	ip->hop_limit = 64;
	memcpy(ip->saddr, spec->src_ip, 16);
	memcpy(ip->daddr, spec->dst_ip, 16);
	uh = udp_fill(ip + 1, spec->sport, spec->dport, payload, len);
	c = pn_csum_fold(pn_csum_add(pn_csum_pseudo6(spec->src_ip, spec->dst_ip, PN_IPPROTO_UDP,
						     (uint32_t)l4len), uh, l4len));
	uh->csum = c ? c : 0xffff;
	return total;
}

size_t pn_wire_udp4_frame(void *buf, size_t room, const struct pn_wire_udp4 *spec,
			  const void *payload, size_t len)
{
	size_t l4len = sizeof(struct pn_udp_hdr) + len;
	size_t total = PN_ETH_HLEN + sizeof(struct pn_ipv4_hdr) + l4len;
	uint8_t *f = buf;
	struct pn_udp_hdr *uh;

	if (total > room || sizeof(struct pn_ipv4_hdr) + l4len > 65535)
		return 0;
	f += pn_wire_eth(f, spec->dst_mac, spec->src_mac, PN_ETH_P_IPV4);
	f += pn_wire_ipv4(f, spec->src_ip, spec->dst_ip, PN_IPPROTO_UDP, spec->ip_id, l4len);
	uh = udp_fill(f, spec->sport, spec->dport, payload, len);
	if (!spec->no_csum)
		pn_wire_l4_csum4(uh, l4len, spec->src_ip, spec->dst_ip, PN_IPPROTO_UDP);
	return total;
}
