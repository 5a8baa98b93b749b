/* SPDX-License-Identifier: BSD-3-Clause */
#include "common/redis.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/async.h>
#include <pthread.h>

#include "common/log.h"

#define SENTINEL_PREFIX "sentinel:"

/* A parsed sentinel target: "sentinel:<master>@<host>:<port>,<host>:<port>,..." */
struct sentinels {
	char master[64];
	int n;
	struct {
		char host[64];
		int port;
	} s[PR_REDIS_SENTINELS_MAX];
};

struct pr_redis {
	redisContext *c;
	char path[PR_REDIS_TARGET_MAX];
	int timeout_ms;
	char user[64];
	char *password; /* only to re-authenticate after a reconnect; wiped on close */
	char err[512];
	/* sentinel mode: the parsed target, the sentinel that answered last (asked first next
	 * time), the primary connected to, and whether ROLE is still to be checked (the first
	 * connect comes before AUTH) */
	bool sentinel;
	struct sentinels st;
	int sent_next;
	char addr[80], host[64];
	int port;
	bool role_unchecked;
	/* the primary epoch when the context was (re)opened, and when pr_redis_connect opened
	 * it (pr_redis_stale); a failed follow is tried again at follow_retry_ms at the
	 * earliest, not before every command */
	unsigned epoch, open_epoch;
	uint64_t follow_retry_ms;
	/* pr_redis_set_slow_cooldown: after a command timed out, none is sent (nor a reconnect
	 * tried) before cool_until_ms */
	int cooldown_ms;
	uint64_t cool_until_ms;
};

struct pr_redis_tx {
	size_t n, cap;
	char **cmd;
	size_t *len;
	int bad; /* a command failed to format: the run fails */
};

static __thread char connect_err[512];

const char *pr_redis_errmsg(const struct pr_redis *r)
{
	return r ? r->err : connect_err;
}

redisContext *pr_redis_ctx(struct pr_redis *r)
{
	return r->c;
}

const char *pr_redis_path(const struct pr_redis *r)
{
	return r->path;
}

static int open_unix(const char *path, int timeout_ms, redisContext **out, char *err, size_t errlen)
{
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	struct stat st;
	redisContext *c;
	int e;

	if (stat(path, &st) < 0) {
		e = errno;
		snprintf(err, errlen, "redis socket %s: %s", path, strerror(e));
		return -e;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "redis socket %s: not a unix socket", path);
		return -ENOTSOCK;
	}
	errno = 0;
	c = timeout_ms > 0 ? redisConnectUnixWithTimeout(path, tv) : redisConnectUnix(path);
	if (!c) {
		snprintf(err, errlen, "redis socket %s: out of memory", path);
		return -ENOMEM;
	}
	if (c->err) {
		e = errno;
		if (strstr(c->errstr, "refused"))
			e = ECONNREFUSED;
		else if (strstr(c->errstr, "ermission"))
			e = EACCES;
		else if (strstr(c->errstr, "timed out"))
			e = ETIMEDOUT;
		else if (e == 0)
			e = EIO;
		snprintf(err, errlen, "redis socket %s: %s", path, c->errstr);
		redisFree(c);
		return -e;
	}
	if (timeout_ms > 0 && redisSetTimeout(c, tv) != REDIS_OK) {
		snprintf(err, errlen, "redis socket %s: cannot set timeout", path);
		redisFree(c);
		return -EIO;
	}
	*out = c;
	return 0;
}

/* "host:port" or "[v6]:port" -> host, port; 0 or -EINVAL. */
static int parse_hostport(const char *v, size_t len, char *host, size_t hostlen, int *port)
{
	const char *colon, *h = v;
	size_t hl;
	char num[8], *end;
	long p;

	if (len && v[0] == '[') {
		const char *rb = memchr(v, ']', len);
		if (!rb || rb + 1 >= v + len || rb[1] != ':')
			return -EINVAL;
		h = v + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = NULL;
		for (size_t i = 0; i < len; i++)
			if (v[i] == ':')
				colon = v + i;
		if (!colon)
			return -EINVAL;
		hl = (size_t)(colon - v);
	}
	size_t pl = len - (size_t)(colon + 1 - v);
	if (hl == 0 || hl >= hostlen || pl == 0 || pl >= sizeof(num))
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = 0;
	for (size_t i = 0; i < hl; i++)
		if (!(host[i] == '.' || host[i] == '-' || host[i] == ':' ||
		      (host[i] >= '0' && host[i] <= '9') || (host[i] >= 'a' && host[i] <= 'z') ||
		      (host[i] >= 'A' && host[i] <= 'Z')))
			return -EINVAL;
	memcpy(num, colon + 1, pl);
	num[pl] = 0;
	p = strtol(num, &end, 10);
	if (*end || p < 1 || p > 65535)
		return -EINVAL;
	*port = (int)p;
	return 0;
}

static int parse_sentinels(const char *list, struct sentinels *out, char *err, size_t errlen)
{
	const char *p = list;

	out->n = 0;
	while (p && *p) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		while (len && (*p == ' ' || *p == '\t'))
			p++, len--;
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (out->n == PR_REDIS_SENTINELS_MAX) {
			snprintf(err, errlen, "more than %d sentinels", PR_REDIS_SENTINELS_MAX);
			return -EINVAL;
		}
		if (parse_hostport(p, len, out->s[out->n].host, sizeof(out->s[0].host),
				   &out->s[out->n].port) < 0) {
			snprintf(err, errlen, "'%.*s' is not host:port (port 1-65535)", (int)len,
				 p);
			return -EINVAL;
		}
		out->n++;
		p = e ? e + 1 : NULL;
	}
	if (out->n == 0) {
		snprintf(err, errlen,
			 "empty, expected host:port of each sentinel, comma-separated (required "
			 "with master_name)");
		return -EINVAL;
	}
	return 0;
}

static int check_master_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 63)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!(name[i] == '.' || name[i] == '-' || name[i] == '_' ||
		      (name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'z') ||
		      (name[i] >= 'A' && name[i] <= 'Z')))
			return -EINVAL;
	return 0;
}

