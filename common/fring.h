/* SPDX-License-Identifier: BSD-3-Clause */
/* The stream front's channel to the dataplane: single-producer single-consumer rings of
 * variable-length records, in one shared memory region (a memfd the dataplane creates and
 * hands to poprelay-turnfront over a unix socket, docs/turn.md "TURN over TCP and TLS").
 *
 * Why not rte_ring: a DPDK secondary process maps the dataplane's whole hugepage memory
 * (every SRTP key, every mbuf), and the front parses what strangers send over TCP and TLS.
 * Here it maps only these rings. Each side copies a record out before it reads it, and
 * judges every header it reads from the other side as untrusted input.
 *
 * Region layout (offsets from its start, all fixed by struct pr_fring_region):
 *   header (one page): magic, version, counts, sizes, the front's want_wake flag and its
 *   figures (written by the front, read by the dataplane's telemetry);
 *   then n_in rings front -> dataplane (one per worker), then n_out rings dataplane ->
 *   front (one per worker, then the control lcore's), each PR_FRING_HDR + ring_bytes.
 *
 * A record: struct pr_frec, then len bytes, padded to 8. A producer writes a record whole,
 * then publishes head (release); the consumer reads head (acquire), copies, then publishes
 * tail (release). A record never wraps: when it does not fit before the end, a PR_FREC_SKIP
 * record (header only, or a bare 8-byte marker) fills the rest and the record starts at 0.
 * Header-only: no allocation, no system call. */
#ifndef POPRELAY_COMMON_FRING_H
#define POPRELAY_COMMON_FRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PR_FRING_MAGIC	 0x706f7046u /* "Fpop" */
#define PR_FRING_VERSION 1
#define PR_FRING_HDR	 128  /* head and tail, each on its own cache line */
#define PR_FRING_MAX_MSG 4096 /* payload bytes of one record, at most */

enum pr_frec_kind {
	PR_FREC_SKIP = 0, /* the rest of the ring up to its end is unused */
	PR_FREC_MSG = 1,  /* a STUN message or a ChannelData (unpadded) of the 5-tuple */
	PR_FREC_GONE = 2, /* front -> dataplane: the client closed the connection */
};

/* The 5-tuple of a client connection as both sides name it: the client's address and our
 * listener's, family 4 or 6 (IPv4 in the first 4 bytes), transport PR_TP_TCP or PR_TP_TLS. */
struct pr_frec {
	uint16_t len; /* payload bytes after the header */
	uint8_t kind; /* enum pr_frec_kind */
	uint8_t proto;
	uint8_t fam;
	uint8_t _pad;
	uint16_t cli_port;
	uint16_t srv_port;
	uint16_t _pad2;
	uint8_t cli_ip[16];
	uint8_t srv_ip[16];
}; /* 44 bytes; records are padded to 8 */

struct pr_fring {
	volatile uint32_t head; /* producer: bytes written, free-running */
	uint8_t _c0[60];
	volatile uint32_t tail; /* consumer: bytes consumed, free-running */
	uint8_t _c1[60];
	uint8_t data[]; /* ring_bytes (a power of two, a multiple of 8) */
};

/* The front's figures, in the region's header: the dataplane's telemetry reports them under
 * /poprelay/turn/stats as stream_* (cumulative since the front attached). */
struct pr_fring_stats {
	uint64_t conns[3];	 /* accepted connections by PR_TP_* (index 1 TCP, 2 TLS) */
	uint64_t conns_open;	 /* open now */
	uint64_t refused_total;	 /* over max_connections */
	uint64_t refused_source; /* over max_per_source */
	uint64_t timeout_first;	 /* no valid STUN message in time (slowloris, stalled TLS) */
	uint64_t timeout_idle;	 /* nothing received for idle_timeout_s */
	uint64_t tls_failed;	 /* TLS handshake refused (version, suite, ALPN) */
	uint64_t bad_framing;	 /* neither STUN nor ChannelData: connection closed */
	uint64_t too_long;	 /* a message longer than the front accepts: closed */
	uint64_t rx_msgs[3], rx_bytes[3]; /* from clients, by PR_TP_* */
	uint64_t tx_msgs[3], tx_bytes[3]; /* to clients */
	uint64_t tx_dropped_slow;	  /* a client's output buffer full: dropped */
	uint64_t tx_no_conn;		  /* for a 5-tuple with no connection (closed) */
	uint64_t rx_dropped_ring;	  /* the ring toward the dataplane full: dropped */
};

/* What the dataplane sends a front on its socket as it accepts it, with the memfd and the
 * eventfd (SCM_RIGHTS); the region's header says the same sizes again. generation counts
 * the fronts that attached (for the logs of both sides). */
struct pr_fring_hello {
	uint32_t magic, version, n_in, n_out, ring_bytes, generation;
};

struct pr_fring_region {
	uint32_t magic, version;
	uint32_t n_in, n_out; /* rings front -> dataplane, dataplane -> front */
	uint32_t ring_bytes;  /* data bytes of each ring */
	uint32_t _pad0;
	volatile uint32_t want_wake; /* the front sleeps: a producer toward it signals */
	uint32_t _pad;
	struct pr_fring_stats st;
};

#define PR_FRING_REGION_HDR 4096

