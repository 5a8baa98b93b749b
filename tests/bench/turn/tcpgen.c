/* SPDX-License-Identifier: BSD-3-Clause */
/* tcpgen: TURN over TCP and TLS relay load for tests/bench/turn_tcp.sh. N client connections
 * (TCP, or TLS with --tls) on one epoll, and a UDP peer in the same process, as
 * turnutils_uclient -t / -t -S and turnutils_peer do it (channel mode):
 *   connect (TLS handshake) -> Allocate (no credentials) -> 401 with REALM and NONCE
 *   -> Allocate with USERNAME, REALM, NONCE, MESSAGE-INTEGRITY (long-term key, MD5) and
 *      REQUESTED-TRANSPORT UDP -> success with XOR-RELAYED-ADDRESS and a valid
 *      MESSAGE-INTEGRITY
 *   -> ChannelBind (authenticated: CHANNEL-NUMBER, XOR-PEER-ADDRESS --peer; it installs the
 *      permission too) -> success: the connection is ready
 *   -> ChannelData of --len bytes (200) to the peer. The peer (a UDP socket bound to --peer)
 *      sends every datagram back to where it came from, the connection's relayed address,
 *      and the server hands it to the client over its connection as ChannelData.
 * Saturating by default: every connection keeps --window messages (1) in flight and sends
 * the next when one comes back; --rate R paces R messages per second over all connections
 * instead (round robin, open loop). A connection whose messages have not come back after 3 s
 * counts them timed out and sends new ones; an answer that comes back after that is counted
 * late (and relayed: it was), so lost = timeouts - late, up to what was still on its way.
 * At most --setup connections (256) are being set up at once, each from the next of --nsrc
 * source addresses from --src in turn (servers limit connections and challenges per source
 * address).
 *
 *   tcpgen --server IP:PORT [--tls] --src IP [--nsrc N] --conns N --user U --pass P
 *          --peer IP:PORT [--secs T] [--warmup W] [--window K | --rate R] [--len L]
 *          [--setup S] [--setup-timeout S] [--hold] [--watch PID]...
 *
 * Relayed packets are counted in both directions over the T seconds after the W seconds of
 * warm-up that follow the setup: client -> peer at the peer (peer_rx), peer -> client at the
 * client (client_rx); relayed = their sum. Prints one JSON object: the setup (connections
 * ready, failed, its seconds), the counts and rates, timeouts and late answers, round-trip time
 * percentiles, client_cpu_s (this process, user + system over the window), the busy share of
 * every CPU over the window (/proc/stat) and, for each --watch process, its CPU seconds over
 * the window, whole and by thread (/proc/PID/task). With --hold it sends nothing after the
 * setup: it prints "ready N" on a line of its own to stderr, holds the connections until
 * SIGTERM or SIGINT, then prints the setup's JSON (the memory figure: idle, allocated
 * connections). Exit 0 when connections were ready, 1 when none was. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

#include <openssl/err.h>
#include <openssl/ssl.h>

#define STUN_CLIENT_PROG "tcpgen"
#include "tests/bench/turn/stun_client.h"

#define M_CHANNEL_BIND 0x0009
#define A_CHANNEL      0x000C
#define A_XOR_PEER     0x0012
#define IO_CAP	       4096 /* per connection, each way: a few messages */
#define MAX_WATCH      8
#define PEER_BATCH     64
#define LOSS_S	       3.0
#define RTT_BUCKETS    40
#define PEER_IDX       0xFFFFFFFFu

enum state { C_FREE, C_CONNECTING, C_HANDSHAKE, C_ALLOC0, C_ALLOC1, C_BIND, C_READY, C_DEAD };

struct conn {
	int fd;
	SSL *ssl;
	enum state state;
	bool pollout; /* EPOLLOUT asked for */
	uint16_t chan;
	uint8_t tid[12];
	uint32_t in_len, out_len, inflight, seq;
	uint32_t valid_from; /* answers to earlier sequence numbers were given up on: late */
	double sent, last;   /* the pending request's send time; the last data sent or received */
	unsigned resent;
	char nonce[NONCE_MAX];
	uint8_t in[IO_CAP], out[IO_CAP];
};

static struct {
	unsigned long ready, failed, closed, retransmits, stale;
	unsigned long client_tx, client_rx, peer_rx, peer_tx, timeouts, late, bad, out_full;
	unsigned long rtt[RTT_BUCKETS]; /* log2 microseconds */
} st;

