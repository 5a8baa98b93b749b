/* SPDX-License-Identifier: BSD-3-Clause */
/* Field tables of every record type (docs/redis-keyspace.md) and their key layouts.
 * Adding a field: one line here, one row in the doc. */
#include "common/keyspace.h"
#include "common/keyspace_int.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define R    PR_KS_F_REQUIRED
#define S    PR_KS_F_SECRET
#define STR  PR_KS_T_STR
#define BOOL PR_KS_T_BOOL
#define U16  PR_KS_T_U16
#define U32  PR_KS_T_U32
#define U64  PR_KS_T_U64
#define I64  PR_KS_T_I64

/* ---- users ---- */
#define F(fld, ty, fl) KS_FIELD(struct pr_ks_user, fld, ty, fl)
static const struct pr_ks_field user_fields[] = {
    F(name, STR, R),
    F(realm, STR, R),
    F(ha1_md5, STR, R | S),
    F(ha1_sha256, STR, R | S),
    F(display_name, STR, 0),
    F(uri, STR, 0),
    F(encryption_required, BOOL, 0),
    F(max_tx_kbps, U32, 0),
    F(max_rx_kbps, U32, 0),
    F(pop, STR, 0),
    F(keepalive_s, U32, 0),
    F(disabled, BOOL, 0),
    F(created, I64, R),
    F(updated, I64, R),
};
#undef F
const struct pr_ks_desc pr_ks_user_desc = {
    "user",	 PR_KS_USER_PREFIX,	  sizeof(struct pr_ks_user),
    user_fields, KS_ARRAY_N(user_fields), true,
};

/* ---- registrations ---- */
#define F(fld, ty, fl) KS_FIELD(struct pr_ks_reg, fld, ty, fl)
static const struct pr_ks_field reg_fields[] = {
    F(user, STR, R),	     F(contact, STR, R),   F(instance, STR, 0), F(reg_id, U32, 0),
    F(pop, STR, R),	     F(transport, STR, R), F(src_addr, STR, R), F(src_port, U16, R),
    F(contact_addr, STR, 0), F(conn_id, U64, 0),   F(call_id, STR, 0),	F(cseq, U32, 0),
    F(user_agent, STR, 0),   F(expires_s, U32, R), F(expires, I64, R),	F(created, I64, R),
    F(updated, I64, R),
};
#undef F
const struct pr_ks_desc pr_ks_reg_desc = {
    "registration", PR_KS_REG_PREFIX,	    sizeof(struct pr_ks_reg),
    reg_fields,	    KS_ARRAY_N(reg_fields), true,
};

/* ---- TURN allocations ---- */
#define F(fld, ty, fl) KS_FIELD(struct pr_ks_turn_alloc, fld, ty, fl)
static const struct pr_ks_field turn_alloc_fields[] = {
    F(id, STR, R),	    F(username, STR, R),    F(realm, STR, 0),	    F(transport, STR, R),
    F(client_addr, STR, R), F(client_port, U16, R), F(server_addr, STR, R), F(server_port, U16, R),
    F(relay_addr, STR, R),  F(relay_port, U16, R),  F(lifetime_s, U32, R),  F(expires, I64, R),
    F(bw_kbps, U32, 0),	    F(created, I64, R),	    F(refreshed, I64, R),
};
#undef F
const struct pr_ks_desc pr_ks_turn_alloc_desc = {
    "turn allocation", PR_KS_TURN_ALLOC_PREFIX,	      sizeof(struct pr_ks_turn_alloc),
    turn_alloc_fields, KS_ARRAY_N(turn_alloc_fields), true,
};

