/* SPDX-License-Identifier: BSD-3-Clause */
/* SDP inspection, encryption policy decisions and the relay rewrite. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdio.h>
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

/* A Chrome-style offer (after gathering, as JsSIP sends it), written from RFC 8829 7.1's
 * and RFC 8843 18's examples: audio+video BUNDLEd, ICE, DTLS, rtcp-mux, AVPF feedback. */
static const char chrome_offer[] =
    "v=0\r\n"
    "o=- 4962303333179871722 2 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE 0 1\r\n"
    "a=extmap-allow-mixed\r\n"
    "a=msid-semantic: WMS stream1\r\n"
    "m=audio 54400 UDP/TLS/RTP/SAVPF 111 9 0 8 126\r\n"
    "c=IN IP4 192.0.2.2\r\n"
    "a=rtcp:9 IN IP4 0.0.0.0\r\n"
    "a=candidate:3348148302 1 udp 2113937151 192.0.2.2 54400 typ host generation 0\r\n"
    "a=candidate:1 1 udp 1845501695 198.51.100.7 54400 typ srflx raddr 192.0.2.2 rport 54400\r\n"
    "a=end-of-candidates\r\n"
    "a=ice-ufrag:ETEn\r\n"
    "a=ice-pwd:OtSK0WpNtpUjkY4+86js7ZQl\r\n"
    "a=ice-options:trickle\r\n"
    "a=fingerprint:sha-256 "
    "19:e2:1c:3b:4b:9f:81:e6:b8:5c:f4:a5:a8:d8:73:04:bb:05:2f:70:9f:04:a9:0e:05:e9:26:33:e8:70:88:"
    "a2\r\n"
    "a=setup:actpass\r\n"
    "a=mid:0\r\n"
    "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
    "a=sendrecv\r\n"
    "a=msid:stream1 audio1\r\n"
    "a=rtcp-mux\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=rtcp-fb:111 transport-cc\r\n"
    "a=fmtp:111 minptime=10;useinbandfec=1\r\n"
    "a=rtpmap:9 G722/8000\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:126 telephone-event/8000\r\n"
    "a=ssrc:1001 cname:Q/NWs1ao1HmN4Xa5\r\n"
    "a=ssrc:1001 msid:stream1 audio1\r\n"
    "m=video 54400 UDP/TLS/RTP/SAVPF 96 97 98\r\n"
    "c=IN IP4 192.0.2.2\r\n"
    "a=rtcp:9 IN IP4 0.0.0.0\r\n"
    "a=candidate:3348148302 1 udp 2113937151 192.0.2.2 54400 typ host generation 0\r\n"
    "a=ice-ufrag:ETEn\r\n"
    "a=ice-pwd:OtSK0WpNtpUjkY4+86js7ZQl\r\n"
    "a=ice-options:trickle\r\n"
    "a=fingerprint:sha-256 "
    "19:e2:1c:3b:4b:9f:81:e6:b8:5c:f4:a5:a8:d8:73:04:bb:05:2f:70:9f:04:a9:0e:05:e9:26:33:e8:70:88:"
    "a2\r\n"
    "a=setup:actpass\r\n"
    "a=mid:1\r\n"
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
    "a=sendrecv\r\n"
    "a=msid:stream1 video1\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=rtpmap:96 VP8/90000\r\n"
    "a=rtcp-fb:96 goog-remb\r\n"
    "a=rtcp-fb:96 transport-cc\r\n"
    "a=rtcp-fb:96 ccm fir\r\n"
    "a=rtcp-fb:96 nack\r\n"
    "a=rtcp-fb:96 nack pli\r\n"
    "a=rtpmap:97 rtx/90000\r\n"
    "a=fmtp:97 apt=96\r\n"
    "a=rtpmap:98 H264/90000\r\n"
    "a=fmtp:98 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"
    "a=ssrc-group:FID 2001 2002\r\n"
    "a=ssrc:2001 cname:Q/NWs1ao1HmN4Xa5\r\n"
    "a=ssrc:2002 cname:Q/NWs1ao1HmN4Xa5\r\n";

