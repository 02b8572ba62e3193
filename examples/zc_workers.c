/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A TCP service that receives by zero copy and lets worker threads hold
 * the payload: the polling thread takes each piece with pn_tcp_recv_zc
 * (a pointer into the received page and a token), hands it to a worker
 * over a ring, and the worker checks the bytes where they landed and
 * releases the token, from its own thread, when it is done. The window
 * the peer sees stays closed by what the workers still hold.
 *
 *   zc_workers [MEGABYTES]
 *
 * Client and server are two stacks of this process on the loop driver (no
 * root, no network); with an AF_XDP port the server side is the same code.
 * Built with nothing but pkg-config:
 *
 *   cc zc_workers.c $(pkg-config --cflags --libs libpagenet) -o zc_workers
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime with -std=c11 */

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pn_net.h>
#include <pn_pool.h>
#include <pn_port.h>
#include <pn_ring.h>
#include <pn_tcp.h>

#define WORKERS 2
#define IP_CLIENT 0x0a000001u /* 10.0.0.1 */
#define IP_SERVER 0x0a000002u

struct piece {
	const uint8_t *base;
	uint32_t len;
	uint64_t token;  /* 0: the bytes were copied (the group was full) */
	uint64_t offset; /* in the stream */
	bool copied;     /* base is a copy of ours: free it */
};

struct worker {
	pthread_t thread;
	struct pn_ring *ring; /* pieces, from the polling thread */
	_Atomic uint64_t checked, bad;
};

static struct worker workers[WORKERS];
static _Atomic bool done;

static uint8_t pattern(uint64_t off)
{
	return (uint8_t)(off * 131 + (off >> 12));
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	while (!atomic_load(&done) || pn_ring_count(w->ring) != 0) {
		void *obj;
		struct piece *p;

		if (pn_ring_dequeue(w->ring, &obj) != 0)
			continue;
		p = obj;
		for (uint32_t i = 0; i < p->len; i++)
			if (p->base[i] != pattern(p->offset + i))
				atomic_fetch_add(&w->bad, 1);
		atomic_fetch_add(&w->checked, p->len);
		/* from this thread: the stack learns of it in its next poll */
		if (p->token && pn_tcp_zc_release(NULL, p->token) != 0)
			atomic_fetch_add(&w->bad, 1);
		if (p->copied)
			free((void *)(uintptr_t)p->base);
		free(p);
	}
	return NULL;
}

struct side {
	struct pn_pool *pool;
	struct pn_port *port;
	struct pn_stack *st;
};

static int side_open(struct side *s, uint32_t ip)
{
	struct pn_pool_params pp = { .sz = sizeof(pp), .nr_pages = 8192,
				     .numa_node = PN_NUMA_ANY, .name = "zc" };
	struct pn_port_conf pc = { .sz = sizeof(pc), .nb_queues = 1 };
	struct pn_stack_conf sc = { .sz = sizeof(sc), .ip = ip, .prefix_len = 24 };

	s->pool = pn_pool_create(&pp);
	if (s->pool == NULL)
		return -1;
	pc.pools[0] = s->pool;
	s->port = pn_port_open_str("loop:pair=zc_workers", &pc);
	if (s->port == NULL || pn_port_start(s->port) != 0)
		return -1;
	sc.port = s->port;
	sc.pool = s->pool;
	s->st = pn_stack_create(&sc);
	return s->st ? 0 : -1;
}

static struct pn_tcp_sock *server;
static uint64_t received, copied, next_worker;
static uint8_t copy_buf[65536];

