/* tests/integration/media/mpeer.c — a media device for tests/integration/media_relay.sh.
 *
 * It binds one local address (RTP; RTCP on port + 1 unless --rtcp-mux), sends RTP or SRTP
 * (and, every N rounds, an RTCP sender report, as SRTCP on SRTP legs) to the relay at a
 * given rate, and at the same time receives, decrypts and checks what the relay sends it.
 * At the end it prints one JSON line (see summary()). Every SRTP context runs on crypto/'s
 * libsrtp backend (libsrtp2), the reference, independent of the dataplane's ipsecmb path.
 *
 * Payloads identify their sender: a 16-byte header ('m' 'p', sender id, SSRC index,
 * packet counter, SSRC, payload length) then a pattern derived from the id and the counter,
 * so the receiver can tell a packet intact, from the right device and the right SSRC.
 *
 * --dump-tx / --dump-rx write the datagrams sent (genuine ones only: not the tampered or
 * truncated copies) and received, as they were on the wire, to a pcap file (LINKTYPE_RAW,
 * IPv4 or IPv6 + UDP headers rebuilt from the socket addresses) for replays and comparisons.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crypto/sdes.h"
#include "crypto/srtp.h"

#define MAX_SSRC     16 /* streams sent, and streams received */
#define MAX_SRC	     8	/* distinct source addresses reported */
#define BUF_SZ	     2048
#define PL_HDR	     16 /* payload header: 'm' 'p' id idx counter(4) ssrc(4) len(2) pad(2) */
#define RTP_HDR	     12
#define SR_LEN	     28 /* RTCP SR without report blocks */
#define RTCP_SR	     200
#define NS_PER_S     1000000000ull
#define LINKTYPE_RAW 101

struct addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* One SSRC this peer sends. */
struct tx_stream {
	uint32_t ssrc;
	uint16_t seq; /* next sequence number */
	uint32_t roc; /* rollover counter of the next packet */
	uint32_t ts;
	uint32_t counter; /* packets sent on this SSRC */
	uint32_t octets;
	struct pr_srtp_ctx *ctx;
};

/* One SSRC this peer receives. */
struct rx_stream {
	uint32_t ssrc;
	struct pr_srtp_ctx *ctx;
	uint64_t rtp_ok, rtcp_ok;
	bool init;
	uint16_t first_seq, max_seq;
	uint64_t cycles; /* << 16 */
	uint64_t base;	 /* extended first sequence number */
};

static struct {
	struct addr bind, to;
	bool have_to;
	const char *suite;
	struct pr_sdes_crypto key_tx, key_rx;
	bool srtp;
	enum pr_srtp_profile profile;
	uint32_t ssrc[MAX_SSRC];
	uint32_t seq[MAX_SSRC];
	unsigned nssrc, nseq;
	uint32_t roc, rx_roc;
	unsigned count;
	double rate;
	unsigned size;
	unsigned pt;
	uint32_t pts[MAX_SSRC]; /* --pt A,B: one payload type per SSRC (BUNDLE tests) */
	unsigned npt;
	/* --mid ID:A,B: the MID header extension (RFC 8843 15.2, RFC 8285's one-byte form) on
	 * the first --mid-packets packets of each SSRC, one value per SSRC */
	unsigned mid_ext, nmid, mid_packets;
	char mids[MAX_SSRC][17];
	unsigned clock_hz;
	uint8_t id, expect_id;
	unsigned rtcp_every;
	bool rtcp_mux;
	unsigned linger_ms, duration_ms, start_delay_ms;
	uint64_t expect_rtp, expect_rtcp;
	unsigned tamper, truncate;
	const char *dump_tx, *dump_rx;
	bool quiet;
} opt = {
    .count = 50,
    .rate = 50,
    .size = 160,
    .clock_hz = 8000,
    .id = 'A',
    .linger_ms = 500,
    .duration_ms = 2000,
};

/* Figures (the JSON summary). */
static struct {
	uint64_t sent_rtp, sent_rtcp, sent_bytes, tampered, truncated, send_errors, mid_tagged;
	uint64_t received, rx_bytes, rtp_ok, rtcp_ok, auth_fail, replay, srtp_other, not_rtp;
	uint64_t rtcp_bad, payload_ok, payload_bad, wrong_sender, plain_on_wire, rx_overflow;
	uint64_t ctx_errors;
} fig;

static struct tx_stream txs[MAX_SSRC];
static struct rx_stream rxs[MAX_SSRC];
static unsigned nrx;
static char src_rtp[MAX_SRC][64], src_rtcp[MAX_SRC][64];
static unsigned nsrc_rtp, nsrc_rtcp;
static FILE *pcap_tx, *pcap_rx;
static struct addr local_rtcp, to_rtcp;

/* ---- small helpers ---- */

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * NS_PER_S + (uint64_t)t.tv_nsec;
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t addr_port(const struct addr *a)
{
	if (a->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
}

static void addr_set_port(struct addr *a, uint16_t port)
{
	if (a->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
}

static void addr_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(s4->sin_port));
	}
}

