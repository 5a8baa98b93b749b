/* SPDX-License-Identifier: BSD-3-Clause */
/* ringgen: a traffic generator for poprelay-dataplane's shared-memory port (device = ring:NAME),
 * run as a DPDK secondary process next to the dataplane (which must use hugepages and
 * huge_unlink = no so that its memory can be mapped here).
 *
 *   ringgen [EAL args] -- --ring NAME --pcap FILE --seconds S [--burst 32] [--inflight 2048]
 *           [--check-every 64] [--pattern-len 0] [--listen-port 3478] [--full-copy]
 *           [--queues 1]
 *
 * With --queues W (one lcore each: EAL --lcores must give at least W), queue Q's loop runs
 * on its own lcore: the dataplane "receives" from the ring NAME_rxQ (we are its single
 * producer) and its worker Q "transmits" into NAME_txQ (we are its single consumer); the
 * last NAME_txN, the control lcore's, is drained by queue 0. The pcap (classic libpcap,
 * either byte order, Ethernet) is split into a preamble (every frame that is not IPv4/IPv6
 * UDP, e.g. the gateway's ARP request, sent once at start on queue 0) and the UDP
 * templates; each template goes to one queue by a hash of its addresses and ports (what a
 * NIC's RSS does), and each queue's share is shuffled with a fixed seed. The source MAC of
 * the dataplane's ARP reply to the preamble replaces the unicast destination MAC of the
 * templates (a ring port's MAC is not the one the pcap was made for). Each loop drains its
 * NAME_txQ, counts (and every K-th frame checks) what came back, rewrites each returned
 * mbuf with its next template (round robin) and enqueues it to its NAME_rxQ again, keeping
 * at most --inflight of its mbufs (its own pool) outside this process; when the dataplane
 * drops frames (they go back to the pool) fresh mbufs replace them. Templates are packed in
 * one buffer per queue in their shuffled order so that the copy reads a stream, not
 * scattered blocks.
 *
 * Checks on a checked UDP frame: IPv4 header checksum; UDP length against the IP length; UDP
 * checksum non-zero and correct (pseudo-header included, IPv4 and IPv6); with --pattern-len L
 * the payload is the L-byte pattern (byte i == i & 0xff), relayed to a peer, or, when the UDP
 * source port is --listen-port, a ChannelData header (channel 0x4000-0x7FFF, length L) and
 * the pattern, relayed to a client.
 *
 * Output: one JSON line {"sent", "received", "to_client", "to_peer", "arp", "other",
 * "checked", "bad_ip_csum", "bad_udp_csum", "bad_len", "bad_payload", "per_second",
 * "median_mpps", "queues", "queue_mpps"}, every count summed over the queues; per_second is
 * the frames received back in each second of wall time, median_mpps their median without
 * the first second, queue_mpps the same median for each queue alone; bad_len counts UDP
 * lengths that do not match the IP length. Exit 0, 1 when a check failed, 2 on a setup
 * error.
 *
 * Ownership: our pools ("ringgen_pool" for queue 0, "ringgen_poolQ" for the others) have no
 * per-lcore cache because the dataplane's workers free the frames they drop into them from
 * their own lcores. They are never freed: the dataplane may still hold some of their mbufs
 * when we exit. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_memcpy.h>
#include <rte_mempool.h>
#include <rte_prefetch.h>
#include <rte_ring.h>
#include <rte_udp.h>

#define MAX_BURST    512
#define POOL_SLACK   4096
#define SHUFFLE_SEED 0x5eed2024u
#define MAX_QUEUES   16

struct tmpl {
	uint8_t *data;
	uint16_t len;
	uint32_t group; /* 1..ngroups, 0 = none (header-only restore, see rebuild) */
};

static struct {
	const char *ring, *pcap;
	unsigned int seconds, burst, inflight, check_every, pattern_len, queues;
	bool full_copy;
	uint16_t listen_port;
} opt = {.burst = 32, .inflight = 2048, .check_every = 64, .listen_port = 3478, .queues = 1};

/* Written by the signal handler, read by the loops. */
static volatile sig_atomic_t stop;

struct stats {
	uint64_t sent, received, to_client, to_peer, arp, other, checked;
	uint64_t bad_ip_csum, bad_udp_csum, bad_len, bad_payload;
};

/* Header-only restore groups (see rebuild): a group's frames differ only in their first
 * restore bytes, the headers up to and with a ChannelData header, rounded up to whole
 * lines (IPv4: 64, IPv6: 128). */
#define MAX_GROUPS 8
struct group {
	unsigned int *idx, n, next, restore;
};

/* One queue: everything its loop touches, written by its lcore alone. */
struct gq {
	struct rte_ring *rx, *tx;
	struct rte_mempool *pool;
	unsigned int pool_size;
	struct tmpl *udp;
	unsigned int nudp, next, ngroups;
	struct group groups[MAX_GROUPS];
	struct stats st;
	uint64_t *per_sec;
	unsigned int nsec;
} __rte_cache_aligned;

