/* SPDX-License-Identifier: BSD-3-Clause */
/* poprelay-dtls [-c CONFIG] [-v] [--check-config]: the DTLS-SRTP handshakes of the media
 * anchor's browser legs (RFC 5763, RFC 5764), off the worker cores.
 *
 * The dataplane's control lcore hands this process the DTLS records that reach a `dtls` leg
 * from its nominated ICE address (common/dtls_chan.h; nothing from another source gets
 * here), and sends what it writes back from the leg's anchor port. Per leg: an OpenSSL
 * DTLS 1.2 handshake over datagram queues (dtls_leg.h), its retransmission timer and a
 * deadline; the peer's certificate must be the SDP's fingerprint. The exported SRTP keys go
 * back to the dataplane, which relays the leg on the SDES fast path and keeps them in the
 * session hash. The certificate: made anew when missing or older than [dtls] rotate_days
 * (at start, checked every minute while running, now on SIGUSR1), its fingerprint published
 * as pr:dtls:fingerprint for the SDP; the one it replaces is kept [dtls] rotate_grace_s for
 * the calls whose SDP carried it (each leg names ours, X_dtls_local_fingerprint).
 * One thread, poll(2). Configuration: [dtls] (docs/configuration.md). */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/dtls_chan.h"
#include "common/fring.h"
#include "common/log.h"
#include "common/redis.h"
#include "dtls/dtls_leg.h"

#define DTLS_DEFAULT_CONFIG "/etc/poprelay/poprelay.conf"
#define LINGER_MS	    30000 /* a done leg answers its peer's retransmitted flight */
#define ROTATE_CHECK_MS	    60000 /* the certificate's age looked at */

static struct {
	char dataplane_socket[108];
	char cert_dir[256];
	char redis_socket[256], redis_user[64], redis_password_file[256];
	unsigned rotate_days, rotate_grace_s, max_handshakes, handshake_timeout_s, per_source_per_s;
} cfg = {
    .dataplane_socket = "/var/run/dpdk/poprelay/dtls.sock",
    .cert_dir = "/var/lib/poprelay/dtls",
    .redis_socket = "/var/run/redis/redis.sock",
    .rotate_days = 30,
    .rotate_grace_s = 86400,
    .max_handshakes = 1024,
    .handshake_timeout_s = 10,
    .per_source_per_s = 20,
};

struct key {
	const char *name;
	char *s;
	size_t n;
	unsigned *u, lo, hi;
};

