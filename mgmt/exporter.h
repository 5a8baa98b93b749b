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

#include <stddef.h>

#define EXP_DEFAULT_LISTEN   "127.0.0.1:9469"
#define EXP_DEFAULT_PREFIX   "poprelay"
#define EXP_DEFAULT_CERT     "/etc/poprelay/tls/slowpath.crt"
#define EXP_REDIS_TIMEOUT_MS 1000
/* Each telemetry reply, once connected (the connect and greeting keep the client's own). */
#define EXP_TEL_TIMEOUT_MS 1000
/* The most Redis records one scrape looks into (registrations' transports, sessions'
 * calls): beyond it the by-transport and call figures are not rendered. */
#define EXP_REDIS_SCAN_MAX 20000
/* Password of the "exporter" ACL user, written by images/poprelay-setup-redis; used when
 * the config names none and -c was not given (the installed appliance). */
#define EXP_DEFAULT_PASSFILE "/etc/poprelay/redis-exporter.pass"

/* What a scrape reads, fixed at start. Every string is empty or NUL-terminated. */
struct exp_cfg {
	char prefix[64];	  /* [eal] file_prefix: the telemetry socket's directory */
	char redis_socket[108];	  /* [redis] socket */
	char redis_user[64];	  /* ACL user, "" for the default user */
	char redis_passfile[256]; /* "" for no AUTH */
	char cert[256];		  /* [sip] tls_cert */
};

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

#endif
