/* SPDX-License-Identifier: BSD-3-Clause */
/* Internet checksum arithmetic and the IPv4/UDP header every relayed datagram gets.
 * Pure C, header only: the dataplane, the TURN library (which has no DPDK) and their tests
 * share it. */
#ifndef POPRELAY_COMMON_INET_H
#define POPRELAY_COMMON_INET_H

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

/* Building blocks (RFC 1071, and incremental updates, RFC 1624): the ones-complement sum of
 * len bytes added to acc, in native-order 16-bit words (byte-order independent as long as
 * the result is stored back in native order: add network-order words as they lie in
 * memory), and its folding to 16 bits. Inline: the per-packet paths sum a few words. */
static inline uint64_t pr_csum_acc(const void *buf, uint32_t len, uint64_t acc)
{
	const uint8_t *p = (const uint8_t *)buf;
	uint64_t w64;
	uint32_t w32;
	uint16_t w16;

	/* Two 32-bit halves per 8-byte load into a 64-bit accumulator: no carry is lost
	 * below 2^32 words. Four accumulators, so that a datagram's words are not one chain
	 * of dependent adds (a 1,190-byte payload: 74 ns as one chain, 15 as four, which the
	 * compiler also vectorises). */
	uint64_t s1 = 0, s2 = 0, s3 = 0;
	while (len >= 32) {
		uint64_t w0, w1, w2, w3;
		memcpy(&w0, p, 8);
		memcpy(&w1, p + 8, 8);
		memcpy(&w2, p + 16, 8);
		memcpy(&w3, p + 24, 8);
		acc += (w0 & 0xffffffffu) + (w0 >> 32);
		s1 += (w1 & 0xffffffffu) + (w1 >> 32);
		s2 += (w2 & 0xffffffffu) + (w2 >> 32);
		s3 += (w3 & 0xffffffffu) + (w3 >> 32);
		p += 32;
		len -= 32;
	}
	acc += s1 + s2 + s3;
	while (len >= 8) {
		memcpy(&w64, p, 8);
		acc += (w64 & 0xffffffffu) + (w64 >> 32);
		p += 8;
		len -= 8;
	}
	if (len >= 4) {
		memcpy(&w32, p, 4);
		acc += w32;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		memcpy(&w16, p, 2);
		acc += w16;
		p += 2;
		len -= 2;
	}
	if (len) {
		uint8_t last[2] = {p[0], 0};
		memcpy(&w16, last, 2);
		acc += w16;
	}
	return acc;
}

/* The ones' complement sum of acc's four 16-bit words (end-around carry), 0 only when acc is
 * 0. Two rotate-and-add steps: adding a word to itself rotated by half its width leaves the
 * end-around-carry sum of its halves in its upper half (the carry out of the lower half
 * lands there too). Five mask-shift-add steps, a chain of about 10 cycles, ran three times
 * for every relayed datagram and were a quarter of the fast path's samples. */
static inline uint16_t pr_csum_fold(uint64_t acc)
{
	acc += acc >> 32 | acc << 32;
	uint32_t s = (uint32_t)(acc >> 32);
	s += s >> 16 | s << 16;
	return (uint16_t)(s >> 16);
}

static inline uint16_t pr_csum_sum(const void *buf, uint32_t len)
{
	return pr_csum_fold(pr_csum_acc(buf, len, 0));
}

/* Writes a 20-byte IPv4 header (id 0, DF, TTL 64, UDP) and the UDP header after it, for
 * ulen bytes of UDP with checksum ck. Addresses, ports and ck are in network order as they
 * lie in memory; ulen in host order. The header checksum comes from the values, never from
 * reading back what was just stored (a load over several fresh narrow stores stalls store
 * forwarding). */
static inline void pr_put_ip4_udp(uint8_t *ip, uint32_t src, uint16_t sport, uint32_t dst,
				  uint16_t dport, uint16_t ulen, uint16_t ck)
{
	const uint16_t w0 = htons(0x4500), tot = htons((uint16_t)(ulen + 20)), w3 = htons(0x4000),
		       w4 = htons(64 << 8 | 17), zero = 0, len = htons(ulen);
	const uint16_t c =
	    (uint16_t)~pr_csum_fold((uint64_t)w0 + tot + w3 + w4 + (uint64_t)src + dst);
	const uint16_t uh[4] = {sport, dport, len, ck};

	memcpy(ip, &w0, 2);
	memcpy(ip + 2, &tot, 2);
	memcpy(ip + 4, &zero, 2);
	memcpy(ip + 6, &w3, 2);
	memcpy(ip + 8, &w4, 2);
	memcpy(ip + 10, &c, 2);
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	memcpy(ip + 20, uh, 8);
}

#endif
