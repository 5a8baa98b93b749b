/* SPDX-License-Identifier: BSD-3-Clause */
/* The TURN relay as a dataplane feature (dataplane/dp_udp.h):
 *  - workers: ChannelData and Send indications from clients to the listener, datagrams
 *    from peers to relay ports; everything else STUN is punted to the control lcore;
 *  - control lcore: requests (turn_server_request), answers from its own TX queue, timers,
 *    Redis persistence and counters, deletions asked for by poprelayctl;
 *  - telemetry: /poprelay/turn/stats, /poprelay/turn/allocations, /poprelay/turn/delete. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_telemetry.h>

#include "common/log.h"
#include "dataplane/dp.h"
#include "dataplane/dp_config.h"
#include "dataplane/dp_drain.h"
#include "dataplane/dp_ha.h"
#include "dataplane/dp_tunables.h"
#include "dataplane/dp_udp.h"
#include "dataplane/turn/turn_follow.h"
#include "dataplane/turn/turn_server.h"
#include "dataplane/turn/turn_store.h"
#include "dataplane/turn/turn_stream.h"

/* ---- configuration: [turn] ---- */
struct turn_dp_cfg {
	bool enabled;
	uint32_t listen_port;
	uint32_t relay_port_min, relay_port_max;
	char realm[DP_CFG_STR_MAX];
	char software[DP_CFG_STR_MAX];
	uint32_t max_allocations;
	uint32_t max_allocations_per_user;
	uint32_t bandwidth_kbps;
	uint32_t default_lifetime_s, max_lifetime_s;
	uint32_t permission_lifetime_s, channel_lifetime_s, nonce_lifetime_s;
	uint32_t unauth_rate, unauth_burst;
	bool long_term_auth, rest_auth;
	char allowed_peer[DP_CFG_STR_MAX];
	char denied_peer[DP_CFG_STR_MAX];
	char nonce_secret_file[DP_CFG_STR_MAX];
	uint32_t counters_sync_s;
	bool rfc5766_channels;
	char alternate_server[DP_CFG_STR_MAX];
	char relay_address[DP_CFG_STR_MAX];
	char stream_socket[DP_CFG_STR_MAX];
	uint32_t stream_ring_kb;
	char peer_relay_address[DP_CFG_STR_MAX];
	uint32_t peer_relay_port_min, peer_relay_port_max;
};
static struct turn_dp_cfg tcfg;

#define TC(f) offsetof(struct turn_dp_cfg, f)
static const struct dp_cfg_key turn_keys[] = {
    {"enabled", DP_CFG_BOOL, 0, 0, "yes", TC(enabled), 0, "run the TURN relay"},
    {"listen_port", DP_CFG_U32, 1, 65535, "3478", TC(listen_port), 0,
     "UDP port of the TURN/STUN listener on every address of the appliance"},
    {"relay_port_min", DP_CFG_U32, 1024, 65535, "49152", TC(relay_port_min), 0,
     "first UDP port of relayed transport addresses"},
    {"relay_port_max", DP_CFG_U32, 1024, 65535, "65535", TC(relay_port_max), 0,
     "last UDP port of relayed transport addresses"},
    {"realm", DP_CFG_STR, 0, 63, "", TC(realm), 0,
     "REALM of long-term credentials (empty: [global] realm, the one poprelayctl's HA1s use)"},
    {"software", DP_CFG_STR, 0, 31, "poprelay", TC(software), 0,
     "SOFTWARE attribute in authenticated answers (empty: none)"},
    {"max_allocations", DP_CFG_U32, 1, 1000000, "16384", TC(max_allocations), 0,
     "allocations the relay holds at most (memory is reserved at start)"},
    {"max_allocations_per_user", DP_CFG_U32, 0, 1000000, "100", TC(max_allocations_per_user), 0,
     "allocations one user may hold (0: no limit); 486 beyond"},
    {"bandwidth_kbps", DP_CFG_U32, 0, 100000000, "0", TC(bandwidth_kbps), 0,
     "token-bucket cap per allocation, both directions together (0: none)"},
    {"default_lifetime_s", DP_CFG_U32, 60, 3600, "600", TC(default_lifetime_s), 0,
     "allocation lifetime granted by default and at least"},
    {"max_lifetime_s", DP_CFG_U32, 60, 86400, "3600", TC(max_lifetime_s), 0,
     "longest allocation lifetime granted"},
    {"permission_lifetime_s", DP_CFG_U32, 10, 3600, "300", TC(permission_lifetime_s), 0,
     "lifetime of a permission"},
    {"channel_lifetime_s", DP_CFG_U32, 10, 3600, "600", TC(channel_lifetime_s), 0,
     "lifetime of a channel binding"},
    {"nonce_lifetime_s", DP_CFG_U32, 10, 86400, "600", TC(nonce_lifetime_s), 0,
     "validity of a NONCE (438 Stale Nonce after it)"},
    {"unauth_rate", DP_CFG_U32, 0, 1000000, "100", TC(unauth_rate), 0,
     "401/438 challenges per second per source address (0: no limit)"},
    {"unauth_burst", DP_CFG_U32, 1, 1000000, "200", TC(unauth_burst), 0,
     "burst of 401/438 challenges per source address"},
    {"long_term_auth", DP_CFG_BOOL, 0, 0, "yes", TC(long_term_auth), 0,
     "accept long-term credentials of the users in Redis"},
    {"rest_auth", DP_CFG_BOOL, 0, 0, "yes", TC(rest_auth), 0,
     "accept TURN REST API credentials signed with a secret in Redis"},
    {"allowed_peer", DP_CFG_STR, 0, 255, "", TC(allowed_peer), 0,
     "CIDRs peers may be in although the default policy refuses them"},
    {"denied_peer", DP_CFG_STR, 0, 255, "", TC(denied_peer), 0,
     "CIDRs peers may never be in (wins over allowed_peer)"},
    {"nonce_secret_file", DP_CFG_STR, 0, 255, "/var/lib/poprelay/turn-nonce.key",
     TC(nonce_secret_file), 0,
     "file with the NONCE signing key, created when missing (empty: random per start)"},
    {"rfc5766_channels", DP_CFG_BOOL, 0, 0, "yes", TC(rfc5766_channels), 0,
     "also accept channel numbers 0x5000-0x7FFF (RFC 5766; coturn's clients use them)"},
    {"counters_sync_s", DP_CFG_U32, 1, 3600, "2", TC(counters_sync_s), 0,
     "interval of per-allocation counter writes to Redis"},
    {"alternate_server", DP_CFG_STR, 0, 63, "", TC(alternate_server), 0,
     "while drained, new Allocates get 300 Try Alternate to this IPv4[:port] or [IPv6]:port "
     "(default port 3478); empty: 486"},
    {"relay_address", DP_CFG_STR, 0, 127, "", TC(relay_address), 0,
     "relayed transport addresses of new allocations: one IPv4 and/or one IPv6 address of "
     "a [portN] (ipv4, ipv4_extra, ipv6, ipv6_extra), comma-separated; a family left out "
     "takes [port0]'s primary"},
    {"stream_socket", DP_CFG_STR, 0, 107, "", TC(stream_socket), 0,
     "unix socket where poprelay-turnfront (TURN over TCP and TLS) attaches (empty: "
     "/var/run/dpdk/<file_prefix>/turn_front.sock); \"off\": no TCP or TLS clients"},
    {"stream_ring_kb", DP_CFG_U32, 64, 65536, "4096", TC(stream_ring_kb), 0,
     "KiB of each ring between the stream front and a worker (or control); a power of two"},
    {"peer_relay_address", DP_CFG_STR, 0, 127, "", TC(peer_relay_address), 0,
     "the [ha] peer appliance's relayed addresses (its [turn] relay_address): one IPv4 "
     "and/or one IPv6 address of [ha] peer_ipv4/peer_ipv6, comma-separated; empty: no "
     "allocations taken over"},
    {"peer_relay_port_min", DP_CFG_U32, 0, 65535, "0", TC(peer_relay_port_min), 0,
     "first relay port of the peer (its [turn] relay_port_min); apart from ours"},
    {"peer_relay_port_max", DP_CFG_U32, 0, 65535, "0", TC(peer_relay_port_max), 0,
     "last relay port of the peer (its [turn] relay_port_max)"},
};

