/* SPDX-License-Identifier: BSD-3-Clause */
/* ICE-lite connectivity checks on an anchor leg (design in media_ice.h). Pure C. */
#include "dataplane/media/media_ice.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/stun_auth.h"

bool media_ice_text_valid(const char *s, size_t min)
{
	size_t n = 0;

	for (; s[n]; n++) {
		char c = s[n];
		if (n >= MEDIA_ICE_TEXT_MAX)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '/'))
			return false;
	}
	return n >= min;
}

int media_ice_set(struct media_ice *ice, const char *ufrag, const char *pwd, const char *remote)
{
	memset(ice, 0, sizeof(*ice));
	if (!media_ice_text_valid(ufrag, MEDIA_ICE_UFRAG_MIN))
		return -1;
	if (!media_ice_text_valid(pwd, MEDIA_ICE_PWD_MIN))
		return -2;
	if (remote[0] && !media_ice_text_valid(remote, MEDIA_ICE_UFRAG_MIN))
		return -3;
	ice->ufrag_len = (uint16_t)strlen(ufrag);
	ice->pwd_len = (uint16_t)strlen(pwd);
	ice->remote_len = (uint16_t)strlen(remote);
	memcpy(ice->ufrag, ufrag, ice->ufrag_len);
	memcpy(ice->pwd, pwd, ice->pwd_len);
	memcpy(ice->remote, remote, ice->remote_len);
	return 0;
}

void media_ice_free(struct media_ice *ice)
{
	if (!ice)
		return;
	/* volatile: the wipe of memory about to be freed must not be optimised away */
	volatile char *p = ice->pwd;
	for (size_t i = 0; i < sizeof(ice->pwd); i++)
		p[i] = 0;
	free(ice);
}

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Is an attribute of type t among those MESSAGE-INTEGRITY covers? stun_parse records only
 * the types TURN knows, so the ICE ones (PRIORITY, USE-CANDIDATE, ICE-CONTROLLED,
 * ICE-CONTROLLING) are looked up here, over the framing stun_parse has checked. */
static bool has_attr(const struct stun_msg *m, uint16_t t)
{
	size_t end = (size_t)m->attrs[m->i_mi].off - 4, off = STUN_HDR_LEN;

	while (off + 4 <= end) {
		uint16_t at = rd16(m->buf + off), alen = rd16(m->buf + off + 2);
		if (at == t)
			return true;
		off += 4 + (((size_t)alen + 3) & ~(size_t)3);
	}
	return false;
}

/* MESSAGE-INTEGRITY (HMAC-SHA1 keyed with our pwd) then FINGERPRINT, at the end of b. */
static uint16_t seal(struct stun_builder *b, const struct media_ice *ice)
{
	int off = stun_b_reserve(b, STUN_A_MESSAGE_INTEGRITY, 20);

	if (off < 0)
		return 0;
	pr_hmac_sha1(ice->pwd, ice->pwd_len, b->buf, (size_t)off - 4, b->buf + off);
	off = stun_b_reserve(b, STUN_A_FINGERPRINT, 4);
	if (off < 0 || b->err)
		return 0;
	wr32(b->buf + off, pr_stun_fingerprint(b->buf, (size_t)off - 4));
	return b->len;
}

enum media_ice_verdict media_ice_check(const struct media_ice *ice, const uint8_t *req, size_t len,
				       const struct pr_taddr *src, uint8_t *out, size_t cap,
				       struct media_ice_answer *ans)
{
	struct stun_msg m;
	struct stun_builder b;
	const struct stun_attr *un, *mi, *fp;
	uint8_t tmp[2048], mac[20];
	int rc, n;

	ans->len = 0;
	ans->nominate = false;
	if (len > sizeof(tmp))
		return MEDIA_ICE_MALFORMED;
	rc = stun_parse(&m, req, len);
	if (rc == STUN_E_UNKNOWN_ATTR) {
		/* PRIORITY and USE-CANDIDATE are ICE's (TURN's codec does not know them);
		 * any other comprehension-required attribute fails the request (a 420 would
		 * go to a source not yet authenticated) */
		for (unsigned i = 0; i < m.n_unknown; i++)
			if (m.unknown[i] != STUN_A_PRIORITY && m.unknown[i] != STUN_A_USE_CANDIDATE)
				return MEDIA_ICE_MALFORMED;
	} else if (rc != STUN_OK) {
		return MEDIA_ICE_MALFORMED;
	}
	if (m.method != STUN_BINDING)
		return MEDIA_ICE_MALFORMED;
	if (m.cls != STUN_REQUEST)
		return MEDIA_ICE_NOT_REQUEST;
	/* RFC 8445 7.2.2 / RFC 7983: FINGERPRINT tells STUN from media on a shared port */
	if (m.i_fp < 0 || m.i_mi < 0)
		return MEDIA_ICE_MALFORMED;
	fp = &m.attrs[m.i_fp];
	if (stun_attr_u32(&m, fp) != pr_stun_fingerprint(req, (size_t)fp->off - 4))
		return MEDIA_ICE_MALFORMED;
	un = stun_attr_find(&m, STUN_A_USERNAME);
	if (!un)
		return MEDIA_ICE_MALFORMED;
	/* RFC 8445 7.3: USERNAME is <our ufrag>:<the peer's ufrag> */
	const char *u = (const char *)stun_attr_val(&m, un);
	if (un->len < ice->ufrag_len + 1u || memcmp(u, ice->ufrag, ice->ufrag_len) ||
	    u[ice->ufrag_len] != ':')
		return MEDIA_ICE_UNKNOWN_UFRAG;
	if (ice->remote_len && (un->len != ice->ufrag_len + 1u + ice->remote_len ||
				memcmp(u + ice->ufrag_len + 1, ice->remote, ice->remote_len)))
		return MEDIA_ICE_UNKNOWN_UFRAG;
	/* short-term credentials (RFC 8489 9.1.1): HMAC-SHA1 keyed with the pwd itself */
	n = stun_integrity_input(&m, m.i_mi, tmp, sizeof(tmp));
	if (n < 0)
		return MEDIA_ICE_MALFORMED;
	mi = &m.attrs[m.i_mi];
	pr_hmac_sha1(ice->pwd, ice->pwd_len, tmp, (size_t)n, mac);
	rc = pr_ct_memcmp(mac, stun_attr_val(&m, mi), sizeof(mac));
	memset(tmp, 0, (size_t)n);
	if (rc)
		return MEDIA_ICE_BAD_INTEGRITY;
	/* RFC 8445 7.3.1.1: we are lite, hence controlled; a peer that says it is controlled
	 * too is told to switch (487), as a full agent with the larger tie-breaker would */
	if (has_attr(&m, STUN_A_ICE_CONTROLLED)) {
		stun_b_init(&b, out, cap, STUN_BINDING, STUN_ERROR, m.tid);
		stun_b_error(&b, 487, "Role Conflict");
		ans->len = seal(&b, ice);
		return MEDIA_ICE_ROLE_CONFLICT;
	}
	stun_b_init(&b, out, cap, STUN_BINDING, STUN_SUCCESS, m.tid);
	stun_b_xaddr(&b, STUN_A_XOR_MAPPED_ADDRESS, src);
	ans->len = seal(&b, ice);
	/* RFC 8445 7.3.1.5: USE-CANDIDATE from the controlling agent nominates the pair */
	ans->nominate = ans->len && has_attr(&m, STUN_A_USE_CANDIDATE);
	return MEDIA_ICE_ANSWERED;
}
