/* SPDX-License-Identifier: BSD-3-Clause */
/* The table-driven codec: one encoder and one decoder for every record type. */
#include "common/keyspace.h"
#include "common/keyspace_int.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static __thread char ks_err[512];

int pr_ks_slowpath_stats_key(char *out, size_t len, const char *pop, const char *instance)
{
	char host[256];
	if (!instance || !*instance) {
		if (gethostname(host, sizeof(host)) < 0 || !host[0])
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		instance = host;
	}
	int n = snprintf(out, len, "%s%s:%s", PR_KS_STATS_SLOWPATH, pop, instance);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

const char *pr_ks_errmsg(void)
{
	return ks_err;
}

void ks_seterr(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ks_err, sizeof(ks_err), fmt, ap);
	va_end(ap);
}

/* Prefixes the current message with ctx ("pr:user:alice: ..."). */
void pr_ks_errmsg_set(const char *msg)
{
	ks_seterr("%s", msg);
}

void ks_err_prefix(const char *ctx)
{
	char tmp[sizeof(ks_err) + 256];

	snprintf(tmp, sizeof(tmp), "%.200s: %s", ctx, ks_err);
	memcpy(ks_err, tmp, sizeof(ks_err) - 1);
	ks_err[sizeof(ks_err) - 1] = 0;
}

static int add_kv(struct pr_ks_hash *out, const char *prefix, const char *name, const char *val,
		  size_t len)
{
	struct pr_ks_kv *kv;

	if (out->n >= PR_KS_MAX_FIELDS) {
		ks_seterr("too many fields");
		return -EINVAL;
	}
	kv = &out->kv[out->n];
	if ((size_t)snprintf(kv->name, sizeof(kv->name), "%s%s", prefix, name) >=
	    sizeof(kv->name)) {
		ks_seterr("field name %s%s too long", prefix, name);
		return -EINVAL;
	}
	if (len >= sizeof(kv->value)) {
		ks_seterr("field %s%s: value too long", prefix, name);
		return -EINVAL;
	}
	memcpy(kv->value, val, len);
	kv->value[len] = 0;
	kv->len = len;
	out->n++;
	return 0;
}

/* Writes a field's value as text into buf (len >= PR_KS_VALUE_MAX). Returns its length. */
static int value_text(const struct pr_ks_field *f, const void *base, char *buf, size_t len)
{
	const char *p = (const char *)base + f->off;
	size_t n;

	switch (f->type) {
	case PR_KS_T_STR:
		n = strnlen(p, f->size);
		if (n >= f->size) {
			ks_seterr("field %s: string not terminated", f->name);
			return -EINVAL;
		}
		if (n >= len) {
			ks_seterr("field %s: value too long", f->name);
			return -EINVAL;
		}
		memcpy(buf, p, n + 1);
		return (int)n;
	case PR_KS_T_BOOL:
		return snprintf(buf, len, "%d", *(const bool *)p ? 1 : 0);
	case PR_KS_T_U16:
		return snprintf(buf, len, "%u", (unsigned)*(const uint16_t *)p);
	case PR_KS_T_U32:
		return snprintf(buf, len, "%" PRIu32, *(const uint32_t *)p);
	case PR_KS_T_U64:
		return snprintf(buf, len, "%" PRIu64, *(const uint64_t *)p);
	case PR_KS_T_I64:
		return snprintf(buf, len, "%" PRId64, *(const int64_t *)p);
	case PR_KS_T_NEST:
		break;
	}
	ks_seterr("field %s: cannot be printed", f->name);
	return -EINVAL;
}

static int encode_fields(const struct pr_ks_desc *d, const void *base, const char *prefix,
			 struct pr_ks_hash *out)
{
	char val[PR_KS_VALUE_MAX];
	size_t i;
	int n, rc;

