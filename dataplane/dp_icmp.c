/* SPDX-License-Identifier: BSD-3-Clause */
#include "dataplane/dp_icmp.h"

#include <string.h>

static void swap_l2(struct rte_ether_hdr *eth, const struct rte_ether_addr *mac)
{
	rte_ether_addr_copy(&eth->src_addr, &eth->dst_addr);
	rte_ether_addr_copy(mac, &eth->src_addr);
}

/* Drop Ethernet padding so the reply is exactly the IP packet. */
static void trim_to(struct rte_mbuf *m, uint32_t len)
{
	if (rte_pktmbuf_pkt_len(m) > len)
		rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_pkt_len(m) - len));
}

void dp_icmp4_echo_reply(struct rte_mbuf *m, const struct dp_pkt_info *pi,
			 const struct rte_ether_addr *mac)
{
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	uint8_t *ip = frame + pi->l3_off;
	uint8_t *icmp = frame + pi->l4_off;
	unsigned int ihl = (ip[0] & 0xfu) * 4u;
	uint16_t c;

	trim_to(m, (uint32_t)pi->l3_off + pi->l3_len);
	swap_l2((struct rte_ether_hdr *)frame, mac);
	memcpy(ip + 12, &pi->dst.v4, 4);
	memcpy(ip + 16, &pi->src.v4, 4);
	ip[8] = 64;
	ip[10] = ip[11] = 0;
	c = dp_csum_ipv4_hdr(ip, ihl);
	memcpy(ip + 10, &c, 2);
	icmp[0] = 0; /* echo reply, RFC 792 */
	icmp[2] = icmp[3] = 0;
	c = dp_csum_raw(icmp, (uint32_t)pi->l3_len - ihl);
	memcpy(icmp + 2, &c, 2);
}

void dp_icmp6_echo_reply(struct rte_mbuf *m, const struct dp_pkt_info *pi,
			 const struct rte_ether_addr *mac)
{
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	uint8_t *ip = frame + pi->l3_off;
	uint8_t *icmp = frame + pi->l4_off;
	uint32_t l4_len = (uint32_t)pi->l3_len - 40;
	uint16_t c;

	trim_to(m, (uint32_t)pi->l3_off + pi->l3_len);
	swap_l2((struct rte_ether_hdr *)frame, mac);
	memcpy(ip + 8, pi->dst.v6, 16);
	memcpy(ip + 24, pi->src.v6, 16);
	ip[7] = 64;
	icmp[0] = 129; /* echo reply, RFC 4443 4.2 */
	icmp[2] = icmp[3] = 0;
	c = dp_csum_l4(&pi->dst, &pi->src, 58, icmp, l4_len);
	memcpy(icmp + 2, &c, 2);
}
