/* SPDX-License-Identifier: BSD-3-Clause */
/* TURN data path for worker lcores: ChannelData and Send indications from clients,
 * datagrams from peers to relay ports. No locks, no allocation, no logging, no system
 * calls: every outcome is a forwarding decision or a counted drop. */
#include "dataplane/turn/turn_server.h"

#include <string.h>

#include "common/inet.h"
#include "crypto/stun_auth.h"
#include "dataplane/turn/turn_internal.h"

#define RELAXED __ATOMIC_RELAXED

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void count(uint64_t *c, uint64_t v)
{
	__atomic_fetch_add(c, v, RELAXED);
}

/* Client -> peer counters have one writer: RSS sends a client's 5-tuple to one worker
 * (docs/turn.md), so no locked instruction; readers still see whole 64-bit values. */
static inline void count1(uint64_t *c, uint64_t v)
{
	__atomic_store_n(c, __atomic_load_n(c, RELAXED) + v, RELAXED);
}

/* A datagram relayed client -> peer (one writer, see count1) and peer -> client (several
 * workers may relay to one client when cfg.shared_p2c_counters says so). */
static inline void count_c2p(struct turn_alloc *a, uint64_t bytes)
{
	count1(&a->st.pkts_c2p, 1);
	count1(&a->st.bytes_c2p, bytes);
}

static inline void count_p2c(const struct turn_server *s, struct turn_alloc *a, uint64_t bytes)
{
	if (s->cfg.shared_p2c_counters) {
		count(&a->st.pkts_p2c, 1);
		count(&a->st.bytes_p2c, bytes);
	} else {
		count1(&a->st.pkts_p2c, 1);
		count1(&a->st.bytes_p2c, bytes);
	}
}

/* Token bucket of rate bytes/s and a one-second burst; several workers may share it. */
static bool bw_take_limited(struct turn_alloc *a, uint32_t bytes, uint64_t now_us)
{
	uint64_t last = __atomic_load_n(&a->bw_last_us, RELAXED);
	if (now_us > last &&
	    __atomic_compare_exchange_n(&a->bw_last_us, &last, now_us, false, RELAXED, RELAXED)) {
		uint64_t dt = now_us - last;
		if (last == 0 || dt > 10000000)
			dt = 10000000;
		int64_t t = __atomic_add_fetch(&a->bw_tokens, (int64_t)(dt * a->bw_rate / 1000000),
					       RELAXED);
		if (t > (int64_t)a->bw_rate)
			__atomic_store_n(&a->bw_tokens, (int64_t)a->bw_rate, RELAXED);
	}
	if (__atomic_sub_fetch(&a->bw_tokens, (int64_t)bytes, RELAXED) < 0) {
		__atomic_add_fetch(&a->bw_tokens, (int64_t)bytes, RELAXED);
		return false;
	}
	return true;
}

/* The unlimited case inline: a call per relayed datagram for a test of one word. */
static inline bool bw_take(struct turn_alloc *a, uint32_t bytes, uint64_t now_us)
{
	return !a->bw_rate || bw_take_limited(a, bytes, now_us);
}

static inline void drop(struct turn_alloc *a, struct turn_fwd *f, enum turn_drop why)
{
	f->kind = TURN_FWD_DROP;
	f->drop = (uint8_t)why;
	if (a)
		count(&a->drops[why], 1);
}

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
#endif

/* The IPv4 address of a stored peer (::ffff:a.b.c.d, read as words), or false for IPv6. */
static inline bool peer16_v4_of(const uint8_t p16[16], uint32_t *v4)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t w0, w1;
	memcpy(&w0, p16, 8);
	memcpy(&w1, p16 + 8, 8);
	if (w0 != 0 || (uint32_t)w1 != 0xffff0000u)
		return false;
	*v4 = (uint32_t)(w1 >> 32);
	return true;
#else
	if (memcmp(p16, v4_mapped, 12) != 0)
		return false;
	memcpy(v4, p16 + 12, 4);
	return true;
#endif
}

