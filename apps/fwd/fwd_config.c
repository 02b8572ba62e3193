/* SPDX-License-Identifier: BSD-3-Clause */
/* pagenet-fwd's option and config file parser (see fwd_config.h). */
#include <errno.h>
#include <ini.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "fwd_config.h"
#include "pn_impair.h"
#include "pn_acct.h"

const char *const fwd_mode_names[FWD_MODES] = { "io", "mac", "macswap", "rxonly", "txonly" };

struct cfg cfg;

void fwd_config_defaults(void)
{
	cfg = (struct cfg){
		.mode = MODE_IO, .queues = 1, .burst = 32, .period = 1.0, .telemetry = true,
		.pkt_size = 64, .flows = 1, .acct_max = PN_ACCT_UNLIMITED, .tx_drain = 16,
	};
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned m[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++) {
		if (m[i] > 255)
			return -1;
		mac[i] = (uint8_t)m[i];
	}
	return 0;
}

static int parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int parse_double(const char *s, double *out)
{
	char *end;

	*out = strtod(s, &end);
	return (end == s || *end || *out < 0) ? -1 : 0;
}

static int parse_cpus(const char *s)
{
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", s);
	cfg.nb_cpus = 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		unsigned c;

		if (cfg.nb_cpus == PN_PORT_MAX_QUEUES || parse_uint(t, 0, CPU_SETSIZE - 1, &c))
			return -1;
		cfg.cpus[cfg.nb_cpus++] = (int)c;
	}
	return cfg.nb_cpus ? 0 : -1;
}

int fwd_add_port(const char *spec)
{
	if (cfg.nb_ports == PN_MAX_PORTS || strlen(spec) >= sizeof(cfg.ports[0].spec))
		return -1;
	snprintf(cfg.ports[cfg.nb_ports++].spec, sizeof(cfg.ports[0].spec), "%s", spec);
	return 0;
}

/* One option by name, from the command line or the config file. */
/* Check an impairment spec (pn_impair.h) and keep it. @return 0 or -1. */
static int impair_spec_why(const char *val, char *out, size_t outlen, char *why, size_t whylen)
{
	struct pn_impair imp;

	if (strlen(val) >= outlen) {
		snprintf(why, whylen, "longer than %zu characters", outlen - 1);
		return -1;
	}
	if (pn_impair_parse(val, &imp, why, whylen) != 0)
		return -1;
	snprintf(out, outlen, "%s", val);
	return 0;
}

static int impair_spec(const char *val, char *out, size_t outlen)
{
	char why[128];

	return impair_spec_why(val, out, outlen, why, sizeof(why));
}

int fwd_set_option(const char *key, const char *val)
{
	unsigned u;

	if (!strcmp(key, "mode")) {
		for (unsigned m = 0; m < PN_DIM(fwd_mode_names); m++) {
			if (!strcmp(val, fwd_mode_names[m])) {
				cfg.mode = (enum fwd_mode)m;
				return 0;
			}
		}
		return -1;
	}
	if (!strcmp(key, "queues"))
		return parse_uint(val, 1, PN_PORT_MAX_QUEUES, &cfg.queues);
	if (!strcmp(key, "burst"))
		return parse_uint(val, 1, MAX_BURST, &cfg.burst);
	if (!strcmp(key, "ring"))
		return parse_uint(val, 64, 32768, &cfg.ring) || !PN_IS_POW2(cfg.ring);
	if (!strcmp(key, "pages"))
		return parse_uint(val, 64, 1u << 24, &cfg.pages);
	if (!strcmp(key, "duration"))
		return parse_double(val, &cfg.duration);
	if (!strcmp(key, "stats-period") || !strcmp(key, "stats_period"))
		return parse_double(val, &cfg.period) || cfg.period < 0.05;
	if (!strcmp(key, "json"))
		return parse_uint(val, 0, 1, &u) ? -1 : (cfg.json = u, 0);
	if (!strcmp(key, "telemetry"))
		return parse_uint(val, 0, 1, &u) ? -1 : (cfg.telemetry = u, 0);
	if (!strcmp(key, "cpus"))
		return parse_cpus(val);
	if (!strcmp(key, "acct")) {
		/* PATH[:MAX] */
		const char *colon = strchr(val, ':');
		size_t len = colon ? (size_t)(colon - val) : strlen(val);

		if (len == 0 || len >= sizeof(cfg.acct_path))
			return -1;
		memcpy(cfg.acct_path, val, len);
		cfg.acct_path[len] = '\0';
		if (colon) {
			char *end;

			cfg.acct_max = strtoll(colon + 1, &end, 10);
			if (*end || end == colon + 1 || cfg.acct_max < 0)
				return -1;
		}
		return 0;
	}
	if (!strcmp(key, "impair"))
		return impair_spec(val, cfg.impair, sizeof(cfg.impair));
	if (!strcmp(key, "pipeline")) {
		if (strcmp(val, "true") && strcmp(val, "false") && strcmp(val, "1") && strcmp(val, "0"))
			return -1;
		cfg.pipeline = !strcmp(val, "true") || !strcmp(val, "1");
		return 0;
	}
	if (!strcmp(key, "tx-drain") || !strcmp(key, "tx_drain"))
		return parse_uint(val, 1, 1024, &cfg.tx_drain);
	if (!strcmp(key, "pkt-size") || !strcmp(key, "pkt_size"))
		return parse_uint(val, 60, 1514, &cfg.pkt_size);
	if (!strcmp(key, "rate"))
		return parse_double(val, &cfg.rate);
	if (!strcmp(key, "flows"))
		return parse_uint(val, 1, 65535 - 1024, &cfg.flows);
	/* an address of either family; IPv6 makes the generator speak IPv6 */
	if (!strcmp(key, "src-ip") || !strcmp(key, "src_ip")) {
		cfg.src_is6 = strchr(val, ':') != NULL;
		return cfg.src_is6 ? (inet_pton(AF_INET6, val, &cfg.src_ip6) == 1 ? 0 : -1)
				   : (inet_pton(AF_INET, val, &cfg.src_ip) == 1 ? 0 : -1);
	}
	if (!strcmp(key, "dst-ip") || !strcmp(key, "dst_ip")) {
		cfg.dst_is6 = strchr(val, ':') != NULL;
		return cfg.dst_is6 ? (inet_pton(AF_INET6, val, &cfg.dst_ip6) == 1 ? 0 : -1)
				   : (inet_pton(AF_INET, val, &cfg.dst_ip) == 1 ? 0 : -1);
	}
	if (!strcmp(key, "eth-peer")) {
		const char *comma = strchr(val, ',');

		if (comma == NULL || parse_uint(strndupa(val, (size_t)(comma - val)), 0,
						PN_MAX_PORTS - 1, &u))
			return -1;
		cfg.ports[u].peer_mac_set = true;
		return parse_mac(comma + 1, cfg.ports[u].peer_mac);
	}
	return -2;
}

