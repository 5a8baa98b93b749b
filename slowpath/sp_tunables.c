/* SPDX-License-Identifier: BSD-3-Clause */
/* Runtime tunables of the slowpath: see sp_tunables.h. */
#include "slowpath/sp_tunables.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "common/keyspace.h"
#include "common/log.h"
#include "common/redis.h"
#include "slowpath/sp_server.h"
#include "slowpath/sp_tls.h"

#define RETRY_MS 1000
/* after an attempt that failed slowly (a Redis that accepts connections but does not
 * answer: paused, overloaded), the next one waits this long: each holds the event loop, and
 * with it every device's requests, for the attempt's timeouts */
#define SLOW_RETRY_MS 5000
#define SLOW_MS	      200
#define REREAD_MS     10000 /* a safety net for an event lost between reconnects */
#define MAX_TUN	      64

/* Each slowpath tunable of pr_ks_tunables[] and the field of its configuration key. */
static const struct {
	const char *name;
	size_t off;
} fields[] = {
    {"sip.max_msg_bytes", offsetof(struct sp_config, max_message_bytes)},
    {"sip.rate_per_src", offsetof(struct sp_config, rate_limit_rps)},
    {"sip.auth_fail_max", offsetof(struct sp_config, lockout_failures)},
    {"sip.lockout_s", offsetof(struct sp_config, lockout_s)},
    {"sip.reg_min_expires_s", offsetof(struct sp_config, reg_min_expires_s)},
    {"sip.reg_max_expires_s", offsetof(struct sp_config, reg_max_expires_s)},
    {"sip.keepalive_s", offsetof(struct sp_config, keepalive_s)},
};

struct sp_tunables {
	struct sp_config file; /* as loaded: the values when pr:tunables holds none */
	struct pr_redis *sub;  /* SUBSCRIBE pr:events */
	struct event *ev_sub;
	int64_t last_try_ms, last_read_ms, retry_gap_ms;
	bool dirty, warned;
};

uint32_t *sp_tunable_field(struct sp_config *cfg, const char *name)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (!strcmp(fields[i].name, name))
			return (uint32_t *)((char *)cfg + fields[i].off);
	return NULL;
}

int sp_tunables_apply(struct sp_config *cfg, const struct sp_config *file, const int64_t *vals,
		      const bool *set, int64_t *in_force)
{
	uint32_t want[MAX_TUN];
	uint32_t *fld[MAX_TUN];
	int imin = -1, imax = -1, changed = 0;

	for (size_t i = 0; i < pr_ks_tunables_n && i < MAX_TUN; i++) {
		const char *name = pr_ks_tunables[i].name;
		fld[i] = sp_tunable_field(cfg, name);
		if (!fld[i])
			continue;
		want[i] =
		    set[i] ? (uint32_t)vals[i] : *sp_tunable_field((struct sp_config *)file, name);
		if (!strcmp(name, "sip.reg_min_expires_s"))
			imin = (int)i;
		else if (!strcmp(name, "sip.reg_max_expires_s"))
			imax = (int)i;
	}
	/* The registrar grants min..max: a pair that is no interval cannot hold. The one(s)
	 * that would change keep their value (in force, an interval already). */
	if (imin >= 0 && imax >= 0 && want[imin] > want[imax]) {
		PR_WARN(
		    "tunables: sip.reg_min_expires_s %u above sip.reg_max_expires_s %u refused: "
		    "%u and %u stay in force",
		    want[imin], want[imax], *fld[imin], *fld[imax]);
		want[imin] = *fld[imin];
		want[imax] = *fld[imax];
	}
	for (size_t i = 0; i < pr_ks_tunables_n && i < MAX_TUN; i++) {
		in_force[i] = INT64_MIN;
		if (!fld[i])
			continue;
		if (want[i] != *fld[i]) {
			PR_NOTICE("tunables: %s %u -> %u (%s)", pr_ks_tunables[i].name, *fld[i],
				  want[i], set[i] ? "pr:tunables" : "the configuration");
			*fld[i] = want[i];
			changed++;
		}
		in_force[i] = *fld[i];
	}
	return changed;
}

/* Reads pr:tunables, applies, reports. 0 or a negative errno (Redis). */
static int apply_all(struct sp_server *s)
{
	int64_t vals[MAX_TUN], in_force[MAX_TUN];
	bool set[MAX_TUN];
	char bad[256];
	int rc;

	if (pr_ks_tunables_n > MAX_TUN)
		return -E2BIG;
	rc = pr_ks_tunables_stored(s->redis, vals, set, bad, sizeof(bad));
	if (rc < 0)
		return rc;
	if (bad[0])
		PR_WARN("tunables: %s in %s: not an integer in range, the configuration's value "
			"holds",
			bad, PR_KS_TUNABLES_KEY);
	sp_tunables_apply(&s->cfg, &s->tun->file, vals, set, in_force);
	return pr_ks_tunables_report(s->redis, "slowpath", in_force);
}

