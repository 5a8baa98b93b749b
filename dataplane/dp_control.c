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

int dp_control_tx(uint16_t port, struct rte_mbuf *m)
{
	struct dp_lcore_stats *s = &dp_stats[rte_lcore_id()];
	const struct dp_port *p = &dp_rt.ports[port];
	uint32_t len = rte_pktmbuf_pkt_len(m);

	if (rte_eth_tx_burst(p->port_id, p->ctl_txq, &m, 1) != 1) {
		s->drops[DP_DROP_TX_FULL]++;
		rte_pktmbuf_free(m);
		return -ENOBUFS;
	}
	s->tx_packets++;
	s->tx_bytes += len;
	return 0;
}

int dp_ctl_resolve(uint16_t port, const struct dp_ipaddr *nh)
{
	int ret = dp_neigh_want(port, nh, dp_now_ms(), dp_cfg.dp.neigh_retry_ms);

	if (ret == 1)
		return dp_arpnd_probe(port, nh);
	return ret;
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
		if (now >= next_timer) {
			dp_neigh_timer(now, dp_cfg.dp.neigh_retry_ms, dp_cfg.dp.neigh_probes,
				       probe_cb, NULL);
			next_timer = now + NEIGH_TIMER_MS;
		}
		unsigned under_way = dp_features_poll(now);
		dp_tunables_poll(now);
		s->loops++;
		if (work)
			s->busy_loops++;
		else if (under_way) /* replies awaited: sleep until they come, not past them */
			dp_features_wait(CTL_IDLE_SLEEP_US);
		else
			rte_delay_us_sleep(CTL_IDLE_SLEEP_US);
	}
}
