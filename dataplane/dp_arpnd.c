/* SPDX-License-Identifier: BSD-3-Clause */
#include "dataplane/dp_arpnd.h"

#include <errno.h>
#include <string.h>

#include <rte_ether.h>
#include <rte_lcore.h>

#include "dataplane/dp.h"
#include "dataplane/dp_ha.h"
#include "dataplane/dp_neigh.h"

static struct dp_lcore_stats *ctl_stats(void)
{
	return &dp_stats[rte_lcore_id()];
}

static uint64_t timeout_ms(void)
{
	return (uint64_t)dp_cfg.dp.neigh_timeout_s * 1000;
}

static void ctl_drop(struct rte_mbuf *m, unsigned int reason)
{
	ctl_stats()->drops[reason]++;
	rte_pktmbuf_free(m);
}

void dp_arp_input(struct rte_mbuf *m, const struct dp_pkt_info *pi)
{
	const struct dp_port *p = &dp_rt.ports[pi->port];
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)frame;
	uint8_t *arp = frame + pi->l3_off;
	struct rte_ether_addr sha;
	bool for_us = dp_addr_is_ours(p, &pi->dst);

	memcpy(&sha, arp + 8, 6);
	if (rte_is_multicast_ether_addr(&sha) || rte_is_zero_ether_addr(&sha))
		return ctl_drop(m, DP_DROP_ARP_MALFORMED);
	/* Another host using one of our addresses: never learn ourselves as a neighbour. */
	if (dp_addr_is_ours(p, &pi->src))
		return ctl_drop(m, DP_DROP_ADDR_CONFLICT);
	/* RFC 826 "packet reception": merge the sender if known, add it if the frame is for
	 * us. A sender address of 0.0.0.0 is an RFC 5227 probe: answer, do not learn. */
	if (pi->src.v4 != 0)
		dp_neigh_learn(pi->port, &pi->src, &sha, dp_now_ms(), timeout_ms(), for_us);
	if (!for_us)
		return ctl_drop(m, DP_DROP_ARP_NOT_FOR_US);
	if (pi->icmp_type != 1) { /* a reply: learning was all */
		rte_pktmbuf_free(m);
		return;
	}
	/* Turn the request into the reply in place. */
	arp[7] = 2;
	memcpy(arp + 18, arp + 8, 10);	  /* target = sender (MAC + IP) */
	memcpy(arp + 8, &p->mac, 6);	  /* sender MAC = ours */
	memcpy(arp + 14, &pi->dst.v4, 4); /* sender IP = the address asked for */
	rte_ether_addr_copy(&sha, &eth->dst_addr);
	rte_ether_addr_copy(&p->mac, &eth->src_addr);
	if (dp_control_tx(pi->port, m) == 0)
		ctl_stats()->arp_replies_out++;
}

/* RFC 4861 4.6.1: find a source/target link-layer address option (type 1 or 2). */
static int find_lladdr(const uint8_t *opt, uint32_t len, uint8_t type, struct rte_ether_addr *mac)
{
	while (len >= 8) {
		uint32_t olen = (uint32_t)opt[1] * 8;
		if (olen == 0 || olen > len)
			return -EINVAL; /* 4.6: a zero length option invalidates the packet */
		if (opt[0] == type && olen >= 8) {
			memcpy(mac, opt + 2, 6);
			return 0;
		}
		opt += olen;
		len -= olen;
	}
	return len ? -EINVAL : -ENOENT;
}

