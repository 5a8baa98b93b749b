/* SPDX-License-Identifier: BSD-3-Clause */
/* poprelayctl session views without Redis: the dataplane's figures parsed (and refused
 * when malformed), the list row, the sort, the JSON object and the human view, and in
 * none of them a key (the SDES keys of the record are set in every case here). */
#include "mgmt/ctl_session.h"

#include <CUnit/Basic.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/ctl.h"

/* SDES inline key||salt strings (base64): they must never come out. */
#define KEY_A_RX "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"
#define KEY_A_TX "d0RmdmNkZXdzYWxvb29ubmdnc2FsdGtleTEyMzQ1"
#define KEY_B_RX "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVoxMjM0"
#define KEY_B_TX "emF5eHd2dXRzcnFwb25tbGtqaWhnZmVkY2JhOTg3"

static void session_fill(struct pr_ks_session *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "0123456789abcdef0123456789abcdef-0");
	snprintf(s->call_id, sizeof(s->call_id), "a84b4c76e66710f3b2c1d0e9@pc33.example.com");
	snprintf(s->cdr_id, sizeof(s->cdr_id), "0123456789abcdef0123456789abcdef");
	snprintf(s->media, sizeof(s->media), "audio");
	s->idle_timeout_s = 60;
	s->created = 1764200000;
	s->updated = 1764200005;
	struct pr_ks_leg *a = &s->leg[PR_KS_LEG_A], *b = &s->leg[PR_KS_LEG_B];
	snprintf(a->party, sizeof(a->party), "alice");
	a->onnet = true;
	snprintf(a->family, sizeof(a->family), "ip4");
	snprintf(a->peer_addr, sizeof(a->peer_addr), "192.0.2.10");
	a->peer_port = 40000;
	a->latch = true;
	snprintf(a->relay_addr, sizeof(a->relay_addr), "198.51.100.10");
	a->relay_port = 30000;
	a->rtcp_mux = true;
	snprintf(a->profile, sizeof(a->profile), "RTP/SAVP");
	snprintf(a->suite, sizeof(a->suite), "AES_CM_128_HMAC_SHA1_80");
	snprintf(a->key_rx, sizeof(a->key_rx), KEY_A_RX);
	snprintf(a->key_tx, sizeof(a->key_tx), KEY_A_TX);
	snprintf(a->ice_pwd, sizeof(a->ice_pwd), "Ice+pwd/of/the/anchor/leg");
	a->encrypted = true;
	a->max_kbps = 2048;
	snprintf(b->party, sizeof(b->party),
		 "sip:+493012345678@carrier-gateway.example.net;user=phone");
	snprintf(b->family, sizeof(b->family), "ip6");
	snprintf(b->peer_addr, sizeof(b->peer_addr), "2001:db8::10");
	b->peer_port = 16000;
	snprintf(b->relay_addr, sizeof(b->relay_addr), "2001:db8:100::10");
	b->relay_port = 30002;
	snprintf(b->profile, sizeof(b->profile), "RTP/AVP");
	/* keys present although the leg is clear: still never shown */
	snprintf(b->key_rx, sizeof(b->key_rx), KEY_B_RX);
	snprintf(b->key_tx, sizeof(b->key_tx), KEY_B_TX);
}

static void live_fill(struct ctl_session_live *lv)
{
	static const char *const kv[][2] = {
	    {"rx_packets", "1500"},
	    {"rx_bytes", "240000"},
	    {"tx_packets", "1490"},
	    {"tx_bytes", "238400"},
	    {"lost", "3"},
	    {"jitter_us", "4200"},
	    {"auth_fail", "2"},
	    {"relatch", "1"},
	    {"kbps", "64"},
	    {"latched", "203.0.113.99:51234"},
	    {"last_rx", "1764200100"},
	};
	memset(lv, 0, sizeof(*lv));
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
		CU_ASSERT_EQUAL(ctl_session_fig_set(lv, kv[i][0], kv[i][1]), 0);
}

