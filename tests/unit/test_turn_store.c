/* SPDX-License-Identifier: BSD-3-Clause */
/* TURN state in Redis against a private redis-server: users' keys, REST secrets and their
 * rotation, save/restore round trip of an allocation (dual relay, permissions, channels in
 * both channel ranges, counters), counter sync, delete, the write pipeline (completions in
 * order, a refused write, a lost connection), life without Redis, and an [ha] backup's
 * copy of its peer's allocations (turn_follow.h). */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/redis_fixture.h"
#include "common/keyspace.h"
#include "common/redis.h"
#include "crypto/stun_auth.h"
#include "dataplane/turn/turn_follow.h"
#include "dataplane/turn/turn_store.h"

static char sock_path[128];
static struct turn_store *st;
static struct pr_redis *R;

/* The write pipeline's completions, in the order they came. */
static struct {
	void *cookie;
	int rc;
} done[2048];
static unsigned ndone;

/* A user's key as the dataplane gets it: asked on the pipeline (-EINPROGRESS), then asked
 * again from the done callback of that read, where the reply is at hand. */
static struct {
	const char *user, *realm;
	int alg, rc;
	uint8_t *key;
	bool ran;
} lk;

static void on_done(void *arg, void *cookie, int rc)
{
	(void)arg;
	if (cookie == (void *)&lk) { /* a user's key read came back: ask again, as a re-run does */
		lk.rc = rc < 0 ? rc : turn_store_user_key(st, lk.user, lk.realm, lk.alg, lk.key);
		lk.ran = true;
		return;
	}
	if (ndone < sizeof(done) / sizeof(done[0]))
		done[ndone] = (typeof(done[0])){cookie, rc};
	ndone++;
}

/* Polls until no write is in flight (at most 5 s). */
static unsigned drain(struct turn_store *x)
{
	for (int i = 0; i < 50000; i++) {
		if (!turn_store_poll(x))
			return 0;
		usleep(100);
	}
	return turn_store_poll(x);
}

static int suite_init(void)
{
	if (test_redis_start("tn-unit", 120, sock_path, sizeof(sock_path)) < 0 ||
	    pr_redis_connect(&R, sock_path, 2000) != 0)
		return -1;
	st = turn_store_new(sock_path, NULL, NULL);
	if (st)
		turn_store_on_done(st, on_done, NULL);
	return turn_store_up(st) ? 0 : -1;
}

static int suite_clean(void)
{
	turn_store_free(st);
	if (R)
		pr_redis_close(R);
	R = NULL;
	test_redis_stop();
	return 0;
}

static int lookup(const char *user, const char *realm, int alg, uint8_t key[32])
{
	int rc = turn_store_user_key(st, user, realm, alg, key);
	if (rc != -EINPROGRESS)
		return rc;
	lk = (typeof(lk)){user, realm, alg, -999, key, false};
	CU_ASSERT_EQUAL(turn_store_wait_last(st, &lk), 0);
	CU_ASSERT_EQUAL(drain(st), 0);
	CU_ASSERT(lk.ran);
	return lk.rc;
}

static void test_user_key(void)
{
	struct pr_ks_user u;
	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "alice");
	snprintf(u.realm, sizeof(u.realm), "tn.example");
	uint8_t md5[16], sha[32], key[32];
	pr_ha1_md5("alice", "tn.example", "pw-alice", md5);
	pr_ha1_sha256("alice", "tn.example", "pw-alice", sha);
	pr_hex_encode(md5, 16, u.ha1_md5);
	pr_hex_encode(sha, 32, u.ha1_sha256);
	u.created = u.updated = time(NULL);
	CU_ASSERT_EQUAL_FATAL(pr_ks_user_store(R, &u), 0);
	/* never answered without asking Redis */
	CU_ASSERT_EQUAL(turn_store_user_key(st, "alice", "tn.example", STUN_PWALG_MD5, key),
			-EINPROGRESS);
	CU_ASSERT_EQUAL(drain(st), 0);
	CU_ASSERT_EQUAL(lookup("alice", "tn.example", STUN_PWALG_MD5, key), 0);
	CU_ASSERT(!memcmp(key, md5, 16));
	/* the reply served the request that asked, and only it */
	CU_ASSERT_EQUAL(turn_store_user_key(st, "alice", "tn.example", STUN_PWALG_MD5, key),
			-EINPROGRESS);
	CU_ASSERT_EQUAL(drain(st), 0);
	CU_ASSERT_EQUAL(lookup("alice", "tn.example", STUN_PWALG_SHA256, key), 0);
	CU_ASSERT(!memcmp(key, sha, 32));
	CU_ASSERT_EQUAL(lookup("alice", "other.realm", STUN_PWALG_MD5, key), -ENOENT);
	CU_ASSERT_EQUAL(lookup("nobody", "tn.example", STUN_PWALG_MD5, key), -ENOENT);
	CU_ASSERT_EQUAL(turn_store_user_key(st, "bad name!", "tn.example", STUN_PWALG_MD5, key),
			-ENOENT); /* not even asked */
	u.disabled = true;
	CU_ASSERT_EQUAL_FATAL(pr_ks_user_store(R, &u), 0);
	CU_ASSERT_EQUAL(lookup("alice", "tn.example", STUN_PWALG_MD5, key), -ENOENT);
}

