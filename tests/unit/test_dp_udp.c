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
	CU_add_test(s, "UDP port claims", test_claims);
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
