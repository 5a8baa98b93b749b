/* SPDX-License-Identifier: BSD-3-Clause */
/* The media anchor as a dataplane feature (dataplane/dp_udp.h, design in media.h):
 *  - control lcore: follows pr:sessions:stream (consumer group [media] group), rebuilds every
 *    live session from the hashes at start, installs, updates and ends sessions through RCU,
 *    takes over the [ha] peer's sessions at a takeover and lets them go at a release,
 *    creates a stream's SRTP contexts when a worker punts its first packet, writes each
 *    session's figures to its hash every stats_interval_ms;
 *  - workers: relay RTP/RTCP between the legs, SRTP unprotect and protect in bursts;
 *  - telemetry: /poprelay/media/stats, /poprelay/media/sessions, /poprelay/media/session. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>
#include <rte_spinlock.h>
#include <rte_telemetry.h>

#include "common/inet.h"
#include "common/keyspace.h"
#include "common/log.h"
#include "common/redis.h"
#include "crypto/srtp.h"
#include "dataplane/dp.h"
#include "dataplane/dp_config.h"
#include "dataplane/dp_ha.h"
#include "dataplane/dp_udp.h"
#include "dataplane/dp_tunables.h"
#include "dataplane/media/media.h"
#include "dataplane/media/media_dtls.h"
#include "dataplane/media/media_ice.h"
#include "dataplane/media/media_load.h"

/* ---- configuration: [media] ---- */
struct media_cfg {
	bool enabled;
	uint32_t port_min, port_max;
	uint32_t max_sessions;
	char group[DP_CFG_STR_MAX];
	char consumer[DP_CFG_STR_MAX];
	uint32_t stats_interval_ms;
	char clear_latch[DP_CFG_STR_MAX];
	uint32_t relatch_interval_ms;
	uint32_t session_idle_s;
	char dtls_socket[DP_CFG_STR_MAX];
};
static struct media_cfg mcfg;

#define MC(f) offsetof(struct media_cfg, f)
static const struct dp_cfg_key media_keys[] = {
    {"enabled", DP_CFG_BOOL, 0, 0, "yes", MC(enabled), 0, "run the media anchor"},
    {"port_min", DP_CFG_U32, 1024, 65534, "30000", MC(port_min), 0,
     "first UDP port of the anchor's relay ports (even: RTP, odd: RTCP)"},
    {"port_max", DP_CFG_U32, 1025, 65535, "39999", MC(port_max), 0,
     "last UDP port of the anchor's relay ports; the slowpath's media_ports lie inside"},
    {"max_sessions", DP_CFG_U32, 1, 1000000, "16384", MC(max_sessions), 0,
     "media sessions (m= lines) relayed at once; installs beyond are refused and counted"},
    {"group", DP_CFG_STR, 1, 63, "dataplane", MC(group), 0,
     "this dataplane's consumer group on the session stream; appliances sharing a Redis ([ha] "
     "peers) each need their own (one group shares the entries out among its readers)"},
    {"consumer", DP_CFG_STR, 1, 63, "dataplane", MC(consumer), 0,
     "this dataplane's consumer name in the session stream's group"},
    {"stats_interval_ms", DP_CFG_U32, 100, 60000, "1000", MC(stats_interval_ms), 0,
     "interval of the per-leg figures written to each session's hash"},
    {"clear_latch", DP_CFG_STR, 4, 8, "sdp-host", MC(clear_latch), 0,
     "legs in clear latch from: sdp-host (the SDP address's host only) or first (any source)"},
    {"relatch_interval_ms", DP_CFG_U32, 0, 600000, "2000", MC(relatch_interval_ms), 0,
     "a leg in clear moves its latch at most this often"},
    {"session_idle_s", DP_CFG_U32, 5, 3600, "60", MC(session_idle_s), 0,
     "idle time after which a session whose record gives none is reported to the slowpath to end"},
    {"dtls_socket", DP_CFG_STR, 0, 107, "", MC(dtls_socket), 0,
     "unix socket where poprelay-dtls attaches (DTLS-SRTP handshakes of browser legs); "
     "empty: <runtime dir>/dtls.sock, off: none"},
};

/* [media]'s relations between keys and the ports it will claim (dp_config_load runs it, so
 * --check-config and the start refuse alike). */
static int media_cfg_check(char *err, size_t errlen)
{
	if (!mcfg.enabled)
		return 0;
	if (mcfg.port_min & 1) {
		snprintf(err, errlen,
			 "[media] port_min: got %u, expected an even port (RTP on even ports, "
			 "RTCP on the odd one after)",
			 mcfg.port_min);
		return -EINVAL;
	}
	if (!(mcfg.port_max & 1) || mcfg.port_min >= mcfg.port_max) {
		snprintf(err, errlen,
			 "[media] port_max: got %u, expected an odd port above port_min (%u)",
			 mcfg.port_max, mcfg.port_min);
		return -EINVAL;
	}
	if (strcmp(mcfg.clear_latch, "sdp-host") && strcmp(mcfg.clear_latch, "first")) {
		snprintf(err, errlen, "[media] clear_latch: got \"%s\", expected sdp-host or first",
			 mcfg.clear_latch);
		return -EINVAL;
	}
	if (!pr_ks_user_name_valid(mcfg.group)) {
		snprintf(err, errlen,
			 "[media] group: got \"%s\", expected letters, digits, '.', '_' and '-' "
			 "only",
			 mcfg.group);
		return -EINVAL;
	}
	if (!pr_ks_user_name_valid(mcfg.consumer)) {
		snprintf(err, errlen,
			 "[media] consumer: got \"%s\", expected letters, digits, '.', '_' and "
			 "'-' only",
			 mcfg.consumer);
		return -EINVAL;
	}
	return dp_cfg_udp_reserve("[media] port_min, port_max", mcfg.port_min, mcfg.port_max, err,
				  errlen);
}

static struct dp_cfg_section media_section = {.name = "media",
					      .storage = &mcfg,
					      .keys = media_keys,
					      .nkeys = RTE_DIM(media_keys),
					      .check = media_cfg_check};

RTE_INIT(media_cfg_register)
{
	dp_cfg_section_register(&media_section);
}

/* ---- state ---- */
enum {
	MD_NO_SESSION,
	MD_WRONG_ADDR,
	MD_MALFORMED,
	MD_WRONG_SOURCE,
	MD_AUTH,
	MD_REPLAY,
	MD_SRTP,
	MD_NO_PEER,
	MD_BANDWIDTH,
	MD_SSRC_LIMIT,
	MD_TX,
	MD_NEW_SSRC_RATE,
	MD_SSRC_STARTING,
	MD_LEG_MAX, /* the reasons above count on a leg's ctl_drop[] too */
	/* ICE legs (media_ice.h): media from another source than the nominated one, DTLS
	 * (RFC 7983 20-63) that does not go to poprelay-dtls (a leg without DTLS-SRTP, a
	 * source that is not the nominated one, beyond ICE_PER_S, no process attached),
	 * STUN beyond ICE_PER_S, a check control refused (by reason in
	 * /poprelay/media/stats), media of a DTLS-SRTP leg before its keys */
	MD_ICE_SOURCE = MD_LEG_MAX,
	MD_DTLS,
	MD_ICE_RATE,
	MD_ICE_CHECK,
	MD_DTLS_UNKEYED,
	MD_MAX
};
static const char *const md_names[MD_MAX] = {
    "media_no_session",	   "media_wrong_addr",	    "media_malformed", "media_wrong_source",
    "media_auth",	   "media_replay",	    "media_srtp",      "media_no_peer",
    "media_bandwidth",	   "media_ssrc_limit",	    "media_tx",	       "media_new_ssrc_rate",
    "media_ssrc_starting", "media_ice_unnominated", "media_dtls",      "media_ice_rate",
    "media_ice_refused",   "media_dtls_unkeyed"};
_Static_assert(MD_LEG_MAX <= RTE_DIM(((struct media_rt *)0)->ctl_drop), "ctl_drop too small");
/* First packets of new SSRCs a leg may send to control per second (and as a burst): each
 * costs a context creation and an authentication there. */
#define NEW_SSRC_PER_S 20
/* STUN messages an ICE leg may send to control per second (and as a burst): a browser checks
 * every 50 ms at first over a few candidate pairs, then every few seconds for consent. */
#define ICE_PER_S 50
static int drop_id[MD_MAX];

/* Written by control at init; the slots by control (RCU), read by workers. */
static struct media_leg **slots; /* (port - port_min) / 2 -> leg, or BUNDLE group | 1 */
static uint32_t nslots;
static uint64_t us_q32;
static bool clear_latch_first;
static uint64_t relatch_cyc;

/* Control only (and the telemetry thread under lock). */
static rte_spinlock_t lock = RTE_SPINLOCK_INITIALIZER;
static struct media_sess **list;
static uint32_t nlist;
static struct {
	uint64_t installs, updates, ends, bad_entries, unknown, refused, idle_ends;
	uint64_t ctl_relayed, redis_errors, streams_restored;
	uint64_t restore_orphaned;	  /* dropped at the first rebuild: relay address not ours */
	uint64_t ended_rx, ended_relayed; /* figures of the sessions that ended */
	uint64_t ice[MEDIA_ICE_VERDICTS]; /* STUN on ICE legs, by verdict */
	uint64_t ice_nominations;	  /* nominated checks that latched or moved a latch */
	/* DTLS-SRTP legs: keyed by a handshake, keys kept from the hash (restart) or from the
	 * previous generation (update), handshakes that failed (the leg reported to end) */
	uint64_t dtls_keyed, dtls_keys_restored, dtls_keys_kept, dtls_failed;
	uint64_t dtls_unknown_leg; /* the process named a leg that is gone or re-keyed */
	uint64_t bundle_groups;	   /* BUNDLE groups published (new or changed) */
	/* [ha]: records of the peer's sessions left to it (not held), sessions taken over at
	 * takeovers and let go at releases */
	uint64_t peer_skipped, ha_taken, ha_released;
} cst;
/* [ha]: we hold the peer's addresses (control only; set before the workers see them held,
 * cleared after they stopped), so its sessions are ours to relay. */
static bool peer_held;
/* [ha] fencing: our own addresses are held by the peer (dp_ha.h): our sessions are left to
 * it (neither installed, relayed, written nor reported idle) until the failback. */
static bool own_fenced;
static uint32_t dtls_gen_next;
static uint32_t dtls_attach; /* process attaches seen (a START per leg per attach) */
static struct pr_redis *redis;
static uint64_t last_try_ms, last_read_ms, last_stats_ms;
static bool warned, synced_start, pending_done;
/* The first rebuild from the hashes (the restore after a start) is still to complete. */
static bool first_sync = true;
/* Retired objects, freed after the next grace period. */
#define RETIRE_MAX 4096
static struct {
	void *p;
	uint8_t kind; /* see retire() */
} retired[RETIRE_MAX];
static unsigned nretired;

extern struct dp_feature media_feature;

static inline struct media_leg *slot_get(uint16_t port)
{
	uint32_t i = (uint32_t)(uint16_t)(port - mcfg.port_min) >> 1;

	if (i >= nslots)
		return NULL;
	return __atomic_load_n(&slots[i], __ATOMIC_ACQUIRE);
}

/* Sessions, their runtime state, streams and SRTP contexts live in the hugepage heap: with
 * thousands of sessions on 4 KiB pages, nearly every line a packet reads is also a TLB
 * miss (a nested page walk in a VM), and the relay's speed moved by half from one process
 * to the next with where the kernel put them. */
static void *hp_zalloc(size_t size, size_t align)
{
	return rte_zmalloc("media", size, (unsigned)align);
}

static void *hp_srtp_alloc(size_t align, size_t size)
{
	return rte_malloc("srtp", size, (unsigned)align);
}

/* ---- the worker path ---- */

static inline bool addr_unset(const struct dp_ipaddr *a)
{
	static const uint8_t z[16];

	return a->family == 0 || (a->family == AF_INET ? a->v4 == 0 : !memcmp(a->v6, z, 16));
}

