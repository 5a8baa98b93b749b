/* SPDX-License-Identifier: BSD-3-Clause */
/* poprelay-dataplane: start-up in stages (config, EAL, RCU, mempool, rings, neighbour
 * table, ports, telemetry, features, workers), the control loop, and a clean shutdown. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "common/log.h"
#include "common/redis.h"
#include "dataplane/dp.h"
#include "dataplane/dp_feature.h"
#include "dataplane/dp_neigh.h"
#include "dataplane/dp_port.h"
#include "dataplane/dp_telemetry.h"
#include "dataplane/dp_tunables.h"

struct dp_runtime dp_rt;

#define MAX_EAL_ARGS 64

static void on_signal(int sig)
{
	(void)sig;
	dp_rt.quit = true;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: poprelay-dataplane [-c FILE] [--check-config] [--bench-seconds N]\n"
		"       poprelay-dataplane --help-config\n"
		"  -c FILE            configuration (default " DP_CONFIG_DEFAULT_PATH ")\n"
		"  --check-config     refuse what the start would refuse before EAL, then exit\n"
		"  --help-config      list every section and key this build accepts\n"
		"  --bench-seconds N  run N seconds after a 1 s warm-up, print the receive rate\n"
		"                     per worker as JSON on stdout, exit\n");
}

/* EAL arguments from [eal] and the ports. Strings live in a static buffer. */
static int build_eal_args(char **argv, int max)
{
	static char store[8192];
	size_t off = 0;
	int argc = 0;
	bool any_pci = false;
	unsigned int i;
	char *tok, *save;

#define ARG(...)                                                                                   \
	do {                                                                                       \
		if (argc >= max - 1 || off >= sizeof(store))                                       \
			return -E2BIG;                                                             \
		argv[argc++] = store + off;                                                        \
		off += (size_t)snprintf(store + off, sizeof(store) - off, __VA_ARGS__) + 1;        \
	} while (0)

	ARG("poprelay-dataplane");
	/* A map ("0@0,1@1,2@1" or with groups) needs --lcores; a plain list goes to -l. */
	ARG(strpbrk(dp_cfg.eal.lcores, "@()") ? "--lcores" : "-l");
	ARG("%s", dp_cfg.eal.lcores);
	ARG("--main-lcore=%u", dp_cfg.eal.main_lcore);
	ARG("-m");
	ARG("%u", dp_cfg.eal.memory_mb);
	ARG("--file-prefix=%s", dp_cfg.eal.file_prefix);
	ARG("--log-level=%u", dp_cfg.eal.log_level);
	if (!dp_cfg.eal.huge)
		ARG("--no-huge");
	else if (dp_cfg.eal.huge_unlink && !dp_cfg.eal.in_memory)
		ARG("--huge-unlink=always");
	/* EAL 22.11 refuses --in-memory with --no-huge (which implies legacy memory);
	 * --no-shconf gives the same "no shared runtime files" there. */
	if (dp_cfg.eal.in_memory)
		ARG(dp_cfg.eal.huge ? "--in-memory" : "--no-shconf");
	for (i = 0; i < dp_cfg.nb_ports; i++) {
		if (dp_device_is_ring(dp_cfg.port[i].device))
			continue; /* created by dp_ports_init, not by EAL */
		if (dp_device_is_pci(dp_cfg.port[i].device)) {
			ARG("-a");
			any_pci = true;
		} else {
			ARG("--vdev");
		}
		ARG("%s", dp_cfg.port[i].device);
	}
	if (!any_pci)
		ARG("--no-pci");
	char extra[DP_CFG_STR_MAX];
	snprintf(extra, sizeof(extra), "%s", dp_cfg.eal.extra_args);
	for (tok = strtok_r(extra, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save))
		ARG("%s", tok);
	argv[argc] = NULL;
#undef ARG
	return argc;
}

