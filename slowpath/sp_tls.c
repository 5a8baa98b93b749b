/* SPDX-License-Identifier: BSD-3-Clause */
/* TLS contexts, session ticket keys and live reload: see sp_tls.h. */
#include "slowpath/sp_tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/log.h"
#include "slowpath/sp_server.h"

/* RFC 5077 4's recommended ticket protection: key name, AES-256-CBC key, HMAC-SHA256 key. */
struct ticket_key {
	unsigned char name[16];
	unsigned char aes[32];
	unsigned char hmac[32];
	bool set;
};

struct sp_tls {
	struct ticket_key keys[2]; /* [0] current: encrypts and decrypts; [1] previous: decrypts */
	int64_t rotated_ms;
};

static int key_make(struct ticket_key *k)
{
	if (RAND_bytes(k->name, sizeof(k->name)) != 1 || RAND_bytes(k->aes, sizeof(k->aes)) != 1 ||
	    RAND_bytes(k->hmac, sizeof(k->hmac)) != 1)
		return -EIO;
	k->set = true;
	return 0;
}

static int key_use(const struct ticket_key *k, unsigned char *iv, EVP_CIPHER_CTX *ectx,
		   EVP_MAC_CTX *hctx, int enc)
{
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)k->hmac, sizeof(k->hmac)),
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
	    OSSL_PARAM_construct_end(),
	};
	if (EVP_MAC_CTX_set_params(hctx, params) != 1)
		return -1;
	if (enc)
		return EVP_EncryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, k->aes, iv) == 1 ? 1 : -1;
	return EVP_DecryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, k->aes, iv) == 1 ? 1 : -1;
}

/* OpenSSL's ticket callback: encrypt with the current key; decrypt with whichever key named
 * the ticket, asking for a new ticket (2) when it was the previous one. 0: unknown key (a
 * full handshake). */
static int ticket_cb(SSL *ssl, unsigned char name[16], unsigned char *iv, EVP_CIPHER_CTX *ectx,
		     EVP_MAC_CTX *hctx, int enc)
{
	struct sp_server *s = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	struct sp_tls *t = s ? s->tls : NULL;

	if (!t || !t->keys[0].set)
		return enc ? -1 : 0;
	if (enc) {
		if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1)
			return -1;
		memcpy(name, t->keys[0].name, sizeof(t->keys[0].name));
		return key_use(&t->keys[0], iv, ectx, hctx, 1);
	}
	for (int i = 0; i < 2; i++)
		if (t->keys[i].set && !memcmp(name, t->keys[i].name, sizeof(t->keys[i].name))) {
			int rc = key_use(&t->keys[i], iv, ectx, hctx, 0);
			return rc == 1 && i == 1 ? 2 : rc;
		}
	return 0;
}

/* A TLS 1.2 suite without forward secrecy or without AEAD that the configuration enables. */
static void warn_weak_suites(const struct sp_config *cfg, SSL_CTX *ctx)
{
	STACK_OF(SSL_CIPHER) *sk = SSL_CTX_get_ciphers(ctx);
	char weak[512] = "";
	size_t off = 0;

	for (int i = 0; sk && i < sk_SSL_CIPHER_num(sk); i++) {
		const SSL_CIPHER *c = sk_SSL_CIPHER_value(sk, i);
		int kx = SSL_CIPHER_get_kx_nid(c);
		if (!strcmp(SSL_CIPHER_get_version(c), "TLSv1.3") ||
		    ((kx == NID_kx_ecdhe || kx == NID_kx_dhe) && SSL_CIPHER_is_aead(c)))
			continue;
		if (off < sizeof(weak))
			off += (size_t)snprintf(weak + off, sizeof(weak) - off, "%s%s",
						off ? " " : "", SSL_CIPHER_get_name(c));
	}
	if (off)
		PR_WARN("%s: [sip] tls_ciphers enables suites without forward secrecy or without "
			"AEAD: %s",
			cfg->path, weak);
}

