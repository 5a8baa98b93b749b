/* SPDX-License-Identifier: BSD-3-Clause */
/* poprelay-exporter: the appliance's figures in the Prometheus text exposition format
 * (version 0.0.4) on GET /metrics, read afresh on every scrape from the dataplane's
 * telemetry socket, Redis and the slowpath's certificate file (docs/metrics.md).
 *
 * exporter.c owns the process (options, configuration, the libmicrohttpd listener);
 * exporter_metrics.c gathers and renders one scrape. A scrape never blocks on a process
 * that is down or hung for longer than the timeouts below: such a source renders as
 * poprelay_up{process="..."} 0 and its figures are left out. */
#ifndef POPRELAY_MGMT_EXPORTER_H
#define POPRELAY_MGMT_EXPORTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct pr_redis;

#define EXP_DEFAULT_LISTEN "127.0.0.1:9469"
#define EXP_DEFAULT_PREFIX "poprelay"
#define EXP_DEFAULT_CERT   "/etc/poprelay/tls/slowpath.crt"
#define EXP_DEFAULT_POP	   "pop1" /* the slowpath's default [sip] pop */
/* The slowpath is up while its stats hash was updated this recently (it writes every 1 s). */
#define EXP_SLOWPATH_FRESH_MS 3000
#define EXP_REDIS_TIMEOUT_MS  1000
/* A scrape's telemetry connect and greeting, and each reply after them. */
#define EXP_TEL_TIMEOUT_MS 1000
/* The most Redis records one scrape looks into (registrations' transports, sessions'
 * calls): beyond it the by-transport and call figures are not rendered. */
#define EXP_REDIS_SCAN_MAX 20000
/* Password of the "exporter" ACL user, written by images/poprelay-setup-redis; used when
 * the config names none and -c was not given (the installed appliance). */
#define EXP_DEFAULT_PASSFILE "/etc/poprelay/redis-exporter.pass"

/* [alarms]: thresholds of the alarm evaluator (exporter_alarms.c, docs/alarms.md). A
 * threshold of 0 turns its alarm off. */
struct exp_alarm_cfg {
	double drops_per_s;	       /* drops of one reason per second */
	double lcore_busy_percent;     /* share of the last second an lcore spent busy */
	double media_capacity_percent; /* media port pool or session table in use */
	double turn_capacity_percent;  /* TURN allocation table in use */
	double cert_expiry_days;       /* days left on [sip] tls_cert */
	bool redis_unreachable;	       /* alarm when Redis does not answer a PING */
	bool dataplane_unreachable;    /* alarm when the dataplane's telemetry does not answer */
	bool ha_peer_lost;	       /* alarm when the [ha] peer's lease is gone from Redis */
	bool redis_replica_lost;       /* alarm when the primary has too few replicas */
	double clear_percent;	       /* clear level, percent of the threshold */
	unsigned int clear_after;      /* consecutive evaluations at or below it to clear */
};

/* What a scrape reads, fixed at start. Every string is empty or NUL-terminated. */
struct exp_cfg {
	char prefix[64];	  /* [eal] file_prefix: the telemetry socket's directory */
	char redis_socket[256];	  /* [redis] socket, or the sentinel target of [redis] sentinels */
	char redis_user[64];	  /* ACL user, "" for the default user */
	char redis_passfile[256]; /* "" for no AUTH */
	char cert[256];		  /* [sip] tls_cert */
	char pop[64];		  /* [sip] pop */
	char sp_stats_key[192];	  /* this appliance's slowpath's stats:
				     pr:stats:slowpath:<pop>:<instance> */
	char ha_peer[64];	  /* the [ha] peer's set (ha_peer_name), "" without [ha] peer */
	int replicas_wanted;	  /* [redis] wait_replicas, else 1 under sentinels, else 0 */
	struct exp_alarm_cfg alarms;
};

/* What one gathering read (a scrape, or one evaluation of the alarms). */
struct exp_scrape {
	bool dp_up;
	json_t *info, *stats, *drops, *lcores, *ports, *turn, *media; /* NULL: not answered */

	bool redis_up;
	int64_t users, regs, turn_allocs, sessions, cdrs; /* -1: not read */
	int64_t regs_by[4];		 /* tls, tcp, udp, other; [0] -1: not read */
	int64_t calls;			 /* -1: not read */
	int64_t ports_free, ports_total; /* the media port pool (pairs); -1: not read */

	int cert_state; /* 0 no file configured, 1 read, -1 unreadable */
	int64_t cert_left_s;
};

/* The dataplane's figures into s (tel_timeout_ms bounds the connect, the greeting and each
 * reply). */
void exp_read_dataplane(const struct exp_cfg *cfg, struct exp_scrape *s, int tel_timeout_ms);
void exp_read_cert(const struct exp_cfg *cfg, struct exp_scrape *s);
/* The media port pool's size and free pairs (pr:ports:range, pr:ports:free) over r. */
void exp_read_ports_pool(struct pr_redis *r, struct exp_scrape *s);
void exp_scrape_free(struct exp_scrape *s);

/* A growing text buffer; on allocation failure it stops growing and sets failed. */
struct exp_out {
	char *buf;
	size_t len, cap;
	int failed;
};

void exp_out_printf(struct exp_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void exp_out_free(struct exp_out *o);

/* One scrape: every metric family into o. Returns 0, or -ENOMEM (o->failed). */
int exp_render(const struct exp_cfg *cfg, struct exp_out *o);

/* Alarms (exporter_alarms.c): parse [alarms] of the configuration into a (defaults for
 * what it does not set). Returns 0, or -EINVAL with why naming the key. */
struct ctl_ctx;
int exp_alarms_conf(const struct ctl_ctx *ctx, struct exp_alarm_cfg *a, char *why, size_t len);
/* Starts the evaluator thread (one evaluation per second, independent of the HTTP
 * server). Returns 0 or -errno. */
int exp_alarms_start(const struct exp_cfg *cfg);
void exp_alarms_stop(void);
/* poprelay_alarm_active: one sample per active alarm. */
void exp_alarms_render(struct exp_out *o);

#endif
