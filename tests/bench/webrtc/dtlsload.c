/* tests/bench/webrtc/dtlsload.c — the load client of tests/bench/webrtc.sh: many concurrent
 * DTLS-SRTP client handshakes (DTLS 1.2, use_srtp, the SRTP keys exported as RFC 5764 4.2
 * says), each leg from its own UDP socket, as many browsers would. The same client drives
 * poprelay's anchor and rtpengine.
 *
 *   dtlsload --legs FILE --cert C --key K [--server-fpr "sha-256 AB:.."] [--concurrency N]
 *            [--timeout-ms N] [--cpu NAME=/proc/PID[/task/TID]/stat]...
 *
 * FILE: one leg a line, "BIND_IP:PORT TARGET_IP:PORT [UFRAG PWD RUFRAG]" (port 0: any). A
 * leg with ICE credentials first gets a nominated ICE check (USE-CANDIDATE, ICE-CONTROLLING,
 * MESSAGE-INTEGRITY from the leg's ice-pwd, as tests/integration/media/dtlspeer.c sends it)
 * from the socket its handshake will use: the anchor hands DTLS to poprelay-dtls only from
 * a leg's nominated address. All the checks come first (phase 1, not measured), then the
 * handshakes (phase 2, measured): N legs in handshake at once, a new one started as soon as
 * one ends, until every leg has had its handshake.
 *
 * What the client costs is kept small so that the server is the bound: one SSL_CTX for every
 * leg (ECDSA P-256 certificate loaded once), no session cache and no tickets (each handshake
 * is a full one: ECDHE, the server's signature, our CertificateVerify), epoll over the legs'
 * sockets, the DTLS timers scanned at most every 5 ms.
 *
 * A handshake counts when it completed, the server's certificate is --server-fpr (when
 * given), an SRTP profile was negotiated and the 60-byte EXTRACTOR-dtls_srtp block was
 * exported. --cpu: a process's or thread's CPU time (utime + stime of that stat file) read at
 * the start of phase 2 and when the last handshake completed (within 20 ms: a leg that times
 * out afterwards does not stretch the window, and is counted in timed_out). Prints one JSON line:
 * legs, ice_answered, completed, failed, timed_out, bad_fpr, no_srtp, secs (phase 2, wall), per_s,
 * cpu {NAME: seconds}, per_cpu_s {NAME: completed per CPU-second}, client_cpu (this process),
 * cipher, group, profile (of the first completed handshake). Exit 0: at least one handshake
 * completed; 3 none; 2 usage or setup. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
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
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "crypto/stun_auth.h"

#define MAX_CPU 8

struct leg {
	struct sockaddr_in la, ra;
	char ufrag[64], pwd[256], rufrag[64];
	bool ice;
	int fd;
	uint8_t tid[12];
	int ice_tries;
	double ice_at;
	bool ice_ok;
	SSL *ssl;
	double deadline, t_start;
};

static struct leg *legs;
static int nlegs;

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int parse_addr(const char *s, struct sockaddr_in *a)
{
	char h[64];
	const char *c = strrchr(s, ':');
	if (!c || (size_t)(c - s) >= sizeof(h))
		return -1;
	memcpy(h, s, (size_t)(c - s));
	h[c - s] = 0;
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)atoi(c + 1));
	return inet_pton(AF_INET, h, &a->sin_addr) == 1 ? 0 : -1;
}

static double cpu_of(const char *path)
{
	char buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* fields after the command (which may hold spaces): state is field 3, utime 14 */
	p = strrchr(buf, ')');
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static size_t attr(uint8_t *m, size_t off, uint16_t t, const void *v, uint16_t n)
{
	m[off] = (uint8_t)(t >> 8);
	m[off + 1] = (uint8_t)t;
	m[off + 2] = (uint8_t)(n >> 8);
	m[off + 3] = (uint8_t)n;
	memcpy(m + off + 4, v, n);
	size_t pad = (4 - n % 4) % 4;
	memset(m + off + 4 + n, 0, pad);
	return off + 4 + n + pad;
}

static void set_len(uint8_t *m, size_t total)
{
	m[2] = (uint8_t)((total - 20) >> 8);
	m[3] = (uint8_t)(total - 20);
}

/* A nominated Binding request (RFC 8445 7.1), as dtlspeer.c sends it; a new transaction id
 * at each try. */
