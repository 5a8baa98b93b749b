/* SPDX-License-Identifier: BSD-3-Clause */
/* Registrar (RFC 3261 10, RFC 5626 outbound): REGISTER over TLS or WSS (RFC 7118) only, digest
 * authentication against the HA1s poprelayctl stores (RFC 8760: SHA-256 and MD5, qop=auth, expiring
 * nonces answered stale=true, replayed nonce-counts refused), one binding per user kept in
 * Redis (pr:reg:<user>) with the TLS or WSS flow it arrived on. */
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

int sp_auth_begin(struct sp_server *s, struct sp_conn *c, osip_message_t *req, bool proxy,
		  struct sp_auth_ctx *a)
{
	osip_list_t *list = proxy ? &req->proxy_authorizations : &req->authorizations;
	osip_authorization_t *h = NULL, *x;
	struct sp_auth *f = &a->f;
	int64_t now = sp_now();
	memset(a, 0, sizeof(*a));
	a->proxy = proxy;
	a->now = now;
	snprintf(a->peer_ip, sizeof(a->peer_ip), "%s", c->peer_ip);
	a->peer_port = c->peer_port;
	for (int i = 0; (x = osip_list_get(list, i)); i++) {
		char realm[PR_KS_REALM_MAX];
		if (sp_unquote(realm, sizeof(realm), x->realm) == 0 &&
		    !strcmp(realm, s->cfg.realm)) {
			h = x;
			break;
		}
	}
	if (!h) {
		s->ctr.reg_challenged++;
		challenge(s, c, req, proxy, false);
		return -EACCES;
	}
	if (auth_fields(h, f) < 0 || !pr_ks_user_name_valid(f->username)) {
		sp_respond(s, c, req, 400, "Warning: 399 poprelay \"malformed Authorization\"\r\n");
		return -EINVAL;
	}
	if (sp_guard_locked(s, c->peer_ip, f->username, now)) {
		s->ctr.lockout_refused++;
		PR_WARN("auth: refused %s from %s:%u: source or user locked out after failed "
			"authentications",
			f->username, c->peer_ip, c->peer_port);
		sp_respond(s, c, req, 403, "Warning: 399 poprelay \"locked out\"\r\n");
		return -EPERM;
	}
	if (!digest_uri_matches(f->uri, req->req_uri)) {
		/* RFC 3261 22.4: credentials computed for another Request-URI */
		sp_respond(s, c, req, 400,
			   "Warning: 399 poprelay \"digest uri differs from the "
			   "Request-URI\"\r\n");
		return -EINVAL;
	}
	int alg = sp_digest_alg_parse(f->algorithm);
	bool offered = false;
	for (unsigned i = 0; i < s->cfg.n_digest_algs; i++)
		offered |= s->cfg.digest_algs[i] == alg;
	if (alg < 0 || !offered || strcmp(f->qop, "auth") || !f->cnonce[0] || !f->nc[0]) {
		/* we only offer qop=auth with MD5 or SHA-256 */
		s->ctr.reg_challenged++;
		challenge(s, c, req, proxy, false);
		return -EACCES;
	}
	a->alg = alg;
	int nrc = sp_nonce_check(&s->nonce, f->nonce, now);
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
	return 0;
}

