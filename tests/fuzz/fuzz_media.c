/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target for the media anchor's packet path (dataplane/media/media_dp.c): RTP,
 * RTCP, SRTP and SRTCP datagrams against a live session table, through the worker's real
 * way in (dp_worker.c's input(): the short way or the full parse, then the feature's burst
 * handler), the control lcore's handling of what the worker punts (media_punt, neighbour
 * resolution), what control hands back (dp_punt_return) and what goes to our own addresses
 * (the hairpin), and the ring port's TX queues, where every relayed frame is checked and
 * freed.
 *
 * Set up once: EAL without hugepages, PCI or telemetry; the dataplane's mbuf pool (with its
 * private area); one "ring:" port (dp_ports_init) with an IPv4 and an IPv6 address and their
 * gateways resolved; the [media] defaults; RCU. Each input then installs seven sessions
 * through the control lcore's own code (sess_apply): SRTP<->SRTP in every suite (mixed
 * suites too), SRTP<->clear, clear<->clear, IPv4, IPv6 and IPv4<->IPv6, rtcp-mux or not,
 * latching or not, with fixed keys; and ends them all at its end.
 *
 * The input: one byte of settings (bit 0: clear_latch = first, bit 1: relatch_interval_ms
 * = 0, bit 2: a bandwidth limit on one leg), then records of 6 header bytes, each followed
 * by its payload bytes (fewer when the input runs out: the rest is a pattern):
 *   h0: session (bits 0-2; 7: a control operation, below), leg (bit 3), port (bits 4-5:
 *       RTP, RTCP, RTCP on the RTP port, a relay port without a session), way in (bits
 *       6-7: input() twice as often, the full parse, a frame in two segments)
 *   h1: source (bits 0-2: SDP peer, its host on another port, two other hosts, the latched
 *       source, an on-link resolved and an unresolved neighbour, a multicast address or, h5
 *       odd, our own address),
 *       mode (bits 3-4: valid, valid then one byte flipped or truncated, raw bytes, the
 *       last valid datagram to that leg again), damage (bits 5-7: none x3, IPv4 header
 *       checksum, UDP checksum, zero UDP checksum, UDP length short of the IP payload, the
 *       other address family)
 *   h2: SSRC (bits 0-1), keep the fuzzer's RTP/RTCP header bits (bit 2), end of burst (bit
 *       3), bytes after the datagram (bits 4-5), buffer (bits 6-7: headroom 128 or none,
 *       the NIC's tailroom or none)
 *   h3: payload length (251-255: 507-1530 bytes)
 *   h4, h5: where and what to flip (h5 = 0: truncate there); h4 also picks SSRCs beyond 3
 * "valid" makes the payload a well-formed RTP or RTCP packet and, toward a leg in SRTP,
 * protects it with that leg's device key (the harness is the device), so that the fuzzer
 * reaches past authentication. Control operations (session 7): h1 bits 0-2 the session,
 * h0 bits 4-5: update with the same record, a new SDP port for leg (h0 bit 3), new keys
 * for that leg, end and reinstall; h0 bit 6: while the burst before it is half done (after
 * the worker, before control handles what it punted).
 *
 * Invariants (__builtin_trap): every mbuf comes back to the pool by the end of each input
 * and every external buffer is freed; every relayed frame parses with correct checksums,
 * from the relay address and port of the leg that sent it, and its payload is, after
 * unprotecting with the leg's key toward its device, exactly the plaintext of a datagram
 * that reached the other leg in the same burst; a leg's latch moves only to the source of
 * a datagram to that leg that could authenticate (SRTP: valid and untouched) or pass its
 * checksum (clear); every counter only grows, and a leg's transmit counter by at least its
 * frames on the wire; a leg in clear re-latches at most once per relatch_interval_ms (2 s:
 * once per input), and RTCP toward a device never goes to an RTCP source latched under an
 * older SDP generation of its leg (FUZZ_MEDIA_STRICT=0 turns these two off, =relatch or
 * =rtcp keeps one; the anchor failed both until they were fixed). FUZZ_MEDIA_VERBOSE=1 prints what
 * each input did, =2 each datagram and relayed frame. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "common/log.h"
#include "crypto/sdes.h"
#include "crypto/srtp.h"
#include "dataplane/dp.h"
#include "dataplane/dp_neigh.h"
#include "dataplane/dp_port.h"
#include "dataplane/dp_udp.h"
#include "tests/fuzz/media_fz_glue.h"
#include "tests/inet_ref.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct dp_runtime dp_rt; /* normally in dp_main.c */

#define NSESS	  7
#define BURST_MAX 32
#define PL_MAX	  1600
/* The harness's own bookkeeping and checks: no coverage (features of the code under test
 * only, and cheaper runs). */
#ifdef __clang__
#define NOCOV __attribute__((no_sanitize("coverage")))
#else
#define NOCOV
#endif
#define FAIL(...)                                                                                  \
	do {                                                                                       \
		fprintf(stderr, "fuzz_media: " __VA_ARGS__);                                       \
		fputc('\n', stderr);                                                               \
		__builtin_trap();                                                                  \
	} while (0)

static struct rte_mempool *pool;
static struct dp_worker *W;
static struct dp_lcore_stats wstats;
static struct rte_ring *txr[2]; /* the ring port's TX queues: worker 0, control */
static unsigned baseline;
static unsigned xbufs_live;
static bool check_relatch, strict_relatch, strict_rtcp;
static uint32_t rtcp_gen[NSESS][2]; /* the leg generation its RTCP latch was learned under */
static int verbose;
static unsigned in_dgrams, in_frames_out;
static struct dp_lcore_stats v_ws, v_cs;

static const struct rte_ether_addr mac_gw4 = {{0x02, 0, 0, 0, 4, 1}},
				   mac_gw6 = {{0x02, 0, 0, 0, 6, 1}},
				   mac_nb4 = {{0x02, 0, 0, 0, 4, 0x20}},
				   mac_nb6 = {{0x02, 0, 0, 0, 6, 0x20}};

static struct dp_ipaddr ip(const char *s)
{
	struct dp_ipaddr a;

	memset(&a, 0, sizeof(a));
	a.family = strchr(s, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(a.family, s, a.family == AF_INET ? (void *)&a.v4 : a.v6) != 1)
		FAIL("bad address %s", s);
	return a;
}

NOCOV static bool ip_eq(const struct dp_ipaddr *a, const struct dp_ipaddr *b)
{
	if (a->family != b->family)
		return false;
	return a->family == AF_INET ? a->v4 == b->v4 : !memcmp(a->v6, b->v6, 16);
}

NOCOV static bool ip_unset(const struct dp_ipaddr *a)
{
	static const uint8_t z[16];

	return a->family == 0 || (a->family == AF_INET ? a->v4 == 0 : !memcmp(a->v6, z, 16));
}

/* ---- addresses: ours, and the sources the fuzzer picks from (per family) ---- */
enum { SRC_PEER, SRC_PEER_PORT, SRC_ALT_A, SRC_ALT_B, SRC_LATCHED, SRC_NEIGH, SRC_UNRES, SRC_BAD };
static struct dp_ipaddr our[2], alt_a[2], alt_b[2], neigh[2], unres[2], bad[2];
static int fidx(int family)
{
	return family == AF_INET6;
}

/* ---- the sessions ---- */
struct leg_tpl {
	const char *family, *relay, *peer;
	uint16_t peer_port;
	bool latch, mux;
	const char *suite; /* NULL: clear */
	uint32_t max_kbps;
};
static const struct leg_tpl tpl[NSESS][2] = {
    /* SRTP 80 <-> SRTP 80, IPv4, no mux */
    {{"ip4", "198.51.100.10", "203.0.113.1", 5000, true, false, "AES_CM_128_HMAC_SHA1_80", 0},
     {"ip4", "198.51.100.10", "203.0.113.2", 5002, true, false, "AES_CM_128_HMAC_SHA1_80", 0}},
    /* SRTP 32 (mux) <-> SRTP 80 (no latch), IPv4 */
    {{"ip4", "198.51.100.10", "203.0.113.3", 6000, true, true, "AES_CM_128_HMAC_SHA1_32", 0},
     {"ip4", "198.51.100.10", "203.0.113.4", 6002, false, false, "AES_CM_128_HMAC_SHA1_80", 0}},
    /* GCM (mux) <-> GCM (SDP address not known yet), IPv6 */
    {{"ip6", "2001:db8:100::10", "2001:db8:7::1", 7000, true, true, "AEAD_AES_128_GCM", 0},
     {"ip6", "2001:db8:100::10", "", 0, true, false, "AEAD_AES_128_GCM", 0}},
    /* SRTP 80 (mux, held: 0.0.0.0) <-> clear, IPv4 */
    {{"ip4", "198.51.100.10", "0.0.0.0", 0, true, true, "AES_CM_128_HMAC_SHA1_80", 0},
     {"ip4", "198.51.100.10", "203.0.113.6", 8000, true, false, NULL, 0}},
    /* clear IPv4 <-> GCM IPv6 (mux) */
    {{"ip4", "198.51.100.10", "203.0.113.7", 9000, true, false, NULL, 0},
     {"ip6", "2001:db8:100::10", "2001:db8:7::2", 9002, true, true, "AEAD_AES_128_GCM", 0}},
    /* clear (no latch) <-> clear (mux), IPv4 */
    {{"ip4", "198.51.100.10", "203.0.113.8", 10000, false, false, NULL, 0},
     {"ip4", "198.51.100.10", "203.0.113.9", 10002, true, true, NULL, 0}},
    /* clear (bandwidth limit when asked) <-> SRTP 32 (mux, no latch), IPv6 */
    {{"ip6", "2001:db8:100::10", "2001:db8:7::3", 11000, true, false, NULL, 0},
     {"ip6", "2001:db8:100::10", "2001:db8:7::4", 11002, false, true, "AES_CM_128_HMAC_SHA1_32",
      0}},
};
static struct pr_ks_session rec[NSESS]; /* this input's records */
static uint8_t keygen[NSESS][2];	/* which key set each leg has now */

/* key||salt (base64) for session s, leg l, direction d (0 rx, 1 tx), key set g. */
NOCOV static void key_b64(const char *suite, int s, int l, int d, int g, char *out, size_t len)
{
	struct pr_sdes_crypto c = {.tag = 1};
	char buf[128];

	c.profile = (enum pr_srtp_profile)pr_srtp_profile_from_name(suite);
	for (int i = 0; i < 16; i++)
		c.key[i] = (uint8_t)(0x10 * s + 4 * l + 2 * d + g + i * 17);
	for (int i = 0; i < 14; i++)
		c.salt[i] = (uint8_t)(0xa0 ^ (s << 4) ^ (l << 3) ^ (d << 2) ^ g ^ (i * 29));
	if (pr_sdes_format(&c, buf, sizeof(buf)) < 0)
		FAIL("sdes format");
	const char *b = strstr(buf, "inline:");
	snprintf(out, len, "%s", b + 7);
}

NOCOV static void rec_build(int s, bool bw)
{
	struct pr_ks_session *k = &rec[s];

	memset(k, 0, sizeof(*k));
	snprintf(k->id, sizeof(k->id), "fz%d", s);
	snprintf(k->cdr_id, sizeof(k->cdr_id), "cdr%d", s);
	snprintf(k->media, sizeof(k->media), "%s", s & 1 ? "video" : "audio");
	for (int l = 0; l < 2; l++) {
		const struct leg_tpl *t = &tpl[s][l];
		struct pr_ks_leg *g = &k->leg[l];
		snprintf(g->party, sizeof(g->party), "party%d%c", s, 'a' + l);
		snprintf(g->family, sizeof(g->family), "%s", t->family);
		snprintf(g->relay_addr, sizeof(g->relay_addr), "%s", t->relay);
		snprintf(g->peer_addr, sizeof(g->peer_addr), "%s", t->peer);
		g->relay_port = (uint16_t)(fz_media_port_min() + 4 * s + 2 * l);
		g->peer_port = t->peer_port;
		g->latch = t->latch;
		g->rtcp_mux = t->mux;
		g->max_kbps = t->max_kbps;
		if (s == 6 && l == 0 && bw)
			g->max_kbps = 1; /* a burst of 1531 bytes */
		g->encrypted = t->suite != NULL;
		if (t->suite) {
			snprintf(g->profile, sizeof(g->profile), "RTP/SAVP");
			snprintf(g->suite, sizeof(g->suite), "%s", t->suite);
			key_b64(t->suite, s, l, 0, 0, g->key_rx, sizeof(g->key_rx));
			key_b64(t->suite, s, l, 1, 0, g->key_tx, sizeof(g->key_tx));
		} else {
			snprintf(g->profile, sizeof(g->profile), "RTP/AVP");
		}
		keygen[s][l] = 0;
	}
}

/* The live sessions, as of the last install, update or end. */
static struct media_sess *live[NSESS];

NOCOV static void sess_apply(int s)
{
	if (fz_sess_apply(&rec[s]) != 0)
		FAIL("session %d refused", s);
	live[s] = fz_sess_find(rec[s].id);
}

NOCOV static struct media_leg *leg_of(int s, int l)
{
	if (!live[s])
		FAIL("session %d not live", s);
	return &live[s]->leg[l];
}

/* ---- the device side: SRTP senders with the legs' rx keys (per leg and SSRC) ---- */
struct dev_ctx {
	int s, l;
	uint32_t ssrc;
	struct pr_srtp_ctx *c;
};
static struct dev_ctx devs[64];
static unsigned ndevs;

NOCOV static struct pr_srtp_ctx *ctx_make(const struct pr_sdes_crypto *k,
					  enum pr_srtp_direction dir, uint32_t ssrc, int any,
					  uint32_t roc)
{
	struct pr_srtp_params p = {.profile = k->profile,
				   .direction = dir,
				   .ssrc = ssrc,
				   .any_ssrc = any,
				   .master_key = k->key,
				   .master_salt = k->salt,
				   .mki = k->mki,
				   .mki_len = k->mki_len,
				   .initial_roc = roc};
	struct pr_srtp_ctx *c = NULL;

	if (pr_srtp_ctx_create(&p, &c) < 0)
		FAIL("srtp context");
	return c;
}

NOCOV static struct pr_srtp_ctx *dev_sender(int s, int l, uint32_t ssrc)
{
	for (unsigned i = 0; i < ndevs; i++)
		if (devs[i].s == s && devs[i].l == l && devs[i].ssrc == ssrc)
			return devs[i].c;
	if (ndevs == RTE_DIM(devs))
		return NULL;
	devs[ndevs] = (struct dev_ctx){
	    s, l, ssrc, ctx_make(&media_keys_of(leg_of(s, l))->rx, PR_SRTP_SENDER, ssrc, 0, 0)};
	return devs[ndevs++].c;
}

NOCOV static void devs_drop(int s, int l) /* s < 0: all */
{
	for (unsigned i = 0; i < ndevs;) {
		if (s < 0 || (devs[i].s == s && devs[i].l == l)) {
			pr_srtp_ctx_destroy(devs[i].c);
			devs[i] = devs[--ndevs];
		} else {
			i++;
		}
	}
}

/* ---- mbufs on external buffers from malloc, so that ASan sees every access past a
 * frame's buffer and every use after its free ---- */
struct xbuf {
	struct rte_mbuf_ext_shared_info sh;
	uint8_t *buf;
};

NOCOV static void xbuf_free(void *addr, void *opaque)
{
	struct xbuf *x = opaque;

	if (addr != x->buf)
		FAIL("external buffer freed at %p, not %p", addr, (void *)x->buf);
	free(x->buf);
	free(x);
	xbufs_live--;
}

NOCOV static struct rte_mbuf *mbuf_ext(uint16_t head, uint16_t data, uint16_t tail)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct xbuf *x = calloc(1, sizeof(*x));
	uint16_t len = (uint16_t)(head + data + tail);

	if (!m || !x)
		FAIL("out of mbufs");
	x->buf = malloc(len ? len : 1);
	if (!x->buf)
		FAIL("out of memory");
	x->sh.free_cb = xbuf_free;
	x->sh.fcb_opaque = x;
	rte_mbuf_ext_refcnt_set(&x->sh, 1);
	rte_pktmbuf_attach_extbuf(m, x->buf, (rte_iova_t)(uintptr_t)x->buf, len, &x->sh);
	xbufs_live++;
	m->data_off = head;
	m->data_len = data;
	m->pkt_len = data;
	m->port = 0;
	return m;
}

