/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The wire: header layouts, constants, TCP option parsing and emitting, and
 * frame builders. Stateless and allocation-free; used by the stack, by the
 * applications that make their own frames (pagenet-fwd's generator) and by
 * tests and fuzzers, so that nobody builds a header byte by byte.
 *
 * Header structs are packed and hold network byte order, as on the wire.
 * Function arguments that are addresses or ports are in host byte order
 * unless their name ends in _be.
 */
#ifndef PN_WIRE_H
#define PN_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pn_csum.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Ethernet */

#define PN_ETH_ALEN 6
#define PN_ETH_HLEN 14
#define PN_ETH_P_IPV4 0x0800
#define PN_ETH_P_ARP 0x0806
#define PN_ETH_P_IPV6 0x86dd

struct pn_eth_hdr {
	uint8_t dst[PN_ETH_ALEN];
	uint8_t src[PN_ETH_ALEN];
	uint16_t type;
} __attribute__((packed));

/* ---- ARP (RFC 826), Ethernet and IPv4 only */

#define PN_ARP_OP_REQUEST 1
#define PN_ARP_OP_REPLY 2

struct pn_arp_hdr {
	uint16_t htype, ptype;
	uint8_t hlen, plen;
	uint16_t op;
	uint8_t sha[PN_ETH_ALEN];
	uint32_t spa;
	uint8_t tha[PN_ETH_ALEN];
	uint32_t tpa;
} __attribute__((packed));

/* ---- IPv4 (RFC 791) */

#define PN_IPPROTO_ICMP 1
#define PN_IPPROTO_TCP 6
#define PN_IPPROTO_UDP 17
#define PN_IPPROTO_ICMPV6 58

#define PN_IPV4_DF 0x4000     /* in frag_off, host order */
#define PN_IPV4_MF 0x2000
#define PN_IPV4_OFFMASK 0x1fff

struct pn_ipv4_hdr {
	uint8_t ver_ihl;
	uint8_t tos;
	uint16_t tot_len;
	uint16_t id;
	uint16_t frag_off;
	uint8_t ttl;
	uint8_t proto;
	uint16_t csum;
	uint32_t saddr;
	uint32_t daddr;
} __attribute__((packed));

/* ---- IPv6 (RFC 8200), ICMPv6 (RFC 4443), neighbour discovery (RFC 4861) */

#define PN_IPV6_HLEN 40
#define PN_IPV6_MIN_MTU 1280

struct pn_ipv6_hdr {
	uint32_t ver_tc_flow; /* version 6 in the top 4 bits */
	uint16_t payload_len;
	uint8_t next;         /* next header: the L4 protocol here */
	uint8_t hop_limit;
	uint8_t saddr[16];
	uint8_t daddr[16];
} __attribute__((packed));

/* extension headers (RFC 8200 4) */
#define PN_IPV6_NH_HOPOPTS 0
#define PN_IPV6_NH_ROUTING 43
#define PN_IPV6_NH_FRAGMENT 44
#define PN_IPV6_NH_ESP 50
#define PN_IPV6_NH_AH 51
#define PN_IPV6_NH_NONE 59
#define PN_IPV6_NH_DSTOPTS 60

/* hop-by-hop and destination options, routing: next header, then the
 * length in 8-byte units beyond the first 8 */
struct pn_ipv6_ext_hdr {
	uint8_t next;
	uint8_t len;
} __attribute__((packed));

struct pn_ipv6_frag_hdr {
	uint8_t next;
	uint8_t reserved;
	uint16_t frag_off; /* offset in 8-byte units << 3, M flag in bit 0 */
	uint32_t id;
} __attribute__((packed));

#define PN_ICMP6_ECHO_REQUEST 128
#define PN_ICMP6_ECHO_REPLY 129
#define PN_ND_ROUTER_SOLICIT 133
#define PN_ND_ROUTER_ADVERT 134
#define PN_ND_NEIGHBOR_SOLICIT 135
#define PN_ND_NEIGHBOR_ADVERT 136

#define PN_ND_OPT_SRC_LLADDR 1
#define PN_ND_OPT_TGT_LLADDR 2

#define PN_ND_NA_ROUTER 0x80u
#define PN_ND_NA_SOLICITED 0x40u
#define PN_ND_NA_OVERRIDE 0x20u

struct pn_icmp6_hdr {
	uint8_t type, code;
	uint16_t csum;
	uint32_t data; /* echo: id and sequence; NA: flags in the first byte */
} __attribute__((packed));

/* Neighbour solicitation and advertisement: the ICMPv6 header, then the
 * target address, then options (8-byte units). */
struct pn_nd_msg {
	struct pn_icmp6_hdr h;
	uint8_t target[16];
} __attribute__((packed));

/** Sum of the IPv6 pseudo header (RFC 8200 8.1) for an upper-layer checksum. */
static inline uint64_t pn_csum_pseudo6(const uint8_t saddr[16], const uint8_t daddr[16],
				       uint8_t next, uint32_t len)
{
	uint32_t w[2] = { __builtin_bswap32(len), __builtin_bswap32((uint32_t)next) };

	return pn_csum_add(pn_csum_add(pn_csum_add(0, saddr, 16), daddr, 16), w, 8);
}

/* ---- ICMP, UDP */

#define PN_ICMP_ECHO_REPLY 0
#define PN_ICMP_ECHO_REQUEST 8

struct pn_icmp_hdr {
	uint8_t type, code;
	uint16_t csum;
	uint16_t id, seq;
} __attribute__((packed));

struct pn_udp_hdr {
	uint16_t sport, dport, len, csum;
} __attribute__((packed));

/* ---- TCP (RFC 9293) */

#define PN_TCP_F_FIN 0x01
#define PN_TCP_F_SYN 0x02
#define PN_TCP_F_RST 0x04
#define PN_TCP_F_PSH 0x08
#define PN_TCP_F_ACK 0x10
#define PN_TCP_F_URG 0x20

#define PN_TCPOPT_EOL 0
#define PN_TCPOPT_NOP 1
#define PN_TCPOPT_MSS 2   /* RFC 9293 3.2 */
#define PN_TCPOPT_WS 3    /* RFC 7323 2 */
#define PN_TCPOPT_SACKP 4 /* RFC 2018 */
#define PN_TCPOPT_SACK 5
#define PN_TCPOPT_TS 8    /* RFC 7323 3 */

#define PN_TCP_MAX_OPTLEN 40
#define PN_TCP_MAX_SACK 4 /* blocks one option can carry */

struct pn_tcp_hdr {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t doff; /* data offset << 4 */
	uint8_t flags;
	uint16_t win, csum, urg;
} __attribute__((packed));

/** TCP options as parsed (host order). */
struct pn_tcp_opts {
	uint16_t mss;
	uint8_t ws;          /**< clamped to 14 (RFC 7323 2.3) */
	bool has_mss, has_ws, sackp, has_ts;
	uint32_t tsval, tsecr;
	uint8_t nr_sack;
	uint32_t sack[PN_TCP_MAX_SACK][2];
};

/**
 * Parse @p len option bytes. Options of a known kind with a wrong length
 * are ignored (as Linux does); unknown kinds are skipped.
 * @return false when the list itself is malformed (a length of 0 or 1, or
 * running past the header): the segment is to be dropped.
 */
bool pn_tcp_opts_parse(const uint8_t *p, unsigned len, struct pn_tcp_opts *o);

/* Option emitters: each writes one option at @p o and returns the byte
 * after it. Callers pad with NOPs for alignment as they see fit. */
static inline uint8_t *pn_tcp_opt_nops(uint8_t *o, unsigned n)
{
	while (n--)
		*o++ = PN_TCPOPT_NOP;
	return o;
}

static inline uint8_t *pn_tcp_opt_mss(uint8_t *o, uint16_t mss)
{
	o[0] = PN_TCPOPT_MSS;
	o[1] = 4;
	o[2] = (uint8_t)(mss >> 8);
	o[3] = (uint8_t)mss;
	return o + 4;
}

static inline uint8_t *pn_tcp_opt_ws(uint8_t *o, uint8_t shift)
{
	o[0] = PN_TCPOPT_WS;
	o[1] = 3;
	o[2] = shift;
	return o + 3;
}

static inline uint8_t *pn_tcp_opt_sackp(uint8_t *o)
{
	o[0] = PN_TCPOPT_SACKP;
	o[1] = 2;
	return o + 2;
}

static inline uint8_t *pn_tcp_opt_ts(uint8_t *o, uint32_t tsval, uint32_t tsecr)
{
	o[0] = PN_TCPOPT_TS;
	o[1] = 10;
	for (int i = 0; i < 4; i++) {
		o[2 + i] = (uint8_t)(tsval >> (24 - 8 * i));
		o[6 + i] = (uint8_t)(tsecr >> (24 - 8 * i));
	}
	return o + 10;
}

/** SACK blocks (@p blk: n pairs of left, right edges; n <= 4). */
static inline uint8_t *pn_tcp_opt_sack(uint8_t *o, const uint32_t *blk, unsigned n)
{
	o[0] = PN_TCPOPT_SACK;
	o[1] = (uint8_t)(2 + 8 * n);
	o += 2;
	for (unsigned i = 0; i < 2 * n; i++, o += 4) {
		o[0] = (uint8_t)(blk[i] >> 24);
		o[1] = (uint8_t)(blk[i] >> 16);
		o[2] = (uint8_t)(blk[i] >> 8);
		o[3] = (uint8_t)blk[i];
	}
	return o;
}

/* ---- builders */

/** Write an Ethernet header. @return PN_ETH_HLEN */
size_t pn_wire_eth(void *buf, const uint8_t dst[PN_ETH_ALEN], const uint8_t src[PN_ETH_ALEN],
		   uint16_t type);

/**
 * Write a 20-byte IPv4 header (don't fragment, TTL 64, header checksum
 * set) for @p payload_len bytes of protocol @p proto. @return 20
 */
size_t pn_wire_ipv4(void *buf, uint32_t src, uint32_t dst, uint8_t proto, uint16_t id,
		    size_t payload_len);

/**
 * Set the TCP or UDP checksum of the @p len bytes of L4 header and payload
 * at @p l4 (over the IPv4 pseudo header). A UDP sum of 0 is sent as
 * 0xffff (RFC 768).
 */
void pn_wire_l4_csum4(void *l4, size_t len, uint32_t src, uint32_t dst, uint8_t proto);

/** What pn_wire_udp4_frame() builds. */
struct pn_wire_udp4 {
	uint8_t dst_mac[PN_ETH_ALEN], src_mac[PN_ETH_ALEN];
	uint32_t src_ip, dst_ip;
	uint16_t sport, dport;
	uint16_t ip_id;
	bool no_csum; /**< leave the UDP checksum 0 (allowed over IPv4) */
};

/**
 * A whole Ethernet + IPv4 + UDP frame carrying @p len bytes from
 * @p payload (NULL: zeros) into @p buf of @p room bytes.
 * @return the frame's length, or 0 when it does not fit in @p room or in
 * an IPv4 datagram.
 */
size_t pn_wire_udp4_frame(void *buf, size_t room, const struct pn_wire_udp4 *spec,
			  const void *payload, size_t len);

/** What pn_wire_udp6_frame() builds (addresses in network order). */
struct pn_wire_udp6 {
	uint8_t dst_mac[PN_ETH_ALEN], src_mac[PN_ETH_ALEN];
	uint8_t src_ip[16], dst_ip[16];
	uint16_t sport, dport;
};

/**
 * A whole Ethernet + IPv6 + UDP frame (hop limit 64, the checksum IPv6
 * requires) carrying @p len bytes from @p payload (NULL: zeros).
 * @return the frame's length, or 0 when it does not fit @p room or 65,535.
 */
size_t pn_wire_udp6_frame(void *buf, size_t room, const struct pn_wire_udp6 *spec,
			  const void *payload, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* PN_WIRE_H */
