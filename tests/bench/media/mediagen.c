/* SPDX-License-Identifier: BSD-3-Clause */
/* mediagen: SRTP traffic for poprelay-dataplane's media anchor on a shared-memory port
 * (device = ring:NAME), run as a DPDK secondary process next to the dataplane (hugepages,
 * huge_unlink = no), on another core. It plays every device of the sessions in a streams file
 * (tests/bench/media/gen.py, format in streams.h): for each direction of each session it
 * builds Ethernet/IPv4/UDP frames from the sending device's address to the leg's relay port
 * carrying RTP protected with the device's key (libpoprelay-crypto's ipsecmb bursts,
 * pr_srtp_protect_burst_multi; UDP checksum filled in), with a fresh sequence number every
 * time, since SRTP refuses a replayed packet; it takes back what the dataplane relays (and
 * what its control lcore sends) and counts it.
 *
 *   mediagen [EAL args] -- --ring NAME --streams FILE --size BYTES --seconds S
 *            [--prime] [--state FILE] [--ready-file FILE] [--check-every 64] [--burst 32]
 *            [--inflight 2048] [--window 4096] [--resend-ms 20]
 *
 * --size is the SRTP packet (RTP header 12 + payload + 10-byte tag): 172 or 1212.
 * Measuring (default): for --seconds, every frame that comes back is rewritten at once with
 * the next packet (streams in a fixed shuffled order, streams.h) and sent again, at most
 * --inflight frames out: mbufs and frames are reused, only the headers, the payload's plain
 * text and the crypto are redone. Every --check-every-th relayed frame is checked: addresses
 * and ports (relay's out port to the receiving device), IPv4 and UDP checksums, then
 * unprotected with the receiving device's key (its own receiver context: the relay's
 * re-encryption must authenticate and not replay) and its plain text compared with what was
 * sent (stream index and pattern) and its payload type with the stream's (streams.h's pt
 * column: a BUNDLE group's audio and video leave the browser from one 5-tuple, and each
 * must reach its own device).
 * --prime: the sessions are being installed (the caller writes them to Redis after
 * --ready-file appears): until every stream has had a packet relayed back (or --seconds),
 * each of the first --window streams without one gets a fresh packet every --resend-ms
 * (packets for sessions not installed yet are dropped by the dataplane, the first of each
 * stream goes through its control lcore, which creates the stream's contexts); between
 * rounds it sleeps 200 us, leaving the core to the dataplane's control lcore and Redis.
 * Reports when the first and the last stream came back (CLOCK_REALTIME).
 * --state FILE: each stream's next RTP index, read at start and written at exit, so that
 * successive runs against one dataplane continue the streams (ROC included).
 *
 * Output: one JSON line with the counts (sent, relayed, other, stale, checked, bad_*,
 * "streams_back": how many of the streams had at least one frame relayed back), the
 * per-second relayed counts, their median without the first second ("median_pps"), and what
 * tells who the bottleneck is: "gen_busy" (share of the generator's loop time spent on
 * frames: near 1 = the generator is the limit) and "rx_ring_avg" (mean frames waiting in the
 * dataplane's RX ring: near --inflight = the dataplane is the limit). Exit 0, 1 when a
 * check failed or (prime) not every stream came back, 2 on a setup error.
 *
 * Stream of a frame: the mbuf's hash.usr holds the stream index + 1 and this process's tag
 * (the dataplane does not touch it); frames from an earlier mediagen (same pool, taken over)
 * are counted stale and reused. Our pool has no per-lcore cache (the dataplane frees the
 * frames it drops into it from its own lcores) and is never freed (the dataplane may hold
 * some of its mbufs when we exit). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_udp.h>

#include "tests/bench/media/streams.h"

#define MAX_BURST  256
#define POOL_SLACK 4096
#define HDR_LEN	   (14 + 20 + 8) /* Ethernet, IPv4, UDP */
#define TAG_LEN	   10		 /* AES_CM_128_HMAC_SHA1_80 */
#define SUITE	   "AES_CM_128_HMAC_SHA1_80"