int pr_redis_sentinel_target(char *out, size_t outlen, const char *sentinels,
			     const char *master_name, char *err, size_t errlen)
{
	struct sentinels st;
	char why[160];
	int n;

	if (!master_name || check_master_name(master_name) < 0) {
		snprintf(err, errlen,
			 "[redis] master_name: 1-63 characters of A-Z a-z 0-9 . _ - "
			 "(required with sentinels)");
		return -EINVAL;
	}
	if (parse_sentinels(sentinels ? sentinels : "", &st, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "[redis] sentinels: %s", why);
		return -EINVAL;
	}
	n = snprintf(out, outlen, SENTINEL_PREFIX "%s@", master_name);
	for (int i = 0; i < st.n && n >= 0 && (size_t)n < outlen; i++)
		n += snprintf(out + n, outlen - (size_t)n,
			      strchr(st.s[i].host, ':') ? "%s[%s]:%d" : "%s%s:%d", i ? "," : "",
			      st.s[i].host, st.s[i].port);
	if (n < 0 || (size_t)n >= outlen) {
		snprintf(err, errlen, "[redis] sentinels: the list is too long");
		return -EINVAL;
	}
	return 0;
}

bool pr_redis_is_sentinel(const char *target)
{
	return target && strncmp(target, SENTINEL_PREFIX, strlen(SENTINEL_PREFIX)) == 0;
}

static int parse_target(const char *target, struct sentinels *st, char *err, size_t errlen)
{
	const char *at = strchr(target, '@');
	const char *name = target + strlen(SENTINEL_PREFIX);

	if (!at || (size_t)(at - name) >= sizeof(st->master)) {
		snprintf(err, errlen, "redis target %s: no master name", target);
		return -EINVAL;
	}
	memcpy(st->master, name, (size_t)(at - name));
	st->master[at - name] = 0;
	if (check_master_name(st->master) < 0 || parse_sentinels(at + 1, st, err, errlen) < 0) {
		snprintf(err, errlen, "redis target %s: malformed", target);
		return -EINVAL;
	}
	return 0;
}

int pr_redis_sentinel_reply(const redisReply *rep, char *host, size_t hostlen, int *port)
{
	char *end;
	long p;

	if (!rep || rep->type == REDIS_REPLY_NIL)
		return -ENOENT; /* the sentinel does not know the name */
	if (rep->type == REDIS_REPLY_ERROR)
		return pr_redis_reply_errno(rep->str);
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
	    rep->element[0]->type != REDIS_REPLY_STRING ||
	    rep->element[1]->type != REDIS_REPLY_STRING || rep->element[0]->len == 0 ||
	    rep->element[0]->len >= hostlen)
		return -EBADMSG;
	p = strtol(rep->element[1]->str, &end, 10);
	if (*end || p < 1 || p > 65535)
		return -EBADMSG;
	memcpy(host, rep->element[0]->str, rep->element[0]->len);
	host[rep->element[0]->len] = 0;
	*port = (int)p;
	return 0;
}

int pr_redis_role_reply(const redisReply *rep)
{
	if (!rep)
		return -EIO;
	if (rep->type == REDIS_REPLY_ERROR)
		return pr_redis_reply_errno(rep->str);
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 ||
	    (rep->element[0]->type != REDIS_REPLY_STRING &&
	     rep->element[0]->type != REDIS_REPLY_STATUS))
		return -EBADMSG;
	return strcmp(rep->element[0]->str, "master") == 0 ? 1 : 0;
}

static redisContext *tcp_connect(const char *host, int port, int timeout_ms)
{
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	redisContext *c = redisConnectWithTimeout(host, port, tv);

	if (c && !c->err && redisSetTimeout(c, tv) != REDIS_OK) {
		redisFree(c);
		return NULL;
	}
	if (c && c->err) {
		redisFree(c);
		return NULL;
	}
	return c;
}

/* The process's last known primary, so that a move is logged once, not by every connection;
 * and the sentinel that told of the last +switch-master (up to date: it published it), asked
 * first by a connection that follows it. */
static pthread_mutex_t moved_lock = PTHREAD_MUTEX_INITIALIZER;
static char moved_addr[80], switch_via_host[64];
static int switch_via_port;

static unsigned primary_epoch;

unsigned pr_redis_primary_epoch(void)
{
	return __atomic_load_n(&primary_epoch, __ATOMIC_ACQUIRE);
}

static void primary_moved(const char *master, const char *addr, const char *how)
{
	/* logged first: the lines of the connections that follow come after it */
	PR_WARN("redis: %s: the primary of %s is now %s (epoch %u): its connections reconnect "
		"through the sentinels",
		how, master, addr, pr_redis_primary_epoch() + 1);
	__atomic_add_fetch(&primary_epoch, 1, __ATOMIC_ACQ_REL);
}

