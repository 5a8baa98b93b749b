/* SPDX-License-Identifier: BSD-3-Clause */
/* Listeners and flows: TLS on [sip] tls_listen (TLS 1.2/1.3 only), SIP over secure WebSocket
 * on [sip] wss_listen (the same TLS context; RFC 7118, sp_ws.h), UDP and TCP on [sip] listen
 * for off-net parties, mutual-TLS links to peer PoPs. Stream framing, the WebSocket upgrade,
 * frames and pings, and RFC 5626 keepalive answers happen here; each complete message goes
 * to sp_dispatch. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "slowpath/sp_server.h"
#include "slowpath/sp_tls.h"
#include "slowpath/sp_tunables.h"
#include "slowpath/sp_ws.h"

#define SP_CONN_BUCKETS 16384

int64_t sp_now(void)
{
	return (int64_t)time(NULL);
}

uint64_t sp_conn_id_base(int64_t now_s, uint16_t tag)
{
	return (uint64_t)(tag & SP_CONN_TAG_MASK) << 48 |
	       ((uint64_t)now_s << 16 & SP_CONN_SEQ_MASK);
}

int64_t sp_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *sp_transport_name(enum sp_transport t)
{
	return t == SP_WSS ? "wss" : t == SP_TLS ? "tls" : t == SP_TCP ? "tcp" : "udp";
}

const char *sp_transport_param(enum sp_transport t)
{
	return t == SP_WSS ? "ws" : sp_transport_name(t);
}

/* A WSS flow's WebSocket side: before the upgrade (open false) its bytes are the HTTP
 * request; after, frames. closing: a close frame or an HTTP refusal is queued, the flow is
 * freed once it is written (ws_close_after_write). */
struct sp_ws_flow {
	bool open, closing;
	const char *why; /* of the close, for the log */
	struct sp_ws_rx rx;
	int64_t last_rx_ms; /* anything read: the idle clock of ws_keepalive */
};

static void addr_text(const struct sockaddr *sa, char *ip, size_t iplen, uint16_t *port)
{
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, iplen);
		*port = ntohs(s6->sin6_port);
	} else {
		const struct sockaddr_in *s4 = (const void *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, ip, iplen);
		*port = ntohs(s4->sin_port);
	}
}

static int make_addr(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *s4 = (void *)ss;
	struct sockaddr_in6 *s6 = (void *)ss;
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		*len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
		return 0;
	}
	return -EINVAL;
}

struct sp_conn *sp_conn_find(struct sp_server *s, uint64_t id)
{
	if (!id)
		return NULL;
	for (struct sp_conn *c = s->conns[id % s->n_conn_buckets]; c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

static void conn_unlink(struct sp_server *s, struct sp_conn *c)
{
	struct sp_conn **pp = &s->conns[c->id % s->n_conn_buckets];
	for (; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			return;
		}
}

static void conn_free(struct sp_conn *c, const char *why)
{
	struct sp_server *s = c->srv;
	PR_DEBUG("flow %llu %s %s:%u closed (%s)", (unsigned long long)c->id,
		 sp_transport_name(c->tp), c->peer_ip, c->peer_port, why);
	conn_unlink(s, c);
	s->ctr.conns_open--;
	s->ctr.tls_open -= c->tp == SP_TLS;
	if (c->inbound)
		sp_guard_flow_close(s, c->peer_ip);
	if (c->ws) {
		s->ctr.ws_open -= c->ws->open;
		sp_ws_rx_free(&c->ws->rx);
		free(c->ws);
	}
	uint64_t id = c->id;
	if (c->bev)
		bufferevent_free(c->bev);
	free(c);
	sp_call_conn_lost(s, id);
}

static void conn_set_idle(struct sp_conn *c)
{
	/* a registered device pings at least every keepalive_s; three missed pings close it.
	 * Before its first message a flow gets first_message_timeout_s (slow-handshake floods). */
	struct timeval tv = {.tv_sec = c->active || !c->inbound
					   ? 3 * c->srv->cfg.keepalive_s + 30
					   : c->srv->cfg.first_message_timeout_s};
	/* a browser sends no keepalive of its own: the server pings after ws_ping_s of
	 * silence (ws_keepalive), and its pong is traffic */
	if (c->tp == SP_WSS && c->active)
		tv.tv_sec = c->srv->cfg.ws_ping_s;
	bufferevent_set_timeouts(c->bev, &tv, NULL);
}

/* Inbound TLS flows read ahead (accept_cb): one read() takes what the socket holds, where
 * OpenSSL otherwise reads each record's header and body with a read() apiece. The
 * bufferevent asks OpenSSL only for the record it is decrypting (SSL_pending), so whole
 * records read ahead would wait in OpenSSL's buffer with the socket drained and no event
 * to come: they are taken here into the input. 1 some were, 0 none, -1 the flow closed
 * (the peer's close_notify, or a TLS error). */
static int tls_take_read_ahead(struct sp_conn *c)
{
	SSL *ssl = sp_tp_secure(c->tp) && c->inbound ? bufferevent_openssl_get_ssl(c->bev) : NULL;
	if (!ssl || !SSL_has_pending(ssl) || !SSL_is_init_finished(ssl))
		return 0;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	char buf[4096];
	int got = 0;
	while (SSL_has_pending(ssl)) {
		ERR_clear_error();
		int r = SSL_read(ssl, buf, sizeof(buf));
		if (r > 0) {
			if (evbuffer_add(in, buf, (size_t)r) < 0)
				break;
			got = 1;
			continue;
		}
		int e = SSL_get_error(ssl, r);
		/* a record still arriving (the socket's next event brings it), or an end
		 * after data: the data first, the end comes back with the socket's EOF */
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE || got) {
			ERR_clear_error();
			break;
		}
		if (e != SSL_ERROR_ZERO_RETURN) {
			char why[200];
			ERR_error_string_n(ERR_peek_error(), why, sizeof(why));
			PR_NOTICE("flow %s:%u: TLS error: %s", c->peer_ip, c->peer_port, why);
			c->srv->ctr.tls_failed++;
		}
		ERR_clear_error();
		conn_free(c, e == SSL_ERROR_ZERO_RETURN ? "closed by peer" : "TLS error");
		return -1;
	}
	return got;
}

static bool tls_write_now(struct sp_conn *c, const char *buf, size_t len);
static void conn_event(struct bufferevent *bev, short what, void *arg);

/* ---- SIP over secure WebSocket (RFC 7118): the flow side of sp_ws.h ------------------ */

/* At most one line per second for each kind of refusal or violation (counters carry all). */
static bool ws_log_ok(void)
{
	static int64_t last;
	int64_t now = sp_now_ms();
	if (last && now - last < 1000)
		return false;
	last = now;
	return true;
}

static void ws_drained(struct bufferevent *bev, void *arg)
{
	struct sp_conn *c = arg;
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_free(c, c->ws->why);
}

/* What is queued goes out, then the flow is freed (RFC 6455 7.1.1: the server closes the
 * TCP connection first); nothing more is read. A peer that does not take it within 5 s
 * is cut. The caller returns at once: c may be gone. */
static void ws_close_after_write(struct sp_conn *c, const char *why)
{
	c->ws->closing = true;
	c->ws->why = why;
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		conn_free(c, why);
		return;
	}
	struct timeval tv = {.tv_sec = 5};
	bufferevent_set_timeouts(c->bev, NULL, &tv);
	bufferevent_setcb(c->bev, NULL, ws_drained, conn_event, c);
}

