/* SPDX-License-Identifier: BSD-3-Clause */
/* allocgen: TURN Allocate load for tests/bench/turn_alloc.sh. S non-blocking UDP sockets
 * (each its own client 5-tuple) on one epoll, each running one transaction at a time, as a
 * new device does (RFC 8656 6.2, RFC 8489 9.2):
 *   Allocate (no credentials) -> 401 with REALM and NONCE
 *   -> Allocate with USERNAME, REALM, NONCE, MESSAGE-INTEGRITY (long-term key, MD5), and
 *      REQUESTED-TRANSPORT UDP -> success with XOR-RELAYED-ADDRESS and a valid
 *      MESSAGE-INTEGRITY (counted: one allocate)
 *   -> Refresh LIFETIME 0 (authenticated, same nonce) -> success: the relay port is free
 *   -> again, from a new socket (a new 5-tuple, as a device's next session has; coturn holds
 *      a deallocated 5-tuple's session for a while and answers 437; --same-port keeps it)
 *      on the next of the N source addresses in turn (every address sees the same share of
 *      the challenges, however many sockets: servers limit them per address).
 * With --reuse-nonce a socket that holds a nonce skips the challenge (a client allocating
 * again within the nonce's life; it keeps its address, to which a nonce may be bound).
 * 438 (stale nonce) takes the new nonce and resends; 437 on an Allocate (an allocation left
 * from a lost answer) refreshes it away first. Requests are retransmitted after --rto ms,
 * doubling, --retries times; then counted as a timeout and the socket starts over.
 *
 *   allocgen --server IP[:PORT] --src IP [--nsrc N] [--sockets S] --user U --pass P
 *            [--secs T] [--warmup W] [--rto MS] [--retries R] [--reuse-nonce] [--same-port]
 *
 * Prints one JSON object: allocates counted in the T seconds after W seconds of warm-up,
 * per_s, challenges, refreshes, stale nonces, errors by code, timeouts, retransmits,
 * client_cpu_s (user + system over the counted window), total_allocates (warm-up
 * included). MESSAGE-INTEGRITY is HMAC-SHA1 with the key's pads hashed once; the key and
 * FINGERPRINT come from crypto/stun_auth. Exit 0 when something was allocated (errors are
 * counted, not fatal: the bench reports them), 1 when nothing was. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define STUN_CLIENT_PROG "allocgen"
#include "tests/bench/turn/stun_client.h"

#define M_REFRESH   0x0004
#define CLS_SUCCESS 0x0100
#define CLS_ERROR   0x0110
#define A_LIFETIME  0x000D
#define MAX_CODES   16

enum step { S_ALLOC0, S_ALLOC1, S_REFRESH };

struct sock {
	int fd;
	enum step step;
	uint8_t tid[12];
	uint8_t msg[MSG_MAX];
	size_t len;
	double sent, rto;
	unsigned tries;
	bool after_reset; /* this Refresh clears a leftover allocation (437), then Allocate */
	char nonce[NONCE_MAX];
};

static struct {
	unsigned long allocates, challenges, refreshes, stale, timeouts, retransmits, bad;
	unsigned long total_allocates;
	struct {
		int code;
		unsigned long n;
	} err[MAX_CODES];
} st;

static bool reuse_nonce, same_port;
static struct sockaddr_in srv;
static double rto0 = 0.5;
static unsigned max_retries = 4;
static bool counting;
static uint64_t tid_ctr;
static volatile sig_atomic_t stop;
static int ep;

/* a request of method `method` into s->msg with a fresh transaction id; authenticated
 * requests carry USERNAME, REALM, NONCE, MESSAGE-INTEGRITY; all carry FINGERPRINT */
