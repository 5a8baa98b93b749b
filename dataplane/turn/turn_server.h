/* SPDX-License-Identifier: BSD-3-Clause */
/* The TURN server logic, independent of DPDK:
 *  - turn_server_request(): every STUN request (Binding, Allocate, Refresh,
 *    CreatePermission, ChannelBind) with authentication, quotas and policy. Runs on the
 *    control lcore only (the single writer of the tables).
 *  - turn_from_client() / turn_from_peer(): the data path (ChannelData, Send and Data
 *    indications, relayed UDP). Run on worker lcores; read-only on the tables apart from
 *    the per-allocation counters and token bucket.
 *  - turn_server_tick(): expiry of allocations, permissions, channels, reservations. */
#ifndef POPRELAY_TURN_SERVER_H
#define POPRELAY_TURN_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "dataplane/turn/stun_msg.h"
#include "dataplane/turn/turn_policy.h"
#include "dataplane/turn/turn_table.h"

#define TURN_REALM_MAX	  64
#define TURN_REST_SECRETS 8
#define TURN_SECRET_MAX	  128
/* An unauthenticated request never gets more than its own size plus this. */
#define TURN_AMP_SLACK 160

struct turn_cfg {
	char realm[TURN_REALM_MAX];
	char software[32];	   /* SOFTWARE in authenticated responses; "" for none */
	uint32_t lifetime_default; /* 600 */
	uint32_t lifetime_max;	   /* 3600 */
	uint32_t perm_lifetime;	   /* 300 */
	uint32_t chan_lifetime;	   /* 600 */
	uint32_t nonce_lifetime;   /* 600 */
	uint16_t chan_max;	   /* TURN_CHAN_MAX (RFC 8656), or _RFC5766 for old clients */
	uint32_t max_allocs_per_user;
	uint32_t bw_bytes_per_s; /* per allocation, 0 = unlimited */
	uint32_t unauth_rate;	 /* 401/438 per source address per second */
	uint32_t unauth_burst;
	/* More than one worker may relay to the same allocation's client (peers' datagrams
	 * are spread over workers by their own 5-tuple): its peer -> client counters then
	 * take locked adds. One worker: plain stores, it is their only writer. */
	bool shared_p2c_counters;
	bool lt_cred;		  /* long-term users */
	bool rest_cred;		  /* TURN REST shared secrets */
	struct pr_taddr relay[2]; /* [0] IPv4, [1] IPv6 relay address (fam 0 = none) */
	/* The [ha] peer appliance's relay addresses and ports ([turn] peer_relay_*): its
	 * allocations, restored from Redis at a takeover (relay_set 1), relay on them. */
	struct pr_taddr peer_relay[2];
	uint16_t peer_port_min, peer_port_max; /* 0: no peer */
	/* While draining, a new Allocate is answered 300 Try Alternate with this as
	 * ALTERNATE-SERVER (RFC 8489 10, 14.15); fam 0: 486 Allocation Quota Reached. */
	struct pr_taddr alternate;
	uint8_t nonce_secret[32];
	struct turn_policy policy;
};
void turn_cfg_defaults(struct turn_cfg *c);

/* The relayed address (port 0) of allocation a in family fi: ours, or the peer's for an
 * allocation taken over from the [ha] peer. */
static inline const struct pr_taddr *turn_relay_of(const struct turn_cfg *c,
						   const struct turn_alloc *a, int fi)
{
	return a->relay_set ? &c->peer_relay[fi] : &c->relay[fi];
}

/* What runtime tunables change (turn.* in pr_ks_tunables[]). */
struct turn_limits {
	uint32_t lifetime_default, lifetime_max, nonce_lifetime;
	uint32_t max_allocs_per_user; /* 0: none */
	uint32_t bw_bytes_per_s;      /* 0: none */
};

/* Credential sources (Redis in the dataplane, a static list in tests). Control lcore. */
struct turn_cred_ops {
	/* Long-term key of user in realm: alg STUN_PWALG_MD5 -> 16 bytes, _SHA256 -> 32.
	 * 0, -ENOENT (no such user: 401); -EINPROGRESS: the key is being fetched, and
	 * turn_server_request returns -EINPROGRESS (see there); -ENOBUFS, -EIO, -ENOMEM: the
	 * store cannot answer now (500). */
	int (*user_key)(void *arg, const char *user, const char *realm, int alg, uint8_t key[32]);
	/* Current REST secrets (rotation: every one is tried). Returns how many, or
	 * -EINPROGRESS as user_key may, or another negative errno (500). */
	int (*rest_secrets)(void *arg, char out[][TURN_SECRET_MAX], int max);
	void *arg;
};

enum turn_event {
	TURN_EV_CREATED,
	TURN_EV_REFRESHED,
	TURN_EV_PERM,
	TURN_EV_CHAN,
	TURN_EV_EXPIRED_ENTRIES, /* permissions or channels expired */
	TURN_EV_DELETED,	 /* a still valid before unpublish */
};
struct turn_hooks {
	void (*changed)(void *arg, const struct turn_alloc *a, enum turn_event ev);
	void *arg;
};

