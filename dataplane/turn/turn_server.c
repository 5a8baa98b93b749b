/* SPDX-License-Identifier: BSD-3-Clause */
/* TURN request handling (control lcore), authentication, nonces, quotas, expiry. */
#include "dataplane/turn/turn_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/stun_auth.h"
#include "dataplane/turn/turn_internal.h"

void turn_cfg_defaults(struct turn_cfg *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->realm, sizeof(c->realm), "poprelay");
	snprintf(c->software, sizeof(c->software), "poprelay");
	c->lifetime_default = 600;
	c->lifetime_max = 3600;
	c->perm_lifetime = 300;
	c->chan_lifetime = 600;
	c->nonce_lifetime = 600;
	c->chan_max = TURN_CHAN_MAX;
	c->max_allocs_per_user = 100;
	c->unauth_rate = 100;
	c->unauth_burst = 200;
	c->lt_cred = true;
	c->rest_cred = true;
	turn_policy_init(&c->policy);
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}
static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

struct turn_server *turn_server_create(const struct turn_cfg *cfg, struct turn_table *tbl,
				       const struct turn_cred_ops *cred,
				       const struct turn_hooks *hooks)
{
	if (!cfg || !tbl || strlen(cfg->realm) == 0 || cfg->lifetime_default == 0 ||
	    cfg->lifetime_max < cfg->lifetime_default)
		return NULL;
	struct turn_server *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cfg = *cfg;
	s->tbl = tbl;
	if (cred)
		s->cred = *cred;
	if (hooks)
		s->hooks = *hooks;
	uint32_t n = 1024;
	while (n < 2 * turn_table_capacity(tbl))
		n <<= 1;
	s->users = calloc(n, sizeof(*s->users));
	if (!s->users) {
		free(s);
		return NULL;
	}
	s->users_mask = n - 1;
	uint64_t seed = 0;
	memcpy(&seed, cfg->nonce_secret, sizeof(seed));
	s->id_seq = mix64(seed ^ (uint64_t)time(NULL));
	return s;
}

void turn_server_destroy(struct turn_server *s)
{
	if (!s)
		return;
	free(s->users);
	memset(s, 0, sizeof(*s)); /* nonce secret */
	free(s);
}

struct turn_table *turn_server_table(struct turn_server *s)
{
	return s->tbl;
}

const struct turn_cfg *turn_server_cfg(const struct turn_server *s)
{
	return &s->cfg;
}

int turn_server_set_limits(struct turn_server *s, const struct turn_limits *l)
{
	if (!l->lifetime_default || !l->nonce_lifetime || l->lifetime_max < l->lifetime_default)
		return -EINVAL;
	s->cfg.lifetime_default = l->lifetime_default;
	s->cfg.lifetime_max = l->lifetime_max;
	s->cfg.nonce_lifetime = l->nonce_lifetime;
	s->cfg.max_allocs_per_user = l->max_allocs_per_user;
	s->cfg.bw_bytes_per_s = l->bw_bytes_per_s;
	return 0;
}

const struct turn_ctl_stats *turn_server_stats(const struct turn_server *s)
{
	return &s->st;
}

void turn_server_set_policy(struct turn_server *s, const struct turn_policy *p)
{
	s->cfg.policy = *p;
}

void turn_server_set_now(struct turn_server *s, uint32_t now)
{
	__atomic_store_n(&s->now, now, __ATOMIC_RELAXED);
}

uint32_t turn_server_now(const struct turn_server *s)
{
	return __atomic_load_n(&s->now, __ATOMIC_RELAXED);
}

/* ---------------------------------------------------------------- nonces */

static void nonce_mac(const struct turn_server *s, const struct pr_taddr *cli, uint32_t exp,
		      uint8_t out[20])
{
	uint8_t in[4 + 16 + 1];
	in[0] = exp >> 24;
	in[1] = (exp >> 16) & 0xff;
	in[2] = (exp >> 8) & 0xff;
	in[3] = exp & 0xff;
	memcpy(in + 4, cli->ip, 16);
	in[20] = cli->fam;
	pr_hmac_sha1(s->cfg.nonce_secret, sizeof(s->cfg.nonce_secret), in, sizeof(in), out);
}

/* Stateless: "obMatJos2" features, then hex(expiry[4] || HMAC(secret, expiry||ip)[12]).
 * Bound to the client's address, not its port (one nonce for all of a host's sockets). */
int turn_nonce_make(const struct turn_server *s, const struct pr_taddr *cli, uint32_t now,
		    char *out, size_t outlen)
{
	uint8_t raw[16], mac[20];
	uint32_t exp = now + s->cfg.nonce_lifetime;
	if (outlen < NONCE_LEN + 1)
		return -ENOSPC;
	raw[0] = exp >> 24;
	raw[1] = (exp >> 16) & 0xff;
	raw[2] = (exp >> 8) & 0xff;
	raw[3] = exp & 0xff;
	nonce_mac(s, cli, exp, mac);
	memcpy(raw + 4, mac, 12);
	memcpy(out, NONCE_COOKIE NONCE_FEATURES, 13);
	pr_hex_encode(raw, sizeof(raw), out + 13);
	return NONCE_LEN;
}

