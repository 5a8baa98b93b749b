/* tests/bench/bench_srtp.c — SRTP throughput on one core: our ipsecmb backend next to
 * libsrtp2 (as Debian ships it) and raw intel-ipsec-mb jobs of the same shapes, on the
 * same packets, bursts of 32, over 1 context and over many (cache pressure).
 *
 * Each round writes fresh sequence numbers into 32 packets, protects them as one burst
 * (timed), then unprotects them as one burst (timed) with the receiver contexts, which
 * leaves the plaintext in place for the next round. Protect and unprotect times are summed
 * separately over a run of at least --ms milliseconds; a figure is the median over --reps
 * runs. Prints one JSON line per figure (see tests/bench/srtp.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <intel-ipsec-mb.h>
#include <srtp2/srtp.h>

#include "crypto/srtp.h"
#include "crypto/srtp_libsrtp.h"

#define BURST 32
#define BUFSZ 1600

static unsigned nctx_max = 10000, reps = 7, lib_cap = 1000;
static double min_s = 0.1;
static uint8_t MK[16], MS[14];
static uint8_t bufs[BURST][BUFSZ] __attribute__((aligned(64)));
static uint16_t *seqs, *seq_arr[3]; /* per implementation: its own indices */

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Writes the RTP header of packet k of burst b; returns the context index. */
static inline unsigned header(unsigned k, uint64_t b, unsigned nctx)
{
	unsigned c = nctx == 1 ? 0 : (unsigned)((b * BURST + k) % nctx);
	uint16_t s = ++seqs[c];
	uint8_t *h = bufs[k];
	h[2] = (uint8_t)(s >> 8);
	h[3] = (uint8_t)s;
	h[8] = (uint8_t)(c >> 24);
	h[9] = (uint8_t)(c >> 16);
	h[10] = (uint8_t)(c >> 8);
	h[11] = (uint8_t)c;
	return c;
}

/* ------------------------------------------------------------------ ours */
struct ours {
	struct pr_srtp_ctx **tx, **rx;
};

static void ours_init(struct ours *o, enum pr_srtp_profile prof, unsigned n)
{
	o->tx = calloc(n, sizeof(*o->tx));
	o->rx = calloc(n, sizeof(*o->rx));
	for (unsigned i = 0; i < n; i++) {
		struct pr_srtp_params p = {.profile = prof,
					   .backend = PR_SRTP_BACKEND_IPSECMB,
					   .direction = PR_SRTP_SENDER,
					   .ssrc = i,
					   .master_key = MK,
					   .master_salt = MS};
		if (pr_srtp_ctx_create(&p, &o->tx[i]))
			abort();
		p.direction = PR_SRTP_RECEIVER;
		if (pr_srtp_ctx_create(&p, &o->rx[i]))
			abort();
	}
}

static void ours_fini(struct ours *o, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		pr_srtp_ctx_destroy(o->tx[i]);
		pr_srtp_ctx_destroy(o->rx[i]);
	}
	free(o->tx);
	free(o->rx);
}

/* One run: fills t[0] (protect) and t[1] (unprotect) with seconds per packet. */
static void ours_run(struct ours *o, unsigned nctx, unsigned len, double t[2])
{
	struct pr_srtp_pkt pk[BURST];
	struct pr_srtp_ctx *tx[BURST], *rx[BURST];
	uint64_t b = 0;
	double tp = 0, tu = 0, t0 = now(), a, m, e;

	do {
		for (unsigned k = 0; k < BURST; k++) {
			unsigned c = header(k, b, nctx);
			tx[k] = o->tx[c];
			rx[k] = o->rx[c];
			pk[k] = (struct pr_srtp_pkt){bufs[k], (uint16_t)len, BUFSZ, 0};
		}
		a = now();
		if ((nctx == 1 ? pr_srtp_protect_burst(tx[0], pk, BURST)
			       : pr_srtp_protect_burst_multi(tx, pk, BURST)) != BURST)
			abort();
		m = now();
		if ((nctx == 1 ? pr_srtp_unprotect_burst(rx[0], pk, BURST)
			       : pr_srtp_unprotect_burst_multi(rx, pk, BURST)) != BURST)
			abort();
		e = now();
		tp += m - a;
		tu += e - m;
		b++;
	} while (e - t0 < min_s);
	t[0] = tp / (double)(b * BURST);
	t[1] = tu / (double)(b * BURST);
}

