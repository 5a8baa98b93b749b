/* tests/unit/test_stun_auth.c — STUN integrity/fingerprint (RFC 5769 samples), HMAC, HA1,
 * hex, base64 and TURN REST credentials. */
#include <errno.h>
#include <stdlib.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "crypto/stun_auth.h"

static size_t unhex(const char *h, uint8_t *out)
{
	size_t n = 0;
	for (; h[0] && h[1]; h += 2) {
		char b[3] = {h[0], h[1], 0};
		out[n++] = (uint8_t)strtoul(b, NULL, 16);
	}
	return n;
}

/* RFC 5769 2.1 sample request and 2.2 sample IPv4 response (short-term password). */
static const char req_hex[] =
    "000100582112a442b7e7a701bc34d686fa87dfae802200105354554e207465737420636c69656e74"
    "002400046e0001ff80290008932ff9b151263b36000600096576746a3a68367659202020000800149a"
    "eaa70cbfd8cb56781ef2b5b2d3f249c1b571a280280004e57a3bcf";
static const char resp_hex[] =
    "0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f7220002000080001"
    "a147e112a643000800142b91f599fd9e90c38c7489f92af9ba53f06be7d780280004c07d4c96";
static const char pwd[] = "VOkJxbRl1RmTxUk/WvJxBt";

/* Checks MESSAGE-INTEGRITY and FINGERPRINT of a message ending in MI(24) + FP(8). */
static void check_sample(const char *hex)
{
	uint8_t m[256], mac[20];
	size_t n = unhex(hex, m);
	size_t fp_off = n - 8, mi_off = fp_off - 24;
	uint32_t fp;

	CU_ASSERT_EQUAL_FATAL((size_t)(m[2] << 8 | m[3]), n - 20);
	/* FINGERPRINT covers everything before it, length field as sent */
	fp = pr_stun_fingerprint(m, fp_off);
	CU_ASSERT_EQUAL(fp, (uint32_t)m[fp_off + 4] << 24 | (uint32_t)m[fp_off + 5] << 16 |
				(uint32_t)m[fp_off + 6] << 8 | m[fp_off + 7]);
	/* MESSAGE-INTEGRITY: length field counts up to the end of MI (RFC 8489 14.5) */
	size_t adj = mi_off + 24 - 20;
	m[2] = (uint8_t)(adj >> 8);
	m[3] = (uint8_t)adj;
	pr_hmac_sha1(pwd, strlen(pwd), m, mi_off, mac);
	CU_ASSERT_EQUAL(memcmp(mac, m + mi_off + 4, 20), 0);
	/* a flipped bit anywhere before MI changes the HMAC and the CRC */
	m[25] ^= 1;
	pr_hmac_sha1(pwd, strlen(pwd), m, mi_off, mac);
	CU_ASSERT_NOT_EQUAL(memcmp(mac, m + mi_off + 4, 20), 0);
	CU_ASSERT_NOT_EQUAL(pr_stun_fingerprint(m, fp_off), fp);
}

static void test_rfc5769_request(void)
{
	check_sample(req_hex);
}

static void test_rfc5769_response(void)
{
	check_sample(resp_hex);
}

static void test_crc32(void)
{
	CU_ASSERT_EQUAL(pr_crc32("123456789", 9), 0xcbf43926u); /* the CRC-32 check value */
	CU_ASSERT_EQUAL(pr_crc32("", 0), 0);
	CU_ASSERT_EQUAL(pr_stun_fingerprint("", 0), 0x5354554eu);
	/* every length and alignment against a bit-at-a-time reference: the fast path takes
	 * eight bytes a step, the tail one at a time */
	uint8_t buf[80];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 37 + 11);
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; off + len <= sizeof(buf); len++) {
			uint32_t c = 0xffffffffu;
			for (size_t i = 0; i < len; i++) {
				c ^= buf[off + i];
				for (int k = 0; k < 8; k++)
					c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
			}
			if (pr_crc32(buf + off, len) != (c ^ 0xffffffffu)) {
				CU_FAIL("crc32 differs from the bitwise reference");
				return;
			}
		}
}

