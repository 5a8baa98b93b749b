/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: the STUN/TURN parser, ChannelData framing, and the whole request and
 * data path of the TURN server fed with the same bytes (as a client and as a peer). */
#include <stdint.h>
#include <string.h>

#include "crypto/stun_auth.h"
#include "dataplane/turn/stun_msg.h"
#include "dataplane/turn/turn_server.h"

static struct turn_server *srv;
static struct turn_ctx ctx;

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
}

/* The same bytes as the attributes of an authenticated request (the fuzzer cannot forge
 * MESSAGE-INTEGRITY): reaches Allocate, Refresh, CreatePermission and ChannelBind with
 * arbitrary attributes, and fills the tables for the data path below. */
static void authed(const uint8_t *data, size_t size)
{
	static const uint16_t methods[] = {TURN_ALLOCATE, TURN_REFRESH, TURN_CREATE_PERMISSION,
					   TURN_CHANNEL_BIND};
	static uint32_t calls;
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
	struct turn_ctx c = ctx;
	c.cli.port = (uint16_t)(4000 + (data[0] >> 4)); /* a few 5-tuples */
	int nl = turn_nonce_make(srv, &c.cli, turn_server_now(srv), nonce, sizeof(nonce));
	stun_b_attr(&b, STUN_A_USERNAME, "alice", 5);
	stun_b_attr(&b, STUN_A_REALM, turn_server_cfg(srv)->realm,
		    (uint16_t)strlen(turn_server_cfg(srv)->realm));
	stun_b_attr(&b, STUN_A_NONCE, nonce, (uint16_t)nl);
	int off = stun_b_reserve(&b, STUN_A_MESSAGE_INTEGRITY, 20);
	if (off < 0 || b.err)
		return;
	memset(key, 0x11, sizeof(key));
	pr_hmac_sha1(key, 16, msg, (size_t)off - 4, msg + off);
	uint8_t out[2048];
	turn_server_request(srv, &c, msg, b.len, out, sizeof(out));
	if (++calls % 512 == 0) { /* time passes: expiry of everything */
		turn_server_set_now(srv, turn_server_now(srv) + 97);
		turn_server_tick(srv);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!srv)
		init();
	authed(data, size);
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
	return 0;
}
