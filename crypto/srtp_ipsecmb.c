/* crypto/srtp_ipsecmb.c — the intel-ipsec-mb backend: SRTP/SRTCP with AES-128-CTR +
 * HMAC-SHA1 (one chained job per packet) and AES-128-GCM (RFC 7714).
 *
 * A burst is handled in chunks of CHUNK packets: every packet is checked (header, SSRC,
 * MKI, index estimate, replay) and its job submitted, the job manager is flushed once, and
 * then, in array order, each result is committed (tag check, replay window update).
 * Notes on intel-ipsec-mb 1.3: HMAC-SHA1 refuses a 10-byte tag, so we ask for 12 and
 * truncate; the SRTP MAC covers packet || ROC, so the ROC is written into the tailroom
 * (where the trailer goes) and the hash length is len + 4.
 * A packet that fails after its job ran (tag mismatch, replay within the same burst) is
 * put back as it came: its payload is encrypted again (CTR and GCM are their own
 * inverse for this) and the trailer bytes the job overwrote are restored.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <intel-ipsec-mb.h>

#include "crypto/srtp_internal.h"
#include "crypto/stun_auth.h"

#define CHUNK 64

struct cm_keys {
	uint8_t enc[16 * 11] __attribute__((aligned(16))); /* CTR needs no decryption keys */
	uint8_t ipad[32] __attribute__((aligned(16)));
	uint8_t opad[32] __attribute__((aligned(16)));
	uint8_t salt[16];
};

struct gcm_keys {
	struct gcm_key_data k; /* 64-byte aligned */
	uint8_t salt[16];
};

enum slot_state { S_IDLE = 0, S_SUBMITTED, S_DONE, S_FAILED, S_RESTORE };

/* What one packet's job needs, kept for the commit step and for a restore. */
struct slot {
	uint8_t iv[16] __attribute__((aligned(16)));
	uint8_t tag[16];   /* computed tag (12 of 20 bytes for HMAC-SHA1) */
	uint8_t saved[32]; /* bytes at data + save_off the job overwrote */
	uint8_t aad[16];   /* SRTCP GCM: header || E|index */
	const void *keys;
	uint8_t *data;
	const uint8_t *aad_ptr;
	uint64_t index;
	uint16_t c_off, c_len; /* cipher range */
	uint16_t h_len;	       /* CM: hash 0..h_len; GCM: aad_len */
	uint16_t save_off;
	uint16_t end; /* protect: where the trailer starts; unprotect: the new len */
	uint8_t saved_len;
	uint8_t state;
	uint8_t aead;
	uint8_t tag_len;  /* bytes of tag compared / written */
	uint16_t tag_off; /* unprotect: offset of the received tag in the packet */
};

struct tls {
	IMB_MGR *mgr;
	IMB_ARCH arch;
	struct slot slots[CHUNK];
};

static __thread struct tls *tls;

static struct tls *get_tls(void)
{
	struct tls *t = tls;

	if (t)
		return t;
	t = aligned_alloc(64, (sizeof(*t) + 63) & ~(size_t)63);
	if (!t)
		return NULL;
	memset(t, 0, sizeof(*t));
	t->mgr = alloc_mb_mgr(0);
	if (!t->mgr) {
		free(t);
		return NULL;
	}
	init_mb_mgr_auto(t->mgr, &t->arch);
	if (imb_get_errno(t->mgr) != 0) {
		free_mb_mgr(t->mgr);
		free(t);
		return NULL;
	}
	tls = t;
	return t;
}

int pr_srtp_thread_init(void)
{
	return get_tls() ? 0 : -ENOMEM;
}

void pr_srtp_thread_fini(void)
{
	struct tls *t = tls;

	if (!t)
		return;
	tls = NULL;
	free_mb_mgr(t->mgr);
	pr_srtp_wipe(t, sizeof(*t));
	free(t);
}

