/* SPDX-License-Identifier: BSD-3-Clause */
/* sipload: a small SIP over TLS load generator for tests/bench/sip.sh (Debian's sipp is
 * built without TLS). Digest (MD5/SHA-256, qop=auth) from slowpath/sp_digest.c, stream
 * framing from slowpath/sp_msg.c. Every connection runs one transaction chain at a time;
 * C connections in parallel, polled.
 *
 *   sipload register HOST PORT CAFILE PASSWORD NUSERS N C   users user0..user{NUSERS-1}
 *   sipload call     HOST PORT CAFILE PASSWORD NUSERS N C   INVITE/407/ACK/INVITE/200/ACK/BYE/200
 *   sipload callee   HOST PORT CAFILE USER PASSWORD          register, then answer forever
 *   sipload storm    HOST PORT CAFILE PASSWORD NUSERS N C   N devices, each on a new TLS
 *       connection (non-blocking connect and handshake, at most C of them under way at
 *       once), REGISTER/401/REGISTER/200 once, then kept open: a PoP's devices coming back
 * register/call/storm print "<completed> <seconds> <per second>" and exit 0 when all
 * completed (storm: seconds from the first connect to the last 200).
 *
 * Options before the mode (tests/bench/webrtc.sh):
 *   -w ORIGIN  SIP over secure WebSocket (RFC 7118) as a browser speaks it: an HTTP upgrade
 *              with that Origin after the TLS handshake, one masked text frame per message,
 *              Via SIP/2.0/WSS and Contact ;transport=ws. In call mode each connection is a
 *              browser that registers (digest) first, outside the measured window, and then
 *              calls as that user.
 *   -r         WebRTC SDP: a Chrome-style audio offer and answer (UDP/TLS/RTP/SAVPF, ICE
 *              credentials and a host candidate, a sha-256 fingerprint, setup actpass /
 *              active, rtcp-mux, BUNDLE of one, Opus and G.711) instead of the SDES one.
 *   -H MS      calls last MS milliseconds from the ACK to the BYE (0: the BYE at once), so
 *              that the media anchor installs each call's sessions before it ends.
 *   -d         writes the first message with an SDP body it receives to stderr (the
 *              bench checks what each server made of the offer and the answer).
 *   -p FILE    (repeatable, up to 16) a /proc/PID[/task/TID]/stat file: its utime + stime
 *              are read at the edges of the measured window, and register/call print their
 *              sum in seconds as a fourth field, then each file's: the servers' CPU the
 *              chains cost.
 *   -a FILE    storm (tests/bench/ha.sh): a device whose REGISTER is refused or whose
 *              connection breaks is counted and given up (no retry) instead of ending the
 *              run; each acknowledged device is written to FILE at its 200, as
 *              "userN ADDR:PORT" (the Contact's host and port). The output gets two more
 *              fields: "<acknowledged> <seconds> <per second> <503s> <other failures>".
 *   -k N:PID   storm: SIGKILL to PID right after the Nth 200 (mid-storm, at a known point);
 *              "killed PID at EPOCH_SECONDS after N" goes to stderr, and at the end how
 *              many 200s were read after it. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "slowpath/sp_digest.h"
#include "slowpath/sp_msg.h"

enum mode { M_REGISTER, M_CALL, M_CALLEE, M_STORM };
enum step {
	S_IDLE,
	S_REG1,
	S_REG2,
	S_INV1,
	S_INV2,
	S_HOLD,
	S_BYE,
	S_CALLEE,
	S_CONNECTING,
	S_HANDSHAKE,
	S_FAILED /* -a: refused or cut off, given up */
};

struct conn {
	SSL *ssl;
	int fd;
	char local[64];
	char buf[SP_MSG_MAX + 8];
	size_t len;
	enum step step;
	unsigned user, seq;
	char call_id[64], tag[32];
	char to_hdr[512]; /* To of the final response (with tag) */
	char ruri[256];	  /* remote target for ACK/BYE */
	char routes[1024];
	double bye_at; /* S_HOLD: when the BYE goes */
	unsigned bye_cseq;
};

static const char *host, *cafile, *password, *callee_user;
static int port;
static unsigned nusers;
static enum mode mode;
static unsigned long done_n, started_n, target_n;
static SSL_CTX *ctx;
/* Call-IDs, tags and branches embed c->seq, which starts here: unique per run, so a
 * server's transaction table never mistakes this run's requests for an earlier run's. */
static unsigned seq_base;
static const char *ws_origin; /* -w: SIP over WebSocket */
static bool webrtc;	      /* -r: Chrome-style SDP */
static bool prereg;	      /* call mode over WSS: the callers' REGISTERs before the window */
static unsigned long reg_n;
static const char *cpu_files[16];
static unsigned ncpu_files;
static unsigned char ws_mask[4];
static double hold_s; /* -H: a call's length from its ACK to its BYE */
static bool dump_sdp; /* -d: the first message with an SDP body received, on stderr */
static FILE *acked_f; /* -a: acknowledged devices; failures counted, not fatal */
static unsigned long fail503_n, failother_n;
static unsigned long kill_after; /* -k N:PID */
static pid_t kill_pid;
static unsigned long acked_after_kill; /* 200s read after the kill (sent before it or not) */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static __attribute__((noreturn)) void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* -a: a storm device's connection closed, the device given up */
static void storm_close(struct conn *c)
{
	if (c->ssl)
		SSL_free(c->ssl);
	c->ssl = NULL;
	close(c->fd); /* leaves the epoll set with it */
	c->fd = -1;
	c->step = S_FAILED;
}

