/* SPDX-License-Identifier: BSD-3-Clause */
/* The failover gap's bound (dataplane/dp_ha.h): the peer's renewal time from a PTTL of its
 * lease, and the bound from that renewal to the first datagram taken. Pure arithmetic: no
 * EAL. */
#include <stdint.h>

#include <CUnit/Basic.h>

#include "dataplane/dp_ha.h"

static void test_renewed_at(void)
{
	/* lease 600 ms with 450 left at 10,000: renewed 150 ms before */
	CU_ASSERT_EQUAL(dp_ha_renewed_at(10000, 600, 450), 9850);
	CU_ASSERT_EQUAL(dp_ha_renewed_at(10000, 600, 600), 10000); /* just renewed */
	CU_ASSERT_EQUAL(dp_ha_renewed_at(10000, 600, 0), 9400);	   /* about to expire */
	/* nothing to say: gone, no expiry, a longer lease than ours (configs differ) */
	CU_ASSERT_EQUAL(dp_ha_renewed_at(10000, 600, -2), -1);
	CU_ASSERT_EQUAL(dp_ha_renewed_at(10000, 600, -1), -1);
	CU_ASSERT_EQUAL(dp_ha_renewed_at(10000, 600, 601), -1);
	/* before our clock's start (a read in our first ms): unknown, never wrapped */
	CU_ASSERT_EQUAL(dp_ha_renewed_at(100, 600, 0), -1);
	CU_ASSERT_EQUAL(dp_ha_renewed_at(100, 600, 500), 0);
}

static void test_gap_bounds(void)
{
	int64_t lo, hi;

	/* renewed at 9850, first datagram at 10,140, lease 240 (renewals every 80 ms) */
	CU_ASSERT_TRUE(dp_ha_gap_bounds(9850, 10140, 240, &lo, &hi));
	CU_ASSERT_EQUAL(hi, 290);
	CU_ASSERT_EQUAL(lo, 210);
	/* lease 600: a renewal period of 200 */
	CU_ASSERT_TRUE(dp_ha_gap_bounds(1000, 1900, 600, &lo, &hi));
	CU_ASSERT_EQUAL(hi, 900);
	CU_ASSERT_EQUAL(lo, 700);
	/* shorter than a period (a handover's would be; never a negative lower bound) */
	CU_ASSERT_TRUE(dp_ha_gap_bounds(1000, 1050, 600, &lo, &hi));
	CU_ASSERT_EQUAL(hi, 50);
	CU_ASSERT_EQUAL(lo, 0);
	/* unknown: no renewal, no datagram yet, out of order */
	CU_ASSERT_FALSE(dp_ha_gap_bounds(-1, 1900, 600, &lo, &hi));
	CU_ASSERT_EQUAL(lo, -1);
	CU_ASSERT_EQUAL(hi, -1);
	CU_ASSERT_FALSE(dp_ha_gap_bounds(1000, -1, 600, &lo, &hi));
	CU_ASSERT_EQUAL(hi, -1);
	CU_ASSERT_FALSE(dp_ha_gap_bounds(2000, 1900, 600, &lo, &hi));
	CU_ASSERT_EQUAL(lo, -1);
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return CU_get_error();
	CU_pSuite s = CU_add_suite("dp_ha_gap", NULL, NULL);
	CU_add_test(s, "renewed_at", test_renewed_at);
	CU_add_test(s, "gap_bounds", test_gap_bounds);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned int fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
