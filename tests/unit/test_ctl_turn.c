/* SPDX-License-Identifier: BSD-3-Clause */
/* poprelayctl turn secret add|list|del against a private redis-server: what lands in
 * pr:turn:secrets and pr:turn:secret_added, duplicates, bounds, the limit of secrets the
 * dataplane tries, exit codes, the audit trail, and no secret in any output or audit
 * entry (except the generated one, printed once). The bounds are the dataplane's own. */
#include "mgmt/ctl.h"

#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dataplane/turn/turn_server.h"
#include "tests/unit/redis_fixture.h"

/* poprelayctl and the dataplane must agree on what a secret may be. */
_Static_assert(PR_KS_TURN_SECRET_MAX == TURN_SECRET_MAX, "secret length bound differs");
_Static_assert(PR_KS_TURN_SECRETS_MAX == TURN_REST_SECRETS, "number of secrets differs");

#define S1 "first-shared-secret-0123456789"
#define S2 "second-shared-secret-abcdefghij"

static char sock_path[256];
static struct pr_redis *R;
static char out[8192], err[8192];

static int tmpfd(void)
{
	char path[] = "/tmp/ctl-turn-XXXXXX";
	int fd = mkstemp(path);

	unlink(path);
	return fd;
}

static void slurp(int fd, char *buf, size_t len)
{
	ssize_t n;

	lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, len - 1);
	buf[n > 0 ? n : 0] = 0;
	close(fd);
}

/* Runs `poprelayctl [--json] turn ARGS...` (NULL-terminated) on the test's Redis with stdin
 * from the string in (NULL: /dev/null); its stdout and stderr in out and err. */
