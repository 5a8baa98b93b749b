/* SPDX-License-Identifier: BSD-3-Clause */
/* Peer-address policy: default refusals (also through embedded IPv4 forms), CIDR lists. */
#include <CUnit/Basic.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "dataplane/turn/turn_policy.h"

static enum turn_policy_verdict check(const struct turn_policy *p, const char *ip)
{
	uint8_t a[16] = {0};
	if (inet_pton(AF_INET, ip, a) == 1)
		return turn_policy_check(p, a, 4);
	CU_ASSERT_FATAL(inet_pton(AF_INET6, ip, a) == 1);
	return turn_policy_check(p, a, 6);
}

static const char *const refused[] = {
    "0.0.0.0",
    "0.1.2.3",
    "127.0.0.1",
    "127.255.255.254",
    "10.0.0.1",
    "10.255.255.255",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "100.64.0.1",
    "100.127.255.255",
    "169.254.169.254",
    "169.254.0.1",
    "224.0.0.1",
    "239.255.255.250",
    "255.255.255.255",
    "240.0.0.1",
    "192.0.0.8",
    "192.0.2.1",
    "198.51.100.1",
    "203.0.113.5",
    "198.18.0.1",
    "198.19.255.255",
    "192.88.99.1",
    /* IPv6 */
    "::",
    "::1",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "fe80::a9fe:a9fe",
    "ff02::1",
    "ff0e::1",
    "fec0::1",
    "2001:db8::1",
    "2001::1",
    "2001:2::1",
    "3fff::1",
    "100::1",
    "64:ff9b:1::1",
    /* embedded IPv4 forms */
    "::ffff:127.0.0.1",
    "::ffff:10.1.2.3",
    "::ffff:169.254.169.254",
    "::127.0.0.1",
    "::10.0.0.1",
    "::ffff:0:127.0.0.1",
    "::ffff:8.8.8.8", /* mapped is never a peer */
    "2002:7f00:1::1",
    "2002:a9fe:a9fe::",
    "2002:c0a8:101::1",
    "64:ff9b::127.0.0.1",
    "64:ff9b::10.0.0.1",
    "64:ff9b::169.254.169.254",
    "64:ff9b::192.168.0.1",
    "64:ff9b::224.0.0.1",
};

static const char *const allowed[] = {
    "8.8.8.8",	       "1.1.1.1",
    "198.52.100.1",    "203.0.114.1",
    "100.128.0.1",     "100.63.255.255",
    "172.32.0.1",      "172.15.255.255",
    "169.253.1.1",     "11.0.0.1",
    "223.255.255.254", "192.0.1.1",
    "192.0.3.1",       "2001:4860:4860::8888",
    "2606:4700::1111", "2a00:1450::1",
    "2002:808:808::1", "64:ff9b::8.8.8.8",
    "2001:200::1",
};

static void test_defaults(void)
{
	struct turn_policy p;
	turn_policy_init(&p);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		if (check(&p, refused[i]) != TURN_PEER_DENIED_DEFAULT)
			fprintf(stderr, "should refuse %s\n", refused[i]);
		CU_ASSERT(check(&p, refused[i]) == TURN_PEER_DENIED_DEFAULT);
	}
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		if (check(&p, allowed[i]) != TURN_PEER_OK)
			fprintf(stderr, "should allow %s\n", allowed[i]);
		CU_ASSERT(check(&p, allowed[i]) == TURN_PEER_OK);
	}
}

