/* SPDX-License-Identifier: BSD-3-Clause */
/* One scrape of poprelay-exporter: read the dataplane's telemetry, Redis and the slowpath's
 * certificate, then render every family in the Prometheus text format. Names and meanings
 * are listed in docs/metrics.md; keep the two together.
 *
 * Everything is read before anything is rendered, because a family's samples must be
 * contiguous (one HELP/TYPE, then every lcore's or port's sample). Nothing rendered is a
 * secret: counters, counts of records, addresses of our own ports, a certificate's date. */
#include "mgmt/exporter.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/keyspace.h"
#include "common/redis.h"
#include "mgmt/telemetry_client.h"

/* ---- output ---- */
void exp_out_printf(struct exp_out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->failed)
		return;
	for (;;) {
		size_t room = o->cap - o->len;
		va_start(ap, fmt);
		n = vsnprintf(o->buf ? o->buf + o->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->failed = 1;
			return;
		}
		if ((size_t)n < room) {
			o->len += (size_t)n;
			return;
		}
		size_t cap = o->cap ? o->cap * 2 : 16384;
		while (cap < o->len + (size_t)n + 1)
			cap *= 2;
		char *b = realloc(o->buf, cap);
		if (b == NULL) {
			o->failed = 1;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
}

void exp_out_free(struct exp_out *o)
{
	free(o->buf);
	memset(o, 0, sizeof(*o));
}

static void family(struct exp_out *o, const char *name, const char *type, const char *help)
{
	exp_out_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* labels: "" or `k="v",k2="v2"` already escaped. */
static void sample_i(struct exp_out *o, const char *name, const char *labels, int64_t v)
{
	if (labels[0])
		exp_out_printf(o, "%s{%s} %" PRId64 "\n", name, labels, v);
	else
		exp_out_printf(o, "%s %" PRId64 "\n", name, v);
}

static void sample_d(struct exp_out *o, const char *name, const char *labels, double v)
{
	if (labels[0])
		exp_out_printf(o, "%s{%s} %.6f\n", name, labels, v);
	else
		exp_out_printf(o, "%s %.6f\n", name, v);
}

static void one(struct exp_out *o, const char *name, const char *type, const char *help, int64_t v)
{
	family(o, name, type, help);
	sample_i(o, name, "", v);
}

/* A label value: backslash, double quote and line feed escaped (the format's rules). */
static void esc(char *dst, size_t len, const char *s)
{
	size_t j = 0;

	for (; s && *s && j + 3 < len; s++) {
		if (*s == '\\' || *s == '"') {
			dst[j++] = '\\';
			dst[j++] = *s;
		} else if (*s == '\n') {
			dst[j++] = '\\';
			dst[j++] = 'n';
		} else {
			dst[j++] = *s;
		}
	}
	dst[j] = '\0';
}

/* ---- what one scrape read (struct exp_scrape, exporter.h) ---- */
static const char *const reg_transports[4] = {"tls", "tcp", "udp", "other"};

static int64_t jint(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static const char *jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : "";
}

/* ---- the dataplane ---- */
struct tel {
	struct ctl_tel t;
	bool broken; /* an I/O error: the rest of the scrape does not wait on it again */
};

static json_t *tel_get(struct tel *t, const char *cmd)
{
	json_t *v;
	int err;

	if (t->broken)
		return NULL;
	v = ctl_tel_query(&t->t, cmd, &err);
	/* -EINVAL: the dataplane answered null (a feature it does not run); anything else
	 * is the connection failing. */
	if (v == NULL && err != -EINVAL)
		t->broken = true;
	return v;
}

/* Every item of a listed kind: /poprelay/<kind>s gives the ids under "<kind>", then
 * /poprelay/<kind>,ID each; an array of the answers. */
static json_t *tel_each(struct tel *t, const char *kind)
{
	json_t *all = json_array(), *list, *ids;
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "/poprelay/%ss", kind);
	list = tel_get(t, cmd);
	ids = json_object_get(list, kind);
	for (size_t i = 0; i < json_array_size(ids); i++) {
		snprintf(cmd, sizeof(cmd), "/poprelay/%s,%" PRId64, kind,
			 (int64_t)json_integer_value(json_array_get(ids, i)));
		json_t *one = tel_get(t, cmd);
		if (one)
			json_array_append_new(all, one);
	}
	json_decref(list);
	return all;
}

void exp_read_dataplane(const struct exp_cfg *cfg, struct exp_scrape *s, int tel_timeout_ms)
{
	struct tel t = {0};

	if (ctl_tel_open_timeout(&t.t, cfg->prefix, tel_timeout_ms) < 0)
		return;
	s->info = tel_get(&t, "/poprelay/info");
	if (s->info == NULL)
		goto out;
	s->stats = tel_get(&t, "/poprelay/stats");
	s->drops = tel_get(&t, "/poprelay/drops");
	s->lcores = tel_each(&t, "lcore");
	s->ports = tel_each(&t, "port");
	s->turn = tel_get(&t, "/poprelay/turn/stats");
	s->media = tel_get(&t, "/poprelay/media/stats");
	/* Up means it answered the whole scrape, not that it started one. */
	s->dp_up = !t.broken;
out:
	ctl_tel_close(&t.t);
}

/* ---- Redis ---- */
static redisReply *rcmd(struct pr_redis *r, struct exp_scrape *s, const char *fmt, ...)
{
	redisReply *rep;
	va_list ap;

	if (!s->redis_up)
		return NULL;
	va_start(ap, fmt);
	rep = redisvCommand(pr_redis_ctx(r), fmt, ap);
	va_end(ap);
	if (rep == NULL) {
		s->redis_up = false; /* timeout or I/O error: no more waiting this scrape */
		return NULL;
	}
	if (rep->type == REDIS_REPLY_ERROR) { /* e.g. NOPERM: this figure only */
		freeReplyObject(rep);
		return NULL;
	}
	return rep;
}

static int64_t rint_cmd(struct pr_redis *r, struct exp_scrape *s, const char *fmt, const char *key,
			const char *arg)
{
	redisReply *rep = arg ? rcmd(r, s, fmt, key, arg) : rcmd(r, s, fmt, key);
	int64_t v = -1;

	if (rep && rep->type == REDIS_REPLY_INTEGER)
		v = rep->integer;
	freeReplyObject(rep);
	return v;
}

/* HGET field of prefix<member> for each member of arr, pipelined: replies[i] or NULL. */
static redisReply **hget_each(struct pr_redis *r, struct exp_scrape *s, const redisReply *arr,
			      const char *prefix, const char *field)
{
	redisContext *c = pr_redis_ctx(r);
	redisReply **out = calloc(arr->elements ? arr->elements : 1, sizeof(*out));
	size_t i;

	if (out == NULL)
		return NULL;
	for (i = 0; i < arr->elements; i++)
		redisAppendCommand(c, "HGET %s%s %s", prefix, arr->element[i]->str, field);
	for (i = 0; i < arr->elements; i++) {
		void *rep = NULL;
		if (redisGetReply(c, &rep) != REDIS_OK) {
			s->redis_up = false;
			break;
		}
		out[i] = rep;
	}
	if (!s->redis_up) {
		for (i = 0; i < arr->elements; i++)
			freeReplyObject(out[i]);
		free(out);
		return NULL;
	}
	return out;
}

static void free_each(redisReply **reps, size_t n)
{
	if (reps == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		freeReplyObject(reps[i]);
	free(reps);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void read_regs(struct pr_redis *r, struct exp_scrape *s, const char *now)
{
	redisReply *arr, **tr;
	size_t i;

	s->regs = rint_cmd(r, s, "ZCOUNT %s %s +inf", PR_KS_REGS_KEY, now);
	if (s->regs < 0 || s->regs > EXP_REDIS_SCAN_MAX)
		return;
	arr = rcmd(r, s, "ZRANGEBYSCORE %s %s +inf", PR_KS_REGS_KEY, now);
	if (arr == NULL || arr->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(arr);
		return;
	}
	tr = hget_each(r, s, arr, PR_KS_REG_PREFIX, "transport");
	if (tr) {
		memset(s->regs_by, 0, sizeof(s->regs_by));
		for (i = 0; i < arr->elements; i++) {
			const char *t =
			    tr[i] && tr[i]->type == REDIS_REPLY_STRING ? tr[i]->str : "";
			int k = 3;
			for (int j = 0; j < 3; j++)
				if (strcmp(t, reg_transports[j]) == 0)
					k = j;
			s->regs_by[k]++;
		}
	}
	free_each(tr, arr->elements);
	freeReplyObject(arr);
}

/* A call has one session per anchored m= line: calls are the distinct Call-IDs. */
static void read_calls(struct pr_redis *r, struct exp_scrape *s)
{
	redisReply *arr, **ci;
	const char **ids;
	size_t i, n = 0;

	if (s->sessions < 0 || s->sessions > EXP_REDIS_SCAN_MAX)
		return;
	arr = rcmd(r, s, "SMEMBERS %s", PR_KS_SESSIONS_KEY);
	if (arr == NULL || arr->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(arr);
		return;
	}
	ci = hget_each(r, s, arr, PR_KS_SESSION_PREFIX, "call_id");
	ids = calloc(arr->elements ? arr->elements : 1, sizeof(*ids));
	if (ci && ids) {
		for (i = 0; i < arr->elements; i++)
			if (ci[i] && ci[i]->type == REDIS_REPLY_STRING)
				ids[n++] = ci[i]->str;
		qsort(ids, n, sizeof(*ids), cmp_str);
		s->calls = 0;
		for (i = 0; i < n; i++)
			s->calls += i == 0 || strcmp(ids[i], ids[i - 1]) != 0;
	}
	free(ids);
	free_each(ci, arr->elements);
	freeReplyObject(arr);
}

/* ---- this appliance's slowpath's stats hash (pr:stats:slowpath:<pop>:<instance>,
 * docs/slowpath.md) ---- */
/* The fields rendered, read by one pipelined HGET each (the exporter's ACL user may HGET,
 * not HGETALL): one round trip. */
static const char *const sps_fields[] = {
    "updated_ms",
    "stopped_ms",
    "started_ms",
    "tls_open",
    "conns_open",
    "conns_accepted",
    "conns_refused",
    "tls_failed",
    "conns_idle_closed",
    "keepalive_pongs",
    "rx_msgs",
    "rx_dropped_unparseable",
    "rx_answered_400",
    "rx_too_large",
    "req_register",
    "req_invite",
    "req_ack",
    "req_bye",
    "req_cancel",
    "req_options",
    "req_update",
    "req_info",
    "req_other",
    "resp_rx_1xx",
    "resp_rx_2xx",
    "resp_rx_3xx",
    "resp_rx_4xx",
    "resp_rx_5xx",
    "resp_rx_6xx",
    "resp_tx_1xx",
    "resp_tx_2xx",
    "resp_tx_3xx",
    "resp_tx_4xx",
    "resp_tx_5xx",
    "resp_tx_6xx",
    "reg_ok",
    "reg_unreg",
    "reg_challenged",
    "reg_auth_failed",
    "reg_stale",
    "reg_replayed",
    "reg_plain_refused",
    "reg_unknown_user",
    "reg_refused_drain",
    "lockout_refused",
    "rate_limited",
    "scanner_refused",
    "calls_started",
    "calls_answered",
    "calls_ended",
    "calls_failed",
    "calls_flow_lost",
    "calls_timeout",
    "calls_media_timeout",
    "calls_ended_drain",
    "calls_refused_488",
    "calls_plain_refused",
    "calls_refused_drain",
    "calls_active",
    "redis_errors",
    "redis_unavailable",
    "tls_reloads",
    "tls_reload_failed",
    "calls_restored",
    "calls_restore_ended",
    "calls_refused_no_dtls",
    "ws_open",
    "ws_upgrades",
    "ws_refused_malformed",
    "ws_refused_method",
    "ws_refused_version",
    "ws_refused_protocol",
    "ws_refused_origin",
    "ws_refused_too_large",
    "ws_msgs_rx",
    "ws_msgs_tx",
    "ws_pings_tx",
    "ws_pongs_tx",
    "ws_closed_by_peer",
    "ws_close_1002",
    "ws_close_1007",
    "ws_close_1009",
    "ws_idle_closed",
};
#define SPS_N (sizeof(sps_fields) / sizeof(sps_fields[0]))

struct sp_stats {
	bool read;	  /* the hash exists (updated_ms was read) */
	int64_t age_ms;	  /* now - updated_ms */
	int64_t v[SPS_N]; /* -1: absent */
};

static int64_t spv(const struct sp_stats *st, const char *field)
{
	for (size_t i = 0; i < SPS_N; i++)
		if (strcmp(sps_fields[i], field) == 0)
			return st->v[i] < 0 ? 0 : st->v[i];
	/* a family rendered from a field the scrape does not read would always say 0: a
	 * coding error every scrape hits, so the tests that scrape find it */
	fprintf(stderr, "poprelay-exporter: stats field %s is not in sps_fields\n", field);
	abort();
}

static void read_slowpath(struct pr_redis *r, struct exp_scrape *s, const char *key,
			  struct sp_stats *st)
{
	redisContext *c = pr_redis_ctx(r);
	struct timespec now;
	size_t i;

	if (!s->redis_up)
		return;
	for (i = 0; i < SPS_N; i++)
		redisAppendCommand(c, "HGET %s %s", key, sps_fields[i]);
	for (i = 0; i < SPS_N; i++) {
		redisReply *rep = NULL;
		char *end;
		if (redisGetReply(c, (void **)&rep) != REDIS_OK) {
			s->redis_up = false;
			return;
		}
		st->v[i] = -1;
		if (rep->type == REDIS_REPLY_STRING) {
			long long x = strtoll(rep->str, &end, 10);
			if (end != rep->str && *end == '\0' && x >= 0)
				st->v[i] = x;
		}
		freeReplyObject(rep);
	}
	if (st->v[0] < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	st->read = true;
	st->age_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 - st->v[0];
}

static bool slowpath_up(const struct sp_stats *st)
{
	return st->read && spv(st, "stopped_ms") == 0 && st->age_ms <= EXP_SLOWPATH_FRESH_MS;
}

/* label, field pairs of one family */
struct lf {
	const char *label, *field;
};

static void keyed_fields(struct exp_out *o, const struct sp_stats *st, const char *name,
			 const char *type, const char *help, const char *label, const struct lf *f,
			 size_t n)
{
	char lab[96];

	family(o, name, type, help);
	for (size_t i = 0; i < n; i++) {
		snprintf(lab, sizeof(lab), "%s=\"%s\"", label, f[i].label);
		sample_i(o, name, lab, spv(st, f[i].field));
	}
}

#define NLF(a) (sizeof(a) / sizeof((a)[0]))

static void render_slowpath(struct exp_out *o, const struct sp_stats *st)
{
	static const struct lf methods[] = {
	    {"REGISTER", "req_register"}, {"INVITE", "req_invite"}, {"ACK", "req_ack"},
	    {"BYE", "req_bye"},		  {"CANCEL", "req_cancel"}, {"OPTIONS", "req_options"},
	    {"UPDATE", "req_update"},	  {"INFO", "req_info"},	    {"other", "req_other"}};
	static const struct lf invalid[] = {{"unparseable", "rx_dropped_unparseable"},
					    {"malformed", "rx_answered_400"},
					    {"too_large", "rx_too_large"}};
	static const struct lf regs[] = {{"ok", "reg_ok"},
					 {"unregistered", "reg_unreg"},
					 {"challenged", "reg_challenged"},
					 {"auth_failed", "reg_auth_failed"},
					 {"stale_nonce", "reg_stale"},
					 {"replayed", "reg_replayed"},
					 {"plain_refused", "reg_plain_refused"},
					 {"unknown_user", "reg_unknown_user"},
					 {"drain_refused", "reg_refused_drain"}};
	static const struct lf refusals[] = {{"rate_limited", "rate_limited"},
					     {"lockout", "lockout_refused"},
					     {"scanner", "scanner_refused"},
					     {"flow_limit", "conns_refused"}};
	static const struct lf ended[] = {{"answered", "calls_ended"},
					  {"unanswered", "calls_failed"}};
	static const struct lf reasons[] = {{"flow_lost", "calls_flow_lost"},
					    {"timeout", "calls_timeout"},
					    {"media_timeout", "calls_media_timeout"},
					    {"drain", "calls_ended_drain"}};
	static const struct lf call_refusals[] = {{"sdp_488", "calls_refused_488"},
						  {"plain_transport", "calls_plain_refused"},
						  {"drain", "calls_refused_drain"},
						  {"no_dtls", "calls_refused_no_dtls"}};
	static const struct lf ws_refusals[] = {
	    {"malformed", "ws_refused_malformed"}, {"method", "ws_refused_method"},
	    {"version", "ws_refused_version"},	   {"protocol", "ws_refused_protocol"},
	    {"origin", "ws_refused_origin"},	   {"too_large", "ws_refused_too_large"}};
	static const struct lf ws_msgs[] = {{"received", "ws_msgs_rx"}, {"sent", "ws_msgs_tx"}};
	static const struct lf ws_closes[] = {{"peer", "ws_closed_by_peer"},
					      {"protocol_error", "ws_close_1002"},
					      {"invalid_data", "ws_close_1007"},
					      {"too_big", "ws_close_1009"},
					      {"idle", "ws_idle_closed"}};
	char lab[64], f[32];

	one(o, "poprelay_slowpath_start_time_seconds", "gauge",
	    "Start of the slowpath, UNIX seconds (its stats count from here).",
	    spv(st, "started_ms") / 1000);
	family(o, "poprelay_slowpath_stats_age_seconds", "gauge",
	       "Age of the slowpath's stats hash (it writes it every second).");
	sample_d(o, "poprelay_slowpath_stats_age_seconds", "", (double)st->age_ms / 1000.0);
	one(o, "poprelay_slowpath_tls_flows", "gauge",
	    "TLS connections open now (devices' and peer PoPs').", spv(st, "tls_open"));
	one(o, "poprelay_slowpath_flows", "gauge", "TCP and TLS connections open now.",
	    spv(st, "conns_open"));
	one(o, "poprelay_slowpath_connections_accepted_total", "counter",
	    "TCP and TLS connections accepted.", spv(st, "conns_accepted"));
	one(o, "poprelay_slowpath_tls_handshake_failures_total", "counter",
	    "TLS connections closed by a failed handshake or TLS error.", spv(st, "tls_failed"));
	one(o, "poprelay_slowpath_connections_idle_closed_total", "counter",
	    "Connections closed for silence (no message or keepalive in time).",
	    spv(st, "conns_idle_closed"));
	one(o, "poprelay_slowpath_keepalives_total", "counter",
	    "Keepalive pings answered (RFC 5626 CRLFCRLF).", spv(st, "keepalive_pongs"));
	one(o, "poprelay_sip_messages_received_total", "counter",
	    "SIP messages received (refused ones included).", spv(st, "rx_msgs"));
	keyed_fields(o, st, "poprelay_sip_messages_invalid_total", "counter",
		     "SIP messages refused as invalid, by reason.", "reason", invalid,
		     NLF(invalid));
	keyed_fields(o, st, "poprelay_sip_requests_total", "counter",
		     "Well-formed SIP requests received, by method.", "method", methods,
		     NLF(methods));
	family(o, "poprelay_sip_responses_total", "counter",
	       "SIP responses received and sent (retransmissions included), by class.");
	for (int d = 0; d < 2; d++)
		for (int c = 1; c <= 6; c++) {
			snprintf(lab, sizeof(lab), "direction=\"%s\",class=\"%dxx\"",
				 d ? "sent" : "received", c);
			snprintf(f, sizeof(f), "resp_%s_%dxx", d ? "tx" : "rx", c);
			sample_i(o, "poprelay_sip_responses_total", lab, spv(st, f));
		}
	keyed_fields(o, st, "poprelay_sip_registrations_total", "counter",
		     "REGISTER requests handled, by result.", "result", regs, NLF(regs));
	keyed_fields(o, st, "poprelay_slowpath_refusals_total", "counter",
		     "Requests and connections refused by the guard, by reason.", "reason",
		     refusals, NLF(refusals));
	one(o, "poprelay_slowpath_calls", "gauge",
	    "Calls in the slowpath's call table (being set up or answered).",
	    spv(st, "calls_active"));
	one(o, "poprelay_calls_started_total", "counter", "INVITEs that started a call.",
	    spv(st, "calls_started"));
	family(o, "poprelay_calls_restored_total", "counter",
	       "Answered calls found in Redis at the slowpath's start: restored, or ended there "
	       "(their media session gone, or too old).");
	sample_i(o, "poprelay_calls_restored_total", "result=\"restored\"",
		 spv(st, "calls_restored"));
	sample_i(o, "poprelay_calls_restored_total", "result=\"ended\"",
		 spv(st, "calls_restore_ended"));
	one(o, "poprelay_calls_answered_total", "counter", "Calls answered (2xx to the INVITE).",
	    spv(st, "calls_answered"));
	keyed_fields(o, st, "poprelay_calls_ended_total", "counter",
		     "Calls ended, by whether they had been answered.", "result", ended,
		     NLF(ended));
	keyed_fields(o, st, "poprelay_calls_end_reasons_total", "counter",
		     "Calls ended by the slowpath, by reason (the rest ended by a device).",
		     "reason", reasons, NLF(reasons));
	keyed_fields(o, st, "poprelay_calls_refused_total", "counter",
		     "INVITEs refused, by reason.", "reason", call_refusals, NLF(call_refusals));
	one(o, "poprelay_slowpath_redis_errors_total", "counter",
	    "Redis commands of the slowpath that failed.", spv(st, "redis_errors"));
	one(o, "poprelay_slowpath_redis_unavailable_total", "counter",
	    "REGISTERs and INVITEs answered 503 with Retry-After: Redis away or unable.",
	    spv(st, "redis_unavailable"));
	one(o, "poprelay_slowpath_tls_reloads_total", "counter",
	    "TLS certificate and key reloads applied (SIGHUP, poprelayctl tls reload).",
	    spv(st, "tls_reloads"));
	one(o, "poprelay_slowpath_tls_reload_failures_total", "counter",
	    "TLS reloads refused (a file unreadable or a key not matching): the old pair stays.",
	    spv(st, "tls_reload_failed"));
	/* SIP over WebSocket ([sip] wss_listen; docs/slowpath.md) */
	one(o, "poprelay_slowpath_websockets", "gauge",
	    "SIP over WebSocket connections open now (upgraded).", spv(st, "ws_open"));
	one(o, "poprelay_slowpath_websocket_upgrades_total", "counter",
	    "WebSocket upgrades accepted.", spv(st, "ws_upgrades"));
	keyed_fields(o, st, "poprelay_slowpath_websocket_refusals_total", "counter",
		     "WebSocket upgrades refused, by reason.", "reason", ws_refusals,
		     NLF(ws_refusals));
	keyed_fields(o, st, "poprelay_slowpath_websocket_messages_total", "counter",
		     "SIP messages over WebSocket, by direction.", "direction", ws_msgs,
		     NLF(ws_msgs));
	one(o, "poprelay_slowpath_websocket_pings_total", "counter",
	    "Pings sent to silent WebSocket peers.", spv(st, "ws_pings_tx"));
	one(o, "poprelay_slowpath_websocket_pongs_total", "counter",
	    "Pongs sent in answer to the peers' pings.", spv(st, "ws_pongs_tx"));
	keyed_fields(o, st, "poprelay_slowpath_websocket_closes_total", "counter",
		     "WebSocket connections closed, by reason.", "reason", ws_closes,
		     NLF(ws_closes));
}

static void read_redis(const struct exp_cfg *cfg, struct exp_scrape *s, struct sp_stats *st)
{
	struct pr_redis *r = NULL;
	redisReply *rep;
	char now[24];

	s->users = s->regs = s->turn_allocs = s->sessions = s->cdrs = s->calls = -1;
	s->regs_by[0] = -1;
	s->ports_free = s->ports_total = -1;
	if (pr_redis_connect(&r, cfg->redis_socket, EXP_REDIS_TIMEOUT_MS) < 0)
		return;
	if (cfg->redis_passfile[0] &&
	    pr_redis_auth(r, cfg->redis_user[0] ? cfg->redis_user : NULL, cfg->redis_passfile) < 0)
		goto out;
	s->redis_up = true;
	rep = rcmd(r, s, "PING");
	if (rep == NULL) {
		s->redis_up = false;
		goto out;
	}
	freeReplyObject(rep);
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	s->users = rint_cmd(r, s, "SCARD %s", PR_KS_USERS_KEY, NULL);
	read_regs(r, s, now);
	s->turn_allocs = rint_cmd(r, s, "ZCOUNT %s %s +inf", PR_KS_TURN_ALLOCS_KEY, now);
	s->sessions = rint_cmd(r, s, "SCARD %s", PR_KS_SESSIONS_KEY, NULL);
	read_calls(r, s);
	s->cdrs = rint_cmd(r, s, "ZCARD %s", PR_KS_CDRS_KEY, NULL);
	exp_read_ports_pool(r, s);
	read_slowpath(r, s, cfg->sp_stats_key, st);
out:
	pr_redis_close(r);
}

void exp_read_ports_pool(struct pr_redis *r, struct exp_scrape *s)
{
	redisReply *rep;
	unsigned int lo, hi;

	s->ports_free = s->ports_total = -1;
	rep = rcmd(r, s, "GET %s", PR_KS_PORTS_RANGE_KEY);
	/* the pool holds the even ports lo, lo+2, ... below hi (pr_ks_ports_init) */
	if (rep && rep->type == REDIS_REPLY_STRING && sscanf(rep->str, "%u-%u", &lo, &hi) == 2 &&
	    hi > lo) {
		s->ports_total = (int64_t)(hi - lo + 1) / 2;
		s->ports_free = rint_cmd(r, s, "SCARD %s", PR_KS_PORTS_FREE_KEY, NULL);
		if (s->ports_free < 0)
			s->ports_total = -1;
	}
	freeReplyObject(rep);
}

/* ---- the slowpath's certificate ---- */
void exp_read_cert(const struct exp_cfg *cfg, struct exp_scrape *s)
{
	FILE *f;
	X509 *x;
	int days = 0, secs = 0;

	if (!cfg->cert[0])
		return;
	s->cert_state = -1;
	f = fopen(cfg->cert, "re");
	if (f == NULL)
		return;
	x = PEM_read_X509(f, NULL, NULL, NULL); /* the first is the server's own */
	fclose(f);
	if (x == NULL)
		return;
	/* from now to notAfter: negative once it has expired */
	if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x))) {
		s->cert_left_s = (int64_t)days * 86400 + secs;
		s->cert_state = 1;
	}
	X509_free(x);
}

/* ---- rendering ---- */
struct ctr {
	const char *key;  /* telemetry field */
	const char *name; /* metric */
	const char *type;
	const char *help;
	double scale; /* 0: the integer as is */
};

/* Per-lcore figures (from /poprelay/lcore,ID). The rest of /poprelay/stats' fields are
 * protocol events, rendered summed as poprelay_dataplane_events_total{event}. */
static const struct ctr lcore_ctrs[] = {
    {"rx_packets", "poprelay_lcore_rx_packets_total", "counter",
     "Frames taken from the NIC by this lcore.", 0},
    {"rx_bytes", "poprelay_lcore_rx_bytes_total", "counter",
     "Bytes of the frames taken from the NIC by this lcore.", 0},
    {"tx_packets", "poprelay_lcore_tx_packets_total", "counter",
     "Frames the NIC accepted from this lcore.", 0},
    {"tx_bytes", "poprelay_lcore_tx_bytes_total", "counter",
     "Bytes of the frames the NIC accepted from this lcore.", 0},
    {"drops", "poprelay_lcore_drops_total", "counter",
     "Packets this lcore dropped, every reason summed.", 0},
    {"punted", "poprelay_lcore_punted_total", "counter",
     "Packets this lcore passed to the control lcore.", 0},
    {"loops", "poprelay_lcore_loops_total", "counter", "Poll-loop iterations of this lcore.", 0},
    {"busy_loops", "poprelay_lcore_busy_loops_total", "counter",
     "Poll-loop iterations of this lcore that received something.", 0},
    {"busy_us", "poprelay_lcore_busy_seconds_total", "counter",
     "Time this lcore spent in iterations that received something.", 1e-6},
};

static bool is_lcore_key(const char *k)
{
	for (size_t i = 0; i < sizeof(lcore_ctrs) / sizeof(lcore_ctrs[0]); i++)
		if (strcmp(k, lcore_ctrs[i].key) == 0)
			return true;
	return false;
}

static void render_lcores(struct exp_out *o, const struct exp_scrape *s)
{
	char lab[128], role[64];
	size_t i, j;

	for (j = 0; j < sizeof(lcore_ctrs) / sizeof(lcore_ctrs[0]); j++) {
		const struct ctr *c = &lcore_ctrs[j];
		family(o, c->name, c->type, c->help);
		for (i = 0; i < json_array_size(s->lcores); i++) {
			json_t *l = json_array_get(s->lcores, i);
			esc(role, sizeof(role), jstr(l, "role"));
			snprintf(lab, sizeof(lab), "lcore=\"%" PRId64 "\",role=\"%s\"",
				 jint(l, "lcore"), role);
			if (c->scale)
				sample_d(o, c->name, lab, (double)jint(l, c->key) * c->scale);
			else
				sample_i(o, c->name, lab, jint(l, c->key));
		}
	}
	family(o, "poprelay_lcore_busy_percent", "gauge",
	       "Share of this lcore's poll-loop iterations that received something since start, "
	       "in percent.");
	for (i = 0; i < json_array_size(s->lcores); i++) {
		json_t *l = json_array_get(s->lcores, i);
		int64_t loops = jint(l, "loops");
		esc(role, sizeof(role), jstr(l, "role"));
		snprintf(lab, sizeof(lab), "lcore=\"%" PRId64 "\",role=\"%s\"", jint(l, "lcore"),
			 role);
		sample_d(o, "poprelay_lcore_busy_percent", lab,
			 loops ? 100.0 * (double)jint(l, "busy_loops") / (double)loops : 0.0);
	}
}

static void render_ports(struct exp_out *o, const struct exp_scrape *s)
{
	static const struct ctr port_ctrs[] = {
	    {"ipackets", "poprelay_port_rx_packets_total", "counter",
	     "Packets the NIC received (rte_eth_stats ipackets).", 0},
	    {"opackets", "poprelay_port_tx_packets_total", "counter",
	     "Packets the NIC sent (opackets).", 0},
	    {"ibytes", "poprelay_port_rx_bytes_total", "counter", "Bytes the NIC received.", 0},
	    {"obytes", "poprelay_port_tx_bytes_total", "counter", "Bytes the NIC sent.", 0},
	    {"imissed", "poprelay_port_rx_missed_total", "counter",
	     "Packets the NIC dropped because no RX descriptor was free (imissed).", 0},
	    {"ierrors", "poprelay_port_rx_errors_total", "counter", "Erroneous received packets.",
	     0},
	    {"oerrors", "poprelay_port_tx_errors_total", "counter", "Failed transmissions.", 0},
	    {"rx_nombuf", "poprelay_port_rx_nombuf_total", "counter",
	     "RX mbuf allocation failures.", 0},
	};
	char lab[640], dev[256], mac[64], v4[96], v6[96];
	size_t i, j;

	family(o, "poprelay_port_info", "gauge",
	       "A dataplane port (1): its device, MAC and addresses as labels.");
	for (i = 0; i < json_array_size(s->ports); i++) {
		json_t *p = json_array_get(s->ports, i);
		esc(dev, sizeof(dev), jstr(p, "device"));
		esc(mac, sizeof(mac), jstr(p, "mac"));
		esc(v4, sizeof(v4), jstr(p, "ipv4"));
		esc(v6, sizeof(v6), jstr(p, "ipv6"));
		snprintf(lab, sizeof(lab),
			 "port=\"%" PRId64 "\",device=\"%s\",mac=\"%s\",ipv4=\"%s\",ipv6=\"%s\"",
			 jint(p, "port"), dev, mac, v4, v6);
		sample_i(o, "poprelay_port_info", lab, 1);
	}
	family(o, "poprelay_port_link_up", "gauge", "1 when the port's link is up.");
	for (i = 0; i < json_array_size(s->ports); i++) {
		json_t *p = json_array_get(s->ports, i);
		snprintf(lab, sizeof(lab), "port=\"%" PRId64 "\"", jint(p, "port"));
		sample_i(o, "poprelay_port_link_up", lab, strcmp(jstr(p, "link"), "up") == 0);
	}
	for (j = 0; j < sizeof(port_ctrs) / sizeof(port_ctrs[0]); j++) {
		family(o, port_ctrs[j].name, port_ctrs[j].type, port_ctrs[j].help);
		for (i = 0; i < json_array_size(s->ports); i++) {
			json_t *p = json_array_get(s->ports, i);
			snprintf(lab, sizeof(lab), "port=\"%" PRId64 "\"", jint(p, "port"));
			sample_i(o, port_ctrs[j].name, lab, jint(p, port_ctrs[j].key));
		}
	}
}

/* Every integer field of obj whose name starts with strip (and is not skipped) as one
 * sample of name{label="<field without strip>"}. */
static void render_keyed(struct exp_out *o, json_t *obj, const char *name, const char *type,
			 const char *help, const char *label, const char *strip,
			 bool (*skip)(const char *))
{
	const char *k;
	json_t *v;
	char lab[160], val[96];
	size_t sl = strlen(strip);

	family(o, name, type, help);
	json_object_foreach(obj, k, v)
	{
		if (!json_is_integer(v) || strncmp(k, strip, sl) != 0 || (skip && skip(k)))
			continue;
		esc(val, sizeof(val), k + sl);
		snprintf(lab, sizeof(lab), "%s=\"%s\"", label, val);
		sample_i(o, name, lab, (int64_t)json_integer_value(v));
	}
}

static bool not_event(const char *k)
{
	return is_lcore_key(k) || strcmp(k, "drops") == 0;
}

static void render_turn_stream(struct exp_out *o, json_t *t);

static void render_turn(struct exp_out *o, json_t *t)
{
	static const struct ctr turn_ctrs[] = {
	    {"allocations", "poprelay_turn_allocations", "gauge", "Live TURN allocations.", 0},
	    {"capacity", "poprelay_turn_allocations_capacity", "gauge",
	     "Allocations the table holds at most.", 0},
	    {"requests", "poprelay_turn_requests_total", "counter",
	     "STUN/TURN requests handled by the control lcore.", 0},
	    {"success", "poprelay_turn_requests_succeeded_total", "counter",
	     "Requests answered with a success response.", 0},
	    {"allocs_created", "poprelay_turn_allocations_created_total", "counter",
	     "Allocations created.", 0},
	    {"allocs_deleted", "poprelay_turn_allocations_deleted_total", "counter",
	     "Allocations deleted (refresh with lifetime 0, or by an operator).", 0},
	    {"allocs_expired", "poprelay_turn_allocations_expired_total", "counter",
	     "Allocations that expired.", 0},
	    {"fastpath_relayed", "poprelay_turn_fastpath_relayed_total", "counter",
	     "Datagrams the TURN fast paths relayed.", 0},
	    {"fastpath_declined", "poprelay_turn_fastpath_declined_total", "counter",
	     "Datagrams the TURN fast paths handed to the general path.", 0},
	};
	static const char *const refusals[] = {"malformed", "bad_fingerprint", "not_stun",
					       "unauth_rate_limited", "amplification_dropped"};
	char lab[96];
	size_t i;

	for (i = 0; i < sizeof(turn_ctrs) / sizeof(turn_ctrs[0]); i++)
		one(o, turn_ctrs[i].name, turn_ctrs[i].type, turn_ctrs[i].help,
		    jint(t, turn_ctrs[i].key));
	family(o, "poprelay_turn_rejected_total", "counter",
	       "Datagrams to the TURN port refused before any answer, by reason.");
	for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		snprintf(lab, sizeof(lab), "reason=\"%s\"", refusals[i]);
		sample_i(o, "poprelay_turn_rejected_total", lab, jint(t, refusals[i]));
	}
	render_keyed(o, t, "poprelay_turn_error_responses_total", "counter",
		     "Error responses sent, by STUN error code.", "code", "err_", NULL);
	static const char *const store_outcomes[] = {"held", "failed", "unqueued"};
	family(o, "poprelay_turn_store_writes_total", "counter",
	       "TURN state changes written to Redis, by outcome: answers held until Redis had "
	       "them, writes that failed (answer dropped), changes that could not be queued.");
	for (i = 0; i < sizeof(store_outcomes) / sizeof(store_outcomes[0]); i++) {
		char key[32];
		snprintf(lab, sizeof(lab), "outcome=\"%s\"", store_outcomes[i]);
		snprintf(key, sizeof(key), "store_%s", store_outcomes[i]);
		sample_i(o, "poprelay_turn_store_writes_total", lab, jint(t, key));
	}
	family(o, "poprelay_turn_live_relayed_packets", "gauge",
	       "Packets relayed by the allocations live now, by direction.");
	sample_i(o, "poprelay_turn_live_relayed_packets", "direction=\"client_to_peer\"",
		 jint(t, "pkts_c2p"));
	sample_i(o, "poprelay_turn_live_relayed_packets", "direction=\"peer_to_client\"",
		 jint(t, "pkts_p2c"));
	family(o, "poprelay_turn_live_relayed_bytes", "gauge",
	       "Bytes relayed by the allocations live now, by direction.");
	sample_i(o, "poprelay_turn_live_relayed_bytes", "direction=\"client_to_peer\"",
		 jint(t, "bytes_c2p"));
	sample_i(o, "poprelay_turn_live_relayed_bytes", "direction=\"peer_to_client\"",
		 jint(t, "bytes_p2c"));
	render_keyed(o, t, "poprelay_turn_live_drops", "gauge",
		     "Packets the allocations live now dropped, by reason.", "reason", "drop_",
		     NULL);
	render_turn_stream(o, t);
}

