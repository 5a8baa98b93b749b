/* The media anchor's pure parts: a session from its Redis record (media_sess_build) and the
 * RFC 3550 figures of a stream (media_stream_seq, media_stream_lost). */
#include <arpa/inet.h>
#include <string.h>

#include <CUnit/Basic.h>

#include <errno.h>

#include "common/dtls_chan.h"
#include "dataplane/media/media.h"
#include "dataplane/media/media_ice.h"

/* 30 bytes of key||salt in base64 */
#define KEY30  "WVNfX3NlbUN0cmxfX1Nlc3Npb25LZXlfX1Rlc3Qw"
#define KEY30B "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk"
/* 28 bytes (AEAD_AES_128_GCM) */
#define KEY28 "R0NNX0tleV9fX19fU2FsdF9fX19fMTIzNDU2Nw=="

static void leg(struct pr_ks_leg *l, const char *peer, uint16_t pport, uint16_t rport,
		const char *suite)
{
	memset(l, 0, sizeof(*l));
	strcpy(l->party, "alice");
	l->onnet = true;
	strcpy(l->family, "ip4");
	strcpy(l->peer_addr, peer);
	l->peer_port = pport;
	l->latch = true;
	strcpy(l->relay_addr, "198.51.100.10");
	l->relay_port = rport;
	if (suite) {
		strcpy(l->profile, "RTP/SAVP");
		strcpy(l->suite, suite);
		strcpy(l->key_rx, KEY30);
		strcpy(l->key_tx, KEY30B);
		l->encrypted = true;
	} else {
		strcpy(l->profile, "RTP/AVP");
	}
}

static void record(struct pr_ks_session *k)
{
	memset(k, 0, sizeof(*k));
	strcpy(k->id, "call1-0");
	strcpy(k->cdr_id, "call1");
	strcpy(k->media, "audio");
	k->idle_timeout_s = 60;
	leg(&k->leg[0], "203.0.113.5", 4000, 30000, "AES_CM_128_HMAC_SHA1_80");
	leg(&k->leg[1], "203.0.113.6", 5000, 30002, NULL);
}

static void test_build(void)
{
	struct pr_ks_session k;
	struct media_sess s;
	const char *why = NULL;
	struct in_addr a;

	record(&k);
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL_FATAL(media_sess_build(&s, &k, &why), 0);
	CU_ASSERT_STRING_EQUAL(s.id, "call1-0");
	CU_ASSERT_STRING_EQUAL(s.cdr_id, "call1");
	CU_ASSERT_EQUAL(s.idle_s, 60);
	CU_ASSERT_PTR_EQUAL(s.leg[0].sess, &s);
	CU_ASSERT_EQUAL(s.leg[1].idx, 1);
	CU_ASSERT_TRUE(s.leg[0].encrypted);
	CU_ASSERT_FALSE(s.leg[1].encrypted);
	CU_ASSERT_EQUAL(s.leg[0].profile, PR_SRTP_AES128_CM_SHA1_80);
	CU_ASSERT_EQUAL(s.leg[0].relay_port, 30000);
	CU_ASSERT_EQUAL(s.leg[0].peer_port, 4000);
	CU_ASSERT_EQUAL(s.leg[0].relay.family, AF_INET);
	inet_pton(AF_INET, "203.0.113.5", &a);
	CU_ASSERT_EQUAL(s.leg[0].peer.v4, a.s_addr);
	CU_ASSERT_EQUAL(s.leg[0].clock_hz, 8000);
	/* the keys decoded: 16 bytes of key, 14 of salt, the device's and ours apart */
	CU_ASSERT_EQUAL(memcmp(s.keys[0].rx.key, "YS__semCtrl__Ses", 16), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(s.keys[0].rx.key, s.keys[0].tx.key, 16), 0);
	CU_ASSERT_STRING_EQUAL(pr_srtp_profile_name(s.leg[0].profile), "AES_CM_128_HMAC_SHA1_80");
	CU_ASSERT_FALSE(s.leg[1].encrypted); /* telemetry says "clear" */

	/* video runs on a 90 kHz clock; GCM keys are 28 bytes; IPv6 legs */
	record(&k);
	strcpy(k.media, "video");
	strcpy(k.leg[1].suite, "AEAD_AES_128_GCM");
	strcpy(k.leg[1].key_rx, KEY28);
	strcpy(k.leg[1].key_tx, KEY28);
	k.leg[1].encrypted = true;
	strcpy(k.leg[1].family, "ip6");
	strcpy(k.leg[1].relay_addr, "2001:db8:100::10");
	strcpy(k.leg[1].peer_addr, "2001:db8:7::7");
	CU_ASSERT_EQUAL_FATAL(media_sess_build(&s, &k, &why), 0);
	CU_ASSERT_EQUAL(s.leg[0].clock_hz, 90000);
	CU_ASSERT_EQUAL(s.leg[1].profile, PR_SRTP_AEAD_AES128_GCM);
	CU_ASSERT_EQUAL(s.leg[1].relay.family, AF_INET6);

	/* a held leg (no address yet) is fine: relaying toward it waits for the latch */
	record(&k);
	strcpy(k.leg[1].peer_addr, "");
	CU_ASSERT_EQUAL(media_sess_build(&s, &k, &why), 0);
	CU_ASSERT_EQUAL(s.leg[1].peer.family, 0);
}

