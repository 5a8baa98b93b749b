/* crypto/srtp.h — SRTP/SRTCP engine (RFC 3711, RFC 7714) with a burst API.
 *
 * One context per direction (sender or receiver) per SSRC. Contexts are cheap to create
 * and destroy; key material is wiped on destroy. The core does not depend on DPDK: the
 * dataplane hands arrays of struct pr_srtp_pkt that point into its mbufs.
 *
 * Threading: a context has exactly one writer. Protect/unprotect of one context must
 * happen on one thread at a time (RSS pins a direction to one worker). Create/destroy may
 * happen on any thread. Each thread that runs bursts keeps its own crypto job manager
 * (allocated on first use, or explicitly with pr_srtp_thread_init()).
 */
#ifndef PR_CRYPTO_SRTP_H
#define PR_CRYPTO_SRTP_H

#include <stddef.h>
#include <stdint.h>

enum pr_srtp_profile {
	PR_SRTP_AES128_CM_SHA1_80 = 1,
	PR_SRTP_AES128_CM_SHA1_32 = 2,
	PR_SRTP_AEAD_AES128_GCM = 3,
};

/* "AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", "AEAD_AES_128_GCM" (RFC 4568 /
 * RFC 7714 names); NULL for an unknown profile. */
const char *pr_srtp_profile_name(enum pr_srtp_profile p);
/* profile or -EINVAL (exact, case-sensitive suite names as in SDP) */
int pr_srtp_profile_from_name(const char *name);
size_t pr_srtp_profile_key_len(enum pr_srtp_profile p);	     /* 16; 0 if unknown */
size_t pr_srtp_profile_salt_len(enum pr_srtp_profile p);     /* 14, or 12 for GCM; 0 if unknown */
size_t pr_srtp_profile_rtp_tag_len(enum pr_srtp_profile p);  /* 10, 4, 16 */
size_t pr_srtp_profile_rtcp_tag_len(enum pr_srtp_profile p); /* 10, 10, 16 */

#define PR_SRTP_MAX_KEY_LEN  16
#define PR_SRTP_MAX_SALT_LEN 14
#define PR_SRTP_MAX_MKI_LEN  4
/* The most a protect adds to a packet: SRTCP E|index (4) + MKI (4) + GCM tag (16). Protect
 * also needs 4 bytes of scratch after the payload, always covered by the trailer. */
#define PR_SRTP_MAX_TRAILER 24

/* Per-packet result of a burst call. A packet whose result is not PR_SRTP_OK is left
 * byte-for-byte as it was handed in (never half-decrypted), with its len unchanged. */
enum pr_srtp_result {
	PR_SRTP_OK = 0,
	PR_SRTP_ERR_AUTH,	     /* authentication tag mismatch */
	PR_SRTP_ERR_REPLAY,	     /* index already seen, or older than the window */
	PR_SRTP_ERR_TOO_SHORT,	     /* shorter than header (+ CSRCs, extension) + trailer */
	PR_SRTP_ERR_BAD_VERSION,     /* RTP/RTCP version is not 2 */
	PR_SRTP_ERR_UNKNOWN_PROFILE, /* NULL context or a profile this build cannot run */
	PR_SRTP_ERR_NO_ROOM,	     /* protect: room < len + overhead */
	PR_SRTP_ERR_SSRC,	     /* SSRC differs from the context's */
	PR_SRTP_ERR_MKI,	     /* MKI in the packet differs from the context's */
	PR_SRTP_ERR_KEY_LIMIT,	     /* sender: index space exhausted, rekey needed */
	PR_SRTP_ERR_INTERNAL,	     /* crypto library failure (job manager) */
	PR_SRTP_ERR_UNENCRYPTED,     /* SRTCP with the E bit clear, not allowed by the context */
	PR_SRTP_RESULT_COUNT
};
/* "ok", "auth_fail", "replay", "too_short", "bad_version", "unknown_profile", "no_room",
 * "wrong_ssrc", "bad_mki", "key_limit", "internal", "unencrypted" — stable names for drop counters.
 */
const char *pr_srtp_result_name(enum pr_srtp_result r);

enum pr_srtp_backend {
	PR_SRTP_BACKEND_DEFAULT = 0, /* the process default (ipsecmb unless changed) */
	PR_SRTP_BACKEND_IPSECMB = 1, /* intel-ipsec-mb job API: the fast path */
	PR_SRTP_BACKEND_LIBSRTP = 2, /* libsrtp2: the reference */
};
const char *pr_srtp_backend_name(enum pr_srtp_backend b); /* "ipsecmb", "libsrtp" */
int pr_srtp_backend_from_name(const char *name);	  /* backend or -EINVAL */
/* Sets what PR_SRTP_BACKEND_DEFAULT means for contexts created afterwards. 0 or -EINVAL. */
int pr_srtp_set_default_backend(enum pr_srtp_backend b);
enum pr_srtp_backend pr_srtp_default_backend(void);

enum pr_srtp_direction {
	PR_SRTP_SENDER = 1,   /* protect (and SRTCP protect) */
	PR_SRTP_RECEIVER = 2, /* unprotect (and SRTCP unprotect) */
};

#define PR_SRTP_WINDOW_DEFAULT 128
#define PR_SRTP_WINDOW_MAX     1024

