#!/usr/bin/env python3
"""SRTP (RFC 3711, AES_CM_128_HMAC_SHA1_80 and _32) unprotect in pure Python, for the tests
that must hear what a device would hear from the wire (media_hold.sh: baresip 1.0 stops its
sndfile decode dump at a hold and does not start it again at the resume).

  srtp_decode.py selftest
      FIPS-197 and RFC 3711 B.2/B.3 known answers (AES, key derivation, AES-CM keystream),
      and a protect/unprotect round trip with a tampered packet refused.

As a module: Context(inline_key_b64, tag_len=10).unprotect(packet) -> (payload_type, clear
payload) or None when the packet does not authenticate (the rollover counter is estimated
as RFC 3711 appendix A says, per SSRC). AES comes from the `cryptography` package when it is
importable, else from the pure-Python implementation below (about 10k blocks a second)."""
import base64
import hashlib
import hmac
import struct
import sys

# --- AES-128, encryption only (CTR mode needs no more) -------------------------------------


def _xtime(a):
    a <<= 1
    return (a ^ 0x1B) & 0xFF if a & 0x100 else a


def _sbox():
    # walk GF(2^8)* with the generator 3 and its inverse at once, then the affine transform
    rotl = lambda x, n: ((x << n) | (x >> (8 - n))) & 0xFF  # noqa: E731
    s = [0x63] * 256
    p = q = 1
    while True:
        p ^= _xtime(p)                       # p * 3
        q ^= q << 1                          # q / 3
        q ^= q << 2
        q ^= q << 4
        q &= 0xFF
        if q & 0x80:
            q ^= 0x09
        s[p] = q ^ rotl(q, 1) ^ rotl(q, 2) ^ rotl(q, 3) ^ rotl(q, 4) ^ 0x63
        if p == 1:
            return s


SBOX = _sbox()
# T-tables: a round's SubBytes + ShiftRows + MixColumns per byte as 32-bit words
_T0 = []
for _v in SBOX:
    _v2 = _xtime(_v)
    _T0.append((_v2 << 24) | (_v << 16) | (_v << 8) | (_v2 ^ _v))
_T1 = [((t >> 8) | (t << 24)) & 0xFFFFFFFF for t in _T0]
_T2 = [((t >> 16) | (t << 16)) & 0xFFFFFFFF for t in _T0]
_T3 = [((t >> 24) | (t << 8)) & 0xFFFFFFFF for t in _T0]


class _PyAES:
    def __init__(self, key):
        assert len(key) == 16
        w = list(struct.unpack(">4I", key))
        rcon = 1
        for i in range(4, 44):
            t = w[i - 1]
            if i % 4 == 0:
                t = ((t << 8) | (t >> 24)) & 0xFFFFFFFF
                t = (SBOX[t >> 24] << 24) | (SBOX[(t >> 16) & 0xFF] << 16) | \
                    (SBOX[(t >> 8) & 0xFF] << 8) | SBOX[t & 0xFF]
                t ^= rcon << 24
                rcon = _xtime(rcon)
            w.append(w[i - 4] ^ t)
        self.rk = w

    def encrypt_block(self, block):
        rk = self.rk
        s0, s1, s2, s3 = struct.unpack(">4I", block)
        s0 ^= rk[0]
        s1 ^= rk[1]
        s2 ^= rk[2]
        s3 ^= rk[3]
        T0, T1, T2, T3 = _T0, _T1, _T2, _T3
        for r in range(1, 10):
            k = 4 * r
            t0 = T0[s0 >> 24] ^ T1[(s1 >> 16) & 255] ^ T2[(s2 >> 8) & 255] ^ T3[s3 & 255] ^ rk[k]
            t1 = T0[s1 >> 24] ^ T1[(s2 >> 16) & 255] ^ T2[(s3 >> 8) & 255] ^ T3[s0 & 255] ^ rk[k + 1]
            t2 = T0[s2 >> 24] ^ T1[(s3 >> 16) & 255] ^ T2[(s0 >> 8) & 255] ^ T3[s1 & 255] ^ rk[k + 2]
            t3 = T0[s3 >> 24] ^ T1[(s0 >> 16) & 255] ^ T2[(s1 >> 8) & 255] ^ T3[s2 & 255] ^ rk[k + 3]
            s0, s1, s2, s3 = t0, t1, t2, t3
        S = SBOX
        out = []
        for a, b, c, d, k in ((s0, s1, s2, s3, rk[40]), (s1, s2, s3, s0, rk[41]),
                              (s2, s3, s0, s1, rk[42]), (s3, s0, s1, s2, rk[43])):
            out.append(((S[a >> 24] << 24) | (S[(b >> 16) & 255] << 16) |
                        (S[(c >> 8) & 255] << 8) | S[d & 255]) ^ k)
        return struct.pack(">4I", *out)

    def ctr(self, iv, n):
        """n bytes of AES-CM keystream from the 16-byte counter block iv."""
        c = int.from_bytes(iv, "big")
        out = bytearray()
        while len(out) < n:
            out += self.encrypt_block(c.to_bytes(16, "big"))
            c = (c + 1) & ((1 << 128) - 1)
        return bytes(out[:n])


