/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Model-based test of pages, fragments and packets: seeded random sequences
 * of operations (alloc, alloc_frag, get, put, frag_free, packets with
 * fragments, clone, expand_head, unshare, trim, adj, may_pull, push, chain,
 * flatten, charge, hand-over to another thread) on 2-4 threads, each with its
 * own pool, checked against a reference model.
 *
 * The model is what each holder may see: every holder remembers the bytes it
 * can read (a pattern it wrote, or the bytes of what it took a reference
 * on), and nobody writes bytes another holder can see. The checks are on
 * the data, not only the counters: after an operation the bytes of every
 * holder it touched are compared, every few steps those of all holders, and
 * in lockstep mode every frame a holder pins must be referenced and out of
 * its pool's cache. At the end every holder lets go, and every page must be
 * back exactly once: nothing in flight, every frame accounted for, no frame
 * twice in a cache, every charge returned.
 *
 * Two runners:
 *  - lockstep: the seed gives the whole operation list (thread, kind,
 *    arguments); threads take turns with a baton, so a run is exactly
 *    reproducible. Each run is a forked child; a failing list is shrunk
 *    (delta debugging) to a short one, printed, and written to a file that
 *    PN_MODEL_REPLAY=file runs again.
 *  - free-running: each thread draws its own operations from the seed and
 *    runs at full speed, handing holders over through rings; races show
 *    here (and under ThreadSanitizer).
 *
 * Environment: PN_MODEL_SEED, PN_MODEL_STEPS (free-running, all variants),
 * PN_MODEL_LOCKSTEP_STEPS (per lockstep run), PN_MODEL_SEEDS (lockstep runs),
 * PN_MODEL_THREADS, PN_MODEL_VARIANT, PN_MODEL_REPLAY.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pn_acct.h"
#include "pn_test.h"

#ifndef PN_STRESS_OPS
#define PN_STRESS_OPS 10000000
#endif

#define MAX_THREADS 4
#define MAX_HOLD 96 /* holders per thread */
#define PAGE PN_FRAME_SIZE

enum kind { H_PAGE, H_FRAG, H_REF, H_PKT };

struct holder {
	enum kind kind;
	uint32_t id;            /* lockstep: who made it (op uid << 4 | n) */
	struct pn_frame *frame; /* PAGE, FRAG, REF: the frame held */
	uint8_t *ptr;           /* PAGE, FRAG, REF: the bytes seen */
	uint32_t len;
	struct pn_pkt *pkt;     /* PKT */
	uint8_t *expect;        /* the bytes it must see (owned) */
	uint32_t cap;           /* PKT: room in expect */
};

/* The operations; the weights say how often free-running threads pick them. */
#define OPS(X)                                   \
	X(ALLOC_PAGE, 6) X(ALLOC_BULK, 2) X(PUT, 6) X(PUT_BULK, 2) \
	X(ALLOC_FRAG, 10) X(FREE_FRAG, 6) X(GET_REF, 6) X(PUT_REF, 4) \
	X(PKT_ALLOC, 10) X(PKT_CLONE, 5) X(PKT_EXPAND, 4) X(PKT_UNSHARE, 3) \
	X(PKT_TRIM, 3) X(PKT_ADJ, 3) X(PKT_PULL, 3) X(PKT_PUSH, 3) \
	X(PKT_CHAIN, 2) X(PKT_FLATTEN, 2) X(PKT_FREE, 8) X(CHARGE, 3) \
	X(HANDOFF, 8) X(CHECK_ALL, 1)

#define X_ENUM(name, w) OP_##name,
enum op_kind { OPS(X_ENUM) OP_COUNT };
#define X_NAME(name, w) #name,
static const char *const op_names[] = { OPS(X_NAME) };
#define X_W(name, w) w,
static const unsigned op_weight[] = { OPS(X_W) };
#define X_SUM(name, w) + w
enum { OP_WEIGHTS = 0 OPS(X_SUM) };

#define NREF 10

/*
 * One operation of a list. The first run of a list records which holders
 * each choice fell on (ref[], by the holders' ids: the creating operation's
 * uid and a count); shrinking then replays by id, so taking operations out
 * does not change what the remaining ones act on.
 */
struct op {
	uint8_t thread, kind;
	uint32_t a, b;
	uint32_t uid;       /* stable across shrinking */
	uint32_t ref[NREF]; /* holder ids chosen, 0 = none */
};

struct mthread {
	int idx;
	pthread_t th;
	struct pn_pool *pool;
	struct holder h[MAX_HOLD];
	unsigned nh;
	struct pn_ring *inbox;  /* holders handed to this thread */
	uint64_t rng;
	sem_t go;
	uint64_t steps;
};

static struct {
	unsigned nthreads;
	bool lockstep, quarantine, accounted;
	struct mthread t[MAX_THREADS];
	struct pn_acct_group *group;
	/* lockstep */
	sem_t done;
	struct op *cur;
	bool stop, by_id;
	unsigned nref, nadd; /* choices and holders made by the current op */
	/* free-running */
	uint64_t steps_per_thread;
	_Atomic unsigned finished;
	_Atomic uint64_t in_flight; /* holders in inboxes */
	uint64_t seed;
} M;

/* A free-running single thread records its operations: they are a list the
 * lockstep runner can replay and shrink (written out on failure). */
static struct op *recorded;
static size_t nrecorded, caprecorded;
static uint64_t recorded_seed;

