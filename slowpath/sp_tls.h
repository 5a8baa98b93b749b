/* SPDX-License-Identifier: BSD-3-Clause */
/* The slowpath's TLS contexts (sp_tls.c): the listener's (s->ssl_srv) and the one toward peer
 * PoPs (s->ssl_cli), built from [sip] tls_cert, tls_key, tls_ca, tls_ciphers and
 * tls_ciphersuites (TLS 1.2 and 1.3 only); session tickets whose keys rotate; live reload.
 *
 * Tickets: every context encrypts tickets with the current key of one key store (struct
 * sp_tls, shared across reloads) and accepts the current and the previous one, so a ticket
 * stays valid across one rotation ([sip] tls_ticket_rotate_s) and for at most two of its
 * periods; one made with the previous key is replaced by a fresh one as it is used. The keys
 * live in memory only: a restart makes new ones (the devices' next handshake is a full one).
 *
 * Reload (SIGHUP, or `poprelayctl tls reload` through the pr:events subscriber of
 * sp_tunables.c): reads the files named by the configuration again and builds new contexts.
 * New handshakes use them; a live connection keeps the context it was accepted with (an SSL
 * holds a reference on its SSL_CTX), so no flow is closed. When the new files do not load,
 * the contexts in force stay, the error (naming the key and the file) is logged and counted
 * in tls_reload_failed; a success counts in tls_reloads.
 *
 * Everything runs on the event loop. */
#ifndef POPRELAY_SLOWPATH_SP_TLS_H
#define POPRELAY_SLOWPATH_SP_TLS_H

#include <stdint.h>

struct sp_server;

/* Builds s->ssl_srv and s->ssl_cli. 0, -ENOMEM or -EINVAL (logged). */
int sp_tls_open(struct sp_server *s);
/* Every second: rotates the ticket key when its period is over. */
void sp_tls_tick(struct sp_server *s, int64_t now_ms);
/* New contexts from the files; why ("SIGHUP", "poprelayctl") goes into the log line. 0, or
 * -EINVAL/-ENOMEM with the contexts in force unchanged. */
int sp_tls_reload(struct sp_server *s, const char *why);
/* Frees the contexts and wipes the ticket keys. */
void sp_tls_close(struct sp_server *s);

#endif