/* ---- media sessions ---- */
#define F(fld, ty, fl) KS_FIELD(struct pr_ks_leg, fld, ty, fl)
static const struct pr_ks_field leg_fields[] = {
    F(party, STR, 0),	  F(onnet, BOOL, 0),	 F(family, STR, R),	F(peer_addr, STR, R),
    F(peer_port, U16, R), F(latch, BOOL, 0),	 F(relay_addr, STR, R), F(relay_port, U16, R),
    F(rtcp_mux, BOOL, 0), F(profile, STR, R),	 F(suite, STR, 0),	F(key_rx, STR, S),
    F(key_tx, STR, S),	  F(encrypted, BOOL, 0), F(max_kbps, U32, 0),
};
#undef F
const struct pr_ks_desc pr_ks_leg_desc = {
    "leg", NULL, sizeof(struct pr_ks_leg), leg_fields, KS_ARRAY_N(leg_fields), false,
};

#define F(fld, ty, fl) KS_FIELD(struct pr_ks_session, fld, ty, fl)
static const struct pr_ks_field session_fields[] = {
    F(id, STR, R),
    F(call_id, STR, R),
    F(cdr_id, STR, 0),
    F(media, STR, 0),
    F(mline, U16, 0),
    F(idle_timeout_s, U32, 0),
    F(created, I64, R),
    F(updated, I64, R),
    KS_NEST(struct pr_ks_session, leg[0], "a_", &pr_ks_leg_desc),
    KS_NEST(struct pr_ks_session, leg[1], "b_", &pr_ks_leg_desc),
};
#undef F
const struct pr_ks_desc pr_ks_session_desc = {
    "session",	    PR_KS_SESSION_PREFIX,	sizeof(struct pr_ks_session),
    session_fields, KS_ARRAY_N(session_fields), true,
};

/* ---- CDRs ---- */
#define F(fld, ty, fl) KS_FIELD(struct pr_ks_cdr_leg, fld, ty, fl)
static const struct pr_ks_field cdr_leg_fields[] = {
    F(user, STR, 0),	    F(uri, STR, 0),	     F(user_agent, STR, 0),
    F(inside_addr, STR, 0), F(outside_addr, STR, 0), F(sig_transport, STR, 0),
    F(media_path, STR, 0),  F(encrypted, BOOL, 0),   F(suite, STR, 0),
    F(rx_packets, U64, 0),  F(rx_bytes, U64, 0),     F(tx_packets, U64, 0),
    F(tx_bytes, U64, 0),    F(lost, U64, 0),	     F(jitter_us, U32, 0),
    F(avg_kbps, U32, 0),    F(auth_fail, U64, 0),
};
#undef F
const struct pr_ks_desc pr_ks_cdr_leg_desc = {
    "cdr leg", NULL, sizeof(struct pr_ks_cdr_leg), cdr_leg_fields, KS_ARRAY_N(cdr_leg_fields),
    false,
};

#define F(fld, ty, fl) KS_FIELD(struct pr_ks_cdr, fld, ty, fl)
static const struct pr_ks_field cdr_fields[] = {
    F(id, STR, R),
    F(call_id, STR, R),
    F(direction, STR, R),
    F(pop, STR, 0),
    F(sig_path, STR, 0),
    F(start, I64, R),
    F(answer, I64, 0),
    F(end, I64, R),
    F(duration_s, U32, 0),
    F(sip_status, U16, 0),
    F(end_reason, STR, 0),
    KS_NEST(struct pr_ks_cdr, caller, "caller_", &pr_ks_cdr_leg_desc),
    KS_NEST(struct pr_ks_cdr, callee, "callee_", &pr_ks_cdr_leg_desc),
};
#undef F
const struct pr_ks_desc pr_ks_cdr_desc = {
    "cdr", PR_KS_CDR_PREFIX, sizeof(struct pr_ks_cdr), cdr_fields, KS_ARRAY_N(cdr_fields), true,
};

/* ---- audit ---- */
#define F(fld, ty, fl) KS_FIELD(struct pr_ks_audit, fld, ty, fl)
static const struct pr_ks_field audit_fields[] = {
    F(ts, I64, R),     F(actor, STR, R),  F(action, STR, R),
    F(object, STR, R), F(detail, STR, 0), F(result, STR, R),
};
#undef F
const struct pr_ks_desc pr_ks_audit_desc = {
    "audit entry", NULL, sizeof(struct pr_ks_audit), audit_fields, KS_ARRAY_N(audit_fields), true,
};

