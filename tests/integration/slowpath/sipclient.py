#!/usr/bin/env python3
"""Minimal SIP user agent for the slowpath tests: TLS/TCP/UDP, digest (MD5/SHA-256, qop=auth),
and the scenarios the integration tests and the benchmark drive. Standard library only."""
import base64, hashlib, os, random, re, socket, ssl, sys, time

def tok(n=10):
    return ''.join(random.choice('abcdef0123456789') for _ in range(n))

class Msg:
    def __init__(self, raw):
        self.raw = raw
        head, _, self.body = raw.partition(b'\r\n\r\n')
        lines = head.decode(errors='replace').split('\r\n')
        self.first = lines[0]
        self.hdrs = []
        for l in lines[1:]:
            if ':' in l:
                k, v = l.split(':', 1)
                self.hdrs.append((k.strip().lower(), v.strip()))
        m = re.match(r'SIP/2.0 (\d+)', self.first)
        self.status = int(m.group(1)) if m else 0
        self.method = None if m else self.first.split(' ')[0]
    def get(self, k, default=None):
        for kk, v in self.hdrs:
            if kk == k.lower():
                return v
        return default
    def all(self, k):
        return [v for kk, v in self.hdrs if kk == k.lower()]

class Conn:
    def __init__(self, tp, host, port, cafile=None, src=None, timeout=5.0):
        self.tp, self.host, self.port = tp, host, port
        self.buf = b''
        fam = socket.AF_INET
        if tp == 'udp':
            self.s = socket.socket(fam, socket.SOCK_DGRAM)
            self.s.bind((src or '127.0.0.1', 0))
        else:
            raw = socket.socket(fam, socket.SOCK_STREAM)
            raw.bind((src or '127.0.0.1', 0))
            raw.settimeout(timeout)
            raw.connect((host, port))
            if tp == 'tls':
                ctx = ssl.create_default_context(cafile=cafile)
                ctx.minimum_version = ssl.TLSVersion.TLSv1_2
                self.s = ctx.wrap_socket(raw, server_hostname=host)
            else:
                self.s = raw
        self.s.settimeout(timeout)
        self.local = self.s.getsockname()
    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        if self.tp == 'udp':
            self.s.sendto(data, (self.host, self.port))
        else:
            self.s.sendall(data)
    def recv_raw(self, n=65536):
        if self.tp == 'udp':
            d, _ = self.s.recvfrom(n)
            return d
        d = self.s.recv(n)
        if not d:
            raise EOFError('connection closed')
        return d
    def recv(self):
        """Next SIP message (skips CRLF keepalive pongs)."""
        if self.tp == 'udp':
            return Msg(self.recv_raw())
        while True:
            self.buf = self.buf.lstrip(b'\r\n')
            i = self.buf.find(b'\r\n\r\n')
            if i >= 0:
                m = re.search(rb'(?im)^(?:content-length|l)\s*:\s*(\d+)', self.buf[:i])
                cl = int(m.group(1)) if m else 0
                if len(self.buf) >= i + 4 + cl:
                    raw = self.buf[:i + 4 + cl]
                    self.buf = self.buf[i + 4 + cl:]
                    return Msg(raw)
            self.buf += self.recv_raw()
    def close(self):
        try:
            self.s.close()
        except Exception:
            pass

def via(c, branch):
    return 'Via: SIP/2.0/%s %s:%d;branch=%s;rport' % (c.tp.upper(), c.local[0], c.local[1], branch)

def request(c, method, ruri, frm, to, call_id, cseq, extra='', body='', ua='sp-test/1', branch=None):
    branch = branch or 'z9hG4bK' + tok()
    h = ['%s %s SIP/2.0' % (method, ruri), via(c, branch), 'Max-Forwards: 70', 'From: ' + frm,
         'To: ' + to, 'Call-ID: ' + call_id, 'CSeq: %d %s' % (cseq, method), 'User-Agent: ' + ua]
    if extra:
        h += [x for x in extra.split('\r\n') if x]
    if body:
        h.append('Content-Type: application/sdp')
    h.append('Content-Length: %d' % len(body.encode()))
    return '\r\n'.join(h) + '\r\n\r\n' + body

