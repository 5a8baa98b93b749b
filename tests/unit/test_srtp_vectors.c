/* tests/unit/test_srtp_vectors.c — published vectors: RFC 3711 appendix B (AES-CM keystream,
 * key derivation), libsrtp's srtp_driver AES_CM_128_HMAC_SHA1_80 packet (master key in: KDF +
 * AES-CM + HMAC together, both backends), RFC 7714 section 16/17 AEAD_AES_128_GCM SRTP and
 * SRTCP packets (session keys in). Also the profile/result name tables. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "crypto/srtp.h"
#include "crypto/srtp_internal.h"

static size_t unhex(const char *h, uint8_t *out)
{
	size_t n = 0;
	while (*h) {
		if (*h == ' ') {
			h++;
			continue;
		}
		char b[3] = {h[0], h[1], 0};
		out[n++] = (uint8_t)strtoul(b, NULL, 16);
		h += 2;
	}
	return n;
}

/* RFC 3711 B.3 */
static void test_kdf_b3(void)
{
	uint8_t mk[16], ms[14], exp[20];
	struct pr_srtp_session_keys k;

	unhex("E1F97A0D3E018BE0D64FA32C06DE4139", mk);
	unhex("0EC675AD498AFEEBB6960B3AABE6", ms);
	CU_ASSERT_EQUAL_FATAL(pr_srtp_kdf(mk, ms, 14, 0, &k), 0);
	unhex("C61E7A93744F39EE10734AFE3FF7A087", exp);
	CU_ASSERT_EQUAL(memcmp(k.enc_key, exp, 16), 0);
	unhex("30CBBC08863D8C85D49DB34A9AE1", exp);
	CU_ASSERT_EQUAL(memcmp(k.salt, exp, 14), 0);
	unhex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4", exp);
	CU_ASSERT_EQUAL(memcmp(k.auth_key, exp, 20), 0);
	CU_ASSERT_EQUAL(pr_srtp_kdf(mk, ms, 13, 0, &k), -EINVAL);
}

static struct pr_srtp_ctx *session_ctx(enum pr_srtp_profile prof, enum pr_srtp_direction dir,
				       uint32_t ssrc, const char *key, const char *salt,
				       const char *auth)
{
	struct pr_srtp_session_keys k;
	struct pr_srtp_params p;
	struct pr_srtp_ctx *c = NULL;
	uint8_t dummy[16] = {0};

	memset(&k, 0, sizeof(k));
	unhex(key, k.enc_key);
	unhex(salt, k.salt);
	if (auth)
		unhex(auth, k.auth_key);
	memset(&p, 0, sizeof(p));
	p.profile = prof;
	p.backend = PR_SRTP_BACKEND_IPSECMB;
	p.direction = dir;
	p.ssrc = ssrc;
	p.master_key = dummy;
	p.master_salt = dummy;
	CU_ASSERT_EQUAL(pr_srtp_ctx_create_session(&p, &k, &k, &c), 0);
	return c;
}

/* RFC 3711 B.2: with SSRC 0, index 0, a zero payload encrypts to the keystream. */
static void test_aes_cm_b2(void)
{
	struct pr_srtp_ctx *c =
	    session_ctx(PR_SRTP_AES128_CM_SHA1_80, PR_SRTP_SENDER, 0,
			"2B7E151628AED2A6ABF7158809CF4F3C", "F0F1F2F3F4F5F6F7F8F9FAFBFCFD", NULL);
	uint8_t pkt[128] = {0x80}, ks[48];
	struct pr_srtp_pkt p = {.data = pkt, .len = 12 + 48, .room = sizeof(pkt)};

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	unhex("E03EAD0935C95E80E166B16DD92B4EB4D23513162B02D0F72A43A2FE4A5F97AB"
	      "41E95B3BB0A2E8DD477901E4FCA894C0",
	      ks);
	CU_ASSERT_EQUAL(pr_srtp_protect_burst(c, &p, 1), 1);
	CU_ASSERT_EQUAL(p.result, PR_SRTP_OK);
	CU_ASSERT_EQUAL(p.len, 12 + 48 + 10);
	CU_ASSERT_EQUAL(memcmp(pkt + 12, ks, 48), 0);
	pr_srtp_ctx_destroy(c);
}