static void dump_recorded(void)
{
	char path[64];
	FILE *f;

	if (recorded == NULL)
		return;
	snprintf(path, sizeof(path), "model-failure-free-%llu.txt",
		 (unsigned long long)recorded_seed);
	f = fopen(path, "w");
	if (f == NULL)
		return;
	fprintf(f, "# threads 1 seed %llu quarantine 0 byid 0\n",
		(unsigned long long)recorded_seed);
	for (size_t i = 0; i < nrecorded; i++)
		fprintf(f, "t0 %s a=%u b=%u\n", op_names[recorded[i].kind], recorded[i].a,
			recorded[i].b);
	fclose(f);
	fprintf(stderr, "model: the failing run's %zu operations are in %s "
		"(PN_MODEL_REPLAY=%s replays and shrinks them)\n", nrecorded, path, path);
}

/* ---- failure: say what and where, then stop (a child exits non-zero) */

static __attribute__((noreturn, format(printf, 1, 2))) void model_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "model: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	dump_recorded();
	fflush(stderr);
	abort();
}

/* ---- patterns */

static uint64_t mix(uint64_t x)
{
	x ^= x >> 31;
	x *= UINT64_C(0x7fb5d329728ea185);
	x ^= x >> 27;
	x *= UINT64_C(0x81dadef4bc2dd44d);
	return x ^ (x >> 33);
}

static uint64_t rnd(uint64_t *s)
{
	*s += UINT64_C(0x9e3779b97f4a7c15);
	return mix(*s);
}

static void pattern(uint8_t *dst, uint32_t len, uint64_t seed)
{
	for (uint32_t i = 0; i < len; i += 8) {
		uint64_t w = mix(seed + i);

		memcpy(dst + i, &w, PN_MIN(8u, len - i));
	}
}

static uint8_t *dup_bytes(const uint8_t *src, uint32_t len)
{
	uint8_t *d = malloc(len ? len : 1);

	if (d == NULL)
		model_fail("out of memory");
	memcpy(d, src, len);
	return d;
}

/* ---- holders */

static const char *const kind_names[] = { "page", "fragment", "reference", "packet" };

static void check(const struct mthread *t, const struct holder *h, const char *when)
{
	if (h->kind == H_PKT) {
		static _Thread_local uint8_t buf[64 * 1024];
		uint32_t len = h->pkt->pkt_len;

		if (len != h->len)
			model_fail("thread %d %s: packet length %u, the model says %u", t->idx, when,
				   len, h->len);
		if (pn_pkt_copy_bits(h->pkt, 0, buf, len) != 0)
			model_fail("thread %d %s: packet bytes unreadable", t->idx, when);
		for (uint32_t i = 0; i < len; i++)
			if (buf[i] != h->expect[i])
				model_fail("thread %d %s: packet byte %u of %u is %#x, the holder "
					   "wrote %#x", t->idx, when, i, len, buf[i], h->expect[i]);
		return;
	}
	for (uint32_t i = 0; i < h->len; i++)
		if (h->ptr[i] != h->expect[i])
			model_fail("thread %d %s: %s byte %u of %u (frame %p) is %#x, the holder "
				   "wrote %#x", t->idx, when, kind_names[h->kind], i, h->len,
				   (void *)h->frame, h->ptr[i], h->expect[i]);
}

static void drop(struct mthread *t, unsigned i)
{
	free(t->h[i].expect);
	t->h[i] = t->h[--t->nh];
}

static struct holder *add(struct mthread *t, enum kind k)
{
	struct holder *h;

	if (t->nh == MAX_HOLD)
		return NULL;
	h = &t->h[t->nh++];
	memset(h, 0, sizeof(*h));
	h->kind = k;
	if (M.cur)
		h->id = M.cur->uid << 4 | (M.nadd++ & 15);
	return h;
}

/* The pool a packet allocates from when cloned or expanded: must be ours. */
static bool pkt_local(const struct mthread *t, const struct pn_pkt *p)
{
	for (const struct pn_pkt *s = p; s; s = s->next)
		if (pn_pkt_pool(s) != t->pool)
			return false;
	return true;
}

/* Let go of what @h holds, whatever it is (not its model entry). */
static void let_go(struct mthread *t, struct holder *h, unsigned how)
{
	check(t, h, "before letting go");
	switch (h->kind) {
	case H_PAGE:
		if (how & 1)
			pn_frame_put(h->frame);
		else
			pn_pool_put(pn_frame_pool(h->frame), h->frame);
		break;
	case H_FRAG:
		pn_pool_frag_free(h->frame, h->ptr + (how % (h->len ? h->len : 1)));
		break;
	case H_REF:
		pn_frame_put(h->frame);
		break;
	case H_PKT:
		if (how & 1)
			pn_pkt_free_bulk(&h->pkt, 1);
		else
			pn_pkt_free(h->pkt);
		break;
	}
}

static void release(struct mthread *t, unsigned i, unsigned how)
{
	let_go(t, &t->h[i], how);
	drop(t, i);
}

/* Pick a holder of kind mask @kinds (bit per kind), or -1: by @r, or in a
 * lockstep list, by the id the first run recorded. */
static int pick(const struct mthread *t, unsigned kinds, uint32_t r)
{
	unsigned n = t->nh, slot = M.cur ? M.nref++ : 0;
	int found = -1;

	if (M.cur && slot >= NREF)
		return -1;
	if (M.cur && M.by_id) {
		for (unsigned i = 0; M.cur->ref[slot] && i < n; i++)
			if (t->h[i].id == M.cur->ref[slot] && (kinds & (1u << t->h[i].kind)))
				return (int)i;
		return -1;
	}
	for (unsigned k = 0; k < n; k++) {
		unsigned i = (r + k) % n;

		if (kinds & (1u << t->h[i].kind)) {
			found = (int)i;
			break;
		}
	}
	if (M.cur)
		M.cur->ref[slot] = found >= 0 ? t->h[found].id : 0;
	return found;
}