static int ctl(const char *sock, bool json, const char *in, ...)
{
	struct ctl_ctx ctx = {.prog = "poprelayctl", .conf_path = "/nonexistent", .json = json};
	char *argv[16] = {"turn"};
	int argc = 1, rc, fo = tmpfd(), fe = tmpfd(), fi = tmpfd();
	int so = dup(1), se = dup(2), si = dup(0);
	va_list ap;

	ctx.socket_explicit = true;
	snprintf(ctx.redis_socket, sizeof(ctx.redis_socket), "%s", sock);
	snprintf(ctx.realm, sizeof(ctx.realm), "poprelay");
	snprintf(ctx.actor, sizeof(ctx.actor), "ctl:unit");
	va_start(ap, in);
	for (char *a; (a = va_arg(ap, char *)) && argc < 15;)
		argv[argc++] = a;
	va_end(ap);
	if (in && write(fi, in, strlen(in)) < 0)
		CU_FAIL("write stdin");
	lseek(fi, 0, SEEK_SET);
	fflush(stdout);
	fflush(stderr);
	dup2(fo, 1);
	dup2(fe, 2);
	dup2(fi, 0);
	clearerr(stdin);
	rc = ctl_turn_main(&ctx, argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	dup2(si, 0);
	close(so);
	close(se);
	close(si);
	close(fi);
	clearerr(stdin);
	pr_redis_close(ctx.redis);
	slurp(fo, out, sizeof(out));
	slurp(fe, err, sizeof(err));
	return rc;
}

/* A file holding text, in the fixture's directory; its path in path. */
static void file_with(char *path, size_t len, const char *name, const char *text)
{
	FILE *f;

	snprintf(path, len, "%s/%s", test_redis_dir(), name);
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
}

static char *hget(const char *key, const char *field)
{
	static char v[256];
	redisReply *rep = pr_redis_cmd(R, "HGET %s %s", key, field);

	bool found = rep && rep->type == REDIS_REPLY_STRING;

	if (found)
		snprintf(v, sizeof(v), "%s", rep->str);
	if (rep)
		freeReplyObject(rep);
	return found ? v : NULL;
}

static void flush(void)
{
	redisReply *rep = pr_redis_cmd(R, "FLUSHALL");

	if (rep)
		freeReplyObject(rep);
}

static void test_bounds(void)
{
	char s[200];

	memset(s, 'x', sizeof(s));
	s[PR_KS_TURN_SECRET_MIN - 1] = 0;
	CU_ASSERT_EQUAL(pr_ks_turn_secret_check(s), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(pr_ks_errmsg(), "too short"));
	CU_ASSERT_PTR_NULL(strstr(pr_ks_errmsg(), s));
	s[PR_KS_TURN_SECRET_MIN - 1] = 'x';
	s[PR_KS_TURN_SECRET_MIN] = 0;
	CU_ASSERT_EQUAL(pr_ks_turn_secret_check(s), 0);
	s[PR_KS_TURN_SECRET_MIN] = 'x';
	s[TURN_SECRET_MAX - 1] = 0; /* the longest the dataplane keeps */
	CU_ASSERT_EQUAL(pr_ks_turn_secret_check(s), 0);
	s[TURN_SECRET_MAX - 1] = 'x';
	s[TURN_SECRET_MAX] = 0; /* one more: the dataplane would ignore it */
	CU_ASSERT_EQUAL(pr_ks_turn_secret_check(s), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(pr_ks_errmsg(), "too long"));
	CU_ASSERT_EQUAL(pr_ks_turn_secret_check("0123456789 abcdefghij"), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(pr_ks_errmsg(), "character 11"));
	CU_ASSERT_PTR_NULL(strstr(pr_ks_errmsg(), "abcdefghij"));
	CU_ASSERT_EQUAL(pr_ks_turn_secret_check("0123456789abcdef\x01"), -EINVAL);
	CU_ASSERT_EQUAL(pr_ks_turn_secret_check("0123456789abcdef\xc3\xa9"), -EINVAL);
	CU_ASSERT_EQUAL(pr_ks_turn_secret_check(NULL), -EINVAL);
}

static void test_add(void)
{
	char f1[512], f2[512], bad[512];
	int64_t now = time(NULL), added;
	const char *v;

	flush();
	file_with(f1, sizeof(f1), "s1", S1 "\n");
	file_with(f2, sizeof(f2), "s2", S2 "\r\n");
	CU_ASSERT_EQUAL(
	    ctl(sock_path, false, NULL, "secret", "add", "2026-11", "--from-file", f1, NULL),
	    CTL_EXIT_OK);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "2026-11 added"));
	v = hget(PR_KS_TURN_SECRETS_KEY, "2026-11");
	CU_ASSERT(v && !strcmp(v, S1)); /* the end of line is not part of it */
	CU_ASSERT_EQUAL(pr_ks_turn_secret_added(R, "2026-11", &added), 0);
	CU_ASSERT(added >= now && added <= now + 5);

	/* a duplicate is refused and changes nothing */
	CU_ASSERT_EQUAL(
	    ctl(sock_path, false, NULL, "secret", "add", "2026-11", "--from-file", f2, NULL),
	    CTL_EXIT_ERR);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "exists already"));
	v = hget(PR_KS_TURN_SECRETS_KEY, "2026-11");
	CU_ASSERT(v && !strcmp(v, S1));
	/* --replace overwrites it; stdin works like a file */
	CU_ASSERT_EQUAL(ctl(sock_path, false, S2 "\n", "secret", "add", "2026-11", "--stdin",
			    "--replace", NULL),
			CTL_EXIT_OK);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "replaced"));
	v = hget(PR_KS_TURN_SECRETS_KEY, "2026-11");
	CU_ASSERT(v && !strcmp(v, S2));
	CU_ASSERT_EQUAL(ctl(sock_path, false, NULL, "secret", "add", "b", "--from-file", f2, NULL),
			CTL_EXIT_OK);
	v = hget(PR_KS_TURN_SECRETS_KEY, "b");
	CU_ASSERT(v && !strcmp(v, S2)); /* "\r\n" is an end of line too */

	/* bad secrets: exit 1, a message that says what is wrong, nothing written */
	file_with(bad, sizeof(bad), "short", "tooshort\n");
	CU_ASSERT_EQUAL(ctl(sock_path, false, NULL, "secret", "add", "c", "--from-file", bad, NULL),
			CTL_EXIT_ERR);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "too short (8 characters)"));
	CU_ASSERT_PTR_NULL(strstr(err, "tooshort"));
	file_with(bad, sizeof(bad), "twolines", S1 "\n" S2 "\n");
	CU_ASSERT_EQUAL(ctl(sock_path, false, NULL, "secret", "add", "c", "--from-file", bad, NULL),
			CTL_EXIT_ERR);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "more than one line"));
	file_with(bad, sizeof(bad), "empty", "");
	CU_ASSERT_EQUAL(ctl(sock_path, false, NULL, "secret", "add", "c", "--from-file", bad, NULL),
			CTL_EXIT_ERR);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "empty"));
	CU_ASSERT_EQUAL(ctl(sock_path, false, NULL, "secret", "add", "c", "--from-file",
			    "/nonexistent/file", NULL),
			CTL_EXIT_ERR);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/file"));
	CU_ASSERT_PTR_NULL(hget(PR_KS_TURN_SECRETS_KEY, "c"));
	CU_ASSERT_PTR_NULL(hget(PR_KS_TURN_SECRET_ADDED, "c"));

	/* usage: exit 2 before anything is read or written */
	CU_ASSERT_EQUAL(ctl(sock_path, false, NULL, "secret", "add", "-bad", "--stdin", NULL),
			CTL_EXIT_USAGE);
	CU_ASSERT_EQUAL(ctl(sock_path, false, NULL, "secret", "add", "a/b", "--stdin", NULL),
			CTL_EXIT_USAGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "invalid secret id 'a/b'"));
	CU_ASSERT_EQUAL(ctl(sock_path, false, NULL, "secret", "add", "c", NULL), CTL_EXIT_USAGE);
	CU_ASSERT_EQUAL(
	    ctl(sock_path, false, NULL, "secret", "add", "c", "--stdin", "--generate", NULL),
	    CTL_EXIT_USAGE);
	/* the secret on the command line is refused and not repeated */
	CU_ASSERT_EQUAL(ctl(sock_path, false, NULL, "secret", "add", "c", S1, NULL),
			CTL_EXIT_USAGE);
	CU_ASSERT_PTR_NULL(strstr(err, S1));
	CU_ASSERT_EQUAL(ctl(sock_path, false, NULL, "secret", "add", "c", "--secret=" S1, NULL),
			CTL_EXIT_USAGE);
	CU_ASSERT_PTR_NULL(strstr(err, S1));
	CU_ASSERT_EQUAL(ctl(sock_path, false, NULL, "secret", "frob", NULL), CTL_EXIT_USAGE);
	CU_ASSERT_EQUAL(ctl(sock_path, false, NULL, "secret", NULL), CTL_EXIT_USAGE);
	CU_ASSERT_PTR_NULL(hget(PR_KS_TURN_SECRETS_KEY, "c"));
}

