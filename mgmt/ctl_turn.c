/* SPDX-License-Identifier: BSD-3-Clause */
/* poprelayctl turn allocations [list] | show ID | delete ID
 *                 secret add ID (--from-file F | --stdin | --generate) [--replace]
 *                 secret list | secret del ID
 *
 * Allocations: list and show read Redis (the dataplane writes every allocation there, and its
 * counters every few seconds), so they work while the dataplane is down. delete asks the dataplane
 * over its telemetry socket (/poprelay/turn/delete): it is the only writer of TURN state and
 * drops the allocation from its tables and from Redis at once. When the dataplane is not
 * running, delete removes the record from Redis itself so a restart does not bring it back.
 *
 * Secrets: the TURN REST shared secrets (pr:turn:secrets), which the dataplane re-reads every
 * 2 s. A secret never comes from the command line (shell history, `ps`): a file or stdin,
 * or --generate, whose secret is printed once on stdout because the web service that mints
 * credentials needs it. list shows ids and when each was added, never a secret; the audit
 * trail names the id only.
 * Exit: 0 ok, 1 no such allocation or failure, 2 usage, 3 Redis down. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/keyspace.h"
#include "common/redis.h"
#include "mgmt/ctl.h"
#include "mgmt/telemetry_client.h"

static void turn_usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: poprelayctl turn allocations [list]\n"
	    "       poprelayctl turn allocations show ID\n"
	    "       poprelayctl turn allocations delete ID\n"
	    "       poprelayctl turn secret add ID (--from-file FILE | --stdin | --generate) "
	    "[--replace]\n"
	    "       poprelayctl turn secret list [--json]\n"
	    "       poprelayctl turn secret del ID\n"
	    "TURN REST shared secrets (time-limited credentials): ID is 1-63 of A-Z a-z 0-9 . _ "
	    "-,\n"
	    "not starting with . or -; the secret, %d to %d visible ASCII characters, is the "
	    "first\n"
	    "line of FILE or of stdin, never an argument. --generate draws 32 random bytes and\n"
	    "prints them once, in hex, on stdout. --replace overwrites an existing ID. At most %d\n"
	    "secrets; the dataplane picks up a change within 2 s. list never shows a secret.\n",
	    PR_KS_TURN_SECRET_MIN, PR_KS_TURN_SECRET_MAX - 1, PR_KS_TURN_SECRETS_MAX);
}

static int usage(const struct ctl_ctx *ctx)
{
	(void)ctx;
	turn_usage(stderr);
	return CTL_EXIT_USAGE;
}

static bool id_valid(const char *id)
{
	if (strlen(id) != 16)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

static uint64_t drops_total(const struct pr_ks_turn_alloc *a)
{
	return a->drop_no_permission + a->drop_no_channel + a->drop_bandwidth + a->drop_malformed;
}

static int do_list(struct ctl_ctx *ctx, struct pr_redis *r)
{
	struct pr_ks_names ids;
	int rc = pr_ks_turn_alloc_list(r, &ids);
	if (rc < 0) {
		ctl_err(ctx, "cannot list allocations: %s", pr_ks_errmsg());
		return ctl_exit_for(rc);
	}
	static const char *const hdr[] = {"id",	     "username", "transport", "client", "relay",
					  "expires", "pkts_c2p", "pkts_p2c",  "drops"};
	struct ctl_table *t = ctx->json ? NULL : ctl_table_new(9, hdr);
	json_t *arr = ctx->json ? json_array() : NULL;
	for (size_t i = 0; i < ids.n; i++) {
		struct pr_ks_turn_alloc a;
		if (pr_ks_turn_alloc_load(r, ids.v[i], &a) < 0)
			continue; /* expired between the list and the load */
		if (arr) {
			json_array_append_new(arr, ctl_record_json(&pr_ks_turn_alloc_desc, &a));
			continue;
		}
		char cli[80], rel[80], exp[32], c2p[24], p2c[24], drops[24];
		snprintf(cli, sizeof(cli), "%s:%u", a.client_addr, a.client_port);
		snprintf(rel, sizeof(rel), "%s:%u", a.relay_addr, a.relay_port);
		ctl_format_time(a.expires, exp, sizeof(exp));
		snprintf(c2p, sizeof(c2p), "%" PRIu64, a.pkts_c2p);
		snprintf(p2c, sizeof(p2c), "%" PRIu64, a.pkts_p2c);
		snprintf(drops, sizeof(drops), "%" PRIu64, drops_total(&a));
		const char *row[] = {a.id, a.username, a.transport, cli, rel, exp, c2p, p2c, drops};
		ctl_table_add(t, row);
	}
	pr_ks_names_free(&ids);
	if (arr)
		return ctl_json_print(arr);
	ctl_table_print(t, stdout);
	ctl_table_free(t);
	return CTL_EXIT_OK;
}

