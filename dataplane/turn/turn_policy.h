/* SPDX-License-Identifier: BSD-3-Clause */
/* Peer-address policy for TURN (RFC 8656 section 21.2: relaying to internal addresses).
 * By default refuses loopback, unspecified, private (RFC 1918, CGNAT, fc00::/7),
 * link-local (169.254/16 holds cloud metadata 169.254.169.254; fe80::/10), multicast,
 * broadcast, documentation, benchmarking and other IANA special-purpose ranges, also when
 * the IPv4 address is embedded in IPv4-mapped, IPv4-compatible, SIIT, 6to4 or NAT64
 * (64:ff9b::/96) IPv6 forms. Config adds `allowed-peer` and `denied-peer` CIDRs:
 * denied-peer wins over everything, allowed-peer over the default refusals.
 * Written by the control lcore at configuration time, read-only afterwards. */
#ifndef POPRELAY_TURN_POLICY_H
#define POPRELAY_TURN_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "dataplane/turn/stun_msg.h"

#define TURN_POLICY_MAX_CIDRS 64

struct turn_cidr {
	uint8_t ip[16]; /* IPv4 in ip[0..3] */
	uint8_t fam;
	uint8_t plen;
};

struct turn_policy {
	uint16_t n_allow, n_deny;
	struct turn_cidr allow[TURN_POLICY_MAX_CIDRS];
	struct turn_cidr deny[TURN_POLICY_MAX_CIDRS];
};

enum turn_policy_verdict {
	TURN_PEER_OK = 0,
	TURN_PEER_DENIED_DEFAULT = 1, /* special-purpose range */
	TURN_PEER_DENIED_CONFIG = 2,  /* denied-peer */
};

int turn_cidr_parse(struct turn_cidr *c, const char *s);
bool turn_cidr_match(const struct turn_cidr *c, const uint8_t *ip, uint8_t fam);
void turn_policy_init(struct turn_policy *p);
/* Adds a CIDR ("203.0.113.0/24", "2001:db8::/32", a bare address) to the list. 0, -EINVAL
 * or -ENOSPC. */
int turn_policy_allow(struct turn_policy *p, const char *cidr);
int turn_policy_deny(struct turn_policy *p, const char *cidr);
/* Adds each whitespace- or comma-separated CIDR of a config value. */
int turn_policy_allow_list(struct turn_policy *p, const char *list);
int turn_policy_deny_list(struct turn_policy *p, const char *list);
/* The verdict for a peer IP (ip[16], IPv4 in ip[0..3] when fam == 4). */
enum turn_policy_verdict turn_policy_check(const struct turn_policy *p, const uint8_t *ip,
					   uint8_t fam);
/* Is the address in a default-refused range (no config lists)? */
bool turn_addr_is_special(const uint8_t *ip, uint8_t fam);

#endif