/* ---- one burst: its datagrams and what each may do ---- */
enum {
	WAY_INPUT, /* dp_worker.c's input(): the short way, or the full parse */
	WAY_FULL,  /* the full parse alone */
	WAY_SEGS,  /* input(), of a frame in two segments */
};
struct dg {
	struct rte_mbuf *m;
	int way;
	int s, l;	/* the leg it is addressed to; s < 0: none */
	bool allowed;	/* may move that leg's latch */
	bool rec;	/* its plaintext may come out of the other leg */
	bool rec_rtcp;	/* as RTCP (else RTP) */
	bool rtcp_port; /* to the leg's RTCP port */
	struct dp_ipaddr src;
	uint16_t sport;
	uint16_t plen;
	uint8_t plain[PL_MAX];
};
static struct dg burst[BURST_MAX];
static unsigned nburst;

/* The last valid datagram's payload to each leg (mode 3 sends it again). */
static struct {
	bool set, allowed, rtcp_port, rec_rtcp;
	uint16_t len, plen;
	uint8_t bytes[PL_MAX + 64];
	uint8_t plain[PL_MAX];
} last[NSESS][2];

/* ---- figures that only grow ---- */
/* rx/tx figures, drops by reason and re-latches, the workers' and control's */
#define RT_FIGS_BASE 15
#define RT_DROPS     RTE_DIM(((struct media_rt *)0)->ctl_drop)
#define RT_FIGS	     (RT_FIGS_BASE + RT_DROPS)
#define FIG_TX	     2	/* tx_packets */
#define FIG_RELATCH  9	/* relatch */
#define FIG_CTL_TX   12 /* ctl_tx_packets */
NOCOV static void rt_figs(const struct media_rt *rt, uint64_t *v)
{
	const uint64_t f[RT_FIGS_BASE] = {rt->rx_packets,     rt->rx_bytes,	  rt->tx_packets,
					  rt->tx_bytes,	      rt->auth_fail,	  rt->replay,
					  rt->wrong_source,   rt->bandwidth,	  rt->other_drop,
					  rt->relatch,	      rt->ctl_rx_packets, rt->ctl_rx_bytes,
					  rt->ctl_tx_packets, rt->ctl_tx_bytes,	  rt->ctl_lost};
	memcpy(v, f, sizeof(f));
	for (unsigned i = 0; i < RT_DROPS; i++)
		v[RT_FIGS_BASE + i] = rt->ctl_drop[i];
}