/* ------------------------------------------------------------------ libsrtp2 */
struct lib {
	srtp_t *tx, *rx;
};

static void lib_init(struct lib *l, enum pr_srtp_profile prof, unsigned n)
{
	uint8_t key[32] = {0};
	srtp_policy_t pol;

	l->tx = calloc(n, sizeof(*l->tx));
	l->rx = calloc(n, sizeof(*l->rx));
	memcpy(key, MK, 16);
	memcpy(key + 16, MS, 14);
	memset(&pol, 0, sizeof(pol));
	pr_srtp_libsrtp_policy(prof, &pol);
	pol.key = key;
	pol.window_size = 128;
	for (unsigned i = 0; i < n; i++) {
		pol.ssrc.type = ssrc_specific;
		pol.ssrc.value = i;
		if (srtp_create(&l->tx[i], &pol) || srtp_create(&l->rx[i], &pol))
			abort();
	}
}

static void lib_fini(struct lib *l, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		srtp_dealloc(l->tx[i]);
		srtp_dealloc(l->rx[i]);
	}
	free(l->tx);
	free(l->rx);
}

static void lib_run(struct lib *l, unsigned nctx, unsigned len, double t[2])
{
	unsigned cs[BURST];
	int lens[BURST];
	uint64_t b = 0;
	double tp = 0, tu = 0, t0 = now(), a, m, e;

	do {
		for (unsigned k = 0; k < BURST; k++)
			cs[k] = header(k, b, nctx);
		a = now();
		for (unsigned k = 0; k < BURST; k++) {
			lens[k] = (int)len;
			if (srtp_protect(l->tx[cs[k]], bufs[k], &lens[k]))
				abort();
		}
		m = now();
		for (unsigned k = 0; k < BURST; k++)
			if (srtp_unprotect(l->rx[cs[k]], bufs[k], &lens[k]))
				abort();
		e = now();
		tp += m - a;
		tu += e - m;
		b++;
	} while (e - t0 < min_s);
	t[0] = tp / (double)(b * BURST);
	t[1] = tu / (double)(b * BURST);
}

/* ------------------------------------------------------------------ raw intel-ipsec-mb */
struct raw_cm {
	uint8_t enc[176] __attribute__((aligned(16)));
	uint8_t dec[176] __attribute__((aligned(16)));
	uint8_t ipad[32] __attribute__((aligned(16)));
	uint8_t opad[32] __attribute__((aligned(16)));
};
struct raw {
	IMB_MGR *m;
	int gcm;
	unsigned n;
	struct raw_cm *cm;
	struct gcm_key_data *gk;
	uint8_t iv[BURST][16];
	uint8_t tag[BURST][16];
};