static struct gq gqs[MAX_QUEUES];
static struct rte_ring *ctl_ring; /* the control lcore's NAME_txN, drained by queue 0 */
static uint64_t start_tsc;	  /* every loop's clock starts here */

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: ringgen [EAL args] -- --ring NAME --pcap FILE --seconds S "
			"[--burst 32] [--inflight 2048] [--check-every 64] [--pattern-len L] "
			"[--listen-port 3478] [--full-copy] [--queues 1]\n");
	exit(2);
}

static unsigned int parse_uint(const char *name, const char *s, unsigned long min,
			       unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *s == '\0' || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "ringgen: --%s %s: expected an integer in %lu-%lu\n", name, s, min,
			max);
		exit(2);
	}
	return (unsigned int)v;
}

static void parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"ring", required_argument, NULL, 'r'},
	    {"pcap", required_argument, NULL, 'p'},
	    {"seconds", required_argument, NULL, 's'},
	    {"burst", required_argument, NULL, 'b'},
	    {"inflight", required_argument, NULL, 'i'},
	    {"check-every", required_argument, NULL, 'k'},
	    {"pattern-len", required_argument, NULL, 'l'},
	    {"listen-port", required_argument, NULL, 'P'},
	    {"full-copy", no_argument, NULL, 'F'},
	    {"queues", required_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'r':
			opt.ring = optarg;
			break;
		case 'p':
			opt.pcap = optarg;
			break;
		case 's':
			opt.seconds = parse_uint("seconds", optarg, 1, 86400);
			break;
		case 'b':
			opt.burst = parse_uint("burst", optarg, 1, MAX_BURST);
			break;
		case 'i':
			opt.inflight = parse_uint("inflight", optarg, 1, 1u << 20);
			break;
		case 'k':
			opt.check_every = parse_uint("check-every", optarg, 1, UINT32_MAX);
			break;
		case 'l':
			opt.pattern_len = parse_uint("pattern-len", optarg, 0, 65535);
			break;
		case 'P':
			opt.listen_port = (uint16_t)parse_uint("listen-port", optarg, 1, 65535);
			break;
		case 'F':
			opt.full_copy = true;
			break;
		case 'q':
			opt.queues = parse_uint("queues", optarg, 1, MAX_QUEUES);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || !opt.ring || !opt.pcap || !opt.seconds)
		usage();
}

/* ---- pcap ---------------------------------------------------------------------------- */

static uint32_t rd32(const uint8_t *p, bool swap)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return swap ? __builtin_bswap32(v) : v;
}

/* Offset of the UDP header in an Ethernet frame carrying IPv4 or IPv6 UDP (IPv6: no
 * extension headers), 0 when it is anything else. */
static size_t udp_offset(const uint8_t *f, size_t len)
{
	uint16_t et;

	if (len < RTE_ETHER_HDR_LEN)
		return 0;
	memcpy(&et, f + 12, 2);
	if (et == RTE_BE16(RTE_ETHER_TYPE_IPV4)) {
		size_t ihl = (size_t)(f[14] & 0x0f) * 4;
		uint16_t frag;
		memcpy(&frag, f + 14 + 6, 2);
		if (len < 14 + 20 || (f[14] >> 4) != 4 || ihl < 20 || f[14 + 9] != IPPROTO_UDP ||
		    (frag & RTE_BE16(RTE_IPV4_HDR_OFFSET_MASK | RTE_IPV4_HDR_MF_FLAG)) ||
		    len < 14 + ihl + 8)
			return 0;
		return 14 + ihl;
	}
	if (et == RTE_BE16(RTE_ETHER_TYPE_IPV6)) {
		if (len < 14 + 40 + 8 || (f[14] >> 4) != 6 || f[14 + 6] != IPPROTO_UDP)
			return 0;
		return 14 + 40;
	}
	return 0;
}

/* Reads FILE into preamble and UDP templates; max_len is the largest frame that fits. */
static int read_pcap(const char *path, size_t max_len, struct tmpl **pre, unsigned int *npre,
		     struct tmpl **udp, unsigned int *nudp)
{
	FILE *f = fopen(path, "rb");
	uint8_t gh[24], rh[16];
	unsigned int cap = 1024, np = 0, nu = 0;
	struct tmpl *p = NULL, *u = NULL;
	bool swap;
	uint32_t magic;

