/* tests/fuzz/fuzz_srtp_unprotect.c — unprotect arbitrary bytes with fixed contexts.
 * Input byte 0 picks the case: bits 0-1 profile (0,3 -> SHA1_80), bit 2 RTCP, bit 3 the
 * libsrtp backend, bit 4 a context with a 4-byte MKI, bit 5 (ipsecmb) SRTCP with E = 0
 * allowed. The rest is the packet, copied into
 * an exact-size heap buffer so any read past it is caught. Invariants checked: a failed
 * packet is byte-for-byte unchanged and keeps its length; an accepted one only shrinks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/srtp.h"

static struct pr_srtp_ctx *ctxs[64];

static const uint8_t MK[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t MS[14] = {0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26,
			       0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d};

static void init(void)
{
	for (unsigned i = 0; i < 64; i++) {
		unsigned prof = (i & 3) == 0 || (i & 3) == 3 ? 1 : (i & 3);
		struct pr_srtp_params p = {
		    .profile = (enum pr_srtp_profile)prof,
		    .backend = (i & 8) ? PR_SRTP_BACKEND_LIBSRTP : PR_SRTP_BACKEND_IPSECMB,
		    .direction = PR_SRTP_RECEIVER,
		    .any_ssrc = 1,
		    .master_key = MK,
		    .master_salt = MS,
		    .mki = (i & 16) ? 0x01020304 : 0,
		    .mki_len = (i & 16) ? 4 : 0,
		    .allow_unencrypted_srtcp = (i & 32) && !(i & 8),
		};
		if (pr_srtp_ctx_create(&p, &ctxs[i]) != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	uint8_t *buf;
	size_t len;
	struct pr_srtp_pkt p;
	struct pr_srtp_ctx *c;

	if (!ready) {
		init();
		ready = 1;
	}
	if (size < 1 || size > 65535 + 1)
		return 0;
	c = ctxs[data[0] & 63];
	len = size - 1;
	buf = malloc(len ? len : 1);
	memcpy(buf, data + 1, len);
	p = (struct pr_srtp_pkt){buf, (uint16_t)len, (uint16_t)len, 0xff};
	if (data[0] & 4)
		pr_srtcp_unprotect_burst(c, &p, 1);
	else
		pr_srtp_unprotect_burst(c, &p, 1);
	if (p.result >= PR_SRTP_RESULT_COUNT)
		abort();
	if (p.result != PR_SRTP_OK && (p.len != len || memcmp(buf, data + 1, len) != 0))
		abort(); /* a failed packet must come back untouched */
	if (p.result == PR_SRTP_OK && p.len >= len)
		abort();
	free(buf);
	return 0;
}
