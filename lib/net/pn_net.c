/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ethernet, ARP, IPv4, ICMP echo and UDP for one port queue.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pn_net_priv.h"

static const uint8_t bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* ---- small helpers */

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

const char *pn_ip_str(uint32_t ip, char *buf)
{
	snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
	return buf;
}

/* ---- transmit */

static void tx_queue(struct pn_stack *st, struct pn_pkt *pkt)
{
	if (pn_unlikely(st->txn == PN_STACK_TXQ))
		pn_stack_flush(st);
	st->txq[st->txn++] = pkt;
}

void pn_stack_flush(struct pn_stack *st)
{
	unsigned done = 0, tries = 0;

	while (done < st->txn) {
		uint16_t n = pn_port_tx_burst(st->port, st->queue, st->txq + done,
					      (uint16_t)(st->txn - done));

		for (unsigned i = done; i < done + n; i++) {
			st->stats.tx_frames++;
			st->stats.tx_bytes += st->txq[i]->pkt_len;
		}
		done += n;
		/* the driver kicks the kernel when its ring is full; a few
		 * retries, then the frames are dropped like a full NIC ring
		 * would (TCP retransmits) */
		if (n == 0 && ++tries > 4)
			break;
	}
	for (unsigned i = done; i < st->txn; i++) {
		st->stats.tx_ring_full++;
		pn_pkt_free(st->txq[i]);
	}
	st->txn = 0;
}

static void eth_output(struct pn_stack *st, struct pn_pkt *pkt, const uint8_t *dst,
		       uint16_t type)
{
	struct pn_eth_hdr *eth = (struct pn_eth_hdr *)pn_pkt_push(pkt, PN_ETH_HLEN);

	if (pn_unlikely(eth == NULL)) {
		pn_pkt_free(pkt);
		return;
	}
	memcpy(eth->dst, dst, 6);
	memcpy(eth->src, st->mac, 6);
	eth->type = htons(type);
	tx_queue(st, pkt);
}

/* ---- ARP */

static struct pn_arp_entry *arp_find(struct pn_stack *st, uint32_t ip)
{
	for (unsigned i = 0; i < PN_ARP_ENTRIES; i++)
		if (st->arp[i].ip == ip)
			return &st->arp[i];
	return NULL;
}

static void arp_drop_pending(struct pn_stack *st, struct pn_arp_entry *e)
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

static struct pn_arp_entry *arp_slot(struct pn_stack *st, uint32_t ip)
{
	struct pn_arp_entry *victim = NULL;

	for (unsigned i = 0; i < PN_ARP_ENTRIES; i++) {
		struct pn_arp_entry *e = &st->arp[i];

		if (e->ip == 0) {
			victim = e;
			break;
		}
		/* else the resolved entry that expires first */
		if (e->resolved && (victim == NULL || e->expires < victim->expires))
			victim = e;
	}
	if (victim == NULL) {
		st->stats.arp_table_full++;
		return NULL;
	}
	arp_drop_pending(st, victim);
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
	eth_output(st, pkt, eth_dst, PN_ETH_P_ARP);
}

static void arp_flush_pending(struct pn_stack *st, struct pn_arp_entry *e)
{
	while (e->pending) {
		struct pn_pkt *p = e->pending;

		e->pending = p->next;
		p->next = NULL;
		eth_output(st, p, e->mac, PN_ETH_P_IPV4);
	}
	e->nr_pending = 0;
}

static void arp_timer_fn(struct pn_timer *t)
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
			arp_drop_pending(st, e);
			memset(e, 0, sizeof(*e));
		} else {
			e->tries++;
			e->expires = st->now_ms + PN_ARP_RETRY_MS;
			arp_send(st, 1, (const uint8_t[6]){ 0 }, e->ip, bcast_mac);
			again = true;
		}
	}
	if (again)
		pn_timer_arm(&st->wheel, &st->arp_timer, st->now_ms + PN_ARP_RETRY_MS);
	else
		pn_timer_arm(&st->wheel, &st->arp_timer, st->now_ms + PN_ARP_TTL_MS / 4);
}