static const struct key keys[] = {
    {"dataplane_socket", cfg.dataplane_socket, sizeof(cfg.dataplane_socket), NULL, 0, 0},
    {"cert_dir", cfg.cert_dir, sizeof(cfg.cert_dir), NULL, 0, 0},
    {"redis_user", cfg.redis_user, sizeof(cfg.redis_user), NULL, 0, 0},
    {"redis_password_file", cfg.redis_password_file, sizeof(cfg.redis_password_file), NULL, 0, 0},
    {"rotate_days", NULL, 0, &cfg.rotate_days, 1, 3650},
    {"rotate_grace_s", NULL, 0, &cfg.rotate_grace_s, 0, 2592000},
    {"max_handshakes", NULL, 0, &cfg.max_handshakes, 1, 100000},
    {"handshake_timeout_s", NULL, 0, &cfg.handshake_timeout_s, 2, 120},
    {"per_source_per_s", NULL, 0, &cfg.per_source_per_s, 1, 10000},
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

static char dp_user[64], dp_pass[256], sentinels[256], master_name[64];

static int load_config(const char *path, char *err, size_t el)
{
	FILE *f = fopen(path, "r");
	char line[1024], section[64] = "";
	unsigned ln = 0;
	int rc = -1;

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
				goto out;
			}
			*rb = 0;
			snprintf(section, sizeof(section), "%s", trim(s + 1));
			continue;
		}
		char *eq = strchr(s, '=');
		if (!strcmp(section, "redis") && eq) {
			/* the dataplane's socket, and its user unless [dtls] names one */
			*eq = 0;
			char *k = trim(s), *v = trim(eq + 1);
			if (!strcmp(k, "socket"))
				snprintf(cfg.redis_socket, sizeof(cfg.redis_socket), "%s", v);
			else if (!strcmp(k, "user"))
				snprintf(dp_user, sizeof(dp_user), "%s", v);
			else if (!strcmp(k, "password_file"))
				snprintf(dp_pass, sizeof(dp_pass), "%s", v);
			else if (!strcmp(k, "sentinels"))
				snprintf(sentinels, sizeof(sentinels), "%s", v);
			else if (!strcmp(k, "master_name"))
				snprintf(master_name, sizeof(master_name), "%s", v);
			continue;
		}
		if (strcmp(section, "dtls"))
			continue; /* the other processes' sections */
		if (!eq) {
			snprintf(err, el, "%s:%u: [dtls]: expected key = value", path, ln);
			goto out;
		}
		*eq = 0;
		char *k = trim(s), *v = trim(eq + 1);
		const struct key *kd = NULL;
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (!strcmp(keys[i].name, k))
				kd = &keys[i];
		if (!kd) {
			snprintf(err, el, "%s:%u: [dtls]: unknown key '%s'", path, ln, k);
			goto out;
		}
		if (kd->s) {
			if (strlen(v) >= kd->n || !*v) {
				snprintf(err, el, "%s:%u: [dtls] %s: expected 1-%zu bytes", path,
					 ln, k, kd->n - 1);
				goto out;
			}
			snprintf(kd->s, kd->n, "%s", v);
		} else {
			char *end;
			unsigned long u = strtoul(v, &end, 10);
			if (!*v || *end || u < kd->lo || u > kd->hi) {
				snprintf(err, el,
					 "%s:%u: [dtls] %s: got \"%s\", expected an integer %u-%u",
					 path, ln, k, v, kd->lo, kd->hi);
				goto out;
			}
			*kd->u = (unsigned)u;
		}
	}
	if (sentinels[0] || master_name[0]) {
		/* Redis under Sentinel: the primary they name, not the socket */
		char why[256];
		if (pr_redis_sentinel_target(cfg.redis_socket, sizeof(cfg.redis_socket), sentinels,
					     master_name, why, sizeof(why)) < 0) {
			snprintf(err, el, "%s: %s", path, why);
			goto out;
		}
	}
	if (!cfg.redis_user[0] && !cfg.redis_password_file[0]) {
		snprintf(cfg.redis_user, sizeof(cfg.redis_user), "%s", dp_user);
		snprintf(cfg.redis_password_file, sizeof(cfg.redis_password_file), "%s", dp_pass);
	}
	rc = 0;
out:
	fclose(f);
	return rc;
}

static uint64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* ---- the dataplane's channel ---- */
static struct {
	bool up;
	int sfd, efd;
	void *region;
	size_t bytes;
	uint32_t ring_bytes;
} dp = {.sfd = -1, .efd = -1};
static struct pr_dtls_stats dead_st, *st = &dead_st;

static struct pr_fring *ring_in(void) /* toward the dataplane */
{
	return pr_fring_at(dp.region, dp.ring_bytes, 0);
}

static struct pr_fring *ring_out(void)
{
	return pr_fring_at(dp.region, dp.ring_bytes, 1);
}

/* ---- legs ---- */
struct leg {
	bool used;
	struct pr_frec t; /* the 5-tuple (srv: the anchor port names the leg) */
	uint32_t gen;
	struct pr_dtls_leg *l;
	uint64_t deadline, timer, linger;
};
static struct leg *legs;
static unsigned nlegs, in_hs;
static struct pr_dtls_certs certs;

static struct leg *leg_find(const struct pr_frec *t, uint32_t gen)
{
	for (unsigned i = 0; i < cfg.max_handshakes; i++)
		if (legs[i].used && legs[i].t.srv_port == t->srv_port && legs[i].gen == gen &&
		    !memcmp(legs[i].t.srv_ip, t->srv_ip, 16))
			return &legs[i];
	return NULL;
}