/* One server frame (unmasked, FIN) with payload p. queue: through the bufferevent (a
 * close, whose write callback frees the flow); else written now when nothing waits. */
static int ws_send(struct sp_conn *c, uint8_t op, const void *p, size_t len, bool queue)
{
	static uint8_t frame[SP_MSG_MAX + 10];
	if (!c->ws || !c->ws->open || c->ws->closing || len > SP_MSG_MAX)
		return -ENOTCONN;
	size_t h = sp_ws_frame_header(frame, op, len);
	memcpy(frame + h, p, len);
	if (!queue && tls_write_now(c, (const char *)frame, h + len))
		return 0;
	return bufferevent_write(c->bev, frame, h + len) == 0 ? 0 : -EIO;
}

/* A protocol violation (code 1002/1007/1009) or the peer's close (code echoed): the close
 * frame, then the end of the flow. */
static void ws_close(struct sp_conn *c, uint16_t code, const char *why)
{
	uint8_t f[4];
	sp_ws_close_frame(f, code);
	bufferevent_write(c->bev, f, sizeof(f));
	ws_close_after_write(c, why);
}

/* The upgrade request was judged: 101 and frames from now on, or the 4xx and the end. */
static void ws_upgrade_answer(struct sp_conn *c, const struct sp_ws_upgrade *u)
{
	struct sp_server *s = c->srv;
	char out[512];
	size_t n = sp_ws_handshake_answer(u, out, sizeof(out));
	uint64_t *ref[SP_WS_REF_N] = {
	    [SP_WS_REF_MALFORMED] = &s->ctr.ws_refused_malformed,
	    [SP_WS_REF_METHOD] = &s->ctr.ws_refused_method,
	    [SP_WS_REF_VERSION] = &s->ctr.ws_refused_version,
	    [SP_WS_REF_PROTOCOL] = &s->ctr.ws_refused_protocol,
	    [SP_WS_REF_ORIGIN] = &s->ctr.ws_refused_origin,
	    [SP_WS_REF_TOO_LARGE] = &s->ctr.ws_refused_too_large,
	};
	bufferevent_write(c->bev, out, n);
	if (u->refusal == SP_WS_ACCEPT) {
		c->ws->open = true;
		s->ctr.ws_upgrades++;
		s->ctr.ws_open++;
		PR_INFO("flow %llu wss %s:%u: WebSocket upgrade accepted (sip)",
			(unsigned long long)c->id, c->peer_ip, c->peer_port);
		return;
	}
	(*ref[u->refusal])++;
	if (ws_log_ok())
		PR_NOTICE("flow wss %s:%u: WebSocket upgrade refused with %d (%s)", c->peer_ip,
			  c->peer_port, sp_ws_refusal_status(u->refusal),
			  sp_ws_refusal_name(u->refusal));
	ws_close_after_write(c, "upgrade refused");
}

