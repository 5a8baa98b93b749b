#!/usr/bin/env python3
"""Checks for media_relay.sh: evaluates Python expressions over JSON documents.

  check.py [NAME=VALUE ...] -- EXPR [EXPR ...]

VALUE is a JSON text, or @FILE holding one (mpeer's summary, a dp_telemetry.py answer).
A dp_telemetry.py answer with a single command ({"/poprelay/...": x}) is bound as x.
Each EXPR is evaluated with the names bound; the helpers below are available too. Exit 0
when every EXPR is true; else prints each false one with the values of the names it uses,
and exits 1.

Helpers:
  d(new, old, key)        new[key] - old[key] (counters between two snapshots)
  udp_payloads(pcap)      the UDP payloads of a pcap file (mpeer --dump-tx/--dump-rx)
  common(p1, p2)          RTP payloads (after the 12-byte header) present in both pcaps
  count(pcap)             datagrams in a pcap
  last_ts(pcap)           UNIX time of the last datagram in a pcap (0 if none)
"""
import json
import re
import struct
import sys


def load(v):
    if v.startswith("@"):
        with open(v[1:]) as f:
            v = f.read()
    if not v.strip():
        return None
    x = json.loads(v)
    if isinstance(x, dict) and len(x) == 1 and next(iter(x)).startswith("/"):
        x = next(iter(x.values()))
    return x


def udp_payloads(path):
    b = open(path, "rb").read()
    if len(b) < 24:
        return []
    e = "<" if b[:4] == b"\xd4\xc3\xb2\xa1" else ">"
    lt = struct.unpack(e + "I", b[20:24])[0]
    out, pos = [], 24
    while pos + 16 <= len(b):
        incl = struct.unpack(e + "I", b[pos + 8:pos + 12])[0]
        if pos + 16 + incl > len(b):
            break  # a record still being written
        f = b[pos + 16:pos + 16 + incl]
        pos += 16 + incl
        off = {101: 0, 1: 14, 113: 16}.get(lt)
        if off is None or len(f) <= off:
            continue
        ip = f[off:]
        if ip[0] >> 4 == 4:
            h = (ip[0] & 15) * 4
            if ip[9] == 17:
                out.append(ip[h + 8:])
        elif ip[0] >> 4 == 6 and ip[6] == 17:
            out.append(ip[48:])
    return out


def common(p1, p2):
    a = {p[12:] for p in udp_payloads(p1) if len(p) > 12}
    b = {p[12:] for p in udp_payloads(p2) if len(p) > 12}
    return len(a & b)


def count(p):
    return len(udp_payloads(p))


def last_ts(path):
    b = open(path, "rb").read()
    e = "<" if b[:4] == b"\xd4\xc3\xb2\xa1" else ">"
    pos, ts = 24, 0.0
    while pos + 16 <= len(b):
        sec, usec, incl = struct.unpack(e + "III", b[pos:pos + 12])
        ts = sec + usec / 1e6
        pos += 16 + incl
    return ts


def d(new, old, key):
    return new[key] - old[key]


def main(argv):
    if "--" not in argv:
        print(__doc__, file=sys.stderr)
        return 2
    k = argv.index("--")
    env = {"d": d, "udp_payloads": udp_payloads, "common": common, "count": count,
           "last_ts": last_ts}
    for spec in argv[1:k]:
        name, v = spec.split("=", 1)
        try:
            env[name] = load(v)
        except (OSError, ValueError) as e:
            print(f"  cannot read {name}: {e}", file=sys.stderr)
            return 1
    bad = 0
    for expr in argv[k + 1:]:
        try:
            ok = eval(expr, env)  # noqa: S307 (test helper, the script's own expressions)
            err = ""
        except Exception as e:  # a missing key is a failure, with its reason
            ok, err = False, f" ({type(e).__name__}: {e})"
        if ok:
            continue
        bad += 1
        print(f"  false: {expr}{err}", file=sys.stderr)
        for name in sorted(set(re.findall(r"[A-Za-z_]\w*", expr))):
            if name in env and not callable(env[name]) and name not in ("True", "False"):
                print(f"    {name} = {json.dumps(env[name])[:1500]}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
