/* SPDX-License-Identifier: BSD-3-Clause */
/* The runtime tunables the dataplane owns (pr_ks_tunables[]) agree with the configuration
 * keys they override: the key exists in a registered section, and its range and default are
 * the tunable's. A tunable with another range would let poprelayctl store what the file
 * refuses, or refuse what it takes. And docs/redis-keyspace.md documents every tunable
 * (both owners) as the table has it; test_sp_tunables compares the slowpath's with its
 * configuration. */
#include <CUnit/Basic.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/keyspace.h"
#include "dataplane/dp.h"
#include "dataplane/dp_config.h"

/* dp_main.c's, which this test does not link (the features refer to it) */
struct dp_runtime dp_rt;

static const struct dp_cfg_key *find_key(const char *cfg)
{
	char sec[64];
	const char *dot = strchr(cfg, '.');

	if (!dot || (size_t)(dot - cfg) >= sizeof(sec))
		return NULL;
	memcpy(sec, cfg, (size_t)(dot - cfg));
	sec[dot - cfg] = '\0';
	for (struct dp_cfg_section *s = dp_cfg_sections(); s; s = s->next) {
		if (strcmp(s->name, sec))
			continue;
		for (unsigned i = 0; i < s->nkeys; i++)
			if (!strcmp(s->keys[i].key, dot + 1))
				return &s->keys[i];
	}
	return NULL;
}

static void test_against_config(void)
{
	unsigned n = 0;

	for (size_t i = 0; i < pr_ks_tunables_n; i++) {
		const struct pr_ks_tunable_def *t = &pr_ks_tunables[i];
		if (strcmp(t->owner, "dataplane"))
			continue;
		n++;
		const struct dp_cfg_key *k = find_key(t->cfg);
		if (!k) {
			fprintf(stderr, "\n  %s: no configuration key %s\n", t->name, t->cfg);
			CU_FAIL("tunable without its configuration key");
			continue;
		}
		CU_ASSERT_EQUAL(k->type, DP_CFG_U32);
		if (k->min != t->min || k->max != t->max || !k->def || atoll(k->def) != t->def) {
			fprintf(stderr,
				"\n  %s: %" PRId64 "..%" PRId64 " default %" PRId64
				", but [%s] %u..%u default %s\n",
				t->name, t->min, t->max, t->def, t->cfg, k->min, k->max,
				k->def ? k->def : "(none)");
			CU_FAIL("tunable and configuration key disagree");
		}
	}
	CU_ASSERT(n >= 7);
}

/* docs/redis-keyspace.md's tunables table says what the table says: every tunable, its
 * owner, configuration key, range and default, and no row for a tunable that is not. */
static void test_against_keyspace_doc(void)
{
	FILE *f = fopen("docs/redis-keyspace.md", "r");
	char line[1024];
	bool seen[64] = {false};
	unsigned rows = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_FATAL(pr_ks_tunables_n <= 64);
	while (fgets(line, sizeof(line), f)) {
		char name[64], owner[32], sec[32], key[64];
		long long mn, mx, def;
		/* | `dp.burst_size` | dataplane | `[dataplane] burst_size` | 1 | 256 | 32 | ... */
		if (sscanf(line, "| `%63[^`]` | %31s | `[%31[^]]] %63[^`]` | %lld | %lld | %lld |",
			   name, owner, sec, key, &mn, &mx, &def) != 7)
			continue;
		rows++;
		const struct pr_ks_tunable_def *t = pr_ks_tunable_def(name);
		if (!t) {
			fprintf(stderr, "\n  docs/redis-keyspace.md: %s is no tunable\n", name);
			CU_FAIL("a documented tunable that does not exist");
			continue;
		}
		char cfg[128];
		snprintf(cfg, sizeof(cfg), "%s.%s", sec, key);
		seen[t - pr_ks_tunables] = true;
		if (strcmp(owner, t->owner) || strcmp(cfg, t->cfg) || mn != t->min ||
		    mx != t->max || def != t->def) {
			fprintf(stderr,
				"\n  docs/redis-keyspace.md: %s %s %s %lld..%lld default %lld, the "
				"table "
				"%s %s %" PRId64 "..%" PRId64 " default %" PRId64 "\n",
				name, owner, cfg, mn, mx, def, t->owner, t->cfg, t->min, t->max,
				t->def);
			CU_FAIL("docs/redis-keyspace.md and pr_ks_tunables[] disagree");
		}
	}
	fclose(f);
	for (size_t i = 0; i < pr_ks_tunables_n; i++)
		if (!seen[i]) {
			fprintf(stderr, "\n  docs/redis-keyspace.md: no row for %s\n",
				pr_ks_tunables[i].name);
			CU_FAIL("an undocumented tunable");
		}
	CU_ASSERT_EQUAL(rows, pr_ks_tunables_n);
}

int main(void)
{
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("dp_tunables", NULL, NULL);
	CU_add_test(s, "every dataplane tunable matches its configuration key",
		    test_against_config);
	CU_add_test(s, "docs/redis-keyspace.md documents every tunable as the table has it",
		    test_against_keyspace_doc);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
