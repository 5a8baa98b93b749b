/* SPDX-License-Identifier: BSD-3-Clause */
/* The media anchor's health and load in Redis (common/anchor.h, docs/scaling.md "Past one
 * box"): the control lcore publishes pr:media:anchor:<address> with a lease of [media_load]
 * lease_ms, refreshed every third of it (its live sessions, its capacity, whether it drains),
 * so that a slowpath may anchor a new call on any live dataplane of the PoP. It also tells
 * media_dp.c which session records belong to another live anchor of the PoP: those are
 * skipped, neither refused nor reported as orphans (the other dataplane relays them).
 * Everything here runs on the control lcore but the telemetry callback, which reads the
 * figures with atomics. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <rte_common.h>
#include <rte_telemetry.h>

#include "common/anchor.h"
#include "common/keyspace.h"
#include "common/log.h"
#include "common/redis.h"
#include "dataplane/dp.h"
#include "dataplane/dp_config.h"
#include "dataplane/dp_drain.h"
#include "dataplane/media/media_load.h"

/* ---- configuration: [media_load] ---- */
struct load_cfg {
	bool publish;
	uint32_t lease_ms;
	uint32_t capacity;
};
static struct load_cfg lcfg;

#define LC(f) offsetof(struct load_cfg, f)
static const struct dp_cfg_key load_keys[] = {
    {"publish", DP_CFG_BOOL, 0, 0, "yes", LC(publish), 0,
     "publish this anchor's health and load (pr:media:anchor:<address>) for slowpaths that "
     "choose among the PoP's dataplanes ([sip] media_anchors)"},
    {"lease_ms", DP_CFG_U32, 300, 60000, "1500", LC(lease_ms), 0,
     "lifetime of the published record, refreshed every third of it: a dead dataplane takes "
     "no new call at most this long after its death"},
    {"capacity", DP_CFG_U32, 0, 10000000, "0", LC(capacity), 0,
     "media sessions this anchor is given against the others' (the load is sessions / "
     "capacity); 0: [media] max_sessions"},
};

static struct dp_cfg_section load_section = {
    .name = "media_load", .storage = &lcfg, .keys = load_keys, .nkeys = RTE_DIM(load_keys)};

RTE_INIT(media_load_cfg_register)
{
	dp_cfg_section_register(&load_section);
}

