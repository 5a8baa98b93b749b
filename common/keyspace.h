/* SPDX-License-Identifier: BSD-3-Clause */
/* The Redis keyspace contract (docs/redis-keyspace.md, schema version 1): every record
 * type, its field table, and the one encode/decode implementation that every poprelay
 * process uses. Control paths only: nothing here may run in a dataplane worker loop.
 *
 * Errors are negative errno values:
 *   -ENOENT  the record (or key) does not exist
 *   -EINVAL  malformed record or argument (missing field, bad integer, too long)
 *   -EPROTO  schema version mismatch (pr:schema or a record's "v")
 *   -EIO     could not talk to Redis (an I/O error that survived one reconnect)
 *   -EACCES  the ACL user may not do this (NOPERM); other error replies: see
 *            pr_redis_reply_errno() (-EBADMSG when unclassified)
 *   -ENOMEM  out of memory
 * After a failure, pr_ks_errmsg() returns a one-line explanation (never a secret). */
#ifndef POPRELAY_COMMON_KEYSPACE_H
#define POPRELAY_COMMON_KEYSPACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/redis.h"

#define PR_KS_SCHEMA_VERSION 1
#define PR_KS_PREFIX	     "pr:"
#define PR_KS_SCHEMA_KEY     "pr:schema"
#define PR_KS_DEFAULT_REALM  "poprelay"

/* Key names (prefix + id where a record has one). */
#define PR_KS_USER_PREFIX	"pr:user:"
#define PR_KS_USERS_KEY		"pr:users"
#define PR_KS_REG_PREFIX	"pr:reg:"
#define PR_KS_REGS_KEY		"pr:regs"
#define PR_KS_TURN_ALLOC_PREFIX "pr:turn:alloc:"
#define PR_KS_TURN_ALLOCS_KEY	"pr:turn:allocs"
/* capped stream of allocation changes, which an [ha] backup follows (docs/redis-keyspace.md) */
#define PR_KS_TURN_CHANGES_KEY	"pr:turn:changes"
#define PR_KS_TURN_SECRETS_KEY	"pr:turn:secrets"
#define PR_KS_TURN_SECRET_ADDED "pr:turn:secret_added" /* id -> when it was added */
#define PR_KS_SESSION_PREFIX	"pr:session:"
#define PR_KS_SESSIONS_KEY	"pr:sessions"
#define PR_KS_SESSIONS_STREAM	"pr:sessions:stream"
#define PR_KS_SESSIONS_EVENTS	"pr:sessions:events" /* dataplane -> slowpath (idle) */
#define PR_KS_SESSIONS_GROUP	"dataplane" /* the default consumer group ([media] group) */
#define PR_KS_PORTS_FREE_KEY	"pr:ports:free"
#define PR_KS_PORTS_RANGE_KEY	"pr:ports:range"
#define PR_KS_CDR_PREFIX	"pr:cdr:"
#define PR_KS_CDRS_KEY		"pr:cdrs"
#define PR_KS_DIALOG_PREFIX	"pr:dialog:"
#define PR_KS_DIALOGS_KEY	"pr:dialogs"
#define PR_KS_TUNABLES_KEY	"pr:tunables"
#define PR_KS_TUNABLES_IN_FORCE "pr:tunables:in_force:" /* + owner */
#define PR_KS_EVENTS_CHANNEL	"pr:events"
#define PR_KS_DRAIN_KEY		"pr:drain"
#define PR_KS_AUDIT_STREAM	"pr:audit"
#define PR_KS_STATS_SLOWPATH	"pr:stats:slowpath:" /* + pop:instance: a slowpath's counters */

#define PR_KS_CDR_TTL_S	    (90 * 86400) /* CDR retention: 3 months */
#define PR_KS_AUDIT_MAXLEN  1000000	 /* approximate cap of pr:audit (XADD MAXLEN ~) */
#define PR_KS_STREAM_MAXLEN 100000	 /* approximate cap of pr:sessions:stream */

/* Buffer sizes, NUL included. */
#define PR_KS_NAME_MAX	     64 /* user names, pop names, ids */
#define PR_KS_REALM_MAX	     64
#define PR_KS_TEXT_MAX	     128 /* display names, user agents */
#define PR_KS_URI_MAX	     256
#define PR_KS_ADDR_MAX	     48	 /* textual IPv4/IPv6 address */
#define PR_KS_KEY_B64_MAX    64	 /* SDES inline key||salt, base64 (46 bytes for AEAD) */
#define PR_KS_ICE_MAX	     257 /* ice-ufrag / ice-pwd: up to 256 ice-chars (RFC 8839) */
#define PR_KS_FPR_MAX	     112 /* "sha-256 " and 32 hex pairs with colons (RFC 8122) */
#define PR_KS_VALUE_MAX	     512 /* longest encoded field value */
#define PR_KS_FIELD_NAME_MAX 48
#define PR_KS_MAX_FIELDS     96 /* most fields in one encoded record (nested expanded) */

/* ---------------------------------------------------------------------------------------
 * Table-driven codec. A record type is a struct plus a table of {name, type, offset}.
 * Adding a field is one line in common/keyspace_records.c.
 */
enum pr_ks_type {
	PR_KS_T_STR,  /* char[size], NUL-terminated; encoded verbatim */
	PR_KS_T_BOOL, /* bool; "0" or "1" */
	PR_KS_T_U16,  /* uint16_t, decimal */
	PR_KS_T_U32,  /* uint32_t, decimal */
	PR_KS_T_U64,  /* uint64_t, decimal */
	PR_KS_T_I64,  /* int64_t, decimal (unix seconds are I64) */
	PR_KS_T_NEST, /* embedded struct described by .sub; its fields get the name as prefix */
};