static int do_show(struct ctl_ctx *ctx, struct pr_redis *r, const char *id)
{
	struct pr_ks_turn_alloc a;
	int rc = pr_ks_turn_alloc_load(r, id, &a);
	if (rc < 0) {
		ctl_err(ctx, "allocation %s: %s", id,
			rc == -ENOENT ? "no such allocation" : pr_ks_errmsg());
		return rc == -ENOENT ? CTL_EXIT_ERR : ctl_exit_for(rc);
	}
	struct pr_ks_turn_perm perms[64];
	struct pr_ks_turn_chan chans[64];
	int np = pr_ks_turn_perm_list(r, id, perms, 64);
	int nc = pr_ks_turn_chan_list(r, id, chans, 64);
	if (ctx->json) {
		json_t *o = ctl_record_json(&pr_ks_turn_alloc_desc, &a);
		json_t *pa = json_array(), *ca = json_array();
		for (int i = 0; i < np; i++)
			json_array_append_new(pa,
					      json_pack("{s:s,s:I}", "peer", perms[i].peer_addr,
							"expires", (json_int_t)perms[i].expires));
		for (int i = 0; i < nc; i++)
			json_array_append_new(
			    ca, json_pack("{s:i,s:s,s:i,s:I}", "channel", chans[i].channel, "peer",
					  chans[i].peer_addr, "peer_port", chans[i].peer_port,
					  "expires", (json_int_t)chans[i].expires));
		json_object_set_new(o, "permissions", pa);
		json_object_set_new(o, "channels", ca);
		return ctl_json_print(o);
	}
	ctl_record_print(&pr_ks_turn_alloc_desc, &a, stdout);
	for (int i = 0; i < np; i++) {
		char t[32];
		ctl_format_time(perms[i].expires, t, sizeof(t));
		printf("permission: %s until %s\n", perms[i].peer_addr, t);
	}
	for (int i = 0; i < nc; i++) {
		char t[32];
		ctl_format_time(chans[i].expires, t, sizeof(t));
		printf("channel: 0x%04x -> %s port %u until %s\n", chans[i].channel,
		       chans[i].peer_addr, chans[i].peer_port, t);
	}
	return CTL_EXIT_OK;
}

static int do_delete(struct ctl_ctx *ctx, struct pr_redis *r, const char *id)
{
	struct pr_ks_turn_alloc a;
	int rc = pr_ks_turn_alloc_load(r, id, &a);
	if (rc < 0) {
		ctl_err(ctx, "allocation %s: %s", id,
			rc == -ENOENT ? "no such allocation" : pr_ks_errmsg());
		return rc == -ENOENT ? CTL_EXIT_ERR : ctl_exit_for(rc);
	}
	const char *prefix = ctl_conf_get(ctx, "eal", "file_prefix");
	struct ctl_tel t;
	rc = ctl_tel_open(&t, prefix ? prefix : "poprelay");
	if (rc < 0) {
		/* The dataplane is down: nobody else writes TURN state, remove the record. */
		rc = pr_ks_turn_alloc_delete(r, id);
		ctl_audit(ctx, "turn.delete", id, "dataplane not running: removed from redis", rc);
		if (rc < 0 && rc != -ENOENT) {
			ctl_err(ctx, "cannot delete %s: %s", id, pr_ks_errmsg());
			return ctl_exit_for(rc);
		}
		printf("deleted %s (dataplane not running: removed from redis)\n", id);
		return CTL_EXIT_OK;
	}
	char cmd[64];
	int err = 0;
	snprintf(cmd, sizeof(cmd), "/poprelay/turn/delete,%s", id);
	json_t *v = ctl_tel_query(&t, cmd, &err);
	ctl_tel_close(&t);
	if (!v) {
		ctl_err(ctx, "the dataplane refused to delete %s (%s)", id, strerror(-err));
		ctl_audit(ctx, "turn.delete", id, "refused by the dataplane", err);
		return CTL_EXIT_ERR;
	}
	json_decref(v);
	/* The control lcore deletes it within a loop iteration: wait for Redis to show it. */
	for (int i = 0; i < 50; i++) {
		redisReply *rep = pr_redis_cmd(r, "EXISTS %s%s", PR_KS_TURN_ALLOC_PREFIX, id);
		bool gone = rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 0;
		if (rep)
			freeReplyObject(rep);
		if (gone) {
			ctl_audit(ctx, "turn.delete", id, "deleted by the dataplane", 0);
			printf("deleted %s\n", id);
			return CTL_EXIT_OK;
		}
		usleep(100000);
	}
	ctl_err(ctx, "the dataplane accepted the deletion of %s but it is still in redis", id);
	ctl_audit(ctx, "turn.delete", id, "not confirmed", -ETIMEDOUT);
	return CTL_EXIT_ERR;
}