static void test_rest_secrets(void)
{
	char out[TURN_REST_SECRETS][TURN_SECRET_MAX];
	redisReply *rep = pr_redis_cmd(R, "HSET %s 2026-11 first", PR_KS_TURN_SECRETS_KEY);
	CU_ASSERT_FATAL(rep != NULL);
	freeReplyObject(rep);
	/* a store that just connected reads them at their first use */
	struct turn_store *fresh = turn_store_new(sock_path, NULL, NULL);
	CU_ASSERT_FATAL(fresh != NULL);
	CU_ASSERT_EQUAL(turn_store_rest_secrets(fresh, out, TURN_REST_SECRETS), -EINPROGRESS);
	CU_ASSERT_EQUAL(drain(fresh), 0);
	int n = turn_store_rest_secrets(fresh, out, TURN_REST_SECRETS);
	CU_ASSERT(n == 1 && !strcmp(out[0], "first"));
	turn_store_free(fresh);
	/* one that read them earlier reads them again once they are 2 s old: the request waits
	 * (-EINPROGRESS) for that read, and so does every request until it is in */
	sleep(2);
	CU_ASSERT_EQUAL(turn_store_rest_secrets(st, out, TURN_REST_SECRETS), -EINPROGRESS);
	unsigned room = turn_store_room(st);
	CU_ASSERT_EQUAL(turn_store_rest_secrets(st, out, TURN_REST_SECRETS), -EINPROGRESS);
	CU_ASSERT_EQUAL(turn_store_room(st), room); /* asked once */
	CU_ASSERT_EQUAL(drain(st), 0);
	n = turn_store_rest_secrets(st, out, TURN_REST_SECRETS);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT(n == 1 && !strcmp(out[0], "first"));
	rep = pr_redis_cmd(R, "HSET %s 2026-12 second", PR_KS_TURN_SECRETS_KEY);
	freeReplyObject(rep);
	/* read less than 2 s ago: as they were; then the rotation shows without a restart */
	n = turn_store_rest_secrets(st, out, TURN_REST_SECRETS);
	CU_ASSERT_EQUAL(n, 1);
	sleep(2);
	CU_ASSERT_EQUAL(turn_store_rest_secrets(st, out, TURN_REST_SECRETS), -EINPROGRESS);
	CU_ASSERT_EQUAL(drain(st), 0);
	n = turn_store_rest_secrets(st, out, TURN_REST_SECRETS);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT(n == 2 && (!strcmp(out[0], "second") || !strcmp(out[1], "second")));
}

static struct turn_server *mk_server(struct turn_table **t)
{
	struct turn_cfg cfg;
	turn_cfg_defaults(&cfg);
	snprintf(cfg.realm, sizeof(cfg.realm), "tn.example");
	pr_taddr_from_str(&cfg.relay[0], "192.0.2.10", 0);
	pr_taddr_from_str(&cfg.relay[1], "2001:db8::10", 0);
	*t = turn_table_create(64, 50000, 50100, NULL, NULL);
	struct turn_server *s = turn_server_create(&cfg, *t, NULL, NULL);
	turn_server_set_now(s, (uint32_t)time(NULL));
	return s;
}

