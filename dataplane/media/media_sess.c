/* SPDX-License-Identifier: BSD-3-Clause */
/* A media session from its Redis record: pure C, no EAL (unit-tested and fuzzed alone). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "dataplane/media/media.h"
#include "common/dtls_chan.h"
#include "dataplane/media/media_ice.h"

static int parse_addr(const char *family, const char *text, struct dp_ipaddr *a)
{
	memset(a, 0, sizeof(*a));
	if (!strcmp(family, "ip6")) {
		if (inet_pton(AF_INET6, text, a->v6) != 1)
			return -EINVAL;
		a->family = AF_INET6;
		return 0;
	}
	if (inet_pton(AF_INET, text, &a->v4) != 1)
		return -EINVAL;
	a->family = AF_INET;
	return 0;
}

/* "1 SUITE inline:<key||salt base64>" through the SDES parser, which checks lengths. */
static int parse_key(const char *suite, const char *b64, struct pr_sdes_crypto *c)
{
	char v[160];
	int n = snprintf(v, sizeof(v), "1 %s inline:%s", suite, b64);
	int rc;

	if (n < 0 || (size_t)n >= sizeof(v))
		return -EINVAL;
	rc = pr_sdes_parse(v, c);
	memset(v, 0, sizeof(v));
	return rc;
}

/* The fields a leg can be refused for, in the order leg_build checks them. */
enum {
	BAD_FAMILY = 1,
	BAD_RELAY_ADDR,
	BAD_RELAY_PORT,
	BAD_PEER_ADDR,
	BAD_SUITE,
	BAD_KEY_RX,
	BAD_KEY_TX,
	BAD_ICE_UFRAG,
	BAD_ICE_PWD,
	BAD_ICE_REMOTE,
	BAD_ICE_MEM,
	BAD_KEYING,
	BAD_DTLS_SETUP,
	BAD_DTLS_FPR,
	BAD_DTLS_LFPR,
	BAD_BUNDLE,
	BAD_BUNDLE_POS,
	BAD_BUNDLE_PT,
	BAD_BUNDLE_SSRC,
	BAD_BUNDLE_MID
};

/* A bundled leg (X_bundle set): a DTLS-SRTP leg with rtcp-mux (one 5-tuple for RTP and
 * RTCP), its position and its payload types (at least one) and a=ssrc ids. */
static int bundle_build(struct media_leg *l, const struct pr_ks_leg *k)
{
	struct media_bleg *b;
	const char *p;
	char *e;

	if (!k->bundle[0])
		return 0;
	if (!l->dtls || !l->rtcp_mux)
		return -BAD_BUNDLE;
	if (k->bundle_pos >= MEDIA_BUNDLE_MAX)
		return -BAD_BUNDLE_POS;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -BAD_BUNDLE;
	l->bl = b;
	snprintf(b->group, sizeof(b->group), "%s", k->bundle);
	b->pos = k->bundle_pos;
	if (k->bundle_mid_ext) { /* the MID header extension (RFC 8843 15.2) and its value */
		size_t ml = strlen(k->mid);
		if (k->bundle_mid_ext > 255 || k->bundle_mid_ext == 15 || !ml ||
		    ml > sizeof(b->mid))
			return -BAD_BUNDLE_MID;
		b->mid_ext = (uint8_t)k->bundle_mid_ext;
		b->mid_len = (uint8_t)ml;
		memcpy(b->mid, k->mid, ml);
	}
	unsigned n = 0;
	for (p = k->bundle_pt; *p; p = e) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		unsigned long v = strtoul(p, &e, 10);
		if (e == p || v > 127 || (*e && *e != ' '))
			return -BAD_BUNDLE_PT;
		b->pt[v >> 6] |= 1ull << (v & 63);
		n++;
	}
	if (!n)
		return -BAD_BUNDLE_PT;
	for (p = k->bundle_ssrc; *p; p = e) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		unsigned long long v = strtoull(p, &e, 10);
		if (e == p || v > UINT32_MAX || (*e && *e != ' ') || b->n_ssrc == MEDIA_BUNDLE_SSRC)
			return -BAD_BUNDLE_SSRC;
		b->ssrc[b->n_ssrc++] = (uint32_t)v;
	}
	return 0;
}

