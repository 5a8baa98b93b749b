/* SPDX-License-Identifier: BSD-3-Clause */
/* The front <-> dataplane record rings (common/fring.h): round trips with the payload in two
 * parts, the wrap (a skip record, or the bare 8-byte marker when fewer than a header's bytes
 * are left), a full ring refusing, and each side judging what the other side can write: a
 * consumer facing a length past its cap or past head, an unknown kind, or head - tail past
 * the ring's size gets -1; a producer whose tail was moved past its head writes nothing, and
 * a head that is not a multiple of 8 never makes it write past the ring's end. */
#include <CUnit/Basic.h>
#include <string.h>

#include "common/fring.h"

#define RB    256u /* ring bytes: small, so that a few records wrap it */
#define GUARD 64u  /* bytes after the ring's data that nothing may write */

static union {
	struct pr_fring r;
	uint8_t b[sizeof(struct pr_fring) + RB + GUARD];
} mem __attribute__((aligned(64)));
static struct pr_fring *const r = &mem.r;

static void ring_reset(void)
{
	memset(&mem, 0xA5, sizeof(mem));
	r->head = 0;
	r->tail = 0;
}

static bool guard_intact(void)
{
	for (unsigned i = 0; i < GUARD; i++)
		if (r->data[RB + i] != 0xA5)
			return false;
	return true;
}

static struct pr_frec hdr(uint8_t kind, uint16_t cli_port)
{
	struct pr_frec h;
	memset(&h, 0, sizeof(h));
	h.kind = kind;
	h.proto = 2;
	h.fam = 4;
	h.cli_port = cli_port;
	h.srv_port = 5349;
	memcpy(h.cli_ip, (uint8_t[]){192, 0, 2, 7}, 4);
	memcpy(h.srv_ip, (uint8_t[]){198, 51, 100, 10}, 4);
	return h;
}

/* A payload of len bytes, byte i = seed + i. */
static void fill(uint8_t *p, uint32_t len, uint8_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i);
}

/* Puts one record of len bytes (split at len / 3) and gets it back whole. */
static void put_get(uint32_t len, uint8_t seed, uint16_t port)
{
	uint8_t in[PR_FRING_MAX_MSG], out[PR_FRING_MAX_MSG];
	struct pr_frec h = hdr(PR_FREC_MSG, port), g;
	fill(in, len, seed);
	CU_ASSERT_TRUE_FATAL(pr_fring_put(r, RB, &h, in, len / 3, in + len / 3, len - len / 3));
	memset(&g, 0xEE, sizeof(g));
	memset(out, 0, sizeof(out));
	CU_ASSERT_EQUAL_FATAL(pr_fring_get(r, RB, &g, out, sizeof(out)), 1);
	CU_ASSERT_EQUAL(g.len, len);
	CU_ASSERT_EQUAL(g.kind, PR_FREC_MSG);
	CU_ASSERT_EQUAL(g.cli_port, port);
	CU_ASSERT_EQUAL(memcmp(out, in, len), 0);
}

