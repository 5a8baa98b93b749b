/* SPDX-License-Identifier: BSD-3-Clause */
/* ringgen: a traffic generator for poprelay-dataplane's shared-memory port (device = ring:NAME),
 * run as a DPDK secondary process next to the dataplane (which must use hugepages and
 * huge_unlink = no so that its memory can be mapped here).
 *
 *   ringgen [EAL args] -- --ring NAME --pcap FILE --seconds S [--burst 32] [--inflight 2048]
 *           [--check-every 64] [--pattern-len 0] [--listen-port 3478] [--full-copy]
 *
 * The dataplane "receives" from the ring NAME_rx0 (we are its single producer) and
 * "transmits" into NAME_tx (we are its single consumer). The pcap (classic libpcap, either
 * byte order, Ethernet) is split into a preamble (every frame that is not IPv4/IPv6 UDP, e.g.
 * the gateway's ARP request, sent once at start) and the UDP templates, shuffled with a fixed
 * seed. The source MAC of the dataplane's ARP reply to the preamble replaces the unicast
 * destination MAC of the templates (a ring port's MAC is not the one the pcap was made for).
 * The loop drains NAME_tx, counts (and every K-th frame checks) what came back, rewrites each
 * returned mbuf with the next template (round robin) and enqueues it to NAME_rx0 again,
 * keeping at most --inflight of our mbufs outside this process; when the dataplane drops
 * frames (they go back to our pool) fresh mbufs replace them. Templates are packed in one
 * buffer in their shuffled order so that the copy reads a stream, not scattered blocks.
 *
 * Checks on a checked UDP frame: IPv4 header checksum; UDP length against the IP length; UDP
 * checksum non-zero and correct (pseudo-header included, IPv4 and IPv6); with --pattern-len L
 * the payload is the L-byte pattern (byte i == i & 0xff), relayed to a peer, or, when the UDP
 * source port is --listen-port, a ChannelData header (channel 0x4000-0x7FFF, length L) and
 * the pattern, relayed to a client.
 *
 * Output: one JSON line {"sent", "received", "to_client", "to_peer", "arp", "other",
 * "checked", "bad_ip_csum", "bad_udp_csum", "bad_len", "bad_payload", "per_second",
 * "median_mpps"}; per_second is the frames received back in each second of wall time,
 * median_mpps their median without the first second; bad_len counts UDP lengths that do not
 * match the IP length. Exit 0, 1 when a check failed, 2 on a setup error.
 *
 * Ownership: our pool "ringgen_pool" has no per-lcore cache because the dataplane's worker
 * frees the frames it drops into it from its own lcore. It is never freed: the dataplane may
 * still hold some of its mbufs when we exit. */
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

struct tmpl {
	uint8_t *data;
	uint16_t len;
	uint32_t group; /* 1..ngroups, 0 = none (header-only restore, see rebuild) */
};

static struct {
	const char *ring, *pcap;
	unsigned int seconds, burst, inflight, check_every, pattern_len;
	bool full_copy;
	uint16_t listen_port;
} opt = {.burst = 32, .inflight = 2048, .check_every = 64, .listen_port = 3478};

/* Written by the signal handler, read by the loop. */
static volatile sig_atomic_t stop;

