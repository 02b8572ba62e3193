/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * af_xdp: ports on kernel interfaces through AF_XDP sockets (libxdp's xsk
 * API), one socket per queue.
 *
 * The UMEM is a pagenet region: the region of the queue's pool, registered
 * once and shared (XDP_SHARED_UMEM) by every socket whose pool draws from it,
 * on any port. Chunks are 2 KiB pool fragments, two per 4 KiB page, so each
 * page's frag_count is split between the two buffers for real.
 *
 *   UMEM chunk (2 KiB, one pool fragment):
 *   +----------------------+-------------------+---------------------------+
 *   | pn_pkt_shinfo 192 B  | XDP headroom 256  | frame data (up to 1600 B) |
 *   | (UMEM frame_headroom)|                   |                           |
 *   +----------------------+-------------------+---------------------------+
 *
 * Ownership of a buffer: pool -> fill ring (the driver holds the fragment)
 * -> rx ring -> pn_pkt (the application) -> tx ring (the driver holds the
 * packet until the completion ring returns its address) -> pn_pkt_free ->
 * frag_count/refcount -> POOL destructor -> recycled into its pool.
 * Each queue keeps a bitmap of the chunks it has given the kernel (fill and
 * tx separately) so closing returns every buffer, including those the kernel
 * never hands back once the socket is gone.
 *
 * A packet whose data sits in its own buffer inside the same UMEM is sent by
 * descriptor: forwarding between ports that share a UMEM copies nothing in
 * userspace. Anything else (another region, a clone, a chain) is copied
 * into fresh chunks and counted in tx_copies.
 *
 * Frames larger than a chunk (an MTU above 1522: jumbo frames) take several
 * chunks: multi-buffer AF_XDP (XDP_USE_SG, kernel 6.6), with an XDP program
 * that declares fragment support. A received frame becomes one pn_pkt, its
 * first chunk the head and the others fragments; a packet with fragments
 * in the UMEM is sent as a descriptor per piece, XDP_PKT_CONTD on all but
 * the last. The port's max_frame says what a queue carries: the device's
 * MTU, or one chunk where multi-buffer is not to be had (sockets sharing a
 * UMEM cannot ask for it).
 */
#include <errno.h>
#include <ifaddrs.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>

#include "pn_log.h"
#include "pn_port_driver.h"
#include "pn_xdp_steer.h"

/* multi-buffer AF_XDP (Linux 6.6): older uapi headers lack them */
#ifndef XDP_USE_SG
#define XDP_USE_SG (1 << 4)
#endif
#ifndef XDP_PKT_CONTD
#define XDP_PKT_CONTD (1 << 0)
#endif
#define XDP_MAX_PIECES (1 + PN_PKT_MAX_FRAGS) /* chunks one frame may take */

#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL 69
#endif
#ifndef SO_BUSY_POLL_BUDGET
#define SO_BUSY_POLL_BUDGET 70
#endif

#define XDP_CHUNK_SHIFT 11
#define XDP_CHUNK_SIZE (1u << XDP_CHUNK_SHIFT)
/* 1024 descriptors let a kernel TCP sender's bursts overflow the receive
 * ring while the forwarding thread sits in a copy-mode sendto(): about 1 %
 * of a veth iperf3 stream was lost there (dev_rx_ring_full), each loss a
 * retransmission; 4096 absorbed them (1 retransmission in 6 s). */
#define XDP_RING_DEFAULT 4096
#define XDP_FILL_BATCH 32
#define XDP_COMP_BATCH 64

extern const unsigned char pn_xdp_obj[];
extern const size_t pn_xdp_obj_len;

/* One registered UMEM per region, shared by every socket drawing from it. */
struct xdp_umem {
	struct xdp_umem *next;
	struct pn_region *region;
	struct xsk_umem *umem;
	struct xsk_ring_prod fill0; /* rings made with the UMEM; the first */
	struct xsk_ring_cons comp0; /* socket's context takes them over */
	unsigned sockets;
	uint32_t ring_size;
	bool zc;            /* the first socket's bind mode; others inherit it */
};

static pthread_mutex_t umem_lock = PTHREAD_MUTEX_INITIALIZER;
static struct xdp_umem *umems;

struct xdp_queue {
	/* hot: the queue's thread only */
	struct xsk_ring_cons rx;
	struct xsk_ring_prod fill;
	struct xsk_ring_prod tx;
	struct xsk_ring_cons comp;
	uint8_t *base;             /* UMEM start */
	uint64_t umem_len;
	struct pn_frame *frames;   /* descriptors of the UMEM's pages */
	struct pn_pool *pool;      /* receive buffers and tx copies */
	struct pn_port_queue_stats *stats;
	const uint32_t *holder;    /* the port's holder id for this queue */
	uint64_t *fill_held;       /* chunk bitmaps: given to the kernel */
	uint64_t *tx_held;         /* ... as a packet's head */
	uint64_t *tx_piece_held;   /* ... as a later piece of one (multi-buffer) */
	struct pn_pkt *rx_part;    /* a frame whose pieces are still coming */
	struct pn_pkt *comp_pkt;   /* a packet whose pieces' completions are coming */
	uint32_t comp_left;        /* how many */
	bool rx_part_bad;          /* it had too many: dropped at its end */
	bool sg;                   /* multi-buffer frames */
	uint32_t fill_out;         /* chunks in fill_held */
	uint32_t tx_out;           /* chunks in tx_held */
	uint32_t room;             /* bytes a chunk holds after the headroom */
	uint32_t max_len;          /* the largest frame it sends (room, or more with sg) */
	int fd;
	bool need_wakeup;
	bool busy_poll;
	bool copy_mode;            /* the kernel copies: sendto() does the sending */

	/* cold */
	struct xsk_socket *xsk;
	struct xdp_umem *um;
	uint32_t qid;
	uint32_t nchunks;
} __pn_cache_aligned;

struct xdp_port {
	char ifname[IF_NAMESIZE];
	int ifindex;
	int mtu;                   /* the device's */
	bool sg;                   /* frames need more than a chunk: multi-buffer */
	uint32_t start_queue;
	struct xdp_program *prog;
	enum xdp_attach_mode attach_mode;
	int xsks_fd;
	int stats_fd;
	struct pn_xdp_steer steer;
	struct xdp_queue *q[PN_PORT_MAX_QUEUES];
};

/* Frame layout inside a chunk: the packet header lives in frame_headroom. */
#define XDP_DATA_OFF (PN_PKT_HDR_SIZE + XDP_PACKET_HEADROOM)

static inline void bit_set(uint64_t *map, uint32_t i)
{
	map[i >> 6] |= UINT64_C(1) << (i & 63);
}

static inline bool bit_test_clear(uint64_t *map, uint32_t i)
{
	uint64_t m = UINT64_C(1) << (i & 63);
	bool was = map[i >> 6] & m;

	map[i >> 6] &= ~m;
	return was;
}

/* fast path */