/* ---- tunables ---- */
const struct pr_ks_tunable_def pr_ks_tunables[] = {
    {"dp.burst_size", "dataplane", 1, 512, 32, "packets per rx/tx burst"},
    {"dp.session_idle_s", "dataplane", 5, 3600, 60, "end relaying a session after this idle time"},
    {"turn.default_lifetime_s", "dataplane", 60, 3600, 600, "allocation lifetime when not asked"},
    {"turn.max_lifetime_s", "dataplane", 600, 86400, 3600, "longest allocation lifetime granted"},
    {"turn.max_allocs_per_user", "dataplane", 1, 1000, 10, "allocation quota per username"},
    {"turn.bw_kbps", "dataplane", 0, 10000000, 0, "bandwidth limit per allocation (0 = none)"},
    {"turn.nonce_lifetime_s", "dataplane", 30, 86400, 600, "nonce validity"},
    {"sip.max_msg_bytes", "slowpath", 1024, 65535, 16384, "largest SIP message accepted"},
    {"sip.rate_per_src", "slowpath", 1, 10000, 20, "requests per second per source address"},
    {"sip.auth_fail_max", "slowpath", 1, 100, 5, "failed authentications before lockout"},
    {"sip.lockout_s", "slowpath", 10, 86400, 300, "account lockout after failed authentication"},
    {"sip.reg_min_expires_s", "slowpath", 60, 3600, 60, "shortest registration granted"},
    {"sip.reg_max_expires_s", "slowpath", 60, 86400, 3600, "longest registration granted"},
    {"sip.keepalive_s", "slowpath", 10, 3600, 30, "default RFC 5626 keepalive interval"},
};
const size_t pr_ks_tunables_n = KS_ARRAY_N(pr_ks_tunables);

/* ---- names and keys ---- */
bool pr_ks_user_name_valid(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n >= PR_KS_NAME_MAX || name[0] == '.' || name[0] == '-')
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!(isascii(c) && (isalnum(c) || c == '.' || c == '_' || c == '-')))
			return false;
	}
	return true;
}

/* Ids follow the same rule as user names; key = prefix + id. */
static int make_key(char *key, size_t len, const char *prefix, const char *id, const char *what)
{
	if (!id || !pr_ks_user_name_valid(id)) {
		ks_seterr(
		    "invalid %s '%.64s' (1-63 of A-Z a-z 0-9 . _ -, not starting with . or -)",
		    what, id ? id : "");
		return -EINVAL;
	}
	snprintf(key, len, "%s%s", prefix, id);
	return 0;
}

#define KEYLEN (PR_KS_NAME_MAX + 40)

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

/* Runs a one-shot command whose integer reply is returned in *out (may be NULL). */
static int cmd_int(struct pr_redis *r, redisReply *rep, const char *what, long long *out)
{
	if (!rep)
		return ks_redis_fail(r, what);
	if (rep->type == REDIS_REPLY_ERROR)
		return ks_reply_error(rep, what);
	if (out)
		*out = rep->type == REDIS_REPLY_INTEGER ? rep->integer : 0;
	freeReplyObject(rep);
	return 0;
}

/* Runs tx; returns the integer result of its command idx in *out (EXEC reply). */
static int tx_exec_int(struct pr_redis *r, struct pr_redis_tx *tx, const char *what, size_t idx,
		       long long *out)
{
	redisReply *exec = NULL;

	if (pr_redis_tx_run(r, tx, &exec) < 0)
		return ks_redis_fail(r, what);
	if (out)
		*out = (idx < exec->elements && exec->element[idx]->type == REDIS_REPLY_INTEGER)
			   ? exec->element[idx]->integer
			   : 0;
	freeReplyObject(exec);
	return 0;
}

