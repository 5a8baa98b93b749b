/* SPDX-License-Identifier: BSD-3-Clause */
/* poprelay-turnfront [-c CONFIG] [-v] [--check-config]: TURN over TCP and TLS.
 *
 * The kernel terminates TCP and OpenSSL terminates TLS here; the TURN server and the relayed
 * addresses are the dataplane's (dataplane/turn/turn_stream.h). For each connection this
 * process frames the stream (tf_frame.h), hands each message to the dataplane under the
 * connection's 5-tuple, and writes to the connection what the dataplane sends back under it.
 * It enforces the connection limits: in total and per source address, a deadline for the
 * first valid STUN message (a stalled TLS handshake, slowloris), an idle timeout, a bounded
 * output buffer per connection (a slow reader's excess is dropped and counted, nobody else
 * waits for it). Configuration: [turn_front] (docs/configuration.md). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/fring.h"
#include "common/log.h"
#include "slowpath/tf_frame.h"

#define TF_DEFAULT_CONFIG "/etc/poprelay/poprelay.conf"
#define TF_MAX_LISTEN	  8
#define TF_TP_TCP	  1 /* PR_TP_TCP, PR_TP_TLS (dataplane/turn/stun_msg.h) */
#define TF_TP_TLS	  2

/* ---- configuration: [turn_front] ---- */
struct tf_listen {
	struct sockaddr_storage sa;
	socklen_t salen;
	uint8_t proto;
};

static struct tf_cfg {
	char dataplane_socket[108];
	char tcp_listen[512], tls_listen[512];
	char tls_cert[256], tls_key[256];
	char tls_ciphers[512];
	unsigned max_connections, max_per_source, first_message_s, idle_timeout_s, out_buffer_kb;
	unsigned max_message;
	struct tf_listen l[TF_MAX_LISTEN];
	unsigned nl;
} cfg = {
    .dataplane_socket = "/var/run/dpdk/poprelay/turn_front.sock",
    .tls_ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20",
    .max_connections = 10000,
    .max_per_source = 1024,
    .first_message_s = 10,
    .idle_timeout_s = 900,
    .out_buffer_kb = 64,
    .max_message = 4096,
};

struct tf_key {
	const char *name;
	char *s; /* string, size n */
	size_t n;
	unsigned *u, lo, hi;
};

static const struct tf_key keys[] = {
    {"dataplane_socket", cfg.dataplane_socket, sizeof(cfg.dataplane_socket), NULL, 0, 0},
    {"tcp_listen", cfg.tcp_listen, sizeof(cfg.tcp_listen), NULL, 0, 0},
    {"tls_listen", cfg.tls_listen, sizeof(cfg.tls_listen), NULL, 0, 0},
    {"tls_cert", cfg.tls_cert, sizeof(cfg.tls_cert), NULL, 0, 0},
    {"tls_key", cfg.tls_key, sizeof(cfg.tls_key), NULL, 0, 0},
    {"tls_ciphers", cfg.tls_ciphers, sizeof(cfg.tls_ciphers), NULL, 0, 0},
    {"max_connections", NULL, 0, &cfg.max_connections, 1, 1000000},
    {"max_per_source", NULL, 0, &cfg.max_per_source, 1, 1000000},
    {"first_message_s", NULL, 0, &cfg.first_message_s, 1, 600},
    {"idle_timeout_s", NULL, 0, &cfg.idle_timeout_s, 10, 86400},
    {"out_buffer_kb", NULL, 0, &cfg.out_buffer_kb, 8, 16384},
    {"max_message", NULL, 0, &cfg.max_message, 548, PR_FRING_MAX_MSG},
};

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	char *e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = 0;
	return s;
}

/* "a.b.c.d:port" or "[v6]:port", port required. */
static int parse_hostport(const char *s, struct tf_listen *l)
{
	char host[64];
	const char *colon;
	memset(l, 0, sizeof(*l));
	if (*s == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof(host))
			return -1;
		memcpy(host, s + 1, (size_t)(rb - s - 1));
		host[rb - s - 1] = 0;
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof(host))
			return -1;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = 0;
	}
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535)
		return -1;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&l->sa;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&l->sa;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		l->salen = sizeof(*a4);
	} else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		l->salen = sizeof(*a6);
	} else {
		return -1;
	}
	return 0;
}

static int parse_listens(const char *key, const char *v, uint8_t proto, char *err, size_t el)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", v);
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		t = trim(t);
		if (!*t)
			continue;
		if (cfg.nl >= TF_MAX_LISTEN) {
			snprintf(err, el, "[turn_front] %s: more than %d listeners in all", key,
				 TF_MAX_LISTEN);
			return -1;
		}
		if (parse_hostport(t, &cfg.l[cfg.nl]) < 0) {
			snprintf(err, el,
				 "[turn_front] %s: got \"%s\", expected IPv4:port or [IPv6]:port",
				 key, t);
			return -1;
		}
		cfg.l[cfg.nl++].proto = proto;
	}
	return 0;
}

