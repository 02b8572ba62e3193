/* SPDX-License-Identifier: BSD-3-Clause */
/* Telemetry server: one thread, poll() over the listening socket and clients. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "pn_port.h"
#include "pn_log.h"
#include "pn_telemetry.h"

#define TEL_MAX_CMDS 64
#define TEL_MAX_CLIENTS 16
#define TEL_LINE_MAX 1024

struct tel_cmd {
	char name[64];
	pn_telemetry_cb cb;
	const char *help;
};

static pthread_mutex_t tel_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tel_cmd cmds[TEL_MAX_CMDS];
static unsigned nb_cmds;

static struct {
	bool running;
	bool allow_writes;
	int listen_fd;
	int wake_fd;
	pthread_t thread;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char app[32];
	struct timespec t0;
} tel = { .listen_fd = -1, .wake_fd = -1 };

int pn_telemetry_register(const char *cmd, pn_telemetry_cb cb, const char *help)
{
	int rc = 0;

	if (cmd == NULL || cmd[0] != '/' || strlen(cmd) >= sizeof(cmds[0].name) ||
	    strchr(cmd, ',') != NULL || cb == NULL)
		return -EINVAL;
	pthread_mutex_lock(&tel_lock);
	for (unsigned i = 0; i < nb_cmds; i++)
		if (strcmp(cmds[i].name, cmd) == 0)
			rc = -EEXIST;
	if (rc == 0 && nb_cmds == TEL_MAX_CMDS)
		rc = -ENOSPC;
	if (rc == 0) {
		snprintf(cmds[nb_cmds].name, sizeof(cmds[0].name), "%s", cmd);
		cmds[nb_cmds].cb = cb;
		cmds[nb_cmds].help = help ? help : "";
		nb_cmds++;
	}
	pthread_mutex_unlock(&tel_lock);
	return rc;
}

/* built-in commands */

static json_t *pool_stats_json(const struct pn_pool_stats_sum *s)
{
	return json_pack("{sI sI sI sI sI sI sI sI sI sI sI}",
		"alloc_fast", (json_int_t)s->alloc_fast,
		"alloc_slow", (json_int_t)s->alloc_slow,
		"alloc_slow_high_order", (json_int_t)s->alloc_slow_high_order,
		"alloc_empty", (json_int_t)s->alloc_empty,
		"alloc_refill", (json_int_t)s->alloc_refill,
		"alloc_waive", (json_int_t)s->alloc_waive,
		"recycle_cached", (json_int_t)s->recycle_cached,
		"recycle_cache_full", (json_int_t)s->recycle_cache_full,
		"recycle_ring", (json_int_t)s->recycle_ring,
		"recycle_ring_full", (json_int_t)s->recycle_ring_full,
		"recycle_released_refcnt", (json_int_t)s->recycle_released_refcnt);
}

/* Who holds the pool's pages in flight, grouped: [{"holder", "pages"}]. */
static json_t *holders_json(struct pn_pool *p, int64_t inflight)
{
	struct pn_held_group g[8];
	char who[PN_HOLDER_LABEL_MAX + 48];
	json_t *arr = json_array();
	uint32_t total = 0, named = 0;
	unsigned n;

	if (inflight <= 0)
		return arr;
	n = pn_pool_held_by(p, g, PN_DIM(g), &total);
	for (unsigned i = 0; i < n; i++) {
		json_array_append_new(arr, json_pack("{ss sI}", "holder",
			pn_holder_describe(g[i].holder, who, sizeof(who)),
			"pages", (json_int_t)g[i].pages));
		named += g[i].pages;
	}
	if (named < total)
		json_array_append_new(arr, json_pack("{ss sI}", "holder", "others",
						     "pages", (json_int_t)(total - named)));
	return arr;
}

