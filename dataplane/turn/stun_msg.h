/* SPDX-License-Identifier: BSD-3-Clause */
/* STUN/TURN message codec (RFC 8489, RFC 8656, RFC 6156) and ChannelData framing.
 * Pure C, no DPDK, no crypto: integrity and fingerprint values are computed by the
 * caller over the byte ranges this codec reports. Used by the control lcore (requests)
 * and by the workers (Send/Data indications, ChannelData). Thread-safe: no globals. */
#ifndef POPRELAY_TURN_STUN_MSG_H
#define POPRELAY_TURN_STUN_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define STUN_HDR_LEN	 20
#define STUN_MAGIC	 0x2112A442u
#define STUN_MAX_ATTRS	 40
#define STUN_MAX_UNKNOWN 8
#define STUN_FP_XOR	 0x5354554eu

/* Methods */
#define STUN_BINDING	       0x001
#define TURN_ALLOCATE	       0x003
#define TURN_REFRESH	       0x004
#define TURN_SEND	       0x006
#define TURN_DATA	       0x007
#define TURN_CREATE_PERMISSION 0x008
#define TURN_CHANNEL_BIND      0x009

/* Classes */
#define STUN_REQUEST	0x0
#define STUN_INDICATION 0x1
#define STUN_SUCCESS	0x2
#define STUN_ERROR	0x3

/* Attributes */
#define STUN_A_MAPPED_ADDRESS		0x0001
#define STUN_A_USERNAME			0x0006
#define STUN_A_MESSAGE_INTEGRITY	0x0008
#define STUN_A_ERROR_CODE		0x0009
#define STUN_A_UNKNOWN_ATTRIBUTES	0x000A
#define TURN_A_CHANNEL_NUMBER		0x000C
#define TURN_A_LIFETIME			0x000D
#define TURN_A_XOR_PEER_ADDRESS		0x0012
#define TURN_A_DATA			0x0013
#define STUN_A_REALM			0x0014
#define STUN_A_NONCE			0x0015
#define TURN_A_XOR_RELAYED_ADDRESS	0x0016
#define TURN_A_REQUESTED_ADDR_FAMILY	0x0017
#define TURN_A_EVEN_PORT		0x0018
#define TURN_A_REQUESTED_TRANSPORT	0x0019
#define TURN_A_DONT_FRAGMENT		0x001A
#define STUN_A_MESSAGE_INTEGRITY_SHA256 0x001C
#define STUN_A_PASSWORD_ALGORITHM	0x001D
#define STUN_A_USERHASH			0x001E
#define STUN_A_XOR_MAPPED_ADDRESS	0x0020
#define TURN_A_RESERVATION_TOKEN	0x0022
#define TURN_A_ADDITIONAL_ADDR_FAMILY	0x8000
#define TURN_A_ADDRESS_ERROR_CODE	0x8001
#define STUN_A_PASSWORD_ALGORITHMS	0x8002
#define STUN_A_ALTERNATE_DOMAIN		0x8003
#define TURN_A_ICMP			0x8004
#define STUN_A_SOFTWARE			0x8022
#define STUN_A_ALTERNATE_SERVER		0x8023
#define STUN_A_FINGERPRINT		0x8028
#define STUN_A_RESPONSE_ORIGIN		0x802B
#define STUN_A_OTHER_ADDRESS		0x802C

#define STUN_PWALG_MD5	  0x0001
#define STUN_PWALG_SHA256 0x0002

/* Parse errors (negative errno-style, with the STUN error code they map to). */
enum stun_parse_err {
	STUN_OK = 0,
	STUN_E_NOT_STUN = -1,	  /* not a STUN message at all: drop silently */
	STUN_E_MALFORMED = -2,	  /* STUN, but invalid framing or attribute: 400 to a request */
	STUN_E_UNKNOWN_ATTR = -3, /* unknown comprehension-required attributes: 420 */
};

/* A transport address. IPv4 lives in ip[0..3]; ip[4..15] are zero. port in host order. */
/* The transport a client reaches a listener over (RFC 8656 3.1: UDP, TCP or TLS-over-TCP);
 * part of its 5-tuple. TCP and TLS clients come through the stream front
 * (dataplane/turn/turn_stream.h). */
enum { PR_TP_UDP = 0, PR_TP_TCP = 1, PR_TP_TLS = 2 };

/* "udp", "tcp", "tls" (the keyspace's transport field); "?" for anything else. */
static inline const char *turn_transport_name(unsigned tp)
{
	return tp == PR_TP_UDP ? "udp" : tp == PR_TP_TCP ? "tcp" : tp == PR_TP_TLS ? "tls" : "?";
}

/* The PR_TP_* of a transport name, or -1. */
static inline int turn_transport_parse(const char *s)
{
	for (int tp = PR_TP_UDP; tp <= PR_TP_TLS; tp++)
		if (strcmp(s, turn_transport_name((unsigned)tp)) == 0)
			return tp;
	return -1;
}

struct pr_taddr {
	uint8_t ip[16];
	uint16_t port;
	uint8_t fam;   /* 4 or 6; 0 = none */
	uint8_t proto; /* PR_TP_*: a client's transport (0 for peers and our relay addresses) */
};

/* Fill a pr_taddr with whole-word stores (the data path reads it back as words right away:
 * narrow stores under a wide load stall store forwarding). v4 is the address as it lies in
 * memory (network order). */
static inline void pr_taddr_set4(struct pr_taddr *t, uint32_t v4, uint16_t port)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t w0 = v4, w1 = 0;
	uint32_t tail = port | (uint32_t)4 << 16;
	memcpy(t->ip, &w0, 8);
	memcpy(t->ip + 8, &w1, 8);
	memcpy(&t->port, &tail, 4);