/* Whether a is one of the addresses a [portN] section gives the appliance. */
static bool cfg_addr_is_ours(const struct dp_ipaddr *a)
{
	for (unsigned int p = 0; p < dp_cfg.nb_ports; p++) {
		const struct dp_port_cfg *pc = &dp_cfg.port[p];
		const struct dp_prefix *pri = a->family == AF_INET ? &pc->ipv4 : &pc->ipv6;
		const struct dp_prefix_list *x =
		    a->family == AF_INET ? &pc->ipv4_extra : &pc->ipv6_extra;

		if (pri->set && dp_ipaddr_eq(&pri->addr, a))
			return true;
		for (unsigned int i = 0; i < x->n; i++)
			if (dp_ipaddr_eq(&x->p[i].addr, a))
				return true;
	}
	return false;
}

/* [turn] relay_address into out[0] (IPv4) and out[1] (IPv6); family 0 where it names none
 * of that family. 0, or -EINVAL with "[turn] relay_address: ..." in err. */
static int parse_relay_list(const char *key, const char *v, struct dp_ipaddr out[2], char *err,
			    size_t errlen);

static int parse_relay_address(const char *v, struct dp_ipaddr out[2], char *err, size_t errlen)
{
	return parse_relay_list("relay_address", v, out, err, errlen);
}

/* [turn] key's list of at most one IPv4 and one IPv6 address: relay_address names ours,
 * peer_relay_address the [ha] peer's. */
static int parse_relay_list(const char *key, const char *v, struct dp_ipaddr out[2], char *err,
			    size_t errlen)
{
	const bool peer = strcmp(key, "peer_relay_address") == 0;
	char buf[DP_CFG_STR_MAX], *tok, *save;

	memset(out, 0, 2 * sizeof(*out));
	snprintf(buf, sizeof(buf), "%s", v);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct dp_ipaddr a = {0};
		char *end;
		int fi;

		while (*tok == ' ' || *tok == '\t')
			tok++;
		end = tok + strlen(tok);
		while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (inet_pton(AF_INET, tok, &a.v4) == 1)
			a.family = AF_INET;
		else if (inet_pton(AF_INET6, tok, a.v6) == 1)
			a.family = AF_INET6;
		else {
			snprintf(err, errlen,
				 "[turn] %s: got \"%s\", expected IPv4 and/or IPv6 "
				 "addresses (no prefix length), comma-separated",
				 key, tok);
			return -EINVAL;
		}
		fi = a.family == AF_INET ? 0 : 1;
		if (out[fi].family) {
			snprintf(err, errlen,
				 "[turn] %s: got two %s addresses in \"%s\", expected "
				 "at most one of each family",
				 key, fi ? "IPv6" : "IPv4", v);
			return -EINVAL;
		}
		if (peer && !dp_ha_cfg_is_peer(&a)) {
			snprintf(err, errlen,
				 "[turn] peer_relay_address: got %s, expected one of [ha] "
				 "peer_ipv4, peer_ipv6",
				 tok);
			return -EINVAL;
		}
		if (!peer && !cfg_addr_is_ours(&a)) {
			snprintf(err, errlen,
				 "[turn] relay_address: got %s, expected one of the addresses of a "
				 "[portN] section (ipv4, ipv4_extra, ipv6, ipv6_extra)",
				 tok);
			return -EINVAL;
		}
		out[fi] = a;
	}
	return 0;
}

/* "a.b.c.d", "a.b.c.d:port", "[v6]:port" or a bare IPv6 address; port 3478 when absent. */
static int parse_alternate(const char *v, struct pr_taddr *t)
{
	char host[64];
	const char *port = NULL;
	unsigned long p = 3478;
	memset(t, 0, sizeof(*t));
	if (!v[0])
		return 0;
	if (v[0] == '[') {
		const char *rb = strchr(v, ']');
		if (!rb || (size_t)(rb - v - 1) >= sizeof(host) || (rb[1] && rb[1] != ':'))
			return -EINVAL;
		memcpy(host, v + 1, (size_t)(rb - v - 1));
		host[rb - v - 1] = '\0';
		port = rb[1] ? rb + 2 : NULL;
	} else {
		const char *c = strchr(v, ':');
		bool v6 = c && strchr(c + 1, ':');
		size_t hl = v6 || !c ? strlen(v) : (size_t)(c - v);
		if (hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, v, hl);
		host[hl] = '\0';
		port = v6 || !c ? NULL : c + 1;
	}
	if (port) {
		char *end;
		p = strtoul(port, &end, 10);
		if (!*port || *end || p < 1 || p > 65535)
			return -EINVAL;
	}
	if (inet_pton(AF_INET, host, t->ip) == 1)
		t->fam = 4;
	else if (inet_pton(AF_INET6, host, t->ip) == 1)
		t->fam = 6;
	else
		return -EINVAL;
	t->port = (uint16_t)p;
	return 0;
}

/* [turn] peer_relay_*: the [ha] peer's relayed addresses and a port range apart from ours
 * (the relay-port map is one per family: a port may name one allocation only), claimed
 * here too so that its datagrams reach us once we hold its addresses. */
static int peer_cfg_check(char *err, size_t errlen)
{
	struct dp_ipaddr peer[2];
	int rc;

	if ((rc = parse_relay_list("peer_relay_address", tcfg.peer_relay_address, peer, err,
				   errlen)) < 0)
		return rc;
	if (!peer[0].family && !peer[1].family) {
		if (tcfg.peer_relay_port_min || tcfg.peer_relay_port_max) {
			snprintf(err, errlen,
				 "[turn] peer_relay_port_min: got %u, expected 0 without "
				 "peer_relay_address",
				 tcfg.peer_relay_port_min);
			return -EINVAL;
		}
		return 0;
	}
	if (tcfg.peer_relay_port_min < 1024 ||
	    tcfg.peer_relay_port_min > tcfg.peer_relay_port_max) {
		snprintf(err, errlen,
			 "[turn] peer_relay_port_min: got %u, expected 1024..peer_relay_port_max "
			 "(%u) with peer_relay_address",
			 tcfg.peer_relay_port_min, tcfg.peer_relay_port_max);
		return -EINVAL;
	}
	return dp_cfg_udp_reserve("[turn] peer_relay_port_min, peer_relay_port_max",
				  tcfg.peer_relay_port_min, tcfg.peer_relay_port_max, err, errlen);
}

/* [turn]'s relations between keys and the ports it will claim (dp_config_load runs it, so
 * --check-config and the start refuse alike). */
static int turn_cfg_check(char *err, size_t errlen)
{
	struct turn_policy pol;
	int rc;

	if (!tcfg.enabled)
		return 0;
	if (tcfg.max_lifetime_s < tcfg.default_lifetime_s) {
		snprintf(err, errlen,
			 "[turn] max_lifetime_s: got %u, expected at least default_lifetime_s (%u)",
			 tcfg.max_lifetime_s, tcfg.default_lifetime_s);
		return -EINVAL;
	}
	if (tcfg.relay_port_min > tcfg.relay_port_max) {
		snprintf(err, errlen,
			 "[turn] relay_port_min: got %u, expected at most relay_port_max (%u)",
			 tcfg.relay_port_min, tcfg.relay_port_max);
		return -EINVAL;
	}
	struct dp_ipaddr relay[2];
	if ((rc = parse_relay_address(tcfg.relay_address, relay, err, errlen)) < 0)
		return rc;
	struct pr_taddr alt;
	if (parse_alternate(tcfg.alternate_server, &alt) < 0) {
		snprintf(err, errlen,
			 "[turn] alternate_server: got \"%s\", expected IPv4[:port] or [IPv6]:port",
			 tcfg.alternate_server);
		return -EINVAL;
	}
	memset(&pol, 0, sizeof(pol));
	if (turn_policy_allow_list(&pol, tcfg.allowed_peer) < 0) {
		snprintf(err, errlen,
			 "[turn] allowed_peer: got \"%s\", expected a list of at most %d CIDRs",
			 tcfg.allowed_peer, TURN_POLICY_MAX_CIDRS);
		return -EINVAL;
	}
	if (turn_policy_deny_list(&pol, tcfg.denied_peer) < 0) {
		snprintf(err, errlen,
			 "[turn] denied_peer: got \"%s\", expected a list of at most %d CIDRs",
			 tcfg.denied_peer, TURN_POLICY_MAX_CIDRS);
		return -EINVAL;
	}
	if (tcfg.stream_ring_kb & (tcfg.stream_ring_kb - 1)) {
		snprintf(err, errlen, "[turn] stream_ring_kb: got %u, expected a power of two",
			 tcfg.stream_ring_kb);
		return -EINVAL;
	}
	if ((rc = dp_cfg_udp_reserve("[turn] listen_port", tcfg.listen_port, tcfg.listen_port, err,
				     errlen)) < 0 ||
	    (rc = dp_cfg_udp_reserve("[turn] relay_port_min, relay_port_max", tcfg.relay_port_min,
				     tcfg.relay_port_max, err, errlen)) < 0)
		return rc;
	return peer_cfg_check(err, errlen);
}

