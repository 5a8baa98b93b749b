/* SPDX-License-Identifier: BSD-3-Clause */
/* The stream framer (slowpath/tf_frame.h, RFC 8656 12.5): STUN messages by their length,
 * a STUN length that is not a multiple of 4 refused, ChannelData padded to 4 on the stream
 * (padding 0-3, the message given without it), too long refused from the first 4 bytes,
 * more bytes needed until the whole message and its padding are there, first bits 10 and 11
 * refused. */
#include <CUnit/Basic.h>
#include <string.h>

#include "slowpath/tf_frame.h"

#define MAX 1500

static uint8_t buf[70000];

/* A stream that starts with the 4 bytes b0 b1 and a 16-bit length. */
static void head(uint8_t b0, uint8_t b1, uint16_t len)
{
	memset(buf, 0x5A, sizeof(buf));
	buf[0] = b0;
	buf[1] = b1;
	buf[2] = (uint8_t)(len >> 8);
	buf[3] = (uint8_t)len;
}

static void stun(void)
{
	size_t wire = 0, msg = 0;

	head(0x00, 0x01, 0); /* a Binding request without attributes: the header alone */
	for (size_t n = 0; n < 20; n++)
		CU_ASSERT_EQUAL(tf_frame(buf, n, MAX, &wire, &msg), 0);
	CU_ASSERT_EQUAL(tf_frame(buf, 20, MAX, &wire, &msg), 1);
	CU_ASSERT_EQUAL(wire, 20);
	CU_ASSERT_EQUAL(msg, 20);

	head(0x00, 0x03, 88); /* an Allocate request */
	CU_ASSERT_EQUAL(tf_frame(buf, 107, MAX, &wire, &msg), 0);
	CU_ASSERT_EQUAL(tf_frame(buf, 108, MAX, &wire, &msg), 1);
	CU_ASSERT_EQUAL(wire, 108);
	CU_ASSERT_EQUAL(msg, 108);
	wire = msg = 0; /* the next message's bytes behind it change nothing */
	CU_ASSERT_EQUAL(tf_frame(buf, 4000, MAX, &wire, &msg), 1);
	CU_ASSERT_EQUAL(wire, 108);
	CU_ASSERT_EQUAL(msg, 108);

	/* every first byte 0x00-0x3F is STUN (a method's high bits, not a channel) */
	head(0x3F, 0xFF, 4);
	CU_ASSERT_EQUAL(tf_frame(buf, 24, MAX, &wire, &msg), 1);
	CU_ASSERT_EQUAL(wire, 24);

	/* only the first 4 bytes are read: a copy of the header alone is enough */
	uint8_t h4[4] = {0x01, 0x01, 0x00, 0x0c};
	CU_ASSERT_EQUAL(tf_frame(h4, 32, MAX, &wire, &msg), 1);
	CU_ASSERT_EQUAL(msg, 32);
}

static void stun_length_not_multiple_of_4(void)
{
	size_t wire, msg;
	for (uint16_t len = 1; len < 64; len++) {
		if (!(len & 3))
			continue;
		head(0x00, 0x01, len);
		CU_ASSERT_EQUAL(tf_frame(buf, 20 + len, MAX, &wire, &msg), TF_FRAME_BAD);
		/* known from the header alone: no waiting for the rest */
		CU_ASSERT_EQUAL(tf_frame(buf, 4, MAX, &wire, &msg), TF_FRAME_BAD);
	}
}