#define OUR_FPR                                                                                    \
	"sha-256 "                                                                                 \
	"0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:"  \
	"D7:E8:F9"
#define PEER_FPR                                                                                   \
	"sha-256 "                                                                                 \
	"19:E2:1C:3B:4B:9F:81:E6:B8:5C:F4:A5:A8:D8:73:04:BB:05:2F:70:9F:04:A9:0E:05:E9:26:33:E8:"  \
	"70:88:A2"

static void webrtc_inspect(void)
{
	struct sp_sdp_info i;
	const char *why;
	CU_ASSERT_EQUAL_FATAL(sp_sdp_inspect(chrome_offer, strlen(chrome_offer), &i), 0);
	CU_ASSERT_EQUAL(i.n, 2);
	CU_ASSERT_TRUE(i.bundle);
	for (unsigned k = 0; k < 2; k++) {
		CU_ASSERT_STRING_EQUAL(i.m[k].proto, "UDP/TLS/RTP/SAVPF");
		CU_ASSERT_TRUE(i.m[k].dtls);
		CU_ASSERT_STRING_EQUAL(i.m[k].ice_ufrag, "ETEn");
		CU_ASSERT_STRING_EQUAL(i.m[k].ice_pwd, "OtSK0WpNtpUjkY4+86js7ZQl");
		CU_ASSERT_STRING_EQUAL(i.m[k].fingerprint, PEER_FPR); /* upper-cased */
		CU_ASSERT_EQUAL(i.m[k].setup, SP_SETUP_ACTPASS);
		CU_ASSERT_TRUE(i.m[k].rtcp_mux);
		CU_ASSERT_TRUE(i.m[k].bundled);
		CU_ASSERT_FALSE(i.m[k].hold);
		CU_ASSERT_EQUAL(sp_policy_dtls(&i.m[k], &why), 0);
	}
	CU_ASSERT_STRING_EQUAL(i.m[0].mid, "0");
	CU_ASSERT_STRING_EQUAL(i.m[1].mid, "1");
	/* the MID header extension's id (a=extmap:4 ...sdes:mid) */
	CU_ASSERT_EQUAL(i.m[0].mid_ext, 4);
	CU_ASSERT_EQUAL(i.m[1].mid_ext, 4);
	CU_ASSERT_EQUAL(i.m[0].n_candidates, 2);
	CU_ASSERT_EQUAL(i.m[0].n_codecs, 5);
	CU_ASSERT_EQUAL(i.m[0].codecs[0].pt, 111);
	CU_ASSERT_STRING_EQUAL(i.m[0].codecs[0].name, "opus");
	CU_ASSERT_STRING_EQUAL(i.m[1].codecs[0].name, "VP8");
	/* no SDES: the on-net SDES policy refuses it, as before */
	bool enc;
	int idx;
	CU_ASSERT_EQUAL(sp_policy_media(true, true, &i.m[0], &enc, &idx, &why), -EPROTONOSUPPORT);
	sp_sdp_info_wipe(&i);
	CU_ASSERT_EQUAL(i.m[0].ice_pwd[0], 0);

	/* extmap: a direction is allowed; another URI, a prefix of it, id 15 or 0 are not the MID
	 */
	static const struct {
		const char *line;
		uint8_t want;
	} ext[] = {{"a=extmap:9/sendrecv urn:ietf:params:rtp-hdrext:sdes:mid\r\n", 9},
		   {"a=extmap:200 urn:ietf:params:rtp-hdrext:sdes:mid\r\n", 200},
		   {"a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n", 0},
		   {"a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:midx\r\n", 0},
		   {"a=extmap:15 urn:ietf:params:rtp-hdrext:sdes:mid\r\n", 0},
		   {"a=extmap:0 urn:ietf:params:rtp-hdrext:sdes:mid\r\n", 0},
		   {"a=extmap:x urn:ietf:params:rtp-hdrext:sdes:mid\r\n", 0}};
	for (unsigned k = 0; k < sizeof(ext) / sizeof(ext[0]); k++) {
		char sdp[512];
		snprintf(sdp, sizeof(sdp),
			 "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n"
			 "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 192.0.2.1\r\n%s",
			 ext[k].line);
		CU_ASSERT_EQUAL_FATAL(sp_sdp_inspect(sdp, strlen(sdp), &i), 0);
		CU_ASSERT_EQUAL(i.m[0].mid_ext, ext[k].want);
		sp_sdp_info_wipe(&i);
	}

	/* session-level ICE/DTLS values apply to every m= line; c=0.0.0.0 with ICE is no hold */
	static const char sess_level[] = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
					 "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n"
					 "a=fingerprint:SHA-256 "
					 "19:e2:1c:3b:4b:9f:81:e6:b8:5c:f4:a5:a8:d8:73:04:bb:05:2f:"
					 "70:9f:04:a9:0e:05:e9:26:33:e8:70:88:a2\r\n"
					 "a=setup:active\r\n"
					 "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
					 "a=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n";
	CU_ASSERT_EQUAL_FATAL(sp_sdp_inspect(sess_level, strlen(sess_level), &i), 0);
	CU_ASSERT_STRING_EQUAL(i.m[0].ice_ufrag, "abcd");
	CU_ASSERT_STRING_EQUAL(i.m[0].fingerprint, PEER_FPR);
	CU_ASSERT_EQUAL(i.m[0].setup, SP_SETUP_ACTIVE);
	CU_ASSERT_FALSE(i.m[0].hold);
	CU_ASSERT_FALSE(i.bundle);
	CU_ASSERT_EQUAL(sp_policy_dtls(&i.m[0], &why), 0);
	sp_sdp_info_wipe(&i);
}

