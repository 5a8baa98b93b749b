/* SPDX-License-Identifier: BSD-3-Clause */
/* The choice of a media anchor among a PoP's dataplanes (common/anchor.c): the load
 * relative to capacity, drained and full ones left out, ties spread, a burst spread by what
 * the reader added since a publication; and against a real redis-server: a published
 * lease is read back, a lease that expired (a dataplane killed) is never returned, a
 * withdrawn one neither, and the set forgets the dead. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "common/anchor.h"
#include "common/redis.h"
#include "tests/unit/redis_fixture.h"

static struct pr_anchor mk(const char *addr, uint64_t sessions, uint64_t cap, uint64_t seq,
			   bool draining)
{
	struct pr_anchor a;
	memset(&a, 0, sizeof(a));
	snprintf(a.addr, sizeof(a.addr), "%s", addr);
	a.sessions = sessions;
	a.capacity = cap;
	a.seq = seq;
	a.draining = draining;
	return a;
}

static void test_pick_load(void)
{
	/* relative to capacity: 50/100 is more loaded than 80/1000 */
	struct pr_anchor a[3] = {mk("192.0.2.1", 50, 100, 1, false),
				 mk("192.0.2.2", 80, 1000, 1, false),
				 mk("192.0.2.3", 10, 10, 1, false)};
	for (unsigned rot = 0; rot < 4; rot++)
		CU_ASSERT_EQUAL(pr_anchor_pick(a, 3, NULL, rot, 0), 1);
	/* exact comparison: 1/3 against 333333/1000000 (the float would tie them) */
	struct pr_anchor b[2] = {mk("192.0.2.1", 1, 3, 1, false),
				 mk("192.0.2.2", 333333, 1000000, 1, false)};
	CU_ASSERT_EQUAL(pr_anchor_pick(b, 2, NULL, 0, 0), 1);
	CU_ASSERT_EQUAL(pr_anchor_pick(b, 2, NULL, 1, 0), 1);
}

static void test_pick_excluded(void)
{
	/* drained, or no capacity: never; none left: -ENOENT */
	struct pr_anchor a[3] = {mk("192.0.2.1", 0, 100, 1, true),
				 mk("192.0.2.2", 900, 1000, 1, false),
				 mk("2001:db8::3", 0, 0, 1, false)};
	for (unsigned rot = 0; rot < 4; rot++)
		CU_ASSERT_EQUAL(pr_anchor_pick(a, 3, NULL, rot, 0), 1);
	a[1].draining = true;
	CU_ASSERT_EQUAL(pr_anchor_pick(a, 3, NULL, 0, 0), -ENOENT);
	CU_ASSERT_EQUAL(pr_anchor_pick(a, 0, NULL, 0, 0), -ENOENT);
}

static void test_pick_ties(void)
{
	/* equal load (10/100 = 20/200): the rotation spreads over every tie, and only them */
	struct pr_anchor a[3] = {mk("192.0.2.1", 10, 100, 1, false),
				 mk("192.0.2.2", 50, 100, 1, false),
				 mk("192.0.2.3", 20, 200, 1, false)};
	unsigned seen[3] = {0};
	for (unsigned rot = 0; rot < 10; rot++) {
		int i = pr_anchor_pick(a, 3, NULL, rot, 0);
		CU_ASSERT_FATAL(i >= 0 && i < 3);
		seen[i]++;
	}
	CU_ASSERT_EQUAL(seen[0], 5);
	CU_ASSERT_EQUAL(seen[1], 0);
	CU_ASSERT_EQUAL(seen[2], 5);
}

static void test_pick_burst(void)
{
	/* a burst between two publications: what the reader anchored counts, so the calls
	 * alternate though every pick starts from the same rotation */
	struct pr_anchor_book book;
	memset(&book, 0, sizeof(book));
	struct pr_anchor a[2] = {mk("192.0.2.1", 4, 100, 7, false),
				 mk("192.0.2.2", 0, 100, 3, false)};
	unsigned n0 = 0, n1 = 0;
	for (int k = 0; k < 10; k++) {
		int i = pr_anchor_pick(a, 2, &book, 0, 1);
		CU_ASSERT_FATAL(i == 0 || i == 1);
		i ? n1++ : n0++;
	}
	/* .2 takes the first four alone (4 against 0), then they share: 3 and 7 */
	CU_ASSERT_EQUAL(n0, 3);
	CU_ASSERT_EQUAL(n1, 7);
	/* a new publication of .2 counts them itself: what was added there is forgotten */
	a[1].sessions = 7;
	a[1].seq = 4;
	CU_ASSERT_EQUAL(pr_anchor_pick(a, 2, &book, 0, 0), 0); /* 4 + 3 against 7: tie, rot 0 */
	CU_ASSERT_EQUAL(pr_anchor_pick(a, 2, &book, 1, 0), 1);
	a[1].sessions = 8;
	CU_ASSERT_EQUAL(pr_anchor_pick(a, 2, &book, 1, 0), 0);
}

/* ---- real redis-server ---- */

static char sock_path[128];
static struct pr_redis *R;

static int suite_redis_init(void)
{
	if (test_redis_start("anchor-unit", 120, sock_path, sizeof(sock_path)) < 0)
		return -1;
	return pr_redis_connect(&R, sock_path, 2000) == 0 ? 0 : -1;
}