static void server_cb(struct pn_tcp_sock *s, unsigned ev, void *arg)
{
	(void)arg;
	if (!(ev & PN_TCP_EV_READABLE))
		return;
	for (;;) {
		struct pn_zc_vec v[16];
		int n = pn_tcp_recv_zc(s, v, 16, copy_buf, sizeof(copy_buf));

		if (n <= 0)
			return; /* nothing more now (or -ENOBUFS: held pages fill the window) */
		for (int i = 0; i < n; i++) {
			struct piece *p = malloc(sizeof(*p));
			struct worker *w = &workers[next_worker++ % WORKERS];

			*p = (struct piece){ v[i].base, v[i].len, v[i].token, received, false };
			if (v[i].token == 0) { /* in copy_buf, which the next call reuses */
				p->base = memcpy(malloc(v[i].len), v[i].base, v[i].len);
				p->copied = true;
				copied += v[i].len;
			}
			received += v[i].len;
			while (pn_ring_enqueue(w->ring, p) != 0)
				; /* the worker is behind: wait for it */
		}
	}
}

static void listen_cb(struct pn_tcp_sock *l, unsigned ev, void *arg)
{
	(void)ev;
	(void)arg;
	if (server == NULL && (server = pn_tcp_accept(l)) != NULL)
		pn_tcp_set_cb(server, server_cb, NULL);
}

int main(int argc, char **argv)
{
	uint64_t total = (uint64_t)(argc > 1 ? atof(argv[1]) : 32) << 20, sent = 0, checked = 0,
		 bad = 0;
	struct side c, s;
	struct pn_tcp_sock *client, *listener;
	uint8_t chunk[16384];
	time_t deadline = time(NULL) + 60;

	if (side_open(&c, IP_CLIENT) || side_open(&s, IP_SERVER)) {
		perror("side_open");
		return 1;
	}
	for (int i = 0; i < WORKERS; i++) {
		workers[i].ring = pn_ring_create(1024, PN_RING_F_SP_ENQ | PN_RING_F_SC_DEQ);
		if (workers[i].ring == NULL ||
		    pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
			perror("worker");
			return 1;
		}
	}
	listener = pn_tcp_listen(s.st, 7000, 4, listen_cb, NULL);
	client = pn_tcp_connect(c.st, IP_SERVER, 7000, NULL, NULL);
	if (listener == NULL || client == NULL) {
		perror("listen/connect");
		return 1;
	}
	while (checked < total && time(NULL) < deadline) {
		while (sent < total && pn_tcp_state(client) == PN_TCP_ESTABLISHED) {
			size_t n = sizeof(chunk) < total - sent ? sizeof(chunk) : total - sent;
			ssize_t k;

			for (size_t i = 0; i < n; i++)
				chunk[i] = pattern(sent + i);
			k = pn_tcp_send(client, chunk, n);
			if (k <= 0)
				break;
			sent += (uint64_t)k;
		}
		pn_stack_poll(c.st);
		pn_stack_poll(s.st);
		checked = 0;
		for (int i = 0; i < WORKERS; i++)
			checked += atomic_load(&workers[i].checked);
	}
	atomic_store(&done, true);
	for (int i = 0; i < WORKERS; i++) {
		pthread_join(workers[i].thread, NULL);
		bad += atomic_load(&workers[i].bad);
		pn_ring_free(workers[i].ring);
	}
	printf("%llu bytes received (%llu by zero copy), checked in place by %d worker threads, "
	       "%llu bad\n", (unsigned long long)checked, (unsigned long long)(checked - copied),
	       WORKERS, (unsigned long long)bad);
	pn_tcp_close(client);
	pn_tcp_close(server);
	pn_tcp_close(listener);
	for (int i = 0; i < 200; i++) {
		pn_stack_poll(c.st);
		pn_stack_poll(s.st);
	}
	pn_stack_destroy(c.st);
	pn_stack_destroy(s.st);
	pn_port_close(c.port);
	pn_port_close(s.port);
	if (pn_pool_destroy(c.pool) != 0 || pn_pool_destroy(s.pool) != 0) {
		fprintf(stderr, "pages did not come back\n");
		return 1;
	}
	printf("every token released, every page back\n");
	return checked == total && bad == 0 ? 0 : 1;
}
