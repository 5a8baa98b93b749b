/* SPDX-License-Identifier: BSD-3-Clause */
/* The slowpath's asynchronous Redis connection (hiredis's libevent adapter on the server's
 * event loop): a request that needs Redis sends its commands and returns to the loop; its
 * continuation runs when the reply comes. Commands from every request queued in one loop
 * iteration leave in one write, so the round trip is shared instead of waited out per
 * request. Connected on first use and again after a loss; a command pending longer than
 * the timeout closes the connection (hiredis 0.14 has no timeout of its own), which hands
 * every pending continuation -ETIMEDOUT: Redis being slow is then told apart from Redis
 * being away (-EIO, or the connect error).
 * Under Sentinel ([redis] sentinels) the connection goes to the primary the sentinels name,
 * found and checked (ROLE) by the synchronous client at each (re)connect, which blocks the
 * loop for that exchange (each sentinel asked with 500 ms at most; after a failure, none is
 * asked again for SENTINEL_RETRY_MS). The connection is dropped, so that the next one asks
 * the sentinels again, when the primary was demoted (a READONLY reply; a WAIT refused by a
 * replica; under Sentinel an EXECABORT, which is how a transaction's READONLY comes back)
 * and when the process-wide primary epoch moved (pr_redis_primary_epoch: the sentinel
 * watcher saw +switch-master; checked every 100 ms and before each command).
 * Replay: a request sent with SP_AREDIS_REPLAY keeps its formatted commands. When its
 * connection is lost (an I/O error, the server closing it, one of the drops above) it is
 * not failed but held, in sending order, and sent again (a durable write again followed by
 * its WAIT) on the next connection, ahead of anything newer; the timer reconnects every
 * 100 ms while requests are held (discovery still backs off SENTINEL_RETRY_MS after a
 * failure). A request is sent again once: lost a second time on a connection that was up,
 * or held longer than [sip] redis_replay_ms, it fails as it did before replay (-EIO:
 * 503 and Retry-After, the devices send it again). A timeout is not replayed: the request
 * has waited the whole timeout already, and a Redis that is slow, not away, would get the
 * same load again (a primary that went silent is left through the epoch when the sentinels
 * replace it, and that does replay). Only commands that may run twice are sent with
 * SP_AREDIS_REPLAY: the callers say which (sp_server.h, docs/slowpath.md). */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>

#include "common/log.h"
#include "common/redis.h"
#include "slowpath/sp_server.h"

/* After a failed discovery, commands fail at once for this long instead of blocking the
 * loop on the sentinels again for each one. */
#define SENTINEL_RETRY_MS 200

struct sp_areq {
	struct sp_aredis *ar;
	sp_aredis_fn *fn;
	void *arg;
	int64_t sent_ms;
	bool timed_out;
	uint64_t seq; /* sending order, kept by a replay: the held are replayed in it */
	/* SP_AREDIS_REPLAY: the formatted commands (MULTI ... EXEC, or the one command) as
	 * they went out, for the next connection; they may hold secrets (wiped when freed) */
	char *cmd;
	size_t cmd_len;
	bool replayed;	 /* sent again once already */
	int64_t held_ms; /* held since (the first loss) */
	/* a durable write (sp_aredis_tx_durable): its EXEC's result, then the reply of the
	 * WAIT that follows the loop pass's last durable write (wait_queued: it is queued;
	 * wait_failed: it could not be) */
	bool wait, exec_seen, wait_queued, wait_failed;
	bool exec_demoted; /* its EXEC's reply says the server is a replica now */
	int exec_rc;
	struct sp_areq *next;  /* in sending order: replies come in that order */
	struct sp_areq *wnext; /* the durable writes one WAIT answers */
};

