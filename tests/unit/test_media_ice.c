/* ICE-lite checks on an anchor leg (dataplane/media/media_ice.c): the RFC 5769 sample
 * request as an independent vector of short-term integrity, a browser-like check answered
 * with an answer whose integrity and fingerprint verify, nomination, wrong credentials,
 * role conflict, and what is not a check. */
#include <string.h>

#include <CUnit/Basic.h>

#include "crypto/stun_auth.h"
#include "dataplane/media/media_ice.h"

/* RFC 5769 2.1: a Binding request with SOFTWARE ("STUN test client"), PRIORITY, ICE-CONTROLLED,
 * USERNAME "evtj:h6vY", MESSAGE-INTEGRITY (password "VOkJxbRl1RmTxUk/WvJxBt") and FINGERPRINT. */
static const uint8_t rfc5769_req[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
    0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
    0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
    0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf};

#define UFRAG  "Ab3/"
#define PWD    "s3cretPwd+of/the/anchor0"
#define REMOTE "brow"

static struct media_ice ice;
static struct pr_taddr src;

/* A browser's check: PRIORITY, ICE-CONTROLLING or -CONTROLLED, USE-CANDIDATE if nominate,
 * USERNAME user, MESSAGE-INTEGRITY keyed with pwd, FINGERPRINT. */