static bool use_tls, hold, counting;
static struct sockaddr_in srv, peer;
static unsigned nconns, nsrc = 1, setup_par = 256, window = 1, plen = 200;
static double rate;
static uint32_t src_base;
static struct conn *conns;
static int ep, peer_fd;
static SSL_CTX *tls;
static uint64_t tid_ctr;
static volatile sig_atomic_t stop;

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* --- CPU accounting over the counted window: /proc/stat and /proc/PID/task/TID/stat --- */

static int nwatch;
static int watch_pid[MAX_WATCH];
#define MAX_THREADS 64
static struct thr {
	int tid;
	char comm[32];
	unsigned long t0, t1;
} thr[MAX_WATCH][MAX_THREADS];
static int nthr[MAX_WATCH];
#define MAX_CPUS 64
static unsigned long long cpu_busy[2][MAX_CPUS], cpu_all[2][MAX_CPUS];
static int ncpus;

/* user + system ticks and the name of one thread (comm may hold spaces: after the last ')') */
static int thread_ticks(int pid, int tid, char comm[32], unsigned long *ticks)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *lp = strchr(buf, '('), *rp = strrchr(buf, ')');
	if (!lp || !rp)
		return -1;
	snprintf(comm, 32, "%.*s", (int)(rp - lp - 1), lp + 1);
	unsigned long ut, stt;
	/* after ')': state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
	 * stime */
	if (sscanf(rp + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &stt) != 2)
		return -1;
	*ticks = ut + stt;
	return 0;
}

static void sample(int which)
{
	for (int w = 0; w < nwatch; w++) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/task", watch_pid[w]);
		DIR *d = opendir(path);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			int tid = atoi(e->d_name);
			char comm[32];
			unsigned long t;
			if (tid <= 0 || thread_ticks(watch_pid[w], tid, comm, &t) < 0)
				continue;
			int k;
			for (k = 0; k < nthr[w] && thr[w][k].tid != tid; k++)
				;
			if (k == nthr[w]) {
				if (k == MAX_THREADS)
					continue;
				nthr[w]++;
				thr[w][k].tid = tid;
				thr[w][k].t0 = thr[w][k].t1 = 0; /* (born in the window: from 0) */
			}
			snprintf(thr[w][k].comm, 32, "%s", comm);
			if (which)
				thr[w][k].t1 = t;
			else
				thr[w][k].t0 = t;
		}
		if (d)
			closedir(d);
	}
	FILE *f = fopen("/proc/stat", "r");
	char line[512];
	while (f && fgets(line, sizeof(line), f)) {
		int c;
		unsigned long long v[8] = {0};
		if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &c, &v[0], &v[1],
			   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) < 9 ||
		    c < 0 || c >= MAX_CPUS)
			continue;
		unsigned long long all = 0;
		for (int i = 0; i < 8; i++)
			all += v[i];
		cpu_all[which][c] = all;
		cpu_busy[which][c] = all - v[3] - v[4]; /* all but idle and iowait */
		if (c + 1 > ncpus)
			ncpus = c + 1;
	}
	if (f)
		fclose(f);
}

/* --- connections --- */

static void set_events(struct conn *c, bool out)
{
	if (c->pollout == out)
		return;
	struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0),
				 .data.u32 = (uint32_t)(c - conns)};
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->pollout = out;
}

static void conn_dead(struct conn *c, bool failed)
{
	if (c->state == C_DEAD)
		return;
	if (c->state == C_READY)
		st.closed++;
	else if (failed)
		st.failed++;
	if (c->ssl)
		SSL_free(c->ssl);
	c->ssl = NULL;
	close(c->fd); /* also leaves the epoll set */
	c->state = C_DEAD;
}

/* writes what the connection holds; false when it is dead */
static bool flush(struct conn *c)
{
	while (c->out_len) {
		int n;
		if (c->ssl) {
			ERR_clear_error();
			n = SSL_write(c->ssl, c->out, (int)c->out_len);
			if (n <= 0) {
				int e = SSL_get_error(c->ssl, n);
				if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
					break;
				conn_dead(c, true);
				return false;
			}
		} else {
			ssize_t r = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
			if (r < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				conn_dead(c, true);
				return false;
			}
			n = (int)r;
		}
		/* (with SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER a retried SSL_write may see the same
		 * bytes at the same place and more after them) */
		memmove(c->out, c->out + n, c->out_len - (uint32_t)n);
		c->out_len -= (uint32_t)n;
	}
	set_events(c, c->out_len > 0);
	return true;
}