const char *pr_srtp_ipsecmb_arch(void)
{
	struct tls *t = get_tls();

	if (!t)
		return "unavailable";
	switch (t->arch) {
	case IMB_ARCH_AVX512:
		return "avx512";
	case IMB_ARCH_AVX2:
		return "avx2";
	case IMB_ARCH_AVX:
		return "avx";
	case IMB_ARCH_SSE:
		return "sse";
	case IMB_ARCH_NOAESNI:
		return "noaesni";
	default:
		return "unknown";
	}
}

size_t pr_srtp_ipsecmb_keys_size(int aead)
{
	size_t s = aead ? sizeof(struct gcm_keys) : sizeof(struct cm_keys);
	return (s + 63) & ~(size_t)63;
}

static void setup_cm(IMB_MGR *m, struct cm_keys *k, const struct pr_srtp_session_keys *s)
{
	uint8_t block[64], dec[16 * 11] __attribute__((aligned(16)));

	IMB_AES_KEYEXP_128(m, s->enc_key, k->enc, dec);
	pr_srtp_wipe(dec, sizeof(dec));
	memset(block, 0x36, sizeof(block));
	for (int i = 0; i < 20; i++)
		block[i] ^= s->auth_key[i];
	IMB_SHA1_ONE_BLOCK(m, block, k->ipad);
	memset(block, 0x5c, sizeof(block));
	for (int i = 0; i < 20; i++)
		block[i] ^= s->auth_key[i];
	IMB_SHA1_ONE_BLOCK(m, block, k->opad);
	pr_srtp_wipe(block, sizeof(block));
	memcpy(k->salt, s->salt, 14);
}

static void setup_gcm(IMB_MGR *m, struct gcm_keys *k, const struct pr_srtp_session_keys *s)
{
	IMB_AES128_GCM_PRE(m, s->enc_key, &k->k);
	memcpy(k->salt, s->salt, 12);
}

int pr_srtp_ipsecmb_setup(struct pr_srtp_ctx *c, const struct pr_srtp_session_keys *rtp,
			  const struct pr_srtp_session_keys *rtcp)
{
	struct tls *t = get_tls();

	if (!t)
		return -ENOTSUP;
	if (c->aead) {
		setup_gcm(t->mgr, pr_ctx_keys(c, 0), rtp);
		setup_gcm(t->mgr, pr_ctx_keys(c, 1), rtcp);
	} else {
		setup_cm(t->mgr, pr_ctx_keys(c, 0), rtp);
		setup_cm(t->mgr, pr_ctx_keys(c, 1), rtcp);
	}
	return 0;
}

static const uint8_t *keys_salt(const void *keys, int aead)
{
	return aead ? ((const struct gcm_keys *)keys)->salt : ((const struct cm_keys *)keys)->salt;
}

static inline uint64_t ld_be64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return __builtin_bswap64(v);
}

static inline void st_be64(uint8_t *p, uint64_t v)
{
	v = __builtin_bswap64(v);
	memcpy(p, &v, 8);
}

/* AES-CM IV (RFC 3711 4.1.1): (salt * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16); salt
 * points to 16 bytes, the 14-byte salt and two zero bytes. */
static void iv_cm(struct slot *s, const uint8_t *salt, uint32_t ssrc, uint64_t index)
{
	st_be64(s->iv, ld_be64(salt) ^ ssrc);
	st_be64(s->iv + 8, ld_be64(salt + 8) ^ (index << 16));
}

/* GCM IV (RFC 7714 8.1 / 9.1): (00 00 || SSRC || ROC || SEQ) XOR salt; for SRTCP
 * (00 00 || SSRC || 00 00 || 0 || index31) XOR salt. Both are "SSRC then 48-bit index". */
static void iv_gcm(struct slot *s, const uint8_t *salt, uint32_t ssrc, uint64_t index48)
{
	st_be64(s->iv, ld_be64(salt) ^ ((uint64_t)ssrc << 16) ^ (index48 >> 32));
	pr_put_be32(s->iv + 8, pr_be32(salt + 8) ^ (uint32_t)index48);
}

