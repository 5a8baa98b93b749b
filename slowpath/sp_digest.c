/* SPDX-License-Identifier: BSD-3-Clause */
#include "slowpath/sp_digest.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/rand.h>

static void to_hex(const uint8_t *b, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[b[i] >> 4];
		out[2 * i + 1] = hx[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static int from_hex(const char *s, uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int v = 0;
		for (int k = 0; k < 2; k++) {
			char c = s[2 * i + k];
			int d = isdigit((unsigned char)c) ? c - '0'
				: (c >= 'a' && c <= 'f')  ? c - 'a' + 10
				: (c >= 'A' && c <= 'F')  ? c - 'A' + 10
							  : -1;
			if (d < 0)
				return -EINVAL;
			v = v * 16 + d;
		}
		b[i] = (uint8_t)v;
	}
	return 0;
}

int sp_digest_hash_hex(enum sp_digest_alg alg, const char *data, size_t len, char *out)
{
	const EVP_MD *md = alg == SP_DIGEST_MD5	     ? EVP_md5()
			   : alg == SP_DIGEST_SHA256 ? EVP_sha256()
						     : NULL;
	uint8_t h[EVP_MAX_MD_SIZE];
	unsigned hl = 0;
	if (!md || !EVP_Digest(data, len, h, &hl, md, NULL))
		return -EINVAL;
	to_hex(h, hl, out);
	return 0;
}

static int hash_parts(enum sp_digest_alg alg, char *out, const char *const *parts, size_t n)
{
	char buf[2048];
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(parts[i]);
		if (off + l + 1 >= sizeof(buf))
			return -EINVAL;
		if (i)
			buf[off++] = ':';
		memcpy(buf + off, parts[i], l);
		off += l;
	}
	int rc = sp_digest_hash_hex(alg, buf, off, out);
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

int sp_digest_ha1(enum sp_digest_alg alg, const char *user, const char *realm, const char *password,
		  char *out)
{
	const char *p[] = {user, realm, password};
	return hash_parts(alg, out, p, 3);
}

int sp_digest_response(enum sp_digest_alg alg, const char *ha1, const char *method, const char *uri,
		       const char *nonce, const char *nc, const char *cnonce, const char *qop,
		       char *out)
{
	char ha2[SP_DIGEST_HEX_MAX];
	const char *p2[] = {method, uri};
	if (hash_parts(alg, ha2, p2, 2) < 0)
		return -EINVAL;
	if (qop) {
		if (!nc || !cnonce)
			return -EINVAL;
		const char *p[] = {ha1, nonce, nc, cnonce, qop, ha2};
		return hash_parts(alg, out, p, 6);
	}
	const char *p[] = {ha1, nonce, ha2};
	return hash_parts(alg, out, p, 3);
}

bool sp_digest_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la != lb || !la)
		return false;
	unsigned diff = 0;
	for (size_t i = 0; i < la; i++)
		diff |= (unsigned)(tolower((unsigned char)a[i]) ^ tolower((unsigned char)b[i]));
	return diff == 0;
}

const char *sp_digest_alg_name(enum sp_digest_alg alg)
{
	return alg == SP_DIGEST_SHA256 ? "SHA-256" : "MD5";
}

int sp_digest_alg_parse(const char *name)
{
	if (!name || !*name || !strcasecmp(name, "MD5"))
		return SP_DIGEST_MD5;
	if (!strcasecmp(name, "SHA-256"))
		return SP_DIGEST_SHA256;
	return -ENOTSUP;
}

int sp_random(void *out, size_t n)
{
	static uint8_t pool[1024];
	static size_t left;
	if (n > 64)
		return -EINVAL;
	if (left < n) {
		if (RAND_bytes(pool, sizeof(pool)) != 1)
			return -EIO;
		left = sizeof(pool);
	}
	/* hand out from the end, and wipe what was handed out */
	left -= n;
	memcpy(out, pool + left, n);
	OPENSSL_cleanse(pool + left, n);
	return 0;
}

