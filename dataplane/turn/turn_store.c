/* SPDX-License-Identifier: BSD-3-Clause */
/* TURN state in Redis through the shared keyspace codec (common/keyspace.h). Besides the
 * contract's fields, an allocation hash carries additive fields the dataplane owns:
 * relay6_addr/relay6_port (the IPv6 relay of a dual allocation), dont_fragment, bw_bps and
 * the counters (pkts_c2p, bytes_c2p, pkts_p2c, bytes_p2c, drop_<reason>). */
#include "dataplane/turn/turn_store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/keyspace.h"
#include "common/log.h"
#include "common/redis.h"
#include "crypto/stun_auth.h"

#define REDIS_TIMEOUT_MS 500
#define SECRETS_TTL_S	 2

struct turn_store;
struct wpend;
/* Reads the last reply of a read on the pipeline (p->rc may be set). */
typedef void (*reply_fn)(struct turn_store *st, struct wpend *p, const redisReply *rep);

/* A command on the pipeline, waiting for its replies (a write: MULTI, each command's
 * QUEUED, EXEC; a read: one). */
struct wpend {
	uint32_t left;	 /* replies still to come */
	int rc;		 /* 0, or the first failure */
	void *cookie;	 /* handed to the done callback; NULL: nobody waits */
	reply_fn reader; /* a read's: what to do with its reply; NULL for writes */
	bool batch;	 /* cookie is a struct wbatch: each of its cookies is handed on */
};

/* The waiters one WAIT answers (turn_store_wait_durable). */
struct wbatch {
	unsigned n;
	void *c[];
};

#define WPEND_MAX 4096 /* commands in flight at most; more are refused (-ENOBUFS) */

struct turn_store {
	struct pr_redis *r; /* reads (users, secrets, restore), blocking */
	struct pr_redis *w; /* writes, pipelined without waiting (pr_redis_pipeline) */
	struct wpend pend[WPEND_MAX];
	uint32_t head, n;
	void (*done)(void *arg, void *cookie, int rc);
	void *done_arg;
	char sock[128], user[128], pwfile[256];
	/* [redis] wait_replicas / wait_timeout_ms: answers wait for a WAIT after their writes;
	 * the waiters of this pass, not queued yet (turn_store_flush_waits queues one WAIT) */
	uint32_t wait_n, wait_ms;
	/* [ha]: each write also appends to pr:turn:changes (capped near this; 0: off) */
	uint32_t changes_max;
	void **durable;
	unsigned n_durable, cap_durable;
	time_t wait_warned;
	time_t last_try;
	bool warned;
	/* REST secrets cache (rotation is picked up within SECRETS_TTL_S) */
	time_t secrets_at;
	bool secrets_asked; /* an HVALS is in flight */
	int n_secrets;
	char secrets[TURN_REST_SECRETS][TURN_SECRET_MAX];
	/* The user a read just fetched, for the request that asked (its done callback hands
	 * that request in again; turn_store_user_key answers it from here); wiped after. */
	struct {
		bool set;
		int rc;
		struct pr_ks_user u;
	} stash;
};

static bool connect_now(struct turn_store *st)
{
	struct pr_redis *r;
	st->last_try = time(NULL);
	if (pr_redis_connect(&r, st->sock, REDIS_TIMEOUT_MS) < 0) {
		if (!st->warned)
			PR_WARN("turn: redis %s unreachable (%s): Allocate, Refresh, "
				"CreatePermission and ChannelBind answered 500 until it is back; "
				"retrying",
				st->sock, pr_redis_errmsg(NULL));
		st->warned = true;
		return false;
	}
	if (st->user[0] || st->pwfile[0]) {
		if (pr_redis_auth(r, st->user, st->pwfile) < 0) {
			if (!st->warned)
				PR_WARN("turn: redis AUTH failed: %s", pr_redis_errmsg(r));
			st->warned = true;
			pr_redis_close(r);
			return false;
		}
	}
	/* the write pipeline: its own connection, so a read never waits behind queued writes */
	st->w = pr_redis_open(st->sock, st->user, st->pwfile, REDIS_TIMEOUT_MS);
	if (!st->w || pr_redis_pipeline(st->w) < 0) {
		if (!st->warned)
			PR_WARN("turn: redis write connection failed: %s", pr_redis_errmsg(st->w));
		st->warned = true;
		if (st->w)
			pr_redis_close(st->w);
		st->w = NULL;
		pr_redis_close(r);
		return false;
	}
	st->r = r;
	st->warned = false;
	st->secrets_asked = false;
	st->secrets_at = 0; /* read afresh at the first use */
	return true;
}

static void secrets_read(struct turn_store *st, struct wpend *p, const redisReply *rep);

