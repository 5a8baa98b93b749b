/* SPDX-License-Identifier: BSD-3-Clause */
/* Media sessions and their command stream, the media port pool, CDRs. */
#include "common/keyspace.h"
#include "common/keyspace_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- media sessions ---- */
static const char *const op_names[] = {
    [PR_KS_OP_INSTALL] = "install",
    [PR_KS_OP_UPDATE] = "update",
    [PR_KS_OP_END] = "end",
};

const char *pr_ks_session_op_name(enum pr_ks_session_op op)
{
	if (op < PR_KS_OP_INSTALL || op > PR_KS_OP_END)
		return NULL;
	return op_names[op];
}

int pr_ks_session_load(struct pr_redis *r, const char *id, struct pr_ks_session *s)
{
	char key[KS_KEYLEN];
	int rc = ks_make_key(key, sizeof(key), PR_KS_SESSION_PREFIX, id, "session id");

	return rc < 0 ? rc : pr_ks_load(r, &pr_ks_session_desc, key, s);
}

static void tx_xadd_op(struct pr_redis_tx *tx, enum pr_ks_session_op op, const char *id)
{
	pr_redis_tx_add(tx, "XADD %s MAXLEN ~ %d * op %s id %s ts %lld", PR_KS_SESSIONS_STREAM,
			PR_KS_STREAM_MAXLEN, pr_ks_session_op_name(op), id, (long long)ks_now());
}

int pr_ks_session_store_tx(struct pr_redis_tx *tx, const struct pr_ks_session *s,
			   enum pr_ks_session_op op)
{
	char key[KS_KEYLEN];
	int rc = ks_make_key(key, sizeof(key), PR_KS_SESSION_PREFIX, s->id, "session id");

	if (rc < 0)
		return rc;
	if (op != PR_KS_OP_INSTALL && op != PR_KS_OP_UPDATE) {
		ks_seterr("%s: store takes install or update", key);
		return -EINVAL;
	}
	rc = ks_tx_store(tx, &pr_ks_session_desc, key, s);
	if (rc == 0) {
		pr_redis_tx_add(tx, "SADD %s %s", PR_KS_SESSIONS_KEY, s->id);
		tx_xadd_op(tx, op, s->id);
	}
	return rc;
}

int pr_ks_session_store(struct pr_redis *r, const struct pr_ks_session *s, enum pr_ks_session_op op)
{
	struct pr_redis_tx *tx = pr_redis_tx_new();
	char key[KS_KEYLEN];
	int rc;

	if (!tx)
		return -ENOMEM;
	rc = pr_ks_session_store_tx(tx, s, op);
	if (rc == 0) {
		snprintf(key, sizeof(key), "%s%.40s", PR_KS_SESSION_PREFIX, s->id);
		rc = ks_tx_exec(r, tx, key);
	}
	pr_redis_tx_free(tx);
	return rc;
}

int pr_ks_session_end_tx(struct pr_redis_tx *tx, const char *id)
{
	char key[KS_KEYLEN];
	int rc = ks_make_key(key, sizeof(key), PR_KS_SESSION_PREFIX, id, "session id");

	if (rc < 0)
		return rc;
	pr_redis_tx_add(tx, "DEL %s", key);
	pr_redis_tx_add(tx, "SREM %s %s", PR_KS_SESSIONS_KEY, id);
	tx_xadd_op(tx, PR_KS_OP_END, id);
	return 0;
}

int pr_ks_session_end(struct pr_redis *r, const char *id)
{
	struct pr_redis_tx *tx;
	char key[KS_KEYLEN];
	int rc = ks_make_key(key, sizeof(key), PR_KS_SESSION_PREFIX, id, "session id");

	if (rc < 0)
		return rc;
	tx = ks_tx_delete_begin(key);
	if (!tx)
		return -ENOMEM;
	pr_redis_tx_add(tx, "SREM %s %s", PR_KS_SESSIONS_KEY, id);
	tx_xadd_op(tx, PR_KS_OP_END, id);
	return ks_tx_delete(r, tx, key, "session");
}