static inline struct media_stream *stream_find(struct media_leg *l, uint32_t ssrc)
{
	for (unsigned i = 0; i < MEDIA_MAX_SSRC; i++) {
		struct media_stream *s = __atomic_load_n(&l->streams[i], __ATOMIC_ACQUIRE);
		if (!s)
			return NULL;
		if (s->ssrc == ssrc)
			return s;
	}
	return NULL;
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A port table entry is one leg, or a BUNDLE group (bit 0 set: legs are 64-byte aligned). */
static inline bool slot_is_bundle(const struct media_leg *v)
{
	return (uintptr_t)v & 1;
}

static inline struct media_bundle *slot_bundle(const struct media_leg *v)
{
	return (struct media_bundle *)((uintptr_t)v & ~(uintptr_t)1);
}

/* A member with a stream for ssrc (its first packet was picked for it), or NULL. */
static inline struct media_leg *bundle_by_stream(const struct media_bundle *b, uint32_t ssrc)
{
	for (unsigned i = 0; i < b->n; i++)
		if (stream_find(b->leg[i], ssrc))
			return b->leg[i];
	return NULL;
}

/* The member of BUNDLE group b a datagram is for (RFC 8843 9.2): RTP by its MID header
 * extension when it carries one (browsers tag a stream's first packets so), else by its
 * payload type, or, for a payload type two members claim, by the member that has a stream
 * for its SSRC (learnt from a MID-tagged packet); RTCP by its sender SSRC, an a=ssrc id of a
 * member's or else an SSRC a member has a stream for (its RTP came first); everything else
 * (STUN, DTLS, an unknown payload type or sender SSRC, compound RTCP of a receive-only SSRC)
 * goes to the first member, which answers the checks and holds the group's DTLS
 * association. */
static inline struct media_leg *bundle_pick(const struct media_bundle *b, const uint8_t *pl,
					    uint16_t len)
{
	if (len >= 8 && (pl[0] >> 6) == 2) {
		if (!media_is_rtcp_mux(pl, len)) {
			uint8_t pt = pl[1] & 0x7f, ml = 0;
			if (unlikely(len < 12)) /* not RTP: the first member drops it */
				return b->leg[0];
			if (unlikely(b->mid_ext && (pl[0] & 0x10))) {
				const uint8_t *v = media_rtp_ext(pl, len, b->mid_ext, &ml);
				for (unsigned i = 0; v && i < b->n; i++)
					if (b->mid_len[i] == ml && !memcmp(b->mid[i], v, ml))
						return b->leg[i];
			}
			if (unlikely(b->pt_amb[pt >> 6] >> (pt & 63) & 1)) {
				struct media_leg *l = bundle_by_stream(b, rd32(pl + 8));
				if (l)
					return l;
			}
			uint8_t i = b->pt_idx[pt];
			return b->leg[i ? i - 1 : 0];
		}
		uint32_t ssrc = rd32(pl + 4);
		for (unsigned i = 0; i < b->n; i++)
			for (unsigned j = 0; j < b->n_ssrc[i]; j++)
				if (b->ssrc[i][j] == ssrc)
					return b->leg[i];
		struct media_leg *l = bundle_by_stream(b, ssrc);
		if (l)
			return l;
	}
	return b->leg[0];
}

/* A packet's way through the relay, filled in steps. */
struct mpkt {
	struct rte_mbuf *m;
	struct dp_pkt_info *pi;
	struct media_leg *in;
	struct media_stream *st;
	struct pr_srtp_pkt pk;
	bool rtcp;
	bool src_match; /* came from the latched (or, before a latch, an acceptable) source */
};

/* Is leg l's latch (RTP's, RTCP's) one of its current generation (a new SDP address voids
 * it)? */
static inline bool rtp_latched(const struct media_leg *l)
{
	return l->rt->latched && l->rt->latch_gen == l->gen;
}

static inline bool rtcp_latched(const struct media_leg *l)
{
	return l->rt->rtcp_latched && l->rt->rtcp_gen == l->gen;
}

/* Where leg o's device gets RTP / RTCP: the latched source, else the SDP address. */
static inline bool out_addr(const struct media_leg *o, bool rtcp, struct dp_ipaddr *ip,
			    uint16_t *port)
{
	const struct media_rt *rt = o->rt;
	bool latched = rtp_latched(o);

	if (rtcp && !o->rtcp_mux) {
		if (latched && rtcp_latched(o)) {
			*ip = rt->lat_rtcp_ip;
			*port = rt->lat_rtcp_port;
			return true;
		}
		if (latched) {
			*ip = rt->lat_ip;
			*port = (uint16_t)(rt->lat_port + 1);
			return true;
		}
		if (o->ice || addr_unset(&o->peer) || o->peer_port == 0)
			return false;
		*ip = o->peer;
		*port = (uint16_t)(o->peer_port + 1);
		return true;
	}
	if (latched) {
		*ip = rt->lat_ip;
		*port = rt->lat_port;
		return true;
	}
	/* an ICE leg gets media only on the nominated pair (RFC 7675: no consent before) */
	if (o->ice || addr_unset(&o->peer) || o->peer_port == 0)
		return false;
	*ip = o->peer;
	*port = o->peer_port;
	return true;
}

/* Would a leg in clear accept (and latch to) src now? */
static inline bool clear_source_ok(const struct media_leg *l, const struct dp_pkt_info *pi,
				   bool rtcp, uint64_t now)
{
	const struct media_rt *rt = l->rt;

	if (rtp_latched(l)) {
		if (rtcp && !l->rtcp_mux && rtcp_latched(l))
			return dp_ipaddr_eq(&pi->src, &rt->lat_rtcp_ip) &&
			       pi->sport == rt->lat_rtcp_port;
		if (rtcp && !l->rtcp_mux)
			return dp_ipaddr_eq(&pi->src, &rt->lat_ip);
		if (dp_ipaddr_eq(&pi->src, &rt->lat_ip) && pi->sport == rt->lat_port)
			return true;
		if (!l->latch)
			return false;
		/* a move of the latch: rate-limited, and from the SDP host unless "first" */
		if (now - rt->last_relatch_tsc < relatch_cyc)
			return false;
	}
	if (!l->latch)
		return dp_ipaddr_eq(&pi->src, &l->peer) &&
		       pi->sport ==
			   (uint16_t)(rtcp && !l->rtcp_mux ? l->peer_port + 1 : l->peer_port);
	return clear_latch_first || addr_unset(&l->peer) || dp_ipaddr_eq(&pi->src, &l->peer);
}

/* Is src the latched source of leg l (for an encrypted leg; before a latch: yes)? */
static inline bool srtp_source_match(const struct media_leg *l, const struct dp_pkt_info *pi,
				     bool rtcp)
{
	const struct media_rt *rt = l->rt;

	if (!rtp_latched(l))
		return l->latch || (dp_ipaddr_eq(&pi->src, &l->peer) &&
				    pi->sport == l->peer_port + (rtcp && !l->rtcp_mux ? 1 : 0));
	if (rtcp && !l->rtcp_mux)
		return rtcp_latched(l) ? dp_ipaddr_eq(&pi->src, &rt->lat_rtcp_ip) &&
					     pi->sport == rt->lat_rtcp_port
				       : dp_ipaddr_eq(&pi->src, &rt->lat_ip);
	return dp_ipaddr_eq(&pi->src, &rt->lat_ip) && pi->sport == rt->lat_port;
}

/* Learn or move the latch of leg l to src (an authentic packet, or an accepted one in
 * clear). */
static inline void latch(struct media_leg *l, const struct dp_pkt_info *pi, bool rtcp, uint64_t now)
{
	struct media_rt *rt = l->rt;

	if (rtcp && !l->rtcp_mux) {
		if (!rtcp_latched(l) || !dp_ipaddr_eq(&rt->lat_rtcp_ip, &pi->src) ||
		    rt->lat_rtcp_port != pi->sport) {
			rt->lat_rtcp_ip = pi->src;
			rt->lat_rtcp_port = pi->sport;
			rt->rtcp_gen = l->gen;
			rt->rtcp_latched = 1;
		}
		return;
	}
	if (rtp_latched(l)) {
		if (dp_ipaddr_eq(&rt->lat_ip, &pi->src) && rt->lat_port == pi->sport)
			return;
		if (!l->latch || l->ice) /* an ICE leg's moves with nominations (control) */
			return;
		/* a leg in clear moves at most every relatch_interval_ms: the packets of one
		 * burst were all judged against the latch before any of them moved it */
		if (!l->encrypted && rt->last_relatch_tsc &&
		    now - rt->last_relatch_tsc < relatch_cyc)
			return;
		rt->relatch++;
		rt->last_relatch_tsc = now;
		rt->rtcp_latched = 0; /* learn RTCP's again from the new binding */
	}
	rt->lat_ip = pi->src;
	rt->lat_port = pi->sport;
	rt->latch_gen = l->gen;
	__atomic_store_n(&rt->latched, 1, __ATOMIC_RELEASE);
}

/* Token bucket of X_max_kbps (bytes); true when the packet fits. */
static inline bool bucket_take(struct media_leg *l, uint32_t bytes, uint64_t now)
{
	struct media_rt *rt = l->rt;
	uint64_t burst = (uint64_t)l->max_kbps * 1000 / 8 / 4 + 1500; /* 250 ms and a packet */

	if (!l->max_kbps)
		return true;
	if (rt->tb_tsc == 0) {
		rt->tb_tsc = now;
		rt->tb_tokens = burst;
	}
	uint64_t us = dp_cyc_to_us(now - rt->tb_tsc, us_q32);
	if (us) {
		rt->tb_tokens += us * l->max_kbps / 8000;
		if (rt->tb_tokens > burst)
			rt->tb_tokens = burst;
		rt->tb_tsc = now;
	}
	if (rt->tb_tokens < bytes)
		return false;
	rt->tb_tokens -= bytes;
	return true;
}

static inline unsigned srtp_drop(uint8_t result)
{
	switch (result) {
	case PR_SRTP_ERR_AUTH:
		return MD_AUTH;
	case PR_SRTP_ERR_REPLAY:
		return MD_REPLAY;
	case PR_SRTP_ERR_TOO_SHORT:
	case PR_SRTP_ERR_BAD_VERSION:
		return MD_MALFORMED;
	default:
		return MD_SRTP;
	}
}

/* Worker: drop by reason, unless the datagram is damaged (its UDP checksum, which the way
 * in left to us, is wrong): then it counts as damaged. */
static inline void wdrop(struct dp_worker *w, struct rte_mbuf *m, struct dp_pkt_info *pi,
			 unsigned reason)
{
	if (!dp_udp_csum_verify(m, pi))
		return dp_drop(w, m, DP_DROP_UDP_BAD_CSUM);
	dp_drop(w, m, (unsigned)drop_id[reason]);
}

static inline void count_drop(struct media_leg *l, unsigned reason)
{
	struct media_rt *rt = l->rt;

	if (reason == MD_AUTH)
		rt->auth_fail++;
	else if (reason == MD_REPLAY)
		rt->replay++;
	else if (reason == MD_WRONG_SOURCE)
		rt->wrong_source++;
	else if (reason == MD_BANDWIDTH)
		rt->bandwidth++;
	else
		rt->other_drop++;
}

/* Who relays: a worker, or control for the first packet of a stream. */
struct relayer {
	struct dp_worker *w; /* NULL: control */
	uint64_t now;	     /* tsc */
	uint64_t us;	     /* us since the dataplane's start */
};

static inline struct relayer relayer_at(struct dp_worker *w)
{
	uint64_t now = rte_rdtsc();

	return (struct relayer){
	    .w = w, .now = now, .us = dp_cyc_to_us(now - dp_rt.start_tsc, us_q32)};
}

/* Control: drop m by reason, on leg l's figures too when l is not NULL (its ctl_drop[]:
 * the other counters are the workers'). */
static void ctl_drop(struct media_leg *l, struct rte_mbuf *m, unsigned reason)
{
	if (l)
		l->rt->ctl_drop[reason]++;
	dp_stats[rte_lcore_id()].drops[drop_id[reason]]++;
	rte_pktmbuf_free(m);
}

/* Count on leg l's figures and drop, on a worker or on control. */
static void drop(struct relayer *r, struct media_leg *l, struct rte_mbuf *m, unsigned reason)
{
	if (!r->w)
		return ctl_drop(l, m, reason);
	count_drop(l, reason);
	dp_drop(r->w, m, (unsigned)drop_id[reason]);
}

/* After unprotect (or for clear input): latch, figures, bandwidth; then the out leg's
 * protect is done by the caller. Returns the out leg, or NULL when dropped (counted). */
static struct media_leg *accept_in(struct relayer *r, struct mpkt *p)
{
	struct media_leg *l = p->in, *o = media_other(l);
	struct media_rt *rt = l->rt;

	if (!bucket_take(l, p->pk.len, r->now)) {
		drop(r, l, p->m, MD_BANDWIDTH);
		return NULL;
	}
	latch(l, p->pi, p->rtcp, r->now);
	if (r->w) {
		rt->rx_packets++;
		rt->rx_bytes += p->pi->payload_len;
	} else {
		rt->ctl_rx_packets++;
		rt->ctl_rx_bytes += p->pi->payload_len;
	}
	rt->last_rx_ms = (uint32_t)(r->us / 1000) | 1; /* 0: never (1 ms early at worst) */
	if (!p->rtcp && p->pk.len >= 12) {
		uint32_t arrival = (uint32_t)(r->us * l->clock_hz / 1000000);
		media_stream_seq(p->st, p->pk.data, arrival);
	}
	return o;
}

/* A worker burst's IPv4 datagrams ready to go, for dp_udp_tx4_burst (the next-hop cache's
 * burst form: one lookup for a run toward the same next hop). */
struct txq {
	unsigned n;
	struct rte_mbuf *m[DP_MAX_BURST];
	uint8_t *ip[DP_MAX_BURST];
	uint16_t len[DP_MAX_BURST], port[DP_MAX_BURST];
	uint32_t dst[DP_MAX_BURST];
};

/* Rewrites p's datagram (payload pk, already protected for o) from o's relay address to its
 * device and transmits it: queued on q when given and IPv4, else at once. */
static void emit(struct relayer *r, struct mpkt *p, struct media_leg *o, struct txq *q)
{
	struct rte_mbuf *m = p->m;
	struct dp_ipaddr dst;
	uint16_t dport, sport = (uint16_t)(o->relay_port + (p->rtcp && !o->rtcp_mux ? 1 : 0));

	if (!out_addr(o, p->rtcp, &dst, &dport) || dst.family != o->relay.family)
		return drop(r, p->in, m, MD_NO_PEER);
	/* m: [headers][pk.len bytes at pk.data]: keep the payload where it is */
	if (o->relay.family == AF_INET &&
	    p->pk.data - (uint8_t *)m->buf_addr >= RTE_ETHER_HDR_LEN + 28) {
		/* IPv4 out, the common case: the headers and their checksums from values (the
		 * payload is summed once; nothing just stored is read back) */
		uint8_t *ip = p->pk.data - 28;
		const uint16_t ulen = (uint16_t)(p->pk.len + 8), sp = htons(sport),
			       dp = htons(dport);
		uint64_t acc = pr_csum_acc(p->pk.data, p->pk.len, 0) + (uint64_t)o->relay.v4 +
			       dst.v4 + htons(IPPROTO_UDP) + 2u * htons(ulen) + sp + dp;
		uint16_t ck = (uint16_t)~pr_csum_fold(acc);

		pr_put_ip4_udp(ip, o->relay.v4, sp, dst.v4, dp, ulen, ck ? ck : 0xffff);
		if (q && r->w) {
			o->rt->tx_packets++;
			o->rt->tx_bytes += p->pk.len;
			q->m[q->n] = m;
			q->ip[q->n] = ip;
			q->len[q->n] = (uint16_t)(20 + ulen);
			q->port[q->n] = o->port_idx;
			q->dst[q->n++] = dst.v4;
			return;
		}
		m->data_off = (uint16_t)(ip - (uint8_t *)m->buf_addr);
		m->data_len = (uint16_t)(20 + ulen);
		m->pkt_len = m->data_len;
	} else {
		rte_pktmbuf_adj(m, (uint16_t)(p->pk.data - rte_pktmbuf_mtod(m, uint8_t *)));
		m->data_len = p->pk.len;
		m->pkt_len = p->pk.len;
		if (dp_udp_encap(m, &o->relay, sport, &dst, dport) < 0)
			return drop(r, p->in, m, MD_TX);
	}
	if (r->w) {
		o->rt->tx_packets++;
		o->rt->tx_bytes += p->pk.len;
		dp_udp_tx(r->w, m, o->port_idx);
	} else {
		o->rt->ctl_tx_packets++;
		o->rt->ctl_tx_bytes += p->pk.len;
		cst.ctl_relayed++;
		dp_ctl_udp_tx(m, o->port_idx);
	}
}

/* One packet, all steps, crypto one at a time (RTCP, and control's first packets). */
static void relay_one(struct relayer *r, struct mpkt *p)
{
	struct media_leg *l = p->in, *o;
	struct media_stream *s = p->st;

	if (l->encrypted) {
		unsigned ok = p->rtcp ? pr_srtcp_unprotect_burst(s->rx, &p->pk, 1)
				      : pr_srtp_unprotect_burst(s->rx, &p->pk, 1);
		if (!ok) {
			unsigned why = p->src_match ? srtp_drop(p->pk.result) : MD_WRONG_SOURCE;
			if (r->w && !dp_udp_csum_verify(p->m, p->pi))
				return dp_drop(r->w, p->m, DP_DROP_UDP_BAD_CSUM);
			return drop(r, l, p->m, why);
		}
	}
	o = accept_in(r, p);
	if (!o)
		return;
	if (o->encrypted) {
		unsigned ok = p->rtcp ? pr_srtcp_protect_burst(s->tx, &p->pk, 1)
				      : pr_srtp_protect_burst(s->tx, &p->pk, 1);
		if (!ok)
			return drop(r, l, p->m, MD_SRTP);
	}
	emit(r, p, o, NULL);
}

/* Per worker: it is handling packets control handed back (media_returned). Writer: that
 * worker. */
static bool returning[DP_MAX_WORKERS];

/* A first packet of a new SSRC may go to control: NEW_SSRC_PER_S a second per leg. */
static inline bool punt_take(struct media_rt *rt, uint64_t now)
{
	uint64_t per = dp_rt.tsc_hz / NEW_SSRC_PER_S;

	if (rt->punt_tsc == 0 || now - rt->punt_tsc >= per * NEW_SSRC_PER_S) {
		rt->punt_tsc = now;
		rt->punt_tokens = NEW_SSRC_PER_S;
	} else if (now - rt->punt_tsc >= per) {
		uint64_t add = (now - rt->punt_tsc) / per;
		rt->punt_tokens = RTE_MIN(rt->punt_tokens + add, (uint64_t)NEW_SSRC_PER_S);
		rt->punt_tsc += add * per;
	}
	if (!rt->punt_tokens)
		return false;
	rt->punt_tokens--;
	return true;
}

/* STUN to an ICE leg goes to control at most ICE_PER_S a second; a race between workers
 * (checks from several sources) may let a few more through: a bound, not an exact count. */
static inline bool ice_take(struct media_leg *l, uint64_t now)
{
	uint64_t per = dp_rt.tsc_hz / ICE_PER_S;

	if (l->ice_tsc == 0 || now - l->ice_tsc >= per * ICE_PER_S) {
		l->ice_tsc = now;
		l->ice_tokens = ICE_PER_S;
	} else if (now - l->ice_tsc >= per) {
		uint64_t add = (now - l->ice_tsc) / per;
		l->ice_tokens = (uint32_t)RTE_MIN(l->ice_tokens + add, (uint64_t)ICE_PER_S);
		l->ice_tsc += add * per;
	}
	if (!l->ice_tokens)
		return false;
	l->ice_tokens--;
	return true;
}

/* Before its nomination: is src where ICE leg l's last authenticated check came from (a
 * valid pair)? */
static inline bool ice_checked_src(const struct media_leg *l, const struct dp_pkt_info *pi)
{
	const struct media_ice_rt *rt = l->irt;

	return __atomic_load_n(&rt->checked, __ATOMIC_ACQUIRE) && rt->chk_gen == l->gen &&
	       dp_ipaddr_eq(&pi->src, &rt->chk_ip) && pi->sport == rt->chk_port;
}

/* A datagram to ICE leg l that is not RTP (RFC 7983 demultiplexing by its first byte):
 * STUN (0-3) goes to control, which answers checks (ice_check); DTLS (20-63) goes to control
 * for poprelay-dtls only on a DTLS-SRTP leg, from its nominated address, or before a
 * nomination from the source of its last authenticated check (browsers send their
 * ClientHello once a check succeeds, before they nominate: Chromium answering a call
 * nominates a second later), never from anywhere else, within the leg's ICE_PER_S;
 * otherwise it is dropped and counted. True when m was taken. */
static bool ice_in(struct dp_worker *w, struct rte_mbuf *m, struct dp_pkt_info *pi,
		   struct media_leg *l, const uint8_t *pl, uint16_t len, uint64_t now)
{
	if (!len || m->nb_segs != 1)
		return false;
	if (pl[0] <= 3 && len >= STUN_HDR_LEN) {
		if (!ice_take(l, now)) {
			count_drop(l, MD_ICE_RATE);
			wdrop(w, m, pi, MD_ICE_RATE);
		} else {
			dp_punt(w, m, &media_feature, pi);
		}
		return true;
	}
	if (pl[0] >= 20 && pl[0] <= 63) {
		if (l->dtls &&
		    (rtp_latched(l) ? srtp_source_match(l, pi, false) : ice_checked_src(l, pi)) &&
		    ice_take(l, now)) {
			dp_punt(w, m, &media_feature, pi);
			return true;
		}
		count_drop(l, MD_DTLS);
		wdrop(w, m, pi, MD_DTLS);
		return true;
	}
	return false;
}

/* Classifies datagram m (to leg l, from the port table, or NULL): fills p, or drops or
 * punts it (returns false). */
static bool classify(struct dp_worker *w, struct rte_mbuf *m, struct dp_pkt_info *pi,
		     struct media_leg *l, struct mpkt *p, uint64_t now)
{
	uint8_t *pl = rte_pktmbuf_mtod_offset(m, uint8_t *, pi->payload_off);
	uint16_t len = pi->payload_len;
	bool rtcp;
	uint32_t ssrc;

	if (!l) {
		wdrop(w, m, pi, MD_NO_SESSION);
		return false;
	}
	if (!dp_ipaddr_eq(&pi->dst, &l->relay)) {
		wdrop(w, m, pi, MD_WRONG_ADDR);
		return false;
	}
	rtcp = ((pi->dport - mcfg.port_min) & 1) || (l->rtcp_mux && media_is_rtcp_mux(pl, len));
	if (len < (rtcp ? 8 : 12) || (pl[0] >> 6) != 2 || m->nb_segs != 1) {
		/* STUN and DTLS fail the version test too: an ICE leg's are looked at here, off
		 * the media's way */
		if (l->ice && ice_in(w, m, pi, l, pl, len, now))
			return false;
		count_drop(l, MD_MALFORMED);
		wdrop(w, m, pi, MD_MALFORMED);
		return false;
	}
	/* an ICE leg takes media only from the nominated source (before a nomination, from
	 * none): its checks latch it, never its packets */
	if (l->ice && !(rtp_latched(l) && srtp_source_match(l, pi, rtcp))) {
		count_drop(l, MD_WRONG_SOURCE);
		wdrop(w, m, pi, MD_ICE_SOURCE);
		return false;
	}
	if (l->dtls && !l->dtls_keyed) {
		count_drop(l, MD_DTLS_UNKEYED);
		wdrop(w, m, pi, MD_DTLS_UNKEYED);
		return false;
	}
	ssrc = rd32(pl + (rtcp ? 4 : 8));
	p->m = m;
	p->pi = pi;
	p->in = l;
	p->rtcp = rtcp;
	p->pk.data = pl;
	p->pk.len = len;
	/* room: up to the end of the buffer (bytes after the datagram are padding) */
	p->pk.room =
	    (uint16_t)RTE_MIN((uint32_t)(m->buf_len - (pl - (uint8_t *)m->buf_addr)), 0xffffu);
	p->pk.result = 0;
	if (l->encrypted) {
		p->src_match = srtp_source_match(l, pi, rtcp);
	} else {
		/* nothing authenticates a leg in clear: its checksum must */
		if (!dp_udp_csum_verify(m, pi)) {
			dp_drop(w, m, DP_DROP_UDP_BAD_CSUM);
			return false;
		}
		p->src_match = clear_source_ok(l, pi, rtcp, now);
		if (!p->src_match) {
			count_drop(l, MD_WRONG_SOURCE);
			dp_drop(w, m, (unsigned)drop_id[MD_WRONG_SOURCE]);
			return false;
		}
	}
	p->st = stream_find(l, ssrc);
	if (!p->st) { /* the first packet of this SSRC: control creates its contexts */
		if (returning[w->index]) { /* control handed it back, yet no stream: give up */
			count_drop(l, MD_SSRC_STARTING);
			wdrop(w, m, pi, MD_SSRC_STARTING);
			return false;
		}
		if (!punt_take(l->rt, now)) {
			count_drop(l, MD_NEW_SSRC_RATE);
			wdrop(w, m, pi, MD_NEW_SSRC_RATE);
			return false;
		}
		dp_punt(w, m, &media_feature, pi);
		return false;
	}
	return true;
}

/* A burst's lookups level by level, so that their cache misses overlap: with thousands of
 * sessions, a worker mostly waits for each packet's leg, then its runtime state and stream,
 * then the stream's contexts and the other leg; one after the other, that is four misses in
 * a row for every packet. */
static inline void prefetch_burst(struct rte_mbuf **m, struct media_leg **lg,
				  const struct dp_pkt_info *pi, uint16_t n)
{
	uint16_t i;

	bool bundled = false;

	for (i = 0; i < n; i++) {
		lg[i] = slot_get(pi[i].dport);
		if (unlikely(slot_is_bundle(lg[i]))) { /* the one branch a non-bundled leg pays */
			/* a BUNDLE group: its members and the payload type's entry first (picked
			 * below, once every packet's lines are on their way) */
			const struct media_bundle *b = slot_bundle(lg[i]);
			const uint8_t *pl =
			    rte_pktmbuf_mtod_offset(m[i], const uint8_t *, pi[i].payload_off);
			rte_prefetch0(b);
			if (pi[i].payload_len >= 2)
				rte_prefetch0(&b->pt_idx[pl[1] & 0x7f]);
			bundled = true;
		} else if (lg[i]) {
			rte_prefetch0(lg[i]); /* its line 0 */
		}
	}
	for (i = 0; unlikely(bundled) && i < n; i++)
		if (slot_is_bundle(lg[i])) {
			lg[i] = bundle_pick(
			    slot_bundle(lg[i]),
			    rte_pktmbuf_mtod_offset(m[i], const uint8_t *, pi[i].payload_off),
			    pi[i].payload_len);
			if (lg[i])
				rte_prefetch0(lg[i]);
		}
	/* the payloads: the generator's core wrote them, and the crypto reads them in order,
	 * one line after the other, each a miss without this. Each one's last line first: the
	 * unprotect's preparation saves the trailer and writes the ROC there, packet after
	 * packet, before any job runs (when the burst before prefetched the frames whole, as
	 * the worker loop does, these find them in the cache) */
	for (i = 0; i < n; i++) {
		const uint8_t *pl =
		    rte_pktmbuf_mtod_offset(m[i], const uint8_t *, pi[i].payload_off);
		if (pi[i].payload_len)
			rte_prefetch0(pl + pi[i].payload_len - 1);
	}
	for (i = 0; i < n; i++) {
		const uint8_t *pl =
		    rte_pktmbuf_mtod_offset(m[i], const uint8_t *, pi[i].payload_off);
		uintptr_t a = ((uintptr_t)pl & ~(uintptr_t)(RTE_CACHE_LINE_SIZE - 1)) +
			      RTE_CACHE_LINE_SIZE,
			  end = (uintptr_t)pl + pi[i].payload_len;
		for (; a < end; a += RTE_CACHE_LINE_SIZE) /* the first: read with the headers */
			rte_prefetch0((const void *)a);
	}
	for (i = 0; i < n; i++) {
		const struct media_leg *l = lg[i];
		if (!l)
			continue;
		const struct media_leg *o = media_other(l);
		rte_prefetch0(l->rt);
		rte_prefetch0(o);
		if (l->streams[0])
			rte_prefetch0(l->streams[0]);
	}
	for (i = 0; i < n; i++) {
		const struct media_leg *l = lg[i];
		if (!l)
			continue;
		const struct media_stream *s = l->streams[0];
		rte_prefetch0(media_other(l)->rt);
		if (s) {
			if (s->rx)
				rte_prefetch0(s->rx);
			if (s->tx)
				rte_prefetch0(s->tx);
		}
	}
}

static void media_burst(struct dp_worker *w, struct rte_mbuf **m, struct dp_pkt_info *pi,
			uint16_t n)
{
	struct mpkt pk[DP_MAX_BURST];
	struct pr_srtp_ctx *ctx[DP_MAX_BURST];
	struct pr_srtp_pkt sp[DP_MAX_BURST];
	uint16_t idx[DP_MAX_BURST];
	struct media_leg *out[DP_MAX_BURST], *lg[DP_MAX_BURST];
	struct txq txq;
	struct relayer r = relayer_at(w);
	unsigned k = 0, ne = 0;

	prefetch_burst(m, lg, pi, n);
	for (uint16_t i = 0; i < n; i++) {
		struct mpkt *p = &pk[k];
		if (!classify(w, m[i], &pi[i], lg[i], p, r.now))
			continue;
		if (p->rtcp) {
			relay_one(&r, p);
			continue;
		}
		k++;
	}
	/* SRTP unprotect, one burst over every context */
	for (unsigned i = 0; i < k; i++)
		if (pk[i].in->encrypted) {
			ctx[ne] = pk[i].st->rx;
			sp[ne] = pk[i].pk;
			idx[ne++] = (uint16_t)i;
		}
	if (ne) {
		pr_srtp_unprotect_burst_multi(ctx, sp, ne);
		for (unsigned j = 0; j < ne; j++)
			pk[idx[j]].pk = sp[j];
	}
	unsigned nt = 0;
	for (unsigned i = 0; i < k; i++) {
		struct mpkt *p = &pk[i];
		out[i] = NULL;
		if (p->in->encrypted && p->pk.result != PR_SRTP_OK) {
			unsigned why = p->src_match ? srtp_drop(p->pk.result) : MD_WRONG_SOURCE;
			if (!dp_udp_csum_verify(p->m, p->pi)) { /* damaged, not forged */
				dp_drop(w, p->m, DP_DROP_UDP_BAD_CSUM);
				continue;
			}
			count_drop(p->in, why);
			dp_drop(w, p->m, (unsigned)drop_id[why]);
			continue;
		}
		out[i] = accept_in(&r, p);
		if (out[i] && out[i]->encrypted) {
			ctx[nt] = p->st->tx;
			sp[nt] = p->pk;
			idx[nt++] = (uint16_t)i;
		}
	}
	if (nt) {
		pr_srtp_protect_burst_multi(ctx, sp, nt);
		for (unsigned j = 0; j < nt; j++) {
			struct mpkt *p = &pk[idx[j]];
			p->pk = sp[j];
			if (p->pk.result != PR_SRTP_OK) {
				count_drop(p->in, MD_SRTP);
				dp_drop(w, p->m, (unsigned)drop_id[MD_SRTP]);
				out[idx[j]] = NULL;
			}
		}
	}
	txq.n = 0;
	for (unsigned i = 0; i < k; i++)
		if (out[i])
			emit(&r, &pk[i], out[i], &txq);
	if (txq.n)
		dp_udp_tx4_burst(w, txq.m, txq.ip, txq.len, txq.port, txq.dst, txq.n);
}

static void media_input(struct dp_worker *w, struct rte_mbuf *m, struct dp_pkt_info *pi)
{
	media_burst(w, &m, pi, 1);
}

/* Packets of a stream that control published after the worker had punted them: handed
 * back (dp_punt_return), they go the worker's way now, never to control again. */
static void media_returned(struct dp_worker *w, struct rte_mbuf **m, struct dp_pkt_info *pi,
			   uint16_t n)
{
	returning[w->index] = true;
	media_burst(w, m, pi, n);
	returning[w->index] = false;
}

/* The short way in (dp_udp.h 7.): plain datagrams to our ports as bare descriptors. The
 * anchor takes them all: what the burst path needs of a parse is read here. */
static uint16_t media_short(struct dp_worker *w, struct dp_udp4 *d, uint16_t n, bool v6)
{
	struct rte_mbuf *m[DP_MAX_BURST];
	struct dp_pkt_info pi[DP_MAX_BURST];
	const uint16_t l3 = RTE_ETHER_HDR_LEN, l4 = (uint16_t)(l3 + (v6 ? 40 : 20));

	for (uint16_t i = 0; i < n; i++) {
		const uint8_t *ip = d[i].ip, *udp = ip + (v6 ? 40 : 20);
		struct dp_pkt_info *p = &pi[i];

		m[i] = d[i].m;
		p->l3_off = l3;
		p->l4_off = l4;
		p->payload_off = (uint16_t)(l4 + 8);
		p->payload_len = (uint16_t)(d[i].udp_len - 8);
		p->l3_len = (uint16_t)((v6 ? 40 : 0) + (ip[2] << 8 | ip[3]));
		p->ethertype = v6 ? RTE_ETHER_TYPE_IPV6 : RTE_ETHER_TYPE_IPV4;
		p->sport = (uint16_t)(udp[0] << 8 | udp[1]);
		p->dport = d[i].dport;
		p->port = d[i].port;
		p->proto = IPPROTO_UDP;
		p->ttl = v6 ? ip[7] : ip[8];
		p->drop = 0;
		p->l2_mcast = 0;
		p->l4_csum_unchecked = 1;
		memset(&p->src, 0, sizeof(p->src));
		memset(&p->dst, 0, sizeof(p->dst));
		if (v6) {
			p->src.family = p->dst.family = AF_INET6;
			memcpy(p->src.v6, ip + 8, 16);
			memcpy(p->dst.v6, ip + 24, 16);
		} else {
			p->src.family = p->dst.family = AF_INET;
			memcpy(&p->src.v4, ip + 12, 4);
			memcpy(&p->dst.v4, ip + 16, 4);
		}
	}
	media_burst(w, m, pi, n);
	return 0;
}

static uint16_t media_short4(struct dp_worker *w, struct dp_udp4 *d, uint16_t n)
{
	return media_short(w, d, n, false);
}

static uint16_t media_short6(struct dp_worker *w, struct dp_udp4 *d, uint16_t n)
{
	return media_short(w, d, n, true);
}

/* ---- control: streams ---- */

/* A stream's state as persisted in the session hash (X_streams), for a restart. */
struct stream_saved {
	uint32_t ssrc;
	int64_t idx[4]; /* rx RTP, rx SRTCP, tx RTP, tx SRTCP; -1: none */
};

static int ctx_new(const struct pr_sdes_crypto *k, enum pr_srtp_direction dir, uint32_t ssrc,
		   const int64_t *restore, struct pr_srtp_ctx **out)
{
	struct pr_srtp_params p = {.profile = k->profile,
				   .direction = dir,
				   .ssrc = ssrc,
				   .master_key = k->key,
				   .master_salt = k->salt,
				   .mki = k->mki,
				   .mki_len = k->mki_len};
	if (restore && (restore[0] >= 0 || restore[1] >= 0)) {
		p.restore = 1;
		p.restore_rtp_index = restore[0];
		p.restore_srtcp_index = restore[1];
		/* a sender's SRTCP index runs ahead of the last one written by up to a sync
		 * interval: leap well past it (SRTCP is a few packets a second) */
		if (dir == PR_SRTP_SENDER && restore[1] >= 0)
			p.restore_srtcp_index = RTE_MIN(restore[1] + 4096, (int64_t)0x7ffffffe);
	}
	return pr_srtp_ctx_create(&p, out);
}

static void stream_free(struct media_stream *s)
{
	if (!s)
		return;
	pr_srtp_ctx_destroy(s->rx);
	pr_srtp_ctx_destroy(s->tx);
	rte_free(s);
}

static struct media_stream *stream_new(struct media_leg *l, uint32_t ssrc,
				       const struct stream_saved *saved)
{
	struct media_leg *o = media_other(l);
	struct media_stream *s = hp_zalloc(sizeof(*s), _Alignof(struct media_stream));

	if (!s)
		return NULL;
	s->ssrc = ssrc;
	if ((l->encrypted && ctx_new(&media_keys_of(l)->rx, PR_SRTP_RECEIVER, ssrc,
				     saved ? saved->idx : NULL, &s->rx) < 0) ||
	    (o->encrypted && ctx_new(&media_keys_of(o)->tx, PR_SRTP_SENDER, ssrc,
				     saved ? saved->idx + 2 : NULL, &s->tx) < 0)) {
		stream_free(s);
		return NULL;
	}
	return s;
}

/* ---- control: DTLS-SRTP legs and poprelay-dtls (media_dtls.h) ---- */

static int sess_load_apply(const char *id, bool peer_only);
static void reclaim(void);
static bool port_in_range(uint16_t port);

/* Control: the leg a datagram to port is for (its member when the port is a BUNDLE
 * group's), or NULL. */
static struct media_leg *slot_leg(uint16_t port, const uint8_t *pl, uint16_t len)
{
	struct media_leg *v = slot_get(port);

	return slot_is_bundle(v) ? bundle_pick(slot_bundle(v), pl, len) : v;
}

/* Control: the leg at port, or its BUNDLE group's first member; NULL when none. */
static struct media_leg *slot_first(uint16_t port)
{
	struct media_leg *v = slot_get(port);

	return slot_is_bundle(v) ? slot_bundle(v)->leg[0] : v;
}

/* A bundled leg that is not its group's first: the first's handshake keys it. */
static inline bool bundle_follower(const struct media_leg *l)
{
	return l->bl && l->bl->pos != 0;
}

/* Do legs a and b expect the same DTLS association (role and peer's fingerprint)? */
static bool same_dtls(const struct media_leg *a, const struct media_leg *b)
{
	if (!a->dtls || !b->dtls)
		return false;
	const struct media_ice *ka = a->ice_cred, *kb = b->ice_cred;

	return ka->dtls_role == kb->dtls_role &&
	       !memcmp(ka->dtls_fpr, kb->dtls_fpr, sizeof(ka->dtls_fpr));
}

/* Where leg l's DTLS goes: its nominated address, or before a nomination the source of its
 * last authenticated check; false: neither. */
static bool dtls_peer(const struct media_leg *l, struct dp_ipaddr *ip, uint16_t *port)
{
	const struct media_rt *rt = l->rt;

	if (rtp_latched(l)) {
		*ip = rt->lat_ip;
		*port = rt->lat_port;
		return true;
	}
	if (l->irt && l->irt->checked && l->irt->chk_gen == l->gen) {
		*ip = l->irt->chk_ip;
		*port = l->irt->chk_port;
		return true;
	}
	return false;
}

/* Leg l's 5-tuple as the channel names it: the peer's address (dtls_peer), our anchor. */
static void dtls_tuple(const struct media_leg *l, struct pr_frec *t)
{
	struct dp_ipaddr ip = {0};
	uint16_t port = 0;

	memset(t, 0, sizeof(*t));
	t->kind = PR_FREC_MSG;
	t->fam = l->relay.family == AF_INET6 ? 6 : 4;
	memcpy(t->srv_ip, t->fam == 4 ? (const void *)&l->relay.v4 : (const void *)l->relay.v6,
	       t->fam == 4 ? 4 : 16);
	t->srv_port = l->relay_port;
	dtls_peer(l, &ip, &port);
	memcpy(t->cli_ip, t->fam == 4 ? (const void *)&ip.v4 : (const void *)ip.v6,
	       t->fam == 4 ? 4 : 16);
	t->cli_port = port;
}

static void dtls_hdr(const struct media_leg *l, struct pr_dtls_hdr *h, uint8_t type)
{
	const struct media_ice *k = l->ice_cred;

	memset(h, 0, sizeof(*h));
	h->type = type;
	h->role = k->dtls_role;
	h->profiles = k->dtls_profiles;
	h->gen = l->irt->dtls_gen;
	memcpy(h->fpr, k->dtls_fpr, sizeof(h->fpr));
	memcpy(h->lfpr, k->dtls_lfpr, sizeof(h->lfpr));
}

/* An active leg that is nominated and not keyed: the process sends the ClientHello (once
 * per attached process). */
static void dtls_start(struct media_leg *l)
{
	struct media_ice_rt *rt = l->irt;
	struct pr_frec t;
	struct pr_dtls_hdr h;

	if (!l->dtls || l->dtls_keyed || bundle_follower(l) || rt->dtls_failed || !rtp_latched(l) ||
	    l->ice_cred->dtls_role != PR_DTLS_ACTIVE || rt->dtls_started == dtls_attach ||
	    !md_chan_attached())
		return;
	dtls_tuple(l, &t);
	dtls_hdr(l, &h, PR_DTLS_START);
	if (md_chan_send(&t, &h, NULL, 0))
		rt->dtls_started = dtls_attach;
}

/* The process may forget leg l's handshake (the leg ended or is re-keyed). */
static void dtls_end(const struct media_leg *l)
{
	struct pr_frec t;
	struct pr_dtls_hdr h;

	if (!l->dtls || l->dtls_keyed || bundle_follower(l) || !md_chan_attached())
		return;
	dtls_tuple(l, &t);
	dtls_hdr(l, &h, PR_DTLS_END);
	md_chan_send(&t, &h, NULL, 0);
}

/* A DTLS datagram from leg l's nominated address (the worker checked it): to the process.
 * Also once the leg is keyed: a peer that lost our last flight sends its own again, and
 * the process (where the leg lingers a while) answers it. */
static void dtls_forward(struct media_leg *l, struct rte_mbuf *m, const struct dp_pkt_info *pi,
			 const uint8_t *pl)
{
	struct pr_frec t;
	struct pr_dtls_hdr h;

	/* (a follower: its group's first is not installed yet, a rebuild's moment) */
	if (l->irt->dtls_failed || bundle_follower(l) || !md_chan_attached() ||
	    pi->payload_len > PR_FRING_MAX_MSG - sizeof(h))
		return ctl_drop(NULL, m, MD_DTLS);
	dtls_tuple(l, &t);
	dtls_hdr(l, &h, PR_DTLS_RECORD);
	if (!md_chan_send(&t, &h, pl, pi->payload_len))
		return ctl_drop(NULL, m, MD_DTLS);
	rte_pktmbuf_free(m);
}

/* The process's datagram for leg l: from its anchor port to its nominated address (before
 * a nomination, to the valid pair's, dtls_peer). */
static void dtls_send(struct media_leg *l, const uint8_t *d, uint32_t n)
{
	struct dp_ipaddr ip;
	uint16_t port;
	struct rte_mbuf *m;
	uint8_t *p;

	if (!dtls_peer(l, &ip, &port) || !(m = rte_pktmbuf_alloc(dp_rt.pool)))
		return;
	p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)n);
	if (!p || (memcpy(p, d, n), dp_udp_encap(m, &l->relay, l->relay_port, &ip, port) < 0)) {
		rte_pktmbuf_free(m);
		return;
	}
	dp_ctl_udp_tx(m, l->port_idx);
}

