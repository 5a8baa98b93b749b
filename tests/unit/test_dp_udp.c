/* SPDX-License-Identifier: BSD-3-Clause */
/* The feature-facing packet helpers of dp_udp.h: dp_udp_encap builds UDP/IP headers in
 * front of a payload and dp_udp_finish fills checksums; the result must pass the
 * dataplane's own parser (lengths, checksums) for IPv4 and IPv6. Also the UDP port
 * claims, and the burst transmit through the next-hop cache (dp_udp_tx4_burst,
 * dp_udp_tx6_burst: frames are looked at in the worker's TX buffers, with a real neighbour
 * table). EAL without hugepages, shared files or telemetry. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dataplane/dp.h"
#include "dataplane/dp_feature.h"
#include "dataplane/dp_neigh.h"
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

static unsigned int udp_in_calls;
static struct dp_pkt_info udp_in_last;
static void udp_in(struct dp_worker *w, struct rte_mbuf *m, struct dp_pkt_info *pi)
{
	(void)w;
	udp_in_calls++;
	udp_in_last = *pi;
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
	CU_ASSERT_EQUAL_FATAL(dp_udp4_ports.r[0].feature_id, fc.id);

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

/* The short way only with a burst input and preserved checksums; .udp6_burst only with
 * .udp4_burst: start-up refuses otherwise, naming the feature. */
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
	fe.udp4_burst = fast_in; /* a second short-way feature: fine (TURN and media) */
	CU_ASSERT_EQUAL(dp_features_init(), 0);
	dp_features_teardown();
	fe.udp6_burst = fe.udp4_burst = NULL;
}

/* Two features on the short way: one burst holds datagrams for both, interleaved; each
 * feature gets only the datagrams to its own ports, in arrival order, and what they decline
 * comes back in front of the batch for the full parse. */
static unsigned fd_seen;
static uint16_t fd_order[16];
static uint16_t fast_in_d(struct dp_worker *w, struct dp_udp4 *d, uint16_t n)
{
	uint16_t back = 0;
	(void)w;
	for (uint16_t i = 0; i < n; i++) {
		fd_order[fd_seen++ % 16] = d[i].dport;
		if (d[i].dport == 7105)
			d[back++] = d[i]; /* declined */
		else
			rte_pktmbuf_free(d[i].m);
	}
	return back;
}

static void test_short_way_two(void)
{
	static struct dp_worker w;
	static struct dp_lcore_stats st;
	const struct rte_ether_addr mac = {{0x02, 0, 0, 0, 0, 0x10}};
	/* fc (7000-7009, declines odd ports) and fd (7100-7109, declines 7105) */
	static const uint16_t ports[] = {7100, 7001, 7101, 7002, 7105, 7003, 7102, 7104};
	struct rte_mbuf *m[RTE_DIM(ports)];
	unsigned calls = fast_calls;

	fd.udp4_burst = fast_in_d;
	dp_feature_register(&fd);
	CU_ASSERT_EQUAL_FATAL(dp_udp_claim(&fd, 7100, 7109), 0);
	memset(&w, 0, sizeof(w));
	w.stats = &st;
	dp_rt.nb_ports = 1;
	dp_rt.ports[0].mac = mac;
	dp_rt.ports[0].ipv4.set = true;
	dp_rt.ports[0].ipv4.len = 24;
	dp_rt.ports[0].ipv4.addr = ip("198.51.100.10");
	CU_ASSERT_EQUAL(dp_udp4_port_owner(7001, false), fc.id);
	CU_ASSERT_EQUAL(dp_udp4_port_owner(7101, false), fd.id);
	CU_ASSERT_EQUAL(dp_udp4_port_owner(7101, true), 0); /* fd takes no IPv6 */
	CU_ASSERT_EQUAL(dp_udp4_port_owner(7050, false), 0);
	for (unsigned i = 0; i < RTE_DIM(ports); i++) {
		m[i] = frame4("198.51.100.10", ports[i], &mac);
		CU_ASSERT_TRUE(dp_udp4_take(&w, m[i], 0));
	}
	CU_ASSERT_TRUE(w.batch4.mixed);
	CU_ASSERT_EQUAL(dp_udp4_flush(&w), 3); /* 7001 and 7003 (fc), 7105 (fd) */
	CU_ASSERT_EQUAL(fast_calls, calls + 1);
	CU_ASSERT_EQUAL(fd_seen, 5);
	static const uint16_t want[] = {7100, 7101, 7105, 7102, 7104}; /* arrival order */
	CU_ASSERT_EQUAL(memcmp(fd_order, want, sizeof(want)), 0);
	CU_ASSERT_FALSE(w.batch4.mixed);
	/* declined: fc's first (the first datagram's feature is served first), then fd's */
	CU_ASSERT_PTR_EQUAL(w.batch4.d[0].m, m[4]);
	CU_ASSERT_PTR_EQUAL(w.batch4.d[1].m, m[1]);
	CU_ASSERT_PTR_EQUAL(w.batch4.d[2].m, m[5]);
	CU_ASSERT_EQUAL(st.udp_in, 5);
	for (unsigned i = 0; i < 3; i++)
		rte_pktmbuf_free(w.batch4.d[i].m);
	/* one feature alone: handed over whole, not mixed */
	for (unsigned i = 0; i < 2; i++)
		CU_ASSERT_TRUE(dp_udp4_take(&w, frame4("198.51.100.10", 7102, &mac), 0));
	CU_ASSERT_FALSE(w.batch4.mixed);
	CU_ASSERT_EQUAL(dp_udp4_flush(&w), 0);
	CU_ASSERT_EQUAL(fd_seen, 7);
}