int pr_ks_session_list(struct pr_redis *r, struct pr_ks_names *ids)
{
	return ks_reply_names(r, pr_redis_cmd(r, "SMEMBERS %s", PR_KS_SESSIONS_KEY), ids, true,
			      PR_KS_SESSIONS_KEY);
}

int pr_ks_session_cmd_parse(const redisReply *entry, struct pr_ks_session_cmd *cmd)
{
	struct pr_ks_hash *h;
	const redisReply *id;
	size_t i;
	int rc = -EINVAL, op = 0;
	bool have_id = false, have_ts = false;

	memset(cmd, 0, sizeof(*cmd));
	if (!entry || entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
	    entry->element[0]->type != REDIS_REPLY_STRING) {
		ks_seterr("%s: malformed stream entry", PR_KS_SESSIONS_STREAM);
		return -EINVAL;
	}
	id = entry->element[0];
	if (id->len >= sizeof(cmd->stream_id)) {
		ks_seterr("%s: malformed stream entry id", PR_KS_SESSIONS_STREAM);
		return -EINVAL;
	}
	memcpy(cmd->stream_id, id->str, id->len);
	h = pr_ks_hash_get();
	if (!h)
		return -ENOMEM;
	if (pr_ks_hash_from_reply(entry->element[1], h) < 0)
		goto out;
	for (i = 0; i < h->n; i++) {
		const struct pr_ks_kv *kv = &h->kv[i];
		if (strcmp(kv->name, "op") == 0) {
			for (op = PR_KS_OP_INSTALL; op <= PR_KS_OP_END; op++)
				if (strcmp(kv->value, op_names[op]) == 0)
					break;
		} else if (strcmp(kv->name, "id") == 0) {
			if (!pr_ks_user_name_valid(kv->value))
				break;
			snprintf(cmd->id, sizeof(cmd->id), "%s", kv->value);
			have_id = true;
		} else if (strcmp(kv->name, "ts") == 0) {
			if (ks_parse_i64(kv->value, &cmd->ts) < 0)
				break;
			have_ts = true;
		}
	}
	if (op < PR_KS_OP_INSTALL || op > PR_KS_OP_END || !have_id || !have_ts) {
		ks_seterr("%s %s: entry needs op (install|update|end), a valid id and ts",
			  PR_KS_SESSIONS_STREAM, cmd->stream_id);
		goto out;
	}
	cmd->op = op;
	rc = 0;
out:
	if (rc < 0 && !pr_ks_errmsg()[0])
		ks_seterr("%s: malformed stream entry", PR_KS_SESSIONS_STREAM);
	pr_ks_hash_put(h);
	return rc;
}

int pr_ks_session_group_init(struct pr_redis *r, const char *group)
{
	redisReply *rep;

	if (!group || !pr_ks_user_name_valid(group)) {
		ks_seterr("invalid consumer group name");
		return -EINVAL;
	}
	rep = pr_redis_cmd(r, "XGROUP CREATE %s %s $ MKSTREAM", PR_KS_SESSIONS_STREAM, group);

	if (rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "BUSYGROUP", 9) == 0) {
		freeReplyObject(rep);
		return 0; /* exists: keep its position */
	}
	return ks_cmd_int(r, rep, PR_KS_SESSIONS_STREAM, NULL);
}

int pr_ks_session_cmd_ack(struct pr_redis *r, const char *group, const char *stream_id)
{
	return ks_cmd_int(r,
			  pr_redis_cmd(r, "XACK %s %s %s", PR_KS_SESSIONS_STREAM, group, stream_id),
			  PR_KS_SESSIONS_STREAM, NULL);
}