/* ---- state ---- */
static char own_addr[PR_ANCHOR_ADDR_MAX]; /* "": nothing to publish */
static uint32_t capacity;
static uint64_t seq, last_pub_ms;
static bool published, pub_failing;
static uint64_t st_published, st_errors, st_skipped, st_sessions, st_draining;
/* the other live anchors, as last read (at most every third of the lease) */
static struct pr_anchor others[PR_ANCHOR_MAX];
static size_t nothers;
static uint64_t others_ms;
static bool others_read;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int tel_load(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "address", own_addr);
	rte_tel_data_add_dict_u64(d, "publish", lcfg.publish && own_addr[0]);
	rte_tel_data_add_dict_u64(d, "lease_ms", lcfg.lease_ms);
	rte_tel_data_add_dict_u64(d, "capacity", capacity);
	rte_tel_data_add_dict_u64(d, "sessions", __atomic_load_n(&st_sessions, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "draining", __atomic_load_n(&st_draining, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "published", __atomic_load_n(&st_published, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "publish_errors",
				  __atomic_load_n(&st_errors, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "elsewhere_skipped",
				  __atomic_load_n(&st_skipped, __ATOMIC_RELAXED));
	return 0;
}

void media_load_init(uint32_t max_sessions)
{
	capacity = lcfg.capacity ? lcfg.capacity : max_sessions;
	/* named by port 0's primary address, IPv4 if any, as [ha] names an address set */
	own_addr[0] = '\0';
	if (dp_rt.nb_ports) {
		const struct dp_port *p = &dp_rt.ports[0];
		if (p->ipv4.set)
			dp_ipaddr_str(&p->ipv4.addr, own_addr, sizeof(own_addr));
		else if (p->ipv6.set)
			dp_ipaddr_str(&p->ipv6.addr, own_addr, sizeof(own_addr));
	}
	rte_telemetry_register_cmd("/poprelay/media/load", tel_load,
				   "This anchor's published health and load. No parameters");
	if (lcfg.publish && own_addr[0])
		PR_NOTICE("media: publishing %s%s (capacity %u sessions, lease %u ms)",
			  PR_KS_ANCHOR_PREFIX, own_addr, capacity, lcfg.lease_ms);
}

static int others_refresh(struct pr_redis *r, uint64_t now)
{
	size_t n = 0;
	int rc = pr_anchor_read(r, NULL, 0, others, PR_ANCHOR_MAX, &n);
	if (rc < 0)
		return rc;
	nothers = n;
	others_ms = now;
	others_read = true;
	return 0;
}

void media_load_poll(struct pr_redis *r, uint32_t sessions)
{
	uint64_t now = now_ms();
	__atomic_store_n(&st_sessions, sessions, __ATOMIC_RELAXED);
	if (!r || !lcfg.publish || !own_addr[0] ||
	    (last_pub_ms && now - last_pub_ms < lcfg.lease_ms / 3))
		return;
	last_pub_ms = now;
	struct pr_anchor a = {
	    .sessions = sessions, .capacity = capacity, .seq = ++seq, .draining = dp_draining()};
	snprintf(a.addr, sizeof(a.addr), "%s", own_addr);
	__atomic_store_n(&st_draining, a.draining, __ATOMIC_RELAXED);
	/* the other anchors are read only when a record needs them (media_load_elsewhere):
	 * read here too, every third of a lease, they were a Redis read in the middle of
	 * whatever control did then (ha_media's takeover, which must read nothing, saw it) */
	int rc = pr_anchor_publish(r, &a, lcfg.lease_ms);
	if (rc < 0) {
		__atomic_fetch_add(&st_errors, 1, __ATOMIC_RELAXED);
		if (!pub_failing)
			PR_WARN("media: cannot publish this anchor's load: %s (retrying)",
				pr_ks_errmsg());
		pub_failing = true;
		return;
	}
	if (pub_failing)
		PR_NOTICE("media: this anchor's load published again");
	pub_failing = false;
	published = true;
	__atomic_fetch_add(&st_published, 1, __ATOMIC_RELAXED);
}

bool media_load_elsewhere(struct pr_redis *r, const char *addr)
{
	uint64_t now = now_ms();
	if (!r || !addr[0] || !strcmp(addr, own_addr))
		return false;
	/* at the start's rebuild nothing was read yet: read now (a record on a live anchor's
	 * address must not be reported as an orphan, which would end its call); and on a
	 * miss read again (at most every 50 ms): the list may predate that anchor's start */
	for (int pass = 0; pass < 2; pass++) {
		if (!others_read || now - others_ms >= (pass ? 50 : lcfg.lease_ms / 3)) {
			if (others_refresh(r, now) < 0) {
				PR_WARN("media: cannot read the PoP's live anchors: %s",
					pr_ks_errmsg());
				return false;
			}
		}
		for (size_t i = 0; i < nothers; i++)
			if (!strcmp(others[i].addr, addr)) {
				__atomic_fetch_add(&st_skipped, 1, __ATOMIC_RELAXED);
				return true;
			}
	}
	return false;
}

void media_load_stop(struct pr_redis *r)
{
	/* a planned stop: no slowpath should pick us for the rest of the lease */
	if (r && published && pr_anchor_withdraw(r, own_addr) < 0)
		PR_WARN("media: cannot withdraw %s%s: %s (it expires within %u ms)",
			PR_KS_ANCHOR_PREFIX, own_addr, pr_ks_errmsg(), lcfg.lease_ms);
	published = false;
}
