/* SPDX-License-Identifier: BSD-3-Clause */
/* poprelayctl status | stats.
 *
 *   poprelayctl [-c CONF] [--json] status [--prefix P] [--json]
 *   poprelayctl [-c CONF] [--json] stats  [--prefix P] [--json] [--all]
 *
 * status is the one view of the appliance: each process up or down with a reason (the
 * dataplane over its telemetry socket, Redis by a PING, the slowpath and the exporter by a
 * TCP connect to their configured listeners), the dataplane's ports and neighbours, and
 * the active alarms; every check has a timeout, so it answers within a second with any
 * process down or frozen. Exit: 0 all up, 1 error, 2 usage, 3 a process is down.
 * stats: the dataplane's counters. Exit: 0 ok, 1 error, 2 usage, 3 the dataplane is not
 * running.
 *
 * The telemetry socket is /var/run/dpdk/<prefix>/dpdk_telemetry.v2, prefix from --prefix,
 * else [eal] file_prefix of CONF, else "poprelay". */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/keyspace.h"
#include "common/redis.h"
#include "mgmt/ctl.h"
#include "mgmt/ctl_alarms.h"
#include "mgmt/telemetry_client.h"

#define DEFAULT_PREFIX "poprelay"

struct opts {
	const char *prefix;
	bool all;
};

static int parse_opts(struct ctl_ctx *ctx, int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {{"prefix", required_argument, NULL, 'p'},
					   {"json", no_argument, NULL, 'j'},
					   {"all", no_argument, NULL, 'a'},
					   {"help", no_argument, NULL, 'h'},
					   {NULL, 0, NULL, 0}};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:jah", lo, NULL)) != -1) {
		switch (c) {
		case 'p':
			o->prefix = optarg;
			break;
		case 'j':
			ctx->json = true;
			break;
		case 'a':
			o->all = true;
			break;
		case 'h':
			printf("usage: %s %s [--prefix FILE_PREFIX] [--json]%s\n", ctx->prog,
			       argv[0], strcmp(argv[0], "stats") ? "" : " [--all]");
			return -1;
		default:
			return CTL_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		ctl_err(ctx, "%s: unexpected argument '%s'", argv[0], argv[optind]);
		return CTL_EXIT_USAGE;
	}
	if (o->prefix == NULL)
		o->prefix = ctl_conf_get(ctx, "eal", "file_prefix");
	if (o->prefix == NULL || o->prefix[0] == '\0')
		o->prefix = DEFAULT_PREFIX;
	return 0;
}

static int connect_dp(struct ctl_ctx *ctx, const struct opts *o, struct ctl_tel *t)
{
	int rc = ctl_tel_open(t, o->prefix);

	if (rc == 0)
		return CTL_EXIT_OK;
	if (rc == -ENOENT || rc == -ECONNREFUSED) {
		ctl_err(ctx,
			"the dataplane is not running (no telemetry at %s/%s/dpdk_telemetry.v2; "
			"file prefix from %s)",
			CTL_TEL_RUNDIR, o->prefix,
			ctl_conf_get(ctx, "eal", "file_prefix") ? ctx->conf_path
								: "--prefix/default");
		return CTL_EXIT_DOWN;
	}
	if (rc == -EACCES || rc == -EPERM) {
		ctl_err(ctx,
			"cannot read the dataplane's telemetry: permission denied (run as root)");
		return CTL_EXIT_ERR;
	}
	ctl_err(ctx, "cannot read the dataplane's telemetry: %s", strerror(-rc));
	return rc == -EINVAL ? CTL_EXIT_USAGE : CTL_EXIT_ERR;
}

/* Query or fail with a message; NULL on failure. */
static json_t *query(struct ctl_ctx *ctx, struct ctl_tel *t, const char *cmd)
{
	int err;
	json_t *v = ctl_tel_query(t, cmd, &err);

	if (v == NULL)
		ctl_err(ctx, "telemetry %s: %s", cmd,
			err == -EINVAL ? "not answered (an older or different dataplane?)"
				       : strerror(-err));
	return v;
}

static json_int_t jint(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? json_integer_value(v) : 0;
}