static void test_lists(void)
{
	struct turn_policy p;
	turn_policy_init(&p);
	CU_ASSERT_EQUAL(turn_policy_allow_list(&p, "203.0.113.0/24, 2001:db8:1::/48"), 0);
	CU_ASSERT_EQUAL(turn_policy_deny_list(&p, "8.8.8.0/24 203.0.113.66 2606:4700::/32"), 0);
	CU_ASSERT_EQUAL(p.n_allow, 2);
	CU_ASSERT_EQUAL(p.n_deny, 3);
	CU_ASSERT(check(&p, "203.0.113.5") == TURN_PEER_OK);
	CU_ASSERT(check(&p, "203.0.113.66") == TURN_PEER_DENIED_CONFIG); /* deny wins */
	CU_ASSERT(check(&p, "2001:db8:1::5") == TURN_PEER_OK);
	CU_ASSERT(check(&p, "2001:db8:2::5") == TURN_PEER_DENIED_DEFAULT);
	CU_ASSERT(check(&p, "8.8.8.8") == TURN_PEER_DENIED_CONFIG);
	CU_ASSERT(check(&p, "8.8.4.4") == TURN_PEER_OK);
	/* denied-peer follows the address into its IPv6 disguises */
	CU_ASSERT(check(&p, "64:ff9b::8.8.8.8") == TURN_PEER_DENIED_CONFIG);
	CU_ASSERT(check(&p, "2002:808:808::1") == TURN_PEER_DENIED_CONFIG);
	CU_ASSERT(check(&p, "::ffff:8.8.8.8") == TURN_PEER_DENIED_CONFIG);
	CU_ASSERT(check(&p, "2606:4700::1111") == TURN_PEER_DENIED_CONFIG);
	/* allowed-peer covers the routable NAT64 form of an allowed IPv4 */
	CU_ASSERT(check(&p, "64:ff9b::203.0.113.5") == TURN_PEER_OK);
	/* but a mapped form is still no peer */
	CU_ASSERT(check(&p, "::ffff:203.0.113.5") == TURN_PEER_DENIED_DEFAULT);
	/* allowing loopback explicitly works (labs) */
	CU_ASSERT_EQUAL(turn_policy_allow(&p, "127.0.0.0/8"), 0);
	CU_ASSERT(check(&p, "127.0.0.1") == TURN_PEER_OK);
}

static void test_cidr_parse(void)
{
	struct turn_cidr c;
	CU_ASSERT_EQUAL(turn_cidr_parse(&c, "10.0.0.0/8"), 0);
	CU_ASSERT(c.fam == 4 && c.plen == 8);
	CU_ASSERT_EQUAL(turn_cidr_parse(&c, "10.1.2.3"), 0);
	CU_ASSERT(c.plen == 32);
	CU_ASSERT_EQUAL(turn_cidr_parse(&c, "::/0"), 0);
	CU_ASSERT(c.fam == 6 && c.plen == 0);
	CU_ASSERT_EQUAL(turn_cidr_parse(&c, "fe80::/10"), 0);
	uint8_t ip[16] = {0xfe, 0xbf};
	CU_ASSERT(turn_cidr_match(&c, ip, 6));
	ip[1] = 0xc0;
	CU_ASSERT(!turn_cidr_match(&c, ip, 6));
	CU_ASSERT(!turn_cidr_match(&c, ip, 4));
	CU_ASSERT_EQUAL(turn_cidr_parse(&c, "10.0.0.0/33"), -EINVAL);
	CU_ASSERT_EQUAL(turn_cidr_parse(&c, "::/129"), -EINVAL);
	CU_ASSERT_EQUAL(turn_cidr_parse(&c, "10.0.0.0/"), -EINVAL);
	CU_ASSERT_EQUAL(turn_cidr_parse(&c, "10.0.0.0/8x"), -EINVAL);
	CU_ASSERT_EQUAL(turn_cidr_parse(&c, "10.0.0/8"), -EINVAL);
	CU_ASSERT_EQUAL(turn_cidr_parse(&c, ""), -EINVAL);
	CU_ASSERT_EQUAL(turn_cidr_parse(&c, "10.0.0.0/-1"), -EINVAL);
	struct turn_policy p;
	turn_policy_init(&p);
	CU_ASSERT_EQUAL(turn_policy_allow_list(&p, "1.2.3.4 garbage"), -EINVAL);
	turn_policy_init(&p);
	int rc = 0;
	for (int i = 0; i <= TURN_POLICY_MAX_CIDRS && !rc; i++)
		rc = turn_policy_deny(&p, "1.2.3.4");
	CU_ASSERT_EQUAL(rc, -ENOSPC);
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite("turn_policy", NULL, NULL);
	CU_add_test(s, "default refusals", test_defaults);
	CU_add_test(s, "allowed-peer and denied-peer", test_lists);
	CU_add_test(s, "cidr parsing", test_cidr_parse);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
