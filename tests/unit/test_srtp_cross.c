/* tests/unit/test_srtp_cross.c — our engine against libsrtp2 (as Debian ships it), every
 * profile, both of our backends, both directions:
 *   ours protect -> libsrtp2 unprotect, libsrtp2 protect -> ours unprotect,
 * random payloads 0..1400 bytes, many SSRCs (burst API with one context per packet),
 * sequence wrap across 65535 with ROC increment, reordering inside the window, replays,
 * every single-bit flip, truncation (exact-size heap buffers, so ASan sees any over-read),
 * protect without room; SRTCP likewise. With and without a 4-byte MKI. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <srtp2/srtp.h>

#include "crypto/srtp.h"
#include "crypto/srtp_libsrtp.h"

static const enum pr_srtp_profile profiles[] = {PR_SRTP_AES128_CM_SHA1_80,
						PR_SRTP_AES128_CM_SHA1_32, PR_SRTP_AEAD_AES128_GCM};
static const enum pr_srtp_backend backends[] = {PR_SRTP_BACKEND_IPSECMB, PR_SRTP_BACKEND_LIBSRTP};
static uint8_t MK[16], MS[14];
static uint8_t MKI[4] = {0xde, 0xad, 0xbe, 0xef};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

/* ---- the reference peer: a raw libsrtp2 session ---- */

static srtp_t ref_create(enum pr_srtp_profile prof, int inbound, unsigned mki_len)
{
	srtp_policy_t pol;
	srtp_master_key_t mk, *mks[1];
	uint8_t key[32] = {0};
	size_t sl = pr_srtp_profile_salt_len(prof);
	srtp_t s = NULL;

	memset(&pol, 0, sizeof(pol));
	pr_srtp_libsrtp_policy(prof, &pol);
	pol.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
	memcpy(key, MK, 16);
	memcpy(key + 16, MS, sl);
	pol.key = key;
	if (mki_len) {
		mk.key = key;
		mk.mki_id = MKI;
		mk.mki_size = mki_len;
		mks[0] = &mk;
		pol.keys = mks;
		pol.num_master_keys = 1;
		pol.key = NULL; /* libsrtp takes the MKI path only without a plain key */
	}
	pol.window_size = 1024;
	if (srtp_create(&s, &pol) != srtp_err_status_ok)
		return NULL;
	return s;
}

static struct pr_srtp_ctx *our_create(enum pr_srtp_profile prof, enum pr_srtp_backend be,
				      enum pr_srtp_direction dir, uint32_t ssrc, unsigned mki_len,
				      unsigned window)
{
	struct pr_srtp_params p = {.profile = prof,
				   .backend = be,
				   .direction = dir,
				   .ssrc = ssrc,
				   .master_key = MK,
				   .master_salt = MS,
				   .replay_window = window,
				   .mki_len = mki_len,
				   .mki = mki_len ? 0xdeadbeef >> (8 * (4 - mki_len)) : 0};
	struct pr_srtp_ctx *c = NULL;
	int rc = pr_srtp_ctx_create(&p, &c);

	CU_ASSERT_EQUAL(rc, 0);
	return c;
}

/* An RTP packet: sometimes with CSRCs and a header extension. Returns its length. */
static size_t make_rtp(uint8_t *b, uint32_t ssrc, uint16_t seq, size_t payload)
{
	unsigned cc = rnd() % 4 == 0 ? rnd() % 3 : 0, x = rnd() % 4 == 0;
	size_t h = 12;

	b[0] = (uint8_t)(0x80 | (x ? 0x10 : 0) | cc);
	b[1] = 96 | (rnd() % 2 ? 0x80 : 0);
	b[2] = (uint8_t)(seq >> 8);
	b[3] = (uint8_t)seq;
	for (int i = 0; i < 4; i++)
		b[4 + i] = (uint8_t)rnd();
	b[8] = (uint8_t)(ssrc >> 24);
	b[9] = (uint8_t)(ssrc >> 16);
	b[10] = (uint8_t)(ssrc >> 8);
	b[11] = (uint8_t)ssrc;
	for (unsigned i = 0; i < 4 * cc; i++)
		b[h++] = (uint8_t)rnd();
	if (x) {
		b[h++] = 0xbe;
		b[h++] = 0xde;
		b[h++] = 0;
		b[h++] = 1;
		for (int i = 0; i < 4; i++)
			b[h++] = (uint8_t)rnd();
	}
	for (size_t i = 0; i < payload; i++)
		b[h + i] = (uint8_t)rnd();
	return h + payload;
}

static void pr_put32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

static size_t make_rtcp(uint8_t *b, uint32_t ssrc, size_t extra)
{
	size_t n = 8 + 20 + extra * 4;
	b[0] = 0x80;
	b[1] = 200;
	b[2] = (uint8_t)((n / 4 - 1) >> 8);
	b[3] = (uint8_t)(n / 4 - 1);
	b[4] = (uint8_t)(ssrc >> 24);
	b[5] = (uint8_t)(ssrc >> 16);
	b[6] = (uint8_t)(ssrc >> 8);
	b[7] = (uint8_t)ssrc;
	for (size_t i = 8; i < n; i++)
		b[i] = (uint8_t)rnd();
	return n;
}

#define BUF	1600
#define BURST_T 16
#define NSSRC	24
#define NPKT	600

struct cfg {
	enum pr_srtp_profile prof;
	enum pr_srtp_backend be;
	unsigned mki;
};

static void cfg_name(const struct cfg *c, char *s, size_t n)
{
	snprintf(s, n, "%s/%s/mki%u", pr_srtp_backend_name(c->be), pr_srtp_profile_name(c->prof),
		 c->mki);
}

static unsigned failures_before;
static void report(const struct cfg *c, const char *what)
{
	char n[96];
	if (CU_get_number_of_failures() != failures_before) {
		cfg_name(c, n, sizeof(n));
		fprintf(stderr, "  failures in %s: %s\n", what, n);
		failures_before = CU_get_number_of_failures();
	}
}

#define FOR_EACH_CFG(c)                                                                            \
	for (unsigned _b = 0; _b < 2; _b++)                                                        \
		for (unsigned _p = 0; _p < 3; _p++)                                                \
			for (unsigned _m = 0; _m < 2; _m++)                                        \
				for (struct cfg c = {profiles[_p], backends[_b], _m ? 4u : 0u},    \
						*_once = &c;                                       \
				     _once; _once = NULL)