static const char *jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : "-";
}

static void fmt_uptime(json_int_t s, char *buf, size_t len)
{
	snprintf(buf, len, "%" PRId64 "d %02" PRId64 ":%02" PRId64 ":%02" PRId64,
		 (int64_t)s / 86400, (int64_t)s / 3600 % 24, (int64_t)s / 60 % 60, (int64_t)s % 60);
}

/* Every lcore's counters as an array. */
static json_t *lcores_detail(struct ctl_ctx *ctx, struct ctl_tel *t)
{
	json_t *lc = query(ctx, t, "/poprelay/lcores"), *arr, *ids;
	size_t i;
	char cmd[64];

	if (lc == NULL)
		return NULL;
	arr = json_array();
	ids = json_object_get(lc, "lcore");
	for (i = 0; i < json_array_size(ids); i++) {
		snprintf(cmd, sizeof(cmd), "/poprelay/lcore,%" PRId64,
			 (int64_t)json_integer_value(json_array_get(ids, i)));
		json_t *one = query(ctx, t, cmd);
		if (one == NULL) {
			json_decref(arr);
			arr = NULL;
			break;
		}
		json_array_append_new(arr, one);
	}
	json_decref(lc);
	return arr;
}

/* ---- status: one line per process, each check bounded ---- */

/* Bounds of each check: the whole command answers within a second even with a process
 * frozen (a connect that a frozen listener's backlog accepts, then no answer). */
#define STATUS_TEL_TIMEOUT_MS	300
#define STATUS_REDIS_TIMEOUT_MS 200
#define STATUS_TCP_TIMEOUT_MS	150
#define DEFAULT_TLS_LISTEN	"0.0.0.0:5061"
#define DEFAULT_EXPORTER_LISTEN "127.0.0.1:9469"
#define DEFAULT_POP		"pop1"
/* The slowpath writes its stats hash every second: older than this, it is counted down. */
#define STATUS_SP_STALE_MS 5000

/* What the appliance image's NIC binding (poprelay-nic-bind, before the dataplane) left:
 * one line, "bound: ..." or "failed: ...". POPRELAY_NIC_BIND_STATUS names another file. */
#define NIC_BIND_STATUS "/run/poprelay/nic-bind.status"

static void nic_bind_read(char *out, size_t len)
{
	const char *path = getenv("POPRELAY_NIC_BIND_STATUS");
	FILE *f = fopen(path && *path ? path : NIC_BIND_STATUS, "r");

	out[0] = '\0';
	if (!f)
		return;
	if (!fgets(out, (int)len, f))
		out[0] = '\0';
	out[strcspn(out, "\r\n")] = '\0';
	fclose(f);
}

enum proc_state { P_UP, P_DOWN, P_ERROR, P_UNCHECKED };
static const char *const state_names[] = {"up", "down", "error", "not checked"};

struct proc {
	const char *name;
	enum proc_state state;
	char detail[300];
};

static bool has_section(const struct ctl_ctx *ctx, const char *section)
{
	size_t i;

	for (i = 0; i < ctx->nconf; i++)
		if (strcmp(ctx->conf[i].section, section) == 0)
			return true;
	return false;
}

/* "addr:port" or "[v6]:port"; a wildcard address is checked on loopback. */
static int parse_hostport(const char *s, struct sockaddr_storage *ss, socklen_t *sl,
			  unsigned int *port)
{
	char host[64];
	const char *colon;
	char *end;
	unsigned long p;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, (size_t)(rb - s - 1));
		host[rb - s - 1] = '\0';
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
	}
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || p > 65535)
		return -EINVAL;
	*port = (unsigned int)p;
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)p);
		if (v4->sin_addr.s_addr == htonl(INADDR_ANY))
			v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*sl = sizeof(*v4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)p);
		if (IN6_IS_ADDR_UNSPECIFIED(&v6->sin6_addr))
			v6->sin6_addr = in6addr_loopback;
		*sl = sizeof(*v6);
		return 0;
	}
	return -EINVAL;
}

