/* SPDX-License-Identifier: BSD-3-Clause */
#include "slowpath/sp_sdp.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <osipparser2/osip_port.h>
#include <osipparser2/sdp_message.h>

static int parse_sdp(const char *sdp, size_t len, sdp_message_t **out)
{
	if (!sdp || !len || len > SP_MSG_MAX || memchr(sdp, '\0', len))
		return -EINVAL;
	/* libosip2 5.3's sdp_message_parse reads past the NUL when the text ends in a lone
	 * CR (found by tests/fuzz/fuzz_sip_sdp.c): end every copy with CRLF, and leave zeroed
	 * slack after it. */
	char *copy = calloc(1, len + 8);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, sdp, len);
	if (copy[len - 1] == '\r')
		copy[len] = '\n';
	else if (copy[len - 1] != '\n')
		memcpy(copy + len, "\r\n", 2);
	sdp_message_t *s = NULL;
	if (sdp_message_init(&s) < 0) {
		free(copy);
		return -ENOMEM;
	}
	int rc = sdp_message_parse(s, copy);
	free(copy);
	if (rc < 0) {
		sdp_message_free(s);
		return -EINVAL;
	}
	*out = s;
	return 0;
}

static int addr_family(const char *addr, char fam[4])
{
	struct in6_addr a6;
	struct in_addr a4;
	if (inet_pton(AF_INET, addr, &a4) == 1) {
		snprintf(fam, 4, "ip4");
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &a6) == 1) {
		snprintf(fam, 4, "ip6");
		return 0;
	}
	return -EINVAL;
}

