/* SPDX-License-Identifier: BSD-3-Clause */
/* TURN state in Redis (docs/redis-keyspace.md, "TURN allocations"): allocations with their
 * permissions and channels written on every change so a restarted dataplane resumes every
 * live allocation; counters synced periodically; long-term users and REST secrets read for
 * authentication. Control lcore only (blocking hiredis on the local socket). No DPDK. */
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

/* The allocation with its permissions, channels and counters (full rewrite). */
int turn_store_save(struct turn_store *st, const struct turn_server *s, const struct turn_alloc *a);
int turn_store_delete(struct turn_store *st, uint64_t id);
/* Counters only (HSET of the counter fields). */
int turn_store_counters(struct turn_store *st, const struct turn_alloc *a);
/* Rebuilds every live allocation into s. Returns how many were restored (the others are
 * logged and deleted from Redis), or a negative errno when Redis could not be read. */
int turn_store_restore_all(struct turn_store *st, struct turn_server *s);

/* Deletes from Redis every allocation s does not hold (after Redis was unreachable while
 * allocations ended). Returns how many went, or a negative errno. */
int turn_store_prune(struct turn_store *st, struct turn_server *s);

/* Helpers shared with poprelayctl-facing code and tests. */
void turn_id_hex(uint64_t id, char out[17]);
int turn_id_parse(const char *hex, uint64_t *id);

#endif
