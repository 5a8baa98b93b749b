/* SPDX-License-Identifier: BSD-3-Clause */
/* One browser leg's DTLS-SRTP handshake (RFC 5763, RFC 5764) in poprelay-dtls: OpenSSL DTLS
 * 1.2 over datagram queues of our own (a BIO that keeps each datagram whole, in and out), so
 * that the caller moves datagrams between the leg and the dataplane's channel and nothing
 * here does I/O. Also the appliance's certificate (ECDSA P-256, self-signed) and the key
 * layout of RFC 5764 4.2. Unit-tested alone (tests/unit/test_dtls_leg.c). */
#ifndef POPRELAY_DTLS_LEG_H
#define POPRELAY_DTLS_LEG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "common/dtls_chan.h"

#define PR_DTLS_MTU 1200 /* our flights' datagrams at most (browsers use the same) */

/* The files under dir (cert.pem, key.pem): made anew (pr_dtls_cert_rotate) when missing,
 * unreadable or older than rotate_days. 1: made, 0: kept, -1 with err set. */
int pr_dtls_cert_ensure(const char *dir, unsigned rotate_days, char *err, size_t el);
/* A new pair (ECDSA P-256, self-signed, valid 2 x rotate_days) as cert.pem, key.pem; the
 * pair it replaces, if it loads, kept as prev-cert.pem, prev-key.pem. 1 or -1 with err. */
int pr_dtls_cert_rotate(const char *dir, unsigned rotate_days, char *err, size_t el);
/* Seconds since cert.pem was made (-1: none). */
long pr_dtls_cert_age(const char *dir);

/* A DTLS 1.2 context with the certificate and key of dir; peers must present a certificate,
 * any (self-signed) one, whose sha-256 each leg checks. NULL with err set. */
SSL_CTX *pr_dtls_ctx_new(const char *dir, char *err, size_t el);
/* The same with the previous pair, while cert.pem (made when it was retired) is younger than
 * grace_s; NULL with err empty: none or past the grace, NULL with err set: it does not load. */
SSL_CTX *pr_dtls_ctx_prev(const char *dir, unsigned grace_s, char *err, size_t el);

/* Our certificates: the current one, and the previous one during its grace (prev NULL:
 * none). A leg is handshaked with the one its SDP carried. */
struct pr_dtls_certs {
	SSL_CTX *cur, *prev;
	uint8_t cur_fpr[PR_DTLS_FPR_LEN], prev_fpr[PR_DTLS_FPR_LEN];
};
/* The context whose fingerprint is lfpr (all zero: not known, the current one); NULL:
 * neither (PR_DTLS_F_CERT). */
SSL_CTX *pr_dtls_certs_pick(const struct pr_dtls_certs *c, const uint8_t lfpr[PR_DTLS_FPR_LEN]);

/* The sha-256 fingerprint of ctx's certificate. */
int pr_dtls_ctx_fingerprint(SSL_CTX *ctx, uint8_t out[PR_DTLS_FPR_LEN]);

/* RFC 5764 4.2: the exported block is client key, server key, client salt, server salt. The
 * leg's receive key||salt is the peer's write key (the server's when we are the client),
 * its send key||salt ours. */
void pr_dtls_srtp_split(const uint8_t *km, uint8_t profile, bool we_are_client, uint8_t *rx,
			uint8_t *tx);

enum pr_dtls_state { PR_DTLS_HANDSHAKE, PR_DTLS_DONE, PR_DTLS_FAILED };

struct pr_dtls_leg;

/* A leg in handshake: role ours, profiles the SRTP profiles offered or accepted (a set of
 * PR_DTLS_P_*, preference CM80 then GCM), fpr the peer's expected fingerprint. */
struct pr_dtls_leg *pr_dtls_leg_new(SSL_CTX *ctx, enum pr_dtls_role role, uint8_t profiles,
				    const uint8_t fpr[PR_DTLS_FPR_LEN]);
void pr_dtls_leg_free(struct pr_dtls_leg *l);

/* Drives the handshake: the active side's first call sends the ClientHello. */
enum pr_dtls_state pr_dtls_leg_step(struct pr_dtls_leg *l);
/* One datagram from the peer (n bytes), then a step. */
enum pr_dtls_state pr_dtls_leg_input(struct pr_dtls_leg *l, const uint8_t *d, size_t n);
/* The next datagram to send (its length, 0: none), moved into buf (cap bytes). */
size_t pr_dtls_leg_output(struct pr_dtls_leg *l, uint8_t *buf, size_t cap);
/* Milliseconds until the retransmission timer runs out (-1: none), and its expiry. */
long pr_dtls_leg_timer_ms(struct pr_dtls_leg *l);
enum pr_dtls_state pr_dtls_leg_timeout(struct pr_dtls_leg *l);
/* FAILED: why (enum pr_dtls_fail). */
int pr_dtls_leg_reason(const struct pr_dtls_leg *l);
/* DONE: the negotiated profile and the leg's rx and tx key||salt (secrets), 0 or -1. */
int pr_dtls_leg_keys(struct pr_dtls_leg *l, uint8_t *profile, uint8_t rx[30], uint8_t tx[30]);

#endif
