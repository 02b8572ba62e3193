/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for a stack group's receive path: two stacks of one
 * group (10.0.0.2, listening on port 80) on a two-queue loop pair, and the
 * fuzzer as every peer. Each input is a list of frames, each put on one
 * member's queue: TCP segments from peers across the subnet (right
 * checksums, random ports, flags, numbers, options and payload, so about
 * half land on the member that does not own their flow and are handed
 * over), ARP requests and replies (the shared neighbour table), frames of
 * random bytes, and polls that move the clock. What the members send is
 * taken off the wire and dropped.
 *
 * Checked: no crash, no sanitizer report, every hand-over taken or counted
 * dropped, and every 64 inputs the world torn down with every page back in
 * both pools (a fresh one is built for the next input).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_bytes.h"
#include "pn_net.h"
#include "pn_pool.h"
#include "pn_port.h"
#include "pn_tcp.h"
#include "pn_wire.h"

#define FG_IP 0x0a000002u
#define FG_Q 2
#define FG_WORLD_INPUTS 64

struct fg_world {
	struct pn_stack_group *g;
	struct pn_pool *pool[2][FG_Q]; /* [side][queue]: side 0 is us, side 1 the peers */
	struct pn_port *port[2];
	struct pn_stack *st[FG_Q];
	uint8_t mac[6];
	uint64_t now_us;
	unsigned inputs;
};

static struct fg_world W;
static int world_seq;

static uint64_t fg_clock(void *arg)
{
	(void)arg;
	return W.now_us;
}

static void fg_fail(const char *what)
{
	fprintf(stderr, "fuzz_group: %s\n", what);
	abort();
}

static void world_open(void)
{
	char args[64];

	memset(&W, 0, sizeof(W));
	W.now_us = 1000000;
	snprintf(args, sizeof(args), "pair=fuzzgroup%d", world_seq++);
	W.g = pn_stack_group_create(&(struct pn_stack_group_conf){
		.sz = sizeof(struct pn_stack_group_conf), .nb_stacks = FG_Q, .steer_ring = 256 });
	if (W.g == NULL)
		fg_fail("group");
	for (unsigned side = 0; side < 2; side++) {
		struct pn_port_conf pc = { .sz = sizeof(pc), .nb_queues = FG_Q, .ring_size = 256 };
		struct pn_port_info info;

		for (unsigned q = 0; q < FG_Q; q++) {
			W.pool[side][q] = pn_pool_create(&(struct pn_pool_params){
				.sz = sizeof(struct pn_pool_params), .nr_pages = 1024,
				.numa_node = PN_NUMA_ANY, .name = "fuzz-group" });
			if (W.pool[side][q] == NULL)
				fg_fail("pool");
			pc.pools[q] = W.pool[side][q];
		}
		W.port[side] = pn_port_open("loop", args, &pc);
		if (W.port[side] == NULL || pn_port_start(W.port[side]) != 0)
			fg_fail("port");
		if (side == 0) {
			pn_port_info_get(W.port[0], &info);
			memcpy(W.mac, info.mac, 6);
		}
	}
	for (unsigned q = 0; q < FG_Q; q++) {
		W.st[q] = pn_stack_create(&(struct pn_stack_conf){
			.sz = sizeof(struct pn_stack_conf), .port = W.port[0], .queue = (uint16_t)q,
			.pool = W.pool[0][q], .ip = FG_IP, .prefix_len = 24, .clock_us = fg_clock,
			.group = W.g });
		if (W.st[q] == NULL ||
		    pn_tcp_configure(W.st[q], &(struct pn_tcp_conf){
			    .sz = sizeof(struct pn_tcp_conf), .max_sockets = 64,
			    .time_wait_ms = 100, .min_rto_ms = 20 }) != 0 ||
		    pn_tcp_listen(W.st[q], 80, 16, NULL, NULL) == NULL)
			fg_fail("stack");
	}
}

/* What the members sent: off the wire, dropped. */
static void drain_wire(void)
{
	struct pn_pkt *pkts[64];

	for (unsigned q = 0; q < FG_Q; q++) {
		uint16_t n;

		while ((n = pn_port_rx_burst(W.port[1], (uint16_t)q, pkts, 64)) != 0)
			for (uint16_t i = 0; i < n; i++)
				pn_pkt_free(pkts[i]);
	}
}

static void poll_all(unsigned rounds, uint32_t step_us)
{
	for (unsigned r = 0; r < rounds; r++) {
		W.now_us += step_us;
		for (unsigned q = 0; q < FG_Q; q++)
			pn_stack_poll(W.st[q]);
		drain_wire();
	}
}

static void world_close(void)
{
	struct pn_net_stats s;
	uint64_t out = 0, in = 0, drops = 0;

	for (unsigned q = 0; q < FG_Q; q++) {
		pn_stack_stats_get(W.st[q], &s);
		out += s.steer_out;
		in += s.steer_in;
		drops += s.steer_drops;
	}
	(void)drops;
	if (in > out)
		fg_fail("a member took more hand-overs than were made");
	for (unsigned q = 0; q < FG_Q; q++)
		pn_stack_destroy(W.st[q]);
	drain_wire();
	for (unsigned side = 0; side < 2; side++) {
		pn_port_stop(W.port[side]);
		pn_port_close(W.port[side]);
	}
	if (pn_stack_group_destroy(W.g) != 0)
		fg_fail("group still has members");
	for (unsigned side = 0; side < 2; side++)
		for (unsigned q = 0; q < FG_Q; q++)
			if (pn_pool_destroy(W.pool[side][q]) != 0)
				fg_fail("pages left out of a pool");
	memset(&W, 0, sizeof(W));
}

