/* SPDX-License-Identifier: BSD-3-Clause */
/* [ha] backup: the copy of the peer's TURN allocations (turn_follow.h). The records are
 * read and parsed exactly as a restore reads them (turn_store_record_tx and
 * turn_store_record_parse, one transaction per allocation); only where they are kept
 * differs: here, until a takeover installs them. */
#include "dataplane/turn/turn_follow.h"

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
#include "dataplane/turn/turn_store.h"

#define FOLLOW_TIMEOUT_MS 500
#define FOLLOW_READ_MS	  20   /* the stream is read this often (and at once when behind) */
#define FOLLOW_BATCH	  1024 /* stream entries per read */
#define FOLLOW_INFLIGHT	  256  /* transactions on the connection at most */
#define FOLLOW_SETTLE_MS  50   /* a takeover waits this long at most for replies in flight */

enum { FK_SYNC, FK_LOAD, FK_READ };

/* A transaction on the pipeline, waiting for its replies (MULTI, each QUEUED, EXEC). */
struct fpend {
	uint32_t left;
	uint8_t kind;
	bool of_sync; /* FK_LOAD: one of the full load's */
	uint64_t id;
};

struct fent {
	struct turn_alloc a;
	uint32_t gen; /* the full load that last saw it */
};

struct turn_follow {
	struct turn_server *s;
	struct pr_redis *c;
	char sock[128], user[128], pwfile[256];
	uint32_t max;
	/* the copy: open addressing on the id, linear probing, at most max of 2 x max slots */
	struct fent **slot;
	uint32_t mask;
	/* ids whose record is to be read, in order (a ring) */
	struct {
		uint64_t id;
		bool of_sync;
	} * todo;
	uint32_t todo_head, todo_n, todo_cap;
	struct fpend pend[FOLLOW_INFLIGHT];
	uint32_t head, npend;
	uint64_t last_ms, last_seq; /* the stream read up to this id, */
	uint64_t added_pos;	    /* its entries-added count there (XINFO STREAM) */
	bool synced;		    /* the full load's list came: the stream is read from last */
	bool reading;		    /* a read of the stream in flight */
	bool stopped;		    /* taken over: not following until resumed */
	bool overflow;		    /* more than max: the copy misses some */
	bool warned;
	uint32_t sync_left; /* the full load's records still to come */
	uint32_t gen;
	uint64_t last_try_ms, last_read_ms, last_expire_ms;
	struct turn_follow_stats st;
};

