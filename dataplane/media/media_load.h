/* SPDX-License-Identifier: BSD-3-Clause */
/* The media anchor's health and load in Redis (media_load.c): what media_dp.c's control
 * lcore calls. */
#ifndef POPRELAY_DP_MEDIA_LOAD_H
#define POPRELAY_DP_MEDIA_LOAD_H

#include <stdbool.h>
#include <stdint.h>

struct pr_redis;

/* At the anchor's init: capacity ([media_load] capacity, else max_sessions), the address
 * published (port 0's primary), the telemetry command /poprelay/media/load. */
void media_load_init(uint32_t max_sessions);
/* Each control loop while Redis is up: publishes the record every third of the lease
 * (errors logged once, retried at the next turn; r is not closed). */
void media_load_poll(struct pr_redis *r, uint32_t sessions);
/* Whether addr is another live anchor's of the PoP (its lease present): a session record
 * on it is that dataplane's, skipped here. */
bool media_load_elsewhere(struct pr_redis *r, const char *addr);
/* A planned stop: the record withdrawn (a slowpath picks us no more). */
void media_load_stop(struct pr_redis *r);

#endif
