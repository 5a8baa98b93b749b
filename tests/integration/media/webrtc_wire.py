#!/usr/bin/env python3
"""What went over the wire in webrtc_browser.sh (a browser's call with a SIP device through
the anchor), from one pcap per link, in pure Python (srtp_wire.py's reader and checks).

  webrtc_wire.py --relay IP --ports LO-HI --tones HZ,HZ [--min N] LABEL BROWSER_IP:PCAP DEVICE_IP:PCAP

Media = UDP between an endpoint and the relay address on a port of LO-HI, sorted by its
first byte (RFC 7983): STUN 0-3, DTLS 20-63, RTP/RTCP 128-191. Checks ("ok:"/"FAIL:"):
  browser leg  STUN both ways (ICE checks answered), DTLS handshake records (content type
               22) both ways, at least N SRTP packets each way, nothing else;
  device leg   no STUN nor DTLS (SDES-SRTP), at least N SRTP packets each way;
  srtp         every RTP/RTCP packet of both legs is SRTP/SRTCP as srtp_wire.py judges it
               (random bytes, no repeated payload, no G.711 tone energy, SRTCP's E flag);
  per-leg      no RTP payload seen on one leg is seen on the other (re-encrypted per leg);
  anchored     no UDP between the browser and the device directly.
Exit 0 when every check passed, 1 otherwise."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import srtp_wire  # noqa: E402


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--relay", required=True)
    ap.add_argument("--ports", required=True)
    ap.add_argument("--tones", default="")
    ap.add_argument("--min", type=int, default=50)
    ap.add_argument("label")
    ap.add_argument("browser")
    ap.add_argument("device")
    a = ap.parse_args(argv)
    lo, hi = (int(x) for x in a.ports.split("-"))
    tones = [float(x) for x in a.tones.split(",") if x]
    legs = {}
    for name, spec in (("browser", a.browser), ("device", a.device)):
        ip, pcap = spec.split(":", 1)
        legs[name] = (ip, list(srtp_wire.read_pcap(pcap)))
    fails = []

    def result(ok, msg):
        print(("ok: " if ok else "FAIL: ") + f"{a.label}: {msg}")
        if not ok:
            fails.append(msg)

    payloads = {}
    direct = 0
    for name, (ip, pkts) in legs.items():
        other = legs["device" if name == "browser" else "browser"][0]
        kinds = {d: {"stun": 0, "dtls_hs": 0, "dtls": 0, "other": 0} for d in ("up", "down")}
        dirs = {d: srtp_wire.Direction(device_side=(name == "device" and d == "up")) for d in ("up", "down")}
        for _, src, dst, sp, dp, p in pkts:
            if {src, dst} == {ip, other}:
                direct += 1
                continue
            if src == ip and dst == a.relay and lo <= dp <= hi:
                d, port = "up", dp
            elif src == a.relay and dst == ip and lo <= sp <= hi:
                d, port = "down", sp
            else:
                continue
            b = p[0] if p else 255
            if b <= 3:
                kinds[d]["stun"] += 1
            elif 20 <= b <= 63:
                kinds[d]["dtls"] += 1
                kinds[d]["dtls_hs"] += b == 22
            elif 128 <= b <= 191:
                dirs[d].add(port, p, tones)
            else:
                kinds[d]["other"] += 1
        k = kinds
        desc = (f"up: {k['up']['stun']} STUN, {k['up']['dtls']} DTLS ({k['up']['dtls_hs']} handshake), "
                f"{dirs['up'].rtp} SRTP, {dirs['up'].rtcp} SRTCP; down: {k['down']['stun']} STUN, "
                f"{k['down']['dtls']} DTLS ({k['down']['dtls_hs']} handshake), {dirs['down'].rtp} SRTP, "
                f"{dirs['down'].rtcp} SRTCP")
        if name == "browser":
            ok = (k["up"]["stun"] > 0 and k["down"]["stun"] > 0 and k["up"]["dtls_hs"] > 0 and
                  k["down"]["dtls_hs"] > 0)
        else:
            ok = k["up"]["stun"] + k["down"]["stun"] + k["up"]["dtls"] + k["down"]["dtls"] == 0
        ok = ok and dirs["up"].rtp >= a.min and dirs["down"].rtp >= a.min
        ok = ok and k["up"]["other"] + k["down"]["other"] == 0
        result(ok, f"{name} leg ({ip}): {desc}")
        for d in ("up", "down"):
            x = dirs[d]
            hz, frac = x.tone_max()
            good = (not x.bad and x.repeats == 0 and x.entropy() >= srtp_wire.ENTROPY_MIN and
                    frac <= srtp_wire.TONE_FRACTION_MAX)
            result(good, f"{name} leg {d}: SRTP: entropy {x.entropy():.2f} bits/byte, {x.repeats} "
                         f"repeated payloads, tone share {frac:.2f}" + (f" at {hz} Hz" if hz else "")
                         + (f", {len(x.bad)} not SRTP (first: {x.bad[0]})" if x.bad else "")
                         + (f", {x.clear_bye_app} clear BYE/APP RTCP tolerated" if x.clear_bye_app else ""))
            payloads[(name, d)] = x.payloads
    common = (payloads[("browser", "up")] | payloads[("browser", "down")]) & \
        (payloads[("device", "up")] | payloads[("device", "down")])
    result(not common, f"per-leg keys: {len(common)} RTP payloads seen on both legs")
    result(direct == 0, f"anchored: {direct} datagrams between the browser and the device directly")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