	if (!f) {
		fprintf(stderr, "ringgen: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fread(gh, 1, sizeof(gh), f) != sizeof(gh))
		goto bad;
	memcpy(&magic, gh, 4);
	if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d)
		swap = false;
	else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1)
		swap = true;
	else
		goto bad;
	if ((rd32(gh + 20, swap) & 0x0fffffff) != 1) {
		fprintf(stderr, "ringgen: %s: link type %u, only Ethernet (1) is supported\n", path,
			rd32(gh + 20, swap) & 0x0fffffff);
		fclose(f);
		return -1;
	}
	p = malloc(cap * sizeof(*p));
	u = malloc(cap * sizeof(*u));
	if (!p || !u)
		goto oom;
	for (;;) {
		size_t got = fread(rh, 1, sizeof(rh), f);
		uint32_t len;
		uint8_t *d;

		if (got == 0 && feof(f))
			break;
		if (got != sizeof(rh))
			goto bad;
		len = rd32(rh + 8, swap);
		if (len > max_len || len < RTE_ETHER_HDR_LEN) {
			fprintf(
			    stderr,
			    "ringgen: %s: frame %u of %u bytes (mbufs take 14-%zu; snaplen cut?)\n",
			    path, np + nu + 1, len, max_len);
			goto fail;
		}
		if (np == cap || nu == cap) {
			struct tmpl *np2, *nu2;
			cap *= 2;
			np2 = realloc(p, cap * sizeof(*p));
			if (np2)
				p = np2;
			nu2 = realloc(u, cap * sizeof(*u));
			if (nu2)
				u = nu2;
			if (!np2 || !nu2)
				goto oom;
		}
		d = aligned_alloc(64, RTE_ALIGN_CEIL(len, 64));
		if (!d)
			goto oom;
		if (fread(d, 1, len, f) != len) {
			free(d);
			goto bad;
		}
		if (udp_offset(d, len))
			u[nu++] = (struct tmpl){d, (uint16_t)len, 0};
		else
			p[np++] = (struct tmpl){d, (uint16_t)len, 0};
	}
	fclose(f);
	*pre = p;
	*npre = np;
	*udp = u;
	*nudp = nu;
	return 0;
oom:
	fprintf(stderr, "ringgen: %s: out of memory\n", path);
	goto fail;
bad:
	fprintf(stderr, "ringgen: %s: not a classic pcap file, or truncated\n", path);
fail:
	fclose(f);
	return -1;
}

/* Fixed-seed Fisher-Yates, so that consecutive frames hit unrelated allocations. */
static void shuffle(struct tmpl *t, unsigned int n)
{
	uint64_t x = SHUFFLE_SEED;

	for (unsigned int i = n; i > 1; i--) {
		unsigned int j;
		struct tmpl tmp;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		j = (unsigned int)(x % i);
		tmp = t[i - 1];
		t[i - 1] = t[j];
		t[j] = tmp;
	}
}

/* Copies the templates, in their shuffled order, into one buffer (64-byte slots): the loop
 * then reads them as a stream the hardware prefetcher follows, not scattered heap blocks. */
static int pack(struct tmpl *t, unsigned int n)
{
	size_t total = 0, off = 0;
	uint8_t *buf;

	for (unsigned int i = 0; i < n; i++)
		total += RTE_ALIGN_CEIL(t[i].len, 64);
	buf = aligned_alloc(64, total);
	if (!buf)
		return -1;
	for (unsigned int i = 0; i < n; i++) {
		memcpy(buf + off, t[i].data, t[i].len);
		free(t[i].data);
		t[i].data = buf + off;
		off += RTE_ALIGN_CEIL(t[i].len, 64);
	}
	return 0;
}

/* ---- frames -------------------------------------------------------------------------- */

/* Header-only restore: the relay rewrites a frame's headers where they lie and leaves the
 * payload in place, so a frame that comes back needs only its headers rewritten (its
 * group's restore bytes: a ChannelData header moves the payload of neither direction)
 * from a template with the same length and the same bytes after them (a "group": here, the
 * ChannelData frames and the peers' datagrams). Copying 250 bytes into lines the other core
 * just wrote costs the generator more than the relay costs the dataplane. The group rides
 * in the mbuf's hash.usr (the dataplane does not touch it). --full-copy turns it off. */

#define PREFETCHW(p) __builtin_prefetch((p), 1, 3)

static inline void build(struct rte_mbuf *m, const struct tmpl *t)
{
	m->data_off = RTE_PKTMBUF_HEADROOM;
	m->nb_segs = 1;
	m->next = NULL;
	m->ol_flags = 0;
	m->packet_type = 0;
	m->tx_offload = 0;
	m->data_len = t->len;
	m->pkt_len = t->len;
	rte_memcpy(rte_pktmbuf_mtod(m, void *), t->data, t->len);
	m->hash.usr = t->group;
}

/* A frame back from the dataplane, ready to go again: header bytes only when its group is
 * known, else the next template in full. */