/* "SUITE" and key||salt in base64, as the SDES parser reads them back (parse_key). */
static int dtls_b64(const struct pr_sdes_crypto *c, char *out, size_t len)
{
	char v[160];
	int rc = pr_sdes_format(c, v, sizeof(v));
	const char *b = rc > 0 ? strstr(v, "inline:") : NULL;

	if (b)
		snprintf(out, len, "%.*s", (int)strcspn(b + 7, "|"), b + 7);
	memset(v, 0, sizeof(v));
	return b ? 0 : -1;
}

/* Leg i of s's exported keys into its hash (dataplane-owned fields, only while the hash
 * exists), so that a restarted dataplane keeps the browser's media. */
static const char dtls_lua[] = "if redis.call('EXISTS', KEYS[1]) == 1 then "
			       "redis.call('HSET', KEYS[1], unpack(ARGV)) return 1 end return 0";

static int dtls_persist(const struct media_sess *s, int i, enum pr_srtp_profile p)
{
	const struct media_keys *k = &s->keys[i];
	char key[PR_KS_NAME_MAX + 16], rx[64], tx[64], f[3][24];
	const char *suite = pr_srtp_profile_name(p);
	int rc = -1;

	if (!redis || !suite || dtls_b64(&k->rx, rx, sizeof(rx)) < 0 ||
	    dtls_b64(&k->tx, tx, sizeof(tx)) < 0)
		goto out;
	snprintf(key, sizeof(key), PR_KS_SESSION_PREFIX "%s", s->id);
	snprintf(f[0], sizeof(f[0]), "%c_dtls_suite", 'a' + i);
	snprintf(f[1], sizeof(f[1]), "%c_dtls_key_rx", 'a' + i);
	snprintf(f[2], sizeof(f[2]), "%c_dtls_key_tx", 'a' + i);
	const char *argv[] = {"EVAL", dtls_lua, "1", key, f[0], suite, f[1], rx, f[2], tx};
	size_t argvlen[RTE_DIM(argv)];
	for (size_t j = 0; j < RTE_DIM(argv); j++)
		argvlen[j] = strlen(argv[j]);
	redisReply *r = pr_redis_cmdargv(redis, RTE_DIM(argv), argv, argvlen);
	if (r) {
		rc = r->type == REDIS_REPLY_INTEGER && r->integer == 1 ? 0 : -ENOENT;
		freeReplyObject(r);
	}
out:
	memset(rx, 0, sizeof(rx));
	memset(tx, 0, sizeof(tx));
	return rc;
}

