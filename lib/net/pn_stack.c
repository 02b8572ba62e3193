/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The stack on one port queue: create, poll (receive a burst, run it up
 * the layers, let L4 answer, run the timers, send), the transmit queue,
 * the clock, and the table of protocols above IP.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "pn_log.h"
#include "pn_net_priv.h"

void pn_stack_tx_queue(struct pn_stack *st, struct pn_pkt *pkt)
{
	if (pn_unlikely(st->txn == PN_STACK_TXQ))
		pn_stack_flush(st);
	st->txq[st->txn++] = pkt;
}

void pn_stack_flush(struct pn_stack *st)
{
	unsigned done = 0, tries = 0;

	while (done < st->txn) {
		uint64_t bytes = 0;
		uint16_t n;

		/* counted before: a sent packet is the driver's (and with the
		 * loop driver the peer thread's) the moment tx_burst takes it */
		for (unsigned i = done; i < st->txn; i++)
			bytes += st->txq[i]->pkt_len;
		n = pn_port_tx_burst(st->port, st->queue, st->txq + done, (uint16_t)(st->txn - done));
		for (unsigned i = done + n; i < st->txn; i++)
			bytes -= st->txq[i]->pkt_len; /* still ours */
		st->stats.tx_frames += n;
		st->stats.tx_bytes += bytes;
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
	if (st->steer_pending)
		pn_group_steer_flush(st);
}

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
	/* never an MTU the port cannot carry: TCP would advertise an MSS
	 * whose segments never arrive */
	if (info.max_frame && (conf->mtu ? conf->mtu : 1500u) + PN_ETH_HLEN > info.max_frame) {
		pn_log(PN_LOG_ERR, "stack", "%s carries frames of %u bytes at most: MTU %u is the "
			"largest it can take, not %u", info.name, info.max_frame,
			info.max_frame - PN_ETH_HLEN, conf->mtu ? conf->mtu : 1500u);
		errno = EMSGSIZE;
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
	st->ip4m = pn_addr_v4(conf->ip);
	st->ip6 = conf->ip6;
	st->gateway6 = conf->gateway6;
	st->prefix6 = conf->prefix_len6 ? conf->prefix_len6 : 64;
	st->ip6_on = !pn_addr_is_zero(&conf->ip6);
	st->ip_id = (uint16_t)(conf->ip * 2654435761u);
	/* IPv6 fragment identifications nobody can predict (RFC 7739) */
	if (getrandom(&st->ip6_frag_id, sizeof(st->ip6_frag_id), 0) != sizeof(st->ip6_frag_id))
		st->ip6_frag_id = (uint32_t)conf->ip ^ 0x5bd1e995u;
	st->clock_us = conf->clock_us;
	st->clock_arg = conf->clock_arg;
	clock_update(st);
	pn_timer_wheel_init(&st->wheel, st->now_ms);
	st->neigh_timer.fn = pn_neigh_timer_fn;
	st->dad_timer.fn = pn_nd_dad_timer_fn;
	st->reasm_timer.fn = pn_reasm_timer_fn;
	/* ICMP and UDP come in the same way TCP does */
	pn_stack_l4_register(st, &pn_icmp_proto, NULL);
	pn_stack_l4_register(st, &pn_udp_proto, NULL);
	pn_stack_l4_register(st, &pn_icmp6_proto, NULL);
	if (conf->group) {
		int rc = pn_group_join(st, conf->group);

		if (rc != 0) {
			pn_stack_destroy(st);
			errno = -rc;
			return NULL;
		}
	}
	if (st->ip6_on)
		pn_nd_dad_start(st);
	return st;
}

void pn_stack_destroy(struct pn_stack *st)
{
	if (st == NULL)
		return;
	for (unsigned i = st->nr_l4; i-- > 0;)
		if (st->l4[i].ops->fini)
			st->l4[i].ops->fini(st, st->l4[i].priv);
	pn_stack_flush(st);
	pn_group_leave(st);
	pn_neigh_flush(st);
	pn_timer_cancel(&st->dad_timer);
	pn_reasm_flush(st);
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
		pn_eth_input(st, pkts[i]);
	}
	if (st->group) {
		n += pn_group_steer_input(st);
		pn_group_neigh_sync(st);
	}
	for (unsigned i = 0; i < st->nr_l4; i++)
		if (st->l4[i].ops->after_burst)
			st->l4[i].ops->after_burst(st, st->l4[i].priv);
	if (st->now_ms > st->wheel.now)
		pn_timer_run(&st->wheel, st->now_ms);
	if (st->txn || st->steer_pending)
		pn_stack_flush(st);
	return n;
}

