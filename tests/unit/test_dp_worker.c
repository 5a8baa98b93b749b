/* SPDX-License-Identifier: BSD-3-Clause */
/* Worker helpers that need no EAL: the cycles-to-microseconds conversion behind busy_us
 * (dp_us_q32, dp_cyc_to_us), against exact division. */
#include <stdint.h>
#include <stdlib.h>

#include <CUnit/Basic.h>

#include "dataplane/dp.h"

/* For TSC rates from 1 to 4 GHz (this VM's 1996 MHz among them) and counts from a few
 * cycles to days of them: never above the exact quotient, and below it by less than one
 * part in a million (plus the truncation of one microsecond). */
static void test_cyc_to_us(void)
{
	static const uint64_t hz[] = {1000000000ull, 1996249000ull, 2200000000ull,
				      2999999999ull, 3700000000ull, 4000000000ull};
	uint64_t x = 88172645463325252ull;

	for (unsigned int h = 0; h < sizeof(hz) / sizeof(hz[0]); h++) {
		const uint64_t mhz = hz[h] / 1000000, q = dp_us_q32(hz[h]);
		for (unsigned int i = 0; i < 100000; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			/* up to 2^(10..52) cycles: a microsecond to weeks */
			const uint64_t cyc = x >> (12 + i % 43);
			const uint64_t exact = cyc / mhz, got = dp_cyc_to_us(cyc, q);
			if (got > exact || exact - got > exact / 1000000 + 1) {
				CU_FAIL("dp_cyc_to_us off");
				fprintf(stderr, "\n  hz %llu cyc %llu: %llu, exact %llu\n",
					(unsigned long long)hz[h], (unsigned long long)cyc,
					(unsigned long long)got, (unsigned long long)exact);
				return;
			}
		}
		/* a millisecond's cycles: 1000 us, or 999 by the truncation; under one
		 * microsecond's: none */
		const uint64_t ms = dp_cyc_to_us(mhz * 1000, q);
		CU_ASSERT(ms == 1000 || ms == 999);
		CU_ASSERT_EQUAL(dp_cyc_to_us(mhz - 1, q), 0);
	}
	/* a TSC under 1 MHz counts cycles as microseconds rather than divide by zero */
	CU_ASSERT_EQUAL(dp_cyc_to_us(12345, dp_us_q32(999999)), 12345);
}

int main(void)
{
	CU_pSuite s;
	unsigned int failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("dp_worker", NULL, NULL);
	CU_add_test(s, "cycles to microseconds", test_cyc_to_us);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
