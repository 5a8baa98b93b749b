#!/usr/bin/env python3
"""ng.py NG_IP:PORT CALLS STREAMS A_IP:PORT B_IP:PORT: sets up CALLS SRTP->SRTP calls on
rtpengine over its NG protocol (bencode over UDP) and writes the streams file
(tests/bench/media/streams.h) that tests/bench/media/rtpdrive plays through them.

Each call: device A (A_IP:PORT) offers RTP/SAVP with two AES_CM_128_HMAC_SHA1_80 keys (tags 1
and 2, both fresh), ICE removed, DTLS off; device B (B_IP:PORT) answers with tag 2 and its
own fresh key. rtpengine copies offered SDES keys into what it offers on (so that two SDES
ends may be passed through untouched) and answers A with B's key, so with a single offered
key every key would be the same on both legs and rtpengine would forward SRTP as it is.
With two, A encrypts with its tag-1 key (the tag rtpengine's answer accepts) while B
expects rtpengine to encrypt with the tag-2 key it accepted: A->B changes keys from one leg
to the other, and since rtpengine compares a call's keys on both legs when it picks its
packet handler, it decrypts and re-encrypts every packet in both directions (B->A is
re-encrypted with the same key B used: the answer carries B's key to A). The script checks
from the SDPs that A->B's keys differ on every call.

Streams file lines (a->b, then b->a of each call):
  ssrc send_key recv_key src_ip src_port relay_ip in_port out_port dst_ip dst_port
Calls left by an earlier run are deleted first. Prints a one-line summary on stderr. Exit 1 when rtpengine refuses a call."""
import base64
import os
import random
import re
import socket
import sys

SUITE = "AES_CM_128_HMAC_SHA1_80"


def benc(x):
    if isinstance(x, int):
        return b"i%de" % x
    if isinstance(x, str):
        x = x.encode()
    if isinstance(x, bytes):
        return b"%d:%s" % (len(x), x)
    if isinstance(x, list):
        return b"l" + b"".join(benc(i) for i in x) + b"e"
    if isinstance(x, dict):
        return b"d" + b"".join(benc(k) + benc(v) for k, v in sorted(x.items())) + b"e"
    raise TypeError(type(x))


def bdec(b, i=0):
    c = b[i:i + 1]
    if c == b"i":
        j = b.index(b"e", i)
        return int(b[i + 1:j]), j + 1
    if c == b"l":
        i += 1
        out = []
        while b[i:i + 1] != b"e":
            v, i = bdec(b, i)
            out.append(v)
        return out, i + 1
    if c == b"d":
        i += 1
        out = {}
        while b[i:i + 1] != b"e":
            k, i = bdec(b, i)
            v, i = bdec(b, i)
            out[k.decode()] = v
        return out, i + 1
    j = b.index(b":", i)
    n = int(b[i:j])
    return b[j + 1:j + 1 + n], j + 1 + n


class Ng:
    def __init__(self, addr):
        self.addr = addr
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.settimeout(5)

    def __call__(self, d):
        ck = os.urandom(6).hex().encode()
        self.s.sendto(ck + b" " + benc(d), self.addr)
        while True:
            r = self.s.recv(65535)
            if r.startswith(ck + b" "):
                r = bdec(r[len(ck) + 1:])[0]
                if r.get("result") != b"ok":
                    sys.exit("ng.py: %s refused: %s" % (d["command"], r.get("error-reason")))
                return r


def key():
    return base64.b64encode(os.urandom(30)).decode()


def sdp(ip, port, cryptos):
    lines = ["v=0", "o=- 1 1 IN IP4 %s" % ip, "s=-", "c=IN IP4 %s" % ip, "t=0 0",
             "m=audio %d RTP/SAVP 0" % port, "a=rtpmap:0 PCMU/8000", "a=sendrecv"]
    lines += ["a=crypto:%d %s inline:%s" % (t, SUITE, k) for t, k in cryptos]
    return "\r\n".join(lines) + "\r\n"


def parse(s):
    s = s.decode()
    port = int(re.search(r"^m=audio (\d+) ", s, re.M).group(1))
    ip = re.search(r"^c=IN IP4 (\S+)", s, re.M).group(1)
    cr = {int(t): k for t, k in re.findall(r"^a=crypto:(\d+) " + SUITE + r" inline:([^\s|]+)",
                                           s, re.M)}
    return ip, port, cr


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    calls, out = int(sys.argv[2]), sys.argv[3]
    a_ip, a_port = sys.argv[4].rsplit(":", 1)
    b_ip, b_port = sys.argv[5].rsplit(":", 1)
    a_port, b_port = int(a_port), int(b_port)
    ng = Ng((host, int(port)))
    rnd = random.SystemRandom()
    ssrcs = set()
    while len(ssrcs) < 2 * calls:
        ssrcs.add(rnd.getrandbits(32))
    ssrcs = list(ssrcs)
    differ = 0
    run = "%08x" % rnd.getrandbits(32)  # new calls on every run, never re-offers
    # the calls of the runs before end first: each holds four of rtpengine's ports
    for cid in ng({"command": "list", "limit": "1000000"}).get("calls", []):
        ng({"command": "delete", "call-id": cid})
    with open(out, "w") as f:
        f.write("# rtpengine streams: %d calls, suite %s\n" % (calls, SUITE))
        for i in range(calls):
            cid, ka1, ka2, kb = "bench-%s-%05d" % (run, i), key(), key(), key()
            r = ng({"command": "offer", "call-id": cid, "from-tag": "a%d" % i,
                    "sdp": sdp(a_ip, a_port, [(1, ka1), (2, ka2)]),
                    "transport-protocol": "RTP/SAVP", "ICE": "remove", "DTLS": "off",
                    "replace": ["origin", "session-connection"]})
            r_ip, p_b, offered_b = parse(r["sdp"])
            r = ng({"command": "answer", "call-id": cid, "from-tag": "a%d" % i,
                    "to-tag": "b%d" % i, "sdp": sdp(b_ip, b_port, [(2, kb)]),
                    "ICE": "remove", "DTLS": "off", "replace": ["origin", "session-connection"]})
            _, p_a, answered_a = parse(r["sdp"])
            if len(answered_a) != 1 or 2 not in offered_b:
                sys.exit("ng.py: call %s: unexpected crypto in rtpengine's SDP" % cid)
            tag_a, key_to_a = next(iter(answered_a.items()))
            a_send = {1: ka1, 2: ka2}[tag_a]
            to_b = offered_b[2]
            differ += a_send != to_b
            # a -> b: A encrypts with its accepted tag's key, rtpengine re-encrypts for B
            # with the tag-2 key B accepted; b -> a: B's key in, the answer's key out
            f.write("%08x %s %s %s %d %s %d %d %s %d\n" % (
                ssrcs[2 * i], a_send, to_b, a_ip, a_port, r_ip, p_a, p_b, b_ip, b_port))
            f.write("%08x %s %s %s %d %s %d %d %s %d\n" % (
                ssrcs[2 * i + 1], kb, key_to_a, b_ip, b_port, r_ip, p_b, p_a, a_ip, a_port))
    print("ng.py: %d calls, A->B keys differ on %d of them" % (calls, differ), file=sys.stderr)
    if differ != calls:
        sys.exit(1)


if __name__ == "__main__":
    main()
