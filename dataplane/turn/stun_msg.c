/* SPDX-License-Identifier: BSD-3-Clause */
/* STUN/TURN codec: strict parser, response/indication builder, ChannelData framing. */
#include "dataplane/turn/stun_msg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}
static inline void wr32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

int stun_sniff(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	if (len < STUN_HDR_LEN || (p[0] & 0xC0) != 0 || rd32(p + 4) != STUN_MAGIC)
		return -EINVAL;
	uint16_t blen = rd16(p + 2);
	if ((blen & 3) || (size_t)blen + STUN_HDR_LEN != len)
		return -EINVAL;
	return 0;
}

/* Value length rules of the attributes we understand (RFC 8489 14, RFC 8656 18).
 * Returns 1 when valid, 0 when malformed, -1 when the type is not one we know. */
static int attr_len_ok(uint16_t type, uint16_t len, const uint8_t *v)
{
	switch (type) {
	case STUN_A_MAPPED_ADDRESS:
	case STUN_A_XOR_MAPPED_ADDRESS:
	case TURN_A_XOR_PEER_ADDRESS:
	case TURN_A_XOR_RELAYED_ADDRESS:
	case STUN_A_ALTERNATE_SERVER:
	case STUN_A_RESPONSE_ORIGIN:
	case STUN_A_OTHER_ADDRESS:
		return (len == 8 && v[1] == 1) || (len == 20 && v[1] == 2);
	case STUN_A_USERNAME:
		return len > 0 && len <= 513;
	case STUN_A_USERHASH:
		return len == 32;
	case STUN_A_MESSAGE_INTEGRITY:
		return len == 20;
	case STUN_A_MESSAGE_INTEGRITY_SHA256:
		return len >= 16 && len <= 32 && (len & 3) == 0;
	case STUN_A_FINGERPRINT:
	case TURN_A_LIFETIME:
		return len == 4;
	case STUN_A_ERROR_CODE:
		return len >= 4 && len <= 4 + 763 && (v[2] & 7) >= 3 && (v[2] & 7) <= 6 &&
		       v[3] < 100;
	case STUN_A_UNKNOWN_ATTRIBUTES:
	case STUN_A_PASSWORD_ALGORITHMS:
		return (len & 1) == 0;
	case STUN_A_REALM:
	case STUN_A_NONCE:
	case STUN_A_SOFTWARE:
	case STUN_A_ALTERNATE_DOMAIN:
		return len > 0 && len <= 763;
	case STUN_A_PASSWORD_ALGORITHM:
		return len >= 4 && (size_t)rd16(v + 2) + 4 == len;
	case TURN_A_CHANNEL_NUMBER:
	case TURN_A_REQUESTED_TRANSPORT:
		return len == 4;
	case TURN_A_REQUESTED_ADDR_FAMILY:
	case TURN_A_ADDITIONAL_ADDR_FAMILY:
		return len == 4;
	case TURN_A_DATA:
		return 1;
	case TURN_A_EVEN_PORT:
		return len == 1;
	case TURN_A_DONT_FRAGMENT:
		return len == 0;
	case TURN_A_RESERVATION_TOKEN:
		return len == 8;
	case TURN_A_ADDRESS_ERROR_CODE:
		return len >= 4 && len <= 4 + 763 && (v[0] == 1 || v[0] == 2);
	case TURN_A_ICMP:
		return len == 8;
	default:
		return -1;
	}
}