/* An ICE leg has our ufrag and pwd (the peer's ufrag may come later, with its answer). */
static int ice_build(struct media_leg *l, struct media_ice **out, const struct pr_ks_leg *k)
{
	struct media_ice *ice;
	int rc;

	l->ice = 0;
	if (!k->ice_ufrag[0] && !k->ice_pwd[0] && !k->ice_remote_ufrag[0])
		return 0;
	ice = calloc(1, sizeof(*ice));
	if (!ice)
		return -BAD_ICE_MEM;
	rc = media_ice_set(ice, k->ice_ufrag, k->ice_pwd, k->ice_remote_ufrag);
	if (rc < 0) {
		media_ice_free(ice);
		return rc == -1 ? -BAD_ICE_UFRAG : rc == -2 ? -BAD_ICE_PWD : -BAD_ICE_REMOTE;
	}
	*out = ice;
	l->ice = 1;
	return 0;
}

/* A DTLS-SRTP leg (RFC 5763): an ICE leg, SRTP once its handshake has exported keys; our
 * role, the peer's fingerprint and the profiles it may use (X_suite pins one of the two
 * use_srtp profiles, else both). */
static int dtls_build(struct media_leg *l, struct media_ice **ice, const struct pr_ks_leg *k)
{
	int rc = ice_build(l, ice, k);
	struct media_ice *keys;

	if (rc < 0)
		return rc;
	if (!l->ice)
		return -BAD_KEYING; /* DTLS-SRTP goes with ICE (X_ice_*) */
	keys = *ice;
	if (!strcmp(k->dtls_setup, "active"))
		keys->dtls_role = PR_DTLS_ACTIVE;
	else if (!strcmp(k->dtls_setup, "passive"))
		keys->dtls_role = PR_DTLS_PASSIVE;
	else
		return -BAD_DTLS_SETUP;
	if (pr_dtls_fpr_parse(k->dtls_fingerprint, keys->dtls_fpr) < 0)
		return -BAD_DTLS_FPR;
	/* ours as the SDP carried it; absent (a record from before the field): all zero, the
	 * process's current certificate */
	memset(keys->dtls_lfpr, 0, sizeof(keys->dtls_lfpr));
	if (k->dtls_local_fingerprint[0] &&
	    pr_dtls_fpr_parse(k->dtls_local_fingerprint, keys->dtls_lfpr) < 0)
		return -BAD_DTLS_LFPR;
	if (!k->suite[0])
		keys->dtls_profiles = PR_DTLS_P_CM80 | PR_DTLS_P_GCM;
	else if (!strcmp(k->suite, "AES_CM_128_HMAC_SHA1_80"))
		keys->dtls_profiles = PR_DTLS_P_CM80;
	else if (!strcmp(k->suite, "AEAD_AES_128_GCM"))
		keys->dtls_profiles = PR_DTLS_P_GCM;
	else
		return -BAD_SUITE;
	l->profile = keys->dtls_profiles == PR_DTLS_P_GCM ? PR_SRTP_AEAD_AES128_GCM
							  : PR_SRTP_AES128_CM_SHA1_80;
	l->encrypted = true; /* (dropped until keyed) */
	l->dtls = 1;
	return 0;
}

int media_sess_dtls_keys(struct media_sess *s, int i, const char *suite, const char *rx,
			 const char *tx)
{
	struct media_leg *l = &s->leg[i];
	struct media_keys *k = &s->keys[i];
	int p = pr_srtp_profile_from_name(suite);

	if (!l->dtls || !l->ice_cred ||
	    (p != PR_SRTP_AES128_CM_SHA1_80 && p != PR_SRTP_AEAD_AES128_GCM) ||
	    !(l->ice_cred->dtls_profiles &
	      (p == PR_SRTP_AEAD_AES128_GCM ? PR_DTLS_P_GCM : PR_DTLS_P_CM80)) ||
	    parse_key(suite, rx, &k->rx) < 0 || parse_key(suite, tx, &k->tx) < 0) {
		pr_sdes_wipe(&k->rx);
		pr_sdes_wipe(&k->tx);
		return -EINVAL;
	}
	l->profile = (enum pr_srtp_profile)p;
	l->dtls_keyed = 1;
	return 0;
}