struct latch_state {
	bool on;
	struct dp_ipaddr ip;
	uint16_t port;
	bool rtcp_on;
	struct dp_ipaddr rtcp_ip;
	uint16_t rtcp_port;
};

NOCOV static struct latch_state latch_of(const struct media_leg *l)
{
	const struct media_rt *rt = l->rt;
	struct latch_state s = {0};

	s.on = rt->latched && rt->latch_gen == l->gen;
	if (s.on) {
		s.ip = rt->lat_ip;
		s.port = rt->lat_port;
	}
	s.rtcp_on = rt->rtcp_latched;
	if (s.rtcp_on) {
		s.rtcp_ip = rt->lat_rtcp_ip;
		s.rtcp_port = rt->lat_rtcp_port;
	}
	return s;
}

NOCOV static bool latch_same(const struct latch_state *a, const struct latch_state *b, bool rtcp)
{
	if (!rtcp)
		return a->on == b->on && (!a->on || (ip_eq(&a->ip, &b->ip) && a->port == b->port));
	return a->rtcp_on == b->rtcp_on &&
	       (!a->rtcp_on || (ip_eq(&a->rtcp_ip, &b->rtcp_ip) && a->rtcp_port == b->rtcp_port));
}

struct snap {
	const struct media_rt *rt[NSESS][2];
	uint64_t figs[NSESS][2][RT_FIGS];
	struct latch_state lat[NSESS][2];
	struct dp_lcore_stats ws, cs;
	uint64_t cst[FZ_CST_N];
};
static struct snap pre, post;
static const struct media_rt *relatch_rt[NSESS][2];
static uint64_t relatch_base[NSESS][2];

NOCOV static void snap_take(struct snap *p)
{
	for (int s = 0; s < NSESS; s++)
		for (int l = 0; l < 2; l++) {
			const struct media_leg *g = leg_of(s, l);
			p->rt[s][l] = g->rt;
			rt_figs(g->rt, p->figs[s][l]);
			p->lat[s][l] = latch_of(g);
		}
	p->ws = wstats;
	p->cs = dp_stats[rte_lcore_id()];
	fz_cst(p->cst);
}

NOCOV static void grows(const uint64_t *a, const uint64_t *b, size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] < a[i])
			FAIL("%s figure %zu went down: %lu -> %lu", what, i, (unsigned long)a[i],
			     (unsigned long)b[i]);
}

/* ---- relayed frames ---- */
static unsigned out_frames[NSESS][2];

/* Does payload pay (len bytes, from leg o) decrypt (o's key toward its device) or read as
 * the plaintext of a datagram of this burst to leg l? */
NOCOV static bool payload_known(struct media_leg *o, int s, int li, const uint8_t *pay,
				uint16_t len)
{
	static uint8_t tmp[PL_MAX + 64];
	bool kinds[2] = {false, false};

	for (unsigned i = 0; i < nburst; i++)
		if (burst[i].rec && burst[i].s == s && burst[i].l == li)
			kinds[burst[i].rec_rtcp] = true;
	for (int rtcp = 0; rtcp < 2; rtcp++) {
		if (!kinds[rtcp])
			continue;
		if (len > sizeof(tmp))
			return false;
		uint32_t roc_hi = 0, roc_lo = 0;
		if (o->encrypted && !rtcp) {
			if (len < 12)
				continue;
			uint32_t ssrc = (uint32_t)pay[8] << 24 | (uint32_t)pay[9] << 16 |
					(uint32_t)pay[10] << 8 | pay[11];
			/* the sender's stream (none: not RTP, or not this SSRC's) */
			struct media_stream *st = fz_stream(&o->sess->leg[li], ssrc);
			if (!st || !st->tx)
				continue;
			int64_t idx = pr_srtp_ctx_rtp_index(st->tx);
			roc_hi = idx < 0 ? 0 : (uint32_t)(idx >> 16);
			roc_lo = roc_hi > BURST_MAX + 1 ? roc_hi - BURST_MAX - 1 : 0;
		}
		for (uint32_t roc = roc_hi + 1; roc-- > roc_lo;) {
			uint16_t n = len;
			memcpy(tmp, pay, len);
			if (o->encrypted) {
				struct pr_srtp_ctx *c =
				    ctx_make(&media_keys_of(o)->tx, PR_SRTP_RECEIVER, 0, 1, roc);
				struct pr_srtp_pkt p = {.data = tmp, .len = len, .room = len};
				unsigned ok = rtcp ? pr_srtcp_unprotect_burst(c, &p, 1)
						   : pr_srtp_unprotect_burst(c, &p, 1);
				pr_srtp_ctx_destroy(c);
				if (!ok)
					continue;
				n = p.len;
			}
			for (unsigned i = 0; i < nburst; i++) {
				const struct dg *d = &burst[i];
				if (d->rec && d->s == s && d->l == li && d->rec_rtcp == rtcp &&
				    d->plen == n && !memcmp(d->plain, tmp, n))
					return true;
			}
		}
	}
	return false;
}

