/* crypto/srtp_ctx.c — SRTP context life cycle, key derivation (RFC 3711 4.3) and the burst
 * entry points that dispatch to a backend. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "crypto/srtp_internal.h"

void pr_srtp_wipe(void *p, size_t n)
{
	if (!p)
		return;
	memset(p, 0, n);
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

/* AES-CM PRF: out = first n bytes of the AES-CTR keystream under master_key with
 * IV = (master_salt XOR (label << 48)) * 2^16 (RFC 3711 4.3.1, 4.3.3, r = 0). */
static int prf(EVP_CIPHER_CTX *c, const uint8_t *master_key, const uint8_t *salt14, uint8_t label,
	       uint8_t *out, size_t n)
{
	uint8_t iv[16] = {0};
	static const uint8_t zeros[32];
	int ol, rc = 0;

	memcpy(iv, salt14, 14);
	iv[7] ^= label;
	if (EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, master_key, iv) != 1 ||
	    EVP_EncryptUpdate(c, out, &ol, zeros, (int)n) != 1 || (size_t)ol != n)
		rc = -EIO;
	pr_srtp_wipe(iv, sizeof(iv));
	return rc;
}

int pr_srtp_kdf(const uint8_t *master_key, const uint8_t *master_salt, size_t salt_len, int rtcp,
		struct pr_srtp_session_keys *out)
{
	uint8_t salt14[14] = {0}; /* a 12-byte (GCM) master salt is padded with zeros */
	uint8_t base = rtcp ? 3 : 0;
	EVP_CIPHER_CTX *c;
	int rc;

	if (salt_len != 14 && salt_len != 12)
		return -EINVAL;
	c = EVP_CIPHER_CTX_new();
	if (!c)
		return -ENOMEM;
	memcpy(salt14, master_salt, salt_len);
	memset(out, 0, sizeof(*out));
	rc = prf(c, master_key, salt14, base + 0, out->enc_key, 16);
	if (!rc)
		rc = prf(c, master_key, salt14, base + 1, out->auth_key, 20);
	if (!rc)
		rc = prf(c, master_key, salt14, base + 2, out->salt, salt_len);
	EVP_CIPHER_CTX_free(c); /* clears its key schedule */
	pr_srtp_wipe(salt14, sizeof(salt14));
	if (rc)
		pr_srtp_wipe(out, sizeof(*out));
	return rc;
}

static size_t align64(size_t v)
{
	return (v + 63) & ~(size_t)63;
}

static int check_params(const struct pr_srtp_params *p, enum pr_srtp_backend *be, unsigned *window)
{
	if (!p || !pr_srtp_profile_info(p->profile) || !p->master_key || !p->master_salt)
		return -EINVAL;
	if (p->direction != PR_SRTP_SENDER && p->direction != PR_SRTP_RECEIVER)
		return -EINVAL;
	if (p->initial_srtcp_index >= 0x80000000u)
		return -EINVAL;
	if (p->restore && (p->restore_rtp_index < -1 || p->restore_rtp_index >= (int64_t)1 << 48 ||
			   p->restore_srtcp_index < -1 || p->restore_srtcp_index >= 0x7fffffff))
		return -EINVAL;
	if (p->mki_len > 4 || (p->mki_len && p->mki_len < 4 && p->mki >> (8 * p->mki_len)))
		return -EINVAL;
	*window = p->replay_window ? p->replay_window : PR_SRTP_WINDOW_DEFAULT;
	if (*window < PR_SRTP_WINDOW_DEFAULT || *window > PR_SRTP_WINDOW_MAX ||
	    (*window & (*window - 1)))
		return -EINVAL;
	*be = p->backend == PR_SRTP_BACKEND_DEFAULT ? pr_srtp_default_backend() : p->backend;
	if (*be != PR_SRTP_BACKEND_IPSECMB && *be != PR_SRTP_BACKEND_LIBSRTP)
		return -EINVAL;
	return 0;
}

static void *default_alloc(size_t align, size_t size)
{
	return aligned_alloc(align, size);
}

static void *(*ctx_mem_alloc)(size_t, size_t) = default_alloc;
static void (*ctx_mem_free)(void *) = free;

void pr_srtp_set_allocator(void *(*alloc)(size_t align, size_t size), void (*release)(void *p))
{
	ctx_mem_alloc = alloc ? alloc : default_alloc;
	ctx_mem_free = release ? release : free;
}