/* A TCP connect within STATUS_TCP_TIMEOUT_MS, closed at once: the listener is there. */
static void check_tcp(struct proc *p, const char *what, const char *addr)
{
	struct sockaddr_storage ss;
	struct pollfd pfd;
	socklen_t sl, el = sizeof(int);
	unsigned int port;
	int fd, err = 0;

	if (parse_hostport(addr, &ss, &sl, &port) < 0) {
		p->state = P_ERROR;
		snprintf(p->detail, sizeof(p->detail), "%s '%s': expected ADDRESS:PORT", what,
			 addr);
		return;
	}
	if (port == 0) {
		p->state = P_UNCHECKED;
		snprintf(p->detail, sizeof(p->detail), "%s has port 0: no listener to check", what);
		return;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = errno;
	} else if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		err = errno;
		if (err == EINPROGRESS) {
			pfd = (struct pollfd){.fd = fd, .events = POLLOUT};
			int n = poll(&pfd, 1, STATUS_TCP_TIMEOUT_MS);
			if (n == 0)
				err = ETIMEDOUT;
			else if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
				err = errno;
		}
	}
	if (fd >= 0)
		close(fd);
	p->state = err ? P_DOWN : P_UP;
	if (err)
		snprintf(p->detail, sizeof(p->detail), "tcp %s (%s): %s", addr, what,
			 strerror(err));
	else
		snprintf(p->detail, sizeof(p->detail), "tcp %s (%s) accepts connections", addr,
			 what);
}

/* This appliance's slowpath's stats hash (pr:stats:slowpath:<pop>:<instance>, [sip] pop and
 * instance, by default the host's name): its age, whether it stopped, its TLS flows. Read
 * while Redis is open; judged with the listener check (sp_judge). */
struct sp_seen {
	bool read;    /* Redis answered */
	bool present; /* the hash has updated_ms */
	int64_t age_ms, stopped_ms, tls_flows;
	char key[PR_KS_NAME_MAX + 96];
};

static void sp_read(struct ctl_ctx *ctx, struct pr_redis *r, struct sp_seen *sp)
{
	const char *pop = ctl_conf_get(ctx, "sip", "pop");
	struct timespec now;
	redisReply *rep;

	if (pr_ks_slowpath_stats_key(sp->key, sizeof(sp->key), pop && *pop ? pop : DEFAULT_POP,
				     ctl_conf_get(ctx, "sip", "instance")) < 0)
		return;
	rep = pr_redis_cmd(r, "HMGET %s updated_ms stopped_ms tls_open", sp->key);
	if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 3) {
		int64_t v[3] = {-1, 0, 0};
		for (size_t i = 0; i < 3; i++)
			if (rep->element[i]->type == REDIS_REPLY_STRING)
				v[i] = strtoll(rep->element[i]->str, NULL, 10);
		clock_gettime(CLOCK_REALTIME, &now);
		sp->read = true;
		sp->present = v[0] >= 0;
		sp->age_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 - v[0];
		sp->stopped_ms = v[1];
		sp->tls_flows = v[2];
	}
	freeReplyObject(rep);
}

/* Down when the listener does not accept, or (Redis answering) the stats are stale, absent
 * or say it stopped. */
static void sp_judge(struct proc *p, const struct sp_seen *sp)
{
	size_t l = strlen(p->detail);
	char *d = p->detail + l;
	size_t room = sizeof(p->detail) - l;

	if (p->state == P_ERROR || p->state == P_UNCHECKED)
		return;
	if (!sp->read) {
		snprintf(d, room, "; stats not read (redis)");
		return;
	}
	if (!sp->present) {
		snprintf(d, room, "; no stats in %s", sp->key);
		p->state = P_DOWN;
	} else if (sp->stopped_ms) {
		snprintf(d, room, "; stats say it stopped %.1f s ago", (double)sp->age_ms / 1000.0);
		p->state = P_DOWN;
	} else {
		snprintf(d, room, "; stats %.1f s old%s, %" PRId64 " TLS flows",
			 (double)sp->age_ms / 1000.0,
			 sp->age_ms > STATUS_SP_STALE_MS ? " (stale)" : "", sp->tls_flows);
		if (sp->age_ms > STATUS_SP_STALE_MS)
			p->state = P_DOWN;
	}
}