/* Completes the oldest command: the done callback when someone waits for it. */
static void wpend_pop(struct turn_store *st)
{
	struct wpend *p = &st->pend[st->head];
	if (p->reader == secrets_read) /* answered or failed: the next stale use asks again */
		st->secrets_asked = false;
	void *cookie = p->cookie;
	int rc = p->rc;

	bool batch = p->batch;

	st->head = (st->head + 1) % WPEND_MAX;
	st->n--;
	if (batch) {
		struct wbatch *b = cookie;
		for (unsigned i = 0; i < b->n; i++)
			if (st->done)
				st->done(st->done_arg, b->c[i], rc);
		free(b);
	} else if (cookie && st->done) {
		st->done(st->done_arg, cookie, rc);
	}
	if (st->stash.set) /* its reader is done with it */
		memset(&st->stash, 0, sizeof(st->stash));
}

struct turn_store *turn_store_new(const char *sock, const char *user, const char *pwfile)
{
	struct turn_store *st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	snprintf(st->sock, sizeof(st->sock), "%s", sock ? sock : "");
	snprintf(st->user, sizeof(st->user), "%s", user ? user : "");
	snprintf(st->pwfile, sizeof(st->pwfile), "%s", pwfile ? pwfile : "");
	connect_now(st);
	return st;
}

void turn_store_free(struct turn_store *st)
{
	if (!st)
		return;
	if (st->r)
		pr_redis_close(st->r);
	if (st->w)
		pr_redis_close(st->w);
	for (uint32_t i = 0; i < st->n; i++) /* their waiters free what they hold */
		st->pend[(st->head + i) % WPEND_MAX].rc = -ECANCELED;
	while (st->n)
		wpend_pop(st);
	for (unsigned i = 0; i < st->n_durable; i++)
		if (st->done)
			st->done(st->done_arg, st->durable[i], -ECANCELED);
	free(st->durable);
	memset(st, 0, sizeof(*st)); /* secrets */
	free(st);
}

bool turn_store_up(const struct turn_store *st)
{
	return st && st->r;
}

bool turn_store_retry(struct turn_store *st)
{
	if (!st || st->r || time(NULL) - st->last_try < 2)
		return false;
	return connect_now(st);
}

static void drop_conns(struct turn_store *st);

/* A Redis failure: drop the connection (it reconnects later) and log once. */
static int fail_on(struct turn_store *st, const struct pr_redis *c, const char *what)
{
	PR_WARN("turn: redis %s failed: %s", what, c ? pr_redis_errmsg(c) : "down");
	drop_conns(st);
	return -EIO;
}

static void drop_conns(struct turn_store *st)
{
	if (st->r)
		pr_redis_close(st->r);
	if (st->w)
		pr_redis_close(st->w);
	st->r = st->w = NULL;
	st->last_try = time(NULL);
	/* the writes in flight are lost with the connection: their waiters learn it now */
	for (uint32_t i = 0; i < st->n; i++)
		st->pend[(st->head + i) % WPEND_MAX].rc = -EIO;
	while (st->n)
		wpend_pop(st);
}

static int fail(struct turn_store *st, const char *what)
{
	return fail_on(st, st->r, what);
}

/* Queues tx (as one MULTI/EXEC) on the write pipeline; cookie comes back through the done
 * callback with its outcome. */
static int queue_tx(struct turn_store *st, struct pr_redis_tx *tx, void *cookie, const char *what)
{
	if (st->n == WPEND_MAX)
		return -ENOBUFS;
	int n = pr_redis_pipe_tx(st->w, tx);
	if (n == -EIO)
		return fail_on(st, st->w, what);
	if (n < 0)
		return n;
	st->pend[(st->head + st->n++) % WPEND_MAX] =
	    (struct wpend){(uint32_t)n, 0, cookie, NULL, false};
	return 0;
}

/* Queues one read command; reader gets its reply. */
static int queue_read(struct turn_store *st, int argc, const char **argv, reply_fn reader,
		      const char *what)
{
	if (st->n == WPEND_MAX)
		return -ENOBUFS;
	int n = pr_redis_pipe_argv(st->w, argc, argv, NULL);
	if (n < 0)
		return fail_on(st, st->w, what);
	st->pend[(st->head + st->n++) % WPEND_MAX] = (struct wpend){1, 0, NULL, reader, false};
	return 0;
}

void turn_store_on_done(struct turn_store *st, void (*fn)(void *arg, void *cookie, int rc),
			void *arg)
{
	st->done = fn;
	st->done_arg = arg;
}

int turn_store_fd(const struct turn_store *st)
{
	return st && st->w ? pr_redis_ctx(st->w)->fd : -1;
}

