/* SPDX-License-Identifier: BSD-3-Clause */
/* poprelay-exporter's alarms (docs/alarms.md): a thread of its own, independent of the HTTP
 * server, evaluates the thresholds of [alarms] once a second against the figures a scrape
 * reads (the dataplane's telemetry, Redis, the certificate), raises and clears alarms with
 * hysteresis, logs each raise and clear once, and keeps Redis's copy in step:
 *
 *   pr:alarms:active  hash  name -> {"severity","since","value","threshold"}
 *   pr:alarms:log     stream, XADD MAXLEN ~ 10000: one entry per raise and per clear
 *
 * The exporter is the only writer of both. Its state lives here in memory: while Redis is
 * unreachable (an alarm of its own) the raises and clears wait in a bounded queue and are
 * written, with their own times, once it answers again; the hash is then rewritten whole,
 * so a restart of the exporter or of Redis leaves no stale entry behind.
 *
 * Ownership: the evaluator thread writes every field of `ev`; the scrape threads read the
 * alarm table under ev.lock (exp_alarms_render). */
#include "mgmt/exporter.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/redis.h"
#include "mgmt/ctl.h"
#include "mgmt/ha_redis.h"

#define ALARMS_ACTIVE_KEY "pr:alarms:active"
#define ALARMS_LOG_KEY	  "pr:alarms:log"
#define ALARMS_LOG_MAXLEN 10000
#define ALARM_MAX	  256  /* distinct alarm names (drop reasons, lcores, ...) */
#define PENDING_MAX	  1024 /* raises and clears waiting for Redis; the oldest go first */
#define EVAL_PERIOD_MS	  1000
/* Each evaluation waits at most this long on a hung dataplane or Redis. */
#define EVAL_TEL_TIMEOUT_MS   400
#define EVAL_REDIS_TIMEOUT_MS 400

/* Severities are syslog levels, as common/log.h names them. */
static const char *sev_name(int sev)
{
	return sev == PR_LOG_ERR ? "error" : "warning";
}

struct alarm {
	char name[64];
	int sev;
	bool active;
	int64_t since;	   /* UNIX seconds of the raise */
	double value;	   /* the figure when raised */
	double threshold;  /* the threshold it crossed */
	unsigned int good; /* consecutive evaluations at or beyond the clear level */
};

struct log_entry {
	int64_t ts;
	bool raise;
	char name[64];
	int sev;
	double value, threshold;
};

static struct {
	pthread_mutex_t lock; /* guards a[] and n against exp_alarms_render */
	pthread_cond_t wake;
	bool stop, started;
	pthread_t thread;
	const struct exp_cfg *cfg;
	struct alarm a[ALARM_MAX];
	size_t n;
	/* evaluator only */
	struct pr_redis *r;
	bool dirty; /* the hash differs from a[]: rewrite it */
	struct log_entry pending[PENDING_MAX];
	size_t npending;
	uint64_t lost; /* entries dropped from a full queue */
	bool redis_warned;
	json_t *prev_drops, *prev_lcores;
	double prev_t;
} ev = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .dirty = true};

/* ---- configuration ---- */
enum key_type { K_NUM, K_PCT, K_BOOL, K_COUNT };

static const struct {
	const char *key;
	enum key_type type;
	size_t off;
} alarm_keys[] = {
    {"drops_per_s", K_NUM, offsetof(struct exp_alarm_cfg, drops_per_s)},
    {"lcore_busy_percent", K_PCT, offsetof(struct exp_alarm_cfg, lcore_busy_percent)},
    {"media_capacity_percent", K_PCT, offsetof(struct exp_alarm_cfg, media_capacity_percent)},
    {"turn_capacity_percent", K_PCT, offsetof(struct exp_alarm_cfg, turn_capacity_percent)},
    {"cert_expiry_days", K_NUM, offsetof(struct exp_alarm_cfg, cert_expiry_days)},
    {"redis_unreachable", K_BOOL, offsetof(struct exp_alarm_cfg, redis_unreachable)},
    {"dataplane_unreachable", K_BOOL, offsetof(struct exp_alarm_cfg, dataplane_unreachable)},
    {"ha_peer_lost", K_BOOL, offsetof(struct exp_alarm_cfg, ha_peer_lost)},
    {"redis_replica_lost", K_BOOL, offsetof(struct exp_alarm_cfg, redis_replica_lost)},
    {"clear_percent", K_PCT, offsetof(struct exp_alarm_cfg, clear_percent)},
    {"clear_after", K_COUNT, offsetof(struct exp_alarm_cfg, clear_after)},
};