	for (i = 0; i < d->nfields; i++) {
		const struct pr_ks_field *f = &d->fields[i];

		if (f->type == PR_KS_T_NEST) {
			char sub[PR_KS_FIELD_NAME_MAX];
			snprintf(sub, sizeof(sub), "%s%s", prefix, f->name);
			rc = encode_fields(f->sub, (const char *)base + f->off, sub, out);
			if (rc < 0)
				return rc;
			continue;
		}
		n = value_text(f, base, val, sizeof(val));
		if (n < 0) {
			if (prefix[0])
				ks_err_prefix(prefix);
			return n;
		}
		rc = add_kv(out, prefix, f->name, val, (size_t)n);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int pr_ks_encode(const struct pr_ks_desc *d, const void *rec, struct pr_ks_hash *out)
{
	char v[16];
	int rc;

	out->n = 0;
	if (d->versioned) {
		snprintf(v, sizeof(v), "%d", PR_KS_SCHEMA_VERSION);
		rc = add_kv(out, "", "v", v, strlen(v));
		if (rc < 0)
			return rc;
	}
	rc = encode_fields(d, rec, "", out);
	if (rc < 0)
		ks_err_prefix(d->name);
	return rc;
}

static int parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 20)
		return -EINVAL;
	if (len > 1 && s[0] == '0')
		return -EINVAL; /* one spelling per value */
	for (i = 0; i < len; i++) {
		unsigned d;
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static int parse_value(const struct pr_ks_field *f, void *base, const char *s, size_t len)
{
	char *p = (char *)base + f->off;
	uint64_t u;
	int rc = 0;

	switch (f->type) {
	case PR_KS_T_STR:
		if (len >= f->size) {
			ks_seterr("field %s: value of %zu bytes exceeds %zu", f->name, len,
				  f->size - 1);
			return -EINVAL;
		}
		if (memchr(s, 0, len)) {
			ks_seterr("field %s: value contains a NUL byte", f->name);
			return -EINVAL;
		}
		memcpy(p, s, len);
		p[len] = 0;
		return 0;
	case PR_KS_T_BOOL:
		if (len != 1 || (s[0] != '0' && s[0] != '1')) {
			ks_seterr("field %s: expected 0 or 1, got '%.*s'", f->name,
				  (int)(len > 32 ? 32 : len), s);
			return -EINVAL;
		}
		*(bool *)p = s[0] == '1';
		return 0;
	case PR_KS_T_U16:
		rc = parse_u64(s, len, UINT16_MAX, &u);
		if (rc == 0)
			*(uint16_t *)p = (uint16_t)u;
		break;
	case PR_KS_T_U32:
		rc = parse_u64(s, len, UINT32_MAX, &u);
		if (rc == 0)
			*(uint32_t *)p = (uint32_t)u;
		break;
	case PR_KS_T_U64:
		rc = parse_u64(s, len, UINT64_MAX, &u);
		if (rc == 0)
			*(uint64_t *)p = u;
		break;
	case PR_KS_T_I64: {
		bool neg = len > 0 && s[0] == '-';
		rc = parse_u64(s + neg, len - neg, neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX, &u);
		if (rc == 0 && neg && u == 0)
			rc = -EINVAL; /* "-0" */
		if (rc == 0)
			*(int64_t *)p = neg ? (int64_t)(0 - u) : (int64_t)u;
		break;
	}
	case PR_KS_T_NEST:
		ks_seterr("field %s: is a group of fields", f->name);
		return -EINVAL;
	}
	if (rc < 0) {
		ks_seterr("field %s: %s '%.*s'", f->name,
			  rc == -ERANGE ? "integer out of range" : "bad integer",
			  (int)(len > 32 ? 32 : len), s);
		return -EINVAL;
	}
	return 0;
}

int pr_ks_field_parse(const struct pr_ks_field *f, void *base, const char *text)
{
	return parse_value(f, base, text, strlen(text));
}

static const struct pr_ks_kv *find_kv(const struct pr_ks_hash *in, const char *prefix,
				      const char *name)
{
	size_t pl = strlen(prefix), i;

	for (i = 0; i < in->n; i++) {
		const char *k = in->kv[i].name;
		if (strncmp(k, prefix, pl) == 0 && strcmp(k + pl, name) == 0)
			return &in->kv[i];
	}
	return NULL;
}

static int decode_fields(const struct pr_ks_desc *d, const struct pr_ks_hash *in, void *base,
			 const char *prefix)
{
	size_t i;
	int rc;

	for (i = 0; i < d->nfields; i++) {
		const struct pr_ks_field *f = &d->fields[i];
		const struct pr_ks_kv *kv;

		if (f->type == PR_KS_T_NEST) {
			char sub[PR_KS_FIELD_NAME_MAX];
			snprintf(sub, sizeof(sub), "%s%s", prefix, f->name);
			rc = decode_fields(f->sub, in, (char *)base + f->off, sub);
			if (rc < 0)
				return rc;
			continue;
		}
		kv = find_kv(in, prefix, f->name);
		if (!kv) {
			if (f->flags & PR_KS_F_REQUIRED) {
				ks_seterr("missing field %s%s", prefix, f->name);
				return -EINVAL;
			}
			continue;
		}
		if (kv->len >= PR_KS_VALUE_MAX) {
			ks_seterr("field %s%s: value too long", prefix, f->name);
			return -EINVAL;
		}
		rc = parse_value(f, base, kv->value, kv->len);
		if (rc < 0) {
			if (prefix[0])
				ks_err_prefix(prefix);
			return rc;
		}
	}
	return 0;
}

int pr_ks_decode(const struct pr_ks_desc *d, const struct pr_ks_hash *in, void *rec)
{
	int rc;

	memset(rec, 0, d->size);
	if (d->versioned) {
		const struct pr_ks_kv *v = find_kv(in, "", "v");
		uint64_t ver;

		if (!v) {
			ks_seterr("%s: missing field v (schema version)", d->name);
			return -EINVAL;
		}
		if (parse_u64(v->value, v->len, UINT32_MAX, &ver) < 0) {
			ks_seterr("%s: field v: bad integer '%.*s'", d->name,
				  (int)(v->len > 32 ? 32 : v->len), v->value);
			return -EINVAL;
		}
		if (ver != PR_KS_SCHEMA_VERSION) {
			ks_seterr("%s: record written with schema %" PRIu64
				  ", this build speaks %d",
				  d->name, ver, PR_KS_SCHEMA_VERSION);
			return -EPROTO;
		}
	}
	rc = decode_fields(d, in, rec, "");
	if (rc < 0)
		ks_err_prefix(d->name);
	return rc;
}

int pr_ks_hmget_argv(const struct pr_ks_desc *d, const char *key, const char **argv, int max)
{
	int argc = 0;

	if (max < 3 + (int)d->nfields) {
		ks_seterr("%s: HMGET of %zu fields needs more room", d->name, d->nfields);
		return -EINVAL;
	}
	argv[argc++] = "HMGET";
	argv[argc++] = key;
	if (d->versioned)
		argv[argc++] = "v";
	for (size_t i = 0; i < d->nfields; i++) {
		if (d->fields[i].type == PR_KS_T_NEST) {
			ks_seterr("%s: HMGET of nested field %s", d->name, d->fields[i].name);
			return -EINVAL;
		}
		argv[argc++] = d->fields[i].name;
	}
	return argc;
}

int pr_ks_hash_from_hmget(const struct pr_ks_desc *d, const redisReply *r, struct pr_ks_hash *out)
{
	size_t want = d->nfields + (d->versioned ? 1 : 0), got = 0;

	out->n = 0;
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != want) {
		ks_seterr("%s: malformed reply (expected %zu values)", d->name, want);
		return -EINVAL;
	}
	for (size_t i = 0; i < want; i++) {
		const redisReply *v = r->element[i];
		const char *name =
		    d->versioned ? (i ? d->fields[i - 1].name : "v") : d->fields[i].name;
		if (v->type == REDIS_REPLY_NIL)
			continue;
		if (v->type != REDIS_REPLY_STRING) {
			ks_seterr("%s: malformed reply (field %s not a string)", d->name, name);
			return -EINVAL;
		}
		int rc = add_kv(out, "", name, v->str, v->len);
		if (rc < 0)
			return rc;
		got++;
	}
	if (!got) {
		ks_seterr("%s: no such record", d->name);
		return -ENOENT;
	}
	return 0;
}

int pr_ks_hash_from_reply(const redisReply *r, struct pr_ks_hash *out)
{
	size_t i;

	out->n = 0;
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements % 2) {
		ks_seterr("malformed reply (expected field/value pairs)");
		return -EINVAL;
	}
	for (i = 0; i < r->elements; i += 2) {
		const redisReply *k = r->element[i], *v = r->element[i + 1];
		struct pr_ks_kv *kv;

		if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
			ks_seterr("malformed reply (non-string field or value)");
			return -EINVAL;
		}
		if (k->len >= PR_KS_FIELD_NAME_MAX)
			continue; /* no known field has such a name: ignore, like any unknown */
		if (out->n >= PR_KS_MAX_FIELDS) {
			ks_seterr("record has more than %d fields", PR_KS_MAX_FIELDS);
			return -EINVAL;
		}
		kv = &out->kv[out->n++];
		memcpy(kv->name, k->str, k->len);
		kv->name[k->len] = 0;
		if (v->len >= PR_KS_VALUE_MAX) {
			kv->value[0] = 0;
			kv->len =
			    PR_KS_VALUE_MAX; /* flagged: decode rejects it if the field is known */
		} else {
			memcpy(kv->value, v->str, v->len);
			kv->value[v->len] = 0;
			kv->len = v->len;
		}
	}
	return 0;
}