static void test_refusals(void)
{
	static const struct {
		const char *what, *why;
		int leg;
	} cases[] = {
	    {"odd relay port", "a_relay_port", 0},
	    {"relay port 0", "a_relay_port", 0},
	    {"bad relay address", "b_relay_addr", 1},
	    {"bad peer address", "a_peer_addr", 0},
	    {"bad family", "b_family", 1},
	    {"unknown suite", "a_suite", 0},
	    {"short key", "a_key_rx", 0},
	    {"bad base64 key", "a_key_tx", 0},
	    {"same relay port on both legs", "relay ports", 0},
	    {"ICE ufrag of 3 chars", "a_ice_ufrag", 0},
	    {"ICE pwd of 21 chars", "b_ice_pwd", 1},
	    {"ICE pwd without a ufrag", "a_ice_ufrag", 0},
	    {"ICE remote ufrag with a ':'", "b_ice_remote_ufrag", 1},
	    {"ICE pwd with a space (not an ice-char)", "a_ice_pwd", 0},
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pr_ks_session k;
		struct media_sess s;
		const char *why = NULL;

		record(&k);
		memset(&s, 0, sizeof(s));
		switch (i) {
		case 0:
			k.leg[0].relay_port = 30001;
			break;
		case 1:
			k.leg[0].relay_port = 0;
			break;
		case 2:
			strcpy(k.leg[1].relay_addr, "198.51.100");
			break;
		case 3:
			strcpy(k.leg[0].peer_addr, "not-an-address");
			break;
		case 4:
			strcpy(k.leg[1].family, "ipx");
			break;
		case 5:
			strcpy(k.leg[0].suite, "AES_CM_256_HMAC_SHA1_80");
			break;
		case 6:
			strcpy(k.leg[0].key_rx, "c2hvcnQ=");
			break;
		case 7:
			strcpy(k.leg[0].key_tx, "!!!!");
			break;
		case 8:
			k.leg[1].relay_port = 30000;
			break;
		case 9:
			strcpy(k.leg[0].ice_ufrag, "abc");
			strcpy(k.leg[0].ice_pwd, "abcdefghijklmnopqrstuv");
			break;
		case 10:
			strcpy(k.leg[1].ice_ufrag, "abcd");
			strcpy(k.leg[1].ice_pwd, "abcdefghijklmnopqrstu");
			break;
		case 11:
			strcpy(k.leg[0].ice_pwd, "abcdefghijklmnopqrstuv");
			break;
		case 12:
			strcpy(k.leg[1].ice_ufrag, "abcd");
			strcpy(k.leg[1].ice_pwd, "abcdefghijklmnopqrstuv");
			strcpy(k.leg[1].ice_remote_ufrag, "ab:cd");
			break;
		case 13:
			/* leg b is a valid ICE leg: its credentials go with the refusal too */
			strcpy(k.leg[1].ice_ufrag, "abcd");
			strcpy(k.leg[1].ice_pwd, "abcdefghijklmnopqrstuv");
			strcpy(k.leg[0].ice_ufrag, "abcd");
			strcpy(k.leg[0].ice_pwd, "abcdefghij klmnopqrstuv");
			break;
		}
		CU_ASSERT_EQUAL(media_sess_build(&s, &k, &why), -EINVAL);
		CU_ASSERT_PTR_NOT_NULL_FATAL(why);
		if (strcmp(why, cases[i].why))
			fprintf(stderr, "%s: why %s, expected %s\n", cases[i].what, why,
				cases[i].why);
		CU_ASSERT_STRING_EQUAL(why, cases[i].why);
		/* nothing of the keys is left behind on a refusal */
		static const uint8_t zero[16];
		CU_ASSERT_EQUAL(memcmp(s.keys[0].rx.key, zero, 16), 0);
		CU_ASSERT_EQUAL(memcmp(s.keys[0].tx.key, zero, 16), 0);
		CU_ASSERT_PTR_NULL(s.leg[0].ice_cred);
		CU_ASSERT_PTR_NULL(s.leg[1].ice_cred);
	}
}

