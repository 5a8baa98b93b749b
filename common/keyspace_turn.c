/* SPDX-License-Identifier: BSD-3-Clause */
/* TURN allocations, their permissions and channels, and TURN REST secrets. */
#include "common/keyspace.h"
#include "common/keyspace_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- TURN allocations ---- */
int pr_ks_turn_alloc_load(struct pr_redis *r, const char *id, struct pr_ks_turn_alloc *a)
{
	char key[KS_KEYLEN];
	int rc = ks_make_key(key, sizeof(key), PR_KS_TURN_ALLOC_PREFIX, id, "allocation id");

	return rc < 0 ? rc : pr_ks_load(r, &pr_ks_turn_alloc_desc, key, a);
}

int pr_ks_turn_alloc_store_tx(struct pr_redis_tx *tx, const struct pr_ks_turn_alloc *a)
{
	char key[KS_KEYLEN];
	long long exp = (long long)a->expires;
	int rc = ks_make_key(key, sizeof(key), PR_KS_TURN_ALLOC_PREFIX, a->id, "allocation id");

	if (rc < 0)
		return rc;
	rc = ks_tx_store(tx, &pr_ks_turn_alloc_desc, key, a);
	if (rc == 0) {
		pr_redis_tx_add(tx, "EXPIREAT %s %lld", key, exp);
		pr_redis_tx_add(tx, "EXPIREAT %s:perms %lld", key, exp);
		pr_redis_tx_add(tx, "EXPIREAT %s:chans %lld", key, exp);
		pr_redis_tx_add(tx, "ZADD %s %lld %s", PR_KS_TURN_ALLOCS_KEY, exp, a->id);
	}
	return rc;
}

/* The counters' script: written only while the allocation exists, so a late update never
 * resurrects an allocation deleted meanwhile (expiry, poprelayctl). */
#define COUNTERS_N 8
static int counters_argv(const struct pr_ks_turn_alloc *a, char key[KS_KEYLEN],
			 char num[COUNTERS_N][24], const char *argv[4 + 2 * COUNTERS_N])
{
	static const char lua[] = "if redis.call('EXISTS', KEYS[1]) == 1 then "
				  "return redis.call('HSET', KEYS[1], unpack(ARGV)) end return -1";
	const struct {
		const char *name;
		uint64_t v;
	} c[COUNTERS_N] = {
	    {"pkts_c2p", a->pkts_c2p},
	    {"bytes_c2p", a->bytes_c2p},
	    {"pkts_p2c", a->pkts_p2c},
	    {"bytes_p2c", a->bytes_p2c},
	    {"drop_no_permission", a->drop_no_permission},
	    {"drop_no_channel", a->drop_no_channel},
	    {"drop_bandwidth", a->drop_bandwidth},
	    {"drop_malformed", a->drop_malformed},
	};
	int argc = 0,
	    rc = ks_make_key(key, KS_KEYLEN, PR_KS_TURN_ALLOC_PREFIX, a->id, "allocation id");

	if (rc < 0)
		return rc;
	argv[argc++] = "EVAL";
	argv[argc++] = lua;
	argv[argc++] = "1";
	argv[argc++] = key;
	for (size_t i = 0; i < COUNTERS_N; i++) {
		snprintf(num[i], sizeof(num[i]), "%" PRIu64, c[i].v);
		argv[argc++] = c[i].name;
		argv[argc++] = num[i];
	}
	return argc;
}

int pr_ks_turn_alloc_counters_tx(struct pr_redis_tx *tx, const struct pr_ks_turn_alloc *a)
{
	char key[KS_KEYLEN], num[COUNTERS_N][24];
	const char *argv[4 + 2 * COUNTERS_N];
	int argc = counters_argv(a, key, num, argv);

	return argc < 0 ? argc : pr_redis_tx_addargv(tx, argc, argv, NULL);
}

int pr_ks_turn_alloc_delete_tx(struct pr_redis_tx *tx, const char *id)
{
	char key[KS_KEYLEN];
	int rc = ks_make_key(key, sizeof(key), PR_KS_TURN_ALLOC_PREFIX, id, "allocation id");

	if (rc < 0)
		return rc;
	pr_redis_tx_add(tx, "DEL %s", key);
	pr_redis_tx_add(tx, "DEL %s:perms %s:chans", key, key);
	pr_redis_tx_add(tx, "ZREM %s %s", PR_KS_TURN_ALLOCS_KEY, id);
	return 0;
}

