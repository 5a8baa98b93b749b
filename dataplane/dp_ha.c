/* SPDX-License-Identifier: BSD-3-Clause */
/* Address takeover of a peer appliance's service addresses: see dp_ha.h. */
#include "dataplane/dp_ha.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rte_common.h>
#include <rte_telemetry.h>

#include "common/log.h"
#include "dataplane/dp_arpnd.h"
#include "dataplane/dp_config.h"
#include "dataplane/dp_feature.h"

struct dp_ha_cfg {
	uint32_t port;
	struct dp_prefix_list peer4;
	struct dp_prefix_list peer6;
	uint32_t announce_count;
	uint32_t announce_interval_ms;
};
static struct dp_ha_cfg hcfg;

#define HC(f) offsetof(struct dp_ha_cfg, f)
static const struct dp_cfg_key ha_keys[] = {
    {"port", DP_CFG_U32, 0, DP_MAX_PORTS - 1, "0", HC(port), 0,
     "index of the [portN] on whose segment the peer's addresses are"},
    {"peer_ipv4", DP_CFG_IP4_PREFIX_LIST, 0, 0, NULL, HC(peer4), 0,
     "the peer appliance's IPv4 service addresses we take over when told, comma-separated, "
     "each with its prefix length"},
    {"peer_ipv6", DP_CFG_IP6_PREFIX_LIST, 0, 0, NULL, HC(peer6), 0,
     "the peer appliance's IPv6 service addresses we take over when told, comma-separated, "
     "each with its prefix length"},
    {"announce_count", DP_CFG_U32, 1, 20, "3", HC(announce_count), 0,
     "gratuitous ARPs / unsolicited NAs sent for each address at a takeover"},
    {"announce_interval_ms", DP_CFG_U32, 10, 10000, "500", HC(announce_interval_ms), 0,
     "spacing of those announcements"},
};

static bool peer_in(const struct dp_prefix_list *l, const struct dp_ipaddr *a)
{
	for (unsigned int i = 0; i < l->n; i++)
		if (dp_ipaddr_eq(&l->p[i].addr, a))
			return true;
	return false;
}

bool dp_ha_configured(void)
{
	return hcfg.peer4.n || hcfg.peer6.n;
}

uint16_t dp_ha_port(void)
{
	return (uint16_t)hcfg.port;
}

bool dp_ha_cfg_is_peer(const struct dp_ipaddr *a)
{
	return peer_in(a->family == AF_INET ? &hcfg.peer4 : &hcfg.peer6, a);
}

/* A peer address must not be one of ours (it would be answered twice on the segment) and
 * its port must exist. */
static int ha_cfg_check(char *err, size_t errlen)
{
	if (!dp_ha_configured())
		return 0;
	if (hcfg.port >= dp_cfg.nb_ports) {
		snprintf(err, errlen, "[ha] port: got %u, expected the index of a [portN] (0-%u)",
			 hcfg.port, dp_cfg.nb_ports ? dp_cfg.nb_ports - 1 : 0);
		return -EINVAL;
	}
	for (int fi = 0; fi < 2; fi++) {
		const struct dp_prefix_list *l = fi ? &hcfg.peer6 : &hcfg.peer4;
		for (unsigned int i = 0; i < l->n; i++) {
			const struct dp_ipaddr *a = &l->p[i].addr;
			char b[INET6_ADDRSTRLEN];
			for (unsigned int p = 0; p < dp_cfg.nb_ports; p++) {
				const struct dp_port_cfg *pc = &dp_cfg.port[p];
				const struct dp_prefix *pri = fi ? &pc->ipv6 : &pc->ipv4;
				const struct dp_prefix_list *x =
				    fi ? &pc->ipv6_extra : &pc->ipv4_extra;
				if ((pri->set && dp_ipaddr_eq(&pri->addr, a)) || peer_in(x, a)) {
					snprintf(
					    err, errlen,
					    "[ha] %s: got %s, expected a peer's address, not one "
					    "of ours ([port%u])",
					    fi ? "peer_ipv6" : "peer_ipv4",
					    dp_ipaddr_str(a, b, sizeof(b)), p);
					return -EINVAL;
				}
			}
		}
	}
	return 0;
}

