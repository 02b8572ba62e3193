/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ports' telemetry commands, registered when the first port is opened:
 * /ports and /port,ID (driver, mode, link, MAC, counters per port and per
 * queue).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pn_port_driver.h"
#include "pn_telemetry.h"

void pn_port_tel_init(void);

static int port_add(struct pn_port *p, void *arg)
{
	struct pn_tel_data *d = arg, *x;
	struct pn_port_stats st;
	struct pn_port_link link;
	struct pn_port_info info;
	char mac[18];

	if (d == NULL)
		return -ENOMEM;
	pn_port_info_get(p, &info);
	pn_port_stats_get(p, &st);
	if (pn_port_link_get(p, &link))
		memset(&link, 0, sizeof(link));
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", info.mac[0], info.mac[1],
		 info.mac[2], info.mac[3], info.mac[4], info.mac[5]);
	pn_tel_add_uint(d, "id", info.id);
	pn_tel_add_string(d, "name", info.name);
	pn_tel_add_string(d, "driver", info.driver);
	pn_tel_add_string(d, "mode", info.mode);
	pn_tel_add_int(d, "queues", info.nb_queues);
	pn_tel_add_string(d, "mac", mac);
	pn_tel_add_bool(d, "started", info.started);
	if ((x = pn_tel_add_dict(d, "link")) != NULL) {
		pn_tel_add_bool(x, "up", link.up);
		pn_tel_add_int(x, "speed_mbps", link.speed_mbps);
		pn_tel_add_bool(x, "full_duplex", link.full_duplex);
	}
	if ((x = pn_tel_add_dict(d, "stats")) != NULL) {
		pn_tel_add_uint(x, "ipackets", st.ipackets);
		pn_tel_add_uint(x, "ibytes", st.ibytes);
		pn_tel_add_uint(x, "opackets", st.opackets);
		pn_tel_add_uint(x, "obytes", st.obytes);
		pn_tel_add_uint(x, "idrops", st.idrops);
		pn_tel_add_uint(x, "odrops", st.odrops);
		pn_tel_add_uint(x, "ierrors", st.ierrors);
		pn_tel_add_uint(x, "oerrors", st.oerrors);
		pn_tel_add_uint(x, "rx_nombuf", st.rx_nombuf);
		pn_tel_add_uint(x, "tx_copies", st.tx_copies);
		pn_tel_add_uint(x, "tx_wakeups", st.tx_wakeups);
		pn_tel_add_uint(x, "dev_rx_dropped", st.dev_rx_dropped);
		pn_tel_add_uint(x, "dev_rx_ring_full", st.dev_rx_ring_full);
		pn_tel_add_uint(x, "dev_rx_fill_empty", st.dev_rx_fill_empty);
		pn_tel_add_uint(x, "dev_invalid_descs", st.dev_invalid_descs);
		pn_tel_add_uint(x, "xdp_steered", st.xdp_steered);
		pn_tel_add_uint(x, "xdp_passed", st.xdp_passed);
	}
	if ((x = pn_tel_add_array(d, "queue_stats")) != NULL) {
		for (uint16_t q = 0; q < info.nb_queues; q++) {
			struct pn_tel_data *y = pn_tel_add_dict(x, NULL);
			struct pn_port_stats s;

			if (y == NULL)
				break;
			pn_port_queue_stats_get(p, q, &s);
			pn_tel_add_uint(y, "ipackets", s.ipackets);
			pn_tel_add_uint(y, "opackets", s.opackets);
			pn_tel_add_uint(y, "rx_nombuf", s.rx_nombuf);
			pn_tel_add_uint(y, "odrops", s.odrops);
		}
	}
	return 0;
}

static int port_append(struct pn_port *p, void *arg)
{
	return port_add(p, pn_tel_add_dict(arg, NULL));
}

static int cmd_ports(const char *cmd, const char *params, struct pn_tel_data *d)
{
	(void)cmd, (void)params;
	pn_tel_start_array(d);
	pn_port_foreach(port_append, d);
	return 0;
}

static int cmd_port(const char *cmd, const char *params, struct pn_tel_data *d)
{
	char *end;
	unsigned long id;

	(void)cmd;
	id = params && *params ? strtoul(params, &end, 10) : PN_MAX_PORTS;
	if (id >= PN_MAX_PORTS || *end != '\0') {
		pn_tel_error(d, "want /port,ID");
		return -EINVAL;
	}
	pn_tel_start_dict(d);
	if (pn_port_visit((uint16_t)id, port_add, d) != 0) {
		pn_tel_error(d, "no such port");
		return -ENOENT;
	}
	return 0;
}

static void register_once(void)
{
	pn_telemetry_register("/ports", cmd_ports, "every port: mode, link, MAC, counters");
	pn_telemetry_register("/port", cmd_port, "one port: /port,ID");
}

void pn_port_tel_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, register_once);
}