def _aes(key):
    try:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        class _LibAES:
            def __init__(self, k):
                self.k = k

            def encrypt_block(self, block):
                e = Cipher(algorithms.AES(self.k), modes.ECB()).encryptor()
                return e.update(block) + e.finalize()

            def ctr(self, iv, n):
                e = Cipher(algorithms.AES(self.k), modes.CTR(iv)).encryptor()
                return e.update(b"\0" * n) + e.finalize()
        return _LibAES(key)
    except ImportError:
        return _PyAES(key)


def _xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b))


# --- SRTP ----------------------------------------------------------------------------------


def derive(master_key, master_salt, label, n):
    """RFC 3711 4.3.1 with key_derivation_rate 0."""
    x = bytearray(master_salt)
    x[7] ^= label
    return _aes(master_key).ctr(bytes(x) + b"\0\0", n)


class Context:
    """One direction of one leg: unprotects SRTP packets under the given SDES inline key."""

    def __init__(self, inline_b64, tag_len=10):
        km = base64.b64decode(inline_b64.split("|")[0])
        if len(km) != 30:
            raise ValueError(f"inline key of {len(km)} bytes, not 30 (AES_CM_128)")
        mk, ms = km[:16], km[16:]
        self.aes = _aes(derive(mk, ms, 0, 16))
        self.auth = derive(mk, ms, 1, 20)
        self.salt = derive(mk, ms, 2, 14)
        self.tag_len = tag_len
        self.ssrcs = {}   # ssrc -> [roc, s_l]

    def _index(self, ssrc, seq):
        st = self.ssrcs.get(ssrc)
        if st is None:
            return 0
        roc, s_l = st
        if s_l < 32768:
            return roc - 1 if seq - s_l > 32768 and roc > 0 else roc
        return roc + 1 if s_l - 32768 > seq else roc

    def unprotect(self, p):
        t = self.tag_len
        if len(p) < 12 + t or p[0] >> 6 != 2:
            return None
        hl = 12 + 4 * (p[0] & 0x0F)
        if p[0] & 0x10:
            if len(p) < hl + 4 + t:
                return None
            hl += 4 + 4 * struct.unpack("!H", p[hl + 2:hl + 4])[0]
        if len(p) < hl + t:
            return None
        seq, ssrc = struct.unpack("!H", p[2:4])[0], struct.unpack("!I", p[8:12])[0]
        v = self._index(ssrc, seq)
        body, tag = p[:-t], p[-t:]
        mac = hmac.new(self.auth, body + struct.pack("!I", v & 0xFFFFFFFF), hashlib.sha1).digest()[:t]
        if not hmac.compare_digest(mac, tag):
            return None
        st = self.ssrcs.setdefault(ssrc, [v, seq])
        if v == st[0] and seq > st[1]:
            st[1] = seq
        elif v > st[0]:
            st[0], st[1] = v, seq
        iv = bytearray(self.salt + b"\0\0")
        for i, b in enumerate(struct.pack("!I", ssrc)):
            iv[4 + i] ^= b
        for i, b in enumerate(((v << 16) | seq).to_bytes(6, "big")):
            iv[8 + i] ^= b
        enc = body[hl:]
        return p[1] & 0x7F, _xor(enc, self.aes.ctr(bytes(iv), len(enc)))

    def protect(self, p, roc=0):
        """For the self-test: p is a clear RTP packet (no CSRC, no extension)."""
        seq, ssrc = struct.unpack("!H", p[2:4])[0], struct.unpack("!I", p[8:12])[0]
        iv = bytearray(self.salt + b"\0\0")
        for i, b in enumerate(struct.pack("!I", ssrc)):
            iv[4 + i] ^= b
        for i, b in enumerate(((roc << 16) | seq).to_bytes(6, "big")):
            iv[8 + i] ^= b
        body = p[:12] + _xor(p[12:], self.aes.ctr(bytes(iv), len(p) - 12))
        return body + hmac.new(self.auth, body + struct.pack("!I", roc), hashlib.sha1).digest()[:self.tag_len]