#define K(x) (1u << (x))

/* ---- lockstep checks of frames: pinned frames are referenced and not cached */

static void frames_of(const struct holder *h, struct pn_frame **out, unsigned *n, unsigned max)
{
	*n = 0;
	if (h->kind != H_PKT) {
		out[(*n)++] = h->frame;
		return;
	}
	for (const struct pn_pkt *s = h->pkt; s; s = s->next) {
		const struct pn_pkt_shinfo *sh = s->shinfo;

		if (*n + 2 + sh->nr_frags > max)
			return;
		out[(*n)++] = pn_pkt_own_shinfo(s)->frame;
		out[(*n)++] = sh->frame;
		for (unsigned f = 0; f < sh->nr_frags; f++)
			out[(*n)++] = sh->frags[f].frame;
	}
}

static __pn_unused void check_frames_quiescent(void)
{
	for (unsigned ti = 0; ti < M.nthreads; ti++) {
		struct mthread *t = &M.t[ti];

		for (unsigned i = 0; i < t->nh; i++) {
			struct pn_frame *fr[64];
			unsigned n;

			frames_of(&t->h[i], fr, &n, PN_DIM(fr));
			for (unsigned k = 0; k < n; k++) {
				struct pn_pool *p = pn_frame_pool(fr[k]);
				uint32_t cnt = atomic_load(&p->alloc.count);

				if (pn_frame_refcount(fr[k]) == 0)
					model_fail("thread %u: a frame its %s pins is frozen (recycled "
						   "while held)", ti, kind_names[t->h[i].kind]);
				for (uint32_t c = 0; c < cnt; c++)
					if (p->alloc.cache[c] == fr[k])
						model_fail("thread %u: a frame its %s pins is in pool "
							   "%s's cache", ti, kind_names[t->h[i].kind],
							   p->name);
			}
		}
	}
}

static __pn_unused void check_all(void)
{
	for (unsigned ti = 0; ti < M.nthreads; ti++)
		for (unsigned i = 0; i < M.t[ti].nh; i++)
			check(&M.t[ti], &M.t[ti].h[i], "sweep");
}

/* ---- one operation */

static uint32_t pkt_len_total(const struct pn_pkt *p)
{
	return p->pkt_len;
}