/* A telemetry query for status: the reason of a failure goes into why. */
static json_t *squery(struct ctl_tel *t, const char *cmd, char *why, size_t len)
{
	int err;
	json_t *v = ctl_tel_query(t, cmd, &err);

	if (v == NULL)
		snprintf(why, len, "telemetry %s: %s", cmd,
			 err == -EINVAL	  ? "not answered (an older or different dataplane?)"
			 : err == -EAGAIN ? "no answer (hung or frozen?)"
					  : strerror(-err));
	return v;
}

struct dp_view {
	json_t *info, *ports, *neigh, *lcores;
	json_t *turn;  /* /poprelay/turn/stats (NULL: TURN off) */
	json_t *media; /* /poprelay/media/stats (NULL: no media anchor) */
};

static void check_dataplane(const struct opts *o, struct proc *p, struct dp_view *v)
{
	struct ctl_tel t;
	json_int_t i;
	char cmd[64];
	int rc = ctl_tel_open_timeout(&t, o->prefix, STATUS_TEL_TIMEOUT_MS);

	p->state = P_DOWN;
	if (rc == -ENOENT || rc == -ECONNREFUSED) {
		snprintf(p->detail, sizeof(p->detail),
			 "not running (no telemetry at %s/%s/dpdk_telemetry.v2)", CTL_TEL_RUNDIR,
			 o->prefix);
		return;
	}
	if (rc == -EACCES || rc == -EPERM) {
		p->state = P_ERROR;
		snprintf(p->detail, sizeof(p->detail),
			 "cannot read its telemetry: permission denied (run as root)");
		return;
	}
	if (rc == -EAGAIN) {
		snprintf(p->detail, sizeof(p->detail),
			 "no telemetry greeting within %d ms (hung or frozen?)",
			 STATUS_TEL_TIMEOUT_MS);
		return;
	}
	if (rc < 0) {
		snprintf(p->detail, sizeof(p->detail), "telemetry: %s", strerror(-rc));
		return;
	}
	v->info = squery(&t, "/poprelay/info", p->detail, sizeof(p->detail));
	if (v->info == NULL)
		goto out;
	v->ports = json_array();
	for (i = 0; i < jint(v->info, "ports"); i++) {
		snprintf(cmd, sizeof(cmd), "/poprelay/port,%" PRId64, (int64_t)i);
		json_t *one = squery(&t, cmd, p->detail, sizeof(p->detail));
		if (one == NULL)
			goto out;
		json_array_append_new(v->ports, one);
	}
	v->neigh = squery(&t, "/poprelay/neigh", p->detail, sizeof(p->detail));
	if (v->neigh == NULL)
		goto out;
	v->lcores = squery(&t, "/poprelay/lcores", p->detail, sizeof(p->detail));
	if (v->lcores == NULL)
		goto out;
	{ /* (for the stream front's row; absent when TURN is off) */
		int err;
		v->turn = ctl_tel_query(&t, "/poprelay/turn/stats", &err);
		v->media = ctl_tel_query(&t, "/poprelay/media/stats", &err);
	}
	p->state = P_UP;
	snprintf(p->detail, sizeof(p->detail), "pid %" PRId64 ", telemetry %s",
		 (int64_t)jint(v->info, "pid"), t.path);
out:
	ctl_tel_close(&t);
}

