/* SPDX-License-Identifier: BSD-3-Clause */
/* rtpdrive: SRTP over plain UDP sockets through a media relay driven by its own signalling
 * (the media benchmark runs it against rtpengine, tests/bench/media/ng.py having set the
 * calls up): the same packets mediagen sends to poprelay's anchor, for comparison.
 *
 *   rtpdrive --streams FILE --size BYTES --seconds S [--cpu-pid PID] [--state FILE]
 *            [--check-every 64] [--burst 32] [--pps 0]
 *
 * One socket per distinct device address of the streams file (streams.h); every stream gets
 * a fresh SRTP packet in turn (the generator's shuffled order), protected with the device's
 * key by libpoprelay-crypto, sent with sendmmsg to the relay's port for it; what the relay
 * sends on is read with recvmmsg on the receiving device's socket, matched to its stream by
 * SSRC and counted; every --check-every-th is unprotected with the receiving device's key
 * and its plain text compared with what was sent. --pps caps the offered rate (0: as fast as
 * the sockets take them).
 * --cpu-pid: the relay's process; its CPU time (utime + stime of /proc/PID/stat, all its
 * threads) is read at every second's tick, so that each second's relayed packets sit next
 * to the CPU the relay spent in that second.
 * Output: one JSON line {"sent", "relayed", "checked", "bad_auth", "bad_payload", "unknown",
 * "per_second", "cpu_per_second" (CPU-seconds), "median_pps", "per_cpu_second" (relayed
 * packets per CPU-second of the relay over every second but the first)}. Exit 0, 1 when a
 * check failed or nothing came back, 2 on a setup error. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/bench/media/streams.h"

#define MAX_BURST 64
#define MAX_SOCKS 16
#define TAG_LEN	  10
#define SUITE	  "AES_CM_128_HMAC_SHA1_80"
#define BUFSZ	  2048

static struct {
	const char *streams, *state;
	unsigned seconds, size, check_every, burst, pps;
	int cpu_pid;
} opt = {.check_every = 64, .burst = 32};

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct dstream {
	struct pr_srtp_ctx *tx, *vrx;
	uint64_t next_idx;
	uint32_t ts;
	unsigned sock; /* the sending device's socket */
	struct sockaddr_in to;
};

static struct bstream *bs;
static struct dstream *ds;
static unsigned ns, nsock, *order, payload_len;
static int socks[MAX_SOCKS];
static uint32_t sock_ip[MAX_SOCKS];
static uint16_t sock_port[MAX_SOCKS];
/* SSRC -> stream + 1, open addressing */
static uint32_t *hkeys, *hvals, hmask;

static struct {
	uint64_t sent, relayed, checked, bad_auth, bad_payload, unknown, send_fail;
} st;

static double now_mono(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double cpu_of(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, stt = 0;
	int fd, n;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = (int)read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* after ") ": state(3) ... utime is field 14, stime 15 */
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &stt) != 2)
		return 0;
	return (double)(ut + stt) / (double)sysconf(_SC_CLK_TCK);
}

static void hput(uint32_t k, uint32_t v)
{
	uint32_t h = (k * 2654435761u) & hmask;
	while (hvals[h])
		h = (h + 1) & hmask;
	hkeys[h] = k;
	hvals[h] = v;
}

static int hget(uint32_t k)
{
	uint32_t h = (k * 2654435761u) & hmask;
	while (hvals[h]) {
		if (hkeys[h] == k)
			return (int)hvals[h] - 1;
		h = (h + 1) & hmask;
	}
	return -1;
}

