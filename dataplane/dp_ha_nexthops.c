/* SPDX-License-Identifier: BSD-3-Clause */
/* Appliances N+1 (docs/scaling.md, "Appliances N+1"): the next hops a takeover will need,
 * resolved before it.
 *
 * A backup that takes its peer's addresses over relays to devices it never talked to: the
 * first datagram toward each of them waited for an ARP request / neighbour solicitation
 * and its answer (parked on the control lcore, the ones after it dropped meanwhile). So
 * each appliance with [ha] publishes the next hops it resolved on its [ha] port, its
 * neighbour table there (the devices on the segment, and the routers the others are
 * behind: one entry for every device behind one NAT), in pr:ha:nexthops:<own address>,
 * and its backup resolves the same ones from its own address ahead of time: the devices on
 * its own segment themselves, the others through its own route (its gateway). The
 * neighbour table keeps them fresh afterwards (re-confirmed every neigh_timeout_s while they
 * answer, removed when they stop: dp_neigh.h), so that the first datagram after a takeover
 * leaves at once.
 *
 * Bounded: at most HN_MAX next hops published; requests at most HN_RATE per HN_TICK_MS
 * (no ARP storm after a restart or a big change); none while the neighbour table is 3/4
 * full, so that our own traffic always has the last quarter; a pass over the
 * peer's list only when it changed, or every HN_REPASS_MS (entries removed meanwhile
 * because they stopped answering are asked again). Counted in /poprelay/ha/nexthops.
 *
 * Control lcore only (its own blocking Redis connection, short timeouts, a few commands a
 * second); telemetry reads the counters (atomic). */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <rte_common.h>
#include <rte_jhash.h>
#include <rte_telemetry.h>

#include "common/log.h"
#include "common/redis.h"
#include "dataplane/dp.h"
#include "dataplane/dp_arpnd.h"
#include "dataplane/dp_config.h"
#include "dataplane/dp_feature.h"
#include "dataplane/dp_ha.h"
#include "dataplane/dp_neigh.h"

#define HN_MAX	      4096 /* next hops published, and followed */
#define HN_PUBLISH_MS 1000 /* our list looked at; written when it changed */
#define HN_REFRESH_MS 5000 /* and rewritten at least this often (its expiry below) */
#define HN_PX	      "15000"
#define HN_FOLLOW_MS  1000  /* the peer's list read */
#define HN_TICK_MS    100   /* requests go out in ticks of */
#define HN_RATE	      32    /* at most this many (320 a second) */
#define HN_REPASS_MS  10000 /* the peer's unchanged list walked again */
#define HN_ADDR_MAX   INET6_ADDRSTRLEN

static char own_name[INET6_ADDRSTRLEN];
static char peer_name[INET6_ADDRSTRLEN];
static struct pr_redis *redis;
static uint64_t redis_next_try_ms;
static bool redis_warned;
static uint64_t publish_next_ms, follow_next_ms, tick_next_ms, pass_start_ms;
static uint64_t published_ms;
static uint32_t published_hash;
static struct dp_neigh_info *dump; /* HN_MAX * 2: our table on the [ha] port */
static char *pub;		   /* the published value */
static struct dp_ipaddr *follow;   /* the peer's list */
static uint32_t nfollow, cursor;
static uint32_t follow_hash;
static bool follow_valid;

/* telemetry: ro (atomic) */
static uint64_t st_published;	 /* next hops in our last publication */
static uint64_t st_publications; /* writes of our list */
static uint64_t st_truncated;	 /* publications that left next hops out (HN_MAX) */
static uint64_t st_followed;	 /* next hops in the peer's list */
static uint64_t st_requests;	 /* ARP requests / solicitations sent for them */
static uint64_t st_known;	 /* in this (or the last) pass: resolved already */
static uint64_t st_skipped_full; /* not asked: the neighbour table 3/4 full */
static uint64_t st_skipped;	 /* not asked: ours, no route, or not an address */
static uint64_t st_passes;	 /* full passes over the peer's list */

/* The [ha] peer's first address (its set's name, as dp_ha.c names it: pr:ha:alive:<peer>
 * is the same peer's lease), read from the [ha] section's storage. */
static int peer_first(char *out, size_t len)
{
	for (struct dp_cfg_section *s = dp_cfg_sections(); s; s = s->next) {
		if (strcmp(s->name, "ha") != 0)
			continue;
		for (int fam = 0; fam < 2; fam++)
			for (unsigned int i = 0; i < s->nkeys; i++) {
				const struct dp_cfg_key *k = &s->keys[i];
				if (strcmp(k->key, fam ? "peer_ipv6" : "peer_ipv4") != 0)
					continue;
				const struct dp_prefix_list *l =
				    (const struct dp_prefix_list *)((const char *)s->storage +
								    k->offset);
				if (l->n) {
					dp_ipaddr_str(&l->p[0].addr, out, (unsigned int)len);
					return 0;
				}
			}
	}
	return -ENOENT;
}

