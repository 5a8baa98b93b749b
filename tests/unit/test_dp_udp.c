/* SPDX-License-Identifier: BSD-3-Clause */
/* The feature-facing packet helpers of dp_udp.h: dp_udp_encap builds UDP/IP headers in
 * front of a payload and dp_udp_finish fills checksums; the result must pass the
 * dataplane's own parser (lengths, checksums) for IPv4 and IPv6. Also the UDP port
 * claims. EAL without hugepages, shared files or telemetry. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <rte_eal.h>
#include <rte_mbuf.h>

#include "dataplane/dp.h"
#include "dataplane/dp_feature.h"
#include "dataplane/dp_udp.h"

struct dp_runtime dp_rt; /* normally in dp_main.c */
static struct rte_mempool *pool;

static struct dp_ipaddr ip(const char *s)
{
	struct dp_ipaddr a;

	memset(&a, 0, sizeof(a));
	a.family = strchr(s, ':') ? AF_INET6 : AF_INET;
	inet_pton(a.family, s, a.family == AF_INET ? (void *)&a.v4 : a.v6);
	return a;
}

/* Build payload, encap, prepend a fake Ethernet header, parse. */
static enum dp_pkt_class roundtrip(const char *src, const char *dst, unsigned int plen,
				   struct dp_pkt_info *pi, struct rte_mbuf **out)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct dp_ipaddr s = ip(src), d = ip(dst);
	uint8_t *p, *eth;
	unsigned int i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)plen);
	for (i = 0; i < plen; i++)
		p[i] = (uint8_t)(i * 7 + 1);
	CU_ASSERT_EQUAL(dp_udp_encap(m, &s, 3478, &d, 49152), 0);
	eth = (uint8_t *)rte_pktmbuf_prepend(m, 14);
	CU_ASSERT_PTR_NOT_NULL_FATAL(eth);
	memset(eth, 0, 12);
	eth[12] = s.family == AF_INET ? 0x08 : 0x86;
	eth[13] = s.family == AF_INET ? 0x00 : 0xdd;
	memset(pi, 0, sizeof(*pi));
	*out = m;
	return dp_parse_frame(rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_data_len(m), 0, pi);
}

static void test_encap_v4(void)
{
	struct dp_pkt_info pi;
	struct rte_mbuf *m;
	unsigned int len;

	for (len = 0; len < 300; len += 37) {
		CU_ASSERT_EQUAL(roundtrip("198.51.100.10", "203.0.113.7", len, &pi, &m),
				DP_CLS_UDP);
		CU_ASSERT_EQUAL(pi.sport, 3478);
		CU_ASSERT_EQUAL(pi.dport, 49152);
		CU_ASSERT_EQUAL(pi.payload_len, len);
		CU_ASSERT_EQUAL(pi.l3_len, 28 + len);
		CU_ASSERT_EQUAL(pi.ttl, 64);
		if (len) /* the payload is untouched */
			CU_ASSERT_EQUAL(rte_pktmbuf_mtod_offset(m, uint8_t *, pi.payload_off)[0],
					1);
		CU_ASSERT_TRUE(dp_ipaddr_eq(
		    &pi.dst, &(struct dp_ipaddr){.family = AF_INET, .v4 = ip("203.0.113.7").v4}));
		rte_pktmbuf_free(m);
	}
}

static void test_encap_v6(void)
{
	struct dp_pkt_info pi;
	struct rte_mbuf *m;
	unsigned int len;

	for (len = 1; len < 300; len += 41) {
		CU_ASSERT_EQUAL(roundtrip("2001:db8:100::10", "2001:db8:7::1", len, &pi, &m),
				DP_CLS_UDP);
		CU_ASSERT_EQUAL(pi.dport, 49152);
		CU_ASSERT_EQUAL(pi.payload_len, len);
		CU_ASSERT_EQUAL(pi.l3_len, 48 + len);
		rte_pktmbuf_free(m);
	}
}

static void test_finish_after_rewrite(void)
{
	/* A feature rewrites addresses/ports of a built packet, then dp_udp_finish makes the
	 * checksums right again; without it the parser must refuse it. */
	struct dp_pkt_info pi;
	struct rte_mbuf *m;
	uint8_t *ip4;

	CU_ASSERT_EQUAL(roundtrip("198.51.100.10", "203.0.113.7", 40, &pi, &m), DP_CLS_UDP);
	rte_pktmbuf_adj(m, 14);
	ip4 = rte_pktmbuf_mtod(m, uint8_t *);
	inet_pton(AF_INET, "203.0.113.99", ip4 + 16);
	rte_pktmbuf_prepend(m, 14);
	memset(&pi, 0, sizeof(pi));
	CU_ASSERT_EQUAL(
	    dp_parse_frame(rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_data_len(m), 0, &pi),
	    DP_CLS_DROP);
	CU_ASSERT_EQUAL(pi.drop, DP_DROP_IP4_BAD_CSUM);
	rte_pktmbuf_adj(m, 14);
	dp_udp_finish(m);
	rte_pktmbuf_prepend(m, 14);
	CU_ASSERT_EQUAL(
	    dp_parse_frame(rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_data_len(m), 0, &pi),
	    DP_CLS_UDP);
	rte_pktmbuf_free(m);
}

