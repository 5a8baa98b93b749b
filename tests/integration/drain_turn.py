#!/usr/bin/env python3
"""TURN for drain.sh, over media/turnshim.py's client (RFC 8656 over UDP, long-term
credentials). Prints JSON lines (flushed).

  drain_turn.py alloc --server IP:PORT --user U --password P
      One authenticated Allocate: {"code": 0, "relayed": "IP:PORT"} (released at once) or
      {"code": N, "alternate": "IP:PORT" or null, "integrity": bool} for an error answer
      (ALTERNATE-SERVER, RFC 8489 14.15: a plain address, not XOR'ed).
  drain_turn.py hold --server ... --user ... --password ... --peer IP:PORT --every S
      Allocates ({"allocated": "IP:PORT"}), then every S seconds a Refresh (LIFETIME 600),
      a CreatePermission and a ChannelBind (0x4000) for --peer: {"refresh": true} or {"refresh": false, "code": N}
      (then it exits 0: the allocation is gone). SIGTERM releases it (LIFETIME 0).
"""
import argparse
import json
import os
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "media"))
import turnshim as ts  # noqa: E402

A_ALTERNATE_SERVER = 0x8023


def out(d):
    print(json.dumps(d), flush=True)


def client(o):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 0))
    return s, ts.Client(s, ts.hostport(o.server), o.user, o.password)


def plain_addr(v):
    if v[1] != 1:
        return "ipv6"
    return "%s:%d" % (socket.inet_ntoa(v[4:8]), struct.unpack("!H", v[2:4])[0])


def cmd_alloc(o):
    s, c = client(o)
    attrs = [(ts.A_TRANSPORT, bytes([17, 0, 0, 0]))]
    tid = os.urandom(12)
    s.sendto(ts.build(ts.ALLOCATE, 0, tid, attrs), c.server)
    ans = c.wait(tid, 2.0)
    if not ans or ans[1] != 3 or ts.error_code(ans[3])[0] != 401:
        out({"error": "no 401 to the first Allocate"})
        return 1
    realm, nonce = ans[3][ts.A_REALM][0], ans[3][ts.A_NONCE][0]
    key = ts.hashlib.md5(f"{o.user}:{realm.decode()}:{o.password}".encode()).digest()
    a = attrs + [(ts.A_USERNAME, o.user.encode()), (ts.A_REALM, realm), (ts.A_NONCE, nonce)]
    tid = os.urandom(12)
    s.sendto(ts.build(ts.ALLOCATE, 0, tid, a, key), c.server)
    ans = c.wait(tid, 2.0)
    if not ans:
        out({"error": "no answer to the authenticated Allocate"})
        return 1
    at = ans[3]
    if ans[1] == 2:
        rel = ts.parse_xaddr(at[ts.A_RELAYED][0])
        out({"code": 0, "relayed": f"{rel[0]}:{rel[1]}"})
        c.key, c.realm, c.nonce = key, realm, nonce
        try:
            c.transact(ts.REFRESH, [(ts.A_LIFETIME, struct.pack("!I", 0))])
        except ts.TurnError:
            pass
        return 0
    code, reason = ts.error_code(at)
    alt = at.get(A_ALTERNATE_SERVER)
    out({"code": code, "reason": reason, "alternate": plain_addr(alt[0]) if alt else None,
         "integrity": ts.A_MI in at})
    return 0


def cmd_hold(o):
    _, c = client(o)
    at = c.transact(ts.ALLOCATE, [(ts.A_TRANSPORT, bytes([17, 0, 0, 0]))])
    rel = ts.parse_xaddr(at[ts.A_RELAYED][0])
    out({"allocated": f"{rel[0]}:{rel[1]}"})
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    xp = ts.xaddr(*ts.hostport(o.peer))
    while not stop:
        end = time.monotonic() + o.every
        while not stop and time.monotonic() < end:
            time.sleep(0.1)
        if stop:
            break
        try:
            c.transact(ts.REFRESH, [(ts.A_LIFETIME, struct.pack("!I", 600))])
            c.transact(ts.CREATE_PERMISSION, [(ts.A_PEER, xp)])
            c.transact(ts.CHANNEL_BIND, [(ts.A_CHANNEL, struct.pack("!HH", 0x4000, 0)),
                                         (ts.A_PEER, xp)])
            out({"refresh": True})
        except ts.TurnError as e:
            msg = str(e)
            code = int(msg.split("error ")[1].split()[0]) if "error " in msg else -1
            out({"refresh": False, "code": code, "error": msg})
            return 0
    try:
        c.transact(ts.REFRESH, [(ts.A_LIFETIME, struct.pack("!I", 0))])
    except ts.TurnError:
        pass
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cmd", choices=["alloc", "hold"])
    ap.add_argument("--server", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--peer", help="hold: the peer of the permission and the channel")
    ap.add_argument("--every", type=float, default=2)
    o = ap.parse_args()
    try:
        return {"alloc": cmd_alloc, "hold": cmd_hold}[o.cmd](o)
    except (ts.TurnError, OSError) as e:
        out({"error": str(e)})
        return 1


if __name__ == "__main__":
    sys.exit(main())