static void raw_init(struct raw *r, enum pr_srtp_profile prof, unsigned n)
{
	uint8_t blk[64];

	/* two key sets, like a relay's sender and receiver contexts: protect jobs use the
	 * first n, unprotect jobs the second n */
	memset(r, 0, sizeof(*r));
	r->m = alloc_mb_mgr(0);
	init_mb_mgr_auto(r->m, NULL);
	r->gcm = prof == PR_SRTP_AEAD_AES128_GCM;
	r->n = n;
	if (r->gcm) {
		r->gk = aligned_alloc(64, sizeof(*r->gk) * 2 * n);
		for (unsigned i = 0; i < 2 * n; i++)
			IMB_AES128_GCM_PRE(r->m, MK, &r->gk[i]);
	} else {
		r->cm = aligned_alloc(64, sizeof(*r->cm) * 2 * n);
		for (unsigned i = 0; i < 2 * n; i++) {
			IMB_AES_KEYEXP_128(r->m, MK, r->cm[i].enc, r->cm[i].dec);
			memset(blk, 0x36, 64);
			IMB_SHA1_ONE_BLOCK(r->m, blk, r->cm[i].ipad);
			memset(blk, 0x5c, 64);
			IMB_SHA1_ONE_BLOCK(r->m, blk, r->cm[i].opad);
		}
	}
	memset(r->iv, 0x5a, sizeof(r->iv));
}

static void raw_fini(struct raw *r)
{
	free(r->gk);
	free(r->cm);
	free_mb_mgr(r->m);
}

static void raw_burst(struct raw *r, const unsigned *cs, unsigned len, int encrypt)
{
	IMB_JOB *j;
	unsigned set = encrypt ? 0 : r->n;

	for (unsigned k = 0; k < BURST; k++) {
		j = IMB_GET_NEXT_JOB(r->m);
		j->src = bufs[k];
		j->dst = bufs[k] + 12;
		j->cipher_start_src_offset_in_bytes = 12;
		j->msg_len_to_cipher_in_bytes = len - 12;
		j->iv = r->iv[k];
		j->key_len_in_bytes = 16;
		j->cipher_direction = encrypt ? IMB_DIR_ENCRYPT : IMB_DIR_DECRYPT;
		j->chain_order = encrypt ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
		j->auth_tag_output = r->tag[k];
		if (r->gcm) {
			j->cipher_mode = IMB_CIPHER_GCM;
			j->hash_alg = IMB_AUTH_AES_GMAC;
			j->enc_keys = j->dec_keys = &r->gk[set + cs[k]];
			j->iv_len_in_bytes = 12;
			j->hash_start_src_offset_in_bytes = 12;
			j->msg_len_to_hash_in_bytes = len - 12;
			j->u.GCM.aad = bufs[k];
			j->u.GCM.aad_len_in_bytes = 12;
			j->auth_tag_output_len_in_bytes = 16;
		} else {
			j->cipher_mode = IMB_CIPHER_CNTR;
			j->hash_alg = IMB_AUTH_HMAC_SHA_1;
			j->enc_keys = j->dec_keys = r->cm[set + cs[k]].enc;
			j->iv_len_in_bytes = 16;
			j->hash_start_src_offset_in_bytes = 0;
			j->msg_len_to_hash_in_bytes = len + 4;
			j->u.HMAC._hashed_auth_key_xor_ipad = r->cm[set + cs[k]].ipad;
			j->u.HMAC._hashed_auth_key_xor_opad = r->cm[set + cs[k]].opad;
			j->auth_tag_output_len_in_bytes = 12;
		}
		j = IMB_SUBMIT_JOB(r->m);
		while (j) {
			if (j->status != IMB_STATUS_COMPLETED)
				abort();
			j = IMB_GET_COMPLETED_JOB(r->m);
		}
	}
	while ((j = IMB_FLUSH_JOB(r->m)) != NULL)
		if (j->status != IMB_STATUS_COMPLETED)
			abort();
}

static void raw_run(struct raw *r, unsigned nctx, unsigned len, double t[2])
{
	unsigned cs[BURST];
	uint64_t b = 0;
	double tp = 0, tu = 0, t0 = now(), a, m, e;

	do {
		for (unsigned k = 0; k < BURST; k++)
			cs[k] = header(k, b, nctx);
		a = now();
		raw_burst(r, cs, len, 1);
		m = now();
		raw_burst(r, cs, len, 0);
		e = now();
		tp += m - a;
		tu += e - m;
		b++;
	} while (e - t0 < min_s);
	t[0] = tp / (double)(b * BURST);
	t[1] = tu / (double)(b * BURST);
}