static void peer_of16(struct pr_taddr *p, const uint8_t p16[16], uint16_t port)
{
	uint32_t v4;
	if (peer16_v4_of(p16, &v4))
		return pr_taddr_set4(p, v4, port);
	pr_taddr_set6(p, p16, port);
}

static void client_key(struct turn_5tuple *ft, const struct turn_ctx *c)
{
	uint64_t w[5];
	turn_5tuple_set16w(ft, w, c->cli.ip, c->cli.port, c->srv.ip, c->srv.port, c->cli.fam,
			   c->cli.proto);
}

/* The client's allocation: the burst's candidate when its key matches, else a lookup.
 * key: the 5-tuple the burst already built, or NULL. */
static struct turn_alloc *client_alloc(struct turn_server *s, const struct turn_ctx *c,
				       struct turn_alloc *hint, const struct turn_5tuple *key,
				       uint32_t now)
{
	struct turn_5tuple ft;
	if (!key) {
		client_key(&ft, c);
		key = &ft;
	}
	struct turn_alloc *a =
	    hint && turn_5tuple_eq(&hint->ft, key) ? hint : turn_lookup_5tuple(s->tbl, key);
	if (a && __atomic_load_n(&a->expires, RELAXED) <= now)
		return NULL;
	return a;
}

/* Common tail of client -> peer: family, permission, bucket, counters, addresses. */
static void to_peer(struct turn_server *s, struct turn_alloc *a, const struct pr_taddr *peer,
		    const uint8_t p16[16], bool perm_checked, uint16_t strip, uint16_t keep,
		    uint32_t now, uint64_t now_us, struct turn_fwd *f)
{
	int fi = peer->fam == 4 ? 0 : 1;
	if (!a->relay_port[fi])
		return drop(a, f, TURN_DROP_MALFORMED);
	if (!perm_checked && !turn_perm_ok(a, p16, now))
		return drop(a, f, TURN_DROP_NO_PERMISSION);
	if (!bw_take(a, keep, now_us))
		return drop(a, f, TURN_DROP_BANDWIDTH);
	count_c2p(a, keep);
	f->kind = TURN_FWD_PEER;
	f->src = *turn_relay_of(&s->cfg, a, fi);
	f->src.port = a->relay_port[fi];
	f->dst = *peer;
	f->strip = strip;
	f->keep = keep;
}

static void from_client(struct turn_server *s, const struct turn_ctx *c, struct turn_alloc *hint,
			const struct turn_5tuple *key, const uint8_t *pkt, uint16_t len,
			uint64_t now_us, uint64_t *rnd, struct turn_fwd *f);
static void from_peer(struct turn_server *s, struct turn_alloc *a, const struct pr_taddr *peer,
		      uint16_t len, uint64_t *rnd, uint64_t now_us, struct turn_fwd *f);
static void hairpin(struct turn_server *s, const uint8_t *pkt, uint64_t now_us, uint64_t *rnd,
		    struct turn_fwd *f);

void turn_from_client(struct turn_server *s, const struct turn_ctx *c, const uint8_t *pkt,
		      uint16_t len, uint64_t now_us, uint64_t *rnd, struct turn_fwd *f)
{
	from_client(s, c, NULL, NULL, pkt, len, now_us, rnd, f);
	hairpin(s, pkt, now_us, rnd, f);
}

/* Client datagrams the data path relays (ChannelData, Send indications): worth a lookup. */
static inline bool client_data(const uint8_t *pkt, uint16_t len)
{
	return len >= 4 &&
	       ((pkt[0] & 0xC0) == 0x40 || rd16(pkt) == stun_msg_type(TURN_SEND, STUN_INDICATION));
}