static int suite_redis_clean(void)
{
	pr_redis_close(R);
	R = NULL;
	test_redis_stop();
	return 0;
}

static int find(const struct pr_anchor *a, size_t n, const char *addr)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(a[i].addr, addr))
			return (int)i;
	return -1;
}

static void test_r_lease(void)
{
	struct pr_anchor got[PR_ANCHOR_MAX];
	size_t n = 99;
	struct pr_anchor a = mk("198.51.100.10", 12, 1000, 5, false);
	struct pr_anchor b = mk("198.51.100.11", 3, 500, 9, true);
	struct pr_anchor c = mk("2001:db8::12", 0, 100, 1, false);

	CU_ASSERT_EQUAL(pr_anchor_read(R, NULL, 0, got, PR_ANCHOR_MAX, &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(pr_anchor_publish(R, &a, 60000), 0);
	CU_ASSERT_EQUAL(pr_anchor_publish(R, &b, 60000), 0);
	CU_ASSERT_EQUAL(pr_anchor_publish(R, &c, 300), 0); /* dies after 300 ms */
	CU_ASSERT_EQUAL(pr_anchor_read(R, NULL, 0, got, PR_ANCHOR_MAX, &n), 0);
	CU_ASSERT_EQUAL(n, 3);
	int i = find(got, n, "198.51.100.11");
	CU_ASSERT_FATAL(i >= 0);
	CU_ASSERT_EQUAL(got[i].sessions, 3);
	CU_ASSERT_EQUAL(got[i].capacity, 500);
	CU_ASSERT_EQUAL(got[i].seq, 9);
	CU_ASSERT(got[i].draining);
	i = find(got, n, "198.51.100.10");
	CU_ASSERT_FATAL(i >= 0);
	CU_ASSERT(!got[i].draining);
	CU_ASSERT_EQUAL(got[i].sessions, 12);

	/* the lease gone (no refresh): never returned, and the set forgets it */
	usleep(600 * 1000);
	CU_ASSERT_EQUAL(pr_anchor_read(R, NULL, 0, got, PR_ANCHOR_MAX, &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(find(got, n, "2001:db8::12"), -1);
	redisReply *rep = pr_redis_cmd(R, "SISMEMBER %s %s", PR_KS_ANCHORS_KEY, "2001:db8::12");
	CU_ASSERT(rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 0);
	if (rep)
		freeReplyObject(rep);
	/* so a pick among what was read never lands there; .11 drains: .10 it is */
	i = pr_anchor_pick(got, n, NULL, 0, 0);
	CU_ASSERT_FATAL(i >= 0);
	CU_ASSERT_STRING_EQUAL(got[i].addr, "198.51.100.10");

	/* an explicit list: only those, live ones only */
	const char list[3][PR_ANCHOR_ADDR_MAX] = {"198.51.100.11", "2001:db8::12", "192.0.2.99"};
	CU_ASSERT_EQUAL(pr_anchor_read(R, list, 3, got, PR_ANCHOR_MAX, &n), 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_STRING_EQUAL(got[0].addr, "198.51.100.11");

	/* a planned stop withdraws at once */
	CU_ASSERT_EQUAL(pr_anchor_withdraw(R, "198.51.100.10"), 0);
	CU_ASSERT_EQUAL(pr_anchor_read(R, NULL, 0, got, PR_ANCHOR_MAX, &n), 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(pr_anchor_pick(got, n, NULL, 0, 0), -ENOENT); /* .11 drains */

	/* a record that is not a number is left out, never chosen */
	rep = pr_redis_cmd(R, "HSET %s198.51.100.13 sessions x capacity 10 draining 0 seq 1",
			   PR_KS_ANCHOR_PREFIX);
	if (rep)
		freeReplyObject(rep);
	rep = pr_redis_cmd(R, "SADD %s 198.51.100.13", PR_KS_ANCHORS_KEY);
	if (rep)
		freeReplyObject(rep);
	CU_ASSERT_EQUAL(pr_anchor_read(R, NULL, 0, got, PR_ANCHOR_MAX, &n), 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(find(got, n, "198.51.100.13"), -1);
	/* a name that is no address is refused at publication */
	struct pr_anchor bad = mk("pop1-a", 0, 1, 1, false);
	CU_ASSERT_EQUAL(pr_anchor_publish(R, &bad, 1000), -EINVAL);
}

int main(void)
{
	CU_pSuite s;
	unsigned failed;
	int have_redis = system("command -v redis-server >/dev/null 2>&1") == 0;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("anchor choice", NULL, NULL);
	CU_add_test(s, "least loaded relative to capacity", test_pick_load);
	CU_add_test(s, "drained and full left out", test_pick_excluded);
	CU_add_test(s, "ties spread", test_pick_ties);
	CU_add_test(s, "a burst spread between publications", test_pick_burst);
	if (have_redis) {
		s = CU_add_suite("anchors on redis", suite_redis_init, suite_redis_clean);
		CU_add_test(s, "leases", test_r_lease);
	} else {
		printf("SKIP: redis-server not installed, Redis round trips not run\n");
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_tests_failed() + CU_get_number_of_failures() +
		 CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