static struct {
	const char *ring, *streams, *state, *ready;
	unsigned seconds, size, check_every, burst, inflight, window, resend_ms;
	bool prime;
	uint32_t dp_ip, gw_ip;
} opt = {.check_every = 64, .burst = 32, .inflight = 2048, .window = 4096, .resend_ms = 20};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct gstream {
	struct pr_srtp_ctx *tx;	 /* the sending device's sender */
	struct pr_srtp_ctx *vrx; /* the receiving device's receiver (checks) */
	uint64_t next_idx;	 /* next RTP index to send */
	uint64_t last_tsc;	 /* prime: last packet sent */
	uint32_t ts;
	uint8_t primed;
	uint8_t hdr[64] __rte_aligned(64); /* Ethernet/IPv4/UDP + RTP header (54 bytes) */
};

static struct bstream *bs;
static struct gstream *gs;
static unsigned ns, *order, next_pos, payload_len;
static uint8_t *back_seen; /* per stream: relayed back at least once in this process */
static struct rte_ring *rx_ring, *tx_ring, *ctl_ring;
static struct rte_mempool *pool;
static unsigned pool_size;
static uint32_t tag; /* this process's mark in hash.usr (high byte) */
static struct rte_ether_addr dp_mac, gw_mac = {{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};

static struct {
	uint64_t sent, relayed, other, stale, checked, arp;
	uint64_t bad_addr, bad_ip_csum, bad_udp_csum, bad_len, bad_auth, bad_payload, bad_pt;
	uint64_t primed, streams_back;
	double first_at, all_at;
	uint64_t busy_cyc, total_cyc, ring_sum, ring_samples, ring_full;
} st;

static void usage(void)
{
	fprintf(stderr,
		"usage: mediagen [EAL args] -- --ring NAME --streams FILE --size BYTES "
		"--seconds S [--prime] [--state FILE] [--ready-file FILE] [--check-every N] "
		"[--burst N] [--inflight N] [--window N] [--resend-ms N]\n");
	exit(2);
}

static unsigned parse_uint(const char *name, const char *s, unsigned long min, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *s == '\0' || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "mediagen: --%s %s: expected an integer in %lu-%lu\n", name, s, min,
			max);
		exit(2);
	}
	return (unsigned)v;
}

static void parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"ring", required_argument, NULL, 'r'},
	    {"streams", required_argument, NULL, 'f'},
	    {"size", required_argument, NULL, 'z'},
	    {"seconds", required_argument, NULL, 's'},
	    {"prime", no_argument, NULL, 'P'},
	    {"state", required_argument, NULL, 'S'},
	    {"ready-file", required_argument, NULL, 'R'},
	    {"check-every", required_argument, NULL, 'k'},
	    {"burst", required_argument, NULL, 'b'},
	    {"inflight", required_argument, NULL, 'i'},
	    {"window", required_argument, NULL, 'w'},
	    {"resend-ms", required_argument, NULL, 'm'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'r':
			opt.ring = optarg;
			break;
		case 'f':
			opt.streams = optarg;
			break;
		case 'z':
			opt.size = parse_uint("size", optarg, 12 + 4 + TAG_LEN, 1400);
			break;
		case 's':
			opt.seconds = parse_uint("seconds", optarg, 1, 3600);
			break;
		case 'P':
			opt.prime = true;
			break;
		case 'S':
			opt.state = optarg;
			break;
		case 'R':
			opt.ready = optarg;
			break;
		case 'k':
			opt.check_every = parse_uint("check-every", optarg, 1, UINT32_MAX);
			break;
		case 'b':
			opt.burst = parse_uint("burst", optarg, 1, MAX_BURST);
			break;
		case 'i':
			opt.inflight = parse_uint("inflight", optarg, 1, 1u << 20);
			break;
		case 'w':
			opt.window = parse_uint("window", optarg, 1, 1u << 24);
			break;
		case 'm':
			opt.resend_ms = parse_uint("resend-ms", optarg, 1, 10000);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || !opt.ring || !opt.streams || !opt.size || !opt.seconds)
		usage();
	opt.dp_ip = RTE_BE32(RTE_IPV4(198, 51, 100, 10));
	opt.gw_ip = RTE_BE32(RTE_IPV4(198, 51, 100, 1));
}

