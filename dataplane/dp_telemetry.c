/* SPDX-License-Identifier: BSD-3-Clause */
/* /poprelay/... telemetry commands (docs/telemetry.md). They run on DPDK's telemetry
 * thread: they only read per-lcore counters (summing them) and take the neighbour table's
 * control-side lock; never anything a worker waits on. */
#include "dataplane/dp_telemetry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_telemetry.h>

#include "dataplane/dp.h"
#include "dataplane/dp_feature.h"
#include "dataplane/dp_neigh.h"

static void add_events(struct rte_tel_data *d, const struct dp_lcore_stats *s)
{
	unsigned int i;
	uint64_t drops = 0;

	for (i = 0; i < dp_event_count; i++)
		rte_tel_data_add_dict_u64(
		    d, dp_event_descs[i].name,
		    *(const uint64_t *)((const char *)s + dp_event_descs[i].offset));
	for (i = 0; i < DP_DROP_MAX; i++)
		drops += s->drops[i];
	rte_tel_data_add_dict_u64(d, "drops", drops);
}

static int cmd_info(const char *cmd, const char *params, struct rte_tel_data *d)
{
	char feats[128] = "";
	unsigned int i;
	size_t off = 0;

	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "name", "poprelay-dataplane");
	rte_tel_data_add_dict_string(d, "version", DP_VERSION);
	rte_tel_data_add_dict_u64(d, "pid", (uint64_t)getpid());
	rte_tel_data_add_dict_u64(d, "uptime_s", (uint64_t)time(NULL) - dp_rt.start_time);
	rte_tel_data_add_dict_u64(d, "start_time", dp_rt.start_time);
	rte_tel_data_add_dict_string(d, "file_prefix", dp_cfg.eal.file_prefix);
	rte_tel_data_add_dict_string(d, "config", dp_cfg.path);
	rte_tel_data_add_dict_u64(d, "main_lcore", dp_rt.main_lcore);
	rte_tel_data_add_dict_u64(d, "workers", dp_rt.nb_workers);
	rte_tel_data_add_dict_u64(d, "ports", dp_rt.nb_ports);
	rte_tel_data_add_dict_u64(d, "neighbours", dp_neigh_count());
	for (i = 1; i <= dp_features_count() && off < sizeof(feats); i++)
		off += (size_t)snprintf(feats + off, sizeof(feats) - off, "%s%s", off ? "," : "",
					dp_feature_get(i)->name);
	rte_tel_data_add_dict_string(d, "features", feats);
	return 0;
}

static int cmd_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct dp_lcore_stats *sum = malloc(sizeof(*sum));

	(void)cmd;
	(void)params;
	if (sum == NULL)
		return -ENOMEM;
	dp_stats_sum(sum);
	rte_tel_data_start_dict(d);
	add_events(d, sum);
	free(sum);
	return 0;
}

static int cmd_drops(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct dp_lcore_stats *sum = malloc(sizeof(*sum));
	unsigned int i;

	(void)cmd;
	(void)params;
	if (sum == NULL)
		return -ENOMEM;
	dp_stats_sum(sum);
	rte_tel_data_start_dict(d);
	for (i = 0; i < dp_drop_count(); i++)
		rte_tel_data_add_dict_u64(d, dp_drop_name(i), sum->drops[i]);
	free(sum);
	return 0;
}

static int cmd_lcores(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct rte_tel_data *ids = rte_tel_data_alloc(), *roles = rte_tel_data_alloc();
	unsigned int i;

	(void)cmd;
	(void)params;
	if (ids == NULL || roles == NULL) {
		rte_tel_data_free(ids);
		rte_tel_data_free(roles);
		return -ENOMEM;
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_start_array(ids, RTE_TEL_INT_VAL);
	rte_tel_data_start_array(roles, RTE_TEL_STRING_VAL);
	rte_tel_data_add_array_int(ids, (int)dp_rt.main_lcore);
	rte_tel_data_add_array_string(roles, "control");
	for (i = 0; i < dp_rt.nb_workers; i++) {
		rte_tel_data_add_array_int(ids, (int)dp_rt.workers[i].lcore_id);
		rte_tel_data_add_array_string(roles, "worker");
	}
	rte_tel_data_add_dict_container(d, "lcore", ids, 0);
	rte_tel_data_add_dict_container(d, "role", roles, 0);
	return 0;
}

static int parse_index(const char *params, unsigned long max, unsigned long *out)
{
	char *end;

	if (params == NULL || params[0] < '0' || params[0] > '9')
		return -EINVAL;
	*out = strtoul(params, &end, 10);
	if (*end != '\0' || *out >= max)
		return -EINVAL;
	return 0;
}

static int cmd_lcore(const char *cmd, const char *params, struct rte_tel_data *d)
{
	unsigned long id;
	unsigned int i;
	const char *role = NULL;

	(void)cmd;
	if (parse_index(params, RTE_MAX_LCORE, &id))
		return -EINVAL;
	if (id == dp_rt.main_lcore)
		role = "control";
	for (i = 0; i < dp_rt.nb_workers; i++)
		if (dp_rt.workers[i].lcore_id == id)
			role = "worker";
	if (role == NULL)
		return -EINVAL;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "lcore", id);
	rte_tel_data_add_dict_string(d, "role", role);
	add_events(d, &dp_stats[id]);
	for (i = 0; i < dp_drop_count(); i++)
		if (dp_stats[id].drops[i])
			rte_tel_data_add_dict_u64(d, dp_drop_name(i), dp_stats[id].drops[i]);
	return 0;
}

