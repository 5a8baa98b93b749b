/* SPDX-License-Identifier: BSD-3-Clause */
/* Redis connection for control paths (hiredis synchronous API): a local unix socket, or the
 * primary that Redis Sentinel names (a "sentinel target", below). Reconnects once on an I/O
 * error and retries the command. Optional ACL user with a
 * password read from a file; the password is kept only to re-authenticate, never logged,
 * and wiped on close. Not for dataplane worker loops. */
#ifndef POPRELAY_COMMON_REDIS_H
#define POPRELAY_COMMON_REDIS_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

struct pr_redis;

/* Redis under Sentinel. A process configured with [redis] sentinels and master_name passes
 * "sentinel:<master_name>@<host>:<port>,<host>:<port>,..." wherever it passes a socket path
 * (pr_redis_sentinel_target builds it from the two keys, refusing bad values with a message
 * that names the key). Connecting then asks the sentinels in turn (the one that answered
 * last first) SENTINEL get-master-addr-by-name, connects to that address over TCP,
 * authenticates as configured and checks with ROLE that it is a master: a sentinel that has
 * not seen a failover yet must not make us write to a replica. A lost connection or a
 * READONLY reply (the primary was demoted) asks the sentinels again before the one retry;
 * a +switch-master the process's watcher heard of (below) before the next command.
 * Sentinels are asked without AUTH (no sentinel password is supported) and nothing is TLS. */
#define PR_REDIS_TARGET_MAX    256
#define PR_REDIS_SENTINELS_MAX 8
int pr_redis_sentinel_target(char *out, size_t outlen, const char *sentinels,
			     const char *master_name, char *err, size_t errlen);
bool pr_redis_is_sentinel(const char *target);
/* SENTINEL get-master-addr-by-name's reply -> host, port: 0, -ENOENT (the sentinel does
 * not know the name), -EBADMSG, or the error reply's errno. */
int pr_redis_sentinel_reply(const redisReply *rep, char *host, size_t hostlen, int *port);
/* ROLE's reply: 1 master, 0 anything else, or a negative errno. */
int pr_redis_role_reply(const redisReply *rep);
/* The primary r is connected to (sentinel target): 0 and host, port; -ENOENT for a unix
 * socket. For a client of its own (the slowpath's asynchronous connection). */
int pr_redis_primary(const struct pr_redis *r, char *host, size_t hostlen, int *port);
/* The sentinel that named that primary (the one that answered last): 0 and host, port;
 * -ENOENT for a unix socket. */
int pr_redis_sentinel_named(const struct pr_redis *r, char *host, size_t hostlen, int *port);

/* Following +switch-master. The process-wide primary epoch starts at 0 and grows by one
 * each time pr_redis_primary_moved() is told the primary moved (the sentinel watcher does,
 * on a +switch-master for the process's master name). A connection opened in an earlier
 * epoch is to a primary that may now be a replica: its owner drops it and asks the
 * sentinels again (the synchronous client does so before its next command; the slowpath's
 * asynchronous connection and the pipelined ones check the epoch in their loops).
 * Thread-safe (an atomic). */
unsigned pr_redis_primary_epoch(void);
void pr_redis_primary_moved(const char *master, const char *addr);
/* The watcher: for a sentinel target, one thread per process (a second start is a no-op;
 * nothing for a unix socket) subscribes to +switch-master on one sentinel at a time, in
 * turn (a lost or silent one, found out by a PING after 5 s of quiet, hands over to the
 * next; a round where none answered waits 250 ms, doubling to 8 s), and calls
 * pr_redis_primary_moved() for each move of our master. Each time it subscribes it asks
 * that sentinel for the primary too (SENTINEL master), so that a failover while no sentinel
 * was followed is not missed, unless that sentinel's config epoch is behind the last move
 * seen. Sentinels are asked without AUTH. Signals stay with the process's other threads.
 * 0, -EINVAL (a malformed target) or a negative errno; stop joins the thread (at most about
 * a second: a connect or a reply it waits for). */
int pr_redis_sentinel_watch_start(const char *target);
void pr_redis_sentinel_watch_stop(void);
/* A +switch-master message, "<name> <old-ip> <old-port> <new-ip> <new-port>": 1 and the new
 * primary in addr ("ip:port", "[ip]:port" for IPv6) when name is master, 0 when it is
 * another master's, -EBADMSG when malformed. */
int pr_redis_switch_master_parse(const char *payload, const char *master, char *addr,
				 size_t addrlen);
/* SENTINEL master's reply (RESP2, field/value pairs) -> the primary as above and the
 * config epoch: 0, -ENOENT (no such master), -EBADMSG, or the error reply's errno. */
int pr_redis_sentinel_master_reply(const redisReply *rep, char *addr, size_t addrlen,
				   long long *config_epoch);
/* true when r is a sentinel target's connection opened (pr_redis_connect) before the
 * primary last moved: its owner closes it and opens another, and re-reads what it followed
 * on it (the synchronous client moves by itself before its next command; an owner that
 * must know, or whose connection is pipelined or subscribed, asks here). */
bool pr_redis_stale(const struct pr_redis *r);

/* Connects to the unix socket at path with timeout_ms for connect and each command.
 * Returns 0 and *out, or -ENOENT (no socket file), -ECONNREFUSED (nobody listening),
 * -EACCES, -ETIMEDOUT, -EIO, -ENOMEM. On failure pr_redis_errmsg(NULL) explains.
 * Sets SIGPIPE to ignored when it has the default disposition (a closed connection must
 * be an I/O error to retry, not the end of the process). */
