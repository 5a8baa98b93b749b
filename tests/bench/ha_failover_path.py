#!/usr/bin/env python3
"""What a failover spends after the election, from a capture on the appliances' segment
(tests/bench/ha_failover.sh, dumpcap on the bridge, read with tshark):

  ha_failover_path.py PCAP VRID PRIO ADDRESS DEVICE...

VRID, PRIO: the VRRP instance of the dead appliance's addresses and the backup's priority
in it (its first advert with that priority is the election's end); ADDRESS: the service
address taken over; DEVICE: the devices' addresses. Prints one JSON object:
  advert_to_announce_ms   the backup's first advert as MASTER to the first gratuitous ARP for
                          ADDRESS sent after it (keepalived's notify hook, poprelayctl, the
                          dataplane's takeover)
  announce_to_device_ms   to the first datagram of a device reaching the announcing MAC (the
                          device's packet spacing decides it: it sends when it sends)
  device_to_relayed_ms    to the first datagram relayed from ADDRESS by that MAC
  arp_requests            ARP requests the announcing MAC sent for the devices after the
                          advert (0: their MACs were resolved ahead, dp_ha_nexthops.c)
Values are null when the capture does not show the step."""
import json
import subprocess
import sys


def main():
    if len(sys.argv) < 6:
        print(__doc__, file=sys.stderr)
        return 2
    pcap, vrid, prio, addr, devices = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], set(sys.argv[5:])
    fields = ["frame.time_epoch", "eth.src", "eth.dst", "ip.src", "ip.dst", "arp.opcode",
              "arp.src.proto_ipv4", "arp.dst.proto_ipv4", "vrrp.virt_rtr_id", "vrrp.prio"]
    cmd = ["tshark", "-r", pcap, "-Y", "vrrp || arp || udp", "-T", "fields"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rows = [dict(zip(fields, line.split("\t"))) for line in out.splitlines()]
    res = {"advert_to_announce_ms": None, "announce_to_device_ms": None,
           "device_to_relayed_ms": None, "arp_requests": None}
    t = lambda r: float(r["frame.time_epoch"])
    adv = next((r for r in rows if r["vrrp.virt_rtr_id"] == vrid and r["vrrp.prio"] == prio), None)
    if adv:
        garp = next((r for r in rows if t(r) >= t(adv) and r["arp.src.proto_ipv4"] == addr
                     and r["arp.dst.proto_ipv4"] == addr), None)
        if garp:
            mac = garp["eth.src"]
            res["advert_to_announce_ms"] = round((t(garp) - t(adv)) * 1000, 2)
            dev = next((r for r in rows if t(r) >= t(garp) and r["eth.dst"] == mac
                        and r["ip.src"] in devices and r["ip.dst"] == addr), None)
            if dev:
                res["announce_to_device_ms"] = round((t(dev) - t(garp)) * 1000, 2)
                rel = next((r for r in rows if t(r) >= t(dev) and r["eth.src"] == mac
                            and r["ip.src"] == addr and r["ip.dst"] in devices), None)
                if rel:
                    res["device_to_relayed_ms"] = round((t(rel) - t(dev)) * 1000, 2)
            res["arp_requests"] = sum(1 for r in rows if t(r) >= t(adv) and r["eth.src"] == mac
                                      and r["arp.opcode"] == "1"
                                      and r["arp.dst.proto_ipv4"] in devices)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
