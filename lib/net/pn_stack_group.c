/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Stacks on several queues of one port: which member owns a flow (the
 * Toeplitz hash NICs compute for RSS), segments handed to their owner over
 * its ring, and the neighbours every member reads without taking a lock.
 *
 * Nothing here runs per packet in the common case: a stack hands a segment
 * over only when it has no connection for it, and it looks at the shared
 * neighbours only on a miss of its own table or when their generation moved.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pn_net_priv.h"
#include "pn_ring.h"

#define RSS_KEY_LEN 40
#define RSS_INPUT_MAX 36 /* IPv6 addresses and ports */
#define RETA_DEFAULT 128
#define RETA_MAX 512
#define STEER_RING_DEFAULT 4096
#define GROUP_NEIGH 256 /* power of two */
#define GROUP_NEIGH_PROBE 8
#define MAC_VALID (1ull << 48)

/* The key in Microsoft's RSS specification: its verification tables use
 * it, some drivers load it; Linux drivers mostly draw a random one at boot
 * (netdev_rss_key_fill), which `ethtool -x` shows. */
static const uint8_t rss_key_default[RSS_KEY_LEN] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
	0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
	0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

/*
 * One shared neighbour: written under the group's lock, read by anyone
 * through its sequence count (a seqlock). Every field is an atomic, so a
 * reader racing a writer retries instead of reading torn bytes.
 */
struct group_neigh {
	_Atomic(uint32_t) seq;
	_Atomic(uint64_t) a_hi, a_lo; /* the address */
	_Atomic(uint64_t) mac;        /* 48 bits | MAC_VALID; 0: empty */
};

struct pn_stack_group {
	uint16_t nb;
	uint16_t reta_mask;
	uint16_t reta[RETA_MAX];
	/* the hash by table: input byte i of value v contributes tab[i][v] */
	uint32_t tab[RSS_INPUT_MAX][256];
	struct pn_ring *ring[PN_PORT_MAX_QUEUES];
	_Atomic(struct pn_stack *) member[PN_PORT_MAX_QUEUES];
	_Atomic(bool) ip6_duplicate;
	pthread_mutex_t neigh_lock; /* writers of neigh[] only */
	/* read by every member each poll, written when a neighbour changes:
	 * a line of its own so it stays shared in every cache */
	_Atomic(uint64_t) neigh_gen __pn_cache_aligned;
	struct group_neigh neigh[GROUP_NEIGH] __pn_cache_aligned;
};

static void toeplitz_table(uint32_t tab[RSS_INPUT_MAX][256], const uint8_t *key)
{
	for (unsigned i = 0; i < RSS_INPUT_MAX; i++) {
		/* key bits 8i .. 8i+39, the first at bit 39 of w: input bit
		 * 8i+b (b counted from the byte's top) xors key bits
		 * 8i+b .. 8i+b+31 into the hash */
		uint64_t w = 0;

		for (unsigned j = 0; j < 5; j++)
			w = w << 8 | (i + j < RSS_KEY_LEN ? key[i + j] : 0);
		for (unsigned v = 0; v < 256; v++) {
			uint32_t h = 0;

			for (unsigned b = 0; b < 8; b++)
				if (v & (0x80u >> b))
					h ^= (uint32_t)(w >> (8 - b));
			tab[i][v] = h;
		}
	}
}

struct pn_stack_group *pn_stack_group_create(const struct pn_stack_group_conf *conf)
{
	struct pn_stack_group *g;
	uint32_t ring = STEER_RING_DEFAULT;
	unsigned reta_size = RETA_DEFAULT;

