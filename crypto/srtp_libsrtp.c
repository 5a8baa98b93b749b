/* crypto/srtp_libsrtp.c — the libsrtp2 backend (the reference): one srtp_t session with one
 * stream per context. The same pre-checks as the ipsecmb backend run first, so both report
 * the same per-packet results. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <srtp2/srtp.h>

#include "crypto/srtp_libsrtp.h"
#include "crypto/srtp_internal.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_status = -1;

static void lib_init(void)
{
	/* A second srtp_init() (the application initialised libsrtp itself) reports a
	 * failure although the library is usable; srtp_create() tells us if it is not. */
	(void)srtp_init();
	init_status = 0;
}

int pr_srtp_libsrtp_policy(enum pr_srtp_profile p, srtp_policy_t *pol)
{
	switch (p) {
	case PR_SRTP_AES128_CM_SHA1_80:
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol->rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol->rtcp);
		return 0;
	case PR_SRTP_AES128_CM_SHA1_32:
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&pol->rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol->rtcp);
		return 0;
	case PR_SRTP_AEAD_AES128_GCM:
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol->rtp);
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol->rtcp);
		return 0;
	}
	return -EINVAL;
}

int pr_srtp_libsrtp_setup(struct pr_srtp_ctx *c, const struct pr_srtp_params *p)
{
	srtp_policy_t pol;
	srtp_master_key_t mk, *mks[1];
	uint8_t keybuf[32] = {0}, mkibuf[4];
	size_t kl = pr_srtp_profile_key_len(p->profile), sl = pr_srtp_profile_salt_len(p->profile);
	srtp_t sess = NULL;
	int rc = 0;

	pthread_once(&init_once, lib_init);
	if (init_status < 0)
		return -ENOTSUP;
	if (p->any_ssrc && p->initial_roc)
		return -ENOTSUP; /* libsrtp sets a ROC per known SSRC only */
	memset(&pol, 0, sizeof(pol));
	if (pr_srtp_libsrtp_policy(p->profile, &pol) < 0)
		return -EINVAL;
	if (p->any_ssrc)
		pol.ssrc.type =
		    p->direction == PR_SRTP_SENDER ? ssrc_any_outbound : ssrc_any_inbound;
	else
		pol.ssrc.type = ssrc_specific;
	pol.ssrc.value = p->ssrc;
	memcpy(keybuf, p->master_key, kl);
	memcpy(keybuf + kl, p->master_salt, sl);
	pol.key = keybuf;
	if (p->mki_len) {
		memcpy(mkibuf, c->mki, p->mki_len);
		mk.key = keybuf;
		mk.mki_id = mkibuf;
		mk.mki_size = p->mki_len;
		mks[0] = &mk;
		pol.keys = mks;
		pol.num_master_keys = 1;
		pol.key = NULL;
	}
	pol.window_size = c->window_bits;
	pol.allow_repeat_tx = 1;
	if (srtp_create(&sess, &pol) != srtp_err_status_ok) {
		rc = -EINVAL;
		goto out;
	}
	if (p->initial_roc && srtp_set_stream_roc(sess, p->ssrc, p->initial_roc) != 0) {
		srtp_dealloc(sess);
		rc = -EINVAL;
		goto out;
	}
	(*pr_ctx_libsrtp(c)) = sess;
out:
	pr_srtp_wipe(keybuf, sizeof(keybuf));
	return rc;
}

void pr_srtp_libsrtp_free(struct pr_srtp_ctx *c)
{
	if ((*pr_ctx_libsrtp(c)))
		srtp_dealloc((*pr_ctx_libsrtp(c))); /* libsrtp zeroes its own key material */
	(*pr_ctx_libsrtp(c)) = NULL;
}

static uint8_t map(srtp_err_status_t st)
{
	switch (st) {
	case srtp_err_status_ok:
		return PR_SRTP_OK;
	case srtp_err_status_auth_fail:
		return PR_SRTP_ERR_AUTH;
	case srtp_err_status_replay_fail:
	case srtp_err_status_replay_old:
		return PR_SRTP_ERR_REPLAY;
	case srtp_err_status_no_ctx:
		return PR_SRTP_ERR_SSRC;
	case srtp_err_status_bad_mki:
		return PR_SRTP_ERR_MKI;
	case srtp_err_status_key_expired:
		return PR_SRTP_ERR_KEY_LIMIT;
	case srtp_err_status_parse_err:
	case srtp_err_status_bad_param:
		return PR_SRTP_ERR_TOO_SHORT;
	default:
		return PR_SRTP_ERR_INTERNAL;
	}
}

/* libsrtp's GCM unprotect decrypts in place before it checks the tag: run it on a copy so
 * a failed packet stays as it came. */
static srtp_err_status_t unprotect_copy(struct pr_srtp_ctx *c, struct pr_srtp_pkt *p, int rtcp,
					int *len)
{
	uint8_t stackbuf[2048], *b = stackbuf;
	srtp_err_status_t st;

	if (p->len > sizeof(stackbuf)) {
		b = malloc(p->len);
		if (!b)
			return srtp_err_status_alloc_fail;
	}
	memcpy(b, p->data, p->len);
	*len = p->len;
	st = rtcp ? srtp_unprotect_rtcp_mki((*pr_ctx_libsrtp(c)), b, len, c->mki_len != 0)
		  : srtp_unprotect_mki((*pr_ctx_libsrtp(c)), b, len, c->mki_len != 0);
	if (st == srtp_err_status_ok)
		memcpy(p->data, b, (size_t)*len);
	if (b != stackbuf)
		free(b);
	return st;
}

