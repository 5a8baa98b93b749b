/* SPDX-License-Identifier: BSD-3-Clause */
/* The UDP extension point and the feature registry (see dp_udp.h). */
#include "dataplane/dp_udp.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "dataplane/dp_feature.h"
#include "dataplane/dp_neigh.h"

/* Writer: constructors (registration) and control .init (claims); read-only for workers. */
static struct dp_feature *features[DP_MAX_FEATURES + 1]; /* by id; 0 unused */
static unsigned int nb_features;
static unsigned int nb_inited;
/* Claimed UDP port ranges, written by .init before the workers start, read-only after. A few
 * ranges scanned in one line: a 64 KiB table indexed by port missed the L1 on most datagrams
 * to relay ports. */
static struct {
	uint16_t lo, hi;
	uint8_t id;
} claims[DP_UDP_MAX_CLAIMS];
static unsigned int n_claims;

/* Feature id that claimed port, 0 = none. */
static inline uint8_t port_owner(uint16_t port)
{
	for (unsigned int i = 0; i < n_claims; i++)
		if ((uint16_t)(port - claims[i].lo) <= (uint16_t)(claims[i].hi - claims[i].lo))
			return claims[i].id;
	return 0;
}

uint8_t dp_udp_port_owner(uint16_t port)
{
	return port_owner(port);
}

void dp_feature_register(struct dp_feature *f)
{
	if (nb_features >= DP_MAX_FEATURES) {
		/* A build with more features than slots: fail loudly at start-up. */
		f->id = 0;
		return;
	}
	features[++nb_features] = f;
	f->id = (uint8_t)nb_features;
}

unsigned int dp_features_count(void)
{
	return nb_features;
}

const struct dp_feature *dp_feature_get(unsigned int id)
{
	return id >= 1 && id <= nb_features ? features[id] : NULL;
}

int dp_features_init(void)
{
	unsigned int i;
	int ret;

	for (i = 1; i <= nb_features; i++) {
		const struct dp_feature *f = features[i];
		if ((f->udp4_burst && (!f->l4_csum_preserved || !f->udp_input_burst)) ||
		    (f->udp6_burst && !f->udp4_burst)) {
			PR_ERR("feature %s: .udp4_burst needs .l4_csum_preserved and "
			       ".udp_input_burst; .udp6_burst needs .udp4_burst",
			       f->name);
			dp_features_teardown();
			return -EINVAL;
		}
	}
	for (i = 1; i <= nb_features; i++) {
		if (features[i]->init) {
			ret = features[i]->init();
			if (ret) {
				PR_ERR("feature %s: init failed: %s", features[i]->name,
				       strerror(ret < 0 ? -ret : ret));
				dp_features_teardown();
				return ret < 0 ? ret : -ret;
			}
		}
		nb_inited = i;
		PR_INFO("feature %s: ready", features[i]->name);
	}
	return 0;
}

void dp_features_teardown(void)
{
	while (nb_inited > 0) {
		struct dp_feature *f = features[nb_inited--];
		if (f->teardown)
			f->teardown();
	}
}