static struct pr_srtp_ctx *master_ctx(enum pr_srtp_backend be, enum pr_srtp_direction dir)
{
	uint8_t mk[16], ms[14];
	struct pr_srtp_params p = {.profile = PR_SRTP_AES128_CM_SHA1_80,
				   .backend = be,
				   .direction = dir,
				   .ssrc = 0xcafebabe,
				   .master_key = mk,
				   .master_salt = ms};
	struct pr_srtp_ctx *c = NULL;

	unhex("e1f97a0d3e018be0d64fa32c06de4139", mk);
	unhex("0ec675ad498afeebb6960b3aabe6", ms);
	CU_ASSERT_EQUAL(pr_srtp_ctx_create(&p, &c), 0);
	return c;
}

/* libsrtp test/srtp_driver.c known packet (same master key as RFC 3711 B.3). */
static void driver_packet(enum pr_srtp_backend be)
{
	static const char plain_hex[] = "800f1234decafbadcafebabeabababababababababababababababab";
	static const char prot_hex[] = "800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402"
				       "b78d6acc99ea179b8dbb";
	uint8_t plain[64], prot[64], buf[64];
	size_t pl = unhex(plain_hex, plain), sl = unhex(prot_hex, prot);
	struct pr_srtp_ctx *tx = master_ctx(be, PR_SRTP_SENDER);
	struct pr_srtp_ctx *rx = master_ctx(be, PR_SRTP_RECEIVER);
	struct pr_srtp_pkt p = {.data = buf, .len = (uint16_t)pl, .room = sizeof(buf)};

	CU_ASSERT_PTR_NOT_NULL_FATAL(tx);
	CU_ASSERT_PTR_NOT_NULL_FATAL(rx);
	memcpy(buf, plain, pl);
	CU_ASSERT_EQUAL(pr_srtp_protect_burst(tx, &p, 1), 1);
	CU_ASSERT_EQUAL(p.len, sl);
	CU_ASSERT_EQUAL(memcmp(buf, prot, sl), 0);
	CU_ASSERT_EQUAL(pr_srtp_unprotect_burst(rx, &p, 1), 1);
	CU_ASSERT_EQUAL(p.len, pl);
	CU_ASSERT_EQUAL(memcmp(buf, plain, pl), 0);
	/* the same packet again is a replay */
	memcpy(buf, prot, sl);
	p.len = (uint16_t)sl;
	CU_ASSERT_EQUAL(pr_srtp_unprotect_burst(rx, &p, 1), 0);
	CU_ASSERT_EQUAL(p.result, PR_SRTP_ERR_REPLAY);
	CU_ASSERT_EQUAL(memcmp(buf, prot, sl), 0);
	pr_srtp_ctx_destroy(tx);
	pr_srtp_ctx_destroy(rx);
}

static void test_driver_packet_ipsecmb(void)
{
	driver_packet(PR_SRTP_BACKEND_IPSECMB);
}

static void test_driver_packet_libsrtp(void)
{
	driver_packet(PR_SRTP_BACKEND_LIBSRTP);
}

