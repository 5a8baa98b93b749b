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
const struct pr_ks_desc pr_ks_user_desc = {
    "user",	 PR_KS_USER_PREFIX,	  sizeof(struct pr_ks_user),
    user_fields, KS_ARRAY_N(user_fields), true,
};
/* the same fields as above, the ones a password check needs */
static const struct pr_ks_field user_auth_fields[] = {
    F(name, STR, R),	       F(realm, STR, R),     F(ha1_md5, STR, R | S),
    F(ha1_sha256, STR, R | S), F(disabled, BOOL, 0),
};
#undef F
const struct pr_ks_desc pr_ks_user_auth_desc = {
    "user",
    PR_KS_USER_PREFIX,
    sizeof(struct pr_ks_user),
    user_auth_fields,
    KS_ARRAY_N(user_auth_fields),
    true,
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
    F(id, STR, R),
    F(username, STR, R),
    F(realm, STR, 0),
    F(transport, STR, R),
    F(client_addr, STR, R),
    F(client_port, U16, R),
    F(server_addr, STR, R),
    F(server_port, U16, R),
    F(relay_addr, STR, R),
    F(relay_port, U16, R),
    F(lifetime_s, U32, R),
    F(expires, I64, R),
    F(bw_kbps, U32, 0),
    F(created, I64, R),
    F(refreshed, I64, R),
    F(relay6_addr, STR, 0),
    F(relay6_port, U16, 0),
    F(dont_fragment, BOOL, 0),
    F(bw_bps, U32, 0),
    F(pkts_c2p, U64, 0),
    F(bytes_c2p, U64, 0),
    F(pkts_p2c, U64, 0),
    F(bytes_p2c, U64, 0),
    F(drop_no_permission, U64, 0),
    F(drop_no_channel, U64, 0),
    F(drop_bandwidth, U64, 0),
    F(drop_malformed, U64, 0),
};
#undef F
const struct pr_ks_desc pr_ks_turn_alloc_desc = {
    "turn allocation", PR_KS_TURN_ALLOC_PREFIX,	      sizeof(struct pr_ks_turn_alloc),
    turn_alloc_fields, KS_ARRAY_N(turn_alloc_fields), true,
};

