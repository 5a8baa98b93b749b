/* SPDX-License-Identifier: BSD-3-Clause */
/* The slowpath's async Redis connection keeps the requests sent with SP_AREDIS_REPLAY that
 * were in flight when it was lost, and sends them again, in order, on the next connection
 * ([sip] redis_replay_ms): against a real redis-server that is paused (CLIENT PAUSE, so the
 * requests are written and unanswered) and then killed with SIGKILL and started again on
 * the same socket (with no data: what is there afterwards came from the replay), the
 * replayable requests succeed and a SP_AREDIS_ONCE one fails with -EIO; when no server
 * comes back within the window, they fail with -EIO and a message naming it; when the
 * primary epoch moves (pr_redis_primary_moved, as the sentinel watcher does on
 * +switch-master) the connection is dropped and what was in flight goes on a new one. */
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

struct done {
	int rc;
	char msg[200];
	char val[32]; /* a string reply (GET) */
};
static struct done done[8];
static int ndone;

static void on_done(struct sp_server *s, redisReply *rep, int rc, void *arg)
{
	(void)s;
	struct done *d = arg;
	d->rc = rc;
	snprintf(d->msg, sizeof(d->msg), "%s", rc < 0 ? pr_ks_errmsg() : "");
	snprintf(d->val, sizeof(d->val), "%s",
		 rep && rep->type == REDIS_REPLY_STRING ? rep->str : "");
	ndone++;
}

/* The async connection, opened with replay_ms. */
static int reopen(uint32_t replay_ms)
{
	sp_aredis_close(&srv);
	srv.cfg.redis_replay_ms = replay_ms;
	return sp_aredis_open(&srv, 2000);
}

static int suite_init(void)
{
	pr_log_init("test_sp_replay", PR_LOG_ERR);
	if (test_redis_start("sp-replay", 60, sock, sizeof(sock)) < 0)
		return 1;
	sp_config_defaults(&srv.cfg);
	snprintf(srv.cfg.redis_socket, sizeof(srv.cfg.redis_socket), "%s", sock);
	srv.base = event_base_new();
	if (!srv.base || event_base_priority_init(srv.base, SP_EV_PRIORITIES) < 0)
		return 1;
	return 0;
}

static int suite_clean(void)
{
	sp_aredis_close(&srv);
	if (srv.base)
		event_base_free(srv.base);
	test_redis_stop();
	return 0;
}

/* One command (words split at spaces) on a connection of the test's own: the reply's
 * integer (0 for a status) or -1, its string in val. */
static long long cmd(const char *c, char *val, size_t len)
{
	struct pr_redis *r = NULL;
	long long n = -1;
	if (pr_redis_connect(&r, sock, 1000) < 0)
		return -1;
	char buf[128];
	const char *argv[8];
	size_t argvlen[8];
	int argc = 0;
	snprintf(buf, sizeof(buf), "%s", c);
	for (char *save, *w = strtok_r(buf, " ", &save); w && argc < 8;
	     w = strtok_r(NULL, " ", &save)) {
		argv[argc] = w;
		argvlen[argc++] = strlen(w);
	}
	redisReply *rep = pr_redis_cmdargv(r, argc, argv, argvlen);
	if (rep && rep->type == REDIS_REPLY_INTEGER)
		n = rep->integer;
	if (val)
		snprintf(val, len, "%s", rep && rep->type == REDIS_REPLY_STRING ? rep->str : "");
	if (rep && rep->type == REDIS_REPLY_STATUS)
		n = 0;
	if (rep)
		freeReplyObject(rep);
	pr_redis_close(r);
	return n;
}

static int send_set(const char *key, const char *v, unsigned flags, struct done *d)
{
	struct pr_redis_tx *tx = pr_redis_tx_new();
	int rc = tx ? pr_redis_tx_add(tx, "SET %s %s", key, v) : -ENOMEM;
	if (rc == 0)
		rc = pr_redis_tx_add(tx, "EXPIRE %s 600", key);
	if (rc == 0)
		rc = sp_aredis_tx(&srv, tx, flags, on_done, d);
	pr_redis_tx_free(tx);
	return rc;
}