static inline void rebuild(struct rte_mbuf *m, struct gq *g)
{
	uint32_t gi = m->hash.usr;
	if (gi && gi <= g->ngroups) {
		struct group *gr = &g->groups[gi - 1];
		const struct tmpl *t = &g->udp[gr->idx[gr->next]];
		if (++gr->next == gr->n)
			gr->next = 0;
		m->data_off = RTE_PKTMBUF_HEADROOM;
		m->data_len = t->len;
		m->pkt_len = t->len;
		rte_memcpy(rte_pktmbuf_mtod(m, void *), t->data, gr->restore);
		return;
	}
	build(m, &g->udp[g->next]);
	if (++g->next == g->nudp)
		g->next = 0;
}

/* Sorts templates into groups (same length and restore bytes, same bytes after them). No
 * groups (full copies) when a frame is too short or there are too many kinds. */
static void make_groups(struct gq *q)
{
	struct tmpl *t = q->udp;
	struct group *groups = q->groups;
	unsigned int rep[MAX_GROUPS], i, g, n = q->nudp, ngroups = 0, r;

	for (i = 0; i < n; i++) {
		t[i].group = 0;
		r = RTE_ALIGN_CEIL(udp_offset(t[i].data, t[i].len) + 8 + 4, 64);
		if (t[i].len <= r)
			goto none;
		for (g = 0; g < ngroups; g++)
			if (t[rep[g]].len == t[i].len && groups[g].restore == r &&
			    !memcmp(t[rep[g]].data + r, t[i].data + r, t[i].len - r))
				break;
		if (g == ngroups) {
			if (ngroups == MAX_GROUPS)
				goto none;
			rep[ngroups++] = i;
			groups[g].restore = r;
		}
		t[i].group = g + 1;
		groups[g].n++;
	}
	for (g = 0; g < ngroups; g++) {
		groups[g].idx = calloc(groups[g].n, sizeof(unsigned int));
		if (!groups[g].idx)
			goto none;
		groups[g].n = 0;
	}
	for (i = 0; i < n; i++) {
		struct group *gr = &groups[t[i].group - 1];
		gr->idx[gr->n++] = i;
	}
	q->ngroups = ngroups;
	return;
none:
	for (i = 0; i < n; i++)
		t[i].group = 0;
	q->ngroups = 0;
}

/* The queue a template goes to: a hash of its addresses and ports, as a NIC's RSS would
 * spread them (the same 5-tuple always to the same queue). */
static unsigned int tmpl_queue(const struct tmpl *t, unsigned int nq)
{
	size_t off = udp_offset(t->data, t->len), a, alen;
	uint32_t h = 2166136261u; /* FNV-1a */

	if (nq == 1 || !off)
		return 0;
	if ((t->data[14] >> 4) == 4) {
		a = 14 + 12;
		alen = 8;
	} else {
		a = 14 + 8;
		alen = 32;
	}
	for (size_t i = 0; i < alen; i++)
		h = (h ^ t->data[a + i]) * 16777619u;
	for (size_t i = 0; i < 4; i++)
		h = (h ^ t->data[off + i]) * 16777619u;
	return (h ^ (h >> 16)) % nq;
}

static uint16_t fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Full checks on one UDP frame f of len bytes, UDP header at off. */
static void check_udp(struct stats *st, const uint8_t *f, size_t len, size_t off, bool to_client)
{
	const struct rte_udp_hdr *uh = (const struct rte_udp_hdr *)(f + off);
	size_t ulen = rte_be_to_cpu_16(uh->dgram_len), l = opt.pattern_len;
	uint32_t sum;
	const uint8_t *pl;

	st->checked++;
	if (f[14] >> 4 == 4) {
		const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(f + 14);
		size_t ihl = off - 14, tot = rte_be_to_cpu_16(ip->total_length);
		if (fold(__rte_raw_cksum(ip, ihl, 0)) != 0xffff)
			st->bad_ip_csum++;
		if (tot != ihl + ulen || 14 + tot > len) {
			st->bad_len++;
			return;
		}
		sum = __rte_raw_cksum(&ip->src_addr, 8, 0);
	} else {
		const struct rte_ipv6_hdr *ip = (const struct rte_ipv6_hdr *)(f + 14);
		if (rte_be_to_cpu_16(ip->payload_len) != ulen || off + ulen > len) {
			st->bad_len++;
			return;
		}
		sum = __rte_raw_cksum(ip->src_addr, 32, 0);
	}
	if (ulen < sizeof(*uh)) {
		st->bad_len++;
		return;
	}
	sum += rte_cpu_to_be_16(IPPROTO_UDP) + uh->dgram_len;
	sum = __rte_raw_cksum(uh, ulen, sum);
	if (uh->dgram_cksum == 0 || fold(sum) != 0xffff)
		st->bad_udp_csum++;
	if (!l)
		return;
	pl = (const uint8_t *)(uh + 1);
	ulen -= sizeof(*uh);
	if (to_client) {
		uint16_t ch = (uint16_t)(pl[0] << 8 | pl[1]), cl = (uint16_t)(pl[2] << 8 | pl[3]);
		if (ulen != 4 + l || ch < 0x4000 || ch > 0x7fff || cl != l) {
			st->bad_payload++;
			return;
		}
		pl += 4;
	} else if (ulen != l) {
		st->bad_payload++;
		return;
	}
	for (size_t i = 0; i < l; i++) {
		if (pl[i] != (uint8_t)i) {
			st->bad_payload++;
			return;
		}
	}
}

