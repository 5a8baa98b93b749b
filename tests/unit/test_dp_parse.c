/* SPDX-License-Identifier: BSD-3-Clause */
/* dp_parse_frame and the checksum helpers: every class, and every malformed input drops
 * with its own reason. No EAL. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "dataplane/dp_counters.h"
#include "dataplane/dp_parse.h"

static uint8_t f[2048];
static struct dp_pkt_info pi;

static const uint8_t dmac[6] = {0x02, 0, 0, 0, 0, 1}, smac[6] = {0x02, 0, 0, 0, 0, 2};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static unsigned int eth(uint16_t type)
{
	memset(f, 0, sizeof(f));
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	put16(f + 12, type);
	return 14;
}

/* IPv4 198.51.100.20 -> 198.51.100.10 carrying l4_len bytes of proto; header checksum set. */
static unsigned int ipv4(uint8_t proto, unsigned int l4_len)
{
	uint8_t *ip = f + 14;
	uint16_t c;

	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + l4_len));
	ip[6] = 0x40;
	ip[8] = 64;
	ip[9] = proto;
	inet_pton(AF_INET, "198.51.100.20", ip + 12);
	inet_pton(AF_INET, "198.51.100.10", ip + 16);
	c = dp_csum_ipv4_hdr(ip, 20);
	memcpy(ip + 10, &c, 2);
	return 34;
}

static void ipv4_recsum(void)
{
	uint8_t *ip = f + 14;
	uint16_t c;

	ip[10] = ip[11] = 0;
	c = dp_csum_ipv4_hdr(ip, (ip[0] & 0xfu) * 4u);
	memcpy(ip + 10, &c, 2);
}

static unsigned int icmp4_echo(unsigned int payload)
{
	unsigned int off = eth(0x0800) + 0;
	uint8_t *icmp;
	uint16_t c;

	off = ipv4(1, 8 + payload);
	icmp = f + off;
	icmp[0] = 8;
	put16(icmp + 4, 0x1234);
	put16(icmp + 6, 1);
	memset(icmp + 8, 0xab, payload);
	c = dp_csum_raw(icmp, 8 + payload);
	memcpy(icmp + 2, &c, 2);
	return off + 8 + payload;
}

static void addrs(struct dp_ipaddr *s, struct dp_ipaddr *d, int fam, const char *src,
		  const char *dst)
{
	memset(s, 0, sizeof(*s));
	memset(d, 0, sizeof(*d));
	s->family = d->family = (uint8_t)fam;
	inet_pton(fam, src, fam == AF_INET ? (void *)&s->v4 : s->v6);
	inet_pton(fam, dst, fam == AF_INET ? (void *)&d->v4 : d->v6);
}

static unsigned int udp4(uint16_t dport, unsigned int payload, bool csum)
{
	unsigned int off;
	uint8_t *u;
	struct dp_ipaddr s, d;

	eth(0x0800);
	off = ipv4(17, 8 + payload);
	u = f + off;
	put16(u, 40000);
	put16(u + 2, dport);
	put16(u + 4, (uint16_t)(8 + payload));
	memset(u + 8, 0x5a, payload);
	if (csum) {
		addrs(&s, &d, AF_INET, "198.51.100.20", "198.51.100.10");
		uint16_t c = dp_csum_l4(&s, &d, 17, u, 8 + payload);
		memcpy(u + 6, &c, 2);
	}
	return off + 8 + payload;
}

static unsigned int ipv6(uint8_t nh, unsigned int plen, const char *src, const char *dst)
{
	uint8_t *ip = f + 14;

	ip[0] = 0x60;
	put16(ip + 4, (uint16_t)plen);
	ip[6] = nh;
	ip[7] = 255;
	inet_pton(AF_INET6, src, ip + 8);
	inet_pton(AF_INET6, dst, ip + 24);
	return 54;
}

static unsigned int icmp6(uint8_t type, unsigned int body, const char *src, const char *dst)
{
	unsigned int off;
	uint8_t *m;
	struct dp_ipaddr s, d;
	uint16_t c;

	eth(0x86dd);
	off = ipv6(58, 8 + body, src, dst);
	m = f + off;
	m[0] = type;
	memset(m + 8, 0x11, body);
	addrs(&s, &d, AF_INET6, src, dst);
	c = dp_csum_l4(&s, &d, 58, m, 8 + body);
	memcpy(m + 2, &c, 2);
	return off + 8 + body;
}

static enum dp_pkt_class parse(unsigned int len)
{
	memset(&pi, 0xee, sizeof(pi));
	pi.port = 3;
	return dp_parse_frame(f, len, 0, &pi);
}

#define ASSERT_DROP(len, reason)                                                                   \
	do {                                                                                       \
		CU_ASSERT_EQUAL(parse(len), DP_CLS_DROP);                                          \
		CU_ASSERT_EQUAL(pi.drop, reason);                                                  \
	} while (0)