/* One WebSocket message: one SIP message (RFC 7118 5). A lone CRLF or CRLFCRLF (a
 * keepalive some clients send) is skipped. */
static void ws_message(struct sp_conn *c, const uint8_t *data, size_t len)
{
	struct sp_server *s = c->srv;
	static char msg[SP_MSG_MAX + 1];
	s->ctr.ws_msgs_rx++;
	size_t crlf = 0;
	while (crlf < len && len <= 4 && (data[crlf] == '\r' || data[crlf] == '\n'))
		crlf++;
	if (crlf == len)
		return;
	if (len > s->cfg.max_message_bytes) {
		s->ctr.rx_too_large++;
		s->ctr.ws_close_1009++;
		ws_close(c, SP_WS_CLOSE_TOO_BIG, "message too large");
		return;
	}
	if (!c->active) {
		c->active = true;
		conn_set_idle(c);
	}
	memcpy(msg, data, len);
	msg[len] = '\0';
	sp_dispatch(s, c, msg, len);
}

/* The bytes of a WSS flow: the upgrade request, then frames, each acted on in turn. */
static void ws_read(struct sp_conn *c)
{
	struct sp_server *s = c->srv;
	struct sp_ws_flow *w = c->ws;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	uint64_t id = c->id;
	const char *origins[SP_MAX_WS_ORIGINS];
	for (size_t i = 0; i < s->cfg.n_ws_origins; i++)
		origins[i] = s->cfg.ws_origins[i];
	w->last_rx_ms = sp_now_ms();
	for (;;) {
		size_t avail = evbuffer_get_length(in);
		if (w->closing) {
			evbuffer_drain(in, avail);
			return;
		}
		if (!avail) {
			if (tls_take_read_ahead(c) > 0)
				continue;
			return;
		}
		if (!w->open) {
			size_t look = avail < SP_WS_HS_MAX ? avail : SP_WS_HS_MAX;
			const char *data = (const char *)evbuffer_pullup(in, (ssize_t)look);
			struct sp_ws_upgrade u;
			size_t took = sp_ws_handshake(data, look, origins, s->cfg.n_ws_origins, &u);
			if (!took) {
				if (tls_take_read_ahead(c) > 0)
					continue;
				return;
			}
			evbuffer_drain(in, took);
			ws_upgrade_answer(c, &u);
			if (u.refusal != SP_WS_ACCEPT)
				return;
			continue;
		}
		size_t max = w->rx.max + SP_WS_HDR_MAX;
		size_t look = avail < max ? avail : max;
		uint8_t *data = evbuffer_pullup(in, (ssize_t)look);
		struct sp_ws_ev ev;
		size_t took = sp_ws_rx_frame(&w->rx, data, look, &ev);
		if (!took) {
			if (tls_take_read_ahead(c) > 0)
				continue;
			return;
		}
		uint8_t ping[125];
		size_t plen = ev.len < sizeof(ping) ? ev.len : sizeof(ping);
		switch (ev.type) {
		case SP_WS_EV_MESSAGE:
			/* ev.data is in the input or the reassembly buffer: ws_message copies it
			 * before anything else reads the flow */
			ws_message(c, ev.data, ev.len);
			if (!sp_conn_find(s, id))
				return; /* closed while dispatching */
			break;
		case SP_WS_EV_PING:
			memcpy(ping, ev.data, plen);
			evbuffer_drain(in, took);
			if (ws_send(c, SP_WS_OP_PONG, ping, plen, false) == 0)
				s->ctr.ws_pongs_tx++;
			continue;
		case SP_WS_EV_PONG:
		case SP_WS_EV_NONE:
			break;
		case SP_WS_EV_CLOSE:
			s->ctr.ws_closed_by_peer++;
			ws_close(c, ev.code == SP_WS_CLOSE_NO_STATUS ? SP_WS_CLOSE_NORMAL : ev.code,
				 "WebSocket closed by peer");
			return;
		case SP_WS_EV_ERROR:
			if (ev.code == SP_WS_CLOSE_TOO_BIG)
				s->ctr.ws_close_1009++;
			else if (ev.code == SP_WS_CLOSE_BAD_DATA)
				s->ctr.ws_close_1007++;
			else
				s->ctr.ws_close_1002++;
			if (ws_log_ok())
				PR_NOTICE("flow wss %s:%u: WebSocket protocol violation, closing "
					  "with %u",
					  c->peer_ip, c->peer_port, ev.code);
			ws_close(c, ev.code, "WebSocket protocol violation");
			return;
		}
		if (w->closing)
			return;
		evbuffer_drain(in, took);
	}
}