int pr_ks_turn_alloc_delete(struct pr_redis *r, const char *id)
{
	struct pr_redis_tx *tx;
	char key[KS_KEYLEN];
	int rc = ks_make_key(key, sizeof(key), PR_KS_TURN_ALLOC_PREFIX, id, "allocation id");

	if (rc < 0)
		return rc;
	tx = pr_redis_tx_new();
	if (!tx)
		return -ENOMEM;
	rc = pr_ks_turn_alloc_delete_tx(tx, id);
	if (rc < 0) {
		pr_redis_tx_free(tx);
		return rc;
	}
	return ks_tx_delete(r, tx, key, "allocation");
}

int pr_ks_turn_alloc_list(struct pr_redis *r, struct pr_ks_names *ids)
{
	int rc = ks_cmd_int(r,
			    pr_redis_cmd(r, "ZREMRANGEBYSCORE %s -inf %lld", PR_KS_TURN_ALLOCS_KEY,
					 (long long)ks_now()),
			    PR_KS_TURN_ALLOCS_KEY, NULL);

	if (rc < 0)
		return rc;
	return ks_reply_names(r, pr_redis_cmd(r, "ZRANGE %s 0 -1", PR_KS_TURN_ALLOCS_KEY), ids,
			      true, PR_KS_TURN_ALLOCS_KEY);
}

int pr_ks_turn_perm_set(struct pr_redis *r, const char *id, const struct pr_ks_turn_perm *p)
{
	struct pr_redis_tx *tx;
	char key[KS_KEYLEN];
	long long exp = (long long)p->expires;
	int rc = ks_make_key(key, sizeof(key), PR_KS_TURN_ALLOC_PREFIX, id, "allocation id");

	if (rc < 0)
		return rc;
	if (!ks_addr_valid(p->peer_addr)) {
		ks_seterr("invalid peer address '%.47s'", p->peer_addr);
		return -EINVAL;
	}
	tx = pr_redis_tx_new();
	if (!tx)
		return -ENOMEM;
	pr_redis_tx_add(tx, "HSET %s:perms %s %lld", key, p->peer_addr, exp);
	/* The side hash lives at least as long as its longest entry, and no longer than
	 * the allocation once that is refreshed (pr_ks_turn_alloc_store). */
	pr_redis_tx_add(tx, "EXPIREAT %s:perms %lld NX", key, exp);
	pr_redis_tx_add(tx, "EXPIREAT %s:perms %lld GT", key, exp);
	rc = ks_tx_exec(r, tx, key);
	pr_redis_tx_free(tx);
	return rc;
}

int pr_ks_turn_perm_del(struct pr_redis *r, const char *id, const char *peer_addr)
{
	char key[KS_KEYLEN];
	long long n = 0;
	int rc = ks_make_key(key, sizeof(key), PR_KS_TURN_ALLOC_PREFIX, id, "allocation id");

	if (rc < 0)
		return rc;
	rc = ks_cmd_int(r, pr_redis_cmd(r, "HDEL %s:perms %s", key, peer_addr), key, &n);
	if (rc == 0 && n == 0) {
		ks_seterr("%s: no permission for %.47s", key, peer_addr);
		rc = -ENOENT;
	}
	return rc;
}

/* A side hash's HGETALL reply (not freed); calls fn for each pair; returns the count or
 * -errno. */
static int side_hash_reply(const redisReply *rep, const char *key, const char *suffix,
			   int (*fn)(const char *k, const char *v, void *out, size_t i), void *out,
			   size_t max)
{
	size_t i, n = 0;
	int rc = 0;

	if (rep->type == REDIS_REPLY_ERROR) {
		ks_seterr("%s%s: %s", key, suffix, rep->str);
		return pr_redis_reply_errno(rep->str);
	}
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements % 2) {
		ks_seterr("%s%s: malformed reply", key, suffix);
		return -EINVAL;
	}
	for (i = 0; i + 1 < rep->elements && n < max; i += 2, n++) {
		const redisReply *k = rep->element[i], *v = rep->element[i + 1];
		if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
			rc = -EINVAL;
			ks_seterr("%s%s: malformed reply", key, suffix);
			break;
		}
		rc = fn(k->str, v->str, out, n);
		if (rc < 0) {
			char ctx[KS_KEYLEN + 8];
			snprintf(ctx, sizeof(ctx), "%s%s", key, suffix);
			ks_err_prefix(ctx);
			break;
		}
	}
	return rc < 0 ? rc : (int)n;
}

