/* SPDX-License-Identifier: BSD-3-Clause */
/* poprelayctl helpers: HA1 digests, the password policy and its explanation, the INI
 * reader, tables, record JSON (secrets hidden) and argument parsers. */
#include "mgmt/ctl.h"

#include <CUnit/Basic.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_ha1(void)
{
	char out[65];

	/* RFC 2617 section 3.5: HA1 of Mufasa / testrealm@host.com / Circle Of Life */
	CU_ASSERT_EQUAL(
	    ctl_ha1_hex("md5", "Mufasa", "testrealm@host.com", "Circle Of Life", out, sizeof(out)),
	    0);
	CU_ASSERT_STRING_EQUAL(out, "939e7578ed9e3c518a452acee763bce9");
	/* SHA-256 of the same string (Python hashlib, independent implementation) */
	CU_ASSERT_EQUAL(ctl_ha1_hex("sha256", "Mufasa", "testrealm@host.com", "Circle Of Life", out,
				    sizeof(out)),
			0);
	CU_ASSERT_STRING_EQUAL(out,
			       "3ba6cd94661c5ef34598040c868f13b8775df29109986be50ad35ae537dd3aa4");
	CU_ASSERT_EQUAL(ctl_ha1_hex("sha256", "a", "b", "c", out, 64), -EIO); /* no room for NUL */
	CU_ASSERT_EQUAL(ctl_ha1_hex("sha1", "a", "b", "c", out, sizeof(out)), -EINVAL);
}

static void test_password_policy(void)
{
	const char *dict[] = {"alice", "poprelay", NULL};
	char why[1024];
	static const char *const weak[] = {"password123",	"qwertyuiop",	 "abcdefghijkl",
					   "alice-alice-alice", "1111111111111", "Summer2024!"};
	static const char *const strong[] = {"correct-Horse-battery-9-staple",
					     "Gl4cier-mint-quartz-ferry-71", "q8#Vd!2mZ0x$Lr"};
	size_t i;

	for (i = 0; i < sizeof(weak) / sizeof(weak[0]); i++) {
		why[0] = 0;
		CU_ASSERT_EQUAL(ctl_password_check(weak[i], dict, why, sizeof(why)), -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(why, "bits"));
		CU_ASSERT_PTR_NOT_NULL(strstr(why, "guesses"));
		/* the reason never quotes the password */
		CU_ASSERT_PTR_NULL(strstr(why, weak[i]));
	}
	for (i = 0; i < sizeof(strong) / sizeof(strong[0]); i++) {
		CU_ASSERT_EQUAL(ctl_password_check(strong[i], dict, why, sizeof(why)), 0);
	}
	/* the pattern is named */
	ctl_password_check("password123", dict, why, sizeof(why));
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "dictionary word"));
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "characters 1-8"));
	ctl_password_check("abcdefghijkl", dict, why, sizeof(why));
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "sequence"));
	ctl_password_check("alice-alice-alice", dict, why, sizeof(why));
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "own name"));
	/* random but short */
	CU_ASSERT_EQUAL(ctl_password_check("Xk9#mQ2!", dict, why, sizeof(why)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "8 characters"));
	/* a tiny buffer is not overrun */
	{
		char small[16];
		memset(small, 'Z', sizeof(small));
		CU_ASSERT_EQUAL(ctl_password_check("password123", dict, small, 8), -EINVAL);
		CU_ASSERT_EQUAL(small[7], 0);
		CU_ASSERT_EQUAL(small[8], 'Z');
	}
}

static void test_conf(void)
{
	char path[] = "/tmp/ks-ctl-conf-XXXXXX";
	struct ctl_ctx ctx = {.prog = "test"};
	int fd = mkstemp(path);
	FILE *f;

	CU_ASSERT_FATAL(fd >= 0);
	f = fdopen(fd, "w");
	fputs("; comment\n# other comment\nstray line without equals\n"
	      "[global]\n  realm =  example.net  ; trailing comment\n"
	      "[redis]\nsocket=/run/x.sock\n[unknown section]\nwhatever = 1\n"
	      "[global]\nrealm = later.example\n[broken\nkey = v\n",
	      f);
	fclose(f);
	CU_ASSERT_EQUAL(ctl_conf_load(&ctx, path), 0);
	CU_ASSERT_STRING_EQUAL(ctl_conf_get(&ctx, "redis", "socket"), "/run/x.sock");
	CU_ASSERT_STRING_EQUAL(ctl_conf_get(&ctx, "global", "realm"), "later.example");
	CU_ASSERT_STRING_EQUAL(ctl_conf_get(&ctx, "unknown section", "whatever"), "1");
	CU_ASSERT_PTR_NULL(ctl_conf_get(&ctx, "redis", "user"));
	CU_ASSERT_PTR_NULL(ctl_conf_get(&ctx, "eal", "socket"));
	unlink(path);
	free(ctx.conf);
	ctx.conf = NULL;
	ctx.nconf = 0;
	CU_ASSERT_EQUAL(ctl_conf_load(&ctx, "/nonexistent/ks.conf"), -ENOENT);
}