static uint16_t check(uint8_t *buf, const char *user, const char *pwd, bool controlling,
		      bool nominate, bool with_fp)
{
	static const uint8_t tid[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	struct stun_builder b;
	uint8_t tb[8] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
	int off;

	stun_b_init(&b, buf, 512, STUN_BINDING, STUN_REQUEST, tid);
	stun_b_u32(&b, STUN_A_PRIORITY, 0x6e0001ff);
	stun_b_attr(&b, controlling ? STUN_A_ICE_CONTROLLING : STUN_A_ICE_CONTROLLED, tb, 8);
	if (nominate)
		stun_b_attr(&b, STUN_A_USE_CANDIDATE, NULL, 0);
	stun_b_attr(&b, STUN_A_USERNAME, user, (uint16_t)strlen(user));
	off = stun_b_reserve(&b, STUN_A_MESSAGE_INTEGRITY, 20);
	pr_hmac_sha1(pwd, strlen(pwd), buf, (size_t)off - 4, buf + off);
	if (with_fp) {
		off = stun_b_reserve(&b, STUN_A_FINGERPRINT, 4);
		uint32_t fp = pr_stun_fingerprint(buf, (size_t)off - 4);
		buf[off] = (uint8_t)(fp >> 24);
		buf[off + 1] = (uint8_t)(fp >> 16);
		buf[off + 2] = (uint8_t)(fp >> 8);
		buf[off + 3] = (uint8_t)fp;
	}
	CU_ASSERT_EQUAL(b.err, 0);
	return b.len;
}

/* The answer parses, keeps the request's transaction id, and its MESSAGE-INTEGRITY (our
 * pwd) and FINGERPRINT verify. */
static void answer_ok(const uint8_t *out, uint16_t len, uint8_t cls, struct stun_msg *m)
{
	uint8_t tmp[256], mac[20];

	CU_ASSERT_EQUAL_FATAL(stun_parse(m, out, len), STUN_OK);
	CU_ASSERT_EQUAL(m->method, STUN_BINDING);
	CU_ASSERT_EQUAL(m->cls, cls);
	CU_ASSERT_EQUAL(m->tid[0], 1);
	CU_ASSERT_EQUAL(m->tid[11], 12);
	CU_ASSERT_FATAL(m->i_mi >= 0 && m->i_fp == m->i_mi + 1 && m->i_fp == m->n_attrs - 1);
	int n = stun_integrity_input(m, m->i_mi, tmp, sizeof(tmp));
	CU_ASSERT_FATAL(n > 0);
	pr_hmac_sha1(PWD, strlen(PWD), tmp, (size_t)n, mac);
	CU_ASSERT_EQUAL(memcmp(mac, stun_attr_val(m, &m->attrs[m->i_mi]), 20), 0);
	CU_ASSERT_EQUAL(stun_attr_u32(m, &m->attrs[m->i_fp]),
			pr_stun_fingerprint(out, (size_t)m->attrs[m->i_fp].off - 4));
}

static int setup(void)
{
	pr_taddr_from_str(&src, "203.0.113.7", 50123);
	return media_ice_set(&ice, UFRAG, PWD, REMOTE);
}

static void test_credentials(void)
{
	struct media_ice c;
	char long_text[300];

	CU_ASSERT_EQUAL(media_ice_set(&c, "evtj", "VOkJxbRl1RmTxUk/WvJxBt", "h6vY"), 0);
	CU_ASSERT_EQUAL(c.ufrag_len, 4);
	CU_ASSERT_EQUAL(c.pwd_len, 22);
	CU_ASSERT_EQUAL(media_ice_set(&c, "evtj", "VOkJxbRl1RmTxUk/WvJxBt", ""), 0);
	CU_ASSERT_EQUAL(c.remote_len, 0);
	CU_ASSERT_EQUAL(media_ice_set(&c, "evt", "VOkJxbRl1RmTxUk/WvJxBt", ""), -1); /* 3 */
	CU_ASSERT_EQUAL(media_ice_set(&c, "ev:j", "VOkJxbRl1RmTxUk/WvJxBt", ""), -1);
	CU_ASSERT_EQUAL(media_ice_set(&c, "evtj", "VOkJxbRl1RmTxUk/WvJxB", ""), -2); /* 21 */
	CU_ASSERT_EQUAL(media_ice_set(&c, "evtj", "VOkJxbRl1RmTxUk/WvJx t", ""), -2);
	CU_ASSERT_EQUAL(media_ice_set(&c, "evtj", "VOkJxbRl1RmTxUk/WvJxBt", "h6v"), -3);
	memset(long_text, 'a', 256);
	long_text[256] = 0;
	CU_ASSERT_EQUAL(media_ice_set(&c, long_text, long_text, long_text), 0);
	long_text[256] = 'a';
	long_text[257] = 0;
	CU_ASSERT_EQUAL(media_ice_set(&c, long_text, "VOkJxbRl1RmTxUk/WvJxBt", ""), -1);
}

/* RFC 5769's vector: its integrity verifies under the password (the peer then says it is
 * controlled, against a lite agent: 487, itself with verifiable integrity); any other
 * password fails, and so does the vector with a byte changed. */
static void test_rfc5769_vector(void)
{
	struct media_ice c;
	struct media_ice_answer a;
	struct stun_msg m;
	uint8_t out[128], req[sizeof(rfc5769_req)];
	const struct stun_attr *e;

	media_ice_set(&c, "evtj", "VOkJxbRl1RmTxUk/WvJxBt", "h6vY");
	CU_ASSERT_EQUAL(
	    media_ice_check(&c, rfc5769_req, sizeof(rfc5769_req), &src, out, sizeof(out), &a),
	    MEDIA_ICE_ROLE_CONFLICT);
	CU_ASSERT_FATAL(a.len > 0);
	CU_ASSERT_FALSE(a.nominate);
	CU_ASSERT_EQUAL_FATAL(stun_parse(&m, out, a.len), STUN_OK);
	CU_ASSERT_EQUAL(m.cls, STUN_ERROR);
	e = stun_attr_find(&m, STUN_A_ERROR_CODE);
	CU_ASSERT_FATAL(e != NULL);
	CU_ASSERT_EQUAL(stun_attr_val(&m, e)[2] * 100 + stun_attr_val(&m, e)[3], 487);
	CU_ASSERT_EQUAL(memcmp(m.tid, rfc5769_req + 8, 12), 0);

	media_ice_set(&c, "evtj", "VOkJxbRl1RmTxUk/WvJxBu", "h6vY");
	CU_ASSERT_EQUAL(
	    media_ice_check(&c, rfc5769_req, sizeof(rfc5769_req), &src, out, sizeof(out), &a),
	    MEDIA_ICE_BAD_INTEGRITY);
	CU_ASSERT_EQUAL(a.len, 0);
	media_ice_set(&c, "evtj", "VOkJxbRl1RmTxUk/WvJxBt", "h6vY");
	memcpy(req, rfc5769_req, sizeof(req));
	req[51] ^= 1; /* the tie-breaker: integrity and fingerprint both fail */
	CU_ASSERT_NOT_EQUAL(media_ice_check(&c, req, sizeof(req), &src, out, sizeof(out), &a),
			    MEDIA_ICE_ROLE_CONFLICT);
	CU_ASSERT_EQUAL(a.len, 0);
	media_ice_set(&c, "evtx", "VOkJxbRl1RmTxUk/WvJxBt", "h6vY");
	CU_ASSERT_EQUAL(
	    media_ice_check(&c, rfc5769_req, sizeof(rfc5769_req), &src, out, sizeof(out), &a),
	    MEDIA_ICE_UNKNOWN_UFRAG);
}

/* A controlling browser's check: a success with XOR-MAPPED-ADDRESS = its source; with
 * USE-CANDIDATE it nominates; without, it does not (consent, RFC 7675). */
static void test_answer_and_nominate(void)
{
	uint8_t req[512], out[128];
	struct media_ice_answer a;
	struct stun_msg m;
	struct pr_taddr x;
	uint16_t n = check(req, UFRAG ":" REMOTE, PWD, true, false, true);

	CU_ASSERT_EQUAL(media_ice_check(&ice, req, n, &src, out, sizeof(out), &a),
			MEDIA_ICE_ANSWERED);
	CU_ASSERT_FALSE(a.nominate);
	answer_ok(out, a.len, STUN_SUCCESS, &m);
	const struct stun_attr *xa = stun_attr_find(&m, STUN_A_XOR_MAPPED_ADDRESS);
	CU_ASSERT_FATAL(xa != NULL);
	CU_ASSERT_EQUAL(stun_attr_xaddr(&m, xa, &x), 0);
	CU_ASSERT_TRUE(pr_taddr_eq(&x, &src));

	n = check(req, UFRAG ":" REMOTE, PWD, true, true, true);
	CU_ASSERT_EQUAL(media_ice_check(&ice, req, n, &src, out, sizeof(out), &a),
			MEDIA_ICE_ANSWERED);
	CU_ASSERT_TRUE(a.nominate);
	answer_ok(out, a.len, STUN_SUCCESS, &m);

	/* IPv6 source */
	pr_taddr_from_str(&x, "2001:db8::7", 40000);
	CU_ASSERT_EQUAL(media_ice_check(&ice, req, n, &x, out, sizeof(out), &a),
			MEDIA_ICE_ANSWERED);
	answer_ok(out, a.len, STUN_SUCCESS, &m);
	struct pr_taddr y;
	CU_ASSERT_EQUAL(stun_attr_xaddr(&m, stun_attr_find(&m, STUN_A_XOR_MAPPED_ADDRESS), &y), 0);
	CU_ASSERT_TRUE(pr_taddr_eq(&x, &y));

	/* an answer that does not fit: none (nothing half-built goes out) */
	CU_ASSERT_EQUAL(media_ice_check(&ice, req, n, &src, out, 40, &a), MEDIA_ICE_ANSWERED);
	CU_ASSERT_EQUAL(a.len, 0);
	CU_ASSERT_FALSE(a.nominate);
}

/* Wrong pwd, wrong ufrags, a missing fingerprint or integrity: no answer, no nomination. */
static void test_refused(void)
{
	uint8_t req[512], out[128];
	struct media_ice_answer a;
	uint16_t n;

	n = check(req, UFRAG ":" REMOTE, "s3cretPwd+of/the/anchor1", true, true, true);
	CU_ASSERT_EQUAL(media_ice_check(&ice, req, n, &src, out, sizeof(out), &a),
			MEDIA_ICE_BAD_INTEGRITY);
	CU_ASSERT_EQUAL(a.len, 0);
	CU_ASSERT_FALSE(a.nominate);
	n = check(req, "Ab3x:" REMOTE, PWD, true, true, true);
	CU_ASSERT_EQUAL(media_ice_check(&ice, req, n, &src, out, sizeof(out), &a),
			MEDIA_ICE_UNKNOWN_UFRAG);
	n = check(req, UFRAG ":brox", PWD, true, true, true);
	CU_ASSERT_EQUAL(media_ice_check(&ice, req, n, &src, out, sizeof(out), &a),
			MEDIA_ICE_UNKNOWN_UFRAG);
	n = check(req, UFRAG ":" REMOTE "x", PWD, true, true, true);
	CU_ASSERT_EQUAL(media_ice_check(&ice, req, n, &src, out, sizeof(out), &a),
			MEDIA_ICE_UNKNOWN_UFRAG);
	n = check(req, UFRAG, PWD, true, true, true);
	CU_ASSERT_EQUAL(media_ice_check(&ice, req, n, &src, out, sizeof(out), &a),
			MEDIA_ICE_UNKNOWN_UFRAG);
	n = check(req, UFRAG ":" REMOTE, PWD, true, true, false);
	CU_ASSERT_EQUAL(media_ice_check(&ice, req, n, &src, out, sizeof(out), &a),
			MEDIA_ICE_MALFORMED);
	CU_ASSERT_EQUAL(a.len, 0);
	/* a bad fingerprint: not a STUN message meant for us */
	n = check(req, UFRAG ":" REMOTE, PWD, true, true, true);
	req[n - 1] ^= 0x40;
	CU_ASSERT_EQUAL(media_ice_check(&ice, req, n, &src, out, sizeof(out), &a),
			MEDIA_ICE_MALFORMED);
	/* the peer's ufrag not known yet (no X_ice_remote_ufrag): ours is enough */
	struct media_ice early;
	media_ice_set(&early, UFRAG, PWD, "");
	n = check(req, UFRAG ":whoever", PWD, true, true, true);
	CU_ASSERT_EQUAL(media_ice_check(&early, req, n, &src, out, sizeof(out), &a),
			MEDIA_ICE_ANSWERED);
	CU_ASSERT_TRUE(a.nominate);
}

/* ICE-CONTROLLED from the peer (both controlled): 487 Role Conflict, no nomination even
 * with USE-CANDIDATE. */
static void test_role_conflict(void)
{
	uint8_t req[512], out[128];
	struct media_ice_answer a;
	struct stun_msg m;
	uint16_t n = check(req, UFRAG ":" REMOTE, PWD, false, true, true);

	CU_ASSERT_EQUAL(media_ice_check(&ice, req, n, &src, out, sizeof(out), &a),
			MEDIA_ICE_ROLE_CONFLICT);
	CU_ASSERT_FALSE(a.nominate);
	answer_ok(out, a.len, STUN_ERROR, &m);
	const struct stun_attr *e = stun_attr_find(&m, STUN_A_ERROR_CODE);
	CU_ASSERT_FATAL(e != NULL);
	CU_ASSERT_EQUAL(stun_attr_val(&m, e)[2], 4);
	CU_ASSERT_EQUAL(stun_attr_val(&m, e)[3], 87);
	CU_ASSERT_PTR_NULL(stun_attr_find(&m, STUN_A_XOR_MAPPED_ADDRESS));
}

/* Not checks: an indication (keepalive), a response, media, DTLS, garbage, another
 * method, an unknown comprehension-required attribute. */
static void test_not_checks(void)
{
	uint8_t req[512], out[128];
	struct media_ice_answer a;
	uint16_t n = check(req, UFRAG ":" REMOTE, PWD, true, false, true);

	req[1] = 0x11; /* Binding indication */
	CU_ASSERT_EQUAL(media_ice_check(&ice, req, n, &src, out, sizeof(out), &a),
			MEDIA_ICE_NOT_REQUEST);
	req[0] = 0x01;
	req[1] = 0x01; /* Binding success */
	CU_ASSERT_EQUAL(media_ice_check(&ice, req, n, &src, out, sizeof(out), &a),
			MEDIA_ICE_NOT_REQUEST);
	req[0] = 0x00;
	req[1] = 0x03; /* Allocate request */
	CU_ASSERT_EQUAL(media_ice_check(&ice, req, n, &src, out, sizeof(out), &a),
			MEDIA_ICE_MALFORMED);
	memset(req, 0x16, 64); /* a DTLS record */
	CU_ASSERT_EQUAL(media_ice_check(&ice, req, 64, &src, out, sizeof(out), &a),
			MEDIA_ICE_MALFORMED);
	CU_ASSERT_EQUAL(media_ice_check(&ice, req, 0, &src, out, sizeof(out), &a),
			MEDIA_ICE_MALFORMED);
	/* an unknown comprehension-required attribute before the integrity */
	static const uint8_t tid[12];
	struct stun_builder b;
	stun_b_init(&b, req, sizeof(req), STUN_BINDING, STUN_REQUEST, tid);
	stun_b_u32(&b, 0x0031, 1);
	stun_b_attr(&b, STUN_A_USERNAME, UFRAG ":" REMOTE, 9);
	int off = stun_b_reserve(&b, STUN_A_MESSAGE_INTEGRITY, 20);
	pr_hmac_sha1(PWD, strlen(PWD), req, (size_t)off - 4, req + off);
	off = stun_b_reserve(&b, STUN_A_FINGERPRINT, 4);
	uint32_t fp = pr_stun_fingerprint(req, (size_t)off - 4);
	for (int i = 0; i < 4; i++)
		req[off + i] = (uint8_t)(fp >> (24 - 8 * i));
	CU_ASSERT_EQUAL(media_ice_check(&ice, req, b.len, &src, out, sizeof(out), &a),
			MEDIA_ICE_MALFORMED);
	CU_ASSERT_EQUAL(a.len, 0);
}

int main(void)
{
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("media_ice", setup, NULL);
	CU_add_test(s, "credentials: RFC 8839 lengths and ice-chars", test_credentials);
	CU_add_test(s, "RFC 5769 2.1 vector: integrity, 487, wrong pwd/ufrag", test_rfc5769_vector);
	CU_add_test(s, "check answered (v4, v6), USE-CANDIDATE nominates",
		    test_answer_and_nominate);
	CU_add_test(s, "wrong pwd, ufrag, fingerprint: no answer, no nomination", test_refused);
	CU_add_test(s, "ICE-CONTROLLED from the peer: 487", test_role_conflict);
	CU_add_test(s, "indications, responses, DTLS, garbage: no answer", test_not_checks);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned f = CU_get_number_of_failures();
	CU_cleanup_registry();
	return f ? 1 : 0;
}