static void leg_free(struct leg *g)
{
	if (!g->linger)
		in_hs--;
	pr_dtls_leg_free(g->l);
	memset(g, 0, sizeof(*g));
	nlegs--;
	st->in_handshake = in_hs;
}

static bool send_msg(const struct leg *g, const struct pr_dtls_hdr *h, const void *d, uint32_t n)
{
	if (!dp.up)
		return false;
	bool ok = pr_fring_put(ring_in(), dp.ring_bytes, &g->t, h, sizeof(*h), d, n);
	if (ok)
		/* the control lcore polls its ring: no wake-up needed */
		return true;
	return false;
}

/* Per-source admission of new handshakes: a token bucket per source address hash. */
static struct {
	uint64_t at;
	uint32_t tokens;
} buckets[4096];

static bool admit(const struct pr_frec *t, uint64_t now)
{
	uint32_t h = 2166136261u;
	for (int i = 0; i < 16; i++)
		h = (h ^ t->cli_ip[i]) * 16777619u;
	typeof(&buckets[0]) b = &buckets[h & 4095];
	if (now - b->at >= 1000) {
		b->at = now;
		b->tokens = cfg.per_source_per_s;
	}
	if (!b->tokens)
		return false;
	b->tokens--;
	return true;
}

/* What the leg has to send, then its outcome reported once. */
static void flush(struct leg *g, enum pr_dtls_state s, uint64_t now)
{
	uint8_t d[2048];
	size_t n;
	struct pr_dtls_hdr h = {.type = PR_DTLS_RECORD, .gen = g->gen};

	while ((n = pr_dtls_leg_output(g->l, d, sizeof(d))))
		(void)send_msg(g, &h, d, (uint32_t)n);
	if (s == PR_DTLS_DONE && !g->linger) {
		uint8_t k[60], rx[30], tx[30], p;
		struct pr_dtls_hdr kh = {.type = PR_DTLS_KEYS, .gen = g->gen};
		if (pr_dtls_leg_keys(g->l, &p, rx, tx) == 0) {
			uint32_t ks = pr_dtls_keysalt_len(p);
			memcpy(k, rx, ks);
			memcpy(k + ks, tx, ks);
			kh.profiles = p;
			send_msg(g, &kh, k, 2 * ks);
			OPENSSL_cleanse(k, sizeof(k));
			OPENSSL_cleanse(rx, sizeof(rx));
			OPENSSL_cleanse(tx, sizeof(tx));
			st->completed++;
			PR_INFO("leg %u: DTLS-SRTP handshake done (%s)", g->t.srv_port,
				p == PR_DTLS_P_GCM ? "AEAD_AES_128_GCM"
						   : "AES_CM_128_HMAC_SHA1_80");
		}
		in_hs--;
		st->in_handshake = in_hs;
		g->linger = now + LINGER_MS;
	} else if (s == PR_DTLS_FAILED) {
		int r = pr_dtls_leg_reason(g->l);
		struct pr_dtls_hdr fh = {.type = PR_DTLS_FAIL, .gen = g->gen, .reason = (uint8_t)r};
		static const char *const why[PR_DTLS_F_MAX] = {
		    "?",
		    "the peer's certificate is not the SDP's fingerprint",
		    "timeout",
		    "alert or handshake error",
		    "no common SRTP profile",
		    "busy",
		    "no such certificate of ours"};
		send_msg(g, &fh, NULL, 0);
		st->failed[r < PR_DTLS_F_MAX ? r : 0]++;
		PR_WARN("leg %u: DTLS-SRTP handshake failed: %s", g->t.srv_port,
			why[r < PR_DTLS_F_MAX ? r : 0]);
		leg_free(g);
	}
}

