/* SPDX-License-Identifier: BSD-3-Clause */
/* TURN tables: see turn_table.h for the concurrency contract. */
#include "dataplane/turn/turn_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

const char *const turn_drop_names[TURN_DROP_MAX] = {
    [TURN_DROP_NO_PERMISSION] = "no_permission",
    [TURN_DROP_NO_CHANNEL] = "no_channel",
    [TURN_DROP_BANDWIDTH] = "bandwidth",
    [TURN_DROP_MALFORMED] = "malformed",
};

_Static_assert(sizeof(struct turn_5tuple) == 40, "5-tuple key is five 64-bit words");

struct limbo {
	uint32_t idx;
	uint64_t token;
};

struct turn_table {
	struct turn_table_rd rd; /* first: what workers read (turn_table.h) */
	void *(*zalloc)(size_t);
	void (*zfree)(void *);
	struct turn_rcu_ops rcu;
	uint32_t max, count;
	uint16_t port_min, port_max;
	struct turn_hash *ht_old; /* waiting for its grace period */
	uint64_t ht_old_token;
	uint64_t *port_busy[2];
	uint32_t *freelist;
	uint32_t n_free;
	struct limbo *limbo;
	uint32_t limbo_head, limbo_n;
	uint64_t rnd;
};

_Static_assert(offsetof(struct turn_table, rd) == 0, "turn_table_rd is what the header reads");

/* Cache-line aligned: struct turn_alloc is (its worker-written counters start a line), and
 * the compiler copies it with aligned vector moves (a calloc'd pool faulted on AVX-512). */
static void *def_zalloc(size_t n)
{
	size_t sz = (n + 63) & ~(size_t)63;
	void *p = aligned_alloc(64, sz ? sz : 64);

	if (p)
		memset(p, 0, sz ? sz : 64);
	return p;
}

static uint64_t next_rnd(struct turn_table *t)
{
	uint64_t x = t->rnd;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return t->rnd = x;
}

static inline void ft_words(const struct turn_5tuple *ft, uint64_t w[5])
{
	memcpy(w, ft, 40);
}

uint32_t turn_table_hash(const struct turn_table *t, const struct turn_5tuple *ft)
{
	uint64_t w[5];
	ft_words(ft, w);
	return turn_hash_words(w, t->rd.hkey);
}

static struct turn_hash *hash_new(struct turn_table *t, uint32_t cap)
{
	struct turn_hash *h = t->zalloc(sizeof(*h) + (size_t)cap * sizeof(uint64_t));
	if (h)
		h->mask = cap - 1;
	return h;
}

static void hash_insert_raw(struct turn_hash *h, uint32_t hv, uint32_t idx)
{
	uint32_t i = hv & h->mask;
	for (;;) {
		uint64_t e = __atomic_load_n(&h->e[i], __ATOMIC_RELAXED);
		if (e == TURN_H_EMPTY || e == TURN_H_TOMB) {
			if (e == TURN_H_TOMB)
				h->tombs--;
			__atomic_store_n(&h->e[i], (uint64_t)hv << 32 | (idx + 2),
					 __ATOMIC_RELEASE);
			h->used++;
			return;
		}
		i = (i + 1) & h->mask;
	}
}