/* Runs the loop until n requests are done or ms passed. */
static void run_until(int n, int ms)
{
	int64_t end = sp_now_ms() + ms;
	while (ndone < n && sp_now_ms() < end) {
		struct timeval tv = {0, 20000};
		event_base_loopexit(srv.base, &tv);
		event_base_loop(srv.base, 0);
	}
}

/* The requests leave (on_flush) and reach the paused server; nothing comes back. */
static void flush_unanswered(void)
{
	run_until(1000, 100);
	CU_ASSERT_EQUAL(ndone, 0);
}

static void test_replayed_after_kill(void)
{
	CU_ASSERT_EQUAL_FATAL(reopen(3000), 0);
	memset(done, 0, sizeof(done));
	ndone = 0;
	/* written, unanswered: the server runs no client's command for 5 s */
	CU_ASSERT_EQUAL_FATAL(cmd("CLIENT PAUSE 5000 ALL", NULL, 0), 0);
	CU_ASSERT_EQUAL_FATAL(send_set("pr:test:r0", "one", SP_AREDIS_REPLAY, &done[0]), 0);
	CU_ASSERT_EQUAL_FATAL(send_set("pr:test:once", "x", SP_AREDIS_ONCE, &done[1]), 0);
	CU_ASSERT_EQUAL_FATAL(
	    sp_aredis_cmd(&srv, SP_AREDIS_REPLAY, on_done, &done[2], "GET pr:test:r0"), 0);
	CU_ASSERT_EQUAL_FATAL(send_set("pr:test:r0", "two", SP_AREDIS_REPLAY, &done[3]), 0);
	flush_unanswered();
	/* the primary dies with them; a new one (empty) comes up on the same socket */
	CU_ASSERT_EQUAL_FATAL(test_redis_restart(), 0);
	run_until(4, 2500);
	CU_ASSERT_EQUAL_FATAL(ndone, 4);
	CU_ASSERT_EQUAL(done[0].rc, 0);
	CU_ASSERT_EQUAL(done[1].rc, -EIO); /* not replayable: failed at the loss */
	CU_ASSERT_EQUAL(done[2].rc, 0);
	CU_ASSERT_STRING_EQUAL(done[2].val, "one"); /* in the original order */
	CU_ASSERT_EQUAL(done[3].rc, 0);
	char v[32];
	cmd("GET pr:test:r0", v, sizeof(v));
	CU_ASSERT_STRING_EQUAL(v, "two");
	CU_ASSERT_EQUAL(cmd("EXISTS pr:test:once", NULL, 0), 0);
	/* and new requests go on the new connection */
	ndone = 0;
	CU_ASSERT_EQUAL_FATAL(send_set("pr:test:r1", "1", SP_AREDIS_REPLAY, &done[0]), 0);
	run_until(1, 1000);
	CU_ASSERT(ndone == 1 && done[0].rc == 0);
}

