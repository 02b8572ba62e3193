/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pagenet-fwd: a packet forwarder in the spirit of dpdk-testpmd.
 *
 * Ports come from the command line ("af_xdp:iface=veth1") or a config file;
 * they are paired 0<->1, 2<->3 (an odd last port answers to itself). One
 * pinned thread per queue index serves that queue of every port, allocating
 * from its own pool (all pools share one region, so AF_XDP ports share one
 * UMEM and forward without copying). Modes: io, mac, macswap, rxonly, txonly.
 *
 * Prints port and pool rates every second (or JSON lines with --json), serves
 * telemetry, and on Ctrl-C or --duration stops, closes the ports and checks
 * that every page came back to its pool: a leak is an error exit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fwd_config.h"
#include "pn_app.h"
#include "pn_app_tel.h"
#include "pn_impair.h"
#include "pn_log.h"
#include "pn_port.h"
#include "pn_telemetry.h"
#include "pn_wire.h"

#define MAX_BURST 256

struct worker {
	pthread_t thread;
	unsigned q;
	struct pn_pool *pool;
	/* --pipeline: packets for each output port, from the receiving thread
	 * to the transmitting one (single producer, single consumer) */
	struct pn_ring *handoff[PN_MAX_PORTS];
	pthread_t tx_thread;
	_Atomic bool rx_done; /* the receiving thread hands nothing more */
	_Atomic uint64_t fwd_drops; /* refused by the tx port, freed here */
	_Atomic uint64_t generated;
	_Atomic uint64_t acct_drops; /* received pages the group had no room for */
	_Atomic uint64_t malformed;  /* frames too short to forward in mac modes */
} __pn_cache_aligned;

static struct pn_acct_group *acct_group; /* the leaf of cfg.acct_path */
static struct pn_acct_pin acct_pin;
static struct pn_port *ports[PN_MAX_PORTS];
static uint8_t port_mac[PN_MAX_PORTS][6];
static struct worker workers[PN_PORT_MAX_QUEUES];
static struct pn_region *region;
static _Atomic bool workers_stop;

static unsigned peer_of(unsigned p)
{
	if (cfg.nb_ports == 1)
		return 0;
	if ((p ^ 1) >= cfg.nb_ports)
		return p; /* odd last port answers to itself */
	return p ^ 1;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: pagenet-fwd [options] PORT [PORT...]\n"
		"  PORT is driver:args, e.g. af_xdp:iface=veth1 or loop:pair=x\n"
		"  (af_xdp args: iface, xdp=auto|native|skb, bind=auto|zc|copy,\n"
		"   need_wakeup=0|1, busy_poll=USECS, start_queue=N,\n"
		"   dst_mac=own|MAC, dst_ip=A.B.C.D, proto=udp|tcp|icmp, dport=N)\n"
		"Ports are paired 0<->1, 2<->3; what one receives the other sends.\n\n"
		"  -c, --config FILE     read options and ports from an INI file (config/)\n"
		"  -m, --mode MODE       io (default), mac, macswap, rxonly, txonly\n"
		"  -q, --queues N        queues per port, one pinned thread each (1)\n"
		"      --cpus LIST       CPUs for the queue threads, e.g. 0,1 (default: in order)\n"
		"  -b, --burst N         packets per burst (32, max %d)\n"
		"      --tx-drain N      send a partial burst after N poll rounds (16; 1 = at once)\n"
		"      --acct PATH[:MAX] charge received pages to accounting group PATH (a/b),\n"
		"                        created with memory.max MAX pages; over it, drop\n"
		"      --ring N          descriptors per ring (driver default)\n"
		"      --pages N         pages in the shared region (enough for the rings)\n"
		"      --eth-peer P,MAC  destination MAC for port P in mac and txonly modes\n"
		"      --pkt-size N      txonly: frame size without FCS (64)\n"
		"      --rate PPS        txonly: packets per second in all (0 = no limit)\n"
		"      --flows N         txonly: UDP source ports to rotate through (1)\n"
		"      --src-ip A --dst-ip B  txonly: addresses (10.0.0.1, 10.0.0.2); IPv6\n"
		"                        ones make UDP over IPv6\n"
		"  -d, --duration S      stop after S seconds (default: until Ctrl-C)\n"
		"  -p, --stats-period S  seconds between stats lines (1)\n"
		"  -j, --json            stats as JSON lines\n"
		"      --no-telemetry    do not serve the telemetry socket\n"
		"      --pipeline        receive on one thread and transmit on another per\n"
		"                        queue: packets handed over a ring, the device's\n"
		"                        completions recycling pages to the receiver's pool\n"
		"                        across threads (loop and af_xdp ports)\n"
		"  -v, --verbose         debug messages, with libbpf's and libxdp's own\n"
		"                        account of what failed\n"
		"      --impair SPEC     fault injection over every port: rx_loss=P,rx_dup=P,\n"
		"                        rx_reorder=P,rx_corrupt=P,rx_delay_us=N, tx_ the same,\n"
		"                        seed=N (a port's own 'impair' key in a config wins)\n"
		"  -h, --help\n", MAX_BURST);
}

