/* SPDX-License-Identifier: BSD-3-Clause */
/* TURN allocation tables: fixed pool of compact allocations with their permissions and
 * channels inline, a 5-tuple hash and per-family relay-port maps.
 *
 * Concurrency: the control lcore is the only writer of everything here. Workers read
 * lock-free: hash slots and port-map entries are single 64/32-bit atomic words; an
 * allocation slot is recycled only after an RCU grace period (turn_rcu_ops, backed by
 * rte_rcu_qsbr in the dataplane); permissions and channels, which change in place, are
 * read under a per-allocation sequence counter (readers retry, the writer never waits).
 * Counters and the token bucket are written by workers with relaxed atomics. */
#ifndef POPRELAY_TURN_TABLE_H
#define POPRELAY_TURN_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dataplane/turn/stun_msg.h"

#define TURN_MAX_PERMS	  12
#define TURN_MAX_CHANS	  12
#define TURN_USERNAME_MAX 80 /* incl. NUL; REST "expiry:user" with a 63-char user fits */

enum turn_drop {
	TURN_DROP_NO_PERMISSION = 0, /* peer without permission (either direction) */
	TURN_DROP_NO_CHANNEL,	     /* ChannelData on an unbound channel */
	TURN_DROP_BANDWIDTH,	     /* token bucket empty */
	TURN_DROP_MALFORMED,	     /* Send indication without peer/data, bad family */
	TURN_DROP_MAX
};
extern const char *const turn_drop_names[TURN_DROP_MAX];

/* Key of an allocation (RFC 8656 2: the 5-tuple; proto PR_TP_UDP, or PR_TP_TCP/PR_TP_TLS
 * for a client of the stream front). IPv4 addresses are stored in ip[0..3]. */
struct turn_5tuple {
	uint8_t cli_ip[16];
	uint8_t srv_ip[16];
	uint16_t cli_port;
	uint16_t srv_port;
	uint8_t fam;
	uint8_t proto;	 /* PR_TP_* (stun_msg.h) */
	uint8_t _pad[2]; /* always zero: keys are hashed and compared as five 64-bit words */
} __attribute__((aligned(8)));

/* A key's hash from its five 64-bit words, as struct turn_5tuple lies in memory, under the
 * table's secret key k (turn_table_hash_key: random per table, so that which 5-tuples
 * collide cannot be worked out from the source; not a cryptographic function, and hash
 * flooding is bounded by the allocation quotas too). Each word goes through its own
 * multiply, so that the five run side by side (a chain of five multiply-xorshift rounds
 * cost every client datagram ~35 cycles of latency), then one avalanche over their
 * combination. Inline, so that the IPv4 fast path hashes words it holds in registers: a
 * key stored and read straight back as words stalled on store forwarding. */
static inline uint32_t turn_hash_words(const uint64_t w[5], const uint64_t k[5])
{
	uint64_t h =
	    ((w[0] + k[0]) * 0xbf58476d1ce4e5b9ull) ^ ((w[1] + k[1]) * 0x94d049bb133111ebull) ^
	    ((w[2] + k[2]) * 0xd6e8feb86659fd93ull) ^ ((w[3] + k[3]) * 0xa0761d6478bd642full) ^
	    ((w[4] + k[4]) * 0xe7037ed1a0b428dbull);
	h ^= h >> 32;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 29;
	return (uint32_t)(h >> 32);
}

/* The key of an IPv4 client's allocation from an IPv4 packet's addresses (network order,
 * as they lie in memory) and ports (host order), as its five words (w, for the hash) and in
 * memory (ft): five word stores, which the compare reads back as five words. */
static inline void turn_5tuple_set4w(struct turn_5tuple *ft, uint64_t w[5], uint32_t cli,
				     uint16_t cli_port, uint32_t srv, uint16_t srv_port)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	w[0] = cli;
	w[1] = 0;
	w[2] = srv;
	w[3] = 0;
	w[4] = cli_port | (uint64_t)srv_port << 16 | (uint64_t)4 << 32;
	memcpy(ft, w, 40);
#else
	struct turn_5tuple k;
	memset(&k, 0, sizeof(k));
	memcpy(k.cli_ip, &cli, 4);
	memcpy(k.srv_ip, &srv, 4);
	k.cli_port = cli_port;
	k.srv_port = srv_port;
	k.fam = 4;
	memcpy(w, &k, 40);
	*ft = k;
