/* SPDX-License-Identifier: BSD-3-Clause */
/* A diagnostic UDP echo (RFC 862) on [dataplane] udp_echo_port (0 = off), built as a
 * feature on the public extension point (dp_udp.h): it is both a lab tool that proves the
 * UDP dispatch, transmit path and next-hop resolution end to end, and the smallest example
 * of a feature. The reply is built in the request's mbuf. */
#include <string.h>

#include "dataplane/dp_udp.h"

static struct dp_feature echo_feature;

static int echo_init(void)
{
	uint16_t port = (uint16_t)dp_cfg.dp.udp_echo_port;

	return port ? dp_udp_claim(&echo_feature, port, port) : 0;
}

static void echo_udp_input(struct dp_worker *w, struct rte_mbuf *m, struct dp_pkt_info *pi)
{
	uint8_t *ip, *udp;
	uint16_t tmp;

	/* Keep exactly the IP packet: drop Ethernet and any padding. */
	rte_pktmbuf_adj(m, pi->l3_off);
	if (rte_pktmbuf_pkt_len(m) > pi->l3_len)
		rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_pkt_len(m) - pi->l3_len));
	ip = rte_pktmbuf_mtod(m, uint8_t *);
	udp = ip + (pi->l4_off - pi->l3_off);
	if (pi->dst.family == AF_INET) {
		memcpy(ip + 12, &pi->dst.v4, 4);
		memcpy(ip + 16, &pi->src.v4, 4);
		ip[8] = 64;
	} else {
		memcpy(ip + 8, pi->dst.v6, 16);
		memcpy(ip + 24, pi->src.v6, 16);
		ip[7] = 64;
	}
	memcpy(&tmp, udp, 2);
	memcpy(udp, udp + 2, 2);
	memcpy(udp + 2, &tmp, 2);
	dp_udp_finish(m);
	dp_udp_tx(w, m, pi->port);
}

static struct dp_feature echo_feature = {
    .name = "udp_echo",
    .init = echo_init,
    .udp_input = echo_udp_input,
};
DP_FEATURE_REGISTER(echo_feature);
