/* SPDX-License-Identifier: BSD-3-Clause */
/* Runtime state shared by the dataplane's files. Ownership is written on each field. */
#ifndef POPRELAY_DP_H
#define POPRELAY_DP_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dataplane/dp_config.h"
#include "dataplane/dp_counters.h"
#include "dataplane/dp_parse.h"

#define DP_VERSION     "0.1.0"
#define DP_MAX_WORKERS 64
#define DP_MAX_BURST   256

/* One worker's TX buffer for one port. Writer: that worker only. */
struct dp_txbuf {
	uint16_t n;
	uint32_t bytes; /* pkt_len of pkts[0..n), for tx_bytes (TX buffers only) */
	struct rte_mbuf *pkts[DP_MAX_BURST];
};

/* UDP datagrams for a feature with a burst handler, gathered over one RX burst. */
struct dp_udp_batch {
	uint8_t feature_id;
	uint16_t n;
	struct rte_mbuf *m[DP_MAX_BURST];
	struct dp_pkt_info pi[DP_MAX_BURST];
};

/* An IPv4 UDP datagram that passed the worker's short validation (dp_udp.h, 7.). */
struct dp_udp4 {
	struct rte_mbuf *m;
	uint8_t *ip;	    /* its IPv4 header: 20 bytes, no options; the UDP header follows */
	uint16_t udp_len;   /* the UDP length field: 8 .. what the IP total length leaves */
	uint16_t dport;	    /* host order */
	uint16_t port;	    /* index into dp_rt.ports[] it came in on */
	uint8_t feature_id; /* the feature whose claimed range holds dport */
};

/* Those datagrams, gathered over one RX burst, for the features that take them
 * (dp_udp4_ports). The IPv6 short way's datagrams come in the same form, in a batch of
 * their own (batch6): ip is then their 40-byte IPv6 header. */
struct dp_udp4_batch {
	uint16_t n;
	bool mixed; /* d[] holds datagrams of more than one feature */
	struct dp_udp4 d[DP_MAX_BURST];
};

/* A worker's few most recent next hops (dp_udp.c): valid while dp_neigh_gen == gen. */
#define DP_NH_CACHE 8
struct dp_nh_cache {
	uint32_t gen;
	uint16_t port;
	uint8_t valid;
	struct rte_ether_addr mac;
	struct dp_ipaddr nh;
};

/* A worker lcore. Writer: the worker itself, except where noted. */
struct dp_worker {
	unsigned int lcore_id; /* control: wo before launch */
	unsigned int index;    /* 0..nb_workers-1; also its RX and TX queue id on every port */
	struct rte_ring *punt; /* worker -> control; control is the only consumer */
	struct rte_ring *back; /* control -> worker: punted packets handed back (dp_punt_return) */
	struct dp_lcore_stats *stats;
	struct dp_txbuf tx[DP_MAX_PORTS];
	struct dp_txbuf dropped; /* freed in bulk once per loop (dp_drop defers the free) */
	struct dp_udp_batch batch;
	struct dp_udp4_batch batch4;
	struct dp_udp4_batch batch6;
	struct dp_nh_cache nh_cache[DP_NH_CACHE];
	/* Datagrams this worker sent to one of our own addresses (dp_udp_tx): they take the
	 * way in at the end of the loop iteration (dp_worker_hairpin). */
	struct dp_txbuf hairpin;
} __rte_cache_aligned;

/* A configured port. Writer: control before workers start; read-only afterwards. */
struct dp_port {
	uint16_t port_id;
	struct rte_ether_addr mac;
	struct dp_prefix ipv4; /* the primary addresses: ARP/ND probes' source by default */
	struct dp_prefix ipv6;
	struct dp_prefix_list ipv4_extra; /* [portN] ipv4_extra, ipv6_extra: ours as well */
	struct dp_prefix_list ipv6_extra;
	struct dp_ipaddr gateway4; /* family 0: none */
	struct dp_ipaddr gateway6;
	uint16_t nb_rxq;
	uint16_t ctl_txq; /* the control lcore's TX queue (= nb_workers) */
	bool started;
};

/* Global runtime state. Writer: control lcore (main) during init/teardown only, except
 * quit, which the signal handler sets. */
