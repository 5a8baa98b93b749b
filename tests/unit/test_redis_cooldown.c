/* SPDX-License-Identifier: BSD-3-Clause */
/* The synchronous client's slow-Redis cooldown (pr_redis_set_slow_cooldown), against a real
 * redis-server whose clients are paused (CLIENT PAUSE ALL: it accepts and reads, answers
 * nothing, as a server that is overloaded or stopped): the first command waits one timeout,
 * not two (no reconnect and retry); the next ones fail at once, saying why, until the
 * cooldown ends or the caller ends it; then commands go through again. Without a cooldown
 * the client behaves as before: a timeout is retried once on a new connection. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "common/redis.h"
#include "tests/unit/redis_fixture.h"

static char sock[256];

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int suite_init(void)
{
	return test_redis_start("pr-cooldown", 60, sock, sizeof(sock)) == 0 ? 0 : -1;
}

static int suite_clean(void)
{
	test_redis_stop();
	return 0;
}

/* Every client of the server paused for ms (the command's own connection too, after it). */
static void pause_clients(int ms)
{
	struct pr_redis *a = NULL;
	CU_ASSERT_FATAL(pr_redis_connect(&a, sock, 1000) == 0);
	redisReply *rep = pr_redis_cmd(a, "CLIENT PAUSE %d ALL", ms);
	CU_ASSERT_FATAL(rep && rep->type == REDIS_REPLY_STATUS);
	freeReplyObject(rep);
	pr_redis_close(a);
}

/* A PING: whether it succeeded, and how long it took */
static bool ping(struct pr_redis *r, int64_t *took)
{
	int64_t t0 = now_ms();
	redisReply *rep = pr_redis_cmd(r, "PING");
	*took = now_ms() - t0;
	bool ok = rep && rep->type == REDIS_REPLY_STATUS;
	if (rep)
		freeReplyObject(rep);
	return ok;
}

static void test_cooldown(void)
{
	struct pr_redis *r = NULL;
	int64_t took;
	CU_ASSERT_FATAL(pr_redis_connect(&r, sock, 300) == 0);
	pr_redis_set_slow_cooldown(r, 5000);
	CU_ASSERT_TRUE(ping(r, &took));
	CU_ASSERT_FALSE(pr_redis_cooling(r));

	pause_clients(1500);
	/* one timeout, no reconnect and retry: 300 ms, not 600 or more */
	CU_ASSERT_FALSE(ping(r, &took));
	CU_ASSERT(took >= 250 && took < 550);
	CU_ASSERT_PTR_NOT_NULL(strstr(pr_redis_errmsg(r), "no reply within 300 ms"));
	CU_ASSERT_TRUE(pr_redis_cooling(r));
	/* then at once, saying why */
	CU_ASSERT_FALSE(ping(r, &took));
	CU_ASSERT(took < 50);
	CU_ASSERT_PTR_NOT_NULL(strstr(pr_redis_errmsg(r), "not asked again"));

	/* the caller learnt (elsewhere) that Redis answers again: asked at once */
	usleep(1600 * 1000);
	pr_redis_cooldown_end(r);
	CU_ASSERT_FALSE(pr_redis_cooling(r));
	CU_ASSERT_TRUE(ping(r, &took));
	pr_redis_close(r);
}

static void test_cooldown_expires(void)
{
	struct pr_redis *r = NULL;
	int64_t took;
	CU_ASSERT_FATAL(pr_redis_connect(&r, sock, 300) == 0);
	pr_redis_set_slow_cooldown(r, 1000);
	pause_clients(700);
	CU_ASSERT_FALSE(ping(r, &took));
	CU_ASSERT_FALSE(ping(r, &took));
	CU_ASSERT(took < 50);
	usleep(1100 * 1000); /* the cooldown over, the server answering again */
	CU_ASSERT_FALSE(pr_redis_cooling(r));
	CU_ASSERT_TRUE(ping(r, &took));
	pr_redis_close(r);
}

static void test_no_cooldown(void)
{
	struct pr_redis *r = NULL;
	int64_t took;
	CU_ASSERT_FATAL(pr_redis_connect(&r, sock, 300) == 0);
	pause_clients(1200);
	/* as before: the timeout is retried on a new connection (whose PING waits too) */
	CU_ASSERT_FALSE(ping(r, &took));
	CU_ASSERT(took >= 550);
	CU_ASSERT_FALSE(pr_redis_cooling(r));
	usleep(1300 * 1000);
	CU_ASSERT_TRUE(ping(r, &took));
	pr_redis_close(r);
}

int main(void)
{
	CU_pSuite s;
	unsigned failed;

	if (system("command -v redis-server >/dev/null 2>&1") != 0) {
		printf("SKIP: redis-server not installed\n");
		return 0;
	}
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("slow redis cooldown", suite_init, suite_clean);
	CU_add_test(s, "one timeout, then at once until ended", test_cooldown);
	CU_add_test(s, "the cooldown expires by itself", test_cooldown_expires);
	CU_add_test(s, "without a cooldown: retried as before", test_no_cooldown);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_tests_failed() + CU_get_number_of_failures() +
		 CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
