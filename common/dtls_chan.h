/* SPDX-License-Identifier: BSD-3-Clause */
/* The channel between the dataplane's control lcore and poprelay-dtls (DTLS-SRTP handshakes
 * of the media anchor's browser legs, docs/architecture.md "DTLS-SRTP: a process of its
 * own"). The transport is the stream front's (common/fring.h): a sealed memfd of SPSC rings
 * handed over a unix socket, here one ring each way (n_in 1: the process to control; n_out
 * 1: control to the process), both ends on a single thread.
 *
 * Every message is one PR_FREC_MSG record whose 5-tuple is the leg's: cli = the peer's
 * nominated address (the ICE latch), srv = the leg's anchor address and port (a relay port
 * names one leg on a dataplane); its payload starts with struct pr_dtls_hdr. Each side
 * judges what it reads as untrusted: pr_dtls_msg_parse checks every field and length.
 * Header-only, no allocation: the dataplane, the process, the unit test and the fuzzer
 * share it. */
#ifndef POPRELAY_COMMON_DTLS_CHAN_H
#define POPRELAY_COMMON_DTLS_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/fring.h"

#define PR_DTLS_FPR_LEN 32 /* sha-256 */

enum pr_dtls_type {
	PR_DTLS_RECORD = 1, /* both ways: DTLS records of one datagram follow the header */
	PR_DTLS_START = 2,  /* control -> process: the active leg is nominated, send ClientHello */
	PR_DTLS_END = 3,    /* control -> process: forget the leg (ended, re-keyed) */
	PR_DTLS_KEYS = 4,   /* process -> control: handshake done, keys follow (secret) */
	PR_DTLS_FAIL = 5,   /* process -> control: handshake failed, reason in hdr.reason */
};

enum pr_dtls_role { PR_DTLS_ACTIVE = 1, PR_DTLS_PASSIVE = 2 };

/* SRTP profiles a leg allows (a set) or the one negotiated (a single bit). */
#define PR_DTLS_P_CM80 0x1 /* SRTP_AES128_CM_SHA1_80 (RFC 5764) */
#define PR_DTLS_P_GCM  0x2 /* SRTP_AEAD_AES_128_GCM (RFC 7714) */

enum pr_dtls_fail {
	PR_DTLS_F_FINGERPRINT = 1, /* the peer's certificate is not the SDP's a=fingerprint */
	PR_DTLS_F_TIMEOUT = 2,	   /* no complete handshake within [dtls] handshake_timeout_s */
	PR_DTLS_F_ALERT = 3,	   /* the peer sent a fatal alert, or the handshake failed */
	PR_DTLS_F_NO_SRTP = 4,	   /* no common use_srtp profile */
	PR_DTLS_F_BUSY = 5,	   /* [dtls] max_handshakes legs already in handshake */
	PR_DTLS_F_CERT = 6,	   /* the leg names a certificate of ours the process lacks */
	PR_DTLS_F_MAX
};

struct pr_dtls_hdr {
	uint8_t type;	  /* enum pr_dtls_type */
	uint8_t role;	  /* START/RECORD to the process: enum pr_dtls_role */
	uint8_t profiles; /* to the process: the set allowed; KEYS: the one negotiated */
	uint8_t reason;	  /* FAIL: enum pr_dtls_fail */
	uint32_t gen;	  /* the leg's generation on the dataplane (a re-keyed leg is new) */
	uint8_t fpr[PR_DTLS_FPR_LEN]; /* to the process: the peer's expected sha-256 */
	/* to the process: the sha-256 of OUR certificate that the leg's SDP carried
	 * (X_dtls_local_fingerprint), for the handshake to present it after a rotation; all
	 * zero: not known (a record from before the field), the current one */
	uint8_t lfpr[PR_DTLS_FPR_LEN];
}; /* 72 bytes */

/* The process's figures, in the region's header page at PR_DTLS_STATS_OFF (written by the
 * process, read by the dataplane's telemetry, /poprelay/media/stats dtls_*). */
#define PR_DTLS_STATS_OFF 2048
struct pr_dtls_stats {
	uint64_t started;		/* handshakes begun (a ClientHello sent or received) */
	uint64_t completed;		/* keys exported */
	uint64_t failed[PR_DTLS_F_MAX]; /* by enum pr_dtls_fail */
	uint64_t rate_limited;		/* new handshakes over [dtls] per_source_per_s */
	uint64_t in_handshake;		/* legs in handshake now */
};