/* config file: [fwd] options, [port NAME] sections with driver/args/peer_mac */
#define FWD_MAX_SECTIONS 64

struct ini_state {
	const char *file;
	FILE *err;
	unsigned said; /* messages the handler wrote */
	char section[64];
	int port;
	/* every section header of the text, found before parsing: inih says
	 * nothing of a section without keys */
	struct {
		char name[64];
		int line;
		bool used;
	} hdr[FWD_MAX_SECTIONS];
	unsigned nr_hdr, at_hdr;
};

/* The section headers of @p text, with their lines. */
static void find_headers(struct ini_state *st, const char *text)
{
	int line = 1;

	for (const char *p = text; *p; line++) {
		const char *eol = strchr(p, '\n'), *q = p, *close;
		size_t n = eol ? (size_t)(eol - p) : strlen(p);

		while (q < p + n && (*q == ' ' || *q == '\t'))
			q++;
		if (q < p + n && *q == '[' && (close = memchr(q, ']', (size_t)(p + n - q))) != NULL &&
		    st->nr_hdr < FWD_MAX_SECTIONS) {
			size_t k = (size_t)(close - q - 1);

			if (k >= sizeof(st->hdr[0].name))
				k = sizeof(st->hdr[0].name) - 1;
			memcpy(st->hdr[st->nr_hdr].name, q + 1, k);
			st->hdr[st->nr_hdr].name[k] = '\0';
			st->hdr[st->nr_hdr++].line = line;
		}
		if (eol == NULL)
			break;
		p = eol + 1;
	}
}