static char sip_cert[256], sip_key[256];

static int load_config(const char *path, char *err, size_t el)
{
	FILE *f = fopen(path, "r");
	char line[1024], section[64] = "";
	unsigned ln = 0;
	if (!f) {
		snprintf(err, el, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		ln++;
		char *s = trim(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *rb = strchr(s, ']');
			if (!rb || (size_t)(rb - s - 1) >= sizeof(section)) {
				snprintf(err, el, "%s:%u: bad section header", path, ln);
				fclose(f);
				return -1;
			}
			*rb = 0;
			snprintf(section, sizeof(section), "%s", trim(s + 1));
			continue;
		}
		if (strcmp(section, "sip") == 0) {
			/* the slowpath's certificate and key: ours when [turn_front] names none */
			char *eq = strchr(s, '=');
			if (!eq)
				continue;
			*eq = 0;
			char *k = trim(s), *v = trim(eq + 1);
			if (!strcmp(k, "tls_cert") && strlen(v) < sizeof(sip_cert))
				snprintf(sip_cert, sizeof(sip_cert), "%s", v);
			else if (!strcmp(k, "tls_key") && strlen(v) < sizeof(sip_key))
				snprintf(sip_key, sizeof(sip_key), "%s", v);
			continue;
		}
		if (strcmp(section, "turn_front") != 0)
			continue; /* the other processes' sections */
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, el, "%s:%u: [turn_front]: expected key = value", path, ln);
			fclose(f);
			return -1;
		}
		*eq = 0;
		char *k = trim(s), *v = trim(eq + 1);
		const struct tf_key *kd = NULL;
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (!strcmp(keys[i].name, k))
				kd = &keys[i];
		if (!kd) {
			snprintf(err, el, "%s:%u: [turn_front]: unknown key '%s'", path, ln, k);
			fclose(f);
			return -1;
		}
		if (kd->s) {
			if (strlen(v) >= kd->n) {
				snprintf(err, el, "%s:%u: [turn_front] %s: longer than %zu bytes",
					 path, ln, k, kd->n - 1);
				fclose(f);
				return -1;
			}
			snprintf(kd->s, kd->n, "%s", v);
		} else {
			char *end;
			unsigned long u = strtoul(v, &end, 10);
			if (!*v || *end || u < kd->lo || u > kd->hi) {
				snprintf(err, el,
					 "%s:%u: [turn_front] %s: got \"%s\", expected an integer "
					 "%u-%u",
					 path, ln, k, v, kd->lo, kd->hi);
				fclose(f);
				return -1;
			}
			*kd->u = (unsigned)u;
		}
	}
	fclose(f);
	if (parse_listens("tcp_listen", cfg.tcp_listen, TF_TP_TCP, err, el) < 0 ||
	    parse_listens("tls_listen", cfg.tls_listen, TF_TP_TLS, err, el) < 0)
		return -1;
	/* the slowpath's certificate store, unless [turn_front] names its own */
	if (!cfg.tls_cert[0] && !cfg.tls_key[0]) {
		snprintf(cfg.tls_cert, sizeof(cfg.tls_cert), "%s", sip_cert);
		snprintf(cfg.tls_key, sizeof(cfg.tls_key), "%s", sip_key);
	}
	if (cfg.tls_listen[0] && (!cfg.tls_cert[0] || !cfg.tls_key[0])) {
		snprintf(err, el,
			 "[turn_front] tls_cert, tls_key: required with tls_listen (or [sip] "
			 "tls_cert and tls_key)");
		return -1;
	}
	if (!cfg.nl) {
		snprintf(err, el, "[turn_front] tcp_listen, tls_listen: no listener configured");
		return -1;
	}
	return 0;
}

/* ---- TLS ---- */
static const unsigned char alpn_turn[] = "stun.turn";

