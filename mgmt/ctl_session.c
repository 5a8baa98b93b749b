/* SPDX-License-Identifier: BSD-3-Clause */
/* poprelayctl session list [--json]
 * poprelayctl session show ID [--json]
 *
 * Live media sessions, from Redis: the slowpath's record pr:session:<id> (members of
 * pr:sessions, decoded by pr_ks_session_load) and the figures the dataplane writes into
 * the same hash every second (mgmt/ctl_session.h). Works while the dataplane is down (the
 * figures are then the last ones written). The SDES keys (X_key_rx, X_key_tx), the ICE
 * password (X_ice_pwd), the DTLS-exported keys (X_dtls_key_rx, X_dtls_key_tx) and the
 * dataplane's X_streams are never read (one HMGET of the other fields, session_read) and
 * so never printed, not even as "set". Per leg, show says how it is keyed, its ICE state (the
 * ufrags; nominated: the dataplane latched it) and its DTLS state (our role, the peer's
 * fingerprint, keyed and the negotiated suite from X_dtls_suite). Every read leaves an audit entry:
 * session.list (object "sessions") and session.read (object "session:<id>"). Exit: 0 ok, 1 no such
 * session or a record could not be read, 2 usage, 3 Redis down. */
#include "mgmt/ctl_session.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/redis.h"
#include "mgmt/ctl.h"

/* ---- figures ---- */
enum fig_type { FIG_U64, FIG_U32, FIG_I64, FIG_ADDR, FIG_SUITE };

#define FIG(n, t)                                                                                  \
	{                                                                                          \
		.name = #n, .type = (t), .off = offsetof(struct ctl_session_live, n)               \
	}
static const struct {
	const char *name;
	enum fig_type type;
	size_t off;
} figs[CTL_SESSION_NFIGS] = {
    FIG(rx_packets, FIG_U64), FIG(rx_bytes, FIG_U64), FIG(tx_packets, FIG_U64),
    FIG(tx_bytes, FIG_U64),   FIG(lost, FIG_U64),     FIG(jitter_us, FIG_U32),
    FIG(auth_fail, FIG_U64),  FIG(relatch, FIG_U64),  FIG(kbps, FIG_U64),
    FIG(latched, FIG_ADDR),   FIG(last_rx, FIG_I64),  FIG(dtls_suite, FIG_SUITE),
};
#undef FIG

