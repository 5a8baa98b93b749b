/* SPDX-License-Identifier: BSD-3-Clause */
/* STUN/TURN codec: RFC 5769 samples, round trips of every attribute, malformed input,
 * ChannelData framing. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <string.h>

#include "crypto/stun_auth.h"
#include "dataplane/turn/stun_msg.h"

/* RFC 5769 2.1 sample request (short-term credential, password VOkJxbRl1RmTxUk/WvJxBt) */
static const uint8_t rfc5769_req[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
    0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
    0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
    0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf};

/* RFC 5769 2.2 sample IPv4 response */
static const uint8_t rfc5769_resp4[] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
    0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96};

/* RFC 5769 2.3 sample IPv6 response */
static const uint8_t rfc5769_resp6[] = {
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
    0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14,
    0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75,
    0xbf, 0xe3, 0xed, 0x41, 0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c};

/* RFC 5769 2.4 sample request with long-term authentication */
static const uint8_t rfc5769_lt[] = {
    0x00, 0x01, 0x00, 0x60, 0x21, 0x12, 0xa4, 0x42, 0x78, 0xad, 0x34, 0x33, 0xc6, 0xad, 0x72,
    0xc0, 0x29, 0xda, 0x41, 0x2e, 0x00, 0x06, 0x00, 0x12, 0xe3, 0x83, 0x9e, 0xe3, 0x83, 0x88,
    0xe3, 0x83, 0xaa, 0xe3, 0x83, 0x83, 0xe3, 0x82, 0xaf, 0xe3, 0x82, 0xb9, 0x00, 0x00, 0x00,
    0x15, 0x00, 0x1c, 0x66, 0x2f, 0x2f, 0x34, 0x39, 0x39, 0x6b, 0x39, 0x35, 0x34, 0x64, 0x36,
    0x4f, 0x4c, 0x33, 0x34, 0x6f, 0x4c, 0x39, 0x46, 0x53, 0x54, 0x76, 0x79, 0x36, 0x34, 0x73,
    0x41, 0x00, 0x14, 0x00, 0x0b, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72,
    0x67, 0x00, 0x00, 0x08, 0x00, 0x14, 0xf6, 0x70, 0x24, 0x65, 0x6d, 0xd6, 0x4a, 0x3e, 0x02,
    0xb8, 0xe0, 0x71, 0x2e, 0x85, 0xc9, 0xa2, 0x8c, 0xa8, 0x96, 0x66};

static void check_mi(const struct stun_msg *m, const void *key, size_t klen)
{
	uint8_t tmp[512], mac[20];
	CU_ASSERT_FATAL(m->i_mi >= 0);
	int n = stun_integrity_input(m, m->i_mi, tmp, sizeof(tmp));
	CU_ASSERT_FATAL(n > 0);
	pr_hmac_sha1(key, klen, tmp, (size_t)n, mac);
	CU_ASSERT(memcmp(mac, m->buf + m->attrs[m->i_mi].off, 20) == 0);
}

static void check_fp(const struct stun_msg *m)
{
	CU_ASSERT_FATAL(m->i_fp >= 0);
	const struct stun_attr *a = &m->attrs[m->i_fp];
	CU_ASSERT(pr_stun_fingerprint(m->buf, (size_t)a->off - 4) == stun_attr_u32(m, a));
	CU_ASSERT(m->i_fp == m->n_attrs - 1);
}