static void test_generate(void)
{
	char secret[128];
	const char *v;

	flush();
	CU_ASSERT_EQUAL(ctl(sock_path, false, NULL, "secret", "add", "gen", "--generate", NULL),
			CTL_EXIT_OK);
	/* 32 random bytes in hex, alone on stdout */
	CU_ASSERT_EQUAL(strlen(out), 65);
	CU_ASSERT_EQUAL(strspn(out, "0123456789abcdef"), 64);
	snprintf(secret, sizeof(secret), "%.64s", out);
	v = hget(PR_KS_TURN_SECRETS_KEY, "gen");
	CU_ASSERT(v && !strcmp(v, secret));
	CU_ASSERT_PTR_NULL(strstr(err, secret));
	/* another one differs */
	CU_ASSERT_EQUAL(
	    ctl(sock_path, true, NULL, "secret", "add", "gen", "--generate", "--replace", NULL),
	    CTL_EXIT_OK);
	CU_ASSERT_PTR_NULL(strstr(out, secret));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"secret\": \""));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"replaced\": true"));
	v = hget(PR_KS_TURN_SECRETS_KEY, "gen");
	CU_ASSERT(v && strcmp(v, secret) && strstr(out, v));
}

static void test_list_del(void)
{
	char f1[512];
	redisReply *rep;

	flush();
	file_with(f1, sizeof(f1), "s1", S1 "\n");
	CU_ASSERT_EQUAL(
	    ctl(sock_path, false, NULL, "secret", "add", "new", "--from-file", f1, NULL),
	    CTL_EXIT_OK);
	/* written before poprelayctl recorded times: listed with age "-" */
	rep = pr_redis_cmd(R, "HSET %s legacy %s", PR_KS_TURN_SECRETS_KEY, S2);
	freeReplyObject(rep);
	CU_ASSERT_EQUAL(ctl(sock_path, false, NULL, "secret", "list", NULL), CTL_EXIT_OK);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "ID"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "AGE"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "legacy  -"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "new "));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "0s"));
	CU_ASSERT_PTR_NULL(strstr(out, S1));
	CU_ASSERT_PTR_NULL(strstr(out, S2));
	CU_ASSERT_EQUAL(ctl(sock_path, false, NULL, "secret", "list", "--json", NULL), CTL_EXIT_OK);
	{
		json_error_t je;
		json_t *a = json_loads(out, 0, &je);
		CU_ASSERT_FATAL(json_is_array(a));
		CU_ASSERT_EQUAL(json_array_size(a), 2);
		json_t *l = json_array_get(a, 0), *n = json_array_get(a, 1);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(l, "id")), "legacy");
		CU_ASSERT(json_is_null(json_object_get(l, "added")));
		CU_ASSERT(json_is_null(json_object_get(l, "age_s")));
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(n, "id")), "new");
		CU_ASSERT(json_integer_value(json_object_get(n, "added")) > 0);
		CU_ASSERT(json_integer_value(json_object_get(n, "age_s")) <= 5);
		json_decref(a);
	}
	CU_ASSERT_PTR_NULL(strstr(out, S1));

	CU_ASSERT_EQUAL(ctl(sock_path, false, NULL, "secret", "del", "new", NULL), CTL_EXIT_OK);
	CU_ASSERT_PTR_NULL(hget(PR_KS_TURN_SECRETS_KEY, "new"));
	CU_ASSERT_PTR_NULL(hget(PR_KS_TURN_SECRET_ADDED, "new"));
	CU_ASSERT_EQUAL(ctl(sock_path, false, NULL, "secret", "del", "new", NULL), CTL_EXIT_ERR);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "no TURN secret with id 'new'"));
	CU_ASSERT_EQUAL(ctl(sock_path, false, NULL, "secret", "del", "legacy", NULL), CTL_EXIT_OK);
	CU_ASSERT_EQUAL(ctl(sock_path, false, NULL, "secret", "del", NULL), CTL_EXIT_USAGE);
	CU_ASSERT_EQUAL(ctl(sock_path, false, NULL, "secret", "del", "a", "b", NULL),
			CTL_EXIT_USAGE);
}