/* A leg in handshake, or NULL with *why (enum pr_dtls_fail) */
static struct leg *leg_new(const struct pr_frec *t, const struct pr_dtls_hdr *h, uint64_t now,
			   int *why)
{
	struct leg *g = NULL;
	/* the certificate whose fingerprint the leg's SDP carried */
	SSL_CTX *ctx = pr_dtls_certs_pick(&certs, h->lfpr);
	*why = PR_DTLS_F_ALERT;
	if (!ctx) {
		*why = PR_DTLS_F_CERT;
		return NULL;
	}
	if (in_hs >= cfg.max_handshakes || nlegs >= cfg.max_handshakes) {
		/* room from a leg that only lingers, else none */
		for (unsigned i = 0; i < cfg.max_handshakes && !g; i++)
			if (legs[i].used && legs[i].linger)
				leg_free(&legs[i]), g = &legs[i];
		if (!g || in_hs >= cfg.max_handshakes) {
			st->failed[PR_DTLS_F_BUSY]++;
			*why = PR_DTLS_F_BUSY;
			return NULL;
		}
	}
	for (unsigned i = 0; i < cfg.max_handshakes && !g; i++)
		if (!legs[i].used)
			g = &legs[i];
	if (!g)
		return NULL;
	g->l = pr_dtls_leg_new(ctx, (enum pr_dtls_role)h->role, h->profiles, h->fpr);
	if (!g->l)
		return NULL;
	g->used = true;
	g->t = *t;
	g->t.len = 0;
	g->gen = h->gen;
	g->deadline = now + cfg.handshake_timeout_s * 1000ull;
	nlegs++;
	in_hs++;
	st->started++;
	st->in_handshake = in_hs;
	return g;
}

/* A leg whose certificate of ours is neither the current nor the previous one (past the
 * grace, or not ours): it fails, reported to end like the other failures. */
static void fail_cert(const struct pr_frec *t, uint32_t gen)
{
	struct pr_frec tt = *t;
	struct pr_dtls_hdr fh = {.type = PR_DTLS_FAIL, .gen = gen, .reason = PR_DTLS_F_CERT};
	struct leg tmp = {.gen = gen};

	tt.len = 0;
	tmp.t = tt;
	send_msg(&tmp, &fh, NULL, 0);
	st->failed[PR_DTLS_F_CERT]++;
	PR_WARN(
	    "leg %u: DTLS-SRTP handshake failed: its SDP carried a certificate of ours no longer "
	    "kept ([dtls] rotate_grace_s) or never ours",
	    t->srv_port);
}

static void on_msg(const struct pr_frec *t, const uint8_t *p, uint32_t n, uint64_t now)
{
	struct pr_dtls_msg m;
	int why;
	if (pr_dtls_msg_parse(t, p, n, true, &m) < 0)
		return;
	struct leg *g = leg_find(t, m.h.gen);
	switch (m.h.type) {
	case PR_DTLS_END:
		if (g)
			leg_free(g);
		return;
	case PR_DTLS_START:
		if (g)
			return;
		if (!(g = leg_new(t, &m.h, now, &why))) {
			if (why == PR_DTLS_F_CERT)
				return fail_cert(t, m.h.gen);
			/* An active leg gets one START per attach: dropped, it would wait forever
			 * for a handshake nobody starts (the peer waits for our ClientHello). It
			 * fails, reported to end (busy: max_handshakes; else a handshake error). */
			struct leg tmp = {.t = *t, .gen = m.h.gen};
			struct pr_dtls_hdr fh = {
			    .type = PR_DTLS_FAIL, .gen = m.h.gen, .reason = (uint8_t)why};
			tmp.t.len = 0;
			send_msg(&tmp, &fh, NULL, 0);
			if (fh.reason == PR_DTLS_F_ALERT)
				st->failed[PR_DTLS_F_ALERT]++;
			PR_WARN("leg %u: DTLS-SRTP handshake not started: %s", t->srv_port,
				fh.reason == PR_DTLS_F_BUSY ? "max_handshakes in handshake already"
							    : "it could not be set up");
			return;
		}
		break;
	case PR_DTLS_RECORD:
		if (!g) {
			/* a passive leg begins with the peer's ClientHello (content type 22) */
			if (m.h.role != PR_DTLS_PASSIVE || m.data[0] != 22)
				return;
			if (!admit(t, now)) {
				st->rate_limited++;
				return;
			}
			if (!(g = leg_new(t, &m.h, now, &why))) {
				if (why == PR_DTLS_F_CERT)
					fail_cert(t, m.h.gen);
				return;
			}
		}
		/* the nominated address may move (ICE restart): answers follow it */
		memcpy(g->t.cli_ip, t->cli_ip, 16);
		g->t.cli_port = t->cli_port;
		flush(g, pr_dtls_leg_input(g->l, m.data, m.len), now);
		return;
	default:
		return;
	}
	flush(g, pr_dtls_leg_step(g->l), now);
}

