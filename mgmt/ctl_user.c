/* SPDX-License-Identifier: BSD-3-Clause */
/* poprelayctl user: device accounts in pr:user:<name> (docs/redis-keyspace.md).
 * Stores HA1 digests only (MD5 and SHA-256 of name:realm:password, RFC 7616/8760), checks
 * new passwords with zxcvbn, never prints a secret, and audits every change and read. */
#include "mgmt/ctl.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <zxcvbn.h>

#define PW_MAX	     256
#define PW_MIN_CHARS 10
#define PW_MIN_BITS  40.0

static void user_usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: poprelayctl user add NAME [OPTIONS] [--password-file FILE]\n"
	    "       poprelayctl user set NAME OPTION...\n"
	    "       poprelayctl user passwd NAME [--password-file FILE]\n"
	    "       poprelayctl user del NAME\n"
	    "       poprelayctl user show NAME [--json]\n"
	    "       poprelayctl user list [--json]\n"
	    "options:\n"
	    "  --display-name TEXT           name shown to callees\n"
	    "  --uri SIP_URI                 the device's SIP URI (default sip:NAME@REALM)\n"
	    "  --encryption-required yes|no  refuse calls whose legs cannot all be SRTP\n"
	    "  --max-tx-kbps N, --max-rx-kbps N   bandwidth limits (0 = unlimited)\n"
	    "  --pop NAME                    home PoP\n"
	    "  --keepalive SECONDS           RFC 5626 keepalive interval (0 = default)\n"
	    "  --disabled yes|no             refuse registrations while set\n"
	    "The password is read from --password-file, else prompted for (no echo) on a\n"
	    "terminal, else read as one line from standard input. It must have at least %d\n"
	    "characters and an estimated entropy of %.0f bits (zxcvbn). Only its HA1 digests are\n"
	    "stored.\n",
	    PW_MIN_CHARS, PW_MIN_BITS);
}

/* ---- options ---- */
enum { OPT_JSON = 1000, OPT_PWFILE };

