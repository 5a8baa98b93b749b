#!/usr/bin/env python3
"""gen.py [--webrtc] REDIS_CMDS STREAMS N NOW: the media benchmark's sessions, as the slowpath
writes them.

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
and distinct.

--webrtc: N sessions of N/2 browser calls (N even), each as the slowpath writes a browser's
bundled call to a SIP device and as the hash stands once ICE and DTLS completed and a
dataplane relayed it: two sessions a call (audio, m= line 0; video, m= line 1). Leg a is the
browser's: X_keying dtls, ICE-lite credentials, X_dtls_setup passive, the browser's
certificate fingerprint and ours (X_dtls_local_fingerprint), rtcp-mux, and X_bundle <call>-a with X_bundle_pos 0/1, X_bundle_pt
(audio "111 63 9 0 8 13 110 126", video "96 97 98 99 100 101 45 46": apart),
X_bundle_ssrc (the browser's SSRC of the m= line) and X_mid; both members of a call on ONE
relay port, 20000 + 6c, from the browser 100.80.0.0 + c port 45000. Leg b is the SIP device,
SDES as above, on its own relay port per m= line (20002 + 6c audio, 20004 + 6c video), the
device 100.96.0.0 + c, ports 50000 (audio) and 50002 (video). In the same transaction, the
fields the dataplane owns, as the dataplane that relayed the call before wrote them: the
keys the handshake exported (X_dtls_suite, X_dtls_key_rx, X_dtls_key_tx: one handshake, so
the same in both members), both legs' X_latched (the browser's nominated address, the
device's latched one), X_streams (each leg's SSRC at RTP index ssrc & 0x3fff, just below
where mediagen starts its streams) and the figures (at 0). A dataplane installing such a record
restores the latch, the keys and the streams from the hash as after a restart, so the
browser's media relays at once, without a check or a handshake. Streams lines carry the
payload type (streams.h: 11th column): 111 for audio, 96 for video, both directions."""
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


ICE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
BR_BASE = int(ipaddress.IPv4Address("100.80.0.0"))
BR_PORT = 45000
PT = ("111 63 9 0 8 13 110 126", "96 97 98 99 100 101 45 46")


def ice(rnd, n):
    return "".join(rnd.choice(ICE_CHARS) for _ in range(n))


def figures(x, ssrc, latched, now):
    """Leg x's fields a dataplane writes (docs/redis-keyspace.md): one stream, ssrc, at RTP
    index ssrc & 0x3fff both ways (mediagen's streams start one above), its latch, and its
    figures at 0: a restored leg's counters go on from them, and at 0 the anchor's relayed
    count is this install's own, which media.sh reads to check that every direction relayed."""
    i = ssrc & 0x3FFF
    p = "%s_" % x
    return [p + "rx_packets", 0, p + "rx_bytes", 0, p + "tx_packets", 0, p + "tx_bytes", 0,
            p + "lost", 0, p + "jitter_us", 0, p + "auth_fail", 0, p + "relatch", 0,
            p + "kbps", 0, p + "latched", latched, p + "last_rx", now,
            p + "streams", "%08x:%d:-1:%d:-1" % (ssrc, i, i)]


