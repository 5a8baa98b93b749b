/* SPDX-License-Identifier: BSD-3-Clause */
/* Redis under Sentinel, the parts that need no server: the [redis] sentinels/master_name
 * checks every process shares (pr_redis_sentinel_target), and the reading of a sentinel's
 * SENTINEL get-master-addr-by-name and of a server's ROLE replies, where a wrong reading
 * would make a process write to a replica or to nowhere; and of the +switch-master messages
 * and SENTINEL master replies the watcher follows the primary by, where a wrong reading
 * would move every connection to the wrong server or miss a failover. The failovers
 * themselves are tests/integration/redis_sentinel.sh. */
#include "common/redis.h"

#include <CUnit/Basic.h>
#include <errno.h>
#include <string.h>

static void target_accepts(void)
{
	char out[PR_REDIS_TARGET_MAX], err[256];

	CU_ASSERT_EQUAL(pr_redis_sentinel_target(out, sizeof(out),
						 " 10.0.0.1:26379 ,10.0.0.2:26380,\t[::1]:26381 ",
						 "poprelay", err, sizeof(err)),
			0);
	CU_ASSERT_STRING_EQUAL(out, "sentinel:poprelay@10.0.0.1:26379,10.0.0.2:26380,[::1]:26381");
	CU_ASSERT_TRUE(pr_redis_is_sentinel(out));
	CU_ASSERT_FALSE(pr_redis_is_sentinel("/run/poprelay/redis.sock"));
	CU_ASSERT_EQUAL(pr_redis_sentinel_target(out, sizeof(out), "redis-a.pop1:26379", "a_b.c-1",
						 err, sizeof(err)),
			0);
	CU_ASSERT_STRING_EQUAL(out, "sentinel:a_b.c-1@redis-a.pop1:26379");
}

/* each refusal names the key at fault */
static void refuse(const char *sentinels, const char *name, const char *key, const char *why)
{
	char out[PR_REDIS_TARGET_MAX], err[256] = "";

	CU_ASSERT_EQUAL(
	    pr_redis_sentinel_target(out, sizeof(out), sentinels, name, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, key));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, why));
	if (!strstr(err, key) || !strstr(err, why))
		fprintf(stderr, "refusal of '%s' / '%s': %s\n", sentinels ? sentinels : "(null)",
			name ? name : "(null)", err);
}

static void target_refuses(void)
{
	refuse("127.0.0.1:26379", "", "[redis] master_name", "required with sentinels");
	refuse("127.0.0.1:26379", NULL, "[redis] master_name", "required with sentinels");
	refuse("127.0.0.1:26379", "bad name", "[redis] master_name", "A-Z");
	refuse("127.0.0.1:26379",
	       "0123456789012345678901234567890123456789012345678901234567890123",
	       "[redis] master_name", "1-63");
	refuse("", "poprelay", "[redis] sentinels", "required with master_name");
	refuse(NULL, "poprelay", "[redis] sentinels", "required with master_name");
	refuse("127.0.0.1", "poprelay", "[redis] sentinels", "'127.0.0.1' is not host:port");
	refuse("127.0.0.1:0", "poprelay", "[redis] sentinels", "'127.0.0.1:0'");
	refuse("127.0.0.1:65536", "poprelay", "[redis] sentinels", "'127.0.0.1:65536'");
	refuse("127.0.0.1:26379,,127.0.0.1:26380", "poprelay", "[redis] sentinels", "''");
	refuse("[::1:26379", "poprelay", "[redis] sentinels", "'[::1:26379'");
	refuse("host name:26379", "poprelay", "[redis] sentinels", "'host name:26379'");
	refuse("a:1,b:2,c:3,d:4,e:5,f:6,g:7,h:8,i:9", "poprelay", "[redis] sentinels",
	       "more than 8 sentinels");
}

static redisReply str(const char *s)
{
	redisReply r = {.type = REDIS_REPLY_STRING, .str = (char *)s, .len = strlen(s)};
	return r;
}

