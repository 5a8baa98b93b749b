/* SPDX-License-Identifier: BSD-3-Clause */
/* Runtime tunables of the dataplane: see dp_tunables.h. */
#include "dataplane/dp_tunables.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include <rte_telemetry.h>

#include "common/keyspace.h"
#include "common/log.h"
#include "common/redis.h"
#include "dataplane/dp_config.h"
#include "dataplane/dp_drain.h"

#define RETRY_MS  1000
#define CHECK_MS  50	/* how often the subscriber socket is looked at */
#define REREAD_MS 10000 /* a safety net for an event lost between reconnects */

static struct dp_tunable *head;
static struct pr_redis *rw, *sub; /* reads and reports; SUBSCRIBE pr:events */
static uint64_t last_try_ms, last_check_ms, last_read_ms;
static bool dirty, drain_dirty, warned;

void dp_tunable_register(struct dp_tunable *t)
{
	t->next = head;
	head = t;
}

static struct dp_tunable *find(const char *name)
{
	for (struct dp_tunable *t = head; t; t = t->next)
		if (!strcmp(t->name, name))
			return t;
	return NULL;
}

int64_t dp_tunable_value(const char *name)
{
	struct dp_tunable *t = find(name);

	return t ? t->current(t) : -1;
}

/* dp.burst_size: the workers read it at each burst. */
static int64_t burst_get(const struct dp_tunable *t)
{
	(void)t;
	return __atomic_load_n(&dp_cfg.dp.burst_size, __ATOMIC_RELAXED);
}

static int burst_set(const struct dp_tunable *t, int64_t v)
{
	(void)t;
	__atomic_store_n(&dp_cfg.dp.burst_size, (uint32_t)v, __ATOMIC_RELAXED);
	return 0;
}

static struct dp_tunable burst_tunable = {"dp.burst_size", burst_get, burst_set, 0, 0, 0, NULL};

/* {"dp": {"burst_size": 32, ...}, "turn": {...}}: telemetry names take no '.', so a
 * tunable "a.b" is key b of dict a. */
static int tel_tunables(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	for (struct dp_tunable *g = head; g; g = g->next) {
		const char *dot = strchr(g->name, '.');
		char grp[32];
		bool seen = false;
		if (!dot || (size_t)(dot - g->name) >= sizeof(grp))
			continue;
		for (struct dp_tunable *p = head; p != g && !seen; p = p->next)
			seen = !strncmp(p->name, g->name, (size_t)(dot - g->name) + 1);
		if (seen)
			continue; /* its group is out already */
		memcpy(grp, g->name, (size_t)(dot - g->name));
		grp[dot - g->name] = '\0';
		struct rte_tel_data *sub = rte_tel_data_alloc();
		if (!sub)
			return -ENOMEM;
		rte_tel_data_start_dict(sub);
		for (struct dp_tunable *t = g; t; t = t->next)
			if (!strncmp(t->name, g->name, (size_t)(dot - g->name) + 1))
				rte_tel_data_add_dict_int(
				    sub, t->name + (dot - g->name) + 1,
				    (int)__atomic_load_n(&t->shown, __ATOMIC_RELAXED));
		rte_tel_data_add_dict_container(d, grp, sub, 0);
	}
	return 0;
}

void dp_tunables_init(void)
{
	dp_tunable_register(&burst_tunable);
	rte_telemetry_register_cmd(
	    "/poprelay/tunables", tel_tunables,
	    "Runtime tunables in force: {group: {name: value}} for group.name. "
	    "No parameters.");
	for (struct dp_tunable *t = head; t; t = t->next) {
		const struct pr_ks_tunable_def *d = pr_ks_tunable_def(t->name);
		if (!d || strcmp(d->owner, "dataplane"))
			PR_ERR("tunables: %s is not a dataplane tunable (a bug)", t->name);
		t->file = t->current(t);
		__atomic_store_n(&t->shown, t->file, __ATOMIC_RELAXED);
	}
	for (size_t i = 0; i < pr_ks_tunables_n; i++)
		if (!strcmp(pr_ks_tunables[i].owner, "dataplane") && !find(pr_ks_tunables[i].name))
			PR_INFO("tunables: %s has no effect here (its feature is off)",
				pr_ks_tunables[i].name);
}