static void send_na(struct rte_mbuf *m, const struct dp_pkt_info *pi,
		    const struct rte_ether_addr *dst_mac, bool solicited)
{
	const struct dp_port *p = &dp_rt.ports[pi->port];
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)frame;
	uint8_t *ip = frame + pi->l3_off, *icmp = ip + 40;
	struct dp_ipaddr src = {.family = AF_INET6}, dst;
	uint16_t c;
	const uint16_t l4_len = 32; /* NA header 24 + target link-layer option 8 */

	/* From the address solicited (the worker checked it is ours: the primary or an
	 * extra one), so that a host on an extra address's subnet sees an on-link source. */
	memcpy(src.v6, frame + pi->l4_off + 8, 16);

	/* RFC 4861 7.2.4: to the solicitation's source, or all-nodes if it was ::. */
	dst.family = AF_INET6;
	if (solicited) {
		memcpy(dst.v6, pi->src.v6, 16);
	} else {
		static const uint8_t all_nodes[16] = {0xff, 2, [15] = 1};
		memcpy(dst.v6, all_nodes, 16);
	}
	if (rte_pktmbuf_data_len(m) < pi->l3_off + 40 + l4_len &&
	    rte_pktmbuf_append(m, (uint16_t)(pi->l3_off + 40 + l4_len - rte_pktmbuf_data_len(m))) ==
		NULL) {
		ctl_drop(m, DP_DROP_NO_MBUF);
		return;
	}
	if (rte_pktmbuf_data_len(m) > pi->l3_off + 40 + l4_len)
		rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_data_len(m) - pi->l3_off - 40 - l4_len));
	if (solicited)
		rte_ether_addr_copy(dst_mac, &eth->dst_addr);
	else
		memcpy(&eth->dst_addr, (const uint8_t[]){0x33, 0x33, 0, 0, 0, 1}, 6);
	rte_ether_addr_copy(&p->mac, &eth->src_addr);
	ip[0] = 0x60;
	ip[1] = ip[2] = ip[3] = 0;
	ip[4] = 0;
	ip[5] = (uint8_t)l4_len;
	ip[6] = 58;
	ip[7] = 255;
	memcpy(ip + 8, src.v6, 16);
	memcpy(ip + 24, dst.v6, 16);
	/* icmp + 8 already holds the target (the address that was solicited). */
	icmp[0] = 136;
	icmp[1] = 0;
	icmp[2] = icmp[3] = 0;
	icmp[4] = (uint8_t)((solicited ? 0x40 : 0) | 0x20); /* S, O */
	icmp[5] = icmp[6] = icmp[7] = 0;
	icmp[24] = 2; /* target link-layer address */
	icmp[25] = 1;
	memcpy(icmp + 26, &p->mac, 6);
	c = dp_csum_l4(&src, &dst, 58, icmp, l4_len);
	memcpy(icmp + 2, &c, 2);
	if (dp_control_tx(pi->port, m) == 0)
		ctl_stats()->nd_adverts_out++;
}

void dp_nd_input(struct rte_mbuf *m, const struct dp_pkt_info *pi)
{
	const struct dp_port *p = &dp_rt.ports[pi->port];
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	const uint8_t *icmp = frame + pi->l4_off;
	uint32_t icmp_len = (uint32_t)pi->l3_len - 40;
	struct rte_ether_addr ll;
	struct dp_ipaddr target = {.family = AF_INET6};
	bool src_unspec;
	int ret;

	memcpy(target.v6, icmp + 8, 16);
	src_unspec = pi->src.v6[0] == 0 && memcmp(pi->src.v6, pi->src.v6 + 1, 15) == 0;
	if (pi->icmp_type == 135) {
		ret = find_lladdr(icmp + 24, icmp_len - 24, 1, &ll);
		/* 7.1.1: no source link-layer option when the source is unspecified. */
		if (ret == -EINVAL || (src_unspec && ret == 0))
			return ctl_drop(m, DP_DROP_ND_MALFORMED);
		if (!src_unspec && dp_addr_is_ours(p, &pi->src))
			return ctl_drop(m, DP_DROP_ADDR_CONFLICT);
		if (ret == 0)
			dp_neigh_learn(pi->port, &pi->src, &ll, dp_now_ms(), timeout_ms(), true);
		else
			memcpy(&ll, &((struct rte_ether_hdr *)frame)->src_addr, 6);
		return send_na(m, pi, &ll, !src_unspec);
	}
	/* A neighbour advertisement: 7.1.2, multicast target is invalid. */
	if (target.v6[0] == 0xff)
		return ctl_drop(m, DP_DROP_ND_MALFORMED);
	ret = find_lladdr(icmp + 24, icmp_len - 24, 2, &ll);
	if (ret == -EINVAL)
		return ctl_drop(m, DP_DROP_ND_MALFORMED);
	if (ret == -ENOENT)
		memcpy(&ll, &((struct rte_ether_hdr *)frame)->src_addr, 6);
	if (dp_addr_is_ours(p, &target))
		return ctl_drop(m, DP_DROP_ADDR_CONFLICT); /* someone else claims our address */
	/* Only complete what we asked for or refresh what we know (7.2.5). */
	dp_neigh_learn(pi->port, &target, &ll, dp_now_ms(), timeout_ms(), false);
	rte_pktmbuf_free(m);
}