static void fill_job(IMB_JOB *j, struct slot *s, int encrypt, int with_hash)
{
	j->src = s->data;
	j->dst = s->data + s->c_off;
	j->cipher_start_src_offset_in_bytes = s->c_off;
	j->msg_len_to_cipher_in_bytes = s->c_len;
	j->iv = s->iv;
	j->key_len_in_bytes = 16;
	j->cipher_direction = encrypt ? IMB_DIR_ENCRYPT : IMB_DIR_DECRYPT;
	j->chain_order = encrypt ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
	j->auth_tag_output = s->tag;
	j->user_data = s;
	if (s->aead) {
		const struct gcm_keys *k = s->keys;
		j->cipher_mode = IMB_CIPHER_GCM;
		j->hash_alg = IMB_AUTH_AES_GMAC;
		j->enc_keys = &k->k;
		j->dec_keys = &k->k;
		j->iv_len_in_bytes = 12;
		j->hash_start_src_offset_in_bytes = s->c_off;
		j->msg_len_to_hash_in_bytes = s->c_len;
		j->u.GCM.aad = s->aad_ptr;
		j->u.GCM.aad_len_in_bytes = s->h_len;
		j->auth_tag_output_len_in_bytes = 16;
		return;
	}
	const struct cm_keys *k = s->keys;
	j->cipher_mode = s->c_len ? IMB_CIPHER_CNTR : IMB_CIPHER_NULL;
	j->enc_keys = k->enc;
	j->dec_keys = k->enc;
	j->iv_len_in_bytes = 16;
	if (with_hash) {
		j->hash_alg = IMB_AUTH_HMAC_SHA_1;
		j->hash_start_src_offset_in_bytes = 0;
		j->msg_len_to_hash_in_bytes = s->h_len;
		j->u.HMAC._hashed_auth_key_xor_ipad = k->ipad;
		j->u.HMAC._hashed_auth_key_xor_opad = k->opad;
		j->auth_tag_output_len_in_bytes = 12; /* 1.3 refuses 10: ask 12, truncate */
	} else {
		j->hash_alg = IMB_AUTH_NULL;
		j->msg_len_to_hash_in_bytes = 0;
		j->auth_tag_output_len_in_bytes = 0;
		j->auth_tag_output = NULL;
	}
}

static void collect(IMB_JOB *j)
{
	while (j) {
		struct slot *s = j->user_data;
		s->state = j->status == IMB_STATUS_COMPLETED ? S_DONE : S_FAILED;
		j = NULL;
	}
}

static void submit(IMB_MGR *m, struct slot *s, int encrypt)
{
	IMB_JOB *j = IMB_GET_NEXT_JOB(m);

	fill_job(j, s, encrypt, 1);
	s->state = S_SUBMITTED;
	j = IMB_SUBMIT_JOB(m);
	while (j) {
		collect(j);
		j = IMB_GET_COMPLETED_JOB(m);
	}
}

static void flush(IMB_MGR *m)
{
	IMB_JOB *j;

	while ((j = IMB_FLUSH_JOB(m)) != NULL)
		collect(j);
}

/* Puts a packet back as it came in: cipher range encrypted again (when the decrypting job
 * ran), then the trailer bytes the job overwrote. */
static void restore(IMB_MGR *m, struct slot *s, int recrypt)
{
	if (recrypt && (s->c_len || s->aead)) {
		uint8_t tag[16];
		IMB_JOB *j = IMB_GET_NEXT_JOB(m);
		fill_job(j, s, 1, s->aead);
		if (s->aead)
			j->auth_tag_output = tag;
		j->user_data = NULL;
		/* the manager is empty here (flushed): this job comes back from the submit
		 * or from the first flush */
		(void)IMB_SUBMIT_JOB(m);
		while (IMB_FLUSH_JOB(m) != NULL)
			;
	}
	if (s->saved_len)
		memcpy(s->data + s->save_off, s->saved, s->saved_len);
}

