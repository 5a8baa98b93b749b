/* SPDX-License-Identifier: BSD-3-Clause */
/* libsrtp2's view of our profiles: one mapping for the libsrtp backend and for the tests
 * and benchmarks that drive libsrtp2 directly as the reference. */
#ifndef POPRELAY_CRYPTO_SRTP_LIBSRTP_H
#define POPRELAY_CRYPTO_SRTP_LIBSRTP_H

#include <srtp2/srtp.h>

#include "crypto/srtp.h"

/* Sets pol->rtp and pol->rtcp for profile p (SRTCP of AES_CM_128_HMAC_SHA1_32 keeps an
 * 80-bit tag, RFC 3711 / RFC 5764 practice). 0, or -EINVAL for an unknown profile. */
int pr_srtp_libsrtp_policy(enum pr_srtp_profile p, srtp_policy_t *pol);

#endif