static int arp_request(uint16_t port, const struct dp_ipaddr *addr)
{
	const struct dp_port *p = &dp_rt.ports[port];
	const struct dp_ipaddr *src = dp_port_src_for(p, addr);
	struct rte_mbuf *m;
	uint8_t *f;

	if (src == NULL)
		return -EADDRNOTAVAIL;
	m = rte_pktmbuf_alloc(dp_rt.pool);
	if (m == NULL)
		return -ENOMEM;
	f = (uint8_t *)rte_pktmbuf_append(m, 60);
	if (f == NULL) {
		rte_pktmbuf_free(m);
		return -ENOMEM;
	}
	memset(f, 0, 60);
	memset(f, 0xff, 6);
	memcpy(f + 6, &p->mac, 6);
	f[12] = 0x08, f[13] = 0x06;
	f[14] = 0, f[15] = 1, f[16] = 0x08, f[17] = 0, f[18] = 6, f[19] = 4, f[20] = 0, f[21] = 1;
	memcpy(f + 22, &p->mac, 6);
	memcpy(f + 28, &src->v4, 4);
	memcpy(f + 38, &addr->v4, 4);
	if (dp_control_tx(port, m) != 0)
		return -ENOBUFS;
	ctl_stats()->arp_requests_out++;
	return 0;
}

static int nd_solicit(uint16_t port, const struct dp_ipaddr *addr)
{
	const struct dp_port *p = &dp_rt.ports[port];
	const struct dp_ipaddr *src = dp_port_src_for(p, addr);
	struct dp_ipaddr dst = {.family = AF_INET6};
	struct rte_mbuf *m;
	uint8_t *f, *ip, *icmp;
	uint16_t c;

	if (src == NULL)
		return -EADDRNOTAVAIL;
	m = rte_pktmbuf_alloc(dp_rt.pool);
	if (m == NULL)
		return -ENOMEM;
	f = (uint8_t *)rte_pktmbuf_append(m, 14 + 40 + 32);
	if (f == NULL) {
		rte_pktmbuf_free(m);
		return -ENOMEM;
	}
	memset(f, 0, 14 + 40 + 32);
	/* Solicited-node multicast ff02::1:ffXX:XXXX (RFC 4291 2.7.1) and its MAC. */
	dst.v6[0] = 0xff, dst.v6[1] = 2, dst.v6[11] = 1, dst.v6[12] = 0xff;
	memcpy(dst.v6 + 13, addr->v6 + 13, 3);
	f[0] = 0x33, f[1] = 0x33;
	memcpy(f + 2, dst.v6 + 12, 4);
	memcpy(f + 6, &p->mac, 6);
	f[12] = 0x86, f[13] = 0xdd;
	ip = f + 14;
	ip[0] = 0x60, ip[5] = 32, ip[6] = 58, ip[7] = 255;
	memcpy(ip + 8, src->v6, 16);
	memcpy(ip + 24, dst.v6, 16);
	icmp = ip + 40;
	icmp[0] = 135;
	memcpy(icmp + 8, addr->v6, 16);
	icmp[24] = 1, icmp[25] = 1;
	memcpy(icmp + 26, &p->mac, 6);
	c = dp_csum_l4(src, &dst, 58, icmp, 32);
	memcpy(icmp + 2, &c, 2);
	if (dp_control_tx(port, m) != 0)
		return -ENOBUFS;
	ctl_stats()->nd_solicits_out++;
	return 0;
}