int pr_ks_field_format(const struct pr_ks_field *f, const void *base, char *buf, size_t len)
{
	char tmp[PR_KS_VALUE_MAX];
	int n;

	if (f->flags & PR_KS_F_SECRET) {
		if (f->type == PR_KS_T_STR)
			n = snprintf(buf, len, "%s",
				     ((const char *)base + f->off)[0] ? "set" : "-");
		else
			n = snprintf(buf, len, "set");
		return n;
	}
	n = value_text(f, base, tmp, sizeof(tmp));
	if (n < 0)
		return n;
	return snprintf(buf, len, "%s", tmp);
}

const struct pr_ks_field *pr_ks_field_find(const struct pr_ks_desc *d, const char *name,
					   size_t *base_off)
{
	size_t i;

	for (i = 0; i < d->nfields; i++) {
		const struct pr_ks_field *f = &d->fields[i];

		if (f->type == PR_KS_T_NEST) {
			size_t l = strlen(f->name);
			if (strncmp(name, f->name, l) == 0) {
				size_t off = 0;
				const struct pr_ks_field *sf =
				    pr_ks_field_find(f->sub, name + l, &off);
				if (sf) {
					if (base_off)
						*base_off = f->off + off;
					return sf;
				}
			}
			continue;
		}
		if (strcmp(f->name, name) == 0) {
			if (base_off)
				*base_off = 0;
			return f;
		}
	}
	return NULL;
}