struct dp_runtime {
	volatile bool quit;	    /* signal handler: wo; everyone: ro */
	volatile bool stop_workers; /* control: wo; workers: ro */
	unsigned int nb_workers;
	struct dp_worker workers[DP_MAX_WORKERS];
	unsigned int nb_ports;
	struct dp_port ports[DP_MAX_PORTS];
	struct rte_mempool *pool;
	struct rte_rcu_qsbr *rcu;
	struct rte_ring *hairpin; /* control -> worker 0: control's datagrams to our addresses */
	uint64_t start_tsc;
	uint64_t tsc_hz;
	uint64_t tsc_per_ms;
	uint64_t start_time; /* UNIX seconds */
	unsigned int main_lcore;
};

extern struct dp_runtime dp_rt;

/* Kinds of punt from a worker to control (struct dp_punt_meta.kind). */
enum dp_punt_kind {
	DP_PUNT_ARP = 1, /* ARP frame for control to answer/learn */
	DP_PUNT_ND,	 /* NS/NA for control to answer/learn */
	DP_PUNT_RESOLVE, /* a frame to an unresolved next hop: resolve, then drop it */
	DP_PUNT_FEATURE, /* for the feature in feature_id */
};

/* Stored in each mbuf's private area (the pool is created with room for it). */
struct dp_punt_meta {
	uint8_t kind;
	uint8_t feature_id;
	uint8_t worker;		  /* index of the worker that punted it (dp_punt_return) */
	uint16_t port;		  /* index into dp_rt.ports[] */
	struct dp_ipaddr nexthop; /* DP_PUNT_RESOLVE */
	struct dp_pkt_info pi;	  /* as parsed by the worker */
};

static inline struct dp_punt_meta *dp_mbuf_meta(struct rte_mbuf *m)
{
	return (struct dp_punt_meta *)rte_mbuf_to_priv(m);
}

/* Does m come from a pool with room for dp_punt_meta (dp_rt.pool does)? */
static inline bool dp_mbuf_has_meta(const struct rte_mbuf *m)
{
	return m->pool != NULL && rte_pktmbuf_priv_size(m->pool) >= sizeof(struct dp_punt_meta);
}

static inline uint64_t dp_now_ms(void)
{
	/* Divide first: (cycles * 1000) would overflow after ~70 days at 3 GHz. */
	return (rte_get_tsc_cycles() - dp_rt.start_tsc) / dp_rt.tsc_per_ms;
}

/* Worker-side helpers (dp_worker.c). */
/* Transmits the worker's buffered packets for port index port_idx now. */
void dp_worker_tx_flush(struct dp_worker *w, uint16_t port_idx);
/* TSC cycles to microseconds without a division per call (the busy_us of every busy worker
 * loop): q = dp_us_q32(tsc_hz) once, then dp_cyc_to_us(cyc, q) is cyc / (tsc_hz / 10^6),
 * never above it and below it by less than (tsc_hz / 10^6) / 2^32 of it (one part in a
 * million at 4 GHz). */
static inline uint64_t dp_us_q32(uint64_t tsc_hz)
{
	return ((uint64_t)1 << 32) / RTE_MAX(tsc_hz / 1000000, (uint64_t)1);
}

static inline uint64_t dp_cyc_to_us(uint64_t cyc, uint64_t q)
{
	return (uint64_t)(((unsigned __int128)cyc * q) >> 32);
}

static inline void dp_worker_tx(struct dp_worker *w, uint16_t port_idx, struct rte_mbuf *m)
{
	struct dp_txbuf *b = &w->tx[port_idx];

	b->bytes += rte_pktmbuf_pkt_len(m);
	b->pkts[b->n++] = m;
	if (b->n >= __atomic_load_n(&dp_cfg.dp.burst_size, __ATOMIC_RELAXED))
		dp_worker_tx_flush(w, port_idx);
}
void dp_worker_flush(struct dp_worker *w);
/* Worker: the datagrams sent to our own addresses (w->hairpin, and for worker 0 control's
 * from dp_rt.hairpin) take the full way in, as if received on the port that owns their
 * destination. Returns how many. */
unsigned int dp_worker_hairpin(struct dp_worker *w);
/* Worker: the packets control handed back (w->back, dp_punt_return) go to their feature's
 * .udp_returned (or its UDP input). Returns how many. */
unsigned int dp_worker_returned(struct dp_worker *w);
int dp_worker_main(void *arg);

