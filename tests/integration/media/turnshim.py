#!/usr/bin/env python3
"""A TURN client shim for media_turn.sh: a device that reaches the media anchor only
through the appliance's own TURN relay (RFC 8656 over UDP, plain sockets).

  turnshim.py --server IP:PORT --user U --password P [--bind IP:PORT]
              --peer IP:PORT [--local IP:PORT --app IP:PORT] [--duration S]
              [--probe IP:PORT ... --probe-count N]

1. Allocate with long-term credentials: a first request without them, the 401 gives
   REALM and NONCE; the second carries USERNAME, REALM, NONCE, REQUESTED-TRANSPORT (UDP)
   and MESSAGE-INTEGRITY keyed with MD5(user:realm:password). A 438 (stale nonce) is
   retried with the new nonce.
2. CreatePermission and ChannelBind (0x4000 up) for --peer (and each --probe).
3. Prints "relayed IP:PORT" on stdout (flushed) once it all succeeded.
4. Relay: what arrives on --local (mpeer's socket sends there) goes to the server as
   ChannelData for --peer; ChannelData and Data indications from the server are unwrapped
   and sent from --local to --app (mpeer's address; else the last address --local heard
   from). Until --duration seconds have passed, or SIGTERM/SIGINT.
   --probe instead: sends --probe-count datagrams to each probe address as ChannelData and
   as many as Send indications, listens --duration seconds for anything coming back, and
   exits.
5. Prints one JSON line: the relayed address, the channels, packets and bytes each way,
   by kind (chandata, data_ind) and what it could not use.
Exits 0, or 1 when a TURN request failed (the JSON then has "error").
"""
import argparse
import hashlib
import hmac
import json
import os
import select
import signal
import socket
import struct
import sys
import time

COOKIE = 0x2112A442
ALLOCATE, REFRESH, SEND, DATA, CREATE_PERMISSION, CHANNEL_BIND = 3, 4, 6, 7, 8, 9
A_USERNAME, A_MI, A_ERROR, A_CHANNEL, A_LIFETIME = 0x0006, 0x0008, 0x0009, 0x000C, 0x000D
A_PEER, A_DATA, A_REALM, A_NONCE, A_RELAYED = 0x0012, 0x0013, 0x0014, 0x0015, 0x0016
A_TRANSPORT, A_MAPPED, A_SOFTWARE, A_FINGERPRINT = 0x0019, 0x0020, 0x8022, 0x8028


class TurnError(Exception):
    pass


def hostport(s):
    h, p = s.rsplit(":", 1)
    return h, int(p)


def msg_type(method, cls):  # cls: 0 request, 1 indication, 2 success, 3 error
    m = method
    return ((m & 0xF80) << 2) | ((m & 0x070) << 1) | (m & 0x00F) | ((cls & 2) << 7) | ((cls & 1) << 4)


def split_type(t):
    method = (t & 0x000F) | ((t & 0x00E0) >> 1) | ((t & 0x3E00) >> 2)
    cls = ((t & 0x0100) >> 7) | ((t & 0x0010) >> 4)
    return method, cls


def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * (-len(v) % 4)


def xaddr(ip, port):
    a = socket.inet_aton(ip)
    x = bytes(b ^ c for b, c in zip(a, struct.pack("!I", COOKIE)))
    return struct.pack("!BBH", 0, 1, port ^ (COOKIE >> 16)) + x


def parse_xaddr(v):
    fam, port = v[1], struct.unpack("!H", v[2:4])[0] ^ (COOKIE >> 16)
    if fam != 1:
        raise TurnError("IPv6 address in an answer")
    ip = bytes(b ^ c for b, c in zip(v[4:8], struct.pack("!I", COOKIE)))
    return socket.inet_ntoa(ip), port