unsigned turn_store_room(const struct turn_store *st)
{
	return st && st->w ? WPEND_MAX - st->n : 0;
}

void turn_store_set_wait(struct turn_store *st, uint32_t replicas, uint32_t timeout_ms)
{
	if (st) {
		st->wait_n = replicas;
		st->wait_ms = timeout_ms;
	}
}

/* WAIT's reply: how many replicas have every write queued before it. Fewer than asked: its
 * waiters' writes are on the primary alone (and would go with it). */
static void wait_read(struct turn_store *st, struct wpend *p, const redisReply *rep)
{
	long long got = rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
	if (got >= (long long)st->wait_n)
		return;
	p->rc = -EAGAIN;
	time_t now = time(NULL);
	if (now - st->wait_warned >= 10) {
		st->wait_warned = now;
		PR_WARN("turn: redis WAIT: %lld of %u replicas acknowledged within %u ms: the "
			"answers waiting for it are dropped (the clients retransmit)",
			got, st->wait_n, st->wait_ms);
	}
}

void turn_store_set_changes(struct turn_store *st, uint32_t maxlen)
{
	if (st)
		st->changes_max = maxlen;
}

int turn_store_wait_durable(struct turn_store *st, void *cookie)
{
	if (!st || !st->wait_n)
		return turn_store_wait_last(st, cookie);
	if (!st->w)
		return -ENOENT;
	if (st->n_durable == st->cap_durable) {
		unsigned cap = st->cap_durable ? 2 * st->cap_durable : 64;
		if (cap > WPEND_MAX)
			return -ENOBUFS;
		void **d = realloc(st->durable, cap * sizeof(*d));
		if (!d)
			return -ENOMEM;
		st->durable = d;
		st->cap_durable = cap;
	}
	st->durable[st->n_durable++] = cookie;
	return 0;
}

void turn_store_flush_waits(struct turn_store *st)
{
	if (!st || !st->n_durable)
		return;
	unsigned n = st->n_durable;
	struct wbatch *b = malloc(sizeof(*b) + n * sizeof(b->c[0]));
	int rc = -ENOMEM;
	st->n_durable = 0;
	if (b) {
		char r[12], t[12];
		snprintf(r, sizeof(r), "%u", st->wait_n);
		snprintf(t, sizeof(t), "%u", st->wait_ms);
		const char *argv[] = {"WAIT", r, t};
		b->n = n;
		memcpy(b->c, st->durable, n * sizeof(b->c[0]));
		rc = st->w ? queue_read(st, 3, argv, wait_read, "wait") : -ENOENT;
		if (rc == 0) {
			struct wpend *p = &st->pend[(st->head + st->n - 1) % WPEND_MAX];
			p->cookie = b;
			p->batch = true;
			return;
		}
		free(b);
	}
	for (unsigned i = 0; i < n; i++) /* (st->durable holds them still) */
		if (st->done)
			st->done(st->done_arg, st->durable[i], rc);
}

int turn_store_wait_last(struct turn_store *st, void *cookie)
{
	if (!st || !st->w)
		return -ENOENT;
	if (!st->n || st->pend[(st->head + st->n - 1) % WPEND_MAX].cookie) {
		/* nothing in flight, or the last command has its waiter already: a PING behind
		 * it, which comes back after everything before it */
		const char *argv[] = {"PING"};
		int rc = queue_read(st, 1, argv, NULL, "ping");
		if (rc < 0)
			return rc;
	}
	st->pend[(st->head + st->n - 1) % WPEND_MAX].cookie = cookie;
	return 0;
}

unsigned turn_store_poll(struct turn_store *st)
{
	redisReply *rep;

	if (!st || !st->w)
		return 0;
	if (pr_redis_stale(st->r) || pr_redis_stale(st->w)) {
		/* a +switch-master: the old primary is being demoted. Dropped as on a failure
		 * (the writes in flight fail: their clients retransmit), but made again at the
		 * next tick, which rewrites every allocation on the new primary (turn_dp.c) */
		PR_NOTICE("turn: the redis primary moved (+switch-master): reconnecting");
		drop_conns(st);
		st->last_try = 0;
		return 0;
	}
	if (pr_redis_pump(st->w) < 0)
		return (unsigned)(fail_on(st, st->w, "write pipeline"), 0);
	while (st->n) {
		if (pr_redis_pipe_reply(st->w, &rep) < 0)
			return (unsigned)(fail_on(st, st->w, "write pipeline reply"), 0);
		if (!rep)
			break;
		struct wpend *p = &st->pend[st->head];
		if (!pr_redis_pipe_reply_ok(st->w, rep) && p->rc == 0) {
			p->rc = -EBADMSG;
			PR_WARN("turn: redis %s failed: %s", p->reader ? "read" : "write",
				pr_redis_errmsg(st->w));
		}
		if (--p->left == 0 && p->reader && p->rc == 0)
			p->reader(st, p, rep);
		freeReplyObject(rep);
		if (p->left == 0)
			wpend_pop(st);
	}
	return st->n;
}

