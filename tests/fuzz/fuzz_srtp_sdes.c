/* tests/fuzz/fuzz_srtp_sdes.c — SDES a=crypto values (they come from untrusted SDP) into
 * pr_sdes_parse. Invariants: only 0, -EINVAL or -ENOTSUP; on error the struct is wiped;
 * an accepted value formats back and re-parses to the same struct. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sdes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pr_sdes_crypto a, b;
	char *s, out[256];
	int rc, n;

	if (size > 4096)
		return 0;
	s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = 0;
	memset(&a, 0x5a, sizeof(a));
	rc = pr_sdes_parse(s, &a);
	if (rc != 0 && rc != -EINVAL && rc != -ENOTSUP)
		abort();
	if (rc != 0) {
		const uint8_t *p = (const uint8_t *)&a;
		for (size_t i = 0; i < sizeof(a); i++)
			if (p[i])
				abort(); /* key bytes left behind */
	} else {
		n = pr_sdes_format(&a, out, sizeof(out));
		if (n <= 0 || pr_sdes_parse(out, &b) != 0 || memcmp(&a, &b, sizeof(a)) != 0)
			abort();
	}
	free(s);
	return 0;
}
