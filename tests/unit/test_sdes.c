/* tests/unit/test_sdes.c — RFC 4568 a=crypto parse, format, generate. */
#include <errno.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "crypto/sdes.h"
#include "crypto/stun_auth.h"

static const char KEY_B64[] = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"; /* RFC 4568 6.1 */

static int all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

static void test_parse_ok(void)
{
	struct pr_sdes_crypto c;
	uint8_t raw[30];
	char v[160];

	CU_ASSERT_EQUAL(pr_base64_decode(KEY_B64, strlen(KEY_B64), raw, sizeof(raw)), 30);
	snprintf(v, sizeof(v), "1 AES_CM_128_HMAC_SHA1_80 inline:%s|2^20|1:4", KEY_B64);
	CU_ASSERT_EQUAL(pr_sdes_parse(v, &c), 0);
	CU_ASSERT_EQUAL(c.tag, 1);
	CU_ASSERT_EQUAL(c.profile, PR_SRTP_AES128_CM_SHA1_80);
	CU_ASSERT_EQUAL(memcmp(c.key, raw, 16), 0);
	CU_ASSERT_EQUAL(memcmp(c.salt, raw + 16, 14), 0);
	CU_ASSERT_EQUAL(c.lifetime, 1u << 20);
	CU_ASSERT_EQUAL(c.mki, 1);
	CU_ASSERT_EQUAL(c.mki_len, 4);

	snprintf(v, sizeof(v), "42 AES_CM_128_HMAC_SHA1_32 inline:%s\r\n", KEY_B64);
	CU_ASSERT_EQUAL(pr_sdes_parse(v, &c), 0);
	CU_ASSERT_EQUAL(c.tag, 42);
	CU_ASSERT_EQUAL(c.profile, PR_SRTP_AES128_CM_SHA1_32);
	CU_ASSERT_EQUAL(c.lifetime, 0);
	CU_ASSERT_EQUAL(c.mki_len, 0);

	snprintf(v, sizeof(v), "7  AES_CM_128_HMAC_SHA1_80\tinline:%s|1048576", KEY_B64);
	CU_ASSERT_EQUAL(pr_sdes_parse(v, &c), 0);
	CU_ASSERT_EQUAL(c.lifetime, 1048576);

	snprintf(v, sizeof(v), "999999999 AES_CM_128_HMAC_SHA1_80 inline:%s|255:1", KEY_B64);
	CU_ASSERT_EQUAL(pr_sdes_parse(v, &c), 0);
	CU_ASSERT_EQUAL(c.tag, 999999999);
	CU_ASSERT_EQUAL(c.mki, 255);
	CU_ASSERT_EQUAL(c.mki_len, 1);
	CU_ASSERT_EQUAL(c.lifetime, 0);

	/* GCM: 16 + 12 bytes, with and without base64 padding */
	CU_ASSERT_EQUAL(pr_sdes_parse("3 AEAD_AES_128_GCM "
				      "inline:AAECAwQFBgcICQoLDA0OD1F1aWQgcHJvIHF1bw==",
				      &c),
			0);
	CU_ASSERT_EQUAL(c.profile, PR_SRTP_AEAD_AES128_GCM);
	CU_ASSERT_EQUAL(c.key[15], 0x0f);
	CU_ASSERT_EQUAL(memcmp(c.salt, "Quid pro quo", 12), 0);
	CU_ASSERT_EQUAL(pr_sdes_parse("3 AEAD_AES_128_GCM "
				      "inline:AAECAwQFBgcICQoLDA0OD1F1aWQgcHJvIHF1bw",
				      &c),
			0);
	CU_ASSERT_EQUAL(memcmp(c.salt, "Quid pro quo", 12), 0);
}

static void expect(const char *v, int rc)
{
	struct pr_sdes_crypto c;

	memset(&c, 0xa5, sizeof(c));
	CU_ASSERT_EQUAL(pr_sdes_parse(v, &c), rc);
	if (rc)
		CU_ASSERT_TRUE(all_zero(&c, sizeof(c))); /* no key left behind */
}