static void print_dataplane(const struct dp_view *v)
{
	json_t *info = v->info, *ports = v->ports, *neigh = v->neigh;
	char up[32];

	fmt_uptime(jint(info, "uptime_s"), up, sizeof(up));
	printf("dataplane: running (version %s, pid %" PRId64 ", up %s)\n", jstr(info, "version"),
	       (int64_t)jint(info, "pid"), up);
	printf("config: %s, file prefix %s\n", jstr(info, "config"), jstr(info, "file_prefix"));
	printf("lcores: control %" PRId64 ", %" PRId64 " worker(s); features: %s\n",
	       (int64_t)jint(info, "main_lcore"), (int64_t)jint(info, "workers"),
	       *jstr(info, "features") ? jstr(info, "features") : "none");
	printf("neighbours: %" PRId64 "\n\n", (int64_t)jint(neigh, "count"));
	{
		static const char *const h[] = {"port", "device",  "mac",     "ipv4",  "ipv6",
						"link", "rx_pkts", "tx_pkts", "missed"};
		struct ctl_table *tab = ctl_table_new(9, h);
		size_t i;
		for (i = 0; tab && i < json_array_size(ports); i++) {
			json_t *p = json_array_get(ports, i);
			char c0[16], c6[24], c7[24], c8[24];
			snprintf(c0, sizeof(c0), "%" PRId64, (int64_t)jint(p, "port"));
			snprintf(c6, sizeof(c6), "%" PRId64, (int64_t)jint(p, "ipackets"));
			snprintf(c7, sizeof(c7), "%" PRId64, (int64_t)jint(p, "opackets"));
			snprintf(c8, sizeof(c8), "%" PRId64, (int64_t)jint(p, "imissed"));
			const char *row[] = {c0,
					     jstr(p, "device"),
					     jstr(p, "mac"),
					     jstr(p, "ipv4"),
					     jstr(p, "ipv6"),
					     jstr(p, "link"),
					     c6,
					     c7,
					     c8};
			ctl_table_add(tab, row);
		}
		if (tab) {
			ctl_table_print(tab, stdout);
			ctl_table_free(tab);
		}
	}
	{
		static const char *const h[] = {"port", "neighbour", "mac", "state", "expires_s"};
		json_t *addr = json_object_get(neigh, "address");
		size_t i, n = json_array_size(addr);
		struct ctl_table *tab = n ? ctl_table_new(5, h) : NULL;
		for (i = 0; tab && i < n; i++) {
			char c0[16], c4[24];
			snprintf(c0, sizeof(c0), "%" PRId64,
				 (int64_t)json_integer_value(
				     json_array_get(json_object_get(neigh, "port"), i)));
			snprintf(c4, sizeof(c4), "%" PRId64,
				 (int64_t)json_integer_value(
				     json_array_get(json_object_get(neigh, "expires_s"), i)));
			const char *row[] = {
			    c0, json_string_value(json_array_get(addr, i)),
			    json_string_value(json_array_get(json_object_get(neigh, "mac"), i)),
			    json_string_value(json_array_get(json_object_get(neigh, "state"), i)),
			    c4};
			ctl_table_add(tab, row);
		}
		if (tab) {
			printf("\n");
			ctl_table_print(tab, stdout);
			ctl_table_free(tab);
		}
	}
}

#define NPROCS 6

/* poprelay-turnfront (TURN over TCP and TLS), checked when the file has its [turn_front]
 * section: up when the dataplane says a front is attached to its stream socket. */
static void turnfront_judge(const struct ctl_ctx *ctx, const struct proc *dp,
			    const struct dp_view *v, struct proc *p)
{
	if (!has_section(ctx, "turn_front")) {
		p->state = P_UNCHECKED;
		snprintf(p->detail, sizeof(p->detail), "no [turn_front] section in %s",
			 ctx->conf_path);
		return;
	}
	p->state = P_DOWN;
	if (dp->state != P_UP) {
		snprintf(p->detail, sizeof(p->detail), "unknown: the dataplane is not up");
		return;
	}
	if (!v->turn) {
		snprintf(p->detail, sizeof(p->detail), "the dataplane runs no TURN relay");
		return;
	}
	if (jint(v->turn, "stream_front_attached") != 1) {
		snprintf(p->detail, sizeof(p->detail),
			 "not attached to the dataplane's stream socket (TCP and TLS clients are "
			 "not served)");
		return;
	}
	p->state = P_UP;
	snprintf(p->detail, sizeof(p->detail),
		 "attached; %" PRId64 " connections open, %" PRId64 " TCP and %" PRId64
		 " TLS accepted",
		 (int64_t)jint(v->turn, "stream_connections_open"),
		 (int64_t)jint(v->turn, "stream_tcp_connections"),
		 (int64_t)jint(v->turn, "stream_tls_connections"));
}

