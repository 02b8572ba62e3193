/* SPDX-License-Identifier: BSD-3-Clause */
/* Internal to lib/pool. */
#ifndef PN_POOL_PRIV_H
#define PN_POOL_PRIV_H

#include "pn_pool.h"

#define PN_POOL_DEFAULT_PAGES 1024
#define PN_POOL_DEFAULT_RING 1024
#define PN_POOL_DEFAULT_FRAG 2048

/* The POOL destructor, registered in the memdesc table at load time. */
void pn_pool_frame_dtor(struct pn_frame *f);

/* pn_pool_tel.c: register /pools and /pool (once) */
void pn_pool_tel_init(void);

#endif /* PN_POOL_PRIV_H */
