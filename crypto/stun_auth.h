/* crypto/stun_auth.h — STUN/TURN message integrity, fingerprint, long-term keys (RFC 8489,
 * RFC 8656, RFC 8760) and TURN REST API credentials (draft-uberti-behave-turn-rest). */
#ifndef PR_CRYPTO_STUN_AUTH_H
#define PR_CRYPTO_STUN_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* CRC-32 (ISO-HDLC) of msg XOR 0x5354554e, for the FINGERPRINT attribute. */
uint32_t pr_stun_fingerprint(const void *msg, size_t len);
/* Plain CRC-32 (the same polynomial), exposed for tests. */
uint32_t pr_crc32(const void *data, size_t len);
void pr_hmac_sha1(const void *key, size_t klen, const void *data, size_t len, uint8_t out[20]);
void pr_hmac_sha256(const void *key, size_t klen, const void *data, size_t len, uint8_t out[32]);
/* TURN/SIP long-term keys: MD5(user ":" realm ":" pass) and SHA-256 of the same */
void pr_ha1_md5(const char *user, const char *realm, const char *pass, uint8_t out[16]);
void pr_ha1_sha256(const char *user, const char *realm, const char *pass, uint8_t out[32]);
void pr_hex_encode(const uint8_t *in, size_t len, char *out /* 2*len+1 */);
/* Decodes exactly strlen(hex)/2 bytes (even length, at most outlen). Bytes or -EINVAL. */
int pr_hex_decode(const char *hex, uint8_t *out, size_t outlen);
/* TURN REST API: username "expiry:user", password = base64(HMAC-SHA1(secret, username)).
 * Both return the string length, -ENOSPC if outlen is too small, -EINVAL on bad input. */
int pr_turn_rest_password(const char *secret, const char *username, char *out, size_t outlen);
int pr_turn_rest_username(time_t expiry, const char *user, char *out, size_t outlen);
/* Constant-time comparison: 0 when equal. */
int pr_ct_memcmp(const void *a, const void *b, size_t len);

/* Base64 (RFC 4648, with padding), shared with SDES. encode returns chars written (NUL
 * added) or -ENOSPC; decode returns bytes or -EINVAL / -ENOSPC. */
int pr_base64_encode(const uint8_t *in, size_t len, char *out, size_t outlen);
int pr_base64_decode(const char *in, size_t inlen, uint8_t *out, size_t outlen);

#endif