#define PR_KS_F_REQUIRED 0x1 /* decode fails with -EINVAL when absent */
#define PR_KS_F_SECRET	 0x2 /* never printed: pr_ks_field_format() shows "set" / "-" */

struct pr_ks_desc;

struct pr_ks_field {
	const char *name;
	enum pr_ks_type type;
	uint16_t flags;
	size_t off;
	size_t size;		      /* PR_KS_T_STR: buffer size; others: sizeof */
	const struct pr_ks_desc *sub; /* PR_KS_T_NEST only */
};

struct pr_ks_desc {
	const char *name;	/* "user", "reg", ...: used in error messages */
	const char *key_prefix; /* "pr:user:"; NULL for nested-only descriptors */
	size_t size;		/* sizeof the record struct */
	const struct pr_ks_field *fields;
	size_t nfields;
	bool versioned; /* has a "v" field checked against PR_KS_SCHEMA_VERSION */
};

/* An encoded record: field/value pairs as they appear in a Redis hash or stream entry. */
struct pr_ks_kv {
	char name[PR_KS_FIELD_NAME_MAX];
	char value[PR_KS_VALUE_MAX];
	size_t len;
};
struct pr_ks_hash {
	size_t n;
	struct pr_ks_kv kv[PR_KS_MAX_FIELDS];
};

/* Wipes what a hash holds (values may be secrets: digests, keys) before it is freed or
 * reused. Only its entries in use are written: a hash must have been filled by
 * pr_ks_encode or pr_ks_hash_from_reply (which set n first), or be all zero. */
void pr_ks_hash_wipe(struct pr_ks_hash *h);
/* An empty hash (n = 0) from this thread's spare, or malloc'd when the spare is taken;
 * NULL when out of memory. pr_ks_hash_put wipes it and keeps it as the spare, or frees
 * it. */
struct pr_ks_hash *pr_ks_hash_get(void);
void pr_ks_hash_put(struct pr_ks_hash *h);

/* A slowpath's stats hash, pr:stats:slowpath:<pop>:<instance> (docs/redis-keyspace.md):
 * instance is [sip] instance, or this host's name when that is empty or NULL, so that the
 * slowpaths of one PoP (one per appliance) each have their own and a reader on the same
 * appliance, with the same configuration, names the same one. 0, or -ENAMETOOLONG. */
int pr_ks_slowpath_stats_key(char *out, size_t len, const char *pop, const char *instance);

/* Last error message of this thread (static storage; never contains a secret). */
const char *pr_ks_errmsg(void);
/* Sets it, for a caller that talked to Redis by other means (the slowpath's async link). */
void pr_ks_errmsg_set(const char *msg);

/* rec -> out (every field, "v" included for versioned types). Returns 0 or -EINVAL. */
int pr_ks_encode(const struct pr_ks_desc *d, const void *rec, struct pr_ks_hash *out);
/* in -> rec (zeroed first). Unknown fields are ignored (additive changes within a version);
 * a missing required field, a bad integer, an over-long string or a wrong "v" fail. */
int pr_ks_decode(const struct pr_ks_desc *d, const struct pr_ks_hash *in, void *rec);
/* HGETALL / stream-entry field array reply -> pairs. -EINVAL on a malformed reply. */
/* Reading some fields of a record: "HMGET key [v] field...", d's fields in order (no
 * nested ones). argv gets the command (key is not copied); returns argc, or -EINVAL when
 * max is too small or d nests. */
int pr_ks_hmget_argv(const struct pr_ks_desc *d, const char *key, const char **argv, int max);
/* Its reply -> out, nil values left out. 0; -ENOENT when every value is nil (no such
 * record); -EINVAL when the reply does not match d. */
int pr_ks_hash_from_hmget(const struct pr_ks_desc *d, const redisReply *r, struct pr_ks_hash *out);
int pr_ks_hash_from_reply(const redisReply *r, struct pr_ks_hash *out);
/* One field of rec as text for humans; secrets come out as "set" (or "-" when empty). */
int pr_ks_field_format(const struct pr_ks_field *f, const void *rec, char *buf, size_t len);
/* Find a field by (possibly nested, e.g. "caller_rx_packets") name; NULL if unknown.
 * *base_off receives the offset of the struct the field belongs to. */
const struct pr_ks_field *pr_ks_field_find(const struct pr_ks_desc *d, const char *name,
					   size_t *base_off);
/* Parse text into one field (as "user set" does). -EINVAL with pr_ks_errmsg() on bad input. */
int pr_ks_field_parse(const struct pr_ks_field *f, void *base, const char *text);

/* Generic hash I/O: DEL + HSET in one MULTI/EXEC, or HGETALL + decode. */
int pr_ks_store(struct pr_redis *r, const struct pr_ks_desc *d, const char *key, const void *rec);
int pr_ks_load(struct pr_redis *r, const struct pr_ks_desc *d, const char *key, void *rec);
/* The decoding half of pr_ks_load, for a HGETALL reply that came asynchronously: 0,
 * -ENOENT (empty: no such record), the errno of an error reply, or a decode error. rep is
 * not freed. */
int pr_ks_load_reply(const struct pr_ks_desc *d, const char *key, const redisReply *rep, void *rec);

/* Schema: sets pr:schema to PR_KS_SCHEMA_VERSION if absent; -EPROTO on a mismatch with a
 * message naming both versions. Every process calls it once at start and refuses to run
 * on failure. */
int pr_ks_check_schema(struct pr_redis *r);

/* Set of names (pr:users etc.), sorted; free with pr_ks_names_free. */
struct pr_ks_names {
	size_t n;
	char **v;
};
void pr_ks_names_free(struct pr_ks_names *names);

/* ---------------------------------------------------------------------------------------
 * Users: hash pr:user:<name>, set pr:users. Writer: poprelayctl. Readers: slowpath
 * (digest auth, profile), poprelayctl. Never a password: HA1 digests only.
 */