struct sp_aredis {
	struct sp_server *s;
	redisAsyncContext *ac;
	struct event *ev_timer;
	/* on_flush: writes the commands queued since the last write (add_write) */
	struct event *ev_flush;
	bool flush_active, flushing;
	void (*adapter_add_write)(void *); /* the libevent adapter's: the socket's event */
	int timeout_ms;
	struct sp_areq *head, *tail; /* waiting for a reply */
	/* durable writes of this loop pass whose WAIT is not queued yet (on_flush queues one) */
	struct sp_areq *wait_first, **wait_last;
	bool auth_failed_logged;
	int64_t discover_after_ms; /* Sentinel: no discovery before this (a failure backs off) */
	int discover_rc;
	char primary[80]; /* Sentinel: host:port connected to, for messages */
	unsigned epoch;	  /* pr_redis_primary_epoch() when the connection was made */
	uint64_t seq;
	/* requests whose connection was lost, in sending order, waiting for the next one */
	struct sp_areq *held;
	struct event *ev_retry; /* right after a loss: reconnect and replay */
	/* the connection left last because the primary epoch moved: what it loses is not
	 * counted as a replay (the +switch-master may come after the connection to the new
	 * primary was made, from the sentinels' answer) */
	const redisAsyncContext *dropped;
	uint32_t replay_ms;
	bool closing;
};

static const char *where(const struct sp_aredis *ar)
{
	return ar->primary[0] ? ar->primary : ar->s->cfg.redis_socket;
}

static void req_free(struct sp_areq *q)
{
	if (q->cmd) {
		explicit_bzero(q->cmd, q->cmd_len);
		free(q->cmd);
	}
	free(q);
}

/* The connection goes now (inside a reply callback hiredis frees it once the callback
 * returns): every request still waiting on it gets a NULL reply, so the replayable ones
 * are held for the next connection instead of being answered by a replica. */
static void drop(struct sp_aredis *ar, const char *why, bool moved)
{
	redisAsyncContext *ac = ar->ac;
	PR_WARN("redis %s: %s: reconnecting", where(ar), why);
	ar->ac = NULL;
	ar->primary[0] = '\0';
	if (moved)
		ar->dropped = ac;
	redisAsyncFree(ac);
}

/* A reply that says the server we write to is no longer the primary. */
static bool demoted_reply(const struct sp_aredis *ar, const redisReply *rep)
{
	const redisReply *bad = rep ? pr_redis_reply_error(rep) : NULL;
	if (!bad || !bad->str)
		return false;
	if (!strncmp(bad->str, "READONLY", 8) ||
	    !strncmp(bad->str, "ERR WAIT cannot be used with replica", 36))
		return true;
	/* a transaction's write refused as READONLY comes back as EXECABORT (the reply to the
	 * queued command is not kept): under Sentinel, ask again rather than fail the writes */
	return !strncmp(bad->str, "EXECABORT", 9) && pr_redis_is_sentinel(ar->s->cfg.redis_socket);
}

/* q's connection ac is gone (or answers as a replica): true when q is held for the next
 * one, false when it fails now (not replayable, or closing, or already sent again on a
 * connection that was up and was lost; one that never came up, or that was left because
 * the epoch moved, does not count: the window bounds those). */
static bool hold(struct sp_aredis *ar, struct sp_areq *q, const redisAsyncContext *ac)
{
	if (!q->cmd || ar->closing || !ar->replay_ms)
		return false;
	if (q->replayed && (ac->c.flags & REDIS_CONNECTED) && ac != ar->dropped)
		return false;
	q->wait_queued = q->exec_seen = q->wait_failed = q->exec_demoted = false;
	q->exec_rc = 0;
	q->wnext = NULL;
	q->timed_out = false;
	if (!q->held_ms)
		q->held_ms = sp_now_ms();
	/* in sending order: a durable write is finished by its WAIT's reply, after requests
	 * sent behind it */
	struct sp_areq **p = &ar->held;
	while (*p && (*p)->seq < q->seq)
		p = &(*p)->next;
	q->next = *p;
	*p = q;
	event_active(ar->ev_retry, EV_TIMEOUT, 0);
	return true;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct sp_aredis *ar = ac->data;
	(void)status;
	/* hiredis frees the context after this returns */
	if (ar && ar->ac == ac)
		ar->ac = NULL;
}

