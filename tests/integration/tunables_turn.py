#!/usr/bin/env python3
"""TURN requests for tunables.sh, over media/turnshim.py's client (RFC 8656 over UDP,
long-term credentials). Prints one JSON line and exits 0 (1 on a usage or network error).

  tunables_turn.py alloc --server IP:PORT --user U --password P [--lifetime S] [--hold S]
      An Allocate (asking LIFETIME S when given): {"ok": true, "lifetime": granted,
      "relayed": "IP:PORT"} or {"ok": false, "code": N}. With --hold, keeps the allocation
      S seconds (or until SIGTERM), printing the line first, then releases it (LIFETIME 0).
  tunables_turn.py stale --server ... --user ... --password ... --wait S
      Learns a nonce (the 401), waits S seconds, then sends an authenticated Allocate with
      it and reports what came back: {"code": 0} (success) or {"code": 438, ...}.
  tunables_turn.py flood --server ... --user ... --password ... --peer IP:PORT --count N
                         --size B
      Allocates, binds a channel to --peer and sends N ChannelData messages of B bytes as
      fast as it can: {"ok": true, "sent": N}.
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

A_REQ_TRANSPORT, A_XOR_RELAYED = ts.A_TRANSPORT, ts.A_RELAYED


def client(o):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 0))
    return s, ts.Client(s, ts.hostport(o.server), o.user, o.password)


def allocate(c, lifetime=None):
    attrs = [(A_REQ_TRANSPORT, bytes([17, 0, 0, 0]))]
    if lifetime is not None:
        attrs.append((ts.A_LIFETIME, struct.pack("!I", lifetime)))
    at = c.transact(ts.ALLOCATE, attrs)
    granted = struct.unpack("!I", at[ts.A_LIFETIME][0])[0] if ts.A_LIFETIME in at else None
    relayed = ts.parse_xaddr(at[A_XOR_RELAYED][0]) if A_XOR_RELAYED in at else None
    return granted, relayed


def cmd_alloc(o):
    _, c = client(o)
    try:
        life, rel = allocate(c, o.lifetime)
    except ts.TurnError as e:
        msg = str(e)
        code = int(msg.split("error ")[1].split()[0]) if "error " in msg else -1
        print(json.dumps({"ok": False, "code": code, "error": msg}), flush=True)
        return 0
    print(json.dumps({"ok": True, "lifetime": life, "relayed": f"{rel[0]}:{rel[1]}"}),
          flush=True)
    if o.hold:
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        end = time.monotonic() + o.hold
        while not stop and time.monotonic() < end:
            time.sleep(0.1)
        try:
            c.transact(ts.REFRESH, [(ts.A_LIFETIME, struct.pack("!I", 0))])
        except ts.TurnError:
            pass
    return 0


def cmd_stale(o):
    s, c = client(o)
    attrs = [(A_REQ_TRANSPORT, bytes([17, 0, 0, 0]))]
    tid = os.urandom(12)
    s.sendto(ts.build(ts.ALLOCATE, 0, tid, attrs), c.server)
    ans = c.wait(tid, 2.0)
    if not ans or ans[1] != 3 or ts.error_code(ans[3])[0] != 401:
        print(json.dumps({"error": "no 401 to the first Allocate"}))
        return 1
    at = ans[3]
    realm, nonce = at[ts.A_REALM][0], at[ts.A_NONCE][0]
    key = ts.hashlib.md5(f"{o.user}:{realm.decode()}:{o.password}".encode()).digest()
    time.sleep(o.wait)
    tid = os.urandom(12)
    a = attrs + [(ts.A_USERNAME, o.user.encode()), (ts.A_REALM, realm), (ts.A_NONCE, nonce)]
    s.sendto(ts.build(ts.ALLOCATE, 0, tid, a, key), c.server)
    ans = c.wait(tid, 2.0)
    if not ans:
        print(json.dumps({"error": "no answer"}))
        return 1
    if ans[1] == 2:
        print(json.dumps({"code": 0}))
        c.key, c.realm, c.nonce = key, realm, nonce
        try:
            c.transact(ts.REFRESH, [(ts.A_LIFETIME, struct.pack("!I", 0))])
        except ts.TurnError:
            pass
        return 0
    code, reason = ts.error_code(ans[3])
    print(json.dumps({"code": code, "reason": reason}))
    return 0


def cmd_flood(o):
    s, c = client(o)
    allocate(c)
    peer = ts.hostport(o.peer)
    xp = ts.xaddr(*peer)
    c.transact(ts.CREATE_PERMISSION, [(ts.A_PEER, xp)])
    c.transact(ts.CHANNEL_BIND, [(ts.A_CHANNEL, struct.pack("!HH", 0x4000, 0)),
                                 (ts.A_PEER, xp)])
    payload = b"x" * o.size
    frame = struct.pack("!HH", 0x4000, len(payload)) + payload
    for _ in range(o.count):
        s.sendto(frame, c.server)
    print(json.dumps({"ok": True, "sent": o.count}), flush=True)
    c.transact(ts.REFRESH, [(ts.A_LIFETIME, struct.pack("!I", 0))])
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cmd", choices=["alloc", "stale", "flood"])
    ap.add_argument("--server", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--lifetime", type=int)
    ap.add_argument("--hold", type=float, default=0)
    ap.add_argument("--wait", type=float, default=0)
    ap.add_argument("--peer")
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--size", type=int, default=1000)
    o = ap.parse_args()
    try:
        return {"alloc": cmd_alloc, "stale": cmd_stale, "flood": cmd_flood}[o.cmd](o)
    except (ts.TurnError, OSError) as e:
        print(json.dumps({"error": str(e)}))
        return 1


if __name__ == "__main__":
    sys.exit(main())
