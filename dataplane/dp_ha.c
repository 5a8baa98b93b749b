/* SPDX-License-Identifier: BSD-3-Clause */
/* Address takeover of a peer appliance's service addresses: see dp_ha.h. */
#include "dataplane/dp_ha.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_telemetry.h>

#include "common/keyspace.h"
#include "common/log.h"
#include "common/redis.h"
#include "dataplane/dp_arpnd.h"
#include "dataplane/dp_config.h"
#include "dataplane/dp_counters.h"
#include "dataplane/dp_feature.h"
#include "dataplane/dp_neigh.h"

struct dp_ha_cfg {
	uint32_t port;
	struct dp_prefix_list peer4;
	struct dp_prefix_list peer6;
	uint32_t announce_count;
	uint32_t announce_interval_ms;
	uint32_t lease_ms;
	char failback[DP_CFG_STR_MAX];
	uint32_t handover_quiet_ms;
	uint32_t handover_max_ms;
	char vrrp_fifo[DP_CFG_STR_MAX];
	char vrrp_instance[DP_CFG_STR_MAX];
};
static struct dp_ha_cfg hcfg;

#define HC(f) offsetof(struct dp_ha_cfg, f)
static const struct dp_cfg_key ha_keys[] = {
    {"port", DP_CFG_U32, 0, DP_MAX_PORTS - 1, "0", HC(port), 0,
     "index of the [portN] on whose segment the peer's addresses are"},
    {"peer_ipv4", DP_CFG_IP4_PREFIX_LIST, 0, 0, NULL, HC(peer4), 0,
     "the peer appliance's IPv4 service addresses we take over when told, comma-separated, "
     "each with its prefix length"},
    {"peer_ipv6", DP_CFG_IP6_PREFIX_LIST, 0, 0, NULL, HC(peer6), 0,
     "the peer appliance's IPv6 service addresses we take over when told, comma-separated, "
     "each with its prefix length"},
    {"announce_count", DP_CFG_U32, 1, 20, "3", HC(announce_count), 0,
     "gratuitous ARPs / unsolicited NAs sent for each address at a takeover"},
    {"announce_interval_ms", DP_CFG_U32, 10, 10000, "500", HC(announce_interval_ms), 0,
     "spacing of those announcements"},
    {"lease_ms", DP_CFG_U32, 100, 60000, "1500", HC(lease_ms), 0,
     "lifetime of our liveness lease in Redis (pr:ha:alive:<own address>), refreshed every "
     "third of it; the peer takes our addresses over only once it has expired"},
    {"failback", DP_CFG_STR, 4, 6, "manual", HC(failback), 0,
     "when our own addresses come back from the peer that holds them: manual (poprelayctl "
     "ha failback) or auto (as soon as we run again)"},
    {"handover_quiet_ms", DP_CFG_U32, 100, 60000, "2000", HC(handover_quiet_ms), 0,
     "after a handover (poprelayctl drain --handover, or the peer's failback), the appliance "
     "that served the addresses forwards the frames still reaching it to the one that serves "
     "them now until none came for this long"},
    {"handover_max_ms", DP_CFG_U32, 0, 600000, "60000", HC(handover_max_ms), 0,
     "and at most this long (0: no forwarding: frames that still reach it are dropped)"},
    {"vrrp_fifo", DP_CFG_STR, 0, DP_CFG_STR_MAX - 1, "", HC(vrrp_fifo), 0,
     "keepalived's vrrp_notify_fifo (an absolute path): the dataplane reads vrrp_instance's "
     "state changes there itself and takes over at MASTER, releases at BACKUP, FAULT and "
     "STOP, with no process between (the notify hook stays as a fallback); empty: none"},
    {"vrrp_instance", DP_CFG_STR, 0, 63, "", HC(vrrp_instance), 0,
     "the keepalived VRRP instance of the peer's addresses, whose changes vrrp_fifo carries"},
};

static bool peer_in(const struct dp_prefix_list *l, const struct dp_ipaddr *a)
{
	for (unsigned int i = 0; i < l->n; i++)
		if (dp_ipaddr_eq(&l->p[i].addr, a))
			return true;
	return false;
}

bool dp_ha_configured(void)
{
	return hcfg.peer4.n || hcfg.peer6.n;
}

uint16_t dp_ha_port(void)
{
	return (uint16_t)hcfg.port;
}

bool dp_ha_cfg_is_peer(const struct dp_ipaddr *a)
{
	return peer_in(a->family == AF_INET ? &hcfg.peer4 : &hcfg.peer6, a);
}

/* A peer address must not be one of ours (it would be answered twice on the segment) and
 * its port must exist. */
static int ha_cfg_check(char *err, size_t errlen)
{
	if (strcmp(hcfg.failback, "manual") != 0 && strcmp(hcfg.failback, "auto") != 0) {
		snprintf(err, errlen, "[ha] failback: got %s, expected manual or auto",
			 hcfg.failback);
		return -EINVAL;
	}
	if (!hcfg.vrrp_fifo[0] != !hcfg.vrrp_instance[0]) {
		snprintf(err, errlen, "[ha] %s: got nothing, expected it with %s",
			 hcfg.vrrp_fifo[0] ? "vrrp_instance" : "vrrp_fifo",
			 hcfg.vrrp_fifo[0] ? "vrrp_fifo" : "vrrp_instance");
		return -EINVAL;
	}
	if (hcfg.vrrp_fifo[0] && hcfg.vrrp_fifo[0] != '/') {
		snprintf(err, errlen, "[ha] vrrp_fifo: got %s, expected an absolute path",
			 hcfg.vrrp_fifo);
		return -EINVAL;
	}
	if (!dp_ha_configured())
		return 0;
	if (hcfg.port >= dp_cfg.nb_ports) {
		snprintf(err, errlen, "[ha] port: got %u, expected the index of a [portN] (0-%u)",
			 hcfg.port, dp_cfg.nb_ports ? dp_cfg.nb_ports - 1 : 0);
		return -EINVAL;
	}
	for (int fi = 0; fi < 2; fi++) {
		const struct dp_prefix_list *l = fi ? &hcfg.peer6 : &hcfg.peer4;
		for (unsigned int i = 0; i < l->n; i++) {
			const struct dp_ipaddr *a = &l->p[i].addr;
			char b[INET6_ADDRSTRLEN];
			for (unsigned int p = 0; p < dp_cfg.nb_ports; p++) {
				const struct dp_port_cfg *pc = &dp_cfg.port[p];
				const struct dp_prefix *pri = fi ? &pc->ipv6 : &pc->ipv4;
				const struct dp_prefix_list *x =
				    fi ? &pc->ipv6_extra : &pc->ipv4_extra;
				if ((pri->set && dp_ipaddr_eq(&pri->addr, a)) || peer_in(x, a)) {
					snprintf(
					    err, errlen,
					    "[ha] %s: got %s, expected a peer's address, not one "
					    "of ours ([port%u])",
					    fi ? "peer_ipv6" : "peer_ipv4",
					    dp_ipaddr_str(a, b, sizeof(b)), p);
					return -EINVAL;
				}
			}
		}
	}
	return 0;
}

static struct dp_cfg_section ha_section = {.name = "ha",
					   .storage = &hcfg,
					   .keys = ha_keys,
					   .nkeys = RTE_DIM(ha_keys),
					   .check = ha_cfg_check};

RTE_INIT(dp_ha_cfg_register)
{
	dp_cfg_section_register(&ha_section);
}

/* ---- runtime ---- */

enum { HA_REQ_NONE, HA_REQ_TAKEOVER, HA_REQ_RELEASE, HA_REQ_FAILBACK, HA_REQ_HANDOVER };

uint16_t dp_ha_fence_port = DP_HA_NO_FENCE; /* control: wo; workers: ro (atomic) */
uint16_t dp_ha_fwd_port = DP_HA_NO_FENCE;   /* control: wo; workers: ro (atomic) */
bool dp_ha_fwd_own;			    /* control: wo before dp_ha_fwd_port */
struct rte_ether_addr dp_ha_fwd_mac;	    /* idem */

static bool held;	       /* control: wo; workers, telemetry: ro (atomic) */
static int pending;	       /* telemetry: wo; control: takes it (atomic exchange) */
static int64_t since_s;	       /* control: wo; telemetry: ro (atomic): last change, 0: none */
static uint64_t changes;       /* idem: takeovers and releases done */
static int64_t taken;	       /* idem: items the features took over at the last takeover */
static int last_error;	       /* idem: negative errno of a feature at the last change */
static uint64_t announces;     /* idem: gratuitous ARPs and unsolicited NAs sent */
static uint32_t announce_left; /* control only */
static uint64_t announce_next_ms;
static uint32_t own_announce_left; /* control only: our own addresses, after a failback */
static uint64_t own_announce_next_ms;
/* The last takeover, as this dataplane saw it (dp_ha.h, dp_ha_await_first): from its ask
 * (a FIFO line or a telemetry request; -1: none, a handover) to the addresses held, and
 * from then to the first datagram a worker took for them. */
