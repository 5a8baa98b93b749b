/* SPDX-License-Identifier: BSD-3-Clause */
/* The neighbour table (ARP for IPv4, ND for IPv6): next hop -> MAC, per port.
 *
 * Writer: the control lcore only (learning, resolution, expiry). Readers: workers, through
 * dp_neigh_lookup(), lock-free: an rte_hash in RW_CONCURRENCY_LF mode whose value is the
 * MAC itself packed into the data pointer (so an update is one atomic store and nothing is
 * ever freed under a reader); deleted key slots are recycled only after an RCU QSBR grace
 * period (rte_hash_rcu_qsbr_add on dp_rt.rcu). Control-side metadata (state, expiry,
 * probes) lives in an array indexed by the key's hash position, guarded by a mutex that
 * only control and the telemetry thread take. */
#ifndef POPRELAY_DP_NEIGH_H
#define POPRELAY_DP_NEIGH_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_rcu_qsbr.h>

#include "dataplane/dp_parse.h"

enum dp_neigh_state {
	DP_NEIGH_FREE = 0,
	DP_NEIGH_INCOMPLETE, /* requests sent, no answer yet: workers see "unresolved" */
	DP_NEIGH_REACHABLE,  /* MAC known until expires_ms */
	DP_NEIGH_PROBE,	     /* lifetime over: its MAC is still used while requests re-confirm
				it; removed after max_probes unanswered ones (so a next hop
				that still answers never loses a packet) */
};

struct dp_neigh_info {
	uint16_t port;
	struct dp_ipaddr addr;
	struct rte_ether_addr mac;
	enum dp_neigh_state state;
	uint64_t expires_ms; /* REACHABLE: when it is removed; INCOMPLETE: next request */
	uint32_t probes;     /* requests sent while INCOMPLETE */
	void *pending;	     /* one packet parked until the entry resolves (control only) */
};

/* Create the table (control lcore). rcu may be NULL (tests without workers). */
int dp_neigh_init(uint32_t entries, struct rte_rcu_qsbr *rcu, int socket);
void dp_neigh_fini(void);

/* Worker (and control): the MAC of addr on port. 0, or -ENOENT when absent, -EAGAIN when
 * resolution is in progress. */
int dp_neigh_lookup(uint16_t port, const struct dp_ipaddr *addr, struct rte_ether_addr *mac);
/* Bumped (release) by control after every change to the table: a worker's cached answer
 * (dp_udp.c) read under generation g is good while dp_neigh_gen is still g. */
extern uint32_t dp_neigh_gen;

/* Control: learned addr -> mac (an ARP/NA/NS with a link-layer option). Becomes REACHABLE
 * until now_ms + timeout_ms. create=false only refreshes an existing entry (RFC 826 merge
 * for frames not addressed to us). 0, -ENOENT (not created), -ENOSPC. */
int dp_neigh_learn(uint16_t port, const struct dp_ipaddr *addr, const struct rte_ether_addr *mac,
		   uint64_t now_ms, uint64_t timeout_ms, bool create);

/* Control: start resolving addr (creates an INCOMPLETE entry). Returns 1 when the caller
 * must send a request now, 0 when one was sent recently or the entry is resolved,
 * -ENOSPC when the table is full. */
int dp_neigh_want(uint16_t port, const struct dp_ipaddr *addr, uint64_t now_ms, uint64_t retry_ms);

/* Control: a REACHABLE entry past its time turns PROBE (its MAC still used) and gets a
 * request; INCOMPLETE and PROBE entries get a request every retry_ms, and are removed after
 * max_probes unanswered ones. send(port, addr, arg) sends a request. Returns the number of
 * entries removed. */
typedef void (*dp_neigh_probe_fn)(uint16_t port, const struct dp_ipaddr *addr, void *arg);
int dp_neigh_timer(uint64_t now_ms, uint64_t retry_ms, uint32_t max_probes, dp_neigh_probe_fn send,
		   void *arg);

/* Control: park pkt on the INCOMPLETE entry of addr until it resolves (one per entry; an
 * older one is handed back in *old for the caller to drop). 0; -EEXIST if the entry is
 * already resolved (send pkt now); -ENOENT without an entry (drop it). */
int dp_neigh_park(uint16_t port, const struct dp_ipaddr *addr, void *pkt, void **old);

/* Control: what to do with a parked packet: send it (mac set: the entry just resolved;
 * called after the table's lock is released) or drop it (mac NULL: the entry went away;
 * called with the lock held, so it must not call back into this table). */
typedef void (*dp_neigh_release_fn)(void *pkt, uint16_t port, const struct rte_ether_addr *mac);
void dp_neigh_set_release(dp_neigh_release_fn fn);

/* Control: remove one entry. */
int dp_neigh_del(uint16_t port, const struct dp_ipaddr *addr);

/* Any thread: copy up to max entries (for telemetry). Returns the number copied. */
unsigned int dp_neigh_dump(struct dp_neigh_info *out, unsigned int max);
unsigned int dp_neigh_count(void);

#endif
