/* SPDX-License-Identifier: BSD-3-Clause */
/* The table-driven configuration parser: a good file, every kind of bad file (the message
 * must name the file, section and key), and docs/configuration.md against the tables. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "dataplane/dp_config.h"

static char path[64];
static char err[1024];

static int load(const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -EIO;
	fputs(text, f);
	fclose(f);
	err[0] = '\0';
	return dp_config_load(path, err, sizeof(err));
}

#define PORT0 "[port0]\ndevice = net_null0\nipv4 = 198.51.100.10/24\n"

static void test_good(void)
{
	int rc = load("# a comment\n"
		      "[eal]\nlcores = 0-3\nhuge = no\nfile_prefix = dp-ut\nmemory_mb = 256\n"
		      "[dataplane]\nburst_size = 64   # trailing comment\nneigh_timeout_s = 60\n"
		      "[global]\nrealm = example\n" /* another process's section: skipped */
		      "[redis]\nsocket = /tmp/x.sock\n"
		      "[port0]\ndevice = net_af_packet0,iface=dp0p,qpairs=4\n"
		      "ipv4 = 198.51.100.10/24\nipv6 = 2001:db8:100::10/64\n"
		      "gateway4 = 198.51.100.1\ngateway6 = 2001:db8:100::1\nmtu = 9000\n"
		      "[port1]\ndevice = 0000:01:00.0\nipv4 = 203.0.113.5/28\npromiscuous = yes\n");
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(dp_cfg.eal.lcores, "0-3");
	CU_ASSERT_FALSE(dp_cfg.eal.huge);
	CU_ASSERT_TRUE(dp_cfg.eal.huge_unlink); /* default */
	CU_ASSERT_STRING_EQUAL(dp_cfg.eal.file_prefix, "dp-ut");
	CU_ASSERT_EQUAL(dp_cfg.eal.memory_mb, 256);
	CU_ASSERT_EQUAL(dp_cfg.dp.burst_size, 64);
	CU_ASSERT_EQUAL(dp_cfg.dp.neigh_timeout_s, 60);
	CU_ASSERT_EQUAL(dp_cfg.dp.mbuf_pool_size, 16383); /* default */
	CU_ASSERT_STRING_EQUAL(dp_cfg.redis.socket, "/tmp/x.sock");
	CU_ASSERT_EQUAL(dp_cfg.nb_ports, 2);
	CU_ASSERT_STRING_EQUAL(dp_cfg.port[0].device, "net_af_packet0,iface=dp0p,qpairs=4");
	CU_ASSERT_TRUE(dp_cfg.port[0].ipv4.set);
	CU_ASSERT_EQUAL(dp_cfg.port[0].ipv4.len, 24);
	CU_ASSERT_EQUAL(ntohl(dp_cfg.port[0].ipv4.addr.v4), 0xc633640a);
	CU_ASSERT_EQUAL(dp_cfg.port[0].ipv6.len, 64);
	CU_ASSERT_EQUAL(dp_cfg.port[0].ipv6.addr.v6[15], 0x10);
	CU_ASSERT_EQUAL(dp_cfg.port[0].gateway4.family, AF_INET);
	CU_ASSERT_EQUAL(dp_cfg.port[0].gateway6.family, AF_INET6);
	CU_ASSERT_EQUAL(dp_cfg.port[0].mtu, 9000);
	CU_ASSERT_EQUAL(dp_cfg.port[0].rx_desc, 1024);
	CU_ASSERT_TRUE(dp_cfg.port[1].promiscuous);
	CU_ASSERT_FALSE(dp_cfg.port[1].ipv6.set);
	CU_ASSERT_EQUAL(dp_cfg.port[1].ipv4.len, 28);
}