/* Counts one frame the dataplane transmitted; checks it when check is set. */
static inline void account(struct stats *st, const struct rte_mbuf *m, bool check)
{
	uint8_t buf[RTE_MBUF_DEFAULT_BUF_SIZE];
	const uint8_t *f;
	uint32_t len = rte_pktmbuf_pkt_len(m);
	size_t off;
	uint16_t et;

	if (len > sizeof(buf))
		len = sizeof(buf);
	f = rte_pktmbuf_read(m, 0, len, buf);
	if (!f || len < RTE_ETHER_HDR_LEN) {
		st->other++;
		return;
	}
	memcpy(&et, f + 12, 2);
	if (et == RTE_BE16(RTE_ETHER_TYPE_ARP)) {
		st->arp++;
		return;
	}
	off = udp_offset(f, len);
	if (!off) {
		st->other++;
		return;
	}
	{
		const struct rte_udp_hdr *uh = (const struct rte_udp_hdr *)(f + off);
		bool to_client = uh->src_port == rte_cpu_to_be_16(opt.listen_port);
		if (to_client)
			st->to_client++;
		else
			st->to_peer++;
		if (check)
			check_udp(st, f, len, off, to_client);
	}
}

/* The sender hardware address of an ARP reply, i.e. the dataplane's MAC. */
static bool arp_reply_mac(const struct rte_mbuf *m, struct rte_ether_addr *mac)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);

	if (rte_pktmbuf_data_len(m) < 14 + 28 || f[12] != 0x08 || f[13] != 0x06 || f[14 + 6] != 0 ||
	    f[14 + 7] != 2)
		return false;
	memcpy(mac, f + 14 + 8, RTE_ETHER_ADDR_LEN);
	return true;
}

/* ---- main ---------------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Queue q's pool: its own, so that each loop allocates and counts what it has out without
 * touching another's; a previous ringgen's pool of the same layout is taken over. */
static struct rte_mempool *queue_pool(unsigned int q, const struct rte_mempool *dp_pool,
				      unsigned int *size)
{
	char name[RTE_MEMPOOL_NAMESIZE];
	uint16_t priv = rte_pktmbuf_priv_size((struct rte_mempool *)(uintptr_t)dp_pool);
	uint16_t room = rte_pktmbuf_data_room_size((struct rte_mempool *)(uintptr_t)dp_pool);
	struct rte_mempool *pool;

	if (q == 0)
		snprintf(name, sizeof(name), "ringgen_pool");
	else
		snprintf(name, sizeof(name), "ringgen_pool%u", q);
	*size = opt.inflight + 4 * MAX_BURST + POOL_SLACK;
	pool = rte_pktmbuf_pool_create(name, *size, 0, priv, room, rte_socket_id());
	if (!pool && rte_errno == EEXIST) {
		/* A previous ringgen against this dataplane left it (pools cannot be freed while
		 * the dataplane may hold their mbufs): take it over if it has the same layout.
		 * Its mbufs still in flight come back through NAME_txQ like ours. */
		pool = rte_mempool_lookup(name);
		if (pool && (pool->cache_size != 0 || rte_pktmbuf_priv_size(pool) != priv ||
			     rte_pktmbuf_data_room_size(pool) != room ||
			     pool->size < opt.inflight + 2 * MAX_BURST)) {
			fprintf(stderr,
				"ringgen: the existing %s (%u mbufs) does not fit --inflight %u or "
				"dp_pool's layout: restart the dataplane\n",
				name, pool->size, opt.inflight);
			return NULL;
		}
		if (pool)
			*size = pool->size;
	}
	if (!pool) {
		fprintf(stderr, "ringgen: cannot create %s of %u mbufs: %s\n", name, *size,
			rte_strerror(rte_errno));
		return NULL;
	}
	/* The dataplane frees the frames it drops into our pool through its own table of
	 * mempool handlers: the index must mean the same handler in both processes. */
	if (pool->ops_index != dp_pool->ops_index) {
		fprintf(stderr,
			"ringgen: mempool handler index %d differs from dp_pool's %d: the "
			"two processes register handlers differently\n",
			pool->ops_index, dp_pool->ops_index);
		return NULL;
	}
	return pool;
}

/* Splits the templates between the queues (tmpl_queue), then shuffles and packs each
 * queue's share and sorts it into groups. */
