/* SPDX-License-Identifier: BSD-3-Clause */
/* The dataplane's extension point: how a feature (TURN, the media anchor, ...) plugs into
 * the packet path and the control loop.
 *
 * 1. Declare a struct dp_feature and register it from a constructor:
 *
 *        static struct dp_feature turn_feature = {
 *                .name = "turn",
 *                .init = turn_init,          // control lcore, after EAL, ports and tables
 *                .teardown = turn_teardown,  // control lcore, after workers stopped
 *                .poll = turn_poll,          // control lcore, every control-loop iteration
 *                .punt = turn_punt,          // control lcore, mbufs a worker punted to us
 *                .udp_input = turn_udp_input // worker lcores, UDP to a port we claimed
 *        };
 *        DP_FEATURE_REGISTER(turn_feature);
 *
 *    Link the feature's objects into poprelay-dataplane (from your .mk fragment):
 *        $(DP_BIN): $(TURN_OBJS)
 *    (the dataplane links every prerequisite of $(DP_BIN); objects, not archives, so the
 *    constructor is kept).
 *
 * 2. Config: register a section table from a constructor too (dp_config.h):
 *        static struct dp_cfg_section turn_cfg_section = {.name = "turn", ...};
 *        RTE_INIT(turn_cfg_register) { dp_cfg_section_register(&turn_cfg_section); }
 *    Its values are parsed, range-checked and stored before .init runs. Document every
 *    key in docs/configuration.md (a unit test compares the tables with the doc).
 *
 * 3. In .init, claim UDP destination ports with dp_udp_claim(): a UDP datagram to one of
 *    our addresses and a claimed port reaches .udp_input on the worker that received it,
 *    after L2/L3/L4 validation (lengths and checksums checked; pi has the offsets,
 *    addresses and host-order ports). Unclaimed ports drop with reason udp_no_listener.
 *
 * 4. .udp_input owns the mbuf and must do exactly one of:
 *      - dp_udp_tx() a packet (the same mbuf rewritten, or a new one),
 *      - dp_punt() it to the feature's .punt on the control lcore,
 *      - dp_drop() it with a reason (a static one from dp_counters.h, or one registered at
 *        init with dp_drop_reason_register()).
 *    It runs on a worker: never block, lock, log or make a system call. Tables it reads
 *    must be lock-free (rte_hash with RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF); attach them
 *    to dp_rt.rcu (rte_hash_rcu_qsbr_add) so control frees memory only after every worker
 *    went through a quiescent state (workers report one per loop iteration).
 *
 * 5. The control side (.poll, .punt, .init, .teardown) runs on the main lcore: it may
 *    block briefly, log, use Redis. To send from control use dp_ctl_udp_tx().
 *    Per-feature work queues from control to workers are the feature's own rings.
 *
 * Packets built for transmission start at the IP header (the mbuf's data_off points at the
 * IPv4/IPv6 header, with at least RTE_PKTMBUF_HEADROOM >= 14 bytes of headroom); dp_udp_tx
 * prepends Ethernet, fills our MAC and the next hop's MAC from the neighbour table (the
 * destination if on-link, else the port's gateway). If the next hop is not known yet, the
 * packet is punted to control, which starts ARP/ND resolution and parks it (one per next
 * hop, the newest) until the answer, then sends it from its own TX queue; while a request
 * is pending, further packets to that hop drop with reason neigh_unresolved, and so does
 * the parked one if the hop never answers (neigh_probes requests).
 * Checksums (IPv4 header, UDP) must be complete; dp_udp_finish() fills them for you.
 * Allocate new packets from dp_rt.pool (its mbufs carry the private area dp_punt() and
 * resolution use; an mbuf from another pool cannot be punted and is dropped instead).
 *
 * 6. The fast path (what the TURN relay does): set .udp_input_burst to get each RX burst's
 *    datagrams at once (parsed straight into the worker's batch) and overlap their table
 *    lookups; relay with dp_udp_relay(), which rewrites the datagram in place and updates
 *    the received UDP checksum (RFC 1624) instead of summing the payload; and set
 *    .l4_csum_preserved so that the worker does not verify relayed datagrams on the way
 *    in either. The feature then verifies (dp_udp_csum_verify) whatever it reads for
 *    itself; dp_punt() verifies for control, and a datagram the feature drops should be
 *    verified first so that a damaged one is counted as damaged.
 *
 * 7. The short way in, for the bulk of the fast path's traffic: with .udp4_burst set too,
 *    an IPv4 UDP datagram to one of our addresses and a port the feature claimed, without
 *    IP options or fragments, in one segment, skips the full parse: the worker checks the
 *    frame with a few compares (our MAC, ethertype, version and IHL, lengths, the IPv4
 *    header checksum, the source) and hands the burst's such datagrams over as struct
 *    dp_udp4 (dp.h), each to the feature whose claimed range holds its port (several
 *    features may take the short way: TURN and the media anchor do). The feature relays
 *    what it can and moves every datagram it does not take for itself, untouched, to the
 *    front of d[] in their order, returning how many: those then take the full parse and
 *    reach .udp_input_burst like any other. Its UDP checksum is not verified on the way in
 *    (so .l4_csum_preserved must be set too). A feature with .udp4_burst may set
 *    .udp6_burst for the IPv6 twin (dp_parse_udp6_plain: to one of the port's IPv6
 *    addresses, next header UDP, a non-zero checksum), its datagrams in a batch of their
 *    own.
 *
 * The smallest complete feature is dataplane/dp_echo.c (a diagnostic UDP echo). After
 * dp_udp_tx/dp_punt/dp_drop the mbuf is no longer the feature's: do not touch it.
 * Everything in this header is implemented in dataplane/dp_udp.c, dp_worker.c and
 * dp_control.c.
 */
