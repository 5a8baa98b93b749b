/* SPDX-License-Identifier: BSD-3-Clause */
/* poprelayctl ha: the dataplane's address takeover ([ha], docs/scaling.md "Appliances
 * N+1").
 *
 *   ha status             per address set: ours (owned) and the peer's ([ha] peer_ipv4,
 *                         peer_ipv6): held or not, since when, TURN allocations taken over;
 *                         the Redis primary, its replicas and their lag, the peer's lease
 *                         as Redis holds it now, the last failover this dataplane saw
 *   ha takeover           take the peer's addresses over (keepalived's notify on MASTER);
 *                         deferred while the peer's lease lives in Redis (fencing)
 *   ha release            give them back (notify on BACKUP or FAULT)
 *   ha failback           ours held by the peer: ask it to give them back, then serve them
 *                         (the peer serves them until we do, then forwards what still
 *                         reaches it to us)
 *   ha sip-may-serve ADDRESS
 *                         the track script of keepalived's SIP instance: whether this
 *                         appliance may hold the slowpath's service address (fencing in a
 *                         VRRP split, docs/scaling.md "Split brain and failback")
 *
 * The drain handover (poprelayctl drain --handover, undrain) is here too: ctl_ha_handover,
 * ctl_ha_undrain (docs/scaling.md, "Drain handover").
 *
 * The dataplane is the only writer of its state: takeover and release go over its
 * telemetry socket (/poprelay/ha/...), and this waits until its status shows the change. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/redis.h"
#include "mgmt/ctl.h"
#include "mgmt/ctl_alarms.h"
#include "mgmt/ha_redis.h"
#include "mgmt/telemetry_client.h"

/* ---- the slowpath's service address (keepalived's own virtual address) --------------- */

/* The holder record pr:ha:sip:<address> names the appliance that holds the address by its
 * slowpath's stats name ([sip] instance, by default the host's name). Another appliance
 * holds it while that slowpath's lease (pr:slowpath:alive:<its instance>, found in its stats
 * hash) lives: then we may not. Otherwise we may; if the address is on this host (our
 * keepalived is MASTER) we claim it, and if it is not but the record names us (we became
 * BACKUP or FAULT) we let it go. One script: two appliances' checks are run one after the
 * other by Redis. Returns {may, holder}. */
static const char SIP_FENCE_LUA[] =
    "local h = redis.call('GET', KEYS[1])\n"
    "if h and h ~= ARGV[1] then\n"
    "  local id = redis.call('HGET', ARGV[3] .. h, 'instance')\n"
    "  if id and redis.call('EXISTS', 'pr:slowpath:alive:' .. id) == 1 then return {0, h} end\n"
    "end\n"
    "if ARGV[2] == '1' then\n"
    "  if h ~= ARGV[1] then redis.call('SET', KEYS[1], ARGV[1]) end\n"
    "  return {1, ARGV[1]}\n"
    "end\n"
    "if h == ARGV[1] then redis.call('DEL', KEYS[1]) return {1, ''} end\n"
    "return {1, h or ''}\n";

/* 1 when addr is an address of this host (its network namespace), 0 when not, -1 on error */
static int addr_is_local(const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		len = sizeof(*a4);
	} else if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		len = sizeof(*a6);
	} else {
		return -2;
	}
	int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int rc = bind(fd, (struct sockaddr *)&ss, len) == 0 ? 1 : errno == EADDRNOTAVAIL ? 0 : -1;
	close(fd);
	return rc;
}