static bool hn_redis(uint64_t now_ms)
{
	return dp_ha_redis_reopen(&redis, &redis_next_try_ms, &redis_warned, now_ms,
				  "ha: next hops", "neither published nor followed", NULL);
}

/* A command's reply, NULL (connection dropped, logged) on an I/O error or an error reply. */
static redisReply *hn_cmd(const char *what, int argc, const char **argv)
{
	redisReply *r = pr_redis_cmdargv(redis, argc, argv, NULL);
	if (r && r->type == REDIS_REPLY_ERROR) {
		PR_WARN("ha: next hops: redis: %s: %s", what, r->str);
		freeReplyObject(r);
		return NULL;
	}
	if (!r) {
		PR_WARN("ha: next hops: redis: %s failed (%s); reconnecting", what,
			pr_redis_errmsg(redis));
		pr_redis_close(redis);
		redis = NULL;
	}
	return r;
}

/* Our resolved next hops on the [ha] port, comma-separated, into pub: written when they
 * changed, and every HN_REFRESH_MS (their expiry is 3 times that: a dead appliance's list
 * goes, its backup keeps what it resolved). */
static void publish(uint64_t now_ms)
{
	uint16_t port = dp_ha_port();
	unsigned int n = dp_neigh_dump(dump, HN_MAX * 2), kept = 0;
	bool more = n == HN_MAX * 2; /* the dump itself may have left some out */
	size_t o = 0;

	pub[0] = '\0';
	for (unsigned int i = 0; i < n; i++) {
		char b[HN_ADDR_MAX];
		if (dump[i].port != port || dump[i].state == DP_NEIGH_INCOMPLETE ||
		    dp_ha_cfg_is_peer(&dump[i].addr))
			continue;
		if (kept == HN_MAX) {
			more = true;
			break;
		}
		int w = snprintf(pub + o, HN_MAX * (HN_ADDR_MAX + 1) - o, "%s%s", o ? "," : "",
				 dp_ipaddr_str(&dump[i].addr, b, sizeof(b)));
		if (w < 0)
			break;
		o += (size_t)w;
		kept++;
	}
	if (more)
		__atomic_fetch_add(&st_truncated, 1, __ATOMIC_RELAXED);
	uint32_t h = rte_jhash(pub, (uint32_t)o, 0);
	if (h == published_hash && now_ms - published_ms < HN_REFRESH_MS)
		return;
	char k[96];
	snprintf(k, sizeof(k), "pr:ha:nexthops:%s", own_name);
	const char *set[] = {"SET", k, pub, "PX", HN_PX};
	redisReply *r = hn_cmd("publish", RTE_DIM(set), set);
	if (!r)
		return;
	freeReplyObject(r);
	published_hash = h;
	published_ms = now_ms;
	__atomic_store_n(&st_published, kept, __ATOMIC_RELAXED);
	__atomic_fetch_add(&st_publications, 1, __ATOMIC_RELAXED);
}

/* The peer's list, parsed when it changed (a new pass from its start). */
static void follow_read(uint64_t now_ms)
{
	char k[96];
	snprintf(k, sizeof(k), "pr:ha:nexthops:%s", peer_name);
	const char *get[] = {"GET", k};
	redisReply *r = hn_cmd("follow", RTE_DIM(get), get);
	if (!r)
		return;
	if (r->type != REDIS_REPLY_STRING) { /* none (yet): what we resolved stays */
		freeReplyObject(r);
		return;
	}
	uint32_t h = rte_jhash(r->str, (uint32_t)r->len, 0);
	if (follow_valid && h == follow_hash) {
		freeReplyObject(r);
		if (cursor >= nfollow && now_ms - pass_start_ms >= HN_REPASS_MS) {
			cursor = 0;
			pass_start_ms = now_ms;
			__atomic_store_n(&st_known, 0, __ATOMIC_RELAXED); /* this pass's */
		}
		return;
	}
	uint32_t n = 0, bad = 0;
	for (char *save = NULL, *t = strtok_r(r->str, ",", &save); t && n < HN_MAX;
	     t = strtok_r(NULL, ",", &save)) {
		struct dp_ipaddr a;
		memset(&a, 0, sizeof(a));
		if (inet_pton(AF_INET, t, &a.v4) == 1)
			a.family = AF_INET;
		else if (inet_pton(AF_INET6, t, a.v6) == 1)
			a.family = AF_INET6;
		else {
			bad++;
			continue;
		}
		follow[n++] = a;
	}
	freeReplyObject(r);
	if (bad)
		__atomic_fetch_add(&st_skipped, bad, __ATOMIC_RELAXED);
	nfollow = n;
	cursor = 0;
	pass_start_ms = now_ms;
	__atomic_store_n(&st_known, 0, __ATOMIC_RELAXED);
	follow_hash = h;
	follow_valid = true;
	__atomic_store_n(&st_followed, n, __ATOMIC_RELAXED);
}

