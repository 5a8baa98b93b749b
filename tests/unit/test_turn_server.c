/* SPDX-License-Identifier: BSD-3-Clause */
/* TURN request state machine and data path, driven as a client would: challenge,
 * authenticated requests, every error code, the relay decisions, quotas, expiry. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "crypto/stun_auth.h"
#include "dataplane/turn/turn_server.h"
#include "tests/inet_ref.h"

static struct turn_table *tbl;
static struct turn_server *srv;
static struct turn_cfg cfg;
static char rest_secret[2][TURN_SECRET_MAX] = {"first-secret", ""};
static uint32_t now = 1800000000u;
static int events[8];

static int user_key(void *arg, const char *user, const char *realm, int alg, uint8_t key[32])
{
	(void)arg;
	if (!strcmp(user, "pending")) /* the store is fetching it */
		return -EINPROGRESS;
	if (!strcmp(user, "busy")) /* the store cannot take the read */
		return -ENOBUFS;
	const char *pw = !strcmp(user, "alice") ? "wonderland"
			 : !strcmp(user, "bob") ? "builder"
						: NULL;
	if (!pw)
		return -ENOENT;
	if (alg == STUN_PWALG_SHA256)
		pr_ha1_sha256(user, realm, pw, key);
	else
		pr_ha1_md5(user, realm, pw, key);
	return 0;
}

static int rest_secrets(void *arg, char out[][TURN_SECRET_MAX], int max)
{
	(void)arg;
	int n = 0;
	for (int i = 0; i < 2 && n < max; i++)
		if (rest_secret[i][0])
			memcpy(out[n++], rest_secret[i], TURN_SECRET_MAX);
	return n;
}

static void hook(void *arg, const struct turn_alloc *a, enum turn_event ev)
{
	(void)arg;
	(void)a;
	events[ev]++;
}

static bool shared_counters; /* cfg.shared_p2c_counters of the next setup() */

static void setup(uint32_t max_allocs, uint16_t pmin, uint16_t pmax, bool v6)
{
	turn_server_destroy(srv);
	turn_table_destroy(tbl);
	turn_cfg_defaults(&cfg);
	cfg.shared_p2c_counters = shared_counters;
	snprintf(cfg.realm, sizeof(cfg.realm), "pop.example");
	memset(cfg.nonce_secret, 0x42, sizeof(cfg.nonce_secret));
	pr_taddr_from_str(&cfg.relay[0], "192.0.2.10", 0);
	if (v6)
		pr_taddr_from_str(&cfg.relay[1], "2001:db8::10", 0);
	cfg.max_allocs_per_user = 3;
	tbl = turn_table_create(max_allocs, pmin, pmax, NULL, NULL);
	struct turn_cred_ops cred = {user_key, rest_secrets, NULL};
	struct turn_hooks hooks = {hook, NULL};
	srv = turn_server_create(&cfg, tbl, &cred, &hooks);
	CU_ASSERT_FATAL(srv != NULL);
	turn_server_set_now(srv, now);
	memset(events, 0, sizeof(events));
}

static struct turn_ctx ctx_of(const char *cli, uint16_t port)
{
	struct turn_ctx c;
	pr_taddr_from_str(&c.cli, cli, port);
	pr_taddr_from_str(&c.srv, strchr(cli, ':') ? "2001:db8::1" : "192.0.2.1", 3478);
	return c;
}

/* A client: remembers realm/nonce from the last challenge. */
struct cli {
	struct turn_ctx c;
	const char *user, *pass;
	char realm[64], nonce[128];
	int alg; /* 0: no PASSWORD-ALGORITHM(S), else the algorithm to name */
	bool sha256_mi;
	uint8_t tid[12];
	uint8_t key[32];
	size_t klen;
};

typedef void (*add_fn)(struct stun_builder *b, void *arg);

static uint8_t resp_buf[2048];
static struct stun_msg resp;
static int resp_len;
static int tid_ctr;

/* Sends one request; returns the response's error code, 0 for success, -1 for no answer. */
static int send_req(struct cli *k, uint16_t method, add_fn add, void *arg, bool auth, bool fp)
{
	uint8_t req[1024];
	struct stun_builder b;
	tid_ctr++;
	memcpy(k->tid, &tid_ctr, sizeof(tid_ctr));
	memset(k->tid + 4, 0x77, 8);
	stun_b_init(&b, req, sizeof(req), method, STUN_REQUEST, k->tid);
	if (add)
		add(&b, arg);
	if (auth) {
		stun_b_attr(&b, STUN_A_USERNAME, k->user, (uint16_t)strlen(k->user));
		stun_b_attr(&b, STUN_A_REALM, k->realm, (uint16_t)strlen(k->realm));
		stun_b_attr(&b, STUN_A_NONCE, k->nonce, (uint16_t)strlen(k->nonce));
		if (k->alg) {
			uint8_t pa[4] = {0, (uint8_t)k->alg, 0, 0};
			stun_b_attr(&b, STUN_A_PASSWORD_ALGORITHMS,
				    "\x00\x01\x00\x00\x00\x02\x00\x00", 8);
			stun_b_attr(&b, STUN_A_PASSWORD_ALGORITHM, pa, 4);
		}
		k->klen = k->alg == STUN_PWALG_SHA256 ? 32 : 16;
		if (k->klen == 32)
			pr_ha1_sha256(k->user, k->realm, k->pass, k->key);
		else
			pr_ha1_md5(k->user, k->realm, k->pass, k->key);
		uint16_t t =
		    k->sha256_mi ? STUN_A_MESSAGE_INTEGRITY_SHA256 : STUN_A_MESSAGE_INTEGRITY;
		int off = stun_b_reserve(&b, t, k->sha256_mi ? 32 : 20);
		if (k->sha256_mi)
			pr_hmac_sha256(k->key, k->klen, req, (size_t)off - 4, req + off);
		else
			pr_hmac_sha1(k->key, k->klen, req, (size_t)off - 4, req + off);
	}
	if (fp) {
		int off = stun_b_reserve(&b, STUN_A_FINGERPRINT, 4);
		uint32_t v = pr_stun_fingerprint(req, (size_t)off - 4);
		req[off] = v >> 24;
		req[off + 1] = v >> 16;
		req[off + 2] = v >> 8;
		req[off + 3] = v;
	}
	CU_ASSERT_FATAL(b.err == 0);
	resp_len = turn_server_request(srv, &k->c, req, b.len, resp_buf, sizeof(resp_buf));
	if (resp_len <= 0)
		return -1;
	CU_ASSERT_FATAL(stun_parse(&resp, resp_buf, (size_t)resp_len) == STUN_OK);
	CU_ASSERT(!memcmp(resp.tid, k->tid, 12));
	CU_ASSERT(resp.method == method);
	if (fp && resp.i_fp < 0) {
		/* only a request that could not be parsed up to its FINGERPRINT lacks one */
		CU_ASSERT(resp.cls == STUN_ERROR && resp_buf[24 + 2] == 4 && resp_buf[24 + 3] == 0);
	} else if (fp) {
		const struct stun_attr *fa = &resp.attrs[resp.i_fp];
		CU_ASSERT(pr_stun_fingerprint(resp_buf, (size_t)fa->off - 4) ==
			  stun_attr_u32(&resp, fa));
	}
	int code = 0;
	if (resp.cls == STUN_ERROR) {
		const struct stun_attr *e = stun_attr_find(&resp, STUN_A_ERROR_CODE);
		CU_ASSERT_FATAL(e != NULL);
		code = resp_buf[e->off + 2] * 100 + resp_buf[e->off + 3];
	} else {
		CU_ASSERT(resp.cls == STUN_SUCCESS);
	}
	if (code == 401 || code == 438) {
		/* a challenge: never integrity-protected, bounded in size, carries realm+nonce */
		CU_ASSERT(resp.i_mi < 0 && resp.i_mi256 < 0);
		CU_ASSERT((size_t)resp_len <= (size_t)b.len + TURN_AMP_SLACK);
		const struct stun_attr *r = stun_attr_find(&resp, STUN_A_REALM);
		const struct stun_attr *n = stun_attr_find(&resp, STUN_A_NONCE);
		CU_ASSERT_FATAL(r && n);
		memcpy(k->realm, resp_buf + r->off, r->len);
		k->realm[r->len] = 0;
		memcpy(k->nonce, resp_buf + n->off, n->len);
		k->nonce[n->len] = 0;
		CU_ASSERT(stun_attr_find(&resp, STUN_A_PASSWORD_ALGORITHMS) != NULL);
	} else if (auth && code != 400 && code != 420 && code != 500) {
		/* authenticated answers carry the integrity the request used (a 500 is sent
		 * before the credentials could be checked: without) */
		int idx = k->sha256_mi ? resp.i_mi256 : resp.i_mi;
		CU_ASSERT_FATAL(idx >= 0);
		uint8_t tmp[2048], mac[32];
		int n = stun_integrity_input(&resp, idx, tmp, sizeof(tmp));
		if (k->sha256_mi)
			pr_hmac_sha256(k->key, k->klen, tmp, (size_t)n, mac);
		else
			pr_hmac_sha1(k->key, k->klen, tmp, (size_t)n, mac);
		CU_ASSERT(!memcmp(mac, resp_buf + resp.attrs[idx].off, k->sha256_mi ? 32 : 20));
	}
	return code;
}

/* Request with the challenge dance: unauthenticated first when we have no nonce. */
static int req(struct cli *k, uint16_t method, add_fn add, void *arg)
{
	if (!k->nonce[0]) {
		int code = send_req(k, method, add, arg, false, true);
		if (code != 401)
			return code;
	}
	int code = send_req(k, method, add, arg, true, true);
	if (code == 438)
		code = send_req(k, method, add, arg, true, true);
	return code;
}

static void add_udp(struct stun_builder *b, void *arg)
{
	(void)arg;
	stun_b_u32(b, TURN_A_REQUESTED_TRANSPORT, 17u << 24);
}

static struct cli client(const char *ip, uint16_t port, const char *user, const char *pass)
{
	struct cli k;
	memset(&k, 0, sizeof(k));
	k.c = ctx_of(ip, port);
	k.user = user;
	k.pass = pass;
	return k;
}

static bool relayed(struct pr_taddr *out, int nth)
{
	for (unsigned i = 0; i < resp.n_attrs; i++)
		if (resp.attrs[i].type == TURN_A_XOR_RELAYED_ADDRESS && nth-- == 0)
			return stun_attr_xaddr(&resp, &resp.attrs[i], out) == 0;
	return false;
}

static void test_binding(void)
{
	setup(16, 50000, 50100, true);
	struct cli k = client("198.51.100.20", 40000, "alice", "wonderland");
	CU_ASSERT_EQUAL(send_req(&k, STUN_BINDING, NULL, NULL, false, false), 0);
	struct pr_taddr m;
	CU_ASSERT(stun_attr_xaddr(&resp, stun_attr_find(&resp, STUN_A_XOR_MAPPED_ADDRESS), &m) ==
		  0);
	CU_ASSERT(pr_taddr_eq(&m, &k.c.cli));
	CU_ASSERT(resp_len <= 2 * 20);
	CU_ASSERT_EQUAL(send_req(&k, STUN_BINDING, NULL, NULL, false, true), 0);
	CU_ASSERT(resp_len <= 2 * 28);
	/* IPv6: 44 bytes would answer a 20-byte request: refused (amplification) */
	struct cli k6 = client("2001:db8:5::20", 40000, "alice", "wonderland");
	CU_ASSERT_EQUAL(send_req(&k6, STUN_BINDING, NULL, NULL, false, false), -1);
	CU_ASSERT(turn_server_stats(srv)->amp_dropped == 1);
	CU_ASSERT_EQUAL(send_req(&k6, STUN_BINDING, NULL, NULL, false, true), 0);
	CU_ASSERT(resp_len <= 2 * 28);
}