/* A read timeout of an upgraded, active WSS flow: ping, or give up after ws_idle_s of
 * silence. true: pinged, the flow lives on. */
static bool ws_keepalive(struct sp_conn *c)
{
	struct sp_server *s = c->srv;
	int64_t idle = sp_now_ms() - c->ws->last_rx_ms;
	int64_t left = (int64_t)s->cfg.ws_idle_s * 1000 - idle;
	if (left <= 0 || ws_send(c, SP_WS_OP_PING, "", 0, false) < 0) {
		s->ctr.ws_idle_closed++;
		return false;
	}
	s->ctr.ws_pings_tx++;
	struct timeval tv = {.tv_sec = s->cfg.ws_ping_s};
	if (left < (int64_t)s->cfg.ws_ping_s * 1000)
		tv = (struct timeval){.tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000};
	bufferevent_set_timeouts(c->bev, &tv, NULL);
	bufferevent_enable(c->bev, EV_READ); /* a timeout disabled it */
	return true;
}

static void conn_read(struct bufferevent *bev, void *arg)
{
	struct sp_conn *c = arg;
	struct sp_server *s = c->srv;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint64_t id = c->id;
	if (c->tp == SP_WSS) {
		ws_read(c);
		return;
	}
	for (;;) {
		size_t avail = evbuffer_get_length(in);
		if (!avail) {
			if (tls_take_read_ahead(c) > 0)
				continue;
			return;
		}
		/* the limit in force (sip.max_msg_bytes): read at each message */
		size_t max = s->cfg.max_message_bytes;
		size_t look = avail < max + 8 ? avail : max + 8;
		const char *data = (const char *)evbuffer_pullup(in, (ssize_t)look);
		size_t skip;
		unsigned pings;
		int n = sp_msg_frame_max(data, look, max, &skip, &pings);
		if (!c->active && (n != 0 || pings)) {
			c->active = true;
			conn_set_idle(c);
		}
		for (unsigned i = 0; i < pings; i++) {
			/* RFC 5626 4.4.1: a CRLF "pong" answers each double-CRLF "ping". */
			bufferevent_write(bev, "\r\n", 2);
			s->ctr.keepalive_pongs++;
		}
		if (n == -EMSGSIZE) {
			s->ctr.rx_too_large++;
			PR_WARN("flow %s:%u: message over %zu bytes, closing the connection",
				c->peer_ip, c->peer_port, max);
			conn_free(c, "message too large");
			return;
		}
		if (n == -EBADMSG) {
			/* header block without a usable Content-Length: answered 400 by parse
			 * when possible, then skipped; the flow survives */
			const char *he = memmem(data + skip, look - skip, "\r\n\r\n", 4);
			size_t hl = he ? (size_t)(he - data) + 4 : look;
			sp_dispatch(s, c, data + skip, hl - skip);
			if (!sp_conn_find(s, id))
				return;
			evbuffer_drain(in, hl);
			continue;
		}
		if (n == 0) {
			evbuffer_drain(in, skip);
			if (tls_take_read_ahead(c) > 0)
				continue;
			return;
		}
		/* copy: dispatch may close the flow, and its input buffer with it. One buffer
		 * for every flow: nothing dispatch does runs another flow's conn_read. */
		static char msg[SP_MSG_MAX + 1];
		memcpy(msg, data + skip, (size_t)n);
		msg[n] = '\0';
		evbuffer_drain(in, skip + (size_t)n);
		sp_dispatch(s, c, msg, (size_t)n);
		if (!sp_conn_find(s, id))
			return; /* closed while dispatching */
	}
}

/* An accepted TLS flow is a peer PoP's slowpath when it presented a certificate that
 * verified against [sip] tls_ca and comes from an address listed in [sip] peer_pops. */
static void peer_pop_check(struct sp_conn *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	const struct sp_config *cfg = &c->srv->cfg;
	if (!ssl || cfg->verify_client == SP_VERIFY_NONE || !SSL_get0_peer_certificate(ssl) ||
	    SSL_get_verify_result(ssl) != X509_V_OK)
		return;
	for (size_t i = 0; i < cfg->n_peers; i++)
		if (!strcmp(cfg->peers[i].host, c->peer_ip)) {
			c->peer_pop = true;
			snprintf(c->peer_pop_name, sizeof(c->peer_pop_name), "%s",
				 cfg->peers[i].name);
			return;
		}
}

