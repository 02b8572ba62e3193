/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * loop: two ports of one process wired back to back ("loop:pair=NAME" twice).
 * What one side sends the other receives, by pointer: no copy, the packets
 * keep their pools. For tests and benchmarks that need no root and no kernel.
 *
 * Queue q of each side has an incoming single-producer single-consumer ring:
 * the peer's queue-q thread produces, our queue-q thread consumes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pn_log.h"
#include "pn_port_driver.h"

#define LOOP_RING_DEFAULT 1024
#define LOOP_NAME_MAX 32

struct loop_pair;

struct loop_queue {
	struct pn_ring *in;                /* what the peer sent us */
	struct pn_port_queue_stats *stats;
	const uint32_t *holder;            /* the port's holder id for the queue */
	struct loop_queue *peer;           /* same queue index on the other side */
	_Atomic bool up;                   /* our side started */
};

struct loop_side {
	struct loop_pair *pair;
	unsigned index;
	struct loop_queue q[PN_PORT_MAX_QUEUES];
};

struct loop_pair {
	struct loop_pair *next;
	char name[LOOP_NAME_MAX];
	unsigned users;
	uint16_t nb_queues;
	struct loop_side side[2];
	bool taken[2];
};

static pthread_mutex_t pairs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct loop_pair *pairs;

static uint16_t loop_rx_burst(void *queue, struct pn_pkt **pkts, uint16_t n)
{
	struct loop_queue *q = queue;
	uint32_t got = pn_ring_dequeue_burst(q->in, (void **)pkts, n);
	uint64_t bytes = 0;

	if (got == 0)
		return 0;
	for (uint32_t i = 0; i < got; i++) {
		bytes += pkts[i]->pkt_len;
		pn_pkt_set_holder(pkts[i], PN_HOLDER(*q->holder, PN_VIA_RX));
	}
	PN_QSTAT_ADD(q->stats, ipackets, got);
	PN_QSTAT_ADD(q->stats, ibytes, bytes);
	return (uint16_t)got;
}

static uint16_t loop_tx_burst(void *queue, struct pn_pkt **pkts, uint16_t n)
{
	struct loop_queue *q = queue;
	struct loop_queue *peer = q->peer;
	uint32_t sent;
	uint64_t bytes = 0;

	/* a peer that is not started has no link: nothing is taken */
	if (pn_unlikely(!atomic_load_explicit(&peer->up, memory_order_acquire))) {
		PN_QSTAT_ADD(q->stats, odrops, n);
		return 0;
	}
	for (uint16_t i = 0; i < n; i++)
		bytes += pkts[i]->pkt_len;
	sent = pn_ring_enqueue_burst(peer->in, (void **)pkts, n);
	if (pn_unlikely(sent < n)) {
		for (uint32_t i = sent; i < n; i++)
			bytes -= pkts[i]->pkt_len;
		PN_QSTAT_ADD(q->stats, odrops, n - sent);
	}
	PN_QSTAT_ADD(q->stats, opackets, sent);
	PN_QSTAT_ADD(q->stats, obytes, bytes);
	return (uint16_t)sent;
}

static void drain(struct loop_queue *q)
{
	struct pn_pkt *pkts[32];
	uint32_t n;

	while ((n = pn_ring_dequeue_burst(q->in, (void **)pkts, 32)) != 0)
		for (uint32_t i = 0; i < n; i++)
			pn_pkt_free(pkts[i]);
}

static void pair_put(struct loop_pair *pair)
{
	struct loop_pair **pp;

	if (--pair->users != 0)
		return;
	for (pp = &pairs; *pp != pair; pp = &(*pp)->next)
		;
	*pp = pair->next;
	for (unsigned s = 0; s < 2; s++) {
		for (unsigned i = 0; i < pair->nb_queues; i++) {
			drain(&pair->side[s].q[i]);
			pn_ring_free(pair->side[s].q[i].in);
		}
	}
	free(pair);
}

static struct loop_pair *pair_get(const char *name, uint16_t nb_queues,
				  uint32_t ring_size, int *rc)
{
	struct loop_pair *pair;

	for (pair = pairs; pair != NULL; pair = pair->next)
		if (strcmp(pair->name, name) == 0)
			break;
	if (pair != NULL) {
		if (pair->nb_queues != nb_queues) {
			pn_log(PN_LOG_ERR, "loop", "%s: sides disagree on queues (%u vs %u)",
				name, pair->nb_queues, nb_queues);
			*rc = -EINVAL;
			return NULL;
		}
		pair->users++;
		return pair;
	}
	pair = calloc(1, sizeof(*pair));
	if (pair == NULL) {
		*rc = -ENOMEM;
		return NULL;
	}
	snprintf(pair->name, sizeof(pair->name), "%s", name);
	pair->nb_queues = nb_queues;
	for (unsigned s = 0; s < 2; s++) {
		pair->side[s].pair = pair;
		pair->side[s].index = s;
		for (unsigned i = 0; i < nb_queues; i++) {
			struct loop_queue *q = &pair->side[s].q[i];

			q->in = pn_ring_create(ring_size, PN_RING_F_SP_ENQ | PN_RING_F_SC_DEQ);
			if (q->in == NULL) {
				pair->users = 1;
				pair->next = pairs;
				pairs = pair;
				pair_put(pair);
				*rc = -ENOMEM;
				return NULL;
			}
			q->peer = &pair->side[!s].q[i];
		}
	}
	pair->users = 1;
	pair->next = pairs;
	pairs = pair;
	return pair;
}