static SSL_CTX *ctx_new(struct sp_server *s, bool server, char *err, size_t errlen)
{
	const struct sp_config *cfg = &s->cfg;
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());

	if (!ctx) {
		snprintf(err, errlen, "no memory for a TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
				     SSL_OP_IGNORE_UNEXPECTED_EOF |
				     SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	/* sp_config_check judged the same policy and files before the start; a reload reads
	 * the files again */
	if (sp_config_tls_policy(cfg, ctx, err, errlen) < 0 ||
	    sp_config_tls_load(cfg, ctx, err, errlen) < 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (server) {
		int mode = SSL_VERIFY_NONE;
		if (cfg->verify_client == SP_VERIFY_OPTIONAL)
			mode = SSL_VERIFY_PEER;
		else if (cfg->verify_client == SP_VERIFY_REQUIRE)
			mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
		SSL_CTX_set_verify(ctx, mode, NULL);
		SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"poprelay-sp", 11);
		/* tickets only: they hold the session themselves, survive a reload (the key
		 * store is shared) and cost no server memory per device */
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_app_data(ctx, s);
		SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
		/* a ticket outlives its key by no more than one period */
		SSL_CTX_set_timeout(ctx, (long)cfg->tls_ticket_rotate_s * 2);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	return ctx;
}

/* "CN=..., sha256 AB:CD:..., not after ..." of ctx's certificate, for the log. */
static void cert_text(SSL_CTX *ctx, char *out, size_t len)
{
	X509 *x = SSL_CTX_get0_certificate(ctx);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	char subj[128] = "?", fp[3 * EVP_MAX_MD_SIZE + 1] = "", na[64] = "?";

	if (!x) {
		snprintf(out, len, "no certificate");
		return;
	}
	X509_NAME_oneline(X509_get_subject_name(x), subj, sizeof(subj));
	if (X509_digest(x, EVP_sha256(), md, &mdlen) == 1)
		for (unsigned i = 0; i < mdlen; i++)
			snprintf(fp + 3 * i, sizeof(fp) - 3 * i, "%02X%s", md[i],
				 i + 1 < mdlen ? ":" : "");
	BIO *b = BIO_new(BIO_s_mem());
	if (b && ASN1_TIME_print(b, X509_get0_notAfter(x)) == 1) {
		int n = BIO_read(b, na, sizeof(na) - 1);
		na[n > 0 ? n : 0] = '\0';
	}
	BIO_free(b);
	snprintf(out, len, "%s, sha256 %s, not after %s", subj, fp, na);
}

int sp_tls_open(struct sp_server *s)
{
	char err[768];

	s->tls = calloc(1, sizeof(*s->tls));
	if (!s->tls)
		return -ENOMEM;
	if (key_make(&s->tls->keys[0]) < 0) {
		PR_ERR("TLS: no random bytes for a session ticket key");
		return -EIO;
	}
	s->tls->rotated_ms = sp_now_ms();
	s->ssl_srv = ctx_new(s, true, err, sizeof(err));
	if (s->ssl_srv)
		s->ssl_cli = ctx_new(s, false, err, sizeof(err));
	if (!s->ssl_srv || !s->ssl_cli) {
		PR_ERR("TLS: %s", err);
		return -EINVAL;
	}
	warn_weak_suites(&s->cfg, s->ssl_srv);
	cert_text(s->ssl_srv, err, sizeof(err));
	PR_INFO("TLS: certificate %s", err);
	return 0;
}

void sp_tls_tick(struct sp_server *s, int64_t now_ms)
{
	struct sp_tls *t = s->tls;
	struct ticket_key k;

	if (!t || now_ms - t->rotated_ms < (int64_t)s->cfg.tls_ticket_rotate_s * 1000)
		return;
	if (key_make(&k) < 0)
		return; /* the current key serves one more second */
	OPENSSL_cleanse(&t->keys[1], sizeof(t->keys[1]));
	t->keys[1] = t->keys[0];
	t->keys[0] = k;
	OPENSSL_cleanse(&k, sizeof(k));
	t->rotated_ms = now_ms;
	PR_DEBUG("TLS: session ticket key rotated");
}

int sp_tls_reload(struct sp_server *s, const char *why)
{
	char err[768];
	SSL_CTX *srv = NULL, *cli = NULL;

	if (!s->ssl_srv)
		return 0; /* no TLS in this configuration */
	srv = ctx_new(s, true, err, sizeof(err));
	if (srv)
		cli = ctx_new(s, false, err, sizeof(err));
	if (!srv || !cli) {
		SSL_CTX_free(srv);
		s->ctr.tls_reload_failed++;
		PR_ERR("TLS reload (%s) refused, the certificate in force stays: %s", why, err);
		return -EINVAL;
	}
	/* the live connections' SSLs hold references on the old contexts: they go with the
	 * last of them */
	SSL_CTX_free(s->ssl_srv);
	SSL_CTX_free(s->ssl_cli);
	s->ssl_srv = srv;
	s->ssl_cli = cli;
	s->ctr.tls_reloads++;
	cert_text(srv, err, sizeof(err));
	PR_NOTICE("TLS reload (%s): new handshakes use certificate %s; %llu TLS flows keep theirs",
		  why, err, (unsigned long long)s->ctr.tls_open);
	return 0;
}

void sp_tls_close(struct sp_server *s)
{
	if (s->ssl_srv)
		SSL_CTX_free(s->ssl_srv);
	if (s->ssl_cli)
		SSL_CTX_free(s->ssl_cli);
	s->ssl_srv = s->ssl_cli = NULL;
	if (s->tls) {
		OPENSSL_cleanse(s->tls, sizeof(*s->tls));
		free(s->tls);
		s->tls = NULL;
	}
}
