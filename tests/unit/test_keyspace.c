/* SPDX-License-Identifier: BSD-3-Clause */
/* The Redis keyspace codec: pure encode/decode of every record type (generic round trip
 * driven by the field tables), malformed records, and a real redis-server (started here on
 * a private unix socket) for every record type's storage layout. */
#include "tests/unit/redis_fixture.h"
#include "common/keyspace.h"

#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const struct pr_ks_desc *const all_descs[] = {
    &pr_ks_user_desc, &pr_ks_reg_desc,	 &pr_ks_turn_alloc_desc, &pr_ks_session_desc,
    &pr_ks_cdr_desc,  &pr_ks_audit_desc, &pr_ks_dialog_desc,
};
#define NDESCS (sizeof(all_descs) / sizeof(all_descs[0]))

/* Fills every field of a record with a value derived from seed: seed 0 gives minimal
 * values, 1 the maxima (longest strings, largest integers), others something in between. */
static void fill(const struct pr_ks_desc *d, void *base, unsigned seed, unsigned *k)
{
	size_t i;

	for (i = 0; i < d->nfields; i++) {
		const struct pr_ks_field *f = &d->fields[i];
		char *p = (char *)base + f->off;
		unsigned v = seed * 7919u + (*k)++ * 104729u;

		switch (f->type) {
		case PR_KS_T_STR:
			if (seed == 1) {
				memset(p, 'a' + (int)(*k % 26), f->size - 1);
				p[f->size - 1] = 0;
			} else if (seed == 0) {
				p[0] = 0;
			} else {
				snprintf(p, f->size, "v%u-%s é", v, f->name);
			}
			break;
		case PR_KS_T_BOOL:
			*(bool *)p = seed == 1 || (v & 1);
			break;
		case PR_KS_T_U16:
			*(uint16_t *)p = seed == 1 ? UINT16_MAX : (uint16_t)v;
			break;
		case PR_KS_T_U32:
			*(uint32_t *)p = seed == 1 ? UINT32_MAX : v;
			break;
		case PR_KS_T_U64:
			*(uint64_t *)p = seed == 1 ? UINT64_MAX : (uint64_t)v << 20;
			break;
		case PR_KS_T_I64:
			*(int64_t *)p = seed == 1 ? INT64_MIN : (int64_t)v - 5000000;
			break;
		case PR_KS_T_NEST:
			fill(f->sub, p, seed, k);
			break;
		}
	}
}

static void *new_filled(const struct pr_ks_desc *d, unsigned seed)
{
	void *rec = calloc(1, d->size);
	unsigned k = 0;

	fill(d, rec, seed, &k);
	return rec;
}

static struct pr_ks_kv *kv_find(struct pr_ks_hash *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (strcmp(h->kv[i].name, name) == 0)
			return &h->kv[i];
	return NULL;
}

static void kv_remove(struct pr_ks_hash *h, const char *name)
{
	struct pr_ks_kv *kv = kv_find(h, name);

	if (kv) {
		*kv = h->kv[h->n - 1];
		h->n--;
	}
}

static void kv_set(struct pr_ks_hash *h, const char *name, const char *value)
{
	struct pr_ks_kv *kv = kv_find(h, name);

	if (!kv) {
		kv = &h->kv[h->n++];
		snprintf(kv->name, sizeof(kv->name), "%s", name);
	}
	snprintf(kv->value, sizeof(kv->value), "%s", value);
	kv->len = strlen(value);
}

/* Two records are the same when they encode to the same field/value pairs (bytes after a
 * string's NUL do not matter). */
static int same(const struct pr_ks_desc *d, const void *a, const void *b)
{
	struct pr_ks_hash *ha = malloc(sizeof(*ha)), *hb = malloc(sizeof(*hb));
	size_t i;
	int eq = pr_ks_encode(d, a, ha) == 0 && pr_ks_encode(d, b, hb) == 0 && ha->n == hb->n;

	for (i = 0; eq && i < ha->n; i++)
		eq = strcmp(ha->kv[i].name, hb->kv[i].name) == 0 &&
		     ha->kv[i].len == hb->kv[i].len &&
		     memcmp(ha->kv[i].value, hb->kv[i].value, ha->kv[i].len) == 0;
	free(ha);
	free(hb);
	return eq;
}

/* ---- pure codec ---- */

static void check_table(const struct pr_ks_desc *d, size_t base, size_t total, char *seen)
{
	size_t i;

	for (i = 0; i < d->nfields; i++) {
		const struct pr_ks_field *f = &d->fields[i];
		size_t off = base + f->off, j;

		CU_ASSERT_FATAL(off + f->size <= total);
		if (f->type == PR_KS_T_NEST) {
			CU_ASSERT_PTR_NOT_NULL_FATAL(f->sub);
			CU_ASSERT_EQUAL(f->size, f->sub->size);
			check_table(f->sub, off, total, seen);
			continue;
		}
		for (j = off; j < off + f->size; j++) {
			CU_ASSERT_EQUAL(seen[j], 0); /* two fields never overlap */
			seen[j] = 1;
		}
	}
}

static void test_tables_sane(void)
{
	size_t i;

	for (i = 0; i < NDESCS; i++) {
		char *seen = calloc(1, all_descs[i]->size);
		check_table(all_descs[i], 0, all_descs[i]->size, seen);
		free(seen);
	}
}

static void test_roundtrip_all(void)
{
	struct pr_ks_hash *h = malloc(sizeof(*h));
	unsigned seed;
	size_t i;

	for (i = 0; i < NDESCS; i++) {
		const struct pr_ks_desc *d = all_descs[i];
		for (seed = 0; seed < 5; seed++) {
			void *a = new_filled(d, seed), *b = calloc(1, d->size);
			int rc = pr_ks_encode(d, a, h);
			CU_ASSERT_EQUAL(rc, 0);
			if (rc)
				fprintf(stderr, "encode %s seed %u: %s\n", d->name, seed,
					pr_ks_errmsg());
			rc = pr_ks_decode(d, h, b);
			CU_ASSERT_EQUAL(rc, 0);
			if (rc)
				fprintf(stderr, "decode %s seed %u: %s\n", d->name, seed,
					pr_ks_errmsg());
			CU_ASSERT_EQUAL(memcmp(a, b, d->size), 0);
			free(a);
			free(b);
		}
	}
	free(h);
}

static void test_encoding_text(void)
{
	struct pr_ks_hash h;
	struct pr_ks_user u = {0};
	struct pr_ks_kv *kv;

	snprintf(u.name, sizeof(u.name), "alice");
	u.encryption_required = true;
	u.max_tx_kbps = 2048;
	u.created = -5;
	CU_ASSERT_EQUAL_FATAL(pr_ks_encode(&pr_ks_user_desc, &u, &h), 0);
	kv = kv_find(&h, "v");
	CU_ASSERT_PTR_NOT_NULL_FATAL(kv);
	CU_ASSERT_STRING_EQUAL(kv->value, "1");
	CU_ASSERT_STRING_EQUAL(kv_find(&h, "name")->value, "alice");
	CU_ASSERT_STRING_EQUAL(kv_find(&h, "encryption_required")->value, "1");
	CU_ASSERT_STRING_EQUAL(kv_find(&h, "max_tx_kbps")->value, "2048");
	CU_ASSERT_STRING_EQUAL(kv_find(&h, "created")->value, "-5");
	CU_ASSERT_PTR_NULL(kv_find(&h, "password"));
	/* session legs are prefixed */
	{
		struct pr_ks_session s = {0};
		s.leg[1].relay_port = 40002;
		CU_ASSERT_EQUAL_FATAL(pr_ks_encode(&pr_ks_session_desc, &s, &h), 0);
		CU_ASSERT_PTR_NOT_NULL(kv_find(&h, "a_relay_port"));
		CU_ASSERT_STRING_EQUAL(kv_find(&h, "b_relay_port")->value, "40002");
	}
}

static int decode_user(struct pr_ks_hash *h)
{
	struct pr_ks_user u;

	return pr_ks_decode(&pr_ks_user_desc, h, &u);
}