void turn_relay_burst(struct turn_server *s, const struct turn_dgram *d, unsigned n,
		      uint64_t now_us, uint64_t *rnd, struct turn_fwd *f)
{
	struct turn_5tuple ft[TURN_BURST];
	struct turn_alloc *a[TURN_BURST];
	bool keyed[TURN_BURST];
	uint32_t hv[TURN_BURST];

	for (unsigned base = 0; base < n; base += TURN_BURST) {
		unsigned m = n - base < TURN_BURST ? n - base : TURN_BURST, i;
		const struct turn_dgram *b = d + base;
		/* 1. index entries */
		for (i = 0; i < m; i++) {
			keyed[i] = false;
			if (b[i].from_peer) {
				turn_relay_prefetch(s->tbl, b[i].c.srv.fam == 4 ? 0 : 1,
						    b[i].c.srv.port);
			} else if (client_data(b[i].pl, b[i].len)) {
				client_key(&ft[i], &b[i].c);
				hv[i] = turn_hash_prefetch(s->tbl, &ft[i]);
				keyed[i] = true;
			}
		}
		/* 2. the slots they name */
		for (i = 0; i < m; i++) {
			if (b[i].from_peer)
				a[i] = turn_lookup_relay(s->tbl, b[i].c.srv.fam == 4 ? 0 : 1,
							 b[i].c.srv.port);
			else
				a[i] = keyed[i] ? turn_hash_candidate(s->tbl, hv[i]) : NULL;
			if (a[i])
				turn_alloc_prefetch(a[i]);
		}
		/* 3. decisions */
		for (i = 0; i < m; i++) {
			struct turn_fwd *fo = &f[base + i];
			if (b[i].from_peer) {
				from_peer(s, a[i], &b[i].c.cli, b[i].len, rnd, now_us, fo);
			} else {
				from_client(s, &b[i].c, a[i], keyed[i] ? &ft[i] : NULL, b[i].pl,
					    b[i].len, now_us, rnd, fo);
				hairpin(s, b[i].pl, now_us, rnd, fo);
			}
		}
	}
}

static void from_client(struct turn_server *s, const struct turn_ctx *c, struct turn_alloc *hint,
			const struct turn_5tuple *key, const uint8_t *pkt, uint16_t len,
			uint64_t now_us, uint64_t *rnd, struct turn_fwd *f)
{
	(void)rnd;
	memset(f, 0, offsetof(struct turn_fwd, hdr));
	f->drop = 0xff;
	if (len < 4)
		return;
	uint32_t now = turn_server_now(s);
	if ((pkt[0] & 0xC0) == 0x40) {
		uint16_t chan;
		int dl = turn_chandata_parse(pkt, len, &chan);
		if (dl < 0)
			return;
		struct turn_alloc *a = client_alloc(s, c, hint, key, now);
		if (!a)
			return;
		uint8_t p16[16];
		uint16_t port;
		enum turn_drop why = turn_chan_peer_perm(a, chan, now, p16, &port);
		if (why != TURN_DROP_MAX)
			return drop(a, f, why);
		struct pr_taddr peer;
		peer_of16(&peer, p16, port);
		return to_peer(s, a, &peer, p16, true, 4, (uint16_t)dl, now, now_us, f);
	}
	if ((pkt[0] & 0xC0) != 0 || stun_sniff(pkt, len) < 0)
		return;
	if (rd16(pkt) != stun_msg_type(TURN_SEND, STUN_INDICATION)) {
		f->kind = TURN_FWD_CONTROL;
		return;
	}
	struct stun_msg m;
	if (stun_parse(&m, pkt, len) != STUN_OK)
		return; /* incl. unknown comprehension-required: indications are dropped */
	struct turn_alloc *a = client_alloc(s, c, hint, key, now);
	if (!a)
		return;
	if (m.i_fp >= 0) {
		const struct stun_attr *fa = &m.attrs[m.i_fp];
		if (pr_stun_fingerprint(pkt, (size_t)fa->off - 4) != stun_attr_u32(&m, fa))
			return drop(a, f, TURN_DROP_MALFORMED);
	}
	const struct stun_attr *pa = stun_attr_find(&m, TURN_A_XOR_PEER_ADDRESS);
	const struct stun_attr *da = stun_attr_find(&m, TURN_A_DATA);
	struct pr_taddr peer;
	if (!pa || !da || stun_attr_xaddr(&m, pa, &peer) < 0)
		return drop(a, f, TURN_DROP_MALFORMED);
	uint8_t p16[16];
	turn_peer16(p16, peer.ip, peer.fam);
	to_peer(s, a, &peer, p16, false, da->off, da->len, now, now_us, f);
}