/* -a: a storm device refused (code) or cut off (0): counted, its connection closed */
static void storm_fail(struct conn *c, int code)
{
	if (code == 503)
		fail503_n++;
	else
		failother_n++;
	storm_close(c);
}

/* Sends one SIP message: as it is over TLS, in one masked text frame over WebSocket. */
static void send_msg(struct conn *c, const char *m, int n)
{
	if (!ws_origin) {
		if (SSL_write(c->ssl, m, n) != n)
			die("send failed");
		return;
	}
	unsigned char f[8192 + 8];
	int h = 2;
	if (n > 8192)
		die("message too large for a frame");
	f[0] = 0x81; /* FIN, text */
	if (n < 126) {
		f[1] = 0x80 | (unsigned char)n;
	} else {
		f[1] = 0x80 | 126;
		f[2] = (unsigned char)(n >> 8);
		f[3] = (unsigned char)n;
		h = 4;
	}
	memcpy(f + h, ws_mask, 4);
	h += 4;
	for (int i = 0; i < n; i++)
		f[h + i] = (unsigned char)m[i] ^ ws_mask[i & 3];
	if (SSL_write(c->ssl, f, h + n) != h + n)
		die("send failed");
}

static void tx(struct conn *c, const char *fmt, ...)
{
	char out[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, sizeof(out), fmt, ap);
	va_end(ap);
	if (n <= 0 || n >= (int)sizeof(out))
		die("message too large");
	send_msg(c, out, n);
}

/* Via's transport and the Contact's transport parameter */
static const char *via_tp(void)
{
	return ws_origin ? "WSS" : "TLS";
}
static const char *ct_tp(void)
{
	return ws_origin ? "ws" : "tls";
}

/* value of header name (case-insensitive, at line start) in msg[0..len); copied to out. */
static bool hdr(const char *m, size_t len, const char *name, char *out, size_t olen, int nth)
{
	size_t nl = strlen(name);
	const char *p = m, *end = m + len;
	while (p < end) {
		const char *eol = memmem(p, end - p, "\r\n", 2);
		if (!eol || eol == p)
			return false;
		if ((size_t)(eol - p) > nl && !strncasecmp(p, name, nl) && p[nl] == ':') {
			if (nth-- == 0) {
				const char *v = p + nl + 1;
				while (*v == ' ')
					v++;
				size_t n = eol - v < (long)olen - 1 ? (size_t)(eol - v) : olen - 1;
				memcpy(out, v, n);
				out[n] = '\0';
				return true;
			}
		}
		p = eol + 2;
	}
	return false;
}