/* ------------------------------------------------------------------ driver */
static void emit(const char *op, enum pr_srtp_profile prof, unsigned size, unsigned nctx,
		 double ours, const char *base, double bv)
{
	printf("{\"name\": \"%s %s %uB %u ctx: ipsecmb vs %s\", \"value\": %.0f, \"unit\": "
	       "\"pkt/s\", \"baseline\": \"%s\", \"baseline_value\": %.0f}\n",
	       op, pr_srtp_profile_name(prof), size, nctx, base, ours, base, bv);
}

/* Context life cycle: create + destroy of one receiver context (key derivation, key
 * schedules, wipe) against libsrtp2's srtp_create + srtp_dealloc of one session. */
static void lifecycle(void)
{
	uint8_t key[32] = {0};
	srtp_policy_t pol;
	struct pr_srtp_params p = {.profile = PR_SRTP_AES128_CM_SHA1_80,
				   .backend = PR_SRTP_BACKEND_IPSECMB,
				   .direction = PR_SRTP_RECEIVER,
				   .master_key = MK,
				   .master_salt = MS};
	double to[15], tl[15];
	const unsigned n = 2000;

	memcpy(key, MK, 16);
	memcpy(key + 16, MS, 14);
	memset(&pol, 0, sizeof(pol));
	srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtp);
	srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtcp);
	pol.ssrc.type = ssrc_specific;
	pol.key = key;
	pol.window_size = 128;
	for (unsigned r = 0; r < reps; r++) {
		double t0 = now();
		for (unsigned i = 0; i < n; i++) {
			struct pr_srtp_ctx *c;
			p.ssrc = i;
			if (pr_srtp_ctx_create(&p, &c))
				abort();
			pr_srtp_ctx_destroy(c);
		}
		to[r] = (now() - t0) / n;
		t0 = now();
		for (unsigned i = 0; i < n / 10; i++) {
			srtp_t sess;
			pol.ssrc.value = i;
			if (srtp_create(&sess, &pol))
				abort();
			srtp_dealloc(sess);
		}
		tl[r] = (now() - t0) / (n / 10);
	}
	printf(
	    "{\"name\": \"context create+destroy AES_CM_128_HMAC_SHA1_80: ipsecmb vs libsrtp2\", "
	    "\"value\": %.0f, \"unit\": \"ctx/s\", \"baseline\": \"libsrtp2\", "
	    "\"baseline_value\": %.0f}\n",
	    1.0 / median(to, reps), 1.0 / median(tl, reps));
	fprintf(stderr, "context create+destroy: %.2f us (libsrtp2 %.2f us)\n",
		median(to, reps) * 1e6, median(tl, reps) * 1e6);
	fflush(stdout);
}

