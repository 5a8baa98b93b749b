/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef POPRELAY_DP_TELEMETRY_H
#define POPRELAY_DP_TELEMETRY_H

/* Register the /poprelay/... commands (after EAL init). */
int dp_telemetry_init(void);

#endif
