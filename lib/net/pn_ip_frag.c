/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fragments, both families: reassembly of what arrives in pieces (IPv4,
 * RFC 791 3.2 and RFC 815; IPv6, RFC 8200 4.5), and IPv4 fragmentation of
 * what we send over the MTU (an echo reply to a large ping; IPv6 cuts its
 * own in pn_ipv6.c).
 *
 * Reassembly is bounded: 16 datagrams at once per stack for both families
 * (a new one pushes out the oldest), at most PN_PKT_MAX_FRAGS + 1 pieces
 * each (the reassembled packet holds the pieces' pages by reference, no
 * copy), 30 seconds to complete (Linux's ipfrag_time). Overlapping pieces
 * drop the whole datagram (RFC 5722 for IPv6, and the same for IPv4: a
 * Teardrop-style overlap cannot then rewrite a header that was checked);
 * an exact duplicate is dropped alone (RFC 8200 4.5 allows it). Every drop
 * is counted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "pn_net_priv.h"

static void slot_drop(struct pn_reasm *r)
{
	for (unsigned i = 0; i < r->nr; i++)
		pn_pkt_free(r->frag[i]);
	memset(r, 0, sizeof(*r));
}

void pn_reasm_timer_fn(struct pn_timer *t)
{
	struct pn_stack *st = pn_container_of(t, struct pn_stack, reasm_timer);
	bool any = false;

	for (unsigned i = 0; i < PN_REASM_SLOTS; i++) {
		struct pn_reasm *r = &st->reasm[i];

		if (!r->used)
			continue;
		if (r->expires_ms <= st->now_ms) {
			st->stats.ip_reasm_timeout++;
			slot_drop(r);
		} else {
			any = true;
		}
	}
	if (any)
		pn_timer_arm(&st->wheel, &st->reasm_timer, st->now_ms + 1000);
}

void pn_reasm_flush(struct pn_stack *st)
{
	for (unsigned i = 0; i < PN_REASM_SLOTS; i++)
		if (st->reasm[i].used)
			slot_drop(&st->reasm[i]);
	pn_timer_cancel(&st->reasm_timer);
}

/* The datagram @p key names (family, addresses, identification and, for
 * IPv4, protocol), or a new slot for it. */
static struct pn_reasm *slot_get(struct pn_stack *st, const struct pn_reasm *key)
{
	struct pn_reasm *free_slot = NULL, *oldest = NULL;

	for (unsigned i = 0; i < PN_REASM_SLOTS; i++) {
		struct pn_reasm *r = &st->reasm[i];

		if (!r->used) {
			if (free_slot == NULL)
				free_slot = r;
			continue;
		}
		if (r->family == key->family && r->id == key->id &&
		    (key->family == 6 || r->proto == key->proto) && pn_addr_eq(&r->src, &key->src) &&
		    pn_addr_eq(&r->dst, &key->dst))
			return r;
		if (oldest == NULL || r->expires_ms < oldest->expires_ms)
			oldest = r;
	}
	if (free_slot == NULL) {
		st->stats.ip_reasm_evicted++;
		slot_drop(oldest);
		free_slot = oldest;
	}
	free_slot->used = true;
	free_slot->family = key->family;
	free_slot->id = key->id;
	free_slot->proto = key->proto;
	free_slot->src = key->src;
	free_slot->dst = key->dst;
	free_slot->expires_ms = st->now_ms + PN_REASM_TIMEOUT_MS;
	if (!pn_timer_armed(&st->reasm_timer))
		pn_timer_arm(&st->wheel, &st->reasm_timer, st->now_ms + 1000);
	return free_slot;
}

/*
 * One piece (data at its payload, @p len bytes at offset @p off) of the
 * datagram @p key names. The offset-0 piece gives the protocol (IPv6: its
 * next header) and TTL in @p key. @return the whole payload, or NULL.
 */
static struct pn_pkt *reasm_add(struct pn_stack *st, const struct pn_reasm *key,
				struct pn_pkt *pkt, uint32_t off, uint32_t len, bool more,
				struct pn_l3_info *l3)
{
	struct pn_reasm *r = slot_get(st, key);
	unsigned at;

	if (off == 0) {
		r->proto = key->proto;
		r->ttl = key->ttl;
		r->have_first = true;
	}
	if (!more) {
		if (r->total && r->total != off + len) {
			st->stats.ip_reasm_bad++; /* two different ends */
			goto drop_all;
		}
		r->total = off + len;
		/* a piece already here that ends past the end: RFC 791 and
		 * 8200 have no such datagram; keeping the piece would let the
		 * byte count reach the total with a hole left */
		if (r->nr && r->off[r->nr - 1] + r->len[r->nr - 1] > r->total) {
			st->stats.ip_reasm_past_end++;
			goto drop_all;
		}
	}
	/* sorted by offset; overlap drops the datagram, a duplicate itself */
	for (at = 0; at < r->nr && r->off[at] < off; at++)
		;
	if (at < r->nr && r->off[at] == off && r->len[at] == len) {
		st->stats.ip_reasm_dup++;
		pn_pkt_free(pkt);
		return NULL;
	}
	if (r->total && off + len > r->total) {
		st->stats.ip_reasm_past_end++;
		goto drop_all;
	}
	if ((at > 0 && r->off[at - 1] + r->len[at - 1] > off) ||
	    (at < r->nr && off + len > r->off[at])) {
		st->stats.ip_reasm_overlap++;
		goto drop_all;
	}
	if (r->nr == PN_REASM_MAX_PIECES) {
		st->stats.ip_reasm_too_big++;
		goto drop_all;
	}
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
	/* complete on coverage: sorted pieces, each starting where the one
	 * before ended, the last at the end (with no overlap and none past
	 * the end this follows from the count; it is checked all the same) */
	for (unsigned i = 0, end = 0; i < r->nr; end = r->off[i] + r->len[i], i++)
		if (r->off[i] != end)
			return NULL;
	if (r->off[r->nr - 1] + r->len[r->nr - 1] != r->total)
		return NULL;
	{
		struct pn_pkt *head = r->frag[0];

		for (unsigned i = 1; i < r->nr; i++)
			pn_pkt_chain(head, r->frag[i]);
		l3->src = r->src;
		l3->dst = r->dst;
		l3->family = r->family;
		l3->proto = r->proto;
		l3->ttl = r->ttl;
		l3->l4_len = (uint16_t)r->total;
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
	slot_drop(r);
	return NULL;
}

struct pn_pkt *pn_ipv4_reasm(struct pn_stack *st, struct pn_pkt *pkt, uint32_t hlen,
			     struct pn_l3_info *l3)
{
	const struct pn_ipv4_hdr *ip = (const struct pn_ipv4_hdr *)pn_pkt_data(pkt);
	uint16_t fo = ntohs(ip->frag_off);
	uint32_t off = (uint32_t)(fo & PN_IPV4_OFFMASK) * 8u;
	uint32_t len = ntohs(ip->tot_len) - hlen;
	bool more = fo & PN_IPV4_MF;
	struct pn_reasm key = { .family = 4, .proto = ip->proto, .ttl = ip->ttl, .id = ip->id };

	st->stats.ip_fragments++;
	/* every piece but the last carries a multiple of 8 bytes; none ends
	 * past the largest datagram */
	if (len == 0 || (more && (len & 7)) || off + len + hlen > 65535) {
		st->stats.ip_reasm_bad++;
		pn_pkt_free(pkt);
		return NULL;
	}
	key.src = pn_addr_v4(ntohl(ip->saddr));
	key.dst = pn_addr_v4(ntohl(ip->daddr));
	pn_pkt_pull(pkt, hlen);
	return reasm_add(st, &key, pkt, off, len, more, l3);
}

struct pn_pkt *pn_ipv6_reasm(struct pn_stack *st, struct pn_pkt *pkt, struct pn_l3_info *l3)
{
	const struct pn_ipv6_frag_hdr *fh = (const struct pn_ipv6_frag_hdr *)pn_pkt_data(pkt);
	uint16_t fo = ntohs(fh->frag_off);
	uint32_t off = fo & ~7u, len = pkt->pkt_len - sizeof(*fh);
	bool more = fo & 1;
	struct pn_reasm key = { .family = 6, .proto = fh->next, .ttl = l3->ttl, .id = fh->id,
				.src = l3->src, .dst = l3->dst };

	st->stats.ip6_fragments++;
	/* as for IPv4, and RFC 8200 4.5: the pieces end within 65,535 bytes */
	if (len == 0 || (more && (len & 7)) || off + len > 65535) {
		st->stats.ip_reasm_bad++;
		pn_pkt_free(pkt);
		return NULL;
	}
	pn_pkt_pull(pkt, sizeof(*fh));
	return reasm_add(st, &key, pkt, off, len, more, l3);
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
