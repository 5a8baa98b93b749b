/* SPDX-License-Identifier: BSD-3-Clause */
/* Port setup (control lcore, before workers start) and the addresses we own. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ring.h>

#include "common/log.h"
#include "dataplane/dp.h"
#include "dataplane/dp_ha.h"
#include "dataplane/dp_port.h"

bool dp_addr_is_ours(const struct dp_port *p, const struct dp_ipaddr *a)
{
	unsigned int i;

	if (a->family == AF_INET) {
		if (p->ipv4.set && (p->ipv4.addr.v4 == a->v4 || dp_addr4_is_extra(p, a->v4)))
			return true;
		return dp_ha_holds(p, a);
	}
	if (a->family != AF_INET6)
		return false;
	if (p->ipv6.set) {
		if (memcmp(p->ipv6.addr.v6, a->v6, 16) == 0)
			return true;
		for (i = 0; i < p->ipv6_extra.n; i++)
			if (memcmp(p->ipv6_extra.p[i].addr.v6, a->v6, 16) == 0)
				return true;
	}
	/* a peer's address we took over ([ha]), only after our own missed */
	return dp_ha_holds(p, a);
}

static bool prefix_holds(const struct dp_prefix *pf, const struct dp_ipaddr *a)
{
	unsigned int bits = pf->len, i;

	if (pf->addr.family != a->family)
		return false;
	if (a->family == AF_INET) {
		uint32_t m = bits ? ~0u << (32 - RTE_MIN(bits, 32u)) : 0;
		return ((rte_be_to_cpu_32(pf->addr.v4) ^ rte_be_to_cpu_32(a->v4)) & m) == 0;
	}
	for (i = 0; bits >= 8 && i < 16; i++, bits -= 8)
		if (pf->addr.v6[i] != a->v6[i])
			return false;
	return i == 16 || bits == 0 ||
	       ((pf->addr.v6[i] ^ a->v6[i]) & (uint8_t)(0xff << (8 - bits))) == 0;
}

const struct dp_ipaddr *dp_port_src_for(const struct dp_port *p, const struct dp_ipaddr *dst)
{
	const struct dp_prefix *pri = dst->family == AF_INET ? &p->ipv4 : &p->ipv6;
	const struct dp_prefix_list *x = dst->family == AF_INET ? &p->ipv4_extra : &p->ipv6_extra;
	unsigned int i;

	if (!pri->set || (dst->family != AF_INET && dst->family != AF_INET6))
		return NULL;
	if (!prefix_holds(pri, dst))
		for (i = 0; i < x->n; i++)
			if (prefix_holds(&x->p[i], dst))
				return &x->p[i].addr;
	return &pri->addr;
}

int dp_route_nexthop(const struct dp_port *p, const struct dp_ipaddr *dst, struct dp_ipaddr *nh)
{
	int ret;

	if (dst->family == AF_INET) {
		const struct dp_route4 r = dp_route4_of(p);
		uint32_t v4;

		ret = dp_route4_nexthop(&r, dst->v4, &v4);
		if (ret == 0) {
			nh->family = AF_INET;
			nh->v4 = v4;
		}
		return ret;
	}
	if (dst->family != AF_INET6)
		return -ENETUNREACH;
	const struct dp_route6 r = dp_route6_of(p);
	ret = dp_route6_nexthop(&r, dst->v6, nh->v6);
	if (ret == 0)
		nh->family = AF_INET6;
	return ret;
}

int dp_port_index(uint16_t port_id)
{
	unsigned int i;

	for (i = 0; i < dp_rt.nb_ports; i++)
		if (dp_rt.ports[i].port_id == port_id)
			return (int)i;
	return -1;
}

const struct dp_ipaddr *dp_port_addr(uint16_t port, int family)
{
	static const struct dp_ipaddr none;

	if (port >= dp_rt.nb_ports)
		return &none;
	if (family == AF_INET)
		return dp_rt.ports[port].ipv4.set ? &dp_rt.ports[port].ipv4.addr : &none;
	return dp_rt.ports[port].ipv6.set ? &dp_rt.ports[port].ipv6.addr : &none;
}

/* The ethdev name of a configured device: a vdev's name is what precedes the first comma. */
static void device_name(const char *device, char *name, size_t len)
{
	size_t n = strcspn(device, ",");

	if (n >= len)
		n = len - 1;
	memcpy(name, device, n);
	name[n] = '\0';
}