static void test_rfc1071_vector(void)
{
	/* RFC 1071 section 3: 0001 f203 f4f5 f6f7 sums to ddf2; the checksum is its
	 * complement 220d. */
	const uint8_t b[8] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	uint16_t c = dp_csum_raw(b, 8);
	const uint8_t *cb = (const uint8_t *)&c;

	CU_ASSERT_EQUAL(cb[0], 0x22);
	CU_ASSERT_EQUAL(cb[1], 0x0d);
	/* Odd length: a trailing byte is padded with zero. */
	const uint8_t o[3] = {0x01, 0x02, 0x03};
	c = dp_csum_raw(o, 3);
	CU_ASSERT_EQUAL(((uint8_t *)&c)[0], (uint8_t)~0x04);
	CU_ASSERT_EQUAL(((uint8_t *)&c)[1], (uint8_t)~0x02);
}

/* pr_csum_fold (two rotate-and-add steps) against the textbook fold (add the halves until
 * nothing carries): the same 16 bits at edges where carries chain and for random 64-bit
 * sums of every width. (Every 32-bit value and 200 million random ones were checked once,
 * when the fold changed.) */
static uint16_t fold_ref(uint64_t a)
{
	while (a >> 16)
		a = (a & 0xffff) + (a >> 16);
	return (uint16_t)a;
}

static void test_csum_fold(void)
{
	static const uint64_t edge[] = {0,
					1,
					0xffff,
					0x10000,
					0x1fffe,
					0xfffeffffull,
					0xffffffffull,
					0x100000000ull,
					0x0000ffff0000ffffull,
					0xffff0000ffff0000ull,
					0x8000000000000000ull,
					0xfffffffffffeffffull,
					0xffffffffffffffffull};
	uint64_t x = 0x9e3779b97f4a7c15ull;
	unsigned int bad = 0;

	for (unsigned int i = 0; i < sizeof(edge) / sizeof(edge[0]); i++)
		bad += pr_csum_fold(edge[i]) != fold_ref(edge[i]);
	for (unsigned int i = 0; i < 4000000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		const uint64_t v = x >> (i % 64);
		bad += pr_csum_fold(v) != fold_ref(v);
	}
	CU_ASSERT_EQUAL(bad, 0);
}

static void test_icmp4_echo(void)
{
	unsigned int len = icmp4_echo(32);

	CU_ASSERT_EQUAL(parse(len), DP_CLS_ICMP4);
	CU_ASSERT_EQUAL(pi.port, 3);
	CU_ASSERT_EQUAL(pi.icmp_type, 8);
	CU_ASSERT_EQUAL(pi.l3_off, 14);
	CU_ASSERT_EQUAL(pi.l4_off, 34);
	CU_ASSERT_EQUAL(pi.l3_len, 60);
	CU_ASSERT_EQUAL(pi.payload_len, 32);
	CU_ASSERT_EQUAL(pi.ttl, 64);
	CU_ASSERT_EQUAL(pi.src.family, AF_INET);
	CU_ASSERT_EQUAL(ntohl(pi.dst.v4), 0xc633640a);
	CU_ASSERT_EQUAL(pi.l2_mcast, 0);
	/* Ethernet padding after the IP packet is fine. */
	CU_ASSERT_EQUAL(parse(len + 10), DP_CLS_ICMP4);
}

static void test_eth(void)
{
	ASSERT_DROP(13, DP_DROP_ETH_SHORT);
	ASSERT_DROP(0, DP_DROP_ETH_SHORT);
	eth(0x88b5);
	ASSERT_DROP(60, DP_DROP_ETHERTYPE_UNSUPPORTED);
	eth(0x8100); /* VLAN tags are not supported */
	ASSERT_DROP(60, DP_DROP_ETHERTYPE_UNSUPPORTED);
}

static void test_ipv4_malformed(void)
{
	unsigned int len;

	icmp4_echo(8);
	ASSERT_DROP(14 + 19, DP_DROP_IP4_SHORT);
	len = icmp4_echo(8);
	f[14] = 0x55;
	ASSERT_DROP(len, DP_DROP_IP4_BAD_VERSION);
	len = icmp4_echo(8);
	f[14] = 0x44; /* IHL 4 words < 5 */
	ipv4_recsum();
	ASSERT_DROP(len, DP_DROP_IP4_BAD_IHL);
	len = icmp4_echo(8);
	f[14] = 0x4f; /* IHL 60 bytes > what the frame holds */
	ASSERT_DROP(40, DP_DROP_IP4_BAD_IHL);
	len = icmp4_echo(8);
	put16(f + 16, (uint16_t)(len - 14 + 1)); /* total length past the frame */
	ipv4_recsum();
	ASSERT_DROP(len, DP_DROP_IP4_BAD_LENGTH);
	len = icmp4_echo(8);
	put16(f + 16, 19); /* total length shorter than the header */
	ipv4_recsum();
	ASSERT_DROP(len, DP_DROP_IP4_BAD_LENGTH);
	len = icmp4_echo(8);
	f[24] ^= 0x01; /* checksum */
	ASSERT_DROP(len, DP_DROP_IP4_BAD_CSUM);
	/* ... unless the NIC said it was good. */
	memset(&pi, 0, sizeof(pi));
	CU_ASSERT_EQUAL(dp_parse_frame(f, len, DP_PARSE_IP_CSUM_GOOD, &pi), DP_CLS_ICMP4);
	len = icmp4_echo(8);
	f[20] = 0x20; /* MF */
	ipv4_recsum();
	ASSERT_DROP(len, DP_DROP_IP4_FRAGMENT);
	len = icmp4_echo(8);
	f[20] = 0x00, f[21] = 0x10; /* offset */
	ipv4_recsum();
	ASSERT_DROP(len, DP_DROP_IP4_FRAGMENT);
	len = icmp4_echo(8);
	inet_pton(AF_INET, "224.0.0.1", f + 26);
	ipv4_recsum();
	ASSERT_DROP(len, DP_DROP_IP4_BAD_SOURCE);
	len = icmp4_echo(8);
	inet_pton(AF_INET, "127.0.0.1", f + 26);
	ipv4_recsum();
	ASSERT_DROP(len, DP_DROP_IP4_BAD_SOURCE);
	len = icmp4_echo(8);
	f[23] = 6; /* TCP */
	ipv4_recsum();
	ASSERT_DROP(len, DP_DROP_IP_PROTO_UNSUPPORTED);
}