/* poprelay-dtls (the DTLS-SRTP handshakes of browser legs), checked when the file has its
 * [dtls] section: up when the dataplane says it is attached to [media] dtls_socket. */
static void dtls_judge(const struct ctl_ctx *ctx, const struct proc *dp, const struct dp_view *v,
		       struct proc *p)
{
	if (!has_section(ctx, "dtls")) {
		p->state = P_UNCHECKED;
		snprintf(p->detail, sizeof(p->detail), "no [dtls] section in %s", ctx->conf_path);
		return;
	}
	p->state = P_DOWN;
	if (dp->state != P_UP) {
		snprintf(p->detail, sizeof(p->detail), "unknown: the dataplane is not up");
		return;
	}
	if (!v->media) {
		snprintf(p->detail, sizeof(p->detail), "the dataplane runs no media anchor");
		return;
	}
	if (jint(v->media, "dtls_process_attached") != 1) {
		snprintf(p->detail, sizeof(p->detail),
			 "not attached to the dataplane's [media] dtls_socket (browser legs get no "
			 "keys)");
		return;
	}
	p->state = P_UP;
	snprintf(p->detail, sizeof(p->detail),
		 "attached; %" PRId64 " handshakes in progress, %" PRId64 " completed",
		 (int64_t)jint(v->media, "dtls_handshakes_in_progress"),
		 (int64_t)jint(v->media, "dtls_handshakes_completed"));
}