/* A peer that is one of our own relay addresses at a relay port (client to client): the
 * datagram never leaves; it arrives at that relay port as if from the sender's relayed
 * address. */
static void hairpin(struct turn_server *s, const uint8_t *pkt, uint64_t now_us, uint64_t *rnd,
		    struct turn_fwd *f)
{
	int fi = f->dst.fam == 4 ? 0 : 1;
	if (f->kind != TURN_FWD_PEER || !s->cfg.relay[fi].fam)
		return;
	uint64_t r[2], d[2]; /* word compares: this runs for every relayed datagram */
	memcpy(r, s->cfg.relay[fi].ip, 16);
	memcpy(d, f->dst.ip, 16);
	if (fi ? (r[0] ^ d[0]) | (r[1] ^ d[1]) : (uint32_t)(r[0] ^ d[0]))
		return;
	uint16_t strip = f->strip, keep = f->keep, port = f->dst.port;
	/* Only a port an allocation holds is ours to hand over here. Any other port of our
	 * address (the media anchor's, say) leaves as a peer datagram: the dataplane's own
	 * hairpin (dp_udp_tx) gives it to the feature that owns the port, or refuses it. */
	if (!turn_lookup_relay(s->tbl, fi, port))
		return;
	struct pr_taddr from = f->src;
	turn_from_peer(s, fi, port, &from, pkt + strip, keep, now_us, rnd, f);
	f->strip = strip;
}

static void tid_fill(uint8_t tid[12], uint64_t *rnd)
{
	uint64_t x = *rnd ? *rnd : 0x9E3779B97F4A7C15ull;
	for (int i = 0; i < 12; i += 4) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(tid + i, &x, 4);
	}
	*rnd = x;
}

void turn_from_peer(struct turn_server *s, int fi, uint16_t relay_port, const struct pr_taddr *peer,
		    const uint8_t *pkt, uint16_t len, uint64_t now_us, uint64_t *rnd,
		    struct turn_fwd *f)
{
	(void)pkt;
	from_peer(s, turn_lookup_relay(s->tbl, fi, relay_port), peer, len, rnd, now_us, f);
}

static void from_peer(struct turn_server *s, struct turn_alloc *a, const struct pr_taddr *peer,
		      uint16_t len, uint64_t *rnd, uint64_t now_us, struct turn_fwd *f)
{
	memset(f, 0, offsetof(struct turn_fwd, hdr));
	f->drop = 0xff;
	uint32_t now = turn_server_now(s);
	if (!a || __atomic_load_n(&a->expires, RELAXED) <= now)
		return;
	uint8_t p16[16];
	turn_peer16(p16, peer->ip, peer->fam);
	bool perm_ok = false;
	uint16_t chan = turn_chan_num_perm(a, p16, peer->port, now, &perm_ok);
	if (!chan)
		perm_ok = turn_perm_ok(a, p16, now);
	if (!perm_ok)
		return drop(a, f, TURN_DROP_NO_PERMISSION);
	if (!chan && (size_t)len + 4 + 24 + 4 + STUN_HDR_LEN > 0xFFFF)
		return drop(a, f, TURN_DROP_MALFORMED);
	if (!bw_take(a, len, now_us))
		return drop(a, f, TURN_DROP_BANDWIDTH);
	if (chan) {
		turn_chandata_hdr(f->hdr, chan, len);
		f->hdr_len = 4;
	} else {
		/* Data indication (RFC 8656 11.4): XOR-PEER-ADDRESS, DATA; no integrity. */
		uint8_t tid[12];
		struct stun_builder b;
		tid_fill(tid, rnd);
		stun_b_init(&b, f->hdr, sizeof(f->hdr), TURN_DATA, STUN_INDICATION, tid);
		stun_b_xaddr(&b, TURN_A_XOR_PEER_ADDRESS, peer);
		uint16_t h = b.len;
		f->hdr[h] = TURN_A_DATA >> 8;
		f->hdr[h + 1] = TURN_A_DATA & 0xff;
		f->hdr[h + 2] = (uint8_t)(len >> 8);
		f->hdr[h + 3] = (uint8_t)len;
		f->hdr_len = (uint16_t)(h + 4);
		f->pad = (uint16_t)(((len + 3u) & ~3u) - len);
		uint16_t body = (uint16_t)(f->hdr_len - STUN_HDR_LEN + len + f->pad);
		f->hdr[2] = (uint8_t)(body >> 8);
		f->hdr[3] = (uint8_t)body;
	}
	count_p2c(s, a, len);
	f->kind = TURN_FWD_CLIENT;
	memset(&f->src, 0, sizeof(f->src));
	memset(&f->dst, 0, sizeof(f->dst));
	f->src.fam = f->dst.fam = a->ft.fam;
	memcpy(f->src.ip, a->ft.srv_ip, 16);
	f->src.port = a->ft.srv_port;
	memcpy(f->dst.ip, a->ft.cli_ip, 16);
	f->dst.port = a->ft.cli_port;
	f->dst.proto = a->ft.proto; /* a stream client's: the worker hands it to the front */
	f->keep = len;
}

