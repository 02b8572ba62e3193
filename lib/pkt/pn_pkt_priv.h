/* SPDX-License-Identifier: BSD-3-Clause */
/* Internal to lib/pkt. */
#ifndef PN_PKT_PRIV_H
#define PN_PKT_PRIV_H

#include "pn_pkt.h"

/* Drop whatever a fragment entry holds on its page. */
static inline void pkt_frag_release(const struct pn_pkt_frag *fr)
{
	if (fr->kind == PN_PKT_FRAG_SHARE)
		pn_pool_frag_free(fr->frame, fr->frame->addr + fr->off);
	else
		pn_frame_put(fr->frame);
}

#endif /* PN_PKT_PRIV_H */