static int cp(char *dst, size_t len, const char *s)
{
	if (!s || strlen(s) >= len)
		return -EINVAL;
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

/* RFC 8839 5.4: ice-char = ALPHA / DIGIT / "+" / "/", 4 (ufrag) or 22 (pwd) to 256. */
static bool ice_chars(const char *v, size_t min)
{
	size_t n = 0;
	for (; v[n]; n++)
		if (!((v[n] >= 'a' && v[n] <= 'z') || (v[n] >= 'A' && v[n] <= 'Z') ||
		      (v[n] >= '0' && v[n] <= '9') || v[n] == '+' || v[n] == '/'))
			return false;
	return n >= min && n < SP_SDP_ICE_MAX;
}

int sp_sdp_fingerprint_norm(const char *in, char out[SP_SDP_FPR_MAX])
{
	static const char hx[] = "0123456789ABCDEF";
	out[0] = '\0';
	if (!in || strncasecmp(in, "sha-256 ", 8))
		return -EINVAL;
	const char *p = in + 8;
	while (*p == ' ')
		p++;
	char *o = out + 8;
	memcpy(out, "sha-256 ", 8);
	for (int i = 0; i < 32; i++) {
		const char *a = strchr(hx, toupper((unsigned char)p[0]));
		const char *b = p[0] ? strchr(hx, toupper((unsigned char)p[1])) : NULL;
		if (!p[0] || !p[1] || !a || !b)
			goto bad;
		*o++ = *a;
		*o++ = *b;
		p += 2;
		if (i < 31) {
			if (*p++ != ':')
				goto bad;
			*o++ = ':';
		}
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p)
		goto bad;
	*o = '\0';
	return 0;
bad:
	out[0] = '\0';
	return -EINVAL;
}

static enum sp_sdp_setup setup_of(const char *v)
{
	if (!v)
		return SP_SETUP_BAD;
	if (!strcmp(v, "actpass"))
		return SP_SETUP_ACTPASS;
	if (!strcmp(v, "active"))
		return SP_SETUP_ACTIVE;
	if (!strcmp(v, "passive"))
		return SP_SETUP_PASSIVE;
	if (!strcmp(v, "holdconn"))
		return SP_SETUP_HOLDCONN;
	return SP_SETUP_BAD;
}

/* The WebRTC attributes one a= line sets (session or media level: the same names). */
static void webrtc_attr(struct sp_sdp_media *o, const sdp_attribute_t *a)
{
	const char *f = a->a_att_field, *v = a->a_att_value;
	if (!strcmp(f, "ice-ufrag")) {
		if (v && ice_chars(v, 4))
			snprintf(o->ice_ufrag, sizeof(o->ice_ufrag), "%s", v);
		else
			o->ice_bad = true, o->ice_ufrag[0] = '\0';
	} else if (!strcmp(f, "ice-pwd")) {
		if (v && ice_chars(v, 22))
			snprintf(o->ice_pwd, sizeof(o->ice_pwd), "%s", v);
		else
			o->ice_bad = true, explicit_bzero(o->ice_pwd, sizeof(o->ice_pwd));
	} else if (!strcmp(f, "fingerprint")) {
		char fp[SP_SDP_FPR_MAX];
		if (sp_sdp_fingerprint_norm(v, fp) == 0)
			memcpy(o->fingerprint, fp, sizeof(fp));
		else
			o->n_fingerprint_other++;
	} else if (!strcmp(f, "setup")) {
		o->setup = setup_of(v);
	} else if (!strcmp(f, "extmap") && v) {
		/* "<id>[/<direction>] <uri> ...": the id the sender tags its MID with (1-14 in
		 * the one-byte form, up to 255 in the two-byte form, RFC 8285 5) */
		char *e;
		unsigned long id = strtoul(v, &e, 10);
		if (e != v && id >= 1 && id <= 255 && id != 15 && (*e == ' ' || *e == '/')) {
			const char *uri = strchr(e, ' ');
			while (uri && *uri == ' ')
				uri++;
			static const char mid_uri[] = "urn:ietf:params:rtp-hdrext:sdes:mid";
			if (uri && !strncmp(uri, mid_uri, sizeof(mid_uri) - 1) &&
			    (uri[sizeof(mid_uri) - 1] == '\0' || uri[sizeof(mid_uri) - 1] == ' '))
				o->mid_ext = (uint8_t)id;
		}
	}
}

/* "1001 cname:..." -> SSRC 1001 among the m= line's (each id once). */
static void ssrc_attr(struct sp_sdp_media *o, const char *v)
{
	char *e;
	if (!v)
		return;
	unsigned long long id = strtoull(v, &e, 10);
	if (e == v || (*e && *e != ' ') || id > UINT32_MAX)
		return;
	for (unsigned i = 0; i < o->n_ssrc; i++)
		if (o->ssrc[i] == id)
			return;
	if (o->n_ssrc < SP_SDP_MAX_SSRC)
		o->ssrc[o->n_ssrc++] = (uint32_t)id;
	else
		o->ssrc_more = true;
}

/* Is mid one of the identification-tags of group (" 0 1 ...", RFC 5888's list)? */
static bool in_group(const char *group, const char *mid)
{
	size_t l = strlen(mid);
	if (!l)
		return false;
	for (const char *g = group; (g = strstr(g, mid)); g += l)
		if (g[-1] == ' ' && (g[l] == ' ' || !g[l]))
			return true;
	return false;
}

/* "111 opus/48000/2" -> the codec of that payload type gets the name "opus". */
static void rtpmap(struct sp_sdp_media *o, const char *v)
{
	char *e;
	if (!v)
		return;
	unsigned long pt = strtoul(v, &e, 10);
	if (e == v || *e != ' ' || pt > 127)
		return;
	while (*e == ' ')
		e++;
	size_t n = strcspn(e, "/");
	for (unsigned i = 0; i < o->n_codecs; i++)
		if (o->codecs[i].pt == pt && n && n < sizeof(o->codecs[i].name)) {
			memcpy(o->codecs[i].name, e, n);
			o->codecs[i].name[n] = '\0';
		}
}

int sp_sdp_inspect(const char *sdp, size_t len, struct sp_sdp_info *out)
{
	sdp_message_t *s = NULL;
	memset(out, 0, sizeof(*out));
	int rc = parse_sdp(sdp, len, &s);
	if (rc < 0)
		return rc;
	rc = -EINVAL;
	sdp_media_t *m;
	const char *sess_addr = s->c_connection ? s->c_connection->c_addr : NULL;
	bool sess_hold = false;
	sdp_attribute_t *a;
	/* session-level ICE/DTLS values: the default of every m= line (RFC 8839 5.4,
	 * RFC 8842 5); a media-level line overrides */
	struct sp_sdp_media *sess = calloc(1, sizeof(*sess));
	const char *group = NULL;
	if (!sess)
		goto out;
	for (int j = 0; (a = osip_list_get(&s->a_attributes, j)); j++) {
		if (!a->a_att_field)
			continue;
		if (!strcmp(a->a_att_field, "sendonly") || !strcmp(a->a_att_field, "inactive"))
			sess_hold = true;
		else if (!strcmp(a->a_att_field, "group") && a->a_att_value &&
			 !strncmp(a->a_att_value, "BUNDLE", 6) &&
			 (a->a_att_value[6] == ' ' || !a->a_att_value[6]))
			group = a->a_att_value + 6;
		else
			webrtc_attr(sess, a);
	}
	out->bundle = group != NULL;
	out->bundle_tag = -1;
	/* the group's first identification-tag: RFC 8843's offerer BUNDLE-tag */
	char tag[32] = "";
	if (group) {
		const char *t = group + strspn(group, " ");
		size_t tl = strcspn(t, " ");
		if (tl < sizeof(tag)) {
			memcpy(tag, t, tl);
			tag[tl] = '\0';
		}
	}
	int i;
	for (i = 0; (m = osip_list_get(&s->m_medias, i)); i++) {
		if (i >= SP_SDP_MAX_MEDIA) {
			rc = -E2BIG;
			goto out;
		}
		struct sp_sdp_media *o = &out->m[i];
		char *e;
		if (!m->m_port || cp(o->media, sizeof(o->media), m->m_media) < 0 ||
		    cp(o->proto, sizeof(o->proto), m->m_proto) < 0)
			goto out;
		unsigned long port = strtoul(m->m_port, &e, 10);
		if (*e || e == m->m_port || port > 65535)
			goto out;
		o->port = (uint16_t)port;
		sdp_connection_t *c = osip_list_get(&m->c_connections, 0);
		const char *addr = c && c->c_addr ? c->c_addr : sess_addr;
		if (o->port) {
			if (!addr || cp(o->addr, sizeof(o->addr), addr) < 0 ||
			    addr_family(o->addr, o->family) < 0)
				goto out;
		}
		o->dtls = !strncmp(o->proto, "UDP/TLS/", 8);
		memcpy(o->ice_ufrag, sess->ice_ufrag, sizeof(o->ice_ufrag));
		memcpy(o->ice_pwd, sess->ice_pwd, sizeof(o->ice_pwd));
		memcpy(o->fingerprint, sess->fingerprint, sizeof(o->fingerprint));
		o->ice_bad = sess->ice_bad;
		o->n_fingerprint_other = sess->n_fingerprint_other;
		o->setup = sess->setup;
		char *pt;
		for (int j = 0; (pt = osip_list_get(&m->m_payloads, j)); j++) {
			unsigned long v = strtoul(pt, &e, 10);
			if (o->n_codecs < SP_SDP_MAX_CODECS && e != pt && !*e && v <= 127)
				o->codecs[o->n_codecs++].pt = (uint8_t)v;
		}
		bool hold = sess_hold;
		for (int j = 0; (a = osip_list_get(&m->a_attributes, j)); j++) {
			if (!a->a_att_field)
				continue;
			if (!strcmp(a->a_att_field, "rtpmap"))
				rtpmap(o, a->a_att_value);
			else if (!strcmp(a->a_att_field, "mid") && a->a_att_value) {
				o->mid_many |= o->mid[0] != '\0';
				snprintf(o->mid, sizeof(o->mid), "%s", a->a_att_value);
			} else if (!strcmp(a->a_att_field, "candidate"))
				o->n_candidates++;
			else if (!strcmp(a->a_att_field, "ssrc"))
				ssrc_attr(o, a->a_att_value);
			else
				webrtc_attr(o, a);
			if (!strcmp(a->a_att_field, "rtcp-mux"))
				o->rtcp_mux = true;
			else if (!strcmp(a->a_att_field, "sendonly") ||
				 !strcmp(a->a_att_field, "inactive"))
				hold = true;
			else if (!strcmp(a->a_att_field, "crypto")) {
				if (a->a_att_value && o->n_crypto < SP_SDP_MAX_CRYPTO &&
				    pr_sdes_parse(a->a_att_value, &o->crypto[o->n_crypto]) == 0)
					o->n_crypto++;
				else
					o->n_crypto_bad++;
			}
		}
		/* c=0.0.0.0 on an ICE m= line means "no candidate yet" (RFC 8839 4.2.4), not
		 * hold (RFC 3264 8.4) */
		o->hold = hold || (addr && !strcmp(addr, "0.0.0.0") && !o->ice_ufrag[0]);
		if (group && o->mid[0]) {
			o->bundled = in_group(group, o->mid);
			if (o->bundled && out->bundle_tag < 0 && !strcmp(o->mid, tag))
				out->bundle_tag = i;
		}
	}
	if (i == 0)
		goto out;
	out->n = (unsigned)i;
	rc = 0;
out:
	if (sess)
		explicit_bzero(sess, sizeof(*sess));
	free(sess);
	sdp_message_free(s);
	if (rc < 0)
		sp_sdp_info_wipe(out);
	return rc;
}

void sp_sdp_info_wipe(struct sp_sdp_info *info)
{
	for (unsigned i = 0; i < SP_SDP_MAX_MEDIA; i++)
		for (unsigned j = 0; j < SP_SDP_MAX_CRYPTO; j++)
			pr_sdes_wipe(&info->m[i].crypto[j]);
	explicit_bzero(info, sizeof(*info)); /* ice-pwd too */
}

int sp_policy_dtls(const struct sp_sdp_media *m, const char **why)
{
	*why = NULL;
	if (m->port == 0)
		return 0;
	if (strcmp(m->proto, "UDP/TLS/RTP/SAVPF") && strcmp(m->proto, "RTP/SAVPF") &&
	    strcmp(m->proto, "UDP/TLS/RTP/SAVP"))
		*why = "browser media must be UDP/TLS/RTP/SAVPF";
	else if (m->ice_bad)
		*why = "malformed ice-ufrag or ice-pwd";
	else if (!m->ice_ufrag[0] || !m->ice_pwd[0])
		*why = "browser media without ice-ufrag and ice-pwd";
	else if (!m->fingerprint[0])
		*why = "browser media without a sha-256 fingerprint";
	else if (m->setup == SP_SETUP_HOLDCONN || m->setup == SP_SETUP_BAD)
		*why = "unusable a=setup";
	else if (!m->rtcp_mux)
		*why = "browser media without a=rtcp-mux";
	return *why ? -EPROTONOSUPPORT : 0;
}

unsigned sp_sdp_bundle_plan(const struct sp_sdp_info *info, struct sp_sdp_bundle *b,
			    const char **why)
{
	const char *w = NULL;
	memset(b, 0, sizeof(*b));
	for (unsigned i = 0; i < info->n && i < SP_SDP_MAX_MEDIA; i++) {
		const struct sp_sdp_media *m = &info->m[i];
		/* (a mid we write back must be one token, RFC 5888's identification-tag) */
		b->member[i] = m->bundled && m->port && m->dtls && m->rtcp_mux && m->mid[0] &&
			       !m->mid_many && strlen(m->mid) < sizeof(m->mid) - 1 &&
			       !strpbrk(m->mid, " \t");
		b->n += b->member[i];
	}
	if (b->n < 2)
		goto none;
	for (unsigned i = 0; i < info->n && !w; i++)
		for (unsigned j = i + 1; b->member[i] && j < info->n; j++)
			if (b->member[j] && !strcmp(info->m[i].mid, info->m[j].mid))
				w = "a mid on two m= lines";
	/* the anchor picks a member by the RTP payload type and RTCP by its sender SSRC:
	 * each must name one member (a browser's offer keeps them apart, RFC 8843 9.1);
	 * unless every member has the MID header extension, with one id and a MID that fits it
	 * (16 bytes): the anchor then picks RTP by the MID that the browser puts on a stream's
	 * first packets, and the stream's later ones by their SSRC */
	bool by_mid = true;
	uint8_t ext = 0;
	for (unsigned i = 0; i < info->n; i++) {
		if (!b->member[i])
			continue;
		ext = ext ? ext : info->m[i].mid_ext;
		by_mid = by_mid && info->m[i].mid_ext && info->m[i].mid_ext == ext &&
			 strlen(info->m[i].mid) <= 16;
	}
	for (unsigned i = 0; i < info->n && !w; i++)
		for (unsigned j = i + 1; b->member[i] && j < info->n && !w; j++) {
			const struct sp_sdp_media *x = &info->m[i], *y = &info->m[j];
			if (!b->member[j])
				continue;
			for (unsigned p = 0; p < x->n_codecs && !w && !by_mid; p++)
				for (unsigned q = 0; q < y->n_codecs; q++)
					if (x->codecs[p].pt == y->codecs[q].pt)
						w = "a payload type on two m= lines";
			for (unsigned p = 0; p < x->n_ssrc && !w; p++)
				for (unsigned q = 0; q < y->n_ssrc; q++)
					if (x->ssrc[p] == y->ssrc[q])
						w = "an a=ssrc on two m= lines";
		}
	for (unsigned i = 0; i < info->n && !w; i++)
		if (b->member[i] && info->m[i].ssrc_more)
			w = "more a=ssrc ids on an m= line than the anchor keeps";
	if (w)
		goto none;
	b->tag = SP_SDP_MAX_MEDIA;
	if (info->bundle_tag >= 0 && b->member[info->bundle_tag])
		b->tag = (unsigned)info->bundle_tag;
	for (unsigned i = 0; i < info->n && b->tag == SP_SDP_MAX_MEDIA; i++)
		if (b->member[i])
			b->tag = i;
	if (why)
		*why = NULL;
	return b->n;
none:
	memset(b, 0, sizeof(*b));
	if (why)
		*why = w;
	return 0;
}

bool sp_sdp_codec_common(const struct sp_sdp_media *offer, const struct sp_sdp_media *answer)
{
	for (unsigned i = 0; i < answer->n_codecs; i++)
		for (unsigned j = 0; j < offer->n_codecs; j++) {
			const struct sp_sdp_codec *a = &answer->codecs[i], *o = &offer->codecs[j];
			if (a->name[0] && o->name[0] ? !strcasecmp(a->name, o->name)
						     : a->pt == o->pt && a->pt < 96)
				return true;
		}
	return false;
}

int sp_policy_media(bool onnet, bool over_tls, const struct sp_sdp_media *m, bool *encrypted,
		    int *crypto_idx, const char **why)
{
	bool savp = !strcmp(m->proto, "RTP/SAVP") || !strcmp(m->proto, "RTP/SAVPF");
	*encrypted = false;
	*crypto_idx = -1;
	*why = NULL;
	if (m->port == 0)
		return 0; /* disabled stream: nothing to decide */
	if (onnet) {
		if (!over_tls) {
			*why = "on-net signalling not over TLS";
			return -EPROTONOSUPPORT;
		}
		if (!savp) {
			*why = "on-net media must be RTP/SAVP";
			return -EPROTONOSUPPORT;
		}
		if (!m->n_crypto) {
			*why = "on-net media offers no usable SDES crypto line";
			return -EPROTONOSUPPORT;
		}
		*encrypted = true;
		*crypto_idx = 0;
		return 0;
	}
	if (savp && m->n_crypto) {
		*encrypted = true;
		*crypto_idx = 0;
	}
	return 0;
}

static void set_str(char **field, const char *v)
{
	osip_free(*field);
	*field = osip_strdup(v);
}

/* ICE and DTLS lines (and SDES keys) of the source: never passed on, ours replace them. */
static bool drop_attr(const char *f)
{
	static const char *const drop[] = {"crypto",
					   "candidate",
					   "ice-ufrag",
					   "ice-pwd",
					   "ice-options",
					   "ice-lite",
					   "remote-candidates",
					   "end-of-candidates",
					   "fingerprint",
					   "setup",
					   "group",
					   NULL};
	for (int i = 0; drop[i]; i++)
		if (!strcmp(f, drop[i]))
			return true;
	return false;
}

/* AVPF and WebRTC-only lines a SIP device (RTP/SAVP, RTP/AVP) would not use. */
static bool webrtc_only_attr(const char *f)
{
	static const char *const drop[] = {"rtcp-fb",	 "extmap",     "extmap-allow-mixed",
					   "msid",	 "mid",	       "msid-semantic",
					   "rtcp-rsize", "ssrc-group", NULL};
	for (int i = 0; drop[i]; i++)
		if (!strcmp(f, drop[i]))
			return true;
	return false;
}

static int add_attr(osip_list_t *l, const char *f, const char *v)
{
	sdp_attribute_t *na = NULL;
	if (sdp_attribute_init(&na) < 0)
		return -ENOMEM;
	na->a_att_field = osip_strdup(f);
	na->a_att_value = v ? osip_strdup(v) : NULL;
	osip_list_add(l, na, -1);
	return 0;
}

static bool has_attr(const osip_list_t *l, const char *f)
{
	sdp_attribute_t *a;
	for (int j = 0; (a = osip_list_get(l, j)); j++)
		if (a->a_att_field && !strcmp(a->a_att_field, f))
			return true;
	return false;
}

/* Our ICE-lite and DTLS lines on one m= line toward a browser. */
static int dtls_attrs(sdp_media_t *m, const struct sp_sdp_rewrite *rw, unsigned i)
{
	const struct sp_sdp_dtls_out *d = &rw->d[i];
	char cand[160];
	int rc = 0;
	if (!d->ice_ufrag || !d->ice_pwd || !d->setup || !rw->fingerprint)
		return -EINVAL;
	if (d->mid) {
		sdp_attribute_t *a;
		for (int j = 0; (a = osip_list_get(&m->a_attributes, j));) {
			if (a->a_att_field && !strcmp(a->a_att_field, "mid")) {
				osip_list_remove(&m->a_attributes, j);
				sdp_attribute_free(a);
				continue;
			}
			j++;
		}
		rc = add_attr(&m->a_attributes, "mid", d->mid);
	}
	/* RFC 8445 5.1.2.1: type preference 126 (host), local preference 65535,
	 * component 1 (rtcp-mux); one foundation: one base */
	snprintf(cand, sizeof(cand), "1 1 udp %u %s %u typ host",
		 (126u << 24) | (65535u << 8) | 255u, rw->relay_addr, rw->relay_port[i]);
	if (rc == 0)
		rc = add_attr(&m->a_attributes, "ice-ufrag", d->ice_ufrag);
	if (rc == 0)
		rc = add_attr(&m->a_attributes, "ice-pwd", d->ice_pwd);
	if (rc == 0)
		rc = add_attr(&m->a_attributes, "fingerprint", rw->fingerprint);
	if (rc == 0)
		rc = add_attr(&m->a_attributes, "setup", d->setup);
	if (rc == 0 && !has_attr(&m->a_attributes, "rtcp-mux"))
		rc = add_attr(&m->a_attributes, "rtcp-mux", NULL);
	if (rc == 0)
		rc = add_attr(&m->a_attributes, "candidate", cand);
	if (rc == 0)
		rc = add_attr(&m->a_attributes, "end-of-candidates", NULL);
	return rc;
}

int sp_sdp_rewrite(const char *sdp, size_t len, const struct sp_sdp_rewrite *rw, struct sp_buf *out)
{
	sdp_message_t *s = NULL;
	char fam[4];
	if (addr_family(rw->relay_addr, fam) < 0)
		return -EINVAL;
	const char *at = !strcmp(fam, "ip4") ? "IP4" : "IP6";
	int rc = parse_sdp(sdp, len, &s);
	if (rc < 0)
		return rc;
	rc = -EINVAL;
	bool any_dtls = false, all_dtls = rw->n > 0, sess_ice = false;
	for (unsigned i = 0; i < rw->n && i < SP_SDP_MAX_MEDIA; i++) {
		any_dtls |= rw->dtls[i];
		all_dtls &= rw->dtls[i];
	}
	sdp_attribute_t *a;
	for (int j = 0; (a = osip_list_get(&s->a_attributes, j)); j++)
		if (a->a_att_field && !strcmp(a->a_att_field, "ice-ufrag"))
			sess_ice = true;
	if (s->o_addr) {
		set_str(&s->o_addr, rw->relay_addr);
		set_str(&s->o_addrtype, at);
	}
	if (s->c_connection && s->c_connection->c_addr &&
	    (strcmp(s->c_connection->c_addr, "0.0.0.0") || sess_ice)) {
		set_str(&s->c_connection->c_addr, rw->relay_addr);
		set_str(&s->c_connection->c_addrtype, at);
	}
	sdp_media_t *m;
	int i;
	/* a=group:BUNDLE of ours: the members' mids, in m= order */
	char group[8 + SP_SDP_MAX_MEDIA * 33] = "BUNDLE";
	unsigned n_bundle = 0;
	for (i = 0; (m = osip_list_get(&s->m_medias, i)); i++) {
		if ((unsigned)i >= rw->n)
			goto out;
		if (rw->bundle[i] && m->m_port && strcmp(m->m_port, "0")) {
			const char *mid = rw->d[i].mid;
			for (int j = 0; !mid && (a = osip_list_get(&m->a_attributes, j)); j++)
				if (a->a_att_field && !strcmp(a->a_att_field, "mid"))
					mid = a->a_att_value;
			if (!rw->dtls[i] || !mid || !mid[0] || strlen(mid) > 32 ||
			    strpbrk(mid, " \t\r\n"))
				goto out;
			size_t gl = strlen(group);
			snprintf(group + gl, sizeof(group) - gl, " %s", mid);
			n_bundle++;
		}
		bool ice = sess_ice || has_attr(&m->a_attributes, "ice-ufrag");
		bool dtls = rw->dtls[i];
		if (!m->m_port || !strcmp(m->m_port, "0")) {
			/* a rejected line: the source's keys and ICE password go all the same */
			if (m->m_proto && dtls != !strncmp(m->m_proto, "UDP/TLS/", 8))
				set_str(&m->m_proto, dtls ? "UDP/TLS/RTP/SAVPF" : "RTP/SAVP");
			for (int j = 0; (a = osip_list_get(&m->a_attributes, j));) {
				const char *f = a->a_att_field;
				if (f && (drop_attr(f) || (!dtls && webrtc_only_attr(f)))) {
					osip_list_remove(&m->a_attributes, j);
					sdp_attribute_free(a);
					continue;
				}
				j++;
			}
			continue;
		}
		char port[8], rtcp[80];
		snprintf(port, sizeof(port), "%u", rw->relay_port[i]);
		set_str(&m->m_port, port);
		set_str(&m->m_proto, dtls		? "UDP/TLS/RTP/SAVPF"
				     : rw->encrypted[i] ? "RTP/SAVP"
							: "RTP/AVP");
		sdp_connection_t *c;
		for (int j = 0; (c = osip_list_get(&m->c_connections, j)); j++)
			if (c->c_addr && (strcmp(c->c_addr, "0.0.0.0") || ice)) {
				set_str(&c->c_addr, rw->relay_addr);
				set_str(&c->c_addrtype, at);
			}
		for (int j = 0; (a = osip_list_get(&m->a_attributes, j));) {
			const char *f = a->a_att_field;
			/* a=rtcp toward a browser: it muxes, and rtcp-mux is written below */
			if (f && (drop_attr(f) || (!dtls && webrtc_only_attr(f)) ||
				  (dtls && !strcmp(f, "rtcp")))) {
				osip_list_remove(&m->a_attributes, j);
				sdp_attribute_free(a);
				continue;
			}
			if (f && !strcmp(f, "rtcp")) {
				snprintf(rtcp, sizeof(rtcp), "%u IN %s %s", rw->relay_port[i] + 1,
					 at, rw->relay_addr);
				set_str(&a->a_att_value, rtcp);
			}
			j++;
		}
		if (dtls) {
			if (dtls_attrs(m, rw, (unsigned)i) < 0)
				goto out;
		} else if (rw->encrypted[i]) {
			char val[160];
			if (pr_sdes_format(&rw->key[i], val, sizeof(val)) < 0)
				goto out;
			int arc = add_attr(&m->a_attributes, "crypto", val);
			memset(val, 0, sizeof(val));
			if (arc < 0)
				goto out;
		}
	}
	/* session-level ICE/DTLS attributes go too (ours are per m= line); toward a device,
	 * the WebRTC-only ones */
	for (int j = 0; (a = osip_list_get(&s->a_attributes, j));) {
		if (a->a_att_field && (drop_attr(a->a_att_field) ||
				       (!all_dtls && webrtc_only_attr(a->a_att_field)))) {
			osip_list_remove(&s->a_attributes, j);
			sdp_attribute_free(a);
			continue;
		}
		j++;
	}
	/* RFC 8843: the group first (it names the m= lines below) */
	if (n_bundle >= 2 && add_attr(&s->a_attributes, "group", group) < 0)
		goto out;
	/* RFC 8445 5.1.1: a lite agent says so at session level */
	if (any_dtls && add_attr(&s->a_attributes, "ice-lite", NULL) < 0)
		goto out;
	if ((unsigned)i != rw->n)
		goto out;
	char *str = NULL;
	if (sdp_message_to_str(s, &str) < 0 || !str) {
		rc = -ENOMEM;
		goto out;
	}
	sp_buf_add(out, str, strlen(str));
	memset(str, 0, strlen(str));
	osip_free(str);
	rc = out->oom ? -ENOMEM : 0;
out:
	sdp_message_free(s);
	return rc;
}