/* Each missing piece of a browser's offer is its own 488 reason. */
static void webrtc_policy(void)
{
	static const struct {
		const char *from, *to, *why;
	} cut[] = {
	    {"a=ice-ufrag:ETEn\r\n", "", "browser media without ice-ufrag and ice-pwd"},
	    {"a=ice-pwd:OtSK0WpNtpUjkY4+86js7ZQl\r\n", "a=ice-pwd:short\r\n",
	     "malformed ice-ufrag or ice-pwd"},
	    {"a=fingerprint:sha-256 ", "a=fingerprint:sha-1 ",
	     "browser media without a sha-256 fingerprint"},
	    {"a=rtcp-mux\r\n", "", "browser media without a=rtcp-mux"},
	    {"a=setup:actpass\r\n", "a=setup:holdconn\r\n", "unusable a=setup"},
	    {"UDP/TLS/RTP/SAVPF 111", "RTP/AVP 111", "browser media must be UDP/TLS/RTP/SAVPF"},
	};
	for (size_t k = 0; k < sizeof(cut) / sizeof(cut[0]); k++) {
		char buf[sizeof(chrome_offer) + 64];
		const char *p = strstr(chrome_offer, cut[k].from);
		CU_ASSERT_PTR_NOT_NULL_FATAL(p);
		size_t off = (size_t)(p - chrome_offer);
		snprintf(buf, sizeof(buf), "%.*s%s%s", (int)off, chrome_offer, cut[k].to,
			 p + strlen(cut[k].from));
		struct sp_sdp_info i;
		const char *why = NULL;
		CU_ASSERT_EQUAL_FATAL(sp_sdp_inspect(buf, strlen(buf), &i), 0);
		CU_ASSERT_EQUAL(sp_policy_dtls(&i.m[0], &why), -EPROTONOSUPPORT);
		CU_ASSERT_PTR_NOT_NULL_FATAL(why);
		CU_ASSERT_STRING_EQUAL(why, cut[k].why);
		sp_sdp_info_wipe(&i);
	}
	char fp[SP_SDP_FPR_MAX];
	CU_ASSERT_EQUAL(sp_sdp_fingerprint_norm(OUR_FPR, fp), 0);
	CU_ASSERT_STRING_EQUAL(fp, OUR_FPR);
	CU_ASSERT_EQUAL(sp_sdp_fingerprint_norm("sha-256 0A:1B", fp), -EINVAL);
	CU_ASSERT_EQUAL(sp_sdp_fingerprint_norm(OUR_FPR ":00", fp), -EINVAL);
	CU_ASSERT_EQUAL(sp_sdp_fingerprint_norm("sha-1 0A:1B", fp), -EINVAL);

	/* codecs end to end: opus or PCMU in common, or nothing */
	struct sp_sdp_info o, a;
	CU_ASSERT_EQUAL_FATAL(sp_sdp_inspect(chrome_offer, strlen(chrome_offer), &o), 0);
	CU_ASSERT_EQUAL_FATAL(sp_sdp_inspect(offer_avp, strlen(offer_avp), &a), 0); /* PCMU */
	CU_ASSERT_TRUE(sp_sdp_codec_common(&o.m[0], &a.m[0]));
	CU_ASSERT_FALSE(sp_sdp_codec_common(&o.m[1], &a.m[0])); /* video vs PCMU */
	static const char opus98[] =
	    "v=0\r\no=a 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\n"
	    "t=0 0\r\nm=audio 5004 RTP/SAVP 98\r\na=rtpmap:98 OPUS/48000/2\r\n";
	sp_sdp_info_wipe(&a);
	CU_ASSERT_EQUAL_FATAL(sp_sdp_inspect(opus98, strlen(opus98), &a), 0);
	CU_ASSERT_TRUE(sp_sdp_codec_common(&o.m[0], &a.m[0])); /* by name, another number */
	CU_ASSERT_FALSE(sp_sdp_codec_common(&o.m[1], &a.m[0]));
	sp_sdp_info_wipe(&o);
	sp_sdp_info_wipe(&a);
}