struct turn_table *turn_table_create(uint32_t max_allocs, uint16_t port_min, uint16_t port_max,
				     void *(*zalloc)(size_t), void (*zfree)(void *))
{
	if (!max_allocs || port_min == 0 || port_min > port_max)
		return NULL;
	if (!zalloc)
		zalloc = def_zalloc;
	if (!zfree)
		zfree = free;
	struct turn_table *t = zalloc(sizeof(*t));
	if (!t)
		return NULL;
	t->zalloc = zalloc;
	t->zfree = zfree;
	t->max = max_allocs;
	t->port_min = port_min;
	t->port_max = port_max;
	uint32_t cap = 64;
	while (cap < 2 * max_allocs)
		cap <<= 1;
	t->rd.slots = zalloc((size_t)max_allocs * sizeof(struct turn_alloc));
	t->rd.ht = hash_new(t, cap);
	t->freelist = zalloc((size_t)max_allocs * sizeof(uint32_t));
	t->limbo = zalloc((size_t)max_allocs * sizeof(struct limbo));
	for (int f = 0; f < 2; f++) {
		t->rd.port2idx[f] = zalloc(65536 * sizeof(uint32_t));
		t->port_busy[f] = zalloc(65536 / 8);
	}
	if (!t->rd.slots || !t->rd.ht || !t->freelist || !t->limbo || !t->rd.port2idx[0] ||
	    !t->rd.port2idx[1] || !t->port_busy[0] || !t->port_busy[1]) {
		turn_table_destroy(t);
		return NULL;
	}
	for (uint32_t i = 0; i < max_allocs; i++)
		t->freelist[i] = max_allocs - 1 - i;
	t->n_free = max_allocs;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t->rnd = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull + (uint64_t)ts.tv_sec + 1;
	if (getrandom(t->rd.hkey, sizeof(t->rd.hkey), 0) != (ssize_t)sizeof(t->rd.hkey))
		for (int i = 0; i < 5; i++) /* no entropy yet: still unknown outside */
			t->rd.hkey[i] = next_rnd(t) ^ (uint64_t)(uintptr_t)t;
	return t;
}

void turn_table_destroy(struct turn_table *t)
{
	if (!t)
		return;
	if (t->rd.slots)
		memset(t->rd.slots, 0, (size_t)t->max * sizeof(struct turn_alloc)); /* keys */
	t->zfree(t->rd.slots);
	t->zfree(t->rd.ht);
	t->zfree(t->ht_old);
	t->zfree(t->freelist);
	t->zfree(t->limbo);
	for (int f = 0; f < 2; f++) {
		t->zfree(t->rd.port2idx[f]);
		t->zfree(t->port_busy[f]);
	}
	t->zfree(t);
}

void turn_table_set_rcu(struct turn_table *t, const struct turn_rcu_ops *ops)
{
	if (ops)
		t->rcu = *ops;
	else
		memset(&t->rcu, 0, sizeof(t->rcu));
}

uint32_t turn_table_capacity(const struct turn_table *t)
{
	return t->max;
}

uint32_t turn_table_count(const struct turn_table *t)
{
	return t->count;
}

size_t turn_table_bytes(const struct turn_table *t)
{
	return sizeof(*t) +
	       (size_t)t->max *
		   (sizeof(struct turn_alloc) + sizeof(uint32_t) + sizeof(struct limbo)) +
	       sizeof(struct turn_hash) + ((size_t)t->rd.ht->mask + 1) * sizeof(uint64_t) +
	       2 * (65536 * sizeof(uint32_t) + 65536 / 8);
}

static uint64_t rcu_start(struct turn_table *t)
{
	return t->rcu.start ? t->rcu.start(t->rcu.arg) : 0;
}

static bool rcu_done(struct turn_table *t, uint64_t token)
{
	return t->rcu.check ? t->rcu.check(t->rcu.arg, token) == 1 : true;
}

struct turn_alloc *turn_alloc_get(struct turn_table *t)
{
	turn_table_reclaim(t);
	if (!t->n_free)
		return NULL;
	struct turn_alloc *a = &t->rd.slots[t->freelist[--t->n_free]];
	memset(a, 0, sizeof(*a));
	return a;
}

void turn_alloc_put(struct turn_table *t, struct turn_alloc *a)
{
	memset(a, 0, sizeof(*a));
	t->freelist[t->n_free++] = (uint32_t)(a - t->rd.slots);
}

static inline bool busy(const struct turn_table *t, int fi, uint16_t p)
{
	return t->port_busy[fi][p >> 6] & (1ull << (p & 63));
}

static inline void set_busy(struct turn_table *t, int fi, uint16_t p, bool b)
{
	if (b)
		t->port_busy[fi][p >> 6] |= 1ull << (p & 63);
	else
		t->port_busy[fi][p >> 6] &= ~(1ull << (p & 63));
}