/* Did a datagram of this burst to leg l of session s's RTCP port, one that could latch it,
 * come from the RTCP latch's source (the anchor learns it, or learns it again, there under
 * the leg's present generation)? */
NOCOV static bool rtcp_seen(int s, int l, const struct latch_state *lat)
{
	for (unsigned i = 0; i < nburst; i++)
		if (burst[i].allowed && burst[i].rtcp_port && burst[i].s == s && burst[i].l == l &&
		    ip_eq(&burst[i].src, &lat->rtcp_ip) && burst[i].sport == lat->rtcp_port)
			return true;
	return false;
}

NOCOV static void tx_check(struct rte_mbuf *m)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	struct dp_pkt_info pi;
	uint16_t pm = fz_media_port_min();

	if (m->nb_segs != 1 || m->pkt_len != m->data_len || m->data_len < 14)
		FAIL("a transmitted mbuf of %u segments, %u/%u bytes", m->nb_segs, m->pkt_len,
		     m->data_len);
	if (memcmp(f + 6, &dp_rt.ports[0].mac, 6))
		FAIL("a transmitted frame not from the port's MAC");
	if ((f[12] == 0x08 && f[13] == 0x06)) /* control's ARP request for a next hop */
		return;
	memset(&pi, 0, sizeof(pi));
	enum dp_pkt_class c = dp_parse_frame(f, m->data_len, 0, &pi);
	if (c == DP_CLS_ICMP6 && pi.icmp_type == 135) /* its neighbour solicitation */
		return;
	if (c != DP_CLS_UDP)
		FAIL("a transmitted frame does not parse as UDP (class %d, drop %u)", c, pi.drop);
	if (pi.sport < pm || pi.sport >= pm + 4 * NSESS)
		FAIL("a transmitted datagram from port %u", pi.sport);
	struct media_leg *o = fz_slot(pi.sport);
	if (!o)
		FAIL("a transmitted datagram from port %u, which no leg has", pi.sport);
	int s = (pi.sport - pm) / 4, li = o->idx ^ 1;
	if (o != leg_of(s, o->idx) || !ip_eq(&pi.src, &o->relay) ||
	    (pi.sport != o->relay_port && (pi.sport != o->relay_port + 1 || o->rtcp_mux)))
		FAIL("a datagram from %u out of session %d leg %d (relay port %u, mux %d)",
		     pi.sport, s, o->idx, o->relay_port, o->rtcp_mux);
	const struct rte_ether_addr *want = pi.src.family == AF_INET
						? (ip_eq(&pi.dst, &neigh[0]) ? &mac_nb4 : &mac_gw4)
						: (ip_eq(&pi.dst, &neigh[1]) ? &mac_nb6 : &mac_gw6);
	if (memcmp(f, want, 6))
		FAIL("a datagram to the wrong next hop's MAC");
	/* RTCP toward a device on its own port goes to the RTCP source learned under the
	 * leg's present SDP generation, not an older one's */
	const struct latch_state now_lat = latch_of(o);
	if (strict_rtcp && !o->rtcp_mux && pi.sport == o->relay_port + 1 && now_lat.on &&
	    now_lat.rtcp_on && latch_same(&pre.lat[s][o->idx], &now_lat, true) &&
	    ip_eq(&pi.dst, &now_lat.rtcp_ip) && pi.dport == now_lat.rtcp_port &&
	    rtcp_gen[s][o->idx] != o->gen &&
	    /* not when RTCP to this leg's RTCP port came from that source in this burst:
	     * the anchor learns the RTCP source again under the present generation from the
	     * generation's first authentic (in clear: accepted) RTCP, wherever it comes from
	     * (docs/media.md, latching), and relays RTCP packet by packet, so RTCP toward the
	     * device after it rightly goes there. The bookkeeping after the burst records it
	     * in rtcp_gen, too late for this check, and latch_same() above cannot see it
	     * (the address is the same). A session changed under the burst is judged the same
	     * way: its datagrams the worker relayed saw the old generation, those control
	     * relayed (punted) the new, and the harness does not know which were punted. */
	    !rtcp_seen(s, o->idx, &now_lat) &&
	    /* RTCP to the RTP latch's port + 1 is right when no RTCP source is known for this
	     * generation, and may be where an older generation's RTCP came from */
	    (!ip_eq(&pi.dst, &now_lat.ip) || pi.dport != (uint16_t)(now_lat.port + 1)))
		FAIL("session %d leg %d: RTCP sent to the RTCP source latched under SDP generation "
		     "%u, the leg is at %u",
		     s, o->idx, rtcp_gen[s][o->idx], o->gen);
	if (verbose > 1 && !payload_known(o, s, li, f + pi.payload_off, pi.payload_len)) {
		fprintf(stderr, "  unknown payload from s%d l%d:", s, o->idx);
		for (unsigned i = 0; i < pi.payload_len; i++)
			fprintf(stderr, " %02x", f[pi.payload_off + i]);
		fputc('\n', stderr);
	}
	if (!payload_known(o, s, li, f + pi.payload_off, pi.payload_len))
		FAIL("session %d leg %d sent %u bytes that are no datagram's of this burst to leg "
		     "%d%s",
		     s, o->idx, pi.payload_len, li, o->encrypted ? " (after unprotect)" : "");
	out_frames[s][o->idx]++;
	in_frames_out++;
	if (verbose > 1) {
		char a[INET6_ADDRSTRLEN];
		inet_ntop(pi.dst.family, pi.dst.family == AF_INET ? (void *)&pi.dst.v4 : pi.dst.v6,
			  a, sizeof(a));
		fprintf(stderr, "  out: s%d l%d sport %u to %s:%u, %u bytes\n", s, o->idx, pi.sport,
			a, pi.dport, pi.payload_len);
	}
}

NOCOV static void drain_tx(void)
{
	struct rte_mbuf *m;

	dp_control_tx_flush(); /* what control queued outside a punt's handling */
	for (int q = 0; q < 2; q++)
		while (rte_ring_dequeue(txr[q], (void **)&m) == 0) {
			tx_check(m);
			rte_pktmbuf_free(m);
		}
}

/* ---- one burst through the worker, then control, then the wire ---- */
static void control_op(const uint8_t *h);
static const uint8_t *mid_op; /* a control operation between the worker's burst and control */
static int mid_sess;	      /* the session it changed (-1: none) */
static int reinstall = -1;    /* a session it ended, installed again after the burst */