static double now_real(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ---- state file: each stream's next RTP index ---- */

static void state_load(void)
{
	FILE *f = opt.state ? fopen(opt.state, "rb") : NULL;
	uint32_t n = 0;

	for (unsigned i = 0; i < ns; i++)
		gs[i].next_idx = 1 + (bs[i].ssrc & 0x3fff); /* spread the first wraps */
	if (!f)
		return;
	if (fread(&n, sizeof(n), 1, f) == 1 && n == ns)
		for (unsigned i = 0; i < ns; i++)
			if (fread(&gs[i].next_idx, sizeof(uint64_t), 1, f) != 1)
				break;
	fclose(f);
}

static void state_save(void)
{
	FILE *f = opt.state ? fopen(opt.state, "wb") : NULL;
	uint32_t n = ns;

	if (!f)
		return;
	fwrite(&n, sizeof(n), 1, f);
	for (unsigned i = 0; i < ns; i++)
		fwrite(&gs[i].next_idx, sizeof(uint64_t), 1, f);
	fclose(f);
}

/* ---- frames ---- */

/* Stream i's header template: Ethernet (to the dataplane, from the gateway), IPv4 (from the
 * sending device to the relay, checksum complete for --size), UDP (its checksum is
 * filled in after the protect), RTP (version 2, the stream's payload type, SSRC). */
static void make_header(unsigned i)
{
	uint8_t *h = gs[i].hdr;
	const struct bstream *b = &bs[i];
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(h + 14);
	struct rte_udp_hdr *u = (struct rte_udp_hdr *)(h + 34);
	uint16_t ulen = (uint16_t)(8 + opt.size);

	memset(h, 0, sizeof(gs[i].hdr));
	memcpy(h, &dp_mac, 6);
	memcpy(h + 6, &gw_mac, 6);
	h[12] = 0x08;
	ip->version_ihl = 0x45;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(20 + ulen));
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = b->src_ip;
	ip->dst_addr = b->relay_ip;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	u->src_port = rte_cpu_to_be_16(b->src_port);
	u->dst_port = rte_cpu_to_be_16(b->in_port);
	u->dgram_len = rte_cpu_to_be_16(ulen);
	h[HDR_LEN] = 0x80;
	h[HDR_LEN + 1] = b->pt;
	h[HDR_LEN + 8] = (uint8_t)(b->ssrc >> 24);
	h[HDR_LEN + 9] = (uint8_t)(b->ssrc >> 16);
	h[HDR_LEN + 10] = (uint8_t)(b->ssrc >> 8);
	h[HDR_LEN + 11] = (uint8_t)b->ssrc;
	gs[i].ts = bs[i].ssrc * 2654435761u;
}

static uint8_t pattern[2048];

/* Writes stream k's next packet (plain text) into m; pk describes its RTP part. */
static inline void build(struct rte_mbuf *m, unsigned k, struct pr_srtp_pkt *pk)
{
	struct gstream *g = &gs[k];
	uint8_t *f;
	uint16_t seq = (uint16_t)g->next_idx++;

	m->data_off = RTE_PKTMBUF_HEADROOM;
	m->nb_segs = 1;
	m->next = NULL;
	m->ol_flags = 0;
	m->packet_type = 0;
	m->tx_offload = 0;
	m->data_len = (uint16_t)(HDR_LEN + opt.size);
	m->pkt_len = m->data_len;
	m->hash.usr = tag | (k + 1);
	f = rte_pktmbuf_mtod(m, uint8_t *);
	memcpy(f, g->hdr, 64);
	f[HDR_LEN + 2] = (uint8_t)(seq >> 8);
	f[HDR_LEN + 3] = (uint8_t)seq;
	g->ts += 160;
	f[HDR_LEN + 4] = (uint8_t)(g->ts >> 24);
	f[HDR_LEN + 5] = (uint8_t)(g->ts >> 16);
	f[HDR_LEN + 6] = (uint8_t)(g->ts >> 8);
	f[HDR_LEN + 7] = (uint8_t)g->ts;
	/* payload: the stream index, then the pattern (its first 10 bytes came with the
	 * header copy and are rewritten here) */
	memcpy(f + HDR_LEN + 12 + 4, pattern + 4, payload_len - 4);
	f[HDR_LEN + 12] = (uint8_t)(k >> 24);
	f[HDR_LEN + 13] = (uint8_t)(k >> 16);
	f[HDR_LEN + 14] = (uint8_t)(k >> 8);
	f[HDR_LEN + 15] = (uint8_t)k;
	pk->data = f + HDR_LEN;
	pk->len = (uint16_t)(12 + payload_len);
	pk->room = (uint16_t)(m->buf_len - m->data_off - HDR_LEN);
	pk->result = 0;
}