static void addr_str(const struct dp_prefix *p, char *buf, size_t len)
{
	char a[64];

	if (!p->set) {
		snprintf(buf, len, "none");
		return;
	}
	snprintf(buf, len, "%s/%u", dp_ipaddr_str(&p->addr, a, sizeof(a)), p->len);
}

static int cmd_ports(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	struct rte_tel_data *idx = rte_tel_data_alloc(), *dev = rte_tel_data_alloc();
	unsigned int i;

	if (idx == NULL || dev == NULL) {
		rte_tel_data_free(idx);
		rte_tel_data_free(dev);
		return -ENOMEM;
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_start_array(idx, RTE_TEL_INT_VAL);
	rte_tel_data_start_array(dev, RTE_TEL_STRING_VAL);
	for (i = 0; i < dp_rt.nb_ports; i++) {
		char name[RTE_TEL_MAX_STRING_LEN];
		snprintf(name, sizeof(name), "%s", dp_cfg.port[i].device);
		rte_tel_data_add_array_int(idx, (int)i);
		rte_tel_data_add_array_string(dev, name);
	}
	rte_tel_data_add_dict_container(d, "port", idx, 0);
	rte_tel_data_add_dict_container(d, "device", dev, 0);
	return 0;
}

static int cmd_port(const char *cmd, const char *params, struct rte_tel_data *d)
{
	unsigned long i;
	const struct dp_port *p;
	struct rte_eth_stats st;
	struct rte_eth_link link;
	char buf[RTE_TEL_MAX_STRING_LEN];

	(void)cmd;
	if (parse_index(params, dp_rt.nb_ports, &i))
		return -EINVAL;
	p = &dp_rt.ports[i];
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "port", i);
	rte_tel_data_add_dict_u64(d, "port_id", p->port_id);
	snprintf(buf, sizeof(buf), "%s", dp_cfg.port[i].device);
	rte_tel_data_add_dict_string(d, "device", buf);
	rte_ether_format_addr(buf, sizeof(buf), &p->mac);
	rte_tel_data_add_dict_string(d, "mac", buf);
	addr_str(&p->ipv4, buf, sizeof(buf));
	rte_tel_data_add_dict_string(d, "ipv4", buf);
	addr_str(&p->ipv6, buf, sizeof(buf));
	rte_tel_data_add_dict_string(d, "ipv6", buf);
	/* Every address the port answers for, primaries first: [portN] ipv4, ipv4_extra,
	 * ipv6, ipv6_extra. */
	struct rte_tel_data *all = rte_tel_data_alloc();
	if (all) {
		const struct dp_prefix_list *x[2] = {&p->ipv4_extra, &p->ipv6_extra};
		const struct dp_prefix *pri[2] = {&p->ipv4, &p->ipv6};

		rte_tel_data_start_array(all, RTE_TEL_STRING_VAL);
		for (unsigned int f = 0; f < 2; f++) {
			if (!pri[f]->set)
				continue;
			addr_str(pri[f], buf, sizeof(buf));
			rte_tel_data_add_array_string(all, buf);
			for (unsigned int k = 0; k < x[f]->n; k++) {
				addr_str(&x[f]->p[k], buf, sizeof(buf));
				rte_tel_data_add_array_string(all, buf);
			}
		}
		if (rte_tel_data_add_dict_container(d, "addresses", all, 0) != 0)
			rte_tel_data_free(all);
	}
	rte_tel_data_add_dict_u64(d, "rx_queues", p->nb_rxq);
	rte_tel_data_add_dict_u64(d, "tx_queues", p->ctl_txq + 1u);
	if (rte_eth_link_get_nowait(p->port_id, &link) == 0) {
		rte_tel_data_add_dict_string(d, "link", link.link_status ? "up" : "down");
		rte_tel_data_add_dict_u64(d, "speed_mbps", link.link_speed);
	}
	if (rte_eth_stats_get(p->port_id, &st) == 0) {
		rte_tel_data_add_dict_u64(d, "ipackets", st.ipackets);
		rte_tel_data_add_dict_u64(d, "opackets", st.opackets);
		rte_tel_data_add_dict_u64(d, "ibytes", st.ibytes);
		rte_tel_data_add_dict_u64(d, "obytes", st.obytes);
		rte_tel_data_add_dict_u64(d, "imissed", st.imissed);
		rte_tel_data_add_dict_u64(d, "ierrors", st.ierrors);
		rte_tel_data_add_dict_u64(d, "oerrors", st.oerrors);
		rte_tel_data_add_dict_u64(d, "rx_nombuf", st.rx_nombuf);
	}
	return 0;
}