static void round_trip(void)
{
	uint8_t out[64];
	struct pr_frec h = hdr(PR_FREC_MSG, 40000), g;

	ring_reset();
	CU_ASSERT_TRUE(pr_fring_empty(r));
	CU_ASSERT_EQUAL(pr_fring_get(r, RB, &g, out, sizeof(out)), 0);
	CU_ASSERT_TRUE(pr_fring_put(r, RB, &h, "abc", 3, "defgh", 5));
	CU_ASSERT_FALSE(pr_fring_empty(r));
	CU_ASSERT_EQUAL(r->head, pr_frec_size(8));
	CU_ASSERT_EQUAL(r->head % 8, 0);
	CU_ASSERT_EQUAL(pr_fring_get(r, RB, &g, out, sizeof(out)), 1);
	CU_ASSERT_EQUAL(g.len, 8);
	CU_ASSERT_EQUAL(memcmp(out, "abcdefgh", 8), 0);
	CU_ASSERT_EQUAL(g.kind, PR_FREC_MSG);
	CU_ASSERT_EQUAL(g.proto, 2);
	CU_ASSERT_EQUAL(g.fam, 4);
	CU_ASSERT_EQUAL(g.cli_port, 40000);
	CU_ASSERT_EQUAL(g.srv_port, 5349);
	CU_ASSERT_EQUAL(memcmp(g.cli_ip, h.cli_ip, 16), 0);
	CU_ASSERT_EQUAL(memcmp(g.srv_ip, h.srv_ip, 16), 0);
	CU_ASSERT_EQUAL(r->tail, r->head);
	CU_ASSERT_TRUE(pr_fring_empty(r));
	CU_ASSERT_EQUAL(pr_fring_get(r, RB, &g, out, sizeof(out)), 0);

	/* padding written by the ring (a Data indication's): zeros after the two parts, over
	 * whatever the ring held there before */
	memset(r->data, 0xAA, RB);
	CU_ASSERT_TRUE(pr_fring_put_pad(r, RB, &h, "abc", 3, "de", 2, 3));
	memset(out, 0x55, sizeof(out));
	CU_ASSERT_EQUAL(pr_fring_get(r, RB, &g, out, sizeof(out)), 1);
	CU_ASSERT_EQUAL(g.len, 8);
	CU_ASSERT_EQUAL(memcmp(out, "abcde\0\0\0", 8), 0);

	/* only the first part, only the second, and a GONE with no payload at all */
	CU_ASSERT_TRUE(pr_fring_put(r, RB, &h, "xyz", 3, NULL, 0));
	CU_ASSERT_TRUE(pr_fring_put(r, RB, &h, NULL, 0, "uvw", 3));
	struct pr_frec gone = hdr(PR_FREC_GONE, 40001);
	CU_ASSERT_TRUE(pr_fring_put(r, RB, &gone, NULL, 0, NULL, 0));
	CU_ASSERT_EQUAL(pr_fring_get(r, RB, &g, out, sizeof(out)), 1);
	CU_ASSERT_EQUAL(g.len, 3);
	CU_ASSERT_EQUAL(memcmp(out, "xyz", 3), 0);
	CU_ASSERT_EQUAL(pr_fring_get(r, RB, &g, out, sizeof(out)), 1);
	CU_ASSERT_EQUAL(g.len, 3);
	CU_ASSERT_EQUAL(memcmp(out, "uvw", 3), 0);
	CU_ASSERT_EQUAL(pr_fring_get(r, RB, &g, out, sizeof(out)), 1);
	CU_ASSERT_EQUAL(g.kind, PR_FREC_GONE);
	CU_ASSERT_EQUAL(g.len, 0);
	CU_ASSERT_EQUAL(g.cli_port, 40001);
	CU_ASSERT_EQUAL(pr_fring_get(r, RB, &g, out, sizeof(out)), 0);

	/* many laps of the ring with every payload size that always fits an empty ring (a
	 * record of at most half of it: the wrap's skip is never bigger than what is left),
	 * payloads intact, nothing written past the end */
	ring_reset();
	for (uint32_t i = 0; i < 2000; i++)
		put_get(i % (RB / 2 - sizeof(struct pr_frec) + 1), (uint8_t)i, (uint16_t)i);
	CU_ASSERT_TRUE(guard_intact());
	CU_ASSERT_TRUE(pr_fring_empty(r));
}

/* Fewer bytes than the record left before the end but room for a whole header: a SKIP
 * record header fills them and the record starts at 0. */
static void wrap_skip_record(void)
{
	uint8_t in[256], out[256];
	struct pr_frec h = hdr(PR_FREC_MSG, 1), g;

	ring_reset();
	put_get(100, 1, 1); /* 144 bytes: head = tail = 144, 112 left before the end */
	CU_ASSERT_EQUAL(r->tail, 144);
	fill(in, 100, 7);
	CU_ASSERT_TRUE_FATAL(pr_fring_put(r, RB, &h, in, 60, in + 60, 40));
	CU_ASSERT_EQUAL(r->head, 144 + 112 + 144);
	struct pr_frec skip;
	memcpy(&skip, r->data + 144, sizeof(skip));
	CU_ASSERT_EQUAL(skip.kind, PR_FREC_SKIP);
	CU_ASSERT_EQUAL(pr_fring_get(r, RB, &g, out, sizeof(out)), 1);
	CU_ASSERT_EQUAL(g.len, 100);
	CU_ASSERT_EQUAL(memcmp(out, in, 100), 0);
	CU_ASSERT_EQUAL(r->tail, r->head);
	CU_ASSERT_TRUE(guard_intact());
}

