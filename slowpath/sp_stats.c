/* SPDX-License-Identifier: BSD-3-Clause */
/* The slowpath's statistics channel: every counter of struct sp_counters, and pid,
 * started_ms, updated_ms, stopped_ms and instance (its name among the PoP's slowpaths,
 * pr:slowpath:*), written to the hash pr:stats:slowpath:<pop>:<[sip] instance, default the
 * host's name> once a second by one HSET (docs/slowpath.md): one hash per slowpath, where
 * the PoP's slowpaths overwrote each other's counters in one before. poprelay-exporter renders them
 * and judges the slowpath up while updated_ms is fresh; `poprelayctl status` shows their age.
 *
 * One HSET per second on the synchronous connection the slowpath already uses for its
 * other Redis calls: it blocks the loop no longer than any of those (the connection's
 * timeout bounds it). A failure costs a log line when publishing starts failing and one
 * when it recovers; the next second tries again. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "slowpath/sp_server.h"

#define F(x)                                                                                       \
	{                                                                                          \
#x, offsetof(struct sp_counters, x)                                                \
	}
const struct sp_counter_field sp_counter_fields[] = {
    F(rx_msgs),
    F(rx_dropped_unparseable),
    F(rx_answered_400),
    F(rx_too_large),
    F(keepalive_pongs),
    F(conns_open),
    F(conns_accepted),
    F(conns_refused),
    F(conns_idle_closed),
    F(tls_failed),
    F(reg_ok),
    F(reg_unreg),
    F(reg_challenged),
    F(reg_auth_failed),
    F(reg_stale),
    F(reg_replayed),
    F(reg_plain_refused),
    F(reg_unknown_user),
    F(lockout_refused),
    F(rate_limited),
    F(scanner_refused),
    F(calls_started),
    F(calls_answered),
    F(calls_failed),
    F(calls_refused_488),
    F(calls_refused_no_dtls),
    F(calls_ended),
    F(calls_flow_lost),
    F(calls_timeout),
    F(calls_media_timeout),
    F(calls_plain_refused),
    F(calls_refused_drain),
    F(reg_refused_drain),
    F(calls_ended_drain),
    F(calls_restored),
    F(calls_restore_ended),
    F(redis_errors),
    F(redis_unavailable),
    F(tls_reloads),
    F(tls_reload_failed),
    F(ws_open),
    F(ws_upgrades),
    F(ws_refused_malformed),
    F(ws_refused_method),
    F(ws_refused_version),
    F(ws_refused_protocol),
    F(ws_refused_origin),
    F(ws_refused_too_large),
    F(ws_msgs_rx),
    F(ws_msgs_tx),
    F(ws_pings_tx),
    F(ws_pongs_tx),
    F(ws_closed_by_peer),
    F(ws_close_1002),
    F(ws_close_1007),
    F(ws_close_1009),
    F(ws_idle_closed),
};
#undef F
const size_t sp_n_counter_fields = sizeof(sp_counter_fields) / sizeof(sp_counter_fields[0]);

const char *const sp_req_methods[SP_REQ_METHODS] = {"REGISTER", "INVITE", "ACK",  "BYE",  "CANCEL",
						    "OPTIONS",	"UPDATE", "INFO", "other"};

unsigned sp_req_method_index(const char *method)
{
	for (unsigned i = 0; i + 1 < SP_REQ_METHODS; i++)
		if (method && strcmp(method, sp_req_methods[i]) == 0)
			return i;
	return SP_REQ_METHODS - 1;
}

/* UNIX milliseconds: the readers compare them with their own clock (sp_now_ms is
 * monotonic) */
static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* scalars, tls_open, per-method and per-class counts, calls_active, 4 process fields,
 * instance */
#define STATS_FIELDS (sp_n_counter_fields + 1 + SP_REQ_METHODS + 12 + 1 + 4 + 1)
#define STATS_MAX    100