static void set_stat(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static void set_complete(struct turn_follow *f, bool on)
{
	set_stat(&f->st.complete, on);
}

/* ---- the copy ---- */

static uint32_t hash_id(uint64_t id)
{
	id ^= id >> 33;
	id *= 0xff51afd7ed558ccdull;
	id ^= id >> 33;
	return (uint32_t)id;
}

static uint32_t find_slot(const struct turn_follow *f, uint64_t id)
{
	uint32_t i = hash_id(id) & f->mask;
	while (f->slot[i] && f->slot[i]->a.id != id)
		i = (i + 1) & f->mask;
	return i;
}

static void count(struct turn_follow *f, const struct fent *e, int sign)
{
	set_stat(&f->st.allocations, f->st.allocations + (uint32_t)sign);
	set_stat(&f->st.permissions, f->st.permissions + (uint32_t)(sign * e->a.n_perm));
	set_stat(&f->st.channels, f->st.channels + (uint32_t)(sign * e->a.n_chan));
}

static void drop(struct turn_follow *f, uint64_t id)
{
	uint32_t i = find_slot(f, id);
	if (!f->slot[i])
		return;
	count(f, f->slot[i], -1);
	free(f->slot[i]);
	f->slot[i] = NULL;
	/* backward shift: the entries after it that probed past i move up */
	for (uint32_t j = (i + 1) & f->mask; f->slot[j]; j = (j + 1) & f->mask) {
		uint32_t h = hash_id(f->slot[j]->a.id) & f->mask;
		if (((j - h) & f->mask) >= ((j - i) & f->mask)) {
			f->slot[i] = f->slot[j];
			f->slot[j] = NULL;
			i = j;
		}
	}
}

static void put(struct turn_follow *f, const struct turn_alloc *a)
{
	uint32_t i = find_slot(f, a->id);
	struct fent *e = f->slot[i];
	if (e) {
		count(f, e, -1);
	} else {
		/* (aligned as the struct asks: its counters are 64-byte aligned, and the
		 * compiler's stores to them may rely on it) */
		if (f->st.allocations >= f->max ||
		    posix_memalign((void **)&e, _Alignof(struct fent), sizeof(*e)) != 0) {
			if (!f->overflow)
				PR_WARN(
				    "turn: the copy of the [ha] peer's allocations is full (%u, "
				    "[turn] max_allocations): a takeover reads them from redis",
				    f->max);
			f->overflow = true;
			set_complete(f, false);
			return;
		}
		f->slot[i] = e;
	}
	e->a = *a;
	e->gen = f->gen;
	count(f, e, 1);
}

/* Stops at the last entry, and writes only the slots that hold one: the table is sized for
 * [turn] max_allocations (2 x, pointers), mostly pages never touched, and writing them
 * all took 0.5 ms of a takeover's path with one allocation followed (page faults). */
static void clear(struct turn_follow *f)
{
	for (uint32_t i = 0, left = f->st.allocations; left && i <= f->mask; i++) {
		if (f->slot[i]) {
			free(f->slot[i]);
			f->slot[i] = NULL;
			left--;
		}
	}
	set_stat(&f->st.allocations, 0);
	set_stat(&f->st.permissions, 0);
	set_stat(&f->st.channels, 0);
	f->overflow = false;
}

/* ---- the connection ---- */

static void drop_conn(struct turn_follow *f)
{
	if (f->c)
		pr_redis_close(f->c);
	f->c = NULL;
	f->npend = f->head = 0;
	f->todo_n = f->todo_head = 0;
	f->reading = f->synced = false;
	f->sync_left = 0;
	set_complete(f, false);
}

static void lost(struct turn_follow *f, const char *what)
{
	PR_WARN("turn: following the [ha] peer's allocations: redis %s failed (%s): a takeover "
		"reads them from redis until the copy is whole again",
		what, f->c ? pr_redis_errmsg(f->c) : "down");
	drop_conn(f);
}

static int queue(struct turn_follow *f, struct pr_redis_tx *tx, uint8_t kind, uint64_t id,
		 bool of_sync)
{
	int n = pr_redis_pipe_tx(f->c, tx);
	if (n < 0)
		return n;
	f->pend[(f->head + f->npend++) % FOLLOW_INFLIGHT] =
	    (struct fpend){(uint32_t)n, kind, of_sync, id};
	return 0;
}

/* The full load: the stream's position and the index, at one instant (one transaction);
 * every listed record is then read, and what changed since comes from the stream. */
static int start_sync(struct turn_follow *f)
{
	struct pr_redis_tx *tx = pr_redis_tx_new();
	if (!tx)
		return -ENOMEM;
	pr_redis_tx_add(tx, "XINFO STREAM %s", PR_KS_TURN_CHANGES_KEY);
	pr_redis_tx_add(tx, "ZRANGEBYSCORE %s %lld +inf", PR_KS_TURN_ALLOCS_KEY,
			(long long)time(NULL));
	int rc = queue(f, tx, FK_SYNC, 0, false);
	pr_redis_tx_free(tx);
	f->synced = false;
	set_complete(f, false);
	return rc;
}

static bool connect_now(struct turn_follow *f)
{
	f->c = pr_redis_open(f->sock, f->user, f->pwfile, FOLLOW_TIMEOUT_MS);
	if (!f->c || pr_redis_pipeline(f->c) < 0 || start_sync(f) < 0) {
		if (!f->warned)
			PR_WARN("turn: cannot follow the [ha] peer's allocations: redis %s (%s); "
				"retrying",
				f->sock, pr_redis_errmsg(f->c));
		f->warned = true;
		if (f->c)
			pr_redis_close(f->c);
		f->c = NULL;
		return false;
	}
	f->warned = false;
	return true;
}

struct turn_follow *turn_follow_new(struct turn_server *s, const char *sock, const char *user,
				    const char *pwfile, uint32_t max)
{
	struct turn_follow *f = calloc(1, sizeof(*f));
	uint32_t n = 16;
	if (!f)
		return NULL;
	while (n < 2 * max)
		n <<= 1;
	f->s = s;
	f->max = max;
	f->mask = n - 1;
	f->todo_cap = 2 * max + 4 * FOLLOW_BATCH; /* the index holds ours and the peer's */
	f->slot = calloc(n, sizeof(*f->slot));
	f->todo = calloc(f->todo_cap, sizeof(*f->todo));
	if (!f->slot || !f->todo) {
		turn_follow_free(f);
		return NULL;
	}
	snprintf(f->sock, sizeof(f->sock), "%s", sock ? sock : "");
	snprintf(f->user, sizeof(f->user), "%s", user ? user : "");
	snprintf(f->pwfile, sizeof(f->pwfile), "%s", pwfile ? pwfile : "");
	return f;
}

void turn_follow_free(struct turn_follow *f)
{
	if (!f)
		return;
	drop_conn(f);
	if (f->slot)
		clear(f);
	free(f->slot);
	free(f->todo);
	free(f);
}

int turn_follow_fd(const struct turn_follow *f)
{
	return f && f->c && !f->stopped ? pr_redis_ctx(f->c)->fd : -1;
}

const struct turn_follow_stats *turn_follow_stats(const struct turn_follow *f)
{
	return &f->st;
}

/* ---- replies ---- */

static int parse_sid(const char *s, uint64_t *ms, uint64_t *seq)
{
	char *end;
	*ms = strtoull(s, &end, 10);
	if (*end != '-')
		return -EINVAL;
	*seq = strtoull(end + 1, &end, 10);
	return *end ? -EINVAL : 0;
}

/* A field of XINFO STREAM's reply (RESP2: name, value, ...). */
static const redisReply *info_field(const redisReply *info, const char *name)
{
	if (!info || info->type != REDIS_REPLY_ARRAY)
		return NULL;
	for (size_t i = 0; i + 1 < info->elements; i += 2) {
		const redisReply *k = info->element[i];
		if (k->type == REDIS_REPLY_STRING && !strcmp(k->str, name))
			return info->element[i + 1];
	}
	return NULL;
}

static int info_sid(const redisReply *info, const char *name, uint64_t *ms, uint64_t *seq)
{
	const redisReply *v = info_field(info, name);
	return v && v->type == REDIS_REPLY_STRING ? parse_sid(v->str, ms, seq) : -ENOENT;
}

static int info_int(const redisReply *info, const char *name, uint64_t *out)
{
	const redisReply *v = info_field(info, name);
	if (!v || v->type != REDIS_REPLY_INTEGER || v->integer < 0)
		return -ENOENT;
	*out = (uint64_t)v->integer;
	return 0;
}

static void todo_push(struct turn_follow *f, uint64_t id, bool of_sync)
{
	if (f->todo_n == f->todo_cap) {
		/* cannot happen within the bounds (the index holds at most both appliances'):
		 * the copy is no longer known to be whole */
		f->overflow = true;
		set_complete(f, false);
		return;
	}
	uint32_t i = (f->todo_head + f->todo_n++) % f->todo_cap;
	f->todo[i].id = id;
	f->todo[i].of_sync = of_sync;
	if (of_sync)
		f->sync_left++;
}

static void sync_done(struct turn_follow *f)
{
	/* what the full load did not see ended while we were not following */
	for (uint32_t i = 0; i <= f->mask;) {
		if (f->slot[i] && f->slot[i]->gen != f->gen)
			drop(f, f->slot[i]->a.id); /* (moves a later one into i) */
		else
			i++;
	}
	f->st.syncs++;
	set_complete(f, !f->overflow);
	PR_NOTICE("turn: following %u allocations of the [ha] peer%s", f->st.allocations,
		  f->overflow ? " (not all: the copy is full)" : "");
}

static void on_sync(struct turn_follow *f, const redisReply *exec)
{
	if (exec->type != REDIS_REPLY_ARRAY || exec->elements != 2 ||
	    exec->element[1]->type != REDIS_REPLY_ARRAY) {
		lost(f, "full load");
		return;
	}
	/* no stream yet (XINFO's error): from its start */
	if (info_sid(exec->element[0], "last-generated-id", &f->last_ms, &f->last_seq) < 0)
		f->last_ms = f->last_seq = 0;
	if (info_int(exec->element[0], "entries-added", &f->added_pos) < 0)
		f->added_pos = 0; /* (or Redis before 7: no gap check) */
	f->gen++;
	f->overflow = false;
	f->todo_n = f->todo_head = 0;
	f->sync_left = 0;
	const redisReply *ids = exec->element[1];
	for (size_t i = 0; i < ids->elements; i++) {
		uint64_t id;
		if (ids->element[i]->type == REDIS_REPLY_STRING &&
		    turn_id_parse(ids->element[i]->str, &id) == 0)
			todo_push(f, id, true);
	}
	f->synced = true;
	f->last_read_ms = 0; /* the stream at once */
	if (!f->sync_left)
		sync_done(f);
}

static void on_load(struct turn_follow *f, const struct fpend *p, const redisReply *exec)
{
	struct turn_alloc a;
	char hex[17];
	turn_id_hex(p->id, hex);
	f->st.loads++;
	int rc = turn_store_record_parse(f->s, 1, hex, exec, &a);
	if (rc == 0) {
		put(f, &a);
	} else {
		drop(f, p->id);
		/* gone, or ours (another appliance's): not the peer's to follow */
		if (rc != -ENOENT && rc != -EXDEV && rc != -EADDRNOTAVAIL)
			PR_WARN("turn: peer allocation %s not followed: %s", hex, strerror(-rc));
	}
	if (p->of_sync && f->sync_left && --f->sync_left == 0)
		sync_done(f);
}

/* "c" of a counters entry: the eight counters as the owner wrote them. */
static void set_counters(struct turn_follow *f, uint64_t id, const char *c)
{
	uint64_t v[8];
	uint32_t i = find_slot(f, id);
	if (!f->slot[i] || sscanf(c,
				  "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
				  " %" SCNu64 " %" SCNu64 " %" SCNu64,
				  &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
		return;
	struct turn_alloc *a = &f->slot[i]->a;
	a->st.pkts_c2p = v[0];
	a->st.bytes_c2p = v[1];
	a->st.pkts_p2c = v[2];
	a->st.bytes_p2c = v[3];
	a->drops[TURN_DROP_NO_PERMISSION] = v[4];
	a->drops[TURN_DROP_NO_CHANNEL] = v[5];
	a->drops[TURN_DROP_BANDWIDTH] = v[6];
	a->drops[TURN_DROP_MALFORMED] = v[7];
}

/* Whether "addr" and "port" name one of the peer's relayed addresses. */
static bool peer_relay(const struct turn_follow *f, const char *addr, const char *port)
{
	uint8_t ip[16];
	int fi = strchr(addr, ':') ? 1 : 0;
	if (inet_pton(fi ? AF_INET6 : AF_INET, addr, ip) != 1)
		return false;
	return turn_server_relay_peer(f->s, fi, ip, (uint16_t)strtoul(port, NULL, 10));
}

static void on_entry(struct turn_follow *f, const redisReply *e)
{
	const char *op = NULL, *id = NULL, *relay = NULL, *port = NULL, *c = NULL;
	uint64_t n;
	const redisReply *kv = e->element[1];
	if (kv->type != REDIS_REPLY_ARRAY)
		return;
	for (size_t i = 0; i + 1 < kv->elements; i += 2) {
		const redisReply *k = kv->element[i], *v = kv->element[i + 1];
		if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
			return;
		if (!strcmp(k->str, "op"))
			op = v->str;
		else if (!strcmp(k->str, "id"))
			id = v->str;
		else if (!strcmp(k->str, "relay"))
			relay = v->str;
		else if (!strcmp(k->str, "port"))
			port = v->str;
		else if (!strcmp(k->str, "c"))
			c = v->str;
	}
	if (!op || !id || turn_id_parse(id, &n) < 0)
		return;
	if (!strcmp(op, "del"))
		drop(f, n);
	else if (!strcmp(op, "cnt") && c)
		set_counters(f, n, c);
	else if (!strcmp(op, "set") && relay && port && peer_relay(f, relay, port))
		todo_push(f, n, false);
	else if (!strcmp(op, "set"))
		drop(f, n); /* (an allocation of the peer's now written as another's) */
}

static void on_read(struct turn_follow *f, const redisReply *exec)
{
	uint64_t ms, seq;
	f->reading = false;
	if (exec->type != REDIS_REPLY_ARRAY || exec->elements != 2) {
		lost(f, "stream read");
		return;
	}
	/* A gap: an entry after the last one read was trimmed before this read (one
	 * transaction with it): more were added since our position than the stream holds
	 * (trimming takes the oldest), or the stream was deleted or made again. What they said
	 * is lost, so everything is read again. */
	const redisReply *info = exec->element[0];
	uint64_t added = 0, len = 0;
	bool gap;
	if (info->type != REDIS_REPLY_ARRAY) /* no such stream: deleted since it was read? */
		gap = f->added_pos > 0;
	else if (info_int(info, "entries-added", &added) < 0 || info_int(info, "length", &len) < 0)
		gap = false; /* Redis before 7: no way to tell */
	else
		gap = added < f->added_pos || added - f->added_pos > len;
	if (gap) {
		f->st.gaps++;
		PR_WARN("turn: the stream of allocation changes was trimmed past what this backup "
			"had read: reading the [ha] peer's allocations again");
		if (start_sync(f) < 0)
			lost(f, "full load");
		return;
	}
	const redisReply *r = exec->element[1];
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1)
		return; /* nil: nothing new */
	const redisReply *kr = r->element[0];
	if (kr->type != REDIS_REPLY_ARRAY || kr->elements != 2 ||
	    kr->element[1]->type != REDIS_REPLY_ARRAY)
		return;
	const redisReply *es = kr->element[1];
	for (size_t i = 0; i < es->elements; i++) {
		const redisReply *e = es->element[i];
		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
		    e->element[0]->type != REDIS_REPLY_STRING ||
		    parse_sid(e->element[0]->str, &ms, &seq) < 0)
			continue;
		f->last_ms = ms;
		f->last_seq = seq;
		f->added_pos++;
		f->st.entries++;
		on_entry(f, e);
	}
	if (es->elements >= FOLLOW_BATCH)
		f->last_read_ms = 0; /* behind: again at once */
}

static void on_reply(struct turn_follow *f, const struct fpend *p, const redisReply *exec)
{
	if (p->kind == FK_SYNC)
		on_sync(f, exec);
	else if (p->kind == FK_LOAD)
		on_load(f, p, exec);
	else
		on_read(f, exec);
}

/* The replies that came, in order. */
static void take_replies(struct turn_follow *f)
{
	redisReply *rep;
	if (pr_redis_pump(f->c) < 0) {
		lost(f, "connection");
		return;
	}
	while (f->c && f->npend) {
		if (pr_redis_pipe_reply(f->c, &rep) < 0) {
			lost(f, "reply");
			return;
		}
		if (!rep)
			break;
		struct fpend p = f->pend[f->head];
		if (--f->pend[f->head].left == 0) {
			f->head = (f->head + 1) % FOLLOW_INFLIGHT;
			f->npend--;
			on_reply(f, &p, rep);
		}
		freeReplyObject(rep);
	}
}

static void send_due(struct turn_follow *f, uint64_t now_ms)
{
	/* the records to read, as far as the pipeline has room (one slot kept for a read) */
	while (f->todo_n && f->npend < FOLLOW_INFLIGHT - 1) {
		uint64_t id = f->todo[f->todo_head].id;
		bool of_sync = f->todo[f->todo_head].of_sync;
		struct pr_redis_tx *tx = pr_redis_tx_new();
		char hex[17];
		if (!tx)
			return;
		turn_id_hex(id, hex);
		int rc = turn_store_record_tx(tx, hex);
		if (rc == 0)
			rc = queue(f, tx, FK_LOAD, id, of_sync);
		pr_redis_tx_free(tx);
		if (rc < 0) {
			lost(f, "record read");
			return;
		}
		f->todo_head = (f->todo_head + 1) % f->todo_cap;
		f->todo_n--;
	}
	if (!f->synced || f->reading || f->npend == FOLLOW_INFLIGHT ||
	    now_ms - f->last_read_ms < FOLLOW_READ_MS)
		return;
	/* the gap check and the read in one transaction: see on_read */
	struct pr_redis_tx *tx = pr_redis_tx_new();
	char last[48], cnt[12];
	if (!tx)
		return;
	snprintf(last, sizeof(last), "%" PRIu64 "-%" PRIu64, f->last_ms, f->last_seq);
	snprintf(cnt, sizeof(cnt), "%u", FOLLOW_BATCH);
	pr_redis_tx_add(tx, "XINFO STREAM %s", PR_KS_TURN_CHANGES_KEY);
	pr_redis_tx_add(tx, "XREAD COUNT %s STREAMS %s %s", cnt, PR_KS_TURN_CHANGES_KEY, last);
	int rc = queue(f, tx, FK_READ, 0, false);
	pr_redis_tx_free(tx);
	if (rc < 0) {
		lost(f, "stream read");
		return;
	}
	f->reading = true;
	f->last_read_ms = now_ms;
}

/* Copies whose lifetime ran out: the owner's deletion may never come (it died). */
static void expire(struct turn_follow *f)
{
	uint32_t now = (uint32_t)time(NULL);
	for (uint32_t i = 0; i <= f->mask;) {
		if (f->slot[i] && f->slot[i]->a.expires <= now)
			drop(f, f->slot[i]->a.id);
		else
			i++;
	}
}

void turn_follow_poll(struct turn_follow *f, uint64_t now_ms)
{
	if (!f || f->stopped)
		return;
	if (f->c && pr_redis_stale(f->c)) {
		/* a +switch-master: everything again from the new primary */
		PR_NOTICE("turn: the redis primary moved (+switch-master): following the [ha] "
			  "peer's allocations from it");
		drop_conn(f);
		f->last_try_ms = 0;
	}
	if (!f->c) {
		if (f->last_try_ms && now_ms - f->last_try_ms < 1000)
			return;
		f->last_try_ms = now_ms ? now_ms : 1;
		if (!connect_now(f))
			return;
	}
	take_replies(f);
	if (f->c)
		send_due(f, now_ms);
	if (f->c && pr_redis_pump(f->c) < 0)
		lost(f, "connection");
	if (now_ms - f->last_expire_ms >= 1000) {
		f->last_expire_ms = now_ms;
		expire(f);
	}
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int turn_follow_take(struct turn_follow *f, const char **why)
{
	int n = 0;
	*why = NULL;
	if (!f)
		*why = "no copy";
	else if (f->stopped)
		*why = "taken over already";
	else if (!f->c)
		*why = "redis was away";
	else if (!f->st.complete)
		*why = f->overflow ? "the copy is full" : "the full load has not ended";
	if (*why) {
		if (f)
			f->stopped = true;
		return -EAGAIN;
	}
	/* what was read before the takeover still completes; nothing new is sent */
	uint64_t until = mono_ms() + FOLLOW_SETTLE_MS;
	while (f->c && f->npend && mono_ms() < until) {
		take_replies(f);
		struct timespec ts = {0, 200000};
		if (f->c && f->npend)
			nanosleep(&ts, NULL);
	}
	f->stopped = true;
	if (!f->c || f->npend || f->todo_n || !f->st.complete) {
		*why = "changes were still being read";
		drop_conn(f);
		clear(f);
		return -EAGAIN;
	}
	drop_conn(f);
	for (uint32_t i = 0, left = f->st.allocations; left && i <= f->mask; i++) {
		struct fent *e = f->slot[i];
		if (!e)
			continue;
		left--;
		int rc = turn_server_restore(f->s, &e->a);
		if (rc == 0) {
			n++;
		} else if (rc != -EEXIST && rc != -ESTALE) {
			char hex[17];
			turn_id_hex(e->a.id, hex);
			PR_WARN("turn: peer allocation %s not taken over (tables: %s)", hex,
				strerror(-rc));
		}
	}
	clear(f);
	return n;
}

void turn_follow_resume(struct turn_follow *f)
{
	if (!f || !f->stopped) /* (a release with nothing held: following goes on) */
		return;
	drop_conn(f);
	clear(f);
	f->stopped = false;
	f->last_try_ms = 0; /* at the next poll */
}