static void test_ipv4_options(void)
{
	/* IHL 6 (one option word): L4 offset follows. */
	unsigned int len;
	uint8_t *icmp;
	uint16_t c;

	eth(0x0800);
	ipv4(1, 16);
	f[14] = 0x46;
	put16(f + 16, 24 + 16);
	ipv4_recsum();
	icmp = f + 38;
	icmp[0] = 8;
	c = dp_csum_raw(icmp, 16);
	memcpy(icmp + 2, &c, 2);
	len = 38 + 16;
	CU_ASSERT_EQUAL(parse(len), DP_CLS_ICMP4);
	CU_ASSERT_EQUAL(pi.l4_off, 38);
}

static void test_icmp4_malformed(void)
{
	unsigned int len = icmp4_echo(8);

	f[34 + 8] ^= 0xff;
	ASSERT_DROP(len, DP_DROP_ICMP_BAD_CSUM);
	eth(0x0800);
	len = ipv4(1, 4); /* 4 bytes of ICMP */
	ASSERT_DROP(len + 4, DP_DROP_ICMP_SHORT);
}

static void test_udp4(void)
{
	unsigned int len = udp4(3478, 20, true);

	CU_ASSERT_EQUAL(parse(len), DP_CLS_UDP);
	CU_ASSERT_EQUAL(pi.sport, 40000);
	CU_ASSERT_EQUAL(pi.dport, 3478);
	CU_ASSERT_EQUAL(pi.payload_off, 42);
	CU_ASSERT_EQUAL(pi.payload_len, 20);
	CU_ASSERT_EQUAL(pi.proto, 17);
	/* Zero checksum: none, allowed on IPv4. */
	len = udp4(3478, 20, false);
	CU_ASSERT_EQUAL(parse(len), DP_CLS_UDP);
	len = udp4(3478, 20, true);
	f[42] ^= 1;
	ASSERT_DROP(len, DP_DROP_UDP_BAD_CSUM);
	memset(&pi, 0, sizeof(pi));
	CU_ASSERT_EQUAL(dp_parse_frame(f, len, DP_PARSE_L4_CSUM_GOOD, &pi), DP_CLS_UDP);
	len = udp4(3478, 20, false);
	put16(f + 38, 29); /* UDP length past the IP payload */
	ASSERT_DROP(len, DP_DROP_UDP_BAD_LENGTH);
	len = udp4(3478, 20, false);
	put16(f + 38, 7);
	ASSERT_DROP(len, DP_DROP_UDP_BAD_LENGTH);
	eth(0x0800);
	len = ipv4(17, 6);
	ASSERT_DROP(len + 6, DP_DROP_UDP_SHORT);
}

/* The short way's check accepts exactly the plain datagrams the full parse takes as UDP. */
static bool plain(unsigned int len, uint32_t flags, uint16_t *ulen, uint16_t *dport)
{
	uint32_t ours;

	inet_pton(AF_INET, "198.51.100.10", &ours);
	return dp_parse_udp4_plain(f, len, flags, (const struct rte_ether_addr *)dmac, ours, ulen,
				   dport);
}

/* Every accepted frame must parse as UDP with the same numbers. */
static void assert_agrees(unsigned int len, uint32_t flags)
{
	uint16_t ulen = 0, dport = 0;

	if (!plain(len, flags, &ulen, &dport))
		return;
	memset(&pi, 0, sizeof(pi));
	CU_ASSERT_EQUAL_FATAL(dp_parse_frame(f, len, flags | DP_PARSE_L4_CSUM_LATER, &pi),
			      DP_CLS_UDP);
	CU_ASSERT_EQUAL(pi.payload_len + 8, ulen);
	CU_ASSERT_EQUAL(pi.dport, dport);
	CU_ASSERT_EQUAL(pi.l4_off, 34);
	CU_ASSERT_EQUAL(pi.src.family, AF_INET);
}

