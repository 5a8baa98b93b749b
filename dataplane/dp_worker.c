/* SPDX-License-Identifier: BSD-3-Clause */
/* Worker lcores: rx_burst -> parse/validate -> classify -> answer / dispatch / punt / drop
 * -> tx_burst. No locks, no logs, no system calls (except the optional lab-only idle
 * sleep, worker_idle_sleep_us). */
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_udp.h>
#include <rte_rcu_qsbr.h>

#include "dataplane/dp.h"
#include "dataplane/dp_icmp.h"
#include "dataplane/dp_feature.h"
#include "dataplane/dp_ha.h"
#include "dataplane/dp_udp.h"

#define PF_DATA 8
/* With intent to write: most frames are answered or relayed in place, and a line read
 * first and written next costs a second trip to the core that filled it. */
#define PREFETCHW(p) __builtin_prefetch((p), 1, 3)

static void free_dropped(struct dp_worker *w)
{
	if (w->dropped.n) {
		rte_pktmbuf_free_bulk(w->dropped.pkts, w->dropped.n);
		w->dropped.n = 0;
	}
}

void dp_drop(struct dp_worker *w, struct rte_mbuf *m, unsigned int reason)
{
	w->stats->drops[reason < DP_DROP_MAX ? reason : DP_DROP_FEATURE_UNKNOWN]++;
	/* Freed in bulk at the end of the loop iteration: cheaper than one by one, and the
	 * caller no longer owns m either way. */
	if (w->dropped.n == DP_MAX_BURST)
		free_dropped(w);
	w->dropped.pkts[w->dropped.n++] = m;
}

void dp_worker_tx_flush(struct dp_worker *w, uint16_t pidx)
{
	struct dp_txbuf *b = &w->tx[pidx];
	uint16_t sent, i;
	uint64_t bytes = b->bytes; /* summed as they were queued: no second pass over them */

	if (b->n == 0)
		return;
	sent = rte_eth_tx_burst(dp_rt.ports[pidx].port_id, (uint16_t)w->index, b->pkts, b->n);
	for (i = sent; i < b->n; i++) {
		bytes -= rte_pktmbuf_pkt_len(b->pkts[i]);
		dp_drop(w, b->pkts[i], DP_DROP_TX_FULL);
	}
	w->stats->tx_packets += sent;
	w->stats->tx_bytes += bytes;
	b->n = 0;
	b->bytes = 0;
}

void dp_worker_flush(struct dp_worker *w)
{
	uint16_t p;

	for (p = 0; p < dp_rt.nb_ports; p++)
		dp_worker_tx_flush(w, p);
}

static void punt_ctl(struct dp_worker *w, struct rte_mbuf *m, uint8_t kind,
		     const struct dp_pkt_info *pi)
{
	struct dp_punt_meta *meta = dp_mbuf_meta(m);

	meta->kind = kind;
	meta->feature_id = 0;
	meta->port = pi->port;
	meta->pi = *pi;
	if (rte_ring_sp_enqueue(w->punt, m) != 0) {
		dp_drop(w, m, DP_DROP_PUNT_RING_FULL);
		return;
	}
	w->stats->punted++;
}

/* Whether a (ours on port index pidx) is one of our own addresses the [ha] peer holds now
 * (dp_ha.h): the frame to it is dropped as ha_fenced, unanswered. One compare when
 * serving. */
static inline bool fenced_out(uint16_t pidx, const struct dp_port *port, const struct dp_ipaddr *a)
{
	return dp_ha_fenced(pidx) && !dp_ha_holds(port, a);
}

/* [ha] handover (dp_ha.h): a frame to one of our fenced addresses (own), or to a peer
 * address we gave back (!own), while the appliance that serves them now may still get some
 * through us (neighbours' caches move late): sent on to it, unchanged but for the MACs.
 * Returns false (the caller drops it) when nothing is being forwarded on this port. */
static inline bool ha_forward(struct dp_worker *w, struct rte_mbuf *m, uint16_t pidx, bool own,
			      const struct dp_ipaddr *dst)
{
	if (likely(__atomic_load_n(&dp_ha_fwd_port, __ATOMIC_ACQUIRE) != pidx))
		return false;
	if (own != dp_ha_fwd_own || (!own && !dp_ha_cfg_is_peer(dst)))
		return false;
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	eth->dst_addr = dp_ha_fwd_mac;
	eth->src_addr = dp_rt.ports[pidx].mac;
	w->stats->ha_forwarded++;
	dp_worker_tx(w, pidx, m);
	return true;
}

