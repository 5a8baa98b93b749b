/* SPDX-License-Identifier: BSD-3-Clause */
/* poprelay-slowpath [-c CONFIG] [-v]: SIP over TLS registrar and media B2BUA. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>

#include <event2/event.h>

#include "common/log.h"
#include "slowpath/sp_server.h"
#include "slowpath/sp_tunables.h"

static void usage(void)
{
	fprintf(stderr,
		"usage: poprelay-slowpath [-c CONFIG] [-v] [--check-config]\n"
		"  -c CONFIG       configuration file (default " SP_DEFAULT_CONFIG ")\n"
		"  -v              debug logging\n"
		"  --check-config  refuse what the start would refuse before it connects to Redis\n"
		"                  (docs/configuration.md), then exit\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"check-config", no_argument, NULL, 'C'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *path = SP_DEFAULT_CONFIG;
	bool verbose = false, check_only = false;
	int opt;
	while ((opt = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case 'C':
			check_only = true;
			break;
		default:
			usage();
			return opt == 'h' ? 0 : 2;
		}
	}
	static struct sp_server srv;
	char err[768];
	pr_log_init("poprelay-slowpath", PR_LOG_INFO);
	/* --check-config and the start judge the file by the same two calls. */
	if (sp_config_load(&srv.cfg, path, err, sizeof(err)) < 0 ||
	    sp_config_check(&srv.cfg, err, sizeof(err)) < 0) {
		PR_ERR("configuration: %s", err);
		return 2;
	}
	if (check_only) {
		printf("%s: ok\n", path);
		return 0;
	}
	pr_log_set_level(verbose ? PR_LOG_DEBUG : (enum pr_log_level)srv.cfg.log_level);
	signal(SIGPIPE, SIG_IGN);
	/* thousands of TLS flows: take the hard file-descriptor limit */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	sp_msg_init();
	/* under Sentinel: a thread follows +switch-master, and the connections move when it
	 * says so (the synchronous one before its next command) */
	if (pr_redis_sentinel_watch_start(srv.cfg.redis_socket) < 0)
		PR_WARN("redis: +switch-master is not followed: connections move to a new primary "
			"only when the old one fails them");
	int rc = pr_redis_connect(&srv.redis, srv.cfg.redis_socket, 2000);
	if (rc < 0) {
		PR_ERR("redis %s: %s", srv.cfg.redis_socket, pr_redis_errmsg(NULL));
		return 1;
	}
	/* The event loop's synchronous connection (the once-a-second jobs: stats, lease, the
	 * session events, drain; an INVITE's port and anchor reads): a Redis that stops
	 * answering must hold the loop one timeout, not one per job and retry, or every device's
	 * requests wait with it (a paused Redis held the loop for its whole 12 s in a test).
	 * The asynchronous connection ends the cooldown at its first reply (sp_redis.c). */
	pr_redis_set_slow_cooldown(srv.redis, 10000);
	if (srv.cfg.redis_user[0] || srv.cfg.redis_password_file[0]) {
		rc = pr_redis_auth(srv.redis, srv.cfg.redis_user, srv.cfg.redis_password_file);
		if (rc < 0) {
			PR_ERR("redis AUTH: %s", pr_redis_errmsg(srv.redis));
			return 1;
		}
	}
	if (pr_ks_check_schema(srv.redis) < 0) {
		PR_ERR("%s", pr_ks_errmsg());
		return 1;
	}
	if (srv.cfg.media_port_lo &&
	    pr_ks_ports_init(srv.redis, srv.cfg.media_port_lo, srv.cfg.media_port_hi) < 0) {
		PR_ERR("media port pool: %s", pr_ks_errmsg());
		return 1;
	}
	/* ids unique across restarts and across the PoP's slowpaths (sp_conn_id_base) */
	uint16_t tag;
	if (getrandom(&tag, sizeof(tag), 0) != (ssize_t)sizeof(tag))
		tag = (uint16_t)(getpid() ^ sp_now_ms());
	srv.next_conn_id = sp_conn_id_base(sp_now(), tag);
	rc = sp_server_open(&srv);
	if (rc < 0) {
		PR_ERR("cannot start: %s", strerror(-rc));
		sp_server_close(&srv);
		pr_redis_close(srv.redis);
		pr_redis_sentinel_watch_stop();
		return 1;
	}
	/* the values in force (pr:tunables over the file's) before the first request */
	rc = sp_tunables_start(&srv);
	if (rc < 0) {
		PR_ERR("cannot start: %s", strerror(-rc));
		sp_server_close(&srv);
		pr_redis_close(srv.redis);
		pr_redis_sentinel_watch_stop();
		return 1;
	}
	/* the connection of the REGISTERs and of the calls' writes, on the loop; the same 2 s for a
	 * reply */
	rc = sp_aredis_open(&srv, 2000);
	if (rc < 0) {
		PR_ERR("cannot start: redis (async): %s", strerror(-rc));
		sp_tunables_stop(&srv);
		sp_server_close(&srv);
		pr_redis_close(srv.redis);
		pr_redis_sentinel_watch_stop();
		return 1;
	}
	/* the calls a killed predecessor left: their media still flows through the dataplane */
	if (sp_call_restore(&srv) < 0)
		PR_ERR("restore: cannot list the dialogs: %s (their calls cannot be ended here)",
		       pr_ks_errmsg());
	rc = sp_stats_start(&srv);
	if (rc < 0) {
		PR_ERR("cannot start: statistics: %s", strerror(-rc));
		sp_aredis_close(&srv);
		sp_tunables_stop(&srv);
		sp_server_close(&srv);
		pr_redis_close(srv.redis);
		pr_redis_sentinel_watch_stop();
		return 1;
	}
	event_base_dispatch(srv.base);
	/* end the calls in progress (BYE / CANCEL, sessions, CDRs) and give the loop a moment
	 * to put those requests on the wire */
	sp_call_shutdown(&srv);
	struct timeval grace = {.tv_usec = 300000};
	event_base_loopexit(srv.base, &grace);
	event_base_dispatch(srv.base);
	sp_counters_log(&srv, true);
	sp_stats_stop(&srv);
	sp_aredis_close(&srv); /* REGISTERs still waiting: 503, on flows about to close */
	sp_tunables_stop(&srv);
	sp_server_close(&srv);
	pr_redis_close(srv.redis);
	pr_redis_sentinel_watch_stop();
	return 0;
}