static inline void xq_refill(struct xdp_queue *q)
{
	uint32_t n = xsk_prod_nb_free(&q->fill, XDP_FILL_BATCH);
	uint32_t idx, i;

	if (n < XDP_FILL_BATCH)
		return;
	/* all the room there is: under a burst the kernel takes a fill
	 * entry per frame while the application works, and a capped refill
	 * let the ring run dry (dev_rx_fill_empty) */
	n = xsk_prod_nb_free(&q->fill, q->fill.size);
	if (xsk_ring_prod__reserve(&q->fill, n, &idx) != n)
		return;
	for (i = 0; i < n; i++) {
		struct pn_frame *frame;
		uint8_t *buf = pn_pool_alloc_frag(q->pool, XDP_CHUNK_SIZE, &frame);
		uint64_t off;

		if (pn_unlikely(buf == NULL)) {
			PN_QSTAT_ADD(q->stats, rx_nombuf, n - i);
			break;
		}
		off = (uint64_t)(buf - q->base);
		/* the descriptor's line is warm from the cut */
		pn_frame_set_holder(frame, PN_HOLDER(*q->holder, PN_VIA_FILL));
		*xsk_ring_prod__fill_addr(&q->fill, idx + i) = off;
		bit_set(q->fill_held, (uint32_t)(off >> XDP_CHUNK_SHIFT));
	}
	q->fill_out += i;
	if (pn_unlikely(i < n))
		q->fill.cached_prod -= n - i; /* give back what we could not fill */
	if (i)
		xsk_ring_prod__submit(&q->fill, i);
}

static uint16_t xdp_rx_burst(void *queue, struct pn_pkt **pkts, uint16_t n)
{
	struct xdp_queue *q = queue;
	uint32_t idx, got, i, out = 0;
	uint64_t bytes = 0;

	xq_refill(q);
	got = xsk_ring_cons__peek(&q->rx, n, &idx);
	if (got == 0) {
		/* the kernel waits for a kick when the fill ring ran dry; busy
		 * polling drives the device from this call instead */
		if (q->busy_poll || (q->need_wakeup && xsk_ring_prod__needs_wakeup(&q->fill)))
			recvfrom(q->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
		return 0;
	}
	for (i = 0; i < got; i++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&q->rx, idx + i);
		uint64_t chunk = d->addr & ~(uint64_t)(XDP_CHUNK_SIZE - 1);
		uint32_t doff = (uint32_t)(d->addr - chunk);
		uint8_t *buf = q->base + chunk;
		bool more = q->sg && (d->options & XDP_PKT_CONTD);
		struct pn_frame *frame;
		struct pn_pkt *pkt;

		if (pn_unlikely(d->addr >= q->umem_len || doff < PN_PKT_HDR_SIZE ||
				doff + d->len > XDP_CHUNK_SIZE ||
				!bit_test_clear(q->fill_held, (uint32_t)(chunk >> XDP_CHUNK_SHIFT)))) {
			/* not a buffer we gave: nothing to free, count it */
			PN_QSTAT_ADD(q->stats, ierrors, 1);
			continue;
		}
		q->fill_out--;
		frame = &q->frames[chunk >> PN_FRAME_SHIFT];
		pn_frame_set_holder(frame, PN_HOLDER(*q->holder, PN_VIA_RX));
		if (pn_unlikely(q->rx_part != NULL)) {
			/* a later piece of a multi-buffer frame: the chunk's
			 * fragment share goes to the packet */
			pkt = q->rx_part;
			if (q->rx_part_bad || pn_pkt_add_frag(pkt, frame,
							      (uint32_t)(d->addr & (PN_FRAME_SIZE - 1)),
							      (uint16_t)d->len, PN_PKT_FRAG_SHARE) != 0) {
				q->rx_part_bad = true;
				pn_pool_frag_free(frame, buf);
			}
			bytes += d->len;
			if (more)
				continue;
			q->rx_part = NULL;
			if (pn_unlikely(q->rx_part_bad)) {
				/* more pieces than a packet has room for */
				q->rx_part_bad = false;
				PN_QSTAT_ADD(q->stats, ierrors, 1);
				pn_pkt_free(pkt);
				continue;
			}
			pkts[out++] = pkt;
			continue;
		}
		pkt = pn_pkt_init(q->pool, buf, frame);
		pkt->data = q->base + d->addr;
		pkt->len = pkt->pkt_len = d->len;
		bytes += d->len;
		if (pn_unlikely(more)) {
			q->rx_part = pkt; /* its pieces follow */
			continue;
		}
		pkts[out++] = pkt;
	}
	xsk_ring_cons__release(&q->rx, got);
	PN_QSTAT_ADD(q->stats, ipackets, out);
	PN_QSTAT_ADD(q->stats, ibytes, bytes);
	return (uint16_t)out;
}

/* Packets the kernel has finished sending go back through pn_pkt_free. */
static inline void xq_complete(struct xdp_queue *q)
{
	uint32_t idx, n, i;
	/* the pool's owner frees each packet inline; another thread (the
	 * transmitting half of a pipeline) frees them together, so the pages
	 * go back through the owner's recycle ring in one reservation */
	bool owner = pn_pool_is_owner(q->pool, pn_thread_id());
	struct pn_pkt *done[XDP_COMP_BATCH];
	unsigned nd = 0;

	/* all there is: a multi-buffer packet completes a descriptor per
	 * piece, and a ring left to fill stops the kernel sending */
	while ((n = xsk_ring_cons__peek(&q->comp, XDP_COMP_BATCH * 4, &idx)) > 0) {
		for (i = 0; i < n; i++) {
			uint64_t chunk = *xsk_ring_cons__comp_addr(&q->comp, idx + i) &
					 ~(uint64_t)(XDP_CHUNK_SIZE - 1);
			struct pn_pkt *pkt;

			if (pn_unlikely(q->comp_left != 0)) {
				/* a later piece of the packet whose head came last
				 * (completions come in the order the descriptors
				 * went): the packet goes with its last piece, not
				 * before, or a piece still read by the kernel would
				 * be back in the pool */
				if (chunk >= q->umem_len ||
				    !bit_test_clear(q->tx_piece_held, (uint32_t)(chunk >> XDP_CHUNK_SHIFT)))
					PN_QSTAT_ADD(q->stats, oerrors, 1);
				if (--q->comp_left != 0)
					continue;
				pkt = q->comp_pkt;
				q->comp_pkt = NULL;
			} else {
				if (pn_unlikely(chunk >= q->umem_len ||
						!bit_test_clear(q->tx_held, (uint32_t)(chunk >> XDP_CHUNK_SHIFT)))) {
					PN_QSTAT_ADD(q->stats, oerrors, 1);
					continue;
				}
				q->tx_out--;
				pkt = &((struct pn_pkt_shinfo *)(q->base + chunk))->pkt;
				if (pn_unlikely(pkt->shinfo->nr_frags && q->sg)) {
					q->comp_pkt = pkt;
					q->comp_left = pkt->shinfo->nr_frags;
					continue;
				}
			}
			if (owner) {
				pn_pkt_free(pkt);
				continue;
			}
			done[nd++] = pkt;
			if (nd == XDP_COMP_BATCH) {
				pn_pkt_free_bulk(done, nd);
				nd = 0;
			}
		}
		xsk_ring_cons__release(&q->comp, n);
	}
	pn_pkt_free_bulk(done, nd);
}

