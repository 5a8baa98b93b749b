/* SPDX-License-Identifier: BSD-3-Clause */
/* poprelay-dtls's pure parts (dtls/dtls_leg.h, common/dtls_chan.h): the RFC 5764 4.2 key
 * layout against a block whose every byte says where it came from; fingerprints parsed and
 * written as RFC 8122 has them; whole handshakes between two legs over the datagram queues
 * (the keys each side exports are the other's, both the appliance's own certificate and a
 * plain OpenSSL client's), a peer certificate that is not the expected fingerprint failing
 * with no keys, no common SRTP profile failing; the channel's message parser refusing what
 * no honest side writes; a rotation keeping the previous certificate, and a leg handshaked
 * with the certificate of ours its SDP carried (current, previous, neither). */
#include <CUnit/Basic.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "common/dtls_chan.h"
#include "dtls/dtls_leg.h"

static char dir_a[64], dir_b[64];
static SSL_CTX *ctx_a, *ctx_b;
static uint8_t fpr_a[32], fpr_b[32];

static void split_layout(void)
{
	uint8_t km[60], rx[30], tx[30];
	for (int i = 0; i < 60; i++)
		km[i] = (uint8_t)i;
	/* AES_CM_128_HMAC_SHA1_80: client key 0-15, server key 16-31, client salt 32-45,
	 * server salt 46-59 */
	pr_dtls_srtp_split(km, PR_DTLS_P_CM80, true, rx, tx);
	for (int i = 0; i < 16; i++) {
		CU_ASSERT_EQUAL(tx[i], i);	/* ours: the client's */
		CU_ASSERT_EQUAL(rx[i], 16 + i); /* the peer's: the server's */
	}
	for (int i = 0; i < 14; i++) {
		CU_ASSERT_EQUAL(tx[16 + i], 32 + i);
		CU_ASSERT_EQUAL(rx[16 + i], 46 + i);
	}
	pr_dtls_srtp_split(km, PR_DTLS_P_CM80, false, rx, tx);
	CU_ASSERT_EQUAL(rx[0], 0);
	CU_ASSERT_EQUAL(tx[0], 16);
	CU_ASSERT_EQUAL(rx[16], 32);
	CU_ASSERT_EQUAL(tx[29], 59);
	/* AEAD_AES_128_GCM: 12-byte salts, client salt 32-43, server salt 44-55 */
	pr_dtls_srtp_split(km, PR_DTLS_P_GCM, false, rx, tx);
	CU_ASSERT_EQUAL(rx[16], 32);
	CU_ASSERT_EQUAL(rx[27], 43);
	CU_ASSERT_EQUAL(tx[16], 44);
	CU_ASSERT_EQUAL(tx[27], 55);
}

static void fingerprint_text(void)
{
	uint8_t f[32], g[32];
	char t[110];
	for (int i = 0; i < 32; i++)
		f[i] = (uint8_t)(i * 37 + 5);
	pr_dtls_fpr_format(f, t);
	CU_ASSERT_EQUAL(strlen(t), 8 + 95);
	CU_ASSERT_EQUAL(strncmp(t, "sha-256 05:2A:4F:", 17), 0);
	CU_ASSERT_EQUAL(pr_dtls_fpr_parse(t, g), 0);
	CU_ASSERT_EQUAL(memcmp(f, g, 32), 0);
	/* lowercase and "SHA-256" are the same (RFC 8122) */
	for (char *p = t; *p; p++)
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
	t[0] = 'S';
	CU_ASSERT_EQUAL(pr_dtls_fpr_parse(t, g), 0);
	CU_ASSERT_EQUAL(memcmp(f, g, 32), 0);
	/* refused: another hash, a short one, a trailing byte, a missing colon, not hex */
	CU_ASSERT_EQUAL(pr_dtls_fpr_parse("sha-1 05:2A", g), -1);
	pr_dtls_fpr_format(f, t);
	t[strlen(t) - 3] = 0;
	CU_ASSERT_EQUAL(pr_dtls_fpr_parse(t, g), -1);
	pr_dtls_fpr_format(f, t);
	strcat(t, ":00");
	CU_ASSERT_EQUAL(pr_dtls_fpr_parse(t, g), -1);
	pr_dtls_fpr_format(f, t);
	t[10] = '-';
	CU_ASSERT_EQUAL(pr_dtls_fpr_parse(t, g), -1);
	pr_dtls_fpr_format(f, t);
	t[8] = 'G';
	CU_ASSERT_EQUAL(pr_dtls_fpr_parse(t, g), -1);
	CU_ASSERT_EQUAL(pr_dtls_fpr_parse("", g), -1);
}