/* RFC 7443: a client that offers ALPN must offer stun.turn; one that offers none is
 * served too (coturn's clients do not). */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned inlen, void *arg)
{
	(void)ssl;
	(void)arg;
	for (unsigned i = 0; i < inlen;) {
		unsigned l = in[i];
		if (i + 1 + l > inlen)
			break;
		if (l == sizeof(alpn_turn) - 1 && !memcmp(in + i + 1, alpn_turn, l)) {
			*out = in + i + 1;
			*outlen = (unsigned char)l;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + l;
	}
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* Why OpenSSL refused a file: its first error (a missing file is a system error, for which
 * OpenSSL 3 has no reason string), and the queue emptied, so that the next failure (a reload
 * on SIGHUP) reports its own cause. */
static const char *tls_why(void)
{
	static char why[128];
	unsigned long e = ERR_get_error();
	const char *r = ERR_reason_error_string(e);
	if (!r && ERR_SYSTEM_ERROR(e))
		r = strerror(ERR_GET_REASON(e));
	snprintf(why, sizeof(why), "%s", r ? r : "unknown error");
	ERR_clear_error();
	return why;
}

static SSL_CTX *tls_ctx_new(char *err, size_t el)
{
	SSL_CTX *c = SSL_CTX_new(TLS_server_method());
	if (!c) {
		snprintf(err, el, "TLS: out of memory");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
	SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
				   SSL_OP_NO_COMPRESSION);
	if (SSL_CTX_set_cipher_list(c, cfg.tls_ciphers) != 1) {
		snprintf(err, el, "[turn_front] tls_ciphers: \"%s\" names no usable suite",
			 cfg.tls_ciphers);
		SSL_CTX_free(c);
		return NULL;
	}
	if (SSL_CTX_use_certificate_chain_file(c, cfg.tls_cert) != 1) {
		snprintf(err, el, "[turn_front] tls_cert: %s: %s", cfg.tls_cert, tls_why());
		SSL_CTX_free(c);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(c, cfg.tls_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(c) != 1) {
		snprintf(err, el, "[turn_front] tls_key: %s: does not load or match tls_cert (%s)",
			 cfg.tls_key, tls_why());
		SSL_CTX_free(c);
		return NULL;
	}
	SSL_CTX_set_alpn_select_cb(c, alpn_select, NULL);
	/* an idle connection gives its read and write buffers back (about 16 KiB less each);
	 * a record the socket did not take is retried from the output queue, which may move */
	SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* one read() for what the socket holds, not two per record (header, then body) */
	SSL_CTX_set_read_ahead(c, 1);
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER);
	return c;
}

/* ---- the dataplane's rings ---- */
static struct {
	int sfd, efd;
	struct pr_fring_region *r;
	size_t bytes;
	struct event *sev, *eev;
	bool up;
} dp = {.sfd = -1, .efd = -1};

static struct pr_fring_stats dead_st; /* while no dataplane: figures go nowhere */
#define ST (dp.up ? &dp.r->st : &dead_st)

/* ---- connections ---- */
/* Output a socket did not take yet: bytes in order (TCP), or messages each after a 2-byte
 * length (TLS: one SSL_write, so one record, per message). Allocated when something waits,
 * freed when it is written, at most out_buffer_kb of messages (msg_bytes). */
struct outq {
	uint8_t *b;
	uint32_t head, len, cap;
	uint32_t msg_bytes;
};

/* Plain events on the nonblocking socket, no bufferevent: the read event stays armed for the
 * connection's life (its timeout is the idle timeout), the write event is armed only while
 * output waits. A relayed message then costs one read and one write, and no epoll_ctl. */
struct conn {
	int fd;
	SSL *ssl;	     /* TLS, else NULL */
	struct event *rev;   /* EV_READ | EV_PERSIST, the idle timeout */
	struct event *wev;   /* EV_WRITE | EV_PERSIST, added only while needed */
	struct event *first; /* the first valid message's deadline, until it came */
	struct conn *hnext;
	uint8_t *part; /* the start of a message whose rest has not come yet */
	uint32_t part_len;
	struct outq q;
	struct pr_frec key; /* 5-tuple (len, kind unused) */
	uint32_t h;	    /* hash of the key */
	bool spoke;	    /* sent a message: its close ends its allocation */
	bool handshaken;
	bool w_armed;
	bool rd_wants_w; /* TLS: SSL_read (the handshake) waits for the socket to take output */
	bool wr_wants_r; /* TLS: SSL_write waits for input (flushed after the next read) */
};

#define HBITS 16
static struct conn *table[1u << HBITS];
static uint64_t hkey[2];
static unsigned conns_open;

/* per source address: open connections (chained hash) */
struct src {
	struct src *next;
	uint8_t ip[16];
	uint32_t n;
};
static struct src *srcs[1u << 12];

static struct event_base *base;
static SSL_CTX *tls_ctx;
static const struct timeval *idle_tv; /* a common timeout: O(1) to restart on each read */

/* One read's buffer, shared by all connections: a connection keeps only an incomplete
 * message's bytes (part) between reads. rd_cap bounds one read, as the bufferevent's
 * high watermark of two messages did: the rest waits in the kernel (TCP's backpressure), and
 * the next round of events comes back to it after the other connections. */
static uint8_t *rbuf;
static size_t rd_cap;

static uint32_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return (uint32_t)x;
}

static uint32_t hash_ip(const uint8_t ip[16])
{
	uint64_t a, b;
	memcpy(&a, ip, 8);
	memcpy(&b, ip + 8, 8);
	return mix(a ^ hkey[0] ^ mix(b ^ hkey[1]));
}

static uint32_t key_hash(const struct pr_frec *k)
{
	return mix(hash_ip(k->cli_ip) ^ ((uint64_t)k->cli_port << 16 | k->srv_port) ^
		   (uint64_t)k->proto << 40 ^ hkey[1]);
}

static bool key_eq(const struct pr_frec *a, const struct pr_frec *b)
{
	return a->proto == b->proto && a->fam == b->fam && a->cli_port == b->cli_port &&
	       a->srv_port == b->srv_port && !memcmp(a->cli_ip, b->cli_ip, 16) &&
	       !memcmp(a->srv_ip, b->srv_ip, 16);
}

static struct conn *conn_find(const struct pr_frec *k)
{
	uint32_t h = key_hash(k);
	for (struct conn *c = table[h >> (32 - HBITS)]; c; c = c->hnext)
		if (c->h == h && key_eq(&c->key, k))
			return c;
	return NULL;
}

static struct src *src_get(const uint8_t ip[16], bool create)
{
	struct src **b = &srcs[hash_ip(ip) >> 20];
	for (struct src *s = *b; s; s = s->next)
		if (!memcmp(s->ip, ip, 16))
			return s;
	if (!create)
		return NULL;
	struct src *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	memcpy(s->ip, ip, 16);
	s->next = *b;
	*b = s;
	return s;
}

static void src_put(const uint8_t ip[16])
{
	struct src **b = &srcs[hash_ip(ip) >> 20];
	for (struct src **p = b; *p; p = &(*p)->next) {
		if (memcmp((*p)->ip, ip, 16))
			continue;
		if (--(*p)->n == 0) {
			struct src *d = *p;
			*p = d->next;
			free(d);
		}
		return;
	}
}

/* Hands one record to the dataplane, on the ring of the worker the 5-tuple maps to. */
static bool to_dataplane(const struct conn *c, uint8_t kind, const uint8_t *p, uint32_t n)
{
	if (!dp.up)
		return false;
	struct pr_frec h = c->key;
	h.kind = kind;
	struct pr_fring *r = pr_fring_at(dp.r, dp.r->ring_bytes, c->h % dp.r->n_in);
	return pr_fring_put(r, dp.r->ring_bytes, &h, p, n, NULL, 0);
}

static void conn_close(struct conn *c)
{
	if (c->spoke && !to_dataplane(c, PR_FREC_GONE, NULL, 0))
		ST->rx_dropped_ring++;
	struct conn **pp = &table[c->h >> (32 - HBITS)];
	for (; *pp; pp = &(*pp)->hnext)
		if (*pp == c) {
			*pp = c->hnext;
			break;
		}
	if (c->first)
		event_free(c->first);
	if (c->rev)
		event_free(c->rev);
	if (c->wev)
		event_free(c->wev);
	if (c->ssl) {
		SSL_set_shutdown(c->ssl, SSL_RECEIVED_SHUTDOWN); /* no close_notify wait */
		SSL_free(c->ssl);
		ERR_clear_error();
	}
	if (c->fd >= 0)
		close(c->fd);
	free(c->part);
	free(c->q.b);
	src_put(c->key.cli_ip);
	conns_open--;
	ST->conns_open = conns_open;
	free(c);
}

static void want_write(struct conn *c, bool on)
{
	if (on && !c->w_armed)
		event_add(c->wev, NULL);
	else if (!on && c->w_armed)
		event_del(c->wev);
	c->w_armed = on;
}

/* Every complete message of p[0..n) to the dataplane; an incomplete one's bytes are kept for
 * the next read. false: the connection is closed (bad framing). */
static bool conn_input(struct conn *c, const uint8_t *p, size_t n)
{
	size_t wire, msg;
	while (n >= 4) {
		int rc = tf_frame(p, n, cfg.max_message, &wire, &msg);
		if (rc == 0)
			break;
		if (rc < 0) {
			if (rc == TF_FRAME_BAD)
				ST->bad_framing++;
			else
				ST->too_long++;
			conn_close(c);
			return false;
		}
		/* the first message must be STUN (a ChannelData needs an allocation first) */
		if (!c->spoke && (p[0] >> 6) != 0) {
			ST->bad_framing++;
			conn_close(c);
			return false;
		}
		if (c->first) {
			event_free(c->first);
			c->first = NULL;
		}
		c->spoke = true;
		ST->rx_msgs[c->key.proto]++;
		ST->rx_bytes[c->key.proto] += msg;
		if (!to_dataplane(c, PR_FREC_MSG, p, (uint32_t)msg))
			ST->rx_dropped_ring++;
		p += wire;
		n -= wire;
	}
	if (n) {
		/* shorter than its wire size, which tf_frame bounds by max_message + 3 */
		c->part = malloc((size_t)cfg.max_message + 4);
		if (!c->part) {
			conn_close(c);
			return false;
		}
		memcpy(c->part, p, n);
		c->part_len = (uint32_t)n;
	}
	return true;
}

/* One read of what the socket holds (TLS: the records OpenSSL has, read ahead in one read),
 * every complete message handed on. false: the connection is closed. */
static bool conn_read(struct conn *c)
{
	size_t carry = c->part_len;
	for (;;) {
		if (carry)
			memcpy(rbuf, c->part, carry);
		ssize_t n;
		if (!c->ssl) {
			n = read(c->fd, rbuf + carry, rd_cap);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return true;
			if (n <= 0) { /* end of stream, or an error */
				conn_close(c);
				return false;
			}
		} else {
			ERR_clear_error();
			int r = SSL_read(c->ssl, rbuf + carry, (int)rd_cap);
			if (!c->handshaken && SSL_is_init_finished(c->ssl))
				c->handshaken = true;
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_READ)
					return true;
				if (e == SSL_ERROR_WANT_WRITE) {
					c->rd_wants_w = true;
					want_write(c, true);
					return true;
				}
				/* a refused handshake counts; a client that just leaves does not */
				if (e == SSL_ERROR_SSL && !c->handshaken && !c->spoke)
					ST->tls_failed++;
				conn_close(c);
				return false;
			}
			n = r;
		}
		if (carry) {
			free(c->part);
			c->part = NULL;
			c->part_len = 0;
		}
		if (!conn_input(c, rbuf, carry + (size_t)n))
			return false;
		/* plain TCP: the socket's next bytes, if any, come with the next round of
		 * events; TLS: records already in OpenSSL's buffer raise no event, so they are
		 * read now (at most a buffer of them, no system call) */
		if (!c->ssl || !SSL_has_pending(c->ssl))
			return true;
		carry = c->part_len;
	}
}