static void test_encap_errors(void)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct dp_ipaddr a4 = ip("198.51.100.10"), a6 = ip("2001:db8::1");

	CU_ASSERT_EQUAL(dp_udp_encap(m, &a4, 1, &a6, 2), -EINVAL); /* mixed families */
	/* No headroom left. */
	rte_pktmbuf_prepend(m, rte_pktmbuf_headroom(m));
	CU_ASSERT_EQUAL(dp_udp_encap(m, &a4, 1, &a4, 2), -ENOSPC);
	rte_pktmbuf_free(m);
}

/* A received frame: plen pattern bytes in UDP from src to dst, Ethernet in front, parsed as
 * the worker does (checksum left for later). zero_ck: an IPv4 datagram without checksum. */
static struct rte_mbuf *received(const char *src, const char *dst, unsigned int plen, bool zero_ck,
				 struct dp_pkt_info *pi)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct dp_ipaddr s = ip(src), d = ip(dst);
	uint8_t *p, *eth;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)plen);
	for (unsigned int i = 0; i < plen; i++)
		p[i] = (uint8_t)(i * 13 + 5);
	CU_ASSERT_EQUAL(dp_udp_encap(m, &s, 40000, &d, 3478), 0);
	if (zero_ck)
		memset(rte_pktmbuf_mtod_offset(m, uint8_t *, 20 + 6), 0, 2);
	eth = (uint8_t *)rte_pktmbuf_prepend(m, 14);
	memset(eth, 0, 12);
	eth[12] = s.family == AF_INET ? 0x08 : 0x86;
	eth[13] = s.family == AF_INET ? 0x00 : 0xdd;
	memset(pi, 0, sizeof(*pi));
	CU_ASSERT_EQUAL_FATAL(dp_parse_frame(rte_pktmbuf_mtod(m, uint8_t *),
					     rte_pktmbuf_data_len(m), DP_PARSE_L4_CSUM_LATER, pi),
			      DP_CLS_UDP);
	CU_ASSERT_EQUAL(pi->l4_csum_unchecked, !zero_ck);
	return m;
}

/* dp_udp_rewrite over families, strips, kept lengths (odd and even), trailing bytes,
 * headers (odd lengths too) and padding: the result must parse with a full checksum check
 * and carry hdr + the kept payload + zeros; a datagram damaged before the rewrite must
 * still fail its checksum after it (the incremental update keeps the damage visible). */