NOCOV static void cycle(void)
{
	struct rte_mbuf *m;

	if (!nburst)
		return;
	snap_take(&pre);
	memset(out_frames, 0, sizeof(out_frames));
	if (verbose > 1)
		fprintf(stderr, " burst of %u\n", nburst);
	for (unsigned i = 0; i < nburst; i++)
		fz_worker_rx(W, burst[i].m, 0, burst[i].way == WAY_FULL);
	fz_worker_end_burst(W);
	if (W->batch.n || W->batch4.n || W->batch6.n)
		FAIL("datagrams left in the worker's batches");
	/* the worker's loop iteration ends, control handles what it punted; then, as the
	 * worker loop does, what control handed back (dp_punt_return) and the datagrams to our
	 * own addresses (the worker's, and control's through dp_rt.hairpin) take the way in */
	mid_sess = -1;
	for (int round = 0;; round++) {
		fz_worker_end_iteration(W);
		for (unsigned p = 0; p < DP_MAX_PORTS; p++)
			if (W->tx[p].n)
				FAIL("frames left in the worker's TX buffer");
		if (round == 0 && mid_op) {
			/* what the worker sent is on the wire; control changes a session before
			 * it gets to the punted packets (its loop does both, in any order) */
			drain_tx();
			mid_sess = (mid_op[1] & 7) % NSESS;
			control_op(mid_op);
			mid_op = NULL;
		}
		while (rte_ring_dequeue(W->punt, (void **)&m) == 0)
			fz_control_handle(m);
		if (rte_ring_empty(W->back) && !W->hairpin.n && rte_ring_empty(dp_rt.hairpin))
			break;
		if (round == 8)
			FAIL("datagrams still going round after %d rounds", round);
		if (!rte_ring_empty(W->back))
			dp_worker_returned(W);
		if (W->hairpin.n || !rte_ring_empty(dp_rt.hairpin))
			dp_worker_hairpin(W);
	}
	if (reinstall >= 0) {
		sess_apply(reinstall);
		reinstall = -1;
	}
	drain_tx();
	snap_take(&post);

	grows((const uint64_t *)&pre.ws, (const uint64_t *)&post.ws,
	      sizeof(pre.ws) / sizeof(uint64_t), "worker");
	grows((const uint64_t *)&pre.cs, (const uint64_t *)&post.cs,
	      sizeof(pre.cs) / sizeof(uint64_t), "control");
	grows(pre.cst, post.cst, FZ_CST_N, "anchor");
	for (int s = 0; s < NSESS; s++)
		for (int l = 0; l < 2; l++) {
			const struct media_leg *g = leg_of(s, l);
			if (s == mid_sess) { /* changed under the burst: what it learned, now */
				if (!latch_same(&pre.lat[s][l], &post.lat[s][l], true))
					rtcp_gen[s][l] = g->gen;
				continue;
			}
			if (pre.rt[s][l] != post.rt[s][l])
				FAIL("session %d leg %d's runtime state changed under a burst", s,
				     l);
			grows(pre.figs[s][l], post.figs[s][l], RT_FIGS, "leg");
			uint64_t sent = post.figs[s][l][FIG_TX] + post.figs[s][l][FIG_CTL_TX] -
					pre.figs[s][l][FIG_TX] - pre.figs[s][l][FIG_CTL_TX];
			if (sent < out_frames[s][l])
				FAIL("session %d leg %d: %u frames on the wire, %lu counted", s, l,
				     out_frames[s][l], (unsigned long)sent);
			/* the RTCP latch learned, or confirmed, under the leg's generation */
			bool learned = !latch_same(&pre.lat[s][l], &post.lat[s][l], true) ||
				       rtcp_seen(s, l, &post.lat[s][l]);
			if (learned && post.lat[s][l].rtcp_on)
				rtcp_gen[s][l] = g->gen;
			/* the latch moves only to a source that could authenticate / pass */
			for (int rtcp = 0; rtcp < 2; rtcp++) {
				const struct latch_state *a = &pre.lat[s][l], *b = &post.lat[s][l];
				if (latch_same(a, b, rtcp))
					continue;
				bool on = rtcp ? b->rtcp_on : b->on;
				const struct dp_ipaddr *nip = rtcp ? &b->rtcp_ip : &b->ip;
				uint16_t np = rtcp ? b->rtcp_port : b->port;
				bool ok = false;
				if (!on) /* unlearned: RTCP's with a move of the RTP latch */
					ok = rtcp && post.figs[s][l][FIG_RELATCH] >
							 pre.figs[s][l][FIG_RELATCH];
				for (unsigned i = 0; i < nburst && !ok; i++) {
					const struct dg *d = &burst[i];
					ok = d->allowed && d->s == s && d->l == l &&
					     ip_eq(&d->src, nip) && d->sport == np;
				}
				if (!ok)
					FAIL(
					    "session %d leg %d (%s): %s latch moved to a source no "
					    "datagram that could %s came from",
					    s, l, g->encrypted ? "SRTP" : "clear",
					    rtcp ? "the RTCP" : "the",
					    g->encrypted ? "authenticate" : "pass");
			}
			if (check_relatch && !g->encrypted && g->latch) {
				if (relatch_rt[s][l] != g->rt) {
					relatch_rt[s][l] = g->rt;
					relatch_base[s][l] = pre.figs[s][l][FIG_RELATCH];
				}
				if (post.figs[s][l][FIG_RELATCH] > relatch_base[s][l] + 1)
					FAIL(
					    "session %d leg %d (clear) re-latched %lu times within "
					    "relatch_interval_ms",
					    s, l,
					    (unsigned long)(post.figs[s][l][FIG_RELATCH] -
							    relatch_base[s][l]));
			}
		}
	nburst = 0;
}

/* ---- building a datagram from a record ---- */
static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void source_of(const struct media_leg *l, int fam, int choice, int kind, uint8_t variant,
		      struct dp_ipaddr *src, uint16_t *sport)
{
	const int f = fidx(fam);
	const bool rtcp_port = kind == 1;
	const bool peer_ok = l->peer.family == fam && !ip_unset(&l->peer) && l->peer_port;
	struct latch_state ls = latch_of(l);

	switch (choice) {
	case SRC_LATCHED:
		if (ls.on && ls.ip.family == fam) {
			if (rtcp_port && ls.rtcp_on && ls.rtcp_ip.family == fam) {
				*src = ls.rtcp_ip;
				*sport = ls.rtcp_port;
			} else {
				*src = ls.ip;
				*sport = (uint16_t)(ls.port + rtcp_port);
			}
			return;
		}
		/* fall through */
	case SRC_PEER:
		if (peer_ok) {
			*src = l->peer;
			*sport = (uint16_t)(l->peer_port + rtcp_port);
			return;
		}
		*src = alt_a[f];
		*sport = (uint16_t)(40000 + rtcp_port);
		return;
	case SRC_PEER_PORT:
		*src = peer_ok ? l->peer : alt_a[f];
		*sport = (uint16_t)((peer_ok ? l->peer_port : 40000) + 2 + rtcp_port);
		return;
	case SRC_ALT_A:
		*src = alt_a[f];
		*sport = (uint16_t)(40000 + rtcp_port);
		return;
	case SRC_ALT_B:
		*src = alt_b[f];
		*sport = (uint16_t)(40010 + rtcp_port);
		return;
	case SRC_NEIGH:
		*src = neigh[f];
		*sport = (uint16_t)(5004 + rtcp_port);
		return;
	case SRC_UNRES:
		*src = unres[f];
		*sport = (uint16_t)(5006 + rtcp_port);
		return;
	default: /* a multicast source, or our own address (a relay toward it hairpins) */
		*src = variant & 1 ? our[f] : bad[f];
		*sport = variant & 1
			     ? (uint16_t)(variant & 2 ? fz_media_port_min() + 4 * NSESS : 3478)
			     : 5008;
		return;
	}
}