/* name{label="value"} for each (telemetry field, label value) pair. */
struct kv {
	const char *key, *val;
};

static void render_pairs(struct exp_out *o, json_t *obj, const char *name, const char *type,
			 const char *help, const char *label, const struct kv *p, size_t n)
{
	char lab[96];

	family(o, name, type, help);
	for (size_t i = 0; i < n; i++) {
		snprintf(lab, sizeof(lab), "%s=\"%s\"", label, p[i].val);
		sample_i(o, name, lab, jint(obj, p[i].key));
	}
}

/* TURN over TCP and TLS (docs/turn.md): the dataplane's channel to poprelay-turnfront, and,
 * while a front is attached, the front's own figures. Those count from the front's attach
 * (a new front starts them at 0, which Prometheus takes as a counter reset) and are left out
 * while none is attached, rather than shown as zeros. */
static void render_turn_stream(struct exp_out *o, json_t *t)
{
	static const char *const tp[] = {"tcp", "tls"};
	static const char *const dir_key[] = {"rx", "tx"}, *const dir[] = {"from_client",
									   "to_client"};
	char lab[96], key[48];
	size_t i, j;

	if (!json_object_get(t, "stream_front_attached"))
		return; /* a dataplane without the stream channel */
	one(o, "poprelay_turn_stream_front_attached", "gauge",
	    "1 while poprelay-turnfront (TURN over TCP and TLS) is attached to the dataplane.",
	    jint(t, "stream_front_attached"));
	one(o, "poprelay_turn_stream_front_attaches_total", "counter",
	    "Times a poprelay-turnfront attached to the dataplane.",
	    jint(t, "stream_front_attaches"));
	one(o, "poprelay_turn_stream_front_refused_total", "counter",
	    "Fronts refused because another one was attached.", jint(t, "stream_front_refused"));
	static const struct kv records[] = {{"stream_from_front", "from_front"},
					    {"stream_to_front", "to_front"}};
	render_pairs(o, t, "poprelay_turn_stream_records_total", "counter",
		     "Messages between the dataplane and poprelay-turnfront, by direction.",
		     "direction", records, 2);
	one(o, "poprelay_turn_stream_closed_total", "counter",
	    "TCP and TLS connections the front reported closed (their allocations ended).",
	    jint(t, "stream_closed"));
	bool front = json_object_get(t, "stream_connections_open") != NULL;
	static const struct kv drops_dp[] = {{"stream_to_front_dropped", "to_front_ring_full"},
					     {"stream_bad_records", "bad_record"}};
	static const struct kv drops_front[] = {
	    {"stream_rx_dropped_ring", "to_dataplane_ring_full"},
	    {"stream_tx_dropped_slow", "client_slow"},
	    {"stream_tx_no_conn", "connection_gone"}};
	family(o, "poprelay_turn_stream_dropped_total", "counter",
	       "Messages of TCP and TLS clients dropped, by reason (the front's reasons while it "
	       "is attached).");
	for (i = 0; i < 2; i++) {
		snprintf(lab, sizeof(lab), "reason=\"%s\"", drops_dp[i].val);
		sample_i(o, "poprelay_turn_stream_dropped_total", lab, jint(t, drops_dp[i].key));
	}
	for (i = 0; front && i < 3; i++) {
		snprintf(lab, sizeof(lab), "reason=\"%s\"", drops_front[i].val);
		sample_i(o, "poprelay_turn_stream_dropped_total", lab, jint(t, drops_front[i].key));
	}
	if (!front)
		return;

	family(o, "poprelay_turn_stream_connections_total", "counter",
	       "TCP and TLS connections the front accepted, by transport.");
	for (i = 0; i < 2; i++) {
		snprintf(lab, sizeof(lab), "transport=\"%s\"", tp[i]);
		snprintf(key, sizeof(key), "stream_%s_connections", tp[i]);
		sample_i(o, "poprelay_turn_stream_connections_total", lab, jint(t, key));
	}
	one(o, "poprelay_turn_stream_connections_open", "gauge",
	    "TCP and TLS connections open on the front.", jint(t, "stream_connections_open"));
	static const struct kv refused[] = {{"stream_refused_total", "max_connections"},
					    {"stream_refused_source", "max_per_source"},
					    {"stream_tls_failed", "tls_handshake"}};
	render_pairs(o, t, "poprelay_turn_stream_refused_total", "counter",
		     "Connections refused: over [turn_front] max_connections or max_per_source, "
		     "or a TLS handshake refused (version, suite, ALPN).",
		     "reason", refused, 3);
	static const struct kv timeouts[] = {{"stream_timeout_first", "first_message"},
					     {"stream_timeout_idle", "idle"}};
	render_pairs(o, t, "poprelay_turn_stream_timeouts_total", "counter",
		     "Connections closed for no valid STUN message in first_message_s (a stalled "
		     "TLS handshake, slowloris), or for nothing received in idle_timeout_s.",
		     "timeout", timeouts, 2);
	static const struct kv bad[] = {{"stream_bad_framing", "bad_framing"},
					{"stream_too_long", "too_long"}};
	render_pairs(o, t, "poprelay_turn_stream_bad_input_total", "counter",
		     "Connections closed for what they sent: neither STUN nor ChannelData, or a "
		     "message longer than max_message.",
		     "reason", bad, 2);
	family(o, "poprelay_turn_stream_messages_total", "counter",
	       "STUN messages and ChannelData over TCP and TLS, by transport and direction.");
	for (i = 0; i < 2; i++)
		for (j = 0; j < 2; j++) {
			snprintf(lab, sizeof(lab), "transport=\"%s\",direction=\"%s\"", tp[i],
				 dir[j]);
			snprintf(key, sizeof(key), "stream_%s_%s_msgs", tp[i], dir_key[j]);
			sample_i(o, "poprelay_turn_stream_messages_total", lab, jint(t, key));
		}
	family(o, "poprelay_turn_stream_bytes_total", "counter",
	       "Bytes of those messages (ChannelData without its padding), by transport and "
	       "direction.");
	for (i = 0; i < 2; i++)
		for (j = 0; j < 2; j++) {
			snprintf(lab, sizeof(lab), "transport=\"%s\",direction=\"%s\"", tp[i],
				 dir[j]);
			snprintf(key, sizeof(key), "stream_%s_%s_bytes", tp[i], dir_key[j]);
			sample_i(o, "poprelay_turn_stream_bytes_total", lab, jint(t, key));
		}
}