	if (conf == NULL || conf->sz < sizeof(*conf) || conf->nb_stacks == 0 ||
	    conf->nb_stacks > PN_PORT_MAX_QUEUES) {
		errno = EINVAL;
		return NULL;
	}
	if (conf->reta_size) {
		reta_size = conf->reta_size;
		if (reta_size > RETA_MAX || (reta_size & (reta_size - 1)) || conf->reta == NULL) {
			errno = EINVAL;
			return NULL;
		}
		for (unsigned i = 0; i < reta_size; i++)
			if (conf->reta[i] >= conf->nb_stacks) {
				errno = EINVAL;
				return NULL;
			}
	}
	if (conf->steer_ring) {
		ring = conf->steer_ring;
		if (ring < 2 || (ring & (ring - 1))) {
			errno = EINVAL;
			return NULL;
		}
	}
	if (posix_memalign((void **)&g, PN_CACHE_LINE, sizeof(*g)) != 0) {
		errno = ENOMEM;
		return NULL;
	}
	memset(g, 0, sizeof(*g));
	g->nb = conf->nb_stacks;
	g->reta_mask = (uint16_t)(reta_size - 1);
	for (unsigned i = 0; i < reta_size; i++)
		g->reta[i] = conf->reta_size ? conf->reta[i] : (uint16_t)(i % g->nb);
	toeplitz_table(g->tab, conf->rss_key ? conf->rss_key : rss_key_default);
	pthread_mutex_init(&g->neigh_lock, NULL);
	for (unsigned m = 0; m < g->nb; m++) {
		/* any member hands over, only the owner takes */
		g->ring[m] = pn_ring_create(ring, PN_RING_F_SC_DEQ);
		if (g->ring[m] == NULL) {
			int err = errno;

			pn_stack_group_destroy(g);
			errno = err;
			return NULL;
		}
	}
	return g;
}

static void ring_drain(struct pn_ring *r)
{
	void *p;

	while (pn_ring_dequeue(r, &p) == 0)
		pn_pkt_free(p);
}

int pn_stack_group_destroy(struct pn_stack_group *g)
{
	if (g == NULL)
		return 0;
	for (unsigned m = 0; m < g->nb; m++)
		if (atomic_load_explicit(&g->member[m], memory_order_acquire) != NULL)
			return -EBUSY;
	for (unsigned m = 0; m < g->nb; m++) {
		if (g->ring[m] == NULL)
			continue;
		ring_drain(g->ring[m]);
		pn_ring_free(g->ring[m]);
	}
	pthread_mutex_destroy(&g->neigh_lock);
	free(g);
	return 0;
}

static unsigned flow_bytes(uint8_t in[RSS_INPUT_MAX], const struct pn_addr *src,
			   const struct pn_addr *dst, uint16_t sport, uint16_t dport)
{
	unsigned n;

	if (pn_addr_is_v4(src)) {
		memcpy(in, src->b + 12, 4);
		memcpy(in + 4, dst->b + 12, 4);
		n = 8;
	} else {
		memcpy(in, src->b, 16);
		memcpy(in + 16, dst->b, 16);
		n = 32;
	}
	in[n] = (uint8_t)(sport >> 8);
	in[n + 1] = (uint8_t)sport;
	in[n + 2] = (uint8_t)(dport >> 8);
	in[n + 3] = (uint8_t)dport;
	return n + 4;
}

uint32_t pn_stack_group_hash(const struct pn_stack_group *g, const struct pn_addr *src,
			     const struct pn_addr *dst, uint16_t sport, uint16_t dport)
{
	uint8_t in[RSS_INPUT_MAX];
	unsigned n;
	uint32_t h = 0;

	if (g == NULL || src == NULL || dst == NULL)
		return 0;
	n = flow_bytes(in, src, dst, sport, dport);
	for (unsigned i = 0; i < n; i++)
		h ^= g->tab[i][in[i]];
	return h;
}

unsigned pn_stack_group_owner(const struct pn_stack_group *g, const struct pn_addr *src,
			      const struct pn_addr *dst, uint16_t sport, uint16_t dport)
{
	if (g == NULL)
		return 0;
	return g->reta[pn_stack_group_hash(g, src, dst, sport, dport) & g->reta_mask];
}

/* ---- members */

int pn_group_join(struct pn_stack *st, struct pn_stack_group *g)
{
	struct pn_stack *none = NULL;

	if (st->queue >= g->nb)
		return -EINVAL;
	st->steer_buf = calloc((size_t)g->nb * PN_STEER_BURST, sizeof(*st->steer_buf));
	st->steer_n = calloc(g->nb, sizeof(*st->steer_n));
	if (st->steer_buf == NULL || st->steer_n == NULL) {
		free(st->steer_buf);
		free(st->steer_n);
		return -ENOMEM;
	}
	if (!atomic_compare_exchange_strong_explicit(&g->member[st->queue], &none, st,
						     memory_order_acq_rel, memory_order_relaxed)) {
		free(st->steer_buf);
		free(st->steer_n);
		return -EEXIST;
	}
	/* what a member before us left behind is stale now */
	ring_drain(g->ring[st->queue]);
	st->group = g;
	st->neigh_gen_seen = atomic_load_explicit(&g->neigh_gen, memory_order_acquire);
	return 0;
}

