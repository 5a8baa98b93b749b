/* SPDX-License-Identifier: BSD-3-Clause */
/* poprelayctl: global options, configuration, subcommand dispatch and the output helpers
 * every subcommand shares. */
#include "mgmt/ctl.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- messages ---- */
void ctl_err(const struct ctl_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", ctx && ctx->prog ? ctx->prog : "poprelayctl");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- configuration ---- */
static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

int ctl_conf_load(struct ctl_ctx *ctx, const char *path)
{
	char line[512], section[32] = "";
	unsigned lineno = 0;
	FILE *f = fopen(path, "re");
	int e;

	if (!f) {
		e = errno;
		return -e;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s = trim(line), *eq, *k, *v;
		struct ctl_conf_kv *kv;

		lineno++;
		if (!*s || *s == ';' || *s == '#')
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');
			if (!end) {
				ctl_err(ctx, "%s:%u: section header without ']' (ignored)", path,
					lineno);
				continue;
			}
			*end = 0;
			snprintf(section, sizeof(section), "%s", trim(s + 1));
			continue;
		}
		eq = strchr(s, '=');
		if (!eq)
			continue; /* not ours to judge: the dataplane validates the whole file */
		*eq = 0;
		k = trim(s);
		v = trim(eq + 1);
		/* a trailing "; comment" after a value */
		{
			char *c = strchr(v, ';');
			if (c) {
				*c = 0;
				v = trim(v);
			}
		}
		kv = realloc(ctx->conf, (ctx->nconf + 1) * sizeof(*kv));
		if (!kv) {
			fclose(f);
			return -ENOMEM;
		}
		ctx->conf = kv;
		kv = &ctx->conf[ctx->nconf++];
		snprintf(kv->section, sizeof(kv->section), "%s", section);
		snprintf(kv->key, sizeof(kv->key), "%s", k);
		snprintf(kv->value, sizeof(kv->value), "%s", v);
	}
	fclose(f);
	return 0;
}

const char *ctl_conf_get(const struct ctl_ctx *ctx, const char *section, const char *key)
{
	size_t i;

	for (i = ctx->nconf; i-- > 0;) /* the last occurrence wins */
		if (strcmp(ctx->conf[i].section, section) == 0 &&
		    strcmp(ctx->conf[i].key, key) == 0)
			return ctx->conf[i].value;
	return NULL;
}

/* ---- Redis ---- */
int ctl_exit_for(int rc)
{
	if (rc == 0)
		return CTL_EXIT_OK;
	return rc == -EIO ? CTL_EXIT_DOWN : CTL_EXIT_ERR;
}

/* poprelayctl's own ACL user first ([ctl]), then the shared [redis] one, then the file
 * poprelay-setup-redis writes for the "ctl" user. */
void ctl_redis_creds(const struct ctl_ctx *ctx, const char **user, const char **pwfile)
{
	*user = ctl_conf_get(ctx, "ctl", "redis_user");
	*pwfile = ctl_conf_get(ctx, "ctl", "redis_password_file");
	if (!*pwfile || !**pwfile) {
		*user = ctl_conf_get(ctx, "redis", "user");
		*pwfile = ctl_conf_get(ctx, "redis", "password_file");
	}
	if ((!*pwfile || !**pwfile) && !ctx->conf_explicit && !ctx->socket_explicit &&
	    access(CTL_DEFAULT_PASSFILE, R_OK) == 0) {
		*user = "ctl";
		*pwfile = CTL_DEFAULT_PASSFILE;
	}
}

struct pr_redis *ctl_redis(struct ctl_ctx *ctx, int *exit_code)
{
	const char *user, *pwfile;
	int rc;

	*exit_code = CTL_EXIT_OK;
	if (ctx->redis)
		return ctx->redis;
	rc = pr_redis_connect(&ctx->redis, ctx->redis_socket, CTL_REDIS_TIMEOUT_MS);
	if (rc < 0) {
		if (rc == -ENOENT || rc == -ECONNREFUSED || rc == -ENOTSOCK || rc == -ETIMEDOUT) {
			ctl_err(ctx, "redis is not running (%s); is the poprelay service started?",
				pr_redis_errmsg(NULL));
			*exit_code = CTL_EXIT_DOWN;
		} else {
			ctl_err(ctx, "cannot connect to redis: %s", pr_redis_errmsg(NULL));
			*exit_code = CTL_EXIT_ERR;
		}
		return NULL;
	}
	ctl_redis_creds(ctx, &user, &pwfile);
	if (pwfile && *pwfile) {
		rc = pr_redis_auth(ctx->redis, user, pwfile);
		if (rc < 0) {
			ctl_err(ctx, "%s", pr_redis_errmsg(ctx->redis));
			goto fail;
		}
	}
	rc = pr_ks_check_schema(ctx->redis);
	if (rc < 0) {
		ctl_err(ctx, "%s", pr_ks_errmsg());
		goto fail;
	}
	return ctx->redis;
fail:
	*exit_code = rc == -EIO ? CTL_EXIT_DOWN : CTL_EXIT_ERR;
	pr_redis_close(ctx->redis);
	ctx->redis = NULL;
	return NULL;
}

