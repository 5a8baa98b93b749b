#!/usr/bin/env python3
"""gen.py REDIS_CMDS LEGS N NOW FINGERPRINT CLIENT_IP: the DTLS benchmark's sessions on
poprelay's anchor, as the slowpath writes a browser's call (docs/redis-keyspace.md, "Media
sessions"; the same fields as tests/integration/media_dtls.sh's ms_store_dtls).

REDIS_CMDS: Redis protocol for `redis-cli --pipe`, one MULTI/EXEC a session (DEL + HSET
pr:session:<id>, SADD pr:sessions, XADD pr:sessions:stream op install). Leg a is the
browser's: ICE-lite (ice_ufrag, ice_pwd, ice_remote_ufrag of its own), X_keying dtls,
X_dtls_setup passive (we are the DTLS server, the browser sends the ClientHello),
X_dtls_fingerprint FINGERPRINT (the load client's certificate), rtcp-mux, anchored on
198.51.100.10 port 20000 + 4i. Leg b is an SDES device (AES_CM_128_HMAC_SHA1_80, fresh
keys) anchored on port 20002 + 4i.
LEGS: tests/bench/webrtc/dtlsload's legs file, "CLIENT_IP:0 198.51.100.10:PORT UFRAG PWD
RUFRAG" a line (the client's check is USERNAME ufrag:rufrag with MESSAGE-INTEGRITY from the
leg's ice-pwd)."""
import base64
import os
import sys

RELAY = "198.51.100.10"
PORT_MIN = 20000


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def main():
    cmds, legs, n, now, fpr, cli = (sys.argv[1], sys.argv[2], int(sys.argv[3]),
                                    int(sys.argv[4]), sys.argv[5], sys.argv[6])
    if n < 1 or PORT_MIN + 4 * n > 60000:
        sys.exit("gen.py: 1..10000 sessions (relay ports 20000-59999)")
    run = os.urandom(3).hex()
    with open(cmds, "wb") as f, open(legs, "w") as lg:
        for i in range(n):
            sid = "wdtls-%05d" % i
            ra, rb = PORT_MIN + 4 * i, PORT_MIN + 4 * i + 2
            ufrag, rufrag = "an%s%05d" % (run, i), "br%s%05d" % (run, i)
            pwd = base64.b64encode(os.urandom(18)).decode()
            k = lambda: base64.b64encode(os.urandom(30)).decode()
            fields = ["v", 1, "id", sid, "call_id", "%s@bench.poprelay.test" % sid,
                      "cdr_id", "cdr-" + sid, "media", "audio", "mline", 0,
                      "idle_timeout_s", 600, "created", now, "updated", now]
            fields += ["a_party", "browser%d" % i, "a_onnet", 1, "a_family", "ip4",
                       "a_peer_addr", cli, "a_peer_port", 9, "a_latch", 1,
                       "a_relay_addr", RELAY, "a_relay_port", ra, "a_rtcp_mux", 1,
                       "a_profile", "RTP/SAVP", "a_encrypted", 1, "a_max_kbps", 0,
                       "a_ice_ufrag", ufrag, "a_ice_pwd", pwd, "a_ice_remote_ufrag", rufrag,
                       "a_keying", "dtls", "a_dtls_setup", "passive",
                       "a_dtls_fingerprint", fpr]
            fields += ["b_party", "device%d" % i, "b_onnet", 1, "b_family", "ip4",
                       "b_peer_addr", cli, "b_peer_port", 40000, "b_latch", 1,
                       "b_relay_addr", RELAY, "b_relay_port", rb, "b_rtcp_mux", 1,
                       "b_profile", "RTP/SAVP", "b_suite", "AES_CM_128_HMAC_SHA1_80",
                       "b_key_rx", k(), "b_key_tx", k(), "b_encrypted", 1, "b_max_kbps", 0]
            f.write(resp("MULTI"))
            f.write(resp("DEL", "pr:session:" + sid))
            f.write(resp("HSET", "pr:session:" + sid, *fields))
            f.write(resp("SADD", "pr:sessions", sid))
            f.write(resp("XADD", "pr:sessions:stream", "MAXLEN", "~", 100000, "*",
                         "op", "install", "id", sid, "ts", now))
            f.write(resp("EXEC"))
            lg.write("%s:0 %s:%d %s %s %s\n" % (cli, RELAY, ra, ufrag, pwd, rufrag))


if __name__ == "__main__":
    main()