int sp_auth_finish(struct sp_server *s, struct sp_conn *c, osip_message_t *req,
		   struct sp_auth_ctx *a, int rc, struct pr_ks_user *u)
{
	struct sp_auth *f = &a->f;
	bool proxy = a->proxy;
	int64_t now = a->now;
	if (rc == -ENOENT || (rc == 0 && strcmp(u->realm, s->cfg.realm))) {
		s->ctr.reg_unknown_user++;
		s->ctr.reg_auth_failed++;
		sp_guard_auth_failed(s, a->peer_ip, f->username, now);
		PR_WARN("auth: failed for unknown user '%s' from %s:%u", f->username, a->peer_ip,
			a->peer_port);
		memset(u, 0, sizeof(*u));
		if (c)
			challenge(s, c, req, proxy, false);
		return -EACCES;
	}
	if (rc < 0) {
		/* not a failure of the device's: no lockout count, a 503 to come back later */
		memset(u, 0, sizeof(*u));
		if (c)
			sp_respond_redis_down(s, c, req, "loading the user", rc);
		return rc;
	}
	if (sp_guard_locked(s, a->peer_ip, f->username, now)) {
		/* locked by failures that were answered while this one waited for Redis */
		s->ctr.lockout_refused++;
		PR_WARN("auth: refused %s from %s:%u: source or user locked out after failed "
			"authentications",
			f->username, a->peer_ip, a->peer_port);
		memset(u, 0, sizeof(*u));
		if (c)
			sp_respond(s, c, req, 403, "Warning: 399 poprelay \"locked out\"\r\n");
		return -EPERM;
	}
	if (u->disabled) {
		PR_WARN("auth: user %s is disabled (from %s:%u)", f->username, a->peer_ip,
			a->peer_port);
		memset(u, 0, sizeof(*u));
		if (c)
			sp_respond(s, c, req, 403, NULL);
		return -EPERM;
	}
	char expect[SP_DIGEST_HEX_MAX];
	const char *ha1 = a->alg == SP_DIGEST_SHA256 ? u->ha1_sha256 : u->ha1_md5;
	rc = sp_digest_response(a->alg, ha1, req->sip_method, f->uri, f->nonce, f->nc, f->cnonce,
				f->qop, expect);
	if (rc < 0 || !sp_digest_equal(expect, f->response)) {
		s->ctr.reg_auth_failed++;
		sp_guard_auth_failed(s, a->peer_ip, f->username, now);
		PR_WARN("auth: wrong credentials for user %s from %s:%u (%s)", f->username,
			a->peer_ip, a->peer_port, sp_digest_alg_name(a->alg));
		memset(u, 0, sizeof(*u));
		memset(expect, 0, sizeof(expect));
		if (c)
			challenge(s, c, req, proxy, false);
		return -EACCES;
	}
	memset(expect, 0, sizeof(expect));
	/* only after the response is proven authentic, so garbage cannot burn a nonce */
	rc = sp_nc_check(s->nc, f->nonce, f->nc, now, now + s->cfg.nonce_ttl_s + 60);
	if (rc == -EALREADY || rc == -EINVAL) {
		s->ctr.reg_replayed++;
		PR_WARN("auth: replayed credentials for user %s from %s:%u (nonce count %s reused)",
			f->username, a->peer_ip, a->peer_port, f->nc);
		memset(u, 0, sizeof(*u));
		if (c)
			sp_respond(s, c, req, 403,
				   "Warning: 399 poprelay \"replayed credentials\"\r\n");
		return -EACCES;
	}
	if (rc < 0) { /* table full: ask for a fresh nonce */
		static int64_t logged;
		if (now - logged >= 60) {
			logged = now;
			PR_WARN(
			    "auth: nonce-count table full (%zu slots, %s): answering with fresh "
			    "challenges until nonces expire",
			    sp_nc_table_slots(s->nc), rc == -ENOMEM ? "no memory" : "largest");
		}
		if (c)
			challenge(s, c, req, proxy, true);
		return -EACCES;
	}
	sp_guard_auth_ok(s, a->peer_ip, f->username);
	if (c)
		c->authed = c->tp != SP_UDP;
	/* keep only what callers need; drop the digests */
	memset(u->ha1_md5, 0, sizeof(u->ha1_md5));
	memset(u->ha1_sha256, 0, sizeof(u->ha1_sha256));
	return 0;
}