static void test_relay_rewrite(void)
{
	static const char *fams[][4] = {
	    {"100.64.0.1", "198.51.100.10", "198.51.100.10", "203.0.113.5"},
	    {"100.64.0.1", "198.51.100.10", "2001:db8::10", "2001:db8:5::5"},
	    {"2001:db8:1::1", "2001:db8::10", "198.51.100.10", "203.0.113.5"},
	    {"2001:db8:1::1", "2001:db8::10", "2001:db8::10", "2001:db8:5::5"}};
	static const uint16_t strips[] = {0, 1, 4, 20, 36};
	static const uint16_t hdrs[] = {0, 3, 4, 24};
	uint8_t hdr[64];
	unsigned int cases = 0;

	for (unsigned int i = 0; i < sizeof(hdr); i++)
		hdr[i] = (uint8_t)(0xa5 ^ i);
	for (unsigned int f = 0; f < 4; f++)
		for (unsigned int si = 0; si < 5; si++)
			for (unsigned int hi = 0; hi < 4; hi++)
				for (unsigned int keep = 199; keep <= 202; keep++)
					for (unsigned int tail = 0; tail < 4; tail++)
						for (unsigned int damage = 0; damage < 3;
						     damage++) {
							uint16_t strip = strips[si], hl = hdrs[hi],
								 pad =
								     (uint16_t)((4 - keep % 4) % 4);
							bool zero_ck =
							    damage == 2 && fams[f][0][0] != '2';
							struct dp_pkt_info pi, po;
							struct dp_ipaddr rs = ip(fams[f][2]),
									 rd = ip(fams[f][3]);
							struct rte_mbuf *m = received(
							    fams[f][0], fams[f][1],
							    strip + keep + tail, zero_ck, &pi);
							uint8_t want[300], *eth;

							for (unsigned int i = 0; i < keep; i++)
								want[hl + i] =
								    (uint8_t)((strip + i) * 13 + 5);
							memcpy(want, hdr, hl);
							memset(want + hl + keep, 0, pad);
							if (damage == 1) /* one payload bit flipped
									    on the way in */
								rte_pktmbuf_mtod_offset(
								    m, uint8_t *,
								    pi.payload_off + strip +
									keep / 2)[0] ^= 0x10;
							CU_ASSERT_EQUAL_FATAL(
							    dp_udp_rewrite(
								m, &pi, strip, (uint16_t)keep, hdr,
								hl, pad, &rs, 50001, &rd, 5000),
							    0);
							eth = (uint8_t *)rte_pktmbuf_prepend(m, 14);
							memset(eth, 0, 12);
							eth[12] =
							    rs.family == AF_INET ? 0x08 : 0x86;
							eth[13] =
							    rs.family == AF_INET ? 0x00 : 0xdd;
							enum dp_pkt_class c = dp_parse_frame(
							    rte_pktmbuf_mtod(m, uint8_t *),
							    rte_pktmbuf_data_len(m), 0, &po);
							if (damage == 1) {
								CU_ASSERT_EQUAL(c, DP_CLS_DROP);
								CU_ASSERT_EQUAL(
								    po.drop, DP_DROP_UDP_BAD_CSUM);
							} else {
								CU_ASSERT_EQUAL(c, DP_CLS_UDP);
								CU_ASSERT_EQUAL(po.sport, 50001);
								CU_ASSERT_EQUAL(po.dport, 5000);
								CU_ASSERT_EQUAL(po.payload_len,
										hl + keep + pad);
								CU_ASSERT_TRUE(
								    dp_ipaddr_eq(&po.src, &rs) &&
								    dp_ipaddr_eq(&po.dst, &rd));
								CU_ASSERT_EQUAL(
								    memcmp(rte_pktmbuf_mtod_offset(
									       m, uint8_t *,
									       po.payload_off),
									   want, hl + keep + pad),
								    0);
							}
							rte_pktmbuf_free(m);
							cases++;
						}
	CU_ASSERT_EQUAL(cases, 4 * 5 * 4 * 4 * 4 * 3);
}

static void test_relay_rewrite_errors(void)
{
	struct dp_pkt_info pi;
	struct dp_ipaddr a4 = ip("198.51.100.10"), a6 = ip("2001:db8::1");
	struct rte_mbuf *m = received("100.64.0.1", "198.51.100.10", 100, false, &pi);
	uint8_t before[200];

	memcpy(before, rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_data_len(m));
	/* more than was received, mixed families: refused, m untouched */
	CU_ASSERT_EQUAL(dp_udp_rewrite(m, &pi, 4, 97, NULL, 0, 0, &a4, 1, &a4, 2), -EINVAL);
	CU_ASSERT_EQUAL(dp_udp_rewrite(m, &pi, 0, 100, NULL, 0, 0, &a4, 1, &a6, 2), -EINVAL);
	CU_ASSERT_EQUAL(memcmp(before, rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_data_len(m)), 0);
	rte_pktmbuf_free(m);
}

static void udp_in(struct dp_worker *w, struct rte_mbuf *m, struct dp_pkt_info *pi)
{
	(void)w;
	(void)pi;
	rte_pktmbuf_free(m);
}
static struct dp_feature fa = {.name = "a", .udp_input = udp_in};
static struct dp_feature fb = {.name = "b", .udp_input = udp_in};
static struct dp_feature fnone = {.name = "no_input"};

