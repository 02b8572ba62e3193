/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pagenet-fwd's options: from the command line (set_option) or an INI file
 * ([fwd] options, [port NAME] sections). Kept apart from the data path so
 * that the parser can be fuzzed on its own (tests/fuzz/fuzz_fwd_config.c).
 */
#ifndef FWD_CONFIG_H
#define FWD_CONFIG_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <netinet/in.h>

#include "pn_port.h"

#define MAX_BURST 256

enum fwd_mode { MODE_IO, MODE_MAC, MODE_MACSWAP, MODE_RXONLY, MODE_TXONLY };
#define FWD_MODES 5
extern const char *const fwd_mode_names[FWD_MODES];

struct port_cfg {
	char spec[256];
	char impair[256]; /* fault injection over the port ("" = none) */
	uint8_t peer_mac[6];
	bool peer_mac_set;
};

struct cfg {
	enum fwd_mode mode;
	unsigned queues, burst, ring, pages;
	double duration, period;
	bool json, telemetry;
	bool pipeline; /* receive and transmit on two threads per queue */
	unsigned nb_ports;
	struct port_cfg ports[PN_MAX_PORTS];
	int cpus[PN_PORT_MAX_QUEUES];
	unsigned nb_cpus;
	/* txonly */
	unsigned pkt_size, flows;
	double rate; /* packets per second for the whole app; 0 = as fast as possible */
	char acct_path[128]; /* charge received pages here ("" = no accounting) */
	int64_t acct_max;
	struct in_addr src_ip, dst_ip;
	struct in6_addr src_ip6, dst_ip6; /* when set, txonly sends UDP over IPv6 */
	bool src_is6, dst_is6;
	unsigned tx_drain; /* poll rounds a partial tx burst may wait */
	char impair[256]; /* fault injection over every port without its own */
};

/* The options in force; fwd_config_defaults() resets them. */
extern struct cfg cfg;

void fwd_config_defaults(void);

/* One option by name. @return 0, -1 (bad value) or -2 (unknown option). */
int fwd_set_option(const char *key, const char *val);

/* Add a port ("driver:args"). @return 0 or -1 (too many, too long). */
int fwd_add_port(const char *spec);

/*
 * Read an INI file (@p text when not NULL, else the file @p name). Errors
 * are written to @p err as "NAME:LINE: what", one line each.
 * @return 0, or -1.
 */
int fwd_load_config(const char *name, const char *text, FILE *err);

#endif /* FWD_CONFIG_H */