/* RFC 7714 16.1.1 */
static void test_rfc7714_rtp(void)
{
	static const char plain_hex[] = "8040f17b8041f8d35501a0b247616c6c696120657374206f6d6e6973"
					"20646976697361 20696e207061727465732074726573";
	static const char prot_hex[] = "8040f17b8041f8d35501a0b2f24de3a3fb34de6cacba861c9d7e4bca"
				       "be633bd50d294e6f42a5f47a51c7d19b36de3adf8833899d7f27beb16a"
				       "9152cf765ee4390cce";
	uint8_t plain[128], prot[128], buf[128];
	size_t pl = unhex(plain_hex, plain), sl = unhex(prot_hex, prot);
	const char *key = "000102030405060708090a0b0c0d0e0f", *salt = "517569642070726f2071756f";
	struct pr_srtp_ctx *tx =
	    session_ctx(PR_SRTP_AEAD_AES128_GCM, PR_SRTP_SENDER, 0x5501a0b2, key, salt, NULL);
	struct pr_srtp_ctx *rx =
	    session_ctx(PR_SRTP_AEAD_AES128_GCM, PR_SRTP_RECEIVER, 0x5501a0b2, key, salt, NULL);
	struct pr_srtp_pkt p = {.data = buf, .len = (uint16_t)pl, .room = sizeof(buf)};

	CU_ASSERT_PTR_NOT_NULL_FATAL(tx);
	CU_ASSERT_PTR_NOT_NULL_FATAL(rx);
	memcpy(buf, plain, pl);
	CU_ASSERT_EQUAL(pr_srtp_protect_burst(tx, &p, 1), 1);
	CU_ASSERT_EQUAL(p.len, sl);
	CU_ASSERT_EQUAL(memcmp(buf, prot, sl), 0);
	/* a flipped ciphertext bit fails, and the packet comes back untouched */
	buf[20] ^= 1;
	CU_ASSERT_EQUAL(pr_srtp_unprotect_burst(rx, &p, 1), 0);
	CU_ASSERT_EQUAL(p.result, PR_SRTP_ERR_AUTH);
	CU_ASSERT_EQUAL(p.len, sl);
	buf[20] ^= 1;
	CU_ASSERT_EQUAL(memcmp(buf, prot, sl), 0);
	CU_ASSERT_EQUAL(pr_srtp_unprotect_burst(rx, &p, 1), 1);
	CU_ASSERT_EQUAL(p.len, pl);
	CU_ASSERT_EQUAL(memcmp(buf, plain, pl), 0);
	pr_srtp_ctx_destroy(tx);
	pr_srtp_ctx_destroy(rx);
}

/* RFC 7714 17.1.1: SRTCP, index 0x5d4; layout header | ciphertext | tag | E+index. */
static void test_rfc7714_rtcp(void)
{
	static const char plain_hex[] = "81c8000d4d6172734e5450314e5450325254502000"
					"00042a0000e9304c756e61"
					"deadbeefdeadbeefdeadbeefdeadbeefdeadbeef";
	static const char prot_hex[] = "81c8000d4d61727363e94885dcdab67ca727d7662f6b7e997ff5c0f7"
				       "6c06f32dc676a5f1730d6fda4ce09b4686303ded0bb9275b"
				       "c84aa45896cf4d2fc5abf87245d9eade800005d4";
	uint8_t plain[128], prot[128], buf[128];
	size_t pl = unhex(plain_hex, plain), sl = unhex(prot_hex, prot);
	const char *key = "000102030405060708090a0b0c0d0e0f", *salt = "517569642070726f2071756f";
	struct pr_srtp_ctx *tx =
	    session_ctx(PR_SRTP_AEAD_AES128_GCM, PR_SRTP_SENDER, 0x4d617273, key, salt, NULL);
	struct pr_srtp_ctx *rx =
	    session_ctx(PR_SRTP_AEAD_AES128_GCM, PR_SRTP_RECEIVER, 0x4d617273, key, salt, NULL);
	struct pr_srtp_pkt p = {.data = buf, .len = (uint16_t)pl, .room = sizeof(buf)};

	CU_ASSERT_PTR_NOT_NULL_FATAL(tx);
	CU_ASSERT_PTR_NOT_NULL_FATAL(rx);
	tx->rtcp_next = 0x5d4;
	memcpy(buf, plain, pl);
	CU_ASSERT_EQUAL(pr_srtcp_protect_burst(tx, &p, 1), 1);
	CU_ASSERT_EQUAL(p.len, sl);
	CU_ASSERT_EQUAL(memcmp(buf, prot, sl), 0);
	CU_ASSERT_EQUAL(pr_srtcp_unprotect_burst(rx, &p, 1), 1);
	CU_ASSERT_EQUAL(p.len, pl);
	CU_ASSERT_EQUAL(memcmp(buf, plain, pl), 0);
	/* replayed */
	memcpy(buf, prot, sl);
	p.len = (uint16_t)sl;
	CU_ASSERT_EQUAL(pr_srtcp_unprotect_burst(rx, &p, 1), 0);
	CU_ASSERT_EQUAL(p.result, PR_SRTP_ERR_REPLAY);
	CU_ASSERT_EQUAL(memcmp(buf, prot, sl), 0);
	pr_srtp_ctx_destroy(tx);
	pr_srtp_ctx_destroy(rx);
}

