/* SPDX-License-Identifier: BSD-3-Clause */
/* poprelayctl status | stats: the dataplane's live state over its telemetry socket.
 *
 *   poprelayctl [-c CONF] [--json] status [--prefix P] [--json]
 *   poprelayctl [-c CONF] [--json] stats  [--prefix P] [--json] [--all]
 *
 * The telemetry socket is /var/run/dpdk/<prefix>/dpdk_telemetry.v2, prefix from --prefix,
 * else [eal] file_prefix of CONF, else "poprelay". Exit: 0 ok, 1 error, 2 usage,
 * 3 the dataplane is not running. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/ctl.h"
#include "mgmt/telemetry_client.h"

#define DEFAULT_PREFIX "poprelay"

struct opts {
	const char *prefix;
	bool all;
};

static int parse_opts(struct ctl_ctx *ctx, int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {{"prefix", required_argument, NULL, 'p'},
					   {"json", no_argument, NULL, 'j'},
					   {"all", no_argument, NULL, 'a'},
					   {"help", no_argument, NULL, 'h'},
					   {NULL, 0, NULL, 0}};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:jah", lo, NULL)) != -1) {
		switch (c) {
		case 'p':
			o->prefix = optarg;
			break;
		case 'j':
			ctx->json = true;
			break;
		case 'a':
			o->all = true;
			break;
		case 'h':
			printf("usage: %s %s [--prefix FILE_PREFIX] [--json]%s\n", ctx->prog,
			       argv[0], strcmp(argv[0], "stats") ? "" : " [--all]");
			return -1;
		default:
			return CTL_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		ctl_err(ctx, "%s: unexpected argument '%s'", argv[0], argv[optind]);
		return CTL_EXIT_USAGE;
	}
	if (o->prefix == NULL)
		o->prefix = ctl_conf_get(ctx, "eal", "file_prefix");
	if (o->prefix == NULL || o->prefix[0] == '\0')
		o->prefix = DEFAULT_PREFIX;
	return 0;
}

static int connect_dp(struct ctl_ctx *ctx, const struct opts *o, struct ctl_tel *t)
{
	int rc = ctl_tel_open(t, o->prefix);

	if (rc == 0)
		return CTL_EXIT_OK;
	if (rc == -ENOENT || rc == -ECONNREFUSED) {
		ctl_err(ctx,
			"the dataplane is not running (no telemetry at %s/%s/dpdk_telemetry.v2; "
			"file prefix from %s)",
			CTL_TEL_RUNDIR, o->prefix,
			ctl_conf_get(ctx, "eal", "file_prefix") ? ctx->conf_path
								: "--prefix/default");
		return CTL_EXIT_DOWN;
	}
	if (rc == -EACCES || rc == -EPERM) {
		ctl_err(ctx,
			"cannot read the dataplane's telemetry: permission denied (run as root)");
		return CTL_EXIT_ERR;
	}
	ctl_err(ctx, "cannot read the dataplane's telemetry: %s", strerror(-rc));
	return rc == -EINVAL ? CTL_EXIT_USAGE : CTL_EXIT_ERR;
}

/* Query or fail with a message; NULL on failure. */
static json_t *query(struct ctl_ctx *ctx, struct ctl_tel *t, const char *cmd)
{
	int err;
	json_t *v = ctl_tel_query(t, cmd, &err);

	if (v == NULL)
		ctl_err(ctx, "telemetry %s: %s", cmd,
			err == -EINVAL ? "not answered (an older or different dataplane?)"
				       : strerror(-err));
	return v;
}

static json_int_t jint(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? json_integer_value(v) : 0;
}

static const char *jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : "-";
}

static void fmt_uptime(json_int_t s, char *buf, size_t len)
{
	snprintf(buf, len, "%" PRId64 "d %02" PRId64 ":%02" PRId64 ":%02" PRId64,
		 (int64_t)s / 86400, (int64_t)s / 3600 % 24, (int64_t)s / 60 % 60, (int64_t)s % 60);
}

/* Every port's details as an array. */
static json_t *ports_detail(struct ctl_ctx *ctx, struct ctl_tel *t, json_int_t nports)
{
	json_t *arr = json_array();
	json_int_t i;
	char cmd[64];

	for (i = 0; i < nports; i++) {
		snprintf(cmd, sizeof(cmd), "/poprelay/port,%" PRId64, (int64_t)i);
		json_t *p = query(ctx, t, cmd);
		if (p == NULL) {
			json_decref(arr);
			return NULL;
		}
		json_array_append_new(arr, p);
	}
	return arr;
}

