/* SPDX-License-Identifier: BSD-3-Clause */
/* poprelayctl alarms: the alarms poprelay-exporter raised (docs/alarms.md).
 *
 *   poprelayctl [-c CONF] alarms [--all] [--json]
 *
 * The active ones (pr:alarms:active), then the raises and clears of pr:alarms:log, newest
 * first: the last 20, or every one the stream holds with --all. Exit: 0, 1 error, 2 usage,
 * 3 Redis not running. */
#include "mgmt/ctl_alarms.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/redis.h"

#define RECENT 20

struct pr_redis *ctl_alarms_redis(struct ctl_ctx *ctx, int timeout_ms, char *why, size_t len)
{
	struct pr_redis *r = NULL;
	const char *user, *pwfile;
	redisReply *rep;
	int rc;

	rc = pr_redis_connect(&r, ctx->redis_socket, timeout_ms);
	if (rc < 0) {
		snprintf(why, len, "%s", pr_redis_errmsg(NULL));
		return NULL;
	}
	ctl_redis_creds(ctx, &user, &pwfile); /* as ctl_redis() */
	if (pwfile && *pwfile && pr_redis_auth(r, user, pwfile) < 0) {
		snprintf(why, len, "%s", pr_redis_errmsg(r));
		goto fail;
	}
	rep = pr_redis_cmd(r, "PING");
	if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
		snprintf(why, len, "PING: %s",
			 rep ? rep->str
			     : (pr_redis_errmsg(r)[0] ? pr_redis_errmsg(r) : "no answer"));
		freeReplyObject(rep);
		goto fail;
	}
	freeReplyObject(rep);
	return r;
fail:
	pr_redis_close(r);
	return NULL;
}

static int cmp_alarm(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "alarm")),
		      json_string_value(json_object_get(*(json_t *const *)b, "alarm")));
}

json_t *ctl_alarms_active(struct pr_redis *r, char *why, size_t len)
{
	redisReply *rep = pr_redis_cmd(r, "HGETALL %s", CTL_ALARMS_ACTIVE_KEY);
	json_t **items, *arr;
	size_t i, n = 0;

	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
		snprintf(why, len, "HGETALL %s: %s", CTL_ALARMS_ACTIVE_KEY,
			 rep && rep->type == REDIS_REPLY_ERROR ? rep->str : pr_redis_errmsg(r));
		freeReplyObject(rep);
		return NULL;
	}
	items = calloc(rep->elements / 2 + 1, sizeof(*items));
	if (items == NULL) {
		freeReplyObject(rep);
		snprintf(why, len, "out of memory");
		return NULL;
	}
	for (i = 0; i + 1 < rep->elements; i += 2) {
		json_t *o = json_loads(rep->element[i + 1]->str, 0, NULL);
		if (!json_is_object(o)) { /* keep the name: the entry exists, its value is bad */
			json_decref(o);
			o = json_object();
		}
		json_object_set_new(o, "alarm", json_string(rep->element[i]->str));
		items[n++] = o;
	}
	qsort(items, n, sizeof(*items), cmp_alarm);
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, items[i]);
	free(items);
	freeReplyObject(rep);
	return arr;
}

static const char *jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : "-";
}

static void fmt_num(json_t *v, char *buf, size_t len)
{
	if (json_is_number(v))
		snprintf(buf, len, "%.2f", json_number_value(v));
	else
		snprintf(buf, len, "-");
}

void ctl_alarms_print_active(json_t *active, FILE *out)
{
	static const char *const h[] = {"alarm", "severity", "since", "value", "threshold"};
	struct ctl_table *t;
	size_t i;

	if (json_array_size(active) == 0) {
		fprintf(out, "no active alarm\n");
		return;
	}
	t = ctl_table_new(5, h);
	for (i = 0; t && i < json_array_size(active); i++) {
		json_t *a = json_array_get(active, i), *since = json_object_get(a, "since");
		char c2[32], c3[32], c4[32];
		ctl_format_time(json_is_integer(since) ? json_integer_value(since) : 0, c2,
				sizeof(c2));
		fmt_num(json_object_get(a, "value"), c3, sizeof(c3));
		fmt_num(json_object_get(a, "threshold"), c4, sizeof(c4));
		const char *row[] = {jstr(a, "alarm"), jstr(a, "severity"), c2, c3, c4};
		ctl_table_add(t, row);
	}
	if (t) {
		ctl_table_print(t, out);
		ctl_table_free(t);
	}
}