void turn_id_hex(uint64_t id, char out[17])
{
	snprintf(out, 17, "%016" PRIx64, id);
}

int turn_id_parse(const char *hex, uint64_t *id)
{
	char *end;
	if (strlen(hex) != 16)
		return -EINVAL;
	*id = strtoull(hex, &end, 16);
	return *end ? -EINVAL : 0;
}

static void user_read(struct turn_store *st, struct wpend *p, const redisReply *rep)
{
	struct pr_ks_hash *h = pr_ks_hash_get();

	st->stash.set = true;
	st->stash.rc = -ENOENT;
	if (!h) {
		st->stash.rc = p->rc = -ENOMEM;
		return;
	}
	if (pr_ks_hash_from_hmget(&pr_ks_user_auth_desc, rep, h) == 0 &&
	    pr_ks_decode(&pr_ks_user_auth_desc, h, &st->stash.u) == 0)
		st->stash.rc = 0;
	pr_ks_hash_put(h); /* wipes the user's digests */
}

/* The key from a user record: 0, or -ENOENT (disabled, another realm, no digest). */
static int user_key_of(const struct pr_ks_user *u, const char *user, const char *realm, int alg,
		       uint8_t key[32])
{
	if (u->disabled || strcmp(u->name, user) || strcmp(u->realm, realm))
		return -ENOENT;
	const char *hex = alg == STUN_PWALG_SHA256 ? u->ha1_sha256 : u->ha1_md5;
	size_t want = alg == STUN_PWALG_SHA256 ? 32 : 16;
	return pr_hex_decode(hex, key, 32) == (int)want ? 0 : -ENOENT;
}

int turn_store_user_key(void *arg, const char *user, const char *realm, int alg, uint8_t key[32])
{
	struct turn_store *st = arg;

	/* the request handed in again: the read it asked for came back */
	if (st->stash.set)
		return st->stash.rc < 0 ? st->stash.rc
					: user_key_of(&st->stash.u, user, realm, alg, key);
	if (!st->w || !pr_ks_user_name_valid(user))
		return -ENOENT;
	/* ask, without waiting: the caller parks the request on this read (turn_store_wait_last)
	 * and hands it in again when the reply is here */
	/* the fields a password check needs, not the whole hash */
	char k[PR_KS_NAME_MAX + 16];
	const char *argv[16];
	snprintf(k, sizeof(k), "%s%s", PR_KS_USER_PREFIX, user);
	int argc = pr_ks_hmget_argv(&pr_ks_user_auth_desc, k, argv, 16);
	int rc = argc < 0 ? -EIO : queue_read(st, argc, argv, user_read, "user lookup");
	return rc < 0 ? rc : -EINPROGRESS;
}

static void secrets_read(struct turn_store *st, struct wpend *p, const redisReply *rep)
{
	(void)p;
	if (rep->type != REDIS_REPLY_ARRAY)
		return;
	st->n_secrets = 0;
	for (size_t i = 0; i < rep->elements && st->n_secrets < TURN_REST_SECRETS; i++) {
		const redisReply *e = rep->element[i];
		if (e->type == REDIS_REPLY_STRING && e->len > 0 && e->len < TURN_SECRET_MAX)
			memcpy(st->secrets[st->n_secrets++], e->str, e->len + 1);
	}
	st->secrets_at = time(NULL);
}

/* The secrets, never older than SECRETS_TTL_S: once they are, a read is asked for and the
 * request waits for it (-EINPROGRESS, as for a user's key), and every request meanwhile
 * waits on the same read. */
int turn_store_rest_secrets(void *arg, char out[][TURN_SECRET_MAX], int max)
{
	struct turn_store *st = arg;
	time_t now = time(NULL);
	if (st->w && now - st->secrets_at >= SECRETS_TTL_S) {
		if (!st->secrets_asked) {
			const char *argv[] = {"HVALS", PR_KS_TURN_SECRETS_KEY};
			int rc = queue_read(st, 2, argv, secrets_read, "HVALS secrets");
			if (rc < 0)
				return rc;
			st->secrets_asked = true;
		}
		return -EINPROGRESS;
	}
	int n = st->n_secrets < max ? st->n_secrets : max;
	for (int i = 0; i < n; i++)
		memcpy(out[i], st->secrets[i], TURN_SECRET_MAX);
	return n;
}