/* X_ice_*: a leg with them is an ICE-lite leg, its credentials out of line (a leg without
 * carries none); media_sess_wipe frees them. */
static void test_ice_leg(void)
{
	struct pr_ks_session k;
	struct media_sess s;
	const char *why = NULL;

	record(&k);
	strcpy(k.leg[1].ice_ufrag, "Ab3/");
	strcpy(k.leg[1].ice_pwd, "s3cretPwd+of/the/anchor0");
	strcpy(k.leg[1].ice_remote_ufrag, "brow");
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL_FATAL(media_sess_build(&s, &k, &why), 0);
	CU_ASSERT_FALSE(s.leg[0].ice);
	CU_ASSERT_PTR_NULL(s.leg[0].ice_cred);
	CU_ASSERT_TRUE(s.leg[1].ice);
	CU_ASSERT_EQUAL(s.leg[1].idx, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s.leg[1].ice_cred);
	CU_ASSERT_STRING_EQUAL(s.leg[1].ice_cred->ufrag, "Ab3/");
	CU_ASSERT_STRING_EQUAL(s.leg[1].ice_cred->pwd, "s3cretPwd+of/the/anchor0");
	CU_ASSERT_STRING_EQUAL(s.leg[1].ice_cred->remote, "brow");
	CU_ASSERT_EQUAL(s.leg[1].ice_cred->pwd_len, 24);
	media_sess_wipe(&s);
	CU_ASSERT_PTR_NULL(s.leg[1].ice_cred);
	/* the peer's ufrag may come later (its SDP answer): ours suffice */
	k.leg[1].ice_remote_ufrag[0] = 0;
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL_FATAL(media_sess_build(&s, &k, &why), 0);
	CU_ASSERT_TRUE(s.leg[1].ice);
	CU_ASSERT_EQUAL(s.leg[1].ice_cred->remote_len, 0);
	media_sess_wipe(&s);
	/* the worker's line 0 still holds the first two streams */
	CU_ASSERT(offsetof(struct media_leg, streams[2]) <= 64);
}

/* X_keying dtls: an ICE leg keyed later by its handshake (role, fingerprint, profiles from
 * the record), refused without ICE or with a bad role, fingerprint or suite (the field
 * named); media_sess_dtls_keys takes only a profile the leg allows. */
