/* crypto/sdes.h — SDES a=crypto attribute (RFC 4568) parse, format and key generation. */
#ifndef PR_CRYPTO_SDES_H
#define PR_CRYPTO_SDES_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/srtp.h"

struct pr_sdes_crypto {
	unsigned tag; /* 1..999999999 */
	enum pr_srtp_profile profile;
	uint8_t key[16];
	uint8_t salt[14];  /* 12 used for GCM */
	uint64_t lifetime; /* 0 = not given */
	uint32_t mki;
	unsigned mki_len; /* 0 = no MKI, else 1..4 (bytes on the wire) */
};

/* value is what follows "a=crypto:", e.g. "1 AES_CM_128_HMAC_SHA1_80 inline:BASE64|2^31|1:1".
 * 0 on success; -EINVAL for malformed input; -ENOTSUP for a well-formed attribute we do
 * not support (unknown suite, session parameters, several key params, MKI > 4 bytes).
 * On error *out is wiped. */
int pr_sdes_parse(const char *value, struct pr_sdes_crypto *out);
/* Writes the attribute value (no "a=crypto:" prefix, no CRLF). Number of chars written
 * (excluding the NUL), -ENOSPC if len is too small, -EINVAL for a bad struct. */
int pr_sdes_format(const struct pr_sdes_crypto *c, char *buf, size_t len);
/* Fresh key and salt from the OS CSPRNG; lifetime 0, no MKI. 0, -EINVAL or -EIO. */
int pr_sdes_generate(struct pr_sdes_crypto *c, unsigned tag, enum pr_srtp_profile p);
/* Zeroes the whole struct in a way the compiler cannot drop. */
void pr_sdes_wipe(struct pr_sdes_crypto *c);

#endif