/* ---- users ---- */
int pr_ks_user_load(struct pr_redis *r, const char *name, struct pr_ks_user *u)
{
	char key[KEYLEN];
	int rc = make_key(key, sizeof(key), PR_KS_USER_PREFIX, name, "user name");

	if (rc == 0)
		rc = pr_ks_load(r, &pr_ks_user_desc, key, u);
	if (rc == 0 && strcmp(u->name, name) != 0) {
		ks_seterr("%s: field name '%s' does not match the key", key, u->name);
		rc = -EINVAL;
	}
	return rc;
}

int pr_ks_user_store(struct pr_redis *r, const struct pr_ks_user *u)
{
	struct pr_redis_tx *tx;
	char key[KEYLEN];
	int rc = make_key(key, sizeof(key), PR_KS_USER_PREFIX, u->name, "user name");

	if (rc < 0)
		return rc;
	tx = pr_redis_tx_new();
	if (!tx)
		return -ENOMEM;
	rc = ks_tx_store(tx, &pr_ks_user_desc, key, u);
	if (rc == 0)
		rc = pr_redis_tx_add(tx, "SADD %s %s", PR_KS_USERS_KEY, u->name);
	if (rc == 0)
		rc = pr_redis_tx_add(tx, "PUBLISH %s users", PR_KS_EVENTS_CHANNEL);
	if (rc == 0)
		rc = ks_tx_exec(r, tx, key);
	pr_redis_tx_free(tx);
	return rc;
}

int pr_ks_user_delete(struct pr_redis *r, const char *name)
{
	struct pr_redis_tx *tx;
	char key[KEYLEN];
	long long n = 0;
	int rc = make_key(key, sizeof(key), PR_KS_USER_PREFIX, name, "user name");

	if (rc < 0)
		return rc;
	tx = pr_redis_tx_new();
	if (!tx)
		return -ENOMEM;
	pr_redis_tx_add(tx, "DEL %s", key);
	pr_redis_tx_add(tx, "DEL %s%s", PR_KS_REG_PREFIX, name);
	pr_redis_tx_add(tx, "SREM %s %s", PR_KS_USERS_KEY, name);
	pr_redis_tx_add(tx, "ZREM %s %s", PR_KS_REGS_KEY, name);
	pr_redis_tx_add(tx, "PUBLISH %s users", PR_KS_EVENTS_CHANNEL);
	rc = tx_exec_int(r, tx, key, 0, &n);
	pr_redis_tx_free(tx);
	if (rc == 0 && n == 0) {
		ks_seterr("%s: no such user", key);
		rc = -ENOENT;
	}
	return rc;
}

int pr_ks_user_list(struct pr_redis *r, struct pr_ks_names *names)
{
	return ks_reply_names(r, pr_redis_cmd(r, "SMEMBERS %s", PR_KS_USERS_KEY), names, true,
			      PR_KS_USERS_KEY);
}

/* ---- registrations ---- */
int pr_ks_reg_load(struct pr_redis *r, const char *user, struct pr_ks_reg *reg)
{
	char key[KEYLEN];
	int rc = make_key(key, sizeof(key), PR_KS_REG_PREFIX, user, "user name");

	return rc < 0 ? rc : pr_ks_load(r, &pr_ks_reg_desc, key, reg);
}

int pr_ks_reg_store(struct pr_redis *r, const struct pr_ks_reg *reg)
{
	struct pr_redis_tx *tx;
	char key[KEYLEN];
	int rc = make_key(key, sizeof(key), PR_KS_REG_PREFIX, reg->user, "user name");

	if (rc < 0)
		return rc;
	tx = pr_redis_tx_new();
	if (!tx)
		return -ENOMEM;
	rc = ks_tx_store(tx, &pr_ks_reg_desc, key, reg);
	if (rc == 0) {
		pr_redis_tx_add(tx, "EXPIREAT %s %lld", key, (long long)reg->expires);
		pr_redis_tx_add(tx, "ZADD %s %lld %s", PR_KS_REGS_KEY, (long long)reg->expires,
				reg->user);
		rc = ks_tx_exec(r, tx, key);
	}
	pr_redis_tx_free(tx);
	return rc;
}

