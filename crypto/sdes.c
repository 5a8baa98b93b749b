/* crypto/sdes.c — RFC 4568 a=crypto attribute: parse, format, fresh keys.
 *
 * Grammar (RFC 4568 9.1, what we accept):
 *   value      = tag 1*WSP suite 1*WSP key-param [1*WSP session-params]
 *   key-param  = "inline:" base64(key || salt) ["|" lifetime] ["|" mki-value ":" mki-length]
 *   lifetime   = ["2^"] 1*DIGIT
 * Session parameters and several key-params are refused with -ENOTSUP.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "crypto/sdes.h"
#include "crypto/stun_auth.h"

#define LIFETIME_MAX (1ull << 48) /* RFC 3711: SRTP index space */

static int is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* Parses 1..maxdigits decimal digits at *p into *v; advances *p. */
static int parse_uint(const char **p, unsigned maxdigits, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;
	unsigned n = 0;

	while (*s >= '0' && *s <= '9') {
		if (++n > maxdigits)
			return -EINVAL;
		x = x * 10 + (uint64_t)(*s - '0');
		s++;
	}
	if (n == 0)
		return -EINVAL;
	*p = s;
	*v = x;
	return 0;
}

static int parse_lifetime(const char *s, const char *end, uint64_t *out)
{
	uint64_t v;
	const char *p = s;

	if (end - s >= 2 && s[0] == '2' && s[1] == '^') {
		p += 2;
		if (parse_uint(&p, 2, &v) < 0 || p != end || v == 0 || v > 48)
			return -EINVAL;
		*out = 1ull << v;
		return 0;
	}
	if (parse_uint(&p, 15, &v) < 0 || p != end || v == 0 || v > LIFETIME_MAX)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_mki(const char *s, const char *end, struct pr_sdes_crypto *c)
{
	uint64_t val, len;
	const char *p = s;

	if (parse_uint(&p, 20, &val) < 0 || p >= end || *p != ':')
		return -EINVAL;
	p++;
	if (parse_uint(&p, 3, &len) < 0 || p != end || len == 0 || len > 128)
		return -EINVAL;
	if (len > 4)
		return -ENOTSUP;
	if (len < 4 && val >= (1ull << (8 * len)))
		return -EINVAL;
	if (val > 0xffffffffull)
		return -EINVAL;
	c->mki = (uint32_t)val;
	c->mki_len = (unsigned)len;
	return 0;
}

static int parse_inline(const char *s, const char *end, struct pr_sdes_crypto *c)
{
	const char *bar = memchr(s, '|', (size_t)(end - s));
	const char *kend = bar ? bar : end;
	size_t klen = pr_srtp_profile_key_len(c->profile);
	size_t slen = pr_srtp_profile_salt_len(c->profile);
	char b64buf[64];
	uint8_t raw[48];
	size_t blen = (size_t)(kend - s);
	int n, rc = 0;

	if (blen == 0 || blen > 60)
		return -EINVAL;
	memcpy(b64buf, s, blen);
	while (blen % 4) /* tolerate senders that drop the '=' padding */
		b64buf[blen++] = '=';
	n = pr_base64_decode(b64buf, blen, raw, sizeof(raw));
	if (n < 0 || (size_t)n != klen + slen) {
		rc = -EINVAL;
		goto out;
	}
	memcpy(c->key, raw, klen);
	memcpy(c->salt, raw + klen, slen);
	if (bar) {
		const char *f2 = bar + 1;
		const char *bar2 = memchr(f2, '|', (size_t)(end - f2));
		if (bar2) {
			/* two fields: lifetime | mki */
			if ((rc = parse_lifetime(f2, bar2, &c->lifetime)) < 0)
				goto out;
			rc = parse_mki(bar2 + 1, end, c);
		} else if (memchr(f2, ':', (size_t)(end - f2))) {
			rc = parse_mki(f2, end, c);
		} else {
			rc = parse_lifetime(f2, end, &c->lifetime);
		}
	}
out:
	memset(raw, 0, sizeof(raw));
	memset(b64buf, 0, sizeof(b64buf));
	__asm__ __volatile__("" : : "r"(raw), "r"(b64buf) : "memory");
	return rc;
}

static int parse(const char *value, struct pr_sdes_crypto *out)
{
	const char *p = value, *e;
	uint64_t tag;
	char suite[40];
	int rc, prof;

	if (!value || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (parse_uint(&p, 9, &tag) < 0 || tag == 0 || !is_wsp(*p))
		return -EINVAL;
	out->tag = (unsigned)tag;
	while (is_wsp(*p))
		p++;
	e = p;
	while (*e && !is_wsp(*e))
		e++;
	if (e == p || (size_t)(e - p) >= sizeof(suite))
		return e == p ? -EINVAL : -ENOTSUP;
	memcpy(suite, p, (size_t)(e - p));
	suite[e - p] = 0;
	prof = pr_srtp_profile_from_name(suite);
	if (prof < 0) {
		/* a syntactically valid but unknown suite is "not supported", not garbage */
		for (const char *q = suite; *q; q++)
			if (!((*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') || *q == '_'))
				return -EINVAL;
		rc = -ENOTSUP;
		goto fail;
	}
	out->profile = (enum pr_srtp_profile)prof;
	p = e;
	if (!is_wsp(*p)) {
		rc = -EINVAL;
		goto fail;
	}
	while (is_wsp(*p))
		p++;
	if (strncmp(p, "inline:", 7) != 0) {
		rc = *p ? -ENOTSUP : -EINVAL; /* another key method */
		goto fail;
	}
	p += 7;
	e = p;
	while (*e && !is_wsp(*e) && *e != ';' && *e != '\r' && *e != '\n')
		e++;
	if (*e == ';') {
		rc = -ENOTSUP; /* several master keys */
		goto fail;
	}
	if ((rc = parse_inline(p, e, out)) < 0)
		goto fail;
	p = e;
	while (is_wsp(*p) || *p == '\r' || *p == '\n')
		p++;
	if (*p) {
		rc = -ENOTSUP; /* session parameters (KDR, UNENCRYPTED_SRTP, FEC_ORDER, ...) */
		goto fail;
	}
	return 0;
fail:
	return rc;
}

int pr_sdes_parse(const char *value, struct pr_sdes_crypto *out)
{
	int rc;

	if (!value || !out)
		return -EINVAL;
	rc = parse(value, out);
	if (rc < 0)
		pr_sdes_wipe(out);
	return rc;
}

static int is_pow2(uint64_t v, unsigned *log2)
{
	if (v == 0 || (v & (v - 1)))
		return 0;
	*log2 = (unsigned)__builtin_ctzll(v);
	return 1;
}

int pr_sdes_format(const struct pr_sdes_crypto *c, char *buf, size_t len)
{
	const char *name;
	size_t klen, slen;
	uint8_t raw[30];
	char b64buf[48];
	char life[32] = "", mki[32] = "";
	unsigned lg;
	int n;

	if (!c || !buf || c->tag == 0 || c->tag > 999999999u)
		return -EINVAL;
	name = pr_srtp_profile_name(c->profile);
	if (!name || c->mki_len > 4 || c->lifetime > LIFETIME_MAX)
		return -EINVAL;
	if (c->mki_len && c->mki_len < 4 && c->mki >= (1u << (8 * c->mki_len)))
		return -EINVAL;
	klen = pr_srtp_profile_key_len(c->profile);
	slen = pr_srtp_profile_salt_len(c->profile);
	memcpy(raw, c->key, klen);
	memcpy(raw + klen, c->salt, slen);
	pr_base64_encode(raw, klen + slen, b64buf, sizeof(b64buf));
	if (c->lifetime) {
		if (is_pow2(c->lifetime, &lg) && lg > 0) /* "2^0" is not valid: 1 stays "1" */
			snprintf(life, sizeof(life), "|2^%u", lg);
		else
			snprintf(life, sizeof(life), "|%llu", (unsigned long long)c->lifetime);
	}
	if (c->mki_len)
		snprintf(mki, sizeof(mki), "|%u:%u", c->mki, c->mki_len);
	n = snprintf(buf, len, "%u %s inline:%s%s%s", c->tag, name, b64buf, life, mki);
	memset(raw, 0, sizeof(raw));
	memset(b64buf, 0, sizeof(b64buf));
	__asm__ __volatile__("" : : "r"(raw), "r"(b64buf) : "memory");
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= len) {
		if (len)
			memset(buf, 0, len); /* no half-written key left behind */
		return -ENOSPC;
	}
	return n;
}

int pr_sdes_generate(struct pr_sdes_crypto *c, unsigned tag, enum pr_srtp_profile p)
{
	if (!c || tag == 0 || tag > 999999999u || !pr_srtp_profile_name(p))
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	c->tag = tag;
	c->profile = p;
	if (RAND_priv_bytes(c->key, (int)pr_srtp_profile_key_len(p)) != 1 ||
	    RAND_priv_bytes(c->salt, (int)pr_srtp_profile_salt_len(p)) != 1) {
		pr_sdes_wipe(c);
		return -EIO;
	}
	return 0;
}

void pr_sdes_wipe(struct pr_sdes_crypto *c)
{
	if (!c)
		return;
	memset(c, 0, sizeof(*c));
	__asm__ __volatile__("" : : "r"(c) : "memory");
}