/* The process's keys for leg l: into the hash, then the session is built again from it (as
 * after an update), this time keyed. A BUNDLE group's members share l's association
 * (RFC 8843): the same keys go into each of their hashes; their SSRCs keep their streams
 * (contexts, rollover counters, replay windows) apart. */
static void dtls_keyed(struct media_leg *l, const struct pr_dtls_msg *m)
{
	uint32_t ks = pr_dtls_keysalt_len(m->h.profiles);
	enum pr_srtp_profile p =
	    m->h.profiles == PR_DTLS_P_GCM ? PR_SRTP_AEAD_AES128_GCM : PR_SRTP_AES128_CM_SHA1_80;
	struct pr_sdes_crypto rx = {.tag = 1, .profile = p}, tx = {.tag = 1, .profile = p};
	struct media_leg *memb[MEDIA_BUNDLE_MAX] = {l}, *v = slot_get(l->relay_port);
	char ids[MEDIA_BUNDLE_MAX][PR_KS_NAME_MAX];
	unsigned nm = 1, nk = 0;

	if (!(l->ice_cred->dtls_profiles & m->h.profiles))
		return;
	if (l->bl && slot_is_bundle(v)) {
		const struct media_bundle *b = slot_bundle(v);
		for (unsigned i = 0; i < b->n; i++)
			if (b->leg[i] != l && !b->leg[i]->dtls_keyed && same_dtls(b->leg[i], l) &&
			    (b->leg[i]->ice_cred->dtls_profiles & m->h.profiles))
				memb[nm++] = b->leg[i];
	}
	memcpy(rx.key, m->data, 16);
	memcpy(rx.salt, m->data + 16, ks - 16);
	memcpy(tx.key, m->data + ks, 16);
	memcpy(tx.salt, m->data + ks + 16, ks - 16);
	for (unsigned j = 0; j < nm; j++) {
		struct media_sess *s = memb[j]->sess;
		struct media_keys *k = media_keys_of(memb[j]);
		/* (the leg's published generation is immutable: its keys go in the next one) */
		k->rx = rx;
		k->tx = tx;
		int rc = dtls_persist(s, memb[j]->idx, p);
		pr_sdes_wipe(&k->rx);
		pr_sdes_wipe(&k->tx);
		if (rc < 0) {
			PR_WARN("media: session %s leg %c: DTLS-SRTP keys not stored (redis: %s)",
				s->id, 'a' + memb[j]->idx,
				rc == -ENOENT ? "the session is gone" : "error");
			continue;
		}
		cst.dtls_keyed++;
		PR_NOTICE("media: session %s leg %c: DTLS-SRTP keyed (%s)%s", s->id,
			  'a' + memb[j]->idx, pr_srtp_profile_name(p),
			  j ? ", its BUNDLE group's association" : "");
		snprintf(ids[nk++], sizeof(ids[0]), "%s", s->id);
	}
	pr_sdes_wipe(&rx);
	pr_sdes_wipe(&tx);
	for (unsigned j = 0; j < nk; j++)
		if (sess_load_apply(ids[j], false) < 0)
			PR_WARN("media: session %s: reload after its DTLS keys failed", ids[j]);
	/* the old generations are freed by reclaim_poll, without waiting here */
}

/* The handshake of leg l failed: the leg ends. Its media stays dropped (no keys), and the
 * slowpath is told to end the call, as for an idle session. */
static void dtls_failed(struct media_leg *l, uint8_t reason)
{
	static const char *const why[PR_DTLS_F_MAX] = {
	    "?",	 "dtls-fingerprint", "dtls-timeout", "dtls-alert", "dtls-no-srtp",
	    "dtls-busy", "dtls-cert"};
	struct media_sess *s = l->sess;

	if (l->irt->dtls_failed)
		return;
	l->irt->dtls_failed = 1;
	cst.dtls_failed++;
	PR_WARN("media: session %s leg %c: DTLS-SRTP handshake failed (%s): the call is reported "
		"to end",
		s->id, 'a' + l->idx, why[reason < PR_DTLS_F_MAX ? reason : 0]);
	if (!redis)
		return;
	redisReply *r = pr_redis_cmd(
	    redis, "XADD %s MAXLEN ~ %d * op idle id %s cdr_id %s reason %s", PR_KS_SESSIONS_EVENTS,
	    10000, s->id, s->cdr_id[0] ? s->cdr_id : "-", why[reason < PR_DTLS_F_MAX ? reason : 0]);
	if (r)
		freeReplyObject(r);
}

/* What the process sent, and START for the legs waiting since it attached. */
static void dtls_poll(uint64_t now_ms)
{
	struct pr_frec t;
	struct pr_dtls_msg m;

	if (md_chan_poll(now_ms)) {
		dtls_attach++;
		for (uint32_t i = 0; i < nlist; i++)
			for (int j = 0; j < 2; j++)
				dtls_start(&list[i]->leg[j]);
	}
	for (int n = 0; n < 256 && md_chan_recv(&t, &m); n++) {
		struct media_leg *l = port_in_range(t.srv_port) ? slot_first(t.srv_port) : NULL;
		if (!l || !l->dtls || l->relay_port != t.srv_port || l->irt->dtls_gen != m.h.gen ||
		    memcmp(t.srv_ip,
			   l->relay.family == AF_INET6 ? (const void *)l->relay.v6
						       : (const void *)&l->relay.v4,
			   t.fam == 6 ? 16 : 4)) {
			cst.dtls_unknown_leg++;
			continue;
		}
		if (m.h.type == PR_DTLS_RECORD)
			dtls_send(l, m.data, m.len);
		else if (m.h.type == PR_DTLS_KEYS && !l->dtls_keyed)
			dtls_keyed(l, &m);
		else if (m.h.type == PR_DTLS_FAIL)
			dtls_failed(l, m.h.reason);
	}
}

/* Control: the nominated check from pi's source latches ICE leg l there, or moves its latch
 * (NAT rebinding, ICE restart: counted in relatch). The workers never move an ICE leg's
 * latch, so control is its only writer; they read it, so latched is cleared while the
 * address is written. */
static void ice_latch(struct media_leg *l, const struct dp_pkt_info *pi, bool rtcp)
{
	struct media_rt *rt = l->rt;

	if (rtcp) { /* the RTCP component's own checks (port + 1, no rtcp-mux) */
		if (rtcp_latched(l) && dp_ipaddr_eq(&rt->lat_rtcp_ip, &pi->src) &&
		    rt->lat_rtcp_port == pi->sport)
			return;
		__atomic_store_n(&rt->rtcp_latched, 0, __ATOMIC_RELEASE);
		rt->lat_rtcp_ip = pi->src;
		rt->lat_rtcp_port = pi->sport;
		rt->rtcp_gen = l->gen;
		__atomic_store_n(&rt->rtcp_latched, 1, __ATOMIC_RELEASE);
		cst.ice_nominations++;
		return;
	}
	if (rtp_latched(l)) {
		if (dp_ipaddr_eq(&rt->lat_ip, &pi->src) && rt->lat_port == pi->sport)
			return;
		rt->relatch++;
		rt->last_relatch_tsc = rte_rdtsc();
		rt->rtcp_latched = 0; /* learn RTCP's again from the new pair */
	}
	__atomic_store_n(&rt->latched, 0, __ATOMIC_RELEASE);
	rt->lat_ip = pi->src;
	rt->lat_port = pi->sport;
	rt->latch_gen = l->gen;
	__atomic_store_n(&rt->latched, 1, __ATOMIC_RELEASE);
	cst.ice_nominations++;
	dtls_start(l);
}

/* Control: an authenticated check from pi's source (RTP's component) makes it leg l's
 * valid pair until a nomination: DTLS from there reaches poprelay-dtls (ice_in). Written as
 * the latch is: cleared while the address changes. */
static void ice_checked(struct media_leg *l, const struct dp_pkt_info *pi)
{
	struct media_ice_rt *rt = l->irt;

	if (rt->checked && rt->chk_gen == l->gen && dp_ipaddr_eq(&rt->chk_ip, &pi->src) &&
	    rt->chk_port == pi->sport)
		return;
	__atomic_store_n(&rt->checked, 0, __ATOMIC_RELEASE);
	rt->chk_ip = pi->src;
	rt->chk_port = pi->sport;
	rt->chk_gen = l->gen;
	__atomic_store_n(&rt->checked, 1, __ATOMIC_RELEASE);
}

/* Control: a STUN message to ICE leg l (ice_in punted it). A check with our credentials is
 * answered from the port it came to (and a nominated one latches the leg); anything else
 * is dropped and counted by its verdict. */
static void ice_check(struct media_leg *l, struct rte_mbuf *m, struct dp_pkt_info *pi,
		      const uint8_t *pl)
{
	const struct media_ice *ice = l->ice_cred;
	bool rtcp = ((pi->dport - mcfg.port_min) & 1) != 0;
	struct media_ice_answer a;
	struct pr_taddr src;
	uint8_t out[128];

	if (!ice)
		return ctl_drop(NULL, m, MD_ICE_CHECK);
	if (pi->src.family == AF_INET)
		pr_taddr_set4(&src, pi->src.v4, pi->sport);
	else
		pr_taddr_set6(&src, pi->src.v6, pi->sport);
	enum media_ice_verdict v =
	    media_ice_check(ice, pl, pi->payload_len, &src, out, sizeof(out), &a);
	cst.ice[v]++;
	if (!a.len)
		return ctl_drop(NULL, m, MD_ICE_CHECK);
	if (v == MEDIA_ICE_ANSWERED && !rtcp) {
		struct media_leg *g = slot_get(pi->dport);
		ice_checked(l, pi);
		for (unsigned i = 0; slot_is_bundle(g) && i < slot_bundle(g)->n; i++)
			if (slot_bundle(g)->leg[i] != l)
				ice_checked(slot_bundle(g)->leg[i], pi);
	}
	if (a.nominate && !(rtcp && l->rtcp_mux)) { /* a muxed leg has one component */
		struct media_leg *v = slot_get(pi->dport);
		ice_latch(l, pi, rtcp);
		/* one nomination latches every member of a BUNDLE group: one 5-tuple */
		for (unsigned i = 0; slot_is_bundle(v) && i < slot_bundle(v)->n; i++)
			if (slot_bundle(v)->leg[i] != l)
				ice_latch(slot_bundle(v)->leg[i], pi, rtcp);
	}
	/* the answer replaces the request in its mbuf, from where the request went */
	if (dp_udp_rewrite(m, pi, 0, 0, out, a.len, 0, &l->relay, pi->dport, &pi->src, pi->sport) <
	    0)
		return ctl_drop(NULL, m, MD_TX);
	dp_ctl_udp_tx(m, l->port_idx);
}

/* The first packet of an SSRC, punted by a worker: a stream for it if it authenticates (or
 * the leg is in clear and its source was accepted), published for the workers; the packet
 * itself is relayed from here. */
static void media_punt(struct rte_mbuf *m, const struct dp_pkt_info *cpi)
{
	struct dp_pkt_info pi = *cpi;
	uint8_t *pl = rte_pktmbuf_mtod_offset(m, uint8_t *, pi.payload_off);
	struct media_leg *l = slot_leg(pi.dport, pl, pi.payload_len);
	struct relayer r = relayer_at(NULL);
	struct mpkt p = {.m = m, .pi = &pi};
	unsigned free_slot = MEDIA_MAX_SSRC;

	if (!l) /* ended meanwhile */
		return ctl_drop(NULL, m, MD_NO_SESSION);
	if (l->ice && pi.payload_len && pl[0] <= 3) /* only STUN starts so (ice_in) */
		return ice_check(l, m, &pi, pl);
	if (l->dtls && pi.payload_len && pl[0] >= 20 && pl[0] <= 63) /* (ice_in) */
		return dtls_forward(l, m, &pi, pl);
	if (media_other(l)->dtls && !media_other(l)->dtls_keyed)
		return ctl_drop(l, m, MD_NO_PEER); /* no keys toward it yet */
	p.in = l;
	p.rtcp = ((pi.dport - mcfg.port_min) & 1) ||
		 (l->rtcp_mux && media_is_rtcp_mux(pl, pi.payload_len));
	if (pi.payload_len < (p.rtcp ? 8 : 12))
		return ctl_drop(l, m, MD_MALFORMED);
	p.pk = (struct pr_srtp_pkt){.data = pl, .len = pi.payload_len};
	p.pk.room =
	    (uint16_t)RTE_MIN((uint32_t)(m->buf_len - (pl - (uint8_t *)m->buf_addr)), 0xffffu);
	p.src_match = l->encrypted ? srtp_source_match(l, &pi, p.rtcp)
				   : clear_source_ok(l, &pi, p.rtcp, r.now);
	uint32_t ssrc = rd32(pl + (p.rtcp ? 4 : 8));
	for (unsigned i = 0; i < MEDIA_MAX_SSRC; i++) {
		struct media_stream *s = l->streams[i];
		if (s && s->ssrc == ssrc) { /* published after the worker punted this one */
			/* the worker owns the stream's contexts now (one writer): back to it */
			dp_punt_return(m);
			return;
		}
		if (!s) {
			free_slot = i;
			break;
		}
	}
	if (free_slot == MEDIA_MAX_SSRC)
		return ctl_drop(l, m, MD_SSRC_LIMIT);
	/* toward a BUNDLE group the members' send contexts share one master key: an SSRC that
	 * another member's stream already sends under would reuse its keystream (RFC 3711 9.1),
	 * so it is refused */
	struct media_leg *ov = media_other(l)->bl ? slot_get(media_other(l)->relay_port) : NULL;
	for (unsigned i = 0; slot_is_bundle(ov) && i < slot_bundle(ov)->n; i++) {
		const struct media_leg *f = slot_bundle(ov)->leg[i];
		if (f != media_other(l) && stream_find(media_other(f), ssrc))
			return ctl_drop(l, m, MD_SSRC_LIMIT);
	}
	if (!l->encrypted && !p.src_match)
		return ctl_drop(l, m, MD_WRONG_SOURCE);
	p.st = stream_new(l, ssrc, NULL);
	if (!p.st)
		return ctl_drop(l, m, MD_SRTP);
	if (l->encrypted) {
		/* authenticate before the stream exists for anyone: a forged SSRC creates
		 * nothing; on a copy, so that the packet is left as it came */
		struct pr_srtp_pkt probe = p.pk;
		uint8_t copy[2048];
		if (probe.len > sizeof(copy)) {
			stream_free(p.st);
			return ctl_drop(l, m, MD_MALFORMED);
		}
		memcpy(copy, probe.data, probe.len);
		probe.data = copy;
		probe.room = sizeof(copy);
		unsigned ok = p.rtcp ? pr_srtcp_unprotect_burst(p.st->rx, &probe, 1)
				     : pr_srtp_unprotect_burst(p.st->rx, &probe, 1);
		memset(copy, 0, sizeof(copy));
		if (!ok) {
			stream_free(p.st);
			return ctl_drop(l, m,
					p.src_match ? srtp_drop(probe.result) : MD_WRONG_SOURCE);
		}
		/* recreate: the probe moved the replay window; the real packet goes through the
		 * fresh context below */
		stream_free(p.st);
		p.st = stream_new(l, ssrc, NULL);
		if (!p.st)
			return ctl_drop(l, m, MD_SRTP);
	}
	p.src_match = true; /* authentic (or an accepted source in clear): it may latch */
	relay_one(&r, &p);
	__atomic_store_n(&l->streams[free_slot], p.st, __ATOMIC_RELEASE);
}

/* Seconds since session s was installed (its average rate's divisor). */
static uint64_t sess_age_s(const struct media_sess *s)
{
	return (dp_now_ms() - s->installed_ms) / 1000;
}

/* Milliseconds since leg rt's device last sent an accepted packet (a worker may have stamped
 * one after now was read: 0 then), UINT64_MAX when never. The stamp is 32-bit: right up to
 * 49 days of quiet, far beyond any idle timeout. */
static uint64_t rt_quiet_ms(const struct media_rt *rt, uint64_t now)
{
	uint32_t last = __atomic_load_n(&rt->last_rx_ms, __ATOMIC_RELAXED);
	uint32_t nms = (uint32_t)(dp_cyc_to_us(now - dp_rt.start_tsc, us_q32) / 1000);
	uint32_t d = nms - last;

	if (!last)
		return UINT64_MAX;
	return d > UINT32_MAX - 60000 ? 0 : d; /* stamped a little after now */
}

/* Figures of leg l: its rt and its streams. */
struct leg_fig {
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes, lost, auth_fail, relatch, drops;
	uint64_t wrong_source, replay;
	uint32_t jitter_us;
	int64_t last_rx; /* UNIX seconds, 0: never */
};

static void leg_figures(const struct media_leg *l, struct leg_fig *f)
{
	const struct media_rt *rt = l->rt;
	uint32_t jit = 0;

	memset(f, 0, sizeof(*f));
	f->rx_packets = rt->rx_packets + rt->ctl_rx_packets;
	f->rx_bytes = rt->rx_bytes + rt->ctl_rx_bytes;
	f->tx_packets = rt->tx_packets + rt->ctl_tx_packets;
	f->tx_bytes = rt->tx_bytes + rt->ctl_tx_bytes;
	f->auth_fail = rt->auth_fail + rt->ctl_drop[MD_AUTH];
	f->wrong_source = rt->wrong_source + rt->ctl_drop[MD_WRONG_SOURCE];
	f->replay = rt->replay + rt->ctl_drop[MD_REPLAY];
	f->relatch = rt->relatch;
	f->drops = rt->auth_fail + rt->replay + rt->wrong_source + rt->bandwidth + rt->other_drop;
	for (unsigned i = 0; i < MD_LEG_MAX; i++)
		f->drops += rt->ctl_drop[i];
	f->lost = rt->ctl_lost;
	for (unsigned i = 0; i < MEDIA_MAX_SSRC; i++) {
		const struct media_stream *s = __atomic_load_n(&l->streams[i], __ATOMIC_ACQUIRE);
		if (!s)
			break;
		f->lost += media_stream_lost(s);
		if (s->seq_init && s->received > 1 && !jit) /* the first stream's (audio's) */
			jit = (uint32_t)((uint64_t)(s->jitter >> 4) * 1000000 / l->clock_hz);
	}
	f->jitter_us = jit;
	uint64_t q = rt_quiet_ms(rt, rte_rdtsc());
	if (q != UINT64_MAX)
		f->last_rx = (int64_t)time(NULL) - (int64_t)(q / 1000);
}