struct pr_srtp_params {
	enum pr_srtp_profile profile;
	enum pr_srtp_backend backend; /* 0 = default */
	enum pr_srtp_direction direction;
	uint32_t ssrc;		      /* the SSRC this context serves ... */
	int any_ssrc;		      /* ... unless non-zero: then no SSRC check */
	const uint8_t *master_key;    /* pr_srtp_profile_key_len() bytes */
	const uint8_t *master_salt;   /* pr_srtp_profile_salt_len() bytes */
	unsigned replay_window;	      /* receiver: 0 = 128; 128, 256, 512 or 1024 */
	uint32_t mki;		      /* Master Key Identifier, big-endian on the wire */
	unsigned mki_len;	      /* 0 = no MKI, else 1..4 bytes */
	uint32_t initial_roc;	      /* rollover counter to start from (usually 0) */
	uint32_t initial_srtcp_index; /* sender: first SRTCP index (0..2^31-1; ipsecmb only) */
	int allow_unencrypted_srtcp;  /* receiver: accept SRTCP with E = 0 (ipsecmb only); off by
				       * default: SDES here never negotiates UNENCRYPTED_SRTCP */
	/* Restore after a restart (ipsecmb only): when non-zero, the context starts where a
	 * previous one stood (pr_srtp_ctx_rtp_index / pr_srtcp_ctx_index; -1 for "none").
	 * Receiver: every index up to it counts as seen, so a packet captured before the
	 * restart is refused, and the rollover counter follows from it. Sender: the next
	 * packets continue after it. initial_roc and initial_srtcp_index are then ignored. */
	int restore;
	int64_t restore_rtp_index;
	int64_t restore_srtcp_index;
};

struct pr_srtp_ctx;

/* Where contexts live: aligned_alloc and free unless set. A DPDK process gives its hugepage
 * heap (thousands of contexts on 4 KiB pages are a TLB miss a packet); alloc(align, size)
 * returns memory or NULL. Set it once, before the first context exists. */
void pr_srtp_set_allocator(void *(*alloc)(size_t align, size_t size), void (*release)(void *p));

/* Derives the session keys (RFC 3711 4.3, key derivation rate 0) for SRTP and SRTCP and
 * precomputes the backend's key schedules. 0, or -EINVAL (bad params), -ENOTSUP (backend
 * unavailable), -ENOMEM. */
int pr_srtp_ctx_create(const struct pr_srtp_params *p, struct pr_srtp_ctx **out);
/* Wipes the key material and frees. NULL is fine. */
void pr_srtp_ctx_destroy(struct pr_srtp_ctx *ctx);

enum pr_srtp_profile pr_srtp_ctx_profile(const struct pr_srtp_ctx *ctx);
enum pr_srtp_backend pr_srtp_ctx_backend(const struct pr_srtp_ctx *ctx);
/* Bytes the context holds (its allocation: state, window, key schedules; a libsrtp
 * context's own session is not counted). 0 for NULL. */
size_t pr_srtp_ctx_size(const struct pr_srtp_ctx *ctx);
/* Bytes protect adds to an RTP / RTCP packet: tag + MKI (+ 4 for the SRTCP index). */
size_t pr_srtp_rtp_overhead(const struct pr_srtp_ctx *ctx);
size_t pr_srtcp_overhead(const struct pr_srtp_ctx *ctx);
/* Highest RTP index (ROC << 16 | SEQ) sent (sender) or accepted (receiver) so far; -1
 * before the first packet. After a dataplane restart, recreate the context with
 * initial_roc = index >> 16 (else a stream past its first wrap fails authentication). */
int64_t pr_srtp_ctx_rtp_index(const struct pr_srtp_ctx *ctx);
/* Highest SRTCP index sent or accepted; -1 before the first. A recreated sender starts at
 * initial_srtcp_index = this + 1, or the far end's replay window refuses its SRTCP. */
int64_t pr_srtcp_ctx_index(const struct pr_srtp_ctx *ctx);

/* A packet handed to a burst call: protected/unprotected in place. */
struct pr_srtp_pkt {
	uint8_t *data;	/* first byte of the RTP or RTCP header */
	uint16_t len;	/* in: packet bytes; out (when OK): bytes after the operation */
	uint16_t room;	/* bytes writable from data on (len + tailroom) */
	uint8_t result; /* out: enum pr_srtp_result */
};

/* Burst calls: every packet gets its own result; the return value is how many are
 * PR_SRTP_OK. n may be any size. Packets of one context are processed in array order
 * (the replay window and the ROC follow that order). */
unsigned pr_srtp_protect_burst(struct pr_srtp_ctx *ctx, struct pr_srtp_pkt *pkts, unsigned n);
unsigned pr_srtp_unprotect_burst(struct pr_srtp_ctx *ctx, struct pr_srtp_pkt *pkts, unsigned n);
unsigned pr_srtcp_protect_burst(struct pr_srtp_ctx *ctx, struct pr_srtp_pkt *pkts, unsigned n);
unsigned pr_srtcp_unprotect_burst(struct pr_srtp_ctx *ctx, struct pr_srtp_pkt *pkts, unsigned n);

/* The same with one context per packet (ctxs[i] for pkts[i]; the same context may appear
 * several times; a NULL context gives PR_SRTP_ERR_UNKNOWN_PROFILE). All the contexts of one
 * call must be on the same backend as ctxs[0] or they get PR_SRTP_ERR_UNKNOWN_PROFILE. */
unsigned pr_srtp_protect_burst_multi(struct pr_srtp_ctx *const *ctxs, struct pr_srtp_pkt *pkts,
				     unsigned n);
unsigned pr_srtp_unprotect_burst_multi(struct pr_srtp_ctx *const *ctxs, struct pr_srtp_pkt *pkts,
				       unsigned n);

/* Optional: allocate this thread's job manager now rather than on the first burst
 * (call it from a worker's init). 0 or -ENOMEM. pr_srtp_thread_fini() frees it. */
int pr_srtp_thread_init(void);
void pr_srtp_thread_fini(void);

/* Which intel-ipsec-mb code path this machine uses ("avx512", "avx2", "avx", "sse"). */
const char *pr_srtp_ipsecmb_arch(void);

#endif
