/* SPDX-License-Identifier: BSD-3-Clause */
/* SDP for the media B2BUA: inspect an offer/answer (libosip2's SDP grammar), decide the
 * encryption policy of a leg, and rewrite the SDP so that it points at the relay and
 * carries the leg's own SDES key, or, toward a browser (issue 19), our ICE-lite
 * credentials, DTLS fingerprint and role and one host candidate. Pure functions (unit
 * tested in tests/unit/test_sp_sdp.c, fuzzed by tests/fuzz/fuzz_sip_sdp.c). */
#ifndef POPRELAY_SLOWPATH_SP_SDP_H
#define POPRELAY_SLOWPATH_SP_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/sdes.h"
#include "slowpath/sp_msg.h"

#define SP_SDP_MAX_MEDIA  4
#define SP_SDP_MAX_CRYPTO 4
#define SP_SDP_MAX_CODECS 16
#define SP_SDP_ICE_MAX	  257 /* ice-ufrag / ice-pwd: 256 ice-chars at most (RFC 8839 5.4) */
#define SP_SDP_FPR_MAX	  112 /* "sha-256 " and 32 hex pairs with colons (RFC 8122 5) */
#define SP_SDP_MAX_SSRC	  8   /* a=ssrc ids kept per m= line (the anchor's streams a leg) */

enum sp_sdp_setup {
	SP_SETUP_NONE = 0,
	SP_SETUP_ACTPASS,
	SP_SETUP_ACTIVE,
	SP_SETUP_PASSIVE,
	SP_SETUP_HOLDCONN,
	SP_SETUP_BAD
};

/* One payload format of an m= line: its number and, from a=rtpmap, its encoding name. */
struct sp_sdp_codec {
	uint8_t pt;
	char name[16]; /* "opus", "PCMU", ...; "" without rtpmap (static types) */
};

struct sp_sdp_media {
	char media[8];	/* "audio", "video", ... */
	char proto[24]; /* "RTP/AVP", "RTP/SAVP", "UDP/TLS/RTP/SAVPF", ... */
	char addr[48];	/* media-level c= or the session's */
	char family[4]; /* "ip4" / "ip6" */
	uint16_t port;	/* 0: stream rejected/disabled */
	bool rtcp_mux;
	bool hold;	   /* sendonly / inactive / c=0.0.0.0 */
	unsigned n_crypto; /* supported a=crypto lines, in offer order */
	struct pr_sdes_crypto crypto[SP_SDP_MAX_CRYPTO];
	unsigned n_crypto_bad; /* a=crypto lines we could not use */
	unsigned n_codecs;     /* formats of the m= line, in order (the first 16) */
	struct sp_sdp_codec codecs[SP_SDP_MAX_CODECS];
	/* WebRTC (RFC 8839/8842/8843): media-level values, or the session's when the m= line
	 * has none */
	bool dtls;			  /* proto UDP/TLS/...: keyed by DTLS-SRTP */
	char ice_ufrag[SP_SDP_ICE_MAX];	  /* "" none or invalid (ice_bad) */
	char ice_pwd[SP_SDP_ICE_MAX];	  /* secret: never logged */
	bool ice_bad;			  /* an ice-ufrag/pwd outside RFC 8839's grammar */
	char fingerprint[SP_SDP_FPR_MAX]; /* "sha-256 AB:..", upper case; "" none */
	unsigned n_fingerprint_other;	  /* fingerprints of other hashes, or malformed */
	enum sp_sdp_setup setup;	  /* a=setup (RFC 4145 / 5763) */
	char mid[32];			  /* a=mid ("" none) */
	uint8_t mid_ext; /* a=extmap id of the MID header extension (RFC 8843 15.2), 0: none */
	bool mid_many;	 /* more than one a=mid (never bundled) */
	bool bundled;	 /* its mid is in an a=group:BUNDLE */
	unsigned n_candidates; /* a=candidate lines (dropped: we are ICE-lite) */
	unsigned n_ssrc;       /* distinct a=ssrc ids, in order (the first 8) */
	uint32_t ssrc[SP_SDP_MAX_SSRC];
	bool ssrc_more; /* more than SP_SDP_MAX_SSRC distinct ids */
};

struct sp_sdp_info {
	unsigned n;
	bool bundle;	/* a=group:BUNDLE present */
	int bundle_tag; /* m= line of the group's first mid (RFC 8843's tag), -1 none */
	struct sp_sdp_media m[SP_SDP_MAX_MEDIA];
};

/* 0, or -EINVAL (not SDP / no m= line / bad address or port), -E2BIG (too many m= lines).
 * The info holds secrets (keys): wipe it with sp_sdp_info_wipe. */
int sp_sdp_inspect(const char *sdp, size_t len, struct sp_sdp_info *out);
void sp_sdp_info_wipe(struct sp_sdp_info *info);

/* Encryption policy of one leg's media (issue 5):
 *  - on-net leg: must arrive over TLS, RTP/SAVP with at least one supported SDES crypto
 *    line; otherwise -EPROTONOSUPPORT (the call is refused with 488);
 *  - off-net leg: SRTP when it offers RTP/SAVP with a usable crypto line, else clear RTP.
 * On success *encrypted and *crypto_idx (index into m->crypto, -1 when clear). */