/* ICMPv6: echo for us, or neighbour discovery (RFC 4861 7.1.1 / 7.1.2 checks). */
static void icmp6_input(struct dp_worker *w, struct rte_mbuf *m, struct dp_pkt_info *pi,
			const struct dp_port *port)
{
	const uint8_t *l4 = rte_pktmbuf_mtod_offset(m, const uint8_t *, pi->l4_off);
	struct dp_ipaddr target;

	switch (pi->icmp_type) {
	case 128:
		if (pi->l2_mcast || !dp_addr_is_ours(port, &pi->dst)) {
			if (!pi->l2_mcast && ha_forward(w, m, pi->port, false, &pi->dst))
				return;
			return dp_drop(w, m, DP_DROP_IP6_NOT_FOR_US);
		}
		if (fenced_out(pi->port, port, &pi->dst)) {
			if (ha_forward(w, m, pi->port, true, &pi->dst))
				return;
			return dp_drop(w, m, DP_DROP_HA_FENCED);
		}
		w->stats->icmp6_echo_in++;
		dp_icmp6_echo_reply(m, pi, &port->mac);
		w->stats->icmp6_echo_out++;
		return dp_worker_tx(w, pi->port, m);
	case 135: /* neighbour solicitation */
	case 136: /* neighbour advertisement */
		if (pi->ttl != 255 || pi->icmp_code != 0 || pi->payload_len < 16)
			return dp_drop(w, m, DP_DROP_ND_MALFORMED);
		target.family = AF_INET6;
		memcpy(target.v6, l4 + 8, 16);
		if (pi->icmp_type == 135) {
			if (!dp_addr_is_ours(port, &target))
				return dp_drop(w, m, DP_DROP_ND_NOT_FOR_US);
			if (fenced_out(pi->port, port, &target))
				return dp_drop(w, m, DP_DROP_HA_FENCED);
			w->stats->nd_solicits_in++;
		} else {
			w->stats->nd_adverts_in++;
		}
		return punt_ctl(w, m, DP_PUNT_ND, pi);
	default:
		return dp_drop(w, m, DP_DROP_ICMP6_TYPE_UNSUPPORTED);
	}
}