def build(method, cls, tid, attrs, key=None):
    body = b"".join(attr(t, v) for t, v in attrs)
    if key is None:
        return struct.pack("!HHI", msg_type(method, cls), len(body), COOKIE) + tid + body
    # MESSAGE-INTEGRITY: HMAC-SHA1 over the message up to it, its length counting the MI
    hdr = struct.pack("!HHI", msg_type(method, cls), len(body) + 24, COOKIE) + tid
    mac = hmac.new(key, hdr + body, hashlib.sha1).digest()
    return hdr + body + attr(A_MI, mac)


def parse(b):
    """A STUN message: (method, class, tid, {type: [values]}), or None."""
    if len(b) < 20 or b[0] & 0xC0:
        return None
    t, ln, cookie = struct.unpack("!HHI", b[:8])
    if cookie != COOKIE or ln + 20 != len(b):
        return None
    attrs, pos = {}, 20
    while pos + 4 <= len(b):
        at, al = struct.unpack("!HH", b[pos:pos + 4])
        attrs.setdefault(at, []).append(b[pos + 4:pos + 4 + al])
        pos += 4 + al + (-al % 4)
    method, cls = split_type(t)
    return method, cls, b[8:20], attrs


def error_code(attrs):
    v = attrs.get(A_ERROR, [b"\0\0\0\0"])[0]
    return (v[2] & 7) * 100 + v[3], v[4:].decode(errors="replace")