int ctl_status_main(struct ctl_ctx *ctx, int argc, char **argv)
{
	struct opts o;
	struct dp_view v = {0};
	struct proc procs[NPROCS] = {{.name = "dataplane"}, {.name = "redis"},
				     {.name = "slowpath"},  {.name = "exporter"},
				     {.name = "turnfront"}, {.name = "dtls"}};
	struct pr_redis *r;
	json_t *alarms = NULL, *drain = NULL;
	struct sp_seen sp = {0};
	char alarms_why[256] = "", down[64] = "";
	bool any_error = false;
	size_t i;
	int rc = parse_opts(ctx, argc, argv, &o);

	if (rc)
		return rc < 0 ? CTL_EXIT_OK : rc;

	check_dataplane(&o, &procs[0], &v);
	char nic_bind[256];
	nic_bind_read(nic_bind, sizeof(nic_bind));
	/* a dataplane that was not started because its NICs could not be bound says why */
	if (procs[0].state != P_UP && !strncmp(nic_bind, "failed", 6)) {
		size_t l = strlen(procs[0].detail);
		snprintf(procs[0].detail + l, sizeof(procs[0].detail) - l, "; NIC binding %.200s",
			 nic_bind);
	}
	{
		char why[160];
		r = ctl_alarms_redis(ctx, STATUS_REDIS_TIMEOUT_MS, why, sizeof(why));
		procs[1].state = r ? P_UP : P_DOWN;
		snprintf(procs[1].detail, sizeof(procs[1].detail), "%.*s: %s", 120,
			 ctx->redis_socket, r ? "answered a PING" : why);
	}
	if (r) {
		alarms = ctl_alarms_active(r, alarms_why, sizeof(alarms_why));
		if (has_section(ctx, "sip"))
			sp_read(ctx, r, &sp);
		pr_redis_close(r);
		/* the maintenance drain, when there is one, and what is left of the service */
		drain = ctl_drain_summary ? json_object() : NULL;
		if (drain && ctl_drain_summary(ctx, drain) < 0) {
			json_decref(drain);
			drain = NULL;
		}
	} else {
		snprintf(alarms_why, sizeof(alarms_why), "unknown: redis is down");
	}
	/* The slowpath is up when its TLS listener accepts a connection and (Redis up) its
	 * stats hash is fresh. Checked when the file has its [sip] section (the appliance's
	 * has). */
	if (has_section(ctx, "sip")) {
		const char *l = ctl_conf_get(ctx, "sip", "tls_listen");
		check_tcp(&procs[2], "[sip] tls_listen", l && *l ? l : DEFAULT_TLS_LISTEN);
		sp_judge(&procs[2], &sp);
	} else {
		procs[2].state = P_UNCHECKED;
		snprintf(procs[2].detail, sizeof(procs[2].detail), "no [sip] section in %s",
			 ctx->conf_path);
	}
	if (has_section(ctx, "exporter")) {
		const char *l = ctl_conf_get(ctx, "exporter", "listen");
		check_tcp(&procs[3], "[exporter] listen", l && *l ? l : DEFAULT_EXPORTER_LISTEN);
	} else {
		procs[3].state = P_UNCHECKED;
		snprintf(procs[3].detail, sizeof(procs[3].detail), "no [exporter] section in %s",
			 ctx->conf_path);
	}
	turnfront_judge(ctx, &procs[0], &v, &procs[4]);
	dtls_judge(ctx, &procs[0], &v, &procs[5]);
	for (i = 0; i < NPROCS; i++) {
		any_error |= procs[i].state == P_ERROR;
		if (procs[i].state == P_DOWN)
			snprintf(down + strlen(down), sizeof(down) - strlen(down), "%s%s",
				 down[0] ? ", " : "", procs[i].name);
	}

	if (ctx->json) {
		json_t *j = json_object(), *pa = json_array(), *da = json_array();
		json_object_set_new(j, "running", json_boolean(procs[0].state == P_UP));
		for (i = 0; i < NPROCS; i++) {
			json_array_append_new(
			    pa, json_pack("{s:s, s:s, s:s}", "process", procs[i].name, "state",
					  state_names[procs[i].state], "detail", procs[i].detail));
			if (procs[i].state == P_DOWN)
				json_array_append_new(da, json_string(procs[i].name));
		}
		json_object_set_new(j, "processes", pa);
		json_object_set_new(j, "down", da);
		json_object_set(j, "alarms", alarms ? alarms : json_null());
		json_object_set(j, "drain", drain ? drain : json_null());
		json_object_set_new(j, "nic_binding",
				    nic_bind[0] ? json_string(nic_bind) : json_null());
		if (procs[0].state == P_UP) {
			json_object_set(j, "dataplane", v.info);
			json_object_set(j, "lcores", v.lcores);
			json_object_set(j, "ports", v.ports);
			json_object_set(j, "neighbours", v.neigh);
		}
		ctl_json_print(j);
	} else {
		static const char *const h[] = {"process", "state", "detail"};
		struct ctl_table *tab = ctl_table_new(3, h);
		if (procs[0].state == P_UP)
			print_dataplane(&v);
		else
			printf("dataplane: %s: %s\n", state_names[procs[0].state], procs[0].detail);
		for (i = 0; tab && i < NPROCS; i++) {
			const char *row[] = {procs[i].name, state_names[procs[i].state],
					     procs[i].detail};
			ctl_table_add(tab, row);
		}
		printf("\n");
		if (tab) {
			ctl_table_print(tab, stdout);
			ctl_table_free(tab);
		}
		if (nic_bind[0])
			printf("\nNIC binding: %s\n", nic_bind);
		printf("\nalarms (%s):\n", CTL_ALARMS_ACTIVE_KEY);
		if (alarms)
			ctl_alarms_print_active(alarms, stdout);
		else
			printf("%s\n", alarms_why);
		if (drain && json_is_true(json_object_get(drain, "draining"))) {
			char since[32];
			ctl_format_time(json_integer_value(json_object_get(drain, "since_ms")) /
					    1000,
					since, sizeof(since));
			printf("\ndraining since %s (poprelayctl drain --status): left "
			       "%" JSON_INTEGER_FORMAT " calls, %" JSON_INTEGER_FORMAT
			       " registrations, %" JSON_INTEGER_FORMAT
			       " TURN allocations, %" JSON_INTEGER_FORMAT " media sessions\n",
			       since, json_integer_value(json_object_get(drain, "calls")),
			       json_integer_value(json_object_get(drain, "registrations")),
			       json_integer_value(json_object_get(drain, "turn_allocations")),
			       json_integer_value(json_object_get(drain, "media_sessions")));
		}
		if (down[0])
			printf("\ndown: %s\n", down);
	}
	json_decref(drain);
	json_decref(alarms);
	json_decref(v.info);
	json_decref(v.ports);
	json_decref(v.media);
	json_decref(v.neigh);
	json_decref(v.lcores);
	json_decref(v.turn);
	if (down[0])
		return CTL_EXIT_DOWN;
	return any_error ? CTL_EXIT_ERR : CTL_EXIT_OK;
}

