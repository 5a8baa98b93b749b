#!/usr/bin/env python3
"""A command to a running baresip through its ctrl_tcp module (media_hold.sh).

  bs_ctrl.py HOST:PORT COMMAND [PARAMS]

baresip 1.0's ctrl_tcp takes netstrings ("LEN:JSON,") of {"command", "params", "token"}
(the command is one of the menu module's long commands: hold, resume, hangup, quit, ...)
and answers {"response": true, "ok": ..., "data": ..., "token": ...}; events come on the
same connection ({"event": true, ...}) and are skipped. Prints the response's data; exits
0 when ok is true, 1 when baresip refused the command, 2 on no answer."""
import json
import socket
import sys
import time


def netstrings(sock, deadline):
    buf = b""
    while time.time() < deadline:
        sock.settimeout(max(0.05, deadline - time.time()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        buf += chunk
        while b":" in buf:
            n, rest = buf.split(b":", 1)
            if not n.isdigit() or len(rest) < int(n) + 1:
                break
            yield rest[:int(n)]
            buf = rest[int(n) + 1:]


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    host, port = argv[1].rsplit(":", 1)
    token = f"t{int(time.time() * 1000) % 100000}"
    msg = {"command": argv[2], "token": token}
    if len(argv) > 3:
        msg["params"] = " ".join(argv[3:])
    body = json.dumps(msg).encode()
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(str(len(body)).encode() + b":" + body + b",")
        for raw in netstrings(s, time.time() + 5):
            try:
                r = json.loads(raw.decode("utf-8", "replace"))
            except ValueError:
                continue
            if r.get("response"):
                print(str(r.get("data", "")).strip())
                return 0 if r.get("ok") else 1
    print(f"no answer from baresip's ctrl_tcp at {argv[1]} to {argv[2]!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