/* ours protect (bursts over many SSRCs, one context each) -> libsrtp2 unprotect */
static void test_ours_to_ref(void)
{
	FOR_EACH_CFG(c)
	{
		struct pr_srtp_ctx *tx[NSSRC];
		uint16_t seq[NSSRC];
		srtp_t ref = ref_create(c.prof, 1, c.mki);
		CU_ASSERT_PTR_NOT_NULL_FATAL(ref);
		for (int i = 0; i < NSSRC; i++) {
			tx[i] = our_create(c.prof, c.be, PR_SRTP_SENDER, 0x1000 + i, c.mki, 0);
			seq[i] = (uint16_t)(i == 0 ? 65530 : rnd()); /* SSRC 0x1000 wraps */
		}
		for (int sent = 0; sent < NPKT;) {
			unsigned n = 1 + rnd() % 32;
			static uint8_t bufs[32][BUF], plain[32][BUF];
			struct pr_srtp_pkt pk[32];
			struct pr_srtp_ctx *cs[32];
			size_t plen[32];
			for (unsigned k = 0; k < n; k++) {
				int s = (int)(rnd() % NSSRC);
				if (k == 0)
					s = 0;
				plen[k] = make_rtp(plain[k], 0x1000 + s, seq[s]++, rnd() % 1401);
				memcpy(bufs[k], plain[k], plen[k]);
				pk[k] = (struct pr_srtp_pkt){bufs[k], (uint16_t)plen[k], BUF, 0xff};
				cs[k] = tx[s];
			}
			CU_ASSERT_EQUAL(pr_srtp_protect_burst_multi(cs, pk, n), n);
			for (unsigned k = 0; k < n; k++) {
				int len = pk[k].len;
				CU_ASSERT_EQUAL(pk[k].result, PR_SRTP_OK);
				CU_ASSERT_EQUAL((size_t)len, plen[k] + pr_srtp_rtp_overhead(cs[k]));
				CU_ASSERT_EQUAL(srtp_unprotect_mki(ref, bufs[k], &len, c.mki != 0),
						srtp_err_status_ok);
				CU_ASSERT_EQUAL((size_t)len, plen[k]);
				CU_ASSERT_EQUAL(memcmp(bufs[k], plain[k], plen[k]), 0);
			}
			sent += (int)n;
		}
		/* SSRC 0x1000 started at 65530 and sent well past 65535: ROC is 1 */
		CU_ASSERT_EQUAL(pr_srtp_ctx_rtp_index(tx[0]) >> 16, 1);
		for (int i = 0; i < NSSRC; i++)
			pr_srtp_ctx_destroy(tx[i]);
		srtp_dealloc(ref);
		report(&c, "ours->libsrtp2");
	}
}

/* libsrtp2 protect -> ours unprotect (multi-context bursts), with the wrap */
static void test_ref_to_ours(void)
{
	FOR_EACH_CFG(c)
	{
		struct pr_srtp_ctx *rx[NSSRC];
		uint16_t seq[NSSRC];
		srtp_t ref = ref_create(c.prof, 0, c.mki);
		CU_ASSERT_PTR_NOT_NULL_FATAL(ref);
		for (int i = 0; i < NSSRC; i++) {
			rx[i] = our_create(c.prof, c.be, PR_SRTP_RECEIVER, 0x2000 + i, c.mki, 0);
			seq[i] = (uint16_t)(i == 0 ? 65500 : rnd());
		}
		for (int sent = 0; sent < NPKT;) {
			unsigned n = 1 + rnd() % 32;
			static uint8_t bufs[32][BUF], plain[32][BUF];
			struct pr_srtp_pkt pk[32];
			struct pr_srtp_ctx *cs[32];
			size_t plen[32];
			for (unsigned k = 0; k < n; k++) {
				int s = (int)(rnd() % NSSRC), len;
				if (k == 0)
					s = 0;
				plen[k] = make_rtp(plain[k], 0x2000 + s, seq[s]++, rnd() % 1401);
				memcpy(bufs[k], plain[k], plen[k]);
				len = (int)plen[k];
				CU_ASSERT_EQUAL(srtp_protect_mki(ref, bufs[k], &len, c.mki != 0, 0),
						srtp_err_status_ok);
				pk[k] = (struct pr_srtp_pkt){bufs[k], (uint16_t)len, BUF, 0xff};
				cs[k] = rx[s];
			}
			CU_ASSERT_EQUAL(pr_srtp_unprotect_burst_multi(cs, pk, n), n);
			for (unsigned k = 0; k < n; k++) {
				CU_ASSERT_EQUAL(pk[k].result, PR_SRTP_OK);
				CU_ASSERT_EQUAL(pk[k].len, plen[k]);
				CU_ASSERT_EQUAL(memcmp(bufs[k], plain[k], plen[k]), 0);
			}
			sent += (int)n;
		}
		if (c.be == PR_SRTP_BACKEND_IPSECMB)
			CU_ASSERT_EQUAL(pr_srtp_ctx_rtp_index(rx[0]) >> 16, 1);
		for (int i = 0; i < NSSRC; i++)
			pr_srtp_ctx_destroy(rx[i]);
		srtp_dealloc(ref);
		report(&c, "libsrtp2->ours");
	}
}

/* Protect `count` packets with the reference sender for one SSRC from seq0. */
static void ref_stream(srtp_t ref, unsigned mki, uint32_t ssrc, uint16_t seq0, unsigned count,
		       uint8_t (*bufs)[BUF], uint16_t *lens, uint8_t (*plain)[BUF], size_t *plens)
{
	for (unsigned i = 0; i < count; i++) {
		int len;
		plens[i] = make_rtp(plain[i], ssrc, (uint16_t)(seq0 + i), rnd() % 200);
		memcpy(bufs[i], plain[i], plens[i]);
		len = (int)plens[i];
		CU_ASSERT_EQUAL(srtp_protect_mki(ref, bufs[i], &len, mki != 0, 0),
				srtp_err_status_ok);
		lens[i] = (uint16_t)len;
	}
}

/* Reordering inside the window is accepted; replays and too-old packets are not; a replay
 * leaves the packet as it was. Window 128: the sequence crosses 65535 on the way. */
static void test_replay_window(void)
{
	enum { N = 300 };
	static uint8_t bufs[N][BUF], plain[N][BUF], copy[BUF];
	static uint16_t lens[N];
	static size_t plens[N];

	FOR_EACH_CFG(c)
	{
		srtp_t ref = ref_create(c.prof, 0, c.mki);
		struct pr_srtp_ctx *rx =
		    our_create(c.prof, c.be, PR_SRTP_RECEIVER, 0x3000, c.mki, 128);
		unsigned order[N];
		CU_ASSERT_PTR_NOT_NULL_FATAL(ref);
		CU_ASSERT_PTR_NOT_NULL_FATAL(rx);
		ref_stream(ref, c.mki, 0x3000, 65400, N, bufs, lens, plain, plens);
		/* deliver in blocks of 50, each block reversed (distance < 128) */
		for (unsigned i = 0; i < N; i++)
			order[i] = (i / 50) * 50 + (49 - i % 50);
		for (unsigned i = 0; i < N; i += 10) {
			struct pr_srtp_pkt pk[10];
			for (unsigned k = 0; k < 10; k++)
				pk[k] = (struct pr_srtp_pkt){bufs[order[i + k]], lens[order[i + k]],
							     BUF, 0xff};
			CU_ASSERT_EQUAL(pr_srtp_unprotect_burst(rx, pk, 10), 10);
			for (unsigned k = 0; k < 10; k++)
				CU_ASSERT_EQUAL(memcmp(bufs[order[i + k]], plain[order[i + k]],
						       plens[order[i + k]]),
						0);
		}
		/* every packet again: recent ones are replays, old ones are too old */
		srtp_dealloc(ref);
		ref = ref_create(c.prof, 0, c.mki);
		ref_stream(ref, c.mki, 0x3000, 65400, N, bufs, lens, plain, plens);
		for (unsigned i = 0; i < N; i++) {
			struct pr_srtp_pkt pk = {bufs[i], lens[i], BUF, 0xff};
			memcpy(copy, bufs[i], lens[i]);
			CU_ASSERT_EQUAL(pr_srtp_unprotect_burst(rx, &pk, 1), 0);
			CU_ASSERT_EQUAL(pk.result, PR_SRTP_ERR_REPLAY);
			CU_ASSERT_EQUAL(pk.len, lens[i]);
			CU_ASSERT_EQUAL(memcmp(copy, bufs[i], lens[i]), 0);
		}
		/* the same packet twice in one burst: first accepted, second a replay, and
		 * the second comes back exactly as it was */
		{
			ref_stream(ref, c.mki, 0x3000, (uint16_t)(65400 + N), 1, bufs, lens, plain,
				   plens);
			memcpy(bufs[1], bufs[0], lens[0]);
			memcpy(copy, bufs[0], lens[0]);
			struct pr_srtp_pkt pk[2] = {{bufs[0], lens[0], BUF, 0xff},
						    {bufs[1], lens[0], BUF, 0xff}};
			CU_ASSERT_EQUAL(pr_srtp_unprotect_burst(rx, pk, 2), 1);
			CU_ASSERT_EQUAL(pk[0].result, PR_SRTP_OK);
			CU_ASSERT_EQUAL(pk[1].result, PR_SRTP_ERR_REPLAY);
			CU_ASSERT_EQUAL(pk[1].len, lens[0]);
			CU_ASSERT_EQUAL(memcmp(bufs[1], copy, lens[0]), 0);
		}
		pr_srtp_ctx_destroy(rx);
		srtp_dealloc(ref);
		report(&c, "replay window");
	}
}