/* Control-side (dp_control.c). */
/* Queues m for port_idx's control TX queue (control lcore only; always 0): it leaves with
 * the step's other packets at dp_control_tx_flush, which the loop calls after each step.
 * What the queue does not take then is freed and counted (tx_full). */
int dp_control_tx(uint16_t port_idx, struct rte_mbuf *m);
void dp_control_tx_flush(void);
void dp_control_loop(void);
int dp_ctl_resolve(uint16_t port_idx, const struct dp_ipaddr *nh);
/* Control: resolve the next hop toward dst on port_idx before a packet needs it (the device
 * itself when on our segment, else our route's next hop): a request unless dst or the next
 * hop is ours, dst is unroutable (SKIPPED), the next hop is known (KNOWN) or being resolved
 * (PENDING), or the table is 3/4 full (FULL). */
enum dp_resolve {
	DP_RESOLVE_SKIPPED,
	DP_RESOLVE_KNOWN,
	DP_RESOLVE_PENDING,
	DP_RESOLVE_FULL,
	DP_RESOLVE_SENT,
	DP_RESOLVE_NOT_SENT, /* a request went out recently, or it could not be sent */
};
enum dp_resolve dp_ctl_resolve_toward(uint16_t port_idx, const struct dp_ipaddr *dst);
/* dp_ctl_resolve_toward for a media session's parties as it is installed (its first
 * datagrams to an on-link device then wait for no ARP/ND), at most DP_RESOLVE_AHEAD_PER_S
 * requests a second, counted neigh_resolve_ahead. 1: a request went out. */
#define DP_RESOLVE_AHEAD_PER_S 500
int dp_ctl_resolve_ahead(uint16_t port_idx, const struct dp_ipaddr *dst);
/* Control: start resolving nh and park m (data at the IP header) until it answers; m is
 * then sent from control's TX queue, or dropped (neigh_unresolved) if nh never answers. */
void dp_ctl_park(struct rte_mbuf *m, uint16_t port_idx, const struct dp_ipaddr *nh);
/* The dp_neigh release callback for parked mbufs (dp_udp.c). */
void dp_udp_release_pending(void *pkt, uint16_t port, const struct rte_ether_addr *mac);

/* Is dst one of our addresses on port port_idx (the primary or an extra one)? */
bool dp_addr_is_ours(const struct dp_port *p, const struct dp_ipaddr *a);
/* Whether IPv4 address a (network order) is one of p's extra addresses (the primary is
 * the caller's to compare first: the common case costs nothing more). */
static inline bool dp_addr4_is_extra(const struct dp_port *p, uint32_t a)
{
	for (unsigned int i = 0; i < p->ipv4_extra.n; i++)
		if (p->ipv4_extra.p[i].addr.v4 == a)
			return true;
	return false;
}
/* The port's address to send an ARP request / neighbour solicitation for dst from: the one
 * whose prefix holds dst (another subnet on the same link answers to its own), else the
 * primary. NULL when the port has no address of dst's family. */
const struct dp_ipaddr *dp_port_src_for(const struct dp_port *p, const struct dp_ipaddr *dst);
/* Next hop for dst from port port_idx: dst itself if on-link, else the gateway;
 * -ENETUNREACH without a route. */
int dp_route_nexthop(const struct dp_port *p, const struct dp_ipaddr *dst, struct dp_ipaddr *nh);

/* A port's IPv4 route as values (on-link prefix in host order, gateway), so that a burst
 * routes many packets from locals (dp_udp_tx4_burst). */
struct dp_route4 {
	uint32_t net, mask; /* host order; net is mask's part of the port's address */
	uint32_t gw;	    /* network order */
	bool on_link, has_gw;
	uint8_t n_extra; /* the extra addresses' prefixes, on-link as well */
	uint32_t xnet[DP_PORT_EXTRA_MAX], xmask[DP_PORT_EXTRA_MAX];
};

static inline uint32_t dp_mask4(unsigned int bits)
{
	return bits ? ~0u << (32 - bits) : 0;
}