/* Control-side counters (single writer: control lcore). */
struct turn_ctl_stats {
	uint64_t requests, indications_ctl, not_stun, malformed, bad_fingerprint;
	uint64_t unauth_dropped; /* 401/438 over the per-source rate */
	uint64_t amp_dropped;	 /* answer would exceed the amplification bound */
	uint64_t allocs_created, allocs_deleted, allocs_expired;
	uint64_t restore_orphaned; /* not restored: a relayed address no longer ours */
	uint64_t err[7][100];	   /* error responses by code (class 3..6 -> [code/100]) */
	uint64_t success;
};

struct turn_ctx {
	struct pr_taddr cli; /* client's address as seen (source of the request) */
	struct pr_taddr srv; /* our listener address the request came to */
};

struct turn_server;

struct turn_server *turn_server_create(const struct turn_cfg *cfg, struct turn_table *tbl,
				       const struct turn_cred_ops *cred,
				       const struct turn_hooks *hooks);
void turn_server_destroy(struct turn_server *s);
struct turn_table *turn_server_table(struct turn_server *s);
const struct turn_cfg *turn_server_cfg(const struct turn_server *s);
/* From the thread that runs the server (between requests): the limits requests and new
 * allocations see from now on (an allocation keeps the bandwidth it was made with). 0, or
 * -EINVAL when lifetime_max < lifetime_default or a lifetime is 0. */
int turn_server_set_limits(struct turn_server *s, const struct turn_limits *l);
const struct turn_ctl_stats *turn_server_stats(const struct turn_server *s);
/* Replaces the peer policy (config reload). Control lcore. */
void turn_server_set_policy(struct turn_server *s, const struct turn_policy *p);

/* Wall clock in unix seconds, written by the control lcore, read by workers. */
void turn_server_set_now(struct turn_server *s, uint32_t now);
uint32_t turn_server_now(const struct turn_server *s);

/* Handles one datagram that is a STUN message from a client to the listener. Writes the
 * answer (if any) into out and returns its length; 0 = nothing to send; -EINPROGRESS = the
 * user_key callback answered -EINPROGRESS (it is fetching the key): nothing was done, and
 * the caller hands the same datagram in again once the key is there. Control lcore. */
int turn_server_request(struct turn_server *s, const struct turn_ctx *c, const uint8_t *pkt,
			size_t len, uint8_t *out, size_t cap);
/* Timers: expiry of everything. Returns how many allocations expired. Control lcore. */
unsigned turn_server_tick(struct turn_server *s);
/* Maintenance drain (control lcore). While on, a new Allocate is refused (300 with the
 * configured ALTERNATE-SERVER, else 486); a retransmitted Allocate of an existing one,
 * Refresh, CreatePermission, ChannelBind and data are served as always. */
void turn_server_set_draining(struct turn_server *s, bool on);
/* While down (the store of allocations and users is away), Allocate, Refresh,
 * CreatePermission and ChannelBind are answered 500 before authentication; Binding and data
 * are served as always. */
void turn_server_set_store_down(struct turn_server *s, bool down);
bool turn_server_draining(const struct turn_server *s);
/* The drain's deadline passed: every allocation is deleted as an expiry deletes it
 * (allocs_expired). Returns how many. Control lcore. */
unsigned turn_server_expire_all(struct turn_server *s);
/* Deletes allocation by id (poprelayctl). 0 or -ENOENT. Control lcore. */
int turn_server_delete(struct turn_server *s, uint64_t id);
struct turn_alloc *turn_server_find_id(struct turn_server *s, uint64_t id);

/* Restores a persisted allocation (after a restart, or the [ha] peer's at a takeover:
 * a->relay_set 1): ports, 5-tuple, username, expiry, permissions and channels as they
 * were. a is filled by the caller like an allocation (in_use, seq, stats ignored). 0,
 * -EEXIST, -ENOSPC, -EINVAL. Control lcore. */
int turn_server_restore(struct turn_server *s, const struct turn_alloc *a);
/* Whether ip:port of family fi (0 IPv4, 1 IPv6) is a relayed transport address this relay
 * hands out now: the configured relay address of that family and a port of the relay range,
 * what an Allocate picks from. A persisted allocation that holds another (the port was
 * readdressed or the range changed since) is an orphan: the caller deletes it instead of
 * restoring it and counts it with turn_server_count_orphan (restore_orphaned). */
bool turn_server_relay_ours(const struct turn_server *s, int fi, const uint8_t *ip, uint16_t port);
void turn_server_count_orphan(struct turn_server *s);
/* Whether ip:port of family fi is one of the [ha] peer's relayed addresses (peer_relay and
 * its port range): an allocation of the peer's, left alone at start, restored at a
 * takeover. */
bool turn_server_relay_peer(const struct turn_server *s, int fi, const uint8_t *ip, uint16_t port);
/* Release: drops every allocation taken over from the peer (relay_set 1) from the tables
 * without deleting its records (the peer serves them again). Returns how many. */
unsigned turn_server_forget_peer(struct turn_server *s);
/* The same for our own allocations (set 0): our [ha] addresses are held by the peer
 * (dp_ha.h), which is their writer until it gives them back. */