/* ---- REST secrets ---- */
#define SECRET_GEN_BYTES 32

static bool secret_id_ok(const struct ctl_ctx *ctx, const char *id)
{
	if (pr_ks_user_name_valid(id))
		return true;
	ctl_err(ctx,
		"invalid secret id '%.64s': 1-63 of A-Z a-z 0-9 . _ -, not starting with . or -",
		id);
	return false;
}

/* The secret from f: its first line, without the end of line. A terminal does not echo it.
 * Returns 0, or -1 after saying why. */
static int secret_read(const struct ctl_ctx *ctx, FILE *f, const char *what, char *buf, size_t len)
{
	struct termios old, quiet;
	bool tty = isatty(fileno(f)) && tcgetattr(fileno(f), &old) == 0;
	size_t n;

	setvbuf(f, NULL, _IONBF, 0); /* no copy of the secret left in a stdio buffer */
	if (tty) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		quiet.c_lflag |= ECHONL;
		tcsetattr(fileno(f), TCSAFLUSH, &quiet);
		fputs("TURN secret: ", stderr);
		fflush(stderr);
		n = fgets(buf, (int)len, f) ? strlen(buf) : 0;
		tcsetattr(fileno(f), TCSAFLUSH, &old);
	} else {
		/* The whole input (up to len - 1 bytes): a second line is refused, not dropped. */
		n = fread(buf, 1, len - 1, f);
		if (ferror(f)) {
			ctl_err(ctx, "cannot read %s: %s", what, strerror(errno));
			return -1;
		}
	}
	buf[n] = 0;
	if (n && buf[n - 1] == '\n')
		buf[--n] = 0;
	if (n && buf[n - 1] == '\r')
		buf[--n] = 0;
	if (!n) {
		ctl_err(ctx, "%s: no secret (empty)", what);
		return -1;
	}
	if (strchr(buf, '\n')) {
		ctl_err(ctx, "%s: more than one line (the secret is the whole first and only line)",
			what);
		return -1;
	}
	if (strlen(buf) != n) {
		ctl_err(ctx, "%s: contains a NUL byte", what);
		return -1;
	}
	return 0;
}