static int split_templates(struct tmpl *udp, unsigned int nudp)
{
	unsigned int q, i;

	for (q = 0; q < opt.queues; q++) {
		gqs[q].udp = malloc(nudp * sizeof(*udp));
		if (!gqs[q].udp)
			return -1;
	}
	for (i = 0; i < nudp; i++) {
		struct gq *g = &gqs[tmpl_queue(&udp[i], opt.queues)];
		g->udp[g->nudp++] = udp[i];
	}
	for (q = 0; q < opt.queues; q++) {
		struct gq *g = &gqs[q];
		if (g->nudp == 0) {
			fprintf(
			    stderr,
			    "ringgen: no template for queue %u of %u: too few distinct 5-tuples "
			    "in the pcap\n",
			    q, opt.queues);
			return -1;
		}
		shuffle(g->udp, g->nudp);
		if (pack(g->udp, g->nudp) < 0)
			return -1;
		if (!opt.full_copy)
			make_groups(g);
		g->per_sec = calloc(opt.seconds + 1, sizeof(*g->per_sec));
		if (!g->per_sec)
			return -1;
	}
	return 0;
}

/* What the control lcore transmitted (ARP replies and requests): counted and freed. */
static void drain_ctl(struct stats *st)
{
	struct rte_mbuf *m[32];
	unsigned int n = rte_ring_sc_dequeue_burst(ctl_ring, (void **)m, 32, NULL);

	for (unsigned int i = 0; i < n; i++) {
		account(st, m[i], false);
		rte_pktmbuf_free(m[i]);
	}
	st->received += n;
}

/* Before the run: whatever comes back on the queues' rings is a previous run's. */
static void drain_stale(void)
{
	struct rte_mbuf *m[32];

	for (unsigned int q = 0; q < opt.queues; q++) {
		unsigned int n = rte_ring_sc_dequeue_burst(gqs[q].tx, (void **)m, 32, NULL);
		for (unsigned int i = 0; i < n; i++) {
			account(&gqs[q].st, m[i], false);
			rte_pktmbuf_free(m[i]);
		}
		gqs[q].st.received += n;
	}
}

/* One queue's loop, on its own lcore, until --seconds after start_tsc. */
static int queue_loop(void *arg)
{
	struct gq *g = arg;
	struct stats *st = &g->st;
	struct rte_mbuf *pend[2 * MAX_BURST], *back[2 * MAX_BURST];
	unsigned int npend = 0, kctr = 0, i;
	uint64_t hz = rte_get_tsc_hz(), tick = start_tsc + hz, end = start_tsc + hz * opt.seconds;
	uint64_t last_rx = st->received;
	bool is0 = g == &gqs[0];

	while (!stop) {
		unsigned int n, room_left = 2 * MAX_BURST - npend, want;
		uint64_t now = rte_rdtsc();

		if (unlikely(now >= tick)) {
			g->per_sec[g->nsec++] = st->received - last_rx;
			last_rx = st->received;
			tick += hz;
			if (now >= end)
				break;
			if (is0 && ctl_ring)
				drain_ctl(st);
		}
		/* 1. what the dataplane transmitted comes back: count, check, rebuild. */
		want = room_left < opt.burst ? room_left : opt.burst;
		n = rte_ring_sc_dequeue_burst(g->tx, (void **)back, want, NULL);
		/* Each mbuf and frame is read, then rewritten: fetched for writing at once,
		 * rather than shared first and taken over at the write (a second trip to the
		 * dataplane's core for every line). */
		for (i = 0; i < n; i++)
			PREFETCHW(back[i]);
		for (i = 0; i < n && i < 4; i++)
			PREFETCHW(rte_pktmbuf_mtod(back[i], void *));
		for (i = 0; i < n; i++) {
			struct rte_mbuf *m = back[i];
			bool check = false;

			if (i + 4 < n)
				PREFETCHW(rte_pktmbuf_mtod(back[i + 4], void *));
			if (++kctr == opt.check_every) {
				kctr = 0;
				check = true;
			}
			account(st, m, check);
			if (likely(m->pool == g->pool && m->nb_segs == 1 &&
				   rte_mbuf_refcnt_read(m) == 1)) {
				rebuild(m, g);
				pend[npend++] = m;
			} else {
				rte_pktmbuf_free(m);
			}
		}
		st->received += n;

		/* 2. top up to --inflight when the dataplane dropped (freed) some of ours. */
		if (npend < opt.burst) {
			unsigned int in_use = g->pool_size - rte_mempool_avail_count(g->pool);
			unsigned int out = in_use - npend, add = opt.burst - npend;
			if (out + npend < opt.inflight) {
				if (add > opt.inflight - out - npend)
					add = opt.inflight - out - npend;
				if (rte_pktmbuf_alloc_bulk(g->pool, pend + npend, add) == 0) {
					for (i = 0; i < add; i++) {
						build(pend[npend + i], &g->udp[g->next]);
						if (++g->next == g->nudp)
							g->next = 0;
					}
					npend += add;
				}
			}
		}

		/* 3. feed the dataplane; what does not fit waits for the next round. */
		if (npend) {
			n = rte_ring_sp_enqueue_burst(g->rx, (void **)pend, npend, NULL);
			st->sent += n;
			npend -= n;
			if (npend && n)
				memmove(pend, pend + n, npend * sizeof(pend[0]));
		}
	}
	for (i = 0; i < npend; i++)
		rte_pktmbuf_free(pend[i]);
	return 0;
}