/* ---- burst transmit through the next-hop cache (dp_udp_tx4_burst, dp_udp_tx6_burst) ---- */

static struct dp_worker tw;
static struct dp_lcore_stats tst;
static struct rte_mempool *meta_pool; /* with room for dp_punt_meta, as dp_rt.pool */

/* One packet handed to a burst: its IP datagram at ip (len bytes) inside m's buffer, out of
 * port index port; dst4 is what dst[] says for it (IPv4: its header's destination unless a
 * test says otherwise); copy is its IP bytes as built. */
struct txp {
	struct rte_mbuf *m;
	uint8_t *ip;
	uint16_t len;
	uint16_t port;
	uint32_t dst4;
	uint8_t copy[128];
};

/* Build a UDP datagram from src to dst (its payload 10 + seed % 9 pattern bytes) whose IP
 * header starts at buffer offset at; then leave m's data offset and lengths somewhere else,
 * as after a rewrite in place: the burst must set them itself. */
static void txp_make(struct txp *t, struct rte_mempool *mp, const char *src, const char *dst,
		     uint16_t port, uint16_t at, unsigned int seed)
{
	struct dp_ipaddr s = ip(src), d = ip(dst);
	uint16_t plen = (uint16_t)(10 + seed % 9), hl = s.family == AF_INET ? 28 : 48;
	uint8_t *p;

	memset(t, 0, sizeof(*t));
	t->m = rte_pktmbuf_alloc(mp);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t->m);
	t->m->data_off = (uint16_t)(at + hl);
	p = (uint8_t *)rte_pktmbuf_append(t->m, plen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	for (unsigned int i = 0; i < plen; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7 + 3);
	CU_ASSERT_EQUAL_FATAL(dp_udp_encap(t->m, &s, (uint16_t)(40000 + seed), &d, 3478), 0);
	t->ip = rte_pktmbuf_mtod(t->m, uint8_t *);
	CU_ASSERT_PTR_EQUAL(t->ip, (uint8_t *)t->m->buf_addr + at);
	t->len = (uint16_t)rte_pktmbuf_pkt_len(t->m);
	CU_ASSERT_FATAL(t->len <= sizeof(t->copy));
	memcpy(t->copy, t->ip, t->len);
	t->port = port;
	t->dst4 = d.family == AF_INET ? d.v4 : 0;
	t->m->data_off = 0;
	t->m->data_len = (uint16_t)(at + t->len + 5);
	t->m->pkt_len = t->m->data_len;
}

/* A packet of family fam (4 or 6) from port 0's address to dst, out of port index port, its
 * IP header at a buffer offset that differs from one packet to the next (even: Ethernet is
 * 2-aligned). */
static unsigned int txp_seed;
static void txp_to(struct txp *t, int fam, const char *dst, uint16_t port)
{
	txp_seed++;
	txp_make(t, meta_pool, fam == 4 ? "198.51.100.10" : "2001:db8:100::10", dst, port,
		 (uint16_t)(40 + (txp_seed % 5) * 14), txp_seed);
}

/* Hand t[0..n-1] to dp_udp_tx4_burst (fam 4) or dp_udp_tx6_burst (fam 6). */
static void txp_send(int fam, struct txp *t, unsigned int n)
{
	struct rte_mbuf *m[16];
	uint8_t *ipp[16];
	uint16_t len[16], port[16];
	uint32_t dst[16];

	CU_ASSERT_FATAL(n <= 16);
	for (unsigned int i = 0; i < n; i++) {
		m[i] = t[i].m;
		ipp[i] = t[i].ip;
		len[i] = t[i].len;
		port[i] = t[i].port;
		dst[i] = t[i].dst4;
	}
	if (fam == 4)
		dp_udp_tx4_burst(&tw, m, ipp, len, port, dst, n);
	else
		dp_udp_tx6_burst(&tw, m, ipp, len, port, n);
}

/* Whether t left as one frame: Ethernet to mac from its port's MAC, right before its
 * untouched IP bytes, offset and lengths set for exactly that. */