static void dequeue(struct sp_aredis *ar, struct sp_areq *q)
{
	/* replies come in order, so q is the head; the walk is for robustness only */
	struct sp_areq **p = &ar->head, *prev = NULL;
	while (*p && *p != q) {
		prev = *p;
		p = &(*p)->next;
	}
	if (!*p)
		return;
	*p = q->next;
	if (ar->tail == q)
		ar->tail = prev;
}

/* The reply (or its absence) -> 0 or a negative errno. EXEC: one failed command fails it
 * (no reply this connection sends holds errors otherwise). */
static int reply_rc(const redisReply *rep, bool timed_out)
{
	const redisReply *bad;

	if (!rep)
		return timed_out ? -ETIMEDOUT : -EIO;
	bad = pr_redis_reply_error(rep);
	return bad ? pr_redis_reply_errno(bad->str) : 0;
}

/* Request q's end: its reply (for a durable write, its WAIT's; NULL: none came) to its
 * callback, then q is freed. */
static void finish(redisAsyncContext *ac, struct sp_areq *q, redisReply *rep)
{
	struct sp_aredis *ar = q->ar;
	/* a NULL reply means the context is being torn down: nothing more goes on it */
	if (!rep && ar->ac == ac)
		ar->ac = NULL;
	dequeue(ar, q);
	int rc = reply_rc(rep, q->timed_out);
	bool demoted = q->exec_demoted || demoted_reply(ar, rep);
	if (demoted && ar->ac == ac)
		/* the primary became a replica: the next connection asks the sentinels again */
		drop(ar, "the server is a replica now (READONLY)", false);
	if ((demoted || (!rep && !q->timed_out)) && hold(ar, q, ac))
		return;
	if (demoted && rc < 0)
		rc = -EROFS; /* (an EXECABORT's -EBADMSG would be answered 500, not 503) */
	if (q->wait && q->wait_failed) {
		pr_ks_errmsg_set("redis: WAIT could not be queued");
		rc = -EIO;
	} else if (rc < 0) {
		char msg[640];
		if (rep) /* rc < 0 with a reply: it holds an error */
			snprintf(msg, sizeof(msg), "redis: %s", pr_redis_reply_error(rep)->str);
		else if (q->timed_out)
			snprintf(msg, sizeof(msg), "redis %s: no reply within %d ms", where(ar),
				 ar->timeout_ms);
		else
			snprintf(msg, sizeof(msg), "redis %s: %s", where(ar),
				 ac->errstr[0] ? ac->errstr : "connection lost");
		pr_ks_errmsg_set(msg);
	} else if (q->wait && q->exec_rc < 0) {
		rc = q->exec_rc; /* its message was set when EXEC's reply came */
	} else if (q->wait) {
		/* WAIT's reply: how many replicas acknowledged the write within the timeout.
		 * Fewer than asked: the write is on the primary only and would be lost with it,
		 * so the device is told to retry (503) rather than that it succeeded. */
		const struct sp_config *cfg = &ar->s->cfg;
		long long got = rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
		if (got < (long long)cfg->redis_wait_replicas) {
			char msg[160];
			snprintf(msg, sizeof(msg),
				 "redis WAIT: %lld of %u replicas acknowledged within %u ms", got,
				 cfg->redis_wait_replicas, cfg->redis_wait_timeout_ms);
			pr_ks_errmsg_set(msg);
			rc = -EAGAIN;
		}
	}
	if (rep && rc != -ETIMEDOUT)
		/* Redis answers: the synchronous connection need not hold back any longer
		 * (pr_redis_set_slow_cooldown, sp_main.c) */
		pr_redis_cooldown_end(ar->s->redis);
	q->fn(ar->s, rep, rc, q->arg);
	req_free(q);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	finish(ac, priv, reply);
}

/* The reply of the WAIT queued after a loop pass's durable writes: it counts the replicas
 * that have every write before it, so it answers each of them. */
