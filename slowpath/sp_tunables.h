/* SPDX-License-Identifier: BSD-3-Clause */
/* The slowpath's runtime tunables (pr_ks_tunables[] owned by "slowpath"): each overrides one
 * [sip] key, a uint32_t field of struct sp_config, while the slowpath runs.
 *
 * sp_tunables_start() (after sp_server_open, Redis reachable) keeps the file's values, opens
 * a subscriber connection of its own (SUBSCRIBE pr:events, its socket watched by a libevent
 * read event) and applies pr:tunables. On each "tunables" message, after every reconnect of
 * that connection and every REREAD_S as a safety net, it reads pr:tunables again, writes the
 * value in force (the stored one, else the file's) into s->cfg, logs each change, refuses
 * what cannot hold (reg_min_expires_s above reg_max_expires_s), and reports the values in
 * force in pr:tunables:in_force:slowpath. Everything runs on the event loop: the code that
 * reads s->cfg sees the new value from its next request on. The same subscriber carries
 * "drain" messages: on each, and with every re-read above, pr:drain is read again
 * (sp_drain_reread, sp_drain.c). */
#ifndef POPRELAY_SLOWPATH_SP_TUNABLES_H
#define POPRELAY_SLOWPATH_SP_TUNABLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slowpath/sp_config.h"

struct sp_server;

/* The sp_config field a slowpath tunable overrides; NULL for a name that is not ours. */
uint32_t *sp_tunable_field(struct sp_config *cfg, const char *name);

/* The values in force for stored (vals[i], set[i] indexed like pr_ks_tunables[], as
 * pr_ks_tunables_stored gives them) over the file's: writes them into cfg, logs each
 * change, refuses (logs, keeps cfg's) a reg_min_expires_s above reg_max_expires_s. Fills
 * in_force (INT64_MIN for the tunables that are not the slowpath's). Returns how many
 * changed. No I/O but the log: the unit tests call it. */
int sp_tunables_apply(struct sp_config *cfg, const struct sp_config *file, const int64_t *vals,
		      const bool *set, int64_t *in_force);

/* Event loop. start: -ENOMEM only (Redis trouble is logged and retried: the file's values
 * hold meanwhile). tick: every second (reconnects, safety re-read). */
int sp_tunables_start(struct sp_server *s);
void sp_tunables_tick(struct sp_server *s, int64_t now_ms);
void sp_tunables_stop(struct sp_server *s);

#endif