#ifndef POPRELAY_DP_UDP_H
#define POPRELAY_DP_UDP_H

#include <stdint.h>

#include <rte_common.h>
#include <rte_mbuf.h>

#include "dataplane/dp.h"
#include "dataplane/dp_counters.h"
#include "dataplane/dp_parse.h"

#define DP_MAX_FEATURES	  16
#define DP_UDP_MAX_CLAIMS 16 /* port ranges claimed, by all features together */

struct dp_feature {
	const char *name;
	/* Control lcore, in registration order, after config, EAL, ports, mempool and
	 * neighbour table exist and before workers start. Non-zero (negative errno) aborts
	 * start-up with a message naming the feature. */
	int (*init)(void);
	/* Control lcore, after workers stopped, in reverse order. */
	void (*teardown)(void);
	/* Control lcore, every control-loop iteration (a few microseconds apart when busy,
	 * at most ~1 ms when idle). now_ms: monotonic milliseconds since start. Returns
	 * nonzero while it has work under way that will finish soon (replies it waits for):
	 * the control lcore then does not sleep. */
	unsigned (*poll)(uint64_t now_ms);
	/* Control lcore: while poll says work is under way, a file descriptor whose input ends
	 * it (a Redis connection awaiting replies), or -1. The control lcore sleeps on it
	 * instead of spinning, so that a Redis on the same CPU gets to answer. Optional. */
	int (*wait_fd)(void);
	/* Control lcore: an mbuf a worker passed with dp_punt(); the handler owns it. pi is
	 * the worker's parse result (offsets from the Ethernet header, still in the mbuf). */
	void (*punt)(struct rte_mbuf *m, const struct dp_pkt_info *pi);
	/* Worker lcore: a UDP datagram to a port this feature claimed; owns m (see 4.). */
	void (*udp_input)(struct dp_worker *w, struct rte_mbuf *m, struct dp_pkt_info *pi);
	/* Optional, worker lcore: the datagrams of one RX burst for this feature, in arrival
	 * order, instead of udp_input one by one (so that the feature can overlap their table
	 * lookups). Owns every m[i], with the rules of 4. for each; pi[] is the worker's. */
	void (*udp_input_burst)(struct dp_worker *w, struct rte_mbuf **m, struct dp_pkt_info *pi,
				uint16_t n);
	/* The feature verifies a datagram's UDP checksum before it reads the payload for
	 * itself, and relays with dp_udp_relay, which keeps a damaged datagram detectably
	 * damaged: so the worker need not sum every relayed byte on the way in (pi's
	 * l4_csum_unchecked tells). dp_punt() verifies for the control side. When false, the
	 * worker verifies before udp_input. */
	bool l4_csum_preserved;
	/* Optional, worker lcore, with .udp_input_burst and .l4_csum_preserved: the short way
	 * in (7.). Returns how many datagrams it declined, moved untouched to d[0..). */
	uint16_t (*udp4_burst)(struct dp_worker *w, struct dp_udp4 *d, uint16_t n);
	/* Optional, with .udp4_burst: the same for IPv6 (d[i].ip is the IPv6 header). */
	uint16_t (*udp6_burst)(struct dp_worker *w, struct dp_udp4 *d, uint16_t n);
	/* Optional, worker lcore: datagrams the feature's control side handed back with
	 * dp_punt_return (pi as the worker parsed them, checksums verified), with the rules of
	 * 4.; without it they go to .udp_input_burst or .udp_input. */
	void (*udp_returned)(struct dp_worker *w, struct rte_mbuf **m, struct dp_pkt_info *pi,
			     uint16_t n);
	/* Optional, worker lcore, once per loop iteration after the RX queues: input that does
	 * not come from a port (TURN's stream front, dataplane/turn/turn_stream.h). Returns how
	 * many items it handled (nonzero: the iteration counts as busy). Same rules as
	 * udp_input: no locks, no logs, no system calls. */
	unsigned (*worker_poll)(struct dp_worker *w);
	/* Optional, control lcore: the [ha] peer addresses were taken over (held) or given
	 * back (dataplane/dp_ha.h), after the workers' view changed on a release and before
	 * it changes on a takeover. Takes over (or lets go of) what the feature serves on
	 * them; returns how many items (TURN: allocations), or a negative errno. */
	int (*ha_change)(bool held);
	/* Optional, control lcore: our own [ha] port's addresses are fenced (serving false:
	 * the peer holds them, docs/scaling.md "Split brain and failback"), after the
	 * workers stopped taking them; or served again at a failback, before the workers take
	 * them. Lets go of (without deleting their records) or restores from Redis what the
	 * feature serves on them; returns how many items, or a negative errno. */
	int (*ha_own_change)(bool serving);

