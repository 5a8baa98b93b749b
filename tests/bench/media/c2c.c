/* SPDX-License-Identifier: BSD-3-Clause */
/* c2c: the time a cache line takes to go from one CPU to another on this machine.
 *
 *   c2c [--from 0] [--to 1] [--trips 200000] [--reps 7]
 *
 * Two threads, pinned to --from and --to, hand one line back and forth (each waits for the
 * other's store, then stores); a round trip is two transfers. Prints {"c2c_ns": the median
 * over --reps of the one-way time, "min_ns", "max_ns"}. The media bench prints it next to
 * the relay's figures: mediagen writes every frame on one CPU and the worker reads it on the
 * other, so this is what each line of a frame costs the worker when it is not prefetched in
 * time, and on a VM it moves with where the host runs the two vCPUs. */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile uint64_t line[8] __attribute__((aligned(64)));
static unsigned long trips = 200000;
static int cpu_to = 1;

static int pin(int cpu)
{
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	return pthread_setaffinity_np(pthread_self(), sizeof(s), &s);
}

static void *pong(void *arg)
{
	(void)arg;
	if (pin(cpu_to) != 0)
		return (void *)1;
	for (uint64_t i = 1; i <= trips; i++) {
		while (line[0] != 2 * i - 1)
			__builtin_ia32_pause();
		line[0] = 2 * i;
	}
	return NULL;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int from = 0, reps = 7;
	double v[31];

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--from"))
			from = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--to"))
			cpu_to = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--trips"))
			trips = strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--reps"))
			reps = atoi(argv[i + 1]);
		else {
			fprintf(stderr, "c2c: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (reps < 1 || reps > 31 || trips < 1000) {
		fprintf(stderr, "c2c: --reps 1-31, --trips >= 1000\n");
		return 2;
	}
	if (pin(from) != 0) {
		fprintf(stderr, "c2c: cannot run on CPU %d\n", from);
		return 1;
	}
	for (int r = 0; r < reps; r++) {
		pthread_t t;
		struct timespec a, b;
		void *ret;
		line[0] = 0;
		if (pthread_create(&t, NULL, pong, NULL) != 0)
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &a);
		for (uint64_t i = 1; i <= trips; i++) {
			line[0] = 2 * i - 1;
			while (line[0] != 2 * i)
				__builtin_ia32_pause();
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		pthread_join(t, &ret);
		if (ret) {
			fprintf(stderr, "c2c: cannot run on CPU %d\n", cpu_to);
			return 1;
		}
		v[r] = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) /
		       (double)trips / 2;
	}
	qsort(v, (size_t)reps, sizeof(v[0]), cmp_d);
	printf("{\"c2c_ns\": %.1f, \"min_ns\": %.1f, \"max_ns\": %.1f}\n", v[reps / 2], v[0],
	       v[reps - 1]);
	return 0;
}