struct pr_ks_user {
	char name[PR_KS_NAME_MAX];
	char realm[PR_KS_REALM_MAX];
	char ha1_md5[33];    /* secret: hex MD5(name:realm:password) */
	char ha1_sha256[65]; /* secret: hex SHA-256(name:realm:password) */
	char display_name[PR_KS_TEXT_MAX];
	char uri[PR_KS_URI_MAX]; /* sip:name@domain */
	bool encryption_required;
	uint32_t max_tx_kbps; /* 0 = unlimited */
	uint32_t max_rx_kbps;
	char pop[PR_KS_NAME_MAX]; /* home PoP */
	uint32_t keepalive_s;	  /* RFC 5626 CRLF keepalive interval; 0 = default */
	bool disabled;		  /* registrations refused while set */
	int64_t created;
	int64_t updated;
};
extern const struct pr_ks_desc pr_ks_user_desc;
/* The fields of a user that authenticate it (name, realm, both digests, disabled), for
 * readers that check a password on every request: an HMGET of these instead of the whole
 * hash (pr_ks_hmget_argv), decoded into a struct pr_ks_user with the rest zero. */
extern const struct pr_ks_desc pr_ks_user_auth_desc;

/* User names: 1..63 chars of [A-Za-z0-9._-], not starting with '.' or '-'. */
bool pr_ks_user_name_valid(const char *name);
int pr_ks_user_load(struct pr_redis *r, const char *name, struct pr_ks_user *u);
/* pr_ks_user_load's checks on the reply to "HGETALL pr:user:<name>" sent elsewhere. */
int pr_ks_user_from_reply(const char *name, const redisReply *rep, struct pr_ks_user *u);
/* Full replace of the hash + SADD pr:users, atomically. */
int pr_ks_user_store(struct pr_redis *r, const struct pr_ks_user *u);
/* Creates the user only if absent (atomic, Lua): -EEXIST when it exists. */
int pr_ks_user_create(struct pr_redis *r, const struct pr_ks_user *u);
/* Deletes pr:user:<name>, its registration and its pr:users entry; -ENOENT if absent. */
int pr_ks_user_delete(struct pr_redis *r, const char *name);
int pr_ks_user_list(struct pr_redis *r, struct pr_ks_names *names);

/* ---------------------------------------------------------------------------------------
 * Registrations: hash pr:reg:<user> (one binding per device account, EXPIREAT = expires),
 * zset pr:regs (member user, score expires). Writer: slowpath. Readers: slowpath of every
 * PoP (routing on-net calls to the PoP of the last registration), poprelayctl.
 */
struct pr_ks_reg {
	char user[PR_KS_NAME_MAX];
	char contact[PR_KS_URI_MAX];   /* Contact URI as registered */
	char instance[PR_KS_TEXT_MAX]; /* +sip.instance (RFC 5626), may be empty */
	uint32_t reg_id;	       /* reg-id (RFC 5626), 0 if none */
	char pop[PR_KS_NAME_MAX];      /* PoP holding the device's connection */
	char transport[8];	       /* "tls", "tcp", "udp" */
	char src_addr[PR_KS_ADDR_MAX]; /* address the REGISTER came from (outside address) */
	uint16_t src_port;
	char contact_addr[PR_KS_ADDR_MAX]; /* host in Contact/Via (inside address, behind NAT) */
	uint64_t conn_id;		   /* slowpath's connection id for routing over the flow */
	char call_id[PR_KS_TEXT_MAX];
	uint32_t cseq;
	char user_agent[PR_KS_TEXT_MAX]; /* device type and software */
	uint32_t expires_s;		 /* granted expiry interval */
	int64_t expires;		 /* absolute unix time */
	int64_t created;
	int64_t updated;
};
extern const struct pr_ks_desc pr_ks_reg_desc;

int pr_ks_reg_load(struct pr_redis *r, const char *user, struct pr_ks_reg *reg);
int pr_ks_reg_from_reply(const char *user, const redisReply *rep, struct pr_ks_reg *reg);
/* HSET + EXPIREAT expires + ZADD pr:regs, atomically (the _tx form adds them to tx). */
int pr_ks_reg_store(struct pr_redis *r, const struct pr_ks_reg *reg);
int pr_ks_reg_store_tx(struct pr_redis_tx *tx, const struct pr_ks_reg *reg);
int pr_ks_reg_delete(struct pr_redis *r, const char *user);
/* DEL pr:reg:<user> (its count is the first EXEC element) + ZREM pr:regs, into tx. */
int pr_ks_reg_delete_tx(struct pr_redis_tx *tx, const char *user);
/* Registered users whose expiry is later than now (and trims expired zset members). */
int pr_ks_reg_list(struct pr_redis *r, int64_t now, struct pr_ks_names *users);

/* ---------------------------------------------------------------------------------------
 * TURN allocations: hash pr:turn:alloc:<id>, zset pr:turn:allocs (member id, score
 * expires), hash pr:turn:alloc:<id>:perms (peer address -> expires), hash
 * pr:turn:alloc:<id>:chans (channel number -> "peer_addr peer_port expires").
 * Writer: dataplane control lcore. Readers: dataplane at restart, poprelayctl.
 */