def parse_chal(v):
    return dict((k.lower(), v2.strip('"')) for k, v2 in re.findall(r'([\w-]+)=("[^"]*"|[^,\s]+)', v))

def H(alg, s):
    return (hashlib.sha256 if alg == 'SHA-256' else hashlib.md5)(s.encode()).hexdigest()

def authorization(chal_hdr, user, pw, method, uri, nc=1, alg_pref='SHA-256', hdrname='Authorization'):
    chals = [parse_chal(v) for v in chal_hdr]
    ch = next((x for x in chals if x.get('algorithm', 'MD5').upper() == alg_pref.upper()), chals[0])
    alg = ch.get('algorithm', 'MD5')
    cnonce, ncs = tok(8), '%08x' % nc
    ha1 = H(alg, '%s:%s:%s' % (user, ch['realm'], pw))
    ha2 = H(alg, '%s:%s' % (method, uri))
    resp = H(alg, '%s:%s:%s:%s:auth:%s' % (ha1, ch['nonce'], ncs, cnonce, ha2))
    return ('%s: Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", '
            'algorithm=%s, qop=auth, nc=%s, cnonce="%s"' % (hdrname, user, ch['realm'], ch['nonce'],
                                                           uri, resp, alg, ncs, cnonce)), ch

class UA:
    def __init__(self, c, user, pw, domain='poprelay'):
        self.c, self.user, self.pw, self.domain = c, user, pw, domain
        self.call_id = tok(16) + '@sp-test'
        self.tag = tok(8)
        self.cseq = 0
        self.aor = 'sip:%s@%s' % (user, domain)
    def contact(self):
        return '<sip:%s@%s:%d;transport=%s>' % (self.user, self.c.local[0], self.c.local[1], self.c.tp)
    def register(self, expires=600, alg='SHA-256', pw=None, extra_contact=''):
        """Returns (final response, authorization line used)."""
        pw = pw if pw is not None else self.pw
        self.cseq += 1
        ruri = 'sip:' + self.domain
        base = dict(frm='<%s>;tag=%s' % (self.aor, self.tag), to='<%s>' % self.aor)
        ext = 'Contact: %s%s\r\nExpires: %d' % (self.contact(), extra_contact, expires)
        self.c.send(request(self.c, 'REGISTER', ruri, base['frm'], base['to'], self.call_id, self.cseq, ext))
        r = self.c.recv()
        if r.status != 401:
            return r, None
        auth, _ = authorization(r.all('www-authenticate'), self.user, pw, 'REGISTER', ruri, alg_pref=alg)
        self.cseq += 1
        self.c.send(request(self.c, 'REGISTER', ruri, base['frm'], base['to'], self.call_id, self.cseq,
                            ext + '\r\n' + auth))
        return self.c.recv(), auth

def sdp(addr, port, proto='RTP/SAVP', key=None):
    key = key or base64.b64encode(os.urandom(30)).decode()
    s = ('v=0\r\no=- %d 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d %s 0 8\r\n'
         'a=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n' % (random.randint(1, 1 << 30), addr, addr, port, proto))
    if proto == 'RTP/SAVP':
        s += 'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n' % key
    return s

def expect(cond, what):
    if not cond:
        print('FAIL: ' + what, file=sys.stderr)
        sys.exit(1)
    print('ok: ' + what)

