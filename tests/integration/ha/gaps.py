#!/usr/bin/env python3
"""The failover gap at a receiving device: the longest silence it saw that ends after the
kill and starts at most 0.5 s before it, within 3 s of it: from the last packet relayed
before the relay died to the first after the failover (a packet or two the dying relay had
already taken still arrive a few milliseconds after T_KILL, the time taken just before the
kill). One JSON object a line on stdout, one per input:
  gaps.py pcap T_KILL FILE...   FILE: a device's receive capture (mpeer --dump-rx);
                                {"file", "before", "after", "gap_ms", "first_after"}:
                                packets received at or before T_KILL and after it; gap_ms
                                null when nothing came after
  gaps.py turn T_KILL FILE      FILE: ha_turn.py's stdout (its summary's silences over
                                100 ms); {"file", "gap_ms", "first_after"}
T_KILL is a unix time (date +%s.%N). A capture still being written is read up to its last
complete record."""

WINDOW = (0.5, 3.0)


def longest(silences, t_kill):
    """The longest (from, to) silence ending after t_kill, starting in the window."""
    s = [x for x in silences if x[1] > t_kill and t_kill - WINDOW[0] <= x[0] <= t_kill + WINDOW[1]]
    return max(s, key=lambda x: x[1] - x[0]) if s else None
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
            g = longest(list(zip(t, t[1:])), t_kill) if after else None
            print(json.dumps({"file": f, "before": len(before), "after": len(after),
                              "gap_ms": round((g[1] - g[0]) * 1000, 1) if g else None,
                              "first_after": g[1] if g else None}))
        else:
            summary = [json.loads(l) for l in open(f) if '"gaps"' in l]
            g = longest(summary[-1]["gaps"] if summary else [], t_kill)
            print(json.dumps({"file": f, "gap_ms": round((g[1] - g[0]) * 1000, 1) if g else None,
                              "first_after": g[1] if g else None}))


if __name__ == "__main__":
    main()