static void assert_no_secret(const char *text)
{
	CU_ASSERT_PTR_NULL(strstr(text, KEY_A_RX));
	CU_ASSERT_PTR_NULL(strstr(text, KEY_A_TX));
	CU_ASSERT_PTR_NULL(strstr(text, KEY_B_RX));
	CU_ASSERT_PTR_NULL(strstr(text, KEY_B_TX));
	CU_ASSERT_PTR_NULL(strstr(text, "key_rx"));
	CU_ASSERT_PTR_NULL(strstr(text, "key_tx"));
	CU_ASSERT_PTR_NULL(strstr(text, "Ice+pwd"));
	CU_ASSERT_PTR_NULL(strstr(text, "ice_pwd"));
	CU_ASSERT_PTR_NULL(strstr(text, "streams"));
}

static void test_figs(void)
{
	struct ctl_session_live lv, before;

	memset(&lv, 0, sizeof(lv));
	CU_ASSERT_FALSE(lv.present);
	live_fill(&lv);
	CU_ASSERT_TRUE(lv.present);
	CU_ASSERT_EQUAL(lv.rx_packets, 1500);
	CU_ASSERT_EQUAL(lv.tx_bytes, 238400);
	CU_ASSERT_EQUAL(lv.jitter_us, 4200);
	CU_ASSERT_EQUAL(lv.kbps, 64);
	CU_ASSERT_EQUAL(lv.last_rx, 1764200100);
	CU_ASSERT_STRING_EQUAL(lv.latched, "203.0.113.99:51234");
	CU_ASSERT_EQUAL(ctl_session_fig_set(&lv, "rx_bytes", "18446744073709551615"), 0);
	CU_ASSERT_EQUAL(lv.rx_bytes, UINT64_MAX);
	CU_ASSERT_EQUAL(ctl_session_fig_set(&lv, "latched", "[2001:db8::99]:50000"), 0);
	CU_ASSERT_STRING_EQUAL(lv.latched, "[2001:db8::99]:50000");
	CU_ASSERT_EQUAL(ctl_session_fig_set(&lv, "latched", "-"), 0);
	CU_ASSERT_STRING_EQUAL(lv.latched, "");

	/* not figures: never taken (the caller never asks for them either) */
	CU_ASSERT_EQUAL(ctl_session_fig_set(&lv, "streams", "1a2b3c4d:1:2:3:4"), -ENOENT);
	CU_ASSERT_EQUAL(ctl_session_fig_set(&lv, "key_rx", KEY_A_RX), -ENOENT);
	CU_ASSERT_EQUAL(ctl_session_fig_set(&lv, "a_rx_packets", "1"), -ENOENT);

	/* malformed: refused, nothing changed */
	static const char *const bad[][2] = {
	    {"rx_packets", "-1"},
	    {"rx_packets", "+1"},
	    {"rx_packets", " 1"},
	    {"rx_packets", "12a"},
	    {"rx_packets", ""},
	    {"rx_packets", "18446744073709551616"},
	    {"jitter_us", "4294967296"},
	    {"last_rx", "9223372036854775808"},
	    {"latched", ""},
	    {"latched", "1.2.3.4:5 x"},
	    {"latched", "\x1b[31m1.2.3.4:5"},
	    {"latched", "1234567890123456789012345678901234567890123456789012345678901234"},
	};
	before = lv;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_EQUAL(ctl_session_fig_set(&lv, bad[i][0], bad[i][1]), -EINVAL);
	CU_ASSERT_EQUAL(memcmp(&lv, &before, sizeof(lv)), 0);
}