static json_t *pool_json(struct pn_pool *p)
{
	struct pn_pool_stats_sum s;
	struct pn_pool_info info;

	pn_pool_info(p, &info);
	pn_pool_get_stats(p, &s);
	return json_pack("{sI ss si si si sI sI sI sI sI sb so sf so}",
		"id", (json_int_t)info.id,
		"name", info.name,
		"owner_thread", info.owner_thread,
		"numa_node", info.numa_node,
		"order", (int)info.order,
		"cache_count", (json_int_t)info.cache_count,
		"ring_count", (json_int_t)info.ring_count,
		"held", (json_int_t)info.held,
		"quarantine_count", (json_int_t)info.quarantine_count,
		"inflight", (json_int_t)info.inflight,
		"dying", info.dying,
		"stats", pool_stats_json(&s),
		"recycle_rate", pn_pool_recycle_rate(&s),
		"holders", holders_json(p, info.inflight));
}

static json_t *port_json(struct pn_port *p)
{
	struct pn_port_stats st;
	struct pn_port_link link;
	struct pn_port_info info;
	json_t *j, *qs;
	char mac[18];

	pn_port_info_get(p, &info);
	pn_port_stats_get(p, &st);
	if (pn_port_link_get(p, &link))
		memset(&link, 0, sizeof(link));
	qs = json_array();
	for (uint16_t q = 0; q < info.nb_queues; q++) {
		struct pn_port_stats s;

		pn_port_queue_stats_get(p, q, &s);
		json_array_append_new(qs, json_pack("{sI sI sI sI}",
			"ipackets", (json_int_t)s.ipackets, "opackets", (json_int_t)s.opackets,
			"rx_nombuf", (json_int_t)s.rx_nombuf, "odrops", (json_int_t)s.odrops));
	}
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", info.mac[0],
		 info.mac[1], info.mac[2], info.mac[3], info.mac[4], info.mac[5]);
	j = json_pack("{sI ss ss ss si ss sb s{sb si sb} s{sI sI sI sI sI sI sI sI sI sI sI sI sI sI sI sI}}",
		"id", (json_int_t)info.id,
		"name", info.name,
		"driver", info.driver,
		"mode", info.mode,
		"queues", (int)info.nb_queues,
		"mac", mac,
		"started", info.started,
		"link", "up", link.up, "speed_mbps", (int)link.speed_mbps,
			"full_duplex", link.full_duplex,
		"stats",
		"ipackets", (json_int_t)st.ipackets,
		"ibytes", (json_int_t)st.ibytes,
		"opackets", (json_int_t)st.opackets,
		"obytes", (json_int_t)st.obytes,
		"idrops", (json_int_t)st.idrops,
		"odrops", (json_int_t)st.odrops,
		"ierrors", (json_int_t)st.ierrors,
		"oerrors", (json_int_t)st.oerrors,
		"rx_nombuf", (json_int_t)st.rx_nombuf,
		"tx_copies", (json_int_t)st.tx_copies,
		"tx_wakeups", (json_int_t)st.tx_wakeups,
		"dev_rx_dropped", (json_int_t)st.dev_rx_dropped,
		"dev_rx_fill_empty", (json_int_t)st.dev_rx_fill_empty,
		"dev_invalid_descs", (json_int_t)st.dev_invalid_descs,
		"xdp_steered", (json_int_t)st.xdp_steered,
		"xdp_passed", (json_int_t)st.xdp_passed);
	json_object_set_new(j, "queue_stats", qs);
	return j;
}

static bool parse_id(const char *params, unsigned max, unsigned *id)
{
	char *end;
	unsigned long v;

	if (params == NULL || *params == '\0')
		return false;
	v = strtoul(params, &end, 10);
	if (*end != '\0' || v >= max)
		return false;
	*id = (unsigned)v;
	return true;
}

/* Readers go through foreach/visit: a pool freed or a port closed by another
 * thread is out of its table before it goes, and never read after. */
static int pool_one(struct pn_pool *p, void *arg)
{
	*(json_t **)arg = pool_json(p);
	return 0;
}

static int port_one(struct pn_port *p, void *arg)
{
	*(json_t **)arg = port_json(p);
	return 0;
}