/* ---- control: sessions ---- */

static void sess_final(struct media_sess *s);
static void sess_free(struct media_sess *s);

/* A session's struct, its keys wiped (one never published, or an old generation whose
 * runtime state and streams live on in the new one). */
static void sess_discard(struct media_sess *s)
{
	media_sess_wipe(s);
	rte_free(s);
}

/* Frees the first n of what retire() holds (the grace period they waited for is over). */
static void free_retired(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (retired[i].kind == 2) {
			stream_free(retired[i].p);
		} else if (retired[i].kind == 3) {
			sess_final(retired[i].p);
		} else if (retired[i].kind == 4) {
			rte_free(retired[i].p);
		} else if (retired[i].kind == 5) {
			sess_free(retired[i].p);
		} else { /* 0: an old generation, its struct alone */
			sess_discard(retired[i].p);
		}
	}
	memmove(retired, retired + n, (nretired - n) * sizeof(retired[0]));
	nretired -= n;
}

/* The first nreclaim entries of retired wait for the grace period that reclaim_token
 * started (reclaim_poll). */
static uint64_t reclaim_token;
static unsigned nreclaim;

/* Frees what retire() holds, once no worker can hold it: waits for a grace period. Where
 * something must have stopped before control goes on (an end before its acknowledgement). */
static void reclaim(void)
{
	if (!nretired)
		return;
	rte_rcu_qsbr_synchronize(dp_rt.rcu, RTE_QSBR_THRID_INVALID);
	free_retired(nretired);
	nreclaim = 0;
}

/* The same without waiting, from control's loop: frees what waited for a grace period that
 * is over, and starts one for what was retired since. A session keyed by its DTLS handshake
 * retires its old generation: waiting for the workers there cost control as much CPU as
 * poprelay-dtls spends on the handshake (the worker sleeping on a shared core). */
static void reclaim_poll(void)
{
	if (nreclaim && rte_rcu_qsbr_check(dp_rt.rcu, reclaim_token, false) == 1) {
		free_retired(nreclaim);
		nreclaim = 0;
	}
	if (!nreclaim && nretired) {
		reclaim_token = rte_rcu_qsbr_start(dp_rt.rcu);
		nreclaim = nretired;
	}
}

/* Frees ptr (kind 0: an old session generation, 2: a stream, 3: an ended session, 4: a
 * BUNDLE group's old table entry, 5: a session given back to its [ha] owner) once no
 * worker can hold it: after the next grace period. */
static void retire(void *ptr, uint8_t kind)
{
	if (!ptr)
		return;
	if (nretired == RETIRE_MAX)
		reclaim();
	retired[nretired].p = ptr;
	retired[nretired++].kind = kind;
}

static uint32_t slot_of(uint16_t port)
{
	return (uint32_t)(port - mcfg.port_min) >> 1;
}

static bool port_in_range(uint16_t port)
{
	return port >= mcfg.port_min && (uint32_t)port + 1 <= mcfg.port_max;
}

static int port_of_addr(const struct dp_ipaddr *a)
{
	for (unsigned p = 0; p < dp_rt.nb_ports; p++)
		if (dp_addr_is_ours(&dp_rt.ports[p], a))
			return (int)p;
	/* a takeover installs the peer's sessions before the workers take its addresses */
	if (peer_held && dp_ha_cfg_is_peer(a))
		return dp_ha_port();
	return -1;
}

/* [ha]: whether a leg of record k relays on one of the peer appliance's addresses: the
 * peer's session, neither relayed nor reported here unless we hold its addresses. */
static bool rec_is_peers(const struct pr_ks_session *k)
{
	if (!dp_ha_configured())
		return false;
	for (int i = 0; i < 2; i++) {
		struct dp_ipaddr a;
		bool v6 = !strcmp(k->leg[i].family, "ip6");
		memset(&a, 0, sizeof(a));
		a.family = v6 ? AF_INET6 : AF_INET;
		if (inet_pton(a.family, k->leg[i].relay_addr, v6 ? (void *)a.v6 : (void *)&a.v4) ==
			1 &&
		    dp_ha_cfg_is_peer(&a))
			return true;
	}
	return false;
}

/* Whether record k relays on another live anchor's address of the PoP (a slowpath with
 * [sip] media_anchors spread the calls, media_load.c): that dataplane's, skipped here,
 * neither refused nor reported as an orphan (which would end its call). */
static bool rec_elsewhere(const struct pr_ks_session *k)
{
	struct dp_ipaddr a;
	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	if (inet_pton(AF_INET, k->leg[0].relay_addr, &a.v4) != 1) {
		a.family = AF_INET6;
		if (inet_pton(AF_INET6, k->leg[0].relay_addr, a.v6) != 1)
			return false;
	}
	return port_of_addr(&a) < 0 && media_load_elsewhere(redis, k->leg[0].relay_addr);
}

static bool sess_is_peers(const struct media_sess *s)
{
	return dp_ha_cfg_is_peer(&s->leg[0].relay) || dp_ha_cfg_is_peer(&s->leg[1].relay);
}

/* Publishes port's new entry: what it holds now without the legs of sessions x and y
 * (either may be NULL), plus leg add (NULL: none). One leg that is not bundled stays a leg;
 * bundled legs go into a new group (ordered by X_bundle_pos, their payload types and
 * a=ssrc ids indexed), the old group retired. 0, or -ENOMEM (the entry left as it was). */
static int slot_update(uint16_t port, const struct media_sess *x, const struct media_sess *y,
		       struct media_leg *add)
{
	struct media_leg *v = slots[slot_of(port)], *keep[MEDIA_BUNDLE_MAX + 1], *nv = NULL;
	struct media_bundle *ob = slot_is_bundle(v) ? slot_bundle(v) : NULL, *nb;
	unsigned n = 0;

	for (unsigned i = 0; ob && i < ob->n; i++)
		if (ob->leg[i]->sess != x && ob->leg[i]->sess != y)
			keep[n++] = ob->leg[i];
	if (!ob && v && v->sess != x && v->sess != y)
		keep[n++] = v;
	if (add && n < RTE_DIM(keep)) {
		unsigned j = n++;
		for (; j > 0 && add->bl && keep[j - 1]->bl && keep[j - 1]->bl->pos > add->bl->pos;
		     j--)
			keep[j] = keep[j - 1];
		keep[j] = add;
	}
	if (n == 1 && !keep[0]->bl) {
		nv = keep[0];
	} else if (n) {
		nb = hp_zalloc(sizeof(*nb), RTE_CACHE_LINE_SIZE);
		if (!nb)
			return -ENOMEM;
		nb->n = (uint8_t)RTE_MIN(n, (unsigned)MEDIA_BUNDLE_MAX);
		snprintf(nb->group, sizeof(nb->group), "%s", keep[0]->bl->group);
		for (unsigned i = 0; i < nb->n; i++) {
			const struct media_bleg *bl = keep[i]->bl;
			nb->leg[i] = keep[i];
			for (unsigned t = 0; t < 128; t++) {
				if (!(bl->pt[t >> 6] >> (t & 63) & 1))
					continue;
				if (!nb->pt_idx[t])
					nb->pt_idx[t] = (uint8_t)(i + 1);
				else
					nb->pt_amb[t >> 6] |= 1ull << (t & 63);
			}
			if (bl->mid_ext && !nb->mid_ext)
				nb->mid_ext = bl->mid_ext;
			nb->mid_len[i] = bl->mid_len;
			memcpy(nb->mid[i], bl->mid, sizeof(nb->mid[i]));
			nb->n_ssrc[i] = bl->n_ssrc;
			memcpy(nb->ssrc[i], bl->ssrc, sizeof(nb->ssrc[i]));
		}
		nv = (struct media_leg *)((uintptr_t)nb | 1);
		cst.bundle_groups++;
	}
	__atomic_store_n(&slots[slot_of(port)], nv, __ATOMIC_RELEASE);
	if (ob)
		retire(ob, 4);
	return 0;
}

/* May leg l (of session s, replacing old) take its relay port? A leg that is not ours
 * there refuses it, unless both are members of one BUNDLE group at other positions. NULL,
 * or the session that holds it. */
static const struct media_sess *slot_busy(const struct media_leg *l, const struct media_sess *old)
{
	struct media_leg *v = slots[slot_of(l->relay_port)];
	const struct media_bundle *b = slot_is_bundle(v) ? slot_bundle(v) : NULL;
	unsigned foreign = 0;

	if (!b)
		return v && v->sess != old ? v->sess : NULL;
	for (unsigned i = 0; i < b->n; i++) {
		const struct media_leg *f = b->leg[i];
		if (f->sess == old)
			continue;
		if (!l->bl || strcmp(f->bl->group, l->bl->group) || f->bl->pos == l->bl->pos ||
		    ++foreign >= MEDIA_BUNDLE_MAX)
			return f->sess;
	}
	return NULL;
}

/* A bundled DTLS-SRTP leg that joins a group already keyed (a member added by a re-INVITE,
 * or installed after the first's handshake) takes the group's keys and nomination: there is
 * one association and one 5-tuple. Control, before l is published. */
static bool bundle_join(struct media_leg *l, const struct media_sess *old)
{
	struct media_leg *v = slots[slot_of(l->relay_port)];
	const struct media_bundle *b = slot_is_bundle(v) ? slot_bundle(v) : NULL;
	bool persist = false;

	for (unsigned i = 0; b && l->bl && i < b->n; i++) {
		const struct media_leg *f = b->leg[i];
		if (f->sess == old || f->sess == l->sess || strcmp(f->bl->group, l->bl->group))
			continue;
		if (!l->dtls_keyed && f->dtls_keyed && same_dtls(f, l)) {
			struct media_keys *k = media_keys_of(l);
			k->rx = media_keys_of(f)->rx;
			k->tx = media_keys_of(f)->tx;
			l->profile = f->profile;
			l->dtls_keyed = 1;
			persist = true;
		}
		if (!rtp_latched(l) && rtp_latched(f)) {
			l->rt->lat_ip = f->rt->lat_ip;
			l->rt->lat_port = f->rt->lat_port;
			l->rt->latch_gen = l->gen;
			__atomic_store_n(&l->rt->latched, 1, __ATOMIC_RELEASE);
		}
	}
	return persist;
}

/* ---- control: the live sessions' and the standby's ids, indexed (open addressing,
 * linear probing, 2 x max_sessions slots of a position + 1 each; 0: empty). A stream entry,
 * a restart's rebuild and a takeover find a session by id without a scan of every one. */
struct id_index {
	uint32_t mask;
	uint32_t *slot;
	const char *(*key)(uint32_t pos);
};

static uint32_t id_hash(const char *id)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *id; id++)
		h = (h ^ (uint8_t)*id) * 16777619u;
	return h;
}

static int idx_init(struct id_index *x, uint32_t entries, const char *(*key)(uint32_t))
{
	uint32_t cap = 2;
	while (cap < entries * 2)
		cap <<= 1;
	x->slot = calloc(cap, sizeof(*x->slot));
	x->mask = cap - 1;
	x->key = key;
	return x->slot ? 0 : -ENOMEM;
}

static void idx_fini(struct id_index *x)
{
	free(x->slot);
	x->slot = NULL;
}

/* The slot of id: where it is, or the empty one where it would go. */
static uint32_t idx_slot(const struct id_index *x, const char *id)
{
	uint32_t i = id_hash(id) & x->mask;
	while (x->slot[i] && strcmp(x->key(x->slot[i] - 1), id))
		i = (i + 1) & x->mask;
	return i;
}

/* Position of id, or -1. */
static int64_t idx_find(const struct id_index *x, const char *id)
{
	if (!x->slot)
		return -1;
	uint32_t v = x->slot[idx_slot(x, id)];
	return v ? (int64_t)v - 1 : -1;
}

/* id (now at pos) added, or moved to pos. */
static void idx_set(struct id_index *x, const char *id, uint32_t pos)
{
	if (x->slot)
		x->slot[idx_slot(x, id)] = pos + 1;
}

static void idx_del(struct id_index *x, const char *id)
{
	if (!x->slot)
		return;
	uint32_t i = idx_slot(x, id);
	if (!x->slot[i])
		return;
	x->slot[i] = 0;
	/* backward shift: the entries after it that probed past i move up */
	for (uint32_t j = (i + 1) & x->mask; x->slot[j]; j = (j + 1) & x->mask) {
		uint32_t h = id_hash(x->key(x->slot[j] - 1)) & x->mask;
		if (((j - h) & x->mask) >= ((j - i) & x->mask)) {
			x->slot[i] = x->slot[j];
			x->slot[j] = 0;
			i = j;
		}
	}
}

static void idx_clear(struct id_index *x)
{
	if (x->slot)
		memset(x->slot, 0, (size_t)(x->mask + 1) * sizeof(*x->slot));
}

static const char *list_key(uint32_t pos)
{
	return list[pos]->id;
}
static struct id_index sess_ids = {.key = list_key};

static struct media_sess *sess_find(const char *id)
{
	int64_t pos = idx_find(&sess_ids, id);
	return pos >= 0 ? list[pos] : NULL;
}

static void list_remove(struct media_sess *s)
{
	rte_spinlock_lock(&lock);
	uint32_t i = s->list_idx;
	idx_del(&sess_ids, s->id);
	list[i] = list[--nlist];
	list[i]->list_idx = i;
	if (i != nlist)
		idx_set(&sess_ids, list[i]->id, i);
	rte_spinlock_unlock(&lock);
}

/* Same keys and suite in one direction: the streams (and their replay state) carry over. */
static bool same_keys(const struct media_leg *a, const struct media_leg *b)
{
	const struct media_leg *ao = media_other(a), *bo = media_other(b);
	const struct media_keys *ak = media_keys_of(a), *bk = media_keys_of(b);
	const struct media_keys *aok = media_keys_of(ao), *bok = media_keys_of(bo);
	if (a->encrypted != b->encrypted || ao->encrypted != bo->encrypted)
		return false;
	if (a->encrypted && memcmp(&ak->rx, &bk->rx, sizeof(ak->rx)))
		return false;
	if (ao->encrypted && memcmp(&aok->tx, &bok->tx, sizeof(aok->tx)))
		return false;
	return true;
}

/* What a dataplane before a restart wrote in the hash: each direction's streams and the
 * legs' figures (rx_packets, rx_bytes, tx_packets, tx_bytes, lost, auth_fail). */
struct sess_saved {
	unsigned n[2];
	struct stream_saved st[2][MEDIA_MAX_SSRC];
	uint64_t fig[2][6];
	uint64_t relatch[2];
	struct dp_ipaddr lat_ip[2]; /* family 0: not latched */
	uint16_t lat_port[2];
};

/* "a.b.c.d:port" or "[v6]:port" as X_latched has it; false for "-" or anything else. */
static bool latched_parse(const char *t, struct dp_ipaddr *ip, uint16_t *port)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(t, ':');
	size_t n;
	char *end;

	if (!colon || colon == t)
		return false;
	n = (size_t)(colon - t);
	if (t[0] == '[') {
		if (n < 3 || t[n - 1] != ']' || n - 2 >= sizeof(host))
			return false;
		memcpy(host, t + 1, n - 2);
		host[n - 2] = 0;
	} else {
		if (n >= sizeof(host))
			return false;
		memcpy(host, t, n);
		host[n] = 0;
	}
	unsigned long v = strtoul(colon + 1, &end, 10);
	if (*end || v == 0 || v > 65535)
		return false;
	memset(ip, 0, sizeof(*ip));
	if (inet_pton(AF_INET, host, &ip->v4) == 1)
		ip->family = AF_INET;
	else if (inet_pton(AF_INET6, host, ip->v6) == 1)
		ip->family = AF_INET6;
	else
		return false;
	*port = (uint16_t)v;
	return true;
}

/* "ssrc:rxrtp:rxrtcp:txrtp:txrtcp,..." (ssrc in hex, indices decimal, -1 none) */
static void streams_parse(const char *t, struct stream_saved *st, unsigned *n)
{
	*n = 0;
	while (t && *t && *n < MEDIA_MAX_SSRC) {
		struct stream_saved v;
		long long a, b, c, d;
		unsigned ssrc;
		int used = 0;
		if (sscanf(t, "%x:%lld:%lld:%lld:%lld%n", &ssrc, &a, &b, &c, &d, &used) != 5)
			return;
		v.ssrc = ssrc;
		v.idx[0] = a;
		v.idx[1] = b;
		v.idx[2] = c;
		v.idx[3] = d;
		bool ok = true;
		for (int i = 0; i < 4; i++)
			ok &= v.idx[i] >= -1 && v.idx[i] < ((int64_t)1 << 48);
		if (ok)
			st[(*n)++] = v;
		t += used;
		if (*t != ',')
			return;
		t++;
	}
}

static void streams_format(const struct media_leg *l, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < MEDIA_MAX_SSRC; i++) {
		const struct media_stream *st = __atomic_load_n(&l->streams[i], __ATOMIC_ACQUIRE);
		if (!st)
			break;
		int n = snprintf(buf + off, len - off, "%s%08x:%lld:%lld:%lld:%lld", i ? "," : "",
				 st->ssrc, (long long)(st->rx ? pr_srtp_ctx_rtp_index(st->rx) : -1),
				 (long long)(st->rx ? pr_srtcp_ctx_index(st->rx) : -1),
				 (long long)(st->tx ? pr_srtp_ctx_rtp_index(st->tx) : -1),
				 (long long)(st->tx ? pr_srtcp_ctx_index(st->tx) : -1));
		if (n < 0 || (size_t)n >= len - off) {
			buf[off] = '\0';
			return;
		}
		off += (size_t)n;
	}
}

/* A DTLS-SRTP leg's exported keys as the hash holds them (dataplane-owned fields). */
struct dtls_saved {
	bool have[2];
	char suite[2][32], rx[2][64], tx[2][64];
};

/* Leg l (of the new generation, not published) takes its DTLS-SRTP keys: from the hash
 * (a restart, or the reload after a handshake), else from the leg it replaces when that one
 * was keyed with the same peer certificate and role (an update: the slowpath rewrote the
 * hash, which wiped the dataplane's fields; they are written back). Otherwise it is a new
 * handshake, with a new number toward the process. */
static void dtls_apply(struct media_sess *s, int i, const struct media_sess *old,
		       const struct dtls_saved *ds, bool *persist)
{
	struct media_leg *l = &s->leg[i];
	const struct media_leg *ol = old ? &old->leg[i] : NULL;
	const struct media_keys *ok = old ? &old->keys[i] : NULL;
	bool same = ol && same_dtls(l, ol);

	*persist = false;
	if (!l->dtls) {
		if (ol)
			dtls_end(ol);
		return;
	}
	if (!same) {
		if (ol)
			dtls_end(ol);
		l->irt->dtls_gen = ++dtls_gen_next;
		l->irt->dtls_started = 0;
		l->irt->dtls_failed = 0;
	}
	if (ds && ds->have[i] &&
	    media_sess_dtls_keys(s, i, ds->suite[i], ds->rx[i], ds->tx[i]) == 0) {
		if (!old)
			cst.dtls_keys_restored++;
		return;
	}
	if (same && ol->dtls_keyed) {
		s->keys[i].rx = ok->rx;
		s->keys[i].tx = ok->tx;
		l->profile = ol->profile;
		l->dtls_keyed = 1;
		*persist = true;
		cst.dtls_keys_kept++;
	}
}