static void test_claims(void)
{
	dp_feature_register(&fa);
	dp_feature_register(&fb);
	dp_feature_register(&fnone);
	CU_ASSERT(fa.id >= 1 && fb.id == fa.id + 1);
	CU_ASSERT_EQUAL(dp_udp_claim(&fa, 3478, 3478), 0);
	CU_ASSERT_EQUAL(dp_udp_claim(&fa, 3478, 3478), 0); /* idempotent */
	CU_ASSERT_EQUAL(dp_udp_claim(&fb, 3000, 3478), -EBUSY);
	CU_ASSERT_EQUAL(dp_udp_claim(&fb, 49152, 65535), 0);
	CU_ASSERT_EQUAL(dp_udp_claim(&fb, 10, 9), -EINVAL);
	CU_ASSERT_EQUAL(dp_udp_claim(&fnone, 5000, 5000), -EINVAL);
	CU_ASSERT_EQUAL(dp_udp_claim(&fa, 60000, 60000), -EBUSY); /* inside b's range */
	CU_ASSERT_EQUAL(dp_udp_claim(&fa, 3470, 3480), 0);	  /* around its own */
	/* every port goes to its owner, the edges included */
	CU_ASSERT_EQUAL(dp_udp_port_owner(3478), fa.id);
	CU_ASSERT_EQUAL(dp_udp_port_owner(3470), fa.id);
	CU_ASSERT_EQUAL(dp_udp_port_owner(3480), fa.id);
	CU_ASSERT_EQUAL(dp_udp_port_owner(3469), 0);
	CU_ASSERT_EQUAL(dp_udp_port_owner(3481), 0);
	CU_ASSERT_EQUAL(dp_udp_port_owner(49151), 0);
	CU_ASSERT_EQUAL(dp_udp_port_owner(49152), fb.id);
	CU_ASSERT_EQUAL(dp_udp_port_owner(65535), fb.id);
	CU_ASSERT_EQUAL(dp_udp_port_owner(0), 0);
	/* ranges run out before ports do */
	int rc = 0;
	for (uint16_t p = 20000; p < 20000 + 40 && rc == 0; p += 2)
		rc = dp_udp_claim(&fa, p, p);
	CU_ASSERT_EQUAL(rc, -ENOSPC);
	CU_ASSERT_EQUAL(dp_udp_port_owner(20000), fa.id);
	CU_ASSERT_EQUAL(dp_udp_port_owner(20001), 0);
}

/* ---- the short way in (dp_udp.h 7.) ---- */

static void burst_in(struct dp_worker *w, struct rte_mbuf **m, struct dp_pkt_info *pi, uint16_t n)
{
	(void)w;
	(void)pi;
	rte_pktmbuf_free_bulk(m, n);
}

/* Takes even destination ports (frees them: "relayed"), gives odd ones back untouched. */
static unsigned int fast_calls;
static uint16_t fast_in(struct dp_worker *w, struct dp_udp4 *d, uint16_t n)
{
	uint16_t back = 0;
	(void)w;
	fast_calls++;
	for (uint16_t i = 0; i < n; i++) {
		if (d[i].dport & 1)
			d[back++] = d[i];
		else
			rte_pktmbuf_free(d[i].m);
	}
	return back;
}

static struct dp_feature fc = {.name = "short",
			       .udp_input = udp_in,
			       .udp_input_burst = burst_in,
			       .udp4_burst = fast_in,
			       .l4_csum_preserved = true};
static struct dp_feature fd = {.name = "short2",
			       .udp_input = udp_in,
			       .udp_input_burst = burst_in,
			       .udp4_burst = fast_in,
			       .l4_csum_preserved = true};

/* A frame from 203.0.113.7:40000 to dst:dport, addressed to mac. */
static struct rte_mbuf *frame4(const char *dst, uint16_t dport, const struct rte_ether_addr *mac)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct dp_ipaddr s = ip("203.0.113.7"), d = ip(dst);
	uint8_t *p, *eth;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	p = (uint8_t *)rte_pktmbuf_append(m, 20);
	memset(p, 0x40, 20);
	CU_ASSERT_EQUAL(dp_udp_encap(m, &s, 40000, &d, dport), 0);
	uint8_t hdr[14] = {0, 0, 0, 0, 0, 0, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x08, 0x00};
	memcpy(hdr, mac, 6);
	eth = (uint8_t *)rte_pktmbuf_prepend(m, 14);
	CU_ASSERT_PTR_NOT_NULL_FATAL(eth);
	memcpy(eth, hdr, sizeof(hdr));
	return m;
}

