/* SPDX-License-Identifier: BSD-3-Clause */
/* Every message from every transport arrives here: rate limit, parse (400 or drop),
 * scanner refusal, UDP retransmission absorption (RFC 3261 17.2: a retransmitted request
 * gets the same final response again), then the registrar or the call layer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include "common/log.h"
#include "slowpath/sp_server.h"

#define SP_TXN_SLOTS  8192
#define SP_TXN_LIFE_S 32 /* Timer J / 64*T1 */

struct txn_slot {
	char key[200];
	int64_t expires;
	char *resp;
	size_t resp_len;
};
static struct txn_slot *txns;

void sp_token(char *out, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	uint8_t r[32];
	if (n > 63)
		n = 63;
	if (sp_random(r, (n + 1) / 2) < 0)
		RAND_bytes(r, (int)((n + 1) / 2));
	for (size_t i = 0; i < n; i++)
		out[i] = hx[(r[i / 2] >> ((i & 1) * 4)) & 15];
	out[n] = '\0';
}

static bool txn_key(const struct sp_conn *c, const osip_message_t *m, char *key, size_t len)
{
	const char *br = sp_msg_branch(m);
	if (!br || strncmp(br, "z9hG4bK", 7))
		return false;
	int n = snprintf(key, len, "%s|%s|%s|%u", br, m->sip_method, c->peer_ip, c->peer_port);
	return n > 0 && (size_t)n < len;
}

static struct txn_slot *txn_slot(const char *key)
{
	if (!txns) {
		txns = calloc(SP_TXN_SLOTS, sizeof(*txns));
		if (!txns)
			return NULL;
	}
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = key; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ULL;
	return &txns[h % SP_TXN_SLOTS];
}

/* UDP only: true when m retransmits a request we already answered (answer resent). */
static bool txn_retransmission(struct sp_server *s, struct sp_conn *c, const osip_message_t *m)
{
	char key[200];
	if (c->tp != SP_UDP || !txn_key(c, m, key, sizeof(key)))
		return false;
	struct txn_slot *t = txn_slot(key);
	if (!t || strcmp(t->key, key) || t->expires < sp_now())
		return false;
	if (t->resp) {
		struct sp_dest d;
		sp_dest_from_conn(c, &d);
		sp_send(s, &d, t->resp, t->resp_len);
	}
	return true;
}

static void txn_remember(const struct sp_conn *c, const osip_message_t *req, const struct sp_buf *b)
{
	char key[200];
	if (c->tp != SP_UDP || !txn_key(c, req, key, sizeof(key)) || !b->p)
		return;
	struct txn_slot *t = txn_slot(key);
	if (!t)
		return;
	free(t->resp);
	snprintf(t->key, sizeof(t->key), "%s", key);
	t->expires = sp_now() + SP_TXN_LIFE_S;
	t->resp = malloc(b->len);
	t->resp_len = t->resp ? b->len : 0;
	if (t->resp)
		memcpy(t->resp, b->p, b->len);
}

void sp_respond(struct sp_server *s, struct sp_conn *c, const osip_message_t *req, int code,
		const char *extra)
{
	struct sp_buf b = {0};
	char tag[17];
	sp_token(tag, 16);
	if (sp_msg_response(&b, req, code, NULL, tag, extra, NULL, NULL, 0) == 0) {
		sp_reply(s, c, &b);
		if (code >= 200)
			txn_remember(c, req, &b);
	}
	sp_buf_free(&b);
}

/* At most one line per second for floods (the counters carry the totals). */
enum { LOG_RATE, LOG_UNPARSEABLE, LOG_MALFORMED, LOG_SCANNER, LOG_REDIS, LOG_KINDS };
static bool log_ok(int kind)
{
	static int64_t last[LOG_KINDS];
	int64_t now = sp_now_ms();
	if (last[kind] && now - last[kind] < 1000)
		return false;
	last[kind] = now;
	return true;
}

void sp_respond_redis_down(struct sp_server *s, struct sp_conn *c, const osip_message_t *req,
			   const char *what, int rc)
{
	s->ctr.redis_errors++;
	/* what comes back by itself: the connection, a timeout, a loading, busy or read-only
	 * (failing over) server, its memory; not a malformed record or a refused ACL */
	if (rc != -EIO && rc != -ETIMEDOUT && rc != -EAGAIN && rc != -EROFS && rc != -ENOMEM &&
	    rc != -ECONNREFUSED) {
		PR_ERR("redis: %s failed (%s): answering %s from %s:%u with 500", what,
		       pr_ks_errmsg(), req->sip_method, c->peer_ip, c->peer_port);
		sp_respond(s, c, req, 500, NULL);
		return;
	}
	s->ctr.redis_unavailable++;
	if (log_ok(LOG_REDIS))
		PR_ERR("redis: %s failed (%s): answering %s from %s:%u with 503, Retry-After %d",
		       what, pr_ks_errmsg(), req->sip_method, c->peer_ip, c->peer_port,
		       SP_REDIS_RETRY_AFTER_S);
	/* RFC 3261 21.5.4: a temporary failure; the device retries, here or at another PoP */
	char extra[64];
	snprintf(extra, sizeof(extra), "Retry-After: %d\r\n", SP_REDIS_RETRY_AFTER_S);
	sp_respond(s, c, req, 503, extra);
}

