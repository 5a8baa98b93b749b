/* SPDX-License-Identifier: BSD-3-Clause */
/* Registrar (RFC 3261 10, RFC 5626 outbound): REGISTER over TLS only, digest authentication
 * against the HA1s poprelayctl stores (RFC 8760: SHA-256 and MD5, qop=auth, expiring
 * nonces answered stale=true, replayed nonce-counts refused), one binding per user kept in
 * Redis (pr:reg:<user>) with the TLS flow it arrived on. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <osipparser2/osip_message.h>

#include "common/log.h"
#include "slowpath/sp_server.h"

static void challenge(struct sp_server *s, struct sp_conn *c, osip_message_t *req, bool proxy,
		      bool stale)
{
	char nonce[SP_NONCE_LEN + 1], hdr[512];
	if (sp_nonce_make(&s->nonce, sp_now(), nonce) < 0 ||
	    sp_digest_challenge(hdr, sizeof(hdr), proxy ? "Proxy-Authenticate" : "WWW-Authenticate",
				s->cfg.realm, nonce, stale, s->cfg.digest_algs,
				s->cfg.n_digest_algs) < 0) {
		sp_respond(s, c, req, 500, NULL);
		return;
	}
	sp_respond(s, c, req, proxy ? 407 : 401, hdr);
}

static int auth_fields(osip_authorization_t *a, struct sp_auth *f)
{
	memset(f, 0, sizeof(*f));
	if (!a->auth_type || strcasecmp(a->auth_type, "Digest"))
		return -EINVAL;
	if (sp_unquote(f->username, sizeof(f->username), a->username) < 0 ||
	    sp_unquote(f->realm, sizeof(f->realm), a->realm) < 0 ||
	    sp_unquote(f->nonce, sizeof(f->nonce), a->nonce) < 0 ||
	    sp_unquote(f->uri, sizeof(f->uri), a->uri) < 0 ||
	    sp_unquote(f->response, sizeof(f->response), a->response) < 0 ||
	    sp_unquote(f->algorithm, sizeof(f->algorithm), a->algorithm) < 0 ||
	    sp_unquote(f->cnonce, sizeof(f->cnonce), a->cnonce) < 0 ||
	    sp_unquote(f->nc, sizeof(f->nc), a->nonce_count) < 0 ||
	    sp_unquote(f->qop, sizeof(f->qop), a->message_qop) < 0)
		return -EINVAL;
	if (!f->username[0] || !f->nonce[0] || !f->response[0] || !f->uri[0])
		return -EINVAL;
	return 0;
}

static bool str_eq_ci(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcasecmp(a, b));
}

/* The digest uri names the same resource as the Request-URI: scheme, user, host, port. */
static bool digest_uri_matches(const char *uri, const osip_uri_t *ruri)
{
	osip_uri_t *u = NULL;
	if (osip_uri_init(&u) < 0)
		return false;
	bool ok = osip_uri_parse(u, uri) == 0 && str_eq_ci(u->scheme, ruri->scheme) &&
		  str_eq_ci(u->host, ruri->host) &&
		  ((!u->username && !ruri->username) ||
		   (u->username && ruri->username && !strcmp(u->username, ruri->username))) &&
		  str_eq_ci(u->port, ruri->port);
	osip_uri_free(u);
	return ok;
}

