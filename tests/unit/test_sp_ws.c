/* SPDX-License-Identifier: BSD-3-Clause */
/* SIP over WebSocket's pure half (slowpath/sp_ws.h): the upgrade handshake (RFC 6455 4.2.1,
 * the RFC's own key/accept example, each refusal with its status, Origin allow-list, the
 * "sip" subprotocol of RFC 7118, a request cut anywhere waits for more, an endless one is
 * refused) and the framing (masked frames unmasked, unmasked ones, reserved bits and
 * opcodes 1002, fragmentation reassembled, over the limit 1009 from the header alone,
 * invalid UTF-8 1007, control frames, close codes, server headers). */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "slowpath/sp_ws.h"

static const char *const origins[] = {"https://app.example.com", "https://b.example.net"};

#define REQ_HEAD                                                                                   \
	"GET /sip HTTP/1.1\r\nHost: pop.example.com\r\nUpgrade: websocket\r\n"                     \
	"Connection: keep-alive, Upgrade\r\n"
/* the key and accept of RFC 6455 1.3 */
#define KEY "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

static struct sp_ws_upgrade hs(const char *req)
{
	struct sp_ws_upgrade u;
	size_t n = sp_ws_handshake(req, strlen(req), origins, 2, &u);
	CU_ASSERT_EQUAL(n, strlen(req));
	return u;
}