static void test_udp4_plain(void)
{
	uint16_t ulen = 0, dport = 0;
	unsigned int len = udp4(3478, 20, true), i;
	uint8_t *ip = f + 14;

	CU_ASSERT_TRUE(plain(len, 0, &ulen, &dport));
	CU_ASSERT_EQUAL(ulen, 28);
	CU_ASSERT_EQUAL(dport, 3478);
	assert_agrees(len, 0);
	/* Ethernet padding past the IP total length is fine; a zero UDP checksum too. */
	CU_ASSERT_TRUE(plain(len + 10, 0, &ulen, &dport));
	len = udp4(3478, 20, false);
	CU_ASSERT_TRUE(plain(len, 0, &ulen, &dport));
	/* A UDP length shorter than the IP payload is allowed (RFC 768), longer is not. */
	put16(f + 38, 20);
	CU_ASSERT_TRUE(plain(len, 0, &ulen, &dport));
	CU_ASSERT_EQUAL(ulen, 20);
	assert_agrees(len, 0);
	put16(f + 38, 29);
	CU_ASSERT_FALSE(plain(len, 0, &ulen, &dport));
	put16(f + 38, 7);
	CU_ASSERT_FALSE(plain(len, 0, &ulen, &dport));

	/* each of these leaves it to the full parse */
	struct {
		unsigned int off;
		uint8_t val;
		bool recsum;
	} bad[] = {
	    {0, 0x03, false},  /* another MAC */
	    {0, 0xff, false},  /* broadcast */
	    {12, 0x81, false}, /* VLAN */
	    {14, 0x46, true},  /* IP options */
	    {14, 0x65, true},  /* version 6 */
	    {20, 0x20, true},  /* more fragments */
	    {21, 0x01, true},  /* fragment offset */
	    {23, 6, true},     /* TCP */
	    {24, 0x12, false}, /* header checksum */
	    {33, 11, true},    /* another destination address */
	    {26, 127, true},   /* loopback source */
	    {26, 224, true},   /* multicast source */
	    {16, 0x00, true},  /* total length 0x0030 -> past the frame once 0x7f */
	    {17, 27, true},    /* total length below IP + UDP */
	};
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		len = udp4(3478, 20, true);
		f[bad[i].off] = bad[i].val;
		if (bad[i].off == 16)
			f[17] = 0x7f;
		if (bad[i].recsum)
			ipv4_recsum();
		CU_ASSERT_FALSE(plain(len, 0, &ulen, &dport));
		if (plain(len, 0, &ulen, &dport))
			fprintf(stderr, "accepted mutation %u\n", i);
	}
	/* a NIC that checked the header checksum is trusted, as by the full parse */
	len = udp4(3478, 20, true);
	ip[10] ^= 1;
	CU_ASSERT_FALSE(plain(len, 0, &ulen, &dport));
	CU_ASSERT_TRUE(plain(len, DP_PARSE_IP_CSUM_GOOD, &ulen, &dport));
	assert_agrees(len, DP_PARSE_IP_CSUM_GOOD);
	/* too short for Ethernet, IPv4 and UDP */
	len = udp4(3478, 0, true);
	CU_ASSERT_TRUE(plain(len, 0, &ulen, &dport));
	CU_ASSERT_FALSE(plain(len - 1, 0, &ulen, &dport));

	/* random damage: whatever it accepts, the full parse takes as the same UDP datagram */
	srand(11);
	for (i = 0; i < 200000; i++) {
		len = udp4((uint16_t)rand(), (unsigned int)rand() % 64, rand() & 1);
		for (int k = rand() % 3; k >= 0; k--)
			f[(unsigned int)rand() % 48] = (uint8_t)rand();
		if (rand() & 1)
			ipv4_recsum();
		assert_agrees((unsigned int)rand() % (len + 8), (uint32_t)(rand() & 1));
	}
}

/* The IPv6 twin: a plain datagram 2001:db8:100::20:40000 -> 2001:db8:100::10:dport with
 * payload bytes, UDP checksum set (csum) or zero. */
static unsigned int udp6(uint16_t dport, unsigned int payload, bool csum)
{
	unsigned int off;
	uint8_t *u;
	struct dp_ipaddr s, d;

	eth(0x86dd);
	off = ipv6(17, 8 + payload, "2001:db8:100::20", "2001:db8:100::10");
	u = f + off;
	put16(u, 40000);
	put16(u + 2, dport);
	put16(u + 4, (uint16_t)(8 + payload));
	memset(u + 8, 0x5a, payload);
	if (csum) {
		addrs(&s, &d, AF_INET6, "2001:db8:100::20", "2001:db8:100::10");
		uint16_t c = dp_csum_l4(&s, &d, 17, u, 8 + payload);
		memcpy(u + 6, &c, 2);
	}
	return off + 8 + payload;
}

static bool plain6(unsigned int len, uint16_t *ulen, uint16_t *dport)
{
	uint8_t ours[16];

	inet_pton(AF_INET6, "2001:db8:100::10", ours);
	return dp_parse_udp6_plain(f, len, (const struct rte_ether_addr *)dmac, ours, ulen, dport);
}

/* Whatever the plain check accepts, the full parse (as the worker calls it: checksum left
 * for later) takes as the same UDP datagram. Returns whether the plain check accepted. */
static bool assert_agrees6(unsigned int len, uint32_t flags)
{
	uint16_t ulen = 0, dport = 0;

	if (!plain6(len, &ulen, &dport))
		return false;
	memset(&pi, 0, sizeof(pi));
	CU_ASSERT_EQUAL_FATAL(dp_parse_frame(f, len, flags | DP_PARSE_L4_CSUM_LATER, &pi),
			      DP_CLS_UDP);
	CU_ASSERT_EQUAL(pi.payload_len + 8, ulen);
	CU_ASSERT_EQUAL(pi.dport, dport);
	CU_ASSERT_EQUAL(pi.l4_off, 54);
	CU_ASSERT_EQUAL(pi.src.family, AF_INET6);
	CU_ASSERT_EQUAL(pi.l3_len, 40 + (f[18] << 8 | f[19]));
	return true;
}