	uint8_t id; /* set by dp_feature_register: 1..DP_MAX_FEATURES */
};

void dp_feature_register(struct dp_feature *f);
#define DP_FEATURE_REGISTER(f)                                                                     \
	RTE_INIT(dp_feature_register_##f)                                                          \
	{                                                                                          \
		dp_feature_register(&(f));                                                         \
	}

/* Claim UDP destination ports [lo, hi] (host order) on every address we own, from .init.
 * -EBUSY if another feature holds one of them, -ENOSPC beyond 16 ranges in all. */
int dp_udp_claim(struct dp_feature *f, uint16_t lo, uint16_t hi);
/* The id of the feature that claimed port (host order), 0 when none did. */
uint8_t dp_udp_port_owner(uint16_t port);
/* From .init: this feature reads and rewrites every line of the datagrams it relays (the
 * media anchor's SRTP), so the workers prefetch each next burst's frames whole while they
 * work on the current one. A feature that touches only headers (TURN) does not ask: for it
 * those lines would be memory traffic for nothing. */
void dp_udp_want_frames(void);

/* The dispatch step (dp_worker.c calls it after validation): a UDP datagram to one of our
 * addresses. Hands m to the claiming feature's .udp_input, or drops udp_no_listener. */
void dp_udp_input(struct dp_worker *w, struct rte_mbuf *m, struct dp_pkt_info *pi);

/* Worker: hands the gathered burst to its feature (dp_worker.c calls it after each RX burst). */
void dp_udp_batch_flush(struct dp_worker *w);
/* The UDP ports of the features that take the short way in (7.), copied from their claims,
 * each range with the feature that owns it. Written by .init (dp_udp_claim), read-only for
 * the workers. */
struct dp_udp4_ports {
	uint8_t n;
	bool v6; /* some feature takes IPv6 too (.udp6_burst) */
	struct {
		uint16_t lo, hi;
		uint8_t feature_id;
		bool v6; /* this range's feature takes IPv6 */
	} r[DP_UDP_MAX_CLAIMS];
};
extern struct dp_udp4_ports dp_udp4_ports;

/* The short way's feature for dport (IPv4, or IPv6 when v6), 0 when none takes it. */
static inline uint8_t dp_udp4_port_owner(uint16_t dport, bool v6)
{
	for (unsigned int i = 0; i < dp_udp4_ports.n; i++)
		if ((uint16_t)(dport - dp_udp4_ports.r[i].lo) <=
		    (uint16_t)(dp_udp4_ports.r[i].hi - dp_udp4_ports.r[i].lo))
			return !v6 || dp_udp4_ports.r[i].v6 ? dp_udp4_ports.r[i].feature_id : 0;
	return 0;
}

/* Whether dport is one of the short way's ports (IPv4). */
static inline bool dp_udp4_port_claimed(uint16_t dport)
{
	return dp_udp4_port_owner(dport, false) != 0;
}

/* A frame that passed the short validation joins batch b for feature fid (rx counted
 * here). */
static inline bool dp_udp_short_push(struct dp_worker *w, struct dp_udp4_batch *b,
				     struct rte_mbuf *m, uint8_t *frame, uint16_t ulen,
				     uint16_t dport, uint16_t pidx, uint8_t fid)
{
	w->stats->rx_packets++;
	w->stats->rx_bytes += rte_pktmbuf_pkt_len(m);
	b->mixed |= b->n && b->d[0].feature_id != fid;
	b->d[b->n++] = (struct dp_udp4){.m = m,
					.ip = frame + RTE_ETHER_HDR_LEN,
					.udp_len = ulen,
					.dport = dport,
					.port = pidx,
					.feature_id = fid};
	return true;
}

/* Worker: takes frame m (received on port index pidx) the short way (7.) and returns true,
 * or returns false having touched nothing: then it takes the full parse. Counts rx. Inline:
 * it runs for every received frame. */
static inline bool dp_udp4_take(struct dp_worker *w, struct rte_mbuf *m, uint16_t pidx)
{
	const struct dp_port *port = &dp_rt.ports[pidx];
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	struct dp_udp4_batch *b = &w->batch4;
	const uint32_t flags =
	    (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD
		? DP_PARSE_IP_CSUM_GOOD
		: 0;
	uint32_t ours = port->ipv4.addr.v4;
	uint16_t ulen, dport;
	uint8_t fid;

	/* To an extra address of the port ([portN] ipv4_extra): the same short way. */
	if (unlikely(port->ipv4_extra.n) && rte_pktmbuf_data_len(m) >= RTE_ETHER_HDR_LEN + 20) {
		uint32_t d;

		memcpy(&d, frame + RTE_ETHER_HDR_LEN + 16, 4);
		if (d != ours && dp_addr4_is_extra(port, d))
			ours = d;
	}
	if (m->nb_segs != 1 || !port->ipv4.set ||
	    !dp_parse_udp4_plain(frame, rte_pktmbuf_data_len(m), flags, &port->mac, ours, &ulen,
				 &dport) ||
	    !(fid = dp_udp4_port_owner(dport, false)))
		return false;
	return dp_udp_short_push(w, b, m, frame, ulen, dport, pidx, fid);
}

/* The same for a plain IPv6 datagram (dp_parse_udp6_plain), into w->batch6. */
static inline bool dp_udp6_take(struct dp_worker *w, struct rte_mbuf *m, uint16_t pidx)
{
	const struct dp_port *port = &dp_rt.ports[pidx];
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	struct dp_udp4_batch *b = &w->batch6;
	const uint8_t *ours = port->ipv6.addr.v6;
	uint16_t ulen, dport;
	uint8_t fid;

	/* To an extra address of the port ([portN] ipv6_extra): the same short way. */
	if (unlikely(port->ipv6_extra.n) && rte_pktmbuf_data_len(m) >= RTE_ETHER_HDR_LEN + 40) {
		const uint8_t *d = frame + RTE_ETHER_HDR_LEN + 24;

		for (unsigned int i = 0; i < port->ipv6_extra.n; i++)
			if (memcmp(port->ipv6_extra.p[i].addr.v6, d, 16) == 0)
				ours = port->ipv6_extra.p[i].addr.v6;
	}
	if (!dp_udp4_ports.v6 || m->nb_segs != 1 || !port->ipv6.set ||
	    !dp_parse_udp6_plain(frame, rte_pktmbuf_data_len(m), &port->mac, ours, &ulen, &dport) ||
	    !(fid = dp_udp4_port_owner(dport, true)))
		return false;
	return dp_udp_short_push(w, b, m, frame, ulen, dport, pidx, fid);
}

/* Worker: hands what dp_udp4_take gathered to the features that own their ports (each
 * feature its own datagrams, in arrival order); returns how many they declined, left in
 * w->batch4.d[0..) for the full parse (their rx already counted). */
uint16_t dp_udp4_flush(struct dp_worker *w);
/* The same for dp_udp6_take's, left in w->batch6.d[0..). */
uint16_t dp_udp6_flush(struct dp_worker *w);
/* Worker: where to parse the next frame so that dp_udp_input need not copy pi (NULL when
 * the batch is full). */
static inline struct dp_pkt_info *dp_udp_batch_slot(struct dp_worker *w)
{
	return w->batch.n < DP_MAX_BURST ? &w->batch.pi[w->batch.n] : NULL;
}

/* Worker: true when m's UDP checksum is right (verifying it now if the parse left it to us;
 * pi->l4_csum_unchecked is cleared). A feature with l4_csum_preserved calls it before it
 * reads a payload for itself. */
bool dp_udp_csum_verify(struct rte_mbuf *m, struct dp_pkt_info *pi);

/* Worker: relay a received datagram, rewritten in place. m and pi are as received (data at
 * the Ethernet header); the new datagram goes from src:sport to dst:dport (same family,
 * either family from either), and carries the received payload less `strip` bytes from its
 * front, `keep` bytes of it, with hdr_len bytes of hdr in front and pad zero bytes after.
 * The payload is not moved. The UDP checksum is updated from the received one (RFC 1624):
 * the cost does not grow with the payload, and a datagram damaged on the way in stays
 * detectably damaged on the way out (a received IPv4 datagram without a checksum gets a
 * computed one). Then as dp_udp_tx on pi->port: always consumes m, same return values;
 * -EINVAL (dropped, tx_invalid) for a multi-segment mbuf or lengths that do not fit. */
int dp_udp_relay(struct dp_worker *w, struct rte_mbuf *m, const struct dp_pkt_info *pi,
		 uint16_t strip, uint16_t keep, const uint8_t *hdr, uint16_t hdr_len, uint16_t pad,
		 const struct dp_ipaddr *src, uint16_t sport, const struct dp_ipaddr *dst,
		 uint16_t dport);

/* The rewrite step of dp_udp_relay alone, for any lcore: leaves m starting at the new IP
 * header (as dp_udp_encap does), or returns -EINVAL with m untouched. */
int dp_udp_rewrite(struct rte_mbuf *m, const struct dp_pkt_info *pi, uint16_t strip, uint16_t keep,
		   const uint8_t *hdr, uint16_t hdr_len, uint16_t pad, const struct dp_ipaddr *src,
		   uint16_t sport, const struct dp_ipaddr *dst, uint16_t dport);

/* Worker: count and free. */
void dp_drop(struct dp_worker *w, struct rte_mbuf *m, unsigned int reason);

/* Worker: hand m to feature f's .punt on the control lcore (pi copied into the mbuf's
 * private area). If the worker's punt ring is full: dropped, punt_ring_full. */
void dp_punt(struct dp_worker *w, struct rte_mbuf *m, const struct dp_feature *f,
	     const struct dp_pkt_info *pi);

/* Control lcore: hand a packet a worker punted (m as .punt got it) back to that worker, for
 * another go at the feature's input there (.udp_returned): for a packet whose handling now
 * belongs to the worker, such as one of a stream whose state only the worker may write.
 * Always consumes m: if the worker's ring is full it is dropped (punt_ring_full). */
void dp_punt_return(struct rte_mbuf *m);

/* Fill the IPv4 header checksum (IPv4) and the UDP checksum of the packet that starts at
 * the IP header at the mbuf's data pointer (single segment). */
void dp_udp_finish(struct rte_mbuf *m);

/* Build headers in front of payload already in m: m's data starts at the UDP payload;
 * prepends UDP and IPv4/IPv6 headers from src/dst (same family) and ports (host order),
 * TTL/hop limit 64, and fills checksums. 0, -ENOSPC (no headroom) or -EINVAL. */
int dp_udp_encap(struct rte_mbuf *m, const struct dp_ipaddr *src, uint16_t sport,
		 const struct dp_ipaddr *dst, uint16_t dport);

/* Worker: transmit m (data starts at the IP header) out of port index `port` toward the IP
 * destination in its header (see the comment at the top). Always consumes m; counts what
 * happened (tx_packets or a drop reason). Returns 0 if queued for transmission,
 * -EAGAIN if the next hop is being resolved (the packet was parked or dropped),
 * -ENETUNREACH without a route, -ENOSPC. */
int dp_udp_tx(struct dp_worker *w, struct rte_mbuf *m, uint16_t port);

/* Worker: dp_udp_tx for n IPv4 packets: m[i]'s IPv4 datagram, len[i] bytes from ip[i]
 * (inside m[i]'s buffer, wherever its data offset points now: it is set here, once), out of
 * port index port[i] toward dst[i] (network order, its header's destination). The
 * relaying fast path's form: with the next hop in the worker's cache a packet costs a
 * masked compare and its Ethernet header, and a run of packets toward the same next hop
 * looks it up once; anything else goes through dp_udp_tx. Consumes every m[i]. */
void dp_udp_tx4_burst(struct dp_worker *w, struct rte_mbuf **m, uint8_t *const *ip,
		      const uint16_t *len, const uint16_t *port, const uint32_t *dst,
		      unsigned int n);
/* The same for IPv6 packets (ip[i]: the IPv6 header, whose destination is read there). */
void dp_udp_tx6_burst(struct dp_worker *w, struct rte_mbuf **m, uint8_t *const *ip,
		      const uint16_t *len, const uint16_t *port, unsigned int n);

/* Control lcore: same as dp_udp_tx from control's own TX queue; an unresolved next hop
 * starts resolution directly and the packet is parked the same way. */
int dp_ctl_udp_tx(struct rte_mbuf *m, uint16_t port);

/* The primary address of a family on port index `port` (family 0 when not configured);
 * the port's extra addresses ([portN] ipv4_extra, ipv6_extra) are in dp_rt.ports[port]. */
const struct dp_ipaddr *dp_port_addr(uint16_t port, int family);

#endif
