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
 * Built in: "/" (commands), "/help,/cmd" and "/info". Each component
 * registers its own when it is first used, as DPDK's libraries do: the
 * pools "/pools" and "/pool,ID", the ports "/ports" and "/port,ID",
 * accounting "/acct/groups", "/acct/group,PATH" and
 * "/set/acct/max,PATH,PAGES" (when writes are allowed); applications add
 * theirs with pn_telemetry_register(). The encoding (JSON) is the
 * library's business: callbacks build values with pn_tel_ calls, and
 * pn_telemetry_handle() answers with text.
 * Callbacks run on the telemetry thread: they may only use what is safe from
 * any thread (stats and info calls are).
 */
#ifndef PN_TELEMETRY_H
#define PN_TELEMETRY_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * What a command answers with: a JSON value the callback builds with the
 * pn_tel_ calls below (an object, an array, or one value), without
 * knowing how it is encoded. Handles are valid during the callback only.
 */
struct pn_tel_data;

/**
 * A command's callback: fill @p d. @return 0, or -errno after
 * pn_tel_error(d, "why") (the reply is then {"error": "why"}).
 */
typedef int (*pn_telemetry_cb)(const char *cmd, const char *params, struct pn_tel_data *d);

/** Make @p d an object (then add with names) or an array (names NULL). */
int pn_tel_start_dict(struct pn_tel_data *d);
int pn_tel_start_array(struct pn_tel_data *d);
/** Add a value under @p name to an object, or at the end of an array
 * (@p name NULL); on an unstarted @p d the value becomes the answer.
 * @return 0, -EINVAL (a name missing or given where none goes), -ENOMEM. */
int pn_tel_add_int(struct pn_tel_data *d, const char *name, int64_t v);
int pn_tel_add_uint(struct pn_tel_data *d, const char *name, uint64_t v);
int pn_tel_add_double(struct pn_tel_data *d, const char *name, double v);
int pn_tel_add_bool(struct pn_tel_data *d, const char *name, bool v);
int pn_tel_add_string(struct pn_tel_data *d, const char *name, const char *s);
/** A JSON text, parsed and added as a value (-EINVAL when it is not JSON). */
int pn_tel_add_json(struct pn_tel_data *d, const char *name, const char *json);
/** A nested object or array added to @p d: fill it through the returned
 * handle. NULL when out of memory or misplaced. */
struct pn_tel_data *pn_tel_add_dict(struct pn_tel_data *d, const char *name);
struct pn_tel_data *pn_tel_add_array(struct pn_tel_data *d, const char *name);
/** The command failed: @p msg (a string that outlives the reply). */
void pn_tel_error(struct pn_tel_data *d, const char *msg);

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

#ifdef __cplusplus
}
#endif

#endif /* PN_TELEMETRY_H */