static int do_sip_may_serve(struct ctl_ctx *ctx, const char *addr)
{
	const char *pop = ctl_conf_get(ctx, "sip", "pop");
	char me[PR_KS_NAME_MAX + 96], key[PR_KS_NAME_MAX + 96], prefix[PR_KS_NAME_MAX + 96];
	int local = addr_is_local(addr), ec;

	if (local == -2) {
		ctl_err(ctx, "ha sip-may-serve: \"%s\" is not an IPv4 or IPv6 address", addr);
		return CTL_EXIT_USAGE;
	}
	if (local < 0) {
		ctl_err(ctx, "ha sip-may-serve: cannot tell whether %s is ours: %s", addr,
			strerror(errno));
		return CTL_EXIT_ERR;
	}
	/* our stats hash's name: pr:stats:slowpath:<pop>:<instance>; the prefix up to the
	 * instance is the PoP's */
	if (pr_ks_slowpath_stats_key(key, sizeof(key), pop && *pop ? pop : "pop1",
				     ctl_conf_get(ctx, "sip", "instance")) < 0) {
		ctl_err(ctx, "[sip] pop and instance: too long");
		return CTL_EXIT_USAGE;
	}
	size_t plen = strlen("pr:stats:slowpath:") + strlen(pop && *pop ? pop : "pop1") + 1;
	if (plen >= strlen(key)) {
		ctl_err(ctx, "[sip] instance: empty");
		return CTL_EXIT_USAGE;
	}
	snprintf(prefix, sizeof(prefix), "%.*s", (int)plen, key);
	snprintf(me, sizeof(me), "%s", key + plen);
	snprintf(key, sizeof(key), "pr:ha:sip:%s", addr);
	struct pr_redis *r = ctl_redis(ctx, &ec);
	if (!r) {
		/* as a dataplane's takeover without Redis: the peer cannot be asked, and a dead
		 * appliance with Redis away would otherwise never be replaced (unfenced) */
		printf("%s: redis unreachable: may serve, unfenced\n", addr);
		return CTL_EXIT_OK;
	}
	redisReply *rep = pr_redis_cmd(r, "EVAL %s 1 %s %s %s %s", SIP_FENCE_LUA, key, me,
				       local ? "1" : "0", prefix);
	if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
	    rep->element[0]->type != REDIS_REPLY_INTEGER) {
		printf("%s: redis did not answer the check (%s): may serve, unfenced\n", addr,
		       rep && rep->type == REDIS_REPLY_ERROR ? rep->str : pr_redis_errmsg(r));
		freeReplyObject(rep);
		return CTL_EXIT_OK;
	}
	bool may = rep->element[0]->integer == 1;
	const char *h = rep->element[1]->type == REDIS_REPLY_STRING ? rep->element[1]->str : "";
	if (!may)
		printf("%s: held by %s, whose slowpath's lease lives: not here\n", addr, h);
	else if (local)
		printf("%s: ours (%s)\n", addr, me);
	else
		printf("%s: may serve (held by %s)\n", addr, *h ? h : "nobody");
	freeReplyObject(rep);
	return may ? CTL_EXIT_OK : CTL_EXIT_ERR;
}