static struct dp_cfg_section turn_section = {.name = "turn",
					     .storage = &tcfg,
					     .keys = turn_keys,
					     .nkeys = RTE_DIM(turn_keys),
					     .check = turn_cfg_check};

RTE_INIT(turn_cfg_register)
{
	dp_cfg_section_register(&turn_section);
}

/* ---- state ---- */
enum { TD_NO_ALLOC = TURN_DROP_MAX, TD_TX, TD_STREAM, TD_MAX };
static const char *const td_names[TD_MAX] = {
    "turn_no_permission", "turn_no_channel", "turn_bandwidth",	 "turn_malformed",
    "turn_no_allocation", "turn_encap",	     "turn_stream_front"};

/* Written by control at init; read-only for workers. */
static struct turn_server *srv;
static struct turn_table *tbl;
static int drop_id[TD_MAX];
static uint64_t us_mul; /* microseconds per tsc cycle, 32.32 fixed point (no division per packet) */
static uint16_t listen_port;

/* Per worker: xorshift state for transaction ids, and what the IPv4 channel fast path
 * relayed and declined (telemetry reads them). Writer: that worker. */
static struct {
	uint64_t rnd;
	uint64_t fast_relayed, fast_declined;
} __rte_cache_aligned wstate[DP_MAX_WORKERS];

/* Control only. */
static struct turn_store *store;
static struct turn_follow *follow; /* [ha] backup: the copy of the peer's allocations */
static struct rte_ring *del_ring;  /* telemetry thread -> control: ids to delete */
static uint64_t last_tick_ms, last_sync_ms;
static uint64_t *synced; /* per slot: packets at the last counter sync */
static bool resync_all;

/* The request being answered (turn_punt): what it wrote. Its answer is held until Redis has
 * its writes (the last one's reply), so that nothing a client was told is lost with the
 * process; and when they fail, an allocation it created is undone and no answer goes out
 * (the client's retransmission then gets 500 while Redis is away). */
static struct {
	bool active, wrote, failed;
	uint64_t created; /* the allocation it created, 0: none */
} req;

/* What waits on the Redis pipeline: an answer for its writes (HELD), or a request for the
 * user's key it needs (PARKED: handed in again once the key came). */
struct held {
	enum { HELD, PARKED } kind;
	struct rte_mbuf *m;
	uint16_t port;
	uint64_t created;      /* HELD: the allocation its request created */
	struct dp_pkt_info pi; /* PARKED */
};

/* Control-side store figures (telemetry). */
static uint64_t store_held, store_failed, store_unqueued, store_parked;

static void turn_punt(struct rte_mbuf *m, const struct dp_pkt_info *pi);

extern struct dp_feature turn_feature;

static void to_taddr(struct pr_taddr *t, const struct dp_ipaddr *a, uint16_t port)
{
	if (a->family == AF_INET)
		pr_taddr_set4(t, a->v4, port);
	else
		pr_taddr_set6(t, a->v6, port);
}

static void to_ipaddr(struct dp_ipaddr *a, const struct pr_taddr *t)
{
	memset(a, 0, sizeof(*a));
	if (t->fam == 4) {
		a->family = AF_INET;
		memcpy(&a->v4, t->ip, 4);
	} else {
		a->family = AF_INET6;
		memcpy(a->v6, t->ip, 16);
	}
}

/* ---- worker ---- */

static void emit(struct dp_worker *w, struct rte_mbuf *m, const struct dp_pkt_info *pi,
		 const struct turn_fwd *f)
{
	struct dp_ipaddr src, dst;
	to_ipaddr(&src, &f->src);
	to_ipaddr(&dst, &f->dst);
	dp_udp_relay(w, m, pi, f->strip, f->keep, f->hdr, f->hdr_len, f->pad, &src, f->src.port,
		     &dst, f->dst.port);
}

/* A peer's datagram for a client of the stream front: its relayed form (f's header, the
 * kept payload, padding) goes on the worker's ring toward the front. */
static void to_front(struct dp_worker *w, struct rte_mbuf *m, const struct dp_pkt_info *pi,
		     const struct turn_fwd *f)
{
	const uint8_t *pl = rte_pktmbuf_mtod_offset(m, const uint8_t *, pi->payload_off);
	if (!ts_send(w->index, &f->dst, &f->src, f->hdr, f->hdr_len, pl + f->strip, f->keep,
		     f->pad)) {
		dp_drop(w, m, (unsigned)drop_id[TD_STREAM]);
		return;
	}
	rte_pktmbuf_free(m);
}

/* The general path over the datagrams idx[0..n) of a burst, in that order. */
static void slow_burst(struct dp_worker *w, struct rte_mbuf **m, struct dp_pkt_info *pi,
		       const uint16_t *idx, unsigned n, uint64_t now_us, uint64_t *rnd)
{
	struct turn_dgram d[TURN_BURST];
	struct turn_fwd f[TURN_BURST];
	struct rte_mbuf *mm[TURN_BURST];
	struct dp_pkt_info *pp[TURN_BURST];

	for (unsigned o = 0; o < n;) {
		unsigned k = 0;
		for (; o < n && k < TURN_BURST; o++) {
			uint16_t base = idx[o];
			struct dp_pkt_info *p = &pi[base];
			const uint8_t *pl =
			    rte_pktmbuf_mtod_offset(m[base], const uint8_t *, p->payload_off);
			bool from_peer = p->dport != listen_port;
			/* A client's STUN is read here or on control: it must be intact. Relayed
			 * bytes keep their checksum through dp_udp_relay instead. */
			if (!from_peer && !(p->payload_len >= 1 && (pl[0] & 0xC0) == 0x40) &&
			    !dp_udp_csum_verify(m[base], p)) {
				dp_drop(w, m[base], DP_DROP_UDP_BAD_CSUM);
				continue;
			}
			to_taddr(&d[k].c.cli, &p->src, p->sport);
			to_taddr(&d[k].c.srv, &p->dst, p->dport);
			d[k].pl = pl;
			d[k].len = p->payload_len;
			d[k].from_peer = from_peer;
			mm[k] = m[base];
			pp[k++] = p;
		}
		turn_relay_burst(srv, d, k, now_us, rnd, f);
		for (unsigned i = 0; i < k; i++) {
			switch (f[i].kind) {
			case TURN_FWD_CLIENT:
				/* a client of the stream front */
				if (f[i].dst.proto != PR_TP_UDP) {
					to_front(w, mm[i], pp[i], &f[i]);
					break;
				}
				/* fall through */
			case TURN_FWD_PEER:
				emit(w, mm[i], pp[i], &f[i]);
				break;
			case TURN_FWD_CONTROL:
				dp_punt(w, mm[i], &turn_feature, pp[i]);
				break;
			default:
				/* A damaged datagram is counted as damaged, whatever else it is. */
				if (!dp_udp_csum_verify(mm[i], pp[i]))
					dp_drop(w, mm[i], DP_DROP_UDP_BAD_CSUM);
				else
					dp_drop(w, mm[i],
						(unsigned)drop_id[f[i].drop == 0xff ? TD_NO_ALLOC
										    : f[i].drop]);
			}
		}
	}
}

/* Microseconds now, from the TSC (no division per packet). */
static inline uint64_t now_us(void)
{
	return (uint64_t)(((unsigned __int128)rte_get_tsc_cycles() * us_mul) >> 32);
}

/* The short way's datagrams of one RX burst (dp_udp.h 7.), IPv4 (v6 false) or IPv6: channel
 * traffic, the bulk of it, is decided and rewritten in one pass (turn_relay_v4_burst,
 * turn_relay_v6_burst) and leaves through the next-hop cache (dp_udp_tx4_burst,
 * dp_udp_tx6_burst). Clients' datagrams go first, then peers', each in arrival order (they
 * are different flows, so nothing is reordered within one): a burst that alternates
 * directions at random would make every branch on the direction a misprediction. Whatever
 * is not ChannelData from a client, has no room for the 4 bytes a peer's datagram grows by,
 * has no UDP checksum to update, or is declined by the fast path goes back to the worker,
 * in arrival order, for the full parse and turn_udp_burst. Inlined into each family's hook
 * with v6 a constant. */