void pr_redis_primary_moved(const char *master, const char *addr)
{
	primary_moved(master, addr, "+switch-master");
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void note_primary(const struct pr_redis *r, const char *addr, const char *via)
{
	pthread_mutex_lock(&moved_lock);
	if (strcmp(moved_addr, addr) != 0) {
		if (moved_addr[0])
			PR_WARN("redis: primary of %s moved from %s to %s (sentinel %s)",
				r->st.master, moved_addr, addr, via);
		else
			PR_INFO("redis: primary of %s is %s (sentinel %s)", r->st.master, addr,
				via);
		snprintf(moved_addr, sizeof(moved_addr), "%s", addr);
	}
	pthread_mutex_unlock(&moved_lock);
}

static int auth_ctx(redisContext *c, const char *user, const char *password, char *err,
		    size_t errlen);
static int role_of(redisContext *c);

/* Asks the sentinels in turn (the one that answered last first) for the primary, connects
 * to it, authenticates when a password is known and checks that ROLE says master (a
 * sentinel that has not seen the failover yet names the old primary, now a replica, or
 * a dead one). */
static int sentinel_open(struct pr_redis *r, redisContext **out, char *err, size_t errlen)
{
	const struct sentinels *st = &r->st;
	int tmo = r->timeout_ms > 0 && r->timeout_ms < 500 ? r->timeout_ms : 500;
	char last[200] = "no sentinel answered";
	int first = r->sent_next, via_k = -1;

	/* After a +switch-master the sentinel that published it is asked first: it names the
	 * new primary, while another may not have heard of the failover yet and name the old
	 * one, which says master to ROLE until the sentinels demote it. */
	pthread_mutex_lock(&moved_lock);
	for (int i = 0; i < st->n; i++)
		if (st->s[i].port == switch_via_port && !strcmp(st->s[i].host, switch_via_host))
			first = via_k = i;
	pthread_mutex_unlock(&moved_lock);
	for (int i = 0; i < st->n; i++) {
		int k = (first + i) % st->n;
		char host[64], addr[80], via[80];
		int port, rc;
		redisContext *s = tcp_connect(st->s[k].host, st->s[k].port, tmo), *c;
		redisReply *rep;

		snprintf(via, sizeof(via), "%s:%d", st->s[k].host, st->s[k].port);
		if (!s) {
			snprintf(last, sizeof(last), "sentinel %s unreachable", via);
			if (k == via_k) { /* not first again: each connect would wait for it */
				pthread_mutex_lock(&moved_lock);
				switch_via_host[0] = 0;
				pthread_mutex_unlock(&moved_lock);
			}
			continue;
		}
		rep = redisCommand(s, "SENTINEL get-master-addr-by-name %s", st->master);
		rc = pr_redis_sentinel_reply(rep, host, sizeof(host), &port);
		if (rc < 0)
			snprintf(last, sizeof(last), "sentinel %s: %s", via,
				 rc == -ENOENT ? "does not know the master name"
				 : rep && rep->type == REDIS_REPLY_ERROR ? rep->str
									 : "no usable answer");
		if (rep)
			freeReplyObject(rep);
		redisFree(s);
		if (rc < 0)
			continue;
		snprintf(addr, sizeof(addr), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
		c = tcp_connect(host, port, r->timeout_ms > 0 ? r->timeout_ms : 2000);
		if (!c) {
			snprintf(last, sizeof(last), "sentinel %s names %s, unreachable", via,
				 addr);
			continue;
		}
		r->role_unchecked = false;
		if (r->password && auth_ctx(c, r->user, r->password, err, errlen) < 0) {
			redisFree(c);
			return -EACCES; /* the same everywhere: no use asking further */
		}
		rc = role_of(c);
		if (rc == 0 || rc == -EIO) {
			snprintf(last, sizeof(last), "sentinel %s names %s, %s", via, addr,
				 rc == 0 ? "not a master (yet)" : "which does not answer");
			redisFree(c);
			continue;
		}
		/* NOAUTH: checked after pr_redis_auth; NOPERM (a user without +role): the
		 * sentinel's word and a READONLY reply later are what there is */
		r->role_unchecked = rc == -EACCES && !r->password;
		r->sent_next = k;
		snprintf(r->addr, sizeof(r->addr), "%s", addr);
		snprintf(r->host, sizeof(r->host), "%s", host);
		r->port = port;
		note_primary(r, addr, via);
		*out = c;
		return 0;
	}
	snprintf(err, errlen, "redis master %s: %s", st->master, last);
	return -EHOSTUNREACH;
}

static int role_of(redisContext *c)
{
	redisReply *rep = redisCommand(c, "ROLE");
	int rc = pr_redis_role_reply(rep);

	if (rep)
		freeReplyObject(rep);
	return rc;
}

static int auth_ctx(redisContext *c, const char *user, const char *password, char *err,
		    size_t errlen)
{
	redisReply *rep;
	int rc = 0;

	if (user[0])
		rep = redisCommand(c, "AUTH %s %s", user, password);
	else
		rep = redisCommand(c, "AUTH %s", password);
	if (!rep) {
		snprintf(err, errlen, "redis AUTH: %s", c->errstr);
		return -EIO;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		/* The server's message names neither the password nor anything derived from it. */
		snprintf(err, errlen, "redis AUTH as %s refused: %s", user[0] ? user : "default",
			 rep->str);
		rc = -EACCES;
	}
	freeReplyObject(rep);
	return rc;
}

static int reconnect(struct pr_redis *r);

static int open_ctx(struct pr_redis *r, redisContext **out, char *err, size_t errlen)
{
	if (r->sentinel)
		return sentinel_open(r, out, err, errlen);
	return open_unix(r->path, r->timeout_ms, out, err, errlen);
}

static int do_auth(struct pr_redis *r)
{
	int rc;

	if (!r->password)
		return 0;
	rc = auth_ctx(r->c, r->user, r->password, r->err, sizeof(r->err));
	if (rc == 0 && r->sentinel && r->role_unchecked) {
		/* the first connect could not ask ROLE before AUTH */
		r->role_unchecked = false;
		rc = role_of(r->c);
		if (rc == 0 || rc == -EIO)
			return reconnect(r); /* a stale sentinel: ask again */
		rc = 0;
	}
	return rc;
}

/* A write to a connection the server closed must come back as an I/O error (so the command
 * can be retried on a new connection), not kill the process. Leaves a handler alone. */
static void ignore_sigpipe(void)
{
	struct sigaction sa;

	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
		sa.sa_handler = SIG_IGN;
		sigaction(SIGPIPE, &sa, NULL);
	}
}

int pr_redis_connect(struct pr_redis **out, const char *path, int timeout_ms)
{
	struct pr_redis *r;
	int rc;

	*out = NULL;
	ignore_sigpipe();
	if (!path || !path[0] || strlen(path) >= sizeof(r->path)) {
		snprintf(connect_err, sizeof(connect_err), "redis socket path empty or too long");
		return -EINVAL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(connect_err, sizeof(connect_err), "out of memory");
		return -ENOMEM;
	}
	strcpy(r->path, path);
	r->timeout_ms = timeout_ms;
	r->epoch = r->open_epoch = pr_redis_primary_epoch();
	r->sentinel = pr_redis_is_sentinel(path);
	if (r->sentinel && parse_target(path, &r->st, connect_err, sizeof(connect_err)) < 0) {
		free(r);
		return -EINVAL;
	}
	rc = open_ctx(r, &r->c, connect_err, sizeof(connect_err));
	if (rc < 0) {
		free(r);
		return rc;
	}
	*out = r;
	return 0;
}

int pr_redis_auth(struct pr_redis *r, const char *user, const char *password_file)
{
	char line[512];
	FILE *f;
	size_t n;
	int rc, e;

	if (user && strlen(user) >= sizeof(r->user)) {
		snprintf(r->err, sizeof(r->err), "redis user name too long");
		return -EINVAL;
	}
	f = fopen(password_file, "re");
	if (!f) {
		e = errno;
		snprintf(r->err, sizeof(r->err), "redis password file %s: %s", password_file,
			 strerror(e));
		return -e;
	}
	if (!fgets(line, sizeof(line), f))
		line[0] = 0;
	fclose(f);
	n = strcspn(line, "\r\n");
	line[n] = 0;
	if (n == 0) {
		snprintf(r->err, sizeof(r->err), "redis password file %s is empty", password_file);
		return -EINVAL;
	}
	if (r->password) {
		explicit_bzero(r->password, strlen(r->password));
		free(r->password);
	}
	r->password = strdup(line);
	explicit_bzero(line, sizeof(line));
	if (!r->password)
		return -ENOMEM;
	snprintf(r->user, sizeof(r->user), "%s", user ? user : "");
	rc = do_auth(r);
	return rc;
}

void pr_redis_close(struct pr_redis *r)
{
	if (!r)
		return;
	if (r->c)
		redisFree(r->c);
	if (r->password) {
		explicit_bzero(r->password, strlen(r->password));
		free(r->password);
	}
	free(r);
}

int pr_redis_primary(const struct pr_redis *r, char *host, size_t hostlen, int *port)
{
	if (!r->sentinel)
		return -ENOENT;
	snprintf(host, hostlen, "%s", r->host);
	*port = r->port;
	return 0;
}

int pr_redis_sentinel_named(const struct pr_redis *r, char *host, size_t hostlen, int *port)
{
	if (!r->sentinel || r->st.n == 0)
		return -ENOENT;
	snprintf(host, hostlen, "%s", r->st.s[r->sent_next].host);
	*port = r->st.s[r->sent_next].port;
	return 0;
}

/* What to name in a message: the socket, or the primary the sentinels named. */
static const char *where(const struct pr_redis *r)
{
	return r->sentinel ? r->addr : r->path;
}

/* A READONLY reply: the server was a primary when connected to and is a replica now (a
 * failover happened, or a sentinel was behind): the command was not applied anywhere. */
static bool any_readonly(redisReply *const *rep, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const redisReply *e = rep[i] ? pr_redis_reply_error(rep[i]) : NULL;
		if (e && pr_redis_reply_errno(e->str) == -EROFS)
			return true;
	}
	return false;
}