struct pr_ks_turn_alloc {
	char id[PR_KS_NAME_MAX];       /* hex, unique per 5-tuple and allocation */
	char username[PR_KS_TEXT_MAX]; /* long-term user or REST "expiry:user" */
	char realm[PR_KS_REALM_MAX];
	char transport[8];		  /* "udp" */
	char client_addr[PR_KS_ADDR_MAX]; /* client's server-reflexive address */
	uint16_t client_port;
	char server_addr[PR_KS_ADDR_MAX]; /* our listener address the client used */
	uint16_t server_port;
	char relay_addr[PR_KS_ADDR_MAX];
	uint16_t relay_port;
	uint32_t lifetime_s;
	int64_t expires;
	uint32_t bw_kbps; /* bandwidth limit applied, 0 = none */
	int64_t created;
	int64_t refreshed;
	/* Additive in v1 (optional): second relayed address of a dual-stack allocation
	 * (ADDITIONAL-ADDRESS-FAMILY), DONT-FRAGMENT, the exact cap, and the dataplane's
	 * per-allocation counters (client->peer, peer->client, drops by reason). */
	char relay6_addr[PR_KS_ADDR_MAX];
	uint16_t relay6_port;
	bool dont_fragment;
	uint32_t bw_bps;
	uint64_t pkts_c2p, bytes_c2p, pkts_p2c, bytes_p2c;
	uint64_t drop_no_permission, drop_no_channel, drop_bandwidth, drop_malformed;
};
extern const struct pr_ks_desc pr_ks_turn_alloc_desc;

struct pr_ks_turn_perm {
	char peer_addr[PR_KS_ADDR_MAX];
	int64_t expires;
};
struct pr_ks_turn_chan {
	uint16_t channel; /* 0x4000..0x4FFF (RFC 8656), 0x4000..0x7FFF with RFC 5766's range */
	char peer_addr[PR_KS_ADDR_MAX];
	uint16_t peer_port;
	int64_t expires;
};

int pr_ks_turn_alloc_load(struct pr_redis *r, const char *id, struct pr_ks_turn_alloc *a);
/* HSET + EXPIREAT expires (the hash and its perms and chans) + ZADD pr:turn:allocs, added
 * to tx (the writer's own MULTI/EXEC, pipelined): 0, or a negative errno (a field out of
 * range) with nothing useful added. */
int pr_ks_turn_alloc_store_tx(struct pr_redis_tx *tx, const struct pr_ks_turn_alloc *a);
/* A script that writes only the counter fields (pkts_*, bytes_*, drop_*), and only while
 * the allocation exists (never resurrected: it returns -1 then), added to tx. */
int pr_ks_turn_alloc_counters_tx(struct pr_redis_tx *tx, const struct pr_ks_turn_alloc *a);
/* Deletes the allocation, its perms and chans hashes and its index entry. */
int pr_ks_turn_alloc_delete(struct pr_redis *r, const char *id);
/* Its commands added to tx (the first is the DEL of the allocation's hash). */
int pr_ks_turn_alloc_delete_tx(struct pr_redis_tx *tx, const char *id);
int pr_ks_turn_alloc_list(struct pr_redis *r, struct pr_ks_names *ids);
int pr_ks_turn_perm_set(struct pr_redis *r, const char *id, const struct pr_ks_turn_perm *p);
int pr_ks_turn_perm_del(struct pr_redis *r, const char *id, const char *peer_addr);
/* Up to max permissions; returns the count or a negative errno. */
int pr_ks_turn_perm_list(struct pr_redis *r, const char *id, struct pr_ks_turn_perm *out,
			 size_t max);
int pr_ks_turn_chan_set(struct pr_redis *r, const char *id, const struct pr_ks_turn_chan *c);
int pr_ks_turn_chan_del(struct pr_redis *r, const char *id, uint16_t channel);
int pr_ks_turn_chan_list(struct pr_redis *r, const char *id, struct pr_ks_turn_chan *out,
			 size_t max);
/* The same two lists from an HGETALL reply of the side hash that came otherwise (a
 * transaction's, a pipeline's); rep is not freed. */
int pr_ks_turn_perm_list_reply(const char *id, const redisReply *rep, struct pr_ks_turn_perm *out,
			       size_t max);
int pr_ks_turn_chan_list_reply(const char *id, const redisReply *rep, struct pr_ks_turn_chan *out,
			       size_t max);

/* TURN REST shared secrets: hash pr:turn:secrets, field = secret id (e.g. "2026-11"),
 * value = secret; hash pr:turn:secret_added, same id -> unix seconds it was added (absent
 * for secrets written before it existed). Writer: poprelayctl. Reader: dataplane (tries
 * every secret, HVALS, re-read every 2 s). Secret.
 * Ids follow pr_ks_user_name_valid(). A secret is PR_KS_TURN_SECRET_MIN..
 * PR_KS_TURN_SECRET_MAX - 1 visible ASCII characters (0x21-0x7e): the dataplane keeps each
 * in a TURN_SECRET_MAX buffer and ignores longer ones, and HMAC-SHA1 keys it by strlen. It
 * tries at most PR_KS_TURN_SECRETS_MAX of them (TURN_REST_SECRETS), so no more are added. */
#define PR_KS_TURN_SECRET_MIN  16
#define PR_KS_TURN_SECRET_MAX  128 /* buffer size, NUL included: the dataplane's TURN_SECRET_MAX */
#define PR_KS_TURN_SECRETS_MAX 8   /* the dataplane's TURN_REST_SECRETS */
/* 0, or -EINVAL with pr_ks_errmsg() saying what is wrong (length, position of a bad
 * character), never quoting the secret. */
int pr_ks_turn_secret_check(const char *secret);
/* Adds secret under secret_id with added = now, both hashes at once (one script). Returns
 * 0 (added) or 1 (replaced an existing one, with replace), -EEXIST when the id exists and
 * !replace; -ENOSPC when PR_KS_TURN_SECRETS_MAX secrets exist
 * already (and the id is new); -EINVAL for a bad id or secret. */
int pr_ks_turn_secret_add(struct pr_redis *r, const char *secret_id, const char *secret,
			  int64_t now, bool replace);
