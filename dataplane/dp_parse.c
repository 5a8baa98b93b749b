/* SPDX-License-Identifier: BSD-3-Clause */
/* Frame parsing and validation. No EAL here: this file also builds into the fuzzer. */
#include "dataplane/dp_parse.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "dataplane/dp_counters.h"

#define ETH_HLEN     14
#define IP4_MIN_HLEN 20
#define IP6_HLEN     40

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

uint16_t dp_csum_raw(const uint8_t *buf, uint32_t len)
{
	return (uint16_t)~pr_csum_fold(pr_csum_acc(buf, len, 0));
}

uint16_t dp_csum_ipv4_hdr(const uint8_t *ip, unsigned int ihl_bytes)
{
	return dp_csum_raw(ip, ihl_bytes);
}

static uint64_t pseudo_sum(const struct dp_ipaddr *src, const struct dp_ipaddr *dst, uint8_t proto,
			   uint32_t l4_len)
{
	uint64_t acc;

	if (src->family == AF_INET) {
		uint8_t tail[4] = {0, proto, (uint8_t)(l4_len >> 8), (uint8_t)l4_len};
		acc = pr_csum_acc((const uint8_t *)&src->v4, 4, 0);
		acc = pr_csum_acc((const uint8_t *)&dst->v4, 4, acc);
		return pr_csum_acc(tail, 4, acc);
	}
	uint8_t tail[8] = {(uint8_t)(l4_len >> 24),
			   (uint8_t)(l4_len >> 16),
			   (uint8_t)(l4_len >> 8),
			   (uint8_t)l4_len,
			   0,
			   0,
			   0,
			   proto};
	acc = pr_csum_acc(src->v6, 16, 0);
	acc = pr_csum_acc(dst->v6, 16, acc);
	return pr_csum_acc(tail, 8, acc);
}

uint16_t dp_csum_l4(const struct dp_ipaddr *src, const struct dp_ipaddr *dst, uint8_t proto,
		    const uint8_t *l4, uint32_t l4_len)
{
	return (uint16_t)~pr_csum_fold(
	    pr_csum_acc(l4, l4_len, pseudo_sum(src, dst, proto, l4_len)));
}

bool dp_csum_l4_ok(const struct dp_ipaddr *src, const struct dp_ipaddr *dst, uint8_t proto,
		   const uint8_t *l4, uint32_t l4_len)
{
	return pr_csum_fold(pr_csum_acc(l4, l4_len, pseudo_sum(src, dst, proto, l4_len))) == 0xffff;
}

static enum dp_pkt_class drop(struct dp_pkt_info *pi, enum dp_drop_reason r)
{
	pi->drop = (uint8_t)r;
	return DP_CLS_DROP;
}

static enum dp_pkt_class parse_arp(const uint8_t *a, uint32_t avail, struct dp_pkt_info *pi)
{
	/* RFC 826 for Ethernet/IPv4 only: htype 1, ptype 0x0800, hlen 6, plen 4. */
	if (avail < 28)
		return drop(pi, DP_DROP_ARP_MALFORMED);
	if (rd16(a) != 1 || rd16(a + 2) != 0x0800 || a[4] != 6 || a[5] != 4)
		return drop(pi, DP_DROP_ARP_MALFORMED);
	if (rd16(a + 6) != 1 && rd16(a + 6) != 2)
		return drop(pi, DP_DROP_ARP_MALFORMED);
	pi->icmp_type = (uint8_t)rd16(a + 6); /* ARP opcode */
	pi->src.family = AF_INET;
	memcpy(&pi->src.v4, a + 14, 4);
	pi->dst.family = AF_INET;
	memcpy(&pi->dst.v4, a + 24, 4);
	pi->l3_len = 28;
	return DP_CLS_ARP;
}

/* L4 after the IP header: ICMP(v6) or UDP. l4_len is what the IP header says. */
static enum dp_pkt_class parse_l4(const uint8_t *frame, uint32_t l4_len, uint32_t flags,
				  struct dp_pkt_info *pi)
{
	const uint8_t *l4 = frame + pi->l4_off;
	bool v6 = pi->src.family == AF_INET6;