int pr_redis_connect(struct pr_redis **out, const char *path, int timeout_ms);
/* AUTH user password, password read from the first line of password_file (0600 is
 * advised). user NULL or "" means the default user. Remembered for reconnects. */
int pr_redis_auth(struct pr_redis *r, const char *user, const char *password_file);
void pr_redis_close(struct pr_redis *r);
/* pr_redis_connect, then pr_redis_auth when user or password_file is set (either may be
 * NULL or ""): a process's connection as its configuration names it. NULL on failure,
 * closed, with pr_redis_errmsg(NULL) or the AUTH error logged by the caller's choice. */
struct pr_redis *pr_redis_open(const char *path, const char *user, const char *password_file,
			       int timeout_ms);

/* Run a command; on an I/O error reconnect once (re-AUTH) and retry. Returns the reply
 * (free with freeReplyObject) or NULL with pr_redis_errmsg(r) set. An error reply
 * (REDIS_REPLY_ERROR) is returned as a reply: check its type. */
redisReply *pr_redis_cmd(struct pr_redis *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
redisReply *pr_redis_cmdargv(struct pr_redis *r, int argc, const char **argv,
			     const size_t *argvlen);
/* For a caller whose loop must not stall on a slow Redis (the slowpath's event loop): once
 * a command on r timed out (or its retry failed), r is not retried at once, and for
 * cooldown_ms no command is sent and no reconnect tried: each fails at once with -EIO and
 * pr_redis_errmsg saying so. A refused or closed connection is retried as before. 0 (the
 * default): off. */
void pr_redis_set_slow_cooldown(struct pr_redis *r, int cooldown_ms);
/* Whether r is in such a cooldown now (a connection of the caller's own to the same Redis
 * had better wait too). */
bool pr_redis_cooling(const struct pr_redis *r);
/* Redis answered (on another connection of the caller's): the cooldown, if any, ends now. */
void pr_redis_cooldown_end(struct pr_redis *r);

/* A transaction: commands queued here run as MULTI ... EXEC. On an I/O error the whole
 * transaction is replayed once on a fresh connection (so queue idempotent commands, or
 * accept that a stream entry may rarely be added twice). */
struct pr_redis_tx;
struct pr_redis_tx *pr_redis_tx_new(void);
int pr_redis_tx_add(struct pr_redis_tx *tx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int pr_redis_tx_addargv(struct pr_redis_tx *tx, int argc, const char **argv, const size_t *argvlen);
/* Runs it. Returns 0 (and the EXEC reply array in *exec when exec is not NULL; free it with
 * freeReplyObject), -EIO on an I/O error, or pr_redis_reply_errno() of the first command
 * that replied an error. */
int pr_redis_tx_run(struct pr_redis *r, struct pr_redis_tx *tx, redisReply **exec);
void pr_redis_tx_free(struct pr_redis_tx *tx);

/* Pipelining without waiting, for a poll loop that must never block on Redis (the TURN
 * control lcore): open and authenticate as usual, then pr_redis_pipeline() switches the
 * connection to non-blocking for good (pr_redis_cmd and pr_redis_tx_run must not be used on
 * it afterwards, and it is not reconnected: on an error, close it and open another).
 * pr_redis_pipe_tx appends MULTI, tx's commands and EXEC and returns how many replies that
 * is (tx->n + 2); pr_redis_pipe_argv appends one command (one reply). pr_redis_pump writes
 * what the socket takes and reads what has come: 0, or -EIO when the connection failed.
 * pr_redis_pipe_reply hands out the next complete reply in order (*rep NULL: none yet).
 * pr_redis_pipe_reply_ok says whether a reply succeeded: not an error, and for an EXEC
 * reply an array none of whose elements is an error (the text of the first error, if any,
 * in pr_redis_errmsg). */
int pr_redis_pipeline(struct pr_redis *r);
int pr_redis_pipe_tx(struct pr_redis *r, const struct pr_redis_tx *tx);
int pr_redis_pipe_argv(struct pr_redis *r, int argc, const char **argv, const size_t *argvlen);
int pr_redis_pump(struct pr_redis *r);
int pr_redis_pipe_reply(struct pr_redis *r, redisReply **rep);
int pr_redis_pipe_reply_ok(struct pr_redis *r, const redisReply *rep);
/* The error in a reply: the reply itself when it is one, else the first error element of an
 * array (an EXEC's); NULL when there is none. */
const redisReply *pr_redis_reply_error(const redisReply *rep);

/* The same transaction on a hiredis asynchronous context (the slowpath's libevent loop):
 * MULTI, tx's commands and EXEC are queued, and fn gets the EXEC reply (NULL when the
 * context is torn down first) with priv. 0, -EINVAL (a command could not be built) or -EIO
 * (the context refuses commands: disconnecting); fn is not called on failure. */
struct redisAsyncContext;
int pr_redis_async_tx(struct redisAsyncContext *ac, const struct pr_redis_tx *tx,
		      void (*fn)(struct redisAsyncContext *, void *, void *), void *priv);

/* Error reply text -> negative errno: NOPERM/NOAUTH/WRONGPASS -EACCES, WRONGTYPE -EINVAL,
 * LOADING/BUSY/MASTERDOWN -EAGAIN, READONLY -EROFS, OOM -ENOMEM, anything else -EBADMSG.
 * -EIO is kept for "could not talk to Redis". */
int pr_redis_reply_errno(const char *msg);

/* The underlying context (for callers that need raw hiredis); may change on reconnect. */
redisContext *pr_redis_ctx(struct pr_redis *r);
const char *pr_redis_path(const struct pr_redis *r);
/* Last error for r (or the last connect failure when r is NULL). */
const char *pr_redis_errmsg(const struct pr_redis *r);

#endif