/* the data path */

/* @return false for a frame too short to have an Ethernet header */
static inline bool mac_rewrite(struct pn_pkt *pkt, unsigned txp, bool swap)
{
	uint8_t *eth = pn_pkt_data(pkt);
	uint8_t tmp[6];

	if (pn_unlikely(pn_pkt_headlen(pkt) < 14))
		return false;
	if (swap) {
		memcpy(tmp, eth, 6);
		memcpy(eth, eth + 6, 6);
		memcpy(eth + 6, tmp, 6);
	} else {
		memcpy(eth, cfg.ports[txp].peer_mac, 6);
		memcpy(eth + 6, port_mac[txp], 6);
	}
	return true;
}

/* The same over IPv6: the payload is written before the checksum IPv6 needs. */
static struct pn_pkt *make_udp6(struct pn_pool *pool, unsigned txp, uint64_t seq,
				unsigned flow)
{
	struct pn_wire_udp6 spec = { .sport = (uint16_t)(1024 + flow), .dport = 9000 };
	size_t hdrs = PN_ETH_HLEN + PN_IPV6_HLEN + sizeof(struct pn_udp_hdr);
	struct pn_pkt *pkt = pn_pkt_alloc(pool);
	unsigned len = cfg.pkt_size;
	uint8_t payload[2048] = { 0 };
	uint8_t *f;

	if (pkt == NULL)
		return NULL;
	f = pn_pkt_append(pkt, len);
	if (f == NULL || len < hdrs + 8) {
		pn_pkt_free(pkt);
		return NULL;
	}
	memcpy(spec.src_ip, &cfg.src_ip6, 16);
	memcpy(spec.dst_ip, &cfg.dst_ip6, 16);
	memcpy(spec.dst_mac, cfg.ports[txp].peer_mac, 6);
	memcpy(spec.src_mac, port_mac[txp], 6);
	memcpy(payload, &seq, 8);
	pn_wire_udp6_frame(f, len, &spec, payload, len - hdrs);
	return pkt;
}

/* A UDP/IPv4 frame of cfg.pkt_size bytes; the payload starts with a sequence number. */
static struct pn_pkt *make_udp4(struct pn_pool *pool, unsigned txp, uint64_t seq,
				unsigned flow)
{
	struct pn_wire_udp4 spec = {
		.src_ip = ntohl(cfg.src_ip.s_addr),
		.dst_ip = ntohl(cfg.dst_ip.s_addr),
		.sport = (uint16_t)(1024 + flow),
		.dport = 9000,
		.no_csum = true, /* allowed over IPv4; the generator's time is the point */
	};
	size_t hdrs = PN_ETH_HLEN + sizeof(struct pn_ipv4_hdr) + sizeof(struct pn_udp_hdr);
	struct pn_pkt *pkt = pn_pkt_alloc(pool);
	unsigned len = cfg.pkt_size;
	uint8_t *f;

	if (pkt == NULL)
		return NULL;
	f = pn_pkt_append(pkt, len);
	if (f == NULL || len < hdrs) {
		pn_pkt_free(pkt);
		return NULL;
	}
	memcpy(spec.dst_mac, cfg.ports[txp].peer_mac, 6);
	memcpy(spec.src_mac, port_mac[txp], 6);
	pn_wire_udp4_frame(f, len, &spec, NULL, len - hdrs);
	if (len >= hdrs + 8)
		memcpy(f + hdrs, &seq, 8);
	return pkt;
}

static struct pn_pkt *make_udp(struct pn_pool *pool, unsigned txp, uint64_t seq,
			       unsigned flow)
{
	return cfg.src_is6 ? make_udp6(pool, txp, seq, flow) : make_udp4(pool, txp, seq, flow);
}

static void pin(unsigned q)
{
	cpu_set_t set;
	int cpu;

	if (cfg.nb_cpus == 0) {
		if (pn_app_pin_nth(q) < 0)
			fprintf(stderr, "pagenet-fwd: cannot pin queue %u\n", q);
		return;
	}
	cpu = cfg.cpus[q % cfg.nb_cpus];
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
		fprintf(stderr, "pagenet-fwd: cannot pin queue %u to CPU %d\n", q, cpu);
}

/*
 * Packets waiting to be sent on one port. Forwarding sends in bursts of
 * cfg.burst (as DPDK's l2fwd does with rte_eth_tx_buffer): on AF_XDP copy
 * mode every send costs a system call, so a poll loop that catches a few
 * packets at a time would otherwise pay one per handful. A buffer is flushed
 * when full or after cfg.tx_drain poll rounds (a round costs well under a
 * microsecond, so that is about the latency it adds; --tx-drain 1 sends
 * every burst at once).
 */

struct txbuf {
	uint16_t n;
	uint16_t age; /* poll rounds since the first packet went in */
	struct pn_pkt *pkts[MAX_BURST];
};

