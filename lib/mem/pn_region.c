/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "pn_mem_priv.h"

_Static_assert(sizeof(struct pn_frame) == 32,
	       "the descriptor is 32 bytes: two per cache line (docs/design.md §1)");
_Static_assert(sizeof(struct pn_frame) <= PN_CACHE_LINE,
	       "a descriptor never spans more than one cache line");

/* a stalled shutdown should say who holds pages, not flood the log */
#define PN_DUMP_MAX_LINES 16
#define HUGE_2M (UINT64_C(2) << 20)

/* Lookups are lock-free: a slot is published with release once the region is
 * complete and cleared only when nothing of it is in use. */
static _Atomic(struct pn_region *) region_table[PN_MAX_REGIONS];
static pthread_mutex_t region_table_lock = PTHREAD_MUTEX_INITIALIZER;

static int table_insert(struct pn_region *r)
{
	pthread_mutex_lock(&region_table_lock);
	for (unsigned i = 0; i < PN_MAX_REGIONS; i++) {
		if (atomic_load_explicit(&region_table[i], memory_order_relaxed) == NULL) {
			r->index = i;
			for (uint32_t f = 0; f < r->nr_frames; f++)
				r->frames[f].memdesc |= (uint64_t)i << PN_MD_REGION_SHIFT;
			atomic_store_explicit(&region_table[i], r, memory_order_release);
			pthread_mutex_unlock(&region_table_lock);
			return 0;
		}
	}
	pthread_mutex_unlock(&region_table_lock);
	return -ENOSPC;
}

struct pn_region *pn_region_by_index(unsigned index)
{
	if (index >= PN_MAX_REGIONS)
		return NULL;
	return atomic_load_explicit(&region_table[index], memory_order_acquire);
}

struct pn_region *pn_frame_region(const struct pn_frame *f)
{
	return pn_region_by_index(pn_frame_region_index(f));
}

static int current_node(void)
{
	if (numa_available() < 0)
		return PN_NUMA_ANY;
	int cpu = sched_getcpu();

	return cpu < 0 ? numa_preferred() : numa_node_of_cpu(cpu);
}

static void set_order(struct pn_frame *f, unsigned k)
{
	f->memdesc = (f->memdesc & ~(PN_MD_ORDER_MASK << PN_MD_ORDER_SHIFT)) |
		     ((uint64_t)k << PN_MD_ORDER_SHIFT);
}

/* Free lists of blocks of 2^k frames: doubly linked by frame index + 1 so a
 * buddy can be unlinked in O(1) when it merges. Under the region lock. */
static void free_list_add(struct pn_region *r, uint32_t idx, unsigned k)
{
	struct pn_frame *f = &r->frames[idx];

	set_order(f, k);
	r->free_order[idx] = (uint8_t)(k + 1);
	f->free_prev = 0;
	f->next = r->free_head[k];
	if (f->next)
		r->frames[f->next - 1].free_prev = idx + 1;
	r->free_head[k] = idx + 1;
}

static void free_list_del(struct pn_region *r, uint32_t idx, unsigned k)
{
	struct pn_frame *f = &r->frames[idx];

	if (f->free_prev)
		r->frames[f->free_prev - 1].next = f->next;
	else
		r->free_head[k] = f->next;
	if (f->next)
		r->frames[f->next - 1].free_prev = f->free_prev;
	r->free_order[idx] = 0;
	f->free_prev = 0;
	f->next = 0;
}

/* Lay out free blocks of the largest order each position allows, lowest
 * addresses handed out first. */