/* Install record k, or update the live session old with it. 0 or a negative errno. */
static int sess_apply(const struct pr_ks_session *k, struct media_sess *old,
		      const struct sess_saved *saved, const struct dtls_saved *ds)
{
	struct media_sess *s = hp_zalloc(sizeof(*s), _Alignof(struct media_sess));
	const char *why = NULL;

	if (!s)
		return -ENOMEM;
	if (media_sess_build(s, k, &why) < 0) {
		PR_WARN("media: session %s refused: bad %s", k->id, why);
		sess_discard(s);
		return -EINVAL;
	}
	for (int i = 0; i < 2; i++) {
		struct media_leg *l = &s->leg[i];
		int port = port_of_addr(&l->relay);
		if (!port_in_range(l->relay_port) || port < 0) {
			PR_WARN("media: session %s refused: leg %c relay %s port %u is not one of "
				"this dataplane's anchors (ports %u-%u)",
				k->id, 'a' + i, k->leg[i].relay_addr, l->relay_port, mcfg.port_min,
				mcfg.port_max);
			sess_discard(s);
			return -ERANGE;
		}
		l->port_idx = (uint16_t)port;
		const struct media_sess *busy = slot_busy(l, old);
		if (busy) {
			PR_WARN("media: session %s refused: relay port %u is session %s's", k->id,
				l->relay_port, busy->id);
			sess_discard(s);
			return -EBUSY;
		}
	}
	if (!old && nlist >= mcfg.max_sessions) {
		PR_WARN("media: session %s refused: %u sessions live, [media] max_sessions", k->id,
			nlist);
		sess_discard(s);
		return -ENOSPC;
	}
	for (int i = 0; i < 2; i++) {
		struct media_leg *l = &s->leg[i];
		if (old) {
			struct media_leg *ol = &old->leg[i];
			l->rt = ol->rt; /* shared until the old generation is freed (kind 0:
					 * the struct alone) */
			l->irt = ol->irt;
			/* a new SDP address asks for a new latch; an ICE leg's moves with
			 * nominations only (an ICE restart keeps media on the old pair until
			 * the new one is nominated, RFC 8445 9), but a leg that becomes ICE
			 * waits for its first */
			bool same =
			    dp_ipaddr_eq(&l->peer, &ol->peer) && l->peer_port == ol->peer_port;
			l->gen = ol->gen + (l->ice ? !ol->ice : !same);
		} else {
			l->rt = hp_zalloc(sizeof(*l->rt), _Alignof(struct media_rt));
			if (!l->rt) {
				rte_free(s->leg[0].rt);
				rte_free(s->leg[0].irt);
				sess_discard(s);
				return -ENOMEM;
			}
			l->gen = 1;
			if (saved) { /* a restart: the figures go on from where they were */
				if (saved->lat_ip[i].family == l->relay.family) {
					l->rt->lat_ip = saved->lat_ip[i];
					l->rt->lat_port = saved->lat_port[i];
					l->rt->latch_gen = l->gen;
					l->rt->latched = 1;
				}
				l->rt->relatch = saved->relatch[i];
				l->rt->relatch_logged = saved->relatch[i];
				/* not published yet: the workers' counters take them */
				l->rt->rx_packets = saved->fig[i][0];
				l->rt->rx_bytes = saved->fig[i][1];
				l->rt->tx_packets = saved->fig[i][2];
				l->rt->tx_bytes = saved->fig[i][3];
				l->rt->ctl_lost = saved->fig[i][4];
				l->rt->auth_fail = saved->fig[i][5];
			}
		}
	}
	for (int i = 0; i < 2; i++) {
		struct media_leg *l = &s->leg[i];
		if (!l->ice || l->irt)
			continue;
		l->irt = hp_zalloc(sizeof(*l->irt), _Alignof(struct media_ice_rt));
		if (!l->irt) {
			for (int j = 0; j < i; j++)
				if (!old || s->leg[j].irt != old->leg[j].irt)
					rte_free(s->leg[j].irt);
			for (int j = 0; !old && j < 2; j++)
				rte_free(s->leg[j].rt);
			sess_discard(s);
			return -ENOMEM;
		}
	}
	bool persist[2] = {false, false};
	for (int i = 0; i < 2; i++) {
		dtls_apply(s, i, old, ds, &persist[i]);
		if (s->leg[i].bl && bundle_join(&s->leg[i], old))
			persist[i] = true;
	}
	/* a restart: each stream resumes with its rollover counter and refuses what it had
	 * seen */
	for (int i = 0; saved && !old && i < 2; i++)
		for (unsigned j = 0, n = 0; j < saved->n[i]; j++) {
			struct media_stream *st =
			    stream_new(&s->leg[i], saved->st[i][j].ssrc, &saved->st[i][j]);
			if (st) {
				s->leg[i].streams[n++] = st;
				cst.streams_restored++;
			}
		}
	if (old) {
		for (int i = 0; i < 2; i++) {
			struct media_leg *l = &s->leg[i], *ol = &old->leg[i];
			if (same_keys(l, ol)) {
				memcpy(l->streams, ol->streams, sizeof(l->streams));
			} else {
				for (unsigned j = 0; j < MEDIA_MAX_SSRC; j++)
					if (ol->streams[j]) {
						l->rt->ctl_lost +=
						    media_stream_lost(ol->streams[j]);
						retire(ol->streams[j], 2);
					}
			}
		}
		s->installed_ms = old->installed_ms;
		/* publish the new legs; the old ports that are no longer used go empty */
		for (int i = 0; i < 2; i++) {
			uint16_t op = old->leg[i].relay_port;
			if (op != s->leg[0].relay_port && op != s->leg[1].relay_port &&
			    slot_update(op, old, NULL, NULL) < 0)
				__atomic_store_n(&slots[slot_of(op)], NULL, __ATOMIC_RELEASE);
		}
		rte_spinlock_lock(&lock);
		s->list_idx = old->list_idx;
		list[s->list_idx] = s;
		rte_spinlock_unlock(&lock);
		retire(old, 0);
		cst.updates++;
	} else {
		s->installed_ms = dp_now_ms();
		rte_spinlock_lock(&lock);
		s->list_idx = nlist;
		list[nlist++] = s;
		idx_set(&sess_ids, s->id, s->list_idx);
		rte_spinlock_unlock(&lock);
		cst.installs++;
	}
	/* the parties' next hops resolved before their first datagram is relayed (an on-link
	 * device that never asked for our address is otherwise resolved by that datagram,
	 * which waits parked while the ones after it are dropped) */
	for (int i = 0; i < 2; i++) {
		const struct media_leg *l = &s->leg[i];
		if (l->peer.family)
			dp_ctl_resolve_ahead(l->port_idx, &l->peer);
		if (l->rt->latched && l->rt->lat_ip.family)
			dp_ctl_resolve_ahead(l->port_idx, &l->rt->lat_ip);
	}
	for (int i = 0; i < 2; i++)
		if (slot_update(s->leg[i].relay_port, old, s, &s->leg[i]) < 0)
			PR_WARN("media: session %s leg %c: no memory for its BUNDLE group: not "
				"relayed",
				s->id, 'a' + i);
	for (int i = 0; i < 2; i++) {
		if (persist[i] && dtls_persist(s, i, s->leg[i].profile) < 0)
			PR_WARN("media: session %s leg %c: DTLS-SRTP keys not written back", s->id,
				'a' + i);
		dtls_start(&s->leg[i]);
	}
	return 0;
}

/* The call's CDR gets the session's final figures when the session ends: the slowpath
 * writes the CDR before it ends the sessions, and the dataplane adds each session's
 * figures to it (only if it exists) once no worker can relay for the session any more, so
 * that the CDR holds every packet. A call with several media lines sums them; its jitter
 * is the worst line's. Triples field, value, add|max. */
static const char cdr_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then "
    "for i = 1, #ARGV, 3 do "
    "if ARGV[i + 2] == 'max' then "
    "local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0') or 0 "
    "if tonumber(ARGV[i + 1]) > cur then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end "
    "else redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end end end return 0";

static void cdr_final(const struct media_sess *s, const struct leg_fig *f)
{
	static const char *const names[8] = {"rx_packets", "rx_bytes",	"tx_packets", "tx_bytes",
					     "lost",	   "auth_fail", "jitter_us",  "avg_kbps"};
	char key[PR_KS_NAME_MAX + 16], fields[16][32], vals[16][24];
	const char *argv[4 + 48];
	size_t argvlen[RTE_DIM(argv)];
	uint64_t kbps_div = sess_age_s(s) * 125; /* bytes to kbit/s */
	int argc = 0;

	if (!redis || !s->cdr_id[0])
		return;
	snprintf(key, sizeof(key), "pr:cdr:%s", s->cdr_id);
	argv[argc++] = "EVAL";
	argv[argc++] = cdr_lua;
	argv[argc++] = "1";
	argv[argc++] = key;
	for (int l = 0; l < 2; l++) {
		const uint64_t v[8] = {f[l].rx_packets, f[l].rx_bytes,
				       f[l].tx_packets, f[l].tx_bytes,
				       f[l].lost,	f[l].auth_fail,
				       f[l].jitter_us,	kbps_div ? f[l].rx_bytes / kbps_div : 0};
		for (int j = 0; j < 8; j++) {
			int k = l * 8 + j;
			snprintf(fields[k], sizeof(fields[k]), "%s_%s", l ? "callee" : "caller",
				 names[j]);
			snprintf(vals[k], sizeof(vals[k]), "%" PRIu64, v[j]);
			argv[argc++] = fields[k];
			argv[argc++] = vals[k];
			argv[argc++] = j == 6 ? "max" : "add";
		}
	}
	for (int j = 0; j < argc; j++)
		argvlen[j] = strlen(argv[j]);
	redisReply *r = pr_redis_cmdargv(redis, argc, argv, argvlen);
	if (r)
		freeReplyObject(r);
}

/* An ended session, after the grace period (no worker can touch it any more): its final
 * figures, the CDR's share of them, and the memory back. */
static void sess_final(struct media_sess *s)
{
	struct leg_fig f[2];

	for (int i = 0; i < 2; i++) {
		leg_figures(&s->leg[i], &f[i]);
		cst.ended_rx += f[i].rx_packets;
		cst.ended_relayed += f[i].tx_packets;
	}
	cdr_final(s, f);
	sess_free(s);
}

/* A session's memory back: streams, runtime state, the struct (no figures anywhere). */
static void sess_free(struct media_sess *s)
{
	for (int i = 0; i < 2; i++) {
		for (unsigned j = 0; j < MEDIA_MAX_SSRC; j++)
			stream_free(s->leg[i].streams[j]);
		rte_free(s->leg[i].rt);
		rte_free(s->leg[i].irt);
	}
	sess_discard(s);
}

/* Stops relaying s at once (its ports go empty). */
static void sess_unpublish(struct media_sess *s)
{
	dtls_end(&s->leg[0]);
	dtls_end(&s->leg[1]);
	for (int i = 0; i < 2; i++)
		if (slot_update(s->leg[i].relay_port, s, NULL, NULL) < 0)
			__atomic_store_n(&slots[slot_of(s->leg[i].relay_port)], NULL,
					 __ATOMIC_RELEASE);
	list_remove(s);
}

/* Stops relaying s at once; the rest (its figures to the CDR) when no worker can see it. */
static void sess_end(struct media_sess *s)
{
	sess_unpublish(s);
	retire(s, 3);
	cst.ends++;
}

/* [ha] release: s, the peer's, stops relaying here and is forgotten, its record and CDR
 * left to the owner as they are (no end, no figures added to the CDR). */
static void sess_forget(struct media_sess *s)
{
	sess_unpublish(s);
	retire(s, 5);
	cst.ha_released++;
}

/* The hash fields a restart (or a takeover) resumes from: the streams, the figures, the
 * latch and re-latch count of both legs (what saved_parse reads), then the DTLS-SRTP keys
 * (dtls_parse). */
static const char *const saved_fields[] = {
    "a_streams",     "b_streams",    "a_rx_packets",  "a_rx_bytes",   "a_tx_packets",
    "a_tx_bytes",    "a_lost",	     "a_auth_fail",   "b_rx_packets", "b_rx_bytes",
    "b_tx_packets",  "b_tx_bytes",   "b_lost",	      "b_auth_fail",  "a_latched",
    "b_latched",     "a_relatch",    "b_relatch",     "a_dtls_suite", "a_dtls_key_rx",
    "a_dtls_key_tx", "b_dtls_suite", "b_dtls_key_rx", "b_dtls_key_tx"};
#define SAVED_N 18 /* saved_parse's share of saved_fields */

/* The state a previous dataplane wrote, from the replies to saved_fields[0..SAVED_N) (NULL
 * when there is none). */
static struct sess_saved *saved_parse(redisReply **e)
{
	struct sess_saved *sv;

	if (e[0]->type != REDIS_REPLY_STRING && e[2]->type != REDIS_REPLY_STRING)
		return NULL;
	sv = calloc(1, sizeof(*sv));
	if (sv)
		for (int l = 0; l < 2; l++) {
			if (e[l]->type == REDIS_REPLY_STRING)
				streams_parse(e[l]->str, sv->st[l], &sv->n[l]);
			for (int j = 0; j < 6; j++) {
				const redisReply *x = e[2 + 6 * l + j];
				if (x->type == REDIS_REPLY_STRING)
					sv->fig[l][j] = strtoull(x->str, NULL, 10);
			}
			const redisReply *la = e[14 + l], *rl = e[16 + l];
			if (la->type == REDIS_REPLY_STRING &&
			    !latched_parse(la->str, &sv->lat_ip[l], &sv->lat_port[l]))
				sv->lat_ip[l].family = 0;
			if (rl->type == REDIS_REPLY_STRING)
				sv->relatch[l] = strtoull(rl->str, NULL, 10);
		}
	return sv;
}

/* The DTLS-SRTP keys, from the replies to the last 6 of saved_fields (NULL without memory). */
static struct dtls_saved *dtls_parse(redisReply **e6)
{
	struct dtls_saved *ds = calloc(1, sizeof(*ds));

	for (int l = 0; ds && l < 2; l++) {
		redisReply **e = e6 + 3 * l;
		if (e[0]->type != REDIS_REPLY_STRING || e[1]->type != REDIS_REPLY_STRING ||
		    e[2]->type != REDIS_REPLY_STRING || e[0]->len >= 32 || e[1]->len >= 64 ||
		    e[2]->len >= 64)
			continue;
		memcpy(ds->suite[l], e[0]->str, e[0]->len);
		memcpy(ds->rx[l], e[1]->str, e[1]->len);
		memcpy(ds->tx[l], e[2]->str, e[2]->len);
		ds->have[l] = true;
	}
	return ds;
}

static void dtls_saved_free(struct dtls_saved *ds)
{
	if (ds) {
		memset(ds, 0, sizeof(*ds));
		free(ds);
	}
}

/* HMGET of fields n..n+cnt of saved_fields in the hash of id: the reply array, or NULL. */
static redisReply *saved_hmget(const char *id, unsigned n, unsigned cnt)
{
	const char *argv[2 + RTE_DIM(saved_fields)];
	char key[PR_KS_NAME_MAX + 16];
	redisReply *r;

	snprintf(key, sizeof(key), PR_KS_SESSION_PREFIX "%s", id);
	argv[0] = "HMGET";
	argv[1] = key;
	for (unsigned j = 0; j < cnt; j++)
		argv[2 + j] = saved_fields[n + j];
	r = pr_redis_cmdargv(redis, 2 + (int)cnt, argv, NULL);
	if (r && (r->type != REDIS_REPLY_ARRAY || r->elements != cnt)) {
		freeReplyObject(r);
		r = NULL;
	}
	return r;
}

/* The state a previous dataplane wrote into the hash of id (NULL when there is none). */
static struct sess_saved *saved_load(const char *id)
{
	redisReply *r = saved_hmget(id, 0, SAVED_N);
	struct sess_saved *sv = r ? saved_parse(r->element) : NULL;

	if (r)
		freeReplyObject(r);
	return sv;
}

/* The DTLS-SRTP keys the hash of id holds (NULL when none could be read). */
static struct dtls_saved *dtls_saved_load(const char *id)
{
	redisReply *r = saved_hmget(id, SAVED_N, RTE_DIM(saved_fields) - SAVED_N);
	struct dtls_saved *ds = r ? dtls_parse(r->element) : NULL;

	if (r)
		freeReplyObject(r);
	return ds;
}

/* ---- control: [ha] standby ----
 * While the peer's addresses are not held, the peer's sessions are followed: their records
 * from the stream (and the rebuild at a start or reconnection), the state their owner last
 * wrote (X_streams, figures, latch, DTLS keys) read again every stats_interval_ms in
 * transactions of up to 128 HMGETs. A takeover installs them from here without reading
 * Redis. Control only; found by id through sby_ids. */
struct standby {
	struct pr_ks_session *k;
	struct sess_saved *saved; /* NULL: nothing written yet */
	struct dtls_saved *ds;	  /* NULL: not read yet */
};
static struct standby *sby;
static uint32_t nsby;
static bool sby_ready; /* the rebuild from the hashes filled it since the last (re)connection */

static void sby_free(struct standby *b)
{
	memset(b->k, 0, sizeof(*b->k));
	free(b->k);
	free(b->saved);
	dtls_saved_free(b->ds);
}

static const char *sby_key(uint32_t pos)
{
	return sby[pos].k->id;
}
static struct id_index sby_ids = {.key = sby_key};

static struct standby *sby_find(const char *id)
{
	int64_t pos = idx_find(&sby_ids, id);
	return pos >= 0 ? &sby[pos] : NULL;
}

/* Keeps record k (the caller's copy is taken: *kp becomes NULL); the saved state stays
 * until the next refresh. Beyond max_sessions it is not followed (a takeover then misses
 * it). */
static void sby_put(struct pr_ks_session **kp)
{
	struct standby *b = sby_find((*kp)->id);

	if (b) {
		memset(b->k, 0, sizeof(*b->k));
		free(b->k);
	} else if (sby && nsby < mcfg.max_sessions) {
		b = &sby[nsby++];
		memset(b, 0, sizeof(*b));
	} else {
		return;
	}
	b->k = *kp;
	*kp = NULL;
	idx_set(&sby_ids, b->k->id, (uint32_t)(b - sby));
}

static void sby_drop(const char *id)
{
	struct standby *b = sby_find(id);

	if (!b)
		return;
	idx_del(&sby_ids, id);
	sby_free(b);
	*b = sby[--nsby];
	if (b != &sby[nsby])
		idx_set(&sby_ids, b->k->id, (uint32_t)(b - sby));
}

static void sby_clear(void)
{
	idx_clear(&sby_ids);
	while (nsby)
		sby_free(&sby[--nsby]);
	sby_ready = false;
}

