#!/usr/bin/env python3
"""gen.py PCAP REDIS_CMDS N NOW: the TURN benchmark's traffic and state.

PCAP: a gateway's ARP request for the dataplane (so it learns its next hop), then for each
of N allocations one ChannelData from its client (100.64.0.0 + i, port 40000, channel
0x4000, 200-byte payload) to 198.51.100.10:3478 and one 200-byte datagram from the peer
203.0.113.5:5000 to its relay port 50000 + i, interleaved. net_pcap's infinite_rx replays
it in a loop: the generator over a virtual device.
REDIS_CMDS: Redis protocol for `redis-cli --pipe` creating the N allocations (keyspace of
docs/redis-keyspace.md) with a permission and the channel, so the dataplane restores them
at start: N live allocations without N clients."""
import ipaddress
import struct
import sys

from scapy.all import ARP, IP, UDP, Ether, Raw, wrpcap  # noqa: E402

pcap, cmds, n, now = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
GW_MAC, DP_MAC = "02:00:00:00:00:01", "02:70:63:61:70:00"
DP, GW, PEER = "198.51.100.10", "198.51.100.1", "203.0.113.5"
payload = bytes(range(200))
base = int(ipaddress.IPv4Address("100.64.0.0"))

pkts = [Ether(src=GW_MAC, dst="ff:ff:ff:ff:ff:ff") /
        ARP(op=1, hwsrc=GW_MAC, psrc=GW, hwdst="00:00:00:00:00:00", pdst=DP)]
for i in range(n):
    cli = str(ipaddress.IPv4Address(base + i))
    cd = struct.pack(">HH", 0x4000, len(payload)) + payload
    pkts.append(Ether(src=GW_MAC, dst=DP_MAC) / IP(src=cli, dst=DP) /
                UDP(sport=40000, dport=3478) / Raw(cd))
    pkts.append(Ether(src=GW_MAC, dst=DP_MAC) / IP(src=PEER, dst=DP) /
                UDP(sport=5000, dport=50000 + i) / Raw(payload))
wrpcap(pcap, pkts)


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


exp = now + 3600
with open(cmds, "wb") as f:
    for i in range(n):
        aid = "%016x" % (0xbe00000000000000 + i)
        key = "pr:turn:alloc:" + aid
        cli = str(ipaddress.IPv4Address(base + i))
        f.write(resp("HSET", key, "v", 1, "id", aid, "username", "bench%d" % (i % 100),
                     "realm", "poprelay", "transport", "udp", "client_addr", cli,
                     "client_port", 40000, "server_addr", DP, "server_port", 3478,
                     "relay_addr", DP, "relay_port", 50000 + i, "lifetime_s", 3600,
                     "expires", exp, "bw_kbps", 0, "created", now, "refreshed", now))
        f.write(resp("HSET", key + ":perms", PEER, exp))
        f.write(resp("HSET", key + ":chans", 0x4000, "%s 5000 %d" % (PEER, exp)))
        f.write(resp("ZADD", "pr:turn:allocs", exp, aid))