/* Timers: retransmissions, deadlines, lingering legs. The next one, in ms from now. */
static int run_timers(uint64_t now)
{
	uint64_t next = now + 1000;
	for (unsigned i = 0; i < cfg.max_handshakes; i++) {
		struct leg *g = &legs[i];
		if (!g->used)
			continue;
		if (g->linger) {
			if (now >= g->linger)
				leg_free(g);
			else if (g->linger < next)
				next = g->linger;
			continue;
		}
		if (now >= g->deadline) {
			struct pr_dtls_hdr fh = {
			    .type = PR_DTLS_FAIL, .gen = g->gen, .reason = PR_DTLS_F_TIMEOUT};
			send_msg(g, &fh, NULL, 0);
			st->failed[PR_DTLS_F_TIMEOUT]++;
			PR_WARN("leg %u: DTLS-SRTP handshake failed: timeout", g->t.srv_port);
			leg_free(g);
			continue;
		}
		long t = pr_dtls_leg_timer_ms(g->l);
		if (t == 0) {
			flush(g, pr_dtls_leg_timeout(g->l), now);
			if (!g->used)
				continue;
			t = pr_dtls_leg_timer_ms(g->l);
		}
		if (t > 0 && now + (uint64_t)t < next)
			next = now + (uint64_t)t;
		if (g->deadline < next)
			next = g->deadline;
	}
	return (int)(next - now);
}

static void dp_down(const char *why)
{
	if (!dp.up)
		return;
	PR_WARN("dataplane link down (%s): handshakes in progress are dropped", why);
	dead_st = *st;
	st = &dead_st;
	dp.up = false;
	munmap(dp.region, dp.bytes);
	close(dp.sfd);
	close(dp.efd);
	dp.sfd = dp.efd = -1;
	/* the legs' state went with the dataplane's generation numbers */
	for (unsigned i = 0; i < cfg.max_handshakes; i++)
		if (legs[i].used)
			leg_free(&legs[i]);
}

static void dp_connect(void)
{
	static bool warned;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", cfg.dataplane_socket);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (!warned)
			PR_WARN("dataplane socket %s: %s (retrying every second)",
				cfg.dataplane_socket, strerror(errno));
		warned = true;
		if (fd >= 0)
			close(fd);
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
	void *m = MAP_FAILED;
	size_t bytes = 0;
	if (n == (ssize_t)sizeof(h) && fds[0] >= 0 && h.magic == PR_FRING_MAGIC &&
	    h.version == PR_FRING_VERSION && h.n_in == 1 && h.n_out == 1 && h.ring_bytes >= 4096 &&
	    !(h.ring_bytes & (h.ring_bytes - 1)) && h.ring_bytes <= (64u << 20)) {
		bytes = pr_fring_region_bytes(1, 1, h.ring_bytes);
		m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
	}
	if (fds[0] >= 0)
		close(fds[0]);
	if (m == MAP_FAILED || ((struct pr_fring_region *)m)->ring_bytes != h.ring_bytes) {
		if (!warned)
			PR_WARN("dataplane socket %s: no usable handshake (another DTLS process "
				"attached?), retrying",
				cfg.dataplane_socket);
		warned = true;
		if (m != MAP_FAILED)
			munmap(m, bytes);
		if (fds[1] >= 0)
			close(fds[1]);
		close(fd);
		return;
	}
	warned = false;
	dp.region = m;
	dp.bytes = bytes;
	dp.ring_bytes = h.ring_bytes;
	dp.sfd = fd;
	dp.efd = fds[1];
	dp.up = true;
	st = (struct pr_dtls_stats *)((uint8_t *)m + PR_DTLS_STATS_OFF);
	*st = dead_st;
	PR_NOTICE("attached to the dataplane (generation %u)", h.generation);
}

