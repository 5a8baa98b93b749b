/* SPDX-License-Identifier: BSD-3-Clause */
/* Connection ids across the PoP's slowpaths (sp_conn_id_base): two started in the same
 * second hand out ids apart (they meet in Redis, in a binding's and a dialog's conn_id),
 * and so does a restart; every id stays a positive int64. */
#include <CUnit/Basic.h>
#include <stdint.h>

#include "slowpath/sp_server.h"

#define NOW   INT64_C(1796660000) /* 2026-12 */
#define BURST 200000		  /* connections each instance accepts */

/* [a, a + n) and [b, b + n) do not meet */
static int apart(uint64_t a, uint64_t b, uint64_t n)
{
	return a + n <= b || b + n <= a;
}

static void same_second(void)
{
	/* the ids of two slowpaths of one PoP started in the same second, their tags differing
	 * (random at each start): before, both began at NOW << 20 */
	uint64_t a = sp_conn_id_base(NOW, 0x1234), b = sp_conn_id_base(NOW, 0x1235);
	CU_ASSERT_NOT_EQUAL(a, b);
	CU_ASSERT_TRUE(apart(a, b, BURST));
	/* the tags' 15 bits only: a tag differing above them would not help, and is cut */
	CU_ASSERT_EQUAL(sp_conn_id_base(NOW, 0x8001), sp_conn_id_base(NOW, 0x0001));
	CU_ASSERT_TRUE(apart(sp_conn_id_base(NOW, 0), sp_conn_id_base(NOW, 0x7fff), BURST));
}

static void restart(void)
{
	/* the same tag by chance, a second later: 65,536 ids a second of the first one's life
	 * before the ranges meet */
	uint64_t a = sp_conn_id_base(NOW, 7), b = sp_conn_id_base(NOW + 1, 7);
	CU_ASSERT_TRUE(apart(a, b, 65536));
	CU_ASSERT_TRUE(apart(a, sp_conn_id_base(NOW + 10, 7), 655360));
	CU_ASSERT_TRUE(b > a);
}

static void positive(void)
{
	/* JSON readers take them as int64: the highest tag in 2100 */
	uint64_t hi = sp_conn_id_base(INT64_C(4102444800), 0xffff);
	CU_ASSERT_TRUE(hi + BURST <= (uint64_t)INT64_MAX);
	CU_ASSERT_TRUE(sp_conn_id_base(NOW, 0x7fff) + BURST <= (uint64_t)INT64_MAX);
	CU_ASSERT_TRUE(sp_conn_id_base(NOW, 0) > 0);
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	CU_pSuite s = CU_add_suite("sp_conn_id", NULL, NULL);
	CU_add_test(s, "two slowpaths started in the same second", same_second);
	CU_add_test(s, "a restart", restart);
	CU_add_test(s, "positive as int64", positive);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