static void test_parse_refused(void)
{
	char v[200];

	/* RFC 4568's own example uses a 32-byte MKI: well-formed, not supported */
	snprintf(v, sizeof(v), "1 AES_CM_128_HMAC_SHA1_80 inline:%s|2^20|1:32", KEY_B64);
	expect(v, -ENOTSUP);
	snprintf(v, sizeof(v), "1 AES_256_CM_HMAC_SHA1_80 inline:%s", KEY_B64);
	expect(v, -ENOTSUP);
	snprintf(v, sizeof(v), "1 AES_CM_128_HMAC_SHA1_80 inline:%s KDR=1", KEY_B64);
	expect(v, -ENOTSUP);
	snprintf(v, sizeof(v), "1 AES_CM_128_HMAC_SHA1_80 inline:%s UNENCRYPTED_SRTP", KEY_B64);
	expect(v, -ENOTSUP);
	snprintf(v, sizeof(v), "1 AES_CM_128_HMAC_SHA1_80 inline:%s;inline:%s", KEY_B64, KEY_B64);
	expect(v, -ENOTSUP);
	expect("1 AES_CM_128_HMAC_SHA1_80 uri:https://example.com/key", -ENOTSUP);

	snprintf(v, sizeof(v), "0 AES_CM_128_HMAC_SHA1_80 inline:%s", KEY_B64);
	expect(v, -EINVAL);
	snprintf(v, sizeof(v), "1000000000 AES_CM_128_HMAC_SHA1_80 inline:%s", KEY_B64);
	expect(v, -EINVAL);
	snprintf(v, sizeof(v), "x AES_CM_128_HMAC_SHA1_80 inline:%s", KEY_B64);
	expect(v, -EINVAL);
	snprintf(v, sizeof(v), "1 aes-cm inline:%s", KEY_B64);
	expect(v, -EINVAL);
	expect("1 AES_CM_128_HMAC_SHA1_80", -EINVAL);
	expect("1 AES_CM_128_HMAC_SHA1_80 ", -EINVAL);
	expect("1 AES_CM_128_HMAC_SHA1_80 inline:", -EINVAL);
	expect("1 AES_CM_128_HMAC_SHA1_80 inline:PS1u*CVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
	       -EINVAL);
	/* 28 bytes are a GCM key, not a CM one */
	expect("1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0OD1F1aWQgcHJvIHF1bw==",
	       -EINVAL);
	snprintf(v, sizeof(v), "1 AES_CM_128_HMAC_SHA1_80 inline:%s|2^49", KEY_B64);
	expect(v, -EINVAL);
	snprintf(v, sizeof(v), "1 AES_CM_128_HMAC_SHA1_80 inline:%s|2^0", KEY_B64);
	expect(v, -EINVAL);
	snprintf(v, sizeof(v), "1 AES_CM_128_HMAC_SHA1_80 inline:%s|0", KEY_B64);
	expect(v, -EINVAL);
	snprintf(v, sizeof(v), "1 AES_CM_128_HMAC_SHA1_80 inline:%s|256:1", KEY_B64);
	expect(v, -EINVAL);
	snprintf(v, sizeof(v), "1 AES_CM_128_HMAC_SHA1_80 inline:%s|1:0", KEY_B64);
	expect(v, -EINVAL);
	snprintf(v, sizeof(v), "1 AES_CM_128_HMAC_SHA1_80 inline:%s|2^20|", KEY_B64);
	expect(v, -EINVAL);
	snprintf(v, sizeof(v), "1 AES_CM_128_HMAC_SHA1_80 inline:%s|2^20|1:4|x", KEY_B64);
	expect(v, -EINVAL);
	expect("", -EINVAL);
	CU_ASSERT_EQUAL(pr_sdes_parse(NULL, NULL), -EINVAL);
}