/* Every single-bit flip anywhere in a protected packet is rejected, the packet is left as
 * it came, and the untouched packet still passes afterwards. */
static void test_bit_flips(void)
{
	static uint8_t buf[BUF], plain[BUF], orig[BUF];

	FOR_EACH_CFG(c)
	{
		srtp_t ref = ref_create(c.prof, 0, c.mki);
		struct pr_srtp_ctx *rx =
		    our_create(c.prof, c.be, PR_SRTP_RECEIVER, 0x4000, c.mki, 0);
		size_t pl;
		int len;
		unsigned bad = 0;
		CU_ASSERT_PTR_NOT_NULL_FATAL(ref);
		CU_ASSERT_PTR_NOT_NULL_FATAL(rx);
		do {
			pl = make_rtp(plain, 0x4000, 7, 24);
		} while (pl != 36); /* plain 12-byte header: every header bit is "real" */
		memcpy(buf, plain, pl);
		len = (int)pl;
		CU_ASSERT_EQUAL(srtp_protect_mki(ref, buf, &len, c.mki != 0, 0),
				srtp_err_status_ok);
		memcpy(orig, buf, (size_t)len);
		for (int bit = 0; bit < len * 8; bit++) {
			struct pr_srtp_pkt pk = {buf, (uint16_t)len, BUF, 0xff};
			memcpy(buf, orig, (size_t)len);
			buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			if (pr_srtp_unprotect_burst(rx, &pk, 1) != 0 || pk.result == PR_SRTP_OK)
				bad++;
			buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			if (pk.len != len || memcmp(buf, orig, (size_t)len) != 0)
				bad++;
		}
		CU_ASSERT_EQUAL(bad, 0);
		{
			struct pr_srtp_pkt pk = {buf, (uint16_t)len, BUF, 0xff};
			memcpy(buf, orig, (size_t)len);
			CU_ASSERT_EQUAL(pr_srtp_unprotect_burst(rx, &pk, 1), 1);
			CU_ASSERT_EQUAL(memcmp(buf, plain, pl), 0);
		}
		pr_srtp_ctx_destroy(rx);
		srtp_dealloc(ref);
		report(&c, "bit flips");
	}
}

/* Truncated packets, each in an exact-size heap buffer, are rejected without reading past
 * it; protect without tailroom is refused without writing past it. */
static void test_truncation(void)
{
	static uint8_t buf[BUF], plain[BUF];

	FOR_EACH_CFG(c)
	{
		srtp_t ref = ref_create(c.prof, 0, c.mki);
		struct pr_srtp_ctx *rx =
		    our_create(c.prof, c.be, PR_SRTP_RECEIVER, 0x5000, c.mki, 0);
		struct pr_srtp_ctx *tx = our_create(c.prof, c.be, PR_SRTP_SENDER, 0x5000, c.mki, 0);
		size_t pl = make_rtp(plain, 0x5000, 9, 40);
		int len = (int)pl;
		unsigned bad = 0;
		memcpy(buf, plain, pl);
		CU_ASSERT_EQUAL(srtp_protect_mki(ref, buf, &len, c.mki != 0, 0),
				srtp_err_status_ok);
		for (int l = 0; l < len; l++) {
			uint8_t *h = malloc(l ? (size_t)l : 1);
			struct pr_srtp_pkt pk = {h, (uint16_t)l, (uint16_t)l, 0xff};
			memcpy(h, buf, (size_t)l);
			if (pr_srtp_unprotect_burst(rx, &pk, 1) != 0 || pk.result == PR_SRTP_OK)
				bad++;
			if (memcmp(h, buf, (size_t)l) != 0)
				bad++;
			free(h);
		}
		CU_ASSERT_EQUAL(bad, 0);
		/* protect: room one byte short of the trailer */
		{
			size_t need = pl + pr_srtp_rtp_overhead(tx);
			uint8_t *h = malloc(need - 1);
			struct pr_srtp_pkt pk = {h, (uint16_t)pl, (uint16_t)(need - 1), 0xff};
			memcpy(h, plain, pl);
			CU_ASSERT_EQUAL(pr_srtp_protect_burst(tx, &pk, 1), 0);
			CU_ASSERT_EQUAL(pk.result, PR_SRTP_ERR_NO_ROOM);
			CU_ASSERT_EQUAL(memcmp(h, plain, pl), 0);
			free(h);
			h = malloc(need);
			pk = (struct pr_srtp_pkt){h, (uint16_t)pl, (uint16_t)need, 0xff};
			memcpy(h, plain, pl);
			CU_ASSERT_EQUAL(pr_srtp_protect_burst(tx, &pk, 1), 1);
			CU_ASSERT_EQUAL(pk.len, need);
			free(h);
		}
		/* the bad-header cases */
		{
			uint8_t h[64];
			struct pr_srtp_pkt pk = {h, 40, 64, 0xff};
			memcpy(h, buf, 40);
			h[0] = (h[0] & 0x3f) | 0x40; /* version 1 */
			pr_srtp_unprotect_burst(rx, &pk, 1);
			CU_ASSERT_EQUAL(pk.result, PR_SRTP_ERR_BAD_VERSION);
			memcpy(h, buf, 40);
			h[11] ^= 1; /* another SSRC */
			pr_srtp_unprotect_burst(rx, &pk, 1);
			CU_ASSERT_EQUAL(pk.result, PR_SRTP_ERR_SSRC);
			pk.len = 11;
			pr_srtp_unprotect_burst(rx, &pk, 1);
			CU_ASSERT_EQUAL(pk.result, PR_SRTP_ERR_TOO_SHORT);
			pr_srtp_unprotect_burst(NULL, &pk, 1);
			CU_ASSERT_EQUAL(pk.result, PR_SRTP_ERR_UNKNOWN_PROFILE);
			pk.len = 40;
			memcpy(h, buf, 40);
			pr_srtp_unprotect_burst(tx, &pk, 1); /* a sender context cannot unprotect */
			CU_ASSERT_EQUAL(pk.result, PR_SRTP_ERR_UNKNOWN_PROFILE);
		}
		pr_srtp_ctx_destroy(rx);
		pr_srtp_ctx_destroy(tx);
		srtp_dealloc(ref);
		report(&c, "truncation");
	}
}

