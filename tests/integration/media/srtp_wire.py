#!/usr/bin/env python3
"""What went over the wire in media_call.sh, from pcap captures, in pure Python.

  srtp_wire.py --relay IP --ports LO-HI [--tones HZ,HZ] [--session FILE] [--min N]
               LEG=DEVICE_IP:PCAP ...

One capture per leg (LEG is the session record's leg prefix, `a` for the caller and `b`
for the callee), taken on the device's link. Media = UDP between the device and the relay
address on a port of LO-HI. Checks, each printed as "ok: ..." or "FAIL: ...":
  sent      each device sent at least N RTP packets to the relay (to its leg's relay port,
            RTCP on port+1, when --session gives the record from Redis);
  srtp      every media packet in either direction is RTP/RTCP version 2, and what follows
            the RTP header does not look like clear G.711: its bytes are random (entropy
            >= 7.5 bits a byte), none repeats within a direction (a tone's packets repeat
            in the clear, and under a reused keystream) and, decoded as G.711 (PCMU/PCMA by
            payload type), it holds no energy at the tones' frequencies; RTCP carries
            SRTCP's E flag (a device's clear RTCP made of BYE, SDES and APP packets only,
            no reports, is tolerated and counted: baresip 1.0 sends its first APP and its
            last BYE + SDES outside SRTCP; the relay must never send clear RTCP);
  per-leg   no RTP payload seen on one leg is seen on another (each leg has its own keys:
            the relay decrypts and re-encrypts, it does not forward the bytes as they came);
  anchored  no UDP goes between the devices directly;
  relayed   the relay sent each device at least N RTP packets.
Exit 0 when every check passed, 1 otherwise, 2 on bad usage or an unreadable capture."""
import argparse
import math
import struct
import sys

ENTROPY_MIN = 7.5        # bits per byte, pooled over a direction's payloads
TONE_FRACTION_MAX = 0.2  # mean share of a packet's (decoded) energy at a tone's frequency


