/* SPDX-License-Identifier: BSD-3-Clause */
/* poprelayctl tunable (runtime tunables in pr:tunables, validated against pr_ks_tunables[])
 * and poprelayctl audit (the audit trail, newest first). */
#include "mgmt/ctl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static void tunable_usage(FILE *out)
{
	fprintf(out, "usage: poprelayctl tunable list [--json]\n"
		     "       poprelayctl tunable get NAME\n"
		     "       poprelayctl tunable set NAME VALUE\n"
		     "       poprelayctl tunable reset NAME   (back to the default)\n"
		     "Each tunable overrides a key of its owner's configuration file (the\n"
		     "default) and takes effect in the running owner within a second\n"
		     "(pr:events). get prints the value in force there, as the owner reported\n"
		     "it (pr:tunables:in_force:OWNER), or the stored value, with a warning,\n"
		     "when the owner has not reported one.\n");
}

static int parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

/* What the owners reported in force: vals/set indexed like pr_ks_tunables[]. */
static int in_force_all(struct ctl_ctx *ctx, int64_t *vals, bool *set, int64_t *dp_ms,
			int64_t *sp_ms)
{
	int64_t v2[64];
	bool s2[64];
	int rc;

	if (pr_ks_tunables_n > 64)
		return -E2BIG;
	if ((rc = pr_ks_tunables_in_force(ctx->redis, "dataplane", vals, set, dp_ms)) < 0 ||
	    (rc = pr_ks_tunables_in_force(ctx->redis, "slowpath", v2, s2, sp_ms)) < 0)
		return rc;
	for (size_t i = 0; i < pr_ks_tunables_n; i++)
		if (s2[i]) {
			vals[i] = v2[i];
			set[i] = true;
		}
	return 0;
}

static int tunable_list(struct ctl_ctx *ctx)
{
	static const char *const hdr[] = {"NAME",  "VALUE", "IN FORCE", "DEFAULT",
					  "RANGE", "OWNER", "MEANING"};
	int64_t inf[64], dp_ms, sp_ms;
	bool inf_set[64];
	struct ctl_table *t = NULL;
	json_t *arr = NULL;
	size_t i;
	int ec = CTL_EXIT_OK;

	if (in_force_all(ctx, inf, inf_set, &dp_ms, &sp_ms) < 0) {
		ctl_err(ctx, "%s", pr_ks_errmsg());
		return CTL_EXIT_DOWN;
	}
	if (ctx->json)
		arr = json_array();
	else
		t = ctl_table_new(7, hdr);
	for (i = 0; i < pr_ks_tunables_n; i++) {
		const struct pr_ks_tunable_def *d = &pr_ks_tunables[i];
		char val[24], def[24], range[48], force[24] = "-";
		int64_t v = 0;
		int rc = pr_ks_tunable_get(ctx->redis, d->name, &v);

		if (rc == -EIO) {
			ctl_err(ctx, "%s", pr_ks_errmsg());
			ctl_table_free(t);
			json_decref(arr);
			return CTL_EXIT_DOWN;
		}
		if (rc < 0) {
			ctl_err(ctx, "%s", pr_ks_errmsg());
			ec = CTL_EXIT_ERR;
			snprintf(val, sizeof(val), "invalid");
		} else {
			snprintf(val, sizeof(val), "%" PRId64, v);
		}
		if (inf_set[i])
			snprintf(force, sizeof(force), "%" PRId64, inf[i]);
		snprintf(def, sizeof(def), "%" PRId64, d->def);
		snprintf(range, sizeof(range), "%" PRId64 "..%" PRId64, d->min, d->max);
		if (arr) {
			json_t *o = json_object();
			json_object_set_new(o, "name", json_string(d->name));
			json_object_set_new(o, "value", rc < 0 ? json_null() : json_integer(v));
			json_object_set_new(o, "in_force",
					    inf_set[i] ? json_integer(inf[i]) : json_null());
			json_object_set_new(o, "config_key", json_string(d->cfg));
			json_object_set_new(o, "default", json_integer(d->def));
			json_object_set_new(o, "min", json_integer(d->min));
			json_object_set_new(o, "max", json_integer(d->max));
			json_object_set_new(o, "owner", json_string(d->owner));
			json_object_set_new(o, "meaning", json_string(d->help));
			json_array_append_new(arr, o);
		} else {
			const char *row[7] = {d->name, val, force, def, range, d->owner, d->help};
			ctl_table_add(t, row);
		}
	}
	if (arr)
		return ctl_json_print(arr) ? CTL_EXIT_ERR : ec;
	ctl_table_print(t, stdout);
	ctl_table_free(t);
	return ec;
}