/* Every lcore's counters as an array. */
static json_t *lcores_detail(struct ctl_ctx *ctx, struct ctl_tel *t)
{
	json_t *lc = query(ctx, t, "/poprelay/lcores"), *arr, *ids;
	size_t i;
	char cmd[64];

	if (lc == NULL)
		return NULL;
	arr = json_array();
	ids = json_object_get(lc, "lcore");
	for (i = 0; i < json_array_size(ids); i++) {
		snprintf(cmd, sizeof(cmd), "/poprelay/lcore,%" PRId64,
			 (int64_t)json_integer_value(json_array_get(ids, i)));
		json_t *one = query(ctx, t, cmd);
		if (one == NULL) {
			json_decref(arr);
			arr = NULL;
			break;
		}
		json_array_append_new(arr, one);
	}
	json_decref(lc);
	return arr;
}

int ctl_status_main(struct ctl_ctx *ctx, int argc, char **argv)
{
	struct opts o;
	struct ctl_tel t;
	json_t *info = NULL, *ports = NULL, *neigh = NULL, *lcores = NULL;
	int rc = parse_opts(ctx, argc, argv, &o);

	if (rc)
		return rc < 0 ? CTL_EXIT_OK : rc;
	rc = connect_dp(ctx, &o, &t);
	if (rc)
		return rc;
	rc = CTL_EXIT_ERR;
	info = query(ctx, &t, "/poprelay/info");
	if (info == NULL)
		goto out;
	ports = ports_detail(ctx, &t, jint(info, "ports"));
	neigh = query(ctx, &t, "/poprelay/neigh");
	lcores = query(ctx, &t, "/poprelay/lcores");
	if (!ports || !neigh || !lcores)
		goto out;
	if (ctx->json) {
		json_t *j = json_object();
		json_object_set_new(j, "running", json_true());
		json_object_set(j, "dataplane", info);
		json_object_set(j, "lcores", lcores);
		json_object_set(j, "ports", ports);
		json_object_set(j, "neighbours", neigh);
		rc = ctl_json_print(j);
		goto out;
	}
	char up[32];
	fmt_uptime(jint(info, "uptime_s"), up, sizeof(up));
	printf("dataplane: running (version %s, pid %" PRId64 ", up %s)\n", jstr(info, "version"),
	       (int64_t)jint(info, "pid"), up);
	printf("config: %s, file prefix %s\n", jstr(info, "config"), jstr(info, "file_prefix"));
	printf("lcores: control %" PRId64 ", %" PRId64 " worker(s); features: %s\n",
	       (int64_t)jint(info, "main_lcore"), (int64_t)jint(info, "workers"),
	       *jstr(info, "features") ? jstr(info, "features") : "none");
	printf("neighbours: %" PRId64 "\n\n", (int64_t)jint(neigh, "count"));
	{
		static const char *const h[] = {"port", "device",  "mac",     "ipv4",  "ipv6",
						"link", "rx_pkts", "tx_pkts", "missed"};
		struct ctl_table *tab = ctl_table_new(9, h);
		size_t i;
		for (i = 0; tab && i < json_array_size(ports); i++) {
			json_t *p = json_array_get(ports, i);
			char c0[16], c6[24], c7[24], c8[24];
			snprintf(c0, sizeof(c0), "%" PRId64, (int64_t)jint(p, "port"));
			snprintf(c6, sizeof(c6), "%" PRId64, (int64_t)jint(p, "ipackets"));
			snprintf(c7, sizeof(c7), "%" PRId64, (int64_t)jint(p, "opackets"));
			snprintf(c8, sizeof(c8), "%" PRId64, (int64_t)jint(p, "imissed"));
			const char *row[] = {c0,
					     jstr(p, "device"),
					     jstr(p, "mac"),
					     jstr(p, "ipv4"),
					     jstr(p, "ipv6"),
					     jstr(p, "link"),
					     c6,
					     c7,
					     c8};
			ctl_table_add(tab, row);
		}
		if (tab) {
			ctl_table_print(tab, stdout);
			ctl_table_free(tab);
		}
	}
	{
		static const char *const h[] = {"port", "neighbour", "mac", "state", "expires_s"};
		json_t *addr = json_object_get(neigh, "address");
		size_t i, n = json_array_size(addr);
		struct ctl_table *tab = n ? ctl_table_new(5, h) : NULL;
		for (i = 0; tab && i < n; i++) {
			char c0[16], c4[24];
			snprintf(c0, sizeof(c0), "%" PRId64,
				 (int64_t)json_integer_value(
				     json_array_get(json_object_get(neigh, "port"), i)));
			snprintf(c4, sizeof(c4), "%" PRId64,
				 (int64_t)json_integer_value(
				     json_array_get(json_object_get(neigh, "expires_s"), i)));
			const char *row[] = {
			    c0, json_string_value(json_array_get(addr, i)),
			    json_string_value(json_array_get(json_object_get(neigh, "mac"), i)),
			    json_string_value(json_array_get(json_object_get(neigh, "state"), i)),
			    c4};
			ctl_table_add(tab, row);
		}
		if (tab) {
			printf("\n");
			ctl_table_print(tab, stdout);
			ctl_table_free(tab);
		}
	}
	rc = CTL_EXIT_OK;
out:
	json_decref(info);
	json_decref(ports);
	json_decref(neigh);
	json_decref(lcores);
	ctl_tel_close(&t);
	return rc;
}