static void fill(struct turn_alloc *a, uint32_t now)
{
	struct pr_taddr c, sv, p4, p6;
	memset(a, 0, sizeof(*a));
	pr_taddr_from_str(&c, "198.51.100.20", 40000);
	pr_taddr_from_str(&sv, "192.0.2.1", 3478);
	memcpy(a->ft.cli_ip, c.ip, 16);
	memcpy(a->ft.srv_ip, sv.ip, 16);
	a->ft.cli_port = 40000;
	a->ft.srv_port = 3478;
	a->ft.fam = 4;
	a->id = 0x1234abcd5678ef00ull;
	a->relay_port[0] = 50010;
	a->relay_port[1] = 50011;
	a->created = now - 10;
	a->expires = now + 500;
	a->dont_fragment = 1;
	a->bw_rate = 125000;
	snprintf(a->username, sizeof(a->username), "1800000000:carol");
	pr_taddr_from_str(&p4, "8.8.8.8", 0);
	pr_taddr_from_str(&p6, "2001:4860::8888", 0);
	turn_peer16(a->perm[0].ip, p4.ip, 4);
	a->perm[0].expires = now + 200;
	turn_peer16(a->perm[1].ip, p6.ip, 6);
	a->perm[1].expires = now + 250;
	a->n_perm = 2;
	memcpy(a->chan[0].ip, a->perm[0].ip, 16);
	a->chan[0].num = 0x4000;
	a->chan[0].port = 5000;
	a->chan[0].expires = now + 400;
	memcpy(a->chan[1].ip, a->perm[1].ip, 16);
	a->chan[1].num = 0x7acd; /* RFC 5766 range */
	a->chan[1].port = 6000;
	a->chan[1].expires = now + 450;
	a->n_chan = 2;
	a->st.pkts_c2p = 11;
	a->st.bytes_c2p = 2200;
	a->st.pkts_p2c = 7;
	a->st.bytes_p2c = 1400;
	a->drops[TURN_DROP_NO_PERMISSION] = 3;
}

static void test_roundtrip(void)
{
	uint32_t now = (uint32_t)time(NULL);
	struct turn_table *t1, *t2;
	struct turn_server *s1 = mk_server(&t1), *s2 = mk_server(&t2);
	struct turn_alloc a;
	fill(&a, now);
	CU_ASSERT_EQUAL_FATAL(turn_server_restore(s1, &a), 0);
	uint32_t idx = 0;
	struct turn_alloc *live = turn_alloc_next(t1, &idx);
	CU_ASSERT_FATAL(live != NULL);
	int ck;
	ndone = 0;
	CU_ASSERT_EQUAL_FATAL(turn_store_save(st, s1, live, &ck), 0);
	CU_ASSERT_EQUAL(ndone, 0); /* queued, not waited for */
	CU_ASSERT_EQUAL(drain(st), 0);
	CU_ASSERT_FATAL(ndone == 1);
	CU_ASSERT(done[0].cookie == &ck && done[0].rc == 0);

	CU_ASSERT_EQUAL(turn_store_restore_all(st, s2, 0), 1);
	idx = 0;
	struct turn_alloc *b = turn_alloc_next(t2, &idx);
	CU_ASSERT_FATAL(b != NULL);
	CU_ASSERT(!memcmp(&b->ft, &a.ft, sizeof(a.ft)));
	CU_ASSERT_EQUAL(b->id, a.id);
	CU_ASSERT(b->relay_port[0] == 50010 && b->relay_port[1] == 50011);
	CU_ASSERT_STRING_EQUAL(b->username, a.username);
	CU_ASSERT_EQUAL(b->expires, a.expires);
	CU_ASSERT_EQUAL(b->created, a.created);
	CU_ASSERT_EQUAL(b->dont_fragment, 1);
	CU_ASSERT_EQUAL(b->bw_rate, 125000);
	CU_ASSERT_EQUAL(b->n_perm, 2);
	CU_ASSERT_EQUAL(b->n_chan, 2);
	CU_ASSERT(turn_perm_ok(b, a.perm[0].ip, now) && turn_perm_ok(b, a.perm[1].ip, now));
	CU_ASSERT_EQUAL(turn_chan_num(b, a.perm[0].ip, 5000, now), 0x4000);
	CU_ASSERT_EQUAL(turn_chan_num(b, a.perm[1].ip, 6000, now), 0x7acd);
	CU_ASSERT(b->st.pkts_c2p == 11 && b->st.bytes_c2p == 2200 && b->st.pkts_p2c == 7 &&
		  b->st.bytes_p2c == 1400 && b->drops[TURN_DROP_NO_PERMISSION] == 3);
	/* the keyspace codec reads what we wrote */
	struct pr_ks_turn_alloc r;
	char hex[17];
	turn_id_hex(a.id, hex);
	CU_ASSERT_EQUAL(pr_ks_turn_alloc_load(R, hex, &r), 0);
	/* the side hashes expire with the allocation */
	for (int i = 0; i < 2; i++) {
		redisReply *t =
		    pr_redis_cmd(R, "TTL pr:turn:alloc:%s:%s", hex, i ? "chans" : "perms");
		CU_ASSERT(t && t->type == REDIS_REPLY_INTEGER && t->integer > 0);
		if (t)
			freeReplyObject(t);
	}
	CU_ASSERT_STRING_EQUAL(r.client_addr, "198.51.100.20");
	CU_ASSERT_STRING_EQUAL(r.relay_addr, "192.0.2.10");
	CU_ASSERT_EQUAL(r.relay_port, 50010);
	CU_ASSERT_EQUAL(r.expires, a.expires);

	/* counters sync, then restore into a third table sees them */
	__atomic_store_n(&live->st.pkts_c2p, 99, __ATOMIC_RELAXED);
	CU_ASSERT_EQUAL(turn_store_counters(st, live), 0);
	CU_ASSERT_EQUAL(drain(st), 0);
	CU_ASSERT_EQUAL(ndone, 1); /* nobody waited for the counters */
	struct turn_table *t3;
	struct turn_server *s3 = mk_server(&t3);
	CU_ASSERT_EQUAL(turn_store_restore_all(st, s3, 0), 1);
	idx = 0;
	CU_ASSERT(turn_alloc_next(t3, &idx)->st.pkts_c2p == 99);

	/* deleted: nothing to restore, and a counter sync does not resurrect it */
	CU_ASSERT_EQUAL(turn_store_delete(st, a.id, &ck), 0);
	CU_ASSERT_EQUAL(turn_store_delete(st, a.id, &ck), 0); /* idempotent */
	CU_ASSERT_EQUAL(turn_store_counters(st, live), 0);
	CU_ASSERT_EQUAL(drain(st), 0);
	CU_ASSERT(ndone == 3 && done[1].rc == 0 && done[2].rc == 0);
	redisReply *rep = pr_redis_cmd(R, "EXISTS pr:turn:alloc:%s", hex);
	CU_ASSERT(rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 0);
	if (rep)
		freeReplyObject(rep);
	struct turn_table *t4;
	struct turn_server *s4 = mk_server(&t4);
	CU_ASSERT_EQUAL(turn_store_restore_all(st, s4, 0), 0);
	turn_server_destroy(s1);
	turn_server_destroy(s2);
	turn_server_destroy(s3);
	turn_server_destroy(s4);
	turn_table_destroy(t1);
	turn_table_destroy(t2);
	turn_table_destroy(t3);
	turn_table_destroy(t4);
}