static int is_io(const redisContext *c)
{
	return c->err == REDIS_ERR_IO || c->err == REDIS_ERR_EOF;
}

static int reconnect(struct pr_redis *r)
{
	unsigned epoch = pr_redis_primary_epoch(); /* before asking: a later move is seen */
	redisContext *c;
	int rc;

	rc = open_ctx(r, &c, r->err, sizeof(r->err));
	if (rc < 0)
		return rc;
	redisFree(r->c);
	r->c = c;
	r->epoch = epoch;
	/* sentinel_open authenticated it already when it knew the password */
	return r->sentinel ? 0 : do_auth(r);
}

bool pr_redis_stale(const struct pr_redis *r)
{
	return r && r->sentinel && r->open_epoch != pr_redis_primary_epoch();
}

/* Before a command: when a +switch-master moved the primary since this connection was
 * made, ask the sentinels again (ROLE-checked, as after a lost connection) rather than
 * send it to a primary that is being demoted. When that fails the command goes to the
 * connection there is (a READONLY or an I/O error asks again), and the sentinels are
 * asked again a second later at the earliest, not before every command. */
static void follow_primary(struct pr_redis *r)
{
	char was[sizeof(r->addr)];
	uint64_t now;

	if (!r->sentinel || r->epoch == pr_redis_primary_epoch())
		return;
	now = mono_ms();
	if (now < r->follow_retry_ms)
		return;
	snprintf(was, sizeof(was), "%s", r->addr);
	if (reconnect(r) == 0) {
		PR_INFO("redis: following +switch-master: connection to %s moved to %s before its "
			"next command",
			was, r->addr);
		return;
	}
	r->follow_retry_ms = now + 1000;
	PR_WARN("redis: the primary of %s moved (+switch-master) but %s: the next command goes "
		"to %s",
		r->st.master, r->err, was);
}

/* A command that got no reply within the timeout (hiredis reports the socket's EAGAIN as an
 * I/O error), as against a connection refused or closed. */
static bool timed_out(const redisContext *c)
{
	return c->err == REDIS_ERR_IO &&
	       (!strcmp(c->errstr, strerror(EAGAIN)) || !strcmp(c->errstr, strerror(EWOULDBLOCK)));
}

void pr_redis_set_slow_cooldown(struct pr_redis *r, int cooldown_ms)
{
	if (r)
		r->cooldown_ms = cooldown_ms > 0 ? cooldown_ms : 0;
}

bool pr_redis_cooling(const struct pr_redis *r)
{
	return r && r->cool_until_ms && mono_ms() < r->cool_until_ms;
}

void pr_redis_cooldown_end(struct pr_redis *r)
{
	if (r)
		r->cool_until_ms = 0;
}

/* Sends n formatted commands and reads n replies. On an I/O error, reconnects once and
 * replays (not after a timeout with a cooldown set: see pr_redis_set_slow_cooldown). On
 * success every replies[i] is set. */
static int run_formatted(struct pr_redis *r, size_t n, char *const *cmd, const size_t *len,
			 redisReply **replies)
{
	int attempt;
	size_t i;

	if (r->cool_until_ms) {
		uint64_t now = mono_ms();
		if (now < r->cool_until_ms) {
			snprintf(
			    r->err, sizeof(r->err),
			    "redis %s: no reply within %d ms lately: not asked again for %d ms",
			    where(r), r->timeout_ms, (int)(r->cool_until_ms - now));
			memset(replies, 0, n * sizeof(*replies));
			return -EIO;
		}
		r->cool_until_ms = 0;
	}
	follow_primary(r);
	for (attempt = 0; attempt < 2; attempt++) {
		memset(replies, 0, n * sizeof(*replies));
		if (attempt > 0) {
			uint64_t t0 = mono_ms();
			if (reconnect(r) < 0) {
				/* a reconnect that took half the timeout or more (an AUTH with no
				 * reply): slow, as above; a refused one is tried again next time */
				if (r->cooldown_ms && mono_ms() - t0 >= (uint64_t)r->timeout_ms / 2)
					r->cool_until_ms = mono_ms() + (uint64_t)r->cooldown_ms;
				return -EIO;
			}
		}
		if (r->c->err)
			continue; /* a context that failed before is unusable: reconnect */
		for (i = 0; i < n; i++)
			if (redisAppendFormattedCommand(r->c, cmd[i], len[i]) != REDIS_OK)
				break;
		if (i == n) {
			for (i = 0; i < n; i++) {
				void *rep = NULL;
				if (redisGetReply(r->c, &rep) != REDIS_OK || !rep)
					break;
				replies[i] = rep;
			}
			if (i == n && r->sentinel && any_readonly(replies, n)) {
				/* not applied: asked again of the primary the sentinels name now */
				snprintf(r->err, sizeof(r->err), "redis %s: now a replica",
					 where(r));
				for (i = 0; i < n; i++)
					freeReplyObject(replies[i]);
				continue;
			}
			if (i == n)
				return 0;
		}
		for (i = 0; i < n; i++)
			if (replies[i])
				freeReplyObject(replies[i]);
		snprintf(r->err, sizeof(r->err), "redis %s: %s", where(r), r->c->errstr);
		if (!is_io(r->c))
			break;
		if (r->cooldown_ms && (timed_out(r->c) || attempt > 0)) {
			/* Redis is slow, not gone: asking again (a reconnect's AUTH, then the
			 * command) would hold the caller another timeout or two, and the next
			 * command would too; the caller's loop gets on meanwhile */
			snprintf(r->err, sizeof(r->err), "redis %s: no reply within %d ms",
				 where(r), r->timeout_ms);
			r->cool_until_ms = mono_ms() + (uint64_t)r->cooldown_ms;
			break;
		}
	}
	memset(replies, 0, n * sizeof(*replies));
	return -EIO;
}

