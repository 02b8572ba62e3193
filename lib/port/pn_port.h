/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Ports in the DPDK style (docs/design.md §6): a port is opened by driver name and
 * arguments, has one pool per queue to receive into, and moves packet buffers
 * with rx_burst/tx_burst. Stats, link state and MAC are read from any thread.
 *
 *   struct pn_port_conf conf = { .sz = sizeof(conf), .nb_queues = 1,
 *                                .pools = { pool } };
 *   struct pn_port *p = pn_port_open("af_xdp", "iface=veth1", &conf);
 *   pn_port_start(p);
 *   n = pn_port_rx_burst(p, 0, pkts, 32);
 *   sent = pn_port_tx_burst(p, 0, pkts, n);   // the port owns pkts[0..sent)
 *
 * Threading contract (as DPDK's ethdev):
 *  - queue q of a port is used by one thread at a time: rx_burst and
 *    tx_burst on q are not thread-safe; different queues run in parallel.
 *    Receive into queue q allocates from pools[q], so that thread should own
 *    pools[q] (pn_pool_set_owner); any thread may free what it received.
 *  - tx_burst takes ownership of the packets it returns as sent; the caller
 *    still owns (and must free or retry) the rest.
 *  - open/start/stop/close: a control thread, with no burst running.
 *  - stats, link, info: any thread, at any time.
 */
#ifndef PN_PORT_H
#define PN_PORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pn_pkt.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PN_MAX_PORTS 32
#define PN_PORT_MAX_QUEUES 16
#define PN_PORT_NAME_MAX 32

struct pn_port;

/** Port configuration. Set sz = sizeof(struct pn_port_conf). */
struct pn_port_conf {
	uint32_t sz;
	uint16_t nb_queues;    /**< rx and tx queue pairs (default 1) */
	uint16_t ring_size;    /**< descriptors per ring, power of two (driver default) */
	struct pn_pool *pools[PN_PORT_MAX_QUEUES]; /**< receive into pools[q] */
	const char *name;      /**< port name (default: driver:interface) */
};

/** Per-queue counters; written by the queue's thread, summed on read. */
struct pn_port_queue_stats {
	_Atomic(uint64_t) ipackets;  /**< packets received */
	_Atomic(uint64_t) ibytes;
	_Atomic(uint64_t) opackets;  /**< packets handed to the device */
	_Atomic(uint64_t) obytes;
	_Atomic(uint64_t) idrops;    /**< received but dropped (malformed, no room) */
	_Atomic(uint64_t) odrops;    /**< refused by a full transmit ring */
	_Atomic(uint64_t) ierrors;   /**< bad descriptors from the device */
	_Atomic(uint64_t) oerrors;   /**< packets that cannot be sent (too big, ...) */
	_Atomic(uint64_t) rx_nombuf; /**< receive buffers the pool could not give */
	_Atomic(uint64_t) tx_copies; /**< packets copied into device memory to send */
	_Atomic(uint64_t) tx_wakeups; /**< system calls to kick the device */
} __pn_cache_aligned;

/** Port counters, summed over queues plus what the device itself reports. */
struct pn_port_stats {
	uint64_t ipackets, ibytes, opackets, obytes;
	uint64_t idrops, odrops, ierrors, oerrors, rx_nombuf;
	uint64_t tx_copies, tx_wakeups;
	uint64_t dev_rx_dropped;   /**< device: frames dropped on receive, all causes */
	uint64_t dev_rx_ring_full; /**< of those: the receive ring was full (the
				    *   application did not take frames fast enough) */
	uint64_t dev_rx_fill_empty; /**< device: fill ring was empty */
	uint64_t dev_invalid_descs; /**< device: bad rx/tx descriptors */
	uint64_t xdp_steered;      /**< af_xdp: frames the XDP program sent to us */
	uint64_t xdp_passed;       /**< af_xdp: frames it left to the kernel */
};

struct pn_port_link {
	bool up;
	bool full_duplex;
	uint32_t speed_mbps; /**< 0 when unknown */
};

/** What a port is; strings are owned by the port. */
struct pn_port_info {
	uint16_t id;
	const char *name;
	const char *driver;
	const char *mode;  /**< driver's words: "zero-copy, xdp native", ... */
	uint16_t nb_queues;
	uint8_t mac[6];
	bool started;
	/** The largest frame (Ethernet header and payload, no FCS) the port
	 *  sends and receives whole: the device's MTU plus 14 where it is
	 *  less than what the driver's buffers can hold. 0: not known. */
	uint32_t max_frame;
};

typedef uint16_t (*pn_port_burst_t)(void *queue, struct pn_pkt **pkts, uint16_t n);

/* Visible for the inline bursts; fields are private. */
struct pn_port {
	pn_port_burst_t rx_burst;
	pn_port_burst_t tx_burst;
	void *rxq[PN_PORT_MAX_QUEUES];
	void *txq[PN_PORT_MAX_QUEUES];
};

/**
 * Open a port of driver @p driver ("af_xdp", "loop", ...) with driver
 * arguments @p args ("key=value,key=value"; NULL for none).
 * @return the port (stopped), or NULL with errno: ENOENT (no such driver),
 *         EINVAL (bad argument: a message says which), or the driver's error.
 */
struct pn_port *pn_port_open(const char *driver, const char *args,
			     const struct pn_port_conf *conf);

/** Open from one string, "driver:args" (for command lines). */
struct pn_port *pn_port_open_str(const char *spec, const struct pn_port_conf *conf);

int pn_port_start(struct pn_port *port);
void pn_port_stop(struct pn_port *port);

/**
 * Stop and close the port; every buffer the port holds (receive rings,
 * packets in flight to the device) goes back to its pool.
 */
void pn_port_close(struct pn_port *port);

/** Receive up to @p n packets on queue @p q. @return packets received. */
static inline uint16_t pn_port_rx_burst(struct pn_port *port, uint16_t q,
					struct pn_pkt **pkts, uint16_t n)
{
	return port->rx_burst(port->rxq[q], pkts, n);
}

/**
 * Send up to @p n packets on queue @p q.
 * @return how many the port took; the caller keeps pkts[ret..n).
 */
static inline uint16_t pn_port_tx_burst(struct pn_port *port, uint16_t q,
					struct pn_pkt **pkts, uint16_t n)
{
	return port->tx_burst(port->txq[q], pkts, n);
}

void pn_port_stats_get(const struct pn_port *port, struct pn_port_stats *st);
/** Counters of one queue (device counters are port-wide and left 0). */
void pn_port_queue_stats_get(const struct pn_port *port, uint16_t q,
			     struct pn_port_stats *st);
int pn_port_link_get(const struct pn_port *port, struct pn_port_link *link);
void pn_port_info_get(const struct pn_port *port, struct pn_port_info *info);

/**
 * A file descriptor that poll() reports readable when queue @p q has
 * received frames, so an idle poll-mode thread can sleep (as DPDK's
 * rx interrupt mode). @return the fd, -ENOTSUP when the driver has none,
 * -EINVAL for a bad queue.
 */
int pn_port_rx_fd(const struct pn_port *port, uint16_t q);
uint16_t pn_port_id(const struct pn_port *port);
/** @return the open port with this id, or NULL. */
struct pn_port *pn_port_by_id(uint16_t id);
/**
 * Call @p fn on every open port under the port table lock, so none is closed
 * meanwhile (telemetry). @p fn must not open or close ports. Stops at, and
 * returns, the first non-zero return.
 */
int pn_port_foreach(int (*fn)(struct pn_port *port, void *arg), void *arg);

/** Same for one port. @return fn's return, or -ENOENT. */
int pn_port_visit(uint16_t id, int (*fn)(struct pn_port *port, void *arg), void *arg);

/** @return the driver names compiled in, NULL-terminated. */
const char *const *pn_port_drivers(void);

#ifdef __cplusplus
}
#endif

#endif /* PN_PORT_H */