int sp_nonce_init(struct sp_nonce_ctx *n, uint32_t ttl_s)
{
	n->ttl_s = ttl_s;
	n->mac = NULL;
	if (RAND_bytes(n->secret, sizeof(n->secret)) != 1)
		return -EIO;
	EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	n->mac = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
	EVP_MAC_free(hmac); /* the context keeps its reference */
	OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
			  OSSL_PARAM_construct_end()};
	if (!n->mac || EVP_MAC_init(n->mac, n->secret, sizeof(n->secret), p) != 1) {
		sp_nonce_free(n);
		return -EIO;
	}
	return 0;
}

void sp_nonce_free(struct sp_nonce_ctx *n)
{
	EVP_MAC_CTX_free(n->mac);
	n->mac = NULL;
}

static int nonce_mac(const struct sp_nonce_ctx *n, const uint8_t *in16, uint8_t *mac8)
{
	uint8_t m[EVP_MAX_MD_SIZE];
	size_t ml = 0;
	/* a NULL key restarts the HMAC with the key it has */
	if (!n->mac || EVP_MAC_init(n->mac, NULL, 0, NULL) != 1 ||
	    EVP_MAC_update(n->mac, in16, 16) != 1 ||
	    EVP_MAC_final(n->mac, m, &ml, sizeof(m)) != 1 || ml < 8)
		return -EIO;
	memcpy(mac8, m, 8);
	return 0;
}

int sp_nonce_make(const struct sp_nonce_ctx *n, int64_t now, char out[SP_NONCE_LEN + 1])
{
	uint8_t raw[24];
	uint64_t t = (uint64_t)now;
	for (int i = 0; i < 8; i++)
		raw[i] = (uint8_t)(t >> (56 - 8 * i));
	if (sp_random(raw + 8, 8) < 0)
		return -EIO;
	if (nonce_mac(n, raw, raw + 16) < 0)
		return -EIO;
	to_hex(raw, sizeof(raw), out);
	return 0;
}

int sp_nonce_check(const struct sp_nonce_ctx *n, const char *nonce, int64_t now)
{
	uint8_t raw[24], mac[8];
	if (strlen(nonce) != SP_NONCE_LEN || from_hex(nonce, raw, sizeof(raw)) < 0)
		return -EINVAL;
	if (nonce_mac(n, raw, mac) < 0 || CRYPTO_memcmp(mac, raw + 16, 8))
		return -EINVAL;
	uint64_t t = 0;
	for (int i = 0; i < 8; i++)
		t = (t << 8) | raw[i];
	if ((int64_t)t > now + 5)
		return -EINVAL;
	if (now - (int64_t)t > (int64_t)n->ttl_s)
		return -ESTALE;
	return 0;
}

/* A slot: the nonce by a keyed 64-bit hash (0: empty), not its 48 characters, so a slot is
 * 24 bytes; two live nonces sharing a hash (about n^2 / 2^65 over n live ones) would share
 * a count. */
struct nc_entry {
	uint64_t key;
	int64_t expires;
	uint32_t nc;
};
struct sp_nc_table {
	size_t cap, max_cap;
	uint64_t seed;
	struct nc_entry *e;
};

#define NC_WINDOW 64 /* slots probed from a nonce's home slot */

struct sp_nc_table *sp_nc_table_new(size_t capacity, size_t max_capacity)
{
	struct sp_nc_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->cap = capacity < 16 ? 16 : capacity;
	t->max_cap = max_capacity < t->cap ? t->cap : max_capacity;
	t->e = calloc(t->cap, sizeof(*t->e));
	if (!t->e || RAND_bytes((unsigned char *)&t->seed, sizeof(t->seed)) != 1) {
		free(t->e);
		free(t);
		return NULL;
	}
	return t;
}

void sp_nc_table_free(struct sp_nc_table *t)
{
	if (t) {
		free(t->e);
		free(t);
	}
}

