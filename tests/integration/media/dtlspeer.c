/* tests/integration/media/dtlspeer.c — a browser's transport for tests/integration/media_dtls.sh:
 * from one UDP socket, an ICE check (nominated, short-term credentials) to the anchor port,
 * then a DTLS-SRTP handshake with a real OpenSSL (DTLS 1.2, use_srtp), the anchor's
 * certificate checked against the fingerprint Redis publishes, and the SRTP keys exported
 * by this side itself (RFC 5764 4.2). It prints one JSON line: whether the check was
 * answered, the handshake's outcome, the profile, and the leg's keys as the device side of
 * an SDES test peer takes them (tx: ours, rx: the anchor's), in base64, for mpeer to send
 * and receive SRTP from the same address afterwards (test keys, for this test only).
 *
 *   dtlspeer --bind IP:PORT --to IP:PORT --cert C --key K [--anchor-fpr "sha-256 .."]
 *            [--ufrag U --pwd P --rufrag R] [--no-ice] [--no-nominate] [--server]
 *            [--timeout-ms N]
 * --no-nominate: the check carries no USE-CANDIDATE (a valid pair, not selected: browsers
 * start DTLS there before they nominate).
 * Exit: 0 keys exported, 3 the handshake failed or timed out, 2 usage or setup. */
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

/* A nominated Binding request (RFC 8445 7.1: USERNAME, PRIORITY, USE-CANDIDATE unless
 * !nominate, ICE-CONTROLLING, MESSAGE-INTEGRITY, FINGERPRINT); true when a success answers
 * it. */
static bool ice_check(int fd, const char *ufrag, const char *pwd, const char *rufrag, bool nominate)
{
	uint8_t m[512], tid[12], r[512];
	char user[300];
	uint8_t prio[4] = {0x6e, 0x00, 0x1e, 0xff}, tie[8];
	size_t off = 20;

	RAND_bytes(tid, sizeof(tid));
	RAND_bytes(tie, sizeof(tie));
	m[0] = 0x00;
	m[1] = 0x01;
	m[4] = 0x21;
	m[5] = 0x12;
	m[6] = 0xa4;
	m[7] = 0x42;
	memcpy(m + 8, tid, 12);
	snprintf(user, sizeof(user), "%s:%s", ufrag, rufrag);
	off = attr(m, off, 0x0006, user, (uint16_t)strlen(user));
	off = attr(m, off, 0x0024, prio, 4);
	if (nominate)
		off = attr(m, off, 0x0025, "", 0);
	off = attr(m, off, 0x802A, tie, 8);
	set_len(m, off + 24);
	unsigned mlen = 20;
	uint8_t mac[20];
	HMAC(EVP_sha1(), pwd, (int)strlen(pwd), m, off, mac, &mlen);
	off = attr(m, off, 0x0008, mac, 20);
	set_len(m, off + 8);
	uint32_t fp = pr_stun_fingerprint(m, off);
	uint8_t fpb[4] = {(uint8_t)(fp >> 24), (uint8_t)(fp >> 16), (uint8_t)(fp >> 8),
			  (uint8_t)fp};
	off = attr(m, off, 0x8028, fpb, 4);
	for (int i = 0; i < 5; i++) {
		if (send(fd, m, off, 0) < 0)
			return false;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		while (poll(&p, 1, 300) > 0) {
			ssize_t n = recv(fd, r, sizeof(r), 0);
			if (n >= 20 && r[0] == 0x01 && r[1] == 0x01 && !memcmp(r + 8, tid, 12))
				return true;
		}
	}
	return false;
}

static void b64(const uint8_t *p, int n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, p, n);
}

