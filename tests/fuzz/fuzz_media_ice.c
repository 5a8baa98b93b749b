/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target for the STUN path of an ICE-lite anchor leg (dataplane/media/media_ice.c):
 * what the control lcore does with each datagram the workers punt from an ICE leg's port
 * (RFC 7983: first byte 0-3).
 *
 * The input: one byte of mode, then bytes.
 *   mode bit 0 clear: the bytes are the datagram, as they came;
 *   mode bit 0 set: the bytes are attributes (framed or not) of a Binding request that the
 *     harness completes the way a browser would: USERNAME "<ufrag>:<remote>" (bit 1: a
 *     wrong remote), MESSAGE-INTEGRITY keyed with the leg's pwd (bit 2: a wrong pwd),
 *     FINGERPRINT (bit 3: left out), so that the fuzzer reaches past the integrity check;
 *   bit 4: the leg does not know the peer's ufrag yet; bit 5: an IPv6 source; bits 6-7: the
 *     answer buffer is 128, 64, 40 or 200 bytes.
 *
 * Invariants (__builtin_trap): an answer (ANSWERED or ROLE_CONFLICT with a length) only for
 * a Binding request whose USERNAME starts with our ufrag and whose MESSAGE-INTEGRITY the
 * harness verifies itself under the pwd; the answer fits the buffer, parses, keeps the
 * request's transaction id, and its MESSAGE-INTEGRITY and FINGERPRINT verify; a success
 * carries the source as XOR-MAPPED-ADDRESS, a 487 no address; a nomination only with an
 * answered success; every other verdict writes nothing to send. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "crypto/stun_auth.h"
#include "dataplane/media/media_ice.h"

#define UFRAG  "Ab3/"
#define PWD    "s3cretPwd+of/the/anchor0"
#define REMOTE "brow"

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Does m's MESSAGE-INTEGRITY verify under pwd? */
static bool mi_ok(const struct stun_msg *m, const char *pwd)
{
	uint8_t tmp[2048], mac[20];
	int n;

	if (m->i_mi < 0)
		return false;
	n = stun_integrity_input(m, m->i_mi, tmp, sizeof(tmp));
	if (n < 0)
		return false;
	pr_hmac_sha1(pwd, strlen(pwd), tmp, (size_t)n, mac);
	return memcmp(mac, stun_attr_val(m, &m->attrs[m->i_mi]), 20) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t caps[4] = {128, 64, 40, 200};
	static const uint8_t tid[12] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2};
	struct media_ice ice;
	struct media_ice_answer a;
	struct pr_taddr src;
	struct stun_msg m, r;
	uint8_t req[2048], out[200];
	size_t len, cap;
	uint8_t mode;

	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;
	cap = caps[mode >> 6];
	media_ice_set(&ice, UFRAG, PWD, mode & 0x10 ? "" : REMOTE);
	if (mode & 0x20)
		pr_taddr_from_str(&src, "2001:db8::7", 40000);
	else
		pr_taddr_from_str(&src, "203.0.113.7", 50123);
	if (!(mode & 1)) {
		if (size > sizeof(req))
			return 0;
		memcpy(req, data, size);
		len = size;
	} else {
		struct stun_builder b;
		const char *user = mode & 2 ? UFRAG ":other" : UFRAG ":" REMOTE;
		const char *pwd = mode & 4 ? "another+pwd+of+22chars" : PWD;
		size_t body = size & ~(size_t)3;
		int off;

		if (body > 1500)
			return 0;
		stun_b_init(&b, req, sizeof(req), STUN_BINDING, STUN_REQUEST, tid);
		memcpy(req + STUN_HDR_LEN, data, body); /* the fuzzer's attributes, as they are */
		b.len = (uint16_t)(STUN_HDR_LEN + body);
		stun_b_attr(&b, STUN_A_USERNAME, user, (uint16_t)strlen(user));
		off = stun_b_reserve(&b, STUN_A_MESSAGE_INTEGRITY, 20);
		if (off < 0)
			return 0;
		pr_hmac_sha1(pwd, strlen(pwd), req, (size_t)off - 4, req + off);
		if (!(mode & 8)) {
			off = stun_b_reserve(&b, STUN_A_FINGERPRINT, 4);
			if (off < 0)
				return 0;
			put32(req + off, pr_stun_fingerprint(req, (size_t)off - 4));
		}
		len = b.len;
	}

	memset(out, 0xa5, sizeof(out));
	enum media_ice_verdict v = media_ice_check(&ice, req, len, &src, out, cap, &a);
	if (v >= MEDIA_ICE_VERDICTS)
		__builtin_trap();
	if (a.nominate && (v != MEDIA_ICE_ANSWERED || !a.len))
		__builtin_trap();
	if (v != MEDIA_ICE_ANSWERED && v != MEDIA_ICE_ROLE_CONFLICT) {
		if (a.len)
			__builtin_trap();
		return 0;
	}
	if (!a.len)
		return 0; /* did not fit */
	/* the request authenticated: check it independently */
	int rc = stun_parse(&m, req, len);
	if ((rc != STUN_OK && rc != STUN_E_UNKNOWN_ATTR) || m.method != STUN_BINDING ||
	    m.cls != STUN_REQUEST || !mi_ok(&m, PWD))
		__builtin_trap();
	const struct stun_attr *un = stun_attr_find(&m, STUN_A_USERNAME);
	if (!un || un->len <= strlen(UFRAG) ||
	    memcmp(stun_attr_val(&m, un), UFRAG ":", strlen(UFRAG) + 1))
		__builtin_trap();
	/* the answer */
	if (a.len > cap || stun_parse(&r, out, a.len) != STUN_OK || r.method != STUN_BINDING ||
	    memcmp(r.tid, m.tid, 12) || !mi_ok(&r, PWD) || r.i_fp != r.n_attrs - 1 ||
	    stun_attr_u32(&r, &r.attrs[r.i_fp]) !=
		pr_stun_fingerprint(out, (size_t)r.attrs[r.i_fp].off - 4))
		__builtin_trap();
	const struct stun_attr *xa = stun_attr_find(&r, STUN_A_XOR_MAPPED_ADDRESS);
	if (v == MEDIA_ICE_ANSWERED) {
		struct pr_taddr x;
		if (r.cls != STUN_SUCCESS || !xa || stun_attr_xaddr(&r, xa, &x) < 0 ||
		    !pr_taddr_eq(&x, &src))
			__builtin_trap();
	} else if (r.cls != STUN_ERROR || xa || !stun_attr_find(&r, STUN_A_ERROR_CODE)) {
		__builtin_trap();
	}
	return 0;
}