bool turn_port_free(const struct turn_table *t, int fi, uint16_t port)
{
	return port >= t->port_min && port <= t->port_max && !busy(t, fi, port);
}

bool turn_port_in_range(const struct turn_table *t, uint16_t port)
{
	return port >= t->port_min && port <= t->port_max;
}

uint16_t turn_port_pick(struct turn_table *t, int fi, bool even, bool pair)
{
	uint32_t n = (uint32_t)t->port_max - t->port_min + 1;
	uint32_t start = (uint32_t)(next_rnd(t) % n);
	for (uint32_t k = 0; k < n; k++) {
		uint16_t p = (uint16_t)(t->port_min + (start + k) % n);
		if (even && (p & 1))
			continue;
		if (busy(t, fi, p))
			continue;
		if (pair && (p == t->port_max || busy(t, fi, (uint16_t)(p + 1))))
			continue;
		return p;
	}
	return 0;
}

void turn_port_hold(struct turn_table *t, int fi, uint16_t port, bool held)
{
	set_busy(t, fi, port, held);
}

static int hash_find_entry(const struct turn_hash *h, const struct turn_alloc *slots,
			   const struct turn_5tuple *ft, uint32_t hv, uint32_t *pos)
{
	uint32_t i = hv & h->mask;
	for (uint32_t n = 0; n <= h->mask; n++) {
		uint64_t e = __atomic_load_n(&h->e[i], __ATOMIC_ACQUIRE);
		if (e == TURN_H_EMPTY)
			return -1;
		if (e != TURN_H_TOMB && (uint32_t)(e >> 32) == hv) {
			uint32_t idx = (uint32_t)e - 2;
			if (turn_5tuple_eq(&slots[idx].ft, ft)) {
				if (pos)
					*pos = i;
				return (int)idx;
			}
		}
		i = (i + 1) & h->mask;
	}
	return -1;
}

struct turn_alloc *turn_lookup_5tuple(const struct turn_table *t, const struct turn_5tuple *ft)
{
	const struct turn_hash *h = __atomic_load_n(&t->rd.ht, __ATOMIC_ACQUIRE);
	int idx = hash_find_entry(h, t->rd.slots, ft, turn_table_hash(t, ft), NULL);
	return idx < 0 ? NULL : &t->rd.slots[idx];
}

uint32_t turn_hash_prefetch(const struct turn_table *t, const struct turn_5tuple *ft)
{
	uint32_t hv = turn_table_hash(t, ft);
	turn_hash_prefetch_hv(t, hv);
	return hv;
}

/* Rebuilds the hash without tombstones into a fresh array, published atomically. */
static void hash_rebuild(struct turn_table *t)
{
	if (t->ht_old) {
		if (!rcu_done(t, t->ht_old_token))
			return; /* try again later */
		t->zfree(t->ht_old);
		t->ht_old = NULL;
	}
	struct turn_hash *old = t->rd.ht, *nh = hash_new(t, old->mask + 1);
	if (!nh)
		return;
	for (uint32_t i = 0; i <= old->mask; i++) {
		uint64_t e = old->e[i];
		if (e != TURN_H_EMPTY && e != TURN_H_TOMB)
			hash_insert_raw(nh, (uint32_t)(e >> 32), (uint32_t)e - 2);
	}
	__atomic_store_n(&t->rd.ht, nh, __ATOMIC_RELEASE);
	t->ht_old = old;
	t->ht_old_token = rcu_start(t);
}