/* ---- the IPv4 channel fast path (turn_server.h) ---- */

static inline uint32_t ld32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static inline uint16_t ld16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

/* The UDP checksum of the relayed datagram, from the received one's (ck) without reading the
 * payload (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')): old is the sum of the ones' complement
 * of every received field the checksum covers besides the payload (neg32, neg16, negsum16
 * below), new the unfolded sum of the fields that replace them (the protocol word of the
 * pseudo header, the same in both, is left out of both); one fold for all of it. The payload
 * keeps an even offset from the UDP header both ways, so its sum needs no byte swap. The
 * result is the same as folding old first and subtracting it: neither sum can be zero, and
 * a fold of a non-zero sum is its one representative in 1..0xffff. */
static inline uint16_t csum_relayed(uint16_t ck, uint64_t old, uint64_t new)
{
	uint16_t c = (uint16_t)~pr_csum_fold((uint64_t)(uint16_t)~ck + old + new);
	return c ? c : 0xffff; /* RFC 768: a computed zero is sent as all ones */
}

/* The ones' complement of a received field as it lies (network order), for csum_relayed's
 * old: 32 and 16 bits, and a 16-byte address. */
static inline uint64_t neg32(const uint8_t *p)
{
	return (uint32_t)~ld32(p);
}

static inline uint64_t neg16(const uint8_t *p)
{
	return (uint16_t)~ld16(p);
}

static inline uint64_t negsum16(const uint8_t *p)
{
	return neg32(p) + neg32(p + 4) + neg32(p + 8) + neg32(p + 12);
}

/* What both fast paths check of a client's datagram (its UDP header at udp, udp_len bytes)
 * for candidate allocation a: turn_chandata_parse's checks for ChannelData without padding
 * after its data (padding changes the checksum arithmetic: the general path), the key, the
 * lifetime, a live channel with a live permission. Returns the data length, with the
 * channel's peer in p16 and its port in *pport, or -1. */
static inline __attribute__((always_inline)) int
fast_chan_c2p(const struct turn_alloc *a, const struct turn_5tuple *key, const uint8_t *udp,
	      uint16_t udp_len, uint32_t now, uint8_t p16[16], uint16_t *pport)
{
	if (udp_len < 12)
		return -1;
	const uint16_t chan = rd16(udp + 8);
	const int dl = rd16(udp + 10);
	if (chan < TURN_CHAN_MIN || chan > TURN_CHAN_MAX_RFC5766 || (unsigned)dl + 12 != udp_len)
		return -1;
	if (!a || !turn_5tuple_eq(&a->ft, key) || __atomic_load_n(&a->expires, RELAXED) <= now)
		return -1;
	if (turn_chan_peer_perm(a, chan, now, p16, pport) != TURN_DROP_MAX)
		return -1;
	return dl;
}

/* What both fast paths check of a peer's datagram (its UDP header at udp, udp_len bytes, at
 * most max_udp so that it still fits 4 bytes longer) from peer address peer_ip of family fam
 * to allocation a: a live allocation of a client of the same family, a UDP checksum to
 * update, a live channel with a live permission, the bucket. Returns the channel, the
 * datagram counted as relayed, or 0. */
