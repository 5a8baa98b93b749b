/* SPDX-License-Identifier: BSD-3-Clause */
/* Digest computation (RFC 7616 section 3.9.1 examples, which RFC 8760 adopts for SIP),
 * nonce validity/staleness and nonce-count replay detection. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "slowpath/sp_digest.h"

#define NONCE  "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
#define CNONCE "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"

static void rfc7616_md5(void)
{
	char ha1[SP_DIGEST_HEX_MAX], resp[SP_DIGEST_HEX_MAX];
	CU_ASSERT_EQUAL(
	    sp_digest_ha1(SP_DIGEST_MD5, "Mufasa", "http-auth@example.org", "Circle of Life", ha1),
	    0);
	CU_ASSERT_EQUAL(sp_digest_response(SP_DIGEST_MD5, ha1, "GET", "/dir/index.html", NONCE,
					   "00000001", CNONCE, "auth", resp),
			0);
	CU_ASSERT_STRING_EQUAL(resp, "8ca523f5e9506fed4657c9700eebdbec");
}

static void rfc7616_sha256(void)
{
	char ha1[SP_DIGEST_HEX_MAX], resp[SP_DIGEST_HEX_MAX];
	CU_ASSERT_EQUAL(sp_digest_ha1(SP_DIGEST_SHA256, "Mufasa", "http-auth@example.org",
				      "Circle of Life", ha1),
			0);
	CU_ASSERT_EQUAL(strlen(ha1), 64);
	CU_ASSERT_EQUAL(sp_digest_response(SP_DIGEST_SHA256, ha1, "GET", "/dir/index.html", NONCE,
					   "00000001", CNONCE, "auth", resp),
			0);
	CU_ASSERT_STRING_EQUAL(resp,
			       "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
	/* a different password gives a different response */
	CU_ASSERT_EQUAL(sp_digest_ha1(SP_DIGEST_SHA256, "Mufasa", "http-auth@example.org",
				      "Circle of life", ha1),
			0);
	char resp2[SP_DIGEST_HEX_MAX];
	sp_digest_response(SP_DIGEST_SHA256, ha1, "GET", "/dir/index.html", NONCE, "00000001",
			   CNONCE, "auth", resp2);
	CU_ASSERT_FALSE(sp_digest_equal(resp, resp2));
}

static void rfc2069_no_qop(void)
{
	/* RFC 2617 3.5-style without qop: H(HA1:nonce:HA2), computed independently. */
	char ha1[SP_DIGEST_HEX_MAX], resp[SP_DIGEST_HEX_MAX], ha2[SP_DIGEST_HEX_MAX];
	char buf[512], expect[SP_DIGEST_HEX_MAX];
	sp_digest_ha1(SP_DIGEST_MD5, "bob", "poprelay", "zanzibar", ha1);
	sp_digest_hash_hex(SP_DIGEST_MD5, "REGISTER:sip:poprelay", 21, ha2);
	int n = snprintf(buf, sizeof(buf), "%s:%s:%s", ha1, "abc", ha2);
	sp_digest_hash_hex(SP_DIGEST_MD5, buf, n, expect);
	CU_ASSERT_EQUAL(sp_digest_response(SP_DIGEST_MD5, ha1, "REGISTER", "sip:poprelay", "abc",
					   NULL, NULL, NULL, resp),
			0);
	CU_ASSERT_STRING_EQUAL(resp, expect);
}

static void alg_names(void)
{
	CU_ASSERT_EQUAL(sp_digest_alg_parse(NULL), SP_DIGEST_MD5);
	CU_ASSERT_EQUAL(sp_digest_alg_parse("md5"), SP_DIGEST_MD5);
	CU_ASSERT_EQUAL(sp_digest_alg_parse("SHA-256"), SP_DIGEST_SHA256);
	CU_ASSERT_EQUAL(sp_digest_alg_parse("SHA-512-256"), -ENOTSUP);
	CU_ASSERT_EQUAL(sp_digest_alg_parse("MD5-sess"), -ENOTSUP);
	CU_ASSERT_TRUE(sp_digest_equal("ABCdef", "abcDEF"));
	CU_ASSERT_FALSE(sp_digest_equal("abc", "abcd"));
	CU_ASSERT_FALSE(sp_digest_equal("", ""));
}