json_t *pn_telemetry_pool_json(uint16_t pool_id)
{
	json_t *j = NULL;

	pn_pool_visit(pool_id, pool_one, &j);
	return j;
}

json_t *pn_telemetry_port_json(uint16_t port_id)
{
	json_t *j = NULL;

	pn_port_visit(port_id, port_one, &j);
	return j;
}

static int pool_append(struct pn_pool *p, void *arg)
{
	json_array_append_new(arg, pool_json(p));
	return 0;
}

static int port_append(struct pn_port *p, void *arg)
{
	json_array_append_new(arg, port_json(p));
	return 0;
}

static json_t *cmd_pools(const char *cmd, const char *params, const char **err)
{
	json_t *arr = json_array();

	(void)cmd, (void)params, (void)err;
	pn_pool_foreach(pool_append, arr);
	return arr;
}

static json_t *cmd_pool(const char *cmd, const char *params, const char **err)
{
	unsigned id;
	json_t *j;

	(void)cmd;
	if (!parse_id(params, PN_MAX_POOLS, &id)) {
		*err = "want /pool,ID";
		return NULL;
	}
	j = pn_telemetry_pool_json((uint16_t)id);
	if (j == NULL)
		*err = "no such pool";
	return j;
}

static json_t *cmd_ports(const char *cmd, const char *params, const char **err)
{
	json_t *arr = json_array();

	(void)cmd, (void)params, (void)err;
	pn_port_foreach(port_append, arr);
	return arr;
}

static json_t *cmd_port(const char *cmd, const char *params, const char **err)
{
	unsigned id;
	json_t *j;

	(void)cmd;
	if (!parse_id(params, PN_MAX_PORTS, &id)) {
		*err = "want /port,ID";
		return NULL;
	}
	j = pn_telemetry_port_json((uint16_t)id);
	if (j == NULL)
		*err = "no such port";
	return j;
}

static json_t *cmd_info(const char *cmd, const char *params, const char **err)
{
	struct timespec t;

	(void)cmd, (void)params, (void)err;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return json_pack("{ss si ss sf sb}",
		"app", tel.app, "pid", (int)getpid(), "version", PN_VERSION,
		"uptime_s", (double)(t.tv_sec - tel.t0.tv_sec) +
			(double)(t.tv_nsec - tel.t0.tv_nsec) * 1e-9,
		"writes_allowed", tel.allow_writes);
}

static json_t *cmd_list(const char *cmd, const char *params, const char **err)
{
	json_t *arr = json_array();

	(void)cmd, (void)params, (void)err;
	pthread_mutex_lock(&tel_lock);
	for (unsigned i = 0; i < nb_cmds; i++)
		json_array_append_new(arr, json_string(cmds[i].name));
	pthread_mutex_unlock(&tel_lock);
	return arr;
}

static json_t *cmd_help(const char *cmd, const char *params, const char **err)
{
	json_t *j = NULL;

	(void)cmd;
	pthread_mutex_lock(&tel_lock);
	for (unsigned i = 0; params != NULL && i < nb_cmds; i++)
		if (strcmp(cmds[i].name, params) == 0)
			j = json_string(cmds[i].help);
	pthread_mutex_unlock(&tel_lock);
	if (j == NULL)
		*err = "want /help,/command with a known command";
	return j;
}

/* accounting groups, with cgroup v2's file names */

json_t *pn_telemetry_group_json(const struct pn_acct_group *g)
{
	struct pn_acct_events ev;
	struct pn_acct_stat st;
	char path[256];
	int64_t max = pn_acct_max(g);

	pn_acct_path(g, path, sizeof(path));
	pn_acct_events(g, &ev);
	pn_acct_stat(g, &st);
	return json_pack("{ss si sI so sI s{sI sI} s{sI sI sI sI}}",
		"path", path,
		"id", (int)pn_acct_id(g),
		"memory.current", (json_int_t)pn_acct_current(g),
		"memory.max", max == PN_ACCT_UNLIMITED ? json_string("max") :
			json_integer((json_int_t)max),
		"memory.peak", (json_int_t)pn_acct_peak(g),
		"memory.events", "max", (json_int_t)ev.max, "fail", (json_int_t)ev.fail,
		"memory.stat", "zc_pages", (json_int_t)st.zc_pages,
			"queued_pages", (json_int_t)st.queued_pages,
			"other_pages", (json_int_t)st.other_pages,
			"copied_bytes", (json_int_t)st.copied_bytes);
}