static void param(const char *h, const char *name, char *out, size_t olen)
{
	out[0] = '\0';
	char key[32];
	snprintf(key, sizeof(key), "%s=", name);
	const char *p = h;
	while ((p = strcasestr(p, key))) {
		if (p == h || p[-1] == ' ' || p[-1] == ',')
			break;
		p++;
	}
	if (!p)
		return;
	p += strlen(key);
	bool q = *p == '"';
	if (q)
		p++;
	size_t n = strcspn(p, q ? "\"" : ", \r");
	if (n >= olen)
		n = olen - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

static void auth_line(const char *chal_hdr, const char *m, size_t len, const char *user,
		      const char *method, const char *uri, const char *out_hdr, char *out,
		      size_t olen)
{
	char ch[512], best[512] = "";
	for (int i = 0; hdr(m, len, chal_hdr, ch, sizeof(ch), i); i++) {
		char alg[16];
		param(ch, "algorithm", alg, sizeof(alg));
		if (!best[0] || !strcasecmp(alg, "MD5"))
			snprintf(best, sizeof(best), "%s", ch);
	}
	char realm[64], nonce[128], alg[16], ha1[SP_DIGEST_HEX_MAX], resp[SP_DIGEST_HEX_MAX];
	param(best, "realm", realm, sizeof(realm));
	param(best, "nonce", nonce, sizeof(nonce));
	param(best, "algorithm", alg, sizeof(alg));
	int a = sp_digest_alg_parse(alg);
	if (a < 0)
		a = SP_DIGEST_MD5;
	sp_digest_ha1(a, user, realm, password, ha1);
	sp_digest_response(a, ha1, method, uri, nonce, "00000001", "0a4f113b", "auth", resp);
	snprintf(out, olen,
		 "%s: Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", "
		 "response=\"%s\", algorithm=%s, qop=auth, nc=00000001, cnonce=\"0a4f113b\"\r\n",
		 out_hdr, user, realm, nonce, uri, resp, sp_digest_alg_name(a));
}

static const char sdp_offer[] =
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 40000 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n";
static const char sdp_answer[] =
    "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 42000 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj\r\n";

/* A Chrome offer and answer for one microphone, as JsSIP sends them once gathering is done
 * (no trickle): BUNDLE of one, the candidates on TEST-NET-2 addresses (no ICE check
 * reaches them: calls end before media anyway). */
#define CHROME_SDP(SESS, ADDR, PORT, UFRAG, PWD, SETUP, SSRC)                                      \
	"v=0\r\no=- " SESS " 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"           \
	"a=extmap-allow-mixed\r\na=msid-semantic: WMS 3d6ac8f4-5e1b-4f1c-9b83-4a8d7e9f2c11\r\n"    \
	"m=audio " PORT " UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\nc=IN IP4 " ADDR "\r\n"      \
	"a=rtcp:9 IN IP4 0.0.0.0\r\na=candidate:1467250027 1 udp 2122260223 " ADDR " " PORT        \
	" typ host generation 0 network-id 1\r\na=ice-ufrag:" UFRAG "\r\na=ice-pwd:" PWD           \
	"\r\na=ice-options:trickle\r\na=fingerprint:sha-256 "                                      \
	"7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:"  \
	"2C:19:08\r\na=setup:" SETUP "\r\na=mid:0\r\n"                                             \
	"a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"                               \
	"a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"                \
	"a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n" \
	"a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\na=sendrecv\r\n"                         \
	"a=msid:3d6ac8f4-5e1b-4f1c-9b83-4a8d7e9f2c11 7f3e2a10-8c4d-4b6e-a1f2-5d9c0b7e6a34\r\n"     \
	"a=rtcp-mux\r\na=rtcp-rsize\r\na=rtpmap:111 opus/48000/2\r\na=rtcp-fb:111 "                \
	"transport-cc\r\n"                                                                         \
	"a=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:63 red/48000/2\r\n"                     \
	"a=fmtp:63 111/111\r\na=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\n"                    \
	"a=rtpmap:8 PCMA/8000\r\na=rtpmap:13 CN/8000\r\na=rtpmap:110 telephone-event/48000\r\n"    \
	"a=rtpmap:126 telephone-event/8000\r\na=ssrc:" SSRC " cname:Zf3kP9q2LmN8xV1c\r\n"          \
	"a=ssrc:" SSRC " msid:3d6ac8f4-5e1b-4f1c-9b83-4a8d7e9f2c11 "                               \
	"7f3e2a10-8c4d-4b6e-a1f2-5d9c0b7e6a34\r\n"
static const char chrome_offer[] =
    CHROME_SDP("7318372923561839001", "198.51.100.20", "50000", "Xm3k", "q9Zl0vbd7pG2s1kTxWcRj8uH",
	       "actpass", "1001");
static const char chrome_answer[] =
    CHROME_SDP("5520981134287750112", "198.51.100.21", "50002", "Pq7w", "b4Hs8mZq1LxT0cVn6yRk2eJd",
	       "active", "2002");

static const char *offer(void)
{
	return webrtc ? chrome_offer : sdp_offer;
}
static const char *answer(void)
{
	return webrtc ? chrome_answer : sdp_answer;
}

static void send_register(struct conn *c, const char *user, const char *auth, unsigned cseq)
{
	tx(c,
	   "REGISTER sip:poprelay SIP/2.0\r\nVia: SIP/2.0/%s %s;branch=z9hG4bK%u.%u.%u;rport\r\n"
	   "Max-Forwards: 70\r\nFrom: <sip:%s@poprelay>;tag=%s\r\nTo: <sip:%s@poprelay>\r\n"
	   "Call-ID: %s\r\nCSeq: %u REGISTER\r\nContact: <sip:%s@%s;transport=%s>\r\n"
	   "Expires: 3600\r\n%sUser-Agent: sipload\r\nContent-Length: 0\r\n\r\n",
	   via_tp(), c->local, c->fd, c->seq, cseq, user, c->tag, user, c->call_id, cseq, user,
	   c->local, ct_tp(), auth ? auth : "");
}

static void send_invite(struct conn *c, const char *auth, unsigned cseq)
{
	char user[32];
	snprintf(user, sizeof(user), "user%u", c->user);
	tx(c,
	   "INVITE sip:%s@poprelay SIP/2.0\r\nVia: SIP/2.0/%s %s;branch=z9hG4bK%u.%u.i%u;rport\r\n"
	   "Max-Forwards: 70\r\nFrom: <sip:%s@poprelay>;tag=%s\r\nTo: <sip:%s@poprelay>\r\n"
	   "Call-ID: %s\r\nCSeq: %u INVITE\r\nContact: <sip:%s@%s;transport=%s>\r\n%s"
	   "User-Agent: sipload\r\nContent-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%s",
	   callee_user, via_tp(), c->local, c->fd, c->seq, cseq, user, c->tag, callee_user,
	   c->call_id, cseq, user, c->local, ct_tp(), auth ? auth : "", strlen(offer()), offer());
}

static void in_dialog(struct conn *c, const char *method, unsigned cseq)
{
	char user[32];
	snprintf(user, sizeof(user), "user%u", c->user);
	tx(c,
	   "%s %s SIP/2.0\r\nVia: SIP/2.0/%s %s;branch=z9hG4bK%u.%u.%s%u;rport\r\n%s"
	   "Max-Forwards: 70\r\nFrom: <sip:%s@poprelay>;tag=%s\r\nTo: %s\r\nCall-ID: %s\r\n"
	   "CSeq: %u %s\r\nContent-Length: 0\r\n\r\n",
	   method, c->ruri, via_tp(), c->local, c->fd, c->seq, method, cseq, c->routes, user,
	   c->tag, c->to_hdr, c->call_id, cseq, method);
}

static void start_next(struct conn *c)
{
	if (started_n >= target_n) {
		c->step = S_IDLE;
		return;
	}
	started_n++;
	c->seq++;
	if (!ws_origin) /* a browser calls as the user it registered */
		c->user = (unsigned)(started_n % nusers);
	snprintf(c->call_id, sizeof(c->call_id), "%d-%u-%lu@sipload", c->fd, c->seq, started_n);
	snprintf(c->tag, sizeof(c->tag), "t%u.%u", c->fd, c->seq);
	if (mode == M_REGISTER) {
		char user[32];
		snprintf(user, sizeof(user), "user%u", c->user);
		send_register(c, user, NULL, 1);
		c->step = S_REG1;
	} else {
		send_invite(c, NULL, 1);
		c->step = S_INV1;
	}
}

/* Builds ACK/BYE targets from a 2xx: Contact and the reversed Record-Route set. */
static void dialog_from(struct conn *c, const char *m, size_t len)
{
	char v[512], rr[8][256];
	int n = 0;
	hdr(m, len, "To", c->to_hdr, sizeof(c->to_hdr), 0);
	if (hdr(m, len, "Contact", v, sizeof(v), 0)) {
		char *lt = strchr(v, '<'), *gt = lt ? strchr(lt, '>') : NULL;
		if (lt && gt) {
			*gt = '\0';
			snprintf(c->ruri, sizeof(c->ruri), "%s", lt + 1);
		}
	}
	while (n < 8 && hdr(m, len, "Record-Route", rr[n], sizeof(rr[n]), n))
		n++;
	c->routes[0] = '\0';
	for (int i = n - 1; i >= 0; i--) {
		size_t l = strlen(c->routes);
		snprintf(c->routes + l, sizeof(c->routes) - l, "Route: %s\r\n", rr[i]);
	}
}

/* The BYE now, or after -H */
static void hang_up(struct conn *c, unsigned cseq)
{
	if (hold_s > 0) {
		c->bye_at = now_s() + hold_s;
		c->bye_cseq = cseq;
		c->step = S_HOLD;
		return;
	}
	in_dialog(c, "BYE", cseq);
	c->step = S_BYE;
}

static void callee_reply(struct conn *c, const char *m, size_t len, bool invite)
{
	char out[4096], v[1024];
	int n = snprintf(out, sizeof(out), "SIP/2.0 200 OK\r\n");
	for (int i = 0; hdr(m, len, "Via", v, sizeof(v), i); i++)
		n += snprintf(out + n, sizeof(out) - n, "Via: %s\r\n", v);
	for (int i = 0; hdr(m, len, "Record-Route", v, sizeof(v), i); i++)
		n += snprintf(out + n, sizeof(out) - n, "Record-Route: %s\r\n", v);
	hdr(m, len, "From", v, sizeof(v), 0);
	n += snprintf(out + n, sizeof(out) - n, "From: %s\r\n", v);
	hdr(m, len, "To", v, sizeof(v), 0);
	n += snprintf(out + n, sizeof(out) - n, "To: %s%s\r\n", v,
		      invite && !strstr(v, "tag=") ? ";tag=callee1" : "");
	hdr(m, len, "Call-ID", v, sizeof(v), 0);
	n += snprintf(out + n, sizeof(out) - n, "Call-ID: %s\r\n", v);
	hdr(m, len, "CSeq", v, sizeof(v), 0);
	n += snprintf(out + n, sizeof(out) - n, "CSeq: %s\r\nContact: <sip:%s@%s;transport=%s>\r\n",
		      v, callee_user, c->local, ct_tp());
	if (invite)
		n += snprintf(out + n, sizeof(out) - n,
			      "Content-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%s",
			      strlen(answer()), answer());
	else
		n += snprintf(out + n, sizeof(out) - n, "Content-Length: 0\r\n\r\n");
	if (n >= (int)sizeof(out))
		die("answer too large");
	send_msg(c, out, n);
}

static void on_msg(struct conn *c, const char *m, size_t len)
{
	if (dump_sdp && memmem(m, len, "\r\n\r\nv=0", 7)) {
		fprintf(stderr, "%.*s\n", (int)len, m);
		dump_sdp = false;
	}
	int code = 0;
	if (!strncmp(m, "SIP/2.0 ", 8))
		code = atoi(m + 8);
	char user[32], auth[1024];
	snprintf(user, sizeof(user), "user%u", c->user);
	if (mode == M_CALLEE) {
		if (c->step == S_REG1 && code == 401) {
			auth_line("WWW-Authenticate", m, len, callee_user, "REGISTER",
				  "sip:poprelay", "Authorization", auth, sizeof(auth));
			send_register(c, callee_user, auth, 2);
			c->step = S_REG2;
		} else if (c->step == S_REG2 && code >= 200) {
			if (code != 200)
				die("callee registration failed: %d", code);
			printf("registered\n");
			fflush(stdout);
			c->step = S_CALLEE;
		} else if (c->step == S_CALLEE && !code) {
			if (!strncmp(m, "INVITE ", 7))
				callee_reply(c, m, len, true);
			else if (!strncmp(m, "BYE ", 4) || !strncmp(m, "OPTIONS ", 8))
				callee_reply(c, m, len, false);
		}
		return;
	}
	if (code < 200)
		return;
	if (acked_f && ((c->step == S_REG1 && code != 401) || (c->step == S_REG2 && code != 200))) {
		storm_fail(c, code);
		return;
	}
	switch (c->step) {
	case S_REG1:
		if (code != 401)
			die("REGISTER: expected 401, got %d", code);
		auth_line("WWW-Authenticate", m, len, user, "REGISTER", "sip:poprelay",
			  "Authorization", auth, sizeof(auth));
		send_register(c, user, auth, 2);
		c->step = S_REG2;
		break;
	case S_REG2:
		if (code != 200)
			die("REGISTER: expected 200, got %d", code);
		if (prereg) { /* a browser registered: it calls once all have */
			reg_n++;
			c->step = S_IDLE;
			break;
		}
		done_n++;
		if (acked_f) /* flushed: what a crash of ours leaves is still the truth */
			fprintf(acked_f, "%s %s\n", user, c->local), fflush(acked_f);
		if (kill_pid && done_n > kill_after)
			acked_after_kill++;
		if (kill_pid && done_n == kill_after) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			if (kill(kill_pid, SIGKILL) < 0)
				die("kill %d: %s", (int)kill_pid, strerror(errno));
			fprintf(stderr, "killed %d at %ld.%03ld after %lu\n", (int)kill_pid,
				(long)ts.tv_sec, ts.tv_nsec / 1000000, done_n);
		}
		if (mode == M_STORM)
			c->step = S_IDLE; /* registered: the device stays connected */
		else
			start_next(c);
		break;
	case S_INV1: {
		if (code == 200 && ws_origin) {
			/* a server may take the browser's registered flow as authenticated
			 * (the slowpath does: docs/slowpath.md, "Calls") */
			dialog_from(c, m, len);
			in_dialog(c, "ACK", 1);
			hang_up(c, 2);
			break;
		}
		if (code != 407)
			die("INVITE: expected 407, got %d", code);
		/* ACK the 407 (same branch: the INVITE's) */
		char to[512];
		hdr(m, len, "To", to, sizeof(to), 0);
		tx(c,
		   "ACK sip:%s@poprelay SIP/2.0\r\nVia: SIP/2.0/TLS "
		   "%s;branch=z9hG4bK%u.%u.i1;rport\r\n"
		   "Max-Forwards: 70\r\nFrom: <sip:%s@poprelay>;tag=%s\r\nTo: %s\r\nCall-ID: %s\r\n"
		   "CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
		   callee_user, c->local, c->fd, c->seq, user, c->tag, to, c->call_id);
		char uri[128];
		snprintf(uri, sizeof(uri), "sip:%s@poprelay", callee_user);
		auth_line("Proxy-Authenticate", m, len, user, "INVITE", uri, "Proxy-Authorization",
			  auth, sizeof(auth));
		send_invite(c, auth, 2);
		c->step = S_INV2;
		break;
	}
	case S_INV2:
		if (code != 200)
			die("INVITE: expected 200, got %d", code);
		dialog_from(c, m, len);
		in_dialog(c, "ACK", 2);
		hang_up(c, 3);
		break;
	case S_BYE:
		if (code != 200)
			die("BYE: expected 200, got %d", code);
		done_n++;
		start_next(c);
		break;
	default:
		break;
	}
}