static bool queue(struct conn *c, const void *m, size_t len)
{
	if (c->out_len + len > IO_CAP) {
		st.out_full++;
		return false;
	}
	memcpy(c->out + c->out_len, m, len);
	c->out_len += (uint32_t)len;
	return true;
}

/* a request into the connection's output with a fresh transaction id; authenticated ones
 * carry USERNAME, REALM, NONCE, MESSAGE-INTEGRITY; all carry FINGERPRINT */
static void request(struct conn *c, uint16_t method, bool auth, double now)
{
	uint8_t m[MSG_MAX];
	size_t off = 20;
	uint64_t t = ++tid_ctr;

	wr16(m, method);
	m[4] = COOKIE >> 24, m[5] = (COOKIE >> 16) & 0xff, m[6] = (COOKIE >> 8) & 0xff,
	m[7] = COOKIE & 0xff;
	memcpy(c->tid, &t, 8);
	memcpy(c->tid + 8, &c->fd, 4);
	memcpy(m + 8, c->tid, 12);
	if (method == M_ALLOCATE) {
		static const uint8_t udp[4] = {17, 0, 0, 0};
		off = attr(m, off, A_REQ_TRANS, udp, 4);
	} else {
		uint8_t ch[4] = {(uint8_t)(c->chan >> 8), (uint8_t)c->chan, 0, 0}, xp[8];
		off = attr(m, off, A_CHANNEL, ch, 4);
		uint16_t port = ntohs(peer.sin_port) ^ (COOKIE >> 16);
		uint32_t a = ntohl(peer.sin_addr.s_addr) ^ COOKIE;
		xp[0] = 0, xp[1] = 1;
		wr16(xp + 2, port);
		xp[4] = (uint8_t)(a >> 24), xp[5] = (uint8_t)(a >> 16), xp[6] = (uint8_t)(a >> 8),
		xp[7] = (uint8_t)a;
		off = attr(m, off, A_XOR_PEER, xp, 8);
	}
	if (auth) {
		off = attr(m, off, A_USERNAME, user, strlen(user));
		off = attr(m, off, A_REALM, realm, strlen(realm));
		off = attr(m, off, A_NONCE, c->nonce, strlen(c->nonce));
		wr16(m + 2, (uint16_t)(off + 24 - 20));
		uint8_t mac[20];
		hmac(m, off, mac);
		off = attr(m, off, A_MI, mac, 20);
	}
	wr16(m + 2, (uint16_t)(off + 8 - 20));
	uint32_t fp = htonl(pr_stun_fingerprint(m, off));
	off = attr(m, off, A_FINGERPRINT, &fp, 4);
	c->sent = now;
	c->resent = 0;
	if (queue(c, m, off))
		flush(c);
}

/* one ChannelData of plen bytes: connection index, sequence, send time, zeros */
static bool send_data(struct conn *c, double now)
{
	uint8_t m[4 + 2048];
	memset(m, 0, 4 + plen);
	wr16(m, c->chan);
	wr16(m + 2, (uint16_t)plen);
	uint32_t idx = (uint32_t)(c - conns), seq = c->seq++;
	uint64_t t = now_ns();
	memcpy(m + 4, &idx, 4);
	memcpy(m + 8, &seq, 4);
	memcpy(m + 12, &t, 8);
	/* over a stream ChannelData is padded to 4 (RFC 8656 12.5) */
	if (!queue(c, m, 4 + ((plen + 3) & ~3u)))
		return false;
	c->inflight++;
	c->last = now;
	if (counting)
		st.client_tx++;
	return true;
}

static void on_data(struct conn *c, const uint8_t *m, size_t len, double now)
{
	uint32_t idx, seq;
	uint64_t t;
	if (rd16(m) != c->chan || len < 4 + 20 || rd16(m + 2) != plen) {
		st.bad++;
		return;
	}
	memcpy(&idx, m + 4, 4);
	memcpy(&seq, m + 8, 4);
	memcpy(&t, m + 12, 8);
	if (idx != (uint32_t)(c - conns)) {
		st.bad++;
		return;
	}
	bool late = seq < c->valid_from;
	if (!late && c->inflight)
		c->inflight--;
	c->last = now;
	if (!counting)
		return;
	st.client_rx++;
	if (late) {
		st.late++;
		return;
	}
	uint64_t us = (now_ns() - t) / 1000;
	int b = 0;
	while (us >> b && b < RTT_BUCKETS - 1)
		b++;
	st.rtt[b]++;
}