static inline __attribute__((always_inline)) uint16_t
short_burst(struct dp_worker *w, struct dp_udp4 *d, uint16_t n, const bool v6)
{
	const unsigned iphl = v6 ? 40 : 20;
	/* clients' candidates, then peers' (each in arrival order), so that the fast path's
	 * branches on the direction run in two predictable stretches */
	struct turn_fast v[DP_MAX_BURST], pv[DP_MAX_BURST];
	uint16_t idx[DP_MAX_BURST], pidx[DP_MAX_BURST];
	uint8_t taken[DP_MAX_BURST];
	unsigned nv = 0, np = 0, no = 0;

	memset(taken, 0, n);
	for (uint16_t i = 0; i < n; i++) {
		const uint8_t *udp = d[i].ip + iphl;
		if ((udp[6] | udp[7]) == 0)
			continue;
		if (d[i].dport != listen_port) {
			if (rte_pktmbuf_headroom(d[i].m) >= 4) {
				pv[np] = (struct turn_fast){
				    .ip = d[i].ip, .udp_len = d[i].udp_len, .from_peer = 1};
				pidx[np++] = i;
			}
		} else if (d[i].udp_len >= 12 && (udp[8] & 0xC0) == 0x40) {
			v[nv] = (struct turn_fast){.ip = d[i].ip, .udp_len = d[i].udp_len};
			idx[nv++] = i;
		}
	}
	memcpy(v + nv, pv, np * sizeof(pv[0]));
	memcpy(idx + nv, pidx, np * sizeof(pidx[0]));
	nv += np;
	const unsigned relayed = !nv  ? 0
				 : v6 ? turn_relay_v6_burst(srv, v, nv, now_us())
				      : turn_relay_v4_burst(srv, v, nv, now_us());
	/* one writer: plain stores telemetry reads whole */
	__atomic_store_n(&wstate[w->index].fast_relayed, wstate[w->index].fast_relayed + relayed,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&wstate[w->index].fast_declined,
			 wstate[w->index].fast_declined + (n - relayed), __ATOMIC_RELAXED);

	/* the relayed ones leave together, their next hops looked up once per run */
	struct rte_mbuf *out[DP_MAX_BURST];
	uint8_t *ip[DP_MAX_BURST];
	uint16_t len[DP_MAX_BURST], port[DP_MAX_BURST];
	uint32_t dst[DP_MAX_BURST];
	for (unsigned k = 0; k < nv; k++) {
		if (!v[k].handled)
			continue;
		taken[idx[k]] = 1;
		out[no] = d[idx[k]].m;
		ip[no] = v[k].ip + v[k].out_off;
		len[no] = v[k].out_len;
		port[no] = d[idx[k]].port;
		dst[no++] = v[k].out_dst;
	}
	if (no && v6)
		dp_udp_tx6_burst(w, out, ip, len, port, no);
	else if (no)
		dp_udp_tx4_burst(w, out, ip, len, port, dst, no);
	if (no == n)
		return 0;
	uint16_t back = 0;
	for (uint16_t i = 0; i < n; i++)
		if (!taken[i])
			d[back++] = d[i];
	return back;
}

static uint16_t turn_udp4_burst(struct dp_worker *w, struct dp_udp4 *d, uint16_t n)
{
	return short_burst(w, d, n, false);
}

static uint16_t turn_udp6_burst(struct dp_worker *w, struct dp_udp4 *d, uint16_t n)
{
	return short_burst(w, d, n, true);
}

/* One RX burst's datagrams that took the full parse: clients' first, then peers', each in
 * arrival order (as in turn_udp4_burst), decided together by turn_relay_burst (which
 * overlaps their table lookups), then relayed in place by dp_udp_relay, punted or dropped one
 * by one. */
static void turn_udp_burst(struct dp_worker *w, struct rte_mbuf **m, struct dp_pkt_info *pi,
			   uint16_t n)
{
	uint16_t idx[DP_MAX_BURST], peers[DP_MAX_BURST];
	unsigned nc = 0, np = 0;

	for (uint16_t i = 0; i < n; i++) {
		if (pi[i].dport != listen_port)
			peers[np++] = i;
		else
			idx[nc++] = i;
	}
	memcpy(idx + nc, peers, np * sizeof(peers[0]));
	slow_burst(w, m, pi, idx, nc + np, now_us(), &wstate[w->index].rnd);
}

static void turn_udp_input(struct dp_worker *w, struct rte_mbuf *m, struct dp_pkt_info *pi)
{
	turn_udp_burst(w, &m, pi, 1);
}

/* The port index that holds each relayed address (0 IPv4, 1 IPv6): where a stream client's
 * datagram to a peer leaves (a port's datagram leaves where it came in). */
static uint16_t relay_port_idx[2];

/* What the stream front handed worker w: up to a burst of messages from TCP and TLS clients,
 * decided together as datagrams from their 5-tuples. */
static unsigned turn_worker_poll(struct dp_worker *w)
{
	static __thread uint8_t buf[TURN_BURST][PR_FRING_MAX_MSG];
	struct pr_frec h[TURN_BURST];
	struct turn_dgram d[TURN_BURST];
	struct turn_fwd f[TURN_BURST];
	struct dp_pkt_info pi;
	unsigned k = 0, n = 0;

	/* each record may punt one mbuf to control (a request, a closed connection): with
	 * less room than a burst in the punt ring, the records wait in the front's ring (a
	 * burst of closes overflowed the punt ring and left allocations behind) */
	if (!ts_attached() || rte_ring_free_count(w->punt) < TURN_BURST)
		return 0;
	while (n < TURN_BURST && ts_recv(w->index, &h[k], buf[k]) == 1) {
		n++;
		ts_frec_taddrs(&h[k], &d[k].c.cli, &d[k].c.srv);
		if (h[k].kind == PR_FREC_GONE) {
			/* the client closed: control deletes its allocation (a punt without
			 * payload) */
			struct rte_mbuf *m = rte_pktmbuf_alloc(dp_rt.pool);
			if (!m)
				continue;
			memset(&pi, 0, sizeof(pi));
			to_ipaddr(&pi.src, &d[k].c.cli);
			to_ipaddr(&pi.dst, &d[k].c.srv);
			pi.sport = d[k].c.cli.port;
			pi.dport = d[k].c.srv.port;
			pi.proto = IPPROTO_UDP;
			pi.xport = h[k].proto;
			dp_punt(w, m, &turn_feature, &pi);
			continue;
		}
		d[k].pl = buf[k];
		d[k].len = h[k].len;
		d[k].from_peer = 0;
		k++;
	}
	if (!k)
		return n;
	turn_relay_burst(srv, d, k, now_us(), &wstate[w->index].rnd, f);
	for (unsigned i = 0; i < k; i++) {
		struct rte_mbuf *m;
		struct dp_ipaddr src, dst;
		uint8_t *p;
		switch (f[i].kind) {
		case TURN_FWD_CLIENT: /* (an answer the relay gives itself) */
			ts_send(w->index, &f[i].dst, &f[i].src, f[i].hdr, f[i].hdr_len,
				d[i].pl + f[i].strip, f[i].keep, f[i].pad);
			break;
		case TURN_FWD_PEER:
			m = rte_pktmbuf_alloc(dp_rt.pool);
			if (!m)
				break;
			p = (uint8_t *)rte_pktmbuf_append(
			    m, (uint16_t)(f[i].hdr_len + f[i].keep + f[i].pad));
			if (!p) {
				dp_drop(w, m, (unsigned)drop_id[TD_TX]);
				break;
			}
			memcpy(p, f[i].hdr, f[i].hdr_len);
			memcpy(p + f[i].hdr_len, d[i].pl + f[i].strip, f[i].keep);
			memset(p + f[i].hdr_len + f[i].keep, 0, f[i].pad);
			to_ipaddr(&src, &f[i].src);
			to_ipaddr(&dst, &f[i].dst);
			if (dp_udp_encap(m, &src, f[i].src.port, &dst, f[i].dst.port) < 0) {
				dp_drop(w, m, (unsigned)drop_id[TD_TX]);
				break;
			}
			dp_udp_tx(w, m, relay_port_idx[f[i].src.fam == 6]);
			break;
		case TURN_FWD_CONTROL:
			m = rte_pktmbuf_alloc(dp_rt.pool);
			if (!m)
				break;
			p = (uint8_t *)rte_pktmbuf_append(m, d[i].len);
			if (!p) {
				rte_pktmbuf_free(m);
				break;
			}
			memcpy(p, d[i].pl, d[i].len);
			memset(&pi, 0, sizeof(pi));
			to_ipaddr(&pi.src, &d[i].c.cli);
			to_ipaddr(&pi.dst, &d[i].c.srv);
			pi.sport = d[i].c.cli.port;
			pi.dport = d[i].c.srv.port;
			pi.payload_len = d[i].len;
			pi.proto = IPPROTO_UDP;
			pi.xport = d[i].c.cli.proto;
			dp_punt(w, m, &turn_feature, &pi);
			break;
		default: /* counted by reason in /poprelay/drops, as a port's datagram is */
			w->stats->drops[drop_id[f[i].drop == 0xff ? TD_NO_ALLOC : f[i].drop]]++;
		}
	}
	return n;
}

