#!/usr/bin/env python3
"""Hostile packets for media_relay.sh, sent with scapy as raw frames (any source address).

  inject.py IFACE DST_MAC [--delay S] ACTION [ACTION ...]

Each ACTION is comma separated; PCAP is one of mpeer's --dump-tx files, K the index of a
datagram in it (0-based), SRC an IPv4 address and port written IP:PORT (default: the
datagram's own source):
  replay,PCAP,K[,SRC]          the datagram again, byte for byte
  tamper,PCAP,K,SEQ_ADD[,SRC]  the datagram with its RTP sequence number moved SEQ_ADD on
                               (a fresh index) and one payload byte flipped
  trunc,PCAP,K,LEN[,SRC]       its first LEN bytes
  forge,SRC,DST,SSRC,SEQ,LEN   an RTP header (version 2, PT 0) and LEN random bytes
Prints a JSON object: how many datagrams each kind of action sent."""
import os
import struct
import tempfile
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check import udp_payloads  # noqa: E402


def pcap_datagrams(path):
    """(src_ip, sport, dst_ip, dport, payload) of every IPv4 UDP datagram of a LINKTYPE_RAW pcap.

    The pcap may still be being written (a device that is still sending): what is read is
    the records complete at that moment, a snapshot that the self-check parses too."""
    out = []
    b = open(path, "rb").read()
    pos = 24
    while pos + 16 <= len(b):
        incl = struct.unpack("<I", b[pos + 8:pos + 12])[0]
        if pos + 16 + incl > len(b):
            break  # the record being written
        ip = b[pos + 16:pos + 16 + incl]
        pos += 16 + incl
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        h = (ip[0] & 15) * 4
        sport, dport = struct.unpack("!HH", ip[h:h + 4])
        out.append((".".join(map(str, ip[12:16])), sport, ".".join(map(str, ip[16:20])), dport,
                    ip[h + 8:]))
    with tempfile.NamedTemporaryFile(suffix=".pcap") as snap:
        snap.write(b[:pos])
        snap.flush()
        assert len(out) == len(udp_payloads(snap.name))
    return out


def hostport(s):
    h, p = s.rsplit(":", 1)
    return h, int(p)


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    from scapy.all import IP, UDP, Ether, Raw, conf, sendp  # slow import: after the usage
    conf.verb = 0
    iface, mac = argv[1], argv[2]
    args = argv[3:]
    if args[0] == "--delay":
        time.sleep(float(args[1]))
        args = args[2:]
    frames, sent = [], {}
    cache = {}
    for a in args:
        f = a.split(",")
        kind = f[0]
        if kind == "forge":
            (sip, sp), (dip, dp) = hostport(f[1]), hostport(f[2])
            ssrc, seq, n = int(f[3], 0), int(f[4]), int(f[5])
            pl = struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, 12345, ssrc) + os.urandom(n)
        else:
            if f[1] not in cache:
                cache[f[1]] = pcap_datagrams(f[1])
            sip, sp, dip, dp, pl = cache[f[1]][int(f[2])]
            extra = f[3:]
            if kind == "tamper":
                b = bytearray(pl)
                seq = (struct.unpack("!H", b[2:4])[0] + int(extra[0])) & 0xFFFF
                b[2:4] = struct.pack("!H", seq)
                b[len(b) // 2] ^= 0x5A
                pl, extra = bytes(b), extra[1:]
            elif kind == "trunc":
                pl, extra = pl[:int(extra[0])], extra[1:]
            elif kind != "replay":
                print(f"inject.py: unknown action {kind}", file=sys.stderr)
                return 2
            if extra:
                sip, sp = hostport(extra[0])
        frames.append(Ether(dst=mac) / IP(src=sip, dst=dip, flags="DF") /
                      UDP(sport=sp, dport=dp) / Raw(pl))
        sent[kind] = sent.get(kind, 0) + 1
    for fr in frames:
        sendp(fr, iface=iface)
        time.sleep(0.005)
    print("{" + ", ".join(f'"{k}": {v}' for k, v in sent.items()) + "}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