static void test_prune(void)
{
	uint32_t now = (uint32_t)time(NULL);
	struct turn_table *t;
	struct turn_server *s = mk_server(&t);
	struct turn_alloc a;
	fill(&a, now);
	CU_ASSERT_EQUAL_FATAL(turn_server_restore(s, &a), 0);
	fill(&a, now);
	a.id++;
	a.ft.cli_port++;
	a.relay_port[0] += 2;
	a.relay_port[1] += 2;
	CU_ASSERT_EQUAL_FATAL(turn_server_restore(s, &a), 0);
	uint32_t idx = 0;
	struct turn_alloc *x;
	while ((x = turn_alloc_next(t, &idx)))
		CU_ASSERT_EQUAL(turn_store_save(st, s, x, NULL), 0);
	CU_ASSERT_EQUAL(drain(st), 0);
	/* one ends while Redis is unreachable: only the tables know */
	CU_ASSERT_EQUAL(turn_server_delete(s, a.id), 0);
	CU_ASSERT_EQUAL(turn_store_prune(st, s), 1);
	CU_ASSERT_EQUAL(turn_store_prune(st, s), 0);
	struct pr_ks_names ids;
	CU_ASSERT_EQUAL_FATAL(pr_ks_turn_alloc_list(R, &ids), 0);
	CU_ASSERT_EQUAL(ids.n, 1);
	char hex[17];
	turn_id_hex(a.id - 1, hex);
	CU_ASSERT(ids.n == 1 && !strcmp(ids.v[0], hex));
	pr_ks_names_free(&ids);
	turn_store_delete(st, a.id - 1, NULL);
	drain(st);
	turn_server_destroy(s);
	turn_table_destroy(t);
}