static void test_rfc5769_request(void)
{
	struct stun_msg m;
	/* PRIORITY (0x0024) is comprehension-required and not TURN: 420 material. */
	CU_ASSERT_EQUAL(stun_parse(&m, rfc5769_req, sizeof(rfc5769_req)), STUN_E_UNKNOWN_ATTR);
	CU_ASSERT_EQUAL(m.n_unknown, 1);
	CU_ASSERT_EQUAL(m.unknown[0], 0x0024);
	CU_ASSERT_EQUAL(m.method, STUN_BINDING);
	CU_ASSERT_EQUAL(m.cls, STUN_REQUEST);
	const struct stun_attr *sw = stun_attr_find(&m, STUN_A_SOFTWARE);
	CU_ASSERT_FATAL(sw != NULL);
	CU_ASSERT(sw->len == 16 && !memcmp(m.buf + sw->off, "STUN test client", 16));
	const struct stun_attr *un = stun_attr_find(&m, STUN_A_USERNAME);
	CU_ASSERT_FATAL(un != NULL);
	CU_ASSERT(un->len == 9 && !memcmp(m.buf + un->off, "evtj:h6vY", 9));
	check_mi(&m, "VOkJxbRl1RmTxUk/WvJxBt", 22);
	check_fp(&m);
}

static void test_rfc5769_responses(void)
{
	struct stun_msg m;
	struct pr_taddr a, want;
	CU_ASSERT_EQUAL_FATAL(stun_parse(&m, rfc5769_resp4, sizeof(rfc5769_resp4)), STUN_OK);
	CU_ASSERT_EQUAL(m.cls, STUN_SUCCESS);
	CU_ASSERT_EQUAL(stun_attr_xaddr(&m, stun_attr_find(&m, STUN_A_XOR_MAPPED_ADDRESS), &a), 0);
	pr_taddr_from_str(&want, "192.0.2.1", 32853);
	CU_ASSERT(pr_taddr_eq(&a, &want));
	check_mi(&m, "VOkJxbRl1RmTxUk/WvJxBt", 22);
	check_fp(&m);

	CU_ASSERT_EQUAL_FATAL(stun_parse(&m, rfc5769_resp6, sizeof(rfc5769_resp6)), STUN_OK);
	CU_ASSERT_EQUAL(stun_attr_xaddr(&m, stun_attr_find(&m, STUN_A_XOR_MAPPED_ADDRESS), &a), 0);
	pr_taddr_from_str(&want, "2001:db8:1234:5678:11:2233:4455:6677", 32853);
	CU_ASSERT(pr_taddr_eq(&a, &want));
	check_mi(&m, "VOkJxbRl1RmTxUk/WvJxBt", 22);
	check_fp(&m);
}

static void test_rfc5769_long_term(void)
{
	struct stun_msg m;
	uint8_t key[16];
	CU_ASSERT_EQUAL_FATAL(stun_parse(&m, rfc5769_lt, sizeof(rfc5769_lt)), STUN_OK);
	const struct stun_attr *r = stun_attr_find(&m, STUN_A_REALM);
	CU_ASSERT(r && r->len == 11 && !memcmp(m.buf + r->off, "example.org", 11));
	const struct stun_attr *n = stun_attr_find(&m, STUN_A_NONCE);
	CU_ASSERT(n && n->len == 28);
	/* username "マトリックス", password "TheMatrIX" after SASLprep */
	pr_ha1_md5("\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9",
		   "example.org", "TheMatrIX", key);
	check_mi(&m, key, sizeof(key));
	CU_ASSERT_EQUAL(m.i_fp, -1);
}