/* Datagrams between two legs until neither has any to send. */
static void pump(struct pr_dtls_leg *a, struct pr_dtls_leg *b)
{
	uint8_t d[2048];
	size_t n;
	for (int round = 0; round < 50; round++) {
		bool moved = false;
		while ((n = pr_dtls_leg_output(a, d, sizeof(d)))) {
			CU_ASSERT(n <= PR_DTLS_MTU);
			pr_dtls_leg_input(b, d, n);
			moved = true;
		}
		while ((n = pr_dtls_leg_output(b, d, sizeof(d)))) {
			CU_ASSERT(n <= PR_DTLS_MTU);
			pr_dtls_leg_input(a, d, n);
			moved = true;
		}
		if (!moved)
			return;
	}
}

static void handshake(uint8_t pa, uint8_t pb, uint8_t want)
{
	struct pr_dtls_leg *srv = pr_dtls_leg_new(ctx_a, PR_DTLS_PASSIVE, pa, fpr_b);
	struct pr_dtls_leg *cli = pr_dtls_leg_new(ctx_b, PR_DTLS_ACTIVE, pb, fpr_a);
	uint8_t p1 = 0, p2 = 0, rx1[30], tx1[30], rx2[30], tx2[30];

	CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cli);
	CU_ASSERT_EQUAL(pr_dtls_leg_step(cli), PR_DTLS_HANDSHAKE);
	CU_ASSERT(pr_dtls_leg_timer_ms(cli) > 0); /* the ClientHello's retransmission */
	pump(cli, srv);
	CU_ASSERT_EQUAL(pr_dtls_leg_step(srv), PR_DTLS_DONE);
	CU_ASSERT_EQUAL(pr_dtls_leg_step(cli), PR_DTLS_DONE);
	CU_ASSERT_EQUAL(pr_dtls_leg_keys(srv, &p1, rx1, tx1), 0);
	CU_ASSERT_EQUAL(pr_dtls_leg_keys(cli, &p2, rx2, tx2), 0);
	CU_ASSERT_EQUAL(p1, want);
	CU_ASSERT_EQUAL(p2, want);
	size_t n = pr_dtls_keysalt_len(want);
	CU_ASSERT_EQUAL(memcmp(rx1, tx2, n), 0);
	CU_ASSERT_EQUAL(memcmp(tx1, rx2, n), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(rx1, tx1, n), 0);
	pr_dtls_leg_free(srv);
	pr_dtls_leg_free(cli);
}

static void handshake_cm80(void)
{
	handshake(PR_DTLS_P_CM80 | PR_DTLS_P_GCM, PR_DTLS_P_CM80 | PR_DTLS_P_GCM, PR_DTLS_P_CM80);
}

static void handshake_gcm(void)
{
	handshake(PR_DTLS_P_GCM, PR_DTLS_P_CM80 | PR_DTLS_P_GCM, PR_DTLS_P_GCM);
}

/* The client (a browser's role) exports with OpenSSL directly: the server leg's rx is the
 * client's write key, as RFC 5764 4.2 lays the block out. */
