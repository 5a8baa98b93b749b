#!/usr/bin/env python3
"""Tones for media_call.sh, in pure Python (no numpy).

  tone.py gen FILE HZ SECONDS [AMPLITUDE]
      writes a 16-bit mono 8 kHz WAV of one sine tone.
  tone.py check FILE EXPECTED_HZ OTHER_HZ [--min-s S] [--tol-hz T] [--label NAME]
      checks that FILE (what a device decoded and played) holds at least S seconds of
      non-silent audio whose dominant frequency is EXPECTED_HZ (within T Hz), and that
      OTHER_HZ (the device's own tone: an echo or a loop back) is at least 20 dB below it.
      Prints "ok: ..." and exits 0, or prints "FAIL: ..." and exits 1.

The dominant frequency is found with Goertzel filters on uninterrupted stretches of audio
(the five longest of 0.1 s or more, up to one second each; the median, weighted by length):
a coarse scan (4 Hz steps over 100-3800 Hz, on up to a quarter of a second) then a fine one
(0.25 Hz steps around the peak)."""
import math
import struct
import sys

FRAME_S = 0.02          # 20 ms frames, the G.711 packet time
SILENCE_RMS = 300.0     # below this (of 32768, about -40 dBFS) a frame is silent


def gen(path, hz, seconds, amp=8000, rate=8000):
    import wave
    n = int(rate * seconds)
    w = wave.open(path, "wb")
    w.setnchannels(1)
    w.setsampwidth(2)
    w.setframerate(rate)
    w.writeframes(b"".join(struct.pack("<h", int(amp * math.sin(2 * math.pi * hz * i / rate)))
                           for i in range(n)))
    w.close()