/* Many contexts in one burst (each packet its own): start the loads of every context, then
 * of every packet's lines (the jobs read them in order, one miss after the other, when
 * another core or the NIC wrote them), then, the contexts having arrived meanwhile, of each
 * one's replay window and key schedule, so that the misses overlap instead of serialising
 * behind each submit. */
static void prefetch_ctxs(struct pr_srtp_ctx *const *ctxs, const struct pr_srtp_pkt *pkts,
			  unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (ctxs[i])
			__builtin_prefetch(ctxs[i]);
	for (unsigned i = 0; i < n; i++) {
		uintptr_t a = (uintptr_t)pkts[i].data & ~(uintptr_t)63,
			  end = (uintptr_t)pkts[i].data + pkts[i].len;
		for (; a < end; a += 64)
			__builtin_prefetch((const void *)a);
	}
	for (unsigned i = 0; i < n; i++) {
		const struct pr_srtp_ctx *c = ctxs[i];
		const uint8_t *k;
		if (!c || c->backend != PR_SRTP_BACKEND_IPSECMB)
			continue;
		k = pr_ctx_keys(c, 0);
		if (c->direction == PR_SRTP_RECEIVER)
			__builtin_prefetch(pr_ctx_rtp_win(c));
		/* GCM: round keys (240 B) and the GHASH keys the SSE/AVX code reads (256 B), and
		 * the salt; CM: round keys (176 B), ipad, opad, salt */
		for (unsigned o = 0; o < (c->aead ? 512u : 256u); o += 64)
			__builtin_prefetch(k + o);
		if (c->aead)
			__builtin_prefetch(keys_salt(k, 1));
	}
}

static int ctx_usable(const struct pr_srtp_ctx *c, int protect)
{
	return c && c->backend == PR_SRTP_BACKEND_IPSECMB &&
	       c->direction == (protect ? PR_SRTP_SENDER : PR_SRTP_RECEIVER);
}

/* ---------------------------------------------------------------- SRTP */

static int rtp_prepare(struct pr_srtp_ctx *c, struct pr_srtp_pkt *p, struct slot *s, int protect)
{
	uint8_t *d = p->data;
	unsigned len = p->len, trailer;
	int h = pr_rtp_header_len(d, len);
	uint32_t ssrc;
	uint64_t idx;

	if (h < 0)
		return -h;
	ssrc = pr_be32(d + 8);
	if (!c->any_ssrc && ssrc != c->ssrc)
		return PR_SRTP_ERR_SSRC;
	trailer = (unsigned)c->rtp_tag_len + c->mki_len;
	s->data = d;
	s->keys = pr_ctx_keys(c, 0);
	s->aead = c->aead;
	s->c_off = (uint16_t)h;
	s->tag_len = c->rtp_tag_len;
	s->saved_len = 0;
	if (protect) {
		if (len + trailer > p->room)
			return PR_SRTP_ERR_NO_ROOM;
		if (pr_rtp_estimate(&c->rtp, c->initial_roc, pr_be16(d + 2), &idx) < 0)
			return PR_SRTP_ERR_REPLAY; /* from before index 0 (reordered at the start)
						    */
		if (idx >> 48)
			return PR_SRTP_ERR_KEY_LIMIT;
		s->c_len = (uint16_t)(len - (unsigned)h);
		s->end = (uint16_t)len;
	} else {
		const uint8_t *mki;
		if ((unsigned)h + trailer > len)
			return PR_SRTP_ERR_TOO_SHORT;
		s->c_len = (uint16_t)(len - trailer - (unsigned)h);
		s->end = (uint16_t)(len - trailer);
		/* CM: payload | MKI | tag; GCM (RFC 7714): payload | tag | MKI */
		mki = c->aead ? d + len - c->mki_len : d + s->end;
		s->tag_off = c->aead ? s->end : (uint16_t)(s->end + c->mki_len);
		if (c->mki_len && memcmp(mki, c->mki, c->mki_len) != 0)
			return PR_SRTP_ERR_MKI;
		if (pr_rtp_estimate(&c->rtp, c->initial_roc, pr_be16(d + 2), &idx) < 0 ||
		    pr_replay_check(&c->rtp, pr_ctx_rtp_win(c), c->window_bits, idx) < 0)
			return PR_SRTP_ERR_REPLAY;
		if (idx >> 48) /* past ROC 2^32 - 1: the sender must have rekeyed */
			return PR_SRTP_ERR_KEY_LIMIT;
	}
	s->index = idx;
	if (c->aead) {
		iv_gcm(s, keys_salt(s->keys, 1), ssrc, idx);
		s->aad_ptr = d;
		s->h_len = (uint16_t)h;
	} else {
		iv_cm(s, keys_salt(s->keys, 0), ssrc, idx);
		s->h_len = (uint16_t)(s->end + 4);
		s->save_off = s->end;
		if (!protect) {
			/* the received trailer is saved; the ROC overwrites its first 4 bytes */
			s->saved_len = (uint8_t)trailer;
			memcpy(s->saved, d + s->end, trailer);
		}
		pr_put_be32(d + s->end, (uint32_t)(idx >> 16));
	}
	return PR_SRTP_OK;
}