static void conn_open(struct conn *c)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, host, &sa.sin_addr);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect %s:%d: %s", host, port, strerror(errno));
	struct sockaddr_in la;
	socklen_t ll = sizeof(la);
	getsockname(c->fd, (struct sockaddr *)&la, &ll);
	char ip[32];
	inet_ntop(AF_INET, &la.sin_addr, ip, sizeof(ip));
	snprintf(c->local, sizeof(c->local), "%s:%u", ip, ntohs(la.sin_port));
	c->seq = seq_base;
	c->ssl = SSL_new(ctx);
	SSL_set_fd(c->ssl, c->fd);
	if (SSL_connect(c->ssl) != 1)
		die("TLS handshake with %s:%d failed", host, port);
	if (!ws_origin)
		return;
	/* the upgrade (RFC 6455 4.1), as a browser's page asks for it */
	char req[512];
	int n = snprintf(req, sizeof(req),
			 "GET / HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			 "Sec-WebSocket-Version: 13\r\nOrigin: %s\r\n"
			 "Sec-WebSocket-Protocol: sip\r\n\r\n",
			 host, port, ws_origin);
	if (SSL_write(c->ssl, req, n) != n)
		die("send failed");
	char *end = NULL;
	while (!end) {
		int r = SSL_read(c->ssl, c->buf + c->len, (int)(sizeof(c->buf) - c->len - 1));
		if (r <= 0)
			die("WebSocket upgrade: connection closed by the server");
		c->len += (size_t)r;
		c->buf[c->len] = '\0';
		end = strstr(c->buf, "\r\n\r\n");
		if (!end && c->len > 4096)
			die("WebSocket upgrade: no end of the answer's headers");
	}
	if (strncmp(c->buf, "HTTP/1.1 101", 12))
		die("WebSocket upgrade refused: %.*s", (int)strcspn(c->buf, "\r"), c->buf);
	size_t used = (size_t)(end + 4 - c->buf);
	memmove(c->buf, c->buf + used, c->len - used);
	c->len -= used;
}

