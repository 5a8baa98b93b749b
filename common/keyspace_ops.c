/* SPDX-License-Identifier: BSD-3-Clause */
/* Runtime tunables and the audit trail. */
#include "common/keyspace.h"
#include "common/keyspace_int.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- tunables ---- */
const struct pr_ks_tunable_def *pr_ks_tunable_def(const char *name)
{
	size_t i;

	for (i = 0; i < pr_ks_tunables_n; i++)
		if (strcmp(pr_ks_tunables[i].name, name) == 0)
			return &pr_ks_tunables[i];
	return NULL;
}

int pr_ks_tunable_get(struct pr_redis *r, const char *name, int64_t *value)
{
	const struct pr_ks_tunable_def *t = pr_ks_tunable_def(name);
	redisReply *rep;
	int64_t v;
	int rc = 0;

	if (!t) {
		ks_seterr("unknown tunable '%.64s'", name);
		return -ENOENT;
	}
	rep = pr_redis_cmd(r, "HGET %s %s", PR_KS_TUNABLES_KEY, name);
	if (!rep)
		return ks_redis_fail(r, PR_KS_TUNABLES_KEY);
	if (rep->type == REDIS_REPLY_ERROR)
		return ks_reply_error(rep, PR_KS_TUNABLES_KEY);
	if (rep->type == REDIS_REPLY_NIL) {
		*value = t->def;
	} else if (rep->type != REDIS_REPLY_STRING || ks_parse_i64(rep->str, &v) < 0 ||
		   v < t->min || v > t->max) {
		ks_seterr("%s %s: stored value is not an integer in %" PRId64 "..%" PRId64,
			  PR_KS_TUNABLES_KEY, name, t->min, t->max);
		rc = -EINVAL;
	} else {
		*value = v;
	}
	freeReplyObject(rep);
	return rc;
}

int pr_ks_tunable_set(struct pr_redis *r, const char *name, int64_t value)
{
	const struct pr_ks_tunable_def *t = pr_ks_tunable_def(name);
	struct pr_redis_tx *tx;
	int rc;

	if (!t) {
		ks_seterr("unknown tunable '%.64s'", name);
		return -ENOENT;
	}
	if (value < t->min || value > t->max) {
		ks_seterr("tunable %s: %" PRId64 " is outside %" PRId64 "..%" PRId64, name, value,
			  t->min, t->max);
		return -EINVAL;
	}
	tx = pr_redis_tx_new();
	if (!tx)
		return -ENOMEM;
	pr_redis_tx_add(tx, "HSET %s %s %lld", PR_KS_TUNABLES_KEY, name, (long long)value);
	pr_redis_tx_add(tx, "PUBLISH %s tunables", PR_KS_EVENTS_CHANNEL);
	rc = ks_tx_exec(r, tx, PR_KS_TUNABLES_KEY);
	pr_redis_tx_free(tx);
	return rc;
}

int pr_ks_tunable_reset(struct pr_redis *r, const char *name)
{
	struct pr_redis_tx *tx;
	int rc;

	if (!pr_ks_tunable_def(name)) {
		ks_seterr("unknown tunable '%.64s'", name);
		return -ENOENT;
	}
	tx = pr_redis_tx_new();
	if (!tx)
		return -ENOMEM;
	pr_redis_tx_add(tx, "HDEL %s %s", PR_KS_TUNABLES_KEY, name);
	pr_redis_tx_add(tx, "PUBLISH %s tunables", PR_KS_EVENTS_CHANNEL);
	rc = ks_tx_exec(r, tx, PR_KS_TUNABLES_KEY);
	pr_redis_tx_free(tx);
	return rc;
}

static int tunable_index(const char *name)
{
	for (size_t i = 0; i < pr_ks_tunables_n; i++)
		if (strcmp(pr_ks_tunables[i].name, name) == 0)
			return (int)i;
	return -1;
}

int pr_ks_tunables_stored(struct pr_redis *r, int64_t *vals, bool *set, char *bad, size_t badlen)
{
	redisReply *rep;
	size_t used = 0;

	for (size_t i = 0; i < pr_ks_tunables_n; i++)
		set[i] = false;
	if (bad && badlen)
		bad[0] = '\0';
	rep = pr_redis_cmd(r, "HGETALL %s", PR_KS_TUNABLES_KEY);
	if (!rep)
		return ks_redis_fail(r, PR_KS_TUNABLES_KEY);
	if (rep->type == REDIS_REPLY_ERROR)
		return ks_reply_error(rep, PR_KS_TUNABLES_KEY);
	for (size_t j = 0; rep->type == REDIS_REPLY_ARRAY && j + 1 < rep->elements; j += 2) {
		const redisReply *k = rep->element[j], *v = rep->element[j + 1];
		int i;
		int64_t x;
		if (k->type != REDIS_REPLY_STRING || (i = tunable_index(k->str)) < 0)
			continue; /* not one of ours (a newer poprelayctl's): ignored */
		const struct pr_ks_tunable_def *d = &pr_ks_tunables[i];
		if (v->type == REDIS_REPLY_STRING && ks_parse_i64(v->str, &x) == 0 && x >= d->min &&
		    x <= d->max) {
			vals[i] = x;
			set[i] = true;
		} else if (bad && badlen > used + 1) {
			int n =
			    snprintf(bad + used, badlen - used, "%s%s", used ? "," : "", d->name);
			used =
			    n < 0 ? used
				  : (used + (size_t)n < badlen - 1 ? used + (size_t)n : badlen - 1);
		}
	}
	freeReplyObject(rep);
	return 0;
}

