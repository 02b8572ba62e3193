/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Telemetry: every pagenet process can serve a UNIX stream socket answering
 * requests with JSON, in the manner of DPDK's telemetry (docs/design.md §8).
 *
 * Socket: <dir>/<app>.<pid>.sock, where <dir> is $PAGENET_RUNTIME_DIR, else
 * /run/pagenet for root, else $XDG_RUNTIME_DIR/pagenet, else
 * /tmp/pagenet-<uid>. The directory is 0700 and the socket 0600: only the
 * owner (and root) can connect.
 *
 * Protocol: on connect the server sends one line of JSON describing the
 * process. Each request is one line, "/command" or "/command,params"; each
 * reply is one line of JSON, {"/command": value} or {"error": "..."}.
 *
 * Built in: "/" (commands), "/help,/cmd", "/info", "/pools", "/pool,ID",
 * "/ports", "/port,ID", "/acct/groups", "/acct/group,PATH" and
 * "/set/acct/max,PATH,PAGES" (when writes are allowed). Components add theirs with pn_telemetry_register().
 * Callbacks run on the telemetry thread: they may only use what is safe from
 * any thread (stats and info calls are).
 */
#ifndef PN_TELEMETRY_H
#define PN_TELEMETRY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A command: return a new JSON value (the telemetry thread releases it), or
 * NULL after setting *err to a static message.
 */
typedef json_t *(*pn_telemetry_cb)(const char *cmd, const char *params,
				   const char **err);

/** Commands whose name starts with this change state (see allow_writes). */
#define PN_TELEMETRY_WRITE_PREFIX "/set/"

/**
 * Register a command ("/name"). @return 0, -EEXIST, -EINVAL or -ENOSPC.
 * Commands under PN_TELEMETRY_WRITE_PREFIX answer only when the process
 * allowed writes at start.
 */
int pn_telemetry_register(const char *cmd, pn_telemetry_cb cb, const char *help);

struct pn_telemetry_params {
	uint32_t sz;          /**< sizeof(struct pn_telemetry_params) */
	const char *app;      /**< application name, in the socket name */
	const char *dir;      /**< NULL: the default directory above */
	bool allow_writes;    /**< serve /set/ commands */
};

/**
 * Start serving. Removes sockets left by processes that are gone.
 * @return 0 or -errno (a message on stderr says what failed).
 */
int pn_telemetry_start(const struct pn_telemetry_params *params);

/** Stop serving and remove the socket. Safe to call when not started. */
void pn_telemetry_stop(void);

/** @return the socket path, or NULL when not serving. */
const char *pn_telemetry_path(void);

/**
 * Answer one request line ("/command" or "/command,params", no newline) as
 * the socket would, without a socket: for applications that carry
 * telemetry over another channel, and for tests.
 * @return the reply, one line of JSON without a newline (free() it), or
 *         NULL when out of memory.
 */
char *pn_telemetry_handle(const char *line);

/** JSON snapshots the built-in commands serve, for apps that print them. */
json_t *pn_telemetry_pool_json(uint16_t pool_id);
json_t *pn_telemetry_port_json(uint16_t port_id);
struct pn_acct_group;
json_t *pn_telemetry_group_json(const struct pn_acct_group *g);

#ifdef __cplusplus
}
#endif

#endif /* PN_TELEMETRY_H */