/* pr_ks_turn_secret_add(r, id, secret, time(NULL), true), 0 also when it replaced one. */
int pr_ks_turn_secret_set(struct pr_redis *r, const char *secret_id, const char *secret);
/* Removes the secret and its time added (one MULTI/EXEC); -ENOENT when there was no
 * secret with that id. */
int pr_ks_turn_secret_del(struct pr_redis *r, const char *secret_id);
/* ids only (never the secrets), sorted. */
int pr_ks_turn_secret_ids(struct pr_redis *r, struct pr_ks_names *ids);
/* When secret_id was added (*added = 0 when it is not recorded). */
int pr_ks_turn_secret_added(struct pr_redis *r, const char *secret_id, int64_t *added);

/* ---------------------------------------------------------------------------------------
 * Media sessions: one per anchored media stream (m= line) between two legs, hash
 * pr:session:<id>, set pr:sessions; commands on stream pr:sessions:stream (fields op, id,
 * ts), consumer group "dataplane". Writer: slowpath. Reader: dataplane, poprelayctl
 * (never the keys).
 */
enum { PR_KS_LEG_A = 0, PR_KS_LEG_B = 1 };

struct pr_ks_leg {
	char party[PR_KS_URI_MAX]; /* user name (on-net) or remote URI (off-net) */
	bool onnet;
	char family[4];			 /* "ip4" / "ip6" */
	char peer_addr[PR_KS_ADDR_MAX];	 /* where the leg's device sends from / we send to (SDP) */
	uint16_t peer_port;		 /* RTP; RTCP is +1 unless rtcp_mux */
	bool latch;			 /* symmetric RTP: learn peer from first authentic packet */
	char relay_addr[PR_KS_ADDR_MAX]; /* our anchor address on this leg */
	uint16_t relay_port;		 /* even; RTCP on relay_port + 1 unless rtcp_mux */
	bool rtcp_mux;
	char profile[16]; /* "RTP/AVP", "RTP/SAVP" */
	char suite[32];	  /* "AES_CM_128_HMAC_SHA1_80", "..._32", "AEAD_AES_128_GCM", "" */
	char key_rx[PR_KS_KEY_B64_MAX]; /* secret: SDES key||salt the device encrypts with */
	char key_tx[PR_KS_KEY_B64_MAX]; /* secret: SDES key||salt we encrypt toward it with */
	bool encrypted;			/* leg's media is SRTP */
	uint32_t max_kbps;		/* bandwidth limit for the leg's device, 0 = none */
	/* ICE-lite on this leg (all empty: none). The dataplane checks the text (RFC 8839
	 * ice-chars and lengths) and refuses the record otherwise. */
	char ice_ufrag[PR_KS_ICE_MAX];	      /* ours */
	char ice_pwd[PR_KS_ICE_MAX];	      /* secret: ours, keys the checks' integrity */
	char ice_remote_ufrag[PR_KS_ICE_MAX]; /* the peer's ("": not known yet) */
	/* How the leg's SRTP is keyed (issue 19): "sdes" (or "": keys above) or "dtls" (no
	 * key_rx/key_tx: the DTLS-SRTP handshake on the leg exports them). */
	char keying[8];
	char dtls_setup[8];		      /* dtls: OUR role, "active" / "passive" */
	char dtls_fingerprint[PR_KS_FPR_MAX]; /* dtls: the PEER's, "sha-256 AB:CD:..." */
	/* dtls: OURS as the leg's SDP carried it (pr:dtls:fingerprint then): the handshake
	 * presents that certificate, the previous one after a rotation; "": the current */
	char dtls_local_fingerprint[PR_KS_FPR_MAX];
	/* BUNDLE (RFC 8843) on a dtls leg: the legs of one group share relay_addr/port, ICE
	 * credentials and the DTLS association of the member at position 0. */
	char bundle[PR_KS_NAME_MAX]; /* group id ("": not bundled) */
	uint16_t bundle_pos;	     /* 0: the group's first (its handshake, RTCP fallback) */
	char bundle_pt[256];	     /* its RTP payload types, "111 9 0" */
	char bundle_ssrc[128];	     /* its a=ssrc ids (decimal), "1001 1002"; may be "" */
	char mid[32];		     /* its a=mid (RFC 8843: the MID header extension's value) */
	uint16_t bundle_mid_ext;     /* the a=extmap id of that extension, 0: none */
};
extern const struct pr_ks_desc pr_ks_leg_desc;

struct pr_ks_session {
	char id[PR_KS_NAME_MAX];
	char call_id[PR_KS_TEXT_MAX];
	char cdr_id[PR_KS_NAME_MAX]; /* CDR this stream will be reported in */
	char media[8];		     /* "audio", "video" */
	uint16_t mline;		     /* m= line index */
	uint32_t idle_timeout_s;
	int64_t created;
	int64_t updated;
	struct pr_ks_leg leg[2]; /* encoded with prefixes "a_" and "b_" */
};
extern const struct pr_ks_desc pr_ks_session_desc;

enum pr_ks_session_op { PR_KS_OP_INSTALL = 1, PR_KS_OP_UPDATE, PR_KS_OP_END };
struct pr_ks_session_cmd {
	char stream_id[32]; /* Redis entry id ("ms-seq"); filled when read */
	enum pr_ks_session_op op;
	char id[PR_KS_NAME_MAX];
	int64_t ts;
};
const char *pr_ks_session_op_name(enum pr_ks_session_op op);

int pr_ks_session_load(struct pr_redis *r, const char *id, struct pr_ks_session *s);
/* Hash + pr:sessions + XADD op (install or update), atomically. */
int pr_ks_session_store(struct pr_redis *r, const struct pr_ks_session *s,
			enum pr_ks_session_op op);