/* The 48-bit index ends at ROC 2^32 - 1: past it the sender refuses (rekey needed) and the
 * receiver refuses too (white-box: the state is set near the end). */
static void test_index_limit(void)
{
	struct pr_srtp_ctx *tx =
	    session_ctx(PR_SRTP_AES128_CM_SHA1_80, PR_SRTP_SENDER, 0,
			"2B7E151628AED2A6ABF7158809CF4F3C", "F0F1F2F3F4F5F6F7F8F9FAFBFCFD", NULL);
	struct pr_srtp_ctx *rx =
	    session_ctx(PR_SRTP_AES128_CM_SHA1_80, PR_SRTP_RECEIVER, 0,
			"2B7E151628AED2A6ABF7158809CF4F3C", "F0F1F2F3F4F5F6F7F8F9FAFBFCFD", NULL);
	uint8_t pkt[64] = {0x80, 0, 0xff, 0xfe};
	struct pr_srtp_pkt p = {.data = pkt, .len = 20, .room = sizeof(pkt)};

	CU_ASSERT_PTR_NOT_NULL_FATAL(tx);
	CU_ASSERT_PTR_NOT_NULL_FATAL(rx);
	tx->rtp.started = 1;
	tx->rtp.hi = (0xffffffffull << 16) | 0xfff0;
	CU_ASSERT_EQUAL(pr_srtp_protect_burst(tx, &p, 1), 1); /* seq 0xfffe: the last ROC */
	rx->rtp = tx->rtp;
	CU_ASSERT_EQUAL(pr_srtp_unprotect_burst(rx, &p, 1), 1);
	pkt[2] = 0;
	pkt[3] = 1; /* seq 1 after 0xfffe: ROC would be 2^32 */
	p.len = 20;
	CU_ASSERT_EQUAL(pr_srtp_protect_burst(tx, &p, 1), 0);
	CU_ASSERT_EQUAL(p.result, PR_SRTP_ERR_KEY_LIMIT);
	p.len = 30;
	CU_ASSERT_EQUAL(pr_srtp_unprotect_burst(rx, &p, 1), 0);
	CU_ASSERT_EQUAL(p.result, PR_SRTP_ERR_KEY_LIMIT);
	/* SRTCP: index 2^31 - 1 is the last */
	tx->rtcp_next = 0x80000000u;
	uint8_t rtcp[64] = {0x80, 200, 0, 1};
	struct pr_srtp_pkt q = {.data = rtcp, .len = 8, .room = sizeof(rtcp)};
	CU_ASSERT_EQUAL(pr_srtcp_protect_burst(tx, &q, 1), 0);
	CU_ASSERT_EQUAL(q.result, PR_SRTP_ERR_KEY_LIMIT);
	pr_srtp_ctx_destroy(tx);
	pr_srtp_ctx_destroy(rx);
}