static void do_op(struct mthread *t, unsigned kind, uint32_t a, uint32_t b)
{
	struct holder *h;
	int i, j;

	switch (kind) {
	case OP_ALLOC_PAGE: {
		struct pn_frame *f = pn_pool_alloc(t->pool);

		if (f == NULL)
			return; /* exhausted: fine, nothing taken */
		if ((h = add(t, H_PAGE)) == NULL) {
			pn_pool_put(t->pool, f);
			return;
		}
		h->frame = f;
		h->ptr = f->addr;
		h->len = PAGE;
		h->expect = malloc(PAGE);
		pattern(h->expect, PAGE, a);
		memcpy(h->ptr, h->expect, PAGE);
		return;
	}
	case OP_ALLOC_BULK: {
		struct pn_frame *f[8];
		unsigned n = 1 + a % 8;

		if (t->nh + n > MAX_HOLD || pn_pool_alloc_bulk(t->pool, f, n) != 0)
			return;
		for (unsigned k = 0; k < n; k++) {
			h = add(t, H_PAGE);
			h->frame = f[k];
			h->ptr = f[k]->addr;
			h->len = 256; /* a bulk holder uses the page's start */
			h->expect = malloc(256);
			pattern(h->expect, 256, a + k);
			memcpy(h->ptr, h->expect, 256);
		}
		return;
	}
	case OP_PUT:
		if ((i = pick(t, K(H_PAGE), a)) >= 0)
			release(t, (unsigned)i, b);
		return;
	case OP_PUT_BULK: {
		struct pn_frame *f[8];
		unsigned n = 0;

		/* pages of one pool (the bulk call takes one pool) */
		while (n < 1 + a % 8 && (i = pick(t, K(H_PAGE), b + n)) >= 0) {
			struct pn_pool *p = pn_frame_pool(t->h[i].frame);

			if (n && p != pn_frame_pool(f[0]))
				break;
			check(t, &t->h[i], "before put_bulk");
			f[n++] = t->h[i].frame;
			drop(t, (unsigned)i);
		}
		if (n)
			pn_pool_put_bulk(pn_frame_pool(f[0]), f, n);
		return;
	}
	case OP_ALLOC_FRAG: {
		uint32_t size = 1 + a % 2048;
		struct pn_frame *f;
		uint8_t *p = pn_pool_alloc_frag(t->pool, size, &f);

		if (p == NULL)
			return;
		if ((h = add(t, H_FRAG)) == NULL) {
			pn_pool_frag_free(f, p);
			return;
		}
		h->frame = f;
		h->ptr = p;
		h->len = size;
		h->expect = malloc(size);
		pattern(h->expect, size, b);
		memcpy(p, h->expect, size);
		return;
	}
	case OP_FREE_FRAG:
		if ((i = pick(t, K(H_FRAG), a)) >= 0)
			release(t, (unsigned)i, b);
		return;
	case OP_GET_REF: {
		/* a plain reference on what another holder sees: a clone's page,
		 * an application keeping payload (the page_pool fragment thread) */
		struct pn_pkt_piece pc[PN_PKT_MAX_FRAGS + 1];
		struct holder *src;

		if ((i = pick(t, K(H_PAGE) | K(H_FRAG) | K(H_REF) | K(H_PKT), a)) < 0 ||
		    t->nh == MAX_HOLD)
			return;
		src = &t->h[i];
		h = add(t, H_REF);
		src = &t->h[i]; /* add() may not move it, but be plain about it */
		if (src->kind == H_PKT) {
			/* a fragment of it: the linear part is the packet's own to
			 * write (push, pull), fragments never change */
			unsigned n = pn_pkt_pieces(src->pkt, pc, PN_DIM(pc));
			unsigned first = pn_pkt_headlen(src->pkt) ? 1 : 0;

			if (n <= first || n > PN_DIM(pc)) {
				t->nh--;
				return;
			}
			n = first + b % (n - first);
			h->frame = pc[n].frame;
			h->ptr = pc[n].base;
			h->len = pc[n].len;
		} else {
			h->frame = src->frame;
			h->ptr = src->ptr;
			h->len = src->len;
		}
		pn_frame_get(h->frame);
		h->expect = dup_bytes(h->ptr, h->len);
		if (src->kind != H_PKT)
			for (uint32_t k = 0; k < h->len; k++)
				if (h->expect[k] != src->expect[k])
					model_fail("thread %d: bytes changed under a holder", t->idx);
		return;
	}
	case OP_PUT_REF:
		if ((i = pick(t, K(H_REF), a)) >= 0)
			release(t, (unsigned)i, 0);
		return;
	case OP_PKT_ALLOC: {
		struct pn_pkt *p = pn_pkt_alloc(t->pool);
		uint32_t lin = 1 + a % 1200;
		uint8_t *d;

		if (p == NULL)
			return;
		if ((h = add(t, H_PKT)) == NULL) {
			pn_pkt_free(p);
			return;
		}
		d = pn_pkt_append(p, lin);
		h->pkt = p;
		h->cap = 8192;
		h->expect = malloc(h->cap);
		pattern(h->expect, lin, b);
		memcpy(d, h->expect, lin);
		h->len = lin;
		/* up to three of our fragments move in (their shares with them) */
		for (unsigned k = 0; k < (b >> 8) % 4; k++) {
			int fi = pick(t, K(H_FRAG), b + k);
			struct holder *fh;

			if (fi < 0)
				break;
			fh = &t->h[fi];
			check(t, fh, "before joining a packet");
			if (pn_pkt_add_frag(p, fh->frame, (uint32_t)(fh->ptr - fh->frame->addr),
					    (uint16_t)fh->len, PN_PKT_FRAG_SHARE) != 0)
				break;
			memcpy(h->expect + h->len, fh->expect, fh->len);
			h->len += fh->len;
			h = NULL;
			drop(t, (unsigned)fi);
			/* drop() may have moved the packet's holder: find it again */
			for (unsigned q = 0; q < t->nh; q++)
				if (t->h[q].kind == H_PKT && t->h[q].pkt == p)
					h = &t->h[q];
		}
		return;
	}
	case OP_PKT_CLONE: {
		struct pn_pkt *c;

		if ((i = pick(t, K(H_PKT), a)) < 0 || !pkt_local(t, t->h[i].pkt) ||
		    t->nh == MAX_HOLD)
			return;
		c = pn_pkt_clone(t->h[i].pkt);
		if (c == NULL)
			return;
		h = add(t, H_PKT);
		h->pkt = c;
		h->len = t->h[i].len;
		h->cap = t->h[i].cap;
		h->expect = dup_bytes(t->h[i].expect, h->cap);
		check(t, h, "after clone");
		return;
	}
	case OP_PKT_EXPAND:
	case OP_PKT_UNSHARE:
	case OP_PKT_TRIM:
	case OP_PKT_ADJ:
	case OP_PKT_PULL:
	case OP_PKT_PUSH:
	case OP_PKT_FLATTEN: {
		struct pn_pkt *p;
		int rc = 0;

		if ((i = pick(t, K(H_PKT), a)) < 0 || !pkt_local(t, t->h[i].pkt))
			return;
		h = &t->h[i];
		p = h->pkt;
		switch (kind) {
		case OP_PKT_EXPAND:
			if (p->next == NULL)
				rc = pn_pkt_expand_head(p, b % 300, (b >> 9) % 300);
			break;
		case OP_PKT_UNSHARE:
			rc = pn_pkt_unshare(p);
			if (rc == 0 && pn_pkt_cloned(p))
				model_fail("thread %d: still shared after unshare", t->idx);
			break;
		case OP_PKT_TRIM:
			if (p->next == NULL) {
				uint32_t len = b % (p->len + 1);

				rc = pn_pkt_trim(p, len);
				if (rc == 0)
					h->len = len;
			}
			break;
		case OP_PKT_ADJ:
			if (p->next == NULL) {
				uint32_t n = b % (p->len + 1);

				rc = pn_pkt_adj(p, n);
				if (rc == 0) {
					memmove(h->expect, h->expect + n, h->len - n);
					h->len -= n;
				}
			}
			break;
		case OP_PKT_PULL:
			if (p->next == NULL && p->len)
				rc = pn_pkt_may_pull(p, 1 + b % p->len);
			break;
		case OP_PKT_PUSH: {
			uint32_t n = 1 + b % 64;
			uint8_t *d;

			if (h->len + n > h->cap || pn_pkt_unshare(p) != 0)
				return;
			d = pn_pkt_push(p, n);
			if (d == NULL)
				return;
			memmove(h->expect + n, h->expect, h->len);
			pattern(h->expect, n, b);
			memcpy(d, h->expect, n);
			h->len += n;
			break;
		}
		case OP_PKT_FLATTEN:
			rc = pn_pkt_flatten(p);
			if (rc == -ENOSPC)
				rc = 0; /* too many pieces: left as it was */
			break;
		}
		if (rc == -ENOMEM)
			return; /* pool exhausted: the packet is as it was */
		if (rc != 0 && rc != -EMSGSIZE)
			model_fail("thread %d: %s returned %d", t->idx, op_names[kind], rc);
		check(t, h, op_names[kind]);
		if (pkt_len_total(p) != h->len)
			model_fail("thread %d: length after %s", t->idx, op_names[kind]);
		return;
	}
	case OP_PKT_CHAIN:
		if ((i = pick(t, K(H_PKT), a)) < 0 || (j = pick(t, K(H_PKT), b)) < 0 || i == j)
			return;
		if (t->h[i].len + t->h[j].len > t->h[i].cap ||
		    t->h[i].pkt->nb_segs + t->h[j].pkt->nb_segs > 4)
			return;
		check(t, &t->h[i], "before chaining");
		check(t, &t->h[j], "before chaining");
		pn_pkt_chain(t->h[i].pkt, t->h[j].pkt);
		memcpy(t->h[i].expect + t->h[i].len, t->h[j].expect, t->h[j].len);
		t->h[i].len += t->h[j].len;
		drop(t, (unsigned)j); /* its segments belong to the chain now */
		if ((unsigned)i == t->nh)
			i = j; /* drop moved the last holder into j */
		check(t, &t->h[i], "after chaining");
		return;
	case OP_PKT_FREE:
		if ((i = pick(t, K(H_PKT), a)) >= 0)
			release(t, (unsigned)i, b);
		return;
	case OP_CHARGE:
		if (M.group && (i = pick(t, K(H_PAGE) | K(H_FRAG) | K(H_REF), a)) >= 0)
			(void)pn_pool_charge(t->h[i].frame, M.group,
					     (enum pn_acct_kind)(b % PN_ACCT_KINDS));
		return;
	case OP_HANDOFF: {
		struct mthread *to = &M.t[b % M.nthreads];
		struct holder *moved;

		if (to == t || (i = pick(t, ~0u, a)) < 0)
			return;
		check(t, &t->h[i], "before hand-over");
		moved = malloc(sizeof(*moved));
		*moved = t->h[i];
		atomic_fetch_add(&M.in_flight, 1);
		if (pn_ring_enqueue(to->inbox, moved) != 0) {
			/* its inbox is full: keep it (waiting could deadlock) */
			atomic_fetch_sub(&M.in_flight, 1);
			free(moved);
			return;
		}
		t->h[i] = t->h[--t->nh];
		return;
	}
	case OP_CHECK_ALL:
		for (unsigned k = 0; k < t->nh; k++)
			check(t, &t->h[k], "sweep");
		return;
	case 255: /* only the shrinker's own test: a write behind a holder's back */
		if ((i = pick(t, K(H_PAGE), a)) >= 0)
			t->h[i].ptr[0] ^= 0xff;
		return;
	}
}

