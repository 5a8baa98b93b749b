/* SPDX-License-Identifier: BSD-3-Clause */
/* The maintenance drain as the dataplane sees it (pr:drain, written by `poprelayctl
 * drain`). dp_tunables.c, which follows pr:events on the control lcore, calls
 * dp_drain_reread() at start, after every reconnect, on each "drain" event and every few
 * seconds as a safety net. Features read the state from the control lcore (TURN refuses new
 * allocations and ends the remaining ones at the deadline); the telemetry thread reads it
 * too, hence the atomics. Single writer: the control lcore. */
#ifndef POPRELAY_DP_DRAIN_H
#define POPRELAY_DP_DRAIN_H

#include <stdbool.h>
#include <stdint.h>

struct pr_redis;

/* Reads pr:drain on rw and logs a change. 0 or a negative errno (Redis: the state in force
 * holds). Control lcore. */
int dp_drain_reread(struct pr_redis *rw);
bool dp_draining(void);
/* UNIX ms after which what remains is ended; 0: no deadline (or not draining). */
int64_t dp_drain_deadline_ms(void);

#endif