/* XADD op=end, then deletes the hash and the set member, atomically. */
int pr_ks_session_end(struct pr_redis *r, const char *id);
int pr_ks_session_list(struct pr_redis *r, struct pr_ks_names *ids);
/* One stream entry (the [id, [field, value...]] array) -> cmd. On -EINVAL for bad fields,
 * cmd->stream_id is still filled when the entry id was readable (so it can be acked). */
int pr_ks_session_cmd_parse(const redisReply *entry, struct pr_ks_session_cmd *cmd);

/* Consumer side (dataplane control lcore). Each appliance reads the whole stream with a
 * consumer group of its own ([media] group, PR_KS_SESSIONS_GROUP by default) and keeps the
 * sessions its addresses relay: consumers of one group would share the entries out. Creates
 * group at the stream's end ("$", MKSTREAM) unless it exists: a fresh dataplane rebuilds
 * from the pr:sessions hashes, then follows only what comes after. */
int pr_ks_session_group_init(struct pr_redis *r, const char *group);
/* XREADGROUP for consumer of group: new entries (pending = false) or, after a restart, this
 * consumer's delivered-but-unacknowledged ones (pending = true). block_ms < 0: do not
 * block (the control lcore's way); else wait up to block_ms (keep it under the connection
 * timeout). Malformed entries are acknowledged, skipped and counted in *nbad (may be
 * NULL). Returns the number of commands in cmds, or a negative errno. */
int pr_ks_session_cmd_read(struct pr_redis *r, const char *group, const char *consumer,
			   bool pending, int block_ms, struct pr_ks_session_cmd *cmds, size_t max,
			   unsigned *nbad);
/* XACK in group once a command has been applied. */
int pr_ks_session_cmd_ack(struct pr_redis *r, const char *group, const char *stream_id);

/* ---------------------------------------------------------------------------------------
 * Media port pool: set pr:ports:free of even RTP ports (RTCP = port + 1), string
 * pr:ports:range "lo-hi". Writer/user: slowpath (SPOP to allocate, SADD to release).
 */
/* Fills the pool when pr:ports:range differs from lo-hi or is absent (Lua, atomic). */
int pr_ks_ports_init(struct pr_redis *r, uint16_t lo, uint16_t hi);
/* -ENOSPC when the pool is empty. */
int pr_ks_port_alloc(struct pr_redis *r, uint16_t *port);
/* n ports in one SPOP (all or none: -ENOSPC puts back what came). */
int pr_ks_port_alloc_n(struct pr_redis *r, unsigned n, uint16_t *ports);
/* The reply to "SPOP pr:ports:free n" sent elsewhere: 0 with ports[0..n), -ENOSPC when
 * fewer came (the caller puts back what did), -EINVAL on a malformed one. */
int pr_ks_ports_from_reply(const redisReply *rep, unsigned n, uint16_t *ports);
/* Returns the port to the pool (only an even port inside the range). */
int pr_ks_port_release(struct pr_redis *r, uint16_t port);

/* ---------------------------------------------------------------------------------------
 * CDRs: hash pr:cdr:<id> (EXPIRE 90 days), zset pr:cdrs (member id, score start),
 * trimmed of members older than 90 days by every writer and lister. Writer: slowpath.
 * Reader: poprelayctl (each read leaves an audit entry).
 */
struct pr_ks_cdr_leg {
	char user[PR_KS_NAME_MAX]; /* on-net user, empty for off-net */
	char uri[PR_KS_URI_MAX];
	char user_agent[PR_KS_TEXT_MAX];   /* device type and software */
	char inside_addr[PR_KS_ADDR_MAX];  /* address the device believes it has (Contact/SDP) */
	char outside_addr[PR_KS_ADDR_MAX]; /* address its packets came from */
	char sig_transport[8];		   /* "tls", "tcp", "udp" */
	char media_path[16];		   /* "relay", "turn" */
	bool encrypted;
	char suite[32];
	char keying[8];	     /* "sdes", "dtls", "" in clear (issue 19) */
	uint64_t rx_packets; /* relay received from this leg's device */
	uint64_t rx_bytes;
	uint64_t tx_packets; /* relay sent to this leg's device */
	uint64_t tx_bytes;
	uint64_t lost;	    /* packets lost on the way in (RTP sequence gaps) */
	uint32_t jitter_us; /* interarrival jitter, RFC 3550, microseconds */
	uint32_t avg_kbps;
	uint64_t auth_fail; /* SRTP packets dropped for failed authentication */
};
extern const struct pr_ks_desc pr_ks_cdr_leg_desc;

struct pr_ks_cdr {
	char id[PR_KS_NAME_MAX];
	char call_id[PR_KS_TEXT_MAX];
	char direction[16];	      /* "onnet", "offnet-in", "offnet-out" */
	char pop[PR_KS_NAME_MAX];     /* PoP that wrote the record */
	char sig_path[PR_KS_URI_MAX]; /* e.g. "tls:pop1 -> tls:pop2" */
	int64_t start;		      /* INVITE received */
	int64_t answer;		      /* 0 when never answered */
	int64_t end;
	uint32_t duration_s;	     /* end - answer, 0 if unanswered */
	uint16_t sip_status;	     /* final response code */
	char end_reason[32];	     /* "bye-caller", "bye-callee", "cancel", "error", ... */
	struct pr_ks_cdr_leg caller; /* prefix "caller_" */
	struct pr_ks_cdr_leg callee; /* prefix "callee_" */
};
extern const struct pr_ks_desc pr_ks_cdr_desc;

/* HSET + EXPIRE PR_KS_CDR_TTL_S (from now) + ZADD pr:cdrs + trim, atomically. */
int pr_ks_cdr_store(struct pr_redis *r, const struct pr_ks_cdr *c);
int pr_ks_cdr_load(struct pr_redis *r, const char *id, struct pr_ks_cdr *c);
/* Ids with from <= start <= to, oldest first, at most limit (0 = no limit). */
int pr_ks_cdr_list(struct pr_redis *r, int64_t from, int64_t to, size_t limit,
		   struct pr_ks_names *ids);