static inline void xq_kick_tx(struct xdp_queue *q)
{
	if (q->need_wakeup && !q->busy_poll && !xsk_ring_prod__needs_wakeup(&q->tx))
		return;
	PN_QSTAT_ADD(q->stats, tx_wakeups, 1);
	/* EAGAIN/EBUSY/ENOBUFS: the kernel is busy; the next burst kicks again */
	sendto(q->fd, NULL, 0, MSG_DONTWAIT, NULL, 0);
}

/*
 * Copy mode sends in sendto(), at most 32 frames a call (the kernel's
 * TX_BATCH_SIZE, then EAGAIN): kick until the ring is empty or the kernel
 * answers something other than "call again". One kick per burst let a
 * stack that queues more than 32 frames a round build a backlog in the
 * ring, its frames leaving hundreds of milliseconds late and TCP
 * retransmitting what was only waiting (found with two queues, GET 1 MB).
 */
static inline void xq_kick_tx_all(struct xdp_queue *q)
{
	for (unsigned k = 0; k < 64 && xsk_prod_nb_free(&q->tx, q->tx.size) < q->tx.size; k++) {
		PN_QSTAT_ADD(q->stats, tx_wakeups, 1);
		if (sendto(q->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 && errno != EAGAIN)
			break; /* EBUSY, ENOBUFS: the kernel is short; the next burst kicks */
	}
}

/* Is [p, p + len) inside one chunk of the UMEM? @return its offset, or -1. */
static inline int64_t xq_umem_off(const struct xdp_queue *q, const uint8_t *p, uint32_t len)
{
	uint64_t off = (uint64_t)(p - q->base);

	if (p < q->base || len == 0 || off + len > q->umem_len ||
	    (off >> XDP_CHUNK_SHIFT) != ((off + len - 1) >> XDP_CHUNK_SHIFT))
		return -1;
	return (int64_t)off;
}

/* Can the kernel send this packet straight from where it is? Its head in
 * its own chunk, its fragments (multi-buffer only) each inside one. */
static inline bool xq_direct(const struct xdp_queue *q, const struct pn_pkt *pkt)
{
	const uint8_t *own = (const uint8_t *)pn_pkt_own_shinfo(pkt);
	uint64_t off = (uint64_t)(own - q->base);
	const struct pn_pkt_shinfo *sh = pkt->shinfo;

	if (!(sh == pn_pkt_own_shinfo(pkt) && pkt->next == NULL && own >= q->base &&
	      off < q->umem_len && (off & (XDP_CHUNK_SIZE - 1)) == 0))
		return false;
	if (pn_likely(sh->nr_frags == 0))
		return true;
	if (!q->sg || pkt->len == pkt->data_len)
		return false; /* one chunk per frame; or an empty head */
	for (unsigned f = 0; f < sh->nr_frags; f++)
		if (xq_umem_off(q, sh->frags[f].frame->addr + sh->frags[f].off, sh->frags[f].len) < 0)
			return false;
	return true;
}

/* Copy a packet into fresh chunks: one, or (multi-buffer) a head and as
 * many fragments as it needs. Frees the original. NULL: no buffer. */
static struct pn_pkt *xq_copy(struct xdp_queue *q, struct pn_pkt *pkt)
{
	struct pn_frame *frame;
	uint8_t *buf = pn_pool_alloc_frag(q->pool, XDP_CHUNK_SIZE, &frame);
	struct pn_pkt *copy;
	uint32_t len = pkt->pkt_len, head = PN_MIN(len, q->room), pos;

	if (buf == NULL)
		return NULL;
	copy = pn_pkt_init(q->pool, buf, frame);
	copy->data = buf + XDP_DATA_OFF;
	pn_pkt_copy_bits(pkt, 0, copy->data, head);
	copy->len = copy->pkt_len = head;
	for (pos = head; pos < len;) {
		uint32_t n = PN_MIN(len - pos, XDP_CHUNK_SIZE);
		uint8_t *b = pn_pool_alloc_frag(q->pool, XDP_CHUNK_SIZE, &frame);

		if (b == NULL || pn_pkt_add_frag(copy, frame, (uint32_t)(b - frame->addr), (uint16_t)n,
						  PN_PKT_FRAG_SHARE) != 0) {
			if (b)
				pn_pool_frag_free(frame, b);
			pn_pkt_free(copy);
			return NULL;
		}
		pn_pkt_copy_bits(pkt, pos, b, n);
		pos += n;
	}
	pn_pkt_free(pkt);
	PN_QSTAT_ADD(q->stats, tx_copies, 1);
	return copy;
}

static uint16_t xdp_tx_burst(void *queue, struct pn_pkt **pkts, uint16_t n)
{
	struct xdp_queue *q = queue;
	uint32_t idx, i, descs = 0, sent = 0;
	uint64_t bytes = 0;

	xq_complete(q);
	if (n == 0) {
		/* a call only to reap completions: kick only if something waits
		 * (copy mode sends in sendto(), some at a time) */
		if (q->tx_out)
			xq_kick_tx(q);
		return 0;
	}
	for (i = 0; i < n; i++) {
		struct pn_pkt *pkt = pkts[i];
		const struct pn_pkt_shinfo *sh;
		struct xdp_desc *d;
		uint32_t pieces;
		uint64_t off;

		if (pn_unlikely(pkt->pkt_len > q->max_len || pkt->pkt_len == 0)) {
			/* cannot go on the wire: the port takes it and drops it */
			PN_QSTAT_ADD(q->stats, oerrors, 1);
			pn_pkt_free(pkt);
			continue;
		}
		if (pn_unlikely(!xq_direct(q, pkt))) {
			pkt = xq_copy(q, pkt);
			if (pkt == NULL) {
				PN_QSTAT_ADD(q->stats, rx_nombuf, 1);
				break; /* pkts[i..] stay the caller's */
			}
			pkts[i] = pkt;
		}
		sh = pkt->shinfo;
		pieces = 1u + sh->nr_frags;
		if (pn_unlikely(xsk_prod_nb_free(&q->tx, pieces) < pieces)) {
			/* kick so the kernel drains the ring, then try once more */
			if (descs)
				xsk_ring_prod__submit(&q->tx, descs);
			descs = 0;
			xq_kick_tx(q);
			xq_complete(q);
			if (xsk_prod_nb_free(&q->tx, pieces) < pieces) {
				PN_QSTAT_ADD(q->stats, odrops, n - i);
				break;
			}
		}
		xsk_ring_prod__reserve(&q->tx, pieces, &idx);
		d = xsk_ring_prod__tx_desc(&q->tx, idx);
		pn_frame_set_holder(pn_pkt_own_shinfo(pkt)->frame, PN_HOLDER(*q->holder, PN_VIA_TX));
		off = (uint64_t)(pkt->data - q->base);
		d->addr = off;
		d->len = pkt->len - pkt->data_len;
		d->options = pieces > 1 ? XDP_PKT_CONTD : 0;
		bit_set(q->tx_held, (uint32_t)(off >> XDP_CHUNK_SHIFT));
		for (uint32_t f = 0; f < sh->nr_frags; f++) {
			uint64_t fo = (uint64_t)xq_umem_off(q, sh->frags[f].frame->addr + sh->frags[f].off,
							    sh->frags[f].len);

			d = xsk_ring_prod__tx_desc(&q->tx, idx + 1 + f);
			d->addr = fo;
			d->len = sh->frags[f].len;
			d->options = f + 1 < sh->nr_frags ? XDP_PKT_CONTD : 0;
			bit_set(q->tx_piece_held, (uint32_t)(fo >> XDP_CHUNK_SHIFT));
		}
		descs += pieces;
		bytes += pkt->pkt_len;
		sent++;
	}
	if (descs)
		xsk_ring_prod__submit(&q->tx, descs);
	q->tx_out += sent;
	if (q->copy_mode)
		xq_kick_tx_all(q);
	else
		xq_kick_tx(q);
	PN_QSTAT_ADD(q->stats, opackets, sent);
	PN_QSTAT_ADD(q->stats, obytes, bytes);
	/* oversize packets were taken (and freed): count them as consumed */
	return (uint16_t)i;
}

/* slow path: UMEM registry */

static struct xdp_umem *umem_get(struct pn_region *region, uint32_t ring_size,
				 int *rc)
{
	struct pn_region_info ri;
	struct xdp_umem *um;
	struct xsk_umem_config cfg = {
		.fill_size = ring_size,
		.comp_size = ring_size,
		.frame_size = XDP_CHUNK_SIZE,
		.frame_headroom = PN_PKT_HDR_SIZE,
		.flags = 0,
	};

	for (um = umems; um != NULL; um = um->next) {
		if (um->region == region) {
			if (um->ring_size != ring_size) {
				pn_log(PN_LOG_ERR, "af_xdp", "sockets sharing a UMEM need one ring size (%u, not %u)",
					um->ring_size, ring_size);
				*rc = -EINVAL;
				return NULL;
			}
			um->sockets++;
			return um;
		}
	}
	um = calloc(1, sizeof(*um));
	if (um == NULL) {
		*rc = -ENOMEM;
		return NULL;
	}
	pn_region_info(region, &ri);
	*rc = xsk_umem__create(&um->umem, ri.base, ri.len, &um->fill0, &um->comp0, &cfg);
	if (*rc) {
		pn_log(PN_LOG_ERR, "af_xdp", "cannot register region %s (%zu bytes) as UMEM: %s",
			ri.name, ri.len, strerror(-*rc));
		free(um);
		return NULL;
	}
	pn_region_pin(region);
	um->region = region;
	um->ring_size = ring_size;
	um->sockets = 1;
	um->next = umems;
	umems = um;
	return um;
}

static void umem_put(struct xdp_umem *um)
{
	struct xdp_umem **pp;

	if (--um->sockets)
		return;
	for (pp = &umems; *pp != um; pp = &(*pp)->next)
		;
	*pp = um->next;
	xsk_umem__delete(um->umem);
	pn_region_unpin(um->region);
	free(um);
}

/* slow path: the XDP program */

/* The pid recorded in a pagenet program's steer map, or 0. */
static uint32_t prog_owner_pid(struct xdp_program *prog)
{
	struct bpf_prog_info info = { 0 };
	uint32_t ids[8], len = sizeof(info), pid = 0;
	int fd = xdp_program__fd(prog);

	info.nr_map_ids = PN_DIM(ids);
	info.map_ids = (uint64_t)(uintptr_t)ids;
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	for (uint32_t i = 0; i < PN_MIN(info.nr_map_ids, PN_DIM(ids)); i++) {
		struct bpf_map_info mi = { 0 };
		uint32_t mlen = sizeof(mi), key = 0;
		struct pn_xdp_steer s;
		int mfd = bpf_map_get_fd_by_id(ids[i]);

		if (mfd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(mfd, &mi, &mlen) &&
		    strcmp(mi.name, "pn_steer") == 0 &&
		    !bpf_map_lookup_elem(mfd, &key, &s))
			pid = s.owner_pid;
		close(mfd);
	}
	return pid;
}

static bool pid_alive(uint32_t pid)
{
	return pid != 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/*
 * A pagenet program left on the interface by a process that died is removed;
 * one whose process still runs means the interface is taken.
 */
static int remove_stale(struct xdp_port *xp)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(xp->ifindex);
	struct xdp_program *prog;
	enum xdp_attach_mode mode;
	int rc = 0;

	if (mp == NULL || libxdp_get_error(mp))
		return 0; /* nothing attached */
	mode = xdp_multiprog__attach_mode(mp);
	if (xdp_multiprog__is_legacy(mp) && xdp_multiprog__main_prog(mp) != NULL &&
	    strcmp(xdp_program__name(xdp_multiprog__main_prog(mp)), PN_XDP_PROG_NAME) != 0) {
		/* another program holds the interface alone: nothing can join it */
		pn_log(PN_LOG_ERR, "af_xdp", "%s already runs the XDP program '%s', which is not "
			"pagenet's: detach it first (ip link set dev %s xdp off)",
			xp->ifname, xdp_program__name(xdp_multiprog__main_prog(mp)), xp->ifname);
		xdp_multiprog__close(mp);
		return -EEXIST;
	}
	if (xdp_multiprog__is_legacy(mp))
		prog = xdp_multiprog__main_prog(mp);
	else
		prog = xdp_multiprog__next_prog(NULL, mp);
	for (; prog != NULL && rc == 0;
	     prog = xdp_multiprog__is_legacy(mp) ? NULL : xdp_multiprog__next_prog(prog, mp)) {
		uint32_t pid;

		if (strcmp(xdp_program__name(prog), PN_XDP_PROG_NAME) != 0)
			continue;
		pid = prog_owner_pid(prog);
		if (pid_alive(pid) && pid != (uint32_t)getpid()) {
			pn_log(PN_LOG_ERR, "af_xdp", "%s is in use by pagenet process %u",
				xp->ifname, pid);
			rc = -EBUSY;
			break;
		}
		pn_log(PN_LOG_NOTICE, "af_xdp", "%s: removing the XDP program left by process %u, which is gone",
			xp->ifname, pid);
		if (xdp_multiprog__is_legacy(mp))
			rc = xdp_multiprog__detach(mp);
		else
			rc = xdp_program__detach(prog, xp->ifindex, mode, 0);
		if (rc) {
			pn_log(PN_LOG_ERR, "af_xdp", "%s: cannot remove the stale program: %s",
				xp->ifname, strerror(-rc));
			break;
		}
		/* the multiprog changed under us: look again */
		xdp_multiprog__close(mp);
		return remove_stale(xp);
	}
	xdp_multiprog__close(mp);
	return rc;
}

/* libxdp does not own an object it was given: close both */
static void prog_close(struct xdp_port *xp)
{
	struct bpf_object *obj = xdp_program__bpf_obj(xp->prog);

	xdp_program__close(xp->prog);
	bpf_object__close(obj);
	xp->prog = NULL;
}

static void prog_detach(struct xdp_port *xp);

static int prog_attach(struct xdp_port *xp, const char *want)
{
	static const struct {
		const char *name;
		enum xdp_attach_mode mode;
	} modes[] = { { "native", XDP_MODE_NATIVE }, { "skb", XDP_MODE_SKB } };
	LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "pagenet_xdp");
	struct bpf_object *obj;
	uint32_t key = 0;
	int rc = -EINVAL;

	struct statfs sfs;

	/* libxdp's dispatcher (several XDP programs on one interface) keeps
	 * its state in bpffs; without it the program is attached alone */
	if ((statfs("/sys/fs/bpf", &sfs) || sfs.f_type != BPF_FS_MAGIC) &&
	    getenv("LIBXDP_SKIP_DISPATCHER") == NULL) {
		static bool told;

		if (!told)
			pn_log(PN_LOG_INFO, "af_xdp", "no bpffs on /sys/fs/bpf: the XDP program is "
				"attached alone (mount -t bpf bpf /sys/fs/bpf to share interfaces "
				"through libxdp's dispatcher)");
		told = true;
		setenv("LIBXDP_SKIP_DISPATCHER", "1", 0);
	}
	rc = remove_stale(xp);
	if (rc)
		return rc;
	for (unsigned m = 0; m < PN_DIM(modes); m++) {
		if (strcmp(want, "auto") != 0 && strcmp(want, modes[m].name) != 0)
			continue;
		obj = bpf_object__open_mem(pn_xdp_obj, pn_xdp_obj_len, &oo);
		if (obj == NULL) {
			rc = -errno;
			break;
		}
		xp->prog = xdp_program__from_bpf_obj(obj, "xdp");
		if (libxdp_get_error(xp->prog)) {
			rc = (int)libxdp_get_error(xp->prog);
			xp->prog = NULL;
			bpf_object__close(obj);
			break;
		}
		/* frames of more than a chunk: the program must declare that
		 * it takes fragments, or the device refuses it (veth: ERANGE) */
		if (xp->sg)
			xdp_program__set_xdp_frags_support(xp->prog, true);
		rc = xdp_program__attach(xp->prog, xp->ifindex, modes[m].mode, 0);
		if (rc == 0) {
			xp->attach_mode = modes[m].mode;
			break;
		}
		pn_log(PN_LOG_WARNING, "af_xdp", "%s: XDP %s mode refused (%s)%s",
			xp->ifname, modes[m].name, strerror(-rc),
			m + 1 < PN_DIM(modes) && strcmp(want, "auto") == 0 ?
				", trying the next mode" : "");
		prog_close(xp);
	}
	if (xp->prog == NULL) {
		if (xp->sg)
			pn_log(PN_LOG_ERR, "af_xdp", "%s: MTU %d takes frames of several chunks, and no "
				"XDP mode here takes an XDP program with fragments (multi-buffer XDP: "
				"Linux 5.18, AF_XDP 6.6): an MTU of %u at most works", xp->ifname, xp->mtu,
				(unsigned)(XDP_CHUNK_SIZE - XDP_DATA_OFF - 14));
		return rc ? rc : -EINVAL;
	}
	obj = xdp_program__bpf_obj(xp->prog);
	xp->xsks_fd = bpf_object__find_map_fd_by_name(obj, "pn_xsks");
	xp->stats_fd = bpf_object__find_map_fd_by_name(obj, "pn_xdp_stats");
	xp->steer.owner_pid = (uint32_t)getpid();
	rc = bpf_map_update_elem(bpf_object__find_map_fd_by_name(obj, "pn_steer"),
				 &key, &xp->steer, BPF_ANY);
	if (xp->xsks_fd < 0 || xp->stats_fd < 0 || rc) {
		prog_detach(xp);
		return -ENOENT;
	}
	return 0;
}