static int init_rcu(void)
{
	size_t sz = rte_rcu_qsbr_get_memsize(RTE_MAX_LCORE);

	dp_rt.rcu = rte_zmalloc("dp_rcu", sz, RTE_CACHE_LINE_SIZE);
	if (dp_rt.rcu == NULL)
		return -ENOMEM;
	return rte_rcu_qsbr_init(dp_rt.rcu, RTE_MAX_LCORE);
}

static int init_workers(void)
{
	unsigned int lcore, i = 0;
	char name[RTE_RING_NAMESIZE];

	RTE_LCORE_FOREACH_WORKER(lcore)
	{
		struct dp_worker *w;
		if (i >= DP_MAX_WORKERS)
			break;
		w = &dp_rt.workers[i];
		w->lcore_id = lcore;
		w->index = i;
		w->stats = &dp_stats[lcore];
		snprintf(name, sizeof(name), "dp_punt_%u", i);
		w->punt = rte_ring_create(name, dp_cfg.dp.punt_ring_size, rte_socket_id(),
					  RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (w->punt == NULL) {
			PR_ERR("punt ring for worker %u: %s", i, rte_strerror(rte_errno));
			return -ENOMEM;
		}
		snprintf(name, sizeof(name), "dp_back_%u", i);
		w->back = rte_ring_create(name, dp_cfg.dp.punt_ring_size, rte_socket_id(),
					  RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (w->back == NULL) {
			PR_ERR("return ring for worker %u: %s", i, rte_strerror(rte_errno));
			return -ENOMEM;
		}
		i++;
	}
	dp_rt.nb_workers = i;
	dp_rt.hairpin =
	    rte_ring_create("dp_hairpin", 1024, rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (dp_rt.hairpin == NULL) {
		PR_ERR("hairpin ring: %s", rte_strerror(rte_errno));
		return -ENOMEM;
	}
	/* The configuration's checks (queues per port, ...) counted the workers from [eal]
	 * lcores; EAL must have read it the same way. */
	if (i != dp_cfg.nb_workers) {
		PR_ERR("%s: [eal] lcores \"%s\": EAL started %u workers, the configuration check "
		       "counted %u (a bug: please report it)",
		       dp_cfg.path, dp_cfg.eal.lcores, i, dp_cfg.nb_workers);
		return -EINVAL;
	}
	return 0;
}

/* After rte_eal_cleanup: remove the primary's shared-config files and its runtime
 * directory (EAL leaves them; with huge_unlink the hugepage files are already gone). */
static void remove_runtime_dir(const char *dir)
{
	static const char *const names[] = {"config", "hugepage_info", "fbarray_memzone",
					    "dpdk_telemetry.v2", "mp_socket"};
	char path[PATH_MAX + 300];
	struct dirent *de;
	unsigned int i;
	DIR *d;

	if (dir[0] == '\0')
		return;
	for (i = 0; i < RTE_DIM(names); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	d = opendir(dir);
	if (d) {
		while ((de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, "fbarray_memseg", 14) != 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(dir); /* fails, harmlessly, if anything else is still there */
}

static void print_bench(const struct dp_lcore_stats *before, double secs)
{
	struct dp_lcore_stats *after = malloc(sizeof(*after));
	unsigned int i;
	uint64_t rx = 0, drops = 0;

	if (after == NULL)
		return;
	dp_stats_sum(after);
	rx = after->rx_packets - before->rx_packets;
	for (i = 0; i < DP_DROP_MAX; i++)
		drops += after->drops[i] - before->drops[i];
	printf("{\"seconds\":%.3f,\"workers\":%u,\"rx_packets\":%lu,\"drops\":%lu,"
	       "\"rx_pps\":%.0f,\"rx_pps_per_worker\":%.0f}\n",
	       secs, dp_rt.nb_workers, (unsigned long)rx, (unsigned long)drops, rx / secs,
	       rx / secs / dp_rt.nb_workers);
	fflush(stdout);
	free(after);
}

/* Bench mode: a thin control loop that only stops after the deadline. */
static void bench_loop(unsigned int seconds)
{
	struct dp_lcore_stats *before = malloc(sizeof(*before));
	uint64_t t0, t1;

	if (before == NULL)
		return;
	rte_delay_us_sleep(1000 * 1000);
	dp_stats_sum(before);
	t0 = rte_get_tsc_cycles();
	while (!dp_rt.quit && (rte_get_tsc_cycles() - t0) < (uint64_t)seconds * dp_rt.tsc_hz)
		rte_delay_us_sleep(10 * 1000);
	t1 = rte_get_tsc_cycles();
	print_bench(before, (double)(t1 - t0) / (double)dp_rt.tsc_hz);
	free(before);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"check-config", no_argument, NULL, 'C'},
					     {"help-config", no_argument, NULL, 'H'},
					     {"bench-seconds", required_argument, NULL, 'B'},
					     {"help", no_argument, NULL, 'h'},
					     {"version", no_argument, NULL, 'V'},
					     {NULL, 0, NULL, 0}};
	const char *conf = DP_CONFIG_DEFAULT_PATH;
	char err[1024], *eal_argv[MAX_EAL_ARGS];
	bool check_only = false;
	unsigned int bench_s = 0;
	int opt, eal_argc = 0, ret, rc = 1;
	unsigned int i;

	while ((opt = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			conf = optarg;
			break;
		case 'H':
			dp_config_help(stdout);
			return 0;
		case 'C':
			check_only = true;
			break;
		case 'B':
			bench_s = (unsigned int)strtoul(optarg, NULL, 10);
			if (bench_s == 0 || bench_s > 3600) {
				fprintf(stderr, "--bench-seconds: expected 1..3600\n");
				return 1;
			}
			break;
		case 'V':
			printf("poprelay-dataplane %s\n", DP_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	pr_log_init("poprelay-dataplane", PR_LOG_INFO);
	/* Everything the start can judge before EAL, and nothing else, is judged here, for
	 * --check-config and the start alike (docs/configuration.md lists it). */
	ret = dp_config_load(conf, err, sizeof(err));
	if (ret == 0)
		ret = dp_config_check_host(err, sizeof(err));
	if (ret == 0 && (eal_argc = build_eal_args(eal_argv, MAX_EAL_ARGS)) < 0) {
		snprintf(err, sizeof(err),
			 "%s: [eal] extra_args: more than %d EAL arguments with the ports', "
			 "expected fewer",
			 conf, MAX_EAL_ARGS - 1);
		ret = -E2BIG;
	}
	if (ret) {
		PR_ERR("refusing to start: %s", err);
		return 1;
	}
	pr_log_set_level((enum pr_log_level)(dp_cfg.eal.log_level < 3	? 3
					     : dp_cfg.eal.log_level > 7 ? 7
									: dp_cfg.eal.log_level));
	if (check_only) {
		printf("%s: ok\n", conf);
		return 0;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	ret = rte_eal_init(eal_argc, eal_argv);
	if (ret < 0) {
		PR_ERR("EAL init failed: %s (check [eal] in %s)", rte_strerror(rte_errno), conf);
		return 1;
	}
	dp_rt.main_lcore = rte_get_main_lcore();
	dp_rt.tsc_hz = rte_get_tsc_hz();
	dp_rt.tsc_per_ms = dp_rt.tsc_hz / 1000 ? dp_rt.tsc_hz / 1000 : 1;
	dp_rt.start_tsc = rte_get_tsc_cycles();
	dp_rt.start_time = (uint64_t)time(NULL);

	if (init_rcu()) {
		PR_ERR("RCU init failed");
		goto out_eal;
	}
	if (init_workers())
		goto out_eal;
	/* The private area is sized so that frames (buf_addr + headroom) start 16 bytes into a
	 * cache line: then an IPv4/UDP frame's headers and a ChannelData header (46 bytes)
	 * share one line, and so do the headers a relay writes in their place, 4 bytes earlier
	 * or later. That is the line the workers prefetch. (At 8-byte alignment the IP header
	 * straddled two lines; at 64 the relayed ChannelData headers started in the line
	 * before: a miss per packet either way.) */
	dp_rt.pool =
	    rte_pktmbuf_pool_create("dp_pool", dp_cfg.dp.mbuf_pool_size, dp_cfg.dp.mbuf_cache_size,
				    RTE_CACHE_LINE_ROUNDUP(sizeof(struct dp_punt_meta)) + 16,
				    RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (dp_rt.pool == NULL) {
		PR_ERR("mbuf pool of %u: %s ([dataplane] mbuf_pool_size, [eal] memory_mb)",
		       dp_cfg.dp.mbuf_pool_size, rte_strerror(rte_errno));
		goto out_eal;
	}
	ret = dp_neigh_init(dp_cfg.dp.neigh_entries, dp_rt.rcu, (int)rte_socket_id());
	if (ret) {
		PR_ERR("neighbour table: %s", strerror(-ret));
		goto out_eal;
	}
	dp_neigh_set_release(dp_udp_release_pending);
	if (dp_ports_init((int)rte_socket_id()))
		goto out_ports;
	if (dp_telemetry_init())
		PR_WARN("telemetry commands not registered (is telemetry disabled?)");
	/* under Sentinel: a thread of its own (where the main lcore's runs, pinned to no worker)
	 * follows +switch-master, and the connections below move when it says so */
	if (pr_redis_sentinel_watch_start(dp_cfg.redis.socket) < 0)
		PR_WARN("redis: +switch-master is not followed: connections move to a new primary "
			"only when the old one fails them");
	if (dp_features_init())
		goto out_ports;
	dp_tunables_init();
	for (i = 0; i < dp_rt.nb_workers; i++) {
		ret = rte_eal_remote_launch(dp_worker_main, &dp_rt.workers[i],
					    dp_rt.workers[i].lcore_id);
		if (ret) {
			PR_ERR("launch worker on lcore %u: %s", dp_rt.workers[i].lcore_id,
			       strerror(-ret));
			dp_rt.quit = true;
		}
	}
	if (dp_cfg.dp.lab_reflect)
		PR_WARN("[dataplane] lab_reflect = yes: workers send every frame back out with its "
			"MAC addresses swapped; nothing is relayed, answered or routed");
	PR_NOTICE("running: %u worker(s), %u port(s), control on lcore %u, telemetry "
		  "/var/run/dpdk/%s/dpdk_telemetry.v2",
		  dp_rt.nb_workers, dp_rt.nb_ports, dp_rt.main_lcore, dp_cfg.eal.file_prefix);
	sd_notifyf(0, "READY=1\nSTATUS=%u workers, %u ports", dp_rt.nb_workers, dp_rt.nb_ports);

	if (bench_s)
		bench_loop(bench_s);
	else
		dp_control_loop();

	sd_notify(0, "STOPPING=1");
	PR_NOTICE("stopping");
	dp_rt.stop_workers = true;
	rte_eal_mp_wait_lcore();
	dp_tunables_fini();
	dp_features_teardown();
	rc = 0;
out_ports:
	pr_redis_sentinel_watch_stop();
	dp_ports_fini();
	dp_neigh_fini();
out_eal:
	for (i = 0; i < dp_rt.nb_workers; i++) {
		rte_ring_free(dp_rt.workers[i].punt);
		rte_ring_free(dp_rt.workers[i].back);
	}
	if (dp_rt.hairpin) {
		void *m = NULL;
		while (rte_ring_sc_dequeue(dp_rt.hairpin, &m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(dp_rt.hairpin);
	}
	rte_mempool_free(dp_rt.pool);
	rte_free(dp_rt.rcu);
	char rundir[PATH_MAX];
	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	remove_runtime_dir(rundir);
	if (rc == 0)
		PR_NOTICE("stopped");
	return rc;
}
