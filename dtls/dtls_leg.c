/* SPDX-License-Identifier: BSD-3-Clause */
/* DTLS-SRTP handshakes with OpenSSL over datagram queues (design in dtls_leg.h). */
#include "dtls/dtls_leg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

/* ---- the appliance's certificate ---- */

static int write_pem(const char *path, EVP_PKEY *k, X509 *x)
{
	/* the key is readable by its owner only */
	FILE *f = NULL;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, k ? 0600 : 0644);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	int ok = k ? PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) : PEM_write_X509(f, x);
	return fclose(f) == 0 && ok ? 0 : -1;
}

static bool cert_loads(const char *cert)
{
	FILE *f = fopen(cert, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	X509_free(x);
	return x != NULL;
}

int pr_dtls_cert_ensure(const char *dir, unsigned rotate_days, char *err, size_t el)
{
	char cert[512], key[512];
	struct stat sc, sk;

	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	if (stat(cert, &sc) == 0 && stat(key, &sk) == 0 &&
	    time(NULL) - sc.st_mtime < (time_t)rotate_days * 86400 && cert_loads(cert))
		return 0;
	return pr_dtls_cert_rotate(dir, rotate_days, err, el);
}

long pr_dtls_cert_age(const char *dir)
{
	char cert[512];
	struct stat sc;

	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	if (stat(cert, &sc) < 0)
		return -1;
	time_t d = time(NULL) - sc.st_mtime;
	return d < 0 ? 0 : (long)d;
}

int pr_dtls_cert_rotate(const char *dir, unsigned rotate_days, char *err, size_t el)
{
	char cert[512], key[512], tmpc[520], tmpk[520], pc[520], pk[520];

	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(pc, sizeof(pc), "%s/prev-cert.pem", dir);
	snprintf(pk, sizeof(pk), "%s/prev-key.pem", dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, el, "[dtls] cert_dir %s: %s", dir, strerror(errno));
		return -1;
	}
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	int rc = -1;
	if (!k || !x || !n || RAND_bytes(serial, sizeof(serial)) != 1)
		goto out;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) || !X509_set_version(x, 2) ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"poprelay",
					-1, -1, 0) ||
	    !X509_set_subject_name(x, n) || !X509_set_issuer_name(x, n) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -86400) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), (long)rotate_days * 2 * 86400) ||
	    !X509_set_pubkey(x, k) || !X509_sign(x, k, EVP_sha256()))
		goto out;
	/* written aside, then renamed: a reader never sees half a file */
	snprintf(tmpc, sizeof(tmpc), "%s.new", cert);
	snprintf(tmpk, sizeof(tmpk), "%s.new", key);
	if (write_pem(tmpk, k, NULL) < 0 || write_pem(tmpc, NULL, x) < 0) {
		snprintf(err, el, "[dtls] cert_dir %s: writing the certificate: %s", dir,
			 strerror(errno));
		goto done;
	}
	/* The pair it replaces becomes the previous one (calls whose SDP carried its
	 * fingerprint may still handshake with it); one that does not load is not kept. A
	 * crash between the renames leaves no current pair: the next start makes one. */
	if (cert_loads(cert) && access(key, F_OK) == 0) {
		if (rename(key, pk) < 0 || rename(cert, pc) < 0) {
			snprintf(err, el,
				 "[dtls] cert_dir %s: keeping the previous certificate: %s", dir,
				 strerror(errno));
			goto done;
		}
	} else {
		unlink(pc);
		unlink(pk);
	}
	if (rename(tmpk, key) < 0 || rename(tmpc, cert) < 0) {
		snprintf(err, el, "[dtls] cert_dir %s: writing the certificate: %s", dir,
			 strerror(errno));
		goto done;
	}
	rc = 1;
	goto done;
out:
	snprintf(err, el, "[dtls] cert_dir %s: generating an ECDSA P-256 certificate failed", dir);
done:
	BN_free(bn);
	X509_NAME_free(n);
	X509_free(x);
	EVP_PKEY_free(k);
	return rc;
}

/* A certificate's sha-256 fingerprint (RFC 8122 5). */
static int fpr_of(X509 *x, uint8_t out[PR_DTLS_FPR_LEN])
{
	unsigned n = 0;
	return X509_digest(x, EVP_sha256(), out, &n) == 1 && n == PR_DTLS_FPR_LEN ? 0 : -1;
}

static int leg_idx = -1; /* SSL ex_data: the struct pr_dtls_leg of an SSL */

struct dgram {
	struct dgram *next;
	size_t len;
	uint8_t b[];
};