static void against_plain_openssl(void)
{
	struct pr_dtls_leg *srv = pr_dtls_leg_new(ctx_a, PR_DTLS_PASSIVE, PR_DTLS_P_CM80, fpr_b);
	/* a context of its own, as a browser's: dir_b's certificate, no callbacks of ours */
	SSL_CTX *cc = SSL_CTX_new(DTLS_method());
	char cert[96], key[96];
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir_b);
	snprintf(key, sizeof(key), "%s/key.pem", dir_b);
	CU_ASSERT_EQUAL_FATAL(SSL_CTX_use_certificate_file(cc, cert, SSL_FILETYPE_PEM), 1);
	CU_ASSERT_EQUAL_FATAL(SSL_CTX_use_PrivateKey_file(cc, key, SSL_FILETYPE_PEM), 1);
	SSL *c = SSL_new(cc);
	BIO *in = BIO_new(BIO_s_mem()), *out = BIO_new(BIO_s_mem());
	uint8_t d[2048], km[60], p, rx[30], tx[30];

	BIO_set_mem_eof_return(in, -1);
	SSL_set_bio(c, in, out);
	SSL_set_verify(c, SSL_VERIFY_NONE, NULL); /* (its own check is not under test) */
	CU_ASSERT_EQUAL(SSL_set_tlsext_use_srtp(c, "SRTP_AES128_CM_SHA1_80"), 0);
	SSL_set_connect_state(c);
	for (int i = 0; i < 20 && SSL_do_handshake(c) != 1; i++) {
		/* each flight's datagrams: the mem BIO holds them back to back, which a DTLS
		 * reader takes as records of one datagram */
		int n = BIO_read(out, d, sizeof(d));
		if (n > 0)
			pr_dtls_leg_input(srv, d, (size_t)n);
		size_t m;
		while ((m = pr_dtls_leg_output(srv, d, sizeof(d))))
			BIO_write(in, d, (int)m);
	}
	int n = BIO_read(out, d, sizeof(d)); /* the client's last flight */
	if (n > 0)
		pr_dtls_leg_input(srv, d, (size_t)n);
	CU_ASSERT_EQUAL_FATAL(pr_dtls_leg_step(srv), PR_DTLS_DONE);
	CU_ASSERT_EQUAL(
	    SSL_export_keying_material(c, km, 60, "EXTRACTOR-dtls_srtp", 19, NULL, 0, 0), 1);
	CU_ASSERT_EQUAL(pr_dtls_leg_keys(srv, &p, rx, tx), 0);
	CU_ASSERT_EQUAL(memcmp(rx, km, 16), 0);		  /* client write key */
	CU_ASSERT_EQUAL(memcmp(rx + 16, km + 32, 14), 0); /* client write salt */
	CU_ASSERT_EQUAL(memcmp(tx, km + 16, 16), 0);	  /* server write key */
	CU_ASSERT_EQUAL(memcmp(tx + 16, km + 46, 14), 0);
	SSL_free(c);
	SSL_CTX_free(cc);
	pr_dtls_leg_free(srv);
}

static void wrong_fingerprint(void)
{
	uint8_t other[32], p, rx[30], tx[30];
	memcpy(other, fpr_b, 32);
	other[31] ^= 1;
	struct pr_dtls_leg *srv = pr_dtls_leg_new(ctx_a, PR_DTLS_PASSIVE, 3, other);
	struct pr_dtls_leg *cli = pr_dtls_leg_new(ctx_b, PR_DTLS_ACTIVE, 3, fpr_a);
	pr_dtls_leg_step(cli);
	pump(cli, srv);
	CU_ASSERT_EQUAL(pr_dtls_leg_step(srv), PR_DTLS_FAILED);
	CU_ASSERT_EQUAL(pr_dtls_leg_reason(srv), PR_DTLS_F_FINGERPRINT);
	CU_ASSERT_EQUAL(pr_dtls_leg_keys(srv, &p, rx, tx), -1);
	CU_ASSERT_NOT_EQUAL(pr_dtls_leg_step(cli), PR_DTLS_DONE);
	pr_dtls_leg_free(srv);
	pr_dtls_leg_free(cli);
	/* and the active side checks the server's certificate the same way */
	memcpy(other, fpr_a, 32);
	other[0] ^= 0x80;
	srv = pr_dtls_leg_new(ctx_a, PR_DTLS_PASSIVE, 3, fpr_b);
	cli = pr_dtls_leg_new(ctx_b, PR_DTLS_ACTIVE, 3, other);
	pr_dtls_leg_step(cli);
	pump(cli, srv);
	CU_ASSERT_EQUAL(pr_dtls_leg_step(cli), PR_DTLS_FAILED);
	CU_ASSERT_EQUAL(pr_dtls_leg_reason(cli), PR_DTLS_F_FINGERPRINT);
	pr_dtls_leg_free(srv);
	pr_dtls_leg_free(cli);
}