static int parse_dec(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int ctl_session_fig_set(struct ctl_session_live *lv, const char *name, const char *value)
{
	size_t i;
	uint64_t v;
	char *p;

	for (i = 0; i < CTL_SESSION_NFIGS; i++)
		if (strcmp(figs[i].name, name) == 0)
			break;
	if (i == CTL_SESSION_NFIGS)
		return -ENOENT;
	p = (char *)lv + figs[i].off;
	switch (figs[i].type) {
	case FIG_U64:
		if (parse_dec(value, UINT64_MAX, &v) < 0)
			return -EINVAL;
		*(uint64_t *)p = v;
		break;
	case FIG_U32:
		if (parse_dec(value, UINT32_MAX, &v) < 0)
			return -EINVAL;
		*(uint32_t *)p = (uint32_t)v;
		break;
	case FIG_I64:
		if (parse_dec(value, INT64_MAX, &v) < 0)
			return -EINVAL;
		*(int64_t *)p = (int64_t)v;
		break;
	case FIG_ADDR:
		if (!value || strlen(value) >= sizeof(lv->latched))
			return -EINVAL;
		/* "-" (not latched), "ip:port" or "[ip6]:port": nothing else reaches a tty */
		if (strcmp(value, "-") != 0 &&
		    (!value[0] || strspn(value, "0123456789abcdefABCDEF.:[]") != strlen(value)))
			return -EINVAL;
		snprintf(lv->latched, sizeof(lv->latched), "%s", strcmp(value, "-") ? value : "");
		break;
	case FIG_SUITE:
		/* a profile name (AES_CM_128_HMAC_SHA1_80, AEAD_AES_128_GCM): A-Z 0-9 _ only */
		if (!value || !value[0] || strlen(value) >= sizeof(lv->dtls_suite) ||
		    strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != strlen(value))
			return -EINVAL;
		snprintf(lv->dtls_suite, sizeof(lv->dtls_suite), "%s", value);
		break;
	}
	lv->present = true;
	return 0;
}

/* ---- text ---- */
void ctl_session_text(const char *s, size_t max, char *buf, size_t len)
{
	size_t n = strlen(s), i;

	if (len == 0)
		return;
	if (!n) {
		snprintf(buf, len, "-");
		return;
	}
	if (max >= len)
		max = len - 1;
	if (n > max) {
		/* keep max - 3 bytes, backing off to the start of a UTF-8 character */
		n = max > 3 ? max - 3 : 0;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
		memcpy(buf, s, n);
		snprintf(buf + n, len - n, "%.*s", (int)(max - n < 3 ? max - n : 3), "...");
	} else {
		memcpy(buf, s, n);
		buf[n] = 0;
	}
	for (i = 0; buf[i]; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = '?';
}

void ctl_session_addr(const char *addr, unsigned port, char *buf, size_t len)
{
	if (!addr[0])
		snprintf(buf, len, "-");
	else if (strchr(addr, ':'))
		snprintf(buf, len, "[%s]:%u", addr, port);
	else
		snprintf(buf, len, "%s:%u", addr, port);
}

const char *ctl_session_crypto(const struct pr_ks_leg *l)
{
	if (!l->encrypted)
		return "clear";
	return l->suite[0] ? l->suite : "srtp";
}

const char *ctl_session_keying(const struct pr_ks_leg *l)
{
	if (!strcmp(l->keying, "dtls"))
		return "dtls";
	if (!strcmp(l->keying, "sdes") || l->encrypted)
		return "sdes";
	return "clear";
}

bool ctl_session_ice_nominated(const struct pr_ks_leg *l, const struct ctl_session_live *lv)
{
	return l->ice_ufrag[0] && lv->present && lv->latched[0];
}

/* ---- list ---- */
const char *const ctl_session_list_header[CTL_SESSION_COLS] = {
    "ID",	 "MEDIA",	 "CALL-ID",	 "A PARTY", "A RELAY",
    "A LATCHED", "A ENCRYPTION", "A RX/TX",	 "A KBPS",  "B PARTY",
    "B RELAY",	 "B LATCHED",	 "B ENCRYPTION", "B RX/TX", "B KBPS",
};

void ctl_session_row(const struct pr_ks_session *s, const struct ctl_session_live lv[2],
		     struct ctl_session_row *row)
{
	const size_t w = sizeof(row->cell[0]);
	int l;

	ctl_session_text(s->id, w - 1, row->cell[0], w);
	ctl_session_text(s->media, w - 1, row->cell[1], w);
	ctl_session_text(s->call_id, CTL_SESSION_CALLID_SHOWN, row->cell[2], w);
	for (l = 0; l < 2; l++) {
		const struct pr_ks_leg *g = &s->leg[l];
		char(*c)[80] = &row->cell[3 + 6 * l];

		ctl_session_text(g->party, CTL_SESSION_PARTY_SHOWN, c[0], w);
		ctl_session_addr(g->relay_addr, g->relay_port, c[1], w);
		snprintf(c[2], w, "%s", lv[l].present && lv[l].latched[0] ? lv[l].latched : "-");
		snprintf(c[3], w, "%s", ctl_session_crypto(g));
		if (lv[l].present) {
			snprintf(c[4], w, "%" PRIu64 "/%" PRIu64, lv[l].rx_packets,
				 lv[l].tx_packets);
			snprintf(c[5], w, "%" PRIu64, lv[l].kbps);
		} else {
			snprintf(c[4], w, "-");
			snprintf(c[5], w, "-");
		}
	}
}

int ctl_session_cmp(const void *a, const void *b)
{
	const struct pr_ks_session *x = a, *y = b;

	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* ---- JSON ---- */
static void copy_field(json_t *to, json_t *from, const char *name)
{
	json_t *v = json_object_get(from, name);

	if (v)
		json_object_set(to, name, v);
}

static void json_figs(json_t *o, const char *prefix, const struct ctl_session_live *lv)
{
	char name[PR_KS_FIELD_NAME_MAX];
	size_t i;

	for (i = 0; i < CTL_SESSION_NFIGS; i++) {
		const char *p = (const char *)lv + figs[i].off;
		json_t *v;

		snprintf(name, sizeof(name), "%s%s", prefix, figs[i].name);
		if (!lv->present) {
			json_object_set_new(o, name, json_null());
			continue;
		}
		switch (figs[i].type) {
		case FIG_U64:
			v = json_integer((json_int_t) * (const uint64_t *)p);
			break;
		case FIG_U32:
			v = json_integer(*(const uint32_t *)p);
			break;
		case FIG_I64:
			v = json_integer(*(const int64_t *)p);
			break;
		default:
			v = p[0] ? json_string(p) : json_null();
			break;
		}
		json_object_set_new(o, name, v);
	}
}

/* The leg's ICE and DTLS state, derived from its fields and figures. */
static void json_state(json_t *o, const char *prefix, const struct pr_ks_leg *g,
		       const struct ctl_session_live *lv)
{
	char name[PR_KS_FIELD_NAME_MAX];

	snprintf(name, sizeof(name), "%sice_nominated", prefix);
	json_object_set_new(o, name,
			    g->ice_ufrag[0] ? json_boolean(ctl_session_ice_nominated(g, lv))
					    : json_null());
	snprintf(name, sizeof(name), "%sdtls_keyed", prefix);
	json_object_set_new(o, name,
			    strcmp(g->keying, "dtls") ? json_null()
						      : json_boolean(lv->dtls_suite[0] != 0));
}

json_t *ctl_session_json(const struct pr_ks_session *s, const struct ctl_session_live lv[2])
{
	const struct pr_ks_desc *d = &pr_ks_session_desc;
	json_t *all = ctl_record_json(d, s), *o = json_object();
	char name[PR_KS_FIELD_NAME_MAX];
	size_t i, j;

	if (!all || !o) {
		json_decref(all);
		json_decref(o);
		return NULL;
	}
	/* In the descriptor's order, every field but the secret ones (ctl_record_json shows
	 * them as "set": here they are left out altogether); each leg's figures after it. */
	for (i = 0; i < d->nfields; i++) {
		const struct pr_ks_field *f = &d->fields[i];

		if (f->flags & PR_KS_F_SECRET)
			continue;
		if (f->type != PR_KS_T_NEST) {
			copy_field(o, all, f->name);
			continue;
		}
		for (j = 0; j < f->sub->nfields; j++) {
			const struct pr_ks_field *sf = &f->sub->fields[j];

			if (sf->flags & PR_KS_F_SECRET || sf->type == PR_KS_T_NEST)
				continue;
			snprintf(name, sizeof(name), "%s%s", f->name, sf->name);
			copy_field(o, all, name);
		}
		size_t l = (f->off - offsetof(struct pr_ks_session, leg)) / sizeof(s->leg[0]);
		json_figs(o, f->name, &lv[l]);
		json_state(o, f->name, &s->leg[l], &lv[l]);
	}
	json_decref(all);
	return o;
}

/* ---- show ---- */
static void line(FILE *out, const char *indent, const char *name, const char *value)
{
	fprintf(out, "%s%-*s %s\n", indent, 22 - (int)strlen(indent), name,
		value && value[0] ? value : "-");
}

static const char *yesno(bool b)
{
	return b ? "yes" : "no";
}

/* A string field of the leg by name, "" when the codec has no such field. */
static const char *leg_str(const struct pr_ks_leg *g, const char *name)
{
	const struct pr_ks_field *f = pr_ks_field_find(&pr_ks_leg_desc, name, NULL);

	return f && f->type == PR_KS_T_STR ? (const char *)g + f->off : "";
}

/* BUNDLE (RFC 8843): "no", or the group and the leg's mid from X_bundle and X_mid, read
 * through the codec's descriptor so that the view follows the record's fields. */
static void bundle_text(const struct pr_ks_leg *g, char *v, size_t len)
{
	char grp[80], mid[40];

	if (!leg_str(g, "bundle")[0]) {
		snprintf(v, len, "no");
		return;
	}
	ctl_session_text(leg_str(g, "bundle"), sizeof(grp) - 1, grp, sizeof(grp));
	ctl_session_text(leg_str(g, "mid"), sizeof(mid) - 1, mid, sizeof(mid));
	snprintf(v, len, "yes (group %s, mid %s)", grp, mid);
}

/* Keying, ICE and DTLS state of a leg: names, roles and fingerprints, never ice-pwd nor a
 * key (session_read never reads them; the unit test sets them to check this prints none). */
static void print_keying(const struct pr_ks_leg *g, const struct ctl_session_live *lv, FILE *out)
{
	static const char in[] = "  ";
	char v[PR_KS_ICE_MAX + 64], t[PR_KS_ICE_MAX];
	const char *k = ctl_session_keying(g);

	line(out, in, "keying",
	     !strcmp(k, "dtls")	  ? "dtls (DTLS-SRTP handshake on the leg)"
	     : !strcmp(k, "sdes") ? "sdes (keys from the SDP's a=crypto)"
				  : "clear");
	if (g->ice_ufrag[0]) {
		ctl_session_text(g->ice_ufrag, sizeof(t) - 1, t, sizeof(t));
		line(out, in, "ice ufrag (ours)", t);
		ctl_session_text(g->ice_remote_ufrag, sizeof(t) - 1, t, sizeof(t));
		line(out, in, "ice ufrag (peer)", g->ice_remote_ufrag[0] ? t : "not known yet");
		if (ctl_session_ice_nominated(g, lv))
			snprintf(v, sizeof(v), "nominated (latched to %s)", lv->latched);
		else
			snprintf(v, sizeof(v), "%s", lv->present ? "not nominated yet" : "unknown");
		line(out, in, "ice", v);
		bundle_text(g, v, sizeof(v));
		line(out, in, "bundle", v);
	} else {
		line(out, in, "ice", "no (not an ICE leg)");
	}
	if (strcmp(k, "dtls"))
		return;
	ctl_session_text(g->dtls_setup, sizeof(t) - 1, t, sizeof(t));
	snprintf(v, sizeof(v), "%s (%s)", t,
		 !strcmp(g->dtls_setup, "active")    ? "we send the ClientHello"
		 : !strcmp(g->dtls_setup, "passive") ? "the peer sends the ClientHello"
						     : "?");
	line(out, in, "dtls role (ours)", v);
	ctl_session_text(g->dtls_fingerprint, sizeof(t) - 1, t, sizeof(t));
	line(out, in, "dtls peer fingerprint", t);
	if (g->dtls_local_fingerprint[0]) {
		/* ours as its SDP carried it (a rotation keeps that one for the leg) */
		ctl_session_text(g->dtls_local_fingerprint, sizeof(t) - 1, t, sizeof(t));
		line(out, in, "dtls our fingerprint", t);
	}
	if (lv->dtls_suite[0])
		snprintf(v, sizeof(v), "keyed (%s)", lv->dtls_suite);
	else
		snprintf(v, sizeof(v), "not keyed yet (handshake pending)");
	line(out, in, "dtls", v);
}

static void print_leg(const struct pr_ks_leg *g, const struct ctl_session_live *lv, int64_t now,
		      FILE *out)
{
	static const char in[] = "  ";
	char v[PR_KS_URI_MAX + 64];

	ctl_session_text(g->party, sizeof(v) - 1, v, sizeof(v));
	line(out, in, "party", v);
	line(out, in, "onnet", yesno(g->onnet));
	ctl_session_text(g->family, sizeof(v) - 1, v, sizeof(v));
	line(out, in, "family", v);
	ctl_session_addr(g->peer_addr, g->peer_port, v, sizeof(v));
	line(out, in, "peer (SDP)", v);
	ctl_session_addr(g->relay_addr, g->relay_port, v, sizeof(v));
	line(out, in, "relay", v);
	line(out, in, "rtcp_mux", g->rtcp_mux ? "yes" : "no (RTCP on the ports + 1)");
	line(out, in, "latch", yesno(g->latch));
	ctl_session_text(g->profile, sizeof(v) - 1, v, sizeof(v));
	line(out, in, "profile", v);
	ctl_session_text(g->suite, sizeof(v) - 1, v, sizeof(v));
	line(out, in, "suite", v);
	line(out, in, "encrypted", g->encrypted ? "yes (SRTP)" : "no (clear RTP)");
	snprintf(v, sizeof(v), "%" PRIu32, g->max_kbps);
	line(out, in, "max_kbps", g->max_kbps ? v : "unlimited");
	print_keying(g, lv, out);
	if (!lv->present) {
		line(out, in, "figures", "none yet (not reported by the dataplane)");
		return;
	}
	line(out, in, "latched", lv->latched[0] ? lv->latched : (g->latch ? "not yet" : "-"));
	snprintf(v, sizeof(v), "%" PRIu64 " packets, %" PRIu64 " bytes", lv->rx_packets,
		 lv->rx_bytes);
	line(out, in, "rx (from device)", v);
	snprintf(v, sizeof(v), "%" PRIu64 " packets, %" PRIu64 " bytes", lv->tx_packets,
		 lv->tx_bytes);
	line(out, in, "tx (to device)", v);
	snprintf(v, sizeof(v), "%" PRIu64, lv->lost);
	line(out, in, "lost", v);
	snprintf(v, sizeof(v), "%" PRIu32 " us (%.1f ms)", lv->jitter_us, lv->jitter_us / 1000.0);
	line(out, in, "jitter", v);
	snprintf(v, sizeof(v), "%" PRIu64, lv->auth_fail);
	line(out, in, "auth_fail", v);
	snprintf(v, sizeof(v), "%" PRIu64, lv->relatch);
	line(out, in, "relatch", v);
	snprintf(v, sizeof(v), "%" PRIu64, lv->kbps);
	line(out, in, "kbps", v);
	if (lv->last_rx == 0) {
		snprintf(v, sizeof(v), "never");
	} else {
		char t[32];
		ctl_format_time(lv->last_rx, t, sizeof(t));
		if (now >= lv->last_rx)
			snprintf(v, sizeof(v), "%s (%" PRId64 " s ago)", t, now - lv->last_rx);
		else
			snprintf(v, sizeof(v), "%s", t);
	}
	line(out, in, "last_rx", v);
}

void ctl_session_print(const struct pr_ks_session *s, const struct ctl_session_live lv[2],
		       int64_t now, FILE *out)
{
	const struct pr_ks_desc *d = &pr_ks_session_desc;
	char v[PR_KS_VALUE_MAX];
	size_t i;
	int l;

	/* the record's own fields, generically (an additive field shows up by itself) */
	for (i = 0; i < d->nfields; i++) {
		const struct pr_ks_field *f = &d->fields[i];
		const char *p = (const char *)s + f->off;

		if (f->type == PR_KS_T_NEST || (f->flags & PR_KS_F_SECRET))
			continue;
		if (f->type == PR_KS_T_I64)
			ctl_format_time(*(const int64_t *)p, v, sizeof(v));
		else if (f->type == PR_KS_T_BOOL)
			snprintf(v, sizeof(v), "%s", yesno(*(const bool *)p));
		else if (f->type == PR_KS_T_STR)
			ctl_session_text(p, sizeof(v) - 1, v, sizeof(v));
		else if (pr_ks_field_format(f, s, v, sizeof(v)) < 0)
			snprintf(v, sizeof(v), "?");
		line(out, "", f->name, v);
	}
	for (l = 0; l < 2; l++) {
		fprintf(out, "leg %c (%s side)\n", 'a' + l, l == PR_KS_LEG_A ? "caller" : "callee");
		print_leg(&s->leg[l], &lv[l], now, out);
	}
}

/* ---- Redis ---- */
size_t ctl_session_fields(char names[][PR_KS_FIELD_NAME_MAX], size_t max)
{
	const struct pr_ks_desc *d = &pr_ks_session_desc;
	size_t n = 0, i, j;
	int l;

#define ADD(...)                                                                                   \
	do {                                                                                       \
		if (n == max)                                                                      \
			return 0;                                                                  \
		snprintf(names[n++], PR_KS_FIELD_NAME_MAX, __VA_ARGS__);                           \
	} while (0)
	if (d->versioned)
		ADD("v");
	for (i = 0; i < d->nfields; i++) {
		const struct pr_ks_field *f = &d->fields[i];

		if (f->flags & PR_KS_F_SECRET)
			continue;
		if (f->type != PR_KS_T_NEST) {
			ADD("%s", f->name);
			continue;
		}
		for (j = 0; j < f->sub->nfields; j++)
			if (!(f->sub->fields[j].flags & PR_KS_F_SECRET) &&
			    f->sub->fields[j].type != PR_KS_T_NEST)
				ADD("%s%s", f->name, f->sub->fields[j].name);
	}
	for (l = 0; l < 2; l++)
		for (i = 0; i < CTL_SESSION_NFIGS; i++)
			ADD("%c_%s", 'a' + l, figs[i].name);
#undef ADD
	return n;
}

/* The record and both legs' figures in one HMGET of exactly ctl_session_fields(): the
 * secret fields (SDES keys, ice-pwd, the DTLS-exported keys) and X_streams never leave
 * Redis, so there is nothing to wipe or to leak. 0, -ENOENT (no such hash: nothing
 * printed), or a negative errno with the reason printed, ending with suffix. */
static int session_read(struct ctl_ctx *ctx, struct pr_redis *r, const char *id,
			struct pr_ks_session *s, struct ctl_session_live lv[2], const char *suffix)
{
	static char names[PR_KS_MAX_FIELDS + 2 * CTL_SESSION_NFIGS + 1][PR_KS_FIELD_NAME_MAX];
	const char *argv[2 + sizeof(names) / sizeof(names[0])];
	char key[PR_KS_NAME_MAX + sizeof(PR_KS_SESSION_PREFIX)];
	size_t n = ctl_session_fields(names, sizeof(names) / sizeof(names[0])), nrec, i;
	struct pr_ks_hash *h = NULL;
	redisReply *rep;
	int rc = 0;

	memset(s, 0, sizeof(*s));
	memset(lv, 0, 2 * sizeof(*lv));
	if (n == 0) {
		ctl_err(ctx, "session %s: too many fields to read", id);
		return -EINVAL;
	}
	nrec = n - 2 * CTL_SESSION_NFIGS;
	snprintf(key, sizeof(key), "%s%s", PR_KS_SESSION_PREFIX, id);
	argv[0] = "HMGET";
	argv[1] = key;
	for (i = 0; i < n; i++)
		argv[2 + i] = names[i];
	rep = pr_redis_cmdargv(r, (int)(2 + n), argv, NULL);
	if (!rep) {
		ctl_err(ctx, "session %s: %s%s", id, pr_redis_errmsg(r), suffix);
		return -EIO;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		ctl_err(ctx, "session %s: %s%s", id, rep->str, suffix);
		rc = pr_redis_reply_errno(rep->str);
		goto out;
	}
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != n) {
		ctl_err(ctx, "session %s: unexpected reply to HMGET%s", id, suffix);
		rc = -EBADMSG;
		goto out;
	}
	h = pr_ks_hash_get();
	if (!h) {
		ctl_err(ctx, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < nrec; i++) {
		const redisReply *e = rep->element[i];
		struct pr_ks_kv *kv;

		if (e->type != REDIS_REPLY_STRING)
			continue;
		kv = &h->kv[h->n++];
		memcpy(kv->name, names[i], sizeof(kv->name)); /* both PR_KS_FIELD_NAME_MAX */
		if (e->len >= sizeof(kv->value)) {
			kv->value[0] = 0;
			kv->len = sizeof(kv->value); /* flagged: decode refuses it, naming it */
		} else {
			memcpy(kv->value, e->str, e->len);
			kv->value[e->len] = 0;
			kv->len = e->len;
		}
	}
	if (h->n == 0) {
		rc = -ENOENT; /* every field nil: no such hash (ended, or never was) */
		goto out;
	}
	rc = pr_ks_decode(&pr_ks_session_desc, h, s);
	if (rc < 0) {
		ctl_err(ctx, "%s: %s%s", key, pr_ks_errmsg(), suffix);
		goto out;
	}
	for (i = nrec; i < n; i++) {
		const redisReply *e = rep->element[i];
		int l = (int)((i - nrec) / CTL_SESSION_NFIGS);

		if (e->type != REDIS_REPLY_STRING)
			continue; /* not written (yet) */
		if (ctl_session_fig_set(&lv[l], figs[(i - nrec) % CTL_SESSION_NFIGS].name, e->str) <
		    0)
			ctl_err(ctx, "warning: session %s: malformed %s ignored", id, names[i]);
	}
out:
	if (h)
		pr_ks_hash_put(h);
	freeReplyObject(rep);
	return rc;
}

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s session list [--json]\n"
		"       %s session show ID [--json]\n"
		"Live media sessions (pr:session:<id>, written by the slowpath) with the figures\n"
		"the dataplane adds every second. list: one line per session, oldest first;\n"
		"show: every field of both legs and their figures, each leg's keying (sdes,\n"
		"dtls), ICE (ufrags, nominated) and DTLS state (role, the peer's fingerprint,\n"
		"keyed and the suite). Keys and ice-pwd are never shown.\n"
		"Every read is recorded in the audit trail.\n",
		prog, prog);
}

struct list_entry {
	struct pr_ks_session s;
	struct ctl_session_live lv[2];
};

static int list_entry_cmp(const void *a, const void *b)
{
	return ctl_session_cmp(&((const struct list_entry *)a)->s,
			       &((const struct list_entry *)b)->s);
}

static int do_list(struct ctl_ctx *ctx, struct pr_redis *r)
{
	struct list_entry *e = NULL;
	struct pr_ks_names ids;
	size_t i, n = 0;
	char detail[64];
	int rc, ret = CTL_EXIT_OK;

	rc = pr_ks_session_list(r, &ids);
	if (rc < 0) {
		ctl_audit(ctx, "session.list", "sessions", "", rc);
		ctl_err(ctx, "cannot list sessions: %s", pr_ks_errmsg());
		return ctl_exit_for(rc);
	}
	if (ids.n) {
		e = calloc(ids.n, sizeof(*e));
		if (!e) {
			ctl_err(ctx, "out of memory");
			pr_ks_names_free(&ids);
			return CTL_EXIT_ERR;
		}
	}
	for (i = 0; i < ids.n; i++) {
		rc = session_read(ctx, r, ids.v[i], &e[n].s, e[n].lv, " (not listed)");
		if (rc == -ENOENT)
			continue; /* ended between the set read and now */
		if (rc < 0) {
			ret = ctl_exit_for(rc);
			if (rc == -EIO)
				break;
			continue;
		}
		n++;
	}
	/* oldest first */
	if (n > 1)
		qsort(e, n, sizeof(*e), list_entry_cmp);
	pr_ks_names_free(&ids);
	snprintf(detail, sizeof(detail), "count=%zu", n);
	ctl_audit(ctx, "session.list", "sessions", detail, ret == CTL_EXIT_DOWN ? -EIO : 0);
	if (ret == CTL_EXIT_DOWN) {
		free(e);
		return ret;
	}
	if (ctx->json) {
		json_t *arr = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(arr, ctl_session_json(&e[i].s, e[i].lv));
		ctl_json_print(arr);
	} else if (n == 0) {
		printf("no live media sessions\n");
	} else {
		struct ctl_table *t = ctl_table_new(CTL_SESSION_COLS, ctl_session_list_header);
		struct ctl_session_row row;
		const char *cells[CTL_SESSION_COLS];
		size_t c;

		for (i = 0; t && i < n; i++) {
			ctl_session_row(&e[i].s, e[i].lv, &row);
			for (c = 0; c < CTL_SESSION_COLS; c++)
				cells[c] = row.cell[c];
			ctl_table_add(t, cells);
		}
		if (t)
			ctl_table_print(t, stdout);
		ctl_table_free(t);
	}
	free(e);
	return ret;
}

static int do_show(struct ctl_ctx *ctx, struct pr_redis *r, const char *id)
{
	struct pr_ks_session s;
	struct ctl_session_live lv[2];
	char object[PR_KS_NAME_MAX + 16];
	int rc;

	snprintf(object, sizeof(object), "session:%s", id);
	rc = session_read(ctx, r, id, &s, lv, "");
	ctl_audit(ctx, "session.read", object, "", rc);
	if (rc < 0) {
		if (rc == -ENOENT)
			ctl_err(ctx,
				"no such session '%s' (ended, or never was; see '%s session "
				"list')",
				id, ctx->prog);
		return ctl_exit_for(rc);
	}
	if (ctx->json)
		return ctl_json_print(ctl_session_json(&s, lv));
	ctl_session_print(&s, lv, (int64_t)time(NULL), stdout);
	return CTL_EXIT_OK;
}

int ctl_session_main(struct ctl_ctx *ctx, int argc, char **argv)
{
	const char *verb = NULL, *id = NULL;
	int i, nargs = 0, ec;
	struct pr_redis *r;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--json")) {
			ctx->json = true;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h") ||
			   (i == 1 && !strcmp(a, "help"))) {
			usage(stdout, ctx->prog);
			return CTL_EXIT_OK;
		} else if (a[0] == '-' && a[1]) {
			ctl_err(ctx, "session: unknown option '%s'", a);
			usage(stderr, ctx->prog);
			return CTL_EXIT_USAGE;
		} else if (!verb) {
			verb = a;
		} else {
			id = a;
			nargs++;
		}
	}
	if (!verb || (strcmp(verb, "list") && strcmp(verb, "show"))) {
		if (verb)
			ctl_err(ctx, "session: unknown action '%s'", verb);
		usage(stderr, ctx->prog);
		return CTL_EXIT_USAGE;
	}
	if (!strcmp(verb, "list") && nargs) {
		ctl_err(ctx, "session list: unexpected argument '%s'", id);
		return CTL_EXIT_USAGE;
	}
	if (!strcmp(verb, "show")) {
		if (nargs != 1) {
			ctl_err(ctx, "session show: %s", nargs ? "one ID only" : "missing the ID");
			return CTL_EXIT_USAGE;
		}
		if (!pr_ks_user_name_valid(id)) {
			ctl_err(ctx,
				"'%s' is not a session id (1-63 of A-Z a-z 0-9 . _ -, as "
				"'session list' shows them)",
				id);
			return CTL_EXIT_USAGE;
		}
	}
	r = ctl_redis(ctx, &ec);
	if (!r)
		return ec;
	return id ? do_show(ctx, r, id) : do_list(ctx, r);
}