/* Group records are built under the accounting tree lock: a group cannot
 * be destroyed while we read it. */
static int group_append(struct pn_acct_group *g, void *arg)
{
	json_array_append_new(arg, pn_telemetry_group_json(g));
	return 0;
}

static json_t *cmd_groups(const char *cmd, const char *params, const char **err)
{
	json_t *arr = json_array();

	(void)cmd, (void)params, (void)err;
	pn_acct_foreach(group_append, arr);
	return arr;
}

static int group_one(struct pn_acct_group *g, void *arg)
{
	*(json_t **)arg = pn_telemetry_group_json(g);
	return 0;
}

static json_t *cmd_group(const char *cmd, const char *params, const char **err)
{
	json_t *j = NULL;

	(void)cmd;
	if (params == NULL || pn_acct_visit(params, group_one, &j) != 0) {
		*err = "want /acct/group,PATH with an existing group (e.g. /acct/group,svc/a)";
		return NULL;
	}
	return j;
}

struct set_max {
	int64_t max;
	json_t *out;
};

static int group_set_max(struct pn_acct_group *g, void *arg)
{
	struct set_max *sm = arg;

	if (g == pn_acct_root())
		return -EINVAL;
	pn_acct_set_max(g, sm->max);
	sm->out = pn_telemetry_group_json(g);
	return 0;
}

/* /set/acct/max,PATH,PAGES|max */
static json_t *cmd_set_max(const char *cmd, const char *params, const char **err)
{
	char path[256];
	const char *comma = params ? strrchr(params, ',') : NULL;
	struct set_max sm = { 0 };
	char *end;

	(void)cmd;
	if (comma == NULL || (size_t)(comma - params) >= sizeof(path)) {
		*err = "want /set/acct/max,PATH,PAGES (or max)";
		return NULL;
	}
	memcpy(path, params, (size_t)(comma - params));
	path[comma - params] = '\0';
	if (strcmp(comma + 1, "max") == 0) {
		sm.max = PN_ACCT_UNLIMITED;
	} else {
		sm.max = strtoll(comma + 1, &end, 10);
		if (*end != '\0' || end == comma + 1 || sm.max < 0) {
			*err = "the max is a page count or \"max\"";
			return NULL;
		}
	}
	if (pn_acct_visit(path, group_set_max, &sm) != 0) {
		*err = "no such group (the root has no max)";
		return NULL;
	}
	return sm.out;
}

__attribute__((constructor)) static void tel_builtins(void)
{
	pn_telemetry_register("/acct/groups", cmd_groups,
			      "every accounting group: memory.current, .max, .peak, .events, .stat");
	pn_telemetry_register("/acct/group", cmd_group, "one group: /acct/group,PATH");
	pn_telemetry_register("/set/acct/max", cmd_set_max,
			      "set a group's max: /set/acct/max,PATH,PAGES or ,max (if the process allows writes)");
	pn_telemetry_register("/", cmd_list, "the commands this process answers");
	pn_telemetry_register("/help", cmd_help, "help for a command: /help,/pools");
	pn_telemetry_register("/info", cmd_info, "application, pid, version, uptime");
	pn_telemetry_register("/pools", cmd_pools, "every page pool: occupancy, kernel-named counters, recycle rate");
	pn_telemetry_register("/pool", cmd_pool, "one pool: /pool,ID");
	pn_telemetry_register("/ports", cmd_ports, "every port: mode, link, MAC, counters");
	pn_telemetry_register("/port", cmd_port, "one port: /port,ID");
}

/* server */