static void addr_str(const uint8_t *ip, uint8_t fam, char *out, size_t len)
{
	if (!inet_ntop(fam == 4 ? AF_INET : AF_INET6, ip, out, (socklen_t)len))
		snprintf(out, len, "-");
}

static void peer_str(const uint8_t p16[16], char *out, size_t len)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (!memcmp(p16, mapped, 12))
		addr_str(p16 + 12, 4, out, len);
	else
		addr_str(p16, 6, out, len);
}

static int parse_addr(const char *s, uint8_t *ip, uint8_t *fam)
{
	memset(ip, 0, 16);
	if (inet_pton(AF_INET, s, ip) == 1) {
		*fam = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, ip) == 1) {
		*fam = 6;
		return 0;
	}
	return -EINVAL;
}

/* The allocation's counters into its keyspace record (field names are the codec's). */
static void counters_to_record(const struct turn_alloc *a, struct pr_ks_turn_alloc *r)
{
	const struct turn_alloc_stats *st = &a->st;

	r->pkts_c2p = __atomic_load_n(&st->pkts_c2p, __ATOMIC_RELAXED);
	r->bytes_c2p = __atomic_load_n(&st->bytes_c2p, __ATOMIC_RELAXED);
	r->pkts_p2c = __atomic_load_n(&st->pkts_p2c, __ATOMIC_RELAXED);
	r->bytes_p2c = __atomic_load_n(&st->bytes_p2c, __ATOMIC_RELAXED);
	r->drop_no_permission =
	    __atomic_load_n(&a->drops[TURN_DROP_NO_PERMISSION], __ATOMIC_RELAXED);
	r->drop_no_channel = __atomic_load_n(&a->drops[TURN_DROP_NO_CHANNEL], __ATOMIC_RELAXED);
	r->drop_bandwidth = __atomic_load_n(&a->drops[TURN_DROP_BANDWIDTH], __ATOMIC_RELAXED);
	r->drop_malformed = __atomic_load_n(&a->drops[TURN_DROP_MALFORMED], __ATOMIC_RELAXED);
}

int turn_store_save(struct turn_store *st, const struct turn_server *s, const struct turn_alloc *a,
		    void *cookie)
{
	if (!st || !st->w)
		return -ENOTCONN;
	const struct turn_cfg *cfg = turn_server_cfg(s);
	struct pr_ks_turn_alloc r;
	char key[96], addr[64];
	memset(&r, 0, sizeof(r));
	turn_id_hex(a->id, r.id);
	snprintf(r.username, sizeof(r.username), "%s", a->username);
	snprintf(r.realm, sizeof(r.realm), "%s", cfg->realm);
	snprintf(r.transport, sizeof(r.transport), "%s", turn_transport_name(a->ft.proto));
	addr_str(a->ft.cli_ip, a->ft.fam, r.client_addr, sizeof(r.client_addr));
	r.client_port = a->ft.cli_port;
	addr_str(a->ft.srv_ip, a->ft.fam, r.server_addr, sizeof(r.server_addr));
	r.server_port = a->ft.srv_port;
	int fi = a->relay_port[0] ? 0 : 1;
	addr_str(turn_relay_of(cfg, a, fi)->ip, fi ? 6 : 4, r.relay_addr, sizeof(r.relay_addr));
	r.relay_port = a->relay_port[fi];
	r.lifetime_s = a->expires > a->created ? a->expires - a->created : 0;
	r.expires = a->expires;
	r.bw_kbps = a->bw_rate * 8 / 1000;
	r.created = a->created;
	r.refreshed = (int64_t)time(NULL);
	if (a->relay_port[0] && a->relay_port[1]) {
		addr_str(turn_relay_of(cfg, a, 1)->ip, 6, r.relay6_addr, sizeof(r.relay6_addr));
		r.relay6_port = a->relay_port[1];
	}
	r.dont_fragment = a->dont_fragment;
	r.bw_bps = a->bw_rate;
	counters_to_record(a, &r);
	/* one transaction: the side hashes of permissions and channels rewritten whole, then
	 * the hash and its index entry (whose EXPIREATs cover the side hashes too) */
	struct pr_redis_tx *tx = pr_redis_tx_new();
	if (!tx)
		return -ENOMEM;
	snprintf(key, sizeof(key), "%s%s", PR_KS_TURN_ALLOC_PREFIX, r.id);
	pr_redis_tx_add(tx, "DEL %s:perms %s:chans", key, key);
	for (unsigned i = 0; i < a->n_perm; i++) {
		peer_str(a->perm[i].ip, addr, sizeof(addr));
		pr_redis_tx_add(tx, "HSET %s:perms %s %u", key, addr, a->perm[i].expires);
	}
	for (unsigned i = 0; i < a->n_chan; i++) {
		char val[96];
		peer_str(a->chan[i].ip, addr, sizeof(addr));
		/* one argument: "<peer_addr> <peer_port> <expires>" */
		snprintf(val, sizeof(val), "%s %u %u", addr, a->chan[i].port, a->chan[i].expires);
		pr_redis_tx_add(tx, "HSET %s:chans %u %s", key, a->chan[i].num, val);
	}
	int rc = pr_ks_turn_alloc_store_tx(tx, &r);
	if (rc < 0) {
		PR_WARN("turn: allocation %s not stored: %s", r.id, pr_ks_errmsg());
		pr_redis_tx_free(tx);
		return rc;
	}
	/* for the [ha] backup (turn_follow.c): which allocation changed, and its relayed
	 * address, so that it reads only its peer's */
	if (st->changes_max)
		pr_redis_tx_add(tx, "XADD %s MAXLEN ~ %u * op set id %s relay %s port %u",
				PR_KS_TURN_CHANGES_KEY, st->changes_max, r.id, r.relay_addr,
				r.relay_port);
	rc = queue_tx(st, tx, cookie, "allocation store");
	pr_redis_tx_free(tx);
	return rc;
}