static unsigned rtp_chunk(struct tls *t, struct pr_srtp_ctx *const *ctxs, unsigned stride,
			  struct pr_srtp_pkt *pkts, unsigned n, int protect)
{
	IMB_MGR *m = t->mgr;
	unsigned ok = 0, restores = 0;

	if (stride)
		prefetch_ctxs(ctxs, pkts, n);
	for (unsigned i = 0; i < n; i++) {
		struct pr_srtp_ctx *c = ctxs[i * stride];
		struct slot *s = &t->slots[i];
		s->state = S_IDLE;
		if (!ctx_usable(c, protect)) {
			pkts[i].result = PR_SRTP_ERR_UNKNOWN_PROFILE;
			continue;
		}
		pkts[i].result = (uint8_t)rtp_prepare(c, &pkts[i], s, protect);
		if (pkts[i].result == PR_SRTP_OK)
			submit(m, s, protect);
	}
	flush(m);
	for (unsigned i = 0; i < n; i++) {
		struct pr_srtp_ctx *c = ctxs[i * stride];
		struct slot *s = &t->slots[i];
		struct pr_srtp_pkt *p = &pkts[i];
		if (s->state == S_IDLE)
			continue;
		if (s->state != S_DONE) {
			p->result = PR_SRTP_ERR_INTERNAL;
			if (!protect && s->saved_len)
				memcpy(s->data + s->save_off, s->saved, s->saved_len);
			continue;
		}
		if (protect) {
			uint8_t *e = p->data + s->end;
			if (c->aead) {
				memcpy(e, s->tag, 16);
				memcpy(e + 16, c->mki, c->mki_len);
			} else {
				memcpy(e, c->mki, c->mki_len);
				memcpy(e + c->mki_len, s->tag, c->rtp_tag_len);
			}
			p->len = (uint16_t)(s->end + c->rtp_tag_len + c->mki_len);
			pr_sender_add(&c->rtp, s->index);
			ok++;
			continue;
		}
		const uint8_t *rtag =
		    s->aead ? p->data + s->tag_off : s->saved + c->mki_len; /* CM: saved trailer */
		if (pr_ct_memcmp(s->tag, rtag, s->tag_len) != 0) {
			p->result = PR_SRTP_ERR_AUTH;
		} else if (pr_replay_check(&c->rtp, pr_ctx_rtp_win(c), c->window_bits, s->index) <
			   0) {
			p->result = PR_SRTP_ERR_REPLAY; /* a duplicate earlier in this burst */
		} else {
			pr_replay_add(&c->rtp, pr_ctx_rtp_win(c), c->window_bits, s->index);
			p->len = s->end;
			ok++;
			continue;
		}
		s->state = S_RESTORE;
		restores++;
	}
	for (unsigned i = 0; restores && i < n; i++) {
		struct slot *s = &t->slots[i];
		if (s->state == S_RESTORE) {
			restore(m, s, 1);
			restores--;
		}
	}
	return ok;
}

