/* SPDX-License-Identifier: BSD-3-Clause */
/* ICMP/ICMPv6 echo replies, built in place in the request's mbuf (worker lcores). */
#ifndef POPRELAY_DP_ICMP_H
#define POPRELAY_DP_ICMP_H

#include <rte_ether.h>
#include <rte_mbuf.h>

#include "dataplane/dp_parse.h"

/* Turn the validated echo request in m into its reply, from our MAC `mac` back to the
 * sender's MAC. pi is the parse result. */
void dp_icmp4_echo_reply(struct rte_mbuf *m, const struct dp_pkt_info *pi,
			 const struct rte_ether_addr *mac);
void dp_icmp6_echo_reply(struct rte_mbuf *m, const struct dp_pkt_info *pi,
			 const struct rte_ether_addr *mac);

#endif
