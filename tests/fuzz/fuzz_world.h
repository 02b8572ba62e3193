/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The world the stack fuzzers act on: two stacks (A 10.0.0.1, the client;
 * B 10.0.0.2, the server) on a loop pair, accounted pools, a clock the
 * harness moves, and one TCP connection per input. The world is kept
 * between inputs (fast); each input gets a fresh connection and ends with
 * every page back in its pool and every charge returned, checked.
 *
 * The wire is the harness's: frames the stacks send are taken off the loop
 * rings and handed on with pn_stack_input(), so they can be dropped,
 * duplicated, held back, corrupted or split into pieces on the way.
 */
#ifndef FUZZ_WORLD_H
#define FUZZ_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pn_acct.h"
#include "pn_net.h"
#include "pn_tcp.h"

#define FW_IP_A 0x0a000001u
#define FW_IP_B 0x0a000002u
#define FW_PORT 80
#define FW_HELD_MAX 256
#define FW_WIRE_MAX 128

struct fw_side {
	struct pn_pool *pool;
	struct pn_port *port;
	struct pn_stack *st;
	uint8_t mac[6];
	/* frames on their way to this side */
	struct pn_pkt *wire[FW_WIRE_MAX];
	unsigned nwire;
	/* the stream this side receives: bytes read, all checked */
	uint64_t rcvd;
	/* tokens it holds */
	uint64_t held[FW_HELD_MAX];
	unsigned nheld;
	bool eof, closed;
	/* a forged segment may have put bytes of its own in this stream (an
	 * odd data offset makes options payload): TCP cannot tell, so its
	 * bytes are no longer checked for this input */
	bool tainted;
};

struct fw {
	struct fw_side a, b;
	struct pn_acct_group *group;
	struct pn_tcp_sock *listener, *cli, *srv;
	uint64_t now_us;
	uint64_t frags_seen; /* IP fragments both stacks had received at the input's start */
	uint64_t sent_a, sent_b; /* bytes each side queued to send */
	bool split;              /* hand frames in pieces */
	uint64_t rng;
	unsigned inputs;
};

extern struct fw fw;

/* Byte @off of the stream side @from sends. */
static inline uint8_t fw_pattern(bool from_a, uint64_t off)
{
	return (uint8_t)((off * 2654435761u) >> 13) ^ (from_a ? 0x5a : 0xa5);
}

/* Set the world up if needed and open a connection; false: could not. */
bool fw_begin(void);
/* Close the connection, drain everything, check that every page and charge
 * came back (aborts the process if not). */
void fw_end(void);

/* Take what the stacks sent off the loop rings onto the harness's wires. */
void fw_collect(void);
/* Hand the first frame of @to's wire over (split when fw.split). */
void fw_deliver_one(struct fw_side *to);
/* Deliver every frame on both wires, poll, repeat until quiet. */
void fw_flush(unsigned rounds);
/* Move the clock by @ms and run a round on both stacks. */
void fw_tick(uint64_t ms);

/* Application side: queue up to @n bytes on @from's socket. */
void fw_send(bool from_a, size_t n);
/* Read what @side's socket has (zero copy when @zc), checking every byte;
 * zero-copy tokens are kept up to FW_HELD_MAX when @hold. */
void fw_read(struct fw_side *side, bool zc, bool hold);
/* Release the tokens @side holds. */
void fw_release(struct fw_side *side);

/* A frame for the stack of @to, built by the harness: Ethernet header to
 * @to's MAC from the other side's; @len bytes of L3 after it. */
struct pn_pkt *fw_frame(struct fw_side *to, uint16_t ethertype, const void *l3, size_t len);

#endif /* FUZZ_WORLD_H */
