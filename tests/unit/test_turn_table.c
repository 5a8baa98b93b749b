/* SPDX-License-Identifier: BSD-3-Clause */
/* TURN tables: memory budget, publish/lookup/unpublish, relay ports, permissions and
 * channels, expiry, RCU-deferred slot reuse, hash rebuild under churn. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/turn/turn_table.h"

static void ft_make(struct turn_5tuple *ft, uint32_t n)
{
	memset(ft, 0, sizeof(*ft));
	ft->fam = 4;
	ft->cli_ip[0] = 198;
	ft->cli_ip[1] = 51;
	ft->cli_ip[2] = (uint8_t)(n >> 16);
	ft->cli_ip[3] = (uint8_t)(n >> 8);
	ft->cli_port = (uint16_t)(1024 + (n & 0xff));
	ft->srv_ip[0] = 192;
	ft->srv_ip[3] = 1;
	ft->srv_port = 3478;
}

static void test_budget(void)
{
	/* Issue budget: <= 1 KiB per allocation including its permissions and channels. */
	printf("\n    sizeof(struct turn_alloc) = %zu bytes (%d permissions, %d channels inline)\n",
	       sizeof(struct turn_alloc), TURN_MAX_PERMS, TURN_MAX_CHANS);
	CU_ASSERT(sizeof(struct turn_alloc) <= 1024);
	struct turn_table *t = turn_table_create(10000, 49152, 65535, NULL, NULL);
	CU_ASSERT_FATAL(t != NULL);
	size_t per = turn_table_bytes(t) / 10000;
	printf("    table for 10000 allocations: %zu bytes = %zu bytes per allocation\n",
	       turn_table_bytes(t), per);
	CU_ASSERT(per <= 1024);
	turn_table_destroy(t);
}

/* The 5-tuple hash is keyed per table: the same keys land elsewhere in another table (so
 * which 5-tuples collide is not known from the source), and each table finds its own. */
static void test_keyed_hash(void)
{
	struct turn_table *t1 = turn_table_create(64, 50000, 50099, NULL, NULL),
			  *t2 = turn_table_create(64, 50000, 50099, NULL, NULL);
	CU_ASSERT_FATAL(t1 && t2);
	unsigned same = 0;
	for (uint32_t i = 0; i < 16; i++) {
		struct turn_5tuple ft;
		ft_make(&ft, i);
		same += turn_table_hash(t1, &ft) == turn_table_hash(t2, &ft);
		CU_ASSERT_EQUAL(turn_table_hash(t1, &ft), turn_table_hash(t1, &ft));
	}
	CU_ASSERT(same < 2); /* 16 equal by chance: 2^-512 */
	CU_ASSERT(memcmp(turn_table_hash_key(t1), turn_table_hash_key(t2), 40) != 0);
	/* what the fast path computes from words equals the table's hash */
	struct turn_5tuple ft;
	uint64_t w[5];
	ft_make(&ft, 7);
	memcpy(w, &ft, 40);
	CU_ASSERT_EQUAL(turn_hash_words(w, turn_table_hash_key(t1)), turn_table_hash(t1, &ft));
	for (int k = 0; k < 2; k++) {
		struct turn_table *t = k ? t2 : t1;
		struct turn_alloc *a = turn_alloc_get(t);
		CU_ASSERT_FATAL(a != NULL);
		ft_make(&a->ft, 3);
		a->id = 1;
		CU_ASSERT_EQUAL_FATAL(turn_alloc_publish(t, a), 0);
		ft_make(&ft, 3);
		CU_ASSERT(turn_lookup_5tuple(t, &ft) == a);
	}
	turn_table_destroy(t1);
	turn_table_destroy(t2);
}