static void test_names(void)
{
	CU_ASSERT_STRING_EQUAL(pr_srtp_profile_name(PR_SRTP_AES128_CM_SHA1_80),
			       "AES_CM_128_HMAC_SHA1_80");
	CU_ASSERT_STRING_EQUAL(pr_srtp_profile_name(PR_SRTP_AES128_CM_SHA1_32),
			       "AES_CM_128_HMAC_SHA1_32");
	CU_ASSERT_STRING_EQUAL(pr_srtp_profile_name(PR_SRTP_AEAD_AES128_GCM), "AEAD_AES_128_GCM");
	CU_ASSERT_PTR_NULL(pr_srtp_profile_name((enum pr_srtp_profile)0));
	CU_ASSERT_EQUAL(pr_srtp_profile_from_name("AEAD_AES_128_GCM"), PR_SRTP_AEAD_AES128_GCM);
	CU_ASSERT_EQUAL(pr_srtp_profile_from_name("aes_cm_128_hmac_sha1_80"), -EINVAL);
	CU_ASSERT_EQUAL(pr_srtp_profile_from_name(NULL), -EINVAL);
	CU_ASSERT_EQUAL(pr_srtp_profile_key_len(PR_SRTP_AES128_CM_SHA1_32), 16);
	CU_ASSERT_EQUAL(pr_srtp_profile_salt_len(PR_SRTP_AES128_CM_SHA1_32), 14);
	CU_ASSERT_EQUAL(pr_srtp_profile_salt_len(PR_SRTP_AEAD_AES128_GCM), 12);
	CU_ASSERT_EQUAL(pr_srtp_profile_rtp_tag_len(PR_SRTP_AES128_CM_SHA1_32), 4);
	CU_ASSERT_EQUAL(pr_srtp_profile_rtcp_tag_len(PR_SRTP_AES128_CM_SHA1_32), 10);
	CU_ASSERT_STRING_EQUAL(pr_srtp_result_name(PR_SRTP_ERR_AUTH), "auth_fail");
	CU_ASSERT_STRING_EQUAL(pr_srtp_result_name(PR_SRTP_RESULT_COUNT), "invalid");
	for (int r = 0; r < PR_SRTP_RESULT_COUNT; r++)
		CU_ASSERT_PTR_NOT_NULL(pr_srtp_result_name((enum pr_srtp_result)r));
	CU_ASSERT_EQUAL(pr_srtp_backend_from_name("libsrtp"), PR_SRTP_BACKEND_LIBSRTP);
	CU_ASSERT_EQUAL(pr_srtp_backend_from_name("openssl"), -EINVAL);
	CU_ASSERT_STRING_EQUAL(pr_srtp_backend_name(PR_SRTP_BACKEND_IPSECMB), "ipsecmb");
	CU_ASSERT_EQUAL(pr_srtp_set_default_backend((enum pr_srtp_backend)7), -EINVAL);
	CU_ASSERT_EQUAL(pr_srtp_default_backend(), PR_SRTP_BACKEND_IPSECMB);
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("srtp_vectors", NULL, NULL);
	CU_add_test(s, "RFC 3711 B.3 key derivation", test_kdf_b3);
	CU_add_test(s, "RFC 3711 B.2 AES-CM keystream", test_aes_cm_b2);
	CU_add_test(s, "srtp_driver packet, ipsecmb", test_driver_packet_ipsecmb);
	CU_add_test(s, "srtp_driver packet, libsrtp", test_driver_packet_libsrtp);
	CU_add_test(s, "RFC 7714 16.1.1 SRTP AEAD_AES_128_GCM", test_rfc7714_rtp);
	CU_add_test(s, "RFC 7714 17.1.1 SRTCP AEAD_AES_128_GCM", test_rfc7714_rtcp);
	CU_add_test(s, "index limits", test_index_limit);
	CU_add_test(s, "names", test_names);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
	CU_cleanup_registry();
	pr_srtp_thread_fini();
	return fails ? 1 : 0;
}