static void test_dtls_leg(void)
{
	static const char fpr[] = "sha-256 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:"
				  "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";
	struct pr_ks_session k;
	struct media_sess s;
	const char *why = NULL;

	record(&k);
	k.leg[0].key_rx[0] = k.leg[0].key_tx[0] = 0; /* no SDES keys on a DTLS leg */
	k.leg[0].suite[0] = 0;
	strcpy(k.leg[0].keying, "dtls");
	strcpy(k.leg[0].dtls_setup, "passive");
	strcpy(k.leg[0].dtls_fingerprint, fpr);
	strcpy(k.leg[0].ice_ufrag, "Ab3/");
	strcpy(k.leg[0].ice_pwd, "s3cretPwd+of/the/anchor0");
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL_FATAL(media_sess_build(&s, &k, &why), 0);
	CU_ASSERT_TRUE(s.leg[0].dtls);
	CU_ASSERT_FALSE(s.leg[0].dtls_keyed);
	CU_ASSERT_TRUE(s.leg[0].encrypted);
	CU_ASSERT_FALSE(s.leg[1].dtls);
	CU_ASSERT_EQUAL(s.leg[0].ice_cred->dtls_role, PR_DTLS_PASSIVE);
	CU_ASSERT_EQUAL(s.leg[0].ice_cred->dtls_profiles, PR_DTLS_P_CM80 | PR_DTLS_P_GCM);
	CU_ASSERT_EQUAL(s.leg[0].ice_cred->dtls_fpr[0], 0xAB);
	CU_ASSERT_EQUAL(s.leg[0].ice_cred->dtls_fpr[31], 0x89);
	/* no X_dtls_local_fingerprint (a record from before it): zero, the current cert */
	static const uint8_t zero[32];
	CU_ASSERT_EQUAL(memcmp(s.leg[0].ice_cred->dtls_lfpr, zero, 32), 0);
	/* keys: a profile the leg allows, the lengths the suite wants */
	CU_ASSERT_EQUAL(media_sess_dtls_keys(&s, 0, "AES_CM_128_HMAC_SHA1_32", KEY30, KEY30B),
			-EINVAL);
	CU_ASSERT_EQUAL(media_sess_dtls_keys(&s, 0, "AEAD_AES_128_GCM", KEY30, KEY30B), -EINVAL);
	CU_ASSERT_FALSE(s.leg[0].dtls_keyed);
	CU_ASSERT_EQUAL(media_sess_dtls_keys(&s, 0, "AES_CM_128_HMAC_SHA1_80", KEY30, KEY30B), 0);
	CU_ASSERT_TRUE(s.leg[0].dtls_keyed);
	CU_ASSERT_EQUAL(s.leg[0].profile, PR_SRTP_AES128_CM_SHA1_80);
	CU_ASSERT_EQUAL(s.keys[0].rx.key[0], 'Y'); /* "WVNf" decodes to "YS_" */
	CU_ASSERT_EQUAL(media_sess_dtls_keys(&s, 1, "AES_CM_128_HMAC_SHA1_80", KEY30, KEY30B),
			-EINVAL); /* leg b is no DTLS leg */
	media_sess_wipe(&s);
	/* ours as the SDP carried it: for the process to present that certificate */
	strcpy(k.leg[0].dtls_local_fingerprint, "sha-256 01:23:45:67:89:AB:CD:EF:01:23:45:67:"
						"89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:"
						"45:67:89:AB:CD:EF");
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL_FATAL(media_sess_build(&s, &k, &why), 0);
	CU_ASSERT_EQUAL(s.leg[0].ice_cred->dtls_lfpr[0], 0x01);
	CU_ASSERT_EQUAL(s.leg[0].ice_cred->dtls_lfpr[31], 0xEF);
	CU_ASSERT_EQUAL(s.leg[0].ice_cred->dtls_fpr[0], 0xAB);
	media_sess_wipe(&s);
	/* X_suite pins one profile */
	strcpy(k.leg[0].suite, "AEAD_AES_128_GCM");
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL_FATAL(media_sess_build(&s, &k, &why), 0);
	CU_ASSERT_EQUAL(s.leg[0].ice_cred->dtls_profiles, PR_DTLS_P_GCM);
	CU_ASSERT_EQUAL(media_sess_dtls_keys(&s, 0, "AES_CM_128_HMAC_SHA1_80", KEY30, KEY30B),
			-EINVAL);
	CU_ASSERT_EQUAL(media_sess_dtls_keys(&s, 0, "AEAD_AES_128_GCM", KEY28, KEY28), 0);
	media_sess_wipe(&s);
	/* refusals, each naming its field */
	static const struct {
		const char *what, *field;
	} bad[] = {{"suite", "a_suite"},	  {"setup", "a_dtls_setup"},
		   {"fpr", "a_dtls_fingerprint"}, {"lfpr", "a_dtls_local_fingerprint"},
		   {"noice", "a_keying"},	  {"keying", "a_keying"}};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pr_ks_session b = k;
		if (!strcmp(bad[i].what, "suite"))
			strcpy(b.leg[0].suite, "AES_CM_128_HMAC_SHA1_32");
		else if (!strcmp(bad[i].what, "setup"))
			strcpy(b.leg[0].dtls_setup, "actpass");
		else if (!strcmp(bad[i].what, "fpr"))
			strcpy(b.leg[0].dtls_fingerprint, "sha-1 AB:CD");
		else if (!strcmp(bad[i].what, "lfpr"))
			strcpy(b.leg[0].dtls_local_fingerprint, "sha-256 AB:CD");
		else if (!strcmp(bad[i].what, "noice"))
			b.leg[0].ice_ufrag[0] = b.leg[0].ice_pwd[0] = 0;
		else
			strcpy(b.leg[0].keying, "zrtp");
		memset(&s, 0, sizeof(s));
		why = NULL;
		CU_ASSERT_EQUAL(media_sess_build(&s, &b, &why), -EINVAL);
		CU_ASSERT_PTR_NOT_NULL_FATAL(why);
		CU_ASSERT_STRING_EQUAL(why, bad[i].field);
	}
}