size_t sp_nc_table_slots(const struct sp_nc_table *t)
{
	return t->cap;
}

static uint64_t nc_key(const struct sp_nc_table *t, const char *s)
{
	uint64_t h = 1469598103934665603ULL ^ t->seed;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	/* splitmix64's finalizer: every bit of the text reaches the low bits the slot uses */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h ? h : 1;
}

/* The live slots of t into a table of cap slots, each within its window; false when one
 * does not fit (the caller tries twice the size). */
static bool nc_rehash(const struct sp_nc_table *t, struct nc_entry *to, size_t cap, int64_t now)
{
	for (size_t i = 0; i < t->cap; i++) {
		const struct nc_entry *x = &t->e[i];
		if (!x->key || x->expires < now)
			continue;
		size_t h = x->key % cap, j;
		for (j = 0; j < NC_WINDOW && j < cap && to[(h + j) % cap].key; j++)
			;
		if (j == NC_WINDOW || j == cap)
			return false;
		to[(h + j) % cap] = *x;
	}
	return true;
}

/* Doubles t (or more, until every live slot fits its window), up to max_cap. */
static int nc_grow(struct sp_nc_table *t, int64_t now)
{
	for (size_t cap = t->cap * 2; cap <= t->max_cap; cap *= 2) {
		struct nc_entry *e = calloc(cap, sizeof(*e));
		if (!e)
			return -ENOMEM;
		if (nc_rehash(t, e, cap, now)) {
			free(t->e);
			t->e = e;
			t->cap = cap;
			return 0;
		}
		free(e);
	}
	return -ENOSPC;
}

int sp_nc_check(struct sp_nc_table *t, const char *nonce, const char *nc, int64_t now,
		int64_t expires)
{
	if (strlen(nc) != 8 || strlen(nonce) > SP_NONCE_LEN)
		return -EINVAL;
	char *e;
	unsigned long v = strtoul(nc, &e, 16);
	if (*e || v == 0)
		return -EINVAL;
	uint64_t key = nc_key(t, nonce);
	for (;;) {
		/* Probe a bounded window; expired slots are reusable. */
		size_t h = key % t->cap, free_slot = (size_t)-1;
		for (size_t i = 0; i < NC_WINDOW && i < t->cap; i++) {
			struct nc_entry *x = &t->e[(h + i) % t->cap];
			bool dead = !x->key || x->expires < now;
			if (!dead && x->key == key) {
				if (v <= x->nc)
					return -EALREADY;
				x->nc = (uint32_t)v;
				return 0;
			}
			if (dead && free_slot == (size_t)-1)
				free_slot = (h + i) % t->cap;
		}
		if (free_slot != (size_t)-1) {
			struct nc_entry *x = &t->e[free_slot];
			x->key = key;
			x->nc = (uint32_t)v;
			x->expires = expires;
			return 0;
		}
		int rc = nc_grow(t, now); /* a full window: room for more nonces in flight */
		if (rc < 0)
			return rc;
	}
}

int sp_unquote(char *dst, size_t len, const char *s)
{
	if (!s) {
		if (len)
			dst[0] = '\0';
		return 0;
	}
	size_t n = strlen(s);
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		s++;
		n -= 2;
	}
	if (n >= len)
		return -EINVAL;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

int sp_digest_challenge(char *out, size_t len, const char *header, const char *realm,
			const char *nonce, bool stale, const int *algs, unsigned n)
{
	size_t off = 0;
	if (!n)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		int w = snprintf(
		    out + off, len - off,
		    "%s: Digest realm=\"%s\", nonce=\"%s\", algorithm=%s, qop=\"auth\"%s\r\n",
		    header, realm, nonce, sp_digest_alg_name((enum sp_digest_alg)algs[i]),
		    stale ? ", stale=true" : "");
		if (w < 0 || (size_t)w >= len - off)
			return -ENOSPC;
		off += (size_t)w;
	}
	return 0;
}