static void conn_read(struct conn *c)
{
	int n = SSL_read(c->ssl, c->buf + c->len, (int)(sizeof(c->buf) - c->len - 1));
	if (n <= 0 && SSL_get_error(c->ssl, n) == SSL_ERROR_WANT_READ)
		return; /* storm: non-blocking, a record not complete yet */
	if (n <= 0 && acked_f && c->step != S_IDLE) {
		storm_fail(c, 0);
		return;
	}
	if (n <= 0 && acked_f) { /* an acknowledged device's flow closed later: not counted */
		storm_close(c);
		return;
	}
	if (n <= 0)
		die("connection closed by the server");
	c->len += (size_t)n;
	while (ws_origin) {
		/* server frames: unmasked, one message each (a mask is undone all the same) */
		unsigned char *f = (unsigned char *)c->buf;
		if (c->len < 2)
			return;
		size_t h = 2, plen = f[1] & 0x7f;
		if (plen == 126) {
			if (c->len < 4)
				return;
			plen = (size_t)f[2] << 8 | f[3];
			h = 4;
		} else if (plen == 127) {
			die("WebSocket frame of 64 KiB or more");
		}
		bool masked = f[1] & 0x80;
		if (c->len < h + (masked ? 4 : 0) + plen)
			return;
		unsigned char *pl = f + h + (masked ? 4 : 0);
		if (masked)
			for (size_t i = 0; i < plen; i++)
				pl[i] ^= f[h + (i & 3)];
		switch (f[0] & 0x0f) {
		case 1:
		case 2:
			if (!(f[0] & 0x80))
				die("fragmented WebSocket message");
			on_msg(c, (char *)pl, plen);
			break;
		case 8:
			die("WebSocket closed by the server");
		case 9: { /* ping: pong with its payload */
			unsigned char pong[2 + 4 + 125];
			pong[0] = 0x8a;
			pong[1] = 0x80 | (unsigned char)plen;
			memcpy(pong + 2, ws_mask, 4);
			for (size_t i = 0; i < plen && i < 125; i++)
				pong[6 + i] = pl[i] ^ ws_mask[i & 3];
			SSL_write(c->ssl, pong, (int)(6 + plen));
			break;
		}
		default:
			break;
		}
		size_t used = (size_t)(pl - f) + plen;
		memmove(c->buf, c->buf + used, c->len - used);
		c->len -= used;
	}
	for (;;) {
		size_t skip;
		unsigned pings;
		int m = sp_msg_frame(c->buf, c->len, &skip, &pings);
		if (m < 0)
			die("bad framing from the server");
		if (m == 0) {
			memmove(c->buf, c->buf + skip, c->len - skip);
			c->len -= skip;
			return;
		}
		on_msg(c, c->buf + skip, (size_t)m);
		memmove(c->buf, c->buf + skip + m, c->len - skip - m);
		c->len -= skip + m;
	}
}