/* A bad file must fail with -EINVAL and a message holding each of the words. */
static void expect_bad(const char *text, const char *w1, const char *w2, const char *w3)
{
	int rc = load(text);

	CU_ASSERT_EQUAL(rc, -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
	if (w1)
		CU_ASSERT_PTR_NOT_NULL(strstr(err, w1));
	if (w2)
		CU_ASSERT_PTR_NOT_NULL(strstr(err, w2));
	if (w3)
		CU_ASSERT_PTR_NOT_NULL(strstr(err, w3));
	if (rc != -EINVAL || (w1 && !strstr(err, w1)) || (w2 && !strstr(err, w2)) ||
	    (w3 && !strstr(err, w3)))
		fprintf(stderr, "\n    unexpected: rc=%d err=%s\n", rc, err);
}

static void test_unknown_key(void)
{
	expect_bad("[dataplane]\nburst = 32\n" PORT0, "[dataplane]", "burst", "unknown key");
	/* The message lists the keys that exist. */
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "burst_size"));
	expect_bad(PORT0 "colour = blue\n", "[port0]", "colour", "unknown key");
	expect_bad("[redis]\nsockett = /x\n" PORT0, "[redis]", "sockett", "unknown key");
}

/* [global] realm is the appliance's one realm (the TURN relay's REALM unless [turn]
 * overrides it); the dataplane reads that key alone from the shared section. */
static void test_global_realm(void)
{
	CU_ASSERT_EQUAL(load(PORT0), 0);
	CU_ASSERT_STRING_EQUAL(dp_cfg.realm, "poprelay");
	CU_ASSERT_EQUAL(load("[global]\nrealm = pop.example.net\nother = x\n" PORT0), 0);
	CU_ASSERT_STRING_EQUAL(dp_cfg.realm, "pop.example.net");
	expect_bad("[global]\nrealm =\n" PORT0, "[global]", "realm", "expected 1 to 63");
}

static void test_duplicates(void)
{
	expect_bad("[dataplane]\nburst_size = 32\nburst_size = 64\n" PORT0, "[dataplane]",
		   "burst_size", "duplicate key");
	expect_bad(PORT0 "[eal]\nhuge = no\n[port0]\ndevice = net_null1\n", "[port0]",
		   "duplicate section", NULL);
}

static void test_unknown_section(void)
{
	expect_bad("[dataplan]\nburst_size = 32\n" PORT0, "[dataplan]", "unknown section", NULL);
	expect_bad(PORT0 "[port9]\ndevice = x\n", "[port9]", "unknown section", NULL);
	expect_bad(PORT0 "[port01]\ndevice = x\n", "[port01]", "unknown section", NULL);
}

static void test_bad_values(void)
{
	expect_bad("[dataplane]\nburst_size = 1000\n" PORT0, "burst_size", "1000", "from 1 to 256");
	expect_bad("[dataplane]\nburst_size = 0\n" PORT0, "burst_size", "expected", NULL);
	expect_bad("[dataplane]\nburst_size = -1\n" PORT0, "burst_size", "expected", NULL);
	expect_bad("[dataplane]\nburst_size = 12abc\n" PORT0, "burst_size", "12abc", NULL);
	expect_bad("[dataplane]\nburst_size =\n" PORT0, "burst_size", "expected", NULL);
	expect_bad("[dataplane]\npunt_ring_size = 1000\n" PORT0, "punt_ring_size", "power of two",
		   NULL);
	expect_bad("[eal]\nhuge = maybe\n" PORT0, "[eal]", "huge", "yes or no");
	expect_bad("[eal]\nmemory_mb = 99999999999999999999\n" PORT0, "memory_mb", "expected",
		   NULL);
	expect_bad("[port0]\ndevice = net_null0\nipv4 = 198.51.100.10\n", "[port0]", "ipv4",
		   "prefix length");
	expect_bad("[port0]\ndevice = net_null0\nipv4 = 198.51.100.300/24\n", "ipv4", "expected",
		   NULL);
	expect_bad("[port0]\ndevice = net_null0\nipv4 = 198.51.100.1/33\n", "ipv4", "expected",
		   NULL);
	expect_bad("[port0]\ndevice = net_null0\nipv6 = 2001:db8::1/129\n", "ipv6", "expected",
		   NULL);
	expect_bad("[port0]\ndevice = net_null0\nipv6 = 198.51.100.1/24\n", "ipv6", "IPv6", NULL);
	expect_bad(PORT0 "gateway4 = 2001:db8::1\n", "gateway4", "IPv4", NULL);
	expect_bad("[eal]\nfile_prefix =\n" PORT0, "file_prefix", "1 to 64", NULL);
}