	switch (pi->proto) {
	case IPPROTO_ICMP:
		if (v6)
			return drop(pi, DP_DROP_IP_PROTO_UNSUPPORTED);
		if (l4_len < 8)
			return drop(pi, DP_DROP_ICMP_SHORT);
		if (pr_csum_fold(pr_csum_acc(l4, l4_len, 0)) != 0xffff)
			return drop(pi, DP_DROP_ICMP_BAD_CSUM);
		pi->icmp_type = l4[0];
		pi->icmp_code = l4[1];
		pi->payload_off = (uint16_t)(pi->l4_off + 8);
		pi->payload_len = (uint16_t)(l4_len - 8);
		return DP_CLS_ICMP4;
	case IPPROTO_ICMPV6:
		if (!v6)
			return drop(pi, DP_DROP_IP_PROTO_UNSUPPORTED);
		if (l4_len < 8)
			return drop(pi, DP_DROP_ICMP6_SHORT);
		if (!dp_csum_l4_ok(&pi->src, &pi->dst, IPPROTO_ICMPV6, l4, l4_len))
			return drop(pi, DP_DROP_ICMP6_BAD_CSUM);
		pi->icmp_type = l4[0];
		pi->icmp_code = l4[1];
		pi->payload_off = (uint16_t)(pi->l4_off + 8);
		pi->payload_len = (uint16_t)(l4_len - 8);
		return DP_CLS_ICMP6;
	case IPPROTO_UDP: {
		uint16_t ulen;

		if (l4_len < 8)
			return drop(pi, DP_DROP_UDP_SHORT);
		ulen = rd16(l4 + 4);
		/* RFC 768: length covers header and data; it may be shorter than what IP
		 * carries (we then ignore the rest), never longer. */
		if (ulen < 8 || ulen > l4_len)
			return drop(pi, DP_DROP_UDP_BAD_LENGTH);
		if (!(flags & DP_PARSE_L4_CSUM_GOOD)) {
			uint16_t c = (uint16_t)(l4[6] << 8 | l4[7]);
			/* A zero checksum means "none" on IPv4 only (RFC 8200 8.1). */
			if (c == 0 ? v6
				   : !(flags & DP_PARSE_L4_CSUM_LATER) &&
					 !dp_csum_l4_ok(&pi->src, &pi->dst, IPPROTO_UDP, l4, ulen))
				return drop(pi, DP_DROP_UDP_BAD_CSUM);
			pi->l4_csum_unchecked = c != 0 && (flags & DP_PARSE_L4_CSUM_LATER);
		}
		pi->sport = rd16(l4);
		pi->dport = rd16(l4 + 2);
		pi->payload_off = (uint16_t)(pi->l4_off + 8);
		pi->payload_len = (uint16_t)(ulen - 8);
		return DP_CLS_UDP;
	}
	default:
		return drop(pi, DP_DROP_IP_PROTO_UNSUPPORTED);
	}
}

static enum dp_pkt_class parse_ipv4(const uint8_t *frame, uint32_t len, uint32_t flags,
				    struct dp_pkt_info *pi)
{
	const uint8_t *ip = frame + ETH_HLEN;
	uint32_t avail = len - ETH_HLEN;
	unsigned int ihl;
	uint16_t tot, frag;

