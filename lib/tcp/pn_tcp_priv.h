/* SPDX-License-Identifier: BSD-3-Clause */
/* TCP control block and per-stack state. */
#ifndef PN_TCP_PRIV_H
#define PN_TCP_PRIV_H

#include "pn_net_l4.h"
#include "pn_tcp.h"
#include "pn_tcp_cc.h"

#define PN_TCP_TW_HASH_MIN 1024u /* TIME-WAIT buckets at first; doubled as entries come */
/* a socket id: slot in the low 20 bits (a million sockets per stack), the
 * slot's generation above (44 bits, never 0): unique for the life of the
 * stack, so a token released late never finds a later socket of its slot
 * (a slot whose generation would wrap is retired instead) */
#define PN_TCP_SLOT_BITS 20
#define PN_TCP_SLOT_MASK ((1u << PN_TCP_SLOT_BITS) - 1)
#define PN_TCP_GEN_MAX ((UINT64_C(1) << (64 - PN_TCP_SLOT_BITS)) - 1)
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
uint64_t pn_zc_issue(struct pn_zc_table *t, void *obj, bool is_frame, uint64_t sock_id,
		     uint32_t len);
/* Settle what other threads released. Stack thread, once per round. */
unsigned pn_zc_settle(struct pn_zc_table *t, struct pn_stack *st);
uint64_t pn_zc_outstanding(const struct pn_zc_table *t);
uint64_t pn_zc_bad(const struct pn_zc_table *t);
/* A token of socket @sock_id worth @len bytes came back (stack thread). */
void pn_tcp_zc_returned(struct pn_stack *st, uint64_t sock_id, uint32_t len);

struct pn_tcp_sock;

/* the built-in congestion control (pn_tcp_newreno.c, pn_tcp_cubic.c) */
extern const struct pn_tcp_cc_ops pn_tcp_newreno;
extern const struct pn_tcp_cc_ops pn_tcp_cubic;

/*
 * One segment sent and not yet acknowledged: a record of the
 * retransmission queue (pn_tcp_rtxq.c), as Linux's skb in its rtx queue
 * but without the bytes, which stay in the send buffer.
 */
#define PN_TXSEG_SACKED 0x01       /* the peer holds it (SACK) */
#define PN_TXSEG_LOST 0x02         /* taken for lost: to be retransmitted */
#define PN_TXSEG_RETRANS 0x04      /* a retransmission of it is in flight */
#define PN_TXSEG_EVER_RETRANS 0x08 /* retransmitted at least once (Karn) */
#define PN_TXSEG_FIN 0x10          /* it carries our FIN (the last sequence number) */

struct pn_tcp_txseg {
	uint64_t xmit_us;  /* its last transmission */
	uint32_t seq, end; /* [seq, end): payload, and one more for FIN */
	uint8_t flags;
};

/* A contiguous run of the out-of-order queue: [b, e), its first and last
 * packet. */
struct pn_tcp_ooo_range {
	uint32_t b, e;
	struct pn_pkt *first, *last;
};
#define PN_TCP_OOO_MAX_RANGES 1024u /* holes one connection may have open */

/* Where loss recovery stands (Linux's tcp_ca_state). */
enum pn_tcp_ca {
	PN_TCP_CA_OPEN,     /* nothing amiss */
	PN_TCP_CA_DISORDER, /* SACKed data above a hole, nothing taken for lost yet */
	PN_TCP_CA_RECOVERY, /* fast recovery: repairing losses ACKs revealed */
	PN_TCP_CA_LOSS,     /* repairing after a retransmission timeout */
};

