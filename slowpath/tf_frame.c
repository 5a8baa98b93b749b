/* SPDX-License-Identifier: BSD-3-Clause */
#include "slowpath/tf_frame.h"

int tf_frame(const uint8_t *p, size_t n, size_t max, size_t *wire, size_t *msg)
{
	size_t len, pad;

	if (n < 4)
		return 0;
	len = (size_t)p[2] << 8 | p[3];
	switch (p[0] >> 6) {
	case 0: /* STUN: 20-byte header + length, a multiple of 4 */
		if (len & 3)
			return TF_FRAME_BAD;
		len += 20;
		pad = 0;
		break;
	case 1: /* ChannelData: 4-byte header + data, padded to 4 on a stream */
		len += 4;
		pad = (4 - (len & 3)) & 3;
		break;
	default:
		return TF_FRAME_BAD;
	}
	if (len > max)
		return TF_FRAME_TOO_LONG;
	if (n < len + pad)
		return 0;
	*msg = len;
	*wire = len + pad;
	return 1;
}