static void test_allocate_basic(void)
{
	setup(16, 50000, 50100, true);
	struct cli k = client("198.51.100.20", 40000, "alice", "wonderland");
	CU_ASSERT_EQUAL(send_req(&k, TURN_ALLOCATE, add_udp, NULL, false, true), 401);
	CU_ASSERT_STRING_EQUAL(k.realm, "pop.example");
	CU_ASSERT(!strncmp(k.nonce, "obMatJos2", 9));
	CU_ASSERT_EQUAL(send_req(&k, TURN_ALLOCATE, add_udp, NULL, true, true), 0);
	struct pr_taddr r, want;
	CU_ASSERT_FATAL(relayed(&r, 0));
	pr_taddr_from_str(&want, "192.0.2.10", r.port);
	CU_ASSERT(pr_taddr_eq(&r, &want));
	CU_ASSERT(r.port >= 50000 && r.port <= 50100);
	CU_ASSERT(!relayed(&r, 1)); /* IPv4 only by default */
	CU_ASSERT_EQUAL(stun_attr_u32(&resp, stun_attr_find(&resp, TURN_A_LIFETIME)), 600);
	CU_ASSERT(stun_attr_find(&resp, STUN_A_XOR_MAPPED_ADDRESS) != NULL);
	CU_ASSERT_EQUAL(events[TURN_EV_CREATED], 1);
	uint16_t port = r.port;

	/* retransmission (same transaction): same answer; new transaction: 437 */
	int saved = tid_ctr;
	tid_ctr--;
	CU_ASSERT_EQUAL(send_req(&k, TURN_ALLOCATE, add_udp, NULL, true, true), 0);
	CU_ASSERT(relayed(&r, 0) && r.port == port);
	tid_ctr = saved;
	CU_ASSERT_EQUAL(send_req(&k, TURN_ALLOCATE, add_udp, NULL, true, true), 437);

	/* lifetime clamp: 99999 -> 3600; tiny -> default */
	struct cli k2 = client("198.51.100.21", 40000, "alice", "wonderland");
	uint32_t lt = 99999;
	add_fn with_lt = NULL;
	(void)with_lt;
	(void)lt;
	CU_ASSERT_EQUAL(req(&k2, TURN_REFRESH, NULL, NULL), 437); /* no allocation yet */
}

static void add_udp_lifetime(struct stun_builder *b, void *arg)
{
	add_udp(b, NULL);
	stun_b_u32(b, TURN_A_LIFETIME, *(uint32_t *)arg);
}

static void add_lifetime(struct stun_builder *b, void *arg)
{
	stun_b_u32(b, TURN_A_LIFETIME, *(uint32_t *)arg);
}

static void test_lifetimes(void)
{
	setup(16, 50000, 50100, false);
	struct cli k = client("198.51.100.22", 40000, "alice", "wonderland");
	uint32_t lt = 99999;
	CU_ASSERT_EQUAL(req(&k, TURN_ALLOCATE, add_udp_lifetime, &lt), 0);
	CU_ASSERT_EQUAL(stun_attr_u32(&resp, stun_attr_find(&resp, TURN_A_LIFETIME)), 3600);
	lt = 30;
	CU_ASSERT_EQUAL(req(&k, TURN_REFRESH, add_lifetime, &lt), 0);
	CU_ASSERT_EQUAL(stun_attr_u32(&resp, stun_attr_find(&resp, TURN_A_LIFETIME)), 600);
	CU_ASSERT_EQUAL(events[TURN_EV_REFRESHED], 1);
	/* expiry on the timer */
	now += 601;
	turn_server_set_now(srv, now);
	CU_ASSERT_EQUAL(turn_server_tick(srv), 1);
	CU_ASSERT_EQUAL(turn_table_count(tbl), 0);
	CU_ASSERT_EQUAL(events[TURN_EV_DELETED], 1);
	CU_ASSERT_EQUAL(req(&k, TURN_REFRESH, NULL, NULL), 437);
}

static void test_auth_failures(void)
{
	setup(16, 50000, 50100, false);
	struct cli k = client("198.51.100.23", 40000, "alice", "not-the-password");
	CU_ASSERT_EQUAL(req(&k, TURN_ALLOCATE, add_udp, NULL), 401);
	struct cli u = client("198.51.100.23", 40001, "mallory", "x");
	CU_ASSERT_EQUAL(req(&u, TURN_ALLOCATE, add_udp, NULL), 401);
	/* wrong realm: 401 that names the right one */
	struct cli w = client("198.51.100.23", 40002, "alice", "wonderland");
	CU_ASSERT_EQUAL(send_req(&w, TURN_ALLOCATE, add_udp, NULL, false, true), 401);
	snprintf(w.realm, sizeof(w.realm), "evil.example");
	CU_ASSERT_EQUAL(send_req(&w, TURN_ALLOCATE, add_udp, NULL, true, true), 401);
	CU_ASSERT_STRING_EQUAL(w.realm, "pop.example");
	CU_ASSERT_EQUAL(send_req(&w, TURN_ALLOCATE, add_udp, NULL, true, true), 0);
	/* stale nonce: 438 with a fresh one, which then works */
	struct cli s = client("198.51.100.23", 40003, "alice", "wonderland");
	CU_ASSERT_EQUAL(send_req(&s, TURN_ALLOCATE, add_udp, NULL, false, true), 401);
	now += cfg.nonce_lifetime + 1;
	turn_server_set_now(srv, now);
	char old[128];
	snprintf(old, sizeof(old), "%s", s.nonce);
	CU_ASSERT_EQUAL(send_req(&s, TURN_ALLOCATE, add_udp, NULL, true, true), 438);
	CU_ASSERT(strcmp(old, s.nonce) != 0);
	CU_ASSERT_EQUAL(send_req(&s, TURN_ALLOCATE, add_udp, NULL, true, true), 0);
	/* a forged nonce, and a nonce issued to another address */
	struct cli f = client("198.51.100.24", 40000, "alice", "wonderland");
	snprintf(f.realm, sizeof(f.realm), "pop.example");
	snprintf(f.nonce, sizeof(f.nonce), "obMatJos2gAAA%032d", 7);
	CU_ASSERT_EQUAL(send_req(&f, TURN_ALLOCATE, add_udp, NULL, true, true), 438);
	snprintf(f.nonce, sizeof(f.nonce), "%s", s.nonce);
	CU_ASSERT_EQUAL(send_req(&f, TURN_ALLOCATE, add_udp, NULL, true, true), 438);
	/* MESSAGE-INTEGRITY without USERNAME etc.: 400 */
	CU_ASSERT(turn_nonce_check(srv, &s.c.cli, now, s.nonce, strlen(s.nonce)) == 0);
	CU_ASSERT(turn_nonce_check(srv, &s.c.cli, now + 10000, s.nonce, strlen(s.nonce)) ==
		  -ESTALE);
	CU_ASSERT(turn_nonce_check(srv, &f.c.cli, now, s.nonce, strlen(s.nonce)) == -EINVAL);
}

/* The store behind the credentials: a key being fetched, a store that cannot answer, and
 * the store away. */
static void test_store_states(void)
{
	setup(16, 50000, 50100, false);
	struct cli p = client("198.51.100.25", 40000, "pending", "x");
	CU_ASSERT_EQUAL(send_req(&p, TURN_ALLOCATE, add_udp, NULL, false, true), 401);
	uint64_t reqs = turn_server_stats(srv)->requests;
	CU_ASSERT_EQUAL(send_req(&p, TURN_ALLOCATE, add_udp, NULL, true, true), -1);
	CU_ASSERT_EQUAL(resp_len, -EINPROGRESS); /* nothing done: handed in again later */
	CU_ASSERT_EQUAL(turn_server_stats(srv)->requests, reqs);
	CU_ASSERT_EQUAL(turn_table_count(tbl), 0);
	struct cli b = client("198.51.100.25", 40001, "busy", "x");
	CU_ASSERT_EQUAL(send_req(&b, TURN_ALLOCATE, add_udp, NULL, false, true), 401);
	CU_ASSERT_EQUAL(send_req(&b, TURN_ALLOCATE, add_udp, NULL, true, true), 500);
	/* away: every state-changing request 500 before authentication; Binding served */
	struct cli a = client("198.51.100.25", 40002, "alice", "wonderland");
	CU_ASSERT_EQUAL(req(&a, TURN_ALLOCATE, add_udp, NULL), 0);
	turn_server_set_store_down(srv, true);
	struct cli n = client("198.51.100.25", 40003, "alice", "wonderland");
	CU_ASSERT_EQUAL(send_req(&n, TURN_ALLOCATE, add_udp, NULL, false, true), 500);
	CU_ASSERT_EQUAL(send_req(&a, TURN_REFRESH, NULL, NULL, true, true), 500);
	CU_ASSERT_EQUAL(send_req(&a, STUN_BINDING, NULL, NULL, false, true), 0);
	CU_ASSERT_EQUAL(turn_table_count(tbl), 1); /* the live one goes on */
	turn_server_set_store_down(srv, false);
	CU_ASSERT_EQUAL(send_req(&a, TURN_REFRESH, NULL, NULL, true, true), 0);
}

static void add_tcp(struct stun_builder *b, void *arg)
{
	(void)arg;
	stun_b_u32(b, TURN_A_REQUESTED_TRANSPORT, 6u << 24);
}

static void add_unknown(struct stun_builder *b, void *arg)
{
	(void)arg;
	add_udp(b, NULL);
	stun_b_attr(b, 0x0031, "zz", 2);
}

static void add_family(struct stun_builder *b, void *arg)
{
	add_udp(b, NULL);
	uint32_t f = *(uint32_t *)arg;
	stun_b_u32(b, (uint16_t)(f >> 16), (f & 0xff) << 24);
}

static void test_allocate_errors(void)
{
	setup(16, 50000, 50100, false);
	struct cli k = client("198.51.100.25", 40000, "alice", "wonderland");
	CU_ASSERT_EQUAL(req(&k, TURN_ALLOCATE, NULL, NULL), 400);
	CU_ASSERT_EQUAL(req(&k, TURN_ALLOCATE, add_tcp, NULL), 442);
	CU_ASSERT_EQUAL(send_req(&k, TURN_ALLOCATE, add_unknown, NULL, false, true), 420);
	const struct stun_attr *ua = stun_attr_find(&resp, STUN_A_UNKNOWN_ATTRIBUTES);
	CU_ASSERT(ua && ua->len == 2 && resp_buf[ua->off + 1] == 0x31);
	uint32_t fam = (uint32_t)TURN_A_REQUESTED_ADDR_FAMILY << 16 | 2;
	CU_ASSERT_EQUAL(req(&k, TURN_ALLOCATE, add_family, &fam), 440); /* no IPv6 relay here */
	fam = (uint32_t)TURN_A_REQUESTED_ADDR_FAMILY << 16 | 3;
	CU_ASSERT_EQUAL(req(&k, TURN_ALLOCATE, add_family, &fam), 440);
	fam = (uint32_t)TURN_A_ADDITIONAL_ADDR_FAMILY << 16 | 1;
	CU_ASSERT_EQUAL(req(&k, TURN_ALLOCATE, add_family, &fam), 400);
	/* dual-stack asked where only IPv4 exists: IPv4 plus ADDRESS-ERROR-CODE 440 */
	fam = (uint32_t)TURN_A_ADDITIONAL_ADDR_FAMILY << 16 | 2;
	CU_ASSERT_EQUAL(req(&k, TURN_ALLOCATE, add_family, &fam), 0);
	const struct stun_attr *ae = stun_attr_find(&resp, TURN_A_ADDRESS_ERROR_CODE);
	CU_ASSERT(ae && resp_buf[ae->off] == 2 && resp_buf[ae->off + 2] == 4 &&
		  resp_buf[ae->off + 3] == 40);
	/* unknown method */
	CU_ASSERT_EQUAL(send_req(&k, 0x00a, NULL, NULL, false, true), 400);
	/* malformed request: 400, bounded */
	uint8_t bad[28] = {0x00, 0x03, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42};
	memcpy(bad + 20, "\x00\x0d\x00\x09\0\0\0\0", 8); /* LIFETIME length past the end */
	int n = turn_server_request(srv, &k.c, bad, sizeof(bad), resp_buf, sizeof(resp_buf));
	CU_ASSERT(n > 0 && n <= 28 + TURN_AMP_SLACK);
	CU_ASSERT(stun_parse(&resp, resp_buf, (size_t)n) == STUN_OK && resp.cls == STUN_ERROR);
	/* a bad FINGERPRINT: silently dropped */
	uint8_t fpbad[28] = {0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42};
	memcpy(fpbad + 20, "\x80\x28\x00\x04\1\2\3\4", 8);
	CU_ASSERT_EQUAL(turn_server_request(srv, &k.c, fpbad, 28, resp_buf, sizeof(resp_buf)), 0);
	CU_ASSERT_EQUAL(turn_server_stats(srv)->bad_fingerprint, 1);
	/* not STUN at all */
	CU_ASSERT_EQUAL(turn_server_request(srv, &k.c, (const uint8_t *)"hello world!", 12,
					    resp_buf, sizeof(resp_buf)),
			0);
}