static void drain(uint64_t now)
{
	struct pr_frec t;
	static uint8_t buf[PR_FRING_MAX_MSG];
	for (int i = 0; dp.up && i < 256; i++) {
		int rc = pr_fring_get(ring_out(), dp.ring_bytes, &t, buf, sizeof(buf));
		if (rc < 0) {
			dp_down("its ring holds what no dataplane writes");
			return;
		}
		if (rc == 0)
			return;
		on_msg(&t, buf, t.len, now);
	}
}

/* ---- Redis: our fingerprint for the SDP ---- */
static bool published;
static uint64_t publish_at;

static void publish(const char *fpr, uint64_t now)
{
	struct pr_redis *r;
	if (published || now < publish_at)
		return;
	publish_at = now + 5000;
	r = pr_redis_open(cfg.redis_socket, cfg.redis_user, cfg.redis_password_file, 1000);
	if (!r) {
		PR_WARN("redis %s: unreachable; pr:dtls:fingerprint not published yet (retrying)",
			cfg.redis_socket);
		return;
	}
	redisReply *rep = pr_redis_cmd(r, "SET pr:dtls:fingerprint %s", fpr);
	if (rep && rep->type != REDIS_REPLY_ERROR) {
		published = true;
		PR_NOTICE("published pr:dtls:fingerprint %s", fpr);
	}
	if (rep)
		freeReplyObject(rep);
	pr_redis_close(r);
}

/* ---- our certificate: made, rotated, the previous one kept for its grace ---- */
static char cur_text[110];

/* certs.cur from cert_dir (and the previous pair while in its grace); 0 or -1 with err */
static int certs_load(char *err, size_t el)
{
	struct pr_dtls_certs c = {0};

	if (!(c.cur = pr_dtls_ctx_new(cfg.cert_dir, err, el)) ||
	    pr_dtls_ctx_fingerprint(c.cur, c.cur_fpr) < 0) {
		SSL_CTX_free(c.cur);
		return -1;
	}
	c.prev = pr_dtls_ctx_prev(cfg.cert_dir, cfg.rotate_grace_s, err, el);
	if (!c.prev && err[0])
		PR_WARN("previous certificate not kept: %s", err);
	if (c.prev && pr_dtls_ctx_fingerprint(c.prev, c.prev_fpr) < 0) {
		SSL_CTX_free(c.prev);
		c.prev = NULL;
	}
	/* (a leg in handshake holds a reference to its context) */
	SSL_CTX_free(certs.cur);
	SSL_CTX_free(certs.prev);
	certs = c;
	pr_dtls_fpr_format(certs.cur_fpr, cur_text);
	return 0;
}

/* A new certificate when the current one is rotate_days old (or now: force); the previous
 * dropped once past its grace. New calls get the new fingerprint once it is published. */
