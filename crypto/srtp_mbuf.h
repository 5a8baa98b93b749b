/* crypto/srtp_mbuf.h — header-only glue between DPDK mbufs and the SRTP burst API, for the
 * dataplane. The library itself does not use DPDK; only code that includes this header
 * does. Single-segment mbufs only (the relay's RX mbufs are; chained ones are refused). */
#ifndef PR_CRYPTO_SRTP_MBUF_H
#define PR_CRYPTO_SRTP_MBUF_H

#include <errno.h>

#include <rte_mbuf.h>

#include "crypto/srtp.h"

/* Points p at the RTP/RTCP packet that starts off bytes into m's data (off: the L2 + L3 +
 * UDP header length); room covers m's tailroom. 0, or -EINVAL (chained mbuf, off past the
 * data). */
static inline int pr_srtp_pkt_from_mbuf(struct rte_mbuf *m, uint32_t off, struct pr_srtp_pkt *p)
{
	uint32_t room;

	if (m->nb_segs != 1 || off > m->data_len)
		return -EINVAL;
	p->data = rte_pktmbuf_mtod_offset(m, uint8_t *, off);
	p->len = (uint16_t)(m->data_len - off);
	room = (uint32_t)p->len + rte_pktmbuf_tailroom(m);
	p->room = (uint16_t)(room > 0xffff ? 0xffff : room);
	p->result = 0xff;
	return 0;
}

/* After a burst: makes m's lengths follow the packet's (longer after protect, shorter after
 * unprotect). Returns the change in bytes, for the caller's UDP and IP length fields. Call
 * it only for packets whose result is PR_SRTP_OK. */
static inline int pr_srtp_pkt_to_mbuf(struct rte_mbuf *m, uint32_t off, const struct pr_srtp_pkt *p)
{
	int delta = (int)(off + p->len) - (int)m->data_len;

	m->data_len = (uint16_t)(off + p->len);
	m->pkt_len = (uint32_t)((int)m->pkt_len + delta);
	return delta;
}

#endif
