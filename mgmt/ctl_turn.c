/* SPDX-License-Identifier: BSD-3-Clause */
/* poprelayctl turn allocations [list] | show ID | delete ID
 *
 * list and show read Redis (the dataplane writes every allocation there, and its counters
 * every few seconds), so they work while the dataplane is down. delete asks the dataplane
 * over its telemetry socket (/poprelay/turn/delete): it is the only writer of TURN state and
 * drops the allocation from its tables and from Redis at once. When the dataplane is not
 * running, delete removes the record from Redis itself so a restart does not bring it back.
 * Exit: 0 ok, 1 no such allocation or failure, 2 usage, 3 Redis down. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/keyspace.h"
#include "common/redis.h"
#include "mgmt/ctl.h"
#include "mgmt/telemetry_client.h"

static int usage(const struct ctl_ctx *ctx)
{
	ctl_err(ctx, "usage: turn allocations [list] | turn allocations show ID | "
		     "turn allocations delete ID");
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
	static const char *const hdr[] = {"id",	     "username", "client",   "relay",
					  "expires", "pkts_c2p", "pkts_p2c", "drops"};
	struct ctl_table *t = ctx->json ? NULL : ctl_table_new(8, hdr);
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
		const char *row[] = {a.id, a.username, cli, rel, exp, c2p, p2c, drops};
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
			json_array_append_new(ca, json_pack("{s:i,s:s,s:i,s:I}", "channel",
							    chans[i].channel, "peer",
							    chans[i].peer_addr, "peer_port",
							    chans[i].peer_port, "expires",
							    (json_int_t)chans[i].expires));
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

int ctl_turn_main(struct ctl_ctx *ctx, int argc, char **argv)
{
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