static void conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct sp_conn *c = arg;
	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		if (c->inbound && c->tp == SP_TLS)
			peer_pop_check(c);
		PR_INFO("flow %llu %s %s:%u up%s%s", (unsigned long long)c->id,
			c->inbound ? "from" : "to", c->peer_ip, c->peer_port,
			c->peer_pop ? ", peer PoP " : "", c->peer_pop ? c->peer_pop_name : "");
		/* the first request often shares a segment with the client's Finished: read
		 * ahead with the handshake, it has no socket event of its own to come */
		if (tls_take_read_ahead(c) > 0)
			conn_read(c->bev, c);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		unsigned long e;
		bool tls_err = false;
		while (c->bev && (e = bufferevent_get_openssl_error(c->bev))) {
			char buf[200];
			ERR_error_string_n(e, buf, sizeof(buf));
			if (!tls_err)
				PR_NOTICE("flow %s:%u: TLS error: %s", c->peer_ip, c->peer_port,
					  buf);
			tls_err = true;
		}
		if (tls_err)
			c->srv->ctr.tls_failed++;
		conn_free(c, tls_err ? "TLS error" : "socket error");
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) && c->tp == SP_WSS &&
	    c->active && c->ws->open && !c->ws->closing && ws_keepalive(c))
		return;
	if (what & BEV_EVENT_TIMEOUT)
		c->srv->ctr.conns_idle_closed++;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_TIMEOUT))
		conn_free(c, what & BEV_EVENT_EOF ? "closed by peer" : "idle timeout");
}

static struct sp_conn *conn_new(struct sp_server *s, enum sp_transport tp,
				const struct sockaddr *sa, socklen_t salen)
{
	struct sp_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->id = ++s->next_conn_id;
	c->tp = tp;
	c->srv = s;
	memcpy(&c->peer, sa, salen);
	c->peer_len = salen;
	addr_text(sa, c->peer_ip, sizeof(c->peer_ip), &c->peer_port);
	c->next = s->conns[c->id % s->n_conn_buckets];
	s->conns[c->id % s->n_conn_buckets] = c;
	s->ctr.conns_open++;
	s->ctr.tls_open += tp == SP_TLS;
	if (tp == SP_WSS) {
		c->ws = calloc(1, sizeof(*c->ws));
		if (!c->ws) {
			conn_unlink(s, c);
			s->ctr.conns_open--;
			free(c);
			return NULL;
		}
		sp_ws_rx_init(&c->ws->rx, s->cfg.ws_max_message);
	}
	return c;
}

static void conn_setup_bev(struct sp_conn *c)
{
	bufferevent_setcb(c->bev, conn_read, NULL, conn_event, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, 4 * SP_MSG_MAX);
	conn_set_idle(c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
		      void *arg)
{
	struct sp_server *s = arg;
	bool wss = l == s->lis_wss, tls = l == s->lis_tls || wss;
	if (s->ctr.conns_open >= s->cfg.max_connections) {
		s->ctr.conns_refused++;
		evutil_closesocket(fd);
		return;
	}
	char ip[48];
	uint16_t port;
	addr_text(sa, ip, sizeof(ip), &port);
	if (!sp_guard_flow_open(s, ip)) {
		s->ctr.conns_refused++;
		if (sp_now_ms() - s->last_flow_limit_log_ms >= 1000) {
			s->last_flow_limit_log_ms = sp_now_ms();
			PR_WARN("flow limit: refusing connections from %s (%u open)", ip,
				s->cfg.max_flows_per_source);
		}
		evutil_closesocket(fd);
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct sp_conn *c = conn_new(s, wss ? SP_WSS : tls ? SP_TLS : SP_TCP, sa, (socklen_t)salen);
	if (!c) {
		sp_guard_flow_close(s, ip);
		evutil_closesocket(fd);
		return;
	}
	c->inbound = true;
	s->ctr.conns_accepted++;
	if (tls) {
		SSL *ssl = SSL_new(s->ssl_srv);
		if (ssl) /* whole socket reads; tls_take_read_ahead takes the surplus */
			SSL_set_read_ahead(ssl, 1);
		if (!ssl) {
			evutil_closesocket(fd);
			conn_unlink(s, c);
			s->ctr.conns_open--;
			s->ctr.tls_open -= !wss;
			sp_guard_flow_close(s, ip);
			if (c->ws)
				sp_ws_rx_free(&c->ws->rx);
			free(c->ws);
			free(c);
			return;
		}
		c->bev = bufferevent_openssl_socket_new(s->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
							BEV_OPT_CLOSE_ON_FREE);
	} else {
		c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	}
	if (!c->bev) {
		evutil_closesocket(fd);
		conn_unlink(s, c);
		s->ctr.conns_open--;
		s->ctr.tls_open -= tls && !wss;
		sp_guard_flow_close(s, ip);
		if (c->ws)
			sp_ws_rx_free(&c->ws->rx);
		free(c->ws);
		free(c);
		return;
	}
	conn_setup_bev(c);
}

static void udp_read(evutil_socket_t fd, short what, void *arg)
{
	struct sp_server *s = arg;
	static char buf[SP_MSG_MAX + 1];
	(void)what;
	for (int i = 0; i < 64; i++) {
		struct sp_conn c = {.tp = SP_UDP, .srv = s};
		c.peer_len = sizeof(c.peer);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&c.peer,
				     &c.peer_len);
		if (n < 0)
			return;
		addr_text((struct sockaddr *)&c.peer, c.peer_ip, sizeof(c.peer_ip), &c.peer_port);
		if (n > (ssize_t)s->cfg.max_message_bytes) {
			s->ctr.rx_too_large++;
			continue;
		}
		/* a lone CRLF keepalive over UDP needs no answer */
		if (n <= 4 && strspn(buf, "\r\n") == (size_t)n)
			continue;
		sp_dispatch(s, &c, buf, (size_t)n);
	}
}

void sp_dest_from_conn(const struct sp_conn *c, struct sp_dest *d)
{
	memset(d, 0, sizeof(*d));
	d->tp = c->tp;
	d->conn_id = c->id;
	memcpy(&d->addr, &c->peer, c->peer_len);
	d->addr_len = c->peer_len;
}

/* A message for an established TLS flow with nothing queued before it goes out with one
 * SSL_write now: bufferevent_write would arm the flow's write event (two epoll_ctl calls,
 * one more loop pass) for every message. false: SSL_write did not take all of it (a full
 * socket buffer, a handshake, a post-handshake message of its own waiting to go, an error)
 * and the caller queues it on the bufferevent, which retries it from its first byte (the
 * same bytes at another address: SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER, sp_tls.c) or reports
 * the flow's error as for any write. */
static bool tls_write_now(struct sp_conn *c, const char *buf, size_t len)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	if (!ssl || len > INT_MAX || !SSL_is_init_finished(ssl) || SSL_want_write(ssl) ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)))
		return false;
	ERR_clear_error();
	return SSL_write(ssl, buf, (int)len) == (int)len;
}