static void test_short_way(void)
{
	static struct dp_worker w;
	static struct dp_lcore_stats st;
	const struct rte_ether_addr mac = {{0x02, 0, 0, 0, 0, 0x10}},
				    other = {{0x02, 0, 0, 0, 0, 0x11}};
	struct rte_mbuf *m[4];

	memset(&w, 0, sizeof(w));
	w.stats = &st;
	dp_rt.nb_ports = 1;
	dp_rt.ports[0].mac = mac;
	dp_rt.ports[0].ipv4.set = true;
	dp_rt.ports[0].ipv4.len = 24;
	dp_rt.ports[0].ipv4.addr = ip("198.51.100.10");
	dp_feature_register(&fc);
	CU_ASSERT_EQUAL(dp_udp_claim(&fc, 7000, 7009), 0);

	/* a plain datagram to one of its ports: taken, rx counted, described */
	m[0] = frame4("198.51.100.10", 7000, &mac);
	CU_ASSERT_TRUE(dp_udp4_take(&w, m[0], 0));
	CU_ASSERT_EQUAL(w.batch4.n, 1);
	CU_ASSERT_EQUAL(w.batch4.d[0].dport, 7000);
	CU_ASSERT_EQUAL(w.batch4.d[0].udp_len, 28);
	CU_ASSERT_EQUAL(w.batch4.d[0].port, 0);
	CU_ASSERT_PTR_EQUAL(w.batch4.d[0].ip, rte_pktmbuf_mtod(m[0], uint8_t *) + 14);
	CU_ASSERT_EQUAL(st.rx_packets, 1);
	CU_ASSERT_EQUAL(st.rx_bytes, rte_pktmbuf_pkt_len(m[0]));
	/* not taken, nothing counted: another feature's port (no short way), a port nobody
	 * claimed, another address, another MAC */
	struct rte_mbuf *no[4] = {
	    frame4("198.51.100.10", 3478, &mac), frame4("198.51.100.10", 7010, &mac),
	    frame4("198.51.100.11", 7001, &mac), frame4("198.51.100.10", 7001, &other)};
	for (int i = 0; i < 4; i++) {
		CU_ASSERT_FALSE(dp_udp4_take(&w, no[i], 0));
		rte_pktmbuf_free(no[i]);
	}
	CU_ASSERT_EQUAL(w.batch4.n, 1);
	CU_ASSERT_EQUAL(st.rx_packets, 1);
	/* the feature takes 7000 and 7002, gives 7001 back: udp_in counts what it took */
	m[1] = frame4("198.51.100.10", 7001, &mac);
	m[2] = frame4("198.51.100.10", 7002, &mac);
	CU_ASSERT_TRUE(dp_udp4_take(&w, m[1], 0));
	CU_ASSERT_TRUE(dp_udp4_take(&w, m[2], 0));
	CU_ASSERT_EQUAL(dp_udp4_flush(&w), 1);
	CU_ASSERT_EQUAL(fast_calls, 1);
	CU_ASSERT_PTR_EQUAL(w.batch4.d[0].m, m[1]);
	CU_ASSERT_EQUAL(w.batch4.n, 0);
	CU_ASSERT_EQUAL(st.udp_in, 2);
	CU_ASSERT_EQUAL(dp_udp4_flush(&w), 0); /* nothing gathered: no call */
	CU_ASSERT_EQUAL(fast_calls, 1);
	rte_pktmbuf_free(m[1]);
}

/* The IPv6 twin: like fast_in, over batch6, whose d[i].ip is the IPv6 header. */
static unsigned int fast6_calls, fast6_seen;
static uint16_t fast6_in(struct dp_worker *w, struct dp_udp4 *d, uint16_t n)
{
	uint16_t back = 0;
	(void)w;
	fast6_calls++;
	for (uint16_t i = 0; i < n; i++) {
		const uint8_t *udp = d[i].ip + 40;
		/* the descriptor matches the datagram it describes */
		CU_ASSERT_EQUAL(d[i].ip[0] >> 4, 6);
		CU_ASSERT_EQUAL(d[i].ip[6], IPPROTO_UDP);
		CU_ASSERT_EQUAL(udp[2] << 8 | udp[3], d[i].dport);
		CU_ASSERT_EQUAL(udp[4] << 8 | udp[5], d[i].udp_len);
		fast6_seen++;
		if (d[i].dport & 1)
			d[back++] = d[i];
		else
			rte_pktmbuf_free(d[i].m);
	}
	return back;
}

/* A frame from src:40000 to dst:dport with 20 bytes of payload, addressed to mac. */
static struct rte_mbuf *frame6(const char *src, const char *dst, uint16_t dport,
			       const struct rte_ether_addr *mac)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct dp_ipaddr s = ip(src), d = ip(dst);
	uint8_t *p, *eth;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	p = (uint8_t *)rte_pktmbuf_append(m, 20);
	memset(p, 0x40, 20);
	CU_ASSERT_EQUAL(dp_udp_encap(m, &s, 40000, &d, dport), 0);
	uint8_t hdr[14] = {0, 0, 0, 0, 0, 0, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x86, 0xdd};
	memcpy(hdr, mac, 6);
	eth = (uint8_t *)rte_pktmbuf_prepend(m, 14);
	CU_ASSERT_PTR_NOT_NULL_FATAL(eth);
	memcpy(eth, hdr, sizeof(hdr));
	return m;
}

/* After the IPv4 short way (it registered fc and claimed 7000-7009 for it, without
 * .udp6_burst): the IPv6 short way of the same feature. */