static unsigned sock_for(uint32_t ip, uint16_t port)
{
	struct sockaddr_in a = {
	    .sin_family = AF_INET, .sin_addr.s_addr = ip, .sin_port = htons(port)};
	int one = 1, sz = 64 << 20;

	for (unsigned i = 0; i < nsock; i++)
		if (sock_ip[i] == ip && sock_port[i] == port)
			return i;
	if (nsock == MAX_SOCKS) {
		fprintf(stderr, "rtpdrive: more than %d device addresses\n", MAX_SOCKS);
		exit(2);
	}
	socks[nsock] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	setsockopt(socks[nsock], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(socks[nsock], SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
	setsockopt(socks[nsock], SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));
	if (socks[nsock] < 0 || bind(socks[nsock], (struct sockaddr *)&a, sizeof(a)) < 0) {
		fprintf(stderr, "rtpdrive: bind %s:%u: %s\n", inet_ntoa(a.sin_addr), port,
			strerror(errno));
		exit(2);
	}
	sock_ip[nsock] = ip;
	sock_port[nsock] = port;
	return nsock++;
}

static void state_load(void)
{
	FILE *f = opt.state ? fopen(opt.state, "rb") : NULL;
	uint32_t n = 0;

	for (unsigned i = 0; i < ns; i++)
		ds[i].next_idx = 1 + (bs[i].ssrc & 0x3fff);
	if (!f)
		return;
	if (fread(&n, sizeof(n), 1, f) == 1 && n == ns)
		for (unsigned i = 0; i < ns; i++)
			if (fread(&ds[i].next_idx, sizeof(uint64_t), 1, f) != 1)
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
		fwrite(&ds[i].next_idx, sizeof(uint64_t), 1, f);
	fclose(f);
}

static void parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"streams", required_argument, NULL, 'f'},
	    {"size", required_argument, NULL, 'z'},
	    {"seconds", required_argument, NULL, 's'},
	    {"cpu-pid", required_argument, NULL, 'p'},
	    {"state", required_argument, NULL, 'S'},
	    {"check-every", required_argument, NULL, 'k'},
	    {"burst", required_argument, NULL, 'b'},
	    {"pps", required_argument, NULL, 'r'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'f':
			opt.streams = optarg;
			break;
		case 'z':
			opt.size = (unsigned)atoi(optarg);
			break;
		case 's':
			opt.seconds = (unsigned)atoi(optarg);
			break;
		case 'p':
			opt.cpu_pid = atoi(optarg);
			break;
		case 'S':
			opt.state = optarg;
			break;
		case 'k':
			opt.check_every = (unsigned)atoi(optarg);
			break;
		case 'b':
			opt.burst = (unsigned)atoi(optarg);
			break;
		case 'r':
			opt.pps = (unsigned)atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (optind == argc && opt.streams && opt.size >= 12 + 4 + TAG_LEN && opt.size <= 1400 &&
	    opt.seconds >= 1 && opt.seconds <= 3600 && opt.burst >= 1 && opt.burst <= MAX_BURST &&
	    opt.check_every >= 1)
		return;
usage:
	fprintf(stderr, "usage: rtpdrive --streams FILE --size BYTES --seconds S [--cpu-pid PID] "
			"[--state FILE] [--check-every N] [--burst N] [--pps N]\n");
	exit(2);
}

static uint8_t sbuf[MAX_BURST][BUFSZ] __attribute__((aligned(64)));
static uint8_t rbuf[MAX_BURST][BUFSZ] __attribute__((aligned(64)));

