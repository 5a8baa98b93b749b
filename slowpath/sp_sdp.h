/* SPDX-License-Identifier: BSD-3-Clause */
/* SDP for the media B2BUA: inspect an offer/answer (libosip2's SDP grammar), decide the
 * encryption policy of a leg, and rewrite the SDP so that it points at the relay and
 * carries the leg's own SDES key. Pure functions (unit tested in tests/unit/test_sp_sdp.c). */
#ifndef POPRELAY_SLOWPATH_SP_SDP_H
#define POPRELAY_SLOWPATH_SP_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/sdes.h"
#include "slowpath/sp_msg.h"

#define SP_SDP_MAX_MEDIA  4
#define SP_SDP_MAX_CRYPTO 4

struct sp_sdp_media {
	char media[8];	/* "audio", "video", ... */
	char proto[16]; /* "RTP/AVP", "RTP/SAVP", ... */
	char addr[48];	/* media-level c= or the session's */
	char family[4]; /* "ip4" / "ip6" */
	uint16_t port;	/* 0: stream rejected/disabled */
	bool rtcp_mux;
	bool hold;	   /* sendonly / inactive / c=0.0.0.0 */
	unsigned n_crypto; /* supported a=crypto lines, in offer order */
	struct pr_sdes_crypto crypto[SP_SDP_MAX_CRYPTO];
	unsigned n_crypto_bad; /* a=crypto lines we could not use */
};

struct sp_sdp_info {
	unsigned n;
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

struct sp_sdp_rewrite {
	const char *relay_addr; /* c= and o= address written */
	unsigned n;		/* media lines described below (must match the SDP) */
	uint16_t relay_port[SP_SDP_MAX_MEDIA];
	bool encrypted[SP_SDP_MAX_MEDIA];
	struct pr_sdes_crypto key[SP_SDP_MAX_MEDIA]; /* used when encrypted */
};
/* Writes the rewritten SDP into out: c=/o= addresses -> relay_addr (c=0.0.0.0 kept: hold),
 * each enabled m= port -> relay_port and proto -> RTP/SAVP or RTP/AVP, a=rtcp -> port+1,
 * every a=crypto and ICE/DTLS attribute removed, then one a=crypto with key when encrypted.
 * 0, -EINVAL, -ENOMEM. */
int sp_sdp_rewrite(const char *sdp, size_t len, const struct sp_sdp_rewrite *rw,
		   struct sp_buf *out);

#endif