static void test_table(void)
{
	static const char *const hdr[] = {"NAME", "X"};
	static const char *const r1[] = {"alexander", "1"};
	static const char *const r2[] = {"bo", NULL};
	struct ctl_table *t = ctl_table_new(2, hdr);
	char buf[256] = {0};
	FILE *f = tmpfile();

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(ctl_table_add(t, r1), 0);
	CU_ASSERT_EQUAL(ctl_table_add(t, r2), 0);
	ctl_table_print(t, f);
	ctl_table_free(t);
	rewind(f);
	CU_ASSERT(fread(buf, 1, sizeof(buf) - 1, f) > 0);
	fclose(f);
	CU_ASSERT_STRING_EQUAL(buf, "NAME       X\nalexander  1\nbo         -\n");
}

static void test_record_json(void)
{
	struct pr_ks_user u = {0};
	json_t *o;

	snprintf(u.name, sizeof(u.name), "alice");
	snprintf(u.ha1_md5, sizeof(u.ha1_md5), "939e7578ed9e3c518a452acee763bce9");
	u.max_tx_kbps = 77;
	u.encryption_required = true;
	o = ctl_record_json(&pr_ks_user_desc, &u);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "ha1_md5")), "set");
	CU_ASSERT_TRUE(json_is_null(json_object_get(o, "ha1_sha256")));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "max_tx_kbps")), 77);
	CU_ASSERT_TRUE(json_is_true(json_object_get(o, "encryption_required")));
	{
		char *s = json_dumps(o, 0);
		CU_ASSERT_PTR_NULL(strstr(s, "939e7578"));
		free(s);
	}
	json_decref(o);
	/* nested records (session legs) keep their prefixes; keys stay hidden */
	{
		struct pr_ks_session s = {0};
		snprintf(s.leg[0].key_tx, sizeof(s.leg[0].key_tx), "c2VjcmV0c2VjcmV0c2VjcmV0");
		s.leg[1].relay_port = 40002;
		o = ctl_record_json(&pr_ks_session_desc, &s);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "a_key_tx")), "set");
		CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "b_relay_port")), 40002);
		json_decref(o);
	}
}

static void test_parsers(void)
{
	bool b = false;
	uint32_t v = 0;

	CU_ASSERT_EQUAL(ctl_parse_bool("yes", &b), 0);
	CU_ASSERT_TRUE(b);
	CU_ASSERT_EQUAL(ctl_parse_bool("Off", &b), 0);
	CU_ASSERT_FALSE(b);
	CU_ASSERT_EQUAL(ctl_parse_bool("maybe", &b), -EINVAL);
	CU_ASSERT_EQUAL(ctl_parse_u32("4096", 100000, &v), 0);
	CU_ASSERT_EQUAL(v, 4096);
	CU_ASSERT_EQUAL(ctl_parse_u32("100001", 100000, &v), -EINVAL);
	CU_ASSERT_EQUAL(ctl_parse_u32("-1", 100000, &v), -EINVAL);
	CU_ASSERT_EQUAL(ctl_parse_u32("12k", 100000, &v), -EINVAL);
	CU_ASSERT_EQUAL(ctl_parse_u32("", 100000, &v), -EINVAL);
	CU_ASSERT_EQUAL(ctl_exit_for(0), CTL_EXIT_OK);
	CU_ASSERT_EQUAL(ctl_exit_for(-EIO), CTL_EXIT_DOWN);
	CU_ASSERT_EQUAL(ctl_exit_for(-ENOENT), CTL_EXIT_ERR);
}

int main(void)
{
	CU_pSuite s;
	unsigned failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("poprelayctl helpers", NULL, NULL);
	CU_add_test(s, "HA1 digests", test_ha1);
	CU_add_test(s, "password policy", test_password_policy);
	CU_add_test(s, "config reader", test_conf);
	CU_add_test(s, "tables", test_table);
	CU_add_test(s, "record JSON hides secrets", test_record_json);
	CU_add_test(s, "parsers", test_parsers);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
