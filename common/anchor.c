/* SPDX-License-Identifier: BSD-3-Clause */
/* Media anchors' health and load in Redis, and the choice among them (common/anchor.h). */
#include "common/anchor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/keyspace.h"
#include "common/keyspace_int.h"
#include "common/redis.h"

bool pr_anchor_addr_valid(const char *a)
{
	unsigned char buf[16];
	if (!a || !*a || strlen(a) >= PR_ANCHOR_ADDR_MAX)
		return false;
	return inet_pton(AF_INET, a, buf) == 1 || inet_pton(AF_INET6, a, buf) == 1;
}

int pr_anchor_publish(struct pr_redis *r, const struct pr_anchor *a, uint32_t lease_ms)
{
	char key[sizeof(PR_KS_ANCHOR_PREFIX) + PR_ANCHOR_ADDR_MAX];
	if (!pr_anchor_addr_valid(a->addr)) {
		ks_seterr("%s: not an IP address", PR_KS_ANCHOR_PREFIX);
		return -EINVAL;
	}
	snprintf(key, sizeof(key), "%s%s", PR_KS_ANCHOR_PREFIX, a->addr);
	struct pr_redis_tx *tx = pr_redis_tx_new();
	if (!tx)
		return -ENOMEM;
	int rc = pr_redis_tx_add(
	    tx,
	    "HSET %s addr %s sessions %" PRIu64 " capacity %" PRIu64 " draining %d seq %" PRIu64,
	    key, a->addr, a->sessions, a->capacity, a->draining ? 1 : 0, a->seq);
	if (rc == 0)
		rc = pr_redis_tx_add(tx, "PEXPIRE %s %u", key, lease_ms);
	if (rc == 0)
		rc = pr_redis_tx_add(tx, "SADD %s %s", PR_KS_ANCHORS_KEY, a->addr);
	if (rc == 0)
		rc = ks_tx_exec(r, tx, key);
	pr_redis_tx_free(tx);
	return rc;
}

int pr_anchor_withdraw(struct pr_redis *r, const char *addr)
{
	char key[sizeof(PR_KS_ANCHOR_PREFIX) + PR_ANCHOR_ADDR_MAX];
	snprintf(key, sizeof(key), "%s%s", PR_KS_ANCHOR_PREFIX, addr);
	struct pr_redis_tx *tx = pr_redis_tx_new();
	if (!tx)
		return -ENOMEM;
	int rc = pr_redis_tx_add(tx, "DEL %s", key);
	if (rc == 0)
		rc = pr_redis_tx_add(tx, "SREM %s %s", PR_KS_ANCHORS_KEY, addr);
	if (rc == 0)
		rc = ks_tx_exec(r, tx, key);
	pr_redis_tx_free(tx);
	return rc;
}

/* KEYS[1] the set; ARGV[1] the hashes' prefix, ARGV[2..] the addresses (none: the set's
 * members, a member whose lease is gone removed). The reply: addr, sessions, capacity,
 * draining, seq for each live one. The keys are built in the script: one Redis, no Cluster
 * (docs/scaling.md, "What comes next"). */
static const char read_lua[] =
    "local a = {} "
    "if #ARGV > 1 then for i = 2, #ARGV do a[#a + 1] = ARGV[i] end "
    "else a = redis.call('SMEMBERS', KEYS[1]) end "
    "local out = {} "
    "for _, x in ipairs(a) do "
    "local v = redis.call('HMGET', ARGV[1] .. x, 'sessions', 'capacity', 'draining', 'seq') "
    "if v[1] then "
    "out[#out + 1] = x; out[#out + 1] = v[1]; out[#out + 1] = v[2] or '0'; "
    "out[#out + 1] = v[3] or '0'; out[#out + 1] = v[4] or '0' "
    "elseif #ARGV == 1 then redis.call('SREM', KEYS[1], x) end "
    "end "
    "return out";

int pr_anchor_read_tx(struct pr_redis_tx *tx, const char (*addrs)[PR_ANCHOR_ADDR_MAX], size_t n)
{
	const char *argv[5 + PR_ANCHOR_MAX];
	size_t argvlen[5 + PR_ANCHOR_MAX];
	int argc = 0;
	if (n > PR_ANCHOR_MAX)
		return -E2BIG;
	argv[argc++] = "EVAL";
	argv[argc++] = read_lua;
	argv[argc++] = "1";
	argv[argc++] = PR_KS_ANCHORS_KEY;
	argv[argc++] = PR_KS_ANCHOR_PREFIX;
	for (size_t i = 0; i < n; i++)
		argv[argc++] = addrs[i];
	for (int i = 0; i < argc; i++)
		argvlen[i] = strlen(argv[i]);
	return pr_redis_tx_addargv(tx, argc, argv, argvlen);
}