static void no_common_profile(void)
{
	struct pr_dtls_leg *srv = pr_dtls_leg_new(ctx_a, PR_DTLS_PASSIVE, PR_DTLS_P_GCM, fpr_b);
	struct pr_dtls_leg *cli = pr_dtls_leg_new(ctx_b, PR_DTLS_ACTIVE, PR_DTLS_P_CM80, fpr_a);
	pr_dtls_leg_step(cli);
	pump(cli, srv);
	CU_ASSERT_EQUAL(pr_dtls_leg_step(srv), PR_DTLS_FAILED);
	CU_ASSERT_EQUAL(pr_dtls_leg_reason(srv), PR_DTLS_F_NO_SRTP);
	pr_dtls_leg_free(srv);
	pr_dtls_leg_free(cli);
}

/* A lost flight is sent again when the DTLS timer runs out (DTLSv1_handle_timeout), and the
 * handshake completes from the retransmission. */
static void retransmission(void)
{
	struct pr_dtls_leg *srv = pr_dtls_leg_new(ctx_a, PR_DTLS_PASSIVE, 3, fpr_b);
	struct pr_dtls_leg *cli = pr_dtls_leg_new(ctx_b, PR_DTLS_ACTIVE, 3, fpr_a);
	uint8_t d[2048];

	pr_dtls_leg_step(cli);
	CU_ASSERT(pr_dtls_leg_output(cli, d, sizeof(d)) > 0); /* the ClientHello, lost */
	CU_ASSERT_EQUAL(pr_dtls_leg_output(cli, d, sizeof(d)), 0);
	CU_ASSERT_EQUAL(pr_dtls_leg_timeout(cli), PR_DTLS_HANDSHAKE); /* not yet: nothing */
	CU_ASSERT_EQUAL(pr_dtls_leg_output(cli, d, sizeof(d)), 0);
	long ms = pr_dtls_leg_timer_ms(cli);
	CU_ASSERT(ms > 0 && ms <= 1000);
	usleep((useconds_t)(ms + 20) * 1000);
	CU_ASSERT_EQUAL(pr_dtls_leg_timer_ms(cli), 0);
	CU_ASSERT_EQUAL(pr_dtls_leg_timeout(cli), PR_DTLS_HANDSHAKE);
	size_t n = pr_dtls_leg_output(cli, d, sizeof(d));
	CU_ASSERT(n > 0 && d[0] == 22); /* sent again */
	pr_dtls_leg_input(srv, d, n);
	pump(cli, srv);
	CU_ASSERT_EQUAL(pr_dtls_leg_step(srv), PR_DTLS_DONE);
	CU_ASSERT_EQUAL(pr_dtls_leg_step(cli), PR_DTLS_DONE);
	pr_dtls_leg_free(srv);
	pr_dtls_leg_free(cli);
}

static struct pr_frec rec(uint16_t len)
{
	struct pr_frec h;
	memset(&h, 0, sizeof(h));
	h.kind = PR_FREC_MSG;
	h.fam = 4;
	h.cli_port = 5000;
	h.srv_port = 30000;
	h.len = len;
	return h;
}