/* The state every followed session's owner last wrote. -EIO when Redis failed. */
static int sby_refresh(void)
{
	for (uint32_t i = 0; i < nsby; i += 128) {
		uint32_t n = RTE_MIN(nsby - i, 128u);
		struct pr_redis_tx *tx = pr_redis_tx_new();
		redisReply *exec = NULL;
		if (!tx)
			return -ENOMEM;
		for (uint32_t j = 0; j < n; j++) {
			const char *argv[2 + RTE_DIM(saved_fields)];
			char key[PR_KS_NAME_MAX + 16];
			snprintf(key, sizeof(key), PR_KS_SESSION_PREFIX "%s", sby[i + j].k->id);
			argv[0] = "HMGET";
			argv[1] = key;
			memcpy(argv + 2, saved_fields, sizeof(saved_fields));
			pr_redis_tx_addargv(tx, RTE_DIM(argv), argv, NULL);
		}
		int rc = pr_redis_tx_run(redis, tx, &exec);
		pr_redis_tx_free(tx);
		if (rc < 0)
			return rc == -EIO ? rc : 0;
		for (uint32_t j = 0;
		     exec && exec->type == REDIS_REPLY_ARRAY && j < n && j < exec->elements; j++) {
			redisReply *r = exec->element[j];
			struct standby *b = &sby[i + j];
			if (r->type != REDIS_REPLY_ARRAY || r->elements != RTE_DIM(saved_fields))
				continue;
			struct sess_saved *sv = saved_parse(r->element);
			if (sv) { /* (gone fields: the hash ended; the stream's end drops it) */
				free(b->saved);
				b->saved = sv;
			}
			struct dtls_saved *ds = dtls_parse(r->element + SAVED_N);
			if (ds) {
				dtls_saved_free(b->ds);
				b->ds = ds;
			}
		}
		if (exec)
			freeReplyObject(exec);
	}
	return 0;
}

/* Load the hash of id and install or update it; a gone hash ends a live session. A record
 * of the [ha] peer's is left to it unless we hold its addresses; peer_only (a takeover):
 * only those are installed, others are left alone and not counted. */
static int sess_load_apply(const char *id, bool peer_only)
{
	struct pr_ks_session *k = calloc(1, sizeof(*k));
	struct media_sess *old = sess_find(id);
	int rc;

	if (!k)
		return -ENOMEM;
	rc = pr_ks_session_load(redis, id, k);
	struct sess_saved *saved = NULL;
	struct dtls_saved *ds = NULL;
	if (rc == 0 && !old && !rec_is_peers(k) && rec_elsewhere(k)) {
		memset(k, 0, sizeof(*k));
		free(k);
		return 0;
	}
	if (rc == 0 && !old && own_fenced && !rec_is_peers(k)) {
		/* ours while the peer holds our addresses: its to relay, ours at the failback */
		memset(k, 0, sizeof(*k));
		free(k);
		return 0;
	}
	if (rc == 0 && !old && (peer_only || !peer_held) && rec_is_peers(k) != peer_only) {
		/* not the peer's at a takeover (ours are live already); the peer's while its
		 * owner relays it: neither refused nor reported as an orphan, followed */
		if (!peer_only) {
			cst.peer_skipped++;
			sby_put(&k);
		}
		if (k) {
			memset(k, 0, sizeof(*k));
			free(k);
		}
		return 0;
	}
	if (rc == 0 && !old)
		saved = saved_load(id);
	if (rc == 0 && (!strcmp(k->leg[0].keying, "dtls") || !strcmp(k->leg[1].keying, "dtls")))
		ds = dtls_saved_load(id);
	if (rc == -ENOENT) {
		if (old)
			sess_end(old);
		else if (sby_find(id))
			sby_drop(id);
		else
			cst.unknown++;
		rc = 0;
	} else if (rc == 0) {
		rc = sess_apply(k, old, saved, ds);
		if (rc == -ERANGE && !old && first_sync) {
			/* A session of before a readdress (or a change of [media] port range):
			 * it can never relay here, so the slowpath is told to end its call as
			 * it ends an idle one. */
			redisReply *r = pr_redis_cmd(
			    redis, "XADD %s MAXLEN ~ %d * op idle id %s cdr_id %s reason %s",
			    PR_KS_SESSIONS_EVENTS, 10000, k->id, k->cdr_id[0] ? k->cdr_id : "-",
			    "relay-address");
			if (r) {
				freeReplyObject(r);
				cst.restore_orphaned++;
				rc = 0;
			} else {
				rc = -EIO;
			}
		} else if (rc < 0 && rc != -EIO) {
			cst.refused++;
			rc = 0; /* acknowledged and counted: a bad record is not retried forever */
		}
	} else if (rc != -EIO) {
		cst.bad_entries++;
		PR_WARN("media: session %s unreadable: %s", id, pr_ks_errmsg());
		rc = 0;
	}
	memset(k, 0, sizeof(*k));
	free(k);
	free(saved);
	dtls_saved_free(ds);
	return rc;
}

/* ---- control: Redis ---- */

static bool redis_up(uint64_t now_ms)
{
	struct pr_redis *r;

	if (redis)
		return true;
	if (last_try_ms && now_ms - last_try_ms < 1000)
		return false;
	last_try_ms = now_ms ? now_ms : 1;
	if (pr_redis_connect(&r, dp_cfg.redis.socket, 1000) < 0) {
		if (!warned)
			PR_WARN(
			    "media: redis %s unreachable (%s): no sessions until it is, retrying",
			    dp_cfg.redis.socket, pr_redis_errmsg(NULL));
		warned = true;
		return false;
	}
	if ((dp_cfg.redis.user[0] || dp_cfg.redis.password_file[0]) &&
	    pr_redis_auth(r, dp_cfg.redis.user, dp_cfg.redis.password_file) < 0) {
		if (!warned)
			PR_WARN("media: redis AUTH failed: %s", pr_redis_errmsg(r));
		warned = true;
		pr_redis_close(r);
		return false;
	}
	redis = r;
	warned = false;
	synced_start = false;
	pending_done = false;
	return true;
}

static void redis_drop(void)
{
	pr_redis_close(redis);
	redis = NULL;
}

static void redis_lost(void)
{
	cst.redis_errors++;
	PR_WARN("media: redis: %s; reconnecting", pr_ks_errmsg());
	redis_drop();
}

/* Start: the group, then every live session from the hashes. */
static int sync_start(void)
{
	struct pr_ks_names ids = {0};
	uint64_t orphans = cst.restore_orphaned;
	int rc = pr_ks_session_group_init(redis, mcfg.group);

	if (rc < 0)
		return rc;
	rc = pr_ks_session_list(redis, &ids);
	if (rc < 0)
		return rc;
	sby_clear(); /* followed again from the hashes, as the live sessions are rebuilt */
	for (size_t i = 0; i < ids.n && rc >= 0; i++)
		rc = sess_load_apply(ids.v[i], false);
	/* live sessions whose hash is gone (ended while Redis was away) */
	for (uint32_t i = 0; rc >= 0 && i < nlist;) {
		bool found = false;
		for (size_t j = 0; j < ids.n && !found; j++)
			found = !strcmp(ids.v[j], list[i]->id);
		if (!found)
			sess_end(list[i]);
		else
			i++;
	}
	pr_ks_names_free(&ids);
	reclaim();
	if (rc >= 0 && cst.restore_orphaned > orphans)
		PR_WARN("media: %u sessions restored, %" PRIu64
			" dropped: relay address no longer ours (reported to the slowpath)",
			nlist, cst.restore_orphaned - orphans);
	else if (rc >= 0)
		PR_NOTICE("media: %u sessions live after the rebuild from Redis", nlist);
	if (rc >= 0)
		first_sync = false;
	if (rc >= 0 && dp_ha_configured() && !peer_held) {
		rc = sby_refresh();
		sby_ready = rc >= 0;
		if (sby_ready && nsby)
			PR_NOTICE("media: following %u sessions of the [ha] peer", nsby);
	}
	return rc;
}

#define CMD_BATCH 256

static int follow_stream(void)
{
	static struct pr_ks_session_cmd cmds[CMD_BATCH];
	unsigned nbad = 0;
	int n = pr_ks_session_cmd_read(redis, mcfg.group, mcfg.consumer, !pending_done, -1, cmds,
				       CMD_BATCH, &nbad);

	if (n < 0)
		return n;
	cst.bad_entries += nbad;
	if (n == 0 && !nbad && !pending_done) {
		pending_done = true;
		return 0;
	}
	bool ended = false;
	for (int i = 0; i < n; i++) {
		int rc = 0;
		if (cmds[i].op == PR_KS_OP_END) {
			struct media_sess *s = sess_find(cmds[i].id);
			if (s) {
				sess_end(s);
				ended = true;
			} else if (sby_find(cmds[i].id)) {
				sby_drop(cmds[i].id); /* the peer's, ended by its owner */
			} else {
				cst.unknown++;
			}
		} else {
			rc = sess_load_apply(cmds[i].id, false);
		}
		if (rc < 0)
			return rc;
	}
	/* before the acks: an acknowledged end has stopped relaying (installs and updates
	 * need no wait: what they retired is freed by reclaim_poll) */
	if (ended)
		reclaim();
	for (int i = 0; i < n; i++) {
		int rc = pr_ks_session_cmd_ack(redis, mcfg.group, cmds[i].stream_id);
		if (rc < 0)
			return rc;
	}
	return n;
}

static void fmt_addr(const struct dp_ipaddr *a, uint16_t port, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	dp_ipaddr_str(a, ip, sizeof(ip));
	snprintf(buf, len, a->family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, port);
}

static void latched_text(const struct media_leg *l, char *buf, size_t len)
{
	const struct media_rt *rt = l->rt;

	if (rtp_latched(l))
		fmt_addr(&rt->lat_ip, rt->lat_port, buf, len);
	else
		snprintf(buf, len, "-");
}

/* The figures of every session into its hash, only where the hash still exists (Lua), in
 * transactions of up to 128 sessions. Also logs re-latches. */
static const char stats_lua[] = "if redis.call('EXISTS', KEYS[1]) == 1 then "
				"redis.call('HSET', KEYS[1], unpack(ARGV)) end return 0";

static int write_stats(void)
{
	struct pr_redis_tx *tx = NULL;
	unsigned in_tx = 0;
	int rc = 0;

	for (uint32_t i = 0; i < nlist && rc == 0; i++) {
		struct media_sess *s = list[i];
		const char *argv[4 + 2 * 2 * 12];
		size_t argvlen[RTE_DIM(argv)];
		char vals[2][12][64], key[PR_KS_NAME_MAX + 16];
		char streams[2][MEDIA_MAX_SSRC * 96];
		int argc = 0;
		uint64_t kbps_div = sess_age_s(s) * 125; /* bytes to kbit/s */

		snprintf(key, sizeof(key), PR_KS_SESSION_PREFIX "%s", s->id);
		argv[argc++] = "EVAL";
		argv[argc++] = stats_lua;
		argv[argc++] = "1";
		argv[argc++] = key;
		for (int l = 0; l < 2; l++) {
			static const char *const names[2][11] = {
			    {"a_rx_packets", "a_rx_bytes", "a_tx_packets", "a_tx_bytes", "a_lost",
			     "a_jitter_us", "a_auth_fail", "a_relatch", "a_kbps", "a_latched",
			     "a_last_rx"},
			    {"b_rx_packets", "b_rx_bytes", "b_tx_packets", "b_tx_bytes", "b_lost",
			     "b_jitter_us", "b_auth_fail", "b_relatch", "b_kbps", "b_latched",
			     "b_last_rx"}};
			struct leg_fig f;
			const struct media_leg *lg = &s->leg[l];
			leg_figures(lg, &f);
			snprintf(vals[l][0], 64, "%" PRIu64, f.rx_packets);
			snprintf(vals[l][1], 64, "%" PRIu64, f.rx_bytes);
			snprintf(vals[l][2], 64, "%" PRIu64, f.tx_packets);
			snprintf(vals[l][3], 64, "%" PRIu64, f.tx_bytes);
			snprintf(vals[l][4], 64, "%" PRIu64, f.lost);
			snprintf(vals[l][5], 64, "%" PRIu32, f.jitter_us);
			snprintf(vals[l][6], 64, "%" PRIu64, f.auth_fail);
			snprintf(vals[l][7], 64, "%" PRIu64, f.relatch);
			snprintf(vals[l][8], 64, "%" PRIu64, kbps_div ? f.rx_bytes / kbps_div : 0);
			latched_text(lg, vals[l][9], 64);
			snprintf(vals[l][10], 64, "%" PRId64, f.last_rx);
			for (int j = 0; j < 11; j++) {
				argv[argc++] = names[l][j];
				argv[argc++] = vals[l][j];
			}
			streams_format(lg, streams[l], sizeof(streams[l]));
			argv[argc++] = l ? "b_streams" : "a_streams";
			argv[argc++] = streams[l];
			if (f.relatch > lg->rt->relatch_logged) {
				PR_NOTICE("media: session %s leg %c re-latched to %s (%" PRIu64
					  " times)",
					  s->id, 'a' + l, vals[l][9], f.relatch);
				lg->rt->relatch_logged = f.relatch;
			}
		}
		for (int j = 0; j < argc; j++)
			argvlen[j] = strlen(argv[j]);
		if (!tx) {
			tx = pr_redis_tx_new();
			if (!tx)
				return -ENOMEM;
		}
		pr_redis_tx_addargv(tx, argc, argv, argvlen);
		if (++in_tx == 128 || i + 1 == nlist) {
			rc = pr_redis_tx_run(redis, tx, NULL);
			pr_redis_tx_free(tx);
			tx = NULL;
			in_tx = 0;
		}
	}
	if (tx)
		pr_redis_tx_free(tx);
	return rc < 0 && rc != -EIO ? 0 : rc;
}

/* Sessions without a packet from either leg for their idle time: reported once to the
 * slowpath, which ends the call (BYE on both legs) and so the session. */
static int check_idle(void)
{
	/* read now: a session installed in this same poll has an installed_ms past the
	 * poll's start */
	const uint64_t now = rte_rdtsc(), now_ms = dp_now_ms();

	for (uint32_t i = 0; i < nlist; i++) {
		struct media_sess *s = list[i];
		uint64_t q =
		    RTE_MIN(rt_quiet_ms(s->leg[0].rt, now), rt_quiet_ms(s->leg[1].rt, now));
		uint64_t idle_s = s->idle_s ? s->idle_s : mcfg.session_idle_s;
		uint64_t quiet_ms = q != UINT64_MAX		? q
				    : s->installed_ms >= now_ms ? 0
								: now_ms - s->installed_ms;

		if (s->idle_reported || quiet_ms < idle_s * 1000)
			continue;
		redisReply *r = pr_redis_cmd(redis, "XADD %s MAXLEN ~ %d * op idle id %s cdr_id %s",
					     PR_KS_SESSIONS_EVENTS, 10000, s->id,
					     s->cdr_id[0] ? s->cdr_id : "-");
		if (!r)
			return -EIO;
		freeReplyObject(r);
		s->idle_reported = true;
		cst.idle_ends++;
		PR_NOTICE("media: session %s idle for %" PRIu64 " s: reported for its end", s->id,
			  quiet_ms / 1000);
	}
	return 0;
}

static unsigned media_poll(uint64_t now_ms)
{
	int rc = 0;

	dtls_poll(now_ms);
	if (pr_redis_stale(redis)) {
		/* a +switch-master: made again at once, and the reconnection's sync reads the
		 * sessions and the stream's pending entries from the new primary (what the old
		 * one had not passed on is not there) */
		PR_NOTICE("media: the redis primary moved (+switch-master): reconnecting and "
			  "syncing from it");
		redis_drop();
		last_try_ms = 0;
	}
	if (!redis_up(now_ms))
		return 0;
	reclaim_poll(); /* (an ended session's last figures go to its CDR in Redis) */
	if (!synced_start) {
		rc = sync_start();
		if (rc < 0)
			return redis_lost(), 0;
		synced_start = true;
	}
	if (now_ms - last_read_ms >= 10 || !pending_done) {
		last_read_ms = now_ms;
		do
			rc = follow_stream();
		while (rc == CMD_BATCH);
		if (rc < 0)
			return redis_lost(), 0;
	}
	if (now_ms - last_stats_ms >= mcfg.stats_interval_ms) {
		last_stats_ms = now_ms;
		if (write_stats() < 0 || check_idle() < 0 || (sby_ready && sby_refresh() < 0))
			return redis_lost(), 0;
	}
	media_load_poll(redis, nlist);
	return 0;
}

/* After a release: the peer's sessions followed again, from their hashes (off the
 * takeover's path: the owner is coming back). */
static int sby_rebuild(void)
{
	struct pr_ks_names ids = {0};
	int rc = pr_ks_session_list(redis, &ids);

	sby_clear();
	for (size_t i = 0; rc >= 0 && i < ids.n; i++) {
		struct pr_ks_session *k;
		if (sess_find(ids.v[i]) || !(k = calloc(1, sizeof(*k))))
			continue;
		rc = pr_ks_session_load(redis, ids.v[i], k);
		if (rc == 0 && rec_is_peers(k))
			sby_put(&k);
		if (k) {
			memset(k, 0, sizeof(*k));
			free(k);
		}
		if (rc != -EIO)
			rc = 0; /* gone meanwhile, or unreadable: not followed */
	}
	pr_ks_names_free(&ids);
	if (rc >= 0)
		rc = sby_refresh();
	sby_ready = rc >= 0;
	return rc;
}

/* Loads every session of pr:sessions not live here (sess_load_apply: the [ha] peer's with
 * peer_only, else ours): 0, or the first Redis failure (what came before it is live). */
static int load_listed(bool peer_only)
{
	struct pr_ks_names ids = {0};
	int rc = pr_ks_session_list(redis, &ids);
	for (size_t i = 0; rc >= 0 && i < ids.n; i++)
		if (!sess_find(ids.v[i]))
			rc = sess_load_apply(ids.v[i], peer_only);
	pr_ks_names_free(&ids);
	return rc;
}

/* [ha] takeover: the peer's live sessions, as a restart rebuilds ours (the latch, the
 * figures, each stream's rollover counter and replay state from X_streams, a DTLS-SRTP
 * leg's exported keys), published before the workers take the addresses: from the standby
 * (no Redis read), else (not followed yet: Redis was away since the start) from their
 * hashes. Release: the addresses are no longer taken; the figures go to the hashes one last
 * time (what the owner resumes from), the sessions are forgotten, neither ended nor
 * reported, and followed again. Redis reads and writes are synchronous on the control
 * lcore's connection. Returns 0: the sessions are counted in /poprelay/media/stats
 * (ha_taken, ha_released), not among the TURN allocations ha status shows. */
