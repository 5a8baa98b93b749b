/* SPDX-License-Identifier: BSD-3-Clause */
/* The media anchor (dataplane/media/): relays each call's RTP and RTCP between its two legs,
 * SRTP hop by hop (unprotect with the inbound leg's keys, protect with the outbound leg's).
 *
 * Who writes what:
 *  - control lcore: builds a session from its Redis record (pr:session:<id>), publishes its
 *    legs in the port table (one slot per relay port pair) and retires them through RCU;
 *    creates a stream (one SSRC in one direction: its contexts) when a worker punts the
 *    first packet of an SSRC it does not know, and publishes it in the leg's streams[];
 *  - workers: everything in struct media_rt and struct media_stream's figures, for the
 *    packets they relay (RSS keeps one direction on one worker);
 *  - telemetry thread: reads under media.lock (control takes it to add or free sessions).
 */
#ifndef POPRELAY_DP_MEDIA_H
#define POPRELAY_DP_MEDIA_H

#include <stdbool.h>
#include <stdint.h>

#include "common/keyspace.h"
#include "crypto/sdes.h"
#include "crypto/srtp.h"
#include "dataplane/dp_parse.h"

#define MEDIA_MAX_SSRC 8 /* streams per direction of a session (audio, video, RTX, FEC...) */

/* One SSRC from leg L toward leg O. Contexts and ssrc: control, before publication.
 * Figures: the worker relaying L's packets. */
struct media_stream {
	uint32_t ssrc;
	struct pr_srtp_ctx *rx; /* L's key_rx, receiver (NULL: L is in clear) */
	struct pr_srtp_ctx *tx; /* O's key_tx, sender (NULL: O is in clear) */
	/* RFC 3550 A.1 sequence figures and A.8 jitter (RTP only) */
	uint8_t seq_init;
	uint16_t max_seq;
	uint32_t base_seq;
	uint32_t cycles;
	uint32_t received;
	uint32_t jitter; /* RTP timestamp units, x16 */
	int64_t transit;
} __attribute__((aligned(64))); /* one line */

/* A leg's runtime state, kept across updates of the session. Writer: the worker relaying
 * packets from this leg (rx_*, latch, bucket) or toward it (tx_*); ctl_*: control.
 * Line 0 holds everything a relayed RTP packet reads or writes here, in either direction:
 * one line to fetch, not three (with thousands of sessions each is a miss). */
struct media_rt {
	struct dp_ipaddr lat_ip; /* latched RTP source */
	uint16_t lat_port;
	uint8_t latched;
	uint8_t rtcp_latched; /* valid for generation rtcp_gen only */
	uint32_t latch_gen;   /* the leg generation the latch was learned under */
	uint32_t last_rx_ms;  /* ms since the dataplane's start (wraps), when rx_packets > 0 */
	uint64_t rx_packets, rx_bytes; /* accepted from the device */
	uint64_t tx_packets, tx_bytes; /* sent to the device */
	/* line 1 onwards: RTCP's latch, drops, limits, control's figures */
	struct dp_ipaddr lat_rtcp_ip; /* latched RTCP source (port + 1 or muxed) */
	uint16_t lat_rtcp_port;
	uint32_t rtcp_gen;  /* the same for the RTCP latch */
	uint32_t tb_tokens; /* X_max_kbps token bucket, bytes */
	uint64_t auth_fail, replay, wrong_source, bandwidth, other_drop;
	uint64_t relatch;
	uint64_t last_relatch_tsc;
	uint64_t tb_tsc;
	uint64_t punt_tsc; /* first packets of new SSRCs sent to control */
	/* control: packets lost on retired streams; relatch count already logged */
	uint64_t ctl_lost;
	uint64_t relatch_logged;
	uint32_t punt_tokens;
	/* control: first packets it relayed (a handful a stream), and its drops by reason
	 * (MD_* of media_dp.c; rate-limited by punt_tokens) */
	uint32_t ctl_rx_packets, ctl_rx_bytes, ctl_tx_packets, ctl_tx_bytes;
	uint32_t ctl_drop[13];
} __attribute__((aligned(64)));

/* An ICE leg's runtime state, kept across updates like struct media_rt (shared by the
 * generations), out of line: only legs that ever were ICE legs pay for it. */
struct media_ice_rt {
	/* control (read by the workers): the valid pair before its nomination, the source of
	 * its last authenticated check under generation chk_gen, from where DTLS may start
	 * (RFC 8445 12.1: data on a valid pair before one is selected) */
	uint8_t checked;
	uint16_t chk_port;
	uint32_t chk_gen;
	struct dp_ipaddr chk_ip;
	/* control: a DTLS-SRTP leg's handshake (its number toward poprelay-dtls, the process
	 * attach it was started under, ended by a failure) */
	uint32_t dtls_gen, dtls_started;
	uint8_t dtls_failed;
} __attribute__((aligned(64)));

struct media_sess;
struct media_ice;