int turn_store_counters(struct turn_store *st, const struct turn_alloc *a)
{
	struct pr_ks_turn_alloc r;

	if (!st || !st->w)
		return -ENOTCONN;
	memset(&r, 0, sizeof(r));
	turn_id_hex(a->id, r.id);
	counters_to_record(a, &r);
	struct pr_redis_tx *tx = pr_redis_tx_new();
	if (!tx)
		return -ENOMEM;
	int rc = pr_ks_turn_alloc_counters_tx(tx, &r);
	if (rc == 0 && st->changes_max) {
		/* the values themselves: the backup's copy keeps them without reading them */
		char c[8 * 21];
		snprintf(c, sizeof(c),
			 "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
			 " %" PRIu64 " %" PRIu64,
			 r.pkts_c2p, r.bytes_c2p, r.pkts_p2c, r.bytes_p2c, r.drop_no_permission,
			 r.drop_no_channel, r.drop_bandwidth, r.drop_malformed);
		pr_redis_tx_add(tx, "XADD %s MAXLEN ~ %u * op cnt id %s c %s",
				PR_KS_TURN_CHANGES_KEY, st->changes_max, r.id, c);
	}
	if (rc == 0)
		rc = queue_tx(st, tx, NULL, "counters");
	pr_redis_tx_free(tx);
	return rc;
}

int turn_store_delete(struct turn_store *st, uint64_t id, void *cookie)
{
	if (!st || !st->w)
		return -ENOTCONN;
	char hex[17];
	turn_id_hex(id, hex);
	struct pr_redis_tx *tx = pr_redis_tx_new();
	if (!tx)
		return -ENOMEM;
	int rc = pr_ks_turn_alloc_delete_tx(tx, hex);
	if (rc == 0 && st->changes_max)
		pr_redis_tx_add(tx, "XADD %s MAXLEN ~ %u * op del id %s", PR_KS_TURN_CHANGES_KEY,
				st->changes_max, hex);
	if (rc == 0)
		rc = queue_tx(st, tx, cookie, "allocation delete");
	pr_redis_tx_free(tx);
	return rc;
}

static const char *why;
/* The relayed address an orphan holds and its user, for restore_all's line. */
static char orphan_addr[80], orphan_user[PR_KS_TEXT_MAX];

/* -EADDRNOTAVAIL when relay_addr:port of family fam is not one s hands out now (set 0) or
 * the [ha] peer's (set 1); -EXDEV for an address of the other set: the peer's allocation at
 * our start, one of ours at a takeover (left alone either way). */
static int relay_check(struct turn_server *s, int set, const char *addr, uint8_t fam,
		       const uint8_t *ip, uint16_t port)
{
	const int fi = fam == 4 ? 0 : 1;
	if (set ? turn_server_relay_peer(s, fi, ip, port) : turn_server_relay_ours(s, fi, ip, port))
		return 0;
	if (set || turn_server_relay_peer(s, fi, ip, port))
		return -EXDEV;
	snprintf(orphan_addr, sizeof(orphan_addr), fam == 4 ? "%s:%u" : "[%s]:%u", addr, port);
	return -EADDRNOTAVAIL;
}