/* Counters: written by the only lcore of this process. */
static struct {
	uint64_t sent, received, to_client, to_peer, arp, other, checked;
	uint64_t bad_ip_csum, bad_udp_csum, bad_len, bad_payload;
} st;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: ringgen [EAL args] -- --ring NAME --pcap FILE --seconds S "
			"[--burst 32] [--inflight 2048] [--check-every 64] [--pattern-len L] "
			"[--listen-port 3478] [--full-copy]\n");
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
 * payload in place, so a frame that comes back needs only its first RESTORE_BYTES rewritten
 * from a template with the same length and the same bytes after them (a "group": here, the
 * ChannelData frames and the peers' datagrams). Copying 250 bytes into lines the other core
 * just wrote costs the generator more than the relay costs the dataplane. The group rides
 * in the mbuf's hash.usr (the dataplane does not touch it). --full-copy turns it off. */
#define RESTORE_BYTES 64
#define MAX_GROUPS    8
static struct group {
	unsigned int *idx, n, next;
} groups[MAX_GROUPS];
static unsigned int ngroups;

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
static inline void rebuild(struct rte_mbuf *m, const struct tmpl *udp, unsigned int *next,
			   unsigned int nudp)
{
	uint32_t g = m->hash.usr;
	if (g && g <= ngroups) {
		struct group *gr = &groups[g - 1];
		const struct tmpl *t = &udp[gr->idx[gr->next]];
		if (++gr->next == gr->n)
			gr->next = 0;
		m->data_off = RTE_PKTMBUF_HEADROOM;
		m->data_len = t->len;
		m->pkt_len = t->len;
		rte_memcpy(rte_pktmbuf_mtod(m, void *), t->data, RESTORE_BYTES);
		return;
	}
	build(m, &udp[*next]);
	if (++*next == nudp)
		*next = 0;
}

/* Sorts templates into groups (same length, same bytes after RESTORE_BYTES). No groups
 * (full copies) when a frame is too short or there are too many kinds. */
static void make_groups(struct tmpl *t, unsigned int n)
{
	unsigned int rep[MAX_GROUPS], i, g;

	ngroups = 0;
	for (i = 0; i < n; i++) {
		t[i].group = 0;
		if (t[i].len <= RESTORE_BYTES)
			goto none;
		for (g = 0; g < ngroups; g++)
			if (t[rep[g]].len == t[i].len &&
			    !memcmp(t[rep[g]].data + RESTORE_BYTES, t[i].data + RESTORE_BYTES,
				    t[i].len - RESTORE_BYTES))
				break;
		if (g == ngroups) {
			if (ngroups == MAX_GROUPS)
				goto none;
			rep[ngroups++] = i;
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
	return;
none:
	for (i = 0; i < n; i++)
		t[i].group = 0;
	ngroups = 0;
}

static uint16_t fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Full checks on one UDP frame f of len bytes, UDP header at off. */
static void check_udp(const uint8_t *f, size_t len, size_t off, bool to_client)
{
	const struct rte_udp_hdr *uh = (const struct rte_udp_hdr *)(f + off);
	size_t ulen = rte_be_to_cpu_16(uh->dgram_len), l = opt.pattern_len;
	uint32_t sum;
	const uint8_t *pl;

	st.checked++;
	if (f[14] >> 4 == 4) {
		const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(f + 14);
		size_t ihl = off - 14, tot = rte_be_to_cpu_16(ip->total_length);
		if (fold(__rte_raw_cksum(ip, ihl, 0)) != 0xffff)
			st.bad_ip_csum++;
		if (tot != ihl + ulen || 14 + tot > len) {
			st.bad_len++;
			return;
		}
		sum = __rte_raw_cksum(&ip->src_addr, 8, 0);
	} else {
		const struct rte_ipv6_hdr *ip = (const struct rte_ipv6_hdr *)(f + 14);
		if (rte_be_to_cpu_16(ip->payload_len) != ulen || off + ulen > len) {
			st.bad_len++;
			return;
		}
		sum = __rte_raw_cksum(ip->src_addr, 32, 0);
	}
	if (ulen < sizeof(*uh)) {
		st.bad_len++;
		return;
	}
	sum += rte_cpu_to_be_16(IPPROTO_UDP) + uh->dgram_len;
	sum = __rte_raw_cksum(uh, ulen, sum);
	if (uh->dgram_cksum == 0 || fold(sum) != 0xffff)
		st.bad_udp_csum++;
	if (!l)
		return;
	pl = (const uint8_t *)(uh + 1);
	ulen -= sizeof(*uh);
	if (to_client) {
		uint16_t ch = (uint16_t)(pl[0] << 8 | pl[1]), cl = (uint16_t)(pl[2] << 8 | pl[3]);
		if (ulen != 4 + l || ch < 0x4000 || ch > 0x7fff || cl != l) {
			st.bad_payload++;
			return;
		}
		pl += 4;
	} else if (ulen != l) {
		st.bad_payload++;
		return;
	}
	for (size_t i = 0; i < l; i++) {
		if (pl[i] != (uint8_t)i) {
			st.bad_payload++;
			return;
		}
	}
}

/* Counts one frame the dataplane transmitted; checks it when check is set. */
static inline void account(const struct rte_mbuf *m, bool check)
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
		st.other++;
		return;
	}
	memcpy(&et, f + 12, 2);
	if (et == RTE_BE16(RTE_ETHER_TYPE_ARP)) {
		st.arp++;
		return;
	}
	off = udp_offset(f, len);
	if (!off) {
		st.other++;
		return;
	}
	{
		const struct rte_udp_hdr *uh = (const struct rte_udp_hdr *)(f + off);
		bool to_client = uh->src_port == rte_cpu_to_be_16(opt.listen_port);
		if (to_client)
			st.to_client++;
		else
			st.to_peer++;
		if (check)
			check_udp(f, len, off, to_client);
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

int main(int argc, char **argv)
{
	char name[RTE_RING_NAMESIZE];
	struct rte_ring *rx, *tx;
	struct rte_mempool *dp_pool, *pool;
	struct tmpl *pre, *udp;
	unsigned int npre, nudp, next = 0, npend = 0, kctr = 0, pool_size;
	struct rte_mbuf *pend[2 * MAX_BURST], *back[2 * MAX_BURST];
	uint64_t hz, t0, tick, end, last_rx = 0, *per_sec;
	unsigned int nsec = 0;
	struct rte_ether_addr dp_mac;
	bool have_mac = false;
	uint16_t priv, room;
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

	snprintf(name, sizeof(name), "%s_rx0", opt.ring);
	rx = rte_ring_lookup(name);
	snprintf(name, sizeof(name), "%s_tx", opt.ring);
	tx = rte_ring_lookup(name);
	dp_pool = rte_mempool_lookup("dp_pool");
	if (!rx || !tx || !dp_pool) {
		fprintf(
		    stderr,
		    "ringgen: no ring %s_rx0/%s_tx or mempool dp_pool: is the dataplane running "
		    "with device = ring:%s and huge_unlink = no?\n",
		    opt.ring, opt.ring, opt.ring);
		rte_eal_cleanup();
		return 2;
	}
	priv = rte_pktmbuf_priv_size(dp_pool);
	room = rte_pktmbuf_data_room_size(dp_pool);
	pool_size = opt.inflight + 4 * MAX_BURST + POOL_SLACK;
	pool = rte_pktmbuf_pool_create("ringgen_pool", pool_size, 0, priv, room, rte_socket_id());
	if (!pool && rte_errno == EEXIST) {
		/* A previous ringgen against this dataplane left it (pools cannot be freed while
		 * the dataplane may hold their mbufs): take it over if it has the same layout.
		 * Its mbufs still in flight come back through NAME_tx like ours. */
		pool = rte_mempool_lookup("ringgen_pool");
		if (pool && (pool->cache_size != 0 || rte_pktmbuf_priv_size(pool) != priv ||
			     rte_pktmbuf_data_room_size(pool) != room ||
			     pool->size < opt.inflight + 2 * MAX_BURST)) {
			fprintf(stderr,
				"ringgen: the existing ringgen_pool (%u mbufs) does not fit "
				"--inflight %u or dp_pool's layout: restart the dataplane\n",
				pool->size, opt.inflight);
			rte_eal_cleanup();
			return 2;
		}
		if (pool)
			pool_size = pool->size;
	}
	if (!pool) {
		fprintf(stderr, "ringgen: cannot create ringgen_pool of %u mbufs: %s\n", pool_size,
			rte_strerror(rte_errno));
		rte_eal_cleanup();
		return 2;
	}
	/* The dataplane frees the frames it drops into our pool through its own table of
	 * mempool handlers: the index must mean the same handler in both processes. */
	if (pool->ops_index != dp_pool->ops_index) {
		fprintf(stderr,
			"ringgen: mempool handler index %d differs from dp_pool's %d: the "
			"two processes register handlers differently\n",
			pool->ops_index, dp_pool->ops_index);
		rte_eal_cleanup();
		return 2;
	}
	if (read_pcap(opt.pcap, room, &pre, &npre, &udp, &nudp) < 0) {
		rte_eal_cleanup();
		return 2;
	}
	if (nudp == 0) {
		fprintf(stderr, "ringgen: %s has no IPv4/IPv6 UDP frame to replay\n", opt.pcap);
		rte_eal_cleanup();
		return 2;
	}
	shuffle(udp, nudp);
	if (pack(udp, nudp) < 0) {
		fprintf(stderr, "ringgen: out of memory\n");
		rte_eal_cleanup();
		return 2;
	}
	if (!opt.full_copy)
		make_groups(udp, nudp);
	per_sec = calloc(opt.seconds + 1, sizeof(*per_sec));
	if (!per_sec)
		return 2;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	hz = rte_get_tsc_hz();

	/* Preamble (the gateway's ARP request): once, then give the dataplane up to a second
	 * to answer so that it knows its next hop before the flood. Its ARP reply tells its
	 * MAC (a ring port's is not the pcap's): unicast templates are readdressed to it. */
	for (unsigned int i = 0; i < npre && !stop; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
		if (!m)
			break;
		build(m, &pre[i]);
		while (rte_ring_enqueue(rx, m) != 0 && !stop)
			rte_pause();
		st.sent++;
	}
	t0 = rte_rdtsc();
	while (npre && !have_mac && rte_rdtsc() - t0 < hz && !stop) {
		struct rte_mbuf *m = NULL;
		if (rte_ring_dequeue(tx, (void **)&m) == 0) {
			st.received++;
			account(m, false);
			have_mac = arp_reply_mac(m, &dp_mac);
			rte_pktmbuf_free(m);
		}
	}
	if (have_mac) {
		char s[RTE_ETHER_ADDR_FMT_SIZE];
		for (unsigned int i = 0; i < nudp; i++)
			if (!(udp[i].data[0] & 1))
				memcpy(udp[i].data, &dp_mac, RTE_ETHER_ADDR_LEN);
		rte_ether_format_addr(s, sizeof(s), &dp_mac);
		fprintf(stderr,
			"ringgen: dataplane MAC %s (its ARP reply): UDP frames sent to it\n", s);
	}
	last_rx = st.received;

	t0 = rte_rdtsc();
	tick = t0 + hz;
	end = t0 + hz * opt.seconds;
	while (!stop) {
		unsigned int n, i, room_left = 2 * MAX_BURST - npend, want;
		uint64_t now = rte_rdtsc();

		if (unlikely(now >= tick)) {
			per_sec[nsec++] = st.received - last_rx;
			last_rx = st.received;
			tick += hz;
			if (now >= end)
				break;
		}
		/* 1. what the dataplane transmitted comes back: count, check, rebuild. */
		want = room_left < opt.burst ? room_left : opt.burst;
		n = rte_ring_sc_dequeue_burst(tx, (void **)back, want, NULL);
		for (i = 0; i < n && i < 4; i++)
			rte_prefetch0(rte_pktmbuf_mtod(back[i], void *));
		for (i = 0; i < n; i++) {
			struct rte_mbuf *m = back[i];
			bool check = false;

			if (i + 4 < n)
				rte_prefetch0(rte_pktmbuf_mtod(back[i + 4], void *));
			if (++kctr == opt.check_every) {
				kctr = 0;
				check = true;
			}
			account(m, check);
			if (likely(m->pool == pool && m->nb_segs == 1 &&
				   rte_mbuf_refcnt_read(m) == 1)) {
				rebuild(m, udp, &next, nudp);
				pend[npend++] = m;
			} else {
				rte_pktmbuf_free(m);
			}
		}
		st.received += n;

		/* 2. top up to --inflight when the dataplane dropped (freed) some of ours. */
		if (npend < opt.burst) {
			unsigned int in_use = pool_size - rte_mempool_avail_count(pool);
			unsigned int out = in_use - npend, add = opt.burst - npend;
			if (out + npend < opt.inflight) {
				if (add > opt.inflight - out - npend)
					add = opt.inflight - out - npend;
				if (rte_pktmbuf_alloc_bulk(pool, pend + npend, add) == 0) {
					for (i = 0; i < add; i++) {
						build(pend[npend + i], &udp[next]);
						if (++next == nudp)
							next = 0;
					}
					npend += add;
				}
			}
		}

		/* 3. feed the dataplane; what does not fit waits for the next round. */
		if (npend) {
			n = rte_ring_sp_enqueue_burst(rx, (void **)pend, npend, NULL);
			st.sent += n;
			npend -= n;
			if (npend && n)
				memmove(pend, pend + n, npend * sizeof(pend[0]));
		}
	}
	for (unsigned int i = 0; i < npend; i++)
		rte_pktmbuf_free(pend[i]);

	printf("{\"sent\": %" PRIu64 ", \"received\": %" PRIu64 ", \"to_client\": %" PRIu64
	       ", \"to_peer\": %" PRIu64 ", \"arp\": %" PRIu64 ", \"other\": %" PRIu64
	       ", \"checked\": %" PRIu64 ", \"bad_ip_csum\": %" PRIu64
	       ", \"bad_udp_csum\": %" PRIu64 ", \"bad_len\": %" PRIu64
	       ", \"bad_payload\": %" PRIu64 ", \"per_second\": [",
	       st.sent, st.received, st.to_client, st.to_peer, st.arp, st.other, st.checked,
	       st.bad_ip_csum, st.bad_udp_csum, st.bad_len, st.bad_payload);
	for (unsigned int i = 0; i < nsec; i++)
		printf("%s%" PRIu64, i ? ", " : "", per_sec[i]);
	{
		/* median without the first (warm-up) second, unless it is the only one */
		unsigned int skip = nsec > 1 ? 1 : 0, k = nsec - skip;
		double med = 0;
		if (k) {
			qsort(per_sec + skip, k, sizeof(*per_sec), cmp_u64);
			med = k % 2 ? (double)per_sec[skip + k / 2]
				    : (per_sec[skip + k / 2 - 1] + per_sec[skip + k / 2]) / 2.0;
		}
		printf("], \"median_mpps\": %.3f}\n", med / 1e6);
	}
	fflush(stdout);
	ret = st.bad_ip_csum || st.bad_udp_csum || st.bad_len || st.bad_payload ? 1 : 0;
	/* pool deliberately not freed: the dataplane may still hold some of its mbufs */
	rte_eal_cleanup();
	return ret;
}