/* Fewer than a header's 44 bytes left: only the first 8 bytes (len, kind = SKIP) are
 * written, and the consumer skips the rest without reading a header there. */
static void wrap_bare_marker(void)
{
	uint8_t in[64], out[64];
	struct pr_frec h = hdr(PR_FREC_MSG, 2), g;

	ring_reset();
	put_get(172, 3, 2); /* 216 bytes: 40 left before the end */
	CU_ASSERT_EQUAL(r->tail, 216);
	CU_ASSERT_TRUE(RB - 216 < sizeof(struct pr_frec));
	fill(in, 10, 9);
	CU_ASSERT_TRUE_FATAL(pr_fring_put(r, RB, &h, in, 4, in + 4, 6));
	CU_ASSERT_EQUAL(r->head, 216 + 40 + pr_frec_size(10));
	for (unsigned i = 216; i < 224; i++)
		CU_ASSERT_EQUAL(r->data[i], 0); /* the marker: len 0, kind SKIP */
	for (unsigned i = 224; i < RB; i++)
		CU_ASSERT_EQUAL(r->data[i], 0xA5); /* nothing beyond the marker's 8 bytes */
	/* even a marker region that holds a plausible-looking header is not read */
	struct pr_frec bogus = hdr(PR_FREC_MSG, 9);
	bogus.len = 1000;
	memcpy(r->data + 216, &bogus, 8); /* kind MSG and len 1000 where the marker was */
	CU_ASSERT_EQUAL(pr_fring_get(r, RB, &g, out, sizeof(out)), 1);
	CU_ASSERT_EQUAL(g.len, 10);
	CU_ASSERT_EQUAL(g.cli_port, 2);
	CU_ASSERT_EQUAL(memcmp(out, in, 10), 0);
	CU_ASSERT_EQUAL(r->tail, r->head);
	CU_ASSERT_TRUE(guard_intact());
}

static void full_refuses(void)
{
	uint8_t in[PR_FRING_MAX_MSG + 1], out[256];
	struct pr_frec h = hdr(PR_FREC_MSG, 3), g;

	ring_reset();
	fill(in, sizeof(in), 0);
	int n = 0;
	while (pr_fring_put(r, RB, &h, in, 20, NULL, 0))
		n++;
	CU_ASSERT_EQUAL(n, RB / pr_frec_size(20)); /* 64-byte records: 4 fill it exactly */
	uint32_t head = r->head;
	CU_ASSERT_FALSE(pr_fring_room(r, RB, 0));
	CU_ASSERT_FALSE(pr_fring_put(r, RB, &h, in, 0, NULL, 0));
	CU_ASSERT_EQUAL(r->head, head); /* a refusal writes nothing */

	/* one record consumed: room for one of its size, not for one bigger */
	CU_ASSERT_EQUAL(pr_fring_get(r, RB, &g, out, sizeof(out)), 1);
	CU_ASSERT_FALSE(pr_fring_put(r, RB, &h, in, 21, NULL, 0));
	CU_ASSERT_TRUE(pr_fring_put(r, RB, &h, in, 20, NULL, 0));
	CU_ASSERT_FALSE(pr_fring_put(r, RB, &h, in, 0, NULL, 0));

	/* a record that would fit the free bytes but not with the wrap's skip: 160 free, a
	 * 152-byte record at offset 240 needs the 16 bytes before the end too */
	ring_reset();
	put_get(100, 0, 3);
	CU_ASSERT_TRUE_FATAL(pr_fring_put(r, RB, &h, in, 52, NULL, 0)); /* 96 at 144..239 */
	CU_ASSERT_EQUAL(r->head, 240);
	CU_ASSERT_FALSE(pr_fring_room(r, RB, 108)); /* 16 + 152 > 160 */
	CU_ASSERT_FALSE(pr_fring_put(r, RB, &h, in, 108, NULL, 0));
	CU_ASSERT_EQUAL(r->head, 240);
	CU_ASSERT_TRUE(pr_fring_put(r, RB, &h, in, 60, NULL, 0)); /* 16 + 104 <= 160 */

	/* longer than a record may be, whatever the room */
	static union {
		struct pr_fring r;
		uint8_t b[sizeof(struct pr_fring) + 16384];
	} big;
	memset(&big, 0, sizeof(big));
	CU_ASSERT_FALSE(pr_fring_put(&big.r, 16384, &h, in, PR_FRING_MAX_MSG + 1, NULL, 0));
	CU_ASSERT_FALSE(pr_fring_put(&big.r, 16384, &h, in, PR_FRING_MAX_MSG, in, 1));
	CU_ASSERT_EQUAL(big.r.head, 0);
	CU_ASSERT_TRUE(pr_fring_put(&big.r, 16384, &h, in, PR_FRING_MAX_MSG, NULL, 0));
	CU_ASSERT_TRUE(guard_intact());
}