int stun_parse(struct stun_msg *m, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	if (stun_sniff(buf, len) < 0)
		return STUN_E_NOT_STUN;
	uint16_t t = rd16(p);
	memset(m, 0, offsetof(struct stun_msg, attrs));
	m->buf = p;
	m->total = (uint16_t)len;
	m->method = (uint16_t)((t & 0x000F) | ((t & 0x00E0) >> 1) | ((t & 0x3E00) >> 2));
	m->cls = (uint8_t)(((t >> 4) & 1) | ((t >> 7) & 2));
	memcpy(m->tid, p + 8, 12);
	m->i_mi = m->i_mi256 = m->i_fp = -1;

	/* Seen-bitmap for duplicate detection of known types, indexed by a small hash. */
	uint64_t seen = 0;
	size_t off = STUN_HDR_LEN;
	while (off < len) {
		if (off + 4 > len)
			return STUN_E_MALFORMED; /* truncated attribute header */
		uint16_t at = rd16(p + off), alen = rd16(p + off + 2);
		size_t padded = ((size_t)alen + 3) & ~(size_t)3;
		if (off + 4 + padded > len)
			return STUN_E_MALFORMED; /* value or its padding past the end */
		const uint8_t *v = p + off + 4;
		size_t voff = off + 4;
		off += 4 + padded;

		if (m->i_fp >= 0)
			return STUN_E_MALFORMED; /* FINGERPRINT must be the last attribute */
		/* RFC 8489 14.5/14.6: after MESSAGE-INTEGRITY only MESSAGE-INTEGRITY-SHA256 and
		 * FINGERPRINT count; after MESSAGE-INTEGRITY-SHA256 only FINGERPRINT. */
		if (m->i_mi256 >= 0 && at != STUN_A_FINGERPRINT)
			continue;
		if (m->i_mi >= 0 && at != STUN_A_FINGERPRINT &&
		    at != STUN_A_MESSAGE_INTEGRITY_SHA256)
			continue;

		int ok = attr_len_ok(at, alen, v);
		if (ok == 0)
			return STUN_E_MALFORMED;
		if (ok < 0) {
			if (at < 0x8000) {
				unsigned i;
				for (i = 0; i < m->n_unknown; i++)
					if (m->unknown[i] == at)
						break;
				if (i == m->n_unknown && m->n_unknown < STUN_MAX_UNKNOWN)
					m->unknown[m->n_unknown++] = at;
			}
			continue; /* unknown comprehension-optional: ignored */
		}
		/* Duplicate known attributes are refused; XOR-PEER-ADDRESS may repeat
		 * (CreatePermission with several peers, RFC 8656 9.1) and so may
		 * XOR-RELAYED-ADDRESS (one per family in a dual allocation). */
		if (at != TURN_A_XOR_PEER_ADDRESS && at != TURN_A_XOR_RELAYED_ADDRESS) {
			unsigned bit = (unsigned)((at ^ (at >> 6) ^ (at >> 11)) & 63);
			if (seen & (1ull << bit)) {
				for (unsigned i = 0; i < m->n_attrs; i++)
					if (m->attrs[i].type == at)
						return STUN_E_MALFORMED;
			}
			seen |= 1ull << bit;
		}
		if (m->n_attrs >= STUN_MAX_ATTRS)
			return STUN_E_MALFORMED;
		if (at == STUN_A_MESSAGE_INTEGRITY)
			m->i_mi = m->n_attrs;
		else if (at == STUN_A_MESSAGE_INTEGRITY_SHA256)
			m->i_mi256 = m->n_attrs;
		else if (at == STUN_A_FINGERPRINT)
			m->i_fp = m->n_attrs;
		m->attrs[m->n_attrs++] = (struct stun_attr){at, alen, (uint16_t)voff};
	}
	return m->n_unknown ? STUN_E_UNKNOWN_ATTR : STUN_OK;
}

const struct stun_attr *stun_attr_find(const struct stun_msg *m, uint16_t t)
{
	for (unsigned i = 0; i < m->n_attrs; i++)
		if (m->attrs[i].type == t)
			return &m->attrs[i];
	return NULL;
}