void sp_dispatch(struct sp_server *s, struct sp_conn *c, const char *raw, size_t len)
{
	s->ctr.rx_msgs++;
	osip_message_t *m = NULL;
	int status;
	const char *why;
	int rc;
	if (!sp_guard_admit(s, c, sp_now_ms())) {
		s->ctr.rate_limited++;
		if (log_ok(LOG_RATE))
			PR_WARN("rate limit: dropping requests from %s (%s), over %u/s%s",
				c->peer_ip, sp_transport_name(c->tp), s->cfg.rate_limit_rps,
				c->tp == SP_UDP ? "" : ", each answered 503");
		/* A stream flow's source address is proven by its handshake: tell it when to
		 * come back (RFC 3261 21.5.4). A datagram's may be forged: an answer would
		 * reflect a flood onto someone else, so it is dropped. */
		if (c->tp == SP_UDP || sp_msg_parse(raw, len, &m, &status, &why) != 0)
			return;
		if (MSG_IS_REQUEST(m) && strcmp(m->sip_method, "ACK"))
			sp_respond(s, c, m, 503, "Retry-After: 1\r\n");
		osip_message_free(m);
		return;
	}
	rc = sp_msg_parse(raw, len, &m, &status, &why);
	if (rc == -EBADMSG || rc == -ENOMEM) {
		s->ctr.rx_dropped_unparseable++;
		if (log_ok(LOG_UNPARSEABLE))
			PR_NOTICE("dropped unparseable message (%zu bytes) from %s:%u/%s: %s", len,
				  c->peer_ip, c->peer_port, sp_transport_name(c->tp),
				  why ? why : "out of memory");
		return;
	}
	/* RFC 7118 5: a WebSocket message is one SIP message, its length is the frame's */
	if (rc == 0 && c->tp != SP_UDP && c->tp != SP_WSS && MSG_IS_REQUEST(m) &&
	    !m->content_length) {
		rc = -EINVAL;
		status = 400;
		why = "missing Content-Length on a stream transport";
	}
	if (rc < 0) {
		if (MSG_IS_REQUEST(m) && strcmp(m->sip_method, "ACK")) {
			char extra[160];
			snprintf(extra, sizeof(extra), "Warning: 399 poprelay \"%s\"\r\n", why);
			sp_respond(s, c, m, status, extra);
		}
		s->ctr.rx_answered_400++;
		if (log_ok(LOG_MALFORMED))
			PR_NOTICE("answered %d to a malformed message from %s:%u/%s: %s", status,
				  c->peer_ip, c->peer_port, sp_transport_name(c->tp), why);
		osip_message_free(m);
		return;
	}
	if (MSG_IS_REQUEST(m))
		s->ctr.rx_req[sp_req_method_index(m->sip_method)]++;
	if (MSG_IS_RESPONSE(m)) {
		if (m->status_code >= 100 && m->status_code < 700)
			s->ctr.rx_resp[m->status_code / 100 - 1]++;
		sp_call_response(s, c, m);
		osip_message_free(m);
		return;
	}
	if (sp_guard_scanner(&s->cfg, sp_msg_header(m, "user-agent"))) {
		s->ctr.scanner_refused++;
		if (log_ok(LOG_SCANNER))
			PR_WARN("refused scanner User-Agent '%.60s' from %s:%u/%s",
				sp_msg_header(m, "user-agent"), c->peer_ip, c->peer_port,
				sp_transport_name(c->tp));
		if (strcmp(m->sip_method, "ACK"))
			sp_respond(s, c, m, 403, NULL);
		osip_message_free(m);
		return;
	}
	/* RFC 3261 8.2.2.3: an extension we do not support in Require -> 420 (libosip2 keeps
	 * each comma-separated option tag as its own header) */
	if (strcmp(m->sip_method, "ACK") && strcmp(m->sip_method, "CANCEL")) {
		char unsup[300] = "";
		osip_header_t *h = NULL;
		for (int pos = 0;
		     (pos = osip_message_header_get_byname(m, "require", pos, &h)) >= 0; pos++) {
			char tags[256];
			snprintf(tags, sizeof(tags), "%s", h && h->hvalue ? h->hvalue : "");
			char *save = NULL;
			for (char *t = strtok_r(tags, ", \t", &save); t;
			     t = strtok_r(NULL, ", \t", &save))
				if (strcasecmp(t, "outbound")) {
					size_t l = strlen(unsup);
					snprintf(unsup + l, sizeof(unsup) - l, "%s%s",
						 l ? ", " : "", t);
				}
		}
		if (unsup[0]) {
			char extra[360];
			snprintf(extra, sizeof(extra), "Unsupported: %s\r\n", unsup);
			sp_respond(s, c, m, 420, extra);
			osip_message_free(m);
			return;
		}
	}
	if (txn_retransmission(s, c, m)) {
		osip_message_free(m);
		return;
	}
	if (!strcmp(m->sip_method, "REGISTER")) {
		if (!sp_drain_refuse(s, c, m)) {
			sp_registrar_request(s, c, m); /* keeps m until Redis answered */
			return;
		}
	} else if (!strcmp(m->sip_method, "OPTIONS") && !sp_msg_to_tag(m)) {
		sp_respond(s, c, m, 200,
			   "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, UPDATE, INFO\r\n"
			   "Supported: outbound\r\n");
	} else if (sp_call_request(s, c, m)) {
		return; /* an INVITE keeps m until Redis answered */
	}
	osip_message_free(m);
}