static void handshake_accept(void)
{
	const char *req = REQ_HEAD KEY "Sec-WebSocket-Version: 13\r\n"
				       "Sec-WebSocket-Protocol: chat, sip\r\n"
				       "origin: HTTPS://APP.example.com\r\n\r\n";
	struct sp_ws_upgrade u = hs(req);
	CU_ASSERT_EQUAL(u.refusal, SP_WS_ACCEPT);
	CU_ASSERT_STRING_EQUAL(u.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	char out[512];
	size_t n = sp_ws_handshake_answer(&u, out, sizeof(out));
	CU_ASSERT(n > 0);
	CU_ASSERT(!strncmp(out, "HTTP/1.1 101 ", 13));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(out, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Sec-WebSocket-Protocol: sip\r\n"));
	CU_ASSERT(n > 4 && !memcmp(out + n - 4, "\r\n\r\n", 4));
	CU_ASSERT_EQUAL(sp_ws_handshake_answer(&u, out, 40), 0);
}

static void handshake_refusals(void)
{
	struct {
		const char *req;
		enum sp_ws_refusal r;
		int status;
	} cases[] = {
	    {REQ_HEAD KEY "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n"
			  "Origin: https://evil.example.org\r\n\r\n",
	     SP_WS_REF_ORIGIN, 403},
	    {REQ_HEAD KEY "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n",
	     SP_WS_REF_ORIGIN, 403},
	    {REQ_HEAD KEY "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, sips\r\n"
			  "Origin: https://b.example.net\r\n\r\n",
	     SP_WS_REF_PROTOCOL, 400},
	    {REQ_HEAD KEY "Sec-WebSocket-Version: 13\r\nOrigin: https://b.example.net\r\n\r\n",
	     SP_WS_REF_PROTOCOL, 400},
	    {REQ_HEAD KEY "Sec-WebSocket-Version: 8\r\nSec-WebSocket-Protocol: sip\r\n"
			  "Origin: https://b.example.net\r\n\r\n",
	     SP_WS_REF_VERSION, 426},
	    {"POST /sip HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" KEY
	     "Sec-WebSocket-Version: 13\r\n\r\n",
	     SP_WS_REF_METHOD, 405},
	    {REQ_HEAD "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n"
		      "Origin: https://b.example.net\r\n\r\n",
	     SP_WS_REF_MALFORMED, 400}, /* no key */
	    {REQ_HEAD KEY KEY "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n"
			      "Origin: https://b.example.net\r\n\r\n",
	     SP_WS_REF_MALFORMED, 400}, /* two keys */
	    {REQ_HEAD "Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n"
		      "Sec-WebSocket-Protocol: sip\r\nOrigin: https://b.example.net\r\n\r\n",
	     SP_WS_REF_MALFORMED, 400}, /* a key of 5 bytes */
	    {"GET /sip HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n" KEY
	     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n"
	     "Origin: https://b.example.net\r\n\r\n",
	     SP_WS_REF_MALFORMED, 400}, /* no Upgrade */
	    {"GET /sip HTTP/1.0\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" KEY
	     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n"
	     "Origin: https://b.example.net\r\n\r\n",
	     SP_WS_REF_MALFORMED, 400},
	    {"GET /sip HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" KEY
	     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n"
	     "Origin: https://b.example.net\r\n\r\n",
	     SP_WS_REF_MALFORMED, 400}, /* no Host */
	    {"\x16\x03\x01\x02\x05\r\n\r\n", SP_WS_REF_MALFORMED, 400},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sp_ws_upgrade u = hs(cases[i].req);
		if (u.refusal != cases[i].r)
			printf("case %zu: refusal %d, expected %d\n", i, u.refusal, cases[i].r);
		CU_ASSERT_EQUAL(u.refusal, cases[i].r);
		CU_ASSERT_EQUAL(sp_ws_refusal_status(u.refusal), cases[i].status);
		char out[512], want[16];
		CU_ASSERT(sp_ws_handshake_answer(&u, out, sizeof(out)) > 0);
		snprintf(want, sizeof(want), "HTTP/1.1 %d ", cases[i].status);
		CU_ASSERT(!strncmp(out, want, strlen(want)));
		CU_ASSERT_PTR_NOT_NULL(strstr(out, "Connection: close\r\n"));
	}
	/* no allowed origins: every upgrade refused */
	const char *req =
	    REQ_HEAD KEY "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n"
			 "Origin: https://app.example.com\r\n\r\n";
	struct sp_ws_upgrade u;
	sp_ws_handshake(req, strlen(req), origins, 0, &u);
	CU_ASSERT_EQUAL(u.refusal, SP_WS_REF_ORIGIN);
}

static void handshake_partial_and_large(void)
{
	const char *req =
	    REQ_HEAD KEY "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n"
			 "Origin: https://app.example.com\r\n\r\n";
	struct sp_ws_upgrade u;
	for (size_t cut = 0; cut < strlen(req); cut++)
		CU_ASSERT_EQUAL(sp_ws_handshake(req, cut, origins, 2, &u), 0);
	/* a frame sent right behind the request is not the handshake's */
	char more[1024];
	snprintf(more, sizeof(more), "%s\x81\x80", req);
	CU_ASSERT_EQUAL(sp_ws_handshake(more, strlen(more), origins, 2, &u), strlen(req));
	CU_ASSERT_EQUAL(u.refusal, SP_WS_ACCEPT);
	static char big[SP_WS_HS_MAX + 100];
	memset(big, 'a', sizeof(big));
	memcpy(big, REQ_HEAD, strlen(REQ_HEAD));
	CU_ASSERT_EQUAL(sp_ws_handshake(big, SP_WS_HS_MAX - 1, origins, 2, &u), 0);
	CU_ASSERT_EQUAL(sp_ws_handshake(big, SP_WS_HS_MAX, origins, 2, &u), SP_WS_HS_MAX);
	CU_ASSERT_EQUAL(u.refusal, SP_WS_REF_TOO_LARGE);
	CU_ASSERT_EQUAL(sp_ws_refusal_status(u.refusal), 431);
}

/* A client frame: fin, opcode, payload masked with a fixed key. */
static size_t frame(uint8_t *out, bool fin, uint8_t op, const void *pl, size_t len, bool mask)
{
	static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
	size_t h = sp_ws_frame_header(out, op, len);
	if (!fin)
		out[0] &= 0x7F;
	if (mask) {
		out[1] |= 0x80;
		memcpy(out + h, key, 4);
		h += 4;
	}
	for (size_t i = 0; i < len; i++)
		out[h + i] = ((const uint8_t *)pl)[i] ^ (mask ? key[i & 3] : 0);
	return h + len;
}

static uint8_t fb[80000];

static void frames_single(void)
{
	struct sp_ws_rx rx;
	struct sp_ws_ev ev;
	sp_ws_rx_init(&rx, 1000);
	const char *msg = "OPTIONS sip:x SIP/2.0\r\n\r\n";
	size_t n = frame(fb, true, SP_WS_OP_TEXT, msg, strlen(msg), true);
	for (size_t cut = 0; cut < n; cut++) {
		uint8_t copy[256];
		memcpy(copy, fb, n);
		CU_ASSERT_EQUAL(sp_ws_rx_frame(&rx, copy, cut, &ev), 0);
		CU_ASSERT_EQUAL(ev.type, SP_WS_EV_NONE);
	}
	CU_ASSERT_EQUAL(sp_ws_rx_frame(&rx, fb, n, &ev), n);
	CU_ASSERT_EQUAL(ev.type, SP_WS_EV_MESSAGE);
	CU_ASSERT_EQUAL(ev.opcode, SP_WS_OP_TEXT);
	CU_ASSERT_EQUAL(ev.len, strlen(msg));
	CU_ASSERT(ev.data && !memcmp(ev.data, msg, strlen(msg)));
	/* 16-bit length, binary */
	static uint8_t pl[600];
	memset(pl, 0xEE, sizeof(pl)); /* not UTF-8: fine in a binary frame */
	n = frame(fb, true, SP_WS_OP_BINARY, pl, sizeof(pl), true);
	CU_ASSERT_EQUAL(fb[1] & 0x7F, 126);
	CU_ASSERT_EQUAL(sp_ws_rx_frame(&rx, fb, n, &ev), n);
	CU_ASSERT_EQUAL(ev.type, SP_WS_EV_MESSAGE);
	CU_ASSERT_EQUAL(ev.len, sizeof(pl));
	CU_ASSERT(!memcmp(ev.data, pl, sizeof(pl)));
	/* the same in a text frame: 1007 */
	n = frame(fb, true, SP_WS_OP_TEXT, pl, sizeof(pl), true);
	CU_ASSERT_EQUAL(sp_ws_rx_frame(&rx, fb, n, &ev), n);
	CU_ASSERT_EQUAL(ev.type, SP_WS_EV_ERROR);
	CU_ASSERT_EQUAL(ev.code, SP_WS_CLOSE_BAD_DATA);
	sp_ws_rx_free(&rx);
}

static void frames_violations(void)
{
	struct sp_ws_rx rx;
	struct sp_ws_ev ev;
	sp_ws_rx_init(&rx, 1000);
	size_t n = frame(fb, true, SP_WS_OP_TEXT, "hi", 2, false);
	CU_ASSERT(sp_ws_rx_frame(&rx, fb, n, &ev) > 0);
	CU_ASSERT_EQUAL(ev.type, SP_WS_EV_ERROR);
	CU_ASSERT_EQUAL(ev.code, SP_WS_CLOSE_PROTOCOL); /* unmasked */
	for (uint8_t op = 3; op <= 0xF; op++) {
		if (op >= SP_WS_OP_CLOSE && op <= SP_WS_OP_PONG)
			continue;
		n = frame(fb, true, op, "hi", 2, true);
		CU_ASSERT(sp_ws_rx_frame(&rx, fb, n, &ev) > 0);
		CU_ASSERT_EQUAL(ev.type, SP_WS_EV_ERROR);
		CU_ASSERT_EQUAL(ev.code, SP_WS_CLOSE_PROTOCOL);
	}
	for (uint8_t rsv = 0x10; rsv <= 0x40; rsv <<= 1) {
		n = frame(fb, true, SP_WS_OP_TEXT, "hi", 2, true);
		fb[0] |= rsv;
		CU_ASSERT(sp_ws_rx_frame(&rx, fb, n, &ev) > 0);
		CU_ASSERT_EQUAL(ev.code, SP_WS_CLOSE_PROTOCOL);
	}
	n = frame(fb, false, SP_WS_OP_PING, "hi", 2, true); /* fragmented control */
	CU_ASSERT(sp_ws_rx_frame(&rx, fb, n, &ev) > 0);
	CU_ASSERT_EQUAL(ev.code, SP_WS_CLOSE_PROTOCOL);
	n = frame(fb, true, SP_WS_OP_CONT, "hi", 2, true); /* continuation of nothing */
	CU_ASSERT(sp_ws_rx_frame(&rx, fb, n, &ev) > 0);
	CU_ASSERT_EQUAL(ev.code, SP_WS_CLOSE_PROTOCOL);
	/* a non-minimal 16-bit length */
	memcpy(fb, "\x81\xFE\x00\x05", 4);
	CU_ASSERT(sp_ws_rx_frame(&rx, fb, 4, &ev) > 0);
	CU_ASSERT_EQUAL(ev.code, SP_WS_CLOSE_PROTOCOL);
	/* over the limit: refused from the header, before the payload comes */
	memcpy(fb, "\x81\xFE\x03\xE9", 4); /* 1001 bytes */
	CU_ASSERT(sp_ws_rx_frame(&rx, fb, 4, &ev) > 0);
	CU_ASSERT_EQUAL(ev.type, SP_WS_EV_ERROR);
	CU_ASSERT_EQUAL(ev.code, SP_WS_CLOSE_TOO_BIG);
	memcpy(fb, "\x82\xFF\x00\x00\x00\x01\x00\x00\x00\x00", 10); /* 4 GiB */
	CU_ASSERT(sp_ws_rx_frame(&rx, fb, 10, &ev) > 0);
	CU_ASSERT_EQUAL(ev.code, SP_WS_CLOSE_TOO_BIG);
	memcpy(fb, "\x82\xFF\x80\x00\x00\x00\x00\x00\x00\x00", 10); /* the top bit */
	CU_ASSERT(sp_ws_rx_frame(&rx, fb, 10, &ev) > 0);
	CU_ASSERT_EQUAL(ev.code, SP_WS_CLOSE_PROTOCOL);
	/* exactly the limit passes */
	static uint8_t pl[1000];
	memset(pl, 'a', sizeof(pl));
	n = frame(fb, true, SP_WS_OP_TEXT, pl, 1000, true);
	CU_ASSERT_EQUAL(sp_ws_rx_frame(&rx, fb, n, &ev), n);
	CU_ASSERT_EQUAL(ev.type, SP_WS_EV_MESSAGE);
	/* a ping of 126 bytes */
	n = frame(fb, true, SP_WS_OP_PING, pl, 126, true);
	CU_ASSERT(sp_ws_rx_frame(&rx, fb, n, &ev) > 0);
	CU_ASSERT_EQUAL(ev.code, SP_WS_CLOSE_PROTOCOL);
	sp_ws_rx_free(&rx);
}

static void frames_fragmented(void)
{
	struct sp_ws_rx rx;
	struct sp_ws_ev ev;
	sp_ws_rx_init(&rx, 10);
	size_t n = frame(fb, false, SP_WS_OP_TEXT, "REG", 3, true);
	CU_ASSERT_EQUAL(sp_ws_rx_frame(&rx, fb, n, &ev), n);
	CU_ASSERT_EQUAL(ev.type, SP_WS_EV_NONE);
	n = frame(fb, true, SP_WS_OP_PING, "p", 1, true); /* control frames may interleave */
	CU_ASSERT_EQUAL(sp_ws_rx_frame(&rx, fb, n, &ev), n);
	CU_ASSERT_EQUAL(ev.type, SP_WS_EV_PING);
	CU_ASSERT(ev.len == 1 && ev.data[0] == 'p');
	n = frame(fb, false, SP_WS_OP_CONT, "IST", 3, true);
	CU_ASSERT_EQUAL(sp_ws_rx_frame(&rx, fb, n, &ev), n);
	CU_ASSERT_EQUAL(ev.type, SP_WS_EV_NONE);
	n = frame(fb, true, SP_WS_OP_TEXT, "x", 1, true); /* a new message inside: 1002 */
	uint8_t keep[16];
	memcpy(keep, fb, n);
	CU_ASSERT(sp_ws_rx_frame(&rx, keep, n, &ev) > 0);
	CU_ASSERT_EQUAL(ev.code, SP_WS_CLOSE_PROTOCOL);
	n = frame(fb, true, SP_WS_OP_CONT, "ER", 2, true);
	CU_ASSERT_EQUAL(sp_ws_rx_frame(&rx, fb, n, &ev), n);
	CU_ASSERT_EQUAL(ev.type, SP_WS_EV_MESSAGE);
	CU_ASSERT_EQUAL(ev.opcode, SP_WS_OP_TEXT);
	CU_ASSERT(ev.len == 8 && !memcmp(ev.data, "REGISTER", 8));
	/* fragments whose sum passes the limit: 1009 */
	n = frame(fb, false, SP_WS_OP_BINARY, "123456", 6, true);
	CU_ASSERT_EQUAL(sp_ws_rx_frame(&rx, fb, n, &ev), n);
	n = frame(fb, true, SP_WS_OP_CONT, "12345", 5, true);
	CU_ASSERT(sp_ws_rx_frame(&rx, fb, n, &ev) > 0);
	CU_ASSERT_EQUAL(ev.type, SP_WS_EV_ERROR);
	CU_ASSERT_EQUAL(ev.code, SP_WS_CLOSE_TOO_BIG);
	sp_ws_rx_free(&rx);
	/* UTF-8 split across fragments is judged on the whole message */
	sp_ws_rx_init(&rx, 10);
	n = frame(fb, false, SP_WS_OP_TEXT, "\xC3", 1, true);
	CU_ASSERT_EQUAL(sp_ws_rx_frame(&rx, fb, n, &ev), n);
	n = frame(fb, true, SP_WS_OP_CONT, "\xA9", 1, true);
	CU_ASSERT_EQUAL(sp_ws_rx_frame(&rx, fb, n, &ev), n);
	CU_ASSERT_EQUAL(ev.type, SP_WS_EV_MESSAGE);
	sp_ws_rx_free(&rx);
}

static void frames_close(void)
{
	struct sp_ws_rx rx;
	struct sp_ws_ev ev;
	sp_ws_rx_init(&rx, 100);
	size_t n = frame(fb, true, SP_WS_OP_CLOSE,
			 "\x03\xE8"
			 "bye",
			 5, true);
	CU_ASSERT_EQUAL(sp_ws_rx_frame(&rx, fb, n, &ev), n);
	CU_ASSERT_EQUAL(ev.type, SP_WS_EV_CLOSE);
	CU_ASSERT_EQUAL(ev.code, 1000);
	n = frame(fb, true, SP_WS_OP_CLOSE, "", 0, true);
	CU_ASSERT_EQUAL(sp_ws_rx_frame(&rx, fb, n, &ev), n);
	CU_ASSERT_EQUAL(ev.type, SP_WS_EV_CLOSE);
	CU_ASSERT_EQUAL(ev.code, SP_WS_CLOSE_NO_STATUS);
	n = frame(fb, true, SP_WS_OP_CLOSE, "\x03", 1, true);
	CU_ASSERT(sp_ws_rx_frame(&rx, fb, n, &ev) > 0);
	CU_ASSERT_EQUAL(ev.code, SP_WS_CLOSE_PROTOCOL);
	n = frame(fb, true, SP_WS_OP_CLOSE, "\x03\xED", 2, true); /* 1005 is never sent */
	CU_ASSERT(sp_ws_rx_frame(&rx, fb, n, &ev) > 0);
	CU_ASSERT_EQUAL(ev.type, SP_WS_EV_ERROR);
	CU_ASSERT_EQUAL(ev.code, SP_WS_CLOSE_PROTOCOL);
	n = frame(fb, true, SP_WS_OP_CLOSE, "\x03\xE8\xFF", 3, true);
	CU_ASSERT(sp_ws_rx_frame(&rx, fb, n, &ev) > 0);
	CU_ASSERT_EQUAL(ev.code, SP_WS_CLOSE_BAD_DATA);
	uint8_t c[4];
	CU_ASSERT_EQUAL(sp_ws_close_frame(c, 1009), 4);
	CU_ASSERT(!memcmp(c, "\x88\x02\x03\xF1", 4));
	sp_ws_rx_free(&rx);
}

static void server_headers(void)
{
	uint8_t h[10];
	CU_ASSERT_EQUAL(sp_ws_frame_header(h, SP_WS_OP_TEXT, 125), 2);
	CU_ASSERT(h[0] == 0x81 && h[1] == 125); /* FIN, no mask bit */
	CU_ASSERT_EQUAL(sp_ws_frame_header(h, SP_WS_OP_TEXT, 126), 4);
	CU_ASSERT(h[1] == 126 && h[2] == 0 && h[3] == 126);
	CU_ASSERT_EQUAL(sp_ws_frame_header(h, SP_WS_OP_PONG, 65536), 10);
	CU_ASSERT(h[0] == 0x8A && h[1] == 127 && h[7] == 1 && h[8] == 0 && h[9] == 0);
}

static void utf8(void)
{
	CU_ASSERT(sp_ws_utf8_valid((const uint8_t *)"SIP/2.0 caf\xC3\xA9 \xF0\x9F\x98\x80", 18));
	CU_ASSERT(!sp_ws_utf8_valid((const uint8_t *)"\xC0\xAF", 2));	      /* overlong */
	CU_ASSERT(!sp_ws_utf8_valid((const uint8_t *)"\xED\xA0\x80", 3));     /* surrogate */
	CU_ASSERT(!sp_ws_utf8_valid((const uint8_t *)"\xF4\x90\x80\x80", 4)); /* > U+10FFFF */
	CU_ASSERT(!sp_ws_utf8_valid((const uint8_t *)"a\xE2\x82", 3));	      /* cut */
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite("sp_ws", NULL, NULL);
	CU_add_test(s, "handshake accepted (RFC 6455 key)", handshake_accept);
	CU_add_test(s, "handshake refusals and statuses", handshake_refusals);
	CU_add_test(s, "handshake partial, trailing, too large", handshake_partial_and_large);
	CU_add_test(s, "single frames, lengths, UTF-8", frames_single);
	CU_add_test(s, "violations: 1002, 1009", frames_violations);
	CU_add_test(s, "fragmentation", frames_fragmented);
	CU_add_test(s, "close frames", frames_close);
	CU_add_test(s, "server frame headers", server_headers);
	CU_add_test(s, "UTF-8 validation", utf8);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
