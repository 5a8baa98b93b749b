/* SPDX-License-Identifier: BSD-3-Clause */
/* Internal helpers of the keyspace library (common/ only). */
#ifndef POPRELAY_COMMON_KEYSPACE_INT_H
#define POPRELAY_COMMON_KEYSPACE_INT_H

#include "common/keyspace.h"

#define KS_FIELD(st, fld, ty, fl)                                                                  \
	{                                                                                          \
		.name = #fld, .type = (ty), .flags = (fl), .off = offsetof(st, fld),               \
		.size = sizeof(((st *)0)->fld)                                                     \
	}
#define KS_NEST(st, fld, nm, desc)                                                                 \
	{                                                                                          \
		.name = (nm), .type = PR_KS_T_NEST, .off = offsetof(st, fld),                      \
		.size = sizeof(((st *)0)->fld), .sub = (desc)                                      \
	}
#define KS_ARRAY_N(a) (sizeof(a) / sizeof((a)[0]))

void ks_seterr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ks_err_prefix(const char *ctx);
int ks_redis_fail(struct pr_redis *r, const char *what);
int ks_reply_error(redisReply *rep, const char *what);
int ks_tx_hset(struct pr_redis_tx *tx, const char *key, const struct pr_ks_hash *h);
/* DEL key + HSET key <encoded rec>. */
int ks_tx_store(struct pr_redis_tx *tx, const struct pr_ks_desc *d, const char *key,
		const void *rec);
int ks_tx_exec(struct pr_redis *r, struct pr_redis_tx *tx, const char *what);
int ks_names_from_reply(const redisReply *rep, struct pr_ks_names *names, bool sort);
/* Consumes rep (may be NULL: I/O failure). */
int ks_reply_names(struct pr_redis *r, redisReply *rep, struct pr_ks_names *names, bool sort,
		   const char *what);

/* Keys: prefix + id, where an id follows pr_ks_user_name_valid(). */
#define KS_KEYLEN (PR_KS_NAME_MAX + 40)
int ks_make_key(char *key, size_t len, const char *prefix, const char *id, const char *what);
int64_t ks_now(void);
/* Consumes rep; its integer (if any) into *out (may be NULL). */
int ks_cmd_int(struct pr_redis *r, redisReply *rep, const char *what, long long *out);
/* Runs tx; the integer reply of its command idx into *out. */
int ks_tx_exec_int(struct pr_redis *r, struct pr_redis_tx *tx, const char *what, size_t idx,
		   long long *out);
/* Deleting a record: ks_tx_delete_begin() starts a transaction whose first command is
 * DEL key; the caller adds the index updates; ks_tx_delete() runs and frees it and returns
 * 0, or -ENOENT ("<key>: no such <what>") when the record was not there. */
struct pr_redis_tx *ks_tx_delete_begin(const char *key);
int ks_tx_delete(struct pr_redis *r, struct pr_redis_tx *tx, const char *key, const char *what);
/* Textual IPv4/IPv6 address characters only, non-empty, shorter than PR_KS_ADDR_MAX. */
int ks_addr_valid(const char *a);
int ks_parse_i64(const char *s, int64_t *out);

#endif
