/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IPv4 fragments (RFC 791 3.2, RFC 815): reassembly of what arrives in
 * pieces, and fragmentation of what we send over the MTU (an echo reply to
 * a large ping).
 *
 * Reassembly is bounded: 16 datagrams at once per stack (a new one pushes
 * out the oldest), at most PN_PKT_MAX_FRAGS + 1 pieces each (the
 * reassembled packet holds the pieces' pages by reference, no copy), 30
 * seconds to complete (Linux's ipfrag_time). Overlapping pieces drop the
 * whole datagram, as RFC 5722 asks of IPv6 (a Teardrop-style overlap
 * cannot then rewrite a header that was checked); an exact duplicate is
 * dropped alone. Every drop is counted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "pn_net_priv.h"

static void slot_drop(struct pn_stack *st, struct pn_reasm *r)
{
	for (unsigned i = 0; i < r->nr; i++)
		pn_pkt_free(r->frag[i]);
	memset(r, 0, sizeof(*r));
	(void)st;
}

void pn_ipv4_reasm_timer_fn(struct pn_timer *t)
{
	struct pn_stack *st = pn_container_of(t, struct pn_stack, reasm_timer);
	bool any = false;

	for (unsigned i = 0; i < PN_REASM_SLOTS; i++) {
		struct pn_reasm *r = &st->reasm[i];

		if (!r->used)
			continue;
		if (r->expires_ms <= st->now_ms) {
			st->stats.ip_reasm_timeout++;
			slot_drop(st, r);
		} else {
			any = true;
		}
	}
	if (any)
		pn_timer_arm(&st->wheel, &st->reasm_timer, st->now_ms + 1000);
}

void pn_ipv4_reasm_flush(struct pn_stack *st)
{
	for (unsigned i = 0; i < PN_REASM_SLOTS; i++)
		if (st->reasm[i].used)
			slot_drop(st, &st->reasm[i]);
	pn_timer_cancel(&st->reasm_timer);
}

static struct pn_reasm *slot_get(struct pn_stack *st, const struct pn_ipv4_hdr *ip)
{
	struct pn_reasm *free_slot = NULL, *oldest = NULL;

	for (unsigned i = 0; i < PN_REASM_SLOTS; i++) {
		struct pn_reasm *r = &st->reasm[i];

		if (!r->used) {
			if (free_slot == NULL)
				free_slot = r;
			continue;
		}
		if (r->src == ip->saddr && r->dst == ip->daddr && r->id == ip->id &&
		    r->proto == ip->proto)
			return r;
		if (oldest == NULL || r->expires_ms < oldest->expires_ms)
			oldest = r;
	}
	if (free_slot == NULL) {
		st->stats.ip_reasm_evicted++;
		slot_drop(st, oldest);
		free_slot = oldest;
	}
	free_slot->used = true;
	free_slot->src = ip->saddr;
	free_slot->dst = ip->daddr;
	free_slot->id = ip->id;
	free_slot->proto = ip->proto;
	free_slot->expires_ms = st->now_ms + PN_REASM_TIMEOUT_MS;
	if (!pn_timer_armed(&st->reasm_timer))
		pn_timer_arm(&st->wheel, &st->reasm_timer, st->now_ms + 1000);
	return free_slot;
}

struct pn_pkt *pn_ipv4_reasm(struct pn_stack *st, struct pn_pkt *pkt, uint32_t hlen,
			     struct pn_ipv4_hdr *whole)
{
	const struct pn_ipv4_hdr *ip = (const struct pn_ipv4_hdr *)pn_pkt_data(pkt);
	uint16_t fo = ntohs(ip->frag_off);
	uint32_t off = (uint32_t)(fo & PN_IPV4_OFFMASK) * 8u;
	uint32_t len = ntohs(ip->tot_len) - hlen;
	bool more = fo & PN_IPV4_MF;
	struct pn_reasm *r;
	unsigned at;

	st->stats.ip_fragments++;
	/* every piece but the last carries a multiple of 8 bytes; none ends
	 * past the largest datagram */
	if (len == 0 || (more && (len & 7)) || off + len + hlen > 65535) {
		st->stats.ip_reasm_bad++;
		pn_pkt_free(pkt);
		return NULL;
	}
	r = slot_get(st, ip);
	if (off == 0) {
		memcpy(&r->hdr, ip, sizeof(r->hdr));
		r->have_first = true;
	}
	if (!more) {
		if (r->total && r->total != off + len) {
			st->stats.ip_reasm_bad++; /* two different ends */
			goto drop_all;
		}
		r->total = off + len;
	}
	/* sorted by offset; overlap drops the datagram, a duplicate itself */
	for (at = 0; at < r->nr && r->off[at] < off; at++)
		;
	if (at < r->nr && r->off[at] == off && r->len[at] == len) {
		st->stats.ip_reasm_dup++;
		pn_pkt_free(pkt);
		return NULL;
	}
	if ((at > 0 && r->off[at - 1] + r->len[at - 1] > off) ||
	    (at < r->nr && off + len > r->off[at]) || (r->total && off + len > r->total)) {
		st->stats.ip_reasm_overlap++;
		goto drop_all;
	}
	if (r->nr == PN_REASM_MAX_PIECES) {
		st->stats.ip_reasm_too_big++;
		goto drop_all;
	}
	pn_pkt_pull(pkt, hlen);
	memmove(&r->frag[at + 1], &r->frag[at], (r->nr - at) * sizeof(r->frag[0]));
	memmove(&r->off[at + 1], &r->off[at], (r->nr - at) * sizeof(r->off[0]));
	memmove(&r->len[at + 1], &r->len[at], (r->nr - at) * sizeof(r->len[0]));
	r->frag[at] = pkt;
	r->off[at] = (uint16_t)off;
	r->len[at] = (uint16_t)len;
	r->nr++;
	r->have += len;
	if (!r->total || !r->have_first || r->have != r->total)
		return NULL;
	/* complete (no overlap, and the pieces add up to the end: no gap) */
	{
		struct pn_pkt *head = r->frag[0];

		for (unsigned i = 1; i < r->nr; i++)
			pn_pkt_chain(head, r->frag[i]);
		*whole = r->hdr;
		whole->tot_len = htons((uint16_t)(r->total + sizeof(*whole)));
		whole->frag_off = 0;
		memset(r, 0, sizeof(*r)); /* the pieces are the head's now */
		if (pn_pkt_flatten(head) != 0) {
			st->stats.ip_reasm_too_big++;
			pn_pkt_free(head);
			return NULL;
		}
		st->stats.ip_reasm_ok++;
		return head;
	}
drop_all:
	pn_pkt_free(pkt);
	slot_drop(st, r);
	return NULL;
}

int pn_ipv4_fragment_output(struct pn_stack *st, struct pn_pkt *pkt, uint32_t next_hop)
{
	const struct pn_ipv4_hdr *ip = (const struct pn_ipv4_hdr *)pn_pkt_data(pkt);
	uint32_t hlen = sizeof(*ip), total = pkt->pkt_len - hlen;
	uint32_t step = ((uint32_t)st->mtu - hlen) & ~7u;
	struct pn_addr nh = pn_addr_v4(next_hop);
	int rc = 0;

	/* the rare path (an echo reply to a large ping): copy into new packets */
	for (uint32_t off = 0; off < total; off += step) {
		uint32_t n = PN_MIN(step, total - off);
		struct pn_pkt *f;
		struct pn_ipv4_hdr *fh = pn_stack_pkt_put(st, hlen + n, &f);

		if (fh == NULL) {
			rc = -ENOMEM;
			break;
		}
		*fh = *ip;
		fh->tot_len = htons((uint16_t)(hlen + n));
		fh->frag_off = htons((uint16_t)((off / 8) | (off + n < total ? PN_IPV4_MF : 0)));
		fh->csum = 0;
		fh->csum = pn_csum(fh, hlen);
		pn_pkt_copy_bits(pkt, hlen + off, fh + 1, n);
		st->stats.ip_frags_out++;
		pn_neigh_output(st, f, &nh);
	}
	pn_pkt_free(pkt);
	return rc;
}
