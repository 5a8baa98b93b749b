#!/usr/bin/env python3
"""dp_udp_echo.py SRC DST PORT [TRIES]: send a datagram from SRC to DST:PORT and wait for
the same payload back, retrying (the first may be dropped while the dataplane resolves
SRC's MAC). Prints the attempt that succeeded; exit 0 on echo, 1 otherwise."""
import os
import socket
import sys


def main():
    src, dst, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    tries = int(sys.argv[4]) if len(sys.argv) > 4 else 6
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.settimeout(0.7)
    for i in range(1, tries + 1):
        payload = os.urandom(24)
        s.sendto(payload, (dst, port))
        try:
            data, peer = s.recvfrom(2048)
        except socket.timeout:
            continue
        if data == payload and peer[1] == port:
            print(i)
            return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