static void test_short_way6(void)
{
	static struct dp_worker w;
	static struct dp_lcore_stats st;
	const struct rte_ether_addr mac = {{0x02, 0, 0, 0, 0, 0x10}},
				    other = {{0x02, 0, 0, 0, 0, 0x11}};
	const char *peer = "2001:db8:7::7", *our6 = "2001:db8:100::10";
	struct rte_mbuf *m[4], *x;
	unsigned int fast_before = fast_calls;

	memset(&w, 0, sizeof(w));
	w.stats = &st;
	/* port 0 has IPv4 and IPv6 addresses; port 1 (same MAC) IPv4 only, its IPv6 address
	 * not set (a stale one left there); port 2 another MAC and IPv6 address */
	const struct rte_ether_addr mac2 = {{0x02, 0, 0, 0, 0, 0x12}};
	const char *our6_2 = "2001:db8:200::10";
	dp_rt.nb_ports = 3;
	dp_rt.ports[0].mac = mac;
	dp_rt.ports[0].ipv4.set = true;
	dp_rt.ports[0].ipv4.len = 24;
	dp_rt.ports[0].ipv4.addr = ip("198.51.100.10");
	dp_rt.ports[0].ipv6.set = true;
	dp_rt.ports[0].ipv6.len = 64;
	dp_rt.ports[0].ipv6.addr = ip(our6);
	dp_rt.ports[1] = dp_rt.ports[0];
	dp_rt.ports[1].ipv6.set = false;
	memset(&dp_rt.ports[2], 0, sizeof(dp_rt.ports[2]));
	dp_rt.ports[2].mac = mac2;
	dp_rt.ports[2].ipv6.set = true;
	dp_rt.ports[2].ipv6.len = 64;
	dp_rt.ports[2].ipv6.addr = ip(our6_2);
	CU_ASSERT_EQUAL_FATAL(dp_udp4_ports.feature_id, fc.id);

	/* a feature without .udp6_burst: IPv6 takes the full parse, IPv4 the short way */
	CU_ASSERT_FALSE(dp_udp4_ports.v6);
	x = frame6(peer, our6, 7000, &mac);
	CU_ASSERT_FALSE(dp_udp6_take(&w, x, 0));
	CU_ASSERT_FALSE(dp_udp4_take(&w, x, 0));
	rte_pktmbuf_free(x);
	CU_ASSERT_EQUAL(w.batch6.n, 0);
	CU_ASSERT_EQUAL(st.rx_packets, 0);

	/* with it (copied at claim time, as .init claims): the same datagram is taken */
	fc.udp6_burst = fast6_in;
	CU_ASSERT_EQUAL(dp_udp_claim(&fc, 7020, 7029), 0);
	CU_ASSERT_TRUE(dp_udp4_ports.v6);
	m[0] = frame6(peer, our6, 7000, &mac);
	CU_ASSERT_FALSE(dp_udp4_take(&w, m[0], 0)); /* not the IPv4 short way's */
	CU_ASSERT_EQUAL(st.rx_packets, 0);
	CU_ASSERT_TRUE(dp_udp6_take(&w, m[0], 0));
	CU_ASSERT_EQUAL(w.batch6.n, 1);
	CU_ASSERT_EQUAL(w.batch4.n, 0);
	CU_ASSERT_EQUAL(w.batch6.d[0].dport, 7000);
	CU_ASSERT_EQUAL(w.batch6.d[0].udp_len, 28);
	CU_ASSERT_EQUAL(w.batch6.d[0].port, 0);
	CU_ASSERT_PTR_EQUAL(w.batch6.d[0].m, m[0]);
	CU_ASSERT_PTR_EQUAL(w.batch6.d[0].ip, rte_pktmbuf_mtod(m[0], uint8_t *) + 14);
	CU_ASSERT_EQUAL(st.rx_packets, 1);
	CU_ASSERT_EQUAL(st.rx_bytes, rte_pktmbuf_pkt_len(m[0]));
	/* an IPv4 datagram is not the IPv6 short way's */
	x = frame4("198.51.100.10", 7000, &mac);
	CU_ASSERT_FALSE(dp_udp6_take(&w, x, 0));
	rte_pktmbuf_free(x);

	/* not taken, nothing counted: a port nobody claimed (either side of a claimed range),
	 * another address (its first and its last byte), another MAC, a zero UDP checksum,
	 * a multicast and an IPv4-mapped source, a port without an IPv6 address */
	struct rte_mbuf *no[9] = {frame6(peer, our6, 7010, &mac),
				  frame6(peer, our6, 7019, &mac),
				  frame6(peer, "2001:db8:100::11", 7001, &mac),
				  frame6(peer, "3001:db8:100::10", 7001, &mac),
				  frame6(peer, our6, 7001, &other),
				  frame6(peer, our6, 7001, &mac),
				  frame6("ff0e::1", our6, 7001, &mac),
				  frame6("::ffff:203.0.113.7", our6, 7001, &mac),
				  frame6(peer, our6, 7001, &mac)};
	memset(rte_pktmbuf_mtod_offset(no[5], uint8_t *, 14 + 40 + 6), 0, 2);
	for (unsigned int i = 0; i < RTE_DIM(no); i++) {
		CU_ASSERT_FALSE(dp_udp6_take(&w, no[i], i == 8 ? 1 : 0));
		if (dp_udp6_take(&w, no[i], i == 8 ? 1 : 0))
			fprintf(stderr, "took frame %u\n", i);
		rte_pktmbuf_free(no[i]);
	}
	/* more than one segment: not the short way's (the frame is in the first) */
	x = frame6(peer, our6, 7001, &mac);
	struct rte_mbuf *tail = rte_pktmbuf_alloc(pool);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tail);
	CU_ASSERT_PTR_NOT_NULL(rte_pktmbuf_append(tail, 4));
	CU_ASSERT_EQUAL(rte_pktmbuf_chain(x, tail), 0);
	CU_ASSERT_EQUAL(x->nb_segs, 2);
	CU_ASSERT_FALSE(dp_udp6_take(&w, x, 0));
	rte_pktmbuf_free(x);
	CU_ASSERT_EQUAL(w.batch6.n, 1);
	CU_ASSERT_EQUAL(st.rx_packets, 1);

	/* the feature takes 7000 and 7022, gives 7001 and 7023 back in their order: udp_in
	 * counts what it took, the IPv4 batch and its handler are not involved */
	m[1] = frame6(peer, our6, 7001, &mac);
	m[2] = frame6(peer, our6, 7022, &mac);
	m[3] = frame6(peer, our6, 7023, &mac);
	for (int i = 1; i < 4; i++)
		CU_ASSERT_TRUE(dp_udp6_take(&w, m[i], 0));
	CU_ASSERT_EQUAL(w.batch6.n, 4);
	CU_ASSERT_EQUAL(st.rx_packets, 4);
	CU_ASSERT_EQUAL(dp_udp4_flush(&w), 0);
	CU_ASSERT_EQUAL(fast_calls, fast_before);
	CU_ASSERT_EQUAL(dp_udp6_flush(&w), 2);
	CU_ASSERT_EQUAL(fast6_calls, 1);
	CU_ASSERT_EQUAL(fast6_seen, 4);
	CU_ASSERT_EQUAL(fast_calls, fast_before);
	CU_ASSERT_PTR_EQUAL(w.batch6.d[0].m, m[1]);
	CU_ASSERT_PTR_EQUAL(w.batch6.d[1].m, m[3]);
	CU_ASSERT_EQUAL(w.batch6.d[1].dport, 7023);
	CU_ASSERT_EQUAL(w.batch6.n, 0);
	CU_ASSERT_EQUAL(st.udp_in, 2);
	CU_ASSERT_EQUAL(st.rx_packets, 4);     /* not again */
	CU_ASSERT_EQUAL(dp_udp6_flush(&w), 0); /* nothing gathered: no call */
	CU_ASSERT_EQUAL(fast6_calls, 1);
	CU_ASSERT_EQUAL(st.udp_in, 2);
	rte_pktmbuf_free(m[1]);
	rte_pktmbuf_free(m[3]);
	/* each port its own MAC and address */
	struct rte_mbuf *cross[3] = {frame6(peer, our6, 7001, &mac),
				     frame6(peer, our6_2, 7001, &mac),
				     frame6(peer, our6_2, 7001, &mac2)};
	CU_ASSERT_FALSE(dp_udp6_take(&w, cross[0], 2));
	CU_ASSERT_FALSE(dp_udp6_take(&w, cross[1], 2));
	CU_ASSERT_FALSE(dp_udp6_take(&w, cross[2], 0));
	rte_pktmbuf_free(cross[0]);
	rte_pktmbuf_free(cross[1]);
	CU_ASSERT_TRUE(dp_udp6_take(&w, cross[2], 2));
	CU_ASSERT_EQUAL(w.batch6.d[0].port, 2);
	CU_ASSERT_EQUAL(dp_udp6_flush(&w), 1);
	CU_ASSERT_PTR_EQUAL(w.batch6.d[0].m, cross[2]);
	rte_pktmbuf_free(cross[2]);
	CU_ASSERT_EQUAL(st.rx_packets, 5);
	CU_ASSERT_EQUAL(st.udp_in, 2);
	/* both ways in one burst, each to its own handler */
	m[0] = frame4("198.51.100.10", 7002, &mac);
	m[1] = frame6(peer, our6, 7004, &mac);
	CU_ASSERT_TRUE(dp_udp4_take(&w, m[0], 0));
	CU_ASSERT_TRUE(dp_udp6_take(&w, m[1], 0));
	CU_ASSERT_EQUAL(dp_udp4_flush(&w), 0);
	CU_ASSERT_EQUAL(dp_udp6_flush(&w), 0);
	CU_ASSERT_EQUAL(fast_calls, fast_before + 1);
	CU_ASSERT_EQUAL(fast6_calls, 3);
	CU_ASSERT_EQUAL(st.udp_in, 4);
	dp_rt.nb_ports = 1;
	memset(&dp_rt.ports[1], 0, 2 * sizeof(dp_rt.ports[1]));
}

