/* SPDX-License-Identifier: BSD-3-Clause */
/* Port setup: control lcore, before workers start / after they stop. */
#ifndef POPRELAY_DP_PORT_H
#define POPRELAY_DP_PORT_H

#include <stdbool.h>
#include <string.h>

int dp_ports_init(int socket);
void dp_ports_fini(void);
bool dp_device_is_pci(const char *device);
/* "ring:NAME": shared-memory rings NAME_rxQ / NAME_tx for a co-located DPDK process. */
#define DP_RING_DEVICE_PREFIX "ring:"
#define DP_RING_NAME_MAX      20
static inline bool dp_device_is_ring(const char *device)
{
	return strncmp(device, DP_RING_DEVICE_PREFIX, strlen(DP_RING_DEVICE_PREFIX)) == 0;
}

/* NAME of ring:NAME is 1..DP_RING_NAME_MAX letters, digits, '_' or '-'. */
static inline bool dp_ring_name_ok(const char *device)
{
	const char *n = device + strlen(DP_RING_DEVICE_PREFIX);
	size_t len = strlen(n);

	return len > 0 && len <= DP_RING_NAME_MAX &&
	       strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == len;
}

#endif
