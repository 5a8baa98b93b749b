/* SPDX-License-Identifier: BSD-3-Clause */
/* Cost of the TURN data path alone (no NIC, no mbufs): turn_from_client on ChannelData and
 * turn_from_peer toward channels, over ALLOCS live allocations of each family in one table
 * (ALLOCS IPv4 clients with an IPv4 peer, ALLOCS IPv6 clients with an IPv6 peer), 200-byte
 * payloads, one core. Datagrams go through turn_relay_burst in bursts of TURN_BURST, as on a
 * worker; then the same traffic as IPv4 headers through the fast path, turn_relay_v4_burst
 * (decision and rewrite). Then the same two for the IPv6 allocations: turn_relay_burst, and
 * IPv6 headers through turn_relay_v6_burst. Every packet must be relayed (else a message on
 * stderr and exit status 1). Prints one JSON object: {"c2p_mpps", "p2c_mpps", "ns_c2p",
 * "ns_p2c", "fast_c2p_mpps", "fast_p2c_mpps", "c2p6_mpps", "p2c6_mpps", "fast_c2p6_mpps",
 * "fast_p2c6_mpps", "allocs", "alloc_bytes", "table_bytes_per_alloc"}; allocs is ALLOCS
 * (per family), table_bytes_per_alloc turn_table_bytes / ALLOCS of a table for ALLOCS.
 * Usage: relay_bench [ALLOCS] [PACKETS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataplane/turn/turn_server.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	uint32_t n = argc > 1 ? (uint32_t)atoi(argv[1]) : 10000;
	uint64_t pkts = argc > 2 ? strtoull(argv[2], NULL, 10) : 20000000;
	if (!n) {
		fprintf(stderr, "ALLOCS must be at least 1\n");
		return 1;
	}
	/* turn_table_bytes counts slots and hash entries for every allocation the table is
	 * sized for, plus two port maps of fixed size: table_bytes_per_alloc stays that of a
	 * table for the n allocations of one family, as before there were IPv6 ones (the
	 * bench's table for 2n would spread the port maps over twice as many) */
	struct turn_table *tn = turn_table_create(n, 40000, 65535, NULL, NULL);
	if (!tn)
		return 1;
	const size_t table_bytes = turn_table_bytes(tn);
	turn_table_destroy(tn);

	struct turn_cfg cfg;
	turn_cfg_defaults(&cfg);
	pr_taddr_from_str(&cfg.relay[0], "198.51.100.10", 0);
	pr_taddr_from_str(&cfg.relay[1], "2001:db8:100::10", 0);
	struct turn_table *t = turn_table_create(2 * n, 40000, 65535, NULL, NULL);
	if (!t)
		return 1;
	struct turn_server *s = turn_server_create(&cfg, t, NULL, NULL);
	uint32_t now = (uint32_t)time(NULL);
	turn_server_set_now(s, now);
	struct turn_ctx *ctx = calloc(n, sizeof(*ctx)), *ctx6 = calloc(n, sizeof(*ctx6));
	if (!ctx || !ctx6)
		return 1;
	struct pr_taddr peer, peer6;
	pr_taddr_from_str(&peer, "203.0.113.5", 5000);
	pr_taddr_from_str(&peer6, "2001:db8:200::5", 5000);
	/* the IPv4 allocations first, in the slots they have alone; then the IPv6 ones, with
	 * the same relay ports in the other family's port map */
	for (uint32_t i = 0; i < 2 * n; i++) {
		const int v6 = i >= n;
		const uint32_t j = v6 ? i - n : i;
		struct turn_ctx *c = v6 ? &ctx6[j] : &ctx[j];
		const struct pr_taddr *pe = v6 ? &peer6 : &peer;
		struct turn_alloc a;
		char ip[48];
		memset(&a, 0, sizeof(a));
		if (v6) {
			snprintf(ip, sizeof(ip), "2001:db8:1::%x:%x", j >> 16, j & 0xffff);
			pr_taddr_from_str(&c->cli, ip, 40000);
			pr_taddr_from_str(&c->srv, "2001:db8:100::10", 3478);
		} else {
			snprintf(ip, sizeof(ip), "100.%u.%u.%u", 64 + (j >> 16), (j >> 8) & 255,
				 j & 255);
			pr_taddr_from_str(&c->cli, ip, 40000);
			pr_taddr_from_str(&c->srv, "198.51.100.10", 3478);
		}
		memcpy(a.ft.cli_ip, c->cli.ip, 16);
		memcpy(a.ft.srv_ip, c->srv.ip, 16);
		a.ft.cli_port = 40000;
		a.ft.srv_port = 3478;
		a.ft.fam = v6 ? 6 : 4;
		a.id = i + 1;
		a.relay_port[v6] = (uint16_t)(40000 + j);
		a.expires = now + 3600;
		snprintf(a.username, sizeof(a.username), "user%u", j % 100);
		turn_peer16(a.perm[0].ip, pe->ip, a.ft.fam);
		a.perm[0].expires = now + 3600;
		a.n_perm = 1;
		memcpy(a.chan[0].ip, a.perm[0].ip, 16);
		a.chan[0].port = 5000;
		a.chan[0].num = 0x4000;
		a.chan[0].expires = now + 3600;
		a.n_chan = 1;
		if (c->cli.fam != a.ft.fam || turn_server_restore(s, &a) < 0) {
			fprintf(stderr, "restore %s%u failed\n", v6 ? "IPv6 " : "", j);
			return 1;
		}
	}
	uint8_t cd[204] = {0x40, 0x00, 0x00, 200};
	uint8_t data[200] = {0};
	struct turn_fwd f[TURN_BURST];
	struct turn_dgram d[TURN_BURST];
	uint64_t rnd = 1, ok = 0;
	/* a pseudo-random walk over the allocations, as RSS would spread them; bursts of
	 * TURN_BURST through turn_relay_burst, the dataplane's path */
	uint32_t k = 0;
	double t0 = now_s();
	for (uint64_t p = 0; p < pkts; p += TURN_BURST) {
		for (unsigned i = 0; i < TURN_BURST; i++) {
			k = (k + 7919) % n;
			d[i] = (struct turn_dgram){.c = ctx[k], .pl = cd, .len = sizeof(cd)};
		}
		turn_relay_burst(s, d, TURN_BURST, p, &rnd, f);
		for (unsigned i = 0; i < TURN_BURST; i++)
			ok += f[i].kind == TURN_FWD_PEER;
	}
	double t1 = now_s();
	struct pr_taddr relay = ctx[0].srv;
	for (uint64_t p = 0; p < pkts; p += TURN_BURST) {
		for (unsigned i = 0; i < TURN_BURST; i++) {
			k = (k + 7919) % n;
			relay.port = (uint16_t)(40000 + k);
			d[i] = (struct turn_dgram){.c = {.cli = peer, .srv = relay},
						   .pl = data,
						   .len = sizeof(data),
						   .from_peer = 1};
		}
		turn_relay_burst(s, d, TURN_BURST, p, &rnd, f);
		for (unsigned i = 0; i < TURN_BURST; i++)
			ok += f[i].kind == TURN_FWD_CLIENT;
	}
	double t2 = now_s();

	/* The IPv4 channel fast path: decision and in-place rewrite. Only headers are written
	 * (the fast path never reads a payload; the lengths say 200 bytes), into a burst's worth
	 * of buffers from one template per direction with the allocation's address or port
	 * patched in, as the d[] above are filled from ctx[]. */
	enum { HB = 64, OFF = 8 };
	uint8_t tmpl[2][HB] = {{0}}, (*hb)[HB] = aligned_alloc(64, TURN_BURST * HB);
	if (!hb)
		return 1;
	for (int dir = 0; dir < 2; dir++) {
		uint8_t *ip = tmpl[dir] + OFF;
		uint16_t ulen = dir ? 208 : 212, sport = dir ? 5000 : 40000;
		ip[0] = 0x45;
		ip[2] = (uint8_t)((20 + ulen) >> 8);
		ip[3] = (uint8_t)(20 + ulen);
		ip[8] = 64;
		ip[9] = 17;
		memcpy(ip + 12, dir ? peer.ip : ctx[0].cli.ip, 4);
		memcpy(ip + 16, ctx[0].srv.ip, 4);
		ip[20] = (uint8_t)(sport >> 8);
		ip[21] = (uint8_t)sport;
		ip[22] = 3478 >> 8;
		ip[23] = 3478 & 0xff;
		ip[24] = (uint8_t)(ulen >> 8);
		ip[25] = (uint8_t)ulen;
		ip[26] = 0x12; /* any non-zero checksum: the fast path updates, never checks */
		ip[27] = 0x34;
		memcpy(ip + 28, cd, 4);
	}
	struct turn_fast v[TURN_BURST];
	uint64_t fast_ok = 0;
	double tf[3];
	tf[0] = now_s();
	for (int dir = 0; dir < 2; dir++) {
		for (uint64_t p = 0; p < pkts; p += TURN_BURST) {
			for (unsigned i = 0; i < TURN_BURST; i++) {
				k = (k + 7919) % n;
				uint8_t *ip = hb[i] + OFF;
				memcpy(hb[i], tmpl[dir], OFF + 32);
				if (dir) {
					ip[22] = (uint8_t)((40000 + k) >> 8);
					ip[23] = (uint8_t)(40000 + k);
				} else {
					memcpy(ip + 12, ctx[k].cli.ip, 4);
				}
				v[i] = (struct turn_fast){.ip = ip,
							  .udp_len = dir ? 208 : 212,
							  .from_peer = (uint8_t)dir};
			}
			fast_ok += turn_relay_v4_burst(s, v, TURN_BURST, p);
		}
		tf[dir + 1] = now_s();
	}

	/* The same over IPv6: the general path for the IPv6 clients and their peer (from the
	 * peer: to the IPv6 relay address [2001:db8:100::10]:40000+k), then the IPv6 channel
	 * fast path, headers as above (40-byte IPv6 header, UDP right after it). */
	uint64_t ok6 = 0, fast_ok6 = 0;
	double t6[5];
	t6[0] = now_s();
	for (uint64_t p = 0; p < pkts; p += TURN_BURST) {
		for (unsigned i = 0; i < TURN_BURST; i++) {
			k = (k + 7919) % n;
			d[i] = (struct turn_dgram){.c = ctx6[k], .pl = cd, .len = sizeof(cd)};
		}
		turn_relay_burst(s, d, TURN_BURST, p, &rnd, f);
		for (unsigned i = 0; i < TURN_BURST; i++)
			ok6 += f[i].kind == TURN_FWD_PEER;
	}
	t6[1] = now_s();
	struct pr_taddr relay6 = ctx6[0].srv;
	for (uint64_t p = 0; p < pkts; p += TURN_BURST) {
		for (unsigned i = 0; i < TURN_BURST; i++) {
			k = (k + 7919) % n;
			relay6.port = (uint16_t)(40000 + k);
			d[i] = (struct turn_dgram){.c = {.cli = peer6, .srv = relay6},
						   .pl = data,
						   .len = sizeof(data),
						   .from_peer = 1};
		}
		turn_relay_burst(s, d, TURN_BURST, p, &rnd, f);
		for (unsigned i = 0; i < TURN_BURST; i++)
			ok6 += f[i].kind == TURN_FWD_CLIENT;
	}
	t6[2] = now_s();
	uint8_t tmpl6[2][HB] = {{0}};
	for (int dir = 0; dir < 2; dir++) {
		uint8_t *ip = tmpl6[dir] + OFF;
		uint16_t ulen = dir ? 208 : 212, sport = dir ? 5000 : 40000;
		ip[0] = 0x60;
		ip[4] = (uint8_t)(ulen >> 8); /* payload length: the UDP datagram */
		ip[5] = (uint8_t)ulen;
		ip[6] = 17;
		ip[7] = 64;
		memcpy(ip + 8, dir ? peer6.ip : ctx6[0].cli.ip, 16);
		memcpy(ip + 24, ctx6[0].srv.ip, 16);
		ip[40] = (uint8_t)(sport >> 8);
		ip[41] = (uint8_t)sport;
		ip[42] = 3478 >> 8;
		ip[43] = 3478 & 0xff;
		ip[44] = (uint8_t)(ulen >> 8);
		ip[45] = (uint8_t)ulen;
		ip[46] = 0x12;
		ip[47] = 0x34;
		memcpy(ip + 48, cd, 4);
	}
	struct turn_fast v6[TURN_BURST];
	for (int dir = 0; dir < 2; dir++) {
		for (uint64_t p = 0; p < pkts; p += TURN_BURST) {
			for (unsigned i = 0; i < TURN_BURST; i++) {
				k = (k + 7919) % n;
				uint8_t *ip = hb[i] + OFF;
				memcpy(hb[i], tmpl6[dir], OFF + 52);
				if (dir) {
					ip[42] = (uint8_t)((40000 + k) >> 8);
					ip[43] = (uint8_t)(40000 + k);
				} else {
					memcpy(ip + 8, ctx6[k].cli.ip, 16);
				}
				v6[i] = (struct turn_fast){.ip = ip,
							   .udp_len = dir ? 208 : 212,
							   .from_peer = (uint8_t)dir};
			}
			fast_ok6 += turn_relay_v6_burst(s, v6, TURN_BURST, p);
		}
		t6[dir + 3] = now_s();
	}
	free(hb);

	pkts = (pkts + TURN_BURST - 1) / TURN_BURST * TURN_BURST;
	/* The fast paths decline, by design, a client whose key shares its 32-bit hash with
	 * another allocation's found first (turn_hash_candidate; the dataplane hands those to
	 * turn_relay_burst). With 2n random keys a run has such a pair a few percent of the
	 * time: each costs the fast path at most its client's share of the walk. */
	uint32_t idx = 0, shadowed = 0;
	for (struct turn_alloc *a; (a = turn_alloc_next(t, &idx));)
		shadowed += turn_hash_candidate(t, turn_table_hash(t, &a->ft)) != a;
	const uint64_t excused = (uint64_t)shadowed * (pkts / n + 1);
	if (ok != 2 * pkts || ok6 != 2 * pkts || fast_ok > 2 * pkts || fast_ok6 > 2 * pkts ||
	    2 * pkts - fast_ok > excused || 2 * pkts - fast_ok6 > excused) {
		fprintf(
		    stderr,
		    "only %llu and %llu (IPv6: %llu and %llu) of %llu relayed; %u allocation(s) "
		    "share a hash with another\n",
		    (unsigned long long)ok, (unsigned long long)fast_ok, (unsigned long long)ok6,
		    (unsigned long long)fast_ok6, (unsigned long long)(2 * pkts), shadowed);
		return 1;
	}
	printf("{\"c2p_mpps\": %.2f, \"p2c_mpps\": %.2f, \"ns_c2p\": %.1f, \"ns_p2c\": %.1f, "
	       "\"fast_c2p_mpps\": %.2f, \"fast_p2c_mpps\": %.2f, "
	       "\"c2p6_mpps\": %.2f, \"p2c6_mpps\": %.2f, "
	       "\"fast_c2p6_mpps\": %.2f, \"fast_p2c6_mpps\": %.2f, "
	       "\"allocs\": %u, \"alloc_bytes\": %zu, \"table_bytes_per_alloc\": %zu}\n",
	       pkts / (t1 - t0) / 1e6, pkts / (t2 - t1) / 1e6, (t1 - t0) * 1e9 / pkts,
	       (t2 - t1) * 1e9 / pkts, pkts / (tf[1] - tf[0]) / 1e6, pkts / (tf[2] - tf[1]) / 1e6,
	       pkts / (t6[1] - t6[0]) / 1e6, pkts / (t6[2] - t6[1]) / 1e6,
	       pkts / (t6[3] - t6[2]) / 1e6, pkts / (t6[4] - t6[3]) / 1e6, n,
	       sizeof(struct turn_alloc), table_bytes / n);
	turn_server_destroy(s);
	turn_table_destroy(t);
	free(ctx);
	free(ctx6);
	return 0;
}