static void txb_flush(struct worker *w, struct txbuf *tb, unsigned txp, uint16_t q)
{
	uint16_t sent;

	if (tb->n == 0)
		return;
	sent = pn_port_tx_burst(ports[txp], q, tb->pkts, tb->n);
	if (pn_unlikely(sent < tb->n)) {
		for (uint16_t i = sent; i < tb->n; i++)
			pn_pkt_free(tb->pkts[i]);
		atomic_fetch_add_explicit(&w->fwd_drops, (uint64_t)(tb->n - sent),
					  memory_order_relaxed);
	}
	tb->n = 0;
	tb->age = 0;
}

/*
 * Charge each received page to the accounting group before it is kept or
 * forwarded; the POOL destructor uncharges it when the device is done. A
 * page the group has no room for is dropped (and recycles at once).
 */
static uint16_t charge_received(struct worker *w, struct pn_pkt **pkts, uint16_t n)
{
	uint16_t kept = 0;

	for (uint16_t i = 0; i < n; i++) {
		struct pn_frame *f = pn_pkt_own_shinfo(pkts[i])->frame;

		if (pn_likely(pn_pool_charge(f, acct_group, PN_ACCT_QUEUED) == 0)) {
			pkts[kept++] = pkts[i];
		} else {
			pn_pkt_free(pkts[i]);
			atomic_fetch_add_explicit(&w->acct_drops, 1, memory_order_relaxed);
		}
	}
	return kept;
}

static void forward_loop(struct worker *w)
{
	struct txbuf tb[PN_MAX_PORTS] = { 0 };
	struct pn_pkt *pkts[MAX_BURST];
	uint16_t q = (uint16_t)w->q;

	while (!atomic_load_explicit(&workers_stop, memory_order_relaxed)) {
		for (unsigned p = 0; p < cfg.nb_ports; p++) {
			unsigned txp = peer_of(p);
			struct txbuf *b = &tb[txp];
			uint16_t n = pn_port_rx_burst(ports[p], q, pkts, (uint16_t)cfg.burst);

			if (n == 0)
				continue;
			if (acct_group != NULL)
				n = charge_received(w, pkts, n);
			if (cfg.mode == MODE_RXONLY) {
				for (uint16_t i = 0; i < n; i++)
					pn_pkt_free(pkts[i]);
				continue;
			}
			if (cfg.mode == MODE_MAC || cfg.mode == MODE_MACSWAP) {
				uint16_t kept = 0;

				/* a runt cannot be rewritten: counted and dropped */
				for (uint16_t i = 0; i < n; i++) {
					if (pn_likely(mac_rewrite(pkts[i], txp,
								  cfg.mode == MODE_MACSWAP))) {
						pkts[kept++] = pkts[i];
					} else {
						pn_pkt_free(pkts[i]);
						atomic_fetch_add_explicit(&w->malformed, 1,
									  memory_order_relaxed);
					}
				}
				n = kept;
				if (n == 0)
					continue;
			}
			if (cfg.pipeline) {
				/* to the transmitting thread; a full ring is counted
				 * and dropped here, as a full transmit ring is */
				unsigned k = pn_ring_enqueue_burst(w->handoff[txp], (void **)pkts, n);

				for (unsigned i = k; i < n; i++)
					pn_pkt_free(pkts[i]);
				if (k < n)
					atomic_fetch_add_explicit(&w->fwd_drops, n - k,
								  memory_order_relaxed);
				continue;
			}
			if (b->n + n > cfg.burst)
				txb_flush(w, b, txp, q);
			memcpy(&b->pkts[b->n], pkts, n * sizeof(pkts[0]));
			b->n = (uint16_t)(b->n + n);
			if (b->n >= cfg.burst)
				txb_flush(w, b, txp, q);
		}
		for (unsigned p = 0; p < cfg.nb_ports; p++)
			if (tb[p].n && ++tb[p].age >= cfg.tx_drain)
				txb_flush(w, &tb[p], p, q);
	}
	for (unsigned p = 0; p < cfg.nb_ports; p++)
		txb_flush(w, &tb[p], p, q);
}

static void txonly_loop(struct worker *w)
{
	struct pn_pkt *pkts[MAX_BURST];
	uint16_t q = (uint16_t)w->q;
	double tokens = 0, per_s = cfg.rate / cfg.queues, last = pn_now_s();
	uint64_t seq = 0;
	unsigned flow = 0;

	while (!atomic_load_explicit(&workers_stop, memory_order_relaxed)) {
		for (unsigned p = 0; p < cfg.nb_ports; p++) {
			unsigned want = cfg.burst;
			uint16_t n, sent;

			/* drain what arrives so the rings keep moving */
			n = pn_port_rx_burst(ports[p], q, pkts, (uint16_t)cfg.burst);
			if (n && acct_group != NULL)
				n = charge_received(w, pkts, n);
			for (uint16_t i = 0; i < n; i++)
				pn_pkt_free(pkts[i]);
			if (per_s > 0) {
				double t = pn_now_s();

				tokens = PN_MIN(tokens + (t - last) * per_s, (double)cfg.burst);
				last = t;
				want = (unsigned)tokens;
				tokens -= want;
			}
			for (n = 0; n < want; n++) {
				pkts[n] = make_udp(w->pool, p, seq, flow);
				if (pkts[n] == NULL)
					break;
				seq++;
				flow = flow + 1 == cfg.flows ? 0 : flow + 1;
			}
			if (n == 0)
				continue;
			sent = pn_port_tx_burst(ports[p], q, pkts, n);
			atomic_fetch_add_explicit(&w->generated, sent, memory_order_relaxed);
			if (pn_unlikely(sent < n)) {
				for (uint16_t i = sent; i < n; i++)
					pn_pkt_free(pkts[i]);
				atomic_fetch_add_explicit(&w->fwd_drops, (uint64_t)(n - sent),
							  memory_order_relaxed);
			}
		}
	}
}

