/* SPDX-License-Identifier: BSD-3-Clause */
#include "slowpath/sp_sdp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	for (int j = 0; (a = osip_list_get(&s->a_attributes, j)); j++)
		if (a->a_att_field &&
		    (!strcmp(a->a_att_field, "sendonly") || !strcmp(a->a_att_field, "inactive")))
			sess_hold = true;
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
		o->hold = sess_hold || (addr && !strcmp(addr, "0.0.0.0"));
		for (int j = 0; (a = osip_list_get(&m->a_attributes, j)); j++) {
			if (!a->a_att_field)
				continue;
			if (!strcmp(a->a_att_field, "rtcp-mux"))
				o->rtcp_mux = true;
			else if (!strcmp(a->a_att_field, "sendonly") ||
				 !strcmp(a->a_att_field, "inactive"))
				o->hold = true;
			else if (!strcmp(a->a_att_field, "crypto")) {
				if (a->a_att_value && o->n_crypto < SP_SDP_MAX_CRYPTO &&
				    pr_sdes_parse(a->a_att_value, &o->crypto[o->n_crypto]) == 0)
					o->n_crypto++;
				else
					o->n_crypto_bad++;
			}
		}
	}
	if (i == 0)
		goto out;
	out->n = (unsigned)i;
	rc = 0;
out:
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
	memset(info, 0, sizeof(*info));
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

static bool drop_attr(const char *f)
{
	static const char *const drop[] = {
	    "crypto",	"candidate",	     "ice-ufrag",	  "ice-pwd",	 "ice-options",
	    "ice-lite", "remote-candidates", "end-of-candidates", "fingerprint", "setup",
	    NULL};
	for (int i = 0; drop[i]; i++)
		if (!strcmp(f, drop[i]))
			return true;
	return false;
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
	if (s->o_addr) {
		set_str(&s->o_addr, rw->relay_addr);
		set_str(&s->o_addrtype, at);
	}
	if (s->c_connection && s->c_connection->c_addr &&
	    strcmp(s->c_connection->c_addr, "0.0.0.0")) {
		set_str(&s->c_connection->c_addr, rw->relay_addr);
		set_str(&s->c_connection->c_addrtype, at);
	}
	sdp_media_t *m;
	int i;
	for (i = 0; (m = osip_list_get(&s->m_medias, i)); i++) {
		if ((unsigned)i >= rw->n)
			goto out;
		if (!m->m_port || !strcmp(m->m_port, "0"))
			continue;
		char port[8], rtcp[80];
		snprintf(port, sizeof(port), "%u", rw->relay_port[i]);
		set_str(&m->m_port, port);
		set_str(&m->m_proto, rw->encrypted[i] ? "RTP/SAVP" : "RTP/AVP");
		sdp_connection_t *c;
		for (int j = 0; (c = osip_list_get(&m->c_connections, j)); j++)
			if (c->c_addr && strcmp(c->c_addr, "0.0.0.0")) {
				set_str(&c->c_addr, rw->relay_addr);
				set_str(&c->c_addrtype, at);
			}
		sdp_attribute_t *a;
		for (int j = 0; (a = osip_list_get(&m->a_attributes, j));) {
			if (a->a_att_field && drop_attr(a->a_att_field)) {
				osip_list_remove(&m->a_attributes, j);
				sdp_attribute_free(a);
				continue;
			}
			if (a->a_att_field && !strcmp(a->a_att_field, "rtcp")) {
				snprintf(rtcp, sizeof(rtcp), "%u IN %s %s", rw->relay_port[i] + 1,
					 at, rw->relay_addr);
				set_str(&a->a_att_value, rtcp);
			}
			j++;
		}
		if (rw->encrypted[i]) {
			char val[160];
			if (pr_sdes_format(&rw->key[i], val, sizeof(val)) < 0)
				goto out;
			sdp_attribute_t *na = NULL;
			if (sdp_attribute_init(&na) < 0)
				goto out;
			na->a_att_field = osip_strdup("crypto");
			na->a_att_value = osip_strdup(val);
			memset(val, 0, sizeof(val));
			osip_list_add(&m->a_attributes, na, -1);
		}
	}
	/* session-level ICE/DTLS attributes go too */
	sdp_attribute_t *a;
	for (int j = 0; (a = osip_list_get(&s->a_attributes, j));) {
		if (a->a_att_field && drop_attr(a->a_att_field)) {
			osip_list_remove(&s->a_attributes, j);
			sdp_attribute_free(a);
			continue;
		}
		j++;
	}
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