static void on_wait(redisAsyncContext *ac, void *reply, void *priv)
{
	for (struct sp_areq *q = priv, *n; q; q = n) {
		n = q->wnext;
		finish(ac, q, reply);
	}
}

/* A durable write's EXEC reply: kept for WAIT's, which finishes the request. */
static void on_exec(redisAsyncContext *ac, void *reply, void *priv)
{
	struct sp_areq *q = priv;
	struct sp_aredis *ar = q->ar;
	redisReply *rep = reply;
	if (!q->wait_queued) {
		/* the connection went before the pass ended: no WAIT will answer it */
		struct sp_areq **p = &ar->wait_first;
		while (*p && *p != q)
			p = &(*p)->wnext;
		if (*p) {
			*p = q->wnext;
			if (!*p)
				ar->wait_last = p;
		}
		return finish(ac, q, rep);
	}
	if (q->wait_failed) /* (its EXEC's reply: a NULL one would mean a torn down context) */
		return finish(ac, q, rep);
	q->exec_seen = true;
	q->exec_rc = rep ? reply_rc(rep, false) : 0; /* NULL: WAIT's reply is NULL too */
	q->exec_demoted = demoted_reply(ar, rep);
	if (q->exec_rc < 0) {
		char msg[640];
		snprintf(msg, sizeof(msg), "redis: %s", pr_redis_reply_error(rep)->str);
		pr_ks_errmsg_set(msg);
	}
}

static void on_auth(redisAsyncContext *ac, void *reply, void *priv)
{
	struct sp_aredis *ar = priv;
	redisReply *rep = reply;
	(void)ac;
	if (rep && rep->type == REDIS_REPLY_ERROR && !ar->auth_failed_logged) {
		ar->auth_failed_logged = true;
		/* the server's message names neither the password nor anything derived */
		PR_ERR("redis AUTH (async connection) refused: %s", rep->str);
	}
}

/* The first line of the password file, as pr_redis_auth reads it. */
static int read_password(const char *file, char *out, size_t len)
{
	FILE *f = fopen(file, "re");
	if (!f)
		return -errno;
	if (!fgets(out, (int)len, f))
		out[0] = '\0';
	fclose(f);
	out[strcspn(out, "\r\n")] = '\0';
	return out[0] ? 0 : -EINVAL;
}

/* Commands leave at the end of the loop pass that queued them, written by ev_flush (an
 * internal event at the flows' priority, so it runs after the callbacks already active in
 * the pass), not on the socket's write event: arming and disarming that costs two
 * epoll_ctl and one more loop pass per batch. hiredis asks for the write through the
 * adapter's addWrite, wrapped here. Before the connection is up (hiredis finishes the
 * connect on the socket's write event), and when a write leaves something unsent (the
 * flush asks again, inside), the adapter's event is armed as before. */
static void add_write(void *priv)
{
	redisLibeventEvents *le = priv;
	redisAsyncContext *ac = le->context;
	struct sp_aredis *ar = ac->data;
	if (!ar || ar->flushing || !(ac->c.flags & REDIS_CONNECTED)) {
		if (ar)
			ar->adapter_add_write(priv);
		return;
	}
	if (!ar->flush_active) {
		ar->flush_active = true;
		event_active(ar->ev_flush, EV_WRITE, 0);
	}
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct sp_aredis *ar = arg;
	(void)fd;
	(void)what;
	ar->flush_active = false;
	if (!ar->ac)
		return;
	if (ar->wait_first) {
		/* one WAIT for the pass's durable writes, after the last of them */
		const struct sp_config *cfg = &ar->s->cfg;
		struct sp_areq *g = ar->wait_first;
		ar->wait_first = NULL;
		ar->wait_last = &ar->wait_first;
		bool ok =
		    redisAsyncCommand(ar->ac, on_wait, g, "WAIT %u %u", cfg->redis_wait_replicas,
				      cfg->redis_wait_timeout_ms) == REDIS_OK;
		for (struct sp_areq *q = g; q; q = q->wnext) {
			q->wait_queued = true;
			q->wait_failed = !ok; /* their EXEC replies finish them */
		}
		if (!ar->ac || !(ar->ac->c.flags & REDIS_CONNECTED))
			return; /* (the adapter's write event sends it once connected) */
	}
	ar->flushing = true;
	redisAsyncHandleWrite(ar->ac); /* on a write error the context goes (on_disconnect) */
	ar->flushing = false;
}

