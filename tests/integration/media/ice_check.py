#!/usr/bin/env python3
"""A browser's ICE connectivity check, for media_ice.sh: a STUN Binding request (RFC 8489)
with ICE's attributes (RFC 8445 7.1) and short-term credentials, written here from the RFCs
with the standard library only (hmac, zlib), independent of the relay's C code.

  ice_check.py --bind IP:PORT --to IP:PORT --user LFRAG:RFRAG --pwd PWD
               [--nominate] [--controlled] [--no-fingerprint] [--dtls] [--timeout S]

USERNAME is --user, MESSAGE-INTEGRITY is keyed with --pwd (the relay's ice-pwd: the key of
short-term credentials is the password itself); ICE-CONTROLLING (or --controlled:
ICE-CONTROLLED), PRIORITY, USE-CANDIDATE with --nominate, FINGERPRINT unless told not to.
--dtls sends a DTLS-looking record (first byte 22) instead and waits the same way.
Prints one JSON object: answered (bool), cls ("success"/"error"), error (code), mi_ok (the
answer's MESSAGE-INTEGRITY verifies under --pwd), fp_ok (its FINGERPRINT verifies),
mapped ("ip:port" of XOR-MAPPED-ADDRESS), tid_ok, from ("ip:port" the answer came from)."""
import argparse
import hashlib
import hmac
import json
import os
import socket
import struct
import zlib

MAGIC = 0x2112A442


def hostport(s):
    h, p = s.rsplit(":", 1)
    return h, int(p)


def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * ((4 - len(v) % 4) % 4)


def request(user, pwd, nominate, controlled, fingerprint, tid):
    body = attr(0x0024, struct.pack("!I", 0x6E7F1EFF))  # PRIORITY
    body += attr(0x8029 if controlled else 0x802A, os.urandom(8))  # ICE-CONTROLLED/-ING
    if nominate:
        body += attr(0x0025, b"")  # USE-CANDIDATE
    body += attr(0x0006, user.encode())  # USERNAME
    # MESSAGE-INTEGRITY: the header's length counts up to its end (RFC 8489 14.5)
    hdr = struct.pack("!HHI", 0x0001, len(body) + 24, MAGIC) + tid
    body += attr(0x0008, hmac.new(pwd.encode(), hdr + body, hashlib.sha1).digest())
    if fingerprint:
        hdr = struct.pack("!HHI", 0x0001, len(body) + 8, MAGIC) + tid
        crc = (zlib.crc32(hdr + body) ^ 0x5354554E) & 0xFFFFFFFF
        body += attr(0x8028, struct.pack("!I", crc))
    return struct.pack("!HHI", 0x0001, len(body), MAGIC) + tid + body


def parse(msg, pwd, tid):
    out = {"answered": True}
    mtype, length, magic = struct.unpack("!HHI", msg[:8])
    out["cls"] = {0x0101: "success", 0x0111: "error"}.get(mtype, hex(mtype))
    out["tid_ok"] = magic == MAGIC and msg[8:20] == tid and length + 20 == len(msg)
    out["mi_ok"] = out["fp_ok"] = False
    pos = 20
    while pos + 4 <= len(msg):
        t, n = struct.unpack("!HH", msg[pos:pos + 4])
        v = msg[pos + 4:pos + 4 + n]
        if t == 0x0020 and n == 8:  # XOR-MAPPED-ADDRESS, IPv4
            port = struct.unpack("!H", v[2:4])[0] ^ (MAGIC >> 16)
            ip = struct.unpack("!I", v[4:8])[0] ^ MAGIC
            out["mapped"] = "%s:%d" % (socket.inet_ntoa(struct.pack("!I", ip)), port)
        elif t == 0x0009:  # ERROR-CODE
            out["error"] = (v[2] & 7) * 100 + v[3]
        elif t == 0x0008:
            hdr = msg[:2] + struct.pack("!H", pos + 24 - 20) + msg[4:20]
            mac = hmac.new(pwd.encode(), hdr + msg[20:pos], hashlib.sha1).digest()
            out["mi_ok"] = hmac.compare_digest(mac, v)
        elif t == 0x8028:
            crc = (zlib.crc32(msg[:pos]) ^ 0x5354554E) & 0xFFFFFFFF
            out["fp_ok"] = struct.unpack("!I", v)[0] == crc and pos + 8 == len(msg)
        pos += 4 + n + (4 - n % 4) % 4
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", required=True)
    ap.add_argument("--to", required=True)
    ap.add_argument("--user", default="")
    ap.add_argument("--pwd", default="")
    ap.add_argument("--nominate", action="store_true")
    ap.add_argument("--controlled", action="store_true")
    ap.add_argument("--no-fingerprint", action="store_true")
    ap.add_argument("--dtls", action="store_true")
    ap.add_argument("--timeout", type=float, default=1.0)
    a = ap.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(hostport(a.bind))
    s.settimeout(a.timeout)
    tid = os.urandom(12)
    if a.dtls:  # a ClientHello's record header and some bytes
        pkt = bytes([22, 0xFE, 0xFD]) + b"\0" * 10 + os.urandom(60)
    else:
        pkt = request(a.user, a.pwd, a.nominate, a.controlled, not a.no_fingerprint, tid)
    s.sendto(pkt, hostport(a.to))
    try:
        msg, src = s.recvfrom(2048)
    except socket.timeout:
        print(json.dumps({"answered": False}))
        return
    out = parse(msg, a.pwd, tid)
    out["from"] = "%s:%d" % src
    print(json.dumps(out))


if __name__ == "__main__":
    main()
