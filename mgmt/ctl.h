/* SPDX-License-Identifier: BSD-3-Clause */
/* poprelayctl: shared state and helpers of the subcommands (ctl_*.c).
 *
 * A subcommand is `int ctl_X_main(struct ctl_ctx *ctx, int argc, char **argv)`, where
 * argv[0] is the subcommand's name ("user", "turn", ...) and the rest its arguments. It
 * returns one of the CTL_EXIT_* codes, prints results on stdout (a human table, or JSON
 * with ctx->json) and errors on stderr through ctl_err(). It never prints a secret it was
 * given or read: passwords, HA1 digests, SDES keys and TURN secrets are shown as "set" (the
 * one it makes, `turn secret add --generate`, is printed once, for its user). */
#ifndef POPRELAY_MGMT_CTL_H
#define POPRELAY_MGMT_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "common/keyspace.h"

/* Exit codes of poprelayctl. */
enum {
	CTL_EXIT_OK = 0,
	CTL_EXIT_ERR = 1,   /* the operation failed (no such user, weak password, ...) */
	CTL_EXIT_USAGE = 2, /* bad command line */
	CTL_EXIT_DOWN = 3,  /* a service is not running (Redis, the dataplane) */
};

#define CTL_DEFAULT_CONF	 "/etc/poprelay/poprelay.conf"
#define CTL_DEFAULT_REDIS_SOCKET "/run/poprelay/redis.sock"
#define CTL_REDIS_TIMEOUT_MS	 3000
/* Password of the "ctl" ACL user, written by images/poprelay-setup-redis; used when the
 * config names no password file ([ctl] redis_password_file, else [redis] password_file)
 * and neither -c nor -s was given (the installed appliance, not a test instance). */
#define CTL_DEFAULT_PASSFILE "/etc/poprelay/redis-ctl.pass"

struct ctl_conf_kv {
	char section[32];
	char key[64];
	char value[256];
};

struct ctl_ctx {
	const char *prog;	     /* "poprelayctl" */
	const char *conf_path;	     /* -c; CTL_DEFAULT_CONF when not given */
	bool conf_explicit;	     /* -c was given: the file must exist */
	bool json;		     /* --json: machine output */
	char redis_socket[256];	     /* -s, else [redis] sentinels or socket, else default */
	char realm[PR_KS_REALM_MAX]; /* [global] realm, else PR_KS_DEFAULT_REALM */
	char actor[PR_KS_NAME_MAX];  /* "ctl:<unix user>" for the audit trail */
	struct ctl_conf_kv *conf;    /* every key of the config file (for other subcommands) */
	size_t nconf;
	struct pr_redis *redis; /* opened on demand by ctl_redis() */
	bool socket_explicit;	/* -s was given */
};