static void build_free_lists(struct pn_region *r)
{
	uint32_t i = 0;

	memset(r->free_head, 0, sizeof(r->free_head));
	r->nr_free = 0;
	/* collect blocks first, then push in reverse so pops go upward */
	uint32_t *starts = malloc(sizeof(uint32_t) * (r->nr_frames + 1));
	uint8_t *orders = malloc(r->nr_frames + 1);
	uint32_t nb = 0;

	if (starts == NULL || orders == NULL) {
		/* fall back to order-0 blocks only, no allocation needed */
		for (uint32_t f = r->nr_frames; f-- > 0;)
			free_list_add(r, f, 0);
		r->nr_free = r->nr_frames;
		free(starts);
		free(orders);
		return;
	}
	while (i < r->nr_frames) {
		unsigned k = PN_MAX_ORDER;

		while (k > 0 && ((i & ((1u << k) - 1)) != 0 ||
				 i + (1u << k) > r->nr_frames))
			k--;
		starts[nb] = i;
		orders[nb] = (uint8_t)k;
		nb++;
		i += 1u << k;
	}
	while (nb-- > 0) {
		free_list_add(r, starts[nb], orders[nb]);
		r->nr_free += 1u << orders[nb];
	}
	free(starts);
	free(orders);
}

int pn_region_init_frames(struct pn_region *r)
{
	uint64_t node = r->numa_node < 0 ? PN_MD_NODE_NONE : (uint64_t)r->numa_node;

	r->frames = aligned_alloc(PN_CACHE_LINE,
				  PN_ALIGN_UP(sizeof(struct pn_frame) * r->nr_frames,
					      (size_t)PN_CACHE_LINE));
	r->free_order = calloc(r->nr_frames, 1);
	if (r->frames == NULL || r->free_order == NULL)
		return -ENOMEM;
#ifdef PN_DEBUG
	r->frag_bits = calloc((size_t)r->nr_frames * 2, sizeof(uint64_t));
	if (r->frag_bits == NULL)
		return -ENOMEM;
#endif
	for (uint32_t i = 0; i < r->nr_frames; i++) {
		struct pn_frame *f = &r->frames[i];

		memset(f, 0, sizeof(*f));
		f->memdesc = PN_MT_FREE | ((node & PN_MD_NODE_MASK) << PN_MD_NODE_SHIFT);
		f->addr = r->base + ((size_t)i << PN_FRAME_SHIFT);
	}
	build_free_lists(r);
	return 0;
}

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 2;

	while (p < n)
		p <<= 1;
	return p;
}

