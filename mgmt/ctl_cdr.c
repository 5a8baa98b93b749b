/* SPDX-License-Identifier: BSD-3-Clause */
/* poprelayctl cdr list [--since T] [--until T] [--limit N]
 * poprelayctl cdr export --since T [--until T] [--format csv|json]
 *
 * Call detail records written by the slowpath (pr:cdr:<id>, kept 90 days by Redis expiry,
 * indexed by start time in pr:cdrs). T is unix seconds, an ISO time "2026-11-26T23:00:00Z",
 * or an age "90m" / "12h" / "7d" before now. Every read leaves an audit entry.
 * Exit: 0 ok, 1 failure, 2 usage, 3 Redis down. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/keyspace.h"
#include "common/redis.h"
#include "mgmt/ctl.h"

static int usage(const struct ctl_ctx *ctx)
{
	ctl_err(ctx, "usage: cdr list [--since T] [--until T] [--limit N] | "
		     "cdr export --since T [--until T] [--format csv|json]  "
		     "(T: unix seconds, 2026-11-26T23:00:00Z, or an age like 90m, 12h, 7d)");
	return CTL_EXIT_USAGE;
}

/* T -> unix seconds. */
static int parse_time(const char *s, int64_t now, int64_t *out)
{
	char *end;
	if (!s || !*s)
		return -EINVAL;
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (p && (*p == '\0' || !strcmp(p, "Z"))) {
		*out = (int64_t)timegm(&tm);
		return 0;
	}
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || v < 0)
		return -EINVAL;
	if (*end == '\0') {
		*out = v;
		return 0;
	}
	if (end[1] != '\0')
		return -EINVAL;
	long long mult = *end == 's'   ? 1
			 : *end == 'm' ? 60
			 : *end == 'h' ? 3600
			 : *end == 'd' ? 86400
				       : 0;
	if (!mult || v > 3650LL * 86400 / mult)
		return -EINVAL;
	*out = now - v * mult;
	return 0;
}

static void csv_field(FILE *f, const char *v)
{
	if (!strpbrk(v, ",\"\r\n")) {
		fputs(v, f);
		return;
	}
	fputc('"', f);
	for (; *v; v++) {
		if (*v == '"')
			fputc('"', f);
		fputc(*v, f);
	}
	fputc('"', f);
}

