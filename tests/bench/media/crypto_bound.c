/* SPDX-License-Identifier: BSD-3-Clause */
/* crypto_bound: the crypto-only bound of the media anchor's SRTP->SRTP relay on one core.
 *
 *   crypto_bound STREAMS_FILE [--size 172] [--size 1212] [--reps 5] [--ms 300] [--burst 32]
 *
 * Over the same streams (keys, SSRCs) the benchmark installs in the dataplane (gen.py's
 * streams file: 10,000 sessions, 20,000 directions), with the same contexts the dataplane's
 * control lcore creates for them (a receiver with the sending leg's key_rx, a sender with the
 * receiving leg's key_tx, per SSRC), and the packets walking the streams in the generator's
 * order (streams.h): bursts of --burst packets, each unprotected as one
 * pr_srtp_unprotect_burst_multi over its contexts and then protected as one
 * pr_srtp_protect_burst_multi, as the dataplane's media_burst does; no I/O, no parsing, no
 * relay logic. Input packets are made by the devices' sender contexts between timed
 * batches (of 32 bursts: buffers laid out like mbufs, 2 KiB apart) and are not timed.
 * Prints one JSON line per size: {"size", "pps" (median over --reps of packets relayed per
 * second of unprotect + protect: per second of this thread's CPU time, so that what else the
 * machine runs on the core does not count), "unprotect_ns", "protect_ns" (medians, per
 * packet), "streams", "thp_kb" (kB of its memory on transparent huge pages: the contexts and
 * packet buffers are in one arena asked to be, as the dataplane's are in its hugepage
 * heap)}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <x86intrin.h>

#include "tests/bench/media/streams.h"

#define MAX_BURST 64
#define BATCH	  32 /* bursts per timed batch */
#define BUFSZ	  2048
#define TAG_LEN	  10
#define SUITE	  "AES_CM_128_HMAC_SHA1_80"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* This thread's CPU time: what the figures are per (on a shared machine, wall time would
 * count the time other processes had the core). */
static double cpu_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
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

/* The contexts live in one arena on transparent huge pages, as the dataplane's live in its
 * hugepage heap: otherwise most of their lines would also be TLB misses, which the relay
 * does not pay. Never freed: the process ends. */
static uint8_t *arena;
static size_t arena_used, arena_size;

static void *arena_alloc(size_t align, size_t size)
{
	size_t at = (arena_used + align - 1) & ~(align - 1);

	if (at + size > arena_size)
		return NULL;
	arena_used = at + size;
	return arena + at;
}

static void arena_free(void *p)
{
	(void)p;
}

/* kB of this process's anonymous memory on huge pages (smaps_rollup). */
static long thp_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/smaps_rollup", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

struct relay {
	struct pr_srtp_ctx *dev; /* the sending device: makes the input */
	struct pr_srtp_ctx *rx;	 /* relay, inbound leg: key_rx, receiver */
	struct pr_srtp_ctx *tx;	 /* relay, outbound leg: key_tx, sender */
	uint16_t seq;
	uint32_t ts;
};