/* Builds HSET key f1 v1 ... from an encoded hash into tx. */
int ks_tx_hset(struct pr_redis_tx *tx, const char *key, const struct pr_ks_hash *h)
{
	const char *argv[2 + 2 * PR_KS_MAX_FIELDS];
	size_t len[2 + 2 * PR_KS_MAX_FIELDS];
	size_t i;
	int argc = 0;

	argv[argc] = "HSET";
	len[argc++] = 4;
	argv[argc] = key;
	len[argc++] = strlen(key);
	for (i = 0; i < h->n; i++) {
		argv[argc] = h->kv[i].name;
		len[argc++] = strlen(h->kv[i].name);
		argv[argc] = h->kv[i].value;
		len[argc++] = h->kv[i].len;
	}
	return pr_redis_tx_addargv(tx, argc, argv, len);
}

/* One spare hash per thread: records are encoded and decoded on the dataplane's control
 * lcore at thousands a second (TURN allocations and users, session installs), and a 54 KiB
 * malloc and free each time showed in its profile. */
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;
static pthread_key_t spare_key;
static bool spare_ok;

static void spare_init(void)
{
	spare_ok = pthread_key_create(&spare_key, free) == 0;
}

struct pr_ks_hash *pr_ks_hash_get(void)
{
	struct pr_ks_hash *h = NULL;

	pthread_once(&spare_once, spare_init);
	if (spare_ok && (h = pthread_getspecific(spare_key)))
		pthread_setspecific(spare_key, NULL);
	else
		h = malloc(sizeof(*h));
	if (h)
		h->n = 0;
	return h;
}

void pr_ks_hash_put(struct pr_ks_hash *h)
{
	if (!h)
		return;
	pr_ks_hash_wipe(h);
	if (spare_ok && !pthread_getspecific(spare_key) && pthread_setspecific(spare_key, h) == 0)
		return;
	free(h);
}

void pr_ks_hash_wipe(struct pr_ks_hash *h)
{
	/* The entries in use and the one after (a failed add may have written its name), not
	 * the whole 54 KiB: the fields past those were never written since the last wipe.
	 * Wiping all of it was the largest single cost of encoding a record. */
	size_t n = h->n < PR_KS_MAX_FIELDS ? h->n + 1 : PR_KS_MAX_FIELDS;

	explicit_bzero(h->kv, n * sizeof(h->kv[0]));
	explicit_bzero(&h->n, sizeof(h->n));
}

int ks_redis_fail(struct pr_redis *r, const char *what)
{
	ks_seterr("%s: %s", what, pr_redis_errmsg(r));
	return -EIO;
}

int ks_reply_error(redisReply *rep, const char *what)
{
	int rc = pr_redis_reply_errno(rep->str);

	ks_seterr("%s: redis: %s", what, rep->str);
	freeReplyObject(rep);
	return rc;
}

