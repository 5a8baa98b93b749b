/* SPDX-License-Identifier: BSD-3-Clause */
/* Port setup: control lcore, before workers start / after they stop. */
#ifndef POPRELAY_DP_PORT_H
#define POPRELAY_DP_PORT_H

#include <stdbool.h>

int dp_ports_init(int socket);
void dp_ports_fini(void);
bool dp_device_is_pci(const char *device);

#endif