int sp_policy_media(bool onnet, bool over_tls, const struct sp_sdp_media *m, bool *encrypted,
		    int *crypto_idx, const char **why);

/* Policy of a DTLS-SRTP (browser) leg's m= line: an SRTP proto (UDP/TLS/RTP/SAVPF,
 * RTP/SAVPF, UDP/TLS/RTP/SAVP), ice-ufrag and ice-pwd, one sha-256 fingerprint, a usable
 * a=setup and a=rtcp-mux; else -EPROTONOSUPPORT and *why (for the 488's Warning). */
int sp_policy_dtls(const struct sp_sdp_media *m, const char **why);

/* Is one of the answer's formats among the offer's (same encoding name, or the same static
 * payload type)? No transcoding: a call whose every m= line fails this gets 488. */
bool sp_sdp_codec_common(const struct sp_sdp_media *offer, const struct sp_sdp_media *answer);

/* "sha-256 AB:CD:..." (hash name in any case, 32 hex pairs): 0 and the canonical form
 * (upper-case hex) in out, or -EINVAL. */
int sp_sdp_fingerprint_norm(const char *in, char out[SP_SDP_FPR_MAX]);

/* RFC 8843 on a browser's SDP: which m= lines may share one transport (one relay port of
 * the anchor, one ICE pair, one DTLS association). Members: the enabled (port != 0) DTLS-SRTP
 * m= lines with rtcp-mux whose a=mid is in the first a=group:BUNDLE, in m= order. The
 * anchor tells them apart by payload type (RTP) and by SSRC (RTCP), so the group is refused
 * (no BUNDLE: one transport per m= line, RFC 8843 7.3.3) when two members share a payload
 * type or an a=ssrc id, or when a member lists more a=ssrc ids than the anchor keeps.
 * tag: the member whose transport the group uses (the group's first mid that is a member). */
struct sp_sdp_bundle {
	unsigned n; /* members: 0 (no BUNDLE) or 2..SP_SDP_MAX_MEDIA */
	bool member[SP_SDP_MAX_MEDIA];
	unsigned tag;
};
/* Fills b; returns b->n. *why (may be NULL) is set when a BUNDLE group with two or more
 * enabled members was there but cannot be used, else NULL. */
unsigned sp_sdp_bundle_plan(const struct sp_sdp_info *info, struct sp_sdp_bundle *b,
			    const char **why);

/* Toward a browser, per m= line (issue 19): what we put in place of its ICE/DTLS lines. */
struct sp_sdp_dtls_out {
	const char *ice_ufrag, *ice_pwd; /* ours */
	const char *setup;		 /* "actpass" (our offer), "active" / "passive" */
	const char *mid; /* a=mid to write (the offer's, in an answer); NULL: keep */
};

struct sp_sdp_rewrite {
	const char *relay_addr; /* c= and o= address written */
	unsigned n;		/* media lines described below (must match the SDP) */
	uint16_t relay_port[SP_SDP_MAX_MEDIA];
	bool encrypted[SP_SDP_MAX_MEDIA];
	struct pr_sdes_crypto key[SP_SDP_MAX_MEDIA]; /* used when encrypted and not dtls */
	bool dtls[SP_SDP_MAX_MEDIA];		     /* toward a browser: DTLS-SRTP, ICE-lite */
	struct sp_sdp_dtls_out d[SP_SDP_MAX_MEDIA];  /* used when dtls */
	const char *fingerprint;		     /* ours, "sha-256 ..": needed with dtls */
	/* BUNDLE toward a browser (RFC 8843): the member m= lines (dtls ones, each with a mid:
	 * d[i].mid or its own a=mid); a=group:BUNDLE with their mids in m= order is written
	 * at session level when two or more are set. The caller gives the members the same
	 * relay_port in an answer (the answerer's BUNDLE address on every bundled m= line,
	 * RFC 8843 7.3.1); in an offer they may differ (the answer picks the tagged one). */
	bool bundle[SP_SDP_MAX_MEDIA];
};
/* Writes the rewritten SDP into out: c=/o= addresses -> relay_addr (c=0.0.0.0 kept: hold,
 * except on an ICE m= line, where it only means "no candidate yet", RFC 8839 4.2.4), each
 * enabled m= port -> relay_port, every a=crypto, ICE and DTLS attribute and a=group:BUNDLE
 * removed (ours, from rw->bundle, written in its place), then
 *  - SDES / clear: proto RTP/SAVP or RTP/AVP, a=rtcp -> port+1, one a=crypto with key when
 *    encrypted; the AVPF/WebRTC-only attributes (rtcp-fb, extmap, msid, mid, rtcp-rsize)
 *    go, a device would not use them;
 *  - dtls: proto UDP/TLS/RTP/SAVPF, a=ice-lite (session), our ice-ufrag/pwd, fingerprint
 *    and setup, a=mid, a=rtcp-mux, one host candidate on the relay address and port and
 *    a=end-of-candidates; rtcp-fb, extmap, ssrc and msid pass (they came from the other
 *    browser, or there are none).
 * 0, -EINVAL, -ENOMEM. */
int sp_sdp_rewrite(const char *sdp, size_t len, const struct sp_sdp_rewrite *rw,
		   struct sp_buf *out);

#endif