/* Many writes in flight at once, completed in order; the last one carries a waiter. */
static void test_pipeline(void)
{
	uint32_t now = (uint32_t)time(NULL);
	struct turn_table *t;
	struct turn_server *s = mk_server(&t);
	struct turn_alloc a;
	int ck[1000];
	fill(&a, now);
	CU_ASSERT_EQUAL_FATAL(turn_server_restore(s, &a), 0);
	uint32_t idx = 0;
	struct turn_alloc *live = turn_alloc_next(t, &idx);
	/* nothing in flight: the waiter gets a PING of its own */
	ndone = 0;
	CU_ASSERT_EQUAL(turn_store_wait_last(st, &ck[0]), 0);
	CU_ASSERT_EQUAL(drain(st), 0);
	CU_ASSERT(ndone == 1 && done[0].cookie == &ck[0] && done[0].rc == 0);
	/* the last command has a waiter already: the second waits on a PING behind it */
	int second;
	ndone = 0;
	CU_ASSERT_EQUAL(turn_store_save(st, s, live, &ck[0]), 0);
	CU_ASSERT_EQUAL(turn_store_wait_last(st, &second), 0);
	CU_ASSERT_EQUAL(drain(st), 0);
	CU_ASSERT(ndone == 2 && done[0].cookie == &ck[0] && done[1].cookie == &second);
	ndone = 0;
	for (int i = 0; i < 1000; i++)
		CU_ASSERT_EQUAL(turn_store_save(st, s, live, &ck[i]), 0);
	CU_ASSERT_EQUAL(turn_store_counters(st, live), 0);
	int last;
	CU_ASSERT_EQUAL(turn_store_wait_last(st, &last), 0); /* the counters' write */
	CU_ASSERT(turn_store_room(st) < 4096 - 1000);
	CU_ASSERT_EQUAL(drain(st), 0);
	CU_ASSERT_FATAL(ndone == 1001);
	unsigned in_order = 0;
	for (int i = 0; i < 1000; i++)
		in_order += done[i].cookie == &ck[i] && done[i].rc == 0;
	CU_ASSERT_EQUAL(in_order, 1000);
	CU_ASSERT(done[1000].cookie == &last && done[1000].rc == 0);

	/* a write Redis refuses (the index is not a sorted set): its waiter learns it */
	redisReply *rep = pr_redis_cmd(R, "SET pr:turn:allocs oops");
	if (rep)
		freeReplyObject(rep);
	ndone = 0;
	CU_ASSERT_EQUAL(turn_store_save(st, s, live, &ck[0]), 0);
	CU_ASSERT_EQUAL(drain(st), 0);
	CU_ASSERT(ndone == 1 && done[0].cookie == &ck[0] && done[0].rc == -EBADMSG);
	CU_ASSERT(turn_store_up(st)); /* a refusal is not a lost connection */
	rep = pr_redis_cmd(R, "DEL pr:turn:allocs");
	if (rep)
		freeReplyObject(rep);

	/* the connection lost with writes in flight: each completes with -EIO, the store is
	 * down, and comes back on a retry */
	ndone = 0;
	CU_ASSERT_EQUAL(turn_store_save(st, s, live, &ck[0]), 0);
	CU_ASSERT_EQUAL(turn_store_save(st, s, live, &ck[1]), 0);
	rep = pr_redis_cmd(R, "CLIENT KILL TYPE normal SKIPME yes");
	if (rep)
		freeReplyObject(rep);
	CU_ASSERT_EQUAL(drain(st), 0);
	CU_ASSERT(ndone == 2 && done[0].rc == -EIO && done[1].rc == -EIO);
	CU_ASSERT(!turn_store_up(st));
	CU_ASSERT_EQUAL(turn_store_save(st, s, live, NULL), -ENOTCONN);
	sleep(2);
	CU_ASSERT(turn_store_retry(st));
	CU_ASSERT(turn_store_up(st));
	CU_ASSERT_EQUAL(turn_store_delete(st, live->id, NULL), 0);
	CU_ASSERT_EQUAL(drain(st), 0);
	turn_server_destroy(s);
	turn_table_destroy(t);
}

/* WAIT calls Redis counted so far. */
static long waits(void)
{
	long n = 0;
	redisReply *rep = pr_redis_cmd(R, "INFO commandstats");
	const char *p =
	    rep && rep->type == REDIS_REPLY_STRING ? strstr(rep->str, "cmdstat_wait:calls=") : NULL;
	if (p)
		n = strtol(p + strlen("cmdstat_wait:calls="), NULL, 10);
	if (rep)
		freeReplyObject(rep);
	return n;
}

/* [redis] wait_replicas: answers wait for one WAIT after the pass's writes; this Redis has
 * no replica, so WAIT 1 answers 0 after its timeout and every waiter of the pass learns it. */