static int u64_of(const redisReply *e, uint64_t *v)
{
	char *end;
	if (e->type == REDIS_REPLY_INTEGER && e->integer >= 0) {
		*v = (uint64_t)e->integer;
		return 0;
	}
	if (e->type != REDIS_REPLY_STRING || !e->len || e->str[0] == '-')
		return -EINVAL;
	errno = 0;
	unsigned long long x = strtoull(e->str, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*v = x;
	return 0;
}

int pr_anchor_from_reply(const redisReply *rep, struct pr_anchor *out, size_t max, size_t *n)
{
	*n = 0;
	if (rep->type == REDIS_REPLY_ERROR) {
		ks_seterr("%s: %s", PR_KS_ANCHORS_KEY, rep->str);
		return pr_redis_reply_errno(rep->str);
	}
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements % 5) {
		ks_seterr("%s: malformed reply", PR_KS_ANCHORS_KEY);
		return -EINVAL;
	}
	for (size_t i = 0; i + 4 < rep->elements && *n < max; i += 5) {
		struct pr_anchor *a = &out[*n];
		uint64_t dr = 0;
		const redisReply *e = rep->element[i];
		memset(a, 0, sizeof(*a));
		/* a record we cannot read is left out (the log names it), never chosen */
		if (e->type != REDIS_REPLY_STRING || !pr_anchor_addr_valid(e->str) ||
		    u64_of(rep->element[i + 1], &a->sessions) < 0 ||
		    u64_of(rep->element[i + 2], &a->capacity) < 0 ||
		    u64_of(rep->element[i + 3], &dr) < 0 ||
		    u64_of(rep->element[i + 4], &a->seq) < 0) {
			ks_seterr("%s%s: malformed record: left out", PR_KS_ANCHOR_PREFIX,
				  e->type == REDIS_REPLY_STRING ? e->str : "?");
			continue;
		}
		snprintf(a->addr, sizeof(a->addr), "%s", e->str);
		a->draining = dr != 0;
		(*n)++;
	}
	return 0;
}

int pr_anchor_read(struct pr_redis *r, const char (*addrs)[PR_ANCHOR_ADDR_MAX], size_t n,
		   struct pr_anchor *out, size_t max, size_t *got)
{
	redisReply *exec = NULL;
	struct pr_redis_tx *tx = pr_redis_tx_new();
	int rc = tx ? pr_anchor_read_tx(tx, addrs, n) : -ENOMEM;
	*got = 0;
	if (rc == 0)
		rc = pr_redis_tx_run(r, tx, &exec);
	pr_redis_tx_free(tx);
	if (rc < 0 && rc != -ENOMEM && rc != -E2BIG)
		ks_seterr("%s: %s", PR_KS_ANCHORS_KEY, pr_redis_errmsg(r));
	if (rc == 0 && (exec->type != REDIS_REPLY_ARRAY || exec->elements != 1)) {
		ks_seterr("%s: malformed EXEC reply", PR_KS_ANCHORS_KEY);
		rc = -EINVAL;
	}
	if (rc == 0)
		rc = pr_anchor_from_reply(exec->element[0], out, max, got);
	if (exec)
		freeReplyObject(exec);
	return rc;
}

static struct pr_anchor_seen *book_entry(struct pr_anchor_book *book, const struct pr_anchor *a)
{
	size_t i;
	for (i = 0; i < book->n; i++)
		if (!strcmp(book->v[i].addr, a->addr))
			break;
	if (i == book->n) {
		if (book->n == PR_ANCHOR_MAX) /* reuse the oldest slot: a PoP is not that big */
			memmove(&book->v[0], &book->v[1], --book->n * sizeof(book->v[0]));
		i = book->n++;
		snprintf(book->v[i].addr, sizeof(book->v[i].addr), "%s", a->addr);
		book->v[i].seq = a->seq;
		book->v[i].added = 0;
	}
	if (book->v[i].seq != a->seq) { /* a newer publication counts what we added before */
		book->v[i].seq = a->seq;
		book->v[i].added = 0;
	}
	return &book->v[i];
}

int pr_anchor_pick(const struct pr_anchor *a, size_t n, struct pr_anchor_book *book, unsigned rot,
		   unsigned weight)
{
	uint64_t added[PR_ANCHOR_MAX];
	size_t ties[PR_ANCHOR_MAX], nties = 0;
	/* the best so far as a fraction: load / cap (compared by cross products, exact) */
	unsigned __int128 best_load = 0, best_cap = 1;
	if (n > PR_ANCHOR_MAX)
		n = PR_ANCHOR_MAX;
	for (size_t i = 0; i < n; i++) {
		added[i] = book ? book_entry(book, &a[i])->added : 0;
		if (a[i].draining || !a[i].capacity)
			continue;
		unsigned __int128 load = (unsigned __int128)a[i].sessions + added[i];
		unsigned __int128 l = load * best_cap, r = best_load * a[i].capacity;
		if (nties && l > r)
			continue;
		if (!nties || l < r) {
			nties = 0;
			best_load = load;
			best_cap = a[i].capacity;
		}
		ties[nties++] = i;
	}
	if (!nties)
		return -ENOENT;
	size_t pick = ties[rot % nties];
	if (book && weight)
		book_entry(book, &a[pick])->added += weight;
	return (int)pick;
}