/* Builds a message with every attribute we emit and parses it back. */
static void test_roundtrip_all(void)
{
	uint8_t buf[1024], tid[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	struct stun_builder b;
	struct pr_taddr v4, v6, got;
	pr_taddr_from_str(&v4, "198.51.100.7", 4000);
	pr_taddr_from_str(&v6, "2001:db8::42", 65535);
	stun_b_init(&b, buf, sizeof(buf), TURN_ALLOCATE, STUN_SUCCESS, tid);
	stun_b_xaddr(&b, TURN_A_XOR_RELAYED_ADDRESS, &v4);
	stun_b_xaddr(&b, TURN_A_XOR_RELAYED_ADDRESS, &v6);
	stun_b_xaddr(&b, STUN_A_XOR_MAPPED_ADDRESS, &v6);
	stun_b_xaddr(&b, STUN_A_MAPPED_ADDRESS, &v4);
	stun_b_xaddr(&b, TURN_A_XOR_PEER_ADDRESS, &v4);
	stun_b_xaddr(&b, TURN_A_XOR_PEER_ADDRESS, &v6);
	stun_b_u32(&b, TURN_A_LIFETIME, 600);
	stun_b_u32(&b, TURN_A_CHANNEL_NUMBER, 0x40010000);
	stun_b_u32(&b, TURN_A_REQUESTED_TRANSPORT, 17u << 24);
	stun_b_u32(&b, TURN_A_REQUESTED_ADDR_FAMILY, 0x02000000);
	stun_b_u32(&b, TURN_A_ADDITIONAL_ADDR_FAMILY, 0x02000000);
	stun_b_attr(&b, TURN_A_EVEN_PORT, "\x80", 1);
	stun_b_attr(&b, TURN_A_DONT_FRAGMENT, NULL, 0);
	stun_b_attr(&b, TURN_A_RESERVATION_TOKEN, "12345678", 8);
	stun_b_attr(&b, TURN_A_DATA, "hello", 5);
	stun_b_attr(&b, STUN_A_USERNAME, "alice", 5);
	stun_b_attr(&b, STUN_A_REALM, "poprelay", 8);
	stun_b_attr(&b, STUN_A_NONCE, "abc", 3);
	stun_b_attr(&b, STUN_A_SOFTWARE, "poprelay", 8);
	stun_b_attr(&b, STUN_A_PASSWORD_ALGORITHMS, "\x00\x01\x00\x00\x00\x02\x00\x00", 8);
	stun_b_attr(&b, STUN_A_PASSWORD_ALGORITHM, "\x00\x02\x00\x00", 4);
	stun_b_error(&b, 438, "Stale Nonce");
	uint16_t unk[2] = {0x0031, 0x0032};
	stun_b_unknown(&b, unk, 2);
	stun_b_attr(&b, TURN_A_ICMP, "\0\0\0\0\0\0\0\0", 8);
	stun_b_attr(&b, TURN_A_ADDRESS_ERROR_CODE, "\x02\x00\x04\x28xx", 6);
	int off = stun_b_reserve(&b, STUN_A_MESSAGE_INTEGRITY, 20);
	CU_ASSERT_FATAL(off > 0);
	pr_hmac_sha1("k", 1, buf, (size_t)off - 4, buf + off);
	off = stun_b_reserve(&b, STUN_A_MESSAGE_INTEGRITY_SHA256, 32);
	CU_ASSERT_FATAL(off > 0);
	pr_hmac_sha256("k", 1, buf, (size_t)off - 4, buf + off);
	off = stun_b_reserve(&b, STUN_A_FINGERPRINT, 4);
	uint32_t fp = pr_stun_fingerprint(buf, (size_t)off - 4);
	buf[off] = fp >> 24;
	buf[off + 1] = fp >> 16;
	buf[off + 2] = fp >> 8;
	buf[off + 3] = fp;
	CU_ASSERT_EQUAL_FATAL(b.err, 0);

	struct stun_msg m;
	CU_ASSERT_EQUAL_FATAL(stun_parse(&m, buf, b.len), STUN_OK);
	CU_ASSERT_EQUAL(m.method, TURN_ALLOCATE);
	CU_ASSERT_EQUAL(m.cls, STUN_SUCCESS);
	CU_ASSERT(!memcmp(m.tid, tid, 12));
	CU_ASSERT_EQUAL(m.n_attrs, 28);
	int relayed = 0, peers = 0;
	for (unsigned i = 0; i < m.n_attrs; i++) {
		const struct stun_attr *a = &m.attrs[i];
		if (a->type == TURN_A_XOR_RELAYED_ADDRESS || a->type == TURN_A_XOR_PEER_ADDRESS) {
			CU_ASSERT_EQUAL(stun_attr_xaddr(&m, a, &got), 0);
			CU_ASSERT(pr_taddr_eq(&got, (relayed + peers) % 2 ? &v6 : &v4));
			if (a->type == TURN_A_XOR_RELAYED_ADDRESS)
				relayed++;
			else
				peers++;
		}
	}
	CU_ASSERT(relayed == 2 && peers == 2);
	CU_ASSERT(stun_attr_xaddr(&m, stun_attr_find(&m, STUN_A_XOR_MAPPED_ADDRESS), &got) == 0 &&
		  pr_taddr_eq(&got, &v6));
	CU_ASSERT(stun_attr_xaddr(&m, stun_attr_find(&m, STUN_A_MAPPED_ADDRESS), &got) == 0 &&
		  pr_taddr_eq(&got, &v4));
	/* the plain MAPPED-ADDRESS is stored unXORed */
	const struct stun_attr *ma = stun_attr_find(&m, STUN_A_MAPPED_ADDRESS);
	CU_ASSERT(!memcmp(m.buf + ma->off + 4, v4.ip, 4));
	CU_ASSERT_EQUAL(stun_attr_u32(&m, stun_attr_find(&m, TURN_A_LIFETIME)), 600);
	CU_ASSERT_EQUAL(stun_attr_u32(&m, stun_attr_find(&m, TURN_A_CHANNEL_NUMBER)), 0x40010000);
	const struct stun_attr *d = stun_attr_find(&m, TURN_A_DATA);
	CU_ASSERT(d->len == 5 && !memcmp(m.buf + d->off, "hello", 5));
	const struct stun_attr *e = stun_attr_find(&m, STUN_A_ERROR_CODE);
	CU_ASSERT(e && m.buf[e->off + 2] == 4 && m.buf[e->off + 3] == 38);
	CU_ASSERT(m.buf[stun_attr_find(&m, STUN_A_UNKNOWN_ATTRIBUTES)->off + 1] == 0x31);
	check_mi(&m, "k", 1);
	/* MESSAGE-INTEGRITY-SHA256 over everything before it, incl. MESSAGE-INTEGRITY */
	uint8_t tmp[1024], mac[32];
	int n = stun_integrity_input(&m, m.i_mi256, tmp, sizeof(tmp));
	CU_ASSERT_FATAL(n > 0);
	pr_hmac_sha256("k", 1, tmp, (size_t)n, mac);
	CU_ASSERT(!memcmp(mac, buf + m.attrs[m.i_mi256].off, 32));
	check_fp(&m);
	CU_ASSERT(stun_sniff(buf, b.len) == 0);
}

static size_t mk(uint8_t *buf, uint16_t type, const uint8_t *attrs, size_t alen)
{
	buf[0] = type >> 8;
	buf[1] = type & 0xff;
	buf[2] = alen >> 8;
	buf[3] = alen & 0xff;
	buf[4] = 0x21;
	buf[5] = 0x12;
	buf[6] = 0xa4;
	buf[7] = 0x42;
	memset(buf + 8, 0x5a, 12);
	if (alen)
		memcpy(buf + 20, attrs, alen);
	return 20 + alen;
}

static void test_malformed(void)
{
	uint8_t buf[256] = {0};
	struct stun_msg m;
	size_t n;
	/* too short, bad cookie, top bits, length not matching, length not multiple of 4 */
	CU_ASSERT_EQUAL(stun_parse(&m, buf, 0), STUN_E_NOT_STUN);
	n = mk(buf, 0x0001, NULL, 0);
	CU_ASSERT_EQUAL(stun_parse(&m, buf, n), STUN_OK);
	CU_ASSERT_EQUAL(stun_parse(&m, buf, n - 1), STUN_E_NOT_STUN);
	buf[4] = 0x22;
	CU_ASSERT_EQUAL(stun_parse(&m, buf, n), STUN_E_NOT_STUN);
	n = mk(buf, 0x4001, NULL, 0);
	CU_ASSERT_EQUAL(stun_parse(&m, buf, n), STUN_E_NOT_STUN);
	n = mk(buf, 0x0001, (const uint8_t *)"\x80\x22\x00\x01x\0\0\0", 8);
	buf[3] = 6;
	CU_ASSERT_EQUAL(stun_parse(&m, buf, 26), STUN_E_NOT_STUN);

	/* truncated attribute header */
	n = mk(buf, 0x0001, (const uint8_t *)"\x80\x22\x00\x01x\0\0\0\x00\x06\x00\x00", 12);
	buf[3] = 12;
	CU_ASSERT_EQUAL(stun_parse(&m, buf, n), STUN_E_MALFORMED); /* empty USERNAME */
	n = mk(buf, 0x0001, (const uint8_t *)"\x80\x22\x00\x01x\0\0\0\x80\x22", 10);
	CU_ASSERT_EQUAL(stun_parse(&m, buf, n), STUN_E_NOT_STUN); /* 10 not multiple of 4 */
	/* value length past the end */
	n = mk(buf, 0x0001,
	       (const uint8_t *)"\x80\x22\x00\x09"
				"abcdefgh",
	       12);
	CU_ASSERT_EQUAL(stun_parse(&m, buf, n), STUN_E_MALFORMED);
	/* padding missing: 5-byte value with only 3 of its 3 padding bytes absent */
	n = mk(buf, 0x0001,
	       (const uint8_t *)"\x80\x22\x00\x05"
				"abcdeXYZ\x80\x22\x00\x05",
	       16);
	CU_ASSERT_EQUAL(stun_parse(&m, buf, n), STUN_E_MALFORMED);
	/* duplicate attribute */
	n = mk(buf, 0x0003, (const uint8_t *)"\x00\x0d\x00\x04\0\0\x02\x58\x00\x0d\x00\x04\0\0\0\1",
	       16);
	CU_ASSERT_EQUAL(stun_parse(&m, buf, n), STUN_E_MALFORMED);
	/* wrong fixed lengths: LIFETIME 3 bytes, XOR-PEER-ADDRESS family 3 */
	n = mk(buf, 0x0003, (const uint8_t *)"\x00\x0d\x00\x03\0\0\x02\0", 8);
	CU_ASSERT_EQUAL(stun_parse(&m, buf, n), STUN_E_MALFORMED);
	n = mk(buf, 0x0008, (const uint8_t *)"\x00\x12\x00\x08\x00\x03\x12\x34\1\2\3\4", 12);
	CU_ASSERT_EQUAL(stun_parse(&m, buf, n), STUN_E_MALFORMED);
	n = mk(buf, 0x0008, (const uint8_t *)"\x00\x12\x00\x08\x00\x02\x12\x34\1\2\3\4", 12);
	CU_ASSERT_EQUAL(stun_parse(&m, buf, n), STUN_E_MALFORMED); /* v6 family, v4 length */
	/* FINGERPRINT not last */
	n = mk(buf, 0x0001, (const uint8_t *)"\x80\x28\x00\x04\1\2\3\4\x80\x22\x00\x01x\0\0\0", 16);
	CU_ASSERT_EQUAL(stun_parse(&m, buf, n), STUN_E_MALFORMED);
	/* attributes after MESSAGE-INTEGRITY other than FINGERPRINT are ignored */
	uint8_t a[64];
	memcpy(a, "\x00\x08\x00\x14", 4);
	memset(a + 4, 7, 20);
	memcpy(a + 24, "\x80\x22\x00\x01x\0\0\0", 8);
	n = mk(buf, 0x0001, a, 32);
	CU_ASSERT_EQUAL(stun_parse(&m, buf, n), STUN_OK);
	CU_ASSERT(stun_attr_find(&m, STUN_A_SOFTWARE) == NULL);
	/* unknown comprehension-required vs -optional */
	n = mk(buf, 0x0001, (const uint8_t *)"\x00\x31\x00\x00\x80\x31\x00\x00", 8);
	CU_ASSERT_EQUAL(stun_parse(&m, buf, n), STUN_E_UNKNOWN_ATTR);
	CU_ASSERT(m.n_unknown == 1 && m.unknown[0] == 0x31);
	n = mk(buf, 0x0001, (const uint8_t *)"\x80\x31\x00\x00", 4);
	CU_ASSERT_EQUAL(stun_parse(&m, buf, n), STUN_OK);
	/* too many attributes */
	uint8_t many[12 * (STUN_MAX_ATTRS + 1)], big[20 + sizeof(many)];
	for (int i = 0; i <= STUN_MAX_ATTRS; i++)
		memcpy(many + 12 * i, "\x00\x12\x00\x08\x00\x01\x12\x34\1\2\3\4", 12);
	n = mk(big, 0x0008, many, sizeof(many) - 12);
	CU_ASSERT_EQUAL(stun_parse(&m, big, n), STUN_OK); /* exactly the limit */
	CU_ASSERT_EQUAL(m.n_attrs, STUN_MAX_ATTRS);
	n = mk(big, 0x0008, many, sizeof(many));
	CU_ASSERT_EQUAL(stun_parse(&m, big, n), STUN_E_MALFORMED);
	/* ERROR-CODE with class 7 */
	n = mk(buf, 0x0111, (const uint8_t *)"\x00\x09\x00\x04\0\0\x07\x01", 8);
	CU_ASSERT_EQUAL(stun_parse(&m, buf, n), STUN_E_MALFORMED);
}

static void test_username_len(void)
{
	uint8_t buf[64];
	struct stun_msg m;
	/* USERNAME must not be empty */
	size_t n = mk(buf, 0x0003, (const uint8_t *)"\x00\x06\x00\x00", 4);
	CU_ASSERT_EQUAL(stun_parse(&m, buf, n), STUN_E_MALFORMED);
}

static void test_message_type(void)
{
	CU_ASSERT_EQUAL(stun_msg_type(STUN_BINDING, STUN_REQUEST), 0x0001);
	CU_ASSERT_EQUAL(stun_msg_type(STUN_BINDING, STUN_SUCCESS), 0x0101);
	CU_ASSERT_EQUAL(stun_msg_type(STUN_BINDING, STUN_ERROR), 0x0111);
	CU_ASSERT_EQUAL(stun_msg_type(TURN_SEND, STUN_INDICATION), 0x0016);
	CU_ASSERT_EQUAL(stun_msg_type(TURN_DATA, STUN_INDICATION), 0x0017);
	CU_ASSERT_EQUAL(stun_msg_type(TURN_ALLOCATE, STUN_ERROR), 0x0113);
	CU_ASSERT_EQUAL(stun_msg_type(TURN_CHANNEL_BIND, STUN_SUCCESS), 0x0109);
	uint8_t buf[20];
	struct stun_msg m;
	for (uint16_t meth = 0; meth < 0x1000; meth += 0x3b)
		for (uint8_t c = 0; c < 4; c++) {
			mk(buf, stun_msg_type(meth, c), NULL, 0);
			CU_ASSERT_FATAL(stun_parse(&m, buf, 20) == STUN_OK);
			CU_ASSERT(m.method == meth && m.cls == c);
		}
}

static void test_builder_overflow(void)
{
	uint8_t buf[32], tid[12] = {0};
	struct stun_builder b;
	stun_b_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_SUCCESS, tid);
	CU_ASSERT_EQUAL(stun_b_attr(&b, STUN_A_SOFTWARE, "12345678", 8), 0);
	CU_ASSERT_EQUAL(stun_b_attr(&b, STUN_A_SOFTWARE, "1", 1), -ENOSPC);
	CU_ASSERT_EQUAL(b.err, -ENOSPC);
	CU_ASSERT_EQUAL(stun_b_u32(&b, TURN_A_LIFETIME, 1), -ENOSPC); /* stays failed */
	stun_b_init(&b, buf, 10, STUN_BINDING, STUN_SUCCESS, tid);
	CU_ASSERT_EQUAL(b.err, -ENOSPC);
}