static void test_durable(void)
{
	uint32_t now = (uint32_t)time(NULL);
	struct turn_table *t;
	struct turn_server *s = mk_server(&t);
	struct turn_alloc a;
	int ck[3];
	fill(&a, now);
	CU_ASSERT_EQUAL_FATAL(turn_server_restore(s, &a), 0);
	uint32_t idx = 0;
	struct turn_alloc *live = turn_alloc_next(t, &idx);
	/* no replicas asked: as turn_store_wait_last, no WAIT */
	long w0 = waits();
	turn_store_set_wait(st, 0, 100);
	ndone = 0;
	CU_ASSERT_EQUAL(turn_store_save(st, s, live, NULL), 0);
	CU_ASSERT_EQUAL(turn_store_wait_durable(st, &ck[0]), 0);
	turn_store_flush_waits(st);
	CU_ASSERT_EQUAL(drain(st), 0);
	CU_ASSERT(ndone == 1 && done[0].cookie == &ck[0] && done[0].rc == 0);
	CU_ASSERT_EQUAL(waits(), w0);
	/* one replica asked: the pass's three waiters, one WAIT, each told it fell short */
	turn_store_set_wait(st, 1, 100);
	ndone = 0;
	for (int i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(turn_store_save(st, s, live, NULL), 0);
		CU_ASSERT_EQUAL(turn_store_wait_durable(st, &ck[i]), 0);
	}
	CU_ASSERT_EQUAL(ndone, 0); /* nothing answers before the flush */
	turn_store_flush_waits(st);
	CU_ASSERT_EQUAL(drain(st), 0);
	CU_ASSERT_FATAL(ndone == 3);
	for (int i = 0; i < 3; i++)
		CU_ASSERT(done[i].cookie == &ck[i] && done[i].rc == -EAGAIN);
	CU_ASSERT_EQUAL(waits(), w0 + 1);
	/* a flush with no waiter queues nothing */
	turn_store_flush_waits(st);
	CU_ASSERT_EQUAL(drain(st), 0);
	CU_ASSERT_EQUAL(waits(), w0 + 1);
	turn_store_set_wait(st, 0, 0);
	CU_ASSERT_EQUAL(turn_store_delete(st, live->id, NULL), 0);
	CU_ASSERT_EQUAL(drain(st), 0);
	turn_server_destroy(s);
	turn_table_destroy(t);
}

static void test_no_redis(void)
{
	struct turn_store *down = turn_store_new("/tmp/tn-unit-none/redis.sock", NULL, NULL);
	CU_ASSERT_FATAL(down != NULL);
	CU_ASSERT(!turn_store_up(down));
	uint8_t key[32];
	char out[TURN_REST_SECRETS][TURN_SECRET_MAX];
	CU_ASSERT_EQUAL(turn_store_user_key(down, "alice", "tn.example", STUN_PWALG_MD5, key),
			-ENOENT);
	CU_ASSERT_EQUAL(turn_store_rest_secrets(down, out, TURN_REST_SECRETS), 0);
	struct turn_alloc a;
	fill(&a, (uint32_t)time(NULL));
	CU_ASSERT_EQUAL(turn_store_counters(down, &a), -ENOTCONN);
	CU_ASSERT_EQUAL(turn_store_delete(down, a.id, NULL), -ENOTCONN);
	CU_ASSERT_EQUAL(turn_store_room(down), 0);
	CU_ASSERT_EQUAL(turn_store_poll(down), 0);
	turn_store_free(down);
	uint64_t id;
	CU_ASSERT_EQUAL(turn_id_parse("00000000000000ff", &id), 0);
	CU_ASSERT_EQUAL(id, 255);
	CU_ASSERT_EQUAL(turn_id_parse("ff", &id), -EINVAL);
	CU_ASSERT_EQUAL(turn_id_parse("000000000000zzzz", &id), -EINVAL);
}