int turn_store_record_tx(struct pr_redis_tx *tx, const char *idhex)
{
	uint64_t id;
	if (turn_id_parse(idhex, &id) < 0)
		return -EINVAL;
	pr_redis_tx_add(tx, "HGETALL %s%s", PR_KS_TURN_ALLOC_PREFIX, idhex);
	pr_redis_tx_add(tx, "HGETALL %s%s:perms", PR_KS_TURN_ALLOC_PREFIX, idhex);
	pr_redis_tx_add(tx, "HGETALL %s%s:chans", PR_KS_TURN_ALLOC_PREFIX, idhex);
	return 0;
}

int turn_store_record_parse(struct turn_server *s, int set, const char *idhex,
			    const redisReply *exec, struct turn_alloc *out)
{
	why = "record";
	orphan_user[0] = '\0';
	struct pr_ks_turn_alloc r;
	struct turn_alloc a;
	uint8_t fam;
	char key[96];
	int rc;
	if (!exec || exec->type != REDIS_REPLY_ARRAY || exec->elements != 3)
		return -EINVAL;
	snprintf(key, sizeof(key), "%s%s", PR_KS_TURN_ALLOC_PREFIX, idhex);
	if ((rc = pr_ks_load_reply(&pr_ks_turn_alloc_desc, key, exec->element[0], &r)) < 0)
		return rc;
	memset(&a, 0, sizeof(a));
	int tp = turn_transport_parse(r.transport);
	if (turn_id_parse(r.id, &a.id) < 0 || tp < 0)
		return -EINVAL;
	a.ft.proto = (uint8_t)tp;
	if (parse_addr(r.client_addr, a.ft.cli_ip, &a.ft.fam) < 0 ||
	    parse_addr(r.server_addr, a.ft.srv_ip, &fam) < 0 || fam != a.ft.fam)
		return -EINVAL;
	a.ft.cli_port = r.client_port;
	a.ft.srv_port = r.server_port;
	uint8_t rip[16];
	if (parse_addr(r.relay_addr, rip, &fam) < 0)
		return -EINVAL;
	a.relay_port[fam == 4 ? 0 : 1] = r.relay_port;
	if (strlen(r.username) >= sizeof(a.username))
		return -EINVAL;
	memcpy(a.username, r.username, strlen(r.username) + 1);
	/* Only the addresses an Allocate would hand out now: after the port was readdressed
	 * (or the relay range changed) the dataplane neither receives nor sends from the old
	 * one, and restoring it would keep a dead allocation and its user's quota. */
	why = "relayed address";
	memcpy(orphan_user, r.username, strlen(r.username) + 1);
	if ((rc = relay_check(s, set, r.relay_addr, fam, rip, r.relay_port)) < 0)
		return rc;
	if (r.relay6_port && fam == 4) {
		if (parse_addr(r.relay6_addr, rip, &fam) < 0 || fam != 6)
			return -EINVAL;
		if ((rc = relay_check(s, set, r.relay6_addr, fam, rip, r.relay6_port)) < 0)
			return rc;
	}
	a.relay_set = (uint8_t)set;
	a.created = (uint32_t)r.created;
	a.expires = (uint32_t)r.expires;

	if (!a.relay_port[1])
		a.relay_port[1] = r.relay6_port;
	a.dont_fragment = r.dont_fragment;
	a.bw_rate = r.bw_bps;
	a.st.pkts_c2p = r.pkts_c2p;
	a.st.bytes_c2p = r.bytes_c2p;
	a.st.pkts_p2c = r.pkts_p2c;
	a.st.bytes_p2c = r.bytes_p2c;
	a.drops[TURN_DROP_NO_PERMISSION] = r.drop_no_permission;
	a.drops[TURN_DROP_NO_CHANNEL] = r.drop_no_channel;
	a.drops[TURN_DROP_BANDWIDTH] = r.drop_bandwidth;
	a.drops[TURN_DROP_MALFORMED] = r.drop_malformed;

	why = "permissions";
	struct pr_ks_turn_perm perms[TURN_MAX_PERMS];
	int np = pr_ks_turn_perm_list_reply(idhex, exec->element[1], perms, TURN_MAX_PERMS);
	if (np < 0)
		return np;
	for (int i = 0; i < np; i++) {
		uint8_t ip[16];
		if (parse_addr(perms[i].peer_addr, ip, &fam) < 0)
			return -EINVAL;
		turn_peer16(a.perm[a.n_perm].ip, ip, fam);
		a.perm[a.n_perm++].expires = (uint32_t)perms[i].expires;
	}
	why = "channels";
	struct pr_ks_turn_chan chans[TURN_MAX_CHANS];
	int nc = pr_ks_turn_chan_list_reply(idhex, exec->element[2], chans, TURN_MAX_CHANS);
	if (nc < 0)
		return nc;
	for (int i = 0; i < nc; i++) {
		uint8_t ip[16];
		if (chans[i].channel > TURN_CHAN_MAX_RFC5766 ||
		    parse_addr(chans[i].peer_addr, ip, &fam) < 0)
			return -EINVAL;
		struct turn_chan *c = &a.chan[a.n_chan++];
		turn_peer16(c->ip, ip, fam);
		c->port = chans[i].peer_port;
		c->num = chans[i].channel;
		c->expires = (uint32_t)chans[i].expires;
	}
	*out = a;
	return 0;
}