/* The length of the first command in buf (hiredis's format: "*<argc>\r\n", then each
 * argument as "$<len>\r\n<bytes>\r\n"); 0 when malformed. */
static size_t first_cmd_len(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	if (len < 4 || *p != '*')
		return 0;
	long argc = strtol(p + 1, (char **)&p, 10);
	if (argc < 1 || end - p < 2 || p[0] != '\r' || p[1] != '\n')
		return 0;
	p += 2;
	for (long i = 0; i < argc; i++) {
		if (end - p < 4 || *p != '$')
			return 0;
		long n = strtol(p + 1, (char **)&p, 10);
		if (n < 0 || end - p < 2 + n + 2 || p[0] != '\r' || p[1] != '\n')
			return 0;
		p += 2 + n;
		if (p[0] != '\r' || p[1] != '\n')
			return 0;
		p += 2;
	}
	return (size_t)(p - buf);
}

/* q's commands again, as they were, on the connection just made: the replies of all but
 * the last are not wanted (as pr_redis_async_tx queues them), the last one finishes q. */
static int resend(struct sp_aredis *ar, struct sp_areq *q)
{
	size_t off = 0;
	while (off < q->cmd_len) {
		size_t n = first_cmd_len(q->cmd + off, q->cmd_len - off);
		if (!n)
			return -EINVAL;
		bool last = off + n == q->cmd_len;
		redisCallbackFn *fn = !last ? NULL : q->wait ? on_exec : on_reply;
		if (redisAsyncFormattedCommand(ar->ac, fn, last ? q : NULL, q->cmd + off, n) !=
		    REDIS_OK)
			return -EIO;
		off += n;
	}
	return 0;
}

static void req_track(struct sp_aredis *ar, struct sp_areq *q);
static void wait_add(struct sp_aredis *ar, struct sp_areq *q);

/* The held requests, in their order, on the new connection (before anything newer). */
static void replay_held(struct sp_aredis *ar)
{
	struct sp_areq *q, *n;
	unsigned count = 0;
	for (q = ar->held, ar->held = NULL; q; q = n) {
		n = q->next;
		q->next = NULL;
		int rc = ar->ac ? resend(ar, q) : -EIO;
		if (rc < 0) { /* (a context that refuses commands: it is going) */
			pr_ks_errmsg_set("redis: could not send the request again");
			q->fn(ar->s, NULL, -EIO, q->arg);
			req_free(q);
			continue;
		}
		q->replayed = true;
		q->sent_ms = sp_now_ms();
		req_track(ar, q);
		if (q->wait)
			wait_add(ar, q);
		count++;
	}
	if (count)
		PR_NOTICE("redis %s: %u request%s in flight at the loss sent again", where(ar),
			  count, count == 1 ? "" : "s");
}

