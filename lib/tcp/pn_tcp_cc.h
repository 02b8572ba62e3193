/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Congestion control modules for pagenet's TCP, in the role of Linux's
 * tcp_congestion_ops: an algorithm decides how large the congestion window
 * is; TCP itself detects loss (SACK, RACK-TLP, retransmission timeouts),
 * repairs it, paces the repair with Proportional Rate Reduction and undoes
 * a response that proves spurious.
 *
 * Two algorithms are built in: "cubic" (RFC 9438, the default, as on
 * Linux) and "newreno" (RFC 5681, 6582). Others are registered with
 * pn_tcp_cc_register() and chosen per stack (pn_tcp_conf.cc) or per socket
 * (pn_tcp_set_cc()).
 *
 * An algorithm sees a connection through struct pn_tcp_cc only: TCP fills
 * the inputs before each hook and reads cwnd and ssthresh after it. Every
 * hook runs on the stack's thread, in the receive path: hooks must not
 * block, allocate or take locks. Windows are in bytes.
 */
#ifndef PN_TCP_CC_H
#define PN_TCP_CC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct pn_tcp_sock;

/** Bytes of per-connection state an algorithm may keep in pn_tcp_cc.priv. */
#define PN_TCP_CC_PRIV_BYTES 96
/** Longest algorithm name, with its NUL. */
#define PN_TCP_CC_NAME_MAX 16
/** Algorithms one process can have registered (the built-in ones count). */
#define PN_TCP_CC_MAX 16

struct pn_tcp_cc_ops;

/** One connection as its congestion control sees it. */
struct pn_tcp_cc {
	/* inputs, current before every hook */
	uint32_t mss;        /**< payload bytes of a full segment */
	uint32_t srtt_us;    /**< smoothed round-trip time; 0 before the first sample */
	uint32_t min_rtt_us; /**< lowest round-trip time seen lately; 0 before the first */
	uint32_t in_flight;  /**< bytes in the network (RFC 6675's pipe) */
	uint64_t now_us;     /**< the stack's clock */
	/* outputs */
	uint32_t cwnd;     /**< congestion window, bytes; at least one mss */
	uint32_t ssthresh; /**< slow-start threshold, bytes */
	const struct pn_tcp_cc_ops *ops;
	/** the algorithm's own state: zeroed before init() */
	uint64_t priv[PN_TCP_CC_PRIV_BYTES / 8];
};

/** What one acknowledgment delivered. */
struct pn_tcp_cc_ack {
	uint32_t acked;           /**< bytes newly acknowledged cumulatively */
	uint32_t sacked;          /**< bytes newly selectively acknowledged */
	uint32_t rtt_us;          /**< its round-trip sample; 0 when it has none */
	uint32_t prior_in_flight; /**< bytes in flight before it */
};

/** Events an algorithm may react to (pn_tcp_cc_ops.on_event). */
enum pn_tcp_cc_event {
	PN_TCP_CC_EV_RECOVERY,     /**< loss found from ACKs: fast recovery begins */
	PN_TCP_CC_EV_LOSS,         /**< the retransmission timer expired */
	PN_TCP_CC_EV_RECOVERED,    /**< recovery (or a timeout's repair) is over */
	PN_TCP_CC_EV_IDLE_RESTART, /**< sending again after an idle period of over an RTO */
};

struct pn_tcp_cc_ops {
	/** unique, at most PN_TCP_CC_NAME_MAX - 1 characters */
	const char *name;
	/** The connection is established: cwnd holds the initial window
	 *  (RFC 6928: ten segments) and ssthresh "infinite". Optional. */
	void (*init)(struct pn_tcp_cc *cc);
	/** A loss response begins (fast recovery or a timeout): the new
	 *  slow-start threshold. Required. */
	uint32_t (*ssthresh)(struct pn_tcp_cc *cc);
	/** An ACK delivered data while no loss is being repaired and the
	 *  window, not the application or the peer, limited the sender:
	 *  grow cwnd. Required. */
	void (*cong_avoid)(struct pn_tcp_cc *cc, const struct pn_tcp_cc_ack *ack);
	/** Every ACK that delivers data, in any state (RTT samples for a
	 *  delay-based slow-start exit, for instance). Optional. */
	void (*on_ack)(struct pn_tcp_cc *cc, const struct pn_tcp_cc_ack *ack);
	/** Optional. */
	void (*on_event)(struct pn_tcp_cc *cc, enum pn_tcp_cc_event ev);
	/** The last loss response was spurious (D-SACK, timestamps, F-RTO):
	 *  the window to return to, given the one before it. Optional: without
	 *  it, @p prior_cwnd (and the algorithm's state stays as it is). */
	uint32_t (*undo_cwnd)(struct pn_tcp_cc *cc, uint32_t prior_cwnd);
};

/**
 * Make an algorithm available to every stack of the process. @p ops must
 * stay valid for the life of the process; there is no unregistering.
 * @return 0, or -EINVAL (no name, a name too long, ssthresh or cong_avoid
 * missing), -EEXIST (the name is taken), -ENOSPC (PN_TCP_CC_MAX reached).
 */
int pn_tcp_cc_register(const struct pn_tcp_cc_ops *ops);

/** @return the algorithm registered as @p name, or NULL. */
const struct pn_tcp_cc_ops *pn_tcp_cc_find(const char *name);

/**
 * Names of the registered algorithms, comma-separated, into @p buf.
 * @return the length it needed (as snprintf).
 */
int pn_tcp_cc_list(char *buf, size_t len);

/**
 * Use @p name for this socket from now on (Linux's TCP_CONGESTION). On an
 * established connection the algorithm starts from the current window.
 * @return 0, or -ENOENT (no such algorithm).
 */
int pn_tcp_set_cc(struct pn_tcp_sock *s, const char *name);

/** @return the name of the socket's algorithm. */
const char *pn_tcp_get_cc(const struct pn_tcp_sock *s);

#ifdef __cplusplus
}
#endif

#endif /* PN_TCP_CC_H */