/* what the loss timer (s->loss_tm) is armed for */
enum { PN_TCP_LT_NONE, PN_TCP_LT_REO, PN_TCP_LT_TLP };

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
	uint64_t id; /* slot | generation << PN_TCP_SLOT_BITS */
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
	struct pn_tcp_cc cc; /* its congestion control; cc.cwnd, cc.ssthresh */
	uint16_t dupacks;    /* a peer without SACK: duplicate ACKs in a row */
	bool rtt_timing;     /* the handshake is being timed (rtt_start_us) */
	uint32_t srtt_us, rttvar_us, rto_ms;
	uint8_t backoff, retries;
	uint64_t rtt_start_us;
	uint32_t min_rtt_us;
	uint64_t min_rtt_stamp_us;

	/* the retransmission queue: a record per segment in flight, a ring
	 * allocated with the send buffer (pn_tcp_rtxq.c) */
	struct pn_tcp_txseg *txq;
	uint32_t txq_mask, txq_head, txq_len;
	/* bytes of its records that are SACKed, lost (not SACKed), and
	 * retransmitted with the retransmission in flight (not SACKed) */
	uint32_t sacked_bytes, lost_bytes, retrans_bytes;
	uint32_t rtx_high;    /* above: no record was ever retransmitted */
	uint32_t reno_sacked; /* no SACK: bytes the duplicate ACKs stand for */

	/* loss recovery (pn_tcp_recovery.c) */
	uint8_t ca;          /* enum pn_tcp_ca */
	bool frto;           /* F-RTO (RFC 5682) watches this timeout */
	bool frto_new;       /* F-RTO step 2b: send new data, not retransmissions */
	bool undo_ok;        /* undo_marker is set: the last response may be undone */
	bool cwnd_limited;   /* the window limited the sender this round */
	uint32_t high_seq;   /* recovery ends when snd_una reaches it */
	uint32_t prior_cwnd, prior_ssthresh; /* before the response, for an undo */
	uint32_t undo_marker;   /* snd_una when the response began */
	uint32_t undo_retrans;  /* its retransmissions not yet shown spurious (D-SACK) */
	uint32_t retrans_tsval; /* our timestamp on its first retransmission (0: none) */
	uint32_t prr_delivered, prr_out; /* RFC 6937 */
	uint32_t round_end, round_max_flight; /* cwnd use over one round trip */
	uint64_t last_send_us;
	/* RACK (RFC 8985): the most recently sent segment known delivered */
	uint64_t rack_xmit_us;
	uint32_t rack_end, rack_rtt_us, rack_fack;
	uint32_t rack_dsack_round;
	uint8_t reo_wnd_mult, reo_wnd_persist;
	bool rack_valid, reordering_seen, rack_dsack_round_set;
	/* TLP (RFC 8985 7): one probe out at a time, up to tlp_end */
	bool tlp_out, tlp_retrans;
	uint8_t loss_tm_kind;
	uint32_t tlp_end;
	struct pn_timer loss_tm; /* RACK's reordering timeout or the probe */

	/* receive side */
	uint32_t irs, rcv_nxt, rcv_adv; /* rcv_adv: right edge advertised */
	uint32_t rcvbuf;
	/* receive buffer autotuning: what came in order since rcvq_seq (at
	 * rcvq_time_us), the most of it in a round trip so far, the
	 * receiver's round trip estimate */
	uint32_t rcvq_seq, rcvq_space, rcv_rtt_us;
	uint64_t rcvq_time_us;
	struct pn_pkt *rq_head, *rq_tail;
	uint32_t rq_bytes;
	/* the out-of-order queue: packets in sequence order, and an index of
	 * its contiguous ranges (pn_tcp_ooo.c) so an arrival finds its place,
	 * and a SACK block its range, without walking the packets */
	struct pn_pkt *ooo_head, *ooo_tail;
	uint32_t ooo_bytes;
	struct pn_tcp_ooo_range *ooo_rg;
	uint16_t ooo_nr, ooo_cap;
	/* SACK blocks as RFC 2018 orders them: sequence numbers of the latest
	 * out-of-order arrivals, the most recent first; and a D-SACK (RFC
	 * 2883) the next ACK reports first */
	uint32_t sack_recent[PN_TCP_MAX_SACK];
	uint8_t nr_sack_recent;
	bool dsack_pending;
	uint32_t dsack_b, dsack_e;
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
	const struct pn_tcp_cc_ops *cc_ops; /* new sockets' congestion control */
	struct pn_stack *st;
	struct pn_tcp_sock **socks; /* by slot */
	uint64_t *gen;
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
/* A tail loss probe: one new segment whatever the congestion window, if
 * the peer's window has room for it. @return true when one was sent. */
bool pn_tcp_output_probe(struct pn_tcp_sock *s);
/* Retransmit the record (a tail loss probe, or a repair). @return 0 or -ENOMEM. */
int pn_tcp_retransmit(struct pn_tcp_sock *s, struct pn_tcp_txseg *r);

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
/* the window scale to offer: room for the buffer autotuning may reach */
static inline uint8_t pn_tcp_wscale_of(const struct pn_tcp *t, uint32_t rcvbuf)
{
	return pn_tcp_wscale_for(PN_MAX(rcvbuf, t->conf.rcvbuf_max));
}

/* pn_tcp_ooo.c */
/* Queue @p pkt (payload from @p seq, above rcv_nxt) out of order; takes it.
 * Overlaps are trimmed or dropped (D-SACKed); a packet that would open one
 * range too many is dropped (not acknowledged: the peer resends it). */