static void render_media(struct exp_out *o, json_t *m)
{
	static const struct ctr media_ctrs[] = {
	    {"sessions", "poprelay_media_sessions", "gauge",
	     "Media sessions the dataplane relays (one per anchored m= line, two legs each).", 0},
	    {"capacity", "poprelay_media_sessions_capacity", "gauge",
	     "Media sessions the dataplane holds at most.", 0},
	    {"streams", "poprelay_media_streams", "gauge",
	     "SRTP/RTP streams (one per SSRC and leg) of the live sessions.", 0},
	    {"legs", "poprelay_media_legs", "gauge",
	     "Legs of the live media sessions (two a session).", 0},
	    {"legs_srtp", "poprelay_media_legs_srtp", "gauge",
	     "Legs of the live sessions in SRTP (the others are in clear RTP).", 0},
	    {"legs_latched", "poprelay_media_legs_latched", "gauge",
	     "Legs of the live sessions latched to their device's address (a device heard).", 0},
	    {"memory_bytes", "poprelay_media_memory_bytes", "gauge",
	     "Memory of the live sessions, their streams and contexts.", 0},
	    {"received", "poprelay_media_received_packets_total", "counter",
	     "Media packets received from the legs' devices and accepted.", 0},
	    {"relayed", "poprelay_media_relayed_packets_total", "counter",
	     "Media packets relayed to the legs' devices.", 0},
	    {"auth_fail", "poprelay_media_live_auth_failures", "gauge",
	     "SRTP/SRTCP authentication failures of the live sessions.", 0},
	    {"wrong_source", "poprelay_media_live_wrong_source", "gauge",
	     "Packets of the live sessions from an address other than the leg's.", 0},
	    {"relatch", "poprelay_media_live_relatches", "gauge",
	     "Latch moves (NAT rebinding) of the live sessions.", 0},
	    {"idle_reported", "poprelay_media_idle_reported_total", "counter",
	     "Sessions reported idle to the slowpath.", 0},
	    {"ctl_relayed", "poprelay_media_ctl_relayed_total", "counter",
	     "Media packets the control lcore relayed (first packets of a stream).", 0},
	    {"redis_errors", "poprelay_media_redis_errors_total", "counter",
	     "Redis errors of the media anchor.", 0},
	    {"streams_restored", "poprelay_media_streams_restored_total", "counter",
	     "Streams resumed from Redis after a restart.", 0},
	};
	static const char *const ops[][2] = {
	    {"install", "installs"}, {"update", "updates"}, {"end", "ends"}};
	static const char *const rej[][2] = {
	    {"refused", "refused"}, {"malformed", "bad_entries"}, {"unknown", "unknown"}};
	char lab[64];
	size_t i;

	for (i = 0; i < sizeof(media_ctrs) / sizeof(media_ctrs[0]); i++)
		one(o, media_ctrs[i].name, media_ctrs[i].type, media_ctrs[i].help,
		    jint(m, media_ctrs[i].key));
	family(o, "poprelay_media_commands_total", "counter",
	       "Session stream entries applied, by operation.");
	for (i = 0; i < 3; i++) {
		snprintf(lab, sizeof(lab), "op=\"%s\"", ops[i][0]);
		sample_i(o, "poprelay_media_commands_total", lab, jint(m, ops[i][1]));
	}
	family(o, "poprelay_media_commands_rejected_total", "counter",
	       "Session stream entries not applied, by reason.");
	for (i = 0; i < 3; i++) {
		snprintf(lab, sizeof(lab), "reason=\"%s\"", rej[i][0]);
		sample_i(o, "poprelay_media_commands_rejected_total", lab, jint(m, rej[i][1]));
	}
}