/* m= lines on one BUNDLE transport (the slowpath's SP_SDP_MAX_MEDIA) */
#define MEDIA_BUNDLE_MAX 4
/* a=ssrc ids kept per bundled leg */
#define MEDIA_BUNDLE_SSRC 8

/* Control only: a bundled leg's place in its group and its demultiplexing keys (X_bundle*,
 * out of line like the ICE credentials: only bundled legs pay for it). */
struct media_bleg {
	char group[PR_KS_NAME_MAX];
	uint16_t pos;
	uint64_t pt[2]; /* its payload types, a bit each */
	uint8_t n_ssrc;
	uint32_t ssrc[MEDIA_BUNDLE_SSRC];
	uint8_t mid_ext, mid_len; /* X_bundle_mid_ext (0: none) and X_mid's length */
	char mid[16];		  /* X_mid, not terminated (RFC 8843 15.2: 16 bytes at most) */
};

/* The legs of one BUNDLE group (RFC 8843) on one relay port: immutable once published in
 * the port table (a tagged pointer, bit 0 set); control builds a new one when a member's
 * session is installed, updated or ended, and frees the old one after a grace period. */
struct media_bundle {
	/* what an RTP packet reads: line 0, and the line of pt_idx its payload type is on (the
	 * worker prefetches both before it picks, media_dp.c's prefetch_burst) */
	struct media_leg *leg[MEDIA_BUNDLE_MAX]; /* by X_bundle_pos */
	uint8_t n;
	uint8_t mid_ext;    /* the MID header extension's id (the first member's that has one) */
	uint64_t pt_amb[2]; /* payload types two members claim (a bit each): by SSRC first */
	uint8_t pt_idx[128] __attribute__((aligned(64))); /* payload type -> member + 1; 0: none
							   * (the first member takes it) */
	uint8_t mid_len[MEDIA_BUNDLE_MAX];		  /* each member's MID (0: none) */
	char mid[MEDIA_BUNDLE_MAX][16];
	uint8_t n_ssrc[MEDIA_BUNDLE_MAX];
	uint32_t ssrc[MEDIA_BUNDLE_MAX][MEDIA_BUNDLE_SSRC]; /* a=ssrc ids, RTCP's hints */
	char group[PR_KS_NAME_MAX];
} __attribute__((aligned(64)));

/* One generation of a leg's configuration: immutable once published, except streams[]
 * (control appends). Both legs of a session lie side by side (struct media_sess), so the
 * other leg is found without reading the session. */
struct media_leg {
	/* line 0: what a worker reads for every packet from this leg or toward it */
	struct media_rt *rt;
	struct dp_ipaddr relay;
	uint16_t relay_port;	/* host order */
	uint16_t port_idx;	/* dp port that owns relay */
	uint8_t idx : 1;	/* 0: a (caller side), 1: b */
	uint8_t ice : 1;	/* ICE-lite leg: latched by nominated checks only (media_ice.h) */
	uint8_t dtls : 1;	/* DTLS-SRTP leg (an ICE leg): keys from the handshake */
	uint8_t dtls_keyed : 1; /* its keys are in (before: its media is dropped) */
	bool encrypted, latch, rtcp_mux;
	uint32_t gen; /* latch generation: a new SDP address asks for a new latch */
	uint32_t clock_hz;
	uint32_t max_kbps;
	struct media_stream *streams[MEDIA_MAX_SSRC]; /* packets from this leg; 0 and 1 on line 0 */
	/* read before a latch, and by control */
	struct dp_ipaddr peer;
	uint16_t peer_port; /* host order */
	enum pr_srtp_profile profile;
	struct media_sess *sess;
	/* ICE legs: STUN sent to control (a token bucket; writers: the workers, racily) */
	uint64_t ice_tsc;
	uint32_t ice_tokens;
	struct media_ice *ice_cred; /* control only: an ICE leg's credentials (secret), or NULL */
	struct media_bleg *bl;	    /* control only: a bundled leg's keys, or NULL */
	struct media_ice_rt *irt;   /* an ICE leg's (never NULL when ice is set), or NULL */
} __attribute__((aligned(64)));

/* The leg on the other side of l's session. */
static inline struct media_leg *media_other(const struct media_leg *l)
{
	return (struct media_leg *)l + (l->idx ? -1 : 1);
}

/* Control only: a leg's SDES keys (secrets), apart from the legs the workers read; for a
 * DTLS-SRTP leg the exported ones once keyed (what its handshake needs is in its ICE
 * credentials, struct media_ice: a DTLS-SRTP leg is an ICE leg). */
struct media_keys {
	struct pr_sdes_crypto rx, tx;
};

struct media_sess {
	struct media_leg leg[2];
	struct media_keys keys[2];
	char id[PR_KS_NAME_MAX];
	char cdr_id[PR_KS_NAME_MAX];
	char party[2][64];
	uint32_t idle_s;
	uint32_t list_idx; /* control: index in the session list */
	uint64_t installed_ms;
	bool idle_reported; /* control: told the slowpath (pr:sessions:events) */
} __attribute__((aligned(64)));

