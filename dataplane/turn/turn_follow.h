/* SPDX-License-Identifier: BSD-3-Clause */
/* [ha] backup: an up-to-date copy of the peer's TURN allocations, kept on the control lcore
 * without serving them, so that a takeover installs them with no Redis read
 * (docs/scaling.md, "Appliances N+1"). The copy is filled by a full load (every allocation
 * of pr:turn:allocs, as a restart reads them) at start, after a reconnection or a gap in the
 * stream, and after a release; then kept by following pr:turn:changes, the capped stream
 * the owners append to in their writes' transactions (turn_store_set_changes): an entry
 * for the peer's relayed address loads that record again, a deletion drops it, a counters
 * entry updates it. Reads go on a connection of its own, pipelined, never waited for.
 * Control lcore only; no DPDK. */
#ifndef POPRELAY_TURN_FOLLOW_H
#define POPRELAY_TURN_FOLLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "dataplane/turn/turn_server.h"

struct turn_follow;

/* What telemetry shows (written by the control lcore, read whole elsewhere). */
struct turn_follow_stats {
	uint32_t allocations, permissions, channels; /* in the copy now */
	uint32_t complete;			     /* 1: known to hold every one */
	uint64_t syncs;				     /* full loads done */
	uint64_t loads;				     /* records read (full loads and stream) */
	uint64_t entries;			     /* stream entries read */
	uint64_t gaps;				     /* the stream trimmed past what was read */
};

/* Follows the peer of s (its [turn] peer_relay_*), at most max allocations, on Redis at
 * sock (ACL user, password file, may be NULL). Connects at the first poll. */
struct turn_follow *turn_follow_new(struct turn_server *s, const char *sock, const char *user,
				    const char *pwfile, uint32_t max);
void turn_follow_free(struct turn_follow *f);
/* Connects when down (at most once a second), sends what is due, takes the replies that
 * came, drops expired copies. now_ms: a monotonic clock. */
void turn_follow_poll(struct turn_follow *f, uint64_t now_ms);
/* Its socket (-1 when down or stopped): readable when replies came. */
int turn_follow_fd(const struct turn_follow *f);
/* The takeover: when the copy is known complete (replies in flight are waited for, up to
 * 50 ms, with no new read sent), installs every copy into s (set 1) and returns how many
 * went in; the copy is then emptied and following stops until turn_follow_resume. Else
 * -EAGAIN (nothing installed, following stops all the same), and *why says what is missing. */
int turn_follow_take(struct turn_follow *f, const char **why);
/* The release: following starts again, with a full load (after a takeover; else it goes
 * on as it was). */
void turn_follow_resume(struct turn_follow *f);
const struct turn_follow_stats *turn_follow_stats(const struct turn_follow *f);

#endif