static void test_chandata(void)
{
	uint8_t buf[16] = {0x40, 0x00, 0x00, 0x05, 'h', 'e', 'l', 'l', 'o', 0, 0, 0};
	uint16_t ch = 0;
	CU_ASSERT_EQUAL(turn_chandata_parse(buf, 9, &ch), 5); /* no padding (UDP) */
	CU_ASSERT_EQUAL(ch, 0x4000);
	CU_ASSERT_EQUAL(turn_chandata_parse(buf, 12, &ch), 5);	       /* with padding */
	CU_ASSERT_EQUAL(turn_chandata_parse(buf, 13, &ch), -EMSGSIZE); /* beyond padding */
	CU_ASSERT_EQUAL(turn_chandata_parse(buf, 8, &ch), -EMSGSIZE);  /* truncated */
	CU_ASSERT_EQUAL(turn_chandata_parse(buf, 3, &ch), -EMSGSIZE);
	buf[0] = 0x7f; /* RFC 5766 range: framing is fine, binding decides */
	CU_ASSERT_EQUAL(turn_chandata_parse(buf, 9, &ch), 5);
	CU_ASSERT_EQUAL(ch, 0x7f00);
	buf[0] = 0x80; /* not ChannelData */
	CU_ASSERT_EQUAL(turn_chandata_parse(buf, 9, &ch), -EINVAL);
	buf[0] = 0x3f;
	CU_ASSERT_EQUAL(turn_chandata_parse(buf, 9, &ch), -EINVAL);
	turn_chandata_hdr(buf, 0x4fff, 0);
	CU_ASSERT_EQUAL(turn_chandata_parse(buf, 4, &ch), 0);
	CU_ASSERT_EQUAL(ch, 0x4fff);
	turn_chandata_hdr(buf, 0x4123, 4);
	CU_ASSERT(buf[0] == 0x41 && buf[1] == 0x23 && buf[2] == 0 && buf[3] == 4);
}