def call(ua_a, ua_b, proto='RTP/SAVP', hangup=True, ack=True):
    """A calls B; B answers; ACK; optionally BYE. Returns dict with the SDPs seen."""
    ca, cb = ua_a.c, ua_b.c
    call_id = tok(16) + '@sp-call'
    ftag = tok(8)
    offer = sdp('10.9.0.1', 40000, proto)
    frm, to = '"A" <%s>;tag=%s' % (ua_a.aor, ftag), '<%s>' % ua_b.aor
    inv = request(ca, 'INVITE', ua_b.aor, frm, to, call_id, 1, 'Contact: ' + ua_a.contact(), offer)
    ca.send(inv)
    out = {'offer_a': offer}
    # B side: incoming INVITE
    r = ca.recv()
    if r.status == 100:
        pass
    else:
        out['final_a'] = r
        return out
    inc = cb.recv()
    out['invite_b'] = inc
    answer = sdp('10.9.0.2', 42000, 'RTP/SAVP' if 'RTP/SAVP' in inc.body.decode() else 'RTP/AVP')
    out['answer_b'] = answer
    btag = tok(8)
    resp = ['SIP/2.0 200 OK'] + ['Via: ' + v for v in inc.all('via')] + [
        'From: ' + inc.get('from'), 'To: %s;tag=%s' % (inc.get('to'), btag), 'Call-ID: ' + inc.get('call-id'),
        'CSeq: ' + inc.get('cseq'), 'Contact: ' + ua_b.contact(), 'Content-Type: application/sdp',
        'Content-Length: %d' % len(answer)]
    cb.send('\r\n'.join(resp) + '\r\n\r\n' + answer)
    ack_b = cb.recv()
    out['ack_b'] = ack_b
    fin = ca.recv()
    while fin.status and fin.status < 200:
        fin = ca.recv()
    out['final_a'] = fin
    if fin.status != 200:
        return out
    totag = fin.get('to')
    if ack:
        ca.send(request(ca, 'ACK', ua_b.aor, frm, totag, call_id, 1))
    out['to_a'] = totag
    out['call_id'] = call_id
    out['frm'] = frm
    if hangup:
        time.sleep(0.2)
        bye(out, ua_a, ua_b)
    return out

def bye(out, ua_a, ua_b):
    """Caller hangs up a call set up by call(..., hangup=False); callee answers the BYE."""
    ca, cb = ua_a.c, ua_b.c
    ca.send(request(ca, 'BYE', ua_b.aor, out['frm'], out['to_a'], out['call_id'], 2))
    b = cb.recv()
    out['bye_b'] = b
    resp = ['SIP/2.0 200 OK'] + ['Via: ' + v for v in b.all('via')] + [
        'From: ' + b.get('from'), 'To: ' + b.get('to'), 'Call-ID: ' + b.get('call-id'),
        'CSeq: ' + b.get('cseq'), 'Content-Length: 0']
    cb.send('\r\n'.join(resp) + '\r\n\r\n')
    out['bye_a'] = ca.recv()
    return out

def redis(d, *args):
    import subprocess
    return subprocess.run(['redis-cli', '-s', d + '/redis.sock'] + list(args), capture_output=True,
                          text=True).stdout

def session(d):
    """The single live media session as a dict ({} if none). A call's end reaches Redis
    after the BYE's 200 (asynchronous writes), so the session of the call before may still
    be listed for a moment: wait up to 2 s for exactly one (slowpath_offnet failed once
    when its next call's session was read beside the previous one's)."""
    import time
    for _ in range(40):
        ids = redis(d, 'SMEMBERS', 'pr:sessions').split()
        if len(ids) == 1:
            break
        time.sleep(0.05)
    if len(ids) != 1:
        return {}
    v = redis(d, 'HGETALL', 'pr:session:' + ids[0]).split('\n')
    return dict(zip(v[0::2], v[1::2]))

def cdrs(d):
    """Every CDR as a dict."""
    out = []
    for cid in redis(d, 'ZRANGE', 'pr:cdrs', '0', '-1').split():
        v = redis(d, 'HGETALL', 'pr:cdr:' + cid).split('\n')
        out.append(dict(zip(v[0::2], v[1::2])))
    return out