static void chan_parse(void)
{
	uint8_t b[240];
	struct pr_dtls_hdr *h = (struct pr_dtls_hdr *)b;
	struct pr_dtls_msg m;
	struct pr_frec r;

	memset(b, 0, sizeof(b));
	h->type = PR_DTLS_RECORD;
	h->role = PR_DTLS_PASSIVE;
	h->profiles = 3;
	b[sizeof(*h)] = 22; /* handshake */
	r = rec(sizeof(*h) + 13);
	memset(h->lfpr, 0xab, sizeof(h->lfpr)); /* ours, as the leg's SDP carried it */
	CU_ASSERT_EQUAL(pr_dtls_msg_parse(&r, b, sizeof(*h) + 13, true, &m), 0);
	CU_ASSERT_EQUAL(m.len, 13);
	CU_ASSERT_EQUAL(m.h.lfpr[0], 0xab);
	CU_ASSERT_EQUAL(m.h.lfpr[31], 0xab);
	CU_ASSERT_EQUAL(pr_dtls_msg_parse(&r, b, sizeof(*h) + 12, true, &m), -1); /* len */
	b[sizeof(*h)] = 128;							  /* RTP */
	CU_ASSERT_EQUAL(pr_dtls_msg_parse(&r, b, sizeof(*h) + 13, true, &m), -1);
	b[sizeof(*h)] = 22;
	h->role = 7;
	CU_ASSERT_EQUAL(pr_dtls_msg_parse(&r, b, sizeof(*h) + 13, true, &m), -1);
	h->role = PR_DTLS_PASSIVE;
	h->profiles = 4;
	CU_ASSERT_EQUAL(pr_dtls_msg_parse(&r, b, sizeof(*h) + 13, true, &m), -1);
	/* keys: only toward the dataplane, only the exact length of the profile */
	memset(b, 0, sizeof(b));
	h->type = PR_DTLS_KEYS;
	h->profiles = PR_DTLS_P_CM80;
	r = rec(sizeof(*h) + 60);
	CU_ASSERT_EQUAL(pr_dtls_msg_parse(&r, b, sizeof(*h) + 60, false, &m), 0);
	CU_ASSERT_EQUAL(pr_dtls_msg_parse(&r, b, sizeof(*h) + 60, true, &m), -1);
	h->profiles = PR_DTLS_P_GCM;
	CU_ASSERT_EQUAL(pr_dtls_msg_parse(&r, b, sizeof(*h) + 60, false, &m), -1);
	r = rec(sizeof(*h) + 56);
	CU_ASSERT_EQUAL(pr_dtls_msg_parse(&r, b, sizeof(*h) + 56, false, &m), 0);
	/* fail: a known reason only */
	h->type = PR_DTLS_FAIL;
	h->reason = PR_DTLS_F_MAX;
	r = rec(sizeof(*h));
	CU_ASSERT_EQUAL(pr_dtls_msg_parse(&r, b, sizeof(*h), false, &m), -1);
	h->reason = PR_DTLS_F_FINGERPRINT;
	CU_ASSERT_EQUAL(pr_dtls_msg_parse(&r, b, sizeof(*h), false, &m), 0);
	/* a 5-tuple no side writes, an unknown type */
	r.fam = 5;
	CU_ASSERT_EQUAL(pr_dtls_msg_parse(&r, b, sizeof(*h), false, &m), -1);
	r = rec(sizeof(*h));
	h->type = 9;
	CU_ASSERT_EQUAL(pr_dtls_msg_parse(&r, b, sizeof(*h), false, &m), -1);
}