static inline __attribute__((always_inline)) uint16_t
fast_chan_p2c(struct turn_server *s, struct turn_alloc *a, const uint8_t *udp, uint16_t udp_len,
	      uint32_t max_udp, const uint8_t *peer_ip, uint8_t fam, uint32_t now, uint64_t now_us)
{
	uint8_t p16[16];
	bool perm_ok = false;

	if (!a || __atomic_load_n(&a->expires, RELAXED) <= now || a->ft.fam != fam ||
	    a->ft.proto != PR_TP_UDP || udp_len < 8 || udp_len > max_udp || ld16(udp + 6) == 0)
		return 0; /* (a stream client's datagram goes through the front: from_peer) */
	turn_peer16(p16, peer_ip, fam); /* word stores: read back as words right away */
	const uint16_t chan = turn_chan_num_perm(a, p16, rd16(udp), now, &perm_ok);
	if (!chan || !perm_ok || !bw_take(a, (uint32_t)udp_len - 8, now_us))
		return 0;
	count_p2c(s, a, (uint64_t)udp_len - 8);
	return chan;
}

/* ChannelData from an IPv4 client to an IPv4 peer: from_client + to_peer + hairpin's
 * decision for the forwarding case only, then dp_udp_rewrite's bytes for strip 4. */
static unsigned fast_c2p(struct turn_server *s, struct turn_alloc *a, const struct turn_5tuple *key,
			 struct turn_fast *d, uint32_t now, uint64_t now_us)
{
	uint8_t *ip = d->ip, *udp = ip + 20;
	uint16_t pport, rport;
	uint8_t p16[16];
	uint32_t peer, src;
	const int dl = fast_chan_c2p(a, key, udp, d->udp_len, now, p16, &pport);

	if (dl < 0 || !peer16_v4_of(p16, &peer))
		return 0;
	rport = a->relay_port[0];
	const struct pr_taddr *r = turn_relay_of(&s->cfg, a, 0);
	src = ld32(r->ip);
	if (!rport || r->fam != 4 || src == peer || ld16(udp + 6) == 0)
		return 0;
	if (!bw_take(a, (uint32_t)dl, now_us))
		return 0;
	count_c2p(a, (uint64_t)dl);

	/* everything received is read before the new headers go over it */
	const uint16_t ulen = (uint16_t)(8 + dl), sport = htons(rport), dport = htons(pport);
	const uint64_t old = neg32(ip + 12) + neg32(ip + 16) + neg16(udp) + neg16(udp + 2) +
			     2 * neg16(udp + 4) + neg32(udp + 8);
	const uint64_t new = (uint64_t)src + peer + sport + dport + 2ull * htons(ulen);
	pr_put_ip4_udp(ip + 4, src, sport, peer, dport, ulen,
		       csum_relayed(ld16(udp + 6), old, new));
	d->out_off = 4;
	d->out_len = (uint16_t)(20 + ulen);
	d->out_dst = peer;
	d->handled = 1;
	return 1;
}

/* A peer's IPv4 datagram to an IPv4 client over a channel: from_peer's forwarding case,
 * then dp_udp_rewrite's bytes for a 4-byte ChannelData header. */
static unsigned fast_p2c(struct turn_server *s, struct turn_alloc *a, struct turn_fast *d,
			 uint32_t now, uint64_t now_us)
{
	uint8_t *ip = d->ip, *udp = ip + 20;
	const uint16_t len = (uint16_t)(d->udp_len - 8);
	const uint16_t chan =
	    fast_chan_p2c(s, a, udp, d->udp_len, 0xFFFF - 24, ip + 12, 4, now, now_us);

	if (!chan)
		return 0;

	const uint32_t src = ld32(a->ft.srv_ip), dst = ld32(a->ft.cli_ip),
		       cd = htonl((uint32_t)chan << 16 | len);
	const uint16_t ulen = (uint16_t)(d->udp_len + 4), sport = htons(a->ft.srv_port),
		       dport = htons(a->ft.cli_port);
	const uint64_t old =
	    neg32(ip + 12) + neg32(ip + 16) + neg16(udp) + neg16(udp + 2) + 2 * neg16(udp + 4);
	const uint64_t new = (uint64_t)src + dst + sport + dport + 2ull * htons(ulen) + cd;
	const uint16_t ck = csum_relayed(ld16(udp + 6), old, new);
	memcpy(udp + 4, &cd, 4); /* the ChannelData header, right before the payload */
	pr_put_ip4_udp(ip - 4, src, sport, dst, dport, ulen, ck);
	d->out_off = -4;
	d->out_len = (uint16_t)(20 + ulen);
	d->out_dst = dst;
	d->handled = 1;
	return 1;
}