/* An RTP header with seq and timestamp ts. */
/* A bundled DTLS-SRTP leg (X_bundle*): its position, payload types and a=ssrc ids; records
 * refused naming the field. */
static void test_bundle_leg(void)
{
	static const char fpr[] = "sha-256 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:"
				  "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";
	struct pr_ks_session k;
	struct media_sess s;
	const char *why = NULL;

	record(&k);
	k.leg[0].key_rx[0] = k.leg[0].key_tx[0] = 0;
	k.leg[0].suite[0] = 0;
	k.leg[0].rtcp_mux = true;
	strcpy(k.leg[0].keying, "dtls");
	strcpy(k.leg[0].dtls_setup, "passive");
	strcpy(k.leg[0].dtls_fingerprint, fpr);
	strcpy(k.leg[0].ice_ufrag, "Ab3/");
	strcpy(k.leg[0].ice_pwd, "s3cretPwd+of/the/anchor0");
	/* not bundled: no keys of a group, as before */
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL_FATAL(media_sess_build(&s, &k, &why), 0);
	CU_ASSERT_PTR_NULL(s.leg[0].bl);
	media_sess_wipe(&s);
	strcpy(k.leg[0].bundle, "call1-a");
	k.leg[0].bundle_pos = 1;
	strcpy(k.leg[0].bundle_pt, "111 0  126");
	strcpy(k.leg[0].bundle_ssrc, "1001 4294967295");
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL_FATAL(media_sess_build(&s, &k, &why), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s.leg[0].bl);
	CU_ASSERT_PTR_NULL(s.leg[1].bl);
	CU_ASSERT_STRING_EQUAL(s.leg[0].bl->group, "call1-a");
	CU_ASSERT_EQUAL(s.leg[0].bl->pos, 1);
	CU_ASSERT_EQUAL(s.leg[0].bl->pt[0], 1ull); /* 0 */
	CU_ASSERT_EQUAL(s.leg[0].bl->pt[1], 1ull << (111 - 64) | 1ull << (126 - 64));
	CU_ASSERT_EQUAL(s.leg[0].bl->n_ssrc, 2);
	CU_ASSERT_EQUAL(s.leg[0].bl->ssrc[0], 1001);
	CU_ASSERT_EQUAL(s.leg[0].bl->ssrc[1], 4294967295u);
	CU_ASSERT_EQUAL(s.leg[0].bl->mid_ext, 0); /* no X_bundle_mid_ext: no MID demux */
	media_sess_wipe(&s);
	CU_ASSERT_PTR_NULL(s.leg[0].bl);
	/* the MID header extension's id and this member's MID */
	k.leg[0].bundle_mid_ext = 4;
	strcpy(k.leg[0].mid, "video1");
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL_FATAL(media_sess_build(&s, &k, &why), 0);
	CU_ASSERT_EQUAL(s.leg[0].bl->mid_ext, 4);
	CU_ASSERT_EQUAL(s.leg[0].bl->mid_len, 6);
	CU_ASSERT_EQUAL(memcmp(s.leg[0].bl->mid, "video1", 6), 0);
	media_sess_wipe(&s);
	k.leg[0].bundle_mid_ext = 0;
	k.leg[0].mid[0] = 0;
	static const struct {
		const char *what, *field;
	} bad[] = {{"mux", "a_bundle ("},	   {"sdes", "b_bundle ("},
		   {"pos", "a_bundle_pos"},	   {"nopt", "a_bundle_pt"},
		   {"pt128", "a_bundle_pt"},	   {"ptx", "a_bundle_pt"},
		   {"ssrcx", "a_bundle_ssrc"},	   {"ssrc9", "a_bundle_ssrc"},
		   {"ssrcbig", "a_bundle_ssrc"},   {"mid15", "a_bundle_mid_ext"},
		   {"mid256", "a_bundle_mid_ext"}, {"nomid", "a_bundle_mid_ext"},
		   {"mid17", "a_bundle_mid_ext"}};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pr_ks_session b = k;
		const char *w = bad[i].what;
		if (!strcmp(w, "mux"))
			b.leg[0].rtcp_mux = false;
		else if (!strcmp(w, "sdes"))
			strcpy(b.leg[1].bundle, "call1-b");
		else if (!strcmp(w, "pos"))
			b.leg[0].bundle_pos = 4;
		else if (!strcmp(w, "nopt"))
			strcpy(b.leg[0].bundle_pt, " ");
		else if (!strcmp(w, "pt128"))
			strcpy(b.leg[0].bundle_pt, "0 128");
		else if (!strcmp(w, "ptx"))
			strcpy(b.leg[0].bundle_pt, "0x 8");
		else if (!strcmp(w, "ssrcx"))
			strcpy(b.leg[0].bundle_ssrc, "12a");
		else if (!strcmp(w, "ssrc9"))
			strcpy(b.leg[0].bundle_ssrc, "1 2 3 4 5 6 7 8 9");
		else if (!strcmp(w, "mid15"))
			b.leg[0].bundle_mid_ext = 15, strcpy(b.leg[0].mid, "0");
		else if (!strcmp(w, "mid256"))
			b.leg[0].bundle_mid_ext = 256, strcpy(b.leg[0].mid, "0");
		else if (!strcmp(w, "nomid"))
			b.leg[0].bundle_mid_ext = 3;
		else if (!strcmp(w, "mid17"))
			b.leg[0].bundle_mid_ext = 3, strcpy(b.leg[0].mid, "0123456789abcdefg");
		else
			strcpy(b.leg[0].bundle_ssrc, "4294967296");
		memset(&s, 0, sizeof(s));
		why = NULL;
		CU_ASSERT_EQUAL(media_sess_build(&s, &b, &why), -EINVAL);
		if (!why || strncmp(why, bad[i].field, strlen(bad[i].field))) {
			fprintf(stderr, "bundle %s: why %s, want %s\n", w, why ? why : "(null)",
				bad[i].field);
			CU_FAIL("refusal names the wrong field");
		}
		CU_ASSERT_PTR_NULL(s.leg[0].bl); /* freed on the refusal */
	}
}