static struct dp_cfg_section ha_section = {.name = "ha",
					   .storage = &hcfg,
					   .keys = ha_keys,
					   .nkeys = RTE_DIM(ha_keys),
					   .check = ha_cfg_check};

RTE_INIT(dp_ha_cfg_register)
{
	dp_cfg_section_register(&ha_section);
}

/* ---- runtime ---- */

enum { HA_REQ_NONE, HA_REQ_TAKEOVER, HA_REQ_RELEASE };

static bool held;	       /* control: wo; workers, telemetry: ro (atomic) */
static int pending;	       /* telemetry: wo; control: takes it (atomic exchange) */
static int64_t since_s;	       /* control: wo; telemetry: ro (atomic): last change, 0: none */
static uint64_t changes;       /* idem: takeovers and releases done */
static int64_t taken;	       /* idem: items the features took over at the last takeover */
static int last_error;	       /* idem: negative errno of a feature at the last change */
static uint64_t announces;     /* idem: gratuitous ARPs and unsolicited NAs sent */
static uint32_t announce_left; /* control only */
static uint64_t announce_next_ms;

bool dp_ha_holds(const struct dp_port *p, const struct dp_ipaddr *a)
{
	if (likely(!__atomic_load_n(&held, __ATOMIC_ACQUIRE)))
		return false;
	if (p != &dp_rt.ports[hcfg.port])
		return false;
	return dp_ha_cfg_is_peer(a);
}

static void addrs_str(char *out, size_t len)
{
	size_t o = 0;
	out[0] = '\0';
	for (int fi = 0; fi < 2; fi++) {
		const struct dp_prefix_list *l = fi ? &hcfg.peer6 : &hcfg.peer4;
		for (unsigned int i = 0; i < l->n && o < len; i++) {
			char b[INET6_ADDRSTRLEN];
			int n = snprintf(out + o, len - o, "%s%s", o ? "," : "",
					 dp_ipaddr_str(&l->p[i].addr, b, sizeof(b)));
			if (n > 0)
				o += (size_t)n;
		}
	}
}

/* Every feature's ha_change; the items they took over, or the first error. */
static int64_t features_change(bool h)
{
	int64_t n = 0;
	int err = 0;
	for (unsigned int id = 1; id <= dp_features_count(); id++) {
		const struct dp_feature *f = dp_feature_get(id);
		if (!f || !f->ha_change)
			continue;
		int rc = f->ha_change(h);
		if (rc < 0) {
			PR_ERR("ha: %s: %s the peer's addresses failed: %s", f->name,
			       h ? "taking over" : "releasing", strerror(-rc));
			err = err ? err : rc;
		} else {
			n += rc;
		}
	}
	__atomic_store_n(&last_error, err, __ATOMIC_RELAXED);
	return n;
}

static void ha_apply(int req, uint64_t now_ms)
{
	char a[DP_PORT_EXTRA_MAX * 2 * (INET6_ADDRSTRLEN + 1)];
	bool h = __atomic_load_n(&held, __ATOMIC_RELAXED);

	addrs_str(a, sizeof(a));
	if (req == HA_REQ_TAKEOVER && !h) {
		/* What the features serve on the addresses first, then the addresses: the
		 * first datagram a worker takes for them finds its allocation. */
		int64_t n = features_change(true);
		__atomic_store_n(&held, true, __ATOMIC_RELEASE);
		__atomic_store_n(&taken, n, __ATOMIC_RELAXED);
		announce_left = hcfg.announce_count;
		announce_next_ms = now_ms;
		PR_NOTICE("ha: took over %s on port%u (%" PRId64 " TURN allocations)", a, hcfg.port,
			  n);
	} else if (req == HA_REQ_RELEASE && h) {
		/* The addresses first: the workers stop taking them, then the features let go
		 * (their tables retire entries after an RCU grace period). */
		__atomic_store_n(&held, false, __ATOMIC_RELEASE);
		announce_left = 0;
		features_change(false);
		__atomic_store_n(&taken, 0, __ATOMIC_RELAXED);
		PR_NOTICE("ha: released %s on port%u", a, hcfg.port);
	} else {
		return;
	}
	__atomic_store_n(&since_s, (int64_t)time(NULL), __ATOMIC_RELAXED);
	__atomic_fetch_add(&changes, 1, __ATOMIC_RELAXED);
}