int stun_integrity_input(const struct stun_msg *m, int idx, uint8_t *tmp, size_t cap)
{
	if (idx < 0 || idx >= m->n_attrs)
		return -EINVAL;
	const struct stun_attr *a = &m->attrs[idx];
	size_t end = (size_t)a->off - 4;
	if (end > cap)
		return -ENOSPC;
	memcpy(tmp, m->buf, end);
	wr16(tmp + 2, (uint16_t)(end + 4 + ((a->len + 3u) & ~3u) - STUN_HDR_LEN));
	return (int)end;
}

uint32_t stun_attr_u32(const struct stun_msg *m, const struct stun_attr *a)
{
	return a->len >= 4 ? rd32(m->buf + a->off) : 0;
}

int stun_attr_xaddr(const struct stun_msg *m, const struct stun_attr *a, struct pr_taddr *out)
{
	const uint8_t *v = m->buf + a->off;
	bool x = a->type != STUN_A_MAPPED_ADDRESS && a->type != STUN_A_ALTERNATE_SERVER &&
		 a->type != STUN_A_RESPONSE_ORIGIN && a->type != STUN_A_OTHER_ADDRESS;
	memset(out, 0, sizeof(*out));
	if (a->len == 8 && v[1] == 1) {
		out->fam = 4;
		memcpy(out->ip, v + 4, 4);
	} else if (a->len == 20 && v[1] == 2) {
		out->fam = 6;
		memcpy(out->ip, v + 4, 16);
	} else {
		return -EINVAL;
	}
	out->port = rd16(v + 2);
	if (x) {
		uint8_t key[16];
		wr32(key, STUN_MAGIC);
		memcpy(key + 4, m->tid, 12);
		out->port ^= STUN_MAGIC >> 16;
		for (unsigned i = 0; i < (out->fam == 4 ? 4u : 16u); i++)
			out->ip[i] ^= key[i];
	}
	return 0;
}

void stun_b_init(struct stun_builder *b, void *buf, size_t cap, uint16_t method, uint8_t cls,
		 const uint8_t tid[12])
{
	b->buf = buf;
	b->cap = cap > 0xFFFF ? 0xFFFF : (uint16_t)cap;
	b->len = 0;
	b->err = 0;
	if (b->cap < STUN_HDR_LEN) {
		b->err = -ENOSPC;
		return;
	}
	wr16(b->buf, stun_msg_type(method, cls));
	wr16(b->buf + 2, 0);
	wr32(b->buf + 4, STUN_MAGIC);
	memcpy(b->buf + 8, tid, 12);
	b->len = STUN_HDR_LEN;
}

static uint8_t *b_put(struct stun_builder *b, uint16_t type, uint16_t len)
{
	size_t padded = ((size_t)len + 3) & ~(size_t)3;
	if (b->err || (size_t)b->len + 4 + padded > b->cap) {
		b->err = -ENOSPC;
		return NULL;
	}
	uint8_t *p = b->buf + b->len;
	wr16(p, type);
	wr16(p + 2, len);
	memset(p + 4 + len, 0, padded - len);
	b->len = (uint16_t)(b->len + 4 + padded);
	wr16(b->buf + 2, (uint16_t)(b->len - STUN_HDR_LEN));
	return p + 4;
}

int stun_b_attr(struct stun_builder *b, uint16_t type, const void *val, uint16_t len)
{
	uint8_t *p = b_put(b, type, len);
	if (!p)
		return -ENOSPC;
	if (len)
		memcpy(p, val, len);
	return 0;
}

int stun_b_u32(struct stun_builder *b, uint16_t type, uint32_t v)
{
	uint8_t *p = b_put(b, type, 4);
	if (!p)
		return -ENOSPC;
	wr32(p, v);
	return 0;
}