static int loop_open(struct pn_port_dev *dev, struct pn_kvargs *args)
{
	const char *name = pn_kvargs_get(args, "pair");
	unsigned ring = dev->ring_size ? dev->ring_size : LOOP_RING_DEFAULT;
	struct loop_pair *pair;
	struct loop_side *side;
	int rc = 0;

	if (name == NULL || name[0] == '\0' || strlen(name) >= LOOP_NAME_MAX) {
		pn_log(PN_LOG_ERR, "loop", "want pair=NAME (under %d characters)",
			LOOP_NAME_MAX);
		return -EINVAL;
	}
	pthread_mutex_lock(&pairs_lock);
	pair = pair_get(name, dev->nb_queues, ring, &rc);
	if (pair == NULL) {
		pthread_mutex_unlock(&pairs_lock);
		return rc;
	}
	if (pair->taken[0] && pair->taken[1]) {
		pair_put(pair);
		pthread_mutex_unlock(&pairs_lock);
		pn_log(PN_LOG_ERR, "loop", "%s already has both sides", name);
		return -EBUSY;
	}
	side = &pair->side[pair->taken[0] ? 1 : 0];
	pair->taken[side->index] = true;
	pthread_mutex_unlock(&pairs_lock);

	for (unsigned i = 0; i < dev->nb_queues; i++) {
		side->q[i].stats = &dev->qstats[i];
		side->q[i].holder = &dev->qholder[i];
		dev->pub.rxq[i] = &side->q[i];
		dev->pub.txq[i] = &side->q[i];
	}
	dev->pub.rx_burst = loop_rx_burst;
	dev->pub.tx_burst = loop_tx_burst;
	dev->priv = side;
	/* locally administered, unique per pair side */
	dev->mac[0] = 0x02;
	dev->mac[1] = 0x70;
	dev->mac[2] = 0x6e; /* "pn" */
	dev->mac[3] = (uint8_t)(dev->id >> 8);
	dev->mac[4] = (uint8_t)dev->id;
	dev->mac[5] = (uint8_t)side->index;
	snprintf(dev->name, sizeof(dev->name), "loop:%s/%u", name, side->index);
	snprintf(dev->mode, sizeof(dev->mode), "in-process pair, by pointer");
	dev->max_frame = 65535; /* packets go by pointer: any size a stack makes */
	return 0;
}

static int loop_start(struct pn_port_dev *dev)
{
	struct loop_side *side = dev->priv;

	for (unsigned i = 0; i < dev->nb_queues; i++)
		atomic_store_explicit(&side->q[i].up, true, memory_order_release);
	return 0;
}

static void loop_stop(struct pn_port_dev *dev)
{
	struct loop_side *side = dev->priv;

	for (unsigned i = 0; i < dev->nb_queues; i++) {
		atomic_store_explicit(&side->q[i].up, false, memory_order_release);
		/* packets queued to a stopped side are the port's: free them */
		drain(&side->q[i]);
	}
}

static void loop_close(struct pn_port_dev *dev)
{
	struct loop_side *side = dev->priv;
	struct loop_pair *pair;

	if (side == NULL)
		return;
	pair = side->pair;
	pthread_mutex_lock(&pairs_lock);
	for (unsigned i = 0; i < dev->nb_queues; i++)
		drain(&side->q[i]);
	pair->taken[side->index] = false;
	pair_put(pair);
	pthread_mutex_unlock(&pairs_lock);
}

static int loop_link_get(const struct pn_port_dev *dev, struct pn_port_link *link)
{
	const struct loop_side *side = dev->priv;

	link->up = atomic_load_explicit(&side->q[0].up, memory_order_relaxed) &&
		   atomic_load_explicit(&side->q[0].peer->up, memory_order_relaxed);
	link->full_duplex = true;
	link->speed_mbps = 0;
	return 0;
}

static const struct pn_port_ops loop_ops = {
	.name = "loop",
	.open = loop_open,
	.start = loop_start,
	.stop = loop_stop,
	.close = loop_close,
	.link_get = loop_link_get,
};

PN_PORT_DRIVER_BUILTIN(loop, loop_ops)