static void announce(void)
{
	for (int fi = 0; fi < 2; fi++) {
		const struct dp_prefix_list *l = fi ? &hcfg.peer6 : &hcfg.peer4;
		for (unsigned int i = 0; i < l->n; i++)
			if (dp_arpnd_announce((uint16_t)hcfg.port, &l->p[i].addr) == 0)
				__atomic_fetch_add(&announces, 1, __ATOMIC_RELAXED);
	}
}

static unsigned ha_poll(uint64_t now_ms)
{
	int req = __atomic_exchange_n(&pending, HA_REQ_NONE, __ATOMIC_ACQ_REL);

	if (req != HA_REQ_NONE)
		ha_apply(req, now_ms);
	if (announce_left && now_ms >= announce_next_ms) {
		announce();
		announce_left--;
		announce_next_ms = now_ms + hcfg.announce_interval_ms;
	}
	return 0;
}

/* ---- telemetry (its own thread: requests go to control through `pending`) ---- */

static int tel_status(const char *cmd, const char *params, struct rte_tel_data *d)
{
	char a[DP_PORT_EXTRA_MAX * 2 * (INET6_ADDRSTRLEN + 1)];
	(void)cmd;
	(void)params;
	addrs_str(a, sizeof(a));
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "configured", dp_ha_configured());
	rte_tel_data_add_dict_u64(d, "port", hcfg.port);
	rte_tel_data_add_dict_string(d, "peer_addresses", a);
	rte_tel_data_add_dict_u64(d, "held", __atomic_load_n(&held, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "since",
				  (uint64_t)__atomic_load_n(&since_s, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "start_time", dp_rt.start_time);
	rte_tel_data_add_dict_u64(d, "changes", __atomic_load_n(&changes, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "turn_allocations_taken",
				  (uint64_t)__atomic_load_n(&taken, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "last_error",
				  (uint64_t)-__atomic_load_n(&last_error, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "announces_sent",
				  __atomic_load_n(&announces, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "pending", __atomic_load_n(&pending, __ATOMIC_RELAXED) != 0);
	return 0;
}

static int tel_request(struct rte_tel_data *d, int req)
{
	if (!dp_ha_configured())
		return -EINVAL; /* no [ha] peer addresses: nothing to take */
	__atomic_store_n(&pending, req, __ATOMIC_RELEASE);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "result", "queued");
	return 0;
}

static int tel_takeover(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	return tel_request(d, HA_REQ_TAKEOVER);
}

static int tel_release(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	return tel_request(d, HA_REQ_RELEASE);
}

static int ha_init(void)
{
	rte_telemetry_register_cmd("/poprelay/ha/status", tel_status,
				   "Address takeover ([ha]): peer addresses, held, since. No "
				   "parameters");
	rte_telemetry_register_cmd("/poprelay/ha/takeover", tel_takeover,
				   "Take over the [ha] peer addresses. No parameters");
	rte_telemetry_register_cmd("/poprelay/ha/release", tel_release,
				   "Give the [ha] peer addresses back. No parameters");
	if (dp_ha_configured()) {
		char a[DP_PORT_EXTRA_MAX * 2 * (INET6_ADDRSTRLEN + 1)];
		addrs_str(a, sizeof(a));
		PR_INFO("ha: backup for %s on port%u (not answered until a takeover)", a,
			hcfg.port);
	}
	return 0;
}

static void ha_teardown(void)
{
	__atomic_store_n(&held, false, __ATOMIC_RELEASE);
}

static struct dp_feature ha_feature = {
    .name = "ha",
    .init = ha_init,
    .teardown = ha_teardown,
    .poll = ha_poll,
};
DP_FEATURE_REGISTER(ha_feature);