/* The frame: Ethernet to the port's MAC, IPv4 or IPv6, UDP (checksum right unless damaged)
 * around pl; padded to 60 bytes; damage as the record says. */
static struct rte_mbuf *frame_make(const struct dp_ipaddr *src, uint16_t sport,
				   const struct dp_ipaddr *dst, uint16_t dport, const uint8_t *pl,
				   uint16_t plen, unsigned damage, uint8_t arg, unsigned tail,
				   unsigned room, int way, uint16_t *short_by)
{
	static uint8_t f[PL_MAX + 200];
	const bool v4 = src->family == AF_INET;
	const uint16_t iph = v4 ? 20 : 40, l4 = (uint16_t)(14 + iph);
	uint16_t cut = 0, len;

	*short_by = 0;
	if (damage == 6 && plen) {
		cut = (uint16_t)(1 + arg % 8);
		if (cut > plen)
			cut = plen;
		*short_by = cut;
	}
	const uint16_t ulen = (uint16_t)(8 + plen - cut);
	memset(f, 0, l4 + 8);
	memcpy(f, &dp_rt.ports[0].mac, 6);
	memcpy(f + 6, v4 ? &mac_gw4 : &mac_gw6, 6);
	f[12] = v4 ? 0x08 : 0x86;
	f[13] = v4 ? 0x00 : 0xdd;
	uint8_t *h = f + 14, *u = f + l4;
	if (v4) {
		h[0] = 0x45;
		put16(h + 2, (uint16_t)(20 + 8 + plen));
		put16(h + 4, 0x1234);
		h[6] = 0x40; /* DF */
		h[8] = 57;
		h[9] = IPPROTO_UDP;
		memcpy(h + 12, &src->v4, 4);
		memcpy(h + 16, &dst->v4, 4);
		put16(h + 10, (uint16_t)~ref_fold(ref_sum(h, 20, 0)));
		if (damage == 3)
			h[11] ^= 0x01;
	} else {
		h[0] = 0x60;
		put16(h + 4, (uint16_t)(8 + plen));
		h[6] = IPPROTO_UDP;
		h[7] = 57;
		memcpy(h + 8, src->v6, 16);
		memcpy(h + 24, dst->v6, 16);
	}
	put16(u, sport);
	put16(u + 2, dport);
	put16(u + 4, ulen);
	memcpy(u + 8, pl, plen);
	uint16_t ck = v4 ? ref_udp4_csum(h) : ref_udp6_csum(h);
	if (damage == 4)
		ck = (uint16_t)(ck ^ 0x1234) ? (uint16_t)(ck ^ 0x1234) : (uint16_t)(ck ^ 0x4321);
	else if (damage == 5)
		ck = 0;
	put16(u + 6, ck);
	len = (uint16_t)(l4 + 8 + plen);
	if (len < 60) {
		memset(f + len, 0, 60 - len);
		len = 60;
	}
	static const uint8_t extra[4] = {0, 3, 0, 17};
	memset(f + len, 0xee, extra[tail & 3]);
	len = (uint16_t)(len + extra[tail & 3]);

	const uint16_t head = room & 1 ? 0 : RTE_PKTMBUF_HEADROOM;
	uint16_t split = len;
	if (way == WAY_SEGS) { /* two segments: the second from the pool, split where told */
		uint16_t end = (uint16_t)(l4 + 8 + plen);
		split = arg & 0x80 ? (uint16_t)(l4 + 8 + (plen ? arg % plen : 0))
				   : (uint16_t)(end + arg % (len - end + 1));
		if (split > len)
			split = len;
	}
	uint16_t tailroom = room & 2 ? 0 : (uint16_t)(split < 2048 ? 2048 - split : 0);
	struct rte_mbuf *m = mbuf_ext(head, split, tailroom);
	memcpy(rte_pktmbuf_mtod(m, uint8_t *), f, split);
	if (way == WAY_SEGS) {
		struct rte_mbuf *t = rte_pktmbuf_alloc(pool);
		uint16_t rest = (uint16_t)(len - split ? len - split : 4);
		char *p = t ? rte_pktmbuf_append(t, rest) : NULL;
		if (!p)
			FAIL("out of mbufs");
		memset(p, 0, rest);
		memcpy(p, f + split, len - split);
		if (rte_pktmbuf_chain(m, t))
			FAIL("chain");
	}
	return m;
}

static uint16_t len_of(uint8_t b)
{
	return b <= 250 ? b : (uint16_t)(507 + (b - 251) * 255);
}