static void test_dual_stack(void)
{
	setup(16, 50000, 50100, true);
	struct cli k = client("198.51.100.26", 40000, "alice", "wonderland");
	uint32_t fam = (uint32_t)TURN_A_ADDITIONAL_ADDR_FAMILY << 16 | 2;
	CU_ASSERT_EQUAL(req(&k, TURN_ALLOCATE, add_family, &fam), 0);
	struct pr_taddr r4, r6;
	CU_ASSERT(relayed(&r4, 0) && r4.fam == 4);
	CU_ASSERT(relayed(&r6, 1) && r6.fam == 6);
	struct cli k6 = client("198.51.100.26", 40001, "alice", "wonderland");
	fam = (uint32_t)TURN_A_REQUESTED_ADDR_FAMILY << 16 | 2;
	CU_ASSERT_EQUAL(req(&k6, TURN_ALLOCATE, add_family, &fam), 0);
	CU_ASSERT(relayed(&r6, 0) && r6.fam == 6);
	CU_ASSERT(!relayed(&r4, 1));
	/* Refresh naming a family the allocation lacks: 443 */
	fam = 1;
	struct cli *kk = &k6;
	uint32_t raf = (uint32_t)TURN_A_REQUESTED_ADDR_FAMILY << 16 | 1;
	(void)fam;
	CU_ASSERT_EQUAL(req(kk, TURN_REFRESH, add_family, &raf), 443);
}

struct peers {
	const char *ip[4];
	uint16_t port;
	int n;
};

static void add_peers(struct stun_builder *b, void *arg)
{
	struct peers *p = arg;
	for (int i = 0; i < p->n; i++) {
		struct pr_taddr a;
		pr_taddr_from_str(&a, p->ip[i], p->port);
		stun_b_xaddr(b, TURN_A_XOR_PEER_ADDRESS, &a);
	}
}

struct bind {
	uint32_t chan;
	const char *ip;
	uint16_t port;
};

static void add_bind(struct stun_builder *b, void *arg)
{
	struct bind *x = arg;
	struct pr_taddr a;
	stun_b_u32(b, TURN_A_CHANNEL_NUMBER, x->chan << 16);
	if (x->ip) {
		pr_taddr_from_str(&a, x->ip, x->port);
		stun_b_xaddr(b, TURN_A_XOR_PEER_ADDRESS, &a);
	}
}

static void add_bad_peer(struct stun_builder *b, void *arg)
{
	(void)arg;
	stun_b_attr(b, TURN_A_XOR_PEER_ADDRESS, "\x00\x07\x12\x34\1\2\3\4", 8);
}

static void test_permissions(void)
{
	setup(16, 50000, 50100, true);
	struct cli k = client("198.51.100.27", 40000, "alice", "wonderland");
	uint32_t fam = (uint32_t)TURN_A_ADDITIONAL_ADDR_FAMILY << 16 | 2;
	CU_ASSERT_EQUAL(req(&k, TURN_ALLOCATE, add_family, &fam), 0);
	const char *bad[] = {"127.0.0.1",	  "10.1.2.3",	  "192.168.0.1",
			     "169.254.169.254",	  "0.0.0.0",	  "224.0.0.5",
			     "255.255.255.255",	  "100.64.1.1",	  "::1",
			     "fc00::5",		  "fe80::1",	  "::ffff:127.0.0.1",
			     "64:ff9b::10.0.0.1", "2002:a00:1::", "ff02::1",
			     "203.0.113.9"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct peers p = {{bad[i]}, 3000, 1};
		int code = req(&k, TURN_CREATE_PERMISSION, add_peers, &p);
		if (code != 403)
			fprintf(stderr, "peer %s -> %d\n", bad[i], code);
		CU_ASSERT_EQUAL(code, 403);
	}
	/* an unparseable peer address is a 400, never a success */
	CU_ASSERT_EQUAL(req(&k, TURN_CREATE_PERMISSION, add_bad_peer, NULL), 400);
	CU_ASSERT_EQUAL(req(&k, TURN_CREATE_PERMISSION, NULL, NULL), 400);
	/* one bad among good ones: all refused, none installed */
	struct peers mix = {{"8.8.8.8", "10.0.0.1"}, 3000, 2};
	CU_ASSERT_EQUAL(req(&k, TURN_CREATE_PERMISSION, add_peers, &mix), 403);
	struct turn_alloc *a = turn_server_find_id(srv, 0) ? NULL : NULL;
	uint32_t idx = 0;
	a = turn_alloc_next(tbl, &idx);
	CU_ASSERT_FATAL(a != NULL);
	CU_ASSERT_EQUAL(a->n_perm, 0);
	struct peers ok = {{"8.8.8.8", "2001:4860:4860::8888", "1.1.1.1"}, 3000, 3};
	CU_ASSERT_EQUAL(req(&k, TURN_CREATE_PERMISSION, add_peers, &ok), 0);
	CU_ASSERT_EQUAL(a->n_perm, 3);
	CU_ASSERT_EQUAL(events[TURN_EV_PERM], 1);
	/* capacity: 508 when the table of permissions is full */
	char ips[TURN_MAX_PERMS][32];
	int code = 0;
	for (int i = 0; i < TURN_MAX_PERMS && code == 0; i++) {
		snprintf(ips[i], sizeof(ips[i]), "8.8.9.%d", i + 1);
		struct peers p = {{ips[i]}, 1, 1};
		code = req(&k, TURN_CREATE_PERMISSION, add_peers, &p);
	}
	CU_ASSERT_EQUAL(code, 508);
	/* a permission lasts 300 s */
	now += 301;
	turn_server_set_now(srv, now);
	turn_server_tick(srv);
	CU_ASSERT_EQUAL(a->n_perm, 0);
	/* peer allowed by config */
	struct turn_policy pol = cfg.policy;
	turn_policy_allow(&pol, "203.0.113.0/24");
	turn_server_set_policy(srv, &pol);
	struct peers tn = {{"203.0.113.9"}, 3000, 1};
	CU_ASSERT_EQUAL(req(&k, TURN_CREATE_PERMISSION, add_peers, &tn), 0);
	/* IPv4-only allocation, IPv6 peer: 443 */
	struct cli k4 = client("198.51.100.27", 40001, "alice", "wonderland");
	CU_ASSERT_EQUAL(req(&k4, TURN_ALLOCATE, add_udp, NULL), 0);
	struct peers v6 = {{"2001:4860:4860::8888"}, 3000, 1};
	CU_ASSERT_EQUAL(req(&k4, TURN_CREATE_PERMISSION, add_peers, &v6), 443);
}

static void test_channels_and_data(void)
{
	setup(16, 50000, 50100, false);
	struct cli k = client("198.51.100.28", 40000, "alice", "wonderland");
	CU_ASSERT_EQUAL(req(&k, TURN_ALLOCATE, add_udp, NULL), 0);
	struct pr_taddr relay;
	CU_ASSERT_FATAL(relayed(&relay, 0));
	struct bind bad_num = {0x3fff, "8.8.8.8", 5000};
	CU_ASSERT_EQUAL(req(&k, TURN_CHANNEL_BIND, add_bind, &bad_num), 400);
	struct bind hi = {0x5000, "8.8.8.8", 5000};
	CU_ASSERT_EQUAL(req(&k, TURN_CHANNEL_BIND, add_bind, &hi), 400);
	/* RFC 5766 numbers only when configured for old clients */
	struct bind old = {0x7acd, "8.8.8.8", 5000};
	CU_ASSERT_EQUAL(req(&k, TURN_CHANNEL_BIND, add_bind, &old), 400);
	struct bind nopeer = {0x4000, NULL, 0};
	CU_ASSERT_EQUAL(req(&k, TURN_CHANNEL_BIND, add_bind, &nopeer), 400);
	struct bind priv = {0x4000, "192.168.1.1", 5000};
	CU_ASSERT_EQUAL(req(&k, TURN_CHANNEL_BIND, add_bind, &priv), 403);
	struct bind good = {0x4000, "8.8.8.8", 5000};
	CU_ASSERT_EQUAL(req(&k, TURN_CHANNEL_BIND, add_bind, &good), 0);
	CU_ASSERT_EQUAL(req(&k, TURN_CHANNEL_BIND, add_bind, &good), 0); /* refresh */
	struct bind other = {0x4000, "8.8.4.4", 5000};
	CU_ASSERT_EQUAL(req(&k, TURN_CHANNEL_BIND, add_bind, &other), 400);
	struct bind again = {0x4001, "8.8.8.8", 5000};
	CU_ASSERT_EQUAL(req(&k, TURN_CHANNEL_BIND, add_bind, &again), 400);
	CU_ASSERT_EQUAL(events[TURN_EV_CHAN], 2);

	/* ChannelData client -> peer */
	uint8_t cd[8] = {0x40, 0x00, 0x00, 0x03, 'a', 'b', 'c', 0};
	struct turn_fwd f;
	uint64_t rnd = 1;
	turn_from_client(srv, &k.c, cd, 7, 1000, &rnd, &f);
	CU_ASSERT_EQUAL(f.kind, TURN_FWD_PEER);
	struct pr_taddr peer;
	pr_taddr_from_str(&peer, "8.8.8.8", 5000);
	CU_ASSERT(pr_taddr_eq(&f.dst, &peer));
	CU_ASSERT(pr_taddr_eq(&f.src, &relay));
	CU_ASSERT(f.strip == 4 && f.keep == 3);
	cd[1] = 0x07; /* unbound channel */
	turn_from_client(srv, &k.c, cd, 7, 1000, &rnd, &f);
	CU_ASSERT(f.kind == TURN_FWD_DROP && f.drop == TURN_DROP_NO_CHANNEL);
	/* another client's 5-tuple: no allocation, dropped without counting on ours */
	struct turn_ctx other_c = ctx_of("198.51.100.28", 40001);
	cd[1] = 0;
	turn_from_client(srv, &other_c, cd, 7, 1000, &rnd, &f);
	CU_ASSERT(f.kind == TURN_FWD_DROP && f.drop == 0xff);

	/* peer -> client over the channel */
	turn_from_peer(srv, 0, relay.port, &peer, (const uint8_t *)"xyz", 3, 1000, &rnd, &f);
	CU_ASSERT_EQUAL(f.kind, TURN_FWD_CLIENT);
	CU_ASSERT(f.hdr_len == 4 && f.hdr[0] == 0x40 && f.hdr[1] == 0 && f.hdr[3] == 3);
	CU_ASSERT(pr_taddr_eq(&f.dst, &k.c.cli) && pr_taddr_eq(&f.src, &k.c.srv));
	/* peer -> client, permission but no channel (other port): Data indication */
	struct pr_taddr peer2;
	pr_taddr_from_str(&peer2, "8.8.8.8", 6000);
	turn_from_peer(srv, 0, relay.port, &peer2, (const uint8_t *)"hello", 5, 1000, &rnd, &f);
	CU_ASSERT_EQUAL_FATAL(f.kind, TURN_FWD_CLIENT);
	uint8_t ind[128];
	memcpy(ind, f.hdr, f.hdr_len);
	memcpy(ind + f.hdr_len, "hello", 5);
	memset(ind + f.hdr_len + 5, 0, f.pad);
	struct stun_msg m;
	CU_ASSERT_FATAL(stun_parse(&m, ind, f.hdr_len + 5u + f.pad) == STUN_OK);
	CU_ASSERT(m.method == TURN_DATA && m.cls == STUN_INDICATION);
	struct pr_taddr got;
	CU_ASSERT(stun_attr_xaddr(&m, stun_attr_find(&m, TURN_A_XOR_PEER_ADDRESS), &got) == 0 &&
		  pr_taddr_eq(&got, &peer2));
	const struct stun_attr *d = stun_attr_find(&m, TURN_A_DATA);
	CU_ASSERT(d && d->len == 5 && !memcmp(ind + d->off, "hello", 5));
	/* no permission: dropped and counted */
	struct pr_taddr stranger;
	pr_taddr_from_str(&stranger, "9.9.9.9", 53);
	turn_from_peer(srv, 0, relay.port, &stranger, (const uint8_t *)"x", 1, 1000, &rnd, &f);
	CU_ASSERT(f.kind == TURN_FWD_DROP && f.drop == TURN_DROP_NO_PERMISSION);
	/* to a port nobody has */
	turn_from_peer(srv, 0, (uint16_t)(relay.port + 1), &peer, (const uint8_t *)"x", 1, 1000,
		       &rnd, &f);
	CU_ASSERT(f.kind == TURN_FWD_DROP && f.drop == 0xff);

	/* Send indication client -> peer, then one to a peer without permission */
	uint8_t si[128], tid[12] = {9};
	struct stun_builder b;
	stun_b_init(&b, si, sizeof(si), TURN_SEND, STUN_INDICATION, tid);
	stun_b_xaddr(&b, TURN_A_XOR_PEER_ADDRESS, &peer2);
	stun_b_attr(&b, TURN_A_DATA, "payload", 7);
	turn_from_client(srv, &k.c, si, b.len, 1000, &rnd, &f);
	CU_ASSERT_EQUAL(f.kind, TURN_FWD_PEER);
	CU_ASSERT(pr_taddr_eq(&f.dst, &peer2) && f.keep == 7 &&
		  !memcmp(si + f.strip, "payload", 7));
	stun_b_init(&b, si, sizeof(si), TURN_SEND, STUN_INDICATION, tid);
	stun_b_xaddr(&b, TURN_A_XOR_PEER_ADDRESS, &stranger);
	stun_b_attr(&b, TURN_A_DATA, "payload", 7);
	turn_from_client(srv, &k.c, si, b.len, 1000, &rnd, &f);
	CU_ASSERT(f.kind == TURN_FWD_DROP && f.drop == TURN_DROP_NO_PERMISSION);
	stun_b_init(&b, si, sizeof(si), TURN_SEND, STUN_INDICATION, tid);
	stun_b_attr(&b, TURN_A_DATA, "payload", 7);
	turn_from_client(srv, &k.c, si, b.len, 1000, &rnd, &f);
	CU_ASSERT(f.kind == TURN_FWD_DROP && f.drop == TURN_DROP_MALFORMED);
	/* requests go to the control lcore */
	stun_b_init(&b, si, sizeof(si), TURN_REFRESH, STUN_REQUEST, tid);
	turn_from_client(srv, &k.c, si, b.len, 1000, &rnd, &f);
	CU_ASSERT_EQUAL(f.kind, TURN_FWD_CONTROL);

	uint32_t idx = 0;
	struct turn_alloc *a = turn_alloc_next(tbl, &idx);
	CU_ASSERT(a->st.pkts_c2p == 2 && a->st.bytes_c2p == 10);
	CU_ASSERT(a->st.pkts_p2c == 2 && a->st.bytes_p2c == 8);
	CU_ASSERT(a->drops[TURN_DROP_NO_PERMISSION] == 2);
	CU_ASSERT(a->drops[TURN_DROP_NO_CHANNEL] == 1);

	/* Refresh with lifetime 0: deleted at once; the next request gets 437 */
	uint32_t zero = 0;
	CU_ASSERT_EQUAL(req(&k, TURN_REFRESH, add_lifetime, &zero), 0);
	CU_ASSERT_EQUAL(stun_attr_u32(&resp, stun_attr_find(&resp, TURN_A_LIFETIME)), 0);
	CU_ASSERT_EQUAL(turn_table_count(tbl), 0);
	CU_ASSERT_EQUAL(req(&k, TURN_CHANNEL_BIND, add_bind, &good), 437);
	CU_ASSERT_EQUAL(req(&k, TURN_REFRESH, NULL, NULL), 437);
	turn_from_client(srv, &k.c, cd, 7, 1000, &rnd, &f);
	CU_ASSERT(f.kind == TURN_FWD_DROP);
}

