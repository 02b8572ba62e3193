/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * impair: fault injection as a port over another port (pn_impair.h).
 *
 * Each direction of each queue has a line: a FIFO of frames with the time
 * each may leave. Every frame passes through it (due at once when no delay
 * is set), so delays, duplicates and held-back frames need no other store,
 * and the line's room is the back-pressure: receive pulls from the lower
 * port only what the line can take, send accepts only what it can hold.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pn_impair.h"
#include "pn_log.h"
#include "pn_port_driver.h"

#define IMP_LINE 1024u /* frames per line, power of two */
#define IMP_PULL 64u   /* frames taken from the lower port per rx_burst */

struct imp_line {
	uint32_t head, tail; /* head: next to leave; tail: next free */
	struct pn_pkt *pkt[IMP_LINE];
	uint64_t due[IMP_LINE]; /* microseconds on the port's clock */
};

struct imp_stats {
	_Atomic uint64_t rx_lost, rx_dup, rx_reordered, rx_delayed, rx_corrupted;
	_Atomic uint64_t tx_lost, tx_dup, tx_reordered, tx_delayed, tx_corrupted;
	_Atomic uint64_t no_buffer;
	_Atomic uint64_t tx_waiting;
};

struct imp_dir {
	double loss, dup, reorder, corrupt;
	uint32_t delay_us;
	struct pn_pkt *held; /* reordering: leaves after the next frame */
	bool busy;           /* tx: frames came since the last rx_burst */
	struct imp_line line;
};

struct imp_queue {
	struct imp_port *port;
	uint16_t qid;
	uint64_t rng;
	struct pn_port_queue_stats *qstats;
	struct imp_stats st;
	struct imp_dir rx, tx;
} __pn_cache_aligned;

struct imp_port {
	struct pn_port *lower;
	struct pn_impair conf;
	bool timed; /* a delay is set: the clock is read */
	uint16_t nb_queues;
	struct imp_queue q[PN_PORT_MAX_QUEUES];
};

/* lower ports already wrapped: two wrappers would both close one */
static pthread_mutex_t wrapped_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pn_port *wrapped[PN_MAX_PORTS];

static const struct pn_port_ops impair_ops;

/* one more of counter @p f of the direction */
#define COUNT(st, rx, f) PN_SOLE_ADD(*((rx) ? &(st)->rx_##f : &(st)->tx_##f), 1)

/* ---- settings */

static const struct {
	const char *key;
	size_t off;
	bool prob; /* a probability, else microseconds */
} imp_keys[] = {
#define P(f) { #f, offsetof(struct pn_impair, f), true }
#define D(f) { #f, offsetof(struct pn_impair, f), false }
	P(rx_loss), P(rx_dup), P(rx_reorder), P(rx_corrupt),
	P(tx_loss), P(tx_dup), P(tx_reorder), P(tx_corrupt),
	D(rx_delay_us), D(tx_delay_us),
#undef P
#undef D
};

/* Set @p key from @p val. @return 0, 1 (not an impairment key), -EINVAL. */
static int imp_set(struct pn_impair *imp, const char *key, const char *val, char *err,
		   size_t errlen)
{
	char *end;

	if (strcmp(key, "seed") == 0) {
		unsigned long long v;

		errno = 0;
		v = strtoull(val, &end, 0);
		if (errno || end == val || *end || val[0] == '-') {
			snprintf(err, errlen, "seed=%s: want a whole number", val);
			return -EINVAL;
		}
		imp->seed = v ? v : 1;
		return 0;
	}
	for (size_t i = 0; i < sizeof(imp_keys) / sizeof(imp_keys[0]); i++) {
		if (strcmp(key, imp_keys[i].key) != 0)
			continue;
		if (imp_keys[i].prob) {
			double v = strtod(val, &end);

			if (end == val || *end || !(v >= 0 && v <= 1)) {
				snprintf(err, errlen, "%s=%s: want a probability in [0, 1]", key, val);
				return -EINVAL;
			}
			*(double *)((char *)imp + imp_keys[i].off) = v;
		} else {
			unsigned long v;

			errno = 0;
			v = strtoul(val, &end, 10);
			if (errno || end == val || *end || val[0] == '-' || v > 10u * 1000 * 1000) {
				snprintf(err, errlen, "%s=%s: want microseconds up to 10000000", key,
					 val);
				return -EINVAL;
			}
			*(uint32_t *)((char *)imp + imp_keys[i].off) = (uint32_t)v;
		}
		return 0;
	}
	return 1;
}