/* The keys of leg l. */
static inline struct media_keys *media_keys_of(const struct media_leg *l)
{
	return &l->sess->keys[l->idx];
}

/* Control: builds session s from record k (keys decoded, addresses parsed, ICE credentials
 * checked and allocated); 0 or a negative errno with *why set to a short reason (the field).
 * Does not publish. */
int media_sess_build(struct media_sess *s, const struct pr_ks_session *k, const char **why);
/* Control: DTLS-SRTP leg i of s keyed with the exported keys (suite and key||salt in base64,
 * as X_dtls_suite, X_dtls_key_rx, X_dtls_key_tx hold them). 0 or -EINVAL. */
int media_sess_dtls_keys(struct media_sess *s, int i, const char *suite, const char *rx,
			 const char *tx);
/* Wipes s's secrets (SDES keys, ICE pwds) and frees its ICE credentials and bundle keys;
 * not s itself. */
void media_sess_wipe(struct media_sess *s);

/* RTCP or RTP on a muxed port (RFC 5761 4: RTCP packet types 192-223 in the second byte). */
static inline bool media_is_rtcp_mux(const uint8_t *p, uint16_t len)
{
	return len >= 2 && p[1] >= 192 && p[1] <= 223;
}

/* The value of header extension id in RTP packet p (RFC 8285: the one-byte form, 0xBEDE, or
 * the two-byte form, 0x100X), its length in *vlen; NULL when the packet has none, or its
 * extension block does not fit the packet or is malformed. The header extension is not
 * encrypted by SRTP (RFC 3711 3.1; encrypted extensions, RFC 6904, are not looked into). */
static inline const uint8_t *media_rtp_ext(const uint8_t *p, uint16_t len, uint8_t id,
					   uint8_t *vlen)
{
	size_t off, end;

	if (len < 12 || !(p[0] & 0x10) || !id)
		return NULL;
	off = 12 + 4u * (p[0] & 0x0f);
	if (off + 4 > len)
		return NULL;
	uint16_t prof = (uint16_t)(p[off] << 8 | p[off + 1]);
	end = off + 4 + 4u * (size_t)(p[off + 2] << 8 | p[off + 3]);
	if (end > len)
		return NULL;
	off += 4;
	if (prof == 0xBEDE) {
		while (off < end) {
			uint8_t b = p[off], eid = b >> 4, l = (uint8_t)((b & 0x0f) + 1);
			if (b == 0) { /* padding */
				off++;
				continue;
			}
			if (eid == 15 || off + 1 + l > end) /* 15: stop (RFC 8285 4.2) */
				return NULL;
			if (eid == id) {
				*vlen = l;
				return p + off + 1;
			}
			off += 1u + l;
		}
	} else if ((prof & 0xfff0) == 0x1000) {
		while (off < end) {
			uint8_t eid = p[off];
			if (eid == 0) {
				off++;
				continue;
			}
			if (off + 2 > end || off + 2 + p[off + 1] > end)
				return NULL;
			if (eid == id) {
				*vlen = p[off + 1];
				return p + off + 2;
			}
			off += 2u + p[off + 1];
		}
	}
	return NULL;
}

/* RFC 3550 A.1 / A.8 for an accepted RTP packet (plaintext header). arrival: in RTP clock
 * units. */
static inline void media_stream_seq(struct media_stream *s, const uint8_t *rtp, uint32_t arrival)
{
	uint16_t seq = (uint16_t)(rtp[2] << 8 | rtp[3]);
	uint32_t ts =
	    (uint32_t)rtp[4] << 24 | (uint32_t)rtp[5] << 16 | (uint32_t)rtp[6] << 8 | rtp[7];
	int64_t transit = (int64_t)arrival - (int64_t)ts, d;

	if (!s->seq_init) {
		s->seq_init = 1;
		s->base_seq = seq;
		s->max_seq = seq;
		s->cycles = 0;
		s->received = 1;
		s->transit = transit;
		return;
	}
	uint16_t delta = (uint16_t)(seq - s->max_seq);
	if (delta < 0x8000) { /* in order, perhaps with a gap */
		if (seq < s->max_seq)
			s->cycles += 65536;
		s->max_seq = seq;
	}
	s->received++;
	d = (int32_t)(uint32_t)(transit - s->transit);
	s->transit = transit;
	if (d < 0)
		d = -d;
	s->jitter += (uint32_t)d - ((s->jitter + 8) >> 4);
}

/* Packets lost on the way in (expected - received, never below 0). */
static inline uint64_t media_stream_lost(const struct media_stream *s)
{
	if (!s->seq_init)
		return 0;
	uint64_t expected = (uint64_t)s->cycles + s->max_seq - s->base_seq + 1;
	return expected > s->received ? expected - s->received : 0;
}

#endif