class Client:
    def __init__(self, sock, server, user, password):
        self.sock, self.server, self.user, self.password = sock, server, user, password
        self.realm = self.nonce = self.key = None
        self.early = []  # data that arrived while waiting for an answer

    def transact(self, method, attrs, auth=True):
        """A request; retries on loss, answers 401/438 once with fresh credentials."""
        for attempt in range(4):
            tid = os.urandom(12)
            a = list(attrs)
            if auth and self.key is not None:
                a += [(A_USERNAME, self.user.encode()), (A_REALM, self.realm),
                      (A_NONCE, self.nonce)]
            req = build(method, 0, tid, a, self.key if auth else None)
            ans = None
            for _ in range(3):
                self.sock.sendto(req, self.server)
                ans = self.wait(tid, 1.0)
                if ans:
                    break
            if ans is None:
                raise TurnError(f"method {method}: no answer")
            _, cls, _, at = ans
            if cls == 2:
                return at
            code, reason = error_code(at)
            if code in (401, 438) and auth and attempt < 3:
                if A_REALM not in at or A_NONCE not in at:
                    raise TurnError(f"method {method}: {code} without REALM/NONCE")
                fresh = self.key is None or code == 438
                self.realm, self.nonce = at[A_REALM][0], at[A_NONCE][0]
                self.key = hashlib.md5(
                    f"{self.user}:{self.realm.decode()}:{self.password}".encode()).digest()
                if fresh:
                    continue
            raise TurnError(f"method {method}: error {code} {reason}")
        raise TurnError(f"method {method}: too many challenges")

    def wait(self, tid, timeout):
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return None
            b, src = self.sock.recvfrom(65535)
            m = parse(b)
            if m and m[1] in (2, 3) and m[2] == tid:
                return m
            self.early.append(b)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", required=True)
    ap.add_argument("--bind", default="0.0.0.0:0", help="the TURN client socket")
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--peer", help="the peer relayed to (the anchor's address:port)")
    ap.add_argument("--local", help="the socket mpeer sends to")
    ap.add_argument("--app", help="mpeer's address (else learned from --local)")
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--probe", action="append", default=[])
    ap.add_argument("--probe-count", type=int, default=10)
    o = ap.parse_args()

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.bind(hostport(o.bind))
    server = hostport(o.server)
    c = Client(s, server, o.user, o.password)
    fig = {"relayed": None, "mapped": None, "channels": {}, "up": 0, "up_bytes": 0,
           "down": 0, "down_bytes": 0, "down_chandata": 0, "down_data_ind": 0,
           "down_other": 0, "down_unknown_channel": 0, "down_from": {},
           "probe_sent_chandata": 0, "probe_sent_send_ind": 0, "local_from": []}
    chan_of, peer_of = {}, {}

    def out(line):
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    try:
        at = c.transact(ALLOCATE, [(A_TRANSPORT, bytes([17, 0, 0, 0]))])
        relayed = "%s:%d" % parse_xaddr(at[A_RELAYED][0])
        fig["relayed"] = relayed
        if A_MAPPED in at:
            fig["mapped"] = "%s:%d" % parse_xaddr(at[A_MAPPED][0])
        targets = ([o.peer] if o.peer else []) + o.probe
        for i, p in enumerate(targets):
            ip, port = hostport(p)
            c.transact(CREATE_PERMISSION, [(A_PEER, xaddr(ip, port))])
            ch = 0x4000 + i
            c.transact(CHANNEL_BIND, [(A_CHANNEL, struct.pack("!HH", ch, 0)),
                                      (A_PEER, xaddr(ip, port))])
            chan_of[(ip, port)] = ch
            peer_of[ch] = (ip, port)
            fig["channels"][p] = "0x%04x" % ch
    except (TurnError, OSError) as e:
        fig["error"] = str(e)
        out(json.dumps(fig))
        return 1
    out("relayed " + relayed)

    loc = None
    if o.local:
        loc = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        loc.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        loc.bind(hostport(o.local))
    app = hostport(o.app) if o.app else None
    peer_ch = chan_of.get(hostport(o.peer)) if o.peer else None

    if o.probe:
        for p in o.probe:
            ip, port = hostport(p)
            for k in range(o.probe_count):
                d = b"probe-chandata-%d-%s" % (k, p.encode())
                s.sendto(struct.pack("!HH", chan_of[(ip, port)], len(d)) + d, server)
                fig["probe_sent_chandata"] += 1
                d = b"probe-send-ind-%d-%s" % (k, p.encode())
                s.sendto(build(SEND, 1, os.urandom(12),
                               [(A_PEER, xaddr(ip, port)), (A_DATA, d)]), server)
                fig["probe_sent_send_ind"] += 1
                time.sleep(0.005)

    def from_server(b):
        data = None
        if len(b) >= 4 and b[0] & 0xC0 == 0x40:
            ch, ln = struct.unpack("!HH", b[:4])
            if ch not in peer_of or ln > len(b) - 4:
                fig["down_unknown_channel"] += 1
                return
            data, src = b[4:4 + ln], peer_of[ch]
            fig["down_chandata"] += 1
        else:
            m = parse(b)
            if m and m[0] == DATA and m[1] == 1 and A_DATA in m[3] and A_PEER in m[3]:
                data, src = m[3][A_DATA][0], parse_xaddr(m[3][A_PEER][0])
                fig["down_data_ind"] += 1
            else:
                fig["down_other"] += 1
                return
        k = "%s:%d" % src
        fig["down_from"][k] = fig["down_from"].get(k, 0) + 1
        fig["down"] += 1
        fig["down_bytes"] += len(data)
        if loc is not None and app is not None:
            loc.sendto(data, app)

    for b in c.early:
        from_server(b)
    end = time.monotonic() + o.duration
    socks = [s] + ([loc] if loc is not None else [])
    while not stop:
        left = end - time.monotonic()
        if left <= 0:
            break
        try:
            r, _, _ = select.select(socks, [], [], min(left, 0.2))
        except InterruptedError:
            continue
        for x in r:
            b, src = x.recvfrom(65535)
            if x is s:
                from_server(b)
                continue
            if app is None:
                app = src
            k = "%s:%d" % src
            if k not in fig["local_from"]:
                fig["local_from"].append(k)
            if peer_ch is None:
                continue
            s.sendto(struct.pack("!HH", peer_ch, len(b)) + b, server)
            fig["up"] += 1
            fig["up_bytes"] += len(b)
    out(json.dumps(fig))
    return 0


if __name__ == "__main__":
    sys.exit(main())