/* SRTCP: both directions, replay, bit flips, truncation. */
static void test_srtcp(void)
{
	static uint8_t buf[BUF], plain[BUF], orig[BUF];

	FOR_EACH_CFG(c)
	{
		srtp_t ref_in = ref_create(c.prof, 1, c.mki),
		       ref_out = ref_create(c.prof, 0, c.mki);
		struct pr_srtp_ctx *tx = our_create(c.prof, c.be, PR_SRTP_SENDER, 0x6000, c.mki, 0);
		struct pr_srtp_ctx *rx =
		    our_create(c.prof, c.be, PR_SRTP_RECEIVER, 0x6000, c.mki, 0);
		unsigned bad = 0;
		/* libsrtp 2.5 bug: srtp_unprotect_rtcp looks for the MKI with the RTP tag
		 * length (4 for SHA1_32, where SRTCP keeps an 80-bit tag) and answers bad_mki,
		 * even to its own srtp_protect_rtcp output (whose layout matches ours: the
		 * libsrtp2 -> ours leg below passes on the ipsecmb backend). So with SHA1_32
		 * and an MKI: no libsrtp unprotect of SRTCP, and our libsrtp backend cannot
		 * receive SRTCP (documented in docs/crypto.md). */
		int libsrtp_rtcp_mki_bug = c.mki && c.prof == PR_SRTP_AES128_CM_SHA1_32;
		if (libsrtp_rtcp_mki_bug && c.be == PR_SRTP_BACKEND_LIBSRTP) {
			srtp_dealloc(ref_in);
			srtp_dealloc(ref_out);
			pr_srtp_ctx_destroy(tx);
			pr_srtp_ctx_destroy(rx);
			continue;
		}
		CU_ASSERT_PTR_NOT_NULL_FATAL(ref_in);
		CU_ASSERT_PTR_NOT_NULL_FATAL(ref_out);
		for (int i = 0; i < 50; i++) {
			size_t pl = make_rtcp(plain, 0x6000, rnd() % 50);
			struct pr_srtp_pkt pk = {buf, (uint16_t)pl, BUF, 0xff};
			int len;
			/* ours -> ref */
			memcpy(buf, plain, pl);
			CU_ASSERT_EQUAL(pr_srtcp_protect_burst(tx, &pk, 1), 1);
			CU_ASSERT_EQUAL(pk.len, pl + pr_srtcp_overhead(tx));
			len = pk.len;
			if (!libsrtp_rtcp_mki_bug) {
				CU_ASSERT_EQUAL(
				    srtp_unprotect_rtcp_mki(ref_in, buf, &len, c.mki != 0),
				    srtp_err_status_ok);
				CU_ASSERT_EQUAL((size_t)len, pl);
				CU_ASSERT_EQUAL(memcmp(buf, plain, pl), 0);
			}
			/* ref -> ours */
			memcpy(buf, plain, pl);
			len = (int)pl;
			CU_ASSERT_EQUAL(srtp_protect_rtcp_mki(ref_out, buf, &len, c.mki != 0, 0),
					srtp_err_status_ok);
			memcpy(orig, buf, (size_t)len);
			pk = (struct pr_srtp_pkt){buf, (uint16_t)len, BUF, 0xff};
			CU_ASSERT_EQUAL(pr_srtcp_unprotect_burst(rx, &pk, 1), 1);
			CU_ASSERT_EQUAL(pk.len, pl);
			CU_ASSERT_EQUAL(memcmp(buf, plain, pl), 0);
			/* replay */
			memcpy(buf, orig, (size_t)len);
			pk = (struct pr_srtp_pkt){buf, (uint16_t)len, BUF, 0xff};
			CU_ASSERT_EQUAL(pr_srtcp_unprotect_burst(rx, &pk, 1), 0);
			CU_ASSERT_EQUAL(pk.result, PR_SRTP_ERR_REPLAY);
			CU_ASSERT_EQUAL(memcmp(buf, orig, (size_t)len), 0);
			if (i != 49)
				continue;
			/* last one: a fresh packet for flips and truncation */
			memcpy(buf, plain, pl);
			len = (int)pl;
			CU_ASSERT_EQUAL(srtp_protect_rtcp_mki(ref_out, buf, &len, c.mki != 0, 0),
					srtp_err_status_ok);
			memcpy(orig, buf, (size_t)len);
			for (int bit = 0; bit < len * 8; bit++) {
				memcpy(buf, orig, (size_t)len);
				buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
				pk = (struct pr_srtp_pkt){buf, (uint16_t)len, BUF, 0xff};
				if (pr_srtcp_unprotect_burst(rx, &pk, 1) != 0)
					bad++;
				buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
				if (memcmp(buf, orig, (size_t)len) != 0)
					bad++;
			}
			for (int l = 0; l < len; l++) {
				uint8_t *h = malloc(l ? (size_t)l : 1);
				memcpy(h, orig, (size_t)l);
				pk = (struct pr_srtp_pkt){h, (uint16_t)l, (uint16_t)l, 0xff};
				if (pr_srtcp_unprotect_burst(rx, &pk, 1) != 0)
					bad++;
				free(h);
			}
			memcpy(buf, orig, (size_t)len);
			pk = (struct pr_srtp_pkt){buf, (uint16_t)len, BUF, 0xff};
			CU_ASSERT_EQUAL(pr_srtcp_unprotect_burst(rx, &pk, 1), 1);
		}
		CU_ASSERT_EQUAL(bad, 0);
		pr_srtp_ctx_destroy(tx);
		pr_srtp_ctx_destroy(rx);
		srtp_dealloc(ref_in);
		srtp_dealloc(ref_out);
		report(&c, "srtcp");
	}
}

/* Context parameters are checked; destroy wipes (white-box: nothing to read after free, so
 * this checks create's refusals and that NULL is fine). */