/* HGETALL of a side hash, then side_hash_reply. */
static int side_hash(struct pr_redis *r, const char *key, const char *suffix,
		     int (*fn)(const char *k, const char *v, void *out, size_t i), void *out,
		     size_t max)
{
	redisReply *rep = pr_redis_cmd(r, "HGETALL %s%s", key, suffix);
	int rc;

	if (!rep)
		return ks_redis_fail(r, key);
	if (rep->type == REDIS_REPLY_ERROR)
		return ks_reply_error(rep, key);
	rc = side_hash_reply(rep, key, suffix, fn, out, max);
	freeReplyObject(rep);
	return rc;
}

static int perm_cb(const char *k, const char *v, void *out, size_t i)
{
	struct pr_ks_turn_perm *p = (struct pr_ks_turn_perm *)out + i;

	if (!ks_addr_valid(k)) {
		ks_seterr("invalid peer address");
		return -EINVAL;
	}
	snprintf(p->peer_addr, sizeof(p->peer_addr), "%s", k);
	return ks_parse_i64(v, &p->expires);
}

int pr_ks_turn_perm_list(struct pr_redis *r, const char *id, struct pr_ks_turn_perm *out,
			 size_t max)
{
	char key[KS_KEYLEN];
	int rc = ks_make_key(key, sizeof(key), PR_KS_TURN_ALLOC_PREFIX, id, "allocation id");

	return rc < 0 ? rc : side_hash(r, key, ":perms", perm_cb, out, max);
}

int pr_ks_turn_perm_list_reply(const char *id, const redisReply *rep, struct pr_ks_turn_perm *out,
			       size_t max)
{
	char key[KS_KEYLEN];
	int rc = ks_make_key(key, sizeof(key), PR_KS_TURN_ALLOC_PREFIX, id, "allocation id");

	return rc < 0 ? rc : side_hash_reply(rep, key, ":perms", perm_cb, out, max);
}

static int chan_valid(uint16_t ch)
{
	/* RFC 8656 section 12 is 0x4000..0x4FFF; RFC 5766 allowed up to 0x7FFF and coturn's
	 * clients still use that range, which the relay accepts (rfc5766_channels). */
	return ch >= 0x4000 && ch <= 0x7FFF;
}

int pr_ks_turn_chan_set(struct pr_redis *r, const char *id, const struct pr_ks_turn_chan *c)
{
	struct pr_redis_tx *tx;
	char key[KS_KEYLEN];
	long long exp = (long long)c->expires;
	int rc = ks_make_key(key, sizeof(key), PR_KS_TURN_ALLOC_PREFIX, id, "allocation id");

	if (rc < 0)
		return rc;
	if (!chan_valid(c->channel) || !ks_addr_valid(c->peer_addr)) {
		ks_seterr("invalid channel binding (channel %u, peer '%.47s')", c->channel,
			  c->peer_addr);
		return -EINVAL;
	}
	tx = pr_redis_tx_new();
	if (!tx)
		return -ENOMEM;
	{
		char field[8], value[PR_KS_ADDR_MAX + 32];
		snprintf(field, sizeof(field), "%u", c->channel);
		snprintf(value, sizeof(value), "%s %u %lld", c->peer_addr, c->peer_port, exp);
		pr_redis_tx_add(tx, "HSET %s:chans %s %s", key, field, value);
	}
	pr_redis_tx_add(tx, "EXPIREAT %s:chans %lld NX", key, exp);
	pr_redis_tx_add(tx, "EXPIREAT %s:chans %lld GT", key, exp);
	rc = ks_tx_exec(r, tx, key);
	pr_redis_tx_free(tx);
	return rc;
}