static int ensure_connected(struct sp_aredis *ar)
{
	if (!ar) { /* not opened (a unit test's server) */
		pr_ks_errmsg_set("redis: no asynchronous connection");
		return -EIO;
	}
	if (ar->closing) {
		pr_ks_errmsg_set("redis: closing");
		return -EIO;
	}
	/* the sentinels named another primary since this connection was made (not inside one
	 * of its callbacks: the held would follow this request; on_timer sees it soon) */
	if (ar->ac && ar->epoch != pr_redis_primary_epoch() &&
	    !(ar->ac->c.flags & REDIS_IN_CALLBACK))
		drop(ar, "the sentinels named a new primary", true);
	if (ar->ac)
		return 0;
	const struct sp_config *cfg = &ar->s->cfg;
	redisAsyncContext *ac;
	/* read before asking: a move during the discovery is seen at the next check */
	unsigned epoch = pr_redis_primary_epoch();
	if (pr_redis_is_sentinel(cfg->redis_socket)) {
		int64_t now = sp_now_ms();
		if (now < ar->discover_after_ms)
			return ar->discover_rc; /* the message of the last attempt still holds */
		/* the synchronous client asks the sentinels, authenticates and checks ROLE */
		struct pr_redis *r = pr_redis_open(cfg->redis_socket, cfg->redis_user,
						   cfg->redis_password_file, ar->timeout_ms);
		char host[64], msg[640];
		int port = 0;
		if (!r || pr_redis_primary(r, host, sizeof(host), &port) < 0) {
			snprintf(msg, sizeof(msg), "%s",
				 r ? pr_redis_errmsg(r) : pr_redis_errmsg(NULL));
			pr_ks_errmsg_set(msg);
			pr_redis_close(r);
			ar->discover_after_ms = sp_now_ms() + SENTINEL_RETRY_MS;
			ar->discover_rc = -EIO;
			return -EIO;
		}
		pr_redis_close(r);
		ac = redisAsyncConnect(host, port);
		if (ac && !ac->err)
			snprintf(ar->primary, sizeof(ar->primary),
				 strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
	} else {
		ar->primary[0] = '\0';
		ac = redisAsyncConnectUnix(cfg->redis_socket);
	}
	if (!ac)
		return -ENOMEM;
	if (ac->err) {
		int rc = strstr(ac->errstr, "refused")	      ? -ECONNREFUSED
			 : strstr(ac->errstr, "No such file") ? -ENOENT
							      : -EIO;
		char msg[640];
		snprintf(msg, sizeof(msg), "redis %s: %s", where(ar), ac->errstr);
		pr_ks_errmsg_set(msg);
		redisAsyncFree(ac);
		/* a request answered 503 sees the same errno a synchronous command would */
		return rc == -ENOENT ? -EIO : rc;
	}
	ac->data = ar;
	if (redisLibeventAttach(ac, ar->s->base) != REDIS_OK) {
		redisAsyncFree(ac);
		return -EIO;
	}
	/* ahead of the flows' events (sp_server_open): a reply finishes a request */
	redisLibeventEvents *le = ac->ev.data;
	event_priority_set(le->rev, 0);
	event_priority_set(le->wev, 0);
	ar->adapter_add_write = ac->ev.addWrite;
	ac->ev.addWrite = add_write;
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	if (cfg->redis_user[0] || cfg->redis_password_file[0]) {
		char pw[512];
		if (read_password(cfg->redis_password_file, pw, sizeof(pw)) < 0) {
			explicit_bzero(pw, sizeof(pw));
			redisAsyncFree(ac);
			return -EACCES;
		}
		/* queued first: every command after it runs authenticated */
		int rc = cfg->redis_user[0]
			     ? redisAsyncCommand(ac, on_auth, ar, "AUTH %s %s", cfg->redis_user, pw)
			     : redisAsyncCommand(ac, on_auth, ar, "AUTH %s", pw);
		explicit_bzero(pw, sizeof(pw));
		if (rc != REDIS_OK) {
			redisAsyncFree(ac);
			return -EIO;
		}
	}
	ar->ac = ac;
	ar->epoch = epoch;
	replay_held(ar);
	return 0;
}

static struct sp_areq *req_new(struct sp_aredis *ar, sp_aredis_fn *fn, void *arg)
{
	struct sp_areq *q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->ar = ar;
	q->fn = fn;
	q->arg = arg;
	q->sent_ms = sp_now_ms();
	q->seq = ++ar->seq;
	return q;
}

static void req_track(struct sp_aredis *ar, struct sp_areq *q)
{
	if (ar->tail)
		ar->tail->next = q;
	else
		ar->head = q;
	ar->tail = q;
}

/* q was just queued: with SP_AREDIS_REPLAY, what that added to the connection's output
 * buffer (nothing is written before the loop runs on_flush) is kept for a replay. Out of
 * memory: q is not replayed. */
static void keep_cmds(struct sp_aredis *ar, struct sp_areq *q, unsigned flags, size_t from)
{
	size_t to = sdslen(ar->ac->c.obuf);
	if (!(flags & SP_AREDIS_REPLAY) || to <= from)
		return;
	q->cmd = malloc(to - from);
	if (q->cmd) {
		memcpy(q->cmd, ar->ac->c.obuf + from, to - from);
		q->cmd_len = to - from;
	}
}

/* A durable write's WAIT: after the pass's last durable write (on_flush queues it). */
static void wait_add(struct sp_aredis *ar, struct sp_areq *q)
{
	*ar->wait_last = q;
	ar->wait_last = &q->wnext;
	if (!ar->flush_active) {
		ar->flush_active = true;
		event_active(ar->ev_flush, EV_WRITE, 0);
	}
}

static int send_tx(struct sp_server *s, const struct pr_redis_tx *tx, unsigned flags, bool durable,
		   sp_aredis_fn *fn, void *arg)
{
	struct sp_aredis *ar = s->ar;
	int rc = ensure_connected(ar);
	if (rc < 0)
		return rc;
	struct sp_areq *q = req_new(ar, fn, arg);
	if (!q)
		return -ENOMEM;
	q->wait = durable;
	size_t from = sdslen(ar->ac->c.obuf);
	rc = pr_redis_async_tx(ar->ac, tx, durable ? on_exec : on_reply, q);
	if (rc < 0) {
		free(q);
		return rc;
	}
	keep_cmds(ar, q, flags, from);
	req_track(ar, q);
	/* A durable write's WAIT goes in the same write, after the pass's last durable write:
	 * one WAIT answers them all (it returns once enough replicas acknowledged the offset
	 * of every write before it). A WAIT per write would hold the connection one replica
	 * round trip per write: Redis runs a connection's commands in order, and WAIT blocks
	 * it. */
	if (durable)
		wait_add(ar, q);
	return 0;
}

int sp_aredis_tx(struct sp_server *s, const struct pr_redis_tx *tx, unsigned flags,
		 sp_aredis_fn *fn, void *arg)
{
	return send_tx(s, tx, flags, false, fn, arg);
}

int sp_aredis_tx_durable(struct sp_server *s, const struct pr_redis_tx *tx, unsigned flags,
			 sp_aredis_fn *fn, void *arg)
{
	return send_tx(s, tx, flags, s->cfg.redis_wait_replicas > 0, fn, arg);
}

int sp_aredis_cmd(struct sp_server *s, unsigned flags, sp_aredis_fn *fn, void *arg, const char *fmt,
		  ...)
{
	struct sp_aredis *ar = s->ar;
	int rc = ensure_connected(ar);
	if (rc < 0)
		return rc;
	struct sp_areq *q = req_new(ar, fn, arg);
	if (!q)
		return -ENOMEM;
	size_t from = sdslen(ar->ac->c.obuf);
	va_list ap;
	va_start(ap, fmt);
	rc = redisvAsyncCommand(ar->ac, on_reply, q, fmt, ap);
	va_end(ap);
	if (rc != REDIS_OK) {
		free(q);
		return -EIO;
	}
	keep_cmds(ar, q, flags, from);
	req_track(ar, q);
	return 0;
}

/* The held requests waiting longer than replay_ms (all: closing) fail as without replay.
 * Taken off the list first: a callback may send, and so reconnect and replay the rest. */
static void expire_held(struct sp_aredis *ar, bool all)
{
	int64_t now = sp_now_ms();
	struct sp_areq *gone = NULL, **last = &gone, **p = &ar->held;
	while (*p) {
		struct sp_areq *q = *p;
		if (!all && now - q->held_ms < ar->replay_ms) {
			p = &q->next;
			continue;
		}
		*p = q->next;
		q->next = NULL;
		*last = q;
		last = &q->next;
	}
	for (struct sp_areq *q = gone, *n; q; q = n) {
		n = q->next;
		char msg[400];
		snprintf(msg, sizeof(msg), "redis %s: connection lost, no primary within %u ms",
			 where(ar), ar->replay_ms);
		pr_ks_errmsg_set(msg);
		q->fn(ar->s, NULL, -EIO, q->arg);
		req_free(q);
	}
}

/* Right after a loss that left requests held: reconnect (which replays them). */
static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct sp_aredis *ar = arg;
	(void)fd;
	(void)what;
	if (ar->held && !ar->ac)
		ensure_connected(ar);
	else if (ar->held) /* a request sent from a callback of the lost one reconnected */
		replay_held(ar);
}