/* Builds and protects n frames: m[i] gets stream ks[i]'s next packet. Returns how many
 * protected (the others are freed). */
static unsigned build_protect(struct rte_mbuf **m, const unsigned *ks, unsigned n)
{
	static struct pr_srtp_pkt pk[2 * MAX_BURST]; /* one thread */
	static struct pr_srtp_ctx *cx[2 * MAX_BURST];
	unsigned ok = 0;

	if (!n || n > RTE_DIM(pk))
		return 0;
	for (unsigned i = 0; i < n; i++) {
		build(m[i], ks[i], &pk[i]);
		cx[i] = gs[ks[i]].tx;
	}
	pr_srtp_protect_burst_multi(cx, pk, n);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *f = rte_pktmbuf_mtod(m[i], uint8_t *);
		struct rte_udp_hdr *u = (struct rte_udp_hdr *)(f + 34);
		if (pk[i].result != PR_SRTP_OK) {
			rte_pktmbuf_free(m[i]);
			continue;
		}
		/* the UDP checksum a device's stack computes (the dataplane checks it on
		 * the packets it punts or drops) */
		u->dgram_cksum = 0;
		u->dgram_cksum = rte_ipv4_udptcp_cksum((struct rte_ipv4_hdr *)(f + 14), u);
		m[ok++] = m[i];
	}
	return ok;
}

static uint16_t fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Full check of frame f (len bytes) relayed for stream k. */
static void check(struct rte_mbuf *m, unsigned k)
{
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	unsigned len = rte_pktmbuf_data_len(m);
	const struct bstream *b = &bs[k];
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(f + 14);
	struct rte_udp_hdr *u = (struct rte_udp_hdr *)(f + 34);
	struct pr_srtp_pkt pk;
	unsigned ulen;
	uint32_t sum;

	st.checked++;
	if (len < HDR_LEN + 12 || ip->version_ihl != 0x45 || ip->next_proto_id != IPPROTO_UDP) {
		st.bad_len++;
		return;
	}
	if (memcmp(f, &gw_mac, 6) || ip->src_addr != b->relay_ip || ip->dst_addr != b->dst_ip ||
	    u->src_port != rte_cpu_to_be_16(b->out_port) ||
	    u->dst_port != rte_cpu_to_be_16(b->dst_port)) {
		st.bad_addr++;
		return;
	}
	if (fold(__rte_raw_cksum(ip, 20, 0)) != 0xffff)
		st.bad_ip_csum++;
	ulen = rte_be_to_cpu_16(u->dgram_len);
	if (rte_be_to_cpu_16(ip->total_length) != 20 + ulen || 14 + 20 + ulen > len ||
	    ulen != 8 + opt.size) {
		st.bad_len++;
		return;
	}
	sum = __rte_raw_cksum(&ip->src_addr, 8, 0) + rte_cpu_to_be_16(IPPROTO_UDP) + u->dgram_len;
	sum = __rte_raw_cksum(u, ulen, sum);
	if (u->dgram_cksum == 0 || fold(sum) != 0xffff)
		st.bad_udp_csum++;
	pk = (struct pr_srtp_pkt){.data = f + HDR_LEN,
				  .len = (uint16_t)(ulen - 8),
				  .room = (uint16_t)(ulen - 8 + rte_pktmbuf_tailroom(m))};
	if (pr_srtp_unprotect_burst(gs[k].vrx, &pk, 1) != 1) {
		st.bad_auth++;
		return;
	}
	if (pk.len != 12 + payload_len || !payload_ok(pk.data + 12, payload_len, k))
		st.bad_payload++;
	if ((pk.data[1] & 0x7f) != b->pt)
		st.bad_pt++;
}

/* Counts one frame that came back; checks it when asked. Returns its stream index, or -1
 * when it is not one of this run's relayed frames. */