/* ICE-lite and DTLS-SRTP of browser legs (docs/media.md): the dataplane's figures, and
 * poprelay-dtls's own while it is attached (they count from its attach, as the TURN front's
 * do, and are left out while none is attached rather than shown as zeros). */
static void render_media_webrtc(struct exp_out *o, json_t *m)
{
	static const struct kv verdicts[] = {
	    {"ice_answered", "answered"},	    {"ice_role_conflict", "role_conflict"},
	    {"ice_bad_integrity", "bad_integrity"}, {"ice_unknown_ufrag", "unknown_ufrag"},
	    {"ice_malformed", "malformed"},	    {"ice_not_request", "not_request"}};
	static const struct kv ice_drops[] = {{"ice_rate_limited", "rate_limited"},
					      {"ice_unnominated", "unnominated"}};
	static const struct kv dtls_drops[] = {{"dtls_dropped", "not_admitted"},
					       {"dtls_unkeyed_dropped", "unkeyed"}};
	static const struct kv keyed[] = {{"dtls_keyed", "handshake"},
					  {"dtls_keys_restored", "restart"},
					  {"dtls_keys_kept", "update"}};
	static const struct kv records[] = {{"dtls_to_process", "to_process"},
					    {"dtls_from_process", "from_process"}};
	static const struct kv chan_drops[] = {
	    {"dtls_to_process_dropped", "to_process_undelivered"},
	    {"dtls_bad_records", "bad_record"}};
	static const struct kv failed[] = {{"dtls_failed_fingerprint", "fingerprint"},
					   {"dtls_failed_timeout", "timeout"},
					   {"dtls_failed_alert", "alert"},
					   {"dtls_failed_no_srtp", "no_srtp"},
					   {"dtls_failed_busy", "busy"},
					   {"dtls_failed_cert", "cert"}};
#define N(a) (sizeof(a) / sizeof((a)[0]))

	if (json_object_get(m, "legs_ice")) {
		one(o, "poprelay_media_ice_legs", "gauge", "ICE-lite legs of the live sessions.",
		    jint(m, "legs_ice"));
		render_pairs(o, m, "poprelay_media_ice_checks_total", "counter",
			     "STUN messages to ICE-lite legs, by verdict: answered, answered 487 "
			     "(role_conflict), refused silently (bad_integrity, unknown_ufrag, "
			     "malformed), or not a request (indications, responses).",
			     "verdict", verdicts, N(verdicts));
		one(o, "poprelay_media_ice_nominations_total", "counter",
		    "Nominated checks that latched an ICE leg (first latch or a move).",
		    jint(m, "ice_nominations"));
		render_pairs(o, m, "poprelay_media_ice_dropped_packets_total", "counter",
			     "Packets to ICE-lite legs dropped, by reason: STUN beyond 50 a second "
			     "a leg, media from a source other than the nominated one.",
			     "reason", ice_drops, N(ice_drops));
	}
	if (!json_object_get(m, "dtls_process_attached"))
		return; /* a dataplane without DTLS-SRTP */
	render_pairs(o, m, "poprelay_media_dtls_dropped_packets_total", "counter",
		     "Packets of DTLS-SRTP legs dropped, by reason: DTLS records not handed to "
		     "poprelay-dtls (no nomination, another source, over 50 a second, not a "
		     "DTLS-SRTP leg, no process), media before the leg is keyed.",
		     "reason", dtls_drops, N(dtls_drops));
	render_pairs(o, m, "poprelay_media_dtls_legs_keyed_total", "counter",
		     "DTLS-SRTP legs keyed, by where the keys came from: a handshake, the hash "
		     "after a restart, the generation an update replaced.",
		     "source", keyed, N(keyed));
	one(o, "poprelay_media_dtls_legs_failed_total", "counter",
	    "DTLS-SRTP legs whose handshake failed, reported to end.", jint(m, "dtls_legs_failed"));
	one(o, "poprelay_media_dtls_unknown_leg_total", "counter",
	    "Messages of poprelay-dtls for a leg gone or re-keyed meanwhile.",
	    jint(m, "dtls_unknown_leg"));
	one(o, "poprelay_media_dtls_process_attached", "gauge",
	    "1 while poprelay-dtls is attached to the dataplane.",
	    jint(m, "dtls_process_attached"));
	one(o, "poprelay_media_dtls_process_attaches_total", "counter",
	    "Times a poprelay-dtls attached to the dataplane.", jint(m, "dtls_process_attaches"));
	render_pairs(o, m, "poprelay_media_dtls_records_total", "counter",
		     "Messages between the dataplane and poprelay-dtls, by direction.", "direction",
		     records, N(records));
	render_pairs(
	    o, m, "poprelay_media_dtls_channel_dropped_total", "counter",
	    "Messages between the dataplane and poprelay-dtls dropped, by reason: not sent to "
	    "the process (its ring full, or none attached), malformed from it.",
	    "reason", chan_drops, N(chan_drops));
	if (jint(m, "dtls_process_attached") != 1)
		return;
	one(o, "poprelay_dtls_handshakes_started_total", "counter",
	    "DTLS-SRTP handshakes poprelay-dtls started (since it attached).",
	    jint(m, "dtls_handshakes_started"));
	one(o, "poprelay_dtls_handshakes_completed_total", "counter",
	    "DTLS-SRTP handshakes completed, keys exported (since it attached).",
	    jint(m, "dtls_handshakes_completed"));
	one(o, "poprelay_dtls_handshakes_in_progress", "gauge", "DTLS-SRTP handshakes in progress.",
	    jint(m, "dtls_handshakes_in_progress"));
	render_pairs(o, m, "poprelay_dtls_handshakes_failed_total", "counter",
		     "DTLS-SRTP handshakes failed or refused, by reason: the peer's certificate "
		     "is not the SDP's fingerprint, handshake_timeout_s, a fatal alert, no "
		     "common SRTP profile, max_handshakes in handshake already (busy).",
		     "reason", failed, N(failed));
	one(o, "poprelay_dtls_rate_limited_total", "counter",
	    "ClientHellos of new legs refused by [dtls] per_source_per_s.",
	    jint(m, "dtls_rate_limited"));
#undef N
}