static int send_raw(struct sp_server *s, const struct sp_dest *d, const char *buf, size_t len)
{
	if (d->tp == SP_UDP) {
		if (s->udp_fd < 0)
			return -ENOTCONN;
		ssize_t n =
		    sendto(s->udp_fd, buf, len, 0, (const struct sockaddr *)&d->addr, d->addr_len);
		return n == (ssize_t)len ? 0 : -errno;
	}
	struct sp_conn *c = sp_conn_find(s, d->conn_id);
	if (!c || !c->bev)
		return -ENOTCONN;
	if (c->tp == SP_WSS) {
		int rc = ws_send(c, SP_WS_OP_TEXT, buf, len, false);
		s->ctr.ws_msgs_tx += rc == 0;
		return rc;
	}
	if (c->tp == SP_TLS && tls_write_now(c, buf, len))
		return 0;
	return bufferevent_write(c->bev, buf, len) == 0 ? 0 : -EIO;
}

int sp_send(struct sp_server *s, const struct sp_dest *d, const char *buf, size_t len)
{
	int rc = send_raw(s, d, buf, len);
	/* every response goes out here (retransmissions too): count it by its class */
	if (rc == 0 && len > 12 && memcmp(buf, "SIP/2.0 ", 8) == 0 && buf[8] >= '1' &&
	    buf[8] <= '6')
		s->ctr.tx_resp[buf[8] - '1']++;
	return rc;
}

int sp_reply(struct sp_server *s, const struct sp_conn *c, const struct sp_buf *b)
{
	if (!b->p || b->oom)
		return -ENOMEM;
	struct sp_dest d;
	sp_dest_from_conn(c, &d);
	return sp_send(s, &d, b->p, b->len);
}

struct sp_conn *sp_conn_to_peer(struct sp_server *s, const struct sp_peer_pop *p)
{
	for (size_t b = 0; b < s->n_conn_buckets; b++)
		for (struct sp_conn *c = s->conns[b]; c; c = c->next)
			if (c->peer_pop && !strcmp(c->peer_pop_name, p->name))
				return c;
	struct sockaddr_storage ss;
	socklen_t len;
	if (!s->ssl_cli || make_addr(p->host, p->port, &ss, &len) < 0)
		return NULL;
	struct sp_conn *c = conn_new(s, SP_TLS, (struct sockaddr *)&ss, len);
	if (!c)
		return NULL;
	c->peer_pop = true;
	snprintf(c->peer_pop_name, sizeof(c->peer_pop_name), "%s", p->name);
	/* from our TLS listener's address, so the peer can tell us by source address */
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_storage me;
	socklen_t melen;
	if (fd >= 0 && make_addr(s->cfg.tls_addr, 0, &me, &melen) == 0 &&
	    me.ss_family == ss.ss_family && strcmp(s->cfg.tls_addr, "0.0.0.0") &&
	    strcmp(s->cfg.tls_addr, "::"))
		bind(fd, (struct sockaddr *)&me, melen);
	SSL *ssl = fd >= 0 ? SSL_new(s->ssl_cli) : NULL;
	if (ssl) /* the peer's certificate must name its address */
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), p->host);
	if (ssl)
		c->bev = bufferevent_openssl_socket_new(
		    s->base, fd, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev && fd >= 0)
		close(fd);
	if (!c->bev) {
		if (ssl && !c->bev)
			SSL_free(ssl);
		conn_unlink(s, c);
		s->ctr.conns_open--;
		s->ctr.tls_open--;
		free(c);
		return NULL;
	}
	conn_setup_bev(c);
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&ss, (int)len) < 0) {
		conn_free(c, "connect failed");
		return NULL;
	}
	return c;
}

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78 /* linux/in6.h, Linux 4.15 */
#endif