int ctl_ha_main(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_ha_handover(struct ctl_ctx *ctx);
int ctl_ha_undrain(struct ctl_ctx *ctx, bool *done);

static void ha_usage(FILE *out, const struct ctl_ctx *ctx)
{
	fprintf(
	    out,
	    "usage: %s ha status | takeover | release | failback | sip-may-serve ADDRESS\n"
	    "  status     ours and the peer's address sets: held, since, TURN allocations,\n"
	    "             fencing (our addresses served, the peer's lease, deferred takeovers),\n"
	    "             the redis primary and its replicas' lag, the last failover\n"
	    "  takeover   answer for the [ha] peer addresses and serve their allocations,\n"
	    "             once the peer's lease in Redis has expired (deferred until then)\n"
	    "  release    give the peer addresses back\n"
	    "  failback   our own addresses, held by the peer: ask it to give them back, and\n"
	    "             serve them again (the peer serves them until we do and forwards what\n"
	    "             still reaches it to us for [ha] handover_quiet_ms: no packet lost)\n"
	    "  sip-may-serve ADDRESS\n"
	    "             keepalived's track script for the slowpath's service address: exit 0\n"
	    "             when this appliance may hold it (no other appliance whose slowpath's\n"
	    "             lease lives holds it; claims it while it is on this host), 1 when not\n"
	    "A planned handover of our own addresses to the peer is 'poprelayctl drain\n"
	    "--handover'; 'poprelayctl undrain' takes them back (as failback).\n",
	    ctx->prog);
}

/* The reply of a telemetry command, or NULL with the error printed and *exit set. */
static json_t *tel(struct ctl_ctx *ctx, const char *cmd, int *exit_code)
{
	const char *prefix = ctl_conf_get(ctx, "eal", "file_prefix");
	struct ctl_tel t;
	int err = 0, rc = ctl_tel_open(&t, prefix ? prefix : "poprelay");

	if (rc < 0) {
		ctl_err(ctx, "the dataplane is not running (telemetry of %s: %s)",
			prefix ? prefix : "poprelay", strerror(-rc));
		*exit_code = CTL_EXIT_DOWN;
		return NULL;
	}
	json_t *v = ctl_tel_query(&t, cmd, &err);
	ctl_tel_close(&t);
	if (!v) {
		if (err == -EINVAL)
			ctl_err(ctx,
				"%s refused: no [ha] peer_ipv4/peer_ipv6 in the dataplane's "
				"configuration (or a dataplane without address takeover)",
				cmd);
		else
			ctl_err(ctx, "%s: %s", cmd, strerror(-err));
		*exit_code = CTL_EXIT_ERR;
	}
	return v;
}

static long long num(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static const char *str(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : "";
}

/* Our own addresses on [portN], from the configuration (what the dataplane answers for). */
static void own_addresses(struct ctl_ctx *ctx, long long port, char *out, size_t len)
{
	static const char *const keys[] = {"ipv4", "ipv4_extra", "ipv6", "ipv6_extra"};
	char sec[16];
	size_t o = 0;

	out[0] = '\0';
	snprintf(sec, sizeof(sec), "port%lld", port);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = ctl_conf_get(ctx, sec, keys[i]);
		if (!v || !v[0] || o >= len)
			continue;
		/* drop the prefix lengths: a.b.c.d/24, e.f.g.h/24 -> a.b.c.d,e.f.g.h */
		for (const char *p = v; *p && o + 1 < len;) {
			if (*p == '/') {
				while (*p && *p != ',')
					p++;
				continue;
			}
			if (*p == ' ' || *p == '\t') {
				p++;
				continue;
			}
			if (*p == ',' && o && out[o - 1] == ',') {
				p++;
				continue;
			}
			out[o++] = *p++;
		}
		if (o + 1 < len)
			out[o++] = ',';
		out[o] = '\0';
	}
	if (o && out[o - 1] == ',')
		out[--o] = '\0';
}

/* keepalived's check script is `poprelayctl ha status` (images/keepalived-poprelay.conf,
 * interval 1 s, timeout 2 s): a hung Redis must not make it fail the dataplane's check.
 * Each Redis call waits at most this long, and no further one starts past the budget. */
#define HA_REDIS_TIMEOUT_MS 200
#define HA_REDIS_BUDGET_MS  600

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The Redis side: the primary (and the sentinel that named it), its replicas and how far
 * behind each is, and the peer's lease as Redis holds it now. Never fails the command: an
 * unreachable or slow Redis is reported in the block. */
static json_t *redis_block(struct ctl_ctx *ctx)
{
	json_t *j = json_object();
	char why[256], host[64], peer[64];
	int port;
	struct ha_repl rp;
	long long t0 = mono_ms();
	struct pr_redis *r = ctl_alarms_redis(ctx, HA_REDIS_TIMEOUT_MS, why, sizeof(why));

	if (pr_redis_is_sentinel(ctx->redis_socket))
		json_object_set_new(j, "sentinels", json_string(ctx->redis_socket));
	if (!r) {
		json_object_set_new(j, "error", json_string(why));
		return j;
	}
	if (pr_redis_primary(r, host, sizeof(host), &port) == 0) {
		char a[96];
		snprintf(a, sizeof(a), "%s:%d", host, port);
		json_object_set_new(j, "primary", json_string(a));
		if (pr_redis_sentinel_named(r, host, sizeof(host), &port) == 0) {
			snprintf(a, sizeof(a), "%s:%d", host, port);
			json_object_set_new(j, "named_by", json_string(a));
		}
	} else
		json_object_set_new(j, "primary", json_string(ctx->redis_socket));
	const char *wr = ctl_conf_get(ctx, "redis", "wait_replicas");
	json_object_set_new(j, "wait_replicas", json_integer(wr ? atoi(wr) : 0));
	if (mono_ms() - t0 > HA_REDIS_BUDGET_MS) {
		json_object_set_new(j, "error",
				    json_string("too slow to answer: not read further"));
		pr_redis_close(r);
		return j;
	}
	if (ha_repl_read(r, &rp, why, sizeof(why)) < 0)
		json_object_set_new(j, "error", json_string(why));
	else {
		json_t *reps = json_array();
		json_object_set_new(j, "role", json_string(rp.master ? "master" : "replica"));
		json_object_set_new(j, "master_repl_offset", json_integer(rp.master_offset));
		json_object_set_new(j, "connected_replicas", json_integer(rp.connected));
		for (int i = 0; i < rp.n; i++)
			json_array_append_new(
			    reps, json_pack("{s:s,s:i,s:s,s:I,s:I,s:I}", "ip", rp.r[i].ip, "port",
					    rp.r[i].port, "state", rp.r[i].state, "offset",
					    (json_int_t)rp.r[i].offset, "behind_bytes",
					    (json_int_t)(rp.r[i].offset >= 0
							     ? rp.master_offset - rp.r[i].offset
							     : -1),
					    "lag_s", (json_int_t)rp.r[i].lag));
		json_object_set_new(j, "replicas", reps);
	}
	ha_peer_name(ctx, peer, sizeof(peer));
	if (peer[0] && mono_ms() - t0 <= HA_REDIS_BUDGET_MS) {
		int alive = ha_peer_alive(r, peer, why, sizeof(why));
		char k[96];
		snprintf(k, sizeof(k), "pr:ha:alive:%s", peer);
		json_object_set_new(j, "peer_lease_key", json_string(k));
		json_object_set_new(j, "peer_lease", alive < 0 ? json_null() : json_boolean(alive));
	}
	pr_redis_close(r);
	return j;
}

static void print_redis(json_t *j)
{
	const char *sn = json_string_value(json_object_get(j, "sentinels"));
	const char *nb = json_string_value(json_object_get(j, "named_by"));
	const char *err = json_string_value(json_object_get(j, "error"));
	json_t *reps = json_object_get(j, "replicas");

	if (json_object_get(j, "primary"))
		printf("redis: primary %s%s%s%s%s\n", str(j, "primary"),
		       nb ? " (named by the sentinel " : "", nb ? nb : "", nb ? ")" : "",
		       json_object_get(j, "role") && strcmp(str(j, "role"), "master")
			   ? ", NOT a master"
			   : "");
	else
		printf("redis: not reachable%s%s\n", sn ? " through the sentinels " : "",
		       sn ? sn : "");
	if (err)
		printf("redis: %s\n", err);
	if (reps) {
		printf("replicas: %lld connected (wait_replicas %lld), primary offset %lld\n",
		       num(j, "connected_replicas"), num(j, "wait_replicas"),
		       num(j, "master_repl_offset"));
		if (json_array_size(reps)) {
			static const char *const h[] = {"replica", "state", "offset",
							"behind_bytes", "lag_s"};
			struct ctl_table *t = ctl_table_new(5, h);
			for (size_t i = 0; t && i < json_array_size(reps); i++) {
				json_t *e = json_array_get(reps, i);
				char a[96], off[24], bh[24], lag[24];
				snprintf(a, sizeof(a), "%s:%lld", str(e, "ip"), num(e, "port"));
				snprintf(off, sizeof(off), "%lld", num(e, "offset"));
				snprintf(bh, sizeof(bh), "%lld", num(e, "behind_bytes"));
				snprintf(lag, sizeof(lag), "%lld", num(e, "lag_s"));
				const char *row[] = {a, str(e, "state"), off, bh, lag};
				ctl_table_add(t, row);
			}
			if (t) {
				ctl_table_print(t, stdout);
				ctl_table_free(t);
			}
		}
	}
	if (json_object_get(j, "peer_lease_key")) {
		json_t *pl = json_object_get(j, "peer_lease");
		printf("peer health: lease %s %s\n", str(j, "peer_lease_key"),
		       json_is_null(pl)	  ? "not read"
		       : json_is_true(pl) ? "present (the peer runs and sees redis)"
					  : "ABSENT (the peer is down or cut off from redis)");
	}
}

/* A figure of the dataplane's that is -1 when it does not know it: null. */
static json_t *known(json_t *s, const char *k)
{
	long long v = num(s, k);
	return v < 0 ? json_null() : json_integer(v);
}

/* The gap's bound (gap_min_ms, gap_max_ms: -1 when not known): {min, max}, or null. */
static json_t *gap_block(json_t *s)
{
	long long lo = num(s, "gap_min_ms"), hi = num(s, "gap_max_ms");
	if (!json_is_integer(json_object_get(s, "gap_max_ms")) || lo < 0 || hi < lo)
		return json_null();
	return json_pack("{s:I,s:I}", "min", (json_int_t)lo, "max", (json_int_t)hi);
}

/* What this dataplane knows of the last failover: when it took the peer's addresses over
 * (held now), how long from the ask (keepalived's FIFO line or notify) to holding them
 * (deferrals included), and from then to the first datagram a worker took for them; how
 * often the peer took ours. The silence the devices saw starts at the peer's death, before
 * the election that asked, which no dataplane sees: the gap is a bound from the peer's
 * lease as the dataplane read it (from its last renewal to that first datagram, less at most
 * one renewal period), null when there is none (a handover; the lease never seen live or
 * not followed to its end), never a guess. */
static json_t *failover_block(json_t *s)
{
	bool held = num(s, "held") != 0;
	return json_pack(
	    "{s:I,s:o,s:o,s:I,s:I,s:s,s:o}", "peer_taken_over_at",
	    (json_int_t)(held ? num(s, "since") : 0), "asked_to_held_ms",
	    held ? known(s, "takeover_asked_ms") : json_null(), "held_to_first_datagram_us",
	    held ? known(s, "takeover_first_datagram_us") : json_null(), "own_taken_by_peer",
	    (json_int_t)num(s, "own_fenced"), "own_failbacks", (json_int_t)num(s, "own_failbacks"),
	    "own_held_by", str(s, "own_held_by"), "gap_ms", held ? gap_block(s) : json_null());
}

static void print_failover(json_t *f)
{
	char t[32];
	long long at = num(f, "peer_taken_over_at");
	ctl_format_time(at, t, sizeof(t));
	if (at) {
		json_t *a = json_object_get(f, "asked_to_held_ms");
		json_t *d = json_object_get(f, "held_to_first_datagram_us");
		printf("last failover: took the peer's addresses over at %s (", t);
		if (json_is_integer(a))
			printf("held %lld ms after the ask", (long long)json_integer_value(a));
		else
			printf("not asked: a handover");
		if (json_is_integer(d))
			printf(", the first datagram for them %.1f ms after)",
			       (double)json_integer_value(d) / 1000);
		else
			printf(", no datagram for them yet)");
	} else if (str(f, "own_held_by")[0])
		printf("last failover: the peer %s holds our addresses", str(f, "own_held_by"));
	else
		printf("last failover: none held now");
	printf("; ours taken by the peer %lld times, failed back %lld; ",
	       num(f, "own_taken_by_peer"), num(f, "own_failbacks"));
	json_t *g = json_object_get(f, "gap_ms");
	if (json_is_object(g))
		printf(
		    "gap: %lld-%lld ms (the peer's last lease renewal to the first datagram taken; "
		    "it died within a renewal period after it)\n",
		    num(g, "min"), num(g, "max"));
	else
		printf("gap: not measured\n");
}

static int do_status(struct ctl_ctx *ctx)
{
	int ex = CTL_EXIT_OK;
	json_t *s = tel(ctx, "/poprelay/ha/status", &ex);
	if (!s)
		return ex;
	char own[512], since_own[32], since_peer[32], taken[32];
	own_addresses(ctx, num(s, "port"), own, sizeof(own));
	bool held = num(s, "held") != 0, conf = num(s, "configured") != 0;
	ctl_format_time(num(s, "start_time"), since_own, sizeof(since_own));
	ctl_format_time(num(s, "since"), since_peer, sizeof(since_peer));
	snprintf(taken, sizeof(taken), "%lld", held ? num(s, "turn_allocations_taken") : 0);
	if (ctx->json) {
		json_t *j = json_object();
		json_t *sets = json_array();
		json_array_append_new(sets, json_pack("{s:s,s:s,s:b,s:I}", "set", "own",
						      "addresses", own, "held", 1, "since",
						      (json_int_t)num(s, "start_time")));
		if (conf)
			json_array_append_new(
			    sets,
			    json_pack("{s:s,s:s,s:b,s:I,s:I}", "set", "peer", "addresses",
				      json_string_value(json_object_get(s, "peer_addresses")),
				      "held", held, "since", (json_int_t)num(s, "since"),
				      "turn_allocations_taken",
				      (json_int_t)(held ? num(s, "turn_allocations_taken") : 0)));
		json_object_set_new(j, "sets", sets);
		json_object_set_new(
		    j, "fencing",
		    json_pack("{s:b,s:I,s:s,s:b,s:s,s:b,s:I,s:b,s:I,s:I}", "enabled",
			      num(s, "fencing") != 0, "lease_ms", (json_int_t)num(s, "lease_ms"),
			      "failback", str(s, "failback_policy"), "own_served",
			      num(s, "own_served") != 0, "own_held_by", str(s, "own_held_by"),
			      "failback_pending", num(s, "failback_pending") != 0, "peer_lease",
			      (json_int_t)num(s, "peer_lease"), "takeover_deferring",
			      num(s, "takeover_deferring") != 0, "takeover_deferred",
			      (json_int_t)num(s, "takeover_deferred"), "takeover_unfenced",
			      (json_int_t)num(s, "takeover_unfenced")));
		json_object_set_new(
		    j, "handover",
		    json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I}", "state", str(s, "handover"),
			      "error", str(s, "handover_error"), "forwarding", str(s, "forwarding"),
			      "forwarded_frames", (json_int_t)num(s, "forwarded_frames"),
			      "forwarded_ms", (json_int_t)num(s, "forwarded_ms"), "handovers",
			      (json_int_t)num(s, "handovers"), "handovers_taken",
			      (json_int_t)num(s, "handovers_taken"), "handbacks",
			      (json_int_t)num(s, "handbacks")));
		json_object_set_new(j, "redis", redis_block(ctx));
		json_object_set_new(j, "last_failover", failover_block(s));
		json_object_set(j, "dataplane", s);
		json_decref(s);
		return ctl_json_print(j);
	}
	static const char *const hdr[] = {"set",  "addresses", "role",
					  "held", "since",     "turn_allocations_taken"};
	struct ctl_table *t = ctl_table_new(6, hdr);
	bool served = num(s, "own_served") != 0;
	const char *r1[] = {"own", own, "owner", served ? "yes" : "no", since_own, NULL};
	ctl_table_add(t, r1);
	if (conf) {
		const char *r2[] = {"peer",
				    json_string_value(json_object_get(s, "peer_addresses")),
				    "backup",
				    held ? "yes" : "no",
				    num(s, "since") ? since_peer : NULL,
				    taken};
		ctl_table_add(t, r2);
	}
	ctl_table_print(t, stdout);
	ctl_table_free(t);
	if (!conf)
		printf("no [ha] peer addresses configured: nothing to take over\n");
	else if (!num(s, "fencing"))
		printf("fencing: off ([ha] port has no address of its own)\n");
	else {
		long long pl = num(s, "peer_lease");
		printf("fencing: lease %lld ms, failback %s\n", num(s, "lease_ms"),
		       str(s, "failback_policy"));
		if (served)
			printf("own addresses: served\n");
		else if (str(s, "own_held_by")[0])
			printf("own addresses: NOT served: held by the peer %s%s\n",
			       str(s, "own_held_by"),
			       num(s, "failback_pending") ? " (failback pending)"
							  : " (poprelayctl ha failback)");
		else
			printf("own addresses: not served yet (waiting for redis)\n");
		printf("peer lease: %s\n", pl < 0 ? "not looked at" : pl ? "alive" : "gone");
		printf("takeovers deferred: %lld%s, done without redis: %lld\n",
		       num(s, "takeover_deferred"),
		       num(s, "takeover_deferring") ? " (one waiting now)" : "",
		       num(s, "takeover_unfenced"));
		if (json_object_get(s, "handover")) {
			const char *fw = str(s, "forwarding");
			printf(
			    "handovers (drain --handover): ours %lld%s%s, the peer's taken %lld, "
			    "handed back %lld\n",
			    num(s, "handovers"), str(s, "handover")[0] ? ", now " : "",
			    str(s, "handover"), num(s, "handovers_taken"), num(s, "handbacks"));
			if (fw[0])
				printf("forwarding %s addresses' frames to the %s: %lld so far\n",
				       !strcmp(fw, "own") ? "our" : "the peer's",
				       !strcmp(fw, "own") ? "peer" : "owner",
				       num(s, "forwarded_frames"));
			if (str(s, "handover_error")[0])
				printf("last handover: %s\n", str(s, "handover_error"));
		}
	}
	if (conf) {
		json_t *f = failover_block(s);
		print_failover(f);
		json_decref(f);
	}
	json_t *rb = redis_block(ctx);
	print_redis(rb);
	json_decref(rb);
	if (num(s, "last_error"))
		printf("last change: a feature failed (%s): see the dataplane's log\n",
		       strerror((int)num(s, "last_error")));
	json_decref(s);
	return CTL_EXIT_OK;
}

