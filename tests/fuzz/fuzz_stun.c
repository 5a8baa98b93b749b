/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: the STUN/TURN parser, ChannelData framing, and the whole request and
 * data path of the TURN server fed with the same bytes (as a client and as a peer), and the
 * IPv4 and IPv6 channel fast paths against the general path on the same bytes as IPv4 and
 * IPv6 datagrams (IPv6: a second server, whose client is an IPv6 one, fed the same requests
 * when bit 3 of the first byte is set). */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "crypto/stun_auth.h"
#include "dataplane/turn/stun_msg.h"
#include "dataplane/turn/turn_server.h"
#include "tests/inet_ref.h"

static struct turn_server *srv, *srv6;
static struct turn_ctx ctx, ctx6;

static int user_key(void *arg, const char *user, const char *realm, int alg, uint8_t key[32])
{
	(void)arg;
	(void)realm;
	(void)alg;
	if (strcmp(user, "alice"))
		return -1;
	memset(key, 0x11, 32);
	return 0;
}

static void init(void)
{
	struct turn_cfg cfg;
	turn_cfg_defaults(&cfg);
	pr_taddr_from_str(&cfg.relay[0], "192.0.2.10", 0);
	pr_taddr_from_str(&cfg.relay[1], "2001:db8::10", 0);
	struct turn_table *t = turn_table_create(64, 50000, 50063, NULL, NULL);
	struct turn_cred_ops cred = {user_key, NULL, NULL};
	srv = turn_server_create(&cfg, t, &cred, NULL);
	turn_server_set_now(srv, 1800000000u);
	pr_taddr_from_str(&ctx.cli, "198.51.100.1", 4000);
	pr_taddr_from_str(&ctx.srv, "192.0.2.1", 3478);
	struct turn_table *t6 = turn_table_create(64, 50000, 50063, NULL, NULL);
	srv6 = turn_server_create(&cfg, t6, &cred, NULL);
	turn_server_set_now(srv6, 1800000000u);
	pr_taddr_from_str(&ctx6.cli, "2001:db8:1::1", 4000);
	pr_taddr_from_str(&ctx6.srv, "2001:db8::1", 3478);
}

/* The same bytes as the attributes of an authenticated request to s from base's client (the
 * fuzzer cannot forge MESSAGE-INTEGRITY): reaches Allocate, Refresh, CreatePermission and
 * ChannelBind with arbitrary attributes, and fills the tables for the data path below;
 * calls counts them, for the passing of time. */
static void authed(struct turn_server *s, const struct turn_ctx *base, uint32_t *calls,
		   const uint8_t *data, size_t size)
{
	static const uint16_t methods[] = {TURN_ALLOCATE, TURN_REFRESH, TURN_CREATE_PERMISSION,
					   TURN_CHANNEL_BIND};
	if (size < 2)
		return;
	uint8_t msg[2048], tid[12] = {0}, key[32];
	memcpy(tid, data, size < 12 ? size : 12);
	struct stun_builder b;
	stun_b_init(&b, msg, sizeof(msg), methods[data[0] & 3], STUN_REQUEST, tid);
	size_t blen = (size - 1) & ~(size_t)3;
	if (blen > 1200)
		blen = 1200;
	memcpy(msg + STUN_HDR_LEN, data + 1, blen);
	b.len = (uint16_t)(STUN_HDR_LEN + blen);
	char nonce[64];
	struct turn_ctx c = *base;
	c.cli.port = (uint16_t)(4000 + (data[0] >> 4)); /* a few 5-tuples */
	int nl = turn_nonce_make(s, &c.cli, turn_server_now(s), nonce, sizeof(nonce));
	stun_b_attr(&b, STUN_A_USERNAME, "alice", 5);
	stun_b_attr(&b, STUN_A_REALM, turn_server_cfg(s)->realm,
		    (uint16_t)strlen(turn_server_cfg(s)->realm));
	stun_b_attr(&b, STUN_A_NONCE, nonce, (uint16_t)nl);
	int off = stun_b_reserve(&b, STUN_A_MESSAGE_INTEGRITY, 20);
	if (off < 0 || b.err)
		return;
	memset(key, 0x11, sizeof(key));
	pr_hmac_sha1(key, 16, msg, (size_t)off - 4, msg + off);
	uint8_t out[2048];
	turn_server_request(s, &c, msg, b.len, out, sizeof(out));
	if (++*calls % 512 == 0) { /* time passes: expiry of everything */
		turn_server_set_now(s, turn_server_now(s) + 97);
		turn_server_tick(s);
	}
}

/* data as the payload of an IPv4 datagram from src:sport to dst:dport (correct checksum):
 * whatever the fast path relays, the general path relays too, and the relayed datagram's
 * checksum is right; whatever it declines, it leaves as it was. */