static struct pr_srtp_ctx *ctx_alloc(const struct pr_srtp_params *p, enum pr_srtp_backend be,
				     unsigned window)
{
	const struct pr_srtp_profile_info *pi = pr_srtp_profile_info(p->profile);
	size_t words = p->direction == PR_SRTP_RECEIVER ? window / 64 : 0; /* senders: none */
	size_t off_win = sizeof(struct pr_srtp_ctx);
	size_t off_keys = align64(off_win + 2 * words * 8);
	/* libsrtp: one line holding the srtp_t */
	size_t ksz = be == PR_SRTP_BACKEND_IPSECMB ? pr_srtp_ipsecmb_keys_size(pi->aead) : 32;
	size_t total = align64(off_keys + 2 * ksz);
	struct pr_srtp_ctx *c = ctx_mem_alloc(64, total);

	if (!c)
		return NULL;
	memset(c, 0, total);
	c->off_keys = (uint16_t)off_keys;
	c->key_size = (uint16_t)ksz;
	c->profile = (uint8_t)p->profile;
	c->backend = (uint8_t)be;
	c->direction = (uint8_t)p->direction;
	c->any_ssrc = p->any_ssrc != 0;
	c->allow_unenc = p->allow_unencrypted_srtcp != 0;
	c->ssrc = p->ssrc;
	c->mki_len = (uint8_t)p->mki_len;
	for (unsigned i = 0; i < p->mki_len; i++)
		c->mki[i] = (uint8_t)(p->mki >> (8 * (p->mki_len - 1 - i)));
	c->rtp_tag_len = pi->rtp_tag_len;
	c->rtcp_tag_len = pi->rtcp_tag_len;
	c->aead = pi->aead;
	c->window_bits = (uint16_t)window;
	c->initial_roc = p->initial_roc;
	c->rtcp_next = p->initial_srtcp_index;
	if (p->restore) {
		/* as if every index up to the restored one had been seen */
		if (p->restore_rtp_index >= 0) {
			c->rtp.hi = (uint64_t)p->restore_rtp_index;
			c->rtp.started = 1;
			c->initial_roc = (uint32_t)(c->rtp.hi >> 16);
			memset(pr_ctx_rtp_win(c), 0xff, words * 8);
		} else {
			c->initial_roc = 0;
		}
		if (p->restore_srtcp_index >= 0) {
			c->rtcp.hi = (uint64_t)p->restore_srtcp_index;
			c->rtcp.started = 1;
			memset(pr_ctx_rtcp_win(c), 0xff, words * 8);
		}
		c->rtcp_next = (uint32_t)(p->restore_srtcp_index + 1);
	}
	return c;
}

static int create(const struct pr_srtp_params *p, const struct pr_srtp_session_keys *rtp_in,
		  const struct pr_srtp_session_keys *rtcp_in, struct pr_srtp_ctx **out)
{
	struct pr_srtp_session_keys rtp, rtcp;
	enum pr_srtp_backend be;
	unsigned window;
	struct pr_srtp_ctx *c;
	int rc;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if ((rc = check_params(p, &be, &window)) < 0)
		return rc;
	if ((rtp_in || p->allow_unencrypted_srtcp || p->initial_srtcp_index || p->restore) &&
	    be != PR_SRTP_BACKEND_IPSECMB)
		return -ENOTSUP; /* libsrtp has no way to set them */
	c = ctx_alloc(p, be, window);
	if (!c)
		return -ENOMEM;
	if (be == PR_SRTP_BACKEND_LIBSRTP) {
		rc = pr_srtp_libsrtp_setup(c, p);
	} else {
		size_t sl = pr_srtp_profile_salt_len(p->profile);
		if (rtp_in) {
			rtp = *rtp_in;
			rtcp = *rtcp_in;
		} else {
			rc = pr_srtp_kdf(p->master_key, p->master_salt, sl, 0, &rtp);
			if (!rc)
				rc = pr_srtp_kdf(p->master_key, p->master_salt, sl, 1, &rtcp);
			if (rc)
				goto fail;
		}
		rc = pr_srtp_ipsecmb_setup(c, &rtp, &rtcp);
		pr_srtp_wipe(&rtp, sizeof(rtp));
		pr_srtp_wipe(&rtcp, sizeof(rtcp));
	}
	if (rc)
		goto fail;
	*out = c;
	return 0;
fail:
	pr_srtp_wipe(c, pr_ctx_alloc_size(c));
	ctx_mem_free(c);
	return rc;
}

int pr_srtp_ctx_create(const struct pr_srtp_params *p, struct pr_srtp_ctx **out)
{
	return create(p, NULL, NULL, out);
}

int pr_srtp_ctx_create_session(const struct pr_srtp_params *p,
			       const struct pr_srtp_session_keys *rtp,
			       const struct pr_srtp_session_keys *rtcp, struct pr_srtp_ctx **out)
{
	if (!rtp || !rtcp)
		return -EINVAL;
	return create(p, rtp, rtcp, out);
}