static void test_wrong_user_441(void)
{
	setup(16, 50000, 50100, false);
	struct cli k = client("198.51.100.29", 40000, "alice", "wonderland");
	CU_ASSERT_EQUAL(req(&k, TURN_ALLOCATE, add_udp, NULL), 0);
	struct cli b = client("198.51.100.29", 40000, "bob", "builder");
	CU_ASSERT_EQUAL(req(&b, TURN_REFRESH, NULL, NULL), 441);
	struct peers p = {{"8.8.8.8"}, 1, 1};
	CU_ASSERT_EQUAL(req(&b, TURN_CREATE_PERMISSION, add_peers, &p), 441);
}

static void test_quotas(void)
{
	setup(4, 50000, 50100, false);
	char ipbuf[8][32];
	int codes[5];
	for (int i = 0; i < 4; i++) {
		struct cli k =
		    client("198.51.100.30", (uint16_t)(40000 + i), "alice", "wonderland");
		codes[i] = req(&k, TURN_ALLOCATE, add_udp, NULL);
	}
	CU_ASSERT(codes[0] == 0 && codes[1] == 0 && codes[2] == 0);
	CU_ASSERT_EQUAL(codes[3], 486); /* max 3 per user */
	struct cli b = client("198.51.100.31", 40000, "bob", "builder");
	CU_ASSERT_EQUAL(req(&b, TURN_ALLOCATE, add_udp, NULL), 0);
	struct cli b2 = client("198.51.100.31", 40001, "bob", "builder");
	CU_ASSERT_EQUAL(req(&b2, TURN_ALLOCATE, add_udp, NULL), 508); /* table full */
	(void)ipbuf;
	/* deleting frees the user's quota */
	uint32_t zero = 0;
	struct cli k0 = client("198.51.100.30", 40000, "alice", "wonderland");
	CU_ASSERT_EQUAL(req(&k0, TURN_REFRESH, add_lifetime, &zero), 0);
	struct cli k3 = client("198.51.100.30", 40003, "alice", "wonderland");
	CU_ASSERT_EQUAL(req(&k3, TURN_ALLOCATE, add_udp, NULL), 0);

	/* many distinct users over time never exhaust the per-user table (1024 slots here) */
	setup(16, 50000, 50100, false);
	uint32_t zero_lt = 0;
	struct cli first = client("198.51.100.44", 2000, "bob", "builder");
	CU_ASSERT_EQUAL(send_req(&first, TURN_ALLOCATE, add_udp, NULL, false, true), 401);
	for (int i = 0; i < 3000; i++) {
		char u[64], pw[64];
		snprintf(u, sizeof(u), "%u:user%d", now + 600, i);
		pr_turn_rest_password("first-secret", u, pw, sizeof(pw));
		struct cli k = client("198.51.100.44", (uint16_t)(2000 + (i % 2)), u, pw);
		memcpy(k.realm, first.realm, sizeof(k.realm));
		memcpy(k.nonce, first.nonce, sizeof(k.nonce)); /* one challenge for all */
		int code = req(&k, TURN_ALLOCATE, add_udp, NULL);
		if (code != 0) {
			fprintf(stderr, "user%d: %d\n", i, code);
			CU_FAIL("allocation for a new user refused");
			break;
		}
		CU_ASSERT_EQUAL(req(&k, TURN_REFRESH, add_lifetime, &zero_lt), 0);
		if (i % 100 == 99)
			turn_server_tick(srv);
	}

	/* ports exhausted: 508 */
	setup(16, 50000, 50001, false);
	for (int i = 0; i < 3; i++) {
		struct cli k =
		    client(i < 2 ? "198.51.100.32" : "198.51.100.33", (uint16_t)(40000 + i),
			   i < 2 ? "alice" : "bob", i < 2 ? "wonderland" : "builder");
		codes[i] = req(&k, TURN_ALLOCATE, add_udp, NULL);
	}
	CU_ASSERT(codes[0] == 0 && codes[1] == 0 && codes[2] == 508);
}

static void test_unauth_rate_limit(void)
{
	setup(16, 50000, 50100, false);
	int answered = 0;
	for (int i = 0; i < (int)cfg.unauth_burst + 50; i++) {
		struct cli k = client("198.51.100.34", (uint16_t)(1000 + i), "alice", "wonderland");
		if (send_req(&k, TURN_ALLOCATE, add_udp, NULL, false, true) == 401)
			answered++;
	}
	CU_ASSERT_EQUAL(answered, (int)cfg.unauth_burst);
	CU_ASSERT_EQUAL(turn_server_stats(srv)->unauth_dropped, 50);
	/* another source is not affected; time refills the bucket */
	struct cli o = client("198.51.100.35", 1000, "alice", "wonderland");
	CU_ASSERT_EQUAL(send_req(&o, TURN_ALLOCATE, add_udp, NULL, false, true), 401);
	now += 1;
	turn_server_set_now(srv, now);
	struct cli k = client("198.51.100.34", 999, "alice", "wonderland");
	CU_ASSERT_EQUAL(send_req(&k, TURN_ALLOCATE, add_udp, NULL, false, true), 401);
}

static void test_rest(void)
{
	setup(16, 50000, 50100, false);
	char user[64], pw[64];
	pr_turn_rest_username((time_t)now + 3600, "carol", user, sizeof(user));
	pr_turn_rest_password("first-secret", user, pw, sizeof(pw));
	struct cli k = client("198.51.100.36", 40000, user, pw);
	CU_ASSERT_EQUAL(req(&k, TURN_ALLOCATE, add_udp, NULL), 0);
	/* rotation without restart: a new secret is accepted at once, the old one dropped */
	snprintf(rest_secret[0], TURN_SECRET_MAX, "second-secret");
	pr_turn_rest_password("second-secret", user, pw, sizeof(pw));
	struct cli k2 = client("198.51.100.36", 40001, user, pw);
	CU_ASSERT_EQUAL(req(&k2, TURN_ALLOCATE, add_udp, NULL), 0);
	pr_turn_rest_password("first-secret", user, pw, sizeof(pw));
	struct cli k3 = client("198.51.100.36", 40002, user, pw);
	CU_ASSERT_EQUAL(req(&k3, TURN_ALLOCATE, add_udp, NULL), 401);
	/* expired REST username */
	pr_turn_rest_username((time_t)now - 1, "carol", user, sizeof(user));
	pr_turn_rest_password("second-secret", user, pw, sizeof(pw));
	struct cli k4 = client("198.51.100.36", 40003, user, pw);
	CU_ASSERT_EQUAL(req(&k4, TURN_ALLOCATE, add_udp, NULL), 401);
	snprintf(rest_secret[0], TURN_SECRET_MAX, "first-secret");
}

static void test_sha256(void)
{
	setup(16, 50000, 50100, false);
	struct cli k = client("198.51.100.37", 40000, "alice", "wonderland");
	k.alg = STUN_PWALG_SHA256;
	k.sha256_mi = true;
	CU_ASSERT_EQUAL(req(&k, TURN_ALLOCATE, add_udp, NULL), 0);
	CU_ASSERT(resp.i_mi256 >= 0);
	/* MD5 key named explicitly, MESSAGE-INTEGRITY */
	struct cli m = client("198.51.100.37", 40001, "alice", "wonderland");
	m.alg = STUN_PWALG_MD5;
	CU_ASSERT_EQUAL(req(&m, TURN_ALLOCATE, add_udp, NULL), 0);
	/* wrong algorithm number: 400 */
	struct cli x = client("198.51.100.37", 40002, "alice", "wonderland");
	x.alg = 7;
	CU_ASSERT_EQUAL(req(&x, TURN_ALLOCATE, add_udp, NULL), 400);
}

static void add_even(struct stun_builder *b, void *arg)
{
	add_udp(b, NULL);
	stun_b_attr(b, TURN_A_EVEN_PORT, arg, 1);
}

static uint8_t token[8];
static void add_token(struct stun_builder *b, void *arg)
{
	(void)arg;
	add_udp(b, NULL);
	stun_b_attr(b, TURN_A_RESERVATION_TOKEN, token, 8);
}

static void test_even_port(void)
{
	setup(16, 50000, 50100, false);
	struct cli k = client("198.51.100.38", 40000, "alice", "wonderland");
	CU_ASSERT_EQUAL(req(&k, TURN_ALLOCATE, add_even, "\x80"), 0);
	struct pr_taddr r;
	CU_ASSERT_FATAL(relayed(&r, 0));
	CU_ASSERT_EQUAL(r.port & 1, 0);
	const struct stun_attr *t = stun_attr_find(&resp, TURN_A_RESERVATION_TOKEN);
	CU_ASSERT_FATAL(t != NULL);
	memcpy(token, resp_buf + t->off, 8);
	struct cli k2 = client("198.51.100.38", 40001, "alice", "wonderland");
	CU_ASSERT_EQUAL(req(&k2, TURN_ALLOCATE, add_token, NULL), 0);
	struct pr_taddr r2;
	CU_ASSERT(relayed(&r2, 0) && r2.port == r.port + 1);
	/* the token is single-use */
	struct cli k3 = client("198.51.100.38", 40002, "alice", "wonderland");
	CU_ASSERT_EQUAL(req(&k3, TURN_ALLOCATE, add_token, NULL), 508);
	/* EVEN-PORT without reservation */
	CU_ASSERT_EQUAL(req(&k3, TURN_ALLOCATE, add_even, "\x00"), 0);
	CU_ASSERT(relayed(&r, 0) && (r.port & 1) == 0);
	CU_ASSERT(stun_attr_find(&resp, TURN_A_RESERVATION_TOKEN) == NULL);
}

