/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * TCP on a pn_stack, with receive zero copy into the received pages
 * (docs/design.md §7, the TCP zero-copy accounting thread).
 *
 * Sockets live on their stack's thread: every call here and every callback
 * runs there. Events are edge-triggered, like EPOLLET: a callback says what
 * became true (data arrived, room to send, connection up, peer closed,
 * error); the application reads or writes until the call says -EAGAIN.
 *
 * Receive paths:
 *  - pn_tcp_recv() copies into the caller's buffer; the pages recycle at once.
 *  - pn_tcp_recv_zc() hands out (pointer, length, token) vectors pointing at
 *    the payload where the NIC (or the kernel, for AF_XDP) wrote it. The
 *    application keeps them as long as it likes and releases the tokens;
 *    the last release recycles the page through the pool's destructor. The
 *    page is charged to the socket's accounting group when it is handed
 *    out; when the group is at its max, the segment is copied into the
 *    fallback buffer the caller passed instead (and the page recycles at
 *    once), or, without room there, left queued: the advertised window
 *    shrinks and the sender waits. Acknowledged data is never dropped.
 *
 * Bytes held by the application through tokens count against the socket's
 * receive buffer, so an application that holds its pages closes the window.
 */
#ifndef PN_TCP_H
#define PN_TCP_H

#include <stdint.h>
#include <sys/types.h>

#include "pn_net.h"
#include "pn_tcp_cc.h"