static void sentinel_reply(void)
{
	char host[64];
	int port = 0;
	redisReply h = str("10.0.0.12"), p = str("6380"), bad_p = str("6380x"), big = str("70000");
	redisReply *el[2] = {&h, &p};
	redisReply arr = {.type = REDIS_REPLY_ARRAY, .elements = 2, .element = el};

	CU_ASSERT_EQUAL(pr_redis_sentinel_reply(&arr, host, sizeof(host), &port), 0);
	CU_ASSERT_STRING_EQUAL(host, "10.0.0.12");
	CU_ASSERT_EQUAL(port, 6380);
	/* a sentinel that does not monitor the name answers nil */
	redisReply nil = {.type = REDIS_REPLY_NIL};
	CU_ASSERT_EQUAL(pr_redis_sentinel_reply(&nil, host, sizeof(host), &port), -ENOENT);
	el[1] = &bad_p;
	CU_ASSERT_EQUAL(pr_redis_sentinel_reply(&arr, host, sizeof(host), &port), -EBADMSG);
	el[1] = &big;
	CU_ASSERT_EQUAL(pr_redis_sentinel_reply(&arr, host, sizeof(host), &port), -EBADMSG);
	el[1] = &p;
	arr.elements = 1;
	CU_ASSERT_EQUAL(pr_redis_sentinel_reply(&arr, host, sizeof(host), &port), -EBADMSG);
	/* a host name longer than the buffer is refused, not cut */
	CU_ASSERT_EQUAL(pr_redis_sentinel_reply(
			    &(redisReply){.type = REDIS_REPLY_ARRAY, .elements = 2, .element = el},
			    host, 5, &port),
			-EBADMSG);
	redisReply err = {.type = REDIS_REPLY_ERROR, .str = "NOAUTH Authentication required."};
	CU_ASSERT_EQUAL(pr_redis_sentinel_reply(&err, host, sizeof(host), &port), -EACCES);
}

static void role_reply(void)
{
	redisReply m = str("master"), s = str("slave"), off = str("1234");
	redisReply *el[2] = {&m, &off};
	redisReply arr = {.type = REDIS_REPLY_ARRAY, .elements = 2, .element = el};

	CU_ASSERT_EQUAL(pr_redis_role_reply(&arr), 1);
	el[0] = &s; /* a demoted primary, or a sentinel's stale answer */
	CU_ASSERT_EQUAL(pr_redis_role_reply(&arr), 0);
	arr.elements = 0;
	CU_ASSERT_EQUAL(pr_redis_role_reply(&arr), -EBADMSG);
	redisReply err = {.type = REDIS_REPLY_ERROR, .str = "NOPERM this user has no permissions"};
	CU_ASSERT_EQUAL(pr_redis_role_reply(&err), -EACCES);
	CU_ASSERT_EQUAL(pr_redis_role_reply(NULL), -EIO);
}

static void switch_master(void)
{
	char addr[80] = "";

	CU_ASSERT_EQUAL(pr_redis_switch_master_parse("poprelay 10.0.0.1 6379 10.0.0.2 6380",
						     "poprelay", addr, sizeof(addr)),
			1);
	CU_ASSERT_STRING_EQUAL(addr, "10.0.0.2:6380");
	CU_ASSERT_EQUAL(pr_redis_switch_master_parse("poprelay ::1 6379 fd00::2 6380", "poprelay",
						     addr, sizeof(addr)),
			1);
	CU_ASSERT_STRING_EQUAL(addr, "[fd00::2]:6380");
	/* with announce-hostnames the sentinels name hosts */
	CU_ASSERT_EQUAL(pr_redis_switch_master_parse("poprelay redis-a 6379 redis-b.pop1 6379",
						     "poprelay", addr, sizeof(addr)),
			1);
	CU_ASSERT_STRING_EQUAL(addr, "redis-b.pop1:6379");
	/* another master the same sentinels watch: not ours, addr untouched */
	strcpy(addr, "x");
	CU_ASSERT_EQUAL(pr_redis_switch_master_parse("other 10.0.0.1 6379 10.0.0.9 6379",
						     "poprelay", addr, sizeof(addr)),
			0);
	CU_ASSERT_STRING_EQUAL(addr, "x");
	/* a prefix of our name is another name */
	CU_ASSERT_EQUAL(pr_redis_switch_master_parse("poprelay2 10.0.0.1 6379 10.0.0.9 6379",
						     "poprelay", addr, sizeof(addr)),
			0);
	/* malformed: never a move */
	static const char *const bad[] = {
	    "",
	    "poprelay",
	    "poprelay 10.0.0.1 6379 10.0.0.2",
	    "poprelay 10.0.0.1 6379 10.0.0.2 6380 extra",
	    "poprelay 10.0.0.1 6379 10.0.0.2 0",
	    "poprelay 10.0.0.1 6379 10.0.0.2 65536",
	    "poprelay 10.0.0.1 6379 10.0.0.2 63x0",
	    "poprelay 10.0.0.1 6379 10.0.0.2 -1",
	    "poprelay 10.0.0.1 x 10.0.0.2 6380",
	    "poprelay 10.0.0.1 6379 10.0.0/2 6380",
	    "poprelay 10.0.0.1 6379 "
	    "0123456789012345678901234567890123456789012345678901234567890123456789 6380",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(
		    pr_redis_switch_master_parse(bad[i], "poprelay", addr, sizeof(addr)), -EBADMSG);
	}
	CU_ASSERT_EQUAL(pr_redis_switch_master_parse(NULL, "poprelay", addr, sizeof(addr)),
			-EBADMSG);
	/* extra spaces between the fields are taken */
	CU_ASSERT_EQUAL(pr_redis_switch_master_parse("poprelay  10.0.0.1 6379 10.0.0.2 6380 ",
						     "poprelay", addr, sizeof(addr)),
			1);
	/* an address that does not fit is refused, not cut */
	CU_ASSERT_EQUAL(pr_redis_switch_master_parse("poprelay 10.0.0.1 6379 10.0.0.2 6380",
						     "poprelay", addr, 8),
			-EBADMSG);
}