static size_t count(const char *h, const char *n)
{
	size_t c = 0;
	for (; (h = strstr(h, n)); h += strlen(n))
		c++;
	return c;
}

/* Browser -> device: SDES toward the device; device's answer -> browser: ICE-lite, DTLS. */
static void webrtc_rewrite(void)
{
	/* toward the SDES device */
	struct sp_sdp_rewrite rw = {.relay_addr = "203.0.113.1",
				    .n = 2,
				    .relay_port = {30000, 30004},
				    .encrypted = {true, true}};
	CU_ASSERT_EQUAL_FATAL(pr_sdes_generate(&rw.key[0], 1, PR_SRTP_AES128_CM_SHA1_80), 0);
	CU_ASSERT_EQUAL_FATAL(pr_sdes_generate(&rw.key[1], 1, PR_SRTP_AES128_CM_SHA1_80), 0);
	struct sp_buf out = {0};
	CU_ASSERT_EQUAL_FATAL(sp_sdp_rewrite(chrome_offer, strlen(chrome_offer), &rw, &out), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "m=audio 30000 RTP/SAVP 111 9 0 8 126\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "m=video 30004 RTP/SAVP 96 97 98\r\n"));
	CU_ASSERT_EQUAL(count(out.p, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"), 2);
	static const char *const gone[] = {"ice-",	 "candidate",  "fingerprint", "setup:",
					   "group:",	 "BUNDLE",     "rtcp-fb",     "extmap",
					   "a=msid",	 "a=mid",      "192.0.2.2",   "UDP/TLS",
					   "rtcp-rsize", "ssrc-group", NULL};
	for (int k = 0; gone[k]; k++)
		if (strstr(out.p, gone[k])) {
			fprintf(stderr, "toward the device: %s still there\n", gone[k]);
			CU_FAIL("a WebRTC-only line went to the device");
		}
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "a=rtpmap:111 opus/48000/2"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "a=rtcp:30001 IN IP4 203.0.113.1"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "a=rtcp-mux")); /* the device may mux too */
	struct sp_sdp_info i;
	CU_ASSERT_EQUAL_FATAL(sp_sdp_inspect(out.p, out.len, &i), 0);
	CU_ASSERT_EQUAL(i.m[0].n_crypto, 1);
	CU_ASSERT_FALSE(i.m[0].dtls);
	sp_sdp_info_wipe(&i);
	sp_buf_free(&out);
	pr_sdes_wipe(&rw.key[0]);
	pr_sdes_wipe(&rw.key[1]);

	/* the device's answer (SDES, no mid) toward the browser: DTLS, ICE-lite, its mids */
	static const char dev_answer[] = "v=0\r\n"
					 "o=bob 7 8 IN IP4 192.0.2.9\r\n"
					 "s=-\r\n"
					 "c=IN IP4 192.0.2.9\r\n"
					 "t=0 0\r\n"
					 "m=audio 6000 RTP/SAVP 0\r\n"
					 "a=rtpmap:0 PCMU/8000\r\n"
					 "a=rtcp:6001\r\n"
					 "a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
					 "inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n"
					 "m=video 0 RTP/SAVP 96\r\n";
	struct sp_sdp_rewrite rb = {.relay_addr = "203.0.113.1",
				    .n = 2,
				    .relay_port = {30002, 30006},
				    .encrypted = {true, true},
				    .dtls = {true, true},
				    .d = {{"Abcd1234", "aBcDeFgHiJkLmNoPqRsTuVwX", "passive", "0"},
					  {"Efgh5678", "zYxWvUtSrQpOnMlKjIhGfEdC", "passive", "1"}},
				    .fingerprint = OUR_FPR};
	CU_ASSERT_EQUAL_FATAL(sp_sdp_rewrite(dev_answer, strlen(dev_answer), &rb, &out), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "m=audio 30002 UDP/TLS/RTP/SAVPF 0\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "m=video 0 UDP/TLS/RTP/SAVPF 96\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "a=ice-lite\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "a=ice-ufrag:Abcd1234\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "a=ice-pwd:aBcDeFgHiJkLmNoPqRsTuVwX\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "a=fingerprint:" OUR_FPR "\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "a=setup:passive\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "a=mid:0\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "a=rtcp-mux\r\n"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(out.p, "a=candidate:1 1 udp 2130706431 203.0.113.1 30002 typ host\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "a=end-of-candidates\r\n"));
	CU_ASSERT_EQUAL(count(out.p, "a=candidate:"), 1); /* none on the rejected m= line */
	CU_ASSERT_PTR_NULL(strstr(out.p, "a=crypto"));
	CU_ASSERT_PTR_NULL(strstr(out.p, "a=rtcp:"));
	CU_ASSERT_PTR_NULL(strstr(out.p, "192.0.2.9"));
	CU_ASSERT_PTR_NULL(strstr(out.p, "BUNDLE"));
	/* it reads back as a browser's SDP our policy accepts */
	CU_ASSERT_EQUAL_FATAL(sp_sdp_inspect(out.p, out.len, &i), 0);
	const char *why;
	CU_ASSERT_EQUAL(sp_policy_dtls(&i.m[0], &why), 0);
	CU_ASSERT_STRING_EQUAL(i.m[0].fingerprint, OUR_FPR);
	CU_ASSERT_EQUAL(i.m[0].setup, SP_SETUP_PASSIVE);
	sp_sdp_info_wipe(&i);
	sp_buf_free(&out);

	/* browser to browser: the other browser's feedback, extensions and ssrcs pass; its ICE,
	 * DTLS lines and BUNDLE do not */
	rb.relay_port[1] = 30006;
	rb.d[0].setup = rb.d[1].setup = "actpass";
	rb.d[0].mid = rb.d[1].mid = NULL;
	CU_ASSERT_EQUAL_FATAL(sp_sdp_rewrite(chrome_offer, strlen(chrome_offer), &rb, &out), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "a=rtcp-fb:96 nack pli\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "a=ssrc:2001 cname:Q/NWs1ao1HmN4Xa5\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "a=msid:stream1 audio1\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "a=mid:1\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "a=setup:actpass\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "m=video 30006 UDP/TLS/RTP/SAVPF 96 97 98\r\n"));
	CU_ASSERT_PTR_NULL(strstr(out.p, "ETEn"));
	CU_ASSERT_PTR_NULL(strstr(out.p, "OtSK0WpNtpUjkY4"));
	CU_ASSERT_PTR_NULL(strstr(out.p, "19:e2"));
	CU_ASSERT_PTR_NULL(strstr(out.p, "192.0.2.2"));
	CU_ASSERT_PTR_NULL(strstr(out.p, "BUNDLE"));
	CU_ASSERT_PTR_NULL(strstr(out.p, "trickle"));
	CU_ASSERT_EQUAL(count(out.p, "a=candidate:"), 2);
	CU_ASSERT_EQUAL(count(out.p, "a=ice-lite"), 1);
	sp_buf_free(&out);

	/* dtls without our fingerprint or credentials: refused, nothing invented */
	rb.fingerprint = NULL;
	CU_ASSERT_EQUAL(sp_sdp_rewrite(dev_answer, strlen(dev_answer), &rb, &out), -EINVAL);
	sp_buf_free(&out);
}

/* chrome_offer with one piece replaced (the first occurrence) */
static void subst(char *buf, size_t len, const char *from, const char *to)
{
	const char *p = strstr(chrome_offer, from);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	snprintf(buf, len, "%.*s%s%s", (int)(p - chrome_offer), chrome_offer, to, p + strlen(from));
}

/* BUNDLE (RFC 8843): which m= lines of a browser's SDP may share one transport, and the
 * group written toward a browser. */
static void webrtc_bundle(void)
{
	struct sp_sdp_info i;
	struct sp_sdp_bundle b;
	const char *why = "unset";
	char buf[sizeof(chrome_offer) + 64];

	/* Chrome's offer: audio (mid 0, tag) and video (mid 1), PTs and SSRCs apart */
	CU_ASSERT_EQUAL_FATAL(sp_sdp_inspect(chrome_offer, strlen(chrome_offer), &i), 0);
	CU_ASSERT_EQUAL(i.bundle_tag, 0);
	CU_ASSERT_EQUAL(i.m[0].n_ssrc, 1);
	CU_ASSERT_EQUAL(i.m[0].ssrc[0], 1001);
	CU_ASSERT_EQUAL_FATAL(i.m[1].n_ssrc, 2);
	CU_ASSERT_EQUAL(i.m[1].ssrc[0], 2001);
	CU_ASSERT_EQUAL(i.m[1].ssrc[1], 2002);
	CU_ASSERT_EQUAL(sp_sdp_bundle_plan(&i, &b, &why), 2);
	CU_ASSERT_PTR_NULL(why);
	CU_ASSERT_TRUE(b.member[0] && b.member[1]);
	CU_ASSERT_EQUAL(b.tag, 0);
	sp_sdp_info_wipe(&i);

	/* the tag is the group's first mid, wherever its m= line is */
	subst(buf, sizeof(buf), "BUNDLE 0 1", "BUNDLE 1 0");
	CU_ASSERT_EQUAL_FATAL(sp_sdp_inspect(buf, strlen(buf), &i), 0);
	CU_ASSERT_EQUAL(sp_sdp_bundle_plan(&i, &b, &why), 2);
	CU_ASSERT_EQUAL(b.tag, 1);
	sp_sdp_info_wipe(&i);

	/* a browser's answer (to our offer of BUNDLE): the same */
	subst(buf, sizeof(buf), "a=setup:actpass", "a=setup:active");
	CU_ASSERT_EQUAL_FATAL(sp_sdp_inspect(buf, strlen(buf), &i), 0);
	CU_ASSERT_EQUAL(sp_sdp_bundle_plan(&i, &b, &why), 2);
	CU_ASSERT_PTR_NULL(why);
	sp_sdp_info_wipe(&i);

	/* payload type 0 on both m= lines, with the MID header extension on both (a=extmap:4):
	 * the anchor tells them apart by the MID, BUNDLE */
	subst(buf, sizeof(buf), "SAVPF 96 97 98", "SAVPF 96 97 0");
	CU_ASSERT_EQUAL_FATAL(sp_sdp_inspect(buf, strlen(buf), &i), 0);
	CU_ASSERT_EQUAL(sp_sdp_bundle_plan(&i, &b, &why), 2);
	CU_ASSERT_PTR_NULL(why);
	sp_sdp_info_wipe(&i);
	/* ... but without it on one of them, or with different ids, it could not: no BUNDLE */
	for (unsigned k = 0; k < 2; k++) {
		char buf2[sizeof(buf)];
		const char *ext = "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n";
		char *p = strstr(buf, ext);
		CU_ASSERT_PTR_NOT_NULL_FATAL(p);
		snprintf(buf2, sizeof(buf2), "%.*s%s%s", (int)(p - buf), buf,
			 k ? "a=extmap:5 urn:ietf:params:rtp-hdrext:sdes:mid\r\n" : "",
			 p + strlen(ext));
		CU_ASSERT_EQUAL_FATAL(sp_sdp_inspect(buf2, strlen(buf2), &i), 0);
		CU_ASSERT_EQUAL(sp_sdp_bundle_plan(&i, &b, &why), 0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(why);
		CU_ASSERT_PTR_NOT_NULL(strstr(why, "payload type"));
		CU_ASSERT_FALSE(b.member[0] || b.member[1]);
		sp_sdp_info_wipe(&i);
	}

	/* an SSRC on both: RTCP could not be told apart */
	subst(buf, sizeof(buf), "a=ssrc:2002 ", "a=ssrc:1001 ");
	CU_ASSERT_EQUAL_FATAL(sp_sdp_inspect(buf, strlen(buf), &i), 0);
	CU_ASSERT_EQUAL(sp_sdp_bundle_plan(&i, &b, &why), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(why);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "a=ssrc"));
	sp_sdp_info_wipe(&i);

	/* the same mid on both m= lines: no BUNDLE either */
	subst(buf, sizeof(buf), "a=mid:1\r\n", "a=mid:0\r\n");
	CU_ASSERT_EQUAL_FATAL(sp_sdp_inspect(buf, strlen(buf), &i), 0);
	CU_ASSERT_EQUAL(sp_sdp_bundle_plan(&i, &b, &why), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(why);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "mid"));
	sp_sdp_info_wipe(&i);

	/* two a=mid on one m= line (fuzz_sip_sdp found our group naming the wrong one): that
	 * line is no member, so no group of two */
	subst(buf, sizeof(buf), "a=mid:0\r\n", "a=mid:1\r\na=mid:0\r\n");
	CU_ASSERT_EQUAL_FATAL(sp_sdp_inspect(buf, strlen(buf), &i), 0);
	CU_ASSERT_TRUE(i.m[0].mid_many);
	CU_ASSERT_EQUAL(sp_sdp_bundle_plan(&i, &b, &why), 0);
	sp_sdp_info_wipe(&i);

	/* a group of one m= line, or a rejected member: nothing to bundle, nothing wrong */
	subst(buf, sizeof(buf), "BUNDLE 0 1", "BUNDLE 0");
	CU_ASSERT_EQUAL_FATAL(sp_sdp_inspect(buf, strlen(buf), &i), 0);
	CU_ASSERT_EQUAL(sp_sdp_bundle_plan(&i, &b, &why), 0);
	CU_ASSERT_PTR_NULL(why);
	sp_sdp_info_wipe(&i);
	subst(buf, sizeof(buf), "m=video 54400", "m=video 0");
	CU_ASSERT_EQUAL_FATAL(sp_sdp_inspect(buf, strlen(buf), &i), 0);
	CU_ASSERT_EQUAL(sp_sdp_bundle_plan(&i, &b, &why), 0);
	CU_ASSERT_PTR_NULL(why);
	sp_sdp_info_wipe(&i);
	/* no group at all */
	subst(buf, sizeof(buf), "a=group:BUNDLE 0 1\r\n", "");
	CU_ASSERT_EQUAL_FATAL(sp_sdp_inspect(buf, strlen(buf), &i), 0);
	CU_ASSERT_EQUAL(i.bundle_tag, -1);
	CU_ASSERT_EQUAL(sp_sdp_bundle_plan(&i, &b, &why), 0);
	CU_ASSERT_PTR_NULL(why);
	sp_sdp_info_wipe(&i);

	/* toward the browser, answering its BUNDLE: the group with its mids, one relay port
	 * (the answerer's BUNDLE address) and the same ICE credentials on both m= lines */
	static const char dev_answer[] = "v=0\r\n"
					 "o=bob 7 8 IN IP4 192.0.2.9\r\n"
					 "s=-\r\n"
					 "c=IN IP4 192.0.2.9\r\n"
					 "t=0 0\r\n"
					 "m=audio 6000 RTP/SAVP 0\r\n"
					 "a=rtpmap:0 PCMU/8000\r\n"
					 "a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
					 "inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n"
					 "m=video 6002 RTP/SAVP 96\r\n"
					 "a=rtpmap:96 VP8/90000\r\n"
					 "a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
					 "inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n";
	struct sp_sdp_rewrite rb = {.relay_addr = "203.0.113.1",
				    .n = 2,
				    .relay_port = {30002, 30002},
				    .encrypted = {true, true},
				    .dtls = {true, true},
				    .d = {{"Abcd1234", "aBcDeFgHiJkLmNoPqRsTuVwX", "passive", "0"},
					  {"Abcd1234", "aBcDeFgHiJkLmNoPqRsTuVwX", "passive", "1"}},
				    .fingerprint = OUR_FPR,
				    .bundle = {true, true}};
	struct sp_buf out = {0};
	CU_ASSERT_EQUAL_FATAL(sp_sdp_rewrite(dev_answer, strlen(dev_answer), &rb, &out), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "a=group:BUNDLE 0 1\r\n"));
	CU_ASSERT_EQUAL(count(out.p, "BUNDLE"), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "m=audio 30002 UDP/TLS/RTP/SAVPF 0\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "m=video 30002 UDP/TLS/RTP/SAVPF 96\r\n"));
	CU_ASSERT_EQUAL(
	    count(out.p, "a=candidate:1 1 udp 2130706431 203.0.113.1 30002 typ host\r\n"), 2);
	CU_ASSERT_EQUAL(count(out.p, "a=ice-ufrag:Abcd1234\r\n"), 2);
	/* it reads back as a BUNDLE our own plan accepts */
	CU_ASSERT_EQUAL_FATAL(sp_sdp_inspect(out.p, out.len, &i), 0);
	CU_ASSERT_TRUE(i.bundle);
	CU_ASSERT_EQUAL(sp_sdp_bundle_plan(&i, &b, &why), 2);
	CU_ASSERT_EQUAL(b.tag, 0);
	sp_sdp_info_wipe(&i);
	sp_buf_free(&out);

	/* browser to browser: the other browser's group goes, ours (its own mids kept) comes */
	rb.d[0].mid = rb.d[1].mid = NULL;
	CU_ASSERT_EQUAL_FATAL(sp_sdp_rewrite(chrome_offer, strlen(chrome_offer), &rb, &out), 0);
	CU_ASSERT_EQUAL(count(out.p, "a=group:"), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(out.p, "a=group:BUNDLE 0 1\r\n"));
	sp_buf_free(&out);

	/* one member only: no group; a rejected member stays out of it */
	rb.d[0].mid = "0";
	rb.d[1].mid = "1";
	rb.bundle[1] = false;
	CU_ASSERT_EQUAL_FATAL(sp_sdp_rewrite(dev_answer, strlen(dev_answer), &rb, &out), 0);
	CU_ASSERT_PTR_NULL(strstr(out.p, "BUNDLE"));
	sp_buf_free(&out);

	/* a member that is not a DTLS-SRTP line, or has no mid: refused, nothing invented */
	rb.bundle[1] = true;
	rb.dtls[1] = false;
	CU_ASSERT_EQUAL(sp_sdp_rewrite(dev_answer, strlen(dev_answer), &rb, &out), -EINVAL);
	sp_buf_free(&out);
	rb.dtls[1] = true;
	rb.d[1].mid = NULL;
	CU_ASSERT_EQUAL(sp_sdp_rewrite(dev_answer, strlen(dev_answer), &rb, &out), -EINVAL);
	sp_buf_free(&out);
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
	CU_add_test(s, "webrtc: inspect a browser's offer", webrtc_inspect);
	CU_add_test(s, "webrtc: policy, fingerprints, codecs", webrtc_policy);
	CU_add_test(s, "webrtc: rewrite both ways", webrtc_rewrite);
	CU_add_test(s, "webrtc: BUNDLE plan and group", webrtc_bundle);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