/*
 * --pipeline, the transmitting half: what the receiving thread handed over,
 * sent in bursts. The device's completions free the packets here, so their
 * pages go back to the receiving thread's pool across threads (the pool's
 * recycle ring), which is what this mode is for.
 */
static void *tx_main(void *arg)
{
	struct worker *w = arg;
	struct pn_pkt *pkts[MAX_BURST];
	char name[16];

	snprintf(name, sizeof(name), "pn-fwd-tx%u", w->q);
	pthread_setname_np(pthread_self(), name);
	pin(w->q + cfg.queues);
	for (unsigned idle = 0;;) {
		bool rx_done = atomic_load_explicit(&w->rx_done, memory_order_acquire);
		unsigned moved = 0;

		for (unsigned p = 0; p < cfg.nb_ports; p++) {
			unsigned n = pn_ring_dequeue_burst(w->handoff[p], (void **)pkts, cfg.burst);
			uint16_t sent;

			if (n == 0)
				continue;
			moved += n;
			sent = pn_port_tx_burst(ports[p], (uint16_t)w->q, pkts, (uint16_t)n);
			for (unsigned i = sent; i < n; i++)
				pn_pkt_free(pkts[i]);
			if (sent < n)
				atomic_fetch_add_explicit(&w->fwd_drops, n - sent, memory_order_relaxed);
		}
		if (moved) {
			idle = 0;
		} else {
			if (rx_done)
				break; /* the receiver stopped and the rings are empty */
			/* keep completions moving while idle (an empty burst
			 * reaps them), now and then: not a system call per spin */
			if ((++idle & 63) == 0)
				for (unsigned p = 0; p < cfg.nb_ports; p++)
					pn_port_tx_burst(ports[p], (uint16_t)w->q, pkts, 0);
			pn_cpu_relax();
		}
	}
	return NULL;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char name[16];

	snprintf(name, sizeof(name), "pn-fwd-q%u", w->q);
	pthread_setname_np(pthread_self(), name);
	pin(w->q);
	pn_pool_set_owner(w->pool, pn_thread_id());
	if (cfg.mode == MODE_TXONLY)
		txonly_loop(w);
	else
		forward_loop(w);
	atomic_store_explicit(&w->rx_done, true, memory_order_release);
	return NULL;
}

/* statistics */

struct snap {
	double t;
	struct pn_port_stats port[PN_MAX_PORTS];
	struct pn_pool_stats_sum pool[PN_PORT_MAX_QUEUES];
	uint64_t fwd_drops;
	uint64_t malformed;
};

static void take_snap(struct snap *s)
{
	s->t = pn_now_s();
	s->fwd_drops = 0;
	s->malformed = 0;
	for (unsigned p = 0; p < cfg.nb_ports; p++)
		pn_port_stats_get(ports[p], &s->port[p]);
	for (unsigned q = 0; q < cfg.queues; q++) {
		pn_pool_get_stats(workers[q].pool, &s->pool[q]);
		s->fwd_drops += atomic_load_explicit(&workers[q].fwd_drops, memory_order_relaxed);
		s->malformed += atomic_load_explicit(&workers[q].malformed, memory_order_relaxed);
	}
}

