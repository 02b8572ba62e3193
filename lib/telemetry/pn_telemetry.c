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

#include <jansson.h>

#include "pn_common.h"
#include "pn_log.h"
#include "pn_telemetry.h"

#define TEL_MAX_CMDS 64
#define TEL_MAX_CLIENTS 16
#define TEL_LINE_MAX 1024
#define TEL_OUT_MAX (4u << 20) /* unread replies a client may leave */

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

/* ---- values: pn_tel_data is a jansson value kept out of the public header */

struct pn_tel_data {
	json_t *v;                /* NULL until started or set */
	const char *err;
	struct pn_tel_data *root; /* nested handles hang off the root's list */
	struct pn_tel_data *next;
};

static int put(struct pn_tel_data *d, const char *name, json_t *v)
{
	int rc = 0;

	if (v == NULL)
		return -ENOMEM;
	if (d->v == NULL && name == NULL)
		d->v = v; /* a single value answers */
	else if (json_is_object(d->v) && name != NULL)
		rc = json_object_set_new(d->v, name, v) ? -ENOMEM : 0;
	else if (json_is_array(d->v) && name == NULL)
		rc = json_array_append_new(d->v, v) ? -ENOMEM : 0;
	else {
		json_decref(v);
		rc = -EINVAL;
	}
	return rc;
}

int pn_tel_start_dict(struct pn_tel_data *d)
{
	if (d->v != NULL)
		return -EINVAL;
	d->v = json_object();
	return d->v ? 0 : -ENOMEM;
}

int pn_tel_start_array(struct pn_tel_data *d)
{
	if (d->v != NULL)
		return -EINVAL;
	d->v = json_array();
	return d->v ? 0 : -ENOMEM;
}

int pn_tel_add_int(struct pn_tel_data *d, const char *name, int64_t v)
{
	return put(d, name, json_integer((json_int_t)v));
}

int pn_tel_add_uint(struct pn_tel_data *d, const char *name, uint64_t v)
{
	return put(d, name, json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v));
}

int pn_tel_add_double(struct pn_tel_data *d, const char *name, double v)
{
	return put(d, name, json_real(v));
}

int pn_tel_add_bool(struct pn_tel_data *d, const char *name, bool v)
{
	return put(d, name, json_boolean(v));
}

int pn_tel_add_string(struct pn_tel_data *d, const char *name, const char *s)
{
	return put(d, name, json_string(s ? s : ""));
}

int pn_tel_add_json(struct pn_tel_data *d, const char *name, const char *text)
{
	json_t *v = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;

	return v ? put(d, name, v) : -EINVAL;
}

static struct pn_tel_data *nested(struct pn_tel_data *d, const char *name, json_t *v)
{
	struct pn_tel_data *c = calloc(1, sizeof(*c));

	if (c == NULL || v == NULL || put(d, name, json_incref(v)) != 0) {
		json_decref(v);
		free(c);
		return NULL;
	}
	c->v = v;
	json_decref(v); /* the parent holds it; the handle borrows */
	c->root = d->root;
	c->next = d->root->next;
	d->root->next = c;
	return c;
}

struct pn_tel_data *pn_tel_add_dict(struct pn_tel_data *d, const char *name)
{
	return nested(d, name, json_object());
}

struct pn_tel_data *pn_tel_add_array(struct pn_tel_data *d, const char *name)
{
	return nested(d, name, json_array());
}

void pn_tel_error(struct pn_tel_data *d, const char *msg)
{
	d->root->err = msg;
}

/* ---- the commands every process has */

static int cmd_info(const char *cmd, const char *params, struct pn_tel_data *d)
{
	struct timespec t;

	(void)cmd, (void)params;
	clock_gettime(CLOCK_MONOTONIC, &t);
	pn_tel_start_dict(d);
	pn_tel_add_string(d, "app", tel.app);
	pn_tel_add_int(d, "pid", getpid());
	pn_tel_add_string(d, "version", PN_VERSION);
	pn_tel_add_double(d, "uptime_s", (double)(t.tv_sec - tel.t0.tv_sec) +
					 (double)(t.tv_nsec - tel.t0.tv_nsec) * 1e-9);
	return pn_tel_add_bool(d, "writes_allowed", tel.allow_writes);
}

static int cmd_list(const char *cmd, const char *params, struct pn_tel_data *d)
{
	(void)cmd, (void)params;
	pn_tel_start_array(d);
	pthread_mutex_lock(&tel_lock);
	for (unsigned i = 0; i < nb_cmds; i++)
		pn_tel_add_string(d, NULL, cmds[i].name);
	pthread_mutex_unlock(&tel_lock);
	return 0;
}

static int cmd_help(const char *cmd, const char *params, struct pn_tel_data *d)
{
	int rc = -ENOENT;

	(void)cmd;
	pthread_mutex_lock(&tel_lock);
	for (unsigned i = 0; params != NULL && i < nb_cmds; i++)
		if (strcmp(cmds[i].name, params) == 0)
			rc = pn_tel_add_string(d, NULL, cmds[i].help);
	pthread_mutex_unlock(&tel_lock);
	if (rc)
		pn_tel_error(d, "want /help,/command with a known command");
	return rc;
}