static void test_params(void)
{
	struct pr_srtp_params p = {.profile = PR_SRTP_AES128_CM_SHA1_80,
				   .direction = PR_SRTP_SENDER,
				   .master_key = MK,
				   .master_salt = MS};
	struct pr_srtp_ctx *c = NULL;

	CU_ASSERT_EQUAL(pr_srtp_ctx_create(&p, &c), 0);
	CU_ASSERT_EQUAL(pr_srtp_ctx_backend(c), PR_SRTP_BACKEND_IPSECMB);
	CU_ASSERT_EQUAL(pr_srtp_ctx_profile(c), PR_SRTP_AES128_CM_SHA1_80);
	CU_ASSERT_EQUAL(pr_srtp_ctx_rtp_index(c), -1);
	pr_srtp_ctx_destroy(c);
	pr_srtp_ctx_destroy(NULL);
	p.replay_window = 100;
	CU_ASSERT_EQUAL(pr_srtp_ctx_create(&p, &c), -EINVAL);
	p.replay_window = 64; /* the issue asks for at least 128 */
	CU_ASSERT_EQUAL(pr_srtp_ctx_create(&p, &c), -EINVAL);
	CU_ASSERT_PTR_NULL(c);
	p.replay_window = 2048;
	CU_ASSERT_EQUAL(pr_srtp_ctx_create(&p, &c), -EINVAL);
	p.replay_window = 1024;
	p.profile = (enum pr_srtp_profile)9;
	CU_ASSERT_EQUAL(pr_srtp_ctx_create(&p, &c), -EINVAL);
	p.profile = PR_SRTP_AES128_CM_SHA1_80;
	p.mki_len = 5;
	CU_ASSERT_EQUAL(pr_srtp_ctx_create(&p, &c), -EINVAL);
	p.mki_len = 1;
	p.mki = 256;
	CU_ASSERT_EQUAL(pr_srtp_ctx_create(&p, &c), -EINVAL);
	p.mki = 0;
	p.direction = (enum pr_srtp_direction)0;
	CU_ASSERT_EQUAL(pr_srtp_ctx_create(&p, &c), -EINVAL);
	CU_ASSERT_EQUAL(pr_srtp_ctx_create(NULL, &c), -EINVAL);
	p.direction = PR_SRTP_RECEIVER;
	CU_ASSERT_EQUAL(pr_srtp_ctx_create(&p, &c), 0);
	CU_ASSERT_EQUAL(pr_srtp_rtp_overhead(c), 11);
	CU_ASSERT_EQUAL(pr_srtcp_overhead(c), 15);
	pr_srtp_ctx_destroy(c);
	/* the default backend switch */
	CU_ASSERT_EQUAL(pr_srtp_set_default_backend(PR_SRTP_BACKEND_LIBSRTP), 0);
	CU_ASSERT_EQUAL(pr_srtp_ctx_create(&p, &c), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(pr_srtp_ctx_backend(c), PR_SRTP_BACKEND_LIBSRTP);
	pr_srtp_ctx_destroy(c);
	CU_ASSERT_EQUAL(pr_srtp_set_default_backend(PR_SRTP_BACKEND_IPSECMB), 0);
	CU_ASSERT_STRING_NOT_EQUAL(pr_srtp_ipsecmb_arch(), "unavailable");
}

/* SRTCP with the E bit clear (authenticated, not encrypted), from libsrtp2 with an
 * authentication-only RTCP policy: refused (`unencrypted`, untouched) by default on both
 * backends; with allow_unencrypted_srtcp (ipsecmb only) accepted and left as plaintext,
 * and a flipped bit still refused (GCM: the whole packet is AAD, made contiguous for the
 * job by borrowing the tag's bytes). */
static void test_srtcp_unencrypted(void)
{
	static uint8_t buf[BUF], plain[BUF], orig[BUF];

	FOR_EACH_CFG(c)
	{
		srtp_policy_t pol;
		uint8_t key[32] = {0};
		srtp_t ref = NULL;
		struct pr_srtp_params p = {.profile = c.prof,
					   .backend = c.be,
					   .direction = PR_SRTP_RECEIVER,
					   .ssrc = 0x9000,
					   .master_key = MK,
					   .master_salt = MS,
					   .allow_unencrypted_srtcp = 1};
		struct pr_srtp_ctx *strict =
		    our_create(c.prof, c.be, PR_SRTP_RECEIVER, 0x9000, 0, 0);
		struct pr_srtp_ctx *rx = NULL;
		int allowed = c.be == PR_SRTP_BACKEND_IPSECMB;

		CU_ASSERT_EQUAL(pr_srtp_ctx_create(&p, &rx), allowed ? 0 : -ENOTSUP);
		if (c.mki) { /* MKI is covered elsewhere; one pass per profile and backend */
			pr_srtp_ctx_destroy(strict);
			pr_srtp_ctx_destroy(rx);
			continue;
		}
		memset(&pol, 0, sizeof(pol));
		if (c.prof == PR_SRTP_AEAD_AES128_GCM) {
			srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtp);
			srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtcp);
		} else {
			srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtp);
			srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtcp);
		}
		pol.rtcp.sec_serv = sec_serv_auth;
		pol.ssrc.type = ssrc_any_outbound;
		memcpy(key, MK, 16);
		memcpy(key + 16, MS, pr_srtp_profile_salt_len(c.prof));
		pol.key = key;
		CU_ASSERT_EQUAL_FATAL(srtp_create(&ref, &pol), srtp_err_status_ok);
		for (int i = 0; i < 5; i++) {
			size_t pl = make_rtcp(plain, 0x9000, rnd() % 20);
			int len = (int)pl;
			struct pr_srtp_pkt pk;
			memcpy(buf, plain, pl);
			CU_ASSERT_EQUAL(srtp_protect_rtcp(ref, buf, &len), srtp_err_status_ok);
			/* E bit clear, payload in clear */
			size_t ei = c.prof == PR_SRTP_AEAD_AES128_GCM ? pl + 16 : pl;
			CU_ASSERT_EQUAL(buf[ei] & 0x80, 0);
			CU_ASSERT_EQUAL(memcmp(buf, plain, pl), 0);
			memcpy(orig, buf, (size_t)len);
			pk = (struct pr_srtp_pkt){buf, (uint16_t)len, BUF, 0xff};
			CU_ASSERT_EQUAL(pr_srtcp_unprotect_burst(strict, &pk, 1), 0);
			CU_ASSERT_EQUAL(pk.result, PR_SRTP_ERR_UNENCRYPTED);
			CU_ASSERT_EQUAL(memcmp(buf, orig, (size_t)len), 0);
			if (!allowed)
				continue;
			/* a flipped payload bit first: refused, untouched */
			buf[12] ^= 4;
			pk = (struct pr_srtp_pkt){buf, (uint16_t)len, BUF, 0xff};
			CU_ASSERT_EQUAL(pr_srtcp_unprotect_burst(rx, &pk, 1), 0);
			CU_ASSERT_EQUAL(pk.result, PR_SRTP_ERR_AUTH);
			buf[12] ^= 4;
			CU_ASSERT_EQUAL(memcmp(buf, orig, (size_t)len), 0);
			pk = (struct pr_srtp_pkt){buf, (uint16_t)len, BUF, 0xff};
			CU_ASSERT_EQUAL(pr_srtcp_unprotect_burst(rx, &pk, 1), 1);
			CU_ASSERT_EQUAL(pk.len, pl);
			CU_ASSERT_EQUAL(memcmp(buf, plain, pl), 0);
		}
		srtp_dealloc(ref);
		pr_srtp_ctx_destroy(rx);
		pr_srtp_ctx_destroy(strict);
		report(&c, "srtcp unencrypted");
	}
}

