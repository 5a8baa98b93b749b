/* SPDX-License-Identifier: BSD-3-Clause */
/* poprelay-exporter: serves GET /metrics for Prometheus (docs/metrics.md).
 *
 *   poprelay-exporter [-c CONF] [-l ADDR:PORT] [-p FILE_PREFIX] [-s REDIS_SOCKET]
 *
 * Configuration as poprelayctl finds it (-c, default /etc/poprelay/poprelay.conf): the
 * [exporter] and [alarms] sections, [eal] file_prefix, [redis] socket, [sip] tls_cert and pop.
 * Besides the listener, a thread evaluates the alarms once a second (exporter_alarms.c). It listens
 * on one address only, never a wildcard: the figures are for the local Prometheus, and an
 * appliance's management address is the operator's choice to make in the config. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "common/log.h"
#include "common/redis.h"
#include "mgmt/ctl.h"
#include "mgmt/exporter.h"
#include "mgmt/ha_redis.h"

#define PROG "poprelay-exporter"

static const char not_found[] = "not found: the metrics are at GET /metrics\n";

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned int status, const char *ctype,
				 void *buf, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, buf, mode);
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **state)
{
	const struct exp_cfg *cfg = cls;
	struct exp_out o = {0};
	static int first;

	(void)version;
	(void)upload;
	/* The first call only announces the request (its body may follow); answer on the
	 * second. A GET has no body, so nothing is lost by not reading one. */
	if (*state == NULL) {
		*state = &first;
		return MHD_YES;
	}
	*upload_size = 0;
	if (strcmp(url, "/metrics") != 0 || strcmp(method, MHD_HTTP_METHOD_GET) != 0)
		return send_text(c, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8",
				 (void *)not_found, sizeof(not_found) - 1, MHD_RESPMEM_PERSISTENT);
	if (exp_render(cfg, &o) < 0) {
		exp_out_free(&o);
		return send_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8",
				 (void *)"out of memory\n", 14, MHD_RESPMEM_PERSISTENT);
	}
	/* MHD_RESPMEM_MUST_FREE hands the buffer over: freed with the response. */
	return send_text(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", o.buf, o.len,
			 MHD_RESPMEM_MUST_FREE);
}

/* "127.0.0.1:9469" or "[::1]:9469" into ss. Wildcards are refused. */
static int parse_listen(const char *s, struct sockaddr_storage *ss, const char **why)
{
	char host[64];
	const char *colon;
	char *end;
	unsigned long port;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (rb == NULL || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof(host)) {
			*why = "expected ADDRESS:PORT ([ADDRESS]:PORT for IPv6)";
			return -EINVAL;
		}
		memcpy(host, s + 1, (size_t)(rb - s - 1));
		host[rb - s - 1] = '\0';
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || (size_t)(colon - s) >= sizeof(host)) {
			*why = "expected ADDRESS:PORT ([ADDRESS]:PORT for IPv6)";
			return -EINVAL;
		}
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
	}
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end || errno || port == 0 || port > 65535) {
		*why = "port must be 1..65535";
		return -EINVAL;
	}
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		if (v4->sin_addr.s_addr == htonl(INADDR_ANY)) {
			*why = "a wildcard address would serve every interface; name one address";
			return -EINVAL;
		}
		return 0;
	}
	if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		if (IN6_IS_ADDR_UNSPECIFIED(&v6->sin6_addr)) {
			*why = "a wildcard address would serve every interface; name one address";
			return -EINVAL;
		}
		return 0;
	}
	*why = "not an IPv4 or IPv6 address";
	return -EINVAL;
}