/* ---- [ha]: the backup's copy of its peer's allocations ---- */

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Polls the follower (and drains the owner's writes) until the copy holds n allocations,
 * complete, or 5 s passed. */
static bool follow_until(struct turn_follow *f, uint32_t n, uint32_t perms, uint32_t chans)
{
	const struct turn_follow_stats *fs = turn_follow_stats(f);
	for (uint64_t end = mono_ms() + 5000; mono_ms() < end; usleep(1000)) {
		drain(st);
		turn_follow_poll(f, mono_ms());
		if (fs->complete && fs->allocations == n && fs->permissions == perms &&
		    fs->channels == chans)
			return true;
	}
	fprintf(stderr, "follow: %u allocations %u permissions %u channels complete %u\n",
		fs->allocations, fs->permissions, fs->channels, fs->complete);
	return false;
}

/* The backup: its own relay 192.0.2.20 (ports 51000-51100), the peer's 192.0.2.10 (the
 * owner's, mk_server's), ports 50000-50100. */
static struct turn_server *mk_backup(struct turn_table **t)
{
	struct turn_cfg cfg;
	turn_cfg_defaults(&cfg);
	snprintf(cfg.realm, sizeof(cfg.realm), "tn.example");
	pr_taddr_from_str(&cfg.relay[0], "192.0.2.20", 0);
	pr_taddr_from_str(&cfg.peer_relay[0], "192.0.2.10", 0);
	pr_taddr_from_str(&cfg.peer_relay[1], "2001:db8::10", 0);
	cfg.peer_port_min = 50000;
	cfg.peer_port_max = 50100;
	*t = turn_table_create(64, 51000, 51100, NULL, NULL);
	struct turn_server *s = turn_server_create(&cfg, *t, NULL, NULL);
	turn_server_set_now(s, (uint32_t)time(NULL));
	return s;
}

static void test_follow(void)
{
	uint32_t now = (uint32_t)time(NULL);
	struct turn_table *to, *tb, *tx;
	struct turn_server *so = mk_server(&to), *sb = mk_backup(&tb);
	struct turn_alloc a, *live;
	uint32_t idx;
	redisReply *rep = pr_redis_cmd(R, "FLUSHALL");
	freeReplyObject(rep);
	turn_store_set_changes(st, 10000);

	/* one allocation of the owner's before the backup starts: the full load has it */
	fill(&a, now);
	CU_ASSERT_EQUAL_FATAL(turn_server_restore(so, &a), 0);
	idx = 0;
	live = turn_alloc_next(to, &idx);
	CU_ASSERT_EQUAL(turn_store_save(st, so, live, NULL), 0);
	/* and one of the backup's own (its relayed address): never in the copy */
	struct turn_alloc own = a;
	own.id = 0x0000000000000777ull;
	own.relay_port[0] = 51010;
	own.relay_port[1] = 0;
	own.ft.cli_port = 40777;
	own.relay_set = 0;
	CU_ASSERT_EQUAL_FATAL(turn_server_restore(sb, &own), 0);
	idx = 0;
	CU_ASSERT_EQUAL(turn_store_save(st, sb, turn_alloc_next(tb, &idx), NULL), 0);
	CU_ASSERT_EQUAL(drain(st), 0);

	struct turn_follow *f = turn_follow_new(sb, sock_path, NULL, NULL, 64);
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT(follow_until(f, 1, 2, 2));
	CU_ASSERT_EQUAL(turn_follow_stats(f)->syncs, 1);

	/* created on the owner, then a permission and a channel added: from the stream */
	struct turn_alloc b = a;
	b.id = 0x00000000000b0b0bull;
	b.ft.cli_port = 40001;
	b.relay_port[0] = 50020;
	b.relay_port[1] = 0;
	b.n_perm = b.n_chan = 0;
	CU_ASSERT_EQUAL_FATAL(turn_server_restore(so, &b), 0);
	struct turn_alloc *lb = NULL;
	idx = 0;
	while ((live = turn_alloc_next(to, &idx)))
		if (live->id == b.id)
			lb = live;
	CU_ASSERT_FATAL(lb != NULL);
	CU_ASSERT_EQUAL(turn_store_save(st, so, lb, NULL), 0);
	CU_ASSERT(follow_until(f, 2, 2, 2));
	CU_ASSERT_EQUAL(turn_perm_set(lb, a.perm[0].ip, now + 300), 0);
	CU_ASSERT_EQUAL(turn_chan_set(lb, 0x4001, a.perm[0].ip, 7000, now + 600), 0);
	CU_ASSERT_EQUAL(turn_store_save(st, so, lb, NULL), 0);
	CU_ASSERT(follow_until(f, 2, 3, 3));
	/* a write of the backup's own allocation reads nothing */
	uint64_t loads = turn_follow_stats(f)->loads;
	idx = 0;
	CU_ASSERT_EQUAL(turn_store_save(st, sb, turn_alloc_next(tb, &idx), NULL), 0);
	CU_ASSERT(follow_until(f, 2, 3, 3));
	CU_ASSERT_EQUAL(turn_follow_stats(f)->loads, loads);
	/* deleted on the owner: out of the copy */
	CU_ASSERT_EQUAL(turn_server_delete(so, b.id), 0);
	CU_ASSERT_EQUAL(turn_store_delete(st, b.id, NULL), 0);
	CU_ASSERT(follow_until(f, 1, 2, 2));
	/* the counters ride in the stream */
	idx = 0;
	live = turn_alloc_next(to, &idx);
	CU_ASSERT_FATAL(live && live->id == a.id);
	live->st.pkts_c2p = 4242;
	CU_ASSERT_EQUAL(turn_store_counters(st, live), 0);
	CU_ASSERT(follow_until(f, 1, 2, 2));

	/* a gap: an entry not read yet trimmed away; everything is read again */
	b.id++;
	CU_ASSERT_EQUAL_FATAL(turn_server_restore(so, &b), 0);
	idx = 0;
	while ((live = turn_alloc_next(to, &idx)))
		if (live->id == b.id)
			CU_ASSERT_EQUAL(turn_store_save(st, so, live, NULL), 0);
	CU_ASSERT_EQUAL(drain(st), 0);
	rep = pr_redis_cmd(R, "XTRIM %s MAXLEN 0", PR_KS_TURN_CHANGES_KEY);
	freeReplyObject(rep);
	CU_ASSERT(follow_until(f, 2, 2, 2));
	CU_ASSERT_EQUAL(turn_follow_stats(f)->gaps, 1);
	CU_ASSERT_EQUAL(turn_follow_stats(f)->syncs, 2);

	/* the takeover: installed from the copy, no read (MONITOR would show one: the
	 * commands Redis ran are counted instead) */
	rep = pr_redis_cmd(R, "CONFIG RESETSTAT");
	freeReplyObject(rep);
	const char *why = NULL;
	CU_ASSERT_EQUAL(turn_follow_take(f, &why), 2);
	CU_ASSERT(why == NULL);
	rep = pr_redis_cmd(R, "INFO commandstats");
	CU_ASSERT_FATAL(rep && rep->type == REDIS_REPLY_STRING);
	CU_ASSERT(!strstr(rep->str, "cmdstat_hgetall") && !strstr(rep->str, "cmdstat_zrange"));
	freeReplyObject(rep);
	struct turn_alloc *ta = NULL;
	idx = 0;
	while ((live = turn_alloc_next(tb, &idx)))
		if (live->id == a.id)
			ta = live;
	CU_ASSERT_FATAL(ta != NULL);
	CU_ASSERT(ta->relay_set == 1 && ta->relay_port[0] == 50010 && ta->n_perm == 2 &&
		  ta->n_chan == 2 && ta->st.pkts_c2p == 4242 && ta->expires == a.expires);
	CU_ASSERT_EQUAL(turn_follow_stats(f)->allocations, 0);
	/* stopped while held; a release follows them again */
	turn_follow_poll(f, mono_ms());
	CU_ASSERT_EQUAL(turn_follow_fd(f), -1);
	CU_ASSERT_EQUAL(turn_server_forget_peer(sb), 2);
	turn_follow_resume(f);
	CU_ASSERT(follow_until(f, 2, 2, 2));
	turn_follow_free(f);

	/* a copy never made whole: the takeover falls back */
	struct turn_server *sx = mk_backup(&tx);
	f = turn_follow_new(sx, "/tmp/tn-unit-none/redis.sock", NULL, NULL, 64);
	turn_follow_poll(f, mono_ms());
	CU_ASSERT_EQUAL(turn_follow_take(f, &why), -EAGAIN);
	CU_ASSERT(why != NULL);
	turn_follow_free(f);

	turn_store_set_changes(st, 0);
	turn_server_destroy(so);
	turn_server_destroy(sb);
	turn_server_destroy(sx);
	turn_table_destroy(to);
	turn_table_destroy(tb);
	turn_table_destroy(tx);
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	if (system("command -v redis-server >/dev/null 2>&1") != 0) {
		printf("SKIP: redis-server not installed\n");
		return 77;
	}
	CU_pSuite s = CU_add_suite("turn_store", suite_init, suite_clean);
	CU_add_test(s, "user keys", test_user_key);
	CU_add_test(s, "rest secrets and rotation", test_rest_secrets);
	CU_add_test(s, "save/restore round trip", test_roundtrip);
	CU_add_test(s, "prune after an outage", test_prune);
	CU_add_test(s, "write pipeline: order, refusal, lost connection", test_pipeline);
	CU_add_test(s, "WAIT for the replicas, one a pass", test_durable);
	CU_add_test(s, "without redis", test_no_redis);
	CU_add_test(s, "[ha] backup: the copy of the peer's allocations", test_follow);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed() +
			 CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
