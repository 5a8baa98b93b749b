#!/usr/bin/env python3
"""gen.py REDIS_CMDS STREAMS N NOW: the media benchmark's sessions, as the slowpath writes them.

REDIS_CMDS: Redis protocol for `redis-cli --pipe`: for each of N sessions, the transaction the
slowpath's pr_ks_session_store makes (MULTI, DEL + HSET pr:session:<id> with every field of
docs/redis-keyspace.md "Media sessions", SADD pr:sessions, XADD pr:sessions:stream op install,
EXEC). Leg a is the device 100.64.1.0 + i port 40000, anchored on 198.51.100.10 port
20000 + 4i; leg b the device 100.96.1.0 + i port 50000, anchored on port 20002 + 4i (inside
the bench's [media] port range 20000-59999). Both legs SRTP AES_CM_128_HMAC_SHA1_80 with
fresh keys (key_rx and key_tx of each leg: 4 SDES key||salt per session, 30 random bytes
each, base64), latch yes, RTCP on port + 1.
STREAMS: what tests/bench/media/mediagen needs to play both devices, one line per direction
(2N lines, a->b then b->a of each session, in install order), see streams.h:
  ssrc send_key recv_key src_ip src_port relay_ip in_port out_port dst_ip dst_port
send_key is what the sending device encrypts with (its leg's key_rx), recv_key what the
relay encrypts toward the receiving device with (the other leg's key_tx); SSRCs are random
and distinct."""
import base64
import ipaddress
import os
import random
import sys

SUITE = "AES_CM_128_HMAC_SHA1_80"
RELAY = "198.51.100.10"
PORT_MIN = 20000
A_BASE = int(ipaddress.IPv4Address("100.64.1.0"))
B_BASE = int(ipaddress.IPv4Address("100.96.1.0"))
A_PORT, B_PORT = 40000, 50000


def key():
    return base64.b64encode(os.urandom(30)).decode()


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def leg(x, party, addr, port, relay_port, k_rx, k_tx):
    p = "%s_" % x
    return [p + "party", party, p + "onnet", 1, p + "family", "ip4",
            p + "peer_addr", addr, p + "peer_port", port, p + "latch", 1,
            p + "relay_addr", RELAY, p + "relay_port", relay_port, p + "rtcp_mux", 0,
            p + "profile", "RTP/SAVP", p + "suite", SUITE, p + "key_rx", k_rx,
            p + "key_tx", k_tx, p + "encrypted", 1, p + "max_kbps", 0]


def main():
    cmds, streams, n, now = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    if n < 1 or PORT_MIN + 4 * n > 60000:
        sys.exit("gen.py: 1..10000 sessions (relay ports 20000-59999)")
    rnd = random.SystemRandom()
    ssrcs = set()
    while len(ssrcs) < 2 * n:
        ssrcs.add(rnd.getrandbits(32))
    ssrcs = list(ssrcs)
    with open(cmds, "wb") as f, open(streams, "w") as s:
        s.write("# mediagen streams: %d sessions, suite %s\n" % (n, SUITE))
        for i in range(n):
            sid = "mbench-%05d" % i
            a_ip = str(ipaddress.IPv4Address(A_BASE + i))
            b_ip = str(ipaddress.IPv4Address(B_BASE + i))
            ra, rb = PORT_MIN + 4 * i, PORT_MIN + 4 * i + 2
            a_rx, a_tx, b_rx, b_tx = key(), key(), key(), key()
            fields = ["v", 1, "id", sid, "call_id", "%s@bench.poprelay.test" % sid,
                      "cdr_id", "cdr-" + sid, "media", "audio", "mline", 0,
                      "idle_timeout_s", 600, "created", now, "updated", now]
            fields += leg("a", "alice%d" % i, a_ip, A_PORT, ra, a_rx, a_tx)
            fields += leg("b", "bob%d" % i, b_ip, B_PORT, rb, b_rx, b_tx)
            f.write(resp("MULTI"))
            f.write(resp("DEL", "pr:session:" + sid))
            f.write(resp("HSET", "pr:session:" + sid, *fields))
            f.write(resp("SADD", "pr:sessions", sid))
            f.write(resp("XADD", "pr:sessions:stream", "MAXLEN", "~", 100000, "*",
                         "op", "install", "id", sid, "ts", now))
            f.write(resp("EXEC"))
            # a -> b: device a encrypts with a_key_rx, the relay re-encrypts with b_key_tx
            s.write("%08x %s %s %s %d %s %d %d %s %d\n" % (
                ssrcs[2 * i], a_rx, b_tx, a_ip, A_PORT, RELAY, ra, rb, b_ip, B_PORT))
            s.write("%08x %s %s %s %d %s %d %d %s %d\n" % (
                ssrcs[2 * i + 1], b_rx, a_tx, b_ip, B_PORT, RELAY, rb, ra, a_ip, A_PORT))


if __name__ == "__main__":
    main()