static redisReply *run_one(struct pr_redis *r, char *cmd, int len)
{
	redisReply *rep = NULL;
	size_t l;

	if (len < 0) {
		snprintf(r->err, sizeof(r->err), "cannot format redis command");
		return NULL;
	}
	l = (size_t)len;
	if (run_formatted(r, 1, &cmd, &l, &rep) < 0)
		rep = NULL;
	redisFreeCommand(cmd);
	return rep;
}

redisReply *pr_redis_cmd(struct pr_redis *r, const char *fmt, ...)
{
	char *cmd = NULL;
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = redisvFormatCommand(&cmd, fmt, ap);
	va_end(ap);
	return run_one(r, cmd, len);
}

redisReply *pr_redis_cmdargv(struct pr_redis *r, int argc, const char **argv, const size_t *argvlen)
{
	char *cmd = NULL;
	int len = redisFormatCommandArgv(&cmd, argc, argv, argvlen);

	return run_one(r, cmd, len);
}

int pr_redis_reply_errno(const char *msg)
{
	static const struct {
		const char *prefix;
		int err;
	} map[] = {
	    {"NOPERM", EACCES},	    {"NOAUTH", EACCES},	 {"WRONGPASS", EACCES},
	    {"WRONGTYPE", EINVAL},  {"LOADING", EAGAIN}, {"BUSY", EAGAIN},
	    {"MASTERDOWN", EAGAIN}, {"READONLY", EROFS}, {"OOM", ENOMEM},
	};
	size_t i;

	for (i = 0; msg && i < sizeof(map) / sizeof(map[0]); i++)
		if (strncmp(msg, map[i].prefix, strlen(map[i].prefix)) == 0)
			return -map[i].err;
	return -EBADMSG;
}

struct pr_redis_tx *pr_redis_tx_new(void)
{
	return calloc(1, sizeof(struct pr_redis_tx));
}

static int tx_push(struct pr_redis_tx *tx, char *cmd, int len)
{
	if (len < 0 || !cmd) {
		tx->bad = 1;
		return -EINVAL;
	}
	if (tx->n == tx->cap) {
		size_t cap = tx->cap ? tx->cap * 2 : 8;
		char **c = realloc(tx->cmd, cap * sizeof(*c));
		size_t *l;
		if (!c)
			goto oom;
		tx->cmd = c;
		l = realloc(tx->len, cap * sizeof(*l));
		if (!l)
			goto oom;
		tx->len = l;
		tx->cap = cap;
	}
	tx->cmd[tx->n] = cmd;
	tx->len[tx->n++] = (size_t)len;
	return 0;
oom:
	redisFreeCommand(cmd);
	tx->bad = 1;
	return -ENOMEM;
}

int pr_redis_tx_add(struct pr_redis_tx *tx, const char *fmt, ...)
{
	char *cmd = NULL;
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = redisvFormatCommand(&cmd, fmt, ap);
	va_end(ap);
	return tx_push(tx, cmd, len);
}

int pr_redis_tx_addargv(struct pr_redis_tx *tx, int argc, const char **argv, const size_t *argvlen)
{
	char *cmd = NULL;
	int len = redisFormatCommandArgv(&cmd, argc, argv, argvlen);

	return tx_push(tx, cmd, len);
}

void pr_redis_tx_free(struct pr_redis_tx *tx)
{
	size_t i;

	if (!tx)
		return;
	for (i = 0; i < tx->n; i++) {
		/* Formatted commands may hold secrets (HA1s, keys). */
		explicit_bzero(tx->cmd[i], tx->len[i]);
		redisFreeCommand(tx->cmd[i]);
	}
	free(tx->cmd);
	free(tx->len);
	free(tx);
}

/* A transaction's framing, in RESP as hiredis would format it. */
static const char multi[] = "*1\r\n$5\r\nMULTI\r\n", execc[] = "*1\r\n$4\r\nEXEC\r\n";