static void storm_local(struct conn *c)
{
	struct sockaddr_in la;
	socklen_t ll = sizeof(la);
	getsockname(c->fd, (struct sockaddr *)&la, &ll);
	char ip[32];
	inet_ntop(AF_INET, &la.sin_addr, ip, sizeof(ip));
	snprintf(c->local, sizeof(c->local), "%s:%u", ip, ntohs(la.sin_port));
}

static void storm_open(struct conn *c, unsigned i, int ep)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, host, &sa.sin_addr);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		die("socket: %s", strerror(errno));
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* every device from an address of its own (127.1.0.1 on: loopback answers all of
	 * 127/8), as devices behind many NATs; nor do N runs exhaust one address's ports */
	struct sockaddr_in src = {.sin_family = AF_INET,
				  .sin_addr.s_addr =
				      htonl(0x7f010000u | ((i / 250) << 8) | (i % 250 + 1))};
	if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)) < 0)
		die("bind 127.1.x.y: %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
		die("connect %s:%d: %s", host, port, strerror(errno));
	c->user = i % nusers;
	c->seq = seq_base + i;
	c->step = S_CONNECTING;
	struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.u32 = i};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		die("epoll_ctl: %s", strerror(errno));
}

/* Returns true once the handshake is done (the REGISTER went out). */
static bool storm_step(struct conn *c)
{
	if (c->step == S_CONNECTING) {
		int err = 0;
		socklen_t el = sizeof(err);
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err && acked_f) {
			storm_fail(c, 0);
			return false;
		}
		if (err)
			die("connect %s:%d: %s", host, port, strerror(err));
		storm_local(c);
		c->ssl = SSL_new(ctx);
		SSL_set_fd(c->ssl, c->fd);
		c->step = S_HANDSHAKE;
	}
	if (c->step == S_HANDSHAKE) {
		int r = SSL_connect(c->ssl);
		if (r != 1) {
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				return false;
			if (acked_f) {
				storm_fail(c, 0);
				return false;
			}
			die("TLS handshake with %s:%d failed", host, port);
		}
		char user[32];
		snprintf(user, sizeof(user), "user%u", c->user);
		snprintf(c->call_id, sizeof(c->call_id), "storm-%u-%u@sipload", c->fd, c->seq);
		snprintf(c->tag, sizeof(c->tag), "s%u.%u", c->fd, c->seq);
		send_register(c, user, NULL, 1);
		c->step = S_REG1;
		return true;
	}
	if (c->step == S_REG1 || c->step == S_REG2 || c->step == S_IDLE)
		conn_read(c);
	return false;
}