int pr_ks_reg_delete(struct pr_redis *r, const char *user)
{
	struct pr_redis_tx *tx;
	char key[KEYLEN];
	long long n = 0;
	int rc = make_key(key, sizeof(key), PR_KS_REG_PREFIX, user, "user name");

	if (rc < 0)
		return rc;
	tx = pr_redis_tx_new();
	if (!tx)
		return -ENOMEM;
	pr_redis_tx_add(tx, "DEL %s", key);
	pr_redis_tx_add(tx, "ZREM %s %s", PR_KS_REGS_KEY, user);
	rc = tx_exec_int(r, tx, key, 0, &n);
	pr_redis_tx_free(tx);
	if (rc == 0 && n == 0) {
		ks_seterr("%s: no such registration", key);
		rc = -ENOENT;
	}
	return rc;
}

int pr_ks_reg_list(struct pr_redis *r, int64_t now, struct pr_ks_names *users)
{
	int rc = cmd_int(
	    r, pr_redis_cmd(r, "ZREMRANGEBYSCORE %s -inf %lld", PR_KS_REGS_KEY, (long long)now),
	    PR_KS_REGS_KEY, NULL);

	if (rc < 0)
		return rc;
	return ks_reply_names(r, pr_redis_cmd(r, "ZRANGE %s 0 -1", PR_KS_REGS_KEY), users, true,
			      PR_KS_REGS_KEY);
}

/* ---- TURN allocations ---- */
int pr_ks_turn_alloc_load(struct pr_redis *r, const char *id, struct pr_ks_turn_alloc *a)
{
	char key[KEYLEN];
	int rc = make_key(key, sizeof(key), PR_KS_TURN_ALLOC_PREFIX, id, "allocation id");

	return rc < 0 ? rc : pr_ks_load(r, &pr_ks_turn_alloc_desc, key, a);
}

int pr_ks_turn_alloc_store(struct pr_redis *r, const struct pr_ks_turn_alloc *a)
{
	struct pr_redis_tx *tx;
	char key[KEYLEN];
	long long exp = (long long)a->expires;
	int rc = make_key(key, sizeof(key), PR_KS_TURN_ALLOC_PREFIX, a->id, "allocation id");

	if (rc < 0)
		return rc;
	tx = pr_redis_tx_new();
	if (!tx)
		return -ENOMEM;
	rc = ks_tx_store(tx, &pr_ks_turn_alloc_desc, key, a);
	if (rc == 0) {
		pr_redis_tx_add(tx, "EXPIREAT %s %lld", key, exp);
		pr_redis_tx_add(tx, "EXPIREAT %s:perms %lld", key, exp);
		pr_redis_tx_add(tx, "EXPIREAT %s:chans %lld", key, exp);
		pr_redis_tx_add(tx, "ZADD %s %lld %s", PR_KS_TURN_ALLOCS_KEY, exp, a->id);
		rc = ks_tx_exec(r, tx, key);
	}
	pr_redis_tx_free(tx);
	return rc;
}

int pr_ks_turn_alloc_delete(struct pr_redis *r, const char *id)
{
	struct pr_redis_tx *tx;
	char key[KEYLEN];
	long long n = 0;
	int rc = make_key(key, sizeof(key), PR_KS_TURN_ALLOC_PREFIX, id, "allocation id");

	if (rc < 0)
		return rc;
	tx = pr_redis_tx_new();
	if (!tx)
		return -ENOMEM;
	pr_redis_tx_add(tx, "DEL %s", key);
	pr_redis_tx_add(tx, "DEL %s:perms %s:chans", key, key);
	pr_redis_tx_add(tx, "ZREM %s %s", PR_KS_TURN_ALLOCS_KEY, id);
	rc = tx_exec_int(r, tx, key, 0, &n);
	pr_redis_tx_free(tx);
	if (rc == 0 && n == 0) {
		ks_seterr("%s: no such allocation", key);
		rc = -ENOENT;
	}
	return rc;
}