def selftest():
    h = bytes.fromhex
    fails = 0

    def res(ok, what):
        nonlocal fails
        print(("ok: " if ok else "FAIL: ") + what)
        fails += not ok
    for name, impl in (("pure-Python AES", _PyAES), ("AES in use", _aes)):
        a = impl(h("000102030405060708090a0b0c0d0e0f"))
        res(a.encrypt_block(h("00112233445566778899aabbccddeeff")) == h("69c4e0d86a7b0430d8cdb78070b4c55a"),
            f"{name}: FIPS-197 C.1 AES-128 known answer")
        ks = impl(h("2B7E151628AED2A6ABF7158809CF4F3C")).ctr(h("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000"), 48)
        res(ks == h("E03EAD0935C95E80E166B16DD92B4EB4D23513162B02D0F72A43A2FE4A5F97AB"
                    "41E95B3BB0A2E8DD477901E4FCA894C0"), f"{name}: RFC 3711 B.2 AES-CM keystream")
    mk, ms = h("E1F97A0D3E018BE0D64FA32C06DE4139"), h("0EC675AD498AFEEBB6960B3AABE6")
    res(derive(mk, ms, 0, 16) == h("C61E7A93744F39EE10734AFE3FF7A087"), "RFC 3711 B.3 cipher key")
    res(derive(mk, ms, 2, 14) == h("30CBBC08863D8C85D49DB34A9AE1"), "RFC 3711 B.3 cipher salt")
    res(derive(mk, ms, 1, 20) == h("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"), "RFC 3711 B.3 auth key")
    key = base64.b64encode(mk + ms).decode()
    tx, rx = Context(key), Context(key)
    pkts = [struct.pack("!BBHII", 0x80, 0, (65530 + i) & 0xFFFF, 160 * i, 0x1234) + bytes([i]) * 160
            for i in range(12)]
    ok = True
    for i, p in enumerate(pkts):
        r = rx.unprotect(tx.protect(p, roc=1 if 65530 + i > 65535 else 0))
        ok &= r is not None and r[1] == p[12:]
    res(ok, "protect/unprotect round trip across a sequence wrap (rollover counter followed)")
    bad = bytearray(tx.protect(pkts[0]))
    bad[20] ^= 1
    res(Context(key).unprotect(bytes(bad)) is None, "a tampered packet does not authenticate")
    return 1 if fails else 0


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "selftest":
        sys.exit(selftest())
    print(__doc__, file=sys.stderr)
    sys.exit(2)
