/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: TURN over TCP and TLS, both parsers that read what the other side wrote.
 *  - The stream framer (slowpath/tf_frame.c) over the input as the bytes a connection
 *    delivered, split at every message boundary it reports, with a cap from the first byte:
 *    every message it accepts lies inside the input, a ChannelData's padding included.
 *  - The ring consumer (common/fring.h), as the dataplane runs it on a ring the front (an
 *    untrusted process) filled: the input is the ring's bytes and its head and tail. It
 *    must return records that lie inside the ring, or refuse, never read past it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/fring.h"
#include "slowpath/tf_frame.h"

#define RING 4096

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	size_t off = 0, max = n ? 548 + (size_t)d[0] * 16 : 548;
	while (off < n) {
		size_t wire = 0, msg = 0;
		int rc = tf_frame(d + off, n - off, max, &wire, &msg);
		if (rc <= 0)
			break;
		if (msg > max || wire < msg || wire - msg > 3 || off + wire > n)
			abort();
		off += wire;
	}

	static uint8_t mem[sizeof(struct pr_fring) + RING];
	struct pr_fring *r = (struct pr_fring *)mem;
	uint8_t buf[PR_FRING_MAX_MSG];
	struct pr_frec h;
	uint32_t head = 0, tail = 0;
	if (n >= 8) {
		memcpy(&head, d, 4);
		memcpy(&tail, d + 4, 4);
	}
	memset(r->data, 0, RING);
	memcpy(r->data, n > 8 ? d + 8 : d, n > 8 ? (n - 8 < RING ? n - 8 : RING) : 0);
	r->head = head;
	r->tail = tail;
	for (int i = 0; i < 64; i++) {
		int rc = pr_fring_get(r, RING, &h, buf, sizeof(buf));
		if (rc <= 0)
			break;
		if (h.len > sizeof(buf))
			abort();
	}
	/* a producer on a ring the consumer's tail says anything about: stays inside it */
	memset(&h, 0, sizeof(h));
	h.kind = PR_FREC_MSG;
	pr_fring_put(r, RING, &h, d, (uint32_t)(n < 1000 ? n : 1000), NULL, 0);
	return 0;
}