static void prog_detach(struct xdp_port *xp)
{
	if (xp->prog == NULL)
		return;
	xdp_program__detach(xp->prog, xp->ifindex, xp->attach_mode, 0);
	prog_close(xp);
}

/* slow path: sockets */

static int xq_create(struct pn_port_dev *dev, struct xdp_port *xp, unsigned i,
		     const char *bind_mode, bool need_wakeup, unsigned busy_poll)
{
	struct pn_pool *pool = dev->pools[i];
	uint32_t ring = dev->ring_size ? dev->ring_size : XDP_RING_DEFAULT;
	struct xsk_socket_config sc = {
		.rx_size = ring,
		.tx_size = ring,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.xdp_flags = 0,
	};
	struct pn_region_info ri;
	struct xdp_options opts;
	socklen_t optlen = sizeof(opts);
	struct xdp_queue *q;
	size_t words;
	int rc = 0;

	if (pn_pool_page_bytes(pool) != PN_FRAME_SIZE || pool->frag_size != XDP_CHUNK_SIZE) {
		pn_log(PN_LOG_ERR, "af_xdp", "queue %u: the pool must have order-0 pages and frag_size %u (UMEM chunks)",
			i, XDP_CHUNK_SIZE);
		return -EINVAL;
	}
	q = aligned_alloc(PN_CACHE_LINE, PN_ALIGN_UP(sizeof(*q), PN_CACHE_LINE));
	if (q == NULL)
		return -ENOMEM;
	memset(q, 0, sizeof(*q));
	pn_region_info(pn_pool_region(pool), &ri);
	q->base = ri.base;
	q->umem_len = ri.len;
	q->frames = ri.frames;
	q->nchunks = (uint32_t)(ri.len >> XDP_CHUNK_SHIFT);
	words = (q->nchunks + 63) / 64;
	q->fill_held = calloc(words, sizeof(uint64_t));
	q->tx_held = calloc(words, sizeof(uint64_t));
	q->tx_piece_held = calloc(words, sizeof(uint64_t));
	q->pool = pool;
	q->stats = &dev->qstats[i];
	q->holder = &dev->qholder[i];
	q->qid = xp->start_queue + i;
	q->room = XDP_CHUNK_SIZE - XDP_DATA_OFF;
	q->max_len = q->room;
	q->fd = -1;
	xp->q[i] = q;
	if (q->fill_held == NULL || q->tx_held == NULL || q->tx_piece_held == NULL)
		return -ENOMEM;

	pthread_mutex_lock(&umem_lock);
	q->um = umem_get(pn_pool_region(pool), ring, &rc);
	if (q->um == NULL) {
		pthread_mutex_unlock(&umem_lock);
		return rc;
	}
	if (q->um->sockets == 1) {
		/* the first socket on a UMEM picks the mode; the kernel gives
		 * sockets sharing it the same one */
		static const struct {
			const char *name;
			uint16_t flag;
		} binds[] = { { "zc", XDP_ZEROCOPY }, { "copy", XDP_COPY } };

		rc = -EINVAL;
		for (unsigned b = 0; b < PN_DIM(binds); b++) {
			if (strcmp(bind_mode, "auto") != 0 && strcmp(bind_mode, binds[b].name) != 0)
				continue;
			sc.bind_flags = binds[b].flag | (need_wakeup ? XDP_USE_NEED_WAKEUP : 0) |
					(xp->sg ? XDP_USE_SG : 0);
			/* hand libxdp the UMEM's own ring structs: on a refused
			 * bind it unmaps rings it was given copies of */
			rc = xsk_socket__create_shared(&q->xsk, xp->ifname, q->qid, q->um->umem,
						       &q->rx, &q->tx, &q->um->fill0,
						       &q->um->comp0, &sc);
			if (rc == 0) {
				q->fill = q->um->fill0;
				q->comp = q->um->comp0;
				q->sg = xp->sg;
				break;
			}
			if (strcmp(bind_mode, "auto") == 0 && b == 0)
				continue; /* no zero-copy on this device: copy mode */
		}
	} else {
		/* shared sockets may not set bind flags: one chunk a frame */
		sc.bind_flags = 0;
		if (xp->sg)
			pn_log(PN_LOG_WARNING, "af_xdp", "%s queue %u shares its UMEM: sockets that do "
				"cannot take multi-buffer frames, so frames of more than %u bytes (MTU %u) "
				"are dropped", xp->ifname, q->qid, q->room, q->room - 14);
		rc = xsk_socket__create_shared(&q->xsk, xp->ifname, q->qid, q->um->umem,
					       &q->rx, &q->tx, &q->fill, &q->comp, &sc);
	}
	if (rc) {
		pn_log(PN_LOG_ERR, "af_xdp", "%s queue %u: cannot create the socket: %s",
			xp->ifname, q->qid, strerror(-rc));
		umem_put(q->um);
		q->um = NULL;
		q->xsk = NULL;
		pthread_mutex_unlock(&umem_lock);
		return rc;
	}
	q->fd = xsk_socket__fd(q->xsk);
	q->copy_mode = true;
	if (getsockopt(q->fd, SOL_XDP, XDP_OPTIONS, &opts, &optlen) == 0) {
		q->copy_mode = !(opts.flags & XDP_OPTIONS_ZEROCOPY);
		if (q->um->sockets == 1)
			q->um->zc = opts.flags & XDP_OPTIONS_ZEROCOPY;
	}
	pthread_mutex_unlock(&umem_lock);
	q->need_wakeup = need_wakeup;
	/* what the device carries, up to what the buffers hold */
	q->max_len = PN_MIN((uint32_t)xp->mtu + 14u,
			    q->room + (q->sg ? PN_PKT_MAX_FRAGS * XDP_CHUNK_SIZE : 0u));

	if (busy_poll) {
		int one = 1, usecs = (int)busy_poll, budget = 64;

		if (setsockopt(q->fd, SOL_SOCKET, SO_PREFER_BUSY_POLL, &one, sizeof(one)) ||
		    setsockopt(q->fd, SOL_SOCKET, SO_BUSY_POLL, &usecs, sizeof(usecs)) ||
		    setsockopt(q->fd, SOL_SOCKET, SO_BUSY_POLL_BUDGET, &budget, sizeof(budget))) {
			pn_log(PN_LOG_WARNING, "af_xdp", "%s: busy polling refused (%s); polling without it",
				xp->ifname, strerror(errno));
		} else {
			q->busy_poll = true;
		}
	}
	dev->pub.rxq[i] = q;
	dev->pub.txq[i] = q;
	return 0;
}

