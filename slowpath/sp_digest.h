/* SPDX-License-Identifier: BSD-3-Clause */
/* SIP digest authentication (RFC 3261 22, RFC 7616, RFC 8760: MD5 and SHA-256, qop=auth),
 * self-validating nonces (timestamp + random + HMAC) and nonce-count replay tracking.
 * Writer of the nonce-count table: the slowpath's event loop only. */
#ifndef POPRELAY_SLOWPATH_SP_DIGEST_H
#define POPRELAY_SLOWPATH_SP_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

enum sp_digest_alg { SP_DIGEST_MD5 = 1, SP_DIGEST_SHA256 = 2 };

#define SP_DIGEST_HEX_MAX 65 /* SHA-256 hex + NUL */
#define SP_NONCE_LEN	  48 /* hex characters */

/* hex(H(data)) into out (SP_DIGEST_HEX_MAX). 0 or -EINVAL. */
int sp_digest_hash_hex(enum sp_digest_alg alg, const char *data, size_t len, char *out);
/* HA1 = H(user:realm:password). */
int sp_digest_ha1(enum sp_digest_alg alg, const char *user, const char *realm, const char *password,
		  char *out);
/* response = H(HA1:nonce:nc:cnonce:qop:H(method:uri)) for qop=auth, or
 * H(HA1:nonce:H(method:uri)) when qop is NULL (RFC 2069 compatibility). */
int sp_digest_response(enum sp_digest_alg alg, const char *ha1, const char *method, const char *uri,
		       const char *nonce, const char *nc, const char *cnonce, const char *qop,
		       char *out);
/* Constant-time comparison of two hex digests (case-insensitive). */
bool sp_digest_equal(const char *a, const char *b);
const char *sp_digest_alg_name(enum sp_digest_alg alg);
/* "MD5" (or absent) / "SHA-256" -> alg; -ENOTSUP otherwise. */
int sp_digest_alg_parse(const char *name);

/* n (at most 64) random bytes from OpenSSL's DRBG, drawn 1 KiB at a time into a pool: each
 * RAND_bytes call takes the DRBG's lock and a getpid() (its fork check), and every response
 * wants a tag, every challenge a nonce. The slowpath never forks. 0 or -EIO. */
int sp_random(void *out, size_t n);

/* Nonces: hex(ts[8] | rand[8] | HMAC-SHA256(secret, ts|rand)[8]). */
struct sp_nonce_ctx {
	uint8_t secret[32];
	uint32_t ttl_s;
	/* HMAC keyed with secret, set up by sp_nonce_init and restarted per nonce: HMAC() would
	 * look the algorithms up and set the key again every time. Free with sp_nonce_free. */
	EVP_MAC_CTX *mac;
};
int sp_nonce_init(struct sp_nonce_ctx *n, uint32_t ttl_s);
void sp_nonce_free(struct sp_nonce_ctx *n);
int sp_nonce_make(const struct sp_nonce_ctx *n, int64_t now, char out[SP_NONCE_LEN + 1]);
/* 0 valid, -ESTALE authentic but older than ttl, -EINVAL forged or malformed. */
int sp_nonce_check(const struct sp_nonce_ctx *n, const char *nonce, int64_t now);

/* Replay table: remembers the highest nonce-count used with each nonce until it expires.
 * capacity slots at first; a nonce whose window of slots is full doubles the table, up to
 * max_capacity (24 bytes a slot). Every nonce used takes a slot until it expires
 * (nonce_ttl_s + 60 s): SP_NC_MAX_SLOTS (48 MiB) holds the nonces of about 4,000 fresh
 * challenges answered a second with the default nonce_ttl_s; 65,536 slots, the size it had
 * before it could grow, filled at about 45,000 and refused every new nonce for 6 minutes. */
#define SP_NC_MAX_SLOTS (2u << 20)
struct sp_nc_table;
struct sp_nc_table *sp_nc_table_new(size_t capacity, size_t max_capacity);
void sp_nc_table_free(struct sp_nc_table *t);
size_t sp_nc_table_slots(const struct sp_nc_table *t);
/* Accepts nc (8 hex digits) for nonce when it is higher than any seen before: 0; a replay
 * (same or lower nc): -EALREADY; malformed nc: -EINVAL; table full at its largest: -ENOSPC;
 * no memory to grow: -ENOMEM. */
int sp_nc_check(struct sp_nc_table *t, const char *nonce, const char *nc, int64_t now,
		int64_t expires);

/* Authorization / Proxy-Authorization fields, unquoted. */
struct sp_auth {
	char username[64];
	char realm[64];
	char nonce[80];
	char uri[256];
	char response[SP_DIGEST_HEX_MAX];
	char algorithm[16];
	char cnonce[80];
	char nc[16];
	char qop[16];
};
/* Copies s into dst (len) removing one level of double quotes. -EINVAL if too long. */
int sp_unquote(char *dst, size_t len, const char *s);

/* Challenge header lines (complete, CRLF-terminated) for header ("WWW-Authenticate" or
 * "Proxy-Authenticate"), one per algorithm of algs[0..n) in that order, qop="auth". */
int sp_digest_challenge(char *out, size_t len, const char *header, const char *realm,
			const char *nonce, bool stale, const int *algs, unsigned n);

#endif