static int media_ha_change(bool held)
{
	if (!slots || !dp_ha_configured())
		return 0;
	if (!held) {
		uint64_t before = cst.ha_released;
		peer_held = false;
		if (redis && write_stats() < 0)
			redis_lost();
		for (uint32_t i = 0; i < nlist;)
			if (sess_is_peers(list[i]))
				sess_forget(list[i]); /* moves the last one to i */
			else
				i++;
		PR_NOTICE("media: %" PRIu64 " sessions of the peer given back",
			  cst.ha_released - before);
		if (redis && sby_rebuild() < 0)
			redis_lost(); /* the reconnection's rebuild follows them */
		return 0;
	}
	peer_held = true; /* from now on a rebuild after a Redis outage takes them too */
	if (sby_ready) {
		uint32_t before = nlist;
		for (uint32_t i = 0; i < nsby; i++)
			if (!sess_find(sby[i].k->id) &&
			    sess_apply(sby[i].k, NULL, sby[i].saved, sby[i].ds) < 0)
				cst.refused++;
		sby_clear(); /* held: the stream's entries apply to them live */
		cst.ha_taken += nlist - before;
		PR_NOTICE("media: %u sessions of the peer taken over from the standby",
			  nlist - before);
		return 0;
	}
	if (!redis_up(dp_now_ms())) {
		PR_WARN(
		    "media: takeover with redis away: the peer's sessions follow once it is back");
		return -EIO;
	}
	uint32_t before = nlist;
	int rc = load_listed(true);
	cst.ha_taken += nlist - before;
	if (rc < 0) {
		PR_WARN("media: takeover: redis failed after %u sessions of the peer; the rest "
			"follow at the reconnection",
			nlist - before);
		redis_lost();
		return rc;
	}
	PR_NOTICE("media: %u sessions of the peer taken over from redis", nlist - before);
	return 0;
}

/* [ha] fencing: our own addresses held by the peer (serving false): our sessions are
 * forgotten as a release forgets the peer's (records and CDRs left as they are, to the
 * holder), and not installed from the stream meanwhile; the failback (serving true) loads
 * them from their hashes, as the holder left them at its release (the figures, the latch,
 * each stream's rollover counter and index), as a restart does. Returns the sessions. */
static int media_ha_own_change(bool serving)
{
	if (!slots || !dp_ha_configured())
		return 0;
	own_fenced = !serving;
	if (!serving) {
		int n = 0;
		for (uint32_t i = 0; i < nlist;)
			if (!sess_is_peers(list[i])) {
				struct media_sess *x = list[i];
				sess_unpublish(x); /* moves the last one to i */
				retire(x, 5);	   /* as sess_forget: no end, no CDR figures */
				n++;
			} else {
				i++;
			}
		PR_NOTICE("media: %d sessions of ours left to the peer that holds our address", n);
		return n;
	}
	if (!redis_up(dp_now_ms())) {
		PR_WARN("media: failback with redis away: our sessions come back once it is");
		return -EIO;
	}
	uint32_t before = nlist;
	int rc = load_listed(false);
	if (rc < 0) {
		redis_lost(); /* the reconnection's rebuild loads the rest */
		return rc;
	}
	PR_NOTICE("media: %u sessions of ours restored from redis at the failback", nlist - before);
	return (int)(nlist - before);
}

/* ---- telemetry ---- */

/* Bytes a session holds: its struct, both legs' runtime state, its streams and their
 * contexts (the port table is counted apart: slots_bytes). */
static uint64_t sess_bytes(const struct media_sess *s)
{
	uint64_t b = sizeof(*s) + 2 * sizeof(struct media_rt);

	for (int l = 0; l < 2; l++) {
		const struct media_leg *g = &s->leg[l];
		b += (g->irt ? sizeof(*g->irt) : 0) + (g->ice_cred ? sizeof(*g->ice_cred) : 0) +
		     (g->bl ? sizeof(*g->bl) : 0);
	}
	for (int l = 0; l < 2; l++)
		for (unsigned j = 0; j < MEDIA_MAX_SSRC; j++) {
			const struct media_stream *st =
			    __atomic_load_n(&s->leg[l].streams[j], __ATOMIC_ACQUIRE);
			if (!st)
				break;
			b += sizeof(*st) + pr_srtp_ctx_size(st->rx) + pr_srtp_ctx_size(st->tx);
		}
	return b;
}

/* Every lcore's drops of reason MD_*. */
static uint64_t drops_of(unsigned reason)
{
	uint64_t n = 0;

	for (unsigned c = 0; c < RTE_MAX_LCORE; c++)
		n += dp_stats[c].drops[drop_id[reason]];
	return n;
}

static int tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	uint64_t relayed = 0, rx = 0, auth = 0, wrong = 0, relatch = 0, streams = 0, bytes = 0;
	uint64_t legs_srtp = 0, legs_latched = 0, legs_ice = 0;
	(void)cmd;
	(void)params;

	rte_spinlock_lock(&lock);
	for (uint32_t i = 0; i < nlist; i++)
		for (int l = 0; l < 2; l++) {
			struct leg_fig f;
			leg_figures(&list[i]->leg[l], &f);
			relayed += f.tx_packets;
			rx += f.rx_packets;
			auth += f.auth_fail;
			wrong += f.wrong_source;
			relatch += f.relatch;
			legs_srtp += list[i]->leg[l].encrypted;
			legs_ice += list[i]->leg[l].ice;
			legs_latched += rtp_latched(&list[i]->leg[l]);
			for (unsigned j = 0; j < MEDIA_MAX_SSRC; j++)
				streams += __atomic_load_n(&list[i]->leg[l].streams[j],
							   __ATOMIC_ACQUIRE) != NULL;
			if (l == 0)
				bytes += sess_bytes(list[i]);
		}
	uint32_t n = nlist;
	rte_spinlock_unlock(&lock);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "sessions", n);
	rte_tel_data_add_dict_u64(d, "capacity", mcfg.max_sessions);
	rte_tel_data_add_dict_u64(d, "redis_up", redis != NULL && synced_start);
	rte_tel_data_add_dict_u64(d, "streams", streams);
	/* legs: two a session; SRTP ones (the rest in clear), latched ones (a device heard) */
	rte_tel_data_add_dict_u64(d, "legs", 2 * (uint64_t)n);
	rte_tel_data_add_dict_u64(d, "legs_srtp", legs_srtp);
	rte_tel_data_add_dict_u64(d, "legs_latched", legs_latched);
	rte_tel_data_add_dict_u64(d, "memory_bytes", bytes);
	rte_tel_data_add_dict_u64(d, "slots_bytes", (uint64_t)nslots * sizeof(*slots));
	/* the session list and the id indexes, sized for max_sessions */
	rte_tel_data_add_dict_u64(
	    d, "tables_bytes",
	    (uint64_t)mcfg.max_sessions * sizeof(*list) +
		(sess_ids.slot ? (uint64_t)(sess_ids.mask + 1) * sizeof(*sess_ids.slot) : 0) +
		(sby_ids.slot ? (uint64_t)(sby_ids.mask + 1) * sizeof(*sby_ids.slot) +
				    (uint64_t)mcfg.max_sessions * sizeof(*sby)
			      : 0));
	/* live sessions' figures and those of sessions that ended */
	rte_tel_data_add_dict_u64(d, "received", rx + cst.ended_rx);
	rte_tel_data_add_dict_u64(d, "relayed", relayed + cst.ended_relayed);
	rte_tel_data_add_dict_u64(d, "auth_fail", auth);
	rte_tel_data_add_dict_u64(d, "wrong_source", wrong);
	rte_tel_data_add_dict_u64(d, "relatch", relatch);
	rte_tel_data_add_dict_u64(d, "installs", cst.installs);
	rte_tel_data_add_dict_u64(d, "updates", cst.updates);
	rte_tel_data_add_dict_u64(d, "ends", cst.ends);
	rte_tel_data_add_dict_u64(d, "idle_reported", cst.idle_ends);
	rte_tel_data_add_dict_u64(d, "refused", cst.refused);
	rte_tel_data_add_dict_u64(d, "restore_orphaned", cst.restore_orphaned);
	rte_tel_data_add_dict_u64(d, "peer_skipped", cst.peer_skipped);
	rte_tel_data_add_dict_u64(d, "ha_taken", cst.ha_taken);
	rte_tel_data_add_dict_u64(d, "ha_released", cst.ha_released);
	rte_tel_data_add_dict_u64(d, "ha_following", nsby);
	rte_tel_data_add_dict_u64(d, "bad_entries", cst.bad_entries);
	rte_tel_data_add_dict_u64(d, "unknown", cst.unknown);
	rte_tel_data_add_dict_u64(d, "ctl_relayed", cst.ctl_relayed);
	rte_tel_data_add_dict_u64(d, "redis_errors", cst.redis_errors);
	rte_tel_data_add_dict_u64(d, "streams_restored", cst.streams_restored);
	/* ICE-lite legs: their STUN by verdict, nominations, DTLS not handled yet */
	rte_tel_data_add_dict_u64(d, "legs_ice", legs_ice);
	rte_tel_data_add_dict_u64(d, "ice_answered", cst.ice[MEDIA_ICE_ANSWERED]);
	rte_tel_data_add_dict_u64(d, "ice_nominations", cst.ice_nominations);
	rte_tel_data_add_dict_u64(d, "ice_role_conflict", cst.ice[MEDIA_ICE_ROLE_CONFLICT]);
	rte_tel_data_add_dict_u64(d, "ice_bad_integrity", cst.ice[MEDIA_ICE_BAD_INTEGRITY]);
	rte_tel_data_add_dict_u64(d, "ice_unknown_ufrag", cst.ice[MEDIA_ICE_UNKNOWN_UFRAG]);
	rte_tel_data_add_dict_u64(d, "ice_malformed", cst.ice[MEDIA_ICE_MALFORMED]);
	rte_tel_data_add_dict_u64(d, "ice_not_request", cst.ice[MEDIA_ICE_NOT_REQUEST]);
	rte_tel_data_add_dict_u64(d, "ice_rate_limited", drops_of(MD_ICE_RATE));
	rte_tel_data_add_dict_u64(d, "ice_unnominated", drops_of(MD_ICE_SOURCE));
	rte_tel_data_add_dict_u64(d, "dtls_dropped", drops_of(MD_DTLS));
	/* DTLS-SRTP legs and poprelay-dtls (its own figures while attached) */
	rte_tel_data_add_dict_u64(d, "dtls_unkeyed_dropped", drops_of(MD_DTLS_UNKEYED));
	rte_tel_data_add_dict_u64(d, "dtls_keyed", cst.dtls_keyed);
	rte_tel_data_add_dict_u64(d, "dtls_keys_restored", cst.dtls_keys_restored);
	rte_tel_data_add_dict_u64(d, "dtls_keys_kept", cst.dtls_keys_kept);
	rte_tel_data_add_dict_u64(d, "dtls_legs_failed", cst.dtls_failed);
	rte_tel_data_add_dict_u64(d, "dtls_unknown_leg", cst.dtls_unknown_leg);
	md_chan_tel(d);
	return 0;
}

static int tel_sessions(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
	rte_spinlock_lock(&lock);
	for (uint32_t i = 0; i < nlist && i < 512; i++)
		rte_tel_data_add_array_string(d, list[i]->id);
	rte_spinlock_unlock(&lock);
	return 0;
}

/* One session: per leg its party, relay, SDP peer, latched address, suite, encryption and
 * live figures. Never a key. */
static int tel_session(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct rte_tel_data *leg[2];
	int rc = -ENOENT;
	(void)cmd;

	if (!params || !*params)
		return -EINVAL;
	rte_spinlock_lock(&lock);
	struct media_sess *s = sess_find(params);
	if (s) {
		rte_tel_data_start_dict(d);
		rte_tel_data_add_dict_string(d, "id", s->id);
		for (int l = 0; l < 2; l++) {
			const struct media_leg *lg = &s->leg[l];
			struct leg_fig f;
			char buf[64];
			leg[l] = rte_tel_data_alloc();
			if (!leg[l])
				continue;
			rte_tel_data_start_dict(leg[l]);
			leg_figures(lg, &f);
			rte_tel_data_add_dict_string(leg[l], "party", s->party[l]);
			fmt_addr(&lg->relay, lg->relay_port, buf, sizeof(buf));
			rte_tel_data_add_dict_string(leg[l], "relay", buf);
			fmt_addr(&lg->peer, lg->peer_port, buf, sizeof(buf));
			rte_tel_data_add_dict_string(leg[l], "sdp_peer", buf);
			latched_text(lg, buf, sizeof(buf));
			rte_tel_data_add_dict_string(leg[l], "latched", buf);
			rte_tel_data_add_dict_string(
			    leg[l], "suite",
			    lg->encrypted ? pr_srtp_profile_name(lg->profile) : "clear");
			rte_tel_data_add_dict_u64(leg[l], "encrypted", lg->encrypted);
			rte_tel_data_add_dict_u64(leg[l], "rtcp_mux", lg->rtcp_mux);
			rte_tel_data_add_dict_u64(leg[l], "ice", lg->ice);
			rte_tel_data_add_dict_u64(leg[l], "rx_packets", f.rx_packets);
			rte_tel_data_add_dict_u64(leg[l], "rx_bytes", f.rx_bytes);
			rte_tel_data_add_dict_u64(leg[l], "tx_packets", f.tx_packets);
			rte_tel_data_add_dict_u64(leg[l], "tx_bytes", f.tx_bytes);
			rte_tel_data_add_dict_u64(leg[l], "lost", f.lost);
			rte_tel_data_add_dict_u64(leg[l], "jitter_us", f.jitter_us);
			rte_tel_data_add_dict_u64(leg[l], "auth_fail", f.auth_fail);
			rte_tel_data_add_dict_u64(leg[l], "replay", f.replay);
			rte_tel_data_add_dict_u64(leg[l], "wrong_source", f.wrong_source);
			rte_tel_data_add_dict_u64(leg[l], "drops", f.drops);
			rte_tel_data_add_dict_u64(leg[l], "bandwidth_drops", lg->rt->bandwidth);
			rte_tel_data_add_dict_u64(leg[l], "relatch", f.relatch);
			rte_tel_data_add_dict_u64(leg[l], "last_rx", (uint64_t)f.last_rx);
			rte_tel_data_add_dict_container(d, l ? "b" : "a", leg[l], 0);
		}
		rc = 0;
	}
	rte_spinlock_unlock(&lock);
	return rc;
}

/* ---- init / teardown ---- */

/* dp.session_idle_s: read by control's idle check only. */
static int64_t idle_get(const struct dp_tunable *t)
{
	(void)t;
	return mcfg.session_idle_s;
}

static int idle_set(const struct dp_tunable *t, int64_t v)
{
	(void)t;
	mcfg.session_idle_s = (uint32_t)v;
	return 0;
}

static struct dp_tunable idle_tunable = {"dp.session_idle_s", idle_get, idle_set, 0, 0, 0, NULL};

static int media_init(void)
{
	int rc;

	if (!mcfg.enabled) {
		PR_NOTICE("media: disabled in the configuration");
		return 0;
	}
	/* media_cfg_check refused bad ports, clear_latch and consumer with the configuration. */
	clear_latch_first = !strcmp(mcfg.clear_latch, "first");
	relatch_cyc = dp_rt.tsc_hz / 1000 * mcfg.relatch_interval_ms;
	us_q32 = dp_us_q32(dp_rt.tsc_hz);
	pr_srtp_set_allocator(hp_srtp_alloc, rte_free);
	dp_tunable_register(&idle_tunable);
	nslots = (mcfg.port_max - mcfg.port_min + 1) / 2;
	slots = rte_zmalloc("media_slots", sizeof(*slots) * nslots, RTE_CACHE_LINE_SIZE);
	list = calloc(mcfg.max_sessions, sizeof(*list));
	int ix = idx_init(&sess_ids, mcfg.max_sessions, list_key);
	if (dp_ha_configured()) {
		sby = calloc(mcfg.max_sessions, sizeof(*sby));
		ix = ix ? ix : idx_init(&sby_ids, mcfg.max_sessions, sby_key);
	}
	if (!slots || !list || ix || (dp_ha_configured() && !sby)) {
		PR_ERR("media: out of memory for %u ports and %u sessions", nslots * 2,
		       mcfg.max_sessions);
		return -ENOMEM;
	}
	for (int i = 0; i < MD_MAX; i++) {
		drop_id[i] = dp_drop_reason_register(md_names[i]);
		if (drop_id[i] < 0)
			return drop_id[i];
	}
	dp_udp_want_frames(); /* SRTP reads and rewrites every line of a packet */
	rc = dp_udp_claim(&media_feature, (uint16_t)mcfg.port_min, (uint16_t)mcfg.port_max);
	if (rc < 0) {
		PR_ERR("media: cannot claim UDP ports %u-%u: %s", mcfg.port_min, mcfg.port_max,
		       rc == -EBUSY ? "another feature (turn relay ports?) holds some"
				    : "too many port ranges");
		return rc;
	}
	rte_telemetry_register_cmd("/poprelay/media/stats", tel_stats,
				   "Media anchor counters. No parameters");
	rte_telemetry_register_cmd("/poprelay/media/sessions", tel_sessions,
				   "Live media session ids (at most 512). No parameters");
	rte_telemetry_register_cmd("/poprelay/media/session", tel_session,
				   "One media session's legs and figures. Parameter: id");
	if (strcmp(mcfg.dtls_socket, "off")) {
		/* by default in the EAL's runtime directory: one per dataplane (file_prefix) */
		char path[DP_CFG_STR_MAX + 64];
		if (mcfg.dtls_socket[0])
			snprintf(path, sizeof(path), "%s", mcfg.dtls_socket);
		else
			snprintf(path, sizeof(path), "%s/dtls.sock", rte_eal_get_runtime_dir());
		rc = md_chan_init(path, 256 * 1024);
		if (rc < 0)
			return rc;
	}
	media_load_init(mcfg.max_sessions);
	redis_up(0);
	PR_NOTICE("media: anchor on UDP %u-%u, up to %u sessions, group %s, consumer %s",
		  mcfg.port_min, mcfg.port_max, mcfg.max_sessions, mcfg.group, mcfg.consumer);
	if (dp_ha_configured() && !strcmp(mcfg.group, PR_KS_SESSIONS_GROUP))
		PR_WARN("media: [ha] peer configured with the default [media] group %s: if the "
			"peer's dataplane reads the session stream with it too, each gets a share "
			"of the entries; give each appliance its own group",
			mcfg.group);
	return 0;
}

static void media_teardown(void)
{
	if (!slots)
		return;
	while (nlist) /* the [ha] peer's sessions we hold stay its own */
		if (peer_held && sess_is_peers(list[nlist - 1]))
			sess_forget(list[nlist - 1]);
		else
			sess_end(list[nlist - 1]);
	reclaim();
	rte_free(slots);
	slots = NULL;
	free(list);
	list = NULL;
	idx_fini(&sess_ids);
	sby_clear();
	free(sby);
	sby = NULL;
	idx_fini(&sby_ids);
	media_load_stop(redis);
	pr_redis_close(redis);
	redis = NULL;
	md_chan_teardown();
}

struct dp_feature media_feature = {
    .name = "media",
    .ha_change = media_ha_change,
    .ha_own_change = media_ha_own_change,
    .init = media_init,
    .teardown = media_teardown,
    .poll = media_poll,
    .punt = media_punt,
    .udp_input = media_input,
    .udp_input_burst = media_burst,
    .udp_returned = media_returned,
    .l4_csum_preserved = true, /* SRTP authenticates; a leg in clear is verified here */
    .udp4_burst = media_short4,
    .udp6_burst = media_short6,
};
DP_FEATURE_REGISTER(media_feature);
