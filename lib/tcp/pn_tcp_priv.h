/* SPDX-License-Identifier: BSD-3-Clause */
/* TCP control block and per-stack state. */
#ifndef PN_TCP_PRIV_H
#define PN_TCP_PRIV_H

#include "pn_net_l4.h"
#include "pn_tcp.h"

#define PN_TCP_HASH 4096u
#define PN_TCP_MAX_RETRIES 15
#define PN_TCP_SYN_RETRIES 6
#define PN_TCP_MAX_RTO_MS 60000u
#define PN_TCP_INIT_RTO_MS 1000u
#define PN_TCP_FIN_TIMEOUT_MS 60000u
#define PN_TCP_INIT_CWND_SEGS 10u
#define PN_TCP_CHALLENGE_ACKS_PER_SEC 1000u

/* While a packet sits in a socket's queues its `pad` holds the sequence
 * number of its first payload byte. */

/* ---- zero-copy tokens (pn_tcp_zc.c) */

struct pn_zc_table;

/* A table for a new stack (one a dead stack left, all its tokens back, or
 * a new one). NULL with errno EINVAL, ENOMEM or ENOSPC. */
struct pn_zc_table *pn_zc_table_get(struct pn_stack *st, uint32_t size);
/* The stack is going: its table waits for its outstanding tokens. */
void pn_zc_table_put(struct pn_zc_table *t);
/* Issue a token for @obj (a packet, or a page reference when @is_frame).
 * @return the token, or 0 when every token is out. Stack thread. */
uint64_t pn_zc_issue(struct pn_zc_table *t, void *obj, bool is_frame, uint32_t sock_id,
		     uint32_t len);
/* Settle what other threads released. Stack thread, once per round. */
unsigned pn_zc_settle(struct pn_zc_table *t, struct pn_stack *st);
uint64_t pn_zc_outstanding(const struct pn_zc_table *t);
uint64_t pn_zc_bad(const struct pn_zc_table *t);
/* A token of socket @sock_id worth @len bytes came back (stack thread). */
void pn_tcp_zc_returned(struct pn_stack *st, uint32_t sock_id, uint32_t len);

struct pn_tcp_sock {
	struct pn_stack *st;
	uint32_t id; /* slot | generation << 16 */
	enum pn_tcp_state state;
	uint32_t rip;
	uint16_t rport, lport;
	struct pn_tcp_sock *hnext;
	bool hashed;

	/* application side */
	pn_tcp_cb cb;
	void *arg;
	unsigned ev;
	struct pn_tcp_sock *ev_next;
	bool ev_listed, work_listed, free_listed;
	bool wnd_check; /* the application freed receive space */
	bool orphan; /* the application closed it */
	int err;
	struct pn_tcp_sock *work_next, *free_next;
	struct pn_acct_group *acct;
	struct pn_acct_pin acct_pin; /* while acct is set */
	uint32_t holder;             /* holder id its pages are marked with */

	/* listener / accept queue */
	struct pn_tcp_sock *parent;
	struct pn_tcp_sock *aq_head, *aq_tail, *aq_next;
	bool in_aq;
	int backlog, nr_children;

	/* send side */
	uint32_t iss, snd_una, snd_nxt, snd_max, snd_wnd, snd_wl1, snd_wl2, max_snd_wnd;
	uint8_t snd_wscale, rcv_wscale;
	uint16_t mss;      /* payload bytes per segment we send */
	uint16_t peer_mss; /* from the peer's SYN */
	uint8_t *sbuf;
	uint32_t sbuf_size, sbuf_head, sbuf_len; /* sbuf_head: byte at snd_una */
	bool fin_queued, fin_acked, shut_wr;
	uint32_t cwnd, ssthresh, recover;
	uint16_t dupacks;
	bool in_recovery;
	uint32_t lt_extra; /* limited transmit: bytes allowed past cwnd */
	/* SACK scoreboard (RFC 6675): ranges above snd_una the peer holds,
	 * sorted and merged; high_rxt: where hole retransmission goes on */
	uint32_t sacked[8][2];
	uint8_t nr_sacked;
	uint32_t high_rxt;
	uint32_t srtt_us, rttvar_us, rto_ms;
	uint8_t backoff, retries;
	bool rtt_timing;
	uint32_t rtt_seq;
	uint64_t rtt_start_us;

	/* receive side */
	uint32_t irs, rcv_nxt, rcv_adv; /* rcv_adv: right edge advertised */
	uint32_t rcvbuf;
	struct pn_pkt *rq_head, *rq_tail;
	uint32_t rq_bytes;
	struct pn_pkt *ooo_head;
	uint32_t ooo_bytes, ooo_last_seq;
	uint32_t zc_held; /* payload bytes the application holds by token */
	bool fin_rcvd, fin_pending;
	uint32_t fin_seq;
	uint16_t segs_unacked;
	bool ack_now;
	bool ts_ok, sack_ok, ws_ok;
	uint32_t ts_recent;

	struct pn_timer rtx, delack;

	uint64_t rx_bytes, tx_bytes, retrans, zc_bytes, copy_bytes, fallback_bytes;
};

struct pn_tcp {
	struct pn_tcp_conf conf;
	struct pn_tcp_sock **socks; /* by slot */
	uint16_t *gen;
	uint32_t *free_slots;
	uint32_t nr_free;
	struct pn_tcp_sock *hash[PN_TCP_HASH];
	struct pn_tcp_sock *listeners; /* through hnext */
	struct pn_tcp_sock *ev_head, *ev_tail;
	struct pn_tcp_sock *work_head;
	struct pn_tcp_sock *free_head; /* through free_next */
	uint16_t next_port;
	uint64_t isn_key;
	uint64_t challenge_sec;
	uint32_t challenge_count;
	struct pn_zc_table *zc;
	struct pn_acct_pin conf_pin; /* conf.acct, the default group */
	struct pn_tcp_stats stats;
};

#endif /* PN_TCP_PRIV_H */