static void on_stun(struct conn *c, const uint8_t *m, size_t len, double now)
{
	struct parsed p;
	if (parse(m, len, &p) < 0 || memcmp(m + 8, c->tid, 12) != 0)
		return; /* malformed, or not the answer to the pending request */
	bool ok = (rd16(m) & 0x0110) == 0x0100;
	switch (c->state) {
	case C_ALLOC0:
		if (!ok && p.code == 401 && take_nonce(c->nonce, &p)) {
			c->state = C_ALLOC1;
			request(c, M_ALLOCATE, true, now);
			return;
		}
		break;
	case C_ALLOC1:
	case C_BIND:
		if (!ok && p.code == 438 && take_nonce(c->nonce, &p)) {
			st.stale++;
			request(c, c->state == C_BIND ? M_CHANNEL_BIND : M_ALLOCATE, true, now);
			return;
		}
		if (ok && c->state == C_ALLOC1 && p.relayed && mi_ok(m, &p)) {
			c->state = C_BIND;
			request(c, M_CHANNEL_BIND, true, now);
			return;
		}
		if (ok && c->state == C_BIND && mi_ok(m, &p)) {
			c->state = C_READY;
			c->last = now;
			st.ready++;
			return;
		}
		break;
	default:
		return;
	}
	if (p.code)
		fprintf(stderr, "tcpgen: connection %u: error %d in setup\n", (unsigned)(c - conns),
			p.code);
	conn_dead(c, true);
}

/* the messages the input holds, framed as on a stream: STUN (first bits 00, 20 + length)
 * or ChannelData (01, 4 + length padded to 4) */
static void frames(struct conn *c, double now)
{
	uint32_t off = 0;
	while (c->state != C_DEAD && c->in_len - off >= 4) {
		const uint8_t *m = c->in + off;
		uint32_t len, wire;
		if ((m[0] >> 6) == 0)
			len = wire = 20u + rd16(m + 2);
		else if ((m[0] >> 6) == 1)
			len = 4u + rd16(m + 2), wire = (len + 3) & ~3u;
		else {
			fprintf(stderr, "tcpgen: connection %u: bad framing\n",
				(unsigned)(c - conns));
			conn_dead(c, true);
			return;
		}
		if (wire > IO_CAP) {
			conn_dead(c, true);
			return;
		}
		if (c->in_len - off < wire)
			break;
		if ((m[0] >> 6) == 0)
			on_stun(c, m, len, now);
		else
			on_data(c, m, len, now);
		off += wire;
	}
	if (c->state == C_DEAD)
		return;
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
}

static void conn_input(struct conn *c, double now)
{
	for (;;) {
		int n;
		if (c->ssl) {
			ERR_clear_error();
			n = SSL_read(c->ssl, c->in + c->in_len, (int)(IO_CAP - c->in_len));
			if (n <= 0) {
				int e = SSL_get_error(c->ssl, n);
				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
					return;
				conn_dead(c, true);
				return;
			}
		} else {
			ssize_t r = recv(c->fd, c->in + c->in_len, IO_CAP - c->in_len, 0);
			if (r <= 0) {
				if (r < 0 && (errno == EAGAIN || errno == EINTR))
					return;
				conn_dead(c, true);
				return;
			}
			n = (int)r;
		}
		c->in_len += (uint32_t)n;
		frames(c, now);
		if (c->state == C_DEAD)
			return;
	}
}

static void handshake(struct conn *c, double now)
{
	ERR_clear_error();
	int rc = SSL_connect(c->ssl);
	if (rc == 1) {
		c->state = C_ALLOC0;
		request(c, M_ALLOCATE, false, now);
		return;
	}
	int e = SSL_get_error(c->ssl, rc);
	if (e == SSL_ERROR_WANT_READ)
		set_events(c, false);
	else if (e == SSL_ERROR_WANT_WRITE)
		set_events(c, true);
	else {
		fprintf(stderr, "tcpgen: TLS handshake failed (%s)\n",
			ERR_reason_error_string(ERR_peek_error()) ?: "closed");
		conn_dead(c, true);
	}
}