/* 0, or the field (BAD_*) that refuses the leg, as a negative number. */
static int leg_build(struct media_leg *l, struct media_keys *keys, struct media_ice **ice,
		     const struct pr_ks_leg *k, const char *media)
{
	memset(&l->peer, 0, sizeof(l->peer));
	l->latch = k->latch;
	l->rtcp_mux = k->rtcp_mux;
	l->relay_port = k->relay_port;
	l->peer_port = k->peer_port;
	l->max_kbps = k->max_kbps;
	l->clock_hz = !strcmp(media, "video") ? 90000 : 8000;
	if (strcmp(k->family, "ip4") && strcmp(k->family, "ip6"))
		return -BAD_FAMILY;
	if (parse_addr(k->family, k->relay_addr, &l->relay) < 0)
		return -BAD_RELAY_ADDR;
	if ((l->relay_port & 1) || l->relay_port == 0 || l->relay_port == 65535)
		return -BAD_RELAY_PORT;
	/* A held or not-yet-known peer may be 0.0.0.0 / :: or empty: relaying toward it waits
	 * for the latch. */
	if (k->peer_addr[0] && parse_addr(k->family, k->peer_addr, &l->peer) < 0)
		return -BAD_PEER_ADDR;
	l->encrypted = k->encrypted;
	l->dtls = l->dtls_keyed = 0;
	if (!strcmp(k->keying, "dtls"))
		return dtls_build(l, ice, k);
	if (k->keying[0] && strcmp(k->keying, "sdes"))
		return -BAD_KEYING;
	if (!l->encrypted)
		return ice_build(l, ice, k);
	int p = pr_srtp_profile_from_name(k->suite);
	if (p < 0)
		return -BAD_SUITE;
	l->profile = (enum pr_srtp_profile)p;
	if (parse_key(k->suite, k->key_rx, &keys->rx) < 0)
		return -BAD_KEY_RX;
	if (parse_key(k->suite, k->key_tx, &keys->tx) < 0)
		return -BAD_KEY_TX;
	return ice_build(l, ice, k);
}

void media_sess_wipe(struct media_sess *s)
{
	for (int i = 0; i < 2; i++) {
		pr_sdes_wipe(&s->keys[i].rx);
		pr_sdes_wipe(&s->keys[i].tx);
		media_ice_free(s->leg[i].ice_cred);
		s->leg[i].ice_cred = NULL;
		free(s->leg[i].bl);
		s->leg[i].bl = NULL;
	}
}

int media_sess_build(struct media_sess *s, const struct pr_ks_session *k, const char **why)
{
	static const char *const field[2][BAD_BUNDLE_MID] = {
	    {"a_family",
	     "a_relay_addr",
	     "a_relay_port",
	     "a_peer_addr",
	     "a_suite",
	     "a_key_rx",
	     "a_key_tx",
	     "a_ice_ufrag",
	     "a_ice_pwd",
	     "a_ice_remote_ufrag",
	     "a_ice_* (no memory)",
	     "a_keying",
	     "a_dtls_setup",
	     "a_dtls_fingerprint",
	     "a_dtls_local_fingerprint",
	     "a_bundle (a dtls leg with rtcp-mux only)",
	     "a_bundle_pos",
	     "a_bundle_pt",
	     "a_bundle_ssrc",
	     "a_bundle_mid_ext (1-255 but 15, with a mid of 1-16 bytes)"},
	    {"b_family",
	     "b_relay_addr",
	     "b_relay_port",
	     "b_peer_addr",
	     "b_suite",
	     "b_key_rx",
	     "b_key_tx",
	     "b_ice_ufrag",
	     "b_ice_pwd",
	     "b_ice_remote_ufrag",
	     "b_ice_* (no memory)",
	     "b_keying",
	     "b_dtls_setup",
	     "b_dtls_fingerprint",
	     "b_dtls_local_fingerprint",
	     "b_bundle (a dtls leg with rtcp-mux only)",
	     "b_bundle_pos",
	     "b_bundle_pt",
	     "b_bundle_ssrc",
	     "b_bundle_mid_ext (1-255 but 15, with a mid of 1-16 bytes)"}};

	snprintf(s->id, sizeof(s->id), "%s", k->id);
	snprintf(s->cdr_id, sizeof(s->cdr_id), "%s", k->cdr_id);
	s->idle_s = k->idle_timeout_s;
	for (int i = 0; i < 2; i++) {
		struct media_leg *l = &s->leg[i];

		l->sess = s;
		l->idx = (uint8_t)i;
		snprintf(s->party[i], sizeof(s->party[i]), "%s", k->leg[i].party);
		int bad = leg_build(l, &s->keys[i], &s->leg[i].ice_cred, &k->leg[i], k->media);
		if (bad == 0)
			bad = bundle_build(l, &k->leg[i]);
		if (bad < 0) {
			*why = field[i][-bad - 1];
			media_sess_wipe(s);
			return -EINVAL;
		}
	}
	if (s->leg[0].relay_port == s->leg[1].relay_port) {
		*why = "relay ports";
		media_sess_wipe(s);
		return -EINVAL;
	}
	return 0;
}
