/* SPDX-License-Identifier: BSD-3-Clause */
/* The runtime tunables the slowpath owns (pr_ks_tunables[]) agree with the [sip] keys they
 * override: each names a key the parser takes, at its min and max and not one past them,
 * into the very field sp_tunables writes, whose default is the tunable's. Then what
 * sp_tunables_apply makes of stored values: the stored one, else the file's; a registration
 * interval that is none is refused. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/keyspace.h"
#include "slowpath/sp_config.h"
#include "slowpath/sp_msg.h"
#include "slowpath/sp_tunables.h"

/* [sip] key = value, with a registration interval wide enough for either bound. */
static int parse_one(struct sp_config *c, const char *key, int64_t v, char *err, size_t errlen)
{
	char text[256];

	snprintf(text, sizeof(text),
		 "[sip]\nreg_min_expires_s = 1\nreg_max_expires_s = 604800\n%s = %" PRId64 "\n",
		 key, v);
	sp_config_defaults(c);
	return sp_config_parse(c, "t.conf", text, err, errlen);
}

static void test_against_config(void)
{
	struct sp_config c, def;
	char err[256];
	unsigned n = 0;

	sp_config_defaults(&def);
	for (size_t i = 0; i < pr_ks_tunables_n; i++) {
		const struct pr_ks_tunable_def *t = &pr_ks_tunables[i];
		if (strcmp(t->owner, "slowpath")) {
			CU_ASSERT_PTR_NULL(sp_tunable_field(&c, t->name));
			continue;
		}
		n++;
		uint32_t *f = sp_tunable_field(&def, t->name);
		if (!f || strncmp(t->cfg, "sip.", 4)) {
			fprintf(stderr, "\n  %s: no [sip] field (cfg %s)\n", t->name, t->cfg);
			CU_FAIL("slowpath tunable without its field");
			continue;
		}
		const char *key = t->cfg + 4;
		if (*f != t->def) {
			fprintf(stderr, "\n  %s: default %" PRId64 ", [sip] %s defaults to %u\n",
				t->name, t->def, key, *f);
			CU_FAIL("tunable and configuration default disagree");
		}
		/* min and max are taken, into the tunable's field */
		int64_t ends[2] = {t->min, t->max};
		for (int e = 0; e < 2; e++) {
			int rc = parse_one(&c, key, ends[e], err, sizeof(err));
			if (rc != 0 || *sp_tunable_field(&c, t->name) != ends[e]) {
				fprintf(stderr, "\n  %s: [sip] %s = %" PRId64 ": %s\n", t->name,
					key, ends[e], rc ? err : "another field took it");
				CU_FAIL("the configuration refuses a value the tunable takes");
			}
		}
		/* one past either end is refused, naming the key */
		int64_t out[2] = {t->min - 1, t->max + 1};
		for (int e = 0; e < 2; e++) {
			int rc = parse_one(&c, key, out[e], err, sizeof(err));
			if (rc != -EINVAL || !strstr(err, key)) {
				fprintf(stderr, "\n  %s: [sip] %s = %" PRId64 ": %d %s\n", t->name,
					key, out[e], rc, rc ? err : "accepted");
				CU_FAIL("the configuration takes a value the tunable refuses");
			}
		}
	}
	CU_ASSERT_EQUAL(n, 7);
}

static int idx(const char *name)
{
	for (size_t i = 0; i < pr_ks_tunables_n; i++)
		if (!strcmp(pr_ks_tunables[i].name, name))
			return (int)i;
	CU_FAIL_FATAL("unknown tunable");
	return -1;
}

static void test_apply(void)
{
	struct sp_config file, cfg;
	int64_t vals[64], in_force[64];
	bool set[64] = {false};
	int rate = idx("sip.rate_per_src"), rmin = idx("sip.reg_min_expires_s"),
	    rmax = idx("sip.reg_max_expires_s"), msg = idx("sip.max_msg_bytes");

	CU_ASSERT_FATAL(pr_ks_tunables_n <= 64);
	sp_config_defaults(&file);
	file.lockout_s = 77; /* a file value that is not the default */
	cfg = file;
	/* nothing stored: nothing changes, the file's values are reported */
	CU_ASSERT_EQUAL(sp_tunables_apply(&cfg, &file, vals, set, in_force), 0);
	CU_ASSERT_EQUAL(in_force[idx("sip.lockout_s")], 77);
	CU_ASSERT_EQUAL(in_force[idx("dp.burst_size")], INT64_MIN);
	/* stored values win */
	set[rate] = set[msg] = true;
	vals[rate] = 2;
	vals[msg] = 1024;
	CU_ASSERT_EQUAL(sp_tunables_apply(&cfg, &file, vals, set, in_force), 2);
	CU_ASSERT_EQUAL(cfg.rate_limit_rps, 2);
	CU_ASSERT_EQUAL(cfg.max_message_bytes, 1024);
	CU_ASSERT_EQUAL(in_force[rate], 2);
	/* a minimum above the maximum is refused, the old value stays */
	set[rmin] = true;
	vals[rmin] = 7200;
	CU_ASSERT_EQUAL(sp_tunables_apply(&cfg, &file, vals, set, in_force), 0);
	CU_ASSERT_EQUAL(cfg.reg_min_expires_s, 60);
	CU_ASSERT_EQUAL(in_force[rmin], 60);
	/* with a maximum that holds it, both apply */
	set[rmax] = true;
	vals[rmax] = 10000;
	CU_ASSERT_EQUAL(sp_tunables_apply(&cfg, &file, vals, set, in_force), 2);
	CU_ASSERT_EQUAL(cfg.reg_min_expires_s, 7200);
	CU_ASSERT_EQUAL(cfg.reg_max_expires_s, 10000);
	/* a maximum below the minimum in force is refused too */
	vals[rmax] = 100;
	CU_ASSERT_EQUAL(sp_tunables_apply(&cfg, &file, vals, set, in_force), 0);
	CU_ASSERT_EQUAL(cfg.reg_max_expires_s, 10000);
	/* all reset: the file's values are back */
	memset(set, 0, sizeof(set));
	CU_ASSERT_EQUAL(sp_tunables_apply(&cfg, &file, vals, set, in_force), 4);
	CU_ASSERT_EQUAL(memcmp(&cfg, &file, sizeof(cfg)), 0);
}

/* The framing takes the limit in force. */
static void test_frame_max(void)
{
	char *m = malloc(2100);
	size_t skip;
	unsigned pings;

	CU_ASSERT_FATAL(m != NULL);
	int n = snprintf(m, 2100, "OPTIONS sip:x SIP/2.0\r\nContent-Length: 1500\r\n\r\n");
	memset(m + n, 'a', 1500);
	CU_ASSERT_EQUAL(sp_msg_frame_max(m, (size_t)n + 1500, SP_MSG_MAX, &skip, &pings), n + 1500);
	CU_ASSERT_EQUAL(sp_msg_frame_max(m, (size_t)n + 1500, 1024, &skip, &pings), -EMSGSIZE);
	CU_ASSERT_EQUAL(sp_msg_frame_max(m, 100, 1024, &skip, &pings), -EMSGSIZE); /* announced */
	free(m);
}

int main(void)
{
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("sp_tunables", NULL, NULL);
	CU_add_test(s, "every slowpath tunable matches its [sip] key", test_against_config);
	CU_add_test(s, "stored values over the file's, refusals", test_apply);
	CU_add_test(s, "the framing takes the message size in force", test_frame_max);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