int pr_ks_session_cmd_read(struct pr_redis *r, const char *group, const char *consumer,
			   bool pending, int block_ms, struct pr_ks_session_cmd *cmds, size_t max,
			   unsigned *nbad)
{
	const redisReply *entries;
	redisReply *rep;
	size_t i, n = 0;
	int rc = 0;

	if (nbad)
		*nbad = 0;
	if (!group || !pr_ks_user_name_valid(group)) {
		ks_seterr("invalid consumer group name");
		return -EINVAL;
	}
	if (!consumer || !pr_ks_user_name_valid(consumer)) {
		ks_seterr("invalid consumer name");
		return -EINVAL;
	}
	if (max == 0)
		return 0;
	if (block_ms >= 0)
		rep = pr_redis_cmd(r, "XREADGROUP GROUP %s %s COUNT %llu BLOCK %d STREAMS %s %s",
				   group, consumer, (unsigned long long)max, block_ms,
				   PR_KS_SESSIONS_STREAM, pending ? "0" : ">");
	else
		rep = pr_redis_cmd(r, "XREADGROUP GROUP %s %s COUNT %llu STREAMS %s %s", group,
				   consumer, (unsigned long long)max, PR_KS_SESSIONS_STREAM,
				   pending ? "0" : ">");
	if (!rep)
		return ks_redis_fail(r, PR_KS_SESSIONS_STREAM);
	if (rep->type == REDIS_REPLY_ERROR)
		return ks_reply_error(rep, PR_KS_SESSIONS_STREAM);
	if (rep->type == REDIS_REPLY_NIL) {
		freeReplyObject(rep);
		return 0;
	}
	/* [[stream, [entry...]]] */
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 1 ||
	    rep->element[0]->type != REDIS_REPLY_ARRAY || rep->element[0]->elements != 2 ||
	    rep->element[0]->element[1]->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(rep);
		ks_seterr("%s: malformed XREADGROUP reply", PR_KS_SESSIONS_STREAM);
		return -EINVAL;
	}
	entries = rep->element[0]->element[1];
	for (i = 0; i < entries->elements && n < max; i++) {
		if (pr_ks_session_cmd_parse(entries->element[i], &cmds[n]) == 0) {
			n++;
			continue;
		}
		if (nbad)
			(*nbad)++;
		if (cmds[n].stream_id[0]) {
			rc = pr_ks_session_cmd_ack(r, group, cmds[n].stream_id);
			if (rc < 0)
				break;
		}
	}
	freeReplyObject(rep);
	return rc < 0 ? rc : (int)n;
}

/* ---- media port pool ---- */
static const char ports_init_lua[] =
    "local want = ARGV[1] .. '-' .. ARGV[2]\n"
    "if redis.call('GET', KEYS[2]) == want then return 0 end\n"
    "redis.call('DEL', KEYS[1])\n"
    "local batch = {}\n"
    "for p = tonumber(ARGV[1]), tonumber(ARGV[2]) - 1, 2 do\n"
    "  batch[#batch + 1] = p\n"
    "  if #batch == 1000 then redis.call('SADD', KEYS[1], unpack(batch)); batch = {} end\n"
    "end\n"
    "if #batch > 0 then redis.call('SADD', KEYS[1], unpack(batch)) end\n"
    "redis.call('SET', KEYS[2], want)\n"
    "return 1\n";

int pr_ks_ports_init(struct pr_redis *r, uint16_t lo, uint16_t hi)
{
	if (lo % 2 || lo < 1024 || hi <= lo) {
		ks_seterr("port range %u-%u: want an even low port >= 1024 below the high port", lo,
			  hi);
		return -EINVAL;
	}
	return ks_cmd_int(r,
			  pr_redis_cmd(r, "EVAL %s 2 %s %s %u %u", ports_init_lua,
				       PR_KS_PORTS_FREE_KEY, PR_KS_PORTS_RANGE_KEY, lo, hi),
			  PR_KS_PORTS_FREE_KEY, NULL);
}