/* Writes what waits, in order; the write event stays armed while anything does. false: the
 * connection is closed. */
static bool conn_flush(struct conn *c)
{
	struct outq *q = &c->q;
	while (q->len) {
		uint32_t took, msg;
		if (!c->ssl) {
			ssize_t w =
			    send(c->fd, q->b + q->head, q->len, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w < 0 && (errno == EAGAIN || errno == EINTR))
				break;
			if (w <= 0) {
				conn_close(c);
				return false;
			}
			took = msg = (uint32_t)w;
		} else {
			msg = (uint32_t)q->b[q->head] << 8 | q->b[q->head + 1];
			ERR_clear_error();
			int r = SSL_write(c->ssl, q->b + q->head + 2, (int)msg);
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				c->wr_wants_r = e == SSL_ERROR_WANT_READ;
				if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
					break;
				conn_close(c);
				return false;
			}
			took = msg + 2;
		}
		q->head += took;
		q->len -= took;
		q->msg_bytes -= msg;
	}
	if (!q->len) {
		free(q->b);
		memset(q, 0, sizeof(*q));
	}
	want_write(c, (q->len && !c->wr_wants_r) || c->rd_wants_w);
	return true;
}

/* Appends to what waits (TLS: one message, after its length). */
static bool q_push(struct outq *q, const uint8_t *p, uint32_t n, bool tls)
{
	uint32_t need = n + (tls ? 2 : 0);
	if (q->head + q->len + need > q->cap) {
		if (q->head) { /* SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER lets a retry move */
			memmove(q->b, q->b + q->head, q->len);
			q->head = 0;
		}
		if (q->len + need > q->cap) {
			uint32_t cap = q->cap ? q->cap : 4096;
			while (cap < q->len + need)
				cap *= 2;
			uint8_t *b = realloc(q->b, cap);
			if (!b)
				return false;
			q->b = b;
			q->cap = cap;
		}
	}
	uint8_t *d = q->b + q->head + q->len;
	if (tls) {
		d[0] = (uint8_t)(n >> 8);
		d[1] = (uint8_t)n;
		d += 2;
	}
	memcpy(d, p, n);
	q->len += need;
	q->msg_bytes += n;
	return true;
}

