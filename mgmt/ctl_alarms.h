/* SPDX-License-Identifier: BSD-3-Clause */
/* poprelayctl alarms: what poprelay-exporter's evaluator keeps in Redis (docs/alarms.md),
 * shared with `poprelayctl status`. */
#ifndef POPRELAY_MGMT_CTL_ALARMS_H
#define POPRELAY_MGMT_CTL_ALARMS_H

#include <stdio.h>

#include <jansson.h>

#include "mgmt/ctl.h"

#define CTL_ALARMS_ACTIVE_KEY "pr:alarms:active"
#define CTL_ALARMS_LOG_KEY    "pr:alarms:log"

struct pr_redis;

/* Opens Redis with poprelayctl's credentials (as ctl_redis() chooses them) and
 * timeout_ms for the connect and each command, without the schema check. NULL with why
 * set when it does not answer a PING. */
struct pr_redis *ctl_alarms_redis(struct ctl_ctx *ctx, int timeout_ms, char *why, size_t len);
/* The active alarms, an array of {alarm, severity, since, value, threshold} sorted by
 * name, or NULL with why set. */
json_t *ctl_alarms_active(struct pr_redis *r, char *why, size_t len);
/* The active alarms as a table (or "no active alarm"). */
void ctl_alarms_print_active(json_t *active, FILE *out);

#endif
