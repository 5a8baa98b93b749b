/* SPDX-License-Identifier: BSD-3-Clause */
/* The dataplane's runtime tunables (pr_ks_tunables[] owned by "dataplane"): each overrides
 * one configuration key while the dataplane runs.
 *
 * Who registers what: the core and each feature, from their init (control lcore, before
 * dp_tunables_init): a struct dp_tunable naming the tunable, the configuration file's value
 * and how to apply a value. dp_tunables_init() keeps the file values; then, on the control
 * lcore, dp_tunables_poll() reads pr:tunables once Redis is up (and again after every
 * reconnect), follows PUBLISH pr:events "tunables" on a subscriber connection of its own,
 * applies each change (a stored value, else the file's) at once, logs it, and reports the
 * values in force in pr:tunables:in_force:dataplane. Apply functions run on the control
 * lcore; what workers read is stored atomically. The same subscriber carries "drain"
 * messages: on each, after every reconnect and with the safety re-read, pr:drain is read
 * again (dp_drain_reread, dp_drain.h). */
#ifndef POPRELAY_DP_TUNABLES_H
#define POPRELAY_DP_TUNABLES_H

#include <stdint.h>

struct dp_tunable {
	const char *name; /* a pr_ks_tunables[] name owned by "dataplane" */
	/* the value in force (at init: the configuration file's) */
	int64_t (*current)(const struct dp_tunable *t);
	/* Applies v (within the table's range); 0, or a negative errno when v cannot hold
	 * with the rest of the configuration (it is then logged and left out). */
	int (*apply)(const struct dp_tunable *t, int64_t v);
	uintptr_t arg; /* the registrant's */
	/* dp_tunables' own */
	int64_t file;
	int64_t shown; /* in force, for the telemetry thread (atomic) */
	struct dp_tunable *next;
};

/* From an init function on the control lcore, before dp_tunables_init(). */
void dp_tunable_register(struct dp_tunable *t);

/* After the features' init: keeps the file values, checks every dataplane tunable of the
 * table has a registration (missing ones are logged: a feature that is off). */
void dp_tunables_init(void);
/* Control lcore loop. */
void dp_tunables_poll(uint64_t now_ms);
void dp_tunables_fini(void);

/* Control lcore: the value in force of tunable name, or -1 when unknown. The telemetry
 * command /poprelay/tunables gives every one ({"turn": {"bw_kbps": 0, ...}, ...}). */
int64_t dp_tunable_value(const char *name);

#endif
