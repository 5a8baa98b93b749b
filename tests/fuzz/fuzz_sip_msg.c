/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target for the slowpath's message entry point: stream framing of arbitrary
 * bytes, then parse of every framed message (and of the whole input as a datagram), then
 * the error or success response the slowpath would send. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "slowpath/sp_msg.h"

static void one(const char *p, size_t n)
{
	osip_message_t *m = NULL;
	int status;
	const char *why;
	int rc = sp_msg_parse(p, n, &m, &status, &why);
	if (!m)
		return;
	struct sp_buf b = {0};
	if (rc == -22 /* -EINVAL: answer status */ || (rc == 0 && MSG_IS_REQUEST(m))) {
		sp_msg_response(&b, m, rc ? status : 200, NULL, "fuzz", NULL, NULL, NULL, 0);
		size_t blen = 0;
		(void)sp_msg_body(m, &blen);
		(void)sp_msg_header(m, "user-agent");
		(void)sp_msg_branch(m);
		(void)sp_msg_from_tag(m);
		(void)sp_msg_to_tag(m);
	}
	sp_buf_free(&b);
	osip_message_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	if (!init) {
		sp_msg_init();
		init = 1;
	}
	const char *p = (const char *)data;
	size_t left = size;
	for (int i = 0; i < 8 && left; i++) {
		size_t skip;
		unsigned pings;
		int n = sp_msg_frame(p, left, &skip, &pings);
		if (n <= 0)
			break;
		one(p + skip, (size_t)n);
		p += skip + n;
		left -= skip + n;
	}
	one((const char *)data, size);
	return 0;
}