#ifdef __cplusplus
extern "C" {
#endif

struct pn_tcp_sock;
struct pn_acct_group;

enum pn_tcp_state {
	PN_TCP_CLOSED,
	PN_TCP_LISTEN,
	PN_TCP_SYN_SENT,
	PN_TCP_SYN_RCVD,
	PN_TCP_ESTABLISHED,
	PN_TCP_FIN_WAIT_1,
	PN_TCP_FIN_WAIT_2,
	PN_TCP_CLOSE_WAIT,
	PN_TCP_CLOSING,
	PN_TCP_LAST_ACK,
	PN_TCP_TIME_WAIT,
};

/* event bits passed to the callback */
#define PN_TCP_EV_ACCEPT 0x01    /**< listener: a connection is ready to accept */
#define PN_TCP_EV_CONNECTED 0x02 /**< active open completed */
#define PN_TCP_EV_READABLE 0x04  /**< data (or end of stream) to read */
#define PN_TCP_EV_WRITABLE 0x08  /**< room in the send buffer again */
#define PN_TCP_EV_CLOSED 0x10    /**< reset, timed out or refused: see pn_tcp_error */

typedef void (*pn_tcp_cb)(struct pn_tcp_sock *s, unsigned events, void *arg);

/** Stack-wide TCP settings; pn_tcp_configure before the first socket. */
struct pn_tcp_conf {
	uint32_t sz;
	uint32_t rcvbuf;          /**< receive buffer bytes at first (default 512 KiB) */
	uint32_t sndbuf;          /**< send buffer bytes at first (default 256 KiB) */
	uint32_t max_sockets;     /**< default 4096, at most 1,048,575 */
	uint32_t time_wait_ms;    /**< default 60 000 (2 MSL as Linux) */
	uint32_t delack_ms;       /**< default 40 */
	uint32_t min_rto_ms;      /**< default 200 */
	struct pn_acct_group *acct; /**< default group of new sockets (NULL: none);
				     *   pinned while the stack lives */
	uint32_t max_zc_tokens;   /**< zero-copy tokens out at once, power of two
				   *   (default 65536); beyond it recv_zc copies */
	uint32_t syn_backlog;     /**< half-open connections per listener (default
				   *   256); beyond it, SYN cookies */
	bool no_syncookies;       /**< beyond syn_backlog, drop SYNs instead */
	uint32_t max_time_wait;   /**< TIME-WAIT entries kept (default 262,144, as
				   *   Linux's tcp_max_tw_buckets; about 80 bytes
				   *   each); beyond, the oldest ends early.
				   *   PN_TCP_NO_TIME_WAIT: none kept */
	const char *cc;           /**< congestion control of new sockets, by name
				   *   (pn_tcp_cc.h; NULL: "cubic") */
	/** Buffer autotuning, as Linux's tcp_rmem[2] and tcp_wmem[2]: a
	 *  connection's receive buffer grows to twice what arrives in order
	 *  per round trip, its send buffer to twice the congestion window
	 *  when the application fills it, up to these (default 4 MiB each;
	 *  equal to rcvbuf / sndbuf: no autotuning). */
	uint32_t rcvbuf_max, sndbuf_max;
};

/** pn_tcp_conf.max_time_wait: closed connections skip TIME-WAIT (tests). */
#define PN_TCP_NO_TIME_WAIT UINT32_MAX

int pn_tcp_configure(struct pn_stack *st, const struct pn_tcp_conf *conf);

/**
 * Listen on @p port. Half-open connections wait in a SYN queue of
 * pn_tcp_conf.syn_backlog; when it is full, SYN cookies answer for them
 * with no state (a SYN flood keeps nobody out). Connections that complete
 * the handshake wait in an accept queue of @p backlog (when it is full,
 * SYNs are dropped and counted, as Linux does); the listener's callback
 * gets PN_TCP_EV_ACCEPT. Accepted sockets start with
 * the listener's callback, argument and accounting group.
 * @return the listener, or NULL with errno EADDRINUSE, ENOMEM, EINVAL.
 */
struct pn_tcp_sock *pn_tcp_listen(struct pn_stack *st, uint16_t port, int backlog,
				  pn_tcp_cb cb, void *arg);
/** @return the next established connection, or NULL (errno EAGAIN). */
struct pn_tcp_sock *pn_tcp_accept(struct pn_tcp_sock *listener);

/**
 * Open a connection; the callback gets PN_TCP_EV_CONNECTED or
 * PN_TCP_EV_CLOSED. @return the socket, or NULL with errno set.
 */
struct pn_tcp_sock *pn_tcp_connect(struct pn_stack *st, uint32_t ip, uint16_t port,
				   pn_tcp_cb cb, void *arg);

/** The same to an address of either family (IPv6 once the stack's
 * address passed duplicate address detection: EADDRNOTAVAIL before). */
struct pn_tcp_sock *pn_tcp_connect_addr(struct pn_stack *st, const struct pn_addr *ip,
					uint16_t port, pn_tcp_cb cb, void *arg);

void pn_tcp_set_cb(struct pn_tcp_sock *s, pn_tcp_cb cb, void *arg);
void *pn_tcp_arg(const struct pn_tcp_sock *s);
/** Charge this socket's zero-copy pages to @p g from now on (NULL: none). */
void pn_tcp_set_acct(struct pn_tcp_sock *s, struct pn_acct_group *g);

/**
 * Keep-alive (RFC 1122 4.2.3.6, Linux's SO_KEEPALIVE with TCP_KEEPIDLE,
 * TCP_KEEPINTVL, TCP_KEEPCNT): after @p idle_ms without a segment from
 * the peer, probe every @p interval_ms; after @p count unanswered probes
 * the connection ends with ETIMEDOUT. @p idle_ms 0 turns it off;
 * @p interval_ms 0 means 75 s and @p count 0 means 9, as Linux.
 * @return 0, or -EINVAL (idle or interval over 2^31 ms, count over 255).
 */
int pn_tcp_set_keepalive(struct pn_tcp_sock *s, uint32_t idle_ms, uint32_t interval_ms,
			 uint32_t count);

/**
 * Queue bytes to send (copied into the send buffer).
 * @return bytes taken (may be fewer than @p len), -EAGAIN when the buffer
 *         is full, -EPIPE after shutdown/close or -ENOTCONN.
 */
ssize_t pn_tcp_send(struct pn_tcp_sock *s, const void *buf, size_t len);
/** @return free bytes in the send buffer. */
size_t pn_tcp_send_space(const struct pn_tcp_sock *s);

/** Copying receive. @return bytes, 0 at end of stream, -EAGAIN, -ECONNRESET. */
ssize_t pn_tcp_recv(struct pn_tcp_sock *s, void *buf, size_t len);

/** One piece of received payload. */
struct pn_zc_vec {
	const uint8_t *base;
	uint32_t len;
	uint64_t token; /**< 0: the bytes are in the caller's fallback buffer */
};

/**
 * Zero-copy receive: up to @p max vectors of in-order payload, each with
 * its own token. A segment that a driver delivered in several pieces
 * (header split, multi-buffer frames) gives one vector per piece.
 * @p copy_buf / @p copy_len: where to copy a piece whose page cannot be
 * charged (group at its max) or when every token is out; may be NULL/0.
 * @return vectors filled, 0 at end of stream, -EAGAIN (nothing to read),
 *         -ENOBUFS (data waits, but its page cannot be charged and the
 *         fallback buffer is full or absent), -ECONNRESET, or -EINVAL
 *         (@p vec NULL or @p max 0).
 */
int pn_tcp_recv_zc(struct pn_tcp_sock *s, struct pn_zc_vec *vec, unsigned max,
		   void *copy_buf, size_t copy_len);

/**
 * Release a token from pn_tcp_recv_zc: drops the payload's page references
 * (the last one recycles the page and ends its charge) and gives the bytes
 * back to the socket's receive window.
 *
 * Any thread may call it, at any time: while the socket and stack live,
 * after the socket is closed, and after the stack is destroyed. On the
 * stack's thread the socket's bookkeeping is done at once; on another
 * thread the pages are freed there and the stack's thread settles the
 * socket in its next poll round (the window reopens in that round).
 * Lock-free.
 *
 * Tokens are checked handles (slot + generation): a token already released,
 * one never issued, or one of another stack returns -EINVAL, is counted
 * (pn_tcp_stats::zc_bad_tokens, pn_tcp_zc_bad_tokens()) and touches nothing.
 *
 * @param st the stack the token came from, or NULL. When not NULL and that
 *        stack is alive, a token of another live stack is refused. @p st is
 *        only compared, never followed, so a destroyed stack's pointer is
 *        harmless.
 * @param token a token from pn_tcp_recv_zc; 0 (copied bytes) is a no-op.
 * @return 0, or -EINVAL for a stale, doubled, foreign or made-up token.
 */
int pn_tcp_zc_release(struct pn_stack *st, uint64_t token);

/**
 * Release @p n tokens (0 entries are skipped): one push for the lot when
 * called off the stack's thread.
 * @return 0, or -EINVAL when any token was bad (the good ones are released).
 */
int pn_tcp_zc_release_bulk(struct pn_stack *st, const uint64_t *tokens, unsigned n);

/** @return bad tokens seen by every release so far, process-wide. */
uint64_t pn_tcp_zc_bad_tokens(void);

/** Send FIN once queued data is sent; reading stays possible. */
int pn_tcp_shutdown(struct pn_tcp_sock *s);
/**
 * Give the socket back: queued data is still sent, then FIN. Unread data
 * makes it an abort (RST), as in Linux. No callback after this; the stack
 * frees the socket when the connection is over.
 */
void pn_tcp_close(struct pn_tcp_sock *s);
/** Reset the connection and give the socket back. */
void pn_tcp_abort(struct pn_tcp_sock *s);

enum pn_tcp_state pn_tcp_state(const struct pn_tcp_sock *s);
const char *pn_tcp_state_name(enum pn_tcp_state st);
/** @return 0 or the errno that ended the connection (ECONNRESET, ...). */
int pn_tcp_error(const struct pn_tcp_sock *s);
/** @return true when end of stream was read (FIN seen and queue empty). */
bool pn_tcp_eof(const struct pn_tcp_sock *s);

struct pn_tcp_info {
	enum pn_tcp_state state;
	uint32_t peer_ip;          /**< IPv4 peers (host order); 0 for IPv6 */
	struct pn_addr peer_addr;  /**< the peer, either family */
	uint16_t peer_port, local_port;
	uint32_t mss, snd_wnd, cwnd, ssthresh, rcv_wnd, srtt_us, rto_ms;
	uint32_t rcv_queued, ooo_queued, zc_held, snd_queued;
	uint32_t snd_una, snd_nxt, rcv_nxt;
	bool ts, sack, wscale;
	uint64_t bytes_received, bytes_sent, retransmits;
	uint64_t zc_bytes, copy_bytes, fallback_bytes;
	uint32_t snd_buf_alloc; /**< bytes the send buffer holds allocated now (0 when all is acknowledged) */
	char cc[PN_TCP_CC_NAME_MAX]; /**< congestion control */
	uint8_t ca_state;          /**< 0 open, 1 disorder, 2 fast recovery, 3 after a timeout */
	uint32_t min_rtt_us;
	uint32_t in_flight;        /**< bytes in the network (RFC 6675 pipe) */
	uint32_t sacked, lost, retrans_out; /**< bytes: SACKed, taken for lost, resent in flight */
	uint32_t reo_wnd_mult;     /**< RACK's reordering window, in quarter min-RTTs */
	uint32_t rcvbuf, sndbuf;   /**< the buffers' sizes now (autotuning grows them) */
	bool reordering_seen;
};
void pn_tcp_info_get(const struct pn_tcp_sock *s, struct pn_tcp_info *info);

/** Stack-wide TCP counters. */
struct pn_tcp_stats {
	uint64_t segs_in, segs_out, bad_segs, bad_csum, rst_in, rst_out;
	/** Of bad_csum: segments whose checksum field holds only the
	 *  pseudo-header sum, a checksum the sender's offload never finished.
	 *  A peer on veth with TX checksum offload on sends nothing else (its
	 *  connections never open): turn the offload off on the peer's side,
	 *  `ethtool -K DEV tx off`. */
	uint64_t bad_csum_partial;
	struct pn_addr partial_csum_peer; /**< the last peer that sent one */
	uint64_t active_opens, passive_opens, established, closed, resets;
	uint64_t listen_overflows, syn_dropped_no_socket;
	uint64_t syncookies_sent, syncookies_ok, syncookies_failed;
	/** Of syncookies_ok: a half-open connection for the same SYN was
	 *  in the queue too (an earlier copy got the cookie); it gave way. */
	uint64_t syncookies_over_syn_queue;
	uint64_t time_wait_recycled; /**< TIME-WAIT entries ended early: max_time_wait reached */
	uint64_t retrans_segs;   /**< segments sent again, every cause */
	uint64_t fast_retrans;   /**< fast recoveries begun (losses found from ACKs) */
	uint64_t rto_expired;    /**< retransmission timeouts */
	uint64_t dup_acks_in;
	uint64_t rack_lost;      /**< segments RACK took for lost */
	uint64_t lost_retrans;   /**< of those, retransmissions lost again (found without a timeout) */
	uint64_t tlp_probes;     /**< tail loss probes sent */
	uint64_t tlp_recoveries; /**< losses a probe repaired */
	uint64_t spurious_rto;   /**< timeouts found spurious (F-RTO, timestamps) and undone */
	uint64_t undo_recoveries; /**< window reductions undone: every retransmission D-SACKed,
				   *   or timestamps showed the originals arrived */
	uint64_t dsack_in;       /**< D-SACK blocks received: the peer had a segment twice */
	uint64_t dsack_out;      /**< D-SACK blocks sent */
	uint64_t reordering_seen; /**< connections that saw the network reorder their segments */
	uint64_t ooo_segs, ooo_merged, dup_data_segs, out_of_window, zero_window_adv;
	uint64_t ooo_dropped;    /**< out-of-order segments dropped: a connection had
				  *   1024 holes open (not acknowledged: resent) */
	uint64_t window_probes, window_updates;
	uint64_t keepalive_probes;
	uint64_t timeouts; /**< connections given up: retransmissions, probes or keep-alive unanswered */
	uint64_t challenge_acks, rfc5961_rst_dropped;
	uint64_t rx_payload_bytes, tx_payload_bytes;
	/* which path each received byte took */
	uint64_t zc_bytes;       /**< handed out by pn_tcp_recv_zc, no copy */
	uint64_t copy_bytes;     /**< copied by pn_tcp_recv */
	uint64_t fallback_bytes; /**< copied by pn_tcp_recv_zc: group at its max */
	uint64_t zc_charge_refused; /**< segments whose page could not be charged */
	uint64_t zc_tokens_out;  /**< tokens held by the application now */
	uint64_t zc_tokens_exhausted; /**< pieces copied because every token was out */
	uint64_t zc_released_remote;  /**< tokens released on other threads, settled */
	uint64_t zc_bad_tokens;  /**< stale, doubled or foreign tokens naming this stack */
	uint64_t sockets, listeners;
	uint64_t time_wait; /**< connections in TIME-WAIT now: sockets the application
			     *   holds, and entries without a socket */
};
void pn_tcp_stats_get(const struct pn_stack *st, struct pn_tcp_stats *s);

#ifdef __cplusplus
}
#endif

#endif /* PN_TCP_H */