/* Take what others handed us; what does not fit is let go at once. */
static void take_inbox(struct mthread *t)
{
	struct holder *in;

	while (pn_ring_dequeue(t->inbox, (void **)&in) == 0) {
		atomic_fetch_sub(&M.in_flight, 1);
		if (t->nh == MAX_HOLD) {
			let_go(t, in, 0); /* no room: it goes at once */
			free(in->expect);
		} else {
			t->h[t->nh++] = *in;
			check(t, &t->h[t->nh - 1], "after hand-over");
		}
		free(in);
	}
}

/* ---- threads */

static __pn_unused void *lockstep_thread(void *arg)
{
	struct mthread *t = arg;

	pn_pool_set_owner(t->pool, pn_thread_id());
	for (;;) {
		sem_wait(&t->go);
		if (M.stop)
			break;
		take_inbox(t);
		M.nref = M.nadd = 0;
		do_op(t, M.cur->kind, M.cur->a, M.cur->b);
		sem_post(&M.done);
	}
	/* let go of everything, then report */
	take_inbox(t);
	while (t->nh)
		release(t, t->nh - 1, 0);
	sem_post(&M.done);
	return NULL;
}

static unsigned weighted_op(uint64_t *rng)
{
	unsigned r = (unsigned)(rnd(rng) % OP_WEIGHTS);

	for (unsigned k = 0; k < OP_COUNT; k++) {
		if (r < op_weight[k])
			return k;
		r -= op_weight[k];
	}
	return OP_CHECK_ALL;
}

static void *free_thread(void *arg)
{
	struct mthread *t = arg;

	pn_pool_set_owner(t->pool, pn_thread_id());
	for (uint64_t s = 0; s < M.steps_per_thread; s++) {
		unsigned k = weighted_op(&t->rng);
		uint32_t a = (uint32_t)rnd(&t->rng), b = (uint32_t)rnd(&t->rng);

		if ((s & 15) == 0)
			take_inbox(t);
		if (M.nthreads == 1) {
			if (nrecorded == caprecorded)
				recorded = realloc(recorded, sizeof(*recorded) *
						   (caprecorded = caprecorded ? 2 * caprecorded : 4096));
			recorded[nrecorded++] = (struct op){ 0, (uint8_t)k, a, b };
			recorded_seed = M.seed;
		}
		do_op(t, k, a, b);
		t->steps++;
	}
	while (t->nh)
		release(t, t->nh - 1, 0);
	atomic_fetch_add(&M.finished, 1);
	/* others may still hand us things: keep taking until all are done */
	while (atomic_load(&M.finished) < M.nthreads || atomic_load(&M.in_flight) != 0) {
		take_inbox(t);
		while (t->nh)
			release(t, t->nh - 1, 0);
		sched_yield();
	}
	return NULL;
}