static void run_storm(unsigned window)
{
	struct conn *cs = calloc(target_n, sizeof(*cs));
	struct epoll_event evs[256];
	int ep = epoll_create1(0);
	if (!cs || ep < 0)
		die("out of memory");
	unsigned next = 0, opening = 0;
	double t0 = now_s();
	while (done_n + fail503_n + failother_n < target_n) {
		while (next < target_n && opening < window) {
			storm_open(&cs[next], next, ep);
			next++;
			opening++;
		}
		int n = epoll_wait(ep, evs, 256, 30000);
		if (n <= 0)
			die("timeout: %lu of %lu registered", done_n, target_n);
		for (int k = 0; k < n; k++) {
			struct conn *c = &cs[evs[k].data.u32];
			if (c->step == S_FAILED)
				continue; /* an event read before its close */
			bool opening_now = c->step == S_CONNECTING || c->step == S_HANDSHAKE;
			if (storm_step(c)) {
				/* handshake done: only reads from now on */
				struct epoll_event ev = {.events = EPOLLIN,
							 .data.u32 = evs[k].data.u32};
				epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
				opening--;
			} else if (opening_now && c->step == S_FAILED) {
				opening--;
			}
			/* TLS may hold a whole record already read */
			while ((c->step == S_REG1 || c->step == S_REG2 || c->step == S_IDLE) &&
			       SSL_pending(c->ssl))
				conn_read(c);
		}
	}
	double dt = now_s() - t0;
	if (kill_pid)
		fprintf(stderr, "%lu acknowledged after the kill\n", acked_after_kill);
	if (acked_f)
		printf("%lu %.3f %.1f %lu %lu\n", done_n, dt, done_n / dt, fail503_n, failother_n);
	else
		printf("%lu %.3f %.1f\n", done_n, dt, done_n / dt);
}

/* utime + stime of each -p file, in clock ticks */
static void cpu_ticks(unsigned long long *t)
{
	for (unsigned i = 0; i < ncpu_files; i++) {
		char b[2048];
		FILE *f = fopen(cpu_files[i], "r");
		if (!f)
			die("cannot read %s", cpu_files[i]);
		size_t n = fread(b, 1, sizeof(b) - 1, f);
		fclose(f);
		b[n] = '\0';
		char *p = strrchr(b, ')'); /* comm may hold spaces */
		unsigned long long ut, st;
		if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
				 &ut, &st) != 2)
			die("cannot parse %s", cpu_files[i]);
		t[i] = ut + st;
	}
}