static int config_line(void *user, const char *section, const char *name,
		       const char *value)
{
	struct ini_state *st = user;
	int rc;

	if (strcmp(section, st->section) != 0) {
		snprintf(st->section, sizeof(st->section), "%s", section ? section : "");
		st->port = -1;
		/* the header this key is under: the next one of its name */
		for (unsigned h = st->at_hdr; h < st->nr_hdr; h++) {
			if (!st->hdr[h].used && !strcmp(st->hdr[h].name, section)) {
				st->hdr[h].used = true;
				st->at_hdr = h + 1;
				break;
			}
		}
		if (!strncmp(section, "port", 4)) {
			if (cfg.nb_ports == PN_MAX_PORTS) {
				st->said++, fprintf(st->err, "%s: too many ports (at most %d)\n", st->file,
					PN_MAX_PORTS);
				return 0;
			}
			st->port = (int)cfg.nb_ports++;
		}
	}
	if (!strcmp(section, "fwd")) {
		rc = fwd_set_option(name, value);
		if (rc == -2)
			st->said++, fprintf(st->err, "%s: unknown option '%s' in [fwd]\n", st->file, name);
		else if (rc)
			st->said++, fprintf(st->err, "%s: bad value '%s' for %s\n", st->file, value, name);
		return rc == 0;
	}
	if (st->port >= 0) {
		struct port_cfg *pc = &cfg.ports[st->port];

		if (!strcmp(name, "spec") || !strcmp(name, "port")) {
			snprintf(pc->spec, sizeof(pc->spec), "%s", value);
			return 1;
		}
		if (!strcmp(name, "driver") || !strcmp(name, "args")) {
			/* driver first, then args: build driver:args */
			char tmp[sizeof(pc->spec)];
			const char *colon = strchr(pc->spec, ':');

			if (!strcmp(name, "driver"))
				snprintf(tmp, sizeof(tmp), "%s%s", value, colon ? colon : "");
			else
				snprintf(tmp, sizeof(tmp), "%.*s:%s",
					 (int)strcspn(pc->spec, ":"), pc->spec, value);
			memcpy(pc->spec, tmp, sizeof(tmp));
			return 1;
		}
		if (!strcmp(name, "impair")) {
			char why[128];

			if (impair_spec_why(value, pc->impair, sizeof(pc->impair), why, sizeof(why)) == 0)
				return 1;
			st->said++, fprintf(st->err, "%s: impair: %s\n", st->file, why);
			return 0;
		}
		if (!strcmp(name, "peer_mac")) {
			pc->peer_mac_set = true;
			if (parse_mac(value, pc->peer_mac) == 0)
				return 1;
			st->said++, fprintf(st->err, "%s: peer_mac '%s' is not a MAC address\n", st->file, value);
			return 0;
		}
		st->said++, fprintf(st->err, "%s: unknown key '%s' in [%s] (want driver, args, peer_mac, impair)\n",
			st->file, name, section);
		return 0;
	}
	st->said++, fprintf(st->err, "%s: unknown section [%s] (want [fwd] or [port NAME])\n", st->file,
		section);
	return 0;
}

/* The whole file, NUL-terminated (NULL: errno says why). */
static char *read_file(const char *name)
{
	FILE *f = fopen(name, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (f == NULL)
		return NULL;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap = (cap ? 2 * cap : 8192));

			if (nb == NULL) {
				free(buf);
				fclose(f);
				errno = ENOMEM;
				return NULL;
			}
			buf = nb;
		}
		size_t k = fread(buf + len, 1, cap - len - 1, f);

		len += k;
		if (k == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		fclose(f);
		errno = EIO;
		return NULL;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

static int load_text(const char *name, const char *text, FILE *err);

int fwd_load_config(const char *name, const char *text, FILE *err)
{
	char *own = NULL;
	int rc;

	if (text == NULL && (text = own = read_file(name)) == NULL) {
		fprintf(err, "%s: cannot read it: %s\n", name, strerror(errno));
		return -1;
	}
	rc = load_text(name, text, err);
	free(own);
	return rc;
}

static int load_text(const char *name, const char *text, FILE *err)
{
	static struct ini_state st;
	unsigned first_port = cfg.nb_ports;
	int rc;

	memset(&st, 0, sizeof(st));
	st.file = name;
	st.err = err;
	st.port = -1;
	find_headers(&st, text);
	rc = ini_parse_string(text, config_line, &st);
	if (rc < 0) {
		fprintf(err, "%s: cannot read it: out of memory\n", name);
		return -1;
	}
	if (rc > 0) {
		if (st.said)
			fprintf(err, "%s:%d: the first error is on this line (see above)\n", name, rc);
		else /* inih refused the line itself */
			fprintf(err, "%s:%d: not an INI line (want [section], key = value or ; comment)\n",
				name, rc);
		return -1;
	}
	/* a port section without keys would vanish and the ports after it
	 * move up a number: refused, by its line */
	for (unsigned h = 0; h < st.nr_hdr; h++) {
		if (!st.hdr[h].used && !strncmp(st.hdr[h].name, "port", 4)) {
			fprintf(err, "%s:%d: [%s] is empty (want driver = ..., args = ...)\n", name,
				st.hdr[h].line, st.hdr[h].name);
			return -1;
		}
	}
	for (unsigned p = 0; p < cfg.nb_ports; p++) {
		if (cfg.ports[p].spec[0] == '\0' || cfg.ports[p].spec[0] == ':') {
			fprintf(err, "%s: port %u has no driver\n", name, p);
			return -1;
		}
	}
	/* ports forward in pairs (0 and 1, 2 and 3): in io, mac and macswap
	 * modes, and txonly, whose traffic the paired port receives, a port
	 * the file leaves without a partner has nowhere to go */
	if (cfg.nb_ports > first_port && cfg.nb_ports % 2 == 1 && cfg.mode != MODE_RXONLY) {
		int line = 0;

		for (unsigned h = 0; h < st.nr_hdr; h++)
			if (!strncmp(st.hdr[h].name, "port", 4))
				line = st.hdr[h].line;
		fprintf(err,
			"%s:%d: port %u has no partner: in %s mode ports forward in pairs "
			"(0 and 1, 2 and 3); add one, or use mode = rxonly\n",
			name, line, cfg.nb_ports - 1, fwd_mode_names[cfg.mode]);
		return -1;
	}
	return 0;
}
