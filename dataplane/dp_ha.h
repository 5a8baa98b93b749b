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
 * Fencing (docs/scaling.md, "Split brain and failback"), with Redis as the arbiter, never
 * an election (keepalived elects): each dataplane keeps a liveness lease in Redis
 * (pr:ha:alive:<own address>, PX [ha] lease_ms); a takeover waits while the peer's lease
 * lives and records itself (pr:ha:held:<peer address> = our address); an owner whose
 * addresses are held by a live peer does not serve them (dp_ha_fenced) until the peer
 * releases them (poprelayctl ha failback, or keepalived's release).
 *
 * Handover (poprelayctl drain --handover, docs/scaling.md "Drain handover"): the owner
 * asks through Redis (pr:ha:handover:<own address>), the peer takes over with that consent
 * (no lease wait), and the owner, fenced, forwards the frames that still reach it for its
 * addresses to the peer's MAC (dp_ha_fwd_*) until none came for [ha] handover_quiet_ms; the
 * failback hands them back the same way, the peer forwarding to us.
 *
 * Writers: the control lcore alone changes the held and fenced state (a request from
 * telemetry is picked up by its poll); workers read it (dp_addr_is_ours, dp_ha_fenced). */
#ifndef POPRELAY_DP_HA_H
#define POPRELAY_DP_HA_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_branch_prediction.h>

#include "dataplane/dp.h"

/* The index of the port whose own addresses are fenced now (the peer holds them), or
 * DP_HA_NO_FENCE: written by the control lcore only. */
#define DP_HA_NO_FENCE UINT16_MAX
extern uint16_t dp_ha_fence_port;

/* Whether our own addresses on port index pidx are fenced: neither answered (ARP, ND,
 * echo) nor served (datagrams dropped as ha_fenced), no ARP/ND requests sent from them.
 * One load and compare: the workers ask it for every frame. */
static inline bool dp_ha_fenced(uint16_t pidx)
{
	return unlikely(__atomic_load_n(&dp_ha_fence_port, __ATOMIC_ACQUIRE) == pidx);
}

/* Handover forwarding: while dp_ha_fwd_port is a port index, the frames to our own fenced
 * addresses on it (dp_ha_fwd_own) or to the [ha] peer's addresses we no longer hold
 * (!dp_ha_fwd_own) are sent on to dp_ha_fwd_mac, the appliance that serves them now,
 * instead of being dropped. Control writes the MAC and the flag before the port (release);
 * workers read the port first (acquire). */
extern uint16_t dp_ha_fwd_port;
extern bool dp_ha_fwd_own;
extern struct rte_ether_addr dp_ha_fwd_mac;

/* Whether a is a peer address we hold now on port p (workers and control). */
bool dp_ha_holds(const struct dp_port *p, const struct dp_ipaddr *a);

/* The last takeover's first datagram (`poprelayctl ha status`, "last failover"): control
 * sets dp_ha_await_first once it holds the peer's addresses; the first worker that takes a
 * datagram to one of them calls dp_ha_first_datagram, which stamps it (TSC) and clears the
 * flag. One relaxed load per datagram of the full parse (the peer's addresses never take
 * the short way in). */
extern bool dp_ha_await_first;
void dp_ha_first_datagram(const struct dp_port *p, const struct dp_ipaddr *dst);
/* The gap's measured bound (`poprelayctl ha status`, "gap"): the devices' silence starts
 * at the peer's death, which no dataplane sees, but the peer renews its lease (SET PX
 * lease_ms) every lease_ms / 3 until it dies. A PTTL of its lease read at sent_ms (our clock,
 * dp_now_ms, taken just before the command) says it was renewed at sent_ms - (lease_ms -
 * pttl): at most a round trip to Redis early (the PTTL is read after sent_ms). -1 when the
 * PTTL says nothing (-2 gone, -1 no expiry) or is longer than our lease_ms (the peer's
 * lease_ms differs: both appliances must have the same). */
static inline int64_t dp_ha_renewed_at(uint64_t sent_ms, uint32_t lease_ms, long long pttl)
{
	if (pttl < 0 || pttl > (long long)lease_ms || sent_ms < lease_ms - (uint64_t)pttl)
		return -1;
	return (int64_t)(sent_ms - (lease_ms - (uint64_t)pttl));
}

/* From the peer's last renewal (renewed_ms, our clock) to the first datagram we took for its
 * addresses (first_ms): the gap's upper bound *max_ms; it died at most one renewal period
 * (lease_ms / 3) after that renewal, the next one never having come: *min_ms, at least 0.
 * false (both -1) when either time is unknown (< 0) or they are out of order. */
static inline bool dp_ha_gap_bounds(int64_t renewed_ms, int64_t first_ms, uint32_t lease_ms,
				    int64_t *min_ms, int64_t *max_ms)
{
	*min_ms = *max_ms = -1;
	if (renewed_ms < 0 || first_ms < renewed_ms)
		return false;
	*max_ms = first_ms - renewed_ms;
	*min_ms = *max_ms > (int64_t)(lease_ms / 3) ? *max_ms - (int64_t)(lease_ms / 3) : 0;
	return true;
}

/* Whether a is one of the configured peer addresses, held or not (config checks and
 * features' init; valid after dp_config_load). */
bool dp_ha_cfg_is_peer(const struct dp_ipaddr *a);
/* Whether [ha] names any peer address. */
bool dp_ha_configured(void);
/* The index of the port the peer's addresses are on ([ha] port). */
uint16_t dp_ha_port(void);

/* Control: a lazily (re)opened Redis connection of [redis]: *r when open, else tried at most
 * once a second (*next_try_ms); the first failure of a run logged once ("WHO: redis ...
 * unreachable (...): OFF until it is"), the return logged with BACK (NULL: silently). */
struct pr_redis;
bool dp_ha_redis_reopen(struct pr_redis **r, uint64_t *next_try_ms, bool *warned, uint64_t now_ms,
			const char *who, const char *off, const char *back);

#endif