static void conn_open(struct conn *c, unsigned i, double now)
{
	struct sockaddr_in from = {.sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(src_base + i % nsrc)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
	c->fd = fd;
	c->chan = (uint16_t)(0x4000 + i % 0x3FFF);
	c->sent = now;
	c->state = C_CONNECTING;
	c->pollout = true;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = i};
	if (fd < 0 || setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    /* the kernel picks the port per source address and destination */
	    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&from, sizeof(from)) < 0 ||
	    (connect(fd, (struct sockaddr *)&srv, sizeof(srv)) < 0 && errno != EINPROGRESS) ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		fprintf(stderr, "tcpgen: connection %u from %s: %s (fd %d)\n", i,
			inet_ntoa(from.sin_addr), strerror(errno), fd);
		if (fd >= 0)
			close(fd);
		c->state = C_DEAD;
		st.failed++;
	}
}

static void on_conn_event(struct conn *c, uint32_t events, double now)
{
	if (c->state == C_CONNECTING) {
		int err = 0;
		socklen_t el = sizeof(err);
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err || (events & (EPOLLERR | EPOLLHUP))) {
			fprintf(stderr, "tcpgen: connect: %s\n", strerror(err ?: ECONNRESET));
			conn_dead(c, true);
			return;
		}
		if (!(events & EPOLLOUT))
			return;
		if (use_tls) {
			c->ssl = SSL_new(tls);
			if (!c->ssl || !SSL_set_fd(c->ssl, c->fd)) {
				conn_dead(c, true);
				return;
			}
			c->state = C_HANDSHAKE;
			handshake(c, now);
		} else {
			set_events(c, false);
			c->state = C_ALLOC0;
			request(c, M_ALLOCATE, false, now);
		}
		return;
	}
	if (c->state == C_HANDSHAKE) {
		handshake(c, now);
		return;
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		conn_input(c, now);
	if (c->state != C_DEAD && (events & EPOLLOUT))
		flush(c);
}

/* the peer: every datagram back to where it came from (the relayed address) */
static void peer_input(void)
{
	static uint8_t bufs[PEER_BATCH][2048];
	static struct mmsghdr mm[PEER_BATCH];
	static struct iovec iov[PEER_BATCH];
	static struct sockaddr_in from[PEER_BATCH];
	for (;;) {
		for (int i = 0; i < PEER_BATCH; i++) {
			iov[i] = (struct iovec){bufs[i], sizeof(bufs[i])};
			mm[i].msg_hdr = (struct msghdr){.msg_name = &from[i],
							.msg_namelen = sizeof(from[i]),
							.msg_iov = &iov[i],
							.msg_iovlen = 1};
		}
		int n = recvmmsg(peer_fd, mm, PEER_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++)
			iov[i].iov_len = mm[i].msg_len;
		if (counting)
			st.peer_rx += (unsigned long)n;
		int s = sendmmsg(peer_fd, mm, (unsigned)n, MSG_DONTWAIT);
		if (counting && s > 0)
			st.peer_tx += (unsigned long)s;
		if (n < PEER_BATCH)
			return;
	}
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: tcpgen --server IP:PORT [--tls] --src IP [--nsrc N] --conns N "
		"--user U --pass P --peer IP:PORT [--secs T] [--warmup W] [--window K | "
		"--rate R] [--len L] [--setup S] [--setup-timeout S] [--hold] [--watch PID]...\n");
	exit(2);
}

static int addr_port(const char *s, struct sockaddr_in *a)
{
	char host[64];
	snprintf(host, sizeof(host), "%s", s);
	char *colon = strchr(host, ':');
	if (!colon)
		return -1;
	*colon = 0;
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)atoi(colon + 1));
	return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