static void conn_rd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd;
	if (what & EV_TIMEOUT) {
		ST->timeout_idle++;
		conn_close(c);
		return;
	}
	if (conn_read(c) && (c->q.len || c->wr_wants_r)) {
		c->wr_wants_r = false;
		conn_flush(c);
	}
}

static void conn_wr_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd;
	(void)what;
	if (c->rd_wants_w) {
		c->rd_wants_w = false;
		if (!conn_read(c))
			return;
	}
	conn_flush(c);
}

static void first_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd;
	(void)what;
	ST->timeout_first++;
	conn_close(c);
}

static void set_key_addr(uint8_t ip[16], uint16_t *port, const struct sockaddr *sa, uint8_t *fam)
{
	memset(ip, 0, 16);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
		memcpy(ip, &a->sin_addr, 4);
		*port = ntohs(a->sin_port);
		*fam = 4;
	} else {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
		memcpy(ip, &a->sin6_addr, 16);
		*port = ntohs(a->sin6_port);
		*fam = 6;
	}
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
		      void *arg)
{
	const struct tf_listen *li = arg;
	struct pr_frec k;
	struct sockaddr_storage me;
	socklen_t ml = sizeof(me);
	(void)l;
	(void)salen;
	memset(&k, 0, sizeof(k));
	uint8_t fam2;
	set_key_addr(k.cli_ip, &k.cli_port, sa, &k.fam);
	if (getsockname(fd, (struct sockaddr *)&me, &ml) < 0) {
		evutil_closesocket(fd);
		return;
	}
	set_key_addr(k.srv_ip, &k.srv_port, (struct sockaddr *)&me, &fam2);
	k.proto = li->proto;
	if (conns_open >= cfg.max_connections) {
		ST->refused_total++;
		evutil_closesocket(fd);
		return;
	}
	struct src *s = src_get(k.cli_ip, true);
	if (!s || s->n >= cfg.max_per_source) {
		ST->refused_source++;
		evutil_closesocket(fd);
		return;
	}
	struct conn *c = calloc(1, sizeof(*c));
	if (!c) {
		evutil_closesocket(fd);
		return;
	}
	s->n++;
	c->fd = fd; /* nonblocking: the listener makes it so */
	c->key = k;
	c->h = key_hash(&k);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	bool ok = true;
	if (k.proto == TF_TP_TLS) {
		c->ssl = SSL_new(tls_ctx);
		ok = c->ssl && SSL_set_fd(c->ssl, fd) == 1;
		if (ok)
			SSL_set_accept_state(c->ssl);
	} else {
		c->handshaken = true;
	}
	c->rev = event_new(base, fd, EV_READ | EV_PERSIST, conn_rd_cb, c);
	c->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, conn_wr_cb, c);
	c->first = evtimer_new(base, first_deadline, c);
	conns_open++;
	struct conn **b = &table[c->h >> (32 - HBITS)];
	c->hnext = *b;
	*b = c;
	if (!ok || !c->rev || !c->wev || !c->first) {
		conn_close(c);
		return;
	}
	ST->conns[k.proto]++;
	ST->conns_open = conns_open;
	struct timeval first = {.tv_sec = cfg.first_message_s};
	evtimer_add(c->first, &first);
	event_add(c->rev, idle_tv);
}