static void test_text(void)
{
	char buf[80];

	ctl_session_text("abc", 20, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "abc");
	ctl_session_text("", 20, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "-");
	ctl_session_text("a84b4c76e66710f3b2c1d0e9@pc33.example.com", 20, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "a84b4c76e66710f3b...");
	CU_ASSERT_EQUAL(strlen(buf), 20);
	ctl_session_text("12345678901234567890", 20, buf, sizeof(buf)); /* exactly max: whole */
	CU_ASSERT_STRING_EQUAL(buf, "12345678901234567890");
	/* cut on a character boundary: 2-byte characters, 7 bytes kept would split one */
	ctl_session_text("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 10, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "\xc3\xa9\xc3\xa9\xc3\xa9...");
	/* control characters never reach the terminal */
	ctl_session_text("sip:\x1b[2Jevil\r\n", 40, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "sip:?[2Jevil??");
	/* a small buffer bounds max */
	ctl_session_text("abcdefghij", 40, buf, 8);
	CU_ASSERT_STRING_EQUAL(buf, "abcd...");

	ctl_session_addr("198.51.100.10", 30000, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "198.51.100.10:30000");
	ctl_session_addr("2001:db8::1", 30002, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "[2001:db8::1]:30002");
	ctl_session_addr("", 0, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "-");

	struct pr_ks_leg l;
	memset(&l, 0, sizeof(l));
	CU_ASSERT_STRING_EQUAL(ctl_session_crypto(&l), "clear");
	snprintf(l.suite, sizeof(l.suite), "AEAD_AES_128_GCM");
	CU_ASSERT_STRING_EQUAL(ctl_session_crypto(&l), "clear"); /* encrypted says, not suite */
	l.encrypted = true;
	CU_ASSERT_STRING_EQUAL(ctl_session_crypto(&l), "AEAD_AES_128_GCM");
	l.suite[0] = 0;
	CU_ASSERT_STRING_EQUAL(ctl_session_crypto(&l), "srtp");
}

static void test_row(void)
{
	struct pr_ks_session s;
	struct ctl_session_live lv[2];
	struct ctl_session_row row;

	session_fill(&s);
	live_fill(&lv[0]);
	memset(&lv[1], 0, sizeof(lv[1])); /* leg b not reported yet */
	ctl_session_row(&s, lv, &row);
	CU_ASSERT_STRING_EQUAL(ctl_session_list_header[0], "ID");
	CU_ASSERT_STRING_EQUAL(row.cell[0], "0123456789abcdef0123456789abcdef-0");
	CU_ASSERT_STRING_EQUAL(row.cell[1], "audio");
	CU_ASSERT_STRING_EQUAL(row.cell[2], "a84b4c76e66710f3b...");
	CU_ASSERT_STRING_EQUAL(row.cell[3], "alice");
	CU_ASSERT_STRING_EQUAL(row.cell[4], "198.51.100.10:30000");
	CU_ASSERT_STRING_EQUAL(row.cell[5], "203.0.113.99:51234");
	CU_ASSERT_STRING_EQUAL(row.cell[6], "AES_CM_128_HMAC_SHA1_80");
	CU_ASSERT_STRING_EQUAL(row.cell[7], "1500/1490");
	CU_ASSERT_STRING_EQUAL(row.cell[8], "64");
	CU_ASSERT_STRING_EQUAL(row.cell[9], "sip:+493012345678@carrier-gat...");
	CU_ASSERT_EQUAL(strlen(row.cell[9]), CTL_SESSION_PARTY_SHOWN);
	CU_ASSERT_STRING_EQUAL(row.cell[10], "[2001:db8:100::10]:30002");
	CU_ASSERT_STRING_EQUAL(row.cell[11], "-");
	CU_ASSERT_STRING_EQUAL(row.cell[12], "clear");
	CU_ASSERT_STRING_EQUAL(row.cell[13], "-");
	CU_ASSERT_STRING_EQUAL(row.cell[14], "-");
	for (int c = 0; c < CTL_SESSION_COLS; c++)
		assert_no_secret(row.cell[c]);
}

static void test_sort(void)
{
	struct pr_ks_session s[3];

	for (int i = 0; i < 3; i++)
		session_fill(&s[i]);
	snprintf(s[0].id, sizeof(s[0].id), "c-0");
	s[0].created = 300;
	snprintf(s[1].id, sizeof(s[1].id), "b-0");
	s[1].created = 100;
	snprintf(s[2].id, sizeof(s[2].id), "a-0");
	s[2].created = 300;
	qsort(s, 3, sizeof(s[0]), ctl_session_cmp);
	CU_ASSERT_STRING_EQUAL(s[0].id, "b-0"); /* oldest first */
	CU_ASSERT_STRING_EQUAL(s[1].id, "a-0"); /* same time: by id */
	CU_ASSERT_STRING_EQUAL(s[2].id, "c-0");
}

/* Fields of the record shown (the leg's twice), the secret ones left out: counted from the
 * codec's descriptor, so that an additive field shows up by itself. */
static size_t record_fields_shown(void)
{
	const struct pr_ks_desc *d = &pr_ks_session_desc;
	size_t n = 0, i, j, secret = 0;

	for (i = 0; i < d->nfields; i++) {
		if (d->fields[i].type != PR_KS_T_NEST) {
			n += !(d->fields[i].flags & PR_KS_F_SECRET);
			continue;
		}
		for (j = 0; j < d->fields[i].sub->nfields; j++) {
			n += !(d->fields[i].sub->fields[j].flags & PR_KS_F_SECRET);
			secret += !!(d->fields[i].sub->fields[j].flags & PR_KS_F_SECRET);
		}
	}
	CU_ASSERT_EQUAL(secret, 2 * 3); /* key_rx, key_tx, ice_pwd a leg */
	return n;
}

static void test_json(void)
{
	struct pr_ks_session s;
	struct ctl_session_live lv[2];
	json_t *o;
	char *dump;

	session_fill(&s);
	live_fill(&lv[0]);
	memset(&lv[1], 0, sizeof(lv[1]));
	o = ctl_session_json(&s, lv);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	dump = json_dumps(o, JSON_PRESERVE_ORDER);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dump);
	assert_no_secret(dump);
	/* every other field of the record, named as in the hash */
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "id")), s.id);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "call_id")), s.call_id);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "created")), 1764200000);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "a_party")), "alice");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "a_peer_port")), 40000);
	CU_ASSERT_TRUE(json_is_true(json_object_get(o, "a_encrypted")));
	CU_ASSERT_TRUE(json_is_true(json_object_get(o, "a_rtcp_mux")));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "a_max_kbps")), 2048);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "b_suite")), "");
	CU_ASSERT_TRUE(json_is_false(json_object_get(o, "b_encrypted")));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "b_relay_addr")),
			       "2001:db8:100::10");
	/* the record's fields and 2 x (the leg's fields + the figures + ice_nominated +
	 * dtls_keyed), but the secret ones (3 a leg: no key nor ICE pwd, not even "set") */
	CU_ASSERT_EQUAL(json_object_size(o), record_fields_shown() + 2 * (CTL_SESSION_NFIGS + 2));
	CU_ASSERT_PTR_NULL(json_object_get(o, "a_key_rx"));
	CU_ASSERT_PTR_NULL(json_object_get(o, "a_ice_pwd"));
	CU_ASSERT_PTR_NULL(strstr(dump, "\"set\""));
	/* figures */
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "a_rx_packets")), 1500);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "a_jitter_us")), 4200);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "a_last_rx")), 1764200100);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "a_latched")),
			       "203.0.113.99:51234");
	CU_ASSERT_TRUE(json_is_null(json_object_get(o, "b_rx_packets"))); /* not reported */
	CU_ASSERT_TRUE(json_is_null(json_object_get(o, "b_latched")));
	/* each leg's figures after its fields, before the next leg's */
	CU_ASSERT_PTR_NOT_NULL_FATAL(strstr(dump, "\"a_rx_packets\": 1500"));
	CU_ASSERT_TRUE(strstr(dump, "\"a_dtls_fingerprint\"") < strstr(dump, "\"a_rx_packets\""));
	CU_ASSERT_TRUE(strstr(dump, "\"a_rx_packets\"") < strstr(dump, "\"b_party\""));
	free(dump);
	json_decref(o);

	/* reported but not latched: latched null, counters integers */
	lv[1] = lv[0];
	lv[1].latched[0] = 0;
	o = ctl_session_json(&s, lv);
	CU_ASSERT_TRUE(json_is_null(json_object_get(o, "b_latched")));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "b_kbps")), 64);
	json_decref(o);
}