static void render_dataplane(struct exp_out *o, const struct exp_scrape *s)
{
	char ver[64], feat[128], lab[256];

	esc(ver, sizeof(ver), jstr(s->info, "version"));
	esc(feat, sizeof(feat), jstr(s->info, "features"));
	snprintf(lab, sizeof(lab), "version=\"%s\",features=\"%s\"", ver, feat);
	family(o, "poprelay_dataplane_info", "gauge",
	       "The running dataplane (1): its version and features as labels.");
	sample_i(o, "poprelay_dataplane_info", lab, 1);
	one(o, "poprelay_dataplane_start_time_seconds", "gauge",
	    "Start of the dataplane, UNIX seconds.", jint(s->info, "start_time"));
	one(o, "poprelay_dataplane_workers", "gauge", "Worker lcores.", jint(s->info, "workers"));
	one(o, "poprelay_dataplane_neighbours", "gauge", "Entries of the neighbour table.",
	    jint(s->info, "neighbours"));
	render_lcores(o, s);
	render_ports(o, s);
	if (s->stats)
		render_keyed(o, s->stats, "poprelay_dataplane_events_total", "counter",
			     "Protocol events summed over the lcores, by /poprelay/stats counter.",
			     "event", "", not_event);
	if (s->drops)
		render_keyed(o, s->drops, "poprelay_drops_total", "counter",
			     "Packets the dataplane dropped, by reason.", "reason", "", NULL);
	if (s->turn)
		render_turn(o, s->turn);
	if (s->media) {
		render_media(o, s->media);
		render_media_webrtc(o, s->media);
	}
}