int pr_ks_port_alloc(struct pr_redis *r, uint16_t *port)
{
	struct pr_ks_field f = {"port", PR_KS_T_U16, 0, 0, sizeof(uint16_t), NULL};
	redisReply *rep = pr_redis_cmd(r, "SPOP %s", PR_KS_PORTS_FREE_KEY);
	int rc;

	if (!rep)
		return ks_redis_fail(r, PR_KS_PORTS_FREE_KEY);
	if (rep->type == REDIS_REPLY_ERROR)
		return ks_reply_error(rep, PR_KS_PORTS_FREE_KEY);
	if (rep->type == REDIS_REPLY_NIL) {
		freeReplyObject(rep);
		ks_seterr("%s: no free media port left", PR_KS_PORTS_FREE_KEY);
		return -ENOSPC;
	}
	rc = rep->type == REDIS_REPLY_STRING ? pr_ks_field_parse(&f, port, rep->str) : -EINVAL;
	freeReplyObject(rep);
	if (rc < 0) {
		ks_seterr("%s: malformed member", PR_KS_PORTS_FREE_KEY);
		return -EINVAL;
	}
	return 0;
}

int pr_ks_ports_from_reply(const redisReply *rep, unsigned n, uint16_t *ports)
{
	struct pr_ks_field f = {"port", PR_KS_T_U16, 0, 0, sizeof(uint16_t), NULL};
	unsigned got = 0;

	if (rep->type == REDIS_REPLY_ERROR) {
		ks_seterr("%s: %s", PR_KS_PORTS_FREE_KEY, rep->str);
		return pr_redis_reply_errno(rep->str);
	}
	if (rep->type != REDIS_REPLY_ARRAY) {
		ks_seterr("%s: malformed SPOP reply", PR_KS_PORTS_FREE_KEY);
		return -EINVAL;
	}
	for (size_t i = 0; i < rep->elements && got < n; i++) {
		const redisReply *e = rep->element[i];
		if (e->type != REDIS_REPLY_STRING ||
		    pr_ks_field_parse(&f, &ports[got], e->str) < 0) {
			ks_seterr("%s: malformed member", PR_KS_PORTS_FREE_KEY);
			return -EINVAL;
		}
		got++;
	}
	if (got < n) {
		ks_seterr("%s: no free media port left", PR_KS_PORTS_FREE_KEY);
		return -ENOSPC;
	}
	return 0;
}

int pr_ks_port_alloc_n(struct pr_redis *r, unsigned n, uint16_t *ports)
{
	redisReply *rep;
	int rc;

	if (n == 0)
		return 0;
	rep = pr_redis_cmd(r, "SPOP %s %u", PR_KS_PORTS_FREE_KEY, n);
	if (!rep)
		return ks_redis_fail(r, PR_KS_PORTS_FREE_KEY);
	if (rep->type == REDIS_REPLY_ERROR)
		return ks_reply_error(rep, PR_KS_PORTS_FREE_KEY);
	memset(ports, 0, n * sizeof(*ports));
	rc = pr_ks_ports_from_reply(rep, n, ports);
	if (rc < 0 && rep->type == REDIS_REPLY_ARRAY) {
		/* all or nothing: what came goes back (as members, parsed or not) */
		for (size_t i = 0; i < rep->elements; i++) {
			const redisReply *e = rep->element[i];
			redisReply *back;
			if (e->type != REDIS_REPLY_STRING)
				continue;
			back = pr_redis_cmd(r, "SADD %s %s", PR_KS_PORTS_FREE_KEY, e->str);
			if (back)
				freeReplyObject(back);
		}
		memset(ports, 0, n * sizeof(*ports));
	}
	freeReplyObject(rep);
	return rc;
}