static unsigned long rtt_pct(double q)
{
	unsigned long n = 0, seen = 0;
	for (int b = 0; b < RTT_BUCKETS; b++)
		n += st.rtt[b];
	if (!n)
		return 0;
	for (int b = 0; b < RTT_BUCKETS; b++) {
		seen += st.rtt[b];
		if (seen >= q * n)
			return 1ul << b; /* the bucket's upper bound, microseconds */
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"server", 1, 0, 's'}, {"tls", 0, 0, 'T'},	  {"src", 1, 0, 'a'},
	    {"nsrc", 1, 0, 'n'},   {"conns", 1, 0, 'c'},  {"user", 1, 0, 'u'},
	    {"pass", 1, 0, 'p'},   {"peer", 1, 0, 'e'},	  {"secs", 1, 0, 't'},
	    {"warmup", 1, 0, 'w'}, {"window", 1, 0, 'W'}, {"rate", 1, 0, 'r'},
	    {"len", 1, 0, 'l'},	   {"setup", 1, 0, 'S'},  {"setup-timeout", 1, 0, 'O'},
	    {"hold", 0, 0, 'H'},   {"watch", 1, 0, 'x'},  {0, 0, 0, 0}};
	const char *server = NULL, *src = NULL, *peer_s = NULL;
	double secs = 5, warmup = 1, setup_timeout = 120;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			server = optarg;
			break;
		case 'T':
			use_tls = true;
			break;
		case 'a':
			src = optarg;
			break;
		case 'n':
			nsrc = (unsigned)atoi(optarg);
			break;
		case 'c':
			nconns = (unsigned)atoi(optarg);
			break;
		case 'u':
			user = optarg;
			break;
		case 'p':
			pass = optarg;
			break;
		case 'e':
			peer_s = optarg;
			break;
		case 't':
			secs = atof(optarg);
			break;
		case 'w':
			warmup = atof(optarg);
			break;
		case 'W':
			window = (unsigned)atoi(optarg);
			break;
		case 'r':
			rate = atof(optarg);
			break;
		case 'l':
			plen = (unsigned)atoi(optarg);
			break;
		case 'S':
			setup_par = (unsigned)atoi(optarg);
			break;
		case 'O':
			setup_timeout = atof(optarg);
			break;
		case 'H':
			hold = true;
			break;
		case 'x':
			if (nwatch == MAX_WATCH)
				usage();
			watch_pid[nwatch++] = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (!server || !src || !peer_s || !user || !pass || !nsrc || !nconns || nconns > 200000 ||
	    secs <= 0 || !window || !setup_par || plen < 20 || plen > 2048 || rate < 0)
		usage();
	/* the window must fit the connection's output buffer (and the server's: the front
	 * reads two messages ahead) */
	if (window * (4 + ((plen + 3) & ~3u)) > IO_CAP) {
		fprintf(stderr, "tcpgen: --window %u of %u bytes does not fit %u bytes\n", window,
			plen, IO_CAP);
		return 2;
	}
	struct in_addr base;
	if (addr_port(server, &srv) < 0 || addr_port(peer_s, &peer) < 0 ||
	    inet_pton(AF_INET, src, &base) != 1) {
		fprintf(stderr,
			"tcpgen: --server and --peer take IPv4:PORT, --src an IPv4 address\n");
		return 2;
	}
	src_base = ntohl(base.s_addr);

	/* the fast HMAC must be HMAC-SHA1 (crypto/stun_auth's is the reference) */
	{
		uint8_t ref[20], got[20];
		memcpy(key, "0123456789abcdef", 16);
		hmac_init();
		hmac("poprelay", 8, got);
		pr_hmac_sha1(key, 16, "poprelay", 8, ref);
		if (memcmp(ref, got, 20)) {
			fprintf(stderr, "tcpgen: HMAC self-check failed\n");
			return 2;
		}
	}
	if (use_tls) {
		/* as turnutils_uclient -S: no certificate check (a bench), no ALPN, the
		 * versions both ends prefer (TLS 1.3 with OpenSSL 3) */
		tls = SSL_CTX_new(TLS_client_method());
		if (!tls) {
			fprintf(stderr, "tcpgen: SSL_CTX_new failed\n");
			return 2;
		}
		SSL_CTX_set_verify(tls, SSL_VERIFY_NONE, NULL);
		SSL_CTX_set_mode(tls, SSL_MODE_ENABLE_PARTIAL_WRITE |
					  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
					  SSL_MODE_RELEASE_BUFFERS);
	}

	struct rlimit rl = {nconns + 64, nconns + 64};
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		perror("tcpgen: RLIMIT_NOFILE");
		return 2;
	}
	ep = epoll_create1(0);
	conns = calloc(nconns, sizeof(*conns));
	peer_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	int big = 8 << 20;
	struct epoll_event pev = {.events = EPOLLIN, .data.u32 = PEER_IDX};
	if (ep < 0 || !conns || peer_fd < 0 ||
	    bind(peer_fd, (struct sockaddr *)&peer, sizeof(peer)) < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, peer_fd, &pev) < 0) {
		perror("tcpgen: peer");
		return 2;
	}
	/* a burst of the whole window of every connection must not overflow the peer */
	setsockopt(peer_fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	setsockopt(peer_fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	/* setup: at most setup_par connections between connect and ready at once */
	double t0 = now_s(), now = t0, next_scan = t0;
	unsigned opened = 0;
	struct epoll_event evs[512];
	while (!stop && st.ready + st.failed < nconns && now - t0 < setup_timeout) {
		while (opened < nconns && opened - st.ready - st.failed < setup_par) {
			conn_open(&conns[opened], opened, now);
			opened++;
		}
		int n = epoll_wait(ep, evs, 512, 10);
		now = now_s();
		for (int k = 0; k < n; k++) {
			if (evs[k].data.u32 == PEER_IDX) {
				peer_input();
				continue;
			}
			struct conn *cn = &conns[evs[k].data.u32];
			if (cn->state != C_DEAD)
				on_conn_event(cn, evs[k].events, now);
		}
		if (now >= next_scan) { /* a request left unanswered (a challenge limit): once more,
					   then give up */
			for (unsigned i = 0; i < opened; i++) {
				struct conn *cn = &conns[i];
				if (cn->state < C_ALLOC0 || cn->state > C_BIND ||
				    now - cn->sent < 5)
					continue;
				if (cn->resent++ == 0) {
					st.retransmits++;
					request(cn,
						cn->state == C_BIND ? M_CHANNEL_BIND : M_ALLOCATE,
						cn->state != C_ALLOC0, now);
					cn->resent = 1;
				} else {
					fprintf(stderr,
						"tcpgen: connection %u: no answer in setup\n", i);
					conn_dead(cn, true);
				}
			}
			next_scan = now + 0.5;
		}
	}
	double setup_s = now_s() - t0;
	for (unsigned i = 0; i < nconns; i++) /* what the setup did not finish is not used */
		if (conns[i].state != C_READY && conns[i].state != C_DEAD &&
		    conns[i].state != C_FREE) {
			conn_dead(&conns[i], true);
		} else if (conns[i].state == C_FREE) {
			conns[i].state = C_DEAD;
			st.failed++;
		}
	fprintf(stderr, "tcpgen: %lu connections ready, %lu failed, in %.1f s\n", st.ready,
		st.failed, setup_s);

	if (hold) {
		fprintf(stderr, "ready %lu\n", st.ready);
		while (!stop) { /* answer nothing, keep reading what comes (nothing should) */
			int n = epoll_wait(ep, evs, 512, 200);
			now = now_s();
			for (int k = 0; k < n; k++)
				if (evs[k].data.u32 == PEER_IDX)
					peer_input();
				else if (conns[evs[k].data.u32].state != C_DEAD)
					on_conn_event(&conns[evs[k].data.u32], evs[k].events, now);
		}
		printf("{\"conns\": %u, \"ready\": %lu, \"failed\": %lu, \"closed\": %lu, "
		       "\"setup_s\": %.2f, \"tls\": %s}\n",
		       nconns, st.ready, st.failed, st.closed, setup_s, use_tls ? "true" : "false");
		return st.ready ? 0 : 1;
	}

	/* data: the window of every ready connection, or the paced rate */
	double d0 = now_s(), tw = d0 + warmup, te = tw + secs, cpu0 = 0, sent_due = 0;
	unsigned rr = 0;
	now = d0;
	next_scan = d0;
	if (!rate)
		for (unsigned i = 0; i < nconns; i++) {
			struct conn *cn = &conns[i];
			for (unsigned w = 0; cn->state == C_READY && w < window; w++)
				send_data(cn, now);
			if (cn->state == C_READY)
				flush(cn);
		}
	double last_pace = d0;
	while (!stop && now < te) {
		if (!counting && now >= tw) {
			counting = true;
			cpu0 = cpu_s();
			sample(0);
		}
		int n = epoll_wait(ep, evs, 512, rate ? 1 : 10);
		now = now_s();
		for (int k = 0; k < n; k++) {
			if (evs[k].data.u32 == PEER_IDX) {
				peer_input();
				continue;
			}
			struct conn *cn = &conns[evs[k].data.u32];
			if (cn->state == C_DEAD)
				continue;
			on_conn_event(cn, evs[k].events, now);
			if (!rate && cn->state == C_READY) {
				bool more = false;
				while (cn->inflight < window && send_data(cn, now))
					more = true;
				if (more)
					flush(cn);
			}
		}
		if (rate) { /* open loop: what is due since the last look, round robin */
			sent_due += (now - last_pace) * rate;
			last_pace = now;
			unsigned tries = 0;
			while (sent_due >= 1 && tries < nconns) {
				struct conn *cn = &conns[rr++ % nconns];
				tries++;
				if (cn->state != C_READY || !send_data(cn, now))
					continue;
				flush(cn);
				sent_due -= 1;
				tries = 0;
			}
			if (sent_due > rate) /* behind by over a second: the client is the bound */
				sent_due = rate;
		}
		if (now >= next_scan) { /* messages not back in time: given up, send anew */
			for (unsigned i = 0; i < nconns; i++) {
				struct conn *cn = &conns[i];
				if (cn->state != C_READY || !cn->inflight ||
				    now - cn->last < LOSS_S)
					continue;
				if (counting)
					st.timeouts += cn->inflight;
				cn->inflight = 0;
				cn->valid_from = cn->seq;
				cn->last = now;
				if (!rate) {
					while (cn->inflight < window && send_data(cn, now))
						;
					flush(cn);
				}
			}
			next_scan = now + 0.1;
		}
	}
	double span = now - tw, cpu = counting ? cpu_s() - cpu0 : 0;
	if (counting)
		sample(1);
	if (span <= 0)
		span = 1e-9;
	unsigned long relayed = st.peer_rx + st.client_rx, open = 0;
	for (unsigned i = 0; i < nconns; i++)
		open += conns[i].state == C_READY;

	printf("{\"conns\": %u, \"tls\": %s, \"ready\": %lu, \"failed\": %lu, \"setup_s\": %.2f, "
	       "\"open_at_end\": %lu, \"closed\": %lu, \"mode\": \"%s\", \"window\": %u, "
	       "\"rate\": %.0f, \"len\": %u, \"secs\": %.2f, \"client_tx\": %lu, "
	       "\"peer_rx\": %lu, \"peer_tx\": %lu, \"client_rx\": %lu, \"relayed\": %lu, "
	       "\"relayed_per_s\": %.1f, \"round_trips_per_s\": %.1f, \"timeouts\": %lu, "
	       "\"late\": %lu, "
	       "\"bad\": %lu, \"out_full\": %lu, \"stale_nonces\": %lu, \"retransmits\": %lu, "
	       "\"rtt_p50_us\": %lu, \"rtt_p99_us\": %lu, \"client_cpu_s\": %.3f, \"cpus\": [",
	       nconns, use_tls ? "true" : "false", st.ready, st.failed, setup_s, open, st.closed,
	       rate ? "paced" : "saturating", window, rate, plen, span, st.client_tx, st.peer_rx,
	       st.peer_tx, st.client_rx, relayed, relayed / span, st.client_rx / span, st.timeouts,
	       st.late, st.bad, st.out_full, st.stale, st.retransmits, rtt_pct(0.5), rtt_pct(0.99),
	       cpu);
	for (int i = 0; i < ncpus; i++) {
		unsigned long long a = cpu_all[1][i] - cpu_all[0][i];
		printf("%s%.3f", i ? ", " : "",
		       a ? (double)(cpu_busy[1][i] - cpu_busy[0][i]) / (double)a : 0.0);
	}
	printf("], \"watch\": [");
	long hz = sysconf(_SC_CLK_TCK);
	for (int w = 0; w < nwatch; w++) {
		unsigned long tot = 0;
		for (int k = 0; k < nthr[w]; k++) /* (a thread that ended in the window: 0) */
			tot += thr[w][k].t1 > thr[w][k].t0 ? thr[w][k].t1 - thr[w][k].t0 : 0;
		printf("%s{\"pid\": %d, \"cpu_s\": %.2f, \"threads\": {", w ? ", " : "",
		       watch_pid[w], (double)tot / hz);
		for (int k = 0; k < nthr[w]; k++)
			printf("%s\"%d:%s\": %.2f", k ? ", " : "", thr[w][k].tid, thr[w][k].comm,
			       (double)(thr[w][k].t1 > thr[w][k].t0 ? thr[w][k].t1 - thr[w][k].t0
								    : 0) /
				   hz);
		printf("}}");
	}
	printf("]}\n");
	return st.ready ? 0 : 1;
}