unsigned pr_srtp_ipsecmb_rtp(struct pr_srtp_ctx *const *ctxs, unsigned stride,
			     struct pr_srtp_pkt *pkts, unsigned n, int protect)
{
	struct tls *t = get_tls();
	unsigned ok = 0;

	if (!t) {
		for (unsigned i = 0; i < n; i++)
			pkts[i].result = PR_SRTP_ERR_INTERNAL;
		return 0;
	}
	for (unsigned off = 0; off < n; off += CHUNK) {
		unsigned k = n - off < CHUNK ? n - off : CHUNK;
		ok += rtp_chunk(t, ctxs + (size_t)off * stride, stride, pkts + off, k, protect);
	}
	return ok;
}

/* ---------------------------------------------------------------- SRTCP */

/* Layouts (RFC 3711 3.4, RFC 7714 9):
 *   CM:  header(8) | payload (enc if E) | E|index | MKI | tag(10)
 *   GCM: header(8) | payload (enc if E) | tag(16) | E|index | MKI */
static int rtcp_prepare(struct pr_srtp_ctx *c, struct pr_srtp_pkt *p, struct slot *s, int protect)
{
	uint8_t *d = p->data;
	unsigned len = p->len, trailer = 4u + c->mki_len + c->rtcp_tag_len;
	uint32_t ssrc, ei, index;
	int enc;

	if (len < 8)
		return PR_SRTP_ERR_TOO_SHORT;
	if ((d[0] >> 6) != 2)
		return PR_SRTP_ERR_BAD_VERSION;
	ssrc = pr_be32(d + 4);
	if (!c->any_ssrc && ssrc != c->ssrc)
		return PR_SRTP_ERR_SSRC;
	s->data = d;
	s->keys = pr_ctx_keys(c, 1);
	s->aead = c->aead;
	s->c_off = 8;
	s->tag_len = c->rtcp_tag_len;
	s->saved_len = 0;
	if (protect) {
		if (len + trailer > p->room)
			return PR_SRTP_ERR_NO_ROOM;
		if (c->rtcp_next >= 0x80000000u)
			return PR_SRTP_ERR_KEY_LIMIT;
		index = c->rtcp_next++;
		ei = 0x80000000u | index;
		enc = 1;
		s->end = (uint16_t)len;
		s->c_len = (uint16_t)(len - 8);
	} else {
		unsigned ei_off;
		if (8 + trailer > len)
			return PR_SRTP_ERR_TOO_SHORT;
		s->end = (uint16_t)(len - trailer); /* end of the payload */
		ei_off = c->aead ? s->end + 16u : s->end;
		ei = pr_be32(d + ei_off);
		if (c->mki_len && memcmp(d + ei_off + 4, c->mki, c->mki_len) != 0)
			return PR_SRTP_ERR_MKI;
		s->tag_off = c->aead ? s->end : (uint16_t)(s->end + 4 + c->mki_len);
		index = ei & 0x7fffffffu;
		enc = ei >> 31;
		if (!enc && !c->allow_unenc)
			return PR_SRTP_ERR_UNENCRYPTED;
		if (pr_replay_check(&c->rtcp, pr_ctx_rtcp_win(c), c->window_bits, index) < 0)
			return PR_SRTP_ERR_REPLAY;
		s->c_len = enc ? (uint16_t)(s->end - 8) : 0;
	}
	s->index = index;
	if (c->aead) {
		iv_gcm(s, keys_salt(s->keys, 1), ssrc, index);
		if (enc) {
			memcpy(s->aad, d, 8);
			pr_put_be32(s->aad + 8, ei);
			s->aad_ptr = s->aad;
			s->h_len = 12;
		} else {
			/* E = 0: all of header || payload || E|index is AAD; make it contiguous
			 * by writing E|index over the tag for the job's time */
			s->save_off = s->end;
			s->saved_len = 4;
			memcpy(s->saved, d + s->end, 4);
			pr_put_be32(d + s->end, ei);
			s->aad_ptr = d;
			s->h_len = (uint16_t)(s->end + 4);
		}
	} else {
		iv_cm(s, keys_salt(s->keys, 0), ssrc, index);
		/* hashed: header | payload | E|index — already contiguous on receive */
		s->h_len = (uint16_t)(s->end + 4);
		if (protect)
			pr_put_be32(d + s->end, ei);
	}
	return PR_SRTP_OK;
}