int pr_ks_port_release(struct pr_redis *r, uint16_t port)
{
	redisReply *rep = pr_redis_cmd(r, "GET %s", PR_KS_PORTS_RANGE_KEY);
	unsigned lo, hi;
	int ok;

	if (!rep)
		return ks_redis_fail(r, PR_KS_PORTS_RANGE_KEY);
	ok = rep->type == REDIS_REPLY_STRING && sscanf(rep->str, "%u-%u", &lo, &hi) == 2;
	freeReplyObject(rep);
	if (!ok) {
		ks_seterr("%s: no port range (pr_ks_ports_init not run)", PR_KS_PORTS_RANGE_KEY);
		return -ENOENT;
	}
	if (port % 2 || port < lo || port >= hi) {
		ks_seterr("port %u is not an even port of the pool %u-%u", port, lo, hi);
		return -EINVAL;
	}
	return ks_cmd_int(r, pr_redis_cmd(r, "SADD %s %u", PR_KS_PORTS_FREE_KEY, port),
			  PR_KS_PORTS_FREE_KEY, NULL);
}

/* ---- CDRs ---- */
static void tx_cdr_trim(struct pr_redis_tx *tx)
{
	pr_redis_tx_add(tx, "ZREMRANGEBYSCORE %s -inf %lld", PR_KS_CDRS_KEY,
			(long long)(ks_now() - PR_KS_CDR_TTL_S));
}

int pr_ks_cdr_store_tx(struct pr_redis_tx *tx, const struct pr_ks_cdr *c)
{
	char key[KS_KEYLEN];
	int rc = ks_make_key(key, sizeof(key), PR_KS_CDR_PREFIX, c->id, "cdr id");

	if (rc < 0)
		return rc;
	rc = ks_tx_store(tx, &pr_ks_cdr_desc, key, c);
	if (rc == 0) {
		pr_redis_tx_add(tx, "EXPIRE %s %d", key, PR_KS_CDR_TTL_S);
		pr_redis_tx_add(tx, "ZADD %s %lld %s", PR_KS_CDRS_KEY, (long long)c->start, c->id);
		tx_cdr_trim(tx);
	}
	return rc;
}

int pr_ks_cdr_store(struct pr_redis *r, const struct pr_ks_cdr *c)
{
	struct pr_redis_tx *tx = pr_redis_tx_new();
	char key[KS_KEYLEN];
	int rc;

	if (!tx)
		return -ENOMEM;
	rc = pr_ks_cdr_store_tx(tx, c);
	if (rc == 0) {
		snprintf(key, sizeof(key), "%s%.40s", PR_KS_CDR_PREFIX, c->id);
		rc = ks_tx_exec(r, tx, key);
	}
	pr_redis_tx_free(tx);
	return rc;
}

int pr_ks_cdr_load(struct pr_redis *r, const char *id, struct pr_ks_cdr *c)
{
	char key[KS_KEYLEN];
	int rc = ks_make_key(key, sizeof(key), PR_KS_CDR_PREFIX, id, "cdr id");

	return rc < 0 ? rc : pr_ks_load(r, &pr_ks_cdr_desc, key, c);
}

int pr_ks_cdr_list(struct pr_redis *r, int64_t from, int64_t to, size_t limit,
		   struct pr_ks_names *ids)
{
	redisReply *rep;
	int rc = ks_cmd_int(r,
			    pr_redis_cmd(r, "ZREMRANGEBYSCORE %s -inf %lld", PR_KS_CDRS_KEY,
					 (long long)(ks_now() - PR_KS_CDR_TTL_S)),
			    PR_KS_CDRS_KEY, NULL);

	if (rc < 0)
		return rc;
	if (limit)
		rep = pr_redis_cmd(r, "ZRANGEBYSCORE %s %lld %lld LIMIT 0 %llu", PR_KS_CDRS_KEY,
				   (long long)from, (long long)to, (unsigned long long)limit);
	else
		rep = pr_redis_cmd(r, "ZRANGEBYSCORE %s %lld %lld", PR_KS_CDRS_KEY, (long long)from,
				   (long long)to);
	return ks_reply_names(r, rep, ids, false, PR_KS_CDRS_KEY);
}
