#!/usr/bin/env python3
"""The failover gap at a receiving device: from the last packet it received at or before the
kill to the first after. One JSON object a line on stdout, one per input:
  gaps.py pcap T_KILL FILE...   FILE: a device's receive capture (mpeer --dump-rx, or
                                failover_dev.py's); {"file", "before", "after", "gap_ms",
                                "first_after"} (gap_ms null when nothing came after)
  gaps.py turn T_KILL FILE      FILE: ha_turn.py's stdout (its summary's silences over
                                100 ms); {"file", "gap_ms", "first_after"}
T_KILL is a unix time (date +%s.%N). A capture still being written is read up to its last
complete record."""
import json
import struct
import sys


def pcap_times(path):
    b = open(path, "rb").read()
    out, pos = [], 24
    while pos + 16 <= len(b):
        sec, usec, incl = struct.unpack("<III", b[pos:pos + 12])
        if pos + 16 + incl > len(b):
            break
        out.append(sec + usec / 1e6)
        pos += 16 + incl
    return out


def main():
    mode, t_kill, files = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
    for f in files:
        if mode == "pcap":
            t = pcap_times(f)
            before = [x for x in t if x <= t_kill]
            after = [x for x in t if x > t_kill]
            gap = round((after[0] - before[-1]) * 1000, 1) if before and after else None
            print(json.dumps({"file": f, "before": len(before), "after": len(after),
                              "gap_ms": gap, "first_after": after[0] if after else None}))
        else:
            summary = [json.loads(l) for l in open(f) if '"gaps"' in l]
            g = [x for x in (summary[-1]["gaps"] if summary else [])
                 if x[0] <= t_kill <= x[1]]
            print(json.dumps({"file": f, "gap_ms": round((g[0][1] - g[0][0]) * 1000, 1) if g else None,
                              "first_after": g[0][1] if g else None}))


if __name__ == "__main__":
    main()