/* One record: a datagram into the burst. Returns the bytes of payload consumed. */
static size_t record(const uint8_t *h, const uint8_t *p, size_t avail)
{
	static const uint32_t ssrcs[3] = {0x0000aa01, 0x0000aa02, 0xdeadbeef};
	const int s = h[0] & 7, li = (h[0] >> 3) & 1, kind = (h[0] >> 4) & 3, wsel = h[0] >> 6;
	const int choice = h[1] & 7, mode = (h[1] >> 3) & 3;
	const unsigned damage = h[1] >> 5;
	const bool keep = h[2] & 4, want_rtcp = kind == 1 || kind == 2;
	const uint32_t ssrc = (h[2] & 3) == 3 ? 0x5000u + (h[4] & 15) : ssrcs[h[2] & 3];
	struct media_leg *l = leg_of(s, li);
	struct dg *d = &burst[nburst];
	uint16_t plen = len_of(h[3]);
	size_t used = plen < avail ? plen : avail;
	static uint8_t out[PL_MAX + 64];
	uint16_t olen;
	bool prot_ok = false, mutated = false, valid = mode != 2;

	memset(d, 0, offsetof(struct dg, plain));
	d->s = kind == 3 ? -1 : s;
	d->l = li;
	d->way = wsel < 2 ? WAY_INPUT : wsel == 2 ? WAY_FULL : WAY_SEGS;
	if (mode == 3 && last[s][li].set && kind != 3) { /* the last valid datagram again */
		olen = last[s][li].len;
		memcpy(out, last[s][li].bytes, olen);
		d->plen = last[s][li].plen;
		memcpy(d->plain, last[s][li].plain, d->plen);
		prot_ok = last[s][li].allowed;
		d->rec_rtcp = last[s][li].rec_rtcp;
		valid = true;
	} else {
		memcpy(d->plain, p, used);
		for (uint16_t i = (uint16_t)used; i < plen; i++)
			d->plain[i] = (uint8_t)(i * 7 + plen);
		if (valid) {
			uint16_t min = want_rtcp ? 8 : 12;
			for (; plen < min; plen++)
				d->plain[plen] = 0;
			uint8_t *x = d->plain;
			x[0] = (uint8_t)(0x80 | (keep ? x[0] & 0x3f : 0));
			if (want_rtcp)
				x[1] = (uint8_t)(200 + x[1] % 5);
			else
				x[1] &= 0x7f;
			if (!keep || want_rtcp)
				put32(x + (want_rtcp ? 4 : 8), ssrc);
		}
		d->plen = plen;
		memcpy(out, d->plain, plen);
		olen = plen;
		if (valid && l->encrypted && kind != 3) {
			uint32_t pssrc = (uint32_t)rd16(out + (want_rtcp ? 4 : 8)) << 16 |
					 rd16(out + (want_rtcp ? 6 : 10));
			struct pr_srtp_ctx *c = dev_sender(s, li, pssrc);
			struct pr_srtp_pkt pk = {.data = out, .len = olen, .room = sizeof(out)};
			if (c && (want_rtcp ? pr_srtcp_protect_burst(c, &pk, 1)
					    : pr_srtp_protect_burst(c, &pk, 1))) {
				olen = pk.len;
				prot_ok = true;
			}
		} else if (valid) {
			prot_ok = true;
		}
		d->rec_rtcp = want_rtcp;
		if (valid && prot_ok && kind != 3) {
			last[s][li].set = true;
			last[s][li].allowed = true;
			last[s][li].len = olen;
			memcpy(last[s][li].bytes, out, olen);
			last[s][li].plen = d->plen;
			memcpy(last[s][li].plain, d->plain, d->plen);
			last[s][li].rec_rtcp = want_rtcp;
		}
	}
	if (mode == 1 && olen) { /* then one byte flipped, or cut there */
		uint16_t at = (uint16_t)(h[4] % olen);
		if (h[5])
			out[at] ^= h[5];
		else
			olen = at;
		mutated = true;
	}

	/* where it goes, and from where */
	int fam = l->relay.family;
	if (damage == 7)
		fam = fam == AF_INET ? AF_INET6 : AF_INET;
	struct dp_ipaddr src, dst = our[fidx(fam)];
	uint16_t sport, dport, short_by;
	source_of(l, fam, choice, kind, h[5], &src, &sport);
	if (kind == 3)
		dport = (uint16_t)(fz_media_port_min() + 4 * NSESS + (h[4] & 7));
	else
		dport = (uint16_t)(l->relay_port + (kind == 1));
	d->src = src;
	d->sport = sport;
	d->rtcp_port = kind == 1;
	d->m = frame_make(&src, sport, &dst, dport, out, olen, damage, h[4], h[2] >> 4, h[2] >> 6,
			  d->way, &short_by);

	/* what the anchor sees of it, and what that may do */
	const uint16_t rlen = (uint16_t)(olen - short_by);
	const bool relay_rtcp =
	    kind == 1 || (l->rtcp_mux && rlen >= 2 && out[1] >= 192 && out[1] <= 223);
	const bool frame_ok = kind != 3 && !(damage == 3 && fam == AF_INET) && damage != 7 &&
			      !(choice == SRC_BAD && !(h[5] & 1)) && d->way != WAY_SEGS;
	const bool csum_ok = damage != 4 && !(damage == 5 && fam == AF_INET6);
	if (l->encrypted) {
		d->allowed = frame_ok && valid && prot_ok && !mutated && !short_by &&
			     relay_rtcp == d->rec_rtcp;
		d->rec = d->allowed;
	} else {
		d->allowed = frame_ok && csum_ok;
		d->rec = d->allowed;
		d->rec_rtcp = relay_rtcp;
		d->plen = rlen;
		memcpy(d->plain, out, rlen);
	}
	if (verbose > 1) {
		char a[INET6_ADDRSTRLEN];
		inet_ntop(src.family, src.family == AF_INET ? (void *)&src.v4 : src.v6, a,
			  sizeof(a));
		fprintf(
		    stderr,
		    "  dg %u: s%d l%d port %d way %d src %s:%u mode %d damage %u len %u%s%s%s%s\n",
		    nburst, s, li, kind, d->way, a, sport, mode, damage, olen,
		    prot_ok ? " protected" : "", mutated ? " mutated" : "",
		    d->allowed ? " allowed" : "",
		    d->rec ? (d->rec_rtcp ? " rec-rtcp" : " rec-rtp") : "");
	}
	nburst++;
	in_dgrams++;
	return used;
}

/* A control operation between bursts. */
static void control_op(const uint8_t *h)
{
	const int s = (h[1] & 7) % NSESS, li = (h[0] >> 3) & 1, op = (h[0] >> 4) & 3;
	struct pr_ks_leg *g = &rec[s].leg[li];

	if (verbose > 1)
		fprintf(stderr, " control op %d on s%d l%d%s\n", op, s, li,
			h == mid_op ? " (under a burst)" : "");
	switch (op) {
	case 1: /* the device moved: a new SDP port (a new latch generation) */
		g->peer_port = (uint16_t)(g->peer_port + 2);
		break;
	case 2: /* new keys */
		if (!g->encrypted)
			break;
		keygen[s][li] ^= 1;
		key_b64(g->suite, s, li, 0, keygen[s][li], g->key_rx, sizeof(g->key_rx));
		key_b64(g->suite, s, li, 1, keygen[s][li], g->key_tx, sizeof(g->key_tx));
		devs_drop(s, li);
		last[s][li].set = false;
		break;
	case 3: /* ended, installed again: fresh state (h1 bit 3, inside a burst: only after
		 * control handled its punted packets) */
		fz_sess_end(rec[s].id);
		live[s] = NULL;
		if (h == mid_op && (h[1] & 8)) {
			reinstall = s;
			return;
		}
		break;
	default:
		break;
	}
	sess_apply(s);
}

/* FUZZ_MEDIA_VERBOSE=1: what each input did (for seeds). */
NOCOV static void summary(void)
{
	const struct dp_lcore_stats *ws = &wstats, *cs = &dp_stats[rte_lcore_id()];

	fprintf(stderr, "fuzz_media: %u datagrams, %u relayed frames on the wire;", in_dgrams,
		in_frames_out);
	for (unsigned i = 0; i < DP_DROP_MAX; i++)
		if (ws->drops[i] + cs->drops[i] != v_ws.drops[i] + v_cs.drops[i])
			fprintf(stderr, " %s %lu", dp_drop_name(i) ? dp_drop_name(i) : "?",
				(unsigned long)(ws->drops[i] + cs->drops[i] - v_ws.drops[i] -
						v_cs.drops[i]));
	fprintf(stderr, " punted %lu, resolve %lu\n", (unsigned long)(ws->punted - v_ws.punted),
		(unsigned long)(ws->neigh_resolve_punts - v_ws.neigh_resolve_punts));
}

NOCOV static void input_end(void)
{
	cycle();
	if (verbose)
		summary();
	if (rte_ring_count(W->punt) || rte_ring_count(txr[0]) || rte_ring_count(txr[1]) ||
	    rte_ring_count(W->back) || rte_ring_count(dp_rt.hairpin) || W->hairpin.n ||
	    W->dropped.n)
		FAIL("mbufs left in rings");
	fz_sess_end_all();
	memset(live, 0, sizeof(live));
	devs_drop(-1, 0);
	/* parked packets go with their unresolved next hops */
	for (int f = 0; f < 2; f++)
		dp_neigh_del(0, &unres[f]);
	drain_tx();
	unsigned in_use = rte_mempool_in_use_count(pool);
	if (in_use != baseline)
		FAIL("%d mbufs leaked", (int)(in_use - baseline));
	if (xbufs_live)
		FAIL("%u external buffers not freed", xbufs_live);
	if (fz_sess_count())
		FAIL("sessions left");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	uint8_t g0 = size ? data[off++] : 0;

	if (size > 16384)
		return 0;
	fz_media_tune(g0 & 1, g0 & 2 ? 0 : 2000);
	check_relatch = strict_relatch && !(g0 & 2);
	memset(rtcp_gen, 0, sizeof(rtcp_gen));
	for (int s = 0; s < NSESS; s++) {
		rec_build(s, g0 & 4);
		sess_apply(s);
	}
	memset(last, 0, sizeof(last));
	memset(relatch_rt, 0, sizeof(relatch_rt));
	in_dgrams = in_frames_out = 0;
	v_ws = wstats;
	v_cs = dp_stats[rte_lcore_id()];
	while (off + 6 <= size) {
		const uint8_t *h = data + off;
		off += 6;
		if ((h[0] & 7) == 7) {
			if ((h[0] & 0x40) && nburst) {
				mid_op = h; /* applied inside the burst, before control's turn */
				cycle();
			} else {
				cycle();
				control_op(h);
			}
			continue;
		}
		off += record(h, data + off, size - off);
		if ((h[2] & 8) || nburst == BURST_MAX)
			cycle();
	}
	input_end();
	return 0;
}