static void test_bandwidth(void)
{
	setup(16, 50000, 50100, false);
	cfg.bw_bytes_per_s = 1000;
	turn_server_destroy(srv);
	struct cred_dummy;
	struct turn_cred_ops cred = {user_key, rest_secrets, NULL};
	srv = turn_server_create(&cfg, tbl, &cred, NULL);
	turn_server_set_now(srv, now);
	struct cli k = client("198.51.100.39", 40000, "alice", "wonderland");
	CU_ASSERT_EQUAL(req(&k, TURN_ALLOCATE, add_udp, NULL), 0);
	struct bind good = {0x4000, "8.8.8.8", 5000};
	CU_ASSERT_EQUAL(req(&k, TURN_CHANNEL_BIND, add_bind, &good), 0);
	uint8_t cd[204] = {0x40, 0x00, 0x00, 200};
	struct turn_fwd f;
	uint64_t rnd = 1;
	int pass = 0;
	for (int i = 0; i < 10; i++) {
		turn_from_client(srv, &k.c, cd, sizeof(cd), 5000000, &rnd, &f);
		pass += f.kind == TURN_FWD_PEER;
	}
	CU_ASSERT_EQUAL(pass, 5); /* one second of burst: 1000 bytes */
	turn_from_client(srv, &k.c, cd, sizeof(cd), 5000000 + 400000, &rnd, &f);
	CU_ASSERT_EQUAL(f.kind, TURN_FWD_PEER); /* 0.4 s later: 400 bytes refilled */
	turn_from_client(srv, &k.c, cd, sizeof(cd), 5000000 + 400000, &rnd, &f);
	CU_ASSERT_EQUAL(f.kind, TURN_FWD_PEER);
	turn_from_client(srv, &k.c, cd, sizeof(cd), 5000000 + 400000, &rnd, &f);
	CU_ASSERT(f.kind == TURN_FWD_DROP && f.drop == TURN_DROP_BANDWIDTH);
}

static void test_rfc5766_channels(void)
{
	setup(16, 50000, 50100, false);
	cfg.chan_max = TURN_CHAN_MAX_RFC5766;
	turn_server_destroy(srv);
	struct turn_cred_ops cred = {user_key, rest_secrets, NULL};
	srv = turn_server_create(&cfg, tbl, &cred, NULL);
	turn_server_set_now(srv, now);
	struct cli k = client("198.51.100.41", 40000, "alice", "wonderland");
	CU_ASSERT_EQUAL(req(&k, TURN_ALLOCATE, add_udp, NULL), 0);
	struct bind old = {0x7acd, "8.8.8.8", 5000};
	CU_ASSERT_EQUAL(req(&k, TURN_CHANNEL_BIND, add_bind, &old), 0);
	struct bind over = {0x8000, "8.8.8.8", 5001};
	CU_ASSERT_EQUAL(req(&k, TURN_CHANNEL_BIND, add_bind, &over), 400);
	uint8_t cd[8] = {0x7a, 0xcd, 0x00, 0x03, 'a', 'b', 'c', 0};
	struct turn_fwd f;
	uint64_t rnd = 1;
	turn_from_client(srv, &k.c, cd, 7, 1000, &rnd, &f);
	CU_ASSERT_EQUAL(f.kind, TURN_FWD_PEER);
}

static void test_client_to_client(void)
{
	setup(16, 50000, 50100, false);
	struct cli a = client("198.51.100.42", 40000, "alice", "wonderland");
	struct cli b = client("198.51.100.43", 40000, "bob", "builder");
	struct pr_taddr ra, rb;
	CU_ASSERT_EQUAL(req(&a, TURN_ALLOCATE, add_udp, NULL), 0);
	CU_ASSERT_FATAL(relayed(&ra, 0));
	CU_ASSERT_EQUAL(req(&b, TURN_ALLOCATE, add_udp, NULL), 0);
	CU_ASSERT_FATAL(relayed(&rb, 0));
	/* 192.0.2.10 is TEST-NET-1, refused as a peer, except as our own relay address */
	struct peers pa = {{"192.0.2.10"}, ra.port, 1};
	CU_ASSERT_EQUAL(req(&b, TURN_CREATE_PERMISSION, add_peers, &pa), 0);
	struct peers other = {{"192.0.2.11"}, 1, 1};
	CU_ASSERT_EQUAL(req(&b, TURN_CREATE_PERMISSION, add_peers, &other), 403);
	struct bind ab = {0x4001, "192.0.2.10", rb.port};
	CU_ASSERT_EQUAL(req(&a, TURN_CHANNEL_BIND, add_bind, &ab), 0);
	uint8_t cd[8] = {0x40, 0x01, 0x00, 0x03, 'a', 'b', 'c', 0};
	struct turn_fwd f;
	uint64_t rnd = 1;
	turn_from_client(srv, &a.c, cd, 7, 1000, &rnd, &f);
	/* never leaves: arrives at b's relay as a Data indication from a's relayed address */
	CU_ASSERT_EQUAL_FATAL(f.kind, TURN_FWD_CLIENT);
	CU_ASSERT(pr_taddr_eq(&f.dst, &b.c.cli));
	CU_ASSERT(f.strip == 4 && f.keep == 3);
	uint8_t ind[128];
	memcpy(ind, f.hdr, f.hdr_len);
	memcpy(ind + f.hdr_len, "abc", 3);
	memset(ind + f.hdr_len + 3, 0, f.pad);
	struct stun_msg m;
	CU_ASSERT_FATAL(stun_parse(&m, ind, f.hdr_len + 3u + f.pad) == STUN_OK);
	struct pr_taddr from;
	CU_ASSERT(stun_attr_xaddr(&m, stun_attr_find(&m, TURN_A_XOR_PEER_ADDRESS), &from) == 0 &&
		  pr_taddr_eq(&from, &ra));
	/* our own address at a port no allocation holds (the media anchor's): not TURN's to
	 * hand over; it leaves as a peer datagram, for the dataplane's hairpin to give to the
	 * feature that owns the port */
	struct bind anchor = {0x4002, "192.0.2.10", 30000};
	CU_ASSERT_EQUAL(req(&a, TURN_CHANNEL_BIND, add_bind, &anchor), 0);
	uint8_t cd2[8] = {0x40, 0x02, 0x00, 0x03, 'x', 'y', 'z', 0};
	turn_from_client(srv, &a.c, cd2, 7, 1000, &rnd, &f);
	CU_ASSERT_EQUAL(f.kind, TURN_FWD_PEER);
	CU_ASSERT_EQUAL(f.dst.port, 30000);
	CU_ASSERT(pr_taddr_eq(&f.src, &ra));
}

static void test_restore_and_delete(void)
{
	setup(16, 50000, 50100, false);
	struct cli k = client("198.51.100.40", 40000, "alice", "wonderland");
	CU_ASSERT_EQUAL(req(&k, TURN_ALLOCATE, add_udp, NULL), 0);
	struct bind good = {0x4000, "8.8.8.8", 5000};
	CU_ASSERT_EQUAL(req(&k, TURN_CHANNEL_BIND, add_bind, &good), 0);
	uint32_t idx = 0;
	struct turn_alloc saved = *turn_alloc_next(tbl, &idx);
	/* "restart": a fresh server restores it and relays at once */
	setup(16, 50000, 50100, false);
	CU_ASSERT_EQUAL(turn_server_restore(srv, &saved), 0);
	CU_ASSERT_EQUAL(turn_server_restore(srv, &saved), -EEXIST);
	uint8_t cd[8] = {0x40, 0x00, 0x00, 0x03, 'a', 'b', 'c', 0};
	struct turn_fwd f;
	uint64_t rnd = 1;
	turn_from_client(srv, &k.c, cd, 7, 1000, &rnd, &f);
	CU_ASSERT_EQUAL(f.kind, TURN_FWD_PEER);
	k.nonce[0] = 0; /* new server secret would differ in real life: re-challenge */
	CU_ASSERT_EQUAL(req(&k, TURN_REFRESH, NULL, NULL), 0);
	CU_ASSERT_EQUAL(turn_server_delete(srv, saved.id), 0);
	CU_ASSERT_EQUAL(turn_server_delete(srv, saved.id), -ENOENT);
	CU_ASSERT_EQUAL(req(&k, TURN_REFRESH, NULL, NULL), 437);
	saved.expires = now - 1;
	CU_ASSERT_EQUAL(turn_server_restore(srv, &saved), -ESTALE);
}

/* [ha] fencing: our own allocations are forgotten (nothing relayed, no deletion event, the
 * relay port free again) and can be restored from their records at the failback. */
static void test_forget_own(void)
{
	setup(16, 50000, 50100, false);
	struct cli k = client("198.51.100.40", 40000, "alice", "wonderland");
	CU_ASSERT_EQUAL(req(&k, TURN_ALLOCATE, add_udp, NULL), 0);
	struct bind good = {0x4000, "8.8.8.8", 5000};
	CU_ASSERT_EQUAL(req(&k, TURN_CHANNEL_BIND, add_bind, &good), 0);
	uint32_t idx = 0;
	struct turn_alloc saved = *turn_alloc_next(tbl, &idx);
	CU_ASSERT_EQUAL(turn_server_forget_peer(srv), 0); /* ours are not the peer's */
	CU_ASSERT_EQUAL(turn_table_count(tbl), 1);
	CU_ASSERT_EQUAL(turn_server_forget_own(srv), 1);
	CU_ASSERT_EQUAL(turn_table_count(tbl), 0);
	CU_ASSERT_EQUAL(events[TURN_EV_DELETED], 0); /* its records stay for the holder */
	uint8_t cd[8] = {0x40, 0x00, 0x00, 0x03, 'a', 'b', 'c', 0};
	struct turn_fwd f;
	uint64_t rnd = 1;
	turn_from_client(srv, &k.c, cd, 7, 1000, &rnd, &f);
	CU_ASSERT_NOT_EQUAL(f.kind, TURN_FWD_PEER);
	CU_ASSERT_EQUAL(turn_server_forget_own(srv), 0);
	/* the failback: restored from its record, relayed again on the same port */
	CU_ASSERT_EQUAL(turn_server_restore(srv, &saved), 0);
	turn_from_client(srv, &k.c, cd, 7, 1000, &rnd, &f);
	CU_ASSERT_EQUAL(f.kind, TURN_FWD_PEER);
}

/* turn_relay_burst must decide every datagram of a burst exactly as turn_from_client /
 * turn_from_peer decide it alone, whatever the mix: ChannelData on bound, unbound and
 * permission-less channels, from unknown clients, Send indications, requests, peers with
 * and without channels or permissions, unknown relay ports, client to client. Run with
 * plain and with shared (atomic) peer -> client counters; counters must add up either way. */