static const struct option user_opts[] = {
    {"display-name", required_argument, NULL, 'd'},
    {"uri", required_argument, NULL, 'u'},
    {"encryption-required", required_argument, NULL, 'e'},
    {"max-tx-kbps", required_argument, NULL, 't'},
    {"max-rx-kbps", required_argument, NULL, 'r'},
    {"pop", required_argument, NULL, 'p'},
    {"keepalive", required_argument, NULL, 'k'},
    {"disabled", required_argument, NULL, 'D'},
    {"password-file", required_argument, NULL, OPT_PWFILE},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Option letter -> record field. */
static const struct {
	int opt;
	const char *field;
	const char *flag;
} opt_fields[] = {
    {'d', "display_name", "--display-name"},
    {'u', "uri", "--uri"},
    {'e', "encryption_required", "--encryption-required"},
    {'t', "max_tx_kbps", "--max-tx-kbps"},
    {'r', "max_rx_kbps", "--max-rx-kbps"},
    {'p', "pop", "--pop"},
    {'k', "keepalive_s", "--keepalive"},
    {'D', "disabled", "--disabled"},
};

struct user_args {
	const char *action;
	const char *name;
	const char *pwfile;
	char changed[256]; /* "display_name,pop" */
	int nchanged;
};

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* Applies one field option to u; prints the reason and returns CTL_EXIT_USAGE when the
 * value is not acceptable. */
static int apply_opt(struct ctl_ctx *ctx, struct pr_ks_user *u, int opt, const char *val,
		     struct user_args *a)
{
	const struct pr_ks_field *f = NULL;
	const char *flag = NULL;
	size_t i;

	for (i = 0; i < sizeof(opt_fields) / sizeof(opt_fields[0]); i++)
		if (opt_fields[i].opt == opt) {
			f = pr_ks_field_find(&pr_ks_user_desc, opt_fields[i].field, NULL);
			flag = opt_fields[i].flag;
		}
	if (!f)
		return CTL_EXIT_USAGE;
	if (f->type == PR_KS_T_BOOL) {
		bool b;
		if (ctl_parse_bool(val, &b) < 0) {
			ctl_err(ctx, "%s: expected yes or no, got '%s'", flag, val);
			return CTL_EXIT_USAGE;
		}
		*(bool *)((char *)u + f->off) = b;
	} else {
		if (f->type == PR_KS_T_STR && !printable(val)) {
			ctl_err(ctx, "%s: control characters are not allowed", flag);
			return CTL_EXIT_USAGE;
		}
		if (opt == 'u' && val[0] && strncmp(val, "sip:", 4) != 0 &&
		    strncmp(val, "sips:", 5) != 0) {
			ctl_err(ctx, "--uri: '%s' is not a sip: or sips: URI", val);
			return CTL_EXIT_USAGE;
		}
		if (opt == 'p' && val[0] && !pr_ks_user_name_valid(val)) {
			ctl_err(ctx, "--pop: '%s' is not a valid PoP name (A-Z a-z 0-9 . _ -)",
				val);
			return CTL_EXIT_USAGE;
		}
		if (pr_ks_field_parse(f, u, val) < 0) {
			ctl_err(ctx, "%s: %s", flag, pr_ks_errmsg());
			return CTL_EXIT_USAGE;
		}
	}
	if (!strstr(a->changed, f->name)) {
		size_t l = strlen(a->changed);
		snprintf(a->changed + l, sizeof(a->changed) - l, "%s%s", l ? "," : "", f->name);
	}
	a->nchanged++;
	return CTL_EXIT_OK;
}

static const char *opt_flag(int opt)
{
	size_t i;

	for (i = 0; i < sizeof(opt_fields) / sizeof(opt_fields[0]); i++)
		if (opt_fields[i].opt == opt)
			return opt_fields[i].flag;
	return "option";
}

/* Parses argv ("add", NAME, options... in any order) into a and the field options into u.
 * Returns CTL_EXIT_OK, CTL_EXIT_USAGE, or -1 after printing --help. */
static int parse_args(struct ctl_ctx *ctx, int argc, char **argv, struct pr_ks_user *u,
		      struct user_args *a, bool fields_ok, bool pw_ok)
{
	int c, rc;

	a->action = argv[0];
	/* Long options must be spelled out: GNU getopt would take "--password=x" as an
	 * abbreviation of --password-file (and read, then name, a file called x). */
	for (c = 1; c < argc && strcmp(argv[c], "--"); c++) {
		const struct option *o;
		size_t l;

		if (strncmp(argv[c], "--", 2) != 0)
			continue;
		l = strcspn(argv[c] + 2, "=");
		for (o = user_opts; o->name; o++)
			if (strlen(o->name) == l && strncmp(o->name, argv[c] + 2, l) == 0)
				break;
		if (!o->name) {
			ctl_err(ctx, "user %s: unknown option '%.*s'", a->action, (int)l + 2,
				argv[c]);
			return CTL_EXIT_USAGE;
		}
		if (o->has_arg == required_argument && !strchr(argv[c], '='))
			c++; /* skip its value: it may look like an option */
	}
	optind = 0; /* GNU: reinitialise; argv[0] is the action */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", user_opts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON:
			ctx->json = true;
			break;
		case OPT_PWFILE:
			if (!pw_ok) {
				ctl_err(ctx, "user %s: --password-file does not apply", a->action);
				return CTL_EXIT_USAGE;
			}
			a->pwfile = optarg;
			break;
		case 'h':
			user_usage(stdout);
			return -1;
		case ':':
			ctl_err(ctx, "user %s: %s needs a value", a->action, argv[optind - 1]);
			return CTL_EXIT_USAGE;
		case '?': {
			/* never echo a value: it may be a password typed in the wrong place */
			const char *o = argv[optind - 1];
			ctl_err(ctx, "user %s: unknown option '%.*s'", a->action,
				(int)strcspn(o, "="), o);
			return CTL_EXIT_USAGE;
		}
		default:
			if (!fields_ok) {
				ctl_err(ctx, "user %s: %s does not apply", a->action, opt_flag(c));
				return CTL_EXIT_USAGE;
			}
			rc = apply_opt(ctx, u, c, optarg, a);
			if (rc)
				return rc;
		}
	}
	if (optind < argc)
		a->name = argv[optind++];
	if (optind < argc) {
		/* not echoed: an extra word is often a password given as an argument */
		ctl_err(ctx,
			"user %s: unexpected extra argument (argument %d); passwords are "
			"read from stdin, a terminal or --password-file",
			a->action, optind + 1);
		return CTL_EXIT_USAGE;
	}
	return CTL_EXIT_OK;
}

