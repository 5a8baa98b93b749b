/* SPDX-License-Identifier: BSD-3-Clause */
/* L2/L3/L4 parsing and validation of one received frame.
 *
 * Pure functions over (pointer, length): no EAL, no mbuf, no global state, so the same code
 * runs in workers, unit tests and the libFuzzer target (tests/fuzz/fuzz_l2l3.c). */
#ifndef POPRELAY_DP_PARSE_H
#define POPRELAY_DP_PARSE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <rte_ether.h>

#include "common/inet.h"

/* An IPv4 or IPv6 address. v4 is in network byte order. */
struct dp_ipaddr {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t pad[3];
	union {
		uint32_t v4;
		uint8_t v6[16];
	};
};

/* What dp_parse_frame found. */
enum dp_pkt_class {
	DP_CLS_DROP = 0, /* pi->drop holds the reason */
	DP_CLS_ARP,	 /* well-formed Ethernet/IPv4 ARP request or reply */
	DP_CLS_ICMP4,	 /* ICMP (checksum verified), pi->icmp_type/code set */
	DP_CLS_ICMP6,	 /* ICMPv6 (checksum verified), pi->icmp_type/code set */
	DP_CLS_UDP,	 /* UDP (lengths and checksum verified), ports set */
};

/* Offsets are from the start of the Ethernet header. Ports are in host byte order. */
struct dp_pkt_info {
	uint16_t l3_off;      /* IP (or ARP) header */
	uint16_t l4_off;      /* UDP/ICMP header */
	uint16_t payload_off; /* first byte after the UDP/ICMP header */
	uint16_t payload_len; /* bytes of L4 payload (UDP: from the UDP length field) */
	uint16_t l3_len;      /* IP total length (IPv6: 40 + payload length) */
	uint16_t ethertype;   /* host order */
	uint16_t sport;
	uint16_t dport;
	uint16_t port; /* index into dp_rt.ports[] the frame came in on (set by the worker) */
	uint8_t proto; /* IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6 */
	uint8_t icmp_type;
	uint8_t icmp_code;
	uint8_t ttl;	  /* IPv4 TTL or IPv6 hop limit */
	uint8_t drop;	  /* enum dp_drop_reason when DP_CLS_DROP */
	uint8_t l2_mcast; /* destination MAC is multicast or broadcast */
	/* UDP checksum not verified yet (parsed with DP_PARSE_L4_CSUM_LATER): whoever consumes
	 * the payload verifies it first, or relays with an incremental update (dp_udp.h). */
	uint8_t l4_csum_unchecked;
	struct dp_ipaddr src;
	struct dp_ipaddr dst;
};

/* Hardware checksum hints (from mbuf ol_flags) the parser may trust. */
#define DP_PARSE_IP_CSUM_GOOD (1u << 0)
#define DP_PARSE_L4_CSUM_GOOD (1u << 1)
/* Leave a non-zero UDP checksum to the consumer: pi->l4_csum_unchecked is set. */
#define DP_PARSE_L4_CSUM_LATER (1u << 2)

/* Parse and validate a frame: Ethernet II (no VLAN), then ARP, IPv4 (header checksum, IHL,
 * total length, no fragments, source not multicast/broadcast/loopback) or IPv6 (payload
 * length, no extension headers), then ICMP/ICMPv6/UDP with their lengths and checksums.
 * Does not decide whether the packet is for us (see dp_addr.h). */
enum dp_pkt_class dp_parse_frame(const uint8_t *frame, uint32_t len, uint32_t flags,
				 struct dp_pkt_info *pi);

/* Internet checksum helpers (RFC 1071) over byte buffers; results in network order. */
uint16_t dp_csum_ipv4_hdr(const uint8_t *ip, unsigned int ihl_bytes);
/* Checksum of an L4 segment (ICMPv6/UDP) with the IPv4/IPv6 pseudo header.
 * The checksum field must be zero when computing, or left as is when verifying
 * (then a correct segment gives 0 or 0xffff in ones-complement terms: use dp_csum_l4_ok). */
uint16_t dp_csum_l4(const struct dp_ipaddr *src, const struct dp_ipaddr *dst, uint8_t proto,
		    const uint8_t *l4, uint32_t l4_len);
bool dp_csum_l4_ok(const struct dp_ipaddr *src, const struct dp_ipaddr *dst, uint8_t proto,
		   const uint8_t *l4, uint32_t l4_len);
/* Plain ones-complement checksum (ICMPv4), network order. */
uint16_t dp_csum_raw(const uint8_t *buf, uint32_t len);
/* Building blocks (ones-complement sums, RFC 1071 / RFC 1624): pr_csum_acc, pr_csum_fold and
 * pr_csum_sum in common/inet.h. */

/* Format an address for logs and telemetry ("198.51.100.1", "2001:db8::1"). */
const char *dp_ipaddr_str(const struct dp_ipaddr *a, char *buf, unsigned int size);
bool dp_ipaddr_eq(const struct dp_ipaddr *a, const struct dp_ipaddr *b);

#endif