/* The full parse of a frame whose rx is counted already. */
static void input_frame(struct dp_worker *w, struct rte_mbuf *m, uint16_t pidx)
{
	const struct dp_port *port = &dp_rt.ports[pidx];
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	struct dp_pkt_info local, *slot = dp_udp_batch_slot(w);
	/* Parsed in place into the UDP batch's next slot, the common case's destination. */
	struct dp_pkt_info *pip = slot ? slot : &local;
	/* UDP checksums are left to whoever consumes the datagram (dp_udp_input). */
	uint32_t flags = DP_PARSE_L4_CSUM_LATER;
	enum dp_pkt_class cls;

	if ((m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD)
		flags |= DP_PARSE_IP_CSUM_GOOD;
	if ((m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
		flags |= DP_PARSE_L4_CSUM_GOOD;
	pip->port = pidx;
	/* Multi-segment frames are parsed over their first segment only: anything longer
	 * fails the length checks and is dropped by reason. */
	/* Frames for another MAC are not ours to judge: count them before parsing. */
	if (rte_pktmbuf_data_len(m) >= RTE_ETHER_HDR_LEN && !(frame[0] & 1) &&
	    !rte_is_same_ether_addr((const struct rte_ether_addr *)frame, &port->mac))
		return dp_drop(w, m, DP_DROP_ETH_NOT_FOR_US);
	cls = dp_parse_frame(frame, rte_pktmbuf_data_len(m), flags, pip);
	if (cls == DP_CLS_DROP)
		return dp_drop(w, m, pip->drop);

	switch (cls) {
	case DP_CLS_ARP:
		if (!dp_addr_is_ours(port, &pip->dst))
			return dp_drop(w, m, DP_DROP_ARP_NOT_FOR_US);
		if (fenced_out(pidx, port, &pip->dst))
			return dp_drop(w, m, DP_DROP_HA_FENCED);
		if (pip->icmp_type == 1)
			w->stats->arp_requests_in++;
		else
			w->stats->arp_replies_in++;
		return punt_ctl(w, m, DP_PUNT_ARP, pip);
	case DP_CLS_ICMP4:
		if (pip->l2_mcast || !dp_addr_is_ours(port, &pip->dst)) {
			if (!pip->l2_mcast && ha_forward(w, m, pidx, false, &pip->dst))
				return;
			return dp_drop(w, m, DP_DROP_IP4_NOT_FOR_US);
		}
		if (fenced_out(pidx, port, &pip->dst)) {
			if (ha_forward(w, m, pidx, true, &pip->dst))
				return;
			return dp_drop(w, m, DP_DROP_HA_FENCED);
		}
		if (pip->icmp_type != 8 || pip->icmp_code != 0)
			return dp_drop(w, m, DP_DROP_ICMP_TYPE_UNSUPPORTED);
		w->stats->icmp_echo_in++;
		dp_icmp4_echo_reply(m, pip, &port->mac);
		w->stats->icmp_echo_out++;
		return dp_worker_tx(w, pidx, m);
	case DP_CLS_ICMP6:
		return icmp6_input(w, m, pip, port);
	case DP_CLS_UDP:
		if (!dp_addr_is_ours(port, &pip->dst)) {
			if (ha_forward(w, m, pidx, false, &pip->dst))
				return;
			return dp_drop(w, m,
				       pip->dst.family == AF_INET ? DP_DROP_IP4_NOT_FOR_US
								  : DP_DROP_IP6_NOT_FOR_US);
		}
		if (fenced_out(pidx, port, &pip->dst)) {
			if (ha_forward(w, m, pidx, true, &pip->dst))
				return;
			return dp_drop(w, m, DP_DROP_HA_FENCED);
		}
		if (unlikely(__atomic_load_n(&dp_ha_await_first, __ATOMIC_RELAXED)))
			dp_ha_first_datagram(port, &pip->dst);
		w->stats->udp_in++;
		return dp_udp_input(w, m, pip);
	default:
		return dp_drop(w, m, DP_DROP_ETHERTYPE_UNSUPPORTED);
	}
}

/* A datagram whose UDP checksum field holds only the pseudo-header's sum: a virtio NIC
 * (net_virtio) passes on the host's checksum offload as RTE_MBUF_F_RX_L4_CKSUM_NONE ("not
 * correct in the packet data, but the integrity of the L4 data is verified"), e.g. for a
 * datagram from the host itself. Every consumer verifies that field or updates it
 * incrementally for the relayed copy, so the full checksum is written in first (seen in
 * tests/integration/image_boot.sh: without this, every datagram from the host was dropped
 * as udp_bad_checksum). Plain IPv4/IPv6 UDP in one segment only; anything else is left to
 * the parse, which drops it by reason. */
static void fill_partial_udp_csum(struct rte_mbuf *m)
{
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	const uint32_t len = rte_pktmbuf_data_len(m);
	const struct rte_ether_hdr *eth = (const struct rte_ether_hdr *)frame;
	struct rte_udp_hdr *udp;

	if (m->nb_segs != 1 || len < RTE_ETHER_HDR_LEN + 20 + sizeof(*udp))
		return;
	if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) {
		const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(eth + 1);
		const uint32_t ihl = (ip->version_ihl & 0xf) * 4u;

		if (ip->next_proto_id != IPPROTO_UDP || ihl < 20 ||
		    rte_be_to_cpu_16(ip->total_length) > len - RTE_ETHER_HDR_LEN ||
		    rte_be_to_cpu_16(ip->total_length) < ihl + sizeof(*udp))
			return;
		udp = (struct rte_udp_hdr *)((uint8_t *)ip + ihl);
		udp->dgram_cksum = 0;
		udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
	} else if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6)) {
		const struct rte_ipv6_hdr *ip = (const struct rte_ipv6_hdr *)(eth + 1);

		if (len < RTE_ETHER_HDR_LEN + sizeof(*ip) + sizeof(*udp) ||
		    ip->proto != IPPROTO_UDP ||
		    rte_be_to_cpu_16(ip->payload_len) > len - RTE_ETHER_HDR_LEN - sizeof(*ip) ||
		    rte_be_to_cpu_16(ip->payload_len) < sizeof(*udp))
			return;
		udp = (struct rte_udp_hdr *)(ip + 1);
		udp->dgram_cksum = 0;
		udp->dgram_cksum = rte_ipv6_udptcp_cksum(ip, udp);
	} else {
		return;
	}
	m->ol_flags = (m->ol_flags & ~RTE_MBUF_F_RX_L4_CKSUM_MASK) | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
}