/* RFC 2202 / RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?" */
static void test_hmac(void)
{
	uint8_t out1[20], out256[32], exp[32];
	const char *d = "what do ya want for nothing?";

	pr_hmac_sha1("Jefe", 4, d, strlen(d), out1);
	unhex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79", exp);
	CU_ASSERT_EQUAL(memcmp(out1, exp, 20), 0);
	pr_hmac_sha256("Jefe", 4, d, strlen(d), out256);
	unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", exp);
	CU_ASSERT_EQUAL(memcmp(out256, exp, 32), 0);
	/* MESSAGE-INTEGRITY-SHA256 uses the same HMAC; an empty key is allowed */
	pr_hmac_sha256("", 0, "", 0, out256);
	unhex("b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad", exp);
	CU_ASSERT_EQUAL(memcmp(out256, exp, 32), 0);
	/* keys longer than a block are hashed first: RFC 2202 case 6 (80 x 0xaa) and
	 * RFC 4231 case 6 (131 x 0xaa) */
	uint8_t big[131];
	memset(big, 0xaa, sizeof(big));
	d = "Test Using Larger Than Block-Size Key - Hash Key First";
	pr_hmac_sha1(big, 80, d, strlen(d), out1);
	unhex("aa4ae5e15272d00e95705637ce8a3b55ed402112", exp);
	CU_ASSERT_EQUAL(memcmp(out1, exp, 20), 0);
	pr_hmac_sha256(big, 131, d, strlen(d), out256);
	unhex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", exp);
	CU_ASSERT_EQUAL(memcmp(out256, exp, 32), 0);
	/* a key of exactly one block is used as it is: RFC 2202 case 7's data with a 64-byte
	 * key, checked against the 80-byte case not being confused with it */
	pr_hmac_sha1(big, 64, d, strlen(d), out1);
	CU_ASSERT_NOT_EQUAL(memcmp(out1, exp, 20), 0);
}

/* Each thread has its own digest context: threads computing at once get the right MACs. */
static void *hmac_thread(void *arg)
{
	uint8_t out[20], exp[20];
	const char *d = "what do ya want for nothing?";
	intptr_t bad = 0;

	unhex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79", exp);
	for (int i = 0; i < 20000; i++) {
		pr_hmac_sha1("Jefe", 4, d, strlen(d), out);
		bad += memcmp(out, exp, 20) != 0;
	}
	(void)arg;
	return (void *)bad;
}

static void test_hmac_threads(void)
{
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, hmac_thread, NULL), 0);
	for (int i = 0; i < 4; i++) {
		void *bad;
		pthread_join(t[i], &bad);
		CU_ASSERT_EQUAL((intptr_t)bad, 0);
	}
}

static void test_ha1(void)
{
	uint8_t md5[16], sha[32];
	char hex[65];

	pr_ha1_md5("user", "realm", "pass", md5);
	pr_hex_encode(md5, 16, hex);
	CU_ASSERT_STRING_EQUAL(hex, "8493fbc53ba582fb4c044c456bdc40eb");
	/* SHA-256 of "user:realm:pass" (RFC 8760), expected value from sha256sum */
	pr_ha1_sha256("user", "realm", "pass", sha);
	pr_hex_encode(sha, 32, hex);
	{
		uint8_t again[32];
		pr_ha1_sha256("user", "realm", "pass", again);
		CU_ASSERT_EQUAL(memcmp(again, sha, 32), 0);
		pr_ha1_sha256("user", "realm", "Pass", again);
		CU_ASSERT_NOT_EQUAL(memcmp(again, sha, 32), 0);
	}
	CU_ASSERT_STRING_EQUAL(hex,
			       "07e934117abd40836e7c6329b54731b2b2d2a5f9a71f544922d75e0730d8251b");
}

static void test_hex(void)
{
	uint8_t b[4];
	char s[9];

	CU_ASSERT_EQUAL(pr_hex_decode("00fFa1", b, sizeof(b)), 3);
	CU_ASSERT_EQUAL(b[0], 0);
	CU_ASSERT_EQUAL(b[1], 0xff);
	CU_ASSERT_EQUAL(b[2], 0xa1);
	pr_hex_encode(b, 3, s);
	CU_ASSERT_STRING_EQUAL(s, "00ffa1");
	CU_ASSERT_EQUAL(pr_hex_decode("abc", b, sizeof(b)), -EINVAL);
	CU_ASSERT_EQUAL(pr_hex_decode("zz", b, sizeof(b)), -EINVAL);
	CU_ASSERT_EQUAL(pr_hex_decode("0011223344", b, sizeof(b)), -EINVAL); /* too long */
	CU_ASSERT_EQUAL(pr_hex_decode("", b, sizeof(b)), 0);
	CU_ASSERT_EQUAL(pr_hex_decode(NULL, b, sizeof(b)), -EINVAL);
}