void pn_group_leave(struct pn_stack *st)
{
	struct pn_stack_group *g = st->group;

	if (g == NULL)
		return;
	pn_group_steer_flush(st);
	atomic_store_explicit(&g->member[st->queue], NULL, memory_order_release);
	/* a segment handed over after this waits in the ring until the
	 * group goes or another member takes the place */
	ring_drain(g->ring[st->queue]);
	free(st->steer_buf);
	free(st->steer_n);
	st->steer_buf = NULL;
	st->steer_n = NULL;
	st->group = NULL;
}

/* ---- flows handed to their owner */

bool pn_stack_owns_flow(const struct pn_stack *st, const struct pn_addr *peer,
			uint16_t peer_port, uint16_t local_port)
{
	const struct pn_stack_group *g = st->group;

	if (g == NULL || g->nb == 1)
		return true;
	return pn_stack_group_owner(g, peer, pn_stack_local_addr(st, peer), peer_port,
				    local_port) == st->queue;
}

static void steer_flush_one(struct pn_stack *st, unsigned m)
{
	struct pn_stack_group *g = st->group;
	struct pn_pkt **b = st->steer_buf + (size_t)m * PN_STEER_BURST;
	unsigned n = st->steer_n[m], done = 0;

	if (atomic_load_explicit(&g->member[m], memory_order_acquire) != NULL)
		done = pn_ring_enqueue_burst(g->ring[m], (void *const *)b, n);
	st->stats.steer_out += done;
	for (unsigned i = done; i < n; i++) {
		st->stats.steer_drops++; /* as a full NIC queue: TCP retransmits */
		pn_pkt_free(b[i]);
	}
	st->steer_pending -= n;
	st->steer_n[m] = 0;
}

bool pn_stack_steer(struct pn_stack *st, struct pn_pkt *pkt, const struct pn_l3_info *l3,
		    uint16_t sport, uint16_t dport)
{
	struct pn_stack_group *g = st->group;
	unsigned owner;
	uint8_t *p;

	if (g == NULL || g->nb == 1)
		return false;
	owner = pn_stack_group_owner(g, &l3->src, &l3->dst, sport, dport);
	if (owner == st->queue)
		return false;
	/* the L3 facts ride in front of the L4 header, where the IP header was */
	if (pn_pkt_cloned(pkt) || (p = pn_pkt_push(pkt, sizeof(*l3))) == NULL) {
		st->stats.steer_drops++;
		pn_pkt_free(pkt);
		return true;
	}
	memcpy(p, l3, sizeof(*l3));
	pkt->flags |= PN_PKT_F_L4_CSUM_GOOD;
	if (st->steer_n[owner] == PN_STEER_BURST)
		steer_flush_one(st, owner);
	st->steer_buf[(size_t)owner * PN_STEER_BURST + st->steer_n[owner]++] = pkt;
	st->steer_pending++;
	return true;
}

void pn_group_steer_flush(struct pn_stack *st)
{
	for (unsigned m = 0; st->steer_pending && m < st->group->nb; m++)
		if (st->steer_n[m])
			steer_flush_one(st, m);
}

unsigned pn_group_steer_input(struct pn_stack *st)
{
	struct pn_pkt *pkts[256];
	unsigned n = pn_ring_dequeue_burst(st->group->ring[st->queue], (void **)pkts, st->burst);

	for (unsigned i = 0; i < n; i++) {
		struct pn_pkt *p = pkts[i];
		struct pn_l3_info l3;

		memcpy(&l3, pn_pkt_data(p), sizeof(l3));
		pn_pkt_pull(p, sizeof(l3));
		st->stats.steer_in++;
		if (!pn_stack_l4_deliver(st, p, &l3))
			pn_pkt_free(p);
	}
	return n;
}

/* ---- neighbours every member reads */

static unsigned neigh_home(uint64_t hi, uint64_t lo)
{
	uint64_t x = (hi ^ lo) * 0x9e3779b97f4a7c15ull;

	return (unsigned)(x >> 56) & (GROUP_NEIGH - 1);
}

static void addr_words(const struct pn_addr *a, uint64_t *hi, uint64_t *lo)
{
	memcpy(hi, a->b, 8);
	memcpy(lo, a->b + 8, 8);
}