/* Give back every buffer the queue holds and close its socket. */
static void xq_destroy(struct xdp_queue *q)
{
	struct timespec t0, t;

	if (q == NULL)
		return;
	if (q->xsk != NULL) {
		/* let the kernel finish what it was asked to send (bounded) */
		clock_gettime(CLOCK_MONOTONIC, &t0);
		while (q->tx_out) {
			sendto(q->fd, NULL, 0, MSG_DONTWAIT, NULL, 0);
			xq_complete(q);
			clock_gettime(CLOCK_MONOTONIC, &t);
			if ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) > 200000000L)
				break;
		}
		xsk_socket__delete(q->xsk);
		pthread_mutex_lock(&umem_lock);
		umem_put(q->um);
		pthread_mutex_unlock(&umem_lock);
	}
	/* the socket is gone: what it held will never come back from the kernel */
	for (uint32_t w = 0; q->fill_held && q->tx_held && w < (q->nchunks + 63) / 64; w++) {
		while (q->fill_held[w]) {
			uint32_t c = w * 64 + (uint32_t)__builtin_ctzll(q->fill_held[w]);

			q->fill_held[w] &= q->fill_held[w] - 1;
			pn_pool_frag_free(&q->frames[((uint64_t)c << XDP_CHUNK_SHIFT) >> PN_FRAME_SHIFT],
					  q->base + ((uint64_t)c << XDP_CHUNK_SHIFT));
		}
		while (q->tx_held[w]) {
			uint32_t c = w * 64 + (uint32_t)__builtin_ctzll(q->tx_held[w]);

			q->tx_held[w] &= q->tx_held[w] - 1;
			pn_pkt_free(&((struct pn_pkt_shinfo *)(q->base +
				((uint64_t)c << XDP_CHUNK_SHIFT)))->pkt);
		}
	}
	pn_pkt_free(q->rx_part); /* a frame that never got its last piece */
	pn_pkt_free(q->comp_pkt);
	free(q->fill_held);
	free(q->tx_held);
	free(q->tx_piece_held); /* those chunks went with their heads' packets */
	free(q);
}