# --- pcap -------------------------------------------------------------------------------
def read_pcap(path):
    """Yields (ts, src, dst, sport, dport, payload) for every IPv4 UDP datagram."""
    b = open(path, "rb").read()
    if len(b) < 24:
        raise ValueError(f"{path}: not a pcap file ({len(b)} bytes)")
    magic = b[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise ValueError(f"{path}: not a classic pcap file (magic {magic.hex()}; pcapng?)")
    linktype = struct.unpack(e + "I", b[20:24])[0]
    pos = 24
    while pos + 16 <= len(b):
        sec, frac, incl, _ = struct.unpack(e + "IIII", b[pos:pos + 16])
        frame = b[pos + 16:pos + 16 + incl]
        pos += 16 + incl
        if linktype == 1:          # Ethernet
            et, off = struct.unpack("!H", frame[12:14])[0], 14
            while et in (0x8100, 0x88A8) and len(frame) >= off + 4:
                et, off = struct.unpack("!H", frame[off + 2:off + 4])[0], off + 4
        elif linktype == 113:      # Linux cooked (any)
            et, off = struct.unpack("!H", frame[14:16])[0], 16
        elif linktype == 101:      # raw IP
            et, off = 0x0800, 0
        else:
            raise ValueError(f"{path}: link type {linktype} not handled")
        if et != 0x0800 or len(frame) < off + 20:
            continue
        ip = frame[off:]
        ihl = (ip[0] & 0x0F) * 4
        if ip[0] >> 4 != 4 or ip[9] != 17 or len(ip) < ihl + 8:
            continue
        if struct.unpack("!H", ip[6:8])[0] & 0x3FFF:   # a fragment: not expected here
            continue
        tot = struct.unpack("!H", ip[2:4])[0]
        src, dst = ".".join(map(str, ip[12:16])), ".".join(map(str, ip[16:20]))
        sport, dport, ulen = struct.unpack("!HHH", ip[ihl:ihl + 6])
        udp = ip[ihl + 8:min(tot, ihl + ulen)]
        yield sec + frac / 1e6, src, dst, sport, dport, bytes(udp)


# --- G.711 -------------------------------------------------------------------------------
def _ulaw(u):
    u = ~u & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return 0x84 - t if u & 0x80 else t - 0x84


def _alaw(a):
    a ^= 0x55
    t, seg = (a & 0x0F) << 4, (a & 0x70) >> 4
    t = t + 8 if seg == 0 else (t + 0x108) << (seg - 1) if seg > 1 else t + 0x108
    return t if a & 0x80 else -t


ULAW = [_ulaw(i) for i in range(256)]
ALAW = [_alaw(i) for i in range(256)]


def tone_fraction(x, hz, rate=8000):
    """Share of x's energy at hz (Goertzel): ~1 for a pure tone, ~2/len(x) for noise."""
    e = sum(v * v for v in x)
    if not x or e <= 0:
        return 0.0
    c = 2.0 * math.cos(2.0 * math.pi * hz / rate)
    s1 = s2 = 0.0
    for v in x:
        s1, s2 = v + c * s1 - s2, s1
    return 2.0 * (s1 * s1 + s2 * s2 - c * s1 * s2) / (len(x) * e)


def entropy(counts, n):
    return -sum(c / n * math.log2(c / n) for c in counts if c) if n else 0.0


# --- RTP ---------------------------------------------------------------------------------
def rtp_payload(p):
    """(payload type, bytes after the RTP header) or None when p is not RTP v2."""
    if len(p) < 12 or p[0] >> 6 != 2:
        return None
    off = 12 + 4 * (p[0] & 0x0F)
    if p[0] & 0x10 and len(p) >= off + 4:
        off += 4 + 4 * struct.unpack("!H", p[off + 2:off + 4])[0]
    return p[1] & 0x7F, p[off:]


def is_rtcp(p):
    return len(p) >= 8 and 200 <= p[1] <= 204


def rtcp_bye_app_only(p):
    """True when p is a clear RTCP compound of BYE, SDES and APP packets only (no SR/RR)."""
    off = 0
    while off + 4 <= len(p):
        if p[off] >> 6 != 2 or p[off + 1] not in (202, 203, 204):
            return False
        off += 4 + 4 * struct.unpack("!H", p[off + 2:off + 4])[0]
    return off == len(p)


# header, E|index word and an 80-bit tag: a shorter packet cannot be SRTCP
SRTCP_MIN = 8 + 4 + 10


def clear_rtcp_unexpected(drops, clear):
    """The media drops ({reason: count}) that a device's clear RTCP BYE/SDES/APP packets
    (clear: their UDP payloads) do not explain. media_no_session is always tolerated
    (packets before the install and after the end). The dataplane refuses a clear RTCP
    compound as media_srtp (unencrypted), or as media_malformed when it is shorter than any
    SRTCP packet (SRTCP_MIN): at most as many of each as the device sent of that size."""
    short = sum(1 for p in clear if len(p) < SRTCP_MIN)
    srtp, malformed = drops.get("media_srtp", 0), drops.get("media_malformed", 0)
    bad = {k: v for k, v in drops.items()
           if k not in ("media_no_session", "media_srtp", "media_malformed")}
    if malformed > short:
        bad["media_malformed"] = malformed
    if srtp + malformed > len(clear):
        bad["media_srtp"] = srtp
    return bad


def srtcp_e_flag(p):
    """SRTCP's E flag: in the index word before an 80- or 32-bit HMAC tag, or last (AEAD)."""
    return any(len(p) >= 8 + t + 4 and p[-t - 4] & 0x80 for t in (10, 4, 0))


class Direction:
    def __init__(self, device_side):
        # baresip 1.0 sends its first RTCP APP before SRTCP is up and its final RTCP BYE
        # (+ SDES) after it is torn down, in the clear: tolerated from a device (counted
        # and reported), never from the relay.
        self.device_side = device_side
        self.clear_bye_app = 0
        self.rtp = 0
        self.rtcp = 0
        self.bad = []          # packets that are not RTP/RTCP v2, or RTCP without E
        self.counts = [0] * 256
        self.nbytes = 0
        self.tone = {}         # hz -> sum of per-packet tone fraction
        self.tone_n = 0
        self.payloads = set()
        self.repeats = 0       # RTP payloads seen before in this direction
        self.ports = set()     # relay ports used

    def add(self, relay_port, p, tones):
        self.ports.add(relay_port)
        if is_rtcp(p):
            self.rtcp += 1
            if p[0] >> 6 == 2 and srtcp_e_flag(p):
                return
            if self.device_side and rtcp_bye_app_only(p):
                self.clear_bye_app += 1
            else:
                self.bad.append(f"RTCP {p[:8].hex()} ({len(p)} bytes) without SRTCP's E flag")
            return
        r = rtp_payload(p)
        if r is None:
            self.bad.append(f"not RTP v2: {p[:12].hex()} ({len(p)} bytes)")
            return
        self.rtp += 1
        pt, pl = r
        self.repeats += pl in self.payloads
        self.payloads.add(pl)
        for c in pl:
            self.counts[c] += 1
        self.nbytes += len(pl)
        table = ULAW if pt == 0 else ALAW if pt == 8 else None
        if table and len(pl) >= 80:
            x = [table[c] for c in pl]
            for hz in tones:
                self.tone[hz] = self.tone.get(hz, 0.0) + tone_fraction(x, hz)
            self.tone_n += 1

    def entropy(self):
        return entropy(self.counts, self.nbytes)

    def tone_max(self):
        if not self.tone_n:
            return None, 0.0
        hz = max(self.tone, key=self.tone.get)
        return hz, self.tone[hz] / self.tone_n


def parse_session(path):
    """`redis-cli HGETALL` output (key and value on alternate lines) as a dict."""
    lines = open(path).read().splitlines()
    return dict(zip(lines[0::2], lines[1::2]))


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--relay", required=True)
    ap.add_argument("--ports", required=True)
    ap.add_argument("--tones", default="440,1000")
    ap.add_argument("--session")
    ap.add_argument("--min", type=int, default=50)
    ap.add_argument("legs", nargs="+", metavar="LEG=DEVICE_IP:PCAP")
    a = ap.parse_args(argv[1:])
    lo, hi = map(int, a.ports.split("-"))
    tones = [float(t) for t in a.tones.split(",") if t]
    sess = parse_session(a.session) if a.session else {}
    legs = {}
    for spec in a.legs:
        name, rest = spec.split("=", 1)
        ip, pcap = rest.split(":", 1)
        legs[name] = (ip, pcap)
    devices = {ip for ip, _ in legs.values()}

    fails = 0

    def result(ok, msg):
        nonlocal fails
        print(("ok: " if ok else "FAIL: ") + msg)
        fails += not ok

    stats = {}
    for name, (ip, pcap) in legs.items():
        up, down, other, direct = Direction(True), Direction(False), 0, []
        try:
            for _, src, dst, sport, dport, p in read_pcap(pcap):
                if src == ip and dst == a.relay and lo <= dport <= hi:
                    up.add(dport, p, tones)
                elif src == a.relay and dst == ip and lo <= sport <= hi:
                    down.add(sport, p, tones)
                elif {src, dst} <= devices:
                    direct.append(f"{src}:{sport} -> {dst}:{dport}")
                else:
                    other += 1
        except (OSError, ValueError) as e:
            print(f"FAIL: leg {name}: {e}")
            return 2
        stats[name] = (up, down)
        print(f"  leg {name} ({ip}): to the relay {up.rtp} RTP + {up.rtcp} RTCP on ports "
              f"{sorted(up.ports)}; from the relay {down.rtp} RTP + {down.rtcp} RTCP on ports "
              f"{sorted(down.ports)}; other UDP {other}", file=sys.stderr)
        # sent
        want = ""
        if sess.get(f"{name}_relay_port"):
            rp = int(sess[f"{name}_relay_port"])
            want = f" (session: {sess.get(f'{name}_relay_addr')}:{rp})"
            if sess.get(f"{name}_relay_addr") != a.relay:
                result(False, f"leg {name}: the session's relay address is "
                       f"{sess.get(f'{name}_relay_addr')}, not {a.relay}")
            stray = up.ports - {rp, rp + 1}
            if stray:
                result(False, f"leg {name}: {ip} sent media to relay ports {sorted(stray)}, "
                       f"not its leg's {rp}/{rp + 1}")
        result(up.rtp >= a.min, f"leg {name}: {ip} sent {up.rtp} RTP packets to the relay{want}")
        # srtp
        bad = up.bad + down.bad
        result(not bad, f"leg {name}: every media packet is RTP/RTCP v2 with SRTCP's E flag"
               + (f" ({len(bad)} not: {bad[:3]})" if bad else
                  f" ({up.rtp + up.rtcp + down.rtp + down.rtcp} packets"
                  + (f"; {up.clear_bye_app} clear RTCP BYE/SDES/APP from the device tolerated, "
                     "none from the relay)" if up.clear_bye_app else ")")))
        for dname, d in (("to the relay", up), ("from the relay", down)):
            if d.rtp < 20:
                continue
            ent = d.entropy()
            hz, frac = d.tone_max()
            ok = ent >= ENTROPY_MIN and frac <= TONE_FRACTION_MAX and not d.repeats
            result(ok, f"leg {name} {dname}: payloads look encrypted: {ent:.3f} bits/byte over "
                   f"{d.nbytes} bytes (>= {ENTROPY_MIN}), "
                   + (f"as G.711 {frac:.3f} of the energy at {hz:g} Hz (<= {TONE_FRACTION_MAX})"
                      if hz is not None else "not a G.711 payload type")
                   + f", {d.repeats} repeated payloads of {d.rtp} (0)")
        # anchored
        result(not direct, f"leg {name}: no UDP between the devices directly"
               + (f" ({len(direct)}: {direct[:3]})" if direct else ""))

    # per-leg keys
    names = sorted(stats)
    for i, n1 in enumerate(names):
        for n2 in names[i + 1:]:
            p1 = stats[n1][0].payloads | stats[n1][1].payloads
            p2 = stats[n2][0].payloads | stats[n2][1].payloads
            common = p1 & p2
            result(not common, f"legs {n1} and {n2}: no RTP payload appears on both "
                   f"({len(p1)} and {len(p2)} distinct, {len(common)} in common)")
    # relayed
    for name in names:
        down = stats[name][1]
        result(down.rtp >= a.min,
               f"leg {name}: the relay sent {down.rtp} RTP packets to {legs[name][0]}")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
