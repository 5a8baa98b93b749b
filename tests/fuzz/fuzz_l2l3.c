/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target for the dataplane's frame parser (dataplane/dp_parse.c): any byte
 * string must classify without reading outside [data, data+size), and a frame that
 * parses must have offsets inside it, and a frame the short way in (IPv4 or IPv6) takes must
 * parse as the same UDP datagram. The first input byte picks the checksum hints. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/dp_counters.h"
#include "dataplane/dp_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dp_pkt_info pi;
	enum dp_pkt_class c;
	uint32_t flags;
	uint8_t *copy;

	if (size < 1 || size > 65535)
		return 0;
	flags = data[0] & (DP_PARSE_IP_CSUM_GOOD | DP_PARSE_L4_CSUM_GOOD | DP_PARSE_L4_CSUM_LATER);
	data++;
	size--;
	/* An exact-size heap copy so ASan sees any overread. */
	copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	memset(&pi, 0, sizeof(pi));
	c = dp_parse_frame(copy, (uint32_t)size, flags, &pi);
	if (c == DP_CLS_DROP) {
		if (pi.drop >= DP_DROP_STATIC_MAX)
			abort();
	} else if (c == DP_CLS_UDP && pi.l4_csum_unchecked && !(flags & DP_PARSE_L4_CSUM_LATER)) {
		abort(); /* only a parse told to leave the checksum may leave it */
	} else if (c == DP_CLS_ICMP4 || c == DP_CLS_ICMP6 || c == DP_CLS_UDP) {
		if (pi.l4_off > size || (size_t)pi.payload_off + pi.payload_len > size ||
		    (size_t)pi.l3_off + pi.l3_len > size)
			abort();
	} else if (c == DP_CLS_ARP) {
		if ((size_t)pi.l3_off + 28 > size)
			abort();
	} else {
		abort();
	}
	/* The short way in (dp_parse_udp4_plain), told the frame's own MAC and destination
	 * address: whatever it accepts, the full parse must take as the same UDP datagram. */
	if (size >= 34) {
		uint16_t ulen, dport;
		uint32_t dst;
		memcpy(&dst, copy + 30, 4);
		if (dp_parse_udp4_plain(copy, (uint32_t)size, flags,
					(const struct rte_ether_addr *)copy, dst, &ulen, &dport)) {
			memset(&pi, 0, sizeof(pi));
			if (dp_parse_frame(copy, (uint32_t)size, flags | DP_PARSE_L4_CSUM_LATER,
					   &pi) != DP_CLS_UDP ||
			    pi.payload_len + 8u != ulen || pi.dport != dport || pi.l4_off != 34)
				abort();
		}
	}
	/* Its IPv6 twin (dp_parse_udp6_plain), told the frame's own MAC and destination
	 * address likewise: the same contract, and the full parse's addresses must be the
	 * frame's (no extension header in between). */
	if (size >= 54) {
		uint16_t ulen, dport;
		uint8_t dst[16];
		memcpy(dst, copy + 38, 16);
		if (dp_parse_udp6_plain(copy, (uint32_t)size, (const struct rte_ether_addr *)copy,
					dst, &ulen, &dport)) {
			memset(&pi, 0, sizeof(pi));
			if (dp_parse_frame(copy, (uint32_t)size, flags | DP_PARSE_L4_CSUM_LATER,
					   &pi) != DP_CLS_UDP ||
			    pi.payload_len + 8u != ulen || pi.dport != dport || pi.l4_off != 54 ||
			    pi.src.family != AF_INET6 || memcmp(pi.dst.v6, dst, 16) != 0)
				abort();
		}
	}
	free(copy);
	return 0;
}
