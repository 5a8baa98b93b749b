#!/usr/bin/env python3
"""Hostile DTLS peers for media_dtls_hostile.sh (docs/media.md, "DTLS-SRTP").

  dtls_hostile.py capture OUT
      A real ClientHello: openssl s_client -dtls1_2 -use_srtp to a local UDP socket, its
      first datagram saved to OUT (checked: a DTLS handshake record, a ClientHello).
  dtls_hostile.py stall --bind IP:PORT --to IP:PORT --user L:R --pwd P --hello FILE [--wait S]
      A peer that never finishes: a nominated ICE check (ice_check.py's, short-term
      credentials), then the ClientHello from the same socket, then silence, counting for S
      seconds the DTLS datagrams the anchor sends back (its flights, retransmitted).
  dtls_hostile.py flood --sources IP,IP.. --to IP:PORT,IP:PORT.. --hello FILE --count N
                        [--rate PPS]
      The ClientHello from every source address in turn to every destination in turn:
      sources that no ICE check ever nominated.
  dtls_hostile.py checks --bind IP:PORT --to IP:PORT --user L:R --pwd P --count N
                         [--rate PPS] [--wait S]
      N valid ICE checks (not nominating) from one socket, paced at PPS, counting the
      success answers whose MESSAGE-INTEGRITY verifies until S seconds after the last.
  dtls_hostile.py records --bind IP:PORT,.. --to IP:PORT,.. --user L:R --pwd P --count N
                          [--size B] [--rate PPS]
      From each --bind to the --to of the same rank: a nominated check (the source becomes
      the leg's nominated address), then N DTLS records of B bytes (content type 23,
      application data: poprelay-dtls drops them for a leg with no handshake) per pair,
      round robin, PPS per pair; "seconds" the records took.
Each prints one JSON object."""
import argparse
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ice_check  # noqa: E402


def hostport(s):
    h, p = s.rsplit(":", 1)
    return h, int(p)


