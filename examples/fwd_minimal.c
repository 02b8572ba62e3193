/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The smallest forwarder: two ports, one pool, packets moved from each to
 * the other in bursts for a few seconds, every page back at the end.
 *
 *   fwd_minimal [SECONDS [PORT_A PORT_B]]
 *
 * Ports are driver specs: "loop:pair=x" twice (the default: two ports of
 * this process wired to each other, no root needed; a packet is put on A
 * to start the traffic) or "af_xdp:iface=veth1" and "af_xdp:iface=veth2"
 * (root). Built with nothing but pkg-config:
 *
 *   cc fwd_minimal.c $(pkg-config --cflags --libs libpagenet) -o fwd_minimal
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime with -std=c11 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pn_pkt.h>
#include <pn_pool.h>
#include <pn_port.h>

#define BURST 32

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Move one burst from @in to @out; what @out does not take is freed. */
static unsigned forward(struct pn_port *in, struct pn_port *out)
{
	struct pn_pkt *pkts[BURST];
	uint16_t n = pn_port_rx_burst(in, 0, pkts, BURST);
	uint16_t sent = pn_port_tx_burst(out, 0, pkts, n);

	for (uint16_t i = sent; i < n; i++)
		pn_pkt_free(pkts[i]);
	return sent;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 2.0;
	const char *spec_a = argc > 3 ? argv[2] : "loop:pair=example";
	const char *spec_b = argc > 3 ? argv[3] : "loop:pair=example";
	struct pn_pool_params pp = { .sz = sizeof(pp), .nr_pages = 4096,
				     .numa_node = PN_NUMA_ANY, .name = "fwd" };
	struct pn_port_conf pc = { .sz = sizeof(pc), .nb_queues = 1 };
	struct pn_port *a, *b;
	struct pn_pool *pool;
	unsigned long long moved = 0;
	double end;

	pool = pn_pool_create(&pp);
	if (pool == NULL) {
		perror("pn_pool_create");
		return 1;
	}
	pc.pools[0] = pool;
	a = pn_port_open_str(spec_a, &pc);
	b = pn_port_open_str(spec_b, &pc);
	if (a == NULL || b == NULL || pn_port_start(a) || pn_port_start(b)) {
		fprintf(stderr, "cannot open and start %s and %s\n", spec_a, spec_b);
		return 1;
	}
	if (strncmp(spec_a, "loop:", 5) == 0) {
		/* a few frames to bounce between the two loop ports */
		for (int i = 0; i < 64; i++) {
			struct pn_pkt *p = pn_pkt_alloc(pool);

			if (p == NULL)
				break;
			memset(pn_pkt_append(p, 60), i, 60);
			if (pn_port_tx_burst(a, 0, &p, 1) != 1)
				pn_pkt_free(p);
		}
	}
	end = now_s() + seconds;
	while (now_s() < end)
		moved += forward(a, b) + forward(b, a);
	pn_port_close(a); /* every buffer the ports hold goes back */
	pn_port_close(b);
	printf("forwarded %llu packets in %.1f s\n", moved, seconds);
	if (pn_pool_destroy(pool) != 0) {
		fprintf(stderr, "pages did not come back\n");
		return 1;
	}
	printf("every page came back\n");
	return moved > 0 ? 0 : 1;
}