__attribute__((constructor)) static void tel_builtins(void)
{
	pn_telemetry_register("/", cmd_list, "the commands this process answers");
	pn_telemetry_register("/help", cmd_help, "help for a command: /help,/pools");
	pn_telemetry_register("/info", cmd_info, "application, pid, version, uptime");
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
	struct pn_tel_data d = { 0 };
	json_t *reply;
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
		else {
			int rc;

			d.root = &d;
			rc = cb(name, params, &d);
			if (rc != 0 || d.err != NULL)
				err = d.err ? d.err : "failed";
		}
	}
	while (d.next) {
		struct pn_tel_data *c = d.next;

		d.next = c->next;
		free(c);
	}
	if (err == NULL)
		reply = json_pack("{so}", name, d.v ? d.v : json_null());
	else {
		json_decref(d.v);
		reply = json_pack("{ss}", "error", err);
	}
	out = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
	json_decref(reply);
	return out;
}

/*
 * Clients are non-blocking and each has a bounded output queue: the server
 * thread never waits on one client, so a client that pipelines requests and
 * never reads cannot starve the others or keep pn_telemetry_stop() waiting.
 * A client whose unread replies pass TEL_OUT_MAX is cut off.
 */
struct client {
	int fd;
	size_t used;              /* request bytes in buf */
	char *out;                /* replies not yet taken by the socket */
	size_t out_off, out_len, out_cap;
	bool eof;                 /* the client half-closed: answer, then close */
	char buf[TEL_LINE_MAX];
};

static void client_close(struct client *c)
{
	close(c->fd);
	free(c->out);
	c->fd = -1;
	c->out = NULL;
}

/* false: the socket failed or the client is over its bound */
static bool client_flush(struct client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0)
			return false;
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	return c->out_len - c->out_off <= TEL_OUT_MAX;
}

/* Queue one reply line (taking @json) and send what the socket takes now. */
static bool client_reply(struct client *c, char *json)
{
	size_t len = json ? strlen(json) : 0;
	size_t pending = c->out_len - c->out_off;

	if (json == NULL)
		return false;
	if (pending > TEL_OUT_MAX) {
		free(json);
		return false;
	}
	if (c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, pending);
		c->out_off = 0;
		c->out_len = pending;
	}
	if (c->out_len + len + 1 > c->out_cap) {
		size_t cap = PN_MAX(c->out_len + len + 1, 2 * c->out_cap);
		char *p = realloc(c->out, cap);

		if (p == NULL) {
			free(json);
			return false;
		}
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, json, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
	free(json);
	return client_flush(c);
}

/* false: close the client */
static bool client_read(struct client *c)
{
	ssize_t n = recv(c->fd, c->buf + c->used, sizeof(c->buf) - 1 - c->used,
			 MSG_DONTWAIT);
	char *nl;

	if (n < 0)
		return errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK;
	if (n == 0) {
		c->eof = true;
		return c->out_len > 0;
	}
	c->used += (size_t)n;
	while ((nl = memchr(c->buf, '\n', c->used)) != NULL) {
		size_t len = (size_t)(nl - c->buf);
		bool empty = len == 0 || (len == 1 && c->buf[0] == '\r');
		char *reply;

		if (memchr(c->buf, '\0', len) != NULL) {
			reply = strdup("{\"error\":\"a request holds a NUL byte\"}");
		} else {
			*nl = '\0';
			if (len > 0 && nl[-1] == '\r')
				nl[-1] = '\0';
			reply = empty ? NULL : pn_telemetry_handle(c->buf);
		}
		if (!empty && !client_reply(c, reply))
			return false;
		c->used -= len + 1;
		memmove(c->buf, c->buf + len + 1, c->used);
	}
	if (c->used == sizeof(c->buf) - 1) { /* a line too long to be a request */
		client_reply(c, strdup("{\"error\":\"request too long\"}"));
		return false;
	}
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
			pfd[2 + i] = (struct pollfd){
				.fd = clients[i].fd,
				.events = (short)((clients[i].eof ? 0 : POLLIN) |
						  (clients[i].out_len ? POLLOUT : 0)),
			};
		if (poll(pfd, 2 + nc, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents)
			break;
		for (unsigned i = nc; i-- > 0;) {
			short ev = pfd[2 + i].revents;
			bool ok = true;

			if (ev & POLLOUT)
				ok = client_flush(&clients[i]);
			if (ok && !clients[i].eof && (ev & (POLLIN | POLLHUP | POLLERR)))
				ok = client_read(&clients[i]);
			else if (ok && (ev & (POLLHUP | POLLERR)))
				ok = false;
			if (ok && clients[i].eof && clients[i].out_len == 0)
				ok = false; /* everything asked was answered */
			if (!ok) {
				client_close(&clients[i]);
				clients[i] = clients[--nc];
			}
		}
		if (pfd[1].revents & POLLIN) {
			int fd = accept4(tel.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			struct client *c;

			if (fd < 0)
				continue;
			if (nc == TEL_MAX_CLIENTS) {
				static const char full[] = "{\"error\":\"too many clients\"}\n";

				if (send(fd, full, sizeof(full) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
					(void)0; /* it is closed either way */
				close(fd);
				continue;
			}
			c = &clients[nc];
			*c = (struct client){ .fd = fd };
			if (!client_reply(c, pn_telemetry_handle("/info"))) {
				client_close(c);
				continue;
			}
			nc++;
		}
	}
	for (unsigned i = 0; i < nc; i++)
		client_close(&clients[i]);
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