/* RFC 8285 header extensions: the MID found in either form, and nothing read past the
 * packet or the extension block when lengths lie. */
static void test_rtp_ext(void)
{
	/* one-byte form: padding, id 1 (2 bytes), id 4 "v1", then the payload */
	uint8_t p[64] = {0x90, 96,   0, 1, 0,	 0,    0,    1,	   0,	 0,   0x10, 0x01,
			 0xBE, 0xDE, 0, 2, 0x00, 0x11, 0xaa, 0xbb, 0x41, 'v', '1',  0x00};
	uint8_t l = 0;
	const uint8_t *v = media_rtp_ext(p, 40, 4, &l);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_EQUAL(l, 2);
	CU_ASSERT_EQUAL(memcmp(v, "v1", 2), 0);
	CU_ASSERT_PTR_NULL(media_rtp_ext(p, 40, 5, &l)); /* not there */
	CU_ASSERT_PTR_NULL(media_rtp_ext(p, 23, 4, &l)); /* block longer than the packet */
	p[0] = 0x80;					 /* no X bit */
	CU_ASSERT_PTR_NULL(media_rtp_ext(p, 40, 4, &l));
	p[0] = 0x90;
	p[20] = 0x45; /* id 4 of 6 bytes: past the block's 8 */
	CU_ASSERT_PTR_NULL(media_rtp_ext(p, 40, 4, &l));
	p[20] = 0xF1; /* id 15 stops the walk */
	CU_ASSERT_PTR_NULL(media_rtp_ext(p, 40, 4, &l));
	/* two-byte form (0x1000), after one CSRC: id 200 "mid0" */
	uint8_t q[64] = {0x91, 96,   0,	   1, 0, 0, 0, 1,    0,	  0, 0x10, 0x01, 0,   0,   0,
			 9,    0x10, 0x00, 0, 3, 7, 1, 0xcc, 200, 4, 'm',  'i',	 'd', '0', 0};
	v = media_rtp_ext(q, 48, 200, &l);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_EQUAL(l, 4);
	CU_ASSERT_EQUAL(memcmp(v, "mid0", 4), 0);
	q[24] = 9; /* a length past the block */
	CU_ASSERT_PTR_NULL(media_rtp_ext(q, 48, 200, &l));
	/* another profile: not looked into */
	q[24] = 4;
	q[16] = 0x20;
	CU_ASSERT_PTR_NULL(media_rtp_ext(q, 48, 200, &l));
}

