#!/usr/bin/env python3
# Hostile and edge WebSocket clients against the slowpath's WSS listener (slowpath_wss.sh):
# raw TLS sockets, each case checks the HTTP status or the close code the server sends.
#   wss_hostile.py HOST PORT CA ORIGIN MAX_MESSAGE
import base64, os, socket, ssl, struct, sys

host, port, ca, origin, max_msg = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False


def conn():
    s = ctx.wrap_socket(socket.create_connection((host, port), timeout=5))
    return s


def upgrade(s, origin=origin, proto="sip", extra=""):
    key = base64.b64encode(os.urandom(16)).decode()
    req = (f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
    if proto:
        req += f"Sec-WebSocket-Protocol: {proto}\r\n"
    if origin:
        req += f"Origin: {origin}\r\n"
    s.sendall((req + extra + "\r\n").encode())
    data = b""
    while b"\r\n\r\n" not in data:
        b = s.recv(4096)
        if not b:
            break
        data += b
    head, _, rest = data.partition(b"\r\n\r\n")
    return head.decode(errors="replace"), rest


def frame(op, payload, fin=True, mask=True, rsv=0):
    b0 = (0x80 if fin else 0) | rsv | op
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        h = bytes([b0, m | n])
    elif n < 65536:
        h = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        h = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if not mask:
        return h + payload
    k = os.urandom(4)
    return h + k + bytes(c ^ k[i % 4] for i, c in enumerate(payload))


def read_frame(s, buf=b""):
    """One server frame: (opcode, payload, masked), or None at EOF."""
    while True:
        if len(buf) >= 2:
            n = buf[1] & 0x7F
            h = 2
            if n == 126 and len(buf) >= 4:
                n, h = struct.unpack(">H", buf[2:4])[0], 4
            elif n == 127 and len(buf) >= 10:
                n, h = struct.unpack(">Q", buf[2:10])[0], 10
            if n < 126 or h > 2:
                if len(buf) >= h + n:
                    return buf[0] & 0x0F, buf[h:h + n], bool(buf[1] & 0x80), buf[h + n:]
        b = s.recv(65536)
        if not b:
            return None
        buf += b


def eof(s):
    try:
        while s.recv(4096):
            pass
        return True
    except (ConnectionError, ssl.SSLError, socket.timeout):
        return True


fails = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        fails.append(what)


def refused(name, status, **kw):
    s = conn()
    head, _ = upgrade(s, **kw)
    check(head.startswith(f"HTTP/1.1 {status} ") and "Connection: close" in head,
          f"{name}: refused with {status} (got {head.splitlines()[0] if head else 'nothing'})")
    check(eof(s), f"{name}: connection closed")
    s.close()


def close_code(name, data, want):
    s = conn()
    head, rest = upgrade(s)
    check(head.startswith("HTTP/1.1 101 "), f"{name}: upgraded")
    s.sendall(data)
    f = read_frame(s, rest)
    got = struct.unpack(">H", f[1][:2])[0] if f and f[0] == 8 and len(f[1]) >= 2 else None
    check(got == want, f"{name}: close {want} (got {got})")
    check(f is not None and not f[2], f"{name}: the server's frame is unmasked")
    check(eof(s), f"{name}: connection closed after the close frame")
    s.close()


refused("foreign Origin", 403, origin="https://evil.example.org")
refused("no Origin", 403, origin=None)
refused("no sip subprotocol", 400, proto="chat")
refused("wrong version", 426, extra="Sec-WebSocket-Version: 8\r\n")

# accepted: the answer, a ping, a SIP message split in two fragments, then a clean close
s = conn()
head, rest = upgrade(s)
check(head.startswith("HTTP/1.1 101 ") and "Sec-WebSocket-Protocol: sip" in head, "upgrade accepted with sip")
s.sendall(frame(0x9, b"are-you-there"))
f = read_frame(s, rest)
check(f is not None and f[0] == 0xA and f[1] == b"are-you-there" and not f[2], "ping answered by a pong with its payload")
msg = (f"OPTIONS sip:{host} SIP/2.0\r\nVia: SIP/2.0/WSS h1.invalid;branch=z9hG4bKws1\r\n"
       "Max-Forwards: 70\r\nFrom: <sip:probe@poprelay>;tag=a1\r\nTo: <sip:poprelay>\r\n"
       "Call-ID: ws-hostile-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode()
s.sendall(frame(0x1, msg[:30], fin=False) + frame(0x0, msg[30:]))
f = read_frame(s, f[3] if f else b"")
check(f is not None and f[0] == 0x1 and f[1].startswith(b"SIP/2.0 200 ") and b"ws-hostile-1" in f[1],
      "fragmented OPTIONS answered 200 in a text frame")
s.sendall(frame(0x8, struct.pack(">H", 1000) + b"bye"))
f = read_frame(s, f[3] if f else b"")
check(f is not None and f[0] == 0x8 and f[1][:2] == struct.pack(">H", 1000), "close 1000 echoed")
check(eof(s), "closed after the close handshake")
s.close()

close_code("unmasked frame", frame(0x1, b"OPTIONS", mask=False), 1002)
close_code("reserved opcode 0x3", frame(0x3, b"x"), 1002)
close_code("reserved bit RSV1", frame(0x1, b"x", rsv=0x40), 1002)
# the header alone announces it: refused before the payload is sent
close_code("oversized frame", frame(0x2, b"x" * (max_msg + 1))[:10], 1009)
close_code("invalid UTF-8 text", frame(0x1, b"OPTIONS \xc0\xaf"), 1007)

sys.exit(1 if fails else 0)
