/* SPDX-License-Identifier: BSD-3-Clause */
/* SDP inspection, encryption policy decisions and the relay rewrite. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <string.h>

#include "slowpath/sp_sdp.h"

static const char offer_savp[] =
    "v=0\r\n"
    "o=alice 123 456 IN IP4 10.0.0.5\r\n"
    "s=-\r\n"
    "c=IN IP4 10.0.0.5\r\n"
    "t=0 0\r\n"
    "m=audio 40000 RTP/SAVP 0 8 101\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtcp:40001\r\n"
    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
    "inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4\r\n"
    "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj\r\n"
    "a=candidate:1 1 UDP 2130706431 10.0.0.5 40000 typ host\r\n"
    "a=ice-ufrag:abcd\r\n"
    "a=sendrecv\r\n";

static const char offer_avp[] = "v=0\r\n"
				"o=bob 1 1 IN IP4 192.0.2.9\r\n"
				"s=-\r\n"
				"c=IN IP4 192.0.2.9\r\n"
				"t=0 0\r\n"
				"m=audio 5004 RTP/AVP 0\r\n"
				"a=rtcp-mux\r\n";

static const char offer_hold[] = "v=0\r\n"
				 "o=bob 1 2 IN IP4 192.0.2.9\r\n"
				 "s=-\r\n"
				 "c=IN IP4 0.0.0.0\r\n"
				 "t=0 0\r\n"
				 "m=audio 5004 RTP/SAVP 0\r\n"
				 "a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
				 "inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n"
				 "a=sendonly\r\n";

static void inspect(void)
{
	struct sp_sdp_info i;
	CU_ASSERT_EQUAL_FATAL(sp_sdp_inspect(offer_savp, strlen(offer_savp), &i), 0);
	CU_ASSERT_EQUAL(i.n, 1);
	CU_ASSERT_STRING_EQUAL(i.m[0].media, "audio");
	CU_ASSERT_STRING_EQUAL(i.m[0].proto, "RTP/SAVP");
	CU_ASSERT_STRING_EQUAL(i.m[0].addr, "10.0.0.5");
	CU_ASSERT_STRING_EQUAL(i.m[0].family, "ip4");
	CU_ASSERT_EQUAL(i.m[0].port, 40000);
	CU_ASSERT_EQUAL(i.m[0].n_crypto, 2);
	CU_ASSERT_EQUAL(i.m[0].crypto[0].profile, PR_SRTP_AES128_CM_SHA1_80);
	CU_ASSERT_EQUAL(i.m[0].crypto[1].profile, PR_SRTP_AES128_CM_SHA1_32);
	CU_ASSERT_FALSE(i.m[0].hold);
	CU_ASSERT_FALSE(i.m[0].rtcp_mux);
	sp_sdp_info_wipe(&i);
	CU_ASSERT_EQUAL(i.m[0].crypto[0].key[0], 0);

	CU_ASSERT_EQUAL_FATAL(sp_sdp_inspect(offer_avp, strlen(offer_avp), &i), 0);
	CU_ASSERT_TRUE(i.m[0].rtcp_mux);
	CU_ASSERT_EQUAL(i.m[0].n_crypto, 0);
	CU_ASSERT_EQUAL_FATAL(sp_sdp_inspect(offer_hold, strlen(offer_hold), &i), 0);
	CU_ASSERT_TRUE(i.m[0].hold);

	CU_ASSERT_EQUAL(sp_sdp_inspect("hello", 5, &i), -EINVAL);
	CU_ASSERT_EQUAL(sp_sdp_inspect("v=0\r\ns=-\r\n", 10, &i), -EINVAL); /* no m= */
	static const char bad_addr[] = "v=0\r\no=a 1 1 IN IP4 x\r\ns=-\r\nc=IN IP4 nothere\r\n"
				       "t=0 0\r\nm=audio 5004 RTP/AVP 0\r\n";
	CU_ASSERT_EQUAL(sp_sdp_inspect(bad_addr, strlen(bad_addr), &i), -EINVAL);
	static const char bad_port[] =
	    "v=0\r\no=a 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\n"
	    "t=0 0\r\nm=audio 99999 RTP/AVP 0\r\n";
	CU_ASSERT_EQUAL(sp_sdp_inspect(bad_port, strlen(bad_port), &i), -EINVAL);
	/* ends in a lone CR: libosip2 used to read past the buffer (make asan catches it) */
	static const char lone_cr[] = "v=0\r\no=alice 123 456 IN IP4 10.0.0.5\r\ns=-\r\n"
				      "c=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 39999 RvT=0\r";
	int rc = sp_sdp_inspect(lone_cr, strlen(lone_cr), &i);
	CU_ASSERT_TRUE(rc == 0 || rc == -EINVAL);
	/* a final line without CRLF still parses */
	static const char no_eol[] = "v=0\r\no=a 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\n"
				     "t=0 0\r\nm=audio 5004 RTP/AVP 0";
	CU_ASSERT_EQUAL(sp_sdp_inspect(no_eol, strlen(no_eol), &i), 0);
	CU_ASSERT_EQUAL(i.m[0].port, 5004);
}