static inline size_t pr_fring_stride(uint32_t ring_bytes)
{
	return PR_FRING_HDR + (size_t)ring_bytes;
}

static inline size_t pr_fring_region_bytes(uint32_t n_in, uint32_t n_out, uint32_t ring_bytes)
{
	return PR_FRING_REGION_HDR + (size_t)(n_in + n_out) * pr_fring_stride(ring_bytes);
}

/* Ring i (0..n_in+n_out): the in rings first. */
static inline struct pr_fring *pr_fring_at(void *region, uint32_t ring_bytes, uint32_t i)
{
	return (struct pr_fring *)((uint8_t *)region + PR_FRING_REGION_HDR +
				   (size_t)i * pr_fring_stride(ring_bytes));
}

static inline uint32_t pr_frec_size(uint32_t len)
{
	return (uint32_t)((sizeof(struct pr_frec) + len + 7u) & ~7u);
}

/* Producer: room for a record of len bytes (counting the skip a wrap would need). */
static inline bool pr_fring_room(const struct pr_fring *r, uint32_t ring_bytes, uint32_t len)
{
	uint32_t head = r->head & ~7u, tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
	uint32_t need = pr_frec_size(len), off = head & (ring_bytes - 1), used = head - tail;
	if (off + need > ring_bytes)
		need += ring_bytes - off;
	/* (a consumer that moved its tail past our head gets nothing more) */
	return used <= ring_bytes && ring_bytes - used >= need;
}

/* Producer: writes the record (h's kind and 5-tuple, len taken from n1 + n2 + pad; the
 * payload the two parts p1 and p2 in order, then pad zero bytes). false when it does not fit
 * now (nothing written). */
static inline bool pr_fring_put_pad(struct pr_fring *r, uint32_t ring_bytes,
				    const struct pr_frec *h, const void *p1, uint32_t n1,
				    const void *p2, uint32_t n2, uint32_t pad)
{
	const uint32_t len = n1 + n2 + pad;
	if (len > PR_FRING_MAX_MSG || !pr_fring_room(r, ring_bytes, len))
		return false;
	/* (head is ours, but in memory the consumer can write: kept to a multiple of 8, a
	 * skip marker's 8 bytes always fit before the end) */
	uint32_t head = r->head & ~7u, off = head & (ring_bytes - 1);
	if (off + pr_frec_size(len) > ring_bytes) {
		/* a skip marker: a record header whose kind is SKIP, or (fewer than its bytes
		 * left) just the first 8 bytes, which hold len and kind */
		struct pr_frec skip;
		memset(&skip, 0, sizeof(skip));
		memcpy(r->data + off, &skip, ring_bytes - off < sizeof(skip) ? 8 : sizeof(skip));
		head += ring_bytes - off;
		off = 0;
	}
	struct pr_frec *d = (struct pr_frec *)(r->data + off);
	memcpy(d, h, sizeof(*d));
	d->len = (uint16_t)len;
	if (n1)
		memcpy(r->data + off + sizeof(*d), p1, n1);
	if (n2)
		memcpy(r->data + off + sizeof(*d) + n1, p2, n2);
	if (pad)
		memset(r->data + off + sizeof(*d) + n1 + n2, 0, pad);
	__atomic_store_n(&r->head, head + pr_frec_size(len), __ATOMIC_RELEASE);
	return true;
}

static inline bool pr_fring_put(struct pr_fring *r, uint32_t ring_bytes, const struct pr_frec *h,
				const void *p1, uint32_t n1, const void *p2, uint32_t n2)
{
	return pr_fring_put_pad(r, ring_bytes, h, p1, n1, p2, n2, 0);
}

/* Consumer: the next record, copied into *h and buf (cap bytes). 1: a record; 0: empty;
 * -1: the ring holds something no honest producer writes (a length past the cap or past
 * what was published, an unknown kind): the consumer should stop using it. */
static inline int pr_fring_get(struct pr_fring *r, uint32_t ring_bytes, struct pr_frec *h,
			       uint8_t *buf, uint32_t cap)
{
	for (;;) {
		uint32_t tail = r->tail, head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
		uint32_t avail = head - tail, off = tail & (ring_bytes - 1);
		if (avail == 0)
			return 0;
		if (avail > ring_bytes || (avail & 7u))
			return -1;
		if (ring_bytes - off < sizeof(*h)) { /* a bare skip marker */
			__atomic_store_n(&r->tail, tail + (ring_bytes - off), __ATOMIC_RELEASE);
			continue;
		}
		memcpy(h, r->data + off, sizeof(*h));
		if (h->kind == PR_FREC_SKIP) {
			if (ring_bytes - off > avail)
				return -1;
			__atomic_store_n(&r->tail, tail + (ring_bytes - off), __ATOMIC_RELEASE);
			continue;
		}
		uint32_t sz = pr_frec_size(h->len);
		if (h->kind > PR_FREC_GONE || h->len > cap || sz > avail || off + sz > ring_bytes)
			return -1;
		memcpy(buf, r->data + off + sizeof(*h), h->len);
		__atomic_store_n(&r->tail, tail + sz, __ATOMIC_RELEASE);
		return 1;
	}
}

static inline bool pr_fring_empty(const struct pr_fring *r)
{
	return __atomic_load_n(&r->head, __ATOMIC_ACQUIRE) == r->tail;
}

#endif