static void build(struct sock *s, uint16_t method, bool auth)
{
	uint8_t *m = s->msg;
	size_t off = 20;
	uint64_t t = ++tid_ctr;

	wr16(m, method);
	m[4] = COOKIE >> 24, m[5] = (COOKIE >> 16) & 0xff, m[6] = (COOKIE >> 8) & 0xff,
	m[7] = COOKIE & 0xff;
	memcpy(s->tid, &t, 8);
	memcpy(s->tid + 8, &s->fd, 4);
	memcpy(m + 8, s->tid, 12);
	if (method == M_ALLOCATE) {
		static const uint8_t udp[4] = {17, 0, 0, 0};
		off = attr(m, off, A_REQ_TRANS, udp, 4);
	} else {
		static const uint8_t zero[4] = {0};
		off = attr(m, off, A_LIFETIME, zero, 4);
	}
	if (auth) {
		off = attr(m, off, A_USERNAME, user, strlen(user));
		off = attr(m, off, A_REALM, realm, strlen(realm));
		off = attr(m, off, A_NONCE, s->nonce, strlen(s->nonce));
		wr16(m + 2, (uint16_t)(off + 24 - 20));
		uint8_t mac[20];
		hmac(m, off, mac);
		off = attr(m, off, A_MI, mac, 20);
	}
	wr16(m + 2, (uint16_t)(off + 8 - 20));
	uint32_t fp = htonl(pr_stun_fingerprint(m, off));
	off = attr(m, off, A_FINGERPRINT, &fp, 4);
	s->len = off;
}

static void xmit(struct sock *s, double now)
{
	if (send(s->fd, s->msg, s->len, 0) < 0 && errno != EAGAIN && errno != ECONNREFUSED)
		perror("allocgen: send");
	s->sent = now;
}

static void start(struct sock *s, enum step step, double now)
{
	s->step = step;
	s->tries = 0;
	s->rto = rto0;
	build(s, step == S_REFRESH ? M_REFRESH : M_ALLOCATE, step != S_ALLOC0);
	xmit(s, now);
}

static void count_error(int code)
{
	int i;
	for (i = 0; i < MAX_CODES && st.err[i].code && st.err[i].code != code; i++)
		;
	if (i == MAX_CODES)
		i = MAX_CODES - 1; /* the last slot collects the rest */
	st.err[i].code = st.err[i].code ? st.err[i].code : code;
	st.err[i].n++;
}

/* (re)opens socket i of the table from its source address: a new 5-tuple, as a device's new
 * session has (coturn keeps a deallocated 5-tuple's session for a while and answers 437) */
