/* crypto/srtp_internal.h — context layout shared by the SRTP engine files and white-box
 * tests. Not part of the public API. */
#ifndef PR_CRYPTO_SRTP_INTERNAL_H
#define PR_CRYPTO_SRTP_INTERNAL_H

#include <stdint.h>

#include "crypto/srtp.h"

struct pr_srtp_profile_info {
	const char *name;
	uint8_t key_len, salt_len, rtp_tag_len, rtcp_tag_len, aead;
};
const struct pr_srtp_profile_info *pr_srtp_profile_info(int p);

/* Session keys for one of RTP or RTCP (RFC 3711 4.3 output). */
struct pr_srtp_session_keys {
	uint8_t enc_key[16];
	uint8_t auth_key[20]; /* unused for GCM */
	uint8_t salt[14];     /* 12 used for GCM */
};

/* Replay window: a circular bitmap over the last `bits` indices, bit (index % bits) set
 * when that index was accepted. `hi` is the highest accepted index. */
struct pr_srtp_replay {
	uint64_t hi;
	uint8_t started;
};

struct pr_srtp_backend_ops;

/* One direction of one SSRC. Written only by the thread that runs its bursts (hot part)
 * and by create/destroy. */
struct pr_srtp_ctx {
	/* hot, read-mostly */
	uint8_t profile;
	uint8_t backend;
	uint8_t direction;
	uint8_t any_ssrc;
	uint8_t mki_len;
	uint8_t rtp_tag_len;
	uint8_t rtcp_tag_len;
	uint8_t aead;
	uint32_t ssrc;
	uint8_t mki[4]; /* wire bytes, mki_len of them */
	uint32_t window_bits;
	/* state: RTP index (ROC << 16 | SEQ) and SRTCP index */
	struct pr_srtp_replay rtp, rtcp;
	uint32_t rtcp_next; /* sender: next SRTCP index */
	uint32_t initial_roc;
	uint64_t *rtp_win, *rtcp_win; /* window_bits / 64 words each, inside this allocation */
	void *be_rtp, *be_rtcp;       /* backend key schedules, inside this allocation */
	void *libsrtp;                /* libsrtp backend: srtp_t */
	size_t alloc_size;
};

/* RFC 3711 4.3 key derivation with kdr 0: fills keys for RTP (labels 0,1,2) or RTCP (3,4,5). */
int pr_srtp_kdf(const uint8_t *master_key, const uint8_t *master_salt, size_t salt_len,
		int rtcp, struct pr_srtp_session_keys *out);

/* Test hook: a context built from session keys directly (skipping the KDF), for the
 * published vectors that give session keys (RFC 7714 section 16). ipsecmb backend only. */
int pr_srtp_ctx_create_session(const struct pr_srtp_params *p,
			       const struct pr_srtp_session_keys *rtp,
			       const struct pr_srtp_session_keys *rtcp, struct pr_srtp_ctx **out);

void pr_srtp_wipe(void *p, size_t n);

#endif