static int parse_steer(struct xdp_port *xp, struct pn_kvargs *args,
		       const uint8_t mac[6])
{
	const char *v;

	xp->steer.flags = 0;
	if ((v = pn_kvargs_get(args, "dst_mac")) != NULL) {
		unsigned m[6];

		if (strcmp(v, "own") == 0) {
			memcpy(xp->steer.mac, mac, 6);
		} else if (sscanf(v, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3],
				  &m[4], &m[5]) == 6) {
			for (int i = 0; i < 6; i++)
				xp->steer.mac[i] = (uint8_t)m[i];
		} else {
			pn_log(PN_LOG_ERR, "af_xdp", "dst_mac=%s: want own or aa:bb:cc:dd:ee:ff", v);
			return -EINVAL;
		}
		xp->steer.flags |= PN_STEER_MAC;
	}
	if ((v = pn_kvargs_get(args, "dst_ip")) != NULL) {
		struct in_addr a;

		if (inet_pton(AF_INET, v, &a) != 1) {
			pn_log(PN_LOG_ERR, "af_xdp", "dst_ip=%s is not an IPv4 address", v);
			return -EINVAL;
		}
		xp->steer.ip = a.s_addr;
		xp->steer.flags |= PN_STEER_IP;
	}
	if ((v = pn_kvargs_get(args, "dst_ip6")) != NULL) {
		if (inet_pton(AF_INET6, v, xp->steer.ip6) != 1) {
			pn_log(PN_LOG_ERR, "af_xdp", "dst_ip6=%s is not an IPv6 address", v);
			return -EINVAL;
		}
		xp->steer.flags |= PN_STEER_IP6;
	}
	if ((v = pn_kvargs_get(args, "proto")) != NULL) {
		if (strcmp(v, "udp") == 0)
			xp->steer.proto = 17;
		else if (strcmp(v, "tcp") == 0)
			xp->steer.proto = 6;
		else if (strcmp(v, "icmp") == 0)
			xp->steer.proto = 1;
		else {
			pn_log(PN_LOG_ERR, "af_xdp", "proto=%s: want udp, tcp or icmp", v);
			return -EINVAL;
		}
		xp->steer.flags |= PN_STEER_PROTO;
	}
	if (pn_kvargs_get(args, "dport") != NULL) {
		unsigned port = 0;

		if (pn_kvargs_get_uint(args, "dport", 1, 65535, &port))
			return -EINVAL;
		xp->steer.port = htons((uint16_t)port);
		xp->steer.flags |= PN_STEER_PORT;
	}
	if (xp->steer.flags == 0)
		xp->steer.flags = PN_STEER_ALL;
	return 0;
}