static struct pn_pkt *frame_alloc(unsigned q, uint8_t **data, size_t len)
{
	struct pn_pkt *p = pn_pkt_alloc(W.pool[1][q]);

	if (p == NULL)
		return NULL;
	*data = pn_pkt_append(p, (uint32_t)len);
	if (*data == NULL) {
		pn_pkt_free(p);
		return NULL;
	}
	return p;
}

/* A TCP segment from a peer of the subnet, checksums right. */
static void op_tcp(struct fz *f, unsigned q)
{
	uint8_t peer_mac[6] = { 0x02, 0, 0, 0, 0, 0 }, *d;
	uint32_t src = 0x0a000000u | (1u + fz_u8(f) % 254u);
	uint16_t sport = (uint16_t)(1024 + fz_u16(f) % 32), dport = fz_u8(f) < 230 ? 80 : fz_u16(f);
	unsigned opt_len = (fz_u8(f) % 11) * 4, plen = fz_u8(f) < 128 ? 0 : fz_u16(f) % 1400;
	size_t len = PN_ETH_HLEN + 20 + 20 + opt_len + plen;
	struct pn_tcp_hdr *th;
	struct pn_pkt *p;

	if (src == FG_IP)
		src++;
	peer_mac[5] = (uint8_t)src;
	p = frame_alloc(q, &d, len);
	if (p == NULL)
		return;
	pn_wire_eth(d, W.mac, peer_mac, PN_ETH_P_IPV4);
	pn_wire_ipv4(d + PN_ETH_HLEN, src, FG_IP, PN_IPPROTO_TCP, fz_u16(f), len - PN_ETH_HLEN - 20);
	th = (struct pn_tcp_hdr *)(d + PN_ETH_HLEN + 20);
	memset(th, 0, sizeof(*th));
	th->sport = htons(sport);
	th->dport = htons(dport);
	th->seq = htonl(fz_u32(f));
	th->ack = htonl(fz_u32(f));
	th->doff = (uint8_t)(((20 + opt_len) / 4) << 4);
	th->flags = fz_u8(f);
	th->win = htons(fz_u16(f));
	fz_bytes(f, (uint8_t *)(th + 1), opt_len + plen);
	pn_wire_l4_csum4(th, 20 + opt_len + plen, src, FG_IP, PN_IPPROTO_TCP);
	if (fz_u8(f) == 0)
		th->csum ^= 0x0101; /* now and then a bad one */
	pn_stack_input(W.st[q], p);
}

static void op_arp(struct fz *f, unsigned q)
{
	uint8_t mac[6] = { 0x02, 0x10, 0, 0, 0, fz_u8(f) }, *d;
	struct pn_arp_hdr *a;
	struct pn_pkt *p = frame_alloc(q, &d, PN_ETH_HLEN + sizeof(*a));
	bool reply = fz_u8(f) & 1;

	if (p == NULL)
		return;
	pn_wire_eth(d, reply ? W.mac : (const uint8_t[6]){ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, mac,
		    PN_ETH_P_ARP);
	a = (struct pn_arp_hdr *)(d + PN_ETH_HLEN);
	*a = (struct pn_arp_hdr){ .htype = htons(1), .ptype = htons(PN_ETH_P_IPV4), .hlen = 6,
				  .plen = 4, .op = htons(reply ? PN_ARP_OP_REPLY : PN_ARP_OP_REQUEST),
				  .spa = htonl(0x0a000000u | fz_u8(f)),
				  .tpa = htonl(fz_u8(f) < 200 ? FG_IP : fz_u32(f)) };
	memcpy(a->sha, mac, 6);
	if (reply)
		memcpy(a->tha, W.mac, 6);
	pn_stack_input(W.st[q], p);
}

static void op_bytes(struct fz *f, unsigned q)
{
	size_t len = 14 + fz_u16(f) % 200;
	uint8_t *d;
	struct pn_pkt *p = frame_alloc(q, &d, len);

	if (p == NULL)
		return;
	fz_bytes(f, d, len);
	if (fz_u8(f) & 1)
		memcpy(d, W.mac, 6);
	pn_stack_input(W.st[q], p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };

	if (W.g == NULL)
		world_open();
	while (f.n > 0) {
		uint8_t op = fz_u8(&f);
		unsigned q = op & 1;

		switch ((op >> 1) % 8) {
		case 0: case 1: case 2: case 3:
			op_tcp(&f, q);
			break;
		case 4:
			op_arp(&f, q);
			break;
		case 5:
			op_bytes(&f, q);
			break;
		default:
			poll_all(1 + fz_u8(&f) % 8, 1000u * (1 + fz_u8(&f) % 64));
			break;
		}
		/* the member that received, and the one it may have handed to */
		poll_all(1, 100);
	}
	poll_all(4, 1000);
	if (++W.inputs == FG_WORLD_INPUTS)
		world_close(); /* every page must be back */
	return 0;
}