static void cert_kept_then_rotated(void)
{
	char err[256], dir[64] = "/tmp/test_dtls_rot.XXXXXX";
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	char sub[96];
	snprintf(sub, sizeof(sub), "%s/certs", dir);
	CU_ASSERT_EQUAL(pr_dtls_cert_ensure(sub, 30, err, sizeof(err)), 1);
	CU_ASSERT_EQUAL(pr_dtls_cert_ensure(sub, 30, err, sizeof(err)), 0);
	SSL_CTX *c1 = pr_dtls_ctx_new(sub, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(c1);
	uint8_t f1[32], f2[32];
	pr_dtls_ctx_fingerprint(c1, f1);
	/* older than rotate_days: a new one */
	char path[128];
	snprintf(path, sizeof(path), "%s/cert.pem", sub);
	struct timespec old[2] = {{.tv_sec = time(NULL) - 31 * 86400},
				  {.tv_sec = time(NULL) - 31 * 86400}};
	CU_ASSERT_EQUAL(utimensat(AT_FDCWD, path, old, 0), 0);
	CU_ASSERT_EQUAL(pr_dtls_cert_ensure(sub, 30, err, sizeof(err)), 1);
	SSL_CTX *c2 = pr_dtls_ctx_new(sub, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(c2);
	pr_dtls_ctx_fingerprint(c2, f2);
	CU_ASSERT_NOT_EQUAL(memcmp(f1, f2, 32), 0);
	SSL_CTX_free(c1);
	SSL_CTX_free(c2);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CU_ASSERT_EQUAL(system(cmd), 0);
}

/* One handshake: our side presents ctx (picked for the leg), the peer expects fpr_ours. */
static enum pr_dtls_state hs_with(SSL_CTX *ours, const uint8_t fpr_ours[32])
{
	struct pr_dtls_leg *srv = pr_dtls_leg_new(ours, PR_DTLS_PASSIVE, 3, fpr_b);
	struct pr_dtls_leg *cli = pr_dtls_leg_new(ctx_b, PR_DTLS_ACTIVE, 3, fpr_ours);

	CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cli);
	pr_dtls_leg_step(cli);
	pump(cli, srv);
	enum pr_dtls_state s = pr_dtls_leg_step(cli);
	if (pr_dtls_leg_step(srv) != PR_DTLS_DONE)
		s = PR_DTLS_FAILED;
	pr_dtls_leg_free(srv);
	pr_dtls_leg_free(cli);
	return s;
}

static void rotation_keeps_previous(void)
{
	char err[256], dir[64] = "/tmp/test_dtls_grace.XXXXXX", path[128];
	struct stat sb;
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	/* a first certificate: no previous one */
	CU_ASSERT_EQUAL(pr_dtls_cert_ensure(dir, 30, err, sizeof(err)), 1);
	CU_ASSERT_PTR_NULL(pr_dtls_ctx_prev(dir, 86400, err, sizeof(err)));
	CU_ASSERT_EQUAL(err[0], 0);
	SSL_CTX *c1 = pr_dtls_ctx_new(dir, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(c1);
	uint8_t f1[32], f2[32], fp[32], zero[32] = {0};
	pr_dtls_ctx_fingerprint(c1, f1);
	CU_ASSERT(pr_dtls_cert_age(dir) >= 0 && pr_dtls_cert_age(dir) < 5);

	/* rotated (while running): the old pair kept aside, its key still 0600 */
	CU_ASSERT_EQUAL(pr_dtls_cert_rotate(dir, 30, err, sizeof(err)), 1);
	snprintf(path, sizeof(path), "%s/prev-key.pem", dir);
	CU_ASSERT_EQUAL_FATAL(stat(path, &sb), 0);
	CU_ASSERT_EQUAL(sb.st_mode & 0777, 0600);
	SSL_CTX *c2 = pr_dtls_ctx_new(dir, err, sizeof(err));
	SSL_CTX *p = pr_dtls_ctx_prev(dir, 86400, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(c2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	pr_dtls_ctx_fingerprint(c2, f2);
	pr_dtls_ctx_fingerprint(p, fp);
	CU_ASSERT_NOT_EQUAL(memcmp(f1, f2, 32), 0);
	CU_ASSERT_EQUAL(memcmp(f1, fp, 32), 0); /* (as a restart would load it) */
	/* past the grace (0 s): not loaded */
	CU_ASSERT_PTR_NULL(pr_dtls_ctx_prev(dir, 0, err, sizeof(err)));
	CU_ASSERT_EQUAL(err[0], 0);

	struct pr_dtls_certs cs = {.cur = c2, .prev = p};
	memcpy(cs.cur_fpr, f2, 32);
	memcpy(cs.prev_fpr, fp, 32);
	/* a leg whose SDP carried F1 handshakes with the previous certificate, its peer sees
	 * F1; one with F2 (or from before the field: zero) with the current one */
	CU_ASSERT_PTR_EQUAL(pr_dtls_certs_pick(&cs, f1), p);
	CU_ASSERT_PTR_EQUAL(pr_dtls_certs_pick(&cs, f2), c2);
	CU_ASSERT_PTR_EQUAL(pr_dtls_certs_pick(&cs, zero), c2);
	CU_ASSERT_EQUAL(hs_with(pr_dtls_certs_pick(&cs, f1), f1), PR_DTLS_DONE);
	CU_ASSERT_EQUAL(hs_with(pr_dtls_certs_pick(&cs, f2), f2), PR_DTLS_DONE);
	/* what happened before: the current certificate to a peer that was given F1 */
	CU_ASSERT_EQUAL(hs_with(c2, f1), PR_DTLS_FAILED);
	/* a fingerprint that is neither (not ours, or the previous one dropped): none */
	CU_ASSERT_PTR_NULL(pr_dtls_certs_pick(&cs, fpr_b));
	cs.prev = NULL;
	CU_ASSERT_PTR_NULL(pr_dtls_certs_pick(&cs, f1));

	/* rotated again: F2 is the previous one, F1 is gone */
	CU_ASSERT_EQUAL(pr_dtls_cert_rotate(dir, 30, err, sizeof(err)), 1);
	SSL_CTX *p2 = pr_dtls_ctx_prev(dir, 86400, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(p2);
	pr_dtls_ctx_fingerprint(p2, fp);
	CU_ASSERT_EQUAL(memcmp(f2, fp, 32), 0);
	SSL_CTX_free(c1);
	SSL_CTX_free(c2);
	SSL_CTX_free(p);
	SSL_CTX_free(p2);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CU_ASSERT_EQUAL(system(cmd), 0);
}

static int setup(void)
{
	char err[256];
	strcpy(dir_a, "/tmp/test_dtls_a.XXXXXX");
	strcpy(dir_b, "/tmp/test_dtls_b.XXXXXX");
	if (!mkdtemp(dir_a) || !mkdtemp(dir_b) || pr_dtls_cert_ensure(dir_a, 30, err, 256) != 1 ||
	    pr_dtls_cert_ensure(dir_b, 30, err, 256) != 1)
		return 1;
	ctx_a = pr_dtls_ctx_new(dir_a, err, sizeof(err));
	ctx_b = pr_dtls_ctx_new(dir_b, err, sizeof(err));
	if (!ctx_a || !ctx_b || pr_dtls_ctx_fingerprint(ctx_a, fpr_a) < 0 ||
	    pr_dtls_ctx_fingerprint(ctx_b, fpr_b) < 0)
		return 1;
	return 0;
}

static int teardown(void)
{
	char cmd[200];
	SSL_CTX_free(ctx_a);
	SSL_CTX_free(ctx_b);
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", dir_a, dir_b);
	return system(cmd) == 0 ? 0 : 1;
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite("dtls_leg", setup, teardown);
	CU_add_test(s, "RFC 5764 4.2 key layout", split_layout);
	CU_add_test(s, "fingerprints as RFC 8122 writes them", fingerprint_text);
	CU_add_test(s, "handshake, AES_CM_128_HMAC_SHA1_80 preferred", handshake_cm80);
	CU_add_test(s, "handshake, GCM when that is all the server takes", handshake_gcm);
	CU_add_test(s, "keys against a plain OpenSSL client's export", against_plain_openssl);
	CU_add_test(s, "a certificate that is not the fingerprint fails", wrong_fingerprint);
	CU_add_test(s, "no common SRTP profile fails", no_common_profile);
	CU_add_test(s, "a lost flight is retransmitted on the timer", retransmission);
	CU_add_test(s, "channel messages parsed as untrusted", chan_parse);
	CU_add_test(s, "certificate kept, then rotated when old", cert_kept_then_rotated);
	CU_add_test(s, "rotation keeps the previous certificate; a leg gets the one it named",
		    rotation_keeps_previous);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