int pr_redis_tx_run(struct pr_redis *r, struct pr_redis_tx *tx, redisReply **exec)
{
	size_t n = tx->n + 2, i;
	char **cmd = NULL;
	size_t *len = NULL;
	redisReply **rep = NULL;
	int rc = -ENOMEM;

	if (exec)
		*exec = NULL;
	if (tx->bad) {
		snprintf(r->err, sizeof(r->err), "redis transaction: a command could not be built");
		return -EINVAL;
	}
	cmd = calloc(n, sizeof(*cmd));
	len = calloc(n, sizeof(*len));
	rep = calloc(n, sizeof(*rep));
	if (!cmd || !len || !rep)
		goto out;
	cmd[0] = (char *)multi;
	len[0] = sizeof(multi) - 1;
	for (i = 0; i < tx->n; i++) {
		cmd[i + 1] = tx->cmd[i];
		len[i + 1] = tx->len[i];
	}
	cmd[n - 1] = (char *)execc;
	len[n - 1] = sizeof(execc) - 1;
	rc = run_formatted(r, n, cmd, len, rep);
	if (rc < 0)
		goto out;
	rc = 0;
	for (i = 0; i < n - 1; i++) {
		if (rep[i]->type == REDIS_REPLY_ERROR) {
			snprintf(r->err, sizeof(r->err), "redis: %s", rep[i]->str);
			rc = pr_redis_reply_errno(rep[i]->str);
			break;
		}
	}
	if (rc == 0) {
		redisReply *e = rep[n - 1];
		if (e->type != REDIS_REPLY_ARRAY) {
			snprintf(r->err, sizeof(r->err), "redis EXEC: %s",
				 e->type == REDIS_REPLY_ERROR ? e->str : "transaction aborted");
			rc = e->type == REDIS_REPLY_ERROR ? pr_redis_reply_errno(e->str) : -EBADMSG;
		} else {
			for (i = 0; i < e->elements; i++) {
				if (e->element[i]->type == REDIS_REPLY_ERROR) {
					snprintf(r->err, sizeof(r->err), "redis: %s",
						 e->element[i]->str);
					rc = pr_redis_reply_errno(e->element[i]->str);
					break;
				}
			}
		}
		if (rc == 0 && exec) {
			*exec = e;
			rep[n - 1] = NULL;
		}
	}
	for (i = 0; i < n; i++)
		if (rep[i])
			freeReplyObject(rep[i]);
out:
	if (rc == -ENOMEM)
		snprintf(r->err, sizeof(r->err), "out of memory");
	free(cmd);
	free(len);
	free(rep);
	return rc;
}

struct pr_redis *pr_redis_open(const char *path, const char *user, const char *password_file,
			       int timeout_ms)
{
	struct pr_redis *r;

	if (pr_redis_connect(&r, path, timeout_ms) < 0)
		return NULL;
	if (((user && *user) || (password_file && *password_file)) &&
	    pr_redis_auth(r, user, password_file) < 0) {
		pr_redis_close(r);
		return NULL;
	}
	return r;
}

int pr_redis_pipeline(struct pr_redis *r)
{
	int fl = fcntl(r->c->fd, F_GETFL);

	if (fl < 0 || fcntl(r->c->fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		snprintf(r->err, sizeof(r->err), "redis %s: non-blocking: %s", where(r),
			 strerror(errno));
		return -EIO;
	}
	/* hiredis then treats EAGAIN as "later" on reads and writes instead of an error */
	r->c->flags &= ~REDIS_BLOCK;
	return 0;
}

int pr_redis_pipe_tx(struct pr_redis *r, const struct pr_redis_tx *tx)
{
	if (tx->bad) {
		snprintf(r->err, sizeof(r->err), "redis transaction: a command could not be built");
		return -EINVAL;
	}
	if (r->c->err || redisAppendFormattedCommand(r->c, multi, sizeof(multi) - 1) != REDIS_OK)
		goto io;
	for (size_t i = 0; i < tx->n; i++)
		if (redisAppendFormattedCommand(r->c, tx->cmd[i], tx->len[i]) != REDIS_OK)
			goto io;
	if (redisAppendFormattedCommand(r->c, execc, sizeof(execc) - 1) != REDIS_OK)
		goto io;
	return (int)tx->n + 2;
io:
	snprintf(r->err, sizeof(r->err), "redis %s: %s", where(r), r->c->errstr);
	return -EIO;
}

int pr_redis_pipe_argv(struct pr_redis *r, int argc, const char **argv, const size_t *argvlen)
{
	if (r->c->err || redisAppendCommandArgv(r->c, argc, argv, argvlen) != REDIS_OK) {
		snprintf(r->err, sizeof(r->err), "redis %s: %s", where(r), r->c->errstr);
		return -EIO;
	}
	return 1;
}

int pr_redis_pump(struct pr_redis *r)
{
	int done = 0;

	if (r->c->err)
		goto io;
	if (redisBufferWrite(r->c, &done) != REDIS_OK) /* nothing to write: done at once */
		goto io;
	if (redisBufferRead(r->c) != REDIS_OK)
		goto io;
	return 0;
io:
	snprintf(r->err, sizeof(r->err), "redis %s: %s", where(r),
		 r->c->err ? r->c->errstr : "connection lost");
	return -EIO;
}

int pr_redis_pipe_reply(struct pr_redis *r, redisReply **rep)
{
	void *out = NULL;

	if (redisGetReplyFromReader(r->c, &out) != REDIS_OK) {
		snprintf(r->err, sizeof(r->err), "redis %s: %s", where(r), r->c->errstr);
		*rep = NULL;
		return -EIO;
	}
	*rep = out;
	return 0;
}

const redisReply *pr_redis_reply_error(const redisReply *rep)
{
	if (rep->type == REDIS_REPLY_ERROR)
		return rep;
	for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++)
		if (rep->element[i]->type == REDIS_REPLY_ERROR)
			return rep->element[i];
	return NULL;
}

int pr_redis_pipe_reply_ok(struct pr_redis *r, const redisReply *rep)
{
	const redisReply *bad = pr_redis_reply_error(rep);

	if (!bad && rep->type != REDIS_REPLY_NIL) /* NIL: an EXEC that aborted */
		return 1;
	snprintf(r->err, sizeof(r->err), "redis: %s", bad ? bad->str : "transaction aborted");
	return 0;
}

int pr_redis_async_tx(struct redisAsyncContext *ac, const struct pr_redis_tx *tx,
		      void (*fn)(struct redisAsyncContext *, void *, void *), void *priv)
{
	if (tx->bad)
		return -EINVAL;
	/* the replies to MULTI and to each QUEUED command carry nothing EXEC does not: a
	 * command refused while queueing makes EXEC fail (EXECABORT) */
	if (redisAsyncFormattedCommand(ac, NULL, NULL, multi, sizeof(multi) - 1) != REDIS_OK)
		return -EIO;
	for (size_t i = 0; i < tx->n; i++)
		if (redisAsyncFormattedCommand(ac, NULL, NULL, tx->cmd[i], tx->len[i]) != REDIS_OK)
			return -EIO;
	if (redisAsyncFormattedCommand(ac, fn, priv, execc, sizeof(execc) - 1) != REDIS_OK)
		return -EIO;
	return 0;
}

/* ---- the +switch-master watcher ---- */