int pn_impair_parse(const char *spec, struct pn_impair *imp, char *err, size_t errlen)
{
	const char *s = spec;

	memset(imp, 0, sizeof(*imp));
	imp->seed = 1;
	if (err && errlen)
		err[0] = '\0';
	while (s != NULL && *s != '\0') {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		const char *eq = memchr(s, '=', len);
		char key[32], val[64];
		int rc;

		if (len == 0) {
			s = end ? end + 1 : NULL;
			continue;
		}
		if (eq == NULL) {
			snprintf(err, errlen, "'%.*s': expected key=value", (int)len, s);
			return -EINVAL;
		}
		if ((size_t)(eq - s) >= sizeof(key) || len - (size_t)(eq - s) - 1 >= sizeof(val)) {
			snprintf(err, errlen, "'%.*s': too long", (int)len, s);
			return -EINVAL;
		}
		memcpy(key, s, (size_t)(eq - s));
		key[eq - s] = '\0';
		memcpy(val, eq + 1, len - (size_t)(eq - s) - 1);
		val[len - (size_t)(eq - s) - 1] = '\0';
		rc = imp_set(imp, key, val, err, errlen);
		if (rc > 0) {
			snprintf(err, errlen, "unknown key '%s' (rx_/tx_ loss, dup, reorder, corrupt, "
				 "delay_us; seed)", key);
			return -EINVAL;
		}
		if (rc < 0)
			return rc;
		s = end ? end + 1 : NULL;
	}
	return 0;
}

bool pn_impair_active(const struct pn_impair *imp)
{
	return imp->rx_loss > 0 || imp->rx_dup > 0 || imp->rx_reorder > 0 || imp->rx_corrupt > 0 ||
	       imp->tx_loss > 0 || imp->tx_dup > 0 || imp->tx_reorder > 0 || imp->tx_corrupt > 0 ||
	       imp->rx_delay_us > 0 || imp->tx_delay_us > 0;
}

/* ---- the datapath */

static uint64_t rng_next(struct imp_queue *q)
{
	uint64_t x = q->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	q->rng = x;
	return x * UINT64_C(2685821657736338717);
}

static bool chance(struct imp_queue *q, double p)
{
	return p > 0 && (double)(rng_next(q) >> 11) * 0x1.0p-53 < p;
}

