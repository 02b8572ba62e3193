/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Harness (b): one connection, both directions, with the wire in the
 * fuzzer's hands: each side sends, reads (copying or by zero copy, holding
 * tokens or not), shuts down; frames are delivered, dropped, duplicated,
 * held back, corrupted or split into pieces; the clock jumps. Every byte
 * read is checked against what was sent. At the end the wire heals: while
 * the connection lives, everything sent must arrive, in order, once. Then
 * every page and charge must be back (fuzz_world.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_bytes.h"
#include "fuzz_world.h"

static struct fw_side *side_of(uint8_t op)
{
	return (op & 16) ? &fw.a : &fw.b;
}

static void drop_first(struct fw_side *to)
{
	if (to->nwire == 0)
		return;
	pn_pkt_free(to->wire[0]);
	memmove(to->wire, to->wire + 1, sizeof(to->wire[0]) * --to->nwire);
}

static void dup_first(struct fw_side *to)
{
	struct pn_pkt *c;

	if (to->nwire == 0 || to->nwire == FW_WIRE_MAX)
		return;
	c = pn_pkt_clone(to->wire[0]);
	if (c != NULL)
		to->wire[to->nwire++] = c;
}

static void rotate(struct fw_side *to, uint8_t k)
{
	struct pn_pkt *p;

	if (to->nwire < 2)
		return;
	k %= to->nwire;
	p = to->wire[k];
	memmove(to->wire + k, to->wire + k + 1, sizeof(to->wire[0]) * (to->nwire - k - 1));
	to->wire[to->nwire - 1] = p;
}

static void corrupt_first(struct fw_side *to, uint16_t at, uint8_t x)
{
	static unsigned corrupted[2];
	struct pn_pkt *p;

	if (to->nwire == 0 || x == 0)
		return;
	if (fw.inputs != corrupted[1]) {
		corrupted[0] = 0;
		corrupted[1] = fw.inputs;
	}
	/* one changed byte always fails the Internet checksum; two may cancel
	 * out (RFC 1071's sum cannot see every double error), and then TCP
	 * rightly takes the bytes: stop checking this stream's bytes */
	if (++corrupted[0] > 1)
		to->tainted = true;
	p = to->wire[0];
	if (pn_pkt_unshare(p) != 0 || pn_pkt_headlen(p) == 0)
		return;
	pn_pkt_data(p)[at % pn_pkt_headlen(p)] ^= x;
}

static bool alive(void)
{
	return fw.cli && fw.srv && !fw.a.closed && !fw.b.closed;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };

	if (fw_begin()) {
		for (unsigned steps = 0; f.n > 0 && steps < 128; steps++) {
			uint8_t op = fz_u8(&f);

			if (getenv("FUZZ_TRACE"))
				fprintf(stderr, "op %u (%u) wire a %u b %u split %d\n", op % 13, op,
					fw.a.nwire, fw.b.nwire, fw.split);
			switch (op % 13) {
			case 0:
				fw_send(op & 16, fz_u16(&f) % 6000);
				fw_collect();
				break;
			case 1:
				fw_deliver_one(side_of(op));
				break;
			case 2:
				drop_first(side_of(op));
				break;
			case 3:
				dup_first(side_of(op));
				break;
			case 4:
				rotate(side_of(op), fz_u8(&f));
				break;
			case 5:
				corrupt_first(side_of(op), fz_u16(&f), fz_u8(&f));
				break;
			case 6:
				fw_tick(fz_u16(&f) % 3000);
				break;
			case 7:
				pn_stack_poll(fw.a.st);
				pn_stack_poll(fw.b.st);
				fw_collect();
				break;
			case 8:
				fw_read(side_of(op), op & 32, op & 64);
				break;
			case 9:
				fw_release(side_of(op));
				break;
			case 10:
				if ((op & 16 ? fw.cli : fw.srv) != NULL && (op & 32))
					pn_tcp_shutdown(op & 16 ? fw.cli : fw.srv);
				break;
			case 11:
				fw.split = !fw.split;
				break;
			case 12:
				fw_flush(1 + op % 4);
				break;
			}
		}
		/* the wire heals: everything sent arrives while the connection lives */
		fw_release(&fw.a);
		fw_release(&fw.b);
		for (int r = 0; r < 400 && alive() &&
				(fw.a.rcvd < fw.sent_b || fw.b.rcvd < fw.sent_a); r++) {
			fw_flush(8);
			fw_read(&fw.a, r & 1, false);
			fw_read(&fw.b, r & 2, false);
			fw_tick(r < 100 ? 50 : 1000);
		}
		/* a corrupted segment whose checksum still adds up (two changed
		 * bytes can cancel) may put bytes where none were sent: then
		 * the receiver's edge lies past anything the sender will ever
		 * send, and no TCP recovers (its ACKs acknowledge unsent data).
		 * A tainted stream is held to no promise but the teardown's */
		if (alive() && !fw.a.tainted && !fw.b.tainted &&
		    (fw.a.rcvd != fw.sent_b || fw.b.rcvd != fw.sent_a)) {
			fprintf(stderr, "fuzz: a live connection stopped delivering: A got %llu of %llu, "
				"B got %llu of %llu\n", (unsigned long long)fw.a.rcvd,
				(unsigned long long)fw.sent_b, (unsigned long long)fw.b.rcvd,
				(unsigned long long)fw.sent_a);
			for (int k = 0; k < 2; k++) {
				struct pn_tcp_info i;

				pn_tcp_info_get(k ? fw.srv : fw.cli, &i);
				fprintf(stderr, "  %s %s snd_una %u snd_nxt %u snd_wnd %u cwnd %u "
					"ssthresh %u rto %u rcv_nxt %u rcv_wnd %u queued %u ooo %u "
					"held %u snd_queued %u retrans %llu\n", k ? "B" : "A",
					pn_tcp_state_name(i.state), i.snd_una, i.snd_nxt, i.snd_wnd,
					i.cwnd, i.ssthresh, i.rto_ms, i.rcv_nxt, i.rcv_wnd, i.rcv_queued,
					i.ooo_queued, i.zc_held, i.snd_queued,
					(unsigned long long)i.retransmits);
			}
			for (int k = 0; k < 2; k++) {
				struct pn_tcp_stats ts;

				pn_tcp_stats_get(k ? fw.b.st : fw.a.st, &ts);
				fprintf(stderr, "  %s segs in %llu out %llu bad %llu csum %llu rto %llu "
					"retrans %llu fast %llu ooo %llu dup %llu out_of_window %llu\n",
					k ? "B" : "A", (unsigned long long)ts.segs_in,
					(unsigned long long)ts.segs_out, (unsigned long long)ts.bad_segs,
					(unsigned long long)ts.bad_csum, (unsigned long long)ts.rto_expired,
					(unsigned long long)ts.retrans_segs, (unsigned long long)ts.fast_retrans,
					(unsigned long long)ts.ooo_segs, (unsigned long long)ts.dup_data_segs,
					(unsigned long long)ts.out_of_window);
			}
			abort();
		}
	}
	fw_end();
	return 0;
}