#else
	memset(t, 0, sizeof(*t));
	memcpy(t->ip, &v4, 4);
	t->port = port;
	t->fam = 4;
#endif
}

static inline void pr_taddr_set6(struct pr_taddr *t, const uint8_t ip[16], uint16_t port)
{
	memcpy(t->ip, ip, 16);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint32_t tail = port | (uint32_t)6 << 16;
	memcpy(&t->port, &tail, 4);
#else
	t->port = port;
	t->fam = 6;
	t->proto = 0;
#endif
}

struct stun_attr {
	uint16_t type;
	uint16_t len; /* value length, unpadded */
	uint16_t off; /* offset of the value from the start of the message */
};

/* A parsed message: views into the caller's buffer, which must outlive it. */
struct stun_msg {
	const uint8_t *buf;
	uint16_t total; /* header + body */
	uint16_t method;
	uint8_t cls;
	uint8_t n_attrs;
	uint8_t n_unknown;
	uint8_t tid[12];
	int16_t i_mi, i_mi256, i_fp; /* attribute index or -1 */
	uint16_t unknown[STUN_MAX_UNKNOWN];
	struct stun_attr attrs[STUN_MAX_ATTRS];
};

/* 0 if buf looks like STUN (top bits 00, magic cookie, length matches), else <0. Cheap:
 * what a worker uses to tell STUN from ChannelData and from garbage. */
int stun_sniff(const void *buf, size_t len);

/* Strict parse of one STUN message that must fill the whole datagram. Returns STUN_OK or
 * a stun_parse_err. On STUN_E_UNKNOWN_ATTR msg is fully filled and msg->unknown lists the
 * types for a 420's UNKNOWN-ATTRIBUTES. */
int stun_parse(struct stun_msg *msg, const void *buf, size_t len);

/* First attribute of type t or NULL. */
const struct stun_attr *stun_attr_find(const struct stun_msg *m, uint16_t t);
static inline const uint8_t *stun_attr_val(const struct stun_msg *m, const struct stun_attr *a)
{
	return m->buf + a->off;
}
/* The bytes MESSAGE-INTEGRITY(-SHA256) at attribute index idx covers, with the header
 * length adjusted to end after that attribute (RFC 8489 14.5), copied into tmp. Returns
 * the input length, or -ENOSPC when it does not fit in cap. */
int stun_integrity_input(const struct stun_msg *m, int idx, uint8_t *tmp, size_t cap);
/* XOR-*-ADDRESS / MAPPED-ADDRESS decoders: 0 or -EINVAL. */
int stun_attr_xaddr(const struct stun_msg *m, const struct stun_attr *a, struct pr_taddr *out);
uint32_t stun_attr_u32(const struct stun_msg *m, const struct stun_attr *a);

static inline uint16_t stun_msg_type(uint16_t method, uint8_t cls)
{
	return (uint16_t)((method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) |
			  ((cls & 1) << 4) | ((cls & 2) << 7));
}

/* Builder: writes into a caller buffer; every add returns 0 or -ENOSPC and a failed
 * builder stays failed (check b->err once at the end). */
struct stun_builder {
	uint8_t *buf;
	uint16_t cap;
	uint16_t len;
	int err;
};
void stun_b_init(struct stun_builder *b, void *buf, size_t cap, uint16_t method, uint8_t cls,
		 const uint8_t tid[12]);
int stun_b_attr(struct stun_builder *b, uint16_t type, const void *val, uint16_t len);
int stun_b_u32(struct stun_builder *b, uint16_t type, uint32_t v);
int stun_b_xaddr(struct stun_builder *b, uint16_t type, const struct pr_taddr *a);
int stun_b_error(struct stun_builder *b, int code, const char *reason);
int stun_b_unknown(struct stun_builder *b, const uint16_t *types, unsigned n);
/* Reserves an attribute of len bytes whose value the caller fills in after this call (for
 * MESSAGE-INTEGRITY*, FINGERPRINT): sets the header length to cover it and returns the
 * offset of the value, or -ENOSPC. The integrity input is buf[0 .. value offset - 4). */
int stun_b_reserve(struct stun_builder *b, uint16_t type, uint16_t len);

/* ChannelData (RFC 8656 section 12.4). */
#define TURN_CHAN_MIN	      0x4000
#define TURN_CHAN_MAX	      0x4FFF /* RFC 8656 12 */
#define TURN_CHAN_MAX_RFC5766 0x7FFF /* RFC 5766 11 (coturn's clients still use it) */
/* Returns the data length (payload at buf+4) or <0: -EINVAL when the channel number is
 * outside 0x4000-0x7FFF (the first two bits are not 01; which numbers are bound is the
 * tables' business), -EMSGSIZE when the length field runs past the datagram or the
 * datagram carries more than the padding to a multiple of 4. */
int turn_chandata_parse(const void *buf, size_t len, uint16_t *chan);
/* Writes the 4-byte header. No padding over UDP (RFC 8656 12.5). */
void turn_chandata_hdr(void *hdr, uint16_t chan, uint16_t len);

/* Address helpers */
int pr_taddr_from_str(struct pr_taddr *a, const char *ip, uint16_t port);
/* "1.2.3.4:5" or "[::1]:5"; returns the number of characters written like snprintf. */
int pr_taddr_fmt(const struct pr_taddr *a, char *out, size_t outlen);
bool pr_taddr_eq(const struct pr_taddr *a, const struct pr_taddr *b);

#endif