static char *print_to_string(const struct pr_ks_session *s, const struct ctl_session_live *lv,
			     int64_t now)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	ctl_session_print(s, lv, now, f);
	fclose(f);
	return buf;
}

static void test_print(void)
{
	struct pr_ks_session s;
	struct ctl_session_live lv[2];
	char *out;

	session_fill(&s);
	live_fill(&lv[0]);
	memset(&lv[1], 0, sizeof(lv[1]));
	out = print_to_string(&s, lv, 1764200105);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	assert_no_secret(out);
	CU_ASSERT_EQUAL(
	    strncmp(out, "id                     0123456789abcdef0123456789abcdef-0\n", 57), 0);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(out, "call_id                a84b4c76e66710f3b2c1d0e9@pc33.example.com\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "created                2025-11-26T23:33:20Z\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "leg a (caller side)\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "  peer (SDP)           192.0.2.10:40000\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "  relay                198.51.100.10:30000\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "  suite                AES_CM_128_HMAC_SHA1_80\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "  encrypted            yes (SRTP)\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "  max_kbps             2048\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "  latched              203.0.113.99:51234\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "  rx (from device)     1500 packets, 240000 bytes\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "  jitter               4200 us (4.2 ms)\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "  auth_fail            2\n"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(out, "  last_rx              2025-11-26T23:35:00Z (5 s ago)\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "leg b (callee side)\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "  party                sip:+493012345678@carrier-"
					   "gateway.example.net;user=phone\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "  peer (SDP)           [2001:db8::10]:16000\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "  suite                -\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "  encrypted            no (clear RTP)\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "  max_kbps             unlimited\n"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(out, "  figures              none yet (not reported by the dataplane)\n"));
	free(out);

	/* never received: last_rx "never"; latch on but nothing latched: "not yet" */
	lv[1] = lv[0];
	lv[1].last_rx = 0;
	lv[1].latched[0] = 0;
	s.leg[1].latch = true;
	out = print_to_string(&s, lv, 1764200105);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "  last_rx              never\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "  latched              not yet\n"));
	assert_no_secret(out);
	free(out);
}