/* ---- media sessions ---- */
#define F(fld, ty, fl) KS_FIELD(struct pr_ks_leg, fld, ty, fl)
static const struct pr_ks_field leg_fields[] = {
    F(party, STR, 0),	       F(onnet, BOOL, 0),     F(family, STR, R),
    F(peer_addr, STR, R),      F(peer_port, U16, R),  F(latch, BOOL, 0),
    F(relay_addr, STR, R),     F(relay_port, U16, R), F(rtcp_mux, BOOL, 0),
    F(profile, STR, R),	       F(suite, STR, 0),      F(key_rx, STR, S),
    F(key_tx, STR, S),	       F(encrypted, BOOL, 0), F(max_kbps, U32, 0),
    F(ice_ufrag, STR, 0),      F(ice_pwd, STR, S),    F(ice_remote_ufrag, STR, 0),
    F(keying, STR, 0),	       F(dtls_setup, STR, 0), F(dtls_fingerprint, STR, 0),
    F(bundle, STR, 0),	       F(bundle_pos, U16, 0), F(bundle_pt, STR, 0),
    F(bundle_ssrc, STR, 0),    F(mid, STR, 0),	      F(dtls_local_fingerprint, STR, 0),
    F(bundle_mid_ext, U16, 0),
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

/* ---- dialogs (the slowpath's calls, restored after a restart) ---- */
#define F(fld, ty, fl) KS_FIELD(struct pr_ks_dialog_leg, fld, ty, fl)
static const struct pr_ks_field dialog_leg_fields[] = {
    F(call_id, STR, R),	    F(local_tag, STR, R),   F(remote_tag, STR, 0),
    F(local_uri, STR, 0),   F(remote_uri, STR, 0),  F(remote_target, STR, 0),
    F(routes, STR, 0),	    F(local_cseq, U32, 0),  F(remote_cseq, U32, 0),
    F(transport, STR, R),   F(addr, STR, 0),	    F(port, U16, 0),
    F(conn_id, U64, 0),	    F(onnet, BOOL, 0),	    F(want_srtp, BOOL, 0),
    F(max_kbps, U32, 0),    F(pop, STR, 0),	    F(user, STR, 0),
    F(instance, STR, 0),    F(reg_id, U32, 0),	    F(party, STR, 0),
    F(user_agent, STR, 0),  F(inside_addr, STR, 0), F(outside_addr, STR, 0),
    F(relay_ports, STR, 0),
};
#undef F
const struct pr_ks_desc pr_ks_dialog_leg_desc = {
    "dialog leg",
    NULL,
    sizeof(struct pr_ks_dialog_leg),
    dialog_leg_fields,
    KS_ARRAY_N(dialog_leg_fields),
    false,
};

#define F(fld, ty, fl) KS_FIELD(struct pr_ks_dialog, fld, ty, fl)
static const struct pr_ks_field dialog_fields[] = {
    F(id, STR, R),
    F(pop, STR, R),
    F(direction, STR, R),
    F(start, I64, R),
    F(answer, I64, 0),
    F(updated, I64, R),
    F(status, U16, 0),
    F(n_media, U16, 0),
    F(media_used, U32, 0),
    KS_NEST(struct pr_ks_dialog, a, "a_", &pr_ks_dialog_leg_desc),
    KS_NEST(struct pr_ks_dialog, b, "b_", &pr_ks_dialog_leg_desc),
};
#undef F
const struct pr_ks_desc pr_ks_dialog_desc = {
    "dialog",	   PR_KS_DIALOG_PREFIX,	      sizeof(struct pr_ks_dialog),
    dialog_fields, KS_ARRAY_N(dialog_fields), true,
};

/* ---- CDRs ---- */
#define F(fld, ty, fl) KS_FIELD(struct pr_ks_cdr_leg, fld, ty, fl)
static const struct pr_ks_field cdr_leg_fields[] = {
    F(user, STR, 0),	    F(uri, STR, 0),	     F(user_agent, STR, 0),
    F(inside_addr, STR, 0), F(outside_addr, STR, 0), F(sig_transport, STR, 0),
    F(media_path, STR, 0),  F(encrypted, BOOL, 0),   F(suite, STR, 0),
    F(rx_packets, U64, 0),  F(rx_bytes, U64, 0),     F(tx_packets, U64, 0),
    F(tx_bytes, U64, 0),    F(lost, U64, 0),	     F(jitter_us, U32, 0),
    F(avg_kbps, U32, 0),    F(auth_fail, U64, 0),    F(keying, STR, 0),
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
    {"dp.burst_size", "dataplane", "dataplane.burst_size", 1, 256, 32, "packets per rx/tx burst"},
    {"dp.session_idle_s", "dataplane", "media.session_idle_s", 5, 3600, 60,
     "end relaying a session after this idle time"},
    {"turn.default_lifetime_s", "dataplane", "turn.default_lifetime_s", 60, 3600, 600,
     "allocation lifetime when not asked"},
    {"turn.max_lifetime_s", "dataplane", "turn.max_lifetime_s", 60, 86400, 3600,
     "longest allocation lifetime granted"},
    {"turn.max_allocs_per_user", "dataplane", "turn.max_allocations_per_user", 0, 1000000, 100,
     "allocation quota per username (0: none)"},
    {"turn.bw_kbps", "dataplane", "turn.bandwidth_kbps", 0, 100000000, 0,
     "bandwidth limit per allocation (0: none)"},
    {"turn.nonce_lifetime_s", "dataplane", "turn.nonce_lifetime_s", 10, 86400, 600,
     "nonce validity"},
    {"sip.max_msg_bytes", "slowpath", "sip.max_message_bytes", 1024, 65536, 65536,
     "largest SIP message accepted"},
    {"sip.rate_per_src", "slowpath", "sip.rate_limit_rps", 0, 1000000, 50,
     "requests per second per source address (0: no limit)"},
    {"sip.auth_fail_max", "slowpath", "sip.lockout_failures", 1, 1000, 5,
     "failed authentications before lockout"},
    {"sip.lockout_s", "slowpath", "sip.lockout_s", 1, 86400, 300,
     "account lockout after failed authentication"},
    {"sip.reg_min_expires_s", "slowpath", "sip.reg_min_expires_s", 1, 86400, 60,
     "shortest registration granted"},
    {"sip.reg_max_expires_s", "slowpath", "sip.reg_max_expires_s", 1, 604800, 3600,
     "longest registration granted"},
    {"sip.keepalive_s", "slowpath", "sip.keepalive_s", 10, 3600, 120,
     "default RFC 5626 keepalive interval"},
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

/* ---- users ---- */
int pr_ks_user_load(struct pr_redis *r, const char *name, struct pr_ks_user *u)
{
	char key[KS_KEYLEN];
	int rc = ks_make_key(key, sizeof(key), PR_KS_USER_PREFIX, name, "user name");

	if (rc == 0)
		rc = pr_ks_load(r, &pr_ks_user_desc, key, u);
	if (rc == 0 && strcmp(u->name, name) != 0) {
		ks_seterr("%s: field name '%s' does not match the key", key, u->name);
		rc = -EINVAL;
	}
	return rc;
}

int pr_ks_user_from_reply(const char *name, const redisReply *rep, struct pr_ks_user *u)
{
	char key[KS_KEYLEN];
	int rc = ks_make_key(key, sizeof(key), PR_KS_USER_PREFIX, name, "user name");

	if (rc == 0)
		rc = pr_ks_load_reply(&pr_ks_user_desc, key, rep, u);
	if (rc == 0 && strcmp(u->name, name) != 0) {
		ks_seterr("%s: field name '%s' does not match the key", key, u->name);
		rc = -EINVAL;
	}
	return rc;
}

int pr_ks_user_store(struct pr_redis *r, const struct pr_ks_user *u)
{
	struct pr_redis_tx *tx;
	char key[KS_KEYLEN];
	int rc = ks_make_key(key, sizeof(key), PR_KS_USER_PREFIX, u->name, "user name");

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

static const char user_create_lua[] = "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
				      "redis.call('HSET', KEYS[1], unpack(ARGV, 2))\n"
				      "redis.call('SADD', KEYS[2], ARGV[1])\n"
				      "redis.call('PUBLISH', '" PR_KS_EVENTS_CHANNEL "', 'users')\n"
				      "return 1\n";

int pr_ks_user_create(struct pr_redis *r, const struct pr_ks_user *u)
{
	const char *argv[6 + 2 * PR_KS_MAX_FIELDS];
	size_t len[6 + 2 * PR_KS_MAX_FIELDS], i;
	struct pr_ks_hash *h;
	char key[KS_KEYLEN];
	long long created = 0;
	int rc = ks_make_key(key, sizeof(key), PR_KS_USER_PREFIX, u->name, "user name"), argc = 0;

	if (rc < 0)
		return rc;
	h = malloc(sizeof(*h));
	if (!h)
		return -ENOMEM;
	rc = pr_ks_encode(&pr_ks_user_desc, u, h);
	if (rc < 0) {
		ks_err_prefix(key);
		goto out;
	}
	argv[argc++] = "EVAL";
	argv[argc++] = user_create_lua;
	argv[argc++] = "2";
	argv[argc++] = key;
	argv[argc++] = PR_KS_USERS_KEY;
	argv[argc++] = u->name;
	for (i = 0; i < (size_t)argc; i++)
		len[i] = strlen(argv[i]);
	for (i = 0; i < h->n; i++) {
		argv[argc] = h->kv[i].name;
		len[argc++] = strlen(h->kv[i].name);
		argv[argc] = h->kv[i].value;
		len[argc++] = h->kv[i].len;
	}
	rc = ks_cmd_int(r, pr_redis_cmdargv(r, argc, argv, len), key, &created);
	if (rc == 0 && !created) {
		ks_seterr("%s: user already exists", key);
		rc = -EEXIST;
	}
out:
	pr_ks_hash_wipe(h);
	free(h);
	return rc;
}

int pr_ks_user_delete(struct pr_redis *r, const char *name)
{
	struct pr_redis_tx *tx;
	char key[KS_KEYLEN];
	int rc = ks_make_key(key, sizeof(key), PR_KS_USER_PREFIX, name, "user name");

	if (rc < 0)
		return rc;
	tx = ks_tx_delete_begin(key);
	if (!tx)
		return -ENOMEM;
	pr_redis_tx_add(tx, "DEL %s%s", PR_KS_REG_PREFIX, name);
	pr_redis_tx_add(tx, "SREM %s %s", PR_KS_USERS_KEY, name);
	pr_redis_tx_add(tx, "ZREM %s %s", PR_KS_REGS_KEY, name);
	pr_redis_tx_add(tx, "PUBLISH %s users", PR_KS_EVENTS_CHANNEL);
	return ks_tx_delete(r, tx, key, "user");
}

int pr_ks_user_list(struct pr_redis *r, struct pr_ks_names *names)
{
	return ks_reply_names(r, pr_redis_cmd(r, "SMEMBERS %s", PR_KS_USERS_KEY), names, true,
			      PR_KS_USERS_KEY);
}

/* ---- registrations ---- */
int pr_ks_reg_load(struct pr_redis *r, const char *user, struct pr_ks_reg *reg)
{
	char key[KS_KEYLEN];
	int rc = ks_make_key(key, sizeof(key), PR_KS_REG_PREFIX, user, "user name");

	return rc < 0 ? rc : pr_ks_load(r, &pr_ks_reg_desc, key, reg);
}

int pr_ks_reg_from_reply(const char *user, const redisReply *rep, struct pr_ks_reg *reg)
{
	char key[KS_KEYLEN];
	int rc = ks_make_key(key, sizeof(key), PR_KS_REG_PREFIX, user, "user name");

	return rc < 0 ? rc : pr_ks_load_reply(&pr_ks_reg_desc, key, rep, reg);
}

int pr_ks_reg_store_tx(struct pr_redis_tx *tx, const struct pr_ks_reg *reg)
{
	char key[KS_KEYLEN];
	int rc = ks_make_key(key, sizeof(key), PR_KS_REG_PREFIX, reg->user, "user name");

	if (rc == 0)
		rc = ks_tx_store(tx, &pr_ks_reg_desc, key, reg);
	if (rc == 0)
		rc = pr_redis_tx_add(tx, "EXPIREAT %s %lld", key, (long long)reg->expires);
	if (rc == 0)
		rc = pr_redis_tx_add(tx, "ZADD %s %lld %s", PR_KS_REGS_KEY, (long long)reg->expires,
				     reg->user);
	return rc;
}

int pr_ks_reg_store(struct pr_redis *r, const struct pr_ks_reg *reg)
{
	struct pr_redis_tx *tx;
	char key[KS_KEYLEN];
	int rc = ks_make_key(key, sizeof(key), PR_KS_REG_PREFIX, reg->user, "user name");

	if (rc < 0)
		return rc;
	tx = pr_redis_tx_new();
	if (!tx)
		return -ENOMEM;
	rc = pr_ks_reg_store_tx(tx, reg);
	if (rc == 0)
		rc = ks_tx_exec(r, tx, key);
	pr_redis_tx_free(tx);
	return rc;
}

int pr_ks_reg_delete_tx(struct pr_redis_tx *tx, const char *user)
{
	char key[KS_KEYLEN];
	int rc = ks_make_key(key, sizeof(key), PR_KS_REG_PREFIX, user, "user name");

	if (rc == 0)
		rc = pr_redis_tx_add(tx, "DEL %s", key);
	if (rc == 0)
		rc = pr_redis_tx_add(tx, "ZREM %s %s", PR_KS_REGS_KEY, user);
	return rc;
}

int pr_ks_reg_delete(struct pr_redis *r, const char *user)
{
	struct pr_redis_tx *tx;
	char key[KS_KEYLEN];
	int rc = ks_make_key(key, sizeof(key), PR_KS_REG_PREFIX, user, "user name");

	if (rc < 0)
		return rc;
	tx = ks_tx_delete_begin(key);
	if (!tx)
		return -ENOMEM;
	pr_redis_tx_add(tx, "ZREM %s %s", PR_KS_REGS_KEY, user);
	return ks_tx_delete(r, tx, key, "registration");
}

int pr_ks_reg_list(struct pr_redis *r, int64_t now, struct pr_ks_names *users)
{
	int rc = ks_cmd_int(
	    r, pr_redis_cmd(r, "ZREMRANGEBYSCORE %s -inf %lld", PR_KS_REGS_KEY, (long long)now),
	    PR_KS_REGS_KEY, NULL);

	if (rc < 0)
		return rc;
	return ks_reply_names(r, pr_redis_cmd(r, "ZRANGE %s 0 -1", PR_KS_REGS_KEY), users, true,
			      PR_KS_REGS_KEY);
}