/* A received frame: the short way in when it is a feature's plain IPv4 or IPv6 datagram
 * (dp_udp.h 7.), else the full parse. On a port whose own addresses are fenced ([ha]),
 * always the full parse, which drops what goes to them. */
static inline void input(struct dp_worker *w, struct rte_mbuf *m, uint16_t pidx)
{
	if (unlikely((m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_NONE))
		fill_partial_udp_csum(m);
	if (!dp_ha_fenced(pidx) && (dp_udp4_take(w, m, pidx) || dp_udp6_take(w, m, pidx)))
		return;
	w->stats->rx_packets++;
	w->stats->rx_bytes += rte_pktmbuf_pkt_len(m);
	input_frame(w, m, pidx);
}

unsigned int dp_worker_hairpin(struct dp_worker *w)
{
	struct rte_mbuf *m[DP_MAX_BURST];
	unsigned int n = w->hairpin.n, i;

	memcpy(m, w->hairpin.pkts, n * sizeof(m[0]));
	w->hairpin.n = 0;
	if (w->index == 0 && dp_rt.hairpin)
		n += rte_ring_sc_dequeue_burst(dp_rt.hairpin, (void **)m + n, DP_MAX_BURST - n,
					       NULL);
	for (i = 0; i < n; i++) {
		const uint16_t pidx = dp_mbuf_meta(m[i])->port;
		const uint8_t v = *rte_pktmbuf_mtod(m[i], const uint8_t *) >> 4;
		struct rte_ether_hdr *eth =
		    (struct rte_ether_hdr *)rte_pktmbuf_prepend(m[i], RTE_ETHER_HDR_LEN);

		if (!eth) {
			dp_drop(w, m[i], DP_DROP_NO_MBUF);
			continue;
		}
		eth->dst_addr = dp_rt.ports[pidx].mac;
		eth->src_addr = dp_rt.ports[pidx].mac;
		eth->ether_type =
		    rte_cpu_to_be_16(v == 6 ? RTE_ETHER_TYPE_IPV6 : RTE_ETHER_TYPE_IPV4);
		w->stats->hairpin++;
		input_frame(w, m[i], pidx);
	}
	if (n)
		dp_udp_batch_flush(w);
	return n;
}

unsigned int dp_worker_returned(struct dp_worker *w)
{
	struct rte_mbuf *m[DP_MAX_BURST];
	struct dp_pkt_info pi[DP_MAX_BURST];
	unsigned int n, i, j;

	if (!w->back)
		return 0;
	n = rte_ring_sc_dequeue_burst(w->back, (void **)m, DP_MAX_BURST, NULL);
	/* runs of one feature, in their order */
	for (i = 0; i < n; i = j) {
		const uint8_t fid = dp_mbuf_meta(m[i])->feature_id;
		const struct dp_feature *f = dp_feature_get(fid);
		for (j = i; j < n && dp_mbuf_meta(m[j])->feature_id == fid; j++)
			pi[j] = dp_mbuf_meta(m[j])->pi;
		if (!f) {
			for (unsigned int k = i; k < j; k++)
				dp_drop(w, m[k], DP_DROP_FEATURE_UNKNOWN);
		} else if (f->udp_returned) {
			f->udp_returned(w, m + i, pi + i, (uint16_t)(j - i));
		} else if (f->udp_input_burst) {
			f->udp_input_burst(w, m + i, pi + i, (uint16_t)(j - i));
		} else {
			for (unsigned int k = i; k < j; k++)
				f->udp_input(w, m[k], &pi[k]);
		}
	}
	return n;
}

/* The end of a burst: the short way's datagrams go to their feature, and what it declined
 * takes the full parse and joins the rest. */
static void flush_inputs(struct dp_worker *w)
{
	uint16_t back = dp_udp4_flush(w);

	for (uint16_t i = 0; i < back; i++)
		input_frame(w, w->batch4.d[i].m, w->batch4.d[i].port);
	back = dp_udp6_flush(w);
	for (uint16_t i = 0; i < back; i++)
		input_frame(w, w->batch6.d[i].m, w->batch6.d[i].port);
	dp_udp_batch_flush(w);
}

/* A received burst waits for the next poll before it is processed, so that its frames are
 * fetched while the burst before it is worked on: a frame comes from another core's cache
 * or a NIC's DMA, and one burst of lead is what hides that (with only a few packets of
 * lead inside the burst, its first frames stalled on every burst). */
struct rx_burst {
	uint16_t n, port;
	struct rte_mbuf *pkts[DP_MAX_BURST];
};

/* A feature reads every line of what it relays (dp_udp_want_frames): set by control before
 * the workers start. */
static bool want_frames;

void dp_udp_want_frames(void)
{
	want_frames = true;
}

/* Process cur; prefetch next's mbuf headers along the way and, towards the end, its first
 * frames, so that the pipeline runs on across bursts. */
static void process(struct dp_worker *w, const struct rx_burst *cur, const struct rx_burst *next)
{
	uint16_t i, n = cur->n, nn = next ? next->n : 0;

	for (i = 0; i < n; i++) {
		if (i + PF_DATA < n)
			PREFETCHW(rte_pktmbuf_mtod(cur->pkts[i + PF_DATA], void *));
		else if (i + PF_DATA - n < nn)
			PREFETCHW(rte_pktmbuf_mtod(next->pkts[i + PF_DATA - n], void *));
		if (i < nn)
			PREFETCHW(next->pkts[i]);
		input(w, cur->pkts[i], cur->port);
	}
	for (; i < nn; i++)
		PREFETCHW(next->pkts[i]);
	/* next's frames whole, while cur is worked on, when a feature asked for it: the media
	 * anchor reads and rewrites every line of a frame (SRTP's HMAC copies its tail at
	 * submission), and a frame's lines come one by one from another core's cache or the
	 * NIC's DMA; prefetched only within cur's own burst, the first packets of the crypto
	 * waited for them */
	for (i = 0; want_frames && i < nn; i++) {
		const struct rte_mbuf *m = next->pkts[i];
		const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
		uintptr_t a = ((uintptr_t)d & ~(uintptr_t)(RTE_CACHE_LINE_SIZE - 1)) +
			      RTE_CACHE_LINE_SIZE,
			  end = (uintptr_t)d + m->data_len;
		for (; a < end; a += RTE_CACHE_LINE_SIZE) /* the first: with the headers, above */
			PREFETCHW((const void *)a);
	}
	flush_inputs(w);
}

/* Headers, then the first frames, of a burst nobody prefetched yet. */
static void prefetch_burst(const struct rx_burst *b)
{
	uint16_t i;

	for (i = 0; i < b->n; i++)
		PREFETCHW(b->pkts[i]);
	for (i = 0; i < b->n && i < PF_DATA; i++)
		PREFETCHW(rte_pktmbuf_mtod(b->pkts[i], void *));
}

/* The end of every loop iteration: transmit and free what it left, report quiescence, count
 * the iteration and, when it had work, its time (busy_us: packets / busy time is what one
 * core relays when it never waits for input). */
static void end_iteration(struct dp_worker *w, unsigned int got, uint64_t t0, uint64_t *busy_cyc,
			  uint64_t us_per_cyc)
{
	dp_worker_flush(w);
	free_dropped(w);
	rte_rcu_qsbr_quiescent(dp_rt.rcu, w->lcore_id);
	w->stats->loops++;
	if (got) {
		*busy_cyc += rte_rdtsc() - t0;
		w->stats->busy_loops++;
		w->stats->busy_us = dp_cyc_to_us(*busy_cyc, us_per_cyc);
	}
}

/* [dataplane] lab_reflect: every received frame goes back out of its port with its MAC
 * addresses swapped, unparsed. What a device and its generator allow a worker that touches
 * each frame once and does nothing else: the bench's ceiling for the relay on that device. */
static void reflect_main(struct dp_worker *w)
{
	const uint16_t burst = (uint16_t)__atomic_load_n(&dp_cfg.dp.burst_size, __ATOMIC_RELAXED);
	const uint64_t us_per_cyc = dp_us_q32(rte_get_tsc_hz());
	struct rte_mbuf *pkts[DP_MAX_BURST];
	uint64_t busy_cyc = 0;
	uint16_t p, q, n, i;

	while (!dp_rt.stop_workers) {
		const uint64_t t0 = rte_rdtsc();
		unsigned int got = 0;

		for (p = 0; p < dp_rt.nb_ports; p++) {
			for (q = w->index; q < dp_rt.ports[p].nb_rxq; q += dp_rt.nb_workers) {
				n = rte_eth_rx_burst(dp_rt.ports[p].port_id, q, pkts, burst);
				for (i = 0; i < n; i++)
					PREFETCHW(rte_pktmbuf_mtod(pkts[i], void *));
				for (i = 0; i < n; i++) {
					struct rte_ether_hdr *eth =
					    rte_pktmbuf_mtod(pkts[i], struct rte_ether_hdr *);
					struct rte_ether_addr a = eth->dst_addr;

					w->stats->rx_packets++;
					w->stats->rx_bytes += rte_pktmbuf_pkt_len(pkts[i]);
					eth->dst_addr = eth->src_addr;
					eth->src_addr = a;
					dp_worker_tx(w, p, pkts[i]);
				}
				got += n;
			}
		}
		end_iteration(w, got, t0, &busy_cyc, us_per_cyc);
	}
}

int dp_worker_main(void *arg)
{
	struct dp_worker *w = arg;
	static __thread struct rx_burst bufs[2];
	struct rx_burst *held = &bufs[0], *fresh = &bufs[1], *t;
	const uint16_t burst = (uint16_t)__atomic_load_n(&dp_cfg.dp.burst_size, __ATOMIC_RELAXED);
	const uint32_t idle_us = dp_cfg.dp.worker_idle_sleep_us;
	uint16_t p, q;

	rte_rcu_qsbr_thread_register(dp_rt.rcu, w->lcore_id);
	rte_rcu_qsbr_thread_online(dp_rt.rcu, w->lcore_id);
	const uint64_t us_per_cyc = dp_us_q32(rte_get_tsc_hz());
	uint64_t busy_cyc = 0;

	held->n = 0;
	if (dp_cfg.dp.lab_reflect)
		reflect_main(w);
	while (!dp_rt.stop_workers) {
		unsigned int got = 0;
		const uint64_t t0 = rte_rdtsc();

		for (p = 0; p < dp_rt.nb_ports; p++) {
			/* Queue q belongs to worker q mod nb_workers. */
			for (q = w->index; q < dp_rt.ports[p].nb_rxq; q += dp_rt.nb_workers) {
				fresh->n =
				    rte_eth_rx_burst(dp_rt.ports[p].port_id, q, fresh->pkts, burst);
				fresh->port = p;
				if (fresh->n == 0)
					continue;
				got += fresh->n;
				if (held->n)
					process(w, held, fresh);
				else
					prefetch_burst(fresh);
				t = held;
				held = fresh;
				fresh = t;
			}
		}
		/* Nothing more came in: what is held goes now. */
		if (!got && held->n) {
			process(w, held, NULL);
			held->n = 0;
			got = 1;
		}
		/* Input from elsewhere than a port (TURN's stream front) */
		if (dp_features_worker_poll(w))
			got = got ? got : 1;
		/* What control handed back, and what this iteration sent to our own addresses
		 * (and, on worker 0, control) */
		if (w->back && !rte_ring_empty(w->back) && dp_worker_returned(w))
			got = got ? got : 1;
		if ((w->hairpin.n ||
		     (w->index == 0 && dp_rt.hairpin && !rte_ring_empty(dp_rt.hairpin))) &&
		    dp_worker_hairpin(w))
			got = got ? got : 1;
		end_iteration(w, got, t0, &busy_cyc, us_per_cyc);
		if (!got && idle_us)
			rte_delay_us_sleep(idle_us);
	}
	if (held->n)
		process(w, held, NULL);
	rte_pktmbuf_free_bulk(w->hairpin.pkts, w->hairpin.n);
	w->hairpin.n = 0;
	if (w->back) {
		void *left = NULL;
		while (rte_ring_sc_dequeue(w->back, &left) == 0)
			rte_pktmbuf_free(left);
	}
	dp_worker_flush(w);
	free_dropped(w);
	rte_rcu_qsbr_thread_offline(dp_rt.rcu, w->lcore_id);
	rte_rcu_qsbr_thread_unregister(dp_rt.rcu, w->lcore_id);
	return 0;
}