static void one_case(enum pr_srtp_profile prof, unsigned size, unsigned nctx)
{
	struct ours o;
	struct lib l;
	struct raw r;
	unsigned lctx = nctx < lib_cap ? nctx : lib_cap;
	double op[3][16], ou[3][16], p[3], u[3];
	char lname[48];

	for (int k = 0; k < 3; k++)
		memset(seq_arr[k], 0, sizeof(uint16_t) * nctx_max);
	ours_init(&o, prof, nctx);
	lib_init(&l, prof, lctx);
	raw_init(&r, prof, nctx);
	for (unsigned i = 0; i < reps; i++) {
		double t[2];
		seqs = seq_arr[0];
		ours_run(&o, nctx, size, t);
		op[0][i] = t[0];
		ou[0][i] = t[1];
		seqs = seq_arr[1];
		lib_run(&l, lctx, size, t);
		op[1][i] = t[0];
		ou[1][i] = t[1];
		seqs = seq_arr[2];
		raw_run(&r, nctx, size, t);
		op[2][i] = t[0];
		ou[2][i] = t[1];
	}
	for (int k = 0; k < 3; k++) {
		p[k] = 1.0 / median(op[k], reps);
		u[k] = 1.0 / median(ou[k], reps);
	}
	snprintf(lname, sizeof(lname), lctx == nctx ? "libsrtp2" : "libsrtp2 (%u ctx)", lctx);
	emit("protect", prof, size, nctx, p[0], lname, p[1]);
	emit("protect", prof, size, nctx, p[0], "raw ipsec-mb jobs", p[2]);
	emit("unprotect", prof, size, nctx, u[0], lname, u[1]);
	emit("unprotect", prof, size, nctx, u[0], "raw ipsec-mb jobs", u[2]);
	fprintf(stderr,
		"%-24s %5uB %5u ctx  protect %6.2f Mpps (libsrtp2 %5.2f, raw %6.2f)  "
		"unprotect %6.2f Mpps (libsrtp2 %5.2f, raw %6.2f)\n",
		pr_srtp_profile_name(prof), size, nctx, p[0] / 1e6, p[1] / 1e6, p[2] / 1e6,
		u[0] / 1e6, u[1] / 1e6, u[2] / 1e6);
	fflush(stdout);
	ours_fini(&o, nctx);
	lib_fini(&l, lctx);
	raw_fini(&r);
}

int main(int argc, char **argv)
{
	static const enum pr_srtp_profile profs[] = {
	    PR_SRTP_AES128_CM_SHA1_80, PR_SRTP_AES128_CM_SHA1_32, PR_SRTP_AEAD_AES128_GCM};
	static const unsigned sizes[] = {172, 1212};
	int only_first = 0, only_prof = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--ms") && i + 1 < argc)
			min_s = atof(argv[++i]) / 1000.0;
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--ctxs") && i + 1 < argc)
			nctx_max = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--libsrtp-ctxs") && i + 1 < argc)
			lib_cap = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--profile") && i + 1 < argc)
			only_prof = pr_srtp_profile_from_name(argv[++i]);
		else if (!strcmp(argv[i], "--quick"))
			only_first = 1;
		else {
			fprintf(stderr,
				"usage: %s [--ms N] [--reps N<=15] [--ctxs N] [--libsrtp-ctxs N] "
				"[--quick]\n",
				argv[0]);
			return 2;
		}
	}
	if (reps < 1 || reps > 15 || nctx_max < 1 || lib_cap < 1 || only_prof < 0)
		return 2;
	if (srtp_init())
		return 1;
	for (int i = 0; i < 16; i++)
		MK[i] = (uint8_t)(i * 7 + 1);
	for (int i = 0; i < 14; i++)
		MS[i] = (uint8_t)(i * 13 + 5);
	for (int k = 0; k < 3; k++)
		seq_arr[k] = calloc(nctx_max, sizeof(uint16_t));
	for (unsigned k = 0; k < BURST; k++) {
		bufs[k][0] = 0x80;
		bufs[k][1] = 96;
		for (unsigned i = 12; i < BUFSZ; i++)
			bufs[k][i] = (uint8_t)(i * 31 + k);
	}
	fprintf(stderr,
		"intel-ipsec-mb %s, arch %s, libsrtp2 %s, bursts of %d, %u reps of %.0f ms\n",
		imb_get_version_str(), pr_srtp_ipsecmb_arch(), srtp_get_version_string(), BURST,
		reps, min_s * 1000);
	if (!only_first && !only_prof)
		lifecycle();
	for (unsigned pi = 0; pi < 3; pi++)
		for (unsigned si = 0; si < 2; si++) {
			if (only_prof && profs[pi] != (enum pr_srtp_profile)only_prof)
				continue;
			one_case(profs[pi], sizes[si], 1);
			if (nctx_max > 1)
				one_case(profs[pi], sizes[si], nctx_max);
			if (only_first)
				return 0;
		}
	pr_srtp_thread_fini();
	return 0;
}
