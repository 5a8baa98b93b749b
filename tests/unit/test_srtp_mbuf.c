/* tests/unit/test_srtp_mbuf.c — crypto/srtp_mbuf.h on hand-built mbufs (no EAL needed):
 * protect grows the mbuf into its tailroom, unprotect shrinks it back, no room is refused,
 * chained mbufs are refused. */
#include <string.h>

#include <CUnit/Basic.h>

#include "crypto/srtp_mbuf.h"

static uint8_t bufmem[2][2048] __attribute__((aligned(64)));

static void fake_mbuf(struct rte_mbuf *m, uint8_t *mem, uint16_t buf_len, uint16_t headroom,
		      uint16_t data_len)
{
	memset(m, 0, sizeof(*m));
	m->buf_addr = mem;
	m->buf_len = buf_len;
	m->data_off = headroom;
	m->data_len = data_len;
	m->pkt_len = data_len;
	m->nb_segs = 1;
}

static void test_round_trip(void)
{
	static const uint8_t key[16] = {1, 2, 3}, salt[14] = {4, 5, 6};
	struct pr_srtp_params p = {.profile = PR_SRTP_AES128_CM_SHA1_80,
				   .direction = PR_SRTP_SENDER,
				   .ssrc = 0x01020304,
				   .master_key = key,
				   .master_salt = salt};
	struct pr_srtp_ctx *tx, *rx;
	struct rte_mbuf m;
	struct pr_srtp_pkt pk;
	const uint32_t off = 42; /* Ethernet + IPv4 + UDP */
	uint8_t *rtp, plain[172];

	CU_ASSERT_EQUAL_FATAL(pr_srtp_ctx_create(&p, &tx), 0);
	p.direction = PR_SRTP_RECEIVER;
	CU_ASSERT_EQUAL_FATAL(pr_srtp_ctx_create(&p, &rx), 0);
	fake_mbuf(&m, bufmem[0], 2048, 128, (uint16_t)(off + 172));
	rtp = bufmem[0] + 128 + off;
	for (int i = 0; i < 172; i++)
		rtp[i] = (uint8_t)i;
	rtp[0] = 0x80;
	rtp[8] = 1, rtp[9] = 2, rtp[10] = 3, rtp[11] = 4;
	memcpy(plain, rtp, 172);

	CU_ASSERT_EQUAL(pr_srtp_pkt_from_mbuf(&m, off, &pk), 0);
	CU_ASSERT_PTR_EQUAL(pk.data, rtp);
	CU_ASSERT_EQUAL(pk.len, 172);
	CU_ASSERT_EQUAL(pk.room, 2048 - 128 - off);
	CU_ASSERT_EQUAL(pr_srtp_protect_burst(tx, &pk, 1), 1);
	CU_ASSERT_EQUAL(pr_srtp_pkt_to_mbuf(&m, off, &pk), 10);
	CU_ASSERT_EQUAL(m.data_len, off + 182);
	CU_ASSERT_EQUAL(m.pkt_len, off + 182);
	CU_ASSERT_NOT_EQUAL(memcmp(rtp, plain, 172), 0);

	CU_ASSERT_EQUAL(pr_srtp_pkt_from_mbuf(&m, off, &pk), 0);
	CU_ASSERT_EQUAL(pk.len, 182);
	CU_ASSERT_EQUAL(pr_srtp_unprotect_burst(rx, &pk, 1), 1);
	CU_ASSERT_EQUAL(pr_srtp_pkt_to_mbuf(&m, off, &pk), -10);
	CU_ASSERT_EQUAL(m.data_len, off + 172);
	CU_ASSERT_EQUAL(memcmp(rtp, plain, 172), 0);

	/* an mbuf with no tailroom: protect refuses, nothing written past the buffer */
	fake_mbuf(&m, bufmem[1], (uint16_t)(128 + off + 172), 128, (uint16_t)(off + 172));
	memcpy(bufmem[1] + 128 + off, plain, 172);
	CU_ASSERT_EQUAL(pr_srtp_pkt_from_mbuf(&m, off, &pk), 0);
	CU_ASSERT_EQUAL(pk.room, 172);
	CU_ASSERT_EQUAL(pr_srtp_protect_burst(tx, &pk, 1), 0);
	CU_ASSERT_EQUAL(pk.result, PR_SRTP_ERR_NO_ROOM);

	/* chained mbufs and offsets past the data are refused */
	m.nb_segs = 2;
	CU_ASSERT_EQUAL(pr_srtp_pkt_from_mbuf(&m, off, &pk), -EINVAL);
	m.nb_segs = 1;
	CU_ASSERT_EQUAL(pr_srtp_pkt_from_mbuf(&m, m.data_len + 1, &pk), -EINVAL);
	pr_srtp_ctx_destroy(tx);
	pr_srtp_ctx_destroy(rx);
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("srtp_mbuf", NULL, NULL);
	CU_add_test(s, "mbuf round trip", test_round_trip);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
	CU_cleanup_registry();
	pr_srtp_thread_fini();
	return fails ? 1 : 0;
}