def capture(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)
    port = s.getsockname()[1]
    p = subprocess.Popen(["openssl", "s_client", "-dtls1_2", "-connect", f"127.0.0.1:{port}",
                          "-use_srtp", "SRTP_AES128_CM_SHA1_80:SRTP_AEAD_AES_128_GCM"],
                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        d, _ = s.recvfrom(4096)
    finally:
        p.kill()
        p.wait()
    # record: content type 22 (handshake), DTLS 1.x; handshake type 1 (client_hello)
    if len(d) < 26 or d[0] != 22 or d[1] != 0xFE or d[13] != 1:
        sys.exit("capture: not a DTLS ClientHello: %s" % d[:16].hex())
    open(a.out, "wb").write(d)
    print(json.dumps({"bytes": len(d)}))


def stall(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(hostport(a.bind))
    s.settimeout(1.0)
    tid = os.urandom(12)
    s.sendto(ice_check.request(a.user, a.pwd, True, False, True, tid), hostport(a.to))
    out = {"answered": False, "dtls_rx": 0}
    try:
        msg, _ = s.recvfrom(2048)
        r = ice_check.parse(msg, a.pwd, tid)
        out["answered"] = r["cls"] == "success" and r["mi_ok"]
    except socket.timeout:
        pass
    s.sendto(open(a.hello, "rb").read(), hostport(a.to))
    end = time.monotonic() + a.wait
    while time.monotonic() < end:
        s.settimeout(max(0.01, end - time.monotonic()))
        try:
            d, _ = s.recvfrom(4096)
        except socket.timeout:
            break
        if d and 20 <= d[0] <= 63:
            out["dtls_rx"] += 1
    print(json.dumps(out))


def flood(a):
    hello = open(a.hello, "rb").read()
    socks = []
    for ip in a.sources.split(","):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((ip, 0))
        socks.append(s)
    dests = [hostport(d) for d in a.to.split(",")]
    gap = 1.0 / a.rate
    t = time.monotonic()
    sent = 0
    for i in range(a.count):
        try:
            socks[i % len(socks)].sendto(hello, dests[i % len(dests)])
            sent += 1
        except OSError:
            pass
        t += gap
        d = t - time.monotonic()
        if d > 0:
            time.sleep(d)
    print(json.dumps({"sent": sent, "sources": len(socks)}))


def checks(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(hostport(a.bind))
    s.setblocking(False)
    to = hostport(a.to)
    tids = set()
    out = {"sent": 0, "answered": 0}

    def drain():
        while True:
            try:
                msg, _ = s.recvfrom(2048)
            except BlockingIOError:
                return
            if len(msg) >= 20 and msg[8:20] in tids:
                r = ice_check.parse(msg, a.pwd, msg[8:20])
                if r["cls"] == "success" and r["mi_ok"]:
                    out["answered"] += 1
                tids.discard(msg[8:20])

    gap = 1.0 / a.rate
    t = time.monotonic()
    for _ in range(a.count):
        tid = os.urandom(12)
        tids.add(tid)
        try:
            s.sendto(ice_check.request(a.user, a.pwd, False, False, True, tid), to)
            out["sent"] += 1
        except OSError:
            pass
        drain()
        t += gap
        d = t - time.monotonic()
        if d > 0:
            time.sleep(d)
    end = time.monotonic() + a.wait
    while time.monotonic() < end:
        time.sleep(0.01)
        drain()
    print(json.dumps(out))


def records(a):
    pairs = list(zip(a.bind.split(","), a.to.split(",")))
    socks = []
    out = {"nominated": 0, "sent": 0}
    for b, to in pairs:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(hostport(b))
        s.settimeout(1.0)
        tid = os.urandom(12)
        s.sendto(ice_check.request(a.user, a.pwd, True, False, True, tid), hostport(to))
        try:
            msg, _ = s.recvfrom(2048)
            r = ice_check.parse(msg, a.pwd, tid)
            out["nominated"] += r["cls"] == "success" and r["mi_ok"]
        except socket.timeout:
            pass
        socks.append((s, hostport(to)))
    # a DTLS 1.2 record header (type 23, epoch 1) and its length, then noise
    body = bytes([23, 0xFE, 0xFD, 0, 1]) + b"\0" * 6
    body += (a.size - 13).to_bytes(2, "big") + os.urandom(a.size - 13)
    gap = 1.0 / a.rate
    t = t0 = time.monotonic()
    for _ in range(a.count):
        for s, to in socks:
            try:
                s.sendto(body, to)
                out["sent"] += 1
            except OSError:
                pass
        t += gap
        d = t - time.monotonic()
        if d > 0:
            time.sleep(d)
    out["seconds"] = round(time.monotonic() - t0, 3)
    print(json.dumps(out))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("capture")
    c.add_argument("out")
    st = sub.add_parser("stall")
    st.add_argument("--bind", required=True)
    st.add_argument("--to", required=True)
    st.add_argument("--user", required=True)
    st.add_argument("--pwd", required=True)
    st.add_argument("--hello", required=True)
    st.add_argument("--wait", type=float, default=1.0)
    f = sub.add_parser("flood")
    f.add_argument("--sources", required=True)
    f.add_argument("--to", required=True)
    f.add_argument("--hello", required=True)
    f.add_argument("--count", type=int, required=True)
    f.add_argument("--rate", type=float, default=1000)
    for name in ("checks", "records"):
        c = sub.add_parser(name)
        c.add_argument("--bind", required=True)
        c.add_argument("--to", required=True)
        c.add_argument("--user", required=True)
        c.add_argument("--pwd", required=True)
        c.add_argument("--count", type=int, required=True)
        c.add_argument("--rate", type=float, default=1000)
    sub.choices["checks"].add_argument("--wait", type=float, default=1.0)
    sub.choices["records"].add_argument("--size", type=int, default=1200)
    a = ap.parse_args()
    {"capture": capture, "stall": stall, "flood": flood, "checks": checks,
     "records": records}[a.cmd](a)


if __name__ == "__main__":
    main()