int turn_alloc_publish(struct turn_table *t, struct turn_alloc *a)
{
	uint32_t idx = (uint32_t)(a - t->rd.slots), hv = turn_table_hash(t, &a->ft);
	if (hash_find_entry(t->rd.ht, t->rd.slots, &a->ft, hv, NULL) >= 0)
		return -EEXIST;
	for (int f = 0; f < 2; f++)
		if (a->relay_port[f] && t->rd.port2idx[f][a->relay_port[f]])
			return -EEXIST;
	a->in_use = 1;
	for (int f = 0; f < 2; f++) {
		if (!a->relay_port[f])
			continue;
		set_busy(t, f, a->relay_port[f], true);
		__atomic_store_n(&t->rd.port2idx[f][a->relay_port[f]], idx + 1, __ATOMIC_RELEASE);
	}
	hash_insert_raw(t->rd.ht, hv, idx);
	t->count++;
	return 0;
}

void turn_alloc_unpublish(struct turn_table *t, struct turn_alloc *a)
{
	uint32_t idx = (uint32_t)(a - t->rd.slots), pos;
	if (!a->in_use)
		return;
	if (hash_find_entry(t->rd.ht, t->rd.slots, &a->ft, turn_table_hash(t, &a->ft), &pos) ==
	    (int)idx) {
		__atomic_store_n(&t->rd.ht->e[pos], TURN_H_TOMB, __ATOMIC_RELEASE);
		t->rd.ht->used--;
		t->rd.ht->tombs++;
	}
	for (int f = 0; f < 2; f++) {
		uint16_t p = a->relay_port[f];
		if (p && t->rd.port2idx[f][p] == idx + 1) {
			__atomic_store_n(&t->rd.port2idx[f][p], 0, __ATOMIC_RELEASE);
			set_busy(t, f, p, false);
		}
	}
	a->in_use = 0;
	t->count--;
	uint32_t tail = (t->limbo_head + t->limbo_n) % t->max;
	t->limbo[tail] = (struct limbo){idx, rcu_start(t)};
	t->limbo_n++;
	if (t->rd.ht->tombs > (t->rd.ht->mask + 1) / 4)
		hash_rebuild(t);
}

void turn_table_reclaim(struct turn_table *t)
{
	while (t->limbo_n) {
		struct limbo *l = &t->limbo[t->limbo_head];
		if (!rcu_done(t, l->token))
			break;
		memset(&t->rd.slots[l->idx], 0, sizeof(struct turn_alloc));
		t->freelist[t->n_free++] = l->idx;
		t->limbo_head = (t->limbo_head + 1) % t->max;
		t->limbo_n--;
	}
	if (t->ht_old && rcu_done(t, t->ht_old_token)) {
		t->zfree(t->ht_old);
		t->ht_old = NULL;
	}
}

struct turn_alloc *turn_alloc_next(struct turn_table *t, uint32_t *idx)
{
	while (*idx < t->max) {
		struct turn_alloc *a = &t->rd.slots[(*idx)++];
		if (a->in_use)
			return a;
	}
	return NULL;
}

/* 16-byte peer comparison without a libc call (the data path does it per packet). */