int sp_auth_request(struct sp_server *s, struct sp_conn *c, osip_message_t *req, bool proxy,
		    struct pr_ks_user *u)
{
	struct sp_auth_ctx a;
	int rc = sp_auth_begin(s, c, req, proxy, &a);
	if (rc < 0)
		return rc;
	rc = pr_ks_user_load(s->redis, a.f.username, u);
	rc = sp_auth_finish(s, c, req, &a, rc, u);
	memset(&a, 0, sizeof(a));
	return rc;
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

/* A REGISTER between its sending to Redis and the reply. The request is the op's own (the
 * dispatcher handed it over); the flow is named by its id, unique for the life of the
 * process, and looked up again when Redis answers: it may have closed meanwhile. */
struct reg_op {
	uint64_t conn_id;
	osip_message_t *req;
	struct sp_auth_ctx a;
	double held; /* sp_guard_auth_hold */
	long expires;
	struct pr_ks_user u;
	struct pr_ks_reg r;
};

static void reg_op_free(struct reg_op *op)
{
	osip_message_free(op->req);
	/* the digest fields and the user's record */
	explicit_bzero(op, sizeof(*op));
	free(op);
}

/* The op's flow, or NULL when it closed while Redis answered (counted, logged at debug). */
static struct sp_conn *reg_op_conn(struct sp_server *s, const struct reg_op *op)
{
	struct sp_conn *c = sp_conn_find(s, op->conn_id);
	if (!c)
		PR_DEBUG("registrar: the flow of %s from %s:%u closed before Redis answered",
			 op->a.f.username, op->a.peer_ip, op->a.peer_port);
	return c;
}

static void reg_query_done(struct sp_server *s, redisReply *rep, int rc, void *arg)
{
	struct reg_op *op = arg;
	struct sp_conn *c = reg_op_conn(s, op);
	struct pr_ks_reg r;
	char extra[1024] = "";
	if (rc == 0)
		rc = pr_ks_reg_from_reply(op->u.name, rep, &r);
	if (!c) {
	} else if (rc < 0 && rc != -ENOENT) {
		sp_respond_redis_down(s, c, op->req, "loading the binding", rc);
	} else {
		if (rc == 0 && r.expires > op->a.now)
			snprintf(extra, sizeof(extra), "Contact: <%s>;expires=%lld\r\n", r.contact,
				 (long long)(r.expires - op->a.now));
		sp_respond(s, c, op->req, 200, extra);
	}
	reg_op_free(op);
}

static void reg_delete_done(struct sp_server *s, redisReply *rep, int rc, void *arg)
{
	struct reg_op *op = arg;
	struct sp_conn *c = reg_op_conn(s, op);
	(void)rep; /* a binding that was not there is removed all the same */
	if (rc < 0) {
		/* a 200 would tell the device its binding is gone while it still routes */
		if (c)
			sp_respond_redis_down(s, c, op->req, "removing the binding", rc);
	} else {
		s->ctr.reg_unreg++;
		PR_INFO("registrar: %s unregistered from %s:%u", op->u.name, op->a.peer_ip,
			op->a.peer_port);
		if (c)
			sp_respond(s, c, op->req, 200, NULL);
	}
	reg_op_free(op);
}

static void reg_store_done(struct sp_server *s, redisReply *rep, int rc, void *arg)
{
	struct reg_op *op = arg;
	struct sp_conn *c = reg_op_conn(s, op);
	struct pr_ks_reg *r = &op->r;
	(void)rep;
	if (!c) {
		/* stored, but for a flow that is gone: sp_registrar_flow finds no route over it,
		 * as for any binding whose flow closed, until the device registers again */
		reg_op_free(op);
		return;
	}
	if (rc < 0) {
		sp_respond_redis_down(s, c, op->req, "storing the binding", rc);
		reg_op_free(op);
		return;
	}
	snprintf(c->user, sizeof(c->user), "%s", op->u.name);
	s->ctr.reg_ok++;
	PR_INFO("registrar: %s registered from %s:%u over %s (%s) for %lds", op->u.name,
		op->a.peer_ip, op->a.peer_port, r->transport,
		r->user_agent[0] ? r->user_agent : "no User-Agent", op->expires);
	char when[64], extra[1024];
	time_t t = (time_t)op->a.now;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	int n =
	    snprintf(extra, sizeof(extra), "Contact: <%s>;expires=%ld", r->contact, op->expires);
	if (r->instance[0] && r->reg_id)
		n += snprintf(extra + n, sizeof(extra) - n, ";+sip.instance=\"%s\";reg-id=%u",
			      r->instance, r->reg_id);
	n += snprintf(extra + n, sizeof(extra) - n, "\r\nDate: %s\r\n", when);
	if (r->instance[0] && r->reg_id)
		snprintf(extra + n, sizeof(extra) - n, "Require: outbound\r\nFlow-Timer: %u\r\n",
			 op->u.keepalive_s ? op->u.keepalive_s : s->cfg.keepalive_s);
	sp_respond(s, c, op->req, 200, extra);
	reg_op_free(op);
}

/* Sends tx (NULL: the command fmt) for op; on a failure to send, fn runs now with it. */
static void reg_send_tx(struct sp_server *s, struct reg_op *op, struct pr_redis_tx *tx,
			sp_aredis_fn *fn)
{
	/* a binding's store (DEL, HSET, EXPIREAT, ZADD) or delete (DEL, ZREM): the same
	 * outcome twice, so sent again if the connection is lost before the reply */
	int rc = tx ? sp_aredis_tx_durable(s, tx, SP_AREDIS_REPLAY, fn, op) : -ENOMEM;
	pr_redis_tx_free(tx);
	if (rc < 0)
		fn(s, NULL, rc, op);
}

/* The user's record came: the rest of the digest check, then the binding's change. */
static void reg_user_loaded(struct sp_server *s, redisReply *rep, int rc, void *arg)
{
	struct reg_op *op = arg;
	struct sp_conn *c = reg_op_conn(s, op);
	osip_message_t *req = op->req;
	struct pr_ks_user *u = &op->u;
	if (rc == 0)
		rc = pr_ks_user_from_reply(op->a.f.username, rep, u);
	sp_guard_auth_release(s, op->a.peer_ip, op->held);
	if (sp_auth_finish(s, c, req, &op->a, rc, u) < 0 || !c) {
		reg_op_free(op);
		return;
	}
	const char *aor = req->to->url->username;
	if (strcmp(u->name, aor)) {
		PR_WARN("registrar: user %s tried to register %s from %s:%u", u->name, aor,
			c->peer_ip, c->peer_port);
		sp_respond(s, c, req, 403, NULL);
		reg_op_free(op);
		return;
	}
	int64_t now = op->a.now;
	osip_contact_t *ct = osip_list_get(&req->contacts, 0);
	const char *eh = sp_msg_header(req, "expires");
	long expires = eh ? strtol(eh, NULL, 10) : 3600;
	if (ct && param(&ct->gen_params, "expires"))
		expires = strtol(param(&ct->gen_params, "expires"), NULL, 10);
	if (expires < 0)
		expires = 0;
	if (!ct) { /* query: RFC 3261 10.3 step 8 */
		rc = sp_aredis_cmd(s, SP_AREDIS_REPLAY, reg_query_done, op, "HGETALL %s%s",
				   PR_KS_REG_PREFIX, u->name);
		if (rc < 0)
			reg_query_done(s, NULL, rc, op);
		return;
	}
	if (!ct->url || expires == 0) {
		/* Contact: * or expires=0: remove the binding */
		if (expires != 0) {
			sp_respond(s, c, req, 400, NULL);
			reg_op_free(op);
			return;
		}
		struct pr_redis_tx *tx = pr_redis_tx_new();
		if (tx && pr_ks_reg_delete_tx(tx, u->name) < 0) {
			pr_redis_tx_free(tx);
			tx = NULL;
		}
		reg_send_tx(s, op, tx, reg_delete_done);
		return;
	}
	if (expires < (long)s->cfg.reg_min_expires_s) {
		char extra[64];
		snprintf(extra, sizeof(extra), "Min-Expires: %u\r\n", s->cfg.reg_min_expires_s);
		sp_respond(s, c, req, 423, extra);
		reg_op_free(op);
		return;
	}
	if (expires > (long)s->cfg.reg_max_expires_s)
		expires = s->cfg.reg_max_expires_s;
	op->expires = expires;

	struct pr_ks_reg *r = &op->r;
	memset(r, 0, sizeof(*r));
	char *uri = NULL;
	if (osip_uri_to_str(ct->url, &uri) < 0 || !uri || strlen(uri) >= sizeof(r->contact)) {
		osip_free(uri);
		sp_respond(s, c, req, 400, NULL);
		reg_op_free(op);
		return;
	}
	copy_trunc(r->user, sizeof(r->user), u->name);
	copy_trunc(r->contact, sizeof(r->contact), uri);
	osip_free(uri);
	char inst[PR_KS_TEXT_MAX];
	sp_unquote(inst, sizeof(inst), param(&ct->gen_params, "+sip.instance"));
	copy_trunc(r->instance, sizeof(r->instance), inst);
	const char *rid = param(&ct->gen_params, "reg-id");
	r->reg_id = rid ? (uint32_t)strtoul(rid, NULL, 10) : 0;
	copy_trunc(r->pop, sizeof(r->pop), s->cfg.pop);
	copy_trunc(r->transport, sizeof(r->transport), sp_transport_name(c->tp));
	copy_trunc(r->src_addr, sizeof(r->src_addr), c->peer_ip);
	r->src_port = c->peer_port;
	copy_trunc(r->contact_addr, sizeof(r->contact_addr), ct->url->host);
	r->conn_id = c->id;
	copy_trunc(r->call_id, sizeof(r->call_id), req->call_id->number);
	r->cseq = (uint32_t)strtoul(req->cseq->number, NULL, 10);
	copy_trunc(r->user_agent, sizeof(r->user_agent), sp_msg_header(req, "user-agent"));
	r->expires_s = (uint32_t)expires;
	r->expires = now + expires;
	r->created = now;
	r->updated = now;
	struct pr_redis_tx *tx = pr_redis_tx_new();
	if (tx && pr_ks_reg_store_tx(tx, r) < 0) {
		pr_redis_tx_free(tx);
		tx = NULL;
	}
	reg_send_tx(s, op, tx, reg_store_done);
}

void sp_registrar_request(struct sp_server *s, struct sp_conn *c, osip_message_t *req)
{
	if (!sp_tp_secure(c->tp) || c->peer_pop) {
		s->ctr.reg_plain_refused++;
		PR_WARN("registrar: refused REGISTER for %s over %s from %s:%u (TLS required)",
			req->to->url->username ? req->to->url->username : "?",
			sp_transport_name(c->tp), c->peer_ip, c->peer_port);
		sp_respond(s, c, req, 403, "Warning: 399 poprelay \"REGISTER requires TLS\"\r\n");
		osip_message_free(req);
		return;
	}
	const char *aor = req->to->url->username;
	if (!aor || !pr_ks_user_name_valid(aor)) {
		sp_respond(s, c, req, 404, NULL);
		osip_message_free(req);
		return;
	}
	struct reg_op *op = calloc(1, sizeof(*op));
	if (!op) {
		sp_respond(s, c, req, 500, NULL);
		osip_message_free(req);
		return;
	}
	op->conn_id = c->id;
	op->req = req;
	if (sp_auth_begin(s, c, req, false, &op->a) < 0) {
		reg_op_free(op);
		return;
	}
	/* the user's record, then (in reg_user_loaded) the binding: a round trip each, the
	 * loop serving other flows meanwhile */
	op->held = sp_guard_auth_hold(s, op->a.peer_ip);
	int rc = sp_aredis_cmd(s, SP_AREDIS_REPLAY, reg_user_loaded, op, "HGETALL %s%s",
			       PR_KS_USER_PREFIX, op->a.f.username);
	if (rc < 0)
		reg_user_loaded(s, NULL, rc, op);
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