static int verify_any(int ok, X509_STORE_CTX *c)
{
	(void)ok;
	(void)c;
	return 1; /* self-signed: the fingerprint is checked after the handshake */
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"bind", 1, 0, 'b'},   {"to", 1, 0, 't'},	      {"cert", 1, 0, 'c'},
	    {"key", 1, 0, 'k'},	   {"anchor-fpr", 1, 0, 'f'}, {"ufrag", 1, 0, 'u'},
	    {"pwd", 1, 0, 'p'},	   {"rufrag", 1, 0, 'r'},     {"no-ice", 0, 0, 'n'},
	    {"server", 0, 0, 's'}, {"timeout-ms", 1, 0, 'T'}, {"no-nominate", 0, 0, 'N'},
	    {0, 0, 0, 0}};
	const char *bind_s = NULL, *to_s = NULL, *cert = NULL, *key = NULL, *afpr = NULL;
	const char *ufrag = NULL, *pwd = NULL, *rufrag = NULL;
	bool no_ice = false, server = false, nominate = true;
	int timeout_ms = 5000, c;
	struct sockaddr_in la, ra;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'b':
			bind_s = optarg;
			break;
		case 't':
			to_s = optarg;
			break;
		case 'c':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'f':
			afpr = optarg;
			break;
		case 'u':
			ufrag = optarg;
			break;
		case 'p':
			pwd = optarg;
			break;
		case 'r':
			rufrag = optarg;
			break;
		case 'n':
			no_ice = true;
			break;
		case 's':
			server = true;
			break;
		case 'N':
			nominate = false;
			break;
		case 'T':
			timeout_ms = atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	if (!bind_s || !to_s || !cert || !key || parse_addr(bind_s, &la) || parse_addr(to_s, &ra) ||
	    (!no_ice && (!ufrag || !pwd || !rufrag))) {
		fprintf(stderr, "dtlspeer: usage: see the file's header\n");
		return 2;
	}
	int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&la, sizeof(la)) < 0 ||
	    connect(fd, (struct sockaddr *)&ra, sizeof(ra)) < 0) {
		perror("dtlspeer: socket");
		return 2;
	}
	bool answered = no_ice ? false : ice_check(fd, ufrag, pwd, rufrag, nominate);
	/* non-blocking: the loop below runs the DTLS timers itself, up to --timeout-ms */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);

	SSL_CTX *ctx = SSL_CTX_new(DTLS_method());
	if (!ctx || SSL_CTX_use_certificate_file(ctx, cert, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		fprintf(stderr, "dtlspeer: certificate does not load\n");
		return 2;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_any);
	SSL_CTX_set_tlsext_use_srtp(ctx, "SRTP_AES128_CM_SHA1_80:SRTP_AEAD_AES_128_GCM");
	SSL *ssl = SSL_new(ctx);
	BIO *bio = BIO_new_dgram(fd, BIO_NOCLOSE);
	BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &ra);
	SSL_set_bio(ssl, bio, bio);
	if (server)
		SSL_set_accept_state(ssl);
	else
		SSL_set_connect_state(ssl);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = 0;
	for (;;) {
		rc = SSL_do_handshake(ssl);
		if (rc == 1)
			break;
		int e = SSL_get_error(ssl, rc);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		long el = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		if (el >= timeout_ms)
			break;
		struct timeval tv;
		int wait = 100;
		if (DTLSv1_get_timeout(ssl, &tv) == 1)
			wait = (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, wait < 100 ? wait : 100) == 0)
			DTLSv1_handle_timeout(ssl);
	}
	char fpr[120] = "", txb[64] = "", rxb[64] = "";
	const char *prof = "";
	bool fpr_ok = false;
	if (rc == 1) {
		X509 *x = SSL_get1_peer_certificate(ssl);
		uint8_t d[32];
		unsigned n = 0;
		if (x && X509_digest(x, EVP_sha256(), d, &n) == 1) {
			strcpy(fpr, "sha-256 ");
			for (unsigned i = 0; i < n; i++)
				sprintf(fpr + strlen(fpr), "%02X%s", d[i], i + 1 < n ? ":" : "");
		}
		X509_free(x);
		fpr_ok = afpr && !strcmp(afpr, fpr);
		SRTP_PROTECTION_PROFILE *sp = SSL_get_selected_srtp_profile(ssl);
		if (sp) {
			size_t sl = sp->id == SRTP_AEAD_AES_128_GCM ? 12 : 14;
			uint8_t km[60], tx[30], rx[30];
			prof = sp->id == SRTP_AEAD_AES_128_GCM ? "AEAD_AES_128_GCM"
							       : "AES_CM_128_HMAC_SHA1_80";
			SSL_export_keying_material(ssl, km, 2 * (16 + sl), "EXTRACTOR-dtls_srtp",
						   19, NULL, 0, 0);
			/* client key, server key, client salt, server salt */
			const uint8_t *ck = km, *sk = km + 16, *cs = km + 32, *ss = km + 32 + sl;
			memcpy(tx, server ? sk : ck, 16);
			memcpy(tx + 16, server ? ss : cs, sl);
			memcpy(rx, server ? ck : sk, 16);
			memcpy(rx + 16, server ? cs : ss, sl);
			b64(tx, (int)(16 + sl), txb);
			b64(rx, (int)(16 + sl), rxb);
		}
	}
	printf("{\"answered\": %s, \"handshake\": %s, \"anchor_fpr\": \"%s\", \"fpr_ok\": %s, "
	       "\"profile\": \"%s\", \"tx\": \"%s\", \"rx\": \"%s\"}\n",
	       answered ? "true" : "false", rc == 1 ? "true" : "false", fpr,
	       fpr_ok ? "true" : "false", prof, txb, rxb);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return rc == 1 && prof[0] ? 0 : 3;
}