static int copy_opt(char *dst, size_t len, const char *v, const char *what)
{
	if (v == NULL)
		v = "";
	if (strlen(v) >= len) {
		fprintf(stderr, "%s: %s longer than %zu characters\n", PROG, what, len - 1);
		return -1;
	}
	snprintf(dst, len, "%s", v);
	return 0;
}

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: %s [-c CONF] [-l ADDR:PORT] [-p FILE_PREFIX] [-s REDIS_SOCKET]\n"
	    "\n"
	    "  -c CONF          configuration file (default %s)\n"
	    "  -l ADDR:PORT     listen address (default: [exporter] listen, else %s)\n"
	    "  -p PREFIX        the dataplane's [eal] file_prefix (default: from CONF, else "
	    "%s)\n"
	    "  -s SOCKET        redis unix socket (default: [redis] socket from CONF, else %s)\n"
	    "\nServes the Prometheus text format on GET /metrics; see docs/metrics.md.\n",
	    PROG, CTL_DEFAULT_CONF, EXP_DEFAULT_LISTEN, EXP_DEFAULT_PREFIX,
	    CTL_DEFAULT_REDIS_SOCKET);
}

static const char *conf_or(const struct ctl_ctx *ctx, const char *sec, const char *key,
			   const char *def)
{
	const char *v = ctl_conf_get(ctx, sec, key);
	return v && *v ? v : def;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'}, {"listen", required_argument, NULL, 'l'},
	    {"prefix", required_argument, NULL, 'p'}, {"socket", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},	      {NULL, 0, NULL, 0},
	};
	struct ctl_ctx ctx = {.prog = PROG, .conf_path = CTL_DEFAULT_CONF};
	const char *listen_opt = NULL, *prefix_opt = NULL, *sock_opt = NULL, *listen, *why = "";
	const char *user, *pwfile;
	struct exp_cfg cfg = {0};
	struct sockaddr_storage ss;
	struct MHD_Daemon *d;
	sigset_t set;
	int c, rc, sig;

	while ((c = getopt_long(argc, argv, "c:l:p:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			ctx.conf_path = optarg;
			ctx.conf_explicit = true;
			break;
		case 'l':
			listen_opt = optarg;
			break;
		case 'p':
			prefix_opt = optarg;
			break;
		case 's':
			sock_opt = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", PROG, argv[optind]);
		usage(stderr);
		return 2;
	}
	rc = ctl_conf_load(&ctx, ctx.conf_path);
	if (rc < 0 && (ctx.conf_explicit || rc != -ENOENT)) {
		fprintf(stderr, "%s: cannot read configuration %s: %s\n", PROG, ctx.conf_path,
			strerror(-rc));
		return 1;
	}
	listen = listen_opt ? listen_opt : conf_or(&ctx, "exporter", "listen", EXP_DEFAULT_LISTEN);
	if (parse_listen(listen, &ss, &why) < 0) {
		fprintf(stderr, "%s: %s '%s': %s\n", PROG, listen_opt ? "-l" : "[exporter] listen",
			listen, why);
		return 2;
	}
	/* The exporter's own read-only ACL user ([exporter], else the file
	 * poprelay-setup-redis writes for it), before borrowing poprelayctl's or the shared one. */
	user = ctl_conf_get(&ctx, "exporter", "redis_user");
	pwfile = ctl_conf_get(&ctx, "exporter", "redis_password_file");
	if ((!pwfile || !*pwfile) && !ctx.conf_explicit && !sock_opt &&
	    access(EXP_DEFAULT_PASSFILE, R_OK) == 0) {
		user = "exporter";
		pwfile = EXP_DEFAULT_PASSFILE;
	}
	if (!pwfile || !*pwfile) {
		user = ctl_conf_get(&ctx, "ctl", "redis_user");
		pwfile = ctl_conf_get(&ctx, "ctl", "redis_password_file");
	}
	if (!pwfile || !*pwfile) {
		user = ctl_conf_get(&ctx, "redis", "user");
		pwfile = ctl_conf_get(&ctx, "redis", "password_file");
	}
	if (copy_opt(cfg.prefix, sizeof(cfg.prefix),
		     prefix_opt ? prefix_opt
				: conf_or(&ctx, "eal", "file_prefix", EXP_DEFAULT_PREFIX),
		     "file prefix") ||
	    copy_opt(cfg.redis_socket, sizeof(cfg.redis_socket),
		     sock_opt ? sock_opt
			      : conf_or(&ctx, "redis", "socket", CTL_DEFAULT_REDIS_SOCKET),
		     "redis socket path") ||
	    copy_opt(cfg.redis_user, sizeof(cfg.redis_user), user, "[exporter] redis_user") ||
	    copy_opt(cfg.redis_passfile, sizeof(cfg.redis_passfile), pwfile,
		     "redis password file path") ||
	    copy_opt(cfg.cert, sizeof(cfg.cert), conf_or(&ctx, "sip", "tls_cert", EXP_DEFAULT_CERT),
		     "[sip] tls_cert") ||
	    copy_opt(cfg.pop, sizeof(cfg.pop), conf_or(&ctx, "sip", "pop", EXP_DEFAULT_POP),
		     "[sip] pop"))
		return 2;
	if (pr_ks_slowpath_stats_key(cfg.sp_stats_key, sizeof(cfg.sp_stats_key), cfg.pop,
				     ctl_conf_get(&ctx, "sip", "instance")) < 0) {
		fprintf(stderr, "%s: [sip] pop and instance: too long\n", PROG);
		return 2;
	}
	if (!sock_opt) {
		/* Redis under Sentinel: the primary they name, not the socket */
		const char *sn = ctl_conf_get(&ctx, "redis", "sentinels");
		const char *mn = ctl_conf_get(&ctx, "redis", "master_name");
		char why[256];
		if (((sn && *sn) || (mn && *mn)) &&
		    pr_redis_sentinel_target(cfg.redis_socket, sizeof(cfg.redis_socket), sn, mn,
					     why, sizeof(why)) < 0) {
			fprintf(stderr, "%s: %s\n", PROG, why);
			return 2;
		}
	}
	if (strchr(cfg.prefix, '/') || !cfg.prefix[0]) {
		fprintf(stderr, "%s: file prefix '%s' must be a plain name\n", PROG, cfg.prefix);
		return 2;
	}
	{
		char why[256];
		if (exp_alarms_conf(&ctx, &cfg.alarms, why, sizeof(why)) < 0) {
			fprintf(stderr, "%s: %s: %s\n", PROG, ctx.conf_path, why);
			return 2;
		}
	}
	ha_peer_name(&ctx, cfg.ha_peer, sizeof(cfg.ha_peer));
	{
		/* the replicas the primary should have: as many as the slowpath waits for,
		 * else one when sentinels are there to fail over to it */
		const char *wr = ctl_conf_get(&ctx, "redis", "wait_replicas");
		uint32_t n = 0;
		if (wr && *wr && ctl_parse_u32(wr, 16, &n) < 0) {
			fprintf(stderr, "%s: %s: [redis] wait_replicas: '%s' is not 0..16\n", PROG,
				ctx.conf_path, wr);
			return 2;
		}
		cfg.replicas_wanted = n ? (int)n : pr_redis_is_sentinel(cfg.redis_socket) ? 1 : 0;
	}
	free(ctx.conf);
	pr_log_init(PROG, PR_LOG_INFO);

	/* Signals are taken by sigwait below; the server's threads inherit the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
				 (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
			     0, NULL, NULL, on_request, &cfg, MHD_OPTION_SOCK_ADDR, &ss,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned int)16,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30, MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr,
			"%s: cannot listen on %s (in use, or not an address of this host)\n", PROG,
			listen);
		return 1;
	}
	fprintf(stderr, "%s: listening on http://%s/metrics (dataplane prefix %s, redis %s)\n",
		PROG, listen, cfg.prefix, cfg.redis_socket);
	/* under Sentinel: the evaluator's connection moves when +switch-master says so */
	if (pr_redis_sentinel_watch_start(cfg.redis_socket) < 0)
		fprintf(stderr, "%s: +switch-master is not followed\n", PROG);
	rc = exp_alarms_start(&cfg);
	if (rc < 0) {
		fprintf(stderr, "%s: cannot start the alarm evaluator: %s\n", PROG, strerror(-rc));
		MHD_stop_daemon(d);
		return 1;
	}
	sigwait(&set, &sig);
	fprintf(stderr, "%s: %s, stopping\n", PROG, strsignal(sig));
	MHD_stop_daemon(d);
	exp_alarms_stop();
	pr_redis_sentinel_watch_stop();
	return 0;
}
