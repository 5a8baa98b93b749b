/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: what a WebSocket client sends the slowpath's WSS listener
 * (slowpath/sp_ws.c), as the transport feeds it. The input's first byte picks the message
 * limit; the rest is the connection's bytes: an upgrade request parsed and answered, then
 * (when it was accepted, or from the start when the first byte is odd) frames decoded one
 * after another until one is refused, each event checked to lie inside its buffer and
 * within the limit, a message of a text frame checked to be UTF-8, the answers to pings
 * and closes encoded as the transport would. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slowpath/sp_ws.h"

static const char *const origins[] = {"https://app.example.com"};

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n < 1)
		return 0;
	size_t max = 16 + (size_t)d[0] * 8;
	bool frames_only = d[0] & 1;
	uint8_t *buf = malloc(n);
	if (!buf)
		return 0;
	memcpy(buf, d + 1, n - 1);
	size_t len = n - 1, off = 0;
	if (!frames_only) {
		struct sp_ws_upgrade u;
		size_t took = sp_ws_handshake((const char *)buf, len, origins, 1, &u);
		if (took > len || (took == 0 && len >= SP_WS_HS_MAX))
			abort();
		char out[512];
		if (took && !sp_ws_handshake_answer(&u, out, sizeof(out)))
			abort();
		if (!took || u.refusal != SP_WS_ACCEPT) {
			free(buf);
			return 0;
		}
		if (strlen(u.accept) != 28)
			abort();
		off = took;
	}
	struct sp_ws_rx rx;
	sp_ws_rx_init(&rx, max);
	while (off < len) {
		struct sp_ws_ev ev;
		size_t took = sp_ws_rx_frame(&rx, buf + off, len - off, &ev);
		if (took > len - off)
			abort();
		if (!took) {
			if (ev.type != SP_WS_EV_NONE)
				abort();
			break;
		}
		if (ev.type == SP_WS_EV_ERROR)
			break;
		if (ev.type == SP_WS_EV_MESSAGE) {
			bool in_buf = ev.data >= buf + off && ev.data + ev.len <= buf + off + took;
			bool in_rx = rx.msg && ev.data == rx.msg && ev.len <= rx.max;
			if ((!in_buf && !in_rx) || ev.len > max)
				abort();
			if (ev.opcode == SP_WS_OP_TEXT && !sp_ws_utf8_valid(ev.data, ev.len))
				abort();
		}
		if (ev.type == SP_WS_EV_PING) {
			uint8_t h[10];
			if (ev.len > 125 || sp_ws_frame_header(h, SP_WS_OP_PONG, ev.len) != 2)
				abort();
		}
		if (ev.type == SP_WS_EV_CLOSE) {
			uint8_t c[4];
			sp_ws_close_frame(c, ev.code);
			break;
		}
		off += took;
	}
	sp_ws_rx_free(&rx);
	free(buf);
	return 0;
}