/* Run dp_features_init with stderr captured: whether it refused (-EINVAL) with a message
 * naming feature `name`. */
static bool init_refuses(const char *name)
{
	char buf[4096], want[64];
	FILE *t = tmpfile();
	int saved, rc;
	size_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	fflush(stderr);
	saved = dup(2);
	dup2(fileno(t), 2);
	rc = dp_features_init();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(t);
	n = fread(buf, 1, sizeof(buf) - 1, t);
	buf[n] = 0;
	fclose(t);
	if (rc == 0)
		dp_features_teardown();
	snprintf(want, sizeof(want), "feature %s: ", name);
	if (rc != -EINVAL || !strstr(buf, want))
		fprintf(stderr, "init: %d, said: %s", rc, buf);
	return rc == -EINVAL && strstr(buf, want) != NULL;
}

/* One feature at most may take the short way, and only with a burst input and preserved
 * checksums; .udp6_burst only with .udp4_burst: start-up refuses otherwise, naming it. */
static struct dp_feature fe = {.name = "v6_alone",
			       .udp_input = udp_in,
			       .udp_input_burst = burst_in,
			       .udp6_burst = fast6_in,
			       .l4_csum_preserved = true};
static void test_short_way_startup(void)
{
	CU_ASSERT_PTR_NOT_NULL(fc.udp6_burst); /* both ways: fine */
	CU_ASSERT_EQUAL(dp_features_init(), 0);
	dp_features_teardown();
	fc.l4_csum_preserved = false;
	CU_ASSERT_TRUE(init_refuses("short"));
	fc.l4_csum_preserved = true;
	dp_feature_register(&fe);
	CU_ASSERT_TRUE(init_refuses("v6_alone"));
	fe.udp6_burst = NULL; /* that was why */
	CU_ASSERT_EQUAL(dp_features_init(), 0);
	dp_features_teardown();
	fe.udp6_burst = fast6_in;
	fe.udp4_burst = fast_in; /* now a second short-way feature */
	CU_ASSERT_TRUE(init_refuses("v6_alone"));
	fe.udp6_burst = fe.udp4_burst = NULL;
	dp_feature_register(&fd);
	CU_ASSERT_TRUE(init_refuses("short2"));
}

