#!/usr/bin/env python3
"""Self-test of media_call.sh's analysers (tone.py, srtp_wire.py) on synthetic input:
WAV files with the right tone, the wrong one, both, noise, silence; pcap files of SRTP-like
media (random payloads), clear G.711 of a tone, bytes forwarded unchanged from one leg to
the other, a non-RTP datagram, devices talking directly, a relay that sends nothing back.
Each analyser must accept the good input and refuse each bad one for the right reason.

  selftest.py [DIR]     (DIR: where to write the files, default a fresh temp dir)
Exit 0 when every case came out as expected."""
import bisect
import contextlib
import io
import math
import os
import random
import struct
import sys
import tempfile
import wave

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import srtp_wire  # noqa: E402
import tone  # noqa: E402

RELAY, ALICE, BOB = "198.51.100.10", "198.51.100.21", "198.51.100.22"
A_PORT, B_PORT, A_DEV, B_DEV = 31000, 31002, 40000, 40100
rnd = random.Random(7)


def wav(path, samples, rate=8000):
    w = wave.open(path, "wb")
    w.setnchannels(1)
    w.setsampwidth(2)
    w.setframerate(rate)
    w.writeframes(b"".join(struct.pack("<h", max(-32768, min(32767, int(v)))) for v in samples))
    w.close()


def sine(hz, s, amp=8000, rate=8000):
    return [amp * math.sin(2 * math.pi * hz * i / rate) for i in range(int(s * rate))]


# G.711 encoders: the nearest code of the analyser's own decode tables.
def encoder(table):
    pairs = sorted((v, c) for c, v in enumerate(table))
    vals = [v for v, _ in pairs]

    def enc(x):
        i = bisect.bisect_left(vals, x)
        if i == len(vals) or (i and x - vals[i - 1] < vals[i] - x):
            i -= 1
        return pairs[i][1]
    return enc


ULAW_ENC = encoder(srtp_wire.ULAW)


def rtp(seq, ssrc, payload, pt=0, ver=2):
    return struct.pack("!BBHII", ver << 6, pt, seq & 0xFFFF, seq * 160, ssrc) + payload


def srtp(seq, ssrc, n=160, tag=10):
    return rtp(seq, ssrc, bytes(rnd.getrandbits(8) for _ in range(n + tag)))


def srtcp(ssrc, idx):
    body = struct.pack("!BBHI", 0x80, 200, 6, ssrc) + bytes(rnd.getrandbits(8) for _ in range(20))
    return body + struct.pack("!I", 0x80000000 | idx) + bytes(rnd.getrandbits(8) for _ in range(10))


def frame(src, dst, sport, dport, payload):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                     bytes(map(int, src.split("."))), bytes(map(int, dst.split("."))))
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + udp


def pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1000 + i // 50, (i % 50) * 20000, len(fr), len(fr)))
            f.write(fr)


def leg(dev, dport, rport, up, down):
    """Frames of one leg: up = payloads device -> relay, down = relay -> device."""
    out = [frame(dev, RELAY, dport, rport, p) for p in up]
    out += [frame(RELAY, dev, rport, dport, p) for p in down]
    return out


def run_wire(d, name, a_frames, b_frames):
    pa, pb = os.path.join(d, f"{name}-a.pcap"), os.path.join(d, f"{name}-b.pcap")
    pcap(pa, a_frames)
    pcap(pb, b_frames)
    sess = os.path.join(d, "session.txt")
    with open(sess, "w") as f:
        f.write(f"a_relay_addr\n{RELAY}\na_relay_port\n{A_PORT}\nb_relay_addr\n{RELAY}\n"
                f"b_relay_port\n{B_PORT}\n")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        rc = srtp_wire.main(["srtp_wire.py", "--relay", RELAY, "--ports", "31000-31999",
                             "--session", sess, f"a={ALICE}:{pa}", f"b={BOB}:{pb}"])
    return rc, out.getvalue()


def main(argv):
    if len(argv) > 1:
        return run(argv[1])
    with tempfile.TemporaryDirectory(prefix="media-selftest.") as d:
        return run(d)


