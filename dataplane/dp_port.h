/* SPDX-License-Identifier: BSD-3-Clause */
/* Port setup: control lcore, before workers start / after they stop. */
#ifndef POPRELAY_DP_PORT_H
#define POPRELAY_DP_PORT_H

#include <stdbool.h>

int dp_ports_init(int socket);
void dp_ports_fini(void);
bool dp_device_is_pci(const char *device);
/* "ring:NAME": shared-memory rings NAME_rxQ / NAME_tx for a co-located DPDK process. */
#define DP_RING_DEVICE_PREFIX "ring:"
#define DP_RING_NAME_MAX      20
bool dp_device_is_ring(const char *device);

#endif