int exp_alarms_conf(const struct ctl_ctx *ctx, struct exp_alarm_cfg *a, char *why, size_t len)
{
	size_t i, j;

	*a = (struct exp_alarm_cfg){
	    .drops_per_s = 1000,
	    .lcore_busy_percent = 90,
	    .media_capacity_percent = 90,
	    .turn_capacity_percent = 90,
	    .cert_expiry_days = 14,
	    .redis_unreachable = true,
	    .dataplane_unreachable = true,
	    .ha_peer_lost = true,
	    .redis_replica_lost = true,
	    .clear_percent = 80,
	    .clear_after = 5,
	};
	for (i = 0; i < ctx->nconf; i++) {
		const struct ctl_conf_kv *kv = &ctx->conf[i];
		char *p = (char *)a, *end;
		double d;

		if (strcmp(kv->section, "alarms") != 0)
			continue;
		for (j = 0; j < sizeof(alarm_keys) / sizeof(alarm_keys[0]); j++)
			if (strcmp(kv->key, alarm_keys[j].key) == 0)
				break;
		if (j == sizeof(alarm_keys) / sizeof(alarm_keys[0])) {
			snprintf(why, len, "[alarms] %s: unknown key (docs/alarms.md lists them)",
				 kv->key);
			return -EINVAL;
		}
		p += alarm_keys[j].off;
		switch (alarm_keys[j].type) {
		case K_BOOL:
			if (ctl_parse_bool(kv->value, (bool *)p) < 0) {
				snprintf(why, len, "[alarms] %s: '%s' is not yes or no", kv->key,
					 kv->value);
				return -EINVAL;
			}
			break;
		case K_COUNT: {
			uint32_t u;
			if (ctl_parse_u32(kv->value, 3600, &u) < 0 || u == 0) {
				snprintf(why, len, "[alarms] %s: '%s' is not a count 1..3600",
					 kv->key, kv->value);
				return -EINVAL;
			}
			*(unsigned int *)p = u;
			break;
		}
		case K_NUM:
		case K_PCT:
			errno = 0;
			d = strtod(kv->value, &end);
			if (!kv->value[0] || *end || errno || !isfinite(d) || d < 0 ||
			    (alarm_keys[j].type == K_PCT && d > 100)) {
				snprintf(why, len, "[alarms] %s: '%s' is not a number %s", kv->key,
					 kv->value,
					 alarm_keys[j].type == K_PCT ? "0..100" : ">= 0");
				return -EINVAL;
			}
			*(double *)p = d;
			break;
		}
	}
	return 0;
}

/* ---- the alarm table ---- */
static struct alarm *find(const char *name, int sev)
{
	size_t i;

	for (i = 0; i < ev.n; i++)
		if (strcmp(ev.a[i].name, name) == 0)
			return &ev.a[i];
	if (ev.n == ALARM_MAX)
		return NULL;
	struct alarm *a = &ev.a[ev.n];
	memset(a, 0, sizeof(*a));
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->sev = sev;
	pthread_mutex_lock(&ev.lock);
	ev.n++;
	pthread_mutex_unlock(&ev.lock);
	return a;
}

static void queue(const struct alarm *a, bool raise, int64_t ts, double value)
{
	struct log_entry *e;

	if (ev.npending == PENDING_MAX) {
		memmove(&ev.pending[0], &ev.pending[1], (PENDING_MAX - 1) * sizeof(ev.pending[0]));
		ev.npending--;
		ev.lost++;
	}
	e = &ev.pending[ev.npending++];
	e->ts = ts;
	e->raise = raise;
	snprintf(e->name, sizeof(e->name), "%s", a->name);
	e->sev = a->sev;
	e->value = value;
	e->threshold = a->threshold;
}

/* One figure against its threshold. over: the alarm is for values above thr (else below).
 * Raised at the first evaluation beyond thr; cleared after clear_after consecutive
 * evaluations at or within the clear level (clear_percent of thr, or thr divided by it for
 * an alarm on low values). */