static void test_publish_lookup(void)
{
	struct turn_table *t = turn_table_create(64, 50000, 50099, NULL, NULL);
	CU_ASSERT_FATAL(t != NULL);
	struct turn_alloc *a[64];
	for (uint32_t i = 0; i < 64; i++) {
		a[i] = turn_alloc_get(t);
		CU_ASSERT_FATAL(a[i] != NULL);
		ft_make(&a[i]->ft, i);
		a[i]->relay_port[0] = turn_port_pick(t, 0, false, false);
		CU_ASSERT_FATAL(a[i]->relay_port[0] >= 50000 && a[i]->relay_port[0] <= 50099);
		a[i]->id = i + 1;
		CU_ASSERT_EQUAL_FATAL(turn_alloc_publish(t, a[i]), 0);
	}
	CU_ASSERT(turn_alloc_get(t) == NULL); /* pool exhausted */
	CU_ASSERT_EQUAL(turn_table_count(t), 64);
	for (uint32_t i = 0; i < 64; i++) {
		struct turn_5tuple ft;
		ft_make(&ft, i);
		CU_ASSERT(turn_lookup_5tuple(t, &ft) == a[i]);
		CU_ASSERT(turn_lookup_relay(t, 0, a[i]->relay_port[0]) == a[i]);
		CU_ASSERT(turn_lookup_relay(t, 1, a[i]->relay_port[0]) == NULL);
	}
	struct turn_5tuple ft;
	ft_make(&ft, 999);
	CU_ASSERT(turn_lookup_5tuple(t, &ft) == NULL);
	/* same 5-tuple twice is refused */
	turn_alloc_unpublish(t, a[5]);
	CU_ASSERT(turn_lookup_5tuple(t, &a[4]->ft) == a[4]);
	ft_make(&ft, 5);
	CU_ASSERT(turn_lookup_5tuple(t, &ft) == NULL);
	struct turn_alloc *b = turn_alloc_get(t);
	CU_ASSERT_FATAL(b != NULL); /* no RCU configured: reused at once */
	b->ft = a[4]->ft;
	CU_ASSERT_EQUAL(turn_alloc_publish(t, b), -EEXIST);
	turn_alloc_put(t, b);
	uint32_t idx = 0, n = 0;
	while (turn_alloc_next(t, &idx))
		n++;
	CU_ASSERT_EQUAL(n, 63);
	turn_table_destroy(t);
}

static uint64_t fake_epoch, fake_done;
static uint64_t fake_start(void *arg)
{
	(void)arg;
	return ++fake_epoch;
}
static int fake_check(void *arg, uint64_t token)
{
	(void)arg;
	return token <= fake_done;
}

static void test_rcu_deferral(void)
{
	struct turn_table *t = turn_table_create(2, 50000, 50001, NULL, NULL);
	struct turn_rcu_ops ops = {fake_start, fake_check, NULL};
	turn_table_set_rcu(t, &ops);
	fake_epoch = fake_done = 0;
	struct turn_alloc *a = turn_alloc_get(t), *b = turn_alloc_get(t);
	ft_make(&a->ft, 1);
	ft_make(&b->ft, 2);
	CU_ASSERT_EQUAL(turn_alloc_publish(t, a), 0);
	CU_ASSERT_EQUAL(turn_alloc_publish(t, b), 0);
	turn_alloc_unpublish(t, a);
	/* a reader that looked a up before still sees intact memory */
	CU_ASSERT(a->ft.cli_ip[0] == 198);
	CU_ASSERT(turn_alloc_get(t) == NULL); /* not reusable until the readers moved on */
	fake_done = fake_epoch;
	struct turn_alloc *c = turn_alloc_get(t);
	CU_ASSERT(c == a);
	turn_table_destroy(t);
}

static void test_ports(void)
{
	struct turn_table *t = turn_table_create(8, 50000, 50003, NULL, NULL);
	uint16_t p = turn_port_pick(t, 0, true, true);
	CU_ASSERT(p == 50000 || p == 50002);
	turn_port_hold(t, 0, p, true);
	turn_port_hold(t, 0, (uint16_t)(p + 1), true);
	uint16_t q = turn_port_pick(t, 0, true, true);
	CU_ASSERT(q == (p == 50000 ? 50002 : 50000));
	turn_port_hold(t, 0, q, true);
	CU_ASSERT_EQUAL(turn_port_pick(t, 0, true, false), 0); /* no even port left */
	CU_ASSERT_EQUAL(turn_port_pick(t, 0, false, false), q + 1);
	turn_port_hold(t, 0, (uint16_t)(q + 1), true);
	CU_ASSERT_EQUAL(turn_port_pick(t, 0, false, false), 0); /* exhausted */
	CU_ASSERT(turn_port_pick(t, 1, false, false) != 0);	/* the other family is separate */
	CU_ASSERT(!turn_port_free(t, 0, 49999));
	turn_table_destroy(t);
}