char *pn_telemetry_handle(const char *line)
{
	char name[64];
	const char *comma = strchr(line, ',');
	size_t len = comma ? (size_t)(comma - line) : strlen(line);
	const char *params = comma ? comma + 1 : NULL;
	pn_telemetry_cb cb = NULL;
	const char *err = NULL;
	json_t *val = NULL, *reply;
	char *out;

	if (len == 0 || len >= sizeof(name) || line[0] != '/') {
		err = "requests look like /command or /command,params";
	} else {
		memcpy(name, line, len);
		name[len] = '\0';
		pthread_mutex_lock(&tel_lock);
		for (unsigned i = 0; i < nb_cmds; i++)
			if (strcmp(cmds[i].name, name) == 0)
				cb = cmds[i].cb;
		pthread_mutex_unlock(&tel_lock);
		if (cb == NULL)
			err = "unknown command (\"/\" lists them)";
		else if (strncmp(name, PN_TELEMETRY_WRITE_PREFIX,
				 strlen(PN_TELEMETRY_WRITE_PREFIX)) == 0 && !tel.allow_writes)
			err = "this process does not allow changes through telemetry";
		else
			val = cb(name, params, &err);
	}
	if (val != NULL)
		reply = json_pack("{so}", name, val);
	else
		reply = json_pack("{ss}", "error", err ? err : "failed");
	out = json_dumps(reply, JSON_COMPACT);
	json_decref(reply);
	return out;
}

static bool send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

static bool send_line(int fd, char *json)
{
	bool ok = json != NULL && send_all(fd, json, strlen(json)) && send_all(fd, "\n", 1);

	free(json);
	return ok;
}

struct client {
	int fd;
	size_t used;
	char buf[TEL_LINE_MAX];
};

/* false: close the client */
static bool client_read(struct client *c)
{
	ssize_t n = recv(c->fd, c->buf + c->used, sizeof(c->buf) - 1 - c->used, 0);
	char *nl;

	if (n <= 0)
		return n < 0 && errno == EINTR;
	c->used += (size_t)n;
	c->buf[c->used] = '\0';
	while ((nl = strchr(c->buf, '\n')) != NULL) {
		*nl = '\0';
		if (nl > c->buf && nl[-1] == '\r')
			nl[-1] = '\0';
		if (c->buf[0] != '\0' && !send_line(c->fd, pn_telemetry_handle(c->buf)))
			return false;
		c->used -= (size_t)(nl + 1 - c->buf);
		memmove(c->buf, nl + 1, c->used + 1);
	}
	if (c->used == sizeof(c->buf) - 1) /* a line too long to be a request */
		return send_line(c->fd, strdup("{\"error\":\"request too long\"}")) && false;
	return true;
}