/* A sender that starts at ROC 5 (initial_roc) is understood by a libsrtp2 receiver told
 * the same ROC, and not by one that assumes 0: the ROC is in the MAC and the IV. */
static void test_initial_roc(void)
{
	for (unsigned b = 0; b < 2; b++)
		for (unsigned pi = 0; pi < 3; pi++) {
			enum pr_srtp_profile prof = profiles[pi];
			struct pr_srtp_params p = {.profile = prof,
						   .backend = backends[b],
						   .direction = PR_SRTP_SENDER,
						   .ssrc = 0xa000,
						   .master_key = MK,
						   .master_salt = MS,
						   .initial_roc = 5};
			struct pr_srtp_ctx *tx = NULL;
			srtp_policy_t pol;
			uint8_t key[32] = {0}, buf[256], plain[256];
			srtp_t good = NULL, bad = NULL;
			size_t pl = make_rtp(plain, 0xa000, 1234, 100);
			struct pr_srtp_pkt pk = {buf, (uint16_t)pl, sizeof(buf), 0xff};
			int len;

			CU_ASSERT_EQUAL_FATAL(pr_srtp_ctx_create(&p, &tx), 0);
			memset(&pol, 0, sizeof(pol));
			pr_srtp_libsrtp_policy(prof, &pol);
			pol.ssrc.type = ssrc_specific;
			pol.ssrc.value = 0xa000;
			memcpy(key, MK, 16);
			memcpy(key + 16, MS, pr_srtp_profile_salt_len(prof));
			pol.key = key;
			CU_ASSERT_EQUAL_FATAL(srtp_create(&good, &pol), srtp_err_status_ok);
			CU_ASSERT_EQUAL_FATAL(srtp_create(&bad, &pol), srtp_err_status_ok);
			CU_ASSERT_EQUAL(srtp_set_stream_roc(good, 0xa000, 5), srtp_err_status_ok);
			memcpy(buf, plain, pl);
			CU_ASSERT_EQUAL(pr_srtp_protect_burst(tx, &pk, 1), 1);
			CU_ASSERT_EQUAL(pr_srtp_ctx_rtp_index(tx), (5 << 16) | 1234);
			uint8_t copy[256];
			memcpy(copy, buf, pk.len);
			len = pk.len;
			CU_ASSERT_NOT_EQUAL(srtp_unprotect(bad, copy, &len), srtp_err_status_ok);
			len = pk.len;
			CU_ASSERT_EQUAL(srtp_unprotect(good, buf, &len), srtp_err_status_ok);
			CU_ASSERT_EQUAL(memcmp(buf, plain, pl), 0);
			srtp_dealloc(good);
			srtp_dealloc(bad);
			pr_srtp_ctx_destroy(tx);
		}
}

/* A restart with restore: sender and receiver recreated from their indices after a wrap
 * keep the rollover counter (the stream still decrypts), and every packet captured before
 * the restart is refused by the restored receiver, including ones the old window had not
 * seen (restore marks everything up to the index as seen). */
static void test_restore(void)
{
	for (unsigned pi = 0; pi < 3; pi++) {
		enum pr_srtp_profile prof = profiles[pi];
		struct pr_srtp_ctx *tx =
		    our_create(prof, PR_SRTP_BACKEND_IPSECMB, PR_SRTP_SENDER, 0xb000, 0, 0);
		struct pr_srtp_ctx *rx =
		    our_create(prof, PR_SRTP_BACKEND_IPSECMB, PR_SRTP_RECEIVER, 0xb000, 0, 0);
		static uint8_t saved[100][256];
		static uint16_t saved_len[100];
		uint8_t buf[256];
		uint16_t seq = 65500;

		for (unsigned i = 0; i < 100; i++, seq++) {
			struct pr_srtp_pkt pk = {buf, (uint16_t)make_rtp(buf, 0xb000, seq, 40),
						 sizeof(buf), 0xff};
			CU_ASSERT_EQUAL(pr_srtp_protect_burst(tx, &pk, 1), 1);
			memcpy(saved[i], buf, pk.len);
			saved_len[i] = pk.len;
			if (i == 60)
				continue; /* never reached the receiver: still refused after restore
					   */
			CU_ASSERT_EQUAL(pr_srtp_unprotect_burst(rx, &pk, 1), 1);
		}
		int64_t tx_idx = pr_srtp_ctx_rtp_index(tx), rx_idx = pr_srtp_ctx_rtp_index(rx);
		CU_ASSERT_EQUAL(tx_idx, (1 << 16) | (uint16_t)(seq - 1));
		CU_ASSERT_EQUAL(rx_idx, tx_idx);
		pr_srtp_ctx_destroy(tx);
		pr_srtp_ctx_destroy(rx);

		struct pr_srtp_params p = {.profile = prof,
					   .backend = PR_SRTP_BACKEND_IPSECMB,
					   .direction = PR_SRTP_SENDER,
					   .ssrc = 0xb000,
					   .master_key = MK,
					   .master_salt = MS,
					   .restore = 1,
					   .restore_rtp_index = tx_idx,
					   .restore_srtcp_index = -1};
		CU_ASSERT_EQUAL_FATAL(pr_srtp_ctx_create(&p, &tx), 0);
		p.direction = PR_SRTP_RECEIVER;
		p.restore_rtp_index = rx_idx;
		CU_ASSERT_EQUAL_FATAL(pr_srtp_ctx_create(&p, &rx), 0);
		for (unsigned i = 0; i < 100; i++) {
			struct pr_srtp_pkt pk = {buf, saved_len[i], sizeof(buf), 0xff};
			memcpy(buf, saved[i], saved_len[i]);
			CU_ASSERT_EQUAL(pr_srtp_unprotect_burst(rx, &pk, 1), 0);
			CU_ASSERT_EQUAL(pk.result, PR_SRTP_ERR_REPLAY);
		}
		for (unsigned i = 0; i < 20; i++, seq++) {
			struct pr_srtp_pkt pk = {buf, (uint16_t)make_rtp(buf, 0xb000, seq, 40),
						 sizeof(buf), 0xff};
			CU_ASSERT_EQUAL(pr_srtp_protect_burst(tx, &pk, 1), 1);
			CU_ASSERT_EQUAL(pr_srtp_unprotect_burst(rx, &pk, 1), 1);
		}
		CU_ASSERT_EQUAL(pr_srtp_ctx_rtp_index(rx), (1 << 16) | (uint16_t)(seq - 1));
		/* without restore the same receiver would start at ROC 0 and fail */
		struct pr_srtp_ctx *fresh =
		    our_create(prof, PR_SRTP_BACKEND_IPSECMB, PR_SRTP_RECEIVER, 0xb000, 0, 0);
		struct pr_srtp_pkt pk = {buf, (uint16_t)make_rtp(buf, 0xb000, seq, 40), sizeof(buf),
					 0xff};
		CU_ASSERT_EQUAL(pr_srtp_protect_burst(tx, &pk, 1), 1);
		CU_ASSERT_EQUAL(pr_srtp_unprotect_burst(fresh, &pk, 1), 0);
		CU_ASSERT_EQUAL(pk.result, PR_SRTP_ERR_AUTH);
		/* libsrtp cannot be restored */
		p.backend = PR_SRTP_BACKEND_LIBSRTP;
		struct pr_srtp_ctx *no = NULL;
		CU_ASSERT_EQUAL(pr_srtp_ctx_create(&p, &no), -ENOTSUP);
		pr_srtp_ctx_destroy(fresh);
		pr_srtp_ctx_destroy(tx);
		pr_srtp_ctx_destroy(rx);
	}
}

