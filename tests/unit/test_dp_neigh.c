/* SPDX-License-Identifier: BSD-3-Clause */
/* The neighbour table: insert (learn), lookup, incomplete entries and their requests,
 * expiry, merge-only learning, dump. Runs EAL without hugepages or shared files. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <rte_eal.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "dataplane/dp_neigh.h"

static struct rte_rcu_qsbr *rcu;
static const struct rte_ether_addr mac1 = {{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}};
static const struct rte_ether_addr mac2 = {{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee}};

static struct dp_ipaddr ip(const char *s)
{
	struct dp_ipaddr a;

	memset(&a, 0, sizeof(a));
	if (strchr(s, ':')) {
		a.family = AF_INET6;
		inet_pton(AF_INET6, s, a.v6);
	} else {
		a.family = AF_INET;
		inet_pton(AF_INET, s, &a.v4);
	}
	return a;
}

static unsigned int probes_sent;
static struct dp_ipaddr last_probe;

static void probe(uint16_t port, const struct dp_ipaddr *a, void *arg)
{
	(void)port;
	(void)arg;
	probes_sent++;
	last_probe = *a;
}

static void test_learn_lookup(void)
{
	struct dp_ipaddr a = ip("198.51.100.20"), b = ip("2001:db8:100::20");
	struct rte_ether_addr m;

	CU_ASSERT_EQUAL(dp_neigh_lookup(0, &a, &m), -ENOENT);
	CU_ASSERT_EQUAL(dp_neigh_learn(0, &a, &mac1, 1000, 5000, true), 0);
	CU_ASSERT_EQUAL(dp_neigh_learn(0, &b, &mac2, 1000, 5000, true), 0);
	CU_ASSERT_EQUAL(dp_neigh_count(), 2);
	CU_ASSERT_EQUAL(dp_neigh_lookup(0, &a, &m), 0);
	CU_ASSERT_TRUE(rte_is_same_ether_addr(&m, &mac1));
	CU_ASSERT_EQUAL(dp_neigh_lookup(0, &b, &m), 0);
	CU_ASSERT_TRUE(rte_is_same_ether_addr(&m, &mac2));
	/* Keys include the port. */
	CU_ASSERT_EQUAL(dp_neigh_lookup(1, &a, &m), -ENOENT);
	/* Update in place: new MAC, same entry. */
	CU_ASSERT_EQUAL(dp_neigh_learn(0, &a, &mac2, 2000, 5000, true), 0);
	CU_ASSERT_EQUAL(dp_neigh_count(), 2);
	CU_ASSERT_EQUAL(dp_neigh_lookup(0, &a, &m), 0);
	CU_ASSERT_TRUE(rte_is_same_ether_addr(&m, &mac2));
	/* Merge-only learning does not create. */
	struct dp_ipaddr c = ip("198.51.100.99");
	CU_ASSERT_EQUAL(dp_neigh_learn(0, &c, &mac1, 2000, 5000, false), -ENOENT);
	CU_ASSERT_EQUAL(dp_neigh_lookup(0, &c, &m), -ENOENT);
	CU_ASSERT_EQUAL(dp_neigh_count(), 2);
}