#endif
}

/* The same from 16-byte addresses (IPv6, or IPv4 in their first 4 bytes and zeros after)
 * of family fam, over transport proto (PR_TP_*): an IPv6 packet's addresses as they lie
 * (PR_TP_UDP), or a turn_ctx's. */
static inline void turn_5tuple_set16w(struct turn_5tuple *ft, uint64_t w[5], const uint8_t *cli,
				      uint16_t cli_port, const uint8_t *srv, uint16_t srv_port,
				      uint8_t fam, uint8_t proto)
{
	memcpy(&w[0], cli, 8);
	memcpy(&w[1], cli + 8, 8);
	memcpy(&w[2], srv, 8);
	memcpy(&w[3], srv + 8, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	w[4] = cli_port | (uint64_t)srv_port << 16 | (uint64_t)fam << 32 | (uint64_t)proto << 40;
	memcpy(ft, w, 40);
#else
	memcpy(ft, w, 32);
	memset(&ft->cli_port, 0, 8);
	ft->cli_port = cli_port;
	ft->srv_port = srv_port;
	ft->fam = fam;
	ft->proto = proto;
	memcpy(&w[4], &ft->cli_port, 8);
#endif
}

/* Peers are stored as 16 bytes: IPv6 as is, IPv4 as ::ffff:a.b.c.d. */
struct turn_perm {
	uint8_t ip[16];
	uint32_t expires; /* unix seconds */
};

struct turn_chan {
	uint8_t ip[16];
	uint16_t port;
	uint16_t num;
	uint32_t expires;
	/* The expiry of the permission for ip, kept here by control (turn_perm_set,
	 * turn_chan_set, turn_alloc_link_chans) so that relaying over a channel reads one
	 * entry, not two arrays. */
	uint32_t perm_expires;
};

struct turn_alloc_stats {
	uint64_t pkts_c2p, bytes_c2p; /* client -> peer (ChannelData, Send) */
	uint64_t pkts_p2c, bytes_p2c; /* peer -> client (ChannelData, Data) */
};

/* One allocation. Control writes all but counters and bucket; workers write those.
 * Laid out for the data path: a packet relayed over a channel reads two cache lines, the
 * first with everything it needs to find its way (key, expiry, relay ports, entry counts),
 * the second with the counters it bumps and the first channel. */
struct turn_alloc {
	struct turn_5tuple ft;	/* immutable while published */
	uint32_t expires;	/* unix seconds */
	uint16_t relay_port[2]; /* [0] IPv4 relay, [1] IPv6 relay; 0 = none */
	uint32_t seq;		/* seqlock over perm[], chan[], n_perm, n_chan */
	uint32_t bw_rate;	/* bytes per second, 0 = unlimited */
	uint8_t n_perm, n_chan;
	uint8_t in_use;
	uint8_t dont_fragment;
	uint8_t dirty;	   /* control: needs writing to Redis */
	uint8_t relay_set; /* 0: our relay addresses; 1: the [ha] peer's (taken over) */
	uint8_t _pad0[2];
	struct turn_alloc_stats st __attribute__((aligned(64))); /* worker-written */
	struct turn_chan chan[TURN_MAX_CHANS];
	struct turn_perm perm[TURN_MAX_PERMS];
	uint64_t drops[TURN_DROP_MAX]; /* worker-written */
	int64_t bw_tokens;	       /* bytes, worker-written */
	uint64_t bw_last_us;	       /* worker-written */
	uint64_t id;
	uint32_t created; /* unix seconds */
	uint8_t tid[12];  /* Allocate transaction, to answer its retransmissions */
	char username[TURN_USERNAME_MAX];
};

struct turn_rcu_ops {
	uint64_t (*start)(void *arg);		 /* token for "everything retired so far" */
	int (*check)(void *arg, uint64_t token); /* 1 once every reader has moved past */
	void *arg;
};

struct turn_table;

/* max_allocs slots; relay ports [port_min, port_max] for each family. zalloc/free default to
 * calloc/free when NULL (the dataplane passes rte_zmalloc-backed ones). NULL on failure. */
struct turn_table *turn_table_create(uint32_t max_allocs, uint16_t port_min, uint16_t port_max,
				     void *(*zalloc)(size_t), void (*zfree)(void *));
void turn_table_destroy(struct turn_table *t);
void turn_table_set_rcu(struct turn_table *t, const struct turn_rcu_ops *ops);
uint32_t turn_table_capacity(const struct turn_table *t);
uint32_t turn_table_count(const struct turn_table *t);
/* Total bytes the table uses (slots, hash, port maps), for the memory budget. */
size_t turn_table_bytes(const struct turn_table *t);

/* ---- control lcore (the single writer) ---- */
/* A zeroed free slot, not yet visible to readers; NULL when the pool is exhausted. */
struct turn_alloc *turn_alloc_get(struct turn_table *t);
/* Gives back a slot obtained by turn_alloc_get that was never published. */
void turn_alloc_put(struct turn_table *t, struct turn_alloc *a);
/* Picks a free relay port of family fi (0 = IPv4, 1 = IPv6): even when even, and then with
 * port+1 free too when pair. 0 when exhausted. */
uint16_t turn_port_pick(struct turn_table *t, int fi, bool even, bool pair);
bool turn_port_free(const struct turn_table *t, int fi, uint16_t port);
/* Whether port is in the table's relay range (held or not). */
bool turn_port_in_range(const struct turn_table *t, uint16_t port);
/* Marks/unmarks a port as held without an allocation (RESERVATION-TOKEN). */
void turn_port_hold(struct turn_table *t, int fi, uint16_t port, bool held);
/* Makes a (fully written) allocation visible: 5-tuple hash and its relay ports. -EEXIST if
 * the 5-tuple or a port is taken. */
int turn_alloc_publish(struct turn_table *t, struct turn_alloc *a);
/* Removes it from every index at once, and recycles the slot after a grace period. */
void turn_alloc_unpublish(struct turn_table *t, struct turn_alloc *a);
/* Recycles slots whose grace period is over. Call from the control loop. */
void turn_table_reclaim(struct turn_table *t);
/* Iterates over published allocations: start with idx 0; NULL at the end. */
struct turn_alloc *turn_alloc_next(struct turn_table *t, uint32_t *idx);

/* Permissions/channels (control). peer16 is the 16-byte stored form (turn_peer16). */
/* Installs or refreshes; -ENOSPC when full. */
int turn_perm_set(struct turn_alloc *a, const uint8_t peer16[16], uint32_t expires);
/* Binds or refreshes; -EINVAL when num is bound to another peer or the peer to another
 * number (RFC 8656 11.2), -ENOSPC when full. */
int turn_chan_set(struct turn_alloc *a, uint16_t num, const uint8_t peer16[16], uint16_t port,
		  uint32_t expires);
/* Sets every channel's perm_expires from the permissions (after filling both arrays
 * directly, as a restore does). */
void turn_alloc_link_chans(struct turn_alloc *a);
/* Drops expired permissions and channels; returns how many went. */
unsigned turn_alloc_expire_entries(struct turn_alloc *a, uint32_t now);

/* ---- readers (workers, and control) ---- */
struct turn_alloc *turn_lookup_5tuple(const struct turn_table *t, const struct turn_5tuple *ft);
bool turn_perm_ok(const struct turn_alloc *a, const uint8_t peer16[16], uint32_t now);
/* Channel number -> peer; false when unbound or expired. */
bool turn_chan_peer(const struct turn_alloc *a, uint16_t num, uint32_t now, uint8_t peer16[16],
		    uint16_t *port);
/* Peer -> channel number, 0 when none. */
uint16_t turn_chan_num(const struct turn_alloc *a, const uint8_t peer16[16], uint16_t port,
		       uint32_t now);
/* The table's hash of ft (turn_table_hash_key below has its secret key). */
uint32_t turn_table_hash(const struct turn_table *t, const struct turn_5tuple *ft);

/* ---- the workers' reads, inline ----
 * Every relayed datagram goes through these, several times a burst: out of line they were
 * a call each (and the caller's spills around it), about 3 ns a datagram of the fast path
 * (relay_bench, 1,000 allocations: 20.3 -> 22.1 Mpps client -> peer). So the part of a
 * table they read is here, first in struct turn_table, and they are defined here. */

#define TURN_H_EMPTY 0ull
#define TURN_H_TOMB  1ull

/* Open addressing, linear probing; an entry is (hash32 << 32) | (slot index + 2). */
struct turn_hash {
	uint32_t mask;
	uint32_t used, tombs;
	uint64_t e[];
};

struct turn_table_rd {
	struct turn_alloc *slots;
	struct turn_hash *ht;  /* atomically swapped on rebuild */
	uint32_t *port2idx[2]; /* idx + 1, 0 = none */
	uint64_t hkey[5];      /* the 5-tuple hash's secret key */
};

static inline const struct turn_table_rd *turn_table_rd(const struct turn_table *t)
{
	return (const struct turn_table_rd *)(const void *)t; /* its first member */
}

/* The table's secret key: five words, for turn_hash_words. */
static inline const uint64_t *turn_table_hash_key(const struct turn_table *t)
{
	return turn_table_rd(t)->hkey;
}

/* One 64-bit word at p: compares load each word of both sides straight from where it lies
 * (a copy of the keys into word arrays first was read back across two 16-byte stores, which
 * store forwarding cannot serve: a quarter of the compare's time). */
static inline uint64_t turn_ld64(const void *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static inline bool turn_5tuple_eq(const struct turn_5tuple *a, const struct turn_5tuple *b)
{
	const uint8_t *x = (const uint8_t *)a, *y = (const uint8_t *)b;
	return !((turn_ld64(x) ^ turn_ld64(y)) | (turn_ld64(x + 8) ^ turn_ld64(y + 8)) |
		 (turn_ld64(x + 16) ^ turn_ld64(y + 16)) | (turn_ld64(x + 24) ^ turn_ld64(y + 24)) |
		 (turn_ld64(x + 32) ^ turn_ld64(y + 32)));
}

static inline bool turn_peer_eq(const uint8_t *a, const uint8_t *b)
{
	return !((turn_ld64(a) ^ turn_ld64(b)) | (turn_ld64(a + 8) ^ turn_ld64(b + 8)));
}

/* A peer address (4 or 16 bytes at ip, of family fam) in its stored 16-byte form. */
static inline void turn_peer16(uint8_t out[16], const uint8_t *ip, uint8_t fam)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (fam == 4) { /* two word stores: read back as two words right away */
		uint32_t v4;
		memcpy(&v4, ip, 4);
		uint64_t w0 = 0, w1 = 0xffff0000u | (uint64_t)v4 << 32;
		memcpy(out, &w0, 8);
		memcpy(out + 8, &w1, 8);
		return;
	}
#endif
	if (fam == 4) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, ip, 4);
	} else {
		memcpy(out, ip, 16);
	}
}