static void test_ports(void)
{
	expect_bad("[eal]\nlcores = 0-1\n", "[port0]", "missing", NULL);
	expect_bad("[port0]\nipv4 = 198.51.100.10/24\n", "[port0]", "device", "missing");
	expect_bad("[port0]\ndevice = net_null0\n", "[port0]", "ipv4", "missing");
	expect_bad(PORT0 "[port2]\ndevice = net_null1\nipv4 = 198.51.100.11/24\n", "[port1]",
		   "missing", "without gaps");
}

/* What the start would refuse beyond one key's range is refused by the load itself (so by
 * --check-config): lcores, queues per device, memory, UDP ports. */
static void test_lcores(void)
{
	CU_ASSERT_EQUAL(load("[eal]\nlcores = 0-3\n" PORT0), 0);
	CU_ASSERT_EQUAL(dp_cfg.nb_workers, 3);
	CU_ASSERT_EQUAL(load("[eal]\nlcores = 0@0,1@1,2@1\n" PORT0), 0);
	CU_ASSERT_EQUAL(dp_cfg.nb_workers, 2);
	CU_ASSERT_EQUAL(load("[eal]\nlcores = 1,3-4\nmain_lcore = 3\n" PORT0), 0);
	CU_ASSERT_EQUAL(dp_cfg.nb_workers, 2);
	CU_ASSERT_EQUAL(load("[eal]\nlcores = (0-1)@0,2@(0-1)\n" PORT0), 0);
	CU_ASSERT_EQUAL(dp_cfg.nb_workers, 2);
	expect_bad("[eal]\nlcores = 0\n" PORT0, "[eal] lcores", "at least two lcores", NULL);
	expect_bad("[eal]\nlcores = 0-1\nmain_lcore = 2\n" PORT0, "[eal] main_lcore", "got 2",
		   NULL);
	expect_bad("[eal]\nlcores = 0-x\n" PORT0, "[eal] lcores", "0-x", "expected a list");
	expect_bad("[eal]\nlcores = 3-1\n" PORT0, "[eal] lcores", "expected a list", NULL);
	expect_bad("[eal]\nlcores = 0-200\n" PORT0, "[eal] lcores", "below 128", NULL);
	expect_bad("[eal]\nlcores = 0@0,0@1\n" PORT0, "[eal] lcores", "expected", NULL);
	expect_bad("[eal]\nlcores = 0@(0,1\n" PORT0, "[eal] lcores", "expected", NULL);
}

#define AFP(dev, lc) "[eal]\nlcores = " lc "\n[port0]\ndevice = " dev "\nipv4 = 198.51.100.10/24\n"

static void test_af_packet(void)
{
	/* The tester's case: one worker needs 1 RX and 2 TX queues, qpairs defaults to 1. */
	expect_bad(AFP("net_af_packet0,iface=X,qpairs=1", "0-1"), "[port0] device", "qpairs=1",
		   "qpairs=2 or more");
	expect_bad(AFP("net_af_packet0,iface=X", "0-1"), "[port0] device", "qpairs=1", NULL);
	expect_bad(AFP("net_af_packet0,iface=X,qpairs=2", "0-2"), "[port0] device",
		   "qpairs=3 or more", NULL);
	CU_ASSERT_EQUAL(load(AFP("net_af_packet0,iface=X,qpairs=2", "0-1")), 0);
	CU_ASSERT_EQUAL(load(AFP("eth_af_packet1,iface=X,qpairs=3,blocksz=4096", "0@0,1@1,2@1")),
			0);
	expect_bad(AFP("net_af_packet0,qpairs=2", "0-1"), "[port0] device", "iface=NAME", NULL);
	expect_bad(AFP("net_af_packet0,iface=X,qpairs=17", "0-1"), "[port0] device", "1 to 16",
		   NULL);
	expect_bad(AFP("net_af_packet0,iface=X,qpairs=2,colour=blue", "0-1"), "[port0] device",
		   "colour", "key one of");
	/* Other vdevs are left to their PMD. */
	CU_ASSERT_EQUAL(load(AFP("net_af_packetizer0,foo=1", "0-1")), 0);
}

