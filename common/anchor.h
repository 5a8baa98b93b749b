/* SPDX-License-Identifier: BSD-3-Clause */
/* The media anchors of a PoP in Redis (docs/redis-keyspace.md, "Media anchors"): each
 * dataplane publishes its health and load under a lease, and a slowpath configured with
 * [sip] media_anchors anchors each new call on the least loaded live one (docs/scaling.md,
 * "Past one box").
 *  - pr:media:anchor:<address> (hash, PX lease): written by the dataplane's control lcore
 *    every third of its lease; gone when the dataplane is (kill, cut from Redis);
 *  - pr:media:anchors (set of addresses): where "any live dataplane" finds them; a member
 *    whose hash is gone is dropped by the next read. */
#ifndef POPRELAY_COMMON_ANCHOR_H
#define POPRELAY_COMMON_ANCHOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

struct pr_redis;
struct pr_redis_tx;

#define PR_KS_ANCHOR_PREFIX "pr:media:anchor:"
#define PR_KS_ANCHORS_KEY   "pr:media:anchors"
#define PR_ANCHOR_ADDR_MAX  48 /* an IPv4 or IPv6 address, NUL included */
#define PR_ANCHOR_MAX	    32 /* anchors a read returns at most (a PoP's dataplanes) */

struct pr_anchor {
	char addr[PR_ANCHOR_ADDR_MAX];
	uint64_t sessions; /* live media sessions, as last published */
	uint64_t capacity; /* sessions it takes ([media_load] capacity); 0: none */
	uint64_t seq;	   /* the publication's number: a new one replaces the old count */
	bool draining;	   /* poprelayctl drain: takes no new call */
};

/* Whether a is an IPv4 or IPv6 address in text form (the only names anchors have). */
bool pr_anchor_addr_valid(const char *a);

/* Dataplane: the lease (HSET, PEXPIRE lease_ms, SADD to the set) in one MULTI/EXEC, and its
 * withdrawal at a planned stop (DEL, SREM). 0 or a negative errno (pr_ks_errmsg()). */
int pr_anchor_publish(struct pr_redis *r, const struct pr_anchor *a, uint32_t lease_ms);
int pr_anchor_withdraw(struct pr_redis *r, const char *addr);

/* The live anchors among addrs (n of them), or among every member of pr:media:anchors when
 * n is 0 (members whose lease is gone are removed): one EVAL, queued on tx, or run at once.
 * The reply gives the live ones only: a dataplane whose lease expired is never returned. */
int pr_anchor_read_tx(struct pr_redis_tx *tx, const char (*addrs)[PR_ANCHOR_ADDR_MAX], size_t n);
int pr_anchor_from_reply(const redisReply *rep, struct pr_anchor *out, size_t max, size_t *n);
int pr_anchor_read(struct pr_redis *r, const char (*addrs)[PR_ANCHOR_ADDR_MAX], size_t n,
		   struct pr_anchor *out, size_t max, size_t *got);

/* The choice. A reader's own count of the sessions it anchored on each address since that
 * address's publication seq (what the published count cannot know yet): without it, every
 * call of a burst would go to the anchor that was least loaded at its last publication. */
struct pr_anchor_seen {
	char addr[PR_ANCHOR_ADDR_MAX];
	uint64_t seq;
	uint64_t added;
};
struct pr_anchor_book {
	struct pr_anchor_seen v[PR_ANCHOR_MAX];
	size_t n;
};

/* Index of the anchor to use among a[0..n): not draining, capacity > 0, the lowest
 * (sessions + added) / capacity; among equals, the (rot mod count)-th, so that ties spread.
 * -ENOENT when none qualifies. book may be NULL (nothing added). When weight > 0 the pick is
 * recorded: weight sessions added to its book entry. */
int pr_anchor_pick(const struct pr_anchor *a, size_t n, struct pr_anchor_book *book, unsigned rot,
		   unsigned weight);

#endif