/* SRTCP index after a restart: a sender recreated with initial_srtcp_index = last + 1 is
 * accepted by a receiver that saw the old one; the getters report what was sent/accepted. */
static void test_srtcp_index_restart(void)
{
	for (unsigned b = 0; b < 2; b++) {
		struct pr_srtp_ctx *tx = our_create(PR_SRTP_AES128_CM_SHA1_80, backends[b],
						    PR_SRTP_SENDER, 0xb000, 0, 0);
		struct pr_srtp_ctx *rx = our_create(PR_SRTP_AES128_CM_SHA1_80, backends[b],
						    PR_SRTP_RECEIVER, 0xb000, 0, 0);
		uint8_t buf[256];
		struct pr_srtp_pkt pk;
		int64_t last;

		CU_ASSERT_PTR_NOT_NULL_FATAL(tx);
		CU_ASSERT_PTR_NOT_NULL_FATAL(rx);
		CU_ASSERT_EQUAL(pr_srtcp_ctx_index(tx), -1);
		CU_ASSERT_EQUAL(pr_srtcp_ctx_index(rx), -1);
		for (int i = 0; i < 3; i++) {
			pk = (struct pr_srtp_pkt){buf, (uint16_t)make_rtcp(buf, 0xb000, 3), 256,
						  0xff};
			CU_ASSERT_EQUAL(pr_srtcp_protect_burst(tx, &pk, 1), 1);
			CU_ASSERT_EQUAL(pr_srtcp_unprotect_burst(rx, &pk, 1), 1);
		}
		last = pr_srtcp_ctx_index(tx);
		CU_ASSERT_TRUE(last >= 0);
		CU_ASSERT_EQUAL(pr_srtcp_ctx_index(rx), last);
		pr_srtp_ctx_destroy(tx);
		if (backends[b] == PR_SRTP_BACKEND_LIBSRTP) {
			struct pr_srtp_params p = {.profile = PR_SRTP_AES128_CM_SHA1_80,
						   .backend = PR_SRTP_BACKEND_LIBSRTP,
						   .direction = PR_SRTP_SENDER,
						   .ssrc = 0xb000,
						   .master_key = MK,
						   .master_salt = MS,
						   .initial_srtcp_index = 5};
			CU_ASSERT_EQUAL(pr_srtp_ctx_create(&p, &tx), -ENOTSUP);
			pr_srtp_ctx_destroy(rx);
			continue;
		}
		/* restarted without the index: the receiver refuses its SRTCP as replays */
		tx = our_create(PR_SRTP_AES128_CM_SHA1_80, backends[b], PR_SRTP_SENDER, 0xb000, 0,
				0);
		pk = (struct pr_srtp_pkt){buf, (uint16_t)make_rtcp(buf, 0xb000, 3), 256, 0xff};
		CU_ASSERT_EQUAL(pr_srtcp_protect_burst(tx, &pk, 1), 1);
		CU_ASSERT_EQUAL(pr_srtcp_unprotect_burst(rx, &pk, 1), 0);
		CU_ASSERT_EQUAL(pk.result, PR_SRTP_ERR_REPLAY);
		pr_srtp_ctx_destroy(tx);
		/* restarted with it: accepted, and the index on the wire is last + 1 */
		{
			struct pr_srtp_params p = {.profile = PR_SRTP_AES128_CM_SHA1_80,
						   .backend = backends[b],
						   .direction = PR_SRTP_SENDER,
						   .ssrc = 0xb000,
						   .master_key = MK,
						   .master_salt = MS,
						   .initial_srtcp_index = (uint32_t)last + 1};
			CU_ASSERT_EQUAL_FATAL(pr_srtp_ctx_create(&p, &tx), 0);
			p.initial_srtcp_index = 0x80000000u;
			struct pr_srtp_ctx *bad = NULL;
			CU_ASSERT_EQUAL(pr_srtp_ctx_create(&p, &bad), -EINVAL);
		}
		size_t pl = make_rtcp(buf, 0xb000, 3);
		pk = (struct pr_srtp_pkt){buf, (uint16_t)pl, 256, 0xff};
		CU_ASSERT_EQUAL(pr_srtcp_protect_burst(tx, &pk, 1), 1);
		CU_ASSERT_EQUAL(buf[pl] & 0x80, 0x80);
		CU_ASSERT_EQUAL(((uint32_t)(buf[pl] & 0x7f) << 24 | (uint32_t)buf[pl + 1] << 16 |
				 (uint32_t)buf[pl + 2] << 8 | buf[pl + 3]),
				(uint32_t)last + 1);
		CU_ASSERT_EQUAL(pr_srtcp_unprotect_burst(rx, &pk, 1), 1);
		CU_ASSERT_EQUAL(pr_srtcp_ctx_index(rx), last + 1);
		pr_srtp_ctx_destroy(tx);
		pr_srtp_ctx_destroy(rx);
	}
}

/* Bursts larger than the engine's internal chunk (64), and per-packet contexts that the
 * burst cannot use (NULL, the other backend, the other direction) next to good ones. */
