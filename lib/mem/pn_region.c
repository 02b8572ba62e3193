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
	       "the descriptor is 32 bytes: two per cache line (DESIGN §1)");
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

unsigned pn_region_dump_held(const struct pn_region *r, int pool_id, FILE *out)
{
	struct pn_region *rr = (struct pn_region *)r;
	unsigned n = 0;

	/* under the lock: late puts release frames (and rewrite their
	 * memdesc) while we look */
	pthread_mutex_lock(&rr->lock);

	for (uint32_t i = 0; i < r->nr_frames; i++) {
		const struct pn_frame *f = &r->frames[i];
		uint32_t ref = pn_frame_refcount(f);

		if (pn_frame_type(f) == PN_MT_FREE || (f->memdesc & PN_MD_F_TAIL) ||
		    ref == 0)
			continue;
		if (pool_id >= 0 && f->pool_id != pool_id)
			continue;
		if (++n > PN_DUMP_MAX_LINES)
			continue;
		fprintf(out,
			"  frame %u addr %p type %u pool %u acct %u refcount %u frag_count %u\n",
			i, (void *)f->addr, pn_frame_type(f), f->pool_id, f->acct_id,
			ref, atomic_load_explicit(&((struct pn_frame *)f)->frag_count,
						  memory_order_relaxed));
	}
	pthread_mutex_unlock(&rr->lock);
	if (n > PN_DUMP_MAX_LINES)
		fprintf(out, "  ... and %u more\n", n - PN_DUMP_MAX_LINES);
	return n;
}