static void certs_check(bool force, uint64_t now)
{
	char err[768], prev[110];
	long age = pr_dtls_cert_age(cfg.cert_dir);

	if (force || age < 0 || age >= (long)cfg.rotate_days * 86400) {
		if (pr_dtls_cert_rotate(cfg.cert_dir, cfg.rotate_days, err, sizeof(err)) < 0 ||
		    certs_load(err, sizeof(err)) < 0) {
			PR_ERR("certificate rotation: %s (the current one kept)", err);
			return;
		}
		if (certs.prev)
			pr_dtls_fpr_format(certs.prev_fpr, prev);
		PR_NOTICE("new certificate %s/cert.pem, %s; the previous one (%s) kept %u s",
			  cfg.cert_dir, cur_text, certs.prev ? prev : "none", cfg.rotate_grace_s);
		published = false;
		publish_at = now;
		return;
	}
	if (certs.prev && age >= (long)cfg.rotate_grace_s) {
		SSL_CTX_free(certs.prev);
		certs.prev = NULL;
		memset(certs.prev_fpr, 0, sizeof(certs.prev_fpr));
		PR_NOTICE("previous certificate past [dtls] rotate_grace_s: no longer used");
	}
}

static volatile sig_atomic_t stop, rotate_now;
static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		rotate_now = 1;
	else
		stop = 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"check-config", no_argument, NULL, 'C'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *path = DTLS_DEFAULT_CONFIG;
	bool check_only = false, verbose = false;
	int opt;
	char err[768];

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
			fprintf(stderr, "usage: poprelay-dtls [-c CONFIG] [-v] [--check-config]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	pr_log_init("poprelay-dtls", verbose ? PR_LOG_DEBUG : PR_LOG_INFO);
	if (load_config(path, err, sizeof(err)) < 0) {
		PR_ERR("configuration: %s", err);
		return 2;
	}
	if (check_only) {
		printf("configuration OK\n");
		return 0;
	}
	int made = pr_dtls_cert_ensure(cfg.cert_dir, cfg.rotate_days, err, sizeof(err));
	if (made < 0 || certs_load(err, sizeof(err)) < 0) {
		PR_ERR("certificate: %s", err);
		return 1;
	}
	PR_NOTICE("%s certificate %s/cert.pem, %s%s", made ? "new" : "kept", cfg.cert_dir, cur_text,
		  certs.prev ? "; the previous one kept for its grace" : "");
	legs = calloc(cfg.max_handshakes, sizeof(*legs));
	if (!legs)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGUSR1, on_signal);
	uint64_t retry = 0, check_at = now_ms() + ROTATE_CHECK_MS;
	while (!stop) {
		uint64_t now = now_ms();
		if (rotate_now || now >= check_at) {
			certs_check(rotate_now, now);
			rotate_now = 0;
			check_at = now + ROTATE_CHECK_MS;
		}
		publish(cur_text, now);
		if (!dp.up && now >= retry) {
			dp_connect();
			retry = now + 1000;
		}
		int wait = run_timers(now);
		if (dp.up) {
			drain(now);
			/* sleep only with nothing to read, and ask to be woken */
			__atomic_store_n(&((struct pr_fring_region *)dp.region)->want_wake, 1,
					 __ATOMIC_SEQ_CST);
			if (!pr_fring_empty(ring_out()))
				wait = 0;
		}
		if (!dp.up && wait > 1000)
			wait = 1000;
		struct pollfd p[2] = {{.fd = dp.sfd, .events = POLLIN},
				      {.fd = dp.efd, .events = POLLIN}};
		int rc = poll(p, dp.up ? 2 : 0, wait < 0 ? 0 : wait);
		if (dp.up)
			__atomic_store_n(&((struct pr_fring_region *)dp.region)->want_wake, 0,
					 __ATOMIC_SEQ_CST);
		if (rc > 0 && dp.up && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			char b[16];
			ssize_t n = recv(dp.sfd, b, sizeof(b), MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN))
				dp_down("the dataplane closed the socket");
		}
		if (rc > 0 && dp.up && (p[1].revents & POLLIN)) {
			uint64_t v;
			ssize_t n = read(dp.efd, &v, sizeof(v));
			(void)n;
		}
	}
	PR_NOTICE("stopping: %u legs in handshake dropped", in_hs);
	return 0;
}