static void test_big_and_mixed_bursts(void)
{
	enum { N = 200 };
	static uint8_t bufs[N][BUF], plain[N][BUF];
	struct pr_srtp_pkt pk[N];
	size_t pl[N];
	srtp_t ref = ref_create(PR_SRTP_AES128_CM_SHA1_80, 1, 0);
	struct pr_srtp_ctx *tx = our_create(PR_SRTP_AES128_CM_SHA1_80, PR_SRTP_BACKEND_IPSECMB,
					    PR_SRTP_SENDER, 0x7000, 0, 0);
	struct pr_srtp_ctx *rx = our_create(PR_SRTP_AES128_CM_SHA1_80, PR_SRTP_BACKEND_IPSECMB,
					    PR_SRTP_RECEIVER, 0x7000, 0, 0);
	struct pr_srtp_ctx *rx_lib = our_create(PR_SRTP_AES128_CM_SHA1_80, PR_SRTP_BACKEND_LIBSRTP,
						PR_SRTP_RECEIVER, 0x7000, 0, 0);

	CU_ASSERT_PTR_NOT_NULL_FATAL(ref);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tx);
	CU_ASSERT_PTR_NOT_NULL_FATAL(rx);
	CU_ASSERT_PTR_NOT_NULL_FATAL(rx_lib);
	for (unsigned i = 0; i < N; i++) {
		pl[i] = make_rtp(plain[i], 0x7000, (uint16_t)(100 + i), rnd() % 300);
		memcpy(bufs[i], plain[i], pl[i]);
		pk[i] = (struct pr_srtp_pkt){bufs[i], (uint16_t)pl[i], BUF, 0xff};
	}
	CU_ASSERT_EQUAL(pr_srtp_protect_burst(tx, pk, N), N);
	for (unsigned i = 0; i < N; i++) {
		int len = pk[i].len;
		CU_ASSERT_EQUAL(srtp_unprotect(ref, bufs[i], &len), srtp_err_status_ok);
		CU_ASSERT_EQUAL(memcmp(bufs[i], plain[i], pl[i]), 0);
	}
	/* the same packets protected again (new sender, same indices) for a mixed burst */
	pr_srtp_ctx_destroy(tx);
	tx = our_create(PR_SRTP_AES128_CM_SHA1_80, PR_SRTP_BACKEND_IPSECMB, PR_SRTP_SENDER, 0x7000,
			0, 0);
	for (unsigned i = 0; i < 5; i++)
		pk[i] = (struct pr_srtp_pkt){bufs[i], (uint16_t)pl[i], BUF, 0xff};
	CU_ASSERT_EQUAL(pr_srtp_protect_burst(tx, pk, 5), 5);
	{
		struct pr_srtp_ctx *cs[5] = {rx, NULL, rx_lib, tx, rx};
		uint8_t copy[5][BUF];
		for (unsigned i = 0; i < 5; i++)
			memcpy(copy[i], bufs[i], pk[i].len);
		CU_ASSERT_EQUAL(pr_srtp_unprotect_burst_multi(cs, pk, 5), 2);
		CU_ASSERT_EQUAL(pk[0].result, PR_SRTP_OK);
		CU_ASSERT_EQUAL(pk[1].result, PR_SRTP_ERR_UNKNOWN_PROFILE);
		CU_ASSERT_EQUAL(pk[2].result, PR_SRTP_ERR_UNKNOWN_PROFILE);
		CU_ASSERT_EQUAL(pk[3].result, PR_SRTP_ERR_UNKNOWN_PROFILE);
		CU_ASSERT_EQUAL(pk[4].result, PR_SRTP_OK);
		for (unsigned i = 1; i < 4; i++)
			CU_ASSERT_EQUAL(memcmp(copy[i], bufs[i], pk[i].len), 0);
		CU_ASSERT_EQUAL(memcmp(bufs[0], plain[0], pl[0]), 0);
		CU_ASSERT_EQUAL(memcmp(bufs[4], plain[4], pl[4]), 0);
	}
	/* all-NULL and empty bursts */
	{
		struct pr_srtp_ctx *cs[2] = {NULL, NULL};
		CU_ASSERT_EQUAL(pr_srtp_unprotect_burst_multi(cs, pk, 2), 0);
		CU_ASSERT_EQUAL(pk[0].result, PR_SRTP_ERR_UNKNOWN_PROFILE);
		CU_ASSERT_EQUAL(pr_srtp_unprotect_burst(rx, pk, 0), 0);
		CU_ASSERT_EQUAL(pr_srtcp_unprotect_burst(NULL, pk, 1), 0);
		CU_ASSERT_EQUAL(pk[0].result, PR_SRTP_ERR_UNKNOWN_PROFILE);
	}
	pr_srtp_ctx_destroy(tx);
	pr_srtp_ctx_destroy(rx);
	pr_srtp_ctx_destroy(rx_lib);
	srtp_dealloc(ref);
}

/* Worker threads, each with its own contexts (and so its own job manager), at once. */
static void *worker(void *arg)
{
	enum pr_srtp_profile prof = profiles[(uintptr_t)arg % 3];
	uint32_t ssrc = 0x8000 + (uint32_t)(uintptr_t)arg;
	struct pr_srtp_params p = {.profile = prof,
				   .backend = PR_SRTP_BACKEND_IPSECMB,
				   .direction = PR_SRTP_SENDER,
				   .ssrc = ssrc,
				   .master_key = MK,
				   .master_salt = MS};
	struct pr_srtp_ctx *tx = NULL, *rx = NULL;
	uint8_t b[BURST_T][256], plain[BURST_T][256];
	uintptr_t bad = 0;

	if (pr_srtp_thread_init() || pr_srtp_ctx_create(&p, &tx))
		return (void *)1;
	p.direction = PR_SRTP_RECEIVER;
	if (pr_srtp_ctx_create(&p, &rx))
		return (void *)1;
	for (unsigned round = 0; round < 300; round++) {
		struct pr_srtp_pkt pk[BURST_T];
		for (unsigned k = 0; k < BURST_T; k++) {
			uint16_t seq = (uint16_t)(round * BURST_T + k);
			memset(plain[k], (int)(round + k), sizeof(plain[k]));
			plain[k][0] = 0x80;
			plain[k][1] = 96;
			plain[k][2] = (uint8_t)(seq >> 8);
			plain[k][3] = (uint8_t)seq;
			pr_put32(plain[k] + 8, ssrc);
			memcpy(b[k], plain[k], 200);
			pk[k] = (struct pr_srtp_pkt){b[k], 200, 256, 0xff};
		}
		bad += BURST_T - pr_srtp_protect_burst(tx, pk, BURST_T);
		bad += BURST_T - pr_srtp_unprotect_burst(rx, pk, BURST_T);
		for (unsigned k = 0; k < BURST_T; k++)
			bad += pk[k].len != 200 || memcmp(b[k], plain[k], 200) != 0;
	}
	pr_srtp_ctx_destroy(tx);
	pr_srtp_ctx_destroy(rx);
	pr_srtp_thread_fini();
	return (void *)bad;
}

static void test_threads(void)
{
	pthread_t t[4];

	for (uintptr_t i = 0; i < 4; i++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, worker, (void *)i), 0);
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(t[i], &r);
		CU_ASSERT_EQUAL((uintptr_t)r, 0);
	}
}

int main(int argc, char **argv)
{
	CU_pSuite s;
	unsigned fails;

	if (argc > 1)
		rng_state = strtoull(argv[1], NULL, 0) | 1;
	printf("seed %#llx\n", (unsigned long long)rng_state);
	if (srtp_init() != srtp_err_status_ok)
		return 2;
	for (int i = 0; i < 16; i++)
		MK[i] = (uint8_t)rnd();
	for (int i = 0; i < 14; i++)
		MS[i] = (uint8_t)rnd();
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("srtp_cross", NULL, NULL);
	CU_add_test(s, "params", test_params);
	CU_add_test(s, "ours protect -> libsrtp2 unprotect", test_ours_to_ref);
	CU_add_test(s, "libsrtp2 protect -> ours unprotect", test_ref_to_ours);
	CU_add_test(s, "replay window, reordering, wrap", test_replay_window);
	CU_add_test(s, "every single-bit flip rejected", test_bit_flips);
	CU_add_test(s, "truncation and room", test_truncation);
	CU_add_test(s, "srtcp", test_srtcp);
	CU_add_test(s, "srtcp with the E bit clear", test_srtcp_unencrypted);
	CU_add_test(s, "initial ROC", test_initial_roc);
	CU_add_test(s, "SRTCP index across a restart", test_srtcp_index_restart);
	CU_add_test(s, "restore after a restart: ROC kept, old packets refused", test_restore);
	CU_add_test(s, "bursts over 64, mixed contexts", test_big_and_mixed_bursts);
	CU_add_test(s, "four threads at once", test_threads);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
	CU_cleanup_registry();
	pr_srtp_thread_fini();
	srtp_shutdown();
	return fails ? 1 : 0;
}