static void observe(const char *name, int sev, double value, double thr, bool over, int64_t now)
{
	const struct exp_alarm_cfg *c = &ev.cfg->alarms;
	struct alarm *a;
	bool bad, good;
	double clear;

	a = find(name, sev);
	if (a == NULL)
		return;
	if (over) {
		clear = thr * c->clear_percent / 100.0;
		bad = value > thr;
		good = value <= clear;
	} else {
		clear = c->clear_percent > 0 ? thr * 100.0 / c->clear_percent : INFINITY;
		bad = value < thr;
		good = value >= clear;
	}
	if (!a->active) {
		if (!bad)
			return;
		pthread_mutex_lock(&ev.lock);
		a->active = true;
		a->since = now;
		a->value = value;
		a->threshold = thr;
		a->good = 0;
		pthread_mutex_unlock(&ev.lock);
		pr_log(sev, "alarm raised: %s (%s, value %.2f, threshold %.2f)", name,
		       sev_name(sev), value, thr);
		queue(a, true, now, value);
		ev.dirty = true;
		return;
	}
	a->good = good ? a->good + 1 : 0;
	if (a->good < c->clear_after)
		return;
	pthread_mutex_lock(&ev.lock);
	a->active = false;
	pthread_mutex_unlock(&ev.lock);
	pr_log(PR_LOG_NOTICE,
	       "alarm cleared: %s (value %.2f, %u evaluations within the clear level %.2f, "
	       "raised %" PRId64 " s ago)",
	       name, value, a->good, clear, now - a->since);
	queue(a, false, now, value);
	ev.dirty = true;
}

/* A name made of [A-Za-z0-9_.-] only (drop reasons come from the dataplane). */
static void alarm_name(char *dst, size_t len, const char *prefix, const char *what)
{
	size_t j;

	snprintf(dst, len, "%s%s", prefix, what);
	for (j = strlen(prefix); dst[j]; j++)
		if (!isalnum((unsigned char)dst[j]) && dst[j] != '_' && dst[j] != '.' &&
		    dst[j] != '-')
			dst[j] = '_';
}