static void fast_vs_general(const uint8_t *data, size_t size, const struct pr_taddr *src,
			    const struct pr_taddr *dst, bool from_peer)
{
	static uint8_t buf[2][8 + 28 + 1300];
	uint8_t *ip = buf[0] + 8;
	size_t ulen = 8 + size;
	if (size > 1300)
		return;
	memset(buf[0], 0, sizeof(buf[0]));
	ip[0] = 0x45;
	ip[2] = (uint8_t)((20 + ulen) >> 8);
	ip[3] = (uint8_t)(20 + ulen);
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, src->ip, 4);
	memcpy(ip + 16, dst->ip, 4);
	ip[20] = (uint8_t)(src->port >> 8);
	ip[21] = (uint8_t)src->port;
	ip[22] = (uint8_t)(dst->port >> 8);
	ip[23] = (uint8_t)dst->port;
	ip[24] = (uint8_t)(ulen >> 8);
	ip[25] = (uint8_t)ulen;
	memcpy(ip + 28, data, size);
	uint16_t ck = ref_udp4_csum(ip);
	ip[26] = (uint8_t)(ck >> 8);
	ip[27] = (uint8_t)ck;
	memcpy(buf[1], buf[0], sizeof(buf[0]));

	struct turn_fast v = {.ip = ip, .udp_len = (uint16_t)ulen, .from_peer = from_peer};
	unsigned n = turn_relay_v4_burst(srv, &v, 1, 1);
	if (n != v.handled)
		__builtin_trap();
	if (!v.handled) {
		if (memcmp(buf[0], buf[1], sizeof(buf[0])))
			__builtin_trap();
		return;
	}
	struct turn_fwd f;
	uint64_t rnd = 1;
	const uint8_t *orig = buf[1] + 8;
	if (from_peer)
		turn_from_peer(srv, 0, dst->port, src, orig + 28, (uint16_t)size, 1, &rnd, &f);
	else
		turn_from_client(srv, &ctx, orig + 28, (uint16_t)size, 1, &rnd, &f);
	if (f.kind != (from_peer ? TURN_FWD_CLIENT : TURN_FWD_PEER) ||
	    v.out_len != 28 + f.hdr_len + f.keep || !ref_udp4_ok(ip + v.out_off) ||
	    memcmp(&v.out_dst, f.dst.ip, 4))
		__builtin_trap();
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The same for the IPv6 fast path, on srv6: data as the payload of an IPv6 datagram (with
 * a traffic class, flow label and hop limit the relayed one must not keep). Whatever it
 * relays is byte for byte what the general path's decision makes of it (dp_udp_relay's
 * IPv6 header, correct checksum), and nothing around it is written. */