static uint64_t now_us(const struct imp_port *ip)
{
	struct timespec ts;

	if (!ip->timed)
		return 0;
	if (ip->conf.clock_us)
		return ip->conf.clock_us(ip->conf.clock_arg);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint32_t line_count(const struct imp_line *l) { return l->tail - l->head; }
static uint32_t line_room(const struct imp_line *l) { return IMP_LINE - line_count(l); }

static void line_push(struct imp_line *l, struct pn_pkt *pkt, uint64_t due)
{
	l->pkt[l->tail & (IMP_LINE - 1)] = pkt;
	l->due[l->tail & (IMP_LINE - 1)] = due;
	l->tail++;
}

static void line_free(struct imp_line *l)
{
	while (l->head != l->tail)
		pn_pkt_free(l->pkt[l->head++ & (IMP_LINE - 1)]);
}

/*
 * One frame through a direction's impairments into its line. Callers keep
 * two free places in the line (a frame and its duplicate, or a held frame
 * released behind it), three with reordering.
 */
static void judge(struct imp_queue *q, struct imp_dir *d, struct pn_pkt *pkt, uint64_t now,
		  bool rx)
{
	struct imp_stats *st = &q->st;
	struct pn_pkt *copy = NULL;
	uint64_t due = now + d->delay_us;

	if (chance(q, d->loss)) {
		COUNT(st, rx, lost);
		pn_pkt_free(pkt);
		return;
	}
	if (chance(q, d->dup)) {
		copy = pn_pkt_clone(pkt);
		if (copy != NULL)
			COUNT(st, rx, dup);
		else
			PN_SOLE_ADD(st->no_buffer, 1);
	}
	/* the original's own bytes only: the duplicate stays intact */
	if (chance(q, d->corrupt) && pn_pkt_headlen(pkt) > 0) {
		if (pn_pkt_unshare(pkt) == 0) {
			uint64_t r = rng_next(q);

			pn_pkt_data(pkt)[r % pn_pkt_headlen(pkt)] ^= (uint8_t)(1u << (r >> 61));
			COUNT(st, rx, corrupted);
		} else {
			PN_SOLE_ADD(st->no_buffer, 1);
		}
	}
	if (d->delay_us)
		COUNT(st, rx, delayed);
	if (d->held == NULL && chance(q, d->reorder)) {
		COUNT(st, rx, reordered);
		d->held = pkt;
	} else {
		line_push(&d->line, pkt, due);
		if (d->held) {
			line_push(&d->line, d->held, due);
			d->held = NULL;
		}
	}
	if (copy)
		line_push(&d->line, copy, due);
}

/* Send what is due on queue @p q's transmit line, in order, while the
 * lower port takes it. */
static void tx_flush(struct imp_queue *q, uint64_t now)
{
	struct imp_line *l = &q->tx.line;
	struct pn_pkt *run[64];

	while (l->head != l->tail) {
		uint16_t n = 0, sent;

		while (n < 64 && l->head + n != l->tail &&
		       l->due[(l->head + n) & (IMP_LINE - 1)] <= now) {
			run[n] = l->pkt[(l->head + n) & (IMP_LINE - 1)];
			n++;
		}
		if (n == 0)
			break;
		sent = pn_port_tx_burst(q->port->lower, q->qid, run, n);
		l->head += sent;
		if (sent < n)
			break;
	}
	atomic_store_explicit(&q->st.tx_waiting, line_count(l) + (q->tx.held != NULL),
			      memory_order_relaxed);
}

static uint16_t impair_rx_burst(void *queue, struct pn_pkt **pkts, uint16_t n)
{
	struct imp_queue *q = queue;
	struct imp_line *l = &q->rx.line;
	uint64_t now = now_us(q->port), bytes = 0;
	uint32_t want = line_room(l) / 3;
	uint16_t got = 0;

	/* a frame held back for reordering goes alone once a round passes
	 * with nothing sent behind it (or it would wait for good) */
	if (q->tx.held && !q->tx.busy) {
		line_push(&q->tx.line, q->tx.held, now + q->tx.delay_us);
		q->tx.held = NULL;
	}
	q->tx.busy = false;
	if (q->tx.line.head != q->tx.line.tail)
		tx_flush(q, now);
	if (want > IMP_PULL)
		want = IMP_PULL;
	if (want > 0) {
		struct pn_pkt *in[IMP_PULL];
		uint16_t m = pn_port_rx_burst(q->port->lower, q->qid, in, (uint16_t)want);

		for (uint16_t i = 0; i < m; i++)
			judge(q, &q->rx, in[i], now, true);
		/* nothing came behind a held frame: it goes now */
		if (m == 0 && q->rx.held) {
			line_push(l, q->rx.held, now + q->rx.delay_us);
			q->rx.held = NULL;
		}
	}
	while (got < n && l->head != l->tail && l->due[l->head & (IMP_LINE - 1)] <= now) {
		pkts[got] = l->pkt[l->head++ & (IMP_LINE - 1)];
		bytes += pkts[got]->pkt_len;
		got++;
	}
	if (got) {
		PN_QSTAT_ADD(q->qstats, ipackets, got);
		PN_QSTAT_ADD(q->qstats, ibytes, bytes);
	}
	return got;
}

static uint16_t impair_tx_burst(void *queue, struct pn_pkt **pkts, uint16_t n)
{
	struct imp_queue *q = queue;
	struct imp_line *l = &q->tx.line;
	uint64_t now = now_us(q->port), bytes = 0;
	uint32_t take;

	tx_flush(q, now);
	q->tx.busy = true;
	take = line_room(l) / 3;
	if (take > n)
		take = n;
	for (uint32_t i = 0; i < take; i++) {
		bytes += pkts[i]->pkt_len;
		judge(q, &q->tx, pkts[i], now, false);
	}
	if (take < n)
		PN_QSTAT_ADD(q->qstats, odrops, n - take);
	PN_QSTAT_ADD(q->qstats, opackets, take);
	PN_QSTAT_ADD(q->qstats, obytes, bytes);
	tx_flush(q, now);
	return (uint16_t)take;
}

/* ---- control path */

static void queues_free(struct imp_port *ip)
{
	for (unsigned i = 0; i < ip->nb_queues; i++) {
		struct imp_queue *q = &ip->q[i];

		line_free(&q->rx.line);
		line_free(&q->tx.line);
		pn_pkt_free(q->rx.held);
		pn_pkt_free(q->tx.held);
		q->rx.held = q->tx.held = NULL;
		atomic_store_explicit(&q->st.tx_waiting, 0, memory_order_relaxed);
	}
}

static void configure(struct imp_port *ip, const struct pn_impair *imp)
{
	ip->conf = *imp;
	if (ip->conf.seed == 0)
		ip->conf.seed = 1;
	ip->timed = imp->rx_delay_us > 0 || imp->tx_delay_us > 0;
	for (unsigned i = 0; i < ip->nb_queues; i++) {
		struct imp_queue *q = &ip->q[i];

		/* a stream per queue, all from the one seed */
		q->rng = ip->conf.seed * UINT64_C(0x9e3779b97f4a7c15) + i + 1;
		if (q->rng == 0)
			q->rng = 1;
		q->rx.loss = imp->rx_loss;
		q->rx.dup = imp->rx_dup;
		q->rx.reorder = imp->rx_reorder;
		q->rx.corrupt = imp->rx_corrupt;
		q->rx.delay_us = imp->rx_delay_us;
		q->tx.loss = imp->tx_loss;
		q->tx.dup = imp->tx_dup;
		q->tx.reorder = imp->tx_reorder;
		q->tx.corrupt = imp->tx_corrupt;
		q->tx.delay_us = imp->tx_delay_us;
	}
}

static int impair_open(struct pn_port_dev *dev, struct pn_kvargs *args)
{
	struct pn_impair imp = { .seed = 1 };
	struct pn_port_info li;
	struct pn_port *lower;
	struct imp_port *ip;
	unsigned id = PN_MAX_PORTS;
	char err[128];

	if (pn_kvargs_get_uint(args, "lower", 0, PN_MAX_PORTS - 1, &id) != 0 ||
	    id == PN_MAX_PORTS) {
		pn_log(PN_LOG_ERR, "impair", "want lower=ID, the id of an open port");
		return -EINVAL;
	}
	for (unsigned i = 0; i < args->n; i++) {
		int rc;

		if (args->used[i])
			continue;
		rc = imp_set(&imp, args->kv[i].key, args->kv[i].value, err, sizeof(err));
		if (rc < 0) {
			pn_log(PN_LOG_ERR, "impair", "%s", err);
			return rc;
		}
		if (rc == 0)
			args->used[i] = true;
	}
	lower = pn_port_by_id((uint16_t)id);
	if (lower == NULL || pn_port_dev(lower)->ops == &impair_ops) {
		pn_log(PN_LOG_ERR, "impair", "lower=%u: %s", id,
		       lower ? "is an impair port itself" : "no open port has that id");
		return -EINVAL;
	}
	pn_port_info_get(lower, &li);
	if (li.nb_queues != dev->nb_queues) {
		pn_log(PN_LOG_ERR, "impair", "lower=%u has %u queues, this port %u", id,
		       li.nb_queues, dev->nb_queues);
		return -EINVAL;
	}
	pthread_mutex_lock(&wrapped_lock);
	if (wrapped[id] != NULL) {
		pthread_mutex_unlock(&wrapped_lock);
		pn_log(PN_LOG_ERR, "impair", "port %s is already wrapped", li.name);
		return -EBUSY;
	}
	wrapped[id] = lower;
	pthread_mutex_unlock(&wrapped_lock);

	ip = aligned_alloc(PN_CACHE_LINE, PN_ALIGN_UP(sizeof(*ip), PN_CACHE_LINE));
	if (ip == NULL) {
		pthread_mutex_lock(&wrapped_lock);
		wrapped[id] = NULL;
		pthread_mutex_unlock(&wrapped_lock);
		return -ENOMEM;
	}
	memset(ip, 0, sizeof(*ip));
	ip->lower = lower;
	ip->nb_queues = dev->nb_queues;
	for (unsigned i = 0; i < dev->nb_queues; i++) {
		ip->q[i].port = ip;
		ip->q[i].qid = (uint16_t)i;
		ip->q[i].qstats = &dev->qstats[i];
		dev->pub.rxq[i] = &ip->q[i];
		dev->pub.txq[i] = &ip->q[i];
	}
	configure(ip, &imp);
	dev->pub.rx_burst = impair_rx_burst;
	dev->pub.tx_burst = impair_tx_burst;
	dev->priv = ip;
	memcpy(dev->mac, li.mac, sizeof(dev->mac));
	snprintf(dev->name, sizeof(dev->name), "impair:%.24s", li.name);
	snprintf(dev->mode, sizeof(dev->mode), "fault injection over %.40s", li.mode);
	dev->max_frame = li.max_frame;
	return 0;
}

static int impair_start(struct pn_port_dev *dev)
{
	struct imp_port *ip = dev->priv;

	return pn_port_start(ip->lower);
}

static void impair_stop(struct pn_port_dev *dev)
{
	struct imp_port *ip = dev->priv;

	pn_port_stop(ip->lower);
	queues_free(ip);
}

static void impair_close(struct pn_port_dev *dev)
{
	struct imp_port *ip = dev->priv;

	if (ip == NULL)
		return;
	queues_free(ip);
	pthread_mutex_lock(&wrapped_lock);
	wrapped[pn_port_id(ip->lower)] = NULL;
	pthread_mutex_unlock(&wrapped_lock);
	pn_port_close(ip->lower);
	free(ip);
	dev->priv = NULL;
}

static int impair_link_get(const struct pn_port_dev *dev, struct pn_port_link *link)
{
	const struct imp_port *ip = dev->priv;

	return pn_port_link_get(ip->lower, link);
}

static int impair_rx_fd(const struct pn_port_dev *dev, uint16_t q)
{
	const struct imp_port *ip = dev->priv;

	/* delayed frames do not wake a sleeper: a delay line wants polling */
	return ip->timed ? -ENOTSUP : pn_port_rx_fd(ip->lower, q);
}

static const struct pn_port_ops impair_ops = {
	.name = "impair",
	.open = impair_open,
	.start = impair_start,
	.stop = impair_stop,
	.close = impair_close,
	.link_get = impair_link_get,
	.rx_fd = impair_rx_fd,
};

PN_PORT_DRIVER_BUILTIN(impair, impair_ops)

struct pn_port *pn_impair_wrap(struct pn_port *lower, const struct pn_impair *imp,
			       const char *name)
{
	struct pn_port_conf conf = { .sz = sizeof(conf), .name = name };
	struct pn_port_dev *ldev;
	struct pn_port *port;
	char args[32];

	if (lower == NULL || imp == NULL) {
		errno = EINVAL;
		return NULL;
	}
	ldev = pn_port_dev(lower);
	conf.nb_queues = ldev->nb_queues;
	memcpy(conf.pools, ldev->pools, sizeof(conf.pools));
	snprintf(args, sizeof(args), "lower=%u", pn_port_id(lower));
	port = pn_port_open("impair", args, &conf);
	if (port == NULL)
		return NULL;
	configure(pn_port_dev(port)->priv, imp);
	return port;
}

int pn_impair_stats_get(const struct pn_port *port, struct pn_impair_stats *st)
{
	const struct pn_port_dev *dev;
	const struct imp_port *ip;

	memset(st, 0, sizeof(*st));
	if (port == NULL || (dev = pn_port_dev(port))->ops != &impair_ops)
		return -EINVAL;
	ip = dev->priv;
	for (unsigned i = 0; i < ip->nb_queues; i++) {
		const struct imp_stats *s = &ip->q[i].st;
#define LD(f) st->f += atomic_load_explicit(&s->f, memory_order_relaxed)
		LD(rx_lost);
		LD(rx_dup);
		LD(rx_reordered);
		LD(rx_delayed);
		LD(rx_corrupted);
		LD(tx_lost);
		LD(tx_dup);
		LD(tx_reordered);
		LD(tx_delayed);
		LD(tx_corrupted);
		LD(no_buffer);
		LD(tx_waiting);
#undef LD
	}
	return 0;
}