int dp_arpnd_probe(uint16_t port, const struct dp_ipaddr *addr)
{
	if (port >= dp_rt.nb_ports)
		return -EINVAL;
	/* Our addresses there are the [ha] peer's now: a request from one of them would
	 * move the neighbours' entries for it back to us. */
	if (dp_ha_fenced(port))
		return -EADDRNOTAVAIL;
	return addr->family == AF_INET ? arp_request(port, addr) : nd_solicit(port, addr);
}

static int garp(uint16_t port, const struct dp_ipaddr *addr)
{
	const struct dp_port *p = &dp_rt.ports[port];
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp_rt.pool);
	uint8_t *f;

	if (m == NULL)
		return -ENOMEM;
	f = (uint8_t *)rte_pktmbuf_append(m, 60);
	if (f == NULL) {
		rte_pktmbuf_free(m);
		return -ENOMEM;
	}
	memset(f, 0, 60);
	memset(f, 0xff, 6);
	memcpy(f + 6, &p->mac, 6);
	f[12] = 0x08, f[13] = 0x06;
	f[14] = 0, f[15] = 1, f[16] = 0x08, f[17] = 0, f[18] = 6, f[19] = 4, f[20] = 0, f[21] = 1;
	memcpy(f + 22, &p->mac, 6);
	memcpy(f + 28, &addr->v4, 4);
	memcpy(f + 38, &addr->v4, 4); /* target = sender; target MAC stays zero */
	if (dp_control_tx(port, m) != 0)
		return -ENOBUFS;
	ctl_stats()->arp_requests_out++;
	return 0;
}

static int unsolicited_na(uint16_t port, const struct dp_ipaddr *addr)
{
	static const uint8_t all_nodes[16] = {0xff, 2, [15] = 1};
	const struct dp_port *p = &dp_rt.ports[port];
	struct dp_ipaddr dst = {.family = AF_INET6};
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp_rt.pool);
	uint8_t *f, *ip, *icmp;
	uint16_t c;

	if (m == NULL)
		return -ENOMEM;
	f = (uint8_t *)rte_pktmbuf_append(m, 14 + 40 + 32);
	if (f == NULL) {
		rte_pktmbuf_free(m);
		return -ENOMEM;
	}
	memset(f, 0, 14 + 40 + 32);
	memcpy(dst.v6, all_nodes, 16);
	memcpy(f, (const uint8_t[]){0x33, 0x33, 0, 0, 0, 1}, 6);
	memcpy(f + 6, &p->mac, 6);
	f[12] = 0x86, f[13] = 0xdd;
	ip = f + 14;
	ip[0] = 0x60, ip[5] = 32, ip[6] = 58, ip[7] = 255;
	memcpy(ip + 8, addr->v6, 16);
	memcpy(ip + 24, dst.v6, 16);
	icmp = ip + 40;
	icmp[0] = 136;
	icmp[4] = 0x20; /* Override; neither Router nor Solicited */
	memcpy(icmp + 8, addr->v6, 16);
	icmp[24] = 2, icmp[25] = 1; /* target link-layer address */
	memcpy(icmp + 26, &p->mac, 6);
	c = dp_csum_l4(addr, &dst, 58, icmp, 32);
	memcpy(icmp + 2, &c, 2);
	if (dp_control_tx(port, m) != 0)
		return -ENOBUFS;
	ctl_stats()->nd_adverts_out++;
	return 0;
}

int dp_arpnd_announce(uint16_t port, const struct dp_ipaddr *addr)
{
	if (port >= dp_rt.nb_ports)
		return -EINVAL;
	return addr->family == AF_INET ? garp(port, addr) : unsolicited_na(port, addr);
}