bool dp_ha_await_first;		 /* control: sets at a takeover; workers: clear it (atomic) */
static uint64_t asked_at_ms;	 /* control only: the pending takeover's ask, 0: none */
static int64_t fo_asked_ms = -1; /* control: wo; telemetry: ro (atomic) */
static uint64_t fo_held_tsc;	 /* control: wo before dp_ha_await_first; telemetry: ro */
static uint64_t fo_first_tsc;	 /* workers: set once from 0 (CAS); telemetry: ro */
/* The gap's bound (dp_ha.h, dp_ha_gap_bounds): the peer's lease as this backup reads it at
 * each lease_tick (and at each takeover_try), on our clock (dp_now_ms). Control only. */
static int64_t peer_renewed_ms = -1; /* its latest renewal seen live, -1: none since gone */
static uint64_t peer_live_read_ms;   /* when a read last saw it live */
static int64_t peer_last_ms = -1;    /* its last renewal: seen gone soon enough after */
static int64_t fo_renewed_ms = -1;   /* control: wo; telemetry: ro (atomic): peer_last_ms at
				      * the last takeover, -1: not known (a handover, or the
				      * lease never seen live, or not followed closely) */

/* Fencing (dp_ha.h). Control only, unless marked: what telemetry reads is atomic. */
static char own_name[INET6_ADDRSTRLEN];	 /* our [ha] port's primary address: our set */
static char peer_name[INET6_ADDRSTRLEN]; /* the peer's first address: its set */
static struct pr_redis *redis;
static uint64_t redis_next_try_ms;
static bool redis_warned;
static bool own_checked;		 /* the start's look at pr:ha:held:<own> done */
static bool own_features = true;	 /* the features hold what they serve on our addresses */
static char fenced_by[INET6_ADDRSTRLEN]; /* telemetry: ro (racy string, display only) */
static bool want_takeover;		 /* a takeover asked and not done yet (deferred) */
static bool deferring;			 /* telemetry: ro (atomic): want_takeover, deferred */
static int peer_lease = -1;		 /* telemetry: ro: 1 alive, 0 gone, -1 not known */
static uint64_t takeover_deferred;	 /* telemetry: ro: takeovers that had to wait */
static uint64_t takeover_unfenced;	 /* idem: done without asking Redis (away) */
static uint64_t fences, failbacks;	 /* idem: our addresses fenced / served again */
static bool failback_wanted;		 /* telemetry: ro: we ask the holder to release */
static uint64_t lease_next_ms, check_next_ms;
static uint64_t lease_written; /* telemetry: ro: lease refreshes that reached Redis */
#define DEFER_RECHECK_MS 100

/* Handover (dp_ha.h; docs/scaling.md "Drain handover"). The record pr:ha:handover:<owner>
 * is named for the addresses' owner whichever way they move: "asked" (the owner drains),
 * then "forwarding" (the appliance that served them no longer does and forwards what still
 * reaches it: the new server announces them only then, so that no neighbour is moved to it
 * before the old one stopped relaying). pr:ha:mac:<address> says where to forward. */
enum { HO_IDLE, HO_ASKED, HO_FORWARDING, HO_DONE };
static const char *const ho_names[] = {"", "asked", "forwarding", "done"};
static int ho_state;		 /* control: wo; telemetry: ro (atomic): our own, handed */
static uint64_t ho_asked_ms;	 /* control only */
static char ho_error[160];	 /* telemetry: ro (racy string, display only) */
static uint64_t handovers;	 /* telemetry: ro: ours handed over (forwarding done) */
static uint64_t handovers_taken; /* idem: the peer's taken with its consent */
static uint64_t handbacks;	 /* idem: the peer's handed back at its failback */
static bool ack_wait;		 /* control only: we serve, our announcements wait for the */
static uint64_t ack_next_ms;	 /* old server's "forwarding" (ack_key) */
static uint64_t ack_deadline_ms;
static bool ack_own;	    /* ack_key names our own addresses (a failback) */
static bool hb_wait;	    /* control only: holding the peer's, we released the held */
static uint64_t hb_next_ms; /* record at its failback and serve until it serves */
static bool fwd_on;	    /* control: wo; telemetry: ro (atomic): dp_ha_fwd_port set */
static uint64_t fwd_start_ms, fwd_last_ms, fwd_next_ms, fwd_seen, fwd_base;
static uint64_t fwd_frames;	/* telemetry: ro: frames forwarded at the last handover */
static uint64_t fwd_ms;		/* idem: how long it forwarded */
#define HO_POLL_MS	  20	/* the records looked at while a handover is under way */
#define HO_ASK_TIMEOUT_MS 10000 /* the peer takes over within this, or the ask is withdrawn */
#define HO_ACK_TIMEOUT_MS 2000	/* we announce without the old server's ack after this */
#define HO_MAC_PX	  "60000"