void pr_srtp_ctx_destroy(struct pr_srtp_ctx *c)
{
	if (!c)
		return;
	if (c->backend == PR_SRTP_BACKEND_LIBSRTP)
		pr_srtp_libsrtp_free(c);
	pr_srtp_wipe(c, pr_ctx_alloc_size(c));
	ctx_mem_free(c);
}

enum pr_srtp_profile pr_srtp_ctx_profile(const struct pr_srtp_ctx *c)
{
	return (enum pr_srtp_profile)c->profile;
}

size_t pr_srtp_ctx_size(const struct pr_srtp_ctx *c)
{
	return c ? pr_ctx_alloc_size(c) : 0;
}

enum pr_srtp_backend pr_srtp_ctx_backend(const struct pr_srtp_ctx *c)
{
	return (enum pr_srtp_backend)c->backend;
}

size_t pr_srtp_rtp_overhead(const struct pr_srtp_ctx *c)
{
	return (size_t)c->rtp_tag_len + c->mki_len;
}

size_t pr_srtcp_overhead(const struct pr_srtp_ctx *c)
{
	return (size_t)c->rtcp_tag_len + c->mki_len + 4;
}

int64_t pr_srtp_ctx_rtp_index(const struct pr_srtp_ctx *c)
{
	return c->rtp.started ? (int64_t)c->rtp.hi : -1;
}

int64_t pr_srtcp_ctx_index(const struct pr_srtp_ctx *c)
{
	return c->rtcp.started ? (int64_t)c->rtcp.hi : -1;
}

static void fail_all(struct pr_srtp_pkt *pkts, unsigned n, enum pr_srtp_result r)
{
	for (unsigned i = 0; i < n; i++)
		pkts[i].result = (uint8_t)r;
}

static unsigned rtp_burst(struct pr_srtp_ctx *const *ctxs, unsigned stride,
			  struct pr_srtp_pkt *pkts, unsigned n, int protect)
{
	if (n == 0)
		return 0;
	if (!ctxs) {
		fail_all(pkts, n, PR_SRTP_ERR_UNKNOWN_PROFILE);
		return 0;
	}
	/* the backend of the first non-NULL context runs the burst; the others are refused
	 * per packet by the backend */
	for (unsigned i = 0; i < n; i++) {
		const struct pr_srtp_ctx *c = ctxs[i * stride];
		if (!c)
			continue;
		if (c->backend == PR_SRTP_BACKEND_LIBSRTP)
			return pr_srtp_libsrtp_rtp(ctxs, stride, pkts, n, protect);
		return pr_srtp_ipsecmb_rtp(ctxs, stride, pkts, n, protect);
	}
	fail_all(pkts, n, PR_SRTP_ERR_UNKNOWN_PROFILE);
	return 0;
}

unsigned pr_srtp_protect_burst(struct pr_srtp_ctx *ctx, struct pr_srtp_pkt *pkts, unsigned n)
{
	return rtp_burst(&ctx, 0, pkts, n, 1);
}

unsigned pr_srtp_unprotect_burst(struct pr_srtp_ctx *ctx, struct pr_srtp_pkt *pkts, unsigned n)
{
	return rtp_burst(&ctx, 0, pkts, n, 0);
}

unsigned pr_srtp_protect_burst_multi(struct pr_srtp_ctx *const *ctxs, struct pr_srtp_pkt *pkts,
				     unsigned n)
{
	return rtp_burst(ctxs, 1, pkts, n, 1);
}

unsigned pr_srtp_unprotect_burst_multi(struct pr_srtp_ctx *const *ctxs, struct pr_srtp_pkt *pkts,
				       unsigned n)
{
	return rtp_burst(ctxs, 1, pkts, n, 0);
}

static unsigned rtcp_burst(struct pr_srtp_ctx *c, struct pr_srtp_pkt *pkts, unsigned n, int protect)
{
	if (n == 0)
		return 0;
	if (!c) {
		fail_all(pkts, n, PR_SRTP_ERR_UNKNOWN_PROFILE);
		return 0;
	}
	if (c->backend == PR_SRTP_BACKEND_LIBSRTP)
		return pr_srtp_libsrtp_rtcp(c, pkts, n, protect);
	return pr_srtp_ipsecmb_rtcp(c, pkts, n, protect);
}

unsigned pr_srtcp_protect_burst(struct pr_srtp_ctx *ctx, struct pr_srtp_pkt *pkts, unsigned n)
{
	return rtcp_burst(ctx, pkts, n, 1);
}

unsigned pr_srtcp_unprotect_burst(struct pr_srtp_ctx *ctx, struct pr_srtp_pkt *pkts, unsigned n)
{
	return rtcp_burst(ctx, pkts, n, 0);
}