/* Readers of perm[], chan[], n_perm and n_chan: retry while the writer is compacting. */
#define TURN_SEQ_READ(a, body)                                                                     \
	for (;;) {                                                                                 \
		uint32_t s1_ = __atomic_load_n(&(a)->seq, __ATOMIC_ACQUIRE);                       \
		if (s1_ & 1)                                                                       \
			continue;                                                                  \
		body;                                                                              \
		__atomic_thread_fence(__ATOMIC_ACQUIRE);                                           \
		if (__atomic_load_n(&(a)->seq, __ATOMIC_RELAXED) == s1_)                           \
			break;                                                                     \
	}

/* The data path's one-entry reads, checking the channel's and its permission's expiry:
 * channel number -> peer (TURN_DROP_MAX when usable, else TURN_DROP_NO_CHANNEL or
 * TURN_DROP_NO_PERMISSION), */
static inline enum turn_drop turn_chan_peer_perm(const struct turn_alloc *a, uint16_t num,
						 uint32_t now, uint8_t peer16[16], uint16_t *port)
{
	enum turn_drop r = TURN_DROP_NO_CHANNEL;
	TURN_SEQ_READ(a, {
		r = TURN_DROP_NO_CHANNEL;
		unsigned n = __atomic_load_n(&a->n_chan, __ATOMIC_ACQUIRE);
		for (unsigned i = 0; i < n && i < TURN_MAX_CHANS; i++) {
			const struct turn_chan *c = &a->chan[i];
			if (c->num == num) {
				if (__atomic_load_n(&c->expires, __ATOMIC_RELAXED) > now)
					r = __atomic_load_n(&c->perm_expires, __ATOMIC_RELAXED) >
						    now
						? TURN_DROP_MAX
						: TURN_DROP_NO_PERMISSION;
				memcpy(peer16, c->ip, 16);
				*port = c->port;
				break;
			}
		}
	});
	return r;
}