static void render_redis(struct exp_out *o, const struct exp_scrape *s)
{
	char lab[64];

	if (s->users >= 0)
		one(o, "poprelay_users", "gauge", "Device accounts (pr:users).", s->users);
	if (s->regs >= 0)
		one(o, "poprelay_registrations", "gauge",
		    "Registrations not yet expired (pr:regs).", s->regs);
	if (s->regs_by[0] >= 0) {
		family(o, "poprelay_registrations_by_transport", "gauge",
		       "Registrations not yet expired, by the transport the device registered "
		       "over (tls: one TLS flow each).");
		for (int i = 0; i < 4; i++) {
			snprintf(lab, sizeof(lab), "transport=\"%s\"", reg_transports[i]);
			sample_i(o, "poprelay_registrations_by_transport", lab, s->regs_by[i]);
		}
	}
	if (s->sessions >= 0)
		one(o, "poprelay_store_media_sessions", "gauge",
		    "Media session records the slowpath holds (pr:sessions).", s->sessions);
	if (s->calls >= 0)
		one(o, "poprelay_calls_active", "gauge",
		    "Calls with anchored media: distinct Call-IDs of the session records.",
		    s->calls);
	if (s->turn_allocs >= 0)
		one(o, "poprelay_store_turn_allocations", "gauge",
		    "TURN allocation records not yet expired (pr:turn:allocs).", s->turn_allocs);
	if (s->cdrs >= 0)
		one(o, "poprelay_cdrs", "gauge", "Call detail records held (the last 90 days).",
		    s->cdrs);
	if (s->ports_total >= 0) {
		one(o, "poprelay_media_port_pairs", "gauge",
		    "RTP/RTCP port pairs of the slowpath's media port pool (pr:ports:range).",
		    s->ports_total);
		one(o, "poprelay_media_port_pairs_free", "gauge",
		    "Port pairs of the pool not allocated to a call (pr:ports:free).",
		    s->ports_free);
	}
}

