/* SPDX-License-Identifier: BSD-3-Clause */
/* What poprelayctl ha status and the exporter's HA alarms read of Redis (docs/scaling.md
 * "Appliances N+1", docs/alarms.md): the primary's replication (INFO replication) and the
 * [ha] peer's liveness lease. */
#ifndef POPRELAY_MGMT_HA_REDIS_H
#define POPRELAY_MGMT_HA_REDIS_H

#include <stdbool.h>
#include <stddef.h>

struct pr_redis;
struct ctl_ctx;

#define HA_REPL_MAX 16

struct ha_repl {
	bool master;		 /* role:master */
	long long master_offset; /* master_repl_offset */
	int connected;		 /* connected_slaves */
	int n;			 /* replicas listed below (at most HA_REPL_MAX) */
	struct {
		char ip[64];
		int port;
		char state[64];	  /* online, wait_bgsave, send_bulk, ... */
		long long offset; /* the replica's acknowledged offset */
		long long lag;	  /* seconds since its last acknowledgement */
	} r[HA_REPL_MAX];
};

/* INFO replication's text into out. Returns 0, or -EBADMSG (no role line). */
int ha_repl_parse(const char *info, struct ha_repl *out);
/* INFO replication on r. Returns 0, or a negative errno with why set. */
int ha_repl_read(struct pr_redis *r, struct ha_repl *out, char *why, size_t len);
/* The [ha] peer's set name, as its dataplane names its lease pr:ha:alive:<name>: the first
 * address of [ha] peer_ipv4, else of peer_ipv6, without its prefix length. "" when neither
 * is configured. */
void ha_peer_name(const struct ctl_ctx *ctx, char *out, size_t len);
/* Whether the peer's lease key exists: 1, 0, or a negative errno with why set. */
int ha_peer_alive(struct pr_redis *r, const char *peer, char *why, size_t len);

#endif
