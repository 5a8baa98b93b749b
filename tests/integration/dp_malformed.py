#!/usr/bin/python3
"""Send malformed frames at the dataplane: dp_malformed.py IFACE DST_MAC DP_IP4 DP_IP6 SRC_IP4 SRC_IP6 COUNT

Sends COUNT frames of each kind below (scapy sendp, run inside the client namespace) and
prints the JSON map {drop_reason: COUNT} that the dataplane must count."""
import json
import sys

from scapy.all import ARP, ICMP, IP, UDP, Ether, ICMPv6EchoRequest, IPv6, Raw, IPv6ExtHdrFragment, conf, sendp

conf.verb = 0


def frames(dmac, ip4, ip6, src4, src6):
    e = Ether(dst=dmac)
    icmp = ICMP(type=8, id=7, seq=1) / Raw(b"x" * 32)
    bad_ihl = e / IP(src=src4, dst=ip4, ihl=4) / icmp
    # A total length longer than the frame.
    bad_len = e / IP(src=src4, dst=ip4, len=1000) / icmp
    bad_ipcsum = e / IP(src=src4, dst=ip4, chksum=0x1234) / icmp
    bad_icmpcsum = e / IP(src=src4, dst=ip4) / ICMP(type=8, chksum=0x1234) / Raw(b"y" * 16)
    bad_udpcsum = e / IP(src=src4, dst=ip4) / UDP(sport=5000, dport=3478, chksum=0x1234) / Raw(b"z" * 20)
    bad_udplen = e / IP(src=src4, dst=ip4) / UDP(sport=5000, dport=3478, len=200) / Raw(b"z" * 20)
    no_listener = e / IP(src=src4, dst=ip4) / UDP(sport=5000, dport=9) / Raw(b"q" * 20)
    # (No IPv4 fragment here: net_af_packet's fanout socket defragments in the kernel, so
    # a lone fragment never reaches the dataplane. The unit test covers ipv4_fragment.)
    short_ip = e / Raw(bytes([0x45]) + b"\x00" * 9)  # ethertype set below
    short_ip[Ether].type = 0x0800
    bad_icmp6 = e / IPv6(src=src6, dst=ip6) / ICMPv6EchoRequest(cksum=0x1234, data=b"w" * 16)
    ext6 = e / IPv6(src=src6, dst=ip6) / IPv6ExtHdrFragment() / ICMPv6EchoRequest()
    # Someone else announcing our address: must not become a neighbour entry.
    conflict = Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, psrc=ip4, pdst=ip4, hwsrc="02:00:00:00:99:99")
    # A broken packet to another host's MAC: not ours to judge, counted as such.
    other_mac = Ether(dst="02:00:00:00:77:77") / IP(src=src4, dst=ip4, ihl=4) / icmp
    unknown_type = Ether(dst=dmac, type=0x88b5) / Raw(b"\x00" * 46)
    return {
        "ipv4_bad_ihl": bad_ihl,
        "ipv4_bad_length": bad_len,
        "ipv4_bad_checksum": bad_ipcsum,
        "icmp_bad_checksum": bad_icmpcsum,
        "udp_bad_checksum": bad_udpcsum,
        "udp_bad_length": bad_udplen,
        "udp_no_listener": no_listener,
        "ipv4_short": short_ip,
        "icmp6_bad_checksum": bad_icmp6,
        "ipv6_ext_header": ext6,
        "ethertype_unsupported": unknown_type,
        "addr_conflict": conflict,
        "eth_not_for_us": other_mac,
    }


def main():
    iface, dmac, ip4, ip6, src4, src6, count = sys.argv[1:8]
    count = int(count)
    f = frames(dmac, ip4, ip6, src4, src6)
    for name, pkt in f.items():
        # Build bytes once so scapy does not "fix" the fields we broke.
        raw = bytes(pkt)
        sendp([Ether(raw)] * count, iface=iface)
    print(json.dumps({name: count for name in f}))


if __name__ == "__main__":
    main()