static void fast6_vs_general(const uint8_t *data, size_t size, const struct pr_taddr *src,
			     const struct pr_taddr *dst, bool from_peer)
{
	enum { HEAD = 8, CAP = HEAD + 48 + 1300 };
	static uint8_t buf[2][CAP], exp[48 + 4 + 1300];
	uint8_t *ip = buf[0] + HEAD;
	const uint16_t ulen = (uint16_t)(8 + size);
	if (size > 1300)
		return;
	memset(buf[0], 0, sizeof(buf[0]));
	ip[0] = 0x6b; /* traffic class 0xb8, flow label 0x12345 */
	ip[1] = 0x81;
	ip[2] = 0x23;
	ip[3] = 0x45;
	put_be16(ip + 4, ulen);
	ip[6] = 17;
	ip[7] = 57;
	memcpy(ip + 8, src->ip, 16);
	memcpy(ip + 24, dst->ip, 16);
	put_be16(ip + 40, src->port);
	put_be16(ip + 42, dst->port);
	put_be16(ip + 44, ulen);
	memcpy(ip + 48, data, size);
	put_be16(ip + 46, ref_udp6_csum(ip));
	memcpy(buf[1], buf[0], sizeof(buf[0]));

	struct turn_fast v = {.ip = ip, .udp_len = ulen, .from_peer = from_peer};
	unsigned n = turn_relay_v6_burst(srv6, &v, 1, 1);
	if (n != v.handled)
		__builtin_trap();
	if (!v.handled) {
		if (memcmp(buf[0], buf[1], sizeof(buf[0])))
			__builtin_trap();
		return;
	}
	struct turn_fwd f;
	uint64_t rnd = 1;
	const uint8_t *orig = buf[1] + HEAD;
	if (from_peer)
		turn_from_peer(srv6, 1, dst->port, src, orig + 48, (uint16_t)size, 1, &rnd, &f);
	else
		turn_from_client(srv6, &ctx6, orig + 48, (uint16_t)size, 1, &rnd, &f);
	if (f.kind != (from_peer ? TURN_FWD_CLIENT : TURN_FWD_PEER) || f.src.fam != 6 ||
	    f.dst.fam != 6 || f.pad || v.out_off != (from_peer ? -4 : 4))
		__builtin_trap();
	/* what dp_udp_relay writes for f */
	const uint16_t eu = (uint16_t)(8 + f.hdr_len + f.keep), tot = (uint16_t)(40 + eu);
	memset(exp, 0, 48);
	exp[0] = 0x60;
	put_be16(exp + 4, eu);
	exp[6] = 17;
	exp[7] = 64;
	memcpy(exp + 8, f.src.ip, 16);
	memcpy(exp + 24, f.dst.ip, 16);
	put_be16(exp + 40, f.src.port);
	put_be16(exp + 42, f.dst.port);
	put_be16(exp + 44, eu);
	memcpy(exp + 48, f.hdr, f.hdr_len);
	memcpy(exp + 48 + f.hdr_len, orig + 48 + f.strip, f.keep);
	put_be16(exp + 46, ref_udp6_csum(exp));
	const size_t at = (size_t)(HEAD + v.out_off);
	if (v.out_len != tot || memcmp(buf[0] + at, exp, tot) || memcmp(buf[0], buf[1], at) ||
	    memcmp(buf[0] + at + tot, buf[1] + at + tot, CAP - at - tot))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint32_t calls, calls6;
	if (!srv)
		init();
	authed(srv, &ctx, &calls, data, size);
	if (size && (data[0] & 0x08)) /* a bit authed leaves alone: half the cost */
		authed(srv6, &ctx6, &calls6, data, size);
	struct stun_msg m;
	int rc = stun_parse(&m, data, size);
	if (rc == STUN_OK || rc == STUN_E_UNKNOWN_ATTR) {
		for (unsigned i = 0; i < m.n_attrs; i++) {
			struct pr_taddr a;
			const struct stun_attr *at = &m.attrs[i];
			/* every reported value lies inside the message */
			if ((size_t)at->off + at->len > size)
				__builtin_trap();
			(void)stun_attr_xaddr(&m, at, &a);
			(void)stun_attr_u32(&m, at);
		}
		uint8_t tmp[2048];
		if (m.i_mi >= 0)
			(void)stun_integrity_input(&m, m.i_mi, tmp, sizeof(tmp));
		if (m.i_mi256 >= 0)
			(void)stun_integrity_input(&m, m.i_mi256, tmp, sizeof(tmp));
	}
	uint16_t ch;
	int dl = turn_chandata_parse(data, size, &ch);
	if (dl >= 0 && (size_t)dl + 4 > size)
		__builtin_trap();

	uint8_t out[2048];
	int n = turn_server_request(srv, &ctx, data, size, out, sizeof(out));
	/* no amplification for anything the fuzzer can send (it cannot authenticate) */
	if (n > 0 && (size_t)n > size + TURN_AMP_SLACK)
		__builtin_trap();
	if (size <= 0xFFFF) {
		struct turn_fwd f;
		uint64_t rnd = 1;
		struct pr_taddr peer;
		pr_taddr_from_str(&peer, "8.8.8.8", 53);
		turn_from_client(srv, &ctx, data, (uint16_t)size, 1, &rnd, &f);
		turn_from_peer(srv, 0, 50000, &peer, data, (uint16_t)size, 1, &rnd, &f);
	}
	if (size >= 1) {
		struct pr_taddr peer, relay;
		pr_taddr_from_str(&peer, "8.8.8.8", 53);
		pr_taddr_from_str(&relay, "192.0.2.10", (uint16_t)(50000 + (data[0] & 63)));
		/* mostly a relay port in use, which the fuzzer would rarely guess */
		uint32_t idx = 0;
		struct turn_alloc *a = turn_alloc_next(turn_server_table(srv), &idx);
		if (a && (data[0] & 0x40) && a->relay_port[0]) {
			relay.port = a->relay_port[0];
			/* and, as often, from the peer of its first channel */
			static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
							   0, 0, 0, 0, 0xff, 0xff};
			if ((data[0] & 0x80) && a->n_chan && !memcmp(a->chan[0].ip, mapped, 12)) {
				memcpy(peer.ip, a->chan[0].ip + 12, 4);
				peer.port = a->chan[0].port;
			}
		}
		fast_vs_general(data, size, &ctx.cli, &ctx.srv, false);
		fast_vs_general(data, size, &peer, &relay, true);

		/* the same for IPv6: a peer from 2000::/3, to an IPv6 relay port in use or its
		 * first channel's peer when that is an IPv6 one */
		pr_taddr_from_str(&peer, "2a00:1450::53", 53);
		pr_taddr_from_str(&relay, "2001:db8::10", (uint16_t)(50000 + (data[0] & 63)));
		idx = 0;
		a = turn_alloc_next(turn_server_table(srv6), &idx);
		if (a && (data[0] & 0x40) && a->relay_port[1]) {
			relay.port = a->relay_port[1];
			static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
							   0, 0, 0, 0, 0xff, 0xff};
			if ((data[0] & 0x80) && a->n_chan && memcmp(a->chan[0].ip, mapped, 12)) {
				memcpy(peer.ip, a->chan[0].ip, 16);
				peer.port = a->chan[0].port;
			}
		}
		fast6_vs_general(data, size, &ctx6.cli, &ctx6.srv, false);
		fast6_vs_general(data, size, &peer, &relay, true);
	}
	return 0;
}