/* Every 100 ms: held requests past their window fail, a connection the primary epoch left
 * behind goes, held requests get a new connection (ensure_connected replays them; under
 * Sentinel it asks again only SENTINEL_RETRY_MS after a failed discovery), and the oldest
 * command waiting longer than the timeout closes the connection. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct sp_aredis *ar = arg;
	(void)fd;
	(void)what;
	if (ar->held)
		expire_held(ar, false);
	if (ar->ac && ar->epoch != pr_redis_primary_epoch())
		drop(ar, "the sentinels named a new primary", true);
	if (ar->held && !ar->ac)
		ensure_connected(ar);
	else if (ar->held)
		replay_held(ar);
	if (!ar->ac || !ar->head || sp_now_ms() - ar->head->sent_ms < ar->timeout_ms)
		return;
	/* what Redis did answer (a busy loop may not have read it yet) is not a timeout */
	struct pollfd pfd = {.fd = ar->ac->c.fd, .events = POLLIN};
	if (poll(&pfd, 1, 0) == 1) {
		redisAsyncHandleRead(ar->ac);
		if (!ar->ac || !ar->head || sp_now_ms() - ar->head->sent_ms < ar->timeout_ms)
			return;
	}
	for (struct sp_areq *q = ar->head; q; q = q->next)
		q->timed_out = true;
	redisAsyncContext *ac = ar->ac;
	ar->ac = NULL;
	redisAsyncFree(ac); /* runs every pending continuation with -ETIMEDOUT */
}