/* A listener's socket, bound: SO_REUSEADDR, and with [sip] freebind IP_FREEBIND or
 * IPV6_FREEBIND, so that a standby slowpath listens on the service address that keepalived
 * adds to this host only when the peer appliance dies (docs/scaling.md, "Appliances N+1":
 * "The slowpath's service address"). -1 with errno set. */
static int bind_listener(const struct sp_server *s, int type, const struct sockaddr_storage *ss,
			 socklen_t len, const char *host, uint16_t port)
{
	int fd = socket(ss->ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1, e;
	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	if (s->cfg.freebind &&
	    (ss->ss_family == AF_INET6
		 ? setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one))
		 : setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one))) < 0)
		goto fail;
	if (bind(fd, (const struct sockaddr *)ss, len) < 0)
		goto fail;
	if (s->cfg.freebind && type == SOCK_STREAM) {
		/* say so when the address is not ours (yet): a wrong address would otherwise
		 * listen quietly for ever. A probe without the option, on port 0 */
		int probe = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_storage p = *ss;
		if (p.ss_family == AF_INET6)
			((struct sockaddr_in6 *)&p)->sin6_port = 0;
		else
			((struct sockaddr_in *)&p)->sin_port = 0;
		if (probe >= 0 && bind(probe, (struct sockaddr *)&p, len) < 0 &&
		    errno == EADDRNOTAVAIL)
			PR_NOTICE("listening on %s:%u/tcp before the address is this host's "
				  "([sip] freebind): connections come once it is added here",
				  host, port);
		if (probe >= 0)
			close(probe);
	}
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

static struct evconnlistener *listen_tcp(struct sp_server *s, const char *host, uint16_t port,
					 uint16_t *bound)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (make_addr(host, port, &ss, &len) < 0) {
		PR_ERR("%s: [sip]: bad listen address %s", s->cfg.path, host);
		return NULL;
	}
	int fd = bind_listener(s, SOCK_STREAM, &ss, len, host, port);
	struct evconnlistener *l =
	    fd >= 0 ? evconnlistener_new(s->base, accept_cb, s, LEV_OPT_CLOSE_ON_FREE, 1024, fd)
		    : NULL;
	if (!l) {
		PR_ERR("cannot listen on %s:%u/tcp: %s", host, port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	struct sockaddr_storage b;
	socklen_t bl = sizeof(b);
	char ip[64];
	getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&b, &bl);
	addr_text((struct sockaddr *)&b, ip, sizeof(ip), bound);
	return l;
}

void sp_counters_log(struct sp_server *s, bool force)
{
	const struct sp_counters *c = &s->ctr;
	if (!force && !memcmp(c, &s->ctr_logged, sizeof(*c)))
		return;
	s->ctr_logged = *c;
	char line[2048];
	size_t off = 0;
	for (size_t i = 0; i < sp_n_counter_fields && off < sizeof(line); i++)
		off += (size_t)snprintf(
		    line + off, sizeof(line) - off, " %s=%llu", sp_counter_fields[i].name,
		    (unsigned long long)*(const uint64_t *)((const char *)c +
							    sp_counter_fields[i].off));
	PR_NOTICE("counters:%s", line);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sp_server *s = arg;
	static unsigned n;
	(void)fd, (void)what;
	sp_call_retransmit(s, sp_now_ms());
	if (++n % 10)
		return;
	sp_call_tick(s, sp_now());
	sp_call_media_events(s);
	sp_tunables_tick(s, sp_now_ms());
	sp_drain_tick(s, sp_now_ms());
	sp_tls_tick(s, sp_now_ms());
	if (n % 600 == 0)
		sp_counters_log(s, false);
}

static void sig_cb(evutil_socket_t sig, short what, void *arg)
{
	struct sp_server *s = arg;
	(void)what;
	if (sig == SIGUSR1) {
		sp_counters_log(s, true);
		return;
	}
	if (sig == SIGHUP) {
		sp_tls_reload(s, "SIGHUP");
		return;
	}
	/* SIGTERM (systemd's stop) drains first: no new calls or registrations, the calls in
	 * progress get [sip] stop_drain_s to end. SIGINT, or a second SIGTERM, stops now. */
	if (sig == SIGTERM && !s->drain.stopping && s->cfg.stop_drain_s) {
		sp_drain_stop(s);
		return;
	}
	PR_NOTICE("signal %d: shutting down", (int)sig);
	event_base_loopbreak(s->base);
}