static void xdp_close(struct pn_port_dev *dev)
{
	struct xdp_port *xp = dev->priv;

	if (xp == NULL)
		return;
	/* first stop steering, so frames go to the kernel, not to dead sockets */
	prog_detach(xp);
	for (unsigned i = 0; i < dev->nb_queues; i++)
		xq_destroy(xp->q[i]);
	free(xp);
	dev->priv = NULL;
}

/*
 * What would make a working port look dead, said once at open: the link
 * is down, or the kernel holds the address we steer on the same interface
 * (the kernel then answers for it too, and its own connections from it go
 * nowhere).
 */
static void warn_setup(const struct xdp_port *xp)
{
	struct pn_port_link link;
	struct ifaddrs *ifa_list;

	if (pn_port_netdev_link(xp->ifname, &link) == 0 && !link.up)
		pn_log(PN_LOG_WARNING, "af_xdp", "%s is down: nothing arrives until it is up "
			"(ip link set %s up)", xp->ifname, xp->ifname);
	if (!(xp->steer.flags & (PN_STEER_IP | PN_STEER_IP6)) || getifaddrs(&ifa_list) != 0)
		return;
	for (struct ifaddrs *i = ifa_list; i; i = i->ifa_next) {
		char a[INET6_ADDRSTRLEN];
		bool same = false;

		if (i->ifa_addr == NULL || strcmp(i->ifa_name, xp->ifname) != 0)
			continue;
		if (i->ifa_addr->sa_family == AF_INET && (xp->steer.flags & PN_STEER_IP))
			same = ((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr.s_addr ==
			       xp->steer.ip;
		else if (i->ifa_addr->sa_family == AF_INET6 && (xp->steer.flags & PN_STEER_IP6))
			same = memcmp(((const struct sockaddr_in6 *)(const void *)i->ifa_addr)->sin6_addr.s6_addr,
				      xp->steer.ip6, 16) == 0;
		if (!same)
			continue;
		inet_ntop(i->ifa_addr->sa_family,
			  i->ifa_addr->sa_family == AF_INET
				  ? (const void *)&((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr
				  : (const void *)&((const struct sockaddr_in6 *)(const void *)i->ifa_addr)->sin6_addr,
			  a, sizeof(a));
		pn_log(PN_LOG_WARNING, "af_xdp", "%s: the kernel has %s on this interface too: "
			"give pagenet an address of its own, or remove the kernel's (ip addr del %s dev %s)",
			xp->ifname, a, a, xp->ifname);
	}
	freeifaddrs(ifa_list);
}

static int xdp_open(struct pn_port_dev *dev, struct pn_kvargs *args)
{
	const char *ifname = pn_kvargs_get(args, "iface");
	const char *xdp_mode = pn_kvargs_get(args, "xdp");
	const char *bind_mode = pn_kvargs_get(args, "bind");
	unsigned need_wakeup = 1, busy_poll = 0, start_queue = 0;
	struct xdp_port *xp;
	int rc;

	if (ifname == NULL || strlen(ifname) >= IF_NAMESIZE) {
		pn_log(PN_LOG_ERR, "af_xdp", "want iface=NAME");
		return -EINVAL;
	}
	xdp_mode = xdp_mode ? xdp_mode : "auto";
	bind_mode = bind_mode ? bind_mode : "auto";
	if (strcmp(xdp_mode, "auto") && strcmp(xdp_mode, "native") && strcmp(xdp_mode, "skb")) {
		pn_log(PN_LOG_ERR, "af_xdp", "xdp=%s: want auto, native or skb", xdp_mode);
		return -EINVAL;
	}
	if (strcmp(bind_mode, "auto") && strcmp(bind_mode, "zc") && strcmp(bind_mode, "copy")) {
		pn_log(PN_LOG_ERR, "af_xdp", "bind=%s: want auto, zc or copy", bind_mode);
		return -EINVAL;
	}
	if (pn_kvargs_get_uint(args, "need_wakeup", 0, 1, &need_wakeup) ||
	    pn_kvargs_get_uint(args, "busy_poll", 0, 1000000, &busy_poll) ||
	    pn_kvargs_get_uint(args, "start_queue", 0, PN_XDP_MAX_QUEUES - 1, &start_queue))
		return -EINVAL;
	if (start_queue + dev->nb_queues > PN_XDP_MAX_QUEUES) {
		pn_log(PN_LOG_ERR, "af_xdp", "queues %u..%u beyond the program's %d",
			start_queue, start_queue + dev->nb_queues - 1, PN_XDP_MAX_QUEUES);
		return -EINVAL;
	}
	if (dev->ring_size == 0)
		dev->ring_size = XDP_RING_DEFAULT;

	xp = calloc(1, sizeof(*xp));
	if (xp == NULL)
		return -ENOMEM;
	dev->priv = xp;
	snprintf(xp->ifname, sizeof(xp->ifname), "%s", ifname);
	xp->start_queue = start_queue;
	xp->ifindex = (int)if_nametoindex(ifname);
	if (xp->ifindex == 0) {
		pn_log(PN_LOG_ERR, "af_xdp", "no interface %s", ifname);
		rc = -ENODEV;
		goto fail;
	}
	rc = pn_port_netdev_mac(ifname, dev->mac);
	if (rc)
		goto fail;
	xp->mtu = pn_port_netdev_mtu(ifname);
	if (xp->mtu < 0) {
		rc = xp->mtu;
		goto fail;
	}
	xp->sg = (uint32_t)xp->mtu + 14u > XDP_CHUNK_SIZE - XDP_DATA_OFF;
	rc = parse_steer(xp, args, dev->mac);
	if (rc)
		goto fail;
	warn_setup(xp);
	rc = prog_attach(xp, xdp_mode);
	if (rc == -EBUSY || rc == -EEXIST) {
		goto fail; /* in use, by us or another program: said above */
	} else if (rc == -EPERM || rc == -EACCES) {
		pn_log(PN_LOG_ERR, "af_xdp", "%s: cannot attach the XDP program: %s%s", ifname,
			strerror(-rc), geteuid() != 0 ? " (root, or CAP_NET_ADMIN and CAP_BPF, is needed)"
						      : " (a security module, or a locked-down kernel?)");
		goto fail;
	} else if (rc) {
		pn_log(PN_LOG_ERR, "af_xdp", "%s: cannot attach the XDP program: %s (libbpf's "
			"account at debug log level)", ifname, strerror(-rc));
		goto fail;
	}
	for (unsigned i = 0; i < dev->nb_queues; i++) {
		rc = xq_create(dev, xp, i, bind_mode, need_wakeup, busy_poll);
		if (rc)
			goto fail;
	}
	dev->pub.rx_burst = xdp_rx_burst;
	dev->pub.tx_burst = xdp_tx_burst;
	/* what every queue carries whole */
	dev->max_frame = UINT32_MAX;
	for (unsigned i = 0; i < dev->nb_queues; i++)
		dev->max_frame = PN_MIN(dev->max_frame, xp->q[i]->max_len);
	snprintf(dev->name, sizeof(dev->name), "af_xdp:%s", ifname);
	snprintf(dev->mode, sizeof(dev->mode), "%s, xdp %s%s%s%s%s",
		 xp->q[0]->um->zc ? "zero-copy" : "copy",
		 xp->attach_mode == XDP_MODE_NATIVE ? "native" : "skb",
		 xp->q[0]->sg ? ", multi-buf" : "",
		 need_wakeup ? ", need_wakeup" : "",
		 xp->q[0]->busy_poll ? ", busy poll" : "",
		 xp->q[0]->um->sockets > 1 ? ", shared umem" : "");
	return 0;
fail:
	xdp_close(dev);
	return rc;
}

/* Steering starts with the port: until then frames go to the kernel. */
static int xdp_start(struct pn_port_dev *dev)
{
	struct xdp_port *xp = dev->priv;

	for (unsigned i = 0; i < dev->nb_queues; i++) {
		int rc = xsk_socket__update_xskmap(xp->q[i]->xsk, xp->xsks_fd);

		if (rc) {
			pn_log(PN_LOG_ERR, "af_xdp", "%s: cannot add queue %u's socket to the map: %s",
				xp->ifname, xp->q[i]->qid, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static void xdp_stop(struct pn_port_dev *dev)
{
	struct xdp_port *xp = dev->priv;

	for (unsigned i = 0; i < dev->nb_queues; i++) {
		uint32_t key = xp->q[i]->qid;

		bpf_map_delete_elem(xp->xsks_fd, &key);
	}
}

static int xdp_link_get(const struct pn_port_dev *dev, struct pn_port_link *link)
{
	const struct xdp_port *xp = dev->priv;

	return pn_port_netdev_link(xp->ifname, link);
}

static int xdp_rx_fd(const struct pn_port_dev *dev, uint16_t q)
{
	const struct xdp_port *xp = dev->priv;

	return xp->q[q]->fd;
}

static void xdp_stats_get(const struct pn_port_dev *dev, struct pn_port_stats *st)
{
	const struct xdp_port *xp = dev->priv;

	for (unsigned i = 0; i < dev->nb_queues; i++) {
		struct xdp_statistics xs;
		socklen_t len = sizeof(xs);

		if (getsockopt(xp->q[i]->fd, SOL_XDP, XDP_STATISTICS, &xs, &len))
			continue;
		st->dev_rx_dropped += xs.rx_dropped + xs.rx_ring_full;
		st->dev_rx_ring_full += xs.rx_ring_full;
		st->dev_rx_fill_empty += xs.rx_fill_ring_empty_descs;
		st->dev_invalid_descs += xs.rx_invalid_descs + xs.tx_invalid_descs;
	}
	if (xp->prog != NULL) {
		int ncpu = libbpf_num_possible_cpus();
		uint64_t vals[256];

		for (uint32_t k = 0; k < PN_XDP_STAT_MAX && ncpu > 0 && ncpu <= 256; k++) {
			uint64_t sum = 0;

			if (bpf_map_lookup_elem(xp->stats_fd, &k, vals))
				continue;
			for (int c = 0; c < ncpu; c++)
				sum += vals[c];
			if (k == PN_XDP_STAT_STEERED)
				st->xdp_steered = sum;
			else
				st->xdp_passed = sum;
		}
	}
}

/*
 * libbpf and libxdp explain their failures in many lines of their own; the
 * driver says what went wrong in one, so theirs go to the log hook at
 * debug level (an application's --verbose). Routed only while the driver
 * calls them: the application's own print callbacks are put back after
 * each call, whatever it set them to.
 */
static int route_bpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	if (strncmp(fmt, "libbpf: ", 8) == 0)
		fmt += 8; /* the component says it already */
	pn_vlog(PN_LOG_DEBUG, "libbpf", fmt, ap);
	return 0;
}

static int route_xdp_print(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	if (strncmp(fmt, "libxdp: ", 8) == 0)
		fmt += 8;
	pn_vlog(PN_LOG_DEBUG, "libxdp", fmt, ap);
	return 0;
}

struct bpf_prints {
	libbpf_print_fn_t bpf;
	libxdp_print_fn_t xdp;
};

static struct bpf_prints prints_route(void)
{
	struct bpf_prints old = { libbpf_set_print(route_bpf_print),
				  libxdp_set_print(route_xdp_print) };

	return old;
}

static void prints_restore(struct bpf_prints old)
{
	libbpf_set_print(old.bpf);
	libxdp_set_print(old.xdp);
}

static void xdp_close_routed(struct pn_port_dev *dev)
{
	struct bpf_prints old = prints_route();

	xdp_close(dev);
	prints_restore(old);
}

static int xdp_open_routed(struct pn_port_dev *dev, struct pn_kvargs *args)
{
	struct bpf_prints old = prints_route();
	int rc = xdp_open(dev, args);

	prints_restore(old);
	return rc;
}

static const struct pn_port_ops af_xdp_ops = {
	.name = "af_xdp",
	.open = xdp_open_routed,
	.start = xdp_start,
	.stop = xdp_stop,
	.close = xdp_close_routed,
	.link_get = xdp_link_get,
	.stats_get = xdp_stats_get,
	.rx_fd = xdp_rx_fd,
};

PN_PORT_DRIVER_BUILTIN(af_xdp, af_xdp_ops)