int pr_ks_store(struct pr_redis *r, const struct pr_ks_desc *d, const char *key, const void *rec)
{
	struct pr_redis_tx *tx;
	int rc;

	tx = pr_redis_tx_new();
	if (!tx)
		return -ENOMEM;
	rc = ks_tx_store(tx, d, key, rec);
	if (rc == 0)
		rc = ks_tx_exec(r, tx, key);
	pr_redis_tx_free(tx);
	return rc;
}

int ks_tx_store(struct pr_redis_tx *tx, const struct pr_ks_desc *d, const char *key,
		const void *rec)
{
	struct pr_ks_hash *h = pr_ks_hash_get();
	int rc;

	if (!h)
		return -ENOMEM;
	rc = pr_ks_encode(d, rec, h);
	if (rc < 0) {
		ks_err_prefix(key);
		goto out;
	}
	rc = pr_redis_tx_add(tx, "DEL %s", key);
	if (rc == 0)
		rc = ks_tx_hset(tx, key, h);
out:
	pr_ks_hash_put(h);
	return rc;
}

int ks_tx_exec(struct pr_redis *r, struct pr_redis_tx *tx, const char *what)
{
	int rc = pr_redis_tx_run(r, tx, NULL);

	if (rc < 0)
		ks_seterr("%s: %s", what, pr_redis_errmsg(r));
	return rc;
}

int pr_ks_load_reply(const struct pr_ks_desc *d, const char *key, const redisReply *rep, void *rec)
{
	struct pr_ks_hash *h;
	int rc;

	if (rep->type == REDIS_REPLY_ERROR) {
		ks_seterr("%s: %s", key, rep->str);
		return pr_redis_reply_errno(rep->str);
	}
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 0) {
		ks_seterr("%s: no such %s", key, d->name);
		return -ENOENT;
	}
	h = pr_ks_hash_get();
	if (!h)
		return -ENOMEM;
	rc = pr_ks_hash_from_reply(rep, h);
	if (rc == 0)
		rc = pr_ks_decode(d, h, rec);
	if (rc < 0)
		ks_err_prefix(key);
	pr_ks_hash_put(h);
	return rc;
}

int pr_ks_load(struct pr_redis *r, const struct pr_ks_desc *d, const char *key, void *rec)
{
	redisReply *rep;
	int rc;

	rep = pr_redis_cmd(r, "HGETALL %s", key);
	if (!rep)
		return ks_redis_fail(r, key);
	if (rep->type == REDIS_REPLY_ERROR)
		return ks_reply_error(rep, key);
	rc = pr_ks_load_reply(d, key, rep, rec);
	freeReplyObject(rep);
	return rc;
}

int pr_ks_check_schema(struct pr_redis *r)
{
	redisReply *rep;
	uint64_t v;
	int rc = 0;

	/* GET first: a read-only ACL user can check a schema it may not set. */
	rep = pr_redis_cmd(r, "GET %s", PR_KS_SCHEMA_KEY);
	if (rep && rep->type == REDIS_REPLY_NIL) {
		freeReplyObject(rep);
		rep = pr_redis_cmd(r, "SET %s %d NX GET", PR_KS_SCHEMA_KEY, PR_KS_SCHEMA_VERSION);
	}
	if (!rep)
		return ks_redis_fail(r, PR_KS_SCHEMA_KEY);
	if (rep->type == REDIS_REPLY_ERROR)
		return ks_reply_error(rep, PR_KS_SCHEMA_KEY);
	if (rep->type == REDIS_REPLY_NIL) {
		freeReplyObject(rep); /* was absent: now set */
		return 0;
	}
	if (rep->type != REDIS_REPLY_STRING || parse_u64(rep->str, rep->len, UINT32_MAX, &v) < 0) {
		ks_seterr("redis keyspace schema (%s) is not a version number; this build "
			  "speaks %d: refusing to run",
			  PR_KS_SCHEMA_KEY, PR_KS_SCHEMA_VERSION);
		rc = -EPROTO;
	} else if (v != PR_KS_SCHEMA_VERSION) {
		ks_seterr("redis keyspace schema is %" PRIu64 ", this build speaks %d: refusing "
			  "to run (migrate the data or run a matching build)",
			  v, PR_KS_SCHEMA_VERSION);
		rc = -EPROTO;
	}
	freeReplyObject(rep);
	return rc;
}

