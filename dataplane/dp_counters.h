/* SPDX-License-Identifier: BSD-3-Clause */
/* Per-lcore counters and named drop reasons.
 *
 * Writer: each lcore writes only its own slot of dp_stats[] (plain increments, no atomics).
 * Readers: the telemetry thread sums the slots on demand (64-bit loads are atomic on the
 * platforms we build for; a sum may be a few packets behind, never torn). */
#ifndef POPRELAY_DP_COUNTERS_H
#define POPRELAY_DP_COUNTERS_H

#include <stdint.h>

#include <rte_common.h>
#include <rte_lcore.h>

/* Every reason the dataplane drops a packet. X(ENUM_SUFFIX, "telemetry_name"). */
#define DP_DROP_REASONS(X)                                                                         \
	X(ETH_SHORT, "eth_short")                                                                  \
	X(ETH_NOT_FOR_US, "eth_not_for_us")                                                        \
	X(ETHERTYPE_UNSUPPORTED, "ethertype_unsupported")                                          \
	X(ARP_MALFORMED, "arp_malformed")                                                          \
	X(ARP_NOT_FOR_US, "arp_not_for_us")                                                        \
	X(ADDR_CONFLICT, "addr_conflict")                                                          \
	X(IP4_SHORT, "ipv4_short")                                                                 \
	X(IP4_BAD_VERSION, "ipv4_bad_version")                                                     \
	X(IP4_BAD_IHL, "ipv4_bad_ihl")                                                             \
	X(IP4_BAD_LENGTH, "ipv4_bad_length")                                                       \
	X(IP4_BAD_CSUM, "ipv4_bad_checksum")                                                       \
	X(IP4_BAD_SOURCE, "ipv4_bad_source")                                                       \
	X(IP4_FRAGMENT, "ipv4_fragment")                                                           \
	X(IP4_NOT_FOR_US, "ipv4_not_for_us")                                                       \
	X(IP6_SHORT, "ipv6_short")                                                                 \
	X(IP6_BAD_VERSION, "ipv6_bad_version")                                                     \
	X(IP6_BAD_LENGTH, "ipv6_bad_length")                                                       \
	X(IP6_BAD_SOURCE, "ipv6_bad_source")                                                       \
	X(IP6_EXT_HEADER, "ipv6_ext_header")                                                       \
	X(IP6_NOT_FOR_US, "ipv6_not_for_us")                                                       \
	X(IP_PROTO_UNSUPPORTED, "ip_proto_unsupported")                                            \
	X(ICMP_SHORT, "icmp_short")                                                                \
	X(ICMP_BAD_CSUM, "icmp_bad_checksum")                                                      \
	X(ICMP_TYPE_UNSUPPORTED, "icmp_type_unsupported")                                          \
	X(ICMP6_SHORT, "icmp6_short")                                                              \
	X(ICMP6_BAD_CSUM, "icmp6_bad_checksum")                                                    \
	X(ICMP6_TYPE_UNSUPPORTED, "icmp6_type_unsupported")                                        \
	X(ND_MALFORMED, "nd_malformed")                                                            \
	X(ND_NOT_FOR_US, "nd_not_for_us")                                                          \
	X(UDP_SHORT, "udp_short")                                                                  \
	X(UDP_BAD_LENGTH, "udp_bad_length")                                                        \
	X(UDP_BAD_CSUM, "udp_bad_checksum")                                                        \
	X(UDP_NO_LISTENER, "udp_no_listener")                                                      \
	X(PUNT_RING_FULL, "punt_ring_full")                                                        \
	X(NEIGH_UNRESOLVED, "neigh_unresolved")                                                    \
	X(NO_ROUTE, "no_route")                                                                    \
	X(TX_INVALID, "tx_invalid")                                                                \
	X(TX_FULL, "tx_full")                                                                      \
	X(NO_MBUF, "no_mbuf")                                                                      \
	X(FEATURE_UNKNOWN, "feature_unknown")                                                      \
	X(UDP_HAIRPIN_REFUSED, "udp_hairpin_refused")                                              \
	X(HA_FENCED, "ha_fenced")

#define DP_DROP_ENUM(e, n) DP_DROP_##e,
enum dp_drop_reason { DP_DROP_REASONS(DP_DROP_ENUM) DP_DROP_STATIC_MAX };
#undef DP_DROP_ENUM

/* Features may add their own reasons at init (dp_drop_reason_register in dp_udp.h);
 * they get ids from DP_DROP_STATIC_MAX up to DP_DROP_MAX - 1. */
#define DP_DROP_MAX 128

/* Everything that is not a drop. X(field, "telemetry_name"). */
#define DP_EVENT_COUNTERS(X)                                                                       \
	X(rx_packets, "rx_packets")                                                                \
	X(rx_bytes, "rx_bytes")                                                                    \
	X(tx_packets, "tx_packets")                                                                \
	X(tx_bytes, "tx_bytes")                                                                    \
	X(arp_requests_in, "arp_requests_in")                                                      \
	X(arp_replies_in, "arp_replies_in")                                                        \
	X(arp_replies_out, "arp_replies_out")                                                      \
	X(arp_requests_out, "arp_requests_out")                                                    \
	X(nd_solicits_in, "nd_solicits_in")                                                        \
	X(nd_adverts_in, "nd_adverts_in")                                                          \
	X(nd_adverts_out, "nd_adverts_out")                                                        \
	X(nd_solicits_out, "nd_solicits_out")                                                      \
	X(icmp_echo_in, "icmp_echo_in")                                                            \
	X(icmp_echo_out, "icmp_echo_out")                                                          \
	X(icmp6_echo_in, "icmp6_echo_in")                                                          \
	X(icmp6_echo_out, "icmp6_echo_out")                                                        \
	X(udp_in, "udp_in")                                                                        \
	X(punted, "punted")                                                                        \
	X(neigh_resolve_punts, "neigh_resolve_punts")                                              \
	X(neigh_resolve_ahead, "neigh_resolve_ahead")                                              \
	X(hairpin, "hairpin")                                                                      \
	X(ha_forwarded, "ha_forwarded")                                                            \
	X(loops, "loops")                                                                          \
	X(busy_loops, "busy_loops")                                                                \
	X(busy_us, "busy_us")

struct dp_lcore_stats {
#define DP_EVENT_FIELD(f, n) uint64_t f;
	DP_EVENT_COUNTERS(DP_EVENT_FIELD)
#undef DP_EVENT_FIELD
	uint64_t drops[DP_DROP_MAX];
} __rte_cache_aligned;

/* Indexed by lcore id. */
extern struct dp_lcore_stats dp_stats[RTE_MAX_LCORE];

/* Name of a drop reason (static or registered), NULL if the id is unused. */
const char *dp_drop_name(unsigned int reason);
/* Number of drop reason ids in use (static + registered). */
unsigned int dp_drop_count(void);
/* Register a feature's drop reason at init (control lcore, before workers start).
 * Returns the id (>= DP_DROP_STATIC_MAX) or -ENOSPC / -EINVAL. */
int dp_drop_reason_register(const char *name);

/* Sum of every lcore's counters into *out. */
void dp_stats_sum(struct dp_lcore_stats *out);

/* Names and offsets of the event counters, for telemetry and tests. */
struct dp_event_desc {
	const char *name;
	size_t offset;
};
extern const struct dp_event_desc dp_event_descs[];
extern const unsigned int dp_event_count;

#endif