/* ---- set-up and the final account */

static void world_open(unsigned nthreads, uint64_t seed, bool quarantine, bool accounted)
{
	memset(&M, 0, sizeof(M));
	M.nthreads = nthreads;
	M.seed = seed;
	M.quarantine = quarantine;
	M.accounted = accounted;
	if (accounted) {
		M.group = pn_acct_group_mkpath("model/charged");
		if (M.group == NULL)
			model_fail("no accounting group");
	}
	for (unsigned i = 0; i < nthreads; i++) {
		struct pn_pool_params pp = {
			.sz = sizeof(pp), .nr_pages = 1024, .numa_node = PN_NUMA_ANY,
			.cache_size = 64, .ring_size = 256, .name = "model",
			.flags = (quarantine ? PN_POOL_F_QUARANTINE : 0) |
				 (accounted ? PN_POOL_F_ACCOUNTED : 0),
		};

		M.t[i].idx = (int)i;
		M.t[i].pool = pn_pool_create(&pp);
		M.t[i].inbox = pn_ring_create(1024, 0);
		M.t[i].rng = seed * 1000003 + i;
		if (M.t[i].pool == NULL || M.t[i].inbox == NULL)
			model_fail("set-up failed");
		sem_init(&M.t[i].go, 0, 0);
	}
	sem_init(&M.done, 0, 0);
}

/* Everything was let go: every page back exactly once. */
static void world_close(void)
{
	for (unsigned i = 0; i < M.nthreads; i++) {
		struct pn_pool *p = M.t[i].pool;
		struct pn_pool_info pi;
		struct pn_region_info ri;
		uint32_t n;

		pn_pool_set_owner(p, pn_thread_id());
		pn_pool_info(p, &pi);
		pn_region_info(pn_pool_region(p), &ri);
		if (pi.inflight != 0)
			model_fail("pool %u: %lld pages in flight after every holder let go", i,
				   (long long)pi.inflight);
		if ((int64_t)ri.nr_free + pi.cache_count + pi.ring_count + pi.quarantine_count +
			    pi.frag_held != (int64_t)ri.nr_frames)
			model_fail("pool %u: frames unaccounted (free %u cache %u ring %u "
				   "quarantine %u frag %u of %u)", i, ri.nr_free, pi.cache_count,
				   pi.ring_count, pi.quarantine_count, pi.frag_held, ri.nr_frames);
		n = atomic_load(&p->alloc.count);
		for (uint32_t a = 0; a < n; a++)
			for (uint32_t b = a + 1; b < n; b++)
				if (p->alloc.cache[a] == p->alloc.cache[b])
					model_fail("pool %u: a page is in the cache twice", i);
		if (pn_pool_destroy(p) != 0)
			model_fail("pool %u: destroy found pages in flight", i);
		pn_ring_free(M.t[i].inbox);
		sem_destroy(&M.t[i].go);
	}
	sem_destroy(&M.done);
	if (M.group) {
		pn_acct_drain_all();
		if (pn_acct_current(M.group) != 0)
			model_fail("accounting: %lld pages still charged",
				   (long long)pn_acct_current(M.group));
	}
}

#ifndef PN_TSAN_SHIM /* fork and TSan do not mix well: free-running only there */
/* ---- lockstep runs, in a child, with shrinking */

/* The step a lockstep child is at, shared with the parent: a failing list is
 * first cut right after the step that failed. */
static _Atomic uint64_t *child_step;

static __pn_unused void gen_ops(struct op *ops, size_t n, uint64_t seed, unsigned nthreads)
{
	uint64_t rng = seed;

	for (size_t i = 0; i < n; i++) {
		ops[i].thread = (uint8_t)(rnd(&rng) % nthreads);
		ops[i].kind = (uint8_t)weighted_op(&rng);
		ops[i].a = (uint32_t)rnd(&rng);
		ops[i].b = (uint32_t)rnd(&rng);
		ops[i].uid = (uint32_t)i + 1;
		memset(ops[i].ref, 0, sizeof(ops[i].ref));
	}
}

static void lockstep_run(struct op *ops, size_t n, unsigned nthreads, uint64_t seed,
			 bool quarantine, bool by_id)
{
	world_open(nthreads, seed, quarantine, false);
	M.lockstep = true;
	M.by_id = by_id;
	for (unsigned i = 0; i < nthreads; i++)
		pthread_create(&M.t[i].th, NULL, lockstep_thread, &M.t[i]);
	for (size_t s = 0; s < n; s++) {
		if (child_step)
			atomic_store(child_step, s);
		M.cur = &ops[s];
		sem_post(&M.t[ops[s].thread % nthreads].go);
		sem_wait(&M.done);
		if ((s & 15) == 15) {
			check_all();
			check_frames_quiescent();
		}
	}
	if (child_step)
		atomic_store(child_step, n);
	M.cur = NULL;
	M.stop = true;
	for (unsigned i = 0; i < nthreads; i++) {
		sem_post(&M.t[i].go);
		sem_wait(&M.done);
		pthread_join(M.t[i].th, NULL);
	}
	/* holders handed to a thread after it stopped are still in inboxes */
	for (unsigned i = 0; i < nthreads; i++) {
		pn_pool_set_owner(M.t[i].pool, pn_thread_id());
		take_inbox(&M.t[i]);
		while (M.t[i].nh)
			release(&M.t[i], M.t[i].nh - 1, 0);
	}
	world_close();
}

/* Operations are run from memory the child shares with us, so that a
 * recording run's choices come back. */
static struct op *shared_ops;
static size_t shared_cap;