#define NEIGH_DUMP_MAX 256

static int cmd_neigh(const char *cmd, const char *params, struct rte_tel_data *d)
{
	static const char *state_names[] = {"free", "incomplete", "reachable", "probe"};
	struct dp_neigh_info *tab;
	struct rte_tel_data *port, *addr, *mac, *state, *ttl;
	unsigned int n, i;
	uint64_t now = dp_now_ms();

	(void)cmd;
	(void)params;
	tab = malloc(sizeof(*tab) * NEIGH_DUMP_MAX);
	port = rte_tel_data_alloc();
	addr = rte_tel_data_alloc();
	mac = rte_tel_data_alloc();
	state = rte_tel_data_alloc();
	ttl = rte_tel_data_alloc();
	if (!tab || !port || !addr || !mac || !state || !ttl) {
		free(tab);
		rte_tel_data_free(port);
		rte_tel_data_free(addr);
		rte_tel_data_free(mac);
		rte_tel_data_free(state);
		rte_tel_data_free(ttl);
		return -ENOMEM;
	}
	n = dp_neigh_dump(tab, NEIGH_DUMP_MAX);
	rte_tel_data_start_dict(d);
	rte_tel_data_start_array(port, RTE_TEL_INT_VAL);
	rte_tel_data_start_array(addr, RTE_TEL_STRING_VAL);
	rte_tel_data_start_array(mac, RTE_TEL_STRING_VAL);
	rte_tel_data_start_array(state, RTE_TEL_STRING_VAL);
	rte_tel_data_start_array(ttl, RTE_TEL_U64_VAL);
	for (i = 0; i < n; i++) {
		char buf[64];
		rte_tel_data_add_array_int(port, tab[i].port);
		rte_tel_data_add_array_string(addr, dp_ipaddr_str(&tab[i].addr, buf, sizeof(buf)));
		if (tab[i].state != DP_NEIGH_INCOMPLETE)
			rte_ether_format_addr(buf, sizeof(buf), &tab[i].mac);
		else
			snprintf(buf, sizeof(buf), "-");
		rte_tel_data_add_array_string(mac, buf);
		rte_tel_data_add_array_string(state, state_names[tab[i].state]);
		rte_tel_data_add_array_u64(
		    ttl, tab[i].expires_ms > now ? (tab[i].expires_ms - now) / 1000 : 0);
	}
	free(tab);
	rte_tel_data_add_dict_u64(d, "count", dp_neigh_count());
	rte_tel_data_add_dict_container(d, "port", port, 0);
	rte_tel_data_add_dict_container(d, "address", addr, 0);
	rte_tel_data_add_dict_container(d, "mac", mac, 0);
	rte_tel_data_add_dict_container(d, "state", state, 0);
	rte_tel_data_add_dict_container(d, "expires_s", ttl, 0);
	return 0;
}

int dp_telemetry_init(void)
{
	static const struct {
		const char *cmd;
		telemetry_cb fn;
		const char *help;
	} cmds[] = {
	    {"/poprelay/info", cmd_info, "Dataplane version, uptime, lcores, ports."},
	    {"/poprelay/stats", cmd_stats, "Counters summed over every lcore."},
	    {"/poprelay/drops", cmd_drops, "Drops by reason, summed over every lcore."},
	    {"/poprelay/lcores", cmd_lcores, "Lcore ids and roles."},
	    {"/poprelay/lcore", cmd_lcore, "Counters of one lcore. Parameters: int lcore_id"},
	    {"/poprelay/ports", cmd_ports, "Configured ports."},
	    {"/poprelay/port", cmd_port,
	     "One port's addresses and NIC counters. Parameters: "
	     "int port index"},
	    {"/poprelay/neigh", cmd_neigh, "Neighbour (ARP/ND) table."},
	};
	unsigned int i;
	int ret;

	for (i = 0; i < RTE_DIM(cmds); i++) {
		ret = rte_telemetry_register_cmd(cmds[i].cmd, cmds[i].fn, cmds[i].help);
		if (ret)
			return ret;
	}
	return 0;
}
