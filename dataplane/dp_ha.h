/* SPDX-License-Identifier: BSD-3-Clause */
/* Address takeover for appliances N+1 (docs/scaling.md, "Appliances N+1").
 *
 * [ha] names a peer appliance's service addresses on one of our ports. They are not ours
 * until a takeover (telemetry /poprelay/ha/takeover, which keepalived's notify hook reaches
 * through `poprelayctl ha takeover`): from then on the workers take datagrams to them, the
 * control lcore answers ARP/ND for them and announces them (gratuitous ARP, unsolicited
 * NA), and every feature with an ha_change hook takes over what the peer left in Redis on
 * them (TURN: its allocations). A release gives them back.
 *
 * Writers: the control lcore alone changes the held state (a request from telemetry is
 * picked up by its poll); workers read it (dp_addr_is_ours). */
#ifndef POPRELAY_DP_HA_H
#define POPRELAY_DP_HA_H

#include <stdbool.h>
#include <stdint.h>

#include "dataplane/dp.h"

/* Whether a is a peer address we hold now on port p (workers and control). */
bool dp_ha_holds(const struct dp_port *p, const struct dp_ipaddr *a);
/* Whether a is one of the configured peer addresses, held or not (config checks and
 * features' init; valid after dp_config_load). */
bool dp_ha_cfg_is_peer(const struct dp_ipaddr *a);
/* Whether [ha] names any peer address. */
bool dp_ha_configured(void);
/* The index of the port the peer's addresses are on ([ha] port). */
uint16_t dp_ha_port(void);

#endif
