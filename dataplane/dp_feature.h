/* SPDX-License-Identifier: BSD-3-Clause */
/* Core-internal side of the feature registry (the public side is dp_udp.h). */
#ifndef POPRELAY_DP_FEATURE_H
#define POPRELAY_DP_FEATURE_H

#include <rte_mbuf.h>

#include "dataplane/dp_udp.h"

/* Control lcore. init stops at the first failure (and tears down those already up). */
int dp_features_init(void);
void dp_features_teardown(void);
/* Every feature's poll; nonzero when one has work under way (do not sleep). */
unsigned dp_features_poll(uint64_t now_ms);
/* Worker: every feature's worker_poll; the items they handled. */
unsigned dp_features_worker_poll(struct dp_worker *w);
/* Sleeps up to timeout_us, or until input on a feature's wait_fd. */
void dp_features_wait(unsigned timeout_us);
/* Control: hand a DP_PUNT_FEATURE mbuf to its feature (frees it if the id is unknown). */
void dp_features_punt(struct rte_mbuf *m);
unsigned int dp_features_count(void);
const struct dp_feature *dp_feature_get(unsigned int id);

#endif