static unsigned rtcp_chunk(struct tls *t, struct pr_srtp_ctx *c, struct pr_srtp_pkt *pkts,
			   unsigned n, int protect)
{
	IMB_MGR *m = t->mgr;
	unsigned ok = 0;

	for (unsigned i = 0; i < n; i++) {
		struct slot *s = &t->slots[i];
		s->state = S_IDLE;
		pkts[i].result = (uint8_t)rtcp_prepare(c, &pkts[i], s, protect);
		if (pkts[i].result == PR_SRTP_OK)
			submit(m, s, protect);
	}
	flush(m);
	for (unsigned i = 0; i < n; i++) {
		struct slot *s = &t->slots[i];
		struct pr_srtp_pkt *p = &pkts[i];
		uint8_t tagbuf[16];
		if (s->state == S_IDLE)
			continue;
		if (s->state != S_DONE) {
			p->result = PR_SRTP_ERR_INTERNAL;
			if (s->saved_len)
				memcpy(s->data + s->save_off, s->saved, s->saved_len);
			continue;
		}
		if (protect) {
			uint8_t *e = p->data + s->end;
			if (c->aead) {
				memcpy(e, s->tag, 16);
				pr_put_be32(e + 16, 0x80000000u | (uint32_t)s->index);
				memcpy(e + 20, c->mki, c->mki_len);
			} else {
				/* E|index already at e */
				memcpy(e + 4, c->mki, c->mki_len);
				memcpy(e + 4 + c->mki_len, s->tag, 10);
			}
			p->len = (uint16_t)(s->end + 4 + c->mki_len + c->rtcp_tag_len);
			pr_sender_add(&c->rtcp, s->index);
			ok++;
			continue;
		}
		/* GCM with E = 0 had its tag's first 4 bytes borrowed: compare with the copy */
		memcpy(tagbuf, p->data + s->tag_off, s->tag_len);
		if (s->saved_len)
			memcpy(tagbuf, s->saved, s->saved_len);
		if (pr_ct_memcmp(s->tag, tagbuf, s->tag_len) == 0 &&
		    pr_replay_check(&c->rtcp, pr_ctx_rtcp_win(c), c->window_bits, s->index) == 0) {
			pr_replay_add(&c->rtcp, pr_ctx_rtcp_win(c), c->window_bits, s->index);
			p->len = s->end;
			ok++;
			continue;
		}
		p->result = pr_ct_memcmp(s->tag, tagbuf, s->tag_len) ? PR_SRTP_ERR_AUTH
								     : PR_SRTP_ERR_REPLAY;
		restore(m, s, 1);
	}
	return ok;
}

unsigned pr_srtp_ipsecmb_rtcp(struct pr_srtp_ctx *c, struct pr_srtp_pkt *pkts, unsigned n,
			      int protect)
{
	struct tls *t = get_tls();
	unsigned ok = 0;

	if (!t || !ctx_usable(c, protect)) {
		for (unsigned i = 0; i < n; i++)
			pkts[i].result = t ? PR_SRTP_ERR_UNKNOWN_PROFILE : PR_SRTP_ERR_INTERNAL;
		return 0;
	}
	for (unsigned off = 0; off < n; off += CHUNK) {
		unsigned k = n - off < CHUNK ? n - off : CHUNK;
		ok += rtcp_chunk(t, c, pkts + off, k, protect);
	}
	return ok;
}