static void test_expiry(void)
{
	struct dp_ipaddr a = ip("198.51.100.20"), b = ip("2001:db8:100::20");
	struct rte_ether_addr m;
	struct dp_neigh_info d[4];

	/* a was refreshed at 2000 (+5000), b learned at 1000 (+5000). retry 1000, 3 probes. */
	probes_sent = 0;
	CU_ASSERT_EQUAL(dp_neigh_timer(5999, 1000, 3, probe, NULL), 0);
	CU_ASSERT_EQUAL(probes_sent, 0);
	/* b's lifetime is over: it is re-confirmed, and still usable meanwhile. */
	CU_ASSERT_EQUAL(dp_neigh_timer(6000, 1000, 3, probe, NULL), 0);
	CU_ASSERT_EQUAL(probes_sent, 1);
	CU_ASSERT_TRUE(dp_ipaddr_eq(&last_probe, &b));
	CU_ASSERT_EQUAL(dp_neigh_lookup(0, &b, &m), 0);
	CU_ASSERT_EQUAL(dp_neigh_dump(d, 4), 2);
	CU_ASSERT(d[0].state == DP_NEIGH_PROBE || d[1].state == DP_NEIGH_PROBE);
	/* a: first probe; b: second. */
	CU_ASSERT_EQUAL(dp_neigh_timer(7000, 1000, 3, probe, NULL), 0);
	CU_ASSERT_EQUAL(probes_sent, 3);
	/* An answer for a brings it back to REACHABLE for a full lifetime. */
	CU_ASSERT_EQUAL(dp_neigh_learn(0, &a, &mac1, 7500, 5000, false), 0);
	CU_ASSERT_EQUAL(dp_neigh_timer(8000, 1000, 3, probe, NULL), 0); /* b: third probe */
	CU_ASSERT_EQUAL(probes_sent, 4);
	/* b never answered three probes: removed. a is fine. */
	CU_ASSERT_EQUAL(dp_neigh_timer(9000, 1000, 3, probe, NULL), 1);
	CU_ASSERT_EQUAL(dp_neigh_lookup(0, &b, &m), -ENOENT);
	CU_ASSERT_EQUAL(dp_neigh_lookup(0, &a, &m), 0);
	CU_ASSERT_TRUE(rte_is_same_ether_addr(&m, &mac1));
	CU_ASSERT_EQUAL(probes_sent, 4);
	/* a expires at 12500, then 3 probes 1000 apart, then goes. */
	CU_ASSERT_EQUAL(dp_neigh_timer(12500, 1000, 3, probe, NULL), 0);
	CU_ASSERT_EQUAL(dp_neigh_timer(13500, 1000, 3, probe, NULL), 0);
	CU_ASSERT_EQUAL(dp_neigh_timer(14500, 1000, 3, probe, NULL), 0);
	CU_ASSERT_EQUAL(probes_sent, 7);
	CU_ASSERT_EQUAL(dp_neigh_lookup(0, &a, &m), 0);
	CU_ASSERT_EQUAL(dp_neigh_timer(15500, 1000, 3, probe, NULL), 1);
	CU_ASSERT_EQUAL(dp_neigh_lookup(0, &a, &m), -ENOENT);
	CU_ASSERT_EQUAL(dp_neigh_count(), 0);
	rte_rcu_qsbr_quiescent(rcu, 1);
}

