/* SPDX-License-Identifier: BSD-3-Clause */
/* WebSocket handshake and framing (RFC 6455) for SIP over WebSocket (RFC 7118): see
 * sp_ws.h. */
#include "slowpath/sp_ws.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

static const struct {
	const char *name;
	int status;
	const char *reason;
} refusals[SP_WS_REF_N] = {
    [SP_WS_ACCEPT] = {"accepted", 101, "Switching Protocols"},
    [SP_WS_REF_MALFORMED] = {"malformed", 400, "Bad Request"},
    [SP_WS_REF_METHOD] = {"method", 405, "Method Not Allowed"},
    [SP_WS_REF_VERSION] = {"version", 426, "Upgrade Required"},
    [SP_WS_REF_PROTOCOL] = {"protocol", 400, "Bad Request"},
    [SP_WS_REF_ORIGIN] = {"origin", 403, "Forbidden"},
    [SP_WS_REF_TOO_LARGE] = {"too_large", 431, "Request Header Fields Too Large"},
};

const char *sp_ws_refusal_name(enum sp_ws_refusal r)
{
	return (unsigned)r < SP_WS_REF_N ? refusals[r].name : "?";
}

int sp_ws_refusal_status(enum sp_ws_refusal r)
{
	return (unsigned)r < SP_WS_REF_N ? refusals[r].status : 400;
}

/* ---- handshake (RFC 6455 4.2.1) ----------------------------------------------------- */

/* true when the comma-separated list v[0..n) holds the token tok (case per ci). */
static bool list_has(const char *v, size_t n, const char *tok, bool ci)
{
	size_t tl = strlen(tok), i = 0;
	while (i < n) {
		while (i < n && (v[i] == ',' || v[i] == ' ' || v[i] == '\t'))
			i++;
		size_t b = i;
		while (i < n && v[i] != ',')
			i++;
		size_t e = i;
		while (e > b && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - b == tl && (ci ? !strncasecmp(v + b, tok, tl) : !strncmp(v + b, tok, tl)))
			return true;
	}
	return false;
}

/* The base64 key decodes to 16 bytes (RFC 6455 4.1, item 7). */
static bool key_valid(const char *k, size_t n)
{
	unsigned char out[24];
	if (n != 24 || k[22] != '=' || k[23] != '=')
		return false;
	for (size_t i = 0; i < 22; i++)
		if (!isalnum((unsigned char)k[i]) && k[i] != '+' && k[i] != '/')
			return false;
	return EVP_DecodeBlock(out, (const unsigned char *)k, 24) == 18;
}

static void accept_of(const char *key, size_t n, char out[32])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	char buf[24 + sizeof(guid)];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	memcpy(buf, key, n);
	memcpy(buf + n, guid, sizeof(guid) - 1);
	if (EVP_Digest(buf, n + sizeof(guid) - 1, md, &mdlen, EVP_sha1(), NULL) != 1 ||
	    mdlen != 20) {
		out[0] = '\0';
		return;
	}
	EVP_EncodeBlock((unsigned char *)out, md, 20); /* 28 characters and a NUL */
}

size_t sp_ws_handshake(const char *buf, size_t len, const char *const *origins, size_t n_origins,
		       struct sp_ws_upgrade *u)
{
	memset(u, 0, sizeof(*u));
	size_t look = len < SP_WS_HS_MAX ? len : SP_WS_HS_MAX;
	const char *end = memmem(buf, look, "\r\n\r\n", 4);
	if (!end) {
		if (len < SP_WS_HS_MAX)
			return 0;
		u->refusal = SP_WS_REF_TOO_LARGE;
		return len;
	}
	size_t hl = (size_t)(end - buf) + 4;
	const char *p = buf, *e = end + 2; /* each line ends with CRLF */
	const char *nl = memmem(p, (size_t)(e - p), "\r\n", 2);
	size_t ll = (size_t)(nl - p);
	/* request line: METHOD SP request-target SP HTTP/1.x, x >= 1 */
	const char *sp1 = memchr(p, ' ', ll);
	const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', ll - (size_t)(sp1 + 1 - p)) : NULL;
	if (!sp1 || !sp2 || sp2 == sp1 + 1 || (size_t)(nl - sp2 - 1) != 8 ||
	    memcmp(sp2 + 1, "HTTP/1.", 7) || sp2[8] < '1' || sp2[8] > '9') {
		u->refusal = SP_WS_REF_MALFORMED;
		return hl;
	}
	bool get = sp1 - p == 3 && !memcmp(p, "GET", 3);
	bool host = false, upgrade = false, connection = false, version = false, vers_seen = false,
	     sip = false, origin_ok = false;
	const char *key = NULL;
	size_t key_len = 0;
	int keys = 0;
	for (p = nl + 2; p < e; p = nl + 2) {
		nl = memmem(p, (size_t)(e - p), "\r\n", 2);
		ll = (size_t)(nl - p);
		const char *colon = memchr(p, ':', ll);
		if (!colon || colon == p || p[0] == ' ' || p[0] == '\t') {
			/* no obsolete line folding (RFC 7230 3.2.4), no nameless field */
			u->refusal = SP_WS_REF_MALFORMED;
			return hl;
		}
		size_t nlen = (size_t)(colon - p);
		const char *v = colon + 1;
		while (v < nl && (*v == ' ' || *v == '\t'))
			v++;
		size_t vl = (size_t)(nl - v);
		while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
			vl--;
#define IS(name) (nlen == sizeof(name) - 1 && !strncasecmp(p, name, nlen))
		if (IS("Host"))
			host = vl > 0;
		else if (IS("Upgrade"))
			upgrade |= list_has(v, vl, "websocket", true);
		else if (IS("Connection"))
			connection |= list_has(v, vl, "upgrade", true);
		else if (IS("Sec-WebSocket-Key")) {
			key = v;
			key_len = vl;
			keys++;
		} else if (IS("Sec-WebSocket-Version")) {
			vers_seen = true;
			version = vl == 2 && !memcmp(v, "13", 2);
		} else if (IS("Sec-WebSocket-Protocol"))
			sip |= list_has(v, vl, "sip", false);
		else if (IS("Origin"))
			for (size_t i = 0; i < n_origins; i++)
				origin_ok |= strlen(origins[i]) == vl &&
					     !strncasecmp(origins[i], v, vl) && vl;
#undef IS
	}
	if (!get)
		u->refusal = SP_WS_REF_METHOD;
	else if (!host || !upgrade || !connection || keys != 1 || !key_valid(key, key_len) ||
		 !vers_seen)
		u->refusal = SP_WS_REF_MALFORMED;
	else if (!version)
		u->refusal = SP_WS_REF_VERSION;
	else if (!origin_ok)
		u->refusal = SP_WS_REF_ORIGIN;
	else if (!sip)
		u->refusal = SP_WS_REF_PROTOCOL;
	else {
		accept_of(key, key_len, u->accept);
		u->refusal = u->accept[0] ? SP_WS_ACCEPT : SP_WS_REF_MALFORMED;
	}
	return hl;
}

