#!/usr/bin/env python3
"""gen.py PCAP REDIS_CMDS N NOW [6]: the TURN benchmark's traffic and state.

PCAP: a gateway's ARP request for the dataplane (so it learns its next hop), then for each
of N allocations one ChannelData from its client (100.64.0.0 + i, port 40000, channel
0x4000, 200-byte payload) to 198.51.100.10:3478 and one 200-byte datagram from the peer
203.0.113.5:5000 to its relay port 50000 + i, interleaved. net_pcap's infinite_rx replays
it in a loop: the generator over a virtual device.
REDIS_CMDS: Redis protocol for `redis-cli --pipe` creating the N allocations (keyspace of
docs/redis-keyspace.md) with a permission and the channel, so the dataplane restores them
at start: N live allocations without N clients.
With 6, everything is IPv6: clients 2001:db8:1::i (port 40000) to [2001:db8:100::10]:3478,
relayed addresses [2001:db8:100::10]:50000 + i, the peer [2001:db8:200::5]:5000; the
preamble adds the gateway's (2001:db8:100::1) neighbour solicitation for the dataplane's
address, from which the dataplane learns its IPv6 next hop. Allocation ids differ from the
IPv4 ones, so both sets can live in one Redis (relay ports are per family).

Frames are built here with the standard library alone (no scapy), so that the benchmark
runs on a machine with nothing but Python: scapy's defaults (IP id 1, TTL 64) and
checksums; tests/integration/turn_ring.sh holds the frames to scapy's, byte for byte."""
import ipaddress
import struct
import sys
import time

GW_MAC, DP_MAC = "02:00:00:00:00:01", "02:70:63:61:70:00"
DP, GW, PEER = "198.51.100.10", "198.51.100.1", "203.0.113.5"
payload = bytes(range(200))
base = int(ipaddress.IPv4Address("100.64.0.0"))


def mac(s):
    return bytes.fromhex(s.replace(":", ""))


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


DP6, GW6, PEER6 = "2001:db8:100::10", "2001:db8:100::1", "2001:db8:200::5"
base6 = int(ipaddress.IPv6Address("2001:db8:1::"))


def udp6(src, dst, sport, dport, data):
    s, d = ipaddress.IPv6Address(src).packed, ipaddress.IPv6Address(dst).packed
    ulen = 8 + len(data)
    ck = csum(s + d + struct.pack("!IxxxB", ulen, 17) +
              struct.pack("!HHHH", sport, dport, ulen, 0) + data) or 0xffff
    ip = struct.pack("!IHBB", 0x60000000, ulen, 17, 64) + s + d
    return (mac(DP_MAC) + mac(GW_MAC) + b"\x86\xdd" + ip +
            struct.pack("!HHHH", sport, dport, ulen, ck) + data)


def ns6():
    """The gateway's neighbour solicitation for the dataplane's address, with its
    link-layer address (RFC 4861 4.3)."""
    s, t = ipaddress.IPv6Address(GW6).packed, ipaddress.IPv6Address(DP6).packed
    d = ipaddress.IPv6Address("ff02::1:ff00:0").packed[:13] + t[13:]
    body = struct.pack("!BBHI", 135, 0, 0, 0) + t + bytes([1, 1]) + mac(GW_MAC)
    ck = csum(s + d + struct.pack("!IxxxB", len(body), 58) + body)
    body = body[:2] + struct.pack("!H", ck) + body[4:]
    ip = struct.pack("!IHBB", 0x60000000, len(body), 58, 255) + s + d
    return b"\x33\x33" + d[12:] + mac(GW_MAC) + b"\x86\xdd" + ip + body


def udp4(src, dst, sport, dport, data):
    s, d = ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed
    ulen = 8 + len(data)
    ck = csum(s + d + struct.pack("!BBH", 0, 17, ulen) +
              struct.pack("!HHHH", sport, dport, ulen, 0) + data) or 0xffff
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, 1, 0, 64, 17, 0, s, d)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return (mac(DP_MAC) + mac(GW_MAC) + b"\x08\x00" + ip +
            struct.pack("!HHHH", sport, dport, ulen, ck) + data)


def frames(n, v6=False):
    arp = (b"\xff" * 6 + mac(GW_MAC) + b"\x08\x06" +
           struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac(GW_MAC) +
           ipaddress.IPv4Address(GW).packed + b"\0" * 6 + ipaddress.IPv4Address(DP).packed)
    yield arp
    if v6:
        yield ns6()
        for i in range(n):
            cli = str(ipaddress.IPv6Address(base6 + i))
            cd = struct.pack(">HH", 0x4000, len(payload)) + payload
            yield udp6(cli, DP6, 40000, 3478, cd)
            yield udp6(PEER6, DP6, 5000, 50000 + i, payload)
        return
    for i in range(n):
        cli = str(ipaddress.IPv4Address(base + i))
        cd = struct.pack(">HH", 0x4000, len(payload)) + payload
        yield udp4(cli, DP, 40000, 3478, cd)
        yield udp4(PEER, DP, 5000, 50000 + i, payload)


def write_pcap(path, fr):
    t = int(time.time())
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for b in fr:
            f.write(struct.pack("<IIII", t, 0, len(b), len(b)) + b)


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


if __name__ == "__main__":
    pcap, cmds, n, now = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    v6 = sys.argv[5:] == ["6"]
    write_pcap(pcap, frames(n, v6))
    exp = now + 3600
    srv, peer = (DP6, PEER6) if v6 else (DP, PEER)
    with open(cmds, "wb") as f:
        for i in range(n):
            aid = "%016x" % ((0xbf00000000000000 if v6 else 0xbe00000000000000) + i)
            key = "pr:turn:alloc:" + aid
            cli = str(ipaddress.IPv6Address(base6 + i) if v6 else ipaddress.IPv4Address(base + i))
            f.write(resp("HSET", key, "v", 1, "id", aid, "username", "bench%d" % (i % 100),
                         "realm", "poprelay", "transport", "udp", "client_addr", cli,
                         "client_port", 40000, "server_addr", srv, "server_port", 3478,
                         "relay_addr", srv, "relay_port", 50000 + i, "lifetime_s", 3600,
                         "expires", exp, "bw_kbps", 0, "created", now, "refreshed", now))
            f.write(resp("HSET", key + ":perms", peer, exp))
            f.write(resp("HSET", key + ":chans", 0x4000, "%s 5000 %d" % (peer, exp)))
            f.write(resp("ZADD", "pr:turn:allocs", exp, aid))