/* A host as a sentinel names it (an address, or a name with announce-hostnames). */
static bool host_ok(const char *h)
{
	if (!h[0])
		return false;
	for (; *h; h++)
		if (!(*h == '.' || *h == '-' || *h == ':' || (*h >= '0' && *h <= '9') ||
		      (*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z')))
			return false;
	return true;
}

static int port_of(const char *s)
{
	char *end;
	long p;

	if (!s[0] || s[0] < '0' || s[0] > '9')
		return -1;
	p = strtol(s, &end, 10);
	return *end || p < 1 || p > 65535 ? -1 : (int)p;
}

static int fmt_addr(char *addr, size_t addrlen, const char *host, int port)
{
	int n = snprintf(addr, addrlen, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);

	return n < 0 || (size_t)n >= addrlen ? -EBADMSG : 0;
}

int pr_redis_switch_master_parse(const char *payload, const char *master, char *addr,
				 size_t addrlen)
{
	char f[5][64];
	int n = 0;

	for (const char *p = payload; p && *p;) {
		size_t len;
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		len = strcspn(p, " ");
		if (n == 5 || len >= sizeof(f[0]))
			return -EBADMSG;
		memcpy(f[n], p, len);
		f[n++][len] = 0;
		p += len;
	}
	if (n != 5 || check_master_name(f[0]) < 0 || !host_ok(f[1]) || port_of(f[2]) < 0 ||
	    !host_ok(f[3]) || port_of(f[4]) < 0)
		return -EBADMSG;
	if (strcmp(f[0], master) != 0)
		return 0; /* another master the same sentinels watch */
	return fmt_addr(addr, addrlen, f[3], port_of(f[4])) < 0 ? -EBADMSG : 1;
}

int pr_redis_sentinel_master_reply(const redisReply *rep, char *addr, size_t addrlen,
				   long long *config_epoch)
{
	const char *ip = NULL, *port = NULL, *cfg = NULL;
	char *end;

	if (!rep)
		return -EIO;
	if (rep->type == REDIS_REPLY_ERROR)
		return strstr(rep->str, "No such master") ? -ENOENT
							  : pr_redis_reply_errno(rep->str);
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements % 2)
		return -EBADMSG;
	for (size_t i = 0; i + 1 < rep->elements; i += 2) {
		const redisReply *k = rep->element[i], *v = rep->element[i + 1];
		if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
			return -EBADMSG;
		if (!strcmp(k->str, "ip"))
			ip = v->str;
		else if (!strcmp(k->str, "port"))
			port = v->str;
		else if (!strcmp(k->str, "config-epoch"))
			cfg = v->str;
	}
	if (!ip || !port || !cfg || strlen(ip) >= 64 || !host_ok(ip) || port_of(port) < 0)
		return -EBADMSG;
	*config_epoch = strtoll(cfg, &end, 10);
	if (!cfg[0] || *end || *config_epoch < 0)
		return -EBADMSG;
	return fmt_addr(addr, addrlen, ip, port_of(port));
}

#define WATCH_CONNECT_MS 1000
#define WATCH_PING_MS	 5000 /* quiet this long: PING; no answer this long after: gone */
#define WATCH_SHORT_MS	 5000 /* a subscription that ended sooner counts as a failure */
#define WATCH_BACKOFF_MS 250  /* after a round of sentinels failed; doubles to 8 s */

static struct {
	pthread_mutex_t lock; /* started, for start and stop */
	bool started, stop;
	pthread_t thread;
	int wake[2]; /* the stop's byte ends a wait at once */
	struct sentinels st;
	/* the primary as the watcher last learnt it, and the sentinels' config epoch of that
	 * (-1 unknown): a sentinel still behind a failover is not believed over it */
	char known[80];
	long long known_cfg;
	char why[200]; /* why the last sentinel was given up */
} watch = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = {-1, -1}};

static bool watch_stopping(void)
{
	return __atomic_load_n(&watch.stop, __ATOMIC_ACQUIRE);
}

/* Waits ms unless stopped: true when stopped. */
static bool watch_sleep(int ms)
{
	struct pollfd p = {.fd = watch.wake[0], .events = POLLIN};

	if (!watch_stopping())
		poll(&p, 1, ms);
	return watch_stopping();
}

/* SENTINEL master of sentinel k, on a connection of its own: 0 and the primary it names
 * and its config epoch. */
static int watch_ask(int k, char *addr, size_t addrlen, long long *cfg)
{
	redisContext *c = tcp_connect(watch.st.s[k].host, watch.st.s[k].port, WATCH_CONNECT_MS);
	redisReply *rep;
	int rc;

	if (!c)
		return -EHOSTUNREACH;
	rep = redisCommand(c, "SENTINEL master %s", watch.st.master);
	rc = pr_redis_sentinel_master_reply(rep, addr, addrlen, cfg);
	if (rep)
		freeReplyObject(rep);
	redisFree(c);
	return rc;
}

/* The primary moved to addr, as sentinel k says: the connections follow, asking k first. */
static void watch_moved(int k, const char *addr, long long cfg, const char *how)
{
	snprintf(watch.known, sizeof(watch.known), "%s", addr);
	watch.known_cfg = cfg;
	pthread_mutex_lock(&moved_lock);
	snprintf(switch_via_host, sizeof(switch_via_host), "%s", watch.st.s[k].host);
	switch_via_port = watch.st.s[k].port;
	pthread_mutex_unlock(&moved_lock);
	primary_moved(watch.st.master, addr, how);
}

/* Just subscribed on sentinel k: a failover while no sentinel was watched is caught here
 * (asked after the SUBSCRIBE, so that none falls between the two). */
static void watch_catch_up(int k)
{
	char addr[80];
	long long cfg;

	if (watch_ask(k, addr, sizeof(addr), &cfg) < 0)
		return;
	if (!watch.known[0] || !strcmp(addr, watch.known)) {
		snprintf(watch.known, sizeof(watch.known), "%s", addr);
		watch.known_cfg = cfg;
		return;
	}
	if (watch.known_cfg >= 0 && cfg <= watch.known_cfg)
		return; /* this sentinel has not heard of the last failover yet */
	watch_moved(k, addr, cfg, "the sentinels (a +switch-master missed while none was watched)");
}

static void watch_message(int k, const redisReply *m)
{
	char addr[80];
	long long cfg;
	int rc;

	if (m->type != REDIS_REPLY_ARRAY || m->elements != 3 ||
	    m->element[0]->type != REDIS_REPLY_STRING || strcmp(m->element[0]->str, "message") ||
	    m->element[2]->type != REDIS_REPLY_STRING)
		return; /* PING's answer */
	rc = pr_redis_switch_master_parse(m->element[2]->str, watch.st.master, addr, sizeof(addr));
	if (rc < 0)
		PR_WARN("redis: sentinel %s:%d: +switch-master '%.100s' not understood",
			watch.st.s[k].host, watch.st.s[k].port, m->element[2]->str);
	if (rc <= 0 || !strcmp(addr, watch.known))
		return;
	watch_moved(k, addr, -1, "+switch-master");
	/* the config epoch of this failover, from the sentinel that published it */
	if (watch_ask(k, addr, sizeof(addr), &cfg) == 0 && !strcmp(addr, watch.known))
		watch.known_cfg = cfg;
}

/* Subscribes to +switch-master on sentinel k and follows it until the connection fails
 * or the watcher stops: 0 when it was subscribed, -1 when it could not be. */
static int watch_one(int k)
{
	redisContext *c = tcp_connect(watch.st.s[k].host, watch.st.s[k].port, WATCH_CONNECT_MS);
	uint64_t last_rx, ping_at = 0;
	redisReply *rep;
	bool ok;

	if (!c) {
		snprintf(watch.why, sizeof(watch.why), "unreachable");
		return -1;
	}
	rep = redisCommand(c, "SUBSCRIBE +switch-master");
	ok = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
	     rep->element[0]->type == REDIS_REPLY_STRING &&
	     !strcmp(rep->element[0]->str, "subscribe");
	snprintf(watch.why, sizeof(watch.why), "SUBSCRIBE: %s",
		 !rep				  ? c->errstr
		 : rep->type == REDIS_REPLY_ERROR ? rep->str
						  : "unexpected reply");
	if (rep)
		freeReplyObject(rep);
	if (!ok) {
		redisFree(c);
		return -1;
	}
	PR_INFO("redis: following +switch-master of %s on sentinel %s:%d", watch.st.master,
		watch.st.s[k].host, watch.st.s[k].port);
	watch_catch_up(k);
	last_rx = mono_ms();
	for (;;) {
		struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN},
				      {.fd = watch.wake[0], .events = POLLIN}};
		int n = poll(p, 2, 1000);
		uint64_t now = mono_ms();
		void *m;

		if (watch_stopping())
			break;
		if (n > 0 && p[0].revents) {
			if (redisBufferRead(c) != REDIS_OK) {
				snprintf(watch.why, sizeof(watch.why), "%s", c->errstr);
				break;
			}
			last_rx = now;
			ping_at = 0;
			while (redisGetReplyFromReader(c, &m) == REDIS_OK && m) {
				watch_message(k, m);
				freeReplyObject(m);
			}
			if (c->err) {
				snprintf(watch.why, sizeof(watch.why), "%s", c->errstr);
				break;
			}
		}
		if (ping_at && now - ping_at >= WATCH_PING_MS) {
			snprintf(watch.why, sizeof(watch.why), "no answer to PING");
			break;
		}
		if (!ping_at && now - last_rx >= WATCH_PING_MS) {
			/* a sentinel whose host went away sends no FIN: found out by asking */
			int done = 0;
			if (redisAppendCommand(c, "PING") != REDIS_OK)
				break;
			while (!done)
				if (redisBufferWrite(c, &done) != REDIS_OK)
					break;
			if (!done) {
				snprintf(watch.why, sizeof(watch.why), "%s", c->errstr);
				break;
			}
			ping_at = now;
		}
	}
	redisFree(c);
	return 0;
}