/* One burst: the next streams' packets, protected, sent. */
static void send_burst(unsigned n)
{
	struct pr_srtp_pkt pk[MAX_BURST];
	struct pr_srtp_ctx *cx[MAX_BURST];
	struct mmsghdr mm[MAX_SOCKS][MAX_BURST];
	struct iovec iov[MAX_BURST];
	unsigned cnt[MAX_SOCKS] = {0}, ks[MAX_BURST];
	static unsigned pos;

	for (unsigned i = 0; i < n; i++) {
		unsigned k = order[pos];
		struct dstream *d = &ds[k];
		uint8_t *p = sbuf[i];
		uint16_t seq;

		if (++pos == ns)
			pos = 0;
		ks[i] = k;
		seq = (uint16_t)d->next_idx++;
		d->ts += 160;
		p[0] = 0x80;
		p[1] = 0;
		p[2] = (uint8_t)(seq >> 8);
		p[3] = (uint8_t)seq;
		p[4] = (uint8_t)(d->ts >> 24);
		p[5] = (uint8_t)(d->ts >> 16);
		p[6] = (uint8_t)(d->ts >> 8);
		p[7] = (uint8_t)d->ts;
		p[8] = (uint8_t)(bs[k].ssrc >> 24);
		p[9] = (uint8_t)(bs[k].ssrc >> 16);
		p[10] = (uint8_t)(bs[k].ssrc >> 8);
		p[11] = (uint8_t)bs[k].ssrc;
		payload_fill(p + 12, payload_len, k);
		pk[i] = (struct pr_srtp_pkt){p, (uint16_t)(12 + payload_len), BUFSZ, 0};
		cx[i] = d->tx;
	}
	pr_srtp_protect_burst_multi(cx, pk, n);
	for (unsigned i = 0; i < n; i++) {
		struct dstream *d = &ds[ks[i]];
		struct mmsghdr *h;
		if (pk[i].result != PR_SRTP_OK)
			continue;
		iov[i] = (struct iovec){pk[i].data, pk[i].len};
		h = &mm[d->sock][cnt[d->sock]++];
		memset(h, 0, sizeof(*h));
		h->msg_hdr.msg_name = &d->to;
		h->msg_hdr.msg_namelen = sizeof(d->to);
		h->msg_hdr.msg_iov = &iov[i];
		h->msg_hdr.msg_iovlen = 1;
	}
	for (unsigned s = 0; s < nsock; s++) {
		unsigned off = 0;
		while (off < cnt[s]) {
			int r = sendmmsg(socks[s], mm[s] + off, cnt[s] - off, 0);
			if (r <= 0) {
				st.send_fail += cnt[s] - off; /* socket buffer full: dropped here */
				break;
			}
			off += (unsigned)r;
			st.sent += (unsigned)r;
		}
	}
}

