/* SPDX-License-Identifier: BSD-3-Clause */
/* TURN over a stream (RFC 8656 12.5, RFC 6062's framing for TCP and TLS clients): the
 * boundaries of STUN messages and ChannelData in the bytes a TCP or TLS connection
 * delivers. A STUN message starts with two zero bits and carries its length (a multiple of
 * 4) after the 20-byte header; a ChannelData starts with 01 (channel 0x4000-0x7FFF), carries
 * its data length, and is padded to a multiple of 4 on a stream. Anything else cannot be
 * resynchronised: the connection must close. */
#ifndef POPRELAY_SLOWPATH_TF_FRAME_H
#define POPRELAY_SLOWPATH_TF_FRAME_H

#include <stddef.h>
#include <stdint.h>

enum {
	TF_FRAME_BAD = -1,	/* first bits 10 or 11, or a STUN length not a multiple of 4 */
	TF_FRAME_TOO_LONG = -2, /* longer than max bytes */
};

/* The next message of a stream that holds n bytes, whose first 4 are p[0..3] (only those
 * are read, so a caller may pass a copy of the header alone): *wire (bytes it takes on the stream,
 * padding included) and *msg (bytes of the message itself: a ChannelData without its padding). 1:
 * complete; 0: more bytes needed; TF_FRAME_BAD or TF_FRAME_TOO_LONG. max bounds *msg. */
int tf_frame(const uint8_t *p, size_t n, size_t max, size_t *wire, size_t *msg);

#endif