static void test_base64(void)
{
	char s[16];
	uint8_t b[8];

	/* RFC 4648 section 10 */
	CU_ASSERT_EQUAL(pr_base64_encode((const uint8_t *)"foob", 4, s, sizeof(s)), 8);
	CU_ASSERT_STRING_EQUAL(s, "Zm9vYg==");
	CU_ASSERT_EQUAL(pr_base64_encode((const uint8_t *)"fooba", 5, s, sizeof(s)), 8);
	CU_ASSERT_STRING_EQUAL(s, "Zm9vYmE=");
	CU_ASSERT_EQUAL(pr_base64_encode((const uint8_t *)"foobar", 6, s, sizeof(s)), 8);
	CU_ASSERT_STRING_EQUAL(s, "Zm9vYmFy");
	CU_ASSERT_EQUAL(pr_base64_encode((const uint8_t *)"foobar", 6, s, 8), -ENOSPC);
	CU_ASSERT_EQUAL(pr_base64_decode("Zm9vYmE=", 8, b, sizeof(b)), 5);
	CU_ASSERT_EQUAL(memcmp(b, "fooba", 5), 0);
	CU_ASSERT_EQUAL(pr_base64_decode("Zm9vYmE", 7, b, sizeof(b)), -EINVAL);
	CU_ASSERT_EQUAL(pr_base64_decode("Zm9v*mE=", 8, b, sizeof(b)), -EINVAL);
	CU_ASSERT_EQUAL(pr_base64_decode("Zm=vYmE=", 8, b, sizeof(b)), -EINVAL);
	CU_ASSERT_EQUAL(pr_base64_decode("Zm9vYmF=", 8, b, sizeof(b)), -EINVAL); /* bits */
	CU_ASSERT_EQUAL(pr_base64_decode("Zm9vYmFy", 8, b, 5), -ENOSPC);
}

static void test_turn_rest(void)
{
	char user[64], pass[64], exp[64];
	uint8_t mac[20];

	CU_ASSERT_EQUAL(pr_turn_rest_username(1700000000, "alice", user, sizeof(user)), 16);
	CU_ASSERT_STRING_EQUAL(user, "1700000000:alice");
	CU_ASSERT_EQUAL(pr_turn_rest_username(1700000000, "alice", user, 16), -ENOSPC);
	CU_ASSERT_EQUAL(pr_turn_rest_username(1700000000, NULL, user, sizeof(user)), 10);
	CU_ASSERT_EQUAL(pr_turn_rest_password("north", "1700000000:alice", pass, sizeof(pass)), 28);
	pr_hmac_sha1("north", 5, "1700000000:alice", 16, mac);
	pr_base64_encode(mac, 20, exp, sizeof(exp));
	CU_ASSERT_STRING_EQUAL(pass, exp);
	CU_ASSERT_EQUAL(pr_turn_rest_password("north", "x", pass, 28), -ENOSPC);
	CU_ASSERT_EQUAL(pr_turn_rest_password(NULL, "x", pass, sizeof(pass)), -EINVAL);
	/* known answer from the openssl CLI:
	 * printf '1700000000:alice' | openssl dgst -sha1 -hmac north -binary | base64 */
	CU_ASSERT_STRING_EQUAL(pass, "Cd/49soE35ICqcJF/bCTn8Z4OyE=");
}

static void test_ct_memcmp(void)
{
	CU_ASSERT_EQUAL(pr_ct_memcmp("abcd", "abcd", 4), 0);
	CU_ASSERT_NOT_EQUAL(pr_ct_memcmp("abcd", "abce", 4), 0);
	CU_ASSERT_EQUAL(pr_ct_memcmp("a", "b", 0), 0);
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("stun_auth", NULL, NULL);
	CU_add_test(s, "rfc5769 sample request", test_rfc5769_request);
	CU_add_test(s, "rfc5769 sample ipv4 response", test_rfc5769_response);
	CU_add_test(s, "crc32", test_crc32);
	CU_add_test(s, "hmac sha1/sha256", test_hmac);
	CU_add_test(s, "hmac from several threads", test_hmac_threads);
	CU_add_test(s, "ha1 md5/sha256", test_ha1);
	CU_add_test(s, "hex", test_hex);
	CU_add_test(s, "base64", test_base64);
	CU_add_test(s, "turn rest credentials", test_turn_rest);
	CU_add_test(s, "constant-time compare", test_ct_memcmp);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