static void burst_equivalence(bool shared)
{
	enum { NA = 40 };
	shared_counters = shared;
	setup(64, 50000, 50100, false);
	shared_counters = false;
	struct pr_taddr peer, stranger, relay;
	pr_taddr_from_str(&peer, "8.8.8.8", 5000);
	pr_taddr_from_str(&stranger, "9.9.9.9", 53);
	pr_taddr_from_str(&relay, "192.0.2.10", 0);
	struct turn_ctx cl[NA];
	for (int i = 0; i < NA; i++) {
		char ip[32];
		struct turn_alloc a;
		memset(&a, 0, sizeof(a));
		snprintf(ip, sizeof(ip), "198.51.100.%d", 10 + i);
		cl[i] = ctx_of(ip, (uint16_t)(40000 + i));
		memcpy(a.ft.cli_ip, cl[i].cli.ip, 16);
		memcpy(a.ft.srv_ip, cl[i].srv.ip, 16);
		a.ft.cli_port = cl[i].cli.port;
		a.ft.srv_port = 3478;
		a.ft.fam = 4;
		a.id = (uint64_t)i + 1;
		a.relay_port[0] = (uint16_t)(50000 + i);
		a.expires = now + 600;
		snprintf(a.username, sizeof(a.username), "u%d", i);
		turn_peer16(a.perm[0].ip, peer.ip, 4);
		a.perm[0].expires = i % 5 == 4 ? now - 1 : now + 300; /* every 5th: lapsed */
		a.n_perm = 1;
		if (i % 3) { /* every 3rd has no channel: Data indications */
			memcpy(a.chan[0].ip, a.perm[0].ip, 16);
			a.chan[0].port = 5000;
			a.chan[0].num = 0x4000;
			a.chan[0].expires = now + 600;
			a.n_chan = 1;
		}
		/* client to client: the next allocation's relayed address is a peer too */
		struct pr_taddr next = relay;
		next.port = (uint16_t)(50000 + (i + 1) % NA);
		turn_peer16(a.perm[1].ip, next.ip, 4);
		a.perm[1].expires = now + 300;
		a.n_perm = 2;
		CU_ASSERT_EQUAL_FATAL(turn_server_restore(srv, &a), 0);
	}
	/* every allocation lets the previous one's relayed address in (hairpin back) */
	uint8_t cd[8] = {0x40, 0x00, 0x00, 0x03, 'a', 'b', 'c', 0};
	uint8_t cd_unbound[8] = {0x40, 0x01, 0x00, 0x03, 'a', 'b', 'c', 0};
	uint8_t si[128], rq[64], tid[12] = {3};
	struct stun_builder b;
	stun_b_init(&b, si, sizeof(si), TURN_SEND, STUN_INDICATION, tid);
	stun_b_xaddr(&b, TURN_A_XOR_PEER_ADDRESS, &peer);
	stun_b_attr(&b, TURN_A_DATA, "payload", 7);
	uint16_t si_len = b.len;
	uint8_t si_hp[128];
	stun_b_init(&b, si_hp, sizeof(si_hp), TURN_SEND, STUN_INDICATION, tid);
	struct pr_taddr hp = relay;
	hp.port = 50001;
	stun_b_xaddr(&b, TURN_A_XOR_PEER_ADDRESS, &hp);
	stun_b_attr(&b, TURN_A_DATA, "hairpin", 7);
	uint16_t si_hp_len = b.len;
	stun_b_init(&b, rq, sizeof(rq), STUN_BINDING, STUN_REQUEST, tid);
	uint16_t rq_len = b.len;
	const uint8_t data[5] = "hello";

	struct turn_dgram d[3 * TURN_BURST];
	unsigned n = 0;
	for (int i = 0; n < 3 * TURN_BURST - 2; i++) {
		int k = (i * 7) % NA;
		struct turn_dgram *x = &d[n++];
		memset(x, 0, sizeof(*x));
		switch (i % 9) {
		case 0:
		case 1:
			x->c = cl[k];
			x->pl = cd;
			x->len = 7;
			break;
		case 2:
			x->c = cl[k];
			x->pl = cd_unbound;
			x->len = 7;
			break;
		case 3:
			x->c = ctx_of("203.0.113.99", 1234);
			x->pl = cd;
			x->len = 7;
			break;
		case 4:
			x->c = cl[k];
			x->pl = si;
			x->len = si_len;
			break;
		case 5:
			x->c = cl[k];
			x->pl = rq;
			x->len = rq_len;
			break;
		case 6:
			x->c = cl[0];
			x->pl = si_hp;
			x->len = si_hp_len;
			break;
		case 7:
		case 8:
			x->from_peer = 1;
			x->c.cli = i % 18 == 8 ? stranger : peer;
			x->c.srv = relay;
			x->c.srv.port = (uint16_t)(i % 27 == 26 ? 50090 : 50000 + k);
			x->pl = data;
			x->len = sizeof(data);
			break;
		}
	}
	struct turn_fwd fb[3 * TURN_BURST], fs;
	uint64_t rb = 7, rs = 7;
	turn_relay_burst(srv, d, n, 1000, &rb, fb);
	unsigned kinds[8] = {0};
	for (unsigned i = 0; i < n; i++) {
		if (d[i].from_peer)
			turn_from_peer(srv, d[i].c.srv.fam == 4 ? 0 : 1, d[i].c.srv.port,
				       &d[i].c.cli, d[i].pl, d[i].len, 1000, &rs, &fs);
		else
			turn_from_client(srv, &d[i].c, d[i].pl, d[i].len, 1000, &rs, &fs);
		kinds[fs.kind & 7]++;
		CU_ASSERT_EQUAL(fb[i].kind, fs.kind);
		CU_ASSERT_EQUAL(fb[i].drop, fs.drop);
		if (fs.kind == TURN_FWD_PEER || fs.kind == TURN_FWD_CLIENT) {
			CU_ASSERT(pr_taddr_eq(&fb[i].src, &fs.src) &&
				  pr_taddr_eq(&fb[i].dst, &fs.dst));
			CU_ASSERT(fb[i].strip == fs.strip && fb[i].keep == fs.keep &&
				  fb[i].pad == fs.pad && fb[i].hdr_len == fs.hdr_len);
			CU_ASSERT(!memcmp(fb[i].hdr, fs.hdr, fs.hdr_len));
		}
	}
	CU_ASSERT_EQUAL(rb, rs);
	/* the mix really has every outcome */
	CU_ASSERT(kinds[TURN_FWD_PEER] && kinds[TURN_FWD_CLIENT] && kinds[TURN_FWD_CONTROL] &&
		  kinds[TURN_FWD_DROP]);
	/* both passes counted: each allocation's counters are even */
	uint32_t idx = 0;
	struct turn_alloc *a;
	uint64_t p2c = 0, c2p = 0;
	while ((a = turn_alloc_next(tbl, &idx))) {
		CU_ASSERT(a->st.pkts_p2c % 2 == 0 && a->st.pkts_c2p % 2 == 0);
		p2c += a->st.pkts_p2c;
		c2p += a->st.pkts_c2p;
	}
	CU_ASSERT(p2c > 0 && c2p > 0);
}

static void test_burst_equivalence(void)
{
	burst_equivalence(false);
	burst_equivalence(true);
}

/* ---- the IPv4 channel fast path (turn_relay_v4_burst) ---- */

/* An IPv4/UDP datagram at ip with correct checksums (or a zero UDP checksum). */
static uint16_t put_dgram(uint8_t *ip, const char *src, uint16_t sport, const char *dst,
			  uint16_t dport, const uint8_t *pl, uint16_t plen, bool zero_ck)
{
	struct pr_taddr s4, d4;
	pr_taddr_from_str(&s4, src, sport);
	pr_taddr_from_str(&d4, dst, dport);
	uint16_t tot = (uint16_t)(28 + plen), ulen = (uint16_t)(8 + plen);
	memset(ip, 0, 28);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, s4.ip, 4);
	memcpy(ip + 16, d4.ip, 4);
	uint16_t hc = (uint16_t)~ref_fold(ref_sum(ip, 20, 0));
	ip[10] = (uint8_t)(hc >> 8);
	ip[11] = (uint8_t)hc;
	ip[20] = (uint8_t)(sport >> 8);
	ip[21] = (uint8_t)sport;
	ip[22] = (uint8_t)(dport >> 8);
	ip[23] = (uint8_t)dport;
	ip[24] = (uint8_t)(ulen >> 8);
	ip[25] = (uint8_t)ulen;
	memcpy(ip + 28, pl, plen);
	if (!zero_ck) {
		uint16_t c = ref_udp4_csum(ip);
		ip[26] = (uint8_t)(c >> 8);
		ip[27] = (uint8_t)c;
	}
	return ulen;
}

/* What dp_udp_relay writes for decision f about the received datagram at ip: IPv4 header
 * (id 0, DF, TTL 64), UDP, f's header, the kept payload, padding; correct checksums. */
static uint16_t expected_dgram(uint8_t *out, const uint8_t *ip, const struct turn_fwd *f)
{
	uint16_t ulen = (uint16_t)(8 + f->hdr_len + f->keep + f->pad);
	uint16_t tot = (uint16_t)(20 + ulen);
	memset(out, 0, tot);
	out[0] = 0x45;
	out[2] = (uint8_t)(tot >> 8);
	out[3] = (uint8_t)tot;
	out[6] = 0x40;
	out[8] = 64;
	out[9] = 17;
	memcpy(out + 12, f->src.ip, 4);
	memcpy(out + 16, f->dst.ip, 4);
	uint16_t hc = (uint16_t)~ref_fold(ref_sum(out, 20, 0));
	out[10] = (uint8_t)(hc >> 8);
	out[11] = (uint8_t)hc;
	out[20] = (uint8_t)(f->src.port >> 8);
	out[21] = (uint8_t)f->src.port;
	out[22] = (uint8_t)(f->dst.port >> 8);
	out[23] = (uint8_t)f->dst.port;
	out[24] = (uint8_t)(ulen >> 8);
	out[25] = (uint8_t)ulen;
	memcpy(out + 28, f->hdr, f->hdr_len);
	memcpy(out + 28 + f->hdr_len, ip + 28 + f->strip, f->keep);
	uint16_t c = ref_udp4_csum(out);
	out[26] = (uint8_t)(c >> 8);
	out[27] = (uint8_t)c;
	return tot;
}

struct alloc_counts {
	uint64_t v[4 + TURN_DROP_MAX];
};

static void counts_of(struct alloc_counts *c, unsigned n)
{
	uint32_t idx = 0;
	struct turn_alloc *a;
	memset(c, 0, n * sizeof(*c));
	while ((a = turn_alloc_next(tbl, &idx)) && idx <= n) {
		struct alloc_counts *x = &c[idx - 1];
		x->v[0] = a->st.pkts_c2p;
		x->v[1] = a->st.bytes_c2p;
		x->v[2] = a->st.pkts_p2c;
		x->v[3] = a->st.bytes_p2c;
		for (int i = 0; i < TURN_DROP_MAX; i++)
			x->v[4 + i] = a->drops[i];
	}
}

/* The fast path relays exactly what the general path relays, byte for byte and counter for
 * counter, and leaves everything else untouched and uncounted: expired, unbound and
 * permission-less channels, unknown clients and relay ports, padding, zero checksums, a
 * relayed address as peer (hairpin), a closed token bucket, Data indications, an IPv6
 * client. A damaged datagram is relayed still damaged. */