static double median_mpps(uint64_t *v, unsigned int nsec)
{
	/* median without the first (warm-up) second, unless it is the only one */
	unsigned int skip = nsec > 1 ? 1 : 0, k = nsec - skip;
	uint64_t tmp[nsec ? nsec : 1];
	double med = 0;

	if (!k)
		return 0;
	memcpy(tmp, v, nsec * sizeof(*v));
	qsort(tmp + skip, k, sizeof(*tmp), cmp_u64);
	med = k % 2 ? (double)tmp[skip + k / 2] : (tmp[skip + k / 2 - 1] + tmp[skip + k / 2]) / 2.0;
	return med / 1e6;
}

int main(int argc, char **argv)
{
	char name[RTE_RING_NAMESIZE];
	struct rte_mempool *dp_pool;
	struct tmpl *pre, *udp;
	unsigned int npre, nudp, q, ntx, lcore, nsec;
	uint64_t hz, t0;
	struct rte_ether_addr dp_mac;
	struct stats tot = {0};
	bool have_mac = false;
	int ret;

	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr,
			"ringgen: rte_eal_init failed (%s; run as a --proc-type=secondary with the "
			"dataplane's --file-prefix; an ASan build may fail to map the primary's "
			"memory)\n",
			rte_errno ? rte_strerror(rte_errno) : "see the EAL message above");
		return 2;
	}
	parse_args(argc - ret, argv + ret);
	if (rte_eal_process_type() != RTE_PROC_SECONDARY)
		fprintf(stderr,
			"ringgen: warning: not a secondary process (--proc-type=secondary)\n");
	if (rte_lcore_count() < opt.queues) {
		fprintf(stderr,
			"ringgen: --queues %u needs as many lcores (EAL --lcores), got %u\n",
			opt.queues, rte_lcore_count());
		rte_eal_cleanup();
		return 2;
	}

	/* NAME_tx0 .. NAME_txN: one per dataplane worker, then the control lcore's. */
	for (ntx = 0; ntx < RTE_MAX_LCORE; ntx++) {
		snprintf(name, sizeof(name), "%s_tx%u", opt.ring, ntx);
		if (!rte_ring_lookup(name))
			break;
	}
	dp_pool = rte_mempool_lookup("dp_pool");
	if (ntx < 2 || !dp_pool) {
		fprintf(stderr,
			"ringgen: no rings %s_tx0, %s_tx1 or mempool dp_pool: is the dataplane "
			"running with device = ring:%s and huge_unlink = no?\n",
			opt.ring, opt.ring, opt.ring);
		rte_eal_cleanup();
		return 2;
	}
	if (ntx - 1 < opt.queues) {
		fprintf(stderr, "ringgen: --queues %u but the dataplane has %u worker(s)\n",
			opt.queues, ntx - 1);
		rte_eal_cleanup();
		return 2;
	}
	snprintf(name, sizeof(name), "%s_tx%u", opt.ring, ntx - 1);
	ctl_ring = rte_ring_lookup(name);
	for (q = 0; q < opt.queues; q++) {
		struct gq *g = &gqs[q];
		snprintf(name, sizeof(name), "%s_rx%u", opt.ring, q);
		g->rx = rte_ring_lookup(name);
		snprintf(name, sizeof(name), "%s_tx%u", opt.ring, q);
		g->tx = rte_ring_lookup(name);
		if (!g->rx) {
			fprintf(stderr,
				"ringgen: no ring %s_rx%u: the dataplane has fewer RX queues\n",
				opt.ring, q);
			rte_eal_cleanup();
			return 2;
		}
		g->pool = queue_pool(q, dp_pool, &g->pool_size);
		if (!g->pool) {
			rte_eal_cleanup();
			return 2;
		}
	}
	if (read_pcap(opt.pcap, rte_pktmbuf_data_room_size(dp_pool) - RTE_PKTMBUF_HEADROOM, &pre,
		      &npre, &udp, &nudp) < 0) {
		rte_eal_cleanup();
		return 2;
	}
	if (nudp == 0) {
		fprintf(stderr, "ringgen: %s has no IPv4/IPv6 UDP frame to replay\n", opt.pcap);
		rte_eal_cleanup();
		return 2;
	}
	if (split_templates(udp, nudp) < 0) {
		fprintf(stderr, "ringgen: cannot set up the templates\n");
		rte_eal_cleanup();
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	hz = rte_get_tsc_hz();

	/* Preamble (the gateway's ARP request): once, on queue 0, then give the dataplane up to
	 * a second to answer so that it knows its next hop before the flood. Its ARP reply (from
	 * the control lcore) tells its MAC (a ring port's is not the pcap's): unicast templates
	 * are readdressed to it. */
	for (unsigned int i = 0; i < npre && !stop; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(gqs[0].pool);
		if (!m)
			break;
		build(m, &pre[i]);
		while (rte_ring_enqueue(gqs[0].rx, m) != 0 && !stop)
			rte_pause();
		gqs[0].st.sent++;
	}
	/* Meanwhile, frames a previous ringgen left in flight come back: counted, not checked
	 * (they are not this run's), and freed; then 10 ms more for the last of them. */
	t0 = rte_rdtsc();
	while (npre && !have_mac && rte_rdtsc() - t0 < hz && !stop) {
		struct rte_mbuf *m = NULL;
		if (rte_ring_dequeue(ctl_ring, (void **)&m) == 0) {
			gqs[0].st.received++;
			account(&gqs[0].st, m, false);
			have_mac = arp_reply_mac(m, &dp_mac);
			rte_pktmbuf_free(m);
		}
		drain_stale();
	}
	for (t0 = rte_rdtsc(); rte_rdtsc() - t0 < hz / 100 && !stop;)
		drain_stale();
	if (have_mac) {
		char s[RTE_ETHER_ADDR_FMT_SIZE];
		for (q = 0; q < opt.queues; q++)
			for (unsigned int i = 0; i < gqs[q].nudp; i++)
				if (!(gqs[q].udp[i].data[0] & 1))
					memcpy(gqs[q].udp[i].data, &dp_mac, RTE_ETHER_ADDR_LEN);
		rte_ether_format_addr(s, sizeof(s), &dp_mac);
		fprintf(stderr,
			"ringgen: dataplane MAC %s (its ARP reply): UDP frames sent to it\n", s);
	}

	start_tsc = rte_rdtsc();
	q = 1;
	RTE_LCORE_FOREACH_WORKER(lcore)
	{
		if (q == opt.queues)
			break;
		if (rte_eal_remote_launch(queue_loop, &gqs[q], lcore) != 0) {
			fprintf(stderr, "ringgen: cannot launch queue %u on lcore %u\n", q, lcore);
			stop = 1;
			break;
		}
		q++;
	}
	queue_loop(&gqs[0]);
	rte_eal_mp_wait_lcore();

	nsec = gqs[0].nsec;
	for (q = 0; q < opt.queues; q++) {
		struct stats *s = &gqs[q].st;
		tot.sent += s->sent;
		tot.received += s->received;
		tot.to_client += s->to_client;
		tot.to_peer += s->to_peer;
		tot.arp += s->arp;
		tot.other += s->other;
		tot.checked += s->checked;
		tot.bad_ip_csum += s->bad_ip_csum;
		tot.bad_udp_csum += s->bad_udp_csum;
		tot.bad_len += s->bad_len;
		tot.bad_payload += s->bad_payload;
		if (gqs[q].nsec < nsec)
			nsec = gqs[q].nsec;
	}
	{
		uint64_t per_sec[nsec ? nsec : 1];
		for (unsigned int i = 0; i < nsec; i++) {
			per_sec[i] = 0;
			for (q = 0; q < opt.queues; q++)
				per_sec[i] += gqs[q].per_sec[i];
		}
		printf("{\"sent\": %" PRIu64 ", \"received\": %" PRIu64 ", \"to_client\": %" PRIu64
		       ", \"to_peer\": %" PRIu64 ", \"arp\": %" PRIu64 ", \"other\": %" PRIu64
		       ", \"checked\": %" PRIu64 ", \"bad_ip_csum\": %" PRIu64
		       ", \"bad_udp_csum\": %" PRIu64 ", \"bad_len\": %" PRIu64
		       ", \"bad_payload\": %" PRIu64 ", \"per_second\": [",
		       tot.sent, tot.received, tot.to_client, tot.to_peer, tot.arp, tot.other,
		       tot.checked, tot.bad_ip_csum, tot.bad_udp_csum, tot.bad_len,
		       tot.bad_payload);
		for (unsigned int i = 0; i < nsec; i++)
			printf("%s%" PRIu64, i ? ", " : "", per_sec[i]);
		printf("], \"median_mpps\": %.3f, \"queues\": %u, \"queue_mpps\": [",
		       median_mpps(per_sec, nsec), opt.queues);
		for (q = 0; q < opt.queues; q++)
			printf("%s%.3f", q ? ", " : "", median_mpps(gqs[q].per_sec, gqs[q].nsec));
		printf("]}\n");
	}
	fflush(stdout);
	ret = tot.bad_ip_csum || tot.bad_udp_csum || tot.bad_len || tot.bad_payload ? 1 : 0;
	/* pools deliberately not freed: the dataplane may still hold some of their mbufs */
	rte_eal_cleanup();
	return ret;
}