int main(void)
{
	char *eal_args[] = {
	    "test_dp_udp", "--no-huge", "--no-shconf",	 "--no-pci",  "--no-telemetry", "-l", "0",
	    "-m",	   "128",	"--file-prefix", "dp-ut-udp", "--log-level",	"3",  NULL};
	CU_pSuite s;
	unsigned int failed;
	char rundir[512];

	if (rte_eal_init((int)RTE_DIM(eal_args) - 1, eal_args) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	pool = rte_pktmbuf_pool_create("dp_ut_udp", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       SOCKET_ID_ANY);
	if (pool == NULL)
		return 1;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("dp_udp", NULL, NULL);
	CU_add_test(s, "encap IPv4 parses back", test_encap_v4);
	CU_add_test(s, "encap IPv6 parses back", test_encap_v6);
	CU_add_test(s, "finish after rewrite", test_finish_after_rewrite);
	CU_add_test(s, "encap errors", test_encap_errors);
	/* before the claims test, which uses up every range; in this order */
	CU_add_test(s, "the short way in", test_short_way);
	CU_add_test(s, "the short way in, IPv6", test_short_way6);
	CU_add_test(s, "the short way in: start-up refusals", test_short_way_startup);
	CU_add_test(s, "UDP port claims", test_claims);
	CU_add_test(s, "relay rewrite: incremental checksum", test_relay_rewrite);
	CU_add_test(s, "relay rewrite: refusals", test_relay_rewrite_errors);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
	CU_cleanup_registry();
	rte_mempool_free(pool);
	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	rmdir(rundir);
	return failed ? 1 : 0;
}