/* ---- control ---- */

static void on_change(void *arg, const struct turn_alloc *a, enum turn_event ev)
{
	(void)arg;
	char id[17];
	turn_id_hex(a->id, id);
	if (ev == TURN_EV_CREATED)
		PR_INFO("turn: allocation %s for %s created", id, a->username);
	else if (ev == TURN_EV_DELETED)
		PR_INFO("turn: allocation %s deleted", id);
	if (!turn_store_up(store))
		return;
	int rc = ev == TURN_EV_DELETED ? turn_store_delete(store, a->id, NULL)
				       : turn_store_save(store, srv, a, NULL);
	if (rc < 0) {
		store_unqueued++;
		resync_all = true; /* written whole once the pipeline takes writes again */
	}
	if (!req.active)
		return;
	if (rc < 0)
		req.failed = true;
	else
		req.wrote = true;
	if (ev == TURN_EV_CREATED)
		req.created = a->id;
}

/* A stream client's answer (m holds it bare) to the front. */
static void front_answer(struct rte_mbuf *m, const struct dp_pkt_info *pi)
{
	struct pr_taddr cli, srvaddr;
	to_taddr(&cli, &pi->src, pi->sport);
	to_taddr(&srvaddr, &pi->dst, pi->dport);
	cli.proto = pi->xport;
	ts_send(ts_ctl_ring(), &cli, &srvaddr, rte_pktmbuf_mtod(m, const uint8_t *),
		rte_pktmbuf_data_len(m), NULL, 0, 0);
	rte_pktmbuf_free(m);
}

/* A stream client closed its connection: its allocation ends (as coturn ends a TCP
 * client's session). A front that dies closes nothing: its clients' allocations live on. */
static void stream_gone(const struct turn_ctx *c)
{
	struct turn_5tuple ft;
	uint64_t w[5];
	turn_5tuple_set16w(&ft, w, c->cli.ip, c->cli.port, c->srv.ip, c->srv.port, c->cli.fam,
			   c->cli.proto);
	struct turn_alloc *a = turn_lookup_5tuple(tbl, &ft);
	if (a)
		turn_server_delete(srv, a->id);
}

/* A held answer's writes completed: out it goes, or (they failed) the allocation the request
 * created is undone and the answer dropped. */
static void on_written(void *arg, void *cookie, int rc)
{
	struct held *h = cookie;
	(void)arg;
	if (h->kind == PARKED) {
		if (rc == 0)
			turn_punt(h->m, &h->pi); /* the user's key is there now */
		else
			rte_pktmbuf_free(h->m); /* the retransmission meets a 500 or the key */
		free(h);
		return;
	}
	if (rc == 0 && h->pi.xport) {
		front_answer(h->m, &h->pi);
	} else if (rc == 0) {
		dp_ctl_udp_tx(h->m, h->port);
	} else if (rc == -ECANCELED) { /* the store closes: shutdown */
		rte_pktmbuf_free(h->m);
	} else {
		store_failed++;
		rte_pktmbuf_free(h->m);
		if (h->created)
			turn_server_delete(srv, h->created);
	}
	free(h);
}

static void set_now(void)
{
	turn_server_set_now(srv, (uint32_t)time(NULL));
}

static void turn_punt(struct rte_mbuf *m, const struct dp_pkt_info *pi)
{
	uint8_t out[1500];
	struct turn_ctx c;
	const uint8_t *pl = rte_pktmbuf_mtod_offset(m, const uint8_t *, pi->payload_off);
	set_now();
	to_taddr(&c.cli, &pi->src, pi->sport);
	to_taddr(&c.srv, &pi->dst, pi->dport);
	c.cli.proto = pi->xport;
	if (pi->xport && pi->payload_len == 0) { /* a stream client closed its connection */
		stream_gone(&c);
		rte_pktmbuf_free(m);
		return;
	}
	turn_server_set_store_down(srv, !turn_store_up(store));
	req.active = true;
	req.wrote = req.failed = false;
	req.created = 0;
	int n = turn_server_request(srv, &c, pl, pi->payload_len, out, sizeof(out));
	req.active = false;
	if (n == -EINPROGRESS) { /* the user's key is being read: back here when it is in */
		struct held *h = malloc(sizeof(*h));
		if (h) {
			*h = (struct held){.kind = PARKED, .m = m, .pi = *pi};
			if (turn_store_wait_last(store, h) == 0) {
				store_parked++;
				return;
			}
			free(h);
		}
		rte_pktmbuf_free(m);
		return;
	}
	if (req.failed) { /* a write it needed could not even be queued */
		store_failed++;
		if (req.created)
			turn_server_delete(srv, req.created);
		n = 0;
	}
	if (n <= 0) {
		rte_pktmbuf_free(m);
		return;
	}
	if (pi->xport && !req.wrote) { /* to the stream front, at once */
		ts_send(ts_ctl_ring(), &c.cli, &c.srv, out, (uint16_t)n, NULL, 0, 0);
		rte_pktmbuf_free(m);
		return;
	}
	rte_pktmbuf_reset(m);
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)n);
	if (!p) {
		rte_pktmbuf_free(m);
		return;
	}
	memcpy(p, out, (size_t)n);
	/* (a stream client's answer stays bare: the front frames it) */
	if (!pi->xport && dp_udp_encap(m, &pi->dst, pi->dport, &pi->src, pi->sport) < 0) {
		rte_pktmbuf_free(m);
		return;
	}
	if (req.wrote) {
		struct held *h = malloc(sizeof(*h));
		if (h) {
			*h = (struct held){.kind = HELD,
					   .m = m,
					   .port = pi->port,
					   .created = req.created,
					   .pi = *pi};
			/* (with [redis] wait_replicas: once the replicas have the writes too) */
			if (turn_store_wait_durable(store, h) == 0) {
				store_held++;
				return; /* on_written sends it */
			}
			free(h);
		}
	}
	dp_ctl_udp_tx(m, pi->port);
}

/* The periodic write of counters (only allocations whose packets moved), or of everything
 * after Redis came back (resync_all): a pass over the table, a step at a time, as far as the
 * write pipeline has room (it never waits; requests' writes keep their share). */
#define SYNC_HEADROOM 256
static uint32_t sync_idx;
static bool sync_on, sync_full;
static bool own_fenced; /* [ha]: our own addresses are held by the peer (control) */

static void sync_step(void)
{
	struct turn_alloc *a = NULL;

	while (turn_store_up(store) && turn_store_room(store) > SYNC_HEADROOM &&
	       (a = turn_alloc_next(tbl, &sync_idx))) {
		uint64_t pk = __atomic_load_n(&a->st.pkts_c2p, __ATOMIC_RELAXED) +
			      __atomic_load_n(&a->st.pkts_p2c, __ATOMIC_RELAXED);
		for (int i = 0; i < TURN_DROP_MAX; i++)
			pk += __atomic_load_n(&a->drops[i], __ATOMIC_RELAXED);
		if (sync_full)
			turn_store_save(store, srv, a, NULL);
		else if (pk != synced[sync_idx - 1])
			turn_store_counters(store, a);
		synced[sync_idx - 1] = pk;
	}
	if (a || !turn_store_up(store))
		return; /* on at the next poll (or the pass is redone once Redis is back) */
	/* Fenced ([ha]): our allocations live in the peer's table, not ours: none pruned. */
	if (sync_full && !own_fenced) {
		int n = turn_store_prune(store, srv);
		if (n > 0)
			PR_NOTICE("turn: %d allocations that ended while redis was away removed",
				  n);
	}
	sync_on = false;
}

static void sync_start(void)
{
	sync_idx = 0;
	sync_full = resync_all;
	resync_all = false;
	sync_on = true;
}

/* The drain (dp_drain.h): new Allocates refused while on; at its deadline, what remains is
 * deleted as an expiry deletes it. */
static void drain_tick(void)
{
	bool on = dp_draining();
	int64_t dl = dp_drain_deadline_ms();
	struct timespec ts;

	if (!on || !dl || !turn_table_count(tbl))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	if ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 < dl)
		return;
	unsigned n = turn_server_expire_all(srv);
	PR_NOTICE("turn: drain deadline passed: %u allocations deleted", n);
}