int pr_ks_turn_chan_del(struct pr_redis *r, const char *id, uint16_t channel)
{
	char key[KS_KEYLEN];
	long long n = 0;
	int rc = ks_make_key(key, sizeof(key), PR_KS_TURN_ALLOC_PREFIX, id, "allocation id");

	if (rc < 0)
		return rc;
	rc = ks_cmd_int(r, pr_redis_cmd(r, "HDEL %s:chans %u", key, channel), key, &n);
	if (rc == 0 && n == 0) {
		ks_seterr("%s: no channel %u", key, channel);
		rc = -ENOENT;
	}
	return rc;
}

static int chan_cb(const char *k, const char *v, void *out, size_t i)
{
	struct pr_ks_turn_chan *c = (struct pr_ks_turn_chan *)out + i;
	struct pr_ks_field f16 = {"channel", PR_KS_T_U16, 0, 0, sizeof(uint16_t), NULL};
	char addr[PR_KS_ADDR_MAX], port[8], exp[24], extra[2];

	if (pr_ks_field_parse(&f16, &c->channel, k) < 0 || !chan_valid(c->channel)) {
		ks_seterr("invalid channel number");
		return -EINVAL;
	}
	if (sscanf(v, "%47s %7s %23s %1s", addr, port, exp, extra) != 3 || !ks_addr_valid(addr)) {
		ks_seterr("channel %u: malformed value (want 'addr port expires')", c->channel);
		return -EINVAL;
	}
	f16.name = "peer_port";
	snprintf(c->peer_addr, sizeof(c->peer_addr), "%s", addr);
	if (pr_ks_field_parse(&f16, &c->peer_port, port) < 0)
		return -EINVAL;
	return ks_parse_i64(exp, &c->expires);
}

int pr_ks_turn_chan_list(struct pr_redis *r, const char *id, struct pr_ks_turn_chan *out,
			 size_t max)
{
	char key[KS_KEYLEN];
	int rc = ks_make_key(key, sizeof(key), PR_KS_TURN_ALLOC_PREFIX, id, "allocation id");

	return rc < 0 ? rc : side_hash(r, key, ":chans", chan_cb, out, max);
}

int pr_ks_turn_chan_list_reply(const char *id, const redisReply *rep, struct pr_ks_turn_chan *out,
			       size_t max)
{
	char key[KS_KEYLEN];
	int rc = ks_make_key(key, sizeof(key), PR_KS_TURN_ALLOC_PREFIX, id, "allocation id");

	return rc < 0 ? rc : side_hash_reply(rep, key, ":chans", chan_cb, out, max);
}

/* ---- TURN REST shared secrets ---- */
int pr_ks_turn_secret_check(const char *secret)
{
	size_t n = secret ? strnlen(secret, PR_KS_TURN_SECRET_MAX) : 0;

	if (n < PR_KS_TURN_SECRET_MIN || n >= PR_KS_TURN_SECRET_MAX) {
		if (n >= PR_KS_TURN_SECRET_MAX)
			ks_seterr("TURN secret too long (more than %d characters): the dataplane "
				  "accepts %d to %d",
				  PR_KS_TURN_SECRET_MAX - 1, PR_KS_TURN_SECRET_MIN,
				  PR_KS_TURN_SECRET_MAX - 1);
		else
			ks_seterr("TURN secret too short (%zu characters): the dataplane accepts "
				  "%d to %d",
				  n, PR_KS_TURN_SECRET_MIN, PR_KS_TURN_SECRET_MAX - 1);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)secret[i];
		/* Visible ASCII only: the secret is pasted into the web service's configuration
		 * and into clients' command lines, where spaces and control characters get lost. */
		if (c < 0x21 || c > 0x7e) {
			ks_seterr("TURN secret: character %zu is not visible ASCII (0x21-0x7e; "
				  "spaces and control characters are refused)",
				  i + 1);
			return -EINVAL;
		}
	}
	return 0;
}

static int secret_id_check(const char *secret_id)
{
	if (!secret_id || !pr_ks_user_name_valid(secret_id)) {
		ks_seterr("invalid TURN secret id '%.64s' (1-63 of A-Z a-z 0-9 . _ -, not "
			  "starting with . or -)",
			  secret_id ? secret_id : "");
		return -EINVAL;
	}
	return 0;
}