/* The fields the display reads: the record and the figures, never a secret one nor
 * X_streams, and none of the dataplane's DTLS-exported keys. */
static void test_fields(void)
{
	char names[PR_KS_MAX_FIELDS + 2 * CTL_SESSION_NFIGS + 1][PR_KS_FIELD_NAME_MAX];
	size_t n = ctl_session_fields(names, sizeof(names) / sizeof(names[0])), i;
	bool seen_ufrag = false, seen_fpr = false, seen_suite = false, seen_keying = false;

	CU_ASSERT_FATAL(n > 2 * CTL_SESSION_NFIGS);
	CU_ASSERT_STRING_EQUAL(names[0], "v");
	for (i = 0; i < n; i++) {
		CU_ASSERT_PTR_NULL(strstr(names[i], "key_"));
		CU_ASSERT_PTR_NULL(strstr(names[i], "pwd"));
		CU_ASSERT_PTR_NULL(strstr(names[i], "streams"));
		seen_ufrag |= !strcmp(names[i], "b_ice_remote_ufrag");
		seen_fpr |= !strcmp(names[i], "a_dtls_fingerprint");
		seen_keying |= !strcmp(names[i], "b_keying");
		seen_suite |= !strcmp(names[i], "b_dtls_suite");
	}
	CU_ASSERT_TRUE(seen_ufrag && seen_fpr && seen_suite && seen_keying);
	/* the figures last, leg a's then leg b's */
	CU_ASSERT_STRING_EQUAL(names[n - 2 * CTL_SESSION_NFIGS], "a_rx_packets");
	CU_ASSERT_STRING_EQUAL(names[n - 1], "b_dtls_suite");
	/* too small: nothing */
	CU_ASSERT_EQUAL(ctl_session_fields(names, n - 1), 0);
}

#define FPR_B                                                                                      \
	"sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:3C:4F:8A:1D:"         \
	"13:7E:5F:08:E2:DD:0B:B1"
#define KEY_DTLS "c2VjcmV0LWR0bHMta2V5LW9mLXRoZS1sZWctYi4uLg"