int pr_ks_tunables_report(struct pr_redis *r, const char *owner, const int64_t *vals)
{
	struct pr_redis_tx *tx = pr_redis_tx_new();
	struct timespec ts;
	char key[64];
	int rc;

	if (!tx)
		return -ENOMEM;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(key, sizeof(key), "%s%s", PR_KS_TUNABLES_IN_FORCE, owner);
	pr_redis_tx_add(tx, "DEL %s", key);
	for (size_t i = 0; i < pr_ks_tunables_n; i++)
		if (!strcmp(pr_ks_tunables[i].owner, owner) && vals[i] != INT64_MIN)
			pr_redis_tx_add(tx, "HSET %s %s %lld", key, pr_ks_tunables[i].name,
					(long long)vals[i]);
	pr_redis_tx_add(tx, "HSET %s _applied_ms %lld", key,
			(long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	rc = ks_tx_exec(r, tx, key);
	pr_redis_tx_free(tx);
	return rc;
}

int pr_ks_tunables_in_force(struct pr_redis *r, const char *owner, int64_t *vals, bool *set,
			    int64_t *applied_ms)
{
	char key[64];
	redisReply *rep;

	for (size_t i = 0; i < pr_ks_tunables_n; i++)
		set[i] = false;
	*applied_ms = 0;
	snprintf(key, sizeof(key), "%s%s", PR_KS_TUNABLES_IN_FORCE, owner);
	rep = pr_redis_cmd(r, "HGETALL %s", key);
	if (!rep)
		return ks_redis_fail(r, key);
	if (rep->type == REDIS_REPLY_ERROR)
		return ks_reply_error(rep, key);
	for (size_t j = 0; rep->type == REDIS_REPLY_ARRAY && j + 1 < rep->elements; j += 2) {
		const redisReply *k = rep->element[j], *v = rep->element[j + 1];
		int64_t x;
		int i;
		if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
		    ks_parse_i64(v->str, &x) < 0)
			continue;
		if (!strcmp(k->str, "_applied_ms")) {
			*applied_ms = x;
		} else if ((i = tunable_index(k->str)) >= 0 &&
			   !strcmp(pr_ks_tunables[i].owner, owner)) {
			vals[i] = x;
			set[i] = true;
		}
	}
	freeReplyObject(rep);
	return 0;
}

int pr_ks_events_subscribe(struct pr_redis *sub)
{
	redisReply *rep = pr_redis_cmd(sub, "SUBSCRIBE %s", PR_KS_EVENTS_CHANNEL);
	int ok = rep && rep->type == REDIS_REPLY_ARRAY;

	if (rep)
		freeReplyObject(rep);
	if (!ok) {
		ks_seterr("SUBSCRIBE %s: %s", PR_KS_EVENTS_CHANNEL, pr_redis_errmsg(sub));
		return -EIO;
	}
	return 0;
}

static const struct {
	const char *name;
	unsigned bit;
} known_events[] = {{"tunables", PR_KS_EV_TUNABLES},
		    {"drain", PR_KS_EV_DRAIN},
		    {"tls-reload", PR_KS_EV_TLS_RELOAD}};

/* Takes every message that has arrived without waiting: each is passed to fn. The count of
 * messages, or -EIO. */
static int events_take(struct pr_redis *sub, void (*fn)(const char *msg, void *arg), void *arg)
{
	redisContext *c = pr_redis_ctx(sub);
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
	void *reply;
	int n = 0;

	if (poll(&pfd, 1, 0) <= 0)
		return 0;
	if (redisBufferRead(c) != REDIS_OK)
		return -EIO; /* closed, or an error */
	for (;;) {
		if (redisGetReplyFromReader(c, &reply) != REDIS_OK)
			return -EIO;
		if (!reply)
			return n;
		redisReply *r = reply;
		if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
		    r->element[0]->type == REDIS_REPLY_STRING &&
		    !strcmp(r->element[0]->str, "message") &&
		    r->element[2]->type == REDIS_REPLY_STRING) {
			fn(r->element[2]->str, arg);
			n++;
		}
		freeReplyObject(r);
	}
}

