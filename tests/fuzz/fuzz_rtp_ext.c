/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target for the RTP header extension parser (media_rtp_ext,
 * dataplane/media/media.h) the worker reads a BUNDLE member's MID with (RFC 8285's one-byte
 * and two-byte forms): any bytes as an RTP packet, every extension id.
 *
 * Invariants (__builtin_trap): without the X bit, id 0 or a packet shorter than a header
 * and an extension header, nothing is found; a value found lies inside the packet's
 * extension block (after the fixed header, the CSRCs and the block's own 4 bytes, within
 * the length the block declares and within the packet) and is introduced by its element
 * header: in the one-byte form (0xBEDE) id << 4 | length - 1 (1-16 bytes), in the two-byte
 * form (0x100X) the id byte then the length byte. The packet is copied into a buffer of its
 * exact size, so that AddressSanitizer catches a read past it. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/media/media.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > UINT16_MAX)
		return 0;
	uint16_t len = (uint16_t)size;
	uint8_t *p = malloc(size ? size : 1);
	if (!p)
		return 0;
	memcpy(p, data, size);
	for (unsigned id = 0; id < 256; id++) {
		uint8_t l = 0;
		const uint8_t *v = media_rtp_ext(p, len, (uint8_t)id, &l);
		if (!v)
			continue;
		if (!id || len < 16 || !(p[0] & 0x10))
			__builtin_trap();
		size_t off = 12 + 4u * (p[0] & 0x0f);
		if (off + 4 > len)
			__builtin_trap();
		size_t end = off + 4 + 4u * (size_t)(p[off + 2] << 8 | p[off + 3]);
		bool one = p[off] == 0xBE && p[off + 1] == 0xDE;
		bool two = p[off] == 0x10 && (p[off + 1] & 0xf0) == 0;
		if (end > len || (!one && !two))
			__builtin_trap();
		if (v < p + off + 4 + (one ? 1 : 2) || v + l > p + end)
			__builtin_trap();
		if (one && (l < 1 || l > 16 || (v[-1] >> 4) != id || (v[-1] & 0x0f) + 1 != l))
			__builtin_trap();
		if (two && (v[-2] != id || v[-1] != l))
			__builtin_trap();
	}
	free(p);
	return 0;
}
