#!/usr/bin/env python3
"""Hold and resume in media_hold.sh, from the wire and the recordings, in pure Python.

  hold_check.py wire --relay IP --ports LO-HI --hold T --resume T --end T [--guard S]
                LEG=DEVICE_IP:PCAP ...
      Media packets per second in each direction of each leg (device -> relay, relay ->
      device) in three windows: before the hold (from the first media packet to T hold),
      on hold (T hold .. T resume) and after the resume (T resume .. T end), each window
      shortened by --guard seconds (default 0.5) at both ends (the re-INVITE's round trip).
      Prints the table; checks that every direction carried media (>= 25 packets a second)
      before the hold and after the resume. The figures on hold are printed for the caller
      to judge (see --held).
  hold_check.py wire ... --held LEG:DIR[,LEG:DIR...] --held-max PPS
      also checks that those directions (DIR = up: device -> relay, down: relay -> device)
      carried at most PPS packets a second on hold.
  hold_check.py srtp --relay IP --ports LO-HI --hold T --resume T --end T --session FILE
                [--guard S] LEG=DEVICE_IP:PCAP:OWN_HZ:HEARD_HZ ...
      What each device would hear, from the wire: every RTP packet the relay sent the device
      is unprotected (media/srtp_decode.py) with the key the leg's device was given (the
      session record's LEG_key_tx), and what the device sent with its own (LEG_key_rx).
      Checks, per leg and direction: no packet fails authentication; before the hold and
      after the resume at least 25 authentic packets a second; decoded as G.711 they hold the
      tone (HEARD_HZ from the relay, OWN_HZ to it), most of each packet's energy there.
  hold_check.py audio FILE EXPECTED_HZ OTHER_HZ --head S --tail S [--label NAME]
      FILE (what a device decoded, sndfile's dump; written as packets arrive, so its first
      seconds are the call's start and its last ones the call's end) holds the expected tone
      in its first S seconds and in its last S seconds (tone.py's criteria, each at least
      S/2 s of non-silent audio); --tail 0 checks the start only.
Prints "ok: ..." / "FAIL: ..." lines; exit 0 when every check passed, 1 otherwise, 2 on bad
usage or unreadable input."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import srtp_wire  # noqa: E402
import tone  # noqa: E402

FLOW_PPS = 25.0   # 20 ms G.711 is 50 packets a second


def wire(a):
    lo, hi = map(int, a.ports.split("-"))
    g = a.guard
    windows = (("before the hold", None, a.hold - g), ("on hold", a.hold + g, a.resume - g),
               ("after the resume", a.resume + g, a.end - g))
    held = set()
    for h in (a.held or "").split(","):
        if h:
            held.add(tuple(h.split(":")))
    fails = 0
    rows = []
    for spec in a.legs:
        name, rest = spec.split("=", 1)
        ip, pcap = rest.split(":", 1)
        ts = {"up": [], "down": []}
        try:
            for t, src, dst, sport, dport, p in srtp_wire.read_pcap(pcap):
                if srtp_wire.is_rtcp(p):
                    continue
                if src == ip and dst == a.relay and lo <= dport <= hi:
                    ts["up"].append(t)
                elif src == a.relay and dst == ip and lo <= sport <= hi:
                    ts["down"].append(t)
        except (OSError, ValueError) as e:
            print(f"FAIL: leg {name}: {e}")
            return 2
        for d in ("up", "down"):
            first = min(ts["up"] + ts["down"]) + g if ts["up"] or ts["down"] else a.hold
            pps = []
            for wname, t0, t1 in windows:
                t0 = first if t0 is None else t0
                n = sum(1 for t in ts[d] if t0 <= t < t1)
                pps.append((wname, n / (t1 - t0) if t1 > t0 else 0.0, n, t1 - t0))
            rows.append((name, ip, d, pps))
    for name, ip, d, pps in rows:
        arrow = f"{ip} -> relay" if d == "up" else f"relay -> {ip}"
        print(f"  leg {name} {d:4} ({arrow}): " + ", ".join(
            f"{w} {r:.1f}/s ({n} in {s:.1f} s)" for w, r, n, s in pps), file=sys.stderr)
        before, onhold, after = pps
        ok = before[1] >= FLOW_PPS and after[1] >= FLOW_PPS
        print(("ok: " if ok else "FAIL: ") + f"leg {name} {d} ({arrow}): RTP flows before the "
              f"hold ({before[1]:.1f}/s) and after the resume ({after[1]:.1f}/s) (>= {FLOW_PPS:g}/s)")
        fails += not ok
        if (name, d) in held:
            ok = onhold[1] <= a.held_max
            print(("ok: " if ok else "FAIL: ") + f"leg {name} {d} ({arrow}): on hold "
                  f"{onhold[1]:.1f}/s ({onhold[2]} packets in {onhold[3]:.1f} s; <= {a.held_max:g}/s)")
            fails += not ok
    return 1 if fails else 0


def srtp(a):
    import srtp_decode
    lo, hi = map(int, a.ports.split("-"))
    g = a.guard
    sess = srtp_wire.parse_session(a.session)
    windows = (("before the hold", None, a.hold - g), ("after the resume", a.resume + g, a.end - g))
    fails = 0

    def res(ok, msg):
        nonlocal fails
        print(("ok: " if ok else "FAIL: ") + msg)
        fails += not ok
    for spec in a.legs:
        name, rest = spec.split("=", 1)
        ip, pcap, own, heard = rest.rsplit(":", 3)
        own, heard = float(own), float(heard)
        ctx = {"up": srtp_decode.Context(sess[f"{name}_key_rx"]),
               "down": srtp_decode.Context(sess[f"{name}_key_tx"])}
        pk = {"up": [], "down": []}
        try:
            for t, src, dst, sport, dport, p in srtp_wire.read_pcap(pcap):
                if srtp_wire.is_rtcp(p):
                    continue
                if src == ip and dst == a.relay and lo <= dport <= hi:
                    pk["up"].append((t, p))
                elif src == a.relay and dst == ip and lo <= sport <= hi:
                    pk["down"].append((t, p))
        except (OSError, ValueError) as e:
            print(f"FAIL: leg {name}: {e}")
            return 2
        first = min([t for t, _ in pk["up"] + pk["down"]] or [a.hold]) + g
        for d, hz, other in (("down", heard, own), ("up", own, heard)):
            arrow = f"relay -> {ip}" if d == "down" else f"{ip} -> relay"
            fail = 0
            win = {w: [0, 0.0, 0.0, 0] for w, _, _ in windows}   # authentic, tone, other, g711
            for t, p in pk[d]:
                r = ctx[d].unprotect(p)
                if r is None:
                    fail += 1
                    continue
                for w, t0, t1 in windows:
                    if (first if t0 is None else t0) <= t < t1:
                        win[w][0] += 1
                        pt, pl = r
                        table = srtp_wire.ULAW if pt == 0 else srtp_wire.ALAW if pt == 8 else None
                        if table and len(pl) >= 80:
                            x = [table[c] for c in pl]
                            win[w][1] += srtp_wire.tone_fraction(x, hz)
                            win[w][2] += srtp_wire.tone_fraction(x, other)
                            win[w][3] += 1
            res(fail == 0 and pk[d], f"leg {name} {d} ({arrow}): all {len(pk[d])} RTP packets "
                f"authenticate under the leg's {'key_tx (given to the device)' if d == 'down' else 'key_rx (the device own)'}"
                + (f" ({fail} do not)" if fail else ""))
            for w, t0, t1 in windows:
                t0 = first if t0 is None else t0
                n, tf, of, m = win[w]
                pps = n / (t1 - t0) if t1 > t0 else 0.0
                tf, of = (tf / m, of / m) if m else (0.0, 0.0)
                res(pps >= FLOW_PPS and tf >= 0.8 and of <= 0.05,
                    f"leg {name} {d} ({arrow}) {w}: {pps:.1f} authentic packets/s (>= {FLOW_PPS:g}), "
                    f"decoded: {tf:.3f} of the energy at {hz:g} Hz (>= 0.8), {of:.3f} at {other:g} Hz "
                    f"(<= 0.05)")
    return 1 if fails else 0


def audio(a):
    try:
        samples, rate = tone.read_wav(a.file)
    except (OSError, ValueError) as e:
        print(f"FAIL: {a.label or a.file}: {e}")
        return 1
    fails = 0
    n = int(a.head * rate), int(a.tail * rate)
    for part, seg, want in (("first", samples[:n[0]], a.head), ("last", samples[-n[1]:], a.tail)):
        if want <= 0:
            continue
        r = tone.analyse(seg, rate, a.expected, a.other)
        desc = (f"{r['loud_s']:.1f} s non-silent of {r['seconds']:.1f} s, dominant "
                + (f"{r['dominant_hz']:.1f} Hz" if r["dominant_hz"] is not None else "n/a")
                + f", {a.expected:g} Hz over {a.other:g} Hz by {r['other_db']:.0f} dB")
        ok = (r["loud_s"] >= want / 2 and r["dominant_hz"] is not None
              and abs(r["dominant_hz"] - a.expected) <= 3.0 and r["other_db"] >= 20)
        print(("ok: " if ok else "FAIL: ") + f"{a.label or a.file}: the {part} {want:g} s of "
              f"{len(samples) / rate:.1f} s hold the {a.expected:g} Hz tone ({desc})")
        fails += not ok
    return 1 if fails else 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("wire")
    w.add_argument("--relay", required=True)
    w.add_argument("--ports", required=True)
    w.add_argument("--hold", type=float, required=True)
    w.add_argument("--resume", type=float, required=True)
    w.add_argument("--end", type=float, required=True)
    w.add_argument("--guard", type=float, default=0.5)
    w.add_argument("--held")
    w.add_argument("--held-max", type=float, default=5.0)
    w.add_argument("legs", nargs="+")
    sr = sub.add_parser("srtp")
    sr.add_argument("--relay", required=True)
    sr.add_argument("--ports", required=True)
    sr.add_argument("--hold", type=float, required=True)
    sr.add_argument("--resume", type=float, required=True)
    sr.add_argument("--end", type=float, required=True)
    sr.add_argument("--guard", type=float, default=0.5)
    sr.add_argument("--session", required=True)
    sr.add_argument("legs", nargs="+")
    au = sub.add_parser("audio")
    au.add_argument("file")
    au.add_argument("expected", type=float)
    au.add_argument("other", type=float)
    au.add_argument("--head", type=float, required=True)
    au.add_argument("--tail", type=float, required=True)
    au.add_argument("--label")
    a = ap.parse_args(argv[1:])
    return {"wire": wire, "srtp": srtp, "audio": audio}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