int pr_ks_turn_alloc_list(struct pr_redis *r, struct pr_ks_names *ids)
{
	int rc = cmd_int(r,
			 pr_redis_cmd(r, "ZREMRANGEBYSCORE %s -inf %lld", PR_KS_TURN_ALLOCS_KEY,
				      (long long)now_s()),
			 PR_KS_TURN_ALLOCS_KEY, NULL);

	if (rc < 0)
		return rc;
	return ks_reply_names(r, pr_redis_cmd(r, "ZRANGE %s 0 -1", PR_KS_TURN_ALLOCS_KEY), ids,
			      true, PR_KS_TURN_ALLOCS_KEY);
}

static int addr_valid(const char *a)
{
	size_t n = strnlen(a, PR_KS_ADDR_MAX);

	if (n == 0 || n >= PR_KS_ADDR_MAX)
		return 0;
	return strspn(a, "0123456789abcdefABCDEF.:") == n;
}

int pr_ks_turn_perm_set(struct pr_redis *r, const char *id, const struct pr_ks_turn_perm *p)
{
	struct pr_redis_tx *tx;
	char key[KEYLEN];
	long long exp = (long long)p->expires;
	int rc = make_key(key, sizeof(key), PR_KS_TURN_ALLOC_PREFIX, id, "allocation id");

	if (rc < 0)
		return rc;
	if (!addr_valid(p->peer_addr)) {
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
	char key[KEYLEN];
	long long n = 0;
	int rc = make_key(key, sizeof(key), PR_KS_TURN_ALLOC_PREFIX, id, "allocation id");

	if (rc < 0)
		return rc;
	rc = cmd_int(r, pr_redis_cmd(r, "HDEL %s:perms %s", key, peer_addr), key, &n);
	if (rc == 0 && n == 0) {
		ks_seterr("%s: no permission for %.47s", key, peer_addr);
		rc = -ENOENT;
	}
	return rc;
}

/* HGETALL of a side hash; calls fn for each pair; returns the count or -errno. */
static int side_hash(struct pr_redis *r, const char *key, const char *suffix,
		     int (*fn)(const char *k, const char *v, void *out, size_t i), void *out,
		     size_t max)
{
	redisReply *rep = pr_redis_cmd(r, "HGETALL %s%s", key, suffix);
	size_t i, n = 0;
	int rc = 0;

	if (!rep)
		return ks_redis_fail(r, key);
	if (rep->type == REDIS_REPLY_ERROR)
		return ks_reply_error(rep, key);
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements % 2) {
		freeReplyObject(rep);
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
			char ctx[KEYLEN + 8];
			snprintf(ctx, sizeof(ctx), "%s%s", key, suffix);
			ks_err_prefix(ctx);
			break;
		}
	}
	freeReplyObject(rep);
	return rc < 0 ? rc : (int)n;
}

static int parse_i64(const char *s, int64_t *out)
{
	struct pr_ks_field f = {"expires", PR_KS_T_I64, 0, 0, sizeof(int64_t), NULL};

	return pr_ks_field_parse(&f, out, s);
}

static int perm_cb(const char *k, const char *v, void *out, size_t i)
{
	struct pr_ks_turn_perm *p = (struct pr_ks_turn_perm *)out + i;

	if (!addr_valid(k)) {
		ks_seterr("invalid peer address");
		return -EINVAL;
	}
	snprintf(p->peer_addr, sizeof(p->peer_addr), "%s", k);
	return parse_i64(v, &p->expires);
}

int pr_ks_turn_perm_list(struct pr_redis *r, const char *id, struct pr_ks_turn_perm *out,
			 size_t max)
{
	char key[KEYLEN];
	int rc = make_key(key, sizeof(key), PR_KS_TURN_ALLOC_PREFIX, id, "allocation id");

	return rc < 0 ? rc : side_hash(r, key, ":perms", perm_cb, out, max);
}

static int chan_valid(uint16_t ch)
{
	return ch >= 0x4000 && ch <= 0x4FFF; /* RFC 8656 section 12 */
}