static unsigned turn_poll(uint64_t now_ms)
{
	void *obj;
	if (!srv) /* [turn] enabled = no: init created nothing */
		return 0;
	set_now();
	ts_ctl_poll(now_ms);
	/* at once, as the telemetry's "draining" says: an undrain serves the next Allocate */
	turn_server_set_draining(srv, dp_draining());
	while (rte_ring_dequeue(del_ring, &obj) == 0) {
		uint64_t id = (uint64_t)(uintptr_t)obj;
		char hex[17];
		turn_id_hex(id, hex);
		if (turn_server_delete(srv, id) == 0)
			PR_NOTICE("turn: allocation %s deleted by poprelayctl", hex);
	}
	if (now_ms - last_tick_ms >= 1000) {
		last_tick_ms = now_ms;
		drain_tick();
		turn_server_tick(srv);
		if (turn_store_retry(store)) {
			PR_NOTICE("turn: redis back: rewriting every allocation");
			resync_all = true;
		}
	}
	if (!sync_on &&
	    (resync_all || now_ms - last_sync_ms >= (uint64_t)tcfg.counters_sync_s * 1000)) {
		last_sync_ms = now_ms;
		sync_start();
	}
	if (sync_on)
		sync_step();
	/* what this iteration queued goes out (after the writes, one WAIT for the answers that
	 * wait for the replicas); the replies that came complete their writes */
	turn_store_flush_waits(store);
	turn_follow_poll(follow, now_ms);
	return turn_store_poll(store);
}

/* The store's pipeline (the follower's replies wait for the next poll: reads off the
 * requests' path, at most the control lcore's idle sleep late) */
static int turn_wait_fd(void)
{
	return turn_store_fd(store);
}

/* RCU over the dataplane's QSBR variable: a slot is reused after every worker reported a
 * quiescent state since it was unpublished. */
static uint64_t rcu_start(void *arg)
{
	return rte_rcu_qsbr_start((struct rte_rcu_qsbr *)arg);
}

static int rcu_check(void *arg, uint64_t token)
{
	return rte_rcu_qsbr_check((struct rte_rcu_qsbr *)arg, token, false);
}

static void *zalloc(size_t n)
{
	return rte_zmalloc("turn", n, RTE_CACHE_LINE_SIZE);
}

static int load_nonce_secret(uint8_t key[32])
{
	const char *path = tcfg.nonce_secret_file;
	if (path[0]) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t n = read(fd, key, 32);
			close(fd);
			if (n == 32)
				return 0;
			PR_WARN("turn: %s is not 32 bytes: making a new key", path);
		}
	}
	if (getrandom(key, 32, 0) != 32)
		return -EIO;
	if (path[0]) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, key, 32) != 32)
			PR_WARN("turn: cannot write %s (%s): nonces will not survive a restart",
				path, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	return 0;
}

static int tel_stats(const char *cmd, const char *params, struct rte_tel_data *d);
static int tel_allocs(const char *cmd, const char *params, struct rte_tel_data *d);
static int tel_delete(const char *cmd, const char *params, struct rte_tel_data *d);

/* turn.* runtime tunables: the server's limits, from the control lcore. arg: which. */
enum { TT_DEFAULT_LIFE, TT_MAX_LIFE, TT_NONCE_LIFE, TT_PER_USER, TT_BW_KBPS };

static int64_t tun_get(const struct dp_tunable *t)
{
	const struct turn_cfg *c = turn_server_cfg(srv);

	switch (t->arg) {
	case TT_DEFAULT_LIFE:
		return c->lifetime_default;
	case TT_MAX_LIFE:
		return c->lifetime_max;
	case TT_NONCE_LIFE:
		return c->nonce_lifetime;
	case TT_PER_USER:
		return c->max_allocs_per_user;
	default:
		return (int64_t)c->bw_bytes_per_s * 8 / 1000;
	}
}

static int tun_set(const struct dp_tunable *t, int64_t v)
{
	const struct turn_cfg *c = turn_server_cfg(srv);
	struct turn_limits l = {c->lifetime_default, c->lifetime_max, c->nonce_lifetime,
				c->max_allocs_per_user, c->bw_bytes_per_s};

	switch (t->arg) {
	case TT_DEFAULT_LIFE:
		l.lifetime_default = (uint32_t)v;
		break;
	case TT_MAX_LIFE:
		l.lifetime_max = (uint32_t)v;
		break;
	case TT_NONCE_LIFE:
		l.nonce_lifetime = (uint32_t)v;
		break;
	case TT_PER_USER:
		l.max_allocs_per_user = (uint32_t)v;
		break;
	default:
		l.bw_bytes_per_s = (uint32_t)((uint64_t)v * 1000 / 8);
	}
	return turn_server_set_limits(srv, &l);
}

static struct dp_tunable tunables[] = {
    {"turn.default_lifetime_s", tun_get, tun_set, TT_DEFAULT_LIFE, 0, 0, NULL},
    {"turn.max_lifetime_s", tun_get, tun_set, TT_MAX_LIFE, 0, 0, NULL},
    {"turn.nonce_lifetime_s", tun_get, tun_set, TT_NONCE_LIFE, 0, 0, NULL},
    {"turn.max_allocs_per_user", tun_get, tun_set, TT_PER_USER, 0, 0, NULL},
    {"turn.bw_kbps", tun_get, tun_set, TT_BW_KBPS, 0, 0, NULL},
};