static int64_t jint(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static json_t *lcore_of(json_t *arr, int64_t id)
{
	size_t i;

	for (i = 0; i < json_array_size(arr); i++)
		if (jint(json_array_get(arr, i), "lcore") == id)
			return json_array_get(arr, i);
	return NULL;
}

/* Rates over the time since the previous evaluation; a counter that went down (a
 * restarted dataplane) gives no figure this time. */
static void eval_dataplane(struct exp_scrape *s, double t, int64_t now)
{
	const struct exp_alarm_cfg *c = &ev.cfg->alarms;
	double dt = t - ev.prev_t;
	char name[64];
	const char *k;
	json_t *v;
	size_t i;

	if (ev.prev_drops && s->drops && dt > 0.2 && c->drops_per_s > 0)
		json_object_foreach(s->drops, k, v)
		{
			json_t *p = json_object_get(ev.prev_drops, k);
			if (!json_is_integer(v) || !json_is_integer(p) ||
			    json_integer_value(v) < json_integer_value(p))
				continue;
			alarm_name(name, sizeof(name), "drops_", k);
			observe(name, PR_LOG_WARN,
				(double)(json_integer_value(v) - json_integer_value(p)) / dt,
				c->drops_per_s, true, now);
		}
	if (ev.prev_lcores && s->lcores && dt > 0.2 && c->lcore_busy_percent > 0)
		for (i = 0; i < json_array_size(s->lcores); i++) {
			json_t *l = json_array_get(s->lcores, i);
			json_t *p = lcore_of(ev.prev_lcores, jint(l, "lcore"));
			int64_t busy = jint(l, "busy_us") - jint(p, "busy_us");
			char id[24];
			if (p == NULL || busy < 0)
				continue;
			snprintf(id, sizeof(id), "%" PRId64, jint(l, "lcore"));
			alarm_name(name, sizeof(name), "lcore_busy_", id);
			observe(name, PR_LOG_WARN, 100.0 * (double)busy / (dt * 1e6),
				c->lcore_busy_percent, true, now);
		}
	if (s->media && jint(s->media, "capacity") > 0 && c->media_capacity_percent > 0)
		observe("media_sessions_capacity", PR_LOG_WARN,
			100.0 * (double)jint(s->media, "sessions") /
			    (double)jint(s->media, "capacity"),
			c->media_capacity_percent, true, now);
	if (s->turn && jint(s->turn, "capacity") > 0 && c->turn_capacity_percent > 0)
		observe("turn_allocations_capacity", PR_LOG_WARN,
			100.0 * (double)jint(s->turn, "allocations") /
			    (double)jint(s->turn, "capacity"),
			c->turn_capacity_percent, true, now);
}

/* ---- Redis ---- */
static bool redis_ping(void)
{
	const struct exp_cfg *cfg = ev.cfg;
	redisReply *rep;

	if (ev.r == NULL) {
		if (pr_redis_connect(&ev.r, cfg->redis_socket, EVAL_REDIS_TIMEOUT_MS) < 0)
			return false;
		if (cfg->redis_passfile[0] &&
		    pr_redis_auth(ev.r, cfg->redis_user[0] ? cfg->redis_user : NULL,
				  cfg->redis_passfile) < 0)
			goto fail;
	}
	rep = pr_redis_cmd(ev.r, "PING");
	if (rep && rep->type == REDIS_REPLY_STATUS) {
		freeReplyObject(rep);
		return true;
	}
	freeReplyObject(rep);
fail:
	pr_redis_close(ev.r);
	ev.r = NULL;
	return false;
}

/* The hash rewritten whole and the queued log entries appended, in one transaction. */
static void redis_sync(void)
{
	struct pr_redis_tx *tx;
	char json[256];
	size_t i;
	int rc;

	if (!ev.dirty && ev.npending == 0)
		return;
	tx = pr_redis_tx_new();
	if (tx == NULL)
		return;
	pr_redis_tx_add(tx, "DEL %s", ALARMS_ACTIVE_KEY);
	for (i = 0; i < ev.n; i++) {
		const struct alarm *a = &ev.a[i];
		if (!a->active)
			continue;
		snprintf(json, sizeof(json),
			 "{\"severity\":\"%s\",\"since\":%" PRId64
			 ",\"value\":%.2f,\"threshold\":%.2f}",
			 sev_name(a->sev), a->since, a->value, a->threshold);
		pr_redis_tx_add(tx, "HSET %s %s %s", ALARMS_ACTIVE_KEY, a->name, json);
	}
	for (i = 0; i < ev.npending; i++) {
		const struct log_entry *e = &ev.pending[i];
		char ts[24], val[32], thr[32];
		snprintf(ts, sizeof(ts), "%" PRId64, e->ts);
		snprintf(val, sizeof(val), "%.2f", e->value);
		snprintf(thr, sizeof(thr), "%.2f", e->threshold);
		pr_redis_tx_add(tx,
				"XADD %s MAXLEN ~ %d * v 1 ts %s event %s alarm %s severity %s "
				"value %s threshold %s",
				ALARMS_LOG_KEY, ALARMS_LOG_MAXLEN, ts, e->raise ? "raise" : "clear",
				e->name, sev_name(e->sev), val, thr);
	}
	rc = pr_redis_tx_run(ev.r, tx, NULL);
	pr_redis_tx_free(tx);
	if (rc < 0) {
		if (!ev.redis_warned)
			PR_WARN("alarms: cannot write %s and %s: %s (kept in memory, retried "
				"every second)",
				ALARMS_ACTIVE_KEY, ALARMS_LOG_KEY,
				rc == -EIO ? pr_redis_errmsg(ev.r) : strerror(-rc));
		ev.redis_warned = true;
		return;
	}
	if (ev.lost)
		PR_WARN("alarms: %" PRIu64 " raise/clear entries were lost while Redis was "
			"unreachable (queue of %d)",
			ev.lost, PENDING_MAX);
	ev.redis_warned = false;
	ev.lost = 0;
	ev.dirty = false;
	ev.npending = 0;
}

/* [ha] and Redis's replication, read while Redis answers (an unreachable Redis is an alarm
 * of its own; these keep their state meanwhile). Values are counts against a threshold of
 * 0, so the usual hysteresis clears them after clear_after good evaluations. */
static void eval_ha(int64_t now)
{
	const struct exp_cfg *cfg = ev.cfg;
	static bool warned; /* a refused read (the ACL user lacks EXISTS or INFO): said once */
	bool failed = false;
	char why[256];

	if (cfg->alarms.ha_peer_lost && cfg->ha_peer[0]) {
		int alive = ha_peer_alive(ev.r, cfg->ha_peer, why, sizeof(why));
		if (alive >= 0)
			observe("ha_peer_lost", PR_LOG_ERR, alive ? 0 : 1, 0, true, now);
		else
			failed = true;
	}
	if (!failed && cfg->alarms.redis_replica_lost && cfg->replicas_wanted > 0) {
		struct ha_repl rp;
		if (ha_repl_read(ev.r, &rp, why, sizeof(why)) < 0)
			failed = true;
		else {
			int online = 0;
			for (int i = 0; i < rp.n; i++)
				online += !strcmp(rp.r[i].state, "online");
			/* a replica still syncing is no copy yet */
			int missing = cfg->replicas_wanted - (rp.n ? online : rp.connected);
			observe("redis_replica_lost", PR_LOG_ERR, missing > 0 ? missing : 0, 0,
				true, now);
		}
	}
	if (failed && !warned)
		PR_WARN("alarms: ha_peer_lost / redis_replica_lost not evaluated: %s", why);
	warned = failed;
}

/* ---- the evaluator ---- */
static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void evaluate(void)
{
	const struct exp_alarm_cfg *c = &ev.cfg->alarms;
	struct exp_scrape s = {0};
	int64_t now = (int64_t)time(NULL);
	double t;
	bool redis_ok;

	s.ports_free = s.ports_total = -1;
	exp_read_dataplane(ev.cfg, &s, EVAL_TEL_TIMEOUT_MS);
	t = mono_s();
	redis_ok = redis_ping();
	if (redis_ok) {
		s.redis_up = true; /* exp_read_ports_pool's commands run only while it is */
		exp_read_ports_pool(ev.r, &s);
	}
	exp_read_cert(ev.cfg, &s);

	if (c->dataplane_unreachable)
		observe("dataplane_unreachable", PR_LOG_ERR, s.dp_up ? 0 : 1, 0, true, now);
	if (c->redis_unreachable)
		observe("redis_unreachable", PR_LOG_ERR, redis_ok ? 0 : 1, 0, true, now);
	if (s.dp_up)
		eval_dataplane(&s, t, now);
	if (s.ports_total > 0 && c->media_capacity_percent > 0)
		observe("media_ports_capacity", PR_LOG_WARN,
			100.0 * (double)(s.ports_total - s.ports_free) / (double)s.ports_total,
			c->media_capacity_percent, true, now);
	if (s.cert_state > 0 && c->cert_expiry_days > 0)
		observe("tls_cert_expiring", PR_LOG_WARN, (double)s.cert_left_s / 86400.0,
			c->cert_expiry_days, false, now);
	if (redis_ok)
		eval_ha(now);
	if (redis_ok)
		redis_sync();

	/* the baseline of the next rates: none when the dataplane did not answer */
	json_decref(ev.prev_drops);
	json_decref(ev.prev_lcores);
	ev.prev_drops = s.dp_up ? json_incref(s.drops) : NULL;
	ev.prev_lcores = s.dp_up ? json_incref(s.lcores) : NULL;
	ev.prev_t = t;
	exp_scrape_free(&s);
}

static void *evaluator(void *arg)
{
	struct timespec next;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &next);
	pthread_mutex_lock(&ev.lock);
	while (!ev.stop) {
		struct timespec now;
		pthread_mutex_unlock(&ev.lock);
		evaluate();
		/* every second from the previous start; after a slow one (a hung source),
		 * one second from now */
		next.tv_sec += EVAL_PERIOD_MS / 1000;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > next.tv_sec ||
		    (now.tv_sec == next.tv_sec && now.tv_nsec > next.tv_nsec)) {
			next = now;
			next.tv_sec += EVAL_PERIOD_MS / 1000;
		}
		pthread_mutex_lock(&ev.lock);
		while (!ev.stop && pthread_cond_timedwait(&ev.wake, &ev.lock, &next) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&ev.lock);
	return NULL;
}