int ctl_tunable_main(struct ctl_ctx *ctx, int argc, char **argv)
{
	const char *act = argc > 1 ? argv[1] : NULL;
	char object[96], detail[64];
	int64_t v;
	int rc, ec;

	if (act && (!strcmp(act, "--help") || !strcmp(act, "-h") || !strcmp(act, "help"))) {
		tunable_usage(stdout);
		return CTL_EXIT_OK;
	}
	if (argc > 2 && strcmp(argv[argc - 1], "--json") == 0) {
		ctx->json = true;
		argc--;
	}
	if (!act || !((!strcmp(act, "list") && argc == 2) || (!strcmp(act, "get") && argc == 3) ||
		      (!strcmp(act, "set") && argc == 4) || (!strcmp(act, "reset") && argc == 3))) {
		tunable_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if (strcmp(act, "list") && !pr_ks_tunable_def(argv[2])) {
		ctl_err(ctx, "unknown tunable '%s' (see 'poprelayctl tunable list')", argv[2]);
		return CTL_EXIT_USAGE;
	}
	if (!strcmp(act, "set")) {
		const struct pr_ks_tunable_def *d = pr_ks_tunable_def(argv[2]);
		if (parse_i64(argv[3], &v) < 0 || v < d->min || v > d->max) {
			ctl_err(ctx, "tunable %s: '%s' is not an integer in %" PRId64 "..%" PRId64,
				d->name, argv[3], d->min, d->max);
			return CTL_EXIT_USAGE;
		}
	}
	if (!ctl_redis(ctx, &ec))
		return ec;
	if (!strcmp(act, "list"))
		return tunable_list(ctx);
	if (!strcmp(act, "get")) {
		const struct pr_ks_tunable_def *d = pr_ks_tunable_def(argv[2]);
		int64_t inf[64], at_ms;
		bool inf_set[64];
		size_t ix = (size_t)(d - pr_ks_tunables);
		rc = pr_ks_tunable_get(ctx->redis, argv[2], &v);
		if (rc < 0) {
			ctl_err(ctx, "%s", pr_ks_errmsg());
			return ctl_exit_for(rc);
		}
		if (pr_ks_tunables_in_force(ctx->redis, d->owner, inf, inf_set, &at_ms) < 0) {
			ctl_err(ctx, "%s", pr_ks_errmsg());
			return CTL_EXIT_DOWN;
		}
		if (!inf_set[ix])
			ctl_err(ctx,
				"%s: the %s has not reported the value in force (not running?): "
				"showing the stored one",
				d->name, d->owner);
		if (ctx->json) {
			json_t *o = json_object();
			json_object_set_new(o, "name", json_string(argv[2]));
			json_object_set_new(o, "value", json_integer(inf_set[ix] ? inf[ix] : v));
			json_object_set_new(o, "stored", json_integer(v));
			json_object_set_new(o, "in_force",
					    inf_set[ix] ? json_integer(inf[ix]) : json_null());
			json_object_set_new(o, "applied_ms", json_integer(at_ms));
			json_object_set_new(o, "owner", json_string(d->owner));
			json_object_set_new(o, "config_key", json_string(d->cfg));
			return ctl_json_print(o);
		}
		printf("%" PRId64 "\n", inf_set[ix] ? inf[ix] : v);
		return CTL_EXIT_OK;
	}
	snprintf(object, sizeof(object), "tunable:%s", argv[2]);
	if (!strcmp(act, "set")) {
		rc = pr_ks_tunable_set(ctx->redis, argv[2], v);
		snprintf(detail, sizeof(detail), "value %" PRId64, v);
	} else {
		rc = pr_ks_tunable_reset(ctx->redis, argv[2]);
		snprintf(detail, sizeof(detail), "reset to default");
	}
	ctl_audit(ctx, !strcmp(act, "set") ? "tunable.set" : "tunable.reset", object, detail, rc);
	if (rc < 0) {
		ctl_err(ctx, "%s", pr_ks_errmsg());
		return ctl_exit_for(rc);
	}
	if (!ctx->json)
		printf("tunable %s: %s\n", argv[2], detail);
	return CTL_EXIT_OK;
}

/* ---- audit ---- */
static void audit_usage(FILE *out)
{
	fprintf(out, "usage: poprelayctl audit [--count N] [--json]\n"
		     "Shows the newest N (default 50) entries of the audit trail, newest first.\n");
}

int ctl_audit_main(struct ctl_ctx *ctx, int argc, char **argv)
{
	static const char *const hdr[] = {"TIME", "ACTOR", "ACTION", "OBJECT", "RESULT", "DETAIL"};
	struct pr_ks_audit *out;
	uint32_t count = 50;
	int i, n, ec;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			ctx->json = true;
		} else if (!strcmp(argv[i], "--count") && i + 1 < argc) {
			if (ctl_parse_u32(argv[++i], 100000, &count) < 0 || count == 0) {
				ctl_err(ctx, "--count: want 1..100000, got '%s'", argv[i]);
				return CTL_EXIT_USAGE;
			}
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			audit_usage(stdout);
			return CTL_EXIT_OK;
		} else {
			audit_usage(stderr);
			return CTL_EXIT_USAGE;
		}
	}
	if (!ctl_redis(ctx, &ec))
		return ec;
	out = calloc(count, sizeof(*out));
	if (!out)
		return CTL_EXIT_ERR;
	n = pr_ks_audit_list(ctx->redis, out, count);
	ctl_audit(ctx, "audit.read", "audit", "", n < 0 ? n : 0);
	if (n < 0) {
		ctl_err(ctx, "%s", pr_ks_errmsg());
		free(out);
		return ctl_exit_for(n);
	}
	if (ctx->json) {
		json_t *arr = json_array();
		for (i = 0; i < n; i++) {
			json_t *o = ctl_record_json(&pr_ks_audit_desc, &out[i]);
			json_object_set_new(o, "id", json_string(out[i].stream_id));
			json_array_append_new(arr, o);
		}
		free(out);
		return ctl_json_print(arr);
	}
	{
		struct ctl_table *t = ctl_table_new(6, hdr);
		for (i = 0; i < n; i++) {
			char ts[32];
			const char *row[6] = {
			    ts,		  out[i].actor, out[i].action, out[i].object, out[i].result,
			    out[i].detail};
			ctl_format_time(out[i].ts, ts, sizeof(ts));
			ctl_table_add(t, row);
		}
		ctl_table_print(t, stdout);
		ctl_table_free(t);
	}
	free(out);
	return CTL_EXIT_OK;
}