/* What the dataplane sent: to each record's connection, ChannelData padded to 4. */
static unsigned drain_once(void)
{
	static uint8_t buf[PR_FRING_MAX_MSG + 4]; /* (+ a ChannelData's padding) */
	unsigned got = 0;
	if (!dp.up)
		return 0;
	for (uint32_t i = 0; i < dp.r->n_out; i++) {
		struct pr_fring *r = pr_fring_at(dp.r, dp.r->ring_bytes, dp.r->n_in + i);
		struct pr_frec h;
		for (unsigned k = 0; k < 256; k++) {
			int rc = pr_fring_get(r, dp.r->ring_bytes, &h, buf, sizeof(buf));
			if (rc <= 0)
				break;
			got++;
			if (h.kind != PR_FREC_MSG || !h.len)
				continue;
			struct conn *c = conn_find(&h);
			if (!c) {
				dp.r->st.tx_no_conn++;
				continue;
			}
			size_t pad = (buf[0] >> 6) == 1 ? (4 - (h.len & 3)) & 3 : 0;
			uint32_t n = (uint32_t)(h.len + pad);
			if (c->q.msg_bytes + n > (size_t)cfg.out_buffer_kb * 1024) {
				dp.r->st.tx_dropped_slow++;
				continue;
			}
			memset(buf + h.len, 0, pad);
			uint32_t done = 0;
			/* nothing waiting: straight to the socket. TLS: one record per message, as
			 * coturn writes them (its client takes each SSL_read as one message); a
			 * record the socket did not take is retried whole from the queue. */
			if (!c->q.len && !c->ssl) {
				ssize_t w = send(c->fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
				if (w < 0 && errno != EAGAIN && errno != EINTR) {
					conn_close(c);
					continue;
				}
				done = w > 0 ? (uint32_t)w : 0;
			} else if (!c->q.len) {
				ERR_clear_error();
				int w = SSL_write(c->ssl, buf, (int)n);
				int e = w > 0 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, w);
				if (e != SSL_ERROR_NONE && e != SSL_ERROR_WANT_WRITE &&
				    e != SSL_ERROR_WANT_READ) {
					conn_close(c);
					continue;
				}
				c->wr_wants_r = e == SSL_ERROR_WANT_READ;
				done = w > 0 ? n : 0;
			}
			if (done < n) {
				if (!q_push(&c->q, buf + done, n - done, c->ssl != NULL)) {
					dp.r->st.tx_dropped_slow++;
					continue;
				}
				want_write(c, !c->wr_wants_r || c->rd_wants_w);
			}
			dp.r->st.tx_msgs[c->key.proto]++;
			dp.r->st.tx_bytes[c->key.proto] += h.len;
		}
	}
	return got;
}