static void *watch_main(void *arg)
{
	int k = 0, failed = 0, backoff = 0;
	bool warned = false;

	(void)arg;
	while (!watch_stopping()) {
		uint64_t t0 = mono_ms();
		int rc = watch_one(k);

		if (watch_stopping())
			break;
		if (rc == 0)
			PR_WARN(
			    "redis: sentinel %s:%d: %s: +switch-master followed on the next one",
			    watch.st.s[k].host, watch.st.s[k].port, watch.why);
		if (rc == 0 && mono_ms() - t0 >= WATCH_SHORT_MS) {
			failed = backoff = 0;
			warned = false;
		} else {
			failed++;
		}
		k = (k + 1) % watch.st.n;
		if (failed < watch.st.n)
			continue;
		/* every sentinel failed: wait before the next round, longer each time */
		if (!warned)
			PR_WARN("redis: no sentinel of %s to follow +switch-master on (the last, "
				"%s:%d: %s): trying again, less often",
				watch.st.master, watch.st.s[(k + watch.st.n - 1) % watch.st.n].host,
				watch.st.s[(k + watch.st.n - 1) % watch.st.n].port, watch.why);
		warned = true;
		failed = 0;
		backoff = backoff ? (backoff < 8000 ? backoff * 2 : 8000) : WATCH_BACKOFF_MS;
		if (watch_sleep(backoff))
			break;
	}
	return NULL;
}

int pr_redis_sentinel_watch_start(const char *target)
{
	sigset_t all, old;
	char err[256];
	int rc = 0;

	if (!pr_redis_is_sentinel(target))
		return 0;
	pthread_mutex_lock(&watch.lock);
	if (watch.started)
		goto out;
	if (parse_target(target, &watch.st, err, sizeof(err)) < 0) {
		PR_ERR("%s", err);
		rc = -EINVAL;
		goto out;
	}
	if (pipe2(watch.wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		rc = -errno;
		goto out;
	}
	watch.stop = false;
	watch.known[0] = 0;
	watch.known_cfg = -1;
	/* signals are the main thread's business (its handlers, its sigwait) */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&watch.thread, NULL, watch_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0) {
		close(watch.wake[0]);
		close(watch.wake[1]);
		watch.wake[0] = watch.wake[1] = -1;
		goto out;
	}
	watch.started = true;
out:
	pthread_mutex_unlock(&watch.lock);
	return rc;
}

void pr_redis_sentinel_watch_stop(void)
{
	pthread_mutex_lock(&watch.lock);
	if (watch.started) {
		__atomic_store_n(&watch.stop, true, __ATOMIC_RELEASE);
		if (write(watch.wake[1], "", 1) < 0) {
			/* the flag alone ends it within a second */
		}
		pthread_join(watch.thread, NULL);
		close(watch.wake[0]);
		close(watch.wake[1]);
		watch.wake[0] = watch.wake[1] = -1;
		watch.started = false;
	}
	pthread_mutex_unlock(&watch.lock);
}