static void sentinel_master(void)
{
	char addr[80];
	long long cfg = -2;
	const char *kv[] = {"name",  "poprelay", "ip",		 "10.0.0.2", "port",	   "6380",
			    "flags", "master",	 "config-epoch", "7",	     "num-slaves", "1"};
	redisReply r[12], *el[12];
	redisReply arr = {.type = REDIS_REPLY_ARRAY, .elements = 12, .element = el};

	for (int i = 0; i < 12; i++) {
		r[i] = str(kv[i]);
		el[i] = &r[i];
	}
	CU_ASSERT_EQUAL(pr_redis_sentinel_master_reply(&arr, addr, sizeof(addr), &cfg), 0);
	CU_ASSERT_STRING_EQUAL(addr, "10.0.0.2:6380");
	CU_ASSERT_EQUAL(cfg, 7);
	r[5] = str("0"); /* a bad port */
	CU_ASSERT_EQUAL(pr_redis_sentinel_master_reply(&arr, addr, sizeof(addr), &cfg), -EBADMSG);
	r[5] = str("6380");
	r[9] = str("seven");
	CU_ASSERT_EQUAL(pr_redis_sentinel_master_reply(&arr, addr, sizeof(addr), &cfg), -EBADMSG);
	r[9] = str("7");
	arr.elements = 8; /* no config-epoch */
	CU_ASSERT_EQUAL(pr_redis_sentinel_master_reply(&arr, addr, sizeof(addr), &cfg), -EBADMSG);
	arr.elements = 11; /* a key without its value */
	CU_ASSERT_EQUAL(pr_redis_sentinel_master_reply(&arr, addr, sizeof(addr), &cfg), -EBADMSG);
	redisReply nomaster = {.type = REDIS_REPLY_ERROR,
			       .str = "ERR No such master with that name"};
	CU_ASSERT_EQUAL(pr_redis_sentinel_master_reply(&nomaster, addr, sizeof(addr), &cfg),
			-ENOENT);
	CU_ASSERT_EQUAL(pr_redis_sentinel_master_reply(NULL, addr, sizeof(addr), &cfg), -EIO);
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite su = CU_add_suite("redis_sentinel", NULL, NULL);
	CU_add_test(su, "[redis] sentinels and master_name: a target", target_accepts);
	CU_add_test(su, "bad sentinels or master_name: refused, naming the key", target_refuses);
	CU_add_test(su, "SENTINEL get-master-addr-by-name replies", sentinel_reply);
	CU_add_test(su, "ROLE replies: only master is a primary", role_reply);
	CU_add_test(su, "+switch-master messages: ours, another's, malformed", switch_master);
	CU_add_test(su, "SENTINEL master replies: the primary and the config epoch",
		    sentinel_master);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