/* The same commands added to a caller's MULTI/EXEC (one round trip for a whole change:
 * sessions, dialog, CDR together). 0, or a negative errno with nothing useful added. */
int pr_ks_session_store_tx(struct pr_redis_tx *tx, const struct pr_ks_session *s,
			   enum pr_ks_session_op op);
int pr_ks_session_end_tx(struct pr_redis_tx *tx, const char *id);
int pr_ks_cdr_store_tx(struct pr_redis_tx *tx, const struct pr_ks_cdr *c);

/* ---------------------------------------------------------------------------------------
 * Dialogs: what a restarted slowpath needs to end an established call correctly (both
 * legs' SIP dialogs, the devices they belong to, the call's CDR fields). Hash
 * pr:dialog:<id> (id = the call's CDR id), zset pr:dialogs (member id, score start).
 * Writer and reader: the slowpath (written when the call is answered and on each mid-call
 * change, deleted when it ends, read at start). No secrets: the SDES keys stay in the
 * session records.
 */
struct pr_ks_dialog_leg {
	char call_id[PR_KS_TEXT_MAX];
	char local_tag[PR_KS_NAME_MAX];	     /* ours */
	char remote_tag[PR_KS_TEXT_MAX];     /* the party's */
	char local_uri[PR_KS_URI_MAX + 64];  /* From of our requests (name-addr) */
	char remote_uri[PR_KS_URI_MAX + 64]; /* To of our requests */
	char remote_target[PR_KS_URI_MAX];   /* Request-URI of our requests (its Contact) */
	char routes[PR_KS_VALUE_MAX];	     /* route set: "Route: ...\r\n" lines */
	uint32_t local_cseq;		     /* last CSeq we sent */
	uint32_t remote_cseq;		     /* last CSeq the party sent */
	char transport[8];		     /* "tls", "tcp", "udp" */
	char addr[PR_KS_ADDR_MAX];	     /* where its requests went (UDP: sent to) */
	uint16_t port;
	uint64_t conn_id; /* the flow it was on (gone after a restart) */
	bool onnet;
	bool want_srtp;
	uint32_t max_kbps;
	char pop[PR_KS_NAME_MAX];      /* PoP of the device's connection, "offnet" for gateways */
	char user[PR_KS_NAME_MAX];     /* AoR's user (on-net): its current binding is the route */
	char instance[PR_KS_TEXT_MAX]; /* +sip.instance of its binding (RFC 5626), if any */
	uint32_t reg_id;
	char party[PR_KS_URI_MAX];
	char user_agent[PR_KS_TEXT_MAX];
	char inside_addr[PR_KS_ADDR_MAX];
	char outside_addr[PR_KS_ADDR_MAX];
	char relay_ports[64]; /* our relay port per m= line, space-separated (0: unused) */
};
extern const struct pr_ks_desc pr_ks_dialog_leg_desc;

struct pr_ks_dialog {
	char id[PR_KS_NAME_MAX]; /* the call's id: its CDR id, sessions <id>-<m line> */
	char pop[PR_KS_NAME_MAX];
	char direction[16];
	int64_t start; /* INVITE received */
	int64_t answer;
	int64_t updated;
	uint16_t status;	   /* final response code */
	uint16_t n_media;	   /* m= lines */
	uint32_t media_used;	   /* bit i: m= line i is anchored (session <id>-<i>) */
	struct pr_ks_dialog_leg a; /* prefix "a_": the caller's dialog */
	struct pr_ks_dialog_leg b; /* prefix "b_": the callee's */
};
extern const struct pr_ks_desc pr_ks_dialog_desc;

int pr_ks_dialog_load(struct pr_redis *r, const char *id, struct pr_ks_dialog *d);
/* DEL + HSET + ZADD pr:dialogs, atomically (the _tx form adds them to tx). */
int pr_ks_dialog_store(struct pr_redis *r, const struct pr_ks_dialog *d);
int pr_ks_dialog_store_tx(struct pr_redis_tx *tx, const struct pr_ks_dialog *d);
/* DEL + ZREM; the plain form returns -ENOENT when there was none. */
int pr_ks_dialog_delete(struct pr_redis *r, const char *id);
int pr_ks_dialog_delete_tx(struct pr_redis_tx *tx, const char *id);
/* Every id in pr:dialogs, oldest first. */
int pr_ks_dialog_list(struct pr_redis *r, struct pr_ks_names *ids);

/* ---------------------------------------------------------------------------------------
 * Runtime tunables: hash pr:tunables, name -> decimal integer. Writer: poprelayctl
 * (validated against pr_ks_tunables[], then PUBLISH pr:events "tunables"). Readers: the
 * owner process named in the table, at start and on the event. Each tunable overrides one
 * key of its owner's configuration file (cfg, "section.key"), whose range and default it
 * shares: the value in force is the stored one, else the configuration's. After each
 * change the owner reports the values in force in hash pr:tunables:in_force:<owner>
 * (name -> value, and _applied_ms: UNIX ms), which poprelayctl shows.
 */
struct pr_ks_tunable_def {
	const char *name;
	const char *owner; /* "dataplane", "slowpath" */
	const char *cfg;   /* the owner's configuration key: "section.key" */
	int64_t min, max, def;
	const char *help;
};
extern const struct pr_ks_tunable_def pr_ks_tunables[];
extern const size_t pr_ks_tunables_n;

const struct pr_ks_tunable_def *pr_ks_tunable_def(const char *name);
/* The stored value, or the default when unset. -ENOENT for an unknown name, -EINVAL for a
 * stored value that is not an integer within range. */