unsigned turn_server_forget_own(struct turn_server *s);

/* ---- data path (workers) ---- */
enum turn_fwd_kind {
	TURN_FWD_DROP = 0,
	TURN_FWD_PEER,	  /* send to a peer from the relay address */
	TURN_FWD_CLIENT,  /* send to the client from the listener address */
	TURN_FWD_CONTROL, /* a request: hand to the control lcore */
};
struct turn_fwd {
	struct pr_taddr src, dst; /* the outgoing datagram's addresses */
	uint16_t strip;		  /* bytes to cut from the front of the received payload */
	uint16_t keep;		  /* bytes of it kept after the strip */
	uint16_t hdr_len;	  /* bytes of hdr to put in front */
	uint16_t pad;		  /* zero bytes to append */
	uint8_t kind;
	uint8_t drop; /* enum turn_drop, or 0xff when no allocation is involved */
	uint8_t hdr[64];
};
/* A datagram from a client to the listener. */
void turn_from_client(struct turn_server *s, const struct turn_ctx *c, const uint8_t *pkt,
		      uint16_t len, uint64_t now_us, uint64_t *rnd, struct turn_fwd *f);
/* A datagram from peer to our relay port (fi: 0 IPv4, 1 IPv6). */
void turn_from_peer(struct turn_server *s, int fi, uint16_t relay_port, const struct pr_taddr *peer,
		    const uint8_t *pkt, uint16_t len, uint64_t now_us, uint64_t *rnd,
		    struct turn_fwd *f);

/* The data path over a burst: the table lookups of up to TURN_BURST datagrams are in flight
 * together (dataplane/turn/turn_table.h), then each gets the same decision turn_from_client
 * or turn_from_peer would give it, in f[i]. From a client: c.cli is its address, c.srv our
 * listener. From a peer: c.cli is the peer, c.srv our relay address and port. */
#define TURN_BURST 32
struct turn_dgram {
	struct turn_ctx c;
	const uint8_t *pl; /* UDP payload */
	uint16_t len;
	uint8_t from_peer;
};
void turn_relay_burst(struct turn_server *s, const struct turn_dgram *d, unsigned n,
		      uint64_t now_us, uint64_t *rnd, struct turn_fwd *f);

/* The IPv4 channel fast path: relays in place, in one pass over a burst, every datagram whose
 * whole decision is "forward over a bound channel" between an IPv4 client and an IPv4 peer,
 * and whose rewrite is the common one: a ChannelData from a client without padding after
 * its data, or a peer's datagram for a channel; a non-zero UDP checksum (updated, not
 * recomputed, so damage stays visible). Everything else, and any doubt (a hash collision,
 * an expired or missing permission or channel, a bandwidth cap that says no, a client
 * relayed to one of our own relay addresses), is left untouched with no side effect:
 * handled stays 0 and the caller gives the datagram to turn_relay_burst, which decides and
 * counts it. A handled datagram is counted exactly as turn_relay_burst would count it, and
 * its bytes are what dp_udp_relay would write for that decision.
 * In: ip, the IPv4 header (IHL 5; the caller verified the header checksum and the lengths)
 * followed by udp_len bytes of UDP; from_peer: sent to a relay port (else to the listener).
 * A datagram from a peer grows by 4 bytes in front: ip - 4 must be writable.
 * Out: the relayed IPv4 datagram starts at ip + out_off and is out_len bytes long, toward
 * out_dst (network order). Returns how many were handled. */
struct turn_fast {
	uint8_t *ip;
	uint16_t udp_len;
	uint8_t from_peer;
	uint8_t handled;
	int16_t out_off;
	uint16_t out_len;
	uint32_t out_dst; /* IPv4 only */
};
unsigned turn_relay_v4_burst(struct turn_server *s, struct turn_fast *d, unsigned n,
			     uint64_t now_us);

/* The IPv6 channel fast path: the same for IPv6 clients relayed to IPv6 peers through the
 * IPv6 relay address, and back. ip points at a 40-byte IPv6 header whose next header is UDP
 * (no extension header), the UDP header right after it; udp_len is the UDP length field,
 * which the caller has checked against the packet. A relayed datagram's new IPv6 header
 * (traffic class and flow label 0, hop limit 64, as the general path writes it) is at
 * ip + out_off, out_len bytes with it; its next hop is its destination address (out_dst is
 * not set). Peers' datagrams need 4 bytes of headroom before ip. Declined datagrams are left
 * untouched and uncounted, as in turn_relay_v4_burst. */
unsigned turn_relay_v6_burst(struct turn_server *s, struct turn_fast *d, unsigned n,
			     uint64_t now_us);

/* Nonces (exposed for tests): writes a NUL-terminated nonce for cli valid until
 * now + nonce_lifetime; returns its length. */
int turn_nonce_make(const struct turn_server *s, const struct pr_taddr *cli, uint32_t now,
		    char *out, size_t outlen);
/* 0 valid, -ESTALE expired, -EINVAL forged/garbled or for another address. */
int turn_nonce_check(const struct turn_server *s, const struct pr_taddr *cli, uint32_t now,
		     const char *nonce, size_t len);

#endif
