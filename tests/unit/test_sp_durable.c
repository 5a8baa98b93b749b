/* SPDX-License-Identifier: BSD-3-Clause */
/* The slowpath's durable writes (sp_aredis_tx_durable), which REGISTER bindings and a call's
 * media session install ([redis] wait_replicas: the caller's 200 waits for it) share: the
 * writes of one event-loop pass are answered by one WAIT after the last of them; on a Redis
 * without replicas WAIT 1 says 0, so each is told -EAGAIN with a message naming the shortfall
 * (the call is then failed: 503 to the caller), while the write itself is on the primary;
 * wait_replicas 0 sends no WAIT; with nobody at the socket the sender fails at once (the call
 * fails at once too). */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/redis.h"
#include "slowpath/sp_server.h"
#include "tests/unit/redis_fixture.h"

static char sock[256];
static struct sp_server srv;
static struct pr_redis *R; /* the test's own synchronous client */

struct done {
	int rc;
	char msg[160];
};
static struct done done[8];
static int ndone;

static void on_done(struct sp_server *s, redisReply *rep, int rc, void *arg)
{
	(void)s;
	(void)rep;
	struct done *d = arg;
	d->rc = rc;
	snprintf(d->msg, sizeof(d->msg), "%s", rc < 0 ? pr_ks_errmsg() : "");
	ndone++;
}

static int suite_init(void)
{
	pr_log_init("test_sp_durable", PR_LOG_ERR);
	if (test_redis_start("sp-durable", 60, sock, sizeof(sock)) < 0)
		return 1;
	sp_config_defaults(&srv.cfg);
	snprintf(srv.cfg.redis_socket, sizeof(srv.cfg.redis_socket), "%s", sock);
	srv.base = event_base_new();
	if (!srv.base || event_base_priority_init(srv.base, SP_EV_PRIORITIES) < 0)
		return 1;
	if (sp_aredis_open(&srv, 2000) < 0)
		return 1;
	return pr_redis_connect(&R, sock, 1000) < 0 ? 1 : 0;
}

static int suite_clean(void)
{
	sp_aredis_close(&srv);
	pr_redis_close(R);
	if (srv.base)
		event_base_free(srv.base);
	test_redis_stop();
	return 0;
}

static long waits(void)
{
	long n = 0;
	redisReply *rep = pr_redis_cmd(R, "INFO commandstats");
	const char *p =
	    rep && rep->type == REDIS_REPLY_STRING ? strstr(rep->str, "cmdstat_wait:calls=") : NULL;
	if (p)
		n = strtol(p + strlen("cmdstat_wait:calls="), NULL, 10);
	if (rep)
		freeReplyObject(rep);
	return n;
}

static bool exists(const char *key)
{
	redisReply *rep = pr_redis_cmd(R, "EXISTS %s", key);
	bool e = rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 1;
	if (rep)
		freeReplyObject(rep);
	return e;
}

/* One durable write of key (a SET and an XADD, as an install has hashes and a stream entry). */
static int send_one(const char *key, struct done *d)
{
	struct pr_redis_tx *tx = pr_redis_tx_new();
	int rc = tx ? 0 : -ENOMEM;
	if (rc == 0)
		rc = pr_redis_tx_add(tx, "SET %s 1", key);
	if (rc == 0)
		rc = pr_redis_tx_add(tx, "XADD pr:test:stream * op install id %s", key);
	if (rc == 0)
		rc = sp_aredis_tx_durable(&srv, tx, SP_AREDIS_ONCE, on_done, d);
	pr_redis_tx_free(tx);
	return rc;
}

static void run_until(int n)
{
	for (int i = 0; ndone < n && i < 200; i++)
		event_base_loop(srv.base, EVLOOP_ONCE);
}

static void test_wait_batched(void)
{
	/* no replicas asked: plain transactions, no WAIT */
	srv.cfg.redis_wait_replicas = 0;
	long w0 = waits();
	ndone = 0;
	CU_ASSERT_EQUAL_FATAL(send_one("pr:test:a", &done[0]), 0);
	run_until(1);
	CU_ASSERT_FATAL(ndone == 1);
	CU_ASSERT_EQUAL(done[0].rc, 0);
	CU_ASSERT_EQUAL(waits(), w0);
	CU_ASSERT(exists("pr:test:a"));

	/* one replica asked, none there: a binding and two sessions in one pass, one WAIT */
	srv.cfg.redis_wait_replicas = 1;
	srv.cfg.redis_wait_timeout_ms = 50;
	ndone = 0;
	CU_ASSERT_EQUAL_FATAL(send_one("pr:test:reg", &done[0]), 0);
	CU_ASSERT_EQUAL_FATAL(send_one("pr:test:s-0", &done[1]), 0);
	CU_ASSERT_EQUAL_FATAL(send_one("pr:test:s-1", &done[2]), 0);
	CU_ASSERT_EQUAL(ndone, 0); /* nothing is answered before the WAIT's reply */
	run_until(3);
	CU_ASSERT_FATAL(ndone == 3);
	for (int i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(done[i].rc, -EAGAIN);
		CU_ASSERT_PTR_NOT_NULL(
		    strstr(done[i].msg, "redis WAIT: 0 of 1 replicas acknowledged within 50 ms"));
	}
	CU_ASSERT_EQUAL(waits(), w0 + 1);
	/* on the primary all the same: what a failover could lose */
	CU_ASSERT(exists("pr:test:reg") && exists("pr:test:s-0") && exists("pr:test:s-1"));

	/* the next pass gets a WAIT of its own */
	ndone = 0;
	CU_ASSERT_EQUAL_FATAL(send_one("pr:test:s-2", &done[0]), 0);
	run_until(1);
	CU_ASSERT(ndone == 1 && done[0].rc == -EAGAIN);
	CU_ASSERT_EQUAL(waits(), w0 + 2);
}

static void test_no_redis(void)
{
	struct sp_server down;
	memset(&down, 0, sizeof(down));
	sp_config_defaults(&down.cfg);
	snprintf(down.cfg.redis_socket, sizeof(down.cfg.redis_socket), "%s",
		 "/tmp/sp-durable-none/redis.sock");
	down.cfg.redis_wait_replicas = 1;
	down.base = srv.base;
	CU_ASSERT_EQUAL_FATAL(sp_aredis_open(&down, 500), 0);
	struct pr_redis_tx *tx = pr_redis_tx_new();
	CU_ASSERT_FATAL(tx != NULL);
	CU_ASSERT_EQUAL(pr_redis_tx_add(tx, "SET pr:test:none 1"), 0);
	ndone = 0;
	int rc = sp_aredis_tx_durable(&down, tx, SP_AREDIS_ONCE, on_done, &done[0]);
	CU_ASSERT(rc < 0);	   /* told at once ... */
	CU_ASSERT_EQUAL(ndone, 0); /* ... and the callback does not run */
	pr_redis_tx_free(tx);
	sp_aredis_close(&down);
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	if (system("command -v redis-server >/dev/null 2>&1") != 0) {
		printf("SKIP: redis-server not installed\n");
		return 77;
	}
	CU_pSuite s = CU_add_suite("sp_durable", suite_init, suite_clean);
	CU_add_test(s, "one WAIT per pass, -EAGAIN when short", test_wait_batched);
	CU_add_test(s, "no Redis: the sender fails at once", test_no_redis);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