static int do_change(struct ctl_ctx *ctx, bool take)
{
	int ex = CTL_EXIT_OK;
	json_t *s = tel(ctx, "/poprelay/ha/status", &ex);
	if (!s)
		return ex;
	long long before = num(s, "changes");
	bool was = num(s, "held") != 0, deferring = false;
	json_decref(s);
	json_t *v = tel(ctx, take ? "/poprelay/ha/takeover" : "/poprelay/ha/release", &ex);
	if (!v)
		return ex;
	json_decref(v);
	/* the control lcore applies it within a loop iteration (a takeover reads the peer's
	 * allocations from Redis first) */
	for (int i = 0; i < 100; i++) {
		s = tel(ctx, "/poprelay/ha/status", &ex);
		if (!s)
			return ex;
		bool held = num(s, "held") != 0;
		if (held == take && (was == take || num(s, "changes") > before)) {
			const char *a = json_string_value(json_object_get(s, "peer_addresses"));
			char detail[256];
			if (take)
				snprintf(detail, sizeof(detail), "%s: %lld TURN allocations", a,
					 num(s, "turn_allocations_taken"));
			else
				snprintf(detail, sizeof(detail), "%s", a);
			if (was == take)
				printf("%s %s already\n", a, take ? "held" : "released");
			else if (take)
				printf("took over %s (%lld TURN allocations)\n", a,
				       num(s, "turn_allocations_taken"));
			else
				printf("released %s\n", a);
			json_decref(s);
			if (was != take)
				ctl_audit(ctx, take ? "ha.takeover" : "ha.release", "peer", detail,
					  0);
			return CTL_EXIT_OK;
		}
		deferring = take && num(s, "takeover_deferring");
		json_decref(s);
		usleep(50 * 1000);
	}
	if (deferring) {
		/* Not an error: the dataplane goes on checking and takes over by itself once
		 * the peer's lease expires (a keepalived notify must not fail for it). */
		printf("takeover deferred: the peer's lease in redis is alive (it runs and sees "
		       "redis); the dataplane takes over once it expires\n");
		ctl_audit(ctx, "ha.takeover", "peer", "deferred", 0);
		return CTL_EXIT_OK;
	}
	ctl_err(ctx, "the dataplane did not %s the peer's addresses within 5 s",
		take ? "take over" : "release");
	return CTL_EXIT_ERR;
}