static void nonces(void)
{
	struct sp_nonce_ctx n, other;
	char nonce[SP_NONCE_LEN + 1];
	CU_ASSERT_EQUAL(sp_nonce_init(&n, 30), 0);
	CU_ASSERT_EQUAL(sp_nonce_init(&other, 30), 0);
	CU_ASSERT_EQUAL(sp_nonce_make(&n, 1000, nonce), 0);
	CU_ASSERT_EQUAL(strlen(nonce), SP_NONCE_LEN);
	CU_ASSERT_EQUAL(sp_nonce_check(&n, nonce, 1000), 0);
	CU_ASSERT_EQUAL(sp_nonce_check(&n, nonce, 1030), 0);
	CU_ASSERT_EQUAL(sp_nonce_check(&n, nonce, 1031), -ESTALE);
	CU_ASSERT_EQUAL(sp_nonce_check(&other, nonce, 1000), -EINVAL); /* other secret */
	nonce[20] = nonce[20] == 'a' ? 'b' : 'a';
	CU_ASSERT_EQUAL(sp_nonce_check(&n, nonce, 1000), -EINVAL); /* tampered */
	CU_ASSERT_EQUAL(sp_nonce_check(&n, "short", 1000), -EINVAL);
	CU_ASSERT_EQUAL(sp_nonce_make(&n, 5000, nonce), 0);
	CU_ASSERT_EQUAL(sp_nonce_check(&n, nonce, 1000), -EINVAL); /* from the future */
	/* the kept HMAC context restarts cleanly: every nonce carries HMAC-SHA256(secret,
	 * ts|rand) as a one-shot HMAC computes it, the 100th as the first */
	for (int i = 0; i < 100; i++) {
		CU_ASSERT_EQUAL_FATAL(sp_nonce_make(&n, 2000 + i, nonce), 0);
		uint8_t raw[24], m[EVP_MAX_MD_SIZE];
		unsigned ml = 0;
		for (int k = 0; k < 24; k++)
			sscanf(nonce + 2 * k, "%2hhx", &raw[k]);
		HMAC(EVP_sha256(), n.secret, sizeof(n.secret), raw, 16, m, &ml);
		CU_ASSERT_EQUAL(memcmp(m, raw + 16, 8), 0);
		CU_ASSERT_EQUAL(sp_nonce_check(&n, nonce, 2000 + i), 0);
		CU_ASSERT_EQUAL(sp_nonce_check(&other, nonce, 2000 + i), -EINVAL);
	}
	sp_nonce_free(&n);
	sp_nonce_free(&other);
	sp_nonce_free(&other); /* twice is harmless */
}

/* The table grows when a nonce's window is full: 20,000 nonces in flight from 16 slots, each
 * still a replay after the growths; at its largest it refuses, until nonces expire. */
