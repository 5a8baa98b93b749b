/* SPDX-License-Identifier: BSD-3-Clause */
/* Maintenance drain: pr:drain (see keyspace.h and docs/redis-keyspace.md). */
#include "common/keyspace.h"
#include "common/keyspace_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Beyond this many sessions or registrations a count is given up (-1): poprelayctl must
 * answer quickly, and a PoP that large is not drained by counting one by one. */
#define DRAIN_COUNT_MAX 100000

int pr_ks_drain_get(struct pr_redis *r, struct pr_ks_drain *d)
{
	redisReply *rep;
	int rc = 0;

	memset(d, 0, sizeof(*d));
	rep = pr_redis_cmd(r, "HGETALL %s", PR_KS_DRAIN_KEY);
	if (!rep)
		return ks_redis_fail(r, PR_KS_DRAIN_KEY);
	if (rep->type == REDIS_REPLY_ERROR)
		return ks_reply_error(rep, PR_KS_DRAIN_KEY);
	d->on = rep->type == REDIS_REPLY_ARRAY && rep->elements > 0;
	for (size_t j = 0; d->on && j + 1 < rep->elements; j += 2) {
		const redisReply *k = rep->element[j], *v = rep->element[j + 1];
		int64_t *dst = NULL;
		if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
			continue;
		if (!strcmp(k->str, "since_ms"))
			dst = &d->since_ms;
		else if (!strcmp(k->str, "deadline_ms"))
			dst = &d->deadline_ms;
		else if (!strcmp(k->str, "actor"))
			snprintf(d->actor, sizeof(d->actor), "%s", v->str);
		if (dst && (ks_parse_i64(v->str, dst) < 0 || *dst < 0)) {
			ks_seterr("%s %s: not a UNIX time in ms", PR_KS_DRAIN_KEY, k->str);
			*dst = 0;
			rc = -EINVAL;
		}
	}
	freeReplyObject(rep);
	return rc;
}

int pr_ks_drain_set(struct pr_redis *r, const struct pr_ks_drain *d)
{
	struct pr_redis_tx *tx;
	int rc;

	if (d->since_ms <= 0 || d->deadline_ms < 0 || !d->actor[0]) {
		ks_seterr("%s: needs since_ms, deadline_ms >= 0 and an actor", PR_KS_DRAIN_KEY);
		return -EINVAL;
	}
	tx = pr_redis_tx_new();
	if (!tx)
		return -ENOMEM;
	pr_redis_tx_add(tx, "DEL %s", PR_KS_DRAIN_KEY);
	pr_redis_tx_add(tx, "HSET %s since_ms %lld deadline_ms %lld actor %s", PR_KS_DRAIN_KEY,
			(long long)d->since_ms, (long long)d->deadline_ms, d->actor);
	pr_redis_tx_add(tx, "PUBLISH %s drain", PR_KS_EVENTS_CHANNEL);
	rc = ks_tx_exec(r, tx, PR_KS_DRAIN_KEY);
	pr_redis_tx_free(tx);
	return rc;
}

int pr_ks_drain_clear(struct pr_redis *r)
{
	struct pr_redis_tx *tx = ks_tx_delete_begin(PR_KS_DRAIN_KEY);

	if (!tx)
		return -ENOMEM;
	pr_redis_tx_add(tx, "PUBLISH %s drain", PR_KS_EVENTS_CHANNEL);
	return ks_tx_delete(r, tx, PR_KS_DRAIN_KEY, "drain");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Distinct call_id over the sessions (a call has one session per anchored m= line). */
static int count_calls(struct pr_redis *r, struct pr_ks_drain_left *left)
{
	redisReply *set = pr_redis_cmd(r, "SMEMBERS %s", PR_KS_SESSIONS_KEY);
	redisReply **ci = NULL;
	const char **ids = NULL;
	size_t n = 0, i;
	bool io_fail = false;

	if (!set)
		return ks_redis_fail(r, PR_KS_SESSIONS_KEY);
	if (set->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(set);
		return 0;
	}
	left->sessions = (int64_t)set->elements;
	left->calls = -1;
	if (set->elements > DRAIN_COUNT_MAX) {
		freeReplyObject(set);
		return 0;
	}
	ci = calloc(set->elements + 1, sizeof(*ci));
	ids = calloc(set->elements + 1, sizeof(*ids));
	for (i = 0; ci && ids && i < set->elements; i++) {
		if (set->element[i]->type != REDIS_REPLY_STRING)
			continue;
		ci[i] = pr_redis_cmd(r, "HGET %s%s call_id", PR_KS_SESSION_PREFIX,
				     set->element[i]->str);
		if (!ci[i]) {
			io_fail = true;
			break;
		}
		if (ci[i]->type == REDIS_REPLY_STRING)
			ids[n++] = ci[i]->str;
	}
	if (ci && ids && i == set->elements) {
		qsort(ids, n, sizeof(*ids), cmp_str);
		left->calls = 0;
		for (i = 0; i < n; i++)
			left->calls += i == 0 || strcmp(ids[i], ids[i - 1]) != 0;
	}
	for (i = 0; ci && i < set->elements; i++)
		if (ci[i])
			freeReplyObject(ci[i]);
	free(ci);
	free(ids);
	freeReplyObject(set);
	return io_fail ? ks_redis_fail(r, PR_KS_SESSION_PREFIX) : 0;
}

static int count_regs(struct pr_redis *r, const char *pop, struct pr_ks_drain_left *left)
{
	redisReply *z;

	left->regs = -1;
	if (!pop || !pop[0]) {
		z = pr_redis_cmd(r, "ZCOUNT %s %lld +inf", PR_KS_REGS_KEY, (long long)ks_now());
		if (!z)
			return ks_redis_fail(r, PR_KS_REGS_KEY);
		if (z->type == REDIS_REPLY_INTEGER)
			left->regs = z->integer;
		freeReplyObject(z);
		return 0;
	}
	z = pr_redis_cmd(r, "ZRANGEBYSCORE %s %lld +inf", PR_KS_REGS_KEY, (long long)ks_now());
	if (!z)
		return ks_redis_fail(r, PR_KS_REGS_KEY);
	if (z->type == REDIS_REPLY_ARRAY && z->elements <= DRAIN_COUNT_MAX) {
		left->regs = 0;
		for (size_t i = 0; i < z->elements; i++) {
			if (z->element[i]->type != REDIS_REPLY_STRING)
				continue;
			redisReply *p =
			    pr_redis_cmd(r, "HGET %s%s pop", PR_KS_REG_PREFIX, z->element[i]->str);
			if (!p) {
				freeReplyObject(z);
				return ks_redis_fail(r, PR_KS_REG_PREFIX);
			}
			left->regs += p->type == REDIS_REPLY_STRING && !strcmp(p->str, pop);
			freeReplyObject(p);
		}
	}
	freeReplyObject(z);
	return 0;
}

int pr_ks_drain_left(struct pr_redis *r, const char *pop, struct pr_ks_drain_left *left)
{
	redisReply *z;
	int rc;

	left->calls = left->sessions = left->regs = left->turn_allocs = -1;
	if ((rc = count_calls(r, left)) < 0 || (rc = count_regs(r, pop, left)) < 0)
		return rc;
	z = pr_redis_cmd(r, "ZCARD %s", PR_KS_TURN_ALLOCS_KEY);
	if (!z)
		return ks_redis_fail(r, PR_KS_TURN_ALLOCS_KEY);
	if (z->type == REDIS_REPLY_INTEGER)
		left->turn_allocs = z->integer;
	freeReplyObject(z);
	return 0;
}
