/* SPDX-License-Identifier: BSD-3-Clause */
/* Reference Internet checksums for tests and fuzz targets: byte by byte, big-endian words,
 * written apart from common/inet.h so that they check it rather than repeat it. */
#ifndef POPRELAY_TESTS_INET_REF_H
#define POPRELAY_TESTS_INET_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline uint16_t ref_fold(uint64_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

/* Ones-complement sum of len bytes as big-endian words, added to acc. */
static inline uint64_t ref_sum(const uint8_t *p, size_t len, uint64_t acc)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		acc += (uint64_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		acc += (uint64_t)p[len - 1] << 8;
	return acc;
}

/* The UDP checksum the IPv4 datagram at ip (IHL 5) should carry, its checksum field taken
 * as zero (pseudo header and segment; a computed zero is all ones). */
static inline uint16_t ref_udp4_csum(const uint8_t *ip)
{
	size_t ulen = (size_t)(ip[24] << 8 | ip[25]);
	uint64_t acc = ref_sum(ip + 12, 8, 17 + ulen);
	acc = ref_sum(ip + 20, 6, acc);
	acc = ref_sum(ip + 28, ulen - 8, acc);
	uint16_t c = (uint16_t)~ref_fold(acc);
	return c ? c : 0xffff;
}

static inline bool ref_udp4_ok(const uint8_t *ip)
{
	return (uint16_t)(ip[26] << 8 | ip[27]) == ref_udp4_csum(ip);
}

/* The unfolded sum the UDP checksum of the IPv6 datagram at ip (40-byte header, UDP next)
 * covers, its checksum field taken as zero: the pseudo header (source, destination, 32-bit
 * upper-layer length, next header 17) and the UDP header and data. */
static inline uint64_t ref_udp6_acc(const uint8_t *ip)
{
	size_t ulen = (size_t)(ip[44] << 8 | ip[45]);
	uint64_t acc = ref_sum(ip + 8, 32, (ulen >> 16) + (ulen & 0xffff) + 17);
	acc = ref_sum(ip + 40, 6, acc);
	return ref_sum(ip + 48, ulen - 8, acc);
}

/* The UDP checksum the IPv6 datagram at ip should carry (a computed zero is all ones). */
static inline uint16_t ref_udp6_csum(const uint8_t *ip)
{
	uint16_t c = (uint16_t)~ref_fold(ref_udp6_acc(ip));
	return c ? c : 0xffff;
}

static inline bool ref_udp6_ok(const uint8_t *ip)
{
	return (uint16_t)(ip[46] << 8 | ip[47]) == ref_udp6_csum(ip);
}

#endif
