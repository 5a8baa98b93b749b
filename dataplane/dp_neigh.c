/* SPDX-License-Identifier: BSD-3-Clause */
#include "dataplane/dp_neigh.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_malloc.h>

struct neigh_key {
	uint16_t port;
	uint8_t family;
	uint8_t pad;
	uint8_t addr[16];
};

/* The hash value: MAC in the low 48 bits, flag in bit 48. 0 = incomplete. */
#define NEIGH_VALID (1ull << 48)

static struct rte_hash *neigh_hash;
static struct dp_neigh_info *neigh_meta; /* by hash position; control writes under lock */
static uint32_t neigh_cap;
static unsigned int neigh_used;
static pthread_mutex_t neigh_lock = PTHREAD_MUTEX_INITIALIZER;
static dp_neigh_release_fn neigh_release;

void dp_neigh_set_release(dp_neigh_release_fn fn)
{
	neigh_release = fn;
}

/* Hand a parked packet back (drop when mac is NULL). */
static void release(void *pkt, uint16_t port, const struct rte_ether_addr *mac)
{
	if (pkt && neigh_release)
		neigh_release(pkt, port, mac);
}

static void make_key(struct neigh_key *k, uint16_t port, const struct dp_ipaddr *a)
{
	memset(k, 0, sizeof(*k));
	k->port = port;
	k->family = a->family;
	if (a->family == AF_INET)
		memcpy(k->addr, &a->v4, 4);
	else
		memcpy(k->addr, a->v6, 16);
}

static uint64_t pack_mac(const struct rte_ether_addr *mac)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < RTE_ETHER_ADDR_LEN; i++)
		v |= (uint64_t)mac->addr_bytes[i] << (8 * i);
	return v | NEIGH_VALID;
}

static void unpack_mac(uint64_t v, struct rte_ether_addr *mac)
{
	int i;

	for (i = 0; i < RTE_ETHER_ADDR_LEN; i++)
		mac->addr_bytes[i] = (uint8_t)(v >> (8 * i));
}

int dp_neigh_init(uint32_t entries, struct rte_rcu_qsbr *rcu, int socket)
{
	char name[RTE_HASH_NAMESIZE];
	struct rte_hash_parameters p = {
	    .entries = entries < 64 ? 64 : entries,
	    .key_len = sizeof(struct neigh_key),
	    .hash_func = rte_jhash,
	    .socket_id = socket,
	    .extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF,
	};

	snprintf(name, sizeof(name), "dp_neigh_%d", (int)getpid());
	p.name = name;
	neigh_hash = rte_hash_create(&p);
	if (neigh_hash == NULL)
		return -rte_errno ? -rte_errno : -ENOMEM;
	if (rcu) {
		struct rte_hash_rcu_config rc = {.v = rcu, .mode = RTE_HASH_QSBR_MODE_DQ};
		int ret = rte_hash_rcu_qsbr_add(neigh_hash, &rc);
		if (ret) {
			rte_hash_free(neigh_hash);
			neigh_hash = NULL;
			return ret < 0 ? ret : -EINVAL;
		}
	}
	/* Positions returned by the hash go up to its internal capacity, a bit over entries. */
	neigh_cap = (uint32_t)rte_hash_max_key_id(neigh_hash) + 1;
	neigh_meta =
	    rte_zmalloc_socket("dp_neigh_meta", sizeof(*neigh_meta) * neigh_cap, 0, socket);
	if (neigh_meta == NULL) {
		rte_hash_free(neigh_hash);
		neigh_hash = NULL;
		return -ENOMEM;
	}
	neigh_used = 0;
	return 0;
}

void dp_neigh_fini(void)
{
	uint32_t i;

	for (i = 0; neigh_meta && i < neigh_cap; i++) {
		if (neigh_meta[i].state != DP_NEIGH_FREE)
			release(neigh_meta[i].pending, neigh_meta[i].port, NULL);
		neigh_meta[i].pending = NULL;
	}
	rte_hash_free(neigh_hash);
	rte_free(neigh_meta);
	neigh_hash = NULL;
	neigh_meta = NULL;
}

uint32_t dp_neigh_gen;

int dp_neigh_lookup(uint16_t port, const struct dp_ipaddr *addr, struct rte_ether_addr *mac)
{
	struct neigh_key k;
	void *data;

	make_key(&k, port, addr);
	if (rte_hash_lookup_data(neigh_hash, &k, &data) < 0)
		return -ENOENT;
	if (!((uintptr_t)data & NEIGH_VALID))
		return -EAGAIN;
	unpack_mac((uintptr_t)data, mac);
	return 0;
}

/* Control: insert or update, under neigh_lock. Returns the metadata slot or NULL. */
static struct dp_neigh_info *upsert(const struct neigh_key *k, uint16_t port,
				    const struct dp_ipaddr *addr, uint64_t value, bool create)
{
	int32_t pos = rte_hash_lookup(neigh_hash, k);

	if (pos < 0 && !create)
		return NULL;
	if (rte_hash_add_key_data(neigh_hash, k, (void *)(uintptr_t)value) < 0)
		return NULL;
	__atomic_fetch_add(&dp_neigh_gen, 1, __ATOMIC_RELEASE);
	if (pos < 0) {
		pos = rte_hash_lookup(neigh_hash, k);
		if (pos < 0 || (uint32_t)pos >= neigh_cap)
			return NULL;
		memset(&neigh_meta[pos], 0, sizeof(neigh_meta[pos]));
		neigh_meta[pos].port = port;
		neigh_meta[pos].addr = *addr;
		neigh_used++;
	}
	return &neigh_meta[pos];
}