static void test_limit(void)
{
	char f1[512], id[16];

	flush();
	file_with(f1, sizeof(f1), "s1", S1 "\n");
	for (int i = 0; i < TURN_REST_SECRETS; i++) {
		snprintf(id, sizeof(id), "k%d", i);
		CU_ASSERT_EQUAL(
		    ctl(sock_path, false, NULL, "secret", "add", id, "--from-file", f1, NULL),
		    CTL_EXIT_OK);
	}
	/* the dataplane would not try a ninth: refused, but replacing one still works */
	CU_ASSERT_EQUAL(ctl(sock_path, false, NULL, "secret", "add", "k9", "--from-file", f1, NULL),
			CTL_EXIT_ERR);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "8 secrets already"));
	CU_ASSERT_PTR_NULL(hget(PR_KS_TURN_SECRETS_KEY, "k9"));
	CU_ASSERT_EQUAL(ctl(sock_path, false, NULL, "secret", "add", "k0", "--from-file", f1,
			    "--replace", NULL),
			CTL_EXIT_OK);
}

static void test_audit(void)
{
	struct pr_ks_audit a[64];
	bool add = false, del = false, list = false, refused = false;
	int n;

	test_add(); /* a known history: adds, a duplicate, refusals */
	CU_ASSERT_EQUAL(ctl(sock_path, false, NULL, "secret", "list", NULL), CTL_EXIT_OK);
	CU_ASSERT_EQUAL(ctl(sock_path, false, NULL, "secret", "del", "b", NULL), CTL_EXIT_OK);
	n = pr_ks_audit_list(R, a, 64);
	CU_ASSERT_FATAL(n > 5);
	for (int i = 0; i < n; i++) {
		CU_ASSERT_STRING_EQUAL(a[i].actor, "ctl:unit");
		add |= !strcmp(a[i].action, "turn.secret.add") &&
		       !strcmp(a[i].object, "turn_secret:2026-11") && !strcmp(a[i].result, "ok");
		refused |= !strcmp(a[i].action, "turn.secret.add") &&
			   !strcmp(a[i].object, "turn_secret:2026-11") &&
			   !strcmp(a[i].result, "EEXIST");
		del |= !strcmp(a[i].action, "turn.secret.del") &&
		       !strcmp(a[i].object, "turn_secret:b") && !strcmp(a[i].result, "ok");
		list |= !strcmp(a[i].action, "turn.secret.list");
		CU_ASSERT_PTR_NULL(strstr(a[i].detail, S1));
		CU_ASSERT_PTR_NULL(strstr(a[i].detail, S2));
		CU_ASSERT_PTR_NULL(strstr(a[i].object, S1));
	}
	CU_ASSERT(add && refused && del && list);
}