int exp_alarms_start(const struct exp_cfg *cfg)
{
	pthread_condattr_t ca;
	int rc;

	ev.cfg = cfg;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_destroy(&ev.wake);
	pthread_cond_init(&ev.wake, &ca);
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&ev.thread, NULL, evaluator, NULL);
	if (rc)
		return -rc;
	ev.started = true;
	return 0;
}

void exp_alarms_stop(void)
{
	if (!ev.started)
		return;
	pthread_mutex_lock(&ev.lock);
	ev.stop = true;
	pthread_cond_signal(&ev.wake);
	pthread_mutex_unlock(&ev.lock);
	pthread_join(ev.thread, NULL);
	ev.started = false;
	pr_redis_close(ev.r);
	ev.r = NULL;
	json_decref(ev.prev_drops);
	json_decref(ev.prev_lcores);
}

/* ---- metrics ---- */
void exp_alarms_render(struct exp_out *o)
{
	size_t i;

	exp_out_printf(o, "# HELP poprelay_alarm_active 1 for each active alarm (docs/alarms.md).\n"
			  "# TYPE poprelay_alarm_active gauge\n");
	pthread_mutex_lock(&ev.lock);
	for (i = 0; i < ev.n; i++)
		if (ev.a[i].active)
			exp_out_printf(o, "poprelay_alarm_active{alarm=\"%s\",severity=\"%s\"} 1\n",
				       ev.a[i].name, sev_name(ev.a[i].sev));
	pthread_mutex_unlock(&ev.lock);
}
