#!/usr/bin/env python3
"""The clear leg's wire in media_offnet.sh (an off-net party in RTP/AVP), in pure Python.

  clear_wire.py --relay IP --ports LO-HI --leg L --session FILE --device IP --pcap FILE
                --sent-hz HZ --heard-hz HZ [--min N]

Media = UDP between the device and the relay address on a port of LO-HI. Checks, each printed
as "ok: ..." or "FAIL: ...":
  sent      the device sent at least N RTP packets to its leg's relay port (RTCP on port+1);
  clear     every RTP packet either way is RTP v2 with a G.711 payload type (0 or 8), and
            decoded as G.711 it is the tone: what the device sent holds its own tone
            (--sent-hz), what the relay sent it holds the other party's (--heard-hz), most of
            each packet's energy at that frequency and the other tone far below (the relay
            decrypted the on-net leg's SRTP into clear G.711 and sent the clear RTP on
            untouched);
  relayed   the relay sent the device at least N RTP packets, from the leg's relay port.
Exit 0 when every check passed, 1 otherwise, 2 on an unreadable capture."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import srtp_wire  # noqa: E402  (read_pcap, rtp_payload, is_rtcp, G.711 tables, tone_fraction)

TONE_MIN = 0.8    # mean share of a packet's decoded energy at the expected tone
OTHER_MAX = 0.05  # mean share at the other tone


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--relay", required=True)
    ap.add_argument("--ports", required=True)
    ap.add_argument("--leg", required=True)
    ap.add_argument("--session", required=True)
    ap.add_argument("--device", required=True)
    ap.add_argument("--pcap", required=True)
    ap.add_argument("--sent-hz", type=float, required=True)
    ap.add_argument("--heard-hz", type=float, required=True)
    ap.add_argument("--min", type=int, default=50)
    a = ap.parse_args(argv[1:])
    lo, hi = map(int, a.ports.split("-"))
    sess = srtp_wire.parse_session(a.session)
    rp = int(sess.get(f"{a.leg}_relay_port") or 0)
    fails = 0

    def result(ok, msg):
        nonlocal fails
        print(("ok: " if ok else "FAIL: ") + f"leg {a.leg} ({a.device}, clear): " + msg)
        fails += not ok

    class Dir:
        def __init__(self, hz, other):
            self.hz, self.other = hz, other
            self.rtp = self.rtcp = 0
            self.ports = set()
            self.bad = []
            self.pts = set()
            self.tone = self.oth = 0.0
            self.n = 0

        def add(self, port, p):
            self.ports.add(port)
            if srtp_wire.is_rtcp(p):
                self.rtcp += 1
                return
            r = srtp_wire.rtp_payload(p)
            if r is None:
                self.bad.append(f"not RTP v2: {p[:12].hex()} ({len(p)} bytes)")
                return
            self.rtp += 1
            pt, pl = r
            self.pts.add(pt)
            table = srtp_wire.ULAW if pt == 0 else srtp_wire.ALAW if pt == 8 else None
            if table is None:
                self.bad.append(f"payload type {pt} is not G.711")
                return
            if len(pl) < 80:
                return
            x = [table[c] for c in pl]
            self.tone += srtp_wire.tone_fraction(x, self.hz)
            self.oth += srtp_wire.tone_fraction(x, self.other)
            self.n += 1

    up, down = Dir(a.sent_hz, a.heard_hz), Dir(a.heard_hz, a.sent_hz)
    other = 0
    try:
        for _, src, dst, sport, dport, p in srtp_wire.read_pcap(a.pcap):
            if src == a.device and dst == a.relay and lo <= dport <= hi:
                up.add(dport, p)
            elif src == a.relay and dst == a.device and lo <= sport <= hi:
                down.add(sport, p)
            else:
                other += 1
    except (OSError, ValueError) as e:
        print(f"FAIL: leg {a.leg}: {e}")
        return 2
    print(f"  leg {a.leg} ({a.device}): to the relay {up.rtp} RTP + {up.rtcp} RTCP on ports "
          f"{sorted(up.ports)}; from the relay {down.rtp} RTP + {down.rtcp} RTCP on ports "
          f"{sorted(down.ports)}; other UDP {other}", file=sys.stderr)
    stray = (up.ports | down.ports) - {rp, rp + 1}
    result(not stray and rp, f"media only on the session's relay ports {a.relay}:{rp}/{rp + 1}"
           + (f" (also on {sorted(stray)})" if stray else ""))
    result(up.rtp >= a.min, f"the device sent {up.rtp} RTP packets to the relay (>= {a.min})")
    for name, d in (("to the relay", up), ("from the relay", down)):
        if d.bad:
            result(False, f"{name}: {len(d.bad)} packets are not clear G.711 RTP: {d.bad[:3]}")
            continue
        if not d.n:
            result(False, f"{name}: no G.711 RTP payload to decode")
            continue
        t, o = d.tone / d.n, d.oth / d.n
        result(t >= TONE_MIN and o <= OTHER_MAX,
               f"{name}: clear G.711 (payload types {sorted(d.pts)}) that decodes to the "
               f"{d.hz:g} Hz tone: {t:.3f} of the energy there (>= {TONE_MIN}), {o:.3f} at "
               f"{d.other:g} Hz (<= {OTHER_MAX}), over {d.n} packets")
    result(down.rtp >= a.min, f"the relay sent the device {down.rtp} RTP packets (>= {a.min})")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