static void test_redis_down(void)
{
	CU_ASSERT_EQUAL(ctl("/nonexistent/redis.sock", false, NULL, "secret", "list", NULL),
			CTL_EXIT_DOWN);
	CU_ASSERT_EQUAL(ctl("/nonexistent/redis.sock", false, NULL, "secret", "del", "x", NULL),
			CTL_EXIT_DOWN);
	CU_ASSERT_EQUAL(
	    ctl("/nonexistent/redis.sock", false, S1 "\n", "secret", "add", "x", "--stdin", NULL),
	    CTL_EXIT_DOWN);
}

static int suite_init(void)
{
	if (test_redis_start("ctl-turn", 120, sock_path, sizeof(sock_path)) < 0)
		return -1;
	return pr_redis_connect(&R, sock_path, 2000) == 0 ? 0 : -1;
}

static int suite_clean(void)
{
	pr_redis_close(R);
	R = NULL;
	test_redis_stop();
	return 0;
}

int main(void)
{
	CU_pSuite s;
	unsigned failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("turn secret bounds", NULL, NULL);
	CU_add_test(s, "the dataplane's bounds", test_bounds);
	CU_add_test(s, "redis down", test_redis_down);
	if (system("command -v redis-server >/dev/null 2>&1") == 0) {
		s = CU_add_suite("poprelayctl turn secret", suite_init, suite_clean);
		CU_add_test(s, "add", test_add);
		CU_add_test(s, "generate", test_generate);
		CU_add_test(s, "list and del", test_list_del);
		CU_add_test(s, "at most the dataplane's number", test_limit);
		CU_add_test(s, "audit", test_audit);
	} else {
		printf("SKIP: redis-server not installed\n");
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_tests_failed() + CU_get_number_of_failures() +
		 CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
