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
	/* 0 for a datagram from a port. TURN's stream front (dataplane/turn/turn_stream.h): the
	 * client's transport (PR_TP_TCP/PR_TP_TLS) of a message a worker punts for it; the
	 * payload then starts at the mbuf's data, without headers. */
	uint8_t xport;
	struct dp_ipaddr src;
	struct dp_ipaddr dst;
};

/* An IPv4 source no datagram may come from (network order): unspecified, broadcast,
 * loopback, multicast. */
static inline bool dp_ip4_bad_source(uint32_t be)
{
	uint32_t a = ntohl(be);

	return a == 0 || a == 0xffffffffu || (a >> 24) == 127 || (a >> 28) == 0xe;
}

/* An IPv6 source no datagram may come from (16 bytes as they lie in memory): multicast
 * (RFC 4291 2.7), or IPv4-mapped (::ffff:a.b.c.d, 2.5.5.2: it stands for an IPv4 node and
 * never appears on an IPv6 wire; a datagram from one would pass for the IPv4 peer a.b.c.d,
 * since TURN stores IPv4 peers that way). */
static inline bool dp_ip6_bad_source(const uint8_t *a)
{
	uint64_t w0;
	uint32_t w2;

	memcpy(&w0, a, 8);
	memcpy(&w2, a + 8, 4);
	return a[0] == 0xff || (w0 == 0 && w2 == htonl(0xffff));
}

/* Hardware checksum hints (from mbuf ol_flags) the parser may trust. */
#define DP_PARSE_IP_CSUM_GOOD (1u << 0)
#define DP_PARSE_L4_CSUM_GOOD (1u << 1)
/* Leave a non-zero UDP checksum to the consumer: pi->l4_csum_unchecked is set. */
#define DP_PARSE_L4_CSUM_LATER (1u << 2)

/* The short way in (dp_udp.h 7.): whether frame (len bytes) is a plain IPv4 UDP datagram to
 * MAC mac and IPv4 address ip4 (network order): Ethernet II, IHL 5, no fragment, protocol
 * UDP, a right header checksum (or one flags says the NIC checked: DP_PARSE_IP_CSUM_GOOD),
 * a source datagrams may come from, a total length the frame holds and a UDP length inside
 * it. Then *udp_len is the UDP length and *dport the destination port (host order), and
 * dp_parse_frame classifies the frame as DP_CLS_UDP with the same lengths and ports (the
 * unit test and fuzz_l2l3 check it). False says nothing more: the full parse says why. */
static inline bool dp_parse_udp4_plain(const uint8_t *frame, uint32_t len, uint32_t flags,
				       const struct rte_ether_addr *mac, uint32_t ip4,
				       uint16_t *udp_len, uint16_t *dport)
{
	const uint8_t *ip = frame + RTE_ETHER_HDR_LEN;
	uint32_t src, dst;
	uint16_t w, tot, ulen;

	if (len < RTE_ETHER_HDR_LEN + 28 || !rte_is_same_ether_addr((const void *)frame, mac) ||
	    frame[12] != 0x08 || frame[13] != 0x00 || ip[0] != 0x45 || ip[9] != IPPROTO_UDP)
		return false;
	memcpy(&w, ip + 6, 2);
	memcpy(&src, ip + 12, 4);
	memcpy(&dst, ip + 16, 4);
	tot = (uint16_t)(ip[2] << 8 | ip[3]);
	ulen = (uint16_t)(ip[24] << 8 | ip[25]);
	if ((w & htons(0x3fff)) != 0 || dst != ip4 || tot < 28 || tot > len - RTE_ETHER_HDR_LEN ||
	    ulen < 8 || ulen > tot - 20 || dp_ip4_bad_source(src))
		return false;
	if (!(flags & DP_PARSE_IP_CSUM_GOOD) && pr_csum_sum(ip, 20) != 0xffff)
		return false;
	*udp_len = ulen;
	*dport = (uint16_t)(ip[22] << 8 | ip[23]);
	return true;
}

/* The same for a plain IPv6 UDP datagram to ip6 (16 bytes): dst MAC mac, ethertype IPv6,
 * version 6, next header UDP (so no extension header), a payload length the frame holds, a
 * UDP length inside it, a non-zero UDP checksum (RFC 8200 8.1), a source that is neither
 * multicast nor IPv4-mapped. Then dp_parse_frame classifies it as DP_CLS_UDP with the same
 * lengths and ports (the unit test and fuzz_l2l3 check it). */
static inline bool dp_parse_udp6_plain(const uint8_t *frame, uint32_t len,
				       const struct rte_ether_addr *mac, const uint8_t *ip6,
				       uint16_t *udp_len, uint16_t *dport)
{
	const uint8_t *ip = frame + RTE_ETHER_HDR_LEN, *udp = ip + 40;
	uint64_t d0, d1, a0, a1;
	uint16_t plen, ulen;

	if (len < RTE_ETHER_HDR_LEN + 48 || !rte_is_same_ether_addr((const void *)frame, mac) ||
	    frame[12] != 0x86 || frame[13] != 0xdd || (ip[0] >> 4) != 6 || ip[6] != IPPROTO_UDP)
		return false;
	memcpy(&d0, ip + 24, 8);
	memcpy(&d1, ip + 32, 8);
	memcpy(&a0, ip6, 8);
	memcpy(&a1, ip6 + 8, 8);
	plen = (uint16_t)(ip[4] << 8 | ip[5]);
	ulen = (uint16_t)(udp[4] << 8 | udp[5]);
	if (d0 != a0 || d1 != a1 || plen < 8 || plen > len - RTE_ETHER_HDR_LEN - 40 || ulen < 8 ||
	    ulen > plen || (udp[6] | udp[7]) == 0 || dp_ip6_bad_source(ip + 8))
		return false;
	*udp_len = ulen;
	*dport = (uint16_t)(udp[2] << 8 | udp[3]);
	return true;
}

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
/* Inline: the media anchor compares addresses for every packet. */
static inline bool dp_ipaddr_eq(const struct dp_ipaddr *a, const struct dp_ipaddr *b)
{
	if (a->family != b->family)
		return false;
	return a->family == AF_INET ? a->v4 == b->v4 : memcmp(a->v6, b->v6, 16) == 0;
}

#endif