static void v4_fast_equivalence(bool shared)
{
	enum { NA = 12, HEAD = 16, CAP = 160, MAXD = 128 };
	shared_counters = shared;
	setup(64, 50000, 50100, true);
	shared_counters = false;
	struct pr_taddr peer, hp;
	pr_taddr_from_str(&peer, "8.8.8.8", 5000);
	pr_taddr_from_str(&hp, "192.0.2.10", 50001); /* our own relayed address */
	char cli[NA][32];
	for (int i = 0; i < NA; i++) {
		struct turn_alloc a;
		struct turn_ctx c;
		memset(&a, 0, sizeof(a));
		snprintf(cli[i], sizeof(cli[i]), i == 11 ? "2001:db8::%d" : "198.51.100.%d",
			 10 + i);
		c = ctx_of(cli[i], (uint16_t)(40000 + i));
		memcpy(a.ft.cli_ip, c.cli.ip, 16);
		memcpy(a.ft.srv_ip, c.srv.ip, 16);
		a.ft.cli_port = c.cli.port;
		a.ft.srv_port = 3478;
		a.ft.fam = c.cli.fam;
		a.id = (uint64_t)i + 1;
		a.relay_port[0] = (uint16_t)(50000 + i);
		a.expires = now + 600;
		snprintf(a.username, sizeof(a.username), "f%d", i);
		/* 3: lapsed permission; 4: channel to our own relayed address; 5: permission but
		 * no channel; 11: IPv6 client */
		turn_peer16(a.perm[0].ip, i == 4 ? hp.ip : peer.ip, 4);
		a.perm[0].expires = i == 3 ? now - 1 : now + 300;
		a.n_perm = 1;
		if (i != 5) {
			memcpy(a.chan[0].ip, a.perm[0].ip, 16);
			a.chan[0].port = i == 4 ? hp.port : peer.port;
			a.chan[0].num = 0x4000;
			a.chan[0].expires = now + 600;
			a.n_chan = 1;
		}
		CU_ASSERT_EQUAL_FATAL(turn_server_restore(srv, &a), 0);
	}
	/* 6: a token bucket of 1 byte/s (never enough); 7: expired a second ago */
	turn_server_find_id(srv, 7)->bw_rate = 1;
	turn_server_find_id(srv, 8)->expires = now - 1;

	static uint8_t orig[MAXD][CAP], fast[MAXD][CAP];
	struct turn_fast v[MAXD];
	uint8_t pl[64];
	for (unsigned i = 0; i < sizeof(pl); i++)
		pl[i] = (uint8_t)(i * 7 + 1);
	unsigned n = 0;
	enum { PLAIN, DAMAGED, ZERO_CK, PADDED, UNBOUND, STRANGER } kind[MAXD];
	for (int i = 0; i < NA - 1; i++) { /* 11, the IPv6 client, sends IPv6: not ours here */
		for (int k = PLAIN; k <= UNBOUND; k++) {
			uint8_t cd[40] = {0x40, k == UNBOUND ? 0x01 : 0x00, 0, 33};
			memcpy(cd + 4, pl, 33);
			uint16_t plen = k == PADDED ? 40 : 37; /* 33 bytes + 3 of padding */
			uint8_t *ip = orig[n] + HEAD;
			uint16_t ulen = put_dgram(ip, cli[i], (uint16_t)(40000 + i), "192.0.2.1",
						  3478, cd, plen, k == ZERO_CK);
			if (k == DAMAGED)
				ip[40] ^= 0x10;
			kind[n] = k;
			v[n++] = (struct turn_fast){.ip = ip, .udp_len = ulen};
		}
	}
	/* peers: to every relay port and one more, from the peer, a stranger, and damaged */
	for (int i = 0; i <= NA; i++) {
		for (int k = PLAIN; k <= STRANGER; k++) {
			if (k == PADDED || k == UNBOUND)
				continue;
			uint8_t *ip = orig[n] + HEAD;
			uint16_t ulen =
			    put_dgram(ip, k == STRANGER ? "9.9.9.9" : "8.8.8.8", 5000, "192.0.2.10",
				      (uint16_t)(50000 + i), pl, (uint16_t)(20 + i), k == ZERO_CK);
			if (k == DAMAGED)
				ip[30] ^= 0x01;
			kind[n] = k;
			v[n++] = (struct turn_fast){.ip = ip, .udp_len = ulen, .from_peer = 1};
		}
	}
	CU_ASSERT_FATAL(n <= MAXD);
	memcpy(fast, orig, sizeof(orig));
	for (unsigned i = 0; i < n; i++)
		v[i].ip = fast[i] + HEAD;

	struct alloc_counts before[NA], after_fast[NA], after_slow[NA];
	counts_of(before, NA);
	unsigned handled = turn_relay_v4_burst(srv, v, n, 1000);
	counts_of(after_fast, NA);

	unsigned got = 0, relayed = 0, damaged = 0;
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *ip = orig[i] + HEAD;
		struct turn_fwd f;
		struct turn_ctx c;
		uint64_t rnd = 1;
		memset(&c, 0, sizeof(c));
		c.cli.fam = c.srv.fam = 4;
		memcpy(c.cli.ip, ip + 12, 4);
		memcpy(c.srv.ip, ip + 16, 4);
		c.cli.port = (uint16_t)(ip[20] << 8 | ip[21]);
		c.srv.port = (uint16_t)(ip[22] << 8 | ip[23]);
		uint16_t ulen = (uint16_t)(ip[24] << 8 | ip[25]);
		got += v[i].handled;
		if (!v[i].handled) {
			/* untouched */
			CU_ASSERT(!memcmp(fast[i], orig[i], CAP));
			continue;
		}
		/* the general decision for the same datagram (counted once more below) */
		if (v[i].from_peer)
			turn_from_peer(srv, 0, c.srv.port, &c.cli, ip + 28, (uint16_t)(ulen - 8),
				       1000, &rnd, &f);
		else
			turn_from_client(srv, &c, ip + 28, (uint16_t)(ulen - 8), 1000, &rnd, &f);
		CU_ASSERT_FATAL(f.kind == (v[i].from_peer ? TURN_FWD_CLIENT : TURN_FWD_PEER));
		CU_ASSERT(f.dst.fam == 4 && f.src.fam == 4);
		uint8_t exp[CAP];
		uint16_t tot = expected_dgram(exp, ip, &f);
		const uint8_t *out = fast[i] + HEAD + v[i].out_off;
		CU_ASSERT_EQUAL(v[i].out_len, tot);
		CU_ASSERT(!memcmp(&v[i].out_dst, f.dst.ip, 4));
		if (kind[i] == DAMAGED) {
			/* the same datagram except the checksum, which still says "damaged" */
			damaged++;
			CU_ASSERT(!memcmp(out, exp, 26) && !memcmp(out + 28, exp + 28, tot - 28u));
			CU_ASSERT(!ref_udp4_ok(out));
		} else {
			CU_ASSERT(!memcmp(out, exp, tot));
			CU_ASSERT(ref_udp4_ok(out));
		}
		relayed++;
	}
	counts_of(after_slow, NA);
	CU_ASSERT_EQUAL(handled, got);
	/* what the fast path counted is exactly what the general path counted for the same
	 * datagrams (and nothing for those it left alone) */
	for (int i = 0; i < NA; i++)
		for (unsigned j = 0; j < 4 + TURN_DROP_MAX; j++)
			CU_ASSERT_EQUAL(after_fast[i].v[j] - before[i].v[j],
					after_slow[i].v[j] - after_fast[i].v[j]);
	/* the mix really has both: relayed in both directions, damaged ones among them, and
	 * every kind of decline */
	CU_ASSERT(relayed > 10 && damaged >= 4 && got < n);
	unsigned per_kind[STRANGER + 1] = {0}, declined_kind[STRANGER + 1] = {0};
	for (unsigned i = 0; i < n; i++) {
		per_kind[kind[i]]++;
		declined_kind[kind[i]] += !v[i].handled;
	}
	CU_ASSERT_EQUAL(declined_kind[ZERO_CK], per_kind[ZERO_CK]);
	CU_ASSERT_EQUAL(declined_kind[PADDED], per_kind[PADDED]);
	CU_ASSERT_EQUAL(declined_kind[UNBOUND], per_kind[UNBOUND]);
	CU_ASSERT_EQUAL(declined_kind[STRANGER], per_kind[STRANGER]);
}

static void test_v4_fast_equivalence(void)
{
	v4_fast_equivalence(false);
	v4_fast_equivalence(true);
}

/* ---- the IPv6 channel fast path (turn_relay_v6_burst) ---- */

/* Sets w to the word that, in place of a zero word at an even offset from the UDP header of
 * the IPv6 datagram at ip, makes its UDP checksum compute to zero (sent as 0xffff). */
static void ref_udp6_zero_at(const uint8_t *ip, uint8_t *w)
{
	uint16_t x = (uint16_t)(0xffff - ref_fold(ref_udp6_acc(ip)));
	w[0] = (uint8_t)(x >> 8);
	w[1] = (uint8_t)x;
}

/* An IPv6/UDP datagram at ip with a correct checksum (or a zero one). Traffic class 0xb8,
 * flow label 0x12345 and hop limit 57, none of which a relayed datagram keeps. */
static uint16_t put_dgram6(uint8_t *ip, const char *src, uint16_t sport, const char *dst,
			   uint16_t dport, const uint8_t *pl, uint16_t plen, bool zero_ck)
{
	struct pr_taddr s6, d6;
	CU_ASSERT_FATAL(pr_taddr_from_str(&s6, src, sport) == 0 && s6.fam == 6);
	CU_ASSERT_FATAL(pr_taddr_from_str(&d6, dst, dport) == 0 && d6.fam == 6);
	uint16_t ulen = (uint16_t)(8 + plen);
	memset(ip, 0, 48);
	ip[0] = 0x6b;
	ip[1] = 0x81;
	ip[2] = 0x23;
	ip[3] = 0x45;
	ip[4] = (uint8_t)(ulen >> 8);
	ip[5] = (uint8_t)ulen;
	ip[6] = 17;
	ip[7] = 57;
	memcpy(ip + 8, s6.ip, 16);
	memcpy(ip + 24, d6.ip, 16);
	ip[40] = (uint8_t)(sport >> 8);
	ip[41] = (uint8_t)sport;
	ip[42] = (uint8_t)(dport >> 8);
	ip[43] = (uint8_t)dport;
	ip[44] = (uint8_t)(ulen >> 8);
	ip[45] = (uint8_t)ulen;
	memcpy(ip + 48, pl, plen);
	if (!zero_ck) {
		uint16_t c = ref_udp6_csum(ip);
		ip[46] = (uint8_t)(c >> 8);
		ip[47] = (uint8_t)c;
	}
	return ulen;
}

/* What dp_udp_relay (put_ip_udp) writes for decision f about the received IPv6 datagram at
 * ip: IPv6 header (traffic class and flow label 0, payload length = UDP length, next header
 * UDP, hop limit 64), UDP, f's header, the kept payload, padding; a correct checksum. */
static uint16_t expected_dgram6(uint8_t *out, const uint8_t *ip, const struct turn_fwd *f)
{
	uint16_t ulen = (uint16_t)(8 + f->hdr_len + f->keep + f->pad);
	memset(out, 0, 40u + ulen);
	out[0] = 0x60;
	out[4] = (uint8_t)(ulen >> 8);
	out[5] = (uint8_t)ulen;
	out[6] = 17;
	out[7] = 64;
	memcpy(out + 8, f->src.ip, 16);
	memcpy(out + 24, f->dst.ip, 16);
	out[40] = (uint8_t)(f->src.port >> 8);
	out[41] = (uint8_t)f->src.port;
	out[42] = (uint8_t)(f->dst.port >> 8);
	out[43] = (uint8_t)f->dst.port;
	out[44] = (uint8_t)(ulen >> 8);
	out[45] = (uint8_t)ulen;
	memcpy(out + 48, f->hdr, f->hdr_len);
	memcpy(out + 48 + f->hdr_len, ip + 48 + f->strip, f->keep);
	uint16_t c = ref_udp6_csum(out);
	out[46] = (uint8_t)(c >> 8);
	out[47] = (uint8_t)c;
	return (uint16_t)(40 + ulen);
}

/* The IPv6 twin of v4_fast_equivalence: IPv6 clients, an IPv6 relay address, IPv6 peers.
 * Relayed: ChannelData both ways on good allocations (0, 1, 2 and 11, whose channel is the
 * highest RFC 5766 number), empty ones, damaged ones (still damaged after), and ones whose
 * checksum computes to zero before or after the rewrite. Declined, untouched and uncounted:
 * a lapsed permission (3), a channel to our own IPv6 relayed address (4), a permission
 * without a channel (5), a closed token bucket (6; an empty datagram still passes it, in
 * both paths), an expired allocation (7), a channel to an IPv4 peer (8), no IPv6 relay port
 * (9), an IPv4 client's allocation reached through its IPv6 relay port (10), an unknown
 * relay port, unknown clients, unbound channels, padding, zero checksums, strangers, the
 * peer from a port without a channel. */
