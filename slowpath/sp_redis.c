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
 * asked again for SENTINEL_RETRY_MS). A READONLY reply (the primary was demoted) drops the
 * connection so that the next command asks the sentinels again. Requests in flight when the
 * connection goes get 503 and Retry-After, as with Redis away: the devices send them again. */
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
	/* a durable write (sp_aredis_tx_durable): its EXEC's result, then the reply of the
	 * WAIT that follows the loop pass's last durable write (wait_queued: it is queued;
	 * wait_failed: it could not be) */
	bool wait, exec_seen, wait_queued, wait_failed;
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
};

static const char *where(const struct sp_aredis *ar)
{
	return ar->primary[0] ? ar->primary : ar->s->cfg.redis_socket;
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
	if (rc == -EROFS && ar->ac == ac) {
		/* the primary became a replica: the next command asks the sentinels again */
		PR_WARN("redis %s: READONLY (now a replica): reconnecting", where(ar));
		ar->ac = NULL;
		ar->primary[0] = '\0';
		redisAsyncDisconnect(ac);
	}
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
	q->fn(ar->s, rep, rc, q->arg);
	free(q);
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

static int ensure_connected(struct sp_aredis *ar)
{
	if (!ar) { /* not opened (a unit test's server) */
		pr_ks_errmsg_set("redis: no asynchronous connection");
		return -EIO;
	}
	if (ar->ac)
		return 0;
	const struct sp_config *cfg = &ar->s->cfg;
	redisAsyncContext *ac;
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

int sp_aredis_tx(struct sp_server *s, const struct pr_redis_tx *tx, sp_aredis_fn *fn, void *arg)
{
	struct sp_aredis *ar = s->ar;
	int rc = ensure_connected(ar);
	if (rc < 0)
		return rc;
	struct sp_areq *q = req_new(ar, fn, arg);
	if (!q)
		return -ENOMEM;
	rc = pr_redis_async_tx(ar->ac, tx, on_reply, q);
	if (rc < 0) {
		free(q);
		return rc;
	}
	req_track(ar, q);
	return 0;
}

int sp_aredis_tx_durable(struct sp_server *s, const struct pr_redis_tx *tx, sp_aredis_fn *fn,
			 void *arg)
{
	const struct sp_config *cfg = &s->cfg;
	if (!cfg->redis_wait_replicas)
		return sp_aredis_tx(s, tx, fn, arg);
	struct sp_aredis *ar = s->ar;
	int rc = ensure_connected(ar);
	if (rc < 0)
		return rc;
	struct sp_areq *q = req_new(ar, fn, arg);
	if (!q)
		return -ENOMEM;
	q->wait = true;
	rc = pr_redis_async_tx(ar->ac, tx, on_exec, q);
	if (rc < 0) {
		free(q);
		return rc;
	}
	/* Its WAIT goes in the same write, after the pass's last durable write: one WAIT
	 * answers them all (it returns once enough replicas acknowledged the offset of every
	 * write before it). A WAIT per write would hold the connection one replica round trip
	 * per write: Redis runs a connection's commands in order, and WAIT blocks it. */
	*ar->wait_last = q;
	ar->wait_last = &q->wnext;
	req_track(ar, q);
	if (!ar->flush_active) {
		ar->flush_active = true;
		event_active(ar->ev_flush, EV_WRITE, 0);
	}
	return 0;
}

int sp_aredis_cmd(struct sp_server *s, sp_aredis_fn *fn, void *arg, const char *fmt, ...)
{
	struct sp_aredis *ar = s->ar;
	int rc = ensure_connected(ar);
	if (rc < 0)
		return rc;
	struct sp_areq *q = req_new(ar, fn, arg);
	if (!q)
		return -ENOMEM;
	va_list ap;
	va_start(ap, fmt);
	rc = redisvAsyncCommand(ar->ac, on_reply, q, fmt, ap);
	va_end(ap);
	if (rc != REDIS_OK) {
		free(q);
		return -EIO;
	}
	req_track(ar, q);
	return 0;
}

/* Every 100 ms: the oldest command waiting longer than the timeout closes the connection. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct sp_aredis *ar = arg;
	(void)fd;
	(void)what;
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
	ar->wait_last = &ar->wait_first;
	ar->ev_timer = event_new(s->base, -1, EV_PERSIST, on_timer, ar);
	ar->ev_flush = event_new(s->base, -1, 0, on_flush, ar);
	struct timeval tv = {0, 100000};
	if (!ar->ev_timer || !ar->ev_flush || event_add(ar->ev_timer, &tv) < 0) {
		if (ar->ev_timer)
			event_free(ar->ev_timer);
		if (ar->ev_flush)
			event_free(ar->ev_flush);
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
	if (ar->ac) {
		redisAsyncContext *ac = ar->ac;
		ar->ac = NULL;
		redisAsyncFree(ac); /* pending continuations run with -EIO */
	}
	event_free(ar->ev_timer);
	event_free(ar->ev_flush);
	free(ar);
	s->ar = NULL;
}