static void print_stats(const struct snap *a, const struct snap *b, double elapsed, bool final)
{
	double dt = b->t - a->t;

	if (dt <= 0)
		dt = 1e-9;
	if (cfg.json) {
		json_t *root = json_pack("{sf sb ss}", "t", elapsed, "final", final,
					 "mode", fwd_mode_names[cfg.mode]);
		json_t *jp = json_array(), *jq = json_array();

		for (unsigned p = 0; p < cfg.nb_ports; p++) {
			const struct pn_port_stats *x = &a->port[p], *y = &b->port[p];
			json_t *j = pn_app_tel("/port,%u", pn_port_id(ports[p]));

			json_object_set_new(j, "rx_pps", json_real((double)(y->ipackets - x->ipackets) / dt));
			json_object_set_new(j, "tx_pps", json_real((double)(y->opackets - x->opackets) / dt));
			json_object_set_new(j, "rx_bps", json_real((double)(y->ibytes - x->ibytes) * 8 / dt));
			json_object_set_new(j, "tx_bps", json_real((double)(y->obytes - x->obytes) * 8 / dt));
			{
				struct pn_impair_stats is;

				if (pn_impair_stats_get(ports[p], &is) == 0)
					json_object_set_new(j, "impair", pn_app_tel_impair(&is));
			}
			json_array_append_new(jp, j);
		}
		for (unsigned q = 0; q < cfg.queues; q++) {
			json_t *j = pn_app_tel("/pool,%u", workers[q].pool->id);

			json_object_set_new(j, "recycle_rate_interval",
					    json_real(pn_pool_recycle_rate_between(&a->pool[q], &b->pool[q])));
			json_array_append_new(jq, j);
		}
		json_object_set_new(root, "ports", jp);
		json_object_set_new(root, "pools", jq);
		json_object_set_new(root, "fwd_drops", json_integer((json_int_t)b->fwd_drops));
		json_object_set_new(root, "malformed", json_integer((json_int_t)b->malformed));
		if (acct_group != NULL)
			json_object_set_new(root, "acct", pn_app_tel_group(acct_group));
		json_dumpf(root, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(root);
	} else {
		printf("%s%6.1fs %s\n", final ? "== total " : "-- ", elapsed,
		       final ? "(rates and counts over the whole run)"
			     : "(rates and counts over the last interval; drops etc. since start)");
		for (unsigned p = 0; p < cfg.nb_ports; p++) {
			const struct pn_port_stats *x = &a->port[p], *y = &b->port[p];
			struct pn_port_link link = { 0 };

			pn_port_link_get(ports[p], &link);
			printf("  port %u (link %s)  rx %9.0f pps %8.1f Mbit/s  tx %9.0f pps %8.1f Mbit/s"
			       "  | since start: drops %llu (rx ring full %llu, no fill buffer %llu,"
			       " tx ring full %llu)  nombuf %llu  copies %llu\n", p,
			       link.up ? "up" : "DOWN",
			       (double)(y->ipackets - x->ipackets) / dt,
			       (double)(y->ibytes - x->ibytes) * 8e-6 / dt,
			       (double)(y->opackets - x->opackets) / dt,
			       (double)(y->obytes - x->obytes) * 8e-6 / dt,
			       (unsigned long long)(y->idrops + y->odrops + y->dev_rx_dropped),
			       (unsigned long long)y->dev_rx_ring_full,
			       (unsigned long long)(y->dev_rx_dropped - y->dev_rx_ring_full),
			       (unsigned long long)y->odrops,
			       (unsigned long long)y->rx_nombuf,
			       (unsigned long long)y->tx_copies);
		}
		for (unsigned q = 0; q < cfg.queues; q++) {
			const struct pn_pool_stats_sum *x = &a->pool[q], *y = &b->pool[q];
			char rate[16];

			pn_app_recycle_pct(rate, sizeof(rate), "%.4f%%", x, y);
			printf("  pool q%u  alloc fast %llu slow %llu  recycled %llu released %llu"
			       "  recycle rate %s\n", q,
			       (unsigned long long)(y->alloc_fast - x->alloc_fast),
			       (unsigned long long)(y->alloc_slow - x->alloc_slow),
			       (unsigned long long)(y->recycle_cached + y->recycle_ring - x->recycle_cached - x->recycle_ring),
			       (unsigned long long)(y->recycle_released_refcnt - x->recycle_released_refcnt),
			       rate);
		}
		if (acct_group != NULL) {
			struct pn_acct_events ev;
			char path[128];
			uint64_t drops = 0;

			for (unsigned q = 0; q < cfg.queues; q++)
				drops += atomic_load_explicit(&workers[q].acct_drops,
							      memory_order_relaxed);
			pn_acct_events(acct_group, &ev);
			pn_acct_path(acct_group, path, sizeof(path));
			printf("  acct %s  current %lld pages  peak %lld  events max %llu fail %llu"
			       "  dropped %llu\n", path, (long long)pn_acct_current(acct_group),
			       (long long)pn_acct_peak(acct_group), (unsigned long long)ev.max,
			       (unsigned long long)ev.fail, (unsigned long long)drops);
		}
	}
	pn_app_flush(); /* a reader that went away stops us as Ctrl-C does */
}

/* Create every level of cfg.acct_path; the leaf gets cfg.acct_max. */
static int make_acct_group(void)
{
	struct pn_acct_group *g = pn_acct_group_mkpath(cfg.acct_path);

	if (g == NULL) {
		fprintf(stderr, "pagenet-fwd: cannot create accounting group %s: %s\n",
			cfg.acct_path, errno == EINVAL ? "needs a group path, not /" : strerror(errno));
		return -1;
	}
	pn_acct_set_max(g, cfg.acct_max);
	/* the workers charge it: nobody may destroy it under them */
	pn_acct_pin(g, &acct_pin, "pagenet-fwd workers");
	acct_group = g;
	return 0;
}

/* After the pools are gone every charge must be back: @return pages not. */
static int64_t destroy_acct_groups(void)
{
	struct pn_acct_group *g = acct_group;
	int64_t left = 0;

	pn_acct_unpin(&acct_pin);
	pn_acct_drain_all();
	while (g != NULL && g != pn_acct_root()) {
		struct pn_acct_group *parent = pn_acct_parent(g);

		if (pn_acct_current(g) != 0) {
			fprintf(stderr, "pagenet-fwd: group %s still has %lld pages charged\n",
				pn_acct_name(g), (long long)pn_acct_current(g));
			left += pn_acct_current(g);
		}
		if (pn_acct_group_destroy(g) != 0)
			break;
		g = parent;
	}
	return left;
}

static int tel_fwd(const char *cmd, const char *params, struct pn_tel_data *d)
{
	uint64_t drops = 0, gen = 0, adrops = 0, bad = 0;

	(void)cmd, (void)params;
	for (unsigned q = 0; q < cfg.queues; q++) {
		drops += atomic_load_explicit(&workers[q].fwd_drops, memory_order_relaxed);
		gen += atomic_load_explicit(&workers[q].generated, memory_order_relaxed);
		adrops += atomic_load_explicit(&workers[q].acct_drops, memory_order_relaxed);
		bad += atomic_load_explicit(&workers[q].malformed, memory_order_relaxed);
	}
	pn_tel_start_dict(d);
	pn_tel_add_string(d, "mode", fwd_mode_names[cfg.mode]);
	pn_tel_add_int(d, "ports", cfg.nb_ports);
	pn_tel_add_int(d, "queues", cfg.queues);
	pn_tel_add_uint(d, "fwd_drops", drops);
	pn_tel_add_uint(d, "generated", gen);
	pn_tel_add_uint(d, "acct_drops", adrops);
	return pn_tel_add_uint(d, "malformed", bad);
}

static int parse_args(int argc, char **argv)
{
	enum { O_CPUS = 256, O_DRAIN, O_ACCT, O_RING, O_PAGES, O_PEER, O_SIZE, O_RATE, O_FLOWS, O_SRC,
	       O_DST, O_NOTEL, O_IMPAIR, O_PIPELINE };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "mode", required_argument, NULL, 'm' },
		{ "queues", required_argument, NULL, 'q' },
		{ "cpus", required_argument, NULL, O_CPUS },
		{ "burst", required_argument, NULL, 'b' },
		{ "tx-drain", required_argument, NULL, O_DRAIN },
		{ "acct", required_argument, NULL, O_ACCT },
		{ "ring", required_argument, NULL, O_RING },
		{ "pages", required_argument, NULL, O_PAGES },
		{ "eth-peer", required_argument, NULL, O_PEER },
		{ "pkt-size", required_argument, NULL, O_SIZE },
		{ "rate", required_argument, NULL, O_RATE },
		{ "flows", required_argument, NULL, O_FLOWS },
		{ "src-ip", required_argument, NULL, O_SRC },
		{ "dst-ip", required_argument, NULL, O_DST },
		{ "duration", required_argument, NULL, 'd' },
		{ "stats-period", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "no-telemetry", no_argument, NULL, O_NOTEL },
		{ "verbose", no_argument, NULL, 'v' },
		{ "impair", required_argument, NULL, O_IMPAIR },
		{ "pipeline", no_argument, NULL, O_PIPELINE },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c, idx;

	inet_pton(AF_INET, "10.0.0.1", &cfg.src_ip);
	inet_pton(AF_INET, "10.0.0.2", &cfg.dst_ip);
	while ((c = getopt_long(argc, argv, "c:m:q:b:d:p:jhv", opts, &idx)) != -1) {
		const char *key = NULL;
		int rc;

		switch (c) {
		case 'c':
			if (fwd_load_config(optarg, NULL, stderr))
				return -1;
			continue;
		case 'j':
			cfg.json = true;
			continue;
		case O_NOTEL:
			cfg.telemetry = false;
			continue;
		case O_PIPELINE:
			cfg.pipeline = true;
			continue;
		case 'v':
			pn_log_set_level(PN_LOG_DEBUG);
			continue;
		case O_IMPAIR: {
			struct pn_impair imp;
			char why[128];

			if (pn_impair_parse(optarg, &imp, why, sizeof(why)) != 0 ||
			    fwd_set_option("impair", optarg) != 0) {
				fprintf(stderr, "pagenet-fwd: --impair: %s\n",
					why[0] ? why : "too long");
				return -1;
			}
			continue;
		}
		case 'h':
			usage(stdout);
			exit(0);
		case '?':
			usage(stderr);
			return -1;
		default:
			key = opts[idx].name;
			for (unsigned i = 0; opts[i].name; i++)
				if (opts[i].val == c)
					key = opts[i].name;
		}
		rc = fwd_set_option(key, optarg);
		if (rc) {
			fprintf(stderr, "pagenet-fwd: bad value '%s' for --%s\n", optarg, key);
			return -1;
		}
	}
	for (; optind < argc; optind++) {
		if (fwd_add_port(argv[optind])) {
			fprintf(stderr, "pagenet-fwd: too many ports or port too long: %s\n", argv[optind]);
			return -1;
		}
	}
	if (cfg.src_is6 != cfg.dst_is6) {
		fprintf(stderr, "pagenet-fwd: --src-ip and --dst-ip must be of one family\n");
		return -1;
	}
	if (cfg.src_is6 && cfg.pkt_size < PN_ETH_HLEN + PN_IPV6_HLEN + 8 + 8) {
		fprintf(stderr, "pagenet-fwd: IPv6 frames need --pkt-size >= %d\n",
			PN_ETH_HLEN + PN_IPV6_HLEN + 8 + 8);
		return -1;
	}
	if (cfg.nb_ports == 0) {
		fprintf(stderr, "pagenet-fwd: no ports (try --help)\n");
		return -1;
	}
	for (unsigned p = 0; cfg.pipeline && p < cfg.nb_ports; p++) {
		if (cfg.impair[0] || cfg.ports[p].impair[0]) {
			/* an impair port's receive side moves its transmit line */
			fprintf(stderr, "pagenet-fwd: --pipeline cannot run over impair ports "
				"(their receive and transmit sides share state)\n");
			return -1;
		}
	}
	if (cfg.pipeline && (cfg.mode == MODE_TXONLY || cfg.mode == MODE_RXONLY)) {
		fprintf(stderr, "pagenet-fwd: --pipeline forwards (io, mac, macswap): nothing to hand "
			"over in %s mode\n", fwd_mode_names[cfg.mode]);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct snap first, prev, cur;
	double t0 = pn_now_s(), next;
	int64_t leaked = 0;
	int rc = 1;
	unsigned opened = 0, started_workers = 0, started_tx = 0;
	uint32_t pages;

	fwd_config_defaults();
	if (parse_args(argc, argv))
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	pn_app_catch_signals();

	/* receive rings, fill rings, transmit and completion rings of every
	 * port a queue thread serves, two buffers per page, plus pool caches */
	pages = cfg.pages;
	if (pages == 0)
		/* fill and receive rings full at once, per port, plus slack;
		 * 4096: the AF_XDP driver's default ring */
		pages = cfg.queues * (cfg.nb_ports * 2 * (cfg.ring ? cfg.ring : 4096) + 2048);
	region = pn_region_create(&(struct pn_region_params){
		.len = (size_t)pages * PN_FRAME_SIZE, .numa_node = PN_NUMA_ANY, .name = "fwd" });
	if (region == NULL) {
		fprintf(stderr, "pagenet-fwd: cannot create a region of %u pages: %s\n",
			pages, strerror(errno));
		return 1;
	}
	if (cfg.acct_path[0] && make_acct_group() != 0)
		goto out;
	for (unsigned q = 0; q < cfg.queues; q++) {
		char name[32];

		snprintf(name, sizeof(name), "fwd-q%u", q);
		workers[q].q = q;
		workers[q].pool = pn_pool_create(&(struct pn_pool_params){
			.sz = sizeof(struct pn_pool_params), .region = region,
			.flags = cfg.acct_path[0] ? PN_POOL_F_ACCOUNTED : 0,
			.frag_size = 2048, .ring_size = 4096, .name = name });
		if (workers[q].pool == NULL) {
			fprintf(stderr, "pagenet-fwd: cannot create pool %s: %s\n", name, strerror(errno));
			goto out;
		}
		for (unsigned p = 0; cfg.pipeline && p < cfg.nb_ports; p++) {
			workers[q].handoff[p] = pn_ring_create(4096, PN_RING_F_SP_ENQ | PN_RING_F_SC_DEQ);
			if (workers[q].handoff[p] == NULL) {
				fprintf(stderr, "pagenet-fwd: cannot create a hand-off ring: %s\n",
					strerror(errno));
				goto out;
			}
		}
	}
	for (unsigned p = 0; p < cfg.nb_ports; p++) {
		struct pn_port_conf pc = { .sz = sizeof(pc), .nb_queues = (uint16_t)cfg.queues,
					   .ring_size = (uint16_t)cfg.ring };
		struct pn_port_info info;

		for (unsigned q = 0; q < cfg.queues; q++)
			pc.pools[q] = workers[q].pool;
		ports[p] = pn_port_open_str(cfg.ports[p].spec, &pc);
		if (ports[p] == NULL) {
			fprintf(stderr, "pagenet-fwd: cannot open port %u (%s): %s\n", p,
				cfg.ports[p].spec, strerror(errno));
			goto out;
		}
		opened++;
		{
			const char *spec = cfg.ports[p].impair[0] ? cfg.ports[p].impair : cfg.impair;
			struct pn_impair imp;
			struct pn_port *w;
			char why[128];

			if (pn_impair_parse(spec, &imp, why, sizeof(why)) == 0 &&
			    pn_impair_active(&imp)) {
				w = pn_impair_wrap(ports[p], &imp, NULL);
				if (w == NULL) {
					fprintf(stderr, "pagenet-fwd: port %u: impair: %s\n", p,
						strerror(errno));
					goto out;
				}
				ports[p] = w; /* closing it closes the real port */
			}
		}
		pn_port_info_get(ports[p], &info);
		memcpy(port_mac[p], info.mac, 6);
		if (!cfg.ports[p].peer_mac_set) {
			static const uint8_t def[6] = { 0x02, 0, 0, 0, 0, 0 };

			memcpy(cfg.ports[p].peer_mac, def, 6);
			cfg.ports[p].peer_mac[5] = (uint8_t)peer_of(p);
		}
		fprintf(stderr, "pagenet-fwd: port %u %s (%s), %02x:%02x:%02x:%02x:%02x:%02x\n",
			p, info.name, info.mode, info.mac[0], info.mac[1], info.mac[2],
			info.mac[3], info.mac[4], info.mac[5]);
	}
	if (cfg.telemetry) {
		pn_telemetry_register("/fwd", tel_fwd, "forwarding mode, ports, queues, drops");
		if (pn_telemetry_start(&(struct pn_telemetry_params){
			    .sz = sizeof(struct pn_telemetry_params), .app = "pagenet-fwd" }) == 0)
			fprintf(stderr, "pagenet-fwd: telemetry on %s\n", pn_telemetry_path());
	}
	for (unsigned p = 0; p < cfg.nb_ports; p++) {
		if (pn_port_start(ports[p])) {
			fprintf(stderr, "pagenet-fwd: cannot start port %u\n", p);
			goto out;
		}
	}
	take_snap(&first);
	t0 = first.t;
	for (unsigned q = 0; q < cfg.queues; q++) {
		if (pthread_create(&workers[q].thread, NULL, worker_main, &workers[q])) {
			fprintf(stderr, "pagenet-fwd: cannot start queue thread %u\n", q);
			goto out;
		}
		started_workers++;
		if (cfg.pipeline && pthread_create(&workers[q].tx_thread, NULL, tx_main, &workers[q])) {
			fprintf(stderr, "pagenet-fwd: cannot start transmit thread %u\n", q);
			goto out;
		}
		started_tx += cfg.pipeline;
	}
	fprintf(stderr, "pagenet-fwd: %s mode, %u port(s), %u queue(s); Ctrl-C stops\n",
		fwd_mode_names[cfg.mode], cfg.nb_ports, cfg.queues);

	prev = first;
	next = t0 + cfg.period;
	while (!pn_app_stop) {
		double t = pn_now_s();

		if (cfg.duration > 0 && t - t0 >= cfg.duration)
			break;
		if (t >= next) {
			take_snap(&cur);
			print_stats(&prev, &cur, cur.t - t0, false);
			prev = cur;
			next += cfg.period;
			if (next < t)
				next = t + cfg.period;
		}
		usleep(10000);
	}
	rc = 0;
out:
	atomic_store(&workers_stop, true);
	for (unsigned q = 0; q < started_workers; q++) {
		pthread_join(workers[q].thread, NULL);
		/* a transmit thread not started must not be waited for */
		if (q >= started_tx)
			atomic_store(&workers[q].rx_done, true);
	}
	/* then the transmitting halves: they send what was handed over */
	for (unsigned q = 0; q < started_tx; q++)
		pthread_join(workers[q].tx_thread, NULL);
	for (unsigned q = 0; q < cfg.queues; q++)
		for (unsigned p = 0; p < cfg.nb_ports; p++) {
			void *left;

			while (workers[q].handoff[p] && pn_ring_dequeue(workers[q].handoff[p], &left) == 0)
				pn_pkt_free(left);
			pn_ring_free(workers[q].handoff[p]);
			workers[q].handoff[p] = NULL;
		}
	if (started_workers) {
		take_snap(&cur);
		print_stats(&first, &cur, cur.t - t0, true);
	}
	pn_telemetry_stop();
	/* closing a port gives back every buffer in its rings */
	for (unsigned p = 0; p < opened; p++)
		pn_port_close(ports[p]);
	for (unsigned q = 0; q < cfg.queues; q++) {
		int64_t n;

		if (workers[q].pool == NULL)
			continue;
		/* the control thread takes over the pool to tear it down */
		pn_pool_set_owner(workers[q].pool, pn_thread_id());
		n = pn_pool_destroy(workers[q].pool);
		if (n != 0)
			fprintf(stderr, "pagenet-fwd: pool fwd-q%u: %lld pages not returned\n", q,
				(long long)n);
		leaked += n;
	}
	if (acct_group != NULL && destroy_acct_groups() != 0 && leaked == 0)
		leaked = 1; /* a charge that never came back is a leak too */
	if (pn_region_destroy(region) != 0 && leaked == 0) {
		fprintf(stderr, "pagenet-fwd: region still has pages out\n");
		leaked = 1;
	}
	if (leaked) {
		fprintf(stderr, "pagenet-fwd: LEAK: %lld pages did not come back\n", (long long)leaked);
		return 1;
	}
	if (started_workers)
		fprintf(stderr, "pagenet-fwd: every page came back to its pool\n");
	return rc;
}