int main(int argc, char **argv)
{
	int opt;
	while ((opt = getopt(argc, argv, "+w:rp:H:da:k:")) != -1) {
		if (opt == 'a') {
			if (!(acked_f = fopen(optarg, "w")))
				die("cannot write %s: %s", optarg, strerror(errno));
		} else if (opt == 'k') {
			long p = 0;
			if (sscanf(optarg, "%lu:%ld", &kill_after, &p) != 2 || !kill_after ||
			    p <= 0)
				die("-k N:PID, not %s", optarg);
			kill_pid = (pid_t)p;
		} else if (opt == 'd')
			dump_sdp = true;
		else if (opt == 'H')
			hold_s = atoi(optarg) / 1000.0;
		else if (opt == 'w')
			ws_origin = optarg;
		else if (opt == 'r')
			webrtc = true;
		else if (opt == 'p' && ncpu_files < 16)
			cpu_files[ncpu_files++] = optarg;
		else
			die("sipload [-w ORIGIN] [-r] [-H MS] [-d] [-a FILE] [-k N:PID] "
			    "[-p /proc/PID/stat]... MODE ...");
	}
	argc -= optind - 1;
	argv += optind - 1;
	if (argc < 6)
		die("usage: sipload register|call|storm HOST PORT CAFILE PASSWORD NUSERS N C | "
		    "sipload callee HOST PORT CAFILE USER PASSWORD");
	mode = !strcmp(argv[1], "register") ? M_REGISTER
	       : !strcmp(argv[1], "call")   ? M_CALL
	       : !strcmp(argv[1], "storm")  ? M_STORM
					    : M_CALLEE;
	host = argv[2];
	port = atoi(argv[3]);
	cafile = argv[4];
	unsigned nconn = 1;
	callee_user = "callee";
	if (mode == M_CALLEE) {
		if (argc < 7)
			die("sipload callee HOST PORT CAFILE USER PASSWORD");
		callee_user = argv[5];
		password = argv[6];
	} else {
		if (argc < 9)
			die("sipload %s HOST PORT CAFILE PASSWORD NUSERS N C", argv[1]);
		password = argv[5];
		nusers = (unsigned)atoi(argv[6]);
		target_n = strtoul(argv[7], NULL, 10);
		nconn = (unsigned)atoi(argv[8]);
		if (!nusers || !target_n || !nconn || nconn > 20000 ||
		    (mode == M_STORM && target_n > 100000))
			die("bad NUSERS/N/C");
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN); /* a closed flow is reported by SSL_write, not a signal */
	seq_base = ((unsigned)time(NULL) * 2654435761u) ^ ((unsigned)getpid() << 8);
	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1)
		die("cannot load %s", cafile);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (RAND_bytes(ws_mask, sizeof(ws_mask)) != 1)
		die("RAND_bytes");
	if ((acked_f || kill_pid) && mode != M_STORM)
		die("-a and -k are for storm mode");
	if (mode == M_STORM) {
		if (ws_origin)
			die("storm is over TLS only");
		run_storm(nconn);
		return 0;
	}
	struct conn *cs = calloc(nconn, sizeof(*cs));
	struct pollfd *pf = calloc(nconn, sizeof(*pf));
	for (unsigned i = 0; i < nconn; i++) {
		conn_open(&cs[i]);
		cs[i].user = i % (nusers ? nusers : 1);
	}
	if (mode == M_CALL && ws_origin) {
		/* the browsers register before they call */
		prereg = true;
		for (unsigned i = 0; i < nconn; i++) {
			char user[32];
			snprintf(user, sizeof(user), "user%u", cs[i].user);
			snprintf(cs[i].call_id, sizeof(cs[i].call_id), "reg-%d-%u@sipload",
				 cs[i].fd, cs[i].seq);
			snprintf(cs[i].tag, sizeof(cs[i].tag), "r%u.%u", cs[i].fd, cs[i].seq);
			send_register(&cs[i], user, NULL, 1);
			cs[i].step = S_REG1;
		}
		while (reg_n < nconn) {
			for (unsigned i = 0; i < nconn; i++) {
				pf[i].fd = cs[i].fd;
				pf[i].events = POLLIN;
			}
			if (poll(pf, nconn, 30000) <= 0)
				die("timeout: %lu of %u browsers registered", reg_n, nconn);
			for (unsigned i = 0; i < nconn; i++)
				if (pf[i].revents)
					conn_read(&cs[i]);
		}
		prereg = false;
	}
	unsigned long long t0c[16];
	cpu_ticks(t0c);
	double t0 = now_s(), last_t = t0;
	unsigned long last_done = 0;
	if (mode == M_CALLEE) {
		snprintf(cs[0].call_id, sizeof(cs[0].call_id), "callee-%d@sipload", getpid());
		snprintf(cs[0].tag, sizeof(cs[0].tag), "callee");
		send_register(&cs[0], callee_user, NULL, 1);
		cs[0].step = S_REG1;
	} else {
		for (unsigned i = 0; i < nconn; i++)
			start_next(&cs[i]);
	}
	while (mode == M_CALLEE || done_n < target_n) {
		for (unsigned i = 0; i < nconn; i++) {
			pf[i].fd = cs[i].fd;
			pf[i].events = POLLIN;
			if (SSL_pending(cs[i].ssl))
				conn_read(&cs[i]);
		}
		/* holding calls: wake up every 2 ms for their BYEs; 30 s without a call
		 * done is a stall either way */
		int pr = poll(pf, nconn, hold_s > 0 ? 2 : 30000);
		if (done_n != last_done) {
			last_done = done_n;
			last_t = now_s();
		}
		if (pr < 0 || (pr == 0 && hold_s == 0) ||
		    (mode != M_CALLEE && now_s() - last_t > 30))
			die("timeout: %lu of %lu done", done_n, target_n);
		for (unsigned i = 0; i < nconn; i++)
			if (pf[i].revents)
				conn_read(&cs[i]);
		if (hold_s > 0) {
			double t = now_s();
			for (unsigned i = 0; i < nconn; i++)
				if (cs[i].step == S_HOLD && t >= cs[i].bye_at) {
					in_dialog(&cs[i], "BYE", cs[i].bye_cseq);
					cs[i].step = S_BYE;
				}
		}
	}
	double dt = now_s() - t0;
	if (ncpu_files) {
		unsigned long long t1[16];
		cpu_ticks(t1);
		double hz = (double)sysconf(_SC_CLK_TCK), sum = 0;
		for (unsigned i = 0; i < ncpu_files; i++)
			sum += (double)(t1[i] - t0c[i]) / hz;
		printf("%lu %.3f %.1f %.2f", done_n, dt, done_n / dt, sum);
		for (unsigned i = 0; i < ncpu_files; i++)
			printf(" %.2f", (double)(t1[i] - t0c[i]) / hz);
		printf("\n");
	} else
		printf("%lu %.3f %.1f\n", done_n, dt, done_n / dt);
	return 0;
}