static bool txp_sent_ok(const struct txp *t, const struct rte_ether_addr *mac)
{
	const struct rte_mbuf *m = t->m;
	const struct rte_ether_hdr *eth = (const struct rte_ether_hdr *)(t->ip - 14);
	uint16_t type = (t->ip[0] >> 4) == 4 ? RTE_ETHER_TYPE_IPV4 : RTE_ETHER_TYPE_IPV6;
	bool ok = m->data_off == t->ip - 14 - (uint8_t *)m->buf_addr &&
		  m->data_len == t->len + 14 && m->pkt_len == (uint32_t)t->len + 14 &&
		  m->nb_segs == 1 && rte_pktmbuf_mtod(m, const uint8_t *) == (const uint8_t *)eth &&
		  rte_is_same_ether_addr(&eth->dst_addr, mac) &&
		  rte_is_same_ether_addr(&eth->src_addr, &dp_rt.ports[t->port].mac) &&
		  eth->ether_type == rte_cpu_to_be_16(type) && !memcmp(t->ip, t->copy, t->len);

	if (!ok)
		fprintf(
		    stderr,
		    "\n  frame: off %u (want %td) data_len %u pkt_len %u (want %u) dst %02x..%02x "
		    "(want ..%02x) src ..%02x type %04x ip %s\n",
		    m->data_off, t->ip - 14 - (uint8_t *)m->buf_addr, m->data_len, m->pkt_len,
		    t->len + 14, eth->dst_addr.addr_bytes[0], eth->dst_addr.addr_bytes[5],
		    mac->addr_bytes[5], eth->src_addr.addr_bytes[5],
		    rte_be_to_cpu_16(eth->ether_type),
		    memcmp(t->ip, t->copy, t->len) ? "changed" : "same");
	return ok;
}

/* Port p's TX queue holds exactly want[0..n-1]'s mbufs, in that order, each sent as
 * txp_sent_ok to macs[k]; they are then freed and the queue emptied. */
static void expect_tx(uint16_t p, struct txp *const *want, const struct rte_ether_addr *const *macs,
		      unsigned int n)
{
	struct dp_txbuf *b = &tw.tx[p];
	uint32_t bytes = 0;

	CU_ASSERT_EQUAL(b->n, n);
	for (unsigned int k = 0; k < n && k < b->n; k++) {
		CU_ASSERT_PTR_EQUAL(b->pkts[k], want[k]->m);
		CU_ASSERT_TRUE(txp_sent_ok(want[k], macs[k]));
		bytes += rte_pktmbuf_pkt_len(b->pkts[k]);
	}
	/* the queue's byte count (tx_bytes at the flush) is what it holds */
	CU_ASSERT_EQUAL(b->bytes, bytes);
	rte_pktmbuf_free_bulk(b->pkts, b->n);
	b->n = 0;
	b->bytes = 0;
}