int sp_auth_request(struct sp_server *s, struct sp_conn *c, osip_message_t *req, bool proxy,
		    struct pr_ks_user *u)
{
	osip_list_t *list = proxy ? &req->proxy_authorizations : &req->authorizations;
	osip_authorization_t *a = NULL, *x;
	struct sp_auth f;
	int64_t now = sp_now();
	for (int i = 0; (x = osip_list_get(list, i)); i++) {
		char realm[PR_KS_REALM_MAX];
		if (sp_unquote(realm, sizeof(realm), x->realm) == 0 &&
		    !strcmp(realm, s->cfg.realm)) {
			a = x;
			break;
		}
	}
	if (!a) {
		s->ctr.reg_challenged++;
		challenge(s, c, req, proxy, false);
		return -EACCES;
	}
	if (auth_fields(a, &f) < 0 || !pr_ks_user_name_valid(f.username)) {
		sp_respond(s, c, req, 400, "Warning: 399 poprelay \"malformed Authorization\"\r\n");
		return -EINVAL;
	}
	if (sp_guard_locked(s, c->peer_ip, f.username, now)) {
		s->ctr.lockout_refused++;
		PR_WARN("auth: refused %s from %s:%u: source or user locked out after failed "
			"authentications",
			f.username, c->peer_ip, c->peer_port);
		sp_respond(s, c, req, 403, "Warning: 399 poprelay \"locked out\"\r\n");
		return -EPERM;
	}
	if (!digest_uri_matches(f.uri, req->req_uri)) {
		/* RFC 3261 22.4: credentials computed for another Request-URI */
		sp_respond(s, c, req, 400,
			   "Warning: 399 poprelay \"digest uri differs from the "
			   "Request-URI\"\r\n");
		return -EINVAL;
	}
	int alg = sp_digest_alg_parse(f.algorithm);
	bool offered = false;
	for (unsigned i = 0; i < s->cfg.n_digest_algs; i++)
		offered |= s->cfg.digest_algs[i] == alg;
	if (alg < 0 || !offered || strcmp(f.qop, "auth") || !f.cnonce[0] || !f.nc[0]) {
		/* we only offer qop=auth with MD5 or SHA-256 */
		s->ctr.reg_challenged++;
		challenge(s, c, req, proxy, false);
		return -EACCES;
	}
	int nrc = sp_nonce_check(&s->nonce, f.nonce, now);
	if (nrc == -ESTALE) {
		s->ctr.reg_stale++;
		challenge(s, c, req, proxy, true);
		return -EACCES;
	}
	if (nrc < 0) {
		s->ctr.reg_challenged++;
		challenge(s, c, req, proxy, false);
		return -EACCES;
	}
	int rc = pr_ks_user_load(s->redis, f.username, u);
	if (rc == -ENOENT || (rc == 0 && strcmp(u->realm, s->cfg.realm))) {
		s->ctr.reg_unknown_user++;
		s->ctr.reg_auth_failed++;
		sp_guard_auth_failed(s, c->peer_ip, f.username, now);
		PR_WARN("auth: failed for unknown user '%s' from %s:%u", f.username, c->peer_ip,
			c->peer_port);
		memset(u, 0, sizeof(*u));
		challenge(s, c, req, proxy, false);
		return -EACCES;
	}
	if (rc < 0) {
		/* not a failure of the device's: no lockout count, a 503 to come back later */
		memset(u, 0, sizeof(*u));
		sp_respond_redis_down(s, c, req, "loading the user", rc);
		return rc;
	}
	if (u->disabled) {
		PR_WARN("auth: user %s is disabled (from %s:%u)", f.username, c->peer_ip,
			c->peer_port);
		memset(u, 0, sizeof(*u));
		sp_respond(s, c, req, 403, NULL);
		return -EPERM;
	}
	char expect[SP_DIGEST_HEX_MAX];
	const char *ha1 = alg == SP_DIGEST_SHA256 ? u->ha1_sha256 : u->ha1_md5;
	rc = sp_digest_response(alg, ha1, req->sip_method, f.uri, f.nonce, f.nc, f.cnonce, f.qop,
				expect);
	if (rc < 0 || !sp_digest_equal(expect, f.response)) {
		s->ctr.reg_auth_failed++;
		sp_guard_auth_failed(s, c->peer_ip, f.username, now);
		PR_WARN("auth: wrong credentials for user %s from %s:%u (%s)", f.username,
			c->peer_ip, c->peer_port, sp_digest_alg_name(alg));
		memset(u, 0, sizeof(*u));
		memset(expect, 0, sizeof(expect));
		challenge(s, c, req, proxy, false);
		return -EACCES;
	}
	memset(expect, 0, sizeof(expect));
	/* only after the response is proven authentic, so garbage cannot burn a nonce */
	rc = sp_nc_check(s->nc, f.nonce, f.nc, now, now + s->cfg.nonce_ttl_s + 60);
	if (rc == -EALREADY || rc == -EINVAL) {
		s->ctr.reg_replayed++;
		PR_WARN("auth: replayed credentials for user %s from %s:%u (nonce count %s reused)",
			f.username, c->peer_ip, c->peer_port, f.nc);
		memset(u, 0, sizeof(*u));
		sp_respond(s, c, req, 403, "Warning: 399 poprelay \"replayed credentials\"\r\n");
		return -EACCES;
	}
	if (rc < 0) { /* table full: ask for a fresh nonce */
		challenge(s, c, req, proxy, true);
		return -EACCES;
	}
	sp_guard_auth_ok(s, c->peer_ip, f.username);
	c->authed = c->tp != SP_UDP;
	/* keep only what callers need; drop the digests */
	memset(u->ha1_md5, 0, sizeof(u->ha1_md5));
	memset(u->ha1_sha256, 0, sizeof(u->ha1_sha256));
	return 0;
}

