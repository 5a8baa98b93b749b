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
 * and by create/destroy. One cache line; in the same allocation, from offset 64: a
 * receiver's replay windows (RTP's, then RTCP's, window_bits each; senders have none), then
 * at off_keys the backend's RTP key schedule and, key_size further, RTCP's (ipsecmb), or
 * the srtp_t (libsrtp). */
struct pr_srtp_ctx {
	uint8_t profile;
	uint8_t backend;
	uint8_t direction;
	uint8_t any_ssrc;
	uint8_t mki_len;
	uint8_t rtp_tag_len;
	uint8_t rtcp_tag_len;
	uint8_t aead;
	uint8_t allow_unenc; /* accept SRTCP with E = 0 */
	uint8_t pad_;
	uint16_t window_bits;
	uint16_t off_keys, key_size;
	uint32_t ssrc;
	uint8_t mki[4];	    /* wire bytes, mki_len of them */
	uint32_t rtcp_next; /* sender: next SRTCP index */
	uint32_t initial_roc;
	/* state: RTP index (ROC << 16 | SEQ) and SRTCP index */
	struct pr_srtp_replay rtp, rtcp;
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct pr_srtp_ctx) == 64, "a context's header is one line");

static inline uint64_t *pr_ctx_rtp_win(const struct pr_srtp_ctx *c)
{
	return (uint64_t *)(uintptr_t)(c + 1);
}

static inline uint64_t *pr_ctx_rtcp_win(const struct pr_srtp_ctx *c)
{
	return pr_ctx_rtp_win(c) + c->window_bits / 64;
}

/* The backend's key schedule for RTP (rtcp 0) or RTCP. */
static inline void *pr_ctx_keys(const struct pr_srtp_ctx *c, int rtcp)
{
	return (uint8_t *)(uintptr_t)c + c->off_keys + (rtcp ? c->key_size : 0);
}

static inline void **pr_ctx_libsrtp(const struct pr_srtp_ctx *c)
{
	return (void **)pr_ctx_keys(c, 0);
}

static inline size_t pr_ctx_alloc_size(const struct pr_srtp_ctx *c)
{
	return ((size_t)c->off_keys + 2u * c->key_size + 63) & ~(size_t)63;
}

/* RFC 3711 4.3 key derivation with kdr 0: fills keys for RTP (labels 0,1,2) or RTCP (3,4,5). */
int pr_srtp_kdf(const uint8_t *master_key, const uint8_t *master_salt, size_t salt_len, int rtcp,
		struct pr_srtp_session_keys *out);

/* Test hook: a context built from session keys directly (skipping the KDF), for the
 * published vectors that give session keys (RFC 7714 section 16). ipsecmb backend only. */
int pr_srtp_ctx_create_session(const struct pr_srtp_params *p,
			       const struct pr_srtp_session_keys *rtp,
			       const struct pr_srtp_session_keys *rtcp, struct pr_srtp_ctx **out);

void pr_srtp_wipe(void *p, size_t n);

/* ---- shared by the backends ---- */
#include <string.h>

static inline uint16_t pr_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t pr_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void pr_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* RTP header length (12 + CSRCs + extension) or a negative pr_srtp_result. */
static inline int pr_rtp_header_len(const uint8_t *d, unsigned len)
{
	unsigned h;

	if (len < 12)
		return -PR_SRTP_ERR_TOO_SHORT;
	if ((d[0] >> 6) != 2)
		return -PR_SRTP_ERR_BAD_VERSION;
	h = 12 + 4u * (d[0] & 0x0f);
	if (d[0] & 0x10) {
		if (h + 4 > len)
			return -PR_SRTP_ERR_TOO_SHORT;
		h += 4 + 4u * pr_be16(d + h + 2);
	}
	if (h > len)
		return -PR_SRTP_ERR_TOO_SHORT;
	return (int)h;
}

/* RFC 3711 3.3.1 / appendix A: the index of a packet with sequence number seq, guessed
 * from the highest index so far. 0, or -1 when the guess is below zero (too old). */
static inline int pr_rtp_estimate(const struct pr_srtp_replay *r, uint32_t initial_roc,
				  uint16_t seq, uint64_t *idx)
{
	int64_t roc, v;
	int sl;

	if (!r->started) {
		*idx = (uint64_t)initial_roc << 16 | seq;
		return 0;
	}
	roc = (int64_t)(r->hi >> 16);
	sl = (int)(r->hi & 0xffff);
	v = roc;
	if (sl < 32768) {
		if ((int)seq - sl > 32768)
			v = roc - 1;
	} else if (sl - 32768 > (int)seq) {
		v = roc + 1;
	}
	if (v < 0)
		return -1;
	*idx = (uint64_t)v << 16 | seq;
	return 0;
}

/* 0 when idx may be accepted, -1 when it is a replay or older than the window. */
static inline int pr_replay_check(const struct pr_srtp_replay *r, const uint64_t *win,
				  uint32_t bits, uint64_t idx)
{
	uint64_t b;

	if (!r->started || idx > r->hi)
		return 0;
	if (r->hi - idx >= bits)
		return -1;
	b = idx & (bits - 1);
	return (win[b >> 6] >> (b & 63)) & 1 ? -1 : 0;
}

static inline void pr_replay_add(struct pr_srtp_replay *r, uint64_t *win, uint32_t bits,
				 uint64_t idx)
{
	uint64_t b;

	if (!r->started || idx > r->hi) {
		if (!r->started || idx - r->hi >= bits) {
			memset(win, 0, bits / 8);
		} else {
			for (uint64_t k = r->hi + 1; k < idx; k++) {
				b = k & (bits - 1);
				win[b >> 6] &= ~(1ull << (b & 63));
			}
		}
		r->hi = idx;
		r->started = 1;
		b = idx & (bits - 1);
		win[b >> 6] = (win[b >> 6] & ~(1ull << (b & 63))) | (1ull << (b & 63));
		return;
	}
	b = idx & (bits - 1);
	win[b >> 6] |= 1ull << (b & 63);
}

/* Sender side: the highest index sent moves forward only. */
static inline void pr_sender_add(struct pr_srtp_replay *r, uint64_t idx)
{
	if (!r->started || idx > r->hi) {
		r->hi = idx;
		r->started = 1;
	}
}

/* backends */
size_t pr_srtp_ipsecmb_keys_size(int aead);
int pr_srtp_ipsecmb_setup(struct pr_srtp_ctx *c, const struct pr_srtp_session_keys *rtp,
			  const struct pr_srtp_session_keys *rtcp);
unsigned pr_srtp_ipsecmb_rtp(struct pr_srtp_ctx *const *ctxs, unsigned stride,
			     struct pr_srtp_pkt *pkts, unsigned n, int protect);
unsigned pr_srtp_ipsecmb_rtcp(struct pr_srtp_ctx *c, struct pr_srtp_pkt *pkts, unsigned n,
			      int protect);

int pr_srtp_libsrtp_setup(struct pr_srtp_ctx *c, const struct pr_srtp_params *p);
void pr_srtp_libsrtp_free(struct pr_srtp_ctx *c);
unsigned pr_srtp_libsrtp_rtp(struct pr_srtp_ctx *const *ctxs, unsigned stride,
			     struct pr_srtp_pkt *pkts, unsigned n, int protect);
unsigned pr_srtp_libsrtp_rtcp(struct pr_srtp_ctx *c, struct pr_srtp_pkt *pkts, unsigned n,
			      int protect);

#endif