static void test_ports_across(void)
{
	expect_bad(PORT0 "[port1]\ndevice = net_null0,size=64\nipv4 = 203.0.113.5/28\n",
		   "[port1] device", "[port0]'s", NULL);
	/* A ring port: 16 queues each way at most. */
	expect_bad("[eal]\nhuge = yes\nhuge_unlink = no\nlcores = 0-16\n"
		   "[port0]\ndevice = ring:r0\nipv4 = 198.51.100.10/24\n",
		   "[port0] device", "17 TX queues", NULL);
	expect_bad("[eal]\nhuge = yes\nhuge_unlink = no\n"
		   "[port0]\ndevice = ring:r0\nrx_queues = 17\nipv4 = 198.51.100.10/24\n",
		   "[port0] rx_queues", "at most 16", NULL);
	CU_ASSERT_EQUAL(load("[eal]\nhuge = yes\nhuge_unlink = no\nlcores = 0-15\n"
			     "[port0]\ndevice = ring:r0\nipv4 = 198.51.100.10/24\n"),
			0);
	/* Without hugepages the pool must fit in memory_mb. */
	expect_bad("[eal]\nhuge = no\nmemory_mb = 64\n[dataplane]\nmbuf_pool_size = 65535\n" PORT0,
		   "[dataplane] mbuf_pool_size", "[eal] memory_mb = 64", NULL);
	CU_ASSERT_EQUAL(load("[eal]\nhuge = yes\nmemory_mb = 64\n"
			     "[dataplane]\nmbuf_pool_size = 65535\n" PORT0),
			0);
}

/* [portN] ipv4_extra / ipv6_extra: lists of further addresses, each with its own prefix;
 * everything the start would refuse is refused here, naming the key. */