/* What a hostile or broken producer can leave in the ring: the consumer refuses it with -1
 * and consumes nothing. */
static void consumer_garbage(void)
{
	uint8_t out[256];
	struct pr_frec h = hdr(PR_FREC_MSG, 4), g;

	/* a length past the consumer's cap */
	ring_reset();
	CU_ASSERT_TRUE(pr_fring_put(r, RB, &h, out, 100, NULL, 0));
	CU_ASSERT_EQUAL(pr_fring_get(r, RB, &g, out, 99), -1);
	CU_ASSERT_EQUAL(r->tail, 0);
	CU_ASSERT_EQUAL(pr_fring_get(r, RB, &g, out, 100), 1); /* exactly the cap is fine */

	/* a length past what was published: head covers 48 bytes, the header claims 100 */
	ring_reset();
	CU_ASSERT_TRUE(pr_fring_put(r, RB, &h, NULL, 0, NULL, 0));
	CU_ASSERT_EQUAL(r->head, 48);
	((struct pr_frec *)r->data)->len = 100;
	CU_ASSERT_EQUAL(pr_fring_get(r, RB, &g, out, sizeof(out)), -1);
	CU_ASSERT_EQUAL(r->tail, 0);

	/* a record that claims to run past the ring's end (it never wraps) */
	ring_reset();
	r->head = r->tail = 200;
	struct pr_frec *d = (struct pr_frec *)(r->data + 200);
	memcpy(d, &h, sizeof(h)); /* 44 bytes fit in the 56 before the end */
	d->len = 100;		  /* 144 bytes: past the end */
	r->head = 200 + 200;
	CU_ASSERT_EQUAL(pr_fring_get(r, RB, &g, out, sizeof(out)), -1);
	CU_ASSERT_EQUAL(r->tail, 200);

	/* a SKIP record that claims more than was published */
	ring_reset();
	r->head = r->tail = 128;
	memset(r->data + 128, 0, sizeof(struct pr_frec)); /* kind SKIP: to the end, 128 */
	r->head = 128 + 64;
	CU_ASSERT_EQUAL(pr_fring_get(r, RB, &g, out, sizeof(out)), -1);
	CU_ASSERT_EQUAL(r->tail, 128);
	r->head = 128 + 128 + 48; /* the same SKIP, honestly published with a record after */
	memcpy(r->data, &h, sizeof(h));
	((struct pr_frec *)r->data)->len = 0;
	CU_ASSERT_EQUAL(pr_fring_get(r, RB, &g, out, sizeof(out)), 1);

	/* unknown kinds */
	for (unsigned k = PR_FREC_GONE + 1; k < 256; k += 37) {
		ring_reset();
		CU_ASSERT_TRUE(pr_fring_put(r, RB, &h, "abcd", 4, NULL, 0));
		((struct pr_frec *)r->data)->kind = (uint8_t)k;
		CU_ASSERT_EQUAL(pr_fring_get(r, RB, &g, out, sizeof(out)), -1);
		CU_ASSERT_EQUAL(r->tail, 0);
	}

	/* head - tail larger than the ring (or free-running head behind tail), or not a
	 * multiple of 8 */
	ring_reset();
	CU_ASSERT_TRUE(pr_fring_put(r, RB, &h, "abcd", 4, NULL, 0));
	r->head = RB + 8;
	CU_ASSERT_EQUAL(pr_fring_get(r, RB, &g, out, sizeof(out)), -1);
	r->tail = 64;
	r->head = 8; /* behind tail: head - tail wraps to nearly 4 GiB */
	CU_ASSERT_EQUAL(pr_fring_get(r, RB, &g, out, sizeof(out)), -1);
	r->tail = 0;
	r->head = 52; /* a record's 48 bytes and 4 more */
	CU_ASSERT_EQUAL(pr_fring_get(r, RB, &g, out, sizeof(out)), -1);
	r->head = RB;			  /* exactly a full ring is honest */
	memset(r->data + 48, 0, RB - 48); /* SKIP to the end after the record */
	CU_ASSERT_EQUAL(pr_fring_get(r, RB, &g, out, sizeof(out)), 1);
	CU_ASSERT_EQUAL(pr_fring_get(r, RB, &g, out, sizeof(out)), 0);
	CU_ASSERT_EQUAL(r->tail, RB);
	CU_ASSERT_TRUE(guard_intact());
}