static inline void wr_begin(struct turn_alloc *a)
{
	__atomic_store_n(&a->seq, a->seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static inline void wr_end(struct turn_alloc *a)
{
	__atomic_store_n(&a->seq, a->seq + 1, __ATOMIC_RELEASE);
}

int turn_perm_set(struct turn_alloc *a, const uint8_t peer16[16], uint32_t expires)
{
	unsigned i;
	for (i = 0; i < a->n_perm; i++)
		if (!memcmp(a->perm[i].ip, peer16, 16))
			break;
	if (i == a->n_perm) {
		if (a->n_perm >= TURN_MAX_PERMS)
			return -ENOSPC;
		/* Appending is safe for readers without the seqlock: the entry is complete
		 * before n_perm grows (release). */
		memcpy(a->perm[i].ip, peer16, 16);
		a->perm[i].expires = expires;
		__atomic_store_n(&a->n_perm, a->n_perm + 1, __ATOMIC_RELEASE);
	} else {
		__atomic_store_n(&a->perm[i].expires, expires, __ATOMIC_RELAXED);
	}
	/* A permission is per IP address: every channel to that address follows it. */
	for (unsigned c = 0; c < a->n_chan; c++)
		if (!memcmp(a->chan[c].ip, peer16, 16))
			__atomic_store_n(&a->chan[c].perm_expires, expires, __ATOMIC_RELAXED);
	return 0;
}

static uint32_t perm_expiry(const struct turn_alloc *a, const uint8_t peer16[16])
{
	for (unsigned i = 0; i < a->n_perm; i++)
		if (!memcmp(a->perm[i].ip, peer16, 16))
			return a->perm[i].expires;
	return 0;
}

void turn_alloc_link_chans(struct turn_alloc *a)
{
	for (unsigned c = 0; c < a->n_chan && c < TURN_MAX_CHANS; c++)
		a->chan[c].perm_expires = perm_expiry(a, a->chan[c].ip);
}

int turn_chan_set(struct turn_alloc *a, uint16_t num, const uint8_t peer16[16], uint16_t port,
		  uint32_t expires)
{
	for (unsigned i = 0; i < a->n_chan; i++) {
		struct turn_chan *c = &a->chan[i];
		bool same_num = c->num == num;
		bool same_peer = c->port == port && !memcmp(c->ip, peer16, 16);
		if (same_num && same_peer) {
			__atomic_store_n(&c->expires, expires, __ATOMIC_RELAXED);
			return 0;
		}
		if (same_num || same_peer)
			return -EINVAL;
	}
	if (a->n_chan >= TURN_MAX_CHANS)
		return -ENOSPC;
	struct turn_chan *c = &a->chan[a->n_chan];
	memcpy(c->ip, peer16, 16);
	c->port = port;
	c->num = num;
	c->expires = expires;
	c->perm_expires = perm_expiry(a, peer16);
	__atomic_store_n(&a->n_chan, a->n_chan + 1, __ATOMIC_RELEASE);
	return 0;
}

unsigned turn_alloc_expire_entries(struct turn_alloc *a, uint32_t now)
{
	unsigned gone = 0, np = 0, nc = 0;
	bool any = false;
	for (unsigned i = 0; i < a->n_perm; i++)
		any |= a->perm[i].expires <= now;
	for (unsigned i = 0; i < a->n_chan; i++)
		any |= a->chan[i].expires <= now;
	if (!any)
		return 0;
	/* Compaction moves entries: readers must see it under the seqlock. */
	wr_begin(a);
	for (unsigned i = 0; i < a->n_perm; i++) {
		if (a->perm[i].expires <= now)
			gone++;
		else
			a->perm[np++] = a->perm[i];
	}
	for (unsigned i = 0; i < a->n_chan; i++) {
		if (a->chan[i].expires <= now)
			gone++;
		else
			a->chan[nc++] = a->chan[i];
	}
	a->n_perm = (uint8_t)np;
	a->n_chan = (uint8_t)nc;
	wr_end(a);
	return gone;
}

bool turn_perm_ok(const struct turn_alloc *a, const uint8_t peer16[16], uint32_t now)
{
	bool ok = false;
	TURN_SEQ_READ(a, {
		ok = false;
		unsigned n = __atomic_load_n(&a->n_perm, __ATOMIC_ACQUIRE);
		for (unsigned i = 0; i < n && i < TURN_MAX_PERMS; i++) {
			if (turn_peer_eq(a->perm[i].ip, peer16)) {
				ok = __atomic_load_n(&a->perm[i].expires, __ATOMIC_RELAXED) > now;
				break;
			}
		}
	});
	return ok;
}

bool turn_chan_peer(const struct turn_alloc *a, uint16_t num, uint32_t now, uint8_t peer16[16],
		    uint16_t *port)
{
	return turn_chan_peer_perm(a, num, now, peer16, port) != TURN_DROP_NO_CHANNEL;
}

uint16_t turn_chan_num(const struct turn_alloc *a, const uint8_t peer16[16], uint16_t port,
		       uint32_t now)
{
	bool perm_ok;
	return turn_chan_num_perm(a, peer16, port, now, &perm_ok);
}