static void v6_fast_equivalence(bool shared)
{
	enum { NA = 12, HEAD = 16, CAP = 200, MAXD = 160 };
	enum {
		PLAIN,
		DAMAGED,
		EMPTY,
		CK_OUT0,
		CK_IN0,
		ZERO_CK,
		PADDED,
		UNBOUND,
		UNKNOWN,
		STRANGER,
		OTHER_PORT,
		NKINDS
	};
	static const char *const relay6 = "2001:db8::10", *const listen6 = "2001:db8::1",
				 *const peer6 = "2001:db8:9::1",
				 *const stranger6 = "2001:db8:9::99";
	shared_counters = shared;
	setup(64, 50000, 50100, true);
	shared_counters = false;
	CU_ASSERT_FATAL(cfg.relay[1].fam == 6);
	struct pr_taddr peer, hp, peer4;
	pr_taddr_from_str(&peer, peer6, 5000);
	pr_taddr_from_str(&hp, relay6, 50001); /* our own IPv6 relayed address */
	pr_taddr_from_str(&peer4, "8.8.8.8", 5000);
	char cli[NA][40];
	uint16_t chnum[NA];
	bool good[NA + 1] = {false};
	good[0] = good[1] = good[2] = good[11] = true;
	for (int i = 0; i < NA; i++) {
		struct turn_alloc a;
		struct turn_ctx c;
		memset(&a, 0, sizeof(a));
		if (i == 10)
			snprintf(cli[i], sizeof(cli[i]), "198.51.100.%d", 10 + i);
		else
			snprintf(cli[i], sizeof(cli[i]), "2001:db8:1::%d", 10 + i);
		c = ctx_of(cli[i], (uint16_t)(40000 + i));
		memcpy(a.ft.cli_ip, c.cli.ip, 16);
		memcpy(a.ft.srv_ip, c.srv.ip, 16);
		a.ft.cli_port = c.cli.port;
		a.ft.srv_port = 3478;
		a.ft.fam = c.cli.fam;
		a.id = (uint64_t)i + 1;
		/* 9: no IPv6 relay port; 8, 9, 10: an IPv4 one as well (dual allocations) */
		a.relay_port[1] = i == 9 ? 0 : (uint16_t)(50000 + i);
		a.relay_port[0] = i >= 8 && i <= 10 ? (uint16_t)(50050 + i) : 0;
		a.expires = now + 600;
		snprintf(a.username, sizeof(a.username), "s%d", i);
		/* 3: lapsed permission; 4: channel to our own relayed address; 5: permission but
		 * no channel; 8: an IPv4 peer; 10: IPv4 client with an IPv6 peer */
		const struct pr_taddr *p = i == 4 ? &hp : i == 8 ? &peer4 : &peer;
		turn_peer16(a.perm[0].ip, p->ip, p->fam);
		a.perm[0].expires = i == 3 ? now - 1 : now + 300;
		a.n_perm = 1;
		chnum[i] = i == 11 ? TURN_CHAN_MAX_RFC5766 : 0x4000;
		if (i != 5) {
			memcpy(a.chan[0].ip, a.perm[0].ip, 16);
			a.chan[0].port = p->port;
			a.chan[0].num = chnum[i];
			a.chan[0].expires = now + 600;
			a.n_chan = 1;
		}
		CU_ASSERT_EQUAL_FATAL(turn_server_restore(srv, &a), 0);
	}
	/* 6: a token bucket of 1 byte/s (never enough but for nothing); 7: expired a second ago */
	turn_server_find_id(srv, 7)->bw_rate = 1;
	turn_server_find_id(srv, 8)->expires = now - 1;

	static uint8_t orig[MAXD][CAP], fast[MAXD][CAP];
	struct turn_fast v[MAXD];
	uint8_t pl[64];
	for (unsigned i = 0; i < sizeof(pl); i++)
		pl[i] = (uint8_t)(i * 7 + 1);
	unsigned n = 0;
	uint8_t kind[MAXD];
	bool expect[MAXD];
	int16_t dmg[MAXD]; /* the byte a DAMAGED datagram has flipped (offset from ip) */
	/* clients: from every IPv6 client, then unknown 5-tuples */
	for (int i = 0; i < NA + 3; i++) {
		for (int k = PLAIN; k <= UNBOUND; k++) {
			if (i == 10 || (i >= NA && k != PLAIN))
				continue; /* 10 is an IPv4 client */
			if ((k == CK_OUT0 || k == CK_IN0) && i != 0 && i != 11)
				continue;
			const char *src = i < NA ? cli[i] : i == NA ? "2001:db8:1::99" : cli[0];
			const char *dst =
			    i == NA + 1 ? "2001:db8::2" : listen6; /* another listener */
			uint16_t sport = (uint16_t)(i == NA + 2 ? 40001
						    : i < NA	? 40000 + i
								: 1234);
			uint16_t dl = k == EMPTY ? 0 : 33;
			uint8_t cd[40] = {0x40, 0x00, 0, (uint8_t)dl};
			if (i < NA) {
				cd[0] = (uint8_t)(chnum[i] >> 8);
				cd[1] = (uint8_t)chnum[i];
			}
			if (k == UNBOUND)
				cd[1] = 0x01;
			memcpy(cd + 4, pl, dl);
			uint16_t plen =
			    (uint16_t)(k == PADDED ? 40 : 4 + dl); /* 33 bytes + 3 of pad */
			uint8_t *ip = orig[n] + HEAD;
			if (k == CK_OUT0) {
				/* what the general path sends (to the peer from our relay address),
				 * with the payload's first word chosen to make its checksum compute
				 * to zero */
				cd[4] = cd[5] = 0;
				put_dgram6(ip, relay6, (uint16_t)(50000 + i), peer6, 5000, cd + 4,
					   dl, false);
				ref_udp6_zero_at(ip, cd + 4);
			} else if (k == CK_IN0) {
				cd[4] = cd[5] = 0;
				put_dgram6(ip, src, sport, dst, 3478, cd, plen, false);
				ref_udp6_zero_at(ip, cd + 4);
			}
			uint16_t ulen =
			    put_dgram6(ip, src, sport, dst, 3478, cd, plen, k == ZERO_CK);
			if (k == CK_IN0)
				CU_ASSERT(ip[46] == 0xff && ip[47] == 0xff);
			dmg[n] = -1;
			if (k == DAMAGED) {
				dmg[n] = 48 + 4 + 5;
				ip[dmg[n]] ^= 0x10;
			}
			kind[n] = (uint8_t)(i >= NA ? UNKNOWN : k);
			/* an empty one passes even the closed bucket, both ways */
			expect[n] = i < NA && ((good[i] && k <= CK_IN0) || (i == 6 && k == EMPTY));
			v[n++] = (struct turn_fast){.ip = ip, .udp_len = ulen};
		}
	}
	/* peers: to every IPv6 relay port and one more, from the peer, a stranger, the peer
	 * from a port without a channel */
	for (int i = 0; i <= NA; i++) {
		for (int k = PLAIN; k <= OTHER_PORT; k++) {
			if (k == PADDED || k == UNBOUND || k == UNKNOWN)
				continue;
			if ((k == CK_OUT0 || k == CK_IN0) && i != 0 && i != 11)
				continue;
			uint8_t *ip = orig[n] + HEAD;
			uint16_t plen = (uint16_t)(k == EMPTY ? 0 : 20 + i);
			uint16_t sport = k == OTHER_PORT ? 5001 : 5000;
			const char *src = k == STRANGER ? stranger6 : peer6;
			uint8_t data[64 + 4];
			memcpy(data + 4, pl, plen);
			if (k == CK_OUT0) {
				/* what the general path sends to the client: ChannelData from the
				 * listener, its first payload word making the checksum compute to 0
				 */
				data[0] = (uint8_t)(chnum[i] >> 8);
				data[1] = (uint8_t)chnum[i];
				data[2] = 0;
				data[3] = (uint8_t)plen;
				data[4] = data[5] = 0;
				put_dgram6(ip, listen6, 3478, cli[i], (uint16_t)(40000 + i), data,
					   (uint16_t)(4 + plen), false);
				ref_udp6_zero_at(ip, data + 4);
			} else if (k == CK_IN0) {
				data[4] = data[5] = 0;
				put_dgram6(ip, src, sport, relay6, (uint16_t)(50000 + i), data + 4,
					   plen, false);
				ref_udp6_zero_at(ip, data + 4);
			}
			uint16_t ulen = put_dgram6(ip, src, sport, relay6, (uint16_t)(50000 + i),
						   data + 4, plen, k == ZERO_CK);
			if (k == CK_IN0)
				CU_ASSERT(ip[46] == 0xff && ip[47] == 0xff);
			dmg[n] = -1;
			if (k == DAMAGED) {
				dmg[n] = 48 + 2;
				ip[dmg[n]] ^= 0x01;
			}
			kind[n] = (uint8_t)k;
			expect[n] = i < NA && ((good[i] && k <= CK_IN0) || (i == 6 && k == EMPTY));
			v[n++] = (struct turn_fast){.ip = ip, .udp_len = ulen, .from_peer = 1};
		}
	}
	CU_ASSERT_FATAL(n <= MAXD && n > 3 * TURN_BURST);
	memcpy(fast, orig, sizeof(orig));
	for (unsigned i = 0; i < n; i++)
		v[i].ip = fast[i] + HEAD;

	struct alloc_counts before[NA], after_fast[NA], after_slow[NA];
	counts_of(before, NA);
	unsigned handled = turn_relay_v6_burst(srv, v, n, 1000);
	counts_of(after_fast, NA);

	unsigned got = 0, relayed[2] = {0}, damaged = 0, zero_out = 0;
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *ip = orig[i] + HEAD;
		struct turn_fwd f;
		struct turn_ctx c;
		uint64_t rnd = 1;
		memset(&c, 0, sizeof(c));
		c.cli.fam = c.srv.fam = 6;
		memcpy(c.cli.ip, ip + 8, 16);
		memcpy(c.srv.ip, ip + 24, 16);
		c.cli.port = (uint16_t)(ip[40] << 8 | ip[41]);
		c.srv.port = (uint16_t)(ip[42] << 8 | ip[43]);
		uint16_t ulen = (uint16_t)(ip[44] << 8 | ip[45]);
		got += v[i].handled;
		CU_ASSERT_EQUAL(v[i].handled, expect[i]);
		if (!v[i].handled) {
			/* untouched */
			CU_ASSERT(!memcmp(fast[i], orig[i], CAP));
			continue;
		}
		/* the general decision for the same datagram (counted once more below) */
		if (v[i].from_peer)
			turn_from_peer(srv, 1, c.srv.port, &c.cli, ip + 48, (uint16_t)(ulen - 8),
				       1000, &rnd, &f);
		else
			turn_from_client(srv, &c, ip + 48, (uint16_t)(ulen - 8), 1000, &rnd, &f);
		CU_ASSERT_FATAL(f.kind == (v[i].from_peer ? TURN_FWD_CLIENT : TURN_FWD_PEER));
		CU_ASSERT(f.dst.fam == 6 && f.src.fam == 6);
		uint8_t exp[CAP];
		uint16_t tot = expected_dgram6(exp, ip, &f);
		CU_ASSERT_EQUAL(v[i].out_off, v[i].from_peer ? -4 : 4);
		CU_ASSERT_EQUAL_FATAL(v[i].out_len, tot);
		const unsigned at = (unsigned)(HEAD + v[i].out_off);
		const uint8_t *out = fast[i] + at;
		/* nothing written outside the relayed datagram */
		CU_ASSERT(!memcmp(fast[i], orig[i], at));
		CU_ASSERT(!memcmp(fast[i] + at + tot, orig[i] + at + tot, CAP - at - tot));
		if (dmg[i] >= 0) {
			/* the same datagram except the checksum, which still says "damaged": it is
			 * the one the undamaged datagram would have after the rewrite */
			uint8_t clean[CAP], exp_clean[CAP];
			memcpy(clean, ip, CAP - HEAD);
			clean[dmg[i]] ^= v[i].from_peer ? 0x01 : 0x10;
			expected_dgram6(exp_clean, clean, &f);
			damaged++;
			CU_ASSERT(!memcmp(out, exp, 46) && !memcmp(out + 48, exp + 48, tot - 48u));
			CU_ASSERT(!memcmp(out + 46, exp_clean + 46, 2));
			CU_ASSERT(!ref_udp6_ok(out));
		} else {
			CU_ASSERT(!memcmp(out, exp, tot));
			CU_ASSERT(ref_udp6_ok(out));
		}
		if (kind[i] == CK_OUT0) {
			zero_out++;
			CU_ASSERT(out[46] == 0xff && out[47] == 0xff);
		}
		relayed[v[i].from_peer]++;
	}
	counts_of(after_slow, NA);
	CU_ASSERT_EQUAL(handled, got);
	/* what the fast path counted is exactly what the general path counted for the same
	 * datagrams (and nothing for those it left alone) */
	for (int i = 0; i < NA; i++)
		for (unsigned j = 0; j < 4 + TURN_DROP_MAX; j++)
			CU_ASSERT_EQUAL(after_fast[i].v[j] - before[i].v[j],
					after_slow[i].v[j] - after_fast[i].v[j]);
	/* the mix really has both: relayed in both directions, damaged ones among them, and
	 * every kind of decline */
	CU_ASSERT(relayed[0] >= 12 && relayed[1] >= 12 && damaged == 8 && zero_out == 4 && got < n);
	unsigned per_kind[NKINDS] = {0}, declined_kind[NKINDS] = {0};
	for (unsigned i = 0; i < n; i++) {
		per_kind[kind[i]]++;
		declined_kind[kind[i]] += !v[i].handled;
	}
	for (int k = ZERO_CK; k < NKINDS; k++) {
		CU_ASSERT(per_kind[k] > 0);
		CU_ASSERT_EQUAL(declined_kind[k], per_kind[k]);
	}
}

static void test_v6_fast_equivalence(void)
{
	v6_fast_equivalence(false);
	v6_fast_equivalence(true);
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite("turn_server", NULL, NULL);
	CU_add_test(s, "binding", test_binding);
	CU_add_test(s, "allocate", test_allocate_basic);
	CU_add_test(s, "lifetimes and expiry", test_lifetimes);
	CU_add_test(s, "authentication failures", test_auth_failures);
	CU_add_test(s, "store fetching, unable, away", test_store_states);
	CU_add_test(s, "allocate errors", test_allocate_errors);
	CU_add_test(s, "dual stack", test_dual_stack);
	CU_add_test(s, "permissions", test_permissions);
	CU_add_test(s, "channels and data", test_channels_and_data);
	CU_add_test(s, "441 wrong credentials", test_wrong_user_441);
	CU_add_test(s, "quotas", test_quotas);
	CU_add_test(s, "401 rate limit", test_unauth_rate_limit);
	CU_add_test(s, "rest credentials", test_rest);
	CU_add_test(s, "sha-256", test_sha256);
	CU_add_test(s, "even port and reservation", test_even_port);
	CU_add_test(s, "bandwidth", test_bandwidth);
	CU_add_test(s, "rfc5766 channel numbers", test_rfc5766_channels);
	CU_add_test(s, "client to client", test_client_to_client);
	CU_add_test(s, "restore and delete", test_restore_and_delete);
	CU_add_test(s, "[ha] forget our own, restore them", test_forget_own);
	CU_add_test(s, "burst decisions equal single ones", test_burst_equivalence);
	CU_add_test(s, "IPv4 channel fast path equals the general path", test_v4_fast_equivalence);
	CU_add_test(s, "IPv6 channel fast path equals the general path", test_v6_fast_equivalence);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	turn_server_destroy(srv);
	turn_table_destroy(tbl);
	return fails ? 1 : 0;
}