int dp_neigh_learn(uint16_t port, const struct dp_ipaddr *addr, const struct rte_ether_addr *mac,
		   uint64_t now_ms, uint64_t timeout_ms, bool create)
{
	struct neigh_key k;
	struct dp_neigh_info *n;
	void *pkt = NULL;

	make_key(&k, port, addr);
	pthread_mutex_lock(&neigh_lock);
	n = upsert(&k, port, addr, pack_mac(mac), create);
	if (n) {
		n->mac = *mac;
		n->state = DP_NEIGH_REACHABLE;
		n->expires_ms = now_ms + timeout_ms;
		n->probes = 0;
		pkt = n->pending;
		n->pending = NULL;
	}
	pthread_mutex_unlock(&neigh_lock);
	if (n == NULL)
		return create ? -ENOSPC : -ENOENT;
	release(pkt, port, mac); /* the packet that waited for this answer */
	return 0;
}

int dp_neigh_want(uint16_t port, const struct dp_ipaddr *addr, uint64_t now_ms, uint64_t retry_ms)
{
	struct neigh_key k;
	int32_t pos;
	int ret = 0;

	make_key(&k, port, addr);
	pthread_mutex_lock(&neigh_lock);
	pos = rte_hash_lookup(neigh_hash, &k);
	if (pos >= 0) {
		/* Resolved, or a request went out less than retry_ms ago. */
		pthread_mutex_unlock(&neigh_lock);
		return 0;
	}
	struct dp_neigh_info *n = upsert(&k, port, addr, 0, true);
	if (n == NULL) {
		ret = -ENOSPC;
	} else {
		n->state = DP_NEIGH_INCOMPLETE;
		n->probes = 1;
		n->expires_ms = now_ms + retry_ms;
		ret = 1;
	}
	pthread_mutex_unlock(&neigh_lock);
	return ret;
}

static int del_locked(struct dp_neigh_info *n)
{
	struct neigh_key k;
	int32_t pos;

	make_key(&k, n->port, &n->addr);
	pos = rte_hash_del_key(neigh_hash, &k);
	if (pos < 0)
		return pos;
	__atomic_fetch_add(&dp_neigh_gen, 1, __ATOMIC_RELEASE);
	n->state = DP_NEIGH_FREE;
	neigh_used--;
	release(n->pending, n->port, NULL);
	n->pending = NULL;
	return 0;
}

int dp_neigh_park(uint16_t port, const struct dp_ipaddr *addr, void *pkt, void **old)
{
	struct neigh_key k;
	int32_t pos;
	int ret;

	*old = NULL;
	make_key(&k, port, addr);
	pthread_mutex_lock(&neigh_lock);
	pos = rte_hash_lookup(neigh_hash, &k);
	if (pos < 0 || (uint32_t)pos >= neigh_cap || neigh_meta[pos].state == DP_NEIGH_FREE) {
		ret = -ENOENT;
	} else if (neigh_meta[pos].state != DP_NEIGH_INCOMPLETE) {
		ret = -EEXIST;
	} else {
		*old = neigh_meta[pos].pending;
		neigh_meta[pos].pending = pkt;
		ret = 0;
	}
	pthread_mutex_unlock(&neigh_lock);
	return ret;
}

int dp_neigh_del(uint16_t port, const struct dp_ipaddr *addr)
{
	struct neigh_key k;
	int32_t pos;
	int ret = -ENOENT;

	make_key(&k, port, addr);
	pthread_mutex_lock(&neigh_lock);
	pos = rte_hash_lookup(neigh_hash, &k);
	if (pos >= 0 && (uint32_t)pos < neigh_cap && neigh_meta[pos].state != DP_NEIGH_FREE)
		ret = del_locked(&neigh_meta[pos]);
	pthread_mutex_unlock(&neigh_lock);
	return ret;
}

int dp_neigh_timer(uint64_t now_ms, uint64_t retry_ms, uint32_t max_probes, dp_neigh_probe_fn send,
		   void *arg)
{
	uint32_t i;
	int removed = 0;

	pthread_mutex_lock(&neigh_lock);
	for (i = 0; i < neigh_cap && neigh_used; i++) {
		struct dp_neigh_info *n = &neigh_meta[i];

		if (n->state == DP_NEIGH_FREE || now_ms < n->expires_ms)
			continue;
		if (n->state == DP_NEIGH_REACHABLE) {
			n->state = DP_NEIGH_PROBE;
			n->probes = 0;
		}
		if (n->probes < max_probes) {
			n->probes++;
			n->expires_ms = now_ms + retry_ms;
			if (send)
				send(n->port, &n->addr, arg);
			continue;
		}
		if (del_locked(n) == 0)
			removed++;
	}
	pthread_mutex_unlock(&neigh_lock);
	return removed;
}

unsigned int dp_neigh_dump(struct dp_neigh_info *out, unsigned int max)
{
	uint32_t i;
	unsigned int n = 0;

	pthread_mutex_lock(&neigh_lock);
	for (i = 0; i < neigh_cap && n < max; i++)
		if (neigh_meta[i].state != DP_NEIGH_FREE)
			out[n++] = neigh_meta[i];
	pthread_mutex_unlock(&neigh_lock);
	return n;
}

unsigned int dp_neigh_count(void)
{
	return neigh_used;
}