static int need_name(struct ctl_ctx *ctx, const struct user_args *a)
{
	if (!a->name) {
		ctl_err(ctx, "user %s: missing user name", a->action);
		user_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if (!pr_ks_user_name_valid(a->name)) {
		ctl_err(ctx,
			"invalid user name '%s': 1-63 of A-Z a-z 0-9 . _ -, not starting "
			"with . or -",
			a->name);
		return CTL_EXIT_USAGE;
	}
	return CTL_EXIT_OK;
}

/* ---- passwords ---- */
static int read_line(FILE *f, char *buf, size_t len)
{
	size_t n;

	if (!fgets(buf, (int)len, f))
		return -EIO;
	n = strcspn(buf, "\r\n");
	if (buf[n] == 0 && n == len - 1 && !feof(f))
		return -E2BIG; /* no end of line within the limit */
	buf[n] = 0;
	return 0;
}

static int prompt_tty(const char *prompt, char *buf, size_t len)
{
	struct termios old, quiet;
	FILE *tty = fopen("/dev/tty", "r+e");
	int rc;

	if (!tty)
		return -errno;
	if (tcgetattr(fileno(tty), &old) < 0) {
		fclose(tty);
		return -ENOTTY;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
	fputs(prompt, tty);
	fflush(tty);
	rc = read_line(tty, buf, len);
	tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fclose(tty);
	return rc;
}

static int read_password(struct ctl_ctx *ctx, const char *pwfile, const char *name, char *pw,
			 size_t len)
{
	char again[PW_MAX + 2], prompt[128];
	int rc;

	if (pwfile) {
		FILE *f = strcmp(pwfile, "-") == 0 ? stdin : fopen(pwfile, "re");
		if (!f) {
			ctl_err(ctx, "cannot read password file %s: %s", pwfile, strerror(errno));
			return CTL_EXIT_ERR;
		}
		rc = read_line(f, pw, len);
		if (f != stdin)
			fclose(f);
	} else if (isatty(STDIN_FILENO)) {
		snprintf(prompt, sizeof(prompt), "New password for %s: ", name);
		rc = prompt_tty(prompt, pw, len);
		if (rc == 0) {
			rc = prompt_tty("Repeat it: ", again, sizeof(again));
			if (rc == 0 && strcmp(pw, again) != 0) {
				OPENSSL_cleanse(again, sizeof(again));
				ctl_err(ctx, "the two passwords differ");
				return CTL_EXIT_ERR;
			}
			OPENSSL_cleanse(again, sizeof(again));
		}
	} else {
		rc = read_line(stdin, pw, len);
	}
	if (rc == -E2BIG) {
		ctl_err(ctx, "password longer than %zu characters", len - 2);
		return CTL_EXIT_ERR;
	}
	if (rc < 0 || !pw[0]) {
		ctl_err(ctx, "no password given (stdin, a terminal, or --password-file)");
		return CTL_EXIT_ERR;
	}
	return CTL_EXIT_OK;
}

static const char *match_name(ZxcTypeMatch_t t)
{
	switch ((int)t & ~MULTIPLE_MATCH) {
	case DICTIONARY_MATCH:
		return "a dictionary word";
	case DICT_LEET_MATCH:
		return "a dictionary word with l33t substitutions";
	case USER_MATCH:
		return "the account's own name or details";
	case USER_LEET_MATCH:
		return "the account's own name or details with l33t substitutions";
	case REPEATS_MATCH:
		return "repeated characters";
	case SEQUENCE_MATCH:
		return "a sequence (abc, 123)";
	case SPATIAL_MATCH:
		return "a keyboard pattern";
	case DATE_MATCH:
		return "a date";
	case YEAR_MATCH:
		return "a year";
	default:
		return NULL;
	}
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

int ctl_password_check(const char *pw, const char *const *dict, char *why, size_t len)
{
	ZxcMatch_t *info = NULL, *m;
	size_t chars = utf8_chars(pw), off;
	double bits = ZxcvbnMatch(pw, (const char **)dict, &info);
	int weak = chars < PW_MIN_CHARS || bits < PW_MIN_BITS, parts = 0;

	if (weak) {
		off = (size_t)snprintf(why, len,
				       "password too weak: %zu characters, estimated entropy %.1f "
				       "bits (about 10^%.1f guesses); at least %d characters and "
				       "%.0f bits are required",
				       chars, bits, bits * log10(2.0), PW_MIN_CHARS, PW_MIN_BITS);
		for (m = info; m && off < len; m = m->Next) {
			const char *what = match_name(m->Type);
			if (!what)
				continue;
			off += (size_t)snprintf(
			    why + off, len - off, "%s characters %d-%d are %s%s",
			    parts ? ";" : "; weak parts:", m->Begin + 1, m->Begin + m->Length, what,
			    (m->Type & MULTIPLE_MATCH) ? " (repeated)" : "");
			parts++;
		}
	}
	ZxcvbnFreeInfo(info);
	return weak ? -EINVAL : 0;
}

static int digest_hex(const EVP_MD *md, const char *name, const char *realm, const char *pw,
		      char *out, size_t outlen)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok;

	if (!c)
		return -ENOMEM;
	ok = EVP_DigestInit_ex(c, md, NULL) && EVP_DigestUpdate(c, name, strlen(name)) &&
	     EVP_DigestUpdate(c, ":", 1) && EVP_DigestUpdate(c, realm, strlen(realm)) &&
	     EVP_DigestUpdate(c, ":", 1) && EVP_DigestUpdate(c, pw, strlen(pw)) &&
	     EVP_DigestFinal_ex(c, d, &n);
	EVP_MD_CTX_free(c);
	if (!ok || 2 * n + 1 > outlen)
		return -EIO;
	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
	OPENSSL_cleanse(d, sizeof(d));
	return 0;
}

int ctl_ha1_hex(const char *alg, const char *name, const char *realm, const char *pw, char *out,
		size_t outlen)
{
	if (strcmp(alg, "md5") == 0)
		return digest_hex(EVP_md5(), name, realm, pw, out, outlen);
	if (strcmp(alg, "sha256") == 0)
		return digest_hex(EVP_sha256(), name, realm, pw, out, outlen);
	return -EINVAL;
}

/* Reads, checks and hashes a new password into u (realm = ctx->realm). */
static int new_password(struct ctl_ctx *ctx, const struct user_args *a, struct pr_ks_user *u)
{
	char pw[PW_MAX + 2], why[1024];
	const char *dict[6];
	int rc, n = 0;

	rc = read_password(ctx, a->pwfile, u->name, pw, sizeof(pw));
	if (rc)
		return rc;
	dict[n++] = u->name;
	dict[n++] = ctx->realm;
	if (u->display_name[0])
		dict[n++] = u->display_name;
	if (u->uri[0])
		dict[n++] = u->uri;
	dict[n++] = "poprelay";
	dict[n] = NULL;
	if (ctl_password_check(pw, dict, why, sizeof(why)) < 0) {
		OPENSSL_cleanse(pw, sizeof(pw));
		ctl_err(ctx, "%s", why);
		return -EINVAL;
	}
	snprintf(u->realm, sizeof(u->realm), "%s", ctx->realm);
	rc = ctl_ha1_hex("md5", u->name, u->realm, pw, u->ha1_md5, sizeof(u->ha1_md5));
	if (rc == 0)
		rc = ctl_ha1_hex("sha256", u->name, u->realm, pw, u->ha1_sha256,
				 sizeof(u->ha1_sha256));
	OPENSSL_cleanse(pw, sizeof(pw));
	if (rc < 0) {
		ctl_err(ctx, "cannot compute the password digests");
		return CTL_EXIT_ERR;
	}
	return CTL_EXIT_OK;
}

static void wipe_user(struct pr_ks_user *u)
{
	OPENSSL_cleanse(u->ha1_md5, sizeof(u->ha1_md5));
	OPENSSL_cleanse(u->ha1_sha256, sizeof(u->ha1_sha256));
}

/* ---- actions ---- */
static int load_user(struct ctl_ctx *ctx, const char *name, struct pr_ks_user *u)
{
	int rc = pr_ks_user_load(ctx->redis, name, u);

	if (rc == -ENOENT)
		ctl_err(ctx, "no such user '%s'", name);
	else if (rc < 0)
		ctl_err(ctx, "%s", pr_ks_errmsg());
	return rc;
}

static void say(struct ctl_ctx *ctx, const char *name, const char *what)
{
	if (ctx->json) {
		json_t *o = json_object();
		json_object_set_new(o, "user", json_string(name));
		json_object_set_new(o, "result", json_string(what));
		ctl_json_print(o);
	} else {
		printf("user %s %s\n", name, what);
	}
}

static int user_add(struct ctl_ctx *ctx, struct user_args *a, struct pr_ks_user *u)
{
	struct pr_ks_user old;
	char object[PR_KS_NAME_MAX + 8], detail[300];
	int rc, ec;

	snprintf(object, sizeof(object), "user:%s", a->name);
	rc = pr_ks_user_load(ctx->redis, a->name, &old);
	wipe_user(&old);
	if (rc != -ENOENT) {
		if (rc == 0 || rc == -EINVAL || rc == -EPROTO) {
			ctl_err(ctx, "user '%s' already exists", a->name);
			rc = -EEXIST;
			ctl_audit(ctx, "user.add", object, "already exists", rc);
			return CTL_EXIT_ERR;
		}
		ctl_err(ctx, "%s", pr_ks_errmsg());
		return ctl_exit_for(rc);
	}
	snprintf(u->name, sizeof(u->name), "%s", a->name);
	if (!u->uri[0])
		snprintf(u->uri, sizeof(u->uri), "sip:%s@%s", a->name, ctx->realm);
	if (!u->pop[0] && ctl_conf_get(ctx, "global", "pop") &&
	    pr_ks_user_name_valid(ctl_conf_get(ctx, "global", "pop")))
		snprintf(u->pop, sizeof(u->pop), "%s", ctl_conf_get(ctx, "global", "pop"));
	ec = new_password(ctx, a, u);
	if (ec) {
		ctl_audit(ctx, "user.add", object,
			  ec == -EINVAL ? "weak password refused" : "no password", -EINVAL);
		return CTL_EXIT_ERR;
	}
	u->created = u->updated = time(NULL);
	rc = pr_ks_user_create(ctx->redis, u); /* atomic: another admin may have raced us */
	wipe_user(u);
	if (rc == -EEXIST) {
		ctl_err(ctx, "user '%s' already exists", a->name);
		ctl_audit(ctx, "user.add", object, "already exists", rc);
		return CTL_EXIT_ERR;
	}
	snprintf(detail, sizeof(detail), "fields: %s", a->changed[0] ? a->changed : "-");
	ctl_audit(ctx, "user.add", object, detail, rc);
	if (rc < 0) {
		ctl_err(ctx, "%s", pr_ks_errmsg());
		return ctl_exit_for(rc);
	}
	say(ctx, a->name, "added");
	return CTL_EXIT_OK;
}

static int user_set(struct ctl_ctx *ctx, struct user_args *a, int argc, char **argv)
{
	struct pr_ks_user u;
	struct user_args again = {0};
	char object[PR_KS_NAME_MAX + 8], detail[300];
	int rc;

	if (a->nchanged == 0) {
		ctl_err(ctx, "user set: nothing to change (see 'poprelayctl user --help')");
		return CTL_EXIT_USAGE;
	}
	snprintf(object, sizeof(object), "user:%s", a->name);
	rc = load_user(ctx, a->name, &u);
	if (rc < 0) {
		ctl_audit(ctx, "user.set", object, "", rc);
		return ctl_exit_for(rc);
	}
	/* apply the options onto the stored record (already validated once) */
	rc = parse_args(ctx, argc, argv, &u, &again, true, false);
	if (rc) {
		wipe_user(&u);
		return rc;
	}
	u.updated = time(NULL);
	rc = pr_ks_user_store(ctx->redis, &u);
	wipe_user(&u);
	snprintf(detail, sizeof(detail), "fields: %s", a->changed);
	ctl_audit(ctx, "user.set", object, detail, rc);
	if (rc < 0) {
		ctl_err(ctx, "%s", pr_ks_errmsg());
		return ctl_exit_for(rc);
	}
	if (ctx->json) {
		json_t *o = json_object();
		json_object_set_new(o, "user", json_string(a->name));
		json_object_set_new(o, "result", json_string("updated"));
		json_object_set_new(o, "fields", json_string(a->changed));
		return ctl_json_print(o);
	}
	printf("user %s updated: %s\n", a->name, a->changed);
	return CTL_EXIT_OK;
}

static int user_passwd(struct ctl_ctx *ctx, struct user_args *a)
{
	struct pr_ks_user u;
	char object[PR_KS_NAME_MAX + 8];
	int rc, ec;

	snprintf(object, sizeof(object), "user:%s", a->name);
	rc = load_user(ctx, a->name, &u);
	if (rc < 0) {
		ctl_audit(ctx, "user.passwd", object, "", rc);
		return ctl_exit_for(rc);
	}
	wipe_user(&u);
	ec = new_password(ctx, a, &u);
	if (ec) {
		ctl_audit(ctx, "user.passwd", object,
			  ec == -EINVAL ? "weak password refused" : "no password", -EINVAL);
		return CTL_EXIT_ERR;
	}
	u.updated = time(NULL);
	rc = pr_ks_user_store(ctx->redis, &u);
	wipe_user(&u);
	ctl_audit(ctx, "user.passwd", object, "password changed", rc);
	if (rc < 0) {
		ctl_err(ctx, "%s", pr_ks_errmsg());
		return ctl_exit_for(rc);
	}
	say(ctx, a->name, "password changed");
	return CTL_EXIT_OK;
}

static int user_del(struct ctl_ctx *ctx, struct user_args *a)
{
	char object[PR_KS_NAME_MAX + 8];
	int rc = pr_ks_user_delete(ctx->redis, a->name);

	snprintf(object, sizeof(object), "user:%s", a->name);
	ctl_audit(ctx, "user.del", object, "", rc);
	if (rc == -ENOENT) {
		ctl_err(ctx, "no such user '%s'", a->name);
		return CTL_EXIT_ERR;
	}
	if (rc < 0) {
		ctl_err(ctx, "%s", pr_ks_errmsg());
		return ctl_exit_for(rc);
	}
	say(ctx, a->name, "deleted");
	return CTL_EXIT_OK;
}

static json_t *reg_json(const struct pr_ks_reg *g)
{
	json_t *o = json_object();

	json_object_set_new(o, "contact", json_string(g->contact));
	json_object_set_new(o, "pop", json_string(g->pop));
	json_object_set_new(o, "transport", json_string(g->transport));
	json_object_set_new(o, "src_addr", json_string(g->src_addr));
	json_object_set_new(o, "src_port", json_integer(g->src_port));
	json_object_set_new(o, "user_agent", json_string(g->user_agent));
	json_object_set_new(o, "expires", json_integer(g->expires));
	return o;
}

static int user_show(struct ctl_ctx *ctx, struct user_args *a)
{
	struct pr_ks_user u;
	struct pr_ks_reg g;
	char object[PR_KS_NAME_MAX + 8], t[32];
	int rc, regrc;

	snprintf(object, sizeof(object), "user:%s", a->name);
	rc = load_user(ctx, a->name, &u);
	ctl_audit(ctx, "user.show", object, "", rc);
	if (rc < 0)
		return ctl_exit_for(rc);
	regrc = pr_ks_reg_load(ctx->redis, a->name, &g);
	if (ctx->json) {
		json_t *o = ctl_record_json(&pr_ks_user_desc, &u);
		json_object_set_new(o, "registration", regrc == 0 ? reg_json(&g) : json_null());
		wipe_user(&u);
		return ctl_json_print(o);
	}
	ctl_record_print(&pr_ks_user_desc, &u, stdout);
	wipe_user(&u);
	if (regrc == 0) {
		ctl_format_time(g.expires, t, sizeof(t));
		printf("%-22s %s via %s from %s:%u at %s until %s (%s)\n", "registration",
		       g.contact, g.transport, g.src_addr, g.src_port, g.pop, t,
		       g.user_agent[0] ? g.user_agent : "unknown agent");
	} else {
		printf("%-22s %s\n", "registration", "none");
	}
	return CTL_EXIT_OK;
}

static int user_list(struct ctl_ctx *ctx)
{
	static const char *const hdr[] = {"NAME",    "DISPLAY NAME", "URI", "ENCRYPTION",
					  "TX KBPS", "RX KBPS",	     "POP", "KEEPALIVE",
					  "STATE",   "REGISTERED"};
	struct ctl_table *t = NULL;
	struct pr_ks_names names;
	json_t *arr = NULL;
	size_t i;
	int rc, ec = CTL_EXIT_OK;

	rc = pr_ks_user_list(ctx->redis, &names);
	ctl_audit(ctx, "user.list", "users", "", rc);
	if (rc < 0) {
		ctl_err(ctx, "%s", pr_ks_errmsg());
		return ctl_exit_for(rc);
	}
	if (ctx->json)
		arr = json_array();
	else
		t = ctl_table_new(10, hdr);
	for (i = 0; i < names.n; i++) {
		struct pr_ks_user u;
		struct pr_ks_reg g;
		bool reg;

		rc = pr_ks_user_load(ctx->redis, names.v[i], &u);
		if (rc == -ENOENT)
			continue; /* deleted meanwhile */
		if (rc < 0) {
			ctl_err(ctx, "%s", pr_ks_errmsg());
			ec = CTL_EXIT_ERR;
			continue;
		}
		reg = pr_ks_reg_load(ctx->redis, u.name, &g) == 0;
		if (arr) {
			json_t *o = ctl_record_json(&pr_ks_user_desc, &u);
			json_object_set_new(o, "registered", json_boolean(reg));
			json_array_append_new(arr, o);
		} else {
			char tx[16], rx[16], ka[16];
			const char *row[10];
			snprintf(tx, sizeof(tx), "%u", u.max_tx_kbps);
			snprintf(rx, sizeof(rx), "%u", u.max_rx_kbps);
			snprintf(ka, sizeof(ka), "%u", u.keepalive_s);
			row[0] = u.name;
			row[1] = u.display_name;
			row[2] = u.uri;
			row[3] = u.encryption_required ? "required" : "optional";
			row[4] = u.max_tx_kbps ? tx : "unlimited";
			row[5] = u.max_rx_kbps ? rx : "unlimited";
			row[6] = u.pop;
			row[7] = u.keepalive_s ? ka : "default";
			row[8] = u.disabled ? "disabled" : "enabled";
			row[9] = reg ? "yes" : "no";
			ctl_table_add(t, row);
		}
		wipe_user(&u);
	}
	pr_ks_names_free(&names);
	if (arr)
		ctl_json_print(arr);
	else {
		ctl_table_print(t, stdout);
		ctl_table_free(t);
	}
	return ec;
}

int ctl_user_main(struct ctl_ctx *ctx, int argc, char **argv)
{
	struct pr_ks_user u = {0};
	struct user_args a = {0};
	const char *act;
	bool fields, pw;
	int rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		user_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CTL_EXIT_USAGE : CTL_EXIT_OK;
	}
	act = argv[1];
	if (strcmp(act, "add") && strcmp(act, "set") && strcmp(act, "passwd") &&
	    strcmp(act, "del") && strcmp(act, "list") && strcmp(act, "show")) {
		ctl_err(ctx, "user: unknown action '%s'", act);
		user_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	fields = !strcmp(act, "add") || !strcmp(act, "set");
	pw = !strcmp(act, "add") || !strcmp(act, "passwd");
	rc = parse_args(ctx, argc - 1, argv + 1, &u, &a, fields, pw);
	if (rc)
		return rc < 0 ? CTL_EXIT_OK : rc;
	if (strcmp(act, "list") == 0) {
		if (a.name) {
			ctl_err(ctx, "user list: unexpected argument '%s'", a.name);
			return CTL_EXIT_USAGE;
		}
	} else {
		rc = need_name(ctx, &a);
		if (rc)
			return rc;
	}
	if (!ctl_redis(ctx, &rc))
		return rc;
	if (strcmp(act, "add") == 0)
		return user_add(ctx, &a, &u);
	if (strcmp(act, "set") == 0)
		return user_set(ctx, &a, argc - 1, argv + 1);
	if (strcmp(act, "passwd") == 0)
		return user_passwd(ctx, &a);
	if (strcmp(act, "del") == 0)
		return user_del(ctx, &a);
	if (strcmp(act, "show") == 0)
		return user_show(ctx, &a);
	return user_list(ctx);
}
