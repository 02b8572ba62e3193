/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * hugetlb-backed regions. Changes vm.nr_hugepages for its duration, so meson
 * runs it alone (is_parallel: false).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <unistd.h>

#include "pn_mem.h"

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static int write_long(const char *path, long v)
{
	FILE *f = fopen(path, "w");
	int rc;

	if (!f)
		return -1;
	rc = fprintf(f, "%ld\n", v) < 0 ? -1 : 0;
	return fclose(f) == 0 ? rc : -1;
}

/*
 * hugetlb backing, for real: as root, reserve two 2 MiB pages for the
 * duration of the test (restored after), create a region that requires them,
 * and check the kernel counts them as used.
 */
Test(hugepage, region_uses_hugetlb_pages_when_available)
{
	const char *nr = "/proc/sys/vm/nr_hugepages";
	const char *fr = "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages";
	long before = read_long(nr), free0;
	struct pn_region_params rp = { .len = 4u << 20, .numa_node = PN_NUMA_ANY,
				       .flags = PN_REGION_F_HUGEPAGE, .name = "huge" };
	struct pn_region *r;
	struct pn_region_info ri;

	if (before < 0)
		cr_skip_test("no hugetlb support in this kernel");
	if (read_long(fr) < 2) {
		if (geteuid() != 0)
			cr_skip_test("no free 2 MiB hugepages and not root to reserve them");
		/* compact first, so two contiguous 2 MiB blocks can be found */
		write_long("/proc/sys/vm/compact_memory", 1);
		if (write_long(nr, before + 2) != 0 || read_long(fr) < 2) {
			write_long(nr, before);
			cr_skip_test("the kernel could not reserve 2 hugepages (memory fragmented)");
		}
	}
	free0 = read_long(fr);
	r = pn_region_create(&rp);
	if (r == NULL) {
		write_long(nr, before);
		cr_assert_fail("PN_REGION_F_HUGEPAGE failed with %ld free hugepages", free0);
	}
	pn_region_info(r, &ri);
	cr_expect_eq(ri.backing, PN_REGION_HUGETLB);
	cr_expect_eq(read_long(fr), free0 - 2, "the region holds two huge pages");
	cr_expect_eq((uintptr_t)ri.base % (2u << 20), 0);
	cr_expect_eq(pn_region_destroy(r), 0);
	cr_expect_eq(read_long(fr), free0);
	write_long(nr, before);
}

