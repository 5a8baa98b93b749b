/* SPDX-License-Identifier: BSD-3-Clause */
/* Guard decisions: per-source token bucket, a NAT's reconnection storm (free first requests,
 * credit for successes, a bucket per authenticated flow), failed-authentication lockout per
 * source and per user (and its expiry, and a success forgiving one failure), scanner
 * User-Agent matching. */
#include <CUnit/Basic.h>
#include <string.h>

#include "common/log.h"
#include "slowpath/sp_server.h"

static struct sp_server srv;

static int setup(void)
{
	pr_log_init("test_sp_guard", PR_LOG_ERR);
	sp_config_defaults(&srv.cfg);
	srv.guard = sp_guard_new(1024);
	return srv.guard ? 0 : 1;
}

static int teardown(void)
{
	sp_guard_free(srv.guard);
	return 0;
}

static void rate(void)
{
	srv.cfg.rate_limit_rps = 10;
	srv.cfg.rate_burst = 5;
	int ok = 0;
	for (int i = 0; i < 20; i++)
		ok += sp_guard_rate_ok(&srv, "192.0.2.1", 1000);
	CU_ASSERT_EQUAL(ok, 5); /* the burst, then nothing within the same millisecond */
	CU_ASSERT_TRUE(sp_guard_rate_ok(&srv, "192.0.2.2", 1000));  /* other sources unaffected */
	CU_ASSERT_FALSE(sp_guard_rate_ok(&srv, "192.0.2.1", 1050)); /* 0.5 token back */
	CU_ASSERT_TRUE(sp_guard_rate_ok(&srv, "192.0.2.1", 1100));  /* 1 token */
	ok = 0;
	for (int i = 0; i < 20; i++)
		ok +=
		    sp_guard_rate_ok(&srv, "192.0.2.1", 10000); /* refilled, capped at the burst */
	CU_ASSERT_EQUAL(ok, 5);
	srv.cfg.rate_limit_rps = 0;
	for (int i = 0; i < 100; i++)
		CU_ASSERT_TRUE(sp_guard_rate_ok(&srv, "192.0.2.1", 10000)); /* 0 = off */
}

/* 1,000 devices behind one address reconnect at once: each new flow's first request (the
 * REGISTER challenged 401) is free, each authenticated REGISTER takes a token and its success
 * gives two back; the same pattern failing is throttled after the burst. */
static void storm(void)
{
	srv.cfg.rate_limit_rps = 50;
	srv.cfg.rate_burst = 100;
	static struct sp_conn c[1000];
	int refused = 0;
	for (int i = 0; i < 1000; i++) {
		c[i] = (struct sp_conn){.tp = SP_TLS, .inbound = true};
		snprintf(c[i].peer_ip, sizeof(c[i].peer_ip), "198.51.100.200");
		refused += !sp_guard_admit(&srv, &c[i], 1000);
	}
	for (int i = 0; i < 1000; i++) {
		if (!sp_guard_admit(&srv, &c[i], 1000)) {
			refused++;
			continue;
		}
		sp_guard_auth_ok(&srv, c[i].peer_ip, NULL);
		c[i].authed = true;
	}
	CU_ASSERT_EQUAL(refused, 0);
	/* an authenticated flow has its own bucket: its neighbours' traffic does not count */
	int ok = 0;
	for (int i = 0; i < 300; i++)
		ok += sp_guard_admit(&srv, &c[0], 1000);
	CU_ASSERT_EQUAL(ok, 100);
	CU_ASSERT_TRUE(sp_guard_admit(&srv, &c[1], 1000));
	/* the same 1,000 second requests failing: the source's burst, then refusals */
	ok = 0;
	for (int i = 0; i < 1000; i++) {
		struct sp_conn x = {.tp = SP_TLS, .inbound = true, .requests = 1};
		snprintf(x.peer_ip, sizeof(x.peer_ip), "198.51.100.201");
		ok += sp_guard_admit(&srv, &x, 1000);
	}
	CU_ASSERT_EQUAL(ok, 100);
	/* UDP has no flow: every datagram takes a token from its source */
	ok = 0;
	for (int i = 0; i < 200; i++) {
		struct sp_conn u = {.tp = SP_UDP};
		snprintf(u.peer_ip, sizeof(u.peer_ip), "198.51.100.202");
		ok += sp_guard_admit(&srv, &u, 1000);
	}
	CU_ASSERT_EQUAL(ok, 100);
	/* a peer PoP is not limited */
	struct sp_conn p = {.tp = SP_TLS, .peer_pop = true, .requests = 5};
	snprintf(p.peer_ip, sizeof(p.peer_ip), "198.51.100.202");
	CU_ASSERT_TRUE(sp_guard_admit(&srv, &p, 1000));
}