int pr_ks_tunable_get(struct pr_redis *r, const char *name, int64_t *value);
/* -EINVAL (with the allowed range in pr_ks_errmsg()) when out of range. */
int pr_ks_tunable_set(struct pr_redis *r, const char *name, int64_t value);
/* Back to the default (HDEL + PUBLISH). -ENOENT for an unknown name. */
int pr_ks_tunable_reset(struct pr_redis *r, const char *name);
/* Every stored tunable in one read: for pr_ks_tunables[i], set[i] and vals[i] when the hash
 * holds a valid value; a value that is not an integer within range leaves set[i] false and
 * its name in bad (comma-separated, truncated to badlen). 0 or -EIO. */
int pr_ks_tunables_stored(struct pr_redis *r, int64_t *vals, bool *set, char *bad, size_t badlen);
/* The owner process reports its values in force (vals indexed like pr_ks_tunables[]; only
 * its own are written, and not those that are INT64_MIN: not in force, such as a feature
 * that is off) in pr:tunables:in_force:<owner>, with _applied_ms. */
int pr_ks_tunables_report(struct pr_redis *r, const char *owner, const int64_t *vals);
/* A connection of its own that follows pr:events: SUBSCRIBE (0 or -EIO). Then, without ever
 * waiting, pr_ks_events_poll() takes everything that has arrived on it and sets in *mask the
 * bit of each known event seen (PR_KS_EV_*; other messages are ignored); it returns how many
 * messages it took, or -EIO when the connection is gone. A process that follows several
 * events reads them with one call: a read consumes the messages of every event.
 * pr_ks_events_read() is the same for one event: the count of messages equal to event. */
enum {
	PR_KS_EV_TUNABLES = 1u << 0,   /* "tunables": pr:tunables changed */
	PR_KS_EV_DRAIN = 1u << 1,      /* "drain": pr:drain set or cleared */
	PR_KS_EV_TLS_RELOAD = 1u << 2, /* "tls-reload": poprelayctl tls reload (the slowpath) */
};
int pr_ks_events_subscribe(struct pr_redis *sub);
int pr_ks_events_poll(struct pr_redis *sub, unsigned *mask);
int pr_ks_events_read(struct pr_redis *sub, const char *event);
/* What owner reported: set[i], vals[i] for its tunables; *applied_ms (0: never). 0, -EIO. */
int pr_ks_tunables_in_force(struct pr_redis *r, const char *owner, int64_t *vals, bool *set,
			    int64_t *applied_ms);

/* ---------------------------------------------------------------------------------------
 * Maintenance drain: hash pr:drain {since_ms, deadline_ms, actor} (common/keyspace_drain.c).
 * Writer: poprelayctl (drain, undrain), each change with PUBLISH pr:events "drain" in the
 * same MULTI. Readers: the slowpath and the dataplane, at start, after every reconnect of
 * their subscriber, on the event and every few seconds as a safety net. Present = draining.
 */
struct pr_ks_drain {
	bool on;		    /* the hash exists */
	int64_t since_ms;	    /* UNIX ms the drain began */
	int64_t deadline_ms;	    /* UNIX ms after which what remains is ended; 0: none */
	char actor[PR_KS_NAME_MAX]; /* who drained ("ctl:<unix user>") */
};
/* What a drain waits for, as Redis holds it (-1: not counted, the set is too big). */
struct pr_ks_drain_left {
	int64_t calls;	     /* distinct Call-IDs of the media sessions */
	int64_t sessions;    /* pr:sessions */
	int64_t regs;	     /* live registrations (of pop when given, else of every PoP) */
	int64_t turn_allocs; /* pr:turn:allocs */
};
/* d->on false (and the rest 0) when not draining. 0, -EIO, or -EINVAL (a malformed hash:
 * the message names the field; readers treat it as draining without a deadline). */
int pr_ks_drain_get(struct pr_redis *r, struct pr_ks_drain *d);
/* Writes d (since_ms, deadline_ms >= 0, actor) and publishes "drain". 0 or a negative errno. */
int pr_ks_drain_set(struct pr_redis *r, const struct pr_ks_drain *d);
/* Deletes pr:drain and publishes "drain". 0, or -ENOENT when it was not draining. */
int pr_ks_drain_clear(struct pr_redis *r);
/* Counts what remains; pop NULL or "": registrations of every PoP. 0 or -EIO. */
int pr_ks_drain_left(struct pr_redis *r, const char *pop, struct pr_ks_drain_left *left);

/* ---------------------------------------------------------------------------------------
 * Audit trail: stream pr:audit (XADD MAXLEN ~ PR_KS_AUDIT_MAXLEN). Writers: everyone that
 * changes a user/subscription or reads records. Reader: poprelayctl. Never a secret.
 */
struct pr_ks_audit {
	char stream_id[32]; /* filled when read */
	int64_t ts;
	char actor[PR_KS_NAME_MAX]; /* "ctl:<unix user>", "slowpath", ... */
	char action[32];	    /* "user.add", "user.del", "user.passwd", "user.set",
				     * "user.show", "user.list", "cdr.read", ... */
	char object[PR_KS_URI_MAX]; /* "user:alice", "cdr:<id>" */
	char detail[PR_KS_URI_MAX]; /* e.g. changed field names, never values of secrets */
	char result[16];	    /* "ok" or an error name */
};
extern const struct pr_ks_desc pr_ks_audit_desc;

int pr_ks_audit_add(struct pr_redis *r, const char *actor, const char *action, const char *object,
		    const char *detail, const char *result);
/* Newest first, at most max; returns the count or a negative errno. */
int pr_ks_audit_list(struct pr_redis *r, struct pr_ks_audit *out, size_t max);

#endif
