/* SPDX-License-Identifier: BSD-3-Clause */
/* ICE-lite on the media anchor's legs (RFC 8445 2.5 lite agent, RFC 7675 consent): the
 * anchor never sends checks; it answers the peer's STUN Binding requests on the leg's
 * anchor port with short-term credentials (RFC 8489 9.1: the key is our ice-pwd itself),
 * and the leg latches to the source of an authenticated nominated check.
 *
 * Pure C (no EAL): media_dp.c runs it on the control lcore for the checks the workers punt;
 * tests/unit/test_media_ice.c and tests/fuzz/fuzz_media_ice.c run it alone. The STUN codec
 * is TURN's (dataplane/turn/stun_msg.h), the HMAC and CRC crypto/stun_auth.h's. */
#ifndef POPRELAY_DP_MEDIA_ICE_H
#define POPRELAY_DP_MEDIA_ICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/turn/stun_msg.h"

/* RFC 8839 5.4: ice-ufrag 4-256 ice-chars, ice-pwd 22-256. */
#define MEDIA_ICE_UFRAG_MIN 4
#define MEDIA_ICE_PWD_MIN   22
#define MEDIA_ICE_TEXT_MAX  256

/* RFC 8445 16.1 / RFC 8445 7.1.3 attributes (comprehension-required below 0x8000). */
#define STUN_A_PRIORITY	       0x0024
#define STUN_A_USE_CANDIDATE   0x0025
#define STUN_A_ICE_CONTROLLED  0x8029
#define STUN_A_ICE_CONTROLLING 0x802A

/* One ICE leg's credentials (control only; pwd is a secret: media_ice_free wipes it).
 * Kept out of line, so a session without ICE does not carry 800 bytes for them. */
struct media_ice {
	uint16_t ufrag_len, pwd_len, remote_len; /* remote_len 0: the peer's not known yet */
	char ufrag[MEDIA_ICE_TEXT_MAX + 1];	 /* ours (the left part of USERNAME) */
	char pwd[MEDIA_ICE_TEXT_MAX + 1];	 /* ours: the MESSAGE-INTEGRITY key */
	char remote[MEDIA_ICE_TEXT_MAX + 1];	 /* the peer's (the right part) */
	/* a DTLS-SRTP leg's handshake (media_sess.c's dtls_build; all 0 on other ICE legs) */
	uint8_t dtls_role;     /* enum pr_dtls_role (common/dtls_chan.h) */
	uint8_t dtls_profiles; /* PR_DTLS_P_* allowed (X_suite pins one) */
	uint8_t dtls_fpr[32];  /* the peer's certificate's sha-256 (X_dtls_fingerprint) */
	uint8_t dtls_lfpr[32]; /* ours the SDP carried (X_dtls_local_fingerprint; 0: current) */
};

/* Is s min..256 ice-chars (ALPHA / DIGIT / "+" / "/", RFC 8839 5.4)? */
bool media_ice_text_valid(const char *s, size_t min);

/* What became of one STUN message that arrived on an ICE leg. */
enum media_ice_verdict {
	MEDIA_ICE_ANSWERED,	 /* a Binding success is in out */
	MEDIA_ICE_ROLE_CONFLICT, /* ICE-CONTROLLED from the peer: a 487 is in out */
	MEDIA_ICE_BAD_INTEGRITY, /* USERNAME ours, MESSAGE-INTEGRITY wrong: nothing to send */
	MEDIA_ICE_UNKNOWN_UFRAG, /* USERNAME not <our ufrag>:<the peer's>: nothing to send */
	MEDIA_ICE_MALFORMED,	 /* not a Binding request with USERNAME, MESSAGE-INTEGRITY and
				  * a right FINGERPRINT, or a comprehension-required attribute
				  * ICE does not define: nothing to send */
	MEDIA_ICE_NOT_REQUEST,	 /* a Binding indication (keepalive, RFC 8445 11) or a
				  * response: nothing to send */
	MEDIA_ICE_VERDICTS
};

struct media_ice_answer {
	uint16_t len;  /* bytes of out to send back to the source (0: none) */
	bool nominate; /* an authenticated USE-CANDIDATE: latch the leg to the source */
};

/* Judges the STUN message req (len bytes) that came from src to a leg with credentials ice
 * and, for ANSWERED and ROLE_CONFLICT, writes the answer (XOR-MAPPED-ADDRESS for a success,
 * ERROR-CODE for 487; MESSAGE-INTEGRITY with our pwd, FINGERPRINT) into out (cap bytes; 128
 * is enough). Requests without integrity are dropped rather than answered 400/401: an answer
 * to an unauthenticated source would reflect toward a forged address and tell a prober which
 * ufrag exists; the peer's check just times out, as for a lost packet. */
enum media_ice_verdict media_ice_check(const struct media_ice *ice, const uint8_t *req, size_t len,
				       const struct pr_taddr *src, uint8_t *out, size_t cap,
				       struct media_ice_answer *ans);

/* A copy of credentials, validated: 0, or -1 (ufrag), -2 (pwd), -3 (remote ufrag) for the
 * one that is not 4/22..256 ice-chars; remote may be "" (not known yet). */
int media_ice_set(struct media_ice *ice, const char *ufrag, const char *pwd, const char *remote);

/* Wipes (the pwd) and frees; NULL is fine. */
void media_ice_free(struct media_ice *ice);

#endif