void exp_scrape_free(struct exp_scrape *s)
{
	json_decref(s->info);
	json_decref(s->stats);
	json_decref(s->drops);
	json_decref(s->lcores);
	json_decref(s->ports);
	json_decref(s->turn);
	json_decref(s->media);
	memset(s, 0, sizeof(*s));
}

int exp_render(const struct exp_cfg *cfg, struct exp_out *o)
{
	struct exp_scrape s = {0};
	struct sp_stats sp = {0};
	struct timespec t0, t1;
	char lab[300], file[280];

	clock_gettime(CLOCK_MONOTONIC, &t0);
	exp_read_dataplane(cfg, &s, EXP_TEL_TIMEOUT_MS);
	read_redis(cfg, &s, &sp);
	exp_read_cert(cfg, &s);

	family(o, "poprelay_up", "gauge", "1 when the process answered this scrape.");
	sample_i(o, "poprelay_up", "process=\"dataplane\"", s.dp_up);
	sample_i(o, "poprelay_up", "process=\"redis\"", s.redis_up);
	/* the slowpath's liveness is its stats' freshness: unknown (absent) without Redis */
	if (s.redis_up) {
		family(o, "poprelay_slowpath_up", "gauge",
		       "1 when the slowpath's stats hash is fresh (updated within 3 s, not "
		       "stopped).");
		sample_i(o, "poprelay_slowpath_up", "", slowpath_up(&sp));
	}
	if (s.dp_up)
		render_dataplane(o, &s);
	if (s.redis_up)
		render_redis(o, &s);
	if (s.redis_up && sp.read)
		render_slowpath(o, &sp);
	if (s.cert_state) {
		esc(file, sizeof(file), cfg->cert);
		snprintf(lab, sizeof(lab), "file=\"%s\"", file);
		family(o, "poprelay_tls_certificate_readable", "gauge",
		       "1 when the slowpath's certificate file could be read and parsed.");
		sample_i(o, "poprelay_tls_certificate_readable", lab, s.cert_state > 0);
		if (s.cert_state > 0) {
			family(o, "poprelay_tls_certificate_expiry_seconds", "gauge",
			       "Seconds until the slowpath certificate's notAfter (negative once "
			       "expired).");
			sample_i(o, "poprelay_tls_certificate_expiry_seconds", lab, s.cert_left_s);
		}
	}
	exp_alarms_render(o);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	family(o, "poprelay_scrape_duration_seconds", "gauge", "Time this scrape took to gather.");
	sample_d(o, "poprelay_scrape_duration_seconds", "",
		 (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);

	exp_scrape_free(&s);
	return o->failed ? -ENOMEM : 0;
}