/* Up to HN_RATE requests for the peer's next hops we have no entry for. */
static void resolve_tick(void)
{
	uint16_t port = dp_ha_port();
	unsigned int sent = 0;
	uint32_t start = cursor;

	while (cursor < nfollow && sent < HN_RATE) {
		const struct dp_ipaddr *a = &follow[cursor++];
		enum dp_resolve r =
		    dp_ha_cfg_is_peer(a) ? DP_RESOLVE_SKIPPED : dp_ctl_resolve_toward(port, a);

		if (r == DP_RESOLVE_SKIPPED)
			__atomic_fetch_add(&st_skipped, 1, __ATOMIC_RELAXED);
		else if (r == DP_RESOLVE_KNOWN)
			__atomic_fetch_add(&st_known, 1, __ATOMIC_RELAXED);
		else if (r == DP_RESOLVE_FULL)
			__atomic_fetch_add(&st_skipped_full, 1, __ATOMIC_RELAXED);
		else if (r == DP_RESOLVE_SENT) {
			__atomic_fetch_add(&st_requests, 1, __ATOMIC_RELAXED);
			sent++;
		}
	}
	if (cursor >= nfollow && start < nfollow)
		__atomic_fetch_add(&st_passes, 1, __ATOMIC_RELAXED);
}

static unsigned hn_poll(uint64_t now_ms)
{
	if (!dump)
		return 0;
	/* (Redis away: the list we have is still resolved) */
	if ((now_ms >= publish_next_ms || now_ms >= follow_next_ms) && hn_redis(now_ms)) {
		if (now_ms >= publish_next_ms) {
			publish_next_ms = now_ms + HN_PUBLISH_MS;
			publish(now_ms);
		}
		if (redis && now_ms >= follow_next_ms) {
			follow_next_ms = now_ms + HN_FOLLOW_MS;
			follow_read(now_ms);
		}
	}
	if (cursor < nfollow && now_ms >= tick_next_ms) {
		tick_next_ms = now_ms + HN_TICK_MS;
		resolve_tick();
	}
	return 0;
}

static int tel_nexthops(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "on", dump != NULL);
	rte_tel_data_add_dict_string(d, "own_set", own_name);
	rte_tel_data_add_dict_string(d, "peer_set", peer_name);
	rte_tel_data_add_dict_u64(d, "published", __atomic_load_n(&st_published, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "publications",
				  __atomic_load_n(&st_publications, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "truncated", __atomic_load_n(&st_truncated, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "followed", __atomic_load_n(&st_followed, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "requests", __atomic_load_n(&st_requests, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "known", __atomic_load_n(&st_known, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "skipped_table_full",
				  __atomic_load_n(&st_skipped_full, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "skipped", __atomic_load_n(&st_skipped, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "passes", __atomic_load_n(&st_passes, __ATOMIC_RELAXED));
	return 0;
}

static int hn_init(void)
{
	rte_telemetry_register_cmd(
	    "/poprelay/ha/nexthops", tel_nexthops,
	    "[ha] next hops: ours published in redis, the peer's resolved ahead of a takeover "
	    "(requests, known, skipped). No parameters");
	if (!dp_ha_configured())
		return 0;
	const struct dp_port_cfg *pc = &dp_cfg.port[dp_ha_port()];
	const struct dp_prefix *own = pc->ipv4.set ? &pc->ipv4 : &pc->ipv6;
	if (!own->set || peer_first(peer_name, sizeof(peer_name)) < 0) {
		PR_WARN("ha: port%u has no address of its own: next hops neither published nor "
			"followed",
			dp_ha_port());
		return 0;
	}
	dp_ipaddr_str(&own->addr, own_name, sizeof(own_name));
	dump = calloc(HN_MAX * 2, sizeof(*dump));
	pub = malloc(HN_MAX * (HN_ADDR_MAX + 1) + 1);
	follow = calloc(HN_MAX, sizeof(*follow));
	if (!dump || !pub || !follow) {
		free(dump);
		free(pub);
		free(follow);
		dump = NULL;
		pub = NULL;
		follow = NULL;
		return -ENOMEM;
	}
	return 0;
}

static void hn_teardown(void)
{
	pr_redis_close(redis);
	redis = NULL;
	free(dump);
	free(pub);
	free(follow);
	dump = NULL;
	pub = NULL;
	follow = NULL;
}

static struct dp_feature hn_feature = {
    .name = "ha_nexthops",
    .init = hn_init,
    .teardown = hn_teardown,
    .poll = hn_poll,
};
DP_FEATURE_REGISTER(hn_feature);