static void test_format_roundtrip(void)
{
	struct pr_sdes_crypto a, b;
	char buf[128], v[160];

	snprintf(v, sizeof(v), "1 AES_CM_128_HMAC_SHA1_80 inline:%s|2^20|1:4", KEY_B64);
	CU_ASSERT_EQUAL(pr_sdes_parse(v, &a), 0);
	CU_ASSERT_EQUAL(pr_sdes_format(&a, buf, sizeof(buf)), (int)strlen(v));
	CU_ASSERT_STRING_EQUAL(buf, v);

	for (int p = PR_SRTP_AES128_CM_SHA1_80; p <= PR_SRTP_AEAD_AES128_GCM; p++) {
		CU_ASSERT_EQUAL(pr_sdes_generate(&a, (unsigned)p, (enum pr_srtp_profile)p), 0);
		a.lifetime = p == 2 ? 1000 : 0;
		a.mki = p == 3 ? 7 : 0;
		a.mki_len = p == 3 ? 2 : 0;
		int n = pr_sdes_format(&a, buf, sizeof(buf));
		CU_ASSERT_TRUE(n > 0);
		CU_ASSERT_EQUAL(pr_sdes_parse(buf, &b), 0);
		CU_ASSERT_EQUAL(memcmp(&a, &b, sizeof(a)), 0);
		/* too small: -ENOSPC and nothing of the key left in the buffer */
		CU_ASSERT_EQUAL(pr_sdes_format(&a, buf, (size_t)n), -ENOSPC);
		CU_ASSERT_TRUE(all_zero(buf, (size_t)n));
	}
	/* lifetime 1 is written "1", not "2^0" (found by fuzz_srtp_sdes) */
	CU_ASSERT_EQUAL(pr_sdes_generate(&a, 9, PR_SRTP_AES128_CM_SHA1_80), 0);
	a.lifetime = 1;
	CU_ASSERT_TRUE(pr_sdes_format(&a, buf, sizeof(buf)) > 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "|1"));
	CU_ASSERT_PTR_NULL(strstr(buf, "2^0"));
	CU_ASSERT_EQUAL(pr_sdes_parse(buf, &b), 0);
	CU_ASSERT_EQUAL(b.lifetime, 1);
	a.tag = 0;
	CU_ASSERT_EQUAL(pr_sdes_format(&a, buf, sizeof(buf)), -EINVAL);
	a.tag = 1;
	a.mki_len = 5;
	CU_ASSERT_EQUAL(pr_sdes_format(&a, buf, sizeof(buf)), -EINVAL);
}

static void test_generate(void)
{
	struct pr_sdes_crypto a, b;

	CU_ASSERT_EQUAL(pr_sdes_generate(&a, 1, PR_SRTP_AES128_CM_SHA1_80), 0);
	CU_ASSERT_EQUAL(pr_sdes_generate(&b, 1, PR_SRTP_AES128_CM_SHA1_80), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(a.key, b.key, 16), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(a.salt, b.salt, 14), 0);
	CU_ASSERT_FALSE(all_zero(a.key, 16));
	CU_ASSERT_EQUAL(pr_sdes_generate(&a, 1, PR_SRTP_AEAD_AES128_GCM), 0);
	CU_ASSERT_TRUE(all_zero(a.salt + 12, 2)); /* GCM salt is 12 bytes */
	CU_ASSERT_EQUAL(pr_sdes_generate(&a, 0, PR_SRTP_AES128_CM_SHA1_80), -EINVAL);
	CU_ASSERT_EQUAL(pr_sdes_generate(&a, 1, (enum pr_srtp_profile)0), -EINVAL);
	pr_sdes_wipe(&b);
	CU_ASSERT_TRUE(all_zero(&b, sizeof(b)));
	pr_sdes_wipe(NULL);
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("sdes", NULL, NULL);
	CU_add_test(s, "parse", test_parse_ok);
	CU_add_test(s, "parse refusals", test_parse_refused);
	CU_add_test(s, "format round trip", test_format_roundtrip);
	CU_add_test(s, "generate", test_generate);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
