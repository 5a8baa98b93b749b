/* SPDX-License-Identifier: BSD-3-Clause */
/* TURN state in Redis (docs/redis-keyspace.md, "TURN allocations"): allocations with their
 * permissions and channels written on every change so a restarted dataplane resumes every
 * live allocation; counters synced periodically; long-term users and REST secrets read for
 * authentication. Control lcore only: reads block (hiredis on the local socket, with a
 * timeout); writes are pipelined and never wait. No DPDK. */
#ifndef POPRELAY_TURN_STORE_H
#define POPRELAY_TURN_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "dataplane/turn/turn_server.h"

struct turn_store;

/* Connects (sock, optional ACL user and password file). Returns NULL and logs when Redis is
 * unreachable; turn_store_retry() tries again later. */
struct turn_store *turn_store_new(const char *sock, const char *user, const char *pwfile);
void turn_store_free(struct turn_store *st);
bool turn_store_up(const struct turn_store *st);
/* Reconnects when down. Returns true when it just came (back) up. */
bool turn_store_retry(struct turn_store *st);

/* Credential callbacks for struct turn_cred_ops (arg = the store). */
int turn_store_user_key(void *arg, const char *user, const char *realm, int alg, uint8_t key[32]);
int turn_store_rest_secrets(void *arg, char out[][TURN_SECRET_MAX], int max);

/* Writes, queued on a pipeline that never waits (its own connection): the allocation with
 * its permissions, channels and counters (a full rewrite), its deletion, and its counters
 * alone, each one MULTI/EXEC, one round trip. 0 when queued: cookie (unless NULL) then
 * comes back through the done callback with the write's outcome (0, -EIO when the
 * connection was lost, -EBADMSG when Redis refused it). Not queued: -ENOTCONN (Redis
 * down), -ENOBUFS (too many writes in flight), or the record's error. */
int turn_store_save(struct turn_store *st, const struct turn_server *s, const struct turn_alloc *a,
		    void *cookie);
int turn_store_delete(struct turn_store *st, uint64_t id, void *cookie);
int turn_store_counters(struct turn_store *st, const struct turn_alloc *a);
void turn_store_on_done(struct turn_store *st, void (*fn)(void *arg, void *cookie, int rc),
			void *arg);
/* Sends what the pipeline holds and completes the writes whose replies came, in order.
 * Returns how many writes are still in flight. On a connection failure, every write in flight
 * completes with -EIO and the store is down until turn_store_retry. */
unsigned turn_store_poll(struct turn_store *st);
/* The pipeline's socket (-1 when down): readable when replies came. */
int turn_store_fd(const struct turn_store *st);
/* Commands that can still be queued (0 when down). */
unsigned turn_store_room(const struct turn_store *st);
/* cookie waits for the last command queued (and so for everything before it); when that
 * one has a waiter already, or nothing is in flight, for a PING queued behind. -ENOENT when
 * Redis is down, -ENOBUFS when the pipeline is full. */
int turn_store_wait_last(struct turn_store *st, void *cookie);
/* [redis] wait_replicas and wait_timeout_ms (0 replicas: no WAIT). */
void turn_store_set_wait(struct turn_store *st, uint32_t replicas, uint32_t timeout_ms);
/* cookie waits for every write queued so far to reach the replicas: for the WAIT that
 * turn_store_flush_waits queues after them (one for all the waiters of a pass; fewer
 * replicas than asked: done with -EAGAIN). Without replicas to wait for, turn_store_wait_last. */
int turn_store_wait_durable(struct turn_store *st, void *cookie);
/* Queues the WAIT of this pass's durable waiters (or completes them with the error). */
void turn_store_flush_waits(struct turn_store *st);
/* [ha]: with maxlen, every write above also appends an entry to the capped stream
 * pr:turn:changes (XADD MAXLEN ~ maxlen, in the write's own MULTI/EXEC), which the peer's
 * backup follows (turn_follow.h): op set (id, relayed address and port), op del (id), op
 * cnt (id, the counters). 0 (the default): nothing appended. */
void turn_store_set_changes(struct turn_store *st, uint32_t maxlen);

/* One allocation's record, as restore reads it: its commands (HGETALL of the hash, its
 * permissions and its channels) added to tx, and that transaction's EXEC reply parsed into
 * out for set 0 (ours) or 1 (the [ha] peer's), the relayed address checked as restore
 * checks it (-EXDEV: the other set's; -EADDRNOTAVAIL: nobody's), nothing installed. -ENOENT:
 * no such allocation; -EINVAL: a bad record or id. */
struct pr_redis_tx;
struct redisReply;
int turn_store_record_tx(struct pr_redis_tx *tx, const char *idhex);
int turn_store_record_parse(struct turn_server *s, int set, const char *idhex,
			    const struct redisReply *exec, struct turn_alloc *out);

/* Rebuilds every live allocation into s. set 0 (at start): ours, on the relay addresses we
 * hand out now (the others are logged and deleted from Redis, except the [ha] peer's,
 * left alone); set 1 (a takeover): the [ha] peer's, on its relay addresses (nothing is
 * deleted). Returns how many were restored, or a negative errno when Redis could not be
 * read. */
int turn_store_restore_all(struct turn_store *st, struct turn_server *s, int set);

/* Deletes from Redis every allocation s does not hold (after Redis was unreachable while
 * allocations ended), but the [ha] peer's. Returns how many went, or a negative errno. */
int turn_store_prune(struct turn_store *st, struct turn_server *s);

/* Helpers shared with poprelayctl-facing code and tests. */
void turn_id_hex(uint64_t id, char out[17]);
int turn_id_parse(const char *hex, uint64_t *id);

#endif