/* Waits for a queued handover to finish (the peer holds our addresses and we no longer
 * forward to it), printing what happens. */
int ctl_ha_handover(struct ctl_ctx *ctx)
{
	int ex = CTL_EXIT_OK;
	json_t *s = tel(ctx, "/poprelay/ha/status", &ex);
	if (!s)
		return ex;
	if (!num(s, "configured")) {
		json_decref(s);
		ctl_err(ctx,
			"drain --handover: no [ha] peer_ipv4/peer_ipv6 in the dataplane's "
			"configuration: no peer to hand over to (plain 'drain' drains in place)");
		return CTL_EXIT_USAGE;
	}
	if (!json_object_get(s, "handover")) {
		json_decref(s);
		ctl_err(ctx, "drain --handover: this dataplane cannot hand over (too old)");
		return CTL_EXIT_ERR;
	}
	if (!num(s, "own_served") && str(s, "own_held_by")[0]) {
		printf("handed over already: our addresses are held by the peer %s ('undrain' "
		       "takes them back)\n",
		       str(s, "own_held_by"));
		json_decref(s);
		return CTL_EXIT_OK;
	}
	long long max_ms = num(s, "handover_max_ms");
	json_decref(s);
	json_t *v = tel(ctx, "/poprelay/ha/handover", &ex);
	if (!v)
		return ex;
	json_decref(v);
	/* The peer takes over at its next lease refresh (a third of its lease; the dataplane
	 * withdraws the ask after 10 s), then we forward for up to handover_max_ms. */
	bool said = false;
	for (long long waited = 0; waited < 12000 + max_ms; waited += 50) {
		usleep(50 * 1000);
		if (!(s = tel(ctx, "/poprelay/ha/status", &ex)))
			return ex;
		const char *st = str(s, "handover");
		if (num(s, "pending")) {
			json_decref(s);
			continue;
		}
		if (!st[0]) {
			char why[200];
			snprintf(why, sizeof(why), "%s", str(s, "handover_error"));
			json_decref(s);
			ctl_err(ctx, "handover %s",
				why[0] ? why : "not done (see the dataplane's log)");
			ctl_audit(ctx, "drain.handover", "own", why, -EAGAIN);
			return CTL_EXIT_ERR;
		}
		if (!strcmp(st, "forwarding") && !said) {
			printf(
			    "the peer %s holds our addresses, media sessions and TURN allocations; "
			    "forwarding what still reaches us until none comes for %lld ms\n",
			    str(s, "own_held_by"), num(s, "handover_quiet_ms"));
			fflush(stdout);
			said = true;
		}
		if (!strcmp(st, "done")) {
			char detail[160];
			snprintf(detail, sizeof(detail), "to %s, %lld frames forwarded in %lld ms",
				 str(s, "own_held_by"), num(s, "forwarded_frames"),
				 num(s, "forwarded_ms"));
			printf("handed over %s\n", detail);
			json_decref(s);
			ctl_audit(ctx, "drain.handover", "own", detail, 0);
			return CTL_EXIT_OK;
		}
		json_decref(s);
	}
	ctl_err(ctx, "the handover did not finish in time: see 'poprelayctl ha status'");
	return CTL_EXIT_ERR;
}