static int turn_init(void)
{
	struct turn_cfg cfg;
	int rc;
	if (!tcfg.enabled) {
		PR_NOTICE("turn: disabled in the configuration");
		return 0;
	}
	/* turn_cfg_check refused bad relations between keys with the configuration. */
	turn_cfg_defaults(&cfg);
	cfg.shared_p2c_counters = dp_rt.nb_workers > 1;
	memset(cfg.realm, 0, sizeof(cfg.realm));
	/* lengths were range-checked by the config parser (63 and 31); one realm for the
	 * whole appliance unless [turn] overrides it */
	const char *realm = tcfg.realm[0] ? tcfg.realm : dp_cfg.realm;
	memcpy(cfg.realm, realm, strnlen(realm, sizeof(cfg.realm) - 1));
	memset(cfg.software, 0, sizeof(cfg.software));
	memcpy(cfg.software, tcfg.software, strnlen(tcfg.software, sizeof(cfg.software) - 1));
	cfg.lifetime_default = tcfg.default_lifetime_s;
	cfg.lifetime_max = tcfg.max_lifetime_s;
	cfg.perm_lifetime = tcfg.permission_lifetime_s;
	cfg.chan_lifetime = tcfg.channel_lifetime_s;
	cfg.nonce_lifetime = tcfg.nonce_lifetime_s;
	cfg.max_allocs_per_user = tcfg.max_allocations_per_user;
	cfg.bw_bytes_per_s = (uint32_t)((uint64_t)tcfg.bandwidth_kbps * 1000 / 8);
	cfg.unauth_rate = tcfg.unauth_rate;
	cfg.unauth_burst = tcfg.unauth_burst;
	cfg.lt_cred = tcfg.long_term_auth;
	cfg.chan_max = tcfg.rfc5766_channels ? TURN_CHAN_MAX_RFC5766 : TURN_CHAN_MAX;
	cfg.rest_cred = tcfg.rest_auth;
	if ((rc = turn_policy_allow_list(&cfg.policy, tcfg.allowed_peer)) < 0 ||
	    (rc = turn_policy_deny_list(&cfg.policy, tcfg.denied_peer)) < 0) {
		PR_ERR("turn: allowed_peer/denied_peer: not a list of CIDRs (at most %d each)",
		       TURN_POLICY_MAX_CIDRS);
		return rc;
	}
	/* Relayed addresses: [turn] relay_address (judged by turn_cfg_check), else port0's
	 * primary of the family. The listener answers on every address. */
	struct dp_ipaddr chosen[2];
	if ((rc = parse_relay_address(tcfg.relay_address, chosen, NULL, 0)) < 0)
		return rc;
	const struct dp_ipaddr *a4 = chosen[0].family ? &chosen[0] : dp_port_addr(0, AF_INET),
			       *a6 = chosen[1].family ? &chosen[1] : dp_port_addr(0, AF_INET6);
	if (a4 && a4->family == AF_INET)
		to_taddr(&cfg.relay[0], a4, 0);
	if (a6 && a6->family == AF_INET6)
		to_taddr(&cfg.relay[1], a6, 0);
	parse_alternate(tcfg.alternate_server, &cfg.alternate); /* turn_cfg_check judged it */
	struct dp_ipaddr peer[2];
	if ((rc = parse_relay_list("peer_relay_address", tcfg.peer_relay_address, peer, NULL, 0)) <
	    0)
		return rc;
	for (int fi = 0; fi < 2; fi++)
		if (peer[fi].family)
			to_taddr(&cfg.peer_relay[fi], &peer[fi], 0);
	if (peer[0].family || peer[1].family) {
		cfg.peer_port_min = (uint16_t)tcfg.peer_relay_port_min;
		cfg.peer_port_max = (uint16_t)tcfg.peer_relay_port_max;
	}
	if ((rc = load_nonce_secret(cfg.nonce_secret)) < 0)
		return rc;

	tbl = turn_table_create(tcfg.max_allocations, (uint16_t)tcfg.relay_port_min,
				(uint16_t)tcfg.relay_port_max, zalloc, rte_free);
	if (!tbl)
		return -ENOMEM;
	struct turn_rcu_ops rcu = {rcu_start, rcu_check, dp_rt.rcu};
	turn_table_set_rcu(tbl, &rcu);
	store = turn_store_new(dp_cfg.redis.socket, dp_cfg.redis.user, dp_cfg.redis.password_file);
	turn_store_set_wait(store, dp_cfg.redis.wait_replicas, dp_cfg.redis.wait_timeout_ms);
	/* [ha]: a peer may follow ours. Capped at 4 changes per allocation we may hold (and
	 * 10,000 at least), so that a backup a few reads behind never finds it trimmed. */
	if (dp_ha_configured())
		turn_store_set_changes(store, RTE_MAX(4 * tcfg.max_allocations, 10000u));
	struct turn_cred_ops cred = {turn_store_user_key, turn_store_rest_secrets, store};
	turn_store_on_done(store, on_written, NULL);
	struct turn_hooks hooks = {on_change, NULL};
	srv = turn_server_create(&cfg, tbl, &cred, &hooks);
	if (srv && cfg.peer_port_min &&
	    !(follow = turn_follow_new(srv, dp_cfg.redis.socket, dp_cfg.redis.user,
				       dp_cfg.redis.password_file, tcfg.max_allocations)))
		return -ENOMEM;
	memset(&cfg, 0, sizeof(cfg));
	for (unsigned i = 0; srv && i < RTE_DIM(tunables); i++)
		dp_tunable_register(&tunables[i]);
	synced = calloc(tcfg.max_allocations, sizeof(*synced));
	del_ring = rte_ring_create("turn_del", 256, rte_socket_id(), RING_F_SC_DEQ);
	if (!srv || !synced || !del_ring)
		return -ENOMEM;
	set_now();
	us_mul = (uint64_t)((1000000ull << 32) / rte_get_tsc_hz());
	listen_port = (uint16_t)tcfg.listen_port;
	for (int i = 0; i < TD_MAX; i++) {
		drop_id[i] = dp_drop_reason_register(td_names[i]);
		if (drop_id[i] < 0)
			return drop_id[i];
	}
	for (unsigned i = 0; i < DP_MAX_WORKERS; i++)
		wstate[i].rnd = rte_rand() | 1;
	if ((rc = dp_udp_claim(&turn_feature, listen_port, listen_port)) < 0 ||
	    (rc = dp_udp_claim(&turn_feature, (uint16_t)tcfg.relay_port_min,
			       (uint16_t)tcfg.relay_port_max)) < 0 ||
	    (tcfg.peer_relay_port_min &&
	     (rc = dp_udp_claim(&turn_feature, (uint16_t)tcfg.peer_relay_port_min,
				(uint16_t)tcfg.peer_relay_port_max)) < 0)) {
		PR_ERR("turn: UDP ports taken by another feature");
		return rc;
	}
	for (int fi = 0; fi < 2; fi++) {
		const struct dp_ipaddr *ra = fi ? a6 : a4;
		for (uint16_t p = 0;
		     ra && ra->family == (fi ? AF_INET6 : AF_INET) && p < dp_rt.nb_ports; p++)
			if (dp_addr_is_ours(&dp_rt.ports[p], ra)) {
				relay_port_idx[fi] = p;
				break;
			}
	}
	if (strcmp(tcfg.stream_socket, "off") != 0) {
		char path[DP_CFG_STR_MAX + 64];
		if (tcfg.stream_socket[0])
			snprintf(path, sizeof(path), "%s", tcfg.stream_socket);
		else
			snprintf(path, sizeof(path), "%s/turn_front.sock",
				 rte_eal_get_runtime_dir());
		if ((rc = ts_init(path, dp_rt.nb_workers, tcfg.stream_ring_kb * 1024)) < 0)
			return rc;
	}
	rc = turn_store_restore_all(store, srv, 0);
	uint64_t orphans = turn_server_stats(srv)->restore_orphaned;
	if (orphans)
		PR_WARN("turn: %d allocations restored, %" PRIu64
			" dropped: relayed address no longer ours",
			rc > 0 ? rc : 0, orphans);
	else if (rc > 0)
		PR_NOTICE("turn: %d allocations restored from redis", rc);
	rte_telemetry_register_cmd("/poprelay/turn/stats", tel_stats,
				   "TURN relay totals. No parameters");
	rte_telemetry_register_cmd("/poprelay/turn/allocations", tel_allocs,
				   "TURN allocations with counters. Parameter: id (optional)");
	rte_telemetry_register_cmd("/poprelay/turn/delete", tel_delete,
				   "Delete a TURN allocation. Parameter: id");
	char r4[INET6_ADDRSTRLEN] = "none", r6[INET6_ADDRSTRLEN] = "none";
	if (a4 && a4->family == AF_INET)
		dp_ipaddr_str(a4, r4, sizeof(r4));
	if (a6 && a6->family == AF_INET6)
		dp_ipaddr_str(a6, r6, sizeof(r6));
	PR_INFO("turn: listening on port %u (every address), relaying on %s and %s ports %u-%u, "
		"%u allocations max (%zu bytes)",
		listen_port, r4, r6, tcfg.relay_port_min, tcfg.relay_port_max, tcfg.max_allocations,
		turn_table_bytes(tbl));
	return 0;
}

static void turn_teardown(void)
{
	if (store && srv) { /* the last counters, and every write in flight, for up to 1 s */
		uint64_t until = rte_get_tsc_cycles() + rte_get_tsc_hz();
		sync_start();
		while (rte_get_tsc_cycles() < until) {
			if (sync_on)
				sync_step();
			if (!turn_store_poll(store) && !sync_on)
				break;
			rte_delay_us_sleep(100);
		}
	}
	ts_teardown();
	turn_follow_free(follow);
	follow = NULL;
	turn_server_destroy(srv);
	turn_table_destroy(tbl);
	turn_store_free(store);
	rte_ring_free(del_ring);
	free(synced);
	srv = NULL;
	tbl = NULL;
	store = NULL;
	del_ring = NULL;
	synced = NULL;
}

/* [ha] takeover: the peer's allocations as a restart restores ours (the same relayed
 * address, permissions, channels, lifetimes), from the copy this backup keeps of them
 * (turn_follow.h: no Redis read); when that copy is not known to be whole (Redis was away,
 * the full load had not ended), from Redis as a restart reads them, synchronously on the
 * blocking connection. Release: forgotten, their records left to the peer, and followed
 * again. */
static int turn_ha_change(bool held)
{
	if (!srv || !turn_server_cfg(srv)->peer_port_min)
		return 0;
	set_now();
	if (!held) {
		unsigned n = turn_server_forget_peer(srv);
		PR_NOTICE("turn: %u allocations of the peer given back", n);
		turn_follow_resume(follow);
		return (int)n;
	}
	const char *why;
	int rc = turn_follow_take(follow, &why);
	if (rc >= 0) {
		PR_NOTICE("turn: %d allocations of the peer taken over from the copy (no redis "
			  "read)",
			  rc);
		return rc;
	}
	PR_WARN("turn: the copy of the peer's allocations is not known to be whole (%s): "
		"reading them from redis",
		why);
	rc = turn_store_restore_all(store, srv, 1);
	if (rc >= 0)
		PR_NOTICE("turn: %d allocations of the peer taken over from redis", rc);
	return rc;
}

/* [ha] fencing: our own addresses are held by the peer (serving false): our allocations
 * are forgotten, their records left to the peer, which writes them meanwhile; a failback
 * (serving true) restores them from Redis as a restart does, with what the peer wrote. */
static int turn_ha_own_change(bool serving)
{
	if (!srv)
		return 0;
	set_now();
	own_fenced = !serving;
	if (!serving) {
		unsigned n = turn_server_forget_own(srv);
		PR_NOTICE("turn: %u allocations of ours left to the peer that holds our address",
			  n);
		return (int)n;
	}
	int rc = turn_store_restore_all(store, srv, 0);
	if (rc >= 0)
		PR_NOTICE("turn: %d allocations of ours restored from redis at the failback", rc);
	return rc;
}

