/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer: any bytes as a channel record between the dataplane and poprelay-dtls
 * (common/dtls_chan.h), in both directions, and any text as an SDP fingerprint. A message
 * that parses has lengths inside what was read and its header as read (72 bytes, our
 * fingerprint for the leg last); a fingerprint that parses writes back the
 * same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/dtls_chan.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct pr_frec h;
	struct pr_dtls_msg m;
	uint8_t p[PR_FRING_MAX_MSG];

	if (n < sizeof(h) + 1)
		return 0;
	memcpy(&h, d + 1, sizeof(h));
	uint32_t len = (uint32_t)(n - sizeof(h) - 1);
	if (len > sizeof(p))
		len = sizeof(p);
	memcpy(p, d + 1 + sizeof(h), len);
	if (d[0] & 1)
		h.len = (uint16_t)len; /* mostly honest lengths, so the fields are reached */
	if (pr_dtls_msg_parse(&h, p, len, d[0] & 2, &m) == 0) {
		if (m.data < p || m.data + m.len > p + len)
			abort();
		if (m.h.type == PR_DTLS_KEYS && m.len != 2 * pr_dtls_keysalt_len(m.h.profiles))
			abort();
		/* the header (our fingerprint for the leg included) is what was read, whole */
		if (m.data != p + sizeof(m.h) || memcmp(&m.h, p, sizeof(m.h)))
			abort();
	}
	char t[256];
	uint8_t f[PR_DTLS_FPR_LEN], g[PR_DTLS_FPR_LEN];
	size_t tl = n < sizeof(t) - 1 ? n : sizeof(t) - 1;
	memcpy(t, d, tl);
	t[tl] = 0;
	if (pr_dtls_fpr_parse(t, f) == 0) {
		char w[110];
		pr_dtls_fpr_format(f, w);
		if (pr_dtls_fpr_parse(w, g) != 0 || memcmp(f, g, sizeof(f)))
			abort();
	}
	return 0;
}
