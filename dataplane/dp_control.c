/* SPDX-License-Identifier: BSD-3-Clause */
/* The control lcore's loop: drain every worker's punt ring, run ARP/ND, neighbour timers
 * and each feature's poll, until asked to quit. */
#include <errno.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>

#include "dataplane/dp.h"
#include "dataplane/dp_arpnd.h"
#include "dataplane/dp_feature.h"
#include "dataplane/dp_neigh.h"
#include "dataplane/dp_tunables.h"

#define CTL_BURST	  32
#define NEIGH_TIMER_MS	  100
#define CTL_IDLE_SLEEP_US 200

/* What the control lcore sends (TURN answers, ARP and ND, released packets) waits here
 * and leaves in bursts, at the end of each step of the loop: one tx_burst, and on
 * net_af_packet one system call, for all the answers of a step instead of one each. Only
 * the control lcore uses its TX queue. */
#define CTL_TX_BURST 32
static struct {
	uint16_t n;
	struct rte_mbuf *m[CTL_TX_BURST];
	uint32_t len[CTL_TX_BURST]; /* taken at queueing: the driver may free what it sent */
} ctl_tx[DP_MAX_PORTS];

static void ctl_tx_flush_port(uint16_t port)
{
	struct dp_lcore_stats *s = &dp_stats[rte_lcore_id()];
	const struct dp_port *p = &dp_rt.ports[port];
	uint16_t n = ctl_tx[port].n, sent;

	if (!n)
		return;
	sent = rte_eth_tx_burst(p->port_id, p->ctl_txq, ctl_tx[port].m, n);
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = ctl_tx[port].m[i];
		if (i < sent) {
			s->tx_packets++;
			s->tx_bytes += ctl_tx[port].len[i];
		} else {
			s->drops[DP_DROP_TX_FULL]++;
			rte_pktmbuf_free(m);
		}
	}
	ctl_tx[port].n = 0;
}

void dp_control_tx_flush(void)
{
	for (uint16_t port = 0; port < dp_rt.nb_ports; port++)
		ctl_tx_flush_port(port);
}

int dp_control_tx(uint16_t port, struct rte_mbuf *m)
{
	if (ctl_tx[port].n == CTL_TX_BURST)
		ctl_tx_flush_port(port);
	ctl_tx[port].len[ctl_tx[port].n] = rte_pktmbuf_pkt_len(m);
	ctl_tx[port].m[ctl_tx[port].n++] = m;
	return 0;
}

int dp_ctl_resolve(uint16_t port, const struct dp_ipaddr *nh)
{
	int ret = dp_neigh_want(port, nh, dp_now_ms(), dp_cfg.dp.neigh_retry_ms);

	if (ret == 1)
		return dp_arpnd_probe(port, nh);
	return ret;
}

enum dp_resolve dp_ctl_resolve_toward(uint16_t port, const struct dp_ipaddr *dst)
{
	const struct dp_port *p = &dp_rt.ports[port];
	struct dp_ipaddr nh;
	struct rte_ether_addr mac;

	if (dp_addr_is_ours(p, dst) || dp_route_nexthop(p, dst, &nh) != 0 ||
	    dp_addr_is_ours(p, &nh))
		return DP_RESOLVE_SKIPPED;
	int rc = dp_neigh_lookup(port, &nh, &mac);
	if (rc != -ENOENT)
		return rc == 0 ? DP_RESOLVE_KNOWN : DP_RESOLVE_PENDING;
	if (dp_neigh_count() >= dp_cfg.dp.neigh_entries / 4 * 3)
		return DP_RESOLVE_FULL;
	return dp_neigh_want(port, &nh, dp_now_ms(), dp_cfg.dp.neigh_retry_ms) == 1 &&
		       dp_arpnd_probe(port, &nh) == 0
		   ? DP_RESOLVE_SENT
		   : DP_RESOLVE_NOT_SENT;
}

int dp_ctl_resolve_ahead(uint16_t port, const struct dp_ipaddr *dst)
{
	static uint64_t window_ms;
	static unsigned int sent;
	uint64_t now = dp_now_ms();

	if (port >= dp_rt.nb_ports)
		return 0;
	if (now - window_ms >= 1000) {
		window_ms = now;
		sent = 0;
	}
	if (sent >= DP_RESOLVE_AHEAD_PER_S || dp_ctl_resolve_toward(port, dst) != DP_RESOLVE_SENT)
		return 0;
	sent++;
	dp_stats[rte_lcore_id()].neigh_resolve_ahead++;
	return 1;
}

static void probe_cb(uint16_t port, const struct dp_ipaddr *addr, void *arg)
{
	(void)arg;
	dp_arpnd_probe(port, addr);
}

static void handle(struct rte_mbuf *m)
{
	struct dp_punt_meta *meta = dp_mbuf_meta(m);

	switch (meta->kind) {
	case DP_PUNT_ARP:
		dp_arp_input(m, &meta->pi);
		break;
	case DP_PUNT_ND:
		dp_nd_input(m, &meta->pi);
		break;
	case DP_PUNT_RESOLVE:
		dp_ctl_park(m, meta->port, &meta->nexthop);
		break;
	case DP_PUNT_FEATURE:
		dp_features_punt(m);
		break;
	default:
		dp_stats[rte_lcore_id()].drops[DP_DROP_FEATURE_UNKNOWN]++;
		rte_pktmbuf_free(m);
	}
}

void dp_control_loop(void)
{
	struct dp_lcore_stats *s = &dp_stats[rte_lcore_id()];
	struct rte_mbuf *pkts[CTL_BURST];
	uint64_t next_timer = 0;
	unsigned int w, i, n;

	while (!dp_rt.quit) {
		uint64_t now = dp_now_ms();
		unsigned int work = 0;

		for (w = 0; w < dp_rt.nb_workers; w++) {
			n = rte_ring_sc_dequeue_burst(dp_rt.workers[w].punt, (void **)pkts,
						      CTL_BURST, NULL);
			for (i = 0; i < n; i++)
				handle(pkts[i]);
			work += n;
		}
		dp_control_tx_flush();
		if (now >= next_timer) {
			dp_neigh_timer(now, dp_cfg.dp.neigh_retry_ms, dp_cfg.dp.neigh_probes,
				       probe_cb, NULL);
			next_timer = now + NEIGH_TIMER_MS;
		}
		unsigned under_way = dp_features_poll(now);
		dp_tunables_poll(now);
		dp_control_tx_flush();
		s->loops++;
		if (work)
			s->busy_loops++;
		else if (under_way) /* replies awaited: sleep until they come, not past them */
			dp_features_wait(CTL_IDLE_SLEEP_US);
		else
			rte_delay_us_sleep(CTL_IDLE_SLEEP_US);
	}
	dp_control_tx_flush();
}