static void test_perms_chans(void)
{
	struct turn_table *t = turn_table_create(1, 50000, 50001, NULL, NULL);
	struct turn_alloc *a = turn_alloc_get(t);
	uint8_t p[16], q[16], v4[4] = {8, 8, 8, 8};
	turn_peer16(p, v4, 4);
	CU_ASSERT(p[10] == 0xff && p[11] == 0xff && p[12] == 8);
	memset(q, 0x20, 16);
	CU_ASSERT(!turn_perm_ok(a, p, 100));
	CU_ASSERT_EQUAL(turn_perm_set(a, p, 400), 0);
	CU_ASSERT(turn_perm_ok(a, p, 100));
	CU_ASSERT(!turn_perm_ok(a, p, 400));	      /* expired at its expiry second */
	CU_ASSERT_EQUAL(turn_perm_set(a, p, 500), 0); /* refresh, not a second entry */
	CU_ASSERT_EQUAL(a->n_perm, 1);
	for (int i = 1; i < TURN_MAX_PERMS; i++) {
		q[0] = (uint8_t)i;
		CU_ASSERT_EQUAL(turn_perm_set(a, q, 300 + i), 0);
	}
	q[0] = 0x99;
	CU_ASSERT_EQUAL(turn_perm_set(a, q, 300), -ENOSPC);

	uint8_t got[16];
	uint16_t port;
	CU_ASSERT_EQUAL(turn_chan_set(a, 0x4000, p, 5000, 700), 0);
	CU_ASSERT(turn_chan_peer(a, 0x4000, 100, got, &port) && port == 5000 &&
		  !memcmp(got, p, 16));
	CU_ASSERT_EQUAL(turn_chan_num(a, p, 5000, 100), 0x4000);
	CU_ASSERT_EQUAL(turn_chan_num(a, p, 5001, 100), 0);
	CU_ASSERT(!turn_chan_peer(a, 0x4001, 100, got, &port));
	/* RFC 8656 11.2: a number is bound to one peer, a peer to one number */
	CU_ASSERT_EQUAL(turn_chan_set(a, 0x4000, p, 5001, 700), -EINVAL);
	CU_ASSERT_EQUAL(turn_chan_set(a, 0x4001, p, 5000, 700), -EINVAL);
	CU_ASSERT_EQUAL(turn_chan_set(a, 0x4000, p, 5000, 800), 0); /* refresh */
	CU_ASSERT_EQUAL(a->n_chan, 1);
	for (int i = 1; i < TURN_MAX_CHANS; i++)
		CU_ASSERT_EQUAL(
		    turn_chan_set(a, (uint16_t)(0x4000 + i), p, (uint16_t)(6000 + i), 350), 0);
	CU_ASSERT_EQUAL(turn_chan_set(a, 0x4fff, p, 7000, 350), -ENOSPC);

	/* expiry: permissions 1..11 expire at 301..311, channels 1..11 at 350 */
	CU_ASSERT_EQUAL(turn_alloc_expire_entries(a, 300), 0);
	uint32_t seq = a->seq;
	CU_ASSERT_EQUAL(turn_alloc_expire_entries(a, 360),
			(TURN_MAX_PERMS - 1) + (TURN_MAX_CHANS - 1));
	CU_ASSERT_EQUAL(a->seq, seq + 2); /* compaction went through the seqlock */
	CU_ASSERT_EQUAL(a->n_perm, 1);
	CU_ASSERT_EQUAL(a->n_chan, 1);
	CU_ASSERT(turn_perm_ok(a, p, 360));
	CU_ASSERT_EQUAL(turn_chan_num(a, p, 5000, 360), 0x4000);
	turn_table_destroy(t);
}

/* The data path reads a channel's permission from the channel entry: it must follow
 * every change of the permission (set before or after the channel, refreshed, expired),
 * and a restore's directly filled arrays must be linked. */
