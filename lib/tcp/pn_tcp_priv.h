/* SPDX-License-Identifier: BSD-3-Clause */
/* TCP control block and per-stack state. */
#ifndef PN_TCP_PRIV_H
#define PN_TCP_PRIV_H

#include "pn_net_l4.h"
#include "pn_tcp.h"

#define PN_TCP_TW_HASH_MIN 1024u /* TIME-WAIT buckets at first; doubled as entries come */
/* a socket id: slot in the low 20 bits (a million sockets per stack), a
 * 12-bit generation above (never 0) so a stale id finds nothing */
#define PN_TCP_SLOT_BITS 20
#define PN_TCP_SLOT_MASK ((1u << PN_TCP_SLOT_BITS) - 1)
#define PN_TCP_MAX_SOCKETS PN_TCP_SLOT_MASK
#define PN_TCP_MAX_RETRIES 15
#define PN_TCP_SYN_RETRIES 6
#define PN_TCP_SYNACK_RETRIES 5 /* as Linux: a half-open entry lives about a minute */
#define PN_TCP_MAX_RTO_MS 60000u
#define PN_TCP_INIT_RTO_MS 1000u
#define PN_TCP_FIN_TIMEOUT_MS 60000u
#define PN_TCP_INIT_CWND_SEGS 10u
#define PN_TCP_CHALLENGE_ACKS_PER_SEC 1000u
/* how long after its last cookie a listener takes cookie ACKs (a cookie's
 * lifetime, pn_tcp_cookie.c), as Linux's tcp_synq_no_recent_overflow */
#define PN_TCP_COOKIE_VALID_MS (3u << 16)

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

struct pn_tcp_sock;

/*
 * Congestion control, as Linux's tcp_congestion_ops: how the window starts,
 * grows on new ACKs outside recovery, and what it drops to on a loss. Loss
 * recovery itself (fast retransmit, SACK-driven hole repair, partial ACKs,
 * RTO go-back) is common to every algorithm.
 */
struct pn_tcp_cc_ops {
	const char *name;
	void (*init)(struct pn_tcp_sock *s);       /* the handshake set mss */
	uint32_t (*ssthresh)(struct pn_tcp_sock *s); /* on fast retransmit or RTO */
	void (*cong_avoid)(struct pn_tcp_sock *s, uint32_t acked); /* new ACK, not in recovery */
};

extern const struct pn_tcp_cc_ops pn_tcp_newreno;

/* A received segment, parsed (pn_tcp_input.c) */
struct pn_tcp_seg {
	const struct pn_tcp_hdr *th;
	struct pn_addr rip;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint32_t hlen, plen; /* header with options; payload */
	uint32_t len;        /* SEG.LEN: payload, plus one for SYN and for FIN */
	uint16_t wnd;        /* as sent, not yet scaled */
	uint8_t flags;
	struct pn_tcp_opts o;
};


struct pn_tcp_sock {
	struct pn_stack *st;
	uint32_t id; /* slot | generation << PN_TCP_SLOT_BITS */
	enum pn_tcp_state state;
	struct pn_addr rip; /* the peer, either family */
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
	int backlog;            /* accept queue: established, not yet accepted */
	int nr_syn, nr_acq;     /* children in SYN-RECEIVED; in the accept queue */
	uint64_t cookie_sent_ms; /* the last SYN cookie it sent (0: never) */

	/* send side */
	uint32_t iss, snd_una, snd_nxt, snd_max, snd_wnd, snd_wl1, snd_wl2, max_snd_wnd;
	uint8_t snd_wscale, rcv_wscale;
	uint16_t mss;      /* payload bytes per segment we send */
	uint16_t peer_mss; /* from the peer's SYN */
	uint8_t *sbuf;
	uint32_t sbuf_size, sbuf_head, sbuf_len; /* sbuf_head: byte at snd_una */
	uint32_t sbuf_cap; /* allocated: grows to sbuf_size, freed when empty */
	bool fin_queued, fin_acked, shut_wr;
	const struct pn_tcp_cc_ops *cc;
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

	struct pn_timer rtx, delack, keepalive;
	uint32_t ka_idle_ms, ka_intvl_ms; /* keep-alive: 0 idle = off */
	uint8_t ka_cnt, ka_probes;        /* probes allowed, unanswered */
	uint8_t probes;                   /* window probes unanswered */

	uint64_t rx_bytes, tx_bytes, retrans, zc_bytes, copy_bytes, fallback_bytes;
};

/*
 * A connection in TIME-WAIT that nobody owns any more, as Linux's
 * inet_timewait_sock: what it takes to answer a retransmitted FIN, to
 * recognise old duplicates and a new incarnation's SYN, and nothing else
 * (no buffers, no timers of its own). About 72 bytes instead of a socket's
 * 800 and its buffers.
 */