def webrtc(cmds, streams, n, now):
    if n < 2 or n % 2 or PORT_MIN + 6 * (n // 2) > 60000:
        sys.exit("gen.py --webrtc: an even number of sessions, 2..13332 (relay ports 20000-59999)")
    rnd = random.SystemRandom()
    ssrcs = set()
    while len(ssrcs) < 2 * n:
        ssrcs.add(rnd.getrandbits(32))
    ssrcs = list(ssrcs)
    # our certificate's (pr:dtls:fingerprint when the calls were set up)
    ours = "sha-256 " + ":".join("%02X" % b for b in os.urandom(32))
    with open(cmds, "wb") as f, open(streams, "w") as s:
        s.write("# mediagen streams: %d bundled browser sessions (%d calls), suite %s\n"
                % (n, n // 2, SUITE))
        for c in range(n // 2):
            call = "wbench-%05d" % c
            br_ip = str(ipaddress.IPv4Address(BR_BASE + c))
            dev_ip = str(ipaddress.IPv4Address(B_BASE + c))
            br = "%s:%d" % (br_ip, BR_PORT)
            rp = PORT_MIN + 6 * c
            # one ICE pair and one DTLS association for the call's two m= lines
            ufrag, pwd, rufrag = ice(rnd, 16), ice(rnd, 32), ice(rnd, 16)
            fpr = "sha-256 " + ":".join("%02X" % b for b in os.urandom(32))
            k_rx, k_tx = key(), key()
            for m, media in enumerate(("audio", "video")):
                i = 2 * c + m
                sid = "%s-%d" % (call, m)
                pt = int(PT[m].split()[0])
                br_ssrc, dev_ssrc = ssrcs[2 * i], ssrcs[2 * i + 1]
                dev_port, relay_b = 50000 + 2 * m, rp + 2 + 2 * m
                d_rx, d_tx = key(), key()
                fields = ["v", 1, "id", sid, "call_id", "%s@bench.poprelay.test" % call,
                          "cdr_id", "cdr-" + call, "media", media, "mline", m,
                          "idle_timeout_s", 600, "created", now, "updated", now]
                fields += ["a_party", "sip:browser%d@bench.poprelay.test" % c, "a_onnet", 1,
                           "a_family", "ip4", "a_peer_addr", br_ip, "a_peer_port", BR_PORT,
                           "a_latch", 1, "a_relay_addr", RELAY, "a_relay_port", rp,
                           "a_rtcp_mux", 1, "a_profile", "RTP/SAVP", "a_suite", SUITE,
                           "a_key_rx", "", "a_key_tx", "", "a_encrypted", 1, "a_max_kbps", 0,
                           "a_ice_ufrag", ufrag, "a_ice_pwd", pwd, "a_ice_remote_ufrag", rufrag,
                           "a_keying", "dtls", "a_dtls_setup", "passive",
                           "a_dtls_fingerprint", fpr, "a_dtls_local_fingerprint", ours,
                           "a_bundle", call + "-a",
                           "a_bundle_pos", m, "a_bundle_pt", PT[m], "a_bundle_ssrc", br_ssrc,
                           "a_mid", m]
                fields += leg("b", "bob%d" % c, dev_ip, dev_port, relay_b, d_rx, d_tx)
                fields += ["b_keying", "sdes"]
                # what the dataplane that relayed the call wrote: DTLS keys, latches, streams
                dp = ["a_dtls_suite", SUITE, "a_dtls_key_rx", k_rx, "a_dtls_key_tx", k_tx]
                dp += figures("a", br_ssrc, br, now)
                dp += figures("b", dev_ssrc, "%s:%d" % (dev_ip, dev_port), now)
                f.write(resp("MULTI"))
                f.write(resp("DEL", "pr:session:" + sid))
                f.write(resp("HSET", "pr:session:" + sid, *fields))
                f.write(resp("HSET", "pr:session:" + sid, *dp))
                f.write(resp("SADD", "pr:sessions", sid))
                f.write(resp("XADD", "pr:sessions:stream", "MAXLEN", "~", 100000, "*",
                             "op", "install", "id", sid, "ts", now))
                f.write(resp("EXEC"))
                # browser -> device: the browser encrypts with its DTLS write key (our
                # key_rx), the relay re-encrypts with the device's b_key_tx; and back
                s.write("%08x %s %s %s %d %s %d %d %s %d %d\n" % (
                    br_ssrc, k_rx, d_tx, br_ip, BR_PORT, RELAY, rp, relay_b, dev_ip, dev_port,
                    pt))
                s.write("%08x %s %s %s %d %s %d %d %s %d %d\n" % (
                    dev_ssrc, d_rx, k_tx, dev_ip, dev_port, RELAY, relay_b, rp, br_ip, BR_PORT,
                    pt))


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "--webrtc":
        webrtc(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
        return
    if len(sys.argv) != 5:
        sys.exit("usage: gen.py [--webrtc] REDIS_CMDS STREAMS N NOW")
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