static int secret_generate(const struct ctl_ctx *ctx, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[SECRET_GEN_BYTES];

	if (len < 2 * sizeof(raw) + 1 || RAND_priv_bytes(raw, sizeof(raw)) != 1) {
		ctl_err(ctx, "cannot draw random bytes (OpenSSL RAND_priv_bytes)");
		return -1;
	}
	for (size_t i = 0; i < sizeof(raw); i++) {
		buf[2 * i] = hex[raw[i] >> 4];
		buf[2 * i + 1] = hex[raw[i] & 15];
	}
	buf[2 * sizeof(raw)] = 0;
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

struct secret_args {
	const char *id, *file;
	bool from_stdin, generate, replace;
};

static int secret_add(struct ctl_ctx *ctx, struct pr_redis *r, const struct secret_args *a)
{
	/* Room for a too long secret to be measured, not cut to a valid one. */
	char secret[PR_KS_TURN_SECRET_MAX + 64], object[PR_KS_NAME_MAX + 16];
	int64_t now = (int64_t)time(NULL);
	int rc = 0, ec = CTL_EXIT_ERR;

	snprintf(object, sizeof(object), "turn_secret:%s", a->id);
	if (a->generate) {
		rc = secret_generate(ctx, secret, sizeof(secret));
	} else if (a->from_stdin) {
		rc = secret_read(ctx, stdin, "stdin", secret, sizeof(secret));
	} else {
		FILE *f = fopen(a->file, "re");
		if (!f) {
			ctl_err(ctx, "cannot read %s: %s", a->file, strerror(errno));
			rc = -1;
		} else {
			rc = secret_read(ctx, f, a->file, secret, sizeof(secret));
			fclose(f);
		}
	}
	if (rc < 0) {
		ctl_audit(ctx, "turn.secret.add", object, "no secret read", -EINVAL);
		goto out;
	}
	if (pr_ks_turn_secret_check(secret) < 0) {
		ctl_err(ctx, "secret %s: %s", a->id, pr_ks_errmsg());
		ctl_audit(ctx, "turn.secret.add", object, "invalid secret refused", -EINVAL);
		goto out;
	}
	rc = pr_ks_turn_secret_add(r, a->id, secret, now, a->replace);
	{
		const char *detail = rc == -EEXIST   ? "already exists"
				     : rc == -ENOSPC ? "too many secrets"
				     : rc == 1	     ? "replaced"
				     : a->generate   ? "generated"
						     : "added";
		ctl_audit(ctx, "turn.secret.add", object, detail, rc < 0 ? rc : 0);
	}
	if (rc == -EEXIST) {
		ctl_err(ctx, "a TURN secret with id '%s' exists already (--replace overwrites it)",
			a->id);
		goto out;
	}
	if (rc < 0) {
		ctl_err(ctx, "cannot add TURN secret %s: %s", a->id, pr_ks_errmsg());
		ec = ctl_exit_for(rc);
		goto out;
	}
	ec = CTL_EXIT_OK;
	if (ctx->json) {
		json_t *o = json_pack("{s:s,s:I,s:b}", "id", a->id, "added", (json_int_t)now,
				      "replaced", rc == 1);
		if (a->generate)
			json_object_set_new(o, "secret", json_string(secret));
		ctl_json_print(o);
	} else if (a->generate) {
		/* The secret alone on stdout, so that `$(poprelayctl ...)` captures it. */
		printf("%s\n", secret);
		ctl_err(ctx,
			"TURN secret %s %s; the generated secret above is shown only this once: "
			"give it to the service that mints the credentials",
			a->id, rc == 1 ? "replaced" : "added");
	} else {
		printf("TURN secret %s %s\n", a->id, rc == 1 ? "replaced" : "added");
	}
	fflush(stdout);
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	return ec;
}

/* "45s", "12m", "5h07m", "3d04h". */
static void format_age(int64_t s, char *buf, size_t len)
{
	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(buf, len, "%" PRId64 "s", s);
	else if (s < 7200)
		snprintf(buf, len, "%" PRId64 "m", s / 60);
	else if (s < 2 * 86400)
		snprintf(buf, len, "%" PRId64 "h%02" PRId64 "m", s / 3600, s / 60 % 60);
	else
		snprintf(buf, len, "%" PRId64 "d%02" PRId64 "h", s / 86400, s / 3600 % 24);
}

static int secret_list(struct ctl_ctx *ctx, struct pr_redis *r)
{
	static const char *const hdr[] = {"ID", "ADDED", "AGE"};
	int64_t now = (int64_t)time(NULL);
	struct pr_ks_names ids;
	int rc = pr_ks_turn_secret_ids(r, &ids);

	ctl_audit(ctx, "turn.secret.list", "turn_secrets", "ids only", rc);
	if (rc < 0) {
		ctl_err(ctx, "cannot list TURN secrets: %s", pr_ks_errmsg());
		return ctl_exit_for(rc);
	}
	struct ctl_table *t = ctx->json ? NULL : ctl_table_new(3, hdr);
	json_t *arr = ctx->json ? json_array() : NULL;
	for (size_t i = 0; i < ids.n; i++) {
		int64_t added = 0;
		char when[32], age[32];
		/* A secret added before its time was recorded (or with a damaged one): "-". */
		if (pr_ks_turn_secret_added(r, ids.v[i], &added) < 0)
			added = 0;
		if (arr) {
			json_t *o = json_pack("{s:s}", "id", ids.v[i]);
			json_object_set_new(o, "added", added ? json_integer(added) : json_null());
			json_object_set_new(o, "age_s",
					    added ? json_integer(now - added) : json_null());
			json_array_append_new(arr, o);
			continue;
		}
		ctl_format_time(added, when, sizeof(when));
		if (added)
			format_age(now - added, age, sizeof(age));
		else
			snprintf(age, sizeof(age), "-");
		const char *row[] = {ids.v[i], when, age};
		ctl_table_add(t, row);
	}
	if (ids.n > PR_KS_TURN_SECRETS_MAX)
		ctl_err(ctx, "warning: %zu TURN secrets, but the dataplane tries only %d of them",
			ids.n, PR_KS_TURN_SECRETS_MAX);
	pr_ks_names_free(&ids);
	if (arr)
		return ctl_json_print(arr);
	ctl_table_print(t, stdout);
	ctl_table_free(t);
	return CTL_EXIT_OK;
}

static int secret_del(struct ctl_ctx *ctx, struct pr_redis *r, const char *id)
{
	char object[PR_KS_NAME_MAX + 16];
	int rc = pr_ks_turn_secret_del(r, id);

	snprintf(object, sizeof(object), "turn_secret:%s", id);
	ctl_audit(ctx, "turn.secret.del", object, "", rc);
	if (rc == -ENOENT) {
		ctl_err(ctx, "no TURN secret with id '%s'", id);
		return CTL_EXIT_ERR;
	}
	if (rc < 0) {
		ctl_err(ctx, "cannot delete TURN secret %s: %s", id, pr_ks_errmsg());
		return ctl_exit_for(rc);
	}
	if (ctx->json)
		return ctl_json_print(json_pack("{s:s,s:b}", "id", id, "deleted", 1));
	printf("TURN secret %s deleted\n", id);
	return CTL_EXIT_OK;
}

static int secret_main(struct ctl_ctx *ctx, int argc, char **argv)
{
	/* argv[0] = "secret", argv[1] = the verb */
	const char *verb = argc >= 2 ? argv[1] : NULL;
	struct secret_args a = {0};
	int nsrc, code;

	if (!verb || (strcmp(verb, "add") && strcmp(verb, "list") && strcmp(verb, "del")))
		return usage(ctx);
	for (int i = 2; i < argc; i++) {
		const char *o = argv[i];
		if (!strcmp(o, "--json")) {
			ctx->json = true;
		} else if (!strcmp(verb, "add") && !strcmp(o, "--from-file")) {
			if (i + 1 >= argc || a.file) {
				ctl_err(ctx, "--from-file needs one FILE");
				return usage(ctx);
			}
			a.file = argv[++i];
		} else if (!strcmp(verb, "add") && !strcmp(o, "--stdin")) {
			a.from_stdin = true;
		} else if (!strcmp(verb, "add") && !strcmp(o, "--generate")) {
			a.generate = true;
		} else if (!strcmp(verb, "add") && !strcmp(o, "--replace")) {
			a.replace = true;
		} else if (!a.id && strcmp(verb, "list") && o[0] != '-') {
			a.id = o;
		} else {
			/* Not quoted: a secret typed on the command line by mistake would land in
			 * the terminal's scrollback and in logs of wrapped scripts. */
			ctl_err(ctx,
				"turn secret %s: unexpected argument %d%s (not shown: it may be a "
				"secret, which is never an argument)",
				verb, i - 1, o[0] == '-' ? " (unknown option)" : "");
			return usage(ctx);
		}
	}
	if (strcmp(verb, "list")) {
		if (!a.id) {
			ctl_err(ctx, "turn secret %s: missing ID", verb);
			return usage(ctx);
		}
		if (!secret_id_ok(ctx, a.id))
			return CTL_EXIT_USAGE;
	}
	nsrc = (a.file != NULL) + a.from_stdin + a.generate;
	if (!strcmp(verb, "add") && nsrc != 1) {
		ctl_err(ctx, "turn secret add: give exactly one of --from-file FILE, --stdin, "
			     "--generate (never the secret itself)");
		return usage(ctx);
	}
	struct pr_redis *r = ctl_redis(ctx, &code);
	if (!r)
		return code;
	if (!strcmp(verb, "add"))
		return secret_add(ctx, r, &a);
	if (!strcmp(verb, "list"))
		return secret_list(ctx, r);
	return secret_del(ctx, r, a.id);
}

int ctl_turn_main(struct ctl_ctx *ctx, int argc, char **argv)
{
	if (argc >= 2 &&
	    (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))) {
		turn_usage(stdout);
		return CTL_EXIT_OK;
	}
	if (argc >= 2 && !strcmp(argv[1], "secret"))
		return secret_main(ctx, argc - 1, argv + 1);
	if (argc < 2 || strcmp(argv[1], "allocations"))
		return usage(ctx);
	const char *verb = argc >= 3 ? argv[2] : "list";
	bool need_id = !strcmp(verb, "show") || !strcmp(verb, "delete");
	if ((!need_id && strcmp(verb, "list")) || (need_id && argc != 4) || (!need_id && argc > 3))
		return usage(ctx);
	if (need_id && !id_valid(argv[3])) {
		ctl_err(ctx, "'%s' is not an allocation id (16 lowercase hex digits)", argv[3]);
		return CTL_EXIT_USAGE;
	}
	int code;
	struct pr_redis *r = ctl_redis(ctx, &code);
	if (!r)
		return code;
	if (!strcmp(verb, "list"))
		return do_list(ctx, r);
	if (!strcmp(verb, "show"))
		return do_show(ctx, r, argv[3]);
	return do_delete(ctx, r, argv[3]);
}