size_t sp_ws_handshake_answer(const struct sp_ws_upgrade *u, char *out, size_t cap)
{
	int n;
	if (u->refusal == SP_WS_ACCEPT)
		n = snprintf(out, cap,
			     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
			     "Sec-WebSocket-Protocol: sip\r\n\r\n",
			     u->accept);
	else {
		enum sp_ws_refusal r =
		    (unsigned)u->refusal < SP_WS_REF_N ? u->refusal : SP_WS_REF_MALFORMED;
		char body[96];
		int bl = snprintf(body, sizeof(body), "WebSocket upgrade refused: %s\n",
				  refusals[r].name);
		n = snprintf(out, cap,
			     "HTTP/1.1 %d %s\r\n%s%sContent-Type: text/plain\r\n"
			     "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
			     refusals[r].status, refusals[r].reason,
			     r == SP_WS_REF_VERSION ? "Sec-WebSocket-Version: 13\r\n" : "",
			     r == SP_WS_REF_METHOD ? "Allow: GET\r\n" : "", bl, body);
	}
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* ---- framing (RFC 6455 5) ----------------------------------------------------------- */

bool sp_ws_utf8_valid(const uint8_t *p, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint8_t c = p[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t n;
		uint32_t cp, min;
		if ((c & 0xE0) == 0xC0)
			n = 1, cp = c & 0x1F, min = 0x80;
		else if ((c & 0xF0) == 0xE0)
			n = 2, cp = c & 0x0F, min = 0x800;
		else if ((c & 0xF8) == 0xF0)
			n = 3, cp = c & 0x07, min = 0x10000;
		else
			return false;
		if (len - i <= n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((p[i + k] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += n + 1;
	}
	return true;
}

void sp_ws_rx_init(struct sp_ws_rx *rx, size_t max)
{
	memset(rx, 0, sizeof(*rx));
	rx->max = max;
}

void sp_ws_rx_free(struct sp_ws_rx *rx)
{
	free(rx->msg);
	rx->msg = NULL;
	rx->in_msg = false;
	rx->msg_len = 0;
}

static size_t fail(struct sp_ws_ev *ev, uint16_t code, size_t took)
{
	ev->type = SP_WS_EV_ERROR;
	ev->code = code;
	return took;
}

static bool close_code_valid(uint16_t c)
{
	/* RFC 6455 7.4.1/7.4.2: the defined codes a peer may send, and 3000-4999 */
	return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1011) || (c >= 3000 && c <= 4999);
}

size_t sp_ws_rx_frame(struct sp_ws_rx *rx, uint8_t *buf, size_t len, struct sp_ws_ev *ev)
{
	memset(ev, 0, sizeof(*ev));
	if (len < 2)
		return 0;
	bool fin = buf[0] & 0x80, masked = buf[1] & 0x80;
	uint8_t op = buf[0] & 0x0F;
	uint64_t plen = buf[1] & 0x7F;
	size_t h = 2;
	/* what the first two bytes tell: judged before the rest arrives */
	if (buf[0] & 0x70)
		return fail(ev, SP_WS_CLOSE_PROTOCOL, len); /* no extension was negotiated */
	bool control = op & 0x8;
	if ((op > SP_WS_OP_BINARY && op < SP_WS_OP_CLOSE) || op > SP_WS_OP_PONG)
		return fail(ev, SP_WS_CLOSE_PROTOCOL, len);
	if (!masked)
		return fail(ev, SP_WS_CLOSE_PROTOCOL, len); /* 5.1: clients mask every frame */
	if (control && (!fin || plen > 125))
		return fail(ev, SP_WS_CLOSE_PROTOCOL, len); /* 5.5 */
	if (!control && op != SP_WS_OP_CONT && rx->in_msg)
		return fail(ev, SP_WS_CLOSE_PROTOCOL, len); /* 5.4: no interleaving */
	if (op == SP_WS_OP_CONT && !rx->in_msg)
		return fail(ev, SP_WS_CLOSE_PROTOCOL, len);
	if (plen == 126) {
		if (len < 4)
			return 0;
		plen = (uint64_t)buf[2] << 8 | buf[3];
		h = 4;
		if (plen < 126)
			return fail(ev, SP_WS_CLOSE_PROTOCOL, len); /* 5.2: the minimal length */
	} else if (plen == 127) {
		if (len < 10)
			return 0;
		plen = 0;
		for (int i = 0; i < 8; i++)
			plen = plen << 8 | buf[2 + i];
		h = 10;
		if (plen >> 63 || plen < 65536)
			return fail(ev, SP_WS_CLOSE_PROTOCOL, len);
	}
	if (!control && plen > rx->max - (op == SP_WS_OP_CONT ? rx->msg_len : 0))
		return fail(ev, SP_WS_CLOSE_TOO_BIG, len);
	if (len < h + 4 || len - h - 4 < plen)
		return 0;
	const uint8_t *mask = buf + h;
	uint8_t *pl = buf + h + 4;
	for (uint64_t i = 0; i < plen; i++)
		pl[i] ^= mask[i & 3];
	size_t took = h + 4 + (size_t)plen;
	if (control) {
		ev->data = pl;
		ev->len = (size_t)plen;
		if (op == SP_WS_OP_PING) {
			ev->type = SP_WS_EV_PING;
		} else if (op == SP_WS_OP_PONG) {
			ev->type = SP_WS_EV_PONG;
		} else {
			ev->type = SP_WS_EV_CLOSE;
			ev->code = SP_WS_CLOSE_NO_STATUS;
			if (plen == 1)
				return fail(ev, SP_WS_CLOSE_PROTOCOL, took);
			if (plen >= 2) {
				ev->code = (uint16_t)(pl[0] << 8 | pl[1]);
				if (!close_code_valid(ev->code))
					return fail(ev, SP_WS_CLOSE_PROTOCOL, took);
				if (!sp_ws_utf8_valid(pl + 2, (size_t)plen - 2))
					return fail(ev, SP_WS_CLOSE_BAD_DATA, took);
			}
		}
		return took;
	}
	if (fin && op != SP_WS_OP_CONT) {
		/* the common case, a message in one frame: no copy */
		if (op == SP_WS_OP_TEXT && !sp_ws_utf8_valid(pl, (size_t)plen))
			return fail(ev, SP_WS_CLOSE_BAD_DATA, took);
		ev->type = SP_WS_EV_MESSAGE;
		ev->opcode = op;
		ev->data = pl;
		ev->len = (size_t)plen;
		return took;
	}
	if (!rx->msg && !(rx->msg = malloc(rx->max ? rx->max : 1)))
		return fail(ev, SP_WS_CLOSE_TOO_BIG, took);
	if (op != SP_WS_OP_CONT) {
		rx->in_msg = true;
		rx->msg_op = op;
		rx->msg_len = 0;
	}
	memcpy(rx->msg + rx->msg_len, pl, (size_t)plen);
	rx->msg_len += (size_t)plen;
	if (!fin)
		return took; /* EV_NONE: a fragment taken in */
	rx->in_msg = false;
	if (rx->msg_op == SP_WS_OP_TEXT && !sp_ws_utf8_valid(rx->msg, rx->msg_len))
		return fail(ev, SP_WS_CLOSE_BAD_DATA, took);
	ev->type = SP_WS_EV_MESSAGE;
	ev->opcode = rx->msg_op;
	ev->data = rx->msg;
	ev->len = rx->msg_len;
	return took;
}

size_t sp_ws_frame_header(uint8_t hdr[10], uint8_t opcode, size_t len)
{
	hdr[0] = 0x80 | (opcode & 0x0F);
	if (len < 126) {
		hdr[1] = (uint8_t)len;
		return 2;
	}
	if (len < 65536) {
		hdr[1] = 126;
		hdr[2] = (uint8_t)(len >> 8);
		hdr[3] = (uint8_t)len;
		return 4;
	}
	hdr[1] = 127;
	for (int i = 0; i < 8; i++)
		hdr[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
	return 10;
}

size_t sp_ws_close_frame(uint8_t out[4], uint16_t code)
{
	out[0] = 0x80 | SP_WS_OP_CLOSE;
	out[1] = 2;
	out[2] = (uint8_t)(code >> 8);
	out[3] = (uint8_t)code;
	return 4;
}