static int do_failback(struct ctl_ctx *ctx)
{
	int ex = CTL_EXIT_OK;
	json_t *s = tel(ctx, "/poprelay/ha/status", &ex);
	if (!s)
		return ex;
	if (num(s, "own_served")) {
		printf("our own addresses are served already: nothing to fail back\n");
		json_decref(s);
		return CTL_EXIT_OK;
	}
	if (!str(s, "own_held_by")[0]) {
		ctl_err(ctx, "our own addresses are not held by the peer (waiting for redis): "
			     "nothing to ask");
		json_decref(s);
		return CTL_EXIT_ERR;
	}
	long long lease = num(s, "lease_ms");
	char holder[64];
	snprintf(holder, sizeof(holder), "%s", str(s, "own_held_by"));
	json_decref(s);
	json_t *v = tel(ctx, "/poprelay/ha/failback", &ex);
	if (!v)
		return ex;
	json_decref(v);
	/* The peer looks every third of its lease, releases, and we see it at our next
	 * refresh: two thirds of a lease, and some margin. */
	for (long long waited = 0; waited < 3 * lease + 2000; waited += 50) {
		if (!(s = tel(ctx, "/poprelay/ha/status", &ex)))
			return ex;
		bool served = num(s, "own_served") != 0;
		json_decref(s);
		if (served) {
			printf("failback: %s released our addresses; served again\n", holder);
			ctl_audit(ctx, "ha.failback", "own", holder, 0);
			return CTL_EXIT_OK;
		}
		usleep(50 * 1000);
	}
	printf("failback asked: %s has not released our addresses yet (is it running and "
	       "seeing redis?); it is asked again at every lease refresh\n",
	       holder);
	return CTL_EXIT_ERR;
}