static void rtp(uint8_t *p, uint16_t seq, uint32_t ts)
{
	memset(p, 0, 12);
	p[0] = 0x80;
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	p[4] = (uint8_t)(ts >> 24);
	p[5] = (uint8_t)(ts >> 16);
	p[6] = (uint8_t)(ts >> 8);
	p[7] = (uint8_t)ts;
}

static void test_figures(void)
{
	struct media_stream st;
	uint8_t p[12];

	/* a steady 20 ms stream at 8 kHz: no loss, no jitter; a sequence wrap on the way */
	memset(&st, 0, sizeof(st));
	CU_ASSERT_EQUAL(media_stream_lost(&st), 0);
	for (unsigned i = 0; i < 200; i++) {
		rtp(p, (uint16_t)(65500 + i), 1000 + 160 * i);
		media_stream_seq(&st, p, 5000 + 160 * i);
	}
	CU_ASSERT_EQUAL(st.received, 200);
	CU_ASSERT_EQUAL(st.cycles, 65536);
	CU_ASSERT_EQUAL(media_stream_lost(&st), 0);
	CU_ASSERT_EQUAL(st.jitter >> 4, 0);

	/* 10 of the next 100 lost, one old duplicate-looking late packet: counted as received,
	 * not as a new maximum */
	for (unsigned i = 200; i < 300; i++) {
		if (i % 10 == 3)
			continue;
		rtp(p, (uint16_t)(65500 + i), 1000 + 160 * i);
		media_stream_seq(&st, p, 5000 + 160 * i);
	}
	CU_ASSERT_EQUAL(media_stream_lost(&st), 10);
	rtp(p, (uint16_t)(65500 + 213), 1000 + 160 * 213); /* the lost one, late */
	media_stream_seq(&st, p, 5000 + 160 * 300);
	CU_ASSERT_EQUAL(media_stream_lost(&st), 9);
	CU_ASSERT_EQUAL(st.max_seq, (uint16_t)(65500 + 299));

	/* jitter: every other packet 40 units late: |D| = 40 for every packet, J -> 40 */
	memset(&st, 0, sizeof(st));
	for (unsigned i = 0; i < 2000; i++) {
		rtp(p, (uint16_t)i, 160 * i);
		media_stream_seq(&st, p, 160 * i + (i & 1 ? 40 : 0) + 100000);
	}
	CU_ASSERT(st.jitter >> 4 >= 36 && st.jitter >> 4 <= 40);
}

int main(void)
{
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("media_sess", NULL, NULL);
	CU_add_test(s, "a session from its record", test_build);
	CU_add_test(s, "records refused, naming the field", test_refusals);
	CU_add_test(s, "an ICE-lite leg from X_ice_*", test_ice_leg);
	CU_add_test(s, "a DTLS-SRTP leg from X_keying dtls", test_dtls_leg);
	CU_add_test(s, "a bundled leg from X_bundle*", test_bundle_leg);
	CU_add_test(s, "RTP header extensions (the MID)", test_rtp_ext);
	CU_add_test(s, "RFC 3550 loss and jitter", test_figures);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