static const char *errname(int rc)
{
	switch (-rc) {
	case 0:
		return "ok";
	case ENOENT:
		return "ENOENT";
	case EEXIST:
		return "EEXIST";
	case EINVAL:
		return "EINVAL";
	case EPROTO:
		return "EPROTO";
	case EIO:
		return "EIO";
	case EACCES:
		return "EACCES";
	case EBADMSG:
		return "EBADMSG";
	case EPERM:
		return "EPERM";
	default:
		return "error";
	}
}

void ctl_audit(struct ctl_ctx *ctx, const char *action, const char *object, const char *detail,
	       int rc)
{
	if (!ctx->redis)
		return;
	if (pr_ks_audit_add(ctx->redis, ctx->actor, action, object, detail, errname(rc)) < 0)
		ctl_err(ctx, "warning: audit entry not written: %s", pr_ks_errmsg());
}

/* ---- tables ---- */
struct ctl_table {
	size_t ncols, nrows;
	char **cells; /* (nrows + 1) * ncols, row 0 = headers */
};

struct ctl_table *ctl_table_new(size_t ncols, const char *const *headers)
{
	struct ctl_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->ncols = ncols;
	if (ctl_table_add(t, headers) < 0) {
		free(t);
		return NULL;
	}
	return t;
}

int ctl_table_add(struct ctl_table *t, const char *const *cells)
{
	char **c = realloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(char *));
	size_t i;

	if (!c)
		return -ENOMEM;
	t->cells = c;
	for (i = 0; i < t->ncols; i++) {
		const char *s = cells[i] && cells[i][0] ? cells[i] : "-";
		c[t->nrows * t->ncols + i] = strdup(s);
		if (!c[t->nrows * t->ncols + i]) {
			while (i-- > 0)
				free(c[t->nrows * t->ncols + i]);
			return -ENOMEM;
		}
	}
	t->nrows++;
	return 0;
}

void ctl_table_print(const struct ctl_table *t, FILE *out)
{
	size_t r, c, *w = calloc(t->ncols, sizeof(size_t));

	if (!w)
		return;
	for (r = 0; r < t->nrows; r++)
		for (c = 0; c < t->ncols; c++) {
			size_t l = strlen(t->cells[r * t->ncols + c]);
			if (l > w[c])
				w[c] = l;
		}
	for (r = 0; r < t->nrows; r++) {
		for (c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			if (c + 1 == t->ncols)
				fprintf(out, "%s", s);
			else
				fprintf(out, "%-*s  ", (int)w[c], s);
		}
		fputc('\n', out);
	}
	free(w);
}