void pr_ks_names_free(struct pr_ks_names *names)
{
	size_t i;

	for (i = 0; i < names->n; i++)
		free(names->v[i]);
	free(names->v);
	names->v = NULL;
	names->n = 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* An array reply of strings -> names (sorted when sort). */
int ks_names_from_reply(const redisReply *rep, struct pr_ks_names *names, bool sort)
{
	size_t i;

	names->n = 0;
	names->v = NULL;
	if (rep->type != REDIS_REPLY_ARRAY) {
		ks_seterr("malformed reply (expected an array)");
		return -EINVAL;
	}
	names->v = calloc(rep->elements ? rep->elements : 1, sizeof(char *));
	if (!names->v)
		return -ENOMEM;
	for (i = 0; i < rep->elements; i++) {
		const redisReply *e = rep->element[i];
		if (e->type != REDIS_REPLY_STRING) {
			pr_ks_names_free(names);
			ks_seterr("malformed reply (non-string member)");
			return -EINVAL;
		}
		names->v[names->n] = strndup(e->str, e->len);
		if (!names->v[names->n]) {
			pr_ks_names_free(names);
			return -ENOMEM;
		}
		names->n++;
	}
	if (sort && names->n > 1)
		qsort(names->v, names->n, sizeof(char *), cmp_str);
	return 0;
}

int ks_reply_names(struct pr_redis *r, redisReply *rep, struct pr_ks_names *names, bool sort,
		   const char *what)
{
	int rc;

	names->n = 0;
	names->v = NULL;
	if (!rep)
		return ks_redis_fail(r, what);
	if (rep->type == REDIS_REPLY_ERROR)
		return ks_reply_error(rep, what);
	rc = ks_names_from_reply(rep, names, sort);
	freeReplyObject(rep);
	if (rc < 0)
		ks_err_prefix(what);
	return rc;
}

/* Ids follow the same rule as user names; key = prefix + id. */
int ks_make_key(char *key, size_t len, const char *prefix, const char *id, const char *what)
{
	if (!id || !pr_ks_user_name_valid(id)) {
		ks_seterr(
		    "invalid %s '%.64s' (1-63 of A-Z a-z 0-9 . _ -, not starting with . or -)",
		    what, id ? id : "");
		return -EINVAL;
	}
	snprintf(key, len, "%s%s", prefix, id);
	return 0;
}

int64_t ks_now(void)
{
	return (int64_t)time(NULL);
}

/* Runs a one-shot command whose integer reply is returned in *out (may be NULL). */
int ks_cmd_int(struct pr_redis *r, redisReply *rep, const char *what, long long *out)
{
	if (!rep)
		return ks_redis_fail(r, what);
	if (rep->type == REDIS_REPLY_ERROR)
		return ks_reply_error(rep, what);
	if (out)
		*out = rep->type == REDIS_REPLY_INTEGER ? rep->integer : 0;
	freeReplyObject(rep);
	return 0;
}

/* Runs tx; returns the integer result of its command idx in *out (EXEC reply). */
int ks_tx_exec_int(struct pr_redis *r, struct pr_redis_tx *tx, const char *what, size_t idx,
		   long long *out)
{
	redisReply *exec = NULL;
	int rc = pr_redis_tx_run(r, tx, &exec);

	if (rc < 0) {
		ks_seterr("%s: %s", what, pr_redis_errmsg(r));
		return rc;
	}
	if (out)
		*out = (idx < exec->elements && exec->element[idx]->type == REDIS_REPLY_INTEGER)
			   ? exec->element[idx]->integer
			   : 0;
	freeReplyObject(exec);
	return 0;
}

int ks_addr_valid(const char *a)
{
	size_t n = strnlen(a, PR_KS_ADDR_MAX);

	if (n == 0 || n >= PR_KS_ADDR_MAX)
		return 0;
	return strspn(a, "0123456789abcdefABCDEF.:") == n;
}

int ks_parse_i64(const char *s, int64_t *out)
{
	struct pr_ks_field f = {"expires", PR_KS_T_I64, 0, 0, sizeof(int64_t), NULL};

	return pr_ks_field_parse(&f, out, s);
}

struct pr_redis_tx *ks_tx_delete_begin(const char *key)
{
	struct pr_redis_tx *tx = pr_redis_tx_new();

	if (tx)
		pr_redis_tx_add(tx, "DEL %s", key);
	return tx;
}

int ks_tx_delete(struct pr_redis *r, struct pr_redis_tx *tx, const char *key, const char *what)
{
	long long n = 0;
	int rc = ks_tx_exec_int(r, tx, key, 0, &n);

	pr_redis_tx_free(tx);
	if (rc == 0 && n == 0) {
		ks_seterr("%s: no such %s", key, what);
		rc = -ENOENT;
	}
	return rc;
}