static void publish(struct sp_server *s, int64_t stopped_ms)
{
	static char names[STATS_MAX][32], vals[STATS_MAX][24];
	const char *argv[2 + 2 * STATS_MAX];
	size_t n = 0, i;
	const struct sp_counters *c = &s->ctr;

#define PUT(fmt, name, v)                                                                          \
	do {                                                                                       \
		snprintf(names[n], sizeof(names[n]), fmt, name);                                   \
		snprintf(vals[n], sizeof(vals[n]), "%" PRIu64, (uint64_t)(v));                     \
		n++;                                                                               \
	} while (0)
	for (i = 0; i < sp_n_counter_fields; i++)
		PUT("%s", sp_counter_fields[i].name,
		    *(const uint64_t *)((const char *)c + sp_counter_fields[i].off));
	PUT("%s", "tls_open", c->tls_open);
	for (i = 0; i < SP_REQ_METHODS; i++)
		PUT("req_%s", sp_req_methods[i], c->rx_req[i]);
	for (i = 0; i < 6; i++) {
		PUT("resp_rx_%zuxx", i + 1, c->rx_resp[i]);
		PUT("resp_tx_%zuxx", i + 1, c->tx_resp[i]);
	}
	PUT("%s", "calls_active", sp_call_count(s));
	PUT("%s", "pid", getpid());
	PUT("%s", "started_ms", s->stats_started_ms);
	PUT("%s", "updated_ms", wall_ms());
	PUT("%s", "stopped_ms", stopped_ms);
#undef PUT
	argv[0] = "HSET";
	argv[1] = s->stats_key;
	for (i = 0; i < n; i++) {
		for (char *p = names[i]; *p; p++) /* req_register, ...: fields are lowercase */
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		argv[2 + 2 * i] = names[i];
		argv[3 + 2 * i] = vals[i];
	}
	if (s->sp_id[0]) {
		argv[2 + 2 * n] = "instance";
		argv[3 + 2 * n] = s->sp_id;
		n++;
	}
	redisReply *rep = pr_redis_cmdargv(s->redis, (int)(2 + 2 * n), argv, NULL);
	bool ok = rep && rep->type == REDIS_REPLY_INTEGER;
	if (!ok) {
		s->ctr.redis_errors++;
		if (!s->stats_failing)
			PR_WARN("stats: HSET %s: %s", s->stats_key,
				rep && rep->type == REDIS_REPLY_ERROR ? rep->str
								      : pr_redis_errmsg(s->redis));
	} else if (s->stats_failing) {
		PR_NOTICE("stats: publishing to %s again", s->stats_key);
	}
	s->stats_failing = !ok;
	freeReplyObject(rep);
}

/* Two live slowpaths with one [sip] instance (by default the host's name: two on one host,
 * or two hosts of one name) would overwrite each other's counters again: said at the start
 * when the hash was written within the lease by another instance whose lease lives (or by
 * this appliance's previous slowpath, killed less than a lease ago). */
static void another_writer(struct sp_server *s)
{
	redisReply *r =
	    pr_redis_cmd(s->redis, "HMGET %s updated_ms stopped_ms instance", s->stats_key);
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[2]->type != REDIS_REPLY_STRING || !s->sp_id[0]) {
		freeReplyObject(r);
		return;
	}
	int64_t age = wall_ms() - strtoll(r->element[0]->str, NULL, 10);
	bool stopped =
	    r->element[1]->type == REDIS_REPLY_STRING && strtoll(r->element[1]->str, NULL, 10) != 0;
	char other[80];
	snprintf(other, sizeof(other), "%s", r->element[2]->str);
	freeReplyObject(r);
	if (stopped || age > SP_LEASE_MS || !strcmp(other, s->sp_id))
		return;
	r = pr_redis_cmd(s->redis, "EXISTS pr:slowpath:alive:%s", other);
	if (r && r->type == REDIS_REPLY_INTEGER && r->integer == 1)
		PR_WARN("stats: %s was written %.1f s ago by the live slowpath instance %s: unless "
			"that was this appliance's previous slowpath, two slowpaths share [sip] "
			"instance and overwrite each other's counters (give each its own)",
			s->stats_key, (double)age / 1000, other);
	freeReplyObject(r);
}

static void stats_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	publish(arg, 0);
}

int sp_stats_start(struct sp_server *s)
{
	if (STATS_FIELDS > STATS_MAX)
		return -EOVERFLOW;
	if (pr_ks_slowpath_stats_key(s->stats_key, sizeof(s->stats_key), s->cfg.pop,
				     s->cfg.instance) < 0)
		return -ENAMETOOLONG;
	s->stats_started_ms = wall_ms();
	another_writer(s);
	struct timeval sec = {.tv_sec = 1};
	s->ev_stats = event_new(s->base, -1, EV_PERSIST, stats_cb, s);
	if (!s->ev_stats)
		return -ENOMEM;
	event_add(s->ev_stats, &sec);
	publish(s, 0); /* at once: `poprelayctl status` need not wait a second */
	return 0;
}

void sp_stats_stop(struct sp_server *s)
{
	if (!s->ev_stats)
		return;
	event_free(s->ev_stats);
	s->ev_stats = NULL;
	publish(s, wall_ms());
}