/* Leg b a browser's: ICE-lite, DTLS-SRTP passive; leg a a device's, SDES. */
static void session_fill_dtls(struct pr_ks_session *s)
{
	struct pr_ks_leg *a = &s->leg[PR_KS_LEG_A], *b = &s->leg[PR_KS_LEG_B];

	session_fill(s);
	snprintf(a->keying, sizeof(a->keying), "sdes");
	a->ice_pwd[0] = 0;
	memset(b->key_rx, 0, sizeof(b->key_rx));
	memset(b->key_tx, 0, sizeof(b->key_tx));
	snprintf(b->profile, sizeof(b->profile), "RTP/SAVP");
	snprintf(b->suite, sizeof(b->suite), "AES_CM_128_HMAC_SHA1_80");
	b->encrypted = true;
	b->rtcp_mux = true;
	snprintf(b->keying, sizeof(b->keying), "dtls");
	snprintf(b->dtls_setup, sizeof(b->dtls_setup), "passive");
	snprintf(b->dtls_fingerprint, sizeof(b->dtls_fingerprint), FPR_B);
	snprintf(b->ice_ufrag, sizeof(b->ice_ufrag), "OurUfragOfLegB01");
	snprintf(b->ice_pwd, sizeof(b->ice_pwd), "Ice+pwd/of/the/anchor/leg/b/0123");
	snprintf(b->ice_remote_ufrag, sizeof(b->ice_remote_ufrag), "brwsr");
}