static bool rings_pending(void)
{
	for (uint32_t i = 0; dp.up && i < dp.r->n_out; i++)
		if (!pr_fring_empty(pr_fring_at(dp.r, dp.r->ring_bytes, dp.r->n_in + i)))
			return true;
	return false;
}

/* Drain until empty, then ask to be woken (and look once more: a record may have come
 * between the last look and the flag). The eventfd is edge-triggered and never read: each
 * write of the dataplane's is an edge, and a read per wake-up was a system call for nothing
 * (its counter, one a wake-up, does not reach 2^64 - 1). */
static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	for (;;) {
		while (drain_once())
			;
		if (!dp.up)
			return;
		__atomic_store_n(&dp.r->want_wake, 1, __ATOMIC_SEQ_CST);
		if (!rings_pending())
			return;
		__atomic_store_n(&dp.r->want_wake, 0, __ATOMIC_SEQ_CST);
	}
}

static void dp_down(const char *why);
static void dp_connect(evutil_socket_t fd, short what, void *arg);
static struct event *retry_ev;

static void on_dp_sock(evutil_socket_t fd, short what, void *arg)
{
	char b[16];
	(void)what;
	(void)arg;
	ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN))
		dp_down("the dataplane closed the socket");
}

static void dp_down(const char *why)
{
	if (!dp.up)
		return;
	PR_WARN("dataplane link down (%s): clients' messages are dropped until it is back", why);
	dead_st = dp.r->st;
	dp.up = false;
	event_free(dp.sev);
	event_free(dp.eev);
	munmap(dp.r, dp.bytes);
	close(dp.sfd);
	close(dp.efd);
	dp.sfd = dp.efd = -1;
	struct timeval one = {.tv_sec = 1};
	evtimer_add(retry_ev, &one);
}