static void lockout(void)
{
	srv.cfg.lockout_failures = 3;
	srv.cfg.lockout_s = 60;
	int64_t t = 5000;
	CU_ASSERT_FALSE(sp_guard_locked(&srv, "198.51.100.1", "mallory", t));
	sp_guard_auth_failed(&srv, "198.51.100.1", "mallory", t);
	sp_guard_auth_failed(&srv, "198.51.100.2", "mallory", t);
	CU_ASSERT_FALSE(sp_guard_locked(&srv, "198.51.100.3", "mallory", t));
	sp_guard_auth_failed(&srv, "198.51.100.3", "mallory", t + 1);
	/* the user is locked from anywhere; a source with one failure is not locked */
	CU_ASSERT_TRUE(sp_guard_locked(&srv, "198.51.100.9", "mallory", t + 2));
	CU_ASSERT_FALSE(sp_guard_locked(&srv, "198.51.100.1", "alice", t + 2));
	/* a source failing for several users gets locked as a source */
	for (int i = 0; i < 3; i++) {
		char u[16];
		snprintf(u, sizeof(u), "u%d", i);
		sp_guard_auth_failed(&srv, "203.0.113.7", u, t);
	}
	CU_ASSERT_TRUE(sp_guard_locked(&srv, "203.0.113.7", "alice", t + 1));
	CU_ASSERT_TRUE(sp_guard_locked(&srv, "203.0.113.7", NULL, t + 1));
	/* locks expire */
	CU_ASSERT_FALSE(sp_guard_locked(&srv, "198.51.100.9", "mallory", t + 62));
	CU_ASSERT_FALSE(sp_guard_locked(&srv, "203.0.113.7", "alice", t + 61));
	/* failures spread wider than the window do not add up */
	sp_guard_auth_failed(&srv, "192.0.2.50", "bob", 100000);
	sp_guard_auth_failed(&srv, "192.0.2.50", "bob", 100100);
	sp_guard_auth_failed(&srv, "192.0.2.50", "bob", 100200);
	CU_ASSERT_FALSE(sp_guard_locked(&srv, "192.0.2.51", "bob", 100200));
	/* a success resets the count */
	sp_guard_auth_failed(&srv, "192.0.2.60", "carol", 200000);
	sp_guard_auth_failed(&srv, "192.0.2.60", "carol", 200000);
	sp_guard_auth_ok(&srv, "192.0.2.60", "carol");
	sp_guard_auth_failed(&srv, "192.0.2.60", "carol", 200001);
	CU_ASSERT_FALSE(sp_guard_locked(&srv, "192.0.2.60", "carol", 200001));
	/* behind a NAT a success forgives one failure of the source, not all of them: an
	 * attacker spraying users there is locked out after lockout_failures + the successes */
	for (int i = 0; i < 4; i++) {
		char u[16];
		snprintf(u, sizeof(u), "v%d", i);
		if (i == 2)
			sp_guard_auth_ok(&srv, "192.0.2.70", "dave");
		sp_guard_auth_failed(&srv, "192.0.2.70", u, 300000);
		CU_ASSERT_EQUAL(sp_guard_locked(&srv, "192.0.2.70", "dave", 300000), i == 3);
	}
}

static void flows(void)
{
	srv.cfg.max_flows_per_source = 2;
	CU_ASSERT_TRUE(sp_guard_flow_open(&srv, "192.0.2.77"));
	CU_ASSERT_TRUE(sp_guard_flow_open(&srv, "192.0.2.77"));
	CU_ASSERT_FALSE(sp_guard_flow_open(&srv, "192.0.2.77"));
	CU_ASSERT_TRUE(sp_guard_flow_open(&srv, "192.0.2.78"));
	sp_guard_flow_close(&srv, "192.0.2.77");
	CU_ASSERT_TRUE(sp_guard_flow_open(&srv, "192.0.2.77"));
	CU_ASSERT_FALSE(sp_guard_flow_open(&srv, "192.0.2.77"));
	sp_guard_flow_close(&srv, "192.0.2.99"); /* unknown: no effect, no crash */
}

static void scanners(void)
{
	CU_ASSERT_TRUE(sp_guard_scanner(&srv.cfg, "friendly-scanner"));
	CU_ASSERT_TRUE(sp_guard_scanner(&srv.cfg, "SIPVicious 0.3"));
	CU_ASSERT_TRUE(sp_guard_scanner(&srv.cfg, "sipcli/v1.8"));
	CU_ASSERT_FALSE(sp_guard_scanner(&srv.cfg, "baresip v1.0.0 (x86_64/linux)"));
	CU_ASSERT_FALSE(sp_guard_scanner(&srv.cfg, NULL));
	CU_ASSERT_FALSE(sp_guard_scanner(&srv.cfg, ""));
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite("sp_guard", setup, teardown);
	CU_add_test(s, "rate limit per source", rate);
	CU_add_test(s, "a NAT's reconnection storm", storm);
	CU_add_test(s, "lockout per source and per user", lockout);
	CU_add_test(s, "flows per source", flows);
	CU_add_test(s, "scanner user agents", scanners);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