/* undrain on an [ha] appliance: our addresses held by the peer (a handover, or a takeover
 * while we were away) come back as at ha failback. *done says whether there was anything
 * to take back; returns an exit code. */
int ctl_ha_undrain(struct ctl_ctx *ctx, bool *done)
{
	int ex = CTL_EXIT_OK;
	*done = false;
	json_t *s = tel(ctx, "/poprelay/ha/status", &ex);
	if (!s)
		return ex;
	bool held_by_peer =
	    num(s, "configured") && !num(s, "own_served") && str(s, "own_held_by")[0];
	json_decref(s);
	if (!held_by_peer)
		return CTL_EXIT_OK;
	*done = true;
	return do_failback(ctx);
}

int ctl_ha_main(struct ctl_ctx *ctx, int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		ha_usage(argc < 2 ? stderr : stdout, ctx);
		return argc < 2 ? CTL_EXIT_USAGE : CTL_EXIT_OK;
	}
	if (strcmp(argv[1], "sip-may-serve") == 0) {
		if (argc != 3) {
			ctl_err(ctx, "ha sip-may-serve: one argument, the SIP service address");
			return CTL_EXIT_USAGE;
		}
		return do_sip_may_serve(ctx, argv[2]);
	}
	if (argc > 2) {
		ctl_err(ctx, "ha %s: unexpected argument \"%s\"", argv[1], argv[2]);
		return CTL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "status") == 0)
		return do_status(ctx);
	if (strcmp(argv[1], "takeover") == 0)
		return do_change(ctx, true);
	if (strcmp(argv[1], "release") == 0)
		return do_change(ctx, false);
	if (strcmp(argv[1], "failback") == 0)
		return do_failback(ctx);
	ctl_err(ctx,
		"ha: unknown action \"%s\" (status, takeover, release, failback, sip-may-serve)",
		argv[1]);
	return CTL_EXIT_USAGE;
}