/* Whatever the relay sent to socket s: counted, sampled. */
static unsigned recv_all(unsigned s)
{
	static unsigned kctr;
	struct mmsghdr mm[MAX_BURST];
	struct iovec iov[MAX_BURST];
	unsigned total = 0;

	for (;;) {
		int r;
		for (unsigned i = 0; i < MAX_BURST; i++) {
			iov[i] = (struct iovec){rbuf[i], BUFSZ};
			memset(&mm[i], 0, sizeof(mm[i]));
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		r = recvmmsg(socks[s], mm, MAX_BURST, MSG_DONTWAIT, NULL);
		if (r <= 0)
			return total;
		for (int i = 0; i < r; i++) {
			uint8_t *p = rbuf[i];
			unsigned len = mm[i].msg_len;
			int k = len >= 12 ? hget((uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 |
						 (uint32_t)p[10] << 8 | p[11])
					  : -1;
			if (k < 0) {
				st.unknown++;
				continue;
			}
			st.relayed++;
			if (++kctr >= opt.check_every) {
				struct pr_srtp_pkt pk = {p, (uint16_t)len, BUFSZ, 0};
				kctr = 0;
				st.checked++;
				if (pr_srtp_unprotect_burst(ds[k].vrx, &pk, 1) != 1)
					st.bad_auth++;
				else if (pk.len != 12 + payload_len ||
					 !payload_ok(p + 12, payload_len, (uint32_t)k))
					st.bad_payload++;
			}
		}
		total += (unsigned)r;
		if (r < MAX_BURST)
			return total;
	}
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static uint64_t per_sec[3601];
	static double cpu_sec[3601];
	unsigned nsec = 0;
	double t0, tick, end, cpu_last, sent_at;
	uint64_t last = 0;

	parse_args(argc, argv);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	payload_len = opt.size - 12 - TAG_LEN;
	if (streams_load(opt.streams, SUITE, &bs, &ns) < 0)
		return 2;
	ds = calloc(ns, sizeof(*ds));
	order = malloc(ns * sizeof(*order));
	for (hmask = 1; hmask < 4 * ns; hmask <<= 1)
		;
	hkeys = calloc(hmask, sizeof(*hkeys));
	hvals = calloc(hmask, sizeof(*hvals));
	hmask--;
	if (!ds || !order || !hkeys || !hvals)
		return 2;
	streams_order(order, ns);
	state_load();
	for (unsigned i = 0; i < ns; i++) {
		struct dstream *d = &ds[i];
		if (hget(bs[i].ssrc) >= 0) {
			fprintf(stderr, "rtpdrive: SSRC %08x twice\n", bs[i].ssrc);
			return 2;
		}
		hput(bs[i].ssrc, i + 1);
		d->sock = sock_for(bs[i].src_ip, bs[i].src_port);
		(void)sock_for(bs[i].dst_ip, bs[i].dst_port);
		d->to = (struct sockaddr_in){.sin_family = AF_INET,
					     .sin_addr.s_addr = bs[i].relay_ip,
					     .sin_port = htons(bs[i].in_port)};
		d->ts = bs[i].ssrc;
		if (stream_ctx(&bs[i], 0, d->next_idx, &d->tx) < 0 ||
		    stream_ctx(&bs[i], 1, d->next_idx, &d->vrx) < 0) {
			fprintf(stderr, "rtpdrive: stream %u: no contexts\n", i);
			return 2;
		}
	}

	t0 = now_mono();
	tick = t0 + 1;
	end = t0 + opt.seconds;
	cpu_last = cpu_of(opt.cpu_pid);
	sent_at = t0;
	while (!stop) {
		double now = now_mono();
		if (now >= tick) {
			double c = cpu_of(opt.cpu_pid);
			per_sec[nsec] = st.relayed - last;
			cpu_sec[nsec++] = c - cpu_last;
			cpu_last = c;
			last = st.relayed;
			tick += 1;
			if (now >= end)
				break;
		}
		/* pace: --pps packets a second, in bursts */
		if (!opt.pps || (double)st.sent < (now - sent_at) * opt.pps)
			send_burst(opt.burst);
		for (unsigned s = 0; s < nsock; s++)
			(void)recv_all(s);
	}
	/* the last packets in flight */
	for (double t = now_mono(); now_mono() - t < 0.05;)
		for (unsigned s = 0; s < nsock; s++)
			(void)recv_all(s);
	state_save();

	{
		double med[3601], rel = 0, cpu = 0;
		unsigned k = 0;
		for (unsigned i = 1; i < nsec; i++) {
			med[k++] = (double)per_sec[i];
			rel += (double)per_sec[i];
			cpu += cpu_sec[i];
		}
		qsort(med, k, sizeof(*med), cmp_d);
		printf(
		    "{\"size\": %u, \"streams\": %u, \"sent\": %" PRIu64 ", \"send_fail\": %" PRIu64
		    ", \"relayed\": %" PRIu64 ", \"checked\": %" PRIu64 ", \"bad_auth\": %" PRIu64
		    ", \"bad_payload\": %" PRIu64 ", \"unknown\": %" PRIu64 ", \"per_second\": [",
		    opt.size, ns, st.sent, st.send_fail, st.relayed, st.checked, st.bad_auth,
		    st.bad_payload, st.unknown);
		for (unsigned i = 0; i < nsec; i++)
			printf("%s%" PRIu64, i ? ", " : "", per_sec[i]);
		printf("], \"cpu_per_second\": [");
		for (unsigned i = 0; i < nsec; i++)
			printf("%s%.3f", i ? ", " : "", cpu_sec[i]);
		printf("], \"median_pps\": %.0f, \"per_cpu_second\": %.0f}\n",
		       k ? (k % 2 ? med[k / 2] : (med[k / 2 - 1] + med[k / 2]) / 2) : 0.0,
		       cpu > 0 ? rel / cpu : 0.0);
	}
	return st.bad_auth || st.bad_payload || !st.relayed ? 1 : 0;
}