static int sock_open(struct sock *s, unsigned i, const struct sockaddr_in *from)
{
	if (s->fd > 0) {
		close(s->fd); /* also leaves the epoll set */
		s->fd = 0;
	}
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
	if (fd < 0 || bind(fd, (const struct sockaddr *)from, sizeof(*from)) < 0 ||
	    connect(fd, (struct sockaddr *)&srv, sizeof(srv)) < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		fprintf(stderr, "allocgen: socket from %s: %s\n", inet_ntoa(from->sin_addr),
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	s->fd = fd;
	return 0;
}

static struct sock *socks;
static struct sockaddr_in *froms;
static uint32_t src_base;
static unsigned nsrc = 1, src_next;

/* the next allocation of this socket's slot: a new 5-tuple unless --same-port, from the
 * next source address in turn (so every address sees the same share of the challenges,
 * however many sockets there are: the server may limit them per address) */
static void next_session(struct sock *s, double now)
{
	unsigned i = (unsigned)(s - socks);
	if (!same_port) {
		if (!reuse_nonce) /* a nonce may be bound to the address it was given to */
			froms[i].sin_addr.s_addr = htonl(src_base + src_next++ % nsrc);
		if (sock_open(s, i, &froms[i]) < 0)
			exit(2);
	}
	start(s, reuse_nonce && s->nonce[0] ? S_ALLOC1 : S_ALLOC0, now);
}

static void on_answer(struct sock *s, const uint8_t *m, size_t len, double now)
{
	struct parsed p;
	if (parse(m, len, &p) < 0 || memcmp(m + 8, s->tid, 12) != 0)
		return; /* malformed, or the answer to a retransmitted earlier request */
	uint16_t type = rd16(m);
	bool ok = (type & 0x0110) == CLS_SUCCESS;

	switch (s->step) {
	case S_ALLOC0:
		if (!ok && p.code == 401 && take_nonce(s->nonce, &p)) {
			if (counting)
				st.challenges++;
			start(s, S_ALLOC1, now);
			return;
		}
		break;
	case S_ALLOC1:
		if (ok && p.relayed && mi_ok(m, &p)) {
			st.total_allocates++;
			if (counting)
				st.allocates++;
			start(s, S_REFRESH, now);
			return;
		}
		if (ok) {
			if (counting)
				st.bad++;
			start(s, S_REFRESH, now);
			return;
		}
		if (p.code == 438 && take_nonce(s->nonce, &p)) {
			if (counting)
				st.stale++;
			start(s, S_ALLOC1, now);
			return;
		}
		if (p.code == 437) { /* ours from a lost answer: free it, then allocate again */
			if (counting)
				count_error(437);
			s->after_reset = true;
			start(s, S_REFRESH, now);
			return;
		}
		break;
	case S_REFRESH:
		if (!ok && p.code == 401 && take_nonce(s->nonce, &p)) {
			start(s, S_REFRESH, now);
			return;
		}
		if (ok) {
			if (counting && !s->after_reset)
				st.refreshes++;
			s->after_reset = false;
			next_session(s, now);
			return;
		}
		if (p.code == 438 && take_nonce(s->nonce, &p)) {
			if (counting)
				st.stale++;
			start(s, S_REFRESH, now);
			return;
		}
		break;
	}
	/* anything else: counted by code, the socket starts over with a challenge */
	if (counting)
		count_error(ok ? -2 : p.code ? p.code : -1); /* -2: an unexpected success */
	s->after_reset = false;
	s->nonce[0] = 0;
	next_session(s, now);
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: allocgen --server IP[:PORT] --src IP [--nsrc N] [--sockets S] "
			"--user U --pass P [--secs T] [--warmup W] [--rto MS] [--retries R] "
			"[--reuse-nonce] [--same-port]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"server", 1, 0, 's'},
					     {"src", 1, 0, 'a'},
					     {"nsrc", 1, 0, 'n'},
					     {"sockets", 1, 0, 'S'},
					     {"user", 1, 0, 'u'},
					     {"pass", 1, 0, 'p'},
					     {"secs", 1, 0, 't'},
					     {"warmup", 1, 0, 'w'},
					     {"rto", 1, 0, 'r'},
					     {"retries", 1, 0, 'R'},
					     {"reuse-nonce", 0, 0, 'N'},
					     {"same-port", 0, 0, 'P'},
					     {0, 0, 0, 0}};
	const char *server = NULL, *src = NULL;
	unsigned nsock = 128;
	double secs = 5, warmup = 1;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			server = optarg;
			break;
		case 'a':
			src = optarg;
			break;
		case 'n':
			nsrc = (unsigned)atoi(optarg);
			break;
		case 'S':
			nsock = (unsigned)atoi(optarg);
			break;
		case 'u':
			user = optarg;
			break;
		case 'p':
			pass = optarg;
			break;
		case 't':
			secs = atof(optarg);
			break;
		case 'w':
			warmup = atof(optarg);
			break;
		case 'r':
			rto0 = atof(optarg) / 1000;
			break;
		case 'R':
			max_retries = (unsigned)atoi(optarg);
			break;
		case 'N':
			reuse_nonce = true;
			break;
		case 'P':
			same_port = true;
			break;
		default:
			usage();
		}
	}
	if (!server || !src || !user || !pass || !nsrc || !nsock || nsock > 65536 || secs <= 0 ||
	    rto0 <= 0)
		usage();

	/* the fast HMAC must be HMAC-SHA1 (crypto/stun_auth's is the reference) */
	{
		uint8_t ref[20], got[20];
		memcpy(key, "0123456789abcdef", 16);
		hmac_init();
		hmac("poprelay", 8, got);
		pr_hmac_sha1(key, 16, "poprelay", 8, ref);
		if (memcmp(ref, got, 20)) {
			fprintf(stderr, "allocgen: HMAC self-check failed\n");
			return 2;
		}
	}

	char host[64];
	snprintf(host, sizeof(host), "%s", server);
	char *colon = strchr(host, ':');
	srv.sin_family = AF_INET;
	srv.sin_port = htons(colon ? (uint16_t)atoi(colon + 1) : 3478);
	if (colon)
		*colon = 0;
	struct in_addr base;
	if (inet_pton(AF_INET, host, &srv.sin_addr) != 1 || inet_pton(AF_INET, src, &base) != 1) {
		fprintf(stderr, "allocgen: --server and --src take IPv4 addresses\n");
		return 2;
	}

	struct rlimit rl = {nsock + 64, nsock + 64};
	setrlimit(RLIMIT_NOFILE, &rl);
	ep = epoll_create1(0);
	socks = calloc(nsock, sizeof(*socks));
	froms = calloc(nsock, sizeof(*froms));
	if (ep < 0 || !socks || !froms) {
		perror("allocgen");
		return 2;
	}
	src_base = ntohl(base.s_addr);
	for (unsigned i = 0; i < nsock; i++) {
		froms[i].sin_family = AF_INET;
		froms[i].sin_addr.s_addr = htonl(src_base + src_next++ % nsrc);
		if (sock_open(&socks[i], i, &froms[i]) < 0)
			return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	double t0 = now_s(), tw = t0 + warmup, te = tw + secs, next_scan = t0, cpu0 = 0, now;
	for (unsigned i = 0; i < nsock; i++)
		start(&socks[i], S_ALLOC0, t0);
	struct epoll_event evs[256];
	uint8_t buf[MSG_MAX];
	while (!stop && (now = now_s()) < te) {
		if (!counting && now >= tw) {
			counting = true;
			cpu0 = cpu_s();
		}
		int n = epoll_wait(ep, evs, 256, 10);
		now = now_s();
		for (int k = 0; k < n; k++) {
			struct sock *s = &socks[evs[k].data.u32];
			ssize_t l;
			int fd = s->fd;
			/* an answer may open a new socket in its place: stop reading the old one */
			while (s->fd == fd && (l = recv(fd, buf, sizeof(buf), 0)) > 0)
				on_answer(s, buf, (size_t)l, now);
		}
		if (now >= next_scan) { /* retransmissions (RFC 8489 6.2.1: RTO doubling) */
			for (unsigned i = 0; i < nsock; i++) {
				struct sock *s = &socks[i];
				if (now - s->sent < s->rto)
					continue;
				if (s->tries < max_retries) {
					s->tries++;
					s->rto *= 2;
					if (counting)
						st.retransmits++;
					xmit(s, now);
				} else {
					if (counting)
						st.timeouts++;
					/* a new 5-tuple (the server expires what the
					 * old one may hold), or with --same-port free it */
					if (same_port && s->step != S_ALLOC0) {
						s->after_reset = true;
						start(s, S_REFRESH, now);
					} else {
						s->after_reset = false;
						next_session(s, now);
					}
				}
			}
			next_scan = now + 0.01;
		}
	}
	double cpu = counting ? cpu_s() - cpu0 : 0, span = now_s() - tw;
	if (span > secs)
		span = secs;

	printf("{\"allocates\": %lu, \"per_s\": %.1f, \"secs\": %.2f, \"sockets\": %u, "
	       "\"sources\": %u, \"reuse_nonce\": %s, \"challenges\": %lu, \"refreshes\": %lu, "
	       "\"stale_nonces\": %lu, \"timeouts\": %lu, \"retransmits\": %lu, "
	       "\"bad_answers\": %lu, \"client_cpu_s\": %.3f, \"total_allocates\": %lu, "
	       "\"errors\": {",
	       st.allocates, span > 0 ? st.allocates / span : 0, span, nsock, nsrc,
	       reuse_nonce ? "true" : "false", st.challenges, st.refreshes, st.stale, st.timeouts,
	       st.retransmits, st.bad, cpu, st.total_allocates);
	for (int i = 0; i < MAX_CODES && st.err[i].code; i++)
		printf("%s\"%d\": %lu", i ? ", " : "", st.err[i].code, st.err[i].n);
	printf("}}\n");
	return st.allocates ? 0 : 1;
}