int ctl_stats_main(struct ctl_ctx *ctx, int argc, char **argv)
{
	struct opts o;
	struct ctl_tel t;
	json_t *stats = NULL, *drops = NULL, *lcores = NULL;
	int rc = parse_opts(ctx, argc, argv, &o);
	const char *k;
	json_t *v;

	if (rc)
		return rc < 0 ? CTL_EXIT_OK : rc;
	rc = connect_dp(ctx, &o, &t);
	if (rc)
		return rc;
	rc = CTL_EXIT_ERR;
	stats = query(ctx, &t, "/poprelay/stats");
	drops = query(ctx, &t, "/poprelay/drops");
	lcores = lcores_detail(ctx, &t);
	if (!stats || !drops || !lcores)
		goto out;
	if (ctx->json) {
		json_t *j = json_object();
		json_object_set(j, "stats", stats);
		json_object_set(j, "drops", drops);
		json_object_set(j, "lcores", lcores);
		rc = ctl_json_print(j);
		goto out;
	}
	{
		static const char *const h[] = {"counter", "value"};
		struct ctl_table *tab = ctl_table_new(2, h);
		json_object_foreach(stats, k, v)
		{
			char val[32];
			if (!tab || (!o.all && json_integer_value(v) == 0))
				continue;
			snprintf(val, sizeof(val), "%" PRId64, (int64_t)json_integer_value(v));
			const char *row[] = {k, val};
			ctl_table_add(tab, row);
		}
		if (tab) {
			ctl_table_print(tab, stdout);
			ctl_table_free(tab);
		}
	}
	{
		static const char *const h[] = {"drop_reason", "packets"};
		struct ctl_table *tab = ctl_table_new(2, h);
		unsigned int shown = 0;
		json_object_foreach(drops, k, v)
		{
			char val[32];
			if (!tab || (!o.all && json_integer_value(v) == 0))
				continue;
			snprintf(val, sizeof(val), "%" PRId64, (int64_t)json_integer_value(v));
			const char *row[] = {k, val};
			ctl_table_add(tab, row);
			shown++;
		}
		printf("\n");
		if (tab && shown)
			ctl_table_print(tab, stdout);
		else
			printf("no drops\n");
		ctl_table_free(tab);
	}
	{
		static const char *const h[] = {"lcore",      "role",  "rx_packets",
						"tx_packets", "drops", "busy_%"};
		struct ctl_table *tab = ctl_table_new(6, h);
		size_t i;
		for (i = 0; tab && i < json_array_size(lcores); i++) {
			json_t *l = json_array_get(lcores, i);
			char c0[16], c2[24], c3[24], c4[24], c5[16];
			json_int_t loops = jint(l, "loops");
			snprintf(c0, sizeof(c0), "%" PRId64, (int64_t)jint(l, "lcore"));
			snprintf(c2, sizeof(c2), "%" PRId64, (int64_t)jint(l, "rx_packets"));
			snprintf(c3, sizeof(c3), "%" PRId64, (int64_t)jint(l, "tx_packets"));
			snprintf(c4, sizeof(c4), "%" PRId64, (int64_t)jint(l, "drops"));
			snprintf(c5, sizeof(c5), "%.1f",
				 loops ? 100.0 * (double)jint(l, "busy_loops") / (double)loops
				       : 0.0);
			const char *row[] = {c0, jstr(l, "role"), c2, c3, c4, c5};
			ctl_table_add(tab, row);
		}
		printf("\n");
		if (tab) {
			ctl_table_print(tab, stdout);
			ctl_table_free(tab);
		}
	}
	rc = CTL_EXIT_OK;
out:
	json_decref(stats);
	json_decref(drops);
	json_decref(lcores);
	ctl_tel_close(&t);
	return rc;
}