struct pn_tcp_tw {
	struct pn_tcp_tw *hnext;         /* TIME-WAIT hash chain */
	struct pn_tcp_tw *older, *newer; /* by expiry, which is by entry */
	uint64_t expires;                /* ms */
	struct pn_addr rip;
	uint16_t rport, lport;
	uint32_t snd_nxt, rcv_nxt, ts_recent;
	uint16_t win; /* window field as last advertised */
	bool ts_ok;
};

struct pn_tcp {
	struct pn_tcp_conf conf;
	struct pn_stack *st;
	struct pn_tcp_sock **socks; /* by slot */
	uint16_t *gen;
	uint32_t *free_slots;
	uint32_t nr_free;
	struct pn_tcp_sock **hash; /* established and half-open, by 4-tuple */
	uint32_t hash_mask;
	struct pn_tcp_sock *listeners; /* through hnext */
	struct pn_tcp_sock *ev_head, *ev_tail;
	struct pn_tcp_sock *work_head;
	struct pn_tcp_sock *free_head; /* through free_next */
	/* TIME-WAIT entries: a hash that doubles as they come, and a list by
	 * expiry (every entry lives time_wait_ms, so entry order is expiry
	 * order) under one timer for the oldest */
	struct pn_tcp_tw **tw_hash;
	uint32_t tw_mask, nr_tw;
	struct pn_tcp_tw *tw_oldest, *tw_newest;
	struct pn_timer tw_timer;
	uint16_t next_port;
	uint8_t isn_key[16];  /* SipHash keys: ISNs (RFC 6528) */
	uint8_t hash_key[16]; /* and the connection hash */
	uint64_t challenge_sec;
	uint32_t challenge_count;
	struct pn_zc_table *zc;
	struct pn_acct_pin conf_pin; /* conf.acct, the default group */
	struct pn_tcp_stats stats;
};

/* ---- between the files of lib/tcp */

static inline struct pn_tcp *pn_tcp_of(const struct pn_stack *st)
{
	return pn_stack_l4_priv(st, PN_IPPROTO_TCP);
}

/* bytes sent and not yet acknowledged */
static inline uint32_t pn_tcp_flight(const struct pn_tcp_sock *s)
{
	return s->snd_nxt - s->snd_una;
}

/* MSS for a peer of @p rip's family on this stack's MTU */
static inline uint16_t pn_tcp_mss_for(const struct pn_stack *st, const struct pn_addr *rip)
{
	return (uint16_t)(pn_stack_mtu(st) - (pn_addr_is_v4(rip) ? 40 : 60));
}

static inline uint32_t pn_tcp_ts_now(const struct pn_stack *st)
{
	return (uint32_t)pn_stack_now_ms(st);
}

/* pn_tcp_sock.c */
void pn_tcp_enter_time_wait(struct pn_tcp_sock *s);
void pn_tcp_event(struct pn_tcp_sock *s, unsigned ev);
void pn_tcp_free_later(struct pn_tcp_sock *s);
void pn_tcp_hash_add(struct pn_tcp *t, struct pn_tcp_sock *s);
void pn_tcp_hash_del(struct pn_tcp *t, struct pn_tcp_sock *s);
/* @p hash: pn_tcp_tuple_hash of the same tuple, computed once for both
 * tables (the connections, then TIME-WAIT) */
struct pn_tcp_sock *pn_tcp_lookup(struct pn_tcp *t, uint32_t hash, const struct pn_addr *rip, uint16_t rport,
				  uint16_t lport);
struct pn_tcp_sock *pn_tcp_lookup_listener(struct pn_tcp *t, uint16_t lport);
uint64_t pn_tcp_mix64(uint64_t x);
uint32_t pn_tcp_pick_isn(struct pn_tcp_sock *s);
void pn_tcp_reset_conn(struct pn_tcp_sock *s, int err);
void pn_tcp_rq_purge(struct pn_tcp_sock *s);
struct pn_tcp_sock *pn_tcp_sock_alloc(struct pn_stack *st);
void pn_tcp_sock_free(struct pn_tcp_sock *s);
void pn_tcp_sock_named(struct pn_tcp_sock *s, struct pn_acct_group *g);
void pn_tcp_sock_set_acct(struct pn_tcp_sock *s, struct pn_acct_group *g);
void pn_tcp_sock_set_closed(struct pn_tcp_sock *s, int err);
void pn_tcp_want_work(struct pn_tcp_sock *s);