int sp_aredis_open(struct sp_server *s, int timeout_ms)
{
	struct sp_aredis *ar = calloc(1, sizeof(*ar));
	if (!ar)
		return -ENOMEM;
	ar->s = s;
	ar->timeout_ms = timeout_ms;
	ar->replay_ms = s->cfg.redis_replay_ms;
	ar->wait_last = &ar->wait_first;
	ar->ev_timer = event_new(s->base, -1, EV_PERSIST, on_timer, ar);
	ar->ev_flush = event_new(s->base, -1, 0, on_flush, ar);
	ar->ev_retry = event_new(s->base, -1, 0, on_retry, ar);
	struct timeval tv = {0, 100000};
	if (!ar->ev_timer || !ar->ev_flush || !ar->ev_retry || event_add(ar->ev_timer, &tv) < 0) {
		if (ar->ev_timer)
			event_free(ar->ev_timer);
		if (ar->ev_flush)
			event_free(ar->ev_flush);
		if (ar->ev_retry)
			event_free(ar->ev_retry);
		free(ar);
		return -ENOMEM;
	}
	s->ar = ar;
	/* connected now so a misconfiguration shows at start; a failure here is retried on
	 * the first request like any later loss */
	ensure_connected(ar);
	return 0;
}

void sp_aredis_close(struct sp_server *s)
{
	struct sp_aredis *ar = s->ar;
	if (!ar)
		return;
	ar->closing = true; /* nothing is held from here on */
	if (ar->ac) {
		redisAsyncContext *ac = ar->ac;
		ar->ac = NULL;
		redisAsyncFree(ac); /* pending continuations run with -EIO */
	}
	expire_held(ar, true);
	event_free(ar->ev_timer);
	event_free(ar->ev_flush);
	event_free(ar->ev_retry);
	free(ar);
	s->ar = NULL;
}