/* pr:tunables and pr:drain (sp_drain.c), both followed on this subscriber. */
static void reread(struct sp_server *s, int64_t now_ms)
{
	if (apply_all(s) < 0 || sp_drain_reread(s) < 0) {
		s->ctr.redis_errors++;
		PR_WARN("tunables: redis: %s; trying again in a second", pr_ks_errmsg());
		s->tun->dirty = true;
		return;
	}
	s->tun->dirty = false;
	s->tun->last_read_ms = now_ms;
}

static void drop_sub(struct sp_tunables *t)
{
	if (t->ev_sub)
		event_free(t->ev_sub);
	pr_redis_close(t->sub);
	t->ev_sub = NULL;
	t->sub = NULL;
}

/* The subscriber's socket is readable: "tunables", "drain" or "tls-reload" messages, or the
 * connection is gone. */
static void sub_read(evutil_socket_t fd, short what, void *arg)
{
	struct sp_server *s = arg;
	unsigned ev;
	int n = pr_ks_events_poll(s->tun->sub, &ev);

	(void)fd, (void)what;
	if (ev & PR_KS_EV_TUNABLES)
		reread(s, sp_now_ms());
	else if ((ev & PR_KS_EV_DRAIN) && sp_drain_reread(s) < 0) {
		s->ctr.redis_errors++;
		PR_WARN("drain: redis: %s; trying again in a second", pr_ks_errmsg());
		s->tun->dirty = true;
	}
	if (ev & PR_KS_EV_TLS_RELOAD)
		sp_tls_reload(s, "poprelayctl");
	if (n >= 0)
		return;
	PR_WARN("tunables: lost the redis subscription; reconnecting");
	drop_sub(s->tun);
}

/* (Re)opens the subscriber; after it, pr:tunables is read again (whatever changed while we
 * were away). */
static void subscribe(struct sp_server *s, int64_t now_ms)
{
	struct sp_tunables *t = s->tun;

	if (t->last_try_ms &&
	    now_ms - t->last_try_ms < (t->retry_gap_ms ? t->retry_gap_ms : RETRY_MS))
		return;
	if (pr_redis_cooling(s->redis))
		return; /* Redis does not answer the loop's connection: not this one either */
	t->last_try_ms = now_ms ? now_ms : 1;
	t->sub =
	    pr_redis_open(s->cfg.redis_socket, s->cfg.redis_user, s->cfg.redis_password_file, 1000);
	t->retry_gap_ms = sp_now_ms() - now_ms >= SLOW_MS ? SLOW_RETRY_MS : RETRY_MS;
	if (t->sub && pr_ks_events_subscribe(t->sub) == 0)
		t->ev_sub =
		    event_new(s->base, pr_redis_ctx(t->sub)->fd, EV_READ | EV_PERSIST, sub_read, s);
	if (!t->ev_sub || event_add(t->ev_sub, NULL) < 0) {
		if (!t->warned)
			PR_WARN("tunables: cannot subscribe to %s on redis %s: the values in force "
				"hold until it can",
				PR_KS_EVENTS_CHANNEL, s->cfg.redis_socket);
		t->warned = true;
		drop_sub(t);
		return;
	}
	if (t->warned)
		PR_NOTICE("tunables: subscribed to %s again", PR_KS_EVENTS_CHANNEL);
	t->warned = false;
	reread(s, now_ms);
}

int sp_tunables_start(struct sp_server *s)
{
	s->tun = calloc(1, sizeof(*s->tun));
	if (!s->tun)
		return -ENOMEM;
	s->tun->file = s->cfg;
	subscribe(s, sp_now_ms());
	return 0;
}

void sp_tunables_tick(struct sp_server *s, int64_t now_ms)
{
	struct sp_tunables *t = s->tun;

	if (!t)
		return;
	if (pr_redis_stale(t->sub)) {
		/* a +switch-master: subscribed on the old primary, which is being demoted */
		PR_NOTICE("tunables: the redis primary moved (+switch-master): subscribing again");
		drop_sub(t);
		t->last_try_ms = 0;
	}
	if (!t->sub) {
		subscribe(s, now_ms);
		return;
	}
	if (t->dirty || now_ms - t->last_read_ms >= REREAD_MS)
		reread(s, now_ms);
}

void sp_tunables_stop(struct sp_server *s)
{
	if (!s->tun)
		return;
	drop_sub(s->tun);
	free(s->tun);
	s->tun = NULL;
}