/* and peer -> live channel number (0 when none; *perm_ok says whether its permission
 * holds). */
static inline uint16_t turn_chan_num_perm(const struct turn_alloc *a, const uint8_t peer16[16],
					  uint16_t port, uint32_t now, bool *perm_ok)
{
	/* 32 bits wide: kept on the stack across the loop, a 16-bit store read back by
	 * the caller as 32 bits is a store-forwarding stall (12% of relay_bench's IPv4 fast
	 * path, peer -> client) */
	uint32_t num = 0;
	TURN_SEQ_READ(a, {
		num = 0;
		unsigned n = __atomic_load_n(&a->n_chan, __ATOMIC_ACQUIRE);
		for (unsigned i = 0; i < n && i < TURN_MAX_CHANS; i++) {
			const struct turn_chan *c = &a->chan[i];
			if (c->port == port && turn_peer_eq(c->ip, peer16)) {
				if (__atomic_load_n(&c->expires, __ATOMIC_RELAXED) > now) {
					num = c->num;
					*perm_ok = __atomic_load_n(&c->perm_expires,
								   __ATOMIC_RELAXED) > now;
				}
				break;
			}
		}
	});
	return (uint16_t)num;
}

/* The allocation whose relay port of family fi (0 = IPv4, 1 = IPv6) is port, or NULL. */
static inline struct turn_alloc *turn_lookup_relay(const struct turn_table *t, int fi,
						   uint16_t port)
{
	const struct turn_table_rd *r = turn_table_rd(t);
	uint32_t v = __atomic_load_n(&r->port2idx[fi][port], __ATOMIC_ACQUIRE);
	return v ? &r->slots[v - 1] : NULL;
}