void pn_stack_input(struct pn_stack *st, struct pn_pkt *pkt)
{
	if (pkt == NULL)
		return;
	clock_update(st);
	pn_eth_input(st, pkt);
}

void pn_stack_stats_get(const struct pn_stack *st, struct pn_net_stats *s)
{
	*s = st->stats;
}

uint32_t pn_stack_ip(const struct pn_stack *st) { return st->ip; }
struct pn_pool *pn_stack_pool(const struct pn_stack *st) { return st->pool; }
uint64_t pn_stack_now_ms(const struct pn_stack *st) { return st->now_ms; }
uint64_t pn_stack_now_us(const struct pn_stack *st) { return st->now_us; }
struct pn_timer_wheel *pn_stack_wheel(struct pn_stack *st) { return &st->wheel; }
uint16_t pn_stack_mtu(const struct pn_stack *st) { return st->mtu; }

/* ---- protocols above IP */

int pn_stack_l4_register(struct pn_stack *st, const struct pn_l4_proto *p, void *priv)
{
	if (st->l4_at[p->proto])
		return -EEXIST;
	if (st->nr_l4 == PN_STACK_L4_MAX)
		return -ENOSPC;
	st->l4[st->nr_l4].ops = p;
	st->l4[st->nr_l4].priv = priv;
	st->l4_at[p->proto] = (uint8_t)++st->nr_l4;
	return 0;
}

int pn_stack_l4_unregister(struct pn_stack *st, uint8_t proto)
{
	unsigned i = st->l4_at[proto];

	if (i-- == 0)
		return -ENOENT;
	memmove(&st->l4[i], &st->l4[i + 1], (st->nr_l4 - i - 1) * sizeof(st->l4[0]));
	st->nr_l4--;
	st->l4_at[proto] = 0;
	for (; i < st->nr_l4; i++) /* the ones after it moved down */
		st->l4_at[st->l4[i].ops->proto] = (uint8_t)(i + 1);
	return 0;
}

/* Every received packet and every TCP call asks: one load, no search. */
void *pn_stack_l4_priv(const struct pn_stack *st, uint8_t proto)
{
	unsigned i = st->l4_at[proto];

	return i ? st->l4[i - 1].priv : NULL;
}

bool pn_stack_l4_deliver(struct pn_stack *st, struct pn_pkt *pkt, const struct pn_l3_info *l3)
{
	unsigned i = st->l4_at[l3->proto];

	if (i == 0)
		return false;
	st->l4[i - 1].ops->input(st, pkt, l3, st->l4[i - 1].priv);
	return true;
}

/* ---- packets for the protocols to fill */

void *pn_stack_pkt_put(struct pn_stack *st, uint32_t len, struct pn_pkt **pkt)
{
	struct pn_pkt *p = pn_pkt_alloc(st->pool);
	void *data;

	if (pn_unlikely(p == NULL)) {
		st->stats.tx_nomem++;
		return NULL;
	}
	data = pn_pkt_append(p, len);
	if (pn_unlikely(data == NULL)) {
		pn_pkt_free(p);
		return NULL;
	}
	*pkt = p;
	return data;
}