/* The full parse's verdict on the frame as it stands (worker flags). */
static enum dp_pkt_class full6(unsigned int len)
{
	memset(&pi, 0, sizeof(pi));
	return dp_parse_frame(f, len, DP_PARSE_L4_CSUM_LATER, &pi);
}

static void test_udp6_plain(void)
{
	uint16_t ulen = 0, dport = 0;
	unsigned int len = udp6(3478, 20, true), i, accepted = 0, refused = 0, plain_full = 0;
	uint8_t *ip = f + 14;

	CU_ASSERT_TRUE(plain6(len, &ulen, &dport));
	CU_ASSERT_EQUAL(ulen, 28);
	CU_ASSERT_EQUAL(dport, 3478);
	CU_ASSERT_TRUE(assert_agrees6(len, 0));
	CU_ASSERT_EQUAL(parse(len), DP_CLS_UDP); /* a right checksum: even the strict parse */
	/* Ethernet padding past the payload length is fine. */
	ulen = dport = 0;
	CU_ASSERT_TRUE(plain6(len + 10, &ulen, &dport));
	CU_ASSERT_EQUAL(ulen, 28);
	CU_ASSERT_TRUE(assert_agrees6(len + 10, 0));
	/* A UDP length shorter than the IPv6 payload is allowed (RFC 768), as by the full
	 * parse; longer is not, nor below the UDP header. */
	put16(ip + 44, 20);
	CU_ASSERT_TRUE(plain6(len, &ulen, &dport));
	CU_ASSERT_EQUAL(ulen, 20);
	CU_ASSERT_TRUE(assert_agrees6(len, 0));
	CU_ASSERT_EQUAL(pi.payload_len, 12);
	put16(ip + 44, 8);
	CU_ASSERT_TRUE(plain6(len, &ulen, &dport));
	CU_ASSERT_EQUAL(ulen, 8);
	CU_ASSERT_TRUE(assert_agrees6(len, 0));
	put16(ip + 44, 29);
	CU_ASSERT_FALSE(plain6(len, &ulen, &dport));
	CU_ASSERT_EQUAL(full6(len), DP_CLS_DROP);
	CU_ASSERT_EQUAL(pi.drop, DP_DROP_UDP_BAD_LENGTH);
	put16(ip + 44, 7);
	CU_ASSERT_FALSE(plain6(len, &ulen, &dport));
	CU_ASSERT_EQUAL(full6(len), DP_CLS_DROP);
	CU_ASSERT_EQUAL(pi.drop, DP_DROP_UDP_BAD_LENGTH);
	put16(ip + 44, 0);
	CU_ASSERT_FALSE(plain6(len, &ulen, &dport));
	/* Sources that only look like the refused ones are fine: ::fffe:a.b.c.d, a source
	 * whose first 10 bytes are not all zero before ffff, link-local, fe.. */
	static const char *ok_src[] = {"::fffe:8.8.8.8",  "0:0:0:1:0:ffff:808:808",
				       "1::ffff:808:808", "fe80::1",
				       "feff::1",	  "::1:ffff:808:808"};
	for (i = 0; i < sizeof(ok_src) / sizeof(ok_src[0]); i++) {
		len = udp6(3478, 20, false);
		inet_pton(AF_INET6, ok_src[i], ip + 8);
		put16(ip + 46, 0x1234); /* some non-zero checksum: not verified here */
		CU_ASSERT_TRUE(plain6(len, &ulen, &dport));
		CU_ASSERT_TRUE(assert_agrees6(len, 0));
		if (!plain6(len, &ulen, &dport))
			fprintf(stderr, "refused source %s\n", ok_src[i]);
	}

	/* each of these leaves it to the full parse; want: the full parse's verdict
	 * (DP_CLS_UDP when only the plain check's own criteria fail: not ours) */
	struct {
		unsigned int off;
		uint8_t val;
		enum dp_pkt_class want;
		uint8_t drop;
		const char *what;
	} bad[] = {
	    {5, 0x03, DP_CLS_UDP, 0, "another MAC"},
	    {0, 0x03, DP_CLS_UDP, 0, "a multicast MAC"},
	    {12, 0x81, DP_CLS_DROP, DP_DROP_ETHERTYPE_UNSUPPORTED, "VLAN"},
	    {12, 0x08, DP_CLS_DROP, DP_DROP_ETHERTYPE_UNSUPPORTED, "ethertype 0x08dd"},
	    {13, 0x00, DP_CLS_DROP, DP_DROP_ETHERTYPE_UNSUPPORTED, "ethertype 0x8600"},
	    {14, 0x40, DP_CLS_DROP, DP_DROP_IP6_BAD_VERSION, "version 4"},
	    {14, 0x70, DP_CLS_DROP, DP_DROP_IP6_BAD_VERSION, "version 7"},
	    {14, 0x00, DP_CLS_DROP, DP_DROP_IP6_BAD_VERSION, "version 0"},
	    {20, 0, DP_CLS_DROP, DP_DROP_IP6_EXT_HEADER, "hop-by-hop options"},
	    {20, 44, DP_CLS_DROP, DP_DROP_IP6_EXT_HEADER, "fragment header"},
	    {20, 60, DP_CLS_DROP, DP_DROP_IP6_EXT_HEADER, "destination options"},
	    {20, 58, DP_CLS_DROP, DP_DROP_ICMP6_BAD_CSUM, "ICMPv6"},
	    {20, 6, DP_CLS_DROP, DP_DROP_IP_PROTO_UNSUPPORTED, "TCP"},
	    {20, 16, DP_CLS_DROP, DP_DROP_IP_PROTO_UNSUPPORTED, "UDP - 1"},
	    {20, 18, DP_CLS_DROP, DP_DROP_IP_PROTO_UNSUPPORTED, "UDP + 1"},
	    {18, 0x01, DP_CLS_DROP, DP_DROP_IP6_BAD_LENGTH, "payload length past the frame"},
	    {19, 29, DP_CLS_DROP, DP_DROP_IP6_BAD_LENGTH, "payload length one past the frame"},
	    {19, 7, DP_CLS_DROP, DP_DROP_UDP_SHORT, "payload length below UDP"},
	    {19, 0, DP_CLS_DROP, DP_DROP_UDP_SHORT, "payload length 0"},
	    {58, 0x01, DP_CLS_DROP, DP_DROP_UDP_BAD_LENGTH, "UDP length past the payload"},
	    {59, 29, DP_CLS_DROP, DP_DROP_UDP_BAD_LENGTH, "UDP length one past the payload"},
	    {59, 7, DP_CLS_DROP, DP_DROP_UDP_BAD_LENGTH, "UDP length below its header"},
	    {22, 0xff, DP_CLS_DROP, DP_DROP_IP6_BAD_SOURCE, "multicast source"},
	};
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		len = udp6(3478, 20, true);
		f[bad[i].off] = bad[i].val;
		CU_ASSERT_FALSE(plain6(len, &ulen, &dport));
		if (plain6(len, &ulen, &dport))
			fprintf(stderr, "accepted mutation %u (%s)\n", i, bad[i].what);
		CU_ASSERT_EQUAL(full6(len), bad[i].want);
		if (bad[i].want == DP_CLS_DROP)
			CU_ASSERT_EQUAL(pi.drop, bad[i].drop);
	}
	/* a zero UDP checksum: none, which IPv6 does not allow (RFC 8200 8.1) */
	len = udp6(3478, 20, false);
	CU_ASSERT_FALSE(plain6(len, &ulen, &dport));
	CU_ASSERT_EQUAL(full6(len), DP_CLS_DROP);
	CU_ASSERT_EQUAL(pi.drop, DP_DROP_UDP_BAD_CSUM);
	/* ... with either checksum byte non-zero it is (the sum is verified later) */
	put16(ip + 46, 0x0001);
	CU_ASSERT_TRUE(assert_agrees6(len, 0));
	put16(ip + 46, 0x0100);
	CU_ASSERT_TRUE(assert_agrees6(len, 0));
	/* another destination address: each byte, each bit */
	for (i = 0; i < 16 * 8; i++) {
		len = udp6(3478, 20, true);
		ip[24 + i / 8] ^= (uint8_t)(1u << (i % 8));
		CU_ASSERT_FALSE(plain6(len, &ulen, &dport));
		if (plain6(len, &ulen, &dport))
			fprintf(stderr, "accepted destination byte %u bit %u\n", i / 8, i % 8);
		CU_ASSERT_EQUAL(full6(len), DP_CLS_UDP); /* the worker drops ip6_not_for_us */
	}
	/* another MAC: each byte */
	for (i = 0; i < 6; i++) {
		len = udp6(3478, 20, true);
		f[i] ^= 0x40;
		CU_ASSERT_FALSE(plain6(len, &ulen, &dport));
	}
	/* refused sources: multicast, IPv4-mapped (it would pass for the IPv4 peer) */
	static const char *bad_src[] = {"ff02::1",	  "ff0e::20",	    "ff00::",
					"::ffff:8.8.8.8", "::ffff:0.0.0.0", "::ffff:198.51.100.20"};
	for (i = 0; i < sizeof(bad_src) / sizeof(bad_src[0]); i++) {
		len = udp6(3478, 20, false);
		inet_pton(AF_INET6, bad_src[i], ip + 8);
		put16(ip + 46, 0x1234);
		CU_ASSERT_FALSE(plain6(len, &ulen, &dport));
		if (plain6(len, &ulen, &dport))
			fprintf(stderr, "accepted source %s\n", bad_src[i]);
		CU_ASSERT_EQUAL(full6(len), DP_CLS_DROP);
		CU_ASSERT_EQUAL(pi.drop, DP_DROP_IP6_BAD_SOURCE);
	}
	/* too short for Ethernet, IPv6 and UDP; a frame cut below its payload length */
	len = udp6(3478, 0, true);
	CU_ASSERT_EQUAL(len, 14 + 48);
	CU_ASSERT_TRUE(plain6(len, &ulen, &dport));
	CU_ASSERT_EQUAL(ulen, 8);
	CU_ASSERT_TRUE(assert_agrees6(len, 0));
	for (i = 0; i < len; i++)
		CU_ASSERT_FALSE(plain6(i, &ulen, &dport));
	len = udp6(3478, 20, true);
	CU_ASSERT_FALSE(plain6(len - 1, &ulen, &dport));
	CU_ASSERT_EQUAL(full6(len - 1), DP_CLS_DROP);
	CU_ASSERT_EQUAL(pi.drop, DP_DROP_IP6_BAD_LENGTH);

	/* random damage: whatever it accepts, the full parse takes as the same UDP datagram;
	 * and (no extension headers or options to leave out) it accepts every datagram the
	 * full parse takes as UDP to our MAC and address */
	static const uint8_t hot[] = {0,  5,  12, 13, 14, 18, 19, 20, 22, 23, 29, 30, 31,
				      32, 33, 38, 45, 46, 53, 56, 57, 58, 59, 60, 61};
	uint8_t ours[16];
	inet_pton(AF_INET6, "2001:db8:100::10", ours);
	srand(13);
	for (i = 0; i < 200000; i++) {
		uint16_t u = 0, d = 0;
		len = udp6((uint16_t)rand(), (unsigned int)rand() % 64, rand() % 8 != 0);
		for (int k = rand() % 3; k >= 0; k--) {
			unsigned int at = rand() & 1 ? hot[(unsigned int)rand() % sizeof(hot)]
						     : (unsigned int)rand() % 70;
			f[at] = rand() & 1 ? (uint8_t)rand() : (uint8_t)(f[at] + rand() % 3 - 1);
		}
		switch (rand() % 4) {
		case 0:
			inet_pton(AF_INET6, "::ffff:203.0.113.1", ip + 8);
			ip[8 + rand() % 12] ^= (uint8_t)(rand() & 1 ? 1 : 0);
			break;
		case 1:
			len = (unsigned int)rand() % (len + 8);
			break;
		default:
			len += (unsigned int)rand() % 3;
		}
		bool acc = assert_agrees6(len, (uint32_t)(rand() & 1));
		accepted += acc;
		refused += !acc;
		if (full6(len) == DP_CLS_UDP && !memcmp(f, dmac, 6) &&
		    !memcmp(pi.dst.v6, ours, 16)) {
			plain_full++;
			CU_ASSERT_TRUE(plain6(len, &u, &d));
			if (!acc)
				fprintf(stderr, "refused a plain datagram (round %u)\n", i);
		}
	}
	/* both verdicts well exercised */
	CU_ASSERT(accepted > 20000);
	CU_ASSERT(refused > 20000);
	CU_ASSERT_EQUAL(plain_full, accepted);
	fprintf(stderr, "(%u accepted, %u refused) ", accepted, refused);
}