/* ---- the IPv6 channel fast path (turn_server.h) ---- */

/* The unfolded sum of a 16-byte address as four 32-bit words, as they lie in memory. */
static inline uint64_t sum16(const uint8_t *p)
{
	return (uint64_t)ld32(p) + ld32(p + 4) + ld32(p + 8) + ld32(p + 12);
}

/* Writes an IPv6 header (traffic class and flow label 0, hop limit 64, UDP) and the UDP
 * header after it, for ulen bytes of UDP with checksum ck; ports and ck in network order.
 * src and dst lie outside the 48 bytes written. */
static inline void put_ip6_udp(uint8_t *ip, const uint8_t *src, uint16_t sport, const uint8_t *dst,
			       uint16_t dport, uint16_t ulen, uint16_t ck)
{
	const uint32_t w0 = htonl(0x60000000u);
	const uint16_t len = htons(ulen), nh = htons(17 << 8 | 64);
	const uint16_t uh[4] = {sport, dport, len, ck};

	memcpy(ip, &w0, 4);
	memcpy(ip + 4, &len, 2);
	memcpy(ip + 6, &nh, 2);
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);
	memcpy(ip + 40, uh, 8);
}

/* ChannelData from an IPv6 client to an IPv6 peer through the IPv6 relay address. */
static unsigned fast_c2p6(struct turn_server *s, struct turn_alloc *a,
			  const struct turn_5tuple *key, struct turn_fast *d, uint32_t now,
			  uint64_t now_us)
{
	uint8_t *ip = d->ip, *udp = ip + 40;
	const struct pr_taddr *r;
	uint16_t pport, rport;
	uint8_t p16[16];
	uint32_t v4;
	const int dl = fast_chan_c2p(a, key, udp, d->udp_len, now, p16, &pport);

	if (dl < 0)
		return 0;
	r = turn_relay_of(&s->cfg, a, 1);
	/* an IPv4 peer (another family), no IPv6 relay, our own relayed address (hairpin) */
	rport = a->relay_port[1];
	if (peer16_v4_of(p16, &v4) || !rport || r->fam != 6 || !memcmp(r->ip, p16, 16) ||
	    ld16(udp + 6) == 0)
		return 0;
	if (!bw_take(a, (uint32_t)dl, now_us))
		return 0;
	count_c2p(a, (uint64_t)dl);

	const uint16_t ulen = (uint16_t)(8 + dl), sport = htons(rport), dport = htons(pport);
	const uint64_t old = negsum16(ip + 8) + negsum16(ip + 24) + neg16(udp) + neg16(udp + 2) +
			     2 * neg16(udp + 4) + neg32(udp + 8);
	const uint64_t new = sum16(r->ip) + sum16(p16) + sport + dport + 2ull * htons(ulen);
	put_ip6_udp(ip + 4, r->ip, sport, p16, dport, ulen, csum_relayed(ld16(udp + 6), old, new));
	d->out_off = 4;
	d->out_len = (uint16_t)(40 + ulen);
	d->handled = 1;
	return 1;
}