void *pn_stack_pkt_put_frags(struct pn_stack *st, uint32_t hlen, uint32_t len,
			     void (*fill)(void *arg, uint32_t off, uint8_t *dst, uint32_t n),
			     void *arg, struct pn_pkt **pkt)
{
	uint32_t room = pn_stack_l4_room(st), head = PN_MIN(len, room - PN_MIN(room, hlen)), pos;
	uint32_t piece = st->pool->frag_size;
	uint8_t *th = pn_stack_pkt_put(st, hlen + head, pkt);

	if (pn_unlikely(th == NULL))
		return NULL;
	if (head)
		fill(arg, 0, th + hlen, head);
	for (pos = head; pos < len;) {
		uint32_t n = PN_MIN(len - pos, piece);
		struct pn_frame *frame;
		uint8_t *b = pn_pool_alloc_frag(st->pool, piece, &frame);

		if (pn_unlikely(b == NULL)) {
			st->stats.tx_nomem++;
			goto fail;
		}
		if (pn_unlikely(pn_pkt_add_frag(*pkt, frame, (uint32_t)(b - frame->addr), (uint16_t)n,
						PN_PKT_FRAG_SHARE) != 0)) {
			pn_pool_frag_free(frame, b);
			goto fail;
		}
		fill(arg, pos, b, n);
		pos += n;
	}
	return th;
fail:
	pn_pkt_free(*pkt);
	*pkt = NULL;
	return NULL;
}

uint32_t pn_stack_l4_room(const struct pn_stack *st)
{
	uint32_t room = st->pool->frag_size - (uint32_t)PN_PKT_HDR_SIZE - PN_PKT_HEADROOM;
	uint32_t mtu = (uint32_t)st->mtu - (uint32_t)sizeof(struct pn_ipv4_hdr);

	return PN_MIN(room, mtu);
}

/* ---- either family */

const struct pn_addr *pn_stack_local_addr(const struct pn_stack *st, const struct pn_addr *peer)
{
	return pn_addr_is_v4(peer) ? &st->ip4m : &st->ip6;
}

bool pn_l3_is_host(const struct pn_stack *st, const struct pn_addr *a)
{
	static const uint8_t loop6[16] = { [15] = 1 };

	if (pn_addr_is_v4(a))
		return pn_ip_is_host(st, pn_addr_v4_host(a));
	return st->ip6_on && !pn_addr_is_zero(a) && a->b[0] != 0xff &&
	       memcmp(a->b, loop6, 16) != 0;
}

uint64_t pn_l3_pseudo_to(const struct pn_stack *st, const struct pn_addr *dst, uint8_t proto,
			 uint16_t len)
{
	if (pn_addr_is_v4(dst))
		return pn_csum_pseudo(__builtin_bswap32(st->ip), __builtin_bswap32(pn_addr_v4_host(dst)),
				      proto, len);
	return pn_csum_pseudo6(st->ip6.b, dst->b, proto, len);
}

int pn_l3_output(struct pn_stack *st, struct pn_pkt *pkt, uint8_t proto, const struct pn_addr *dst)
{
	if (pn_addr_is_v4(dst))
		return pn_ip_output(st, pkt, proto, pn_addr_v4_host(dst));
	return pn_ip6_output(st, pkt, proto, dst);
}

uint32_t pn_stack_l4_mtu_to(const struct pn_stack *st, const struct pn_addr *peer)
{
	return (uint32_t)st->mtu - (pn_addr_is_v4(peer) ? 20u : 40u);
}

uint32_t pn_stack_l4_room_to(const struct pn_stack *st, const struct pn_addr *peer)
{
	uint32_t room = st->pool->frag_size - (uint32_t)PN_PKT_HDR_SIZE - PN_PKT_HEADROOM;
	uint32_t hdr = pn_addr_is_v4(peer) ? (uint32_t)sizeof(struct pn_ipv4_hdr) : PN_IPV6_HLEN;

	return PN_MIN(room, (uint32_t)st->mtu - hdr);
}

bool pn_stack_ip6_ready(const struct pn_stack *st)
{
	return st->ip6_on && !st->ip6_tentative && !st->ip6_duplicate &&
	       !pn_group_ip6_is_duplicate(st);
}