static void test_extra_addrs(void)
{
	CU_ASSERT_EQUAL_FATAL(load(PORT0
				   "ipv4_extra = 198.51.100.11/24, 203.0.113.7/28\n"
				   "ipv6 = 2001:db8:100::10/64\nipv6_extra = 2001:db8:200::7/64\n"
				   "[port1]\ndevice = net_null1\nipv4 = 192.0.2.5/24\n"
				   "ipv4_extra = 192.0.2.6/24\n"),
			      0);
	CU_ASSERT_EQUAL(dp_cfg.port[0].ipv4_extra.n, 2);
	CU_ASSERT_EQUAL(ntohl(dp_cfg.port[0].ipv4_extra.p[0].addr.v4), 0xc633640b);
	CU_ASSERT_EQUAL(dp_cfg.port[0].ipv4_extra.p[0].len, 24);
	CU_ASSERT_EQUAL(ntohl(dp_cfg.port[0].ipv4_extra.p[1].addr.v4), 0xcb007107);
	CU_ASSERT_EQUAL(dp_cfg.port[0].ipv4_extra.p[1].len, 28);
	CU_ASSERT_EQUAL(dp_cfg.port[0].ipv6_extra.n, 1);
	CU_ASSERT_EQUAL(dp_cfg.port[0].ipv6_extra.p[0].addr.family, AF_INET6);
	CU_ASSERT_EQUAL(dp_cfg.port[0].ipv6_extra.p[0].addr.v6[15], 7);
	CU_ASSERT_EQUAL(dp_cfg.port[1].ipv4_extra.n, 1);
	/* Unset and empty mean none; the existing keys alone are unchanged. */
	CU_ASSERT_EQUAL(load(PORT0 "ipv4_extra =\n"), 0);
	CU_ASSERT_EQUAL(dp_cfg.port[0].ipv4_extra.n, 0);
	CU_ASSERT_EQUAL(dp_cfg.port[0].ipv6_extra.n, 0);
	/* Eight at most. */
	CU_ASSERT_EQUAL(load(PORT0 "ipv4_extra = 10.0.0.1/8,10.0.0.2/8,10.0.0.3/8,10.0.0.4/8,"
				   "10.0.0.5/8,10.0.0.6/8,10.0.0.7/8,10.0.0.8/8\n"),
			0);
	CU_ASSERT_EQUAL(dp_cfg.port[0].ipv4_extra.n, 8);
	expect_bad(PORT0 "ipv4_extra = 10.0.0.1/8,10.0.0.2/8,10.0.0.3/8,10.0.0.4/8,"
			 "10.0.0.5/8,10.0.0.6/8,10.0.0.7/8,10.0.0.8/8,10.0.0.9/8\n",
		   "[port0] ipv4_extra", "at most 8", NULL);
	/* Syntax. */
	expect_bad(PORT0 "ipv4_extra = 198.51.100.11\n", "[port0] ipv4_extra", "198.51.100.11",
		   "prefix length");
	expect_bad(PORT0 "ipv4_extra = 198.51.100.11/24; 198.51.100.12/24\n", "[port0] ipv4_extra",
		   "expected", NULL);
	expect_bad(PORT0 "ipv4_extra = 198.51.100.11/24, 198.51.100.300/24\n", "[port0] ipv4_extra",
		   "198.51.100.300/24", "expected");
	expect_bad(PORT0 "ipv4_extra = 198.51.100.11/33\n", "[port0] ipv4_extra", "expected", NULL);
	/* Family. */
	expect_bad(PORT0 "ipv4_extra = 2001:db8::5/64\n", "[port0] ipv4_extra", "an IPv6 address",
		   NULL);
	expect_bad(PORT0 "ipv6 = 2001:db8::1/64\nipv6_extra = 198.51.100.11/24\n",
		   "[port0] ipv6_extra", "an IPv4 address", NULL);
	/* Duplicates: in the list, with the primary, across ports. */
	expect_bad(PORT0 "ipv4_extra = 198.51.100.11/24, 198.51.100.11/25\n", "[port0] ipv4_extra",
		   "twice", NULL);
	expect_bad(PORT0 "ipv4_extra = 198.51.100.10/24\n", "[port0] ipv4_extra",
		   "[port0] ipv4 already", NULL);
	expect_bad(PORT0 "[port1]\ndevice = net_null1\nipv4 = 192.0.2.5/24\n"
			 "ipv4_extra = 198.51.100.10/32\n",
		   "[port1] ipv4_extra", "[port0] ipv4 already", NULL);
	expect_bad(PORT0 "ipv4_extra = 192.0.2.9/24\n[port1]\ndevice = net_null1\n"
			 "ipv4 = 192.0.2.9/24\n",
		   "[port1] ipv4", "[port0] ipv4_extra already", NULL);
	expect_bad(PORT0 "ipv6 = 2001:db8::1/64\nipv6_extra = 2001:db8::2/64\n"
			 "[port1]\ndevice = net_null1\nipv6 = 2001:db8:1::1/64\n"
			 "ipv6_extra = 2001:db8:0::2/128\n",
		   "[port1] ipv6_extra", "[port0] ipv6_extra already", NULL);
	/* An extra address needs its family's primary. */
	expect_bad("[port0]\ndevice = net_null0\nipv6 = 2001:db8::1/64\n"
		   "ipv4_extra = 198.51.100.11/24\n",
		   "[port0] ipv4_extra", "without ipv4", NULL);
	expect_bad(PORT0 "ipv6_extra = 2001:db8::2/64\n", "[port0] ipv6_extra", "without ipv6",
		   NULL);
}