/* Subcommands. Weak: a build without the file prints "not available in this build". */
int ctl_user_main(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_status_main(struct ctl_ctx *ctx, int argc, char **argv) __attribute__((weak));
int ctl_stats_main(struct ctl_ctx *ctx, int argc, char **argv) __attribute__((weak));
int ctl_turn_main(struct ctl_ctx *ctx, int argc, char **argv) __attribute__((weak));
int ctl_cdr_main(struct ctl_ctx *ctx, int argc, char **argv) __attribute__((weak));
int ctl_session_main(struct ctl_ctx *ctx, int argc, char **argv) __attribute__((weak));
int ctl_tunable_main(struct ctl_ctx *ctx, int argc, char **argv) __attribute__((weak));
int ctl_audit_main(struct ctl_ctx *ctx, int argc, char **argv) __attribute__((weak));
int ctl_alarms_main(struct ctl_ctx *ctx, int argc, char **argv) __attribute__((weak));
int ctl_drain_main(struct ctl_ctx *ctx, int argc, char **argv) __attribute__((weak));
int ctl_undrain_main(struct ctl_ctx *ctx, int argc, char **argv) __attribute__((weak));
int ctl_tls_main(struct ctl_ctx *ctx, int argc, char **argv) __attribute__((weak));
int ctl_ha_main(struct ctl_ctx *ctx, int argc, char **argv) __attribute__((weak));
/* ctl_drain.c, for other views (status): into out, "draining" (bool) and, when draining,
 * since_ms, deadline_ms (0: none), actor, and what remains as Redis holds it: calls,
 * registrations (of [sip] pop when the config names one), turn_allocations, media_sessions
 * (integers, null when not counted). 0, or a negative errno (pr_ks_errmsg() says why). */
int ctl_drain_summary(struct ctl_ctx *ctx, json_t *out) __attribute__((weak));

/* Password policy (ctl_user.c): at least 10 characters and 40 bits of zxcvbn entropy.
 * dict: NULL-terminated words particular to the account (name, realm, ...). Returns 0, or
 * -EINVAL with why = estimated entropy/guesses and the weak patterns found, by position:
 * never the password or a part of it. */
int ctl_password_check(const char *pw, const char *const *dict, char *why, size_t len);
/* Hex HA1 = H(name:realm:password), alg "md5" or "sha256" (RFC 7616, RFC 8760). */
int ctl_ha1_hex(const char *alg, const char *name, const char *realm, const char *pw, char *out,
		size_t outlen);

/* "poprelayctl: <message>" on stderr. */
void ctl_err(const struct ctl_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Value of [section] key from the config file, or NULL. */
const char *ctl_conf_get(const struct ctl_ctx *ctx, const char *section, const char *key);
/* Parses an INI file (rte_cfgfile syntax: [section], key = value, ';' or '#' comments)
 * into ctx->conf. Unknown sections and keys are kept, not judged. Returns 0 or -errno. */
int ctl_conf_load(struct ctl_ctx *ctx, const char *path);

/* Opens Redis (once) and checks the schema. On failure prints a clear message and returns
 * NULL with *exit_code set: CTL_EXIT_DOWN when Redis is not running, else CTL_EXIT_ERR. */
struct pr_redis *ctl_redis(struct ctl_ctx *ctx, int *exit_code);
/* The Redis user and password file poprelayctl authenticates with (either may be NULL). */
void ctl_redis_creds(const struct ctl_ctx *ctx, const char **user, const char **pwfile);
/* Maps a negative errno from the library to an exit code (-EIO, -ECONNREFUSED,
 * -ENOENT on the socket... -> CTL_EXIT_DOWN is decided by ctl_redis; here -EIO is
 * CTL_EXIT_DOWN, anything else CTL_EXIT_ERR). */
int ctl_exit_for(int rc);

/* Appends an audit entry (actor = ctx->actor); failures are reported on stderr but do not
 * change the outcome of an operation that already happened. */
void ctl_audit(struct ctl_ctx *ctx, const char *action, const char *object, const char *detail,
	       int rc);

/* Human tables: columns aligned on the widest cell, header in capitals. */
struct ctl_table;
struct ctl_table *ctl_table_new(size_t ncols, const char *const *headers);
/* Adds a row of ncols cells (copied; NULL prints "-"). */
int ctl_table_add(struct ctl_table *t, const char *const *cells);
void ctl_table_print(const struct ctl_table *t, FILE *out);
void ctl_table_free(struct ctl_table *t);

/* A record as a JSON object (integers, booleans, strings; secrets as "set"/null). */
json_t *ctl_record_json(const struct pr_ks_desc *d, const void *rec);
/* A record as "field: value" lines (secrets as "set"). */
void ctl_record_print(const struct pr_ks_desc *d, const void *rec, FILE *out);
/* Unix seconds as "2026-11-26T23:50:00Z" ("-" for 0). */
void ctl_format_time(int64_t t, char *buf, size_t len);
/* Prints j (indented) followed by a newline and releases it. Returns CTL_EXIT_OK. */
int ctl_json_print(json_t *j);

/* Parses "yes"/"no" (also 1/0, true/false, on/off). Returns 0 or -EINVAL. */
int ctl_parse_bool(const char *s, bool *out);
/* Parses a decimal unsigned integer <= max. Returns 0 or -EINVAL. */
int ctl_parse_u32(const char *s, unsigned long max, uint32_t *out);

#endif