static uint64_t mac_word(const uint8_t mac[6])
{
	uint64_t w = MAC_VALID;

	for (unsigned i = 0; i < 6; i++)
		w |= (uint64_t)mac[i] << (8 * i);
	return w;
}

/* A consistent copy of @p e, however writers race us. */
static void neigh_read(struct group_neigh *e, uint64_t *hi, uint64_t *lo, uint64_t *mac)
{
	for (;;) {
		uint32_t s = atomic_load_explicit(&e->seq, memory_order_acquire);

		if (s & 1) {
			pn_cpu_relax();
			continue;
		}
		/* acquire loads keep the second look at seq after them (and
		 * need no fence, which ThreadSanitizer cannot follow) */
		*hi = atomic_load_explicit(&e->a_hi, memory_order_acquire);
		*lo = atomic_load_explicit(&e->a_lo, memory_order_acquire);
		*mac = atomic_load_explicit(&e->mac, memory_order_acquire);
		if (atomic_load_explicit(&e->seq, memory_order_relaxed) == s)
			return;
	}
}

/* @return the entry holding @p a (its MAC in *@p mac), or NULL */
static struct group_neigh *neigh_find(struct pn_stack_group *g, uint64_t hi, uint64_t lo,
				      uint64_t *mac)
{
	unsigned home = neigh_home(hi, lo);

	for (unsigned i = 0; i < GROUP_NEIGH_PROBE; i++) {
		struct group_neigh *e = &g->neigh[(home + i) & (GROUP_NEIGH - 1)];
		uint64_t h, l, m;

		neigh_read(e, &h, &l, &m);
		if (m && h == hi && l == lo) {
			*mac = m;
			return e;
		}
	}
	return NULL;
}

void pn_group_neigh_publish(struct pn_stack *st, const struct pn_addr *a, const uint8_t mac[6])
{
	struct pn_stack_group *g = st->group;
	uint64_t hi, lo, have, want = mac_word(mac);
	struct group_neigh *e;
	unsigned home;
	uint32_t s;

	addr_words(a, &hi, &lo);
	if (neigh_find(g, hi, lo, &have) != NULL && have == want)
		return; /* the usual case: a refresh that changes nothing */
	pthread_mutex_lock(&g->neigh_lock);
	home = neigh_home(hi, lo);
	e = neigh_find(g, hi, lo, &have);
	for (unsigned i = 0; e == NULL && i < GROUP_NEIGH_PROBE; i++) {
		struct group_neigh *c = &g->neigh[(home + i) & (GROUP_NEIGH - 1)];

		if (atomic_load_explicit(&c->mac, memory_order_relaxed) == 0)
			e = c;
	}
	if (e == NULL) /* full around home: the newest wins its place */
		e = &g->neigh[home];
	s = atomic_load_explicit(&e->seq, memory_order_relaxed);
	/* release stores: none is seen before the odd count */
	atomic_store_explicit(&e->seq, s + 1, memory_order_relaxed);
	atomic_store_explicit(&e->a_hi, hi, memory_order_release);
	atomic_store_explicit(&e->a_lo, lo, memory_order_release);
	atomic_store_explicit(&e->mac, want, memory_order_release);
	atomic_store_explicit(&e->seq, s + 2, memory_order_release);
	atomic_fetch_add_explicit(&g->neigh_gen, 1, memory_order_release);
	pthread_mutex_unlock(&g->neigh_lock);
}

bool pn_group_neigh_lookup(const struct pn_stack *st, const struct pn_addr *a, uint8_t mac[6])
{
	uint64_t hi, lo, m;

	if (st->group == NULL)
		return false;
	addr_words(a, &hi, &lo);
	if (neigh_find(st->group, hi, lo, &m) == NULL)
		return false;
	for (unsigned i = 0; i < 6; i++)
		mac[i] = (uint8_t)(m >> (8 * i));
	return true;
}

uint64_t pn_group_neigh_gen(const struct pn_stack_group *g)
{
	return atomic_load_explicit(&((struct pn_stack_group *)g)->neigh_gen, memory_order_acquire);
}

void pn_group_ip6_duplicate(struct pn_stack *st)
{
	if (st->group)
		atomic_store_explicit(&st->group->ip6_duplicate, true, memory_order_release);
}

bool pn_group_ip6_is_duplicate(const struct pn_stack *st)
{
	return st->group &&
	       atomic_load_explicit(&st->group->ip6_duplicate, memory_order_acquire);
}