static void test_malformed(void)
{
	struct pr_ks_hash *h = malloc(sizeof(*h)), *orig = malloc(sizeof(*orig));
	struct pr_ks_user *u = new_filled(&pr_ks_user_desc, 3);
	static const struct {
		const char *field, *value;
	} bad[] = {
	    {"max_tx_kbps", "12x"},
	    {"max_tx_kbps", ""},
	    {"max_tx_kbps", "-1"},
	    {"max_tx_kbps", "4294967296"},
	    {"max_tx_kbps", "012"},
	    {"max_tx_kbps", " 1"},
	    {"created", "-"},
	    {"created", "1.5"},
	    {"created", "9223372036854775808"},
	    {"created", "-0"},
	    {"encryption_required", "2"},
	    {"encryption_required", "yes"},
	    {"keepalive_s", "+5"},
	};
	size_t i;
	int rc;

	CU_ASSERT_EQUAL_FATAL(pr_ks_encode(&pr_ks_user_desc, u, orig), 0);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		*h = *orig;
		kv_set(h, bad[i].field, bad[i].value);
		rc = decode_user(h);
		CU_ASSERT_EQUAL(rc, -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(pr_ks_errmsg(), bad[i].field));
		if (rc != -EINVAL)
			fprintf(stderr, "accepted %s=%s\n", bad[i].field, bad[i].value);
	}
	/* extremes that are valid */
	*h = *orig;
	kv_set(h, "created", "-9223372036854775808");
	kv_set(h, "max_tx_kbps", "4294967295");
	kv_set(h, "keepalive_s", "0");
	CU_ASSERT_EQUAL(decode_user(h), 0);

	/* missing required field */
	*h = *orig;
	kv_remove(h, "ha1_sha256");
	CU_ASSERT_EQUAL(decode_user(h), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(pr_ks_errmsg(), "missing field ha1_sha256"));
	/* missing optional field: zero */
	*h = *orig;
	kv_remove(h, "pop");
	{
		struct pr_ks_user d;
		CU_ASSERT_EQUAL(pr_ks_decode(&pr_ks_user_desc, h, &d), 0);
		CU_ASSERT_STRING_EQUAL(d.pop, "");
	}
	/* unknown fields are ignored (additive changes) */
	*h = *orig;
	kv_set(h, "future_field", "whatever");
	CU_ASSERT_EQUAL(decode_user(h), 0);
	/* wrong schema version */
	*h = *orig;
	kv_set(h, "v", "2");
	CU_ASSERT_EQUAL(decode_user(h), -EPROTO);
	CU_ASSERT_PTR_NOT_NULL(strstr(pr_ks_errmsg(), "schema 2"));
	*h = *orig;
	kv_remove(h, "v");
	CU_ASSERT_EQUAL(decode_user(h), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(pr_ks_errmsg(), "field v"));
	/* over-long string */
	*h = *orig;
	{
		char longname[PR_KS_NAME_MAX + 1];
		memset(longname, 'n', PR_KS_NAME_MAX);
		longname[PR_KS_NAME_MAX] = 0;
		kv_set(h, "name", longname);
		CU_ASSERT_EQUAL(decode_user(h), -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(pr_ks_errmsg(), "exceeds"));
	}
	/* embedded NUL */
	*h = *orig;
	kv_set(h, "pop", "ab");
	kv_find(h, "pop")->len = 3; /* "ab\0" */
	CU_ASSERT_EQUAL(decode_user(h), -EINVAL);
	/* nested field error names the prefix */
	{
		struct pr_ks_session *s = new_filled(&pr_ks_session_desc, 2), d;
		CU_ASSERT_EQUAL_FATAL(pr_ks_encode(&pr_ks_session_desc, s, h), 0);
		kv_set(h, "b_relay_port", "70000");
		CU_ASSERT_EQUAL(pr_ks_decode(&pr_ks_session_desc, h, &d), -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(pr_ks_errmsg(), "b_"));
		CU_ASSERT_PTR_NOT_NULL(strstr(pr_ks_errmsg(), "relay_port"));
		free(s);
	}
	/* encoding an unterminated string fails instead of reading past it */
	memset(u->pop, 'x', sizeof(u->pop));
	CU_ASSERT_EQUAL(pr_ks_encode(&pr_ks_user_desc, u, h), -EINVAL);
	free(u);
	free(h);
	free(orig);
}

/* Random field/value soup never crashes a decoder and only yields 0, -EINVAL or -EPROTO;
 * a record that decodes re-encodes to something that decodes the same. */
static void test_random_input(void)
{
	struct pr_ks_hash *h = malloc(sizeof(*h)), *h2 = malloc(sizeof(*h2));
	static const char *const vals[] = {"",
					   "0",
					   "1",
					   "-1",
					   "65535",
					   "65536",
					   "4294967296",
					   "18446744073709551615",
					   "18446744073709551616",
					   "-9223372036854775808",
					   "x",
					   "1e3",
					   " 7",
					   "007",
					   "2"};
	unsigned seed = 12345, iter, ok = 0;
	size_t i;

	for (iter = 0; iter < 20000; iter++) {
		const struct pr_ks_desc *d = all_descs[iter % NDESCS];
		void *rec = new_filled(d, 2 + iter % 3), *back;
		int rc;

		CU_ASSERT_EQUAL_FATAL(pr_ks_encode(d, rec, h), 0);
		for (i = 0; i < h->n; i++) {
			seed = seed * 1103515245u + 12345u;
			if ((seed >> 16) % 4 == 0) {
				const char *v =
				    vals[(seed >> 8) % (sizeof(vals) / sizeof(vals[0]))];
				snprintf(h->kv[i].value, sizeof(h->kv[i].value), "%s", v);
				h->kv[i].len = strlen(v);
			} else if ((seed >> 16) % 17 == 1) {
				h->kv[i].len = PR_KS_VALUE_MAX; /* "too long" marker */
			}
		}
		if ((seed >> 20) % 5 == 0 && h->n)
			h->n--; /* drop the last field */
		rc = pr_ks_decode(d, h, rec);
		CU_ASSERT(rc == 0 || rc == -EINVAL || rc == -EPROTO);
		if (rc == 0) {
			ok++;
			back = calloc(1, d->size);
			CU_ASSERT_EQUAL(pr_ks_encode(d, rec, h2), 0);
			CU_ASSERT_EQUAL(pr_ks_decode(d, h2, back), 0);
			CU_ASSERT_TRUE(same(d, rec, back));
			free(back);
		}
		free(rec);
	}
	CU_ASSERT(ok > 0); /* some survive, so the round-trip branch ran */
	free(h);
	free(h2);
}

static redisReply *parse_resp(const char *wire)
{
	redisReader *rd = redisReaderCreate();
	void *rep = NULL;

	redisReaderFeed(rd, wire, strlen(wire));
	if (redisReaderGetReply(rd, &rep) != REDIS_OK)
		rep = NULL;
	redisReaderFree(rd);
	return rep;
}