void pn_tcp_ooo_insert(struct pn_tcp_sock *s, struct pn_pkt *pkt, uint32_t seq);
/* The first range, if rcv_nxt reached it: its packets, unlinked.
 * @return the first packet or NULL; *last, *end: its last packet, its end. */
struct pn_pkt *pn_tcp_ooo_take_first(struct pn_tcp_sock *s, uint32_t *end);
/* the range holding @p seq (its index) or -1 */
int pn_tcp_ooo_find(const struct pn_tcp_sock *s, uint32_t seq);
void pn_tcp_ooo_purge(struct pn_tcp_sock *s);
/* The next ACK reports [b, e) as a duplicate (RFC 2883), and goes at once. */
void pn_tcp_dsack_note(struct pn_tcp_sock *s, uint32_t b, uint32_t e);

/* pn_tcp_rtxq.c */
static inline struct pn_tcp_txseg *pn_tcp_txq_at(const struct pn_tcp_sock *s, uint32_t i)
{
	return &s->txq[(s->txq_head + i) & s->txq_mask];
}
/* Is there (or can there be) a record for one more segment? */
bool pn_tcp_txq_room(struct pn_tcp_sock *s);
void pn_tcp_txq_free(struct pn_tcp_sock *s);
void pn_tcp_txq_sent(struct pn_tcp_sock *s, uint32_t seq, uint32_t end, bool fin, uint64_t now_us);
uint32_t pn_tcp_txq_lower(const struct pn_tcp_sock *s, uint32_t seq);
void pn_tcp_txq_mark_lost(struct pn_tcp_sock *s, struct pn_tcp_txseg *r);
void pn_tcp_txq_unmark_lost(struct pn_tcp_sock *s, struct pn_tcp_txseg *r);
void pn_tcp_txq_sacked(struct pn_tcp_sock *s, struct pn_tcp_txseg *r);
void pn_tcp_txq_retransmitted(struct pn_tcp_sock *s, struct pn_tcp_txseg *r, uint64_t now_us);
void pn_tcp_txq_drop_head(struct pn_tcp_sock *s);
void pn_tcp_txq_trim_head(struct pn_tcp_sock *s, uint32_t ack);

/* Bytes in the network, RFC 6675's pipe: sent and not acknowledged, less
 * what the peer holds and what is taken for lost, plus retransmissions in
 * flight (Linux's tcp_packets_in_flight, in bytes). */
static inline uint32_t pn_tcp_in_flight(const struct pn_tcp_sock *s)
{
	uint32_t out = s->snd_nxt - s->snd_una, gone = s->sacked_bytes + s->lost_bytes + s->reno_sacked;

	return (out > gone ? out - gone : 0) + s->retrans_bytes;
}

/* pn_tcp_recovery.c */
void pn_tcp_rtt_sample(struct pn_tcp_sock *s, uint32_t r_us);
void pn_tcp_handshake_rtt(struct pn_tcp_sock *s);
/* An acceptable ACK on a synchronized connection: SACK blocks, the
 * cumulative acknowledgment, loss detection and the recovery it calls
 * for. @p dup: a duplicate ACK by RFC 5681's definition, if it acks
 * nothing new (no data, no window change). */
void pn_tcp_ack_rcvd(struct pn_tcp_sock *s, const struct pn_tcp_seg *g, bool dup);
/* The retransmission timer expired with data in flight. */
void pn_tcp_enter_loss(struct pn_tcp_sock *s);
void pn_tcp_loss_timer_fn(struct pn_timer *tm);
/* After sending: the probe timer, if a tail loss probe is due. */
void pn_tcp_schedule_probe(struct pn_tcp_sock *s);
/* A segment is being retransmitted: undo and PRR bookkeeping. */
void pn_tcp_on_retransmit(struct pn_tcp_sock *s, uint32_t len);
/* Sending resumes after an idle period: RFC 5681 4.1's restart window. */
void pn_tcp_cwnd_restart(struct pn_tcp_sock *s, uint64_t now_us);
/* The handshake is done and the MSS known: the initial window. */
void pn_tcp_cc_start(struct pn_tcp_sock *s);

/* pn_tcp_cc.c: calling the socket's algorithm */
const struct pn_tcp_cc_ops *pn_tcp_cc_default(void);
void pn_tcp_cc_sync(struct pn_tcp_sock *s);
void pn_tcp_cc_event(struct pn_tcp_sock *s, enum pn_tcp_cc_event ev);
void pn_tcp_cc_ssthresh(struct pn_tcp_sock *s);
void pn_tcp_cc_on_ack(struct pn_tcp_sock *s, const struct pn_tcp_cc_ack *a, bool grow);
void pn_tcp_cc_undo(struct pn_tcp_sock *s);

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