/* The consumer writes tail, and it can move it anywhere: a producer that sees its tail past
 * its head (or a head it did not leave) must not write outside the ring. */
static void producer_hostile_tail(void)
{
	struct pr_frec h = hdr(PR_FREC_MSG, 5);
	uint8_t in[128];
	fill(in, sizeof(in), 0);

	ring_reset();
	CU_ASSERT_TRUE(pr_fring_put(r, RB, &h, in, 16, NULL, 0));
	uint32_t head = r->head;
	for (uint32_t past = 8; past <= 4 * RB; past += 8) {
		r->tail = head + past;
		CU_ASSERT_FALSE(pr_fring_room(r, RB, 0));
		CU_ASSERT_FALSE(pr_fring_put(r, RB, &h, in, 0, NULL, 0));
		CU_ASSERT_EQUAL(r->head, head);
	}
	r->tail = head + 0x80000000u;
	CU_ASSERT_FALSE(pr_fring_put(r, RB, &h, in, 0, NULL, 0));
	CU_ASSERT_EQUAL(r->head, head);

	/* head is ours, but in shared memory: one left at any offset (here, not a multiple of
	 * 8 and near the end) never makes a put write past the ring, and what it writes is a
	 * record the consumer reads */
	for (uint32_t off = RB - 16; off < RB + 8; off++) {
		uint8_t out[64];
		struct pr_frec g;
		ring_reset();
		r->head = off;
		r->tail = off & ~7u;
		CU_ASSERT_TRUE(pr_fring_put(r, RB, &h, in, 10, NULL, 0));
		CU_ASSERT_EQUAL(r->head % 8, 0);
		CU_ASSERT_TRUE(guard_intact());
		CU_ASSERT_EQUAL(pr_fring_get(r, RB, &g, out, sizeof(out)), 1);
		CU_ASSERT_EQUAL(g.len, 10);
		CU_ASSERT_EQUAL(memcmp(out, in, 10), 0);
	}
	CU_ASSERT_TRUE(guard_intact());
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite("fring", NULL, NULL);
	CU_add_test(s, "put/get round trips, payload in two parts", round_trip);
	CU_add_test(s, "wrap with a skip record", wrap_skip_record);
	CU_add_test(s, "wrap with the bare 8-byte marker", wrap_bare_marker);
	CU_add_test(s, "a full ring refuses", full_refuses);
	CU_add_test(s, "consumer: garbage from the producer gets -1", consumer_garbage);
	CU_add_test(s, "producer: a tail moved past its head", producer_hostile_tail);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