int stun_b_xaddr(struct stun_builder *b, uint16_t type, const struct pr_taddr *a)
{
	bool x = type != STUN_A_MAPPED_ADDRESS && type != STUN_A_ALTERNATE_SERVER &&
		 type != STUN_A_RESPONSE_ORIGIN && type != STUN_A_OTHER_ADDRESS;
	unsigned n = a->fam == 6 ? 16 : 4;
	uint8_t *p = b_put(b, type, (uint16_t)(4 + n));
	if (!p)
		return -ENOSPC;
	p[0] = 0;
	p[1] = a->fam == 6 ? 2 : 1;
	wr16(p + 2, x ? (uint16_t)(a->port ^ (STUN_MAGIC >> 16)) : a->port);
	memcpy(p + 4, a->ip, n);
	if (x) {
		uint8_t key[16];
		memcpy(key, b->buf + 4, 16); /* magic cookie || transaction id */
		for (unsigned i = 0; i < n; i++)
			p[4 + i] ^= key[i];
	}
	return 0;
}

int stun_b_error(struct stun_builder *b, int code, const char *reason)
{
	size_t rl = strlen(reason);
	if (rl > 127)
		rl = 127;
	uint8_t *p = b_put(b, STUN_A_ERROR_CODE, (uint16_t)(4 + rl));
	if (!p)
		return -ENOSPC;
	p[0] = p[1] = 0;
	p[2] = (uint8_t)(code / 100);
	p[3] = (uint8_t)(code % 100);
	memcpy(p + 4, reason, rl);
	return 0;
}

int stun_b_unknown(struct stun_builder *b, const uint16_t *types, unsigned n)
{
	uint8_t *p = b_put(b, STUN_A_UNKNOWN_ATTRIBUTES, (uint16_t)(2 * n));
	if (!p)
		return -ENOSPC;
	for (unsigned i = 0; i < n; i++)
		wr16(p + 2 * i, types[i]);
	return 0;
}

int stun_b_reserve(struct stun_builder *b, uint16_t type, uint16_t len)
{
	uint8_t *p = b_put(b, type, len);
	if (!p)
		return -ENOSPC;
	memset(p, 0, len);
	return (int)(p - b->buf);
}

int turn_chandata_parse(const void *buf, size_t len, uint16_t *chan)
{
	const uint8_t *p = buf;
	if (len < 4)
		return -EMSGSIZE;
	uint16_t c = rd16(p), dl = rd16(p + 2);
	if (c < TURN_CHAN_MIN || c > TURN_CHAN_MAX_RFC5766)
		return -EINVAL;
	/* RFC 8656 12.5: over UDP the padding may be absent; anything beyond it is not
	 * ChannelData we understand. */
	if ((size_t)dl + 4 > len || len > (((size_t)dl + 3) & ~(size_t)3) + 4)
		return -EMSGSIZE;
	*chan = c;
	return dl;
}

void turn_chandata_hdr(void *hdr, uint16_t chan, uint16_t len)
{
	/* One store: the relay reads these four bytes back as one word right away. */
	uint32_t v = htonl((uint32_t)chan << 16 | len);
	memcpy(hdr, &v, 4);
}

int pr_taddr_from_str(struct pr_taddr *a, const char *ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->port = port;
	if (inet_pton(AF_INET, ip, a->ip) == 1) {
		a->fam = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, ip, a->ip) == 1) {
		a->fam = 6;
		return 0;
	}
	return -EINVAL;
}

int pr_taddr_fmt(const struct pr_taddr *a, char *out, size_t outlen)
{
	char s[INET6_ADDRSTRLEN];
	if (a->fam == 4) {
		inet_ntop(AF_INET, a->ip, s, sizeof(s));
		return snprintf(out, outlen, "%s:%u", s, a->port);
	}
	if (a->fam == 6) {
		inet_ntop(AF_INET6, a->ip, s, sizeof(s));
		return snprintf(out, outlen, "[%s]:%u", s, a->port);
	}
	return snprintf(out, outlen, "-");
}

bool pr_taddr_eq(const struct pr_taddr *a, const struct pr_taddr *b)
{
	return a->fam == b->fam && a->port == b->port &&
	       memcmp(a->ip, b->ip, a->fam == 6 ? 16 : 4) == 0;
}