static void dp_connect(evutil_socket_t fd0, short what, void *arg)
{
	static bool warned;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval one = {.tv_sec = 1};
	(void)fd0;
	(void)what;
	(void)arg;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", cfg.dataplane_socket);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (!warned)
			PR_WARN("dataplane socket %s: %s (retrying every second)",
				cfg.dataplane_socket, strerror(errno));
		warned = true;
		if (fd >= 0)
			close(fd);
		evtimer_add(retry_ev, &one);
		return;
	}
	struct pr_fring_hello h;
	int fds[2] = {-1, -1};
	char cbuf[CMSG_SPACE(sizeof(fds))];
	struct iovec iov = {.iov_base = &h, .iov_len = sizeof(h)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct timeval to = {.tv_sec = 2};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &to, sizeof(to));
	ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	if (c && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(fds)))
		memcpy(fds, CMSG_DATA(c), sizeof(fds));
	if (n != (ssize_t)sizeof(h) || fds[0] < 0 || h.magic != PR_FRING_MAGIC ||
	    h.version != PR_FRING_VERSION || !h.n_in || h.n_in > 1024 || h.n_out != h.n_in + 1 ||
	    h.ring_bytes < 4096 || (h.ring_bytes & (h.ring_bytes - 1))) {
		/* another front holds the dataplane (it closes us), or not a dataplane */
		if (!warned)
			PR_WARN("dataplane socket %s: no usable handshake (another front "
				"attached?), retrying",
				cfg.dataplane_socket);
		warned = true;
		for (int i = 0; i < 2; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		close(fd);
		evtimer_add(retry_ev, &one);
		return;
	}
	dp.bytes = pr_fring_region_bytes(h.n_in, h.n_out, h.ring_bytes);
	void *m = mmap(NULL, dp.bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
	close(fds[0]);
	if (m == MAP_FAILED || ((struct pr_fring_region *)m)->ring_bytes != h.ring_bytes) {
		PR_ERR("dataplane rings: mmap: %s", strerror(errno));
		if (m != MAP_FAILED)
			munmap(m, dp.bytes);
		close(fds[1]);
		close(fd);
		evtimer_add(retry_ev, &one);
		return;
	}
	warned = false;
	dp.r = m;
	dp.sfd = fd;
	dp.efd = fds[1];
	dp.r->st.conns_open = conns_open;
	dp.sev = event_new(base, fd, EV_READ | EV_PERSIST, on_dp_sock, NULL);
	dp.eev = event_new(base, dp.efd, EV_READ | EV_PERSIST | EV_ET, on_wake, NULL);
	event_add(dp.sev, NULL);
	event_add(dp.eev, NULL);
	dp.up = true;
	PR_NOTICE("attached to the dataplane (generation %u, %u workers, rings of %u KiB)",
		  h.generation, h.n_in, h.ring_bytes / 1024);
	on_wake(dp.efd, EV_READ, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	if (sig == SIGHUP) {
		char err[512];
		SSL_CTX *n = cfg.tls_listen[0] ? tls_ctx_new(err, sizeof(err)) : NULL;
		if (cfg.tls_listen[0] && !n) {
			PR_ERR("SIGHUP: TLS reload failed, the certificate in force stays: %s",
			       err);
			return;
		}
		if (n) {
			SSL_CTX_free(tls_ctx); /* live connections hold their own reference */
			tls_ctx = n;
			PR_NOTICE("SIGHUP: TLS certificate and key reloaded");
		}
		return;
	}
	event_base_loopbreak(base);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: poprelay-turnfront [-c CONFIG] [-v] [--check-config]\n"
		"  -c CONFIG       configuration file (default " TF_DEFAULT_CONFIG
		"), section [turn_front]\n"
		"  -v              debug logging\n"
		"  --check-config  check the configuration (and the TLS files), then exit\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"check-config", no_argument, NULL, 'C'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *path = TF_DEFAULT_CONFIG;
	bool check_only = false, verbose = false;
	int opt;
	while ((opt = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case 'C':
			check_only = true;
			break;
		default:
			usage();
			return opt == 'h' ? 0 : 2;
		}
	}
	char err[768];
	pr_log_init("poprelay-turnfront", verbose ? PR_LOG_DEBUG : PR_LOG_INFO);
	if (load_config(path, err, sizeof(err)) < 0) {
		PR_ERR("configuration: %s", err);
		return 2;
	}
	if (cfg.tls_listen[0] && !(tls_ctx = tls_ctx_new(err, sizeof(err)))) {
		PR_ERR("configuration: %s", err);
		return 2;
	}
	if (check_only) {
		printf("configuration OK: %u listeners\n", cfg.nl);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	if (getrandom(hkey, sizeof(hkey), 0) != sizeof(hkey))
		hkey[0] = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull;
	/* every connection is a descriptor */
	struct rlimit rl = {cfg.max_connections + 64u, cfg.max_connections + 64u};
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		PR_WARN("RLIMIT_NOFILE %u: %s", cfg.max_connections + 64u, strerror(errno));
	base = event_base_new();
	struct timeval idle = {.tv_sec = cfg.idle_timeout_s};
	idle_tv = event_base_init_common_timeout(base, &idle);
	rd_cap = 2 * ((size_t)cfg.max_message + 4);
	rbuf = malloc(rd_cap + cfg.max_message + 4); /* + an incomplete message carried over */
	if (!base || !idle_tv || !rbuf) {
		PR_ERR("out of memory");
		return 1;
	}
	retry_ev = evtimer_new(base, dp_connect, NULL);
	for (unsigned i = 0; i < cfg.nl; i++) {
		struct evconnlistener *l = evconnlistener_new_bind(
		    base, accept_cb, &cfg.l[i], LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 1024,
		    (struct sockaddr *)&cfg.l[i].sa, (int)cfg.l[i].salen);
		char a[INET6_ADDRSTRLEN] = "?";
		const struct sockaddr *s = (const struct sockaddr *)&cfg.l[i].sa;
		inet_ntop(s->sa_family,
			  s->sa_family == AF_INET ? (void *)&((struct sockaddr_in *)s)->sin_addr
						  : (void *)&((struct sockaddr_in6 *)s)->sin6_addr,
			  a, sizeof(a));
		uint16_t port = ntohs(((const struct sockaddr_in *)s)->sin_port);
		if (!l) {
			PR_ERR("[turn_front] %s: %s port %u: %s",
			       cfg.l[i].proto == TF_TP_TLS ? "tls_listen" : "tcp_listen", a, port,
			       strerror(errno));
			return 1;
		}
		PR_INFO("listening for TURN over %s on %s port %u",
			cfg.l[i].proto == TF_TP_TLS ? "TLS" : "TCP", a, port);
	}
	struct event *sig[3] = {evsignal_new(base, SIGTERM, on_signal, NULL),
				evsignal_new(base, SIGINT, on_signal, NULL),
				evsignal_new(base, SIGHUP, on_signal, NULL)};
	for (int i = 0; i < 3; i++)
		event_add(sig[i], NULL);
	dp_connect(-1, 0, NULL);
	event_base_dispatch(base);
	PR_NOTICE("stopping: %u connections closed", conns_open);
	for (unsigned b = 0; b < (1u << HBITS); b++)
		while (table[b]) {
			table[b]->spoke = false; /* a stop is not every client leaving */
			conn_close(table[b]);
		}
	return 0;
}