/* An IPv6 peer's datagram to an IPv6 relay port, to an IPv6 client over a channel. */
static unsigned fast_p2c6(struct turn_server *s, struct turn_alloc *a, struct turn_fast *d,
			  uint32_t now, uint64_t now_us)
{
	uint8_t *ip = d->ip, *udp = ip + 40;
	const uint16_t len = (uint16_t)(d->udp_len - 8);
	const uint16_t chan =
	    fast_chan_p2c(s, a, udp, d->udp_len, 0xFFFF - 4, ip + 8, 6, now, now_us);

	if (!chan)
		return 0;

	const uint32_t cd = htonl((uint32_t)chan << 16 | len);
	const uint16_t ulen = (uint16_t)(d->udp_len + 4), sport = htons(a->ft.srv_port),
		       dport = htons(a->ft.cli_port);
	const uint64_t old =
	    negsum16(ip + 8) + negsum16(ip + 24) + neg16(udp) + neg16(udp + 2) + 2 * neg16(udp + 4);
	const uint64_t new =
	    sum16(a->ft.srv_ip) + sum16(a->ft.cli_ip) + sport + dport + 2ull * htons(ulen) + cd;
	const uint16_t ck = csum_relayed(ld16(udp + 6), old, new);
	memcpy(udp + 4, &cd, 4);
	put_ip6_udp(ip - 4, a->ft.srv_ip, sport, a->ft.cli_ip, dport, ulen, ck);
	d->out_off = -4;
	d->out_len = (uint16_t)(40 + ulen);
	d->handled = 1;
	return 1;
}

/* Both fast paths' bursts: the same three passes as turn_relay_burst (index entries,
 * slots, decisions) over the IPv4 (v6 false) or IPv6 headers; inlined into each with v6 a
 * constant, so that each is straight code for its family. */
static inline __attribute__((always_inline)) unsigned
fast_burst(struct turn_server *s, struct turn_fast *d, unsigned n, uint64_t now_us, const bool v6)
{
	struct turn_5tuple ft[TURN_BURST];
	struct turn_alloc *a[TURN_BURST];
	uint32_t hv[TURN_BURST];
	const uint32_t now = turn_server_now(s);
	const uint64_t *hkey = turn_table_hash_key(s->tbl);
	const unsigned iphl = v6 ? 40 : 20;
	const int fi = v6 ? 1 : 0;
	unsigned done = 0;

	for (unsigned base = 0; base < n; base += TURN_BURST) {
		unsigned m = n - base < TURN_BURST ? n - base : TURN_BURST, i;
		struct turn_fast *b = d + base;
		for (i = 0; i < m; i++) {
			const uint8_t *ip = b[i].ip, *udp = ip + iphl;
			b[i].handled = 0;
			if (b[i].from_peer) {
				turn_relay_prefetch(s->tbl, fi, rd16(udp + 2));
			} else {
				uint64_t w[5];
				if (v6)
					turn_5tuple_set16w(&ft[i], w, ip + 8, rd16(udp), ip + 24,
							   rd16(udp + 2), 6, PR_TP_UDP);
				else
					turn_5tuple_set4w(&ft[i], w, ld32(ip + 12), rd16(udp),
							  ld32(ip + 16), rd16(udp + 2));
				hv[i] = turn_hash_words(w, hkey);
				turn_hash_prefetch_hv(s->tbl, hv[i]);
			}
		}
		for (i = 0; i < m; i++) {
			a[i] = b[i].from_peer
				   ? turn_lookup_relay(s->tbl, fi, rd16(b[i].ip + iphl + 2))
				   : turn_hash_candidate(s->tbl, hv[i]);
			if (a[i])
				turn_alloc_prefetch(a[i]);
		}
		for (i = 0; i < m; i++) {
			if (v6)
				done += b[i].from_peer
					    ? fast_p2c6(s, a[i], &b[i], now, now_us)
					    : fast_c2p6(s, a[i], &ft[i], &b[i], now, now_us);
			else
				done += b[i].from_peer
					    ? fast_p2c(s, a[i], &b[i], now, now_us)
					    : fast_c2p(s, a[i], &ft[i], &b[i], now, now_us);
		}
	}
	return done;
}

unsigned turn_relay_v4_burst(struct turn_server *s, struct turn_fast *d, unsigned n,
			     uint64_t now_us)
{
	return fast_burst(s, d, n, now_us, false);
}

unsigned turn_relay_v6_burst(struct turn_server *s, struct turn_fast *d, unsigned n,
			     uint64_t now_us)
{
	return fast_burst(s, d, n, now_us, true);
}