static void replay_growth(void)
{
	struct sp_nc_table *t = sp_nc_table_new(16, 1 << 16);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	char nonce[32];
	int bad = 0;
	for (int i = 0; i < 20000; i++) {
		snprintf(nonce, sizeof(nonce), "nonce-%d", i);
		bad += sp_nc_check(t, nonce, "00000001", 100, 500) != 0;
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_TRUE(sp_nc_table_slots(t) >= 20000 && sp_nc_table_slots(t) <= (1 << 16));
	int replays = 0, next = 0;
	for (int i = 0; i < 20000; i++) {
		snprintf(nonce, sizeof(nonce), "nonce-%d", i);
		replays += sp_nc_check(t, nonce, "00000001", 101, 500) == -EALREADY;
		next += sp_nc_check(t, nonce, "00000002", 101, 500) == 0;
	}
	CU_ASSERT_EQUAL(replays, 20000);
	CU_ASSERT_EQUAL(next, 20000);
	sp_nc_table_free(t);

	t = sp_nc_table_new(16, 256);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	int ok = 0, full = 0;
	for (int i = 0; i < 1000; i++) {
		snprintf(nonce, sizeof(nonce), "n%d", i);
		int rc = sp_nc_check(t, nonce, "00000001", 100, 200);
		ok += rc == 0;
		full += rc == -ENOSPC;
	}
	CU_ASSERT_TRUE(ok > 100 && ok <= 256);
	CU_ASSERT_EQUAL(ok + full, 1000);
	CU_ASSERT_EQUAL(sp_nc_table_slots(t), 256);
	/* once those expired, their slots serve new nonces */
	CU_ASSERT_EQUAL(sp_nc_check(t, "later", "00000001", 201, 300), 0);
	sp_nc_table_free(t);
}

/* sp_random: pooled DRBG output, no draw repeated across pool refills */
static void random_pool(void)
{
	static uint8_t seen[200][64];
	uint8_t zero[64] = {0};
	for (int i = 0; i < 200; i++) { /* 12.5 KiB: a dozen refills of the 1 KiB pool */
		CU_ASSERT_EQUAL_FATAL(sp_random(seen[i], 64), 0);
		CU_ASSERT_NOT_EQUAL(memcmp(seen[i], zero, 64), 0);
		for (int k = 0; k < i; k++)
			CU_ASSERT_NOT_EQUAL(memcmp(seen[i], seen[k], 64), 0);
	}
	uint8_t small[3];
	CU_ASSERT_EQUAL(sp_random(small, 3), 0); /* odd sizes leave the pool unaligned */
	CU_ASSERT_EQUAL(sp_random(seen[0], 65), -EINVAL);
}

static void replay(void)
{
	struct sp_nc_table *t = sp_nc_table_new(64, 64);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(sp_nc_check(t, "n1", "00000001", 100, 200), 0);
	CU_ASSERT_EQUAL(sp_nc_check(t, "n1", "00000001", 100, 200), -EALREADY);
	CU_ASSERT_EQUAL(sp_nc_check(t, "n1", "00000002", 100, 200), 0);
	CU_ASSERT_EQUAL(sp_nc_check(t, "n1", "00000001", 100, 200), -EALREADY);
	CU_ASSERT_EQUAL(sp_nc_check(t, "n2", "00000001", 100, 200), 0);
	CU_ASSERT_EQUAL(sp_nc_check(t, "n2", "0000001", 100, 200), -EINVAL);
	CU_ASSERT_EQUAL(sp_nc_check(t, "n2", "0000000g", 100, 200), -EINVAL);
	/* after expiry the slot is forgotten (the nonce itself is stale by then) */
	CU_ASSERT_EQUAL(sp_nc_check(t, "n1", "00000001", 300, 400), 0);
	sp_nc_table_free(t);
}

static void challenge(void)
{
	char buf[512];
	const int both[] = {SP_DIGEST_SHA256, SP_DIGEST_MD5}, md5[] = {SP_DIGEST_MD5};
	CU_ASSERT_EQUAL(sp_digest_challenge(buf, sizeof(buf), "WWW-Authenticate", "poprelay", "abc",
					    true, both, 2),
			0);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "algorithm=SHA-256, qop=\"auth\", stale=true\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "algorithm=MD5"));
	CU_ASSERT_TRUE(strstr(buf, "SHA-256") < strstr(buf, "MD5"));
	CU_ASSERT_EQUAL(
	    sp_digest_challenge(buf, 20, "WWW-Authenticate", "poprelay", "abc", false, both, 2),
	    -ENOSPC);
	CU_ASSERT_EQUAL(
	    sp_digest_challenge(buf, sizeof(buf), "Proxy-Authenticate", "r", "n", false, md5, 1),
	    0);
	CU_ASSERT_PTR_NULL(strstr(buf, "SHA-256"));
	CU_ASSERT_PTR_NULL(strstr(buf, "stale"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(buf, "Proxy-Authenticate: Digest realm=\"r\", nonce=\"n\", algorithm=MD5"));
	char u[8];
	CU_ASSERT_EQUAL(sp_unquote(u, sizeof(u), "\"alice\""), 0);
	CU_ASSERT_STRING_EQUAL(u, "alice");
	CU_ASSERT_EQUAL(sp_unquote(u, sizeof(u), "\"alice-too-long\""), -EINVAL);
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite("sp_digest", NULL, NULL);
	CU_add_test(s, "RFC 7616 MD5 example", rfc7616_md5);
	CU_add_test(s, "RFC 7616 SHA-256 example", rfc7616_sha256);
	CU_add_test(s, "no qop", rfc2069_no_qop);
	CU_add_test(s, "algorithm names", alg_names);
	CU_add_test(s, "nonce validity and staleness", nonces);
	CU_add_test(s, "nonce-count replay", replay);
	CU_add_test(s, "nonce-count table growth", replay_growth);
	CU_add_test(s, "pooled random bytes", random_pool);
	CU_add_test(s, "challenge header", challenge);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