/* Burst lookups: three steps, each prefetching what the next one reads, so that a burst's
 * cache misses overlap instead of following each other:
 * 1. turn_hash_prefetch(ft) / turn_hash_prefetch_hv(hv) / turn_relay_prefetch(fi, port):
 *    the index entry;
 * 2. turn_hash_candidate(hv) / turn_lookup_relay(): the slot it names (or NULL), without
 *    reading the slot; then turn_alloc_prefetch() on it;
 * 3. the caller checks the candidate's key (turn_5tuple_eq) and falls back to
 *    turn_lookup_5tuple on a mismatch (two keys with the same 32-bit hash). */
uint32_t turn_hash_prefetch(const struct turn_table *t, const struct turn_5tuple *ft);

/* The same for a hash already computed (turn_hash_words). */
static inline void turn_hash_prefetch_hv(const struct turn_table *t, uint32_t hv)
{
	const struct turn_hash *h = __atomic_load_n(&turn_table_rd(t)->ht, __ATOMIC_ACQUIRE);
	__builtin_prefetch(&h->e[hv & h->mask]);
}

static inline struct turn_alloc *turn_hash_candidate(const struct turn_table *t, uint32_t hv)
{
	const struct turn_table_rd *r = turn_table_rd(t);
	const struct turn_hash *h = __atomic_load_n(&r->ht, __ATOMIC_ACQUIRE);
	uint32_t i = hv & h->mask;
	for (uint32_t n = 0; n <= h->mask; n++) {
		uint64_t e = __atomic_load_n(&h->e[i], __ATOMIC_ACQUIRE);
		if (e == TURN_H_EMPTY)
			return NULL;
		if (e != TURN_H_TOMB && (uint32_t)(e >> 32) == hv)
			return &r->slots[(uint32_t)e - 2];
		i = (i + 1) & h->mask;
	}
	return NULL;
}

static inline void turn_relay_prefetch(const struct turn_table *t, int fi, uint16_t port)
{
	__builtin_prefetch(&turn_table_rd(t)->port2idx[fi][port]);
}

/* The two lines of an allocation a channel's packets read: key, then counters and chan[0]. */
static inline void turn_alloc_prefetch(const struct turn_alloc *a)
{
	const char *p = (const char *)a;
	__builtin_prefetch(p);
	__builtin_prefetch(p + 64, 1);
}

#endif