static void test_arp(void)
{
	uint8_t *a;

	eth(0x0806);
	f[0] = 0xff; /* broadcast */
	a = f + 14;
	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 1);
	memcpy(a + 8, smac, 6);
	inet_pton(AF_INET, "198.51.100.20", a + 14);
	inet_pton(AF_INET, "198.51.100.10", a + 24);
	CU_ASSERT_EQUAL(parse(42), DP_CLS_ARP);
	CU_ASSERT_EQUAL(pi.icmp_type, 1);
	CU_ASSERT_EQUAL(pi.l2_mcast, 1);
	CU_ASSERT_EQUAL(ntohl(pi.dst.v4), 0xc633640a);
	CU_ASSERT_EQUAL(ntohl(pi.src.v4), 0xc6336414);
	ASSERT_DROP(41, DP_DROP_ARP_MALFORMED);
	a[4] = 8;
	ASSERT_DROP(42, DP_DROP_ARP_MALFORMED);
	a[4] = 6;
	put16(a + 6, 3);
	ASSERT_DROP(42, DP_DROP_ARP_MALFORMED);
	put16(a + 6, 2);
	put16(a + 2, 0x86dd);
	ASSERT_DROP(42, DP_DROP_ARP_MALFORMED);
}

static void test_ipv6(void)
{
	unsigned int len = icmp6(128, 16, "2001:db8:100::20", "2001:db8:100::10");

	CU_ASSERT_EQUAL(parse(len), DP_CLS_ICMP6);
	CU_ASSERT_EQUAL(pi.icmp_type, 128);
	CU_ASSERT_EQUAL(pi.ttl, 255);
	CU_ASSERT_EQUAL(pi.l4_off, 54);
	CU_ASSERT_EQUAL(pi.l3_len, 40 + 24);
	ASSERT_DROP(14 + 39, DP_DROP_IP6_SHORT);
	f[14] = 0x40;
	ASSERT_DROP(len, DP_DROP_IP6_BAD_VERSION);
	len = icmp6(128, 16, "2001:db8:100::20", "2001:db8:100::10");
	ASSERT_DROP(len - 1, DP_DROP_IP6_BAD_LENGTH);
	f[60] ^= 0x40;
	ASSERT_DROP(len, DP_DROP_ICMP6_BAD_CSUM);
	len = icmp6(128, 16, "ff02::1", "2001:db8:100::10");
	ASSERT_DROP(len, DP_DROP_IP6_BAD_SOURCE);
	/* an IPv4-mapped source would pass for an IPv4 peer's permission and channel */
	len = icmp6(128, 16, "::ffff:8.8.8.8", "2001:db8:100::10");
	ASSERT_DROP(len, DP_DROP_IP6_BAD_SOURCE);
	len = icmp6(128, 16, "::fffe:8.8.8.8", "2001:db8:100::10");
	CU_ASSERT_EQUAL(parse(len), DP_CLS_ICMP6);
	len = icmp6(128, 16, "2001:db8:100::20", "2001:db8:100::10");
	f[20] = 0; /* hop-by-hop options */
	ASSERT_DROP(len, DP_DROP_IP6_EXT_HEADER);
	f[20] = 44; /* fragment */
	ASSERT_DROP(len, DP_DROP_IP6_EXT_HEADER);
	f[20] = 1; /* ICMPv4 over IPv6 */
	ASSERT_DROP(len, DP_DROP_IP_PROTO_UNSUPPORTED);
	eth(0x86dd);
	len = ipv6(58, 4, "2001:db8:100::20", "2001:db8:100::10");
	ASSERT_DROP(len + 4, DP_DROP_ICMP6_SHORT);
}