static const char *param(osip_list_t *params, const char *name)
{
	osip_generic_param_t *p = NULL;
	if (osip_generic_param_get_byname(params, (char *)name, &p) < 0 || !p)
		return NULL;
	return p->gvalue ? p->gvalue : "";
}

static void copy_trunc(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

void sp_registrar_request(struct sp_server *s, struct sp_conn *c, osip_message_t *req)
{
	if (c->tp != SP_TLS || c->peer_pop) {
		s->ctr.reg_plain_refused++;
		PR_WARN("registrar: refused REGISTER for %s over %s from %s:%u (TLS required)",
			req->to->url->username ? req->to->url->username : "?",
			sp_transport_name(c->tp), c->peer_ip, c->peer_port);
		sp_respond(s, c, req, 403, "Warning: 399 poprelay \"REGISTER requires TLS\"\r\n");
		return;
	}
	const char *aor = req->to->url->username;
	if (!aor || !pr_ks_user_name_valid(aor)) {
		sp_respond(s, c, req, 404, NULL);
		return;
	}
	struct pr_ks_user u;
	if (sp_auth_request(s, c, req, false, &u) < 0)
		return;
	if (strcmp(u.name, aor)) {
		PR_WARN("registrar: user %s tried to register %s from %s:%u", u.name, aor,
			c->peer_ip, c->peer_port);
		sp_respond(s, c, req, 403, NULL);
		return;
	}
	int64_t now = sp_now();
	osip_contact_t *ct = osip_list_get(&req->contacts, 0);
	const char *eh = sp_msg_header(req, "expires");
	long expires = eh ? strtol(eh, NULL, 10) : 3600;
	if (ct && param(&ct->gen_params, "expires"))
		expires = strtol(param(&ct->gen_params, "expires"), NULL, 10);
	if (expires < 0)
		expires = 0;
	char extra[1024];
	if (!ct) { /* query: RFC 3261 10.3 step 8 */
		struct pr_ks_reg r;
		extra[0] = '\0';
		int rc = pr_ks_reg_load(s->redis, u.name, &r);
		if (rc < 0 && rc != -ENOENT) {
			sp_respond_redis_down(s, c, req, "loading the binding", rc);
			return;
		}
		if (rc == 0 && r.expires > now)
			snprintf(extra, sizeof(extra), "Contact: <%s>;expires=%lld\r\n", r.contact,
				 (long long)(r.expires - now));
		sp_respond(s, c, req, 200, extra);
		return;
	}
	if (!ct->url || expires == 0) {
		/* Contact: * or expires=0: remove the binding */
		if (expires != 0) {
			sp_respond(s, c, req, 400, NULL);
			return;
		}
		int rc = pr_ks_reg_delete(s->redis, u.name);
		if (rc < 0 && rc != -ENOENT) {
			/* a 200 would tell the device its binding is gone while it still routes */
			sp_respond_redis_down(s, c, req, "removing the binding", rc);
			return;
		}
		s->ctr.reg_unreg++;
		PR_INFO("registrar: %s unregistered from %s:%u", u.name, c->peer_ip, c->peer_port);
		sp_respond(s, c, req, 200, NULL);
		return;
	}
	if (expires < (long)s->cfg.reg_min_expires_s) {
		snprintf(extra, sizeof(extra), "Min-Expires: %u\r\n", s->cfg.reg_min_expires_s);
		sp_respond(s, c, req, 423, extra);
		return;
	}
	if (expires > (long)s->cfg.reg_max_expires_s)
		expires = s->cfg.reg_max_expires_s;

	struct pr_ks_reg r;
	memset(&r, 0, sizeof(r));
	char *uri = NULL;
	if (osip_uri_to_str(ct->url, &uri) < 0 || !uri || strlen(uri) >= sizeof(r.contact)) {
		osip_free(uri);
		sp_respond(s, c, req, 400, NULL);
		return;
	}
	copy_trunc(r.user, sizeof(r.user), u.name);
	copy_trunc(r.contact, sizeof(r.contact), uri);
	osip_free(uri);
	char inst[PR_KS_TEXT_MAX];
	sp_unquote(inst, sizeof(inst), param(&ct->gen_params, "+sip.instance"));
	copy_trunc(r.instance, sizeof(r.instance), inst);
	const char *rid = param(&ct->gen_params, "reg-id");
	r.reg_id = rid ? (uint32_t)strtoul(rid, NULL, 10) : 0;
	copy_trunc(r.pop, sizeof(r.pop), s->cfg.pop);
	copy_trunc(r.transport, sizeof(r.transport), "tls");
	copy_trunc(r.src_addr, sizeof(r.src_addr), c->peer_ip);
	r.src_port = c->peer_port;
	copy_trunc(r.contact_addr, sizeof(r.contact_addr), ct->url->host);
	r.conn_id = c->id;
	copy_trunc(r.call_id, sizeof(r.call_id), req->call_id->number);
	r.cseq = (uint32_t)strtoul(req->cseq->number, NULL, 10);
	copy_trunc(r.user_agent, sizeof(r.user_agent), sp_msg_header(req, "user-agent"));
	r.expires_s = (uint32_t)expires;
	r.expires = now + expires;
	r.created = now;
	r.updated = now;
	int rc = pr_ks_reg_store(s->redis, &r);
	if (rc < 0) {
		sp_respond_redis_down(s, c, req, "storing the binding", rc);
		return;
	}
	snprintf(c->user, sizeof(c->user), "%s", u.name);
	s->ctr.reg_ok++;
	PR_INFO("registrar: %s registered from %s:%u over tls (%s) for %lds", u.name, c->peer_ip,
		c->peer_port, r.user_agent[0] ? r.user_agent : "no User-Agent", expires);
	char when[64];
	time_t t = (time_t)now;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	int n = snprintf(extra, sizeof(extra), "Contact: <%s>;expires=%ld", r.contact, expires);
	if (r.instance[0] && r.reg_id)
		n += snprintf(extra + n, sizeof(extra) - n, ";+sip.instance=\"%s\";reg-id=%u",
			      r.instance, r.reg_id);
	n += snprintf(extra + n, sizeof(extra) - n, "\r\nDate: %s\r\n", when);
	if (r.instance[0] && r.reg_id)
		snprintf(extra + n, sizeof(extra) - n, "Require: outbound\r\nFlow-Timer: %u\r\n",
			 u.keepalive_s ? u.keepalive_s : s->cfg.keepalive_s);
	sp_respond(s, c, req, 200, extra);
}

struct sp_conn *sp_registrar_flow(struct sp_server *s, const struct pr_ks_reg *reg)
{
	if (strcmp(reg->pop, s->cfg.pop))
		return NULL;
	struct sp_conn *c = sp_conn_find(s, reg->conn_id);
	if (!c || strcmp(c->user, reg->user))
		return NULL;
	return c;
}
