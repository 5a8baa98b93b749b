/* SPDX-License-Identifier: BSD-3-Clause */
/* tests/bench/media/streams.h — the media benchmark's streams file (written by gen.py for the
 * dataplane, by ng.py for rtpengine), shared by mediagen, crypto_bound and rtpdrive.
 *
 * One line per direction of a session ('#' lines are comments):
 *   ssrc send_key recv_key src_ip src_port relay_ip in_port out_port dst_ip dst_port [pt]
 * ssrc in hex; keys are SDES inline key||salt in base64 (of the file's suite); the sending
 * device (src) encrypts with send_key toward relay_ip:in_port, the relay sends the packet on
 * from relay_ip:out_port to the receiving device (dst), encrypted with recv_key. pt, the RTP
 * payload type (0-127), is optional and 0 without it: a BUNDLE group's streams share one
 * 5-tuple on the browser's side and the relay tells its members apart by it (gen.py
 * --webrtc).
 * Header-only (static functions): each helper program includes it once. */
#ifndef POPRELAY_BENCH_MEDIA_STREAMS_H
#define POPRELAY_BENCH_MEDIA_STREAMS_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sdes.h"
#include "crypto/srtp.h"

struct bstream {
	uint32_t ssrc;
	struct pr_sdes_crypto send, recv;
	uint32_t src_ip, relay_ip, dst_ip; /* network order */
	uint16_t src_port, in_port, out_port, dst_port;
	uint8_t pt; /* RTP payload type */
};

/* Loads path into *out (n streams, malloc'd); keys parsed as suite. 0, or -1 with a message. */
__attribute__((unused)) static int streams_load(const char *path, const char *suite,
						struct bstream **out, unsigned *n)
{
	FILE *f = fopen(path, "r");
	char line[512], k1[80], k2[80], s[20], r[20], d[20], attr[160];
	unsigned cap = 1024, cnt = 0, lineno = 0;
	struct bstream *v = malloc(cap * sizeof(*v));

	if (!f || !v) {
		fprintf(stderr, "streams: %s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		free(v);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		struct bstream b;
		unsigned ssrc, sp, ip, op, dp, pt = 0;
		int nf;

		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		memset(&b, 0, sizeof(b));
		nf = sscanf(line, "%x %79s %79s %19s %u %19s %u %u %19s %u %u", &ssrc, k1, k2, s,
			    &sp, r, &ip, &op, d, &dp, &pt);
		if (nf < 10 || pt > 127 || inet_pton(AF_INET, s, &b.src_ip) != 1 ||
		    inet_pton(AF_INET, r, &b.relay_ip) != 1 ||
		    inet_pton(AF_INET, d, &b.dst_ip) != 1 || sp > 65535 || ip > 65535 ||
		    op > 65535 || dp > 65535)
			goto bad;
		snprintf(attr, sizeof(attr), "1 %s inline:%s", suite, k1);
		if (pr_sdes_parse(attr, &b.send) < 0)
			goto bad;
		snprintf(attr, sizeof(attr), "1 %s inline:%s", suite, k2);
		if (pr_sdes_parse(attr, &b.recv) < 0)
			goto bad;
		b.ssrc = ssrc;
		b.src_port = (uint16_t)sp;
		b.in_port = (uint16_t)ip;
		b.out_port = (uint16_t)op;
		b.dst_port = (uint16_t)dp;
		b.pt = (uint8_t)pt;
		if (cnt == cap) {
			struct bstream *nv = realloc(v, 2 * cap * sizeof(*v));
			if (!nv)
				goto bad;
			v = nv;
			cap *= 2;
		}
		v[cnt++] = b;
	}
	fclose(f);
	if (!cnt) {
		fprintf(stderr, "streams: %s: no stream\n", path);
		free(v);
		return -1;
	}
	*out = v;
	*n = cnt;
	return 0;
bad:
	fprintf(stderr, "streams: %s line %u: malformed\n", path, lineno);
	fclose(f);
	free(v);
	return -1;
}

/* The order packets visit the streams in: a fixed-seed shuffle (xorshift, Fisher-Yates), so
 * that consecutive packets belong to unrelated sessions (as RSS spreads flows) and the
 * crypto bound and the generator walk the same order. */
__attribute__((unused)) static void streams_order(unsigned *perm, unsigned n)
{
	uint64_t x = 0x5eed2024u;

	for (unsigned i = 0; i < n; i++)
		perm[i] = i;
	for (unsigned i = n; i > 1; i--) {
		unsigned j, t;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		j = (unsigned)(x % i);
		t = perm[i - 1];
		perm[i - 1] = perm[j];
		perm[j] = t;
	}
}

/* Plaintext payload of a benchmark packet: its stream index (4 bytes, big-endian), then the
 * pattern byte i & 0xff at offset i. */
__attribute__((unused)) static inline void payload_fill(uint8_t *p, unsigned len, uint32_t idx)
{
	for (unsigned i = 4; i < len; i++)
		p[i] = (uint8_t)i;
	p[0] = (uint8_t)(idx >> 24);
	p[1] = (uint8_t)(idx >> 16);
	p[2] = (uint8_t)(idx >> 8);
	p[3] = (uint8_t)idx;
}

/* Whether p (len bytes) is payload_fill's output for idx. */
__attribute__((unused)) static inline int payload_ok(const uint8_t *p, unsigned len, uint32_t idx)
{
	if (len < 4 ||
	    ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]) != idx)
		return 0;
	for (unsigned i = 4; i < len; i++)
		if (p[i] != (uint8_t)i)
			return 0;
	return 1;
}

/* A device's context for stream b: its sender (send_key) or the receiver of what the relay
 * sends it (recv_key, receiver = 1), starting at RTP index first (the sender's next, the
 * receiver's lowest acceptable). */
__attribute__((unused)) static int stream_ctx(const struct bstream *b, int receiver, uint64_t first,
					      struct pr_srtp_ctx **out)
{
	const struct pr_sdes_crypto *k = receiver ? &b->recv : &b->send;
	struct pr_srtp_params p = {.profile = k->profile,
				   .backend = PR_SRTP_BACKEND_IPSECMB,
				   .direction = receiver ? PR_SRTP_RECEIVER : PR_SRTP_SENDER,
				   .ssrc = b->ssrc,
				   .master_key = k->key,
				   .master_salt = k->salt,
				   .initial_roc = (uint32_t)(first >> 16)};
	return pr_srtp_ctx_create(&p, out);
}

#endif