struct pr_dtls_leg {
	SSL *ssl;
	enum pr_dtls_role role;
	enum pr_dtls_state state;
	int reason;
	bool fpr_bad, alert;
	uint8_t fpr[PR_DTLS_FPR_LEN];
	struct dgram *in, **in_tail, *out, **out_tail;
};

/* OpenSSL's chain verification (X509_verify_cert) is replaced for DTLS-SRTP: the peer's
 * certificate is self-signed (RFC 5763 5) and pinned by the fingerprint of the call's SDP
 * (6.6), so the leaf's digest is the whole check (its CertificateVerify proves the key).
 * Building and checking a chain would add nothing but time to every handshake. */
static int pin_cb(X509_STORE_CTX *st, void *arg)
{
	(void)arg;
	SSL *ssl = X509_STORE_CTX_get_ex_data(st, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct pr_dtls_leg *l = ssl ? SSL_get_ex_data(ssl, leg_idx) : NULL;
	X509 *x = X509_STORE_CTX_get0_cert(st);
	uint8_t f[PR_DTLS_FPR_LEN];

	if (!l)
		return 0;
	if (!x || fpr_of(x, f) < 0 || CRYPTO_memcmp(f, l->fpr, sizeof(f))) {
		l->fpr_bad = true;
		X509_STORE_CTX_set_error(st, X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	return 1;
}

static void info_cb(const SSL *ssl, int where, int ret)
{
	struct pr_dtls_leg *l = SSL_get_ex_data(ssl, leg_idx);
	/* a fatal alert from the peer */
	if (l && (where & SSL_CB_READ_ALERT) && (ret >> 8) == SSL3_AL_FATAL)
		l->alert = true;
}

static SSL_CTX *ctx_load(const char *dir, const char *pre, char *err, size_t el)
{
	char cert[512], key[512];
	SSL_CTX *c = SSL_CTX_new(DTLS_method());

	if (leg_idx < 0)
		leg_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	snprintf(cert, sizeof(cert), "%s/%scert.pem", dir, pre);
	snprintf(key, sizeof(key), "%s/%skey.pem", dir, pre);
	if (!c || !SSL_CTX_set_min_proto_version(c, DTLS1_2_VERSION) ||
	    SSL_CTX_use_certificate_file(c, cert, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(c) != 1) {
		snprintf(err, el, "[dtls] cert_dir %s: %scert.pem/%skey.pem do not load", dir, pre,
			 pre);
		SSL_CTX_free(c);
		return NULL;
	}
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_cert_verify_callback(c, pin_cb, NULL);
	SSL_CTX_set_info_callback(c, info_cb);
	/* forward-secret AEAD suites only; browsers offer them */
	SSL_CTX_set_cipher_list(c, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
				   "ECDHE-ECDSA-CHACHA20-POLY1305");
	SSL_CTX_set_options(c, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET);
	/* our certificate is self-signed: no chain to build for it at every handshake; and
	 * no session is resumed (a new PeerConnection is a new association) */
	SSL_CTX_set_mode(c, SSL_MODE_NO_AUTO_CHAIN);
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
	/* our suites in our order (AES-128-GCM first: SHA-256 for the PRF), and records no
	 * larger than a datagram: the write buffer OpenSSL allocates for each leg is then 1.5 KB,
	 * not 17 KB */
	SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_max_send_fragment(c, PR_DTLS_MTU);
	SSL_CTX_set_read_ahead(c, 1);
	return c;
}

int pr_dtls_ctx_fingerprint(SSL_CTX *ctx, uint8_t out[PR_DTLS_FPR_LEN])
{
	X509 *x = SSL_CTX_get0_certificate(ctx);
	return x ? fpr_of(x, out) : -1;
}

SSL_CTX *pr_dtls_ctx_new(const char *dir, char *err, size_t el)
{
	return ctx_load(dir, "", err, el);
}

SSL_CTX *pr_dtls_ctx_prev(const char *dir, unsigned grace_s, char *err, size_t el)
{
	char pc[520];
	long age = pr_dtls_cert_age(dir);

	err[0] = 0;
	snprintf(pc, sizeof(pc), "%s/prev-cert.pem", dir);
	/* the current certificate was made when the previous one was retired */
	if (age < 0 || age >= (long)grace_s || access(pc, F_OK) < 0)
		return NULL;
	return ctx_load(dir, "prev-", err, el);
}

SSL_CTX *pr_dtls_certs_pick(const struct pr_dtls_certs *c, const uint8_t lfpr[PR_DTLS_FPR_LEN])
{
	static const uint8_t none[PR_DTLS_FPR_LEN];

	if (!memcmp(lfpr, none, sizeof(none)) || !memcmp(lfpr, c->cur_fpr, sizeof(none)))
		return c->cur;
	if (c->prev && !memcmp(lfpr, c->prev_fpr, sizeof(none)))
		return c->prev;
	return NULL;
}

void pr_dtls_srtp_split(const uint8_t *km, uint8_t profile, bool we_are_client, uint8_t *rx,
			uint8_t *tx)
{
	const size_t kl = 16, sl = profile == PR_DTLS_P_GCM ? 12 : 14;
	const uint8_t *ck = km, *sk = km + kl, *cs = km + 2 * kl, *ss = km + 2 * kl + sl;
	const uint8_t *rk = we_are_client ? sk : ck, *rs = we_are_client ? ss : cs;
	const uint8_t *wk = we_are_client ? ck : sk, *ws = we_are_client ? cs : ss;

	memcpy(rx, rk, kl);
	memcpy(rx + kl, rs, sl);
	memcpy(tx, wk, kl);
	memcpy(tx + kl, ws, sl);
}

/* ---- a BIO of whole datagrams: one read gives one datagram, one write makes one ---- */

static int dq_write(BIO *b, const char *d, int n)
{
	struct pr_dtls_leg *l = BIO_get_data(b);
	struct dgram *g;

	if (n <= 0 || !(g = malloc(sizeof(*g) + (size_t)n)))
		return -1;
	g->next = NULL;
	g->len = (size_t)n;
	memcpy(g->b, d, (size_t)n);
	*l->out_tail = g;
	l->out_tail = &g->next;
	return n;
}

static int dq_read(BIO *b, char *d, int n)
{
	struct pr_dtls_leg *l = BIO_get_data(b);
	struct dgram *g = l->in;

	BIO_clear_retry_flags(b);
	if (!g) {
		BIO_set_retry_read(b);
		return -1;
	}
	l->in = g->next;
	if (!l->in)
		l->in_tail = &l->in;
	size_t k = g->len < (size_t)n ? g->len : (size_t)n; /* (a datagram longer is cut) */
	memcpy(d, g->b, k);
	free(g);
	return (int)k;
}

static long dq_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct pr_dtls_leg *l = BIO_get_data(b);
	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
	case BIO_CTRL_DGRAM_SET_CONNECTED:
	case BIO_CTRL_DGRAM_SET_PEER:
		return 1;
	case BIO_CTRL_DGRAM_QUERY_MTU:
	case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
		return PR_DTLS_MTU;
	case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
		return 28; /* IPv4 + UDP */
	case BIO_CTRL_PENDING:
		return l && l->in ? (long)l->in->len : 0;
	case BIO_CTRL_WPENDING:
		return 0;
	default:
		return 0;
	}
}

static BIO_METHOD *dq_method(void)
{
	static BIO_METHOD *m;
	if (!m) {
		m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "poprelay dgram");
		BIO_meth_set_write(m, dq_write);
		BIO_meth_set_read(m, dq_read);
		BIO_meth_set_ctrl(m, dq_ctrl);
	}
	return m;
}

static void dq_free(struct dgram *g)
{
	while (g) {
		struct dgram *n = g->next;
		OPENSSL_cleanse(g->b, g->len);
		free(g);
		g = n;
	}
}

struct pr_dtls_leg *pr_dtls_leg_new(SSL_CTX *ctx, enum pr_dtls_role role, uint8_t profiles,
				    const uint8_t fpr[PR_DTLS_FPR_LEN])
{
	struct pr_dtls_leg *l = calloc(1, sizeof(*l));
	BIO *b = NULL;
	char list[64] = "";

	if (!l)
		return NULL;
	l->in_tail = &l->in;
	l->out_tail = &l->out;
	l->role = role;
	memcpy(l->fpr, fpr, PR_DTLS_FPR_LEN);
	/* use_srtp (RFC 5764 4.1.1), ours preferred in this order */
	if (profiles & PR_DTLS_P_CM80)
		strcat(list, "SRTP_AES128_CM_SHA1_80");
	if (profiles & PR_DTLS_P_GCM)
		strcat(list, list[0] ? ":SRTP_AEAD_AES_128_GCM" : "SRTP_AEAD_AES_128_GCM");
	l->ssl = SSL_new(ctx);
	b = BIO_new(dq_method());
	if (!l->ssl || !b || !list[0] || SSL_set_tlsext_use_srtp(l->ssl, list) != 0) {
		BIO_free(b);
		pr_dtls_leg_free(l);
		return NULL;
	}
	BIO_set_data(b, l);
	BIO_set_init(b, 1);
	/* one BIO both ways: SSL_set_bio takes the one reference (a second one leaked a BIO a
	 * leg, found by the ASan unit run) */
	SSL_set_bio(l->ssl, b, b);
	SSL_set_ex_data(l->ssl, leg_idx, l);
	SSL_set_mtu(l->ssl, PR_DTLS_MTU - 28);
	if (role == PR_DTLS_ACTIVE)
		SSL_set_connect_state(l->ssl);
	else
		SSL_set_accept_state(l->ssl);
	return l;
}

void pr_dtls_leg_free(struct pr_dtls_leg *l)
{
	if (!l)
		return;
	SSL_free(l->ssl);
	dq_free(l->in);
	dq_free(l->out);
	OPENSSL_cleanse(l, sizeof(*l));
	free(l);
}

static enum pr_dtls_state fail(struct pr_dtls_leg *l, int reason)
{
	l->state = PR_DTLS_FAILED;
	l->reason = reason;
	return l->state;
}

enum pr_dtls_state pr_dtls_leg_step(struct pr_dtls_leg *l)
{
	if (l->state != PR_DTLS_HANDSHAKE) {
		if (l->state == PR_DTLS_DONE) {
			/* a peer that lost our last flight sends its own again: answered by
			 * reading it (OpenSSL retransmits) */
			uint8_t b[256];
			(void)SSL_read(l->ssl, b, sizeof(b));
			ERR_clear_error();
		}
		return l->state;
	}
	ERR_clear_error();
	int rc = SSL_do_handshake(l->ssl);
	if (rc == 1) {
		if (!SSL_get_selected_srtp_profile(l->ssl))
			return fail(l, PR_DTLS_F_NO_SRTP);
		l->state = PR_DTLS_DONE;
		return l->state;
	}
	int e = SSL_get_error(l->ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return l->state;
	ERR_clear_error();
	if (l->fpr_bad)
		return fail(l, PR_DTLS_F_FINGERPRINT);
	return fail(l, PR_DTLS_F_ALERT);
}

enum pr_dtls_state pr_dtls_leg_input(struct pr_dtls_leg *l, const uint8_t *d, size_t n)
{
	struct dgram *g;

	if (l->state == PR_DTLS_FAILED || n == 0 || n > 4096)
		return l->state;
	g = malloc(sizeof(*g) + n);
	if (!g)
		return l->state;
	g->next = NULL;
	g->len = n;
	memcpy(g->b, d, n);
	*l->in_tail = g;
	l->in_tail = &g->next;
	return pr_dtls_leg_step(l);
}

size_t pr_dtls_leg_output(struct pr_dtls_leg *l, uint8_t *buf, size_t cap)
{
	struct dgram *g = l->out;

	if (!g)
		return 0;
	l->out = g->next;
	if (!l->out)
		l->out_tail = &l->out;
	size_t n = g->len <= cap ? g->len : 0; /* (never: our MTU is below any cap) */
	memcpy(buf, g->b, n);
	free(g);
	return n;
}

long pr_dtls_leg_timer_ms(struct pr_dtls_leg *l)
{
	struct timeval tv;

	if (l->state != PR_DTLS_HANDSHAKE || DTLSv1_get_timeout(l->ssl, &tv) != 1)
		return -1;
	return tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
}

enum pr_dtls_state pr_dtls_leg_timeout(struct pr_dtls_leg *l)
{
	if (l->state == PR_DTLS_HANDSHAKE && DTLSv1_handle_timeout(l->ssl) < 0)
		return fail(l, PR_DTLS_F_TIMEOUT);
	return pr_dtls_leg_step(l);
}

int pr_dtls_leg_reason(const struct pr_dtls_leg *l)
{
	return l->reason;
}

int pr_dtls_leg_keys(struct pr_dtls_leg *l, uint8_t *profile, uint8_t rx[30], uint8_t tx[30])
{
	static const char label[] = "EXTRACTOR-dtls_srtp"; /* RFC 5764 4.2 */
	uint8_t km[2 * 30];
	SRTP_PROTECTION_PROFILE *p;

	if (l->state != PR_DTLS_DONE || !(p = SSL_get_selected_srtp_profile(l->ssl)))
		return -1;
	if (p->id == SRTP_AES128_CM_SHA1_80)
		*profile = PR_DTLS_P_CM80;
	else if (p->id == SRTP_AEAD_AES_128_GCM)
		*profile = PR_DTLS_P_GCM;
	else
		return -1;
	size_t n = 2 * pr_dtls_keysalt_len(*profile);
	if (SSL_export_keying_material(l->ssl, km, n, label, sizeof(label) - 1, NULL, 0, 0) != 1)
		return -1;
	pr_dtls_srtp_split(km, *profile, l->role == PR_DTLS_ACTIVE, rx, tx);
	OPENSSL_cleanse(km, sizeof(km));
	return 0;
}
