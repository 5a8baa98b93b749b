/* SPDX-License-Identifier: BSD-3-Clause */
/* Redis connection for control paths (hiredis synchronous API, local unix socket only).
 * Reconnects once on an I/O error and retries the command. Optional ACL user with a
 * password read from a file; the password is kept only to re-authenticate, never logged,
 * and wiped on close. Not for dataplane worker loops. */
#ifndef POPRELAY_COMMON_REDIS_H
#define POPRELAY_COMMON_REDIS_H

#include <stddef.h>

#include <hiredis/hiredis.h>

struct pr_redis;

/* Connects to the unix socket at path with timeout_ms for connect and each command.
 * Returns 0 and *out, or -ENOENT (no socket file), -ECONNREFUSED (nobody listening),
 * -EACCES, -ETIMEDOUT, -EIO, -ENOMEM. On failure pr_redis_errmsg(NULL) explains. */
int pr_redis_connect(struct pr_redis **out, const char *path, int timeout_ms);
/* AUTH user password, password read from the first line of password_file (0600 is
 * advised). user NULL or "" means the default user. Remembered for reconnects. */
int pr_redis_auth(struct pr_redis *r, const char *user, const char *password_file);
void pr_redis_close(struct pr_redis *r);

/* Run a command; on an I/O error reconnect once (re-AUTH) and retry. Returns the reply
 * (free with freeReplyObject) or NULL with pr_redis_errmsg(r) set. An error reply
 * (REDIS_REPLY_ERROR) is returned as a reply: check its type. */
redisReply *pr_redis_cmd(struct pr_redis *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
redisReply *pr_redis_cmdargv(struct pr_redis *r, int argc, const char **argv,
			     const size_t *argvlen);
/* Pipelines n commands (argv form) and reads n replies into replies[]; on an I/O error
 * reconnects once and replays all of them. Returns 0 or -EIO. Used for MULTI/EXEC. */
int pr_redis_pipeline(struct pr_redis *r, size_t n, const int *argc, const char ***argv,
		      const size_t **argvlen, redisReply **replies);

/* The underlying context (for callers that need raw hiredis); may change on reconnect. */
redisContext *pr_redis_ctx(struct pr_redis *r);
const char *pr_redis_path(const struct pr_redis *r);
/* Last error for r (or the last connect failure when r is NULL). */
const char *pr_redis_errmsg(const struct pr_redis *r);

#endif