int pr_ks_turn_secret_add(struct pr_redis *r, const char *secret_id, const char *secret,
			  int64_t now, bool replace)
{
	/* One script, so the duplicate check, the limit and both hashes are one atomic step:
	 * a secret never exists without its time added, nor two admins' adds interleave. */
	static const char lua[] =
	    "local exists = redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 "
	    "if exists and ARGV[4] == '0' then return -1 end "
	    "if not exists and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[5]) then return -2 end "
	    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) "
	    "redis.call('HSET', KEYS[2], ARGV[1], ARGV[3]) "
	    "if exists then return 2 end return 1";
	char when[24], max[8];
	const char *argv[] = {
	    "EVAL",    lua,    "2",  PR_KS_TURN_SECRETS_KEY, PR_KS_TURN_SECRET_ADDED,
	    secret_id, secret, when, replace ? "1" : "0",    max};
	long long n = 0;
	int rc = secret_id_check(secret_id);

	if (rc == 0)
		rc = pr_ks_turn_secret_check(secret);
	if (rc < 0)
		return rc;
	snprintf(when, sizeof(when), "%lld", (long long)now);
	snprintf(max, sizeof(max), "%d", PR_KS_TURN_SECRETS_MAX);
	rc = ks_cmd_int(r, pr_redis_cmdargv(r, (int)KS_ARRAY_N(argv), argv, NULL),
			PR_KS_TURN_SECRETS_KEY, &n);
	if (rc == 0 && n == -1) {
		ks_seterr("%s: a secret with id '%s' exists already", PR_KS_TURN_SECRETS_KEY,
			  secret_id);
		rc = -EEXIST;
	} else if (rc == 0 && n == -2) {
		ks_seterr("%s: %d secrets already, the most the dataplane tries: delete one first",
			  PR_KS_TURN_SECRETS_KEY, PR_KS_TURN_SECRETS_MAX);
		rc = -ENOSPC;
	} else if (rc == 0 && n == 2) {
		rc = 1;
	}
	return rc;
}

int pr_ks_turn_secret_set(struct pr_redis *r, const char *secret_id, const char *secret)
{
	int rc = pr_ks_turn_secret_add(r, secret_id, secret, ks_now(), true);

	return rc > 0 ? 0 : rc;
}

int pr_ks_turn_secret_del(struct pr_redis *r, const char *secret_id)
{
	struct pr_redis_tx *tx;
	long long n = 0;
	int rc = secret_id_check(secret_id);

	if (rc < 0)
		return rc;
	tx = pr_redis_tx_new();
	if (!tx)
		return -ENOMEM;
	pr_redis_tx_add(tx, "HDEL %s %s", PR_KS_TURN_SECRETS_KEY, secret_id);
	pr_redis_tx_add(tx, "HDEL %s %s", PR_KS_TURN_SECRET_ADDED, secret_id);
	rc = ks_tx_exec_int(r, tx, PR_KS_TURN_SECRETS_KEY, 0, &n);
	pr_redis_tx_free(tx);
	if (rc == 0 && n == 0) {
		ks_seterr("no TURN secret with id '%.63s'", secret_id);
		rc = -ENOENT;
	}
	return rc;
}

int pr_ks_turn_secret_ids(struct pr_redis *r, struct pr_ks_names *ids)
{
	return ks_reply_names(r, pr_redis_cmd(r, "HKEYS %s", PR_KS_TURN_SECRETS_KEY), ids, true,
			      PR_KS_TURN_SECRETS_KEY);
}

int pr_ks_turn_secret_added(struct pr_redis *r, const char *secret_id, int64_t *added)
{
	redisReply *rep;
	int rc = secret_id_check(secret_id);

	*added = 0;
	if (rc < 0)
		return rc;
	rep = pr_redis_cmd(r, "HGET %s %s", PR_KS_TURN_SECRET_ADDED, secret_id);
	if (!rep)
		return ks_redis_fail(r, PR_KS_TURN_SECRET_ADDED);
	if (rep->type == REDIS_REPLY_ERROR)
		return ks_reply_error(rep, PR_KS_TURN_SECRET_ADDED);
	if (rep->type == REDIS_REPLY_STRING && ks_parse_i64(rep->str, added) < 0) {
		ks_seterr("%s: field %.63s: not a time", PR_KS_TURN_SECRET_ADDED, secret_id);
		rc = -EINVAL;
	}
	freeReplyObject(rep);
	return rc;
}
