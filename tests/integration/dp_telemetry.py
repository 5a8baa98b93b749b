#!/usr/bin/env python3
"""Query the dataplane's DPDK telemetry socket: dp_telemetry.py PREFIX CMD [CMD...]

Prints one JSON object: {CMD: reply, ...}. Exit 3 when the socket is absent or refuses.
Used by the dataplane integration tests and the benchmark."""
import json
import socket
import sys


def query(prefix, cmds):
    path = f"/var/run/dpdk/{prefix}/dpdk_telemetry.v2"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(5)
    s.connect(path)
    info = json.loads(s.recv(65536).decode())
    out = {}
    for c in cmds:
        s.send(c.encode())
        reply = json.loads(s.recv(max(65536, info.get("max_output_len", 16384))).decode())
        out[c] = reply.get(c.split(",")[0])
    s.close()
    return out


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        res = query(sys.argv[1], sys.argv[2:])
    except OSError as e:
        print(f"dp_telemetry: /var/run/dpdk/{sys.argv[1]}: {e}", file=sys.stderr)
        return 3
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