/* "198.51.100.20:40000" or "[2001:db8::20]:40000" */
static int addr_parse(const char *text, struct addr *a)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(text, ':');
	char *end;
	unsigned long port;
	size_t hl;

	if (!colon || colon == text)
		return -EINVAL;
	hl = (size_t)(colon - text);
	if (text[0] == '[') {
		if (hl < 3 || text[hl - 1] != ']')
			return -EINVAL;
		text++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, text, hl);
	host[hl] = 0;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port > 65535)
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	if (strchr(host, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return -EINVAL;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		a->len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -EINVAL;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		a->len = sizeof(*s4);
	}
	return 0;
}

/* "0x1111,0x2222" or "65500" -> up to max values; number of values or -EINVAL. */
static int list_parse(const char *text, uint32_t *v, unsigned max, uint64_t limit)
{
	unsigned n = 0;
	const char *p = text;

	while (*p) {
		char *end;
		unsigned long long x;
		if (n == max)
			return -EINVAL;
		errno = 0;
		x = strtoull(p, &end, 0);
		if (errno || end == p || x > limit || (*end && *end != ','))
			return -EINVAL;
		v[n++] = (uint32_t)x;
		p = *end ? end + 1 : end;
	}
	return n ? (int)n : -EINVAL;
}

static int key_parse(const char *suite, const char *b64, struct pr_sdes_crypto *k)
{
	char v[160];
	int n = snprintf(v, sizeof(v), "1 %s inline:%s", suite, b64);
	int rc;

	if (n < 0 || (size_t)n >= sizeof(v))
		return -EINVAL;
	rc = pr_sdes_parse(v, k);
	memset(v, 0, sizeof(v));
	return rc;
}

static struct pr_srtp_ctx *ctx_make(const struct pr_sdes_crypto *k, enum pr_srtp_direction d,
				    uint32_t ssrc, uint32_t roc)
{
	struct pr_srtp_params p = {.profile = k->profile,
				   .backend = PR_SRTP_BACKEND_LIBSRTP,
				   .direction = d,
				   .ssrc = ssrc,
				   .master_key = k->key,
				   .master_salt = k->salt,
				   .mki = k->mki,
				   .mki_len = k->mki_len,
				   .initial_roc = roc};
	struct pr_srtp_ctx *c = NULL;
	int rc = pr_srtp_ctx_create(&p, &c);

	if (rc < 0) {
		fig.ctx_errors++;
		fprintf(stderr, "mpeer: SRTP context for SSRC 0x%08x: %s\n", ssrc, strerror(-rc));
		return NULL;
	}
	return c;
}

/* ---- pcap ---- */