static void arp_input(struct pn_stack *st, struct pn_pkt *pkt)
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
static void neigh_output(struct pn_stack *st, struct pn_pkt *pkt, uint32_t next_hop)
{
	struct pn_arp_entry *e = arp_find(st, next_hop);

	if (pn_likely(e && e->resolved)) {
		eth_output(st, pkt, e->mac, PN_ETH_P_IPV4);
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
		arp_send(st, 1, (const uint8_t[6]){ 0 }, next_hop, bcast_mac);
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

/* ---- IPv4 */

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
	if (pn_unlikely(ip == NULL || pkt->pkt_len > st->mtu)) {
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
	neigh_output(st, pkt, next_hop);
	return 0;
}

static void icmp_input(struct pn_stack *st, struct pn_pkt *pkt, struct pn_ipv4_hdr *ip)
{
	struct pn_icmp_hdr *ic;
	uint32_t len = pkt->len;
	uint32_t src = ntohl(ip->saddr);

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

/* ---- UDP */

static void udp_input(struct pn_stack *st, struct pn_pkt *pkt, struct pn_ipv4_hdr *ip)
{
	struct pn_udp_hdr *uh;
	uint32_t len = pkt->len;
	uint16_t ulen, dport;

	if (pn_pkt_may_pull(pkt, sizeof(*uh)) != 0 ||
	    (ulen = ntohs(((struct pn_udp_hdr *)pn_pkt_data(pkt))->len)) < sizeof(*uh) ||
	    ulen > len) {
		st->stats.udp_bad++;
		pn_pkt_free(pkt);
		return;
	}
	uh = (struct pn_udp_hdr *)pn_pkt_data(pkt);
	if (uh->csum != 0 &&
	    pn_csum_fold(pn_pkt_csum_add(pkt, 0, ulen,
			 pn_csum_pseudo(ip->saddr, ip->daddr, PN_IPPROTO_UDP, ulen))) != 0) {
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
			st->udp[i].cb(st, pkt, ntohl(ip->saddr), sport, dport, st->udp[i].arg);
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
	struct pn_pkt *pkt;
	struct pn_udp_hdr *uh;
	uint16_t ulen;
	uint16_t csum;

	if (len + sizeof(*uh) > pn_stack_l4_room(st))
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
	csum = pn_csum_fold(pn_csum_add(pn_csum_pseudo(htonl(st->ip), htonl(dst_ip),
						       PN_IPPROTO_UDP, ulen), uh, ulen));
	uh->csum = csum ? csum : 0xffff;
	return pn_ip_output(st, pkt, PN_IPPROTO_UDP, dst_ip);
}

static void ip_input(struct pn_stack *st, struct pn_pkt *pkt)
{
	struct pn_ipv4_hdr *ip, iph;
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
	if (ntohs(ip->frag_off) & 0x3fff) { /* MF or an offset: no reassembly */
		st->stats.ip_fragments++;
		goto drop;
	}
	/* Ethernet padding goes; trimming may unshare, so find the header again */
	if (pn_pkt_trim(pkt, tot) != 0) {
		st->stats.rx_nomem++;
		goto drop;
	}
	/* L4 gets a copy of the header: pulling its own header up may move
	 * the packet's data to another buffer */
	iph = *(struct pn_ipv4_hdr *)pn_pkt_data(pkt);
	pn_pkt_pull(pkt, hlen);
	switch (iph.proto) {
	case PN_IPPROTO_TCP:
		if (st->tcp_ops) {
			st->tcp_ops->input(st, pkt, &iph);
			return;
		}
		break;
	case PN_IPPROTO_UDP:
		udp_input(st, pkt, &iph);
		return;
	case PN_IPPROTO_ICMP:
		icmp_input(st, pkt, &iph);
		return;
	}
	st->stats.ip_bad_proto++;
drop:
	pn_pkt_free(pkt);
}

static void eth_input(struct pn_stack *st, struct pn_pkt *pkt)
{
	struct pn_eth_hdr *eth;
	uint16_t type;

	st->stats.rx_frames++;
	st->stats.rx_bytes += pkt->pkt_len;
	/* a chained frame reads like a multi-buffer one from here on */
	if (pn_unlikely(pkt->next != NULL) && pn_pkt_flatten(pkt) != 0) {
		st->stats.rx_too_many_pieces++;
		pn_pkt_free(pkt);
		return;
	}
	if (pn_unlikely(pn_pkt_may_pull(pkt, PN_ETH_HLEN) != 0)) {
		st->stats.rx_runts++;
		pn_pkt_free(pkt);
		return;
	}
	eth = (struct pn_eth_hdr *)pn_pkt_data(pkt);
	if (pn_unlikely(memcmp(eth->dst, st->mac, 6) != 0 && memcmp(eth->dst, bcast_mac, 6) != 0)) {
		st->stats.rx_other_dst++;
		pn_pkt_free(pkt);
		return;
	}
	type = ntohs(eth->type);
	pn_pkt_pull(pkt, PN_ETH_HLEN);
	if (pn_likely(type == PN_ETH_P_IPV4))
		ip_input(st, pkt);
	else if (type == PN_ETH_P_ARP)
		arp_input(st, pkt);
	else {
		st->stats.rx_other_type++;
		pn_pkt_free(pkt);
	}
}

/* ---- the stack */

static void clock_update(struct pn_stack *st)
{
	struct timespec ts;
	uint64_t now;

	if (st->clock_us != NULL) {
		now = st->clock_us(st->clock_arg);
	} else {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	}
	if (now > st->now_us) { /* never backwards, whatever the clock says */
		st->now_us = now;
		st->now_ms = now / 1000u;
	}
}

struct pn_stack *pn_stack_create(const struct pn_stack_conf *conf)
{
	struct pn_port_info info;
	struct pn_stack *st;

	if (conf == NULL || conf->sz < sizeof(*conf) || conf->port == NULL ||
	    conf->pool == NULL || conf->ip == 0 || conf->prefix_len > 32 ||
	    (conf->mtu && (conf->mtu < 576 || conf->mtu > 9000))) {
		errno = EINVAL;
		return NULL;
	}
	pn_port_info_get(conf->port, &info);
	if (conf->queue >= info.nb_queues) {
		errno = EINVAL;
		return NULL;
	}
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return NULL;
	st->port = conf->port;
	st->queue = conf->queue;
	st->pool = conf->pool;
	st->burst = conf->burst ? (uint16_t)PN_MIN(conf->burst, 256) : 64;
	st->mtu = conf->mtu ? conf->mtu : 1500;
	memcpy(st->mac, info.mac, 6);
	st->ip = conf->ip;
	st->mask = (uint32_t)(0xffffffffull << (32 - (conf->prefix_len ? conf->prefix_len : 24)));
	st->gateway = conf->gateway;
	st->ip_id = (uint16_t)(conf->ip * 2654435761u);
	st->clock_us = conf->clock_us;
	st->clock_arg = conf->clock_arg;
	clock_update(st);
	pn_timer_wheel_init(&st->wheel, st->now_ms);
	st->arp_timer.fn = arp_timer_fn;
	return st;
}

void pn_stack_destroy(struct pn_stack *st)
{
	if (st == NULL)
		return;
	if (st->tcp_ops)
		st->tcp_ops->fini(st);
	pn_stack_flush(st);
	for (unsigned i = 0; i < PN_ARP_ENTRIES; i++)
		arp_drop_pending(st, &st->arp[i]);
	pn_timer_cancel(&st->arp_timer);
	free(st);
}

unsigned pn_stack_poll(struct pn_stack *st)
{
	struct pn_pkt *pkts[256];
	uint16_t n = pn_port_rx_burst(st->port, st->queue, pkts, st->burst);

	clock_update(st);
	for (uint16_t i = 0; i < n; i++) {
		if (i + 1 < n)
			__builtin_prefetch(pn_pkt_data(pkts[i + 1]));
		eth_input(st, pkts[i]);
	}
	if (st->tcp_ops)
		st->tcp_ops->after_burst(st);
	if (st->now_ms > st->wheel.now)
		pn_timer_run(&st->wheel, st->now_ms);
	if (st->txn)
		pn_stack_flush(st);
	return n;
}

void pn_stack_input(struct pn_stack *st, struct pn_pkt *pkt)
{
	if (pkt == NULL)
		return;
	clock_update(st);
	eth_input(st, pkt);
}

void pn_stack_stats_get(const struct pn_stack *st, struct pn_net_stats *s)
{
	*s = st->stats;
}

uint32_t pn_stack_ip(const struct pn_stack *st) { return st->ip; }
struct pn_pool *pn_stack_pool(const struct pn_stack *st) { return st->pool; }
uint64_t pn_stack_now_ms(const struct pn_stack *st) { return st->now_ms; }
