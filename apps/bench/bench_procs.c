/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Rows measured in several fresh processes. Where a process's memory lands
 * (ASLR: stacks, heap, the library's mappings) moves the fast paths by up
 * to 2x for the whole life of that process, and a median of rounds inside
 * one process cannot see it. So pagenet-bench runs itself again N times
 * (each child prints its rows as JSON), and reports per row the median
 * across processes, the min-max spread of the per-process ratios, and
 * every process's figures in the JSON.
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "bench.h"

#define MAX_ROWS 32

extern char **environ;

struct proc_row {
	char name[64], anchor[96], unit[16];
	unsigned n;
	double ours[MAX_PROCS], theirs[MAX_PROCS], ratio[MAX_PROCS];
};

static struct proc_row rows[MAX_ROWS];
static unsigned nrows;
static pid_t child = -1;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_median(const double *v, unsigned n)
{
	double s[64];

	if (n == 0 || n > 64)
		return 0;
	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static struct proc_row *row_of(const char *name)
{
	for (unsigned i = 0; i < nrows; i++)
		if (strcmp(rows[i].name, name) == 0)
			return &rows[i];
	if (nrows == MAX_ROWS)
		return NULL;
	snprintf(rows[nrows].name, sizeof(rows[0].name), "%s", name);
	return &rows[nrows++];
}

/* One child's JSON line. @return false when it is not a row. */
static bool take_line(const char *line, unsigned proc)
{
	json_t *j = json_loads(line, 0, NULL);
	const char *name = json_string_value(json_object_get(j, "name"));
	json_t *ours = json_object_get(j, "ours_ns"), *theirs = json_object_get(j, "anchor_ns");
	struct proc_row *r;

	if (name == NULL || !json_is_number(ours) || !json_is_number(theirs) ||
	    (r = row_of(name)) == NULL || r->n != proc) {
		json_decref(j);
		return false;
	}
	snprintf(r->anchor, sizeof(r->anchor), "%s",
		 json_string_value(json_object_get(j, "anchor")) ?: "");
	snprintf(r->unit, sizeof(r->unit), "%s",
		 json_string_value(json_object_get(j, "unit")) ?: "");
	r->ours[r->n] = json_number_value(ours);
	r->theirs[r->n] = json_number_value(theirs);
	r->ratio[r->n] = r->ours[r->n] / r->theirs[r->n];
	r->n++;
	json_decref(j);
	return true;
}

/* Run the child @argv to the end, feeding its rows in. @return its status. */
static int run_child(char **argv, unsigned proc)
{
	posix_spawn_file_actions_t fa;
	int fds[2], status = 0;
	char line[4096];
	FILE *in;

	if (pipe(fds) != 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	posix_spawn_file_actions_addclose(&fa, fds[1]);
	errno = posix_spawn(&child, "/proc/self/exe", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	if (errno != 0) {
		perror("pagenet-bench: cannot run itself again");
		close(fds[0]);
		return -1;
	}
	in = fdopen(fds[0], "r");
	for (bool told = false;;) {
		if (bench_stopped() && !told) {
			/* a signal or a closed pipe here: the child finishes its
			 * round, gives its pages back and prints what it has */
			kill(child, SIGTERM);
			told = true;
		}
		if (fgets(line, sizeof(line), in) != NULL) {
			if (!take_line(line, proc))
				fputs(line, stderr); /* a child's note, not a row */
		} else if (ferror(in) && errno == EINTR) {
			clearerr(in);
		} else {
			break;
		}
	}
	fclose(in);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	child = -1;
	return status;
}

static bool incomplete(unsigned procs)
{
	for (unsigned i = 0; i < nrows; i++)
		if (rows[i].n < procs)
			return true;
	return false;
}

static void print_rows(unsigned procs)
{
	for (unsigned i = 0; i < nrows; i++) {
		struct proc_row *r = &rows[i];
		double lo = r->ratio[0], hi = r->ratio[0];

		for (unsigned p = 1; p < r->n; p++) {
			lo = r->ratio[p] < lo ? r->ratio[p] : lo;
			hi = r->ratio[p] > hi ? r->ratio[p] : hi;
		}
		if (!opt.json) {
			printf("%-28s ours %8.2f ns   %-34s %8.2f ns   ratio %.3f (%.3f-%.3f, %u procs)\n",
			       r->name, bench_median(r->ours, r->n), r->anchor,
			       bench_median(r->theirs, r->n), bench_median(r->ratio, r->n), lo, hi,
			       r->n);
		} else {
			printf("{\"name\":\"%s\",\"ours_ns\":%.3f,\"anchor\":\"%s\",\"anchor_ns\":%.3f,"
			       "\"ratio\":%.3f,\"ratio_min\":%.3f,\"ratio_max\":%.3f,\"unit\":\"%s\","
			       "\"procs\":%u,\"per_process\":[",
			       r->name, bench_median(r->ours, r->n), r->anchor,
			       bench_median(r->theirs, r->n), bench_median(r->ratio, r->n), lo, hi,
			       r->unit, r->n);
			for (unsigned p = 0; p < r->n; p++)
				printf("%s{\"ours_ns\":%.3f,\"anchor_ns\":%.3f,\"ratio\":%.3f}",
				       p ? "," : "", r->ours[p], r->theirs[p], r->ratio[p]);
			printf("]}\n");
		}
		bench_flush();
	}
	if (!opt.json && incomplete(procs))
		printf("(rows with fewer than %u processes: the run was stopped)\n", procs);
}

int bench_in_processes(int argc, char **argv, unsigned procs)
{
	char **av = calloc((size_t)argc + 3, sizeof(*av));
	int rc = 0;

	if (av == NULL)
		return 1;
	/* the same command line, as one child that prints JSON rows */
	for (int i = 0; i < argc; i++)
		av[i] = argv[i];
	av[argc] = "--child";
	av[argc + 1] = NULL;
	if (!opt.json)
		printf("pagenet-bench %s: %u fresh processes x %u rounds x %llu ops; median "
		       "across processes, ratio spread min-max\n",
		       argv[1], procs, opt.rounds, (unsigned long long)opt.iters);
	bench_flush();
	for (unsigned p = 0; p < procs && !bench_stopped(); p++) {
		int st = run_child(av, p);

		if (st != 0 && !bench_stopped()) {
			fprintf(stderr, "pagenet-bench: process %u of %u failed (status %#x)\n",
				p + 1, procs, (unsigned)st);
			rc = 1;
			break;
		}
	}
	free(av);
	print_rows(procs);
	if (bench_stopped() && rc == 0 && !opt.json)
		printf("interrupted: remaining rows skipped, every page back in its pool\n");
	return rc;
}