static uint8_t one_rtp(struct pr_srtp_ctx *c, struct pr_srtp_pkt *p, int protect)
{
	int h, len = p->len;
	srtp_err_status_t st;

	if (!c || c->backend != PR_SRTP_BACKEND_LIBSRTP ||
	    c->direction != (protect ? PR_SRTP_SENDER : PR_SRTP_RECEIVER))
		return PR_SRTP_ERR_UNKNOWN_PROFILE;
	h = pr_rtp_header_len(p->data, p->len);
	if (h < 0)
		return (uint8_t)-h;
	if (!c->any_ssrc && pr_be32(p->data + 8) != c->ssrc)
		return PR_SRTP_ERR_SSRC;
	if (protect) {
		if ((size_t)p->len + pr_srtp_rtp_overhead(c) > p->room)
			return PR_SRTP_ERR_NO_ROOM;
		st = srtp_protect_mki((*pr_ctx_libsrtp(c)), p->data, &len, c->mki_len != 0, 0);
	} else {
		if ((size_t)h + pr_srtp_rtp_overhead(c) > p->len)
			return PR_SRTP_ERR_TOO_SHORT;
		if (c->aead)
			st = unprotect_copy(c, p, 0, &len);
		else
			st = srtp_unprotect_mki((*pr_ctx_libsrtp(c)), p->data, &len,
						c->mki_len != 0);
	}
	if (st == srtp_err_status_ok) {
		uint64_t idx;
		p->len = (uint16_t)len;
		/* keep our own view of the highest index (libsrtp keeps the real state) */
		if (pr_rtp_estimate(&c->rtp, c->initial_roc, pr_be16(p->data + 2), &idx) == 0)
			pr_sender_add(&c->rtp, idx);
	}
	return map(st);
}

unsigned pr_srtp_libsrtp_rtp(struct pr_srtp_ctx *const *ctxs, unsigned stride,
			     struct pr_srtp_pkt *pkts, unsigned n, int protect)
{
	unsigned ok = 0;

	for (unsigned i = 0; i < n; i++) {
		pkts[i].result = one_rtp(ctxs[i * stride], &pkts[i], protect);
		ok += pkts[i].result == PR_SRTP_OK;
	}
	return ok;
}

static uint8_t one_rtcp(struct pr_srtp_ctx *c, struct pr_srtp_pkt *p, int protect)
{
	int len = p->len;
	size_t ei_off;
	uint32_t ei = 0;
	srtp_err_status_t st;

	if (c->direction != (protect ? PR_SRTP_SENDER : PR_SRTP_RECEIVER))
		return PR_SRTP_ERR_UNKNOWN_PROFILE;
	if (p->len < 8)
		return PR_SRTP_ERR_TOO_SHORT;
	if ((p->data[0] >> 6) != 2)
		return PR_SRTP_ERR_BAD_VERSION;
	if (!c->any_ssrc && pr_be32(p->data + 4) != c->ssrc)
		return PR_SRTP_ERR_SSRC;
	if (protect) {
		if ((size_t)p->len + pr_srtcp_overhead(c) > p->room)
			return PR_SRTP_ERR_NO_ROOM;
		st = srtp_protect_rtcp_mki((*pr_ctx_libsrtp(c)), p->data, &len, c->mki_len != 0, 0);
	} else {
		if (8 + pr_srtcp_overhead(c) > p->len)
			return PR_SRTP_ERR_TOO_SHORT;
		/* E|index: after the payload (CM) or after the tag (GCM) */
		ei_off = (size_t)p->len - pr_srtcp_overhead(c) + (c->aead ? 16 : 0);
		ei = pr_be32(p->data + ei_off);
		if (!(ei >> 31)) /* same policy as ipsecmb (libsrtp refuses it only for CM) */
			return PR_SRTP_ERR_UNENCRYPTED;
		if (c->aead)
			st = unprotect_copy(c, p, 1, &len);
		else
			st = srtp_unprotect_rtcp_mki((*pr_ctx_libsrtp(c)), p->data, &len,
						     c->mki_len != 0);
	}
	if (st == srtp_err_status_ok) {
		/* keep our view of the SRTCP index (libsrtp keeps the real state) */
		if (protect)
			ei = pr_be32(p->data + (size_t)len - pr_srtcp_overhead(c) +
				     (c->aead ? 16 : 0));
		pr_sender_add(&c->rtcp, ei & 0x7fffffffu);
		p->len = (uint16_t)len;
	}
	return map(st);
}

unsigned pr_srtp_libsrtp_rtcp(struct pr_srtp_ctx *c, struct pr_srtp_pkt *pkts, unsigned n,
			      int protect)
{
	unsigned ok = 0;

	for (unsigned i = 0; i < n; i++) {
		pkts[i].result = one_rtcp(c, &pkts[i], protect);
		ok += pkts[i].result == PR_SRTP_OK;
	}
	return ok;
}
