/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SYN cookies: when a listener's SYN queue is full, the SYN-ACK's sequence
 * number carries what the connection needs (RFC 4987 3.6), so a flood of
 * SYNs from addresses that never answer holds no memory and does not keep
 * real clients out.
 *
 * As Linux's: ISN = H1(tuple) + peer ISN + (t << 24) + ((H2(tuple, t) +
 * mss index) mod 2^24), t a counter of 64-second slots, H1 and H2 SipHash
 * under the stack's secrets. An ACK is taken when its t is at most two
 * slots old and the index comes out valid. Window scale and SACK-permitted
 * do not fit in the sequence number: they travel in the low six bits of
 * our timestamp, which the peer echoes (without timestamps, neither is
 * used, as in Linux).
 */
#include <arpa/inet.h>
#include <string.h>

#include <sodium.h>

#include "pn_tcp_priv.h"

static const uint16_t cookie_mss[] = { 536, 1300, 1440, 1460 };

static uint32_t cookie_hash(const uint8_t key[16], const struct pn_tcp_cookie_tuple *c,
			    uint32_t count)
{
	uint8_t in[40], out[8];
	uint32_t h;

	memcpy(in, c->lip.b, 16);
	memcpy(in + 16, c->rip.b, 16);
	memcpy(in + 32, &c->lport, 2);
	memcpy(in + 34, &c->rport, 2);
	memcpy(in + 36, &count, 4);
	crypto_shorthash(out, in, sizeof(in), key);
	memcpy(&h, out, sizeof(h));
	return h;
}

static uint32_t cookie_slot(uint64_t now_ms)
{
	return (uint32_t)(now_ms >> 16); /* 65.5 s */
}

uint32_t pn_tcp_cookie_make(const struct pn_tcp *t, const struct pn_tcp_cookie_tuple *c,
			    uint64_t now_ms, uint16_t peer_mss, uint16_t *mss)
{
	uint32_t slot = cookie_slot(now_ms) & 0xff, idx = 0;

	for (uint32_t i = 0; i < PN_DIM(cookie_mss); i++)
		if (cookie_mss[i] <= peer_mss)
			idx = i;
	*mss = cookie_mss[idx];
	return cookie_hash(t->isn_key, c, UINT32_MAX) + c->peer_isn + (slot << 24) +
	       ((cookie_hash(t->isn_key, c, slot) + idx) & 0xffffff);
}

bool pn_tcp_cookie_check(const struct pn_tcp *t, const struct pn_tcp_cookie_tuple *c,
			 uint32_t cookie, uint64_t now_ms, uint16_t *mss)
{
	uint32_t v = cookie - cookie_hash(t->isn_key, c, UINT32_MAX) - c->peer_isn;
	uint32_t slot = v >> 24, now = cookie_slot(now_ms) & 0xff, idx;

	if (((now - slot) & 0xff) > 2)
		return false; /* older than two slots, or from the future */
	idx = (v - cookie_hash(t->isn_key, c, slot)) & 0xffffff;
	if (idx >= PN_DIM(cookie_mss))
		return false;
	*mss = cookie_mss[idx];
	return true;
}

uint32_t pn_tcp_cookie_tsval(uint32_t now, bool sack, bool has_ws, uint8_t ws)
{
	uint32_t ts = (now & ~0x3fu) | (sack ? 0x20u : 0) | (has_ws ? 0x10u | (ws & 0xfu) : 0);

	/* never ahead of the clock: the peer's PAWS (RFC 7323 5) would drop
	 * our next segments, stamped with the clock, as older than this one
	 * (found by tcp_hostile.sh: the first reply waited for an RTO) */
	return pn_seq_gt(ts, now) ? ts - 0x40u : ts;
}

void pn_tcp_cookie_ts_opts(uint32_t tsecr, bool *sack, bool *has_ws, uint8_t *ws)
{
	*sack = tsecr & 0x20u;
	*has_ws = tsecr & 0x10u;
	*ws = (uint8_t)PN_MIN(tsecr & 0xfu, 14u);
}