static inline int account(struct rte_mbuf *m, bool do_check)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t u = m->hash.usr;
	unsigned k;

	if (m->pool != pool || (u & 0xff000000u) != tag || (u & 0xffffff) == 0 ||
	    (u & 0xffffff) > ns) {
		if (rte_pktmbuf_data_len(m) >= 14 && f[12] == 0x08 && f[13] == 0x06)
			st.arp++;
		else if (m->pool == pool)
			st.stale++;
		else
			st.other++;
		return -1;
	}
	if (rte_pktmbuf_data_len(m) < HDR_LEN || f[12] != 0x08 || f[13] != 0x00 || f[23] != 17) {
		st.other++;
		return -1;
	}
	k = (u & 0xffffff) - 1;
	st.relayed++;
	if (unlikely(!back_seen[k])) {
		back_seen[k] = 1;
		st.streams_back++;
	}
	if (do_check)
		check(m, k);
	return (int)k;
}

/* ---- setup ---- */

static struct rte_mempool *take_pool(const struct rte_mempool *dp_pool)
{
	uint16_t priv = rte_pktmbuf_priv_size((struct rte_mempool *)(uintptr_t)dp_pool);
	uint16_t room = rte_pktmbuf_data_room_size((struct rte_mempool *)(uintptr_t)dp_pool);
	struct rte_mempool *p;

	pool_size = opt.inflight + 4 * MAX_BURST + POOL_SLACK;
	p = rte_pktmbuf_pool_create("mediagen_pool", pool_size, 0, priv, room, rte_socket_id());
	if (!p && rte_errno == EEXIST) {
		/* an earlier mediagen's (pools cannot be freed while the dataplane may hold their
		 * mbufs): take it over if it has the same layout */
		p = rte_mempool_lookup("mediagen_pool");
		if (p && (p->cache_size != 0 || rte_pktmbuf_priv_size(p) != priv ||
			  rte_pktmbuf_data_room_size(p) != room ||
			  p->size < opt.inflight + 2 * MAX_BURST)) {
			fprintf(stderr,
				"mediagen: the existing mediagen_pool does not fit: restart "
				"the dataplane\n");
			return NULL;
		}
		if (p)
			pool_size = p->size;
	}
	if (!p) {
		fprintf(stderr, "mediagen: cannot create mediagen_pool: %s\n",
			rte_strerror(rte_errno));
		return NULL;
	}
	if (p->ops_index != dp_pool->ops_index) {
		fprintf(stderr, "mediagen: mempool handler index differs from dp_pool's\n");
		return NULL;
	}
	if (opt.size + HDR_LEN + PR_SRTP_MAX_TRAILER + RTE_PKTMBUF_HEADROOM > (unsigned)room) {
		fprintf(stderr, "mediagen: --size %u does not fit dp_pool's mbufs\n", opt.size);
		return NULL;
	}
	return p;
}

/* The gateway's ARP request for the dataplane's address: the dataplane learns its next hop
 * from it, and its reply tells us its MAC. */
static void send_arp(void)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint8_t *f;

	if (!m)
		return;
	f = (uint8_t *)rte_pktmbuf_append(m, 60);
	if (!f) {
		rte_pktmbuf_free(m);
		return;
	}
	memset(f, 0, 60);
	memset(f, 0xff, 6);
	memcpy(f + 6, &gw_mac, 6);
	f[12] = 0x08;
	f[13] = 0x06;
	f[15] = 1;    /* Ethernet */
	f[16] = 0x08; /* IPv4 */
	f[18] = 6;
	f[19] = 4;
	f[21] = 1; /* request */
	memcpy(f + 22, &gw_mac, 6);
	memcpy(f + 28, &opt.gw_ip, 4);
	memcpy(f + 38, &opt.dp_ip, 4);
	m->hash.usr = 0;
	while (rte_ring_sp_enqueue(rx_ring, m) != 0 && !stop)
		rte_pause();
}

static bool arp_reply_mac(const struct rte_mbuf *m, struct rte_ether_addr *mac)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);

	if (rte_pktmbuf_data_len(m) < 14 + 28 || f[12] != 0x08 || f[13] != 0x06 || f[21] != 2)
		return false;
	memcpy(mac, f + 22, 6);
	return true;
}

/* ---- loops ---- */

static struct rte_mbuf *ready[4 * MAX_BURST];
static unsigned nready;