static void ev_mask(const char *msg, void *arg)
{
	for (size_t i = 0; i < KS_ARRAY_N(known_events); i++)
		if (!strcmp(msg, known_events[i].name))
			*(unsigned *)arg |= known_events[i].bit;
}

int pr_ks_events_poll(struct pr_redis *sub, unsigned *mask)
{
	*mask = 0;
	return events_take(sub, ev_mask, mask);
}

struct ev_count {
	const char *event;
	int n;
};

static void ev_count(const char *msg, void *arg)
{
	struct ev_count *c = arg;
	c->n += !strcmp(msg, c->event);
}

int pr_ks_events_read(struct pr_redis *sub, const char *event)
{
	struct ev_count c = {event, 0};
	int rc = events_take(sub, ev_count, &c);

	return rc < 0 ? rc : c.n;
}

/* ---- audit ---- */
int pr_ks_audit_add(struct pr_redis *r, const char *actor, const char *action, const char *object,
		    const char *detail, const char *result)
{
	const char *argv[6 + 2 * PR_KS_MAX_FIELDS];
	size_t len[6 + 2 * PR_KS_MAX_FIELDS], i;
	struct pr_ks_audit a = {0};
	struct pr_ks_hash *h;
	char maxlen[16];
	redisReply *rep;
	int rc, argc = 0;

	a.ts = ks_now();
	if (!actor || !actor[0] || !action || !action[0] || !object || !object[0] || !result ||
	    !result[0]) {
		ks_seterr("audit entry needs actor, action, object and result");
		return -EINVAL;
	}
	snprintf(a.actor, sizeof(a.actor), "%s", actor);
	snprintf(a.action, sizeof(a.action), "%s", action);
	snprintf(a.object, sizeof(a.object), "%s", object);
	snprintf(a.detail, sizeof(a.detail), "%s", detail ? detail : "");
	snprintf(a.result, sizeof(a.result), "%s", result);
	h = malloc(sizeof(*h));
	if (!h)
		return -ENOMEM;
	rc = pr_ks_encode(&pr_ks_audit_desc, &a, h);
	if (rc < 0)
		goto out;
	snprintf(maxlen, sizeof(maxlen), "%d", PR_KS_AUDIT_MAXLEN);
	argv[argc++] = "XADD";
	argv[argc++] = PR_KS_AUDIT_STREAM;
	argv[argc++] = "MAXLEN";
	argv[argc++] = "~";
	argv[argc++] = maxlen;
	argv[argc++] = "*";
	for (i = 0; i < (size_t)argc; i++)
		len[i] = strlen(argv[i]);
	for (i = 0; i < h->n; i++) {
		argv[argc] = h->kv[i].name;
		len[argc++] = strlen(h->kv[i].name);
		argv[argc] = h->kv[i].value;
		len[argc++] = h->kv[i].len;
	}
	rep = pr_redis_cmdargv(r, argc, argv, len);
	rc = ks_cmd_int(r, rep, PR_KS_AUDIT_STREAM, NULL);
out:
	free(h);
	return rc;
}

int pr_ks_audit_list(struct pr_redis *r, struct pr_ks_audit *out, size_t max)
{
	struct pr_ks_hash *h;
	redisReply *rep;
	size_t i, n = 0;
	int rc = 0;

	if (max == 0)
		return 0;
	rep = pr_redis_cmd(r, "XREVRANGE %s + - COUNT %llu", PR_KS_AUDIT_STREAM,
			   (unsigned long long)max);
	if (!rep)
		return ks_redis_fail(r, PR_KS_AUDIT_STREAM);
	if (rep->type == REDIS_REPLY_ERROR)
		return ks_reply_error(rep, PR_KS_AUDIT_STREAM);
	h = malloc(sizeof(*h));
	if (!h) {
		freeReplyObject(rep);
		return -ENOMEM;
	}
	for (i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements && n < max; i++) {
		const redisReply *e = rep->element[i];
		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
		    e->element[0]->type != REDIS_REPLY_STRING ||
		    e->element[0]->len >= sizeof(out[n].stream_id)) {
			ks_seterr("%s: malformed entry", PR_KS_AUDIT_STREAM);
			rc = -EINVAL;
			break;
		}
		rc = pr_ks_hash_from_reply(e->element[1], h);
		if (rc == 0)
			rc = pr_ks_decode(&pr_ks_audit_desc, h, &out[n]);
		if (rc < 0) {
			char ctx[64];
			snprintf(ctx, sizeof(ctx), "%s %.32s", PR_KS_AUDIT_STREAM,
				 e->element[0]->str);
			ks_err_prefix(ctx);
			break;
		}
		memcpy(out[n].stream_id, e->element[0]->str, e->element[0]->len);
		out[n].stream_id[e->element[0]->len] = 0;
		n++;
	}
	free(h);
	freeReplyObject(rep);
	return rc < 0 ? rc : (int)n;
}