int pr_ks_turn_chan_set(struct pr_redis *r, const char *id, const struct pr_ks_turn_chan *c)
{
	struct pr_redis_tx *tx;
	char key[KEYLEN];
	long long exp = (long long)c->expires;
	int rc = make_key(key, sizeof(key), PR_KS_TURN_ALLOC_PREFIX, id, "allocation id");

	if (rc < 0)
		return rc;
	if (!chan_valid(c->channel) || !addr_valid(c->peer_addr)) {
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
	char key[KEYLEN];
	long long n = 0;
	int rc = make_key(key, sizeof(key), PR_KS_TURN_ALLOC_PREFIX, id, "allocation id");

	if (rc < 0)
		return rc;
	rc = cmd_int(r, pr_redis_cmd(r, "HDEL %s:chans %u", key, channel), key, &n);
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
	if (sscanf(v, "%47s %7s %23s %1s", addr, port, exp, extra) != 3 || !addr_valid(addr)) {
		ks_seterr("channel %u: malformed value (want 'addr port expires')", c->channel);
		return -EINVAL;
	}
	f16.name = "peer_port";
	snprintf(c->peer_addr, sizeof(c->peer_addr), "%s", addr);
	if (pr_ks_field_parse(&f16, &c->peer_port, port) < 0)
		return -EINVAL;
	return parse_i64(exp, &c->expires);
}

int pr_ks_turn_chan_list(struct pr_redis *r, const char *id, struct pr_ks_turn_chan *out,
			 size_t max)
{
	char key[KEYLEN];
	int rc = make_key(key, sizeof(key), PR_KS_TURN_ALLOC_PREFIX, id, "allocation id");

	return rc < 0 ? rc : side_hash(r, key, ":chans", chan_cb, out, max);
}

int pr_ks_turn_secret_set(struct pr_redis *r, const char *secret_id, const char *secret)
{
	if (!secret_id || !pr_ks_user_name_valid(secret_id)) {
		ks_seterr("invalid secret id");
		return -EINVAL;
	}
	if (!secret || strlen(secret) < 16 || strlen(secret) >= PR_KS_VALUE_MAX) {
		ks_seterr("a TURN REST secret must be 16 to %d characters", PR_KS_VALUE_MAX - 1);
		return -EINVAL;
	}
	return cmd_int(r,
		       pr_redis_cmd(r, "HSET %s %s %s", PR_KS_TURN_SECRETS_KEY, secret_id, secret),
		       PR_KS_TURN_SECRETS_KEY, NULL);
}

int pr_ks_turn_secret_del(struct pr_redis *r, const char *secret_id)
{
	long long n = 0;
	int rc = cmd_int(r, pr_redis_cmd(r, "HDEL %s %s", PR_KS_TURN_SECRETS_KEY, secret_id),
			 PR_KS_TURN_SECRETS_KEY, &n);

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
	char key[KEYLEN];
	int rc = make_key(key, sizeof(key), PR_KS_SESSION_PREFIX, id, "session id");

	return rc < 0 ? rc : pr_ks_load(r, &pr_ks_session_desc, key, s);
}

static void tx_xadd_op(struct pr_redis_tx *tx, enum pr_ks_session_op op, const char *id)
{
	pr_redis_tx_add(tx, "XADD %s MAXLEN ~ %d * op %s id %s ts %lld", PR_KS_SESSIONS_STREAM,
			PR_KS_STREAM_MAXLEN, pr_ks_session_op_name(op), id, (long long)now_s());
}

int pr_ks_session_store(struct pr_redis *r, const struct pr_ks_session *s, enum pr_ks_session_op op)
{
	struct pr_redis_tx *tx;
	char key[KEYLEN];
	int rc = make_key(key, sizeof(key), PR_KS_SESSION_PREFIX, s->id, "session id");

	if (rc < 0)
		return rc;
	if (op != PR_KS_OP_INSTALL && op != PR_KS_OP_UPDATE) {
		ks_seterr("%s: store takes install or update", key);
		return -EINVAL;
	}
	tx = pr_redis_tx_new();
	if (!tx)
		return -ENOMEM;
	rc = ks_tx_store(tx, &pr_ks_session_desc, key, s);
	if (rc == 0) {
		pr_redis_tx_add(tx, "SADD %s %s", PR_KS_SESSIONS_KEY, s->id);
		tx_xadd_op(tx, op, s->id);
		rc = ks_tx_exec(r, tx, key);
	}
	pr_redis_tx_free(tx);
	return rc;
}

int pr_ks_session_end(struct pr_redis *r, const char *id)
{
	struct pr_redis_tx *tx;
	char key[KEYLEN];
	long long n = 0;
	int rc = make_key(key, sizeof(key), PR_KS_SESSION_PREFIX, id, "session id");

	if (rc < 0)
		return rc;
	tx = pr_redis_tx_new();
	if (!tx)
		return -ENOMEM;
	pr_redis_tx_add(tx, "DEL %s", key);
	pr_redis_tx_add(tx, "SREM %s %s", PR_KS_SESSIONS_KEY, id);
	tx_xadd_op(tx, PR_KS_OP_END, id);
	rc = tx_exec_int(r, tx, key, 0, &n);
	pr_redis_tx_free(tx);
	if (rc == 0 && n == 0) {
		ks_seterr("%s: no such session", key);
		rc = -ENOENT;
	}
	return rc;
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
	h = malloc(sizeof(*h));
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
			if (parse_i64(kv->value, &cmd->ts) < 0)
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
	free(h);
	return rc;
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
	return cmd_int(r,
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
	return cmd_int(r, pr_redis_cmd(r, "SADD %s %u", PR_KS_PORTS_FREE_KEY, port),
		       PR_KS_PORTS_FREE_KEY, NULL);
}

/* ---- CDRs ---- */
static void tx_cdr_trim(struct pr_redis_tx *tx)
{
	pr_redis_tx_add(tx, "ZREMRANGEBYSCORE %s -inf %lld", PR_KS_CDRS_KEY,
			(long long)(now_s() - PR_KS_CDR_TTL_S));
}

int pr_ks_cdr_store(struct pr_redis *r, const struct pr_ks_cdr *c)
{
	struct pr_redis_tx *tx;
	char key[KEYLEN];
	int rc = make_key(key, sizeof(key), PR_KS_CDR_PREFIX, c->id, "cdr id");

	if (rc < 0)
		return rc;
	tx = pr_redis_tx_new();
	if (!tx)
		return -ENOMEM;
	rc = ks_tx_store(tx, &pr_ks_cdr_desc, key, c);
	if (rc == 0) {
		pr_redis_tx_add(tx, "EXPIRE %s %d", key, PR_KS_CDR_TTL_S);
		pr_redis_tx_add(tx, "ZADD %s %lld %s", PR_KS_CDRS_KEY, (long long)c->start, c->id);
		tx_cdr_trim(tx);
		rc = ks_tx_exec(r, tx, key);
	}
	pr_redis_tx_free(tx);
	return rc;
}

int pr_ks_cdr_load(struct pr_redis *r, const char *id, struct pr_ks_cdr *c)
{
	char key[KEYLEN];
	int rc = make_key(key, sizeof(key), PR_KS_CDR_PREFIX, id, "cdr id");

	return rc < 0 ? rc : pr_ks_load(r, &pr_ks_cdr_desc, key, c);
}

int pr_ks_cdr_list(struct pr_redis *r, int64_t from, int64_t to, size_t limit,
		   struct pr_ks_names *ids)
{
	redisReply *rep;
	int rc = cmd_int(r,
			 pr_redis_cmd(r, "ZREMRANGEBYSCORE %s -inf %lld", PR_KS_CDRS_KEY,
				      (long long)(now_s() - PR_KS_CDR_TTL_S)),
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
	} else if (rep->type != REDIS_REPLY_STRING || parse_i64(rep->str, &v) < 0 || v < t->min ||
		   v > t->max) {
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

	a.ts = now_s();
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
	rc = cmd_int(r, rep, PR_KS_AUDIT_STREAM, NULL);
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