static void test_udp6(void)
{
	unsigned int off;
	uint8_t *u;
	struct dp_ipaddr s, d;
	uint16_t c;

	eth(0x86dd);
	off = ipv6(17, 8 + 12, "2001:db8:100::20", "2001:db8:100::10");
	u = f + off;
	put16(u, 5000);
	put16(u + 2, 3478);
	put16(u + 4, 20);
	/* Zero checksum is not allowed over IPv6. */
	ASSERT_DROP(off + 20, DP_DROP_UDP_BAD_CSUM);
	addrs(&s, &d, AF_INET6, "2001:db8:100::20", "2001:db8:100::10");
	c = dp_csum_l4(&s, &d, 17, u, 20);
	memcpy(u + 6, &c, 2);
	CU_ASSERT_EQUAL(parse(off + 20), DP_CLS_UDP);
	CU_ASSERT_EQUAL(pi.dport, 3478);
	CU_ASSERT_EQUAL(pi.payload_len, 12);
	CU_ASSERT_TRUE(dp_csum_l4_ok(&s, &d, 17, u, 20));
	u[10] ^= 1;
	CU_ASSERT_FALSE(dp_csum_l4_ok(&s, &d, 17, u, 20));
}

static void test_random_never_crashes(void)
{
	/* Cheap robustness check beside the fuzzer: random bytes and truncations of a good
	 * frame must classify without reading past len (ASan build catches that). */
	unsigned int i, len, cut;

	srand(7);
	for (i = 0; i < 20000; i++) {
		len = icmp4_echo(16);
		cut = (unsigned int)rand() % (len + 1);
		f[(unsigned int)rand() % len] = (uint8_t)rand();
		uint8_t *copy = malloc(cut ? cut : 1);
		memcpy(copy, f, cut);
		memset(&pi, 0, sizeof(pi));
		enum dp_pkt_class c = dp_parse_frame(copy, cut, 0, &pi);
		CU_ASSERT(c <= DP_CLS_UDP);
		if (c == DP_CLS_DROP)
			CU_ASSERT(pi.drop < DP_DROP_STATIC_MAX);
		free(copy);
	}
}