void ctl_table_free(struct ctl_table *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

/* ---- records ---- */
static void record_json(const struct pr_ks_desc *d, const char *base, const char *prefix, json_t *o)
{
	size_t i;

	for (i = 0; i < d->nfields; i++) {
		const struct pr_ks_field *f = &d->fields[i];
		const char *p = base + f->off;
		char name[PR_KS_FIELD_NAME_MAX];
		json_t *v = NULL;

		snprintf(name, sizeof(name), "%s%s", prefix, f->name);
		if (f->type == PR_KS_T_NEST) {
			record_json(f->sub, p, name, o);
			continue;
		}
		if (f->flags & PR_KS_F_SECRET) {
			v = (f->type == PR_KS_T_STR && !p[0]) ? json_null() : json_string("set");
		} else {
			switch (f->type) {
			case PR_KS_T_STR:
				v = json_string(p);
				if (!v) /* not UTF-8: keep the key, lose nothing secret */
					v = json_stringn_nocheck(p, strlen(p));
				break;
			case PR_KS_T_BOOL:
				v = json_boolean(*(const bool *)p);
				break;
			case PR_KS_T_U16:
				v = json_integer(*(const uint16_t *)p);
				break;
			case PR_KS_T_U32:
				v = json_integer(*(const uint32_t *)p);
				break;
			case PR_KS_T_U64:
				v = json_integer((json_int_t) * (const uint64_t *)p);
				break;
			case PR_KS_T_I64:
				v = json_integer(*(const int64_t *)p);
				break;
			case PR_KS_T_NEST:
				break;
			}
		}
		if (v)
			json_object_set_new(o, name, v);
	}
}

json_t *ctl_record_json(const struct pr_ks_desc *d, const void *rec)
{
	json_t *o = json_object();

	if (o)
		record_json(d, rec, "", o);
	return o;
}

static bool is_time_field(const char *name)
{
	static const char *const names[] = {"created", "updated", "expires", "refreshed",
					    "start",   "answer",  "end",     "ts"};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

void ctl_format_time(int64_t t, char *buf, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t == 0) {
		snprintf(buf, len, "-");
		return;
	}
	if (!gmtime_r(&tt, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%" PRId64, t);
}

static void record_print(const struct pr_ks_desc *d, const char *base, const char *prefix,
			 FILE *out)
{
	char val[PR_KS_VALUE_MAX];
	size_t i;

	for (i = 0; i < d->nfields; i++) {
		const struct pr_ks_field *f = &d->fields[i];
		char name[PR_KS_FIELD_NAME_MAX];

		snprintf(name, sizeof(name), "%s%s", prefix, f->name);
		if (f->type == PR_KS_T_NEST) {
			record_print(f->sub, base + f->off, name, out);
			continue;
		}
		if (pr_ks_field_format(f, base, val, sizeof(val)) < 0)
			snprintf(val, sizeof(val), "?");
		if (f->type == PR_KS_T_BOOL)
			snprintf(val, sizeof(val), "%s",
				 *(const bool *)(base + f->off) ? "yes" : "no");
		else if (f->type == PR_KS_T_I64 && is_time_field(f->name))
			ctl_format_time(*(const int64_t *)(base + f->off), val, sizeof(val));
		fprintf(out, "%-22s %s\n", name, val[0] ? val : "-");
	}
}

void ctl_record_print(const struct pr_ks_desc *d, const void *rec, FILE *out)
{
	record_print(d, rec, "", out);
}

int ctl_json_print(json_t *j)
{
	if (j) {
		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(j);
	}
	return CTL_EXIT_OK;
}

int ctl_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"yes", "1", "true", "on"}, *const no[] = {"no", "0",
										    "false", "off"};
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

int ctl_parse_u32(const char *s, unsigned long max, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* ---- main ---- */
#ifndef CTL_NO_MAIN /* the unit tests link the helpers above without main() */
typedef int (*ctl_main_fn)(struct ctl_ctx *, int, char **);

static int cmd_help(struct ctl_ctx *ctx, int argc, char **argv);

static const struct {
	const char *name;
	const char *help;
} commands[] = {
    {"status", "up/down of the dataplane, redis, slowpath and exporter; active alarms"},
    {"stats", "dataplane counters: traffic, drops by reason, per-lcore load"},
    {"user", "device accounts: add, del, passwd, list, show, set"},
    {"turn", "TURN: allocations list, show, delete; REST secrets add, list, del"},
    {"cdr", "call detail records"},
    {"session", "live media sessions: list, show"},
    {"tunable", "runtime tunables: list, get, set, reset"},
    {"audit", "the audit trail, newest first"},
    {"alarms", "active alarms and recent raises and clears"},
    {"drain", "maintenance drain: no new calls, registrations, TURN allocations; --status; "
	      "--handover: to the [ha] peer, no packet lost"},
    {"undrain", "end the maintenance drain (and take our addresses back from the [ha] peer)"},
    {"tls", "tls reload: the slowpath reads its certificate and key again"},
    {"ha", "address takeover of the [ha] peer: status, takeover, release, failback"},
    {"help", "this text"},
};

static ctl_main_fn lookup(const char *name)
{
	if (strcmp(name, "status") == 0)
		return ctl_status_main;
	if (strcmp(name, "stats") == 0)
		return ctl_stats_main;
	if (strcmp(name, "user") == 0)
		return ctl_user_main;
	if (strcmp(name, "turn") == 0)
		return ctl_turn_main;
	if (strcmp(name, "cdr") == 0)
		return ctl_cdr_main;
	if (strcmp(name, "session") == 0)
		return ctl_session_main;
	if (strcmp(name, "tunable") == 0)
		return ctl_tunable_main;
	if (strcmp(name, "audit") == 0)
		return ctl_audit_main;
	if (strcmp(name, "alarms") == 0)
		return ctl_alarms_main;
	if (strcmp(name, "drain") == 0)
		return ctl_drain_main;
	if (strcmp(name, "undrain") == 0)
		return ctl_undrain_main;
	if (strcmp(name, "tls") == 0)
		return ctl_tls_main;
	if (strcmp(name, "ha") == 0)
		return ctl_ha_main;
	if (strcmp(name, "help") == 0)
		return cmd_help;
	return NULL;
}

static void usage(FILE *out, const char *prog)
{
	size_t i;

	fprintf(
	    out,
	    "usage: %s [-c CONF] [-s REDIS_SOCKET] [--json] COMMAND [ARGS...]\n"
	    "\n"
	    "  -c CONF          configuration file (default %s)\n"
	    "  -s SOCKET        redis unix socket (default: [redis] socket from CONF, else %s)\n"
	    "  --json           machine-readable output\n"
	    "\ncommands:\n",
	    prog, CTL_DEFAULT_CONF, CTL_DEFAULT_REDIS_SOCKET);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const char *n = commands[i].name;
		bool have = lookup(n) != NULL;
		fprintf(out, "  %-8s %s%s\n", n, commands[i].help,
			have ? "" : " (not available in this build)");
	}
	fprintf(out,
		"\nexit status: 0 ok, 1 error, 2 usage, 3 service not running\n"
		"'%s COMMAND --help' describes a command.\n",
		prog);
}

static int cmd_help(struct ctl_ctx *ctx, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	usage(stdout, ctx->prog);
	return CTL_EXIT_OK;
}

static void set_actor(struct ctl_ctx *ctx)
{
	struct passwd *pw = getpwuid(getuid());
	const char *sudo = getenv("SUDO_USER");

	if (sudo && *sudo && getuid() == 0)
		snprintf(ctx->actor, sizeof(ctx->actor), "ctl:%.20s(sudo:%.20s)",
			 pw ? pw->pw_name : "root", sudo);
	else if (pw)
		snprintf(ctx->actor, sizeof(ctx->actor), "ctl:%.40s", pw->pw_name);
	else
		snprintf(ctx->actor, sizeof(ctx->actor), "ctl:uid%u", (unsigned)getuid());
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"socket", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct ctl_ctx ctx = {.prog = "poprelayctl", .conf_path = CTL_DEFAULT_CONF};
	const char *sock_opt = NULL, *v;
	ctl_main_fn fn;
	int c, rc;

	while ((c = getopt_long(argc, argv, "+c:s:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			ctx.conf_path = optarg;
			ctx.conf_explicit = true;
			break;
		case 's':
			sock_opt = optarg;
			ctx.socket_explicit = true;
			break;
		case 'j':
			ctx.json = true;
			break;
		case 'h':
			usage(stdout, ctx.prog);
			return CTL_EXIT_OK;
		default:
			usage(stderr, ctx.prog);
			return CTL_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr, ctx.prog);
		return CTL_EXIT_USAGE;
	}

	rc = ctl_conf_load(&ctx, ctx.conf_path);
	if (rc < 0 && (ctx.conf_explicit || rc != -ENOENT)) {
		ctl_err(&ctx, "cannot read configuration %s: %s", ctx.conf_path, strerror(-rc));
		return CTL_EXIT_ERR;
	}
	v = sock_opt ? sock_opt : ctl_conf_get(&ctx, "redis", "socket");
	if (!v || !*v)
		v = CTL_DEFAULT_REDIS_SOCKET;
	if (strlen(v) >= sizeof(ctx.redis_socket)) {
		ctl_err(&ctx, "redis socket path too long: %s", v);
		return CTL_EXIT_USAGE;
	}
	snprintf(ctx.redis_socket, sizeof(ctx.redis_socket), "%s", v);
	if (!sock_opt) {
		/* Redis under Sentinel: the primary they name, not the socket */
		const char *sn = ctl_conf_get(&ctx, "redis", "sentinels");
		const char *mn = ctl_conf_get(&ctx, "redis", "master_name");
		char why[256];
		if (((sn && *sn) || (mn && *mn)) &&
		    pr_redis_sentinel_target(ctx.redis_socket, sizeof(ctx.redis_socket), sn, mn,
					     why, sizeof(why)) < 0) {
			ctl_err(&ctx, "%s: %s", ctx.conf_path, why);
			return CTL_EXIT_USAGE;
		}
	}
	v = ctl_conf_get(&ctx, "global", "realm");
	if (v && strlen(v) >= sizeof(ctx.realm)) {
		ctl_err(&ctx, "%s: [global] realm longer than %zu characters", ctx.conf_path,
			sizeof(ctx.realm) - 1);
		return CTL_EXIT_ERR;
	}
	snprintf(ctx.realm, sizeof(ctx.realm), "%s", v && *v ? v : PR_KS_DEFAULT_REALM);
	set_actor(&ctx);

	fn = lookup(argv[optind]);
	if (!fn) {
		bool known = false;
		size_t i;
		for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			known |= strcmp(commands[i].name, argv[optind]) == 0;
		if (known) {
			ctl_err(&ctx, "'%s' is not available in this build", argv[optind]);
			rc = CTL_EXIT_ERR;
		} else {
			ctl_err(&ctx, "unknown command '%s' (try '%s help')", argv[optind],
				ctx.prog);
			rc = CTL_EXIT_USAGE;
		}
	} else {
		rc = fn(&ctx, argc - optind, argv + optind);
	}
	pr_redis_close(ctx.redis);
	free(ctx.conf);
	return rc;
}
#endif