void dp_ha_first_datagram(const struct dp_port *p, const struct dp_ipaddr *dst)
{
	if (!dp_ha_holds(p, dst))
		return; /* one of ours: the peer's first is still to come */
	uint64_t none = 0;
	__atomic_compare_exchange_n(&fo_first_tsc, &none, rte_get_tsc_cycles(), false,
				    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	__atomic_store_n(&dp_ha_await_first, false, __ATOMIC_RELAXED);
}

bool dp_ha_holds(const struct dp_port *p, const struct dp_ipaddr *a)
{
	if (likely(!__atomic_load_n(&held, __ATOMIC_ACQUIRE)))
		return false;
	if (p != &dp_rt.ports[hcfg.port])
		return false;
	return dp_ha_cfg_is_peer(a);
}

static void addrs_str(char *out, size_t len)
{
	size_t o = 0;
	out[0] = '\0';
	for (int fi = 0; fi < 2; fi++) {
		const struct dp_prefix_list *l = fi ? &hcfg.peer6 : &hcfg.peer4;
		for (unsigned int i = 0; i < l->n && o < len; i++) {
			char b[INET6_ADDRSTRLEN];
			int n = snprintf(out + o, len - o, "%s%s", o ? "," : "",
					 dp_ipaddr_str(&l->p[i].addr, b, sizeof(b)));
			if (n > 0)
				o += (size_t)n;
		}
	}
}

/* Every feature's ha_change (own false) or ha_own_change (own true); the items they took
 * over, or the first error. */
static int64_t features_change(bool own, bool h)
{
	int64_t n = 0;
	int err = 0;
	for (unsigned int id = 1; id <= dp_features_count(); id++) {
		const struct dp_feature *f = dp_feature_get(id);
		int (*fn)(bool) = f ? (own ? f->ha_own_change : f->ha_change) : NULL;
		if (!fn)
			continue;
		int rc = fn(h);
		if (rc < 0) {
			PR_ERR("ha: %s: %s %s addresses failed: %s", f->name,
			       h ? (own ? "serving again" : "taking over")
				 : (own ? "letting go of" : "releasing"),
			       own ? "our own" : "the peer's", strerror(-rc));
			err = err ? err : rc;
		} else {
			n += rc;
		}
	}
	__atomic_store_n(&last_error, err, __ATOMIC_RELAXED);
	return n;
}

/* A read of the peer's lease (PTTL, pttl; -2: gone) sent at sent_ms. Its last renewal is
 * known once a read sees it gone less than lease_ms after one saw it live: a renewal between
 * the two would make it live still (up to the round trips to Redis, well under a ms here). A
 * longer blind spot (Redis away) leaves it unknown rather than a bound that may be wrong. */
static void peer_lease_read(uint64_t sent_ms, long long pttl)
{
	if (pttl != -2) {
		peer_renewed_ms = dp_ha_renewed_at(sent_ms, hcfg.lease_ms, pttl);
		peer_live_read_ms = sent_ms;
		peer_last_ms = -1;
	} else if (peer_renewed_ms >= 0) {
		peer_last_ms = sent_ms - peer_live_read_ms < hcfg.lease_ms ? peer_renewed_ms : -1;
		peer_renewed_ms = -1;
	}
}

static void ha_apply(int req, uint64_t now_ms)
{
	char a[DP_PORT_EXTRA_MAX * 2 * (INET6_ADDRSTRLEN + 1)];
	bool h = __atomic_load_n(&held, __ATOMIC_RELAXED);

	addrs_str(a, sizeof(a));
	if (req == HA_REQ_TAKEOVER && !h) {
		/* What the features serve on the addresses first, then the addresses: the
		 * first datagram a worker takes for them finds its allocation. */
		int64_t n = features_change(false, true);
		__atomic_store_n(&fo_asked_ms, asked_at_ms ? (int64_t)(now_ms - asked_at_ms) : -1,
				 __ATOMIC_RELAXED);
		asked_at_ms = 0;
		/* The peer's death as bounded by its lease: taken once (a handover's peer lives:
		 * -1 already) */
		__atomic_store_n(&fo_renewed_ms, peer_last_ms, __ATOMIC_RELAXED);
		peer_last_ms = -1;
		__atomic_store_n(&fo_first_tsc, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&fo_held_tsc, rte_get_tsc_cycles(), __ATOMIC_RELAXED);
		__atomic_store_n(&held, true, __ATOMIC_RELEASE);
		__atomic_store_n(&dp_ha_await_first, true, __ATOMIC_RELEASE);
		__atomic_store_n(&taken, n, __ATOMIC_RELAXED);
		announce_left = hcfg.announce_count;
		announce_next_ms = now_ms;
		PR_NOTICE("ha: took over %s on port%u (%" PRId64 " TURN allocations)", a, hcfg.port,
			  n);
	} else if (req == HA_REQ_RELEASE && h) {
		/* The addresses first: the workers stop taking them, then the features let go
		 * (their tables retire entries after an RCU grace period). */
		__atomic_store_n(&held, false, __ATOMIC_RELEASE);
		__atomic_store_n(&dp_ha_await_first, false, __ATOMIC_RELAXED);
		announce_left = 0;
		features_change(false, false);
		__atomic_store_n(&taken, 0, __ATOMIC_RELAXED);
		PR_NOTICE("ha: released %s on port%u", a, hcfg.port);
	} else {
		return;
	}
	__atomic_store_n(&since_s, (int64_t)time(NULL), __ATOMIC_RELAXED);
	__atomic_fetch_add(&changes, 1, __ATOMIC_RELAXED);
}

static void announce_list(bool own)
{
	const struct dp_port_cfg *pc = &dp_cfg.port[hcfg.port];
	for (int fi = 0; fi < 2; fi++) {
		const struct dp_prefix_list *l = own ? (fi ? &pc->ipv6_extra : &pc->ipv4_extra)
						     : (fi ? &hcfg.peer6 : &hcfg.peer4);
		const struct dp_prefix *pri = fi ? &pc->ipv6 : &pc->ipv4;
		if (own && pri->set && dp_arpnd_announce((uint16_t)hcfg.port, &pri->addr) == 0)
			__atomic_fetch_add(&announces, 1, __ATOMIC_RELAXED);
		for (unsigned int i = 0; i < l->n; i++)
			if (dp_arpnd_announce((uint16_t)hcfg.port, &l->p[i].addr) == 0)
				__atomic_fetch_add(&announces, 1, __ATOMIC_RELAXED);
	}
}

/* ---- fencing: the control lcore's own Redis connection (blocking, short timeouts: the
 * workers never wait on it) ---- */

static bool fencing_on(void)
{
	return dp_ha_configured() && own_name[0] && peer_name[0];
}

bool dp_ha_redis_reopen(struct pr_redis **r, uint64_t *next_try_ms, bool *warned, uint64_t now_ms,
			const char *who, const char *off, const char *back)
{
	if (*r)
		return true;
	if (now_ms < *next_try_ms)
		return false;
	*next_try_ms = now_ms + 1000;
	*r = pr_redis_open(dp_cfg.redis.socket, dp_cfg.redis.user, dp_cfg.redis.password_file, 250);
	if (!*r) {
		if (!*warned)
			PR_WARN("%s: redis %s unreachable (%s): %s until it is", who,
				dp_cfg.redis.socket, pr_redis_errmsg(NULL), off);
		*warned = true;
		return false;
	}
	if (*warned && back)
		PR_NOTICE("%s: redis reachable again: %s", who, back);
	*warned = false;
	return true;
}

static bool ha_redis(uint64_t now_ms)
{
	return dp_ha_redis_reopen(&redis, &redis_next_try_ms, &redis_warned, now_ms, "ha",
				  "no lease, no fencing", "lease and fencing back");
}

static void ha_redis_lost(const char *what)
{
	PR_WARN("ha: redis: %s failed (%s); reconnecting", what, pr_redis_errmsg(redis));
	pr_redis_close(redis);
	redis = NULL;
	redis_warned = true;
}

/* A command's reply, NULL (connection dropped, logged) on an I/O error or an error
 * reply. */
static redisReply *rcmd(const char *what, int argc, const char **argv)
{
	redisReply *r = pr_redis_cmdargv(redis, argc, argv, NULL);
	if (r && r->type == REDIS_REPLY_ERROR) {
		PR_WARN("ha: redis: %s: %s", what, r->str);
		freeReplyObject(r);
		return NULL;
	}
	if (!r)
		ha_redis_lost(what);
	return r;
}

/* Deletes KEYS[1] if it names ARGV[1] (our held record of the peer's addresses). */
static const char del_ours[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
    "return 0";

static void key(char *out, size_t len, const char *kind, const char *name)
{
	snprintf(out, len, "pr:ha:%s:%s", kind, name);
}

/* ---- handover (dp_ha.h): forwarding what still reaches the old server ---- */

static uint64_t forwarded_sum(void)
{
	uint64_t n = 0;
	for (unsigned int i = 0; i < RTE_MAX_LCORE; i++)
		n += __atomic_load_n(&dp_stats[i].ha_forwarded, __ATOMIC_RELAXED);
	return n;
}

/* pr:ha:mac:<name> into *mac: 0, or -1 (absent, not a MAC, or Redis failed). */
static int mac_of(const char *name, struct rte_ether_addr *mac)
{
	char k[96];
	key(k, sizeof(k), "mac", name);
	const char *get[] = {"GET", k};
	redisReply *r = redis ? rcmd("mac", RTE_DIM(get), get) : NULL;
	int rc = r && r->type == REDIS_REPLY_STRING && rte_ether_unformat_addr(r->str, mac) == 0
		     ? 0
		     : -1;
	if (r)
		freeReplyObject(r);
	return rc;
}

/* Writes pr:ha:handover:<name> = val for 3 lease_ms (the owner's ask, or the old server's
 * "forwarding"). */
static void ho_record(const char *name, const char *val)
{
	char k[96], px[16];
	key(k, sizeof(k), "handover", name);
	snprintf(px, sizeof(px), "%u", hcfg.lease_ms * 3);
	const char *set[] = {"SET", k, val, "PX", px};
	redisReply *r = redis ? rcmd("handover", RTE_DIM(set), set) : NULL;
	if (r)
		freeReplyObject(r);
}

/* We no longer serve the addresses (ours: own true; the peer's: false) but neighbours may
 * still send to us: the workers send those frames on to mac until none came for
 * handover_quiet_ms (fwd_poll). */
static void fwd_start(bool own, const struct rte_ether_addr *mac, uint64_t now_ms)
{
	dp_ha_fwd_mac = *mac;
	dp_ha_fwd_own = own;
	__atomic_store_n(&dp_ha_fwd_port, (uint16_t)hcfg.port, __ATOMIC_RELEASE);
	__atomic_store_n(&fwd_on, true, __ATOMIC_RELAXED);
	fwd_start_ms = fwd_last_ms = now_ms;
	fwd_next_ms = now_ms + HO_POLL_MS;
	fwd_seen = fwd_base = forwarded_sum();
	__atomic_store_n(&fwd_frames, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&fwd_ms, 0, __ATOMIC_RELAXED);
}

static void fwd_stop(uint64_t now_ms, const char *why)
{
	uint64_t n = forwarded_sum() - fwd_base;
	__atomic_store_n(&dp_ha_fwd_port, DP_HA_NO_FENCE, __ATOMIC_RELEASE);
	__atomic_store_n(&fwd_on, false, __ATOMIC_RELAXED);
	__atomic_store_n(&fwd_frames, n, __ATOMIC_RELAXED);
	__atomic_store_n(&fwd_ms, now_ms - fwd_start_ms, __ATOMIC_RELAXED);
	PR_NOTICE("ha: stopped forwarding %s's frames to the %s (%s): %" PRIu64
		  " forwarded in %" PRIu64 " ms",
		  dp_ha_fwd_own ? own_name : peer_name, dp_ha_fwd_own ? "peer" : "owner", why, n,
		  now_ms - fwd_start_ms);
	if (dp_ha_fwd_own && __atomic_load_n(&ho_state, __ATOMIC_RELAXED) == HO_FORWARDING) {
		__atomic_store_n(&ho_state, HO_DONE, __ATOMIC_RELAXED);
		__atomic_fetch_add(&handovers, 1, __ATOMIC_RELAXED);
	}
}

static void fwd_poll(uint64_t now_ms)
{
	if (!fwd_on || now_ms < fwd_next_ms)
		return;
	fwd_next_ms = now_ms + HO_POLL_MS;
	uint64_t n = forwarded_sum();
	if (n != fwd_seen) {
		fwd_seen = n;
		fwd_last_ms = now_ms;
	}
	__atomic_store_n(&fwd_frames, n - fwd_base, __ATOMIC_RELAXED);
	__atomic_store_n(&fwd_ms, now_ms - fwd_start_ms, __ATOMIC_RELAXED);
	if (now_ms - fwd_last_ms >= hcfg.handover_quiet_ms)
		fwd_stop(now_ms, "none came for handover_quiet_ms");
	else if (now_ms - fwd_start_ms >= hcfg.handover_max_ms)
		fwd_stop(now_ms, "handover_max_ms reached with frames still coming: some neighbour "
				 "never moved");
}

/* Our own addresses: no longer served (the peer named holds them), or served again. */
static void own_fence(const char *holder)
{
	const char *until = strcmp(hcfg.failback, "auto") == 0
				? "it releases them (failback = auto: asked at once)"
				: "poprelayctl ha failback (or its release)";
	bool was = fenced_by[0] != '\0';
	int64_t n = 0;

	snprintf(fenced_by, sizeof(fenced_by), "%s", holder);
	if (was)
		return;
	/* The workers first (at the start they wait already), then the features let go
	 * (RCU-retired like a release). */
	__atomic_store_n(&dp_ha_fence_port, (uint16_t)hcfg.port, __ATOMIC_RELEASE);
	own_announce_left = 0;
	if (own_features) {
		n = features_change(true, false);
		own_features = false;
	}
	PR_NOTICE("ha: %s (our own addresses) held by the peer %s: not served (%" PRId64
		  " TURN allocations and media sessions let go) until %s",
		  own_name, holder, n, until);
	__atomic_fetch_add(&fences, 1, __ATOMIC_RELAXED);
}

/* Next hops wanted while our addresses were fenced (the peer's next hops followed ahead of a
 * takeover, dp_ha_nexthops.c, or a datagram of ours to send) could not be asked: no request
 * goes out from a fenced address (dp_arpnd_probe), and their entries wait, unresolved, for
 * the neighbour timer's next request, up to neigh_retry_ms later (1 s by default). After a
 * restart our table holds none of the devices: the first datagrams we relay after the
 * failback waited that long, parked and dropped (ha_media d: 300 ms silence and ~30 packets
 * lost per device, up to 1 s). Asked now that we serve again (the sessions restored just
 * before): the answers come in a few ms, before the holder stops relaying. A request from our
 * address moves the asked device's entry for it to us already, ahead of our announcements
 * (ack_wait): harmless, we serve, and the holder relays what still reaches it until then. */
static unsigned int own_resolve_now(void)
{
	unsigned int max = dp_neigh_count(), n, asked = 0;
	struct dp_neigh_info *t = max ? malloc(max * sizeof(*t)) : NULL;

	if (!t)
		return 0;
	n = dp_neigh_dump(t, max);
	for (unsigned int i = 0; i < n; i++)
		if (t[i].port == hcfg.port && t[i].state == DP_NEIGH_INCOMPLETE &&
		    dp_arpnd_probe((uint16_t)hcfg.port, &t[i].addr) == 0)
			asked++;
	free(t);
	return asked;
}

static bool own_serve(uint64_t now_ms, const char *why)
{
	if (__atomic_load_n(&dp_ha_fence_port, __ATOMIC_RELAXED) != hcfg.port)
		return false;
	int64_t n = 0;
	if (fwd_on && dp_ha_fwd_own)
		fwd_stop(now_ms, "we serve them again");
	__atomic_store_n(&ho_state, HO_IDLE, __ATOMIC_RELAXED);
	/* What the features serve on them first (from Redis, as the holder left it), then
	 * the addresses, then the announcements that move the neighbours' entries back. */
	if (!own_features) {
		n = features_change(true, true);
		own_features = true;
	}
	__atomic_store_n(&dp_ha_fence_port, DP_HA_NO_FENCE, __ATOMIC_RELEASE);
	fenced_by[0] = '\0';
	__atomic_store_n(&failback_wanted, false, __ATOMIC_RELAXED);
	unsigned int asked = own_resolve_now();
	if (own_checked) {
		own_announce_left = hcfg.announce_count;
		own_announce_next_ms = now_ms;
		__atomic_fetch_add(&failbacks, 1, __ATOMIC_RELAXED);
		PR_NOTICE("ha: serving %s (our own address) again: %s (%" PRId64
			  " TURN allocations and media sessions restored, %u next hops asked "
			  "that waited while fenced)",
			  own_name, why, n, asked);
	}
	return true;
}

static void ho_fail(const char *why)
{
	snprintf(ho_error, sizeof(ho_error), "%s", why);
	__atomic_store_n(&ho_state, HO_IDLE, __ATOMIC_RELAXED);
	PR_WARN("ha: handover of %s: %s", own_name, why);
}

/* poprelayctl drain --handover: asked through Redis while the peer runs (its lease lives);
 * the peer takes over at its next lease refresh (handover_take). We go on serving until the
 * held record names it (lease_tick, handover_forward). */
static void handover_ask(uint64_t now_ms)
{
	int st = __atomic_load_n(&ho_state, __ATOMIC_RELAXED);
	if (st == HO_ASKED || st == HO_FORWARDING)
		return;
	ho_error[0] = '\0';
	if (!fencing_on())
		return ho_fail("refused: [ha] port has no address of its own (no fencing)");
	if (__atomic_load_n(&held, __ATOMIC_RELAXED))
		return ho_fail("refused: we hold the peer's addresses, it cannot take ours "
			       "(poprelayctl ha release first)");
	if (__atomic_load_n(&dp_ha_fence_port, __ATOMIC_RELAXED) == hcfg.port)
		return ho_fail(fenced_by[0] ? "refused: our addresses are held by the peer already"
					    : "refused: our addresses are not served yet");
	if (!ha_redis(now_ms))
		return ho_fail("refused: redis unreachable, the peer cannot be asked");
	char k_alive[96], k_ho[96], px[16];
	key(k_alive, sizeof(k_alive), "alive", peer_name);
	key(k_ho, sizeof(k_ho), "handover", own_name);
	snprintf(px, sizeof(px), "%u", hcfg.lease_ms * 3);
	static const char ask[] = "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
				  "redis.call('SET', KEYS[2], 'asked', 'PX', ARGV[1]) return 1";
	const char *ev[] = {"EVAL", ask, "2", k_alive, k_ho, px};
	redisReply *r = rcmd("handover", RTE_DIM(ev), ev);
	if (!r)
		return ho_fail("refused: redis failed (see the log)");
	long long ok = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
	freeReplyObject(r);
	if (!ok)
		return ho_fail("refused: the peer's lease is gone (no peer running to take over)");
	__atomic_store_n(&ho_state, HO_ASKED, __ATOMIC_RELAXED);
	ho_asked_ms = now_ms;
	lease_next_ms = now_ms + HO_POLL_MS;
	PR_NOTICE("ha: handing %s over to the peer %s (drain --handover): asked through redis",
		  own_name, peer_name);
}

/* Asked, not taken yet: the ask kept alive, withdrawn after HO_ASK_TIMEOUT_MS. */
static void handover_wait(uint64_t now_ms)
{
	lease_next_ms = now_ms + HO_POLL_MS;
	if (now_ms - ho_asked_ms < HO_ASK_TIMEOUT_MS) {
		ho_record(own_name, "asked");
		return;
	}
	char k_ho[96];
	key(k_ho, sizeof(k_ho), "handover", own_name);
	const char *ev[] = {"EVAL", del_ours, "1", k_ho, "asked"};
	redisReply *r = rcmd("handover", RTE_DIM(ev), ev);
	if (r)
		freeReplyObject(r);
	ho_fail("withdrawn: the peer did not take over within 10 s (is it running, on the same "
		"redis, with [ha] peer_ipv4/peer_ipv6 naming our address?)");
}

/* The peer holds our addresses now (pr:ha:held:<own> names it): we stop serving them, send
 * on what still reaches us to its MAC, and tell it so (its announcements wait for that). */
static void handover_forward(const char *holder, uint64_t now_ms)
{
	struct rte_ether_addr mac;
	bool fwd = hcfg.handover_max_ms > 0;
	if (fwd && mac_of(holder, &mac) < 0) {
		PR_WARN("ha: no MAC of %s in redis (pr:ha:mac:%s): what still reaches us for %s is "
			"dropped",
			holder, holder, own_name);
		fwd = false;
	}
	if (fwd)
		fwd_start(true, &mac, now_ms); /* before the fence: no frame dropped between */
	own_fence(holder);
	__atomic_store_n(&ho_state, fwd ? HO_FORWARDING : HO_DONE, __ATOMIC_RELAXED);
	if (!fwd)
		__atomic_fetch_add(&handovers, 1, __ATOMIC_RELAXED);
	ho_record(own_name, "forwarding");
	PR_NOTICE("ha: %s handed over to %s%s", own_name, holder,
		  fwd ? ": forwarding what still reaches us to it" : "");
}

/* The backup's side: the peer asks us to take its addresses (its drain). Taken at once, no
 * lease wait (the owner consents); the held record is written after we serve them (the
 * owner stops on it) and the announcements wait for the owner's "forwarding". */
static void handover_take(uint64_t now_ms)
{
	char k_ho[96], k_held[96], k_mac[96], mac[RTE_ETHER_ADDR_FMT_SIZE];
	key(k_ho, sizeof(k_ho), "handover", peer_name);
	const char *get[] = {"GET", k_ho};
	redisReply *r = rcmd("peer's handover", RTE_DIM(get), get);
	if (!r)
		return;
	bool asked = r->type == REDIS_REPLY_STRING && strcmp(r->str, "asked") == 0;
	freeReplyObject(r);
	if (!asked)
		return;
	want_takeover = false;
	__atomic_store_n(&deferring, false, __ATOMIC_RELAXED);
	ha_apply(HA_REQ_TAKEOVER, now_ms);
	announce_next_ms = UINT64_MAX; /* ack_poll */
	key(k_held, sizeof(k_held), "held", peer_name);
	key(k_mac, sizeof(k_mac), "mac", own_name);
	rte_ether_format_addr(mac, sizeof(mac), &dp_rt.ports[hcfg.port].mac);
	static const char consent[] = "if redis.call('GET', KEYS[1]) ~= 'asked' then return 0 end "
				      "redis.call('SET', KEYS[2], ARGV[1]) "
				      "redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3]) return 1";
	const char *ev[] = {"EVAL", consent, "3", k_ho, k_held, k_mac, own_name, mac, HO_MAC_PX};
	r = redis ? rcmd("handover", RTE_DIM(ev), ev) : NULL;
	long long ok = r && r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
	if (r)
		freeReplyObject(r);
	if (!ok) {
		PR_NOTICE("ha: the peer withdrew its handover of %s (or redis failed): given back",
			  peer_name);
		ha_apply(HA_REQ_RELEASE, now_ms);
		return;
	}
	__atomic_store_n(&peer_lease, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&handovers_taken, 1, __ATOMIC_RELAXED);
	ack_wait = true;
	ack_own = false;
	ack_next_ms = now_ms + HO_POLL_MS;
	ack_deadline_ms = now_ms + HO_ACK_TIMEOUT_MS;
	PR_NOTICE("ha: took over %s handed over by the peer (its drain): announced once it "
		  "forwards",
		  peer_name);
}

/* The new server of a set of addresses waits for the old one's "forwarding" before it
 * announces them (HO_ACK_TIMEOUT_MS at most): until then neighbours keep sending to the old
 * one, which still serves them. */
static void ack_poll(uint64_t now_ms)
{
	if (!ack_wait || now_ms < ack_next_ms)
		return;
	ack_next_ms = now_ms + HO_POLL_MS;
	const char *name = ack_own ? own_name : peer_name;
	bool go = now_ms >= ack_deadline_ms;
	if (go) {
		PR_WARN("ha: no word from the old server of %s within %d ms: announcing anyway",
			name, HO_ACK_TIMEOUT_MS);
	} else if (ha_redis(now_ms)) {
		char k[96];
		key(k, sizeof(k), "handover", name);
		const char *get[] = {"GET", k};
		redisReply *r = rcmd("handover", RTE_DIM(get), get);
		if (!r)
			return;
		go = r->type == REDIS_REPLY_STRING && strcmp(r->str, "forwarding") == 0;
		freeReplyObject(r);
		if (go) {
			const char *ev[] = {"EVAL", del_ours, "1", k, "forwarding"};
			if ((r = rcmd("handover", RTE_DIM(ev), ev)))
				freeReplyObject(r);
		}
	}
	if (!go)
		return;
	ack_wait = false;
	if (ack_own)
		own_announce_next_ms = now_ms;
	else
		announce_next_ms = now_ms;
}

/* Holding the peer's at its failback: we deleted the held record and serve until it serves
 * (it deletes its failback record then); then we let go and forward what still reaches us
 * to it. A peer that died meanwhile (its lease gone) is not handed anything. */
static void hb_poll(uint64_t now_ms)
{
	if (!hb_wait || now_ms < hb_next_ms)
		return;
	hb_next_ms = now_ms + HO_POLL_MS;
	if (!ha_redis(now_ms))
		return;
	char k_fb[96], k_alive[96], k_held[96];
	key(k_fb, sizeof(k_fb), "failback", peer_name);
	key(k_alive, sizeof(k_alive), "alive", peer_name);
	const char *mget[] = {"MGET", k_fb, k_alive};
	redisReply *r = rcmd("failback", RTE_DIM(mget), mget);
	if (!r)
		return;
	bool asking = r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
		      r->element[0]->type == REDIS_REPLY_STRING;
	bool alive = r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
		     r->element[1]->type == REDIS_REPLY_STRING;
	freeReplyObject(r);
	if (asking)
		return;
	hb_wait = false;
	if (!alive) {
		PR_WARN("ha: the peer's lease expired before it served %s again: we keep it",
			peer_name);
		key(k_held, sizeof(k_held), "held", peer_name);
		const char *set[] = {"SET", k_held, own_name};
		if ((r = rcmd("held", RTE_DIM(set), set)))
			freeReplyObject(r);
		return;
	}
	struct rte_ether_addr mac;
	bool fwd = hcfg.handover_max_ms > 0 && mac_of(peer_name, &mac) == 0;
	if (fwd)
		fwd_start(false, &mac, now_ms); /* before the release: no frame dropped between */
	want_takeover = false;
	__atomic_store_n(&deferring, false, __ATOMIC_RELAXED);
	ha_apply(HA_REQ_RELEASE, now_ms);
	ho_record(peer_name, "forwarding");
	__atomic_fetch_add(&handbacks, 1, __ATOMIC_RELAXED);
	PR_NOTICE("ha: %s handed back to the peer (failback)%s", peer_name,
		  fwd ? ": forwarding what still reaches us to it" : "");
}

/* Every lease_ms / 3: our lease (and, in the same script, a read of the peer's: the gap's
 * bound), then whether our addresses are held by the peer (and if its lease is gone, taken
 * back), then, holding the peer's, whether it asks them back. */
static void lease_tick(uint64_t now_ms)
{
	char k_alive[96], k_peer[96], k_held[96], k_fb[96], ms[16];
	lease_next_ms = now_ms + RTE_MAX(hcfg.lease_ms / 3, 1u);
	if (!ha_redis(now_ms)) {
		if (!own_checked) {
			/* Nobody to ask: our addresses are served rather than left unserved. */
			PR_WARN("ha: serving %s without the fencing check (redis unreachable)",
				own_name);
			own_serve(now_ms, "redis unreachable");
			own_checked = true;
		}
		return;
	}
	key(k_alive, sizeof(k_alive), "alive", own_name);
	key(k_peer, sizeof(k_peer), "alive", peer_name);
	key(k_held, sizeof(k_held), "held", own_name);
	key(k_fb, sizeof(k_fb), "failback", own_name);
	snprintf(ms, sizeof(ms), "%u", hcfg.lease_ms);
	/* our lease, and the PTTL of the peer's: no round trip more than the SET alone */
	static const char renew[] = "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) "
				    "return redis.call('PTTL', KEYS[2])";
	const char *set[] = {"EVAL", renew, "2", k_alive, k_peer, own_name, ms};
	uint64_t sent_ms = dp_now_ms();
	redisReply *r = rcmd("lease", RTE_DIM(set), set);
	if (!r)
		return;
	if (r->type == REDIS_REPLY_INTEGER)
		peer_lease_read(sent_ms, r->integer);
	freeReplyObject(r);
	__atomic_fetch_add(&lease_written, 1, __ATOMIC_RELAXED);

	/* Our addresses: held by a peer whose lease lives (fenced), or taken back from a
	 * holder whose lease is gone (it died holding them), or not held (served). */
	static const char take_back[] = "local h = redis.call('GET', KEYS[1]) "
					"if not h or h == ARGV[1] then return {0, ''} end "
					"if redis.call('EXISTS', 'pr:ha:alive:' .. h) == 0 then "
					"redis.call('DEL', KEYS[1]) return {2, h} end "
					"return {1, h}";
	const char *ev[] = {"EVAL", take_back, "1", k_held, own_name};
	if (!(r = rcmd("held", RTE_DIM(ev), ev)))
		return;
	long long st =
	    r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? r->element[0]->integer : 0;
	char holder[INET6_ADDRSTRLEN] = "";
	if (st && r->element[1]->type == REDIS_REPLY_STRING)
		snprintf(holder, sizeof(holder), "%s", r->element[1]->str);
	freeReplyObject(r);
	if (st == 1) {
		if (__atomic_load_n(&ho_state, __ATOMIC_RELAXED) == HO_ASKED)
			handover_forward(holder, now_ms);
		else
			own_fence(holder);
		/* failback = auto: not after a handover, which the operator asked for */
		if (strcmp(hcfg.failback, "auto") == 0 &&
		    __atomic_load_n(&ho_state, __ATOMIC_RELAXED) == HO_IDLE)
			__atomic_store_n(&failback_wanted, true, __ATOMIC_RELAXED);
		if (redis && __atomic_load_n(&failback_wanted, __ATOMIC_RELAXED)) {
			char px[16], k_mac[96], mac[RTE_ETHER_ADDR_FMT_SIZE];
			snprintf(px, sizeof(px), "%u", hcfg.lease_ms * 3);
			const char *fb[] = {"SET", k_fb, own_name, "PX", px};
			if ((r = rcmd("failback", RTE_DIM(fb), fb)))
				freeReplyObject(r);
			/* where the holder forwards what still reaches it once we serve */
			key(k_mac, sizeof(k_mac), "mac", own_name);
			rte_ether_format_addr(mac, sizeof(mac), &dp_rt.ports[hcfg.port].mac);
			const char *sm[] = {"SET", k_mac, mac, "PX", HO_MAC_PX};
			if (redis && (r = rcmd("mac", RTE_DIM(sm), sm)))
				freeReplyObject(r);
			/* Looked at again soon: the holder's release leaves the addresses
			 * unserved until we see it. */
			lease_next_ms =
			    now_ms + RTE_MIN((uint32_t)DEFER_RECHECK_MS, hcfg.lease_ms / 3);
		}
	} else {
		bool asked = __atomic_load_n(&failback_wanted, __ATOMIC_RELAXED);
		if (st == 2)
			PR_NOTICE("ha: %s taken back from %s: its lease expired", own_name, holder);
		bool served = own_serve(now_ms, st == 2 ? "its holder's lease expired"
							: "the peer released it");
		if (served && asked && st == 0 && own_announce_left) {
			/* A failback the holder agreed to: it serves until it sees us serve (the
			 * failback record gone, below), then forwards; we announce after that. */
			own_announce_next_ms = UINT64_MAX;
			ack_wait = true;
			ack_own = true;
			ack_next_ms = now_ms + HO_POLL_MS;
			ack_deadline_ms = now_ms + HO_ACK_TIMEOUT_MS;
		}
		if (redis && (asked || st == 2)) {
			const char *del[] = {"DEL", k_fb};
			if ((r = rcmd("failback", RTE_DIM(del), del)))
				freeReplyObject(r);
		}
		__atomic_store_n(&failback_wanted, false, __ATOMIC_RELAXED);
		if (redis && __atomic_load_n(&ho_state, __ATOMIC_RELAXED) == HO_ASKED)
			handover_wait(now_ms);
	}
	if (!own_checked && redis && !__atomic_load_n(&held, __ATOMIC_RELAXED)) {
		/* Started: we hold nothing, whatever a held record of ours says (we held the
		 * peer's before a restart): the peer may serve its addresses again. */
		key(k_held, sizeof(k_held), "held", peer_name);
		const char *ev2[] = {"EVAL", del_ours, "1", k_held, own_name};
		if ((r = rcmd("held at start", RTE_DIM(ev2), ev2))) {
			if (r->type == REDIS_REPLY_INTEGER && r->integer == 1)
				PR_NOTICE("ha: %s was recorded as held by us before our start: "
					  "given back",
					  peer_name);
			freeReplyObject(r);
		}
	}
	own_checked = true;
	if (redis && !__atomic_load_n(&held, __ATOMIC_RELAXED) && !hb_wait && !ack_wait)
		handover_take(now_ms);
	if (!redis || !__atomic_load_n(&held, __ATOMIC_RELAXED) || hb_wait)
		return;

	/* Holding the peer's: given back when it asks (failback) or when the record is no
	 * longer ours (it took them back after our lease expired: we were cut from Redis). */
	key(k_held, sizeof(k_held), "held", peer_name);
	key(k_fb, sizeof(k_fb), "failback", peer_name);
	const char *mget[] = {"MGET", k_held, k_fb};
	if (!(r = rcmd("peer's held", RTE_DIM(mget), mget)))
		return;
	bool ours = r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
		    r->element[0]->type == REDIS_REPLY_STRING &&
		    strcmp(r->element[0]->str, own_name) == 0;
	bool asked = r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
		     r->element[1]->type == REDIS_REPLY_STRING;
	freeReplyObject(r);
	if (ours && !asked)
		return;
	if (ours) {
		/* It asks (failback): it serves once the held record is gone; we serve until
		 * then, and forward what still reaches us after (hb_poll). */
		const char *ev[] = {"EVAL", del_ours, "1", k_held, own_name};
		if ((r = rcmd("failback", RTE_DIM(ev), ev)))
			freeReplyObject(r);
		hb_wait = true;
		hb_next_ms = now_ms + HO_POLL_MS;
		PR_NOTICE("ha: giving %s back to the peer (failback): served until it serves it",
			  peer_name);
		return;
	}
	PR_NOTICE("ha: giving %s back to the peer: the held record no longer names us", peer_name);
	want_takeover = false;
	__atomic_store_n(&deferring, false, __ATOMIC_RELAXED);
	ha_apply(HA_REQ_RELEASE, now_ms);
}

/* A takeover asked: done when the peer's lease is gone (recorded in pr:ha:held:<peer> in
 * the same script, so that a peer starting meanwhile sees it), deferred while it lives,
 * done without asking when Redis is away. */
static void takeover_try(uint64_t now_ms)
{
	char k_alive[96], k_held[96];
	check_next_ms = now_ms + DEFER_RECHECK_MS;
	if (!fencing_on() || !ha_redis(now_ms)) {
		if (fencing_on()) {
			PR_WARN("ha: taking over %s without the fencing check (redis unreachable)",
				peer_name);
			__atomic_fetch_add(&takeover_unfenced, 1, __ATOMIC_RELAXED);
		}
		want_takeover = false;
		__atomic_store_n(&deferring, false, __ATOMIC_RELAXED);
		ha_apply(HA_REQ_TAKEOVER, now_ms);
		return;
	}
	key(k_alive, sizeof(k_alive), "alive", peer_name);
	key(k_held, sizeof(k_held), "held", peer_name);
	/* 1: taken; else -1 - the lease's PTTL (-1: no expiry known): a dead peer's lease often
	 * has a few ms left when VRRP calls the hook (the election may end before it, with
	 * the shipped timers), and the next look is then right after it expires, not up to
	 * DEFER_RECHECK_MS later (tests/bench/ha_failover.md) */
	static const char fence[] = "local t = redis.call('PTTL', KEYS[1]) "
				    "if t ~= -2 then return -1 - math.max(t, 0) end "
				    "redis.call('SET', KEYS[2], ARGV[1]) return 1";
	const char *ev[] = {"EVAL", fence, "2", k_alive, k_held, own_name};
	uint64_t sent_ms = dp_now_ms();
	redisReply *r = rcmd("takeover", RTE_DIM(ev), ev);
	if (!r)
		return; /* again at the next check, reconnecting */
	long long res = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
	bool ok = res == 1;
	freeReplyObject(r);
	if (ok || res < -1) /* gone, or live with that PTTL (-1: 0 ms or no expiry, unused) */
		peer_lease_read(sent_ms, ok ? -2 : -1 - res);
	__atomic_store_n(&peer_lease, ok ? 0 : 1, __ATOMIC_RELAXED);
	if (!ok) {
		long long left = res < -1 ? -1 - res : 0; /* ms the lease has left */
		if (left > 0 && left < DEFER_RECHECK_MS)
			check_next_ms = now_ms + (uint64_t)left + 1;
		if (!__atomic_load_n(&deferring, __ATOMIC_RELAXED)) {
			__atomic_store_n(&deferring, true, __ATOMIC_RELAXED);
			__atomic_fetch_add(&takeover_deferred, 1, __ATOMIC_RELAXED);
			PR_WARN("ha: takeover of %s deferred: the peer's lease %s lives (%lld ms "
				"left; it runs and sees redis: a split, not a dead peer); checking "
				"again when it would expire, every %u ms at most",
				peer_name, k_alive, left, DEFER_RECHECK_MS);
		}
		return;
	}
	if (__atomic_load_n(&deferring, __ATOMIC_RELAXED))
		PR_NOTICE("ha: the peer's lease %s expired: taking over", k_alive);
	want_takeover = false;
	__atomic_store_n(&deferring, false, __ATOMIC_RELAXED);
	ha_apply(HA_REQ_TAKEOVER, now_ms);
}

/* Release (keepalived's BACKUP): the held record, if it names us, goes too, so that the
 * owner serves its addresses again at its next lease refresh. */
static void release(uint64_t now_ms)
{
	char k_held[96];
	want_takeover = false;
	asked_at_ms = 0;
	__atomic_store_n(&deferring, false, __ATOMIC_RELAXED);
	hb_wait = false;
	if (!ack_own)
		ack_wait = false;
	if (!__atomic_load_n(&held, __ATOMIC_RELAXED))
		return;
	ha_apply(HA_REQ_RELEASE, now_ms);
	if (!fencing_on() || !ha_redis(now_ms))
		return;
	key(k_held, sizeof(k_held), "held", peer_name);
	const char *ev[] = {"EVAL", del_ours, "1", k_held, own_name};
	redisReply *r = rcmd("release", RTE_DIM(ev), ev);
	if (r)
		freeReplyObject(r);
}

/* ---- keepalived's notify FIFO ([ha] vrrp_fifo): the state changes of the peer's instance
 * read here, on the control lcore, instead of a hook process per change (fork, sh,
 * poprelayctl, telemetry: some 4 ms on the failover's path, tests/bench/ha_failover.md).
 * keepalived creates the FIFO (root's, 0644) and opens it read-write and non-blocking: it
 * never waits for us. Its lines: INSTANCE "<name>" <STATE> <priority>. ---- */
static int fifo_fd = -1;
static ino_t fifo_ino;
static bool fifo_warned;
static uint64_t fifo_check_ms;
static char fifo_buf[512];
static size_t fifo_len;
static uint64_t vrrp_changes; /* telemetry: ro (atomic): changes acted on from the FIFO */
/* The audit of what a FIFO line asked (poprelayctl audits what the hook asks): the line's
 * request, taken by the next ha_poll; its outcome written to pr:audit one loop after it,
 * once the announcement has left (control lcore only) */
static int fifo_req = HA_REQ_NONE, audit_req = HA_REQ_NONE;
static bool audit_deferred;

static void vrrp_line(const char *l)
{
	char name[64], state[16];
	int req = HA_REQ_NONE;

	if (sscanf(l, "INSTANCE \"%63[^\"]\" %15s", name, state) != 2 ||
	    strcmp(name, hcfg.vrrp_instance) != 0)
		return;
	if (strcmp(state, "MASTER") == 0)
		req = HA_REQ_TAKEOVER;
	else if (!strcmp(state, "BACKUP") || !strcmp(state, "FAULT") || !strcmp(state, "STOP"))
		req = HA_REQ_RELEASE;
	if (req == HA_REQ_NONE)
		return;
	__atomic_store_n(&pending, req, __ATOMIC_RELEASE);
	fifo_req = req;
	__atomic_fetch_add(&vrrp_changes, 1, __ATOMIC_RELAXED);
	PR_NOTICE("ha: keepalived: %s %s (%s): %s", name, state, hcfg.vrrp_fifo,
		  req == HA_REQ_TAKEOVER ? "taking over" : "releasing");
}

/* Opened when keepalived has made it (looked at every second: a restarted keepalived may
 * make a new one), refused when others than its owner could write it; read at every loop. */
static void fifo_poll(uint64_t now_ms)
{
	if (!hcfg.vrrp_fifo[0])
		return;
	if (now_ms >= fifo_check_ms) {
		struct stat st;
		fifo_check_ms = now_ms + 1000;
		bool there = stat(hcfg.vrrp_fifo, &st) == 0;
		bool ok = there && S_ISFIFO(st.st_mode) && !(st.st_mode & 0022) &&
			  (st.st_uid == 0 || st.st_uid == geteuid());
		if (ok && (fifo_fd < 0 || st.st_ino != fifo_ino)) {
			if (fifo_fd >= 0)
				close(fifo_fd);
			fifo_fd = open(hcfg.vrrp_fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
			fifo_ino = st.st_ino;
			fifo_len = 0;
			if (fifo_fd >= 0)
				PR_NOTICE("ha: reading keepalived's changes of %s from %s",
					  hcfg.vrrp_instance, hcfg.vrrp_fifo);
			fifo_warned = false;
		} else if (!ok && !fifo_warned) {
			PR_WARN(
			    "ha: %s: %s (keepalived's vrrp_notify_fifo, root's or ours, written by "
			    "its owner only): only poprelayctl ha takeover (a notify hook) moves "
			    "%s",
			    hcfg.vrrp_fifo, there ? "not such a FIFO" : "not there yet",
			    hcfg.vrrp_instance);
			fifo_warned = true;
		}
	}
	/* every loop (about 250 us apart when idle): a read that finds nothing costs less than
	 * a microsecond, and a MASTER line waits for the next loop only */
	if (fifo_fd < 0)
		return;
	for (;;) {
		ssize_t n = read(fifo_fd, fifo_buf + fifo_len, sizeof(fifo_buf) - 1 - fifo_len);
		if (n <= 0)
			break; /* nothing, or no writer (keepalived not running) */
		fifo_len += (size_t)n;
		fifo_buf[fifo_len] = '\0';
		char *nl;
		while ((nl = memchr(fifo_buf, '\n', fifo_len))) {
			*nl = '\0';
			vrrp_line(fifo_buf);
			fifo_len -= (size_t)(nl + 1 - fifo_buf);
			memmove(fifo_buf, nl + 1, fifo_len);
		}
		if (fifo_len == sizeof(fifo_buf) - 1)
			fifo_len = 0; /* no line is that long: dropped */
	}
}

/* "ha.takeover" or "ha.release" of the peer's addresses as keepalived's FIFO asked, by
 * "dataplane:<our address>": ok when done, deferred (once) while the peer's lease lives. */
static void fifo_audit(uint64_t now_ms)
{
	bool take = audit_req == HA_REQ_TAKEOVER;
	const char *result;
	if (audit_req == HA_REQ_NONE)
		return;
	if (take && want_takeover) { /* deferred: said once, the outcome later */
		if (audit_deferred)
			return;
		audit_deferred = true;
		result = "deferred";
	} else {
		/* done, unless a later request changed it */
		result = take == __atomic_load_n(&held, __ATOMIC_RELAXED) ? "ok" : "superseded";
		audit_req = HA_REQ_NONE;
	}
	if (!fencing_on() || !ha_redis(now_ms))
		return;
	char a[DP_PORT_EXTRA_MAX * 2 * (INET6_ADDRSTRLEN + 1)], detail[PR_KS_URI_MAX];
	char actor[PR_KS_NAME_MAX];
	addrs_str(a, sizeof(a));
	snprintf(actor, sizeof(actor), "dataplane:%.48s", own_name);
	snprintf(detail, sizeof(detail), "keepalived %.63s %s: %.160s", hcfg.vrrp_instance,
		 take ? "MASTER" : "BACKUP/FAULT/STOP", a);
	if (pr_ks_audit_add(redis, actor, take ? "ha.takeover" : "ha.release", "peer", detail,
			    result) < 0)
		PR_WARN("ha: the audit entry of %s failed", take ? "a takeover" : "a release");
}

static unsigned ha_poll(uint64_t now_ms)
{
	fifo_audit(now_ms); /* what the last loop did, its announcement sent */
	fifo_poll(now_ms);
	int req = __atomic_exchange_n(&pending, HA_REQ_NONE, __ATOMIC_ACQ_REL);
	if (req != HA_REQ_NONE && req == fifo_req) {
		audit_req = req;
		audit_deferred = false;
	}
	fifo_req = HA_REQ_NONE;

	if (req == HA_REQ_TAKEOVER && !__atomic_load_n(&held, __ATOMIC_RELAXED)) {
		if (!want_takeover)
			asked_at_ms = now_ms;
		want_takeover = true;
		check_next_ms = 0;
	} else if (req == HA_REQ_RELEASE) {
		release(now_ms);
	} else if (req == HA_REQ_FAILBACK && fenced_by[0]) {
		if (fwd_on && dp_ha_fwd_own)
			fwd_stop(now_ms, "failback asked"); /* the peer will forward to us */
		__atomic_store_n(&failback_wanted, true, __ATOMIC_RELAXED);
		lease_next_ms = 0; /* asked at once */
	} else if (req == HA_REQ_HANDOVER) {
		handover_ask(now_ms);
	}
	if (fencing_on() && now_ms >= lease_next_ms)
		lease_tick(now_ms);
	if (want_takeover && now_ms >= check_next_ms)
		takeover_try(now_ms);
	ack_poll(now_ms);
	hb_poll(now_ms);
	fwd_poll(now_ms);
	if (announce_left && now_ms >= announce_next_ms) {
		announce_list(false);
		announce_left--;
		announce_next_ms = now_ms + hcfg.announce_interval_ms;
	}
	if (own_announce_left && now_ms >= own_announce_next_ms) {
		announce_list(true);
		own_announce_left--;
		own_announce_next_ms = now_ms + hcfg.announce_interval_ms;
	}
	return 0;
}

/* ---- telemetry (its own thread: requests go to control through `pending`) ---- */

static int tel_status(const char *cmd, const char *params, struct rte_tel_data *d)
{
	char a[DP_PORT_EXTRA_MAX * 2 * (INET6_ADDRSTRLEN + 1)];
	(void)cmd;
	(void)params;
	addrs_str(a, sizeof(a));
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "configured", dp_ha_configured());
	rte_tel_data_add_dict_u64(d, "port", hcfg.port);
	rte_tel_data_add_dict_string(d, "peer_addresses", a);
	rte_tel_data_add_dict_u64(d, "held", __atomic_load_n(&held, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "since",
				  (uint64_t)__atomic_load_n(&since_s, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "start_time", dp_rt.start_time);
	/* the last takeover: -1 when not known (a handover's has no ask; no datagram yet) */
	uint64_t t0 = __atomic_load_n(&fo_held_tsc, __ATOMIC_RELAXED);
	uint64_t t1 = __atomic_load_n(&fo_first_tsc, __ATOMIC_RELAXED);
	rte_tel_data_add_dict_int(d, "takeover_asked_ms",
				  (int)__atomic_load_n(&fo_asked_ms, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_int(
	    d, "takeover_first_datagram_us",
	    t0 && t1 >= t0
		? (int)RTE_MIN((t1 - t0) * 1000000 / rte_get_tsc_hz(), (uint64_t)INT32_MAX)
		: -1);
	/* the gap's bound: the peer's last renewal to that first datagram (dp_ha_gap_bounds) */
	int64_t gmin, gmax;
	dp_ha_gap_bounds(__atomic_load_n(&fo_renewed_ms, __ATOMIC_RELAXED),
			 t1 ? (int64_t)((t1 - dp_rt.start_tsc) / dp_rt.tsc_per_ms) : -1,
			 hcfg.lease_ms, &gmin, &gmax);
	rte_tel_data_add_dict_int(d, "gap_min_ms", (int)RTE_MIN(gmin, (int64_t)INT32_MAX));
	rte_tel_data_add_dict_int(d, "gap_max_ms", (int)RTE_MIN(gmax, (int64_t)INT32_MAX));
	rte_tel_data_add_dict_u64(d, "changes", __atomic_load_n(&changes, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "turn_allocations_taken",
				  (uint64_t)__atomic_load_n(&taken, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "last_error",
				  (uint64_t)-__atomic_load_n(&last_error, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "announces_sent",
				  __atomic_load_n(&announces, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "pending", __atomic_load_n(&pending, __ATOMIC_RELAXED) != 0);
	/* fencing */
	rte_tel_data_add_dict_u64(d, "fencing", fencing_on());
	rte_tel_data_add_dict_string(d, "own_set", own_name);
	rte_tel_data_add_dict_string(d, "peer_set", peer_name);
	rte_tel_data_add_dict_u64(d, "lease_ms", hcfg.lease_ms);
	rte_tel_data_add_dict_string(d, "failback_policy", hcfg.failback);
	rte_tel_data_add_dict_u64(
	    d, "own_served", __atomic_load_n(&dp_ha_fence_port, __ATOMIC_RELAXED) != hcfg.port);
	rte_tel_data_add_dict_string(d, "own_held_by", fenced_by);
	rte_tel_data_add_dict_u64(d, "failback_pending",
				  __atomic_load_n(&failback_wanted, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_int(d, "peer_lease", __atomic_load_n(&peer_lease, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "takeover_deferring",
				  __atomic_load_n(&deferring, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "takeover_deferred",
				  __atomic_load_n(&takeover_deferred, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "takeover_unfenced",
				  __atomic_load_n(&takeover_unfenced, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "own_fenced", __atomic_load_n(&fences, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "own_failbacks",
				  __atomic_load_n(&failbacks, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "lease_written",
				  __atomic_load_n(&lease_written, __ATOMIC_RELAXED));
	/* handover */
	int ho = __atomic_load_n(&ho_state, __ATOMIC_RELAXED);
	rte_tel_data_add_dict_string(d, "handover", ho_names[ho]);
	rte_tel_data_add_dict_string(d, "handover_error", ho_error);
	rte_tel_data_add_dict_u64(d, "handover_quiet_ms", hcfg.handover_quiet_ms);
	rte_tel_data_add_dict_u64(d, "handover_max_ms", hcfg.handover_max_ms);
	bool fo = __atomic_load_n(&fwd_on, __ATOMIC_RELAXED);
	rte_tel_data_add_dict_string(d, "forwarding", !fo ? "" : dp_ha_fwd_own ? "own" : "peer");
	rte_tel_data_add_dict_u64(d, "forwarded_frames",
				  __atomic_load_n(&fwd_frames, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "forwarded_ms", __atomic_load_n(&fwd_ms, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "handovers", __atomic_load_n(&handovers, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "handovers_taken",
				  __atomic_load_n(&handovers_taken, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_u64(d, "handbacks", __atomic_load_n(&handbacks, __ATOMIC_RELAXED));
	rte_tel_data_add_dict_string(d, "vrrp_fifo", hcfg.vrrp_fifo);
	rte_tel_data_add_dict_u64(d, "vrrp_fifo_open", fifo_fd >= 0);
	rte_tel_data_add_dict_u64(d, "vrrp_changes",
				  __atomic_load_n(&vrrp_changes, __ATOMIC_RELAXED));
	return 0;
}

static int tel_request(struct rte_tel_data *d, int req)
{
	if (!dp_ha_configured())
		return -EINVAL; /* no [ha] peer addresses: nothing to take */
	__atomic_store_n(&pending, req, __ATOMIC_RELEASE);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "result", "queued");
	return 0;
}

static int tel_takeover(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	return tel_request(d, HA_REQ_TAKEOVER);
}

static int tel_release(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	return tel_request(d, HA_REQ_RELEASE);
}

static int tel_failback(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	return tel_request(d, HA_REQ_FAILBACK);
}

static int tel_handover(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	return tel_request(d, HA_REQ_HANDOVER);
}

static int ha_init(void)
{
	rte_telemetry_register_cmd("/poprelay/ha/status", tel_status,
				   "Address takeover ([ha]): peer addresses, held, since, fencing. "
				   "No parameters");
	rte_telemetry_register_cmd("/poprelay/ha/takeover", tel_takeover,
				   "Take over the [ha] peer addresses (once the peer's lease is "
				   "gone). No parameters");
	rte_telemetry_register_cmd("/poprelay/ha/release", tel_release,
				   "Give the [ha] peer addresses back. No parameters");
	rte_telemetry_register_cmd("/poprelay/ha/failback", tel_failback,
				   "Ask the peer that holds our own addresses to give them back. "
				   "No parameters");
	rte_telemetry_register_cmd("/poprelay/ha/handover", tel_handover,
				   "Hand our own addresses, sessions and allocations to the [ha] "
				   "peer (drain --handover). No parameters");
	if (dp_ha_configured()) {
		char a[DP_PORT_EXTRA_MAX * 2 * (INET6_ADDRSTRLEN + 1)];
		const struct dp_port_cfg *pc = &dp_cfg.port[hcfg.port];
		const struct dp_prefix *own = pc->ipv4.set ? &pc->ipv4 : &pc->ipv6;
		const struct dp_prefix_list *pl = hcfg.peer4.n ? &hcfg.peer4 : &hcfg.peer6;
		if (own->set)
			dp_ipaddr_str(&own->addr, own_name, sizeof(own_name));
		dp_ipaddr_str(&pl->p[0].addr, peer_name, sizeof(peer_name));
		addrs_str(a, sizeof(a));
		PR_INFO("ha: backup for %s on port%u (not answered until a takeover)", a,
			hcfg.port);
		/* Our own addresses wait for the first look at Redis: a peer may hold them. */
		if (fencing_on())
			__atomic_store_n(&dp_ha_fence_port, (uint16_t)hcfg.port, __ATOMIC_RELEASE);
		else
			PR_WARN("ha: port%u has no address of its own: no lease, no fencing",
				hcfg.port);
	}
	return 0;
}

static void ha_teardown(void)
{
	__atomic_store_n(&held, false, __ATOMIC_RELEASE);
	__atomic_store_n(&dp_ha_fwd_port, DP_HA_NO_FENCE, __ATOMIC_RELEASE);
	if (redis && fencing_on()) {
		/* A planned stop: the peer need not wait for the lease to expire. */
		char k[96];
		key(k, sizeof(k), "alive", own_name);
		const char *del[] = {"DEL", k};
		redisReply *r = pr_redis_cmdargv(redis, RTE_DIM(del), del, NULL);
		if (r)
			freeReplyObject(r);
	}
	pr_redis_close(redis);
	redis = NULL;
	if (fifo_fd >= 0)
		close(fifo_fd);
	fifo_fd = -1;
}

static struct dp_feature ha_feature = {
    .name = "ha",
    .init = ha_init,
    .teardown = ha_teardown,
    .poll = ha_poll,
};
DP_FEATURE_REGISTER(ha_feature);