int ctl_cdr_main(struct ctl_ctx *ctx, int argc, char **argv)
{
	if (argc < 2)
		return usage(ctx);
	const char *cmd = argv[1];
	bool export = !strcmp(cmd, "export");
	if (!export && strcmp(cmd, "list"))
		return usage(ctx);
	int64_t now = (int64_t)time(NULL), since = -1, until = INT64_MAX;
	uint32_t limit = 0;
	const char *format = "csv";
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--since") && v) {
			if (parse_time(v, now, &since) < 0) {
				ctl_err(ctx, "--since: not a time: %s", v);
				return CTL_EXIT_USAGE;
			}
			i++;
		} else if (!strcmp(a, "--until") && v) {
			if (parse_time(v, now, &until) < 0) {
				ctl_err(ctx, "--until: not a time: %s", v);
				return CTL_EXIT_USAGE;
			}
			i++;
		} else if (!strcmp(a, "--limit") && v && !export) {
			if (ctl_parse_u32(v, 1000000, &limit) < 0) {
				ctl_err(ctx, "--limit: not a count: %s", v);
				return CTL_EXIT_USAGE;
			}
			i++;
		} else if (!strcmp(a, "--format") && v && export) {
			if (strcmp(v, "csv") && strcmp(v, "json")) {
				ctl_err(ctx, "--format: csv or json, not %s", v);
				return CTL_EXIT_USAGE;
			}
			format = v;
			i++;
		} else {
			return usage(ctx);
		}
	}
	if (export && since < 0) {
		ctl_err(ctx, "cdr export needs --since");
		return CTL_EXIT_USAGE;
	}
	if (since < 0)
		since = now - 86400;
	if (ctx->json && export)
		format = "json";
	int ec;
	struct pr_redis *r = ctl_redis(ctx, &ec);
	if (!r)
		return ec;
	struct pr_ks_names ids;
	int rc = pr_ks_cdr_list(r, since, until, limit, &ids);
	char detail[128];
	snprintf(detail, sizeof(detail), "%s since=%" PRId64 " count=%zu", cmd, since,
		 rc < 0 ? (size_t)0 : ids.n);
	ctl_audit(ctx, "cdr.read", "cdrs", detail, rc);
	if (rc < 0) {
		ctl_err(ctx, "cannot list CDRs: %s", pr_ks_errmsg());
		return ctl_exit_for(rc);
	}
	static const char *const hdr[] = {"id",		"start",  "direction", "caller",   "callee",
					  "duration_s", "status", "end",       "encrypted"};
	bool json = ctx->json || (export && !strcmp(format, "json"));
	struct ctl_table *t = !json && !export ? ctl_table_new(9, hdr) : NULL;
	json_t *arr = json ? json_array() : NULL;
	bool header_done = false;
	int ret = CTL_EXIT_OK;
	for (size_t i = 0; i < ids.n; i++) {
		struct pr_ks_cdr c;
		rc = pr_ks_cdr_load(r, ids.v[i], &c);
		if (rc == -ENOENT)
			continue; /* expired between the index read and now */
		if (rc < 0) {
			ctl_err(ctx, "CDR %s: %s", ids.v[i], pr_ks_errmsg());
			ret = CTL_EXIT_ERR;
			continue;
		}
		if (json) {
			json_array_append_new(arr, ctl_record_json(&pr_ks_cdr_desc, &c));
		} else if (export) {
			struct pr_ks_hash *h = malloc(sizeof(*h));
			if (!h || pr_ks_encode(&pr_ks_cdr_desc, &c, h) < 0) {
				free(h);
				ret = CTL_EXIT_ERR;
				continue;
			}
			if (!header_done) {
				for (size_t k = 0; k < h->n; k++) {
					if (k)
						fputc(',', stdout);
					csv_field(stdout, h->kv[k].name);
				}
				fputc('\n', stdout);
				header_done = true;
			}
			for (size_t k = 0; k < h->n; k++) {
				if (k)
					fputc(',', stdout);
				csv_field(stdout, h->kv[k].value);
			}
			fputc('\n', stdout);
			free(h);
		} else {
			char start[32], dur[16], st[8], enc[16];
			ctl_format_time(c.start, start, sizeof(start));
			snprintf(dur, sizeof(dur), "%u", c.duration_s);
			snprintf(st, sizeof(st), "%u", c.sip_status);
			snprintf(enc, sizeof(enc), "%s/%s", c.caller.encrypted ? "srtp" : "rtp",
				 c.callee.encrypted ? "srtp" : "rtp");
			const char *caller = c.caller.user[0] ? c.caller.user : c.caller.uri;
			const char *callee = c.callee.user[0] ? c.callee.user : c.callee.uri;
			const char *cells[] = {c.id, start, c.direction,  caller, callee,
					       dur,  st,    c.end_reason, enc};
			ctl_table_add(t, cells);
		}
	}
	if (export && !json && !header_done) {
		/* no record: still print the header so a consumer sees the columns */
		struct pr_ks_cdr empty;
		memset(&empty, 0, sizeof(empty));
		struct pr_ks_hash *h = malloc(sizeof(*h));
		if (h && pr_ks_encode(&pr_ks_cdr_desc, &empty, h) == 0) {
			for (size_t k = 0; k < h->n; k++) {
				if (k)
					fputc(',', stdout);
				csv_field(stdout, h->kv[k].name);
			}
			fputc('\n', stdout);
		}
		free(h);
	}
	pr_ks_names_free(&ids);
	if (json) {
		ctl_json_print(arr);
	} else if (t) {
		ctl_table_print(t, stdout);
		ctl_table_free(t);
	}
	return ret;
}