static FILE *pcap_open(const char *path)
{
	uint8_t h[24] = {0};
	FILE *f = fopen(path, "wb");

	if (!f) {
		fprintf(stderr, "mpeer: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	uint32_t magic = 0xa1b2c3d4, snap = 65535, lt = LINKTYPE_RAW;
	uint16_t maj = 2, min = 4;
	memcpy(h, &magic, 4);
	memcpy(h + 4, &maj, 2);
	memcpy(h + 6, &min, 2);
	memcpy(h + 16, &snap, 4);
	memcpy(h + 20, &lt, 4);
	fwrite(h, 1, sizeof(h), f);
	return f;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += rd16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* One datagram src -> dst as an IP packet (headers rebuilt, checksums right). */
static void pcap_write(FILE *f, const struct sockaddr_storage *src,
		       const struct sockaddr_storage *dst, const uint8_t *data, size_t len)
{
	uint8_t pkt[40 + 8 + BUF_SZ], rec[16];
	size_t ipl, n;
	uint32_t sum;
	struct timespec t;
	uint8_t *udp;

	if (!f || len > BUF_SZ)
		return;
	memset(pkt, 0, 48);
	if (src->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)src, *d = (const void *)dst;
		ipl = 40;
		pkt[0] = 0x60;
		wr16(pkt + 4, (uint16_t)(8 + len));
		pkt[6] = 17;
		pkt[7] = 64;
		memcpy(pkt + 8, &s->sin6_addr, 16);
		memcpy(pkt + 24, &d->sin6_addr, 16);
		udp = pkt + ipl;
		wr16(udp, ntohs(s->sin6_port));
		wr16(udp + 2, ntohs(d->sin6_port));
		sum = csum_add(0, pkt + 8, 32);
	} else {
		const struct sockaddr_in *s = (const void *)src, *d = (const void *)dst;
		ipl = 20;
		pkt[0] = 0x45;
		wr16(pkt + 2, (uint16_t)(20 + 8 + len));
		pkt[6] = 0x40; /* DF */
		pkt[8] = 64;
		pkt[9] = 17;
		memcpy(pkt + 12, &s->sin_addr, 4);
		memcpy(pkt + 16, &d->sin_addr, 4);
		wr16(pkt + 10, csum_fold(csum_add(0, pkt, 20)));
		udp = pkt + ipl;
		wr16(udp, ntohs(s->sin_port));
		wr16(udp + 2, ntohs(d->sin_port));
		sum = csum_add(0, pkt + 12, 8);
	}
	wr16(udp + 4, (uint16_t)(8 + len));
	memcpy(udp + 8, data, len);
	sum += 17 + (uint32_t)(8 + len);
	sum = csum_add(sum, udp, 8 + len);
	uint16_t c = csum_fold(sum);
	wr16(udp + 6, c ? c : 0xffff);
	n = ipl + 8 + len;
	clock_gettime(CLOCK_REALTIME, &t);
	uint32_t v[4] = {(uint32_t)t.tv_sec, (uint32_t)(t.tv_nsec / 1000), (uint32_t)n,
			 (uint32_t)n};
	memcpy(rec, v, sizeof(rec));
	fwrite(rec, 1, sizeof(rec), f);
	fwrite(pkt, 1, n, f);
}

/* ---- payloads ---- */

static uint8_t pattern(uint8_t id, uint32_t counter, size_t i)
{
	return (uint8_t)(id * 31u + counter * 13u + (uint32_t)i * 7u);
}

static void payload_fill(uint8_t *p, size_t len, unsigned idx, uint32_t counter, uint32_t ssrc)
{
	p[0] = 'm';
	p[1] = 'p';
	p[2] = opt.id;
	p[3] = (uint8_t)idx;
	wr32(p + 4, counter);
	wr32(p + 8, ssrc);
	wr16(p + 12, (uint16_t)len);
	p[14] = p[15] = 0;
	for (size_t i = PL_HDR; i < len; i++)
		p[i] = pattern(opt.id, counter, i);
}

/* 0: a payload of this program, intact, from the expected sender; 1: mpeer's, another
 * sender; -1: not intact. */
static int payload_check(const uint8_t *p, size_t len, uint32_t ssrc)
{
	if (len < PL_HDR || p[0] != 'm' || p[1] != 'p' || rd16(p + 12) != len ||
	    rd32(p + 8) != ssrc)
		return -1;
	uint32_t counter = rd32(p + 4);
	for (size_t i = PL_HDR; i < len; i++)
		if (p[i] != pattern(p[2], counter, i))
			return -1;
	return opt.expect_id && p[2] != opt.expect_id ? 1 : 0;
}

/* ---- sending ---- */

static void send_dgram(int fd, const struct addr *to, const struct addr *from, const uint8_t *b,
		       size_t len, bool dump)
{
	if (sendto(fd, b, len, 0, (const struct sockaddr *)&to->ss, to->len) < 0) {
		if (!fig.send_errors && !opt.quiet)
			fprintf(stderr, "mpeer: sendto: %s\n", strerror(errno));
		fig.send_errors++;
		return;
	}
	fig.sent_bytes += len;
	if (dump)
		pcap_write(pcap_tx, &from->ss, &to->ss, b, len);
}

/* Is packet k (0-based, of total) one of n spread evenly? */
static bool spread(unsigned k, unsigned total, unsigned n)
{
	if (!n || !total)
		return false;
	if (n > total)
		n = total;
	/* the packets at (j + 1) * total / (n + 1), j = 0..n-1 */
	for (unsigned j = 0; j < n; j++)
		if (k == (unsigned)(((uint64_t)j + 1) * total / (n + 1)))
			return true;
	return false;
}

static void send_rtp(int fd, unsigned i, unsigned k, unsigned total)
{
	struct tx_stream *t = &txs[i];
	uint8_t b[BUF_SZ];
	struct pr_srtp_pkt pk = {.data = b, .len = (uint16_t)(RTP_HDR + opt.size), .room = BUF_SZ};
	size_t hl = RTP_HDR;

	b[0] = 0x80;
	b[1] = (uint8_t)((opt.npt > 1 && i < opt.npt ? opt.pts[i] : opt.pt) & 0x7f);
	wr16(b + 2, t->seq);
	wr32(b + 4, t->ts);
	wr32(b + 8, t->ssrc);
	if (opt.mid_ext && i < opt.nmid && t->counter < opt.mid_packets) {
		size_t ml = strlen(opt.mids[i]), words = (1 + ml + 3) / 4;
		b[0] |= 0x10;
		b[12] = 0xBE;
		b[13] = 0xDE;
		wr16(b + 14, (uint16_t)words);
		memset(b + 16, 0, 4 * words);
		b[16] = (uint8_t)(opt.mid_ext << 4 | (ml - 1));
		memcpy(b + 17, opt.mids[i], ml);
		hl += 4 + 4 * words;
		pk.len = (uint16_t)(hl + opt.size);
		fig.mid_tagged++;
	}
	payload_fill(b + hl, opt.size, i, t->counter, t->ssrc);
	if (opt.srtp) {
		if (!t->ctx || pr_srtp_protect_burst(t->ctx, &pk, 1) != 1) {
			fig.send_errors++;
			goto next;
		}
	}
	if (spread(k, total, opt.tamper) && opt.srtp) {
		/* a copy with one byte of the encrypted payload flipped, before the real one */
		uint8_t c[BUF_SZ];
		memcpy(c, b, pk.len);
		c[hl + opt.size / 2] ^= 0x5a;
		send_dgram(fd, &opt.to, &opt.bind, c, pk.len, false);
		fig.tampered++;
	}
	if (spread(k, total, opt.truncate)) {
		/* cut: 8 bytes (not even an RTP header), or 20 (an SRTP packet without room for
		 * its tag); in clear only the first kind is malformed */
		size_t cut = fig.truncated % 2 && opt.srtp ? 20 : 8;
		send_dgram(fd, &opt.to, &opt.bind, b, cut, false);
		fig.truncated++;
	}
	send_dgram(fd, &opt.to, &opt.bind, b, pk.len, true);
	fig.sent_rtp++;
next:
	t->counter++;
	t->octets += opt.size;
	t->seq++;
	if (t->seq == 0)
		t->roc++;
}

static void send_sr(int fd_rtp, int fd_rtcp, unsigned i)
{
	struct tx_stream *t = &txs[i];
	uint8_t b[BUF_SZ];
	struct pr_srtp_pkt pk = {.data = b, .len = SR_LEN, .room = BUF_SZ};
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	b[0] = 0x80;
	b[1] = RTCP_SR;
	wr16(b + 2, SR_LEN / 4 - 1);
	wr32(b + 4, t->ssrc);
	wr32(b + 8, (uint32_t)now.tv_sec + 2208988800u);
	wr32(b + 12, (uint32_t)(((uint64_t)now.tv_nsec << 32) / NS_PER_S));
	wr32(b + 16, t->ts);
	wr32(b + 20, t->counter);
	wr32(b + 24, t->octets);
	if (opt.srtp && (!t->ctx || pr_srtcp_protect_burst(t->ctx, &pk, 1) != 1)) {
		fig.send_errors++;
		return;
	}
	if (opt.rtcp_mux)
		send_dgram(fd_rtp, &opt.to, &opt.bind, b, pk.len, true);
	else
		send_dgram(fd_rtcp, &to_rtcp, &local_rtcp, b, pk.len, true);
	fig.sent_rtcp++;
}

/* ---- receiving ---- */

static void note_source(char (*list)[64], unsigned *n, const struct sockaddr_storage *ss)
{
	char t[64];

	addr_text(ss, t, sizeof(t));
	for (unsigned i = 0; i < *n; i++)
		if (!strcmp(list[i], t))
			return;
	if (*n < MAX_SRC)
		snprintf(list[(*n)++], 64, "%s", t);
}

static struct rx_stream *rx_find(uint32_t ssrc)
{
	for (unsigned i = 0; i < nrx; i++)
		if (rxs[i].ssrc == ssrc)
			return &rxs[i];
	if (nrx == MAX_SSRC) {
		fig.rx_overflow++;
		return NULL;
	}
	struct rx_stream *r = &rxs[nrx++];
	memset(r, 0, sizeof(*r));
	r->ssrc = ssrc;
	if (opt.srtp)
		r->ctx = ctx_make(&opt.key_rx, PR_SRTP_RECEIVER, ssrc, opt.rx_roc);
	return r;
}

static void srtp_fail(uint8_t result)
{
	if (result == PR_SRTP_ERR_AUTH)
		fig.auth_fail++;
	else if (result == PR_SRTP_ERR_REPLAY)
		fig.replay++;
	else
		fig.srtp_other++;
}

/* RFC 3550 A.1, simplified: the extended highest sequence number. */
static void rx_seq(struct rx_stream *r, uint16_t seq)
{
	if (!r->init) {
		r->init = true;
		r->first_seq = r->max_seq = seq;
		r->cycles = (uint64_t)opt.rx_roc << 16;
		r->base = r->cycles | seq;
		return;
	}
	uint16_t delta = (uint16_t)(seq - r->max_seq);
	if (delta && delta < 0x8000) {
		if (seq < r->max_seq)
			r->cycles += 65536;
		r->max_seq = seq;
	}
}

static void rx_rtp(uint8_t *b, size_t len, const struct sockaddr_storage *from)
{
	struct pr_srtp_pkt pk = {.data = b, .len = (uint16_t)len, .room = BUF_SZ};
	struct rx_stream *r = rx_find(rd32(b + 8));
	size_t hl;

	if (!r)
		return;
	hl = RTP_HDR + 4u * (b[0] & 0x0f);
	if (opt.srtp) {
		if (len >= hl + PL_HDR &&
		    payload_check(b + hl, len - hl - pr_srtp_profile_rtp_tag_len(opt.profile),
				  r->ssrc) >= 0)
			fig.plain_on_wire++;
		if (!r->ctx || pr_srtp_unprotect_burst(r->ctx, &pk, 1) != 1) {
			srtp_fail(r->ctx ? pk.result : PR_SRTP_ERR_INTERNAL);
			return;
		}
		len = pk.len;
	}
	fig.rtp_ok++;
	r->rtp_ok++;
	rx_seq(r, rd16(b + 2));
	note_source(src_rtp, &nsrc_rtp, from);
	if (b[0] & 0x10 && len >= hl + 4)
		hl += 4 + 4u * rd16(b + hl + 2);
	int pc = len >= hl ? payload_check(b + hl, len - hl, r->ssrc) : -1;
	if (pc == 0)
		fig.payload_ok++;
	else if (pc > 0)
		fig.wrong_sender++;
	else
		fig.payload_bad++;
}

static void rx_rtcp(uint8_t *b, size_t len, const struct sockaddr_storage *from)
{
	struct pr_srtp_pkt pk = {.data = b, .len = (uint16_t)len, .room = BUF_SZ};
	struct rx_stream *r = rx_find(rd32(b + 4));

	if (!r)
		return;
	if (opt.srtp) {
		if (!r->ctx || pr_srtcp_unprotect_burst(r->ctx, &pk, 1) != 1) {
			srtp_fail(r->ctx ? pk.result : PR_SRTP_ERR_INTERNAL);
			return;
		}
		len = pk.len;
	}
	if (len < SR_LEN || b[1] != RTCP_SR || rd16(b + 2) != SR_LEN / 4 - 1) {
		fig.rtcp_bad++;
		return;
	}
	fig.rtcp_ok++;
	r->rtcp_ok++;
	note_source(src_rtcp, &nsrc_rtcp, from);
}

static void drain(int fd, bool rtcp_sock)
{
	uint8_t b[BUF_SZ];
	struct sockaddr_storage from;

	for (;;) {
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, b, sizeof(b), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (n < 0)
			return;
		fig.received++;
		fig.rx_bytes += (uint64_t)n;
		if (pcap_rx) {
			struct addr me = rtcp_sock ? local_rtcp : opt.bind;
			pcap_write(pcap_rx, &from, &me.ss, b, (size_t)n);
		}
		if (n < 8 || b[0] >> 6 != 2) {
			fig.not_rtp++;
			continue;
		}
		bool rtcp = rtcp_sock || (b[1] >= 192 && b[1] <= 223);
		if (!rtcp && n < RTP_HDR) {
			fig.not_rtp++;
			continue;
		}
		if (rtcp)
			rx_rtcp(b, (size_t)n, &from);
		else
			rx_rtp(b, (size_t)n, &from);
	}
}

/* ---- summary ---- */

static void json_list(const char *name, char (*list)[64], unsigned n)
{
	printf(",\"%s\":[", name);
	for (unsigned i = 0; i < n; i++)
		printf("%s\"%s\"", i ? "," : "", list[i]);
	printf("]");
}

static void summary(void)
{
	char me[64];

	addr_text(&opt.bind.ss, me, sizeof(me));
	printf("{\"id\":\"%c\",\"bind\":\"%s\",\"srtp\":%s,\"suite\":\"%s\"", opt.id, me,
	       opt.srtp ? "true" : "false", opt.srtp ? opt.suite : "");
	printf(",\"sent\":%" PRIu64 ",\"sent_rtcp\":%" PRIu64 ",\"sent_bytes\":%" PRIu64
	       ",\"tampered\":%" PRIu64 ",\"truncated\":%" PRIu64 ",\"send_errors\":%" PRIu64
	       ",\"mid_tagged\":%" PRIu64,
	       fig.sent_rtp, fig.sent_rtcp, fig.sent_bytes, fig.tampered, fig.truncated,
	       fig.send_errors, fig.mid_tagged);
	printf(",\"received\":%" PRIu64 ",\"rx_bytes\":%" PRIu64 ",\"decrypted_ok\":%" PRIu64
	       ",\"rtp_ok\":%" PRIu64 ",\"rtcp_ok\":%" PRIu64 ",\"auth_fail\":%" PRIu64
	       ",\"replay\":%" PRIu64 ",\"srtp_other\":%" PRIu64 ",\"not_rtp\":%" PRIu64
	       ",\"rtcp_bad\":%" PRIu64,
	       fig.received, fig.rx_bytes, opt.srtp ? fig.rtp_ok + fig.rtcp_ok : 0, fig.rtp_ok,
	       fig.rtcp_ok, fig.auth_fail, fig.replay, fig.srtp_other, fig.not_rtp, fig.rtcp_bad);
	printf(",\"payload_ok\":%" PRIu64 ",\"payload_bad\":%" PRIu64 ",\"wrong_sender\":%" PRIu64
	       ",\"payload_match\":%s,\"plain_on_wire\":%" PRIu64 ",\"ctx_errors\":%" PRIu64,
	       fig.payload_ok, fig.payload_bad, fig.wrong_sender,
	       fig.rtp_ok && fig.payload_ok == fig.rtp_ok ? "true" : "false", fig.plain_on_wire,
	       fig.ctx_errors);
	printf(",\"rx_ssrcs\":{");
	for (unsigned i = 0; i < nrx; i++) {
		const struct rx_stream *r = &rxs[i];
		uint64_t ext = r->cycles | r->max_seq;
		uint64_t expected = r->init ? ext - r->base + 1 : 0;
		int64_t idx = r->ctx ? pr_srtp_ctx_rtp_index(r->ctx) : -1;
		printf("%s\"0x%08x\":{\"received\":%" PRIu64 ",\"rtcp\":%" PRIu64
		       ",\"first_seq\":%u,\"highest_seq\":%u,\"roc\":%" PRIu64
		       ",\"ext_highest\":%" PRIu64 ",\"lost\":%" PRId64 ",\"srtp_index\":%" PRId64
		       "}",
		       i ? "," : "", r->ssrc, r->rtp_ok, r->rtcp_ok, r->first_seq, r->max_seq,
		       r->cycles >> 16, ext, (int64_t)expected - (int64_t)r->rtp_ok, idx);
	}
	printf("},\"tx_ssrcs\":{");
	for (unsigned i = 0, n = 0; i < opt.nssrc; i++) {
		const struct tx_stream *t = &txs[i];
		uint16_t last = (uint16_t)(t->seq - 1);
		uint32_t roc = t->seq == 0 ? t->roc - 1 : t->roc; /* of the last one sent */
		if (!t->counter)
			continue;
		printf("%s\"0x%08x\":{\"sent\":%u,\"last_seq\":%u,\"roc\":%u}", n++ ? "," : "",
		       t->ssrc, t->counter, last, roc);
	}
	printf("}");
	json_list("from", src_rtp, nsrc_rtp);
	json_list("rtcp_from", src_rtcp, nsrc_rtcp);
	printf("}\n");
	fflush(stdout);
}

/* ---- main ---- */

static void usage(void)
{
	fprintf(
	    stderr,
	    "usage: mpeer --bind ADDR:PORT [--to ADDR:PORT] [options]\n"
	    "  --suite NAME --tx-key B64 --rx-key B64   SRTP (else clear RTP); keys are\n"
	    "                         SDES key||salt: tx = what we encrypt with, rx = what we\n"
	    "                         decrypt with\n"
	    "  --ssrc LIST            SSRCs to send (0x1111,0x2222; default 0x<id>0000001)\n"
	    "  --seq LIST             first sequence number, one or one per SSRC (default 1000)\n"
	    "  --roc N                rollover counter of the first packet sent (default 0)\n"
	    "  --rx-roc N             rollover counter receivers start from (default 0)\n"
	    "  --count N              rounds (one packet per SSRC each; default 50)\n"
	    "  --rate R               rounds per second (default 50)\n"
	    "  --size N               payload bytes, >= %d (default 160)\n"
	    "  --mid ID:A[,B...]      the MID header extension (one-byte form, id 1-14) with "
	    "value\n"
	    "                         A on the first --ssrc's packets, B on the second's...\n"
	    "  --mid-packets N        ... on the first N packets of each SSRC only (all)\n"
	    "  --pt N[,N...] --clock HZ  payload type (0), one per --ssrc when several; RTP clock "
	    "(8000)\n"
	    "  --id C --expect-id C   this sender's mark in payloads; the peer's (default any)\n"
	    "  --rtcp-every N         an RTCP SR per SSRC every N rounds (SRTCP on SRTP legs)\n"
	    "  --rtcp-mux             RTCP on the RTP port (else from/to port + 1)\n"
	    "  --tamper N             N extra copies with a flipped payload byte (SRTP only)\n"
	    "  --truncate N           N extra truncated copies (8 or 20 bytes)\n"
	    "  --start-delay-ms MS    wait before the first packet (default 0)\n"
	    "  --linger-ms MS         keep receiving after the last packet (default 500)\n"
	    "  --duration-ms MS       with --count 0: how long to receive (default 2000)\n"
	    "  --expect N             stop lingering once N RTP packets were received intact\n"
	    "  --expect-rtcp N        ... and N RTCP packets\n"
	    "  --dump-tx FILE         pcap of the genuine datagrams sent\n"
	    "  --dump-rx FILE         pcap of every datagram received\n"
	    "  --quiet                no messages on stderr\n"
	    "Prints one JSON line of figures on stdout.\n",
	    PL_HDR);
	exit(2);
}

static unsigned num(const char *s, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || end == s || v > max)
		usage();
	return (unsigned)v;
}

static int open_sock(const struct addr *a)
{
	int fd = socket(a->ss.ss_family, SOCK_DGRAM, 0);
	int buf = 4 << 20;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
		char t[64];
		addr_text(&a->ss, t, sizeof(t));
		fprintf(stderr, "mpeer: bind %s: %s\n", t, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {{"bind", 1, 0, 'b'},
					   {"to", 1, 0, 't'},
					   {"suite", 1, 0, 's'},
					   {"tx-key", 1, 0, 'K'},
					   {"rx-key", 1, 0, 'k'},
					   {"ssrc", 1, 0, 'S'},
					   {"seq", 1, 0, 'q'},
					   {"roc", 1, 0, 'r'},
					   {"rx-roc", 1, 0, 'R'},
					   {"count", 1, 0, 'n'},
					   {"rate", 1, 0, 'f'},
					   {"size", 1, 0, 'z'},
					   {"pt", 1, 0, 'p'},
					   {"clock", 1, 0, 'c'},
					   {"id", 1, 0, 'i'},
					   {"expect-id", 1, 0, 'I'},
					   {"rtcp-every", 1, 0, 'e'},
					   {"rtcp-mux", 0, 0, 'm'},
					   {"tamper", 1, 0, 'T'},
					   {"truncate", 1, 0, 'U'},
					   {"start-delay-ms", 1, 0, 'd'},
					   {"linger-ms", 1, 0, 'l'},
					   {"duration-ms", 1, 0, 'D'},
					   {"expect", 1, 0, 'x'},
					   {"expect-rtcp", 1, 0, 'X'},
					   {"dump-tx", 1, 0, 'w'},
					   {"dump-rx", 1, 0, 'W'},
					   {"quiet", 0, 0, 'Q'},
					   {"help", 0, 0, 'h'},
					   {"mid", 1, 0, 'M'},
					   {"mid-packets", 1, 0, 'P'},
					   {0, 0, 0, 0}};
	const char *ktx = NULL, *krx = NULL;
	bool have_bind = false;
	int c, n;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'b':
			if (addr_parse(optarg, &opt.bind) < 0)
				usage();
			have_bind = true;
			break;
		case 't':
			if (addr_parse(optarg, &opt.to) < 0)
				usage();
			opt.have_to = true;
			break;
		case 's':
			opt.suite = optarg;
			break;
		case 'K':
			ktx = optarg;
			break;
		case 'k':
			krx = optarg;
			break;
		case 'S':
			n = list_parse(optarg, opt.ssrc, MAX_SSRC, 0xffffffffu);
			if (n < 0)
				usage();
			opt.nssrc = (unsigned)n;
			break;
		case 'q':
			n = list_parse(optarg, opt.seq, MAX_SSRC, 0xffff);
			if (n < 0)
				usage();
			opt.nseq = (unsigned)n;
			break;
		case 'r':
			opt.roc = num(optarg, 0xffffffffu);
			break;
		case 'R':
			opt.rx_roc = num(optarg, 0xffffffffu);
			break;
		case 'n':
			opt.count = num(optarg, 100000000);
			break;
		case 'f':
			opt.rate = strtod(optarg, NULL);
			if (!(opt.rate > 0 && opt.rate <= 100000))
				usage();
			break;
		case 'z':
			opt.size = num(optarg, 1400);
			break;
		case 'p':
			n = list_parse(optarg, opt.pts, MAX_SSRC, 127);
			if (n < 0)
				usage();
			opt.npt = (unsigned)n;
			opt.pt = opt.pts[0];
			break;
		case 'c':
			opt.clock_hz = num(optarg, 1000000);
			break;
		case 'M': { /* ID:A[,B...] */
			char *e;
			unsigned long id = strtoul(optarg, &e, 10);
			if (e == optarg || *e != ':' || id < 1 || id > 14)
				usage();
			opt.mid_ext = (unsigned)id;
			opt.nmid = 0;
			for (char *v = e + 1, *c; v && *v && opt.nmid < MAX_SSRC;
			     v = c ? c + 1 : NULL) {
				c = strchr(v, ',');
				size_t l = c ? (size_t)(c - v) : strlen(v);
				if (!l || l > 16)
					usage();
				memcpy(opt.mids[opt.nmid], v, l);
				opt.mids[opt.nmid++][l] = '\0';
			}
			if (!opt.nmid)
				usage();
			if (!opt.mid_packets)
				opt.mid_packets = UINT32_MAX;
			break;
		}
		case 'P':
			opt.mid_packets = num(optarg, 100000000);
			break;
		case 'i':
			opt.id = (uint8_t)optarg[0];
			break;
		case 'I':
			opt.expect_id = (uint8_t)optarg[0];
			break;
		case 'e':
			opt.rtcp_every = num(optarg, 1000000);
			break;
		case 'm':
			opt.rtcp_mux = true;
			break;
		case 'T':
			opt.tamper = num(optarg, 1000000);
			break;
		case 'U':
			opt.truncate = num(optarg, 1000000);
			break;
		case 'd':
			opt.start_delay_ms = num(optarg, 600000);
			break;
		case 'l':
			opt.linger_ms = num(optarg, 600000);
			break;
		case 'D':
			opt.duration_ms = num(optarg, 3600000);
			break;
		case 'x':
			opt.expect_rtp = num(optarg, 0xffffffffu);
			break;
		case 'X':
			opt.expect_rtcp = num(optarg, 0xffffffffu);
			break;
		case 'w':
			opt.dump_tx = optarg;
			break;
		case 'W':
			opt.dump_rx = optarg;
			break;
		case 'Q':
			opt.quiet = true;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || !have_bind || (opt.count && !opt.have_to) || opt.size < PL_HDR)
		usage();
	if (opt.have_to && opt.to.ss.ss_family != opt.bind.ss.ss_family)
		usage();
	if (opt.suite && *opt.suite) {
		int p = pr_srtp_profile_from_name(opt.suite);
		if (p < 0 || !ktx || !krx) {
			fprintf(stderr,
				"mpeer: --suite needs a known suite, --tx-key and --rx-key\n");
			return 2;
		}
		opt.profile = (enum pr_srtp_profile)p;
		if (key_parse(opt.suite, ktx, &opt.key_tx) < 0 ||
		    key_parse(opt.suite, krx, &opt.key_rx) < 0) {
			fprintf(stderr, "mpeer: a key is not base64 key||salt of %s\n", opt.suite);
			return 2;
		}
		opt.srtp = true;
	}
	pr_srtp_set_default_backend(PR_SRTP_BACKEND_LIBSRTP);
	if (!opt.nssrc) {
		opt.ssrc[0] = (uint32_t)opt.id << 24 | 1;
		opt.nssrc = 1;
	}
	if (opt.nseq > 1 && opt.nseq != opt.nssrc)
		usage();
	for (unsigned i = 0; i < opt.nssrc; i++) {
		txs[i].ssrc = opt.ssrc[i];
		txs[i].seq = (uint16_t)(opt.nseq == 0	? 1000
					: opt.nseq == 1 ? opt.seq[0]
							: opt.seq[i]);
		txs[i].roc = opt.roc;
		txs[i].ts = (uint32_t)(opt.ssrc[i] * 2654435761u);
		if (opt.srtp && opt.count) {
			txs[i].ctx = ctx_make(&opt.key_tx, PR_SRTP_SENDER, txs[i].ssrc, opt.roc);
			if (!txs[i].ctx)
				return 2;
		}
	}

	int fd = open_sock(&opt.bind), fd2 = -1;
	if (fd < 0)
		return 2;
	if (!opt.rtcp_mux) {
		local_rtcp = opt.bind;
		addr_set_port(&local_rtcp, (uint16_t)(addr_port(&opt.bind) + 1));
		fd2 = open_sock(&local_rtcp);
		if (fd2 < 0)
			return 2;
		to_rtcp = opt.to;
		addr_set_port(&to_rtcp, (uint16_t)(addr_port(&opt.to) + 1));
	}
	if (opt.dump_tx && !(pcap_tx = pcap_open(opt.dump_tx)))
		return 2;
	if (opt.dump_rx && !(pcap_rx = pcap_open(opt.dump_rx)))
		return 2;

	uint64_t start = now_ns() + (uint64_t)opt.start_delay_ms * 1000000u;
	uint64_t interval = (uint64_t)((double)NS_PER_S / opt.rate);
	uint64_t deadline = opt.count ? 0 : start + (uint64_t)opt.duration_ms * 1000000u;
	uint32_t ts_step = (uint32_t)((double)opt.clock_hz / opt.rate);
	unsigned round = 0;
	struct pollfd pfd[2] = {{.fd = fd, .events = POLLIN}, {.fd = fd2, .events = POLLIN}};

	for (;;) {
		uint64_t t = now_ns(), next = start + round * interval;
		if (round < opt.count && t >= next) {
			for (unsigned i = 0; i < opt.nssrc; i++)
				send_rtp(fd, i, round * opt.nssrc + i, opt.count * opt.nssrc);
			round++;
			if (opt.rtcp_every && round % opt.rtcp_every == 0)
				for (unsigned i = 0; i < opt.nssrc; i++)
					send_sr(fd, fd2, i);
			for (unsigned i = 0; i < opt.nssrc; i++)
				txs[i].ts += ts_step;
			if (round == opt.count)
				deadline = now_ns() + (uint64_t)opt.linger_ms * 1000000u;
			continue;
		}
		if (round >= opt.count) {
			if (t >= deadline)
				break;
			if (opt.expect_rtp && fig.rtp_ok >= opt.expect_rtp &&
			    fig.rtcp_ok >= opt.expect_rtcp)
				break;
		}
		uint64_t until = round < opt.count ? next : deadline;
		uint64_t wait = until > t ? until - t : 0;
		struct timespec ts = {.tv_sec = (time_t)(wait / NS_PER_S),
				      .tv_nsec = (long)(wait % NS_PER_S)};
		if (ppoll(pfd, fd2 >= 0 ? 2 : 1, &ts, NULL) > 0) {
			if (pfd[0].revents & POLLIN)
				drain(fd, false);
			if (fd2 >= 0 && pfd[1].revents & POLLIN)
				drain(fd2, true);
		}
	}
	drain(fd, false);
	if (fd2 >= 0)
		drain(fd2, true);
	summary();
	for (unsigned i = 0; i < opt.nssrc; i++)
		pr_srtp_ctx_destroy(txs[i].ctx);
	for (unsigned i = 0; i < nrx; i++)
		pr_srtp_ctx_destroy(rxs[i].ctx);
	pr_sdes_wipe(&opt.key_tx);
	pr_sdes_wipe(&opt.key_rx);
	if (pcap_tx)
		fclose(pcap_tx);
	if (pcap_rx)
		fclose(pcap_rx);
	close(fd);
	if (fd2 >= 0)
		close(fd2);
	return 0;
}