static void test_resolution(void)
{
	struct dp_ipaddr gw = ip("198.51.100.1");
	struct rte_ether_addr m;

	/* First want: create INCOMPLETE, caller sends the first request. */
	CU_ASSERT_EQUAL(dp_neigh_want(0, &gw, 10000, 1000), 1);
	CU_ASSERT_EQUAL(dp_neigh_lookup(0, &gw, &m), -EAGAIN);
	/* Asking again while pending sends nothing more. */
	CU_ASSERT_EQUAL(dp_neigh_want(0, &gw, 10100, 1000), 0);
	/* The timer repeats the request every retry_ms, up to 3 requests. */
	probes_sent = 0;
	CU_ASSERT_EQUAL(dp_neigh_timer(10999, 1000, 3, probe, NULL), 0);
	CU_ASSERT_EQUAL(probes_sent, 0);
	CU_ASSERT_EQUAL(dp_neigh_timer(11000, 1000, 3, probe, NULL), 0);
	CU_ASSERT_EQUAL(probes_sent, 1);
	CU_ASSERT_TRUE(dp_ipaddr_eq(&last_probe, &gw));
	CU_ASSERT_EQUAL(dp_neigh_timer(12000, 1000, 3, probe, NULL), 0);
	CU_ASSERT_EQUAL(probes_sent, 2);
	/* No answer after the third: the entry goes, so a later packet starts over. */
	CU_ASSERT_EQUAL(dp_neigh_timer(13000, 1000, 3, probe, NULL), 1);
	CU_ASSERT_EQUAL(probes_sent, 2);
	CU_ASSERT_EQUAL(dp_neigh_lookup(0, &gw, &m), -ENOENT);
	rte_rcu_qsbr_quiescent(rcu, 1);

	/* Now with an answer: the reply completes the entry (merge-only learning is enough
	 * since the entry exists). */
	CU_ASSERT_EQUAL(dp_neigh_want(0, &gw, 20000, 1000), 1);
	CU_ASSERT_EQUAL(dp_neigh_learn(0, &gw, &mac1, 20010, 300000, false), 0);
	CU_ASSERT_EQUAL(dp_neigh_lookup(0, &gw, &m), 0);
	CU_ASSERT_TRUE(rte_is_same_ether_addr(&m, &mac1));
	CU_ASSERT_EQUAL(dp_neigh_want(0, &gw, 20020, 1000), 0);
	struct dp_neigh_info d[4];
	CU_ASSERT_EQUAL(dp_neigh_dump(d, 4), 1);
	CU_ASSERT_EQUAL(d[0].state, DP_NEIGH_REACHABLE);
	CU_ASSERT_EQUAL(d[0].expires_ms, 320010);
	CU_ASSERT_TRUE(dp_ipaddr_eq(&d[0].addr, &gw));
	CU_ASSERT_EQUAL(dp_neigh_del(0, &gw), 0);
	CU_ASSERT_EQUAL(dp_neigh_del(0, &gw), -ENOENT);
	rte_rcu_qsbr_quiescent(rcu, 1);
}

static int released_sent, released_dropped;
static void *released_pkt;

static void on_release(void *pkt, uint16_t port, const struct rte_ether_addr *mac)
{
	(void)port;
	released_pkt = pkt;
	if (mac) {
		released_sent++;
		CU_ASSERT_TRUE(rte_is_same_ether_addr(mac, &mac2));
	} else {
		released_dropped++;
	}
}

static void test_park(void)
{
	struct dp_ipaddr h = ip("198.51.100.77"), u = ip("198.51.100.78");
	int p1, p2, p3;
	void *old;

	dp_neigh_set_release(on_release);
	/* No entry: cannot park. */
	CU_ASSERT_EQUAL(dp_neigh_park(0, &h, &p1, &old), -ENOENT);
	CU_ASSERT_EQUAL(dp_neigh_want(0, &h, 30000, 1000), 1);
	CU_ASSERT_EQUAL(dp_neigh_park(0, &h, &p1, &old), 0);
	CU_ASSERT_PTR_NULL(old);
	/* One per entry: the newer replaces the older, which comes back to be dropped. */
	CU_ASSERT_EQUAL(dp_neigh_park(0, &h, &p2, &old), 0);
	CU_ASSERT_PTR_EQUAL(old, &p1);
	/* The answer releases the parked packet for sending, once. */
	CU_ASSERT_EQUAL(dp_neigh_learn(0, &h, &mac2, 30100, 5000, false), 0);
	CU_ASSERT_EQUAL(released_sent, 1);
	CU_ASSERT_PTR_EQUAL(released_pkt, &p2);
	CU_ASSERT_EQUAL(dp_neigh_learn(0, &h, &mac2, 30200, 5000, false), 0);
	CU_ASSERT_EQUAL(released_sent, 1);
	/* Resolved entries do not park: send now. */
	CU_ASSERT_EQUAL(dp_neigh_park(0, &h, &p3, &old), -EEXIST);
	/* A hop that never answers: its parked packet is dropped with the entry. */
	CU_ASSERT_EQUAL(dp_neigh_want(0, &u, 30000, 1000), 1);
	CU_ASSERT_EQUAL(dp_neigh_park(0, &u, &p3, &old), 0);
	/* (dp_neigh_want sent the only request allowed: removed when its wait is over.) */
	CU_ASSERT_EQUAL(dp_neigh_timer(30999, 1000, 1, NULL, NULL), 0);
	CU_ASSERT_EQUAL(released_dropped, 0);
	CU_ASSERT_EQUAL(dp_neigh_timer(31000, 1000, 1, NULL, NULL), 1);
	CU_ASSERT_EQUAL(released_dropped, 1);
	CU_ASSERT_PTR_EQUAL(released_pkt, &p3);
	CU_ASSERT_EQUAL(dp_neigh_del(0, &h), 0);
	CU_ASSERT_EQUAL(dp_neigh_count(), 0);
	dp_neigh_set_release(NULL);
	rte_rcu_qsbr_quiescent(rcu, 1);
}