/* pn_tcp_tw.c */
/* @p s is in TIME-WAIT and nobody owns it: a small entry takes its place
 * until its 2 MSL are over (at @p expires, ms) and the socket is freed. */
void pn_tcp_tw_adopt(struct pn_tcp_sock *s, uint64_t expires);
struct pn_tcp_tw *pn_tcp_tw_lookup(struct pn_tcp *t, uint32_t hash, const struct pn_addr *rip, uint16_t rport,
				   uint16_t lport);
/* A segment for a TIME-WAIT entry. @return false: it was a new
 * incarnation's SYN, the entry is gone, let a listener take it. */
bool pn_tcp_tw_input(struct pn_tcp *t, struct pn_tcp_tw *tw, const struct pn_tcp_seg *g);
int pn_tcp_tw_init(struct pn_tcp *t);
void pn_tcp_tw_fini(struct pn_tcp *t);
/* 32 bits of SipHash of a peer and the ports: both tables' bucket index */
uint32_t pn_tcp_tuple_hash(const struct pn_tcp *t, const struct pn_addr *rip, uint16_t rport,
			   uint16_t lport);

/* pn_tcp_output.c */
void pn_tcp_arm_rtx(struct pn_tcp_sock *s);
void pn_tcp_challenge_ack(struct pn_tcp_sock *s);
uint32_t pn_tcp_rcv_edge(const struct pn_tcp_sock *s);
uint32_t pn_tcp_rcv_space(const struct pn_tcp_sock *s);
uint32_t pn_tcp_rto_now(const struct pn_tcp_sock *s);
void pn_tcp_send_ack(struct pn_tcp_sock *s);
/* A segment with no socket behind it (TIME-WAIT's ACKs): header and,
 * when @p ts, the timestamp option. */
void pn_tcp_send_bare(struct pn_stack *st, const struct pn_addr *rip, uint16_t lport,
		      uint16_t rport, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win,
		      bool ts, uint32_t tsecr);
void pn_tcp_send_rst_reply(struct pn_stack *st, const struct pn_addr *rip, const struct pn_tcp_hdr *th,
			   uint32_t seg_len);
int pn_tcp_send_segment(struct pn_tcp_sock *s, uint32_t seq, uint8_t flags, uint32_t len);
void pn_tcp_send_cookie_synack(struct pn_tcp_sock *l, const struct pn_addr *rip, uint16_t rport,
			       uint32_t isn, uint32_t ack, uint16_t mss, bool sack, bool ts,
			       uint32_t tsval, uint32_t tsecr, bool ws);
void pn_tcp_output(struct pn_tcp_sock *s);

/* pn_tcp_timer.c */
void pn_tcp_delack_fn(struct pn_timer *tm);
void pn_tcp_rtx_fn(struct pn_timer *tm);
void pn_tcp_keepalive_fn(struct pn_timer *tm);
/* a segment came from the peer: it lives (keep-alive and probe counts) */
void pn_tcp_peer_alive(struct pn_tcp_sock *s);

/* pn_tcp_input.c */
void pn_tcp_input(struct pn_stack *st, struct pn_pkt *pkt, const struct pn_l3_info *l3,
		  void *priv);
uint8_t pn_tcp_wscale_for(uint32_t rcvbuf);

/* pn_tcp_cc.c */
void pn_tcp_ack_advance(struct pn_tcp_sock *s, uint32_t ack);
void pn_tcp_dup_ack(struct pn_tcp_sock *s);
void pn_tcp_handshake_rtt(struct pn_tcp_sock *s);
bool pn_tcp_sack_update(struct pn_tcp_sock *s, const struct pn_tcp_opts *o);

/* pn_tcp.c */
struct pn_tcp *pn_tcp_ready(struct pn_stack *st);

/* pn_tcp_cookie.c */
struct pn_tcp_cookie_tuple {
	struct pn_addr lip, rip;
	uint16_t lport, rport;
	uint32_t peer_isn;
};
uint32_t pn_tcp_cookie_make(const struct pn_tcp *t, const struct pn_tcp_cookie_tuple *c,
			    uint64_t now_ms, uint16_t peer_mss, uint16_t *mss);
bool pn_tcp_cookie_check(const struct pn_tcp *t, const struct pn_tcp_cookie_tuple *c,
			 uint32_t cookie, uint64_t now_ms, uint16_t *mss);
uint32_t pn_tcp_cookie_tsval(uint32_t now, bool sack, bool has_ws, uint8_t ws);
void pn_tcp_cookie_ts_opts(uint32_t tsecr, bool *sack, bool *has_ws, uint8_t *ws);

/* pn_tcp_api.c */
void pn_tcp_window_maybe_update(struct pn_tcp_sock *s);

#endif /* PN_TCP_PRIV_H */