static void test_from_reply(void)
{
	struct pr_ks_hash h;
	redisReply *rep;

	rep = parse_resp("*4\r\n$1\r\nv\r\n$1\r\n1\r\n$4\r\nname\r\n$3\r\nbob\r\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(rep);
	CU_ASSERT_EQUAL(pr_ks_hash_from_reply(rep, &h), 0);
	CU_ASSERT_EQUAL(h.n, 2);
	CU_ASSERT_STRING_EQUAL(kv_find(&h, "name")->value, "bob");
	freeReplyObject(rep);
	rep = parse_resp("*3\r\n$1\r\nv\r\n$1\r\n1\r\n$4\r\nname\r\n");
	CU_ASSERT_EQUAL(pr_ks_hash_from_reply(rep, &h), -EINVAL);
	freeReplyObject(rep);
	rep = parse_resp("*2\r\n$1\r\nv\r\n:1\r\n");
	CU_ASSERT_EQUAL(pr_ks_hash_from_reply(rep, &h), -EINVAL);
	freeReplyObject(rep);
	rep = parse_resp("$3\r\nabc\r\n");
	CU_ASSERT_EQUAL(pr_ks_hash_from_reply(rep, &h), -EINVAL);
	freeReplyObject(rep);
	CU_ASSERT_EQUAL(pr_ks_hash_from_reply(NULL, &h), -EINVAL);
}

/* HMGET of some fields: the command names "v" then the descriptor's fields, and the reply's
 * values are zipped with them, nils left out */
static void test_from_hmget(void)
{
	const char *argv[16];
	struct pr_ks_hash h;
	struct pr_ks_user u;
	redisReply *rep;

	CU_ASSERT_EQUAL(pr_ks_hmget_argv(&pr_ks_user_auth_desc, "pr:user:bob", argv, 16), 8);
	CU_ASSERT_STRING_EQUAL(argv[0], "HMGET");
	CU_ASSERT_STRING_EQUAL(argv[1], "pr:user:bob");
	CU_ASSERT_STRING_EQUAL(argv[2], "v");
	CU_ASSERT_STRING_EQUAL(argv[3], "name");
	CU_ASSERT_STRING_EQUAL(argv[7], "disabled");
	CU_ASSERT_EQUAL(pr_ks_hmget_argv(&pr_ks_user_auth_desc, "k", argv, 7), -EINVAL);
	CU_ASSERT_EQUAL(pr_ks_hmget_argv(&pr_ks_session_desc, "k", argv, 16), -EINVAL);

	rep = parse_resp("*6\r\n$1\r\n1\r\n$3\r\nbob\r\n$2\r\nex\r\n"
			 "$32\r\n0123456789abcdef0123456789abcdef\r\n"
			 "$64\r\n0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
			 "\r\n$-1\r\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(rep);
	CU_ASSERT_EQUAL(pr_ks_hash_from_hmget(&pr_ks_user_auth_desc, rep, &h), 0);
	CU_ASSERT_EQUAL(h.n, 5); /* disabled is nil: left out */
	CU_ASSERT_EQUAL(pr_ks_decode(&pr_ks_user_auth_desc, &h, &u), 0);
	CU_ASSERT_STRING_EQUAL(u.name, "bob");
	CU_ASSERT_STRING_EQUAL(u.realm, "ex");
	CU_ASSERT(!u.disabled);
	/* the whole user's required fields are not all there: its own descriptor refuses */
	CU_ASSERT_NOT_EQUAL(pr_ks_decode(&pr_ks_user_desc, &h, &u), 0);
	pr_ks_hash_wipe(&h);
	freeReplyObject(rep);
	/* no such user: every value nil */
	rep = parse_resp("*6\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n");
	CU_ASSERT_EQUAL(pr_ks_hash_from_hmget(&pr_ks_user_auth_desc, rep, &h), -ENOENT);
	freeReplyObject(rep);
	/* a reply of another length, or with a non-string value */
	rep = parse_resp("*2\r\n$1\r\n1\r\n$3\r\nbob\r\n");
	CU_ASSERT_EQUAL(pr_ks_hash_from_hmget(&pr_ks_user_auth_desc, rep, &h), -EINVAL);
	freeReplyObject(rep);
	rep = parse_resp("*6\r\n$1\r\n1\r\n:7\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n");
	CU_ASSERT_EQUAL(pr_ks_hash_from_hmget(&pr_ks_user_auth_desc, rep, &h), -EINVAL);
	freeReplyObject(rep);
	CU_ASSERT_EQUAL(pr_ks_hash_from_hmget(&pr_ks_user_auth_desc, NULL, &h), -EINVAL);
}

static void test_format_and_find(void)
{
	struct pr_ks_session s = {0};
	const struct pr_ks_field *f;
	size_t off = 99;
	char buf[64];

	snprintf(s.leg[1].key_rx, sizeof(s.leg[1].key_rx),
		 "WVNfmsd8P0ymKhAGkkcsNCM5NXr0yxRlu3j8fBa+");
	f = pr_ks_field_find(&pr_ks_session_desc, "b_key_rx", &off);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(off, offsetof(struct pr_ks_session, leg[1]));
	CU_ASSERT_TRUE(f->flags & PR_KS_F_SECRET);
	CU_ASSERT_TRUE(pr_ks_field_format(f, (char *)&s + off, buf, sizeof(buf)) > 0);
	CU_ASSERT_STRING_EQUAL(buf, "set");
	f = pr_ks_field_find(&pr_ks_session_desc, "a_key_rx", &off);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	pr_ks_field_format(f, (char *)&s + off, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "-");
	f = pr_ks_field_find(&pr_ks_cdr_desc, "callee_jitter_us", &off);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(off, offsetof(struct pr_ks_cdr, callee));
	CU_ASSERT_PTR_NULL(pr_ks_field_find(&pr_ks_cdr_desc, "callee_nope", NULL));
	CU_ASSERT_PTR_NULL(pr_ks_field_find(&pr_ks_user_desc, "password", NULL));
	{
		struct pr_ks_user u = {0};
		f = pr_ks_field_find(&pr_ks_user_desc, "max_rx_kbps", &off);
		CU_ASSERT_EQUAL(pr_ks_field_parse(f, &u, "640"), 0);
		CU_ASSERT_EQUAL(u.max_rx_kbps, 640);
		CU_ASSERT_EQUAL(pr_ks_field_parse(f, &u, "lots"), -EINVAL);
		pr_ks_field_format(f, &u, buf, sizeof(buf));
		CU_ASSERT_STRING_EQUAL(buf, "640");
	}
	CU_ASSERT_TRUE(pr_ks_user_name_valid("alice.b-c_1"));
	CU_ASSERT_FALSE(pr_ks_user_name_valid(""));
	CU_ASSERT_FALSE(pr_ks_user_name_valid("-alice"));
	CU_ASSERT_FALSE(pr_ks_user_name_valid("al ice"));
	CU_ASSERT_FALSE(pr_ks_user_name_valid("al:ice"));
	CU_ASSERT_FALSE(pr_ks_user_name_valid("a*"));
}

/* ---- real redis-server ---- */

static char sock_path[128];
static struct pr_redis *R;

static int suite_redis_init(void)
{
	if (test_redis_start("ks-unit", 120, sock_path, sizeof(sock_path)) < 0)
		return -1;
	return pr_redis_connect(&R, sock_path, 2000) == 0 ? 0 : -1;
}

static int suite_redis_clean(void)
{
	pr_redis_close(R);
	R = NULL;
	test_redis_stop();
	return 0;
}

static long long cmd_integer(const char *fmt, const char *arg)
{
	redisReply *rep = pr_redis_cmd(R, fmt, arg);
	long long v = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -999;

	if (rep)
		freeReplyObject(rep);
	return v;
}

static void test_r_schema(void)
{
	redisReply *rep;

	freeReplyObject(pr_redis_cmd(R, "DEL %s", PR_KS_SCHEMA_KEY));
	CU_ASSERT_EQUAL(pr_ks_check_schema(R), 0);
	rep = pr_redis_cmd(R, "GET %s", PR_KS_SCHEMA_KEY);
	CU_ASSERT_FATAL(rep && rep->type == REDIS_REPLY_STRING);
	CU_ASSERT_STRING_EQUAL(rep->str, "1");
	freeReplyObject(rep);
	CU_ASSERT_EQUAL(pr_ks_check_schema(R), 0); /* idempotent */
	freeReplyObject(pr_redis_cmd(R, "SET %s 2", PR_KS_SCHEMA_KEY));
	CU_ASSERT_EQUAL(pr_ks_check_schema(R), -EPROTO);
	CU_ASSERT_PTR_NOT_NULL(strstr(pr_ks_errmsg(), "schema is 2, this build speaks 1"));
	freeReplyObject(pr_redis_cmd(R, "SET %s banana", PR_KS_SCHEMA_KEY));
	CU_ASSERT_EQUAL(pr_ks_check_schema(R), -EPROTO);
	freeReplyObject(pr_redis_cmd(R, "SET %s 1", PR_KS_SCHEMA_KEY));
	CU_ASSERT_EQUAL(pr_ks_check_schema(R), 0);
}

static void test_r_user(void)
{
	struct pr_ks_user *u = new_filled(&pr_ks_user_desc, 2), got;
	struct pr_ks_names names;
	char *ha1;

	snprintf(u->name, sizeof(u->name), "alice");
	CU_ASSERT_EQUAL_FATAL(pr_ks_user_store(R, u), 0);
	CU_ASSERT_EQUAL(pr_ks_user_load(R, "alice", &got), 0);
	CU_ASSERT_TRUE(same(&pr_ks_user_desc, u, &got));
	/* store is a full replace: no stale field survives */
	freeReplyObject(pr_redis_cmd(R, "HSET pr:user:alice stale 1"));
	CU_ASSERT_EQUAL(pr_ks_user_store(R, u), 0);
	CU_ASSERT_EQUAL(cmd_integer("HEXISTS pr:user:alice %s", "stale"), 0);
	/* digests are stored as given, under the contract's field names */
	ha1 = u->ha1_sha256;
	{
		redisReply *rep = pr_redis_cmd(R, "HGET pr:user:alice ha1_sha256");
		CU_ASSERT_FATAL(rep && rep->type == REDIS_REPLY_STRING);
		CU_ASSERT_STRING_EQUAL(rep->str, ha1);
		freeReplyObject(rep);
	}
	snprintf(u->name, sizeof(u->name), "bob");
	CU_ASSERT_EQUAL(pr_ks_user_store(R, u), 0);
	CU_ASSERT_EQUAL_FATAL(pr_ks_user_list(R, &names), 0);
	CU_ASSERT_EQUAL_FATAL(names.n, 2);
	CU_ASSERT_STRING_EQUAL(names.v[0], "alice");
	CU_ASSERT_STRING_EQUAL(names.v[1], "bob");
	pr_ks_names_free(&names);
	CU_ASSERT_EQUAL(pr_ks_user_delete(R, "bob"), 0);
	CU_ASSERT_EQUAL(pr_ks_user_delete(R, "bob"), -ENOENT);
	CU_ASSERT_EQUAL(pr_ks_user_load(R, "bob", &got), -ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(pr_ks_errmsg(), "pr:user:bob"));
	CU_ASSERT_EQUAL(cmd_integer("SISMEMBER pr:users %s", "bob"), 0);
	CU_ASSERT_EQUAL(pr_ks_user_load(R, "bad name", &got), -EINVAL);
	/* a malformed record in Redis is refused with the key and field named */
	freeReplyObject(pr_redis_cmd(R, "HSET pr:user:alice max_rx_kbps lots"));
	CU_ASSERT_EQUAL(pr_ks_user_load(R, "alice", &got), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(pr_ks_errmsg(), "pr:user:alice"));
	CU_ASSERT_PTR_NOT_NULL(strstr(pr_ks_errmsg(), "max_rx_kbps"));
	freeReplyObject(pr_redis_cmd(R, "HSET pr:user:alice v 7"));
	CU_ASSERT_EQUAL(pr_ks_user_load(R, "alice", &got), -EPROTO);
	CU_ASSERT_EQUAL(pr_ks_user_delete(R, "alice"), 0);
	/* create is create-only */
	snprintf(u->name, sizeof(u->name), "erin");
	CU_ASSERT_EQUAL(pr_ks_user_create(R, u), 0);
	CU_ASSERT_EQUAL(pr_ks_user_load(R, "erin", &got), 0);
	CU_ASSERT_TRUE(same(&pr_ks_user_desc, u, &got));
	CU_ASSERT_EQUAL(cmd_integer("SISMEMBER pr:users %s", "erin"), 1);
	u->max_rx_kbps = 1;
	CU_ASSERT_EQUAL(pr_ks_user_create(R, u), -EEXIST);
	CU_ASSERT_EQUAL(pr_ks_user_load(R, "erin", &got), 0);
	CU_ASSERT_NOT_EQUAL(got.max_rx_kbps, 1);
	CU_ASSERT_EQUAL(pr_ks_user_delete(R, "erin"), 0);
	/* an error reply is not "Redis is down": WRONGTYPE is -EINVAL */
	freeReplyObject(pr_redis_cmd(R, "SET pr:user:frank oops"));
	CU_ASSERT_EQUAL(pr_ks_user_load(R, "frank", &got), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(pr_ks_errmsg(), "WRONGTYPE"));
	freeReplyObject(pr_redis_cmd(R, "DEL pr:user:frank"));
	free(u);
}

static void test_r_reg(void)
{
	struct pr_ks_reg *g = new_filled(&pr_ks_reg_desc, 2), got;
	struct pr_ks_names names;
	int64_t now = time(NULL);
	long long ttl;

	snprintf(g->user, sizeof(g->user), "carol");
	g->expires = now + 600;
	CU_ASSERT_EQUAL_FATAL(pr_ks_reg_store(R, g), 0);
	CU_ASSERT_EQUAL(pr_ks_reg_load(R, "carol", &got), 0);
	CU_ASSERT_TRUE(same(&pr_ks_reg_desc, g, &got));
	ttl = cmd_integer("TTL %s", "pr:reg:carol");
	CU_ASSERT(ttl > 590 && ttl <= 600);
	snprintf(g->user, sizeof(g->user), "dave");
	g->expires = now + 2;
	CU_ASSERT_EQUAL(pr_ks_reg_store(R, g), 0);
	CU_ASSERT_EQUAL_FATAL(pr_ks_reg_list(R, now, &names), 0);
	CU_ASSERT_EQUAL(names.n, 2);
	pr_ks_names_free(&names);
	/* seen from 10 s later, dave's binding is stale and trimmed */
	CU_ASSERT_EQUAL_FATAL(pr_ks_reg_list(R, now + 10, &names), 0);
	CU_ASSERT_EQUAL_FATAL(names.n, 1);
	CU_ASSERT_STRING_EQUAL(names.v[0], "carol");
	pr_ks_names_free(&names);
	CU_ASSERT_EQUAL(pr_ks_reg_delete(R, "carol"), 0);
	CU_ASSERT_EQUAL(pr_ks_reg_delete(R, "carol"), -ENOENT);
	free(g);
}

/* The dataplane's TURN writes, as it pipelines them (pr_ks_turn_alloc_*_tx), run here as
 * one MULTI/EXEC. turn_counters returns the script's result: -1 when the allocation is gone
 * (nothing written), else how many fields it wrote. */
static int turn_store(const struct pr_ks_turn_alloc *a)
{
	struct pr_redis_tx *tx = pr_redis_tx_new();
	int rc = tx ? pr_ks_turn_alloc_store_tx(tx, a) : -ENOMEM;

	if (rc == 0)
		rc = pr_redis_tx_run(R, tx, NULL);
	pr_redis_tx_free(tx);
	return rc;
}

static long long turn_counters(const struct pr_ks_turn_alloc *a)
{
	struct pr_redis_tx *tx = pr_redis_tx_new();
	redisReply *exec = NULL;
	long long n = -999;

	if (tx && pr_ks_turn_alloc_counters_tx(tx, a) == 0 && pr_redis_tx_run(R, tx, &exec) == 0 &&
	    exec->elements == 1 && exec->element[0]->type == REDIS_REPLY_INTEGER)
		n = exec->element[0]->integer;
	if (exec)
		freeReplyObject(exec);
	pr_redis_tx_free(tx);
	return n;
}

static void test_r_turn(void)
{
	struct pr_ks_turn_alloc *a = new_filled(&pr_ks_turn_alloc_desc, 2), got;
	struct pr_ks_turn_perm p = {"203.0.113.7", 0}, perms[4];
	struct pr_ks_turn_chan c = {0x4001, "2001:db8::1", 5004, 0}, chans[4];
	struct pr_ks_names ids;
	int64_t now = time(NULL);

	snprintf(a->id, sizeof(a->id), "a1b2c3");
	a->expires = now + 600;
	CU_ASSERT_EQUAL_FATAL(turn_store(a), 0);
	CU_ASSERT_EQUAL(pr_ks_turn_alloc_load(R, "a1b2c3", &got), 0);
	CU_ASSERT_TRUE(same(&pr_ks_turn_alloc_desc, a, &got));
	p.expires = now + 300;
	CU_ASSERT_EQUAL(pr_ks_turn_perm_set(R, "a1b2c3", &p), 0);
	c.expires = now + 600;
	CU_ASSERT_EQUAL(pr_ks_turn_chan_set(R, "a1b2c3", &c), 0);
	CU_ASSERT_EQUAL_FATAL(pr_ks_turn_perm_list(R, "a1b2c3", perms, 4), 1);
	CU_ASSERT_STRING_EQUAL(perms[0].peer_addr, "203.0.113.7");
	CU_ASSERT_EQUAL(perms[0].expires, now + 300);
	CU_ASSERT_EQUAL_FATAL(pr_ks_turn_chan_list(R, "a1b2c3", chans, 4), 1);
	CU_ASSERT_EQUAL(chans[0].channel, 0x4001);
	CU_ASSERT_STRING_EQUAL(chans[0].peer_addr, "2001:db8::1");
	CU_ASSERT_EQUAL(chans[0].peer_port, 5004);
	CU_ASSERT_EQUAL(chans[0].expires, now + 600);
	CU_ASSERT(cmd_integer("TTL %s", "pr:turn:alloc:a1b2c3:perms") > 0);
	c.channel = 0x3fff;
	CU_ASSERT_EQUAL(pr_ks_turn_chan_set(R, "a1b2c3", &c), -EINVAL);
	freeReplyObject(pr_redis_cmd(R, "HSET pr:turn:alloc:a1b2c3:chans 16386 garbage"));
	CU_ASSERT_EQUAL(pr_ks_turn_chan_list(R, "a1b2c3", chans, 4), -EINVAL);
	CU_ASSERT_EQUAL(pr_ks_turn_perm_del(R, "a1b2c3", "203.0.113.7"), 0);
	CU_ASSERT_EQUAL(pr_ks_turn_perm_del(R, "a1b2c3", "203.0.113.7"), -ENOENT);
	CU_ASSERT_EQUAL(pr_ks_turn_chan_del(R, "a1b2c3", 16386), 0);
	/* RFC 5766's channel range (coturn's clients) round-trips; beyond it is refused */
	c.channel = 0x7fff;
	CU_ASSERT_EQUAL(pr_ks_turn_chan_set(R, "a1b2c3", &c), 0);
	CU_ASSERT_EQUAL_FATAL(pr_ks_turn_chan_list(R, "a1b2c3", chans, 4), 2);
	CU_ASSERT(chans[0].channel == 0x7fff || chans[1].channel == 0x7fff);
	c.channel = 0x8000;
	CU_ASSERT_EQUAL(pr_ks_turn_chan_set(R, "a1b2c3", &c), -EINVAL);
	/* counters: written by name through the codec, read back by the record load */
	got = *a;
	got.pkts_c2p = 11;
	got.bytes_p2c = 2200;
	got.drop_no_channel = 3;
	CU_ASSERT(turn_counters(&got) >= 0);
	CU_ASSERT_EQUAL_FATAL(pr_ks_turn_alloc_load(R, "a1b2c3", &got), 0);
	CU_ASSERT_EQUAL(got.pkts_c2p, 11);
	CU_ASSERT_EQUAL(got.bytes_p2c, 2200);
	CU_ASSERT_EQUAL(got.drop_no_channel, 3);
	CU_ASSERT_STRING_EQUAL(got.username, a->username);
	CU_ASSERT_EQUAL_FATAL(pr_ks_turn_alloc_list(R, &ids), 0);
	CU_ASSERT_EQUAL_FATAL(ids.n, 1);
	CU_ASSERT_STRING_EQUAL(ids.v[0], "a1b2c3");
	pr_ks_names_free(&ids);
	CU_ASSERT_EQUAL(pr_ks_turn_alloc_delete(R, "a1b2c3"), 0);
	CU_ASSERT_EQUAL(cmd_integer("EXISTS %s", "pr:turn:alloc:a1b2c3:chans"), 0);
	CU_ASSERT_EQUAL(pr_ks_turn_alloc_delete(R, "a1b2c3"), -ENOENT);
	/* a late counter update never resurrects a deleted allocation */
	CU_ASSERT_EQUAL(turn_counters(&got), -1);
	CU_ASSERT_EQUAL(cmd_integer("EXISTS %s", "pr:turn:alloc:a1b2c3"), 0);

	/* REST secrets: ids listed, secrets never returned by the list */
	CU_ASSERT_EQUAL(pr_ks_turn_secret_set(R, "2026-11", "0123456789abcdef0123"), 0);
	CU_ASSERT_EQUAL(pr_ks_turn_secret_set(R, "2026-12", "short"), -EINVAL);
	CU_ASSERT_EQUAL_FATAL(pr_ks_turn_secret_ids(R, &ids), 0);
	CU_ASSERT_EQUAL_FATAL(ids.n, 1);
	CU_ASSERT_STRING_EQUAL(ids.v[0], "2026-11");
	pr_ks_names_free(&ids);
	CU_ASSERT_EQUAL(pr_ks_turn_secret_del(R, "2026-11"), 0);
	CU_ASSERT_EQUAL(pr_ks_turn_secret_del(R, "2026-11"), -ENOENT);
	free(a);
}

static int read_stream(struct pr_ks_session_cmd *cmds, size_t max)
{
	redisReply *rep = pr_redis_cmd(R, "XRANGE %s - +", PR_KS_SESSIONS_STREAM);
	size_t i;
	int n = 0, bad = 0;

	if (!rep || rep->type != REDIS_REPLY_ARRAY)
		return -1;
	for (i = 0; i < rep->elements && i < max; i++, n++)
		if (pr_ks_session_cmd_parse(rep->element[i], &cmds[i]) < 0)
			bad = 1;
	freeReplyObject(rep);
	return bad ? -100 : n;
}

static void test_r_session(void)
{
	struct pr_ks_session *s = new_filled(&pr_ks_session_desc, 2), got;
	struct pr_ks_session_cmd cmds[8];
	struct pr_ks_names ids;
	redisReply *rep;

	freeReplyObject(pr_redis_cmd(R, "DEL %s", PR_KS_SESSIONS_STREAM));
	snprintf(s->id, sizeof(s->id), "call1-0");
	CU_ASSERT_EQUAL_FATAL(pr_ks_session_store(R, s, PR_KS_OP_INSTALL), 0);
	CU_ASSERT_EQUAL(pr_ks_session_load(R, "call1-0", &got), 0);
	CU_ASSERT_TRUE(same(&pr_ks_session_desc, s, &got));
	s->leg[0].peer_port = 6000;
	CU_ASSERT_EQUAL(pr_ks_session_store(R, s, PR_KS_OP_UPDATE), 0);
	CU_ASSERT_EQUAL(pr_ks_session_store(R, s, PR_KS_OP_END), -EINVAL);
	CU_ASSERT_EQUAL_FATAL(pr_ks_session_list(R, &ids), 0);
	CU_ASSERT_EQUAL(ids.n, 1);
	pr_ks_names_free(&ids);
	CU_ASSERT_EQUAL(pr_ks_session_end(R, "call1-0"), 0);
	CU_ASSERT_EQUAL(pr_ks_session_end(R, "call1-0"), -ENOENT);
	CU_ASSERT_EQUAL_FATAL(read_stream(cmds, 8), 4);
	CU_ASSERT_EQUAL(cmds[0].op, PR_KS_OP_INSTALL);
	CU_ASSERT_EQUAL(cmds[1].op, PR_KS_OP_UPDATE);
	CU_ASSERT_EQUAL(cmds[2].op, PR_KS_OP_END);
	CU_ASSERT_STRING_EQUAL(cmds[2].id, "call1-0");
	CU_ASSERT(cmds[0].ts > 0 && cmds[0].stream_id[0]);
	/* a bad stream entry is refused */
	freeReplyObject(pr_redis_cmd(R, "XADD %s * op explode id x ts 1", PR_KS_SESSIONS_STREAM));
	CU_ASSERT_EQUAL(read_stream(cmds, 8), -100);
	CU_ASSERT_PTR_NOT_NULL(strstr(pr_ks_errmsg(), "op"));
	/* consumer group: only what comes after its creation, pending after a restart, acks */
	{
		unsigned bad = 0;
		int n;

		CU_ASSERT_EQUAL(pr_ks_session_group_init(R, PR_KS_SESSIONS_GROUP), 0);
		CU_ASSERT_EQUAL(pr_ks_session_group_init(R, PR_KS_SESSIONS_GROUP),
				0); /* exists: fine */
		CU_ASSERT_EQUAL(pr_ks_session_cmd_read(R, PR_KS_SESSIONS_GROUP, "dp-test", false,
						       -1, cmds, 8, &bad),
				0);
		snprintf(s->id, sizeof(s->id), "call2-0");
		CU_ASSERT_EQUAL_FATAL(pr_ks_session_store(R, s, PR_KS_OP_INSTALL), 0);
		freeReplyObject(pr_redis_cmd(R, "XADD %s * op install ts 5",
					     PR_KS_SESSIONS_STREAM)); /* no id */
		CU_ASSERT_EQUAL(pr_ks_session_end(R, "call2-0"), 0);
		n = pr_ks_session_cmd_read(R, PR_KS_SESSIONS_GROUP, "dp-test", false, 100, cmds, 8,
					   &bad);
		CU_ASSERT_EQUAL_FATAL(n, 2);
		CU_ASSERT_EQUAL(bad, 1);
		CU_ASSERT_EQUAL(cmds[0].op, PR_KS_OP_INSTALL);
		CU_ASSERT_STRING_EQUAL(cmds[0].id, "call2-0");
		CU_ASSERT_EQUAL(cmds[1].op, PR_KS_OP_END);
		/* "crash" before acking: both come back as pending; the bad one was acked */
		CU_ASSERT_EQUAL(pr_ks_session_cmd_read(R, PR_KS_SESSIONS_GROUP, "dp-test", true, -1,
						       cmds, 8, &bad),
				2);
		CU_ASSERT_EQUAL(pr_ks_session_cmd_ack(R, PR_KS_SESSIONS_GROUP, cmds[0].stream_id),
				0);
		CU_ASSERT_EQUAL(pr_ks_session_cmd_read(R, PR_KS_SESSIONS_GROUP, "dp-test", true, -1,
						       cmds, 8, &bad),
				1);
		CU_ASSERT_EQUAL(cmds[0].op, PR_KS_OP_END);
		CU_ASSERT_EQUAL(pr_ks_session_cmd_ack(R, PR_KS_SESSIONS_GROUP, cmds[0].stream_id),
				0);
		CU_ASSERT_EQUAL(pr_ks_session_cmd_read(R, PR_KS_SESSIONS_GROUP, "dp-test", true, -1,
						       cmds, 8, &bad),
				0);
		CU_ASSERT_EQUAL(pr_ks_session_cmd_read(R, PR_KS_SESSIONS_GROUP, "dp-test", false,
						       10, cmds, 8, &bad),
				0);
		CU_ASSERT_EQUAL(pr_ks_session_cmd_read(R, PR_KS_SESSIONS_GROUP, "bad consumer",
						       false, 10, cmds, 8, &bad),
				-EINVAL);
		CU_ASSERT_EQUAL(
		    pr_ks_session_cmd_read(R, "bad group", "dp-test", false, 10, cmds, 8, &bad),
		    -EINVAL);
		CU_ASSERT_EQUAL(pr_ks_session_group_init(R, "bad group"), -EINVAL);
		/* a group per appliance ([ha] peers): each reads every entry, not a share */
		CU_ASSERT_EQUAL(pr_ks_session_group_init(R, "dp-b"), 0);
		snprintf(s->id, sizeof(s->id), "call3-0");
		CU_ASSERT_EQUAL_FATAL(pr_ks_session_store(R, s, PR_KS_OP_INSTALL), 0);
		CU_ASSERT_EQUAL(pr_ks_session_end(R, "call3-0"), 0);
		CU_ASSERT_EQUAL(pr_ks_session_cmd_read(R, PR_KS_SESSIONS_GROUP, "dp-test", false,
						       10, cmds, 8, &bad),
				2);
		CU_ASSERT_EQUAL(pr_ks_session_cmd_read(R, "dp-b", "dp-b", false, 10, cmds, 8, &bad),
				2);
		CU_ASSERT_STRING_EQUAL(cmds[0].id, "call3-0");
		CU_ASSERT_EQUAL(pr_ks_session_cmd_ack(R, "dp-b", cmds[0].stream_id), 0);
		CU_ASSERT_EQUAL(pr_ks_session_cmd_read(R, "dp-b", "dp-b", true, -1, cmds, 8, &bad),
				1);
	}
	rep = pr_redis_cmd(R, "HGET pr:session:call1-0 a_key_rx");
	CU_ASSERT(rep && rep->type == REDIS_REPLY_NIL);
	if (rep)
		freeReplyObject(rep);
	free(s);
}

static void test_r_ports(void)
{
	uint16_t p, seen[8];
	int i, j;

	CU_ASSERT_EQUAL(pr_ks_ports_init(R, 40001, 40010), -EINVAL);
	CU_ASSERT_EQUAL(pr_ks_port_release(R, 40000), -ENOENT); /* before any init */
	CU_ASSERT_EQUAL_FATAL(pr_ks_ports_init(R, 40000, 40008), 0);
	CU_ASSERT_EQUAL(cmd_integer("SCARD %s", PR_KS_PORTS_FREE_KEY), 4);
	for (i = 0; i < 4; i++) {
		CU_ASSERT_EQUAL_FATAL(pr_ks_port_alloc(R, &seen[i]), 0);
		CU_ASSERT(seen[i] >= 40000 && seen[i] <= 40006 && seen[i] % 2 == 0);
		for (j = 0; j < i; j++)
			CU_ASSERT_NOT_EQUAL(seen[i], seen[j]);
	}
	CU_ASSERT_EQUAL(pr_ks_port_alloc(R, &p), -ENOSPC);
	/* init with the same range does not refill (ports in use stay in use) */
	CU_ASSERT_EQUAL(pr_ks_ports_init(R, 40000, 40008), 0);
	CU_ASSERT_EQUAL(pr_ks_port_alloc(R, &p), -ENOSPC);
	CU_ASSERT_EQUAL(pr_ks_port_release(R, seen[2]), 0);
	CU_ASSERT_EQUAL(pr_ks_port_release(R, 40001), -EINVAL);
	CU_ASSERT_EQUAL(pr_ks_port_release(R, 50000), -EINVAL);
	CU_ASSERT_EQUAL(pr_ks_port_alloc(R, &p), 0);
	CU_ASSERT_EQUAL(p, seen[2]);
}

static void test_r_cdr(void)
{
	struct pr_ks_cdr *c = new_filled(&pr_ks_cdr_desc, 2), got;
	struct pr_ks_names ids;
	int64_t now = time(NULL);
	long long ttl;

	snprintf(c->id, sizeof(c->id), "cdr-2");
	c->start = now - 100;
	CU_ASSERT_EQUAL_FATAL(pr_ks_cdr_store(R, c), 0);
	snprintf(c->id, sizeof(c->id), "cdr-1");
	c->start = now - 200;
	CU_ASSERT_EQUAL_FATAL(pr_ks_cdr_store(R, c), 0);
	CU_ASSERT_EQUAL(pr_ks_cdr_load(R, "cdr-1", &got), 0);
	CU_ASSERT_TRUE(same(&pr_ks_cdr_desc, c, &got));
	ttl = cmd_integer("TTL %s", "pr:cdr:cdr-1");
	CU_ASSERT(ttl > PR_KS_CDR_TTL_S - 10 && ttl <= PR_KS_CDR_TTL_S);
	/* an index entry older than 90 days is trimmed by the next list */
	freeReplyObject(pr_redis_cmd(R, "ZADD %s %lld ancient", PR_KS_CDRS_KEY,
				     (long long)(now - PR_KS_CDR_TTL_S - 5)));
	CU_ASSERT_EQUAL_FATAL(pr_ks_cdr_list(R, 0, now, 0, &ids), 0);
	CU_ASSERT_EQUAL_FATAL(ids.n, 2);
	CU_ASSERT_STRING_EQUAL(ids.v[0], "cdr-1"); /* oldest first */
	CU_ASSERT_STRING_EQUAL(ids.v[1], "cdr-2");
	pr_ks_names_free(&ids);
	CU_ASSERT_EQUAL(cmd_integer("ZSCORE %s ancient", PR_KS_CDRS_KEY), -999);
	CU_ASSERT_EQUAL_FATAL(pr_ks_cdr_list(R, now - 150, now, 0, &ids), 0);
	CU_ASSERT_EQUAL(ids.n, 1);
	pr_ks_names_free(&ids);
	CU_ASSERT_EQUAL_FATAL(pr_ks_cdr_list(R, 0, now, 1, &ids), 0);
	CU_ASSERT_EQUAL(ids.n, 1);
	pr_ks_names_free(&ids);
	free(c);
}

/* Dialogs: stored with their index, rewritten by a later change, deleted; and a session
 * store, a dialog store and a CDR written in one MULTI/EXEC (one round trip per change). */
static void test_r_dialog(void)
{
	struct pr_ks_dialog *d = new_filled(&pr_ks_dialog_desc, 2), got;
	struct pr_ks_session *s = new_filled(&pr_ks_session_desc, 3);
	struct pr_ks_cdr *c = new_filled(&pr_ks_cdr_desc, 4);
	struct pr_ks_names ids;
	struct pr_redis_tx *tx;
	long long before;

	freeReplyObject(pr_redis_cmd(R, "DEL %s", PR_KS_DIALOGS_KEY));
	snprintf(d->id, sizeof(d->id), "dlg-2");
	d->start = 2000;
	snprintf(d->a.routes, sizeof(d->a.routes), "Route: <sip:p1;lr>\r\nRoute: <sip:p2;lr>\r\n");
	CU_ASSERT_EQUAL_FATAL(pr_ks_dialog_store(R, d), 0);
	CU_ASSERT_EQUAL(pr_ks_dialog_load(R, "dlg-2", &got), 0);
	CU_ASSERT_TRUE(same(&pr_ks_dialog_desc, d, &got));
	CU_ASSERT_STRING_EQUAL(got.a.routes, d->a.routes); /* CRLF inside a value survives */
	/* a change rewrites the whole record: a field cleared is gone */
	d->b.remote_tag[0] = '\0';
	d->b.local_cseq = 7;
	CU_ASSERT_EQUAL(pr_ks_dialog_store(R, d), 0);
	CU_ASSERT_EQUAL(pr_ks_dialog_load(R, "dlg-2", &got), 0);
	CU_ASSERT_EQUAL(got.b.local_cseq, 7);
	CU_ASSERT_STRING_EQUAL(got.b.remote_tag, "");
	snprintf(d->id, sizeof(d->id), "dlg-1");
	d->start = 1000;
	/* one transaction: the session, the dialog and nothing else half-written */
	tx = pr_redis_tx_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(tx);
	snprintf(s->id, sizeof(s->id), "dlg-1-0");
	before = cmd_integer("XLEN %s", PR_KS_SESSIONS_STREAM);
	CU_ASSERT_EQUAL(pr_ks_session_store_tx(tx, s, PR_KS_OP_INSTALL), 0);
	CU_ASSERT_EQUAL(pr_ks_dialog_store_tx(tx, d), 0);
	CU_ASSERT_EQUAL(pr_redis_tx_run(R, tx, NULL), 0);
	pr_redis_tx_free(tx);
	CU_ASSERT_EQUAL(cmd_integer("XLEN %s", PR_KS_SESSIONS_STREAM), before + 1);
	CU_ASSERT_EQUAL(pr_ks_dialog_list(R, &ids), 0);
	CU_ASSERT_EQUAL_FATAL(ids.n, 2);
	CU_ASSERT_STRING_EQUAL(ids.v[0], "dlg-1"); /* oldest first */
	CU_ASSERT_STRING_EQUAL(ids.v[1], "dlg-2");
	pr_ks_names_free(&ids);
	/* the end: CDR, session end, dialog gone, in one transaction */
	tx = pr_redis_tx_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(tx);
	snprintf(c->id, sizeof(c->id), "dlg-1");
	CU_ASSERT_EQUAL(pr_ks_cdr_store_tx(tx, c), 0);
	CU_ASSERT_EQUAL(pr_ks_session_end_tx(tx, "dlg-1-0"), 0);
	CU_ASSERT_EQUAL(pr_ks_dialog_delete_tx(tx, "dlg-1"), 0);
	CU_ASSERT_EQUAL(pr_redis_tx_run(R, tx, NULL), 0);
	pr_redis_tx_free(tx);
	CU_ASSERT_EQUAL(pr_ks_dialog_load(R, "dlg-1", &got), -ENOENT);
	CU_ASSERT_EQUAL(cmd_integer("EXISTS %s", "pr:session:dlg-1-0"), 0);
	CU_ASSERT_EQUAL(cmd_integer("EXISTS %s", "pr:cdr:dlg-1"), 1);
	CU_ASSERT_EQUAL(cmd_integer("XLEN %s", PR_KS_SESSIONS_STREAM), before + 2);
	CU_ASSERT_EQUAL(pr_ks_dialog_delete(R, "dlg-2"), 0);
	CU_ASSERT_EQUAL(pr_ks_dialog_delete(R, "dlg-2"), -ENOENT);
	CU_ASSERT_EQUAL(cmd_integer("ZCARD %s", PR_KS_DIALOGS_KEY), 0);
	/* bad input names the key and field */
	CU_ASSERT_EQUAL(pr_ks_dialog_load(R, "bad id", &got), -EINVAL);
	freeReplyObject(pr_redis_cmd(R, "HSET pr:dialog:dlg-3 v 1 id dlg-3 pop p direction onnet "
					"start x updated 1 a_call_id c a_local_tag t a_transport "
					"tls b_call_id c b_local_tag t b_transport tls"));
	CU_ASSERT_EQUAL(pr_ks_dialog_load(R, "dlg-3", &got), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(pr_ks_errmsg(), "start"));
	freeReplyObject(pr_redis_cmd(R, "HDEL pr:dialog:dlg-3 b_local_tag"));
	freeReplyObject(pr_redis_cmd(R, "HSET pr:dialog:dlg-3 start 5"));
	CU_ASSERT_EQUAL(pr_ks_dialog_load(R, "dlg-3", &got), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(pr_ks_errmsg(), "b_local_tag"));
	freeReplyObject(pr_redis_cmd(R, "DEL pr:dialog:dlg-3"));
	free(d);
	free(s);
	free(c);
}

static void test_r_tunables(void)
{
	int64_t v = 0;

	CU_ASSERT_EQUAL(pr_ks_tunable_get(R, "dp.burst_size", &v), 0);
	CU_ASSERT_EQUAL(v, pr_ks_tunable_def("dp.burst_size")->def);
	CU_ASSERT_EQUAL(pr_ks_tunable_set(R, "dp.burst_size", 64), 0);
	CU_ASSERT_EQUAL(pr_ks_tunable_get(R, "dp.burst_size", &v), 0);
	CU_ASSERT_EQUAL(v, 64);
	CU_ASSERT_EQUAL(pr_ks_tunable_set(R, "dp.burst_size", 100000), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(pr_ks_errmsg(), "1..256"));
	CU_ASSERT_EQUAL(pr_ks_tunable_set(R, "no.such", 1), -ENOENT);
	CU_ASSERT_EQUAL(pr_ks_tunable_get(R, "no.such", &v), -ENOENT);
	freeReplyObject(pr_redis_cmd(R, "HSET %s dp.burst_size 9999", PR_KS_TUNABLES_KEY));
	CU_ASSERT_EQUAL(pr_ks_tunable_get(R, "dp.burst_size", &v), -EINVAL);
	CU_ASSERT_EQUAL(pr_ks_tunable_reset(R, "dp.burst_size"), 0);
	CU_ASSERT_EQUAL(pr_ks_tunable_get(R, "dp.burst_size", &v), 0);
	CU_ASSERT_EQUAL(v, 32);
	CU_ASSERT_EQUAL(pr_ks_tunable_reset(R, "no.such"), -ENOENT);
}

static void test_r_audit(void)
{
	struct pr_ks_audit out[4];
	int n;

	freeReplyObject(pr_redis_cmd(R, "DEL %s", PR_KS_AUDIT_STREAM));
	CU_ASSERT_EQUAL(pr_ks_audit_add(R, "ctl:root", "user.add", "user:alice", "", "ok"), 0);
	CU_ASSERT_EQUAL(pr_ks_audit_add(R, "ctl:root", "user.del", "user:alice", NULL, "ok"), 0);
	CU_ASSERT_EQUAL(pr_ks_audit_add(R, "", "user.del", "user:alice", NULL, "ok"), -EINVAL);
	n = pr_ks_audit_list(R, out, 4);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_STRING_EQUAL(out[0].action, "user.del"); /* newest first */
	CU_ASSERT_STRING_EQUAL(out[1].action, "user.add");
	CU_ASSERT_STRING_EQUAL(out[1].actor, "ctl:root");
	CU_ASSERT(out[0].ts > 0 && out[0].stream_id[0]);
	CU_ASSERT_EQUAL(pr_ks_audit_list(R, out, 1), 1);
}

static void test_r_reconnect(void)
{
	struct pr_redis *killer = NULL;
	redisReply *rep;

	CU_ASSERT_EQUAL_FATAL(pr_redis_connect(&killer, sock_path, 2000), 0);
	rep = pr_redis_cmd(killer, "CLIENT KILL TYPE normal SKIPME yes");
	CU_ASSERT(rep && rep->type == REDIS_REPLY_INTEGER && rep->integer >= 1);
	if (rep)
		freeReplyObject(rep);
	/* R's connection is gone; the next command reconnects once and succeeds */
	rep = pr_redis_cmd(R, "PING");
	CU_ASSERT(rep && rep->type == REDIS_REPLY_STATUS);
	if (rep)
		freeReplyObject(rep);
	/* same for a transaction */
	rep = pr_redis_cmd(killer, "CLIENT KILL TYPE normal SKIPME yes");
	if (rep)
		freeReplyObject(rep);
	CU_ASSERT_EQUAL(pr_ks_tunable_set(R, "dp.burst_size", 32), 0);
	pr_redis_close(killer);
}

static void test_r_auth(void)
{
	const char *pw = "s3cret-Horse-battery-77";
	char pwfile[160], badfile[160];
	struct pr_redis *r = NULL;
	FILE *f;
	redisReply *rep;

	rep = pr_redis_cmd(R, "ACL SETUSER ks-test on >%s ~pr:* +@all", pw);
	CU_ASSERT(rep && rep->type == REDIS_REPLY_STATUS);
	if (rep)
		freeReplyObject(rep);
	snprintf(pwfile, sizeof(pwfile), "%s/pw", test_redis_dir());
	snprintf(badfile, sizeof(badfile), "%s/badpw", test_redis_dir());
	f = fopen(pwfile, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fprintf(f, "%s\n", pw);
	fclose(f);
	f = fopen(badfile, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fprintf(f, "wrong-password\n");
	fclose(f);

	CU_ASSERT_EQUAL_FATAL(pr_redis_connect(&r, sock_path, 2000), 0);
	CU_ASSERT_EQUAL(pr_redis_auth(r, "ks-test", badfile), -EACCES);
	CU_ASSERT_PTR_NULL(strstr(pr_redis_errmsg(r), "wrong-password"));
	CU_ASSERT_EQUAL(pr_redis_auth(r, "ks-test", pwfile), 0);
	CU_ASSERT_PTR_NULL(strstr(pr_redis_errmsg(r), pw));
	rep = pr_redis_cmd(r, "ACL WHOAMI");
	CU_ASSERT(rep && rep->type == REDIS_REPLY_STRING && strcmp(rep->str, "ks-test") == 0);
	if (rep)
		freeReplyObject(rep);
	/* re-authenticates after a reconnect */
	rep = pr_redis_cmd(R, "CLIENT KILL USER ks-test");
	if (rep)
		freeReplyObject(rep);
	rep = pr_redis_cmd(r, "ACL WHOAMI");
	CU_ASSERT(rep && rep->type == REDIS_REPLY_STRING && strcmp(rep->str, "ks-test") == 0);
	if (rep)
		freeReplyObject(rep);
	/* an ACL refusal is -EACCES, not an I/O error */
	rep = pr_redis_cmd(R, "ACL SETUSER ks-ro on >%s ~pr:* +@read", pw);
	if (rep)
		freeReplyObject(rep);
	CU_ASSERT_EQUAL(pr_redis_auth(r, "ks-ro", pwfile), 0);
	{
		struct pr_ks_user u = {0};
		snprintf(u.name, sizeof(u.name), "ro");
		CU_ASSERT_EQUAL(pr_ks_user_store(r, &u), -EACCES);
		CU_ASSERT_PTR_NOT_NULL(strstr(pr_ks_errmsg(), "NOPERM"));
	}
	CU_ASSERT_EQUAL(pr_redis_auth(r, "ks-test", "/nonexistent/pw"), -ENOENT);
	pr_redis_close(r);
}

static void test_connect_errors(void)
{
	struct pr_redis *r = NULL;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char path[64];
	int fd;

	CU_ASSERT_EQUAL(pr_redis_connect(&r, "/nonexistent/ks/redis.sock", 500), -ENOENT);
	CU_ASSERT_PTR_NULL(r);
	CU_ASSERT_PTR_NOT_NULL(strstr(pr_redis_errmsg(NULL), "/nonexistent/ks/redis.sock"));
	/* a socket file nobody listens on */
	snprintf(path, sizeof(path), "/tmp/ks-unit-dead-%d.sock", (int)getpid());
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	CU_ASSERT_FATAL(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	close(fd);
	CU_ASSERT_EQUAL(pr_redis_connect(&r, path, 500), -ECONNREFUSED);
	unlink(path);
	CU_ASSERT_EQUAL(pr_redis_connect(&r, "/etc/hostname", 500), -ENOTSOCK);
}

int main(void)
{
	CU_pSuite s;
	unsigned failed;
	int have_redis = system("command -v redis-server >/dev/null 2>&1") == 0;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("keyspace codec", NULL, NULL);
	CU_add_test(s, "field tables are sane", test_tables_sane);
	CU_add_test(s, "every record type round-trips", test_roundtrip_all);
	CU_add_test(s, "encoded text", test_encoding_text);
	CU_add_test(s, "malformed records are refused", test_malformed);
	CU_add_test(s, "hash from reply", test_from_reply);
	CU_add_test(s, "hash from HMGET", test_from_hmget);
	CU_add_test(s, "random input", test_random_input);
	CU_add_test(s, "format, find, parse", test_format_and_find);
	CU_add_test(s, "connect errors", test_connect_errors);
	if (have_redis) {
		s = CU_add_suite("keyspace on redis", suite_redis_init, suite_redis_clean);
		CU_add_test(s, "schema", test_r_schema);
		CU_add_test(s, "users", test_r_user);
		CU_add_test(s, "registrations", test_r_reg);
		CU_add_test(s, "turn", test_r_turn);
		CU_add_test(s, "sessions", test_r_session);
		CU_add_test(s, "port pool", test_r_ports);
		CU_add_test(s, "cdrs", test_r_cdr);
		CU_add_test(s, "dialogs", test_r_dialog);
		CU_add_test(s, "tunables", test_r_tunables);
		CU_add_test(s, "audit", test_r_audit);
		CU_add_test(s, "reconnect", test_r_reconnect);
		CU_add_test(s, "auth", test_r_auth);
	} else {
		printf("SKIP: redis-server not installed, Redis round trips not run\n");
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_tests_failed() + CU_get_number_of_failures() +
		 CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
