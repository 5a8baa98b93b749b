/* SPDX-License-Identifier: BSD-3-Clause */
/* The TLS policy keys of [sip]: tls_ciphers, tls_ciphersuites, tls_ticket_rotate_s. The
 * defaults enable only ECDHE + AEAD suites over TLS 1.2 (no static RSA, no CBC, no SHA-1
 * MAC, no DHE) and TLS 1.3's; a typo in a list, which OpenSSL would skip unseen, is refused
 * with the key and the name; a list that enables nothing is refused; an operator's own list
 * is taken as written. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/ssl.h>

#include "slowpath/sp_config.h"

static int parse(struct sp_config *c, const char *sip_lines, char *err, size_t errlen)
{
	char text[1024];

	snprintf(text, sizeof(text), "[sip]\n%s\n", sip_lines);
	sp_config_defaults(c);
	return sp_config_parse(c, "t.conf", text, err, errlen);
}

/* sp_config_tls_policy on a fresh server context; the context's suites in *ctx_out. */
static int policy(const struct sp_config *c, char *err, size_t errlen, SSL_CTX **ctx_out)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
	err[0] = '\0';
	rc = sp_config_tls_policy(c, ctx, err, errlen);
	if (ctx_out)
		*ctx_out = ctx;
	else
		SSL_CTX_free(ctx);
	return rc;
}

static bool has_suite(SSL_CTX *ctx, const char *name)
{
	STACK_OF(SSL_CIPHER) *sk = SSL_CTX_get_ciphers(ctx);

	for (int i = 0; sk && i < sk_SSL_CIPHER_num(sk); i++)
		if (!strcmp(SSL_CIPHER_get_name(sk_SSL_CIPHER_value(sk, i)), name))
			return true;
	return false;
}

static void test_defaults(void)
{
	struct sp_config c;
	char err[512];
	SSL_CTX *ctx = NULL;

	sp_config_defaults(&c);
	CU_ASSERT_EQUAL(c.tls_ticket_rotate_s, 3600);
	CU_ASSERT_EQUAL(policy(&c, err, sizeof(err), &ctx), 0);
	CU_ASSERT_STRING_EQUAL(err, "");
	STACK_OF(SSL_CIPHER) *sk = SSL_CTX_get_ciphers(ctx);
	int n12 = 0, n13 = 0;
	for (int i = 0; sk && i < sk_SSL_CIPHER_num(sk); i++) {
		const SSL_CIPHER *s = sk_SSL_CIPHER_value(sk, i);
		if (!strcmp(SSL_CIPHER_get_version(s), "TLSv1.3")) {
			n13++;
			continue;
		}
		n12++;
		/* every TLS 1.2 suite: ECDHE key exchange, an AEAD, ECDSA or RSA signatures */
		CU_ASSERT_EQUAL(SSL_CIPHER_get_kx_nid(s), NID_kx_ecdhe);
		CU_ASSERT_TRUE(SSL_CIPHER_is_aead(s));
		int auth = SSL_CIPHER_get_auth_nid(s);
		CU_ASSERT_TRUE(auth == NID_auth_ecdsa || auth == NID_auth_rsa);
	}
	CU_ASSERT_EQUAL(n12, 6);
	CU_ASSERT_EQUAL(n13, 3);
	CU_ASSERT_FALSE(has_suite(ctx, "AES128-SHA"));
	CU_ASSERT_FALSE(has_suite(ctx, "ECDHE-RSA-AES128-SHA"));
	CU_ASSERT_FALSE(has_suite(ctx, "DHE-RSA-AES128-GCM-SHA256"));
	CU_ASSERT_TRUE(has_suite(ctx, "ECDHE-RSA-AES128-GCM-SHA256"));
	CU_ASSERT_TRUE(has_suite(ctx, "ECDHE-ECDSA-CHACHA20-POLY1305"));
	CU_ASSERT_TRUE(has_suite(ctx, "TLS_AES_256_GCM_SHA384"));
	SSL_CTX_free(ctx);
}