int turn_nonce_check(const struct turn_server *s, const struct pr_taddr *cli, uint32_t now,
		     const char *nonce, size_t len)
{
	char hex[33];
	uint8_t raw[16], mac[20];
	if (len != NONCE_LEN || memcmp(nonce, NONCE_COOKIE NONCE_FEATURES, 13))
		return -EINVAL;
	memcpy(hex, nonce + 13, 32);
	hex[32] = 0;
	if (pr_hex_decode(hex, raw, sizeof(raw)) != 16)
		return -EINVAL;
	uint32_t exp =
	    (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 | (uint32_t)raw[2] << 8 | raw[3];
	nonce_mac(s, cli, exp, mac);
	if (pr_ct_memcmp(mac, raw + 4, 12))
		return -EINVAL;
	if (exp <= now || exp > now + s->cfg.nonce_lifetime + 60)
		return -ESTALE;
	return 0;
}

/* ---------------------------------------------------------------- quotas, rate limits */

static uint64_t str_hash(const char *str)
{
	uint64_t h = 1469598103934665603ull;
	for (const unsigned char *p = (const unsigned char *)str; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return h ? h : 1;
}

static struct user_cnt *user_slot(struct turn_server *s, const char *user, bool create)
{
	uint64_t h = str_hash(user);
	for (uint32_t i = 0, j = (uint32_t)h & s->users_mask; i <= s->users_mask;
	     i++, j = (j + 1) & s->users_mask) {
		if (s->users[j].h == h)
			return &s->users[j];
		if (s->users[j].h == 0) {
			if (!create)
				return NULL;
			s->users[j].h = h;
			s->users_used++;
			return &s->users[j];
		}
	}
	return NULL;
}

static const char *quota_user_of(const char *username)
{
	const char *c = strchr(username, ':');
	return c ? c + 1 : username;
}

/* Users whose count fell to zero keep their slot (probe chains stay intact); when half the
 * table is taken, it is rebuilt from the live allocations, so distinct users over time
 * never exhaust it. */
static void users_rebuild(struct turn_server *s)
{
	uint32_t idx = 0;
	struct turn_alloc *a;
	memset(s->users, 0, ((size_t)s->users_mask + 1) * sizeof(*s->users));
	s->users_used = 0;
	while ((a = turn_alloc_next(s->tbl, &idx))) {
		struct user_cnt *u = user_slot(s, quota_user_of(a->username), true);
		if (u)
			u->n++;
	}
}

static void user_dec(struct turn_server *s, const char *username)
{
	struct user_cnt *u = user_slot(s, quota_user_of(username), false);
	if (u && u->n)
		u->n--;
}

/* true when a 401/438 to this source is within its budget */
static bool unauth_allowed(struct turn_server *s, const struct pr_taddr *src)
{
	if (!s->cfg.unauth_rate)
		return true;
	uint32_t k = (uint32_t)mix64(((uint64_t)rd16(src->ip) << 48) ^
				     ((uint64_t)src->ip[2] << 40) ^ ((uint64_t)src->ip[3] << 32) ^
				     ((uint64_t)rd16(src->ip + 4) << 16) ^ rd16(src->ip + 14) ^
				     ((uint64_t)src->ip[12] << 24) ^ ((uint64_t)src->ip[13] << 8));
	struct rl_bucket *b = &s->rl[k % RL_BUCKETS];
	uint32_t now = s->now;
	if (b->key != k) {
		b->key = k;
		b->last = now;
		b->tokens = s->cfg.unauth_burst;
	}
	if (now > b->last) {
		uint64_t t = b->tokens + (uint64_t)(now - b->last) * s->cfg.unauth_rate;
		b->tokens = t > s->cfg.unauth_burst ? s->cfg.unauth_burst : (uint32_t)t;
		b->last = now;
	}
	if (!b->tokens)
		return false;
	b->tokens--;
	return true;
}

/* ---------------------------------------------------------------- responses */

static void count_err(struct turn_server *s, int code)
{
	if (code >= 300 && code < 700)
		s->st.err[code / 100][code % 100]++;
}

static int finish(struct stun_builder *b, const struct stun_msg *req, const struct auth *au)
{
	if (au && au->klen) {
		uint16_t mlen = au->mi_type == STUN_A_MESSAGE_INTEGRITY_SHA256 ? 32 : 20;
		int off = stun_b_reserve(b, au->mi_type, mlen);
		if (off < 0)
			return off;
		if (mlen == 32)
			pr_hmac_sha256(au->key, au->klen, b->buf, (size_t)off - 4, b->buf + off);
		else
			pr_hmac_sha1(au->key, au->klen, b->buf, (size_t)off - 4, b->buf + off);
	}
	if (req->i_fp >= 0) {
		int off = stun_b_reserve(b, STUN_A_FINGERPRINT, 4);
		if (off < 0)
			return off;
		uint32_t fp = pr_stun_fingerprint(b->buf, (size_t)off - 4);
		b->buf[off] = fp >> 24;
		b->buf[off + 1] = (fp >> 16) & 0xff;
		b->buf[off + 2] = (fp >> 8) & 0xff;
		b->buf[off + 3] = fp & 0xff;
	}
	return b->err ? b->err : b->len;
}

/* authenticate(): the user's key is being fetched (the request comes back later). */
#define AUTH_PENDING 1

static const char *reason_of(int code)
{
	switch (code) {
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 420:
		return "Unknown Attribute";
	case 437:
		return "Allocation Mismatch";
	case 438:
		return "Stale Nonce";
	case 440:
		return "Address Family not Supported";
	case 441:
		return "Wrong Credentials";
	case 442:
		return "Unsupported Transport Protocol";
	case 443:
		return "Peer Address Family Mismatch";
	case 300:
		return "Try Alternate";
	case 486:
		return "Allocation Quota Reached";
	case 500:
		return "Server Error";
	case 508:
		return "Insufficient Capacity";
	default:
		return "Error";
	}
}

/* An error answer. au == NULL: the request was not authenticated, so the answer is
 * bounded by the request's size (no amplification) and challenges are rate-limited. */
static int err_resp(struct turn_server *s, const struct turn_ctx *c, const struct stun_msg *m,
		    int code, const struct auth *au, uint8_t *out, size_t cap)
{
	struct stun_builder b;
	if (!au && (code == 401 || code == 438) && !unauth_allowed(s, &c->cli)) {
		s->st.unauth_dropped++;
		return 0;
	}
	stun_b_init(&b, out, cap, m->method, STUN_ERROR, m->tid);
	stun_b_error(&b, code, reason_of(code));
	if (code == 420)
		stun_b_unknown(&b, m->unknown, m->n_unknown);
	if (code == 300)
		stun_b_xaddr(&b, STUN_A_ALTERNATE_SERVER, &s->cfg.alternate);
	if (code == 401 || code == 438) {
		char nonce[NONCE_LEN + 1];
		uint8_t algs[8];
		turn_nonce_make(s, &c->cli, s->now, nonce, sizeof(nonce));
		stun_b_attr(&b, STUN_A_REALM, s->cfg.realm, (uint16_t)strlen(s->cfg.realm));
		stun_b_attr(&b, STUN_A_NONCE, nonce, NONCE_LEN);
		wr16(algs, STUN_PWALG_MD5);
		wr16(algs + 2, 0);
		wr16(algs + 4, STUN_PWALG_SHA256);
		wr16(algs + 6, 0);
		stun_b_attr(&b, STUN_A_PASSWORD_ALGORITHMS, algs, sizeof(algs));
	}
	if (au && s->cfg.software[0])
		stun_b_attr(&b, STUN_A_SOFTWARE, s->cfg.software,
			    (uint16_t)strlen(s->cfg.software));
	int n = finish(&b, m, au);
	if (n < 0)
		return n;
	if (!au && (size_t)n > (size_t)m->total + TURN_AMP_SLACK) {
		s->st.amp_dropped++;
		return 0;
	}
	count_err(s, code);
	return n;
}

/* ---------------------------------------------------------------- authentication */

static bool mi_ok(const struct stun_msg *m, const uint8_t *key, size_t klen, uint16_t *used)
{
	uint8_t tmp[MSG_MAX], mac[32];
	int idx = m->i_mi256 >= 0 ? m->i_mi256 : m->i_mi;
	if (idx < 0)
		return false;
	const struct stun_attr *a = &m->attrs[idx];
	*used = a->type;
	int n = stun_integrity_input(m, idx, tmp, sizeof(tmp));
	if (n < 0)
		return false;
	if (a->type == STUN_A_MESSAGE_INTEGRITY_SHA256) {
		pr_hmac_sha256(key, klen, tmp, (size_t)n, mac);
		return pr_ct_memcmp(mac, m->buf + a->off, a->len) == 0;
	}
	pr_hmac_sha1(key, klen, tmp, (size_t)n, mac);
	return pr_ct_memcmp(mac, m->buf + a->off, 20) == 0;
}

static int get_str(const struct stun_msg *m, uint16_t t, char *out, size_t outlen)
{
	const struct stun_attr *a = stun_attr_find(m, t);
	if (!a)
		return -ENOENT;
	if (a->len >= outlen)
		return -E2BIG;
	memcpy(out, m->buf + a->off, a->len);
	out[a->len] = 0;
	if (strlen(out) != a->len)
		return -EINVAL; /* embedded NUL */
	return a->len;
}

/* RFC 8489 9.2.4. Returns 0 with *au filled, or the error code to answer (no auth). */
static int authenticate(struct turn_server *s, const struct turn_ctx *c, const struct stun_msg *m,
			struct auth *au)
{
	char realm[TURN_REALM_MAX + 1], nonce[800];
	memset(au, 0, sizeof(*au));
	if (m->i_mi < 0 && m->i_mi256 < 0)
		return 401;
	if (stun_attr_find(m, STUN_A_USERHASH))
		return 401; /* username anonymity is not offered */
	int ul = get_str(m, STUN_A_USERNAME, au->username, sizeof(au->username));
	int rl = get_str(m, STUN_A_REALM, realm, sizeof(realm));
	int nl = get_str(m, STUN_A_NONCE, nonce, sizeof(nonce));
	if (ul == -ENOENT || rl == -ENOENT || nl == -ENOENT)
		return 400;
	if (ul < 0 || nl < 0)
		return 401; /* over-long username: no such user */
	/* A wrong realm gets a fresh challenge with ours (never "success" nor 400). */
	if (rl < 0 || strcmp(realm, s->cfg.realm))
		return 401;
	int nc = turn_nonce_check(s, &c->cli, s->now, nonce, (size_t)nl);
	if (nc == -ESTALE)
		return 438;
	if (nc < 0)
		return 438; /* RFC 8489: an invalid nonce is answered like a stale one */

	/* Password algorithm (RFC 8489 9.2.4 step 3, our nonce always sets the bit). */
	int alg = STUN_PWALG_MD5;
	const struct stun_attr *pa = stun_attr_find(m, STUN_A_PASSWORD_ALGORITHM);
	const struct stun_attr *pas = stun_attr_find(m, STUN_A_PASSWORD_ALGORITHMS);
	if (pa || pas) {
		static const uint8_t ours[8] = {0, 1, 0, 0, 0, 2, 0, 0};
		if (!pa || !pas || pas->len != sizeof(ours) ||
		    memcmp(m->buf + pas->off, ours, sizeof(ours)))
			return 400;
		alg = rd16(m->buf + pa->off);
		if (alg != STUN_PWALG_MD5 && alg != STUN_PWALG_SHA256)
			return 400;
	}
	au->klen = alg == STUN_PWALG_SHA256 ? 32 : 16;
	au->quota_user = quota_user_of(au->username);

	/* TURN REST: "expiry:user" signed with one of the shared secrets. */
	const char *colon = strchr(au->username, ':');
	if (s->cfg.rest_cred && colon && colon != au->username && s->cred.rest_secrets) {
		char *end;
		unsigned long exp = strtoul(au->username, &end, 10);
		if (end == colon) {
			char secrets[TURN_REST_SECRETS][TURN_SECRET_MAX];
			int n = s->cred.rest_secrets(s->cred.arg, secrets, TURN_REST_SECRETS);
			if (n == -EINPROGRESS)
				return AUTH_PENDING;
			if (n < 0)
				return 500;
			bool ok = false;
			for (int i = 0; i < n && !ok && exp >= s->now; i++) {
				char pw[64];
				if (pr_turn_rest_password(secrets[i], au->username, pw,
							  sizeof(pw)) < 0)
					continue;
				if (alg == STUN_PWALG_SHA256)
					pr_ha1_sha256(au->username, s->cfg.realm, pw, au->key);
				else
					pr_ha1_md5(au->username, s->cfg.realm, pw, au->key);
				memset(pw, 0, sizeof(pw));
				ok = mi_ok(m, au->key, au->klen, &au->mi_type);
			}
			memset(secrets, 0, sizeof(secrets));
			if (ok)
				return 0;
			if (!s->cfg.lt_cred)
				return 401;
		}
	}
	if (!s->cfg.lt_cred || !s->cred.user_key)
		return 401;
	int k = s->cred.user_key(s->cred.arg, au->username, s->cfg.realm, alg, au->key);
	if (k == -EINPROGRESS)
		return AUTH_PENDING;
	if (k == -ENOBUFS || k == -EIO || k == -ENOMEM)
		return 500; /* the store could not take the read: not the client's fault */
	if (k < 0)
		return 401;
	if (!mi_ok(m, au->key, au->klen, &au->mi_type)) {
		memset(au->key, 0, sizeof(au->key));
		return 401;
	}
	return 0;
}

/* ---------------------------------------------------------------- helpers */

static void ft_of(struct turn_5tuple *ft, const struct turn_ctx *c)
{
	memset(ft, 0, sizeof(*ft));
	memcpy(ft->cli_ip, c->cli.ip, 16);
	memcpy(ft->srv_ip, c->srv.ip, 16);
	ft->cli_port = c->cli.port;
	ft->srv_port = c->srv.port;
	ft->fam = c->cli.fam;
	ft->proto = c->cli.proto;
}

static uint32_t lifetime_of(const struct turn_server *s, const struct stun_msg *m, bool *zero)
{
	const struct stun_attr *a = stun_attr_find(m, TURN_A_LIFETIME);
	*zero = false;
	if (!a)
		return s->cfg.lifetime_default;
	uint32_t v = stun_attr_u32(m, a);
	if (v == 0) {
		*zero = true;
		return 0;
	}
	if (v > s->cfg.lifetime_max)
		v = s->cfg.lifetime_max;
	if (v < s->cfg.lifetime_default)
		v = s->cfg.lifetime_default;
	return v;
}

static void relay_addr(const struct turn_server *s, const struct turn_alloc *a, int fi,
		       struct pr_taddr *out)
{
	*out = *turn_relay_of(&s->cfg, a, fi);
	out->port = a->relay_port[fi];
}

static void notify(struct turn_server *s, const struct turn_alloc *a, enum turn_event ev)
{
	if (s->hooks.changed)
		s->hooks.changed(s->hooks.arg, a, ev);
}

static void alloc_delete(struct turn_server *s, struct turn_alloc *a, bool expired)
{
	notify(s, a, TURN_EV_DELETED);
	user_dec(s, a->username);
	turn_alloc_unpublish(s->tbl, a);
	if (expired)
		s->st.allocs_expired++;
	else
		s->st.allocs_deleted++;
}

static int success_begin(struct turn_server *s, struct stun_builder *b, const struct stun_msg *m,
			 uint8_t *out, size_t cap)
{
	stun_b_init(b, out, cap, m->method, STUN_SUCCESS, m->tid);
	s->st.success++;
	return 0;
}

static void add_software(struct turn_server *s, struct stun_builder *b)
{
	if (s->cfg.software[0])
		stun_b_attr(b, STUN_A_SOFTWARE, s->cfg.software, (uint16_t)strlen(s->cfg.software));
}

/* ---------------------------------------------------------------- methods */

static int do_binding(struct turn_server *s, const struct turn_ctx *c, const struct stun_msg *m,
		      uint8_t *out, size_t cap)
{
	struct stun_builder b;
	stun_b_init(&b, out, cap, STUN_BINDING, STUN_SUCCESS, m->tid);
	stun_b_xaddr(&b, STUN_A_XOR_MAPPED_ADDRESS, &c->cli);
	int n = finish(&b, m, NULL);
	if (n < 0)
		return n;
	/* No amplification: a Binding answer is at most twice its request. */
	if ((size_t)n > 2 * (size_t)m->total) {
		s->st.amp_dropped++;
		return 0;
	}
	s->st.success++;
	return n;
}

static struct resv *resv_find(struct turn_server *s, uint64_t token)
{
	for (unsigned i = 0; i < RESV_MAX; i++)
		if (s->resv[i].used && s->resv[i].token == token && s->resv[i].expires > s->now)
			return &s->resv[i];
	return NULL;
}

static void resv_release(struct turn_server *s, struct resv *r)
{
	turn_port_hold(s->tbl, r->fi, r->port, false);
	memset(r, 0, sizeof(*r));
}

static int alloc_success(struct turn_server *s, const struct turn_ctx *c, const struct stun_msg *m,
			 const struct auth *au, struct turn_alloc *a, uint64_t resv_token,
			 int addr_err, uint8_t *out, size_t cap)
{
	struct stun_builder b;
	struct pr_taddr ra;
	success_begin(s, &b, m, out, cap);
	for (int fi = 0; fi < 2; fi++) {
		if (!a->relay_port[fi])
			continue;
		relay_addr(s, a, fi, &ra);
		stun_b_xaddr(&b, TURN_A_XOR_RELAYED_ADDRESS, &ra);
	}
	if (addr_err) {
		uint8_t v[4 + 32];
		const char *r = reason_of(addr_err);
		size_t rl = strlen(r);
		v[0] = 2; /* the IPv6 family we could not give */
		v[1] = 0;
		v[2] = (uint8_t)(addr_err / 100);
		v[3] = (uint8_t)(addr_err % 100);
		memcpy(v + 4, r, rl);
		stun_b_attr(&b, TURN_A_ADDRESS_ERROR_CODE, v, (uint16_t)(4 + rl));
	}
	stun_b_u32(&b, TURN_A_LIFETIME, a->expires > s->now ? a->expires - s->now : 0);
	if (resv_token) {
		uint8_t t[8];
		for (int i = 0; i < 8; i++)
			t[i] = (uint8_t)(resv_token >> (56 - 8 * i));
		stun_b_attr(&b, TURN_A_RESERVATION_TOKEN, t, 8);
	}
	stun_b_xaddr(&b, STUN_A_XOR_MAPPED_ADDRESS, &c->cli);
	add_software(s, &b);
	return finish(&b, m, au);
}

static int do_allocate(struct turn_server *s, const struct turn_ctx *c, const struct stun_msg *m,
		       const struct auth *au, uint8_t *out, size_t cap)
{
	struct turn_5tuple ft;
	ft_of(&ft, c);
	struct turn_alloc *old = turn_lookup_5tuple(s->tbl, &ft);
	if (old && old->expires <= s->now) {
		alloc_delete(s, old, true); /* expired, the timer just has not run yet */
		old = NULL;
	}
	if (old) {
		/* A retransmission of the request that created it gets the same answer. */
		if (!memcmp(old->tid, m->tid, 12) && !strcmp(old->username, au->username))
			return alloc_success(s, c, m, au, old, 0, 0, out, cap);
		return err_resp(s, c, m, 437, au, out, cap);
	}
	/* Draining: send the client elsewhere (RFC 8489 10: authenticated, so the client can
	 * trust the alternate), or say no more allocations are made here. */
	if (s->draining)
		return err_resp(s, c, m, s->cfg.alternate.fam ? 300 : 486, au, out, cap);
	const struct stun_attr *rt = stun_attr_find(m, TURN_A_REQUESTED_TRANSPORT);
	if (!rt)
		return err_resp(s, c, m, 400, au, out, cap);
	if (m->buf[rt->off] != 17)
		return err_resp(s, c, m, 442, au, out, cap);
	const struct stun_attr *ep = stun_attr_find(m, TURN_A_EVEN_PORT);
	const struct stun_attr *tok = stun_attr_find(m, TURN_A_RESERVATION_TOKEN);
	const struct stun_attr *raf = stun_attr_find(m, TURN_A_REQUESTED_ADDR_FAMILY);
	const struct stun_attr *aaf = stun_attr_find(m, TURN_A_ADDITIONAL_ADDR_FAMILY);
	if (tok && (ep || raf || aaf))
		return err_resp(s, c, m, 400, au, out, cap);
	if (raf && aaf)
		return err_resp(s, c, m, 400, au, out, cap);
	bool want[2] = {true, false};
	if (raf) {
		uint8_t f = m->buf[raf->off];
		if (f != 1 && f != 2)
			return err_resp(s, c, m, 440, au, out, cap);
		want[0] = f == 1;
		want[1] = f == 2;
	}
	if (aaf) {
		if (m->buf[aaf->off] != 2) /* only IPv6 may be additional (RFC 8656 7.2) */
			return err_resp(s, c, m, 400, au, out, cap);
		want[1] = true;
	}
	int addr_err = 0;
	if (want[1] && !s->cfg.relay[1].fam) {
		if (!want[0])
			return err_resp(s, c, m, 440, au, out, cap);
		want[1] = false;
		addr_err = 440; /* dual requested: IPv4 only, say why (ADDRESS-ERROR-CODE) */
	}
	if (want[0] && !s->cfg.relay[0].fam)
		return err_resp(s, c, m, 440, au, out, cap);

	struct user_cnt *u = user_slot(s, au->quota_user, true);
	if (!u || (s->cfg.max_allocs_per_user && u->n >= s->cfg.max_allocs_per_user))
		return err_resp(s, c, m, 486, au, out, cap);

	struct resv *rv = NULL;
	if (tok) {
		uint64_t t = 0;
		for (int i = 0; i < 8; i++)
			t = t << 8 | m->buf[tok->off + i];
		rv = resv_find(s, t);
		if (!rv)
			return err_resp(s, c, m, 508, au, out, cap);
		want[0] = rv->fi == 0;
		want[1] = rv->fi == 1;
	}
	bool even = ep != NULL, reserve = ep && (m->buf[ep->off] & 0x80);
	struct turn_alloc *a = turn_alloc_get(s->tbl);
	if (!a)
		return err_resp(s, c, m, 508, au, out, cap);
	for (int fi = 0; fi < 2; fi++) {
		if (!want[fi])
			continue;
		uint16_t p;
		if (rv) {
			p = rv->port;
			resv_release(s, rv);
		} else {
			p = turn_port_pick(s->tbl, fi, even, reserve);
		}
		if (!p) {
			turn_alloc_put(s->tbl, a);
			return err_resp(s, c, m, 508, au, out, cap);
		}
		a->relay_port[fi] = p;
		turn_port_hold(s->tbl, fi, p, true); /* so the other family's pick cannot race */
	}
	uint64_t resv_token = 0;
	if (reserve) {
		int fi = want[0] ? 0 : 1;
		struct resv *r = NULL;
		for (unsigned i = 0; i < RESV_MAX && !r; i++)
			if (!s->resv[i].used || s->resv[i].expires <= s->now)
				r = &s->resv[i];
		if (!r) {
			for (int f = 0; f < 2; f++)
				if (a->relay_port[f])
					turn_port_hold(s->tbl, f, a->relay_port[f], false);
			turn_alloc_put(s->tbl, a);
			return err_resp(s, c, m, 508, au, out, cap);
		}
		if (r->used)
			resv_release(s, r);
		resv_token = mix64(++s->id_seq) | 1;
		*r = (struct resv){resv_token, s->now + RESV_LIFETIME,
				   (uint16_t)(a->relay_port[fi] + 1), (uint8_t)fi, 1};
		turn_port_hold(s->tbl, fi, r->port, true);
	}
	bool zero;
	uint32_t life = lifetime_of(s, m, &zero);
	if (zero)
		life = s->cfg.lifetime_default;
	a->ft = ft;
	a->id = mix64(++s->id_seq);
	memcpy(a->tid, m->tid, 12);
	a->created = s->now;
	a->expires = s->now + life;
	a->dont_fragment = stun_attr_find(m, TURN_A_DONT_FRAGMENT) != NULL;
	a->bw_rate = s->cfg.bw_bytes_per_s;
	a->bw_tokens = a->bw_rate;
	snprintf(a->username, sizeof(a->username), "%s", au->username);
	for (int f = 0; f < 2; f++)
		if (a->relay_port[f])
			turn_port_hold(s->tbl, f, a->relay_port[f], false);
	if (turn_alloc_publish(s->tbl, a) < 0) {
		turn_alloc_put(s->tbl, a);
		return err_resp(s, c, m, 508, au, out, cap);
	}
	u->n++;
	s->st.allocs_created++;
	notify(s, a, TURN_EV_CREATED);
	return alloc_success(s, c, m, au, a, resv_token, addr_err, out, cap);
}

/* The allocation of this 5-tuple, checked against the request's credentials. Returns it,
 * or NULL with *code set. */
static struct turn_alloc *alloc_for(struct turn_server *s, const struct turn_ctx *c,
				    const struct auth *au, int *code)
{
	struct turn_5tuple ft;
	ft_of(&ft, c);
	struct turn_alloc *a = turn_lookup_5tuple(s->tbl, &ft);
	if (!a || a->expires <= s->now) {
		*code = 437;
		return NULL;
	}
	if (strcmp(a->username, au->username)) {
		*code = 441;
		return NULL;
	}
	return a;
}

static int do_refresh(struct turn_server *s, const struct turn_ctx *c, const struct stun_msg *m,
		      const struct auth *au, uint8_t *out, size_t cap)
{
	int code;
	struct turn_alloc *a = alloc_for(s, c, au, &code);
	if (!a)
		return err_resp(s, c, m, code, au, out, cap);
	const struct stun_attr *raf = stun_attr_find(m, TURN_A_REQUESTED_ADDR_FAMILY);
	if (raf) {
		uint8_t f = m->buf[raf->off];
		if ((f != 1 && f != 2) || !a->relay_port[f - 1])
			return err_resp(s, c, m, 443, au, out, cap);
	}
	bool zero;
	uint32_t life = lifetime_of(s, m, &zero);
	if (zero) {
		alloc_delete(s, a, false); /* at once: the next request on it gets 437 */
	} else {
		__atomic_store_n(&a->expires, s->now + life, __ATOMIC_RELAXED);
		notify(s, a, TURN_EV_REFRESHED);
	}
	struct stun_builder b;
	success_begin(s, &b, m, out, cap);
	stun_b_u32(&b, TURN_A_LIFETIME, life);
	add_software(s, &b);
	return finish(&b, m, au);
}

/* Decodes and vets one XOR-PEER-ADDRESS. 0 or the error code. */
static int peer_check(struct turn_server *s, const struct stun_msg *m, const struct stun_attr *pa,
		      const struct turn_alloc *a, struct pr_taddr *peer)
{
	if (stun_attr_xaddr(m, pa, peer) < 0)
		return 400;
	int fi = peer->fam == 4 ? 0 : 1;
	if (!a->relay_port[fi])
		return 443;
	/* Our own relay addresses are always valid peers (client to client through the relay),
	 * whatever range they are in. */
	if (s->cfg.relay[fi].fam && !memcmp(s->cfg.relay[fi].ip, peer->ip, fi ? 16 : 4))
		return 0;
	if (turn_policy_check(&s->cfg.policy, peer->ip, peer->fam) != TURN_PEER_OK)
		return 403;
	return 0;
}

static int do_create_permission(struct turn_server *s, const struct turn_ctx *c,
				const struct stun_msg *m, const struct auth *au, uint8_t *out,
				size_t cap)
{
	int code;
	struct turn_alloc *a = alloc_for(s, c, au, &code);
	if (!a)
		return err_resp(s, c, m, code, au, out, cap);
	uint8_t peers[STUN_MAX_ATTRS][16];
	unsigned np = 0, fresh = 0;
	for (unsigned i = 0; i < m->n_attrs; i++) {
		if (m->attrs[i].type != TURN_A_XOR_PEER_ADDRESS)
			continue;
		struct pr_taddr p;
		int rc = peer_check(s, m, &m->attrs[i], a, &p);
		if (rc)
			return err_resp(s, c, m, rc, au, out, cap);
		turn_peer16(peers[np], p.ip, p.fam);
		bool known = false;
		for (unsigned k = 0; k < a->n_perm && !known; k++)
			known = !memcmp(a->perm[k].ip, peers[np], 16);
		for (unsigned k = 0; k < np && !known; k++)
			known = !memcmp(peers[k], peers[np], 16);
		fresh += !known;
		np++;
	}
	if (!np)
		return err_resp(s, c, m, 400, au, out, cap);
	if (a->n_perm + fresh > TURN_MAX_PERMS)
		return err_resp(s, c, m, 508, au, out, cap);
	for (unsigned i = 0; i < np; i++)
		turn_perm_set(a, peers[i], s->now + s->cfg.perm_lifetime);
	notify(s, a, TURN_EV_PERM);
	struct stun_builder b;
	success_begin(s, &b, m, out, cap);
	add_software(s, &b);
	return finish(&b, m, au);
}

static int do_channel_bind(struct turn_server *s, const struct turn_ctx *c,
			   const struct stun_msg *m, const struct auth *au, uint8_t *out,
			   size_t cap)
{
	int code;
	struct turn_alloc *a = alloc_for(s, c, au, &code);
	if (!a)
		return err_resp(s, c, m, code, au, out, cap);
	const struct stun_attr *cn = stun_attr_find(m, TURN_A_CHANNEL_NUMBER);
	const struct stun_attr *pa = stun_attr_find(m, TURN_A_XOR_PEER_ADDRESS);
	if (!cn || !pa)
		return err_resp(s, c, m, 400, au, out, cap);
	for (unsigned i = 0, n = 0; i < m->n_attrs; i++)
		if (m->attrs[i].type == TURN_A_XOR_PEER_ADDRESS && ++n > 1)
			return err_resp(s, c, m, 400, au, out, cap);
	uint16_t num = rd16(m->buf + cn->off);
	if (num < TURN_CHAN_MIN || num > s->cfg.chan_max)
		return err_resp(s, c, m, 400, au, out, cap);
	struct pr_taddr p;
	int rc = peer_check(s, m, pa, a, &p);
	if (rc)
		return err_resp(s, c, m, rc, au, out, cap);
	uint8_t p16[16];
	turn_peer16(p16, p.ip, p.fam);
	bool perm_known = false;
	for (unsigned k = 0; k < a->n_perm && !perm_known; k++)
		perm_known = !memcmp(a->perm[k].ip, p16, 16);
	if (!perm_known && a->n_perm >= TURN_MAX_PERMS)
		return err_resp(s, c, m, 508, au, out, cap);
	rc = turn_chan_set(a, num, p16, p.port, s->now + s->cfg.chan_lifetime);
	if (rc == -EINVAL)
		return err_resp(s, c, m, 400, au, out, cap);
	if (rc < 0)
		return err_resp(s, c, m, 508, au, out, cap);
	turn_perm_set(a, p16, s->now + s->cfg.perm_lifetime);
	notify(s, a, TURN_EV_CHAN);
	struct stun_builder b;
	success_begin(s, &b, m, out, cap);
	add_software(s, &b);
	return finish(&b, m, au);
}

int turn_server_request(struct turn_server *s, const struct turn_ctx *c, const uint8_t *pkt,
			size_t len, uint8_t *out, size_t cap)
{
	struct stun_msg m;
	int rc = stun_parse(&m, pkt, len);
	if (rc == STUN_E_NOT_STUN) {
		s->st.not_stun++;
		return 0;
	}
	if (m.i_fp >= 0) {
		const struct stun_attr *fa = &m.attrs[m.i_fp];
		if (pr_stun_fingerprint(pkt, (size_t)fa->off - 4) != stun_attr_u32(&m, fa)) {
			s->st.bad_fingerprint++;
			return 0; /* RFC 8489 7.3: not STUN after all */
		}
	}
	if (m.cls != STUN_REQUEST) {
		s->st.indications_ctl++;
		return 0; /* indications are data (workers); responses are not for us */
	}
	s->st.requests++;
	if (rc == STUN_E_MALFORMED) {
		s->st.malformed++;
		return err_resp(s, c, &m, 400, NULL, out, cap);
	}
	if (rc == STUN_E_UNKNOWN_ATTR)
		return err_resp(s, c, &m, 420, NULL, out, cap);
	if (m.method == STUN_BINDING)
		return do_binding(s, c, &m, out, cap);
	if (m.method != TURN_ALLOCATE && m.method != TURN_REFRESH &&
	    m.method != TURN_CREATE_PERMISSION && m.method != TURN_CHANNEL_BIND)
		return err_resp(s, c, &m, 400, NULL, out, cap);
	/* Where allocations are kept (Redis) is away: nothing is changed that could not be kept,
	 * and the client is told to try again (RFC 8489 14.8, 500), not that its credentials
	 * are wrong (the users are there too). Data and Binding go on. */
	if (s->store_down)
		return err_resp(s, c, &m, 500, NULL, out, cap);
	struct auth au;
	int code = authenticate(s, c, &m, &au);
	if (code == AUTH_PENDING) {
		s->st.requests--; /* counted when it comes back with the user's key */
		return -EINPROGRESS;
	}
	if (code)
		return err_resp(s, c, &m, code, NULL, out, cap);
	switch (m.method) {
	case TURN_ALLOCATE:
		rc = do_allocate(s, c, &m, &au, out, cap);
		break;
	case TURN_REFRESH:
		rc = do_refresh(s, c, &m, &au, out, cap);
		break;
	case TURN_CREATE_PERMISSION:
		rc = do_create_permission(s, c, &m, &au, out, cap);
		break;
	default:
		rc = do_channel_bind(s, c, &m, &au, out, cap);
		break;
	}
	memset(au.key, 0, sizeof(au.key));
	return rc;
}

/* ---------------------------------------------------------------- timers, admin */

unsigned turn_server_tick(struct turn_server *s)
{
	unsigned expired = 0;
	uint32_t idx = 0;
	struct turn_alloc *a;
	while ((a = turn_alloc_next(s->tbl, &idx))) {
		if (a->expires <= s->now) {
			alloc_delete(s, a, true);
			expired++;
			continue;
		}
		if (turn_alloc_expire_entries(a, s->now))
			notify(s, a, TURN_EV_EXPIRED_ENTRIES);
	}
	for (unsigned i = 0; i < RESV_MAX; i++)
		if (s->resv[i].used && s->resv[i].expires <= s->now)
			resv_release(s, &s->resv[i]);
	if (s->users_used > s->users_mask / 2)
		users_rebuild(s);
	turn_table_reclaim(s->tbl);
	return expired;
}

void turn_server_set_store_down(struct turn_server *s, bool down)
{
	s->store_down = down;
}

void turn_server_set_draining(struct turn_server *s, bool on)
{
	s->draining = on;
}

bool turn_server_draining(const struct turn_server *s)
{
	return s->draining;
}

unsigned turn_server_expire_all(struct turn_server *s)
{
	unsigned n = 0;
	uint32_t idx = 0;
	struct turn_alloc *a;
	while ((a = turn_alloc_next(s->tbl, &idx))) {
		alloc_delete(s, a, true);
		n++;
	}
	turn_table_reclaim(s->tbl);
	return n;
}

struct turn_alloc *turn_server_find_id(struct turn_server *s, uint64_t id)
{
	uint32_t idx = 0;
	struct turn_alloc *a;
	while ((a = turn_alloc_next(s->tbl, &idx)))
		if (a->id == id)
			return a;
	return NULL;
}

int turn_server_delete(struct turn_server *s, uint64_t id)
{
	struct turn_alloc *a = turn_server_find_id(s, id);
	if (!a)
		return -ENOENT;
	alloc_delete(s, a, false);
	return 0;
}

bool turn_server_relay_ours(const struct turn_server *s, int fi, const uint8_t *ip, uint16_t port)
{
	const struct pr_taddr *r = &s->cfg.relay[fi];
	return r->fam && !memcmp(r->ip, ip, fi ? 16 : 4) && turn_port_in_range(s->tbl, port);
}

void turn_server_count_orphan(struct turn_server *s)
{
	s->st.restore_orphaned++;
}

bool turn_server_relay_peer(const struct turn_server *s, int fi, const uint8_t *ip, uint16_t port)
{
	const struct pr_taddr *r = &s->cfg.peer_relay[fi];
	return r->fam && !memcmp(r->ip, ip, fi ? 16 : 4) && port >= s->cfg.peer_port_min &&
	       port <= s->cfg.peer_port_max;
}

static unsigned forget_set(struct turn_server *s, uint8_t set)
{
	uint32_t idx = 0;
	unsigned n = 0;
	struct turn_alloc *a;
	while ((a = turn_alloc_next(s->tbl, &idx))) {
		if (a->relay_set != set)
			continue;
		/* no TURN_EV_DELETED: its records stay for the peer */
		user_dec(s, a->username);
		turn_alloc_unpublish(s->tbl, a);
		n++;
	}
	return n;
}

unsigned turn_server_forget_peer(struct turn_server *s)
{
	return forget_set(s, 1);
}

unsigned turn_server_forget_own(struct turn_server *s)
{
	return forget_set(s, 0);
}

int turn_server_restore(struct turn_server *s, const struct turn_alloc *src)
{
	if (!src->username[0] || (!src->relay_port[0] && !src->relay_port[1]) ||
	    src->n_perm > TURN_MAX_PERMS || src->n_chan > TURN_MAX_CHANS)
		return -EINVAL;
	if (src->expires <= s->now)
		return -ESTALE;
	for (int f = 0; f < 2; f++) {
		if (!src->relay_port[f])
			continue;
		if (src->relay_set
			? !s->cfg.peer_relay[f].fam
			: (!s->cfg.relay[f].fam || !turn_port_free(s->tbl, f, src->relay_port[f])))
			return -EEXIST;
	}
	struct user_cnt *u = user_slot(s, quota_user_of(src->username), true);
	if (!u)
		return -ENOSPC;
	struct turn_alloc *a = turn_alloc_get(s->tbl);
	if (!a)
		return -ENOSPC;
	memcpy(a, src, sizeof(*a));
	a->in_use = 0;
	a->seq = 0;
	a->dirty = 0;
	a->username[TURN_USERNAME_MAX - 1] = 0;
	a->bw_tokens = a->bw_rate;
	a->bw_last_us = 0;
	turn_alloc_link_chans(a);
	int rc = turn_alloc_publish(s->tbl, a);
	if (rc < 0) {
		turn_alloc_put(s->tbl, a);
		return rc;
	}
	u->n++;
	return 0;
}