static void test_names(void)
{
	unsigned int i;

	for (i = 0; i < DP_DROP_STATIC_MAX; i++)
		CU_ASSERT_PTR_NOT_NULL(dp_drop_name(i));
	CU_ASSERT_STRING_EQUAL(dp_drop_name(DP_DROP_UDP_NO_LISTENER), "udp_no_listener");
	int id = dp_drop_reason_register("test_reason");
	CU_ASSERT(id >= DP_DROP_STATIC_MAX);
	CU_ASSERT_EQUAL(dp_drop_reason_register("test_reason"), id);
	CU_ASSERT_STRING_EQUAL(dp_drop_name((unsigned int)id), "test_reason");
	CU_ASSERT_EQUAL(dp_drop_reason_register(""), -EINVAL);
}

int main(void)
{
	CU_pSuite s;
	unsigned int failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("dp_parse", NULL, NULL);
	CU_add_test(s, "RFC 1071 checksum vector", test_rfc1071_vector);
	CU_add_test(s, "checksum fold", test_csum_fold);
	CU_add_test(s, "ICMPv4 echo parses", test_icmp4_echo);
	CU_add_test(s, "Ethernet short / unsupported", test_eth);
	CU_add_test(s, "IPv4 malformed", test_ipv4_malformed);
	CU_add_test(s, "IPv4 options", test_ipv4_options);
	CU_add_test(s, "ICMPv4 malformed", test_icmp4_malformed);
	CU_add_test(s, "UDP over IPv4", test_udp4);
	CU_add_test(s, "plain IPv4 UDP: the short way in", test_udp4_plain);
	CU_add_test(s, "ARP", test_arp);
	CU_add_test(s, "IPv6 / ICMPv6", test_ipv6);
	CU_add_test(s, "UDP over IPv6", test_udp6);
	CU_add_test(s, "plain IPv6 UDP: the short way in", test_udp6_plain);
	CU_add_test(s, "random input", test_random_never_crashes);
	CU_add_test(s, "drop reason names", test_names);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