struct dp_feature turn_feature = {
    .name = "turn",
    .ha_change = turn_ha_change,
    .ha_own_change = turn_ha_own_change,
    .init = turn_init,
    .teardown = turn_teardown,
    .worker_poll = turn_worker_poll,
    .poll = turn_poll,
    .wait_fd = turn_wait_fd,
    .punt = turn_punt,
    .udp_input = turn_udp_input,
    .udp_input_burst = turn_udp_burst,
    .udp4_burst = turn_udp4_burst,
    .udp6_burst = turn_udp6_burst,
    .l4_csum_preserved = true,
};
DP_FEATURE_REGISTER(turn_feature);

/* ---- telemetry (its own thread: reads are racy but never torn 64-bit counters) ---- */

static int tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	if (!srv)
		return -EINVAL;
	const struct turn_ctl_stats *s = turn_server_stats(srv);
	uint64_t tot[4] = {0}, drops[TURN_DROP_MAX] = {0};
	uint32_t idx = 0;
	struct turn_alloc *a;
	while ((a = turn_alloc_next(tbl, &idx))) {
		tot[0] += a->st.pkts_c2p;
		tot[1] += a->st.bytes_c2p;
		tot[2] += a->st.pkts_p2c;
		tot[3] += a->st.bytes_p2c;
		for (int i = 0; i < TURN_DROP_MAX; i++)
			drops[i] += a->drops[i];
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "allocations", turn_table_count(tbl));
	rte_tel_data_add_dict_u64(d, "capacity", turn_table_capacity(tbl));
	rte_tel_data_add_dict_u64(d, "redis_up", turn_store_up(store));
	/* answers held until Redis had their writes; writes that failed (their answers dropped,
	 * the allocations they created undone); changes that could not be queued */
	rte_tel_data_add_dict_u64(d, "store_held", store_held);
	ts_tel_stats(d);
	rte_tel_data_add_dict_u64(d, "store_failed", store_failed);
	rte_tel_data_add_dict_u64(d, "store_unqueued", store_unqueued);
	rte_tel_data_add_dict_u64(d, "store_parked", store_parked);
	rte_tel_data_add_dict_u64(d, "draining", dp_draining());
	if (follow) { /* [ha] backup: the copy of the peer's allocations */
		const struct turn_follow_stats *fs = turn_follow_stats(follow);
		rte_tel_data_add_dict_u64(d, "turn_following",
					  __atomic_load_n(&fs->allocations, __ATOMIC_RELAXED));
		rte_tel_data_add_dict_u64(d, "turn_following_permissions",
					  __atomic_load_n(&fs->permissions, __ATOMIC_RELAXED));
		rte_tel_data_add_dict_u64(d, "turn_following_channels",
					  __atomic_load_n(&fs->channels, __ATOMIC_RELAXED));
		rte_tel_data_add_dict_u64(d, "turn_following_complete",
					  __atomic_load_n(&fs->complete, __ATOMIC_RELAXED));
		rte_tel_data_add_dict_u64(d, "turn_following_syncs", fs->syncs);
		rte_tel_data_add_dict_u64(d, "turn_following_loads", fs->loads);
		rte_tel_data_add_dict_u64(d, "turn_following_gaps", fs->gaps);
	}
	rte_tel_data_add_dict_u64(d, "requests", s->requests);
	rte_tel_data_add_dict_u64(d, "success", s->success);
	rte_tel_data_add_dict_u64(d, "malformed", s->malformed);
	rte_tel_data_add_dict_u64(d, "bad_fingerprint", s->bad_fingerprint);
	rte_tel_data_add_dict_u64(d, "not_stun", s->not_stun);
	rte_tel_data_add_dict_u64(d, "unauth_rate_limited", s->unauth_dropped);
	rte_tel_data_add_dict_u64(d, "amplification_dropped", s->amp_dropped);
	rte_tel_data_add_dict_u64(d, "allocs_created", s->allocs_created);
	rte_tel_data_add_dict_u64(d, "allocs_deleted", s->allocs_deleted);
	rte_tel_data_add_dict_u64(d, "allocs_expired", s->allocs_expired);
	rte_tel_data_add_dict_u64(d, "restore_orphaned", s->restore_orphaned);
	static const int codes[] = {300, 400, 401, 403, 420, 437, 438,
				    440, 441, 442, 443, 486, 500, 508};
	for (size_t i = 0; i < RTE_DIM(codes); i++) {
		char k[16];
		snprintf(k, sizeof(k), "err_%d", codes[i]);
		rte_tel_data_add_dict_u64(d, k, s->err[codes[i] / 100][codes[i] % 100]);
	}
	uint64_t fast[2] = {0};
	for (unsigned i = 0; i < DP_MAX_WORKERS; i++) {
		fast[0] += __atomic_load_n(&wstate[i].fast_relayed, __ATOMIC_RELAXED);
		fast[1] += __atomic_load_n(&wstate[i].fast_declined, __ATOMIC_RELAXED);
	}
	rte_tel_data_add_dict_u64(d, "fastpath_relayed", fast[0]);
	rte_tel_data_add_dict_u64(d, "fastpath_declined", fast[1]);
	rte_tel_data_add_dict_u64(d, "pkts_c2p", tot[0]);
	rte_tel_data_add_dict_u64(d, "bytes_c2p", tot[1]);
	rte_tel_data_add_dict_u64(d, "pkts_p2c", tot[2]);
	rte_tel_data_add_dict_u64(d, "bytes_p2c", tot[3]);
	for (int i = 0; i < TURN_DROP_MAX; i++) {
		char k[48];
		snprintf(k, sizeof(k), "drop_%s", turn_drop_names[i]);
		rte_tel_data_add_dict_u64(d, k, drops[i]);
	}
	return 0;
}

static void alloc_dict(struct rte_tel_data *c, const struct turn_alloc *a)
{
	char s[64];
	struct pr_taddr t = {0};
	rte_tel_data_start_dict(c);
	turn_id_hex(a->id, s);
	rte_tel_data_add_dict_string(c, "id", s);
	rte_tel_data_add_dict_string(c, "username", a->username);
	memcpy(t.ip, a->ft.cli_ip, 16);
	t.fam = a->ft.fam;
	t.port = a->ft.cli_port;
	pr_taddr_fmt(&t, s, sizeof(s));
	rte_tel_data_add_dict_string(c, "client", s);
	rte_tel_data_add_dict_string(c, "transport", turn_transport_name(a->ft.proto));
	rte_tel_data_add_dict_u64(c, "relay_port4", a->relay_port[0]);
	rte_tel_data_add_dict_u64(c, "relay_port6", a->relay_port[1]);
	rte_tel_data_add_dict_u64(c, "expires", a->expires);
	rte_tel_data_add_dict_u64(c, "permissions", a->n_perm);
	rte_tel_data_add_dict_u64(c, "channels", a->n_chan);
	rte_tel_data_add_dict_u64(c, "pkts_c2p", a->st.pkts_c2p);
	rte_tel_data_add_dict_u64(c, "bytes_c2p", a->st.bytes_c2p);
	rte_tel_data_add_dict_u64(c, "pkts_p2c", a->st.pkts_p2c);
	rte_tel_data_add_dict_u64(c, "bytes_p2c", a->st.bytes_p2c);
	for (int i = 0; i < TURN_DROP_MAX; i++) {
		char k[48];
		snprintf(k, sizeof(k), "drop_%s", turn_drop_names[i]);
		rte_tel_data_add_dict_u64(c, k, a->drops[i]);
	}
}

static int tel_allocs(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	if (!srv)
		return -EINVAL;
	uint64_t want = 0;
	bool one = params && *params;
	if (one && turn_id_parse(params, &want) < 0)
		return -EINVAL;
	rte_tel_data_start_dict(d);
	uint32_t idx = 0, n = 0;
	struct turn_alloc *a;
	while ((a = turn_alloc_next(tbl, &idx)) && n < 200) {
		if (one && a->id != want)
			continue;
		struct rte_tel_data *c = rte_tel_data_alloc();
		if (!c)
			break;
		char id[17];
		turn_id_hex(a->id, id);
		alloc_dict(c, a);
		rte_tel_data_add_dict_container(d, id, c, 0);
		n++;
	}
	return 0;
}

static int tel_delete(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	uint64_t id;
	if (!del_ring || !params || turn_id_parse(params, &id) < 0)
		return -EINVAL;
	rte_tel_data_start_dict(d);
	int rc = rte_ring_mp_enqueue(del_ring, (void *)(uintptr_t)id);
	rte_tel_data_add_dict_string(d, "result", rc == 0 ? "queued" : "busy");
	return 0;
}