/* ---- once ---- */
static char rundir[512];
static void cleanup(void)
{
	if (rundir[0])
		rmdir(rundir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char prefix[64];

	/* libFuzzer's entropic schedule costs this target five times its own run time per input
	 * (thousands of features a run): off unless asked for (libFuzzer lets Initialize add
	 * flags, argv[0] unchanged) */
	static char *args[256], entropic_off[] = "-entropic=0";
	bool entropic_given = false;
	for (int i = 1; i < *argc; i++)
		entropic_given |= !strncmp((*argv)[i], "-entropic=", 10);
	if (!entropic_given && *argc < (int)RTE_DIM(args) - 1) {
		memcpy(args, *argv, sizeof(char *) * (size_t)*argc);
		args[(*argc)++] = entropic_off;
		args[*argc] = NULL;
		*argv = args;
	}
	snprintf(prefix, sizeof(prefix), "fz-media-%d", (int)getpid());
	char *eal[] = {"fuzz_media", "--no-huge",   "--no-shconf", "--no-pci", "--no-telemetry",
		       "-l",	     "0",	    "-m",	   "256",      "--file-prefix",
		       prefix,	     "--log-level", "1",	   NULL};
	pr_log_init("fuzz_media", PR_LOG_ERR);
	dp_config_defaults();
	/* no Redis: sessions come from the fuzzer, not from the stream */
	snprintf(dp_cfg.redis.socket, sizeof(dp_cfg.redis.socket), "/nonexistent/fuzz_media.sock");
	dp_cfg.nb_ports = 1;
	char ring[16];
	snprintf(ring, sizeof(ring), "fzmedia%d", (int)getpid() % 100000);
	snprintf(dp_cfg.port[0].device, sizeof(dp_cfg.port[0].device), "ring:%s", ring);
	dp_cfg.port[0].ipv4 =
	    (struct dp_prefix){.addr = ip("198.51.100.10"), .len = 24, .set = true};
	dp_cfg.port[0].ipv6 =
	    (struct dp_prefix){.addr = ip("2001:db8:100::10"), .len = 64, .set = true};
	dp_cfg.port[0].gateway4 = ip("198.51.100.1");
	dp_cfg.port[0].gateway6 = ip("2001:db8:100::1");
	if (rte_eal_init((int)RTE_DIM(eal) - 1, eal) < 0)
		FAIL("EAL init");
	/* nothing is written there without shared config or telemetry: gone now, so that a
	 * crash (libFuzzer's _Exit) leaves nothing behind */
	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	if (rmdir(rundir) == 0)
		rundir[0] = '\0';
	atexit(cleanup);
	dp_rt.main_lcore = rte_get_main_lcore();
	dp_rt.tsc_hz = rte_get_tsc_hz();
	dp_rt.tsc_per_ms = dp_rt.tsc_hz / 1000 ? dp_rt.tsc_hz / 1000 : 1;
	dp_rt.start_tsc = rte_get_tsc_cycles();
	dp_rt.start_time = (uint64_t)time(NULL);
	size_t sz = rte_rcu_qsbr_get_memsize(RTE_MAX_LCORE);
	dp_rt.rcu = rte_zmalloc("dp_rcu", sz, RTE_CACHE_LINE_SIZE);
	if (!dp_rt.rcu || rte_rcu_qsbr_init(dp_rt.rcu, RTE_MAX_LCORE))
		FAIL("RCU");
	/* one worker (driven from here), its punt ring and TX queue 0; control's queue is 1 */
	dp_rt.nb_workers = 1;
	W = &dp_rt.workers[0];
	W->lcore_id = dp_rt.main_lcore;
	W->index = 0;
	W->stats = &wstats;
	W->punt = rte_ring_create("dp_punt_0", dp_cfg.dp.punt_ring_size, SOCKET_ID_ANY,
				  RING_F_SP_ENQ | RING_F_SC_DEQ);
	pool = rte_pktmbuf_pool_create("dp_pool", 4095, 0,
				       RTE_CACHE_LINE_ROUNDUP(sizeof(struct dp_punt_meta)) + 16,
				       RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	dp_rt.pool = pool;
	W->back = rte_ring_create("dp_back_0", dp_cfg.dp.punt_ring_size, SOCKET_ID_ANY,
				  RING_F_SP_ENQ | RING_F_SC_DEQ);
	dp_rt.hairpin =
	    rte_ring_create("dp_hairpin", 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (!W->punt || !W->back || !pool || !dp_rt.hairpin)
		FAIL("rings and pool");
	if (dp_neigh_init(dp_cfg.dp.neigh_entries, dp_rt.rcu, SOCKET_ID_ANY))
		FAIL("neighbour table");
	dp_neigh_set_release(dp_udp_release_pending);
	if (dp_ports_init(SOCKET_ID_ANY))
		FAIL("ring port");
	char rn[RTE_RING_NAMESIZE];
	for (int q = 0; q < 2; q++) {
		snprintf(rn, sizeof(rn), "%s_tx%d", ring, q);
		txr[q] = rte_ring_lookup(rn);
		if (!txr[q])
			FAIL("TX ring %s", rn);
	}
	/* addresses */
	our[0] = dp_cfg.port[0].ipv4.addr;
	our[1] = dp_cfg.port[0].ipv6.addr;
	alt_a[0] = ip("203.0.113.100");
	alt_a[1] = ip("2001:db8:7::100");
	alt_b[0] = ip("192.0.2.77");
	alt_b[1] = ip("2001:db8:9::77");
	neigh[0] = ip("198.51.100.20");
	neigh[1] = ip("2001:db8:100::20");
	unres[0] = ip("198.51.100.77");
	unres[1] = ip("2001:db8:100::77");
	bad[0] = ip("224.0.0.5");
	bad[1] = ip("ff02::5");
	const uint64_t forever = 1000ull * 1000 * 1000 * 1000;
	if (dp_neigh_learn(0, &dp_cfg.port[0].gateway4, &mac_gw4, 0, forever, true) ||
	    dp_neigh_learn(0, &dp_cfg.port[0].gateway6, &mac_gw6, 0, forever, true) ||
	    dp_neigh_learn(0, &neigh[0], &mac_nb4, 0, forever, true) ||
	    dp_neigh_learn(0, &neigh[1], &mac_nb6, 0, forever, true))
		FAIL("neighbours");
	if (fz_media_init())
		FAIL("media init");
	/* the crypto libraries' one-time set-up (OpenSSL's tables, this thread's job manager)
	 * now, not inside the first input */
	struct pr_sdes_crypto wk = {.tag = 1, .profile = PR_SRTP_AES128_CM_SHA1_80};
	uint8_t pkt[64] = {0x80, 0, 0, 1};
	struct pr_srtp_pkt wp = {.data = pkt, .len = 20, .room = sizeof(pkt)};
	struct pr_srtp_ctx *wc = ctx_make(&wk, PR_SRTP_SENDER, 0, 1, 0);
	pr_srtp_protect_burst(wc, &wp, 1);
	pr_srtp_ctx_destroy(wc);
	baseline = rte_mempool_in_use_count(pool);
	const char *st = getenv("FUZZ_MEDIA_STRICT");
	strict_relatch = !st || !strcmp(st, "1") || strstr(st, "relatch");
	strict_rtcp = !st || !strcmp(st, "1") || strstr(st, "rtcp");
	verbose = getenv("FUZZ_MEDIA_VERBOSE") ? atoi(getenv("FUZZ_MEDIA_VERBOSE")) : 0;
	return 0;
}