def run(d):
    bad = 0

    def expect(what, rc, out, want_rc, want_text=None):
        nonlocal bad
        ok = rc == want_rc and (want_text is None or want_text in out)
        print(("ok: " if ok else "FAIL: ") + f"selftest {what}: exit {rc}"
              + (f", says '{want_text}'" if want_text and ok else ""))
        if not ok:
            bad += 1
            print("    " + out.replace("\n", "\n    "))

    # --- tone.py ----------------------------------------------------------------------
    cases = [
        ("the right tone", sine(1000, 4), 0, "ok: "),
        ("the other side's tone (wrong)", sine(440, 4), 1, "dominant frequency is not"),
        ("a tone 5 Hz off", sine(1005, 4), 1, "dominant frequency is not"),
        ("both tones (own tone looped back)", [x + y for x, y in zip(sine(1000, 4), sine(440, 4))],
         1, "not 20 dB below"),
        ("noise", [rnd.gauss(0, 3000) for _ in range(32000)], 1, "dominant frequency is not"),
        ("silence", [0] * 32000, 1, "less than 2 s of non-silent audio"),
        ("1.5 s of tone in 6 s", [0] * 16000 + sine(1000, 1.5) + [0] * 20000, 1,
         "less than 2 s of non-silent audio"),
        ("the right tone, 20 ms gaps every 200 ms",
         [v if (i // 160) % 10 else 0 for i, v in enumerate(sine(1000, 4))], 0, "ok: "),
        ("the wrong tone, 20 ms gaps every 200 ms",
         [v if (i // 160) % 10 else 0 for i, v in enumerate(sine(440, 4))], 1,
         "dominant frequency is not"),
        ("the right tone in 60 ms bursts (nothing to measure)",
         [v if (i // 480) % 2 else 0 for i, v in enumerate(sine(1000, 6))], 1,
         "no uninterrupted non-silent stretch"),
    ]
    for what, samples, want, text in cases:
        p = os.path.join(d, "rx.wav")
        wav(p, samples)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = tone.check(p, 1000, 440)
        expect(f"tone.py, {what}", rc, out.getvalue(), want, text)
    # a WAV whose writer was killed before it finalised the header (sizes 0)
    p = os.path.join(d, "rx.wav")
    wav(p, sine(1000, 3))
    b = bytearray(open(p, "rb").read())
    b[4:8] = b[40:44] = b"\0\0\0\0"
    open(p, "wb").write(b)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = tone.check(p, 1000, 440)
    expect("tone.py, a WAV with an unfinalised header", rc, out.getvalue(), 0, "ok: ")

    # --- srtp_wire.py -----------------------------------------------------------------
    n = 100
    a_up = [srtp(i, 0xA) for i in range(n)] + [srtcp(0xA, 1)]
    a_down = [srtp(i, 0xB0) for i in range(n)] + [srtcp(0xB0, 1)]
    b_up = [srtp(i, 0xB) for i in range(n)]
    b_down = [srtp(i, 0xA0) for i in range(n)]
    A = lambda up, down: leg(ALICE, A_DEV, A_PORT, up, down)  # noqa: E731
    B = lambda up, down: leg(BOB, B_DEV, B_PORT, up, down)    # noqa: E731
    rc, out = run_wire(d, "good", A(a_up, a_down), B(b_up, b_down))
    expect("srtp_wire.py, SRTP both ways on both legs", rc, out, 0)

    t = sine(440, n * 0.02)
    clear = [rtp(i, 0xA, bytes(ULAW_ENC(v) for v in t[i * 160:(i + 1) * 160])) for i in range(n)]
    rc, out = run_wire(d, "clear", A(clear, a_down), B(b_up, b_down))
    expect("srtp_wire.py, clear G.711 of a tone on leg a", rc, out, 1,
           "FAIL: leg a to the relay: payloads look encrypted")
    # clear G.711 of a tone "encrypted" by XOR with a constant stream: random-looking?
    # No: the same keystream on every packet leaves the tone's structure in the bytes.
    ks = bytes(rnd.getrandbits(8) for _ in range(160))
    xored = [rtp(i, 0xA, bytes(c ^ k for c, k in zip(p[12:], ks))) for i, p in enumerate(clear)]
    rc, out = run_wire(d, "xor", A(xored, a_down), B(b_up, b_down))
    expect("srtp_wire.py, a tone under a fixed keystream", rc, out, 1,
           "FAIL: leg a to the relay: payloads look encrypted")

    fwd = [srtp(i, 0xB) for i in range(n)]
    rc, out = run_wire(d, "forwarded", A(a_up, fwd), B(fwd, b_down))
    expect("srtp_wire.py, bob's packets forwarded to alice unchanged", rc, out, 1,
           "FAIL: legs a and b: no RTP payload appears on both")

    rc, out = run_wire(d, "v1", A(a_up + [rtp(999, 0xA, b"x" * 170, ver=1)], a_down), B(b_up, b_down))
    expect("srtp_wire.py, a datagram that is not RTP v2", rc, out, 1,
           "FAIL: leg a: every media packet is RTP/RTCP v2")
    plain_rtcp = struct.pack("!BBHI", 0x80, 200, 6, 0xA) + bytes(20)
    rc, out = run_wire(d, "rtcp", A(a_up + [plain_rtcp], a_down), B(b_up, b_down))
    expect("srtp_wire.py, clear RTCP (no E flag)", rc, out, 1,
           "FAIL: leg a: every media packet is RTP/RTCP v2")

    bye = (struct.pack("!BBHI", 0x81, 203, 3, 0xA) + b"\x04Adjo\0\0\0"
           + struct.pack("!BBHI", 0x81, 202, 7, 0xA) + b"\x01\x12sip:alice@poprelay\0\0\0\0")
    app = struct.pack("!BBHI", 0x80, 204, 3, 0xA) + b"PINGPONG"
    rc, out = run_wire(d, "devbye", A([app] + a_up + [bye], a_down), B(b_up, b_down))
    expect("srtp_wire.py, a device's clear RTCP APP, and BYE + SDES (baresip 1.0)", rc, out, 0,
           "2 clear RTCP BYE/SDES/APP from the device tolerated")
    rc, out = run_wire(d, "relaybye", A(a_up, a_down + [bye]), B(b_up, b_down))
    expect("srtp_wire.py, clear RTCP BYE from the relay", rc, out, 1,
           "FAIL: leg a: every media packet is RTP/RTCP v2")
    sr = struct.pack("!BBHI", 0x80, 200, 6, 0xA) + bytes(20) + bye
    rc, out = run_wire(d, "devsr", A(a_up + [sr], a_down), B(b_up, b_down))
    expect("srtp_wire.py, a device's clear RTCP SR + BYE", rc, out, 1,
           "FAIL: leg a: every media packet is RTP/RTCP v2")
    rc, out = run_wire(d, "norelay", A(a_up, []), B(b_up, []))
    expect("srtp_wire.py, the relay sends nothing back (today's dataplane)", rc, out, 1,
           "FAIL: leg a: the relay sent 0 RTP packets")
    stray = [frame(ALICE, RELAY, A_DEV, 31500, p) for p in a_up] + A([], a_down)
    rc, out = run_wire(d, "stray", stray, B(b_up, b_down))
    expect("srtp_wire.py, alice's media to another leg's port", rc, out, 1,
           "not its leg's 31000/31001")
    direct = [frame(ALICE, BOB, A_DEV, B_DEV, p) for p in a_up[:5]]
    rc, out = run_wire(d, "direct", A(a_up, a_down) + direct, B(b_up, b_down))
    expect("srtp_wire.py, devices exchanging UDP directly", rc, out, 1,
           "FAIL: leg a: no UDP between the devices directly")
    rc, out = run_wire(d, "silent", A([], []), B(b_up, b_down))
    expect("srtp_wire.py, alice sends nothing", rc, out, 1, "FAIL: leg a: 198.51.100.21 sent 0 RTP")
    print("selftest: " + ("PASS" if not bad else f"{bad} case(s) wrong"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