static struct pn_region *region_alloc_common(size_t len, int node,
					     const char *name)
{
	struct pn_region *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->len = len;
	r->nr_frames = (uint32_t)(len >> PN_FRAME_SHIFT);
	r->numa_node = node;
	snprintf(r->name, sizeof(r->name), "%s", name ? name : "region");
	pthread_mutex_init(&r->lock, NULL);
	r->refill = pn_ring_create(pow2_at_least(r->nr_frames), 0);
	if (r->refill == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

static void region_free_common(struct pn_region *r)
{
	pn_ring_free(r->refill);
#ifdef PN_DEBUG
	free((void *)r->frag_bits);
#endif
	free(r->free_order);
	free(r->frames);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* Map anonymous memory aligned to 2 MiB so THP can back it. */
static void *map_thp(size_t len, size_t *map_len, void **map_base)
{
	size_t want = len + HUGE_2M;
	uint8_t *p = mmap(NULL, want, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	uint8_t *aligned = (uint8_t *)PN_ALIGN_UP((uintptr_t)p, (uintptr_t)HUGE_2M);

	*map_base = p;
	*map_len = want;
	(void)madvise(aligned, len, MADV_HUGEPAGE);
	return aligned;
}

struct pn_region *pn_region_create(const struct pn_region_params *p)
{
	struct pn_region *r;
	size_t len;
	int node;

	if (p == NULL || p->len == 0 || (p->flags & ~PN_REGION_F_ALL) ||
	    (p->flags & PN_REGION_F_ALL) == PN_REGION_F_ALL ||
	    p->len > ((size_t)UINT32_MAX << PN_FRAME_SHIFT)) {
		errno = EINVAL;
		return NULL;
	}
	len = PN_ALIGN_UP(p->len, (size_t)PN_FRAME_SIZE);
	node = p->numa_node == PN_NUMA_ANY ? current_node() : p->numa_node;
	if (node != PN_NUMA_ANY && numa_available() >= 0 && node > numa_max_node()) {
		errno = EINVAL;
		return NULL;
	}
	r = region_alloc_common(len, node, p->name);
	if (r == NULL) {
		errno = ENOMEM;
		return NULL;
	}

	/* hugetlb first when asked for, or when the region fills at least one
	 * 2 MiB page: a small region should not pin a whole hugepage */
	r->base = NULL;
	if ((p->flags & PN_REGION_F_HUGEPAGE) ||
	    (!(p->flags & PN_REGION_F_NO_HUGEPAGE) && len >= HUGE_2M)) {
		size_t hlen = PN_ALIGN_UP(len, (size_t)HUGE_2M);
		void *m = mmap(NULL, hlen, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);

		if (m != MAP_FAILED) {
			r->base = m;
			r->map_base = m;
			r->map_len = hlen;
			r->backing = PN_REGION_HUGETLB;
		} else if (p->flags & PN_REGION_F_HUGEPAGE) {
			region_free_common(r);
			errno = ENOMEM;
			return NULL;
		}
	}
	if (r->base == NULL) {
		r->base = map_thp(len, &r->map_len, &r->map_base);
		r->backing = PN_REGION_THP;
		if (r->base == NULL) {
			region_free_common(r);
			errno = ENOMEM;
			return NULL;
		}
	}
	/* bind before the first touch so the pages land on the node */
	if (node != PN_NUMA_ANY && numa_available() >= 0)
		numa_tonode_memory(r->base, len, node);
	/* pre-fault: the data path must not take page faults */
	for (size_t off = 0; off < len; off += PN_FRAME_SIZE)
		((volatile uint8_t *)r->base)[off] = 0;

	if (pn_region_init_frames(r) < 0 || table_insert(r) < 0) {
		int err = r->frames ? ENOSPC : ENOMEM;

		munmap(r->map_base, r->map_len);
		region_free_common(r);
		errno = err;
		return NULL;
	}
	return r;
}

static int node_of_addr(void *addr)
{
	int status = -1;
	void *pages[1] = { addr };

	if (numa_available() < 0)
		return PN_NUMA_ANY;
	/* query only (nodes == NULL); fails for pages not faulted in */
	if (numa_move_pages(0, 1, pages, NULL, &status, 0) == 0 && status >= 0)
		return status;
	return current_node();
}

struct pn_region *pn_region_register(void *addr, size_t len, int numa_node,
				     const char *name)
{
	struct pn_region *r;

	if (addr == NULL || len == 0 || ((uintptr_t)addr & (PN_FRAME_SIZE - 1)) ||
	    (len & (PN_FRAME_SIZE - 1)) ||
	    len > ((size_t)UINT32_MAX << PN_FRAME_SHIFT)) {
		errno = EINVAL;
		return NULL;
	}
	if (numa_node == PN_NUMA_ANY)
		numa_node = node_of_addr(addr);
	r = region_alloc_common(len, numa_node, name);
	if (r == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	r->base = addr;
	r->backing = PN_REGION_APP;
	if (pn_region_init_frames(r) < 0 || table_insert(r) < 0) {
		int err = r->frames ? ENOSPC : ENOMEM;

		region_free_common(r);
		errno = err;
		return NULL;
	}
	return r;
}

int pn_region_destroy(struct pn_region *r)
{
	if (r == NULL)
		return -EINVAL;
	pthread_mutex_lock(&r->lock);
	if (atomic_load(&r->pins) != 0 || r->nr_free != r->nr_frames ||
	    pn_ring_count(r->refill) != 0) {
		pthread_mutex_unlock(&r->lock);
		return -EBUSY;
	}
	pthread_mutex_unlock(&r->lock);

	pthread_mutex_lock(&region_table_lock);
	atomic_store_explicit(&region_table[r->index], NULL, memory_order_release);
	pthread_mutex_unlock(&region_table_lock);
	if (r->map_len)
		munmap(r->map_base, r->map_len);
	region_free_common(r);
	return 0;
}

void pn_region_info(const struct pn_region *r, struct pn_region_info *info)
{
	struct pn_region *rr = (struct pn_region *)r;

	info->name = r->name;
	info->base = r->base;
	info->frames = r->frames;
	info->len = r->len;
	info->nr_frames = r->nr_frames;
	pthread_mutex_lock(&rr->lock);
	info->nr_free = r->nr_free;
	pthread_mutex_unlock(&rr->lock);
	info->numa_node = r->numa_node;
	info->backing = r->backing;
	info->index = r->index;
}

struct pn_frame *pn_region_addr_to_frame(const struct pn_region *r,
					 const void *addr)
{
	uintptr_t off = (uintptr_t)addr - (uintptr_t)r->base;
	struct pn_frame *f;

	if ((uintptr_t)addr < (uintptr_t)r->base || off >= r->len)
		return NULL;
	f = &r->frames[off >> PN_FRAME_SHIFT];
	if (f->memdesc & PN_MD_F_TAIL)
		f = &r->frames[f->next];
	return f;
}

struct pn_frame *pn_addr_to_frame(const void *addr)
{
	for (unsigned i = 0; i < PN_MAX_REGIONS; i++) {
		struct pn_region *r =
			atomic_load_explicit(&region_table[i], memory_order_acquire);

		if (r != NULL) {
			struct pn_frame *f = pn_region_addr_to_frame(r, addr);

			if (f != NULL)
				return f;
		}
	}
	return NULL;
}

/* Pop a block of order k, splitting a larger one if needed. Under lock. */
static struct pn_frame *pop_block(struct pn_region *r, unsigned k)
{
	unsigned j = k;
	uint32_t idx;

	while (j <= PN_MAX_ORDER && r->free_head[j] == 0)
		j++;
	if (j > PN_MAX_ORDER)
		return NULL;
	idx = r->free_head[j] - 1;
	free_list_del(r, idx, j);
	/* split: keep the lower half, free the upper halves */
	while (j > k) {
		j--;
		free_list_add(r, idx + (1u << j), j);
	}
	set_order(&r->frames[idx], k);
	return &r->frames[idx];
}

unsigned pn_region_alloc(struct pn_region *r, unsigned order, unsigned n,
			 struct pn_frame **out)
{
	unsigned got = 0;

	if (order > PN_MAX_ORDER)
		return 0;
	pthread_mutex_lock(&r->lock);
	while (got < n) {
		struct pn_frame *f = pop_block(r, order);

		if (f == NULL)
			break;
		uint32_t head = (uint32_t)(f - r->frames);

		pn_frame_set_type(f, PN_MT_MISC, 0);
		f->memdesc &= ~PN_MD_F_TAIL;
		f->next = 0;
		for (uint32_t t = 1; t < (1u << order); t++) {
			struct pn_frame *tf = &r->frames[head + t];

			pn_frame_set_type(tf, PN_MT_MISC, 0);
			tf->memdesc |= PN_MD_F_TAIL;
			tf->next = head;
		}
		r->nr_free -= 1u << order;
		out[got++] = f;
	}
	pthread_mutex_unlock(&r->lock);
	return got;
}

void pn_region_free(struct pn_region *r, struct pn_frame *const *fs, unsigned n)
{
	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < n; i++) {
		struct pn_frame *f = fs[i];
		unsigned k = pn_frame_order(f);
		uint32_t idx = (uint32_t)(f - r->frames);

		PN_DEBUG_ASSERT(pn_frame_refcount(f) == 0, "freeing a referenced frame");
		PN_DEBUG_ASSERT(pn_frame_type(f) != PN_MT_FREE, "double free to region");
		for (uint32_t t = 1; t < (1u << k); t++) {
			pn_frame_set_type(&r->frames[idx + t], PN_MT_FREE, 0);
			r->frames[idx + t].memdesc &= ~PN_MD_F_TAIL;
			r->frames[idx + t].next = 0;
		}
		pn_frame_set_type(f, PN_MT_FREE, 0);
		atomic_store_explicit(&f->frag_count, 0, memory_order_relaxed);
		r->nr_free += 1u << k;
		/* merge with the buddy while it is a free block of the same
		 * order (the binary buddy rule: buddy = idx ^ 2^k) */
		while (k < PN_MAX_ORDER) {
			uint32_t buddy = idx ^ (1u << k);

			if (buddy + (1u << k) > r->nr_frames ||
			    r->free_order[buddy] != k + 1)
				break;
			free_list_del(r, buddy, k);
			idx = PN_MIN(idx, buddy);
			k++;
		}
		free_list_add(r, idx, k);
	}
	pthread_mutex_unlock(&r->lock);
}

void pn_region_pin(struct pn_region *r)
{
	atomic_fetch_add(&r->pins, 1);
}

void pn_region_unpin(struct pn_region *r)
{
	atomic_fetch_sub(&r->pins, 1);
}

struct pn_frame *pn_region_app_alloc(struct pn_region *r)
{
	struct pn_frame *f;

	if (pn_region_alloc(r, 0, 1, &f) != 1) {
		errno = ENOMEM;
		return NULL;
	}
	pn_frame_set_type(f, PN_MT_APP, 0);
	f->memdesc |= PN_MD_APP_MAP;
	pn_frame_thaw(f);
	return f;
}

unsigned pn_region_app_refill(struct pn_region *r, struct pn_frame **out,
			      unsigned n)
{
	unsigned got = pn_ring_dequeue_burst(r->refill, (void **)out, n);

	for (unsigned i = 0; i < got; i++)
		pn_frame_thaw(out[i]);
	return got;
}

static int held_cmp(const void *a, const void *b)
{
	const struct pn_held_group *x = a, *y = b;

	return x->pages < y->pages ? 1 : x->pages > y->pages ? -1
	     : x->holder < y->holder ? -1 : x->holder > y->holder;
}

/* Is frame i out of the free lists, a block head and referenced? */
static bool frame_held(const struct pn_region *r, uint32_t i, int pool_id)
{
	const struct pn_frame *f = &r->frames[i];

	if (pn_frame_type(f) == PN_MT_FREE || (f->memdesc & PN_MD_F_TAIL) ||
	    pn_frame_refcount(f) == 0)
		return false;
	return pool_id < 0 || f->pool_id == pool_id;
}

unsigned pn_region_held_by(const struct pn_region *r, int pool_id,
			   struct pn_held_group *groups, unsigned max, uint32_t *total)
{
	return pn_region_held_by_except(r, pool_id, 0, groups, max, total);
}

unsigned pn_region_held_by_except(const struct pn_region *r, int pool_id, uint32_t unnamed_own,
				  struct pn_held_group *groups, unsigned max, uint32_t *total)
{
	struct pn_region *rr = (struct pn_region *)r;
	struct pn_held_group *all = NULL;
	unsigned n = 0, cap = 0;
	uint32_t sum = 0;

	/* under the lock: late puts release frames (and rewrite their
	 * memdesc) while we look */
	pthread_mutex_lock(&rr->lock);
	for (uint32_t i = 0; i < r->nr_frames; i++) {
		uint32_t h;
		unsigned g;

		if (!frame_held(r, i, pool_id))
			continue;
		sum++;
		h = pn_frame_holder(&r->frames[i]);
		for (g = 0; g < n && all[g].holder != h; g++)
			;
		if (g == n) {
			if (n == cap) {
				struct pn_held_group *m = realloc(all, sizeof(*all) * (cap ? 2 * cap : 16));

				if (m == NULL)
					continue; /* counted in the total, not grouped */
				all = m;
				cap = cap ? 2 * cap : 16;
			}
			all[n++] = (struct pn_held_group){ .holder = h };
		}
		all[g].pages++;
	}
	pthread_mutex_unlock(&rr->lock);
	/* the owner's own pages are among those with no holder said */
	for (unsigned g = 0; g < n; g++) {
		if (all[g].holder != 0)
			continue;
		unnamed_own = PN_MIN(unnamed_own, all[g].pages);
		all[g].pages -= unnamed_own;
		sum -= unnamed_own;
		if (all[g].pages == 0)
			all[g] = all[--n];
		break;
	}
	if (n)
		qsort(all, n, sizeof(*all), held_cmp);
	n = PN_MIN(n, max);
	if (n)
		memcpy(groups, all, sizeof(*all) * n);
	free(all);
	if (total)
		*total = sum;
	return n;
}

unsigned pn_region_dump_held(const struct pn_region *r, int pool_id, FILE *out)
{
	return pn_region_dump_held_except(r, pool_id, 0, out);
}

unsigned pn_region_dump_held_except(const struct pn_region *r, int pool_id,
				    uint32_t unnamed_own, FILE *out)
{
	struct pn_region *rr = (struct pn_region *)r;
	struct pn_held_group groups[PN_DUMP_MAX_LINES];
	unsigned ng, listed = 0;
	uint32_t total = 0, grouped = 0;
	char who[PN_HOLDER_LABEL_MAX + 48];

	ng = pn_region_held_by_except(r, pool_id, unnamed_own, groups, PN_DIM(groups), &total);
	fprintf(out, "  %u pages in flight", total);
	for (unsigned g = 0; g < ng; g++) {
		fprintf(out, "%s %s holds %u", g ? ";" : ":",
			pn_holder_describe(groups[g].holder, who, sizeof(who)), groups[g].pages);
		grouped += groups[g].pages;
	}
	if (grouped < total)
		fprintf(out, "; others hold %u", total - grouped);
	fputc('\n', out);

	pthread_mutex_lock(&rr->lock);
	for (uint32_t i = 0; i < r->nr_frames && listed < PN_DUMP_MAX_LINES; i++) {
		const struct pn_frame *f = &r->frames[i];

		if (!frame_held(r, i, pool_id))
			continue;
		/* which unnamed ones are the owner's cannot be told: skip as many */
		if (pn_frame_holder(f) == 0 && unnamed_own != 0) {
			unnamed_own--;
			continue;
		}
		listed++;
		fprintf(out,
			"  frame %u addr %p type %u pool %u acct %u refcount %u frag_count %u holder %s\n",
			i, (void *)f->addr, pn_frame_type(f), f->pool_id, f->acct_id,
			pn_frame_refcount(f),
			atomic_load_explicit(&((struct pn_frame *)f)->frag_count, memory_order_relaxed),
			pn_holder_describe(pn_frame_holder(f), who, sizeof(who)));
	}
	pthread_mutex_unlock(&rr->lock);
	if (total > listed)
		fprintf(out, "  ... and %u more\n", total - listed);
	return total;
}

bool pn_frame_valid(const struct pn_frame *f)
{
	struct pn_region *r;
	uintptr_t off;

	if (f == NULL)
		return false;
	r = pn_region_by_index(pn_frame_region_index(f));
	if (r == NULL)
		return false;
	off = (uintptr_t)f - (uintptr_t)r->frames;
	return (uintptr_t)f >= (uintptr_t)r->frames &&
	       off < (uintptr_t)r->nr_frames * sizeof(*f) && off % sizeof(*f) == 0;
}

#ifdef PN_DEBUG
/*
 * Fragment identity: two bits per 64-byte slot, interleaved so a slot's
 * "covered" and "starts a fragment" bits change together in one atomic
 * word (a free that clears its fragment's run can then never eat into a
 * fragment being cut next to it). 32 slots per word, 2 words per frame.
 */
#define FRAG_SLOT 64u
#define SLOTS_PER_FRAME (PN_FRAME_SIZE / FRAG_SLOT)
#define COVER(bit) (bit)
#define START(bit) ((bit) << 1)

static _Atomic uint64_t *frag_word(const struct pn_frame *f, uint32_t slot, uint64_t *bit)
{
	struct pn_region *r = pn_frame_region(f);
	size_t idx = (size_t)(f - r->frames) * 2 + slot / 32;

	*bit = UINT64_C(1) << (2 * (slot % 32));
	return &r->frag_bits[idx];
}

void pn_frag_track_cut(struct pn_frame *f, uint32_t off, uint32_t len)
{
	uint32_t first = off / FRAG_SLOT, end = (off + len + FRAG_SLOT - 1) / FRAG_SLOT;
	uint64_t bit, old;
	_Atomic uint64_t *w;

	PN_DEBUG_ASSERT(pn_frame_valid(f), "fragment cut from something that is not a frame");
	for (uint32_t s = first; s < end; s++) {
		w = frag_word(f, s, &bit);
		old = atomic_fetch_or(w, s == first ? COVER(bit) | START(bit) : COVER(bit));
		PN_DEBUG_ASSERT(!(old & COVER(bit)),
				"fragment cut over a live fragment of the same page");
	}
}

/* Clear slot s's cover bit unless it starts another fragment or is not
 * covered. @return whether it was cleared. */
static bool frag_clear_slot(const struct pn_frame *f, uint32_t s)
{
	uint64_t bit, old;
	_Atomic uint64_t *w = frag_word(f, s, &bit);

	old = atomic_load(w);
	do {
		if (!(old & COVER(bit)) || (old & START(bit)))
			return false;
	} while (!atomic_compare_exchange_weak(w, &old, old & ~COVER(bit)));
	return true;
}

void pn_frag_track_free(struct pn_frame *f, const void *addr)
{
	uintptr_t base = (uintptr_t)f->addr;
	uint32_t nslots = SLOTS_PER_FRAME << pn_frame_order(f);
	uint32_t slot, s;
	uint64_t bit, old;
	_Atomic uint64_t *w;

	PN_DEBUG_ASSERT(pn_frame_valid(f), "fragment free of something that is not a frame");
	PN_DEBUG_ASSERT((uintptr_t)addr >= base &&
			(uintptr_t)addr - base < (uintptr_t)nslots * FRAG_SLOT,
			"fragment freed with an address outside its page");
	slot = (uint32_t)(((uintptr_t)addr - base) / FRAG_SLOT);
	w = frag_word(f, slot, &bit);
	PN_DEBUG_ASSERT(atomic_load(w) & COVER(bit),
			"fragment freed twice, or never handed out (no live fragment there)");
	/* the nearest start at or before the slot is this fragment's: every
	 * live fragment has one, and it stays until the fragment is freed */
	for (s = slot; s > 0; s--) {
		w = frag_word(f, s, &bit);
		if (atomic_load(w) & START(bit))
			break;
	}
	/* claim it: of two racing frees of one fragment, one finds it gone */
	w = frag_word(f, s, &bit);
	old = atomic_load(w);
	do {
		PN_DEBUG_ASSERT((old & (COVER(bit) | START(bit))) == (COVER(bit) | START(bit)),
				"fragment freed twice (two frees raced)");
	} while (!atomic_compare_exchange_weak(w, &old, old & ~(COVER(bit) | START(bit))));
	while (++s < nslots && frag_clear_slot(f, s))
		;
}

bool pn_frag_track_idle(const struct pn_frame *f)
{
	uint32_t nframes = 1u << pn_frame_order(f);
	uint64_t bit;

	for (uint32_t i = 0; i < 2 * nframes; i++) {
		if (atomic_load(frag_word(f, i * 32, &bit)) != 0)
			return false;
	}
	return true;
}
#endif