static void test_dtls_leg(void)
{
	struct pr_ks_session s;
	struct ctl_session_live lv[2], before;
	json_t *o;
	char *out, *dump;

	session_fill_dtls(&s);
	CU_ASSERT_STRING_EQUAL(ctl_session_keying(&s.leg[0]), "sdes");
	CU_ASSERT_STRING_EQUAL(ctl_session_keying(&s.leg[1]), "dtls");
	s.leg[0].keying[0] = 0; /* a record written before X_keying: encrypted, so SDES */
	CU_ASSERT_STRING_EQUAL(ctl_session_keying(&s.leg[0]), "sdes");
	s.leg[0].encrypted = false;
	CU_ASSERT_STRING_EQUAL(ctl_session_keying(&s.leg[0]), "clear");
	session_fill_dtls(&s);

	/* the suite figure: a profile name, nothing else */
	memset(&lv[1], 0, sizeof(lv[1]));
	CU_ASSERT_EQUAL(ctl_session_fig_set(&lv[1], "dtls_suite", "AEAD_AES_128_GCM"), 0);
	CU_ASSERT_STRING_EQUAL(lv[1].dtls_suite, "AEAD_AES_128_GCM");
	before = lv[1];
	CU_ASSERT_EQUAL(ctl_session_fig_set(&lv[1], "dtls_suite", ""), -EINVAL);
	CU_ASSERT_EQUAL(ctl_session_fig_set(&lv[1], "dtls_suite", "aes\x1b[31m"), -EINVAL);
	CU_ASSERT_EQUAL(ctl_session_fig_set(&lv[1], "dtls_suite", KEY_DTLS), -EINVAL);
	CU_ASSERT_EQUAL(
	    ctl_session_fig_set(&lv[1], "dtls_suite", "AES_CM_128_HMAC_SHA1_80_AND_MUCH_MORE"),
	    -EINVAL);
	CU_ASSERT_EQUAL(memcmp(&lv[1], &before, sizeof(before)), 0);
	CU_ASSERT_EQUAL(ctl_session_fig_set(&lv[1], "dtls_key_rx", KEY_DTLS), -ENOENT);

	/* reported, not nominated, not keyed */
	live_fill(&lv[0]);
	live_fill(&lv[1]);
	lv[1].latched[0] = 0;
	CU_ASSERT_FALSE(ctl_session_ice_nominated(&s.leg[1], &lv[1]));
	CU_ASSERT_FALSE(ctl_session_ice_nominated(&s.leg[0], &lv[0])); /* latched, not ICE */
	out = print_to_string(&s, lv, 1764200105);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	assert_no_secret(out);
	CU_ASSERT_PTR_NULL(strstr(out, "/of/the/anchor/leg/b"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(out, "  keying               sdes (keys from the SDP's a=crypto)\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "  ice                  no (not an ICE leg)\n"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(out, "  keying               dtls (DTLS-SRTP handshake on the leg)\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "  ice ufrag (ours)     OurUfragOfLegB01\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "  ice ufrag (peer)     brwsr\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "  ice                  not nominated yet\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "  bundle               no\n"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(out, "  dtls role (ours)     passive (the peer sends the ClientHello)\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "  dtls peer fingerprint " FPR_B "\n"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(out, "  dtls                 not keyed yet (handshake pending)\n"));
	free(out);

	/* nominated (latched) and keyed */
	snprintf(lv[1].latched, sizeof(lv[1].latched), "203.0.113.7:50000");
	CU_ASSERT_EQUAL(ctl_session_fig_set(&lv[1], "dtls_suite", "AES_CM_128_HMAC_SHA1_80"), 0);
	CU_ASSERT_TRUE(ctl_session_ice_nominated(&s.leg[1], &lv[1]));
	snprintf(s.leg[1].dtls_setup, sizeof(s.leg[1].dtls_setup), "active");
	out = print_to_string(&s, lv, 1764200105);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	assert_no_secret(out);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(out, "  ice                  nominated (latched to 203.0.113.7:50000)\n"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(out, "  dtls role (ours)     active (we send the ClientHello)\n"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(out, "  dtls                 keyed (AES_CM_128_HMAC_SHA1_80)\n"));
	free(out);

	/* a bundled leg, when the record has BUNDLE's fields (X_bundle, X_mid) */
	const struct pr_ks_field *fb = pr_ks_field_find(&pr_ks_leg_desc, "bundle", NULL);
	const struct pr_ks_field *fm = pr_ks_field_find(&pr_ks_leg_desc, "mid", NULL);
	if (fb && fm && fb->type == PR_KS_T_STR && fm->type == PR_KS_T_STR) {
		snprintf((char *)&s.leg[1] + fb->off, fb->size, "call-1-a");
		snprintf((char *)&s.leg[1] + fm->off, fm->size, "0");
		out = print_to_string(&s, lv, 1764200105);
		CU_ASSERT_PTR_NOT_NULL(
		    strstr(out, "  bundle               yes (group call-1-a, mid 0)\n"));
		free(out);
		memset((char *)&s.leg[1] + fb->off, 0, fb->size);
	}

	o = ctl_session_json(&s, lv);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	dump = json_dumps(o, JSON_PRESERVE_ORDER);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dump);
	assert_no_secret(dump);
	CU_ASSERT_PTR_NULL(strstr(dump, "/of/the/anchor/leg/b"));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "b_keying")), "dtls");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "b_dtls_setup")), "active");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "b_dtls_fingerprint")), FPR_B);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "b_ice_ufrag")),
			       "OurUfragOfLegB01");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "b_dtls_suite")),
			       "AES_CM_128_HMAC_SHA1_80");
	CU_ASSERT_TRUE(json_is_true(json_object_get(o, "b_ice_nominated")));
	CU_ASSERT_TRUE(json_is_true(json_object_get(o, "b_dtls_keyed")));
	CU_ASSERT_TRUE(json_is_null(json_object_get(o, "a_ice_nominated"))); /* no ICE */
	CU_ASSERT_TRUE(json_is_null(json_object_get(o, "a_dtls_keyed")));    /* SDES */
	CU_ASSERT_TRUE(json_is_null(json_object_get(o, "a_dtls_suite")));
	free(dump);
	json_decref(o);

	/* not reported at all: nominated and keyed false, the suite null */
	memset(&lv[1], 0, sizeof(lv[1]));
	o = ctl_session_json(&s, lv);
	CU_ASSERT_TRUE(json_is_false(json_object_get(o, "b_ice_nominated")));
	CU_ASSERT_TRUE(json_is_false(json_object_get(o, "b_dtls_keyed")));
	CU_ASSERT_TRUE(json_is_null(json_object_get(o, "b_dtls_suite")));
	json_decref(o);
	out = print_to_string(&s, lv, 1764200105);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "  ice                  unknown\n"));
	free(out);
}

int main(void)
{
	CU_pSuite s;
	unsigned failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("poprelayctl session", NULL, NULL);
	CU_add_test(s, "dataplane figures parsed, malformed refused", test_figs);
	CU_add_test(s, "text, addresses, encryption status", test_text);
	CU_add_test(s, "list row", test_row);
	CU_add_test(s, "sorted by creation time", test_sort);
	CU_add_test(s, "JSON: every field but the keys", test_json);
	CU_add_test(s, "show: human view without keys", test_print);
	CU_add_test(s, "the fields read: none secret", test_fields);
	CU_add_test(s, "a DTLS-SRTP leg: keying, ICE, DTLS, no key nor pwd", test_dtls_leg);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