/* One allocation read (one transaction: its hash and side hashes) and rebuilt into s. */
static int restore_one(struct turn_store *st, struct turn_server *s, const char *idhex, int set)
{
	struct turn_alloc a;
	redisReply *exec = NULL;
	struct pr_redis_tx *tx = pr_redis_tx_new();
	why = "record";
	orphan_user[0] = '\0';
	if (!tx)
		return -ENOMEM;
	int rc = turn_store_record_tx(tx, idhex);
	if (rc == 0)
		rc = pr_redis_tx_run(st->r, tx, &exec);
	pr_redis_tx_free(tx);
	if (rc == 0)
		rc = turn_store_record_parse(s, set, idhex, exec, &a);
	if (exec)
		freeReplyObject(exec);
	if (rc < 0)
		return rc;
	why = "tables";
	return turn_server_restore(s, &a);
}

/* Whether allocation idhex relays on the [ha] peer's addresses (a failed read: not
 * known to be the peer's). */
static bool peer_record(struct turn_store *st, struct turn_server *s, const char *idhex)
{
	const struct turn_cfg *cfg = turn_server_cfg(s);
	struct pr_ks_turn_alloc r;
	uint8_t rip[16], fam;
	if (!cfg->peer_port_min || pr_ks_turn_alloc_load(st->r, idhex, &r) < 0 ||
	    parse_addr(r.relay_addr, rip, &fam) < 0)
		return false;
	return turn_server_relay_peer(s, fam == 4 ? 0 : 1, rip, r.relay_port);
}

int turn_store_prune(struct turn_store *st, struct turn_server *s)
{
	if (!st || !st->r)
		return -ENOTCONN;
	struct pr_ks_names ids;
	int rc = pr_ks_turn_alloc_list(st->r, &ids);
	if (rc < 0)
		return rc == -EIO ? fail(st, "allocation list") : rc;
	int n = 0;
	for (size_t i = 0; i < ids.n; i++) {
		uint64_t id;
		if (turn_id_parse(ids.v[i], &id) == 0 && turn_server_find_id(s, id))
			continue;
		if (peer_record(st, s, ids.v[i]))
			continue; /* the [ha] peer's: it is the writer, not us */
		if (pr_ks_turn_alloc_delete(st->r, ids.v[i]) == 0)
			n++;
	}
	pr_ks_names_free(&ids);
	return n;
}

int turn_store_restore_all(struct turn_store *st, struct turn_server *s, int set)
{
	if (!st || !st->r)
		return -ENOTCONN;
	struct pr_ks_names ids;
	int rc = pr_ks_turn_alloc_list(st->r, &ids);
	if (rc < 0)
		return rc == -EIO ? fail(st, "allocation list") : rc;
	int n = 0;
	for (size_t i = 0; i < ids.n; i++) {
		rc = restore_one(st, s, ids.v[i], set);
		if (rc == 0) {
			n++;
			continue;
		}
		if (rc == -EXDEV)
			continue; /* the other appliance's (or, at a takeover, ours) */
		if (set && rc != -EIO) {
			/* the peer's record: never ours to delete (it may come back) */
			if (rc != -EEXIST && rc != -ESTALE)
				PR_WARN("turn: peer allocation %s not taken over (%s: %s)",
					ids.v[i], why, strerror(-rc));
			continue;
		}
		if (rc == -EADDRNOTAVAIL) {
			/* deleted as a deallocation deletes it (the records and the index
			 * entry), so that poprelayctl and the user's quota no longer see it */
			PR_WARN("turn: allocation %s of %s not restored: relayed address %s is "
				"no longer ours: deleted",
				ids.v[i], orphan_user, orphan_addr);
			turn_server_count_orphan(s);
			rc = pr_ks_turn_alloc_delete(st->r, ids.v[i]);
			if (rc != -EIO)
				continue;
		}
		if (rc == -EIO) {
			pr_ks_names_free(&ids);
			return fail(st, "allocation restore");
		}
		PR_WARN("turn: allocation %s not restored (%s: %s): deleted", ids.v[i], why,
			strerror(-rc));
		pr_ks_turn_alloc_delete(st->r, ids.v[i]);
	}
	pr_ks_names_free(&ids);
	return n;
}