static void test_taddr(void)
{
	struct pr_taddr a, b;
	char s[64];
	CU_ASSERT_EQUAL(pr_taddr_from_str(&a, "203.0.113.9", 7), 0);
	pr_taddr_fmt(&a, s, sizeof(s));
	CU_ASSERT_STRING_EQUAL(s, "203.0.113.9:7");
	CU_ASSERT_EQUAL(pr_taddr_from_str(&b, "2001:db8::1", 7), 0);
	pr_taddr_fmt(&b, s, sizeof(s));
	CU_ASSERT_STRING_EQUAL(s, "[2001:db8::1]:7");
	CU_ASSERT(!pr_taddr_eq(&a, &b));
	CU_ASSERT_EQUAL(pr_taddr_from_str(&a, "nope", 1), -EINVAL);
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite("turn_codec", NULL, NULL);
	CU_add_test(s, "rfc5769 request", test_rfc5769_request);
	CU_add_test(s, "rfc5769 responses", test_rfc5769_responses);
	CU_add_test(s, "rfc5769 long-term", test_rfc5769_long_term);
	CU_add_test(s, "round trip of every attribute", test_roundtrip_all);
	CU_add_test(s, "malformed", test_malformed);
	CU_add_test(s, "username length", test_username_len);
	CU_add_test(s, "message type", test_message_type);
	CU_add_test(s, "builder overflow", test_builder_overflow);
	CU_add_test(s, "chandata", test_chandata);
	CU_add_test(s, "taddr", test_taddr);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
