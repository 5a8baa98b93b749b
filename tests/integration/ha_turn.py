#!/usr/bin/env python3
"""A TURN client for ha_takeover.sh, over media/turnshim.py (RFC 8656 over UDP, long-term
credentials): Allocate, CreatePermission and ChannelBind (0x4000) for --peer, then a
ChannelData datagram every --interval seconds, numbered, which the peer (turnutils_peer)
echoes back through the relay.

Driven through files in --dir:
  state.json  rewritten every 0.1 s: {"rx": N, "last_rx": unix time, "sources": [...]}
  refresh     when it appears: a Refresh (LIFETIME 600), answered on stdout
              {"refresh": true} or {"refresh": false, "error": ...}; then removed
  pause       while it exists, nothing is sent (the echoes in flight still come back)
  bind        with --no-bind: when it appears, the CreatePermission and ChannelBind (and
              then the data), answered on stdout {"bound": true} or {"bound": false, ...}
  release     when it appears: a Refresh with LIFETIME 0 (the allocation deleted), answered
              {"released": true} or {"released": false, ...}; nothing is sent after it
  stop        when it appears: the summary on stdout and exit 0
Stdout (JSON lines, flushed): {"allocated": "IP:PORT"}, the refresh answers, and the
summary {"sent", "received", "gaps": [[from, to, ms], ...] (silences over 100 ms, unix
times), "sources": [...] (where the echoes came from), "missing": how many of the numbers
sent never came back, "dup": echoes of a number already seen}.
"""
import argparse
import json
import os
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "media"))
import turnshim as ts  # noqa: E402

CHAN = 0x4000


def out(d):
    print(json.dumps(d), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--peer", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--interval", type=float, default=0.02)
    ap.add_argument("--no-bind", action="store_true",
                    help="allocate only; the permission and channel when 'bind' appears")
    o = ap.parse_args()

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 0))
    c = ts.Client(s, ts.hostport(o.server), o.user, o.password)
    try:
        at = c.transact(ts.ALLOCATE, [(ts.A_TRANSPORT, bytes([17, 0, 0, 0]))])
        rel = ts.parse_xaddr(at[ts.A_RELAYED][0])
        xp = ts.xaddr(*ts.hostport(o.peer))

        def bind():
            c.transact(ts.CREATE_PERMISSION, [(ts.A_PEER, xp)])
            c.transact(ts.CHANNEL_BIND, [(ts.A_CHANNEL, struct.pack("!HH", CHAN, 0)),
                                         (ts.A_PEER, xp)])
        if not o.no_bind:
            bind()
    except (ts.TurnError, OSError) as e:
        out({"error": str(e)})
        return 1
    out({"allocated": f"{rel[0]}:{rel[1]}"})
    bound, released = not o.no_bind, False

    sent = rx = dup = 0
    seen = set()
    last_rx = None
    gaps, sources = [], set()
    next_send = time.monotonic()
    next_state = 0.0

    def take(b, src):
        nonlocal rx, last_rx, dup
        if len(b) < 4 or struct.unpack("!H", b[:2])[0] != CHAN:
            return
        if len(b) >= 10 and b[4:6] == b"ha":
            n = struct.unpack("!I", b[6:10])[0]
            if n in seen:
                dup += 1
            seen.add(n)
        now = time.time()
        if last_rx is not None and now - last_rx > 0.1:
            gaps.append([last_rx, now, round((now - last_rx) * 1000)])
        rx += 1
        last_rx = now
        sources.add(f"{src[0]}:{src[1]}")

    while True:
        now = time.monotonic()
        if now >= next_send:
            if bound and not released and not os.path.exists(os.path.join(o.dir, "pause")):
                payload = b"ha" + struct.pack("!I", sent) + b"x" * 34
                s.sendto(struct.pack("!HH", CHAN, len(payload)) + payload, c.server)
                sent += 1
            next_send = now + o.interval
        r, _, _ = select.select([s], [], [], max(0.0, next_send - time.monotonic()))
        if r:
            b, src = s.recvfrom(65535)
            take(b, src)
        for b in c.early:  # data that came while a Refresh waited for its answer
            take(b, c.server)
        c.early.clear()
        if now >= next_state:
            next_state = now + 0.1
            tmp = os.path.join(o.dir, "state.json.tmp")
            with open(tmp, "w") as f:
                json.dump({"rx": rx, "sent": sent, "last_rx": last_rx, "seen": len(seen),
                           "sources": sorted(sources)}, f)
            os.replace(tmp, os.path.join(o.dir, "state.json"))
            if os.path.exists(os.path.join(o.dir, "refresh")):
                os.unlink(os.path.join(o.dir, "refresh"))
                try:
                    c.transact(ts.REFRESH, [(ts.A_LIFETIME, struct.pack("!I", 600))])
                    out({"refresh": True})
                except (ts.TurnError, OSError) as e:
                    out({"refresh": False, "error": str(e)})
            if not bound and os.path.exists(os.path.join(o.dir, "bind")):
                os.unlink(os.path.join(o.dir, "bind"))
                try:
                    bind()
                    bound = True
                    out({"bound": True})
                except (ts.TurnError, OSError) as e:
                    out({"bound": False, "error": str(e)})
            if not released and os.path.exists(os.path.join(o.dir, "release")):
                os.unlink(os.path.join(o.dir, "release"))
                try:
                    c.transact(ts.REFRESH, [(ts.A_LIFETIME, struct.pack("!I", 0))])
                    released = True
                    out({"released": True})
                except (ts.TurnError, OSError) as e:
                    out({"released": False, "error": str(e)})
            if os.path.exists(os.path.join(o.dir, "stop")):
                out({"sent": sent, "received": rx, "gaps": gaps, "sources": sorted(sources),
                     "missing": sum(1 for n in range(sent) if n not in seen), "dup": dup})
                return 0


if __name__ == "__main__":
    sys.exit(main())
