/* SPDX-License-Identifier: BSD-3-Clause */
/* SIP over WebSocket (RFC 7118 over RFC 6455), the pure half: the HTTP/1.1 upgrade
 * handshake's parser and answer, and the frame decoder and encoder. No I/O, no allocation
 * but a fragmented message's buffer (struct sp_ws_rx), no global state: the transport
 * (sp_transport.c, the WSS listener) feeds them bytes and acts on what they return. Unit
 * tested in tests/unit/test_sp_ws.c, fuzzed by tests/fuzz/fuzz_ws.c. */
#ifndef POPRELAY_SLOWPATH_SP_WS_H
#define POPRELAY_SLOWPATH_SP_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The upgrade request, request line and headers, may take at most this many bytes. */
#define SP_WS_HS_MAX 8192
/* The largest frame header a client sends: 2 + 8 (length) + 4 (mask). */
#define SP_WS_HDR_MAX 14

/* Why an upgrade was refused, each with its HTTP status (sp_ws_refusal_status) and a
 * counter of its own in the slowpath's stats (ws_refused_<name>). */
enum sp_ws_refusal {
	SP_WS_ACCEPT = 0,
	SP_WS_REF_MALFORMED, /* 400: not an HTTP/1.1 request, no Host, Upgrade, Connection or key */
	SP_WS_REF_METHOD,    /* 405: not GET */
	SP_WS_REF_VERSION,   /* 426: Sec-WebSocket-Version is not 13 */
	SP_WS_REF_PROTOCOL,  /* 400: Sec-WebSocket-Protocol does not offer "sip" (RFC 7118 4) */
	SP_WS_REF_ORIGIN,    /* 403: no Origin, or one not in [sip] ws_origins */
	SP_WS_REF_TOO_LARGE, /* 431: no end of the request in SP_WS_HS_MAX bytes */
	SP_WS_REF_N
};
const char *sp_ws_refusal_name(enum sp_ws_refusal r); /* "malformed", "origin", ... */
int sp_ws_refusal_status(enum sp_ws_refusal r);	      /* 400, 403, ... */

struct sp_ws_upgrade {
	enum sp_ws_refusal refusal;
	char accept[32]; /* Sec-WebSocket-Accept (RFC 6455 4.2.2), set when accepted */
};

/* The upgrade request at buf[0..len). Returns 0 when the end of its header block (an empty
 * line) has not come yet and len < SP_WS_HS_MAX; else the bytes it took (the header block;
 * a body is not expected, RFC 6455 4.1) with u->refusal set: SP_WS_ACCEPT, or the reason it
 * is refused (SP_WS_REF_TOO_LARGE when SP_WS_HS_MAX bytes hold no end: the whole len).
 * origins: the allowed Origin values, compared without regard to case; none: every upgrade
 * is refused. */
size_t sp_ws_handshake(const char *buf, size_t len, const char *const *origins, size_t n_origins,
		       struct sp_ws_upgrade *u);
/* The answer to u: "101 Switching Protocols" with Sec-WebSocket-Protocol: sip, or the
 * refusal's 4xx with Connection: close. The length written (NUL-terminated), or 0 when cap
 * is too small (512 bytes always suffice). */
size_t sp_ws_handshake_answer(const struct sp_ws_upgrade *u, char *out, size_t cap);

/* RFC 6455 5.2 opcodes and 7.4.1 close codes used here. */
enum {
	SP_WS_OP_CONT = 0x0,
	SP_WS_OP_TEXT = 0x1,
	SP_WS_OP_BINARY = 0x2,
	SP_WS_OP_CLOSE = 0x8,
	SP_WS_OP_PING = 0x9,
	SP_WS_OP_PONG = 0xA,
};
enum {
	SP_WS_CLOSE_NORMAL = 1000,
	SP_WS_CLOSE_GOING_AWAY = 1001,
	SP_WS_CLOSE_PROTOCOL = 1002,
	SP_WS_CLOSE_NO_STATUS = 1005, /* never on the wire: a close frame without a code */
	SP_WS_CLOSE_BAD_DATA = 1007,
	SP_WS_CLOSE_TOO_BIG = 1009,
};

/* One client-to-server stream's receive state: a data message being reassembled from
 * fragments. max: the largest message (all its fragments' payloads) accepted. */
struct sp_ws_rx {
	size_t max;
	bool in_msg; /* a fragmented message began and has not ended */
	uint8_t msg_op;
	uint8_t *msg; /* its payload so far (malloc'ed to max once) */
	size_t msg_len;
};
void sp_ws_rx_init(struct sp_ws_rx *rx, size_t max);
void sp_ws_rx_free(struct sp_ws_rx *rx);

enum sp_ws_ev_type {
	SP_WS_EV_NONE = 0, /* more bytes are needed, or a fragment was taken in */
	SP_WS_EV_MESSAGE,  /* a whole text or binary message: one SIP message (RFC 7118 5) */
	SP_WS_EV_PING,	   /* answer with a pong carrying data */
	SP_WS_EV_PONG,
	SP_WS_EV_CLOSE, /* the peer closes with code (SP_WS_CLOSE_NO_STATUS: none given) */
	SP_WS_EV_ERROR, /* a protocol violation: close with code, then drop the connection */
};
struct sp_ws_ev {
	enum sp_ws_ev_type type;
	uint16_t code;
	uint8_t opcode;	     /* of a message: SP_WS_OP_TEXT or SP_WS_OP_BINARY */
	const uint8_t *data; /* the payload, unmasked: in buf, or in rx->msg (valid until the
			      * next call) */
	size_t len;
};

/* Decodes at most one frame from buf[0..len), unmasking its payload in place. Returns the
 * bytes taken (0: not a whole frame yet, ev NONE) and the event in ev. A frame whose
 * header alone shows it is over the limit is refused before its payload arrives (ERROR
 * 1009, 0 bytes taken is never returned then). Violations (ERROR): an unmasked frame,
 * reserved bits or opcodes, a fragmented or over-125-byte control frame, a continuation
 * without a start, a new message inside a fragmented one, a non-minimal length, a close
 * frame with a 1-byte body or an invalid code: 1002; a text message or close reason that
 * is not UTF-8: 1007; a message over rx->max: 1009. */
size_t sp_ws_rx_frame(struct sp_ws_rx *rx, uint8_t *buf, size_t len, struct sp_ws_ev *ev);

/* A server frame's header (FIN set, no mask, RFC 6455 5.1) for a payload of len bytes:
 * its length (2, 4 or 10). */
size_t sp_ws_frame_header(uint8_t hdr[10], uint8_t opcode, size_t len);
/* A close frame carrying code (a whole frame, 4 bytes). */
size_t sp_ws_close_frame(uint8_t out[4], uint16_t code);

/* true when p[0..len) is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates). */
bool sp_ws_utf8_valid(const uint8_t *p, size_t len);

#endif