static void test_window_ends(void)
{
	CU_ASSERT_EQUAL_FATAL(reopen(300), 0);
	memset(done, 0, sizeof(done));
	ndone = 0;
	CU_ASSERT_EQUAL_FATAL(cmd("CLIENT PAUSE 5000 ALL", NULL, 0), 0);
	CU_ASSERT_EQUAL_FATAL(send_set("pr:test:w0", "1", SP_AREDIS_REPLAY, &done[0]), 0);
	CU_ASSERT_EQUAL_FATAL(send_set("pr:test:w1", "1", SP_AREDIS_REPLAY, &done[1]), 0);
	flush_unanswered();
	test_redis_kill(); /* and none comes back in time */
	int64_t t0 = sp_now_ms();
	run_until(1, 200);
	CU_ASSERT_EQUAL(ndone, 0); /* held, not failed at once */
	run_until(2, 2500);
	int64_t took = sp_now_ms() - t0;
	CU_ASSERT_EQUAL_FATAL(ndone, 2);
	CU_ASSERT(took >= 250 && took < 1300); /* the window, checked every 100 ms (loaded CI) */
	for (int i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL(done[i].rc, -EIO);
		CU_ASSERT_PTR_NOT_NULL(strstr(done[i].msg, "no primary within 300 ms"));
	}
	/* nobody at the socket: a new request fails at once, as before */
	ndone = 0;
	CU_ASSERT(send_set("pr:test:w2", "1", SP_AREDIS_REPLAY, &done[2]) < 0);
	CU_ASSERT_EQUAL(ndone, 0);
	CU_ASSERT_EQUAL_FATAL(test_redis_restart(), 0);
}

static long long connections(void)
{
	char v[8192];
	struct pr_redis *r = NULL;
	long long n = -1;
	if (pr_redis_connect(&r, sock, 1000) < 0)
		return -1;
	redisReply *rep = pr_redis_cmd(r, "INFO stats");
	if (rep && rep->type == REDIS_REPLY_STRING) {
		snprintf(v, sizeof(v), "%s", rep->str);
		const char *p = strstr(v, "total_connections_received:");
		if (p)
			n = strtoll(p + strlen("total_connections_received:"), NULL, 10);
	}
	if (rep)
		freeReplyObject(rep);
	pr_redis_close(r);
	return n;
}

static void test_epoch_moves(void)
{
	CU_ASSERT_EQUAL_FATAL(reopen(3000), 0);
	memset(done, 0, sizeof(done));
	ndone = 0;
	run_until(1000, 50); /* connected */
	long long c0 = connections();
	/* in flight on the connection to the "old" primary when the epoch moves */
	CU_ASSERT_EQUAL_FATAL(cmd("CLIENT PAUSE 600 ALL", NULL, 0), 0);
	CU_ASSERT_EQUAL_FATAL(send_set("pr:test:e0", "1", SP_AREDIS_REPLAY, &done[0]), 0);
	CU_ASSERT_EQUAL_FATAL(
	    sp_aredis_cmd(&srv, SP_AREDIS_REPLAY, on_done, &done[1], "GET pr:test:e0"), 0);
	CU_ASSERT_EQUAL_FATAL(send_set("pr:test:e1", "1", SP_AREDIS_ONCE, &done[2]), 0);
	flush_unanswered();
	pr_redis_primary_moved("test", "127.0.0.1:6399");
	run_until(1, 200); /* the timer (100 ms) drops the connection: the ONCE one fails */
	CU_ASSERT_EQUAL(ndone, 1);
	CU_ASSERT_EQUAL(done[2].rc, -EIO);
	run_until(3, 2000); /* the pause ends: the new connection's replies */
	CU_ASSERT_EQUAL_FATAL(ndone, 3);
	CU_ASSERT_EQUAL(done[0].rc, 0);
	CU_ASSERT_EQUAL(done[1].rc, 0);
	CU_ASSERT_STRING_EQUAL(done[1].val, "1");
	/* since c0: CLIENT PAUSE's, the async one's new one, and this count's own */
	CU_ASSERT_EQUAL(connections(), c0 + 3);
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	if (system("command -v redis-server >/dev/null 2>&1") != 0) {
		printf("SKIP: redis-server not installed\n");
		return 77;
	}
	CU_pSuite s = CU_add_suite("sp_replay", suite_init, suite_clean);
	CU_add_test(s, "in flight at a kill: sent again on the restarted server",
		    test_replayed_after_kill);
	CU_add_test(s, "no server within replay_ms: -EIO as before", test_window_ends);
	CU_add_test(s, "the primary epoch moves: reconnect and replay", test_epoch_moves);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