static inline struct dp_route4 dp_route4_of(const struct dp_port *p)
{
	const uint32_t mask = dp_mask4(p->ipv4.len);
	struct dp_route4 r = {.net = rte_be_to_cpu_32(p->ipv4.addr.v4) & mask,
			      .mask = mask,
			      .gw = p->gateway4.v4,
			      .on_link = p->ipv4.set && p->ipv4.addr.family == AF_INET,
			      .has_gw = p->gateway4.family == AF_INET};

	for (unsigned int i = 0; r.on_link && i < p->ipv4_extra.n; i++) {
		r.xmask[i] = dp_mask4(p->ipv4_extra.p[i].len);
		r.xnet[i] = rte_be_to_cpu_32(p->ipv4_extra.p[i].addr.v4) & r.xmask[i];
		r.n_extra++;
	}
	return r;
}

/* dp_route_nexthop for an IPv4 destination (network order) by route r: 0 with *nh set, or
 * -ENETUNREACH. */
static inline int dp_route4_nexthop(const struct dp_route4 *r, uint32_t dst, uint32_t *nh)
{
	const uint32_t d = rte_be_to_cpu_32(dst);

	if (r->on_link && (d & r->mask) == r->net) {
		*nh = dst;
		return 0;
	}
	for (unsigned int i = 0; i < r->n_extra; i++)
		if ((d & r->xmask[i]) == r->xnet[i]) {
			*nh = dst;
			return 0;
		}
	if (r->has_gw) {
		*nh = r->gw;
		return 0;
	}
	return -ENETUNREACH;
}

/* The same for IPv6: the on-link prefix as two 64-bit words of mask and network, as the
 * address's bytes lie in memory (dp_udp_tx6_burst), and the gateway. */
struct dp_route6 {
	uint64_t net[2], mask[2];
	uint8_t gw[16];
	bool on_link, has_gw;
	uint8_t n_extra; /* the extra addresses' prefixes, on-link as well */
	uint64_t xnet[DP_PORT_EXTRA_MAX][2], xmask[DP_PORT_EXTRA_MAX][2];
};

/* Prefix pf's mask and network as two 64-bit words each, as the bytes lie in memory. */
static inline void dp_prefix6_words(const struct dp_prefix *pf, uint64_t net[2], uint64_t mask[2])
{
	uint8_t m[16] = {0};
	unsigned int bits = pf->len > 128 ? 128 : pf->len, i;

	for (i = 0; bits >= 8; i++, bits -= 8)
		m[i] = 0xff;
	if (bits)
		m[i] = (uint8_t)(0xff << (8 - bits));
	memcpy(mask, m, 16);
	memcpy(net, pf->addr.v6, 16);
	net[0] &= mask[0];
	net[1] &= mask[1];
}

static inline struct dp_route6 dp_route6_of(const struct dp_port *p)
{
	struct dp_route6 r = {.on_link = p->ipv6.set && p->ipv6.addr.family == AF_INET6,
			      .has_gw = p->gateway6.family == AF_INET6};

	dp_prefix6_words(&p->ipv6, r.net, r.mask);
	for (unsigned int i = 0; r.on_link && i < p->ipv6_extra.n; i++) {
		dp_prefix6_words(&p->ipv6_extra.p[i], r.xnet[i], r.xmask[i]);
		r.n_extra++;
	}
	memcpy(r.gw, p->gateway6.v6, 16);
	return r;
}

/* dp_route_nexthop for an IPv6 destination (16 bytes at dst) by route r: 0 with nh (16
 * bytes) set, or -ENETUNREACH. Link-local destinations are on-link (RFC 4291 2.5.6). */
static inline int dp_route6_nexthop(const struct dp_route6 *r, const uint8_t *dst, uint8_t *nh)
{
	uint64_t d[2];

	memcpy(d, dst, 16);
	if ((r->on_link && (d[0] & r->mask[0]) == r->net[0] && (d[1] & r->mask[1]) == r->net[1]) ||
	    (dst[0] == 0xfe && (dst[1] & 0xc0) == 0x80)) {
		memcpy(nh, dst, 16);
		return 0;
	}
	for (unsigned int i = 0; i < r->n_extra; i++)
		if ((d[0] & r->xmask[i][0]) == r->xnet[i][0] &&
		    (d[1] & r->xmask[i][1]) == r->xnet[i][1]) {
			memcpy(nh, dst, 16);
			return 0;
		}
	if (r->has_gw) {
		memcpy(nh, r->gw, 16);
		return 0;
	}
	return -ENETUNREACH;
}

/* Port index (0..nb_ports-1) of a DPDK port id, or -1. */
int dp_port_index(uint16_t port_id);

#endif
