/* SPDX-License-Identifier: BSD-3-Clause */
/* The STUN client side the TURN load generators share (allocgen.c, tcpgen.c): attribute
 * writing, answer parsing, the long-term credential (the key from the first 401's REALM) and
 * HMAC-SHA1 with the key's pads hashed once (every message uses the same key: two digest
 * copies per MAC instead of OpenSSL's per-call key setup). Include once, in one program; its
 * name goes in STUN_CLIENT_PROG for the error message. */
#ifndef POPRELAY_BENCH_STUN_CLIENT_H
#define POPRELAY_BENCH_STUN_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <openssl/evp.h>

#include "crypto/stun_auth.h"

#define COOKIE	      0x2112A442u
#define M_ALLOCATE    0x0003
#define A_USERNAME    0x0006
#define A_MI	      0x0008
#define A_ERROR	      0x0009
#define A_REALM	      0x0014
#define A_NONCE	      0x0015
#define A_XOR_RELAYED 0x0016
#define A_REQ_TRANS   0x0019
#define A_FINGERPRINT 0x8028
#define MSG_MAX	      1280
#define NONCE_MAX     128
#define REALM_MAX     128

static const char *user, *pass;
static char realm[REALM_MAX];
static uint8_t key[16];
static bool have_key;
static EVP_MD_CTX *hm_in, *hm_out, *hm_tmp;

static void hmac_init(void)
{
	uint8_t ipad[64], opad[64];
	memset(ipad, 0x36, sizeof(ipad));
	memset(opad, 0x5c, sizeof(opad));
	for (int i = 0; i < 16; i++) {
		ipad[i] ^= key[i];
		opad[i] ^= key[i];
	}
	if (!hm_in) {
		hm_in = EVP_MD_CTX_new();
		hm_out = EVP_MD_CTX_new();
		hm_tmp = EVP_MD_CTX_new();
	}
	if (!hm_in || !hm_out || !hm_tmp || !EVP_DigestInit_ex(hm_in, EVP_sha1(), NULL) ||
	    !EVP_DigestUpdate(hm_in, ipad, 64) || !EVP_DigestInit_ex(hm_out, EVP_sha1(), NULL) ||
	    !EVP_DigestUpdate(hm_out, opad, 64)) {
		fprintf(stderr, "%s: EVP SHA-1 unavailable\n", STUN_CLIENT_PROG);
		exit(2);
	}
}

static void hmac(const void *data, size_t len, uint8_t out[20])
{
	uint8_t inner[20];
	unsigned int l;
	EVP_MD_CTX_copy_ex(hm_tmp, hm_in);
	EVP_DigestUpdate(hm_tmp, data, len);
	EVP_DigestFinal_ex(hm_tmp, inner, &l);
	EVP_MD_CTX_copy_ex(hm_tmp, hm_out);
	EVP_DigestUpdate(hm_tmp, inner, 20);
	EVP_DigestFinal_ex(hm_tmp, out, &l);
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage r;
	getrusage(RUSAGE_SELF, &r);
	return (double)r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + (double)r.ru_stime.tv_sec +
	       r.ru_stime.tv_usec / 1e6;
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static size_t attr(uint8_t *m, size_t off, uint16_t type, const void *v, size_t len)
{
	wr16(m + off, type);
	wr16(m + off + 2, (uint16_t)len);
	memcpy(m + off + 4, v, len);
	size_t pad = (4 - len % 4) % 4;
	memset(m + off + 4 + len, 0, pad);
	return off + 4 + len + pad;
}

struct parsed {
	int code; /* 0: success */
	const uint8_t *nonce, *realm, *mi;
	size_t nonce_len, realm_len, mi_off;
	bool relayed;
};

static int parse(const uint8_t *m, size_t len, struct parsed *p)
{
	memset(p, 0, sizeof(*p));
	if (len < 20 || rd16(m + 2) + 20u != len)
		return -1;
	size_t off = 20;
	while (off + 4 <= len) {
		uint16_t t = rd16(m + off), l = rd16(m + off + 2);
		const uint8_t *v = m + off + 4;
		if (off + 4 + l > len)
			return -1;
		switch (t) {
		case A_ERROR:
			if (l >= 4)
				p->code = (v[2] & 7) * 100 + v[3];
			break;
		case A_NONCE:
			p->nonce = v, p->nonce_len = l;
			break;
		case A_REALM:
			p->realm = v, p->realm_len = l;
			break;
		case A_XOR_RELAYED:
			p->relayed = true;
			break;
		case A_MI:
			if (l == 20)
				p->mi = v, p->mi_off = off;
			break;
		}
		off += 4 + l + (4 - l % 4) % 4;
	}
	return 0;
}

/* MESSAGE-INTEGRITY of an answer: over the message up to it, its length field covering it */
static bool mi_ok(const uint8_t *m, const struct parsed *p)
{
	uint8_t buf[MSG_MAX], mac[20];
	if (!p->mi || p->mi_off > sizeof(buf))
		return false;
	memcpy(buf, m, p->mi_off);
	wr16(buf + 2, (uint16_t)(p->mi_off + 24 - 20));
	hmac(buf, p->mi_off, mac);
	return memcmp(mac, p->mi, 20) == 0;
}

/* A 401's NONCE into nonce (NONCE_MAX bytes), and the long-term key from its REALM the first
 * time (or when the realm changes). false when either is missing or too long. */
static bool take_nonce(char *nonce, const struct parsed *p)
{
	if (!p->nonce || p->nonce_len >= NONCE_MAX || !p->realm || p->realm_len >= REALM_MAX)
		return false;
	memcpy(nonce, p->nonce, p->nonce_len);
	nonce[p->nonce_len] = 0;
	if (!have_key || strlen(realm) != p->realm_len || memcmp(realm, p->realm, p->realm_len)) {
		memcpy(realm, p->realm, p->realm_len);
		realm[p->realm_len] = 0;
		pr_ha1_md5(user, realm, pass, key);
		hmac_init();
		have_key = true;
	}
	return true;
}

#endif