static void test_full(void)
{
	/* 64 entries requested; the table holds at least that many, then says -ENOSPC
	 * rather than evicting. Deleted slots come back after a grace period. */
	unsigned int i, ok = 0;
	int rc = 0;
	char buf[32];

	for (i = 0; i < 2000; i++) {
		snprintf(buf, sizeof(buf), "10.0.%u.%u", i / 250, i % 250 + 1);
		struct dp_ipaddr a = ip(buf);
		rc = dp_neigh_learn(0, &a, &mac1, 0, 1000, true);
		if (rc)
			break;
		ok++;
	}
	CU_ASSERT(ok >= 64);
	CU_ASSERT_EQUAL(rc, -ENOSPC);
	CU_ASSERT_EQUAL(dp_neigh_count(), ok);
	rte_rcu_qsbr_quiescent(rcu, 1);
	CU_ASSERT_EQUAL(dp_neigh_timer(5000, 1000, 1, NULL, NULL), 0); /* one last request */
	CU_ASSERT_EQUAL(dp_neigh_timer(6000, 1000, 1, NULL, NULL), (int)ok);
	CU_ASSERT_EQUAL(dp_neigh_count(), 0);
	rte_rcu_qsbr_quiescent(rcu, 1);
	struct dp_ipaddr a = ip("10.9.9.9");
	CU_ASSERT_EQUAL(dp_neigh_learn(0, &a, &mac1, 0, 1000, true), 0);
}

int main(void)
{
	/* No telemetry: its socket would outlive rte_eal_cleanup and keep the runtime
	 * directory from being removed. */
	char *eal_args[] = {"test_dp_neigh",
			    "--no-huge",
			    "--no-shconf",
			    "--no-pci",
			    "--no-telemetry",
			    "-l",
			    "0",
			    "-m",
			    "128",
			    "--file-prefix",
			    "dp-ut-neigh",
			    "--log-level",
			    "3",
			    NULL};
	CU_pSuite s;
	unsigned int failed;

	if (rte_eal_init((int)RTE_DIM(eal_args) - 1, eal_args) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	rcu = rte_zmalloc(NULL, rte_rcu_qsbr_get_memsize(4), RTE_CACHE_LINE_SIZE);
	if (rcu == NULL || rte_rcu_qsbr_init(rcu, 4) != 0)
		return 1;
	/* One reader (thread id 1), as a worker would be. */
	rte_rcu_qsbr_thread_register(rcu, 1);
	rte_rcu_qsbr_thread_online(rcu, 1);
	if (dp_neigh_init(64, rcu, SOCKET_ID_ANY) != 0) {
		fprintf(stderr, "dp_neigh_init failed\n");
		return 1;
	}
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("dp_neigh", NULL, NULL);
	CU_add_test(s, "learn and lookup", test_learn_lookup);
	CU_add_test(s, "expiry", test_expiry);
	CU_add_test(s, "resolution", test_resolution);
	CU_add_test(s, "parked packets", test_park);
	CU_add_test(s, "full table", test_full);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
	CU_cleanup_registry();
	dp_neigh_fini();
	rte_rcu_qsbr_thread_offline(rcu, 1);
	rte_free(rcu);
	char rundir[512];
	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	rmdir(rundir); /* EAL leaves the (empty, with --no-shconf) runtime directory */
	return failed ? 1 : 0;
}