/*
 * Run @ops in a child: by recorded ids (@by_id), or recording them into
 * @ops. @return true when it passed.
 */
static bool lockstep_child(struct op *ops, size_t n, unsigned nthreads, uint64_t seed,
			   bool quarantine, bool quiet, bool by_id)
{
	pid_t pid;
	int status;

	if (n > shared_cap) {
		if (shared_ops)
			munmap(shared_ops, sizeof(*ops) * shared_cap);
		shared_cap = PN_MAX(n, (size_t)65536);
		shared_ops = mmap(NULL, sizeof(*ops) * shared_cap, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (shared_ops == MAP_FAILED)
			model_fail("no memory for the operation list");
	}
	memcpy(shared_ops, ops, sizeof(*ops) * n);
	pid = fork();
	if (pid == 0) {
		if (quiet) {
			int fd = open("/dev/null", O_WRONLY);

			dup2(fd, 2);
		}
		lockstep_run(shared_ops, n, nthreads, seed, quarantine, by_id);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return false;
	if (!by_id)
		memcpy(ops, shared_ops, sizeof(*ops) * n);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Delta debugging (ddmin) over the failing list, within a budget of runs. */
static size_t shrink(struct op *ops, size_t n, unsigned nthreads, uint64_t seed, bool q)
{
	struct op *tmp = malloc(sizeof(*ops) * n);
	size_t chunks = 2;
	unsigned budget = 400;

	/* what comes after the failing step cannot matter: cut there (the
	 * step a sweep caught it at, or the end) */
	if (child_step && atomic_load(child_step) + 1 < n &&
	    !lockstep_child(ops, atomic_load(child_step) + 1, nthreads, seed, q, true, true))
		n = atomic_load(child_step) + 1;
	while (n > 1 && budget > 0) {
		size_t sz = (n + chunks - 1) / chunks;
		bool reduced = false;

		for (size_t c = 0; c < chunks && budget > 0; c++) {
			size_t lo = c * sz, hi = PN_MIN(n, lo + sz), m = 0;

			if (lo >= n)
				break;
			/* the list without chunk c */
			for (size_t i = 0; i < n; i++)
				if (i < lo || i >= hi)
					tmp[m++] = ops[i];
			budget--;
			if (m > 0 && !lockstep_child(tmp, m, nthreads, seed, q, true, true)) {
				memcpy(ops, tmp, sizeof(*ops) * m);
				n = m;
				chunks = PN_MAX(chunks - 1, (size_t)2);
				reduced = true;
				break;
			}
		}
		if (!reduced) {
			if (chunks >= n)
				break;
			chunks = PN_MIN(n, chunks * 2);
		}
	}
	/* then single operations, while the list is short */
	for (size_t i = n; i-- > 0 && n < 200 && budget > 0; budget--) {
		size_t m = 0;

		for (size_t k = 0; k < n; k++)
			if (k != i)
				tmp[m++] = ops[k];
		if (m > 0 && !lockstep_child(tmp, m, nthreads, seed, q, true, true)) {
			memcpy(ops, tmp, sizeof(*ops) * m);
			n = m;
		}
	}
	free(tmp);
	return n;
}

static void write_op(FILE *f, const char *indent, const struct op *o)
{
	fprintf(f, "%st%u %s a=%u b=%u u=%u r=", indent, o->thread, op_names[o->kind], o->a,
		o->b, o->uid);
	for (unsigned k = 0; k < NREF; k++)
		fprintf(f, "%s%u", k ? "," : "", o->ref[k]);
	fputc('\n', f);
}

/* A list file: "# threads N seed S quarantine Q byid B", then one
 * operation a line. @return the count; *by_id says whether refs are set. */
static size_t read_replay(const char *path, struct op **ops, unsigned *nthreads, uint64_t *seed,
			  bool *q, bool *by_id)
{
	FILE *f = fopen(path, "r");
	char line[512];
	unsigned qq, nt, bi = 0;
	unsigned long long sd;
	size_t n = 0, cap = 64;

	if (f == NULL || fgets(line, sizeof(line), f) == NULL ||
	    sscanf(line, "# threads %u seed %llu quarantine %u byid %u", &nt, &sd, &qq, &bi) < 3)
		model_fail("cannot read %s", path);
	*nthreads = nt;
	*seed = sd;
	*q = qq;
	*by_id = bi;
	*ops = malloc(sizeof(**ops) * cap);
	while (fgets(line, sizeof(line), f) != NULL) {
		struct op o = { 0 };
		char name[32];
		unsigned th, k, used = 0;
		int at = 0;

		if (sscanf(line, "t%u %31s a=%u b=%u%n", &th, name, &o.a, &o.b, &at) != 4)
			continue;
		for (k = 0; k < OP_COUNT && strcmp(op_names[k], name); k++)
			;
		if (k == OP_COUNT)
			model_fail("%s: unknown operation %s", path, name);
		o.thread = (uint8_t)th;
		o.kind = (uint8_t)k;
		o.uid = (uint32_t)n + 1;
		if (sscanf(line + at, " u=%u r=%n", &o.uid, (int *)&used) == 1 && used)
			for (unsigned r = 0; r < NREF; r++) {
				int m = 0;

				if (sscanf(line + at + used, "%u%n", &o.ref[r], &m) != 1)
					break;
				used += (unsigned)m + 1;
			}
		if (n == cap)
			*ops = realloc(*ops, sizeof(**ops) * (cap *= 2));
		(*ops)[n++] = o;
	}
	fclose(f);
	return n;
}

static void map_child_step(void)
{
	if (child_step == NULL) {
		child_step = mmap(NULL, sizeof(*child_step), PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (child_step == MAP_FAILED)
			child_step = NULL;
	}
}

/* A list failed: shrink it, print it, write it for PN_MODEL_REPLAY, fail. */
static void shrink_and_report(struct op *ops, size_t n, unsigned nthreads, uint64_t seed,
			      bool quarantine)
{
	char path[64];
	FILE *f;

	n = shrink(ops, n, nthreads, seed, quarantine);
	snprintf(path, sizeof(path), "model-failure-%llu.txt", (unsigned long long)seed);
	f = fopen(path, "w");
	fprintf(stderr, "model: seed %llu fails; shrunk to %zu operations (%s):\n",
		(unsigned long long)seed, n, path);
	if (f)
		fprintf(f, "# threads %u seed %llu quarantine %d byid 1\n", nthreads,
			(unsigned long long)seed, quarantine);
	for (size_t i = 0; i < n; i++) {
		write_op(stderr, "  ", &ops[i]);
		if (f)
			write_op(f, "", &ops[i]);
	}
	if (f)
		fclose(f);
	lockstep_child(ops, n, nthreads, seed, quarantine, false, true); /* say why, once */
	cr_assert_fail("model: seed %llu fails (replay: PN_MODEL_REPLAY=%s)",
		       (unsigned long long)seed, path);
}

static void lockstep_seeds(unsigned nthreads, uint64_t first_seed, unsigned seeds, size_t steps,
			   bool quarantine)
{
	struct op *ops = malloc(sizeof(*ops) * steps);

	map_child_step();
	for (unsigned s = 0; s < seeds; s++) {
		uint64_t seed = first_seed + s;

		gen_ops(ops, steps, seed, nthreads);
		if (!lockstep_child(ops, steps, nthreads, seed, quarantine, false, false))
			shrink_and_report(ops, steps, nthreads, seed, quarantine);
	}
	free(ops);
}

#endif /* !PN_TSAN_SHIM */

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *v = getenv(name);

	return v ? strtoull(v, NULL, 0) : dflt;
}

/* ---- the tests */

#ifndef PN_TSAN_SHIM

Test(model, lockstep_seeds_reproducible_and_shrunk, .timeout = 900)
{
	const char *replay = getenv("PN_MODEL_REPLAY");

	if (replay) {
		struct op *ops;
		unsigned nt;
		uint64_t seed;
		bool q, by_id;
		size_t n = read_replay(replay, &ops, &nt, &seed, &q, &by_id);

		map_child_step();
		if (!lockstep_child(ops, n, nt, seed, q, false, by_id))
			shrink_and_report(ops, n, nt, seed, q);
		free(ops);
		return;
	}
	/* three threads; a quarantine pass catches stale puts where they happen */
	lockstep_seeds((unsigned)env_u64("PN_MODEL_THREADS", 3), env_u64("PN_MODEL_SEED", 1),
		       (unsigned)env_u64("PN_MODEL_SEEDS", 8), env_u64("PN_MODEL_LOCKSTEP_STEPS", 20000),
		       false);
	lockstep_seeds(2, env_u64("PN_MODEL_SEED", 1) + 100, 2,
		       env_u64("PN_MODEL_LOCKSTEP_STEPS", 20000) / 2, true);
}

/* The shrinker itself: a list that breaks the model on purpose (a holder
 * whose bytes another writes) shrinks to the few operations that matter. */
Test(model, shrinker_finds_a_short_list)
{
	struct op ops[400];
	size_t n;

	gen_ops(ops, PN_DIM(ops), 77, 2);
	/* the culprit: a CHECK_ALL after an out-of-model write, made below by
	 * kind 255 (only this test emits it) */
	ops[300] = (struct op){ 0, OP_ALLOC_PAGE, 5, 5 };
	ops[301] = (struct op){ 0, 255, 0, 0 };
	ops[302] = (struct op){ 0, OP_CHECK_ALL, 0, 0 };
	for (unsigned i = 0; i < PN_DIM(ops); i++)
		ops[i].uid = i + 1;
	map_child_step();
	cr_assert(!lockstep_child(ops, PN_DIM(ops), 2, 77, false, true, false));
	n = shrink(ops, PN_DIM(ops), 2, 77, false);
	cr_assert_leq(n, 3, "shrunk to %zu operations", n);
}
#endif

Test(model, free_running_threads, .timeout = 1200)
{
	uint64_t total = env_u64("PN_MODEL_STEPS", PN_STRESS_OPS);
	uint64_t seed = env_u64("PN_MODEL_SEED", 42);
	unsigned variants = 3;

	/* 4 threads, then 2 with quarantine, then 3 with accounting */
	for (unsigned v = 0; v < variants; v++) {
		unsigned nt = v == 0 ? 4 : v == 1 ? 2 : 3;

		if (getenv("PN_MODEL_VARIANT") && env_u64("PN_MODEL_VARIANT", 0) != v)
			continue;
		nt = (unsigned)env_u64("PN_MODEL_THREADS", nt);
		uint64_t steps = total / variants;
		uint64_t done = 0;

		world_open(nt, seed + v, v == 1, v == 2);
		M.steps_per_thread = steps / nt;
		for (unsigned i = 0; i < nt; i++)
			pthread_create(&M.t[i].th, NULL, free_thread, &M.t[i]);
		for (unsigned i = 0; i < nt; i++) {
			pthread_join(M.t[i].th, NULL);
			done += M.t[i].steps;
		}
		world_close();
		cr_log_info("model: %u threads%s%s, %llu steps, every page back once", nt,
			    v == 1 ? " (quarantine)" : "", v == 2 ? " (accounted)" : "",
			    (unsigned long long)done);
	}
}