static void *tel_main(void *arg)
{
	struct client clients[TEL_MAX_CLIENTS];
	struct pollfd pfd[TEL_MAX_CLIENTS + 2];
	unsigned nc = 0;

	(void)arg;
	for (;;) {
		pfd[0] = (struct pollfd){ .fd = tel.wake_fd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = tel.listen_fd, .events = POLLIN };
		for (unsigned i = 0; i < nc; i++)
			pfd[2 + i] = (struct pollfd){ .fd = clients[i].fd, .events = POLLIN };
		if (poll(pfd, 2 + nc, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents)
			break;
		for (unsigned i = nc; i-- > 0;) {
			if (pfd[2 + i].revents == 0)
				continue;
			if (!client_read(&clients[i])) {
				close(clients[i].fd);
				clients[i] = clients[--nc];
			}
		}
		if (pfd[1].revents & POLLIN) {
			int fd = accept4(tel.listen_fd, NULL, NULL, SOCK_CLOEXEC);

			if (fd < 0)
				continue;
			if (nc == TEL_MAX_CLIENTS) {
				send_line(fd, strdup("{\"error\":\"too many clients\"}"));
				close(fd);
				continue;
			}
			if (!send_line(fd, pn_telemetry_handle("/info"))) {
				close(fd);
				continue;
			}
			clients[nc].fd = fd;
			clients[nc].used = 0;
			nc++;
		}
	}
	for (unsigned i = 0; i < nc; i++)
		close(clients[i].fd);
	return NULL;
}

static int runtime_dir(const char *want, char *dir, size_t len)
{
	const char *env = getenv("PAGENET_RUNTIME_DIR");
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (want != NULL)
		snprintf(dir, len, "%s", want);
	else if (env != NULL && *env != '\0')
		snprintf(dir, len, "%s", env);
	else if (geteuid() == 0)
		snprintf(dir, len, "/run/pagenet");
	else if (xdg != NULL && *xdg != '\0')
		snprintf(dir, len, "%s/pagenet", xdg);
	else
		snprintf(dir, len, "/tmp/pagenet-%u", (unsigned)geteuid());
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Sockets named app.PID.sock whose process is gone are left-overs. */
static void remove_stale(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char path[512];
		const char *dot = strrchr(e->d_name, '.');
		const char *pid_dot;
		long pid;

		if (dot == NULL || strcmp(dot, ".sock") != 0)
			continue;
		for (pid_dot = dot - 1; pid_dot > e->d_name && *pid_dot != '.'; pid_dot--)
			;
		if (pid_dot == e->d_name)
			continue;
		pid = strtol(pid_dot + 1, NULL, 10);
		if (pid <= 0 || kill((pid_t)pid, 0) == 0 || errno == EPERM)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
}

int pn_telemetry_start(const struct pn_telemetry_params *params)
{
	struct pn_telemetry_params p = { .app = "pagenet" };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(sa.sun_path) - 48];
	mode_t old;
	int rc;

	if (tel.running)
		return -EALREADY;
	if (params != NULL)
		memcpy(&p, params, PN_MIN(params->sz, sizeof(p)));
	snprintf(tel.app, sizeof(tel.app), "%s", p.app ? p.app : "pagenet");
	tel.allow_writes = p.allow_writes;
	clock_gettime(CLOCK_MONOTONIC, &tel.t0);
	rc = runtime_dir(p.dir, dir, sizeof(dir));
	if (rc < 0) {
		pn_log(PN_LOG_ERR, "telemetry", "cannot create %s: %s", dir, strerror(-rc));
		return rc;
	}
	remove_stale(dir);
	snprintf(tel.path, sizeof(tel.path), "%s/%s.%d.sock", dir, tel.app, (int)getpid());
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", tel.path);
	tel.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (tel.listen_fd < 0)
		return -errno;
	unlink(tel.path);
	old = umask(0177); /* the socket is born 0600: no window with wider rights */
	rc = bind(tel.listen_fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || listen(tel.listen_fd, 8) < 0) {
		rc = -errno;
		pn_log(PN_LOG_ERR, "telemetry", "cannot listen on %s: %s", tel.path, strerror(-rc));
		goto fail;
	}
	tel.wake_fd = eventfd(0, EFD_CLOEXEC);
	if (tel.wake_fd < 0) {
		rc = -errno;
		goto fail;
	}
	rc = -pthread_create(&tel.thread, NULL, tel_main, NULL);
	if (rc)
		goto fail;
	pthread_setname_np(tel.thread, "pn-telemetry");
	tel.running = true;
	return 0;
fail:
	if (tel.wake_fd >= 0)
		close(tel.wake_fd);
	close(tel.listen_fd);
	unlink(tel.path);
	tel.listen_fd = tel.wake_fd = -1;
	tel.path[0] = '\0';
	return rc;
}

void pn_telemetry_stop(void)
{
	uint64_t one = 1;

	if (!tel.running)
		return;
	if (write(tel.wake_fd, &one, sizeof(one)) != sizeof(one))
		pthread_cancel(tel.thread);
	pthread_join(tel.thread, NULL);
	close(tel.wake_fd);
	close(tel.listen_fd);
	unlink(tel.path);
	tel.listen_fd = tel.wake_fd = -1;
	tel.path[0] = '\0';
	tel.running = false;
}

const char *pn_telemetry_path(void)
{
	return tel.running ? tel.path : NULL;
}