void dp_features_wait(unsigned timeout_us)
{
	struct pollfd fds[DP_MAX_FEATURES];
	struct timespec ts = {0, (long)timeout_us * 1000};
	unsigned int i, n = 0;

	for (i = 1; i <= nb_inited; i++) {
		int fd = features[i]->wait_fd ? features[i]->wait_fd() : -1;
		if (fd >= 0)
			fds[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
	}
	ppoll(n ? fds : NULL, n, &ts, NULL);
}

unsigned dp_features_poll(uint64_t now_ms)
{
	unsigned int i, busy = 0;

	for (i = 1; i <= nb_inited; i++)
		if (features[i]->poll)
			busy += features[i]->poll(now_ms);
	return busy;
}

unsigned dp_features_worker_poll(struct dp_worker *w)
{
	unsigned int i, n = 0;

	for (i = 1; i <= nb_inited; i++)
		if (features[i]->worker_poll)
			n += features[i]->worker_poll(w);
	return n;
}

void dp_features_punt(struct rte_mbuf *m)
{
	struct dp_punt_meta *meta = dp_mbuf_meta(m);
	const struct dp_feature *f = dp_feature_get(meta->feature_id);

	if (f == NULL || f->punt == NULL) {
		dp_stats[rte_lcore_id()].drops[DP_DROP_FEATURE_UNKNOWN]++;
		rte_pktmbuf_free(m);
		return;
	}
	f->punt(m, &meta->pi);
}

int dp_udp_claim(struct dp_feature *f, uint16_t lo, uint16_t hi)
{
	unsigned int i;

	if (f == NULL || f->id == 0 || lo > hi || f->udp_input == NULL)
		return -EINVAL;
	for (i = 0; i < n_claims; i++) {
		if (claims[i].id != f->id && lo <= claims[i].hi && claims[i].lo <= hi)
			return -EBUSY;
		if (claims[i].id == f->id && claims[i].lo <= lo && hi <= claims[i].hi)
			return 0; /* already its own */
	}
	if (n_claims == DP_UDP_MAX_CLAIMS)
		return -ENOSPC;
	claims[n_claims].lo = lo;
	claims[n_claims].hi = hi;
	claims[n_claims].id = f->id;
	n_claims++;
	if (f->udp4_burst) { /* the short way's copy (a subset of claims) */
		dp_udp4_ports.v6 |= f->udp6_burst != NULL;
		dp_udp4_ports.r[dp_udp4_ports.n].lo = lo;
		dp_udp4_ports.r[dp_udp4_ports.n].hi = hi;
		dp_udp4_ports.r[dp_udp4_ports.n].feature_id = f->id;
		dp_udp4_ports.n++;
		for (i = 0; i < dp_udp4_ports.n; i++) /* the feature's IPv6 choice, all ranges */
			if (dp_udp4_ports.r[i].feature_id == f->id)
				dp_udp4_ports.r[i].v6 = f->udp6_burst != NULL;
	}
	return 0;
}

bool dp_udp_csum_verify(struct rte_mbuf *m, struct dp_pkt_info *pi)
{
	const uint8_t *l4 = rte_pktmbuf_mtod_offset(m, const uint8_t *, pi->l4_off);

	if (!pi->l4_csum_unchecked)
		return true;
	pi->l4_csum_unchecked = 0;
	return dp_csum_l4_ok(&pi->src, &pi->dst, IPPROTO_UDP, l4, (uint32_t)pi->payload_len + 8);
}

void dp_udp_batch_flush(struct dp_worker *w)
{
	struct dp_udp_batch *b = &w->batch;

	if (b->n == 0)
		return;
	features[b->feature_id]->udp_input_burst(w, b->m, b->pi, b->n);
	b->n = 0;
}

void dp_udp_input(struct dp_worker *w, struct rte_mbuf *m, struct dp_pkt_info *pi)
{
	uint8_t id = port_owner(pi->dport);
	const struct dp_feature *f = features[id];
	struct dp_udp_batch *b = &w->batch;

	/* A damaged datagram is a damaged datagram, whoever it was for. */
	if (id == 0 || !f->l4_csum_preserved) {
		if (!dp_udp_csum_verify(m, pi))
			return dp_drop(w, m, DP_DROP_UDP_BAD_CSUM);
		if (id == 0)
			return dp_drop(w, m, DP_DROP_UDP_NO_LISTENER);
	}
	if (!f->udp_input_burst)
		return f->udp_input(w, m, pi);
	if (b->n && (b->feature_id != id || b->n == DP_MAX_BURST)) {
		struct dp_pkt_info keep = *pi; /* pi may be the slot the flush reuses */
		dp_udp_batch_flush(w);
		b->pi[0] = keep;
		pi = &b->pi[0];
	}
	b->feature_id = id;
	b->m[b->n] = m;
	/* The worker parses into the batch's next slot (dp_udp_batch_slot): no copy then. */
	if (pi != &b->pi[b->n])
		b->pi[b->n] = *pi;
	b->n++;
}

struct dp_udp4_ports dp_udp4_ports;

static inline uint16_t feature_short(struct dp_worker *w, uint8_t fid, struct dp_udp4 *d,
				     uint16_t n, bool v6)
{
	const struct dp_feature *f = features[fid];

	return v6 ? f->udp6_burst(w, d, n) : f->udp4_burst(w, d, n);
}

static inline uint16_t short_flush(struct dp_worker *w, struct dp_udp4_batch *b, bool v6)
{
	uint16_t n = b->n, back = 0;

	if (n == 0)
		return 0;
	b->n = 0;
	if (likely(!b->mixed)) {
		back = feature_short(w, b->d[0].feature_id, b->d, n, v6);
	} else {
		/* each feature's datagrams in a run of their own; what they decline goes to
		 * the front of d[] */
		struct dp_udp4 run[DP_MAX_BURST];
		uint16_t left = n;

		b->mixed = false;
		while (left) {
			uint8_t fid = b->d[back].feature_id;
			uint16_t k = 0, rest = back;
			for (uint16_t i = back; i < back + left; i++) {
				if (b->d[i].feature_id == fid)
					run[k++] = b->d[i];
				else
					b->d[rest++] = b->d[i];
			}
			left = (uint16_t)(left - k);
			/* declined ones of this run, then the other features' (moved up) */
			uint16_t declined = feature_short(w, fid, run, k, v6);
			memmove(&b->d[back + declined], &b->d[back], left * sizeof(b->d[0]));
			memcpy(&b->d[back], run, declined * sizeof(run[0]));
			back = (uint16_t)(back + declined);
		}
	}
	w->stats->udp_in += (uint64_t)(n - back); /* those declined are counted by input */
	return back;
}

uint16_t dp_udp4_flush(struct dp_worker *w)
{
	return short_flush(w, &w->batch4, false);
}

uint16_t dp_udp6_flush(struct dp_worker *w)
{
	return short_flush(w, &w->batch6, true);
}

void dp_punt(struct dp_worker *w, struct rte_mbuf *m, const struct dp_feature *f,
	     const struct dp_pkt_info *pi)
{
	struct dp_punt_meta *meta;

	if (!dp_mbuf_has_meta(m))
		return dp_drop(w, m, DP_DROP_FEATURE_UNKNOWN);
	meta = dp_mbuf_meta(m);
	meta->pi = *pi;
	/* Control reads the payload: it must be what the sender sent. */
	if (!dp_udp_csum_verify(m, &meta->pi))
		return dp_drop(w, m, DP_DROP_UDP_BAD_CSUM);
	meta->kind = DP_PUNT_FEATURE;
	meta->feature_id = f->id;
	meta->worker = (uint8_t)w->index;
	meta->port = pi->port;
	if (rte_ring_sp_enqueue(w->punt, m) != 0)
		return dp_drop(w, m, DP_DROP_PUNT_RING_FULL);
	w->stats->punted++;
}

void dp_punt_return(struct rte_mbuf *m)
{
	const struct dp_punt_meta *meta = dp_mbuf_meta(m);

	if (meta->worker >= dp_rt.nb_workers || !dp_rt.workers[meta->worker].back ||
	    rte_ring_sp_enqueue(dp_rt.workers[meta->worker].back, m) != 0) {
		dp_stats[rte_lcore_id()].drops[DP_DROP_PUNT_RING_FULL]++;
		rte_pktmbuf_free(m);
	}
}

/* Reads the destination of the IP packet at the mbuf's data pointer. */
static int ip_dst(struct rte_mbuf *m, struct dp_ipaddr *dst)
{
	const uint8_t *ip = rte_pktmbuf_mtod(m, const uint8_t *);

	if (rte_pktmbuf_data_len(m) >= 20 && (ip[0] >> 4) == 4) {
		dst->family = AF_INET; /* no memset: read back field by field right away */
		memcpy(&dst->v4, ip + 16, 4);
		return 0;
	}
	memset(dst, 0, sizeof(*dst));
	if (rte_pktmbuf_data_len(m) >= 40 && (ip[0] >> 4) == 6) {
		dst->family = AF_INET6;
		memcpy(dst->v6, ip + 24, 16);
		return 0;
	}
	return -EINVAL;
}

void dp_udp_finish(struct rte_mbuf *m)
{
	uint8_t *ip = rte_pktmbuf_mtod(m, uint8_t *);
	struct dp_ipaddr src = {0}, dst = {0};
	uint8_t *udp;
	uint16_t c, ulen;

	if ((ip[0] >> 4) == 4) {
		unsigned int ihl = (ip[0] & 0xfu) * 4u;
		src.family = dst.family = AF_INET;
		memcpy(&src.v4, ip + 12, 4);
		memcpy(&dst.v4, ip + 16, 4);
		ip[10] = ip[11] = 0;
		c = dp_csum_ipv4_hdr(ip, ihl);
		memcpy(ip + 10, &c, 2);
		udp = ip + ihl;
	} else {
		src.family = dst.family = AF_INET6;
		memcpy(src.v6, ip + 8, 16);
		memcpy(dst.v6, ip + 24, 16);
		udp = ip + 40;
	}
	ulen = (uint16_t)(udp[4] << 8 | udp[5]);
	udp[6] = udp[7] = 0;
	c = dp_csum_l4(&src, &dst, 17, udp, ulen);
	if (c == 0)
		c = 0xffff; /* RFC 768: a computed zero is sent as all ones */
	memcpy(udp + 6, &c, 2);
}

/* Writes the IPv4 (pr_put_ip4_udp) or IPv6 (hop limit 64) header at ip and the UDP header
 * after it, for ulen bytes of UDP with checksum ck (network order as in memory). */
static void put_ip_udp(uint8_t *ip, const struct dp_ipaddr *src, uint16_t sport,
		       const struct dp_ipaddr *dst, uint16_t dport, uint32_t ulen, uint16_t ck)
{
	const uint16_t uh[4] = {rte_cpu_to_be_16(sport), rte_cpu_to_be_16(dport),
				rte_cpu_to_be_16((uint16_t)ulen), ck};

	if (src->family == AF_INET)
		return pr_put_ip4_udp(ip, src->v4, uh[0], dst->v4, uh[1], (uint16_t)ulen, ck);
	memset(ip, 0, 8);
	ip[0] = 0x60;
	ip[4] = (uint8_t)(ulen >> 8);
	ip[5] = (uint8_t)ulen;
	ip[6] = 17;
	ip[7] = 64;
	memcpy(ip + 8, src->v6, 16);
	memcpy(ip + 24, dst->v6, 16);
	memcpy(ip + 40, uh, 8);
}

int dp_udp_encap(struct rte_mbuf *m, const struct dp_ipaddr *src, uint16_t sport,
		 const struct dp_ipaddr *dst, uint16_t dport)
{
	uint32_t plen = rte_pktmbuf_pkt_len(m);
	uint16_t iphl = src->family == AF_INET ? 20 : 40;
	uint8_t *ip;

	if (src->family != dst->family || (src->family != AF_INET && src->family != AF_INET6) ||
	    plen + 8 + iphl > 65535 || m->nb_segs != 1)
		return -EINVAL;
	ip = (uint8_t *)rte_pktmbuf_prepend(m, (uint16_t)(8 + iphl));
	if (ip == NULL)
		return -ENOSPC;
	put_ip_udp(ip, src, sport, dst, dport, plen + 8, 0);
	dp_udp_finish(m);
	return 0;
}

static bool same_addr(const struct dp_ipaddr *a, const struct dp_ipaddr *b)
{
	if (a->family != b->family)
		return false;
	return a->family == AF_INET ? a->v4 == b->v4 : !memcmp(a->v6, b->v6, 16);
}

/* Worker w's cache entry for a next hop whose address ends in k. */
static inline struct dp_nh_cache *nh_slot(struct dp_worker *w, uint16_t port, uint32_t k)
{
	k ^= k >> 16;
	return &w->nh_cache[(k ^ (k >> 8) ^ port) % DP_NH_CACHE];
}

/* Whether cache entry c holds next hop nh on port, as of neighbour-table generation gen. */
static inline bool nh_entry_is(const struct dp_nh_cache *c, uint16_t port, uint32_t gen,
			       const struct dp_ipaddr *nh)
{
	return c->valid && c->gen == gen && c->port == port && same_addr(&c->nh, nh);
}

/* The next hop's MAC through worker w's small cache (w NULL: control, no cache). */
static int nh_mac(struct dp_worker *w, uint16_t port, const struct dp_ipaddr *nh,
		  struct rte_ether_addr *mac)
{
	struct dp_nh_cache *c;
	uint32_t gen;
	int ret;

	if (w == NULL)
		return dp_neigh_lookup(port, nh, mac);
	c = nh_slot(w, port, nh->family == AF_INET ? nh->v4 : ((const uint32_t *)nh->v6)[3]);
	/* Read the generation before the table, so that a change after our lookup shows. */
	gen = __atomic_load_n(&dp_neigh_gen, __ATOMIC_ACQUIRE);
	if (nh_entry_is(c, port, gen, nh)) {
		*mac = c->mac;
		return 0;
	}
	ret = dp_neigh_lookup(port, nh, mac);
	if (ret == 0) {
		c->gen = gen;
		c->port = port;
		c->nh.family = nh->family;
		if (nh->family == AF_INET)
			c->nh.v4 = nh->v4;
		else
			memcpy(c->nh.v6, nh->v6, 16);
		c->mac = *mac;
		c->valid = 1;
	}
	return ret;
}

/* Prepend Ethernet toward the next hop of dst (m's IP destination, ip_dst). 0, or
 * -EAGAIN/-ENOENT (unresolved; *nh set), -ENETUNREACH, -ENOSPC, -EINVAL. */
static int add_l2(struct dp_worker *w, struct rte_mbuf *m, uint16_t port,
		  const struct dp_ipaddr *dst, struct dp_ipaddr *nh)
{
	const struct dp_port *p;
	struct rte_ether_addr mac;
	struct rte_ether_hdr *eth;
	int ret;

	if (port >= dp_rt.nb_ports)
		return -EINVAL;
	p = &dp_rt.ports[port];
	ret = dp_route_nexthop(p, dst, nh);
	if (ret)
		return ret;
	ret = nh_mac(w, port, nh, &mac);
	if (ret)
		return ret;
	eth = (struct rte_ether_hdr *)rte_pktmbuf_prepend(m, sizeof(*eth));
	if (eth == NULL)
		return -ENOSPC;
	rte_ether_addr_copy(&mac, &eth->dst_addr);
	rte_ether_addr_copy(&p->mac, &eth->src_addr);
	eth->ether_type =
	    rte_cpu_to_be_16(dst->family == AF_INET ? RTE_ETHER_TYPE_IPV4 : RTE_ETHER_TYPE_IPV6);
	return 0;
}

/* The Ethernet header toward one next hop out of one port, as three words: the burst
 * transmits below write it with three stores and keep everything a run of packets needs in
 * locals (their header stores are byte stores to the frame, which the compiler must assume
 * may alias anything, so it reloaded the port, the cache entry and the config for every
 * packet, and spilled around them). */
struct eth_words {
	uint64_t w0; /* destination MAC, source MAC bytes 0-1 */
	uint32_t w1; /* source MAC bytes 2-5 */
	uint16_t type;
};

static inline struct eth_words eth_words(const struct rte_ether_addr *dst,
					 const struct rte_ether_addr *src, uint16_t ethertype)
{
	struct eth_words e = {.type = rte_cpu_to_be_16(ethertype)};
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	/* from loads of each address, never a read across fresh narrow stores (which store
	 * forwarding cannot serve) */
	uint32_t d0, s1;
	uint16_t d1, s0;

	memcpy(&d0, dst, 4);
	memcpy(&d1, (const uint8_t *)dst + 4, 2);
	memcpy(&s0, src, 2);
	memcpy(&s1, (const uint8_t *)src + 2, 4);
	e.w0 = d0 | (uint64_t)d1 << 32 | (uint64_t)s0 << 48;
	e.w1 = s1;
#else
	uint8_t b[12];

	memcpy(b, dst, 6);
	memcpy(b + 6, src, 6);
	memcpy(&e.w0, b, 8);
	memcpy(&e.w1, b + 8, 4);
#endif
	return e;
}

/* A relayed packet of len bytes of IP at ip leaves with header e out of port pidx: its
 * Ethernet header right before ip, its offset and lengths set once; the transmit buffer
 * flushes at burst packets. */
static inline void tx_cached(struct dp_worker *w, struct rte_mbuf *mb, uint8_t *ip, uint16_t len,
			     uint16_t pidx, const struct eth_words *e, uint16_t burst)
{
	uint8_t *eth = ip - RTE_ETHER_HDR_LEN;
	struct dp_txbuf *b = &w->tx[pidx];

	mb->data_off = (uint16_t)(eth - (uint8_t *)mb->buf_addr);
	mb->data_len = (uint16_t)(len + RTE_ETHER_HDR_LEN);
	mb->pkt_len = (uint32_t)len + RTE_ETHER_HDR_LEN;
	memcpy(eth, &e->w0, 8);
	memcpy(eth + 8, &e->w1, 4);
	memcpy(eth + 12, &e->type, 2);
	b->bytes += (uint32_t)len + RTE_ETHER_HDR_LEN;
	b->pkts[b->n++] = mb;
	if (b->n >= burst)
		dp_worker_tx_flush(w, pidx);
}

/* The same packet when the cache cannot say at once: the general way, from its IP header. */
static inline void tx_uncached(struct dp_worker *w, struct rte_mbuf *mb, uint8_t *ip, uint16_t len,
			       uint16_t pidx)
{
	mb->data_off = (uint16_t)(ip - (uint8_t *)mb->buf_addr);
	mb->data_len = len;
	mb->pkt_len = len;
	dp_udp_tx(w, mb, pidx);
}

void dp_udp_tx6_burst(struct dp_worker *w, struct rte_mbuf **m, uint8_t *const *ip,
		      const uint16_t *len, const uint16_t *port, unsigned int n)
{
	const uint32_t gen = __atomic_load_n(&dp_neigh_gen, __ATOMIC_ACQUIRE);
	const uint16_t nb_ports = dp_rt.nb_ports,
		       burst = (uint16_t)__atomic_load_n(&dp_cfg.dp.burst_size, __ATOMIC_RELAXED);
	bool run = false; /* e holds for the previous packet's next hop and port */
	uint64_t last[2] = {0, 0};
	uint16_t last_port = UINT16_MAX;
	struct eth_words e = {0};
	struct dp_route6 r = {0}; /* last_port's */

	for (unsigned int i = 0; i < n; i++) {
		uint64_t nh[2];

		if (port[i] >= nb_ports || ip[i] < (uint8_t *)m[i]->buf_addr + RTE_ETHER_HDR_LEN)
			goto general;
		if (port[i] != last_port) {
			r = dp_route6_of(&dp_rt.ports[port[i]]);
			last_port = port[i];
			run = false;
		}
		if (dp_route6_nexthop(&r, ip[i] + 24, (uint8_t *)nh) != 0)
			goto general; /* counts no_route */
		if (!run || ((nh[0] ^ last[0]) | (nh[1] ^ last[1])) != 0) {
			struct dp_ipaddr a = {.family = AF_INET6};
			uint32_t k;

			memcpy(a.v6, nh, 16);
			memcpy(&k, a.v6 + 12, 4);
			const struct dp_nh_cache *c = nh_slot(w, port[i], k);
			if (!nh_entry_is(c, port[i], gen, &a))
				goto general; /* fills the entry, or resolves, or counts */
			e = eth_words(&c->mac, &dp_rt.ports[port[i]].mac, RTE_ETHER_TYPE_IPV6);
			last[0] = nh[0];
			last[1] = nh[1];
			run = true;
		}
		tx_cached(w, m[i], ip[i], len[i], port[i], &e, burst);
		continue;
	general:
		run = false;
		tx_uncached(w, m[i], ip[i], len[i], port[i]);
	}
}

void dp_udp_tx4_burst(struct dp_worker *w, struct rte_mbuf **m, uint8_t *const *ip,
		      const uint16_t *len, const uint16_t *port, const uint32_t *dst,
		      unsigned int n)
{
	const uint32_t gen = __atomic_load_n(&dp_neigh_gen, __ATOMIC_ACQUIRE);
	const uint16_t nb_ports = dp_rt.nb_ports,
		       burst = (uint16_t)__atomic_load_n(&dp_cfg.dp.burst_size, __ATOMIC_RELAXED);
	bool run = false; /* e holds for the previous packet's next hop and port */
	uint32_t last_nh = 0;
	uint16_t last_port = UINT16_MAX;
	struct eth_words e = {0};
	struct dp_route4 r = {0}; /* last_port's */

	for (unsigned int i = 0; i < n; i++) {
		struct rte_mbuf *mb = m[i];
		uint32_t nh;

		/* the general way, from the IP header, when the cache cannot say at once */
		if (port[i] >= nb_ports || ip[i] < (uint8_t *)mb->buf_addr + RTE_ETHER_HDR_LEN)
			goto general;
		if (port[i] != last_port) {
			r = dp_route4_of(&dp_rt.ports[port[i]]);
			last_port = port[i];
			run = false;
		}
		if (dp_route4_nexthop(&r, dst[i], &nh) != 0)
			goto general; /* counts no_route */
		if (!run || nh != last_nh) {
			const struct dp_ipaddr a = {.family = AF_INET, .v4 = nh};
			const struct dp_nh_cache *c = nh_slot(w, port[i], nh);
			if (!nh_entry_is(c, port[i], gen, &a))
				goto general; /* fills the entry, or resolves, or counts */
			e = eth_words(&c->mac, &dp_rt.ports[port[i]].mac, RTE_ETHER_TYPE_IPV4);
			last_nh = nh;
			run = true;
		}
		tx_cached(w, mb, ip[i], len[i], port[i], &e, burst);
		continue;
	general:
		run = false;
		tx_uncached(w, mb, ip[i], len[i], port[i]);
	}
}

/* A datagram to one of our own addresses (data at its IP header): a feature relaying to
 * another feature of this dataplane, such as a device that reaches the media anchor through
 * our TURN relay. It is handed over inside the dataplane, never sent to the wire: queued for
 * the way in (w NULL: control's, through dp_rt.hairpin to worker 0). Only between two
 * features: to a port nobody claimed, or from a port of the feature that owns the
 * destination port (a loop), it is dropped as udp_hairpin_refused. Returns false when the
 * destination dst (m's, ip_dst) is not ours (m untouched). */
static bool hairpin(struct dp_worker *w, struct rte_mbuf *m, const struct dp_ipaddr *dst)
{
	const uint8_t *ip = rte_pktmbuf_mtod(m, const uint8_t *);
	struct dp_lcore_stats *st = w ? w->stats : &dp_stats[rte_lcore_id()];
	unsigned int p, hl;

	for (p = 0; p < dp_rt.nb_ports; p++)
		if (dp_addr_is_ours(&dp_rt.ports[p], dst))
			break;
	if (p == dp_rt.nb_ports)
		return false;
	hl = dst->family == AF_INET ? (ip[0] & 0x0fu) * 4u : 40u;
	if (rte_pktmbuf_data_len(m) < hl + 8 ||
	    (dst->family == AF_INET ? ip[9] : ip[6]) != IPPROTO_UDP || !dp_mbuf_has_meta(m)) {
		st->drops[DP_DROP_UDP_HAIRPIN_REFUSED]++;
		rte_pktmbuf_free(m);
		return true;
	}
	uint8_t from = port_owner((uint16_t)(ip[hl] << 8 | ip[hl + 1]));
	uint8_t to = port_owner((uint16_t)(ip[hl + 2] << 8 | ip[hl + 3]));
	if (!to || from == to) {
		st->drops[DP_DROP_UDP_HAIRPIN_REFUSED]++;
		rte_pktmbuf_free(m);
		return true;
	}
	dp_mbuf_meta(m)->port = (uint16_t)p;
	if (w && w->hairpin.n < DP_MAX_BURST) {
		w->hairpin.pkts[w->hairpin.n++] = m;
		return true;
	}
	if (!w && dp_rt.hairpin && rte_ring_sp_enqueue(dp_rt.hairpin, m) == 0)
		return true;
	st->drops[DP_DROP_TX_FULL]++;
	rte_pktmbuf_free(m);
	return true;
}

int dp_udp_tx(struct dp_worker *w, struct rte_mbuf *m, uint16_t port)
{
	struct dp_ipaddr dst, nh;
	int ret = ip_dst(m, &dst);

	if (ret == 0 && hairpin(w, m, &dst))
		return 0;
	if (ret == 0)
		ret = add_l2(w, m, port, &dst, &nh);

	switch (ret) {
	case 0:
		dp_worker_tx(w, port, m);
		return 0;
	case -ENOENT: {
		/* Nobody asked yet: punt to control, which starts resolution and parks the
		 * packet until the answer. */
		struct dp_punt_meta *meta;
		if (!dp_mbuf_has_meta(m)) {
			/* Not from dp_rt.pool: count it, resolution starts with the next one. */
			dp_drop(w, m, DP_DROP_NEIGH_UNRESOLVED);
			return -EAGAIN;
		}
		meta = dp_mbuf_meta(m);
		meta->kind = DP_PUNT_RESOLVE;
		meta->port = port;
		meta->nexthop = nh;
		if (rte_ring_sp_enqueue(w->punt, m) != 0) {
			dp_drop(w, m, DP_DROP_PUNT_RING_FULL);
			return -EAGAIN;
		}
		/* Control parks it until the answer comes (or counts its drop). */
		w->stats->neigh_resolve_punts++;
		return -EAGAIN;
	}
	case -EAGAIN:
		dp_drop(w, m, DP_DROP_NEIGH_UNRESOLVED);
		return -EAGAIN;
	case -ENOSPC:
		dp_drop(w, m, DP_DROP_NO_MBUF);
		return ret;
	case -ENETUNREACH:
		dp_drop(w, m, DP_DROP_NO_ROUTE);
		return ret;
	default:
		dp_drop(w, m, DP_DROP_TX_INVALID);
		return ret;
	}
}

/* Control: drop a parked packet (its next hop never answered, or a newer one replaced it). */
static void ctl_drop_unresolved(struct rte_mbuf *m)
{
	dp_stats[rte_lcore_id()].drops[DP_DROP_NEIGH_UNRESOLVED]++;
	rte_pktmbuf_free(m);
}

void dp_udp_release_pending(void *pkt, uint16_t port, const struct rte_ether_addr *mac)
{
	struct rte_mbuf *m = pkt;
	struct dp_ipaddr dst, nh;

	if (mac == NULL)
		return ctl_drop_unresolved(m);
	/* Resolved: the lookup in add_l2 now succeeds. */
	if (ip_dst(m, &dst) == 0 && add_l2(NULL, m, port, &dst, &nh) == 0)
		dp_control_tx(port, m);
	else
		ctl_drop_unresolved(m);
}

void dp_ctl_park(struct rte_mbuf *m, uint16_t port, const struct dp_ipaddr *nh)
{
	void *old = NULL;
	int ret;

	dp_ctl_resolve(port, nh);
	ret = dp_neigh_park(port, nh, m, &old);
	if (ret == 0) {
		if (old)
			ctl_drop_unresolved(old);
	} else if (ret == -EEXIST) {
		dp_udp_release_pending(m, port, &(struct rte_ether_addr){{0}});
	} else {
		ctl_drop_unresolved(m);
	}
}

int dp_ctl_udp_tx(struct rte_mbuf *m, uint16_t port)
{
	struct dp_lcore_stats *s = &dp_stats[rte_lcore_id()];
	struct dp_ipaddr dst, nh;
	int ret = ip_dst(m, &dst);

	if (ret == 0 && hairpin(NULL, m, &dst))
		return 0;
	if (ret == 0)
		ret = add_l2(NULL, m, port, &dst, &nh);

	if (ret == 0)
		return dp_control_tx(port, m);
	if (ret == -ENOENT || ret == -EAGAIN) {
		dp_ctl_park(m, port, &nh);
		return -EAGAIN;
	}
	s->drops[ret == -ENOSPC	       ? DP_DROP_NO_MBUF
		 : ret == -ENETUNREACH ? DP_DROP_NO_ROUTE
				       : DP_DROP_TX_INVALID]++;
	rte_pktmbuf_free(m);
	return ret;
}

/* Unfolded ones-complement sum of the pseudo header (RFC 768 / RFC 8200 8.1). */
static inline uint64_t pseudo_acc(const struct dp_ipaddr *src, const struct dp_ipaddr *dst,
				  uint16_t ulen)
{
	uint64_t acc = rte_cpu_to_be_16(IPPROTO_UDP) + (uint64_t)rte_cpu_to_be_16(ulen);

	if (src->family == AF_INET)
		return acc + src->v4 + dst->v4;
	return pr_csum_acc(dst->v6, 16, pr_csum_acc(src->v6, 16, acc));
}

int dp_udp_rewrite(struct rte_mbuf *m, const struct dp_pkt_info *pi, uint16_t strip, uint16_t keep,
		   const uint8_t *hdr, uint16_t hdr_len, uint16_t pad, const struct dp_ipaddr *src,
		   uint16_t sport, const struct dp_ipaddr *dst, uint16_t dport)
{
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	const uint8_t *l4 = frame + pi->l4_off;
	uint8_t *pay = frame + pi->payload_off + strip, *ip;
	const uint16_t iphl = src->family == AF_INET ? 20 : 40;
	const uint32_t ulen = 8u + hdr_len + keep + pad;
	const uint8_t *buf = (const uint8_t *)m->buf_addr;
	uint16_t old_ck, ck, tail_off;
	uint64_t acc;

	if (m->nb_segs != 1 || (uint32_t)strip + keep > pi->payload_len || ulen + iphl > 65535 ||
	    src->family != dst->family || (src->family != AF_INET && src->family != AF_INET6) ||
	    pay - hdr_len - 8 - iphl - RTE_ETHER_HDR_LEN < buf ||
	    pay + keep + pad > buf + m->buf_len)
		return -EINVAL;
	memcpy(&old_ck, l4 + 6, 2);
	if (old_ck == 0) {
		ck = 0; /* IPv4 without a checksum: computed below, once the datagram is built */
	} else {
		/* payload = received checksum - everything received that is not payload */
		tail_off = (uint16_t)(8 + strip + keep);
		acc = pseudo_acc(&pi->src, &pi->dst, (uint16_t)(pi->payload_len + 8));
		acc = pr_csum_acc(l4, 6, acc); /* the received UDP header less its checksum */
		acc = pr_csum_acc(l4 + 8, strip, acc);
		if (pi->payload_len + 8 > tail_off) {
			uint16_t t = pr_csum_sum(l4 + tail_off, pi->payload_len + 8u - tail_off);
			/* bytes at odd offsets of the segment pair the other way round */
			acc += tail_off & 1 ? rte_bswap16(t) : t;
		}
		uint16_t payload =
		    pr_csum_fold((uint16_t)~old_ck + (uint64_t)(uint16_t)~pr_csum_fold(acc));
		/* the payload moves from offset 8+strip to 8+hdr_len of the segment */
		if ((strip ^ hdr_len) & 1)
			payload = rte_bswap16(payload);
		/* + the new UDP header, summed as values */
		acc = payload + pseudo_acc(src, dst, (uint16_t)ulen) + rte_cpu_to_be_16(sport) +
		      (uint64_t)rte_cpu_to_be_16(dport) + rte_cpu_to_be_16((uint16_t)ulen);
		acc = pr_csum_acc(hdr, hdr_len, acc);
		ck = (uint16_t)~pr_csum_fold(acc);
		if (ck == 0)
			ck = 0xffff;
	}
	/* Everything received is read: now write over it. */
	if (hdr_len)
		memcpy(pay - hdr_len, hdr, hdr_len);
	if (pad)
		memset(pay + keep, 0, pad);
	ip = pay - hdr_len - 8 - iphl;
	put_ip_udp(ip, src, sport, dst, dport, ulen, ck);
	m->data_off = (uint16_t)(ip - buf);
	m->data_len = (uint16_t)(iphl + ulen);
	m->pkt_len = m->data_len;
	if (ck == 0)
		dp_udp_finish(m);
	return 0;
}

int dp_udp_relay(struct dp_worker *w, struct rte_mbuf *m, const struct dp_pkt_info *pi,
		 uint16_t strip, uint16_t keep, const uint8_t *hdr, uint16_t hdr_len, uint16_t pad,
		 const struct dp_ipaddr *src, uint16_t sport, const struct dp_ipaddr *dst,
		 uint16_t dport)
{
	int ret = dp_udp_rewrite(m, pi, strip, keep, hdr, hdr_len, pad, src, sport, dst, dport);

	if (ret) {
		dp_drop(w, m, DP_DROP_TX_INVALID);
		return ret;
	}
	return dp_udp_tx(w, m, pi->port);
}