static void test_udp_reserve(void)
{
	char e[256];

	CU_ASSERT_EQUAL(load("[dataplane]\nudp_echo_port = 7\n" PORT0), 0);
	/* The load reserved the echo port; a feature's range over it is refused, naming both. */
	CU_ASSERT_EQUAL(dp_cfg_udp_reserve("[x] a", 1, 6, e, sizeof(e)), 0);
	CU_ASSERT_EQUAL(dp_cfg_udp_reserve("[x] b", 2, 3, e, sizeof(e)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(e, "[x] b"));
	CU_ASSERT_PTR_NOT_NULL(strstr(e, "[x] a"));
	CU_ASSERT_EQUAL(dp_cfg_udp_reserve("[x] c", 8, 9, e, sizeof(e)), 0);
	CU_ASSERT_EQUAL(dp_cfg_udp_reserve("[x] d", 7, 7, e, sizeof(e)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(e, "[dataplane] udp_echo_port"));
	/* Each load starts afresh. */
	CU_ASSERT_EQUAL(load(PORT0), 0);
	CU_ASSERT_EQUAL(dp_cfg_udp_reserve("[x] d", 7, 7, e, sizeof(e)), 0);
}

static void test_file_errors(void)
{
	CU_ASSERT_EQUAL(dp_config_load("/nonexistent/dp.conf", err, sizeof(err)), -ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/dp.conf"));
	expect_bad("burst_size = 3\n[eal]\n", "not a valid INI file", NULL, NULL);
}

static void test_defaults_valid(void)
{
	/* Every default in every table parses as its own type (a typo there would silently
	 * leave zeros). */
	struct dp_cfg_section *s;
	unsigned int i;
	char buf[DP_CFG_STR_MAX + 64];

	for (s = dp_cfg_sections(); s; s = s->next)
		for (i = 0; i < s->nkeys; i++) {
			const struct dp_cfg_key *k = &s->keys[i];
			CU_ASSERT_PTR_NOT_NULL(k->help);
			if (k->def == NULL)
				continue;
			if (dp_cfg_parse_value(k, k->def, buf, err, sizeof(err)) != 0) {
				fprintf(stderr, "\n    default of [%s] %s: %s\n", s->name, k->key,
					err);
				CU_FAIL("bad default");
			}
		}
}

static void test_docs_cover_tables(void)
{
	/* docs/configuration.md documents every key of every core section. */
	FILE *f = fopen("docs/configuration.md", "r");
	char *doc;
	long n;
	struct dp_cfg_section *s;
	unsigned int i;
	char needle[128];

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	doc = calloc(1, (size_t)n + 1);
	CU_ASSERT_EQUAL_FATAL(fread(doc, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	for (s = dp_cfg_sections(); s; s = s->next) {
		snprintf(needle, sizeof(needle), "## [%s%s]", s->name,
			 s->max_instances > 1 ? "N" : "");
		if (!strstr(doc, needle)) {
			fprintf(stderr, "\n    docs/configuration.md lacks \"%s\"\n", needle);
			CU_FAIL("section not documented");
		}
		for (i = 0; i < s->nkeys; i++) {
			snprintf(needle, sizeof(needle), "| `%s` |", s->keys[i].key);
			if (!strstr(doc, needle)) {
				fprintf(stderr, "\n    docs/configuration.md lacks [%s] %s\n",
					s->name, s->keys[i].key);
				CU_FAIL("key not documented");
			}
		}
	}
	free(doc);
}

static void test_default_conf_file(void)
{
	/* The shipped default configuration is valid. */
	err[0] = '\0';
	CU_ASSERT_EQUAL(dp_config_load("images/poprelay.conf", err, sizeof(err)), 0);
	if (err[0])
		fprintf(stderr, "\n    %s\n", err);
}

int main(void)
{
	CU_pSuite s;
	unsigned int failed;
	int fd;

	snprintf(path, sizeof(path), "/tmp/dp-ut-config.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return 2;
	close(fd);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("dp_config", NULL, NULL);
	CU_add_test(s, "good file", test_good);
	CU_add_test(s, "unknown key", test_unknown_key);
	CU_add_test(s, "unknown section", test_unknown_section);
	CU_add_test(s, "[global] realm", test_global_realm);
	CU_add_test(s, "duplicate keys and sections", test_duplicates);
	CU_add_test(s, "bad values", test_bad_values);
	CU_add_test(s, "ports", test_ports);
	CU_add_test(s, "lcores", test_lcores);
	CU_add_test(s, "net_af_packet queues", test_af_packet);
	CU_add_test(s, "ports together", test_ports_across);
	CU_add_test(s, "UDP port reservations", test_udp_reserve);
	CU_add_test(s, "extra addresses", test_extra_addrs);
	CU_add_test(s, "file errors", test_file_errors);
	CU_add_test(s, "defaults parse", test_defaults_valid);
	CU_add_test(s, "docs cover the tables", test_docs_cover_tables);
	CU_add_test(s, "images/poprelay.conf is valid", test_default_conf_file);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
	CU_cleanup_registry();
	unlink(path);
	return failed ? 1 : 0;
}
