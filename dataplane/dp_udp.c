/* SPDX-License-Identifier: BSD-3-Clause */
/* The UDP extension point and the feature registry (see dp_udp.h). */
#include "dataplane/dp_udp.h"

#include <errno.h>
#include <string.h>

#include "common/log.h"
#include "dataplane/dp_feature.h"
#include "dataplane/dp_neigh.h"

/* Writer: constructors (registration) and control .init (claims); read-only for workers. */
static struct dp_feature *features[DP_MAX_FEATURES + 1]; /* by id; 0 unused */
static unsigned int nb_features;
static unsigned int nb_inited;
static uint8_t udp_port_owner[65536]; /* feature id per destination port, 0 = none */

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

void dp_features_poll(uint64_t now_ms)
{
	unsigned int i;

	for (i = 1; i <= nb_inited; i++)
		if (features[i]->poll)
			features[i]->poll(now_ms);
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
	uint32_t p;

	if (f == NULL || f->id == 0 || lo > hi || f->udp_input == NULL)
		return -EINVAL;
	for (p = lo; p <= hi; p++)
		if (udp_port_owner[p] && udp_port_owner[p] != f->id)
			return -EBUSY;
	for (p = lo; p <= hi; p++)
		udp_port_owner[p] = f->id;
	return 0;
}

void dp_udp_input(struct dp_worker *w, struct rte_mbuf *m, struct dp_pkt_info *pi)
{
	uint8_t id = udp_port_owner[pi->dport];

	if (id == 0)
		return dp_drop(w, m, DP_DROP_UDP_NO_LISTENER);
	features[id]->udp_input(w, m, pi);
}

void dp_punt(struct dp_worker *w, struct rte_mbuf *m, const struct dp_feature *f,
	     const struct dp_pkt_info *pi)
{
	struct dp_punt_meta *meta;

	if (!dp_mbuf_has_meta(m))
		return dp_drop(w, m, DP_DROP_FEATURE_UNKNOWN);
	meta = dp_mbuf_meta(m);
	meta->kind = DP_PUNT_FEATURE;
	meta->feature_id = f->id;
	meta->port = pi->port;
	meta->pi = *pi;
	if (rte_ring_sp_enqueue(w->punt, m) != 0)
		return dp_drop(w, m, DP_DROP_PUNT_RING_FULL);
	w->stats->punted++;
}

/* Reads the destination of the IP packet at the mbuf's data pointer. */
static int ip_dst(struct rte_mbuf *m, struct dp_ipaddr *dst)
{
	const uint8_t *ip = rte_pktmbuf_mtod(m, const uint8_t *);

	memset(dst, 0, sizeof(*dst));
	if (rte_pktmbuf_data_len(m) >= 20 && (ip[0] >> 4) == 4) {
		dst->family = AF_INET;
		memcpy(&dst->v4, ip + 16, 4);
		return 0;
	}
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

int dp_udp_encap(struct rte_mbuf *m, const struct dp_ipaddr *src, uint16_t sport,
		 const struct dp_ipaddr *dst, uint16_t dport)
{
	uint32_t plen = rte_pktmbuf_pkt_len(m);
	uint16_t iphl = src->family == AF_INET ? 20 : 40;
	uint8_t *ip, *udp;

	if (src->family != dst->family || (src->family != AF_INET && src->family != AF_INET6) ||
	    plen + 8 + iphl > 65535 || m->nb_segs != 1)
		return -EINVAL;
	ip = (uint8_t *)rte_pktmbuf_prepend(m, (uint16_t)(8 + iphl));
	if (ip == NULL)
		return -ENOSPC;
	udp = ip + iphl;
	udp[0] = (uint8_t)(sport >> 8);
	udp[1] = (uint8_t)sport;
	udp[2] = (uint8_t)(dport >> 8);
	udp[3] = (uint8_t)dport;
	udp[4] = (uint8_t)((plen + 8) >> 8);
	udp[5] = (uint8_t)(plen + 8);
	if (src->family == AF_INET) {
		uint16_t tot = (uint16_t)(plen + 28);
		memset(ip, 0, 20);
		ip[0] = 0x45;
		ip[2] = (uint8_t)(tot >> 8);
		ip[3] = (uint8_t)tot;
		ip[6] = 0x40; /* DF */
		ip[8] = 64;
		ip[9] = 17;
		memcpy(ip + 12, &src->v4, 4);
		memcpy(ip + 16, &dst->v4, 4);
	} else {
		uint16_t pl = (uint16_t)(plen + 8);
		memset(ip, 0, 40);
		ip[0] = 0x60;
		ip[4] = (uint8_t)(pl >> 8);
		ip[5] = (uint8_t)pl;
		ip[6] = 17;
		ip[7] = 64;
		memcpy(ip + 8, src->v6, 16);
		memcpy(ip + 24, dst->v6, 16);
	}
	dp_udp_finish(m);
	return 0;
}

/* Prepend Ethernet toward dst's next hop. 0, or -EAGAIN/-ENOENT (unresolved; *nh set),
 * -ENETUNREACH, -ENOSPC, -EINVAL. */
static int add_l2(struct rte_mbuf *m, uint16_t port, struct dp_ipaddr *nh)
{
	const struct dp_port *p;
	struct rte_ether_addr mac;
	struct dp_ipaddr dst;
	struct rte_ether_hdr *eth;
	int ret;

	if (port >= dp_rt.nb_ports || ip_dst(m, &dst) < 0)
		return -EINVAL;
	p = &dp_rt.ports[port];
	ret = dp_route_nexthop(p, &dst, nh);
	if (ret)
		return ret;
	ret = dp_neigh_lookup(port, nh, &mac);
	if (ret)
		return ret;
	eth = (struct rte_ether_hdr *)rte_pktmbuf_prepend(m, sizeof(*eth));
	if (eth == NULL)
		return -ENOSPC;
	rte_ether_addr_copy(&mac, &eth->dst_addr);
	rte_ether_addr_copy(&p->mac, &eth->src_addr);
	eth->ether_type =
	    rte_cpu_to_be_16(dst.family == AF_INET ? RTE_ETHER_TYPE_IPV4 : RTE_ETHER_TYPE_IPV6);
	return 0;
}

int dp_udp_tx(struct dp_worker *w, struct rte_mbuf *m, uint16_t port)
{
	struct dp_ipaddr nh;
	int ret = add_l2(m, port, &nh);

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
	struct dp_ipaddr nh;

	if (mac == NULL)
		return ctl_drop_unresolved(m);
	/* Resolved: the lookup in add_l2 now succeeds. */
	if (add_l2(m, port, &nh) == 0)
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
	struct dp_ipaddr nh;
	int ret = add_l2(m, port, &nh);

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