bool dp_device_is_pci(const char *device)
{
	unsigned int d, b, s, f;
	char extra;

	return sscanf(device, "%x:%x:%x.%x%c", &d, &b, &s, &f, &extra) == 4 ||
	       sscanf(device, "%x:%x.%x%c", &b, &s, &f, &extra) == 3;
}

/* "ring:NAME": a shared-memory port for a co-located DPDK process (a traffic generator, a
 * capture tool, a chained function) attached as a secondary. We create, in the primary's
 * memory, one single-producer/single-consumer ring per queue: NAME_rxQ per RX queue (the
 * other process enqueues what we receive) and NAME_txQ per TX queue (we enqueue, it
 * drains): NAME_tx0 .. for the workers, the last one for the control lcore. Like a NIC's
 * queues, nothing is shared between two workers, so a multi-queue generator (one core per
 * queue) measures how the workers scale. mbufs travel by pointer: no copy either way,
 * which is what a NIC's DMA costs the CPU. */
static int ring_port_create(unsigned int idx, const struct dp_port_cfg *pc, int socket,
			    char *ethname, size_t ethname_len)
{
	const char *n = pc->device + strlen(DP_RING_DEVICE_PREFIX);
	struct rte_ring *rx[RTE_PMD_RING_MAX_RX_RINGS], *tx[RTE_PMD_RING_MAX_TX_RINGS];
	unsigned int nb_rx = pc->rx_queues ? pc->rx_queues : dp_rt.nb_workers;
	unsigned int nb_tx = dp_rt.nb_workers + 1, size = rte_align32pow2(pc->rx_desc), q;
	char rn[RTE_RING_NAMESIZE];
	int pid;

	/* NAME, [eal] and these queue counts were checked with the config (dp_config_load:
	 * --check-config says the same); the test stays as the bound of rx[] and tx[]. */
	if (nb_rx > RTE_PMD_RING_MAX_RX_RINGS || nb_tx > RTE_PMD_RING_MAX_TX_RINGS) {
		PR_ERR("port%u (%s): a ring port has at most %d RX and %d TX queues", idx,
		       pc->device, RTE_PMD_RING_MAX_RX_RINGS, RTE_PMD_RING_MAX_TX_RINGS);
		return -EINVAL;
	}
	for (q = 0; q < nb_rx; q++) {
		snprintf(rn, sizeof(rn), "%s_rx%u", n, q);
		rx[q] = rte_ring_create(rn, size, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (!rx[q])
			goto fail;
	}
	for (q = 0; q < nb_tx; q++) {
		snprintf(rn, sizeof(rn), "%s_tx%u", n, q);
		tx[q] = rte_ring_create(rn, rte_align32pow2(pc->tx_desc), socket,
					RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (!tx[q])
			goto fail;
	}
	pid = rte_eth_from_rings(n, rx, nb_rx, tx, nb_tx, (unsigned int)socket);
	if (pid < 0)
		goto fail;
	snprintf(ethname, ethname_len, "net_ring_%s", n);
	return 0;
fail:
	PR_ERR("port%u (%s): cannot create ring %s: %s", idx, pc->device, rn,
	       rte_strerror(rte_errno));
	return -rte_errno ? -rte_errno : -ENOMEM;
}

static int port_setup(unsigned int idx, const struct dp_port_cfg *pc, int socket)
{
	struct dp_port *p = &dp_rt.ports[idx];
	struct rte_eth_conf conf = {0};
	struct rte_eth_dev_info info;
	char name[RTE_ETH_NAME_MAX_LEN];
	uint16_t pid, q, nb_txq;
	int ret;

	if (dp_device_is_ring(pc->device)) {
		ret = ring_port_create(idx, pc, socket, name, sizeof(name));
		if (ret)
			return ret;
	} else {
		device_name(pc->device, name, sizeof(name));
	}
	ret = rte_eth_dev_get_port_by_name(name, &pid);
	if (ret) {
		PR_ERR("port%u: device %s not found (is it bound to a DPDK driver / is the vdev "
		       "string right?)",
		       idx, pc->device);
		return -ENODEV;
	}
	ret = rte_eth_dev_info_get(pid, &info);
	if (ret)
		return ret;
	p->port_id = pid;
	p->ipv4 = pc->ipv4;
	p->ipv6 = pc->ipv6;
	p->ipv4_extra = pc->ipv4_extra;
	p->ipv6_extra = pc->ipv6_extra;
	p->gateway4 = pc->gateway4;
	p->gateway6 = pc->gateway6;
	p->nb_rxq = (uint16_t)(pc->rx_queues ? pc->rx_queues : dp_rt.nb_workers);
	/* net_af_packet opens one socket per qpair in a fanout group at probe time: a
	 * queue left unconfigured would silently eat its share of the frames. */
	if (info.driver_name && strcmp(info.driver_name, "net_af_packet") == 0)
		p->nb_rxq = info.max_rx_queues;
	nb_txq = (uint16_t)(dp_rt.nb_workers + 1);
	/* dp_config_load refuses this for net_af_packet (qpairs) and ring ports before EAL;
	 * a PCI device's queues are known only here. */
	if (p->nb_rxq > info.max_rx_queues || nb_txq > info.max_tx_queues) {
		PR_ERR("port%u (%s): needs %u RX and %u TX queues (one per worker plus one for "
		       "control), device has %u/%u (net_af_packet: qpairs=%u)",
		       idx, pc->device, p->nb_rxq, nb_txq, info.max_rx_queues, info.max_tx_queues,
		       nb_txq);
		return -EINVAL;
	}
	p->ctl_txq = (uint16_t)dp_rt.nb_workers;
	if (p->nb_rxq > 1 && info.flow_type_rss_offloads) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
		    (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
	}
	conf.rxmode.offloads =
	    info.rx_offload_capa & (RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM);
	ret = rte_eth_dev_configure(pid, p->nb_rxq, nb_txq, &conf);
	if (ret) {
		PR_ERR("port%u (%s): configure: %s", idx, pc->device, rte_strerror(-ret));
		return ret;
	}
	uint16_t rxd = (uint16_t)pc->rx_desc, txd = (uint16_t)pc->tx_desc;
	rte_eth_dev_adjust_nb_rx_tx_desc(pid, &rxd, &txd);
	for (q = 0; q < p->nb_rxq; q++) {
		ret = rte_eth_rx_queue_setup(pid, q, rxd, socket, NULL, dp_rt.pool);
		if (ret) {
			PR_ERR("port%u: rx queue %u: %s", idx, q, rte_strerror(-ret));
			return ret;
		}
	}
	for (q = 0; q < nb_txq; q++) {
		ret = rte_eth_tx_queue_setup(pid, q, txd, socket, NULL);
		if (ret) {
			PR_ERR("port%u: tx queue %u: %s", idx, q, rte_strerror(-ret));
			return ret;
		}
	}
	ret = rte_eth_dev_set_mtu(pid, (uint16_t)pc->mtu);
	if (ret && ret != -ENOTSUP)
		PR_WARN("port%u: cannot set MTU %u: %s", idx, pc->mtu, rte_strerror(-ret));
	ret = rte_eth_macaddr_get(pid, &p->mac);
	if (ret)
		return ret;
	/* The ring PMD has no MAC (all zeros) and cannot take one: ours is a locally
	 * administered unicast address, 02:72:69:6e:67:<port index> ("ring"). */
	if (dp_device_is_ring(pc->device))
		p->mac = (struct rte_ether_addr){{0x02, 0x72, 0x69, 0x6e, 0x67, (uint8_t)idx}};
	ret = rte_eth_dev_start(pid);
	if (ret) {
		PR_ERR("port%u (%s): start: %s", idx, pc->device, rte_strerror(-ret));
		return ret;
	}
	p->started = true;
	if (pc->promiscuous)
		rte_eth_promiscuous_enable(pid);
	/* ND uses solicited-node multicast groups. */
	rte_eth_allmulticast_enable(pid);
	char mac[RTE_ETHER_ADDR_FMT_SIZE];
	rte_ether_format_addr(mac, sizeof(mac), &p->mac);
	PR_INFO("port%u: %s (port id %u, %s) %u rx / %u tx queues, %u/%u descriptors%s", idx,
		pc->device, pid, mac, p->nb_rxq, nb_txq, rxd, txd,
		conf.rxmode.mq_mode == RTE_ETH_MQ_RX_RSS ? ", RSS" : "");
	return 0;
}

int dp_ports_init(int socket)
{
	unsigned int i;
	int ret;

	dp_rt.nb_ports = dp_cfg.nb_ports;
	for (i = 0; i < dp_cfg.nb_ports; i++) {
		ret = port_setup(i, &dp_cfg.port[i], socket);
		if (ret)
			return ret;
	}
	return 0;
}

void dp_ports_fini(void)
{
	unsigned int i;

	for (i = 0; i < dp_rt.nb_ports; i++) {
		struct dp_port *p = &dp_rt.ports[i];
		if (!p->started)
			continue;
		rte_eth_dev_stop(p->port_id);
		rte_eth_dev_close(p->port_id);
		p->started = false;
	}
}