static void test_chan_perm_link(void)
{
	struct turn_alloc *a = calloc(1, sizeof(*a));
	uint8_t p[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 5}, got[16];
	uint16_t port;
	bool ok = true;

	CU_ASSERT_EQUAL(turn_chan_set(a, 0x4000, p, 5000, 600), 0); /* no permission yet */
	CU_ASSERT_EQUAL(turn_chan_peer_perm(a, 0x4000, 100, got, &port), TURN_DROP_NO_PERMISSION);
	CU_ASSERT_EQUAL(turn_chan_num_perm(a, p, 5000, 100, &ok), 0x4000);
	CU_ASSERT_FALSE(ok);
	CU_ASSERT_EQUAL(turn_perm_set(a, p, 300), 0);
	CU_ASSERT_EQUAL(turn_chan_peer_perm(a, 0x4000, 100, got, &port), TURN_DROP_MAX);
	CU_ASSERT(port == 5000 && !memcmp(got, p, 16));
	CU_ASSERT_EQUAL(turn_chan_num_perm(a, p, 5000, 100, &ok), 0x4000);
	CU_ASSERT_TRUE(ok);
	/* the permission lapses before the channel (300 s against 600 s) */
	CU_ASSERT_EQUAL(turn_chan_peer_perm(a, 0x4000, 300, got, &port), TURN_DROP_NO_PERMISSION);
	CU_ASSERT_EQUAL(turn_perm_set(a, p, 700), 0); /* CreatePermission refreshes it */
	CU_ASSERT_EQUAL(turn_chan_peer_perm(a, 0x4000, 300, got, &port), TURN_DROP_MAX);
	CU_ASSERT_EQUAL(turn_chan_peer_perm(a, 0x4000, 600, got, &port), TURN_DROP_NO_CHANNEL);
	CU_ASSERT_EQUAL(turn_chan_num_perm(a, p, 5000, 600, &ok), 0);
	CU_ASSERT_EQUAL(turn_chan_peer_perm(a, 0x4001, 100, got, &port), TURN_DROP_NO_CHANNEL);
	/* a second channel to the same address (another port) shares the permission */
	CU_ASSERT_EQUAL(turn_chan_set(a, 0x4001, p, 5001, 900), 0);
	CU_ASSERT_EQUAL(turn_chan_peer_perm(a, 0x4001, 650, got, &port), TURN_DROP_MAX);
	CU_ASSERT_EQUAL(turn_chan_peer_perm(a, 0x4001, 700, got, &port), TURN_DROP_NO_PERMISSION);
	/* filled directly, as turn_server_restore gets it, then linked */
	memset(a, 0, sizeof(*a));
	memcpy(a->perm[0].ip, p, 16);
	a->perm[0].expires = 400;
	a->n_perm = 1;
	memcpy(a->chan[0].ip, p, 16);
	a->chan[0].port = 5000;
	a->chan[0].num = 0x4000;
	a->chan[0].expires = 600;
	a->n_chan = 1;
	CU_ASSERT_EQUAL(turn_chan_peer_perm(a, 0x4000, 100, got, &port), TURN_DROP_NO_PERMISSION);
	turn_alloc_link_chans(a);
	CU_ASSERT_EQUAL(turn_chan_peer_perm(a, 0x4000, 100, got, &port), TURN_DROP_MAX);
	free(a);
}

static void test_churn(void)
{
	/* Many create/delete cycles: tombstones trigger rebuilds, lookups stay exact. */
	struct turn_table *t = turn_table_create(100, 40000, 40999, NULL, NULL);
	struct turn_alloc *live[100] = {0};
	for (uint32_t round = 0; round < 5000; round++) {
		uint32_t k = (round * 37) % 100;
		if (live[k]) {
			turn_alloc_unpublish(t, live[k]);
			live[k] = NULL;
		} else {
			struct turn_alloc *a = turn_alloc_get(t);
			CU_ASSERT_FATAL(a != NULL);
			ft_make(&a->ft, k + 1000 * (round % 7));
			a->relay_port[0] = turn_port_pick(t, 0, false, false);
			CU_ASSERT_FATAL(turn_alloc_publish(t, a) == 0);
			live[k] = a;
		}
		if (round % 97 == 0) {
			for (uint32_t j = 0; j < 100; j++) {
				if (!live[j])
					continue;
				CU_ASSERT(turn_lookup_5tuple(t, &live[j]->ft) == live[j]);
				CU_ASSERT(turn_lookup_relay(t, 0, live[j]->relay_port[0]) ==
					  live[j]);
			}
		}
	}
	turn_table_destroy(t);
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite("turn_table", NULL, NULL);
	CU_add_test(s, "memory budget", test_budget);
	CU_add_test(s, "publish and lookup", test_publish_lookup);
	CU_add_test(s, "5-tuple hash keyed per table", test_keyed_hash);
	CU_add_test(s, "rcu deferral", test_rcu_deferral);
	CU_add_test(s, "relay ports", test_ports);
	CU_add_test(s, "permissions and channels", test_perms_chans);
	CU_add_test(s, "channel entries follow their permission", test_chan_perm_link);
	CU_add_test(s, "churn", test_churn);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