def read_wav(path):
    """Samples of the first channel and the rate. Tolerant: a player killed before it
    closed its file leaves the RIFF/data sizes at 0, so the data chunk runs to EOF."""
    b = open(path, "rb").read()
    if len(b) < 12 or b[:4] != b"RIFF" or b[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a RIFF/WAVE file ({len(b)} bytes)")
    pos, fmt, data = 12, None, None
    while pos + 8 <= len(b):
        cid, size = b[pos:pos + 4], struct.unpack("<I", b[pos + 4:pos + 8])[0]
        body = pos + 8
        if cid == b"fmt ":
            fmt = struct.unpack("<HHIIHH", b[body:body + 16])
        elif cid == b"data":
            end = body + size if 0 < size <= len(b) - body else len(b)
            data = b[body:end]
            break
        pos = body + size + (size & 1)
    if fmt is None or data is None:
        raise ValueError(f"{path}: no fmt or data chunk")
    tag, ch, rate, _, _, bits = fmt
    if tag not in (1, 0xFFFE) or bits != 16 or ch < 1:
        raise ValueError(f"{path}: expected 16-bit PCM, got format {tag}, {bits} bits, {ch} channels")
    n = len(data) // (2 * ch)
    s = struct.unpack(f"<{n * ch}h", data[:n * ch * 2])
    return list(s[::ch]), rate


def goertzel_power(x, hz, rate):
    """|X(hz)|^2 of x, any (non-integer) frequency."""
    w = 2.0 * math.pi * hz / rate
    c = 2.0 * math.cos(w)
    s1 = s2 = 0.0
    for v in x:
        s0 = v + c * s1 - s2
        s2 = s1
        s1 = s0
    return s1 * s1 + s2 * s2 - c * s1 * s2


def tone_fraction(x, hz, rate):
    """Share of x's energy at hz: 1 for a pure on-bin sine, about 2/len(x) for noise."""
    e = sum(v * v for v in x)
    if e <= 0 or not x:
        return 0.0
    return 2.0 * goertzel_power(x, hz, rate) / (len(x) * e)


def hann(x):
    n = len(x)
    return [v * (0.5 - 0.5 * math.cos(2 * math.pi * i / (n - 1))) for i, v in enumerate(x)]


def dominant(x, rate, lo=100.0, hi=3800.0):
    """Dominant frequency of x (Hann-windowed Goertzel scan, coarse then fine)."""
    coarse = hann(x[:min(len(x), rate // 4)])
    best, f = (-1.0, lo), lo
    while f <= min(hi, rate / 2 - 50):
        p = goertzel_power(coarse, f, rate)
        if p > best[0]:
            best = (p, f)
        f += 4.0
    fine = hann(x[:min(len(x), rate)])
    centre, best = best[1], (-1.0, best[1])
    f = centre - 8.0
    while f <= centre + 8.0:
        p = goertzel_power(fine, f, rate)
        if p > best[0]:
            best = (p, f)
        f += 0.25
    return best[1]


def analyse(samples, rate, expected, other):
    """Figures check() judges, as a dict."""
    fl = max(1, int(rate * FRAME_S))
    frames = [samples[i:i + fl] for i in range(0, len(samples) - fl + 1, fl)]
    loud = [math.sqrt(sum(v * v for v in fr) / fl) > SILENCE_RMS for fr in frames]
    # Runs of loud frames: the frequency is measured on uninterrupted audio (a gap, such as
    # a jitter-buffer underrun, shifts the phase), on the five longest runs of at least
    # 0.1 s, and the median taken, weighted by length.
    runs, start = [], None
    for i, l in enumerate(loud + [False]):
        if l and start is None:
            start = i
        elif not l and start is not None:
            runs.append((i - start, start))
            start = None
    runs.sort(reverse=True)
    est = []
    for n, start in runs[:5]:
        if n * fl < rate // 10:
            break
        seg = samples[start * fl:(start + n) * fl]
        mid = max(0, (len(seg) - rate) // 2)
        est.append((dominant(seg[mid:mid + rate], rate), len(seg[mid:mid + rate])))
    dom = None
    if est:
        est.sort()
        half, acc = sum(w for _, w in est) / 2.0, 0
        for f, w in est:
            acc += w
            if acc >= half:
                dom = f
                break
    e_exp = e_oth = 0.0
    for fr, l in zip(frames, loud):
        if l:
            w = hann(fr)
            e_exp += goertzel_power(w, expected, rate)
            e_oth += goertzel_power(w, other, rate)
    return {
        "seconds": len(samples) / rate,
        "loud_s": sum(loud) * fl / rate,
        "run_s": (runs[0][0] * fl / rate) if runs else 0.0,
        "dominant_hz": dom,
        "other_db": (10 * math.log10(e_exp / e_oth) if e_oth > 0 else 99.0) if e_exp > 0 else -99.0,
    }


def check(path, expected, other, min_s=2.0, tol=3.0, label=None):
    label = label or path
    try:
        samples, rate = read_wav(path)
    except (OSError, ValueError) as e:
        print(f"FAIL: {label}: {e}")
        return 1
    a = analyse(samples, rate, expected, other)
    desc = (f"{a['seconds']:.1f} s recorded, {a['loud_s']:.1f} s non-silent (longest run "
            f"{a['run_s']:.1f} s), dominant "
            + (f"{a['dominant_hz']:.1f} Hz" if a["dominant_hz"] is not None else "n/a")
            + f", {expected:g} Hz over {other:g} Hz by {a['other_db']:.0f} dB")
    why = []
    if a["loud_s"] < min_s:
        why.append(f"less than {min_s:g} s of non-silent audio")
    if a["dominant_hz"] is None:
        why.append("no uninterrupted non-silent stretch of 0.1 s to measure")
    elif abs(a["dominant_hz"] - expected) > tol:
        why.append(f"dominant frequency is not {expected:g} Hz (+-{tol:g})")
    if a["other_db"] < 20:
        why.append(f"{other:g} Hz (the device's own tone) is not 20 dB below {expected:g} Hz")
    if why:
        print(f"FAIL: {label}: {'; '.join(why)} ({desc})")
        return 1
    print(f"ok: {label}: {expected:g} Hz tone received ({desc})")
    return 0


def main(argv):
    if len(argv) >= 4 and argv[1] == "gen":
        gen(argv[2], float(argv[3]), float(argv[4]), int(argv[5]) if len(argv) > 5 else 8000)
        return 0
    if len(argv) >= 5 and argv[1] == "check":
        opts = {"--min-s": 2.0, "--tol-hz": 3.0, "--label": None}
        rest = argv[5:]
        while rest:
            if rest[0] not in opts or len(rest) < 2:
                print(__doc__, file=sys.stderr)
                return 2
            opts[rest[0]] = rest[1] if rest[0] == "--label" else float(rest[1])
            rest = rest[2:]
        return check(argv[2], float(argv[3]), float(argv[4]), opts["--min-s"], opts["--tol-hz"],
                     opts["--label"])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