static void ice_send(struct leg *g)
{
	uint8_t m[512], tie[8], prio[4] = {0x6e, 0x00, 0x1e, 0xff}, mac[20];
	char user[200];
	unsigned mlen = 20;
	size_t off = 20;

	RAND_bytes(g->tid, sizeof(g->tid));
	RAND_bytes(tie, sizeof(tie));
	m[0] = 0x00;
	m[1] = 0x01;
	m[4] = 0x21;
	m[5] = 0x12;
	m[6] = 0xa4;
	m[7] = 0x42;
	memcpy(m + 8, g->tid, 12);
	snprintf(user, sizeof(user), "%s:%s", g->ufrag, g->rufrag);
	off = attr(m, off, 0x0006, user, (uint16_t)strlen(user));
	off = attr(m, off, 0x0024, prio, 4);
	off = attr(m, off, 0x0025, "", 0);
	off = attr(m, off, 0x802A, tie, 8);
	set_len(m, off + 24);
	HMAC(EVP_sha1(), g->pwd, (int)strlen(g->pwd), m, off, mac, &mlen);
	off = attr(m, off, 0x0008, mac, 20);
	set_len(m, off + 8);
	uint32_t fp = pr_stun_fingerprint(m, off);
	uint8_t fpb[4] = {(uint8_t)(fp >> 24), (uint8_t)(fp >> 16), (uint8_t)(fp >> 8),
			  (uint8_t)fp};
	off = attr(m, off, 0x8028, fpb, 4);
	(void)send(g->fd, m, off, 0);
	g->ice_tries++;
	g->ice_at = now_s();
}

static int verify_any(int ok, X509_STORE_CTX *c)
{
	(void)ok;
	(void)c;
	return 1; /* self-signed: the fingerprint is checked once the handshake is done */
}