/* Free what was dropped or punted; zero the counters. */
static void tw_reset(void)
{
	struct rte_mbuf *m;

	rte_pktmbuf_free_bulk(tw.dropped.pkts, tw.dropped.n);
	tw.dropped.n = 0;
	while (rte_ring_dequeue(tw.punt, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	for (unsigned int p = 0; p < DP_MAX_PORTS; p++)
		CU_ASSERT_EQUAL(tw.tx[p].n, 0);
	memset(&tst, 0, sizeof(tst));
}

/* Whether worker tw's next-hop cache holds a as of the present generation, with mac. */
static bool tw_cached(uint16_t port, const char *a, const struct rte_ether_addr *mac)
{
	struct dp_ipaddr x = ip(a);

	for (unsigned int i = 0; i < DP_NH_CACHE; i++) {
		const struct dp_nh_cache *c = &tw.nh_cache[i];
		if (c->valid && c->port == port && c->gen == dp_neigh_gen &&
		    dp_ipaddr_eq(&c->nh, &x) && rte_is_same_ether_addr(&c->mac, mac))
			return true;
	}
	return false;
}

/* The addresses of one family. Port 0: on-link `on` (its neighbour entry: mac_on), `far`
 * and `far2` off-link through gateway `gw` (mac_gw), `unres` on-link without a neighbour
 * entry, `incompl` on-link being resolved. Port 1 (no gateway): on-link `on1` (mac_on1),
 * `far` unroutable. Chosen so that on, gw and on1 take different slots of the cache (the
 * test checks that they are all cached at once). */
struct fam_addrs {
	int fam;
	const char *on, *gw, *far, *far2, *unres, *incompl, *on1;
	struct rte_ether_addr mac_on, mac_gw, mac_on1, mac_new;
};

static void burst_family(const struct fam_addrs *A)
{
	const struct rte_ether_addr *on = &A->mac_on, *gw = &A->mac_gw, *on1 = &A->mac_on1,
				    *nw = &A->mac_new;
	const int fam = A->fam;
	struct txp t[16];

	{
		struct dp_ipaddr a = ip(A->on), g = ip(A->gw), b = ip(A->on1), i = ip(A->incompl);
		CU_ASSERT_EQUAL_FATAL(dp_neigh_learn(0, &a, on, 0, 1000000, true), 0);
		CU_ASSERT_EQUAL_FATAL(dp_neigh_learn(0, &g, gw, 0, 1000000, true), 0);
		CU_ASSERT_EQUAL_FATAL(dp_neigh_learn(1, &b, on1, 0, 1000000, true), 0);
		CU_ASSERT_EQUAL_FATAL(dp_neigh_want(0, &i, 0, 1000), 1);
	}
	tw_reset();

	/* 1. Resolved next hops, cold then warm: on-link runs and a run through the gateway
	 * (two destinations, one next hop), each to its MAC, in order. */
	for (int warm = 0; warm < 2; warm++) {
		txp_to(&t[0], fam, A->on, 0);
		txp_to(&t[1], fam, A->on, 0);
		txp_to(&t[2], fam, A->on, 0);
		txp_to(&t[3], fam, A->far, 0);
		txp_to(&t[4], fam, A->far2, 0);
		txp_to(&t[5], fam, A->far, 0);
		txp_to(&t[6], fam, A->on, 0);
		txp_send(fam, t, 7);
		expect_tx(0, (struct txp *const[]){&t[0], &t[1], &t[2], &t[3], &t[4], &t[5], &t[6]},
			  (const struct rte_ether_addr *const[]){on, on, on, gw, gw, gw, on}, 7);
		CU_ASSERT_EQUAL(tst.drops[DP_DROP_NEIGH_UNRESOLVED] + tst.drops[DP_DROP_NO_ROUTE] +
				    tst.drops[DP_DROP_TX_INVALID] + tst.drops[DP_DROP_NO_MBUF],
				0);
		CU_ASSERT_EQUAL(tst.neigh_resolve_punts, 0);
		/* both next hops are in the cache now, so that what follows takes it */
		CU_ASSERT_TRUE(tw_cached(0, A->on, on));
		CU_ASSERT_TRUE(tw_cached(0, A->gw, gw));
		tw_reset();
	}

	/* 2. Alternating next hops (warm): each packet to its own, never the previous one's;
	 * port 1's packets out of port 1 from its MAC, port 0's run unbroken around them. */
	txp_to(&t[0], fam, A->on, 0);
	txp_to(&t[1], fam, A->far, 0);
	txp_to(&t[2], fam, A->on, 0);
	txp_to(&t[3], fam, A->far2, 0);
	txp_to(&t[4], fam, A->far, 0);
	txp_to(&t[5], fam, A->on, 0);
	txp_to(&t[6], fam, A->on1, 1);
	txp_to(&t[7], fam, A->on, 0);
	txp_to(&t[8], fam, A->on1, 1);
	txp_to(&t[9], fam, A->far, 0);
	txp_send(fam, t, 10);
	CU_ASSERT_TRUE(tw_cached(1, A->on1, on1));
	txp_to(&t[10], fam, A->on1, 1); /* again, warm: after the burst above */
	txp_to(&t[11], fam, A->on, 0);
	txp_to(&t[12], fam, A->on1, 1);
	txp_to(&t[13], fam, A->far, 0);
	txp_send(fam, &t[10], 4);
	expect_tx(0,
		  (struct txp *const[]){&t[0], &t[1], &t[2], &t[3], &t[4], &t[5], &t[7], &t[9],
					&t[11], &t[13]},
		  (const struct rte_ether_addr *const[]){on, gw, on, gw, gw, on, on, gw, on, gw},
		  10);
	expect_tx(1, (struct txp *const[]){&t[6], &t[8], &t[10], &t[12]},
		  (const struct rte_ether_addr *const[]){on1, on1, on1, on1}, 4);
	CU_ASSERT_EQUAL(tst.neigh_resolve_punts, 0);
	tw_reset();

	/* 3. A next hop without a neighbour entry, within runs of cached ones: it goes the
	 * general way, which punts it to control for resolution (DP_PUNT_RESOLVE, data at
	 * its IP header); the packets after it still leave, each to its MAC. One from a pool
	 * without room for the punt metadata is dropped as neigh_unresolved instead, and so is
	 * one toward a next hop being resolved. */
	txp_to(&t[0], fam, A->on, 0);
	txp_to(&t[1], fam, A->unres, 0);
	txp_to(&t[2], fam, A->on, 0);
	txp_to(&t[3], fam, A->far, 0);
	txp_to(&t[4], fam, A->unres, 0);
	txp_to(&t[5], fam, A->far2, 0);
	txp_to(&t[6], fam, A->incompl, 0);
	txp_to(&t[7], fam, A->far, 0);
	txp_make(&t[8], pool, fam == 4 ? "198.51.100.10" : "2001:db8:100::10", A->unres, 0, 50, 99);
	txp_to(&t[9], fam, A->on, 0);
	txp_send(fam, t, 10);
	expect_tx(0, (struct txp *const[]){&t[0], &t[2], &t[3], &t[5], &t[7], &t[9]},
		  (const struct rte_ether_addr *const[]){on, on, gw, gw, gw, on}, 6);
	CU_ASSERT_EQUAL(tst.neigh_resolve_punts, 2);
	CU_ASSERT_EQUAL(tst.drops[DP_DROP_NEIGH_UNRESOLVED], 2);
	CU_ASSERT_EQUAL(tw.dropped.n, 2);
	CU_ASSERT_PTR_EQUAL(tw.dropped.pkts[0], t[6].m);
	CU_ASSERT_PTR_EQUAL(tw.dropped.pkts[1], t[8].m);
	CU_ASSERT_EQUAL(rte_ring_count(tw.punt), 2);
	for (unsigned int k = 0; k < 2; k++) {
		struct rte_mbuf *m = NULL;
		struct txp *w = k ? &t[4] : &t[1];
		struct dp_ipaddr u = ip(A->unres);

		CU_ASSERT_EQUAL_FATAL(rte_ring_dequeue(tw.punt, (void **)&m), 0);
		CU_ASSERT_PTR_EQUAL(m, w->m);
		CU_ASSERT_EQUAL(dp_mbuf_meta(m)->kind, DP_PUNT_RESOLVE);
		CU_ASSERT_EQUAL(dp_mbuf_meta(m)->port, 0);
		CU_ASSERT_TRUE(dp_ipaddr_eq(&dp_mbuf_meta(m)->nexthop, &u));
		CU_ASSERT_PTR_EQUAL(rte_pktmbuf_mtod(m, uint8_t *), w->ip);
		CU_ASSERT_EQUAL(rte_pktmbuf_data_len(m), w->len);
		CU_ASSERT_EQUAL(rte_pktmbuf_pkt_len(m), w->len);
		CU_ASSERT_EQUAL(memcmp(w->ip, w->copy, w->len), 0);
		rte_pktmbuf_free(m);
	}
	tw_reset();

	/* 4. The other ways the cache cannot answer: a port index past the ports (dropped:
	 * tx_invalid), an IP header too close to the buffer's start for Ethernet (no_mbuf), no
	 * route (no_route); the cached packets around them leave. */
	txp_to(&t[0], fam, A->on, 7);
	txp_to(&t[1], fam, A->on, 0);
	txp_make(&t[2], meta_pool, fam == 4 ? "198.51.100.10" : "2001:db8:100::10", A->on, 0, 12,
		 7);
	txp_to(&t[3], fam, A->on, 0);
	txp_to(&t[4], fam, A->far, 1);
	txp_to(&t[5], fam, A->on1, 1);
	txp_to(&t[6], fam, A->far, 0);
	/* just room for Ethernet: the frame starts at the buffer's first byte */
	txp_make(&t[7], meta_pool, fam == 4 ? "198.51.100.10" : "2001:db8:100::10", A->on, 0, 14,
		 8);
	txp_send(fam, t, 8);
	CU_ASSERT_EQUAL(t[7].m->data_off, 0);
	expect_tx(0, (struct txp *const[]){&t[1], &t[3], &t[6], &t[7]},
		  (const struct rte_ether_addr *const[]){on, on, gw, on}, 4);
	expect_tx(1, (struct txp *const[]){&t[5]}, (const struct rte_ether_addr *const[]){on1}, 1);
	CU_ASSERT_EQUAL(tst.drops[DP_DROP_TX_INVALID], 1);
	CU_ASSERT_EQUAL(tst.drops[DP_DROP_NO_MBUF], 1);
	CU_ASSERT_EQUAL(tst.drops[DP_DROP_NO_ROUTE], 1);
	CU_ASSERT_EQUAL(tst.drops[DP_DROP_NEIGH_UNRESOLVED], 0);
	CU_ASSERT_EQUAL(tw.dropped.n, 3);
	tw_reset();

	/* 5. The table changes (its generation moves): the on-link next hop's MAC changes, so
	 * the next burst sends to the new MAC, not the cached old one; the gateway's entry is
	 * unchanged. Then the entry goes: the next burst does not use the cache either, it
	 * punts for resolution. */
	{
		struct dp_ipaddr a = ip(A->on);

		txp_to(&t[0], fam, A->on, 0);
		txp_to(&t[1], fam, A->on, 0);
		txp_send(fam, t, 2);
		expect_tx(0, (struct txp *const[]){&t[0], &t[1]},
			  (const struct rte_ether_addr *const[]){on, on}, 2);
		CU_ASSERT_TRUE(tw_cached(0, A->on, on));
		uint32_t g0 = dp_neigh_gen;
		CU_ASSERT_EQUAL(dp_neigh_learn(0, &a, nw, 0, 1000000, false), 0);
		CU_ASSERT_NOT_EQUAL(dp_neigh_gen, g0);
		txp_to(&t[0], fam, A->on, 0);
		txp_to(&t[1], fam, A->far, 0);
		txp_to(&t[2], fam, A->on, 0);
		txp_to(&t[3], fam, A->on, 0);
		txp_send(fam, t, 4);
		expect_tx(0, (struct txp *const[]){&t[0], &t[1], &t[2], &t[3]},
			  (const struct rte_ether_addr *const[]){nw, gw, nw, nw}, 4);
		/* the same again, warm under the new generation */
		txp_to(&t[0], fam, A->on, 0);
		txp_to(&t[1], fam, A->far, 0);
		txp_to(&t[2], fam, A->on, 0);
		txp_send(fam, t, 3);
		expect_tx(0, (struct txp *const[]){&t[0], &t[1], &t[2]},
			  (const struct rte_ether_addr *const[]){nw, gw, nw}, 3);
		CU_ASSERT_TRUE(tw_cached(0, A->on, nw));
		CU_ASSERT_EQUAL(dp_neigh_del(0, &a), 0);
		txp_to(&t[0], fam, A->on, 0);
		txp_to(&t[1], fam, A->far, 0);
		txp_to(&t[2], fam, A->on, 0);
		txp_send(fam, t, 3);
		expect_tx(0, (struct txp *const[]){&t[1]},
			  (const struct rte_ether_addr *const[]){gw}, 1);
		CU_ASSERT_EQUAL(tst.neigh_resolve_punts, 2);
		CU_ASSERT_EQUAL(rte_ring_count(tw.punt), 2);
		tw_reset();
		CU_ASSERT_EQUAL(dp_neigh_learn(0, &a, on, 0, 1000000, true), 0);
	}
}

static void test_tx_burst(void)
{
	static const struct fam_addrs v4 = {
	    .fam = 4,
	    /* on in the prefix's upper half and far2 right past it: a mask one bit off
	     * either way sends one of them the wrong way */
	    .on = "198.51.100.148",
	    .gw = "198.51.100.1",
	    .far = "203.0.113.50",
	    .far2 = "198.51.101.51",
	    .unres = "198.51.100.30",
	    .incompl = "198.51.100.31",
	    .on1 = "192.0.2.20",
	    .mac_on = {{0x02, 0, 0, 0, 4, 0x01}},
	    .mac_gw = {{0x02, 0, 0, 0, 4, 0x02}},
	    .mac_on1 = {{0x02, 0, 0, 0, 4, 0x03}},
	    .mac_new = {{0x02, 0, 0, 0, 4, 0x04}},
	};
	static const struct fam_addrs v6 = {
	    .fam = 6,
	    /* on with the interface identifier's first bit set, far2 right past the
	     * prefix, and port 1's on1 inside a /61 (a mask that ends inside a byte) */
	    .on = "2001:db8:100:0:8000::20",
	    .gw = "2001:db8:100::1",
	    .far = "2001:db8:7::50",
	    .far2 = "2001:db8:100:1::51",
	    .unres = "2001:db8:100::30",
	    .incompl = "2001:db8:100::31",
	    .on1 = "2001:db8:200:7::22",
	    .mac_on = {{0x02, 0, 0, 0, 6, 0x01}},
	    .mac_gw = {{0x02, 0, 0, 0, 6, 0x02}},
	    .mac_on1 = {{0x02, 0, 0, 0, 6, 0x03}},
	    .mac_new = {{0x02, 0, 0, 0, 6, 0x04}},
	};
	const struct rte_ether_addr p0 = {{0x02, 0, 0, 0, 0, 0xa0}},
				    p1 = {{0x02, 0, 0, 0, 0, 0xa1}};
	const uint32_t burst_size = dp_cfg.dp.burst_size;
	const unsigned int nb_ports = dp_rt.nb_ports;
	struct txp t[4];

	meta_pool = rte_pktmbuf_pool_create(
	    "dp_ut_meta", 255, 0, RTE_ALIGN(sizeof(struct dp_punt_meta), RTE_MBUF_PRIV_ALIGN),
	    RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	CU_ASSERT_PTR_NOT_NULL_FATAL(meta_pool);
	CU_ASSERT_EQUAL_FATAL(dp_neigh_init(64, NULL, SOCKET_ID_ANY), 0);
	memset(&tw, 0, sizeof(tw));
	tw.stats = &tst;
	tw.punt = rte_ring_create("dp_ut_punt", 64, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tw.punt);
	/* what the worker queues stays in tw.tx[] to be looked at (no flush to a device) */
	dp_cfg.dp.burst_size = DP_MAX_BURST;
	/* port 0: 198.51.100.10/24 via 198.51.100.1, 2001:db8:100::10/64 via
	 * 2001:db8:100::1; port 1: 192.0.2.10/24, 2001:db8:200::10/61, no gateway */
	memset(&dp_rt.ports[0], 0, 2 * sizeof(dp_rt.ports[0]));
	dp_rt.nb_ports = 2;
	dp_rt.ports[0].mac = p0;
	dp_rt.ports[0].ipv4 =
	    (struct dp_prefix){.set = true, .len = 24, .addr = ip("198.51.100.10")};
	dp_rt.ports[0].ipv6 =
	    (struct dp_prefix){.set = true, .len = 64, .addr = ip("2001:db8:100::10")};
	dp_rt.ports[0].gateway4 = ip("198.51.100.1");
	dp_rt.ports[0].gateway6 = ip("2001:db8:100::1");
	dp_rt.ports[1].mac = p1;
	dp_rt.ports[1].ipv4 = (struct dp_prefix){.set = true, .len = 24, .addr = ip("192.0.2.10")};
	dp_rt.ports[1].ipv6 =
	    (struct dp_prefix){.set = true, .len = 61, .addr = ip("2001:db8:200::10")};

	burst_family(&v4);
	burst_family(&v6);

	/* IPv4: the next hop comes from dst[], not from the header. With both next hops
	 * cached, a header saying off-link but dst[] on-link leaves to the on-link MAC, and
	 * the other way round to the gateway's. (The contract is that dst[i] is the header's
	 * destination: when the cache cannot answer, dp_udp_tx routes by the header.) */
	tw_reset();
	txp_to(&t[0], 4, v4.on, 0);
	txp_to(&t[1], 4, v4.far, 0);
	txp_send(4, t, 2); /* warms both */
	expect_tx(0, (struct txp *const[]){&t[0], &t[1]},
		  (const struct rte_ether_addr *const[]){&v4.mac_on, &v4.mac_gw}, 2);
	CU_ASSERT_TRUE(tw_cached(0, v4.on, &v4.mac_on) && tw_cached(0, v4.gw, &v4.mac_gw));
	txp_to(&t[0], 4, v4.far, 0);
	t[0].dst4 = ip(v4.on).v4;
	txp_to(&t[1], 4, v4.on, 0);
	t[1].dst4 = ip(v4.far).v4;
	txp_to(&t[2], 4, v4.far2, 0);
	t[2].dst4 = ip(v4.on).v4;
	txp_send(4, t, 3);
	expect_tx(0, (struct txp *const[]){&t[0], &t[1], &t[2]},
		  (const struct rte_ether_addr *const[]){&v4.mac_on, &v4.mac_gw, &v4.mac_on}, 3);
	/* IPv6: the destination is read from the header (ip + 24): the same packet with its
	 * destination rewritten from on-link to off-link goes to the gateway instead. */
	txp_to(&t[0], 6, v6.on, 0);
	txp_to(&t[1], 6, v6.on, 0);
	memcpy(t[1].ip + 24, ip(v6.far).v6, 16);
	memcpy(t[1].copy + 24, ip(v6.far).v6, 16);
	txp_send(6, t, 2);
	expect_tx(0, (struct txp *const[]){&t[0], &t[1]},
		  (const struct rte_ether_addr *const[]){&v6.mac_on, &v6.mac_gw}, 2);
	CU_ASSERT_EQUAL(tst.neigh_resolve_punts + tw.dropped.n, 0);
	tw_reset();

	dp_cfg.dp.burst_size = burst_size;
	memset(&dp_rt.ports[0], 0, 2 * sizeof(dp_rt.ports[0]));
	dp_rt.nb_ports = nb_ports;
	rte_ring_free(tw.punt);
	dp_neigh_fini();
	rte_mempool_free(meta_pool);
}

/* The hairpin: a feature sending to one of our own addresses hands the datagram to the
 * feature that owns its port, inside the dataplane (a device reaching the media anchor
 * through our TURN relay); never to a port nobody claimed, and never back to the feature
 * that owns the sending port (a loop). Runs after test_claims (fa: 3470-3480, fb:
 * 49152-65535), on a pool with room for dp_punt_meta as dp_rt.pool. */
static void test_hairpin(void)
{
	static struct rte_mempool *hp;
	static struct dp_worker w;
	static struct dp_lcore_stats st;
	const struct rte_ether_addr mac = {{0x02, 0, 0, 0, 0, 0x10}};
	struct dp_ipaddr ours = ip("198.51.100.10"), peer = ip("203.0.113.7");
	struct {
		uint16_t sport, dport;
		const struct dp_ipaddr *dst;
		int queued; /* 1: handed over, 0: refused, -1: not ours (to the wire) */
	} cases[] = {
	    {3478, 49200, &ours, 1},  /* fa -> fb */
	    {49200, 3478, &ours, 1},  /* fb -> fa */
	    {3478, 3479, &ours, 0},   /* fa -> fa: a loop */
	    {49200, 60000, &ours, 0}, /* fb -> fb */
	    {3478, 7777, &ours, 0},   /* to a port nobody claimed */
	    {3478, 49200, &peer, -1}, /* not ours */
	};
	const unsigned int before_refused = st.drops[DP_DROP_UDP_HAIRPIN_REFUSED];

	hp = rte_pktmbuf_pool_create("dp_ut_hairpin", 63, 0,
				     RTE_ALIGN(sizeof(struct dp_punt_meta), RTE_MBUF_PRIV_ALIGN),
				     RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	CU_ASSERT_PTR_NOT_NULL_FATAL(hp);
	memset(&w, 0, sizeof(w));
	w.stats = &st;
	w.index = 1; /* not worker 0: control's ring is not ours to drain */
	dp_rt.nb_ports = 1;
	memset(&dp_rt.ports[0], 0, sizeof(dp_rt.ports[0]));
	dp_rt.ports[0].mac = mac;
	dp_rt.ports[0].ipv4.set = true;
	dp_rt.ports[0].ipv4.len = 24;
	dp_rt.ports[0].ipv4.addr = ours;
	for (unsigned int i = 0; i < RTE_DIM(cases); i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(hp);
		CU_ASSERT_PTR_NOT_NULL_FATAL(m);
		memset(rte_pktmbuf_append(m, 40), 0x5a, 40);
		CU_ASSERT_EQUAL_FATAL(
		    dp_udp_encap(m, &ours, cases[i].sport, cases[i].dst, cases[i].dport), 0);
		unsigned int refused = st.drops[DP_DROP_UDP_HAIRPIN_REFUSED], q = w.hairpin.n;
		int rc = dp_udp_tx(&w, m, 0);
		if (cases[i].queued == 1) {
			CU_ASSERT_EQUAL(rc, 0);
			CU_ASSERT_EQUAL(w.hairpin.n, q + 1);
			CU_ASSERT_EQUAL(dp_mbuf_meta(m)->port, 0);
			CU_ASSERT_EQUAL(w.tx[0].n, 0); /* nothing for the wire */
		} else if (cases[i].queued == 0) {
			CU_ASSERT_EQUAL(w.hairpin.n, q);
			CU_ASSERT_EQUAL(st.drops[DP_DROP_UDP_HAIRPIN_REFUSED], refused + 1);
		} else {
			CU_ASSERT_EQUAL(w.hairpin.n, q); /* went the wire's way */
			CU_ASSERT_EQUAL(st.drops[DP_DROP_UDP_HAIRPIN_REFUSED], refused);
		}
	}
	CU_ASSERT_EQUAL(st.drops[DP_DROP_UDP_HAIRPIN_REFUSED], before_refused + 3);
	/* the way in: each reaches its feature as a datagram from our address and port */
	unsigned int calls = udp_in_calls;
	CU_ASSERT_EQUAL(dp_worker_hairpin(&w), 2);
	CU_ASSERT_EQUAL(w.hairpin.n, 0);
	CU_ASSERT_EQUAL(udp_in_calls, calls + 2);
	CU_ASSERT_EQUAL(st.hairpin, 2);
	CU_ASSERT_EQUAL(udp_in_last.sport, 49200);
	CU_ASSERT_EQUAL(udp_in_last.dport, 3478);
	CU_ASSERT_TRUE(udp_in_last.src.family == AF_INET && udp_in_last.src.v4 == ours.v4);
	CU_ASSERT_EQUAL(udp_in_last.payload_len, 40);
	CU_ASSERT_EQUAL(st.drops[DP_DROP_UDP_BAD_CSUM], 0);
	/* the one to a peer took the wire's way (its next hop unknown here): it was dropped
	 * or punted for resolution, and nothing is left of the others */
	dp_worker_flush(&w);
	struct rte_mbuf *left;
	while (w.punt && rte_ring_sc_dequeue(w.punt, (void **)&left) == 0)
		rte_pktmbuf_free(left);
	rte_pktmbuf_free_bulk(w.dropped.pkts, w.dropped.n);
	w.dropped.n = 0;
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(hp), 0);
	rte_mempool_free(hp);
}

/* dp_punt_return: control hands a punted packet back to the worker that punted it, which
 * gives it to the feature's input again (fa has neither .udp_returned nor a burst input:
 * .udp_input); when that worker's ring is full, it is dropped as punt_ring_full. */
static void test_punt_return(void)
{
	struct rte_mempool *mp = rte_pktmbuf_pool_create(
	    "dp_ut_back", 63, 0, RTE_ALIGN(sizeof(struct dp_punt_meta), RTE_MBUF_PRIV_ALIGN),
	    RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	struct dp_worker *w = &dp_rt.workers[0];
	static struct dp_lcore_stats st;
	const unsigned int saved_nb = dp_rt.nb_workers;
	struct rte_mbuf *m[3];

	CU_ASSERT_PTR_NOT_NULL_FATAL(mp);
	memset(w, 0, sizeof(*w));
	w->stats = &st;
	w->back = rte_ring_create("dp_ut_back", 2, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w->back); /* a ring of 2 holds one */
	dp_rt.nb_workers = 1;
	for (int i = 0; i < 3; i++) {
		m[i] = rte_pktmbuf_alloc(mp);
		CU_ASSERT_PTR_NOT_NULL_FATAL(m[i]);
		struct dp_punt_meta *meta = dp_mbuf_meta(m[i]);
		memset(meta, 0, sizeof(*meta));
		meta->kind = DP_PUNT_FEATURE;
		meta->feature_id = fa.id;
		meta->worker = (uint8_t)(i == 2 ? 7 : 0); /* no worker 7: dropped */
		meta->pi.dport = (uint16_t)(3478 + i);
		meta->pi.sport = 5000;
	}
	uint64_t full = dp_stats[rte_lcore_id()].drops[DP_DROP_PUNT_RING_FULL];
	dp_punt_return(m[0]);
	dp_punt_return(m[1]); /* the ring is full */
	dp_punt_return(m[2]);
	CU_ASSERT_EQUAL(dp_stats[rte_lcore_id()].drops[DP_DROP_PUNT_RING_FULL], full + 2);
	unsigned int calls = udp_in_calls;
	CU_ASSERT_EQUAL(dp_worker_returned(w), 1);
	CU_ASSERT_EQUAL(udp_in_calls, calls + 1);
	CU_ASSERT_EQUAL(udp_in_last.dport, 3478);
	CU_ASSERT_EQUAL(udp_in_last.sport, 5000);
	CU_ASSERT_EQUAL(dp_worker_returned(w), 0);
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(mp), 0);
	rte_ring_free(w->back);
	memset(w, 0, sizeof(*w));
	dp_rt.nb_workers = saved_nb;
	rte_mempool_free(mp);
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
	CU_add_test(s, "the short way in: two features in one burst", test_short_way_two);
	CU_add_test(s, "UDP port claims", test_claims);
	CU_add_test(s, "relay rewrite: incremental checksum", test_relay_rewrite);
	CU_add_test(s, "relay rewrite: refusals", test_relay_rewrite_errors);
	CU_add_test(s, "burst transmit through the next-hop cache (IPv4 and IPv6)", test_tx_burst);
	CU_add_test(s, "hairpin: to our own address, to the other feature", test_hairpin);
	CU_add_test(s, "a punted packet handed back to its worker", test_punt_return);
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