	if (avail < IP4_MIN_HLEN)
		return drop(pi, DP_DROP_IP4_SHORT);
	if ((ip[0] >> 4) != 4)
		return drop(pi, DP_DROP_IP4_BAD_VERSION);
	ihl = (ip[0] & 0xfu) * 4u;
	if (ihl < IP4_MIN_HLEN || ihl > avail)
		return drop(pi, DP_DROP_IP4_BAD_IHL);
	tot = rd16(ip + 2);
	/* The frame may carry Ethernet padding past tot, never less than tot. */
	if (tot < ihl || tot > avail)
		return drop(pi, DP_DROP_IP4_BAD_LENGTH);
	if (!(flags & DP_PARSE_IP_CSUM_GOOD) && pr_csum_fold(pr_csum_acc(ip, ihl, 0)) != 0xffff)
		return drop(pi, DP_DROP_IP4_BAD_CSUM);
	pi->src.family = AF_INET;
	pi->dst.family = AF_INET;
	memcpy(&pi->src.v4, ip + 12, 4);
	memcpy(&pi->dst.v4, ip + 16, 4);
	if (dp_ip4_bad_source(pi->src.v4))
		return drop(pi, DP_DROP_IP4_BAD_SOURCE);
	frag = rd16(ip + 6);
	if (frag & 0x3fff) /* MF or a fragment offset */
		return drop(pi, DP_DROP_IP4_FRAGMENT);
	pi->ttl = ip[8];
	pi->proto = ip[9];
	pi->l3_len = tot;
	pi->l4_off = (uint16_t)(ETH_HLEN + ihl);
	return parse_l4(frame, tot - ihl, flags, pi);
}

static enum dp_pkt_class parse_ipv6(const uint8_t *frame, uint32_t len, uint32_t flags,
				    struct dp_pkt_info *pi)
{
	const uint8_t *ip = frame + ETH_HLEN;
	uint32_t avail = len - ETH_HLEN;
	uint16_t plen;

	if (avail < IP6_HLEN)
		return drop(pi, DP_DROP_IP6_SHORT);
	if ((ip[0] >> 4) != 6)
		return drop(pi, DP_DROP_IP6_BAD_VERSION);
	plen = rd16(ip + 4);
	if ((uint32_t)plen + IP6_HLEN > avail)
		return drop(pi, DP_DROP_IP6_BAD_LENGTH);
	pi->src.family = AF_INET6;
	pi->dst.family = AF_INET6;
	memcpy(pi->src.v6, ip + 8, 16);
	memcpy(pi->dst.v6, ip + 24, 16);
	if (dp_ip6_bad_source(pi->src.v6))
		return drop(pi, DP_DROP_IP6_BAD_SOURCE);
	pi->proto = ip[6];
	pi->ttl = ip[7];
	pi->l3_len = (uint16_t)(plen + IP6_HLEN);
	pi->l4_off = ETH_HLEN + IP6_HLEN;
	switch (pi->proto) {
	case IPPROTO_ICMPV6:
	case IPPROTO_UDP:
		return parse_l4(frame, plen, flags, pi);
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_FRAGMENT:
	case IPPROTO_DSTOPTS:
	case IPPROTO_AH:
	case IPPROTO_ESP:
	case 135: /* mobility */
	case 139: /* HIP */
	case 140: /* shim6 */
		return drop(pi, DP_DROP_IP6_EXT_HEADER);
	default:
		return drop(pi, DP_DROP_IP_PROTO_UNSUPPORTED);
	}
}

enum dp_pkt_class dp_parse_frame(const uint8_t *frame, uint32_t len, uint32_t flags,
				 struct dp_pkt_info *pi)
{
	uint16_t port = pi->port;

	memset(pi, 0, sizeof(*pi));
	pi->port = port;
	if (len < ETH_HLEN)
		return drop(pi, DP_DROP_ETH_SHORT);
	pi->l2_mcast = frame[0] & 1;
	pi->ethertype = rd16(frame + 12);
	pi->l3_off = ETH_HLEN;
	switch (pi->ethertype) {
	case 0x0806:
		return parse_arp(frame + ETH_HLEN, len - ETH_HLEN, pi);
	case 0x0800:
		return parse_ipv4(frame, len, flags, pi);
	case 0x86dd:
		return parse_ipv6(frame, len, flags, pi);
	default:
		return drop(pi, DP_DROP_ETHERTYPE_UNSUPPORTED);
	}
}

const char *dp_ipaddr_str(const struct dp_ipaddr *a, char *buf, unsigned int size)
{
	if (a->family == AF_INET)
		return inet_ntop(AF_INET, &a->v4, buf, size) ? buf : "?";
	if (a->family == AF_INET6)
		return inet_ntop(AF_INET6, a->v6, buf, size) ? buf : "?";
	snprintf(buf, size, "none");
	return buf;
}