int sp_server_open(struct sp_server *s)
{
	s->udp_fd = -1;
	s->n_conn_buckets = SP_CONN_BUCKETS;
	s->conns = calloc(s->n_conn_buckets, sizeof(*s->conns));
	/* Two priorities: the async Redis connection's events (sp_redis.c) first, and no more
	 * than 64 callbacks of the rest between two looks at them, so the replies that finish
	 * requests are not held behind a storm of TLS handshakes */
	struct event_config *ec = event_config_new();
	if (ec && event_config_set_max_dispatch_interval(ec, NULL, 64, 1) == 0)
		s->base = event_base_new_with_config(ec);
	event_config_free(ec);
	if (s->base && event_base_priority_init(s->base, SP_EV_PRIORITIES) < 0) {
		event_base_free(s->base);
		s->base = NULL;
	}
	s->nc = sp_nc_table_new(65536, SP_NC_MAX_SLOTS);
	s->guard = sp_guard_new(65536);
	if (!s->conns || !s->base || !s->nc || !s->guard)
		return -ENOMEM;
	if (sp_nonce_init(&s->nonce, s->cfg.nonce_ttl_s) < 0)
		return -EIO;
	if (s->cfg.tls_port || s->cfg.wss_port || s->cfg.n_peers) {
		int rc = sp_tls_open(s);
		if (rc < 0)
			return rc;
	}
	if (s->cfg.tls_port) {
		s->lis_tls = listen_tcp(s, s->cfg.tls_addr, s->cfg.tls_port, &s->tls_port_bound);
		if (!s->lis_tls)
			return -EADDRINUSE;
	}
	if (s->cfg.wss_port) {
		s->lis_wss = listen_tcp(s, s->cfg.wss_addr, s->cfg.wss_port, &s->wss_port_bound);
		if (!s->lis_wss)
			return -EADDRINUSE;
	}
	if (s->cfg.plain_port) {
		s->lis_tcp =
		    listen_tcp(s, s->cfg.plain_addr, s->cfg.plain_port, &s->plain_port_bound);
		if (!s->lis_tcp)
			return -EADDRINUSE;
		struct sockaddr_storage ss;
		socklen_t len;
		make_addr(s->cfg.plain_addr, s->cfg.plain_port, &ss, &len);
		s->udp_fd =
		    bind_listener(s, SOCK_DGRAM, &ss, len, s->cfg.plain_addr, s->cfg.plain_port);
		if (s->udp_fd < 0) {
			PR_ERR("cannot bind %s:%u/udp: %s", s->cfg.plain_addr, s->cfg.plain_port,
			       strerror(errno));
			return -EADDRINUSE;
		}
		s->ev_udp = event_new(s->base, s->udp_fd, EV_READ | EV_PERSIST, udp_read, s);
		event_add(s->ev_udp, NULL);
	}
	struct timeval tick = {.tv_usec = 100000};
	s->ev_tick = event_new(s->base, -1, EV_PERSIST, tick_cb, s);
	event_add(s->ev_tick, &tick);
	s->ev_sigint = evsignal_new(s->base, SIGINT, sig_cb, s);
	s->ev_sigterm = evsignal_new(s->base, SIGTERM, sig_cb, s);
	s->ev_sigusr1 = evsignal_new(s->base, SIGUSR1, sig_cb, s);
	s->ev_sighup = evsignal_new(s->base, SIGHUP, sig_cb, s); /* TLS reload (sp_tls.h) */
	event_add(s->ev_sigint, NULL);
	event_add(s->ev_sigterm, NULL);
	event_add(s->ev_sigusr1, NULL);
	event_add(s->ev_sighup, NULL);
	PR_NOTICE("listening: tls %s:%u, udp/tcp %s:%u (off-net only), pop %s, realm %s",
		  s->cfg.tls_addr, s->tls_port_bound, s->cfg.plain_addr, s->plain_port_bound,
		  s->cfg.pop, s->cfg.realm);
	if (s->lis_wss)
		PR_NOTICE("listening: wss %s:%u (SIP over WebSocket, %zu allowed origins)",
			  s->cfg.wss_addr, s->wss_port_bound, s->cfg.n_ws_origins);
	return 0;
}

void sp_server_close(struct sp_server *s)
{
	if (s->conns) {
		sp_call_shutdown(s);
		for (size_t b = 0; b < s->n_conn_buckets; b++)
			while (s->conns[b]) {
				struct sp_conn *c = s->conns[b];
				s->conns[b] = c->next;
				if (c->bev)
					bufferevent_free(c->bev);
				if (c->ws)
					sp_ws_rx_free(&c->ws->rx);
				free(c->ws);
				free(c);
			}
		free(s->conns);
		s->conns = NULL;
	}
	if (s->lis_tls)
		evconnlistener_free(s->lis_tls);
	if (s->lis_tcp)
		evconnlistener_free(s->lis_tcp);
	if (s->lis_wss)
		evconnlistener_free(s->lis_wss);
	struct event *evs[] = {s->ev_udp,     s->ev_tick,    s->ev_sigint,
			       s->ev_sigterm, s->ev_sigusr1, s->ev_sighup};
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i])
			event_free(evs[i]);
	if (s->udp_fd >= 0)
		close(s->udp_fd);
	sp_tls_close(s);
	sp_nc_table_free(s->nc);
	sp_guard_free(s->guard);
	if (s->base)
		event_base_free(s->base);
	sp_nonce_free(&s->nonce);
	memset(&s->nonce, 0, sizeof(s->nonce));
}