static void channeldata_padding(void)
{
	size_t wire, msg;
	/* data lengths 0..11: padding 0, 3, 2, 1, 0, ... */
	for (uint16_t len = 0; len < 12; len++) {
		size_t m = 4 + len, pad = (4 - (len & 3)) & 3;
		head(0x40, 0x00, len);
		CU_ASSERT_EQUAL(tf_frame(buf, 3, MAX, &wire, &msg), 0);
		for (size_t n = 4; n < m + pad; n++)
			CU_ASSERT_EQUAL(tf_frame(buf, n, MAX, &wire, &msg), 0); /* padding too */
		wire = msg = 0;
		CU_ASSERT_EQUAL(tf_frame(buf, m + pad, MAX, &wire, &msg), 1);
		CU_ASSERT_EQUAL(msg, m);
		CU_ASSERT_EQUAL(wire, m + pad);
		CU_ASSERT_EQUAL(wire % 4, 0);
	}
	/* channels up to 0x7FFF (RFC 5766's range included) */
	head(0x7F, 0xFF, 5);
	CU_ASSERT_EQUAL(tf_frame(buf, 12, MAX, &wire, &msg), 1);
	CU_ASSERT_EQUAL(msg, 9);
	CU_ASSERT_EQUAL(wire, 12);
}

static void too_long(void)
{
	size_t wire, msg;

	head(0x00, 0x01, MAX - 20); /* exactly max */
	CU_ASSERT_EQUAL(tf_frame(buf, MAX, MAX, &wire, &msg), 1);
	head(0x00, 0x01, MAX - 20 + 4);
	CU_ASSERT_EQUAL(tf_frame(buf, MAX + 4, MAX, &wire, &msg), TF_FRAME_TOO_LONG);
	/* known from the header: a 64 KiB length is refused before a byte more arrives */
	head(0x00, 0x01, 0xFFFC);
	CU_ASSERT_EQUAL(tf_frame(buf, 4, MAX, &wire, &msg), TF_FRAME_TOO_LONG);
	CU_ASSERT_EQUAL(tf_frame(buf, 4, 70000, &wire, &msg), 0); /* a big enough max waits */
	CU_ASSERT_EQUAL(tf_frame(buf, 20 + 0xFFFC, 70000, &wire, &msg), 1);
	CU_ASSERT_EQUAL(msg, 20 + 0xFFFC);

	/* ChannelData: max bounds the message, not its padding */
	head(0x40, 0x01, MAX - 4); /* message exactly max */
	CU_ASSERT_EQUAL(tf_frame(buf, MAX, MAX, &wire, &msg), 1);
	head(0x40, 0x01, MAX - 4 - 1); /* max - 1 bytes, padded to max + 0 */
	CU_ASSERT_EQUAL(tf_frame(buf, MAX, MAX, &wire, &msg), 1);
	CU_ASSERT_EQUAL(msg, MAX - 1);
	CU_ASSERT_EQUAL(wire, MAX);
	head(0x40, 0x01, MAX - 4 + 1);
	CU_ASSERT_EQUAL(tf_frame(buf, 4, MAX, &wire, &msg), TF_FRAME_TOO_LONG);
	head(0x40, 0x01, 0xFFFF);
	CU_ASSERT_EQUAL(tf_frame(buf, 4, MAX, &wire, &msg), TF_FRAME_TOO_LONG);
}

static void first_bits_10_11(void)
{
	size_t wire, msg;
	const uint8_t firsts[] = {0x80, 0x81, 0xBF, 0xC0, 0xEF, 0xFF};
	for (size_t i = 0; i < sizeof(firsts); i++) {
		head(firsts[i], 0x00, 8);
		CU_ASSERT_EQUAL(tf_frame(buf, 4, MAX, &wire, &msg), TF_FRAME_BAD);
		CU_ASSERT_EQUAL(tf_frame(buf, 100, MAX, &wire, &msg), TF_FRAME_BAD);
	}
	/* an RTP header (version 2) sent straight on the stream */
	memcpy(buf, "\x80\x00\x00\x08", 4);
	CU_ASSERT_EQUAL(tf_frame(buf, 64, MAX, &wire, &msg), TF_FRAME_BAD);
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite("tf_frame", NULL, NULL);
	CU_add_test(s, "STUN lengths, need more", stun);
	CU_add_test(s, "STUN length not a multiple of 4", stun_length_not_multiple_of_4);
	CU_add_test(s, "ChannelData padding 0-3", channeldata_padding);
	CU_add_test(s, "too long", too_long);
	CU_add_test(s, "first bits 10 and 11", first_bits_10_11);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
