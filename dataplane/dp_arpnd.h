/* SPDX-License-Identifier: BSD-3-Clause */
/* ARP (RFC 826) and IPv6 neighbour discovery (RFC 4861): answering for our addresses,
 * learning neighbours, resolving next hops. Control lcore only. */
#ifndef POPRELAY_DP_ARPND_H
#define POPRELAY_DP_ARPND_H

#include <rte_mbuf.h>

#include "dataplane/dp_parse.h"

/* A punted ARP frame / NS or NA; consumes m. */
void dp_arp_input(struct rte_mbuf *m, const struct dp_pkt_info *pi);
void dp_nd_input(struct rte_mbuf *m, const struct dp_pkt_info *pi);
/* Send an ARP request or a neighbour solicitation for addr out of port index `port`. */
int dp_arpnd_probe(uint16_t port, const struct dp_ipaddr *addr);
/* Announce that addr is now at this port's MAC: a gratuitous ARP (RFC 5227 2.3: a request
 * with sender and target both addr, broadcast) or an unsolicited neighbour advertisement
 * (RFC 4861 7.2.6: to all-nodes, Override set), so that hosts and switches on the segment
 * move it to us at once. */
int dp_arpnd_announce(uint16_t port, const struct dp_ipaddr *addr);

#endif