/* One stream entry as an object of its fields (values as strings, ts and value numbers). */
static json_t *log_entry(const redisReply *e)
{
	json_t *o = json_object();
	const redisReply *f;
	size_t i;

	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
		return o;
	json_object_set_new(o, "id", json_string(e->element[0]->str));
	f = e->element[1];
	for (i = 0; f->type == REDIS_REPLY_ARRAY && i + 1 < f->elements; i += 2) {
		const char *k = f->element[i]->str, *v = f->element[i + 1]->str;
		if (strcmp(k, "v") == 0)
			continue;
		if (strcmp(k, "ts") == 0)
			json_object_set_new(o, k, json_integer(strtoll(v, NULL, 10)));
		else if (strcmp(k, "value") == 0 || strcmp(k, "threshold") == 0)
			json_object_set_new(o, k, json_real(strtod(v, NULL)));
		else
			json_object_set_new(o, k, json_string(v));
	}
	return o;
}

int ctl_alarms_main(struct ctl_ctx *ctx, int argc, char **argv)
{
	static const struct option lo[] = {{"all", no_argument, NULL, 'a'},
					   {"json", no_argument, NULL, 'j'},
					   {"help", no_argument, NULL, 'h'},
					   {NULL, 0, NULL, 0}};
	struct pr_redis *r;
	redisReply *rep;
	json_t *active, *log;
	bool all = false;
	char why[256];
	int c, rc;
	size_t i;

	optind = 1;
	while ((c = getopt_long(argc, argv, "ajh", lo, NULL)) != -1) {
		switch (c) {
		case 'a':
			all = true;
			break;
		case 'j':
			ctx->json = true;
			break;
		case 'h':
			printf("usage: %s alarms [--all] [--json]\n"
			       "  the active alarms, then the last %d raises and clears (--all: "
			       "every one kept)\n",
			       ctx->prog, RECENT);
			return CTL_EXIT_OK;
		default:
			return CTL_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		ctl_err(ctx, "alarms: unexpected argument '%s'", argv[optind]);
		return CTL_EXIT_USAGE;
	}
	r = ctl_redis(ctx, &rc);
	if (r == NULL)
		return rc;
	active = ctl_alarms_active(r, why, sizeof(why));
	if (active == NULL) {
		ctl_err(ctx, "%s", why);
		return CTL_EXIT_ERR;
	}
	rep = all ? pr_redis_cmd(r, "XREVRANGE %s + -", CTL_ALARMS_LOG_KEY)
		  : pr_redis_cmd(r, "XREVRANGE %s + - COUNT %d", CTL_ALARMS_LOG_KEY, RECENT);
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
		ctl_err(ctx, "XREVRANGE %s: %s", CTL_ALARMS_LOG_KEY,
			rep && rep->type == REDIS_REPLY_ERROR ? rep->str : pr_redis_errmsg(r));
		freeReplyObject(rep);
		json_decref(active);
		return rep ? CTL_EXIT_ERR : CTL_EXIT_DOWN;
	}
	log = json_array();
	for (i = 0; i < rep->elements; i++)
		json_array_append_new(log, log_entry(rep->element[i]));
	freeReplyObject(rep);

	if (ctx->json) {
		json_t *j = json_object();
		json_object_set_new(j, "active", active);
		json_object_set_new(j, "log", log);
		return ctl_json_print(j);
	}
	ctl_alarms_print_active(active, stdout);
	printf("\n%s raises and clears, newest first (%s):\n", all ? "every" : "recent",
	       CTL_ALARMS_LOG_KEY);
	if (json_array_size(log) == 0) {
		printf("none\n");
	} else {
		static const char *const h[] = {"time",	    "event", "alarm",
						"severity", "value", "threshold"};
		struct ctl_table *t = ctl_table_new(6, h);
		for (i = 0; t && i < json_array_size(log); i++) {
			json_t *e = json_array_get(log, i), *ts = json_object_get(e, "ts");
			char c0[32], c4[32], c5[32];
			ctl_format_time(json_is_integer(ts) ? json_integer_value(ts) : 0, c0,
					sizeof(c0));
			fmt_num(json_object_get(e, "value"), c4, sizeof(c4));
			fmt_num(json_object_get(e, "threshold"), c5, sizeof(c5));
			const char *row[] = {
			    c0, jstr(e, "event"), jstr(e, "alarm"), jstr(e, "severity"), c4, c5};
			ctl_table_add(t, row);
		}
		if (t) {
			ctl_table_print(t, stdout);
			ctl_table_free(t);
		}
	}
	json_decref(active);
	json_decref(log);
	return CTL_EXIT_OK;
}