int main(int argc, char **argv)
{
	unsigned sizes[4], nsizes = 0, reps = 5, burst = 32, ns, *order, pos = 0;
	double min_s = 0.3;
	struct bstream *bs;
	struct relay *rl;
	uint8_t *bufs;

	if (argc < 2) {
		fprintf(stderr, "usage: crypto_bound STREAMS [--size N]... [--reps N] [--ms N] "
				"[--burst N]\n");
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--size") && i + 1 < argc && nsizes < 4)
			sizes[nsizes++] = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--ms") && i + 1 < argc)
			min_s = atof(argv[++i]) / 1000.0;
		else if (!strcmp(argv[i], "--burst") && i + 1 < argc)
			burst = (unsigned)atoi(argv[++i]);
		else {
			fprintf(stderr, "crypto_bound: bad argument %s\n", argv[i]);
			return 2;
		}
	}
	if (!nsizes)
		sizes[nsizes++] = 172;
	if (reps < 1 || reps > 31 || burst < 1 || burst > MAX_BURST)
		return 2;
	for (unsigned s = 0; s < nsizes; s++)
		if (sizes[s] < 12 + 4 + TAG_LEN || sizes[s] > BUFSZ - 128 - PR_SRTP_MAX_TRAILER)
			return 2;
	if (streams_load(argv[1], SUITE, &bs, &ns) < 0)
		return 2;
	rl = calloc(ns, sizeof(*rl));
	order = malloc(ns * sizeof(*order));
	if (!rl || !order)
		return 2;
	streams_order(order, ns);
	arena_size = ((size_t)ns * 3 * 1280 + (size_t)BATCH * MAX_BURST * BUFSZ + (2u << 20)) &
		     ~(size_t)((2u << 20) - 1);
	arena = mmap(NULL, arena_size + (2u << 20), PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (arena == MAP_FAILED)
		return 2;
	arena = (uint8_t *)(((uintptr_t)arena + (2u << 20) - 1) & ~(uintptr_t)((2u << 20) - 1));
	madvise(arena, arena_size, MADV_HUGEPAGE);
	bufs = arena_alloc(64, (size_t)BATCH * MAX_BURST * BUFSZ); /* like mbufs, on huge pages */
	pr_srtp_set_allocator(arena_alloc, arena_free);
	for (unsigned i = 0; i < ns; i++) {
		const struct bstream *b = &bs[i];
		struct pr_srtp_params p = {.profile = b->send.profile,
					   .backend = PR_SRTP_BACKEND_IPSECMB,
					   .direction = PR_SRTP_RECEIVER,
					   .ssrc = b->ssrc,
					   .master_key = b->send.key,
					   .master_salt = b->send.salt};
		if (pr_srtp_ctx_create(&p, &rl[i].rx))
			return 1;
		p.direction = PR_SRTP_SENDER;
		if (pr_srtp_ctx_create(&p, &rl[i].dev))
			return 1;
		p.master_key = b->recv.key;
		p.master_salt = b->recv.salt;
		if (pr_srtp_ctx_create(&p, &rl[i].tx))
			return 1;
		rl[i].seq = (uint16_t)(1 + (b->ssrc & 0x3fff));
		rl[i].ts = b->ssrc;
	}

	for (unsigned s = 0; s < nsizes; s++) {
		unsigned size = sizes[s], plen = size - 12 - TAG_LEN;
		double pps[31], un[31], pr[31];

		for (unsigned r = 0; r < reps; r++) {
			double tt = 0, t0 = now();
			uint64_t pkts = 0, cu = 0, cp = 0;
			do {
				static struct pr_srtp_pkt pk[BATCH][MAX_BURST];
				static struct pr_srtp_ctx *dev[BATCH][MAX_BURST],
				    *rx[BATCH][MAX_BURST], *tx[BATCH][MAX_BURST];
				/* untimed: the devices' packets */
				for (unsigned b = 0; b < BATCH; b++) {
					for (unsigned k = 0; k < burst; k++) {
						unsigned i = order[pos];
						uint8_t *d = bufs +
							     ((size_t)b * MAX_BURST + k) * BUFSZ +
							     128;
						struct relay *x = &rl[i];
						if (++pos == ns)
							pos = 0;
						d[0] = 0x80;
						d[1] = 0;
						x->seq++;
						d[2] = (uint8_t)(x->seq >> 8);
						d[3] = (uint8_t)x->seq;
						x->ts += 160;
						d[4] = (uint8_t)(x->ts >> 24);
						d[5] = (uint8_t)(x->ts >> 16);
						d[6] = (uint8_t)(x->ts >> 8);
						d[7] = (uint8_t)x->ts;
						d[8] = (uint8_t)(bs[i].ssrc >> 24);
						d[9] = (uint8_t)(bs[i].ssrc >> 16);
						d[10] = (uint8_t)(bs[i].ssrc >> 8);
						d[11] = (uint8_t)bs[i].ssrc;
						payload_fill(d + 12, plen, i);
						pk[b][k] = (struct pr_srtp_pkt){
						    d, (uint16_t)(12 + plen),
						    (uint16_t)(BUFSZ - 128), 0};
						dev[b][k] = x->dev;
						rx[b][k] = x->rx;
						tx[b][k] = x->tx;
					}
					if (pr_srtp_protect_burst_multi(dev[b], pk[b], burst) !=
					    burst)
						return 1;
				}
				/* timed: unprotect, then protect, burst by burst (the split
				 * between the two from the TSC, the total from the clock) */
				double a = cpu_now();
				for (unsigned b = 0; b < BATCH; b++) {
					uint64_t c0 = __rdtsc(), c1, c2;
					if (pr_srtp_unprotect_burst_multi(rx[b], pk[b], burst) !=
					    burst)
						return 1;
					c1 = __rdtsc();
					if (pr_srtp_protect_burst_multi(tx[b], pk[b], burst) !=
					    burst)
						return 1;
					c2 = __rdtsc();
					cu += c1 - c0;
					cp += c2 - c1;
				}
				tt += cpu_now() - a;
				pkts += (uint64_t)BATCH * burst;
			} while (now() - t0 < min_s);
			pps[r] = (double)pkts / tt;
			un[r] = tt * (double)cu / (double)(cu + cp) / (double)pkts * 1e9;
			pr[r] = tt * (double)cp / (double)(cu + cp) / (double)pkts * 1e9;
		}
		printf(
		    "{\"size\": %u, \"pps\": %.0f, \"unprotect_ns\": %.1f, \"protect_ns\": %.1f, "
		    "\"streams\": %u, \"burst\": %u, \"arch\": \"%s\", \"thp_kb\": %ld}\n",
		    size, median(pps, reps), median(un, reps), median(pr, reps), ns, burst,
		    pr_srtp_ipsecmb_arch(), thp_kb());
		fflush(stdout);
	}
	return 0;
}