/* Drains ring r: counts (and checks) what came back; returns the reusable frames in back[]
 * (at most max), frees the rest. In prime mode marks streams primed. */
static unsigned drain(struct rte_ring *r, struct rte_mbuf **back, unsigned max, bool prime)
{
	static unsigned kctr;
	struct rte_mbuf *m[MAX_BURST];
	unsigned n = rte_ring_sc_dequeue_burst(r, (void **)m, max < MAX_BURST ? max : MAX_BURST,
					       NULL),
		 nb = 0;

	for (unsigned i = 0; i < n; i++) {
		bool chk = false;
		int k;
		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(m[i + 1], void *));
		if (++kctr >= opt.check_every) {
			kctr = 0;
			chk = true;
		}
		k = account(m[i], chk);
		if (prime && k >= 0 && !gs[k].primed) {
			gs[k].primed = 1;
			st.primed++;
			if (st.primed == 1)
				st.first_at = now_real();
			if (st.primed == ns)
				st.all_at = now_real();
		}
		if (m[i]->pool == pool && m[i]->nb_segs == 1 && rte_mbuf_refcnt_read(m[i]) == 1 &&
		    !prime)
			back[nb++] = m[i];
		else
			rte_pktmbuf_free(m[i]);
	}
	return nb;
}

static void flush_ready(void)
{
	unsigned n;

	if (!nready)
		return;
	n = rte_ring_sp_enqueue_burst(rx_ring, (void **)ready, nready, NULL);
	st.sent += n;
	nready -= n;
	if (nready && n)
		memmove(ready, ready + n, nready * sizeof(ready[0]));
}

static uint64_t per_sec[3601];
static unsigned nsec;

static void measure_loop(void)
{
	uint64_t hz = rte_get_tsc_hz(), t0 = rte_rdtsc(), tick = t0 + hz,
		 end = t0 + hz * opt.seconds, last = 0;
	struct rte_mbuf *back[2 * MAX_BURST];
	unsigned ks[2 * MAX_BURST];

	while (!stop) {
		uint64_t now = rte_rdtsc(), t1;
		unsigned nb, room, want;

		if (unlikely(now >= tick)) {
			per_sec[nsec++] = st.relayed - last;
			last = st.relayed;
			tick += hz;
			if (now >= end)
				break;
			/* control's frames (ARP): a few a second at most */
			nb = drain(ctl_ring, back, MAX_BURST, false);
			if (nb)
				rte_pktmbuf_free_bulk(back, nb);
		}
		st.ring_sum += rte_ring_count(rx_ring);
		st.ring_samples++;
		/* 1. what the dataplane relayed: count, check, reuse */
		room = (unsigned)RTE_DIM(ready) - nready;
		want = room < opt.burst ? room : opt.burst;
		nb = drain(tx_ring, back, want, false);
		/* 2. top up to --inflight when frames were dropped (freed into our pool) */
		if (nb < opt.burst && nready < opt.burst) {
			unsigned in_use = pool_size - rte_mempool_avail_count(pool);
			unsigned add = opt.burst - nb;
			if (in_use < opt.inflight) {
				if (add > opt.inflight - in_use)
					add = opt.inflight - in_use;
				if (add > room - nb)
					add = room - nb;
				if (add && rte_pktmbuf_alloc_bulk(pool, back + nb, add) == 0)
					nb += add;
			}
		}
		/* 3. the next packets: build, protect, send */
		if (nb) {
			for (unsigned i = 0; i < nb; i++) {
				ks[i] = order[next_pos];
				if (++next_pos == ns)
					next_pos = 0;
			}
			nb = build_protect(back, ks, nb);
			memcpy(ready + nready, back, nb * sizeof(back[0]));
			nready += nb;
		}
		flush_ready();
		t1 = rte_rdtsc();
		if (nb)
			st.busy_cyc += t1 - now;
		st.total_cyc += t1 - now;
	}
}