static void drop_conns(void)
{
	pr_redis_close(rw);
	pr_redis_close(sub);
	rw = sub = NULL;
}

static bool connect_both(uint64_t now_ms)
{
	if (rw && sub)
		return true;
	if (last_try_ms && now_ms - last_try_ms < RETRY_MS)
		return false;
	last_try_ms = now_ms ? now_ms : 1;
	drop_conns();
	rw =
	    pr_redis_open(dp_cfg.redis.socket, dp_cfg.redis.user, dp_cfg.redis.password_file, 1000);
	sub = rw ? pr_redis_open(dp_cfg.redis.socket, dp_cfg.redis.user, dp_cfg.redis.password_file,
				 1000)
		 : NULL;
	if (!sub || pr_ks_events_subscribe(sub) < 0) {
		if (!warned)
			PR_WARN("tunables: redis %s unreachable: the configuration's values hold "
				"until it is",
				dp_cfg.redis.socket);
		warned = true;
		drop_conns();
		return false;
	}
	warned = false;
	dirty = drain_dirty = true; /* whatever changed while we were away */
	return true;
}

static int apply_all(void)
{
	int64_t vals[64], in_force[64];
	bool set[64];
	char bad[256];
	int rc;

	if (pr_ks_tunables_n > 64)
		return -E2BIG;
	rc = pr_ks_tunables_stored(rw, vals, set, bad, sizeof(bad));
	if (rc < 0)
		return rc;
	if (bad[0])
		PR_WARN("tunables: %s in %s: not an integer in range, the configuration's value "
			"holds",
			bad, PR_KS_TUNABLES_KEY);
	for (size_t i = 0; i < pr_ks_tunables_n; i++) {
		struct dp_tunable *t = find(pr_ks_tunables[i].name);
		in_force[i] = INT64_MIN;
		if (!t)
			continue;
		int64_t want = set[i] ? vals[i] : t->file, was = t->current(t);
		if (want != was) {
			int arc = t->apply(t, want);
			if (arc < 0)
				PR_WARN("tunables: %s = %" PRId64 " refused (%s): %" PRId64
					" stays in force",
					t->name, want, strerror(-arc), was);
			else
				PR_NOTICE("tunables: %s %" PRId64 " -> %" PRId64 " (%s)", t->name,
					  was, want, set[i] ? "pr:tunables" : "the configuration");
		}
		in_force[i] = t->current(t);
		__atomic_store_n(&t->shown, in_force[i], __ATOMIC_RELAXED);
	}
	return pr_ks_tunables_report(rw, "dataplane", in_force);
}

void dp_tunables_poll(uint64_t now_ms)
{
	if (!head || now_ms - last_check_ms < CHECK_MS)
		return;
	last_check_ms = now_ms;
	if (pr_redis_stale(rw) || pr_redis_stale(sub)) {
		/* a +switch-master: the subscription is on the old primary; both are made again
		 * at once, and pr:tunables is read there (connect_both) */
		PR_NOTICE("tunables: the redis primary moved (+switch-master): reconnecting");
		drop_conns();
		last_try_ms = 0;
	}
	if (!connect_both(now_ms))
		return;
	unsigned ev;
	int n = pr_ks_events_poll(sub, &ev);
	if (n < 0) {
		PR_WARN("tunables: lost the redis subscription; reconnecting");
		drop_conns();
		return;
	}
	if (ev & PR_KS_EV_TUNABLES)
		dirty = true;
	if (ev & PR_KS_EV_DRAIN)
		drain_dirty = true;
	if (now_ms - last_read_ms >= REREAD_MS)
		dirty = drain_dirty = true;
	if (drain_dirty) {
		if (dp_drain_reread(rw) < 0) {
			PR_WARN("drain: redis: %s; reconnecting", pr_ks_errmsg());
			drop_conns();
			return;
		}
		drain_dirty = false;
	}
	if (!dirty)
		return;
	if (apply_all() < 0) {
		PR_WARN("tunables: redis: %s; reconnecting", pr_ks_errmsg());
		drop_conns();
		return;
	}
	dirty = false;
	last_read_ms = now_ms;
}

void dp_tunables_fini(void)
{
	drop_conns();
	head = NULL;
}