/* KEYS payload after the header: the leg's receive master key||salt (the peer's write
 * key), then its send key||salt (ours), each pr_dtls_keysalt_len(profile) bytes. */
static inline uint32_t pr_dtls_keysalt_len(uint8_t profile)
{
	return profile == PR_DTLS_P_CM80 ? 30 : profile == PR_DTLS_P_GCM ? 28 : 0;
}

/* One message, as parsed. */
struct pr_dtls_msg {
	struct pr_dtls_hdr h;
	const uint8_t *data; /* RECORD: the records; KEYS: rx then tx key||salt */
	uint32_t len;
};

/* Is rec (a PR_FREC_MSG record's header and its n payload bytes) a message one side may send
 * the other? to_process: the direction (what control sends is parsed by the process, and the
 * other way round). 0, or -1 with nothing filled in. */
static inline int pr_dtls_msg_parse(const struct pr_frec *rec, const uint8_t *p, uint32_t n,
				    bool to_process, struct pr_dtls_msg *m)
{
	struct pr_dtls_hdr h;

	if (rec->kind != PR_FREC_MSG || rec->len != n || n < sizeof(h) ||
	    (rec->fam != 4 && rec->fam != 6) || rec->srv_port == 0 || rec->cli_port == 0)
		return -1;
	memcpy(&h, p, sizeof(h));
	const uint8_t *d = p + sizeof(h);
	uint32_t dl = n - (uint32_t)sizeof(h);
	switch (h.type) {
	case PR_DTLS_RECORD:
		/* RFC 7983: a DTLS record starts with a content type 20..63; a header is 13 */
		if (dl < 13 || d[0] < 20 || d[0] > 63)
			return -1;
		if (to_process && (h.role < PR_DTLS_ACTIVE || h.role > PR_DTLS_PASSIVE ||
				   !h.profiles || (h.profiles & ~3u)))
			return -1;
		break;
	case PR_DTLS_START:
		if (!to_process || dl || h.role != PR_DTLS_ACTIVE || !h.profiles ||
		    (h.profiles & ~3u))
			return -1;
		break;
	case PR_DTLS_END:
		if (!to_process || dl)
			return -1;
		break;
	case PR_DTLS_KEYS:
		if (to_process || (h.profiles != PR_DTLS_P_CM80 && h.profiles != PR_DTLS_P_GCM) ||
		    dl != 2 * pr_dtls_keysalt_len(h.profiles))
			return -1;
		break;
	case PR_DTLS_FAIL:
		if (to_process || dl || h.reason < 1 || h.reason >= PR_DTLS_F_MAX)
			return -1;
		break;
	default:
		return -1;
	}
	m->h = h;
	m->data = d;
	m->len = dl;
	return 0;
}

/* "sha-256 AB:CD:..." (RFC 8122 4: the hash function's name is case-insensitive, the hex
 * digits too) into 32 bytes. 0 or -1. */
static inline int pr_dtls_fpr_parse(const char *t, uint8_t out[PR_DTLS_FPR_LEN])
{
	static const char name[] = "sha-256 ";
	for (unsigned i = 0; i < sizeof(name) - 1; i++) {
		char c = t[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != name[i])
			return -1;
	}
	t += sizeof(name) - 1;
	for (unsigned i = 0; i < PR_DTLS_FPR_LEN; i++) {
		int v = 0;
		for (int j = 0; j < 2; j++) {
			char c = *t++;
			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= c - '0';
			else if (c >= 'a' && c <= 'f')
				v |= c - 'a' + 10;
			else if (c >= 'A' && c <= 'F')
				v |= c - 'A' + 10;
			else
				return -1;
		}
		out[i] = (uint8_t)v;
		if (*t != (i + 1 < PR_DTLS_FPR_LEN ? ':' : '\0'))
			return -1;
		t += i + 1 < PR_DTLS_FPR_LEN;
	}
	return 0;
}

/* 32 bytes as "sha-256 AB:CD:..." (uppercase, RFC 8122): buf holds at least 104 bytes. */
static inline void pr_dtls_fpr_format(const uint8_t f[PR_DTLS_FPR_LEN], char *buf)
{
	static const char hex[] = "0123456789ABCDEF";
	memcpy(buf, "sha-256 ", 8);
	char *o = buf + 8;
	for (unsigned i = 0; i < PR_DTLS_FPR_LEN; i++) {
		*o++ = hex[f[i] >> 4];
		*o++ = hex[f[i] & 15];
		if (i + 1 < PR_DTLS_FPR_LEN)
			*o++ = ':';
	}
	*o = 0;
}

#endif