static int load_legs(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[768], b[80], t[80], u[64], p[256], r[64];
	int cap = 0;
	if (!f) {
		perror(path);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		int n = sscanf(line, "%79s %79s %63s %255s %63s", b, t, u, p, r);
		if (n != 2 && n != 5) {
			fprintf(stderr, "dtlsload: %s: bad line: %s", path, line);
			fclose(f);
			return -1;
		}
		if (nlegs == cap) {
			cap = cap ? 2 * cap : 1024;
			legs = realloc(legs, (size_t)cap * sizeof(*legs));
		}
		struct leg *g = &legs[nlegs];
		memset(g, 0, sizeof(*g));
		if (parse_addr(b, &g->la) || parse_addr(t, &g->ra)) {
			fprintf(stderr, "dtlsload: %s: bad address: %s", path, line);
			fclose(f);
			return -1;
		}
		g->ice = n == 5;
		if (g->ice) {
			snprintf(g->ufrag, sizeof(g->ufrag), "%s", u);
			snprintf(g->pwd, sizeof(g->pwd), "%s", p);
			snprintf(g->rufrag, sizeof(g->rufrag), "%s", r);
		}
		g->fd = -1;
		nlegs++;
	}
	fclose(f);
	return nlegs ? 0 : -1;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {{"legs", 1, 0, 'l'},	       {"cert", 1, 0, 'c'},
					   {"key", 1, 0, 'k'},	       {"server-fpr", 1, 0, 'f'},
					   {"concurrency", 1, 0, 'n'}, {"timeout-ms", 1, 0, 'T'},
					   {"cpu", 1, 0, 'u'},	       {0, 0, 0, 0}};
	const char *legs_path = NULL, *cert = NULL, *key = NULL, *sfpr = NULL;
	const char *cpu_name[MAX_CPU], *cpu_path[MAX_CPU];
	int ncpu = 0, conc = 64, timeout_ms = 5000, c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'l':
			legs_path = optarg;
			break;
		case 'c':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'f':
			sfpr = optarg;
			break;
		case 'n':
			conc = atoi(optarg);
			break;
		case 'T':
			timeout_ms = atoi(optarg);
			break;
		case 'u': {
			char *eq = strchr(optarg, '=');
			if (!eq || ncpu == MAX_CPU) {
				fprintf(stderr, "dtlsload: --cpu NAME=PATH (at most %d)\n",
					MAX_CPU);
				return 2;
			}
			*eq = 0;
			cpu_name[ncpu] = optarg;
			cpu_path[ncpu++] = eq + 1;
			break;
		}
		default:
			return 2;
		}
	}
	if (!legs_path || !cert || !key || conc < 1 || timeout_ms < 100) {
		fprintf(stderr, "dtlsload: usage: see the file's header\n");
		return 2;
	}
	if (load_legs(legs_path) < 0)
		return 2;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	int ep = epoll_create1(0);

	/* every leg's socket, bound and connected: the ICE check and the handshake share it */
	for (int i = 0; i < nlegs; i++) {
		struct leg *g = &legs[i];
		int one = 1;
		g->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		if (g->fd < 0) {
			perror("dtlsload: socket (raise the open files limit?)");
			return 2;
		}
		setsockopt(g->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(g->fd, (struct sockaddr *)&g->la, sizeof(g->la)) < 0 ||
		    connect(g->fd, (struct sockaddr *)&g->ra, sizeof(g->ra)) < 0) {
			perror("dtlsload: bind/connect");
			return 2;
		}
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
		epoll_ctl(ep, EPOLL_CTL_ADD, g->fd, &ev);
	}

	/* phase 1: the ICE checks, conc outstanding, 10 tries 200 ms apart */
	int ice_answered = 0, next = 0, out = 0, done_ice = 0;
	struct epoll_event evs[256];
	for (int i = 0; i < nlegs; i++)
		if (!legs[i].ice)
			legs[i].ice_ok = true, done_ice++;
	while (done_ice < nlegs) {
		while (out < conc && next < nlegs) {
			if (legs[next].ice) {
				ice_send(&legs[next]);
				out++;
			}
			next++;
		}
		int n = epoll_wait(ep, evs, 256, 20);
		for (int e = 0; e < n; e++) {
			struct leg *g = &legs[evs[e].data.u32];
			uint8_t r[1500];
			ssize_t k;
			while ((k = recv(g->fd, r, sizeof(r), 0)) >= 0) {
				if (k >= 20 && r[0] == 0x01 && r[1] == 0x01 &&
				    !memcmp(r + 8, g->tid, 12) && !g->ice_ok && g->ice_tries > 0) {
					g->ice_ok = true;
					ice_answered++;
					done_ice++;
					out--;
				}
			}
		}
		double t = now_s();
		for (int i = 0; i < next; i++) {
			struct leg *g = &legs[i];
			if (!g->ice || g->ice_ok || g->ice_tries == 0 || g->ice_tries > 10)
				continue;
			if (t - g->ice_at >= 0.2) {
				if (g->ice_tries == 10) {
					g->ice_tries++; /* given up */
					done_ice++;
					out--;
				} else {
					ice_send(g);
				}
			}
		}
	}

	/* phase 2: the handshakes */
	SSL_CTX *ctx = SSL_CTX_new(DTLS_client_method());
	if (!ctx || SSL_CTX_use_certificate_file(ctx, cert, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_set_tlsext_use_srtp(ctx, "SRTP_AES128_CM_SHA1_80:SRTP_AEAD_AES_128_GCM") != 0) {
		fprintf(stderr, "dtlsload: certificate does not load\n");
		return 2;
	}
	SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_any);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_QUERY_MTU);
	SSL_CTX_set_read_ahead(ctx, 1);

	int completed = 0, failed = 0, timed_out = 0, bad_fpr = 0, no_srtp = 0, active = 0;
	char cipher[80] = "", group[40] = "", profile[40] = "";
	double cpu0[MAX_CPU], cpu1[MAX_CPU], t0, t1, last_scan = 0, last_snap = 0;
	int snap_completed = 0;
	struct rusage ru0, ru1;
	int *act = calloc((size_t)nlegs, sizeof(int)), nact = 0;
	next = 0;
	for (int i = 0; i < ncpu; i++)
		cpu0[i] = cpu_of(cpu_path[i]);
	getrusage(RUSAGE_SELF, &ru0);
	t0 = t1 = now_s();
	ru1 = ru0;
	memcpy(cpu1, cpu0, sizeof(cpu0));
	for (;;) {
		/* start legs up to the concurrency */
		while (active < conc && next < nlegs) {
			struct leg *g = &legs[next++];
			if (!g->ice_ok) {
				failed++;
				continue;
			}
			g->ssl = SSL_new(ctx);
			BIO *b = BIO_new_dgram(g->fd, BIO_NOCLOSE);
			BIO_ctrl(b, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &g->ra);
			SSL_set_bio(g->ssl, b, b);
			SSL_set_mtu(g->ssl, 1200 - 28);
			SSL_set_connect_state(g->ssl);
			g->t_start = now_s();
			g->deadline = g->t_start + timeout_ms / 1000.0;
			act[nact++] = (int)(g - legs);
			active++;
			(void)SSL_do_handshake(g->ssl);
		}
		if (!active)
			break;
		int n = epoll_wait(ep, evs, 256, 5);
		for (int e = 0; e < n; e++) {
			struct leg *g = &legs[evs[e].data.u32];
			if (!g->ssl) {
				uint8_t r[1500]; /* a late ICE answer, or a lost leg's flight */
				while (recv(g->fd, r, sizeof(r), 0) >= 0)
					;
				continue;
			}
			int rc = SSL_do_handshake(g->ssl);
			if (rc != 1) {
				int err = SSL_get_error(g->ssl, rc);
				if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
					continue;
				failed++;
			} else {
				SRTP_PROTECTION_PROFILE *sp = SSL_get_selected_srtp_profile(g->ssl);
				uint8_t km[60];
				bool ok = true;
				if (sfpr) {
					X509 *x = SSL_get1_peer_certificate(g->ssl);
					uint8_t d[32];
					unsigned dn = 0;
					char f[120] = "sha-256 ";
					if (x && X509_digest(x, EVP_sha256(), d, &dn) == 1)
						for (unsigned i = 0; i < dn; i++)
							sprintf(f + strlen(f), "%02X%s", d[i],
								i + 1 < dn ? ":" : "");
					X509_free(x);
					if (strcmp(f, sfpr)) {
						bad_fpr++;
						ok = false;
					}
				}
				size_t sl = sp && sp->id == SRTP_AEAD_AES_128_GCM ? 12 : 14;
				if (ok &&
				    (!sp || SSL_export_keying_material(g->ssl, km, 2 * (16 + sl),
								       "EXTRACTOR-dtls_srtp", 19,
								       NULL, 0, 0) != 1)) {
					no_srtp++;
					ok = false;
				}
				if (ok) {
					completed++;
					if (!cipher[0]) {
						snprintf(cipher, sizeof(cipher), "%s",
							 SSL_get_cipher_name(g->ssl));
						snprintf(profile, sizeof(profile), "%s", sp->name);
						int gid = SSL_get_negotiated_group(g->ssl);
						const char *gn = SSL_group_to_name(g->ssl, gid);
						snprintf(group, sizeof(group), "%s", gn ? gn : "?");
					}
				} else {
					failed++;
				}
			}
			SSL_free(g->ssl);
			g->ssl = NULL;
			active--;
		}
		/* the window ends at the last completion (within 20 ms), not at the deadline of a
		 * leg the server never answered: a snapshot when handshakes completed since */
		double t = now_s();
		if (completed != snap_completed && t - last_snap >= 0.02) {
			last_snap = t1 = t;
			snap_completed = completed;
			getrusage(RUSAGE_SELF, &ru1);
			for (int i = 0; i < ncpu; i++)
				cpu1[i] = cpu_of(cpu_path[i]);
		}
		/* the DTLS timers and the deadlines of the legs in handshake */
		if (t - last_scan >= 0.005) {
			last_scan = t;
			int k = 0;
			for (int i = 0; i < nact; i++) {
				struct leg *g = &legs[act[i]];
				if (!g->ssl)
					continue;
				if (t >= g->deadline) {
					timed_out++;
					SSL_free(g->ssl);
					g->ssl = NULL;
					active--;
					continue;
				}
				struct timeval tv;
				if (DTLSv1_get_timeout(g->ssl, &tv) == 1 && !tv.tv_sec &&
				    !tv.tv_usec)
					DTLSv1_handle_timeout(g->ssl);
				act[k++] = act[i];
			}
			nact = k;
		}
	}
	if (completed != snap_completed) {
		t1 = now_s();
		getrusage(RUSAGE_SELF, &ru1);
		for (int i = 0; i < ncpu; i++)
			cpu1[i] = cpu_of(cpu_path[i]);
	}
	double secs = t1 - t0;
	double ccpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
		      (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
		      (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) * 1e-6 +
		      (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) * 1e-6;
	printf("{\"legs\": %d, \"ice_answered\": %d, \"completed\": %d, \"failed\": %d, "
	       "\"timed_out\": %d, \"bad_fpr\": %d, \"no_srtp\": %d, \"concurrency\": %d, "
	       "\"secs\": %.3f, \"per_s\": %.1f, \"cpu\": {",
	       nlegs, ice_answered, completed, failed, timed_out, bad_fpr, no_srtp, conc, secs,
	       secs > 0 ? completed / secs : 0.0);
	for (int i = 0; i < ncpu; i++)
		printf("%s\"%s\": %.3f", i ? ", " : "", cpu_name[i], cpu1[i] - cpu0[i]);
	printf("}, \"per_cpu_s\": {");
	for (int i = 0; i < ncpu; i++) {
		double d = cpu1[i] - cpu0[i];
		printf("%s\"%s\": %.1f", i ? ", " : "", cpu_name[i], d > 0 ? completed / d : 0.0);
	}
	printf("}, \"client_cpu\": %.3f, \"cipher\": \"%s\", \"group\": \"%s\", \"profile\": "
	       "\"%s\"}\n",
	       ccpu, cipher, group, profile);
	SSL_CTX_free(ctx);
	for (int i = 0; i < nlegs; i++)
		close(legs[i].fd);
	return completed ? 0 : 3;
}