static void policy(void)
{
	struct sp_sdp_info i;
	bool enc;
	int idx;
	const char *why;
	CU_ASSERT_EQUAL_FATAL(sp_sdp_inspect(offer_savp, strlen(offer_savp), &i), 0);
	CU_ASSERT_EQUAL(sp_policy_media(true, true, &i.m[0], &enc, &idx, &why), 0);
	CU_ASSERT_TRUE(enc);
	CU_ASSERT_EQUAL(idx, 0);
	/* on-net but not over TLS: refused */
	CU_ASSERT_EQUAL(sp_policy_media(true, false, &i.m[0], &enc, &idx, &why), -EPROTONOSUPPORT);
	CU_ASSERT_PTR_NOT_NULL(why);
	/* off-net offering SRTP: encrypted */
	CU_ASSERT_EQUAL(sp_policy_media(false, false, &i.m[0], &enc, &idx, &why), 0);
	CU_ASSERT_TRUE(enc);
	sp_sdp_info_wipe(&i);

	CU_ASSERT_EQUAL_FATAL(sp_sdp_inspect(offer_avp, strlen(offer_avp), &i), 0);
	/* on-net RTP/AVP: 488 */
	CU_ASSERT_EQUAL(sp_policy_media(true, true, &i.m[0], &enc, &idx, &why), -EPROTONOSUPPORT);
	CU_ASSERT_STRING_EQUAL(why, "on-net media must be RTP/SAVP");
	/* off-net RTP/AVP: clear, accepted */
	CU_ASSERT_EQUAL(sp_policy_media(false, false, &i.m[0], &enc, &idx, &why), 0);
	CU_ASSERT_FALSE(enc);
	CU_ASSERT_EQUAL(idx, -1);

	/* SAVP without a usable crypto line */
	static const char savp_nokey[] =
	    "v=0\r\no=a 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\n"
	    "t=0 0\r\nm=audio 5004 RTP/SAVP 0\r\n"
	    "a=crypto:1 F8_128_HMAC_SHA1_80 inline:AAAA\r\n";
	CU_ASSERT_EQUAL_FATAL(sp_sdp_inspect(savp_nokey, strlen(savp_nokey), &i), 0);
	CU_ASSERT_EQUAL(i.m[0].n_crypto_bad, 1);
	CU_ASSERT_EQUAL(sp_policy_media(true, true, &i.m[0], &enc, &idx, &why), -EPROTONOSUPPORT);
	CU_ASSERT_EQUAL(sp_policy_media(false, false, &i.m[0], &enc, &idx, &why), 0);
	CU_ASSERT_FALSE(enc);
}

static void rewrite(void)
{
	struct sp_sdp_rewrite rw = {
	    .relay_addr = "203.0.113.1", .n = 1, .relay_port = {30000}, .encrypted = {true}};
	CU_ASSERT_EQUAL_FATAL(pr_sdes_generate(&rw.key[0], 1, PR_SRTP_AES128_CM_SHA1_80), 0);
	struct sp_buf out = {0};
	CU_ASSERT_EQUAL_FATAL(sp_sdp_rewrite(offer_savp, strlen(offer_savp), &rw, &out), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "c=IN IP4 203.0.113.1\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "o=alice 123 456 IN IP4 203.0.113.1\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "m=audio 30000 RTP/SAVP 0 8 101\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "a=rtcp:30001 IN IP4 203.0.113.1\r\n"));
	CU_ASSERT_PTR_NULL(strstr(out.p, "10.0.0.5"));
	CU_ASSERT_PTR_NULL(strstr(out.p, "candidate"));
	CU_ASSERT_PTR_NULL(strstr(out.p, "ice-ufrag"));
	CU_ASSERT_PTR_NULL(strstr(out.p, "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz")); /* old key */
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "a=sendrecv"));
	/* exactly one crypto line, and it parses back to our key */
	char *c = strstr(out.p, "a=crypto:");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_PTR_NULL(strstr(c + 1, "a=crypto:"));
	struct sp_sdp_info i;
	CU_ASSERT_EQUAL_FATAL(sp_sdp_inspect(out.p, out.len, &i), 0);
	CU_ASSERT_EQUAL(i.m[0].n_crypto, 1);
	CU_ASSERT_EQUAL(memcmp(i.m[0].crypto[0].key, rw.key[0].key, 16), 0);
	CU_ASSERT_EQUAL(memcmp(i.m[0].crypto[0].salt, rw.key[0].salt, 14), 0);
	sp_buf_free(&out);

	/* clear toward an off-net party: RTP/AVP and no crypto */
	rw.encrypted[0] = false;
	CU_ASSERT_EQUAL_FATAL(sp_sdp_rewrite(offer_savp, strlen(offer_savp), &rw, &out), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "m=audio 30000 RTP/AVP 0 8 101\r\n"));
	CU_ASSERT_PTR_NULL(strstr(out.p, "a=crypto"));
	sp_buf_free(&out);

	/* hold: c=0.0.0.0 stays */
	rw.encrypted[0] = true;
	CU_ASSERT_EQUAL_FATAL(sp_sdp_rewrite(offer_hold, strlen(offer_hold), &rw, &out), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "c=IN IP4 0.0.0.0\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "a=sendonly"));
	sp_buf_free(&out);

	/* media count mismatch and bad relay address are refused */
	rw.n = 2;
	CU_ASSERT_EQUAL(sp_sdp_rewrite(offer_savp, strlen(offer_savp), &rw, &out), -EINVAL);
	rw.n = 1;
	rw.relay_addr = "relay";
	CU_ASSERT_EQUAL(sp_sdp_rewrite(offer_savp, strlen(offer_savp), &rw, &out), -EINVAL);
	sp_buf_free(&out);
	pr_sdes_wipe(&rw.key[0]);
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	sp_msg_init();
	CU_pSuite s = CU_add_suite("sp_sdp", NULL, NULL);
	CU_add_test(s, "inspect", inspect);
	CU_add_test(s, "policy", policy);
	CU_add_test(s, "rewrite", rewrite);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