static void test_unknown_names(void)
{
	struct sp_config c;
	char err[512];

	CU_ASSERT_EQUAL(parse(&c, "tls_ciphers = ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM",
			      err, sizeof(err)),
			0);
	CU_ASSERT_EQUAL(policy(&c, err, sizeof(err), NULL), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(
	    err, "t.conf: [sip] tls_ciphers: unknown TLS 1.2 suite \"ECDHE-RSA-AES128-GCM\""));

	CU_ASSERT_EQUAL(parse(&c, "tls_ciphersuites = TLS_AES_128_GCM_SHA256, TLS_AES_512_GCM", err,
			      sizeof(err)),
			0);
	CU_ASSERT_EQUAL(policy(&c, err, sizeof(err), NULL), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(err, "[sip] tls_ciphersuites: unknown TLS 1.3 suite \"TLS_AES_512_GCM\""));

	/* a TLS 1.3 name in the TLS 1.2 list is no TLS 1.2 suite */
	CU_ASSERT_EQUAL(parse(&c, "tls_ciphers = TLS_AES_128_GCM_SHA256", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(policy(&c, err, sizeof(err), NULL), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "[sip] tls_ciphers: unknown TLS 1.2 suite"));
}

static void test_enables_nothing(void)
{
	struct sp_config c;
	char err[512];

	/* known names, but the exclusions leave nothing */
	CU_ASSERT_EQUAL(
	    parse(&c, "tls_ciphers = ECDHE-RSA-AES128-GCM-SHA256:!AESGCM", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(policy(&c, err, sizeof(err), NULL), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "[sip] tls_ciphers: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "enables no TLS 1.2 suite"));
	/* an empty value is refused by the parser, naming the key */
	CU_ASSERT_EQUAL(parse(&c, "tls_ciphersuites =", err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad value for 'tls_ciphersuites'"));
	CU_ASSERT_EQUAL(parse(&c, "tls_ciphers = ", err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad value for 'tls_ciphers'"));
}

static void test_operator_list(void)
{
	struct sp_config c;
	char err[512];
	SSL_CTX *ctx = NULL;

	/* legacy phones: the operator may add a CBC suite; the list is taken as written */
	CU_ASSERT_EQUAL(parse(&c,
			      "tls_ciphers = ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA\n"
			      "tls_ciphersuites = TLS_CHACHA20_POLY1305_SHA256",
			      err, sizeof(err)),
			0);
	CU_ASSERT_EQUAL(policy(&c, err, sizeof(err), &ctx), 0);
	CU_ASSERT_TRUE(has_suite(ctx, "ECDHE-RSA-AES128-SHA"));
	CU_ASSERT_TRUE(has_suite(ctx, "TLS_CHACHA20_POLY1305_SHA256"));
	CU_ASSERT_FALSE(has_suite(ctx, "TLS_AES_128_GCM_SHA256"));
	CU_ASSERT_FALSE(has_suite(ctx, "ECDHE-RSA-AES256-GCM-SHA384"));
	SSL_CTX_free(ctx);
	/* OpenSSL's operators and aliases are fine */
	CU_ASSERT_EQUAL(parse(&c, "tls_ciphers = ECDHE+AESGCM:!aNULL:@STRENGTH", err, sizeof(err)),
			0);
	CU_ASSERT_EQUAL(policy(&c, err, sizeof(err), NULL), 0);
}

static void test_rotation_key(void)
{
	struct sp_config c;
	char err[512];

	CU_ASSERT_EQUAL(parse(&c, "tls_ticket_rotate_s = 2", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c.tls_ticket_rotate_s, 2);
	CU_ASSERT_EQUAL(parse(&c, "tls_ticket_rotate_s = 86400", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(parse(&c, "tls_ticket_rotate_s = 1", err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.conf:2: [sip]: bad value for 'tls_ticket_rotate_s'"));
	CU_ASSERT_EQUAL(parse(&c, "tls_ticket_rotate_s = 86401", err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(parse(&c, "tls_ticket_rotate_s = 1h", err, sizeof(err)), -EINVAL);
}

int main(void)
{
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("sp_tls_config", NULL, NULL);
	CU_add_test(s, "defaults: ECDHE + AEAD over TLS 1.2, TLS 1.3", test_defaults);
	CU_add_test(s, "unknown suite names refused naming the key", test_unknown_names);
	CU_add_test(s, "a list that enables nothing is refused", test_enables_nothing);
	CU_add_test(s, "an operator's list is taken as written", test_operator_list);
	CU_add_test(s, "tls_ticket_rotate_s range", test_rotation_key);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