int ctl_stats_main(struct ctl_ctx *ctx, int argc, char **argv)
{
	struct opts o;
	struct ctl_tel t;
	json_t *stats = NULL, *drops = NULL, *lcores = NULL;
	int rc = parse_opts(ctx, argc, argv, &o);
	const char *k;
	json_t *v;

	if (rc)
		return rc < 0 ? CTL_EXIT_OK : rc;
	rc = connect_dp(ctx, &o, &t);
	if (rc)
		return rc;
	rc = CTL_EXIT_ERR;
	stats = query(ctx, &t, "/poprelay/stats");
	drops = query(ctx, &t, "/poprelay/drops");
	lcores = lcores_detail(ctx, &t);
	if (!stats || !drops || !lcores)
		goto out;
	if (ctx->json) {
		json_t *j = json_object();
		json_object_set(j, "stats", stats);
		json_object_set(j, "drops", drops);
		json_object_set(j, "lcores", lcores);
		rc = ctl_json_print(j);
		goto out;
	}
	{
		static const char *const h[] = {"counter", "value"};
		struct ctl_table *tab = ctl_table_new(2, h);
		json_object_foreach(stats, k, v)
		{
			char val[32];
			if (!tab || (!o.all && json_integer_value(v) == 0))
				continue;
			snprintf(val, sizeof(val), "%" PRId64, (int64_t)json_integer_value(v));
			const char *row[] = {k, val};
			ctl_table_add(tab, row);
		}
		if (tab) {
			ctl_table_print(tab, stdout);
			ctl_table_free(tab);
		}
	}
	{
		static const char *const h[] = {"drop_reason", "packets"};
		struct ctl_table *tab = ctl_table_new(2, h);
		unsigned int shown = 0;
		json_object_foreach(drops, k, v)
		{
			char val[32];
			if (!tab || (!o.all && json_integer_value(v) == 0))
				continue;
			snprintf(val, sizeof(val), "%" PRId64, (int64_t)json_integer_value(v));
			const char *row[] = {k, val};
			ctl_table_add(tab, row);
			shown++;
		}
		printf("\n");
		if (tab && shown)
			ctl_table_print(tab, stdout);
		else
			printf("no drops\n");
		ctl_table_free(tab);
	}
	{
		static const char *const h[] = {"lcore",      "role",  "rx_packets",
						"tx_packets", "drops", "busy_%"};
		struct ctl_table *tab = ctl_table_new(6, h);
		size_t i;
		for (i = 0; tab && i < json_array_size(lcores); i++) {
			json_t *l = json_array_get(lcores, i);
			char c0[16], c2[24], c3[24], c4[24], c5[16];
			json_int_t loops = jint(l, "loops");
			snprintf(c0, sizeof(c0), "%" PRId64, (int64_t)jint(l, "lcore"));
			snprintf(c2, sizeof(c2), "%" PRId64, (int64_t)jint(l, "rx_packets"));
			snprintf(c3, sizeof(c3), "%" PRId64, (int64_t)jint(l, "tx_packets"));
			snprintf(c4, sizeof(c4), "%" PRId64, (int64_t)jint(l, "drops"));
			snprintf(c5, sizeof(c5), "%.1f",
				 loops ? 100.0 * (double)jint(l, "busy_loops") / (double)loops
				       : 0.0);
			const char *row[] = {c0, jstr(l, "role"), c2, c3, c4, c5};
			ctl_table_add(tab, row);
		}
		printf("\n");
		if (tab) {
			ctl_table_print(tab, stdout);
			ctl_table_free(tab);
		}
	}
	rc = CTL_EXIT_OK;
out:
	json_decref(stats);
	json_decref(drops);
	json_decref(lcores);
	ctl_tel_close(&t);
	return rc;
}