static void prime_loop(void)
{
	uint64_t hz = rte_get_tsc_hz(), end = rte_rdtsc() + hz * opt.seconds,
		 resend = hz / 1000 * opt.resend_ms;
	unsigned head = 0; /* streams before head are all primed */
	struct rte_mbuf *back[MAX_BURST], *m[MAX_BURST];
	unsigned ks[MAX_BURST];

	while (!stop && st.primed < ns && rte_rdtsc() < end) {
		uint64_t now = rte_rdtsc();
		unsigned n = 0, seen = 0;

		(void)drain(tx_ring, back, MAX_BURST, true);
		(void)drain(ctl_ring, back, MAX_BURST, true);
		while (head < ns && gs[head].primed)
			head++;
		for (unsigned i = head; i < ns && seen < opt.window; i++) {
			struct gstream *g = &gs[i];
			if (g->primed)
				continue;
			seen++;
			if (g->last_tsc && now - g->last_tsc < resend)
				continue;
			if (nready + n + 1 > RTE_DIM(ready) ||
			    rte_pktmbuf_alloc_bulk(pool, m + n, 1) != 0)
				break;
			g->last_tsc = now;
			ks[n++] = i;
			if (n == opt.burst) {
				n = build_protect(m, ks, n);
				memcpy(ready + nready, m, n * sizeof(m[0]));
				nready += n;
				flush_ready();
				n = 0;
				if (nready >= 2 * MAX_BURST) {
					st.ring_full++;
					break;
				}
			}
		}
		if (n) {
			n = build_protect(m, ks, n);
			memcpy(ready + nready, m, n * sizeof(m[0]));
			nready += n;
		}
		flush_ready();
		rte_delay_us_sleep(200);
	}
	/* the last of them */
	for (uint64_t t = rte_rdtsc(); rte_rdtsc() - t < hz / 50;) {
		(void)drain(tx_ring, back, MAX_BURST, true);
		(void)drain(ctl_ring, back, MAX_BURST, true);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double median_skip1(void)
{
	unsigned skip = nsec > 1 ? 1 : 0, k = nsec - skip;
	uint64_t tmp[3601];

	if (!k)
		return 0;
	memcpy(tmp, per_sec, nsec * sizeof(*tmp));
	qsort(tmp + skip, k, sizeof(*tmp), cmp_u64);
	return k % 2 ? (double)tmp[skip + k / 2]
		     : (tmp[skip + k / 2 - 1] + tmp[skip + k / 2]) / 2.0;
}

int main(int argc, char **argv)
{
	char name[RTE_RING_NAMESIZE];
	struct rte_mempool *dp_pool;
	unsigned ntx;
	uint64_t t0, hz;
	bool have_mac = false;
	int ret;

	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "mediagen: rte_eal_init failed (run as --proc-type=secondary with "
				"the dataplane's --file-prefix)\n");
		return 2;
	}
	parse_args(argc - ret, argv + ret);
	payload_len = opt.size - 12 - TAG_LEN;
	for (unsigned i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)i;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	hz = rte_get_tsc_hz();
	srand((unsigned)(rte_rdtsc() ^ (uint64_t)getpid()));
	tag = (uint32_t)(1 + rand() % 255) << 24;

	for (ntx = 0; ntx < RTE_MAX_LCORE; ntx++) {
		snprintf(name, sizeof(name), "%s_tx%u", opt.ring, ntx);
		if (!rte_ring_lookup(name))
			break;
	}
	dp_pool = rte_mempool_lookup("dp_pool");
	snprintf(name, sizeof(name), "%s_rx0", opt.ring);
	rx_ring = rte_ring_lookup(name);
	snprintf(name, sizeof(name), "%s_tx0", opt.ring);
	tx_ring = rte_ring_lookup(name);
	if (ntx != 2 || !dp_pool || !rx_ring || !tx_ring) {
		fprintf(stderr,
			"mediagen: want rings %s_rx0, %s_tx0, %s_tx1 (one worker) and "
			"dp_pool: is the dataplane running with device = ring:%s, one worker "
			"and huge_unlink = no?\n",
			opt.ring, opt.ring, opt.ring, opt.ring);
		return 2;
	}
	snprintf(name, sizeof(name), "%s_tx1", opt.ring);
	ctl_ring = rte_ring_lookup(name);
	pool = take_pool(dp_pool);
	if (!pool)
		return 2;

	if (streams_load(opt.streams, SUITE, &bs, &ns) < 0 || ns >= 0xffffff)
		return 2;
	gs = aligned_alloc(64, ns * sizeof(*gs));
	order = malloc(ns * sizeof(*order));
	back_seen = calloc(ns, 1);
	if (!gs || !order || !back_seen) {
		fprintf(stderr, "mediagen: out of memory for %u streams\n", ns);
		return 2;
	}
	memset(gs, 0, ns * sizeof(*gs));
	streams_order(order, ns);
	state_load();
	if (pr_srtp_thread_init() < 0) {
		fprintf(stderr, "mediagen: no crypto job manager\n");
		return 2;
	}
	for (unsigned i = 0; i < ns; i++)
		if (stream_ctx(&bs[i], 0, gs[i].next_idx, &gs[i].tx) < 0 ||
		    stream_ctx(&bs[i], 1, gs[i].next_idx, &gs[i].vrx) < 0) {
			fprintf(stderr, "mediagen: stream %u: cannot create its contexts\n", i);
			return 2;
		}

	/* frames a previous mediagen left in flight come back first: counted stale, freed */
	send_arp();
	for (t0 = rte_rdtsc(); !have_mac && rte_rdtsc() - t0 < hz && !stop;) {
		struct rte_mbuf *m[32];
		unsigned n = rte_ring_sc_dequeue_burst(ctl_ring, (void **)m, 32, NULL);
		for (unsigned i = 0; i < n; i++) {
			have_mac = have_mac || arp_reply_mac(m[i], &dp_mac);
			rte_pktmbuf_free(m[i]);
		}
		n = rte_ring_sc_dequeue_burst(tx_ring, (void **)m, 32, NULL);
		for (unsigned i = 0; i < n; i++) {
			st.stale++;
			rte_pktmbuf_free(m[i]);
		}
	}
	if (!have_mac) {
		fprintf(stderr, "mediagen: no ARP reply from the dataplane within a second\n");
		return 2;
	}
	for (unsigned i = 0; i < ns; i++)
		make_header(i);
	if (opt.ready) {
		FILE *f = fopen(opt.ready, "w");
		if (f)
			fclose(f);
	}

	if (opt.prime)
		prime_loop();
	else
		measure_loop();
	state_save();

	printf(
	    "{\"mode\": \"%s\", \"size\": %u, \"streams\": %u, \"sent\": %" PRIu64
	    ", \"relayed\": %" PRIu64 ", \"arp\": %" PRIu64 ", \"other\": %" PRIu64
	    ", \"stale\": %" PRIu64 ", \"checked\": %" PRIu64 ", \"bad_addr\": %" PRIu64
	    ", \"bad_ip_csum\": %" PRIu64 ", \"bad_udp_csum\": %" PRIu64 ", \"bad_len\": %" PRIu64
	    ", \"bad_auth\": %" PRIu64 ", \"bad_payload\": %" PRIu64 ", \"bad_pt\": %" PRIu64
	    ", \"primed\": %" PRIu64 ", \"streams_back\": %" PRIu64 ", \"ring_full\": %" PRIu64
	    ", \"first_at\": %.6f, \"all_at\": %.6f, \"gen_busy\": %.3f, \"rx_ring_avg\": %.0f"
	    ", \"per_second\": [",
	    opt.prime ? "prime" : "measure", opt.size, ns, st.sent, st.relayed, st.arp, st.other,
	    st.stale, st.checked, st.bad_addr, st.bad_ip_csum, st.bad_udp_csum, st.bad_len,
	    st.bad_auth, st.bad_payload, st.bad_pt, st.primed, st.streams_back, st.ring_full,
	    st.first_at, st.all_at, st.total_cyc ? (double)st.busy_cyc / (double)st.total_cyc : 0.0,
	    st.ring_samples ? (double)st.ring_sum / (double)st.ring_samples : 0.0);
	for (unsigned i = 0; i < nsec; i++)
		printf("%s%" PRIu64, i ? ", " : "", per_sec[i]);
	printf("], \"median_pps\": %.0f}\n", median_skip1());
	fflush(stdout);
	ret = st.bad_addr || st.bad_ip_csum || st.bad_udp_csum || st.bad_len || st.bad_auth ||
		      st.bad_payload || st.bad_pt
		  ? 1
		  : 0;
	if (opt.prime && st.primed < ns)
		ret = 1;
	/* pool deliberately not freed: the dataplane may still hold some of its mbufs */
	rte_eal_cleanup();
	return ret;
}
